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
import weakref
from typing import Any

import numpy as np
from framead.rules import primitives as prim

from framead import rules

from . import _evalframe as C
from .buffers import buffer_owner
from .callables import callable_name, holds_traced, is_python_visible, self_traced
from .membership import compared, guard_membership, key_lookup
from .native import Result, call_as_user, call_quiet
from .object_items import as_object_items as as_object_items
from .object_items import picked
from .operators import FUNC_OPS, INPLACE_OPS
from .overrides import TRACER_TYPES
from .primitive_rules import GATHER_RULE
from .sourceloc import is_framead_file

_INEXACT = (float, complex, np.inexact)


def rows_if_traced(rec: Any, x: Any, frame: Any) -> Any:
    """A traced array as the iterator of its rows the recorder reads; anything else as is."""
    return rec.rows(x) if rec.reads_rows(x) else x


class ItemRows:
    """An item made its rows where the recorder reads rows (the recorder held weakly: a kept
    iterator must not keep the recording alive)."""

    __slots__ = ("rec_ref",)

    def __init__(self, rec_ref: Any) -> None:
        self.rec_ref = rec_ref

    def __call__(self, item: Any) -> Any:
        rec = self.rec_ref()
        return rec.rows(item) if rec is not None and rec.reads_rows(item) else item

    @staticmethod
    def as_is(item: Any) -> Any:
        return item

    def __reduce__(self) -> tuple:
        return (getattr, (ItemRows, "as_is"))  # (pickled or copied: items as they are)


class StepFromC:
    """A C function given to a C iterator (map, reduce, starmap, accumulate): each call with
    traced arguments goes through dispatch. Copied or pickled, it is the function itself, so
    the iterator holding it copies and pickles as natively."""

    __slots__ = ("rec", "f", "frame")

    def __init__(self, rec: Any, f: Any, frame: Any) -> None:
        self.rec, self.f, self.frame = rec, f, frame

    def __call__(self, *a: Any) -> Any:
        if self_traced(self.f) or any(holds_traced(x) for x in a):  # (map(x.item, idx))
            return self.rec.dispatch(self.f, a, {}, self.frame)
        return self.f(*a)

    def __reduce__(self) -> tuple:
        return (_same, (self.f,))

    @property
    def __name__(self) -> str:  # np.frompyfunc names its ufunc after the function
        return getattr(self.f, "__name__", "?")


def _same(f: Any) -> Any:
    return f


