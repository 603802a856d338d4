"""Rules for ``scipy.stats.gaussian_kde``'s evaluation kernels (Cython:
``scipy.stats._stats.gaussian_kernel_estimate[_log]``, one function per dtype), which
``gaussian_kde.evaluate``/``__call__``/``pdf``/``logpdf`` call with the data, the weights, the
points and the Cholesky factor ``L`` of the kernel covariance (the bandwidth: NumPy and SciPy
operations framead already differentiates, so the data reach it too).

With ``P = points L^-T``, ``X = xi L^-T``, ``K[i, j] = exp(-|P_i - X_j|^2 / 2)`` and
``c = (2 pi)^(-d/2) / prod(diag L)``: ``est = c K^T values`` (``log`` of it for ``_log``).
Only ``L``'s lower triangle is read (its cotangent is lower triangular). The ``double``
kernels only: the ``float`` ones (float32 data and points) and ``long double`` ones have no
rule (FA101: a float32 result's finite differences cannot check one).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import _stats

from .registry import ANS, lookup, register


def _parts(points, values, xi, cho_cov, ans, log):
    """(P, X, L^-1, E) with ``E[i, j, k]`` = d est[j, k] / d values[i, k] (the log kernel's:
    of log est, formed without leaving the log domain)."""
    points, xi, values = (np.asarray(v, dtype=float) for v in (points, xi, values))
    low = np.tril(np.asarray(cho_cov, dtype=float))
    d = low.shape[0]
    inv = np.linalg.inv(low)
    p, x = points @ inv.T, xi @ inv.T
    dist = np.zeros((len(p), len(x)))  # (n, m), a coordinate at a time: no (n, m, d) temporary
    for k in range(d):
        dist += np.subtract.outer(p[:, k], x[:, k]) ** 2
    log_c = -0.5 * d * np.log(2 * np.pi) - np.sum(np.log(np.diag(low)))
    logs = (log_c - dist / 2)[:, :, None]
    if log:
        logs = logs - np.asarray(ans, dtype=float)[None]
    return p, x, inv, np.exp(logs), values


def _cots(log):
    def vjp(g, ans, points, values, xi, cho_cov, dtype, _=0):
        g = np.asarray(g, dtype=float)
        p, x, inv, e, vals = _parts(points, values, xi, cho_cov, ans, log)
        g_values = np.einsum("jk,ijk->ik", g, e)
        w = np.einsum("jk,ik,ijk->ij", g, vals, e)  # d/d dist[i, j] is -w / 2
        g_p = w @ x - np.sum(w, axis=1)[:, None] * p
        g_x = w.T @ p - np.sum(w, axis=0)[:, None] * x
        g_log_c = float(np.sum(g) if log else np.sum(g * np.asarray(ans, dtype=float)))
        # P = points M, M = L^-T: d<gP, P> / dL = -M (points^T gP + xi^T gX)^T M
        g_m = np.asarray(points, dtype=float).T @ g_p + np.asarray(xi, dtype=float).T @ g_x
        g_low = -inv.T @ g_m.T @ inv.T - np.diag(g_log_c * np.diag(inv))  # (1 / L_ii)
        return (g_p @ inv, g_values, g_x @ inv, np.tril(g_low))
    return vjp


def _jvp(log):
    def jvp(tangents, ans, points, values, xi, cho_cov, dtype, _=0):
        tp, tv, tx, tl = (tuple(tangents) + (None,) * 4)[:4]
        p, x, inv, e, vals = _parts(points, values, xi, cho_cov, ans, log)
        z = [np.zeros(np.shape(v)) if t is None else np.asarray(t, dtype=float)
             for t, v in ((tp, points), (tv, values), (tx, xi), (tl, cho_cov))]
        dm = -inv.T @ np.tril(z[3]).T @ inv.T  # d(L^-T)
        dp = z[0] @ inv.T + np.asarray(points, dtype=float) @ dm
        dx = z[2] @ inv.T + np.asarray(xi, dtype=float) @ dm
        ddist = np.zeros(e.shape[:2])  # (n, m), a coordinate at a time
        for k in range(p.shape[1]):
            ddist += np.subtract.outer(p[:, k], x[:, k]) * np.subtract.outer(dp[:, k], dx[:, k])
        ddist *= 2
        dlog_c = -np.sum(np.diag(z[3]) * np.diag(inv))
        out = np.einsum("ijk,ik->jk", e, z[1]) + \
            np.einsum("ijk,ik,ij->jk", e, vals, dlog_c - ddist / 2)
        return out.astype(np.result_type(ans))
    return jvp


def install() -> None:
    """Register the double kernels (a user's own rule wins)."""
    for kernel, log in ((_stats.gaussian_kernel_estimate, False),
                        (_stats.gaussian_kernel_estimate_log, True)):
        fn = kernel["double"]
        if lookup(fn) is None:
            name = f"scipy.stats._stats.{kernel.__name__}[double]"
            register(fn, vjp=_cots(log), jvp=_jvp(log), saves={i: (0, 1, 2, 3, ANS)
                                                                for i in range(4)},
                     nondiff=(4,), name=name,
                     argnames=("points", "values", "xi", "cho_cov", "dtype", "_"))
