"""NumPy's array builders called by an eager frame with Tracers inside lists or tuples.

``np.array([y, x])`` (``asarray``, ``asanyarray``, ``ascontiguousarray``, ``asfortranarray``,
``fromiter``, ``np.copyto(dst, [y, x])``) is C code that never asks the items of a list for
``__array_function__``: NumPy converted each Tracer by ``__array__``/``__float__`` (FA102, the
gradient cut) and, for a text dtype (``np.array([y, x], dtype=str)``), raised ValueError where
the native run gives a str array. ``eager_probes.callee`` swaps these builders for a
``Builder``: given Tracers inside its arguments' lists/tuples it calls the builder on their
objects through ``calls.dispatch`` (recorded as instrumented code records it), checks the
result as text_taint's builder check does (FA111: noted text made into numbers) and notes the
text of the traced items a str/bytes array now holds (a parse of it is FA111, as of
``str(y)``). A bare Tracer (``np.asarray(t)``) is left to ``Tracer.__array__`` (FA102: the
documented cut of capture/eager_tracer.py); other calls go to the builder's text_taint stand-in.
NumPy's scalar types (``np.float64(t)``) and a plain array's bound methods (``a.fill(t)``,
``a.put(0, t)``, ``a.dot(t)``: the Tracer where a scalar or an array is expected, converted by
``__float__``/``__array__``, FA102) are routed the same way, a bare Tracer too.
"""

from __future__ import annotations

import sys
import types
from typing import Any

import numpy as np

from framead.ir import flatten_tree

from . import _evalframe as C
from . import calls, session
from .overrides import TRACER_TYPES
from .sourceloc import strip_framead_frames
from .text_taint import check_parse, stand_in

__all__ = ["BUILT", "METHOD_NAMES", "SCALARS", "Builder", "method", "store", "store_slice",
           "swaps"]

BUILT: tuple[Any, ...] = (np.array, np.asarray, np.asanyarray, np.ascontiguousarray,
                          np.asfortranarray, np.fromiter, np.copyto)
# NumPy's scalar types: np.float64(t) converted the Tracer by __float__ (FA102)
SCALARS: tuple[Any, ...] = (np.float64, np.float32, np.float16, np.longdouble, np.complex128,
                            np.complex64)
# ndarray methods whose method-style loads (3.11/3.12) an eager frame probes, beside
# text_taint.READER_NAMES' fill/put/astype (3.13 probes every call): a plain array's bound
# method given a Tracer converted it by __array__/__float__ (FA102)
METHOD_NAMES = frozenset({"dot", "setfield", "clip", "choose", "searchsorted"})
_MAX_DEPTH = 8  # (how deep in lists/tuples Tracers are looked for)


def _nested(x: Any, depth: int = 0) -> bool:
    """Whether a Tracer is among the items of the list/tuple ``x`` (at any depth)."""
    t = type(x)
    if not (t is list or t is tuple) or depth > _MAX_DEPTH:
        return False
    return any(type(i) in TRACER_TYPES or _nested(i, depth + 1) for i in x)


def _tracers(x: Any, depth: int = 0) -> list:
    """The Tracers among ``x``'s items (lists, tuples, dicts: ``(args, kwargs)``)."""
    if type(x) in TRACER_TYPES:
        return [x]
    if depth > _MAX_DEPTH + 2 or type(x) not in (list, tuple, dict):
        return []
    return [t for i in (x.values() if type(x) is dict else x) for t in _tracers(i, depth + 1)]


def _raw(x: Any) -> Any:
    t = type(x)
    if t in TRACER_TYPES:
        return x._fa_obj
    if t is list or t is tuple:
        return t(_raw(i) for i in x)
    return x


def _objects(fn: Any, args: tuple, kwargs: dict) -> bool:
    """Whether ``fn`` makes or writes an object array: one holding the Tracers, whose
    operations record, not their objects (an object array is no Tracer: what NumPy's C code
    does with the numbers in it is not seen)."""
    bound = isinstance(getattr(fn, "__self__", None), np.ndarray)
    if fn is np.copyto or bound or type(fn) is types.MethodDescriptorType:
        dst = fn.__self__ if bound else args[0] if args else kwargs.get("dst", kwargs.get("self"))
        return isinstance(dst, np.ndarray) and dst.dtype == object
    dtype = kwargs.get("dtype", args[1] if len(args) > 1 and fn in BUILT else None)
    try:
        return dtype is not None and np.dtype(dtype) == object
    except TypeError:
        return False


