"""Rule gaps (s21): the full SVD (``full_matrices=True``, NumPy and SciPy) of a non-square
matrix is differentiated as far as the output uses U[..., :k], s and Vh[..., :k, :] (k = min(m,
n)); a cotangent or tangent on the extra singular vectors (not unique) is NaN, reported FA112.
References: central differences in float64 of the native program."""

from __future__ import annotations

import warnings

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


def _program(svd, k, w, extra, rebuild):
    """A sign-invariant function of U[:, :k], s, Vh[:k], with ``extra``: of the one extra
    singular vector (unique up to its sign), with ``rebuild``: of U @ S_full @ Vh."""
    def f(a):
        u, s, vh = svd(a)
        m, n = a.shape
        out = (np.sum(s ** 2 * w[:k]) + np.sum(u[:, :k] ** 2 * w[:m, None])
               + np.sum(vh[:k] ** 4 * w[:n]))
        if extra:
            out = out + np.sum(u[:, k:] ** 2 * w[:m, None]) + np.sum((vh[k:] * w[:n]) ** 2) \
                + np.sum((u[:, k:].T @ a) ** 2)
        if rebuild:
            sf = np.zeros((m, n))
            sf[:k, :k] = np.diag(s)
            out = out + np.sum((u @ sf @ vh) ** 2 * w[:m, None])
        return out
    return f


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.integers(0, 2 ** 31),
       st.sampled_from(["numpy", "scipy"]), st.booleans())
def test_full_svd_of_any_shape_against_differences(m, n, seed, which, rebuild):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(m, n))
    s = np.linalg.svd(a, compute_uv=False)
    if s.size > 1 and (np.min(np.abs(np.diff(s))) < 0.05 or s[-1] < 0.05):
        return  # (close singular values: the differences need a smaller step)
    svd = np.linalg.svd if which == "numpy" else sl.svd
    f = _program(svd, min(m, n), np.linspace(0.5, 2.0, max(m, n)), abs(m - n) == 1, rebuild)
    t = rng.normal(size=a.shape)
    want = _fd(f, a)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = framead.grad(f)(a)
        if abs(m - n) > 1 and rebuild:  # (NaN extra tangents times S_full's zero columns)
            with pytest.warns(framead.GradientWarning, match="FA112"):
                framead.jvp(f, (a,), (t,))
            jt = np.sum(want * t)
        else:
            jt = framead.jvp(f, (a,), (t,))[1]
    np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6)
    assert jt == pytest.approx(np.sum(want * t), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("svd", [np.linalg.svd, sl.svd])
@pytest.mark.parametrize("shape", [(4, 2), (2, 4)])
def test_full_svd_extra_vectors_are_reported_not_silent(svd, shape):
    a = np.arange(8.0).reshape(shape) ** 1.5 + np.eye(*shape)
    f = lambda x: np.sum(svd(x)[0] * 1.5) + np.sum(svd(x)[2] * 0.5)  # noqa: E731
    with pytest.raises(framead.GradientHazard, match="FA112"):
        framead.grad(f, strict=True)(a)
    with pytest.warns(framead.GradientWarning, match="FA112.*svd"):
        g = framead.grad(f)(a)
    assert np.isnan(g).any()
    with pytest.warns(framead.GradientWarning, match="FA112.*svd"):
        framead.jvp(f, (a,), (np.ones(shape),))


def library_cases() -> list:
    """``(fn, args, kwargs)`` for test_rules_library's census: the full SVD of a non-square
    matrix."""
    a = np.random.default_rng(3).normal(size=(3, 2))  # (one extra vector: unique)
    return [(np.linalg.svd, (a,), {"full_matrices": True}),
            (np.linalg.svd, (a.T,), {"full_matrices": True})]


def test_census_cases_check():
    import framead.rules as R
    for fn, args, kwargs in library_cases():
        assert R.check(fn, *args, **kwargs).ok


def test_lu_factor_of_a_1d_array_is_reported_not_an_error():
    """SciPy 1.17 factors a 1-d array as a column; the rule's VJP raised IndexError."""
    x = np.array([0.3, 0.5, 0.8])
    native = sl.lu_factor(x)
    with pytest.raises(framead.GradientHazard, match="FA101.*lu_factor"):
        framead.grad(lambda v: np.sum(sl.lu_factor(v)[0]), strict=True)(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", framead.GradientWarning)
        value, _ = framead.value_and_grad(lambda v: np.sum(sl.lu_factor(v)[0]))(x)
    assert value == np.sum(native[0])
