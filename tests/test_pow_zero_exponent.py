"""``x ** 0`` of an array ``x`` (with zeros in it): the derivative in x is 0 everywhere,
through grad, jvp and the Hessian (pow_dx raised on an array x with a scalar y == 0); checked
against the analytic derivative of ``c * sum(x ** y) + sum(x ** 2)``."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import framead


@settings(max_examples=40, deadline=None)
@given(y=st.sampled_from([0, 0.0, np.float64(0.0), "array"]),
       zeros=st.lists(st.booleans(), min_size=3, max_size=3), seed=st.integers(0, 99))
def test_zero_exponent_of_an_array(y, zeros, seed):
    x = np.random.default_rng(seed).uniform(-2.0, 2.0, 3)
    x[np.array(zeros)] = 0.0
    e = np.zeros(3) if isinstance(y, str) else y

    def f(z):
        return float(3.0 * np.sum(z ** e) + np.sum(z ** 2))

    np.testing.assert_array_equal(framead.grad(f)(x), 2 * x)
    v = np.array([0.5, -1.0, 2.0])
    assert framead.jvp(f, (x,), (v,))[1] == np.dot(2 * x, v)
    np.testing.assert_array_equal(framead.hessian(f)(x), 2 * np.eye(3))
