"""np.polyval with coefficients of any shape: ``p`` of shape (n, *rest), each ``p[k]``
broadcast against ``x`` (np.polyfit of a 2-d ``y`` returns such ``p``; SciPy's savgol_filter
evaluates them with polyval). The VJPs and JVP in both arguments against central
differences, over p and x shapes that broadcast (rules/numpy_series_rules.py)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import central
from hypothesis import given, settings
from hypothesis import strategies as st

import framead

CASES = [  # (p's shape, x's shape)
    ((3,), ()), ((3,), (4,)), ((4,), (2, 3)), ((1,), (3,)), ((3, 1), (2, 1)), ((3, 1), (4,)),
    ((3, 2), (2,)), ((2, 2, 3), (3,)), ((3, 2, 1), (4, 1, 5)), ((2, 3), (4, 1)),
]


def _split(n_p, p_shape, x_shape):
    def f(v):
        p = v[:n_p].reshape(p_shape)
        x = v[n_p:].reshape(x_shape)
        return float(np.sum(np.polyval(p, x) * np.cos(np.arange(1.0, 1.0 + np.polyval(
            p, x).size)).reshape(np.shape(np.polyval(p, x)))))
    return f


@settings(max_examples=60, deadline=None)
@given(case=st.sampled_from(CASES), seed=st.integers(0, 2**16))
def test_polyval_gradient_in_both_arguments(case, seed):
    p_shape, x_shape = case
    n_p = int(np.prod(p_shape))
    v = np.random.default_rng(seed).uniform(-1.5, 1.5, n_p + int(np.prod(x_shape)))
    f = _split(n_p, p_shape, x_shape)
    value, g = framead.value_and_grad(f, strict=True)(v)
    assert value == f(v)
    np.testing.assert_allclose(g, central(f, v), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("p_shape,x_shape", CASES)
def test_polyval_jvp(p_shape, x_shape):
    n_p = int(np.prod(p_shape))
    v = np.random.default_rng(1).uniform(-1.5, 1.5, n_p + int(np.prod(x_shape)))
    f = _split(n_p, p_shape, x_shape)
    np.testing.assert_allclose(framead.jacfwd(f)(v), central(f, v), rtol=1e-6, atol=1e-7)


def test_savgol_style_fit_then_evaluate():
    """np.polyfit of a 2-d y, then np.polyval of the (n, 1) coefficients at a column."""
    def f(x):
        c = np.polyfit(np.arange(5.0), x[:5][:, None], 2)
        return float(np.sum(np.polyval(c, np.arange(2.0).reshape(-1, 1)) ** 2))

    x = np.linspace(-1.0, 1.0, 9)
    np.testing.assert_allclose(framead.grad(f)(x), central(f, x), rtol=1e-6, atol=1e-8)
