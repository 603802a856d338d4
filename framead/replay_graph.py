"""What a replay (framead/replay.py) needs to know about a recorded graph: the value ids each
node reads, the size of the value list (the nodes the outputs and guards need and those the
reverse pass needs: framead/replay_passes.py), the forward nodes and guards in recorded order,
what each reverse block reads. Value ids index flag bytes (a compact set), not Python sets."""

from __future__ import annotations

import bisect
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .capture.primitive_rules import CONST_RULE
from .capture.recorder import FpNodes, watch_fp_state
from .ir import Graph, Node, Value, values_in
from .reverse_source import fused_kind


class Miss(Exception):
    """A cached trace's guard failed: the program would take another path on these inputs."""


class NotReplayable(Exception):
    """The graph holds a node framead cannot re-run (the reason names it and its line)."""


class Statics:
    """The constant arrays of a replay that hold the same bytes as a static argument of the
    call (``match(c)``: that argument's key, or None), read from the env instead of being
    kept: slots ``size``, ``size + 1``... (one per key and layout, ``keys``) that each call
    fills with its own argument (framead/cache.py), so a replay keeps no copy of them.
    Only while the replay is built: it holds each constant it was asked about (``seen``),
    so ids stay theirs."""

    def __init__(self, match: Callable[[np.ndarray], Any], size: int) -> None:
        self.match = match
        self.size = size
        self.keys: list[tuple[Any, str]] = []  # (match's key, "C" or "F"), slot - size
        self._slots: dict[tuple[Any, str], int] = {}
        self._seen: dict[int, tuple[Any, int | None]] = {}  # id -> (constant, slot)

    def slot(self, c: Any) -> int | None:
        """The env slot that holds ``c`` (an array) on each call, or None: not a static
        argument's bytes, or a layout neither C nor F (a call's argument is copied into the
        layout the trace read, so reductions sum in the recorded order)."""
        if type(c) is not np.ndarray:
            return None
        got = self._seen.get(id(c))
        if got is None:
            order = "C" if c.flags.c_contiguous else "F" if c.flags.f_contiguous else None
            key = None if order is None or c.dtype == object else self.match(c)
            slot = None
            if key is not None and order is not None:
                slot = self._slots.get((key, order))
                if slot is None:
                    slot = self._slots[key, order] = self.size + len(self.keys)
                    self.keys.append((key, order))
            got = self._seen[id(c)] = (c, slot)
        return got[1]

    def may_hold(self, x: Any, depth: int = 0) -> bool:
        """``holds`` without making a slot: whether ``x`` is or holds an array that is (or,
        unseen, may be) a static argument's bytes."""
        t = type(x)
        if t is np.ndarray:
            got = self._seen.get(id(x))
            return got[1] is not None if got is not None and got[0] is x else \
                x.dtype != object and self.match(x) is not None
        if depth < 8 and (t is list or t is tuple):
            return any(self.may_hold(v, depth + 1) for v in x)
        if depth < 8 and t is dict:
            return any(self.may_hold(v, depth + 1) for v in x.values())
        return False

    def holds(self, x: Any, depth: int = 0) -> bool:
        """Whether ``x`` (a constant: an array, or plain lists, tuples and dicts around
        arrays) is or holds an array read from a slot."""
        t = type(x)
        if t is np.ndarray:
            return self.slot(x) is not None
        if depth < 8 and (t is list or t is tuple):
            return any(self.holds(v, depth + 1) for v in x)
        if depth < 8 and t is dict:
            return any(self.holds(v, depth + 1) for v in x.values())
        return False


def input_ids(node: Node) -> tuple[int, ...]:
    """Ids of the Values ``node`` reads (``node.value_inputs()``), cheaply for plain
    arguments."""
    args = node.args
    if not node.kwargs:
        if len(args) == 2:  # (the commonest: a binary operator)
            a, b = args
            ta, tb = type(a), type(b)
            if ta is Value:
                if tb is Value:
                    return (a.id, b.id)
                if tb is not list and tb is not tuple:
                    return (a.id,)
            elif tb is Value and ta is not list and ta is not tuple:
                return (b.id,)
        ids = tuple(a.id for a in args if type(a) is Value)
        if len(ids) == len(args) or not any(type(a) in (list, tuple) for a in args):
            return ids
    return tuple(v.id for v in node.value_inputs())


def positional_ids(node: Node, ids: tuple[int, ...]) -> Any:
    """The ids of the Values among ``node``'s positional arguments (activity flows through
    those only); ``ids``: its ``input_ids``."""
    return [v.id for v in values_in(node.args)] if node.kwargs else ids


