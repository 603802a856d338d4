"""Membership decisions on traced values (``key in table``): noted as comparisons (finish's
FA102) and guarded in cached traces, against what the table held when the decision was made."""

from __future__ import annotations

import collections
import ctypes
import itertools
import operator
import sys
import weakref
from typing import Any

from . import _evalframe as C
from .callables import holds_traced
from .native import call_as_user
from .sourceloc import loc_of

#: a dict view's membership compares the key with its dict's keys, values or (key, value) pairs
_VIEWS: tuple[type, ...] = (type({}.keys()), type({}.values()), type({}.items()))
#: containers whose membership compares the key with what iterating them gives
_SNAPSHOT: tuple[Any, ...] = (set, frozenset, dict, collections.deque)
#: (test stand-ins of the C module may lack it: every table then looked at in Python)
_members_traced = getattr(C, "members_traced", None)


def members(table: Any, last: dict | None = None) -> Any:
    """What ``key in table`` compares the key with, as it is now: a set's, frozenset's or
    deque's items, a dict's keys, a dict view's keys, values or items as a tuple (the same
    decision for items whose hash agrees with their equality: numbers, tuples of them; a
    later change of the table does not reach it), a set's or dict's keys holding no traced
    value as a frozenset (the same hash lookup; nothing to read in it); anything else as it
    is (a list, a tuple, an array; a subclass with its own ``__contains__``). ``last``: a
    recorder's earlier snapshots (_LAST), one of which may serve again."""
    t = type(table)
    if t in _VIEWS:
        items, hashed = table, t is _VIEWS[0]
    else:
        for base in _SNAPSHOT:
            if isinstance(table, base):  # (OrderedDict, defaultdict, Counter: a dict's keys)
                if t.__contains__ is not base.__contains__:
                    return table
                items = table if t is base else base.__iter__(table)  # (copied fastest)
                hashed = base is not collections.deque
                break
        else:
            return table
    if hashed and _members_traced is not None and not _members_traced(table):
        return _frozen(table, items, last)
    return tuple(items)


#: a recorder's last frozenset snapshot of each table: {id(table): (table, snapshot)}
_LAST: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _frozen(table: Any, items: Any, last: dict | None) -> frozenset:
    """``frozenset(items)``; the snapshot of ``table`` in ``last`` when it still has the same
    members (a constant table tested in a loop: one snapshot, not one a test)."""
    prev = last.get(id(table)) if last is not None else None
    if prev is not None and prev[0] is table and len(prev[1]) == len(table) and \
            prev[1] == (table.keys() if isinstance(table, dict) else table):
        return prev[1]
    snap = frozenset(items)
    if last is not None:
        last[id(table)] = (table, snap)
    return snap


def compared(rec: Any, frame: Any) -> None:
    """A membership test on traced values is a comparison: where the first one ran, for
    finish's FA102 (a result reached from the inputs only through decisions)."""
    if getattr(rec, "first_comparison", 0) is None:
        rec.first_comparison = loc_of(frame)


def guard_membership(rec: Any, table: Any, key: Any, result: Any, frame: Any,
                     note: bool = False) -> None:
    """The membership decision ``result`` of ``key in table``: guarded where a cached trace is
    recorded, as ``operator.contains(members(table), key)`` with this call's traced values
    inside (a replay decides with its own values, a hit on this call's own key included);
    ``note``: noted as a comparison when the key or a list/tuple tree is traced (the items of
    other containers are looked at only while guards are recorded: the C CONTAINS probe)."""
    if rec.guards is None and not note:
        return
    kv = rec.tree_value(key)
    tv = rec.tree_value(table)
    if note and (kv is not None or tv is not None):
        compared(rec, frame)
    if rec.guards is None:
        return
    try:
        last = _LAST.setdefault(rec, {})
    except TypeError:  # (a stand-in recorder that takes no weak reference)
        last = None
    m = members(table, last)
    mv = tv if m is table else None if type(m) is frozenset else rec.tree_value(m)
    if kv is not None or mv is not None:
        rec.guard(operator.contains, (m, key), {}, (mv, kv), result, frame)


