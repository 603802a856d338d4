"""Orderings a call makes of traced values, in cached traces: ``sorted``/``min``/``max``/
``list.sort`` given a ``key=`` (does the key read traced values?), and ``L.sort()``'s
permutation, guarded so that a replay re-makes it (``calls.dispatch`` sends them here)."""

from __future__ import annotations

from typing import Any

from .callables import closes_over_traced, holds_traced
from .guards import SortOrder
from .native import call_as_user


class _KeyWatch:
    """A sort or choice key (``key=``) that notes whether what it computed holds traced
    values (a key reading a traced list by index, no operation recorded)."""

    __slots__ = ("key", "traced")

    def __init__(self, key: Any):
        self.key, self.traced = key, False

    def __call__(self, item: Any) -> Any:
        k = call_as_user(self.key, (item,), None)
        if not self.traced and holds_traced(k):
            self.traced = True
        return k


def by_key(rec, fn, args: tuple, kwargs: dict) -> tuple[Any, bool]:
    """``fn(*args, **kwargs)`` with a ``key``: its result, and whether the key read traced
    values (recorded operations, its closure or object, or what it returned)."""
    key = kwargs["key"]
    watch = _KeyWatch(key) if key is not None else None
    start = len(rec.nodes)
    result = call_as_user(fn, args, kwargs if watch is None else {**kwargs, "key": watch})
    return result, len(rec.nodes) > start or (watch is not None and watch.traced) or \
        closes_over_traced(key)


def sort_in_place(rec, fn, args: tuple, kwargs: dict, frame) -> Any:
    """``L.sort()`` in a cached trace: the permutation it applied is guarded (SortOrder
    re-makes it on the replay's items); one made by a key reading traced values (``key=lambda
    i: w[i]``, ``key=lambda v: -v``) cannot be re-made: the trace is not replayable, as for
    ``sorted(key=...)``."""
    items = fn.__self__ if isinstance(getattr(fn, "__self__", None), list) else args[0]
    before = list.copy(items) if isinstance(items, list) else None
    if "key" in kwargs:
        result, by_traced = by_key(rec, fn, args, kwargs)
        if by_traced:
            rec.unreplayable.append("list.sort(key=...) orders by traced values")
            return result
    else:
        result = call_as_user(fn, args, kwargs)
    vals = [rec.tree_value(before)] if before is not None else [None]
    if vals[0] is not None and before is not None:
        order = _permutation(before, items)
        if order is None:
            rec.unreplayable.append("list.sort orders traced values it changed")
        else:
            rec.guard(SortOrder(), (before,), kwargs, vals, order, frame)
    return result


def _permutation(before: list, after: list) -> tuple | None:
    """Where each item of ``after`` was in ``before`` (by identity; one object twice keeps
    its order, as a stable sort does); None when ``after`` is not a permutation."""
    at: dict[int, list[int]] = {}
    for i in range(len(before) - 1, -1, -1):
        at.setdefault(id(before[i]), []).append(i)
    try:
        order = tuple(at[id(x)].pop() for x in list.copy(after))
    except (KeyError, IndexError):
        return None
    return order if len(order) == len(before) else None
