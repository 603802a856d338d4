"""The recorder: the Python handlers behind the probes.

Each handler performs the real operation (so results are bit-identical to native execution)
and, when an operand is traced, appends an IR node. See docs/internals.md sections 2 and 3.
``Recorder`` is assembled from its parts: the shadow table (values.py), the write paths
(mutation.py) and the probe handlers (handlers.py); calls go through dispatch (calls.py).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as np
from framead.rules.ufunc_outer_rules import OUTER_RULE, outer_cut

from framead.errors import GradientHazard
from framead.ir import Graph, Node, SourceLoc, Value, flatten_tree

from . import _evalframe as C
from .aliased_writes import NOT_ALIASED, UNBUFFERED_OUT, out_call
from .buffers import Buffer, buffer_owner, content_digest, is_differentiable
from .call_kinds import table_lookup
from .callables import callable_name, holds_traced
from .calls import dispatch
from .guards import ShapeOf, StaticLeaves, WhichArgument
from .handlers import ProbeHandlers, init_op_rules
from .hazards import Hazard, locate
from .mutation import Mutations
from .native import Result, call_as_user, call_quiet
from .noise_check import noise_division, noise_message
from .overrides import inert, override_in, unconverted
from .protocols import Deferred
from .saves import ALL, plain_constants, saved_set
from .sourceloc import loc_of, user_tracebacks, where_of
from .text_taint import TextTaint, parse_call
from .unruled import refused_call, unknown_call
from .values import ValueTable, call_recipe
from .zero_trip import zero_trip_exit, zero_trip_message

protect_saved = C.protect_saved  # (tests compare it with the Python path below)

__all__ = ["Recorder"]

try:  # (a buffer's saved Values and ids can refer to nothing that refers back)
    from ._scalar_tape import untracked_empty as _untracked
except ImportError:  # pragma: no cover - the optional extension is not built
    def _untracked(x: Any) -> Any:
        return x
CONST_SNAPSHOT_BYTES = 1 << 20
_SEQUENCES = frozenset({list, tuple})

# --- NumPy's error state while a cached capture records (framead/replay_graph.py FpPlan) -----
try:  # NumPy 2: the error state is a ContextVar holding an opaque extobj
    from numpy._core.umath import _extobj_contextvar as _FP_STATE  # type: ignore
except ImportError:  # pragma: no cover - older NumPy
    _FP_STATE = None
_fp_watch = threading.local()  # .on: the next Recorder made in this thread notes the state


def watch_fp_state(on: bool) -> bool:
    """Whether the next Recorder this thread makes (a cached capture's, framead/cache.py)
    notes NumPy's error state as it records (``FpNodes``); returns the previous setting."""
    d = _fp_watch.__dict__
    was = d.get("on", False)
    d["on"] = on and _FP_STATE is not None
    return was


class FpNodes(list):
    """A cached capture's node list that notes NumPy's error state (``_FP_STATE``'s extobj,
    compared by identity: np.errstate and np.seterr make a new one) each time it differs
    from the last one seen: ``marks`` holds (nodes recorded, guards recorded, extobj) from
    which on the recording ran under that extobj; ``entry`` is the capture's first. Every
    node of a capture with guards is appended here (the C fast path, which appends to the
    list itself, is off where guards are recorded: handlers.fast_record_state)."""

    __slots__ = ("entry", "last", "marks", "guards")

    def __init__(self) -> None:
        super().__init__()
        self.entry = self.last = _FP_STATE.get()
        self.marks: list[tuple[int, int, Any]] = []
        self.guards = 0

    def append(self, node: Any) -> None:
        cur = _fp_get()
        if cur is not self.last:
            self.last = cur
            self.marks.append((len(self), self.guards, cur))
        list.append(self, node)

    def guarded(self) -> None:
        """A guard is recorded (after the nodes so far, before the next)."""
        cur = _fp_get()
        if cur is not self.last:
            self.last = cur
            self.marks.append((len(self), self.guards, cur))
        self.guards += 1


_fp_get = _FP_STATE.get if _FP_STATE is not None else None


class Recorder(ProbeHandlers, Mutations, ValueTable):
    """Shadow table, buffer versions and the growing list of nodes of one capture."""

    def __init__(self, strict: bool = False, save_all: bool = False) -> None:
        init_op_rules()
        C.comparisons(self)  # (a dead recorder's at this address: capture/zero_trip.py)
        # save_all (forward mode, framead/forward.py): every argument and result of a recorded
        # call is kept and copy-on-write protected, as if each rule's saves were None
        self.save_all = save_all
        self.init_table()  # entries, buffers, weak primals (values.py)
        self.nodes: list[Node] = []
        if _fp_watch.__dict__.get("on"):  # (the cached capture's recorder: once)
            _fp_watch.on = False
            self.nodes = FpNodes()
        self.inputs: list[Value] = []
        self.hazards: list[Hazard] = []
        self.watched: list[tuple[np.ndarray, int, SourceLoc]] = []  # large saved constants
        self.stats = {"bytes_copied": 0, "copies": 0, "const_bytes_copied": 0}
        self.flagged: list[Any] = []
        self.containers: dict[int, np.ndarray] = {}  # object arrays holding traced items
        self.strict = strict  # objects given C call flags for this session only
        # cached traces (framead/cache.py): every decision made on a traced value, as
        # (node position, fn, args with Values, kwargs, result, loc); None: not recorded
        self.guards: list | None = None
        self.called: list | None = None  # ... and the Python functions given traced values
        self.first_comparison: Any = None  # where traced values were first compared
        self.text_taint: TextTaint | None = None  # texts of traced values (FA111)
        self.first_use: Any = None  # ... first used without a node ("%g" % x)
        self.unreplayable: list[str] = []  # why a cached trace cannot re-run this capture
        self.cached_calls: dict[tuple, tuple] = {}  # lru_cache misses (protocols.cached_call)
        self._next_id = 0

    # ------------------------------------------------------------------ recording
    def apply(self, rule: Any, fn: Any, call_args: tuple, call_kwargs: dict,
              node_args: tuple, frame: Any, writes: tuple = (), recipe_parent: Any = None,
              recipe: tuple | None = None) -> Any:
        """Run ``fn(*call_args, **call_kwargs)`` and record ``rule`` on ``node_args``; a call
        the rule refuses (``Rule.refuses``) is run as a call with no rule (FA101); one NumPy
        hands to an argument's Python ``__array_ufunc__``/``__array_function__`` runs that
        code instead (``_overridden``)."""
        if not (inert(node_args) and (not call_kwargs or inert(call_kwargs.values()))):
            if self._overridden(rule, fn, call_args, call_kwargs, node_args):
                return self._run_overridden(rule, fn, call_args, call_kwargs, node_args,
                                            frame)
            if (objs := unconverted(node_args)) and holds_traced(objs, True):
                self.hazard("FA101", rule.name, frame, f"{rule.name} converts an argument "
                            f"({type(objs[0]).__name__}) with its Python __array__/__float__ "
                            "where framead cannot see it (the argument has an "
                            "__array_ufunc__/__array_function__ NumPy does not use here): the "
                            "gradient through the traced values it holds is lost")
        if getattr(rule, "refusal", None) is not None and \
                (why := rule.refuses(node_args, call_kwargs)) is not None and \
                any(self.tree_value(a) is not None for a in node_args):
            return refused_call(self, rule.name, why, fn, call_args, call_kwargs, node_args,
                                frame)
        if call_kwargs:
            out = call_kwargs.get("out")
            if out is not None and out is not Ellipsis:  # out=...: a 0-d array, no write
                where = call_kwargs.get("where", True)
                if where is not True and any(isinstance(o, np.ndarray) for o in (
                        out if isinstance(out, tuple) else (out,))):
                    return self._masked_out(rule, fn, call_args, call_kwargs, node_args, frame)
                writes = (*writes, *(w for w in (out if isinstance(out, tuple) else (out,))
                                     if isinstance(w, np.ndarray)))  # out=(o, None): o
                if id(getattr(rule, "fn", None)) in UNBUFFERED_OUT and (r := out_call(
                        self, rule, fn, call_args, call_kwargs, frame)) is not NOT_ALIASED:
                    return r  # np.concatenate([a[-1:], a[:-1]], out=a): unbuffered
        vals: list = []  # (loops, not comprehensions: no frame of their own)
        traced: list[int] = []
        for a in node_args:
            v = self.tree_value(a)
            if v is not None:
                traced.append(len(vals))
            vals.append(v)
        if not traced:  # constants written over traced memory (np.add(1, 2, out=x))
            return self._write_constants(fn, call_args, call_kwargs, writes, frame)
        if getattr(rule, "hazard", None) and not rule.cut and \
                any(i in rule.nondiff for i in traced):  # e.g. the order of scipy.special.jv
            self.hazard("FA101", rule.name, frame, rule.hazard)
        cut = rule if rule.cut else outer_cut(node_args) if rule is OUTER_RULE else None
        if cut is not None:  # np.round(x, 1, out=o): o now holds constants
            # (np.floor_divide.outer(a, b): the ufunc's cut, as np.floor_divide(a, b))
            result = self._write_constants(fn, call_args, call_kwargs, writes, frame)
            if getattr(cut, "hazard", None):
                self.hazard("FA102", rule.name if cut is rule else f"{cut.name}.outer", frame,
                            cut.hazard)
            if self.guards is not None:
                self.guard(rule.fn if callable(rule.fn) else fn, node_args, call_kwargs, vals,
                           result, frame)
            return result
        if self.containers or not _SEQUENCES.isdisjoint(map(type, node_args)):
            # (what _coerce_args may coerce: nothing else)
            node_args = self._coerce_args(rule, node_args, vals, traced, frame)
        saves = ALL if self.save_all else saved_set(rule, traced)
        args = plain_constants(node_args)
        for i in traced:
            args[i] = vals[i]
        for i in saves:
            if i != "ans" and i < len(args):
                a = args[i]
                if type(a) is float or (type(a) is Value and type(a.primal) is float):
                    continue  # (nothing for _protect to keep or copy)
                args[i] = self._protect(a, frame)
        if self.guards is not None:  # a cached trace re-runs this node: keep its constants
            args = self._keep_constants(args, frame)
        for w in writes:
            self.copy_on_write(w)
        raised = None
        try:
            result = call_quiet(fn, call_args, call_kwargs)
        except FloatingPointError as e:
            self._raised(rule.name, e, frame)
            # np.errstate(...="raise"): NumPy raises once the loop has written out=
            if len(writes) != 1 or not isinstance(writes[0], np.ndarray):
                if self._now_constants(writes, frame):
                    self.hazard("FA104", rule.name, frame, "its outputs were written before "
                                "NumPy raised FloatingPointError")
                raise
            result, raised = writes[0], e
        except Exception as e:
            self._raised(rule.name, e, frame)
            raise
        written = None
        for w in writes:
            if w is result:
                written = w
        treedef = None
        if written is not None:  # out= / in place: the result is the written array itself
            outputs = (self._new_value(result),)
        else:
            e = self.entries.get(id(result))
            if e is not None and e.obj is result:
                # an identity (np.asarray(a), float(x), min(x, 0.5)): same object, same value;
                # a cached trace checks that the same argument comes back
                if self.guards is not None:
                    which = WhichArgument(rule.fn if callable(rule.fn) else fn)
                    self.guard(which, node_args, call_kwargs, vals,
                               which.index(result, node_args), frame)
                return result
            if recipe is None and isinstance(result, np.ndarray) and result.base is not None:
                recipe_parent, recipe = call_recipe(rule, fn, node_args, call_kwargs, result)
            outputs, treedef = self._outputs(result, recipe_parent, recipe, writes, rule, traced)
            if self.guards is not None:  # int/bool results of traced inputs: static values
                self._guard_static_outputs(rule, fn, node_args, call_kwargs, vals, result,
                                           outputs, treedef, frame)
                if getattr(rule, "fn", None) is np.arange:  # (its length: the bounds decide)
                    self.guard(ShapeOf(np.arange), node_args, call_kwargs, vals,
                               tuple(result.shape), frame)
        kwargs = call_kwargs
        if kwargs and "out" in kwargs:
            kwargs = {k: w for k, w in kwargs.items() if k != "out"}
        if kwargs and self.guards is not None:
            kwargs = dict(zip(kwargs, self._keep_constants(list(kwargs.values()), frame),
                              strict=True))
        node = Node(rule, tuple(args), kwargs, outputs, where_of(frame), saves,
                    treedef is not None, treedef)  # (its location resolved when read)
        self.nodes.append(node)
        if written is not None:
            self.write_back(written, outputs[0], frame)
        elif treedef is not None and writes:  # np.modf(x, out=(o, None)): o written
            for o, leaf in zip(outputs, treedef[1], strict=True):
                if o is not None and any(leaf is w for w in writes):
                    self.write_back(leaf, o, frame)
        if "ans" in saves:
            for o in outputs:
                if o is not None:
                    self._protect(o, frame)
        if raised is not None:  # (the write recorded: the program's error goes on)
            raise raised
        return result

    def mutate(self, rule, fn, call_args: tuple, call_kwargs: dict, node_args: tuple,
               target: np.ndarray, frame: Any, node_kwargs: dict | None = None) -> Any:
        """``Mutations.mutate``, unless NumPy hands the call to an argument's override
        (``np.copyto(x, obj)``): then that code runs instrumented (``_overridden``)."""
        if not (inert(node_args) and (not call_kwargs or inert(call_kwargs.values()))) and \
                self._overridden(rule, fn, call_args, call_kwargs, node_args):
            return self._run_overridden(rule, fn, call_args, call_kwargs, node_args, frame)
        return Mutations.mutate(self, rule, fn, call_args, call_kwargs, node_args, target,
                                frame, node_kwargs)

    @staticmethod
    def _overridden(rule, fn: Any, call_args: tuple, call_kwargs: dict,
                    node_args: tuple) -> bool:
        """Whether NumPy hands this call to the Python ``__array_ufunc__`` /
        ``__array_function__`` of an argument that is no ndarray (overrides.override_in): the
        rule would record the override's object as a constant and run its code unseen."""
        if type(fn) is Deferred:  # (the call that really runs, on its own arguments)
            return override_in(fn.fn, tuple(fn.args), fn.kwargs)
        return override_in(fn, call_args, call_kwargs) or (
            node_args is not call_args and override_in(rule.fn, node_args, {}))

    def _run_overridden(self, rule, fn: Any, call_args: tuple, call_kwargs: dict,
                        node_args: tuple, frame: Any) -> Any:
        """Run a call NumPy hands to an override as the program's own code: the override's
        body runs instrumented and records what it computes (its calls, exceptions and
        result as native). A result computed before it came here (the override ran unseen),
        or a differentiable result that comes back untraced from traced arguments (the
        override was not reached after all): FA101."""
        name = callable_name(rule.fn) if callable(rule.fn) else rule.name
        if type(fn) is Result or not (type(fn) is Deferred or override_in(
                fn, call_args, call_kwargs)):
            if holds_traced(node_args, True):
                self.hazard("FA101", name, frame, f"{name} was computed by the Python "
                            "__array_ufunc__/__array_function__ of an argument, run where "
                            "framead could not see it: the gradient through it is lost")
            return call_quiet(fn, call_args, call_kwargs)
        result = call_as_user(fn, call_args, call_kwargs)
        if self.tree_value(result) is None and is_differentiable(result) and \
                holds_traced((call_args, call_kwargs), True):
            self.hazard("FA101", name, frame, f"{name} handed to an argument's Python "
                        "__array_ufunc__/__array_function__ returned a result framead did not "
                        "see computed from the traced arguments: the gradient is lost")
        return result

    def _write_constants(self, fn: Any, call_args: tuple, call_kwargs: dict, writes: tuple,
                         frame: Any) -> Any:
        """``fn(*call_args, **call_kwargs)``, whose ``out=`` arrays (``writes``) now hold
        constants: the traced ones become constants, also when NumPy raises
        FloatingPointError after writing them (np.errstate(...="raise"))."""
        for w in writes:
            self.copy_on_write(w)
        try:
            result = call_quiet(fn, call_args, call_kwargs)
        except FloatingPointError as e:
            self._raised(callable_name(fn), e, frame)
            self._now_constants(writes, frame)
            raise
        except Exception as e:
            self._raised(callable_name(fn), e, frame)
            raise
        self._now_constants(writes, frame)
        return result

    def _raised(self, name: str, e: BaseException, frame: Any) -> None:
        """A recorded call raised on traced values: the program may catch it and take another
        path, which a cached trace could not follow (none is made of this capture)."""
        if self.guards is not None:
            loc = loc_of(frame if frame is not None else sys._getframe(2))
            self.unreplayable.append(f"{name} raised {type(e).__name__} on traced values at "
                                     f"{loc.short()}")

    def _now_constants(self, writes: tuple, frame: Any) -> list:
        """The traced arrays among ``writes`` made constants (written by what framead does
        not differentiate); returns them."""
        made = [w for w in writes if isinstance(w, np.ndarray) and self.value_of(w) is not None]
        for w in made:
            self.overwrite_with_constant(w, frame)
        return made

    def _coerce_args(self, rule, node_args: tuple, vals: list, traced: list, frame) -> tuple:
        """NumPy coerces a list/tuple argument holding traced values to an array unless the
        rule takes its items (``containers``): the node reads that array (``vals`` too).
        Elementwise rules (ufuncs, operators) coerce their constant operands as well."""
        operands = range(len(rule.vjp)) if rule.elementwise and isinstance(rule.vjp, tuple) \
            else traced
        for i in operands:
            if i < len(node_args) and id(node_args[i]) in self.containers and \
                    type(node_args[i]) is np.ndarray and i not in rule.containers:
                # an object array of traced floats read by a numeric rule (.astype(float))
                arr = self.coerce(node_args[i].tolist(), frame)
                node_args = (*node_args[:i], arr, *node_args[i + 1:])
                vals[i] = self.value_of(arr)
            elif i < len(node_args) and type(node_args[i]) in (list, tuple) and \
                    i not in rule.containers:
                arr = self.coerce(node_args[i], frame)
                if arr is not node_args[i]:
                    node_args = (*node_args[:i], arr, *node_args[i + 1:])
                    vals[i] = self.value_of(arr)
        return node_args

    def _outputs(self, result, parent, recipe, writes=(), rule=None, traced=()):
        if type(result) in (tuple, list) or (isinstance(result, tuple)):
            leaves, treedef = flatten_tree(result)
            outs, per_arg = [], getattr(rule, "per_argument", False)  # (output k: argument k)
            for k, leaf in enumerate(leaves):
                if any(leaf is w for w in writes) and is_differentiable(leaf):
                    outs.append(self._new_value(leaf))  # an out= array: written back
                elif not (per_arg and k not in traced) and is_differentiable(leaf) and \
                        self.entries.get(id(leaf)) is None:
                    v = self._new_value(leaf)
                    self._register(leaf, v)
                    outs.append(v)
                else:
                    outs.append(None)
            return tuple(outs), (treedef, tuple(leaves))
        if type(result) is not float and not is_differentiable(result):  # (a float is)
            return (None,), None
        v = self._new_value(result)
        self._register(result, v, parent, recipe)
        return (v,), None

    def _protect(self, x: Any, frame: Any, whole: bool = False) -> Any:
        """Keep a value the reverse pass reads (its primal held from now on) safe from later
        in-place writes; returns what the node should hold (a snapshot for small writeable
        constant arrays)."""
        if isinstance(x, Value):
            if protect_saved(x, self._refs, self._kept, self.buffers, Buffer):
                return x  # (what follows, in C: _evalframe.c protect_core)
            self._keep(x)
            p = x.primal
            if isinstance(p, np.ndarray):
                buf = self.buffer_of(buffer_owner(p))
                if buf is not None and x.id not in buf.saved_ids:
                    if type(buf.saved) is tuple:  # (the first save: Buffer's shared empties)
                        buf.saved, buf.saved_ids = _untracked([]), _untracked(set())
                    buf.saved.append(x)
                    buf.saved_ids.add(x.id)
            return x
        if type(x) in (list, tuple):
            return type(x)(self._protect(item, frame, whole) for item in x)
        if isinstance(x, np.ndarray) and x.flags.writeable:
            # a constant array a rule reads later: snapshot small ones, watch big ones
            if x.nbytes <= CONST_SNAPSHOT_BYTES or whole:
                self.stats["const_bytes_copied"] += x.nbytes
                return x.copy(order="K")  # (its layout: reductions sum in the same order)
            # (frame None: called from the user's frame, by the probes' C fast path)
            where = frame if frame is not None else sys._getframe(1)
            self.watched.append((x, content_digest(x), loc_of(where)))
        return x

    def _keep_constants(self, args: list, frame: Any) -> list:
        """Snapshots of the constant arrays among ``args`` (cached traces re-run every node,
        so a constant the program overwrites later must keep its value here)."""
        return [a if isinstance(a, Value) else self._protect(a, frame, whole=True)
                if isinstance(a, np.ndarray | list | tuple) else a for a in args]

    def dispatch(self, fn: Any, args: tuple, kwargs: dict, frame: Any,
                 perform: Any = None) -> Any:
        """A call met inside a handler (a special form's step, a protocol's target), decided
        as a traced call (calls.dispatch)."""
        return dispatch(self, fn, args, kwargs, frame, perform)

    def unknown_call(self, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
        """A C callable without a rule got traced values (unruled.unknown_call)."""
        return unknown_call(self, fn, args, kwargs, frame)

    def made_text(self, text: Any, frame: Any) -> None:
        """``text`` (None: not known) was made from traced values in ``frame`` (or at that
        SourceLoc): number parsers given it report FA111 (capture/text_taint.py)."""
        if self.text_taint is None:
            self.text_taint = TextTaint()
        self.text_taint.made(text, frame)
        if self.first_use is None:  # (FA108's "traced values were used")
            self.first_use = self.text_taint.loc

    @user_tracebacks
    def call(self, fn: Any, args: tuple, kwargs: dict | None) -> Any:
        """The call probe's handler (handlers.ProbeHandlers.call); once text of traced values
        was made, a number parser given it reports FA111 first."""
        frame = sys._getframe(1)
        taint = self.text_taint
        if taint is not None and taint.routed(fn):  # (FA111; float("2.5"): nothing to record)
            return parse_call(self, fn, args, kwargs, frame,
                              lambda f, a, k: dispatch(self, f, a, k, frame))
        return dispatch(self, fn, args, kwargs or {}, frame)

    # ------------------------------------------------------------------ hazards and guards
    def hazard(self, code: str, op: str, frame: Any, message: str) -> None:
        """Record a place where the gradient may be lost; raise at once in strict mode.
        ``frame`` is the frame it happened in, or its SourceLoc."""
        h = Hazard(code, op, locate(frame), message)  # (the user's line: hazards.py)
        self.hazards.append(h)
        if self.strict:
            raise GradientHazard(h)

    def foreign(self, what: Any) -> None:
        """Another thread (with no capture of its own) used this capture's traced value in
        ``what``, an operator name or the C callable it was given (the C probes of watching
        threads call this from that thread). Containers and framead-native callables move
        the value without computing with it, lookups by key hash it: nothing is lost there."""
        if not isinstance(what, str) and (C.get_callable_flags(what) & C.NATIVE or
                                          table_lookup(what) is not None):
            return
        name = what if isinstance(what, str) else getattr(what, "__qualname__", repr(what))
        frame = sys._getframe(1)
        seen = self.__dict__.setdefault("_foreign_seen", set())
        where = (frame.f_code, frame.f_lineno, name)
        if where in seen:  # once per line and operation (a worker's loop reports once)
            return
        seen.add(where)
        # recorded, not raised here: an exception would kill the worker, and the capturing
        # thread may wait for it forever; strict mode raises when the capture finishes
        self.hazards.append(Hazard(
            "FA109", name, loc_of(frame), f"{name} ran on a traced value in thread "
            f"{threading.current_thread().name!r}, not the captured one"))

    def _guard_static_outputs(self, rule, fn, node_args, kwargs, vals, result, outputs,
                              treedef, frame) -> None:
        """``x.astype(int)``, ``np.frexp(x)[1]``: results a replay would bake in as constants
        must come out the same."""
        call = rule.fn if callable(rule.fn) else fn
        if treedef is None:
            if outputs[0] is None and not is_differentiable(result):
                self.guard(call, node_args, kwargs, vals, result, frame)
            return
        leaves = treedef[1]
        mask = tuple(o is None and not is_differentiable(leaf)
                     for o, leaf in zip(outputs, leaves, strict=True))
        if any(mask):
            self.guard(StaticLeaves(call, mask), node_args, kwargs, vals,
                       tuple(x for x, m in zip(leaves, mask, strict=True) if m), frame)

    def guard(self, fn: Any, args: tuple, kwargs: dict, vals: Any, result: Any,
              frame: Any) -> None:
        """A decision on traced values (a comparison, int(), a mask): a cached trace is valid
        for new inputs only where it comes out the same (framead/cache.py)."""
        args = tuple(self._keep_constants(
            [v if v is not None else a for v, a in zip(vals, args, strict=True)], frame))
        if kwargs and "out" in kwargs:
            kwargs = {k: w for k, w in kwargs.items() if k != "out"}
        if isinstance(result, np.ndarray):
            result = result.copy()
        if type(self.nodes) is FpNodes:
            self.nodes.guarded()
        self.guards.append((len(self.nodes), fn, args, dict(kwargs), result, loc_of(frame)))

    # ------------------------------------------------------------------ result
    def finish(self, outputs: list[Any]) -> Graph:
        if self.strict:  # hazards recorded by other threads (FA109) raise here
            late = [h for h in self.hazards if h.code == "FA109"]
            if late:
                raise GradientHazard(late[0])
        for arr, digest, loc in self.watched:
            if content_digest(arr) != digest:
                raise RuntimeError(
                    f"{loc}: a constant array read by the gradient was modified later in the "
                    "function; framead cannot differentiate this safely")
        outs = []
        connected = False  # (an output is a Value)
        for o in outputs:
            v = self.value_of(o)
            if v is not None:
                outs.append(v)
                connected = True
            else:
                outs.append(o)
                connected = connected or isinstance(o, Value)
        if any(h.code != "FA201" for h in self.hazards):  # a loss explains it (an eager run
            pass  # is none)
        elif self.first_comparison is not None and self.inputs and not connected:
            # a bisection, a search, a sort by value: the result moved with the inputs only
            # through decisions, which carry no derivative framead can see
            loc, self.first_comparison = self.first_comparison, None
            self.hazard("FA102", "comparison", loc,
                        "the result depends on the traced inputs only through comparisons "
                        "(a bisection, a search, a choice by value): no derivative passes "
                        "through them, so the gradient framead returns is zero")
        elif self.first_comparison is not None and connected and \
                (found := noise_division(self.nodes, outs, self.inputs)) is not None:
            self.hazard("FA102", "comparison", found[0].loc,
                        noise_message(found, self.first_comparison))
        elif self.first_comparison is not None and connected and \
                (test := zero_trip_exit(self.nodes, outs, self)) is not None:
            self.hazard("FA102", "comparison", test.loc, zero_trip_message(test))
        elif self.inputs and (self.nodes or self.first_use is not None) and \
                not connected and any(is_differentiable(o) for o in outputs):
            loc = self.nodes[-1].loc if self.nodes else self.first_use
            self.hazard("FA108", "result", loc,
                        "the result does not depend on the inputs through any operation "
                        "framead saw, although traced values were used (last at this line): "
                        "if the inputs reached it another way (text, json, object arrays, "
                        "another thread), the zero gradient is wrong")
        self.first_comparison = self.first_use = None
        stats = dict(self.stats)
        stats["bytes_kept"] = self.bytes_kept()
        return Graph(list(self.inputs), list(self.nodes), outs, stats)

    def retrack(self) -> None:
        """Tell the C probes again which objects are traced (after a nested capture)."""
        self.active = True
        if self._stale:
            self.purge_stale()
        for e in list(self.entries.values()):  # (a freed array's entry may leave meanwhile)
            obj = e.obj
            if e.parent is None and obj is not None:
                C.track(obj)
        for obj in self.containers.values():
            C.track(obj)

    def close(self) -> None:
        self.active = False
        if self.text_taint is not None:
            self.text_taint.close()
            self.text_taint = None
        C.clear_tracked()
        for obj in self.flagged:
            C.set_callable_flags(obj, 0)
        self.flagged.clear()

