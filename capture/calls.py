"""What a traced call does: rule, see-through, structural, special form or hazard.

The C trampoline sends a call here only when an argument is traced (or the callable has the
ALWAYS flag). The order of the questions is the order of `dispatch`.
"""

from __future__ import annotations

import _weakref
import array
import bisect
import builtins
import collections
import collections.abc
import ctypes
import functools
import gc
import heapq
import itertools
import math
import operator
import struct
import sys
import types
import weakref
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
from framead.rules import mutation_rules as _mut
from framead.rules import primitives as prim
from numpy._core import _multiarray_umath

from framead import rules

from . import _evalframe as C
from . import protocols
from .buffers import buffer_owner
from .overrides import (
    PLAIN_TYPES,
    TRACER_TYPES,
    python_attr,
)

# ---------------------------------------------------------------------- rule lookup


def operator_rule(op: Any):
    return rules.lookup(op)


def attr_rule(obj: Any, name: str):
    return rules.lookup_attr(type(obj), name)


def attr_rule_by_name(name: str):
    return rules.lookup_attr(np.ndarray, name)


def internal_rule(name: str, fn: Any, vjps: tuple, saves: dict):
    """A rule for one of framead's own primitives (rules.primitives)."""
    if not vjps:
        return types.SimpleNamespace(name=name, fn=fn, vjp=(), saves={}, cut=False,
                                     elementwise=False, argnames=None)
    return rules.register(fn, vjp=vjps, saves=saves, name=name)


def _rule_and_args(fn: Any, args: tuple):
    rule = rules.lookup(fn)
    if rule is not None:
        return rule, args
    self_ = getattr(fn, "__self__", None)
    if (self_ is not None and isinstance(fn, types.BuiltinMethodType)
            and not isinstance(self_, types.ModuleType)):
        rule = rules.lookup_method(type(self_), fn.__name__)
        if rule is None and isinstance(self_, type):  # a classmethod (Decimal.from_float)
            rule = rules.lookup_method(self_, fn.__name__)
        if rule is not None:
            return rule, (self_, *args)
    return None, args


# ---------------------------------------------------------------------- classification

_ITERATING = {builtins.list, builtins.tuple, builtins.sorted, builtins.min, builtins.max,
              builtins.zip, builtins.enumerate, builtins.reversed, builtins.iter,
              builtins.filter, builtins.any, builtins.all}

CHOOSING = {builtins.min, builtins.max, builtins.sorted, builtins.any, builtins.all}
_SHORT_CIRCUIT = {builtins.any, builtins.all}
# structural, but cached traces cannot re-run the choices they make on traced values
ORDERING = (bisect.bisect_left, bisect.bisect_right, bisect.insort_left, bisect.insort_right,
            heapq.heappush, heapq.heappop, heapq.heapify, heapq.heapreplace, heapq.heappushpop)
GUARDED_NATIVE = (list.sort, *ORDERING)  # structural, but cached traces guard what they decide


def _is_list_method(fn: Any, name: str) -> bool:
    return fn is getattr(list, name) or (isinstance(fn, types.BuiltinMethodType) and
                                         type(getattr(fn, "__self__", None)) is list and
                                         fn.__name__ == name)


def _is_list_sort(fn: Any) -> bool:
    return fn is list.sort or (isinstance(fn, types.BuiltinMethodType) and
                               type(getattr(fn, "__self__", None)) is list and
                               fn.__name__ == "sort")


class SortOrder:
    """The permutation ``list.sort`` applies (a cached trace's guard on it)."""

    def __call__(self, items: list, key: Any = None, reverse: bool = False) -> tuple:
        k = (lambda i: items[i]) if key is None else (lambda i: key(items[i]))
        return tuple(sorted(range(len(items)), key=k, reverse=reverse))

STRUCTURAL = [
    # C functions that take a Python function to run or store as is (never wrap it):
    # __build_class__ runs the class body with the namespace as its locals
    builtins.__build_class__, property, staticmethod, classmethod,
    len, isinstance, issubclass, id, type, print, repr, str, format, hasattr, getattr,
    delattr, callable, hash, range, bool, dict, set, frozenset, slice, vars, dir,
    # introspection never calls its argument (a handler's argument tuple would hold one
    # more reference: sys.getrefcount(f) differed)
    sys.getrefcount, sys.getsizeof, gc.get_referrers, gc.get_referents, gc.is_tracked,
    # weak references: their callbacks get the reference, never a value (each WeakValueDict
    # callback scanned the whole dict: emptying one was quadratic)
    weakref.ref, weakref.KeyedRef, _weakref._remove_dead_weakref,
    list.append, list.extend, list.insert, list.pop, list.index, list.count, list.remove,
    list.copy, list.clear, list.reverse, list.sort, dict.get, dict.setdefault, dict.update,
    dict.items, dict.keys, dict.values, dict.pop, dict.copy, set.add, set.discard, set.update,
    math.isfinite, math.isnan, math.isinf, math.isclose,
    np.shape, np.ndim, np.size, np.isscalar, np.result_type, np.isfinite, np.isnan, np.isinf,
    np.allclose, np.isclose, np.array_equal, np.ndarray.__len__, np.ndarray.view,
    np.may_share_memory, np.shares_memory,
    # text of traced values (repr of an array), as str/repr/format: FA108 if it comes back
    _multiarray_umath.dragon4_positional, _multiarray_umath.dragon4_scientific,
    _multiarray_umath._array_converter, _multiarray_umath._array_converter.wrap,
    _multiarray_umath._array_converter.as_arrays,
    # containers built in C that keep items by identity (list/tuple arguments are scanned)
    object.__setattr__, object.__getattribute__, collections.OrderedDict, collections.deque,
    collections.defaultdict,
    collections.deque.append, collections.deque.appendleft, collections.deque.extend,
    collections.deque.pop, collections.deque.popleft, operator.itemgetter, operator.attrgetter,
    itertools.chain, itertools.chain.from_iterable, itertools.islice, itertools.zip_longest,
    itertools.product, itertools.permutations, itertools.combinations, itertools.repeat,
    itertools.cycle, itertools.groupby, itertools.compress, itertools.takewhile,
    itertools.dropwhile, itertools.filterfalse, itertools.tee, itertools.pairwise,
    # order and move items by comparison only (a traced item keeps its identity); their
    # list arguments are often long and searched in a loop, so they are not scanned
    bisect.bisect_left, bisect.bisect_right, bisect.insort_left, bisect.insort_right,
    heapq.heappush, heapq.heappop, heapq.heapify, heapq.heapreplace, heapq.heappushpop,
    str.join,
]
_BINARY_NAMES = ("add", "and_", "floordiv", "lshift", "matmul", "mul", "mod", "or_", "pow",
                 "rshift", "sub", "truediv", "xor")  # BINARY_OP's order
