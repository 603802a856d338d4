"""Rule gaps (s21): np.i0 (a rule instead of NumPy's traced body: i0''(0) = 1/2), SciPy's
i0/i1/i0e/i1e, and the quotient's derivative in the divisor applied as -(g / y) * ans (softplus'
second derivative at large v). References: SciPy's Bessel functions through the analytic
derivatives, and central differences in float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as ss
from framead.rules.numpy_rules import bessel_i1
from hypothesis import given, settings
from hypothesis import strategies as st

import framead

_X = st.floats(-40, 40, allow_nan=False)


def _i1_dx(x):
    x = np.asarray(x, float)
    return ss.i0(x) - np.where(x == 0, 0.5, ss.i1(x) / np.where(x == 0, 1.0, x))


def test_bessel_i1_matches_scipy_over_its_range():
    x = np.concatenate([np.linspace(-700, 700, 4001), np.logspace(-300, 2.84, 200), [0.0]])
    np.testing.assert_allclose(bessel_i1(x), ss.i1(x), rtol=1e-13, atol=0)


@settings(max_examples=40, deadline=None)
@given(st.lists(_X, min_size=1, max_size=4))
def test_np_i0_first_and_second_order(xs):
    x = np.array(xs)
    f = lambda v: np.i0(v).sum()  # noqa: E731
    np.testing.assert_allclose(framead.grad(f)(x), ss.i1(x), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(np.diag(framead.hessian(f)(x)), _i1_dx(x), rtol=1e-11)
    t = np.linspace(0.5, 1.5, x.size)
    np.testing.assert_allclose(framead.jvp(np.i0, (x,), (t,))[1], ss.i1(x) * t, rtol=1e-12,
                               atol=1e-300)


def test_np_i0_second_derivative_at_zero():
    x = np.zeros(3)
    np.testing.assert_allclose(framead.hessian(lambda v: np.i0(v).sum())(x), 0.5 * np.eye(3))
    gg = framead.grad(framead.grad(lambda v: np.i0(v)[()]))
    assert gg(0.0) == pytest.approx(0.5)
    # third order: i1''(x) = i1 - i1'/x + i1/x^2
    x = 0.7
    ggg = framead.grad(framead.grad(framead.grad(lambda v: np.i0(v)[()])))(x)
    assert ggg == pytest.approx(ss.i1(x) - _i1_dx(x) / x + ss.i1(x) / x ** 2, rel=1e-10)


@pytest.mark.parametrize("fn", [ss.i0, ss.i1, ss.i0e, ss.i1e])
@pytest.mark.parametrize("x", [0.0, 1e-3, 0.4, -2.5, 30.0])
def test_scipy_bessel_i_first_and_second_order_against_differences(fn, x):
    h = 1e-5
    d1 = (fn(x + h) - fn(x - h)) / (2 * h)
    d2 = (fn(x + h) - 2 * fn(x) + fn(x - h)) / (h * h)
    assert framead.grad(fn)(x) == pytest.approx(d1, rel=1e-7, abs=1e-5)  # (h/2: i1e kink)
    if x != 0.0 or fn in (ss.i0, ss.i1):  # (i0e, i1e have a kink at 0: exp(-|x|))
        assert framead.grad(framead.grad(fn))(x) == pytest.approx(d2, rel=1e-4, abs=1e-4)
    arr = np.array([x, -x, x + 1])
    expect = [(fn(a + h) - fn(a - h)) / (2 * h) for a in arr]
    np.testing.assert_allclose(framead.grad(lambda v: fn(v).sum())(arr), expect, rtol=1e-7,
                               atol=1e-5)


def _sigmoid(v):
    return 0.5 * (1 + math.tanh(v / 2))


@pytest.mark.parametrize("v", [-30.0, 0.0, 3.0, 60.0, 400.0, 700.0])
def test_softplus_second_derivative_does_not_lose_a_unit_term(v):
    """d2/dv2 log1p(exp(v)) = s(1-s), s = sigmoid(v): at v = 400 the quotient rule's
    -ans / y is 1e-348 = 0 before the 1e174 of exp; the old order gave 1 there."""
    want = _sigmoid(v) * _sigmoid(-v)
    x = np.array([v])
    f = lambda a: np.log1p(np.exp(a)).sum()  # noqa: E731
    assert framead.hessian(f)(x)[0, 0] == pytest.approx(want, rel=1e-6, abs=1e-15)
    assert framead.jvp(framead.grad(f), (x,), (np.ones(1),))[1][0] == pytest.approx(
        want, rel=1e-6, abs=1e-15)
    g = framead.grad(framead.grad(lambda a: math.log1p(math.exp(a))))(v)
    assert g == pytest.approx(want, rel=1e-6, abs=1e-15)
    assert framead.jvp(lambda a: np.log1p(np.exp(a)), (x,), (np.ones(1),))[1][0] == \
        pytest.approx(_sigmoid(v), rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.floats(-1e3, 1e3), st.floats(0.1, 50), st.floats(-300, 300))
def test_quotient_divisor_derivative_against_differences(a, b, e):
    """d/dy (a / y) at y = b * 2**e, first and second order, array and Python float."""
    y = b * 2.0 ** int(e)
    want1, want2 = -a / y / y, 2 * a / y / y / y
    for f in (lambda t: a / t, lambda t: np.divide(a, np.array([t])).sum()):
        g1 = framead.grad(f)(y)
        assert g1 == pytest.approx(want1, rel=1e-12, abs=1e-300)
        g2 = framead.grad(framead.grad(f))(y)
        if math.isfinite(want2):
            assert g2 == pytest.approx(want2, rel=1e-12, abs=1e-300)


def special_cases() -> list:
    """``(fn, args, kwargs)`` of the scipy.special rules s21 added (the sweep found their
    gradients lost: no rule), at generic points and at the removable singularities."""
    x, m = np.array([0.3, 1.7, 4.2]), np.array([0.0, 0.3, 0.8])
    return [(ss.erfi, (x,), {}), (ss.exprel, (np.array([0.0, 1e-4, -0.7, 3.0]),), {}),
            (ss.exp1, (x,), {}), (ss.expi, (-x,), {}), (ss.expi, (x,), {}),
            (ss.sindg, (x * 30,), {}), (ss.cosdg, (x * 30,), {}), (ss.tandg, (x * 20,), {}),
            (ss.cotdg, (x * 20,), {}), (ss.spence, (np.array([0.3, 1.0, 2.5]),), {}),
            (ss.k0e, (x,), {}), (ss.k1e, (x,), {}), (ss.ellipk, (m,), {}), (ss.ellipe, (m,), {}),
            (ss.ellipkm1, (0.95 - 0.9 * m,), {}),
            (ss.huber, (np.array([1.0, 1.0, 0.5]), np.array([0.3, -2.0, 0.7])), {}),
            (ss.pseudo_huber, (np.array([1.0, 0.7, 2.0]), np.array([0.3, -2.0, 0.7])), {}),
            (ss.owens_t, (np.array([0.3, -1.2, 2.0]), np.array([0.5, 1.5, -0.7])), {})]


@pytest.mark.parametrize("case", special_cases(), ids=lambda c: c[0].__name__)
def test_new_special_rules_against_differences(case):
    import framead.rules as R
    R.install_optional()
    fn, args, kwargs = case
    assert R.check(fn, *args, **kwargs).ok
    if len(args) == 1:  # second order: grad of grad against differences of the first
        a = float(args[0][1])
        h = 1e-5
        d2 = (framead.grad(fn)(a + h) - framead.grad(fn)(a - h)) / (2 * h)
        assert framead.grad(framead.grad(fn))(a) == pytest.approx(d2, rel=1e-5, abs=1e-7)


def library_cases() -> list:
    """``(fn, args, kwargs)`` for test_rules_library's census: np.i0, its derivative
    bessel_i1, and the scipy.special rules above."""
    x = np.array([0.3, -1.2, 2.5])
    return [(np.i0, (x,), {}), (bessel_i1, (x,), {})] + special_cases()


def test_census_cases_check():
    import framead.rules as R
    R.install_optional()
    for fn, args, kwargs in library_cases()[:2]:
        assert R.check(fn, *args, **kwargs).ok
