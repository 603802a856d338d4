"""Solves with an exactly triangular matrix (a Cholesky factor, its transpose) are
differentiated by a blocked triangular solve (rules/triangular.py) instead of a general LU:
``triangle`` tells triangular matrices from all others (a single entry off the triangle makes
a matrix general), and the gradients and tangents of ``np.linalg.solve`` with such matrices
(large, ill-conditioned, stacked, vector or matrix right-hand sides) match the LU formula
and central differences."""

from __future__ import annotations

import types

import numpy as np
import pytest
from conftest import scipy_linalg_hidden
from framead.rules import matrices
from framead.rules import triangular as tri
from hypothesis import given, settings
from hypothesis import strategies as st

import framead

_SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None)


@_SETTINGS
@given(n=st.integers(1, 150), batch=st.sampled_from([(), (2,)]),
       kind=st.sampled_from(["lower", "upper", "diag", "full", "stray", "zero"]),
       order=st.sampled_from(["C", "F"]), cplx=st.booleans(), seed=st.integers(0, 2**16))
def test_triangle_is_exact(n, batch, kind, order, cplx, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((*batch, n, n)) + (1j * rng.standard_normal((*batch, n, n))
                                                if cplx else 0)
    if kind in ("lower", "stray"):
        a = np.tril(a)
    elif kind == "upper":
        a = np.triu(a)
    elif kind == "diag":
        a = np.tril(np.triu(a))
    elif kind == "zero":
        a = np.zeros_like(a)
    if kind == "stray" and n > 1:  # one entry above the diagonal, anywhere
        i = int(rng.integers(0, n - 1))
        j = int(rng.integers(i + 1, n))
        a[..., i, j] = 1e-300
    a = np.asarray(a, order=order)
    want = None
    if n > tri.MIN_N:
        want = True if np.array_equal(np.tril(a), a) else \
            False if np.array_equal(np.triu(a), a) else None
    assert tri.triangle(a) is want


def _triangular(rng, n, batch, lower, spread):
    """The Cholesky factor (or its transpose) of an SPD matrix (stack): one whose eigenvalues
    spread over ``spread`` decades, or (spread < 0) a squared-exponential kernel matrix plus
    10^spread I (ill-conditioned as a Gaussian process's)."""
    if spread < 0:
        x = rng.uniform(-2.0, 2.0, (*batch, n, 1))
        k = np.exp(-0.5 * (x - np.swapaxes(x, -1, -2)) ** 2) + 10.0 ** spread * np.eye(n)
    else:
        q = np.linalg.qr(rng.standard_normal((*batch, n, n)))[0]
        s = 10.0 ** rng.uniform(0.0, spread, (*batch, 1, n))
        k = (q * s) @ np.swapaxes(q, -1, -2)
        k = 0.5 * (k + np.swapaxes(k, -1, -2))
    t = np.linalg.cholesky(k)
    return t if lower else np.swapaxes(t, -1, -2).copy()


def _lu_formula(a, b, w, vec):
    """The LU rule's cotangents of sum(w * solve(a, b)) (the formula before this change)."""
    x = np.linalg.solve(a, b[..., None])[..., 0] if vec else np.linalg.solve(a, b)
    at = np.swapaxes(a, -1, -2)
    gb = np.linalg.solve(at, w[..., None])[..., 0] if vec else np.linalg.solve(at, w)
    ga = -(gb[..., :, None] * x[..., None, :] if vec else gb @ np.swapaxes(x, -1, -2))
    return ga, gb


@_SETTINGS
@given(n=st.integers(tri.MIN_N + 1, 160), batch=st.sampled_from([(), (2,)]),
       lower=st.booleans(), vec=st.booleans(), spread=st.sampled_from([-10, -6, -2, 0, 4, 8]),
       transposed=st.booleans(), seed=st.integers(0, 2**16), numpy_only=st.booleans())
def test_solve_with_triangular_matrix(n, batch, lower, vec, spread, transposed, seed,
                                      numpy_only):
    """Gradient of sum(w * solve(t, b)) in (t, b) and the tangent along (dt, db): the LU
    formula's values to a small factor of its own error, and central differences; with
    ``numpy_only`` the blocked NumPy solve runs even where SciPy is loaded."""
    with scipy_linalg_hidden(numpy_only):
        _solve_with_triangular_matrix(n, batch, lower, vec, spread, transposed, seed)


def _solve_with_triangular_matrix(n, batch, lower, vec, spread, transposed, seed):
    if vec and batch:
        batch = ()  # (NumPy 2 reads a 1-D b as one vector for every matrix of the stack)
    rng = np.random.default_rng(seed)
    t = _triangular(rng, n, batch, lower, spread)
    if transposed:  # a transposed view, as solve(L.T, z) passes it
        t = np.swapaxes(np.swapaxes(t, -1, -2).copy(), -1, -2)
    b = rng.standard_normal((n,) if vec else (*batch, n, 3))
    w = rng.standard_normal(np.linalg.solve(t, b[..., None])[..., 0].shape if vec
                            else np.linalg.solve(t, b).shape)
    before = (t.copy(), b.copy())

    def f(t, b):
        return np.sum(w * np.linalg.solve(t, b))

    ga, gb = framead.grad(f, argnums=(0, 1))(t, b)
    np.testing.assert_array_equal(t, before[0])
    np.testing.assert_array_equal(b, before[1])
    ra, rb = _lu_formula(t, b, w, vec)
    for got, ref in ((ga, ra), (gb, rb)):
        scale = np.max(np.abs(ref))
        # the LU formula's own rounding error (cond(t) eps), times a small factor
        tol = 50 * np.finfo(float).eps * n * np.linalg.cond(t).max() * scale
        assert got.shape == ref.shape
        assert np.max(np.abs(got - ref)) <= max(tol, 1e-12 * scale)
    # central differences (fourth order) along a direction that leaves the triangle (a
    # general solve), with a step scaled down by the condition number
    cond = np.linalg.cond(t).max()
    if cond < 1e4:
        dt, db = rng.standard_normal(t.shape), rng.standard_normal(b.shape)
        h = 1e-3 * np.max(np.abs(t)) / cond

        def along(s):
            return f(t + s * dt, b + s * db)

        fd = (8 * (along(h) - along(-h)) - (along(2 * h) - along(-2 * h))) / (12 * h)
        lin = np.sum(ga * dt) + np.sum(gb * db)
        assert abs(lin - fd) <= 1e-6 * (abs(fd) + np.sum(np.abs(ga * dt)))
        _, tan = framead.jvp(f, (t, b), (dt, db))
        assert abs(tan - lin) <= 1e-9 * (abs(lin) + np.sum(np.abs(ga * dt)))


def test_triangular_cotangent_runs_no_lu(monkeypatch):
    """The cotangents of solve(L, y) and solve(L.T, z) with a large Cholesky factor take no
    general solve (NumPy's LU) in the reverse pass."""
    rng = np.random.default_rng(3)
    n = 120
    a = rng.standard_normal((n, n))
    chol = np.linalg.cholesky(a @ a.T + n * np.eye(n))
    y = rng.standard_normal(n)

    def f(chol, y):
        return y @ np.linalg.solve(chol.T, np.linalg.solve(chol, y))

    ref = framead.grad(f, argnums=(0, 1))(chol, y)

    def refuse(*args, **kwargs):
        raise AssertionError("a general LU solve in the reverse pass")

    lapack = types.SimpleNamespace(inv=np.linalg.inv, solve=refuse)
    monkeypatch.setattr(tri, "la", lapack)
    monkeypatch.setattr(matrices, "la", lapack)  # (matrices.solve_vec: tri.solve's vectors)
    got = framead.grad(f, argnums=(0, 1))(chol, y)
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12 * np.abs(r).max())


