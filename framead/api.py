"""Public entry points: grad, value_and_grad, trace."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .errors import NonScalarOutputError
from .inputs import check_input as _check_input
from .inputs import copy_arguments as _copy_arguments
from .inputs import grad_like as _grad_like
from .inputs import rebox as _rebox
from .ir import Graph, Value, flatten_tree, format_graph
from .replay import cast_like as _cast_like
from .reverse import Backward


class GradientWarning(UserWarning):
    """A gradient framead computed is probably not what was meant (e.g. identically zero)."""


def _user_facing(fn: Callable) -> Callable:
    """Errors leave framead without its internal frames (FRAMEAD_SHOW_INTERNALS=1 keeps
    them)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any):
        try:
            return fn(*args, **kwargs)
        except BaseException as e:
            if not os.environ.get("FRAMEAD_SHOW_INTERNALS"):
                from .capture.recorder import strip_framead_frames

                e.__traceback__ = strip_framead_frames(e.__traceback__)
            raise

    return wrapper


@contextlib.contextmanager
def paused_gc():
    """The cyclic garbage collector off while framead runs its own reverse pass (never while
    the program runs: its garbage is collected as natively)."""
    import gc

    # the switch is process-wide: with other threads running, their program may turn the
    # collector off or on meanwhile, and framead must not undo that
    was = gc.isenabled() and threading.active_count() == 1
    if was:
        gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _norm_argnums(argnums: int | Sequence[int], nargs: int) -> tuple[int, ...]:
    def bad():
        return TypeError(f"argnums must be an int or a tuple of ints; got {argnums!r} "
                         f"({type(argnums).__name__})")

    if isinstance(argnums, bool | str | bytes):
        raise bad()
    if isinstance(argnums, int | np.integer):
        nums = (int(argnums),)
    else:
        try:
            nums = tuple(argnums)
        except TypeError:
            raise bad() from None
        if not all(isinstance(i, int | np.integer) and not isinstance(i, bool) for i in nums):
            raise bad()
    for i in nums:
        if not -nargs <= i < nargs:
            raise ValueError(f"argnums {argnums!r} out of range for {nargs} arguments")
    return tuple(i % nargs for i in nums)


class Trace:
    """What one capture recorded: the IR, its inputs/outputs, hazards and statistics."""

    def __init__(self, graph: Graph, value: Any, hazards: list, wrt: list[Value]):
        self.graph = graph
        self.value = value
        self.hazards = hazards
        self.wrt = wrt
        self._backward: Backward | None = None

    @property
    def stats(self) -> dict:
        return self.graph.stats

    @property
    def nodes(self):
        return self.graph.nodes

    def backward(self) -> Backward:
        if self._backward is None:
            self._backward = Backward(self.graph, self.wrt)
        return self._backward

    def backward_source(self) -> str:
        return self.backward().source

    def __str__(self) -> str:
        return format_graph(self.graph)

    __repr__ = __str__


_strict_var: contextvars.ContextVar[bool | None] = contextvars.ContextVar("framead_strict",
                                                                        default=None)


@contextlib.contextmanager
def strict(on: bool = True):
    """``with framead.strict():`` every grad/trace inside raises GradientHazard at the first
    hazard (the environment variable FRAMEAD_STRICT=1 does the same process-wide)."""
    token = _strict_var.set(on)
    try:
        yield
    finally:
        _strict_var.reset(token)


def _resolve_strict(flag: bool | None) -> bool:
    if flag is not None:
        return flag
    ctx = _strict_var.get()
    if ctx is not None:
        return ctx
    return os.environ.get("FRAMEAD_STRICT", "") not in ("", "0", "false", "False")


def call_top(f: Callable, args: Sequence, kwargs: dict) -> Any:
    """The differentiated function's own call, made through the capture's call probe: it is
    dispatched exactly as the same call written in user code (a rule for ``f`` itself, C
    callables, partials, see-through Python functions), not as a call from framead's frame.
    Outside a capture (or with it disabled) the probe calls ``f`` natively."""
    from .capture import _evalframe as C

    return C.call(f, *args, **kwargs)


