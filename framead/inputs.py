"""What framead does to the arguments of a differentiated call before it runs: clear errors
for what it cannot differentiate (naming the type and the argument), fresh objects for the
inputs, and copies of every array the program could write (the caller's data is untouched)."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import InputTypeError
from .replay import cast_like as _cast_like


def _label(argnum: int, f: Callable | None) -> str:
    """``argument 1 (y)``: the position, and the parameter's name where ``f`` has one."""
    try:
        params = [p.name for p in inspect.signature(f).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return f"argument {argnum}" + (f" ({params[argnum]})" if argnum < len(params) else "")


def check_input(x: Any, argnum: int, f: Callable | None = None) -> None:
    """Clear errors for arguments framead cannot differentiate (naming type and argument)."""
    if isinstance(x, bool | int | np.integer | np.bool_):
        raise InputTypeError(
            f"{_label(argnum, f)} is an integer ({type(x).__name__} {x!r}); framead "
            f"differentiates float inputs: pass {float(x)!r} or convert with float()")
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "fc":
            raise InputTypeError(
                f"{_label(argnum, f)} is an array of dtype {x.dtype} ({type(x).__name__}); "
                "framead differentiates float arrays: pass x.astype(float)")
        return
    if not isinstance(x, float | complex | np.inexact):
        what = ("a container: differentiate its leaves as separate arguments"
                if isinstance(x, list | tuple | dict) else "pass a float or a float array")
        raise InputTypeError(
            f"{_label(argnum, f)} has type {type(x).__name__}; framead differentiates Python "
            f"floats, NumPy inexact scalars and float arrays ({what})")


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
    g = _cast_like(g, x)
    if isinstance(x, float | complex) and not isinstance(x, np.generic) and \
            type(x) not in (float, complex):
        return float(np.real(g)) if isinstance(x, float) else complex(g)
    return g


def _fresh_array(a: np.ndarray) -> np.ndarray:
    """A copy of ``a`` of its own class (np.ma's mask, np.matrix's 2-d rows, a memmap that is
    no longer the file), read-only when ``a`` is."""
    out = np.array(a, copy=True) if type(a) is np.ndarray else a.copy()
    if not a.flags.writeable:
        out.flags.writeable = False
    return out


def _copy_arrays(arrays: list[np.ndarray]) -> dict[int, np.ndarray]:
    """Copies of the arrays (by id), with the memory they share shared in the copies: f(x, x)
    and f(x, x[1:]) see views of one copy."""
    from .capture.buffers import buffer_owner

    groups: dict[int, list[np.ndarray]] = {}
    for a in arrays:
        groups.setdefault(id(buffer_owner(a)), []).append(a)
    out: dict[int, np.ndarray] = {}
    for group in groups.values():
        owner = buffer_owner(group[0])
        base = None
        if len(group) > 1:
            base = np.empty_like(owner, order="K", subok=False)
            base[...] = owner
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


def copy_arguments(args: list, kwargs: dict) -> tuple[list, dict]:
    """The arguments with every ndarray (any class; also inside lists, tuples, dicts and
    their subclasses, rebuilt around them) replaced by a copy: the caller's arrays and
    containers are never written. Shared arrays stay shared in the copies (f(x, [x]) sees
    one array). Arrays held by other objects' attributes are the program's own."""
    found: dict[int, np.ndarray] = {}
    seen: set[int] = set()

    def collect(v: Any) -> None:
        if isinstance(v, np.ndarray):
            found.setdefault(id(v), v)
        elif isinstance(v, list | tuple | dict) and id(v) not in seen:
            seen.add(id(v))
            for item in (v.values() if isinstance(v, dict) else v):
                collect(item)

    for a in (*args, *kwargs.values()):
        collect(a)
    if not found:
        return list(args), dict(kwargs)
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
            return v
        done[id(v)] = new = _with_items(v, items)
        return new

    return [rebuild(a) for a in args], {k: rebuild(v) for k, v in kwargs.items()}


def _with_items(v: list | tuple | dict, items: list) -> Any:
    """A container like ``v`` (same class: an OrderedDict, a namedtuple) holding ``items``."""
    if isinstance(v, tuple):
        return tuple(items) if type(v) is tuple else type(v)(*items)
    new = copy.copy(v)  # a subclass keeps its class and state (defaultdict's factory)
    if isinstance(v, dict):
        new.update(zip(v, items, strict=True))
    else:
        new[:] = items
    return new


def _is_namedtuple(v: Any) -> bool:
    return isinstance(v, tuple) and hasattr(type(v), "_fields")
