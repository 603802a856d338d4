"""Engines: hand one sub-function to another differentiation engine (``framead.use``).

``framead.use(engine, **options)(fn)`` (or ``@framead.use(engine, **options)``) returns a
wrapper. Outside a capture the wrapper just runs the engine's primal (``fn`` itself, or ``fn``
with its NumPy arguments converted for ``"torch"``/``"jax"``). Inside a capture, a call with
traced positional arguments is recorded as ONE IR node whose VJP (and JVP, where the engine has
one) is computed by the engine; nothing inside ``fn`` is captured. Keyword arguments are
constants (a traced keyword argument that names a positional parameter is moved to its
position first, so it is differentiated). Differentiable inputs must be positional arguments:
Python floats, NumPy inexact scalars or float arrays; values ``fn`` reaches through closures
or globals are constants for the engine. Outputs: a float, an array, or (nested) tuples/lists
of them.

Built-in engines (imported on first use, so framead never imports torch/jax by itself):
``"finite_diff"``, ``"torch"``, ``"jax"``, ``"autograd"``, ``"checkpoint"`` and ``"forward"``,
each in its module ``framead.engines.<name>_engine``, which calls ``register_engine`` when
imported. The wrapper that records a call as one node is framead/engines/wrapper.py.

Registry protocol (stable)
--------------------------
``register_engine(name, factory, replace=False)`` where

    factory(fn: Callable, options: dict) -> engine object

is called once per ``use(name, **options)(fn)`` (at decoration time, so bad options fail
early). The engine object has:

* ``call(*args, **kwargs)`` -- optional: the primal, NumPy in, NumPy out (default: ``fn``).
  It runs with capture disabled. ``call``, ``vjp`` and ``jvp`` run with the caller of the
  wrapper known: an engine calls ``fn`` as ``framead.engines.common.run_fn(fn, *args,
  **kwargs)`` so that ``fn`` sees that line as its caller, as natively (``warnings.warn(...,
  stacklevel=2)``, ``sys._getframe(1)``; capture/caller_frame.py).
* ``vjp(g, ans, args, kwargs, wrt)`` -- required: returns a tuple with one cotangent per
  positional argument (``len(args)``), None for every argnum not in ``wrt`` (the tuple of
  argnums that were traced at this call). ``args``/``kwargs`` are the primal values of the
  call (saved by the recorder, copy-on-write protected); ``g`` is shaped like the output
  (for tuple outputs a tuple with zeros filled in, None for non-differentiable leaves);
  ``ans`` is the output when ``saves_ans`` is true, else a ``framead.ir.Meta`` stand-in (or
  None/a tuple of them for tuple outputs). Cotangents follow docs/internals.md section 4:
  shaped like the argument (a float/NumPy scalar for scalars), real for real arguments,
  JAX's complex convention (no conjugation).
* ``jvp(tangents, ans, args, kwargs)`` -- optional: tangent of the output (``tangents`` has
  one entry per positional argument, None = zero); used by forward mode.
* ``name`` -- optional label for the IR (default ``"use[<engine>](<fn>)"``).
* ``saves_ans`` -- optional bool (default False): whether ``vjp``/``jvp`` read ``ans``.

A factory may instead return a ready ``framead.rules.Rule`` (from ``make_rule``); it is then
recorded as is, with the rule conventions of ``framead.rules.registry`` (``vjp(g, ans, *args,
**kwargs)``), and its ``fn`` is the primal.

Plugins: a distribution can declare entry points in the group ``framead.engines``; each
entry point loads to a factory (registered under the entry point's name) or to a module
that calls ``register_engine`` when imported. They are loaded lazily, the first time an
engine name is not found (or ``available_engines()`` is called); a plugin that fails to load
is reported as an ``EnginePluginWarning`` and skipped.
"""

from __future__ import annotations

import importlib
import threading
import types
import warnings
from collections.abc import Callable
from importlib import metadata
from typing import Any

from .wrapper import wrap

__all__ = ["register_engine", "unregister_engine", "get_engine", "available_engines", "use",
           "load_entry_points", "EnginePluginWarning", "UnknownEngineError"]


class EnginePluginWarning(UserWarning):
    """A ``framead.engines`` entry point could not be loaded (it is skipped)."""


class UnknownEngineError(ValueError):
    """``framead.use`` was given an engine name nobody registered."""