# X.__new__ of these (namedtuple's tuple.__new__(cls, items)) stores items by identity
_CONTAINER_NEW = (object, tuple, list, dict, set, frozenset)
_HEAPTYPE = 1 << 9


def _in_python(t: type, name: str) -> bool:
    f = next((k.__dict__[name] for k in t.__mro__ if name in k.__dict__), None)
    return isinstance(f, types.FunctionType | staticmethod | classmethod)


def constructs_in_python(cls: type) -> bool:
    """Calling class ``cls`` runs Python code (its ``__init__``/``__new__`` or its
    metaclass's ``__call__``); heap types built in C (ctypes' ``c_double``, ``array.array``,
    a list subclass without ``__init__``) do not (the C trampoline asks the same)."""
    if not cls.__flags__ & _HEAPTYPE:
        return False
    meta = type(cls)
    return _in_python(cls, "__init__") or _in_python(cls, "__new__") or bool(
        meta.__flags__ & _HEAPTYPE and _in_python(meta, "__call__"))


def _is_structural(fn: Any) -> bool:
    """C callables that keep traced items by identity: a class defined in Python but built
    in C that is not raw storage (an exception, a list subclass), ``tuple.__new__``,
    ``itemgetter(k)``."""
    if isinstance(fn, type):
        return bool(fn.__flags__ & _HEAPTYPE) and not is_raw_storage(fn)
    if type(fn) in (operator.itemgetter, operator.attrgetter):
        return True
    return (isinstance(fn, types.BuiltinMethodType) and fn.__name__ == "__new__"
            and getattr(fn, "__self__", None) in _CONTAINER_NEW)


def _is_python_visible(fn: Any) -> bool:
    """Calling ``fn`` runs Python frames framead instruments (so nothing to record here)."""
    if isinstance(fn, types.FunctionType):
        return True
    if isinstance(fn, types.MethodType):  # a bound Cython function is not Python-visible
        return isinstance(fn.__func__, types.FunctionType)
    if isinstance(fn, type):
        return constructs_in_python(fn)
    if isinstance(fn, functools.partial):
        return _is_python_visible(fn.func)
    impl = getattr(fn, "_implementation", None)  # numpy's array-function dispatchers
    if isinstance(impl, types.FunctionType):
        return True
    call = next((k.__dict__["__call__"] for k in type(fn).__mro__ if "__call__" in k.__dict__),
                None)
    return isinstance(call, types.FunctionType)


def _rows_if_traced(rec, x: Any, frame) -> Any:
    if isinstance(x, np.ndarray) and x.ndim >= 1 and rec.value_of(x) is not None:
        return rec._rows(x, frame)
    return x


