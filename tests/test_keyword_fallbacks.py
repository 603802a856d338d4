"""A traced keyword argument a rule cannot map: the call runs as the program's, so NumPy's
Python functions (np.trapezoid(dx=x), np.diff(prepend=x), np.average(weights=w)...) are
differentiated through their own operations, with no hazard (strict mode; central
differences, fresh and cached). A C callable whose rule cannot take it is reported (FA106), at
the user's line (np.logaddexp.reduce(x, initial=t); np.sum's initial= is differentiated).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import central
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import framead
from framead.errors import GradientHazard

V = np.array([1.0, 2.5, 4.0, 3.0])
PROGRAMS = {  # (x: 2 floats) -> a scalar through a Python-visible NumPy function's keyword
    "trapezoid_dx": lambda x: np.trapezoid(V * x[1], dx=x[0]),
    "pad_constant": lambda x: np.sum(np.pad(V * x[1], 2, constant_values=x[0]) ** 2),
    "pad_linear_ramp": lambda x: np.sum(np.pad(V * x[1], 2, mode="linear_ramp",
                                               end_values=x[0]) ** 2),
    "diff_prepend": lambda x: np.sum(np.diff(V * x[1], prepend=x[0]) ** 2),
    "diff_append": lambda x: np.sum(np.diff(V * x[1], append=x[0] * 2) ** 2),
    "ediff1d_to_begin": lambda x: np.sum(np.ediff1d(V * x[1], to_begin=x[0]) ** 2),
    "average_weights": lambda x: np.average(V * x[1], weights=V + x[0]),
    "cov_aweights": lambda x: np.cov(V * x[1], aweights=V + x[0]).item(),
    "var_mean": lambda x: np.var(V * x[1], mean=np.mean(V * x[1]) + x[0]),
    "clip_bounds": lambda x: np.sum(np.clip(V * x[1], min=2 * x[0], max=3.7)),
    "nan_to_num": lambda x: np.sum(np.nan_to_num(np.where(V > 3.5, np.nan, V * x[1]),
                                                 nan=x[0]) ** 2),
}


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(PROGRAMS)), a=st.floats(0.3, 1.7), b=st.floats(0.5, 2.0))
def test_python_functions_with_traced_keywords_are_differentiated(name, a, b):
    f = PROGRAMS[name]
    x = np.array([a, b])
    assume(np.abs(V * b - 2 * a).min() > 1e-3 and np.abs(V * b - 3.7).min() > 1e-3)  # (kinks)
    with np.errstate(all="ignore"):
        value, g = framead.value_and_grad(f, strict=True)(x)
        assert value == f(x)
        np.testing.assert_allclose(g, central(f, x), rtol=1e-5, atol=1e-6)
        cached = framead.value_and_grad(f, cache=True, strict=True)
        for y in (x, x * 1.01, x):  # recorded at x; replayed at x * 1.01 and x
            np.testing.assert_allclose(cached(y)[1], framead.grad(f)(y), rtol=1e-12)


@pytest.mark.parametrize("f", [lambda x: np.logaddexp.reduce(V * x[1], initial=x[0]) + x[1],
                               lambda x: np.hypot.reduce(V * x[1], initial=x[0]) + x[1]])
def test_a_reductions_traced_initial_is_reported(f):
    with pytest.raises(GradientHazard, match="FA106") as e:
        framead.grad(f, strict=True)(np.array([1.0, 2.0]))
    assert "test_keyword_fallbacks.py" in str(e.value)  # the user's line, not NumPy's
