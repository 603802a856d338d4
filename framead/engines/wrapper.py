"""The wrapper ``framead.use`` puts around a function: inside a capture, a call with traced
positional arguments becomes ONE node whose rule asks the engine for the VJP (and JVP);
containers of traced values become a function of their leaves first (framead/engines/
__init__.py describes the engine protocol)."""

from __future__ import annotations

import contextlib
import functools
import inspect
import operator
import os
import sys
import types
from collections.abc import Callable
from typing import Any

from framead import tree
from framead.capture._evalframe import call as probe_call
from framead.capture.caller_frame import trampoline
from framead.capture.native import call_quiet
from framead.capture.sourceloc import strip_framead_frames
from framead.capturing import active_recorder
from framead.rules import Rule, make_rule

from .common import _CALLER, calling_from, cotangents, glue


def _holds_traced(rec: Any, a: Any) -> bool:
    """Whether ``a`` is a container (framead.tree) with a traced leaf."""
    return tree.is_node(a) and a is not None and any(
        rec.value_of(v) is not None for v in tree.leaves(a))


# The function of the leaves that rebuilds the containers and calls ``fn``: compiled under a
# file name outside framead's package, so a capture records it like the user's code (an engine
# that re-captures the function, "forward" or "checkpoint", sees every operation).
# ``fn`` is called from the wrapper's caller's line (the trampoline ``caller()`` gives) through
# the capture's call probe: dispatched as the call written in the user's code.
_OF_LEAVES = ("def of_leaves(*leaves, **kwargs):\n"
              "    via = caller()\n"
              "    if via is None:\n"
              "        return fn(*unflatten(td, leaves), **kwargs)\n"
              "    return via(probe, fn, unflatten(td, leaves), kwargs)\n")


def _of_leaves(fn: Callable, td: Any, fname: str) -> Callable:
    ns = {"fn": fn, "unflatten": tree.unflatten, "td": td, "caller": _CALLER.get,
          "probe": probe_call}
    exec(compile(_OF_LEAVES, "<framead.use: containers as leaves>", "exec"), ns)
    flat = ns["of_leaves"]
    flat.__qualname__ = flat.__name__ = fname
    return flat


def wrap(fn: Callable, eng: Any, engine_name: str, factory: Callable, options: dict) -> Callable:
    """The wrapper ``framead.use(engine_name, **options)`` returns for ``fn``; ``eng`` is what
    ``factory(fn, options)`` made (an engine object or a Rule). ``fn`` runs from the line that
    called the wrapper (a trampoline, capture/caller_frame.py): the built-in engines call it
    through ``common.run_fn`` in the primal, the VJP and the JVP; a Rule's primal and an
    engine's ``fn`` called directly run from it too. Errors leave without framead's frames."""
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

    direct = isinstance(eng, Rule) or call is fn  # (no engine code between: call fn from via)

    def rule_for(nargs: int, wrt: tuple, multi: bool, via: Callable):
        key = (nargs, wrt, multi, via)  # (one rule per call site: its VJP calls fn from there)
        r = rules.get(key)
        if r is None:
            if len(rules) >= 256:
                rules.clear()
            r = rules[key] = _make_rule(eng, call, name, nargs, wrt, multi, via,
                                             engine_name, factory)
        return r

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            frame = sys._getframe(1)
            via = trampoline(frame, fn)
            rec = active_recorder()
            if rec is not None:
                return run(rec, frame, via, args, kwargs)
            if direct:
                return via(operator.call, call, args, kwargs)
            token = _CALLER.set(via)  # (calling_from inline: a frame less)
            try:
                return call(*args, **kwargs)
            finally:
                _CALLER.reset(token)
        except BaseException as e:
            if not os.environ.get("FRAMEAD_SHOW_INTERNALS"):
                e.__traceback__ = strip_framead_frames(e.__traceback__)
            raise

    def run(rec: Any, frame: Any, via: Callable, args: tuple, kwargs: dict) -> Any:
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
                inner = wrap(flat, factory(flat, dict(options)), engine_name, factory, options)
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
            if direct:
                return call_quiet(via, (operator.call, call, args, kwargs), {})
            with calling_from(via):
                return call_quiet(call, args, kwargs)
        if isinstance(eng, Rule):
            rule = eng
        else:
            rule = rule_for(len(args), tuple(wrt), False, via)
        with calling_from(via):
            result = rec.apply(rule, _from(via, call) if direct else call, args, kwargs,
                               args, frame)
        if not isinstance(eng, Rule) and type(result) in (tuple, list):
            node = rec.nodes[-1] if rec.nodes else None
            if node is not None and node.rule is rule and node.multi:
                node.rule = rule_for(len(args), tuple(wrt), True, via)
        return result

    wrapper.__framead_engine__ = engine_name  # type: ignore[attr-defined]
    wrapper.engine = eng  # type: ignore[attr-defined]
    return wrapper


