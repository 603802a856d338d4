"""Special forms: C callables that iterate, fold or call back (``sum``, ``map``,
``functools.reduce``, ``itertools.starmap``...) seen through, so the values they combine are
recorded one by one; and the object-array and strided-view calls that hide traced items.
Calls made on the way go back through the recorder's dispatch (``rec.dispatch``)."""

from __future__ import annotations

import builtins
import functools
import gc
import math
import operator
from typing import Any

import numpy as np
from framead.rules import primitives as prim

from framead import rules

from . import _evalframe as C
from .buffers import buffer_owner
from .callables import holds_traced, is_python_visible
from .native import Result, call_as_user, call_quiet
from .primitive_rules import GATHER_RULE
from .sourceloc import is_framead_file, loc_of


def rows_if_traced(rec: Any, x: Any, frame: Any) -> Any:
    """A traced array as the iterator of its rows the recorder reads; anything else as is."""
    if rec.reads_rows(x):
        return rec.rows(x)
    return x


class StepFromC:
    """A C function given to a C iterator (map, reduce, starmap, accumulate): each call with
    traced arguments goes through dispatch. Copied or pickled, it is the function itself, so
    the iterator holding it copies and pickles as natively."""

    __slots__ = ("rec", "f", "frame")

    def __init__(self, rec: Any, f: Any, frame: Any) -> None:
        self.rec, self.f, self.frame = rec, f, frame

    def __call__(self, *a: Any) -> Any:
        if any(holds_traced(x) for x in a):
            return self.rec.dispatch(self.f, a, {}, self.frame)
        return self.f(*a)

    def __reduce__(self) -> tuple:
        return (_same, (self.f,))

    @property
    def __name__(self) -> str:  # np.frompyfunc names its ufunc after the function
        return getattr(self.f, "__name__", "?")


def _same(f: Any) -> Any:
    return f


def _iter_items(rec, it, frame) -> list:
    return list(rows_if_traced(rec, it, frame))


