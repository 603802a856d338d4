"""FA102 for a connected result whose derivative is rounding noise (Recorder.finish).

A bisection decided by traced comparisons narrows its bracket ``[lo, hi]`` to rounding level;
``lo`` and ``hi`` are untraced constants (chosen by the decisions, invisible to framead), and
a secant step from the bracket, ``lo - g(lo) (hi - lo) / (g(hi) - g(lo))``, is traced only
through ``g(lo)`` and ``g(hi)``. Their difference is rounding noise there, so the derivative
framead computes, ``(hi - lo) / (g(hi) - g(lo))``, is noise too: the result really moves with
the inputs through the decisions, which carry no derivative. The whole-result check (FA102,
the result reached only through comparisons) cannot see it: the result is connected.

``noise_division`` runs a first-order forward analysis over the capture's scalar nodes: each
value's rounding error (inputs exact, each constant one rounding, each operation one more),
its tangent along a fixed input direction, and that tangent's own error caused by the value
errors. A division by a traced value within its error of zero makes its tangent unknown
(all error); where the result's tangent error is a sizeable part of the tangent, the division
that caused it is returned. Operations it has no formula for end the analysis on that path
(no report), so only what it can follow is judged: a Newton step's division by f'(x), or a
rotation whose angle is noise but whose effect is squashed (Jacobi sweeps), stay silent.
A value (and its tangent) far from any cancellation is taken as accurate to its last bit:
worst-case sums compound over an iteration's steps where the iteration itself contracts
(regula falsi's iterates' bound reached 1% of the tangent, their real error ~1e-15).

The bounds take errors as independent; a candidate is reported only when a signed
first-order propagation of random one-ulp roundings along the tape (``_rounding_moves``,
which keeps their correlations: Illinois' ``(a g(b) - b g(a)) / (g(b) - g(a))`` is a mean
of correlated noise) moves the result's tangent by CONFIRM of itself.
"""

from __future__ import annotations

import math
import operator
import random
from typing import Any

import numpy as np

from framead import rules
from framead.ir import Node, Value

try:
    from ._scalar_tape import suspects as _C_SUSPECTS
except ImportError:  # (the extension not built: the Python pass)
    _C_SUSPECTS = None

__all__ = ["noise_division", "noise_message"]

EPS = float(np.finfo(np.float64).eps)
NOISE = 4.0  # a divisor within NOISE x its error estimate of zero is noise
CONFIRM = 1e-3  # ... and confirmed where one rounding more an operation moves it so much
OWN = 0.01  # or whose error alone moves the quotient's tangent by this part of it
_SUB = frozenset({operator.sub, operator.isub, np.subtract})
_ADD = frozenset({operator.add, operator.iadd, np.add}) | _SUB
_MUL = frozenset({operator.mul, operator.imul, np.multiply})
_DIV = frozenset({operator.truediv, operator.itruediv, np.true_divide})
_NEG = frozenset({operator.neg, operator.pos, np.negative, np.positive})
_ABS = frozenset({abs, operator.abs, np.abs, math.fabs, np.fabs})
_SQRT = frozenset({math.sqrt, np.sqrt})
_EXP = frozenset({math.exp, np.exp})
_LOG = frozenset({math.log, np.log})
_SIN = frozenset({math.sin, np.sin})
_COS = frozenset({math.cos, np.cos})
_COPYSIGN = frozenset({math.copysign, np.copysign})
_POW = frozenset({operator.pow, operator.ipow, np.power, math.pow})
_SCALARS = (float, int, np.floating, np.integer)
_DIV_IDS = frozenset(map(id, _DIV))
_KNOWN = frozenset(_ADD | _MUL | _DIV | _NEG | _ABS | _SQRT | _EXP | _LOG | _SIN | _COS |
                   _COPYSIGN | _POW | {operator.getitem})
_KNOWN_IDS = frozenset(map(id, _KNOWN))
_ADD_IDS = frozenset(map(id, _ADD))
_FLOATS = (float, np.float64)
_RULE = operator.attrgetter("rule")
CANCELLED = 1e-8  # (26 bits or more cancelled)
MAX_NODES = 200_000  # (larger captures are not judged: a linear pass, but in Python)


def _scalar(x: Any) -> float | None:
    if type(x) is Value:
        x = x.primal
    if isinstance(x, _SCALARS) and not isinstance(x, bool):
        return float(x)
    if isinstance(x, np.ndarray) and x.shape == () and x.dtype.kind == "f":
        return float(x)
    return None


