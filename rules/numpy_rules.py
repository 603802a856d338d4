"""Rules for NumPy: ufuncs, reductions, products, shape functions, array construction, and
the ndarray methods and attributes that share them.

Ufunc rules are elementwise (the reverse pass unbroadcasts) and honour ``where=``; ``out=`` is
the recorder's business (a write of ``ans`` into ``out``). ``np.array``/``np.asarray`` and
``np.concatenate``/``np.stack`` take container arguments: their cotangent has the argument's
nested list/tuple structure. A NumPy function given a *list* with traced leaves elsewhere
(``np.sum([x, y])``) is recorded as ``np.asarray(list)`` first, then the function.
"""

from __future__ import annotations

import math

import numpy as np

from .helpers import (
    abs_dx,
    abs_jvp,
    add_tangents,
    defbinary,
    defcut,
    deflinear,
    defunary,
    expand_reduced,
    fill_zeros,
    fit,
    keepdims_of,
    meta_of,
    normalize_axis,
    pow_dx,
    pow_dy,
    reduced_size,
    shape_of,
    struct_cot,
    sum_to,
    unbroadcast,
)
from .registry import ANS, register, register_attr, register_method

_LN2, _LN10 = math.log(2.0), math.log(10.0)
_NV = np._NoValue
div = np.divide  # NumPy division: inf, not ZeroDivisionError, for Python floats

