"""The reverse pass's engines agree with each other and with finite differences, on scalar
programs whose operands are floats, NumPy float64 scalars and float subclasses (one with
its own operators).

framead runs a reverse pass as a step loop (the default), as compiled generated source
(under a profiler, FRAMEAD_BACKWARD=source) or, for a cached trace, as a replay; scalar
nodes of common rules take inline formulas there. A formula applied to a primal of the
wrong class computes with that class's operators: ``x ** 2`` on a float subclass whose
``*`` scales by ten gave 40 instead of 4 in the step loop and in replays, while compiled
source gave 4. Each drawn program runs through every engine at points of every operand type.
"""

from __future__ import annotations

import math
import operator

import numpy as np
import pytest
from conftest import load_source_module
from framead.rules import registry
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

import framead


class Plain(float):
    """A float subclass with float's own operators."""


class Scaled(float):
    """A float subclass whose ``*`` is ten times the product (its own Python operator)."""

    def __mul__(self, other):
        return Scaled(10.0 * float(self) * other)

    __rmul__ = __mul__


TYPES = {"float": float, "float64": np.float64, "Plain": Plain, "Scaled": Scaled}
CONSTS = ["0.5", "1.5", "-0.75", "2.0", "3"]


@st.composite
def programs(draw) -> str:
    """A straight-line function of x and y: each statement applies one operation (the
    inlined rules and others) to earlier names and constants; the result mixes them all."""
    names = ["x", "y"]
    lines = []
    for k in range(draw(st.integers(2, 7))):
        a = draw(st.sampled_from(names))
        b = draw(st.sampled_from(names + CONSTS))
        form = draw(st.sampled_from([
            "{a} + {b}", "{a} - {b}", "{b} - {a}", "{a} * {b}", "{b} * {a}",
            "{a} / (1.5 + {b} * {b})", "{a} ** 2", "{a} ** 3", "-{a}", "+{a} * 1.0",
            "math.sin({a})", "math.cos({a})", "math.exp(0.25 * {a})", "math.tanh({a})",
            "{a} * {a}", "{a} * {b} + {a}"]))
        lines.append(f"    t{k} = " + form.format(a=a, b=b))
        names.append(f"t{k}")
    result = " + ".join(f"0.{i + 1} * {n}" for i, n in enumerate(names[2:]))
    return "import math\n\n\ndef f(x, y):\n" + "\n".join(lines) + f"\n    return {result}\n"


def central(f, args: tuple, i: int, kind: type, h: float) -> float:
    """d f / d args[i] by central differences, the argument kept of its class."""
    def at(d: float) -> float:
        xs = list(args)
        xs[i] = kind(float(args[i]) + d)
        return float(f(*xs))
    return (at(h) - at(-h)) / (2 * h)


def engines(f, monkeypatch) -> dict:
    """name -> gradient function of every engine."""
    def loop(*a):
        monkeypatch.setenv("FRAMEAD_BACKWARD", "loop")
        return framead.grad(f, argnums=(0, 1))(*a)

    def source(*a):
        monkeypatch.setenv("FRAMEAD_BACKWARD", "source")
        return framead.grad(f, argnums=(0, 1))(*a)

    cached = framead.grad(f, argnums=(0, 1), cache=True)

    def replay(*a):
        monkeypatch.delenv("FRAMEAD_BACKWARD", raising=False)
        cached(*a)  # the first call records (or hits, from an earlier point)
        return cached(*a)  # a cache hit: the replay

    return {"step loop": loop, "compiled source": source, "cached replay": replay}


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(src=programs(), tx=st.sampled_from(sorted(TYPES)), ty=st.sampled_from(sorted(TYPES)),
       x=st.floats(-1.5, 1.5), y=st.floats(-1.5, 1.5))
