"""Rules for NumPy's elementwise functions: the ufuncs (arithmetic, powers, exponentials and
logarithms, trigonometry, extrema, rounding and comparisons as cuts) and their kin (``clip``,
``where``, ``sign``, ``angle``, ``nan_to_num``...).

They are elementwise (the reverse pass unbroadcasts) and honour ``where=``; ``out=`` is the
recorder's business (a write of ``ans`` into ``out``). The other NumPy rules are by subject:
``numpy_array_rules`` (construction, conversion, reshapes), ``numpy_shape_rules`` (gathers,
stacking, sorting), ``numpy_pad_rules``, ``numpy_reduction_rules``, ``numpy_statistics_rules``,
``numpy_scan_rules``, ``numpy_series_rules`` (differences, convolutions, interpolation),
``product_rules``, ``linalg_rules``, ``fft_rules`` and ``mutation_rules`` (in-place writers).
"""

from __future__ import annotations

import math

import numpy as np

from .families import QUOTIENT_DY, defbinary, defcut, deflinear, defunary, rdiv, rsub
from .formulas import abs_dx, abs_jvp, pow_dx, pow_dy
from .registry import ANS, register, register_method
from .shapes import add_tangents, unbroadcast

_LN2, _LN10 = math.log(2.0), math.log(10.0)
_NV = np._NoValue
div = np.divide  # NumPy division: inf, not ZeroDivisionError, for Python floats

UNARY = [
    (np.negative, -1), (np.positive, 1),
    (np.exp, "ans"), (np.exp2, lambda ans: ans * _LN2),
    (np.expm1, lambda ans: ans + 1),
    (np.log, lambda x: div(1, x)), (np.log2, lambda x: div(1 / _LN2, x)),
    (np.log10, lambda x: div(1 / _LN10, x)), (np.log1p, lambda x: rdiv(1, 1 + x)),
    (np.sqrt, lambda ans: div(0.5, ans)), (np.cbrt, lambda ans: rdiv(1, 3 * ans * ans)),
    (np.square, lambda x: 2 * x), (np.reciprocal, lambda ans: -ans * ans),
    (np.sin, lambda x: np.cos(x)), (np.cos, lambda x: -np.sin(x)),
    (np.tan, lambda ans: 1 + ans * ans),
    (np.arcsin, lambda x: rdiv(1, np.sqrt(rsub(1, x * x)))),
    (np.arccos, lambda x: rdiv(-1, np.sqrt(rsub(1, x * x)))),
    (np.arctan, lambda x: rdiv(1, 1 + x * x)),
    (np.sinh, lambda x: np.cosh(x)), (np.cosh, lambda x: np.sinh(x)),
    (np.tanh, lambda ans: rsub(1, ans * ans)),
    (np.arcsinh, lambda x: rdiv(1, np.sqrt(x * x + 1))),
    (np.arccosh, lambda x: rdiv(1, np.sqrt(x * x - 1))),
    (np.arctanh, lambda x: rdiv(1, rsub(1, x * x))),
    (np.fabs, lambda x: np.sign(x)),
    (np.deg2rad, math.pi / 180), (np.radians, math.pi / 180),
    (np.rad2deg, 180 / math.pi), (np.degrees, 180 / math.pi),
]


def _bal(x, y, cmp):
    """1 where cmp(x, y), 1/2 at ties: max/min split the cotangent between equal inputs."""
    return cmp(x, y) * 1.0 + np.equal(x, y) * 0.5


def _fbal(x, y, cmp):
    return np.where(np.isnan(y), 1.0, _bal(x, y, cmp))


