"""A capture session: the hook installed and enabled for this thread, probes reporting to a
recorder."""

from __future__ import annotations

import contextlib
import functools
import gc
import math
import os
import sys
import threading
import weakref
from collections.abc import Callable
from types import CodeType
from typing import Any

import numpy as np

from framead import rules

from . import _evalframe as C
from .buffers import STRIDED_BASE
from .call_kinds import Kind, configure_flags, solver_sources, with_kind
from .handlers import fast_record_state
from .opcodes_common import DICT_ADD, SET_ADD, SET_BUILD, SET_UPDATE
from .recorder import Recorder
from .rewriter import instrument, is_instrumented, probes_from, refuse_reason
from .sourceloc import MAX_FILES, PACKAGE_DIRS, is_framead_file, release_frames

rules.set_capture_test(C.is_enabled)  # a rule may ask whether a capture runs on this thread

# held only while the callable-flag tables change (reentrant: a signal handler or finalizer
# running in this thread may itself call grad)
_flags_lock = threading.RLock()
_flags_key: list = [None]
# decide()'s answers by id(code), for as long as the code object lives (weak: code of eval'd or
# exec'd functions must not outlive them); the instrumented copy holds no reference to it.
# Entry: (weak reference, instrumented copy or None, why the rewriter refused it or None).
_rewritten: dict[int, tuple[weakref.ref, CodeType | None, str | None]] = {}


_UNCHANGED = compile("", "<framead: nothing to instrument>", "exec")  # kept without the code


def _remember(code: CodeType, new: CodeType | None, why: str | None = None) -> None:
    key = id(code)
    # the callback is C calling C (dict.pop through partial): no Python frame that a
    # profiler or tracer would see when the program's code object dies
    _rewritten[key] = (weakref.ref(code, functools.partial(_rewritten.pop, key)), new, why)


def _skip(code: CodeType) -> bool:
    name = code.co_filename
    if name.startswith("<frozen"):
        return True
    if is_framead_file(name):
        return not (C.visible_depth() and _is_differentiable_internal(name))
    return False


# --- higher order: framead's own derivative code made visible to an outer capture ---------
# While a nested grad replays its reverse pass under an outer capture (framead/replay.py),
# the rules' VJPs and the reverse pass's helpers are instrumented like user code, so the outer
# capture records what they compute and can differentiate it again. Per thread (a C counter:
# `with internals_visible():` enters and leaves with no window for a signal).
# the rules package and the reverse pass's modules, wherever framead is installed
_DIFFERENTIABLE_INTERNALS = (*PACKAGE_DIRS["rules"], *(
    d + f for d in PACKAGE_DIRS["framead"]
    for f in ("reverse.py", "replay.py", "transforms.py", "forward.py")))


def _is_differentiable_internal(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_DIFFERENTIABLE_INTERNALS)


internals_visible = C.internals_visible
_visible_depth = C.visible_depth
_set_enabled = C.set_enabled