def dispatch(rec, fn: Any, args: tuple, kwargs: dict, frame, perform: Any = None) -> Any:
    """``perform``: what really makes the call when it is not ``fn(*args, **kwargs)`` (ndarray's
    ``__array_ufunc__`` called by a subclass's override: the ufunc's rule records it)."""
    # --- solver adjoints hook (framead/implicit.py, framead/ode.py; issue 6 items 2-3) ---
    solver = SOLVERS.get(id(fn))
    if solver is not None and solver[0] is fn:
        return solver[1](rec, fn, args, kwargs, frame)
    # --- end solver adjoints hook ---
    oparg = _OPERATOR_OPARG.get(id(fn))
    if oparg is not None and len(args) == 2 and not kwargs:  # operator.add(a, b) is a + b
        return rec.binary(oparg, *args, frame)
    if type(fn) is _METHOD_WRAPPER:
        if fn.__name__ == "__call__":
            if isinstance(fn.__self__, type):  # a metaclass's super().__call__(*a)
                return protocols.type_call(rec, fn, args, kwargs, frame)
            if not python_attr(type(fn.__self__), "__call__"):  # getattr(ufunc, "__call__")
                return dispatch(rec, fn.__self__, args, kwargs, frame, perform)
        if not kwargs:  # x.__mul__(y): the operator it is
            slot = _slot_call(rec, fn, args, frame)
            if slot is not _NO_SLOT:
                return slot
        if fn.__name__ in protocols.ATTRIBUTE_SLOTS:  # super().__getattribute__(name): by identity
            return _as_user(fn, args, kwargs)
    elif type(fn) is _SLOT_WRAPPER and args and not kwargs and fn.__objclass__ in PLAIN_TYPES \
            and isinstance(args[0], fn.__objclass__):  # np.ndarray.__getitem__(self, k)
        slot = _slot_call(rec, fn.__get__(args[0]), args[1:], frame)
        if slot is not _NO_SLOT:
            return slot
    own = _OWN_PYTHON_CALLS.get(id(fn))
    if own is not None and own[0] is fn and args and python_attr(type(args[0]), own[1]) and \
            type(args[0]) not in TRACER_TYPES:
        return _as_user(fn, args, kwargs)  # float(x) of a subclass with its own __float__
    special = SPECIAL_FORMS.get(id(fn))
    if special is not None and special[0] is fn:
        return special[1](rec, fn, args, kwargs, frame)
    if type(fn) is functools.partial:
        return dispatch(rec, fn.func, fn.args + args, {**fn.keywords, **kwargs}, frame)
    if fn is setattr:
        return _setattr(rec, args, kwargs, frame)
    writer = WRITERS.get(id(fn))
    if writer is not None and writer[0] is fn:
        return writer[1](rec, fn, args, kwargs, frame)
    self_ = getattr(fn, "__self__", None)
    if perform is None:
        detour = protocols.subclass_detour(rec, fn, self_, args, kwargs, frame)
        if detour is not _NO_SLOT:
            return detour
    if isinstance(self_, np.ndarray) and isinstance(fn, types.BuiltinMethodType):
        method = INPLACE_METHODS.get(fn.__name__)
        if method is not None:
            return method(rec, self_, args, kwargs, frame)
        if fn.__name__ == "__array__":  # np.matrix's .A: a plain view, as np.asarray makes
            return dispatch(rec, np.asarray, (self_, *args), kwargs, frame,
                            protocols.Deferred(fn, args, kwargs))
        if fn.__name__ in ("__copy__", "__deepcopy__") and self_.dtype.kind in "fc":
            rule = rules.lookup_method(np.ndarray, "copy")  # copy.copy(x), copy.deepcopy(x)
            if rule is not None:
                return rec.apply(rule, fn, args, kwargs, (self_,), frame)
    if getattr(fn, "__objclass__", None) is np.ndarray and args and \
            isinstance(args[0], np.ndarray) and fn.__name__ in INPLACE_METHODS:
        # np.ndarray.sort(a) (np.ma's own sort): ndarray's method, also on a subclass
        a = args[0] if type(args[0]) is np.ndarray else args[0].view(np.ndarray)
        return INPLACE_METHODS[fn.__name__](rec, a, args[1:], kwargs, frame)
    if isinstance(self_, np.ufunc):
        name = getattr(fn, "__name__", "")
        if name == "at":
            return _ufunc_at(rec, fn, args, kwargs, frame)
        if name in _UFUNC_REDUCERS and _bool_valued(self_):  # np.all/np.any: a cut
            return _static_result(rec, fn, args, kwargs, frame)
        same = _UFUNC_METHODS.get((self_.__name__, name))
        if same is not None and args:  # np.add.reduce(x, axis) is np.sum(x, axis)
            return dispatch(rec, same, args[:1], _ufunc_method_kwargs(name, args, kwargs),
                            frame, perform or protocols.Deferred(fn, args, kwargs))
    rule, node_args = _rule_and_args(fn, args)
    if rule is not None and kwargs.get("dtype") in (object, np.object_) and args:
        return _to_object_array(rec, fn, args, kwargs, frame)
    if rule is not None:
        args, kwargs, node_args = _out_keyword(rule, fn, args, kwargs, node_args)
        call = perform or fn
        node_args, kwargs_left = _map_keywords(rule, node_args, kwargs)
        if kwargs_left is None:
            rec.hazard("FA106", rule.name, frame,
                       f"a traced keyword argument of {rule.name} is not differentiated")
            return _as_user(call, args, kwargs)
        if len(kwargs_left) < len(kwargs):  # traced keywords now positional in the node
            call = functools.partial(call, **{k: v for k, v in kwargs.items()
                                              if k not in kwargs_left})
            kwargs = kwargs_left
        _lost_derivatives(rec, rule, node_args, frame)
        if rule.mutates and isinstance(_nth(node_args, rule.mutates[0]), np.ndarray):
            # writes argument k: the functional node, then k's buffer takes the result
            return rec.mutate(rule, call, args, kwargs, node_args, node_args[rule.mutates[0]],
                              frame)
        return rec.apply(rule, call, args, kwargs, node_args, frame)
    if isinstance(fn, np.ufunc) and _is_object_ufunc(fn):
        # np.frompyfunc / np.vectorize: C loops calling Python frames framead instruments;
        # a traced float array reaches them as Python numbers read from it (as NumPy's cast
        # to object makes them), so the callbacks compute on traced values
        args = tuple(_as_object_items(rec, a, frame) for a in args)
        return rec.hold_if_container(_as_user(fn, args, kwargs))
    if _is_list_method(fn, "extend"):  # L.extend(x) iterates x in C: x's rows as read
        return _as_user(fn, [_rows_if_traced(rec, a, frame) for a in args], kwargs)
    if rec.guards is not None and _is_list_sort(fn):  # cached traces guard the order
        items = fn.__self__ if isinstance(getattr(fn, "__self__", None), list) else args[0]
        vals = [rec.tree_value(items)]
        if vals[0] is not None:
            rec.guard(SortOrder(), (items,), kwargs, vals, SortOrder()(items, **kwargs), frame)
        return _as_user(fn, args, kwargs)
    if rec.guards is not None and id(fn) in _ORDERING_IDS:
        if any(rules_traced(a) for a in (*args, *kwargs.values())):
            rec.unreplayable.append(f"{_callable_name(fn)} orders traced values")
        return _as_user(fn, args, kwargs)
    if id(fn) in _ITERATING_IDS:
        if not (fn in (builtins.min, builtins.max) and len(args) > 1):  # max(a, b): items
            args = tuple(_rows_if_traced(rec, a, frame) for a in args)
        if rec.guards is not None and "key" in kwargs and fn in CHOOSING:
            key = kwargs["key"]  # the choice is made on what the key computes: not replayable
            start = len(rec.nodes)
            result = _as_user(fn, args, kwargs)
            if len(rec.nodes) > start or _closes_over_traced(key) or any(
                    rules_traced(a) for a in args):
                rec.unreplayable.append(f"{_callable_name(fn)}(key=...) chooses by traced "
                                        "values")
            return result
        if rec.guards is not None and fn in CHOOSING and fn not in _SHORT_CIRCUIT:
            # cached traces guard the choice: make iterables lists (consumed anyway)
            # (any iterator: a generator, map, zip, a traced array's row iterator)
            args = tuple(list(a) if isinstance(a, collections.abc.Iterator) else a
                         for a in args)
        result = _as_user(fn, args, kwargs)
        if rec.guards is not None and fn in CHOOSING:  # which item min/max/sorted picked
            vals = [rec.tree_value(a) for a in args]
            if any(v is not None for v in vals):
                if fn in (builtins.any, builtins.all):
                    rec.guard(fn, args, kwargs, vals, result, frame)
                else:
                    from .recorder import WhichArgument

                    which = WhichArgument(fn)
                    rec.guard(which, args, kwargs, vals, which.index(result, args), frame)
        return result
    if type(fn) is protocols.LRU_WRAPPER:
        return protocols.cached_call(rec, fn, args, kwargs, frame)
    if isinstance(self_, protocols.RESUMABLE) and getattr(fn, "__name__", "") in (
            "send", "throw"):
        return protocols.resume(rec, fn, self_, args, kwargs, frame)
    if isinstance(fn, type) and issubclass(fn, protocols.NUMBER_BASES) and \
            fn not in PLAIN_TYPES and not constructs_in_python(fn):
        return protocols.number_subclass(rec, fn, args, kwargs, frame)
    if _is_python_visible(fn):
        if rec.called is not None:  # cached traces watch the globals these read
            rec.called.append(fn)
        return _as_user(fn, args, kwargs)
    if C.get_callable_flags(fn) & C.NATIVE or id(fn) in _CALLBACK_SAFE or _is_structural(fn):
        return _as_user(fn, args, kwargs)
    if not any(rules_traced(a) for a in (*args, *kwargs.values())) and not _self_traced(fn):
        return callback_call(rec, fn, args, kwargs, frame)
    return unknown_call(rec, fn, args, kwargs, frame)


