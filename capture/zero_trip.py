"""FA102 for a loop that ran zero times because a traced test was a near-tie (Recorder.finish).

Newton's method started exactly at its root, ``x = a / 2`` for ``a = 4``::

    while abs(x * x - a) > 1e-12:   # 4 - 4 == 0: the loop never runs
        x = x - (x * x - a) / (2 * x)
    return x                        # d/da = 0.5, the starting guess's; sqrt's is 0.25

The result is connected, so nothing else reports it, and it is wrong: any change of ``a`` as
small as the tolerance runs the loop, which computes a different function. The capture shows
the signature: a sum or difference that cancels to rounding level (the residual), computed
on a loop's first pass, read only by the test (it never reaches the result), after which the
loop exits without any other work; and a comparison made right after it that a change of
the residual's own size, times ``TIE``, would flip. A converged loop's last test is the same
except that it is not on the first pass (the walk back meets the previous pass's work), and a
loose tolerance (``abs(r) > 0.1``) is no tie, so both stay silent.

The comparisons come from the C probe (capture/_evalframe.c keeps each thread's last 64
comparisons of traced numbers: the node count then and ``|a - b|``) and from the Python
handler (``note``).
"""

from __future__ import annotations

import dis
import operator
import weakref
from collections.abc import Callable
from types import CodeType
from typing import Any

import numpy as np

from framead.ir import Node, Value

from . import _evalframe as C
from .sourceloc import MAX_STACK, line_at

__all__ = ["note", "zero_trip_exit", "zero_trip_message"]

CANCELLED = 1e-8  # a residual at most this times its operands' size is rounding level
TIE = 1e-8  # a test that a change of TIE x the residual's operands would flip is a tie
WALK = 4096  # nodes looked at before the candidate (one pass of a loop body)
MAX_NODES = 200_000
CHAIN = 16  # nodes between a residual and the comparison of its test, at most
_ADD = frozenset({operator.add, operator.iadd, operator.sub, operator.isub, np.add,
                  np.subtract})
_ADD_IDS = frozenset(map(id, _ADD))
_SCALARS = (float, int, np.float64, np.float32)
_NUMS = (float, int, np.floating, np.integer, np.ndarray)
_UNKNOWN = -2  # a node whose place cannot be told
_JUMPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs)
_loops: dict[int, tuple[weakref.ref, list[tuple[int, int]], dict[int, set[int]]]] = {}


def note(rec: Any, a: Any, b: Any) -> None:
    """Note a comparison of traced numbers made by the Python handler (arrays: the nearest
    elements); anything else is not noted."""
    if not (isinstance(a, _NUMS) and isinstance(b, _NUMS)):
        return
    try:
        d = np.subtract(a, b, dtype=np.float64)
        dist = float(np.min(np.abs(d))) if np.size(d) else float("inf")
    except (TypeError, ValueError):
        return
    C.note_comparison(rec, len(rec.nodes), dist)


def _ids(xs: tuple) -> set[int]:
    return {x.id for x in xs if type(x) is Value}


def _size(x: Any) -> float:
    """The largest magnitude in x; NaN where it is not known (an array whose primal was not
    kept: nothing is then judged a cancellation)."""
    p = x.primal if type(x) is Value else x
    if type(p) in _SCALARS:
        return abs(float(p))
    if isinstance(p, np.ndarray) and p.dtype.kind in "fiu" and p.size:
        return float(np.max(np.abs(p)))
    return float("nan")


def _scale(args: tuple) -> float:
    """The operands' largest magnitude; NaN if one is not known."""
    sizes = [_size(a) for a in args]
    return float("nan") if any(z != z for z in sizes) else max(sizes, default=0.0)


def _loop_table(code: CodeType) -> tuple[list[tuple[int, int]], dict[int, set[int]]]:
    """The code's loops as (first, last) byte offsets of a backward jump's span, and the
    offsets of each line (a ``while`` test is compiled twice: before the loop and at its
    end)."""
    entry = _loops.get(id(code))
    if entry is not None and entry[0]() is code:
        return entry[1], entry[2]
    spans: list[tuple[int, int]] = []
    lines: dict[int, set[int]] = {}
    for ins in dis.get_instructions(code):
        lines.setdefault(line_at(code, ins.offset), set()).add(ins.offset)
        if ins.opcode in _JUMPS and isinstance(ins.argval, int) and ins.argval <= ins.offset:
            spans.append((ins.argval, ins.offset))
    key = id(code)
    _loops[key] = (weakref.ref(code, lambda _: _loops.pop(key, None)), spans, lines)
    return spans, lines


def _loop_of(frames: tuple) -> tuple[CodeType, tuple[int, int], int] | None:
    """The innermost frame of a location that is in a loop: its code, the loop's span, the
    line."""
    for code, lasti in frames:
        spans, lines = _loop_table(code)
        line = line_at(code, lasti)
        offsets = lines.get(line, ())
        inner = [s for s in spans if s[0] <= lasti <= s[1] or
                 any(s[0] <= o <= s[1] for o in offsets)]
        if inner:
            return code, min(inner, key=lambda s: s[1] - s[0]), line
    return None