BINARY = [
    (np.add, 1, 1), (np.subtract, 1, -1),
    (np.multiply, "y", "x"),
    (np.divide, lambda y: div(1, y), QUOTIENT_DY),
    (np.power, lambda x, y: pow_dx(x, y), lambda ans, x, y: pow_dy(x, y, ans)),
    (np.float_power, lambda x, y: pow_dx(x, y), lambda ans, x, y: pow_dy(x, y, ans)),
    (np.arctan2, lambda x, y: div(y, x * x + y * y), lambda x, y: div(-x, x * x + y * y)),
    (np.hypot, lambda ans, x: div(x, ans), lambda ans, y: div(y, ans)),
    (np.logaddexp, lambda ans, x: np.exp(x - ans), lambda ans, y: np.exp(y - ans)),
    (np.logaddexp2, lambda ans, x: np.exp2(x - ans), lambda ans, y: np.exp2(y - ans)),
    (np.maximum, lambda x, y: _bal(x, y, np.greater), lambda x, y: _bal(y, x, np.greater)),
    (np.minimum, lambda x, y: _bal(x, y, np.less), lambda x, y: _bal(y, x, np.less)),
    (np.fmax, lambda x, y: _fbal(x, y, np.greater), lambda x, y: _fbal(y, x, np.greater)),
    (np.fmin, lambda x, y: _fbal(x, y, np.less), lambda x, y: _fbal(y, x, np.less)),
    (np.remainder, 1, lambda x, y: -np.floor_divide(x, y)),
    (np.fmod, 1, lambda ans, x, y: -np.round(div(x - ans, y))),
]

CUTS = [np.floor, np.ceil, np.trunc, np.rint, np.fix, np.floor_divide]
# rounding to decimals is mostly meant as the identity (cleaning noise): zero derivative, FA102
# at the user's line, as builtins.round (builtin_rules.HAZARDS)
ROUND_HAZARD = ("rounding a traced value (round(), np.round, np.around, ndarray.round) has "
                "zero derivative: the gradient stops here")
ROUNDS = [np.round, np.around]

# more elementwise functions, outside the tables the tests sweep with generic inputs (sinc's
# removable singularity, ldexp's integer exponent): (function, d/dx), (function, d/dx, d/dy)
UNARY_MORE = [(np.sinc, lambda x: _sinc_dx(x))]
# (the sign in copysign, ldexp's integer exponent and nextafter's direction are piecewise
# constant: derivative 0, not "no rule")
BINARY_MORE = [
    (np.copysign, lambda x, y: np.copysign(1.0, x) * np.copysign(1.0, y), 0.0),
    (np.ldexp, lambda y: np.ldexp(1.0, y), None), (np.nextafter, 1, 0.0),
    # heaviside(x1, x2) is x2 where x1 == 0: a step in x1, the identity in x2 there
    (np.heaviside, 0.0, lambda x: np.equal(x, 0) * 1.0),
]
# piecewise constant, boolean or integer valued ufuncs (np.isnan & co.: no rule, see
# capture/writers.predicate_ufunc)
UFUNC_CUTS = [np.equal, np.not_equal, np.greater, np.greater_equal, np.less, np.less_equal,
              np.logical_and, np.logical_or, np.logical_xor, np.logical_not, np.bitwise_and,
              np.bitwise_or, np.bitwise_xor, np.bitwise_count, np.invert, np.left_shift,
              np.right_shift, np.gcd, np.lcm, np.spacing,
              np.signbit, np.isnat]


def bessel_i1(x):
    """The modified Bessel function I1 (np.i0's derivative; NumPy has no i1) by its power
    series sum (x/2)^(2k+1) / (k! (k+1)!): its terms share x's sign (no cancellation), and
    there are about |x|/2 + 6 sqrt|x| + 20 of them before they fall under one ulp of the sum
    (I1 overflows past |x| = 713). Float64, as np.i0."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        term = x / 2
        q = term * term
        total = term.copy()
        for k in range(1, 2000):
            term = term * (q / (k * (k + 1)))
            total += term
            if not np.any(np.abs(term) > 1e-17 * np.abs(total)):
                break
    return total if total.ndim else total[()]


def _i1_dx(ans, x):
    """I1' = I0 - I1 / x, 1/2 at 0 (I1(x)/x = 1/2 + x^2/16 + ...)."""
    x = np.asarray(x)
    safe = np.where(x == 0, 1.0, x)
    return np.i0(x) - np.where(x == 0, 0.5, ans / safe)


