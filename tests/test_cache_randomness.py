"""Cached traces never repeat a recorded random draw: a program that draws from a generator
it can reach (the global ones, a module-level or closure generator, a default argument, an
attribute of ``self``, an unseeded generator made inside) is not cached (value, gradient and
the generator's state afterwards as in the uncached run, checked against the native program
over a sequence of calls); one that draws from a generator it seeds itself is cached."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import framead

MODULE_GEN = np.random.default_rng(11)
MODULE_RS = np.random.RandomState(12)
MODULE_PY = random.Random(13)

DRAWS = {  # a draw of 3 numbers from a generator the program reaches
    "np_global_randn": lambda env: np.random.randn(3),
    "np_global_scalar_randn": lambda env: np.array([np.random.randn(), 1.0, 2.0]),  # (has_gauss)
    "np_global_normal": lambda env: np.random.normal(0.0, 1.0, 3),
    "module_generator": lambda env: MODULE_GEN.normal(size=3),
    "module_randomstate": lambda env: MODULE_RS.uniform(size=3),
    "module_py_random": lambda env: np.array([MODULE_PY.gauss(0, 1) for _ in range(3)]),
    "py_global_random": lambda env: np.array([random.random() for _ in range(3)]),
    "self_attribute": lambda env: env.rng.standard_normal(3),
    "container_item": lambda env: env.gens["a"].random(3),
    "unseeded_inside": lambda env: np.random.default_rng().random(3) * 0 + 1.0,
}


class Env:
    def __init__(self):
        self.rng = np.random.default_rng(21)
        self.gens = {"a": np.random.default_rng(22)}


def _states():
    return (repr(np.random.get_state(legacy=False)), repr(MODULE_GEN.bit_generator.state),
            repr(MODULE_RS.get_state(legacy=False)), MODULE_PY.getstate(), random.getstate())


def _program(kind, how, env):
    draw = DRAWS[kind]
    if how == "closure":
        def f(x):
            return float(np.sum(x * draw(env)) + x[0] ** 2)
        return f
    if how == "default":
        def g(x, env=env):
            return float(np.sum(x * draw(env)) + x[0] ** 2)
        return g

    class Model:
        def __init__(self):
            self.env = env

        def loss(self, x):
            return float(np.sum(x * draw(self.env)) + x[0] ** 2)
    return Model().loss


def _seed_all(seed):
    np.random.seed(seed)
    random.seed(seed)
    global MODULE_GEN, MODULE_RS, MODULE_PY
    MODULE_GEN.bit_generator.state = np.random.default_rng(seed + 1).bit_generator.state
    MODULE_RS.seed(seed + 2)
    MODULE_PY.seed(seed + 3)


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(sorted(DRAWS)), how=st.sampled_from(["closure", "default", "method"]),
       api=st.sampled_from(["value_and_grad", "jit"]), seed=st.integers(0, 100))
def test_programs_that_draw_are_not_replayed(kind, how, api, seed):
    x = np.array([0.5, -1.0, 2.0])
    if kind == "unseeded_inside":  # (its values are 1.0: compare with an analytic gradient)
        f = _program(kind, how, Env())
        vg = framead.value_and_grad(f, cache=True)
        for _ in range(3):
            np.testing.assert_allclose(vg(x)[1], [2.0, 1.0, 1.0])
        assert vg.stats["hits"] == 0
        return
    _seed_all(seed)
    native_env = Env()
    draws = [np.asarray(DRAWS[kind](native_env), float) for _ in range(3)]  # each call's draw
    after_native = _states()
    _seed_all(seed)
    f = _program(kind, how, Env())
    cached = framead.value_and_grad(f, cache=True) if api == "value_and_grad" else \
        framead.jit(f)
    got = [cached(x + k) for k in range(3)]
    assert _states() == after_native
    for k, d in enumerate(draws):  # f(x) = sum(x * d) + x[0] ** 2
        value = got[k][0] if api == "value_and_grad" else got[k]
        np.testing.assert_allclose(value, np.sum((x + k) * d) + (x[0] + k) ** 2, rtol=1e-12)
        if api == "value_and_grad":
            np.testing.assert_allclose(got[k][1], d + [2 * (x[0] + k), 0, 0], rtol=1e-12)
    assert cached.stats["hits"] == 0


@pytest.mark.parametrize("api", ["value_and_grad", "jit"])
def test_programs_that_seed_their_own_generator_are_cached(api):
    def f(x):
        rng = np.random.default_rng(5)
        return float(np.sum(x * rng.normal(size=3)))
    cached = framead.value_and_grad(f, cache=True) if api == "value_and_grad" else \
        framead.jit(f)
    x = np.array([0.5, -1.0, 2.0])
    for k in range(3):
        got = cached(x + k)
        want = f(x + k)
        assert (got[0] if api == "value_and_grad" else got) == want
    assert cached.stats["hits"] == 2
    np.testing.assert_allclose(framead.value_and_grad(f, cache=True)(x)[1],
                               np.random.default_rng(5).normal(size=3))


def test_generator_state_after_cached_calls_is_native():
    f = _program("np_global_scalar_randn", "closure", Env())
    np.random.seed(3)
    for k in range(4):
        f(np.ones(3) * k)
    native = np.random.get_state(legacy=False)
    np.random.seed(3)
    cached = framead.value_and_grad(f, cache=True)
    for k in range(4):
        cached(np.ones(3) * k)
    got = np.random.get_state(legacy=False)
    assert got["has_gauss"] == native["has_gauss"] and got["gauss"] == native["gauss"]
    np.testing.assert_array_equal(got["state"]["key"], native["state"]["key"])
    assert got["state"]["pos"] == native["state"]["pos"]
