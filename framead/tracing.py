"""Running a differentiated function under capture: its arguments checked and boxed as
inputs (framead/inputs.py), the call made through the capture's call probe, and what the
capture recorded returned as a :class:`Trace`. Inside another capture (``grad(grad(f))``)
the inner call is recorded by the outer recorder itself (``_capture_nested``).

The public entry points (framead/api.py), cached traces (framead/cache.py), forward mode
and the transforms all capture through here.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import gc
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import tree
from .capture import session
from .capture._evalframe import call as probe_call
from .capture.caller_frame import trampoline
from .capture.hazards import Hazard
from .capture.primitive_rules import CONST_RULE
from .capture.recorder import Recorder
from .capture.session import Session, internals_visible, outer_recorder, visible_to_outer
from .capture.sourceloc import strip_framead_frames
from .errors import GradientHazard, NonScalarOutputError
from .inputs import Differentiated
from .inputs import copy_arguments as _copy_arguments  # (a name tests replace)
from .ir import Graph, Node, SourceLoc, Value, active_nodes, format_graph
from .reverse import Backward, cast_like, environ_get
from .rules.families import cotangent_dtype


def user_facing(fn: Callable) -> Callable:
    """``fn`` whose errors leave framead without its internal frames
    (FRAMEAD_SHOW_INTERNALS=1 keeps them)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BaseException as e:
            if not os.environ.get("FRAMEAD_SHOW_INTERNALS"):
                e.__traceback__ = strip_framead_frames(e.__traceback__)
            raise

    return wrapper


class paused_gc:  # noqa: N801 - used as a function: ``with paused_gc():``
    """The cyclic garbage collector off while framead runs its own reverse pass (never while
    the program runs: its garbage is collected as natively). (A class: a generator's
    context manager costs ~2 us a call.)"""

    __slots__ = ("_was",)

    def __enter__(self) -> None:
        # the switch is process-wide: with other threads running, their program may turn the
        # collector off or on meanwhile, and framead must not undo that
        self._was = was = gc.isenabled() and threading.active_count() == 1
        if was:
            gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self._was:
            gc.enable()


def norm_argnums(argnums: int | Sequence[int], nargs: int) -> tuple[int, ...]:
    """``argnums`` as a tuple of non-negative argument positions (clear errors otherwise)."""
    def bad() -> TypeError:
        return TypeError(f"argnums must be an int or a tuple of ints; got {argnums!r} "
                         f"({type(argnums).__name__})")

    if isinstance(argnums, bool | str | bytes):
        raise bad()
    if isinstance(argnums, int | np.integer):
        nums: tuple = (int(argnums),)
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

    def __init__(self, graph: Graph, value: Any, hazards: list, wrt: list[Value], *,
                 out_treedef: tree.TreeDef, spec: Differentiated, nested: bool = False,
                 strict: bool = False, f: Callable | None = None):
        self.graph = graph
        self.value = value
        self.hazards = hazards
        self.wrt = wrt
        self.out_treedef = out_treedef  # the structure of ``value``
        self.spec = spec  # the differentiated arguments
        self.nested = nested  # recorded by an outer capture (higher order)
        self.strict = strict
        self.f = f
        self._backward: Backward | None = None

    @property
    def stats(self) -> dict:
        return self.graph.stats

    @property
    def nodes(self) -> list[Node]:
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


STRICT: contextvars.ContextVar[bool | None] = contextvars.ContextVar("framead_strict",
                                                                   default=None)


def resolve_strict(flag: bool | None) -> bool:
    """Strict mode as asked (``flag``), else as ``with framead.strict():`` or FRAMEAD_STRICT
    say."""
    if flag is not None:
        return flag
    ctx = STRICT.get()
    if ctx is not None:
        return ctx
    return environ_get("FRAMEAD_STRICT") not in ("", "0", "false", "False")


def call_top(f: Callable, args: Sequence, kwargs: dict) -> Any:
    """The differentiated function's own call, made through the capture's call probe: it is
    dispatched exactly as the same call written in user code (a rule for ``f`` itself, C
    callables, partials, see-through Python functions), not as a call from framead's frame.
    Outside a capture (or with it disabled) the probe calls ``f`` natively. ``f``'s caller
    frame shows the user's line that called framead (capture/caller_frame.py)."""
    return trampoline(sys._getframe(1), f)(probe_call, f, args, kwargs)


