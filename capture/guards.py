"""Callables a cached trace re-runs to check that a decision on traced values comes out the
same (framead/cache.py): which argument came back, the static leaves of a result, the order
``list.sort`` applies."""

from __future__ import annotations

from typing import Any

from framead.ir import flatten_tree


class WhichArgument:
    """``fn`` returning one of its (possibly nested) arguments: which one, by position."""

    __slots__ = ("fn",)

    def __init__(self, fn: Any):
        self.fn = fn

    @staticmethod
    def index(result: Any, args: tuple) -> Any:
        """Position of ``result`` among the leaves of ``args`` (-1: none); for a list or
        tuple result that is not itself an argument (``sorted``), each item's position among
        the list/tuple arguments' own items (``sorted`` of ``(value, index)`` tuples: a tuple
        is never a leaf), then among the leaves."""
        leaves, _ = flatten_tree(list(args))
        k = next((k for k, x in enumerate(leaves) if x is result), -1)
        if k < 0 and type(result) in (list, tuple):
            pool = [x for a in args if type(a) in (list, tuple) for x in a] + leaves
            where: dict[int, int] = {}
            for j, x in enumerate(pool):
                where.setdefault(id(x), j)
            return tuple(where.get(id(r), -1) for r in result)
        return k

    def __call__(self, *args: Any, **kwargs: Any) -> int:
        return self.index(self.fn(*args, **kwargs), args)


class StaticLeaves:
    """The non-differentiable leaves (by position mask) of ``fn``'s tuple result."""

    __slots__ = ("fn", "mask")

    def __init__(self, fn: Any, mask: tuple):
        self.fn, self.mask = fn, mask

    def __call__(self, *args: Any, **kwargs: Any) -> tuple:
        leaves, _ = flatten_tree(self.fn(*args, **kwargs))
        return tuple(x for x, m in zip(leaves, self.mask, strict=True) if m)


class SortOrder:
    """The permutation ``list.sort`` applies (a cached trace's guard on it)."""

    def __call__(self, items: list, key: Any = None, reverse: bool = False) -> tuple:
        k = (lambda i: items[i]) if key is None else (lambda i: key(items[i]))
        return tuple(sorted(range(len(items)), key=k, reverse=reverse))


class ShapeOf:
    """The shape of ``fn``'s result: ``np.arange``'s length, decided by its traced bounds."""

    __slots__ = ("fn",)

    def __init__(self, fn: Any):
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> tuple:
        return tuple(getattr(self.fn(*args, **kwargs), "shape", ()))
