"""Places where a gradient may be lost, with a stable code (see issue 5's catalogue)."""

from __future__ import annotations

from dataclasses import dataclass

from framead.ir import SourceLoc

CATALOGUE = {
    "FA101": "call to a C function without a rule touched a traced value",
    "FA102": "gradient cut by int()/round()/a comparison into a static value",
    "FA103": "frame ran uninstrumented",
    "FA104": "unknown mutation of a traced array",
    "FA105": "traced value stored where framead cannot follow",
    "FA106": "traced keyword argument framead cannot map to a rule input",
    "FA107": "derivative code a nested (higher-order) capture cannot see",
    "FA201": "eager fallback used",
}


@dataclass(frozen=True)
class Hazard:
    code: str
    op: str
    loc: SourceLoc
    message: str

    def __str__(self) -> str:
        return f"{self.loc.file}:{self.loc.line}: {self.code} {self.message}"