def capture(f: Callable, args: tuple, kwargs: dict, nums: tuple[int, ...],
            strict_mode: bool | None = None, rec: Recorder | None = None) -> Trace:
    """Run ``f(*args, **kwargs)`` under capture with ``args[nums]`` as the inputs (on fresh
    copies: the caller's arrays and containers are never written)."""
    outer = outer_recorder()
    if outer is not None:
        return _capture_nested(outer, f, args, kwargs, nums)
    if rec is None:
        rec = Recorder(strict=resolve_strict(strict_mode))
    spec = Differentiated(args, nums, f)  # clear errors before anything runs
    boxed: Any
    call: Any
    copies: Any
    inputs: Any
    t: Any
    try:
        if spec.plain(args, kwargs):  # (floats, one array: nothing to take apart)
            copies = inputs = None
            boxed, wrt = spec.box_simple(args, rec.new_input)
            if kwargs:
                kwargs = dict(kwargs)
        else:
            boxed, kwargs, copies = _copy_arguments(list(args), kwargs, spec.arrays())
            inputs = spec.box(boxed, copies, rec.new_input)
            wrt = [v for i in nums for v in inputs[i]]
        call = trampoline(sys._getframe(1), f)  # (outside the session: no hook there)
        with Session(rec):  # the GC stays on: garbage goes as natively
            out = call(probe_call, f, boxed, kwargs)  # (call_top's call, one frame less)
        if type(out) is float:  # (a loss: tree.flatten's answer)
            leaves, treedef = [out], tree.LEAF
        else:
            leaves, treedef = tree.flatten(out)
        t = Trace(rec.finish(leaves), out, list(rec.hazards), wrt, out_treedef=treedef,
                  spec=spec, strict=rec.strict, f=f)
        return t
    finally:  # a frame the program keeps (sys._getframe()) keeps this one's locals
        rec = boxed = inputs = t = copies = call = None


def capture_for_cache(f: Callable, args: tuple, kwargs: dict, nums: tuple[int, ...],
                      strict_mode: bool | None) -> tuple[Trace, Any, list, list]:
    """A capture that also records guards, the functions given traced values and the code
    objects that ran (framead/cache.py): (trace, recorder, functions, code objects)."""
    rec: Any = Recorder(strict=resolve_strict(strict_mode))
    rec.guards, rec.called = [], []
    t: Any
    codes: Any
    try:
        with session.watching_codes() as codes:
            t = capture(f, args, kwargs, nums, strict_mode, rec=rec)
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
    return Trace(graph, out, [], wrt, out_treedef=treedef, spec=spec, nested=True)


def report_opaque(nodes: list[Node], depth: int = 2) -> None:
    """FA107 in the outer capture for nodes whose derivative code it cannot record."""
    outer: Any = outer_recorder()
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


def nested_vjp(t: Trace) -> Callable[[dict[int, Any]], tuple]:
    """The VJP of a nested capture, run as code the outer capture records."""
    bw = t.backward()
    report_opaque(active_nodes(t.graph, t.wrt), 3)

    def f_vjp(seeds: dict[int, Any]) -> tuple:
        outer: Any = outer_recorder()
        start = len(outer.nodes) if outer is not None else 0
        seeds = _traced_seeds(outer, seeds)
        with internals_visible():
            grads = bw(seeds) if seeds else [None] * len(t.wrt)
        if outer is not None:
            grads = _seed_only_untraced(outer, start, grads)
        with internals_visible():
            # (cast_like, framead's differentiable code: the outer capture records it)
            return t.spec.pack(grads, cast_like)

    return f_vjp


def _traced_seeds(outer: Any, seeds: dict[int, Any]) -> dict[int, Any]:
    """The seeds, each one the outer capture does not trace made a constant value of its own
    there: a plain 1.0 folded ``1.0 * x`` of a constant ``x`` out of the outer graph, and with
    it every read of a value a search chose (search_choice.decided_exit)."""
    if outer is None:  # (an implicit adjoint's VJP run after the capture)
        return seeds
    frame = sys._getframe(1)
    return {i: c if outer.value_of(c) is not None or not (
        isinstance(c, float | np.floating) or isinstance(c, np.ndarray) and c.dtype.kind == "f")
        else outer.constant_copy(c, frame) for i, c in seeds.items()}


def _seed_only_untraced(outer: Any, start: int, grads: list) -> list:
    """The gradients, each one made from the seeds and constants alone (no value recorded
    before the reverse pass) a plain copy: it does not move with the outer inputs, and a
    result reached only through comparisons is still one (FA102, Recorder.finish)."""
    made = {o.id: n for n in outer.nodes[start:] for o in n.outputs if type(o) is Value}
    out = []
    for g in grads:
        v = outer.value_of(g) if g is not None else None
        if v is not None and v.id in made and not _reaches_before(v, made):
            g = g.copy() if isinstance(g, np.ndarray | np.generic) else g * 1.0
        out.append(g)
    return out


