"""The probe handlers: what the rewriter's probes call for operators, subscripts,
attributes, iteration and calls on traced values. Part of ``Recorder`` (recorder.py)."""

from __future__ import annotations

import math
import operator
import sys
import threading
import types
import weakref
from collections import deque
from typing import Any

import numpy as np
from framead.rules import mutation_rules as _mut
from framead.rules.registry import generation_cell

from framead import rules
from framead.ir import Node, Value

from . import _evalframe as C
from .buffers import Buffer, Entry, WeakEntry
from .call_kinds import CALL_KINDS
from .callables import holds_traced
from .calls import dispatch
from .membership import key_lookup, set_decision, set_operator
from .native import Result, call_as_user
from .operators import COMPARE_OPS, FUNC_OPS, INPLACE_OPS, UNARY_OPS
from .overrides import (
    object_loop_elements,
    object_loop_item,
    object_loop_steps,
    operator_runs_python,
    python_attr,
    unary_runs_python,
)
from .primitive_rules import SETITEM_RULE, VIEW_UPDATE_RULE
from .protocols import NO_SLOT, binary_operand
from .saves import saved_set
from .sourceloc import loc_of, user_tracebacks, where_of
from .special_forms import check_hit, object_made, object_operands
from .text_mod import text_mod
from .zero_trip import note as note_compare

_HEAPTYPE = 1 << 9
_SETS = frozenset({set, frozenset})
_NUMERIC_TYPES = (float, int, complex, np.ndarray, np.generic)
_FAST_SCALARS = frozenset({float, int, complex, bool})
_PY_DTYPES = {float: np.dtype(float), complex: np.dtype(complex)}
# attributes that hand out an array's memory itself (read there, framead sees nothing: FA105)
_RAW_MEMORY = frozenset({"data", "ctypes", "__array_interface__", "__array_struct__"})
_MOD = FUNC_OPS.index(operator.mod)  # BINARY_OP's oparg of %
_MATMUL = FUNC_OPS.index(operator.matmul)
_NO_COMPLEX = (FUNC_OPS.index(operator.floordiv), _MOD)
_SWAPPED = (4, 5, 2, 3, 0, 1)  # COMPARE_OPS' reflections (< and >, <= and >=)
_OP_RULES: list = []
_OP_SAVES: list = []  # per operator: saves when only a / only b / both are traced
_OP_GEN = [-1]  # the registry's generation they were made at
_GENERATION = generation_cell()
# one thread at a time remakes the tables above and _FAST_TABLES (else: stale, mislabelled)
_OP_LOCK = threading.RLock()  # (reentrant: a signal handler or finalizer may call grad)


