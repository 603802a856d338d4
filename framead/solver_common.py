"""What the SciPy solver adjoints share (framead/scipy_optimize.py, ode.py, quadrature.py):
binding a solver call's arguments, finding the objects that hold the traced values a callback
reads (its parameters), and the parameter arrays' values of the forward call."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .ir import values_in

# what capture/calls.py's SOLVERS hook calls: handler(rec, fn, args, kwargs, frame) -> result
Handler = Callable[[Any, Any, tuple, dict, Any], Any]


def bind(fn: Callable, args: tuple, kwargs: dict) -> dict | None:
    """``fn``'s parameters by name, defaults filled in (None when ``fn`` has no signature or
    the call does not fit it)."""
    try:
        ba = inspect.signature(fn).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return None
    ba.apply_defaults()
    return dict(ba.arguments)


def args_tuple(a: Any) -> tuple:
    """A solver's ``args=`` as a tuple (None: none; a single object: one)."""
    if a is None:
        return ()
    return a if isinstance(a, tuple) else (a,)


def parameters(rec: Any, start: int, frame: Any) -> list[Any]:
    """The objects holding the traced values read by the nodes recorded since ``start``."""
    new = rec.nodes[start:]
    produced = {o.id for n in new for o in n.outputs if o is not None}
    leaves: dict[int, Any] = {}
    for n in new:
        for v in values_in(n.args):
            if v.id not in produced:
                leaves[v.id] = v
    found: dict[int, Any] = {}
    for e in list(rec.entries.values()):
        obj = e.obj
        if obj is None:
            continue
        if e.parent is None:
            v = rec.value_of(obj)
        elif e.buffer is not None and e.version == e.buffer.version:
            v = e.value
        else:
            continue
        if v is not None and v.id in leaves and v.id not in found:
            found[v.id] = obj
    missing = [vid for vid in leaves if vid not in found]
    if missing:
        rec.hazard("FA101", "ode", frame,
                   f"{len(missing)} traced value(s) read by the ODE right-hand side are held by "
                   "no object framead can find again; their gradient is lost")
    return list(found.values())


def snapshots(params: list) -> list:
    """Copies of the arrays among ``params`` (None for the others)."""
    return [np.array(p, copy=True) if isinstance(p, np.ndarray) else None for p in params]


@contextlib.contextmanager
def forward_values(params: list, snaps: list) -> Iterator[None]:
    """Parameter arrays hold their snapshot values (those of the forward call) for the block,
    then get back what the program has written since (solver and quadrature adjoints)."""
    saved = []
    for p, snap in zip(params, snaps, strict=True):
        if snap is not None and not np.array_equal(p, snap, equal_nan=True):
            saved.append((p, np.array(p, copy=True)))
            p[...] = snap
    try:
        yield
    finally:
        for p, cur in saved:
            p[...] = cur


def split_like(params: list, sizes: list[int], flat: np.ndarray) -> list:
    """``flat`` cut into one piece per parameter (``sizes[i]`` elements each), shaped like
    the parameter (a float for a scalar)."""
    out, k = [], 0
    for p, s in zip(params, sizes, strict=True):
        piece = flat[k:k + s]
        k += s
        out.append(piece.reshape(np.shape(p)) if isinstance(p, np.ndarray) else float(piece[0]))
    return out
