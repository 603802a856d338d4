"""The numbers NumPy's object loops see (``np.frompyfunc``'s ufuncs, object arrays' methods):
traced operands as the Python numbers a loop hands its callbacks, and items an object loop
picks in C (``o.max()``, ``o.sort()``), which a cached trace cannot re-make."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

_SCALARS = (float, complex, np.floating, np.complexfloating)


def as_object_items(rec: Any, a: Any, frame: Any) -> Any:
    """A traced float/complex array or scalar as NumPy's object loops see it: an object array
    whose items are Python floats (complex) recorded as read from ``a``. NumPy's own cast makes
    new untraced numbers (of an ``np.float64``, also of a Python float: the loop would compute
    on a constant); a 0-d object array hands the loop the traced number itself."""
    if isinstance(a, _SCALARS) and not isinstance(a, np.ndarray):
        if rec.value_of(a) is None:
            return a
        if type(a) not in (float, complex):  # (np.float64 is a float: its loop item is not)
            a = rec.dispatch(builtins.complex if np.iscomplexobj(a) else builtins.float,
                             (a,), {}, frame)
        item = np.empty((), dtype=object)
        item[()] = a
        return rec.hold_if_container(item)
    if not (type(a) is np.ndarray and a.dtype.kind in "fc" and rec.value_of(a) is not None):
        return a
    cast = builtins.float if a.dtype.kind == "f" else builtins.complex
    out = np.empty(a.shape, dtype=object)
    for idx in np.ndindex(a.shape):
        out[idx] = rec.dispatch(cast, (rec.get_item(a, idx, frame),), {}, frame)
    return rec.hold_if_container(out)


def picked(rec: Any, name: str, node_args: tuple, out: Any) -> None:
    """A cached trace cannot re-make ``out`` where it is one of the items of an object array
    among ``node_args`` (``o.max()``, ``np.min(o)``: NumPy's object loop compared them in C,
    and a replay would read the item the recording picked): the trace is unreplayable."""
    if rec.guards is None or type(out) is np.ndarray or rec.value_of(out) is None:
        return
    for a in node_args:
        if type(a) is np.ndarray and a.dtype.kind == "O" and \
                any(item is out for item in a.flat):
            rec.unreplayable.append(f"{name} picks an item of an object array in C")
            return


def sorted_in_place(rec: Any, a: np.ndarray) -> None:
    """``o.sort()`` of an object array with traced items orders them in C: a cached trace
    cannot re-make the order (unreplayable)."""
    if rec.guards is not None and a.dtype.kind == "O" and rec.tree_value(a) is not None:
        rec.unreplayable.append("ndarray.sort orders the traced items of an object array in C")