class ProbeHandlers:
    """The probe entry points of ``Recorder`` (each finds its frame with ``sys._getframe``)."""

    @user_tracebacks
    def binop(self, oparg: int, a: Any, b: Any) -> Any:
        return self.binary(oparg, a, b, sys._getframe(1))

    def binary(self, oparg: int, a: Any, b: Any, frame: Any) -> Any:
        """``a <op> b`` (BINARY_OP's oparg; also ``operator.add(a, b)`` called): NumPy and
        Python scalars recorded, lists met by NumPy coerced, other operands native."""
        ta, tb = type(a), type(b)
        if ta in _FAST_SCALARS and tb in _FAST_SCALARS:
            return self._scalar_binop(oparg % 13, a, b, frame)
        if (ta.__flags__ | tb.__flags__) & _HEAPTYPE or ta is deque or tb is deque:
            # an array-like (``v @ obj``), a sequence NumPy reads: as NumPy does; else _object_loop
            result = binary_operand(self, oparg, a, b, frame)
            if result is NO_SLOT:
                result = self._object_loop(oparg, a, b, frame)
            if result is not NO_SLOT:
                return result
        if operator_runs_python(oparg, ta, tb, a, b):  # np.matrix's *, np.ma's: instrumented,
            return self.hold_if_container(call_as_user(  # the user's frame its caller (an
                INPLACE_OPS[oparg - 13] if oparg >= 13 else FUNC_OPS[oparg], (a, b), None))
        if self.containers and (_held_objects(self, a) or _held_objects(self, b)) and \
                ta in _OBJECT_OPERANDS and tb in _OBJECT_OPERANDS and \
                (rule := rules.lookup(FUNC_OPS[oparg % 13])) is not None:
            # an object array of traced numbers: recorded on its numbers
            return object_operands(self, rule, INPLACE_OPS[oparg - 13] if oparg >= 13
                                   else FUNC_OPS[oparg], (a, b), {}, (a, b), frame)
        if not (_numeric(a) and _numeric(b)):
            if _meets_numpy(a, b) or _meets_numpy(b, a):
                return self._sequence_binop(oparg, a, b, frame)
            # user classes (their dunders run instrumented), lists, strings: nothing to record
            if self.guards is not None and (ta in _SETS or tb in _SETS):  # s | t (tracked)
                return set_operator(self, INPLACE_OPS[oparg - 13] if oparg >= 13
                                    else FUNC_OPS[oparg], a, b, frame)
            if isinstance(a, str | bytes):  # "%g" % x: text (a parse of it is FA111)
                text = text_mod(self, oparg, a, b, frame) if self.guards is not None and \
                    oparg % 13 == _MOD else (INPLACE_OPS[oparg - 13] if oparg >= 13
                                             else FUNC_OPS[oparg])(a, b)
                self.made_text(text, frame)
                return text
            return call_as_user(INPLACE_OPS[oparg - 13] if oparg >= 13 else FUNC_OPS[oparg],
                                (a, b), None)  # (a user class's dunder: the user's line calls)
        if oparg >= 13:
            fop, iop = FUNC_OPS[oparg - 13], INPLACE_OPS[oparg - 13]
            if isinstance(a, np.ndarray):
                return self._inplace(fop, iop, a, b, frame)
        else:
            fop = iop = FUNC_OPS[oparg]
        rule = rules.lookup(fop)
        if rule is None:
            return self.unknown_call(iop, (a, b), {}, frame)
        result = self.apply(rule, iop, (a, b), {}, (a, b), frame)
        if type(result) is np.ndarray and result.dtype.kind == "O":  # objs * x: the object loop
            object_made(self, f"operator.{fop.__name__}", (a, b), result, frame)
        return result

    def _object_loop(self, oparg: int, a: Any, b: Any, frame: Any) -> Any:
        """``a <op> b`` (``-1 - oparg``: COMPARE_OP's), a traced NumPy scalar or array and an
        object NumPy knows nothing of (a Fraction): NumPy's object loop computes ``op`` on
        its value(s) as fresh Python numbers. Mirrored in CPython's order (object_loop_steps),
        each number recorded as ``float(x)`` (``complex``/``int``/``bool``), the object's
        method run instrumented; else natively, FA101 if nothing traced is left."""
        cmp = oparg < 0
        k, inplace = (-1 - oparg, False) if cmp else (oparg % 13, oparg >= 13)
        kind = object_loop_item(a)
        x, obj, left = (a, b, True) if kind is not None else (b, a, False)
        kind = kind or object_loop_item(b)
        if kind is None or self.value_of(x) is None or not cmp and (
                k == _MATMUL or (left and inplace and type(a) is np.ndarray) or
                (kind is complex and k in _NO_COMPLEX and type(x) is not np.ndarray)):
            return NO_SLOT  # (0-d x *= obj: NumPy's casting error; complex x // obj: obj's)
        op = COMPARE_OPS[k] if cmp else FUNC_OPS[k]
        steps = object_loop_steps(obj, op.__name__.rstrip("_"), inplace, left)
        if steps is None:
            return NO_SLOT
        if type(steps) is str or cmp and type(x) is np.ndarray and x.ndim:
            result = (INPLACE_OPS[k] if inplace else op)(a, b)
            if not cmp and not holds_traced(result, deep=True):
                self.hazard("FA101", f"operator.{op.__name__}", frame, f"NumPy's object loop "
                            f"gave a {type(obj).__name__}'s operator a number made in C from a "
                            f"traced {type(x).__name__} ({steps}): the gradient through it is lost")
            return result
        for method in steps:  # (obj's own, given the scalar itself)
            r = method(x)
            if r is not NotImplemented:
                return r

        def element(i: Any) -> Any:  # (on the number NumPy makes of x, or of x[i])
            n = dispatch(self, kind, (x if i is None else self.get_item(x, i, frame),), {}, frame)
            return op(n, obj) if left else COMPARE_OPS[_SWAPPED[k]](n, obj) if cmp else op(obj, n)
        r = object_loop_elements(x, element)  # (a 0-d array's comparison: the ufunc's bool)
        return (np.bool_(bool(r)) if type(x) is np.ndarray else r) if cmp else \
            self.hold_if_container(r)

    def _sequence_binop(self, oparg: int, a: Any, b: Any, frame: Any) -> Any:
        """A list/tuple operand of a NumPy array or scalar: NumPy coerces it to an array
        (``x - [1.0, 2.0]``, ``[t, 2.0] * x``), unless ``*`` repeats it (``[t] * np.int64(2)``)."""
        fop = FUNC_OPS[oparg % 13]
        iop = INPLACE_OPS[oparg % 13] if oparg >= 13 else fop
        if oparg >= 13 and isinstance(a, np.ndarray):
            return self._inplace(fop, iop, a, b, frame)
        result = iop(a, b)  # native: coerced, repeated, or the native exception
        rule = rules.lookup(fop)
        if rule is None or not isinstance(result, np.ndarray | np.generic) or \
                self.entries.get(id(result)) is not None:
            return result
        operands = (self.coerce(a, frame), self.coerce(b, frame))
        return self.apply(rule, Result(result), (), {}, operands, frame)

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
        try:
            return self.apply(rules.lookup(np.array), np.array, (x,), {}, (x,), frame)
        except (ValueError, TypeError):
            return x

    def _scalar_binop(self, k: int, a: Any, b: Any, frame: Any) -> Any:
        """Python float/int/complex operands: the common case of legacy scalar loops, kept
        short (no frames can run, nothing can alias)."""
        try:
            result = FUNC_OPS[k](a, b)
        except Exception as e:  # (x / y, y == 0: a program catching it takes another path)
            if self.guards is not None and (self.value_of(a) is not None or
                                            self.value_of(b) is not None):
                self._raised(FUNC_OPS[k].__name__, e, frame)
            raise
        entries = self.entries
        ea, eb = entries.get(id(a)), entries.get(id(b))
        va = ea.value if ea is not None and ea.obj is a else None
        vb = eb.value if eb is not None and eb.obj is b else None
        if va is None and vb is None:
            return result
        rule = _OP_RULES[k]
        if rule is None:
            return self.unknown_call(FUNC_OPS[k], (a, b), {}, frame)
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
                               (v,), where_of(frame), saves))
        return result

    @user_tracebacks
    def unary(self, name: str, a: Any) -> Any:
        frame = sys._getframe(1)
        op = UNARY_OPS[name]
        if not _numeric(a) or unary_runs_python(name, type(a)):
            return op(a)
        rule = rules.lookup(op)
        if rule is not None and self.containers and _held_objects(self, a):
            return object_operands(self, rule, op, (a,), {}, (a,), frame)
        if rule is None:
            return self.unknown_call(op, (a,), {}, frame)
        return self.apply(rule, op, (a,), {}, (a,), frame)

    @user_tracebacks
    def compare(self, oparg: int, a: Any, b: Any) -> Any:
        heap = (type(a).__flags__ | type(b).__flags__) & _HEAPTYPE  # (a user class's __eq__
        result = self._object_loop(-1 - oparg, a, b, sys._getframe(1)) if heap else NO_SLOT
        if result is NO_SLOT:  # is called from the user's line)
            result = call_as_user(COMPARE_OPS[oparg], (a, b), None) if heap else \
                COMPARE_OPS[oparg](a, b)
        if self.first_comparison is None:  # for finish(): results reached only this way
            self.first_comparison = loc_of(sys._getframe(1))
        note_compare(self, a, b)  # (capture/zero_trip.py)
        if self.guards is not None:
            vals = (self.tree_value(a), self.tree_value(b))
            if vals != (None, None):
                self.guard(COMPARE_OPS[oparg], (a, b), {}, vals, result, sys._getframe(1))
            elif type(a) in _SETS and type(b) in _SETS:  # s == t of a tracked set
                set_decision(self, COMPARE_OPS[oparg], a, b, result, sys._getframe(1))
            elif isinstance(a, dict) or isinstance(b, dict):  # {k: x} == {k: y}: in C
                self.unreplayable.append(f"a dict comparison of traced values at "
                                         f"{loc_of(sys._getframe(1)).short()}")
        return result

    @user_tracebacks
    def getitem(self, a: Any, k: Any) -> Any:
        frame = sys._getframe(1)
        return self.get_item(a, k, frame)

    def get_item(self, a, k, frame, base_slot=None):
        """``a[k]``; ``base_slot``: ndarray's own ``__getitem__`` bound to a subclass instance
        (``super().__getitem__(k)`` in np.memmap), recorded without running it again."""
        if type(a) is np.flatiter:
            return self.apply(rules.lookup(_mut.flat_getitem), operator.getitem, (a, k),
                              {}, (a.base, k), frame)
        if not isinstance(a, np.ndarray | np.generic):  # containers: identity carries traced
            out = call_as_user(operator.getitem, (a, k), None) if type(a).__flags__ & \
                _HEAPTYPE else a[k]  # items along (a class's __getitem__: the user's line calls)
            if isinstance(a, dict) and not python_attr(type(a), "__getitem__"):
                if self.value_of(k) is not None:  # a memo table's hit
                    check_hit(self, a, k, out, frame, f"{type(a).__name__}[key]")
                key_lookup(self, a, k, frame)  # (tally[1.0] of traced keys, cached)
            return out
        if base_slot is None and python_attr(type(a), "__getitem__"):
            return call_as_user(operator.getitem, (a, k), None)  # np.matrix's, np.ma's own
        rule = rules.lookup(operator.getitem)
        if base_slot is None and self.containers and _held_objects(self, a):
            return object_operands(self, rule, operator.getitem, (a, k), {}, (a, k), frame)
        if base_slot is not None:
            return self.apply(rule, base_slot, (k,), {}, (a, k), frame, recipe_parent=a,
                              recipe=("getitem", k))
        return self.apply(rule, operator.getitem, (a, k), {}, (a, k), frame,
                          recipe_parent=a, recipe=("getitem", k))

    @user_tracebacks
    def setitem(self, a: Any, k: Any, v: Any) -> None:
        if type(k) is slice and isinstance(a, list) and self.reads_rows(v) and \
                not python_attr(type(a), "__setitem__"):
            v = list(self.rows(v))  # L[i:j] = x iterates x in C: its rows as read
        return self.set_item(a, k, v, sys._getframe(1))

    @user_tracebacks
    def getattr(self, obj: Any, name: str) -> Any:
        return self.get_attr(obj, name, sys._getframe(1))

    def get_attr(self, obj: Any, name: str, frame: Any) -> Any:
        """``obj.name`` read in ``frame``."""
        rule = None if python_attr(type(obj), name) else rules.lookup_attr(type(obj), name)
        if rule is None:  # (a subclass's own property, np.matrix's .T, runs instrumented)
            out = getattr(obj, name)
            if name in _RAW_MEMORY and not python_attr(type(obj), name) and \
                    isinstance(obj, np.ndarray | np.generic) and self.value_of(obj) is not None:
                # (ndarray's own attribute: np.ma's .data is its data array, no raw memory)
                self.hazard("FA105", f"ndarray.{name}", frame,
                            f"ndarray.{name} exports a traced array's raw memory: what is read "
                            "or written through it (np.frombuffer, ctypes pointers, "
                            "np.asarray of the interface) is not recorded")
            if type(out) is np.flatiter and self.value_of(obj) is not None:
                self.containers[id(out)] = out  # a.flat[k] reads/writes come back to us
                C.track(out)
            return out
        fn = _AttrGetter(name)
        if self.containers and _held_objects(self, obj):
            return object_operands(self, rule, fn, (obj,), {}, (obj,), frame)
        return self.apply(rule, fn, (obj,), {}, (obj,), frame, recipe_parent=obj,
                          recipe=("attr", name))

    @user_tracebacks
    def getiter(self, obj: Any) -> Any:
        if self.reads_rows(obj):
            return self.rows(obj)
        return obj

    def reads_rows(self, obj: Any) -> bool:
        """Whether iterating ``obj`` reads the rows of a traced array (ndarray's ``__iter__``)."""
        if type(obj) is np.flatiter:
            return self.value_of(obj.base) is not None
        return isinstance(obj, np.ndarray) and obj.ndim >= 1 and \
            not python_attr(type(obj), "__iter__") and self.value_of(obj) is not None

    def rows(self, a: Any, reverse: bool = False) -> Any:
        """``iter(a)`` (``reversed(a)``) of a traced array: its rows as this recorder reads
        them (C's ``Rows``: the getitem fast path, else ``_row``), the recorder held weakly
        (a kept iterator must not keep the recording alive). ``a.flat``: from where it is."""
        if type(a) is np.flatiter:
            return reversed(a) if reverse else C.Rows(weakref.ref(self), a, _flat_row)
        return C.Rows(weakref.ref(self), a, _row, reverse)

    @user_tracebacks
    def unpack(self, obj: Any) -> Any:
        if self.reads_rows(obj):
            frame = sys._getframe(1)
            if type(obj) is np.flatiter:  # (from where it stands, and it is advanced)
                out = []
                while obj.index < obj.base.size:
                    out.append(_flat_next(self, obj, frame))
                return tuple(out)
            return tuple(self.get_item(obj, i, frame) for i in range(len(obj)))
        return obj

    @user_tracebacks
    def call(self, fn: Any, args: tuple, kwargs: dict | None) -> Any:
        return dispatch(self, fn, args, kwargs or {}, sys._getframe(1))


