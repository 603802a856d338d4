"""The HTML coverage report: its text, the CLI's --html, and the page as Chromium renders it."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from html.parser import HTMLParser

import numpy as np
import pytest

import framead
from framead.coverage import CoverageEntry, CoverageReport
from framead.coverage_html import COLOURS, shown_ranges

# Four kinds of hazard, one of them twice on a line (FA101 and FA104 at the shuffle) and one
# three times (the loop's int()); the comment checks that source text is escaped.
PROGRAM = '''\
import array

import numpy as np


def many(x):
    a = np.array(x, copy=True)
    np.random.default_rng(0).permuted(a, out=a)  # PLANT-shuffle: <unknown> & "unseen"
    n = int(x[0] * 3.0)  # PLANT-int
    buf = array.array("d", [0.0])
    buf[0] = x[1]  # PLANT-array
    z = float.fromhex(float(x[2]).hex())  # PLANT-hex
    for k in range(3):
        n += int(x[k])  # PLANT-loop
    return float(np.sum(a * a)) + n + buf[0] + z


def clean(x):
    return float(np.sum(np.sin(x) * x))
'''

# marker -> the codes reported on its line, and the loop line's count
EXPECTED = {"PLANT-shuffle": {"FA101", "FA104"}, "PLANT-int": {"FA102"},
            "PLANT-array": {"FA105"}, "PLANT-hex": {"FA101"}, "PLANT-loop": {"FA102"}}
ARGS = "np.linspace(0.1, 1.0, 5)"


def _line(marker: str) -> int:
    return next(i for i, text in enumerate(PROGRAM.splitlines(), 1) if marker in text)


@pytest.fixture
def prog(tmp_path):
    path = tmp_path / "legacy_prog.py"
    path.write_text(PROGRAM)
    spec = importlib.util.spec_from_file_location(f"_html_prog_{id(tmp_path)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return path, module


@pytest.fixture
def report(prog):
    path, module = prog
    r = framead.coverage(module.many, np.linspace(0.1, 1.0, 5))
    assert {(e.code, e.line) for e in r.entries} == {
        (code, _line(m)) for m, codes in EXPECTED.items() for code in codes}, str(r)
    assert all(e.file == str(path) for e in r.entries)
    return r


class Rows(HTMLParser):
    """The text of each source-line row (``<tr id="fN-LM">``), keyed by line, with its attrs."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[int, dict] = {}
        self.summary_links: list[str] = []
        self._current: dict | None = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and re.fullmatch(r"f\d+-L\d+", a.get("id") or ""):
            line = int(a["id"].rpartition("L")[2])
            self._current = self.rows[line] = {"attrs": a, "text": "", "codes": []}
            self._depth = 1
        elif tag == "tr" and self._current is not None:
            self._depth += 1
        if self._current is not None and a.get("data-code"):
            self._current["codes"].append(a["data-code"])
        if tag == "a" and self._current is None and (a.get("href") or "").startswith("#f"):
            self.summary_links.append(a["href"][1:])

    def handle_endtag(self, tag):
        if tag == "tr" and self._current is not None:
            self._depth -= 1
            if not self._depth:
                self._current = None

    def handle_data(self, data):
        if self._current is not None:
            self._current["text"] += data


def _rows(html: str) -> Rows:
    p = Rows()
    p.feed(html)
    return p


def _check_lines(html: str, report: CoverageReport) -> None:
    """Every hazard's code (and message) is inside its own line's row, and nowhere else."""
    rows = _rows(html)
    for marker, codes in EXPECTED.items():
        row = rows.rows[_line(marker)]
        assert marker in row["text"], row
        assert "hazard" in row["attrs"]["class"]
        assert set(row["attrs"]["data-codes"].split()) == codes
        assert sorted(row["codes"]) == sorted(codes)
        for code in codes:
            assert code in row["text"]
    hazard_lines = {_line(m) for m in EXPECTED}
    for line, row in rows.rows.items():
        if line not in hazard_lines:
            assert not row["codes"] and "hazard" not in row["attrs"].get("class", "")
    for e in report.entries:
        assert e.message in rows.rows[e.line]["text"] and e.hint in rows.rows[e.line]["text"]
    # every summary link points at a row of the page
    ids = {row["attrs"]["id"] for row in rows.rows.values()}
    assert len(rows.summary_links) == len(report.entries)
    assert set(rows.summary_links) <= ids


# ------------------------------------------------------------------ the HTML text


def test_each_hazard_on_its_line(report, tmp_path):
    out = tmp_path / "deep" / "er" / "report.html"
    assert report.to_html(out) == str(out)
    html = out.read_text(encoding="utf-8")
    _check_lines(html, report)
    # the whole function is shown, the lines before it are not
    rows = _rows(html).rows
    assert set(rows) == set(range(_line("def many"), _line("return float(np.sum(a * a))") + 1))