def visible_to_outer(fn) -> bool:
    """Whether an outer capture records what ``fn`` computes: Python code outside framead or
    framead's derivative code (C functions are recorded through rules, or reported FA101)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return True
    name = code.co_filename
    return not is_framead_file(name) or _is_differentiable_internal(name)


def outer_recorder() -> Recorder | None:
    """The recorder of the capture this call runs inside (None outside any capture)."""
    rec = C.current_recorder()
    return rec if rec is not None and C.is_enabled() and not C.in_framead() else None
# --- end higher order ------------------------------------------------------------------------


# cached traces (framead/cache.py) watch the globals of every code object that ran: each
# capture re-decides every code object it runs (its thread's decision generation is new), so
# decide() sees them all
# (no __init__: a per-thread __init__ that failed once, e.g. at the stack guard in a thread
# with a small stack, would leave that thread's local without the attribute for good)
_code_watch = threading.local()


@contextlib.contextmanager
def watching_codes():
    """``with watching_codes() as codes:`` the code objects this thread runs, listed."""
    outer, codes = getattr(_code_watch, "codes", None), []
    _code_watch.codes = codes
    try:
        yield codes
    finally:
        _code_watch.codes = outer


# --- imports run natively: module bodies are not user numerics ------------------------------
# importlib's loading functions get the hook's "native subtree" decision (a same-layout copy
# named NATIVE_SUBTREE): the hook runs them, and every frame they run (module bodies and all
# they call), with capture off, then calls decide(None), which installs the rule packs of the
# modules that appeared and refreshes the trampoline's callable flags within the same capture.
# import x, from x import y, __import__, importlib.import_module, lazy module __getattr__ all
# reach _find_and_load; reload reaches _exec; importlib.util.LazyLoader reaches exec_module.
NATIVE_SUBTREE = sys.intern("<framead:native-subtree>")  # capture/_evalframe.c's marker
_bootstrap = sys.modules["_frozen_importlib"]
_NATIVE: dict[int, tuple[CodeType, CodeType]] = {
    id(f.__code__): (f.__code__, f.__code__.replace(co_name=NATIVE_SUBTREE)) for f in (
        _bootstrap._find_and_load, _bootstrap._load, _bootstrap._exec,
        sys.modules["_frozen_importlib_external"]._LoaderBasics.exec_module)}


def _after_native_subtree() -> None:
    """An import under capture returned: new rule packs and solver tables apply at once."""
    _refresh_flags()


def _refresh_flags() -> bool:
    """Install the rule packs of imported modules; when the rules or the solver tables (which
    follow SciPy's presence) changed, tell the trampoline. Whether the flags were reset."""
    key = (rules.generation(), "scipy" in sys.modules, solver_sources())
    if _flags_key[0] == key and C.get_callable_flags(sum) & C.ALWAYS:
        return False  # (read without the lock: the key is set after the flags it names)
    with _flags_lock:
        key = (rules.generation(), "scipy" in sys.modules, solver_sources())
        if _flags_key[0] == key and C.get_callable_flags(sum) & C.ALWAYS:
            return False  # (a cleared C table has lost sum's ALWAYS flag)
        on = C.guard_users() > 0  # (in the same table: no window without the guard flags)
        configure_flags(_guard_flag_pairs(on))
        _flags_key[0] = key
        _guard_flags_on[0] = on
        return True


# Cached traces guard every choice: while any session (any thread) records guards
# (C.guard_users(), counted by SessionBase in C), choosing callables always come to dispatch.
_guard_flags_on = [False]
_CHOOSING = with_kind(Kind.CHOOSING)
_GUARDED = with_kind(Kind.GUARDED)
# predicates (bool, math.isclose...; every truth test is a bool call): to dispatch only when
# given traced values (a user __bool__ runs captured, guarding its own decisions)
_DECIDING = frozenset(with_kind(Kind.DECIDING))
# text of values (str, format...): given traced values, to dispatch, which guards the text
# (given traced values in any capture: a parse of the text is FA111, capture/text_taint.py)
_TEXT = [(fn, C.RULE | C.SCAN) for fn in with_kind(Kind.TEXT)]


def _guard_flag_pairs(on: bool) -> list[tuple[Any, int]]:
    """The flags of the choosing, guarded and text callables while guards are recorded (on)
    or not (off: their flags of configure_flags)."""
    return [(fn, C.ALWAYS if on else 0) for fn in _CHOOSING] + \
        [(fn, (C.RULE | C.SCAN if fn in _DECIDING else C.ALWAYS) if on else
          C.RULE | C.SCAN if fn is math.isclose else C.NATIVE)  # (a loop's test: zero_trip)
         for fn in _GUARDED] + \
        [(fn, C.RULE | C.SCAN if on else off) for fn, off in _TEXT] + \
        [(fn, on_f if on else off_f) for fn, on_f, off_f in _INSERTIONS]


# the rewritten set/dict insertions (opcodes_common: BUILD_SET, SET_ADD, SET_UPDATE, MAP_ADD,
# BUILD_MAP, DICT_UPDATE):
# natively unless guards are recorded (set.update of a traced array still reads its rows)
_INSERTIONS = ((SET_BUILD, C.RULE | C.SCAN, C.NATIVE), (SET_ADD, C.RULE | C.SCAN, C.NATIVE),
               (SET_UPDATE, 0, C.RULE), (DICT_ADD, 0, C.NATIVE), (C.dict_update, 0, C.NATIVE))


def _sync_guard_flags(guarding: bool = True) -> None:
    """The guard flags as C.guard_users() says. A session that records no guards (``not
    guarding``) changes no guard count: it skips the lock while the flags are off (a guarding
    session turns them on itself, before its program runs, and off when it ends)."""
    if not guarding and not _guard_flags_on[0]:
        return
    with _flags_lock:
        on = C.guard_users() > 0
        if on == _guard_flags_on[0]:
            return
        for fn, flags in _guard_flag_pairs(on):
            C.set_callable_flags(fn, flags)
        _guard_flags_on[0] = on


# While any thread captures, a C callback first in gc.callbacks turns the collecting thread's
# capture off during a collection: finalizers and the program's gc callbacks run natively.
_capturing = [0]


def _gc_callback(on: bool) -> None:
    with _flags_lock:
        _capturing[0] += 1 if on else -1
        if on and _capturing[0] == 1 and C.gc_phase not in gc.callbacks:
            gc.callbacks.insert(0, C.gc_phase)
        elif not on and _capturing[0] == 0:
            while C.gc_phase in gc.callbacks:
                gc.callbacks.remove(C.gc_phase)


# --- end imports -------------------------------------------------------------------------------


# what decide() needs to know of a code object's file, by filename: _PROGRAM, _OWN
# (framead's, never instrumented), _INTERNAL (framead's derivative code: instrumented only
# inside internals_visible()) or _FROZEN (frozen modules). The hook asks again for every code
# object each capture runs, framead's own handlers included: this answers those at once.
_PROGRAM, _OWN, _INTERNAL, _FROZEN = 0, 1, 2, 3
_file_kinds: dict[str, int] = {}


def _file_kind(name: str) -> int:
    if name.startswith("<frozen"):
        kind = _FROZEN
    elif is_framead_file(name):
        kind = _INTERNAL if _is_differentiable_internal(name) else _OWN
    else:
        kind = _PROGRAM
    if len(_file_kinds) >= MAX_FILES:
        _file_kinds.clear()
    _file_kinds[name] = kind
    return kind


def decide(code: CodeType | None) -> CodeType | None:
    """The hook's per-code-object question: run which code for this frame? (None: a native
    subtree just returned.)"""
    if code is None:
        _after_native_subtree()
        return None
    # (the thread's dict: a missing attribute's getattr costs an exception, ~0.5 us)
    seen: list[CodeType] | None = _code_watch.__dict__.get("codes")
    if seen is not None:
        seen.append(code)
    kind = _file_kinds.get(code.co_filename)
    if kind is None:
        kind = _file_kind(code.co_filename)
    if kind == _OWN or (kind == _INTERNAL and not _visible_depth()):
        return None  # (framead's files are never importlib's native subtree)
    native = _NATIVE.get(id(code))
    if native is not None and native[0] is code:
        return native[1]
    if kind == _FROZEN or id(code) in EAGER_CODES:  # (what _skip leaves to run natively)
        return None
    hit = _rewritten.get(id(code))
    if hit is not None and hit[0]() is code:
        if hit[1] is None:
            _report_refused(code)
        return code if hit[1] is _UNCHANGED else hit[1]
    if is_instrumented(code):  # a copy of ours (a generator's function): never twice
        return None
    new = instrument(code, PROBES)
    why = None if new is not None else (refuse_reason(code, PROBES)
                                        or "the rewriter refused this code object")
    _remember(code, _UNCHANGED if new is code else new, why)
    if new is None:
        _report_refused(code)
    return new


# --- eager fallback support (capture/eager.py) ------------------------------------------------
# Code objects of @framead.eager functions (keyed by id; the dict keeps them alive): decide()
# leaves them uninstrumented. capture.eager.mark_eager adds to it and bumps the generation.
EAGER_CODES: dict[int, CodeType] = {}


# The recorder of this thread's innermost active Session, or None outside capture (the C
# function itself: no Python frame for a question asked several times a capture).
current_recorder: Callable[[], Recorder | None] = C.current_recorder


def _why_refused(code: CodeType) -> str:
    hit = _rewritten.get(id(code))
    return hit[2] if hit is not None and hit[0]() is code and hit[2] else "refused"


def _report_refused(code: CodeType) -> None:
    """FA103: a frame the rewriter refused runs uninstrumented during a capture (once per code
    object per capture: decisions are re-made after each Session starts). Located at the call."""
    rec = current_recorder()
    if rec is not None and C.is_enabled():
        rec.hazard("FA103", code.co_qualname, sys._getframe(2),
                   f"{code.co_qualname} ({code.co_filename}:{code.co_firstlineno}) ran "
                   f"uninstrumented: {_why_refused(code)}; operations on traced "
                   "values inside it are not recorded")
# --- end eager fallback support ----------------------------------------------------------------


# the probe objects the rewriter inserts (all from the C extension; names in opcodes311)
PROBES = probes_from(C)

# Traced scalar binops (Python floats, or a float and an int) recorded by the C probe itself
# (capture/_evalframe.c, fast_binop: the same IR as ProbeHandlers._scalar_binop), in a capture
# not nested in another. FRAMEAD_FAST_RECORD=0 (read at import), or FAST_RECORD = False (read
# when a session starts), sends every binop to the Python handler.
FAST_RECORD = os.environ.get("FRAMEAD_FAST_RECORD", "1") != "0"


def _sync_fast_record() -> None:
    """This thread's fast-record state, for its innermost session's recorder (C clears it
    whenever the handlers change)."""
    rec = current_recorder()
    state = None
    if FAST_RECORD and rec is not None and C.session_depth() == 1:
        state = fast_record_state(rec)
    C.set_fast_record(state)


class Session(C.SessionBase):
    """``with Session(recorder):`` runs this thread's frames instrumented.

    Entering and leaving are C methods (capture/_evalframe.c, SessionBase): the hook state
    changes where no signal handler can run, between the interruptible steps below, so a
    KeyboardInterrupt never leaves the hook installed or values tracked. Sessions of different
    threads are independent (each thread has its own traced set and handlers); nothing is
    locked while the program runs."""

    _decide = staticmethod(decide)

    def __init__(self, recorder: Recorder | None = None):
        self.recorder = recorder if recorder is not None else Recorder()

    def _prepare(self) -> None:
        _refresh_flags()
        C.set_ndarray_type(np.ndarray, STRIDED_BASE)

    def _after_enter(self) -> None:
        # framead's own steps run with capture off: the hook does not ask decide() about
        # each of their code objects (an interruption leaves it to __enter__'s undoing)
        was = _set_enabled(False)
        try:
            self._counted = True
            _gc_callback(True)
            rec = self.recorder
            rec.retrack()  # (values registered before the start were not tracked)
            self._guarding = guarding = getattr(rec, "guards", None) is not None  # (as C)
            _sync_guard_flags(guarding)
            if C.session_depth() > 1:  # nested: the outer session's traced values are
                C.forget_in_outer()  # constants
                _sync_fast_record()
            else:  # (_sync_fast_record's, for this session's recorder)
                C.set_fast_record(fast_record_state(rec) if FAST_RECORD else None)
        finally:
            _set_enabled(was)

    def _after_exit(self) -> None:
        d = self.__dict__
        if d.pop("_counted", False):
            _gc_callback(False)
        _sync_guard_flags(d.get("_guarding", True))
        self.recorder.close()
        if C.session_depth() == 0:
            release_frames()  # the location cache must not keep the user's frames
        else:
            _sync_fast_record()  # the outer session's, again


def refused_codes() -> dict[CodeType, str]:
    """The live code objects the rewriter refused, with the reason."""
    out = {}
    for ref, _new, why in list(_rewritten.values()):
        code = ref()
        if code is not None and why:
            out[code] = why
    return out
