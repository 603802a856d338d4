"""FA102 for a value a search chose by comparisons, read as a constant (Recorder.finish).

A converged search (bisection, golden section, ternary, regula falsi, Nelder-Mead) compares
traced values until its comparisons are near-ties of work that reaches no output, and returns
a value the derivative sees as a constant (``0.5 * (lo + hi)`` of untraced floats).

First order (``chosen_exit``): a root, or a minimiser's argument, read with another path to
the input (``x* + t``) loses dx*/dt. Reported where (a) a search converged (as below), (b) a
node reaching the result after it reads a constant (not a literal, nor a parameter) whose
outputs' tangent is not zero, nor that of a stationary point (a minimiser's value written
inline: ``(x* - t) ** 2``), and (c) nothing reaching the result was made at an instruction of
the search's own evaluations: a Newton or secant step from the bracket, or a minimiser's
value ``f(x*, t)``, evaluates the searched function again at x*, and its constants move
together (``m - g(m, t) / g'(m)`` reads x* and ``m ** 3 + m``, tangents +-1/g' that cancel:
a tangent per constant, tried alone in f24763c, reported them); for a minimiser's ``f(x*, t)``
its reads elsewhere are still judged (``f(x*, t) + x*``). Each search is judged
(``_searches``): two in a call, one per pass of a loop (the C probe keeps their tails).

Second order (``decided_exit``): after a nested capture's inputs, any such constant read by a
node that reaches the result (the first derivative may be right; its derivative is not).
"""

from __future__ import annotations

import dis
import gc
import operator
import os
import types
import weakref
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

import numpy as np

from framead.ir import Node, Value

from .primitive_rules import COPY_RULE, SETITEM_RULE
from .sourceloc import resolve_where

__all__ = ["Chosen", "Decided", "chosen_exit", "decided_exit", "search_message"]

_SCALARS = (float, int, np.float64, np.float32)
_ADD_IDS = frozenset(map(id, (operator.add, operator.iadd, operator.sub, operator.isub,
                              np.add, np.subtract)))


def ids(xs: tuple) -> set[int]:
    """The ids of the Values among xs (and in lists and tuples among them: sum's items)."""
    out = set()
    for x in xs:
        if type(x) is Value:
            out.add(x.id)
        elif type(x) in (list, tuple):
            out.update(y.id for y in x if type(y) is Value)
    return out


def size(x: Any) -> float:
    """The largest magnitude in x; NaN where it is not known (an array whose primal was not
    kept: nothing is then judged a cancellation)."""
    p = x.primal if type(x) is Value else x
    if type(p) in _SCALARS:
        return abs(float(p))
    if isinstance(p, np.ndarray) and p.dtype.kind in "fiu" and p.size:
        return float(np.max(np.abs(p)))
    return float("nan")


_ids, _size = ids, size

# --- second order -------------------------------------------------------------------------
# min over x of f(x, t) by golden section, bisection, ternary search: the first derivative is
# right (envelope theorem); a nested derivative (hessian, grad of grad, jacfwd / jvp of grad)
# reads the chosen x* as a constant and loses d(df/dt)/dx * dx*/dt. Seen after a nested
# capture's inputs (COPY_RULE nodes): a near-tie comparison of work made afresh that reaches
# no output (the search's evaluations), then a node the outputs depend on reading a constant
# near the points the search varied, not a literal. Newton's iterates (live), a grid's argmin
# (no tie) and a gradient that reads no x* stay silent.

SEARCH_TIE = 1e-7  # a comparison whose margin is at most this times its operands' size
NEAR = 1e-6  # a constant this close (relative) to a point the search evaluated is its choice
SEARCH_WALK = 256  # nodes of one evaluation between two comparisons, at most
ZERO = 1e-12  # a tangent in the choice at most this (times max(|x*|, 1)) reads it times 0


class Decided(Node):
    """The operand of a search's comparison (located there) whose choice a nested
    derivative reads as a constant."""

    __slots__ = ()