def _capture(f: Callable, args: tuple, kwargs: dict, nums: tuple[int, ...],
             strict_mode: bool | None = None, rec: Any = None) -> Trace:
    from .capture.recorder import Recorder
    from .capture.session import Session, outer_recorder

    outer = outer_recorder()
    if outer is not None:
        return _capture_nested(outer, f, args, kwargs, nums)
    if rec is None:
        rec = Recorder(strict=_resolve_strict(strict_mode))
    for i in nums:
        _check_input(args[i], i, f)  # clear errors before anything runs
    boxed, kwargs = _copy_arguments(list(args), kwargs)
    inputs: dict[int, Value] = {}  # argnums=(0, 0): one input, its gradient given twice
    try:
        arrays: set[int] = set()
        for i in nums:
            if i not in inputs:
                if not isinstance(boxed[i], np.ndarray):
                    boxed[i] = _rebox(args[i], i, f)
                elif id(boxed[i]) in arrays:  # f(x, x), argnums=(0, 1): two inputs, one memory
                    boxed[i] = boxed[i].view(type(boxed[i]))
                arrays.add(id(boxed[i]))
                inputs[i] = rec.new_input(boxed[i])
        wrt = [inputs[i] for i in nums]
        with Session(rec):  # the GC stays on: garbage goes as natively
            out = call_top(f, boxed, kwargs)
        leaves, treedef = flatten_tree(out)
        t = Trace(rec.finish(leaves), out, list(rec.hazards), wrt)
        t.out_treedef, t.nested, t.strict, t.f = treedef, False, rec.strict, f
        return t
    finally:  # a frame the program keeps (sys._getframe()) keeps this one's locals
        rec = boxed = inputs = t = None


def _capture_for_cache(f: Callable, args: tuple, kwargs: dict, nums: tuple[int, ...],
                       strict_mode: bool | None) -> tuple[Trace, Any, list, list]:
    """A capture that also records guards, the functions given traced values and the code
    objects that ran (framead/cache.py)."""
    from .capture import session
    from .capture.recorder import Recorder

    rec = Recorder(strict=_resolve_strict(strict_mode))
    rec.guards, rec.called = [], []
    try:
        with session.watching_codes() as codes:
            t = _capture(f, args, kwargs, nums, strict_mode, rec=rec)
        return t, rec, rec.called, codes
    finally:  # a frame or traceback the program keeps keeps this one's locals
        t = rec = codes = None


# --- higher order: a capture inside another capture -----------------------------------------
# grad(grad(f)), hessian, jacrev(jacfwd(f)): the inner call is recorded by the outer recorder
# itself (its inputs become fresh copies the outer capture sees), and the inner derivative
# (reverse pass or tangent pass) then runs as code the outer capture instruments, rules' VJPs
# included, so the outer capture records the derivative computation and can differentiate it.

def _capture_nested(outer: Any, f: Callable, args: tuple, kwargs: dict,
                    nums: tuple[int, ...]) -> Trace:
    import sys

    for i in nums:
        _check_input(args[i], i, f)
    frame = sys._getframe(0)
    saving = outer.save_all
    outer.save_all = True  # every primal of the inner segment keeps its value (CoW)
    try:
        start = len(outer.nodes)
        boxed = list(args)
        for j, a in enumerate(args):
            if j in nums or isinstance(a, np.ndarray):
                boxed[j] = outer.fresh_copy(a, frame, traced=j in nums)
        wrt = [outer.value_of(boxed[i]) for i in nums]
        out = call_top(f, boxed, kwargs)
        leaves, treedef = flatten_tree(out)
        outs = [outer.value_of(x) if outer.value_of(x) is not None else x for x in leaves]
        graph = Graph(wrt, outer.nodes[start:], outs, {})
    finally:
        outer.save_all = saving
    t = Trace(graph, out, [], wrt)
    t.out_treedef = treedef
    t.nested = True
    return t


