"""The Cholesky rule's triangular solve: right for every shape it is given, and a gradient
through ``np.linalg.cholesky`` imports nothing (SciPy's ~150 ms, ~45 MB import on a first
call was what the blocked NumPy solve replaced). The triangle helpers of the Hermitian
rules (in place, for speed) are np.tril's values exactly."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import scipy_linalg_hidden
from framead.rules.matrices import herm_adjoint, mH, zero_triangle
from framead.rules.triangular import tri_solve
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(n=st.integers(1, 200), m=st.integers(1, 5), batch=st.sampled_from([(), (2,)]),
       lower=st.booleans(), cplx=st.booleans(), seed=st.integers(0, 2**16),
       numpy_only=st.booleans())
def test_tri_solve_matches_lu_solve(n, m, batch, lower, cplx, seed, numpy_only):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((*batch, n, n))
    if cplx:
        a = a + 1j * rng.standard_normal((*batch, n, n))
    a = a @ np.swapaxes(a.conj(), -1, -2) + n * np.eye(n)
    chol = np.linalg.cholesky(a)
    t = chol if lower else np.swapaxes(chol.conj(), -1, -2)
    b = rng.standard_normal((*batch, n, m))
    before = (t.copy(), b.copy())
    with scipy_linalg_hidden(numpy_only):  # (else SciPy's where loaded, for 2-D t)
        x = tri_solve(t, b, lower)
    ref = np.linalg.solve(t, b)
    assert x.shape == ref.shape and x.dtype == ref.dtype
    np.testing.assert_allclose(x, ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max())
    np.testing.assert_array_equal(t, before[0])  # the operands are left alone
    np.testing.assert_array_equal(b, before[1])


_NO_IMPORT = textwrap.dedent("""
    import sys
    import numpy as np
    import framead

    def nll(a, y):
        k = a @ a.T + 3.0 * np.eye(len(y))
        chol = np.linalg.cholesky(k)
        z = np.linalg.solve(chol, y)
        return 0.5 * z @ z + np.sum(np.log(np.diag(chol)))

    rng = np.random.default_rng(0)
    n = {n}
    a, y = rng.standard_normal((n, n)), rng.standard_normal(n)
    g = framead.grad(nll)(a, y)
    assert "scipy.linalg" not in sys.modules, "the gradient imported scipy.linalg"
    h = 1e-6
    for i, j in [(0, 0), (n - 1, 1), (n // 2, n - 1)]:
        e = np.zeros_like(a)
        e[i, j] = h
        fd = (nll(a + e, y) - nll(a - e, y)) / (2 * h)
        assert abs(g[i, j] - fd) <= 1e-6 * max(1.0, abs(fd)), (i, j, g[i, j], fd)
    print("ok")
""")


@pytest.mark.parametrize("n", [5, 150])
def test_cholesky_gradient_imports_no_scipy(n):
    out = subprocess.run([sys.executable, "-c", _NO_IMPORT.format(n=n)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(n=st.integers(1, 7), m=st.integers(1, 7), batch=st.sampled_from([(), (3,)]),
       k=st.integers(-8, 8), cplx=st.booleans(), special=st.booleans(),
       seed=st.integers(0, 2**16))
def test_triangle_helpers_are_trils_values(n, m, batch, k, cplx, special, seed):
    """``zero_triangle(x, k)`` is ``np.tril(x, k - 1)`` in place (zeros of +0.0, NaN and inf
    above the diagonal dropped, not multiplied); ``herm_adjoint`` is its former out-of-place
    formula, bit for bit."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((*batch, n, m))
    if cplx:
        x = x + 1j * rng.standard_normal((*batch, n, m))
    if special:
        x.flat[rng.integers(0, x.size, 3)] = [np.nan, np.inf, -0.0]
    want = np.tril(x, k - 1)
    y = x.copy()
    got = zero_triangle(y, k)
    assert got is y
    np.testing.assert_array_equal(got, want)
    assert not np.signbit(got[np.tril(np.ones_like(x, bool), k - 1) == 0].real).any()
    sq = x[..., :n, :n] if m >= n else x[..., :m, :m]
    for lower in (True, False):
        s = sq + mH(sq)
        old = np.tril(s, -1) if lower else np.triu(s, 1)
        d = np.arange(sq.shape[-1])
        old[..., d, d] = np.real(sq[..., d, d])
        np.testing.assert_array_equal(herm_adjoint(sq, lower), old)
