"""One object for each distinct part of a replay's steps (framead/replay.py,
framead/replay_steps.py). A long replay makes tens of thousands of steps from a loop that
repeats a few kinds of node: the keys, constants, keyword arguments and Metas they hold recur,
and each is kept once, through the replay's ``memo`` dict (alive while the steps are made)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .ir import Meta, Value

NO_KW: dict = {}  # (the keyword arguments of the steps without: one dict, only read)
SHARED_ARRAY_BYTES = 1 << 12  # constant arrays up to this size are kept once per content


def same_constant(memo: dict, c: Any) -> Any:
    """``c``, or the equal int, str, slice of ints or tuple of them (and Nones) met before (one
    object serves every step: a loop makes a new ``slice(1, -1)`` each time round)."""
    key = _value_key(c)
    return c if key is None else memo.setdefault(key, c)


def same_array(memo: dict, c: Any) -> Any:
    """``c``, or the small array met before with the same bytes, layout and flags: for an
    argument its step only reads (``Recorder._protect``'s snapshots recur: a loop reads
    ``m[i + 1:]`` each time round)."""
    if type(c) is not np.ndarray or c.base is not None or c.nbytes > SHARED_ARRAY_BYTES or \
            c.dtype.hasobject:
        return c
    key = ("a", c.dtype.str, c.shape, c.strides, c.flags.writeable, c.tobytes())
    return memo.setdefault(key, c)


def _value_key(c: Any) -> Any:
    t = type(c)
    if t is int:
        return ("i", c)
    if c is None or c is Ellipsis:  # (inside a key: ``r[:, None]``)
        return (repr(c),)
    if t is str:  # (a view's ("getitem", key) recipe)
        return ("u", c)
    if t is slice:
        parts = (c.start, c.stop, c.step)
        return ("s", *parts) if all(p is None or type(p) is int for p in parts) else None
    if t is tuple and len(c) <= 8:
        keys = tuple(_value_key(x) for x in c)
        return None if None in keys else ("t", keys)
    return None


def shared(memo: dict, t: tuple) -> tuple:
    """The one tuple of ``memo`` equal to ``t`` (value ids, shapes: plain ints)."""
    return memo.setdefault(t, t)


def shared_kwargs(memo: dict, kw: dict) -> dict:
    """``kw``, or the dict met before with the same names bound to the same objects (the
    memo holds the dict, so the ids in its key stay theirs); an empty one is ``NO_KW``."""
    if not kw:
        return NO_KW
    return memo.setdefault(("kw", *((k, id(v)) for k, v in kw.items())), kw)


def shared_meta(memo: dict, v: Value) -> Meta:
    """``v.meta()``, one per shape, dtype and kind."""
    key = ("M", v.shape, v.dtype, v.kind)
    got = memo.get(key)
    if got is None:
        got = memo[key] = v.meta()
    return got


def shape_of(memo: dict, v: Value) -> tuple:
    """``(0, v.meta())``: the stand-in of a primal a VJP does not read, one per shape, dtype
    and kind (a reverse pass names one for most of its arguments)."""
    key = ("m", v.shape, v.dtype, v.kind)
    got = memo.get(key)
    if got is None:
        got = memo[key] = (0, shared_meta(memo, v))
    return got


def has_value(tree: Any) -> bool:
    """Whether the list/tuple ``tree`` (or iterable) holds a Value, at any depth: each call's
    own argument, never a shared constant."""
    return any(type(x) is Value or (type(x) in (list, tuple) and has_value(x)) for x in tree)
