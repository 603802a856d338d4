"""Dispatch of a traced call: what ``fn(*args, **kwargs)`` does when the C trampoline sends
it here (an argument is traced, or the callable's flags say ALWAYS): a solver adjoint, a
special form, a write, a rule, a see-through Python call, or a hazard. The order of the
questions is the lookup order written at the head of call_kinds.py, which holds the table."""

from __future__ import annotations

import builtins
import collections.abc
import functools
import itertools
import math
import operator
import types
from typing import Any

import numpy as np

from framead import rules

from . import _evalframe as C
from . import protocols, sequences
from .call_kinds import (
    CALL_KINDS,
    ITERABLE_KEYWORDS,
    CallKind,
    Kind,
    inplace_method,
    is_structural,
    list_method,
    lookup,
    pair_rows,
    register_solvers,
    table_lookup,
    ufunc_method,
)
from .callables import (
    HEAPTYPE,
    bound_self,
    callable_name,
    constructs_in_python,
    holds_traced,
    in_python,
    is_python_visible,
    self_traced,
)
from .decision_guards import equality_call, text_traced
from .guards import WhichArgument
from .key_order import by_key, sort_in_place
from .keyword_inputs import map_keywords
from .membership import hashed_call, pairs_call, unseen_set
from .native import Result, call_as_user, call_quiet
from .operators import SLOT_BINARY, SLOT_UNARY
from .overrides import PLAIN_TYPES, TRACER_TYPES, python_attr
from .sourceloc import loc_of
from .special_forms import (
    TABLES,
    as_object_items,
    is_object_dtype,
    is_object_ufunc,
    object_conversion,
    object_made,
    object_operands,
    object_write,
    rows_if_traced,
    to_object_array,
)
from .unruled import callback_call, unknown_call
from .writers import static_result, ufunc_at
from .zero_trip import note as note_compare

# register_solvers: framead/solvers.py registers through calls
__all__ = ["dispatch", "map_keywords", "register_solvers", "text_guard"]

_METHOD_WRAPPER = types.MethodWrapperType  # x.__add__ bound to a number
_SLOT_WRAPPER = types.WrapperDescriptorType
_NO_SLOT = protocols.NO_SLOT
_UFUNC_REDUCERS = ("reduce", "accumulate", "reduceat", "outer")
_NOT_LISTED = CallKind(None, Kind.NONE)
_VIEWS: tuple[type, ...] = (type({}.keys()), type({}.values()),
                             type({}.items()))  # (and OrderedDict's)
# collections C iterates in an order of its own (a set's: by the items' hashes)
_COLLECTIONS = (set, frozenset, dict, collections.deque)


# The commonest traced call, math.sin(x) or np.sin(x): a C function of a module (or a ufunc)
# with a rule, not in the call-kind table, given positional arguments of these exact types
# goes straight to its rule (every question dispatch asks before the rule is "no" for it).
_PLAIN_ARGS = frozenset({float, int, bool, complex, str, type(None), np.ndarray, np.float64,
                         np.float32, np.int64})
_BUILTIN_FUNCTION = types.BuiltinFunctionType
_MODULE = types.ModuleType
_call_kinds_get = CALL_KINDS.get
_rule_of = rules.lookup


def _value_type(*args: Any, **kwargs: Any) -> Any:
    """``type`` as a C callable calls it for a helper (``groupby(data, type)`` in statistics):
    the class of an eager frame's Tracer's value, as the ``type`` special form answers."""
    if len(args) == 1 and not kwargs and type(args[0]) in TRACER_TYPES:
        return args[0].__class__
    return type(*args, **kwargs)


# C callables that call a callable they are given on the items (no way to see it back)
_TYPE_CALLERS = frozenset(map(id, (itertools.groupby, map, filter, sorted, min, max,
                                   itertools.starmap, itertools.filterfalse, operator.call)))


