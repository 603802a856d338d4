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

from framead.ir import UNKNOWN_LOC, SourceLoc


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
MAX_STACK = 4
MAX_FILES = 4096  # bound of the is_framead_file cache (exec'd code may name many files)
MAX_TABLES = 512  # code objects with a line table
MAX_LOCS = 1 << 16  # locations cached within a capture
_file_cache: dict[str, bool] = {}
# per capture, cleared by release_frames: keys hold code objects, which must not outlive it
_loc_cache: dict[tuple, tuple[tuple, SourceLoc]] = {}


def is_framead_file(filename: str) -> bool:
    """Whether ``filename`` is framead's own code (never instrumented, never shown)."""
    hit = _file_cache.get(filename)
    if hit is None:
        hit = os.path.abspath(filename).startswith(_FRAMEAD_DIRS)
        if len(_file_cache) >= MAX_FILES:
            _file_cache.clear()
        _file_cache[filename] = hit
    return hit


def strip_framead_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The traceback chain without entries in framead's own files."""
    entries = []
    while tb is not None:
        if not is_framead_file(tb.tb_frame.f_code.co_filename):
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


_RESUMABLE = 0x20 | 0x80 | 0x100 | 0x200  # CO_GENERATOR, COROUTINE, ITERABLE_COROUTINE, ASYNC_GEN
_by_frame: dict = {}  # user frame -> {f_lasti: SourceLoc}; a few live frames (session-long)


def loc_of(frame: FrameType | None) -> SourceLoc:
    """Where the operation running in ``frame`` (or its nearest user caller) came from."""
    while frame is not None and is_framead_file(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return UNKNOWN_LOC
    # a frame's callers never change: (frame, offset) -> location, without walking the stack
    # (the dict holds the frames, so their ids cannot be reused while cached)
    if frame.f_code.co_flags & _RESUMABLE:  # a generator's callers change between resumes
        return _at_caller(frame)
    at = _by_frame.get(frame)
    if at is not None:
        loc = at.get(frame.f_lasti)
        if loc is not None:
            return loc
    else:
        if len(_by_frame) >= 64:
            _by_frame.clear()
        at = _by_frame[frame] = {}
    loc = at[frame.f_lasti] = _at_caller(frame)
    return loc


def _at_caller(frame: FrameType) -> SourceLoc:
    """The location, cached under the caller's frame: a function called many times from one
    loop gets a new frame per call, but (caller frame, call site, code, offset) repeats."""
    cf = frame.f_back
    if cf is None or cf.f_code.co_flags & _RESUMABLE:
        return _stack_loc(frame)
    at = _by_frame.get(cf)
    if at is None:
        if len(_by_frame) >= 64:
            _by_frame.clear()
        at = _by_frame[cf] = {}
    # code objects by identity: hashing one costs its length on 3.12+ (and equal code in two
    # files compares equal); the entry holds the code, so the id names it while cached
    code = frame.f_code
    key = (cf.f_lasti, id(code), frame.f_lasti)
    hit = at.get(key)
    if hit is not None and hit[0] is code:
        return hit[1]
    loc = _stack_loc(frame)
    at[key] = (code, loc)
    return loc


def _stack_loc(frame: FrameType) -> SourceLoc:
    # (code, offset) of the user's frames, codes by identity (as in _at_caller); the entry
    # holds the codes
    key: list = []
    codes: list = []
    f: FrameType | None = frame
    while f is not None and len(codes) < MAX_STACK + 1:
        c = f.f_code
        if codes and is_framead_file(c.co_filename):
            break
        key += (id(c), f.f_lasti)
        codes.append(c)
        f = f.f_back
    k = tuple(key)
    hit = _loc_cache.get(k)
    if hit is not None and all(a is b for a, b in zip(hit[0], codes, strict=True)):
        return hit[1]
    loc = _make_loc(frame, len(codes))
    if len(_loc_cache) >= MAX_LOCS:
        _loc_cache.clear()
    _loc_cache[k] = (tuple(codes), loc)
    return loc


def _make_loc(frame: FrameType, depth: int) -> SourceLoc:
    code: CodeType = frame.f_code
    stack: list[tuple[str, int, str]] = []
    f = frame.f_back
    while f is not None and len(stack) < depth - 1:
        c = f.f_code
        stack.append((c.co_filename, line_at(c, f.f_lasti), c.co_qualname))
        f = f.f_back
    return SourceLoc(code.co_filename, line_at(code, frame.f_lasti), code.co_qualname,
                     tuple(stack))


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
    """Forget cached locations and line tables."""
    _loc_cache.clear()
    _by_frame.clear()
    _tables.clear()


def release_frames() -> None:
    """End of a capture: drop the frames and code objects the location caches hold."""
    _by_frame.clear()
    _loc_cache.clear()