# --- sets made from traced values (cached traces): equal items merge, and a set's iteration
# order follows its items' hashes, decisions C makes as it inserts them. A set (frozenset,
# dict.fromkeys, Counter) made from an iterable is guarded by its layout (Layout: a replay
# re-makes it from its own values and misses where another item merges or the order
# differs); a set grown item by item (s.add) from empty, by the layout of all its insertions
# so far (displays and comprehensions too: opcodes_common makes their instructions calls); a
# set changed otherwise, or grown from one framead did not guard, makes a cached trace
# unreplayable where it is met.


class Layout:
    """Which of ``items`` the set (frozenset) ``make(items)`` holds, in its iteration order:
    their positions (an item equal to an earlier one is not held; CPython makes the same set
    from a list as item by item: set(), s.add, s.update, ``{*items}``, a comprehension). For
    a dict's keys (``make`` is dict.fromkeys: also Counter's counts, dict(pairs)'s values),
    the first item each item is equal to (its keys' order follows; a count, the value a key
    keeps, depend on which key each item merged into)."""

    __slots__ = ("make",)

    def __init__(self, make: Any) -> None:
        self.make = make

    def __call__(self, items: list) -> tuple:
        if self.make == _FROMKEYS:  # (a bound method: made anew at each access)
            first: dict = {}
            return tuple(first.setdefault(v, i) for i, v in enumerate(items))
        at: dict[int, int] = {}
        for i, v in enumerate(items):
            at.setdefault(id(v), i)
        return tuple(at[id(k)] for k in self.make(items))

    def __eq__(self, other: object) -> bool:
        return type(other) is Layout and other.make == self.make

    def __hash__(self) -> int:
        return hash((Layout, self.make))


_FROMKEYS = dict.fromkeys
#: a recorder's sets whose layout is guarded: {id(s): [s, insertions or None (a frozenset,
#: a set changed since: no more insertions guarded)]}; the sets are held (no id reused)
_MADE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_HASHED = (set, frozenset, dict, *_VIEWS)
_SET_HEAD = object.__basicsize__  # PySetObject: the object header, then fill (used slots)


def _fill(s: set) -> int:
    return ctypes.c_ssize_t.from_address(id(s) + _SET_HEAD).value


def _fill_readable() -> bool:
    s = {1}
    s.discard(1)  # (a dummy slot: fill 1, used 0)
    return type(s) is set and _fill(s) == 1 and _fill(set()) == 0


_FILL_OK = _fill_readable()
_EMPTY = sys.getsizeof(set())


def _made(rec: Any) -> dict:
    try:
        return _MADE.setdefault(rec, {})
    except TypeError:  # (a stand-in recorder that takes no weak reference)
        return {}


def _keep(rec: Any, s: Any, items: list | None) -> None:
    """``s`` (a set, or a dict with traced keys) guarded, its insertions ``items`` (a
    set's); tracked, so that the probes send what changes, combines or reads it here."""
    _made(rec)[id(s)] = [s, items]
    C.track(s)


def _not_replayable(rec: Any, what: str, frame: Any) -> None:
    where = f" at {loc_of(frame).short()}" if frame is not None else ""
    rec.unreplayable.append(f"{what}{where}: which traced items merge and the set's order "
                            "(by hash) are not guarded")


def unseen_set(rec: Any, s: Any, frame: Any) -> None:
    """``s``, read by a guarded choice (sorted, min, max) in a cached trace: a set holding
    traced items whose making framead did not see makes the trace unreplayable."""
    if isinstance(s, set | frozenset) and _members_traced is not None and \
            _members_traced(s) and _made(rec).get(id(s), (None,))[0] is not s:
        _not_replayable(rec, f"a {type(s).__name__} of traced values made where framead does "
                        "not see it was read", frame)


def _guard_layout(rec: Any, make: Any, items: list, frame: Any) -> bool:
    vals = rec.tree_value(items)
    if vals is None:
        return False
    rec.guard(Layout(make), (items,), {}, [vals], Layout(make)(items), frame)
    return True


def _base(fn: Any) -> Any:
    return set if isinstance(fn, type) and issubclass(fn, set) else frozenset


