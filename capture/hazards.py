"""The hazard registry: every place where a gradient may be lost has a registered code.

Like PyTorch dynamo's graph-break registry, each code (``FA1xx``: the gradient may be wrong or
incomplete; ``FA2xx``: it is right but obtained another way) has a slug, an explanation and a
hint. Coverage reports, the CLI (``python -m framead hazards``) and ``GradientHazard``
messages read them from here. ``Hazard(...)`` with an unregistered code raises
``UnregisteredHazard`` under pytest (or with ``FRAMEAD_CHECK_HAZARDS=1``): a new hazard site
must register its code first.

Where: a hazard's ``loc`` is the innermost frame of the USER's code (``Hazard`` moves it
there): when the gradient is lost inside library code the user called (``statistics.mean``,
``json.dumps``, SciPy's or NumPy's own Python code: the standard library, installed packages,
framead's own and generated code), ``loc`` is the user's line that called it, ``inside`` the
library frame where it happened (its callers up to the user's: ``inside.stack``), and the
message ends with both. A chain with no user frame (a library differentiated directly) keeps
its innermost frame. ``locate`` finds the user's frame past framead's own frames and past the
callers C's walk keeps (``sourceloc.MAX_STACK``).
"""

from __future__ import annotations

import os
import site
import sysconfig
from dataclasses import dataclass
from types import FrameType

from framead.ir import SourceLoc

from .sourceloc import is_framead_file, is_trampoline, loc_of


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


# --- where: the user's line first ------------------------------------------------------------
def _library_dirs() -> tuple[str, ...]:
    dirs = {sysconfig.get_path(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    dirs.update(getattr(site, "getsitepackages", list)())
    dirs.add(getattr(site, "getusersitepackages", str)())
    return tuple(dict.fromkeys(os.path.join(f(d), "") for d in dirs if d
                               for f in (os.path.abspath, os.path.realpath)))


LIBRARY_DIRS = _library_dirs()
_PACKAGE_PARTS = tuple(f"{os.sep}{d}{os.sep}" for d in ("site-packages", "dist-packages"))
_MAX_WALK = 64  # frames locate() walks at most
_MAX_FILES = 4096  # bound of the is_library_file cache
_library: dict[str, bool] = {}


def is_library_file(filename: str) -> bool:
    """Whether ``filename`` is not the user's code: the standard library (frozen modules
    too), installed packages (any ``site-packages``/``dist-packages`` folder), framead's own
    or generated code (``<framead...>``)."""
    hit = _library.get(filename)
    if hit is None:
        hit = (filename.startswith(("<frozen ", "<framead")) or "<framead" in filename
               or os.path.abspath(filename).startswith(LIBRARY_DIRS)
               or any(p in filename for p in _PACKAGE_PARTS) or is_framead_file(filename))
        if len(_library) >= _MAX_FILES:
            _library.clear()
        _library[filename] = hit
    return hit


def split_user(loc: SourceLoc) -> tuple[SourceLoc, SourceLoc | None]:
    """``(user, inside)``: the innermost user frame of ``loc``'s chain (its callers after it)
    and the library frames it called (innermost first, its callers up to the user's in
    ``inside.stack``); ``(loc, None)`` when ``loc`` is the user's or no frame is."""
    if not is_library_file(loc.file):
        return loc, None
    for i, (file, line, function) in enumerate(loc.stack):
        if not is_library_file(file):
            return (SourceLoc(file, line, function, loc.stack[i + 1:]),
                    SourceLoc(loc.file, loc.line, loc.function, loc.stack[:i]))
    return loc, None


def inside_text(inside: SourceLoc) -> str:
    """The message's note of the library code a hazard happened in: what the user's line
    called, and where inside it."""
    if not inside.stack:
        return f" (this line called {inside.function}; it happened inside, at {inside.short()})"
    file, line, function = inside.stack[-1]
    return (f" (this line called {function}, {SourceLoc(file, line, function).short()}; it "
            f"happened inside, at {inside.short()} in {inside.function})")


def locate(frame: FrameType | SourceLoc | None) -> SourceLoc:
    """Where a hazard in ``frame`` (or at that SourceLoc) happened: ``loc_of(frame)``, or,
    when its chain holds library code only (C's walk ends at framead's frames, or after
    MAX_STACK callers), that chain carried on to the user's frame and its callers, framead's
    frames left out, never past a trampoline (where the capture began)."""
    if frame is None or isinstance(frame, SourceLoc):
        return frame if frame is not None else loc_of(None)
    loc = loc_of(frame)
    if not is_library_file(loc.file) or not all(is_library_file(s[0]) for s in loc.stack):
        return loc
    chain: list[tuple[str, int, str]] = []
    f: FrameType | None = frame
    for _ in range(_MAX_WALK):
        if f is None or is_trampoline(f.f_code):
            break
        if not is_framead_file(f.f_code.co_filename):
            here = loc_of(f)  # (C's line: the original code's, under instrumenting)
            if not is_library_file(here.file):
                if not chain:
                    return loc
                return SourceLoc(*chain[0], (*chain[1:], (here.file, here.line, here.function),
                                             *here.stack))
            chain.append((here.file, here.line, here.function))
        f = f.f_back
    return loc


@dataclass(frozen=True)
class Hazard:
    """One hazard: ``loc`` the user's line (see the module's doc), ``inside`` the library
    frame where it happened when that is not the user's code."""

    code: str
    op: str
    loc: SourceLoc
    message: str
    inside: SourceLoc | None = None

    def __post_init__(self) -> None:
        if self.code not in REGISTRY and _check_codes():
            lookup(self.code)  # raises UnregisteredHazard
        if self.inside is None:
            user, inside = split_user(self.loc)
            if inside is not None:
                object.__setattr__(self, "loc", user)
                object.__setattr__(self, "inside", inside)
                object.__setattr__(self, "message", self.message + inside_text(inside))

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
