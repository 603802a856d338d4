"""Writers whose values alias the array they write (``np.place(a, m, a)``, ``a.flat[1:] = a``,
``np.fill_diagonal(D, D.ravel()[::-4])``, ``np.concatenate([a[-1:], a[:-1]], out=a)``).

NumPy copies these element by element without buffering, so a later position can read a value
the same call wrote earlier; a functional node reading the values as they were before the call
would be silently wrong. Here the same call runs first on *provenance* arrays (integer ids laid
out like the shared memory, the value arguments taken as the same views of it), which tells
where each written element's value came from; the write is recorded as a gather from the
values before the call (``concatenate`` of the target and the values, indexed), written into
the target (``Recorder.set_item``): the same bits as the native call, and its gradient. A case
this cannot follow runs natively and is reported (FA104 at the user's line)."""

from __future__ import annotations

import functools
import operator
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from framead.rules import mutation_rules as _mut
from framead.rules.primitives import is_basic_key
from numpy.lib.stride_tricks import as_strided

from framead import rules

from .callables import callable_name
from .native import call_quiet

#: ``write``'s answer where nothing aliases (the caller's own path applies)
NOT_ALIASED: Any = object()
_IDS = np.intp
_KINDS = frozenset("biufc")  # (object arrays, records, times: FA104)


def write(rec: Any, name: str, target: Any, values: Sequence, run: Callable,
          frame: Any, ordinary: Callable[[], Any], result: Any = None) -> Any:
    """``run(target, values)`` (a NumPy writer) where a value argument may share memory with
    ``target``: recorded as a gather (module docstring), returning ``result``; NOT_ALIASED
    where no ndarray value shares memory with ``target`` or nothing is traced; ``ordinary()``
    (the caller's path), reported FA104, where the provenance cannot be followed."""
    if not (isinstance(target, np.ndarray) and target.size) or not any(
            isinstance(v, np.ndarray) and np.may_share_memory(v, target) for v in values):
        return NOT_ALIASED
    if rec.tree_value(target) is None and all(rec.tree_value(v) is None for v in values):
        return NOT_ALIASED
    src = _provenance(target, list(values), run) if type(target) is np.ndarray and \
        target.dtype.kind in _KINDS else None
    if src is None:  # (NumPy raises here too, or the layout cannot be followed)
        out = ordinary()
        rec.hazard("FA104", name, frame, f"{name} writes values that share memory with the "
                   "array it writes (NumPy copies them one at a time, unbuffered) in a way "
                   "framead cannot follow: the gradient through the written elements may be "
                   "wrong")
        return out
    pool = rec.dispatch(np.concatenate, ([target, *values],), {"axis": None}, frame)
    new = rec.get_item(pool, src.reshape(target.shape), frame)
    rec.set_item(target, Ellipsis, new, frame)
    return result


