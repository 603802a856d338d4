"""vmap's one-pass path (framead/batching_trace.py, framead/batching_rules.py): results equal
to the per-example loop (same shape and dtype, 1e-12 relative) and to finite differences, and
every program it cannot batch exactly falls back to the loop with its reason reported."""

from __future__ import annotations

import math
import random
import warnings

import numpy as np
import pytest
from conftest import fd_grad as _fd_grad
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framead

warnings.filterwarnings("ignore", category=framead.GradientWarning)


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(b).max()))


def both(F, *args, in_axes=0, **kw):
    """(one pass, loop, stats) of vmap(F)."""
    v = framead.vmap(F, in_axes=in_axes, **kw)
    return v(*args), framead.vmap(F, in_axes=in_axes, fast=False)(*args), v.vmap_stats


def fd_grad(f, x):
    """Central differences in float64 (conftest's Richardson stencil), element by element."""
    return _fd_grad(f, (np.asarray(x, dtype=np.float64),), 0, step=1e-5)


def loss(w, x, y):
    z = np.tanh(w * x) + np.exp(-x ** 2) / 2
    m = np.mean(z * z, axis=0)
    return np.sum((m - y) ** 2) + 0.5 * np.max(np.abs(w)) + math.sin(float(y[0]))


def mlp(W, b, x):
    h = np.tanh(W @ x + b)
    return float(np.sum(h.reshape(-1)[::2] ** 2) + x.T @ x)


def writes(w, x):
    z = np.zeros(len(x))
    for i in range(len(x)):
        z[i] = w[i] * x[i]
    z[1:] += 2.0 * z[:-1]
    return float(np.sum(np.tanh(z)))


RNG = np.random.default_rng(0)


@pytest.mark.parametrize("wrap", ["jit", "jit_grad", "cached_grad"])
def test_qualifying_programs_batched(wrap):
    W, b = RNG.normal(size=(4, 3)), RNG.normal(size=4)
    X = RNG.normal(size=(16, 3))
    w2, X2, Y2 = RNG.normal(size=(2, 3)), RNG.normal(size=(16, 2, 3)), RNG.normal(size=(16, 3))
    for f, args, ax in [(mlp, (W, b, X), (None, None, 0)), (loss, (w2, X2, Y2), (None, 0, 0)),
                        (writes, (X[0].copy(), X), (None, 0))]:
        F = {"jit": framead.jit(f), "jit_grad": framead.jit(framead.grad(f, argnums=1)),
             "cached_grad": framead.grad(f, argnums=1, cache=True)}[wrap]
        got, want, stats = both(F, *args, in_axes=ax)
        same(got, want)
        assert stats["last"] == "batched", stats["reasons"]


def test_gradients_against_finite_differences():
    w, X, Y = RNG.normal(size=(2, 3)), RNG.normal(size=(8, 2, 3)), RNG.normal(size=(8, 3))
    v = framead.vmap(framead.jit(framead.grad(loss, argnums=1)), in_axes=(None, 0, 0))
    got = v(w, X, Y)
    assert v.vmap_stats["last"] == "batched"
    for b in range(len(X)):
        np.testing.assert_allclose(got[b], fd_grad(lambda x: loss(w, x, Y[b]), X[b]),
                                   rtol=1e-6, atol=1e-8)


def test_second_call_reuses_the_trace_and_out_axes():
    v = framead.vmap(framead.jit(lambda x, y: (np.sin(x) * y, float(np.sum(x)))),
                     in_axes=(1, None), out_axes=(1, 0))
    X = RNG.normal(size=(3, 5, 2))
    a, b = v(X, 2.0)
    a2, b2 = v(X * 2, 2.0)
    la, lb = framead.vmap(lambda x, y: (np.sin(x) * y, float(np.sum(x))), in_axes=(1, None),
                          out_axes=(1, 0))(X * 2, 2.0)
    same(a2, la)
    same(b2, lb)
    assert v.vmap_stats["batched"] == 2 and v.vmap_stats["captures"] == 1


def test_plain_function_loops_unless_fast():
    calls = []

    def f(x):
        calls.append(1)  # a Python side effect: once per example in the loop
        return np.sum(x * x)

    X = RNG.normal(size=(6, 2))
    v = framead.vmap(f)
    same(v(X), np.array([np.sum(x * x) for x in X]))
    assert len(calls) == 6 and v.vmap_stats["loop"] == 1
    assert "not a cached function" in v.vmap_stats["reasons"][0]
    calls.clear()
    v = framead.vmap(f, fast=True)  # the caller accepts jit's contract: recorded once
    same(v(X), np.array([np.sum(x * x) for x in X]))
    assert v.vmap_stats["last"] == "batched" and len(calls) == 1


def test_branches_differing_per_example_fall_back():
    def f(x):
        return float(np.sum(x)) if x[0] > 0 else float(np.prod(x))

    X = np.array([[1.0, 2.0], [-1.0, 3.0], [2.0, 2.0]])
    got, want, stats = both(framead.jit(f), X)
    same(got, want)
    assert stats["last"] == "loop" and "not the same for every example" in stats["reasons"][0]
    got, want, stats = both(framead.jit(f), np.abs(X))  # every example the same way
    same(got, want)
    assert stats["last"] == "batched"