def _place(node: Node, code: CodeType) -> int | None:
    """The node's byte offset in ``code``'s frame, None outside it, ``_UNKNOWN``."""
    w = getattr(node, "_loc", None)
    frames = getattr(w, "frames", None)
    if type(frames) is not tuple:
        return _UNKNOWN
    for c, lasti in frames:
        if c is code:
            return lasti
    return None if len(frames) <= MAX_STACK else _UNKNOWN


def _live(nodes: list, outputs: set[int]) -> set[int]:
    """The values the outputs are made from (one walk back over the trace)."""
    live = set(outputs)
    for n in reversed(nodes):
        if _ids(n.outputs) & live:
            live |= _ids(n.args)
    return live


def _judge(nodes: list, i: int, live_of: Callable[[], set[int]], cmps: list) -> bool:
    """Whether nodes[i], a cancellation, is the test of a loop's first pass that exited on
    a tie (the module docstring)."""
    cand = nodes[i]
    frames = getattr(getattr(cand, "_loc", None), "frames", None)
    if type(frames) is not tuple or (loop := _loop_of(frames)) is None:
        return False
    code, (lo, hi), line = loop
    lines = _loop_table(code)[1].get(line, set())

    def inside(o: int) -> bool:
        return lo <= o <= hi or o in lines

    anc = _ids(cand.args)  # what the test was made from, in this pass
    made: set[int] = set()  # ... of it, what this pass made
    for j in range(i - 1, max(-1, i - WALK - 1), -1):
        o = _place(nodes[j], code)
        if o == _UNKNOWN or getattr(getattr(nodes[j], "_loc", None), "frames", None) == frames:
            return False  # (the candidate's own instruction ran before: not a first pass)
        if o is None or not inside(o):
            break  # the loop's start (or the frame's): this is its first pass
        outs = _ids(nodes[j].outputs)
        if not outs & anc:
            return False  # other work: an earlier pass, or this one's before the test
        made |= outs
        anc |= _ids(nodes[j].args)
    else:
        if i > WALK:
            return False
    test = _ids(cand.outputs)  # the test's values: the residual and what is made of it
    end, body = len(nodes), False
    for k in range(i + 1, len(nodes)):
        n = nodes[k]
        args = _ids(n.args)
        if args & made:
            return False  # the pass's work is used after all
        if args & test:
            test |= _ids(n.outputs)
            continue
        o = _place(n, code)
        if o == _UNKNOWN:
            return False
        if o is None or not inside(o):
            end = k  # the loop was left (the frame returned, or a new run of it); later
            break  # uses of its work are in `live`
        if o not in lines:
            body = True  # (the pass's work that is not its test's line)
        elif body or getattr(getattr(n, "_loc", None), "frames", None) == frames:
            return False  # the test ran again (after the body): the loop went on
    if (test | made) & live_of():  # (made once, only for a first pass that exited)
        return False
    scale = _scale(cand.args)
    return any(i < at <= end and dist <= TIE * scale for at, dist in cmps)


def zero_trip_exit(nodes: list, outputs: list[Any], rec: Any) -> Node | None:
    """The test (a cancelling sum or difference) of a loop that exited on its first pass on a
    near-tie, or None (the module docstring). Takes ``rec``'s comparisons out of the ring."""
    cmps = C.comparisons(rec)
    if not cmps or len(nodes) > MAX_NODES:
        return None
    outs = {o.id for o in outputs if type(o) is Value}
    live: list[set[int]] = []

    def live_of() -> set[int]:
        if not live:
            live.append(_live(nodes, outs))
        return live[0]

    looked: set[int] = set()
    for at, _ in reversed(cmps):  # (the test chain between the residual and its comparison
        for i in range(min(at, len(nodes)) - 1, max(-1, at - CHAIN - 1), -1):  # is short)
            if i in looked:
                continue
            looked.add(i)
            n = nodes[i]
            if id(getattr(n.rule, "fn", None)) not in _ADD_IDS or len(n.args) != 2 or \
                    len(n.outputs) != 1:
                continue
            scale = _scale(n.args)
            if not (_size(n.outputs[0]) <= CANCELLED * scale and
                    any(i < a <= i + CHAIN and d <= TIE * scale for a, d in cmps)):
                continue  # (no cancellation, or no tie near it: cheap, before any walk)
            if _judge(nodes, i, live_of, cmps):
                return n
    return None


def zero_trip_message(node: Node) -> str:
    """FA102's message for ``zero_trip_exit``'s finding."""
    return ("a loop ran zero times: its first test compared a value that cancels to rounding "
            "level (a residual of exactly 0, as where an iteration starts at its answer) "
            "with a tolerance it barely met; a change of the inputs as small as the tolerance "
            "would run the loop, so the gradient is that of the starting value, not of what "
            "the loop computes. Start the iteration elsewhere, or differentiate the solver "
            "with framead.implicit")