def _provenance(target: np.ndarray, values: list, run: Callable) -> np.ndarray | None:
    """For each element of ``target`` (C order) after ``run``, its source among
    ``concatenate([target, *values], axis=None)`` before it; None where ``run`` raises on
    the ids or the memory cannot be laid out as ids (other item sizes, misaligned views)."""
    k = target.dtype.itemsize
    if not target.flags.writeable:
        return None
    shared = [isinstance(v, np.ndarray) and np.may_share_memory(v, target) for v in values]
    for v, s in zip(values, shared, strict=True):
        if not isinstance(v, np.ndarray):
            return None
        if (v.dtype != target.dtype) if s else not np.can_cast(v.dtype, target.dtype,
                                                                "same_kind"):
            return None
    span = [target, *(v for v, s in zip(values, shared, strict=True) if s)]
    bounds = [np.lib.array_utils.byte_bounds(x) for x in span]
    lo, hi = min(b[0] for b in bounds), max(b[1] for b in bounds)
    if any((x.ctypes.data - lo) % k or any(s % k for s in x.strides) or not x.flags.aligned
           for x in span):
        return None
    n = -(-(hi - lo) // k)
    ids = np.arange(n + sum(v.size for v in values), dtype=_IDS)
    live = ids.copy()  # (what the call writes into)

    def laid_out(buf: np.ndarray, x: np.ndarray) -> np.ndarray:
        """``x``'s ids, with its strides and flags (NumPy copies a read-only value first)."""
        return as_strided(buf[(x.ctypes.data - lo) // k:], x.shape,
                          tuple(s // k * buf.itemsize for s in x.strides),
                          writeable=bool(x.flags.writeable))

    where, fresh, start = [], [], n  # each value's ids before the call; its ids for the call
    for v, s in zip(values, shared, strict=True):
        if s:
            where.append(np.array(laid_out(ids, v)))
            fresh.append(laid_out(live, v))
        else:
            where.append(ids[start:start + v.size].reshape(v.shape))
            fresh.append(where[-1].copy())
            start += v.size
    t_ids = laid_out(live, target)
    before = np.array(t_ids)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call_quiet(run, (t_ids, fresh), None)
    except Exception:  # noqa: BLE001 - the native call raises it (its own path)
        return None
    to_pool = np.full(ids.size, -1, dtype=_IDS)
    offset = target.size + np.cumsum([0, *(v.size for v in values)])
    for j in reversed(range(len(values))):
        to_pool[where[j].reshape(-1)] = offset[j] + np.arange(values[j].size)
    to_pool[before.reshape(-1)] = np.arange(target.size)
    src = to_pool[np.array(t_ids).reshape(-1)]
    return None if (src < 0).any() else src


def flat_set_item(rec: Any, it: np.flatiter, key: Any, v: Any, frame: Any) -> None:
    """``a.flat[key] = v`` (unbuffered where ``v`` is a view of ``a``)."""
    base = it.base

    def ordinary() -> None:
        rec.mutate(rules.lookup(_mut.flat_setitem), operator.setitem, (it, key, v), {},
                   (base, key, v), base, frame, {})

    if write(rec, "a.flat[...] = v", base, (v,), _flat_run(key), frame, ordinary) \
            is NOT_ALIASED:
        ordinary()


class _flat_run:
    """``t.flat[key] = values[0]``: a provenance run's writer."""

    __slots__ = ("key",)

    def __init__(self, key: Any):
        self.key = key

    def __call__(self, t: np.ndarray, values: list) -> None:
        t.flat[self.key] = values[0]


#: NumPy functions filling ``out=`` piece after piece, unbuffered: their parameter names
UNBUFFERED_OUT = {id(np.concatenate): ("arrays", "axis", "out"),
                  id(np.stack): ("arrays", "axis", "out")}


def out_call(rec: Any, rule: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """``np.concatenate(pieces, out=o)`` / ``np.stack(pieces, out=o)`` where a piece shares
    memory with ``o``: recorded as ``write`` does, returning ``o``; NOT_ALIASED otherwise
    (``Recorder.apply`` records the rule's node). A case ``write`` cannot follow runs natively,
    ``o`` then holds constants (FA104)."""
    names = UNBUFFERED_OUT.get(id(getattr(rule, "fn", None)))
    if names is None:
        return NOT_ALIASED
    bound = dict(zip(names, args, strict=False))
    rest = {k: w for k, w in kwargs.items() if k not in names}
    bound.update((k, kwargs[k]) for k in names if k in kwargs)
    out, pieces = bound.get("out"), bound.get("arrays")
    if type(out) is not np.ndarray or not isinstance(pieces, list | tuple):
        return NOT_ALIASED
    run = _OutRun(rule.fn, bound.get("axis", 0), rest)
    return write(rec, callable_name(rule.fn), out, tuple(pieces), run, frame,
                 lambda: rec._write_constants(fn, args, kwargs, (out,), frame), out)


class _OutRun:
    """``fn(values, axis, out=target, **kwargs)``: a provenance run of concatenate/stack."""

    __slots__ = ("fn", "axis", "kwargs")

    def __init__(self, fn: Any, axis: Any, kwargs: dict):
        self.fn, self.axis, self.kwargs = fn, axis, kwargs

    def __call__(self, target: np.ndarray, values: list) -> Any:
        return self.fn(values, self.axis, out=target, **self.kwargs)


def fancy_set_item(rec: Any, a: Any, key: Any, v: np.ndarray, frame: Any) -> bool:
    """``a[key] = v`` with an advanced key (``a[m] = a[::-1][1:5]``: NumPy copies an
    overlapping ``v`` first only in some layouts) where ``v`` shares memory with ``a``:
    recorded by ``write``; False where the caller's own path applies."""
    if is_basic_key(key):
        return False
    out = write(rec, "ndarray.__setitem__", a, (v,), _SetItem(key), frame,
                lambda: rec.set_item(a, key, v, frame, functools.partial(
                    np.ndarray.__setitem__, a)))
    return out is not NOT_ALIASED


class _SetItem:
    """``target[key] = values[0]``: a provenance run's writer."""

    __slots__ = ("key",)

    def __init__(self, key: Any):
        self.key = key

    def __call__(self, target: np.ndarray, values: list) -> None:
        target[self.key] = values[0]