UNARY = [
    (np.negative, -1), (np.positive, 1),
    (np.exp, "ans"), (np.exp2, lambda ans: ans * _LN2),
    (np.expm1, lambda ans: ans + 1),
    (np.log, lambda x: div(1, x)), (np.log2, lambda x: div(1 / _LN2, x)),
    (np.log10, lambda x: div(1 / _LN10, x)), (np.log1p, lambda x: div(1, 1 + x)),
    (np.sqrt, lambda ans: div(0.5, ans)), (np.cbrt, lambda ans: div(1, 3 * ans * ans)),
    (np.square, lambda x: 2 * x), (np.reciprocal, lambda ans: -ans * ans),
    (np.sin, lambda x: np.cos(x)), (np.cos, lambda x: -np.sin(x)),
    (np.tan, lambda ans: 1 + ans * ans),
    (np.arcsin, lambda x: div(1, np.sqrt(1 - x * x))),
    (np.arccos, lambda x: div(-1, np.sqrt(1 - x * x))),
    (np.arctan, lambda x: div(1, 1 + x * x)),
    (np.sinh, lambda x: np.cosh(x)), (np.cosh, lambda x: np.sinh(x)),
    (np.tanh, lambda ans: 1 - ans * ans),
    (np.arcsinh, lambda x: div(1, np.sqrt(x * x + 1))),
    (np.arccosh, lambda x: div(1, np.sqrt(x * x - 1))),
    (np.arctanh, lambda x: div(1, 1 - x * x)),
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
    (np.divide, lambda y: div(1, y), lambda ans, y: div(-ans, y)),
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

CUTS = [np.floor, np.ceil, np.trunc, np.rint, np.fix, np.round, np.around,
        np.floor_divide, np.zeros_like, np.ones_like, np.empty_like, np.zeros, np.ones,
        np.empty]

# more elementwise functions: (function, d/dx) and (function, d/dx1, d/dx2)
UNARY_MORE = [(np.sinc, lambda x: _sinc_dx(x))]
# (the sign in copysign, ldexp's integer exponent and nextafter's direction are piecewise
# constant: derivative 0, not "no rule")
BINARY_MORE = [
    (np.copysign, lambda x, y: np.copysign(1.0, x) * np.copysign(1.0, y), 0.0),
    (np.ldexp, lambda y: np.ldexp(1.0, y), None), (np.nextafter, 1, 0.0),
]
# piecewise constant, boolean or integer valued ufuncs (np.isnan & co. are structural)
UFUNC_CUTS = [np.equal, np.not_equal, np.greater, np.greater_equal, np.less, np.less_equal,
              np.logical_and, np.logical_or, np.logical_xor, np.logical_not, np.bitwise_and,
              np.bitwise_or, np.bitwise_xor, np.bitwise_count, np.invert, np.left_shift,
              np.right_shift, np.gcd, np.lcm, np.heaviside, np.spacing,
              np.signbit, np.isnat]


def _sinc_dx(x):
    """(cos(pi x) - sinc(x)) / x, zero at 0."""
    x = np.asarray(x)
    safe = np.where(x == 0, 1.0, x)
    return np.where(x == 0, 0.0, (np.cos(np.pi * safe) - np.sinc(safe)) / safe)


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

# --- reductions ------------------------------------------------------------------------------


def _given(v):
    return v is not None and v is not _NV


def _sum_vjp(g, ans, a, axis=None, dtype=None, out=None, keepdims=_NV, initial=_NV,
             where=_NV):
    ct = expand_reduced(g, a, axis, keepdims)
    if _given(where) and where is not True:
        ct = np.where(where, ct, 0)
    return fit(ct, meta_of(a))


def _mean_vjp(g, ans, a, axis=None, dtype=None, out=None, keepdims=_NV, *, where=_NV):
    ct = expand_reduced(g, a, axis, keepdims)
    if _given(where) and where is not True:
        w = np.broadcast_to(where, shape_of(a))
        n = np.sum(w, axis=normalize_axis(axis, len(shape_of(a))), keepdims=True)
        return fit(np.where(w, ct / n, 0), meta_of(a))
    return fit(ct / reduced_size(a, axis), meta_of(a))


def _prod_others(a, axis, initial, where):
    """Product of every other element along the reduced axes (exclusive cumprods: no
    division, so zeros are handled), times ``initial``."""
    a = np.asarray(a)
    if _given(where) and where is not True:
        a = np.where(where, a, 1)
    axes = normalize_axis(axis, a.ndim)
    keep = [i for i in range(a.ndim) if i not in axes]
    perm = keep + list(axes)
    at = a.transpose(perm)
    flat = at.reshape(at.shape[:len(keep)] + (-1,))
    left, right = np.ones_like(flat), np.ones_like(flat)
    if flat.shape[-1] > 1:
        left[..., 1:] = np.cumprod(flat[..., :-1], axis=-1)
        right[..., :-1] = np.cumprod(flat[..., :0:-1], axis=-1)[..., ::-1]
    others = (left * right).reshape(at.shape).transpose(np.argsort(perm))
    if _given(initial):
        others = others * initial
    if _given(where) and where is not True:
        others = np.where(where, others, 0)
    return others


def _prod_vjp(g, ans, a, axis=None, dtype=None, out=None, keepdims=_NV, initial=_NV,
              where=_NV):
    ct = expand_reduced(g, a, axis, keepdims) * _prod_others(a, axis, initial, where)
    return fit(ct, meta_of(a))


def _prod_jvp(tangents, ans, a, axis=None, dtype=None, out=None, keepdims=_NV, initial=_NV,
              where=_NV):
    t = tangents[0]
    if t is None:
        return None
    return np.sum(t * _prod_others(a, axis, initial, where), axis=axis,
                  keepdims=keepdims_of(keepdims))


def _max_weights(ans, a, axis, keepdims, initial, where):
    """Where ``a`` attains its max/min, split equally between ties."""
    if _given(initial) or _given(where):
        raise NotImplementedError("framead: np.max/np.min with initial= or where= has no rule")
    a = np.asarray(a)
    mask = np.equal(a, expand_reduced(ans, a, axis, keepdims))
    return mask / np.sum(mask, axis=normalize_axis(axis, a.ndim), keepdims=True)


def _max_vjp(g, ans, a, axis=None, out=None, keepdims=_NV, initial=_NV, where=_NV):
    w = _max_weights(ans, a, axis, keepdims, initial, where)
    return fit(expand_reduced(g, a, axis, keepdims) * w, meta_of(a))


def _max_jvp(tangents, ans, a, axis=None, out=None, keepdims=_NV, initial=_NV, where=_NV):
    t = tangents[0]
    if t is None:
        return None
    w = _max_weights(ans, a, axis, keepdims, initial, where)
    return np.sum(t * w, axis=axis, keepdims=keepdims_of(keepdims))


# --- products --------------------------------------------------------------------------------

def dot_da(g, ans, a, b, *rest, **kw):
    am, b, g = meta_of(a), np.asarray(b), np.asarray(g)
    if am.ndim == 0 or b.ndim == 0:
        return unbroadcast(g * b, am)
    if b.ndim == 1:
        return fit(g[..., None] * b, am)
    ga = list(range(am.ndim - 1, g.ndim - 1)) + [g.ndim - 1]
    return fit(np.tensordot(g, b, axes=(ga, list(range(b.ndim - 2)) + [b.ndim - 1])), am)


def dot_db(g, ans, a, b, *rest, **kw):
    bm, a, g = meta_of(b), np.asarray(a), np.asarray(g)
    if a.ndim == 0 or bm.ndim == 0:
        return unbroadcast(g * a, bm)
    lead = list(range(a.ndim - 1))
    ct = np.tensordot(a, g, axes=(lead, lead))
    return fit(np.moveaxis(ct, 0, bm.ndim - 2) if bm.ndim >= 2 else ct, bm)


def _bilinear_jvp(f):
    def jvp(tangents, ans, a, b, *rest, **kw):
        ta, tb = tangents[0], tangents[1] if len(tangents) > 1 else None
        return add_tangents((None if ta is None else f(ta, b), None if tb is None else f(a, tb)))
    return jvp


def _mm_g(ashape, bshape, g):
    g = np.asarray(g)
    if len(bshape) == 1:
        g = g[..., None]
    if len(ashape) == 1:
        g = g[..., None, :]
    return g


def matmul_da(g, ans, a, b, *rest, **kw):
    am, b = meta_of(a), np.asarray(b)
    b2 = b[:, None] if b.ndim == 1 else b
    ct = _mm_g(am.shape, b.shape, g) @ np.swapaxes(b2, -1, -2)
    return fit(sum_to(ct, (1,) + am.shape if am.ndim == 1 else am.shape).reshape(am.shape), am)


def matmul_db(g, ans, a, b, *rest, **kw):
    bm, a = meta_of(b), np.asarray(a)
    a2 = a[None, :] if a.ndim == 1 else a
    ct = np.swapaxes(a2, -1, -2) @ _mm_g(a.shape, bm.shape, g)
    return fit(sum_to(ct, bm.shape + (1,) if bm.ndim == 1 else bm.shape).reshape(bm.shape), bm)


MATMUL = dict(vjp=(matmul_da, matmul_db), jvp=_bilinear_jvp(np.matmul),
              saves={0: (1,), 1: (0,)})

# --- shapes ----------------------------------------------------------------------------------


def _order(order):
    if order in (None, "C", "F"):
        return order or "C"
    raise NotImplementedError(f"framead: reshape/ravel with order={order!r} has no rule "
                              f"(use 'C' or 'F')")


def _reshape_vjp(g, ans, a, shape=None, order="C", **kw):
    return fit(np.reshape(g, shape_of(a), order=_order(order)), meta_of(a))


def _mreshape_vjp(g, ans, a, *shape, order="C", **kw):
    return np.reshape(g, a.shape, order=_order(order))


def _ravel_vjp(g, ans, a, order="C", **kw):
    """Inverse of the flattening; 'K'/'A' depend on ``a``'s memory layout (hence saved)."""
    if order in ("K", "A") and isinstance(a, np.ndarray):
        if order == "A":
            order = "F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"
        else:
            ix = np.empty_like(a, dtype=np.intp)  # a's axis order, positive strides
            ix[...] = np.arange(a.size).reshape(a.shape)
            out = np.empty(a.size, np.asarray(g).dtype)
            out[ix.ravel(order="K")] = np.ravel(g)
            return out.reshape(a.shape)
    return fit(np.reshape(g, shape_of(a), order=_order(order)), meta_of(a))


def _inv_axes(axes, ndim):
    if axes is None or len(axes) == 0:
        return None
    return tuple(np.argsort([int(ax) % ndim for ax in axes]))


def _transpose_vjp(g, ans, a, axes=None):
    return fit(np.transpose(g, _inv_axes(axes, len(shape_of(a)))), meta_of(a))


def _mtranspose_vjp(g, ans, a, *axes):
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], tuple | list | np.ndarray)):
        axes = axes[0]
    return np.transpose(g, _inv_axes(axes, a.ndim))


