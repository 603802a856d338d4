"""What the built-in engines share: ``fn`` called from its caller's line (``run_fn``), ``fn``
as a function of its traced arguments, cotangents cast to their arguments' kinds, and the
pairing of a cotangent with a tangent."""

from __future__ import annotations

import contextvars
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

# The trampoline (capture/caller_frame.py) of the line that called the ``framead.use`` wrapper,
# set by the wrapper (framead/engines/wrapper.py) around the engine's primal, VJP and JVP.
_CALLER: contextvars.ContextVar = contextvars.ContextVar("framead_engine_caller",
                                                         default=None)


def run_fn(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` called from the wrapped function's caller's line, as natively
    (``warnings.warn(..., stacklevel=2)``, ``sys._getframe(1)`` inside ``fn`` see that line;
    framead code ``fn`` is, e.g. ``framead.vjp``, finds it as its caller)."""
    via = _CALLER.get()
    if via is None:
        return fn(*args, **kwargs)
    return via(operator.call, fn, args, kwargs)


class calling_from:  # noqa: N801 - used as a function: ``with calling_from(via):``
    """``run_fn`` calls from ``via`` (a trampoline, or None) inside the block."""

    __slots__ = ("_token", "_via")

    def __init__(self, via: Callable | None):
        self._via = via

    def __enter__(self) -> None:
        self._token = _CALLER.set(self._via)

    def __exit__(self, *exc: object) -> None:
        _CALLER.reset(self._token)


def substituting(fn: Callable, args: list, wrt: tuple, kwargs: dict) -> Callable:
    """``fn`` as a function of ``args[wrt]`` only (the others fixed), for torch/jax VJPs."""
    def f(*xs):
        a = list(args)
        for i, x in zip(wrt, xs, strict=True):
            a[i] = x
        out = run_fn(fn, *a, **kwargs)
        return tuple(out) if type(out) is list else out
    return f


# Derivative glue an outer capture must record (the engine's VJP inside grad-of-grad or
# hessian): compiled under a file name outside framead's package, so a capture instruments it
# like the user's code and the cotangents keep their link to the outer capture's values.
GLUE_FILE = "<framead.engines: derivative glue>"

_GLUE = """
def cast_cotangent(ct, arg):
    if ct is None:
        return None
    ct = np.asarray(ct)
    if isinstance(arg, np.ndarray):
        dt = arg.dtype
        if dt.kind != "c":
            ct = ct.real
        ct = np.asarray(ct, dtype=np.result_type(dt, np.float16))
        return np.broadcast_to(ct, arg.shape).copy() if ct.shape != arg.shape else ct
    if isinstance(arg, complex | np.complexfloating):
        return type(arg)(complex(ct.reshape(())))
    if isinstance(arg, np.inexact):
        return type(arg)(float(np.real(ct).reshape(())))
    return float(np.real(ct).reshape(()))


def cotangents(args, wrt, cts):
    res = [None] * len(args)
    for i, c in zip(wrt, cts, strict=True):
        res[i] = cast_cotangent(c, args[i])
    return tuple(res)


def pair(g_leaves, t_leaves):
    total = 0.0
    for g, t in zip(g_leaves, t_leaves, strict=True):
        if g is None or t is None:
            continue
        total += float(np.real(np.sum(np.asarray(g) * np.asarray(t))))
    return total
"""


def glue(src: str, **names: Any) -> dict:
    """The functions ``src`` defines, compiled as derivative glue (``GLUE_FILE``) with
    ``names`` (and NumPy as ``np``) as their globals."""
    ns: dict = {"np": np, **names}
    exec(compile(src, GLUE_FILE, "exec"), ns)
    return ns


_ns = glue(_GLUE)
cast_cotangent: Callable[[Any, Any], Any] = _ns["cast_cotangent"]
cast_cotangent.__doc__ = """A cotangent shaped like ``arg`` (float for a float, NumPy scalar
for a NumPy scalar, array otherwise; real for a real argument)."""
cotangents: Callable[[tuple, tuple, Any], tuple] = _ns["cotangents"]
cotangents.__doc__ = """One cotangent per positional argument: ``cts`` (one per argnum in
``wrt``) cast to their arguments, None for the others."""
pair: Callable[[list, list], float] = _ns["pair"]
pair.__doc__ = """``Re(sum(g * t))`` over the leaves (the bilinear pairing of
docs/internals.md s4); None on either side is zero."""
