"""``framead.use("checkpoint")``: gradient checkpointing (rematerialisation).

``fn`` (plain NumPy code) runs natively during the capture and is recorded as ONE node: none
of its intermediate values are kept, only its inputs. During the reverse pass the node's VJP
re-runs ``framead.vjp(fn, *args)`` on the saved inputs (a fresh capture of ``fn``, nested when
the reverse pass is itself captured) and pulls the cotangent back through it. Memory: the
inputs of each call instead of every intermediate of ``fn``; time: ``fn`` runs twice.
Options: ``strict`` (passed to the inner capture).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from framead.api import vjp as framead_vjp
from framead.rules import Rule

from . import get_engine, register_engine
from .common import cotangents, run_fn


class CheckpointEngine:
    saves_ans = False
    higher_order = "visible"  # an outer capture records the VJP (grad of grad)

    def __init__(self, fn: Callable, strict: bool | None = None):
        self.fn = fn
        self.strict = strict
        self.name = f"use[checkpoint]({getattr(fn, '__qualname__', fn)})"
        self.recaptures = 0  # reverse-pass captures of fn (for tests)

    def call(self, *args: Any, **kwargs: Any) -> Any:
        return run_fn(self.fn, *args, **kwargs)

    def vjp(self, g: Any, ans: Any, args: tuple, kwargs: dict, wrt: tuple) -> tuple:
        self.recaptures += 1
        fn = self.fn if not kwargs else functools.partial(self.fn, **kwargs)
        _, pull = run_fn(framead_vjp, fn, *args, argnums=wrt, strict=self.strict)
        return cotangents(args, wrt, pull(g))

    def jvp(self, tangents: tuple, ans: Any, args: tuple, kwargs: dict) -> Any:
        fwd = get_engine("forward")(self.fn, {})  # recapture through the forward engine
        if isinstance(fwd, Rule):
            return fwd.jvp(tuple(tangents), ans, *args, **kwargs)
        return fwd.jvp(tangents, ans, args, kwargs)


def factory(fn: Callable, options: dict) -> CheckpointEngine:
    return CheckpointEngine(fn, **options)


register_engine("checkpoint", factory)