def env_size(graph: Graph, guards: tuple, ins: list) -> int:
    """One more than the largest value id the graph, its guards and its nodes' inputs
    (``ins``) name."""
    top = max((o.id for n in graph.nodes for o in n.outputs if o is not None), default=0)
    named = (*graph.inputs, *graph.outputs, *(v for g in guards for v in values_in(list(g[2]))))
    top = max(top, max((v.id for v in named if isinstance(v, Value)), default=0))
    return 1 + max(top, max((max(t) for t in ins if t), default=0))


def flags(size: int, ids: Any) -> bytearray:
    """One byte per value id (a compact set): 1 for ``ids``."""
    out = bytearray(size)
    for i in ids:
        out[i] = 1
    return out


def merge_guards(fpos: list[int], nodes: list[Node], guards: tuple) -> list:
    """The forward nodes (at graph positions ``fpos``) and the guards (tuples), in recorded
    order: a guard goes before the node it preceded when recorded."""
    if not guards:
        return list(nodes)
    gs = sorted(guards, key=lambda g: g[0])  # (stable: guards at one position keep order)
    out: list = []
    j = 0
    for pos, node in zip(fpos, nodes, strict=True):
        while j < len(gs) and gs[j][0] <= pos:
            out.append(gs[j])
            j += 1
        out.append(node)
    out += gs[j:]
    return out


def drop_primals(nodes: list) -> None:
    """Forget the recorded primals of ``nodes``' outputs (a consumed graph: the replay
    recomputes them), constants' kept."""
    for n in nodes:
        if n.rule is not CONST_RULE:
            for o in n.outputs:
                if o is not None:
                    o.primal = None


def reverse_reads(node: Node, inline: Any, uses: dict) -> list[Value]:
    """The Values whose primals ``node``'s reverse block reads (``inline``: its inline
    formulas; ``uses``: a memo of what formulas read)."""
    if inline is not None:  # only what the formulas of the traced arguments use
        traced = tuple(isinstance(a, Value) for a in node.args)
        used = uses.get((inline, traced))
        if used is None:
            text = " ".join(x for i, x in enumerate(inline) if x is not None and traced[i])
            used = uses[inline, traced] = (
                tuple(i for i, t in enumerate(traced) if t and f"{{{i}}}" in text),
                "{ans}" in text)
        out = [node.args[i] for i in used[0]]
        return out + [node.outputs[0]] if used[1] else out
    if fused_kind(node) is not None:  # (no inlined node is fused)
        return []
    out = [v for i, a in enumerate(node.args) if i in node.saved for v in values_in(a)]
    if "ans" in node.saved:
        out += [o for o in node.outputs if o is not None]
    return out


def broadcast_shape(args: tuple) -> tuple | None:
    """The shape NumPy broadcasts a node's ``args`` (Values and constants) to, or None."""
    try:
        return tuple(np.broadcast_shapes(*(tuple(a.shape) if type(a) is Value else np.shape(a)
                                           for a in args)))
    except (ValueError, TypeError):
        return None


# --- warnings: a replay warns nothing, or it is a miss (docs/internals.md, "Cached traces") --
# A replay re-runs the recorded operations only, from framead's frames: a warning it issued
# would name framead's lines, and the program's own warnings.warn calls do not run. So a
# trace whose capture issued a warning, or showed one, or left NumPy's error state or the
# warnings filters changed, is not cached (``CaptureWarnings``); and a replay's forward pass
# runs under ``GATE`` (every warning it issues raises, in this thread only, before it is
# shown or any registry notes it) and under NumPy error handling that raises where the
# native run would not be silent: the call's own, or, where the program set its own
# (np.errstate, np.seterr), the capture's at each operation (``FpPlan``, from the states the
# recorder noted). Either makes the call a miss (``Warned``), and the program then runs and
# warns (or raises) as natively.
#
# Python before 3.14 has no thread-local warnings filters (catch_warnings swaps the global
# list and showwarning for every thread): GATE is one entry first in the global list while a
# capture or replay runs in some thread (``gate_on``/``gate_off``; nothing is left after),
# inert (it matches nothing) in every thread that is not replaying or being watched. It is
# put (back) first without bumping the filters' version (no registry is reset). np.errstate
# is context-local (a ContextVar).
# Not seen: a warning the capture's run did not issue because the same one had been issued
# at the same place (the 'default'/'module'/'once' registries drop it before any filter).

