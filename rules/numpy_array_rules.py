"""Rules for making, converting and reshaping NumPy arrays: ``np.array``/``asarray``,
``concatenate``/``stack`` (container arguments: their cotangent has the argument's nested
list/tuple structure), ``reshape``/``ravel``/``transpose``, ``copy``, ``real``/``imag``, the
conversions (``astype``, ``item``, ``tolist``, NumPy's scalar types called on a value), the
attributes ``T``/``real``/``imag``, and ``zeros``/``ones``/``empty`` (and ``*_like``) as cuts.

A NumPy function given a *list* with traced leaves elsewhere (``np.sum([x, y])``) is recorded
as ``np.asarray(list)`` first, then the function.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .families import cotangent_dtype, defcut, deflinear
from .registry import register, register_attr, register_method
from .shapes import fill_zeros, fit, meta_of, shape_of, struct_cot, unbroadcast

CONSTRUCTOR_CUTS = [np.zeros_like, np.ones_like, np.empty_like, np.zeros, np.ones, np.empty]


# --- reshapes --------------------------------------------------------------------------------

def _order(order):
    if order in (None, "C", "F"):
        return order or "C"
    raise NotImplementedError(f"framead: reshape/ravel with order={order!r} has no rule "
                              f"(use 'C' or 'F')")


# order='A' reads the layout of the argument, which the VJP does not see ('K' NumPy refuses)
_REFUSED_ORDER = {"order": lambda order: order not in (None, "C", "F")}


def _structured(dtype: Any) -> bool | str:
    try:
        return np.dtype(dtype).names is not None and "a structured dtype's records are not " \
            "differentiated"
    except TypeError:
        return False


# np.array([(x0, x1)], dtype=[("p", float), ("v", float)]): records, not numbers
_REFUSED_STRUCTURED = {"dtype": _structured}


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
    out = np.zeros(a.shape, np.result_type(cotangent_dtype(a.dtype), np.asarray(g).dtype))
    if not args:
        out[...] = g
    elif len(args) == 1 and not isinstance(args[0], tuple):
        out.flat[args[0]] = g
    else:
        out[args[0] if len(args) == 1 else args] = g
    return cast_back(fit(out, meta_of(a)), meta_of(a))


# --- conversions -----------------------------------------------------------------------------

def cast_back(ct, m):
    """Cotangent ``ct`` in the precision of ``m``'s (inexact) dtype: its ``cotangent_dtype``,
    float32 for a float16 ``m`` (a float64 cotangent above 65504 or below 6e-8 is finite and
    nonzero in float32, inf or 0 in float16)."""
    dt = m.dtype
    if dt is None or np.dtype(dt).kind not in "fc" or isinstance(ct, float | complex):
        return ct
    dt = cotangent_dtype(dt)
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
    dt = np.result_type(cotangent_dtype(a.dtype), np.asarray(g).dtype)
    return np.asarray(g, dtype=dt).reshape(a.shape)


# --- construction ----------------------------------------------------------------------------


def struct_shape(obj):
    if isinstance(obj, list | tuple):
        return (len(obj),) + (struct_shape(obj[0]) if obj else ())
    return shape_of(obj)


def _array_vjp(g, ans, obj, *args, ndmin=0, **kw):
    if ndmin:
        g = np.reshape(g, struct_shape(obj))
    return struct_cot(g, obj)


def array_jvp(fn):
    def jvp(tangents, ans, obj, *args, **kw):
        return None if tangents[0] is None else fn(fill_zeros(tangents[0], obj), *args, **kw)
    return jvp


def _opaque(a: Any) -> bool:
    """An item NumPy converts through a protocol (an object of the program's with
    ``__array__``): its shape is known only from the result."""
    return not isinstance(a, list | tuple | int | float | complex) and \
        getattr(a, "shape", None) is None


def _refuse_opaque(args: tuple, kwargs: dict) -> str | None:
    arrays = args[0] if args else kwargs.get("arrays")
    if isinstance(arrays, list | tuple) and sum(map(_opaque, arrays)) > 1:
        return "np.concatenate of more than one array-like object: their shapes are unknown"
    return None


def _concat_vjp(g, ans, arrays, axis=0, *rest, **kw):
    g = np.asarray(g)
    if not isinstance(arrays, list | tuple):  # np.concatenate(a): an array's rows
        return np.reshape(g, arrays.shape) if axis is None else \
            np.stack(np.split(g, arrays.shape[0], axis=axis % g.ndim))
    ax = None if axis is None else axis % g.ndim
    sizes = [None if _opaque(a) else math.prod(struct_shape(a)) if ax is None
             else struct_shape(a)[ax] for a in arrays]
    if None in sizes:  # (one array-like, _refuse_opaque: the rest of the result is its own)
        sizes[sizes.index(None)] = (g.size if ax is None else g.shape[ax]) - \
            sum(s for s in sizes if s is not None)
    pieces = np.split(np.ravel(g) if ax is None else g, np.cumsum(sizes)[:-1],
                      axis=0 if ax is None else ax)
    if ax is None:
        pieces = [p.reshape(struct_shape(a)) if not _opaque(a) else p
                  for p, a in zip(pieces, arrays, strict=True)]
    return type(arrays)(None if _opaque(a) else struct_cot(p, a)
                        for p, a in zip(pieces, arrays, strict=True))


def _stack_vjp(g, ans, arrays, axis=0, *rest, **kw):
    g = np.asarray(g)
    ax = axis % g.ndim
    if not isinstance(arrays, list | tuple):  # np.stack(a): an array's rows
        return np.moveaxis(g, ax, 0)
    return type(arrays)(struct_cot(np.take(g, i, axis=ax), a) for i, a in enumerate(arrays))


def no_out(fn):
    def call(arrays, *args, **kw):
        kw.pop("out", None)
        return fn(arrays, *args[:1], **kw)
    return call



def install() -> None:
    for fn in CONSTRUCTOR_CUTS:
        defcut(fn)
    deflinear(np.reshape, _reshape_vjp, aliases={0: 0}, refuses=_REFUSED_ORDER)
    deflinear(np.ravel, _ravel_vjp, saves={0: (0,)}, aliases={0: 0})
    deflinear(np.transpose, _transpose_vjp, aliases={0: 0})
    copy = deflinear(np.copy, _same_vjp)
    deflinear(np.real, _same_vjp, aliases={0: 0})
    deflinear(np.imag, _imag_vjp, aliases={0: 0})
    for fn, alias in ((np.array, {}), (np.asarray, {0: 0}), (np.asanyarray, {0: 0}),
                      (np.ascontiguousarray, {0: 0})):
        register(fn, vjp=(_array_vjp,), jvp=array_jvp(fn), saves={0: ()}, containers=(0,),
                 aliases=alias, refuses=_REFUSED_STRUCTURED)
    register(np.concatenate, vjp=(_concat_vjp,), jvp=array_jvp(no_out(np.concatenate)),
             saves={0: ()}, containers=(0,), refuses=_refuse_opaque)
    register(np.stack, vjp=(_stack_vjp,), jvp=array_jvp(no_out(np.stack)), saves={0: ()},
             containers=(0,))
    nd = np.ndarray
    register_method(nd, "copy", copy)
    deflinear(None, _mreshape_vjp, method=(nd, "reshape"), aliases={0: 0},
              refuses=_REFUSED_ORDER)
    deflinear(None, _mtranspose_vjp, method=(nd, "transpose"), aliases={0: 0})
    deflinear(None, _ravel_vjp, method=(nd, "ravel"), saves={0: (0,)}, aliases={0: 0})
    deflinear(None, _ravel_vjp, method=(nd, "flatten"), saves={0: (0,)})
    deflinear(None, cast_vjp, method=(nd, "astype"), cast=True)
    deflinear(None, _item_vjp, method=(nd, "item"))
    for cls in (nd, np.generic):  # copy.copy(x), copy.deepcopy(x), of arrays and scalars
        for name in ("__copy__", "__deepcopy__"):
            deflinear(None, _same_vjp, method=(cls, name))
    for t in FLOAT_SCALARS:
        deflinear(t, cast_vjp, cast=True)
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

