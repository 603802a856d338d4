"""What a rule may ask about the capture running it: ``capturing()``.

Rules sit below capture and cannot import it; capture tells them instead, once, with
``set_capture_test(fn)`` (``fn()``: is a capture running on this thread?). Until it has, the
answer is True: the cautious one, for it only keeps a rule from importing a module (which,
under a capture, would install rule packs in the middle of it).
"""

from __future__ import annotations

from collections.abc import Callable

_test: list[Callable[[], bool]] = [lambda: True]


def set_capture_test(fn: Callable[[], bool]) -> None:
    """Install capture's answer to "is a capture running on this thread?"."""
    _test[0] = fn


def capturing() -> bool:
    """True while a capture runs on this thread (or when capture has not said)."""
    return _test[0]()
