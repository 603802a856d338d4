"""The recorder: the Python handlers behind the probes.

Each handler performs the real operation (so results are bit-identical to native execution)
and, when an operand is traced, appends an IR node. See docs/internals.md sections 2 and 3.
"""

from __future__ import annotations

import functools
import operator
import sys
import threading
import types
import weakref
from typing import Any

import numpy as np
from framead.rules import mutation_rules as _mut
from framead.rules import primitives as prim

from framead.ir import Graph, Node, SourceLoc, Value, flatten_tree, unflatten_tree

from . import _evalframe as C
from . import calls
from .buffers import Buffer, Entry, buffer_owner, is_differentiable, overlaps
from .hazards import Hazard
from .overrides import operator_runs_python, plain, python_attr, unary_runs_python
from .sourceloc import is_framead_file, loc_of

FUNC_OPS = (operator.add, operator.and_, operator.floordiv, operator.lshift, operator.matmul,
            operator.mul, operator.mod, operator.or_, operator.pow, operator.rshift,
            operator.sub, operator.truediv, operator.xor)
INPLACE_OPS = (operator.iadd, operator.iand, operator.ifloordiv, operator.ilshift,
               operator.imatmul, operator.imul, operator.imod, operator.ior, operator.ipow,
               operator.irshift, operator.isub, operator.itruediv, operator.ixor)
COMPARE_OPS = (operator.lt, operator.le, operator.eq, operator.ne, operator.gt, operator.ge)
UNARY_OPS = {"neg": operator.neg, "pos": operator.pos, "invert": operator.invert}
CONST_SNAPSHOT_BYTES = 1 << 20


def _user_tracebacks(method):
    """Errors raised by user code inside a handler keep a traceback without framead frames."""

    @functools.wraps(method)
    def handler(self, *args):
        try:
            return method(self, *args)
        except BaseException as e:
            e.__traceback__ = strip_framead_frames(e.__traceback__)
            raise

    return handler


def strip_framead_frames(tb):
    """The traceback chain without entries in framead's own files."""
    entries = []
    while tb is not None:
        if not is_framead_file(tb.tb_frame.f_code.co_filename):
            entries.append(tb)
        tb = tb.tb_next
    out = None
    for t in reversed(entries):
        out = types.TracebackType(out, t.tb_frame, t.tb_lasti, t.tb_lineno)
    return out