def _from(via: Callable, call: Callable) -> Callable:
    """``call`` run from ``via`` (the caller's line): a Rule's primal, or an engine's ``fn``."""
    def primal(*args: Any, **kwargs: Any) -> Any:
        return via(operator.call, call, args, kwargs)
    return primal


def _move_traced_keywords(rec: Any, sig: inspect.Signature, args: tuple,
                          kwargs: dict) -> tuple[tuple, dict]:
    if not any(rec.tree_value(v) is not None for v in kwargs.values()):
        return args, kwargs
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError:
        return args, kwargs
    return tuple(bound.args), dict(bound.kwargs)


# The rule's VJP/JVP of an engine that supports higher orders (``higher_order``): compiled as
# derivative glue (common.GLUE_FILE), so a nested capture's report of opaque derivatives
# (FA107, framead/tracing.py report_opaque) knows an outer capture records what they compute.
_RULE_GLUE = glue("""
def vjp(g, ans, *args, **kwargs):
    return engine_vjp(g, ans, args, kwargs)


def jvp(tangents, ans, *args, **kwargs):
    return engine_jvp(tangents, ans, args, kwargs)
""")


def _make_rule(eng: Any, call: Callable, name: str, nargs: int, wrt: tuple, multi: bool,
               via: Callable, engine_name: str, factory: Callable):
    """The Rule of one call site. An engine's ``higher_order`` says how its derivatives are
    differentiated again inside an outer capture (grad of grad, hessian): ``"visible"`` (the
    outer capture records the VJP's own computation), or a function ``higher_order(wrt)``
    returning the VJP as a function ``(g, *args, **kwargs) -> cotangents of args[wrt]`` that
    the same engine differentiates (recorded as one node of the outer capture), or a pair
    (that function, the engine's options for it). Without it the outer capture reports
    FA107."""
    higher = getattr(eng, "higher_order", None)
    second: list = []  # the VJP wrapped as an engine call (made on first use)

    def engine_vjp(g, ans, args, kwargs):
        rec = active_recorder() if callable(higher) else None
        if rec is not None and any(rec.value_of(v) is not None
                                   for v in tree.leaves((g, args))):
            if not second:
                f, opts = _split_options(higher(wrt))  # type: ignore[misc]
                second.append(wrap(f, factory(f, dict(opts)), engine_name, factory, opts))
            return cotangents(args, wrt, tuple(second[0](g, *args, **kwargs)))
        with calling_from(via):
            cts = eng.vjp(g, ans, args, kwargs, wrt)
        cts = tuple(cts)
        if len(cts) != len(args):
            raise ValueError(f"{name}: the engine's vjp returned {len(cts)} cotangents for "
                             f"{len(args)} positional arguments")
        return cts

    eng_jvp = getattr(eng, "jvp", None)

    def engine_jvp(tangents, ans, args, kwargs):
        with calling_from(via):
            return eng_jvp(tangents, ans, args, kwargs)  # type: ignore[misc]

    def own_vjp(g, ans, *args, **kwargs):  # framead's own code: an outer capture reports FA107
        return engine_vjp(g, ans, args, kwargs)

    def own_jvp(tangents, ans, *args, **kwargs):
        return engine_jvp(tangents, ans, args, kwargs)

    vjp: Callable = own_vjp
    jvp: Callable | None = own_jvp if callable(eng_jvp) else None
    if higher is not None:  # the same, as derivative glue an outer capture records
        ns = {"engine_vjp": engine_vjp, "engine_jvp": engine_jvp}
        vjp = types.FunctionType(_RULE_GLUE["vjp"].__code__, ns, "vjp")
        if jvp is not None:
            jvp = types.FunctionType(_RULE_GLUE["jvp"].__code__, ns, "jvp")

    everything: tuple = tuple(range(nargs))
    if getattr(eng, "saves_ans", False):
        everything = (*everything, "ans")
    return make_rule(call, vjp=vjp, jvp=jvp, name=name, argnames=None, multi=multi,
                     saves={i: everything for i in wrt})


def _split_options(h: Any) -> tuple[Callable, dict]:
    """``higher_order``'s answer as (function, engine options)."""
    return (h[0], dict(h[1])) if type(h) is tuple else (h, {})