def hashed_call(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """A call that makes or changes a set from traced values (``set(x)``, ``frozenset(it)``,
    ``dict.fromkeys(it)``, Counter's counting, ``s.add(v)``, ``s.update(it)``...; a traced
    array it iterates gives its rows): natively; in a cached trace its layout is guarded
    where it can be re-made, else the trace is unreplayable."""
    self_ = getattr(fn, "__self__", None)
    name = getattr(fn, "__name__", "")
    if rec.guards is None:  # (an element, s.add(v), as it is; fromkeys' value too)
        if name in _ELEMENT or name == "fromkeys":
            args = (_rows(rec, args[0]), *args[1:]) if name == "fromkeys" and args else args
        elif name == "_count_elements":
            args = (*args[:1], *(_rows(rec, a) for a in args[1:]))
        else:
            args = tuple(_rows(rec, a) for a in args)
        return call_as_user(fn, args, kwargs)
    if isinstance(fn, type) or self_ is dict or (isinstance(self_, type) and
                                                 issubclass(self_, dict)):
        return _make(rec, fn, args, kwargs, frame)
    if name == "_count_elements":
        return _counted(rec, fn, args, kwargs, frame)
    if not isinstance(self_, set | frozenset):  # set.add(s, v): unbound
        if not (args and isinstance(args[0], set | frozenset)):
            return call_as_user(fn, args, kwargs)  # (CPython's own error)
        self_, fn, args = args[0], getattr(args[0], name, fn), args[1:]
    return _changed(rec, fn, name, self_, args, kwargs, frame)


_ELEMENT = frozenset({"add", "discard", "remove"})  # (their argument is an item)


def _rows(rec: Any, a: Any) -> Any:
    return rec.rows(a) if rec.reads_rows(a) else a


def _teed(rec: Any, fn: Any, pre: tuple, src: Any, post: tuple = ()) -> tuple[Any, list]:
    """``fn(*pre, src, *post)`` given ``src``'s items (a traced array's rows) as it iterates
    them (a generator's or map's frames interleaved with the hashing, as natively), and the
    items (kept by a tee as they were given)."""
    given, kept = itertools.tee(_rows(rec, src))
    return call_as_user(fn, (*pre, given, *post), None), list(kept)


def _listed(rec: Any, a: Any) -> list:
    """``a``'s items (a traced array's rows), iterated as the user's call would (a generator's
    or map's Python frames seen by tracers and profilers)."""
    return call_as_user(list, (_rows(rec, a),), None)


def _make(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """``set(it)``, ``frozenset(it)``, ``dict.fromkeys(it[, v])`` in a cached trace."""
    if not args or kwargs or (isinstance(fn, type) and len(args) > 1):
        return call_as_user(fn, args, kwargs)  # (CPython's own error)
    src = args[0]
    if fn is frozenset and type(src) is frozenset:
        return call_as_user(fn, args, kwargs)  # (the same object)
    if isinstance(src, _HASHED):  # (copied by its table, not item by item)
        if _members_traced is not None and _members_traced(src):
            _not_replayable(rec, f"{getattr(fn, '__qualname__', fn)} of a set or dict of "
                            "traced values", frame)
        return call_as_user(fn, args, kwargs)
    out, items = _teed(rec, fn, (), src, args[1:])
    make = dict.fromkeys if not isinstance(fn, type) else _base(fn)
    if _guard_layout(rec, make, items, frame):
        _keep(rec, out, items if isinstance(out, set) else None)
    return out


def _counted(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """Counter's ``_count_elements(mapping, it)``: the keys it adds after those there."""
    if len(args) != 2 or kwargs:
        return call_as_user(fn, args, kwargs)
    before = list(args[0]) if isinstance(args[0], dict) else []
    out, items = _teed(rec, fn, args[:1], args[1])
    if _guard_layout(rec, dict.fromkeys, [*before, *items], frame) and \
            isinstance(args[0], dict):
        _keep(rec, args[0], None)  # (tally[1.0] then comes to key_lookup)
    return out


def _changed(rec: Any, fn: Any, name: str, s: Any, args: tuple, kwargs: dict,
             frame: Any) -> Any:
    """``s.add(v)``, ``s.update(it)`` (insertions: guarded where ``s`` was made empty or
    guarded, and is only grown), ``s.discard(v)``, ``s.union(t)``... (another layout: the
    trace is unreplayable where traced items are in it)."""
    made = _made(rec)
    kept = made.get(id(s))
    items = kept[1] if kept is not None and kept[0] is s else None
    if items is None and type(s) is set and len(s) == 0 and _FILL_OK and _fill(s) == 0 and \
            sys.getsizeof(s) == _EMPTY:
        items = []  # (a fresh set: the comprehension's, ``s = set()``)
    if name in ("add", "update") and items is not None and not kwargs and not any(
            isinstance(a, _HASHED) for a in args):
        if name == "add":
            out, new = call_as_user(getattr(s, name), args, None), [*items, *args]
        else:  # (each iterable in turn)
            new, out = [*items], None
            for a in args:
                out, got = _teed(rec, s.update, (), a)
                new += got
        if _guard_layout(rec, set, new, frame) or kept is not None:
            _keep(rec, s, new)
        return out
    if name in _PREDICATES:
        return _predicate(rec, fn, name, s, args, kwargs, frame)
    if name not in _ELEMENT:
        args = tuple(_rows(rec, a) for a in args)
    if name != "copy" or type(s) is not frozenset:  # (frozenset.copy: itself)
        traced = (_members_traced is not None and _members_traced(s)) or \
            any(rec.tree_value(a) is not None or (isinstance(a, _HASHED) and
                _members_traced is not None and _members_traced(a)) for a in args)
        if traced:
            _not_replayable(rec, f"{type(s).__name__}.{name} on traced values", frame)
    if kept is not None and kept[0] is s and name not in _READ_ONLY:
        kept[1] = None  # (changed: no insertion into it guarded after this)
    return call_as_user(fn, args, kwargs)


_READ_ONLY = frozenset({"union", "intersection", "difference", "symmetric_difference", "copy"})
_PREDICATES = frozenset({"issubset", "issuperset", "isdisjoint"})


class AsSets:
    """``op`` (a comparison, ``issubset``...) of the sets of ``a``'s and ``b``'s items: what
    a set decides depends on its members only (a guard's arguments hold them as lists)."""

    __slots__ = ("op",)

    def __init__(self, op: Any) -> None:
        self.op = op

    def __call__(self, a: list, b: list) -> Any:
        return self.op(frozenset(a), frozenset(b))

    def __eq__(self, other: object) -> bool:
        return type(other) is AsSets and other.op == self.op

    def __hash__(self) -> int:
        return hash((AsSets, self.op))


def set_decision(rec: Any, op: Any, a: Any, b: Any, result: Any, frame: Any) -> None:
    """``s == t``, ``s <= t``, ``s.isdisjoint(t)``... decided on sets holding traced items,
    in a cached trace: guarded on their members."""
    la, lb = list(a), list(b)
    vals = [rec.tree_value(la), rec.tree_value(lb)]
    if vals != [None, None]:
        rec.guard(AsSets(op), (la, lb), {}, vals, result, frame)


def _predicate(rec: Any, fn: Any, name: str, s: Any, args: tuple, kwargs: dict,
               frame: Any) -> Any:
    if len(args) != 1 or kwargs:
        return call_as_user(fn, args, kwargs)
    other = _listed(rec, args[0])  # (read once, as the method would)
    result = call_as_user(fn, (other,), kwargs)
    set_decision(rec, getattr(frozenset, name), s, other, result, frame)
    return result


def set_operator(rec: Any, op: Any, a: Any, b: Any, frame: Any) -> Any:
    """``s | t``, ``s &= t``... of a set holding traced items, in a cached trace: the set it
    makes (or changes) is laid out by the tables: the trace is unreplayable."""
    for x in (a, b):
        if isinstance(x, set | frozenset) and _members_traced is not None and \
                _members_traced(x):
            _not_replayable(rec, f"a {type(x).__name__} of traced values combined", frame)
            kept = _made(rec).get(id(x))
            if kept is not None and kept[0] is x:
                kept[1] = None
            break
    return op(a, b)


_SEQ_ITERATORS: tuple[type, ...] = (type(iter(())), type(iter([])))


def _read_here(a: Any) -> Any:
    """``a``, or what it gives as a list where it is framead's own map of a tuple's or list's
    items (call_kinds.pair_rows: ``d.update(((k, v),))``, a dict comprehension's insertion):
    read here, its calls (framead's) not seen by tracers as the program's."""
    if type(a) is map:
        reduced: Any = a.__reduce__()
        f, *its = reduced[1]
        if len(its) == 1 and type(its[0]) in _SEQ_ITERATORS and \
                type(f).__module__.startswith("framead."):
            return list(a)
    return a


def pairs_call(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """``dict(pairs)``, ``OrderedDict(pairs)``, ``defaultdict(f, pairs)``, ``d.update(pairs)``
    (pairs given as lists/tuples or the rows of traced arrays; a dict): natively; in a cached
    trace which keys merge (with each other, with the dict's own) is guarded."""
    if rec.guards is None:
        return call_as_user(fn, tuple(_read_here(a) for a in args), kwargs)
    self_ = getattr(fn, "__self__", None)
    target: Any
    if isinstance(self_, dict):  # d.update(src)
        target, pre, srcs = self_, (), args
    elif not isinstance(fn, type):  # dict.update(d, src)
        target, pre, srcs = (args[0] if args else None), args[:1], args[1:]
    else:
        target = None
        k = 1 if issubclass(fn, collections.defaultdict) else 0
        pre, srcs = args[:k], args[k:]
    if len(srcs) > 1 or not isinstance(target, dict | None):
        return call_as_user(fn, args, kwargs)  # (CPython's own error)
    keys: list | None = []
    if srcs and hasattr(type(srcs[0]), "keys"):  # (a mapping: its keys, then its values)
        keys = list(srcs[0]) if isinstance(srcs[0], dict) else None
    elif srcs:
        items = [tuple(p) if type(p) is C.Rows else p for p in srcs[0]]
        srcs = (items,)
        keys = [p[0] for p in items if type(p) in (tuple, list) and len(p) == 2] \
            if all(type(p) in (tuple, list) for p in items) else None
    before = list(target) if target is not None else []
    out = call_as_user(fn, (*pre, *srcs), kwargs)
    if keys is not None:
        if _guard_layout(rec, dict.fromkeys, [*before, *keys, *kwargs], frame):
            _keep(rec, target if target is not None else out, None)
    elif rec.tree_value(before) is not None or holds_traced(srcs):
        _not_replayable(rec, "dict pairs of traced keys", frame)
    return out


def merge_call(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """``{**m}``'s merge (the ``dict_update`` probe, opcodes_common): a mapping's keys as
    ``d.update(m)``'s (pairs_call); anything else natively, with the instruction's error."""
    if len(args) == 2 and not kwargs and hasattr(type(args[1]), "keys"):
        return pairs_call(rec, fn, args, kwargs, frame)
    return call_as_user(fn, args, kwargs)


class KeyIndex:
    """Which of ``keys`` (a dict's) is equal to ``key``: its position, -1 for none."""

    __slots__ = ()

    def __call__(self, keys: list, key: Any) -> int:
        return dict(zip(keys, range(len(keys)), strict=True)).get(key, -1)

    def __eq__(self, other: object) -> bool:
        return type(other) is KeyIndex

    def __hash__(self) -> int:
        return hash(KeyIndex)


def key_lookup(rec: Any, table: Any, key: Any, frame: Any) -> None:
    """``d[k]``, ``d.get(k)`` of a dict holding traced keys (tracked: made where framead
    guards its keys) in a cached trace: which key ``k`` finds is guarded (``tally[1.0]``: the
    count of the key equal to 1.0, whose value decides)."""
    if rec.guards is None or not isinstance(table, dict) or _members_traced is None or \
            not _members_traced(table):
        return
    keys = list(table)
    vals = [rec.tree_value(keys), rec.tree_value(key)]
    if vals != [None, None]:
        rec.guard(KeyIndex(), (keys, key), {}, vals, KeyIndex()(keys, key), frame)


def stored_key(rec: Any, d: Any, key: Any, frame: Any) -> None:
    """``d[key] = v`` into a dict (its own ``__setitem__``: dict's) in a cached trace, before
    the store: which of its keys ``key`` merges into (none: a new last key) is guarded where
    the key or the dict's keys are traced, and ``d`` is tracked (its later lookups and
    stores come here: key_lookup). To be called by mutation.set_item (see the module notes
    on sets: the same decision a dict comprehension's MAP_ADD guards through pairs_call)."""
    if rec.guards is None or not isinstance(d, dict) or \
            type(d).__setitem__ is not dict.__setitem__:
        return
    keys = list(d)
    vals = [rec.tree_value(keys), rec.tree_value(key)]
    if vals != [None, None]:
        rec.guard(KeyIndex(), (keys, key), {}, vals, KeyIndex()(keys, key), frame)
        _keep(rec, d, None)