_ENGINES: dict[str, Callable] = {}
_BUILTIN_MODULES: dict[str, tuple[str, ...]] = {  # modules that register the name on import
    "finite_diff": ("framead.engines.finite_diff_engine",),
    "torch": ("framead.engines.torch_engine",),
    "jax": ("framead.engines.jax_engine",),
    "autograd": ("framead.engines.autograd_engine",),
    "checkpoint": ("framead.engines.checkpoint_engine",),
    "forward": ("framead.engines.forward_engine",),
}
_lock = threading.RLock()
_entry_points_loaded = [False]


def register_engine(name: str, factory: Callable[[Callable, dict], Any], *,
                    replace: bool = False) -> Callable:
    """Make ``framead.use(name, **options)`` available; ``factory(fn, options)`` returns the
    engine object (module docstring). Returns ``factory`` (usable as a decorator via
    ``functools.partial``)."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"engine name must be a non-empty string, got {name!r}")
    if not callable(factory):
        raise TypeError(f"engine factory for {name!r} must be callable, got {factory!r:.80}")
    with _lock:
        old = _ENGINES.get(name)
        if old is not None and old is not factory and not replace:
            raise ValueError(f"engine {name!r} is already registered ({old!r:.80}); pass "
                             "replace=True to override it")
        _ENGINES[name] = factory
    return factory


def unregister_engine(name: str) -> None:
    with _lock:
        _ENGINES.pop(name, None)


def load_entry_points(group: str = "framead.engines") -> list[str]:
    """Load the ``framead.engines`` plugins (once); failures become warnings. Returns the
    names of the entry points loaded by this call."""
    with _lock:
        if _entry_points_loaded[0]:
            return []
        _entry_points_loaded[0] = True
    loaded = []
    try:
        eps = list(metadata.entry_points(group=group))
    except Exception as e:  # a broken distribution's metadata
        warnings.warn(EnginePluginWarning(f"listing {group} entry points failed: "
                                          f"{type(e).__name__}: {e}"), stacklevel=2)
        return loaded
    for ep in eps:
        try:
            obj = ep.load()
            if callable(obj) and not isinstance(obj, types.ModuleType):
                if ep.name not in _ENGINES:
                    register_engine(ep.name, obj)
            loaded.append(ep.name)
        except Exception as e:
            warnings.warn(EnginePluginWarning(
                f"framead engine plugin {ep.name!r} ({ep.value}) failed to load: "
                f"{type(e).__name__}: {e}; it is skipped"), stacklevel=2)
    return loaded


def get_engine(name: str) -> Callable:
    """The factory registered as ``name`` (built-ins are imported, plugins loaded, on
    demand)."""
    f = _ENGINES.get(name)
    if f is not None:
        return f
    for mod in _BUILTIN_MODULES.get(name, ()):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise
        if name in _ENGINES:
            break
    f = _ENGINES.get(name)
    if f is None:
        load_entry_points()
        f = _ENGINES.get(name)
    if f is None:
        raise UnknownEngineError(f"unknown framead engine {name!r}; available: "
                                 f"{', '.join(available_engines())}")
    return f


def available_engines() -> list[str]:
    load_entry_points()
    return sorted(set(_ENGINES) | set(_BUILTIN_MODULES))



def use(engine: str, **options: Any) -> Callable[[Callable], Callable]:
    """``framead.use(engine, **options)(fn)``: every call of ``fn`` inside a capture becomes one
    node differentiated by ``engine`` (see the module docstring). Arguments may be containers
    of floats and arrays: the engine differentiates a function of their leaves.

    >>> import math
    >>> smooth = framead.use("finite_diff")(lambda p: math.sin(p[0]) * p[1])
    >>> g = framead.grad(lambda p: smooth(p) * 2.0)([0.0, 3.0])
    >>> [round(v, 6) for v in g]
    [6.0, 0.0]
    """
    if not isinstance(engine, str):
        raise TypeError("framead.use takes the engine's name first: @framead.use('torch') or "
                        f"framead.use('jax')(fn), got {engine!r:.80}")
    factory = get_engine(engine)

    def decorate(fn: Callable) -> Callable:
        if not callable(fn):
            raise TypeError(f"framead.use({engine!r}) wraps a callable, got {fn!r:.80}")
        return wrap(fn, factory(fn, dict(options)), engine, factory, options)

    return decorate