class Recorder:
    """Shadow table, buffer versions and the growing list of nodes of one capture."""

    def __init__(self, strict: bool = False, save_all: bool = False) -> None:
        _init_op_rules()
        # save_all (forward mode, framead/forward.py): every argument and result of a recorded
        # call is kept and copy-on-write protected, as if each rule's saves were None
        self.save_all = save_all
        self.entries: dict[int, Entry] = {}
        self.buffers: dict[int, Buffer] = {}
        self.nodes: list[Node] = []
        self.inputs: list[Value] = []
        self.hazards: list[Hazard] = []
        self.watched: list[tuple[np.ndarray, int, SourceLoc]] = []  # large saved constants
        self.stats = {"bytes_copied": 0, "copies": 0, "const_bytes_copied": 0}
        self.flagged: list[Any] = []
        self._containers: dict[int, np.ndarray] = {}  # object arrays holding traced items
        self.strict = strict  # objects given C call flags for this session only
        # cached traces (framead/cache.py): every decision made on a traced value, as
        # (node position, fn, args with Values, kwargs, result, loc); None: not recorded
        self.guards: list | None = None
        self.called: list | None = None  # ... and the Python functions given traced values
        self.first_comparison: Any = None  # where traced values were first compared
        self.first_use: Any = None  # ... first used without a node ("%g" % x)
        self.unreplayable: list[str] = []  # why a cached trace cannot re-run this capture
        self.cached_calls: dict[tuple, tuple] = {}  # lru_cache misses (calls._cached_call)
        self._next_id = 0

    # ------------------------------------------------------------------ values
    def _new_value(self, obj: Any) -> Value:
        """A Value for ``obj``; subclasses as their base type (the reverse pass computes with
        a plain ndarray over an np.matrix's memory, a float for a float subclass)."""
        self._next_id += 1
        t = type(obj)
        if t is np.ndarray or isinstance(obj, np.generic):
            return Value(self._next_id, obj.shape, obj.dtype, t, obj)
        if isinstance(obj, np.ndarray):
            return Value(self._next_id, obj.shape, obj.dtype, np.ndarray, plain(obj))
        base = complex if isinstance(obj, complex) else float if isinstance(obj, float) else t
        return Value(self._next_id, (), np.dtype(base), base, obj)

    def new_input(self, obj: Any) -> Value:
        """Register a (freshly re-boxed) input object."""
        v = self._new_value(obj)
        v.name = f"x{len(self.inputs)}"
        self._register(obj, v)
        self.inputs.append(v)
        return v

    def _register(self, obj: Any, v: Value, parent: Any = None, recipe: tuple | None = None):
        """Make ``obj`` a traced object whose current IR value is ``v``."""
        if isinstance(obj, np.ndarray):
            root = buffer_owner(obj)
            if root is obj:
                buf = Buffer(obj, v)
                self.buffers[id(obj)] = buf
                self.entries[id(obj)] = Entry(obj, v, buf, 0)
                C.track(obj)
                return
            buf = self.buffers.get(id(root))
            if buf is None and _same_layout(obj, root):
                # a fresh result NumPy wrapped as a view (a subclass's: np.ma): its memory's
                # owner holds the same value
                buf = self.buffers[id(root)] = Buffer(root, v)
                self.entries[id(root)] = Entry(root, v, buf, 0)
                C.track(root)
                parent, recipe = root, self._index_recipe(root, obj)
            if buf is None:  # a view of memory nobody traced: its owner starts as a constant
                buf = self._const_buffer(root)
            if parent is not None and (not isinstance(parent, np.ndarray)
                                       or buffer_owner(parent) is not root):
                parent = None  # e.g. a[:, [2, 0]]: a copy whose base is NumPy's own temporary
            if parent is None or recipe is None:
                parent, recipe = root, self._index_recipe(root, obj)
                if recipe is None:  # e.g. a float view of a complex buffer made in C
                    self.entries[id(obj)] = Entry(obj, v)
                    C.track(obj)
                    return
            self.entries[id(obj)] = Entry(obj, v, buf, buf.version, parent, recipe)
            return
        self.entries[id(obj)] = Entry(obj, v)
        C.track(obj)

    def _const_buffer(self, root: np.ndarray) -> Buffer:
        v = self._new_value(root)
        self.nodes.append(Node(CONST_RULE, (), {}, (v,), loc_of(sys._getframe(2))))
        buf = Buffer(root, v)
        self.buffers[id(root)] = buf
        self.entries[id(root)] = Entry(root, v, buf, 0)
        C.track(root)
        if self.save_all or self.guards is not None:  # replays bake this value in
            self._protect(v, None)
        return buf

    def _index_recipe(self, root: np.ndarray, view: np.ndarray) -> tuple | None:
        idx = prim.view_index(root, view)
        return None if idx is None else ("index", idx)

    def value_of(self, obj: Any) -> Value | None:
        """The current IR value of ``obj``, or None for a constant."""
        e = self.entries.get(id(obj))
        if e is None or e.obj is not obj:
            if not isinstance(obj, np.ndarray) or not self.buffers:
                return None
            root = buffer_owner(obj)
            buf = self.buffers.get(id(root))
            if buf is None or obj.dtype.kind not in "fc":
                return None
            recipe = self._index_recipe(root, obj)
            if recipe is None:
                self.hazard("FA104", "view", sys._getframe(1),
                            f"a {obj.dtype} view of a traced {root.dtype} buffer made where "
                            "framead could not see how; it is read as a constant")
                return None
            e = Entry(obj, None, buf, -1, root, recipe)
            self.entries[id(obj)] = e
        buf = e.buffer
        if buf is None or e.version == buf.version:
            v = e.value
            if buf is not None and v is not None and v.shape != obj.shape:
                return self._reshaped(e, obj)
            return v
        if e.parent is None:  # the buffer owner itself
            e.value, e.version = buf.value, buf.version
            if e.value.shape != obj.shape:
                return self._reshaped(e, obj)
            return e.value
        pv = self.value_of(e.parent)
        rule, args, kwargs = _derive_call(e.recipe, pv)
        v = self._new_value(obj)
        self.nodes.append(Node(rule, args, kwargs, (v,), loc_of(sys._getframe(1)),
                               saved=_ALL if self.save_all else _saved_set(rule, (0,))))
        e.value, e.version = v, buf.version
        if self.save_all:
            self._protect(pv, None)
            self._protect(v, None)
        return v

    def _reshaped(self, e: Entry, obj: np.ndarray) -> Value:
        """``a.shape = ...`` changed a traced array's shape in place (np.matrix's indexing
        does it), which no probe sees: its value is the reshape of the recorded one."""
        rule = calls.rules.lookup(np.reshape)
        v = self._new_value(obj)
        self.nodes.append(Node(rule, (e.value, obj.shape), {}, (v,), loc_of(sys._getframe(2)),
                               _ALL if self.save_all else _saved_set(rule, (0,))))
        e.value = v
        if e.parent is None:
            e.buffer.value = v
        return v

    def tree_value(self, obj: Any, _path: tuple = ()) -> Any:
        """Value for a traced leaf, a list/tuple copy with Values inside, or None (a list
        that contains itself is a constant where it recurs)."""
        if type(obj) is np.ndarray and obj.dtype == object:
            return self.tree_value(obj.tolist()) if id(obj) in self._containers else None
        if type(obj) in (list, tuple):
            if id(obj) in _path:
                return None
            path = (*_path, id(obj))
            items = [self.tree_value(x, path) for x in obj]
            if any(x is not None for x in items):
                return type(obj)(x if x is not None else o for x, o in zip(items, obj,
                                                                           strict=True))
            return None
        return self.value_of(obj)

    # ------------------------------------------------------------------ recording
    def apply(self, rule: Any, fn: Any, call_args: tuple, call_kwargs: dict,
              node_args: tuple, frame: Any, writes: tuple = (), recipe_parent: Any = None,
              recipe: tuple | None = None) -> Any:
        """Run ``fn(*call_args, **call_kwargs)`` and record ``rule`` on ``node_args``."""
        if call_kwargs:
            out = call_kwargs.get("out")
            if out is not None and out is not Ellipsis:  # out=...: a 0-d array, no write
                where = call_kwargs.get("where", True)
                if where is not True and any(isinstance(o, np.ndarray) for o in (
                        out if isinstance(out, tuple) else (out,))):
                    return self._masked_out(rule, fn, call_args, call_kwargs, node_args, frame)
                writes = (*writes, *(w for w in (out if isinstance(out, tuple) else (out,))
                                     if w is not None))  # out=(o, None): o only
        vals = [self.tree_value(a) for a in node_args]
        traced = [i for i, v in enumerate(vals) if v is not None]
        if not traced:
            for w in writes:
                self._copy_on_write(w)
            result = _call_quiet(fn, call_args, call_kwargs)
            for w in writes:  # constants written over traced memory (np.add(1, 2, out=x))
                if isinstance(w, np.ndarray) and self.value_of(w) is not None:
                    self.overwrite_with_constant(w, frame)
            return result
        if getattr(rule, "hazard", None) and not rule.cut and \
                any(i in rule.nondiff for i in traced):  # e.g. the order of scipy.special.jv
            self.hazard("FA101", rule.name, frame, rule.hazard)
        if rule.cut:
            for w in writes:
                self._copy_on_write(w)
            result = _call_quiet(fn, call_args, call_kwargs)
            for w in writes:  # np.round(x, 1, out=o): o now holds constants
                if isinstance(w, np.ndarray) and self.value_of(w) is not None:
                    self.overwrite_with_constant(w, frame)
            if getattr(rule, "hazard", None):
                self.hazard("FA102", rule.name, frame, rule.hazard)
            if self.guards is not None:
                self.guard(rule.fn if callable(rule.fn) else fn, node_args, call_kwargs, vals,
                           result, frame)
            return result
        node_args = self._coerce_args(rule, node_args, vals, traced, frame)
        saves = _ALL if self.save_all else _saved_set(rule, traced)
        args = _plain_constants(node_args)
        for i in traced:
            args[i] = vals[i]
        for i in saves:
            if i != "ans" and i < len(args):
                args[i] = self._protect(args[i], frame)
        if self.guards is not None:  # a cached trace re-runs this node: keep its constants
            args = self._keep_constants(args, frame)
        for w in writes:
            self._copy_on_write(w)
        result = _call_quiet(fn, call_args, call_kwargs)
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
                recipe_parent, recipe = _call_recipe(rule, fn, node_args, call_kwargs, result)
            outputs, treedef = self._outputs(result, recipe_parent, recipe, writes)
            if self.guards is not None:  # int/bool results of traced inputs: static values
                self._guard_static_outputs(rule, fn, node_args, call_kwargs, vals, result,
                                           outputs, treedef, frame)
        kwargs = call_kwargs
        if kwargs and "out" in kwargs:
            kwargs = {k: w for k, w in kwargs.items() if k != "out"}
        if kwargs and self.guards is not None:
            kwargs = dict(zip(kwargs, self._keep_constants(list(kwargs.values()), frame),
                              strict=True))
        node = Node(rule, tuple(args), kwargs, outputs, loc_of(frame), saves,
                    treedef is not None, treedef)
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
        return result

    def _coerce_args(self, rule, node_args: tuple, vals: list, traced: list, frame) -> tuple:
        """NumPy coerces a list/tuple argument holding traced values to an array unless the
        rule takes its items (``containers``): the node reads that array (``vals`` too).
        Elementwise rules (ufuncs, operators) coerce their constant operands as well."""
        operands = range(len(rule.vjp)) if rule.elementwise and isinstance(rule.vjp, tuple) \
            else traced
        for i in operands:
            if i < len(node_args) and id(node_args[i]) in self._containers and \
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

    def _masked_out(self, rule, fn, call_args, call_kwargs, node_args, frame) -> Any:
        """``fn(..., out=o, where=m)``: o keeps its old values where m is False, so record the
        full result, then ``o@n+1 = copyto(o@n, full, where=m)`` (each output of a tuple)."""
        outs = call_kwargs["out"]
        outs = outs if isinstance(outs, tuple) else (outs,)
        where = call_kwargs["where"]
        kw = {k: v for k, v in call_kwargs.items() if k not in ("out", "where")}
        full = self.apply(rule, fn, call_args, kw, node_args, frame)
        fulls = full if isinstance(full, tuple) else (full,)
        pairs = [(o, f, self.value_of(o), self.value_of(f))
                 for o, f in zip(outs, fulls, strict=False) if isinstance(o, np.ndarray)]
        pairs = [(o, f, ov if ov is not None or fv is None else self._ensure_value(o), fv)
                 for o, f, ov, fv in pairs if ov is not None or fv is not None]
        for o, *_ in pairs:
            self._copy_on_write(o)
        result = _call_quiet(fn, call_args, call_kwargs)
        for o, f, ov, fv in pairs:
            new = self._new_value(o)
            self.nodes.append(Node(calls.rules.lookup(_mut.copyto),
                                   (ov, fv if fv is not None else f, "unsafe", where), {},
                                   (new,), loc_of(frame), frozenset()))
            self.write_back(o, new, frame)
        return result

    def _outputs(self, result, parent, recipe, writes=()):
        if type(result) in (tuple, list) or (isinstance(result, tuple)):
            leaves, treedef = _flatten(result)
            outs = []
            for leaf in leaves:
                if any(leaf is w for w in writes) and is_differentiable(leaf):
                    outs.append(self._new_value(leaf))  # an out= array: written back
                elif is_differentiable(leaf) and self.entries.get(id(leaf)) is None:
                    v = self._new_value(leaf)
                    self._register(leaf, v)
                    outs.append(v)
                else:
                    outs.append(None)
            return tuple(outs), (treedef, tuple(leaves))
        if not is_differentiable(result):
            return (None,), None
        v = self._new_value(result)
        self._register(result, v, parent, recipe)
        return (v,), None

    def _protect(self, x: Any, frame: Any, whole: bool = False) -> Any:
        """Keep a value the reverse pass reads safe from later in-place writes; returns what
        the node should hold (a snapshot for small writeable constant arrays)."""
        if isinstance(x, Value):
            p = x.primal
            if isinstance(p, np.ndarray):
                buf = self.buffers.get(id(buffer_owner(p)))
                if buf is not None and x.id not in buf.saved_ids:
                    buf.saved.append(x)
                    buf.saved_ids.add(x.id)
            return x
        if type(x) in (list, tuple):
            return type(x)(self._protect(item, frame, whole) for item in x)
        if isinstance(x, np.ndarray) and x.flags.writeable:
            # a constant array a rule reads later: snapshot small ones, watch big ones
            if x.nbytes <= CONST_SNAPSHOT_BYTES or whole:
                self.stats["const_bytes_copied"] += x.nbytes
                return x.copy()
            self.watched.append((x, hash(x.tobytes()), loc_of(frame)))
        return x

    def _keep_constants(self, args: list, frame: Any) -> list:
        """Snapshots of the constant arrays among ``args`` (cached traces re-run every node,
        so a constant the program overwrites later must keep its value here)."""
        return [a if isinstance(a, Value) else self._protect(a, frame, whole=True)
                if isinstance(a, np.ndarray | list | tuple) else a for a in args]

    def _copy_on_write(self, region: np.ndarray) -> None:
        """Before ``region`` is overwritten, copy the saved values that live in it."""
        buf = self.buffers.get(id(buffer_owner(region)))
        if buf is None or not buf.saved:
            return
        keep = []
        for v in buf.saved:
            if overlaps(v.primal, region):
                v.primal = np.array(v.primal, copy=True)
                # the copy stands for v: a reverse pass run under this capture (higher
                # order, framead/api.py) reads it and must be recorded as reading v
                self.entries[id(v.primal)] = Entry(v.primal, v)
                C.track(v.primal)
                self.stats["bytes_copied"] += v.primal.nbytes
                self.stats["copies"] += 1
                buf.saved_ids.discard(v.id)
            else:
                keep.append(v)
        buf.saved = keep

    def write_back(self, obj: np.ndarray, new: Value, frame: Any) -> None:
        """``obj`` (an owner or a view) now holds ``new``: fold it into its buffer."""
        root = buffer_owner(obj)
        buf = self.buffers.get(id(root)) or self._const_buffer(root)
        cur, val = obj, new
        while cur is not root:
            e = self.entries.get(id(cur))
            if e is None or e.obj is not cur or e.parent is None:
                recipe = self._index_recipe(root, cur)
                if recipe is None:
                    raise NotImplementedError(
                        f"{loc_of(frame)}: framead cannot follow a write through a "
                        f"{cur.dtype} view of a {root.dtype} buffer made where it could not "
                        "see how; make the view inside the differentiated function")
                e = Entry(cur, None, buf, -1, root, recipe)
                self.entries[id(cur)] = e
            parent = e.parent
            pv = self.value_of(parent)
            nv = self._new_value(parent)
            self.nodes.append(Node(VIEW_UPDATE_RULE, (pv, val, e.recipe), {}, (nv,),
                                   loc_of(frame), frozenset()))
            e.value = val
            cur, val = parent, nv
            if self.save_all:
                self._protect(nv, frame)
            # keep e.version stale until the bump below makes it current again
            e.version = buf.version + 1
        buf.version += 1
        buf.value = val
        re = self.entries[id(root)]
        re.value, re.version = val, buf.version
        if obj is not root:
            oe = self.entries[id(obj)]
            oe.value, oe.version = new, buf.version
        new.primal = plain(obj)
        if self.save_all:  # every primal keeps the value it had when its node ran
            self._protect(new, frame)

    def hold_if_container(self, obj: Any) -> Any:
        """An object ndarray holding traced floats: let the C probes see it as traced (its
        items are followed by identity, like a list's)."""
        if type(obj) is np.ndarray and obj.dtype == object and obj.size and \
                any(self.entries.get(id(v)) is not None for v in obj.flat):
            self._containers[id(obj)] = obj
            C.track(obj)
        return obj

    def overwrite_with_constant(self, a: np.ndarray, frame: Any) -> None:
        """``a`` was changed by something framead cannot see: from now on it is constant."""
        v = self._new_value(a)
        self.nodes.append(Node(CONST_RULE, (), {}, (v,), loc_of(frame)))
        self.write_back(a, v, frame)
        if self.guards is not None:  # replays bake this value in (save_all protects it too)
            self._protect(v, frame)

    def hazard(self, code: str, op: str, frame: Any, message: str) -> None:
        """Record a place where the gradient may be lost; raise at once in strict mode.
        ``frame`` is the frame it happened in, or its SourceLoc."""
        h = Hazard(code, op, frame if isinstance(frame, SourceLoc) else loc_of(frame), message)
        self.hazards.append(h)
        if self.strict:
            from framead.errors import GradientHazard

            raise GradientHazard(h)

    def foreign(self, what: Any) -> None:
        """Another thread (with no capture of its own) used this capture's traced value in
        ``what``, an operator name or the C callable it was given (the C probes of watching
        threads call this from that thread). Containers and framead-native callables move
        the value without computing with it: nothing is lost there."""
        if not isinstance(what, str) and C.get_callable_flags(what) & C.NATIVE:
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

    # ------------------------------------------------------------------ handlers
    @_user_tracebacks
    def binop(self, oparg: int, a: Any, b: Any) -> Any:
        return self.binary(oparg, a, b, sys._getframe(1))

    def binary(self, oparg: int, a: Any, b: Any, frame: Any) -> Any:
        """``a <op> b`` (BINARY_OP's oparg; also ``operator.add(a, b)`` called): NumPy and
        Python scalars recorded, lists met by NumPy coerced, other operands native."""
        ta, tb = type(a), type(b)
        if ta in _FAST_SCALARS and tb in _FAST_SCALARS:
            return self._scalar_binop(oparg % 13, a, b, frame)
        if operator_runs_python(oparg, ta, tb):
            # the operand's own Python operator (np.matrix's *, np.ma's, a float subclass's):
            # it runs here, instrumented, and what its body computes is recorded
            return (INPLACE_OPS[oparg - 13] if oparg >= 13 else FUNC_OPS[oparg])(a, b)
        if not (_numeric(a) and _numeric(b)):
            if _meets_numpy(a, b) or _meets_numpy(b, a):
                return self._sequence_binop(oparg, a, b, frame)
            # user classes (their dunders run instrumented), lists, strings: nothing to record
            if self.first_use is None and isinstance(a, str | bytes):  # "%g" % x: text
                self.first_use = loc_of(frame)
            return (INPLACE_OPS[oparg - 13] if oparg >= 13 else FUNC_OPS[oparg])(a, b)
        if oparg >= 13:
            fop, iop = FUNC_OPS[oparg - 13], INPLACE_OPS[oparg - 13]
            if isinstance(a, np.ndarray):
                return self._inplace(fop, iop, a, b, frame)
        else:
            fop = iop = FUNC_OPS[oparg]
        rule = calls.operator_rule(fop)
        if rule is None:
            return self._unknown(iop, (a, b), {}, frame)
        return self.apply(rule, iop, (a, b), {}, (a, b), frame)

    def _sequence_binop(self, oparg: int, a: Any, b: Any, frame: Any) -> Any:
        """A list/tuple operand of a NumPy array or scalar: NumPy coerces it to an array
        (``x - [1.0, 2.0]``, ``[t, 2.0] * x``), unless ``*`` repeats it (``[t] * np.int64(2)``)."""
        k = oparg % 13
        fop = FUNC_OPS[k]
        iop = INPLACE_OPS[k] if oparg >= 13 else fop
        if oparg >= 13 and isinstance(a, np.ndarray):
            return self._inplace(fop, iop, a, b, frame)
        result = iop(a, b)  # native: coerced, repeated, or the native exception
        rule = calls.operator_rule(fop)
        if rule is None or not isinstance(result, np.ndarray | np.generic) or \
                self.entries.get(id(result)) is not None:
            return result
        operands = (self.coerce(a, frame), self.coerce(b, frame))
        return self.apply(rule, _Result(result), (), {}, operands, frame)

    def coerce(self, x: Any, frame: Any) -> Any:
        """A list/tuple as the array NumPy makes of it (recorded as ``np.array(x)`` when it
        holds traced values); anything else, or a ragged sequence, as it is."""
        if type(x) not in (list, tuple):
            return x
        if self.tree_value(x) is None:
            try:
                return np.asarray(x)
            except (ValueError, TypeError):
                return x
        rule = calls.rules.lookup(np.array)
        try:
            return self.apply(rule, np.array, (x,), {}, (x,), frame)
        except (ValueError, TypeError):
            return x

    def _scalar_binop(self, k: int, a: Any, b: Any, frame: Any) -> Any:
        """Python float/int/complex operands: the common case of legacy scalar loops, kept
        short (no frames can run, nothing can alias)."""
        result = FUNC_OPS[k](a, b)
        entries = self.entries
        ea, eb = entries.get(id(a)), entries.get(id(b))
        va = ea.value if ea is not None and ea.obj is a else None
        vb = eb.value if eb is not None and eb.obj is b else None
        if va is None and vb is None:
            return result
        rule = _OP_RULES[k]
        if rule is None:
            return self._unknown(FUNC_OPS[k], (a, b), {}, frame)
        if rule.cut or type(result) not in (float, complex):
            if self.guards is not None:
                self.guard(FUNC_OPS[k], (a, b), {}, (va, vb), result, frame)
            return result
        saves = _OP_SAVES[k][(va is not None) + 2 * (vb is not None) - 1]
        self._next_id += 1
        v = Value(self._next_id, (), _PY_DTYPES[type(result)], type(result), result)
        entries[id(result)] = Entry(result, v)
        C.track(result)
        self.nodes.append(Node(rule, (a if va is None else va, b if vb is None else vb), {},
                               (v,), loc_of(frame), saves))
        return result

    def _inplace(self, fop, iop, a: np.ndarray, b: Any, frame: Any) -> Any:
        """``a op= b`` on an array: a functional node, then a write into a's buffer."""
        if self.value_of(a) is None and self.tree_value(b) is None:
            return iop(a, b)
        rule = calls.operator_rule(fop)
        if rule is None:
            return self._unknown(iop, (a, b), {}, frame)
        return self.mutate(rule, iop, (a, b), {}, (a, self.coerce(b, frame)), a, frame)

    def mutate(self, rule, fn, call_args: tuple, call_kwargs: dict, node_args: tuple,
               target: np.ndarray, frame: Any, node_kwargs: dict | None = None) -> Any:
        """Run an in-place ``fn`` that overwrites ``target`` with ``rule(*node_args)``."""
        vals = [self.tree_value(a) for a in node_args]
        if target is node_args[0] and vals[0] is None:
            vals[0] = self._ensure_value(target)
        traced = [i for i, v in enumerate(vals) if v is not None]
        if not traced:
            return fn(*call_args, **call_kwargs)
        node_args = self._coerce_args(rule, node_args, vals, traced, frame)
        args = [v if v is not None else a
                for v, a in zip(vals, _plain_constants(node_args), strict=True)]
        saves = _ALL if self.save_all else _saved_set(rule, traced)
        for i in saves:
            if i != "ans" and i < len(args):
                args[i] = self._protect(args[i], frame)
        if self.guards is not None:
            args = self._keep_constants(args, frame)
        args = tuple(args)
        self._copy_on_write(target)
        result = _call_quiet(fn, call_args, call_kwargs)
        if fn in INPLACE_OPS and result is not target:  # the op was not in place after all
            return self.apply(rule, lambda *_: result, (), {}, node_args, frame)
        out = self._new_value(target)
        kw = dict(call_kwargs) if node_kwargs is None else node_kwargs
        self.nodes.append(Node(rule, args, kw, (out,), loc_of(frame), saves))
        self.write_back(target, out, frame)
        if "ans" in saves:
            self._protect(out, frame)
        return result

    def fresh_copy(self, x: Any, frame: Any, traced: bool) -> Any:
        """A new object equal to ``x``, the input of a capture nested in this one: recorded as
        a copy of ``x`` when ``x`` is traced here, else (``traced``) a value of its own."""
        y = self.apply(COPY_RULE, _copy_of_its_class, (x,), {}, (x,), frame)
        if traced and self.value_of(y) is None:
            self._register(y, self._new_value(y))
        return y

    def _ensure_value(self, a: np.ndarray) -> Value:
        """An untraced array about to receive traced data: its buffer starts as a constant."""
        if id(buffer_owner(a)) not in self.buffers:
            self._const_buffer(buffer_owner(a))
        return self.value_of(a)

    @_user_tracebacks
    def unary(self, name: str, a: Any) -> Any:
        frame = sys._getframe(1)
        op = UNARY_OPS[name]
        if not _numeric(a) or unary_runs_python(name, type(a)):
            return op(a)
        rule = calls.operator_rule(op)
        if rule is None:
            return self._unknown(op, (a,), {}, frame)
        return self.apply(rule, op, (a,), {}, (a,), frame)

    @_user_tracebacks
    def compare(self, oparg: int, a: Any, b: Any) -> Any:
        result = COMPARE_OPS[oparg](a, b)
        if self.first_comparison is None:  # for finish(): results reached only this way
            self.first_comparison = loc_of(sys._getframe(1))
        if self.guards is not None:
            vals = (self.tree_value(a), self.tree_value(b))
            if vals != (None, None):
                self.guard(COMPARE_OPS[oparg], (a, b), {}, vals, result, sys._getframe(1))
        return result

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
        self.guards.append((len(self.nodes), fn, args, dict(kwargs), result, loc_of(frame)))

    @_user_tracebacks
    def getitem(self, a: Any, k: Any) -> Any:
        frame = sys._getframe(1)
        return self._getitem(a, k, frame)

    def _getitem(self, a, k, frame, base_slot=None):
        """``a[k]``; ``base_slot``: ndarray's own ``__getitem__`` bound to a subclass
        instance (``super().__getitem__(k)`` in np.memmap), recorded without running the
        subclass's method again."""
        if type(a) is np.flatiter:
            return self.apply(calls.rules.lookup(_mut.flat_getitem), operator.getitem, (a, k),
                              {}, (a.base, k), frame)
        if not isinstance(a, np.ndarray | np.generic):
            return a[k]  # containers: identity carries traced items along
        if base_slot is None and python_attr(type(a), "__getitem__"):
            return a[k]  # np.matrix's, np.ma's own indexing, instrumented
        rule = calls.operator_rule(operator.getitem)
        if base_slot is not None:
            return self.apply(rule, base_slot, (k,), {}, (a, k), frame, recipe_parent=a,
                              recipe=("getitem", k))
        return self.apply(rule, operator.getitem, (a, k), {}, (a, k), frame,
                          recipe_parent=a, recipe=("getitem", k))

    @_user_tracebacks
    def setitem(self, a: Any, k: Any, v: Any) -> None:
        return self._setitem(a, k, v, sys._getframe(1))

    def _setitem(self, a: Any, k: Any, v: Any, frame: Any, base_slot: Any = None) -> None:
        """``a[k] = v``; ``base_slot`` as for _getitem (``super().__setitem__``)."""
        if type(a) is np.flatiter:
            base = a.base
            self.mutate(calls.rules.lookup(_mut.flat_setitem), operator.setitem, (a, k, v), {},
                        (base, k, v), base, frame, {})
            return None
        if not isinstance(a, np.ndarray):
            a[k] = v  # containers: identity carries traced items along
            if isinstance(a, calls.RAW_STORAGE_TYPES) and self.tree_value(v) is not None:
                self.hazard("FA105", f"{type(a).__name__}.__setitem__", frame,
                            f"a traced value was stored into a {type(a).__name__}, which "
                            "keeps raw numbers framead cannot follow")
            return None
        if base_slot is None and python_attr(type(a), "__setitem__"):
            a[k] = v  # np.ma's own assignment (it writes its data and mask), instrumented
            return None
        av, vv = self.value_of(a), self.tree_value(v)
        if av is None and vv is None:
            if base_slot is None:
                a[k] = v
            else:
                base_slot(k, v)
            return None
        if av is None:
            av = self._ensure_value(a)
        region = a
        if prim._is_basic_key(k):  # (natively: a subclass's __array_finalize__ may run)
            sub = _call_quiet(np.ndarray.__getitem__, (a, k), None)
            if isinstance(sub, np.ndarray):
                region = sub
        self._copy_on_write(region)
        if base_slot is None:
            a[k] = v
        else:
            base_slot(k, v)
        out = self._new_value(a)
        self.nodes.append(Node(SETITEM_RULE, (av, k, vv if vv is not None else plain(v)), {},
                               (out,),
                               loc_of(frame), frozenset()))
        self.write_back(a, out, frame)
        return None

    @_user_tracebacks
    def getattr(self, obj: Any, name: str) -> Any:
        frame = sys._getframe(1)
        rule = None if python_attr(type(obj), name) else calls.attr_rule(obj, name)
        if rule is None:  # (a subclass's own property, np.matrix's .T, runs instrumented)
            out = getattr(obj, name)
            if type(out) is np.flatiter and self.value_of(obj) is not None:
                self._containers[id(out)] = out  # a.flat[k] reads/writes come back to us
                C.track(out)
            return out
        fn = _AttrGetter(name)
        return self.apply(rule, fn, (obj,), {}, (obj,), frame, recipe_parent=obj,
                          recipe=("attr", name))

    @_user_tracebacks
    def getiter(self, obj: Any) -> Any:
        if isinstance(obj, np.ndarray) and obj.ndim >= 1 and self.value_of(obj) is not None:
            frame = sys._getframe(1)
            return self._rows(obj, frame)
        return obj

    def _rows(self, a, frame=None):
        return _Rows(self, a)

    @_user_tracebacks
    def unpack(self, obj: Any) -> Any:
        if isinstance(obj, np.ndarray) and obj.ndim >= 1 and self.value_of(obj) is not None:
            frame = sys._getframe(1)
            return tuple(self._getitem(obj, i, frame) for i in range(len(obj)))
        return obj

    @_user_tracebacks
    def call(self, fn: Any, args: tuple, kwargs: dict | None) -> Any:
        return calls.dispatch(self, fn, args, kwargs or {}, sys._getframe(1))

    def _unknown(self, fn, args, kwargs, frame):
        return calls.unknown_call(self, fn, args, kwargs, frame)

    # ------------------------------------------------------------------ result
    def finish(self, outputs: list[Any]) -> Graph:
        if self.strict:  # hazards recorded by other threads (FA109) raise here
            from framead.errors import GradientHazard

            late = [h for h in self.hazards if h.code == "FA109"]
            if late:
                raise GradientHazard(late[0])
        for arr, digest, loc in self.watched:
            if hash(arr.tobytes()) != digest:
                raise RuntimeError(
                    f"{loc}: a constant array read by the gradient was modified later in the "
                    "function; framead cannot differentiate this safely")
        outs = [self.value_of(o) if self.value_of(o) is not None else o for o in outputs]
        if self.hazards:  # a reported loss already explains a disconnected result
            pass
        elif self.first_comparison is not None and self.inputs and \
                not any(isinstance(o, Value) for o in outs):
            # a bisection, a search, a sort by value: the result moved with the inputs only
            # through decisions, which carry no derivative framead can see
            loc, self.first_comparison = self.first_comparison, None
            self.hazard("FA102", "comparison", loc,
                        "the result depends on the traced inputs only through comparisons "
                        "(a bisection, a search, a choice by value): no derivative passes "
                        "through them, so the gradient framead returns is zero")
        elif self.inputs and (self.nodes or self.first_use is not None) and \
                not any(isinstance(o, Value) for o in outs) and \
                any(is_differentiable(o) for o in outputs):
            loc = self.nodes[-1].loc if self.nodes else self.first_use
            self.hazard("FA108", "result", loc,
                        "the result does not depend on the inputs through any operation "
                        "framead saw, although traced values were used (last at this line): "
                        "if the inputs reached it another way (text, json, object arrays, "
                        "another thread), the zero gradient is wrong")
        self.first_comparison = self.first_use = None
        return Graph(list(self.inputs), list(self.nodes), outs, dict(self.stats))

    def retrack(self) -> None:
        """Tell the C probes again which objects are traced (after a nested capture)."""
        for e in self.entries.values():
            if e.parent is None and e.obj is not None:
                C.track(e.obj)
        for obj in self._containers.values():
            C.track(obj)

    def close(self) -> None:
        C.clear_tracked()
        for obj in self.flagged:
            C.set_callable_flags(obj, 0)
        self.flagged.clear()


