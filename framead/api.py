"""Public entry points: grad, value_and_grad, vjp, trace (capturing through
framead/tracing.py)."""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from . import tree
from .cache import CachedValueAndGrad, with_cache_controls
from .capture.session import internals_visible
from .capture.sourceloc import strip_framead_frames, user_stacklevel
from .errors import GradientWarning
from .inputs import default_argnums
from .ir import Value
from .nonfinite import finite, has_nan, report_nonfinite, value_is_finite
from .reverse import seed_cotangents
from .tracing import (
    STRICT,
    Trace,
    capture,
    describe,
    name_of,
    nested_vjp,
    norm_argnums,
    paused_gc,
    scalar_seed,
    split_aux,
    user_facing,
)

__all__ = ["GradientWarning", "Trace", "grad", "strict", "trace", "value_and_grad", "vjp"]

GC_PAUSE_NODES = 64  # reverse passes longer than this run with the cyclic collector paused


@contextlib.contextmanager
def strict(on: bool = True) -> Iterator[None]:
    """``with framead.strict():`` every grad/trace inside raises GradientHazard at the first
    hazard (the environment variable FRAMEAD_STRICT=1 does the same process-wide).

    >>> with framead.strict():
    ...     framead.grad(lambda x: int(x) * x)(2.5)
    Traceback (most recent call last):
    framead.errors.GradientHazard: FA102 [gradient-cut] at ...
    """
    token = STRICT.set(on)
    try:
        yield
    finally:
        STRICT.reset(token)


def trace(f: Callable, *args: Any, argnums: int | Sequence[int] | None = None,
          strict: bool | None = None, **kwargs: Any) -> Trace:
    """Run ``f(*args)`` under capture and return the recorded IR (print it to read it).

    Every float/array positional argument (and container of them) is an input unless
    ``argnums`` says otherwise.

    >>> print(framead.trace(lambda x: x * x + 1.0, 3.0))
    graph(%1:float):
      %2:float = operator.mul(%1, %1)   # <doctest ...>:1  print(framead.trace(...))
      %3:float = operator.add(%2, 1.0)  # <doctest ...>:1  print(framead.trace(...))
      return %3
    """
    if argnums is None:
        argnums = default_argnums(args)
    return capture(f, args, kwargs, norm_argnums(argnums, len(args)), strict)


def vjp(f: Callable, *args: Any, argnums: int | Sequence[int] | None = None,
        strict: bool | None = None, has_aux: bool = False, **kwargs: Any) -> tuple:
    """``out, f_vjp = vjp(f, *args)``: ``f_vjp(cotangent)`` (shaped like ``out``: any
    container of floats and arrays) returns the cotangents of ``args[argnums]`` (a tuple,
    each shaped like its argument; every argument holding floats by default).
    ``has_aux=True``: ``f`` returns ``(out, aux)`` and ``vjp`` returns ``(out, f_vjp, aux)``.

    >>> out, f_vjp = framead.vjp(lambda p: {"y": p["a"] * p["b"]}, {"a": 2.0, "b": 5.0})
    >>> f_vjp({"y": 1.0})
    ({'a': 5.0, 'b': 2.0},)
    """
    if argnums is None:
        argnums = default_argnums(args)
    nums = norm_argnums(argnums, len(args))
    t = capture(f, args, kwargs, nums, strict)
    aux = split_aux(t, name_of(f)) if has_aux else None
    inner_vjp = nested_vjp(t) if t.nested else None

    def f_vjp(cotangent: Any) -> tuple:
        cts = _cotangent_leaves(t, cotangent, f)
        if not t.nested:  # a gradient that is the seed itself (f = identity) is not the
            # caller's cotangent object: writing into one must not change the other
            cts = [c.copy() if isinstance(c, np.ndarray) else c for c in cts]
        pairs = [(v.id, c) for v, c in zip(t.graph.outputs, cts, strict=True)
                 if isinstance(v, Value) and c is not None]
        if inner_vjp is not None:
            # inside another capture the cotangents may depend on its inputs: their sum (one
            # value returned twice) is made where that capture records it
            with internals_visible():
                seeds = seed_cotangents(pairs)
            return inner_vjp(seeds)
        seeds = seed_cotangents(pairs)
        with paused_gc():
            grads = t.backward()(seeds) if seeds else [None] * len(t.wrt)
        if any(map(has_nan, grads)) and all(map(finite, tree.flatten(t.value)[0])):
            report_nonfinite(t.backward(), seeds, name_of(f), t.strict)  # FA112: where born
        return t.spec.pack(grads)

    return (t.value, f_vjp, aux) if has_aux else (t.value, f_vjp)


