"""``@framead.eager``: run a function's own code uninstrumented, with traced values wrapped in
Tracers that record through the capture's recorder (the eager fallback, capture/eager.py)."""

from __future__ import annotations

import functools
import inspect
import operator
import sys
import types
from collections.abc import Callable
from typing import Any

from .capture import _evalframe as C
from .capture.caller_frame import trampoline
from .capture.eager import mark_eager, run_eager
from .capture.sourceloc import strip_framead_frames

_NOT_PLAIN = (inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
              | inspect.CO_ITERABLE_COROUTINE)


def eager(fn: Callable) -> Callable:
    """Mark ``fn`` so framead never instruments its frames.

    Outside a capture the returned function just calls ``fn``. During a capture each call
    runs ``fn``'s code uninstrumented with the traced values it receives (arguments, also
    inside lists/tuples/dicts, closure cells, globals, and what its calls, attribute, item
    and local loads bring in) wrapped in ``Tracer`` objects, which record every operation
    with the same rules as instrumented code; what it returns is unwrapped, so Tracers never
    reach the caller. Each call is reported as FA201 in ``framead.coverage`` (``strict=True``
    raises there).

    Inside an eager function prefer NumPy functions over ``math`` (``math.exp(t)``,
    ``float(t)`` and ``np.asarray(t)`` cut the gradient and are reported as FA102; a number
    parsed back from text of a traced value is FA111, a lookup by a traced key that finds an
    earlier call's entry is FA110, as in instrumented code).
    Works on plain functions and methods (also under ``staticmethod``/``classmethod``), not on
    generator or async functions.

    >>> @framead.eager
    ... def cube(x):
    ...     return x * x * x
    >>> framead.grad(lambda x: cube(x) + 1.0)(2.0)
    12.0
    """
    if isinstance(fn, staticmethod | classmethod):
        return type(fn)(eager(fn.__func__))
    if getattr(fn, "__framead_eager__", None) is not None:
        return fn
    if not isinstance(fn, types.FunctionType):
        raise TypeError(f"framead.eager expects a Python function, got {type(fn).__name__} "
                        f"{fn!r:.60}")
    code = fn.__code__
    if code.co_flags & _NOT_PLAIN:
        raise TypeError(f"framead.eager cannot run generator or async function "
                        f"{fn.__qualname__} eagerly; mark the plain functions it calls instead")
    mark_eager(code)
    qualname = fn.__qualname__
    is_enabled, call = C.is_enabled, operator.call

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not is_enabled():  # fn's caller: the wrapper's, as without the decorator
            try:
                if args:  # (t(g, a, rest, kw) calls g(a, *rest, **kw): no frame between)
                    return trampoline(sys._getframe(1), fn)(fn, args[0], args[1:], kwargs)
                return trampoline(sys._getframe(1), fn)(call, fn, args, kwargs)
            except BaseException as e:  # (without the wrapper and the trampoline)
                e.__traceback__ = strip_framead_frames(e.__traceback__)
                raise
        return run_eager(fn, qualname, args, kwargs, sys._getframe(1))

    wrapper.__framead_eager__ = fn
    return wrapper