_NUMERIC_TYPES = (float, int, complex, np.ndarray, np.generic)
_FAST_SCALARS = frozenset({float, int, complex, bool})
_PY_DTYPES = {float: np.dtype(float), complex: np.dtype(complex)}
_OP_RULES: list = []


_OP_SAVES: list = []  # per operator: saves when only a / only b / both are traced


def _init_op_rules() -> None:
    if not _OP_RULES:
        _OP_RULES.extend(calls.operator_rule(op) for op in FUNC_OPS)
        _OP_SAVES.extend(None if r is None else tuple(_saved_set(r, t) for t in
                                                      ((0,), (1,), (0, 1)))
                         for r in _OP_RULES)


def _copy_of_its_class(x: Any) -> Any:
    """A new object equal to ``x`` and of its class (an np.matrix stays a matrix, a float
    subclass is not multiplied by its own ``__mul__``)."""
    if type(x) is not np.ndarray and isinstance(x, np.ndarray):
        return x.copy()
    if isinstance(x, np.generic):
        return x.copy()
    if isinstance(x, float | complex) and type(x) not in (float, complex):
        base = float if isinstance(x, float) else complex
        new = base.__new__(type(x), getattr(base, f"__{base.__name__}__")(x))
        new.__dict__.update(getattr(x, "__dict__", {}))
        return new
    return prim.copy_value(x)