def _cotangent_leaves(t: Trace, cotangent: Any, f: Callable) -> list:
    """The cotangent's leaves, one per output leaf (dicts matched by key; None: zero), each
    shaped like its output leaf (or a scalar, broadcast)."""
    cts = _cotangent_structure(t, cotangent, f)
    for (path, leaf), c in zip(tree.flatten_with_paths(t.value)[0], cts, strict=True):
        if c is None or not tree.differentiable(leaf):
            continue
        where = f"the cotangent{' at ' + path if path else ''}"
        try:
            shape, kind = np.shape(c), np.asarray(c).dtype.kind
        except ValueError:
            shape, kind = None, "O"
        if kind not in "biufc":
            raise ValueError(f"{where} is {describe(c)}, not a number or an array; "
                             f"{name_of(f)} returned {describe(leaf)} there")
        if shape != np.shape(leaf) and shape != ():
            raise ValueError(f"{where} has shape {shape}; {name_of(f)} returned "
                             f"{describe(leaf)} there")
    return cts


def _cotangent_structure(t: Trace, cotangent: Any, f: Callable) -> list:
    try:
        return t.out_treedef.flatten_up_to(cotangent)
    except ValueError as e:
        cts, ct_treedef = tree.flatten(cotangent)
        if not (_sequences_only(t.out_treedef) and _sequences_only(ct_treedef)):
            # keys and fields name the outputs: matched by position they could be silently
            # wrong ({"z": 1.0, "w": 0.0} for {"y": ..., "z": ...})
            raise ValueError(f"the cotangent does not match the output of {name_of(f)}: {e}"
                             ) from None
        if len(cts) != len(t.graph.outputs):
            raise ValueError(f"the cotangent has {len(cts)} leaves; {name_of(f)} returned "
                             f"{len(t.graph.outputs)} ({e})") from None
        return cts


def _sequences_only(td: Any) -> bool:
    """Whether a structure is made of leaves, tuples and lists only (whose cotangents may be
    given as the flat sequence of their leaves)."""
    return td.is_leaf or (td.kind.name in ("tuple", "list") and all(
        _sequences_only(c) for c in td.children))


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, *,
                   strict: bool | None = None, cache: bool = False,
                   has_aux: bool = False) -> Callable:
    """``value_and_grad(f)(*args) -> (f(*args), gradient)``; the gradient has the structure
    of ``args[argnums]`` (a float, an array, or a tuple/list/dict/dataclass of them), a tuple
    of those for tuple ``argnums``. ``has_aux=True``: ``f`` returns ``(loss, aux)`` and the
    result is ``((loss, aux), gradient)``. ``strict=True`` raises GradientHazard at the first
    hazard. ``cache=True`` re-runs the recorded trace on later calls while its guards hold
    (framead/cache.py).

    >>> framead.value_and_grad(lambda p: p[0] ** 2 * p[1])([3.0, 2.0])
    (18.0, [12.0, 9.0])
    """
    if cache:  # inside another capture the cache steps aside for the uncached function
        uncached = value_and_grad(f, argnums, strict=strict, has_aux=has_aux)
        cached = CachedValueAndGrad(f, argnums, strict, has_aux=has_aux, uncached=uncached)
        return with_cache_controls(user_facing(cached), cached)
    return functools.wraps(f)(_value_and_grad(f, argnums, strict, has_aux))