def report_opaque(nodes: list, depth: int = 2) -> None:
    """FA107 in the outer capture for nodes whose derivative code it cannot record."""
    import sys

    from .capture.session import outer_recorder, visible_to_outer

    outer = outer_recorder()
    for node in nodes:
        vjp = node.rule.vjp
        fns = [vjp] if callable(vjp) else [fn for fn in (vjp or ()) if fn is not None]
        jvp = getattr(node.rule, "jvp", None)
        first_order = any(isinstance(node.args[i], Value) for i in
                          getattr(node.rule, "first_order", ()) if i < len(node.args))
        if not first_order and all(visible_to_outer(fn) for fn in fns) and (
                jvp is None or visible_to_outer(jvp)):
            continue
        outer.hazard("FA107", node.name, sys._getframe(depth),
                     f"the derivative of {node.name} (at {node.loc.file}:{node.loc.line}) is "
                     "computed by code the outer capture cannot record: higher-order "
                     "derivatives through it are lost")


def _nested_vjp(t: Trace, args: tuple, nums: tuple[int, ...]) -> Callable:
    """The VJP of a nested capture, run as code the outer capture records."""
    from .capture.session import internals_visible
    from .reverse import active_nodes

    bw = t.backward()
    report_opaque(active_nodes(t.graph, t.wrt), 3)

    def f_vjp(seeds: dict[int, Any]) -> tuple:
        with internals_visible():
            grads = bw(seeds) if seeds else [None] * len(nums)
            # (cast_like, framead's differentiable code: the outer capture records it)
            return tuple(_cast_like(g, args[i]) for g, i in zip(grads, nums, strict=True))

    return f_vjp
# --- end higher order ------------------------------------------------------------------------


def trace(f: Callable, *args: Any, argnums: int | Sequence[int] | None = None,
          strict: bool | None = None, **kwargs: Any) -> Trace:
    """Run ``f(*args)`` under capture and return the recorded IR (print it to read it).

    Every float/array positional argument is an input unless ``argnums`` says otherwise.
    """
    if argnums is None:
        argnums = tuple(i for i, a in enumerate(args)
                        if isinstance(a, float | complex | np.inexact)
                        or (isinstance(a, np.ndarray) and a.dtype.kind in "fc"))
    return _capture(f, args, kwargs, _norm_argnums(argnums, len(args)), strict)


def _scalar_seed(out: Any, t: Trace, fname: str) -> Any:
    if isinstance(out, float | np.floating) or (
            isinstance(out, np.ndarray) and out.shape == () and out.dtype.kind == "f"):
        return np.ones((), dtype=np.result_type(out))[()] if not isinstance(out, float) else 1.0
    if isinstance(out, int | np.integer | np.bool_) or (
            isinstance(out, np.ndarray) and out.shape == () and out.dtype.kind in "iub"):
        return _integer_output(out, t, fname)
    where = ""
    v = t.graph.outputs[0]
    if isinstance(v, Value):
        for node in reversed(t.graph.nodes):
            if any(o is v for o in node.outputs):
                where = f" (it was produced by {node.name} at {node.loc.file}:{node.loc.line})"
                break
    desc = type(out).__name__
    if isinstance(out, np.ndarray):
        desc = f"an array of shape {out.shape} and dtype {out.dtype}"
    raise NonScalarOutputError(
        f"grad requires {fname} to return a real scalar (float or 0-d float array); it "
        f"returned {desc}{where}. Reduce it to a scalar (e.g. .sum()), or use "
        "value_and_grad on a scalar loss")


def _integer_output(out: Any, t: Trace, fname: str) -> float:
    """An integer result (``int(x[0]) * int(x[1])``) is piecewise constant in the inputs: its
    derivative is zero, which central differences see too; reported as a cut (FA102)."""
    from .capture.hazards import Hazard
    from .errors import GradientHazard
    from .ir import SourceLoc

    code = getattr(getattr(t, "f", None), "__code__", None)
    loc = (t.graph.nodes[-1].loc if t.graph.nodes else
           SourceLoc(code.co_filename, code.co_firstlineno, code.co_qualname, ())
           if code is not None else SourceLoc("<unknown>", 0, fname, ()))
    h = Hazard("FA102", "result", loc,
               f"{fname} returned an integer ({type(out).__name__} {out!r}): piecewise "
               "constant in its inputs, so its gradient is zero")
    t.hazards.append(h)
    if getattr(t, "strict", False):
        raise GradientHazard(h)
    return 0.0


