"""What a traced call does: one table from callable to kind (dynamo's trace_rules.py is the
model). ``calls.dispatch`` asks its questions in this order; the first that applies wins:

 1. SOLVER          a registered solver adjoint (register_solvers): its handler
 2. OPERATOR        ``operator.add(a, b)``: recorded as ``a + b`` (data: BINARY_OP's oparg)
 3. (slots called by name: ``x.__mul__(y)``, ``np.ndarray.__getitem__(a, k)``: protocols)
 4. OWN_DUNDER      ``float(x)``, ``abs(x)`` of a subclass with its own Python dunder: that
                    dunder runs instrumented (data: the dunder's name)
 5. SPECIAL_FORM    ``sum``, ``map``, ``functools.reduce``/``partial``, ``as_strided``...: its
                    handler sees through the call (special_forms.py); ``eval``/``exec``,
                    exceptions built in C and the reference movers (``SimpleNamespace``,
                    ``operator.setitem`` of a list...: MOVES with the positions they move)
                    run natively (reference_moves.py: no FA101 where nothing is lost)
    TEXT            ``str``, ``repr``, ``format`` (STRUCTURAL): text of traced values, run
                    natively; a cached trace guards the text it made (calls.text_guard)
 6. (a ``functools.partial`` object: the call it wraps)
 7. ATTRIBUTE_WRITE ``setattr(a, "flat", v)``: a write into a's buffer (writers.py)
 8. WRITER          ``np.copyto``, ``np.put``...: the functional rule's node, then the write
 9. (an ndarray subclass's Python ``__array_ufunc__``/``__array_function__``: protocols)
10. INPLACE_METHOD  ``a.sort()``, ``a.fill(v)``, ``a.put(...)`` (ndarray's methods, by name)
11. UFUNC_METHODS   ``np.add.reduce`` is ``np.sum`` (data: {method: function}); ``ufunc.at``
                    is a write; bool-valued ufuncs' reductions are static results
12. (a rule in framead.rules: recorded)
13. (an object ufunc, np.frompyfunc's: its Python callbacks see traced items)
14. ROWS            ``L.extend(x)``: iterates x in C, so x's rows as the recorder reads them
15. GUARDED         ``list.sort``, ``bisect``, ``heapq``: a cached trace guards the order it
                    decides (ORDERING: one that cannot be replayed); DECIDING (``bool``,
                    ``math.isnan``/``isclose``, ``np.isfinite``/``allclose``...): predicates of
                    values, run natively (STRUCTURAL), whose answer a cached trace guards;
                    np.isnan/isinf/isfinite SPECIAL_FORMs (writers.predicate_ufunc: out=)
    HASHED          ``set(it)``, ``frozenset``, ``dict.fromkeys``, Counter's counting, ``s.add``,
                    ``s.update``...: a cached trace guards which items merge and a set's
                    order (membership.hashed_call)
    EQUALITY        ``L.count(v)``, ``L.index``, ``L.remove``, tuple's, deque's,
                    ``operator.countOf/indexOf``, ``itertools.groupby``'s runs: equality
                    decided in C; in a cached trace guarded (decision_guards.py), asked
                    right after SOLVER
16. ITERATING       ``list``, ``zip``, ``min``, ``set``, ``deque``, ``d.extend``, itertools'
                    ``islice``, ``product``, ``groupby``...: traced arrays (and ``a.flat``)
                    give their rows, also given by keyword (``ITERABLE_KEYWORDS``); PAIRS
                    (``dict(m)``, ``d.update(m)``): each row's items, the merged keys
                    guarded (membership.pairs_call); CHOOSING (``min``, ``max``, ``sorted``,
                    ``any``, ``all``): a cached trace guards the choice; SHORT_CIRCUIT
                    (``any``, ``all``): the choice itself is the guard.
                    (``chain.from_iterable``, which iterates what it iterates, and
                    ``itemgetter(k)(x)``/``attrgetter(n)(x)``, which index a traced array in
                    C, are SPECIAL_FORMs: ``nested_rows``, ``getter_call``)
17. (lru_cache wrappers, generator send/throw, number subclasses built in C: protocols)
18. (Python functions and classes: they run instrumented)
19. LOOKUP          ``d.get(k)``, ``d.setdefault``, ``d.pop``, ``operator.contains(d, k)`` of
                    dicts and sets (also bound to a subclass): with a traced key, a hit on an
                    entry this call did not compute is FA110 (special_forms.container_lookup)
20. STRUCTURAL      moves traced items by identity (C flag NATIVE); CALLBACK_SAFE: calls Python
                    back only to order or filter; heap classes built in C: natively
21. (no traced argument: calls.callback_call; FA101 if its callbacks lost a gradient)
22. (anything else: unruled.unknown_call, FA101; RAW_STORAGE: FA105)

The C trampoline's flags come from the same table (configure_flags): STRUCTURAL NATIVE; ROWS
and ITERATING but not CHOOSING RULE; HASHED and PAIRS none (traced values inside lists,
generators and iterators send them here); every callable with a rule RULE|SCAN;
SPECIAL_FORM ALWAYS (``getattr``: RULE); WRITER RULE|SCAN; LOOKUP RULE; SOLVER ALWAYS (a
later group wins). While any session
records guards, CHOOSING and GUARDED callables are ALWAYS, TEXT ones RULE|SCAN
(capture/session.py).
"""

