"""Shadow-table entries and buffer versions for mutable ndarrays.

Every traced object has an entry keyed by ``id``. Arrays are held weakly (`WeakEntry`, and a
`Buffer`'s root): an array the program drops is freed as natively, its entry goes with it, and
a new object that reuses its id is never taken for it (a dead entry's ``obj`` is None). Other
objects (floats, framead's own tracers) have a strong `Entry`, which keeps their ids from
being reused during a session. An ndarray that owns its memory is a `Buffer` with SSA
versions; views reach their buffer through ``.base`` and remember how they were made (a
recipe, see ``framead.rules.primitives``) so they can be re-derived after a write.
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from framead.ir import Value

from . import _evalframe as C
from .saves import NOTHING

# as_strided (sliding_window_view) makes its view through one of these, whose .base is the
# array it views (NumPy 2's home of it; older ones had it in np.lib.stride_tricks)
STRIDED_BASE: type | None = getattr(getattr(np.lib, "_stride_tricks_impl", None), "DummyArray",
                                    getattr(np.lib.stride_tricks, "DummyArray", None))


def buffer_owner(a: np.ndarray) -> np.ndarray:
    """The ndarray that owns ``a``'s memory: follows ``.base`` while it is an ndarray, and
    through as_strided's ``DummyArray`` to the array it views; the same walk the C
    traced-test does (``_evalframe.c`` ``array_base``)."""
    while True:
        b = a.base
        if type(b) is STRIDED_BASE:
            b = b.base
        if not isinstance(b, np.ndarray):
            return a
        a = b


class Buffer:
    """SSA versions of one memory-owning ndarray (``root``, held weakly: None once freed)."""

    __slots__ = ("_root", "value", "version", "saved", "saved_ids")

    def __init__(self, root: np.ndarray, value: Value, version: int = 0) -> None:
        self._root = weakref.ref(root)
        self.value = value
        self.version = version
        # saved values living in this memory, and their ids: made at the first save
        # (Recorder._protect; most buffers have none)
        self.saved: list[Value] | tuple = ()
        self.saved_ids: set[int] | frozenset = NOTHING

    @property
    def root(self) -> np.ndarray | None:
        return self._root()


@dataclass(slots=True)
class Entry:
    """What the recorder knows about one traced object (slotted: a long scalar recording
    holds one per operation; capture/_evalframe.c fills them slot by slot)."""

    obj: Any
    value: Value | None
    buffer: Buffer | None = None  # ndarrays only
    version: int = 0  # buffer version ``value`` belongs to
    parent: Any = None  # for views: the array this one was derived from
    recipe: tuple | None = None  # for views: how (see rules.primitives.apply_view)


class WeakEntry(weakref.ref):
    """An `Entry` for an ndarray that does not keep it alive: ``obj`` is the array, or None
    once it is gone; its callback removes the entry from the table (``key``: the array's id)."""

    __slots__ = ("value", "buffer", "version", "parent", "recipe", "key")

    # (operator.call: the C probes read ``obj`` on every traced array operand; through the
    # slot wrapper weakref.ref.__call__ a read took ~2x as long)
    obj = property(operator.call)


def weak_entry(obj: np.ndarray, value: Value | None, buffer: Buffer | None, version: int,
               parent: Any, recipe: tuple | None,
               on_death: Callable[[WeakEntry], None]) -> WeakEntry:
    """A `WeakEntry` for ``obj`` (fields as `Entry`'s)."""
    e = WeakEntry(obj, on_death)
    e.value, e.buffer, e.version, e.parent, e.recipe = value, buffer, version, parent, recipe
    e.key = id(obj)
    return e


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


def content_digest(a: np.ndarray) -> int:
    """A digest of ``a``'s values (its bytes in C order, as ``a.tobytes()``) for watching a
    large constant: it changes when they do. The sum mod 2**64 of one term per pair of 64-bit
    words, their 128-bit product after each is xored with a key of its position (and of the
    last bytes as one more word; ``_evalframe.digest_words``, one pass in C): a changed or
    moved word changes its term, and changes cancel only by coincidence (odds ~2**-64 for
    changes not crafted against the keys). Object arrays:
    ``hash(a.tobytes())``."""
    if a.dtype.hasobject:
        return hash(a.tobytes())
    return C.digest_words(np.ascontiguousarray(a).view(np.ndarray).reshape(-1).view(np.uint8))


PREFAULT_BYTES = 256 * 1024  # smaller: few pages, and they are mostly reused heap memory


def fresh_copy(a: np.ndarray) -> np.ndarray:
    """``np.array(a, copy=True)`` for an exact ndarray (the same layout): a large copy's pages
    are mapped in by one system call before the copy writes them (``_evalframe.prefault``; a
    page fault each costs ~3x more on the benchmark machines)."""
    if a.nbytes < PREFAULT_BYTES:
        return np.array(a, copy=True)
    out = np.empty_like(a, order="K", subok=False)
    if out.flags.c_contiguous or out.flags.f_contiguous:
        C.prefault(out)
    out[...] = a
    return out
