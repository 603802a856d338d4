"""Source locations of recorded nodes: the user's frame and its callers."""

from __future__ import annotations

import bisect
import functools
import importlib.util
import os
import sys
import types
import weakref
from types import CodeType, FrameType
from typing import Any

from framead.ir import UNKNOWN_LOC, SourceLoc

from . import _evalframe as C


def _package_dirs() -> dict[str, tuple[str, ...]]:
    """Where framead's packages were imported from, by package name (``framead``, ``capture``,
    ``rules``), each folder with a trailing separator as an absolute and as a real path: in a
    checkout framead/, capture/, rules/; installed framead/, framead/capture/, framead/rules/."""
    top = __package__.rpartition(".")[0]  # "framead"
    found = {"framead": sys.modules[top].__path__, "capture": [os.path.dirname(__file__)],
             "rules": importlib.util.find_spec(f"{top}.rules").submodule_search_locations}
    return {name: tuple(dict.fromkeys(os.path.join(f(d), "") for d in ds
                                      for f in (os.path.abspath, os.path.realpath)))
            for name, ds in found.items()}


PACKAGE_DIRS = _package_dirs()
_FRAMEAD_DIRS = tuple(d for ds in PACKAGE_DIRS.values() for d in ds)
MAX_STACK = 4  # callers kept (capture/_evalframe.c: FA_WHERE_MAX = MAX_STACK + 1)
MAX_FILES = 4096  # bound of the is_framead_file cache (exec'd code may name many files)
MAX_TABLES = 512  # code objects with a line table
_file_cache: dict[str, bool] = {}
# the argument names of capture/caller_frame.py's trampolines (the frame from which the
# differentiated function is called, showing the user's caller): how they are recognised
TRAMPOLINE_VARNAMES = ("__framead_call__", "__framead_f__", "__framead_args__",
                       "__framead_kwargs__")


# id(trampoline code) -> the SourceLoc (callers included) of the caller it shows, for the
# trampolines of C functions (their call is recorded in the trampoline's frame)
TRAMPOLINE_LOCS: dict[int, SourceLoc] = {}


def is_trampoline(code: CodeType) -> bool:
    """Whether ``code`` is a trampoline of capture/caller_frame.py (framead's, though it shows
    the user's file)."""
    return code.co_varnames == TRAMPOLINE_VARNAMES


def is_framead_file(filename: str) -> bool:
    """Whether ``filename`` is framead's own code (never instrumented, never shown)."""
    hit = _file_cache.get(filename)
    if hit is None:
        hit = os.path.abspath(filename).startswith(_FRAMEAD_DIRS)
        if len(_file_cache) >= MAX_FILES:
            _file_cache.clear()
        _file_cache[filename] = hit
    return hit


def user_stacklevel() -> int:
    """The ``stacklevel`` for warnings.warn, called in framead, that names the first frame
    outside framead (its caller's: framead's own frames between are skipped)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and is_framead_file(frame.f_code.co_filename):
        frame, level = frame.f_back, level + 1
    return level


def strip_framead_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The traceback chain without entries in framead's own files (or its trampolines)."""
    entries = []
    while tb is not None:
        code = tb.tb_frame.f_code
        if not is_framead_file(code.co_filename) and not is_trampoline(code):
            entries.append(tb)
        tb = tb.tb_next
    out = None
    for t in reversed(entries):
        out = types.TracebackType(out, t.tb_frame, t.tb_lasti, t.tb_lineno)
    return out


def user_tracebacks(method):
    """Errors raised by user code inside a handler keep a traceback without framead frames."""

    @functools.wraps(method)
    def handler(self, *args):
        try:
            return method(self, *args)
        except BaseException as e:
            e.__traceback__ = strip_framead_frames(e.__traceback__)
            raise

    return handler


def loc_of(frame: FrameType | None) -> SourceLoc:
    """Where the operation running in ``frame`` (or its nearest user caller) came from."""
    if frame is None:
        return UNKNOWN_LOC
    return C.where(frame).loc


def where_of(frame: FrameType | None) -> Any:
    """``loc_of(frame)``, lazily: a ``Where`` (capture/_evalframe.c) holding the user's frame
    and its callers as (code object, f_lasti) pairs, whose ``.loc`` builds the SourceLoc on
    first access (``Node`` takes either). Cheap: a C walk of the frames, and identical chains
    share one object."""
    if frame is None:
        return UNKNOWN_LOC
    return C.where(frame)


def resolve_where(frames: tuple[tuple[CodeType, int], ...]) -> SourceLoc:
    """The SourceLoc of a Where's frames: the user's frame first, then up to MAX_STACK callers
    (C found them as ``frame.f_code``/``frame.f_lasti`` show them, framead's frames left out;
    a trampoline of capture/caller_frame.py, which only ends the chain, left out too)."""
    if not frames:
        return UNKNOWN_LOC
    if len(frames) > 1 and is_trampoline(frames[-1][0]):
        frames = frames[:-1]
    code, lasti = frames[0]
    if len(frames) == 1 and is_trampoline(code):
        loc = TRAMPOLINE_LOCS.get(id(code))
        if loc is not None:
            return loc
    return SourceLoc(code.co_filename, line_at(code, lasti), code.co_qualname,
                     tuple((c.co_filename, line_at(c, i), c.co_qualname) for c, i in frames[1:]))


# --- line numbers -----------------------------------------------------------------------------
# frame.f_lineno scans the code's line table from its start (O(length of the function)), so a
# long straight-line function recorded node by node would cost O(n^2). Instead each code
# object's table is decoded once into sorted range starts and looked up by bisection. The
# tables are keyed by id and hold the code only weakly: an entry goes with its code (exec'd
# code comes and goes), and one whose id was reused before that is ignored.
_tables: dict[int, tuple[weakref.ref, list[int], list[int]]] = {}


def line_at(code: CodeType, lasti: int) -> int:
    """``frame.f_lineno or 0`` for a frame of ``code`` at byte offset ``lasti``, in O(log n)."""
    if lasti < 0:
        return code.co_firstlineno
    entry = _tables.get(id(code))
    if entry is None or entry[0]() is not code:
        entry = _line_table(code)
    starts = entry[1]
    k = bisect.bisect_right(starts, lasti) - 1
    return entry[2][k] if k >= 0 else 0


def _line_table(code: CodeType) -> tuple[weakref.ref, list[int], list[int]]:
    starts, lines = [], []
    for start, _end, line in code.co_lines():
        starts.append(start)
        lines.append(line or 0)
    if len(_tables) >= MAX_TABLES:
        _tables.clear()
    key = id(code)
    ref = weakref.ref(code, functools.partial(_forget_table, _tables, key))
    entry = _tables[key] = (ref, starts, lines)
    return entry


def _forget_table(tables: dict, key: int, ref: weakref.ref) -> None:
    entry = tables.get(key)
    if entry is not None and entry[0] is ref:
        del tables[key]


def clear_cache() -> None:
    """Forget cached locations, line tables and which files are framead's."""
    C.clear_where_cache(True)
    _file_cache.clear()
    _tables.clear()


def release_frames() -> None:
    """End of a capture: drop the code objects the location cache holds (recorded nodes keep
    their own)."""
    C.clear_where_cache()


C.set_where_hooks(is_framead_file, resolve_where)
