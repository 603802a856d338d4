"""Rules for the ``math`` module: Python floats in, Python floats out.

Derivatives use ``math`` (fast on floats) and ``sdiv`` where the derivative is infinite at a
point the forward accepts (``sqrt(0)``, ``asin(1)``): the reverse pass must not raise
ZeroDivisionError where NumPy would give inf.
"""

from __future__ import annotations

import cmath
import math

import numpy as np

from .families import defbinary, defcut, defunary
from .formulas import abs_dx, pow_dx, pow_dy, sdiv
from .registry import ANS, MethodCall, make_rule, register, register_method
from .shapes import add_tangents, fill_zeros, is_inexact, unbroadcast

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
UNARY_MORE = [
    (math.exp2, lambda ans: ans * _LN2),
    (math.cbrt, lambda ans: sdiv(1.0, 3.0 * ans * ans)),
    (math.gamma, lambda ans, x: ans * digamma(x)),
    (math.lgamma, lambda x: digamma(x)),
]

# cmath: holomorphic, complex out (elementwise rules, so a real input gets a real cotangent)
CMATH_UNARY = [
    (cmath.exp, "ans"), (cmath.sqrt, lambda ans: 0.5 / ans),
    (cmath.log10, lambda x: 1.0 / (x * _LN10)),
    (cmath.sin, lambda x: cmath.cos(x)), (cmath.cos, lambda x: -cmath.sin(x)),
    (cmath.tan, lambda ans: 1.0 + ans * ans),
    (cmath.asin, lambda x: 1.0 / cmath.sqrt(1.0 - x * x)),
    (cmath.acos, lambda x: -1.0 / cmath.sqrt(1.0 - x * x)),
    (cmath.atan, lambda x: 1.0 / (1.0 + x * x)),
    (cmath.sinh, lambda x: cmath.cosh(x)), (cmath.cosh, lambda x: cmath.sinh(x)),
    (cmath.tanh, lambda ans: 1.0 - ans * ans),
    (cmath.asinh, lambda x: 1.0 / cmath.sqrt(x * x + 1.0)),
    (cmath.acosh, lambda x: 1.0 / (cmath.sqrt(x - 1.0) * cmath.sqrt(x + 1.0))),
    (cmath.atanh, lambda x: 1.0 / (1.0 - x * x)),
]

BINARY = [
    (math.atan2, lambda x, y: _at0(y, x * x + y * y), lambda x, y: _at0(-x, x * x + y * y)),
    (math.pow, lambda x, y: pow_dx(x, y), lambda ans, x, y: pow_dy(x, y, ans)),
    (math.copysign, lambda x, y: math.copysign(1.0, x) * math.copysign(1.0, y), 0.0),
    (math.fmod, 1.0, lambda ans, x, y: -float(round((x - ans) / y))),
]
BINARY_MORE = [
    (math.remainder, 1.0, lambda ans, x, y: -float(round((x - ans) / y))),
    (math.ldexp, lambda y: math.ldexp(1.0, y), None),
    (math.nextafter, 1.0, None),
]

CUTS = [math.floor, math.ceil, math.trunc, math.ulp]


def digamma(x: float) -> float:
    """psi(x) = d lgamma / dx (math has none): reflection, recurrence, asymptotic series."""
    if x <= 0 and x == math.floor(x):
        return math.nan
    if x < 0.5:
        return digamma(1.0 - x) - math.pi / math.tan(math.pi * x)
    r = 0.0
    while x < 10.0:
        r -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    series = f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f / 132))))
    return r + math.log(x) - 0.5 / x - series


def _log_dx(g, ans, x, base=math.e):
    return g / (x * math.log(base)) if base != math.e else g / x


def _log_db(g, ans, x, base=math.e):
    lb = math.log(base)
    return -g * math.log(x) / (base * lb * lb)


def _log_jvp(tangents, ans, x, base=math.e):
    tx, tb = (tuple(tangents) + (None,))[:2]
    return add_tangents((None if tx is None else _log_dx(tx, ans, x, base),
                         None if tb is None else _log_db(tb, ans, x, base)))


