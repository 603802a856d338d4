"""Which generator state each traced draw started from, for cached traces.

A sampler node (``rng.normal(mu, s)``, ``mu`` traced) holds its generator as a constant. A
cached trace that replays it must draw what the native run draws. framead/randomness.py
decides, once the capture is over, whether it can: the generator must have been made inside
the call (not reachable before it, not kept after it), so the native run starts every call
from the same state, and then each draw is replayed from the state it started from
(``Drawn``). That state is noted here, before the native draw, while a ``DrawLog`` is open
(``note`` is called by the sampler rules' refusal test, which capture runs just before the
call). A draw that takes a number of values depending on its traced parameters (a rejection
sampler: gamma, beta...) also notes the state it leaves, so the decision can check that
nothing drew from that generator afterwards.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np

SAMPLERS = (np.random.Generator, np.random.RandomState)
# samplers whose number of values taken depends on their (differentiated) parameters
VARIABLE = frozenset({"gamma", "standard_gamma", "chisquare", "beta", "standard_t",
                      "dirichlet"})


def snapshot(g: Any) -> Any:
    """The whole state of a Generator or RandomState (RandomState: with its spare Gaussian)."""
    if isinstance(g, np.random.Generator):
        return g.bit_generator.state
    return g.get_state(legacy=False)


def _blank(g: Any) -> Any:
    """A generator of ``g``'s kind and bit generator class (state to be set)."""
    bits = type(g.bit_generator if isinstance(g, np.random.Generator) else g._bit_generator)
    return np.random.Generator(bits(0)) if isinstance(g, np.random.Generator) else \
        np.random.RandomState(bits(0))


def _restore(blank: Any, state: Any) -> Any:
    if isinstance(blank, np.random.Generator):
        blank.bit_generator.state = state
    else:
        blank.set_state(state)
    return blank


def at(g: Any, state: Any) -> Any:
    """A new generator of ``g``'s kind in ``state``."""
    return _restore(_blank(g), state)


class Drawn:
    """A replay's stand-in for the generator of a sampler node: the generator as it was just
    before the recorded draw, so every replay draws what the native run draws (its own
    generator, made inside the call, starts there every call). One generator per thread,
    reset to that state at each draw."""

    __slots__ = ("kind", "state", "_local", "__weakref__")

    def __init__(self, g: Any, state: Any):
        self.kind, self.state, self._local = _blank(g), state, threading.local()

    def generator(self) -> Any:
        g = getattr(self._local, "g", None)
        if g is None:
            g = self._local.g = _blank(self.kind)
        return _restore(g, self.state)

    def __repr__(self) -> str:
        return f"<{type(self.kind).__name__} as before a recorded draw>"


class Noted:
    """One traced draw: its generator, the state before, and (``VARIABLE`` samplers) after."""

    __slots__ = ("rng", "name", "before", "after")

    def __init__(self, rng: Any, name: str, before: Any, after: Any):
        self.rng, self.name, self.before, self.after = rng, name, before, after


class DrawLog:
    """The traced draws of one capture, in order (``open``, then ``close``)."""

    __slots__ = ("draws", "__weakref__")

    def __init__(self) -> None:
        self.draws: list[Noted] = []


class _Open(threading.local):
    def __init__(self) -> None:
        self.logs: list = []  # weak references, innermost last


_OPEN = _Open()


def open_log() -> DrawLog:
    log = DrawLog()
    _OPEN.logs = [r for r in _OPEN.logs if r() is not None]  # (a capture that raised)
    _OPEN.logs.append(weakref.ref(log))
    return log


def close_log(log: DrawLog) -> None:
    _OPEN.logs = [r for r in _OPEN.logs if r() is not None and r() is not log]


def note(name: str, args: tuple, kwargs: dict) -> None:
    """Capture is about to run ``args[0].<name>(*args[1:], **kwargs)`` on traced values."""
    logs = _OPEN.logs
    if not logs:
        return
    log = logs[-1]()
    g = args[0] if args else None
    if log is None or not isinstance(g, SAMPLERS):
        return
    before, after = snapshot(g), None
    if name in VARIABLE:  # the state it leaves: the same draw on a copy
        copy = at(g, before)
        try:
            getattr(copy, name)(*args[1:], **kwargs)
            after = snapshot(copy)
        except Exception:  # noqa: BLE001 - the native call raises it itself
            after = None
    log.draws.append(Noted(g, name, before, after))
