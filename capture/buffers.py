"""Shadow-table entries and buffer versions for mutable ndarrays.

Every traced object has an `Entry` (keyed by ``id``; the entry holds a strong reference so ids
are not reused during a session). An ndarray that owns its memory is a `Buffer` with SSA
versions; views reach their buffer through ``.base`` and remember how they were made (a
recipe, see ``framead.rules.primitives``) so they can be re-derived after a write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from framead.ir import Value


def buffer_owner(a: np.ndarray) -> np.ndarray:
    """The ndarray that owns ``a``'s memory (follows ``.base`` while it is an ndarray);
    the same walk the C traced-test does."""
    while True:
        b = a.base
        if not isinstance(b, np.ndarray):
            return a
        a = b


@dataclass
class Buffer:
    """SSA versions of one memory-owning ndarray."""

    root: np.ndarray
    value: Value
    version: int = 0
    saved: list[Value] = field(default_factory=list)  # saved values living in this memory
    saved_ids: set[int] = field(default_factory=set)


@dataclass
class Entry:
    """What the recorder knows about one traced object."""

    obj: Any
    value: Value | None
    buffer: Buffer | None = None  # ndarrays only
    version: int = 0  # buffer version ``value`` belongs to
    parent: Any = None  # for views: the array this one was derived from
    recipe: tuple | None = None  # for views: how (see rules.primitives.apply_view)


def overlaps(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays may share memory (exact for simple cases, conservative otherwise)."""
    try:
        return bool(np.shares_memory(a, b, max_work=1000))
    except np.exceptions.TooHardError:
        return True


def is_differentiable(x: Any) -> bool:
    """Objects the recorder tracks: inexact scalars and arrays (never ints, bools, None,
    which can be shared singletons)."""
    t = type(x)
    if t is float or t is complex:
        return True
    if isinstance(x, np.ndarray | np.inexact):
        return x.dtype.kind in "fc"
    return isinstance(x, float | complex) and not isinstance(x, bool)