def init_op_rules() -> None:
    """_OP_RULES and _OP_SAVES as the rules are registered now (made again after a
    registration: each capture calls this when it starts)."""
    if _OP_GEN[0] == _GENERATION[0]:
        return
    with _OP_LOCK:
        gen = _GENERATION[0]  # (read first: a rule registered meanwhile makes it old)
        if _OP_GEN[0] != gen:
            op_rules = [rules.lookup(op) for op in FUNC_OPS]
            _OP_RULES[:] = op_rules
            _OP_SAVES[:] = [None if r is None else tuple(saved_set(r, t) for t in
                                                         ((0,), (1,), (0, 1)))
                            for r in op_rules]
            _FAST_TABLES.clear()
            _OP_GEN[0] = gen


# the operators by BINARY_OP oparg % 13, as capture/_evalframe.c's fast_op numbers them
_C_OP_ORDER = ("add", "and_", "floordiv", "lshift", "matmul", "mul", "mod", "or_", "pow",
               "rshift", "sub", "truediv", "xor")


# the recorder methods capture/_evalframe.c's fast path reproduces (overridden: the handlers)
_C_MIRRORED = ("binop", "binary", "_scalar_binop", "getitem", "get_item", "setitem", "set_item",
               "call", "unary", "compare", "apply", "tree_value", "value_of", "_outputs",
               "_new_value", "_register", "_entry", "_protect", "copy_on_write", "write_back",
               "fresh_array", "fresh_view", "_weak_primal", "_own_buffer", "_keep")


