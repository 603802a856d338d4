"""A capture session: the hook installed and enabled for this thread, probes reporting to a
recorder."""

from __future__ import annotations

import threading
from types import CodeType

from . import _evalframe as C
from . import calls
from .recorder import Recorder
from .rewriter import instrument
from .sourceloc import is_framead_file

_lock = threading.RLock()
_refused: dict[CodeType, str] = {}
_flags_generation = [None]
_rewritten: dict[int, tuple[CodeType, CodeType | None]] = {}


def _skip(code: CodeType) -> bool:
    name = code.co_filename
    return name.startswith("<frozen") or is_framead_file(name)


def decide(code: CodeType) -> CodeType | None:
    """The hook's per-code-object question: run which code for this frame?"""
    if _skip(code):
        return None
    hit = _rewritten.get(id(code))
    if hit is not None and hit[0] is code:
        return hit[1]
    new = instrument(code, PROBES)
    if new is None:
        _refused[code] = "the rewriter refused this code object"
    _rewritten[id(code)] = (code, new)
    return new


class _Probes:
    """The probe objects the rewriter inserts (all from the C extension)."""

    BINOP = C.BINOP
    COMPARE = C.COMPARE
    unary_negative = C.unary_negative
    unary_positive = C.unary_positive
    unary_invert = C.unary_invert
    getitem = C.getitem
    setitem = C.setitem
    getattr = C.getattr
    getiter = C.getiter
    unpack = C.unpack
    call = C.call
    STAR_KWNAMES1 = C.STAR_KWNAMES1
    STAR_KWNAMES2 = C.STAR_KWNAMES2
    ATTR_NAMES = frozenset({"T", "mT", "real", "imag"})


PROBES = _Probes()


class Session:
    """``with Session(recorder):`` runs this thread's frames instrumented."""

    def __init__(self, recorder: Recorder | None = None):
        self.recorder = recorder if recorder is not None else Recorder()

    def __enter__(self) -> Session:
        _lock.acquire()
        try:
            from framead import rules

            gen = rules.generation()
            if _flags_generation[0] != gen or not C.get_callable_flags(sum) & C.ALWAYS:
                calls.configure_flags()  # rules changed, or someone cleared the C table
                _flags_generation[0] = gen
            if C.install_depth() == 0:
                C.bump_generation()  # decisions cached under another decide() are void
            C.set_ndarray_type(__import__("numpy").ndarray)
            C.set_handlers(self.recorder)
            C.install(decide)
        except BaseException:
            _lock.release()
            raise
        self._prev = C.set_enabled(True)
        return self

    def __exit__(self, *exc) -> None:
        C.set_enabled(self._prev)
        try:
            C.uninstall()
            self.recorder.close()
        finally:
            _lock.release()


def refused_codes() -> dict[CodeType, str]:
    return dict(_refused)
