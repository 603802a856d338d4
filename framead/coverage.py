"""Coverage reports: every place in one capture where a gradient may be lost, by file:line.

``framead.coverage(f, *args)`` runs ``f`` once under capture (float arguments traced) and
groups the recorder's hazards by (code, op, file, line). Lines that are fine are not listed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from .capture.hazards import CATALOGUE

KINDS = {
    "FA101": "no-rule",
    "FA102": "gradient-cut",
    "FA103": "uninstrumented-frame",
    "FA104": "unknown-mutation",
    "FA105": "untrackable-store",
    "FA106": "keyword-argument",
    "FA107": "opaque-derivative",
    "FA201": "eager-fallback",
}


def hint_for(code: str, op: str) -> str:
    """What to do about one hazard."""
    return {
        "FA101": f"register a rule: framead.rules.register({op}, vjp=..., saves=...), or "
                 f"differentiate the calling function with framead.use('finite_diff')",
        "FA102": "keep the value a float if it should carry a gradient (int()/round()/"
                 "math.floor give piecewise-constant results whose derivative is zero)",
        "FA103": "framead could not instrument this frame; mark it @framead.eager or "
                 "report the code object to framead",
        "FA104": f"register a rule for {op} that declares mutates=(argnum,), or pass it a "
                 "copy of the array",
        "FA105": "store traced values in lists, tuples, dicts or float ndarrays; array.array, "
                 "ctypes and struct keep raw bytes that framead cannot follow",
        "FA106": f"pass the argument positionally, or register {op}'s rule with argnames=",
        "FA107": f"the VJP of {op} is not written in NumPy code framead can record, so its "
                 "own derivative (second order) is lost; take higher derivatives outside the "
                 "engine/solver, or register a rule whose VJP is plain NumPy",
        "FA201": f"{op} ran with eager Tracers (@framead.eager): it is differentiated, but "
                 "more slowly, and operations between traced values it reads from deep "
                 "containers are not seen; remove @framead.eager where instrumenting works",
    }.get(code, "")


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
        return CATALOGUE.get(self.code, "")


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
                    h.code, KINDS.get(h.code, "other"), h.op, h.loc.file, h.loc.line,
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
            lines.append(f"  {e.line:>5}  {e.code}  x{e.count:<4} {e.op:<24} {e.source[:60]}")
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

    def to_json(self) -> str:
        return json.dumps({"function": self.function,
                           "affects_gradient": self.affects_gradient,
                           "entries": [asdict(e) for e in self.entries]}, indent=2)


def coverage(f: Callable, *args: Any, **kwargs: Any) -> CoverageReport:
    """Run ``f(*args, **kwargs)`` once under capture and report where gradients may be lost."""
    from .api import trace

    t = trace(f, *args, **kwargs)
    return CoverageReport.from_hazards(t.hazards, getattr(f, "__qualname__", repr(f)))