def test_engines_agree_with_differences(src, tx, ty, x, y, tmp_path_factory, monkeypatch):
    note(src)
    mod, _ = load_source_module(src, tmp_path_factory.mktemp("engines"), "framead_engines")
    kinds = (TYPES[tx], TYPES[ty])
    args = (kinds[0](x), kinds[1](y))
    with np.errstate(all="ignore"):
        value = float(mod.f(*args))
    assume(math.isfinite(value) and abs(value) < 1e6)
    want = []
    for i in range(2):
        d1 = central(mod.f, args, i, kinds[i], 1e-5)
        d2 = central(mod.f, args, i, kinds[i], 2e-5)
        assume(math.isfinite(d1) and abs(d1 - d2) <= 1e-6 * max(1.0, abs(d1)))
        want.append(d1)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, grad in engines(mod.f, monkeypatch).items():
            got = grad(*args)
            for i in range(2):
                g = 0.0 if got[i] is None else float(got[i])
                assert g == pytest.approx(want[i], rel=1e-5, abs=1e-6), (
                    f"{name}: d/d{'xy'[i]} = {g}, finite differences {want[i]} "
                    f"({tx}, {ty}) for\n{src}")


class Interrupt(Exception):
    """Stands for an asynchronous exception (PyThreadState_SetAsyncExc) landing anywhere."""


@pytest.mark.parametrize("where", ["making a step", "a VJP"])
def test_exceptions_between_steps_reach_the_caller_unchanged(where, monkeypatch):
    """An exception that interrupts the step loop while it makes a node's step, or inside a
    VJP, reaches the caller as itself (the note naming the node is a courtesy: it must never
    replace the exception, as an AttributeError from the note's own code once did)."""
    from framead import reverse

    def f(x):
        y = np.sin(x) * x
        return float(np.sum(y * y))

    if where == "making a step":
        def fail(node, check):
            raise Interrupt("landed in _make_step")
        monkeypatch.setattr(reverse, "_make_step", fail)
    else:
        real = reverse._make_step

        def wrapped(node, check):
            st = real(node, check)
            if st.fused is None and st.parts:
                def boom(*a, **k):
                    raise Interrupt("landed in a VJP")
                st.parts = tuple((i, boom, *rest) for i, _fn, *rest in st.parts)
                st.joint = None
            return st
        monkeypatch.setattr(reverse, "_make_step", wrapped)
    monkeypatch.setenv("FRAMEAD_BACKWARD", "loop")
    with pytest.raises(Interrupt):
        framead.grad(f)(np.linspace(0.1, 1.0, 5))


def _sevens(g, ans, *args):
    return tuple(7.0 * g for _ in args)


# (function, the expression that calls it, a replacement VJP of its arguments, the saves)
REPLACED = [
    (math.sin, "math.sin(x)", _sevens, {0: ()}),
    (math.exp, "math.exp(x)", _sevens, {0: ()}),
    (operator.mul, "x * y", _sevens, {0: (), 1: ()}),
    (operator.truediv, "x / y", _sevens, {0: (), 1: ()}),
    (operator.add, "x + y", _sevens, {0: (), 1: ()}),
    (operator.pow, "x ** 3", lambda g, ans, x, n: (7.0 * g, None), {0: (), 1: ()}),
]


@pytest.mark.parametrize("fn,src,vjp,saves", REPLACED, ids=lambda v: getattr(v, "__name__", ""))
def test_a_rule_registered_in_place_of_a_shipped_one_keeps_its_vjp(fn, src, vjp, saves,
                                                                  tmp_path_factory,
                                                                  monkeypatch):
    """The inline formulas are those of framead's own rules: a rule registered in place of
    one (``replace=True``) must have its own VJP used by every engine. The step loop and
    replays went by the rule's function and applied the shipped formula (d sin = cos)."""
    mod, _ = load_source_module(f"import math\n\n\ndef f(x, y):\n    return {src}\n",
                                tmp_path_factory.mktemp("replaced"), "framead_replaced")
    saved = registry._BY_ID[id(fn)]
    try:
        registry.register(fn, vjp=vjp, saves=saves, replace=True)
        for name, grad in engines(mod.f, monkeypatch).items():
            got = grad(1.25, 0.5)
            assert float(got[0]) == 7.0, (name, got)
    finally:
        registry._BY_ID[id(fn)] = saved
        registry._GENERATION[0] += 1