def vjp(f: Callable, *args: Any, argnums: int | Sequence[int] | None = None,
        strict: bool | None = None, **kwargs: Any) -> tuple[Any, Callable]:
    """``out, f_vjp = vjp(f, *args)``: ``f_vjp(cotangent)`` (shaped like ``out``: a float,
    an array, or tuples/lists of them) returns the cotangents of ``args[argnums]`` (a tuple;
    every float/array argument by default)."""
    if argnums is None:
        argnums = tuple(i for i, a in enumerate(args)
                        if isinstance(a, float | complex | np.inexact)
                        or (isinstance(a, np.ndarray) and a.dtype.kind in "fc"))
    nums = _norm_argnums(argnums, len(args))
    t = _capture(f, args, kwargs, nums, strict)
    nested_vjp = _nested_vjp(t, args, nums) if t.nested else None

    def f_vjp(cotangent: Any) -> tuple:
        cts, _ = flatten_tree(cotangent)
        if len(cts) != len(t.graph.outputs):
            raise ValueError(f"the cotangent has {len(cts)} leaves; {getattr(f, '__name__', f)}"
                             f" returned {len(t.graph.outputs)}")
        seeds: dict[int, Any] = {}
        for v, c in zip(t.graph.outputs, cts, strict=True):
            if isinstance(v, Value) and c is not None:
                seeds[v.id] = c if v.id not in seeds else seeds[v.id] + c
        if nested_vjp is not None:
            return nested_vjp(seeds)
        with paused_gc():
            grads = t.backward()(seeds) if seeds else [None] * len(nums)
        return tuple(_grad_like(g, args[i]) for g, i in zip(grads, nums, strict=True))

    return t.value, f_vjp


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, *,
                   strict: bool | None = None, cache: bool = False) -> Callable:
    """``value_and_grad(f)(*args) -> (f(*args), gradient)``; tuple gradients for tuple
    ``argnums``. ``strict=True`` raises GradientHazard at the first hazard. ``cache=True``
    re-runs the recorded trace on later calls while its guards hold (framead/cache.py)."""
    if cache:
        from .cache import CachedValueAndGrad

        cached = CachedValueAndGrad(f, argnums, strict)
        wrapped = _user_facing(cached)
        wrapped.stats, wrapped.clear = cached.stats, cached.clear
        return wrapped

    @functools.wraps(f)
    @_user_facing
    def wrapper(*args: Any, **kwargs: Any):
        nums = _norm_argnums(argnums, len(args))
        t = _capture(f, args, kwargs, nums, strict)
        fname = getattr(f, "__qualname__", repr(f))
        seed = _scalar_seed(t.value, t, fname)
        v = t.graph.outputs[0]
        if t.nested:  # inside another capture: a derivative it can differentiate again
            out = _nested_vjp(t, args, nums)({v.id: seed} if isinstance(v, Value) else {})
            return t.value, (out[0] if isinstance(argnums, int | np.integer) else out)
        with paused_gc():
            grads = t.backward()({v.id: seed}) if isinstance(v, Value) else [None] * len(nums)
        value, hazards = t.value, t.hazards
        del t
        if all(g is None for g in grads):
            warnings.warn(GradientWarning(
                f"the output of {fname} does not depend on argument(s) {list(nums)} through "
                "any operation framead saw; the gradient is zero"
                + (f". framead reported {len(hazards)} hazard(s) that may explain it: "
                   f"{hazards[0]}" if hazards else "")), stacklevel=2)
        out = tuple(_grad_like(g, args[i]) for g, i in zip(grads, nums, strict=True))
        return value, (out[0] if isinstance(argnums, int | np.integer) else out)

    return wrapper


def grad(f: Callable, argnums: int | Sequence[int] = 0, *,
         strict: bool | None = None, cache: bool = False) -> Callable:
    """``grad(f)(*args)``: the gradient of a scalar-valued ``f`` with respect to
    ``args[argnums]``. ``strict=True`` raises GradientHazard at the first hazard;
    ``cache=True`` re-runs the recorded trace while its guards hold (framead/cache.py)."""
    vg = value_and_grad(f, argnums, strict=strict, cache=cache)

    @functools.wraps(f)
    @_user_facing
    def wrapper(*args: Any, **kwargs: Any):
        return vg(*args, **kwargs)[1]

    if cache:
        wrapper.stats, wrapper.clear = vg.stats, vg.clear
    return wrapper