def _partials(fn: Any, v: list[float], out: float) -> tuple[list[float], list[float]] | None:
    """Local partials of ``out = fn(*v)`` and bounds of their own derivatives in each
    argument (for the tangent's error); None: no formula here."""
    if fn in _ADD:
        return ([1.0, -1.0 if fn in _SUB else 1.0], [0.0, 0.0]) if len(v) == 2 else None
    if fn in _MUL and len(v) == 2:
        return [v[1], v[0]], [1.0, 1.0]
    if fn in _DIV and len(v) == 2 and v[1] != 0.0:
        inv = 1.0 / v[1]
        return [inv, -out * inv], [inv * inv, 2.0 * abs(out) * inv * inv]
    if len(v) == 1 and fn in _NEG:
        return [-1.0 if fn in (operator.neg, np.negative) else 1.0], [0.0]
    if len(v) == 1 and fn in _ABS:
        return [1.0 if v[0] >= 0.0 else -1.0], [0.0]
    if fn in _SQRT and len(v) == 1 and out > 0.0:
        return [0.5 / out], [0.25 / (out * out * out)]
    if fn in _EXP and len(v) == 1:
        return [out], [abs(out)]
    if fn in _LOG and len(v) == 1 and v[0] > 0.0:
        return [1.0 / v[0]], [1.0 / (v[0] * v[0])]
    if fn in _SIN and len(v) == 1:
        return [math.cos(v[0])], [1.0]
    if fn in _COS and len(v) == 1:
        return [-math.sin(v[0])], [1.0]
    if fn in _COPYSIGN and len(v) == 2:
        return [1.0 if (out >= 0.0) == (v[0] >= 0.0) else -1.0, 0.0], [0.0, 0.0]
    if fn in _POW and len(v) == 2 and (v[0] > 0.0 or v[1].is_integer()):
        n, x = v[1], v[0]
        log = math.log(x) if x > 0.0 else 0.0  # (x**n of x <= 0: n a constant integer)
        return [n * x ** (n - 1.0), out * log], \
            [abs(n * (n - 1.0) * x ** (n - 2.0)) if x != 0.0 or n >= 2.0 else 0.0,
             abs(out) * (1.0 + log * log)]
    return None


def noise_division(nodes: list[Node], outputs: list[Any],
                   inputs: list[Value]) -> tuple[Node, float, float] | None:
    """The division whose divisor is rounding noise and makes the result's tangent unknown,
    with the divisor and its error estimate; None when there is none (or it cannot tell)."""
    if len(nodes) > MAX_NODES or not _suspects(nodes):
        return None  # (the common case: no traced divisor near a cancellation)
    st: dict[int, tuple[float, float, float]] = {}  # id -> (tangent, its error, value error)
    culprit: dict[int, tuple[Node, float, float]] = {}
    near: dict[int, int] = {}  # Value id -> operations since a cancellation (up to 3)
    arrays = set()
    dirs: dict[int, float] = {}  # an array input's element id -> its tangent
    for inp in inputs:
        if inp.shape == ():
            st[inp.id] = (1.0, 0.0, 0.0)
        else:
            arrays.add(inp.id)
    for node in nodes:
        fn = getattr(node.rule, "fn", None)
        if id(fn) not in _KNOWN_IDS:
            continue
        outs = node.outputs
        if len(outs) != 1 or outs[0] is None or outs[0].shape != ():
            continue
        out = _scalar(outs[0])
        if out is None:
            continue
        oid = outs[0].id
        args = node.args
        if fn is operator.getitem:
            if type(args[0]) is Value and args[0].id in arrays:
                st[oid] = (1.0 + 0.5 * math.sin(1.0 + len(st)), 0.0, 0.0)  # (a direction)
                dirs[oid] = st[oid][0]
            continue
        xs: list[float] = []
        states = []
        for a in args:
            x = _scalar(a)
            if x is None:
                break
            xs.append(x)
            if type(a) is Value:
                sa = st.get(a.id)
                if sa is None:
                    break
                # a value far from any cancellation is taken as accurate to its last bit, and
                # so is its tangent unless a noise division made it: worst-case bounds
                # compounded over an iteration's many steps mean nothing (|p|-sums do not
                # contract where the iteration does: regula falsi's tangent bound grew 1.33x
                # a step to 1% while the real error stayed ~1e-15)
                states.append(sa if a.id in near else
                              (sa[0], sa[1] if a.id in culprit else EPS * abs(sa[0]),
                               EPS * abs(x)))
            else:
                states.append((0.0, 0.0, EPS * abs(x)))
        else:
            try:
                got = _judge(node, fn, xs, states, out, culprit)
            except (OverflowError, ZeroDivisionError, ValueError):
                continue
            if got is not None:
                st[oid], blame = got
                if blame is not None:
                    culprit[oid] = blame
                steps = min((near[a.id] for a in args if type(a) is Value and a.id in near),
                            default=3)
                if steps < 3:
                    near[oid] = steps + 1
                elif id(fn) in _ADD_IDS and len(xs) == 2 and \
                        abs(out) <= CANCELLED * max(abs(xs[0]), abs(xs[1])):
                    near[oid] = 0
    found = [o for o in outputs if type(o) is Value and o.id in culprit and o.id in st and
             st[o.id][1] > 0.01 * abs(st[o.id][0]) + 1e-10 * (1.0 + abs(_scalar(o) or 0.0))]
    if not found:
        return None
    runs = [_rounding_moves(nodes, inputs, dirs, seed) for seed in range(4)]
    for o in found:
        t, y = st[o.id][0], _scalar(o) or 0.0
        moved = [abs(r[o.id]) for r in runs if o.id in r]
        if not moved or max(moved) > CONFIRM * abs(t) + 1e-10 * (1.0 + abs(y)):
            return culprit[o.id]
    return None


