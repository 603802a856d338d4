"""An array Tracer's ``.flat``, ``.data``, ``.ctypes`` and attribute stores, as instrumented code.

``Tracer.__getattr__`` hands out its object's attributes as they are, which for these three
lost gradients silently: ``a.flat`` was the real array's ``np.flatiter``, so ``a.flat[0]``,
``for v in a.flat`` and ``a.flat[k] = v`` read and wrote plain numbers no operation recorded
(``np.full(1, y)`` looked broken: its result was right, ``a.flat[0]`` lost it). Here they go
through ``Recorder.get_attr`` as in instrumented code (``.data``/``.ctypes`` of a traced array:
FA105, raw memory) and ``a.flat`` is a ``FlatTracer``: a Tracer of the flatiter whose items are
read (``[k]``, iteration, ``next``) and written (``[k] = v``) by the recorder. Attribute
stores (``a.flat = v``, ``z.imag *= 2.0``, ``a.shape = s``: natively settable; a Tracer's
read-only properties raised AttributeError) go through ``writers.set_attribute`` as in
instrumented code.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from . import _evalframe as C
from .eager_tracer import Tracer, _raw, _register, _wrap, new_tracer, running, user_traceback
from .handlers import _flat_next
from .overrides import TRACER_TYPES
from .session import current_recorder
from .writers import set_attribute

__all__ = ["FlatTracer", "is_tracer"]


class FlatTracer(Tracer):
    """A Tracer of ``a.flat`` (an ``np.flatiter``): an iterator, as the flatiter is."""

    __slots__ = ()

    def __iter__(self):
        return self

    @user_traceback
    def __next__(self):
        it, rec = self._fa_obj, self._fa_rec
        if rec is not current_recorder() or not C.is_enabled():
            return next(it)
        return _wrap(_flat_next(rec, it, sys._getframe(1)), rec)


TRACER_TYPES.add(FlatTracer)


def is_tracer(x: Any) -> bool:
    """Whether ``x`` is a Tracer (a ``FlatTracer`` too)."""
    t = type(x)
    return t is Tracer or t is FlatTracer


def _attr(name: str) -> property:
    @user_traceback
    def get(self: Tracer) -> Any:
        obj, rec = self._fa_obj, current_recorder()
        if rec is None or self._fa_rec is not rec or not C.is_enabled() or \
                not isinstance(obj, np.ndarray):
            return getattr(obj, name)
        out = rec.get_attr(obj, name, sys._getframe(1))
        ext = getattr(running, "extent", None)
        if type(out) is not np.flatiter or ext is None or ext.rec is not rec:
            return out
        return new_tracer(out, ext, FlatTracer)

    get.__name__ = name
    return property(get)


def _setter(name: str) -> Any:
    @user_traceback
    def put(self: Tracer, v: Any) -> None:
        """``a.name = v`` (flat, real, imag: a write into a's buffer; shape, dtype, strides:
        how a reads it), recorded as instrumented code records it (capture/writers.py)."""
        obj, rec = self._fa_obj, current_recorder()
        if rec is None or self._fa_rec is not rec or not C.is_enabled() or \
                not isinstance(obj, np.ndarray):
            setattr(obj, name, _raw(v))
            return
        set_attribute(rec, setattr, (obj, name, _raw(v)), {}, sys._getframe(1))
        if not self._fa_reg:
            _register(self, rec)  # (a constant buffer that now holds traced values)

    put.__name__ = name
    return put


for _name in ("flat", "data", "ctypes"):
    setattr(Tracer, _name, _attr(_name))
# attribute stores (z.imag *= 2.0 stores z.imag; a.shape = s): natively settable
def _plain_getter(name: str) -> Any:
    return lambda self: getattr(self._fa_obj, name)


for _name in ("flat", "real", "imag", "shape", "dtype", "strides"):
    _get = getattr(Tracer, _name, None)
    setattr(Tracer, _name, property(_get.fget if isinstance(_get, property) else
                                    _plain_getter(_name), _setter(_name)))
