"""What framead does to the arguments of a differentiated call before it runs: clear errors
for what it cannot differentiate (naming the type and the argument), fresh objects for the
inputs, and copies of every array the program could write (the caller's data is untouched)."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import tree
from .capture.buffers import buffer_owner, fresh_copy
from .errors import InputTypeError
from .reverse import cast_like, own_copy


def _label(argnum: int, f: Callable | None) -> str:
    """``argument 1 (y)``: the position, and the parameter's name where ``f`` has one."""
    params: list[str] = []
    try:
        if f is not None:
            params = [p.name for p in inspect.signature(f).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return f"argument {argnum}" + (f" ({params[argnum]})" if argnum < len(params) else "")


_INTEGRAL = (bool, int, np.integer, np.bool_)
_INEXACT = (float, complex, np.inexact)


def check_input(x: Any, argnum: int, f: Callable | None = None) -> None:
    """Clear errors for arguments framead cannot differentiate (naming type and argument)."""
    if type(x) is float:
        return
    if isinstance(x, _INTEGRAL):
        raise InputTypeError(
            f"{_label(argnum, f)} is an integer ({type(x).__name__} {x!r}); framead "
            f"differentiates float inputs: pass {float(x)!r} or convert with float()")
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "fc":
            raise InputTypeError(
                f"{_label(argnum, f)} is an array of dtype {x.dtype} ({type(x).__name__}); "
                "framead differentiates float arrays: pass x.astype(float)")
        return
    if not isinstance(x, _INEXACT):
        raise InputTypeError(
            f"{_label(argnum, f)} has type {type(x).__name__}; framead differentiates Python "
            "floats, NumPy inexact scalars and float arrays (pass a float or a float array, "
            "or a tuple, list, dict or dataclass of them)")


def rebox(x: Any, argnum: int, f: Callable | None = None) -> Any:
    """A fresh object equal to the scalar ``x``, of its type (so shared constants never
    become traced inputs, and a float subclass keeps its own operators); checks ``x``."""
    check_input(x, argnum, f)
    t = type(x)
    if t is float:
        return x * 1.0
    if isinstance(x, np.generic):
        return x.copy()
    if t is complex:
        return complex(x.real, x.imag)
    if isinstance(x, float | complex):  # a subclass: its own code (__new__, __float__) not run
        base = float if isinstance(x, float) else complex
        new = base.__new__(t, getattr(base, f"__{base.__name__}__")(x))
        new.__dict__.update(getattr(x, "__dict__", {}))
        return new
    return x


def grad_like(g: Any, x: Any) -> Any:
    """The gradient shaped and typed like the input ``x`` (a float subclass gets a float, an
    ndarray subclass a plain array)."""
    if type(g) is float and type(x) is float:  # (what the steps below make of it)
        return g
    g = cast_like(g, x)
    if isinstance(g, np.ndarray) and not g.flags.writeable:
        g = g.copy()  # a broadcast view (the VJP of a sum): the caller gets an array to write
    if isinstance(x, float | complex) and not isinstance(x, np.generic) and \
            type(x) not in (float, complex):
        return float(np.real(g)) if isinstance(x, float) else complex(g)
    return g


def _fresh_array(a: np.ndarray) -> np.ndarray:
    """A copy of ``a`` of its own class (np.ma's mask, np.matrix's 2-d rows, a memmap that is
    no longer the file), read-only when ``a`` is."""
    out = fresh_copy(a) if type(a) is np.ndarray else a.copy()
    if not a.flags.writeable:
        out.flags.writeable = False
    return out


def _copy_arrays(arrays: list[np.ndarray]) -> dict[int, np.ndarray]:
    """Copies of the arrays (by id), with the memory they share shared in the copies: f(x, x)
    and f(x, x[1:]) see views of one copy."""
    groups: dict[int, list[np.ndarray]] = {}
    for a in arrays:
        groups.setdefault(id(buffer_owner(a)), []).append(a)
    out: dict[int, np.ndarray] = {}
    for group in groups.values():
        owner = buffer_owner(group[0])
        base = None
        if len(group) > 1:
            base = fresh_copy(owner.view(np.ndarray))
        if base is None or base.strides != owner.strides:  # alone, or an unusual layout
            for a in group:
                out[id(a)] = _fresh_array(a)
            continue
        start = owner.__array_interface__["data"][0]
        for a in group:
            off = a.__array_interface__["data"][0] - start
            view = np.ndarray(a.shape, a.dtype, buffer=base, offset=off, strides=a.strides)
            if type(a) is not np.ndarray:
                view = view.view(type(a))
                view.__dict__.update({k: v.copy() if isinstance(v, np.ndarray) else v
                                      for k, v in getattr(a, "__dict__", {}).items()})
            if not a.flags.writeable:
                view.flags.writeable = False
            out[id(a)] = view
    return out


_FLOAT_SIG = (float, (), None)  # (a differentiated float leaf's signature entry)
_NO_ARRAYS = frozenset({float, int, complex, bool, str, type(None)})  # (exact types)


def copy_arguments(args: list, kwargs: dict, extra: Sequence[np.ndarray] = (),
                   copy_array: Callable[[np.ndarray], np.ndarray] | None = None
                   ) -> tuple[list, dict, dict[int, np.ndarray]]:
    """The arguments with every ndarray (any class; also inside lists, tuples, dicts and
    their subclasses, rebuilt around them) replaced by a copy: the caller's arrays are never
    written. A container without arrays is passed as it is (what the program appends to a
    list argument it was given reaches the caller, as natively; differentiated containers are
    rebuilt by ``Differentiated.box``).
    Shared arrays stay shared in the copies (f(x, [x]) sees one array). Arrays held by other
    objects' attributes are the program's own. ``extra``: more arrays to copy with them (the
    leaves of differentiated containers); the copies are returned by the id of their
    original. ``copy_array``: how to copy one array (default: copies sharing memory as the
    originals do)."""
    if not extra and _NO_ARRAYS.issuperset(map(type, args)) and \
            _NO_ARRAYS.issuperset(map(type, kwargs.values())):  # (floats: nothing to copy)
        return list(args), dict(kwargs), {}
    found: dict[int, np.ndarray] = {}
    seen: set[int] = set()

    def collect(v: Any) -> None:
        if isinstance(v, np.ndarray):
            found.setdefault(id(v), v)
        elif isinstance(v, list | tuple | dict) and id(v) not in seen:
            seen.add(id(v))
            for item in (v.values() if isinstance(v, dict) else v):
                collect(item)

    for a in (*args, *kwargs.values(), *extra):
        collect(a)
    if not found:
        return list(args), dict(kwargs), {}
    if copy_array is not None:
        copies = {k: copy_array(a) for k, a in found.items()}
    else:
        copies = _copy_arrays(list(found.values()))
    done: dict[int, Any] = {}

    def rebuild(v: Any) -> Any:
        if isinstance(v, np.ndarray):
            return copies[id(v)]
        if not isinstance(v, list | tuple | dict) or (isinstance(v, tuple) and type(v) is not
                                                       tuple and not _is_namedtuple(v)):
            return v
        if id(v) in done:  # shared (or, while it is rebuilt, cyclic: left as it is)
            return done[id(v)]
        done[id(v)] = v
        old = list(v.values() if isinstance(v, dict) else v)
        items = [rebuild(x) for x in old]
        if all(n is o for n, o in zip(items, old, strict=True)):
            return v  # no array in it: the program's own container, as natively
        done[id(v)] = new = _with_items(v, items)
        return new

    out = [rebuild(a) for a in args], {k: rebuild(v) for k, v in kwargs.items()}, copies
    # each refers to itself through its cell: a cycle that kept the copies until the next
    # collection (mlp: 3.2 MB a call)
    collect = rebuild = None  # type: ignore[assignment]  # noqa: F841
    return out


def _with_items(v: list | tuple | dict, items: list) -> Any:
    """A container like ``v`` (same class: an OrderedDict, a namedtuple) holding ``items``."""
    if isinstance(v, tuple):
        return tuple(items) if type(v) is tuple else type(v)(*items)
    new = copy.copy(v)  # a subclass keeps its class and state (defaultdict's factory)
    if isinstance(new, dict):
        new.update(zip(v, items, strict=True))
    else:
        new[:] = items
    return new


def _is_namedtuple(v: Any) -> bool:
    return isinstance(v, tuple) and hasattr(type(v), "_fields")


class ArgTree:
    """One differentiated argument taken apart: its structure, the caller's leaves, their
    paths (``params["layers"][2].W``) and which of them are differentiated."""

    __slots__ = ("num", "treedef", "leaves", "paths", "diff")

    def __init__(self, num: int, x: Any, f: Callable | None):
        self.num = num
        if type(x) is float:  # (the common input: one float, nothing to check)
            leaf: list[Any] = [x]
            self.treedef, self.leaves, self.paths, self.diff = tree.LEAF, leaf, [""], [True]
            return
        if x is None or not tree.is_node(x):
            check_input(x, num, f)  # one value: the clear errors for what it cannot be
            self.treedef, self.leaves, self.paths, self.diff = tree.LEAF, [x], [""], [True]
            return
        pairs, self.treedef = tree.flatten_with_paths(x)
        self.paths = [p for p, _ in pairs]
        self.leaves = [v for _, v in pairs]
        self.diff = [tree.differentiable(v) for v in self.leaves]
        if not any(self.diff):
            kinds = sorted({type(v).__name__ for v in self.leaves}) or ["no leaves"]
            raise InputTypeError(
                f"{_label(num, f)} is a {type(x).__name__} with no float leaves "
                f"({', '.join(kinds)}); framead differentiates Python floats, NumPy inexact "
                "scalars and float arrays, also inside tuples, lists, dicts and dataclasses")

    def where(self, k: int, f: Callable | None = None) -> str:
        """The path of leaf ``k`` for messages: ``argument 0 (params)["w"][2]``."""
        return _label(self.num, f) + self.paths[k]


class Differentiated:
    """The differentiated arguments (``args[nums]``), each a value or a container of values
    (framead/tree.py), flattened to one list of differentiable leaves: the capture's inputs,
    in order. ``pack`` turns the flat gradients back into the arguments' structures."""

    trees: dict[int, ArgTree]  # (by argument; made when first read where ``simple``)

    def __init__(self, args: Sequence[Any], nums: tuple[int, ...], f: Callable | None = None):
        self.nums = nums
        self.f = f
        # the lean case (a float or a float ndarray per differentiated argument: nothing to
        # take apart or check): the values in ``nums`` order, the trees made only if read
        simple = [args[i] for i in nums]
        for v in simple:
            if type(v) is not float and not (type(v) is np.ndarray and v.dtype.kind in "fc"):
                break
        else:
            self.simple: tuple | None = tuple(simple)
            return
        self.simple = None
        self.trees = self._make_trees(args)

    def _make_trees(self, args: Any) -> dict[int, ArgTree]:
        trees: dict[int, ArgTree] = {}
        for i in self.nums:
            if i not in trees:
                trees[i] = ArgTree(i, args[i], self.f)
        return trees

    def __getattr__(self, name: str) -> Any:
        if name == "trees" and self.__dict__.get("simple") is not None:
            simple: Any = self.simple
            trees = self.trees = self._make_trees(dict(zip(self.nums, simple, strict=True)))
            return trees
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def box_simple(self, args: Sequence[Any], new_input: Callable[[Any], Any]
                   ) -> tuple[list, list]:
        """``box`` and ``copy_arguments`` at once where ``simple`` and every other argument
        holds no array (``plain``): (the arguments with fresh inputs, ``wrt``)."""
        boxed = list(args)
        made: dict[int, Any] = {}
        wrt = []
        for i, v in zip(self.nums, self.simple):  # type: ignore[arg-type]  # noqa: B905
            if i in made:
                x = made[i]
            else:
                boxed[i] = v = v * 1.0 if type(v) is float else _fresh_array(v)
                made[i] = x = new_input(v)
            wrt.append(x)
        return boxed, wrt

    def plain(self, args: Sequence[Any], kwargs: dict) -> bool:
        """Whether ``box_simple`` applies: ``simple``, at most one array among the arguments
        (no memory shared between copies to keep), and no array among the others."""
        if self.simple is None:
            return False
        if not kwargs and _NO_ARRAYS.issuperset(map(type, args)):  # (floats)
            return True
        arrays = 0
        for v in args:
            t = type(v)
            if t is np.ndarray:
                arrays += 1
            elif t not in _NO_ARRAYS:
                return False
        if arrays and (arrays > 1 or not any(type(v) is np.ndarray for v in self.simple)):
            return False
        return not kwargs or _NO_ARRAYS.issuperset(map(type, kwargs.values()))

    def leaves(self) -> list[Any]:
        """The caller's differentiable leaves, argument after argument (``nums`` order, a
        repeated argument again)."""
        return [v for i in self.nums  # (leaves and diff made together: zip, not strict)
                for v, d in zip(self.trees[i].leaves, self.trees[i].diff) if d]  # noqa: B905

    def arrays(self) -> list[np.ndarray]:
        """Every array leaf of the differentiated arguments (to be copied)."""
        return [v for t in self.trees.values() for v in t.leaves if isinstance(v, np.ndarray)]

    def signature(self, static: Callable[[Any], Any]) -> tuple:
        """What a cached trace of these arguments depends on: structures, the differentiated
        leaves' types, shapes and dtypes, the other leaves by ``static`` (their value)."""
        out = []
        for t in self.trees.values():  # (loops: a generator's frame costs more than a float)
            leaf = []
            for v, d in zip(t.leaves, t.diff):  # noqa: B905 - (made together)
                leaf.append(_FLOAT_SIG if d and type(v) is float else (
                    type(v), np.shape(v), getattr(v, "dtype", None)) if d else static(v))
            out.append((t.treedef, tuple(leaf)))
        return tuple(out)

    def box(self, boxed: list, copies: dict[int, np.ndarray], new_input: Callable | None,
            fresh: Callable[[Any, bool], Any] | None = None) -> dict[int, list]:
        """Put fresh leaves into ``boxed[i]`` (new containers of the argument's classes:
        the caller's are never written) and make each differentiable leaf an input through
        ``new_input``; returns the inputs by argument. The fresh leaves are ``copies`` of the
        arrays and new boxes of the scalars, or ``fresh(leaf, differentiated)`` for each array
        and differentiated leaf when given."""
        used: set[int] = set()
        inputs: dict[int, list] = {}
        for i, t in self.trees.items():
            leaves, ins = [], []
            # (t.leaves and t.diff are made together, one entry per leaf: zip's strict=True,
            # a keyword call of ~0.5 us, would check nothing)
            for v, d in zip(t.leaves, t.diff):  # noqa: B905
                if fresh is None and type(v) is float and d:  # (the common input first)
                    v = v * 1.0
                elif fresh is not None and (d or isinstance(v, np.ndarray)):
                    v = fresh(v, d)
                elif isinstance(v, np.ndarray):
                    v = copies.get(id(v), v)
                    if d and id(v) in used:  # f(x, x): two inputs, one memory
                        v = v.view(type(v))
                    used.add(id(v))
                elif d:  # (a float: rebox's fresh object, its checks passed)
                    v = v * 1.0 if type(v) is float else rebox(v, i, self.f)
                leaves.append(v)
                if d and new_input is not None:
                    ins.append(new_input(v))
            boxed[i] = leaves[0] if t.treedef.kind is None else tree.unflatten(t.treedef, leaves)
            inputs[i] = ins
        return inputs

    def pack(self, grads: Sequence[Any], like: Callable[[Any, Any], Any] | None = None
             ) -> tuple:
        """One gradient per ``nums`` entry, each with its argument's structure; leaves that
        are not differentiated (ints, strings, objects in a container) get None."""
        if like is None and self.simple is not None:  # (one leaf per entry)
            out: list[Any] = []
            seen: set[int] | None = None
            for g, v in zip(grads, self.simple):  # noqa: B905 - (one per nums entry)
                if type(g) is not float or type(v) is not float:
                    g = grad_like(g, v)
                    if isinstance(g, np.ndarray):  # one object for two leaves: as below
                        if seen is None:
                            seen = set()
                        elif id(g) in seen:
                            g = own_copy(g)
                        seen.add(id(g))
                out.append(g)
            return tuple(out)
        like = like or grad_like
        out = []
        it = iter(grads)
        given: set[int] = set()
        for i in self.nums:
            t = self.trees[i]
            gs: list[Any] = []
            for v, d in zip(t.leaves, t.diff):  # noqa: B905 - (made together, as in box)
                if not d:
                    gs.append(None)
                    continue
                g = like(next(it), v)
                # one array object for two leaves (f(x, y) = sum(x + y), argnums=(0, 0)):
                # each leaf gets its own, so an in-place update of one leaves the other alone
                # (own_copy: recorded by an outer capture, where the gradient is
                # differentiated)
                if isinstance(g, np.ndarray):
                    if id(g) in given:
                        g = own_copy(g)
                    given.add(id(g))
                gs.append(g)
            out.append(gs[0] if t.treedef.kind is None else tree.unflatten(t.treedef, gs))
        return tuple(out)


    def flat(self, packed: Sequence[Any]) -> list[Any]:
        """The differentiated leaves of ``packed`` (one entry per ``nums``, as ``pack``
        makes them), in the order of :meth:`leaves` (the inverse of ``pack``)."""
        out: list[Any] = []
        for i, g in zip(self.nums, packed, strict=True):
            t = self.trees[i]
            gs = [g] if t.treedef.is_leaf else t.treedef.flatten_up_to(g)
            out += [x for x, d in zip(gs, t.diff, strict=True) if d]
        return out


def default_argnums(args: Sequence[Any]) -> tuple[int, ...]:
    """The arguments differentiated when the caller names none (``vjp``, ``trace``, ``jit``):
    every float or float array, and every container holding one."""
    return tuple(i for i, a in enumerate(args)
                 if tree.differentiable(a) or (tree.is_node(a) and any(
                     tree.differentiable(v) for v in tree.leaves(a))))