def dispatch(rec, fn: Any, args: tuple, kwargs: dict, frame, perform: Any = None) -> Any:
    """``perform``: what really makes the call when it is not ``fn(*args, **kwargs)`` (ndarray's
    ``__array_ufunc__`` called by a subclass's override: the ufunc's rule records it)."""
    if fn is type and len(args) == 1 and type(args[0]) in TRACER_TYPES and not kwargs:
        return args[0].__class__  # (an eager frame's Tracer in a helper: as eager_probes._type)
    if id(fn) in _TYPE_CALLERS and any(a is type for a in args):
        args = tuple(_value_type if a is type else a for a in args)  # groupby(data, type)
    t = type(fn)
    if not kwargs and perform is None and (
            t is np.ufunc or (t is _BUILTIN_FUNCTION and type(fn.__self__) is _MODULE)) and \
            _call_kinds_get(id(fn)) is None:
        for a in args:
            if type(a) not in _PLAIN_ARGS:
                break
        else:
            rule = _rule_of(fn)
            if rule is not None and not (len(args) > 1 and type(args[1]) is str and
                                         is_object_dtype(args[1])):  # (np.array(x, 'O'))
                return _apply_rule(rec, rule, fn, args, kwargs, args, frame, None)
    entry = lookup(fn) or _NOT_LISTED
    if t.__flags__ & HEAPTYPE and entry is _NOT_LISTED and in_python(t, "__call__") and \
            not isinstance(fn, type) and _rule_of(fn) is None:  # an object of the program's
        return call_as_user(fn, args, kwargs)  # class: natively only its __call__ runs
    kind = entry.kind
    if kind & Kind.SOLVER:
        return entry.data(rec, fn, args, kwargs, frame)
    if kind & Kind.EQUALITY and (rec.guards is not None or not kind & Kind.ITERATING):
        return call_as_user(fn, args, kwargs) if rec.guards is None else \
            equality_call(rec, fn, entry.fn, args, kwargs, frame)  # L.count(v), groupby
    if kind & Kind.OPERATOR and len(args) == 2 and not kwargs:  # operator.add(a, b) is a + b
        return rec.binary(entry.data, *args, frame)
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
            return call_as_user(fn, args, kwargs)
    elif type(fn) is _SLOT_WRAPPER and args and not kwargs and fn.__objclass__ in PLAIN_TYPES \
            and isinstance(args[0], fn.__objclass__):  # np.ndarray.__getitem__(self, k)
        slot = _slot_call(rec, fn.__get__(args[0]), args[1:], frame)
        if slot is not _NO_SLOT:
            return slot
    if kind & Kind.OWN_DUNDER and args and python_attr(type(args[0]), entry.data) and \
            type(args[0]) not in TRACER_TYPES:
        if fn in (float, complex) and len(args) == 1 and not kwargs and \
                protocols.conversions(args[0], fn):  # a user object's __float__/__complex__
            return protocols.convert_number(rec, fn, args[0], frame)
        return call_as_user(fn, args, kwargs)  # float(x) of a subclass with its own __float__
    if kind & Kind.SPECIAL_FORM:
        return entry.data(rec, fn, args, kwargs, frame)
    if kind & Kind.TEXT:  # str(x), format(x, ".3f"): natively, the text noted (a parse of
        # it is FA111) and, in a cached trace, guarded
        text = call_as_user(fn, args, kwargs) if rec.guards is None else \
            _text(rec, fn, args, kwargs, frame)
        if holds_traced((args, kwargs), deep=True):
            rec.made_text(text, frame)
        return text
    if type(fn) is functools.partial:
        return dispatch(rec, fn.func, fn.args + args, {**fn.keywords, **kwargs}, frame)
    if kind & (Kind.ATTRIBUTE_WRITE | Kind.WRITER):
        if kind & Kind.WRITER and args and _object_target(args[0]):  # np.copyto(obj, x)
            return object_write(rec, callable_name(fn), fn, args, kwargs, args, args[0], frame)
        return entry.data(rec, fn, args, kwargs, frame)
    self_ = bound_self(fn) if t.__flags__ & HEAPTYPE else getattr(fn, "__self__", None)
    if perform is None:
        detour = protocols.subclass_detour(rec, fn, self_, args, kwargs, frame)
        if detour is not _NO_SLOT:
            return detour
    if isinstance(self_, np.ndarray) and isinstance(fn, types.BuiltinMethodType):
        method = inplace_method(fn.__name__)
        if method is not None and fn.__name__ in ("fill", "put") and _object_target(self_):
            return object_write(rec, f"ndarray.{fn.__name__}", fn, args, kwargs,
                                (self_, *args), self_, frame)
        if method is not None:
            return method(rec, self_, args, kwargs, frame)
        if fn.__name__ == "__array__":  # np.matrix's .A: a plain view, as np.asarray makes
            return dispatch(rec, np.asarray, (self_, *args), kwargs, frame,
                            protocols.Deferred(fn, args, kwargs))
        if fn.__name__ in ("__copy__", "__deepcopy__") and self_.dtype.kind in "fc":
            rule = rules.lookup_method(np.ndarray, "copy")  # copy.copy(x), copy.deepcopy(x)
            if rule is not None:
                return rec.apply(rule, fn, args, kwargs, (self_,), frame)
    if kind & Kind.INPLACE_METHOD and args and isinstance(args[0], np.ndarray):
        # np.ndarray.sort(a) (np.ma's own sort): ndarray's method, also on a subclass
        a = args[0] if type(args[0]) is np.ndarray else args[0].view(np.ndarray)
        return entry.data(rec, a, args[1:], kwargs, frame)
    if isinstance(self_, np.ufunc):
        name = getattr(fn, "__name__", "")
        if name == "at":
            return ufunc_at(rec, fn, args, kwargs, frame)
        if name in _UFUNC_REDUCERS and _bool_valued(self_):  # np.all/np.any: a cut
            return static_result(rec, fn, args, kwargs, frame)
        same = ufunc_method(self_, name)
        if same is not None and args:  # np.add.reduce(x, axis) is np.sum(x, axis)
            return dispatch(rec, same, args[:1], _ufunc_method_kwargs(name, args, kwargs),
                            frame, perform or protocols.Deferred(fn, args, kwargs))
    rule, node_args = _rule_and_args(fn, args)
    if rule is not None and (converted := object_conversion(fn, node_args, kwargs)) is not None:
        # np.asarray(x, 'O'), x.astype(object): items linked to x, or reported
        return to_object_array(rec, fn, args, kwargs, frame, converted)
    if rule is not None:
        # user objects the callee converts in C (__array__, __float__): converted here first
        converted = protocols.convert_arguments(rec, rule, fn, args, kwargs, node_args, frame,
                                                perform)
        if type(converted) is Result:
            return converted.result  # (run natively: a traced value lost, reported)
        if converted is not _NO_SLOT:
            args, node_args, perform = converted
        # sequences NumPy/math read in C (deques, list subclasses, UserLists): read first
        converted = sequences.convert_arguments(rec, rule, fn, args, kwargs, node_args, perform)
        if converted is not sequences.NO_SLOT:
            args, kwargs, node_args, perform = converted
        return _apply_rule(rec, rule, fn, args, kwargs, node_args, frame, perform)
    if isinstance(fn, np.ufunc) and is_object_ufunc(fn):
        # np.frompyfunc / np.vectorize: C loops calling Python frames framead instruments;
        # a traced float array reaches them as Python numbers read from it (as NumPy's cast
        # to object makes them), so the callbacks compute on traced values
        args = tuple(as_object_items(rec, a, frame) for a in args)
        return rec.hold_if_container(call_as_user(fn, args, kwargs))
    method = list_method(fn)
    if method is list.extend:  # L.extend(x) iterates x in C: x's rows as read
        return call_as_user(fn, [rows_if_traced(rec, a, frame) for a in args], kwargs)
    if rec.guards is not None and method is list.sort:  # cached traces guard the order
        return sort_in_place(rec, fn, args, kwargs, frame)
    if rec.guards is not None and kind & Kind.ORDERING:
        if any(holds_traced(a) for a in (*args, *kwargs.values())):
            rec.unreplayable.append(f"{callable_name(fn)} orders traced values")
        return call_as_user(fn, args, kwargs)
    if kind & Kind.DECIDING:  # bool(x), math.isnan(x), np.isclose(a, b): native, guarded
        if fn is math.isclose and len(args) == 2:  # a tolerance test: noted as a == b is
            rec.first_comparison = rec.first_comparison or loc_of(frame)
            note_compare(rec, *args)
        if rec.guards is not None and any(holds_traced(v) for v in kwargs.values()):
            rec.unreplayable.append(f"{callable_name(fn)} decides on a traced keyword")
        return static_result(rec, fn, args, kwargs, frame)
    if kind & Kind.HASHED:  # set(x), s.add(v): a cached trace guards merges and order
        return hashed_call(rec, fn, args, kwargs, frame)
    if kind & Kind.ITERATING:
        return _iterating(rec, fn, kind, args, kwargs, frame)
    if type(fn) is protocols.LRU_WRAPPER:
        return protocols.cached_call(rec, fn, args, kwargs, frame)
    if isinstance(self_, protocols.RESUMABLE) and getattr(fn, "__name__", "") in (
            "send", "throw"):
        return protocols.resume(rec, fn, self_, args, kwargs, frame)
    if isinstance(fn, type) and issubclass(fn, protocols.NUMBER_BASES) and \
            fn not in PLAIN_TYPES and not constructs_in_python(fn):
        return protocols.number_subclass(rec, fn, args, kwargs, frame)
    if is_python_visible(fn):
        if rec.called is not None:  # cached traces watch the globals these read
            rec.called.append(fn)
        return call_as_user(fn, args, kwargs)
    if kind & Kind.LOOKUP or isinstance(self_, TABLES):  # d.get(k), k in s: by a traced key
        handler = entry.data if kind & Kind.LOOKUP else table_lookup(fn)
        if handler is not None:
            return handler(rec, fn, args, kwargs, frame)
    if C.get_callable_flags(fn) & C.NATIVE or kind & Kind.CALLBACK_SAFE or is_structural(fn):
        return call_as_user(fn, args, kwargs)
    # (as deep as the C trampoline looked: objects, dict views and iterators, their state,
    # inside the arguments of most C callables; items an iterator computes from traced
    # values inside the call are recorded there: callback_call)
    given = (*args, *kwargs.values())
    if not any(holds_traced(a) for a in given) and not self_traced(fn):
        if not (C.scan_mode(fn) & 2 and any(holds_traced(a, True) for a in given)):
            return callback_call(rec, fn, args, kwargs, frame)
        return unknown_call(rec, fn, args, kwargs, frame, hidden=True)
    return unknown_call(rec, fn, args, kwargs, frame)