def _out_keyword(rule, fn: Any, args: tuple, kwargs: dict, node_args: tuple):
    """A positional output (``np.add(x, y, o)``, ``np.clip(a, lo, hi, o)``) passed as
    ``out=`` (the same call), where the recorder sees its write; later positionals by name."""
    if "out" in kwargs or rule.mutates or not rule.name.startswith(("np.", "ndarray.")):
        return args, kwargs, node_args  # (a user's ``out`` parameter is not NumPy's)
    self_ = len(node_args) - len(args)  # 1 for a bound method: self is node_args[0]
    if isinstance(fn, np.ufunc):
        k = fn.nin
        if len(args) <= k:
            return args, kwargs, node_args
        return args[:k], {**kwargs, "out": tuple(args[k:])}, node_args[:self_ + k]
    names = _positional_names(fn, rule)
    k = names.index("out") - self_ if "out" in names else len(args)
    if not 0 <= k < len(args) or len(names) < len(args) + self_:
        return args, kwargs, node_args
    rest = {names[self_ + j]: args[j] for j in range(k + 1, len(args))}
    if any(n in kwargs for n in rest):  # as natively: a TypeError
        return args, kwargs, node_args
    return args[:k], {**kwargs, "out": args[k], **rest}, node_args[:self_ + k]


_NAMES: dict[int, tuple] = {}


def _positional_names(fn: Any, rule) -> tuple:
    """``fn``'s positional parameter names (its signature: ``np.clip``'s rule names only the
    differentiable ones), else the rule's."""
    key = fn
    if isinstance(fn, types.BuiltinMethodType) and isinstance(fn.__self__, np.ndarray):
        key = getattr(np, fn.__name__, None)  # x.clip(lo, hi, o): np.clip(x, lo, hi, o)
    if not callable(key):
        return rule.argnames or ()
    hit = _NAMES.get(id(key))
    if hit is None or hit[0] is not key:
        names = None
        if not isinstance(key, types.MethodType | types.BuiltinMethodType):
            names = rules.infer_argnames(key)[0]
        hit = _NAMES[id(key)] = (key, names or rule.argnames or ())
    return hit[1]


def _nth(args: tuple, k: int) -> Any:
    return args[k] if k < len(args) else None


def _lost_derivatives(rec, rule, node_args: tuple, frame) -> None:
    """A traced value in an argument whose rule has no derivative (and does not declare it
    nondiff) loses its gradient: report it. (Elementwise rules leave out derivatives that
    are zero: copysign's sign, ldexp's exponent, nextafter's direction.)"""
    if rule.cut or rule.vjp is None or callable(rule.vjp) or rule.elementwise:
        return
    for i, a in enumerate(node_args):
        if i not in rule.nondiff and not rule.has_vjp(i) and rec.tree_value(a) is not None:
            rec.hazard("FA101", rule.name, frame,
                       f"{rule.name} has no derivative rule in its argument {i}, which is "
                       "traced: the gradient through it is lost")


def _as_user(fn: Any, args: Any, kwargs: dict) -> Any:
    """``fn(*args, **kwargs)`` as the user's frame would call it (capture left as it is):
    callees see the user's line as their caller (warnings, ``sys._getframe``)."""
    return C.call_as_user(fn, args if type(args) is tuple else tuple(args), kwargs or None)


_METHOD_WRAPPER = type((1.0).__add__)
_SLOT_WRAPPER = types.WrapperDescriptorType
_NUMBERS = (float, int, complex, np.ndarray, np.generic, np.flatiter)
_NO_SLOT = protocols.NO_SLOT
# x.__add__(y) is BINARY_OP add (oparg, reflected); x.__neg__() is operator.neg...
_SLOT_BINARY = {
    **{f"__{n.rstrip('_')}__": (k, False) for k, n in enumerate(_BINARY_NAMES)},
    **{f"__r{n.rstrip('_')}__": (k, True) for k, n in enumerate(_BINARY_NAMES)},
    **{f"__i{n.rstrip('_')}__": (13 + k, False) for k, n in enumerate(_BINARY_NAMES)},
}
_SLOT_UNARY = {"__neg__": operator.neg, "__pos__": operator.pos, "__abs__": builtins.abs,
               "__float__": builtins.float, "__complex__": builtins.complex}
# C callables that call their argument's dunder: a subclass's Python one runs instrumented
_OWN_PYTHON_CALLS = {id(f): (f, d) for f, d in (
    (builtins.float, "__float__"), (builtins.complex, "__complex__"), (builtins.int, "__int__"),
    (builtins.abs, "__abs__"), (operator.abs, "__abs__"), (builtins.round, "__round__"),
    (math.trunc, "__trunc__"), (math.floor, "__floor__"), (math.ceil, "__ceil__"),
    (operator.index, "__index__"), (builtins.divmod, "__divmod__"), (builtins.pow, "__pow__"),
    (operator.neg, "__neg__"), (operator.pos, "__pos__"))}


