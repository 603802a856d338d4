"""FA102 for a connected result whose derivative divides by rounding noise (Recorder.finish).

A bisection decided by traced comparisons narrows its bracket ``[lo, hi]`` to rounding level;
``lo`` and ``hi`` are untraced constants (chosen by the decisions, invisible to framead), and
a secant step from the bracket, ``lo - g(lo) (hi - lo) / (g(hi) - g(lo))``, is traced only
through ``g(lo)`` and ``g(hi)``. Their difference is rounding noise there, so the derivative
framead computes, ``(hi - lo) / (g(hi) - g(lo))``, is noise too: the result really moves with
the inputs through the decisions, which carry no derivative. The whole-result check (FA102,
the result reached only through comparisons) cannot see it: the result is connected.

``noise_division`` runs a first-order forward error estimate over the capture's scalar nodes
(inputs exact, each constant one rounding, each operation one rounding plus what its operands
carry) and returns the first division on the way to the result whose traced divisor is
within its own error of zero. Called only where traced values were compared and the result
is connected; divisions by well-determined values (a Newton step's f'(x)) never qualify.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from framead.ir import Node, Value

__all__ = ["noise_division", "noise_message"]

EPS = float(np.finfo(np.float64).eps)
NOISE = 4.0  # a divisor within NOISE x its error estimate of zero is noise
_ADD = frozenset({operator.add, operator.sub, operator.iadd, operator.isub, np.add,
                  np.subtract})
_MUL = frozenset({operator.mul, operator.imul, np.multiply})
_DIV = frozenset({operator.truediv, operator.itruediv, np.true_divide})
_NEG = frozenset({operator.neg, operator.pos, np.negative, np.positive})
_SCALARS = (float, int, np.floating, np.integer)


def _scalar(x: Any) -> float | None:
    if type(x) is Value:
        x = x.primal
    if isinstance(x, _SCALARS) and not isinstance(x, bool):
        return float(x)
    if isinstance(x, np.ndarray) and x.shape == () and x.dtype.kind == "f":
        return float(x)
    return None


def _reaching(nodes: list[Node], outputs: list[Any]) -> set[int]:
    """Ids of the Values the outputs depend on (the nodes on the way to the result)."""
    need = {o.id for o in outputs if type(o) is Value}
    for node in reversed(nodes):
        if any(o is not None and o.id in need for o in node.outputs):
            for a in node.args:
                if type(a) is Value:
                    need.add(a.id)
    return need


def noise_division(nodes: list[Node], outputs: list[Any]) -> tuple[Node, float, float] | None:
    """The first division on the way to ``outputs`` by a traced value within its rounding
    error of zero, with the divisor and its error estimate; None when there is none."""
    err: dict[int, float] = {}
    suspects: list[tuple[Node, float, float]] = []
    for node in nodes:
        outs = node.outputs
        if len(outs) != 1 or outs[0] is None or outs[0].shape != ():
            continue
        out = _scalar(outs[0])
        fn = getattr(node.rule, "fn", None)
        if out is None or fn is None:
            continue
        args = node.args[:2]
        vals = [v for v in map(_scalar, args) if v is not None]
        if len(vals) != len(args):
            continue
        errs = [err.get(a.id, 0.0) if type(a) is Value else EPS * abs(v)
                for a, v in zip(args, vals, strict=True)]
        if fn in _ADD and len(vals) == 2:
            e = errs[0] + errs[1] + EPS * abs(out)
        elif fn in _MUL and len(vals) == 2:
            e = abs(vals[1]) * errs[0] + abs(vals[0]) * errs[1] + EPS * abs(out)
        elif fn in _DIV and len(vals) == 2:
            a, b = vals
            if b == 0.0:
                continue
            e = errs[0] / abs(b) + abs(a) * errs[1] / (b * b) + EPS * abs(out)
            if type(args[1]) is Value and errs[1] > 0.0 and abs(b) <= NOISE * errs[1]:
                suspects.append((node, b, errs[1]))
        elif fn in _NEG and len(vals) == 1:
            e = errs[0]
        else:
            e = EPS * abs(out)
        err[outs[0].id] = e
    if not suspects:
        return None
    need = _reaching(nodes, outputs)
    for s in suspects:
        if s[0].outputs[0].id in need:
            return s
    return None


def noise_message(found: tuple[Node, float, float], first: Any) -> str:
    """FA102's message for ``noise_division``'s finding; ``first``: the first comparison."""
    _, d, e = found
    where = first.short() if hasattr(first, "short") else str(first)
    return (f"the result divides by {d:.3g}, a difference within its rounding error (~{e:.2g}) "
            f"of zero, of values chosen by comparisons of traced values (first at {where}): "
            "the derivative through it is rounding noise; the result moves with the inputs "
            "through those decisions (a bisection narrowed to rounding level, then a secant "
            "step), which carry no derivative")