def _object_target(a: Any) -> bool:
    """An object array a writer stores into (its items are followed by identity)."""
    return type(a) is np.ndarray and a.dtype.kind == "O"


def _rule_and_args(fn: Any, args: tuple):
    """``fn``'s rule and the node's arguments (a bound C method's ``self`` first)."""
    rule = rules.lookup(fn)
    if rule is not None:
        return rule, args
    if type(fn) is types.MethodType and not isinstance(fn.__func__, types.FunctionType):
        rule = rules.lookup(fn.__func__)  # a bound Cython method (rng.normal): self first
        if rule is not None:
            return rule, (fn.__self__, *args)
    self_ = bound_self(fn) if type(fn).__flags__ & HEAPTYPE else getattr(fn, "__self__", None)
    if (self_ is not None and isinstance(fn, types.BuiltinMethodType)
            and not isinstance(self_, types.ModuleType)):
        rule = rules.lookup_method(type(self_), fn.__name__)
        if rule is None and isinstance(self_, type):  # a classmethod (Decimal.from_float)
            rule = rules.lookup_method(self_, fn.__name__)
        if rule is not None:
            return rule, (self_, *args)
    return None, args


def _apply_rule(rec, rule, fn, args: tuple, kwargs: dict, node_args: tuple, frame,
                perform: Any) -> Any:
    """Record ``rule`` for the call (its traced keywords made positional, its ``out``
    argument a write, a declared mutation a write into that argument)."""
    if not ("out" in kwargs or rule.mutates or not rule.name.startswith(_NUMPY_NAMES)):
        args, kwargs, node_args = _out_keyword(rule, fn, args, kwargs, node_args)
    call = perform or fn
    if kwargs:
        node_args, kwargs_left = map_keywords(rule, node_args, kwargs)
        if kwargs_left is None:  # (np.trapezoid(dx=x) is Python: its body is traced)
            if perform is not None or not is_python_visible(fn):
                rec.hazard("FA106", rule.name, protocols.user_frame(frame),
                           f"a traced keyword argument of {rule.name} is not differentiated")
            return call_as_user(call, args, kwargs)
        if len(kwargs_left) < len(kwargs):  # traced keywords now positional in the node
            call = functools.partial(call, **{k: v for k, v in kwargs.items()
                                              if k not in kwargs_left})
            kwargs = kwargs_left
    if not (rule.cut or rule.vjp is None or callable(rule.vjp) or rule.elementwise):
        _lost_derivatives(rec, rule, node_args, frame)
    if not rule.cut:  # traced values inside what the rule reads as a constant: FA101
        for a in (*node_args, *kwargs.values()):
            if type(a) not in _PLAIN_ARGS:
                sequences.lost(rec, rule.name, node_args, kwargs, protocols.user_frame(frame))
                break
    target = _nth(node_args, rule.mutates[0]) if rule.mutates else None
    if type(target) is np.ndarray and target.dtype.kind == "O":  # np.copyto(obj, x)
        return object_write(rec, rule.name, call, args, kwargs, node_args, target, frame)
    if isinstance(target, np.ndarray):
        # writes argument k: the functional node, then k's buffer takes the result
        return rec.mutate(rule, call, args, kwargs, node_args, target, frame)
    if rec.containers and any(id(a) in rec.containers for a in node_args):
        # np.square(obj): on the numbers of object arrays holding traced items
        return object_operands(rec, rule, call, args, kwargs, node_args, frame)
    result = rec.apply(rule, call, args, kwargs, node_args, frame)
    if not rule.cut and (type(result) is np.ndarray and result.dtype.hasobject or  # the loop's:
                         not isinstance(result, np.ndarray | np.generic) and  # np.multiply(
                         type(result).__flags__ & (1 << 9)):  # x[0], obj) (a heap type's)
        object_made(rec, rule.name, tuple(a for i, a in enumerate(node_args)
                                          if i not in rule.nondiff), result, frame)
    return result