class Warned(Miss):
    """A replay's forward pass would warn (or hit a floating-point error the program's NumPy
    error handling does not ignore): a miss; the program runs and warns itself."""


class _Gate:
    """The message matcher of ``GATE``: matches in a replaying thread (the filter's "error"
    raises the warning), notes the warning in a watched capture (the other filters decide)."""

    __slots__ = ()

    def match(self, text: str) -> bool:
        seen = getattr(_thread, "seen", None)
        if seen is None:
            return False
        seen.append(text)
        return _thread.gate

    def __repr__(self) -> str:
        return "<framead: a replay warns nothing>"


_thread = threading.local()  # .seen: the warnings' texts noted (None: off); .gate: replaying
_GATE_MATCH = _Gate()
GATE = ("error", _GATE_MATCH, Warning, None, 0)
_gate_lock = threading.Lock()


_gate_users = 0  # captures and replays running (every thread): GATE is in the list while > 0
_gated: list = []  # the filter lists GATE went into (catch_warnings swaps in copies)


def gate_on() -> None:
    """Put ``GATE`` first in ``warnings.filters`` (again where the program's filters went in
    front of it) for one more capture or replay; ``gate_off`` when it ends."""
    global _gate_users
    with _gate_lock:
        _gate_users += 1
        f = warnings.filters
        if type(f) is not list or (f and f[0] is GATE):
            return
        if GATE in f:
            _drop_gate(f)
        f.insert(0, GATE)
        if not any(g is f for g in _gated):
            _gated.append(f)


def gate_off() -> None:
    """One capture or replay ended: the last takes ``GATE`` out of every filter list it went
    into (a thread's catch_warnings may have put back a list holding it)."""
    global _gate_users
    with _gate_lock:
        _gate_users -= 1
        if _gate_users > 0:
            return
        _gate_users = 0
        f = warnings.filters
        for g in (*_gated, *([f] if type(f) is list else ())):
            if g and g[0] is GATE:
                del g[0]
            if GATE in g:
                _drop_gate(g)
        _gated.clear()


def _drop_gate(f: list) -> None:
    for k in range(len(f) - 1, -1, -1):
        if f[k] is GATE:
            del f[k]


_extobj_contextvar: Any
_make_extobj: Any
try:  # NumPy 2: the error state is a ContextVar holding an extobj
    from numpy._core import umath as _umath

    _extobj_contextvar, _make_extobj = _umath._extobj_contextvar, _umath._make_extobj
except (ImportError, AttributeError):  # pragma: no cover - older NumPy
    _extobj_contextvar = _make_extobj = None
_raising: dict = {}  # (the call's extobj, quiet) -> the extobj a replay of no FpPlan runs under


def _eff(mode: Any, quiet: bool) -> bool:
    """Whether an error of this mode is silent: ignored, or a warning every filter ignores
    (``quiet``: ``ignored(RuntimeWarning)``)."""
    return mode == "ignore" or (quiet and mode == "warn")


def _callers_modes(quiet: bool) -> dict:
    """The modes of a replay run under the call's own error state: its silent kinds ignored,
    every other kind raised (a miss)."""
    return {k: "ignore" if _eff(v, quiet) else "raise" for k, v in np.geterr().items()}


def _callers_extobj() -> Any:
    cur = _extobj_contextvar.get()
    quiet = ignored(RuntimeWarning)
    got = _raising.get((cur, quiet))
    if got is None:
        if len(_raising) > 64:
            _raising.clear()
        got = _raising[cur, quiet] = _make_extobj(**_callers_modes(quiet))
    return got


def modes_of(extobj: Any) -> dict:
    """The floating-point error modes (``np.geterr()``) of an extobj."""
    token = _extobj_contextvar.set(extobj)
    try:
        return dict(np.geterr())
    finally:
        _extobj_contextvar.reset(token)


