"""Coverage reports, strict mode and the CLI gate, on planted hazards and on clean programs."""

from __future__ import annotations

import array
import json
import math
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import framead

HERE = os.path.abspath(__file__)


def _line(fn, marker: str) -> int:
    """Line number in this file of the line containing ``marker`` inside ``fn``."""
    import inspect

    lines, start = inspect.getsourcelines(fn)
    for i, text in enumerate(lines):
        if marker in text:
            return start + i
    raise AssertionError(marker)


def no_rule(x):
    y = struct.unpack("d", struct.pack("<d", x))[0] + x  # PLANT-struct
    return y * math.gamma(1.5)


def cut_by_int(x):
    n = int(x * 3.0)  # PLANT-int
    return x * x + n


def unknown_mutation(x):
    a = np.array(x, copy=True)
    np.random.default_rng(0).permuted(a, out=a)  # PLANT-shuffle
    return float(np.sum(a * a))


def raw_storage(x):
    buf = array.array("d", [0.0])
    buf[0] = x  # PLANT-array
    return buf[0] + x


def clean(x, y):
    s = 0.0
    for i in range(3):
        s += math.sin(x * i) * y
    return s + float(np.sum(np.exp(np.array([x, y]))))


@pytest.mark.parametrize("fn, args, code, marker", [
    (no_rule, (0.5,), "FA105", "PLANT-struct"),
    (cut_by_int, (0.7,), "FA102", "PLANT-int"),
    (unknown_mutation, (np.linspace(0, 1, 5),), "FA104", "PLANT-shuffle"),
    (raw_storage, (0.3,), "FA105", "PLANT-array"),
])
def test_planted_hazard_reported_at_exact_line(fn, args, code, marker):
    report = framead.coverage(fn, *args)
    hits = [e for e in report.entries if e.code == code]
    assert hits, str(report)
    assert hits[0].file == HERE and hits[0].line == _line(fn, marker)
    assert marker in hits[0].source
    assert hits[0].hint and hits[0].count >= 1


def test_unknown_c_function_reported_as_fa101():
    def f(x):
        return x * 2.0 + float.fromhex(x.hex())  # float.hex has no rule: a gradient cut

    report = framead.coverage(f, 0.25)
    assert any(e.code == "FA101" for e in report.entries), str(report)


def test_clean_program_has_no_entries():
    report = framead.coverage(clean, 0.3, 1.2)
    assert report.entries == [] and not report.affects_gradient
    assert "no hazards" in str(report)


def test_strict_raises_at_first_hazard_with_file_line():
    with pytest.raises(framead.GradientHazard) as err:
        framead.grad(cut_by_int, strict=True)(0.7)
    msg = str(err.value)
    assert "FA102" in msg and f"{HERE}:{_line(cut_by_int, 'PLANT-int')}" in msg


def test_strict_context_manager_and_env(monkeypatch):
    with framead.strict(), pytest.raises(framead.GradientHazard):
        framead.grad(raw_storage)(0.3)
    monkeypatch.setenv("FRAMEAD_STRICT", "1")
    with pytest.raises(framead.GradientHazard):
        framead.grad(raw_storage)(0.3)
    assert framead.grad(clean)(0.3, 1.2) == pytest.approx(
        sum(math.cos(0.3 * i) * i * 1.2 for i in range(3)) + math.exp(0.3))


def test_non_strict_gradient_still_computed():
    g = framead.grad(cut_by_int)(0.7)
    assert g == pytest.approx(1.4)


def test_report_renderings():
    report = framead.coverage(no_rule, 0.5)
    doc = json.loads(report.to_json())
    e = doc["entries"][0]
    assert {"code", "kind", "op", "file", "line"} <= set(e)
    assert "| file | line | code |" in report.to_markdown()
    assert os.path.basename(HERE) in str(report)


def _cli(tmp_path, body: str, func: str, *args: str, json_out=False):
    path = tmp_path / "prog.py"
    path.write_text(textwrap.dedent(body))
    cmd = [sys.executable, "-m", "framead", "coverage", f"{path}:{func}", "--args", *args]
    if json_out:
        cmd.append("--json")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


PROG = """
    import math, struct
    import numpy as np

    def clean(x):
        return math.sin(x) * np.sum(np.ones(3) * x)

    def hazard(x):
        return struct.unpack("d", struct.pack("d", x))[0] + x
"""


def test_cli_gates(tmp_path):
    ok = _cli(tmp_path, PROG, "clean", "0.5")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = _cli(tmp_path, PROG, "hazard", "0.5", json_out=True)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert json.loads(bad.stdout)["entries"][0]["code"] == "FA105"
    usage = _cli(tmp_path, PROG, "missing", "0.5")
    assert usage.returncode == 2 and "missing" in usage.stderr
