"""Rules for ufunc methods capture does not map to a NumPy function (rules/ufunc_method_rules.py):
``maximum``/``minimum``/``fmax``/``fmin``/any elementwise-ruled binary ufunc ``.accumulate``,
``logaddexp``/``logaddexp2``/``hypot``... ``.reduce`` (axis, axes, keepdims) and ``reduceat``
for add/multiply/maximum/minimum (NumPy's index semantics). Each was FA101 with a zero
gradient. Checked over shapes, axes and values against central differences in float64 and
the native value, in strict mode (no hazard), forward mode, and through cached replays.
Also ``np.arange`` with traced float bounds (``start + i * step``; the length a decision a
cached trace must not replay where it changes)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fd_grad
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import framead

_SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, database=None)
_ACC = [np.maximum, np.minimum, np.fmax, np.fmin, np.hypot, np.logaddexp, np.subtract,
        np.arctan2]
_RED = [np.logaddexp, np.logaddexp2, np.hypot, np.fmax, np.subtract]
_AT = [np.add, np.multiply, np.maximum, np.minimum]

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


def _values(seed: int, shape: tuple) -> np.ndarray:
    """Values 0.3 apart at least (no ties, no kink within a difference step), none near 0."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    v = (rng.permutation(n) - n / 2.0 + 0.5) * 0.3 + rng.uniform(-0.05, 0.05, n)
    return v.reshape(shape)


def _check(f, x, rtol=1e-5):
    """f's value as the native run's, its gradient as central differences, no hazard."""
    v, g = framead.value_and_grad(f, strict=True)(x.copy())
    assert v == f(x.copy())
    np.testing.assert_allclose(g, fd_grad(f, (x.copy(),), step=1e-6), rtol=rtol, atol=1e-6)
    return g


def _weights(shape, seed=7):
    return np.random.default_rng(seed).uniform(0.5, 1.5, shape)


@_SETTINGS
@given(uf=st.sampled_from(_ACC), shape=shapes, axis=st.integers(-3, 2), seed=st.integers(0, 99))
def test_accumulate(uf, shape, axis, seed):
    assume(-len(shape) <= axis < len(shape))
    x = _values(seed, shape)
    w = _weights(shape)

    def f(x):
        return float(np.sum(w * uf.accumulate(np.sin(x) + 2.0 * x, axis=axis)))
    _check(f, x)


@_SETTINGS
@given(uf=st.sampled_from(_RED), shape=shapes, axis=st.sampled_from([None, 0, -1, (0, 1), (0, 2)]),
       keepdims=st.booleans(), seed=st.integers(0, 99))
def test_reduce(uf, shape, axis, keepdims, seed):
    x = _values(seed, shape)
    try:
        r = uf.reduce(x, axis=axis, keepdims=keepdims)
    except (ValueError, np.exceptions.AxisError):  # (an axis out of range, not reorderable)
        assume(False)
    w = _weights(np.shape(r))

    def f(x):
        return float(np.sum(w * uf.reduce(x * 1.5, axis=axis, keepdims=keepdims)))
    _check(f, x)


@_SETTINGS
@given(uf=st.sampled_from(_AT), shape=shapes, axis=st.integers(-2, 2), seed=st.integers(0, 99),
       raw=st.lists(st.integers(0, 3), min_size=1, max_size=5))
def test_reduceat(uf, shape, axis, seed, raw):
    assume(-len(shape) <= axis < len(shape))
    n = shape[axis]
    idx = [i % n for i in raw]  # any order: indices[i] >= indices[i+1] is one element
    x = _values(seed, shape)
    out = uf.reduceat(x, idx, axis=axis)
    w = _weights(out.shape)

    def f(x):
        return float(np.sum(w * uf.reduceat(x + 0.1 * x ** 2, idx, axis=axis)))
    _check(f, x)


def test_running_max_ties_go_to_the_earliest():
    """Exact ties: the running max keeps its value, so the cotangent stays with the element
    that set it (analytic: the first 3.0 is every later output's source)."""
    x = np.array([1.0, 3.0, 3.0, 2.0, 3.0, 4.0])
    g = framead.grad(lambda x: float(np.maximum.accumulate(x) @ np.arange(1.0, 7.0)),
                     strict=True)(x)
    np.testing.assert_array_equal(g, [1.0, 2.0 + 3.0 + 4.0 + 5.0, 0.0, 0.0, 0.0, 6.0])
    g = framead.grad(lambda x: float(np.minimum.accumulate(-x).sum()), strict=True)(x)
    np.testing.assert_array_equal(g, [-1.0, -4.0, 0.0, 0.0, 0.0, -1.0])


def test_running_max_nan_takes_the_rest():
    """np.maximum propagates NaN: outputs from the first NaN on come from it; np.fmax skips it."""
    x = np.array([1.0, np.nan, 3.0, 2.0])
    g = framead.grad(lambda x: float(np.sum(np.nan_to_num(np.maximum.accumulate(x)))))(x)
    np.testing.assert_array_equal(g[[0, 2, 3]], [1.0, 0.0, 0.0])
    g = framead.grad(lambda x: float(np.sum(np.fmax.accumulate(x))))(x)
    np.testing.assert_array_equal(g, [2.0, 0.0, 2.0, 0.0])