def _framead_method(cls: type, name: str) -> bool:
    """Is ``cls.name`` the method of framead's own recorder classes (not a subclass's)?"""
    owner = next((k for k in cls.__mro__ if name in k.__dict__), None)
    return owner is not None and owner.__module__.startswith(__package__ + ".")


def fast_record_state(rec: Any) -> tuple | None:
    """What capture/_evalframe.c needs to record ``rec``'s traced scalar binops, float64
    array arithmetic, ``-x``/``+x``, ``a[i]``/``a[i] = v`` of float64 arrays and ``math.f(x)``
    itself and to compare scalars (as the handlers would), or None where the handlers must:
    a recorder class that changes how they are recorded, or one that records guards, is
    strict or saves everything. (Tables: the rules now; C checks the registry's generation.)"""
    cls = type(rec)
    if not isinstance(rec, ProbeHandlers) or (
            not cls.__module__.startswith(__package__ + ".")  # (framead's own: all its bases)
            and not all(_framead_method(cls, name) for name in _C_MIRRORED)):
        return None
    if getattr(rec, "guards", 0) is not None or getattr(rec, "strict", True) or \
            getattr(rec, "save_all", True) or type(getattr(rec, "entries", None)) is not dict:
        return None
    init_op_rules()
    made = next(iter(_FAST_TABLES), None)  # (one read: the tables and their generation)
    if made is None or made[1] != _OP_GEN[0]:
        with _OP_LOCK:  # (the tables and the generation they were made at, together)
            if not _FAST_TABLES:
                _FAST_TABLES.append((_fast_tables(), _OP_GEN[0]))
            made = _FAST_TABLES[0]
    tables, gen = made
    if tables is None:
        return None
    arrays = (rec.fresh_array, rec._protect, _record_computed, rec.fresh_view, tables[6],
              Buffer, WeakEntry, rec._on_death, tables[7], _record_computed_kw,
              VIEW_UPDATE_RULE)
    return (rec, *tables[:2], Entry, Value, Node, _PY_DTYPES[float], np.float64, *tables[2:6],
            arrays, (_GENERATION, gen))


