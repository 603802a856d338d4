"""Warnings raised while framead records an operation name the user's line, as natively.

The native operation behind a traced probe runs inside framead's handlers; the C helper
``call_native`` makes the user's probing frame the current frame for that call, so
``warnings`` (NumPy's C warnings and Python ``warnings.warn(stacklevel=...)``) attribute the
warning exactly as the native run does.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import framead


def _log_neg(x):
    return np.sum(np.nan_to_num(np.log(x - 10.0))) + np.sum(x)


def _sqrt_neg(x):
    return np.sum(np.nan_to_num(np.sqrt(x - 10.0))) + np.sum(x)


def _divide_zero(x):
    y = x / np.zeros_like(x)
    return np.sum(np.nan_to_num(y, posinf=0.0, neginf=0.0)) + np.sum(x * x)


def _scalar_divide(x):
    s = x[0] / np.float64(0.0)
    return float(np.nan_to_num(s, posinf=0.0)) + np.sum(x)


def _overflow(x):
    return np.sum(np.nan_to_num(np.exp(x * 1000.0), posinf=0.0)) + np.sum(x)


def _arccos(x):
    return np.sum(np.nan_to_num(np.arccos(x + 5.0))) + np.sum(x)


def _mean_empty(x):
    m = np.mean(x[:0])
    return np.sum(x ** 2) + 0.0 * np.nan_to_num(m)


def _user_warns(x):
    _helper_warns(x)
    return np.sum(x ** 2)


def _helper_warns(x):
    warnings.warn("from a helper", UserWarning, stacklevel=2)


def _math_and_numpy(x):
    t = math.sin(x[0]) * np.float64(1e308) * np.float64(1e308)
    return float(np.nan_to_num(t, posinf=0.0)) + np.sum(x)


PROGRAMS = [_log_neg, _sqrt_neg, _divide_zero, _scalar_divide, _overflow, _arccos,
            _mean_empty, _user_warns, _math_and_numpy]


def _warnings_of(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [(w.filename, w.lineno, w.category, str(w.message)) for w in caught
            if not issubclass(w.category, framead.GradientWarning)]


@pytest.mark.parametrize("f", PROGRAMS, ids=lambda f: f.__name__)
def test_warning_names_the_same_line_as_natively(f):
    x = np.array([0.5, 1.5, 2.5])
    native = _warnings_of(lambda: f(x))
    assert native, "the program must warn natively (else the test proves nothing)"
    captured = _warnings_of(lambda: framead.grad(f)(x))
    assert captured == native


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(PROGRAMS), st.lists(st.floats(0.1, 3.0), min_size=1, max_size=4))
def test_warnings_identical_for_any_input(f, xs):
    x = np.array(xs)
    assert _warnings_of(lambda: framead.grad(f)(x)) == _warnings_of(lambda: f(x))


def test_default_filter_warns_once_per_user_line():
    """The 'default' action keys its once-per-location registry on the user's module."""
    x = np.array([0.5, 1.5])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for _ in range(3):
            framead.grad(_log_neg)(x)
    hits = [w for w in caught if "invalid value encountered in log" in str(w.message)]
    assert len(hits) == 1 and hits[0].filename == __file__


def test_stack_seen_by_native_callee_is_the_users():
    """A function the recorder calls natively sees the user's frame as its caller."""
    import sys

    seen = []

    def probe_caller(a):
        seen.append(sys._getframe(1).f_code.co_name)
        return a

    framead.rules.register(probe_caller, vjp=lambda g, ans, a: g)
    try:
        def user_fn(x):
            return np.sum(probe_caller(x) ** 2)

        g = framead.grad(user_fn)(np.array([1.0, 2.0]))
    finally:
        framead.rules.unregister(probe_caller)
    assert np.allclose(g, [2.0, 4.0])
    assert seen == ["user_fn"]