def _iterating(rec, fn, kind: int, args: tuple, kwargs: dict, frame) -> Any:
    """A C callable iterating its arguments (list, zip, min, sorted...): traced arrays give
    their rows; in a cached trace, what a CHOOSING one picks is guarded."""
    if fn is builtins.reversed and len(args) == 1 and not kwargs and \
            rec.reads_rows(args[0]) and not python_attr(type(args[0]), "__reversed__"):
        return rec.rows(args[0], reverse=True)  # (the rows of a[n - 1] down to a[0])
    if kind & Kind.PAIRS:
        return pairs_call(rec, fn, tuple(pair_rows(rec, a, frame) for a in args), kwargs,
                          frame)  # dict(m) of an (n, 2) array, a generator of rows
    if not (fn in (builtins.min, builtins.max) and len(args) > 1):  # max(a, b): items
        args = tuple(rows_if_traced(rec, a, frame) for a in args)
    if kwargs and (names := ITERABLE_KEYWORDS.get(id(fn))):  # deque(iterable=x)
        kwargs = {k: rows_if_traced(rec, v, frame) if k in names else v
                  for k, v in kwargs.items()}
    choosing = rec.guards is not None and kind & Kind.CHOOSING
    if choosing and len(args) == 1:
        # cached traces guard the choice (or know it unreplayable): what it chooses among as
        # a list, read once as the call would (a dict view; any iterator unless the call
        # stops early: a generator, map, zip, a traced array's row iterator)
        (a,) = args
        unseen_set(rec, a, frame)  # (sorted({a, b}): its merges were not guarded)
        if issubclass(type(a), _VIEWS) or (not kind & Kind.SHORT_CIRCUIT
                                     and isinstance(a, collections.abc.Iterator)) or (
                isinstance(a, _COLLECTIONS) and not python_attr(type(a), "__iter__")):
            args = (list(a),)  # (max(set(x)): its items in the order the call meets them)
    if choosing and "key" in kwargs:
        # the choice is made on what the key computes: not replayable
        result, by_traced = by_key(rec, fn, args, kwargs)
        if by_traced or any(holds_traced(a) for a in args):
            rec.unreplayable.append(f"{callable_name(fn)}(key=...) chooses by traced "
                                    "values")
        return result
    result = call_as_user(fn, args, kwargs)
    if choosing:  # which item min/max/sorted picked
        vals = [rec.tree_value(a) for a in args]
        if any(v is not None for v in vals):
            if kind & Kind.SHORT_CIRCUIT:
                rec.guard(fn, args, kwargs, vals, result, frame)
            else:
                which = WhichArgument(fn)
                rec.guard(which, args, kwargs, vals, which.index(result, args), frame)
    return result