class FpPlan:
    """The NumPy error state a cached capture ran under, segment by segment (from the
    recorder's ``FpNodes`` marks, capture/recorder.py), for its replays: ``states[s]``
    the modes of state ``s`` (0: the capture's entry state, that is the caller's: None),
    ``marks`` the (time, state) at which each segment starts, a time counting the nodes and
    guards recorded before it. ``same``: the program read the state (np.geterr, np.seterr's
    result...): a replay needs the call's modes to be the capture's (``entry``).

    A replay runs each segment under the modes the capture had there, every kind not silent
    (``_eff``) made "raise", so the replay misses where the native run would warn, print,
    call or raise (its FloatingPointError is then the program's own). A kind a segment has
    as the capture's entry state had it may be the caller's, inherited: it is silent in the
    replay only where the call's is too; a segment of the entry extobj itself (nothing set:
    ``with np.errstate`` left) follows the call's modes alone."""

    __slots__ = ("entry", "states", "marks", "same", "_tables")

    def __init__(self, entry: Any, marks: list, same: bool) -> None:
        self.entry = modes_of(entry), np.geterrcall()
        self.same = same
        self.states: list[Any] = [None]
        self.marks: list[tuple[int, int]] = []
        index: dict = {}
        s: Any
        for n, g, x in marks:
            if x is entry:
                s = 0
            else:
                m = modes_of(x)
                s = index.get(key := tuple(sorted(m.items())))
                if s is None:
                    s = index[key] = len(self.states)
                    self.states.append(m)
            if self.marks and self.marks[-1][0] == n + g:
                self.marks[-1] = (n + g, s)
            elif not self.marks or self.marks[-1][1] != s:
                self.marks.append((n + g, s))
        self._tables: dict = {}

    def table(self) -> list:
        """For this call (its error state and warnings filters): the extobj a replay runs
        each state under. ``Miss`` where the program reads the state and the call's is not
        the capture's."""
        cur = _extobj_contextvar.get()
        quiet = ignored(RuntimeWarning)
        got = self._tables.get((cur, quiet))
        if got is None:
            if self.same and (np.geterr(), np.geterrcall()) != self.entry:
                raise Miss("the program reads NumPy's error state, which differs from the "
                           "capture's")
            callers = _callers_modes(quiet)
            got = [_make_extobj(**callers)]
            entry = self.entry[0]
            for m in self.states[1:]:
                got.append(_make_extobj(**{k: "ignore" if _eff(v, quiet) and (
                    v != entry[k] or callers[k] == "ignore") else "raise"
                    for k, v in m.items()}))
            if len(self._tables) > 16:
                self._tables.clear()
            self._tables[cur, quiet] = got
        return got

    def switches(self, fpos: list[int], items: list) -> tuple[int, dict]:
        """For a replay's forward items (``merge_guards``; ``fpos``: the nodes' graph
        positions): the state of the first, and {item index: state} where it changes."""
        times = [t for t, _ in self.marks]
        out: dict = {}
        first = cur = 0
        g = p = 0
        for k, x in enumerate(items):
            if type(x) is tuple:  # a guard: recorded after the nodes before its position
                t = g + x[0]
                g += 1
            else:
                t = g + fpos[p]
                p += 1
            j = bisect.bisect_right(times, t) - 1
            s = self.marks[j][1] if j >= 0 else 0
            if k == 0:
                first = s
            elif s != cur:
                out[k] = s
            cur = s
        return first, out


def fp_at(s: int) -> None:
    """A replay's switch to state ``s`` of its FpPlan (the table ``gated`` made)."""
    _extobj_contextvar.set(_thread.fp[s])


def run_fp_at(e: list, s: int, _b: Any, _o: Any) -> None:
    """``fp_at`` as a forward step (framead/replay_steps.py F_CALL)."""
    _extobj_contextvar.set(_thread.fp[s])


def ignored(category: type) -> bool:
    """Whether the warnings filters (``GATE`` aside) ignore every warning of ``category``
    and its subclasses: shown nowhere, raised nowhere, noted in no registry."""
    try:
        cat: Any
        for action, msg, cat, mod, ln in warnings.filters:
            if msg is _GATE_MATCH or not (issubclass(category, cat) or
                                          issubclass(cat, category)):
                continue
            if msg is None and mod is None and not ln and issubclass(category, cat):
                return action == "ignore"
            if action != "ignore":
                return False
        return getattr(warnings, "defaultaction", "default") == "ignore"
    except (TypeError, ValueError):  # (filters that are not the 5-tuples warnings makes)
        return False