def _reaches_before(v: Value, made: dict[int, Node]) -> bool:
    """Whether ``v`` depends on a value recorded before ``made`` (the reverse pass's nodes)."""
    todo, seen = [v], {v.id}
    while todo:
        n = made.get(todo.pop().id)
        if n is None:
            return True
        if n.rule is CONST_RULE:
            continue
        for b in tree.leaves((n.args, n.kwargs)):  # (lists of lists of values too)
            if type(b) is Value:
                if b.id not in seen:
                    seen.add(b.id)
                    todo.append(b)
            elif not isinstance(b, _PLAIN) or type(b) is np.ndarray and b.dtype.kind == "O":
                return True  # (an object that may hold values: not known, so kept)
    return False


_PLAIN = (int, float, complex, str, bytes, slice, type(None), type(Ellipsis), np.ndarray,
          np.generic, np.dtype, type)


# --- end higher order ------------------------------------------------------------------------


def split_aux(t: Trace, fname: str) -> Any:
    """``has_aux=True``: ``f`` returned ``(output, aux)``; the trace keeps the output (its
    graph outputs pruned to it) and the auxiliary data is returned as the program made it."""
    out = t.value
    if not (isinstance(out, tuple | list) and len(out) == 2):
        raise TypeError(f"has_aux=True requires {fname} to return a pair (output, aux); it "
                        f"returned {describe(out)}")
    n = t.out_treedef.children[0].num_leaves
    t.graph = dataclasses.replace(t.graph, outputs=t.graph.outputs[:n])
    t.out_treedef, t.value = t.out_treedef.children[0], out[0]
    return out[1]


def describe(x: Any) -> str:
    """What ``x`` is, for messages: ``an array of shape (3,) and dtype float64``."""
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    if isinstance(x, tuple | list):
        return f"a {type(x).__name__} of length {len(x)}"
    if isinstance(x, dict):
        return f"a {type(x).__name__} with keys {list(x)}"
    return f"a {type(x).__name__}"


def name_of(f: Callable) -> str:
    """``f``'s name for messages."""
    return getattr(f, "__qualname__", None) or getattr(f, "__name__", None) or repr(f)


def unit_seed(out: Any) -> Any:
    """The cotangent 1 of a real scalar output, of its type (1.0 for a Python float; a
    float16 output's in float32, as the reverse pass carries float16 cotangents)."""
    if isinstance(out, float):
        return 1.0
    return np.ones((), dtype=cotangent_dtype(np.result_type(out)))[()]


def scalar_seed(out: Any, t: Trace, fname: str) -> Any:
    """The seed of ``grad``'s reverse pass for the output ``out``: 1 for a real scalar, 0
    (and an FA102 hazard) for an integer; an error naming the node that made anything
    else."""
    if isinstance(out, float | np.floating) or (
            isinstance(out, np.ndarray) and out.shape == () and out.dtype.kind == "f"):
        return unit_seed(out)
    if isinstance(out, int | np.integer | np.bool_) or (
            isinstance(out, np.ndarray) and out.shape == () and out.dtype.kind in "iub"):
        return _integer_output(out, t, fname)
    where = ""
    v = t.graph.outputs[0] if t.graph.outputs else None  # None returned: no output leaf
    if isinstance(v, Value):
        for node in reversed(t.graph.nodes):
            if any(o is v for o in node.outputs):
                where = f" (it was produced by {node.name} at {node.loc.file}:{node.loc.line})"
                break
    desc = "None" if out is None else type(out).__name__
    if isinstance(out, np.ndarray):
        desc = f"an array of shape {out.shape} and dtype {out.dtype}"
    raise NonScalarOutputError(
        f"grad requires {fname} to return a real scalar (float or 0-d float array); it "
        f"returned {desc}{where}. Reduce it to a scalar (e.g. .sum()), or use "
        "value_and_grad on a scalar loss")


def _integer_output(out: Any, t: Trace, fname: str) -> float:
    """An integer result (``int(x[0]) * int(x[1])``) is piecewise constant in the inputs: its
    derivative is zero, which central differences see too; reported as a cut (FA102)."""
    code = getattr(t.f, "__code__", None)
    loc = (t.graph.nodes[-1].loc if t.graph.nodes else
           SourceLoc(code.co_filename, code.co_firstlineno, code.co_qualname, ())
           if code is not None else SourceLoc("<unknown>", 0, fname, ()))
    h = Hazard("FA102", "result", loc,
               f"{fname} returned an integer ({type(out).__name__} {out!r}): piecewise "
               "constant in its inputs, so its gradient is zero")
    t.hazards.append(h)
    if t.strict:
        raise GradientHazard(h)
    return 0.0
