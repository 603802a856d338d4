"""The origin record the rewriter (capture/rewriter.py) appends to an instrumented code object.

The last constant of an instrumented code object is the tuple
``(ORIGIN_MARKER, weakref to the original code, offset_map)``: the C frame views
(capture/frameview.h) read it to show Python code the original code object and original
offsets wherever a frame, generator or traceback exposes them (``f_code``, ``gi_code``,
``f_lasti``, ``tb_lasti``) and to check ``f_lineno`` jumps against the original code. The
reference is weak (its hash computed, so the instrumented code stays hashable): the original
keeps its copy alive through the hook's cache, never the reverse, so code of exec'd functions
is freed with them. ``offset_map`` is native-endian
uint32: ``fwd`` (one entry per code unit of the new code: the original code unit it stands
for) followed by ``inv`` (one per unit of the original: a new unit standing for it, or
``NO_UNIT``). ``START`` is or-ed into ``fwd`` at the first unit of each original
instruction's replacement (where a line event fires and a jump may start or land) and into
``inv`` at each original instruction start. Every unit of a replacement stands for the
original instruction's op unit, except its first unit (the original's first unit, an
``EXTENDED_ARG`` prefix where it has one) and the units of an instruction kept as it is
(unit for unit: prefixes, op, inline caches).
"""

from __future__ import annotations

import sys
import weakref
from array import array
from types import CodeType

#: first item of the origin record (capture/frameview.h compares it by identity: both are
#: the interned string)
ORIGIN_MARKER = sys.intern("__framead_origin__")
#: offset-map flags (see the module docstring)
START = 0x80000000
NO_UNIT = 0xFFFFFFFF
assert array("I").itemsize == 4


def offset_map(starts: list[int], opunits: list[int], nunits: int, group: list[int],
               kept: list[bool], off: list[int], pre: list[int]) -> bytes:
    """The offset map (module docstring): ``fwd`` for the new code, then ``inv``. Original
    instruction ``i`` starts at unit ``starts[i]`` (its op at ``opunits[i]``) and became the
    new instructions ``group[i]:group[i + 1]`` (``kept[i]``: unchanged), new instruction ``k``
    starts at unit ``off[k]`` with ``pre[k]`` EXTENDED_ARG prefixes."""
    fwd = [0] * off[-1]
    inv = [NO_UNIT] * nunits
    for i, s in enumerate(starts):
        u = opunits[i]
        g = group[i]
        a, b = off[g], off[group[i + 1]]
        p = pre[g]
        if kept[i] and p >= u - s:  # unit for unit: prefixes (aligned on the op), op, caches
            if p:
                fwd[a : a + p] = [max(s, u - p + j) for j in range(p)]
            fwd[a + p : b] = range(u, u + b - a - p)
            inv[s + 1 : u + b - a - p] = range(a + p + s + 1 - u, b)
        else:
            fwd[a:b] = [u] * (b - a)
            if u != s and b - a > 1:
                inv[u] = a + 1
        fwd[a] = s | START
        inv[s] = a | START
    return array("I", fwd).tobytes() + array("I", inv).tobytes()


def make_record(code: CodeType, offsets: bytes) -> tuple:
    """The origin record of a copy of ``code`` with the offset map ``offsets``."""
    ref = weakref.ref(code)
    hash(ref)  # kept by the reference: hashing the instrumented code works once code is gone
    return (ORIGIN_MARKER, ref, offsets)


def record_of(code: CodeType) -> tuple | None:
    """The origin record of ``code`` (None: not an instrumented copy)."""
    consts = code.co_consts
    rec = consts[-1] if consts else None
    if type(rec) is not tuple or len(rec) != 3 or rec[0] is not ORIGIN_MARKER:
        return None
    return rec


def is_instrumented(code: CodeType) -> bool:
    """Whether ``code`` is an instrumented copy (it carries an origin record)."""
    return record_of(code) is not None


def origin(code: CodeType) -> tuple[CodeType | None, array, array] | None:
    """``(original code, fwd, inv)`` of an instrumented code object (None for any other):
    the origin record the rewriter appends to ``co_consts`` (module docstring). The original
    is None once it has been freed."""
    rec = record_of(code)
    if rec is None:
        return None
    m = array("I", rec[2])
    n = len(code.co_code) >> 1
    return rec[1](), m[:n], m[n:]
