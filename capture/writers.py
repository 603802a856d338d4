"""NumPy calls that write into an array argument (``np.copyto``, ``np.put``, ``a.sort()``,
``ufunc.at``, ``a.flat = v``...): recorded as the functional rule's node, then a write into
the target's buffer (``Recorder.mutate``), so later reads see the new version."""

from __future__ import annotations

import functools
import sys
import threading
from typing import Any

import numpy as np
from framead.rules import mutation_rules as _mut

from framead import rules

from . import aliased_writes as aliased
from .native import call_as_user
from .object_items import sorted_in_place
from .opcodes_common import LAYOUT_NAMES


def _bind(args: tuple, kwargs: dict, names: tuple, defaults: dict) -> list:
    """Positional values for ``names`` from a call's args/kwargs (NumPy's own signatures)."""
    vals = list(args) + [kwargs.get(n, defaults.get(n)) for n in names[len(args):]]
    return vals[:len(names)]


def _writer(functional: Any, names: tuple, defaults: dict | None = None) -> Any:
    """A NumPy in-place writer ``fn(target, *rest)``: record ``functional`` then fold the
    result into ``target``'s buffer."""
    defaults = defaults or {}

    def handle(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
        vals = _bind(args, kwargs, names, defaults)
        target = vals[0]
        rule = rules.lookup(functional)
        if not isinstance(target, np.ndarray) or rule is None:
            return rec.unknown_call(fn, args, kwargs, frame)
        return rec.mutate(rule, fn, args, kwargs, tuple(vals), target, frame, {})

    return handle


copyto = _writer(_mut.copyto, ("dst", "src", "casting", "where"),
                 {"casting": "same_kind", "where": True})
put = _writer(_mut.put, ("a", "ind", "v", "mode"), {"mode": "raise"})
_place = _writer(_mut.place, ("arr", "mask", "vals"))
putmask = _writer(_mut.putmask, ("a", "mask", "values"))


def place(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """np.place(arr, mask, vals): unbuffered where vals is a view of arr (aliased_writes)."""
    arr, mask, vals = _bind(args, kwargs, ("arr", "mask", "vals"), {})
    out = aliased.write(rec, "np.place", arr, (vals,), _Run(np.place, mask), frame,
                        lambda: _place(rec, fn, args, kwargs, frame))
    return _place(rec, fn, args, kwargs, frame) if out is aliased.NOT_ALIASED else out


class _Run:
    """``fn(target, *before, values[0], *after)``: a writer's call on provenance arrays
    (aliased_writes), its other arguments as given."""

    __slots__ = ("fn", "before", "after")

    def __init__(self, fn: Any, *before: Any, after: tuple = ()):
        self.fn, self.before, self.after = fn, before, after

    def __call__(self, target: np.ndarray, values: list) -> Any:
        return self.fn(target, *self.before, values[0], *self.after)


def fill_diagonal(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """np.fill_diagonal(a, val, wrap): a put at the diagonal's flat indices; unbuffered
    (``a.flat[::step] = val``) where val is a view of a (aliased_writes)."""
    vals = _bind(args, kwargs, ("a", "val", "wrap"), {"wrap": False})
    a = vals[0]
    if not isinstance(a, np.ndarray):
        return rec.unknown_call(fn, args, kwargs, frame)
    out = aliased.write(rec, "np.fill_diagonal", a, (vals[1],),
                        _Run(np.fill_diagonal, after=(vals[2],)), frame,
                        lambda: _fill_diagonal(rec, fn, args, kwargs, frame, a, vals))
    return _fill_diagonal(rec, fn, args, kwargs, frame, a, vals) \
        if out is aliased.NOT_ALIASED else out


def _fill_diagonal(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any,
                   a: np.ndarray, vals: list) -> Any:
    mark = np.zeros(a.shape, dtype=bool)
    np.fill_diagonal(mark, True, wrap=vals[2])
    idx = np.flatnonzero(mark)
    return rec.mutate(rules.lookup(_mut.put), fn, args, kwargs, (a, idx, vals[1], "raise"),
                      a, frame, {})


def set_attribute(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """``a.flat = v``, ``z.real = v``, ``z.imag = v`` on arrays are writes into a's buffer;
    ``a.shape``/``a.dtype``/``a.strides = v`` change how a reads it (``rec.set_layout``)."""
    if len(args) == 3 and not kwargs and isinstance(args[0], np.ndarray) and \
            args[1] in LAYOUT_NAMES:
        return rec.set_layout(*args, frame)
    if len(args) == 3 and not kwargs and isinstance(args[0], np.ndarray) and \
            args[1] in ("flat", "real", "imag"):
        a, name, v = args
        if name == "flat":  # (NumPy's setter copies v only where its layout asks)
            out = aliased.write(rec, "a.flat = v", a, (v,), _set_flat, frame,
                                lambda: rec.set_item(a.flat, slice(None), v, frame))
            return rec.set_item(a.flat, slice(None), v, frame) \
                if out is aliased.NOT_ALIASED else out
        if a.dtype.kind == "c":
            if rec.value_of(a) is None:
                rec.ensure_value(a)
            return rec.set_item(rec.getattr(a, name), Ellipsis, v, frame)  # a recorded view
    return setattr(*args, **kwargs)


def _set_flat(target: np.ndarray, values: list) -> None:
    setattr(target, "flat", values[0])  # noqa: B010 - (mypy: ndarray.flat is read-only)


# --- ndarray's in-place methods: (rec, a, args, kwargs, frame) ---------------------------------


def sort_method(rec: Any, a: np.ndarray, args: tuple, kwargs: dict, frame: Any) -> Any:
    """``a.sort(axis)``: np.sort's node, written into a."""
    rule = rules.lookup(np.sort)
    axis = args[0] if args else kwargs.get("axis", -1)
    if rule is None or kwargs.get("order") is not None or len(args) > 1:
        return rec.unknown_call(a.sort, args, kwargs, frame)
    sorted_in_place(rec, a)  # (an object array's order: not re-made by a cached trace)
    return rec.mutate(rule, a.sort, args, kwargs, (a,), a, frame,
                      {} if axis == -1 else {"axis": axis})


def fill_method(rec: Any, a: np.ndarray, args: tuple, kwargs: dict, frame: Any) -> Any:
    """``a.fill(v)``: ``a[...] = v``."""
    return rec.set_item(a, Ellipsis, args[0] if args else kwargs["value"], frame)


def put_method(rec: Any, a: np.ndarray, args: tuple, kwargs: dict, frame: Any) -> Any:
    """``a.put(ind, v, mode)``."""
    vals = _bind((a, *args), kwargs, ("a", "ind", "v", "mode"), {"mode": "raise"})
    return rec.mutate(rules.lookup(_mut.put), a.put, args, kwargs, tuple(vals), a, frame, {})


def ufunc_at(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """ufunc.at: add/subtract as one linear node; any other ufunc as the sequence of
    element updates it performs (unbuffered, so repeated indices compound)."""
    ufunc = fn.__self__
    vals = _bind(args, kwargs, ("a", "indices", "b"), {})
    a, indices, b = vals
    if not isinstance(a, np.ndarray) or ufunc.nin not in (1, 2):
        return rec.unknown_call(fn, args, kwargs, frame)
    functional = {id(np.add): _mut.add_at, id(np.subtract): _mut.subtract_at}.get(id(ufunc))
    if functional is not None:
        return rec.mutate(rules.lookup(functional), fn, args, kwargs, tuple(vals), a, frame,
                          {})
    flat = np.arange(a.size).reshape(a.shape)[indices]
    positions = [np.unravel_index(int(k), a.shape) for k in np.ravel(flat)]
    if ufunc.nin == 2:
        bb = np.broadcast_to(np.arange(np.size(b)).reshape(np.shape(b)), np.shape(flat))
        if not isinstance(b, np.ndarray):  # a list's items (the same objects), not the list
            bo = np.empty(np.shape(b), dtype=object)
            bo[...] = b
        b_items = [rec.get_item(b, np.unravel_index(int(k), np.shape(b)), frame)
                   if isinstance(b, np.ndarray) else bo[np.unravel_index(int(k), bo.shape)]
                   for k in np.ravel(bb)]
    for n, pos in enumerate(positions):
        cur = rec.get_item(a, pos, frame)
        operands = (cur, b_items[n]) if ufunc.nin == 2 else (cur,)
        rec.set_item(a, pos, rec.dispatch(ufunc, operands, {}, frame), frame)
    return None


def set_shape_method(rec: Any, a: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """``a._set_shape(s)``: NumPy 2.5's ``a.shape = s`` without its deprecation warning
    (np.matrix's ``__array_finalize__`` calls it): ``rec.set_layout``."""
    if len(args) != 1 or kwargs:
        return a._set_shape(*args, **kwargs)  # (NumPy's error)
    return rec.set_layout(a, "shape", args[0], frame, _set_shape)


def _set_shape(a: Any, name: str, new: Any) -> None:
    a._set_shape(new)


def resize_method(rec: Any, a: np.ndarray, args: tuple, kwargs: dict, frame: Any) -> Any:
    """``a.resize(shape, refcheck=...)`` (``Recorder.resize``). NumPy's refcheck counts the
    references to ``a``; framead's own on the way here are counted by sending a twin array
    through the same dispatch (``_native_refs``)."""
    refs = sys.getrefcount(a)  # (first: the twin is counted at this very point)
    if _twin.__dict__.get("on"):
        _twin.count = refs
        return None
    caller = sys._getframe(1)  # dispatch: a came bound (a.resize) or as an argument
    bound = caller.f_locals.get("self_") is a
    del caller
    return rec.resize(a, args, kwargs, frame,
                      functools.partial(_native_refs, rec, refs, bound, frame))


_twin = threading.local()


def _native_refs(rec: Any, refs: int, bound: bool, frame: Any) -> int:
    """The references to the array a native ``a.resize(...)`` would count (refcheck: more
    than 2 raise): ``refs`` (counted by ``resize_method``) less framead's on the way, as the
    same count of a fresh twin array sent through dispatch the way ``a`` came (``bound``:
    ``a.resize(...)``, else ``np.ndarray.resize(a, ...)``) finds them."""
    twin = np.empty(0)
    _twin.on = True
    try:
        if bound:
            rec.dispatch(twin.resize, (0,), {}, frame)
            held = 2  # the twin's name here and its bound method (a's call holds a too)
        else:
            rec.dispatch(np.ndarray.resize, (twin, 0), {}, frame)
            held = 1  # the twin's name here
    finally:
        _twin.on = False
    return refs - (_twin.count - held)


# np.isnan & co. have no rule (nothing to differentiate); given ``out=``, they are recorded as
# a cut ufunc's write (np.signbit's path: the written array holds constants, where= kept)
_PREDICATE_CUTS = {id(u): rules.make_rule(u, cut=True, name=f"np.{u.__name__}")
                   for u in (np.isnan, np.isinf, np.isfinite)}


def predicate_ufunc(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """``np.isnan(x)`` (also isinf, isfinite) of traced values: natively, the answer guarded in
    a cached trace; given an output (``out=``, or positionally past the ufunc's ``nin``) the
    write is recorded: the traced array written holds constants from here on."""
    if len(args) > fn.nin and "out" not in kwargs:
        args, kwargs = args[:fn.nin], {**kwargs, "out": tuple(args[fn.nin:])}
    out = kwargs.get("out")
    if out is not None and out is not Ellipsis and "out" in kwargs:
        return rec.apply(_PREDICATE_CUTS[id(fn)], fn, args, kwargs, args, frame)
    return static_result(rec, fn, args, kwargs, frame)


def static_result(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """A call whose result carries no derivative (booleans of traced values): run it; a
    cached trace guards the result, as for any decision on traced values."""
    result = call_as_user(fn, args, kwargs)
    if rec.guards is not None:
        vals = [rec.tree_value(a) for a in args]
        if any(v is not None for v in vals):
            rec.guard(fn, args, kwargs, vals, result, frame)
    return result
