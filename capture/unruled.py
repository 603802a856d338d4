"""C callables without a rule that meet traced values: run them as the user's code would,
and report where a gradient is lost (FA101), stored as raw bytes (FA105) or overwritten
(FA104); calls whose rule refuses their arguments are treated alike (``refused_call``). An
eager frame's Tracers among the arguments are given as their objects (as natively), and text
such a call makes of traced values is noted (a parse of it is FA111)."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
from framead.rules.refusals import SeeThrough

from . import _evalframe as C
from .call_kinds import is_raw_storage
from .callables import callable_name, closes_over_traced, holds_traced, is_python_visible
from .native import call_as_user, call_quiet
from .overrides import TRACER_TYPES


def callback_call(rec, fn: Any, args: tuple, kwargs: dict, frame) -> Any:
    """A C function without a rule calls back into Python (``scipy.integrate.quad(f, ...)``).

    The callbacks are passed as they are (their identity is the program's: weak references,
    pickling, Enum and typing machinery, threads) and the call is made as from the user's
    frame. A gradient is lost when traced work happened in the callbacks (nodes recorded
    during the call, or traced values in their closures and defaults) and nothing traced
    came out: that is FA101."""
    start = len(rec.nodes)
    args, kwargs = _arguments(args, kwargs)
    result = C.call_as_user(fn, args, kwargs or None)
    _check_callbacks(rec, fn, args, kwargs, start, result, frame)
    return result


def _check_callbacks(rec, fn: Any, args: tuple, kwargs: dict, start: int, result: Any,
                     frame) -> None:
    if rec.tree_value(result) is None and (
            len(rec.nodes) > start
            or any(closes_over_traced(a) for a in (*args, *kwargs.values()))):
        name = callable_name(fn)
        rec.hazard("FA101", name, frame,
                   f"a Python callback computed with traced values inside {name}, which has "
                   "no framead rule, and its result is not traced: the gradient through it "
                   "is lost. Register a rule (or an implicit/ODE adjoint) for it")


def unknown_call(rec, fn: Any, args: tuple, kwargs: dict, frame, hidden: bool = False) -> Any:
    """A C callable without a rule got traced values: run it, report it, and check whether
    it wrote into a traced array (then that array's new contents become a constant).
    ``hidden``: they were only inside objects, views or iterators of the arguments; a traced
    result then means the call handed them on or computed with them in Python code it
    called (``operator.methodcaller("apply")(obj)``), not a loss."""
    name = callable_name(fn)
    args, kwargs = _arguments(args, kwargs)
    arrays, before = _watch(rec, (*args, *kwargs.values()))
    result = call_as_user(fn, args, kwargs)
    if isinstance(result, str | bytes) or (type(result) in (list, tuple) and result and all(
            isinstance(r, str) for r in result)):  # (json's C encoder: chunks)
        rec.made_text(result if isinstance(result, str | bytes) else "".join(result), frame)
    if is_raw_storage(fn):
        rec.hazard("FA105", name, frame,
                   f"{name} stores a traced value as raw bytes/C numbers, which framead "
                   "cannot follow; values read back from it are constants")
    elif not (hidden and holds_traced(result)):
        rec.hazard("FA101", name, frame,
                   f"call to {name} (no framead rule) touched a traced value; its result is "
                   "treated as constant. Register a rule with framead.rules.register")
    _check_writes(rec, name, arrays, before, frame)
    return result


def _arguments(args: tuple, kwargs: dict | None) -> tuple[tuple, dict]:
    """A C call's arguments with an eager frame's Tracers as their objects (``_objects``)."""
    if not TRACER_TYPES:
        return args, kwargs or {}
    return tuple(_objects(a) for a in args), {k: _objects(v) for k, v in (kwargs or {}).items()}


def _objects(x: Any, depth: int = 0) -> Any:
    """``x`` with an eager frame's Tracers as their objects (what C code given the native
    run's sees: json's encoder checks the float type), in lists and dicts in place (the eager
    frame wraps what it loads from them again), tuples rebuilt; three levels deep."""
    t = type(x)
    if t in TRACER_TYPES:
        return x._fa_obj
    if depth > 2:
        return x
    if t is tuple:
        items = tuple(_objects(i, depth + 1) for i in x)
        return items if any(a is not b for a, b in zip(items, x, strict=True)) else x
    if t is list or t is dict:
        for k, item in list(enumerate(x) if t is list else x.items()):
            if type(item) in TRACER_TYPES or type(item) in (list, tuple, dict):
                new = _objects(item, depth + 1)
                if new is not item:
                    x[k] = new
    return x


def refused_call(rec, name: str, reason: str, fn: Any, args: tuple, kwargs: dict,
                 node_args: tuple, frame) -> Any:
    """A call whose rule refuses its arguments (``Rule.refuses``): as a call with no rule,
    run natively (as the rule-covered call would have run), FA101 with the rule's reason,
    writes into traced arrays (``node_args``, ``kwargs``: ``out=``) made constants. A reason
    that is ``SeeThrough`` runs the function's Python body instrumented instead."""
    if isinstance(reason, SeeThrough) and is_python_visible(fn):
        return call_as_user(fn, args, kwargs)
    arrays, before = _watch(rec, (*node_args, *kwargs.values()))
    result = call_quiet(fn, args, kwargs)
    why = reason if name in reason else f"{name}: {reason}"
    rec.hazard("FA101", name, frame,
               f"{why}: framead ran it without differentiating it; its result is treated "
               "as constant and the gradient through it is lost")
    _check_writes(rec, name, arrays, before, frame)
    return result


def _watch(rec, objs: tuple) -> tuple[list, list]:
    """The traced arrays among ``objs`` and their digests, copy-on-write protected (the call
    may write: the reverse pass reads their old contents)."""
    arrays = [a for a in objs if isinstance(a, np.ndarray) and rec.value_of(a) is not None]
    before = [_digest(a) for a in arrays]
    for a in arrays:
        rec.copy_on_write(a)
    return arrays, before


def _check_writes(rec, name: str, arrays: list, before: list, frame) -> None:
    for a, d in zip(arrays, before, strict=True):
        if _digest(a) != d:
            rec.hazard("FA104", name, frame,
                       f"{name} wrote into a traced array; the gradient through its old "
                       "contents is lost from here on")
            rec.overwrite_with_constant(a, frame)


def _digest(a: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(a).view(np.uint8).reshape(-1))