from __future__ import annotations

import _collections  # type: ignore[import-not-found]
import _weakref
import array
import bisect
import builtins
import collections
import ctypes
import functools
import gc
import itertools
import math
import operator
import struct
import sys
import types
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy._core import _multiarray_umath

from framead import rules

from . import _evalframe as C
from . import opcodes_common, writers
from . import special_forms as sf
from .callables import HEAPTYPE, constructs_in_python
from .decision_guards import EQUALITY, slice_call
from .membership import merge_call
from .native import call_as_user
from .operators import BINARY_NAMES
from .reference_moves import (
    CODE_RUNNERS,
    EXCEPTION_CALL_TYPES,
    HEAP_FUNCTIONS,
    MOVE_TYPES,
    build_exception,
    builds_exception,
    move_call,
    moves_references,
    run_code,
)


class Kind:
    """What a traced call of a callable does: bits, one callable may be of several kinds
    (plain ints: dispatch tests them on every traced call, where enum.Flag costs a microsecond
    per test)."""

    NONE = 0
    SOLVER = 1 << 0
    OPERATOR = 1 << 1
    OWN_DUNDER = 1 << 2
    SPECIAL_FORM = 1 << 3
    ATTRIBUTE_WRITE = 1 << 4
    WRITER = 1 << 5
    INPLACE_METHOD = 1 << 6
    UFUNC_METHODS = 1 << 7
    ROWS = 1 << 8
    GUARDED = 1 << 9
    ORDERING = 1 << 10
    ITERATING = 1 << 11
    CHOOSING = 1 << 12
    SHORT_CIRCUIT = 1 << 13
    STRUCTURAL = 1 << 14
    CALLBACK_SAFE = 1 << 15
    RAW_STORAGE = 1 << 16
    DECIDING = 1 << 17
    LOOKUP = 1 << 18
    TEXT = 1 << 19
    HASHED = 1 << 20
    PAIRS = 1 << 21
    EQUALITY = 1 << 22


@dataclass(frozen=True, slots=True)
class CallKind:
    """One callable's entry: its kinds, and the handler or datum those kinds use."""

    fn: Any
    kind: int  # Kind bits
    data: Any = None


# (every C heap function: also the _max variants heapq.nlargest/nsmallest/merge call)
_ORDERING = (bisect.bisect_left, bisect.bisect_right, bisect.insort_left, bisect.insort_right,
             *HEAP_FUNCTIONS)

_PREDICATES = (builtins.bool, math.isfinite, math.isnan, math.isinf, math.isclose,
               np.isclose, np.allclose, np.array_equal)
# predicate ufuncs: they take ``out=`` (a write into a traced array is recorded:
# writers.predicate_ufunc), so they come to dispatch given traced values, never natively
_UFUNC_PREDICATES = (np.isfinite, np.isnan, np.isinf)