def _value_and_grad(f: Callable, argnums: int | Sequence[int], strict: bool | None,
                    has_aux: bool, grad_only: bool = False) -> Callable:
    """``value_and_grad(f)``'s call, or ``grad(f)``'s with ``grad_only`` (its errors leave
    without framead's frames, as ``user_facing``'s)."""
    single = isinstance(argnums, int | np.integer)
    # argnums normalised once per number of arguments (immutable ones only: a list the
    # caller changes later is read again)
    nums_by_nargs: dict[int, tuple[int, ...]] | None = \
        {} if single or type(argnums) is tuple else None
    fname = name_of(f)  # (for messages: once per function)

    def run(*args: Any, **kwargs: Any):
        try:  # (user_facing's, inline: one frame less)
            nums = nums_by_nargs.get(len(args)) if nums_by_nargs is not None else None
            if nums is None:
                nums = norm_argnums(argnums, len(args))
                if nums_by_nargs is not None:
                    nums_by_nargs[len(args)] = nums
            t = capture(f, args, kwargs, nums, strict)
            aux = split_aux(t, fname) if has_aux else None
            value = (t.value, aux) if has_aux else t.value
            seed = 1.0 if type(t.value) is float else scalar_seed(t.value, t, fname)
            v = t.graph.outputs[0]
            if t.nested:  # inside another capture: a derivative it can differentiate again
                out = nested_vjp(t)({v.id: seed} if isinstance(v, Value) else {})
                g = out[0] if single else out
                if grad_only:
                    return (g, aux) if has_aux else g
                return value, g
            if isinstance(v, Value):
                bw = t.backward()
                if len(bw.nodes) > GC_PAUSE_NODES:
                    with paused_gc():
                        grads = bw({v.id: seed})
                else:  # (a short pass: pausing the collector costs more than it could save)
                    grads = bw({v.id: seed})
            else:
                grads = [None] * len(t.wrt)
            nan = False
            for g in grads:  # (a float's NaN test inline: the common case)
                if (g != g) if type(g) is float else has_nan(g):
                    nan = True
                    break
            if nan and value_is_finite(t.value):  # FA112: where born
                report_nonfinite(t.backward(), {v.id: seed}, fname, t.strict)
            hazards, spec = t.hazards, t.spec
            del t
            for g in grads:
                if g is not None:
                    break
            else:  # every gradient None
                warnings.warn(GradientWarning(
                    f"the output of {fname} does not depend on argument(s) {list(nums)} through "
                    "any operation framead saw; the gradient is zero"
                    + (f". framead reported {len(hazards)} hazard(s) that may explain it: "
                       f"{hazards[0]}" if hazards else "")), stacklevel=user_stacklevel())
            out = spec.pack(grads)
            g = out[0] if single else out
            if grad_only:
                return (g, aux) if has_aux else g
            return value, g
        except BaseException as e:
            if not os.environ.get("FRAMEAD_SHOW_INTERNALS"):
                e.__traceback__ = strip_framead_frames(e.__traceback__)
            raise

    return run


def grad(f: Callable, argnums: int | Sequence[int] = 0, *,
         strict: bool | None = None, cache: bool = False, has_aux: bool = False) -> Callable:
    """``grad(f)(*args)``: the gradient of a scalar-valued ``f`` with respect to
    ``args[argnums]``, with that argument's structure (containers of floats and arrays give
    the same containers of gradients). ``has_aux=True``: ``f`` returns ``(loss, aux)`` and
    ``grad`` returns ``(gradient, aux)``. ``strict=True`` raises GradientHazard at the first
    hazard; ``cache=True`` re-runs the recorded trace while its guards hold
    (framead/cache.py).

    >>> import math
    >>> framead.grad(lambda x: math.sin(x) * x)(0.0)
    0.0
    >>> framead.grad(lambda p: p["w"] * p["x"])({"w": 2.0, "x": 3.0})
    {'w': 3.0, 'x': 2.0}
    """
    if not cache:  # (value_and_grad's call itself, returning the gradient)
        return functools.wraps(f)(_value_and_grad(f, argnums, strict, has_aux,
                                                  grad_only=True))
    vg = value_and_grad(f, argnums, strict=strict, cache=cache, has_aux=has_aux)

    @functools.wraps(f)
    @user_facing
    def wrapper(*args: Any, **kwargs: Any):
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return with_cache_controls(wrapper, vg)
