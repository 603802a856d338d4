"""Equality decisions C makes on traced values, in cached traces: ``list.count/index/remove``,
``tuple.count/index``, a deque's, ``operator.countOf/indexOf`` and ``itertools.groupby``'s
runs compare items in C, where no probe sees them. They run natively; a cached trace guards
each decision, re-made from the replay's values (a replay where it differs is a miss), or,
where it cannot be re-made (an iterator's items, a key computing traced values), knows the
trace unreplayable, with the reason. Also: which text arguments hold traced values that
``repr`` reads in C though no tree of framead's holds them (sets, slices, dict views)."""

from __future__ import annotations

import collections
import collections.abc
import gc
import itertools
import operator
import weakref
from typing import Any

from . import _evalframe as C
from .callables import callable_name, closes_over_traced, holds_traced, is_python_visible
from .native import call_as_user, call_quiet
from .sourceloc import loc_of
from .special_forms import rows_if_traced

# C callables deciding by equality of their items (bound or not): natively run, guarded
EQUALITY = (list.count, list.index, list.remove, tuple.count, tuple.index,
            collections.deque.count, collections.deque.index, collections.deque.remove,
            operator.countOf, operator.indexOf)
_REMOVES = (list.remove, collections.deque.remove)
# a deque's decisions re-made on a list of its items (a replay's arguments are lists)
_AS_LIST = {collections.deque.count: list.count, collections.deque.index: list.index}
_ITERATOR = collections.abc.Iterator
_SEQS = (list, tuple, float, int)
_deque = collections.deque