def _same_vjp(g, ans, a, *rest, **kw):
    return unbroadcast(g, a)


def _imag_vjp(g, ans, a, *rest, **kw):
    return unbroadcast(-1j * g, a)


def _item_vjp(g, ans, a, *args):
    out = np.zeros(a.shape, np.result_type(a.dtype, np.asarray(g).dtype))
    if not args:
        out[...] = g
    elif len(args) == 1 and not isinstance(args[0], tuple):
        out.flat[args[0]] = g
    else:
        out[args[0] if len(args) == 1 else args] = g
    return cast_back(fit(out, meta_of(a)), meta_of(a))


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


def cast_back(ct, m):
    """Cotangent ``ct`` in the precision of ``m``'s (inexact) dtype."""
    dt = m.dtype
    if dt is None or np.dtype(dt).kind not in "fc" or isinstance(ct, float | complex):
        return ct
    if isinstance(ct, np.ndarray):
        return ct.astype(dt, copy=False)
    return np.asarray(ct).astype(dt)[()]


def cast_vjp(g, ans, a, *rest, **kw):
    """A conversion (``np.float32(x)``, ``x.astype(float)``, ``float(x)``): the identity in
    value, so its VJP casts the cotangent back to the argument's shape, kind and precision."""
    m = meta_of(a)
    return cast_back(unbroadcast(g, m), m)


