"""Functional forms of NumPy's in-place writers (the recorder records these, then folds the
result into the written buffer).

``np.copyto(dst, src, where=m)`` is recorded as ``dst@n+1 = copyto(dst@n, src, m)``; the
same for put / place / putmask / fill_diagonal / ufunc.at / ``a.flat[k] = v``. Each function
here returns a new array and never mutates its inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .registry import register


def _shape(x: Any) -> tuple:
    return tuple(getattr(x, "shape", np.shape(x)))


def _fold_cyclic(gflat: np.ndarray, v: Any) -> Any:
    """Sum a cotangent for ``np.resize(v, n)`` back onto ``v`` (values repeat cyclically)."""
    m = int(np.prod(_shape(v), dtype=np.int64)) or 1
    pos = np.arange(gflat.size) % m
    out = np.bincount(pos, weights=gflat.real, minlength=m)
    if np.iscomplexobj(gflat):
        out = out + 1j * np.bincount(pos, weights=gflat.imag, minlength=m)
    out = out.reshape(_shape(v))
    return out if _shape(v) else out[()]


def _last_write_mask(idx: np.ndarray) -> np.ndarray:
    """True at the last occurrence of each index (later writes win)."""
    rev = idx[::-1]
    _, first = np.unique(rev, return_index=True)
    keep = np.zeros(idx.size, dtype=bool)
    keep[idx.size - 1 - first] = True
    return keep


# ---------------------------------------------------------------- copyto


def copyto(dst: np.ndarray, src: Any, casting: str = "same_kind",
           where: Any = True) -> np.ndarray:
    out = np.array(dst, copy=True, order="C")
    np.copyto(out, src, casting="unsafe", where=where)
    return out


def _copyto_vjp_dst(g, ans, dst, src, casting="same_kind", where=True):
    return np.where(np.broadcast_to(where, _shape(g)), 0.0, g).astype(np.result_type(g))


def _copyto_vjp_src(g, ans, dst, src, casting="same_kind", where=True):
    gs = np.where(np.broadcast_to(where, _shape(g)), g, 0.0)
    shape = _shape(src)
    while gs.ndim > len(shape):
        gs = gs.sum(axis=0)
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and gs.shape[i] != 1)
    gs = gs.sum(axis=axes, keepdims=True) if axes else gs
    return gs if shape else gs[()]


# ---------------------------------------------------------------- put / place / putmask


def _put_indices(a_size: int, ind: Any, mode: str) -> np.ndarray:
    idx = np.asarray(ind, dtype=np.intp).reshape(-1)
    if mode == "wrap":
        return idx % a_size
    if mode == "clip":
        return np.clip(idx, 0, a_size - 1)
    return np.where(idx < 0, idx + a_size, idx)


def put(a: np.ndarray, ind: Any, v: Any, mode: str = "raise") -> np.ndarray:
    out = np.array(a, copy=True, order="C")
    np.put(out, ind, v, mode=mode)
    return out


def _put_vjp_a(g, ans, a, ind, v, mode="raise"):
    out = np.array(g, copy=True, order="C")
    out.reshape(-1)[_put_indices(out.size, ind, mode)] = 0
    return out


def _put_vjp_v(g, ans, a, ind, v, mode="raise"):
    g = np.asarray(g)
    idx = _put_indices(g.size, ind, mode)
    gv = g.reshape(-1)[idx] * _last_write_mask(idx)
    return _fold_cyclic(gv, v)


def place(arr: np.ndarray, mask: Any, vals: Any) -> np.ndarray:
    out = np.array(arr, copy=True, order="C")
    np.place(out, mask, vals)
    return out


def _place_vjp_arr(g, ans, arr, mask, vals):
    return np.where(np.asarray(mask, dtype=bool), 0.0, g).astype(np.result_type(g))


def _place_vjp_vals(g, ans, arr, mask, vals):
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():  # nothing placed: no dependence (a zero would turn 0 * inf into nan)
        return None
    return _fold_cyclic(np.asarray(g)[mask], vals)


def putmask(a: np.ndarray, mask: Any, values: Any) -> np.ndarray:
    out = np.array(a, copy=True, order="C")
    np.putmask(out, mask, values)
    return out


def _putmask_vjp_a(g, ans, a, mask, values):
    return np.where(np.broadcast_to(np.asarray(mask, dtype=bool), _shape(g)), 0.0,
                    g).astype(np.result_type(g))


def _putmask_vjp_values(g, ans, a, mask, values):
    g = np.asarray(g).reshape(-1)
    m = np.broadcast_to(np.asarray(mask, dtype=bool), _shape(a)).reshape(-1)
    n = int(np.prod(_shape(values), dtype=np.int64)) or 1
    pos = np.flatnonzero(m)
    out = np.bincount(pos % n, weights=g[pos].real, minlength=n)
    if np.iscomplexobj(g):  # (a complex array written: bincount weighs reals only)
        out = out + 1j * np.bincount(pos % n, weights=g[pos].imag, minlength=n)
    out = out.reshape(_shape(values))
    return out if _shape(values) else out[()]


# ---------------------------------------------------------------- ufunc.at (linear ones)


def add_at(a: np.ndarray, indices: Any, b: Any = None) -> np.ndarray:
    out = np.array(a, copy=True, order="C")
    np.add.at(out, indices, b)
    return out


def subtract_at(a: np.ndarray, indices: Any, b: Any = None) -> np.ndarray:
    out = np.array(a, copy=True, order="C")
    np.subtract.at(out, indices, b)
    return out


def _at_vjp_a(g, ans, a, indices, b=None):
    return g


def _at_vjp_b(sign):
    def vjp(g, ans, a, indices, b=None):
        gb = sign * np.asarray(g)[indices]
        shape = _shape(b)
        while gb.ndim > len(shape):
            gb = gb.sum(axis=0)
        axes = tuple(i for i, n in enumerate(shape) if n == 1 and gb.shape[i] != 1)
        gb = gb.sum(axis=axes, keepdims=True) if axes else gb
        return gb if shape else gb[()]
    return vjp


# ---------------------------------------------------------------- a.flat[k] (read and write)


def flat_getitem(a: np.ndarray, key: Any) -> Any:
    return a.flat[key]


def _flat_getitem_vjp(g, ans, a, key):
    out = np.zeros(_shape(a), dtype=np.result_type(g))
    np.add.at(out.reshape(-1), np.arange(out.size)[key], g)
    return out


def flat_setitem(a: np.ndarray, key: Any, v: Any) -> np.ndarray:
    out = np.array(a, copy=True, order="C")
    out.flat[key] = v
    return out


def _flat_setitem_vjp_a(g, ans, a, key, v):
    out = np.array(g, copy=True, order="C")
    out.flat[key] = 0
    return out


def _flat_setitem_vjp_v(g, ans, a, key, v):
    g = np.asarray(g)
    idx = np.atleast_1d(np.arange(g.size)[key]).reshape(-1)
    gv = g.reshape(-1)[idx] * _last_write_mask(idx)
    return _fold_cyclic(gv, v)


def _linear_jvp(fn, traced: tuple[int, ...]):
    """These writers are linear in their traced arguments jointly: the JVP is the same write
    applied to the tangents (zeros where an argument has none)."""
    def jvp(tangents, ans, *args, **kwargs):
        if all(tangents[i] is None for i in traced if i < len(tangents)):
            return None
        targs = list(args)
        for i in traced:
            t = tangents[i] if i < len(tangents) else None
            if t is None:  # (a complex argument's zero is complex: its imaginary part kept)
                a = np.asarray(args[i])
                t = np.zeros(a.shape, a.dtype if a.dtype.kind in "fc" else float)
            targs[i] = t
        return fn(*targs, **kwargs)
    return jvp


def install() -> None:
    table = [
        (copyto, (_copyto_vjp_dst, _copyto_vjp_src, None, None)),
        (put, (_put_vjp_a, None, _put_vjp_v, None)),
        (place, (_place_vjp_arr, None, _place_vjp_vals)),
        (putmask, (_putmask_vjp_a, None, _putmask_vjp_values)),
        (add_at, (_at_vjp_a, None, _at_vjp_b(1.0))),
        (subtract_at, (_at_vjp_a, None, _at_vjp_b(-1.0))),
        (flat_setitem, (_flat_setitem_vjp_a, None, _flat_setitem_vjp_v)),
    ]
    for fn, vjps in table:
        traced = tuple(i for i, f in enumerate(vjps) if f is not None)
        register(fn, vjp=vjps, jvp=_linear_jvp(fn, traced), saves={i: () for i in traced},
                 name=f"framead.{fn.__name__}")
    register(flat_getitem, vjp=(_flat_getitem_vjp, None), saves={0: ()},
             jvp=_linear_jvp(flat_getitem, (0,)), name="framead.flat_getitem")