def _second(fn: Any, v: list[float], out: float) -> list[list[float]] | None:
    """Signed derivatives of ``_partials``' partials: row i, column j is d p_i / d v_j."""
    if fn in _ADD or fn in _NEG or fn in _ABS or fn in _COPYSIGN:
        return [[0.0] * len(v) for _ in v]
    if fn in _MUL and len(v) == 2:
        return [[0.0, 1.0], [1.0, 0.0]]
    if fn in _DIV and len(v) == 2 and v[1] != 0.0:
        inv = 1.0 / v[1]
        return [[0.0, -inv * inv], [-inv * inv, 2.0 * out * inv * inv]]
    if len(v) == 1:
        x = v[0]
        h = (-0.25 / (out * out * out) if fn in _SQRT and out > 0.0 else out if fn in _EXP
             else -1.0 / (x * x) if fn in _LOG and x > 0.0 else -math.sin(x) if fn in _SIN
             else -math.cos(x) if fn in _COS else None)
        return None if h is None else [[h]]
    if fn in _POW and len(v) == 2 and v[0] > 0.0:
        x, n = v
        lg, xn1 = math.log(x), x ** (n - 1.0)
        return [[n * (n - 1.0) * x ** (n - 2.0), xn1 * (1.0 + n * lg)],
                [xn1 * (1.0 + n * lg), out * lg * lg]]
    if fn in _POW and len(v) == 2 and v[1].is_integer():  # (x <= 0: n a constant)
        n, x = v[1], v[0]
        return [[n * (n - 1.0) * x ** (n - 2.0) if x != 0.0 or n >= 2.0 else 0.0, 0.0],
                [0.0, 0.0]]
    return None


def _rounding_moves(nodes: list[Node], inputs: list[Value], dirs: dict[int, float],
                    seed: int) -> dict[int, float]:
    """How the scalar nodes' tangents (Value id -> change) move, to first order, when each
    operation's result and each non-integral constant rounds once more, by a random part of
    EPS: signed and carried along the tape, so errors that reach a numerator and its
    divisor alike cancel as they do in the run (Illinois' ``(a g(b) - b g(a)) / (g(b) -
    g(a))`` is a weighted mean, no noise), where the bounds above take them as independent."""
    rng = random.Random(seed)
    val: dict[int, tuple[float, float, float]] = {}  # id -> (tangent, value move, its move)
    consts: dict[int, tuple[float, float, float]] = {}  # a constant's id() -> the same
    for inp in inputs:
        if inp.shape == ():
            val[inp.id] = (1.0, 0.0, 0.0)
    for node in nodes:
        fn = getattr(node.rule, "fn", None)
        outs = node.outputs
        if id(fn) not in _KNOWN_IDS or len(outs) != 1 or outs[0] is None or \
                outs[0].shape != () or (out := _scalar(outs[0])) is None:
            continue
        if fn is operator.getitem:
            if outs[0].id in dirs:
                val[outs[0].id] = (dirs[outs[0].id], 0.0, 0.0)
            continue
        xs: list[float] = []
        sts: list[tuple[float, float, float]] = []
        for a in node.args:
            x = _scalar(a)
            got = val.get(a.id) if type(a) is Value else consts.get(id(a))
            if got is None and type(a) is not Value and x is not None:
                got = consts[id(a)] = (0.0, 0.0 if x.is_integer() else
                                       rng.uniform(-EPS, EPS) * x, 0.0)
            if got is None or x is None:
                break
            xs.append(x)
            sts.append(got)
        else:
            try:
                d = _partials(fn, xs, out)
                h = _second(fn, xs, out) if d is not None else None
            except (ArithmeticError, ValueError):
                continue
            if d is None or h is None:
                continue
            t = dv = dt = 0.0
            for p, row, (ta, dva, dta) in zip(d[0], h, sts, strict=False):
                t += p * ta
                dv += p * dva
                dt += p * dta + ta * sum(q * s[1] for q, s in zip(row, sts, strict=False))
            dv += rng.uniform(-EPS, EPS) * out
            if math.isfinite(t) and math.isfinite(dv) and math.isfinite(dt):
                val[outs[0].id] = (t, dv, dt)
    return {k: v[2] for k, v in val.items()}


