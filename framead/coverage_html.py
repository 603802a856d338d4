"""One self-contained HTML page for a coverage report (``CoverageReport.to_html``).

The page lists the hazards in a summary table whose ``file:line`` links jump to the user's
source, shown (like coverage.py's HTML report) with line numbers and each hazard's line
highlighted in its code's colour, with code, slug, count, message and hint under it. Nothing
is fetched from the network: the CSS is inline and a Content-Security-Policy forbids the rest.
"""

from __future__ import annotations

import ast
import linecache
import os
import re
from collections.abc import Iterable, Sequence
from html import escape
from typing import Protocol

from .capture.hazards import REGISTRY


class Entry(Protocol):
    """What the page shows of one entry (``framead.coverage.CoverageEntry``)."""

    code: str
    kind: str
    op: str
    file: str
    line: int
    source: str
    count: int
    stack: list[tuple[str, int, str]]
    hint: str
    message: str


class Report(Protocol):
    """What the page shows of a report (``framead.coverage.CoverageReport``)."""

    function: str

    @property
    def entries(self) -> Sequence[Entry]: ...

CONTEXT = 3  # lines shown around a hazard outside a (short enough) function
MAX_FUNCTION = 80  # a longer enclosing function is shown as windows around its hazards

# code -> (colour, light tint for the highlighted line); other codes are grey
COLOURS: dict[str, tuple[str, str]] = {
    "FA101": ("#d9480f", "#ffe8d6"),
    "FA102": ("#b08900", "#fff3bf"),
    "FA103": ("#7048e8", "#e5dbff"),
    "FA104": ("#e03131", "#ffe3e3"),
    "FA105": ("#c2255c", "#ffdeeb"),
    "FA106": ("#0c8599", "#c5f6fa"),
    "FA107": ("#1971c2", "#d0ebff"),
    "FA108": ("#862e9c", "#f3d9fa"),
    "FA109": ("#2b8a3e", "#d3f9d8"),
    "FA110": ("#5c940d", "#e9fac8"),
    "FA201": ("#495057", "#e9ecef"),
}
DEFAULT_COLOUR = ("#868e96", "#f1f3f5")

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 0; color: #212529; background: #fff; }
header { background: #343a40; color: #f8f9fa; padding: 14px 24px; }
header h1 { margin: 0; font-size: 20px; font-weight: 600; }
header p { margin: 4px 0 0; color: #ced4da; }
main { padding: 8px 24px 40px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
h2.file { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
          font-weight: 600; background: #f1f3f5; padding: 6px 10px; border-radius: 4px; }
table { border-collapse: collapse; }
table.summary td, table.summary th { padding: 4px 10px; border-bottom: 1px solid #dee2e6;
                                     text-align: left; vertical-align: top; }
table.summary th { background: #f8f9fa; }
table.summary td.num { text-align: right; }
table.summary td code { white-space: pre-wrap; }
h3 { font-size: 13px; margin: 12px 0 2px; color: #495057; font-weight: 600; }
.mono, code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
              font-size: 13px; }
a { color: #1c7ed6; text-decoration: none; }
a:hover { text-decoration: underline; }
.badge { display: inline-block; padding: 0 6px; border-radius: 3px; color: #fff;
         background: var(--c); font: 600 12px/18px ui-monospace, "DejaVu Sans Mono", monospace; }
.legend { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr));
          gap: 6px 24px; margin: 6px 0 4px; padding: 0; list-style: none; }
.legend .swatch { display: inline-block; width: 14px; height: 14px; vertical-align: -2px;
                  background: var(--t); border-left: 4px solid var(--c); margin-right: 4px; }
table.source { width: 100%; font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas,
               monospace; font-size: 13px; line-height: 1.5; tab-size: 4; }
table.source td { padding: 0 8px; vertical-align: top; }
table.source td.ln { width: 1%; text-align: right; color: #adb5bd; user-select: none;
                     border-right: 1px solid #dee2e6; white-space: nowrap; }
table.source td.ln a { color: inherit; }
table.source td.src pre { margin: 0; white-space: pre-wrap; font: inherit; }
table.source tr.hazard { background: var(--t); }
table.source tr.hazard td.ln { border-left: 5px solid var(--c); color: #212529;
                               font-weight: 600; }
table.source tr.hazard:target { outline: 2px solid var(--c); }
table.source tr.skip td { color: #adb5bd; background: #f8f9fa; text-align: center; }
.notes { margin: 2px 0 6px; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Helvetica,
         Arial, sans-serif; }
.note { margin: 3px 0; padding: 4px 8px; background: #fff;
        border-left: 4px solid var(--c); border-radius: 0 3px 3px 0; }
.note .slug { font-weight: 600; margin: 0 6px; }
.note .count { color: #495057; }
.note .op { color: #495057; }
.note .hint { color: #495057; }
.note .hint b, .note .via b { color: #212529; }
.note .via { color: #868e96; }
.empty { font-size: 16px; padding: 20px; background: #ebfbee; border-left: 5px solid #2b8a3e; }
"""


def _css_class(code: str) -> str:
    return "k-" + re.sub(r"[^A-Za-z0-9_-]", "_", code)


def _kind_css(codes: Iterable[str]) -> str:
    rules = []
    for code in sorted(set(codes)):
        colour, tint = COLOURS.get(code, DEFAULT_COLOUR)
        rules.append(f".{_css_class(code)} {{ --c: {colour}; --t: {tint}; }}")
    return "\n".join(rules)


def anchor(file_index: int, line: int) -> str:
    """The element id of ``line`` in the ``file_index``-th file section."""
    return f"f{file_index}-L{line}"


def _source_lines(path: str) -> list[str]:
    lines = linecache.getlines(path)
    if not lines and os.path.isfile(path):
        linecache.checkcache(path)
        lines = linecache.getlines(path)
    return [line.rstrip("\r\n") for line in lines]


def _functions(text: str) -> list[tuple[int, int]]:
    """(first, last) line of every function in ``text`` (decorators included)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            out.append((first, node.end_lineno))
    return out


def shown_ranges(lines: Sequence[str], hazard_lines: Iterable[int],
                 context: int = CONTEXT, max_function: int = MAX_FUNCTION) -> list[tuple[int, int]]:
    """Merged (first, last) line ranges to show: each hazard's innermost function when it is
    at most ``max_function`` lines long, else ``context`` lines either side."""
    n = len(lines)
    functions = _functions("\n".join(lines) + "\n")
    ranges = []
    for line in sorted(set(hazard_lines)):
        if not 1 <= line <= n:
            continue
        around = [(a, b) for a, b in functions if a <= line <= b and b - a < max_function]
        if around:
            ranges.append(min(around, key=lambda r: r[1] - r[0]))
        else:
            ranges.append((max(1, line - context), min(n, line + context)))
    merged: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if merged and a <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _note(e: Entry) -> str:
    via = ""
    if e.stack:
        frames = ", ".join(f"{escape(str(name))} at {escape(os.path.basename(str(f)))}:{ln}"
                           for f, ln, name in e.stack)
        via = f'<div class="via"><b>called from</b> {frames}</div>'
    return (f'<div class="note {_css_class(e.code)}" data-code="{escape(e.code)}">'
            f'<span class="badge">{escape(e.code)}</span><span class="slug">{escape(e.kind)}'
            f'</span><span class="count">&times;{e.count}</span> '
            f'<code class="op">{escape(e.op)}</code>'
            f'<div class="message">{escape(e.message)}</div>'
            f'<div class="hint"><b>hint:</b> {escape(e.hint)}</div>{via}</div>')


def _line_row(index: int, line: int, text: str, entries: list[Entry]) -> str:
    ident = anchor(index, line)
    num = f'<td class="ln"><a href="#{ident}">{line}</a></td>'
    src = f"<pre>{escape(text) or ' '}</pre>"
    if not entries:
        return f'<tr id="{ident}">{num}<td class="src">{src}</td></tr>'
    codes = " ".join(dict.fromkeys(e.code for e in entries))
    notes = "".join(_note(e) for e in entries)
    return (f'<tr id="{ident}" class="hazard {_css_class(entries[0].code)}" '
            f'data-line="{line}" data-codes="{escape(codes)}">{num}'
            f'<td class="src">{src}<div class="notes">{notes}</div></td></tr>')


def _file_section(index: int, path: str, entries: list[Entry]) -> str:
    by_line: dict[int, list[Entry]] = {}
    for e in entries:
        by_line.setdefault(e.line, []).append(e)
    lines = _source_lines(path)
    ranges = shown_ranges(lines, by_line)
    rows = []
    shown: set[int] = set()
    previous = 0
    for a, b in ranges:
        if a > previous + 1:
            rows.append(f'<tr class="skip"><td class="ln">&#8942;</td>'
                        f'<td class="src">lines {previous + 1}&ndash;{a - 1} not shown</td></tr>')
        for line in range(a, b + 1):
            rows.append(_line_row(index, line, lines[line - 1], by_line.get(line, [])))
            shown.add(line)
        previous = b
    if lines and previous < len(lines):
        rows.append(f'<tr class="skip"><td class="ln">&#8942;</td><td class="src">lines '
                    f'{previous + 1}&ndash;{len(lines)} not shown</td></tr>')
    for line in sorted(set(by_line) - shown):  # no source on disk: the recorded line only
        rows.append(_line_row(index, line, by_line[line][0].source, by_line[line]))
    return (f'<section class="file" id="f{index}"><h2 class="file" title="{escape(path)}">'
            f'{escape(path)}</h2><table class="source">{"".join(rows)}</table></section>')


def _summary(entries: list[Entry], files: dict[str, int]) -> str:
    rows = []
    for e in entries:
        where = f"{os.path.basename(e.file)}:{e.line}"
        rows.append(
            f'<tr class="{_css_class(e.code)}"><td><span class="badge">{escape(e.code)}</span>'
            f'</td><td>{escape(e.kind)}</td><td class="num count">{e.count}</td>'
            f'<td class="mono"><a href="#{anchor(files[e.file], e.line)}" '
            f'title="{escape(e.file)}:{e.line}">{escape(where)}</a></td>'
            f'<td><code>{escape(e.op)}</code></td><td><code>{escape(e.source.strip())}</code></td>'
            f'</tr>')
    return ('<table class="summary"><thead><tr><th>code</th><th>kind</th><th>count</th>'
            '<th>where</th><th>op</th><th>source</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _legend(codes: Iterable[str]) -> str:
    items = []
    for code in sorted(set(codes)):
        k = REGISTRY.get(code)
        slug, explanation = (k.slug, k.explanation) if k else ("unregistered", "")
        items.append(f'<li class="{_css_class(code)}"><span class="swatch"></span>'
                     f'<span class="badge">{escape(code)}</span> <b>{escape(slug)}</b>: '
                     f'{escape(explanation)}</li>')
    return f'<ul class="legend">{"".join(items)}</ul>'


def render(report: Report) -> str:
    """The whole page for ``report`` as a string."""
    entries = list(report.entries)
    title = "framead coverage" + (f" of {report.function}" if report.function else "")
    files: dict[str, int] = {}
    for e in entries:
        files.setdefault(e.file, len(files))
    codes = [e.code for e in entries]
    if entries:
        total = sum(e.count for e in entries)
        lines = len({(e.file, e.line) for e in entries})
        stats = (f"{len(entries)} hazard(s) ({total} occurrence(s)) at {lines} line(s) "
                 f"in {len(files)} file(s)")
        body = (f"<h2>Summary</h2><h3>Kinds</h3>{_legend(codes)}<h3>Hazards</h3>"
                f"{_summary(entries, files)}"
                + "".join(_file_section(i, f, [e for e in entries if e.file == f])
                          for f, i in files.items()))
    else:
        stats = "no hazards"
        body = ('<p class="empty">No hazards: every traced operation has a rule, so no '
                'gradient is lost.</p>')
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            'style-src \'unsafe-inline\'">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}{_kind_css(codes)}</style></head>"
            f"<body><header><h1>{escape(title)}</h1><p>{escape(stats)}</p></header>"
            f"<main>{body}</main></body></html>\n")


def write(report: Report, path: str | os.PathLike[str]) -> str:
    """Write ``render(report)`` to ``path`` (creating its folder) and return the path."""
    path = os.fspath(path)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(render(report))
    return path