def _points(args: Any) -> list:
    """The float constants (scalars, float arrays) among a node's arguments."""
    out: list[Any] = []
    for a in args:
        if (type(a) is float or isinstance(a, np.floating)) and a:  # (0.0: a zero factor)
            out.append(float(a))
        elif type(a) is np.ndarray and a.dtype.kind == "f" and a.size:
            out.append(a)
    return out


def _near(u: Any, c: Any) -> bool:
    if isinstance(u, float) and isinstance(c, float):
        return u == c or abs(u - c) <= NEAR * max(abs(u), abs(c))
    if isinstance(u, np.ndarray) and isinstance(c, np.ndarray) and u.shape == c.shape:
        with np.errstate(all="ignore"):
            return bool(np.all(np.abs(u - c) <= NEAR * np.maximum(np.abs(u), np.abs(c))))
    return False


def _literals(node: Node) -> set[float]:
    """The float literals of the code the node ran in (its innermost frame's)."""
    frames = getattr(getattr(node, "_loc", None), "frames", None)
    if type(frames) is not tuple or not frames:
        return set()
    return {float(k) for k in frames[0][0].co_consts if type(k) in (float, int)}


def _margin(window: list, dist: float) -> bool:
    """Whether a comparison ``dist`` apart, made after the evaluation ``window`` (its nodes),
    is a near-tie of the sizes the evaluation computed with (f(c) < f(d) near the minimum of
    ``(x - t) ** 2``: both are rounding residue of the cancelling ``x - t``)."""
    sizes = [_size(a) for n in window for a in (*n.args, *n.outputs)
             if type(a) is Value or type(a) in _SCALARS]
    scale = max((z for z in sizes if z == z), default=0.0)
    return 0 < scale < float("inf") and dist <= SEARCH_TIE * scale


def _chosen(u: Any, groups: list) -> bool:
    """``u`` is near a point of the search, or inside one instruction's latest points (the
    bracket it closed on: a minimiser at 0 is near none of them in relative terms)."""
    for g in groups:
        if any(_near(u, c) for c in g):
            return True
        if isinstance(u, float) and all(isinstance(c, float) for c in g):
            tol = NEAR * max(map(abs, g))
            if min(g) - tol <= u <= max(g) + tol:
                return True
    return False


def _key(n: Node) -> tuple | None:
    """The node's instruction (its innermost frame's code and offset)."""
    frames = getattr(getattr(n, "_loc", None), "frames", None)
    return (id(frames[0][0]), frames[0][1]) if type(frames) is tuple and frames else None


def _varying(nodes: list, ats: list[int], start: int, at: int) -> dict[tuple, list]:
    """The constants the search's evaluations read, by instruction and argument (up to 8
    distinct: its points where they differ between evaluations; a parameter's: one)."""
    seen: dict[tuple, list] = {}
    lo = max(start + 1, at - 4 * SEARCH_WALK)
    for n in reversed(nodes[lo:at]):  # (the latest: nearest the choice)
        key = _key(n)
        if key is None:
            continue
        for k, a in enumerate(n.args):
            for c in _points((a,)):
                vals = seen.setdefault((key, k), [])
                if len(vals) < 8 and not any(c is v or _same(c, v) for v in vals):
                    vals.append(c)
    return seen


def _same(a: Any, b: Any) -> bool:
    return a == b if isinstance(a, float) and isinstance(b, float) else \
        type(a) is type(b) is np.ndarray and a.shape == b.shape and bool(np.all(a == b))


_NEXT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # code -> [(offset, op)]
_ENDS = ("COMPARE_OP", "CALL", "STORE_", "RETURN", "POP_JUMP", "YIELD")


