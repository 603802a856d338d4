"""Legacy NumPy programs (written without AD in mind) that use the rule library the usual way:
axis arguments, keepdims, negative axes, methods, views, out=, linalg, FFT, SciPy. Each gradient
is checked against float64 central differences."""

# ruff: noqa: E501, E702
from __future__ import annotations

import cmath
import functools
import math
import operator

import numpy as np
import pytest
from conftest import assert_grad_matches_fd

try:
    import scipy.linalg as sl
    import scipy.special as sp
except ImportError:  # pragma: no cover - scipy is an optional extra
    sl = sp = None

def p_linalg(x):
    A = x.reshape(3, 3) + 4 * np.eye(3)
    S = A @ A.T
    L = np.linalg.cholesky(S)
    w, V = np.linalg.eigh(S)
    U_, s, Vt = np.linalg.svd(A)
    Q, R = np.linalg.qr(A)
    sign, ld = np.linalg.slogdet(A)
    inv = np.linalg.inv(A)
    sol = np.linalg.solve(A, x[:3])
    return (L.sum() + w[-1] + (V[:, -1] ** 2).sum() + s.sum() + np.abs(R).sum() + ld
            + inv.trace() + sol @ sol + np.linalg.norm(A, 'fro') + np.linalg.norm(A, 2)
            + np.linalg.det(A) / 100 + np.linalg.pinv(A[:, :2]).sum() + np.linalg.matrix_power(A, 2).sum() / 100)

def p_stats(x):
    M = x.reshape(3, 3)
    return (M.std(axis=0).sum() + np.var(M, axis=-1, ddof=1).sum() + np.ptp(M, axis=1).sum()
            + np.median(M) + np.percentile(M, 30) + np.average(M, axis=0, weights=[1., 2., 3.]).sum()
            + np.cumsum(M, axis=1)[:, -1].sum() + np.cumprod(M[0]).sum() + M.mean(keepdims=True).sum()
            + np.nansum(M) + np.max(M, axis=-1).sum() + M.min() + np.cov(M).sum() + np.corrcoef(M)[0, 1])

def p_shapes(x):
    M = x.reshape(3, 3)
    T = np.concatenate([M, M[::-1]], axis=1)
    H = np.hstack([M, M]) + np.vstack([M, M]).T[:3, :6]
    parts = np.split(T, 3, axis=1)
    P = np.pad(M, 1, mode='edge')
    y = np.sort(x)
    z = x.copy(); z.sort()
    return (T.sum() + H.sum() + sum(p.sum() * i for i, p in enumerate(parts)) + (P ** 2).sum()
            + y[-1] * 2 + z[0] + np.take(x, [0, 2, 2]).sum() + np.roll(x, 2)[0] + np.tile(x[:2], 3) @ np.arange(6.)
            + np.repeat(x[:3], 2).sum() + np.triu(M).sum() + np.diag(M).sum() + np.diagonal(M, 1).sum()
            + np.flip(x)[0] + np.swapaxes(M[None], 0, 2).sum() + np.squeeze(M[None, :, :1]).sum()
            + np.moveaxis(M[:, :, None], -1, 0)[0, 1, 2] + np.broadcast_to(x[:3], (2, 3)).sum()
            + np.expand_dims(x, 0).sum() + np.atleast_2d(x[0]).sum() + np.take_along_axis(M, np.argsort(M, axis=1), 1)[:, 0].sum())

def p_products(x):
    M = x.reshape(3, 3)
    return (np.einsum('ij,jk->', M, M) + np.einsum('ii', M) + np.tensordot(M, M, axes=1).sum()
            + np.outer(x[:3], x[3:6]).sum() + np.kron(M[:2, :2], M[:2, :2]).sum() + np.inner(x[:3], x[3:6])
            + np.vdot(x, x) + np.cross(x[:3], x[3:6]).sum() + np.trace(M) + np.linalg.multi_dot([M, M, M]).sum() / 10
            + np.dot(M, x[:3]).sum())

def p_series(x):
    return (np.diff(x, 2).sum() ** 2 + np.convolve(x, [1., -2, 1], 'same').sum() + np.correlate(x, x[:3]).sum()
            + np.interp(0.7, [0., 0.5, 1.0, 2.0], x[:4]) + np.polyval(x[:3], 0.3) + np.trapezoid(x, dx=0.1)
            + np.gradient(x)[2] + np.linspace(x[0], x[1], 5).sum() + np.sinc(x).sum())