def _dist_cot(i):
    sign = 1.0 if i == 0 else -1.0

    def vjp(g, ans, p, q):
        x = (p, q)[i]
        if isinstance(x, list | tuple):
            return type(x)(unbroadcast(sign * g * _at0(a - b, ans), xi) if is_inexact(xi)
                           else None for a, b, xi in zip(p, q, x, strict=True))
        d = np.asarray(p, dtype=float) - np.asarray(q, dtype=float)
        return unbroadcast(sign * g * _at0(d, ans), x)
    return vjp


def _dist_jvp(tangents, ans, p, q):
    d = np.asarray(p, dtype=float) - np.asarray(q, dtype=float)
    tp = None if tangents[0] is None else np.asarray(fill_zeros(tangents[0], p), dtype=float)
    tq = None if tangents[1] is None else np.asarray(fill_zeros(tangents[1], q), dtype=float)
    dt = tp if tq is None else (-tq if tp is None else tp - tq)
    return float(np.sum(d * dt) / ans) if ans != 0 else 0.0


def _frexp_vjp(g, ans, x):
    return g[0] * math.ldexp(1.0, -ans[1])


def _frexp_jvp(tangents, ans, x):
    return tangents[0] * math.ldexp(1.0, -ans[1]), None


def _cmath_log_dx(g, ans, x, base=math.e):
    return unbroadcast(g / (x * cmath.log(base)) if base != math.e else g / x, x)


def _cmath_log_db(g, ans, x, base=math.e):
    lb = cmath.log(base)
    return unbroadcast(-g * cmath.log(x) / (base * lb * lb), base)


def _cmath_log_jvp(tangents, ans, x, base=math.e):
    tx, tb = (tuple(tangents) + (None,))[:2]
    lb = cmath.log(base)
    return add_tangents((None if tx is None else tx / (x * lb),
                         None if tb is None else -tb * cmath.log(x) / (base * lb * lb)))


def _phase_vjp(g, ans, x):
    return unbroadcast(-1j * g / x, x) if isinstance(x, complex) and x != 0 else 0.0 * g


def _phase_jvp(tangents, ans, x):
    return (tangents[0] / x).imag if isinstance(x, complex) and x != 0 else None


def _rect_jvp(tangents, ans, r, phi):
    tr, tp = (tuple(tangents) + (None,))[:2]
    e = cmath.rect(1.0, phi)
    return add_tangents((None if tr is None else tr * e, None if tp is None else 1j * ans * tp))


def _polar_vjp(g, ans, x):
    gr, gp = g
    ct = gr * abs_dx(x) + (-1j * gp / x if x != 0 else 0.0)
    return unbroadcast(ct, x)


def _polar_jvp(tangents, ans, x):
    t = tangents[0]
    if x == 0:
        return None
    return (t * abs_dx(x)).real, (t / x).imag


def _at0(a, b):
    """``a / b``, 0 where ``b == 0``: at the origin, where hypot, atan2 and dist have no
    derivative, the convention of abs and np.linalg.norm (so ``hypot(x - x, 0)`` does not
    give nan * 0). ``b != 0``, not ``if b``: a comparison is what a cached higher-order trace
    re-checks (rules/registry.py, decisions in derivative code)."""
    return a / b if b != 0 else 0.0 * a


def _hypot_vjp(g, ans, *coords):
    return tuple(g * _at0(c, ans) for c in coords)


def _hypot_jvp(tangents, ans, *coords):
    return add_tangents(t * _at0(c, ans) for t, c in zip(tangents, coords, strict=False)
                        if t is not None)


def _fsum_vjp(g, ans, items):
    return [g if is_inexact(x) else None for x in items]


def _fsum_jvp(tangents, ans, items):
    ts = tangents[0]
    return None if ts is None else math.fsum(t for t in ts if t is not None)


def _sumprod_cot(i):
    """math.sumprod(p, q) (3.12+) = sum of p[k] * q[k]: d/dp[k] = g q[k], d/dq[k] = g p[k]."""
    def vjp(g, ans, p, q):
        other = (q, p)[i]
        return [g * o if is_inexact(x) else None for x, o in zip((p, q)[i], other, strict=True)]

    return vjp


def _sumprod_jvp(tangents, ans, p, q):
    terms = [t * o for ts, other in ((tangents[0], q), (tangents[1], p)) if ts is not None
             for t, o in zip(ts, other, strict=True) if t is not None]
    return add_tangents(terms) if terms else None


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