def test_random_draws_fall_back():
    gen = np.random.default_rng(1)
    for draw in (lambda: np.random.normal(), lambda: random.random(), lambda: gen.normal(),
                 lambda: np.random.default_rng().normal()):
        v = framead.vmap(framead.jit(lambda x, draw=draw: x * draw()))
        out = v(np.ones((4, 2)))
        assert out.shape == (4, 2)
        assert v.vmap_stats["last"] == "loop"
        assert "random" in v.vmap_stats["reasons"][0]


def test_seeded_generator_made_inside_is_fine():
    def f(x):
        return x * np.random.default_rng(3).normal()  # the same draw every call

    got, want, stats = both(framead.jit(f), np.ones((4, 2)))
    same(got, want)
    assert stats["last"] == "batched"


def test_unknown_operation_falls_back():
    def f(x):
        return np.sum(np.sort(x) * np.cumsum(x))

    got, want, stats = both(framead.jit(f), RNG.normal(size=(5, 4)))
    same(got, want)
    assert stats["last"] == "loop" and "no batching rule" in stats["reasons"][0]


def test_traced_index_and_integer_arguments_fall_back():
    def f(x):
        return x[int(np.argmax(x))] * 2.0

    got, want, stats = both(framead.jit(f), RNG.normal(size=(5, 4)))
    same(got, want)
    assert stats["last"] == "loop"
    got, want, stats = both(framead.jit(lambda x, k: x * k), np.ones((3, 2)),
                            np.arange(3), in_axes=(0, 0))
    same(got, want)
    assert "only float arrays" in stats["reasons"][0]


def test_python_float_errors_fall_back():
    def f(x):
        return math.log(float(x[0])) + float(x[1])

    X = np.array([[1.0, 2.0], [0.0, 1.0]])  # math.log(0.0) raises for the second example
    with pytest.raises(ValueError):
        framead.vmap(framead.jit(f))(X)


def test_inside_a_capture_loops():
    X = RNG.normal(size=(4, 3))
    v = framead.vmap(framead.jit(lambda w, x: float(np.sum(np.sin(w * x)))), in_axes=(None, 0))
    g = framead.grad(lambda w: v(w, X).sum())(np.ones(3))
    np.testing.assert_allclose(g, np.sum(X * np.cos(X), axis=0), rtol=1e-12)
    assert "inside a capture" in v.vmap_stats["reasons"][0]


# --- fuzzer: random elementwise/reduction programs written as source --------------------------

UNARY = ["np.tanh({})", "np.exp(-({})**2)", "np.sin({})", "({}) * ({})", "np.abs({})",
         "np.sqrt(1.0 + ({})**2)", "-({})", "np.cos({}) / 2.0"]
BINARY = ["{} + {}", "{} * {}", "{} - {}", "{} / (1.5 + np.abs({}))"]
REDUCE = ["np.sum({})", "np.mean({}, axis=0)", "np.max({}, axis=-1)", "np.prod({}, axis=0)",
          "np.sum({}, keepdims=True)", "({}).T"]


@st.composite
def program(draw):
    exprs = ["x", "w"]
    lines = []
    for k in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["u", "b", "r"]))
        a = draw(st.sampled_from(exprs))
        if kind == "u":
            e = draw(st.sampled_from(UNARY)).format(a, a)
        elif kind == "b":
            e = draw(st.sampled_from(BINARY)).format(a, draw(st.sampled_from(exprs)))
        else:
            e = draw(st.sampled_from(REDUCE)).format(a)
        lines.append(f"    t{k} = {e}")
        exprs.append(f"t{k}")
    src = "def f(w, x):\n" + "\n".join(lines) + f"\n    return float(np.sum({exprs[-1]}))\n"
    n = draw(st.integers(2, 5))
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
    return src, n, shape


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(program(), st.integers(0, 2**31 - 1))
def test_fuzz_one_pass_equals_loop(prog, seed):
    src, n, shape = prog
    ns = {"np": np}
    exec(compile(src, "<fuzz>", "exec"), ns)
    f = ns["f"]
    rng = np.random.default_rng(seed)
    w, X = rng.normal(size=shape), rng.normal(size=(n, *shape))
    g = None
    for F in (framead.jit(f), framead.jit(framead.grad(f, argnums=1))):
        try:
            want = framead.vmap(F, in_axes=(None, 0), fast=False)(w, X)
        except Exception as e:  # noqa: BLE001 - the program itself fails: vmap must too
            with pytest.raises(type(e)):
                framead.vmap(F, in_axes=(None, 0))(w, X)
            return
        v = framead.vmap(F, in_axes=(None, 0))
        g = v(w, X)
        same(g, want)
        assert v.vmap_stats["last"] == "batched" or v.vmap_stats["reasons"], src
    for b in range(n):
        ref = fd_grad(lambda x: f(w, x), X[b])
        np.testing.assert_allclose(g[b], ref, rtol=1e-5, atol=1e-6 * max(1.0, np.abs(ref).max()))