def test_summary_counts(report, tmp_path):
    html = open(report.to_html(tmp_path / "r.html"), encoding="utf-8").read()
    summary = html.split('<table class="summary">')[1].split("</table>")[0]
    cells = re.findall(r'<span class="badge">(FA\d+)</span>.*?<td class="num count">(\d+)</td>'
                       r'.*?<a href="#f0-L(\d+)"', summary)
    assert sorted((c, int(n), int(ln)) for c, n, ln in cells) == sorted(
        (e.code, e.count, e.line) for e in report.entries)
    assert ("FA102", 3, _line("PLANT-loop")) in [(c, int(n), int(ln)) for c, n, ln in cells]
    assert "6 hazard(s) (9 occurrence(s)) at 5 line(s) in 1 file(s)" in html
    for code in ("FA101", "FA102", "FA104", "FA105"):  # the legend
        assert re.search(rf'<span class="badge">{code}</span> <b>[a-z-]+</b>', html)


def test_source_and_messages_are_escaped(report, tmp_path):
    html = open(report.to_html(tmp_path / "r.html"), encoding="utf-8").read()
    assert "&lt;unknown&gt; &amp; &quot;unseen&quot;" in html
    assert "<unknown>" not in html
    # a hand-made entry: a message and op with markup, a file that is not on disk
    e = CoverageEntry("FA101", "no-rule", "f<g>&h", str(tmp_path / "gone.py"), 7,
                      "y = a < b & c  # </pre><script>alert(1)</script>", 2,
                      [("<x>.py", 3, "<module>")], "hint <b>&", "message <i>&amp;")
    html = CoverageReport([e], "f<&>").to_html(tmp_path / "e.html")
    html = open(html, encoding="utf-8").read()
    assert "<script>" not in html and "<i>" not in html and "hint <b>" not in html
    assert "y = a &lt; b &amp; c  # &lt;/pre&gt;&lt;script&gt;" in html
    assert "message &lt;i&gt;&amp;amp;" in html and "f&lt;g&gt;&amp;h" in html
    assert "framead coverage of f&lt;&amp;&gt;" in html
    rows = _rows(html).rows
    assert rows[7]["codes"] == ["FA101"] and "y = a < b & c" in rows[7]["text"]
    assert "called from <module> at <x>.py:3" in rows[7]["text"]


def test_several_files(prog, tmp_path):
    path, _ = prog
    other = tmp_path / "other.py"
    other.write_text("import math\n\nx = 1\ny = math.floor(x)\nz = 3\n")
    entries = [CoverageEntry("FA102", "gradient-cut", "math.floor", str(other), 4,
                             "y = math.floor(x)", 1),
               CoverageEntry("FA105", "untrackable-store", "array.__setitem__", str(path),
                             _line("PLANT-array"), "buf[0] = x[1]", 2)]
    html = open(CoverageReport(entries).to_html(tmp_path / "r.html"), encoding="utf-8").read()
    rows = _rows(html)
    assert rows.summary_links == ["f0-L4", f"f1-L{_line('PLANT-array')}"]
    assert 'id="f0-L4" class="hazard k-FA102"' in html
    assert f'id="f1-L{_line("PLANT-array")}" class="hazard k-FA105"' in html
    assert html.index(f'title="{other}"') < html.index(f'title="{path}"')
    assert 'id="f0-L1"' in html and 'id="f0-L5"' in html  # module level: a window around


def test_no_network_resources(report, tmp_path):
    for r in (report, CoverageReport([], "f")):
        html = open(r.to_html(tmp_path / "r.html"), encoding="utf-8").read()
        assert not re.search(r"""\b(src|href|action)\s*=\s*["']?\s*(https?:|//)""", html, re.I)
        assert not re.search(r"\bsrc\s*=", html, re.I)
        assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', html))
        assert "url(" not in html and "@import" not in html
        assert "<script" not in html and "<link" not in html
        assert "default-src 'none'" in html


def test_empty_report(tmp_path):
    path = CoverageReport([], "clean").to_html(tmp_path / "empty.html")
    html = open(path, encoding="utf-8").read()
    assert "No hazards" in html and "framead coverage of clean" in html
    assert 'class="summary"' not in html and 'class="hazard' not in html
    assert html.startswith("<!DOCTYPE html>")


def test_shown_ranges_windows_and_functions():
    lines = ["x = 1"] * 30
    assert shown_ranges(lines, [10]) == [(7, 13)]
    assert shown_ranges(lines, [10, 14]) == [(7, 17)]  # overlapping windows merge
    assert shown_ranges(lines, [1, 30, 99]) == [(1, 4), (27, 30)]  # clipped; 99 is not there
    src = ["import os", "", "@decorator", "def f(x):"] + ["    x += 1"] * 5 + ["", "y = 2"]
    assert shown_ranges(src, [6]) == [(3, 9)]  # the whole function, decorator included
    long = ["def f(x):"] + ["    x += 1"] * 200
    assert shown_ranges(long, [100], max_function=80) == [(97, 103)]