def _plain_constants(args: tuple) -> list:
    """Node arguments with ndarray-subclass constants as plain arrays (also inside a list or
    tuple argument): rules' derivatives compute with them (np.matrix's ``*`` is a product)."""
    out = list(args)
    for i, a in enumerate(out):
        if type(a) in (list, tuple):
            if any(type(x) is not np.ndarray and isinstance(x, np.ndarray) for x in a):
                out[i] = type(a)(plain(x) for x in a)
        elif type(a) is not np.ndarray and isinstance(a, np.ndarray):
            out[i] = plain(a)
    return out


def _numeric(x: Any) -> bool:
    """Operands whose operators have rules (subclasses whose operator is Python code were
    sent to it before: overrides.operator_runs_python)."""
    return isinstance(x, _NUMERIC_TYPES)


def _same_layout(a: np.ndarray, b: np.ndarray) -> bool:
    """``a`` is ``b`` seen as another class (``b.view(cls)``): same memory, shape, strides."""
    return a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype and \
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]


def _meets_numpy(seq: Any, other: Any) -> bool:
    """A list/tuple operand meeting a NumPy array or scalar (NumPy's operator coerces it)."""
    return type(seq) in (list, tuple) and isinstance(other, np.ndarray | np.generic) and \
        _numeric(other)