def _prod_start_vjp(g, ans, items, start=1):
    return g * math.prod(items) if is_inexact(start) else None


def _prod_jvp(tangents, ans, items, start=1):
    ts = tangents[0]
    terms = [] if ts is None else [t * o for t, o in zip(ts, _others(items, start), strict=True)
                                   if t is not None]
    if len(tangents) > 1 and tangents[1] is not None:
        terms.append(tangents[1] * math.prod(items))
    return add_tangents(terms)


def install() -> None:
    for fn, d in UNARY + UNARY_MORE:
        defunary(fn, d, elementwise=False)
    for fn, dx, dy in BINARY + BINARY_MORE:
        defbinary(fn, dx, dy, elementwise=False)
    for fn in CUTS:
        defcut(fn)
    defunary(math.fabs, lambda x: abs_dx(x), elementwise=False)
    register(math.log, vjp=(_log_dx, _log_db), jvp=_log_jvp, saves={0: (0, 1), 1: (0, 1)},
             argnames=("x", "base"))
    register(math.hypot, vjp=_hypot_vjp, jvp=_hypot_jvp, saves=None)
    register(math.fsum, vjp=(_fsum_vjp,), jvp=_fsum_jvp, saves={0: ()}, containers=(0,))
    register(math.prod, vjp=(_prod_vjp, _prod_start_vjp), jvp=_prod_jvp,
             saves={0: (0, 1), 1: (0,)}, containers=(0,), argnames=("iterable", "start"))
    if hasattr(math, "sumprod"):  # 3.12+ (statistics.correlation/linear_regression use it)
        register(math.sumprod, vjp=(_sumprod_cot(0), _sumprod_cot(1)), jvp=_sumprod_jvp,
                 saves={0: (1,), 1: (0,)}, containers=(0, 1))
    register(math.dist, vjp=(_dist_cot(0), _dist_cot(1)), jvp=_dist_jvp,
             saves={0: (0, 1, ANS), 1: (0, 1, ANS)}, containers=(0, 1))
    register(math.frexp, vjp=(_frexp_vjp,), jvp=_frexp_jvp, saves={0: (ANS,)}, multi=True,
             argnames=("x",))
    register(math.modf, vjp=(lambda g, ans, x: g[0],), jvp=lambda ts, ans, x: (ts[0], None),
             saves={0: ()}, multi=True, argnames=("x",))
    for fn, d in CMATH_UNARY:
        defunary(fn, d)
    register(cmath.log, vjp=(_cmath_log_dx, _cmath_log_db), jvp=_cmath_log_jvp,
             saves={0: (0, 1), 1: (0, 1)}, argnames=("x", "base"))
    register(cmath.phase, vjp=(_phase_vjp,), jvp=_phase_jvp, saves={0: (0,)},
             argnames=("x",))
    register(cmath.polar, vjp=(_polar_vjp,), jvp=_polar_jvp, saves={0: (0,)}, multi=True,
             argnames=("x",))
    for cls in (float, complex):  # x.conjugate() of Python numbers (identity for floats)
        register_method(cls, "conjugate", vjp=(lambda g, ans, z: unbroadcast(g.conjugate(), z),),
                        jvp=lambda ts, ans, z: ts[0].conjugate(), saves={0: ()},
                        argnames=("self",))
    # integer / bool valued methods of floats: cuts (float's serve np.float64 through the MRO)
    for cls, names in ((float, ("is_integer", "__trunc__", "__floor__", "__ceil__")),
                       *((t, ("is_integer",)) for t in (np.float16, np.float32, np.float64,
                                                       np.longdouble))):
        for name in names:  # (the rule's function takes any self: checks copy scalars)
            if hasattr(cls, name):
                register_method(cls, name, make_rule(MethodCall(name), cut=True,
                                                     name=f"{cls.__name__}.{name}",
                                                     argnames=("self",)))
    register(cmath.rect, vjp=(lambda g, ans, r, phi: unbroadcast(g * cmath.rect(1.0, phi), r),
                              lambda g, ans, r, phi: unbroadcast(1j * g * ans, phi)),
             jvp=_rect_jvp, saves={0: (1,), 1: (ANS,)}, argnames=("r", "phi"))