def _comparison_after(node: Node) -> Node:
    """``node`` located at the comparison after it: the innermost frame whose next compare,
    call, store, jump or return is a comparison (``f(c) < f(d)``, not a test inside f)."""
    frames = getattr(getattr(node, "_loc", None), "frames", None)
    if type(frames) is not tuple:
        return node
    for k, (code, lasti) in enumerate(frames):
        ops = _NEXT.get(code)
        if ops is None:
            ops = _NEXT[code] = [(i.offset, i.opname) for i in dis.get_instructions(code)
                                 if i.opname.startswith(_ENDS)]
        nxt = next((op for op in ops if op[0] > lasti), None)
        if nxt is not None and nxt[1] == "COMPARE_OP":
            loc = resolve_where(((code, nxt[0]), *frames[k + 1:]))
            return Node(node.rule, node.args, node.kwargs, node.outputs, loc)
    return node


def decided_exit(nodes: list, cmps: list, live_of: Callable[[], set[int]],
                 outputs: list | None = None) -> Node | None:
    """A search's comparison whose choice a nested derivative reads as a constant (with a
    tangent of ``outputs`` in it that is not zero), or None."""
    start = next((k for k, n in enumerate(nodes) if n.rule is COPY_RULE), None)
    if start is None:
        return None
    live: set[int] | None = None
    ats = sorted({at for at, _ in cmps if start < at <= len(nodes)})
    tied = {at for run in _searches(nodes, cmps, live_of) for at in run}
    for at, dist in reversed(cmps):
        if not start < at <= len(nodes) or at not in tied:
            continue
        prev = max((a for a in ats if a < at), default=start)
        window = nodes[max(prev, start + 1, at - SEARCH_WALK):at]
        if not window or not _margin(window, dist):
            continue
        if live is None:
            live = live_of()
        if any(_ids(n.outputs) & live for n in window):
            continue  # (the test's work reaches the result: Newton's iterates)
        varying = _varying(nodes, ats, start, at)
        points = [vals for vals in varying.values() if len(vals) > 1]
        if not points:
            continue
        for j in range(at, len(nodes)):
            n = nodes[j]
            if not _ids(n.outputs) & live:
                continue
            literals, key = _literals(n), _key(n)
            for k, a in enumerate(n.args):
                us = _points((a,))
                if not us or isinstance(us[0], float) and us[0] in literals and \
                        len(varying.get((key, k), ())) < 2:
                    continue  # (a literal, not read where the search's points were: x ** 2)
                if _chosen(us[0], points) and _reaches(nodes, a, live, outputs):
                    m = _comparison_after(nodes[at - 1])
                    return Decided(m.rule, m.args, m.kwargs, m.outputs, m._loc)
    return None


def _reaches(nodes: list, a: Any, live: set[int], outputs: list | None) -> bool:
    """Whether the outputs' tangent in the constant ``a`` (every live node's read of it) is
    not zero (``(x - 0.0 * t) ** 2``: its gradient in t reads x* times 0); True
    where it cannot be told."""
    if outputs is None:
        return True
    reads: dict[int, set[int]] = {}
    for i in range(len(nodes)):  # (every live read: the forward pass's may come before a
        if _ids(nodes[i].outputs) & live:  # comparison of the reverse pass, and cancel it)
            for k, b in enumerate(nodes[i].args):
                if b is a:
                    reads.setdefault(i, set()).add(k)
    tans = _tangents(nodes, reads, live, 0.0, outputs)
    scale = max(float(np.max(np.abs(a))), 1.0)
    return tans is None or any(np.any(np.abs(t) * scale > ZERO) for t in tans)


# --- first order ----------------------------------------------------------------------------

def _abs(x: Any) -> Any:
    return np.abs(x) if isinstance(x, np.ndarray) else abs(x)


def _jvp(rule: Any, ts: tuple, o: Any, ps: tuple, kwargs: dict) -> Any:
    """The rule's JVP (copy's and setitem's made here); ValueError where it has none."""
    if rule is COPY_RULE:
        return ts[0]
    if rule is SETITEM_RULE:
        t = np.array(ts[0] if ts[0] is not None else np.zeros_like(o), dtype=np.float64)
        t[ps[1]] = ts[2] if ts[2] is not None else 0.0
        return t
    if getattr(rule, "jvp", None) is None and not getattr(rule, "cut", False):
        raise ValueError(rule)
    return rule.call_jvp(ts, o, ps, kwargs)