# ------------------------------------------------------------------ the CLI


def _cli(path, func: str, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "framead", "coverage", f"{path}:{func}", "--args", ARGS,
           *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_cli_html(prog, tmp_path):
    path, _ = prog
    out = tmp_path / "new" / "htmlcov"
    bad = _cli(path, "many", "--html", str(out))
    assert bad.returncode == 1, bad.stdout + bad.stderr
    index = out / "index.html"
    assert bad.stdout.strip().splitlines()[-1] == str(index) and index.is_file()
    assert "FA104" in bad.stdout  # the text report is still printed
    assert 'data-codes="FA101 FA104"' in index.read_text(encoding="utf-8")

    as_json = _cli(path, "many", "--json", "--html", str(tmp_path / "j"))
    assert as_json.returncode == 1
    assert len(json.loads(as_json.stdout)["entries"]) == 6  # stdout stays JSON
    assert as_json.stderr.strip().endswith(str(tmp_path / "j" / "index.html"))

    ok = _cli(path, "clean", "--html", str(tmp_path / "ok"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "No hazards" in (tmp_path / "ok" / "index.html").read_text(encoding="utf-8")


# ------------------------------------------------------------------ in a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(tmp_path, page, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--hide-scrollbars", "--force-device-scale-factor=1",
           f"--user-data-dir={profile}", *args, page.as_uri()]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"chromium did not finish in 120 s: {cmd}")
    if done.returncode and "snap" in done.stderr.lower():  # Ubuntu's chromium-browser stub
        pytest.skip("chromium-browser is only a snap stub here")
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def decode_png(data: bytes) -> tuple[int, int, np.ndarray]:
    """(width, height, RGB pixels of shape (h, w, 3)) of an 8-bit RGB/RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]
        pos += 12 + n
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
    w, h, depth, ctype, _, _, interlace = header
    assert depth == 8 and ctype in (2, 6) and interlace == 0, header
    bpp = 3 if ctype == 2 else 4
    stride = w * bpp
    raw = zlib.decompress(b"".join(idat))
    assert len(raw) == h * (stride + 1)
    prev = bytearray(stride)
    out = bytearray()
    for y in range(h):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind == 2:  # Up
            line = bytearray(((np.frombuffer(line, np.uint8).astype(np.uint16)
                               + np.frombuffer(prev, np.uint8)) & 255).astype(np.uint8))
        elif kind == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif kind == 4:  # Paeth
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        prev = line
    return w, h, np.frombuffer(bytes(out), np.uint8).reshape(h, w, bpp)[:, :, :3]


def _pixels(img: np.ndarray, colour: str) -> int:
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], np.uint8)
    return int(np.all(img == rgb, axis=2).sum())


@pytest.mark.skipif(not CHROMIUM, reason="no chromium binary (apt-get install chromium)")
def test_report_in_headless_chromium(prog, report, tmp_path):
    path, _ = prog
    page = tmp_path / "api" / "index.html"
    report.to_html(page)
    cli = _cli(path, "many", "--html", str(tmp_path / "cli"))
    assert cli.returncode == 1, cli.stdout + cli.stderr
    for html in (page, tmp_path / "cli" / "index.html"):
        dom = _chromium(tmp_path, html, "--dump-dom").stdout
        assert "PLANT-loop" in dom
        # a parsed DOM, not the file: the parser adds the <tbody> the page leaves out
        assert '<table class="source"><tbody>' in dom
        assert '<table class="source"><tbody>' not in html.read_text(encoding="utf-8")
        _check_lines(dom, report)

    shot = tmp_path / "report.png"
    _chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=1200,1600")
    assert shot.is_file() and shot.stat().st_size > 1000
    w, h, img = decode_png(shot.read_bytes())
    assert (w, h) == (1200, 1600)
    assert _pixels(img, "#ffffff") < w * h * 0.95  # not blank
    # the highlighted lines (a line's colour is its first code's tint) and every code's badge
    for code in ("FA101", "FA102", "FA105"):
        assert _pixels(img, COLOURS[code][1]) > 5000, code
    for code in ("FA101", "FA102", "FA104", "FA105"):
        assert _pixels(img, COLOURS[code][0]) > 200, code
    if os.environ.get("FRAMEAD_KEEP_SCREENSHOT"):  # to look at it: copy it out
        shutil.copy(shot, os.environ["FRAMEAD_KEEP_SCREENSHOT"])