class _Rows:
    """``iter(a)`` of a traced array: its rows as the recorder reads them (at the line that
    asks for each). The recorder is held weakly and no frame at all: an iterator the program
    keeps must not keep the recording alive; after the capture it gives plain rows."""

    __slots__ = ("_rec", "_a", "_i")

    def __init__(self, rec: Recorder, a: np.ndarray):
        self._rec, self._a, self._i = weakref.ref(rec), a, 0

    def __iter__(self) -> _Rows:
        return self

    def __next__(self) -> Any:
        i = self._i
        if i >= len(self._a):
            raise StopIteration
        self._i = i + 1
        rec = self._rec()
        return self._a[i] if rec is None else rec._getitem(self._a, i, sys._getframe(1))


class _Result:
    """A callable returning an operation's result computed before it was recorded."""

    __slots__ = ("result",)

    def __init__(self, result: Any):
        self.result = result

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.result


class _AttrGetter:
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __call__(self, obj):
        return getattr(obj, self.name)


class WhichArgument:
    """``fn`` returning one of its (possibly nested) arguments: which one, by position."""

    __slots__ = ("fn",)

    def __init__(self, fn: Any):
        self.fn = fn

    @staticmethod
    def index(result: Any, args: tuple) -> Any:
        """Position of ``result`` among the leaves of ``args`` (-1: none); for a list or
        tuple result that is not itself an argument (``sorted``), each item's position."""
        leaves, _ = flatten_tree(list(args))
        k = next((k for k, x in enumerate(leaves) if x is result), -1)
        if k < 0 and type(result) in (list, tuple):
            return tuple(next((k for k, x in enumerate(leaves) if x is r), -1) for r in result)
        return k

    def __call__(self, *args: Any, **kwargs: Any) -> int:
        return self.index(self.fn(*args, **kwargs), args)