def _slot_call(rec, fn, args: tuple, frame) -> Any:
    """A slot of a traced number or array called by name (``x.__mul__(3.0)``) is recorded as
    the operation it is; its NotImplemented is returned as such. On a subclass instance it is
    the base type's slot (``super().__mul__(o)``, ``np.ndarray.__getitem__(self, k)``):
    recorded as that operation and performed by the slot itself, never by running the
    subclass's method again. Other objects' slots (a dict subclass's ``super().__setitem__``
    in enum's _EnumDict) are not operations on numbers: _NO_SLOT."""
    name, self_ = fn.__name__, fn.__self__
    if not isinstance(self_, _NUMBERS):
        return _NO_SLOT
    exact = type(self_) in PLAIN_TYPES and all(type(a) in PLAIN_TYPES for a in args)
    if len(args) == 1 and name in _SLOT_BINARY:
        oparg, reflected = _SLOT_BINARY[name]
        a, b = (args[0], self_) if reflected else (self_, args[0])
        if not exact:
            return protocols.base_binary(rec, fn, args, oparg, a, b, frame)
        if oparg < 13 and fn(*args) is NotImplemented:
            return NotImplemented
        return rec.binary(oparg, a, b, frame)
    if not args and name in _SLOT_UNARY:
        if exact:
            return dispatch(rec, _SLOT_UNARY[name], (self_,), {}, frame)
        rule = rules.lookup(_SLOT_UNARY[name])
        return _NO_SLOT if rule is None else rec.apply(rule, fn, (), {}, (self_,), frame)
    if name == "__getitem__" and len(args) == 1:
        return rec._getitem(self_, args[0], frame, None if exact else fn)
    if name == "__setitem__" and len(args) == 2:
        return rec._setitem(self_, *args, frame, None if exact else fn)
    return _NO_SLOT


def _self_traced(fn: Any) -> bool:
    self_ = getattr(fn, "__self__", None)
    return self_ is not None and not isinstance(self_, types.ModuleType) and rules_traced(self_)


def callback_call(rec, fn: Any, args: tuple, kwargs: dict, frame) -> Any:
    """A C function without a rule calls back into Python (``scipy.integrate.quad(f, ...)``).

    The callbacks are passed as they are (their identity is the program's: weak references,
    pickling, Enum and typing machinery, threads) and the call is made as from the user's
    frame. A gradient is lost when traced work happened in the callbacks (nodes recorded
    during the call, or traced values in their closures and defaults) and nothing traced
    came out: that is FA101."""
    start = len(rec.nodes)
    result = C.call_as_user(fn, args, kwargs or None)
    if rec.tree_value(result) is None and (
            len(rec.nodes) > start
            or any(_closes_over_traced(a) for a in (*args, *kwargs.values()))):
        name = _callable_name(fn)
        rec.hazard("FA101", name, frame,
                   f"a Python callback computed with traced values inside {name}, which has "
                   "no framead rule, and its result is not traced: the gradient through it "
                   "is lost. Register a rule (or an implicit/ODE adjoint) for it")
    return result


def _closes_over_traced(cb: Any) -> bool:
    """Whether a Python callback reads traced values through its closure or defaults."""
    if isinstance(cb, types.MethodType):
        return rules_traced(cb.__self__) or _closes_over_traced(cb.__func__)
    if not isinstance(cb, types.FunctionType):
        return False
    cells = []
    for c in cb.__closure__ or ():
        try:
            cells.append(c.cell_contents)
        except ValueError:  # an empty cell
            pass
    return any(rules_traced(v) for v in (*cells, *(cb.__defaults__ or ()),
                                         *(cb.__kwdefaults__ or {}).values()))


def _map_keywords(rule, node_args: tuple, kwargs: dict):
    """Move traced keyword arguments to their positions; None when that is impossible."""
    traced = [k for k, v in kwargs.items() if k != "out" and rules_traced(v)]
    if not traced:
        return node_args, kwargs
    names = getattr(rule, "argnames", None) or ()
    args = list(node_args)
    for k in traced:
        if k not in names or names.index(k) != len(args):
            return node_args, None
        args.append(kwargs[k])
    return tuple(args), {k: v for k, v in kwargs.items() if k not in traced}


def rules_traced(v: Any) -> bool:
    """Whether ``v`` is traced or a (nested, possibly cyclic) list/tuple/dict holding one. An
    explicit stack (a list nested 10,000 deep is no RecursionError), and containers read below
    any Python override (a pure-Python OrderedDict's values() in the middle of its own
    __setitem__ must not run)."""
    stack, seen = [v], set()
    while stack:
        x = stack.pop()
        if isinstance(x, list | tuple | dict):
            if id(x) not in seen:
                seen.add(id(x))
                stack.extend(dict.values(x) if isinstance(x, dict)
                             else list.__iter__(x) if isinstance(x, list) else tuple.__iter__(x))
        elif C.is_tracked(x):
            return True
    return False


def unknown_call(rec, fn: Any, args: tuple, kwargs: dict, frame) -> Any:
    """A C callable without a rule got traced values: run it, report it, and check whether
    it wrote into a traced array (then that array's new contents become a constant)."""
    name = _callable_name(fn)
    arrays = [a for a in (*args, *kwargs.values())
              if isinstance(a, np.ndarray) and rec.value_of(a) is not None]
    before = [_digest(a) for a in arrays]
    for a in arrays:  # it may write: protect what the reverse pass reads from that memory
        rec._copy_on_write(a)
    result = _as_user(fn, args, kwargs)
    if is_raw_storage(fn):
        rec.hazard("FA105", name, frame,
                   f"{name} stores a traced value as raw bytes/C numbers, which framead "
                   "cannot follow; values read back from it are constants")
    else:
        rec.hazard("FA101", name, frame,
                   f"call to {name} (no framead rule) touched a traced value; its result is "
                   "treated as constant. Register a rule with framead.rules.register")
    for a, d in zip(arrays, before, strict=True):
        if _digest(a) != d:
            rec.hazard("FA104", name, frame,
                       f"{name} wrote into a traced array; the gradient through its old "
                       "contents is lost from here on")
            rec.overwrite_with_constant(a, frame)
    return result


_RAW_STORAGE_CALLS = {id(f) for f in (struct.pack, struct.pack_into, array.array,
                                      array.array.append, array.array.extend,
                                      array.array.insert, array.array.fromlist,
                                      memoryview, bytearray, bytes)}
RAW_STORAGE_TYPES = (array.array, memoryview, bytearray, ctypes.Array, ctypes._SimpleCData,
                     ctypes.Structure)


def is_raw_storage(fn: Any) -> bool:
    """Callables that keep numbers as raw bytes or C values (array.array, struct, ctypes)."""
    if id(fn) in _RAW_STORAGE_CALLS:
        return True
    if isinstance(fn, type) and issubclass(fn, RAW_STORAGE_TYPES):
        return True
    owner = getattr(fn, "__self__", None)
    return isinstance(owner, RAW_STORAGE_TYPES)


