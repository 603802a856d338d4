"""Source locations of recorded nodes: the user's frame and its callers."""

from __future__ import annotations

import importlib.util
import os
import sys
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
_file_cache: dict[str, bool] = {}
_loc_cache: dict[tuple, SourceLoc] = {}


def is_framead_file(filename: str) -> bool:
    """Whether ``filename`` is framead's own code (never instrumented, never shown)."""
    hit = _file_cache.get(filename)
    if hit is None:
        hit = os.path.abspath(filename).startswith(_FRAMEAD_DIRS)
        _file_cache[filename] = hit
    return hit


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
    # (code objects compare equal across files: co_filename is not part of code equality)
    key = (cf.f_lasti, frame.f_code, frame.f_code.co_filename, frame.f_lasti)
    loc = at.get(key)
    if loc is None:
        loc = at[key] = _stack_loc(frame)
    return loc


def _stack_loc(frame: FrameType) -> SourceLoc:
    key: list = []
    f = frame
    while f is not None and len(key) < 3 * (MAX_STACK + 1):
        c = f.f_code
        if key and is_framead_file(c.co_filename):
            break
        key += (c, c.co_filename, f.f_lasti)  # equal code in two files: two locations
        f = f.f_back
    k = tuple(key)
    loc = _loc_cache.get(k)
    if loc is None:
        loc = _make_loc(frame, len(key) // 3)
        _loc_cache[k] = loc
    return loc


def _make_loc(frame: FrameType, depth: int) -> SourceLoc:
    code: CodeType = frame.f_code
    stack = []
    f = frame.f_back
    while f is not None and len(stack) < depth - 1:
        c = f.f_code
        stack.append((c.co_filename, f.f_lineno or 0, c.co_qualname))
        f = f.f_back
    return SourceLoc(code.co_filename, frame.f_lineno or 0, code.co_qualname, tuple(stack))


def clear_cache() -> None:
    """Forget cached locations (they hold code objects)."""
    _loc_cache.clear()
    _by_frame.clear()


def release_frames() -> None:
    """Drop the frames the per-frame cache holds (end of a capture)."""
    _by_frame.clear()