# NumPy's scalar types called as conversions (np.float32(x) is an array for an array x)
FLOAT_SCALARS = (np.float16, np.float32, np.float64, np.longdouble, np.complex64,
                 np.complex128, np.clongdouble)
INT_SCALARS = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
               np.uint64, np.longlong, np.ulonglong)


def _tolist_vjp(g, ans, a):
    return np.asarray(g, dtype=np.result_type(a.dtype, np.asarray(g).dtype)).reshape(a.shape)

# --- construction ----------------------------------------------------------------------------


def _struct_shape(obj):
    if isinstance(obj, list | tuple):
        return (len(obj),) + (_struct_shape(obj[0]) if obj else ())
    return shape_of(obj)


def _array_vjp(g, ans, obj, *args, ndmin=0, **kw):
    if ndmin:
        g = np.reshape(g, _struct_shape(obj))
    return struct_cot(g, obj)


def _array_jvp(fn):
    def jvp(tangents, ans, obj, *args, **kw):
        return None if tangents[0] is None else fn(fill_zeros(tangents[0], obj), *args, **kw)
    return jvp


def _concat_vjp(g, ans, arrays, axis=0, *rest, **kw):
    g = np.asarray(g)
    shapes = [_struct_shape(a) for a in arrays]
    if axis is None:
        cuts = np.cumsum([math.prod(s) for s in shapes])[:-1]
        pieces = [p.reshape(s) for p, s in zip(np.split(g, cuts), shapes, strict=True)]
    else:
        ax = axis % g.ndim
        pieces = np.split(g, np.cumsum([s[ax] for s in shapes])[:-1], axis=ax)
    return type(arrays)(struct_cot(p, a) for p, a in zip(pieces, arrays, strict=True))


def _stack_vjp(g, ans, arrays, axis=0, *rest, **kw):
    g = np.asarray(g)
    ax = axis % g.ndim
    return type(arrays)(struct_cot(np.take(g, i, axis=ax), a) for i, a in enumerate(arrays))


def _no_out(fn):
    def call(arrays, *args, **kw):
        kw.pop("out", None)
        return fn(arrays, *args[:1], **kw)
    return call


REDUCTIONS = [
    (np.sum, _sum_vjp, None, "sum"), (np.mean, _mean_vjp, None, "mean"),
    (np.prod, _prod_vjp, _prod_jvp, "prod"),
    (np.max, _max_vjp, _max_jvp, "max"), (np.min, _max_vjp, _max_jvp, "min"),
    (np.amax, _max_vjp, _max_jvp, None), (np.amin, _max_vjp, _max_jvp, None),
]