def _digest(a: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(a).view(np.uint8).reshape(-1))


def _callable_name(fn: Any) -> str:
    mod = getattr(fn, "__module__", None) or ""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return f"{mod}.{name}" if mod and mod != "builtins" else name


# ---------------------------------------------------------------------- special forms


def _iter_items(rec, it, frame) -> list:
    return list(_rows_if_traced(rec, it, frame))


def _sum(rec, fn, args, kwargs, frame):
    if not args or len(args) > 2 or set(kwargs) - {"start"}:
        return _as_user(fn, args, kwargs)
    items = _iter_items(rec, args[0], frame)
    start = args[1] if len(args) > 1 else kwargs.get("start", 0)
    rule = rules.lookup(builtins.sum)
    if rule is None or (rec.tree_value(items) is None and rec.value_of(start) is None):
        return fn(items, start)
    return rec.apply(rule, fn, (items, start), {}, (items, start), frame)


def _fold(rec, fn, args, kwargs, frame):
    """math.fsum / math.prod over an iterable."""
    if not args:
        return _as_user(fn, args, kwargs)
    items = _iter_items(rec, args[0], frame)
    rule = rules.lookup(fn)
    if rule is None or rec.tree_value(items) is None:
        return fn(items, *args[1:], **kwargs)
    return rec.apply(rule, fn, (items, *args[1:]), kwargs, (items, *args[1:]), frame)


def _native_enough(rec, f: Any, iterables: tuple) -> bool:
    """No traced value can reach the C step ``f`` of a C iterator: its iterables are
    concrete and untraced, and ``f`` (a partial) binds nothing traced."""
    bound = (*getattr(f, "args", ()), *getattr(f, "keywords", {}).values()) \
        if type(f) is functools.partial else ()
    return not rules_traced(bound) and not any(_traced_now_or_lazy(rec, it)
                                               for it in iterables if it is not None)


def _reduce(rec, fn, args, kwargs, frame):
    if len(args) < 2 or kwargs or _native_enough(rec, args[0], args[1:]):
        return _as_user(fn, args, kwargs)
    f = args[0]
    seq = _rows_if_traced(rec, args[1], frame)
    if _is_python_visible(f):
        return fn(f, seq, *args[2:])
    step = _StepFromC(rec, f, frame)
    return fn(step, seq, *args[2:])


def _map(rec, fn, args, kwargs, frame):
    if not args or kwargs or _native_enough(rec, args[0], args[1:]):
        return _as_user(fn, args, kwargs)
    f = args[0]
    its = tuple(_rows_if_traced(rec, a, frame) for a in args[1:])
    if _is_python_visible(f):
        return fn(f, *its)
    return fn(_StepFromC(rec, f, frame), *its)


def _starmap(rec, fn, args, kwargs, frame):
    """itertools.starmap(f, pairs): a C ``f`` (operator.mul) is called through dispatch."""
    if len(args) != 2 or kwargs or _native_enough(rec, args[0], args[1:]):
        return _as_user(fn, args, kwargs)
    f, items = args[0], _rows_if_traced(rec, args[1], frame)
    if _is_python_visible(f):
        return fn(f, items)
    return fn(_StepFromC(rec, f, frame), items)


def _accumulate(rec, fn, args, kwargs, frame):
    """itertools.accumulate(items, func=operator.add): each step through dispatch."""
    if not args or len(args) > 2 or set(kwargs) - {"func", "initial"}:
        return _as_user(fn, args, kwargs)
    f = args[1] if len(args) > 1 else kwargs.get("func")
    f = operator.add if f is None else f
    if _native_enough(rec, f, (args[0], kwargs.get("initial"))):
        return _as_user(fn, args, kwargs)
    step = f if _is_python_visible(f) else _StepFromC(rec, f, frame)
    items = _rows_if_traced(rec, args[0], frame)
    return fn(items, step, **{k: v for k, v in kwargs.items() if k == "initial"})


def _as_object_items(rec, a: Any, frame) -> Any:
    """A traced float/complex array as the object array NumPy's object loops see: each item
    a Python float (complex) recorded as read from the array."""
    if not (type(a) is np.ndarray and a.dtype.kind in "fc" and rec.value_of(a) is not None):
        return a
    cast = builtins.float if a.dtype.kind == "f" else builtins.complex
    out = np.empty(a.shape, dtype=object)
    for idx in np.ndindex(a.shape):
        out[idx] = dispatch(rec, cast, (rec._getitem(a, idx, frame),), {}, frame)
    return rec.hold_if_container(out)


def _is_object_ufunc(fn: np.ufunc) -> bool:
    return bool(fn.types) and all(set(t.replace("->", "")) == {"O"} for t in fn.types)


def _to_object_array(rec, fn, args, kwargs, frame):
    """np.asarray(x, dtype=object) of a traced float array: each element is recorded as
    ``x[i]`` so the Python floats inside stay linked to x."""
    out = _as_user(fn, args, kwargs)
    x = args[0]
    if isinstance(out, np.ndarray) and isinstance(x, np.ndarray) and out.shape == x.shape \
            and rec.value_of(x) is not None:
        for idx in np.ndindex(out.shape):
            out[idx] = rec._getitem(x, idx, frame)
        rec.hold_if_container(out)
    return out


def _as_strided(rec, fn, args, kwargs, frame):
    """``as_strided(x, shape, strides)`` views x's memory through ``__array_interface__`` (its
    base is not x): recorded as the gather of its elements from x's buffer."""
    out = fn(*args, **kwargs)
    x = args[0] if args else kwargs.get("x")
    if not isinstance(x, np.ndarray) or rec.value_of(x) is None or \
            not isinstance(out, np.ndarray):
        return out
    root = buffer_owner(x)
    idx = prim.view_index(root, out)
    if idx is None or (idx.size and idx.max() >= root.size):
        rec.hazard("FA104", "as_strided", frame, "as_strided made a view framead cannot map "
                   "onto its argument's memory; it is read as a constant")
        return out
    from .recorder import GATHER_RULE, _Result

    return rec.apply(GATHER_RULE, _Result(out), (), {}, (root, idx), frame)