def _suspects(nodes: list[Node]) -> bool:
    """``_suspects_py`` in C (capture/_scalar_tape.c ``suspects``, ~40 ns a node where the
    Python pass takes ~0.5-0.8 us: it runs on every capture that compared traced values)."""
    if _C_SUSPECTS is not None and type(nodes) is list:
        try:
            return _C_SUSPECTS(nodes, _DIV, _ADD, _KNOWN, CANCELLED)
        except RuntimeError:  # (its setup() not called yet: framead.reverse calls it)
            pass
    return _suspects_py(nodes)


def _suspects_py(nodes: list[Node]) -> bool:
    """Whether a division by a traced value has a catastrophic cancellation (``a - b`` with
    |a - b| <= CANCELLED x max(|a|, |b|)) among the few operations that made its divisor: a
    cheap pass that spares the analysis everywhere else (Newton's f'(x), ordinary code)."""
    div_rules = {id(r) for r in map(rules.lookup, _DIV) if r is not None}
    if not any(map(div_rules.__contains__, map(id, map(_RULE, nodes)))):
        return False  # (no division at all: one scan in C)
    near: dict[int, int] = {}  # Value id -> operations since a cancellation (up to 3)
    for n in nodes:
        fid = id(getattr(n.rule, "fn", None))
        if fid not in _KNOWN_IDS:
            continue
        args = n.args
        if fid in _DIV_IDS and len(args) == 2 and type(args[1]) is Value and \
                args[1].id in near:
            return True
        outs = n.outputs
        if len(outs) != 1 or outs[0] is None:
            continue
        steps = min((near[a.id] for a in args if type(a) is Value and a.id in near),
                    default=None) if near else None
        if steps is not None and steps < 3:
            near[outs[0].id] = steps + 1
        elif fid in _ADD_IDS and len(args) == 2:
            out = outs[0].primal
            if type(out) in _FLOATS and abs(out) <= CANCELLED * max(
                    abs(_primal(args[0])), abs(_primal(args[1]))):
                near[outs[0].id] = 0
    return False


def _primal(a: Any) -> float:
    x = a.primal if type(a) is Value else a
    return x if type(x) in _FLOATS else 0.0


def _judge(node: Node, fn: Any, xs: list[float], states: list, out: float,
           culprit: dict) -> tuple[tuple[float, float, float], Any] | None:
    """One node's (tangent, tangent error, value error) and the division to blame."""
    got = _partials(fn, xs, out)
    if got is None:
        return None
    d, dd = got
    errsum = sum(s[2] for s in states)
    t = te = e = 0.0
    blame = None
    for a, p, q, (ta, ta_err, ea) in zip(node.args, d, dd, states, strict=False):
        t += p * ta
        e += abs(p) * ea
        te += abs(p) * ta_err + q * abs(ta) * errsum
        if type(a) is Value and a.id in culprit and (blame is None or ta_err > 0.0):
            blame = culprit[a.id]
    e += EPS * abs(out)
    if id(fn) in _DIV_IDS and type(node.args[1]) is Value:
        eb = states[1][2]
        if eb > 0.0 and abs(xs[1]) <= NOISE * eb:  # (the divisor is noise)
            te = max(te, abs(d[0] * states[0][0]) + abs(d[1] * states[1][0]))
            blame = (node, xs[1], eb)
        elif (dd[0] * abs(states[0][0]) + dd[1] * abs(states[1][0])) * eb > OWN * abs(t):
            blame = (node, xs[1], eb)  # (not noise, but its error is a sizeable part of t)
    if not (math.isfinite(t) and math.isfinite(te) and math.isfinite(e)):
        return None
    return (t, te, e), blame


def noise_message(found: tuple[Node, float, float], first: Any) -> str:
    """FA102's message for ``noise_division``'s finding; ``first``: the first comparison."""
    _, d, e = found
    where = first.short() if hasattr(first, "short") else str(first)
    return (f"the result divides by {d:.3g}, a difference within its rounding error (~{e:.2g}) "
            f"of zero, of values chosen by comparisons of traced values (first at {where}): "
            "the derivative through it is rounding noise; the result moves with the inputs "
            "through those decisions (a bisection narrowed to rounding level, then a secant "
            "step), which carry no derivative")
