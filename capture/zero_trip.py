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

Other signatures of the same exit: a comparison that is itself the tie (``x * x == a``,
``xn == x``: its operand made last is the test's value, reported at the comparison); the
residual of ``sum``/``math.fsum``; an array residual whose operands were not kept (made
again from their makers); a function that calls itself (its outermost frame is the first
pass). A first pass whose step reaches the result is right only where the step lands at
once (its derivative in its start is 0: Newton's); a damped step's is not, and is reported.
A loop that can change nothing (a verification after a solver) is silent.

The comparisons come from the C probe (capture/_evalframe.c keeps each thread's last 64
comparisons of traced numbers, the node count then and ``|a - b|``, and the last 4 before each
of the last 16 jumps of ``|a - b|``: earlier searches' ends) and from the Python handler
(``note``).
"""

from __future__ import annotations

import builtins
import dis
import inspect
import math
import operator
import weakref
from collections.abc import Callable
from types import CodeType
from typing import Any

import numpy as np

from framead.ir import Node, Value

from . import _evalframe as C
from .search_choice import Decided, chosen_exit, decided_exit, search_message
from .search_choice import ids as _ids
from .search_choice import size as _size
from .sourceloc import MAX_STACK, line_at, resolve_where

__all__ = ["note", "zero_trip_exit", "zero_trip_message", "decided_exit"]

CANCELLED = 1e-8  # a residual at most this times its operands' size is rounding level
TIE = 1e-8  # a test that a change of TIE x the residual's operands would flip is a tie
WALK = 4096  # nodes looked at before the candidate (one pass of a loop body)
MAX_NODES = 200_000
CHAIN = 16  # nodes between a residual and the comparison of its test, at most
_ADD = frozenset({operator.add, operator.iadd, operator.sub, operator.isub, np.add,
                  np.subtract})
_ADD_IDS = frozenset(map(id, _ADD))
_SUM_IDS = frozenset(map(id, (builtins.sum, math.fsum)))  # sum([x * x, -a]): its items
_REMAKE = frozenset(map(id, (operator.mul, operator.add, operator.sub, operator.truediv,
                              operator.pow, operator.neg, operator.matmul, np.matmul, np.dot,
                              np.array, np.asarray)))
REMAKES = 4  # residuals whose operands are made again (arrays not kept), at most, a capture
SLOPE = 1e-6  # a step whose derivative in its start is below this is one that lands (Newton)
_SCALARS = (float, int, np.float64, np.float32)
_NUMS = (float, int, np.floating, np.integer, np.ndarray)
_UNKNOWN = -2  # a node whose place cannot be told
_JUMPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs)
_GENERATORS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
_Table = tuple[list[tuple[int, int]], dict[int, set[int]], list[int], bool, dict]
_loops: dict[int, tuple[weakref.ref, _Table]] = {}


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


def _remade(x: Value, nodes: list, i: int, depth: int = 3) -> Any:
    """x, an operand of nodes[i] whose primal was not kept (an array: ``x * x``, ``A @ x``),
    made again from its maker's operands (kept, or made again: ``depth`` makers deep) where
    that maker is a NumPy ufunc or operator among the CHAIN nodes before; None where it
    cannot be."""
    if x.primal is not None:
        return x.primal
    for k in range(i - 1, max(-1, i - CHAIN - 1), -1):
        n = nodes[k]
        if not any(o is x for o in n.outputs):
            continue
        fn: Any = getattr(n.rule, "fn", None)
        if depth == 0 or n.kwargs or not (isinstance(fn, np.ufunc) or id(fn) in _REMAKE):
            return None
        ps = [[y if type(y) is not Value else _remade(y, nodes, k, depth - 1) for y in a]
              if type(a) is list else _remade(a, nodes, k, depth - 1) if type(a) is Value
              else a for a in n.args]
        if any(p is None or type(p) is list and None in p for p in ps):
            return None
        try:
            with np.errstate(all="ignore"):
                return fn(*ps)
        except Exception:  # noqa: BLE001 (not made again: not judged)
            return None
    return None


def _scale(args: tuple, nodes: list | None = None, i: int = 0,
           budget: list[int] | None = None, out: float = 0.0) -> float:
    """The operands' largest magnitude (sum's: its items'); NaN if one is not known. Given
    ``nodes``, an operand not kept is made again (``_remade``, while ``budget`` lasts) unless
    the kept ones show that ``out`` (the result's size) is no cancellation."""
    items = args if not args or type(args[0]) not in (list, tuple) else \
        [y for x in args for y in (x if type(x) in (list, tuple) else (x,))]
    sizes = [_size(a) for a in items]
    known = max((z for z in sizes if z == z), default=0.0)
    if len(sizes) == 0 or all(z == z for z in sizes):
        return known
    if nodes is None or not budget or budget[0] <= 0 or \
            known > 0 and out > 2 * CANCELLED * known:
        return float("nan") if nodes is None or out <= 2 * CANCELLED * known else known
    budget[0] -= 1
    for a, z in zip(items, sizes, strict=True):
        if z != z:
            z = _size(_remade(a, nodes, i)) if type(a) is Value else z
            if z != z:
                return z
            known = max(known, z)
    return known


def _loop_table(code: CodeType) -> _Table:
    """The code's loops as (first, last) byte offsets of a backward jump's span, the offsets
    of each line (a ``while`` test is compiled twice: before the loop and at its end), the
    offsets of its comparisons and calls (returns negated), and whether it calls itself by
    name (recursion)."""
    entry = _loops.get(id(code))
    if entry is not None and entry[0]() is code:
        return entry[1]
    spans: list[tuple[int, int]] = []
    lines: dict[int, set[int]] = {}
    cmps: list[int] = []
    for ins in dis.get_instructions(code):
        lines.setdefault(line_at(code, ins.offset), set()).add(ins.offset)
        if ins.opcode in _JUMPS and isinstance(ins.argval, int) and ins.argval <= ins.offset:
            spans.append((ins.argval, ins.offset))
        if ins.opname in ("COMPARE_OP", "CALL") or ins.opname.startswith("RETURN"):
            cmps.append(-ins.offset if ins.opname.startswith("RETURN") else ins.offset)
    recursive = code.co_name in code.co_names or code.co_name in code.co_freevars
    key = id(code)
    table: _Table = (spans, lines, cmps, recursive, {})  # (and _checks_only's answers)
    _loops[key] = (weakref.ref(code, lambda _: _loops.pop(key, None)), table)
    return table


def _loop_of(frames: tuple) -> tuple[CodeType, tuple[int, int], int] | None:
    """The innermost frame of a location that is in a loop: its code, the loop's span, the
    line. A function that calls itself is a loop over its frames (its whole code): only its
    outermost frame is a first pass."""
    for code, lasti in frames:
        spans, lines, _, recursive, _ = _loop_table(code)
        line = line_at(code, lasti)
        offsets = lines.get(line, ())
        inner = [s for s in spans if s[0] <= lasti <= s[1] or
                 any(s[0] <= o <= s[1] for o in offsets)]
        if inner:
            return code, min(inner, key=lambda s: s[1] - s[0]), line
        if recursive:
            if sum(c is code for c, _ in frames) > 1 or len(frames) > MAX_STACK:
                return None  # (a recursive call of it: not its first pass)
            return code, (0, 1 << 30), line
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


def _generator_run(node: Node) -> bool:
    """Whether the node's chain of frames ends in a generator's (its callers not known)."""
    frames = getattr(getattr(node, "_loc", None), "frames", None)
    return type(frames) is tuple and bool(frames) and \
        bool(frames[-1][0].co_flags & _GENERATORS)


def _live(nodes: list, outputs: set[int]) -> set[int]:
    """The values the outputs are made from (one walk back over the trace)."""
    live = set(outputs)
    for n in reversed(nodes):
        if _ids(n.outputs) & live:
            live |= _ids(n.args)
    return live


def _checks_only(code: CodeType, span: tuple[int, int], lines: set[int]) -> bool:
    """Whether the loop can change nothing: no store but a ``for`` target it never reads, no
    call off the test's line (a verification loop after a solver: its zero trip is the
    program)."""
    if span[1] - span[0] >= 1 << 29:
        return False
    memo = _loop_table(code)[4]
    key = (span, frozenset(lines))
    if key not in memo:
        memo[key] = _checks_only_now(code, span, lines)
    return memo[key]


def _checks_only_now(code: CodeType, span: tuple[int, int], lines: set[int]) -> bool:
    def names(v: Any) -> set:
        return set(v) if type(v) is tuple else {v}

    ins = [i for i in dis.get_instructions(code) if span[0] <= i.offset <= span[1]]
    for k, i in enumerate(ins):
        if i.opname.startswith(("STORE_", "DELETE_")):
            if k == 0 or ins[k - 1].opname != "FOR_ITER" or any(
                    j.opname.startswith("LOAD_") and names(i.argval) & names(j.argval)
                    for j in ins):
                return False  # (a store, or a for target the loop reads)
        elif i.opname.startswith(("CALL", "YIELD")) and i.offset not in lines:
            return False
    return any(i.opname == "FOR_ITER" for i in ins)


def _slope(nodes: list, made: list[int], u: Value, v: Value) -> float | None:
    """d u / d v through the pass's nodes ``made`` (scalars, forward tangents); None where a
    node cannot tell (no primal, no JVP)."""
    tan: dict[int, Any] = {v.id: 1.0}
    for j in sorted(made):
        n = nodes[j]
        if n.multi or len(n.outputs) != 1 or n.kwargs or n.rule is None:
            return None
        ts = tuple(tan.get(a.id) if type(a) is Value else None for a in n.args)
        if all(t is None for t in ts):
            continue
        if any(type(a) is Value and type(a.primal) not in _SCALARS for a in n.args) or \
                any(type(a) in (list, tuple) for a in n.args):
            return None
        try:
            t = n.rule.call_jvp(ts, n.outputs[0].primal,
                                tuple(a.primal if type(a) is Value else a for a in n.args))
            tan[n.outputs[0].id] = 0.0 if t is None else float(t)
        except Exception:  # noqa: BLE001 (a rule that cannot say: no judgement)
            return None
    return tan.get(u.id, 0.0)


def _landing_step(nodes: list, cand: Node, made: list[int], made_ids: set[int],
                  live: set[int]) -> bool:
    """Whether the pass's work that reaches the result is a step that lands at once: the
    test ``u - v`` compares the step's value ``u`` (live) with its start ``v``, and u's
    derivative in v is 0 (Newton's at its root: one pass has the root's gradient; a damped
    step's is not 0, its one pass is not the fixed point's). True (silent) where it cannot
    be told."""
    if len(cand.args) != 2 or not all(type(a) is Value for a in cand.args):
        return True
    for u, v in (cand.args, cand.args[::-1]):
        if u.id in made_ids and u.id in live and v.id not in made_ids:
            slope = _slope(nodes, made, u, v)
            return slope is None or abs(slope) <= SLOPE
    return True


def _judge(nodes: list, i: int, live_of: Callable[[], set[int]], cmps: list,
           scale: float) -> bool:
    """Whether nodes[i], a cancellation (or the operand of a tie), is the test of a loop's
    first pass that exited on a tie (the module docstring)."""
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
    made_at: list[int] = []
    side: set[int] = set()  # this pass's other work before the test (dfx = 2 * x)
    seen: set[Any] = set()  # ... its instructions
    for j in range(i - 1, max(-1, i - WALK - 1) if hi < 1 << 29 else i - 1, -1):
        # (a recursion's first frame is its first pass: what it made before is its start)
        o = _place(nodes[j], code)
        if o == _UNKNOWN or getattr(getattr(nodes[j], "_loc", None), "frames", None) == frames:
            return False  # (the candidate's own instruction ran before: not a first pass)
        if o is None and _generator_run(nodes[j]):
            o = lo  # (a generator run by a C call, sum(f(v) for v in xs): its caller's is
            # not known, taken for this pass's work: it must be an ancestor of the test)
        if o is None or not inside(o):
            break  # the loop's start (or the frame's): this is its first pass
        outs = _ids(nodes[j].outputs)
        if not outs & anc:  # other work: this pass's, unless its instruction ran twice (an
            where = getattr(getattr(nodes[j], "_loc", None), "frames", None)  # earlier pass)
            if where in seen:
                return False
            seen.add(where)
            side |= outs
            continue
        made |= outs
        made_at.append(j)
        anc |= _ids(nodes[j].args)
    else:
        if i > WALK and hi < 1 << 29:
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
    if not any(i < at <= end and dist <= TIE * scale for at, dist in cmps):
        return False
    live = live_of()  # (made once, only for a first pass that exited on a tie)
    if test & live or side & live or \
            made & live and _landing_step(nodes, cand, made_at, made, live):
        return False
    return not _checks_only(code, (lo, hi), lines)


def _compared_at(node: Node) -> Node:
    """``node`` located at the comparison it was an operand of: the first comparison or call
    (``math.isclose``) after it in its frame, or its caller's where the frame returns first
    (where that is not known, ``node`` itself)."""
    frames = getattr(getattr(node, "_loc", None), "frames", None)
    if type(frames) is not tuple:
        return node
    for k, (code, lasti) in enumerate(frames):
        after = [o for o in _loop_table(code)[2] if abs(o) > lasti]
        if after and min(after, key=abs) > 0:  # (not a return first: its caller compares)
            loc = resolve_where(((code, min(after, key=abs)), *frames[k + 1:]))
            return Node(node.rule, node.args, node.kwargs, node.outputs, loc)
    return node


def zero_trip_exit(nodes: list, outputs: list[Any], rec: Any) -> Node | None:
    """The test (a cancelling sum or difference, or an operand of a comparison that is itself
    the tie: ``x * x == a``) of a loop that exited on its first pass on a near-tie, or None
    (the module docstring). Takes ``rec``'s comparisons out of the ring."""
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
    budget = [REMAKES]
    for at, dist in reversed(cmps):  # (the test chain between the residual and its
        for i in range(min(at, len(nodes)) - 1, max(-1, at - CHAIN - 1), -1):  # comparison
            if i in looked:  # is short)
                continue
            looked.add(i)
            n = nodes[i]
            fn = id(getattr(n.rule, "fn", None))
            if fn in _ADD_IDS and len(n.args) == 2 or fn in _SUM_IDS and n.args and \
                    type(n.args[0]) in (list, tuple):
                if len(n.outputs) != 1 or (out := _size(n.outputs[0])) != out:
                    continue  # (not kept: not known to cancel)
                scale = _scale(n.args, nodes, i, budget, out)
                if not (out <= CANCELLED * scale and
                        any(i < a <= i + CHAIN and d <= TIE * scale for a, d in cmps)):
                    continue  # (no cancellation, or no tie near it: cheap, before any walk)
                if _judge(nodes, i, live_of, cmps, scale):
                    return n
            elif i == at - 1 and len(n.outputs) == 1 and type(n.outputs[0]) is Value and \
                    0 < (scale := _size(n.outputs[0])) < float("inf") and \
                    dist <= TIE * scale and type(n.outputs[0].primal) in _SCALARS:
                # the comparison itself is the tie (x * x == a, xn == x): its operand made
                # last is the test's value
                if _judge(nodes, i, live_of, [(at, dist)], scale):
                    return _compared_at(n)
    found = decided_exit(nodes, cmps, live_of, outputs)
    return found if found is not None else chosen_exit(nodes, cmps, live_of, outputs)


def zero_trip_message(node: Node) -> str:
    """FA102's message for ``zero_trip_exit``'s finding."""
    if isinstance(node, Decided):  # (and its Chosen)
        return search_message(node)
    return ("a loop ran zero times: its first test compared a value that cancels to rounding "
            "level (a residual of exactly 0, as where an iteration starts at its answer) "
            "with a tolerance it barely met; a change of the inputs as small as the tolerance "
            "would run the loop, so the gradient is that of the starting value, not of what "
            "the loop computes. Start the iteration elsewhere, or differentiate the solver "
            "with framead.implicit")
