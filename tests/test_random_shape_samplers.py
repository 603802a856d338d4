"""Shape-parameter samplers (rules/random_shape.py): weibull, power, pareto, standard_gamma,
gamma, chisquare with traced parameters, through grad, a cached grad and jvp, checked against
a central difference of the native program re-seeded at every evaluation (the derivative of
NumPy's own sampling path: where the gamma sampler's accept/reject choices do not change,
checked by the generator's state after the draw at +-h, that difference is smooth); the
ones NumPy draws from several standard draws (beta, standard_t, dirichlet) stay FA101, and so
do the parameter values where the draw has no derivative (a = 0, gamma's shape 1)."""

from __future__ import annotations

import warnings

import framead.rules as R
import numpy as np
import pytest
from framead.rules.random_draws import snapshot
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import framead
from framead.randomness import DRAWS

# name -> ranges of its differentiated parameters
SHAPE = {
    "weibull": [(0.3, 4.0)],
    "power": [(0.3, 4.0)],
    "pareto": [(0.6, 5.0)],
    "standard_gamma": [(0.15, 6.0)],
    "gamma": [(0.15, 6.0), (0.3, 3.0)],
    "chisquare": [(0.3, 12.0)],
}
SWITCH = {"standard_gamma": 1.0, "gamma": 1.0, "chisquare": 2.0}  # NumPy changes sampler
KINDS = ("float", "array", "broadcast")


def make(cls: str, seed: int):
    return np.random.default_rng(seed) if cls == "Generator" else np.random.RandomState(seed)


def draw(name: str, kind: str, rng, p):
    """The draw of ``f``: parameters from ``p`` as floats (size 4), arrays (3 each), or
    arrays broadcast against a bigger size (the second parameter a scalar)."""
    k = len(SHAPE[name])
    if kind == "float":
        return getattr(rng, name)(*[p[i] for i in range(k)], size=4)
    if kind == "array":
        return getattr(rng, name)(*[p[3 * i:3 * i + 3] for i in range(k)])
    return getattr(rng, name)(p[:3], *([p[3]] if k > 1 else []), size=(2, 3))


def program(name: str, cls: str, kind: str, seed: int):
    def f(p):
        rng = make(cls, seed)  # made inside: every call draws from the same state
        x = np.asarray(draw(name, kind, rng, p))
        w = np.linspace(0.5, 1.5, x.size).reshape(x.shape)
        return float(np.sum(w * np.log1p(x)))
    return f


def params(name: str, kind: str, data) -> np.ndarray:
    ranges = SHAPE[name]
    n = 1 if kind == "float" else 3
    vals = []
    for i, (lo, hi) in enumerate(ranges):
        m = 1 if (kind == "broadcast" and i > 0) else n
        vals += [data.draw(st.floats(lo, hi)) for _ in range(m)]
    p = np.array(vals)
    switch = SWITCH.get(name)
    if switch is not None:  # (the shape parameters: a difference must not straddle it)
        shapes = p[:n] if kind != "float" else p[:1]
        assume(np.all(np.abs(shapes - switch) > 1e-3))
    return p


def central(f, p: np.ndarray, t: np.ndarray, h: float = 1e-6) -> float:
    return (f(p + h * t) - f(p - h * t)) / (2 * h)


def same_path(name: str, cls: str, kind: str, seed: int, p: np.ndarray, t: np.ndarray,
              h: float = 1e-6) -> bool:
    """Whether the draws at p +- h t take as many values from the generator as at p (the
    gamma sampler accepted at the same tries: the difference is of one smooth branch)."""
    states = []
    for q in (p - h * t, p, p + h * t):
        rng = make(cls, seed)
        draw(name, kind, rng, q)
        states.append(repr(snapshot(rng)))
    return states[0] == states[1] == states[2]


def reference_grad(f, p, name, cls, kind, seed) -> np.ndarray:
    out = np.zeros_like(p)
    for i in range(p.size):
        e = np.zeros_like(p)
        e[i] = 1.0
        assume(same_path(name, cls, kind, seed, p, e))
        out[i] = central(f, p, e)
    return out


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(SHAPE)), cls=st.sampled_from(["Generator", "RandomState"]),
       kind=st.sampled_from(KINDS), api=st.sampled_from(["grad", "cached", "jvp"]),
       seed=st.integers(0, 2 ** 16), data=st.data())