# C callables (and C methods, also bound: ``d.extend``) that iterate their arguments: a traced
# array among them is its rows as the recorder reads them (NumPy's own iteration makes
# untraced scalars: ``sum(takewhile(p, x))``, ``max(set(x))`` lost x's gradient silently).
# Not ``itertools.repeat``, which keeps its argument as it is.
_ITERATE_ARGUMENTS = (
    builtins.set, builtins.frozenset, collections.deque, collections.deque.extend,
    collections.deque.extendleft, set.update, set.union, set.intersection,
    set.intersection_update, set.symmetric_difference, set.symmetric_difference_update,
    frozenset.union, frozenset.intersection, frozenset.symmetric_difference,
    _collections._count_elements,  # (collections.Counter(x))
    itertools.chain, itertools.islice, itertools.zip_longest, itertools.product,
    itertools.permutations, itertools.combinations, itertools.combinations_with_replacement,
    itertools.cycle, itertools.groupby, itertools.compress, itertools.takewhile,
    itertools.dropwhile, itertools.filterfalse, itertools.tee, itertools.pairwise,
    *([itertools.batched] if hasattr(itertools, "batched") else []),  # 3.12+
    dict.fromkeys)
_SET_METHODS = ("add", "update", "discard", "remove", "pop", "clear", "difference_update",
                "intersection_update", "symmetric_difference_update", "union", "intersection",
                "difference", "symmetric_difference", "copy", "issubset", "issuperset",
                "isdisjoint")
# the keyword parameters that name what such a callable iterates (``deque(iterable=x)``,
# ``enumerate(iterable=x)``, ``compress(data=x, selectors=m)``): given by name, the same rows
ITERABLE_KEYWORDS: dict[int, tuple[str, ...]] = {id(f): ("iterable",) for f in (
    collections.deque, builtins.enumerate, itertools.groupby, itertools.combinations,
    itertools.combinations_with_replacement, itertools.permutations,
    *([itertools.batched] if hasattr(itertools, "batched") else []))}
ITERABLE_KEYWORDS[id(itertools.compress)] = ("data", "selectors")
# C code that reads each item it iterates as a (key, value) pair (PySequence_Fast): a traced
# (n, 2) array's rows, then each row's two items, as the recorder reads them
PAIRS = (builtins.dict, dict.update, collections.OrderedDict, collections.defaultdict)