def _tangents(nodes: list, reads: dict[int, set[int]], live: set[int], h: float,
              outs: list[Any], seed: tuple[int, int] | None = None) -> list | None:
    """The outputs' tangents in the constant read at ``reads`` (node -> argument positions),
    the constant moved by ``h`` (the nodes it reaches computed again), or in the value
    ``seed`` (its maker's index and id); None where a node cannot tell (no primal, no JVP,
    not made again)."""
    tan: dict[int, Any] = {} if seed is None else {seed[1]: 1.0}
    val: dict[int, Any] = {}  # the values computed again (h != 0)
    for j in range(min(reads) if seed is None else seed[0] + 1, len(nodes)):
        n = nodes[j]
        if not _ids(n.outputs) & live:
            continue
        seeds = reads.get(j, ())
        ts = tuple(tan.get(a.id) if type(a) is Value else np.ones_like(a) if k in seeds and
                   type(a) is np.ndarray else 1.0 if k in seeds else None
                   for k, a in enumerate(n.args))
        if all(t is None for t in ts):
            continue
        if n.multi or len(n.outputs) != 1 or type(n.outputs[0]) is not Value or \
                n.rule is None or any(type(a) in (list, tuple) and _ids((a,)) for a in n.args) or \
                any(type(a) is Value and a.primal is None for a in n.args) or \
                n.outputs[0].primal is None:
            return None
        out = n.outputs[0]
        ps = tuple(val.get(a.id, a.primal) if type(a) is Value else a + h if k in seeds else a
                   for k, a in enumerate(n.args))
        try:
            with np.errstate(all="ignore"):
                o = out.primal if not h else n.rule.fn(*ps, **n.kwargs)
                t = _jvp(n.rule, ts, o, ps, n.kwargs)
        except Exception:  # noqa: BLE001 (a rule that cannot say: no judgement)
            return None
        tan[out.id] = 0.0 if t is None else t
        val[out.id] = o
    return [np.asarray(tan[o.id], dtype=np.float64) for o in outs
            if type(o) is Value and o.id in tan]


STATIONARY = 1e-4  # a tangent whose zero is this near (times max(|u|, 1)) is a minimiser's
STEP = 1e-3  # the constant moved by this (times max(|u|, 1)) gives the tangent's slope
CANDIDATES = 4  # suspected constants whose tangent is taken, at most, a capture
CLOSE = 1e-3  # two of a search's latest points this close (relative) show it closed in
CARRY = 1e-6  # a tangent in g(x*) at most this (times |result| / the search's size) is 0
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_OWN = tuple(os.path.join(_ROOT, d) + os.sep for d in ("framead", "capture", "rules"))


class Chosen(Decided):
    """The operand of a search's comparison (located there) whose choice, a constant of the
    trace, the result depends on with a non-zero derivative (first order)."""

    __slots__ = ()


def _own(n: Node) -> bool:
    """Whether the node ran in framead's code or in generated code (a nested derivative's:
    its constants are the rules' own, ``2 * c`` for ``c * t ** 2``)."""
    frames = getattr(getattr(n, "_loc", None), "frames", None)
    return type(frames) is tuple and bool(frames) and \
        frames[0][0].co_filename.startswith((*_OWN, "<"))


def _tie(nodes: list, ats: list[int], at: int, dist: float, live: Callable[[], set[int]]) -> bool:
    """Whether the comparison at node count ``at`` is a near-tie of work reaching no output."""
    if not 0 < at <= len(nodes):
        return False
    k = bisect_left(ats, at)
    window = nodes[max(ats[k - 1] if k else 0, at - SEARCH_WALK):at]
    if not window or not _margin(window, dist):
        return False
    seen = live()
    return not any(_ids(n.outputs) & seen for n in window)