class Builder:
    """A builder as an eager frame calls it (see module doc); ``inner``: what it was swapped
    for before (text_taint's stand-in)."""

    __slots__ = ("fn", "inner", "bare")

    def __init__(self, fn: Any, inner: Any, bare: bool = False):
        self.fn = fn
        self.inner = inner
        self.bare = bare  # (a bare Tracer argument is routed too: a.fill(t), np.float64(t))

    def _routed(self, x: Any) -> bool:
        t = type(x)
        return (t is list or t is tuple) and _nested(x) or self.bare and t in TRACER_TYPES

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        routed = self._routed
        rec = session.current_recorder() if any(map(routed, args)) or kwargs and any(
            map(routed, kwargs.values())) else None  # (no Tracer: the builder, at once)
        if rec is None or not C.is_enabled():
            try:
                return self.inner(*args, **kwargs)
            except BaseException as e:
                e.__traceback__ = strip_framead_frames(e.__traceback__)
                raise
        frame = sys._getframe(1)
        rargs = tuple(_raw(a) for a in args)
        rkw = {k: _raw(v) for k, v in kwargs.items()}
        try:
            if _objects(self.fn, rargs, rkw):
                return self._objects(args, kwargs, rargs, rkw)
            out = calls.dispatch(rec, self.fn, rargs, rkw, frame)
            if type(out) is np.ndarray and out.dtype == object:
                return self._objects(args, kwargs, rargs, rkw)
        except BaseException as e:
            e.__traceback__ = strip_framead_frames(e.__traceback__)
            raise
        check_parse(rec, self.fn, rargs, rkw, frame, out)
        made = getattr(self.fn, "__self__", None) if self.bare and self.fn not in SCALARS \
            else out  # (a bound method's array; ndarray's own, np.copyto: their first)
        if (self.fn is np.copyto or type(self.fn) is types.MethodDescriptorType) and rargs:
            made = rargs[0]
        if isinstance(made, np.ndarray) and made.dtype.kind in "US":
            texts = [str(v) for v in flatten_tree((rargs, rkw))[0]
                     if rec.tree_value(v) is not None]
            if texts:  # (the text of each traced item the array holds now)
                rec.made_text(" ".join(texts), frame)
        return out

    def _objects(self, args: tuple, kwargs: dict, rargs: tuple, rkw: dict) -> Any:
        """An object array (see ``_objects``) holding the Tracers themselves: made of their
        objects, each put back where it is (NumPy's own run on the Tracers asks each one for
        ``__array__``: a cut reported on values it then stores whole); where one is not found
        there (a 0-d array taken apart), or for a writer, NumPy's run on the Tracers."""
        if self.fn not in BUILT or self.fn is np.copyto:
            return self.inner(*args, **kwargs)
        found = {id(t._fa_obj): t for t in _tracers((args, kwargs))}
        out = self.fn(*rargs, **rkw)
        if type(out) is not np.ndarray or out.dtype != object:
            return self.inner(*args, **kwargs)
        for idx in np.ndindex(out.shape):
            t = found.get(id(out[idx]))
            if t is not None and t._fa_obj is out[idx]:
                out[idx] = t
                found.pop(id(t._fa_obj))
        return out if not found else self.inner(*args, **kwargs)

    def __repr__(self) -> str:
        return repr(self.fn)


def swaps(table: dict[int, Any]) -> None:
    """Put a ``Builder`` in ``table`` (id(callable) -> what an eager frame calls) for each
    builder and scalar type, over what the table held for it."""
    for fn in BUILT:
        table[id(fn)] = Builder(fn, table.get(id(fn), fn))
    for fn in SCALARS:
        table[id(fn)] = Builder(fn, table.get(id(fn), fn), bare=True)
    for name in ("fill", "put", "astype"):  # (ndarray's own, text_taint's readers: in table)
        fn = getattr(np.ndarray, name)
        table[id(fn)] = Builder(fn, table.get(id(fn), fn), bare=True)


def method(v: Any) -> Builder | None:
    """What an eager frame calls for ``v``, a builtin (function or method) or a method
    descriptor: an array's bound method, or ndarray's own (3.13 calls ``a.fill(t)`` as
    ``np.ndarray.fill(a, t)``), as a ``Builder`` (over its text_taint stand-in: a str array's
    ``astype`` parses); None for the others."""
    if isinstance(getattr(v, "__self__", None), np.ndarray) or \
            getattr(v, "__objclass__", None) is np.ndarray:
        return Builder(v, stand_in(v), bare=True)
    return None


def store(a: Any, k: Any, v: Any) -> None:
    """``a[k] = v``, an eager frame's STORE_SUBSCR (capture/eager.py): a plain float array
    given Tracers (``v`` one, or lists of them) is written by ``Recorder.set_item`` with their
    objects, as instrumented code writes it (NumPy converted each Tracer by ``__float__``/
    ``__array__``: FA102; the array, traced now, is a Tracer at its next load); the rest, and
    text into numbers (FA111), by ``C.text_setitem``."""
    try:
        if type(a) is np.ndarray and a.dtype.kind in "fc" and type(k) not in TRACER_TYPES and \
                (type(v) in TRACER_TYPES or _nested(v)):
            rec = session.current_recorder()
            if rec is not None and C.is_enabled() and rec is _tracers(v)[0]._fa_rec:
                rec.set_item(a, k, _raw(v), _user(sys._getframe(1)))
                return
        C.text_setitem(a, k, v)
    except BaseException as e:  # (the native store's error, raised at the user's line)
        e.__traceback__ = strip_framead_frames(e.__traceback__)
        raise


def _user(frame: Any) -> Any:
    return frame.f_back if frame.f_code is store_slice.__code__ else frame


def store_slice(a: Any, start: Any, stop: Any, v: Any) -> None:
    """``a[start:stop] = v``, an eager frame's STORE_SLICE (3.12+): as ``store``."""
    try:
        store(a, slice(start, stop), v)
    except BaseException as e:
        e.__traceback__ = strip_framead_frames(e.__traceback__)
        raise