def _partial(rec, fn, args, kwargs, frame):
    """functools.partial(f, traced...) over a C function: route its later calls to us."""
    p = _as_user(fn, args, kwargs)
    if type(p) is functools.partial and (rules_traced(p.args) or rules_traced(
            list(p.keywords.values()))) and not _is_python_visible(p.func):
        C.set_callable_flags(p, C.ALWAYS)
        rec.flagged.append(p)
    return p


def _sort_in_place(rec, a, args, kwargs, frame):
    rule = rules.lookup(np.sort)
    axis = args[0] if args else kwargs.get("axis", -1)
    if rule is None or kwargs.get("order") is not None or len(args) > 1:
        return unknown_call(rec, a.sort, args, kwargs, frame)
    return rec.mutate(rule, a.sort, args, kwargs, (a,), a, frame,
                      {} if axis == -1 else {"axis": axis})


def _fill(rec, a, args, kwargs, frame):
    return rec._setitem(a, Ellipsis, args[0] if args else kwargs["value"], frame)


def _bind(fn, args: tuple, kwargs: dict, names: tuple, defaults: dict) -> list:
    """Positional values for ``names`` from a call's args/kwargs (NumPy's own signatures)."""
    vals = list(args) + [kwargs.get(n, defaults.get(n)) for n in names[len(args):]]
    return vals[:len(names)]


def _writer(functional, names: tuple, defaults: dict | None = None):
    """A NumPy in-place writer ``fn(target, *rest)``: record ``functional`` then fold the
    result into ``target``'s buffer."""
    defaults = defaults or {}

    def handle(rec, fn, args, kwargs, frame):
        vals = _bind(fn, args, kwargs, names, defaults)
        target = vals[0]
        rule = rules.lookup(functional)
        if not isinstance(target, np.ndarray) or rule is None:
            return unknown_call(rec, fn, args, kwargs, frame)
        return rec.mutate(rule, fn, args, kwargs, tuple(vals), target, frame, {})

    return handle


def _setattr(rec, args, kwargs, frame):
    """``a.flat = v``, ``z.real = v``, ``z.imag = v`` on arrays are writes into a's buffer."""
    if len(args) == 3 and not kwargs and isinstance(args[0], np.ndarray) and \
            args[1] in ("flat", "real", "imag"):
        a, name, v = args
        if name == "flat":
            return rec._setitem(a.flat, slice(None), v, frame)
        if a.dtype.kind == "c":
            if rec.value_of(a) is None:
                rec._ensure_value(a)
            return rec._setitem(rec.getattr(a, name), Ellipsis, v, frame)  # a recorded view
    return setattr(*args, **kwargs)


def _put_method(rec, a, args, kwargs, frame):
    vals = _bind(None, (a, *args), kwargs, ("a", "ind", "v", "mode"), {"mode": "raise"})
    return rec.mutate(rules.lookup(_mut.put), a.put, args, kwargs, tuple(vals), a, frame, {})


def _fill_diagonal(rec, fn, args, kwargs, frame):
    vals = _bind(fn, args, kwargs, ("a", "val", "wrap"), {"wrap": False})
    a = vals[0]
    if not isinstance(a, np.ndarray):
        return unknown_call(rec, fn, args, kwargs, frame)
    mark = np.zeros(a.shape, dtype=bool)
    np.fill_diagonal(mark, True, wrap=vals[2])
    idx = np.flatnonzero(mark)
    return rec.mutate(rules.lookup(_mut.put), fn, args, kwargs, (a, idx, vals[1], "raise"),
                      a, frame, {})


def _ufunc_at(rec, fn, args, kwargs, frame):
    """ufunc.at: add/subtract as one linear node; any other ufunc as the sequence of
    element updates it performs (unbuffered, so repeated indices compound)."""
    ufunc = fn.__self__
    vals = _bind(fn, args, kwargs, ("a", "indices", "b"), {})
    a, indices, b = vals
    if not isinstance(a, np.ndarray) or ufunc.nin not in (1, 2):
        return unknown_call(rec, fn, args, kwargs, frame)
    functional = {id(np.add): _mut.add_at, id(np.subtract): _mut.subtract_at}.get(id(ufunc))
    if functional is not None:
        return rec.mutate(rules.lookup(functional), fn, args, kwargs, tuple(vals), a, frame,
                          {})
    flat = np.arange(a.size).reshape(a.shape)[indices]
    positions = [np.unravel_index(int(k), a.shape) for k in np.ravel(flat)]
    if ufunc.nin == 2:
        bb = np.broadcast_to(np.arange(np.size(b)).reshape(np.shape(b)), np.shape(flat))
        b_items = [rec._getitem(b, np.unravel_index(int(k), np.shape(b)), frame)
                   if isinstance(b, np.ndarray) else b for k in np.ravel(bb)]
    for n, pos in enumerate(positions):
        cur = rec._getitem(a, pos, frame)
        operands = (cur, b_items[n]) if ufunc.nin == 2 else (cur,)
        rec._setitem(a, pos, dispatch(rec, ufunc, operands, {}, frame), frame)
    return None


_UFUNC_REDUCERS = ("reduce", "accumulate", "reduceat", "outer")


def _bool_valued(ufunc: np.ufunc) -> bool:
    """np.logical_and, np.greater...: every loop's output is boolean."""
    return bool(ufunc.types) and all(t.endswith("?") for t in ufunc.types)


def _static_result(rec, fn, args: tuple, kwargs: dict, frame) -> Any:
    """A call whose result carries no derivative (booleans of traced values): run it; a
    cached trace guards the result, as for any decision on traced values."""
    result = _as_user(fn, args, kwargs)
    if rec.guards is not None:
        vals = [rec.tree_value(a) for a in args]
        if any(v is not None for v in vals):
            rec.guard(fn, args, kwargs, vals, result, frame)
    return result


def _ufunc_method_kwargs(method: str, args: tuple, kwargs: dict) -> dict:
    """``ufunc.reduce``/``accumulate``'s arguments as keywords of the NumPy function that
    computes the same thing: their positional order differs (np.max has no dtype), and
    their axis defaults to 0 where the function's defaults to None (flatten)."""
    names = ("axis", "dtype", "out", "keepdims", "initial", "where")
    if method == "accumulate":
        names = names[:3]
    kw = {"axis": 0, **dict(zip(names, args[1:], strict=False)), **kwargs}
    if kw.get("dtype") is None:
        kw.pop("dtype", None)  # np.max/np.min take no dtype
    return kw


