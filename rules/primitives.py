"""Internal primitives the recorder emits for mutation and aliasing.

A write ``a[k] = v`` is recorded as ``a@n+1 = setitem(a@n, k, v)``; a write through a view is
recorded on the view and then folded back into its parent with ``view_update``; a view made
where framead could not see how is re-derived from its buffer with ``gather_flat``.
All three are functional (they never mutate their inputs) and linear in the traced inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .shapes import unbroadcast

# ---------------------------------------------------------------- view recipes
# A recipe says how a view is obtained from its parent array:
#   ("getitem", key) | ("attr", name) | ("call", fn, args, kwargs, pos, rule) | ("index", idx)
# ("call": the view is fn(*args[:pos], parent, *args[pos:], **kwargs)).


def apply_view(arr: np.ndarray, recipe: tuple) -> np.ndarray:
    """The view of ``arr`` that ``recipe`` describes (a copy for "index" recipes)."""
    kind = recipe[0]
    if kind == "getitem":
        return arr[recipe[1]]
    if kind == "attr":
        return getattr(arr, recipe[1])
    if kind == "call":
        fn, args, kwargs, pos = recipe[1:5]
        return fn(*args[:pos], arr, *args[pos:], **kwargs)
    if kind == "index":
        return arr.reshape(-1)[recipe[1]]
    raise ValueError(f"unknown view recipe {kind!r}")


def describe_recipe(recipe: tuple) -> str:
    kind = recipe[0]
    if kind == "getitem":
        return f"[{recipe[1]!r}]"
    if kind == "attr":
        return f".{recipe[1]}"
    if kind == "call":
        return f"{getattr(recipe[1], '__name__', recipe[1])}(...)"
    return f"index<{recipe[1].shape}>"


# ---------------------------------------------------------------- functional setitem

def setitem(a: np.ndarray, key: Any, v: Any) -> np.ndarray:
    """``a`` with ``a[key] = v``, as a new array in ``a``'s layout (a replay's later
    reductions then add in the native order, ``ravel('K')`` reads it in the native order)."""
    out = np.array(a, copy=True, order="K")
    out[key] = v
    return out


def is_basic_key(key: Any) -> bool:
    """Basic indexing (ints, slices, ``...``, None): a view, each element at most once. A bool
    (``a[True]``, ``a[..., np.False_]``) is a 0-d mask, advanced indexing: a copy."""
    keys = key if isinstance(key, tuple) else (key,)
    return all(k is None or k is Ellipsis or isinstance(k, slice) or (
        isinstance(k, int | np.integer) and not isinstance(k, bool)) for k in keys)




def _written_mask(shape: tuple, key: Any) -> np.ndarray:
    """Per-written-element weight: 0 where a later duplicate index overwrote it (NumPy's
    assignment with repeated advanced indices keeps the last write)."""
    flat = np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape)[key]
    order = flat.reshape(-1)
    rev = order[::-1]
    _, first_in_rev = np.unique(rev, return_index=True)
    keep = np.zeros(order.size, dtype=bool)
    keep[order.size - 1 - first_in_rev] = True
    return keep.reshape(flat.shape)


def setitem_vjp_a(g, ans, a, key, v):
    out = np.array(g, copy=True, order="C")
    out[key] = 0
    return out


def _tree_shape(v: Any) -> tuple:
    """Shape of a nested list/tuple of numbers (as NumPy would convert it)."""
    if type(v) in (list, tuple):
        return (len(v), *(_tree_shape(v[0]) if len(v) else ()))
    return tuple(getattr(v, "shape", ()))


def setitem_vjp_v(g, ans, a, key, v):
    gv = np.asarray(g)[key]
    if not is_basic_key(key):
        gv = gv * _written_mask(np.shape(g), key)
    if type(v) in (list, tuple):  # a[0:2] = [x, 1.0]: one cotangent per item
        return unbroadcast(gv, np.empty(_tree_shape(v)))
    return unbroadcast(gv, v)


# ---------------------------------------------------------------- view update / gather

def self_overlapping(a: np.ndarray) -> bool:
    """Whether two elements of ``a`` share memory (a zero or overlapping stride: as_strided,
    sliding_window_view, a writeable broadcast_to). Decided from the strides where they nest;
    else from the elements' offsets (True where strides are not whole items)."""
    if 0 in a.shape:
        return False
    ext = a.itemsize
    for s, n in sorted((abs(s), n) for s, n in zip(a.strides, a.shape, strict=True) if n > 1):
        if s < ext:
            break
        ext += s * (n - 1)
    else:
        return False
    item = a.itemsize
    if item == 0 or any(s % item for s in a.strides):
        return True
    offs: np.ndarray = np.zeros((), dtype=np.intp)
    for s, n in zip(a.strides, a.shape, strict=True):
        offs = np.add.outer(offs, np.arange(n, dtype=np.intp) * (s // item))
    offs = offs.reshape(-1)
    offs.sort()  # (ndarray methods only: a capture would record np.unique's Python)
    return bool((offs[1:] == offs[:-1]).any())


def last_writes(idx: np.ndarray) -> np.ndarray:
    """For each position of ``idx`` (flat indices), whether it is the last to write its
    element in ``out.reshape(-1)[idx] = v`` (NumPy's assignment keeps the last in C order)."""
    flat = np.asarray(idx, dtype=np.intp).reshape(-1)
    if flat.size < 2:
        return np.ones(np.shape(idx), dtype=bool)
    pos = np.arange(flat.size, dtype=np.intp)
    last = np.empty(int(flat.max()) + 1, dtype=np.intp)
    last[flat] = pos
    return (last[flat] == pos).reshape(np.shape(idx))


def _view_indices(shape: tuple, recipe: tuple) -> np.ndarray | None:
    """Flat indices into an array of ``shape`` of the elements of its view ``recipe``, where
    that view has elements that share memory (a writeable broadcast_to): None otherwise."""
    if recipe[0] != "call":  # (basic indexing and .T/.real/.imag: each element once)
        return None
    try:
        probe = apply_view(np.empty(shape, dtype=np.int8), recipe)
    except Exception:  # (a function of floats only: not one that broadcasts)
        return None
    if not isinstance(probe, np.ndarray) or not self_overlapping(probe):
        return None
    lin = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.intp).reshape(shape)
    return np.array(apply_view(lin, recipe), copy=True)


def view_update(parent: np.ndarray, child: Any, recipe: tuple) -> np.ndarray:
    """``parent`` after its view ``recipe`` was overwritten with ``child`` (a view whose
    elements share memory: each element keeps the last write in C order)."""
    out = np.array(parent, copy=True, order="C")
    if recipe[0] == "index":
        out.reshape(-1)[recipe[1]] = child
        return _in_layout_of(parent, out)
    idx = _view_indices(out.shape, recipe)
    if idx is not None:
        out.reshape(-1)[idx] = np.broadcast_to(child, idx.shape)
    else:
        apply_view(out, recipe)[...] = child
    return _in_layout_of(parent, out)


def _in_layout_of(parent: Any, out: np.ndarray) -> np.ndarray:
    """``out`` (C order) in ``parent``'s memory layout, as the native write leaves it."""
    if not isinstance(parent, np.ndarray) or parent.flags.c_contiguous:
        return out
    laid = np.empty_like(parent)
    laid[...] = out
    return laid


def view_update_vjp_parent(g, ans, parent, child, recipe):
    out = np.array(g, copy=True, order="C")
    if recipe[0] == "index":
        out.reshape(-1)[recipe[1]] = 0
        return out
    idx = _view_indices(out.shape, recipe)
    if idx is not None:
        out.reshape(-1)[idx] = 0
    else:
        apply_view(out, recipe)[...] = 0
    return out


def view_update_vjp_child(g, ans, parent, child, recipe):
    if recipe == ("attr", "imag"):
        # z = re + 1j*im pairs with a cotangent g as Re(g*dz): d/d(im) is -Im(g)
        return unbroadcast(-np.imag(np.asarray(g)), child)
    g = np.asarray(g)
    idx = recipe[1] if recipe[0] == "index" else _view_indices(g.shape, recipe)
    if idx is not None:  # (an element written through several positions: the last's)
        gv = g.reshape(-1)[idx] * last_writes(idx)
        return unbroadcast(gv, child)
    return unbroadcast(np.array(apply_view(g, recipe), copy=True), child)


def gather_flat(root: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Elements of ``root`` (flat, C order) at ``idx``: a view re-derived from its buffer."""
    return root.reshape(-1)[idx]


def gather_flat_vjp(g, ans, root, idx):
    out = np.zeros(root.size, dtype=np.result_type(g, root.dtype))
    np.add.at(out, idx.reshape(-1), np.asarray(g).reshape(-1))
    return out.reshape(root.shape)


def view_index(root: np.ndarray, view: np.ndarray) -> np.ndarray | None:
    """Flat C-order indices into ``root`` of each element of ``view`` (same dtype views
    only), or None when the view's strides do not line up with root's items."""
    if view.dtype != root.dtype or root.itemsize == 0:
        return None
    item = root.itemsize
    ia, ib = root.__array_interface__, view.__array_interface__
    off = ib["data"][0] - ia["data"][0]
    if off % item or any(s % item for s in root.strides + view.strides):
        return None
    rs = [s // item for s in root.strides]
    lo = sum(min(0, s * (n - 1)) for s, n in zip(rs, root.shape, strict=True))
    hi = sum(max(0, s * (n - 1)) for s, n in zip(rs, root.shape, strict=True))
    mem = np.full(hi - lo + 1, -1, dtype=np.intp)
    sz = mem.itemsize
    lin = np.arange(root.size, dtype=np.intp).reshape(root.shape)
    np.lib.stride_tricks.as_strided(mem[-lo:], root.shape, [s * sz for s in rs])[...] = lin
    vs = [s // item for s in view.strides]
    vstart = off // item - lo
    if view.size:  # (the view's elements must lie inside root's extent: read nothing else)
        vlo = vstart + sum(min(0, s * (n - 1)) for s, n in zip(vs, view.shape, strict=True))
        vhi = vstart + sum(max(0, s * (n - 1)) for s, n in zip(vs, view.shape, strict=True))
        if vlo < 0 or vhi >= mem.size:
            return None
    idx = np.lib.stride_tricks.as_strided(mem[vstart:], view.shape, [s * sz for s in vs])
    idx = np.array(idx, copy=True)
    if idx.size and idx.min() < 0:
        return None
    return idx


def copy_value(x: Any) -> Any:
    """A new object equal to ``x`` (the input of a nested capture)."""
    if isinstance(x, np.ndarray):
        return np.array(x, copy=True)
    return x * 1


def copy_vjp(g: Any, ans: Any, x: Any) -> Any:
    return g


# name -> (function, vjps, saves): capture makes their rules (capture/primitive_rules.py)
PRIMITIVES = {
    "setitem": (setitem, (setitem_vjp_a, None, setitem_vjp_v), {0: (), 2: ()}),
    "view_update": (view_update, (view_update_vjp_parent, view_update_vjp_child, None),
                    {0: (), 1: ()}),
    "gather_flat": (gather_flat, (gather_flat_vjp, None), {0: ()}),
    "copy": (copy_value, (copy_vjp,), {0: ()}),
}
