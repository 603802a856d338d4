"""Shapes and kinds of the values rules see: the leaf helpers of ``framead.rules``.

A rule receives values or ``framead.ir.Meta`` stand-ins (``registry``'s docstring), and returns
cotangents and tangents shaped like what they stand for: ``unbroadcast`` and ``fit`` make them
so, ``fit_tangent`` completes a JVP's result, ``struct_cot``/``fill_zeros`` follow container
arguments, and ``expand_reduced`` undoes a reduction's axes. Imports nothing of the package.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from framead.ir import Meta

# --- shapes and kinds ------------------------------------------------------------------------

def is_inexact(x: Any) -> bool:
    """Float/complex scalar or array, or a Meta standing in for one (what capture traces)."""
    if isinstance(x, Meta):
        return x.dtype is not None and np.dtype(x.dtype).kind in "fc"
    if isinstance(x, float | complex):
        return True
    if isinstance(x, np.ndarray | np.generic):
        return x.dtype.kind in "fc"
    return False


def meta_of(x: Any) -> Meta:
    return x if isinstance(x, Meta) else Meta.of(x)


def shape_of(x: Any) -> tuple[int, ...]:
    """Shape of a value or Meta (works for Python scalars, unlike ``.shape``; a list or tuple
    has the shape NumPy coerces it to)."""
    shape = getattr(x, "shape", None)
    if shape is not None:
        return shape
    return _coerced(x).shape if isinstance(x, list | tuple) else ()


def _coerced(x: list | tuple) -> Any:
    try:
        return np.asarray(x)
    except ValueError:  # ragged: NumPy refuses it too, so no rule receives it as an array
        return np.asarray(0.0)


def sum_to(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` over the axes broadcasting added to ``shape`` (broadcast it if smaller)."""
    g = np.asarray(g)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead > 0:
        g = g.sum(axis=tuple(range(lead)))
    if lead >= 0:
        axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
        if axes:
            g = g.sum(axis=axes, keepdims=True)
    return g if g.shape == shape else np.broadcast_to(g, shape)


def fit(x: Any, meta: Meta) -> Any:
    """``x`` as the kind ``meta`` describes: Python float/complex, NumPy scalar or array; real
    part only for a real target."""
    if meta.dtype is not None and np.iscomplexobj(x) and np.dtype(meta.dtype).kind != "c":
        x = np.real(x)
    kind = meta.kind
    if issubclass(kind, np.generic):
        return np.asarray(x)[()]
    if kind is float:
        return x if type(x) is float else float(x)
    if kind is complex:
        return complex(x)
    if issubclass(kind, np.ndarray):
        return x if isinstance(x, np.ndarray | np.generic) else np.asarray(x)
    return x


def unbroadcast(g: Any, target: Any) -> Any:
    """Cotangent ``g`` (of a broadcast result) summed back to ``target``'s shape and kind.

    ``target`` is the argument or its Meta. A Python float gets a Python float, a NumPy scalar
    a NumPy scalar, an array an array of its shape; a real target gets the real part.
    """
    if type(target) is float and type(g) is float:
        return g
    m = meta_of(target)
    if np.shape(g) != m.shape:
        g = sum_to(g, m.shape)
    return fit(g, m)


def fit_tangent(t: Any, ans: Any) -> Any:
    """A JVP result as a tangent of ``ans``: zeros for None, broadcast to its shape; leaf by
    leaf for a tuple ``ans`` of a rule not declared ``multi`` (``lfilter``'s ``(y, zf)``)."""
    if type(ans) in (tuple, list) and (t is None or type(t) in (tuple, list)):
        return fit_tangent_tree(t, ans)
    if not is_inexact(ans):
        return None
    if t is None:
        return np.zeros_like(ans) if isinstance(ans, np.ndarray) else type(ans)(0)
    m = Meta.of(ans)
    if np.shape(t) != m.shape:
        t = np.broadcast_to(t, m.shape)
    return fit(t, m)


def fit_tangent_tree(t: Any, ans: Any) -> Any:
    """``fit_tangent`` leaf by leaf for a multi-output (nested tuple/list) ``ans``."""
    if isinstance(ans, list | tuple):
        ts = [None] * len(ans) if t is None else t
        items = [fit_tangent_tree(ti, ai) for ti, ai in zip(ts, ans, strict=True)]
        return type(ans)(*items) if hasattr(ans, "_fields") else type(ans)(items)
    return fit_tangent(t, ans)


# --- containers (sum's items, np.array's nested lists) ---------------------------------------

def struct_cot(g: Any, obj: Any) -> Any:
    """Split ``g`` (shaped like ``np.array(obj)``) into obj's nested list/tuple structure."""
    if isinstance(obj, list | tuple):
        return type(obj)(struct_cot(g[i], o) for i, o in enumerate(obj))
    return unbroadcast(g, obj) if is_inexact(obj) else None


def fill_zeros(t: Any, obj: Any) -> Any:
    """Tangent structure ``t`` for container ``obj`` with None leaves replaced by zeros."""
    if isinstance(obj, list | tuple):
        ts = [None] * len(obj) if t is None else t
        return type(obj)(fill_zeros(ti, oi) for ti, oi in zip(ts, obj, strict=True))
    if t is not None:
        return t
    if isinstance(obj, np.ndarray):
        return np.zeros(obj.shape, obj.dtype)
    z = 0 * obj
    return z if z == z else type(z)(0)  # (0 * inf is NaN: a constant's tangent is 0)


def add_tangents(ts: Any) -> Any:
    """Sum of the non-None entries (None when there are none)."""
    out = None
    for t in ts:
        if t is not None:
            out = t if out is None else out + t
    return out


# --- reductions ------------------------------------------------------------------------------

def given(v: Any) -> bool:
    """An optional argument was passed (neither None nor NumPy's ``_NoValue``)."""
    return v is not None and v is not np._NoValue


def where_mask(where: Any, shape: tuple[int, ...]) -> Any:
    """A reduction's ``where=`` broadcast to ``shape``; None when every element counts."""
    return None if not given(where) or where is True else np.broadcast_to(where, shape)


def keepdims_of(keepdims: Any) -> bool:
    return keepdims is not np._NoValue and bool(keepdims)


def normalize_axis(axis: Any, ndim: int) -> tuple[int, ...]:
    """Sorted non-negative axes; None means all."""
    if axis is None or axis is np._NoValue:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    return tuple(sorted(int(a) % max(ndim, 1) for a in axes))


def expand_reduced(g: Any, x: Any, axis: Any = None, keepdims: Any = False) -> np.ndarray:
    """Broadcast the cotangent of a reduction back to the reduced argument's shape (a view)."""
    shape = shape_of(x)
    g = np.asarray(g)
    if not keepdims_of(keepdims):
        axes = normalize_axis(axis, len(shape))
        g = g.reshape(tuple(1 if i in axes else n for i, n in enumerate(shape)))
    return np.broadcast_to(g, shape)


def reduced_size(x: Any, axis: Any) -> int:
    shape = shape_of(x)
    return math.prod(shape[a] for a in normalize_axis(axis, len(shape)))