def _searches(nodes: list, cmps: list, live: Callable[[], set[int]]) -> list[list[int]]:
    """The node counts of each converged search's near-tie comparisons, oldest first: a run
    of at least two, ended by a comparison that is not one (two searches in a call, one per
    pass of a loop: the C probe keeps each one's tail; a lone tie, f(-a) == f(a) at a
    symmetric start, is no search's end)."""
    ats = sorted({at for at, _ in cmps if 0 < at <= len(nodes)})
    out: list[list[int]] = [[]]
    for at, dist in cmps:
        if _tie(nodes, ats, at, dist, live):
            out[-1].append(at)
        elif out[-1]:
            out.append([])
    runs: list[list[int]] = []
    for run in out:  # (runs with no work reaching the result between: one search's tail)
        if runs and run and not any(_ids(n.outputs) & live() for n in nodes[runs[-1][-1]:run[0]]):
            runs[-1].extend(run)
        elif run:
            runs.append(run)
    return [run for run in runs if len(run) > 1]


def _parameters(nodes: list, end: int) -> set[float]:
    """Float constants read before ``end`` unchanged where they are read (a parameter of the
    program: ``w`` in ``w * (x - t) ** 2``, read at each evaluation of a search)."""
    seen: dict[tuple, set[float]] = {}
    for n in nodes[:end]:
        for k, a in enumerate(n.args):
            if type(a) is float or isinstance(a, np.floating):
                seen.setdefault((_key(n), k), set()).add(float(a))
    return {next(iter(v)) for v in seen.values() if len(v) == 1}


def _tangent_lost(nodes: list, reads: dict[int, set[int]], live: set[int], u: float,
                  outs: list[Any]) -> bool:
    """Whether the outputs' derivative in the constant ``u`` read at ``reads`` is not zero:
    more than STATIONARY of u's scale from zero along its own slope (a minimiser's objective
    value, at x* found to the search's precision, is a stationary point: ``2 w (x - t)`` at
    x = t + 1e-9 is 1e-9 of its slope 2 w from zero). False where a node cannot tell."""
    h = STEP * max(abs(u), 1.0)
    t0, t1 = _tangents(nodes, reads, live, 0.0, outs), _tangents(nodes, reads, live, h, outs)
    if not t0 or t1 is None or len(t1) != len(t0):
        return False
    for a, b in zip(t0, t1, strict=True):
        if a.shape == b.shape and np.any(
                np.abs(a) > STATIONARY * max(abs(u), 1.0) * np.abs((b - a) / h)):
            return True
    return False


def _stored(u: Any) -> bool:
    """Whether the float ``u`` is held by a cell, a dict, a function or an object (a parameter
    of the program, read only after the search), not only by the trace (a value the search
    made: the frame that made it has returned). One walk of the collector's objects: run only
    for a constant whose tangent would be reported."""
    for r in gc.get_referrers(u):
        if isinstance(r, (types.CellType, dict, types.FunctionType, types.ModuleType)) or \
                not isinstance(r, (list, tuple, types.FrameType)):
            return True
    return False


def _clustered(vals: list) -> bool:
    """Whether two of a search's latest points (one instruction's) are within CLOSE of each
    other: a bracket closed in on its choice (an Armijo line search's steps, 2 ** -k, never
    are: the step it chose is a discrete choice, locally constant)."""
    fs = sorted(float(v) for v in vals if isinstance(v, float))
    return any(0 < b - a <= CLOSE * max(abs(a), abs(b)) for a, b in zip(fs, fs[1:], strict=False))


def _compared(window: list, live: set[int]) -> list[float]:
    """The scalar values the search's last evaluation ended in (made in ``window``, read by
    none of its later nodes nor the result): the operands of its comparison."""
    read = set()
    for n in window:
        read |= _ids(n.args)
    return [float(o.primal) for n in window for o in n.outputs
            if type(o) is Value and o.id not in read and o.id not in live and
            type(o.primal) in _SCALARS]


