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
``"finite_diff"``, ``"torch"``, ``"jax"``, ``"autograd"``, ``"checkpoint"``, and
``"forward"`` (module ``framead.engines.forward`` or ``framead.forward``, which calls
``register_engine("forward", factory)`` when imported).

Registry protocol (stable)
--------------------------
``register_engine(name, factory, replace=False)`` where

    factory(fn: Callable, options: dict) -> engine object

is called once per ``use(name, **options)(fn)`` (at decoration time, so bad options fail
early). The engine object has:

* ``call(*args, **kwargs)`` -- optional: the primal, NumPy in, NumPy out (default: ``fn``).
  It runs with capture disabled.
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

import contextlib
import functools
import importlib
import inspect
import sys
import threading
import types
import warnings
from collections.abc import Callable
from typing import Any

from framead import tree
from framead.ir import flatten_tree, unflatten_tree

__all__ = ["register_engine", "unregister_engine", "get_engine", "available_engines", "use",
           "load_entry_points", "EnginePluginWarning", "UnknownEngineError"]


class EnginePluginWarning(UserWarning):
    """A ``framead.engines`` entry point could not be loaded (it is skipped)."""


class UnknownEngineError(ValueError):
    """``framead.use`` was given an engine name nobody registered."""


_ENGINES: dict[str, Callable] = {}
_BUILTIN_MODULES: dict[str, tuple[str, ...]] = {  # modules that register the name on import
    "finite_diff": ("framead.engines.finite_diff",),
    "torch": ("framead.engines.torch_engine",),
    "jax": ("framead.engines.jax_engine",),
    "autograd": ("framead.engines.autograd_engine",),
    "checkpoint": ("framead.engines.checkpoint",),
    "forward": ("framead.engines.forward", "framead.forward"),
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
    from importlib.metadata import entry_points

    loaded = []
    try:
        eps = list(entry_points(group=group))
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


# --- the wrapper ---------------------------------------------------------------------------

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
        return _wrap(fn, factory(fn, dict(options)), engine, factory, options)

    return decorate


def _holds_traced(rec: Any, a: Any) -> bool:
    """Whether ``a`` is a container (framead.tree) with a traced leaf."""
    return tree.is_node(a) and a is not None and any(
        rec.value_of(v) is not None for v in tree.leaves(a))


# The function of the leaves that rebuilds the containers and calls ``fn``: compiled under a
# file name outside framead's package, so a capture records it like the user's code (an engine
# that re-captures the function, "forward" or "checkpoint", sees every operation).
_OF_LEAVES = "def of_leaves(*leaves, **kwargs):\n    return fn(*unflatten(td, leaves), **kwargs)\n"


def _of_leaves(fn: Callable, td: Any, fname: str) -> Callable:
    ns = {"fn": fn, "unflatten": tree.unflatten, "td": td}
    exec(compile(_OF_LEAVES, "<framead.use: containers as leaves>", "exec"), ns)
    flat = ns["of_leaves"]
    flat.__qualname__ = flat.__name__ = fname
    return flat


def _wrap(fn: Callable, eng: Any, engine_name: str, factory: Callable,
          options: dict) -> Callable:
    from framead.rules import Rule

    fname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    if isinstance(eng, Rule):
        call = eng.fn if eng.fn is not None else fn
        name = eng.name
    else:
        if not callable(getattr(eng, "vjp", None)):
            raise TypeError(f"engine {engine_name!r}: its factory returned {eng!r:.80}, which "
                            "has no vjp(g, ans, args, kwargs, wrt) method nor is a Rule")
        call = getattr(eng, "call", None) or fn
        name = getattr(eng, "name", None) or f"use[{engine_name}]({fname})"
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        sig = None
    rules: dict = {}
    by_structure: dict = {}  # containers of traced values: fn of the leaves, per structure

    def rule_for(nargs: int, wrt: tuple, multi: bool):
        key = (nargs, wrt, multi)
        r = rules.get(key)
        if r is None:
            r = rules[key] = _make_rule(eng, call, name, nargs, wrt, multi)
        return r

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        rec = _active_recorder()
        if rec is None:
            return call(*args, **kwargs)
        frame = sys._getframe(1)
        if kwargs and sig is not None:
            args, kwargs = _move_traced_keywords(rec, sig, args, kwargs)
        if any(_holds_traced(rec, a) for a in args):
            leaves, td = tree.flatten(tuple(args))
            try:
                inner = by_structure.get(td)
            except TypeError:  # a registered class with unhashable aux data
                inner = None
            if inner is None:
                flat = _of_leaves(fn, td, fname)
                inner = _wrap(flat, factory(flat, dict(options)), engine_name, factory,
                              options)
                with contextlib.suppress(TypeError):
                    by_structure[td] = inner
            return inner(*leaves, **kwargs)
        wrt = []
        for i, a in enumerate(args):
            v = rec.tree_value(a)
            if v is None:
                continue
            if type(v) in (list, tuple):
                rec.hazard("FA106", name, frame,
                           f"{name}: argument {i} is a list/tuple holding traced values; "
                           "framead.use differentiates floats and arrays passed positionally, "
                           "so it is treated as a constant")
                continue
            wrt.append(i)
        for k, a in kwargs.items():
            if rec.tree_value(a) is not None:
                rec.hazard("FA106", name, frame,
                           f"{name}: traced keyword argument {k!r} is a constant for "
                           "framead.use; pass it positionally to differentiate it")
        if not wrt:
            from framead.capture.recorder import _call_quiet

            return _call_quiet(call, args, kwargs)
        if isinstance(eng, Rule):
            rule = eng
        else:
            rule = rule_for(len(args), tuple(wrt), False)
        result = rec.apply(rule, call, args, kwargs, args, frame)
        if not isinstance(eng, Rule) and type(result) in (tuple, list):
            node = rec.nodes[-1] if rec.nodes else None
            if node is not None and node.rule is rule and node.multi:
                node.rule = rule_for(len(args), tuple(wrt), True)
        return result

    wrapper.__framead_engine__ = engine_name  # type: ignore[attr-defined]
    wrapper.engine = eng  # type: ignore[attr-defined]
    return wrapper


def _active_recorder():
    """This thread's recorder when capture is on (None outside capture, or inside a region
    running natively, such as a rule's own call)."""
    from framead.capture import _evalframe as C
    from framead.capture.session import current_recorder

    rec = current_recorder()
    if rec is None or not C.is_enabled():
        return None
    return rec


def _move_traced_keywords(rec: Any, sig: inspect.Signature, args: tuple,
                          kwargs: dict) -> tuple[tuple, dict]:
    if not any(rec.tree_value(v) is not None for v in kwargs.values()):
        return args, kwargs
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError:
        return args, kwargs
    return tuple(bound.args), dict(bound.kwargs)


def _make_rule(eng: Any, call: Callable, name: str, nargs: int, wrt: tuple, multi: bool):
    from framead.rules import make_rule

    def vjp(g, ans, *args, **kwargs):
        cts = eng.vjp(g, ans, args, kwargs, wrt)
        cts = tuple(cts)
        if len(cts) != len(args):
            raise ValueError(f"{name}: the engine's vjp returned {len(cts)} cotangents for "
                             f"{len(args)} positional arguments")
        return cts

    jvp = None
    eng_jvp = getattr(eng, "jvp", None)
    if callable(eng_jvp):
        def jvp(tangents, ans, *args, **kwargs):
            return eng_jvp(tangents, ans, args, kwargs)

    everything: tuple = tuple(range(nargs))
    if getattr(eng, "saves_ans", False):
        everything = (*everything, "ans")
    return make_rule(call, vjp=vjp, jvp=jvp, name=name, argnames=None, multi=multi,
                     saves={i: everything for i in wrt})


# --- helpers shared by the built-in engines ---------------------------------------------------

_flatten, _unflatten = flatten_tree, unflatten_tree


def _substituting(fn: Callable, args: list, wrt: tuple, kwargs: dict) -> Callable:
    """``fn`` as a function of ``args[wrt]`` only (the others fixed), for torch/jax VJPs."""
    def f(*xs):
        a = list(args)
        for i, x in zip(wrt, xs, strict=True):
            a[i] = x
        out = fn(*a, **kwargs)
        return tuple(out) if type(out) is list else out
    return f


def _cast_cotangent(ct: Any, arg: Any) -> Any:
    """A cotangent shaped like ``arg`` (float for a float, NumPy scalar for a NumPy scalar,
    array otherwise; real for a real argument)."""
    import numpy as np

    if ct is None:
        return None
    ct = np.asarray(ct)
    if isinstance(arg, np.ndarray):
        dt = arg.dtype
        if dt.kind != "c":
            ct = ct.real
        ct = np.asarray(ct, dtype=np.result_type(dt, np.float16))
        return np.broadcast_to(ct, arg.shape).copy() if ct.shape != arg.shape else ct
    if isinstance(arg, complex | np.complexfloating):
        return type(arg)(complex(ct.reshape(())))
    if isinstance(arg, np.inexact):
        return type(arg)(float(np.real(ct).reshape(())))
    return float(np.real(ct).reshape(()))
