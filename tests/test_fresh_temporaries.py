"""Derivative formulas write into their own fresh temporaries (rules/families.py ``times``,
``rsub``, ``rdiv``): the same values bit for bit as the plain formulas, fewer large arrays
alive at once, and never a write into an array anything else holds (a user rule's constant,
its argument, a view)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from framead.rules.families import defunary, rdiv, rsub, times
from framead.rules.registry import lookup
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import framead

# the plain formulas the rules had before: g * d, each step a new array
PLAIN = {
    np.tanh: lambda x, ans: 1 - ans * ans,
    np.arcsin: lambda x, ans: np.divide(1, np.sqrt(1 - x * x)),
    np.arccos: lambda x, ans: np.divide(-1, np.sqrt(1 - x * x)),
    np.arctan: lambda x, ans: np.divide(1, 1 + x * x),
    np.arcsinh: lambda x, ans: np.divide(1, np.sqrt(x * x + 1)),
    np.arctanh: lambda x, ans: np.divide(1, 1 - x * x),
    np.log1p: lambda x, ans: np.divide(1, 1 + x),
    np.cbrt: lambda x, ans: np.divide(1, 3 * ans * ans),
    np.sin: lambda x, ans: np.cos(x),
    np.log: lambda x, ans: np.divide(1, x),
}
DOMAIN = {np.arcsin: 0.9, np.arccos: 0.9, np.arctanh: 0.9}


@settings(max_examples=60, deadline=None)
@given(fn=st.sampled_from(sorted(PLAIN, key=lambda f: f.__name__)),
       dtype=st.sampled_from([np.float64, np.float32]),
       shape=st.sampled_from([(), (3,), (2, 5), (300, 300)]),
       seed=st.integers(0, 2**16))
def test_vjp_bit_for_bit_the_plain_formula(fn, dtype, shape, seed):
    rng = np.random.default_rng(seed)
    x = (rng.uniform(0.05, DOMAIN.get(fn, 3.0), shape)).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    rule = lookup(fn)
    ans = fn(x)
    got = rule.vjp[0](g, ans, x)
    want = g * PLAIN[fn](x, ans)
    assert np.asarray(got).dtype == np.asarray(want).dtype
    np.testing.assert_array_equal(got, want)
    # and the whole gradient, against the analytic derivative
    gx = framead.grad(lambda v: np.sum(fn(v) * g))(x)
    np.testing.assert_array_equal(gx, want)


def test_scalars_keep_their_types():
    assert rsub(1, 0.25) == 0.75 and type(rsub(1, 0.25)) is float
    assert type(rdiv(1, np.float32(4.0))) is np.float32
    assert times(2.0, 3.0) == 6.0


@given(hnp.arrays(np.float64, st.integers(1, 50), elements=st.floats(-3, 3)))
def test_held_arrays_are_never_written(a):
    keep = a.copy()
    g = np.full(a.shape, 2.0)
    np.testing.assert_array_equal(times(g, a), g * keep)
    np.testing.assert_array_equal(rsub(1, a), 1 - keep)
    np.testing.assert_array_equal(rdiv(1, a + 5.0), np.divide(1, keep + 5.0))
    np.testing.assert_array_equal(a, keep)
    view = a[:]  # a view of a fresh array: its memory is the base's
    np.testing.assert_array_equal(rsub(1, a[::-1]), 1 - keep[::-1])
    np.testing.assert_array_equal(view, keep)


WEIGHTS = np.linspace(1.0, 2.0, 6)


@pytest.mark.parametrize("deriv", [
    lambda x: WEIGHTS,              # a module constant
    lambda x: x,                    # the argument itself
    lambda x: x[::1],               # a view of the argument
    lambda ans: ans,                # the output
    lambda x: np.asarray(x) * 1.0,  # a fresh array (the one that may be reused)
])
def test_user_rules_whose_derivative_is_held_elsewhere(deriv):
    def scale(x):
        return x * WEIGHTS

    name = f"scale_{id(deriv)}"
    defunary(scale, deriv, name=name)
    w0 = WEIGHTS.copy()
    x = np.linspace(0.5, 1.5, 6)
    x0 = x.copy()
    f = lambda v: np.sum(np.sin(scale(v)))  # noqa: E731
    got = framead.grad(f)(x)
    ans = scale(x0)
    d = deriv(x0) if "x" in deriv.__code__.co_varnames else deriv(ans)
    np.testing.assert_allclose(got, np.cos(ans) * d, rtol=1e-15)
    np.testing.assert_array_equal(WEIGHTS, w0)
    np.testing.assert_array_equal(x, x0)


def test_a_fresh_derivative_takes_the_product():
    """The product goes into the derivative's memory: one large array less alive at once
    (NumPy elides such temporaries only for operators called from the interpreter, not
    under framead's C step loop)."""
    n = 1 << 18  # 2 MiB of float64
    g = np.ones(n)
    make = lambda: np.full(n, 2.0)  # noqa: E731
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        out = times(g, make())
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.reset_peak()
        base2 = tracemalloc.get_traced_memory()[0]
        out2 = np.multiply(g, make())  # (NumPy's own elision only works for operators)
        plain_peak = tracemalloc.get_traced_memory()[1] - base2
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(out, out2)
    assert peak < 1.5 * g.nbytes < plain_peak
