"""Rule gaps (s21): a gather whose index-like argument is itself traced (np.roll's shift,
np.compress's / np.extract's condition, np.take's indices as floats) used to hand the VJP a
Meta stand-in (TypeError / ValueError in the reverse pass). Reference: central differences
of the native program (piecewise constant in those arguments: their derivative is 0)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import framead


def _fd(f, args, k, h=1e-6):
    a = args[k]
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        e = np.zeros_like(a)
        e[i] = h
        ap, am = list(args), list(args)
        ap[k], am[k] = a + e, a - e
        g[i] = (f(*ap) - f(*am)) / (2 * h)
    return g


PROGRAMS = {
    "roll": lambda x, s: np.sum(np.roll(x, s) * np.arange(1.0, 1 + x.size)),
    "compress": lambda x, c: np.sum(np.compress(c > 0.5, x * x)) + np.sum(np.compress(c, x)),
    "extract": lambda x, c: np.sum(np.extract(c, x) ** 3),
}


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(sorted(PROGRAMS)), st.integers(0, 2 ** 31), st.integers(1, 6))
def test_gather_with_traced_index_argument(name, seed, n):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    other = np.array([float(rng.integers(-3, 4))]) if name == "roll" else \
        np.round(rng.uniform(0.1, 0.9, n), 2)
    f = PROGRAMS[name]
    gx, go = framead.grad(f, argnums=(0, 1))(x, other)
    np.testing.assert_allclose(gx, _fd(f, (x, other), 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(go, 0.0)
    assert framead.jvp(lambda v: f(v, other), (x,), (np.ones(n),))[1] == pytest.approx(
        np.sum(_fd(f, (x, other), 0)), rel=1e-6, abs=1e-8)
