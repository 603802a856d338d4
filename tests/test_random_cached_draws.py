"""Cached traces of programs whose sampler calls have traced parameters (framead/randomness.py
``Draws.reason``, rules/random_draws.py): a generator seeded inside ``f`` is replayed from the
state each draw started from (cached: one capture); one that outlives the call (a module
global, a closure, an argument, an object deeper than the reachability walk, an object array,
one made inside and kept, a child spawned from a reachable one) or a gamma draw followed by
more use of its generator is not cached, and says why. Checked over a sequence of calls
against the native program run on a twin of the same world: the values bit for bit, the
gradients against central differences on copies of the world as it was before each call, and
the generators' states after the last call."""

from __future__ import annotations

import copy
import warnings

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import framead

_MODULE: list = [None]  # the "module" origin's generator

SAMPLES = {  # name -> draw(rng, p): the traced parameters from p (3 of them)
    "normal": lambda rng, p: rng.normal(p[0], p[1] ** 2 + 0.5, size=3),
    "uniform": lambda rng, p: rng.uniform(p[0], p[0] + p[1] ** 2 + 1.0, size=(2, 2)),
    "weibull": lambda rng, p: rng.weibull(p ** 2 + 0.5),
    "gamma": lambda rng, p: rng.gamma(p ** 2 + 1.3, 2.0),
    "two_draws": lambda rng, p: rng.exponential(p[:2] ** 2 + 0.5) @ rng.laplace(p[2], 1.0,
                                                                                   2),
    "gamma_then_normal": lambda rng, p: rng.gamma(p[0] ** 2 + 1.3) + rng.normal(size=2),
}
ORIGINS = ("inside", "inside_kept", "module", "closure", "argument", "deep", "object_array",
           "spawned")


class Deep:
    def __init__(self, depth: int, rng):
        self.inner = Deep(depth - 1, rng) if depth else None
        self.rng = rng if not depth else None

    def get(self):
        return self.rng if self.inner is None else self.inner.get()