_UFUNC_METHODS = {("add", "reduce"): np.sum, ("multiply", "reduce"): np.prod,
                  ("maximum", "reduce"): np.max, ("minimum", "reduce"): np.min,
                  ("add", "accumulate"): np.cumsum, ("multiply", "accumulate"): np.cumprod}


INPLACE_METHODS = {"sort": _sort_in_place, "fill": _fill, "put": _put_method}
WRITERS: dict[int, tuple[Any, Any]] = {
    id(f): (f, h) for f, h in [
        (np.copyto, _writer(_mut.copyto, ("dst", "src", "casting", "where"),
                            {"casting": "same_kind", "where": True})),
        (np.put, _writer(_mut.put, ("a", "ind", "v", "mode"), {"mode": "raise"})),
        (np.place, _writer(_mut.place, ("arr", "mask", "vals"))),
        (np.putmask, _writer(_mut.putmask, ("a", "mask", "values"))),
        (np.fill_diagonal, _fill_diagonal),
    ]
}


class _StepFromC:
    """A C function given to a C iterator (map, reduce, starmap, accumulate): each call with
    traced arguments goes through dispatch. Copied or pickled, it is the function itself, so
    the iterator holding it copies and pickles as natively."""

    __slots__ = ("rec", "f", "frame")

    def __init__(self, rec: Any, f: Any, frame: Any) -> None:
        self.rec, self.f, self.frame = rec, f, frame

    def __call__(self, *a: Any) -> Any:
        if any(rules_traced(x) for x in a):
            return dispatch(self.rec, self.f, a, {}, self.frame)
        return self.f(*a)

    def __reduce__(self) -> tuple:
        return (_same, (self.f,))

    @property
    def __name__(self) -> str:  # np.frompyfunc names its ufunc after the function
        return getattr(self.f, "__name__", "?")


def _frompyfunc(rec, fn, args, kwargs, frame):
    """np.frompyfunc(C function, nin, nout) (np.vectorize(math.sin)): the ufunc's calls of a
    C function on traced items go through dispatch; a Python function runs instrumented."""
    if not args or _is_python_visible(args[0]):
        return _as_user(fn, args, kwargs)
    return fn(_StepFromC(rec, args[0], frame), *args[1:], **kwargs)


def _same(f: Any) -> Any:
    return f


def _traced_now_or_lazy(rec, items: Any) -> bool:
    """An iterable whose items may carry traced values: one holding them now, or an
    iterator that will produce them later (a concrete untraced one cannot)."""
    if isinstance(items, list | tuple | dict | set | frozenset | range | str | bytes):
        return rules_traced(items) if isinstance(items, list | tuple) else False
    if isinstance(items, np.ndarray):
        return rec.value_of(items) is not None or id(items) in rec._containers
    return True


SPECIAL_FORMS: dict[int, tuple[Any, Any]] = {
    id(f): (f, h) for f, h in [
        (builtins.sum, _sum), (math.fsum, _fold), (math.prod, _fold),
        (functools.reduce, _reduce), (builtins.map, _map), (functools.partial, _partial),
        (np.lib.stride_tricks.as_strided, _as_strided), (itertools.starmap, _starmap),
        (itertools.accumulate, _accumulate), (np.frompyfunc, _frompyfunc),
    ]
}
_ITERATING_IDS = {id(f) for f in _ITERATING}
_ORDERING_IDS = {id(f) for f in ORDERING}
# operator's binary functions by BINARY_OP oparg (FUNC_OPS then INPLACE_OPS in recorder.py)
_OPERATOR_OPARG = {id(getattr(operator, n)): k for k, n in enumerate(
    [*_BINARY_NAMES, *(f"i{m.rstrip('_')}" for m in _BINARY_NAMES)])}
# solver adjoints hook: id(solver) -> (solver, handler), filled by configure_flags
SOLVERS: dict[int, tuple[Any, Any]] = {}
# C callables that call Python back only to order or filter (their results carry no values)
_CALLBACK_SAFE = {id(f) for f in (list.sort, builtins.sorted, builtins.filter)}


# Solver adjoints live above capture (framead/implicit.py and the solver modules); they
# register a source of ``id(solver) -> (solver, handler)``, asked each time the table is made.
_SOLVER_SOURCES: list[Callable[[], dict[int, tuple[Any, Any]]]] = []


def register_solvers(source: Callable[[], dict[int, tuple[Any, Any]]]) -> None:
    """Route the callables ``source()`` names to their handlers inside a capture (asked again
    whenever the flag table is rebuilt: after SciPy is imported, or a rule pack installed)."""
    if source not in _SOLVER_SOURCES:
        _SOLVER_SOURCES.append(source)


def solver_sources() -> tuple:
    """The registered solver sources (the flag table is rebuilt when they change)."""
    return tuple(_SOLVER_SOURCES)


def configure_flags() -> None:
    """Tell the C trampoline which callables have rules, are structural or special (the whole
    table at once: a capture running on another thread never sees it half built)."""
    table = [(fn, C.NATIVE) for fn in STRUCTURAL]
    table.append((list.extend, C.RULE))  # given a traced array: dispatch reads its rows
    # RULE (not SCAN): traced arrays come, lists of them not
    table += [(fn, C.RULE) for fn in _ITERATING - CHOOSING]
    # SCAN: traced floats inside list args
    table += [(fn, C.RULE | C.SCAN) for fn in rules.ruled_callables()]
    table += [(f, C.ALWAYS) for f, _ in SPECIAL_FORMS.values()]
    table += [(f, C.RULE | C.SCAN) for f, _ in WRITERS.values()]
    # solver adjoints: scipy.optimize/scipy.integrate solvers always come to dispatch (their
    # callbacks close over traced values even when no argument is traced)
    solvers: dict[int, tuple[Any, Any]] = {}
    for source in _SOLVER_SOURCES:
        solvers.update(source())
    table += [(f, C.ALWAYS) for f, _ in solvers.values()]
    C.load_callable_flags(table)
    SOLVERS.clear()
    SOLVERS.update(solvers)
