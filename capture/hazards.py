"""The hazard registry: every place where a gradient may be lost has a registered code.

Like PyTorch dynamo's graph-break registry, each code (``FA1xx``: the gradient may be wrong or
incomplete; ``FA2xx``: it is right but obtained another way) has a slug, an explanation and a
hint. Coverage reports, the CLI (``python -m framead hazards``) and ``GradientHazard``
messages read them from here. ``Hazard(...)`` with an unregistered code raises
``UnregisteredHazard`` under pytest (or with ``FRAMEAD_CHECK_HAZARDS=1``): a new hazard site
must register its code first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from framead.ir import SourceLoc


@dataclass(frozen=True)
class HazardKind:
    code: str
    slug: str
    explanation: str
    hint: str  # may use {op}: the callable or frame the hazard is about

    def hint_for(self, op: str) -> str:
        return self.hint.format(op=op)


REGISTRY: dict[str, HazardKind] = {}


class UnregisteredHazard(LookupError):
    """A hazard was raised with a code that is not in ``REGISTRY`` (a framead bug)."""


def register(code: str, slug: str, explanation: str, hint: str) -> HazardKind:
    """Register one hazard code (codes and slugs are unique)."""
    if code in REGISTRY or any(k.slug == slug for k in REGISTRY.values()):
        raise ValueError(f"hazard {code} / {slug} is already registered")
    kind = REGISTRY[code] = HazardKind(code, slug, explanation, hint)
    return kind


def lookup(code: str) -> HazardKind:
    try:
        return REGISTRY[code]
    except KeyError:
        raise UnregisteredHazard(f"hazard code {code!r} is not registered in "
                                 "framead.capture.hazards") from None


register("FA101", "no-rule",
         "a C function without a derivative rule received a traced value",
         "register a rule: framead.rules.register({op}, vjp=..., saves=...), or differentiate "
         "the calling function with framead.use('finite_diff')")
register("FA102", "gradient-cut",
         "the gradient is cut: int()/round()/floor or a comparison turned a traced value into "
         "a static one (its derivative is zero, which may be what you mean)",
         "keep the value a float if it should carry a gradient (int()/round()/math.floor give "
         "piecewise-constant results whose derivative is zero)")
register("FA103", "uninstrumented-frame",
         "a frame ran uninstrumented (the rewriter refused its code object, for the reason "
         "given): operations on traced values inside it are not recorded",
         "mark {op} @framead.eager, or report its code object (and the reason) to framead")
register("FA104", "unknown-mutation",
         "a traced array was changed by something framead cannot see (a call without a rule, "
         "or a view whose origin is unknown)",
         "register a rule for {op} that declares mutates=(argnum,), or pass it a copy of the "
         "array")
register("FA105", "untrackable-store",
         "a traced value was stored as raw bytes framead cannot follow (array.array, struct, "
         "ctypes, memoryview)",
         "store traced values in lists, tuples, dicts or float ndarrays; array.array, ctypes "
         "and struct keep raw bytes that framead cannot follow")
register("FA106", "keyword-argument",
         "a traced keyword argument cannot be mapped to an input of the rule",
         "pass the argument positionally, or register {op}'s rule with argnames=")
register("FA107", "opaque-derivative",
         "a nested (higher-order) capture cannot see the derivative code of this node",
         "the VJP of {op} is not written in NumPy code framead can record, so its own "
         "derivative (second order) is lost; take higher derivatives outside the engine/solver, "
         "or register a rule whose VJP is plain NumPy")
register("FA108", "disconnected-result",
         "the result does not depend on the differentiated inputs through any operation "
         "framead saw, although they were used: their values reached it some other way (text, "
         "a container or C code framead cannot see into, another thread), so the zero gradient "
         "is probably wrong",
         "find where the value leaves numbers framead follows near {op} (str()/format(), "
         "json, object arrays, threads) and keep it a float or an array there")
register("FA109", "other-thread",
         "a traced value was used in another thread than the one framead captures (a worker "
         "thread, a thread pool, a thread started inside the function): operations there are "
         "not recorded, so what they contribute to the result has no gradient",
         "compute {op} in the thread that calls grad (or give the worker untraced copies and "
         "differentiate the worker's function separately)")
register("FA110", "stale-lookup",
         "a lookup by a traced key (a dict, a set, a memo table) found an entry this call did "
         "not compute from its inputs: stored by an earlier call or a constant, it carries no "
         "gradient, although the result depends on the key",
         "clear the table at the start of each call (or key it by something untraced), or "
         "compute {op} from the key instead of looking it up")
register("FA111", "text-roundtrip",
         "a number was parsed from text (float(s), int(s), Decimal(s), np.loadtxt...) that "
         "holds text made from traced values in this capture (str/repr/format, an f-string, "
         "'%' formatting, np.savetxt): the parsed number is a constant, its gradient is lost",
         "keep the value itself instead of its text near {op} (pass the float or array on; "
         "write text only for output)")
register("FA112", "nonfinite-gradient",
         "the result is finite but its gradient holds an inf or NaN, born in the reverse pass "
         "from finite cotangents at this node's VJP: typically 0 * inf, a branch np.where (a "
         "clamp, a mask) did not select whose derivative is infinite or NaN there",
         "compute the unselected branch on safe values (np.where(x > 0, np.sqrt(np.where(x > "
         "0, x, 1)), 0)), or clamp away from the singular point before {op}")
register("FA201", "eager-fallback",
         "the eager fallback (@framead.eager Tracers) was used: the gradient is right for "
         "values it receives as arguments, cells, globals, call results, attributes, items "
         "and locals (slower); values nested deeper than 4 levels in containers are not "
         "followed",
         "{op} ran with eager Tracers (@framead.eager): remove @framead.eager where "
         "instrumenting works")

# code -> explanation (older name, kept for readers of the catalogue)
CATALOGUE = {code: kind.explanation for code, kind in REGISTRY.items()}


def _check_codes() -> bool:
    return bool(os.environ.get("FRAMEAD_CHECK_HAZARDS") or os.environ.get("PYTEST_CURRENT_TEST"))


@dataclass(frozen=True)
class Hazard:
    code: str
    op: str
    loc: SourceLoc
    message: str

    def __post_init__(self) -> None:
        if self.code not in REGISTRY and _check_codes():
            lookup(self.code)  # raises UnregisteredHazard

    @property
    def kind(self) -> HazardKind | None:
        return REGISTRY.get(self.code)

    @property
    def slug(self) -> str:
        return self.kind.slug if self.kind else "unregistered"

    @property
    def hint(self) -> str:
        return self.kind.hint_for(self.op) if self.kind else ""

    def __str__(self) -> str:
        return f"{self.loc.file}:{self.loc.line}: {self.code} [{self.slug}] {self.message}"