def test_forward_mode_matches_reverse():
    x = _values(3, (3, 4))
    t = np.random.default_rng(1).standard_normal(x.shape)

    def f(x):
        return (np.maximum.accumulate(x, axis=1).sum(axis=0) + np.logaddexp.reduce(x, axis=0)
                + np.multiply.reduceat(x, [0, 2, 1], axis=1).sum(axis=0)[:1]
                + np.hypot.accumulate(x, axis=0)[-1])
    out, tan = framead.jvp(f, (x.copy(),), (t,), strict=True)
    np.testing.assert_array_equal(out, f(x.copy()))
    eps = 1e-6
    np.testing.assert_allclose(tan, (f(x + eps * t) - f(x - eps * t)) / (2 * eps),
                               rtol=1e-5, atol=1e-6)


def _program(x):
    m = np.maximum.accumulate(np.sin(3.0 * x))
    lse = np.logaddexp.reduce(x.reshape(2, 3), axis=1)
    r = np.add.reduceat(x * x, [0, 3, 1]) + np.minimum.reduceat(x, [0, 4, 4])
    return float(m @ x + lse @ [1.0, 2.0] + r.sum() + np.hypot.reduce(x))


def test_cached_replay_at_new_points():
    """Replayed at points where the running max's sources and the segment minima move."""
    cf = framead.value_and_grad(_program, cache=True, strict=True)
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.uniform(-1.5, 1.5, 6)
        v, g = cf(x.copy())
        assert v == _program(x.copy())
        np.testing.assert_allclose(g, fd_grad(_program, (x.copy(),), step=1e-6),
                                   rtol=1e-5, atol=1e-6)
    assert cf.stats["hits"] == 4


@pytest.mark.parametrize("call", [
    lambda x: np.logaddexp.reduce(x, initial=0.5),
    lambda x: np.logaddexp.reduce(x, where=x > 0),
    lambda x: np.maximum.accumulate(x, dtype=object),
    lambda x: np.floor_divide.accumulate(x + 3.0),
])
def test_calls_without_a_derivative_stay_reported(call):
    def f(x):
        return float(np.sum(call(x)))
    t = framead.trace(f, np.array([0.3, 0.9, -0.2]))
    assert t.hazards and {h.code for h in t.hazards} == {"FA101"}, t.hazards
    assert all(h.loc.file == __file__ for h in t.hazards)  # (at the user's line)


def _arange_program(which: str):
    def f(x):
        if which == "start":
            r = np.arange(x[0], 2.5, 0.37)
        elif which == "step":
            r = np.arange(-0.2, 2.5, x[1])
        elif which == "both":
            r = np.arange(x[0], 2.5 * x[1] + 1.0, x[1])
        else:  # only the stop: the values are constants, the length is not
            r = np.arange(0.1, 6.0 * x[1], 0.5) * x[0]
        return float(np.sum(np.sin(r) * np.linspace(1.0, 2.0, r.size)))
    return f


@_SETTINGS
@given(which=st.sampled_from(["start", "step", "both", "stop"]),
       a=st.floats(-1.0, 1.0), b=st.floats(0.05, 1.5))
def test_arange_traced_bounds(which, a, b):
    x = np.array([a, b])
    f = _arange_program(which)
    for d in (-1e-5, 1e-5):  # (no length change within the difference step)
        assume(len(np.arange(*_bounds(which, x + d))) == len(np.arange(*_bounds(which, x))))
    _check(f, x)


def _bounds(which, x):
    return {"start": (x[0], 2.5, 0.37), "step": (-0.2, 2.5, x[1]),
            "both": (x[0], 2.5 * x[1] + 1.0, x[1]), "stop": (0.1, 6.0 * x[1], 0.5)}[which]


@pytest.mark.parametrize("which", ["start", "step", "both", "stop"])
def test_arange_cached_replay_where_the_length_changes(which):
    """Points where np.arange's length changes (to 1 and 0 included): never the recorded
    length replayed (a miss, captured again), always the native value and central
    differences."""
    f = _arange_program(which)
    cf = framead.value_and_grad(f, cache=True, strict=True)
    points = [[0.31, 0.47], [0.32, 0.47], [2.4, 0.47], [0.31, 1.4], [0.31, 0.011],
              [2.6, 3.0], [0.31, 0.47], [-0.93, 0.2]]
    for p in points:
        x = np.array(p)
        v, g = cf(x.copy())
        assert v == f(x.copy()), p
        np.testing.assert_allclose(g, fd_grad(f, (x.copy(),), step=1e-6), rtol=1e-5,
                                   atol=1e-6, err_msg=str(p))
    assert cf.stats["hits"] >= 2
