"""Coverage reports: every place in one capture where a gradient may be lost, by file:line.

``framead.coverage(f, *args)`` runs ``f`` once under capture (float arguments traced) and
groups the recorder's hazards by (code, op, file, line). Lines that are fine are not listed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from .api import trace
from .capture.hazards import REGISTRY
from .coverage_html import write


def kind_of(code: str) -> str:
    """The registry's slug of ``code`` ("unregistered" for a code nobody registered)."""
    k = REGISTRY.get(code)
    return k.slug if k else "unregistered"


def hint_for(code: str, op: str) -> str:
    """What to do about one hazard (the registry's hint)."""
    k = REGISTRY.get(code)
    return k.hint_for(op) if k else ""


@dataclass
class CoverageEntry:
    code: str
    kind: str
    op: str
    file: str
    line: int
    source: str
    count: int
    stack: list[tuple[str, int, str]] = field(default_factory=list)
    hint: str = ""
    message: str = ""

    @property
    def explanation(self) -> str:
        k = REGISTRY.get(self.code)
        return k.explanation if k else ""


class CoverageReport:
    """The hazards of one capture, one entry per (code, op, file, line)."""

    def __init__(self, entries: list[CoverageEntry], function: str = ""):
        self.entries = entries
        self.function = function

    def __bool__(self) -> bool:
        return bool(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def affects_gradient(self) -> bool:
        """Whether any entry can change the gradient (every listed code can)."""
        return bool(self.entries)

    @classmethod
    def from_hazards(cls, hazards: list, function: str = "") -> CoverageReport:
        grouped: dict[tuple, CoverageEntry] = {}
        for h in hazards:
            key = (h.code, h.op, h.loc.file, h.loc.line)
            e = grouped.get(key)
            if e is None:
                grouped[key] = CoverageEntry(
                    h.code, kind_of(h.code), h.op, h.loc.file, h.loc.line,
                    h.loc.source(), 1, [list(s) for s in h.loc.stack], hint_for(h.code, h.op),
                    h.message)
            else:
                e.count += 1
        entries = sorted(grouped.values(), key=lambda e: (e.file, e.line, e.code))
        return cls(entries, function)

    def __str__(self) -> str:
        if not self.entries:
            return f"framead coverage{self._for()}: no hazards; every traced operation has a rule"
        lines = [f"framead coverage{self._for()}: {len(self.entries)} hazard(s)"]
        current = None
        for e in self.entries:
            if e.file != current:
                current = e.file
                lines.append(f"{e.file}")
            lines.append(f"  {e.line:>5}  {e.code} {e.kind:<20} x{e.count:<4} {e.op:<24} "
                         f"{e.source[:60]}")
            lines.append(f"         {e.explanation}; hint: {e.hint}")
        return "\n".join(lines)

    __repr__ = __str__

    def _for(self) -> str:
        return f" of {self.function}" if self.function else ""

    def to_markdown(self) -> str:
        out = [f"# framead coverage{self._for()}", ""]
        if not self.entries:
            return "\n".join(out + ["No hazards.", ""])
        out += ["| file | line | code | kind | op | count | source | hint |",
                "|---|---|---|---|---|---|---|---|"]
        for e in self.entries:
            src = e.source.replace("|", "\\|")
            out.append(f"| {e.file} | {e.line} | {e.code} | {e.kind} | `{e.op}` | {e.count} "
                       f"| `{src}` | {e.hint} |")
        return "\n".join(out) + "\n"

    def to_html(self, path: str | os.PathLike[str]) -> str:
        """Write the report as one self-contained HTML page and return its path.

        The page has a summary table (code, kind, count, links to file:line) and the source
        around every hazard, each hazard's line highlighted with its code, slug, hint and count.
        Nothing in it is fetched from the network. Example::

            framead.coverage(f, 0.5).to_html("htmlcov/index.html")
        """
        return write(self, path)

    def to_json(self) -> str:
        return json.dumps({"function": self.function,
                           "affects_gradient": self.affects_gradient,
                           "entries": [asdict(e) for e in self.entries]}, indent=2)


def coverage(f: Callable, *args: Any, **kwargs: Any) -> CoverageReport:
    """Run ``f(*args, **kwargs)`` once under capture and report where gradients may be lost.

    >>> report = framead.coverage(lambda x: int(x) * x, 2.5)
    >>> [(e.code, e.kind, e.op) for e in report.entries]
    [('FA102', 'gradient-cut', 'builtins.int')]
    """
    t = trace(f, *args, **kwargs)
    return CoverageReport.from_hazards(t.hazards, getattr(f, "__qualname__", repr(f)))