def sum_items(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """builtins.sum(items, start)."""
    if not args or len(args) > 2 or set(kwargs) - {"start"}:
        return call_as_user(fn, args, kwargs)
    items = _iter_items(rec, args[0], frame)
    start = args[1] if len(args) > 1 else kwargs.get("start", 0)
    rule = rules.lookup(builtins.sum)
    if rule is None or (rec.tree_value(items) is None and rec.value_of(start) is None):
        return fn(items, start)
    return rec.apply(rule, fn, (items, start), {}, (items, start), frame)


def fold(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """math.fsum(items), math.prod(items, start=s), math.sumprod(p, q) (3.12+): the iterables
    made lists once (generators included), prod's keyword-only start a node argument."""
    n = 2 if fn is _SUMPROD else 1
    if len(args) != n or set(kwargs) - ({"start"} if fn is math.prod else set()):
        return call_as_user(fn, args, kwargs)  # CPython's own error
    items = tuple(_iter_items(rec, a, frame) for a in args)
    rule = rules.lookup(fn)
    node_args = (*items, kwargs["start"]) if "start" in kwargs else items
    if rule is None or all(rec.tree_value(a) is None for a in node_args):
        return fn(*items, **kwargs)
    if not kwargs:
        return rec.apply(rule, fn, items, {}, node_args, frame)
    # the node takes start positionally, which math.prod does not: not replayed
    rec.unreplayable.append("math.prod(..., start=...)")
    return rec.apply(rule, functools.partial(fn, **kwargs), items, {}, node_args, frame)


_SUMPROD = getattr(math, "sumprod", None)


def _traced_now_or_lazy(rec, items: Any) -> bool:
    """An iterable whose items may carry traced values: one holding them now, or an
    iterator that will produce them later (a concrete untraced one cannot)."""
    if isinstance(items, list | tuple | dict | set | frozenset | range | str | bytes):
        return holds_traced(items) if isinstance(items, list | tuple) else False
    if isinstance(items, np.ndarray):
        return rec.value_of(items) is not None or id(items) in rec.containers
    return True


def _native_enough(rec, f: Any, iterables: tuple) -> bool:
    """No traced value can reach the C step ``f`` of a C iterator: its iterables are
    concrete and untraced, and ``f`` (a partial) binds nothing traced."""
    bound = (*getattr(f, "args", ()), *getattr(f, "keywords", {}).values()) \
        if type(f) is functools.partial else ()
    return not holds_traced(bound) and not any(_traced_now_or_lazy(rec, it)
                                               for it in iterables if it is not None)


def reduce_items(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """functools.reduce(f, items[, initial])."""
    if len(args) < 2 or kwargs or _native_enough(rec, args[0], args[1:]):
        return call_as_user(fn, args, kwargs)
    f = args[0]
    seq = rows_if_traced(rec, args[1], frame)
    if is_python_visible(f):
        return fn(f, seq, *args[2:])
    step = StepFromC(rec, f, frame)
    return fn(step, seq, *args[2:])


def map_items(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """builtins.map(f, *iterables)."""
    if not args or kwargs or _native_enough(rec, args[0], args[1:]):
        return call_as_user(fn, args, kwargs)
    f = args[0]
    its = tuple(rows_if_traced(rec, a, frame) for a in args[1:])
    if is_python_visible(f):
        return fn(f, *its)
    return fn(StepFromC(rec, f, frame), *its)


def starmap(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """itertools.starmap(f, pairs): a C ``f`` (operator.mul) is called through dispatch."""
    if len(args) != 2 or kwargs or _native_enough(rec, args[0], args[1:]):
        return call_as_user(fn, args, kwargs)
    f, items = args[0], rows_if_traced(rec, args[1], frame)
    if is_python_visible(f):
        return fn(f, items)
    return fn(StepFromC(rec, f, frame), items)


def accumulate(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """itertools.accumulate(items, func=operator.add): each step through dispatch."""
    if not args or len(args) > 2 or set(kwargs) - {"func", "initial"}:
        return call_as_user(fn, args, kwargs)
    f = args[1] if len(args) > 1 else kwargs.get("func")
    f = operator.add if f is None else f
    if _native_enough(rec, f, (args[0], kwargs.get("initial"))):
        return call_as_user(fn, args, kwargs)
    step = f if is_python_visible(f) else StepFromC(rec, f, frame)
    items = rows_if_traced(rec, args[0], frame)
    return fn(items, step, **{k: v for k, v in kwargs.items() if k == "initial"})


def frompyfunc(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """np.frompyfunc(C function, nin, nout) (np.vectorize(math.sin)): the ufunc's calls of a
    C function on traced items go through dispatch; a Python function runs instrumented."""
    if not args or is_python_visible(args[0]):
        return call_as_user(fn, args, kwargs)
    return fn(StepFromC(rec, args[0], frame), *args[1:], **kwargs)


def partial_call(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """functools.partial(f, traced...) over a C function: route its later calls to us."""
    p = call_as_user(fn, args, kwargs)
    if type(p) is functools.partial and (holds_traced(p.args) or holds_traced(
            list(p.keywords.values()))) and not is_python_visible(p.func):
        C.set_callable_flags(p, C.ALWAYS)
        rec.flagged.append(p)
    return p


def as_strided(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """``as_strided(x, shape, strides)`` views x's memory through ``__array_interface__`` (its
    base is not x): recorded as the gather of its elements from x's buffer. It runs
    natively (NumPy 2.5's sets the dtype through a call on the traced view: no node)."""
    out = call_quiet(fn, args, kwargs)
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
    return rec.apply(GATHER_RULE, Result(out), (), {}, (root, idx), frame)


# --- object arrays: NumPy's object loops see Python numbers -----------------------------------


def is_object_ufunc(fn: np.ufunc) -> bool:
    """A ufunc whose every loop is on objects (np.frompyfunc's, np.vectorize's)."""
    return bool(fn.types) and all(set(t.replace("->", "")) == {"O"} for t in fn.types)


def as_object_items(rec: Any, a: Any, frame: Any) -> Any:
    """A traced float/complex array as the object array NumPy's object loops see: each item
    a Python float (complex) recorded as read from the array."""
    if not (type(a) is np.ndarray and a.dtype.kind in "fc" and rec.value_of(a) is not None):
        return a
    cast = builtins.float if a.dtype.kind == "f" else builtins.complex
    out = np.empty(a.shape, dtype=object)
    for idx in np.ndindex(a.shape):
        out[idx] = rec.dispatch(cast, (rec.get_item(a, idx, frame),), {}, frame)
    return rec.hold_if_container(out)


def to_object_array(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """np.asarray(x, dtype=object) of a traced float array: each element is recorded as
    ``x[i]`` so the Python floats inside stay linked to x."""
    out = call_as_user(fn, args, kwargs)
    x = args[0]
    if isinstance(out, np.ndarray) and isinstance(x, np.ndarray) and out.shape == x.shape \
            and rec.value_of(x) is not None:
        for idx in np.ndindex(out.shape):
            out[idx] = rec.get_item(x, idx, frame)
        rec.hold_if_container(out)
    return out


# --- lookups by a traced key: memo tables that outlive a call ----------------------------------

TABLES = (dict, set, frozenset)
#: ``k in d.keys()`` is ``k in d``: a membership test of this view is one of its dict
_KEYS_VIEW: type = type({}.keys())
_MISSING = object()


class _KeyProbe:
    """Stands for a key in a dict or set lookup to find the key object the table holds: the
    table compares its stored key with the probe, whose ``__eq__`` keeps it."""

    __slots__ = ("key", "hash", "found")
    __array_ufunc__ = None  # (a NumPy scalar's == hands the comparison to us)

    def __init__(self, key: Any) -> None:
        self.key, self.hash, self.found = key, hash(key), _MISSING

    def __hash__(self) -> int:
        return self.hash

    def __eq__(self, other: object) -> bool:
        if other is self.key or other == self.key:
            self.found = other
            return True
        return False


def stored_key(table: Any, key: Any) -> Any:
    """The key object ``table`` (a dict, a dict's keys view or a set) holds equal to ``key``,
    or ``_MISSING``."""
    probe = _KeyProbe(key)
    contains = dict.__contains__ if isinstance(table, dict) else \
        set.__contains__ if isinstance(table, set) else \
        _KEYS_VIEW.__contains__ if type(table) is _KEYS_VIEW else frozenset.__contains__
    try:
        contains(table, probe)
    except Exception:  # (a stored key's own __eq__ refused the probe: unknown, not reported)
        return _MISSING
    return probe.found


def _this_capture(rec: Any, value: Any) -> bool:
    return value is not _MISSING and (rec.tree_value(value) if type(value) in (list, tuple)
                                      else rec.value_of(value)) is not None


def check_hit(rec: Any, table: Any, key: Any, value: Any, frame: Any, op: str,
              stored: Any = None) -> bool:
    """``table``'s lookup by the traced ``key`` gave ``value`` (``_MISSING``: a membership
    test's True): silent when the value or the stored key is this capture's (the program's
    own table, filled in this call; returns True) or on a miss; FA110 when both come from
    elsewhere (an earlier call, a constant). ``stored``: the stored key, found before."""
    if _this_capture(rec, value):
        return True
    if stored is None:
        stored = stored_key(table, key)
    if stored is _MISSING:
        return False
    if rec.value_of(stored) is not None:
        return True
    if value is _MISSING:  # a membership test: a literal set is a comparison with constants
        owner = _dict_of(table)
        if owner is not None and _this_capture(rec, dict.get(owner, stored, _MISSING)):
            return True
        if any(c is table for c in _user_code(frame).co_consts):
            return False
        what = "found the traced key among keys this call did not store"
    else:
        what = "returned a value this call did not compute from its inputs"
    rec.hazard("FA110", op, frame,
               f"{op} by a traced key {what} (stored by an earlier call, or a constant): no "
               "gradient passes through it, although the result depends on the key")
    return False


def _dict_of(table: Any) -> Any:
    """The dict of a dict or of its keys view (the view refers to nothing else); else None."""
    if isinstance(table, dict):
        return table
    if type(table) is _KEYS_VIEW:
        owner = gc.get_referents(table)
        return owner[0] if len(owner) == 1 and isinstance(owner[0], dict) else None
    return None


def _user_code(frame: Any) -> Any:
    """The code of ``frame`` or its nearest caller outside framead."""
    while frame.f_back is not None and is_framead_file(frame.f_code.co_filename):
        frame = frame.f_back
    return frame.f_code


def container_lookup(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """``d.get(k)``, ``d.setdefault(k, v)``, ``d.pop(k)``, ``d[k]`` and membership (``k in
    s``, which the rewriter makes ``operator.contains(s, k)``) of dicts and sets: with a traced
    key, a hit on an entry this call did not compute is FA110 (check_hit). A membership
    decided on traced values (of any container: ``x in traced_array``, ``t in (0.5, 1.0)``)
    is a comparison: guarded in a cached trace (not a hit on this call's own key: a replay's
    new key is not in the recorded table, the program's is) and noted for finish's FA102."""
    self_ = getattr(fn, "__self__", None)
    table: Any
    if isinstance(self_, TABLES):  # d.get(k): bound; dict.get(d, k), operator.contains(d, k)
        table, rest = self_, args
    else:
        table, rest = (args[0], args[1:]) if args else (None, ())
    name = fn.__name__
    member = name in ("__contains__", "contains")
    if not rest or kwargs or rec.value_of(rest[0]) is None or not (
            isinstance(table, TABLES) or (member and type(table) is _KEYS_VIEW)):
        result = call_as_user(fn, args, kwargs)
        if member and rest:  # (x in traced_array, t in [a, b])
            _guard_membership(rec, table, rest[0], result, frame, compared=True)
        return result
    key = rest[0]
    stored = stored_key(table, key) if name == "pop" else None  # (gone after the call)
    result = call_as_user(fn, args, kwargs)
    op = f"{type(table).__name__}.{name}"
    if member:
        _compared(rec, frame)
        own = result is True and check_hit(rec, table, key, _MISSING, frame, op)
        if rec.guards is not None and not own:
            _guard_membership(rec, table, key, result, frame)
    elif stored is not _MISSING:
        check_hit(rec, table, key, result, frame, op, stored)
    return result


def _compared(rec: Any, frame: Any) -> None:
    """A membership test on traced values is a comparison: where the first one ran, for
    finish's FA102 (a result reached from the inputs only through decisions)."""
    if getattr(rec, "first_comparison", 0) is None:
        rec.first_comparison = loc_of(frame)


def _guard_membership(rec: Any, table: Any, key: Any, result: Any, frame: Any,
                      compared: bool = False) -> None:
    """The membership decision on traced values, guarded where a cached trace is recorded
    (and, ``compared``, noted as a comparison)."""
    vals = (rec.tree_value(table), rec.tree_value(key))
    if vals != (None, None):
        if compared:
            _compared(rec, frame)
        if rec.guards is not None:
            rec.guard(operator.contains, (table, key), {}, vals, result, frame)