def _record_computed(rec: Any, rule: Any, result: Any, *operands: Any) -> Any:
    """``rule`` on float64 arrays, computed by C, recorded by ``apply`` (a result the C fast
    path does not record itself); called from the user's frame."""
    return rec.apply(rule, Result(result), (), {}, operands, sys._getframe(1))


def _record_computed_kw(rec: Any, rule: Any, result: Any, kwargs: dict, *operands: Any) -> Any:
    """``_record_computed`` of a call with keyword arguments (``np.sum(x, axis=0)``)."""
    return rec.apply(rule, Result(result), (), kwargs, operands, sys._getframe(1))


def _fast_tables() -> tuple | None:
    """(rules, saves) by operator as _scalar_binop uses them (None: not in C), (rule, saves)
    of ``a[i]`` and the rule of ``a[i] = v`` (None for both: no plain getitem rule),
    ``{math.f: (rule, saves)}``, (rule, saves) of ``-x``/``+x`` (or None), ``{ufunc: (rule,
    saves)}`` of NumPy's one-input ufuncs; None when the C numbering differs."""
    if tuple(f.__name__ for f in FUNC_OPS) != _C_OP_ORDER:
        return None
    rules_ = tuple(None if r is None or r.cut or getattr(r, "hazard", None) else r
                   for r in _OP_RULES[:13])
    saves = tuple(None if r is None else _OP_SAVES[k] for k, r in enumerate(rules_))
    rule = rules.lookup(operator.getitem)
    if rule is None or rule.cut or getattr(rule, "hazard", None):
        getitem = setitem = None
    else:
        getitem, setitem = (rule, saved_set(rule, (0,))), SETITEM_RULE
    unary = tuple(None if r is None or r.cut or getattr(r, "hazard", None) else
                  (r, saved_set(r, (0,))) for r in map(rules.lookup, (operator.neg, operator.pos)))
    return rules_, saves, getitem, setitem, _one_argument_calls(math), unary, \
        _one_argument_calls(np), _reductions()


