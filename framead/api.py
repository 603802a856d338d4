"""Public entry points: grad, value_and_grad, trace."""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import tree
from .errors import NonScalarOutputError
from .inputs import Differentiated, default_argnums
from .inputs import copy_arguments as _copy_arguments
from .ir import Graph, Value, format_graph
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
    hazard (the environment variable FRAMEAD_STRICT=1 does the same process-wide).

    >>> with framead.strict():
    ...     framead.grad(lambda x: int(x) * x)(2.5)
    Traceback (most recent call last):
    framead.errors.GradientHazard: FA102 [gradient-cut] at ...
    """
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
    spec = Differentiated(args, nums, f)  # clear errors before anything runs
    boxed, kwargs, copies = _copy_arguments(list(args), kwargs, spec.arrays())
    try:
        inputs = spec.box(boxed, copies, rec.new_input)
        wrt = [v for i in nums for v in inputs[i]]
        with Session(rec):  # the GC stays on: garbage goes as natively
            out = call_top(f, boxed, kwargs)
        leaves, treedef = tree.flatten(out)
        t = Trace(rec.finish(leaves), out, list(rec.hazards), wrt)
        t.out_treedef, t.nested, t.strict, t.f, t.spec = treedef, False, rec.strict, f, spec
        return t
    finally:  # a frame the program keeps (sys._getframe()) keeps this one's locals
        rec = boxed = inputs = t = copies = None


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

    spec = Differentiated(args, nums, f)
    frame = sys._getframe(0)
    saving = outer.save_all
    outer.save_all = True  # every primal of the inner segment keeps its value (CoW)
    try:
        start = len(outer.nodes)
        # fresh copies of every array the inner program could write, as at the top level
        # (also inside the containers of other arguments and keyword arguments, which are
        # rebuilt): one copy per array object, the differentiated ones traced
        made: dict[int, Any] = {}

        def fresh(a: Any, traced: bool) -> Any:
            y = outer.fresh_copy(a, frame, traced=traced)
            if isinstance(a, np.ndarray):
                made.setdefault(id(a), y)
            return y

        def copy_array(a: np.ndarray) -> np.ndarray:
            return made[id(a)] if id(a) in made else fresh(a, False)

        boxed = list(args)
        inputs = spec.box(boxed, {}, outer.value_of, fresh)
        others = [j for j in range(len(args)) if j not in spec.trees]
        copied, kwargs, _ = _copy_arguments([args[j] for j in others], kwargs,
                                            copy_array=copy_array)
        for j, a in zip(others, copied, strict=True):
            boxed[j] = a
        wrt = [v for i in nums for v in inputs[i]]
        out = call_top(f, boxed, kwargs)
        leaves, treedef = tree.flatten(out)
        outs = [outer.value_of(x) if outer.value_of(x) is not None else x for x in leaves]
        graph = Graph(wrt, outer.nodes[start:], outs, {})
    finally:
        outer.save_all = saving
    t = Trace(graph, out, [], wrt)
    t.out_treedef, t.spec = treedef, spec
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


def _nested_vjp(t: Trace) -> Callable:
    """The VJP of a nested capture, run as code the outer capture records."""
    from .capture.session import internals_visible
    from .reverse import active_nodes

    bw = t.backward()
    report_opaque(active_nodes(t.graph, t.wrt), 3)

    def f_vjp(seeds: dict[int, Any]) -> tuple:
        with internals_visible():
            grads = bw(seeds) if seeds else [None] * len(t.wrt)
            # (cast_like, framead's differentiable code: the outer capture records it)
            return t.spec.pack(grads, _cast_like)

    return f_vjp
# --- end higher order ------------------------------------------------------------------------


def trace(f: Callable, *args: Any, argnums: int | Sequence[int] | None = None,
          strict: bool | None = None, **kwargs: Any) -> Trace:
    """Run ``f(*args)`` under capture and return the recorded IR (print it to read it).

    Every float/array positional argument (and container of them) is an input unless
    ``argnums`` says otherwise.

    >>> print(framead.trace(lambda x: x * x + 1.0, 3.0))
    graph(%1:float):
      %2:float = operator.mul(%1, %1)   # <doctest ...>:1  print(framead.trace(...))
      %3:float = operator.add(%2, 1.0)  # <doctest ...>:1  print(framead.trace(...))
      return %3
    """
    if argnums is None:
        argnums = default_argnums(args)
    return _capture(f, args, kwargs, _norm_argnums(argnums, len(args)), strict)


def _split_aux(t: Trace, fname: str) -> Any:
    """``has_aux=True``: ``f`` returned ``(output, aux)``; the trace keeps the output (its
    graph outputs pruned to it) and the auxiliary data is returned as the program made it."""
    out = t.value
    if not (isinstance(out, tuple | list) and len(out) == 2):
        raise TypeError(f"has_aux=True requires {fname} to return a pair (output, aux); it "
                        f"returned {_describe(out)}")
    n = t.out_treedef.children[0].num_leaves
    t.graph = dataclasses.replace(t.graph, outputs=t.graph.outputs[:n])
    t.out_treedef, t.value = t.out_treedef.children[0], out[0]
    return out[1]


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    if isinstance(x, tuple | list):
        return f"a {type(x).__name__} of length {len(x)}"
    if isinstance(x, dict):
        return f"a {type(x).__name__} with keys {list(x)}"
    return f"a {type(x).__name__}"


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
        strict: bool | None = None, has_aux: bool = False, **kwargs: Any) -> tuple:
    """``out, f_vjp = vjp(f, *args)``: ``f_vjp(cotangent)`` (shaped like ``out``: any
    container of floats and arrays) returns the cotangents of ``args[argnums]`` (a tuple,
    each shaped like its argument; every argument holding floats by default).
    ``has_aux=True``: ``f`` returns ``(out, aux)`` and ``vjp`` returns ``(out, f_vjp, aux)``.

    >>> out, f_vjp = framead.vjp(lambda p: {"y": p["a"] * p["b"]}, {"a": 2.0, "b": 5.0})
    >>> f_vjp({"y": 1.0})
    ({'a': 5.0, 'b': 2.0},)
    """
    if argnums is None:
        argnums = default_argnums(args)
    nums = _norm_argnums(argnums, len(args))
    t = _capture(f, args, kwargs, nums, strict)
    aux = _split_aux(t, _name(f)) if has_aux else None
    nested_vjp = _nested_vjp(t) if t.nested else None

    def f_vjp(cotangent: Any) -> tuple:
        cts = _cotangent_leaves(t, cotangent, f)
        if not t.nested:  # a gradient that is the seed itself (f = identity) is not the
            # caller's cotangent object: writing into one must not change the other
            cts = [c.copy() if isinstance(c, np.ndarray) else c for c in cts]
        seeds: dict[int, Any] = {}
        for v, c in zip(t.graph.outputs, cts, strict=True):
            if isinstance(v, Value) and c is not None:
                seeds[v.id] = c if v.id not in seeds else seeds[v.id] + c
        if nested_vjp is not None:
            return nested_vjp(seeds)
        with paused_gc():
            grads = t.backward()(seeds) if seeds else [None] * len(t.wrt)
        return t.spec.pack(grads)

    return (t.value, f_vjp, aux) if has_aux else (t.value, f_vjp)


def _cotangent_leaves(t: Trace, cotangent: Any, f: Callable) -> list:
    """The cotangent's leaves, one per output leaf (dicts matched by key; None: zero), each
    shaped like its output leaf (or a scalar, broadcast)."""
    cts = _cotangent_structure(t, cotangent, f)
    for (path, leaf), c in zip(tree.flatten_with_paths(t.value)[0], cts, strict=True):
        if c is None or not tree.differentiable(leaf):
            continue
        where = f"the cotangent{' at ' + path if path else ''}"
        try:
            shape, kind = np.shape(c), np.asarray(c).dtype.kind
        except ValueError:
            shape, kind = None, "O"
        if kind not in "biufc":
            raise ValueError(f"{where} is {_describe(c)}, not a number or an array; "
                             f"{_name(f)} returned {_describe(leaf)} there")
        if shape != np.shape(leaf) and shape != ():
            raise ValueError(f"{where} has shape {shape}; {_name(f)} returned "
                             f"{_describe(leaf)} there")
    return cts


def _cotangent_structure(t: Trace, cotangent: Any, f: Callable) -> list:
    try:
        return t.out_treedef.flatten_up_to(cotangent)
    except ValueError as e:
        cts, ct_treedef = tree.flatten(cotangent)
        if not (_sequences_only(t.out_treedef) and _sequences_only(ct_treedef)):
            # keys and fields name the outputs: matched by position they could be silently
            # wrong ({"z": 1.0, "w": 0.0} for {"y": ..., "z": ...})
            raise ValueError(f"the cotangent does not match the output of {_name(f)}: {e}"
                             ) from None
        if len(cts) != len(t.graph.outputs):
            raise ValueError(f"the cotangent has {len(cts)} leaves; {_name(f)} returned "
                             f"{len(t.graph.outputs)} ({e})") from None
        return cts


def _sequences_only(td: Any) -> bool:
    """Whether a structure is made of leaves, tuples and lists only (whose cotangents may be
    given as the flat sequence of their leaves)."""
    return td.is_leaf or (td.kind.name in ("tuple", "list") and all(
        _sequences_only(c) for c in td.children))


def _name(f: Callable) -> str:
    return getattr(f, "__qualname__", None) or getattr(f, "__name__", None) or repr(f)


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, *,
                   strict: bool | None = None, cache: bool = False,
                   has_aux: bool = False) -> Callable:
    """``value_and_grad(f)(*args) -> (f(*args), gradient)``; the gradient has the structure
    of ``args[argnums]`` (a float, an array, or a tuple/list/dict/dataclass of them), a tuple
    of those for tuple ``argnums``. ``has_aux=True``: ``f`` returns ``(loss, aux)`` and the
    result is ``((loss, aux), gradient)``. ``strict=True`` raises GradientHazard at the first
    hazard. ``cache=True`` re-runs the recorded trace on later calls while its guards hold
    (framead/cache.py).

    >>> framead.value_and_grad(lambda p: p[0] ** 2 * p[1])([3.0, 2.0])
    (18.0, [12.0, 9.0])
    """
    if cache:
        from .cache import CachedValueAndGrad

        cached = CachedValueAndGrad(f, argnums, strict, has_aux=has_aux)
        wrapped = _user_facing(cached)
        wrapped.stats, wrapped.clear = cached.stats, cached.clear
        return wrapped

    @functools.wraps(f)
    @_user_facing
    def wrapper(*args: Any, **kwargs: Any):
        nums = _norm_argnums(argnums, len(args))
        t = _capture(f, args, kwargs, nums, strict)
        fname = _name(f)
        aux = _split_aux(t, fname) if has_aux else None
        value = (t.value, aux) if has_aux else t.value
        seed = _scalar_seed(t.value, t, fname)
        v = t.graph.outputs[0]
        if t.nested:  # inside another capture: a derivative it can differentiate again
            out = _nested_vjp(t)({v.id: seed} if isinstance(v, Value) else {})
            return value, (out[0] if isinstance(argnums, int | np.integer) else out)
        with paused_gc():
            grads = t.backward()({v.id: seed}) if isinstance(v, Value) else [None] * len(t.wrt)
        hazards, spec = t.hazards, t.spec
        del t
        if all(g is None for g in grads):
            warnings.warn(GradientWarning(
                f"the output of {fname} does not depend on argument(s) {list(nums)} through "
                "any operation framead saw; the gradient is zero"
                + (f". framead reported {len(hazards)} hazard(s) that may explain it: "
                   f"{hazards[0]}" if hazards else "")), stacklevel=2)
        out = spec.pack(grads)
        return value, (out[0] if isinstance(argnums, int | np.integer) else out)

    return wrapper


def grad(f: Callable, argnums: int | Sequence[int] = 0, *,
         strict: bool | None = None, cache: bool = False, has_aux: bool = False) -> Callable:
    """``grad(f)(*args)``: the gradient of a scalar-valued ``f`` with respect to
    ``args[argnums]``, with that argument's structure (containers of floats and arrays give
    the same containers of gradients). ``has_aux=True``: ``f`` returns ``(loss, aux)`` and
    ``grad`` returns ``(gradient, aux)``. ``strict=True`` raises GradientHazard at the first
    hazard; ``cache=True`` re-runs the recorded trace while its guards hold
    (framead/cache.py).

    >>> import math
    >>> framead.grad(lambda x: math.sin(x) * x)(0.0)
    0.0
    >>> framead.grad(lambda p: p["w"] * p["x"])({"w": 2.0, "x": 3.0})
    {'w': 3.0, 'x': 2.0}
    """
    vg = value_and_grad(f, argnums, strict=strict, cache=cache, has_aux=has_aux)

    @functools.wraps(f)
    @_user_facing
    def wrapper(*args: Any, **kwargs: Any):
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    if cache:
        wrapper.stats, wrapper.clear = vg.stats, vg.clear
    return wrapper