class StaticLeaves:
    """The non-differentiable leaves (by position mask) of ``fn``'s tuple result."""

    __slots__ = ("fn", "mask")

    def __init__(self, fn: Any, mask: tuple):
        self.fn, self.mask = fn, mask

    def __call__(self, *args: Any, **kwargs: Any) -> tuple:
        leaves, _ = flatten_tree(self.fn(*args, **kwargs))
        return tuple(x for x, m in zip(leaves, self.mask, strict=True) if m)


def _call_quiet(fn, args, kwargs):
    """Call a rule-covered function natively, without capturing the frames it runs, as if
    from the user's frame (its warnings and stack walks name the user's line)."""
    return C.call_native(fn, args if type(args) is tuple else tuple(args), kwargs or None)


_ALL = frozenset(range(64)) | {"ans"}


def _saved_set(rule, traced) -> frozenset:
    saves = rule.saves
    if saves is None:
        return _ALL
    if len(traced) == 1:
        return saves.get(traced[0], frozenset())
    out: set = set()
    for i in traced:
        out.update(saves.get(i, ()))
    return frozenset(out)


_flatten = flatten_tree  # names used across capture/ and framead/
unflatten = unflatten_tree


def _call_recipe(rule, fn, node_args, kwargs, result):
    """If ``result`` is a view of a traced argument, how to re-make it from that argument."""
    root = buffer_owner(result)
    for pos, a in enumerate(node_args):
        if isinstance(a, np.ndarray) and buffer_owner(a) is root:
            f = rule.fn
            if not callable(f) or isinstance(fn, types.BuiltinMethodType) and pos == 0:
                f = getattr(type(a), getattr(fn, "__name__", ""), None) or f
            if not callable(f):
                return None, None
            rest = node_args[:pos] + node_args[pos + 1:]
            return a, ("call", f, rest, dict(kwargs), pos, rule)
    return None, None


def _derive_call(recipe, pv):
    kind = recipe[0]
    if kind == "getitem":
        return calls.operator_rule(operator.getitem), (pv, recipe[1]), {}
    if kind == "attr":
        return calls.attr_rule_by_name(recipe[1]), (pv,), {}
    if kind == "call":
        _, fn, args, kwargs, pos, rule = recipe
        return rule, (*args[:pos], pv, *args[pos:]), dict(kwargs)
    return GATHER_RULE, (pv, recipe[1]), {}


CONST_RULE = calls.internal_rule("const", lambda: None, (), {})
SETITEM_RULE = calls.internal_rule("setitem", *prim.PRIMITIVES["setitem"])
VIEW_UPDATE_RULE = calls.internal_rule("view_update", *prim.PRIMITIVES["view_update"])
GATHER_RULE = calls.internal_rule("gather_flat", *prim.PRIMITIVES["gather_flat"])
COPY_RULE = calls.internal_rule("copy", *prim.PRIMITIVES["copy"])

