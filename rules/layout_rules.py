"""Primitives for in-place changes of how an array reads its memory, which capture records
as functional nodes: ``a.dtype = complex`` on a float array (``reinterpret``: the pairs of
floats along the last axis read as complex numbers, or back) and ``a.resize(shape)``
(``resize_into``: the old values in C order, then zeros). Both are linear; their rules are
made by capture (capture/values.py, capture/writers.py), not looked up by a callable."""

from __future__ import annotations

from typing import Any

import numpy as np

from .registry import make_rule


def pairs_dtype(old: np.dtype, new: np.dtype) -> bool:
    """Whether reading ``old``'s memory as ``new`` is a float <-> complex reinterpretation of
    the same precision (float64 <-> complex128 ...): a linear bijection of the values."""
    if not (old.isnative and new.isnative):
        return False
    if old.kind == "f" and new.kind == "c":
        return new.itemsize == 2 * old.itemsize and np.dtype(new.char.lower()) == old
    if old.kind == "c" and new.kind == "f":
        return old.itemsize == 2 * new.itemsize and np.dtype(old.char.lower()) == new
    return False


def reinterpret(a: np.ndarray, dtype: Any) -> np.ndarray:
    """``a``'s values (a float array: pairs along its last axis; a complex one: real and
    imaginary parts) read as ``dtype``, as ``a.dtype = dtype`` does in place."""
    return np.ascontiguousarray(a).view(dtype)


def reinterpret_vjp(g: Any, ans: Any, a: Any, dtype: Any) -> Any:
    """Transpose of the JVP under ``<u, v> = Re(sum(u * v))`` (JAX's convention): the real
    part of ``x + i y`` has cotangent ``Re g``, the imaginary part ``-Im g``."""
    if np.dtype(dtype).kind == "c":  # floats -> complex
        return np.stack([np.real(g), -np.imag(g)], axis=-1).reshape(np.shape(a))
    g2 = np.reshape(np.real(g), (*np.shape(a), 2))
    return g2[..., 0] - 1j * g2[..., 1]


def reinterpret_jvp(tangents: tuple, ans: Any, a: Any, dtype: Any) -> Any:
    t = tangents[0]
    if t is None:
        return None
    if np.dtype(dtype).kind == "c":
        t2 = np.reshape(np.real(t), (*np.shape(ans), 2))
        return t2[..., 0] + 1j * t2[..., 1]
    return np.stack([np.real(t), np.imag(t)], axis=-1).reshape(np.shape(ans))


def resize_into(a: np.ndarray, shape: tuple) -> np.ndarray:
    """What ``a.resize(shape)`` leaves in ``a``: its values in C order, cut or followed by
    zeros, in the new shape."""
    flat = np.reshape(a, -1)
    n = int(np.prod(shape, dtype=np.int64))
    if n <= flat.size:
        return np.reshape(flat[:n], shape)
    return np.reshape(np.concatenate([flat, np.zeros(n - flat.size, flat.dtype)]), shape)


def resize_vjp(g: Any, ans: Any, a: Any, shape: tuple) -> Any:
    """The kept values' cotangents; the cut ones get none."""
    flat = np.reshape(g, -1)
    size = int(np.prod(np.shape(a), dtype=np.int64))
    if size <= flat.shape[0]:
        return np.reshape(flat[:size], np.shape(a))
    pad = np.zeros(size - flat.shape[0], np.result_type(flat))
    return np.reshape(np.concatenate([flat, pad]), np.shape(a))


def resize_jvp(tangents: tuple, ans: Any, a: Any, shape: tuple) -> Any:
    t = tangents[0]
    return None if t is None else resize_into(np.asarray(t), shape)


def make_rules() -> tuple[Any, Any]:
    """The (reinterpret, resize) rules; they save nothing (linear, shapes from ``Meta``)."""
    re = make_rule(reinterpret, vjp=(reinterpret_vjp,), jvp=reinterpret_jvp, saves={0: ()},
                   nondiff=(1,), name="ndarray.dtype=")
    rs = make_rule(resize_into, vjp=(resize_vjp,), jvp=resize_jvp, saves={0: ()},
                   nondiff=(1,), name="ndarray.resize")
    return re, rs
