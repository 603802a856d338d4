"""Calls made natively from a handler: quietly (the callee's frames are not captured) or as
the user's frame would make them (capture left as it is)."""

from __future__ import annotations

from typing import Any

from . import _evalframe as C


def call_quiet(fn: Any, args: Any, kwargs: dict | None) -> Any:
    """Call a rule-covered function natively, without capturing the frames it runs, as if
    from the user's frame (its warnings and stack walks name the user's line)."""
    return C.call_native(fn, args if type(args) is tuple else tuple(args), kwargs or None)


def call_as_user(fn: Any, args: Any, kwargs: dict | None) -> Any:
    """``fn(*args, **kwargs)`` as the user's frame would call it (capture left as it is):
    callees see the user's line as their caller (warnings, ``sys._getframe``)."""
    return C.call_as_user(fn, args if type(args) is tuple else tuple(args), kwargs or None)


class Result:
    """A callable returning an operation's result computed before it was recorded."""

    __slots__ = ("result",)

    def __init__(self, result: Any):
        self.result = result

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.result