def _text(rec, fn, args: tuple, kwargs: dict, frame) -> Any:
    """``str(x)``, ``repr(x)``, ``format(x, spec)``, ``"{:.2f}".format(x)`` of traced values
    in a cached trace: natively; the text is guarded (text_guard)."""
    try:
        result = call_as_user(fn, args, kwargs)
    except Exception as e:
        if holds_traced((args, kwargs)):
            rec._raised(callable_name(getattr(fn, "func", fn)), e, frame)  # (f-strings')
        raise
    text_guard(rec, fn, args, kwargs, result, frame)
    return result


def text_guard(rec, fn, args: tuple, kwargs: dict, text: Any, frame) -> None:
    """Text made from traced values decides wherever the program reads it (``if
    s.startswith("-")``, a dict key, ``s == t``): a cached trace re-makes it from the
    replay's values and misses where it differs; text of traced values it cannot re-make
    (inside a dict) makes the trace unreplayable."""
    given = (*args, *kwargs.values())
    vals = [rec.tree_value(a) for a in given]
    if any(text_traced(a, v is not None) for v, a in zip(vals, given, strict=True)):
        where = f" at {loc_of(frame).short()}" if frame is not None else ""
        name = callable_name(getattr(fn, "func", fn))  # (an f-string's: a partial)
        rec.unreplayable.append(f"{name} made text of traced values{where}")
    elif any(v is not None for v in vals):
        rec.guard(_Keywords(fn, tuple(kwargs)) if kwargs else fn, given, {}, vals, text, frame)


