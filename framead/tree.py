"""Containers of values ("pytrees"): flatten them to leaves and rebuild them, as JAX does.

Nodes are tuples, lists, dicts (any subclass: an ``OrderedDict``, a ``defaultdict``),
named tuples, dataclass instances (their fields) and ``None`` (no leaves); a class registered
with :func:`register` is a node too. Everything else is a leaf. Dicts keep their insertion
order. Rebuilding makes new containers of the original's class (a dict subclass keeps its
state, a dataclass its other attributes), so a gradient has its input's structure:

>>> leaves, td = flatten({"w": [1.0, 2.0], "b": (3.0, None)})
>>> leaves
[1.0, 2.0, 3.0]
>>> unflatten(td, [x * 10 for x in leaves])
{'w': [10.0, 20.0], 'b': (30.0, None)}
>>> [p for p, _ in flatten_with_paths({"layers": [0.5, {"W": 1.0}]})[0]]
['["layers"][0]', '["layers"][1]["W"]']

This module imports nothing from framead: every layer may use it.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

__all__ = ["TreeDef", "flatten", "unflatten", "flatten_with_paths", "leaves", "structure",
           "tree_map", "register", "is_node", "differentiable"]

# A node kind: how to take an object apart (its children and an "aux" that tells how to put it
# back) and how to put it back; ``keys(aux, n)`` names the children in paths.
_Flatten = Callable[[Any], tuple[Iterable[Any], Any]]
_Unflatten = Callable[[Any, list[Any]], Any]


class _Kind:
    __slots__ = ("name", "flatten", "unflatten", "keys")

    def __init__(self, name: str, flatten: _Flatten, unflatten: _Unflatten,
                 keys: Callable[[Any, int], list[str]]):
        self.name, self.flatten, self.unflatten, self.keys = name, flatten, unflatten, keys

    def __repr__(self) -> str:
        return self.name


def _index_keys(aux: Any, n: int) -> list[str]:
    return [f"[{i}]" for i in range(n)]


def _dict_keys(aux: Any, n: int) -> list[str]:
    return [f"[{k!r}]".replace("'", '"') if isinstance(k, str) else f"[{k!r}]" for k in aux[1]]


def _attr_keys(aux: Any, n: int) -> list[str]:
    return [f".{name}" for name in aux[1]]


def _rebuild_sequence(aux: Any, kids: list[Any]) -> Any:
    cls, template = aux[0], aux[-1]
    if cls is tuple:
        return tuple(kids)
    if cls is list:
        return list(kids)
    new = copy.copy(template)  # a list subclass keeps its class and attributes
    new[:] = kids
    return new


def _rebuild_dict(aux: Any, kids: list[Any]) -> Any:
    cls, keys, template = aux
    if cls is dict:
        return dict(zip(keys, kids, strict=True))
    new = copy.copy(template)  # OrderedDict, defaultdict (its factory): class and state kept
    new.clear()
    new.update(zip(keys, kids, strict=True))
    return new


def _rebuild_fields(aux: Any, kids: list[Any]) -> Any:
    _, names, template = aux
    new = copy.copy(template)  # no __init__/__post_init__ run; frozen classes too
    for name, v in zip(names, kids, strict=True):
        object.__setattr__(new, name, v)
    return new


_TUPLE = _Kind("tuple", lambda t: (t, (tuple, None)), _rebuild_sequence, _index_keys)
_LIST = _Kind("list", lambda t: (t, (type(t), t)), _rebuild_sequence, _index_keys)
_NAMEDTUPLE = _Kind("namedtuple", lambda t: (t, (type(t), t._fields, None)),
                    lambda aux, kids: aux[0](*kids), _attr_keys)
_DICT = _Kind("dict", lambda d: (d.values(), (type(d), tuple(d), d)), _rebuild_dict,
              _dict_keys)
_NONE = _Kind("None", lambda _: ((), None), lambda aux, kids: None, _index_keys)
_DATACLASS = _Kind("dataclass",
                   lambda o: ([getattr(o, f.name) for f in dataclasses.fields(o)],
                              (type(o), tuple(f.name for f in dataclasses.fields(o)), o)),
                   _rebuild_fields, _attr_keys)

_registered: dict[type, _Kind] = {}


def register(cls: type, flatten: _Flatten, unflatten: _Unflatten) -> None:
    """Make instances of ``cls`` nodes: ``flatten(obj) -> (children, aux)`` and
    ``unflatten(aux, children) -> obj`` (JAX's ``register_pytree_node`` contract; ``aux`` must
    be hashable and comparable, it tells two structures apart).

    >>> class Pair:
    ...     def __init__(self, a, b): self.a, self.b = a, b
    >>> register(Pair, lambda p: ((p.a, p.b), None), lambda aux, kids: Pair(*kids))
    >>> flatten(Pair(1.0, [2.0]))[0]
    [1.0, 2.0]
    """
    if not isinstance(cls, type):
        raise TypeError(f"framead.tree.register needs a class, got {cls!r}")

    def take_apart(obj: Any) -> tuple[list[Any], Any]:
        kids, aux = flatten(obj)
        return list(kids), (cls, aux)

    _registered[cls] = _Kind(cls.__qualname__, take_apart,
                             lambda aux, kids: unflatten(aux[1], kids), _index_keys)


def _kind(x: Any) -> _Kind | None:
    t = type(x)
    k = _registered.get(t)
    if k is not None:
        return k
    if t in _PLAIN_LEAVES:
        return None
    if t is tuple:
        return _TUPLE
    if t is list or t is dict:
        return _LIST if t is list else _DICT
    if x is None:
        return _NONE
    if isinstance(x, tuple):
        return _NAMEDTUPLE if hasattr(t, "_fields") else _TUPLE
    if isinstance(x, list):
        return _LIST
    if isinstance(x, dict):
        return _DICT
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return _DATACLASS
    return None


# the commonest leaves, answered before the isinstance and dataclass tests (a registered
# class still comes first)
_PLAIN_LEAVES = frozenset({float, int, complex, bool, str, np.ndarray, np.float64,
                           np.float32, np.int64})


def is_node(x: Any) -> bool:
    """Whether ``x`` is a container that :func:`flatten` takes apart.

    >>> is_node((1.0,)), is_node(None), is_node(np.ones(2))
    (True, True, False)
    """
    return _kind(x) is not None


class TreeDef:
    """The structure of a pytree: node kinds and their ``aux`` (classes, keys, field names),
    without the leaves. Equal structures compare equal and hash alike."""

    __slots__ = ("kind", "aux", "children", "num_leaves")

    def __init__(self, kind: _Kind | None, aux: Any, children: tuple[TreeDef, ...]):
        self.kind: _Kind | None = kind
        self.aux: Any = aux
        self.children: tuple[TreeDef, ...] = children
        self.num_leaves: int = 1 if kind is None else sum(c.num_leaves for c in children)

    def _key(self) -> Any:
        if self.kind is None:
            return None
        aux = self.aux
        if self.kind in (_LIST, _DICT, _DATACLASS, _NAMEDTUPLE, _TUPLE):
            aux = aux[:-1]  # the template object is not part of the structure
        return (self.kind.name, aux, tuple(c._key() for c in self.children))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TreeDef) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        if self.kind is None:
            return "*"
        inner = ", ".join(map(repr, self.children))
        return f"{self.kind.name}({inner})"

    @property
    def is_leaf(self) -> bool:
        return self.kind is None


    def unflatten(self, leaves: Iterable[Any]) -> Any:
        return unflatten(self, leaves)

    def flatten_up_to(self, tree: Any) -> list[Any]:
        """The subtrees of ``tree`` at this structure's leaves (a tangent or cotangent given
        for a primal: dict keys matched by name, whatever their order; None for a subtree
        gives None for each of its leaves)."""
        out: list[Any] = []
        _up_to(self, tree, out, "")
        return out


_LEAF = TreeDef(None, None, ())  # every leaf's structure (TreeDefs are never modified)
LEAF = _LEAF


def _up_to(td: TreeDef, tree: Any, out: list[Any], path: str) -> None:
    if td.kind is None:
        out.append(tree)
        return
    if td.kind is _NONE:
        return
    if tree is None:  # a zero (co)tangent for a whole subtree
        out.extend([None] * td.num_leaves)
        return
    if td.kind is _DICT:
        if not isinstance(tree, dict) or set(tree) != set(td.aux[1]):
            raise ValueError(f"expected a dict with keys {list(td.aux[1])} at {path or 'the top'}"
                             f", got {_describe(tree)}")
        kids = [tree[k] for k in td.aux[1]]
    else:
        k = _kind(tree)
        if k is None or k is _NONE or k is _DICT:
            raise ValueError(f"expected {td.kind.name} at {path or 'the top'}, "
                             f"got {_describe(tree)}")
        kids = list(k.flatten(tree)[0])
        if len(kids) != len(td.children):
            raise ValueError(f"expected {len(td.children)} items at {path or 'the top'}, got "
                             f"{len(kids)} ({_describe(tree)})")
    names = td.kind.keys(td.aux, len(kids))
    for c, x, name in zip(td.children, kids, names, strict=True):
        _up_to(c, x, out, path + name)


def _describe(x: Any) -> str:
    if isinstance(x, dict):
        return f"a {type(x).__name__} with keys {list(x)}"
    return f"a {type(x).__name__}"


def flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list[Any],
                                                                             TreeDef]:
    """The leaves of ``tree`` (depth first, in order) and its structure.

    >>> flatten([1.0, {"a": np.float32(2.0), "b": None}])
    ([1.0, np.float32(2.0)], list(*, dict(*, None())))
    """
    t = type(tree)
    if t in _PLAIN_LEAVES and is_leaf is None and t not in _registered:  # one leaf
        return [tree], _LEAF
    out: list[Any] = []
    return out, _walk(tree, out, is_leaf, None, "")


def flatten_with_paths(tree: Any, is_leaf: Callable[[Any], bool] | None = None
                       ) -> tuple[list[tuple[str, Any]], TreeDef]:
    """Like :func:`flatten`, each leaf with its path (``["layers"][2].W``).

    >>> flatten_with_paths({"w": (1.0, 2.0)})[0]
    [('["w"][0]', 1.0), ('["w"][1]', 2.0)]
    """
    out: list[Any] = []
    paths: list[str] = []
    td = _walk(tree, out, is_leaf, paths, "")
    return list(zip(paths, out, strict=True)), td


def _walk(x: Any, out: list[Any], is_leaf: Callable[[Any], bool] | None,
          paths: list[str] | None, path: str, depth: int = 0) -> TreeDef:
    k = None if is_leaf is not None and is_leaf(x) else _kind(x)
    if k is None:
        out.append(x)
        if paths is not None:
            paths.append(path)
        return _LEAF
    if depth > 1000:
        raise ValueError(f"a container nested more than 1000 deep (a cycle?) at {path}")
    kids, aux = k.flatten(x)
    kids = list(kids)
    names = k.keys(aux, len(kids)) if paths is not None else [""] * len(kids)
    return TreeDef(k, aux, tuple(_walk(c, out, is_leaf, paths, path + n, depth + 1)
                                 for c, n in zip(kids, names, strict=True)))


def unflatten(treedef: TreeDef, leaves: Iterable[Any]) -> Any:
    """The tree of structure ``treedef`` holding ``leaves`` (inverse of :func:`flatten`).

    >>> unflatten(structure((0.0, [0.0])), [1.0, 2.0])
    (1.0, [2.0])
    """
    it = iter(leaves)
    tree = _build(treedef, it)
    if next(it, _END) is not _END:
        raise ValueError(f"too many leaves for {treedef!r} ({treedef.num_leaves} expected)")
    return tree


_END = object()


def _build(td: TreeDef, it: Any) -> Any:
    if td.kind is None:
        x = next(it, _END)
        if x is _END:
            raise ValueError("too few leaves for the structure")
        return x
    return td.kind.unflatten(td.aux, [_build(c, it) for c in td.children])


def leaves(tree: Any) -> list[Any]:
    """The leaves of ``tree``.

    >>> leaves({"a": [1.0, 2.0], "b": 3})
    [1.0, 2.0, 3]
    """
    return flatten(tree)[0]


def structure(tree: Any) -> TreeDef:
    """The structure of ``tree``.

    >>> structure((1.0, [2.0, 3.0])) == structure((4.0, [5.0, 6.0]))
    True
    """
    return flatten(tree)[1]


def tree_map(fn: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """``fn`` applied leaf by leaf to ``tree`` and trees of the same structure.

    >>> tree_map(lambda p, g: p - 0.1 * g, {"w": 1.0, "b": [2.0]}, {"w": 10.0, "b": [0.0]})
    {'w': 0.0, 'b': [2.0]}
    """
    xs, td = flatten(tree)
    others = [td.flatten_up_to(r) for r in rest]
    return unflatten(td, [fn(x, *o) for x, *o in zip(xs, *others, strict=True)])


def differentiable(x: Any) -> bool:
    """Whether a leaf is a value framead differentiates: a Python float or complex, a NumPy
    inexact scalar or a float/complex array (ints, bools and objects are not).

    >>> differentiable(1.0), differentiable(np.arange(3)), differentiable(np.ones(3))
    (True, False, True)
    """
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "fc"
    return isinstance(x, float | complex | np.inexact)