def test_shape_sampler_derivative_is_the_seeded_programs(name, cls, kind, api, seed, data):
    f = program(name, cls, kind, seed)
    p = params(name, kind, data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no hazard: the parameters are differentiated
        if api == "jvp":
            t = np.array([data.draw(st.floats(-1.0, 1.0)) for _ in p])
            assume(np.any(t != 0) and same_path(name, cls, kind, seed, p, t))
            value, tangent = framead.jvp(f, (p,), (t,))
            assert value == f(p)
            np.testing.assert_allclose(tangent, central(f, p, t), rtol=1e-5,
                                       atol=1e-6 * (1 + abs(value)))
            return
        if api == "grad":
            g = framead.grad(f)(p)
            np.testing.assert_allclose(g, reference_grad(f, p, name, cls, kind, seed),
                                       rtol=1e-5, atol=1e-6 * (1 + abs(f(p))))
            return
        cached = framead.value_and_grad(f, cache=True)
        for k in range(3):  # the trace replays the draw from the state it started from
            q = p * (1 + 0.01 * k)
            if name in SWITCH:
                assume(np.all(np.abs(q[:1 if kind == "float" else 3] - SWITCH[name]) > 1e-3))
            value, g = cached(q)
            assert value == f(q)  # bit for bit: the native draw
            np.testing.assert_allclose(g, reference_grad(f, q, name, cls, kind, seed),
                                       rtol=1e-5, atol=1e-6 * (1 + abs(value)))
        if cls == "Generator":
            assert cached.stats["captures"] == 1 and cached.stats["hits"] == 2, cached.stats
        else:  # RandomState(seed) reads OS entropy before it seeds: not cached, and says so
            assert cached.stats["hits"] == 0 and cached.stats["reasons"] == [DRAWS]


class Reseeded:
    """A generator re-made at each method call: the rule checker's differences evaluate the
    sampler at the same draw."""

    def __init__(self, cls: str, seed: int):
        self.cls, self.seed = cls, seed

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("cls", "seed"):
            raise AttributeError(name)
        return getattr(make(self.cls, self.seed), name)


def library_cases() -> list:
    """(rule, args, kwargs) of every shape sampler's rule, for rules.check (the census in
    tests/test_rules_library.py)."""
    out = []
    for cls in ("Generator", "RandomState"):
        owner = np.random.Generator if cls == "Generator" else np.random.RandomState
        for name in sorted(SHAPE):
            args = [np.array([0.7, 2.5, 4.0]) if i == 0 else np.array([0.5, 1.3, 2.0])
                    for i in range(len(SHAPE[name]))]
            if name == "chisquare":
                args[0] = args[0] * 3
            out.append((R.lookup_method(owner, name), (Reseeded(cls, 7), *args), {}))
    return out


@pytest.mark.parametrize("rule,args,kwargs", library_cases(),
                         ids=[c[0].name for c in library_cases()])
def test_rules_pass_the_rule_checker(rule, args, kwargs):
    """VJP against JVP and a central difference of the rule's function (rules.check)."""
    report = R.check(rule, *args, **kwargs)
    assert report.ok, report


def hazards(f, x) -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [h.code for h in framead.trace(f, x).hazards]


REPORTED = {
    "beta": lambda x: float(np.sum(np.random.default_rng(1).beta(x[0] + 1, 2.0, size=4))),
    "standard_t": lambda x: float(np.sum(np.random.default_rng(2).standard_t(x[0] + 3, 4))),
    "dirichlet": lambda x: float(np.sum(np.random.default_rng(3).dirichlet(x + 1) ** 2)),
    "gamma_shape_1": lambda x: float(np.sum(np.random.default_rng(4).gamma(
        x[0] * 0 + 1.0, x[1], size=3))),
    "chisquare_df_2": lambda x: float(np.sum(np.random.RandomState(5).chisquare(
        x[0] * 0 + 2.0, size=3))),
    "weibull_a_0": lambda x: float(np.sum(np.random.default_rng(6).weibull(x * 0, size=2))),
}


@pytest.mark.parametrize("name", sorted(REPORTED))
def test_not_differentiated_is_reported(name):
    assert "FA101" in hazards(REPORTED[name], np.array([0.4, 0.7]))