def _reductions() -> dict:
    """``{np.sum: (rule, saves), np.ndarray.sum: ..., np.mean: ...}``: the reductions whose
    call on one float64 array, with an int ``axis`` keyword or none, calls.dispatch records
    as ``apply(rule, fn, (x,), kwargs, (x,))`` with nothing else to do (the rule as
    _one_argument_calls asks); the methods where they are recorded with the function's rule."""
    out = {}
    for fn in (np.sum, np.mean):
        rule = rules.lookup(fn)
        if rule is None or rule.cut or getattr(rule, "hazard", None) or rule.mutates or \
                id(fn) in CALL_KINDS or 0 in rule.nondiff or not rule.has_vjp(0):
            continue
        out[fn] = (rule, saved_set(rule, (0,)))
        if rules.lookup_method(np.ndarray, fn.__name__) is rule:  # (x.sum(axis=0))
            out[getattr(np.ndarray, fn.__name__)] = out[fn]
    return out


def _one_argument_calls(module: Any) -> dict:
    """``{fn: (rule, saves)}``: math's functions (NumPy's one-input ufuncs) whose call on one
    float (float64 array) calls.dispatch records as ``apply(rule, fn, (x,), {}, (x,))`` with
    nothing else to do (a rule that is not cut, has no hazard, mutates nothing and has a VJP
    for its argument; a ufunc's elementwise)."""
    out = {}
    for fn in list(vars(module).values()):  # (not dir/getattr: NumPy imports submodules lazily)
        if module is np:
            ok = type(fn) is np.ufunc and fn.nin == 1 and fn.nout == 1
        else:
            ok = type(fn) is types.BuiltinFunctionType
        rule = rules.lookup(fn) if ok else None
        if rule is None or rule.cut or getattr(rule, "hazard", None) or rule.mutates or \
                id(fn) in CALL_KINDS or 0 in rule.nondiff or \
                (module is np and not (rule.elementwise and rule.name.startswith("np."))):
            continue
        vjp = rule.vjp
        if callable(vjp) or (isinstance(vjp, tuple) and vjp and vjp[0] is not None):
            out[fn] = (rule, saved_set(rule, (0,)))
    return out