def _sinc_dx(x):
    """(cos(pi x) - sinc(x)) / x; at 0 it is 0 with slope -pi**2/3 (its own derivative)."""
    x = np.asarray(x)
    safe = np.where(x == 0, 1.0, x)
    return np.where(x == 0, x * (-np.pi ** 2 / 3), (np.cos(np.pi * safe) - np.sinc(safe)) / safe)


def _angle_vjp(g, ans, z, deg=False):
    """angle = Im(log z): the cotangent is -1j g / z (zero for a real z)."""
    scale = 180 / math.pi if deg else 1.0
    if not np.iscomplexobj(z):
        return unbroadcast(np.zeros_like(np.asarray(g) * z, dtype=float), z)
    with np.errstate(divide="ignore", invalid="ignore"):
        return unbroadcast(-1j * scale * np.asarray(g) / z, z)


def _angle_jvp(tangents, ans, z, deg=False):
    if not np.iscomplexobj(z):
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        return (180 / math.pi if deg else 1.0) * np.imag(tangents[0] / z)


def _frexp_vjp(g, ans, x, *args, **kw):
    return g[0] * np.ldexp(1.0, -ans[1])


def _frexp_jvp(tangents, ans, x, *args, **kw):
    return tangents[0] * np.ldexp(1.0, -ans[1]), None


def _modf_jvp(tangents, ans, x, *args, **kw):
    return tangents[0], None


# --- elementwise specials --------------------------------------------------------------------

def _clip_bounds(a_min, a_max, kw):
    lo = kw.get("min", None) if a_min is _NV else a_min
    hi = kw.get("max", None) if a_max is _NV else a_max
    return (None if lo is _NV else lo), (None if hi is _NV else hi)


def _clip_da(g, ans, a, a_min=_NV, a_max=_NV, *rest, **kw):
    lo, hi, inner = _clip_inner(a, a_min, a_max, kw)
    m = 1.0
    if lo is not None:
        m = m * np.greater_equal(a, lo)
    if hi is not None:
        m = m * np.less_equal(inner, hi)
    return g * m


def _clip_inner(a, a_min, a_max, kw):
    """clip is minimum(maximum(a, lo), hi): (lo, hi, maximum(a, lo)); with lo > hi the
    result is hi everywhere, so a and lo get nothing."""
    lo, hi = _clip_bounds(a_min, a_max, kw)
    return lo, hi, (a if lo is None else np.maximum(a, lo))


def _clip_dlo(g, ans, a, a_min=_NV, a_max=_NV, *rest, **kw):
    lo, hi, inner = _clip_inner(a, a_min, a_max, kw)
    m = np.less(a, lo)
    return g * (m if hi is None else m & np.less_equal(inner, hi))


def _clip_dhi(g, ans, a, a_min=_NV, a_max=_NV, *rest, **kw):
    lo, hi, inner = _clip_inner(a, a_min, a_max, kw)
    return g * np.greater(inner, hi)


def _clip_jvp(tangents, ans, a, a_min=_NV, a_max=_NV, *rest, **kw):
    parts = (_clip_da, _clip_dlo, _clip_dhi)
    return add_tangents(p(t, ans, a, a_min, a_max, *rest, **kw)
                        for t, p in zip(tangents, parts, strict=False) if t is not None)


def _where_jvp(tangents, ans, c, x, y):
    tx, ty = tangents[1], tangents[2]
    if tx is None and ty is None:
        return None
    return np.where(c, 0 if tx is None else tx, 0 if ty is None else ty)


def _divmod_jvp(tangents, ans, x, y, *args, **kw):
    tx, ty = tangents[0], tangents[1]
    return None, add_tangents((tx, None if ty is None else -ty * ans[0]))


