"""Rules for the ``math`` module: Python floats in, Python floats out.

Derivatives use ``math`` (fast on floats) and ``sdiv`` where the derivative is infinite at a
point the forward accepts (``sqrt(0)``, ``asin(1)``): the reverse pass must not raise
ZeroDivisionError where NumPy would give inf.
"""

from __future__ import annotations

import math

from .helpers import (
    abs_dx,
    add_tangents,
    defbinary,
    defcut,
    defunary,
    is_inexact,
    pow_dx,
    pow_dy,
    sdiv,
    unbroadcast,
)
from .registry import register

_2_SQRTPI = 2.0 / math.sqrt(math.pi)
_LN2, _LN10 = math.log(2.0), math.log(10.0)

UNARY = [
    (math.exp, "ans"),
    (math.expm1, lambda ans: ans + 1.0),
    (math.log1p, lambda x: 1.0 / (1.0 + x)),
    (math.log2, lambda x: 1.0 / (x * _LN2)),
    (math.log10, lambda x: 1.0 / (x * _LN10)),
    (math.sqrt, lambda ans: sdiv(0.5, ans)),
    (math.sin, lambda x: math.cos(x)),
    (math.cos, lambda x: -math.sin(x)),
    (math.tan, lambda ans: 1.0 + ans * ans),
    (math.asin, lambda x: sdiv(1.0, math.sqrt(1.0 - x * x))),
    (math.acos, lambda x: sdiv(-1.0, math.sqrt(1.0 - x * x))),
    (math.atan, lambda x: 1.0 / (1.0 + x * x)),
    (math.sinh, lambda x: math.cosh(x)),
    (math.cosh, lambda x: math.sinh(x)),
    (math.tanh, lambda ans: 1.0 - ans * ans),
    (math.asinh, lambda x: 1.0 / math.sqrt(x * x + 1.0)),
    (math.acosh, lambda x: sdiv(1.0, math.sqrt(x * x - 1.0))),
    (math.atanh, lambda x: 1.0 / (1.0 - x * x)),
    (math.erf, lambda x: _2_SQRTPI * math.exp(-x * x)),
    (math.erfc, lambda x: -_2_SQRTPI * math.exp(-x * x)),
    (math.degrees, 180.0 / math.pi),
    (math.radians, math.pi / 180.0),
]

BINARY = [
    (math.atan2, lambda x, y: y / (x * x + y * y), lambda x, y: -x / (x * x + y * y)),
    (math.pow, lambda x, y: pow_dx(x, y), lambda ans, x, y: pow_dy(x, y, ans)),
    (math.copysign, lambda x, y: math.copysign(1.0, x) * math.copysign(1.0, y), 0.0),
    (math.fmod, 1.0, lambda ans, x, y: -float(round((x - ans) / y))),
]

CUTS = [math.floor, math.ceil, math.trunc]


def _log_dx(g, ans, x, base=math.e):
    return g / (x * math.log(base)) if base != math.e else g / x


def _log_db(g, ans, x, base=math.e):
    lb = math.log(base)
    return -g * math.log(x) / (base * lb * lb)


def _log_jvp(tangents, ans, x, base=math.e):
    tx, tb = (tuple(tangents) + (None,))[:2]
    return add_tangents((None if tx is None else _log_dx(tx, ans, x, base),
                         None if tb is None else _log_db(tb, ans, x, base)))


def _hypot_vjp(g, ans, *coords):
    return tuple(g * sdiv(c, ans) for c in coords)


def _hypot_jvp(tangents, ans, *coords):
    return add_tangents(t * sdiv(c, ans) for t, c in zip(tangents, coords, strict=False)
                        if t is not None)


def _fsum_vjp(g, ans, items):
    return [g if is_inexact(x) else None for x in items]


def _fsum_jvp(tangents, ans, items):
    ts = tangents[0]
    return None if ts is None else math.fsum(t for t in ts if t is not None)


def _others(items, start):
    """Product of every item but the i-th, times start (no division: zeros are fine)."""
    n = len(items)
    left, right = [start] * n, [1.0] * n
    for i in range(1, n):
        left[i] = left[i - 1] * items[i - 1]
    for i in range(n - 2, -1, -1):
        right[i] = right[i + 1] * items[i + 1]
    return [a * b for a, b in zip(left, right, strict=True)]


def _prod_vjp(g, ans, items, start=1):
    return [unbroadcast(g * o, x) if is_inexact(x) else None
            for o, x in zip(_others(items, start), items, strict=True)]


def _prod_jvp(tangents, ans, items, start=1):
    ts = tangents[0]
    if ts is None:
        return None
    return add_tangents(t * o for t, o in zip(ts, _others(items, start), strict=True)
                        if t is not None)


def install() -> None:
    for fn, d in UNARY:
        defunary(fn, d, elementwise=False)
    for fn, dx, dy in BINARY:
        defbinary(fn, dx, dy, elementwise=False)
    for fn in CUTS:
        defcut(fn)
    defunary(math.fabs, lambda x: abs_dx(x), elementwise=False)
    register(math.log, vjp=(_log_dx, _log_db), jvp=_log_jvp, saves={0: (0, 1), 1: (0, 1)},
             argnames=("x", "base"))
    register(math.hypot, vjp=_hypot_vjp, jvp=_hypot_jvp, saves=None)
    register(math.fsum, vjp=(_fsum_vjp,), jvp=_fsum_jvp, saves={0: ()}, containers=(0,))
    register(math.prod, vjp=(_prod_vjp,), jvp=_prod_jvp, saves={0: (0,)}, containers=(0,))