@pytest.mark.parametrize("lower", [True, False])
def test_general_matrix_takes_lu(lower):
    """A matrix with one entry off its triangle is solved as a general one (right value)."""
    rng = np.random.default_rng(5)
    n = 100
    t = _triangular(rng, n, (), lower, 0)
    i = n // 2
    t[(i, i + 3) if lower else (i + 3, i)] = 0.5
    b = rng.standard_normal(n)
    np.testing.assert_allclose(tri.solve(t, b, True), np.linalg.solve(t, b), rtol=1e-12,
                               atol=1e-12)


@_SETTINGS
@given(n=st.integers(1, 200), batch=st.sampled_from([((), ()), ((2,), (2,)), ((3,), ()),
                                                     ((), (2,))]),
       cplx=st.booleans(), seed=st.integers(0, 2**16))
def test_lower_of_product_is_trils(n, batch, cplx, seed):
    """``lower_of_product(u, b)``'s lower triangle is ``tril(u @ b)`` (u upper), stacks
    broadcast as matmul does."""
    rng = np.random.default_rng(seed)
    u = np.triu(rng.standard_normal((*batch[0], n, n)))
    b = rng.standard_normal((*batch[1], n, n))
    if cplx:
        b = b + 1j * rng.standard_normal(b.shape)
    got = np.tril(tri.lower_of_product(u, b))
    want = np.tril(u @ b)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13 * n * np.abs(want).max())


def _old_chol_adj(gl, l):
    """The Cholesky adjoint before lower_of_product: the full product L^H G (real)."""
    x = l.T @ gl
    p = np.tril(x, -1)
    d = np.arange(x.shape[-1])
    p[d, d] = 0.5 * x[d, d]
    m = np.linalg.solve(l.T, np.linalg.solve(l.T, p).T).T  # L^-H P L^-1
    return np.tril(m + m.T, -1) + np.diag(np.diag(m))


@_SETTINGS
@given(n=st.integers(tri.MIN_N + 1, 150), spread=st.sampled_from([-8, -4, 0, 4, 8]),
       upper=st.booleans(), seed=st.integers(0, 2**16))
def test_cholesky_gradient(n, spread, upper, seed):
    """Gradient of sum(w * cholesky(a)) for SPD matrices of several conditionings: the
    former formula's value (to its own error) and central differences (well conditioned)."""
    rng = np.random.default_rng(seed)
    lower = _triangular(rng, n, (), True, spread)
    a = lower @ lower.T
    w = rng.standard_normal((n, n))

    def f(a):
        return np.sum(w * np.linalg.cholesky(a, upper=upper))

    g = framead.grad(f)(a)
    wl = w.T if upper else w
    ref = _old_chol_adj(np.tril(wl), lower)
    ref = ref.T if upper else ref
    cond = np.linalg.cond(lower)
    tol = 100 * np.finfo(float).eps * n * cond ** 2 * np.abs(ref).max()
    assert np.max(np.abs(g - ref)) <= max(tol, 1e-12 * np.abs(ref).max())
    if cond < 1e2:
        e = rng.standard_normal((n, n))
        e = e + e.T
        h = 1e-3 / cond ** 2

        def along(s):
            return f(a + s * e)

        fd = (8 * (along(h) - along(-h)) - (along(2 * h) - along(-2 * h))) / (12 * h)
        lin = np.sum(g * e)
        assert abs(lin - fd) <= 1e-6 * (abs(fd) + np.sum(np.abs(g * e)))