def gated(run: Callable[[], Any], plan: FpPlan | None = None, first: int = 0) -> Any:
    """``run()`` (a replay's forward pass) under ``GATE`` and NumPy error handling that
    raises for every kind of floating-point error that is not silent: the call's (``plan``
    None), or each segment's of the capture (``plan``; ``first``: the state the replay
    starts in, ``fp_at`` switches); ``Warned`` where it would warn."""
    table = plan.table() if plan is not None and _extobj_contextvar is not None else None
    gate_on()
    mine = _thread.__dict__  # (this thread's)
    outer = mine.get("seen"), mine.get("gate", False), mine.get("fp")
    seen: list = []
    mine["seen"], mine["gate"], mine["fp"] = seen, True, table
    token = None
    try:
        if _extobj_contextvar is not None:
            token = _extobj_contextvar.set(table[first] if table is not None else
                                           _callers_extobj())
            out = run()
        else:  # pragma: no cover - older NumPy
            with np.errstate(**_callers_modes(ignored(RuntimeWarning))):
                out = run()
    except FloatingPointError as e:
        raise Warned(f"a floating-point error in the replay ({e})") from None
    except Exception as e:
        if seen:
            raise Warned(f"the replay warned: {type(e).__name__}: {seen[0]}") from None
        raise
    finally:
        if token is not None:
            _extobj_contextvar.reset(token)
        mine["seen"], mine["gate"], mine["fp"] = outer
        gate_off()
    if seen:  # (a warning raised and caught inside a function the replay called)
        raise Warned(f"the replay warned: {seen[0]}")
    return out


class CaptureWarnings:
    """``with CaptureWarnings() as w:`` around a capture: ``w.reason`` is why its trace must
    not be replayed (a warning issued or shown, NumPy's error state or the warnings filters
    left changed), or None; ``w.quiet``: warnings were issued, all ignored (a replay needs
    every warning still ignored, ``ignored(Warning)``); ``w.reads_fp``: the program read
    NumPy's error state (np.geterr, np.seterr...). The capture's recorder notes the error
    state as it records (``FpNodes``), made an ``FpPlan`` by ``plan``."""

    def __enter__(self) -> CaptureWarnings:
        gate_on()
        self.reason: str | None = None
        self.reads_fp = self.quiet = False
        self._outer = getattr(_thread, "seen", None), getattr(_thread, "gate", False)
        self._fp = np.geterr(), np.geterrcall()
        self._filters = [x for x in warnings.filters if x is not GATE]
        self.seen: list = []
        _thread.seen, _thread.gate = self.seen, False
        self._watch = watch_fp_state(True)
        return self

    def __exit__(self, *exc: Any) -> None:
        watch_fp_state(self._watch)
        _thread.seen, _thread.gate = self._outer
        gate_off()
        if self.seen and not ignored(Warning):
            self.reason = f"a warning was issued during the capture ({self.seen[0]!r})"
        elif (np.geterr(), np.geterrcall()) != self._fp:
            self.reason = "the program changed NumPy's error handling (np.seterr)"
        elif [x for x in warnings.filters if x is not GATE] != self._filters:
            self.reason = "the program changed the warnings filters"
        elif self.seen:  # (every warning ignored: its replays need that still, ``quiet``)
            self.quiet = True

    def check_codes(self, codes: list) -> None:
        """What the code objects that ran tell: a warning shown (past filters the program
        put in front of ``GATE``), NumPy's error state read (np.geterr, np.seterr...)."""
        for c in codes:
            name, file = c.co_name, c.co_filename
            if file == _WARNINGS_FILE and name in _SHOWING and self.reason is None:
                self.reason = "a warning was shown during the capture"
            elif file == _WARNINGS_FILE and name in _FILTERING and self.reason is None:
                # (a replay runs none of it: the warnings the program silences would miss)
                self.reason = f"the program set warnings filters (warnings.{name})"
            elif file == _UFUNC_CONFIG_FILE and name in _READING:
                self.reads_fp = True

    def plan(self, rec: Any) -> FpPlan | None:
        """The error state the capture of ``rec`` (its recorder) ran under, for its replays;
        None: the call's own throughout (the program set none and read none)."""
        nodes = getattr(rec, "nodes", None)
        if type(nodes) is not FpNodes or not (nodes.marks or self.reads_fp):
            return None
        return FpPlan(nodes.entry, nodes.marks, self.reads_fp)


_WARNINGS_FILE = warnings.__file__
_SHOWING = frozenset({"_showwarnmsg", "showwarning", "_showwarnmsg_impl", "_formatwarnmsg"})
_FILTERING = frozenset({"simplefilter", "filterwarnings", "resetwarnings", "_add_filter"})
_UFUNC_CONFIG_FILE = getattr(sys.modules.get("numpy._core._ufunc_config"), "__file__", None)
# the functions whose result is the error state in force (seterr's and seterrcall's: the old)
_READING = frozenset({"geterr", "seterr", "geterrcall", "seterrcall"})