def p_fft(x):
    X = np.fft.fft(x)
    R = np.fft.rfft(x)
    y = np.fft.irfft(R * np.exp(-np.arange(R.size)), n=x.size)
    F2 = np.fft.fft2(x.reshape(3, 3))
    return np.abs(X).sum() + (np.abs(R) ** 2).sum() + y[1] + F2.real.sum() + (np.fft.ifft(X * 2).imag ** 2).sum() + np.fft.fftshift(x)[0] + np.abs(np.fft.rfftn(x.reshape(3, 3))).sum()

def p_scipy(x):
    M = x.reshape(3, 3) + 4 * np.eye(3)
    c, low = sl.cho_factor(M @ M.T)
    lu, piv = sl.lu_factor(M)
    return (sp.logsumexp(x) + sp.softmax(x)[0] + sp.log_softmax(x).sum() + sp.gammaln(np.abs(x) + 1).sum()
            + sp.expit(x).sum() + sp.erf(x).sum() + sp.xlogy(x ** 2, np.abs(x) + 1).sum()
            + sl.cho_solve((c, low), x[:3]).sum() + sl.lu_solve((lu, piv), x[:3]).sum()
            + sl.solve_triangular(M, x[:3]).sum() + sl.expm(M / 10).sum() + sl.solve(M, x[:3]).sum())

def p_math(x):
    a, b = float(x[0]), float(x[1])

    return (math.gamma(abs(a) + 1) + math.lgamma(abs(b) + 2)
            + functools.reduce(operator.mul, [a, b, 3.0]) + math.exp2(a) + cmath.exp(1j * a).real
            + math.hypot(a, b) + math.remainder(a * 5, 1.3) + math.dist(x[:2], [1.0, 2.0]))

def p_methods(x):
    M = x.reshape(3, 3)
    return (M.clip(-0.5, 0.5).sum() + M.cumsum(axis=0)[-1] @ np.ones(3) + M.std(ddof=1) + M.var(axis=1).sum()
            + M.diagonal().sum() + M.swapaxes(0, 1)[0, 2] + M[None].squeeze().sum() + M.trace()
            + M.repeat(2, axis=0).sum() + M.take([0, 4]).sum() + M.cumprod(axis=1)[:, -1].sum()
            + M.mT[0, 1] + M.max(axis=0).sum() + M.T.dot(x[:3]).sum())

def p_out(x):
    buf = np.empty(9)
    np.cumsum(x, out=buf)
    res = np.empty((3, 3))
    np.einsum('i,j->ij', x[:3], x[3:6], out=res)
    t = np.zeros(3)
    np.take(x, [1, 2, 3], out=t)
    return buf.sum() + res.sum() + (t ** 2).sum()

def p_loop(x):
    A = np.diag(x[:3] + 2.0)
    v = x[3:6].copy()
    for _ in range(3):
        v = np.linalg.solve(A + np.outer(v, v) * 0.1, v)
        v /= np.linalg.norm(v)
    w, V = np.linalg.eigh(A + np.outer(v, v))
    return w @ np.arange(3.) + np.abs(V[:, 0]).sum()

def p_spectral(x):
    sig = np.concatenate([x, x[::-1]])
    spec = np.fft.rfft(sig * np.hanning(sig.size))
    power = spec.real ** 2 + spec.imag ** 2
    filt = np.fft.irfft(spec * (np.arange(spec.size) < 4), n=sig.size)
    return np.log(power + 1).sum() + (filt ** 2).sum() + np.convolve(sig, np.ones(3) / 3, mode='valid').max()

def p_stats2(x):
    data = x.reshape(3, 3)
    z = (data - data.mean(axis=0, keepdims=True)) / data.std(axis=0, keepdims=True)
    q = np.quantile(data, [0.25, 0.75], axis=1)
    h = np.histogram(x, bins=3)[0]
    return (z ** 3).sum() + q.sum() + np.nanmean(np.where(data > 0, data, np.nan)) + h.sum() * 0 + np.median(data, axis=0).sum()

PROGRAMS = [p_linalg, p_stats, p_shapes, p_products, p_series, p_fft, p_scipy, p_math,
            p_methods, p_out, p_loop, p_spectral, p_stats2]
X0 = np.array([0.31, -0.72, 0.55, 1.13, -0.27, 0.84, -0.46, 0.19, 0.67])


@pytest.mark.parametrize("f", PROGRAMS, ids=[f.__name__ for f in PROGRAMS])
def test_legacy_program_gradient(f):
    if f is p_scipy and sp is None:
        pytest.skip("scipy not installed")
    assert_grad_matches_fd(f, X0.copy(), rtol=1e-6)