def sum_items(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """builtins.sum(items, start)."""
    if not args or len(args) > 2 or set(kwargs) - {"start"}:
        return call_as_user(fn, args, kwargs)
    items = call_as_user(list, (rows_if_traced(rec, args[0], frame),), None)
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
    items = tuple(call_as_user(list, (rows_if_traced(rec, a, frame),), None) for a in args)
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
    concrete and untraced, and ``f`` (a partial, a bound method) binds nothing traced."""
    bound = (*getattr(f, "args", ()), *getattr(f, "keywords", {}).values()) \
        if type(f) is functools.partial else ()
    return not self_traced(f) and not holds_traced(bound) and \
        not any(_traced_now_or_lazy(rec, it) for it in iterables if it is not None)


def reduce_items(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """functools.reduce(f, items[, initial])."""
    if len(args) < 2 or kwargs or _native_enough(rec, args[0], args[1:]):
        return call_as_user(fn, args, kwargs)
    f, seq = args[0], rows_if_traced(rec, args[1], frame)
    return call_as_user(fn, (f if is_python_visible(f) else StepFromC(rec, f, frame), seq,
                             *args[2:]), None)


def map_items(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """builtins.map(f, *iterables)."""
    if not args or kwargs or _native_enough(rec, args[0], args[1:]):
        return call_as_user(fn, args, kwargs)
    f, its = args[0], tuple(rows_if_traced(rec, a, frame) for a in args[1:])
    return fn(f if is_python_visible(f) else StepFromC(rec, f, frame), *its)


def starmap(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """itertools.starmap(f, pairs): a C ``f`` (operator.mul) is called through dispatch."""
    if len(args) != 2 or kwargs or _native_enough(rec, args[0], args[1:]):
        return call_as_user(fn, args, kwargs)
    # (C makes each item a tuple, iterating a traced row in C: its items as read instead)
    f, items = args[0], map(ItemRows(weakref.ref(rec)), rows_if_traced(rec, args[1], frame))
    return fn(f if is_python_visible(f) else StepFromC(rec, f, frame), items)


def accumulate(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """itertools.accumulate(items, func=operator.add): each step through dispatch."""
    if not args and "iterable" in kwargs:  # (accumulate(iterable=x))
        kwargs = dict(kwargs)
        args = (kwargs.pop("iterable"),)
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
    """``as_strided(x, shape, strides)`` (its base is not x): the gather of its elements from
    x's buffer, run natively (NumPy 2.5's sets the dtype on the traced view: no node)."""
    out = call_quiet(fn, args, kwargs)
    x = args[0] if args else kwargs.get("x")
    if not (isinstance(x, np.ndarray) and isinstance(out, np.ndarray)) or rec.value_of(x) is None:
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


#: NumPy's conversions to an array of a given dtype (np.array(a, dtype), a.astype(dtype)...)
_CONVERSIONS = frozenset(map(id, (np.array, np.asarray, np.asanyarray, np.ascontiguousarray,
                                  np.asfortranarray, np.ndarray.astype)))


def is_object_dtype(d: Any) -> bool:
    """``d`` spells the object dtype as NumPy reads it (object, np.object_, 'O', '|O',
    np.dtype('O')); None (the default dtype) does not."""
    if d is None:
        return False
    try:
        return np.dtype(d).kind == "O"
    except Exception:  # (not a dtype: NumPy's own TypeError comes from the call)
        return False


def object_conversion(fn: Any, node_args: tuple, kwargs: dict) -> Any:
    """The array ``fn`` converts to an object array (``np.asarray(x, 'O')``,
    ``x.astype(object)``, the dtype positional or keyword), or None."""
    if id(fn) in _CONVERSIONS:
        pass
    elif getattr(fn, "__name__", "") == "astype" and \
            isinstance(getattr(fn, "__self__", None), np.ndarray):
        pass
    else:
        return None
    if len(node_args) < 1 + ("dtype" not in kwargs):
        return None
    d = node_args[1] if len(node_args) > 1 else kwargs["dtype"]
    return node_args[0] if is_object_dtype(d) else None


def to_object_array(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any,
                    x: Any = None) -> Any:
    """``np.asarray(x, dtype=object)`` (``x.astype('O')``, ``np.array([x, y], 'O')``...) of
    traced ``x``: each number NumPy made from a traced array's item (a Python float, as
    NumPy's cast makes it) is recorded as read from that item, so the object array's items
    stay linked to x; objects NumPy keeps by identity (a list's traced floats) stay as they
    are. What is left unlinked is reported (FA101)."""
    out = call_as_user(fn, args, kwargs)
    x = args[0] if x is None and args else x
    if type(x) in TRACER_TYPES:  # (an eager frame's array handed to instrumented code)
        x = x._fa_obj
    if isinstance(out, np.ndarray) and type(out) is not np.ndarray and \
            out.dtype.kind == "O" and rec.tree_value(x) is not None:  # (np.matrix, np.ma)
        _report_unlinked(rec, callable_name(fn), out.view(np.ndarray), frozenset(), frame)
    elif type(out) is np.ndarray and out.dtype.kind == "O" and out.size and \
            rec.tree_value(x) is not None:
        kept = _leaf_ids(x)
        if _unlinked(rec, out, kept):  # (a list's traced floats are kept by identity)
            src = x if rec.value_of(x) is not None else _numbers_of(rec, x, frame)
            if src is not None:
                link_items(rec, out, src, frame, kept)
        rec.hold_if_container(out)
        _report_unlinked(rec, callable_name(fn), out, kept, frame)
    return out


def link_items(rec: Any, out: np.ndarray, src: Any, frame: Any, kept: frozenset = frozenset()
               ) -> None:
    """The untraced numbers in the object array ``out`` (not ``kept``: objects NumPy keeps by
    identity), made by NumPy from the traced array (or number) ``src`` broadcast to out's
    shape, replaced by ``src``'s items as read from it (equal values, NumPy's item types)."""
    shape = np.shape(src)
    lead = out.ndim - len(shape)
    if lead < 0 or any(n not in (1, m) for n, m in zip(shape, out.shape[lead:], strict=True)):
        return
    is_array = isinstance(src, np.ndarray)
    for idx in np.ndindex(out.shape):
        native = out[idx]
        if not isinstance(native, float | complex | np.inexact) or id(native) in kept or \
                rec.value_of(native) is not None:
            continue
        at = tuple(0 if n == 1 else i for i, n in zip(idx[lead:], shape, strict=True))
        v = src[at] if is_array else src  # (the value: unrecorded, for the comparison)
        if not (v == native or (v != v and native != native)):
            continue  # NumPy computed something else (the object loop's own arithmetic)
        item = rec.get_item(src, at, frame) if is_array else src
        out[idx] = item if type(item) is type(native) else \
            rec.dispatch(type(native), (item,), {}, frame)
    rec.hold_if_container(out)


def _numbers_of(rec: Any, x: Any, frame: Any, constant: bool = False) -> Any:
    """A list/tuple (or object array) holding traced numbers or arrays as the traced numeric
    array NumPy makes of it (recorded; ``constant``: also one holding none), or None."""
    if type(x) is np.ndarray and x.dtype.kind == "O":
        x = x.tolist()
    if type(x) not in (list, tuple):
        return None
    try:
        with np.errstate(all="ignore"):
            arr = rec.coerce(x, frame)
    except Exception:  # (a ragged or non-numeric list: nothing to link from)
        return None
    if isinstance(arr, np.ndarray) and arr.dtype.kind in "fc" and \
            rec.value_of(arr) is not None or constant and arr.dtype.kind in "biufc":
        return arr
    return None


def _leaf_ids(x: Any) -> frozenset:
    """Ids of the objects inside the lists/tuples/object arrays ``x`` (kept by identity)."""
    ids, todo, seen = set(), [x], set()
    while todo:
        t = todo.pop()
        if (type(t) in (list, tuple) or type(t) is np.ndarray and t.dtype.kind == "O") and \
                id(t) not in seen:
            seen.add(id(t))
            todo.extend(t.flat if type(t) is np.ndarray else t)
        else:
            ids.add(id(t))
    return frozenset(ids)


def _unlinked(rec: Any, out: np.ndarray, kept: frozenset) -> bool:
    """``out`` holds numbers, or user objects holding them (NumPy's object loop's), neither
    ``kept`` (by identity) nor traced."""
    return any(id(v) not in kept and (rec.value_of(v) is None if isinstance(v, _INEXACT)
                                      else _lost_inside(v)) for v in out.flat)


def _lost_inside(v: Any) -> bool:
    """``v`` (of a Python class) holds floats (attributes, slots, their lists), none traced."""
    if type(v).__module__ == "builtins" or isinstance(v, np.generic | np.ndarray | type):
        return False
    inner = [r for r in gc.get_referents(v) if not isinstance(r, type)]
    inner += [w for r in inner if type(r) in (dict, list, tuple) for w in
              (r.values() if type(r) is dict else r)]
    return any(isinstance(w, _INEXACT) for w in inner) and not holds_traced(v, deep=True)


def _report_unlinked(rec: Any, name: str, out: np.ndarray, kept: frozenset, frame: Any) -> None:
    """FA101 where ``out`` (an object array made from traced values) holds what is lost."""
    if _unlinked(rec, out, kept):
        rec.hazard("FA101", name, frame,
                   f"{name} made an object array of numbers (or objects holding them) computed "
                   "from traced values that framead does not follow: the gradient through them "
                   "is lost")


def object_operands(rec: Any, rule: Any, fn: Any, args: tuple, kwargs: dict,
                    node_args: tuple, frame: Any) -> Any:
    """``rule``'s call on object arrays holding traced numbers (``np.square(obj)``, ``obj *
    2``; held containers): recorded on their numbers; an object array it returns, whose
    numbers NumPy's object loops computed in C, is linked to the same call recorded on the
    numeric arrays (equal values), else reported (FA101)."""
    inplace = _INPLACE.get(id(fn))  # o += 1.0: the numbers before the call, its functional op
    nums = _operand_numbers(rec, node_args, frame) if inplace else None
    out = rec.apply(rule, fn, args, kwargs, node_args, frame)
    if not (type(out) is np.ndarray and out.dtype.kind == "O" and out.size):
        if fn is not operator.getitem:  # o.max(): an item picked in C
            picked(rec, rule.name, node_args, out)
        return out
    self_ = len(node_args) - len(args)  # 1: a bound method (node_args[0] is its self)
    nums = nums or _operand_numbers(rec, node_args, frame)
    twin = getattr(type(node_args[0]), getattr(fn, "__name__", ""), None) if self_ else \
        inplace or fn
    if self_ and not isinstance(nums[0], np.ndarray):
        twin = None
    if twin is not None and "out" not in kwargs:
        try:
            with np.errstate(all="ignore"):
                src = rec.apply(rule, twin, tuple(nums), kwargs, tuple(nums), frame)
        except Exception:  # (the numbers' call raised where the objects' did not)
            src = None
        if isinstance(src, np.ndarray) and src.dtype.kind in "fc" and \
                rec.value_of(src) is not None and src.shape == out.shape:
            link_items(rec, out, src, frame)
    rec.hold_if_container(out)  # (np.where(m, obj, None): items kept by identity)
    _report_unlinked(rec, rule.name, out, _leaf_ids(list(node_args)), frame)
    return out


_INPLACE = {id(i): f for i, f in zip(INPLACE_OPS, FUNC_OPS, strict=True)}


def _operand_numbers(rec: Any, node_args: tuple, frame: Any) -> list:
    """``node_args`` with each object array of numbers as the numeric array of them."""
    return [n if type(a) is np.ndarray and a.dtype.kind == "O" and
            (n := _numbers_of(rec, a, frame, True)) is not None else a for a in node_args]


def object_made(rec: Any, name: str, inputs: tuple, out: Any, frame: Any) -> None:
    """An object array ``out`` a rule's call made from ``inputs`` (``np.full(n, t,
    dtype=object)``): held while it holds traced items; numbers NumPy computed from traced
    inputs (``np.multiply(x, 2, dtype=object)``) are reported (FA101), as is a user object
    NumPy's object loop returned for traced scalars (``np.multiply(x[0], obj)``)."""
    if type(out) is not np.ndarray and rec.value_of(out) is None and \
            rec.tree_value(list(inputs)) is not None:
        return _report_unlinked(rec, name, np.array([out, None], object)[:1],
                                _leaf_ids(list(inputs)), frame)
    if not (type(out) is np.ndarray and out.dtype.hasobject and out.size) or \
            id(out) in rec.containers or rec.tree_value(list(inputs)) is None:
        return
    if out.dtype.kind != "O":  # x.astype([('a', 'O')])
        rec.hazard("FA101", name, frame, f"{name} made a structured array with object fields "
                   "from traced values: framead does not follow their items")
        return
    kept = _leaf_ids(list(inputs))
    if name in ("np.full", "np.full_like") and inputs:  # the fill value, copied
        link_items(rec, out, inputs[-1], frame, kept)
    rec.hold_if_container(out)
    _report_unlinked(rec, name, out, kept, frame)


