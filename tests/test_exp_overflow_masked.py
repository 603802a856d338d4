"""np.exp overflowing to inf where the result is not read (the "stable" softplus
``np.where(z > 30, z, np.log1p(np.exp(z)))``): the element the
output does not depend on carries no derivative, so the gradient there is 0, not 0 * inf =
NaN (rules/families.py ``_scaled``, a derivative equal to the output; the C step loop hands a
NaN back to the rule). Checked against the analytic derivative, on every reverse engine."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import framead
from framead import reverse


def softplus_sum(x, k):
    z = k * x
    with np.errstate(over="ignore"):
        sp = np.where(z > 30.0, z, np.log1p(np.exp(z)))
    return float(np.sum(sp))


def softplus_grad(x, k):
    z = k * x
    with np.errstate(over="ignore"):
        return np.where(z > 30.0, k, k / (1.0 + np.exp(-np.minimum(z, 30.0))))


def masked_exp(x, k):
    with np.errstate(over="ignore"):
        e = np.exp(k * x)
    return float(np.sum(np.where(x < 0.5, e, 0.0)) + np.sum(np.where(x < 0.5, e * 0.5, 1.0)))


def masked_exp_grad(x, k):
    with np.errstate(over="ignore"):
        return np.where(x < 0.5, 1.5 * k * np.exp(k * x), 0.0)


@pytest.fixture(params=["loop", "pyloop", "source"])
def engine(request, monkeypatch):
    monkeypatch.setenv("FRAMEAD_BACKWARD", request.param)
    return request.param


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(xs=st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=7),
       k=st.sampled_from([1.0, 200.0, 2000.0]))
def test_no_nan_where_exp_overflows_unread(xs, k):
    x = np.array(xs)
    for f, ref in ((softplus_sum, softplus_grad), (masked_exp, masked_exp_grad)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # (nothing escapes the reverse pass either)
            g = framead.grad(f)(x, k)
        expected = ref(x, k)
        if np.all(np.isfinite(expected)):
            np.testing.assert_allclose(g, expected, rtol=1e-12, atol=0)


def test_every_engine_and_the_cached_replay(engine):
    x = np.array([-0.2, 0.7, 0.1, 0.9])
    for k in (200.0, 2000.0):
        np.testing.assert_allclose(framead.grad(softplus_sum)(x, k), softplus_grad(x, k),
                                   rtol=1e-12)
        np.testing.assert_allclose(framead.grad(masked_exp)(x, k), masked_exp_grad(x, k),
                                   rtol=1e-12)
    cached = framead.grad(masked_exp, cache=True)
    for p in (x, x[::-1].copy(), x * 0.5):
        np.testing.assert_allclose(cached(p, 2000.0), masked_exp_grad(p, 2000.0), rtol=1e-12)


def test_c_loop_hands_the_nan_back():
    """The C step loop takes np.exp's node only where its cotangent is NaN-free."""
    x = np.array([-0.2, 0.7])
    t = framead.trace(masked_exp, x, 2000.0)
    made = []
    make = reverse._make_step
    reverse._make_step = lambda node, check: made.append(node.name) or make(node, check)
    try:
        g = reverse.Backward(t.graph, t.wrt, compiled=False)({t.graph.outputs[0].id: 1.0})
    finally:
        reverse._make_step = make
    assert "np.exp" in made
    np.testing.assert_allclose(g[0], masked_exp_grad(x, 2000.0), rtol=1e-12)