def _at_choice(n: Node, varying: dict[tuple, list]) -> bool:
    """Whether ``n``, at an instruction of the search's evaluations, evaluates there at this
    search's choice: a constant it reads is near that instruction's latest points (another
    search's evaluation at the same code, at its own choice, is not; nor is a node of it that
    reads no constant, ``r ** 2``: the one that does is judged)."""
    key = _key(n)
    for k, a in enumerate(n.args):
        pts = varying.get((key, k), ())
        if len(pts) > 1 and any(_chosen(u, [pts]) for u in _points((a,))):
            return True
    return False


def _evaluated_again(nodes: list, lo: int, evals: set, live: set[int], window: list,
                     outs: list[Any], varying: dict[tuple, list]) -> int:
    """(c) Whether the result is made from the searched function evaluated again at the
    choice: a node reaching it made at an instruction of the search's evaluations (a Newton
    step ``m - g(m, t) / g'(m)``, a secant, ``f(x*, t)``), or whose value is the value the
    search compared last (the same function written inline: ``(x* - a) ** 2 + x* ** 4``,
    ``m - (m ** 3 + m - c) / g'(m)``) and carries a derivative to the result (``(x* - t) **
    2 + x*`` after a search of ``2 (x - t)``: its ``x* - t`` is such a value times 0): 1; 2
    where the node is at the instructions of a minimiser's evaluations (its reads elsewhere
    are still judged: ``f(x*, t) + x*``); 0 where it is not."""
    ends = _compared(window, live)
    sizes = [_size(a) for n in window for a in (*n.args, *n.outputs)
             if type(a) is Value or type(a) in _SCALARS]
    tol = SEARCH_TIE * max((z for z in sizes if z == z), default=0.0)
    points = [vals for vals in varying.values() if _clustered(vals)]  # (this search's)
    for i in range(lo, len(nodes)):
        n = nodes[i]
        if not _ids(n.outputs) & live:
            continue
        if _key(n) in evals and _at_choice(n, varying):  # (a minimiser's f(x*, t), its value
            return 2 if ends and all(abs(e) > tol for e in ends) and any(  # the compared one:
                abs(float(o.primal) - e) <= tol for m in nodes[i:] if _key(m) in evals and
                _ids(m.outputs) & live for o in m.outputs if type(o) is Value and
                type(o.primal) in _SCALARS for e in ends) else 1  # its other reads are judged)
        reads_choice = None  # (made only for a value near a compared ~0: it costs)
        for o in n.outputs:  # (a residual of ~0 read from x* itself, not any small term)
            if type(o) is not Value or type(o.primal) not in _SCALARS:
                continue
            near = [e for e in ends if abs(float(o.primal) - e) <= tol]
            if near and all(abs(e) <= tol for e in near):
                if reads_choice is None:
                    reads_choice = any(float(a) not in _literals(n) and _chosen(a, points)
                                       for a in _points(n.args) if isinstance(a, float))
                near = near if reads_choice else []
            if near:
                tans = _tangents(nodes, {}, live, 0.0, outs, (i, o.id))
                if tans is None or any(np.any(np.abs(t) * tol > CARRY * SEARCH_TIE * max(
                        _size(u), 1.0)) for t, u in zip(tans, outs, strict=False)):
                    return 1
    return 0


def chosen_exit(nodes: list, cmps: list, live_of: Callable[[], set[int]],
                outs: list[Any]) -> Node | None:
    """A converged search's comparison whose chosen constant the result depends on with a
    non-zero derivative, the searched function not evaluated again for the result (first
    order: the module docstring), or None. Each search is judged, the newest first."""
    runs = _searches(nodes, cmps, live_of)
    for k in range(len(runs) - 1, -1, -1):  # (after the search before: its points are not
        after = runs[k - 1][-1] if k else -1  # this one's, nor is its polish)
        until = runs[k + 1][0] if k < len(runs) - 1 else len(nodes)
        found = _chosen_exit(nodes, cmps, live_of(), outs, runs[k], after, until)
        if found is not None:
            return found
    return None