def object_write(rec: Any, name: str, fn: Any, args: tuple, kwargs: dict, node_args: tuple,
                 target: np.ndarray, frame: Any) -> Any:
    """A rule's call writing into the object array ``target`` (``np.copyto(obj, x)``): run as
    it is; the numbers it stores from a traced array are linked to its items, else
    reported (FA101)."""
    before = list(target.flat)  # (alive: their ids are not reused by the items it makes)
    result = call_as_user(fn, args, kwargs)
    kept = _leaf_ids([a for a in node_args if a is not target] + before)
    for a in node_args:
        if a is not target and isinstance(a, np.ndarray) and a.dtype.kind in "fc" and \
                rec.value_of(a) is not None:
            link_items(rec, target, a, frame, kept)
    if rec.tree_value([a for a in node_args if a is not target]) is not None:
        rec.hold_if_container(target)
        _report_unlinked(rec, name, target, kept, frame)
    return result


def object_store(rec: Any, a: np.ndarray, k: Any, v: Any, frame: Any,
                 base_slot: Any = None) -> None:
    """``a[k] = v`` into an object array ``a``: NumPy keeps a number ``v`` by identity, and
    makes Python floats of a traced array's items: those are linked to them (a basic key;
    else reported, FA101). ``a`` is held while it holds traced items."""
    (base_slot or a.__setitem__)(k, v)
    if isinstance(v, np.ndarray) and v.dtype.kind in "fc" and rec.value_of(v) is not None:
        region = call_quiet(np.ndarray.__getitem__, (a, k), None) \
            if prim.is_basic_key(k) else None
        if isinstance(region, np.ndarray) and region.base is not None:
            link_items(rec, region, v, frame)
            _report_unlinked(rec, "ndarray.__setitem__", region, frozenset(), frame)
        else:
            rec.hazard("FA101", "ndarray.__setitem__", frame, "a traced array was stored "
                       "into an object array by an advanced index: its items are not followed")
    if id(a) not in rec.containers:
        rec.hold_if_container(a)


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
    is a comparison: guarded in a cached trace (membership.guard_membership: against what the
    table holds now, this call's own keys among them) and noted for finish's FA102."""
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
        if member and rest:  # (x in traced_array, t in [a, b], 0.5 in {t, 1.0})
            guard_membership(rec, table, rest[0], result, frame, note=True)
        elif rest and name in ("get", "__getitem__"):  # tally.get(1.0): traced keys
            key_lookup(rec, table, rest[0], frame)
        return result
    key = rest[0]
    stored = stored_key(table, key) if name == "pop" else None  # (gone after the call)
    result = call_as_user(fn, args, kwargs)
    op = f"{type(table).__name__}.{name}"
    if member:
        compared(rec, frame)
        if result is True:
            check_hit(rec, table, key, _MISSING, frame, op)
        guard_membership(rec, table, key, result, frame)
    elif stored is not _MISSING:
        check_hit(rec, table, key, result, frame, op, stored)
    return result
