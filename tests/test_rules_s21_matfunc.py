"""Rule gaps (s21): scipy.linalg.logm and sqrtm (rules/scipy_matfunc_rules.py: Fréchet
derivatives by the block matrix [[A, E], [0, A]]), first and second order, real matrices
with real and complex results, complex matrices. Reference: central differences in float64 of
the native program (second order: differences of the first-order differences)."""

from __future__ import annotations

import inspect
import warnings

import framead.rules as R
import numpy as np
import pytest
import scipy.linalg as sl
from hypothesis import given, settings
from hypothesis import strategies as st

import framead


def _fd(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def _matrix(rng, n, kind):
    a = rng.normal(size=(n, n)) * 0.4
    if kind == "spd":
        return a @ a.T + np.eye(n)
    if kind == "shifted":
        return a + 2.0 * np.eye(n)
    return a + np.diag(np.linspace(-1.5, 2.0, n))  # "negative": a complex result


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(0, 2 ** 31), st.sampled_from(["spd", "shifted", "negative"]),
       st.sampled_from(["logm", "sqrtm"]))
def test_logm_sqrtm_first_order(n, seed, kind, name):
    rng = np.random.default_rng(seed)
    a = _matrix(rng, n, kind)
    if np.min(np.abs(np.linalg.eigvals(a))) < 0.2:
        return
    fn = getattr(sl, name)
    w1, w2 = rng.normal(size=(n, n)), rng.normal(size=(n, n))
    f = lambda x: np.sum(np.real(fn(x)) * w1) + np.sum(np.imag(fn(x)) * w2)  # noqa: E731
    t = rng.normal(size=(n, n))
    with warnings.catch_warnings():
        warnings.simplefilter("error", framead.GradientWarning)
        g = framead.grad(f)(a)
        jt = framead.jvp(f, (a,), (t,))[1]
    want = _fd(f, a)
    np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6)
    assert jt == pytest.approx(np.sum(want * t), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("name", ["logm", "sqrtm"])
def test_logm_sqrtm_second_order(name):
    fn = getattr(sl, name)
    a = _matrix(np.random.default_rng(1), 3, "spd")
    w = np.arange(9.0).reshape(3, 3) / 5
    f = lambda x: np.sum(np.real(fn(x)) * w)  # noqa: E731
    h = framead.hessian(f)(a).reshape(9, 9)
    want = np.array([_fd(lambda x: np.sum(_fd(f, x, 1e-4) * e), a, 1e-4).ravel()
                     for e in np.eye(9).reshape(9, 3, 3)])
    np.testing.assert_allclose(h, want, atol=1e-5)
    gg = framead.jvp(framead.grad(f), (a,), (w,))[1]
    np.testing.assert_allclose(gg.ravel(), want @ w.ravel(), atol=1e-5)


@pytest.mark.parametrize("name", ["logm", "sqrtm"])
def test_logm_sqrtm_of_a_complex_matrix(name):
    fn = getattr(sl, name)
    a = _matrix(np.random.default_rng(2), 3, "shifted")
    b = np.random.default_rng(3).normal(size=(3, 3)) * 0.2
    f = lambda x: np.sum(np.abs(fn(x + 1j * b)) ** 2)  # noqa: E731
    np.testing.assert_allclose(framead.grad(f)(a), _fd(f, a), rtol=1e-5, atol=1e-6)


@pytest.mark.skipif("disp" not in inspect.signature(sl.sqrtm).parameters,
                    reason="SciPy 1.18 removed sqrtm's disp argument")
def test_disp_false_is_reported():
    a = _matrix(np.random.default_rng(4), 2, "spd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(framead.GradientHazard, match="FA101"):
            framead.grad(lambda x: np.sum(sl.sqrtm(x, disp=False)[0]), strict=True)(a)


_NORMS = ([((5,), o, None) for o in [None, 1, 2, 3, np.inf, -np.inf, 0.5, -1]]
          + [((3, 4), o, None) for o in [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]]
          + [((3, 4), o, a) for o in [None, 1, 2, np.inf, 3, 0.5] for a in [0, 1, -1]]
          + [((2, 3, 4), o, (1, 2)) for o in [None, "fro", "nuc", 1, 2, np.inf, -2]]
          + [((2, 3, 4), None, 2), ((2, 3, 4), 2, 0)])


@pytest.mark.parametrize(("shape", "ord", "axis"), _NORMS)
@pytest.mark.parametrize("keepdims", [False, True])
def test_scipy_linalg_norm_every_ord_and_axis(shape, ord, axis, keepdims):
    """scipy.linalg.norm calls BLAS nrm2 / LAPACK lange for some ord (FA101 before)."""
    rng = np.random.default_rng(abs(hash((shape, str(ord), str(axis), keepdims))) % 2 ** 32)
    x = rng.normal(size=shape)
    w = rng.normal(size=np.shape(np.linalg.norm(x, ord, axis, keepdims)))
    f = lambda y: np.sum(sl.norm(y, ord, axis, keepdims) * w)  # noqa: E731
    t = rng.normal(size=shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error", framead.GradientWarning)
        g = framead.grad(f, strict=True)(x)
        jt = framead.jvp(f, (x,), (t,))[1]
    want = _fd(f, x)
    np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6)
    assert jt == pytest.approx(np.sum(want * t), rel=1e-5, abs=1e-6)


def library_cases() -> list:
    """``(fn, args, kwargs)`` for test_rules_library's census (rules/scipy_matfunc_rules)."""
    a = _matrix(np.random.default_rng(5), 3, "spd")
    return [(sl.logm, (a,), {}), (sl.sqrtm, (a,), {}), (sl.norm, (a,), {"ord": 2}),
            (sl.norm, (a[0],), {})]


def test_census_cases_check():
    for fn, args, kwargs in library_cases():
        assert R.check(fn, *args, **kwargs).ok