class _Keywords:
    """``fn`` given its keyword arguments after its positional ones (a guard's arguments
    hold the replay's values in both)."""

    __slots__ = ("fn", "names")

    def __init__(self, fn: Any, names: tuple):
        self.fn, self.names = fn, names

    def __call__(self, *args: Any) -> Any:
        n = len(args) - len(self.names)
        return self.fn(*args[:n], **dict(zip(self.names, args[n:], strict=True)))


def _out_keyword(rule, fn: Any, args: tuple, kwargs: dict, node_args: tuple):
    """A positional output (``np.add(x, y, o)``, ``np.clip(a, lo, hi, o)``) passed as
    ``out=`` (the same call), where the recorder sees its write; later positionals by name.
    Asked only of NumPy's rules (a user's ``out`` parameter is not NumPy's) that declare no
    mutation, called without ``out=``."""
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
_NUMPY_NAMES = ("np.", "ndarray.")  # the rules whose ``out`` parameter is NumPy's


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
            # (natively: inspect's frames, instrumented, would cost ~7 ms the first time)
            names = call_quiet(rules.infer_argnames, (key,), None)[0]
        hit = _NAMES[id(key)] = (key, names or rule.argnames or ())
    return hit[1]


def _nth(args: tuple, k: int) -> Any:
    return args[k] if k < len(args) else None