def world(origin: str, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    held = np.empty(1, dtype=object)  # (an ndarray: neither walked nor seen by the gc)
    held[0] = rng
    return {"rng": rng, "deep": Deep(6, rng), "kept": [], "held": held}


def program(origin: str, name: str, w: dict, seed: int):
    sample = SAMPLES[name]

    def loss(p, s):
        return float(np.sum(np.sin(s)) + 0.5 * np.sum(np.asarray(s) ** 2) + p @ p)

    if origin == "inside":
        def f(p):
            return loss(p, sample(np.random.default_rng(seed), p))
    elif origin == "inside_kept":
        def f(p):
            rng = np.random.default_rng(seed)
            w["kept"].append(rng)
            return loss(p, sample(rng, p))
    elif origin == "module":
        def f(p):
            return loss(p, sample(_MODULE[0], p))
    elif origin == "closure":
        def f(p):
            return loss(p, sample(w["rng"], p))
    elif origin == "argument":
        def g(p, rng):
            return loss(p, sample(rng, p))
        return g
    elif origin == "spawned":  # a new child stream each call (the parent's state is as was)
        def f(p):
            return loss(p, sample(w["rng"].spawn(1)[0], p))
    elif origin == "deep":
        def f(p):
            return loss(p, sample(w["deep"].get(), p))
    else:
        held = w["held"]

        def f(p):
            return loss(p, sample(held[0], p))
    return f


def call(origin: str, f, w: dict, p, how):
    """``how(f)(p)`` (``how(f)(p, rng)`` for the argument origin) in world ``w``."""
    _MODULE[0] = w["rng"]
    return how(f)(p, w["rng"]) if origin == "argument" else how(f)(p)


def reference_grad(origin: str, name: str, w: dict, seed: int, p):
    """Central differences, each evaluation on a copy of the world as it is now; None where
    steps h and 2h disagree (a gamma draw's accept/reject path changed within the step)."""
    fd, fd2 = central(origin, name, w, seed, p, 1e-6), central(origin, name, w, seed, p, 2e-6)
    return fd if np.allclose(fd, fd2, rtol=1e-4, atol=1e-5) else None


def central(origin: str, name: str, w: dict, seed: int, p, h: float):
    out = np.zeros_like(p)
    for i in range(p.size):
        vals = []
        for sgn in (1, -1):
            wc = copy.deepcopy(w)
            f = program(origin, name, wc, seed)
            q = p.copy()
            q[i] += sgn * h
            vals.append(call(origin, f, wc, q, lambda f: f))
        out[i] = (vals[0] - vals[1]) / (2 * h)
    return out


@settings(max_examples=40, deadline=None)
@given(origin=st.sampled_from(ORIGINS), name=st.sampled_from(sorted(SAMPLES)),
       api=st.sampled_from(["value_and_grad", "jit"]), seed=st.integers(0, 2 ** 16),
       p0=st.lists(st.floats(-1.0, 1.0), min_size=3, max_size=3))
def test_cached_draws_are_the_native_ones(origin, name, api, seed, p0):
    native, cached_world = world(origin, seed), world(origin, seed)
    f_native = program(origin, name, native, seed)
    f = program(origin, name, cached_world, seed)
    argnums = 0
    cached = framead.value_and_grad(f, argnums, cache=True) if api == "value_and_grad" \
        else framead.jit(f, argnums)
    for k in range(3):
        p = np.array(p0) + 0.1 * k
        want_grad = reference_grad(origin, name, native, seed, p) \
            if api == "value_and_grad" else None
        assume(want_grad is not None or api == "jit")
        want = call(origin, f_native, native, p, lambda f: f)
        got = call(origin, f, cached_world, p, lambda f: cached)
        value = got[0] if api == "value_and_grad" else got
        assert value == want  # the native draw, bit for bit
        if want_grad is not None:
            np.testing.assert_allclose(got[1], want_grad, rtol=1e-6, atol=1e-7)
    assert repr(native["rng"].bit_generator.state) == \
        repr(cached_world["rng"].bit_generator.state)
    assert native["rng"].bit_generator.seed_seq.n_children_spawned == \
        cached_world["rng"].bit_generator.seed_seq.n_children_spawned
    stats = cached.stats
    if origin == "inside" and name != "gamma_then_normal":
        assert stats["captures"] == 1 and stats["hits"] == 2, stats
    else:
        assert stats["hits"] == 0 and stats["captures"] == 3 and stats["reasons"], stats
    if origin == "inside" and name == "gamma_then_normal":
        assert "depends on its traced parameters" in stats["reasons"][0]
    if origin == "object_array":  # (not reachable: referenced, so it lives on)
        assert "outlives the call" in stats["reasons"][0]


def test_speed_and_captures_of_an_inside_seeded_draw():
    """The case of the task: ``rng = default_rng(0)`` inside ``f``, ``rng.normal(mu, s)``:
    one capture for many calls (it was captured again at every call)."""
    def f(x):
        rng = np.random.default_rng(0)
        return float(np.sum(rng.normal(x, 2.0) ** 2))

    cached = framead.value_and_grad(f, cache=True)
    x = np.array([0.5, -1.0, 2.0])
    for k in range(20):
        value, g = cached(x + k)
        z = np.random.default_rng(0).normal(size=3) * 2.0
        assert value == f(x + k)
        np.testing.assert_allclose(g, 2 * (x + k + z), rtol=1e-12)
    assert cached.stats["captures"] == 1 and cached.stats["hits"] == 19


def test_replayed_selection_is_guarded_by_its_refusal():
    """A replayed choice/permutation/shuffle re-runs the capture's refusal test: a traced
    argument whose rows became equal (which one was picked is unknown) is a miss, captured
    again and reported (FA101 in stats['reasons']) with the uncached gradient, instead of
    a wrong gradient."""
    def f(x):
        rng = np.random.default_rng(4)
        a = x * 1.0
        rng.shuffle(a)
        b = rng.permutation(x ** 2)  # x[0] = -x[2]: equal rows
        c = rng.choice(np.sin(x), size=5)
        return float(a @ np.arange(4.0) + b @ np.arange(4.0) ** 2 + np.sum(c ** 3))

    cached = framead.value_and_grad(f, cache=True)
    for k in range(3):
        x = np.array([0.1, 0.7, -0.4, 1.3]) + 0.05 * k
        value, g = cached(x)
        assert value == f(x)
        fd = [(f(x + 1e-6 * e) - f(x - 1e-6 * e)) / 2e-6 for e in np.eye(4)]
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7)
    x = np.array([0.25, 0.85, -0.25, 1.45])
    value, g = cached(x)
    assert value == f(x)
    assert any(r.startswith("FA101 at ") and __file__ in r for r in cached.stats["reasons"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(g, framead.grad(f)(x))  # (the uncached, reported one)
    assert cached.stats["replay_raised"] == 1 and cached.stats["hits"] == 2
