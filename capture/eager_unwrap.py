"""Unwrapping after an eager run (capture/eager.py): Tracers back to their objects.

``unwrap`` replaces Tracers (``FlatTracer`` too) in what an eager call returns and in the
containers it changed; ``fix_attributes``/``rebind_tuple`` put the real objects back where an
escaped Tracer is held (an instance attribute or slot; a tuple, through its holders).
"""

from __future__ import annotations

import gc
import types
from typing import Any

import numpy as np

from .eager_flat import FlatTracer
from .eager_tracer import Tracer

__all__ = ["fix_attributes", "rebind_tuple", "unwrap"]


def unwrap(x: Any, _seen: set | None = None, _depth: int = 0) -> Any:
    """``x`` with every Tracer replaced by its object: lists, dicts, sets and object arrays are
    changed in place, tuples (and namedtuples) rebuilt when something changed."""
    t = type(x)
    if t is Tracer or t is FlatTracer:
        return x._fa_obj
    if _depth > 64 or not (t is list or t is dict or t is set or isinstance(x, tuple)
                           or (t is np.ndarray and x.dtype == object)):
        return x
    seen = set() if _seen is None else _seen
    if id(x) in seen:
        return x
    seen.add(id(x))
    d = _depth + 1
    if t is list:
        for i, item in enumerate(x):
            u = unwrap(item, seen, d)
            if u is not item:
                x[i] = u
    elif t is dict:
        for k in [k for k in x if type(k) is Tracer]:
            x[k._fa_obj] = x.pop(k)
        for k, item in x.items():
            u = unwrap(item, seen, d)
            if u is not item:
                x[k] = u
    elif t is set:
        for item in [i for i in x if type(i) is Tracer]:
            x.discard(item)
            x.add(item._fa_obj)
    elif t is np.ndarray:
        for idx in np.ndindex(x.shape):
            item = x[idx]
            u = unwrap(item, seen, d)
            if u is not item:
                x[idx] = u
    else:
        items = [unwrap(i, seen, d) for i in x]
        if any(a is not b for a, b in zip(items, x, strict=True)):
            return tuple(items) if t is tuple else (
                x._make(items) if hasattr(x, "_make") else t(items))
    return x


def fix_attributes(obj: Any, fix) -> bool:
    """Instance attributes (``__dict__`` entries and slots) holding Tracers, rewritten in place
    without running the class's ``__setattr__`` or property setters."""
    done = False
    try:
        d = object.__getattribute__(obj, "__dict__")
    except (AttributeError, TypeError):
        d = None
    if type(d) is dict:
        for k, v in list(d.items()):
            if type(v) in (Tracer, FlatTracer):
                d[k] = fix(v)
                done = True
    for klass in type(obj).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            desc = klass.__dict__.get(name)
            if not isinstance(desc, types.MemberDescriptorType):
                continue
            try:
                v = desc.__get__(obj, klass)
            except AttributeError:
                continue
            if type(v) in (Tracer, FlatTracer):
                desc.__set__(obj, fix(v))
                done = True
    return done


def rebind_tuple(tup: tuple, fix) -> bool:
    """A tuple holding a Tracer: put an unwrapped copy where the tuple itself is held."""
    new = tuple(fix(x) for x in tup)
    ok = False
    for holder in gc.get_referrers(tup):
        th = type(holder)
        if th is list:
            for i, item in enumerate(holder):
                if item is tup:
                    holder[i] = new
                    ok = True
        elif th is dict:
            for k, item in list(holder.items()):
                if item is tup:
                    holder[k] = new
                    ok = True
        elif th is types.CellType:
            if holder.cell_contents is tup:
                holder.cell_contents = new
                ok = True
        elif (th.__module__ or "").startswith("framead"):
            ok = True  # framead's own bookkeeping (a node's constant arguments)
    return ok