def _lost_derivatives(rec, rule, node_args: tuple, frame) -> None:
    """A traced value in an argument whose rule has no derivative (and does not declare it
    nondiff) loses its gradient: report it. Asked only of rules with a VJP per argument, not
    cut (elementwise rules leave out derivatives that are zero: copysign's sign, ldexp's
    exponent, nextafter's direction)."""
    for i, a in enumerate(node_args):
        if i not in rule.nondiff and not rule.has_vjp(i) and rec.tree_value(a) is not None:
            rec.hazard("FA101", rule.name, frame,
                       f"{rule.name} has no derivative rule in its argument {i}, which is "
                       "traced: the gradient through it is lost")


def _slot_call(rec, fn, args: tuple, frame) -> Any:
    """A slot of a traced number or array called by name (``x.__mul__(3.0)``) is recorded as
    the operation it is; its NotImplemented is returned as such. On a subclass instance it is
    the base type's slot (``super().__mul__(o)``, ``np.ndarray.__getitem__(self, k)``):
    recorded as that operation and performed by the slot itself, never by running the
    subclass's method again. Other objects' slots (a dict subclass's ``super().__setitem__``
    in enum's _EnumDict) are not operations on numbers: _NO_SLOT."""
    name, self_ = fn.__name__, fn.__self__
    if not isinstance(self_, protocols.NUMBERS):
        return _NO_SLOT
    exact = type(self_) in PLAIN_TYPES and all(type(a) in PLAIN_TYPES for a in args)
    if len(args) == 1 and name in SLOT_BINARY:
        oparg, reflected = SLOT_BINARY[name]
        a, b = (args[0], self_) if reflected else (self_, args[0])
        if not exact:
            return protocols.base_binary(rec, fn, args, oparg, a, b, frame)
        if oparg < 13 and fn(*args) is NotImplemented:
            return NotImplemented
        return rec.binary(oparg, a, b, frame)
    if not args and name in SLOT_UNARY:
        if exact:
            return dispatch(rec, SLOT_UNARY[name], (self_,), {}, frame)
        rule = rules.lookup(SLOT_UNARY[name])
        return _NO_SLOT if rule is None else rec.apply(rule, fn, (), {}, (self_,), frame)
    if name == "__getitem__" and len(args) == 1:
        return rec.get_item(self_, args[0], frame, None if exact else fn)
    if name == "__setitem__" and len(args) == 2:
        return rec.set_item(self_, *args, frame, None if exact else fn)
    return _NO_SLOT


def _bool_valued(ufunc: np.ufunc) -> bool:
    """np.logical_and, np.greater...: every loop's output is boolean."""
    return bool(ufunc.types) and all(t.endswith("?") for t in ufunc.types)


def _ufunc_method_kwargs(method: str, args: tuple, kwargs: dict) -> dict:
    """``ufunc.reduce``/``accumulate``'s arguments as keywords of the NumPy function that
    computes the same thing: their positional order differs (np.max has no dtype), and
    their axis defaults to 0 where the function's defaults to None (flatten)."""
    names: tuple[str, ...] = ("axis", "dtype", "out", "keepdims", "initial", "where")
    if method == "accumulate":
        names = names[:3]
    kw = {"axis": 0, **dict(zip(names, args[1:], strict=False)), **kwargs}
    if kw.get("dtype") is None:
        kw.pop("dtype", None)  # np.max/np.min take no dtype
    return kw