class Outcome:
    """``fn``'s result, or the name of the exception it raised (a guard never raises:
    ``L.index(v)`` that raised ValueError when recorded must raise it again)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Any):
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        try:
            return self.fn(*args)
        except Exception as e:  # noqa: BLE001 - the outcome is what is compared
            return f"raised {type(e).__name__}"


class RunLengths:
    """The lengths of the runs ``itertools.groupby`` (no key) finds among ``items``."""

    __slots__ = ()

    def __call__(self, items: Any) -> tuple:
        return tuple(sum(1 for _ in g) for _, g in itertools.groupby(items))


def _where(frame: Any) -> str:
    return f" at {loc_of(frame).short()}" if frame is not None else ""


def _unseen(a: Any) -> bool:
    """``a`` holds traced values no tree of framead's reads (an iterator's state)."""
    return holds_traced(a) or (isinstance(a, _ITERATOR) and C.scan_inside(a))


def equality_call(rec: Any, fn: Any, unbound: Any, args: tuple, kwargs: dict,
                  frame: Any) -> Any:
    """``fn(*args, **kwargs)`` (``unbound``: its entry, ``list.count`` for ``L.count``) in a
    cached trace: natively, the decision guarded."""
    if unbound is itertools.groupby:
        return groupby_call(rec, fn, args, kwargs, frame)
    self_ = getattr(fn, "__self__", None)
    given = (self_, *args) if fn is not unbound and self_ is not None else args
    if kwargs or not given:
        return call_as_user(fn, args, kwargs)  # (natively: a TypeError)
    for a in given:
        if type(a) not in _SEQS and isinstance(a, _ITERATOR):
            break
    else:
        if not C.members_traced(_deque(given)):  # (nothing traced: the C scan, cheap)
            return call_as_user(fn, args, kwargs)
    vals = [rec.tree_value(a) for a in given]
    if isinstance(given[0], collections.deque):
        vals[0] = list(vals[0]) if vals[0] is not None else None
        given = (list(given[0]), *given[1:])
        unbound = _AS_LIST.get(unbound, unbound)
    if all(v is None for v in vals):
        if any(_unseen(a) for a in given):
            rec.unreplayable.append(f"{callable_name(unbound)} compares traced values it "
                                    f"reads from an iterator{_where(frame)}")
        return call_as_user(fn, args, kwargs)
    removes = unbound in _REMOVES
    before = list(given[0]) if removes else None
    guard_args = (before, *given[1:]) if before is not None else given
    check = Outcome(operator.indexOf if removes else unbound)
    try:
        result = call_as_user(fn, args, kwargs)
    except Exception as e:
        rec.guard(check, guard_args, {}, vals, f"raised {type(e).__name__}", frame)
        raise
    if before is not None:  # which item it removed: the first whose identity moved
        after = list(given[0])
        got = next((i for i, (a, b) in enumerate(zip(before, after, strict=False))
                    if a is not b), len(after))
    else:
        got = result
    rec.guard(check, guard_args, {}, vals, got, frame)
    return result


class _KeyNote:
    """A groupby key run by C: a trace whose key returns traced values (C compares them)
    is not replayable."""

    __slots__ = ("key", "rec", "where", "noted")

    def __init__(self, key: Any, rec: Any, where: str):
        self.key, self.rec, self.where, self.noted = key, weakref.ref(rec), where, False

    def __call__(self, item: Any) -> Any:
        k = self.key(item)
        if not self.noted and holds_traced(k):
            self.noted = True
            rec = self.rec()
            if rec is not None:
                rec.unreplayable.append("itertools.groupby(key=...) compares traced values "
                                        f"the key computes{self.where}")
        return k


def groupby_call(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """``itertools.groupby(it, key)`` in a cached trace: a traced array is its rows; the runs
    of a list/tuple (or an array's rows) are guarded (RunLengths, re-made on the replay's
    items); an iterator's traced items, a C key given traced items, a key returning traced
    values make the trace unreplayable."""
    names = ("iterable", "key")
    if len(args) > 2 or any(k not in names or k in names[:len(args)] for k in kwargs):
        return call_as_user(fn, args, kwargs)  # (natively: a TypeError)
    bound = {**dict(zip(names, args, strict=False)), **kwargs}
    if "iterable" not in bound:
        return call_as_user(fn, args, kwargs)
    it, key = bound["iterable"], bound.get("key")
    if rec.reads_rows(it):
        it = list(rows_if_traced(rec, it, frame))  # (finite: read now, as C would)
    where = _where(frame)
    if key is not None:
        if is_python_visible(key):
            key = _KeyNote(key, rec, where)
        elif holds_traced(it) or (isinstance(it, _ITERATOR) and C.scan_inside(it)) or \
                closes_over_traced(key):
            rec.unreplayable.append(f"itertools.groupby compares what the C key "
                                    f"{callable_name(key)} makes of traced values{where}")
    else:
        v = rec.tree_value(it) if type(it) in (list, tuple) else None
        runs = Outcome(RunLengths())  # (rows of a 2-d array: ValueError, as iterating)
        if v is not None:
            rec.guard(runs, (it,), {}, [v], call_quiet(runs, (it,), None), frame)
        elif _unseen(it):
            rec.unreplayable.append("itertools.groupby compares traced items of an iterator "
                                    f"in C{where}")
    return call_as_user(fn, (it,) if key is None else (it, key), None)


_VIEWS: tuple[type, ...] = (type({}.keys()), type({}.values()), type({}.items()))


def text_traced(a: Any, opaque: bool = False) -> bool:
    """``a`` holds traced values its C ``repr`` reads (inside lists, tuples, dicts, keys
    included, sets, frozensets, slices and dict views, nested); ``opaque``: only those inside
    what a guard's tree keeps as recorded (anything but lists and tuples)."""
    stack, seen = [(a, not opaque)], set()
    while stack:
        x, counts = stack.pop()
        if counts and C.is_tracked(x):
            return True
        if id(x) in seen:
            continue
        if isinstance(x, list | tuple):
            seen.add(id(x))
            stack.extend((y, counts) for y in (list.__iter__(x) if isinstance(x, list)
                                               else tuple.__iter__(x)))
            continue
        if isinstance(x, set | frozenset):
            inside = list(set.__iter__(x) if isinstance(x, set) else frozenset.__iter__(x))
        elif isinstance(x, dict):
            inside = [*dict.keys(x), *dict.values(x)]
        elif isinstance(x, slice):
            inside = [x.start, x.stop, x.step]
        elif isinstance(x, _VIEWS):  # a dict view: its dict's keys and values
            d = gc.get_referents(x)[0]
            inside = [*dict.keys(d), *dict.values(d)]
        else:
            continue
        seen.add(id(x))
        stack.extend((y, True) for y in inside)
    return False


_HELD: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # recorder -> slices held


def slice_call(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """``slice(a, b, c)`` given traced values (C flag RULE): natively; while guards are
    recorded the slice is tracked, held until the recorder goes, so that the probes send its
    text (``f"{s}"``, made by C) to text_guard, which knows it unreplayable."""
    s = call_as_user(fn, args, kwargs)
    if rec.guards is not None and type(s) is slice:
        try:
            _HELD.setdefault(rec, []).append(s)
        except TypeError:  # (a stand-in recorder that takes no weak reference)
            return s
        C.track(s)
    return s