def nested_rows(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """``itertools.chain.from_iterable(its)``: C iterates ``its`` and then each item of it, so
    a traced array is its rows at both levels (``chain.from_iterable(m)`` of a traced 2-d
    ``m``: its rows, then each row's items, as the recorder reads them)."""
    if len(args) != 1 or kwargs:
        return call_as_user(fn, args, kwargs)
    return call_as_user(fn, (map(_ItemRows(weakref.ref(rec)), sf.rows_if_traced(
        rec, args[0], frame)),), None)


def pair_rows(rec: Any, x: Any, frame: Any) -> Any:
    """``dict(m)``, ``d.update(m)`` of a traced array, or of an iterable (a generator)
    giving traced rows: each row's items (the pair C reads with PySequence_Fast) as the
    recorder reads them; a mapping (C reads its keys) as it is."""
    if rec.reads_rows(x):
        x = rec.rows(x)
    elif hasattr(type(x), "keys") or not hasattr(type(x), "__iter__") or \
            isinstance(x, str | bytes):
        return x
    return map(_ItemRows(weakref.ref(rec)), x)


_ItemRows = sf.ItemRows  # (its old name)


def getter_call(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """``operator.itemgetter(*keys)(obj)`` and ``operator.attrgetter(*names)(obj)``: each
    ``obj[k]`` (``obj.a.b``) read as the program's own subscript (attribute) would be (C's
    PyObject_GetItem on a traced array made an untraced scalar)."""
    if len(args) != 1 or kwargs:
        return call_as_user(fn, args, kwargs)
    obj, keys = args[0], fn.__reduce__()[1]
    if type(fn) is operator.itemgetter:
        got = tuple(rec.get_item(obj, k, frame) for k in keys)
    else:
        got = tuple(functools.reduce(lambda o, n: rec.get_attr(o, n, frame), k.split("."), obj)
                    for k in keys)
    return got[0] if len(keys) == 1 else got


def attribute_call(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """``getattr(x, name[, default])`` of a traced value: read as the program's ``x.name``
    (``getattr(a, "flat")``: a flat iterator the probes know, whose items are then read)."""
    if not 2 <= len(args) <= 3 or kwargs or type(args[1]) is not str:
        return call_as_user(fn, args, kwargs)
    try:
        return rec.get_attr(args[0], args[1], frame)
    except AttributeError:
        if len(args) == 2:
            raise
        return args[2]


# callables seen through (SPECIAL_FORM) only when an argument is traced (C flag RULE)
_WHEN_TRACED = (builtins.getattr, builtins.slice)


_DECLARED: list[tuple[int, list]] = [
    (Kind.OPERATOR, [(getattr(operator, n), k) for k, n in enumerate(
        [*BINARY_NAMES, *(f"i{m.rstrip('_')}" for m in BINARY_NAMES)])]),
    # C callables that call their argument's dunder: a subclass's Python one runs instrumented
    (Kind.OWN_DUNDER, [
        (builtins.float, "__float__"), (builtins.complex, "__complex__"),
        (builtins.int, "__int__"), (builtins.abs, "__abs__"), (operator.abs, "__abs__"),
        (builtins.round, "__round__"), (math.trunc, "__trunc__"), (math.floor, "__floor__"),
        (math.ceil, "__ceil__"), (operator.index, "__index__"),
        (builtins.divmod, "__divmod__"), (builtins.pow, "__pow__"),
        (operator.neg, "__neg__"), (operator.pos, "__pos__")]),
    (Kind.SPECIAL_FORM, [
        (builtins.sum, sf.sum_items), (math.fsum, sf.fold), (math.prod, sf.fold),
        *([(math.sumprod, sf.fold)] if hasattr(math, "sumprod") else []),  # 3.12+
        (functools.reduce, sf.reduce_items), (builtins.map, sf.map_items),
        (functools.partial, sf.partial_call), (np.lib.stride_tricks.as_strided, sf.as_strided),
        (itertools.starmap, sf.starmap), (itertools.accumulate, sf.accumulate),
        (np.frompyfunc, sf.frompyfunc), (itertools.chain.from_iterable, nested_rows),
        (builtins.getattr, attribute_call), (builtins.slice, slice_call),
        (C.dict_update, merge_call),  # {**m}: which keys merge (opcodes_common)
        *((f, run_code) for f in CODE_RUNNERS)]),  # eval/exec: instrumented frames
    (Kind.ATTRIBUTE_WRITE, [(builtins.setattr, writers.set_attribute)]),
    (Kind.WRITER, [
        (np.copyto, writers.copyto), (np.put, writers.put), (np.place, writers.place),
        (np.putmask, writers.putmask), (np.fill_diagonal, writers.fill_diagonal)]),
    (Kind.INPLACE_METHOD, [
        (np.ndarray.sort, writers.sort_method), (np.ndarray.fill, writers.fill_method),
        (np.ndarray.put, writers.put_method), (np.ndarray.resize, writers.resize_method),
        *([(np.ndarray._set_shape, writers.set_shape_method)]  # (NumPy >= 2.5)
          if hasattr(np.ndarray, "_set_shape") else [])]),
    (Kind.UFUNC_METHODS, [
        (np.add, {"reduce": np.sum, "accumulate": np.cumsum}),
        (np.multiply, {"reduce": np.prod, "accumulate": np.cumprod}),
        (np.maximum, {"reduce": np.max}), (np.minimum, {"reduce": np.min})]),
    (Kind.ROWS, [list.extend]),
    (Kind.GUARDED, [list.sort, *_ORDERING]),
    # predicates of values: natively run (STRUCTURAL below), but their answer is a decision a
    # cached trace re-checks (GUARDED: they come to dispatch while guards are recorded);
    # ``if math.isclose(x, 1.0):`` was replayed unchecked, a wrong branch at other inputs
    (Kind.GUARDED | Kind.DECIDING, list(_PREDICATES)),
    (Kind.SPECIAL_FORM | Kind.DECIDING, [(u, writers.predicate_ufunc) for u in _UFUNC_PREDICATES]),
    (Kind.ORDERING, list(_ORDERING)),
    (Kind.ITERATING | Kind.PAIRS, list(PAIRS)),
    (Kind.ITERATING, [builtins.list, builtins.tuple, builtins.sorted, builtins.min,
                      builtins.max, builtins.zip, builtins.enumerate, builtins.reversed,
                      builtins.iter, builtins.filter, builtins.any, builtins.all,
                      *_ITERATE_ARGUMENTS]),
    (Kind.CHOOSING, [builtins.min, builtins.max, builtins.sorted, builtins.any, builtins.all]),
    # equality decisions made in C (natively: STRUCTURAL; while guards are recorded they come
    # to dispatch, GUARDED's ALWAYS, groupby CHOOSING's), guarded (decision_guards.py)
    (Kind.STRUCTURAL | Kind.GUARDED | Kind.EQUALITY, list(EQUALITY)),
    (Kind.CHOOSING | Kind.EQUALITY, [itertools.groupby]),
    (Kind.SHORT_CIRCUIT, [builtins.any, builtins.all]),
    (Kind.STRUCTURAL, [
        # C functions that take a Python function to run or store as is (never wrap it):
        # __build_class__ runs the class body with the namespace as its locals
        builtins.__build_class__, property, staticmethod, classmethod,
        len, isinstance, issubclass, id, type, print, repr, str, format, ascii, hasattr,
        getattr, opcodes_common.FORMAT, *opcodes_common.CONVERSIONS[2:],
        delattr, callable, hash, range, bool, dict, set, frozenset, slice, vars, dir,
        # introspection never calls its argument (a handler's argument tuple would hold one
        # more reference: sys.getrefcount(f) differed)
        sys.getrefcount, sys.getsizeof, gc.get_referrers, gc.get_referents, gc.is_tracked,
        # weak references: their callbacks get the reference, never a value (each
        # WeakValueDict callback scanned the whole dict: emptying one was quadratic)
        weakref.ref, weakref.KeyedRef, _weakref._remove_dead_weakref,  # type: ignore[attr-defined]
        list.append, list.extend, list.insert, list.pop, list.index, list.count, list.remove,
        list.copy, list.clear, list.reverse, list.sort,
        dict.update, dict.items, dict.keys, dict.values, dict.copy, dict.clear, dict.popitem,
        set.add,
        set.discard, set.update,
        math.isfinite, math.isnan, math.isinf, math.isclose,
        np.shape, np.ndim, np.size, np.isscalar, np.result_type, np.can_cast, np.min_scalar_type,
        np.allclose, np.isclose, np.array_equal, np.ndarray.__len__,
        np.ndarray.view, np.may_share_memory, np.shares_memory,
        # text of traced values (repr of an array), as str/repr/format: FA108 if it comes back
        _multiarray_umath.dragon4_positional, _multiarray_umath.dragon4_scientific,
        _multiarray_umath._array_converter, _multiarray_umath._array_converter.wrap,
        _multiarray_umath._array_converter.as_arrays,
        # containers built in C that keep items by identity (list/tuple arguments are scanned)
        object.__setattr__, object.__getattribute__, collections.OrderedDict,
        collections.deque, collections.defaultdict,
        collections.deque.append, collections.deque.appendleft, collections.deque.extend,
        collections.deque.pop, collections.deque.popleft, operator.itemgetter,
        operator.attrgetter,
        itertools.chain, itertools.chain.from_iterable, itertools.islice,
        itertools.zip_longest, itertools.product, itertools.permutations,
        itertools.combinations, itertools.repeat, itertools.cycle, itertools.groupby,
        itertools.compress, itertools.takewhile, itertools.dropwhile, itertools.filterfalse,
        itertools.tee, itertools.pairwise,
        # order and move items by comparison only (a traced item keeps its identity); their
        # list arguments are often long and searched in a loop, so they are not scanned
        *_ORDERING,
        str.join]),
    (Kind.CALLBACK_SAFE, [list.sort, builtins.sorted, builtins.filter]),
    # sets (and dict keys) made or changed from traced values: which merge and a set's order
    # (by hash) are decisions a cached trace guards (membership.hashed_call)
    (Kind.HASHED, [builtins.set, builtins.frozenset, dict.fromkeys,
                   _collections._count_elements,
                   *(getattr(set, n) for n in _SET_METHODS),
                   *(getattr(frozenset, n) for n in _SET_METHODS if hasattr(frozenset, n))]),
    # text of values: its answer decides where the text does (``if s.startswith("-")``), so
    # a cached trace guards it (these come to dispatch while guards are recorded)
    # (``"{:.3f}".format(x)``: no entry, FA101, a cached trace is not replayed); f-strings
    # come here as format/str/repr/ascii calls (opcodes_common.Emitter.format_value)
    (Kind.TEXT, [builtins.str, builtins.repr, builtins.format, builtins.ascii,
                 opcodes_common.FORMAT, *opcodes_common.CONVERSIONS[2:],
                 _multiarray_umath.dragon4_positional, _multiarray_umath.dragon4_scientific]),
    # lookups by key (dict[k] itself: handlers.get_item): a memo table filled by an earlier
    # call hands back values this capture did not compute
    (Kind.LOOKUP, [(f, sf.container_lookup) for f in (
        dict.get, dict.setdefault, dict.pop, dict.__getitem__, dict.__contains__,
        set.__contains__, frozenset.__contains__, operator.contains)]),
    (Kind.RAW_STORAGE, [struct.pack, struct.pack_into, array.array, array.array.append,
                        array.array.extend, array.array.insert, array.array.fromlist,
                        memoryview, bytearray, bytes]),
]
# classes whose instances keep numbers as raw bytes or C values (storing into them: FA105)
RAW_STORAGE_TYPES = (array.array, memoryview, bytearray, ctypes.Array, ctypes._SimpleCData,
                     ctypes.Structure)
# X.__new__ of these (namedtuple's tuple.__new__(cls, items)) stores items by identity
_CONTAINER_NEW = (object, tuple, list, dict, set, frozenset)


def _build() -> dict[int, CallKind]:
    table: dict[int, CallKind] = {}
    for kind, items in _DECLARED:
        for item in items:
            fn, data = item if kind & _WITH_DATA else (item, None)
            old = table.get(id(fn))
            if old is not None and data is not None and old.data is not None:
                raise ValueError(f"{fn!r}: two data in the call table")
            table[id(fn)] = CallKind(fn, kind | old.kind if old else kind,
                                     data if data is not None else old.data if old else None)
    return table


_WITH_DATA = (Kind.OPERATOR | Kind.OWN_DUNDER | Kind.SPECIAL_FORM | Kind.ATTRIBUTE_WRITE
              | Kind.WRITER | Kind.INPLACE_METHOD | Kind.UFUNC_METHODS | Kind.LOOKUP)
_STATIC = _build()
# the table dispatch reads: the static entries, and the solvers over them (configure_flags)
CALL_KINDS: dict[int, CallKind] = dict(_STATIC)
_BUILTIN_METHOD = types.BuiltinMethodType
# C methods bound anew at each access, by (class, name): their ITERATING and SPECIAL_FORM
# entries (the C flags know them by their method definition already)
_BOUND = {(getattr(e.fn, "__objclass__", None) or e.fn.__self__, e.fn.__name__): e
          for e in _STATIC.values()
          if e.kind & (Kind.ITERATING | Kind.SPECIAL_FORM | Kind.HASHED | Kind.EQUALITY)
          and isinstance(e.fn, types.MethodDescriptorType | types.BuiltinMethodType)
          and isinstance(getattr(e.fn, "__objclass__", None) or e.fn.__self__, type)}
_BOUND_NAMES = frozenset(name for _, name in _BOUND)
_BOUND_OWNERS = tuple({owner for owner, _ in _BOUND})  # (x.copy() of an array: not one)
_BOUND_SEEN: dict[tuple[type, str], CallKind | None] = {}  # (built-in class, name) -> entry
_UNSEEN = object()
_EXCEPTION = CallKind(BaseException, Kind.SPECIAL_FORM, build_exception)
_MOVE = CallKind(None, Kind.SPECIAL_FORM, move_call)  # (reference_moves.MOVES)
_GETTERS = {t: CallKind(t, Kind.SPECIAL_FORM, getter_call)
            for t in (operator.itemgetter, operator.attrgetter)}
# ufunc methods are bound anew at each access: found by the ufunc's name (np.add.reduce)
_UFUNC_METHODS = {e.fn.__name__: e.data for e in _STATIC.values() if e.kind & Kind.UFUNC_METHODS}


def lookup(fn: Any) -> CallKind | None:
    """``fn``'s entry in the table, or None: also an ITERATING or SPECIAL_FORM C method bound
    anew at each access (``d.extend`` of a deque, ``chain.from_iterable``), and the call of an
    ``itemgetter``/``attrgetter`` object, an ITERATING class's subclass built in C, and an
    exception's construction in C (reference_moves.builds_exception)."""
    e = CALL_KINDS.get(id(fn))
    if e is not None and e.fn is fn:
        return e
    t = type(fn)
    if t is _BUILTIN_METHOD and fn.__name__ in _BOUND_NAMES:
        self_ = fn.__self__
        cls = self_ if isinstance(self_, type) else type(self_)
        hit = _BOUND_SEEN.get((cls, fn.__name__), _UNSEEN)  # (L.count: each call)
        if hit is not _UNSEEN:
            return hit
        if not issubclass(cls, _BOUND_OWNERS):
            return None
        e = next((e for owner in cls.__mro__ if (e := _BOUND.get((owner, fn.__name__)))
                  is not None), None)
        if not cls.__flags__ & HEAPTYPE:  # (built-in classes only: none is freed)
            _BOUND_SEEN[(cls, fn.__name__)] = e
        return e
    if t in EXCEPTION_CALL_TYPES and builds_exception(fn):  # ValueError(x), super().__init__
        return _EXCEPTION
    if t in MOVE_TYPES and moves_references(fn):  # SimpleNamespace(a=x), cv.set(x)
        return _MOVE
    if t is type and fn.__flags__ & HEAPTYPE:  # a subclass built in C (class D(deque): pass)
        e = next((e for b in fn.__mro__[1:-1] if (e := CALL_KINDS.get(id(b))) is not None
                  and e.fn is b and e.kind & Kind.ITERATING), None)
        return e if e is not None and not constructs_in_python(fn) else None
    return _GETTERS.get(t)


def kind_of(fn: Any) -> int:
    """``fn``'s Kind bits (Kind.NONE when it is not in the table)."""
    e = lookup(fn)
    return e.kind if e is not None else Kind.NONE


def with_kind(kind: int) -> list:
    """The callables of ``kind`` (static entries, in declaration order)."""
    return [e.fn for e in _STATIC.values() if e.kind & kind]


def inplace_method(name: str) -> Any:
    """The handler of ndarray's in-place method ``name`` (``a.sort``), or None."""
    e = lookup(np.ndarray.__dict__.get(name))
    return e.data if e is not None and e.kind & Kind.INPLACE_METHOD else None


def ufunc_method(ufunc: np.ufunc, method: str) -> Any:
    """The NumPy function ``ufunc.method`` computes (``np.add.reduce``: ``np.sum``), or None."""
    return _UFUNC_METHODS.get(ufunc.__name__, {}).get(method)


def list_method(fn: Any) -> Any:
    """``fn`` as list's method descriptor (``L.sort`` bound to a list is ``list.sort``)."""
    if isinstance(fn, types.BuiltinMethodType) and type(getattr(fn, "__self__", None)) is list:
        return list.__dict__.get(fn.__name__)
    return fn


def table_lookup(fn: Any) -> Any:
    """The handler of a lookup by key (Kind.LOOKUP: ``dict.get``, or ``d.get`` bound to a
    dict or set, a subclass's C method of the same name too), or None."""
    self_ = getattr(fn, "__self__", None)
    if isinstance(self_, sf.TABLES) and isinstance(fn, types.BuiltinMethodType):
        base = dict if isinstance(self_, dict) else set if isinstance(self_, set) else frozenset
        fn = base.__dict__.get(fn.__name__)
    e = lookup(fn)
    return e.data if e is not None and e.kind & Kind.LOOKUP else None


def is_structural(fn: Any) -> bool:
    """C callables that keep traced items by identity: a class defined in Python but built
    in C that is not raw storage (an exception, a list subclass), ``tuple.__new__``,
    ``itemgetter(k)``."""
    if isinstance(fn, type):
        return bool(fn.__flags__ & HEAPTYPE) and not is_raw_storage(fn)
    if type(fn) in (operator.itemgetter, operator.attrgetter):
        return True
    return (isinstance(fn, types.BuiltinMethodType) and fn.__name__ == "__new__"
            and getattr(fn, "__self__", None) in _CONTAINER_NEW)


def is_raw_storage(fn: Any) -> bool:
    """Callables that keep numbers as raw bytes or C values (array.array, struct, ctypes)."""
    if kind_of(fn) & Kind.RAW_STORAGE:
        return True
    if isinstance(fn, type) and issubclass(fn, RAW_STORAGE_TYPES):
        return True
    owner = getattr(fn, "__self__", None)
    return isinstance(owner, RAW_STORAGE_TYPES)


# --- solvers: adjoints above capture (framead/implicit.py and the solver modules) register a
# source of ``id(solver) -> (solver, handler)``, asked each time the flag table is made
_SOLVER_SOURCES: list[Callable[[], dict[int, tuple[Any, Any]]]] = []


def register_solvers(source: Callable[[], dict[int, tuple[Any, Any]]]) -> None:
    """Route the callables ``source()`` names to their handlers inside a capture (asked again
    whenever the flag table is rebuilt: after SciPy is imported, or a rule pack installed)."""
    if source not in _SOLVER_SOURCES:
        _SOLVER_SOURCES.append(source)


def solver_sources() -> tuple:
    """The registered solver sources (the flag table is rebuilt when they change)."""
    return tuple(_SOLVER_SOURCES)


def configure_flags(overrides: Iterable[tuple[Any, int]] = ()) -> None:
    """Tell the C trampoline which callables have rules, are structural or special (the whole
    table at once: a capture running on another thread never sees it half built);
    ``overrides``: (callable, flags) pairs that replace the table's (the guard flags)."""
    entries = _STATIC.values()
    table = [(e.fn, C.NATIVE) for e in entries if e.kind & Kind.STRUCTURAL]
    # RULE (not SCAN): traced arrays come, lists of them not
    table += [(e.fn, C.RULE) for e in entries if e.kind & Kind.ROWS]
    table += [(e.fn, C.RULE) for e in entries
              if e.kind & Kind.ITERATING and not e.kind & Kind.CHOOSING]
    # SCAN: traced floats inside list args
    # no flag: a traced value inside a list, generator or iterator argument (or a tracked
    # set of them) sends a HASHED or PAIRS call to dispatch (dict(rows of a generator))
    table += [(e.fn, 0) for e in entries if e.kind & Kind.HASHED or e.fn in PAIRS]
    table += [(fn, C.RULE | C.SCAN) for fn in rules.ruled_callables()]
    table += [(e.fn, C.RULE if e.fn in _WHEN_TRACED else C.RULE | C.SCAN
               if e.fn in _UFUNC_PREDICATES else C.ALWAYS) for e in entries
              if e.kind & Kind.SPECIAL_FORM]
    table += [(e.fn, C.RULE | C.SCAN) for e in entries if e.kind & Kind.WRITER]
    # (operator.contains(t, k) called by name: SCAN, as the CONTAINS probe looks into a list or
    # tuple ``t``: its items are compared with k, a decision guarded in cached traces)
    table += [(e.fn, C.RULE | C.SCAN if e.fn is operator.contains else C.RULE)
              for e in entries if e.kind & Kind.LOOKUP]
    # solver adjoints: scipy.optimize/scipy.integrate solvers always come to dispatch (their
    # callbacks close over traced values even when no argument is traced)
    solvers: dict[int, tuple[Any, Any]] = {}
    for source in _SOLVER_SOURCES:
        solvers.update(source())
    table += [(f, C.ALWAYS) for f, _ in solvers.values()]
    table += overrides
    C.load_callable_flags(table)
    for k in [k for k, e in CALL_KINDS.items() if e.kind & Kind.SOLVER and k not in solvers]:
        if k in _STATIC:
            CALL_KINDS[k] = _STATIC[k]
        else:
            del CALL_KINDS[k]
    for k, (f, h) in solvers.items():
        CALL_KINDS[k] = CallKind(f, Kind.SOLVER, h)
