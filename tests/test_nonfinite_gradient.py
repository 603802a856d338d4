"""FA112: a finite result whose gradient holds a NaN is reported where the NaN was born
(framead/nonfinite.py).

A branch np.where (a clamp, a mask) does not select still has its derivative taken; where that
derivative is infinite or NaN, 0 * inf makes the gradient NaN although the true one is finite.
Fuzzed over singular functions x guards x reductions: every NaN gradient comes with a
GradientWarning naming the user's line of the step that made it (strict mode raises), every
gradient without a NaN equals central differences, and a genuine infinite derivative (sqrt at
0) or a NaN result is not reported.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
from conftest import central
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import framead
from framead.errors import GradientHazard

SINGULAR = {  # u -> a function singular at u <= 0 (its value finite where guarded)
    "sqrt": np.sqrt,
    "log": np.log,
    "xlogx": lambda u: u * np.log(u),
    "pow15": lambda u: u ** 1.5,
    "pow05": lambda u: u ** 0.5,
    "recip_sqrt": lambda u: 1.0 / np.sqrt(u),
}
GUARDS = {  # how the program keeps the singular point out of its value
    "where": lambda fn, u: np.where(u > 0, fn(np.abs(u) * (u > 0)), 0.0),
    "where_raw": lambda fn, u: np.where(u > 0, fn(u), 0.0),
    "clamp": lambda fn, u: fn(np.maximum(u, 0.0)) * (u > 0),
    "mask": lambda fn, u: np.nan_to_num(fn(u * (u > 0))) * (u > 0),
}
REDUCE = {"sum": np.sum, "mean": np.mean, "dot": lambda v: v @ np.arange(1.0, v.size + 1)}


def _program(fn_name, guard, red):
    fn, g, r = SINGULAR[fn_name], GUARDS[guard], REDUCE[red]

    def f(x):
        u = x - 1.0
        return r(g(fn, u)) + 0.5 * np.sum(x * x)  # guarded
    return f


def _line(f, marker="# guarded"):
    lines, first = inspect.getsourcelines(f)
    return first + next(k for k, s in enumerate(lines) if marker in s)


@settings(max_examples=80, deadline=None)
@given(fn=st.sampled_from(sorted(SINGULAR)), guard=st.sampled_from(sorted(GUARDS)),
       red=st.sampled_from(sorted(REDUCE)),
       below=st.lists(st.booleans(), min_size=2, max_size=4))
def test_a_nan_gradient_is_reported_where_it_is_born(fn, guard, red, below):
    f = _program(fn, guard, red)
    x = np.array([0.25 if b else 2.5 + i for i, b in enumerate(below)])  # (u < 0 where b)
    with np.errstate(all="ignore"):
        value = f(x)
    assume(np.isfinite(value))  # (a clamped log is -inf * 0: the program's own NaN)
    with warnings.catch_warnings(record=True) as w, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        g = framead.grad(f)(x)
    reports = [m for m in w if "FA112" in str(m.message)]
    if np.isnan(g).any():
        assert reports, (fn, guard, red)
        assert reports[0].filename == __file__  # (the user's call)
        assert f"{__file__}:" in str(reports[0].message)  # (the program's line, or a helper's)
        with pytest.raises(GradientHazard, match="FA112"), np.errstate(all="ignore"):
            framead.grad(f, strict=True)(x)
    else:
        assert not reports
        with np.errstate(all="ignore"):
            fd = central(f, x)
        assert np.allclose(g, fd, rtol=1e-5, atol=1e-6)


def test_the_classic_traps_are_reported():
    """The three of the issue's kind: a masked x log x, a clamped square root, a distance of a
    point to itself."""
    def entropy(p):
        q = p * np.array([1.0, 0.0, 1.0])
        return -np.sum(np.where(q > 0, q * np.log(q), 0.0))

    def clamped(s):
        return np.sum(np.sqrt(np.maximum(s, 0.0)))

    def self_distance(x):
        d = x[:, None] - x[None, :]
        return np.sum(np.sqrt(np.sum(d * d, axis=-1) + 0.0)) / 2

    for f, x in [(entropy, np.array([0.5, 0.2, 0.3])), (clamped, np.array([-1.0, 4.0])),
                 (self_distance, np.array([[0.0, 1.0], [2.0, 0.5]]))]:
        with warnings.catch_warnings(record=True) as w, np.errstate(all="ignore"):
            warnings.simplefilter("always")
            g = framead.grad(f)(x)
        assert np.isnan(g).any()
        assert any("FA112" in str(m.message) for m in w), f.__name__


def test_a_genuine_infinite_derivative_and_a_nan_value_are_not_reported():
    with warnings.catch_warnings(record=True) as w, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        g = framead.grad(lambda x: np.sum(np.sqrt(x)))(np.array([0.0, 4.0]))
        assert np.isinf(g[0]) and g[1] == 0.25
        v, _ = framead.value_and_grad(lambda x: np.sum(np.log(x)))(np.array([-1.0, 2.0]))
        assert np.isnan(v)
    assert not [m for m in w if "FA112" in str(m.message)]
    framead.grad(lambda x: np.sum(np.sqrt(x)), strict=True)(np.array([0.0, 4.0]))


def test_the_zero_gradient_warning_names_the_users_line():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        framead.grad(lambda x: 3.0)(1.0)  # zero
    assert w and w[0].filename == __file__
    assert w[0].lineno == _line(test_the_zero_gradient_warning_names_the_users_line, "# zero")