def install() -> None:
    for fn, d in UNARY:
        defunary(fn, d)
    for fn, dx, dy in BINARY:
        defbinary(fn, dx, dy)
    for fn in CUTS:
        defcut(fn)
    register(np.sign, vjp=(_sign_vjp,), jvp=_sign_jvp, saves={0: (0,)}, elementwise=True)
    register(np.absolute, vjp=(lambda g, ans, x, **kw: g * abs_dx(x),), jvp=(abs_jvp,),
             saves={0: (0,)}, elementwise=True)
    conj = deflinear(np.conjugate, lambda g, ans, x, **kw: np.conjugate(g), elementwise=True)
    register(np.clip, vjp=(_clip_da, _clip_dlo, _clip_dhi), jvp=_clip_jvp, elementwise=True,
             saves={0: (0, 1, 2), 1: (0, 1, 2), 2: (0, 1, 2)}, argnames=("a", "a_min", "a_max"))
    register(np.where, vjp=(None, lambda g, ans, c, x, y: np.where(c, g, 0),
                            lambda g, ans, c, x, y: np.where(c, 0, g)),
             jvp=_where_jvp, saves={1: (0,), 2: (0,)}, nondiff=(0,), elementwise=True)
    register(np.divmod, **DIVMOD)
    for fn, d in UNARY_MORE:
        defunary(fn, d)
    for fn, dx, dy in BINARY_MORE:
        defbinary(fn, dx, dy)
    for fn in UFUNC_CUTS:
        defcut(fn)
    register(np.angle, vjp=(_angle_vjp,), jvp=_angle_jvp, saves={0: (0,)})
    register(np.frexp, vjp=(_frexp_vjp,), jvp=_frexp_jvp, saves={0: (ANS,)}, multi=True,
             elementwise=True)
    register(np.modf, vjp=(lambda g, ans, x, *a, **k: g[0],), jvp=_modf_jvp, saves={0: ()},
             multi=True, elementwise=True)
    defunary(np.nan_to_num, lambda x: np.isfinite(x) * 1.0, nondiff=(2, 3, 4))
    for fn, vjp, jvp, method in REDUCTIONS:
        saves = {0: (0, ANS)} if fn in (np.max, np.min, np.amax, np.amin) else {0: ()}
        if fn is np.prod:
            saves = {0: (0,)}
        rule = (register(fn, vjp=(vjp,), jvp=jvp, saves=saves) if jvp is not None
                else deflinear(fn, vjp, saves=saves))
        if method:
            register_method(np.ndarray, method, rule)
    dot = register(np.dot, vjp=(dot_da, dot_db), jvp=_bilinear_jvp(np.dot),
                   saves={0: (1,), 1: (0,)})
    register_method(np.ndarray, "dot", dot)
    register(np.matmul, **MATMUL)
    deflinear(np.reshape, _reshape_vjp, aliases={0: 0})
    deflinear(np.ravel, _ravel_vjp, saves={0: (0,)}, aliases={0: 0})
    deflinear(np.transpose, _transpose_vjp, aliases={0: 0})
    copy = deflinear(np.copy, _same_vjp)
    deflinear(np.real, _same_vjp, aliases={0: 0})
    deflinear(np.imag, _imag_vjp, aliases={0: 0})
    for fn, alias in ((np.array, {}), (np.asarray, {0: 0}), (np.asanyarray, {0: 0}),
                      (np.ascontiguousarray, {0: 0})):
        register(fn, vjp=(_array_vjp,), jvp=_array_jvp(fn), saves={0: ()}, containers=(0,),
                 aliases=alias)
    register(np.concatenate, vjp=(_concat_vjp,), jvp=_array_jvp(_no_out(np.concatenate)),
             saves={0: ()}, containers=(0,))
    register(np.stack, vjp=(_stack_vjp,), jvp=_array_jvp(_no_out(np.stack)), saves={0: ()},
             containers=(0,))
    nd = np.ndarray
    register_method(nd, "copy", copy)
    register_method(nd, "conj", conj)
    register_method(nd, "conjugate", conj)
    deflinear(None, _mreshape_vjp, method=(nd, "reshape"), aliases={0: 0})
    deflinear(None, _mtranspose_vjp, method=(nd, "transpose"), aliases={0: 0})
    deflinear(None, _ravel_vjp, method=(nd, "ravel"), saves={0: (0,)}, aliases={0: 0})
    deflinear(None, _ravel_vjp, method=(nd, "flatten"), saves={0: (0,)})
    deflinear(None, cast_vjp, method=(nd, "astype"))
    deflinear(None, _item_vjp, method=(nd, "item"))
    for t in FLOAT_SCALARS:
        deflinear(t, cast_vjp)
    for t in dict.fromkeys(INT_SCALARS):  # longlong is int64 on most platforms
        defcut(t, hazard=f"np.{t.__name__}() of a traced value has zero derivative: the "
                         "gradient stops here")
    defcut(np.bool_)
    deflinear(None, _tolist_vjp, method=(nd, "tolist"), multi=True)
    register_attr(nd, "T", vjp=(lambda g, ans, a: np.transpose(g),), jvp=_attr_jvp("T"),
                  saves={0: ()}, aliases={0: 0})
    scalars = (nd, np.generic, float, complex)
    register_attr(scalars, "real", vjp=(_same_vjp,), jvp=_attr_jvp("real"), saves={0: ()},
                  aliases={0: 0})
    register_attr(scalars, "imag", vjp=(_imag_vjp,), jvp=_attr_jvp("imag"), saves={0: ()},
                  aliases={0: 0})


def _attr_jvp(name):
    def jvp(tangents, ans, a):
        return None if tangents[0] is None else getattr(tangents[0], name)
    return jvp