_FAST_TABLES: list = []  # [((rules, saves) by operator, or None: the C numbering differs;
#                           the _OP_GEN they were made at)]


_OBJECT_OPERANDS = frozenset({np.ndarray, float, int, complex, np.float64})


def _held_objects(rec: Any, a: Any) -> bool:
    """``a`` is an object array the recorder holds as a container of traced numbers."""
    return type(a) is np.ndarray and rec.containers.get(id(a)) is a


def _numeric(x: Any) -> bool:
    """Operands whose operators have rules (subclasses whose operator is Python code were
    sent to it before: overrides.operator_runs_python)."""
    return isinstance(x, _NUMERIC_TYPES)


def _meets_numpy(seq: Any, other: Any) -> bool:
    """A list/tuple operand meeting a NumPy array or scalar (NumPy's operator coerces it)."""
    return type(seq) in (list, tuple) and isinstance(other, np.ndarray | np.generic) and \
        _numeric(other)


def _row(rec_ref: Any, a: np.ndarray, i: int) -> Any:
    """``a[i]`` for ``Rows`` off its fast path: by the recorder, or plainly once it is gone."""
    rec = rec_ref()
    return a[i] if rec is None else rec.get_item(a, i, sys._getframe(1))


def _flat_row(rec_ref: Any, it: np.flatiter, i: int) -> Any:
    """The next element of ``it`` (``a.flat``) for ``Rows`` (not ``i``: ``it``'s own index)."""
    return _flat_next(rec_ref(), it, sys._getframe(1))


def _flat_next(rec: Any, it: np.flatiter, frame: Any) -> Any:
    """``next(it)``: ``it`` advanced natively (``it[k]`` resets it), the element read by the
    recorder (if any) from the array it walks, at its C-order position."""
    k = it.index
    out = next(it)
    if rec is None:
        return out
    base = it.base
    if base.ndim != 1:
        key = []
        for n in reversed(base.shape):
            k, r = divmod(k, n)
            key.append(r)
        k = tuple(reversed(key))
    return rec.get_item(base, k, frame)


class _AttrGetter:
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __call__(self, obj):
        return getattr(obj, self.name)