def _searched(nodes: list, last: int, live: set[int], fed: list[set[int]]) -> set[int]:
    """The values that work reaching no output reads after node ``last`` (a later search's
    evaluations), made once into ``fed``."""
    if not fed:
        fed.append(set())
        for n in nodes[last:]:
            if not _ids(n.outputs) & live:
                fed[0] |= _ids(n.args)
    return fed[0]


def _chosen_exit(nodes: list, cmps: list, live: set[int], outs: list[Any],
                 run: list[int], after: int, until: int) -> Node | None:
    """chosen_exit for the search whose near-ties are the comparisons at the node counts
    ``run``, made after node ``after``, for the constants read before node ``until`` (the
    next search's ties: a read after them is judged with it) and not where a later search's
    evaluations read (its input: ``c * 1.25``)."""
    ats = sorted({at for at, _ in cmps if 0 < at <= len(nodes)})
    first, last = run[0], run[-1]
    varying = _varying(nodes, ats, after, last)
    if not any(_clustered(v) for v in varying.values()):
        return None  # (no bracket closed in: a line search's step, a grid's point)
    prev = max((a for a in ats if a < last), default=0)
    window = nodes[max(prev, last - SEARCH_WALK):last]
    fed: list[set[int]] = []
    evals = {_key(n) for a, b in zip(run, run[1:], strict=False) for n in nodes[a:b]
             [-SEARCH_WALK:] if not _ids(n.outputs) & live} - {None}  # (its evaluations')
    again = _evaluated_again(nodes, max(0, after, first - SEARCH_WALK), evals, live, window,
                             outs, varying)
    if again == 1:
        return None
    reads: dict[int, tuple[list, dict[int, set[int]]]] = {}  # (not keyed by the floats:
    params: set[float] | None = None  # see _stored)
    for j in range(first, until):
        n = nodes[j]
        if not _ids(n.outputs) & live or _own(n) or \
                again and _key(n) in evals and _at_choice(n, varying):
            continue  # (a minimiser's f(x*, t): right; f(x* + 1, t) is judged)
        for k, a in enumerate(n.args):
            if not (type(a) is float or isinstance(a, np.floating)) or not a or \
                    float(a) in _literals(n):
                continue
            if params is None:
                params = _parameters(nodes, last)
            if float(a) in params or id(a) not in reads and len(reads) >= CANDIDATES or \
                    until < len(nodes) and _ids(n.outputs) & _searched(nodes, last, live, fed):
                continue
            reads.setdefault(id(a), ([a], {}))[1].setdefault(j, set()).add(k)
    for u, r in reads.values():
        if _tangent_lost(nodes, r, live, float(u[0]), outs) and not _stored(u[0]):
            m = _comparison_after(nodes[last - 1])
            return Chosen(m.rule, m.args, m.kwargs, m.outputs, m._loc)
    return None


def search_message(node: Node) -> str:
    """FA102's message for ``decided_exit``'s and ``chosen_exit``'s findings."""
    if type(node) is Chosen:
        return ("the result depends on a value chosen by comparisons of traced values (a "
                "search: bisection, golden section, ternary...) that converged at this line, "
                "and reads it as a constant: the term from its own dependence on the inputs "
                "is lost (a minimiser's objective value, or a Newton step that evaluates the "
                "searched function again there, keeps a right gradient). Use framead.implicit "
                "on the condition the value solves, or a differentiable formulation")
    return ("a higher-order derivative (hessian, grad of grad, jacfwd or jvp of grad) "
            "reads a value chosen by comparisons of traced values (a search: golden "
            "section, bisection, ternary, Nelder-Mead...) that converged at this line: "
            "to the nested derivative the chosen value is a constant, so the term from "
            "its own dependence on the inputs is lost (the first-order gradient may be "
            "right, by the envelope theorem; its derivative is not). Differentiate the "
            "optimality condition with framead.implicit, or take second derivatives "
            "with the minimiser as an explicit input")
