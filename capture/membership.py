"""Membership decisions on traced values (``key in table``): noted as comparisons (finish's
FA102) and guarded in cached traces, against what the table held when the decision was made."""

from __future__ import annotations

import collections
import operator
import weakref
from typing import Any

from . import _evalframe as C
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
