"""What framead's solver adjoints and engines ask of the capture running on this thread: its
recorder, and running a callable with nothing recorded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .capture import _evalframe as C
from .capture.recorder import Recorder
from .capture.session import current_recorder


def active_recorder() -> Recorder | None:
    """This thread's recorder when capture is on (None outside capture, or inside a region
    running natively, such as a rule's own call)."""
    rec = current_recorder()
    if rec is None or not C.is_enabled():
        return None
    return rec


def quiet(fn: Callable, args: tuple, kwargs: dict) -> Any:
    """Run ``fn`` natively with capture disabled: nothing inside it is recorded."""
    prev = C.set_enabled(False)
    try:
        return fn(*args, **kwargs)
    finally:
        C.set_enabled(prev)
