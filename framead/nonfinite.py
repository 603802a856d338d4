"""Where a gradient's inf or NaN was born, for a finite result (FA112, framead.api).

A branch ``np.where`` does not select still has its derivative taken: ``np.where(x > 0,
np.sqrt(x), 0)`` at ``x = -1`` sends a zero cotangent through ``sqrt``, whose derivative there
is NaN, and ``0 * nan`` is NaN; ``np.sqrt(np.maximum(s, 0))`` with the clamp active multiplies
sqrt's infinite derivative at 0 by the clamp's zero. The true derivative is finite (0), and
PyTorch and JAX give NaN as well. framead cannot tell such a zero from one that really
cancels an infinity, so it does not guess: when the result is finite and the gradient holds a
NaN (never a derivative's value; an inf may be one, sqrt's at 0), it runs the reverse pass
again node by node (Python steps, only then) and reports the first step whose cotangents held
no NaN and whose output does, at the user's line of that node, with the step that made the
infinity it multiplied.
"""

from __future__ import annotations

import cmath
import warnings
from typing import Any

import numpy as np

from .capture.hazards import Hazard, split_user
from .capture.sourceloc import user_stacklevel
from .errors import GradientHazard, GradientWarning
from .ir import Node, Value
from .reverse import Backward, _run_steps, library_rule_ids

__all__ = ["finite", "has_nan", "nonfinite_origin", "report_nonfinite", "value_is_finite"]


def _all(x: Any, test: Any) -> bool:
    """``test`` (np.isfinite or a not-NaN test) holds for every entry of a cotangent (a
    number, an array, or a tuple/list of them); None and anything else pass."""
    if x is None:
        return True
    if type(x) in (float, complex) or isinstance(x, np.number):
        return bool(test(x))
    if isinstance(x, np.ndarray):
        return x.dtype.kind not in "fc" or bool(test(x).all())
    if type(x) in (tuple, list):
        return all(_all(y, test) for y in x)
    return True


def _no_nan(x: Any) -> Any:
    return ~np.isnan(x)


def finite(x: Any) -> bool:
    """False where the cotangent ``x`` holds an inf or a NaN."""
    return _all(x, np.isfinite)


def has_nan(x: Any) -> bool:
    """True where the cotangent ``x`` holds a NaN (checked on every gradient: a float's
    check is a comparison, an array's one pass)."""
    if type(x) is float:
        return x != x
    if type(x) is np.ndarray and x.dtype.kind in "fc":
        total = x.sum()  # (NaN if any entry is: one pass, no mask made)
        return total != total and bool(np.isnan(x).any())
    return not _all(x, _no_nan)


def _targets(node: Node) -> list[int]:
    out = []
    for a in node.args:
        if type(a) is Value:
            out.append(a.id)
        elif type(a) in (tuple, list):
            out += [b.id for b in a if type(b) is Value]
    return out


def nonfinite_origin(bw: Backward, seeds: dict[int, Any]) -> tuple[Node, Node | None] | None:
    """The first node of the reverse pass whose step made a NaN cotangent out of NaN-free
    ones, and the first whose step made an inf out of finite ones before it (None if none);
    None when it cannot tell (NaN seeds, a step it cannot re-run)."""
    if any(map(has_nan, seeds.values())):
        return None
    ct = dict(seeds)
    library = library_rule_ids()
    inf_from = None
    with np.errstate(all="ignore"):
        for node in bw.nodes:
            outs = [ct.get(o.id) for o in node.outputs if o is not None]
            if any(map(has_nan, outs)):
                continue  # (not born here)
            before = {i: ct.get(i) for i in _targets(node)}
            try:
                _run_steps([node], [None], ct, library)
            except Exception:  # noqa: BLE001 - the pass itself ran; this is a diagnosis
                return None
            if any(not has_nan(old) and has_nan(ct.get(i)) for i, old in before.items()):
                return node, inf_from
            if inf_from is None and all(map(finite, outs)) and \
                    any(finite(old) and not finite(ct.get(i)) for i, old in before.items()):
                inf_from = node
    return None


def report_nonfinite(bw: Backward, seeds: dict[int, Any], fname: str, strict: bool) -> None:
    """FA112 for a finite result whose gradient holds a NaN: a warning naming the step where
    it was born (GradientHazard in strict mode)."""
    found = nonfinite_origin(bw, seeds)
    if found is None:
        return
    node, inf_from = found
    msg = (f"the gradient of {fname} holds a NaN although its value is finite: it is born in "
           f"the VJP of {node.name} for {step_at(node)}")
    if inf_from is not None:
        msg += (f" from an infinite cotangent, which the VJP of {inf_from.name} for "
                f"{step_at(inf_from)} made")
    msg += (": 0 * inf or 0 * NaN, typically a branch np.where (a clamp, a mask) did not "
            "select whose derivative is infinite or NaN there; its true contribution is 0")
    report_fa112(node, msg, strict)


def step_at(node: Node) -> str:
    """``file:line (source)`` of ``node``'s user line (``hazards.split_user``), with the
    library line it ran at when that is not the user's."""
    user, inside = split_user(node.loc)
    text = f"{user.file}:{user.line} ({user.source().strip()})"
    if inside is not None:
        text += f", inside {inside.function} at {inside.short()}"
    return text


def report_fa112(node: Node, msg: str, strict: bool) -> None:
    """FA112 at ``node``'s user line: a GradientWarning at the user's call, GradientHazard in
    strict mode (the reverse pass's report above, forward mode's in framead/forward.py); the
    message already names any library line (``step_at``)."""
    user, inside = split_user(node.loc)
    hazard = Hazard("FA112", node.name, user, msg, inside)
    if strict:
        raise GradientHazard(hazard)
    warnings.warn(GradientWarning(f"FA112 [nonfinite-gradient] {hazard.message}"),
                  stacklevel=user_stacklevel())


def value_is_finite(value: Any) -> bool:
    """Whether a result (a number or a 0-d array) is finite: the check is made only then."""
    try:
        return cmath.isfinite(complex(value))
    except (TypeError, ValueError):
        return False