DIVMOD = dict(vjp=(lambda g, ans, x, y, *a, **k: g[1],
                   lambda g, ans, x, y, *a, **k: -g[1] * ans[0]),
              jvp=_divmod_jvp, saves={0: (), 1: (ANS,)}, elementwise=True,
              multi=True)


def _sign_dir(x, t):
    """The real-linear derivative of NumPy 2's sign: zero for reals; for complex z (z/|z|)
    the tangent t/|z| - z Re(conj(z) t)/|z|^3 (0 at z == 0)."""
    if not np.iscomplexobj(x):
        return None
    r = np.abs(x)
    safe = np.where(r == 0, 1.0, r)
    return np.where(r == 0, 0, t / safe - x * np.real(np.conj(x) * t) / safe ** 3)


def _sign_vjp(g, ans, x, **kw):
    if not np.iscomplexobj(x):
        return np.zeros(np.shape(g))
    r = np.abs(x)
    safe = np.where(r == 0, 1.0, r)  # the transpose of _sign_dir under Re(sum(u * v))
    return np.where(r == 0, 0, g / safe - np.real(g * x) * np.conj(x) / safe ** 3)


def _sign_jvp(tangents, ans, x, **kw):
    return None if tangents[0] is None else _sign_dir(x, tangents[0])




def install() -> None:
    for fn, d in UNARY:
        defunary(fn, d)
    for fn, dx, dy in BINARY:
        defbinary(fn, dx, dy)
    for fn, d in UNARY_MORE:
        defunary(fn, d)
    # np.i0 is NumPy Python code; traced, its np.abs(x) loses i0''(0) = 1/2 (sign(0) = 0)
    defunary(np.i0, lambda x: bessel_i1(x))
    defunary(bessel_i1, _i1_dx)
    for fn, dx, dy in BINARY_MORE:
        defbinary(fn, dx, dy)
    for fn in CUTS + UFUNC_CUTS:
        defcut(fn)
    for fn in ROUNDS:
        defcut(fn, hazard=ROUND_HAZARD)
    register_method(np.ndarray, "round", cut=True, hazard=ROUND_HAZARD)
    register(np.sign, vjp=(_sign_vjp,), jvp=_sign_jvp, saves={0: (0,)}, elementwise=True)
    register(np.absolute, vjp=(lambda g, ans, x, **kw: g * abs_dx(x),), jvp=(abs_jvp,),
             saves={0: (0,)}, elementwise=True)
    conj = deflinear(np.conjugate, lambda g, ans, x, **kw: np.conjugate(g), elementwise=True)
    register_method(np.ndarray, "conj", conj)
    register_method(np.ndarray, "conjugate", conj)
    register(np.clip, vjp=(_clip_da, _clip_dlo, _clip_dhi), jvp=_clip_jvp, elementwise=True,
             saves={0: (0, 1, 2), 1: (0, 1, 2), 2: (0, 1, 2)}, argnames=("a", "a_min", "a_max"))
    register(np.where, vjp=(None, lambda g, ans, c, x, y: np.where(c, g, 0),
                            lambda g, ans, c, x, y: np.where(c, 0, g)),
             jvp=_where_jvp, saves={1: (0,), 2: (0,)}, nondiff=(0,), elementwise=True)
    register(np.divmod, **DIVMOD)
    register(np.angle, vjp=(_angle_vjp,), jvp=_angle_jvp, saves={0: (0,)})
    register(np.frexp, vjp=(_frexp_vjp,), jvp=_frexp_jvp, saves={0: (ANS,)}, multi=True,
             elementwise=True)
    register(np.modf, vjp=(lambda g, ans, x, *a, **k: g[0],), jvp=_modf_jvp, saves={0: ()},
             multi=True, elementwise=True)
    defunary(np.nan_to_num, lambda x: np.isfinite(x) * 1.0, nondiff=(2, 3, 4))
