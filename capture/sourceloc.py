"""Source locations of recorded nodes: the user's frame and its callers."""

from __future__ import annotations

import os
from types import FrameType

from framead.ir import UNKNOWN_LOC, SourceLoc

_FRAMEAD_DIRS = tuple(
    os.path.dirname(os.path.abspath(p)) + os.sep
    for p in (__file__, os.path.join(os.path.dirname(__file__), "..", "framead", "x"),
              os.path.join(os.path.dirname(__file__), "..", "rules", "x")))
MAX_STACK = 8


def is_framead_file(filename: str) -> bool:
    """Whether ``filename`` is framead's own code (never instrumented, never shown)."""
    return filename.startswith(_FRAMEAD_DIRS) or os.path.abspath(filename).startswith(
        _FRAMEAD_DIRS)


def _user_frame(frame: FrameType | None) -> FrameType | None:
    while frame is not None and is_framead_file(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def loc_of(frame: FrameType | None) -> SourceLoc:
    """Where the operation running in ``frame`` (or its nearest user caller) came from."""
    frame = _user_frame(frame)
    if frame is None:
        return UNKNOWN_LOC
    code = frame.f_code
    stack = []
    f = frame.f_back
    while f is not None and len(stack) < MAX_STACK:
        c = f.f_code
        if is_framead_file(c.co_filename):
            break
        stack.append((c.co_filename, f.f_lineno or 0, c.co_qualname))
        f = f.f_back
    return SourceLoc(code.co_filename, frame.f_lineno or 0, code.co_qualname, tuple(stack))
