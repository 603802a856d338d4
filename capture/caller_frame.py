"""The differentiated function's caller, as the program sees it.

Natively ``f(x)`` is called from the user's line; under ``grad(f)(x)`` it is called from
framead's frames (framead/tracing.py). Code in ``f`` that looks at its caller
(``warnings.warn(..., stacklevel=2)``, ``logging`` with ``stacklevel=2``,
``sys._getframe(1)``, ``inspect.stack()[1]``) would see framead. So ``f`` is called from a
*trampoline*: a one-line function whose code object carries the user's caller's
``co_filename``, ``co_name``, ``co_qualname`` and line (every instruction on that line), run
with the caller's globals (its module name, ``__warningregistry__``). Its frame is the one
frame walkers find above ``f``: the file, line, function name and module of the user's line
that called ``grad(f)(x)`` (the nearest frame above framead's own). Its locals are the
trampoline's, not the caller's; walks past it reach framead's frames.

The trampoline runs uninstrumented (``session.EAGER_CODES``), is left out of tracebacks
(``sourceloc.strip_framead_frames``) and of recorded source locations' caller chains
(``sourceloc.resolve_where``); it is recognised by its argument names
(``sourceloc.is_trampoline``). One code object per (caller code object, instruction),
cached with its function (rebuilt when the caller's globals differ); a call costs a short
frame walk and a dict look-up, found before the capture's session starts. Limits: its
``f_locals``, column positions and ``co_firstlineno`` are not the caller's; a stacklevel past
the caller reaches framead's frames; tracers and profilers see its call (under the caller's
file and name) besides framead's own.

Used wherever framead calls the user's function: captures (framead/tracing.py), vmap's
per-example loop (framead/batching.py), check_grads' native and finite-difference calls
(framead/check.py), ``@framead.eager`` outside a capture (framead/eager_api.py) and inside one
(capture/eager.py), ``framead.use`` engines (framead/engines/wrapper.py sets the caller; the
engines call ``fn`` through ``engines.common.run_fn``), ``to_torch``/``to_jax``
(framead/export.py) and ``framead.implicit``'s ``solve`` (framead/implicit.py).
"""

from __future__ import annotations

import types
import weakref
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any

import numpy as np

from . import _evalframe as C
from . import session
from .sourceloc import (
    TRAMPOLINE_LOCS,
    TRAMPOLINE_VARNAMES,
    _file_cache,
    is_framead_file,
    is_trampoline,
)

MAX_TRAMPOLINES = 512  # cached code objects (then all forgotten at once)


_SOURCE = "def t({0}, {1}, {2}, {3}): return {0}({1}, *{2}, **{3})".format(
    *TRAMPOLINE_VARNAMES)  # one line: co_firstlineno alone sets the line of every instruction


_TEMPLATE: CodeType = next(c for c in compile(_SOURCE, "<framead trampoline>", "exec").co_consts
                           if isinstance(c, CodeType))
assert _TEMPLATE.co_varnames == TRAMPOLINE_VARNAMES
assert {line for _, _, line in _TEMPLATE.co_lines() if line is not None} == {
    _TEMPLATE.co_firstlineno}

# (id(caller code), f_lasti[, the caller's SourceLoc for a C function f]) -> [weak reference
# to the caller code, trampoline code, its function with the globals it last ran with]
_codes: dict[tuple, list] = {}
_C_FUNCTIONS = frozenset((types.BuiltinFunctionType, types.MethodDescriptorType,
                          types.WrapperDescriptorType, types.MethodWrapperType, np.ufunc))


def _direct(call: Callable, f: Callable, args: Any, kwargs: Any) -> Any:
    """No program frame above framead's (grad called from framead's own code)."""
    return call(f, *args, **kwargs)


def trampoline(frame: FrameType | None, f: object = None) -> Callable:
    """A function ``t`` such that ``t(call, f, args, kwargs)`` runs ``call(f, *args,
    **kwargs)`` from a frame showing the nearest program frame at or above ``frame``
    (framead's frames skipped): its file, line, function name and globals. For a C function
    ``f`` (what is recorded at the call itself is located at the trampoline) one per caller
    chain, whose SourceLoc, callers included, its nodes get (``sourceloc.TRAMPOLINE_LOCS``)."""
    known = _file_cache  # (is_framead_file's answers: a look-up, not a call)
    while frame is not None:
        code = frame.f_code
        own = known.get(code.co_filename)
        if not (is_framead_file(code.co_filename) if own is None else own):
            break
        frame = frame.f_back
    if frame is None:
        return _direct
    key: tuple = (id(code), frame.f_lasti)
    if type(f) in _C_FUNCTIONS:
        key = (*key, C.where(frame).loc)
    hit = _codes.get(key)
    if hit is None or hit[0]() is not code:
        hit = _make(code, frame, key)
    fn = hit[2]
    if fn.__globals__ is not frame.f_globals:  # (exec'd code: one code, several globals)
        fn = hit[2] = types.FunctionType(hit[1], frame.f_globals)
    return fn


def _make(code: CodeType, frame: FrameType, key: tuple) -> list:
    if is_trampoline(code):  # grad(grad(f)): the outer trampoline's caller is the caller
        new = code
    else:
        line = frame.f_lineno or code.co_firstlineno or 1
        new = _TEMPLATE.replace(co_filename=code.co_filename, co_name=code.co_name,
                                co_qualname=code.co_qualname, co_firstlineno=line)
    if len(_codes) >= MAX_TRAMPOLINES:
        clear_cache()
    session.EAGER_CODES[id(new)] = new  # run uninstrumented (kept alive there)
    if len(key) > 2 and new is not code:
        TRAMPOLINE_LOCS[id(new)] = key[2]
    entry = _codes[key] = [weakref.ref(code), new, types.FunctionType(new, frame.f_globals)]
    return entry


def clear_cache() -> None:
    """Forget the trampolines (a running one keeps its code object)."""
    for _, new, _ in list(_codes.values()):  # (a copy: other threads may add meanwhile)
        session.EAGER_CODES.pop(id(new), None)
        TRAMPOLINE_LOCS.pop(id(new), None)
    _codes.clear()


__all__ = ["MAX_TRAMPOLINES", "clear_cache", "trampoline"]
