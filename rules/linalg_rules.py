"""Rules for ``np.linalg``: solves, inverses, determinants, factorizations (norms are in
``linalg_norm_rules``, installed with these).

Stacked inputs (``(..., M, M)``) work wherever NumPy accepts them. A function that reads one
triangle of its input (``cholesky``, ``eigh``) is differentiated as NumPy computes it: the
other triangle gets a zero cotangent (on symmetric directions this agrees with the symmetrized
gradient other libraries return). Complex inputs follow JAX's convention (registry docstring):
the VJP is the transpose of the JVP under ``Re(sum(u * v))``; non-holomorphic factorizations
are written with Hermitian adjoints (``_jax``) and conjugated into it. Eigen- and singular
vectors keep LAPACK's gauge (``eig``: unit norm, largest entry real; complex ``eigh``/``svd``:
one row real; ``qr``: diag(R) real); their cotangents divide by eigenvalue gaps, taken as zero
between equal eigenvalues.
"""
from __future__ import annotations

import sys

import numpy as np

from .helpers import add_tangents, fit, meta_of, shape_of, sum_to
from .linalg_norm_rules import NORM_RULES
from .registry import ANS, register, register_attr

la = np.linalg


def public_name(fn) -> str:
    """``np.linalg.solve``, ``np.fft.fft``, ``scipy.linalg.expm``: the documented spelling."""
    parts = (getattr(fn, "__module__", "") or "").split(".")
    public = [p for p in parts if not p.startswith("_")]
    head = "np" if public[0] == "numpy" else public[0]
    return ".".join([head, *public[1:2], fn.__name__])


def mT(x):
    return np.swapaxes(x, -1, -2)


def mH(x):
    return np.conj(np.swapaxes(x, -1, -2))


def _solve_vec(a, v):
    return la.solve(a, v[..., None])[..., 0]


def _is_vec(b):
    return len(shape_of(b)) == 1


def _outer_last(u, v):
    return u[..., :, None] * v[..., None, :]


def _cot(ct, x):
    """Cotangent ``ct`` summed over broadcast batch axes, as the kind of ``x``."""
    m = meta_of(x)
    return fit(sum_to(ct, m.shape), m)


def _real_only(name, *xs):
    if any(np.iscomplexobj(x) or (getattr(x, "dtype", None) is not None
                                  and np.dtype(x.dtype).kind == "c") for x in xs):
        raise NotImplementedError(f"framead: {name} of a complex matrix has no rule")


# --- solve, inv, det, slogdet ----------------------------------------------------------------

def _solve_gb(a, b, g):
    at = mT(np.asarray(a))
    return _solve_vec(at, g) if _is_vec(b) else la.solve(at, g)


def _solve_da(g, ans, a, b):
    gb = _solve_gb(a, b, g)
    return _cot(-(_outer_last(gb, ans) if _is_vec(b) else gb @ mT(ans)), a)


def _solve_db(g, ans, a, b):
    return _cot(_solve_gb(a, b, g), b)


def _solve_jvp(tangents, ans, a, b):
    ta, tb = tangents
    tax = None if ta is None else -((ta @ ans[..., None])[..., 0] if _is_vec(b) else ta @ ans)
    rhs = add_tangents((tb, tax))
    if rhs is None:
        return None
    return _solve_vec(a, rhs) if _is_vec(b) else la.solve(a, rhs)


def _inv_jvp(tangents, ans, a):
    return -(ans @ tangents[0] @ ans)


def _inv_vjp(g, ans, a):
    return _cot(-(mT(ans) @ g @ mT(ans)), a)


def _det_dx(ans, a):
    """d det / dA = adj(A)^T: det * inv(A)^T; at a (nearly) singular A the cofactors (minors'
    dets: they differentiate again), or through the SVD for large matrices."""
    a = np.asarray(a)
    if np.all(np.abs(ans) > 1e-8 * np.prod(la.norm(a, axis=-1), axis=-1)):  # Hadamard bound
        return np.asarray(ans)[..., None, None] * mT(la.inv(a))
    n = a.shape[-1]
    if n <= 8:
        keep = [[k for k in range(n) if k != i] for i in range(n)]
        return np.stack([np.stack([(-1) ** (i + j) * la.det(a[..., keep[i], :][..., keep[j]])
                                   for j in range(n)], -1) for i in range(n)], -2)
    u, s, vh = la.svd(a)
    d = np.arange(s.shape[-1])
    p = np.prod(np.where(d[:, None] == d, 1.0, s[..., None, :]), axis=-1)  # prod_{j != i} s_j
    adj = (la.det(u) * la.det(vh))[..., None, None] * (mH(vh) * p[..., None, :]) @ mH(u)
    return mT(adj)


def _det_vjp(g, ans, a):
    return _cot(np.asarray(g)[..., None, None] * _det_dx(ans, a), a)


def _det_jvp(tangents, ans, a):
    return np.sum(_det_dx(ans, a) * tangents[0], axis=(-2, -1))


def _slogdet_vjp(g, ans, a):
    gs, gl = g
    c = np.real(gl) if gl is not None else 0.0
    if np.iscomplexobj(a) and gs is not None:
        c = c + 1j * np.imag(gs * ans[0])
    return _cot(np.asarray(c)[..., None, None] * mT(la.inv(a)), a)


def _slogdet_jvp(tangents, ans, a):
    tr = np.sum(mT(la.inv(a)) * tangents[0], axis=(-2, -1))
    if np.iscomplexobj(a):
        return ans[0] * 1j * np.imag(tr), np.real(tr)
    return None, tr


def _power_terms(a, n):
    """(M, k) with A**n = M**k, k >= 0: M is inv(A) for negative n."""
    return (la.inv(a), -n) if n < 0 else (np.asarray(a), n)


def _mpow_vjp(g, ans, a, n):
    m, k = _power_terms(a, n)
    if k == 0:
        return _cot(np.zeros_like(m), a)
    pw = [np.broadcast_to(np.eye(m.shape[-1]), m.shape)]
    for _ in range(k - 1):
        pw.append(pw[-1] @ m)
    gm = sum(mT(pw[i]) @ g @ mT(pw[k - 1 - i]) for i in range(k))
    if n < 0:
        gm = -(mT(m) @ gm @ mT(m))
    return _cot(gm, a)


def _mpow_jvp(tangents, ans, a, n):
    m, k = _power_terms(a, n)
    t = tangents[0]
    if k == 0:
        return None
    if n < 0:
        t = -(m @ t @ m)
    pw = [np.broadcast_to(np.eye(m.shape[-1]), m.shape)]
    for _ in range(k - 1):
        pw.append(pw[-1] @ m)
    return sum(pw[i] @ t @ pw[k - 1 - i] for i in range(k))


# --- Hermitian-triangle helpers (cholesky, eigh) ---------------------------------------------

def _herm_from(t, lower):
    """The Hermitian matrix a routine reading one triangle of ``t`` sees."""
    tri = np.tril(t) if lower else np.triu(t)
    off = np.tril(t, -1) if lower else np.triu(t, 1)
    s = tri + mH(off)
    if np.iscomplexobj(s):
        d = np.arange(s.shape[-1])
        s[..., d, d] = np.real(s[..., d, d])
    return s


def _herm_adjoint(m, lower):
    """Adjoint of ``_herm_from`` under ``Re<u, v>``: the cotangent on the read triangle."""
    s = m + mH(m)
    out = np.tril(s, -1) if lower else np.triu(s, 1)
    d = np.arange(m.shape[-1])
    out = out.astype(np.result_type(out, m))
    out[..., d, d] = np.real(m[..., d, d])
    return out


def _jax(adjoint, g, *args):
    """JAX-convention cotangent from a Hermitian-adjoint formula: conj(adj(conj(g)))."""
    g = tuple(None if x is None else np.conj(x) for x in g) if isinstance(g, tuple) \
        else np.conj(g)
    return np.conj(adjoint(g, *args))


def _phi(x):
    """Lower triangle with the (real part of the) diagonal halved."""
    d = np.arange(x.shape[-1])
    out = np.tril(x, -1).astype(np.result_type(x, float))
    out[..., d, d] = 0.5 * np.real(x[..., d, d])
    return out


def _tri_solve(t, b, lower):
    """``solve(t, b)`` for a triangular ``t``: SciPy's triangular solver when installed
    (several times faster than an LU solve), else np.linalg.solve."""
    sl = sys.modules.get("scipy.linalg")
    if sl is None and not _capturing():  # (importing under a capture would record it)
        try:
            import scipy.linalg as sl
        except ImportError:
            sl = None
    if sl is not None and t.ndim == 2 and b.ndim == 2:
        return sl.solve_triangular(t, b, lower=lower, check_finite=False)
    return la.solve(t, b)


def _capturing() -> bool:
    from framead.capture import _evalframe

    return _evalframe.is_enabled()


def _chol_lower_jvp(l, t):
    s = _herm_from(t, True)
    x = _tri_solve(l, mH(_tri_solve(l, s, True)), True)  # L^-1 S L^-H (S Hermitian)
    return l @ _phi(x)


def _chol_lower_adj(gl, l):
    p = _phi(mH(l) @ gl)
    lh = mH(l)
    m = mH(_tri_solve(lh, mH(_tri_solve(lh, p, False)), False))  # L^-H P L^-1
    return _herm_adjoint(m, True)


def _chol_vjp(g, ans, a, upper=False):
    if upper:
        return _cot(mH(_jax(_chol_lower_adj, mH(g), mH(ans))), a)
    return _cot(_jax(_chol_lower_adj, g, ans), a)


def _chol_jvp(tangents, ans, a, upper=False):
    if upper:
        return mH(_chol_lower_jvp(mH(ans), mH(tangents[0])))
    return _chol_lower_jvp(ans, tangents[0])


def _gaps(w):
    """F[i, j] = 1 / (w[j] - w[i]), zero where w[i] == w[j] (the diagonal included); no
    division by zero, so the reverse pass can itself be differentiated."""
    d = w[..., None, :] - w[..., :, None]
    same = d == 0
    return np.where(same, 0.0, 1.0 / np.where(same, 1.0, d))


def _eigh_adj(g, a, w, v, lower):
    gw, gv = g
    inner = np.zeros(w.shape + w.shape[-1:], np.result_type(v, float))
    if gw is not None:
        d = np.arange(w.shape[-1])
        inner[..., d, d] = gw
    if gv is not None:
        inner = inner + _gaps(w) * (mH(v) @ gv)
    return _herm_adjoint(v @ inner @ mH(v), lower)


def _eigh_phase_row(v, lower):
    """(mask, values) of the row LAPACK's complex eigh keeps real: first for UPLO='L'."""
    row = (np.arange(v.shape[-2]) == (0 if lower else v.shape[-2] - 1))[:, None]
    return row, np.sum(np.where(row, v, 0), axis=-2).real


def _eigh_vjp(g, ans, a, UPLO="L"):
    w, v = ans
    lower = UPLO.upper() == "L"
    gw, gv = g
    if gv is not None and np.iscomplexobj(v):
        row, vk = _eigh_phase_row(v, lower)
        gv = gv - row * (1j * np.imag(np.sum(gv * v, axis=-2)) / vk)[..., None, :]
    return _cot(_jax(_eigh_adj, (gw, gv), a, w, v, lower), a)


def _eigh_jvp(tangents, ans, a, UPLO="L"):
    w, v = ans
    lower = UPLO.upper() == "L"
    k = mH(v) @ _herm_from(tangents[0], lower) @ v
    dv = v @ (_gaps(w) * k)
    if np.iscomplexobj(dv):
        row, vk = _eigh_phase_row(v, lower)
        dv = dv - 1j * (np.imag(np.sum(np.where(row, dv, 0), axis=-2)) / vk)[..., None, :] * v
    return np.real(np.diagonal(k, axis1=-2, axis2=-1)), dv


def _eigvalsh_vjp(g, ans, a, UPLO="L"):
    w, v = la.eigh(a, UPLO)
    return _cot(_jax(_eigh_adj, (g, None), a, w, v, UPLO.upper() == "L"), a)


def _eigvalsh_jvp(tangents, ans, a, UPLO="L"):
    w, v = la.eigh(a, UPLO)
    k = mH(v) @ _herm_from(tangents[0], UPLO.upper() == "L") @ v
    return np.real(np.diagonal(k, axis1=-2, axis2=-1))


# --- eig, eigvals ----------------------------------------------------------------------------
# geev's eigenvectors have unit norm and a real largest entry; the derivative keeps that gauge:
# dv = V (F * X) + V diag(c), X = V^-1 dA V, c fixing the norm (Re) and that entry's phase (Im).

def _eig_gauge(v):
    """(index of the largest entry of each eigenvector, that entry) over the last two axes."""
    k = np.argmax(np.abs(v), axis=-2)[..., None, :]
    return k, np.take_along_axis(v, k, axis=-2)[..., 0, :]


def _eig_adj(gw, gv, w, v):
    """Cotangent of A from those of eig's (w, v) (None for an unused output)."""
    n = w.shape[-1]
    gx = np.zeros(w.shape + (n,), np.result_type(v, w, float))
    if gw is not None:
        d = np.arange(n)
        gx[..., d, d] = gw
    if gv is not None:
        gv = np.asarray(gv)
        s = np.sum(gv * v, axis=-2)
        gvp = (gv - np.real(s)[..., None, :] * np.conj(v)).astype(gx.dtype)
        if np.iscomplexobj(gvp):
            k, vk = _eig_gauge(v)
            np.put_along_axis(gvp, k, np.take_along_axis(gvp, k, axis=-2)
                              - (1j * np.imag(s) / np.real(vk))[..., None, :], axis=-2)
        gx = gx + _gaps(w) * (mT(v) @ gvp)
    return mT(la.inv(v)) @ gx @ mT(v)


def _eig_dir(w, v, t):
    x = la.solve(v, t @ v)
    d = np.arange(w.shape[-1])
    dw = x[..., d, d]
    dv = v @ (_gaps(w) * x)
    c = -np.real(np.sum(np.conj(v) * dv, axis=-2))
    if np.iscomplexobj(dv):
        k, vk = _eig_gauge(v)
        c = c - 1j * np.imag(np.take_along_axis(dv, k, axis=-2)[..., 0, :]) / np.real(vk)
    return dw, dv + v * c[..., None, :]


def _eig_matched(a, ans):
    """eig(a) with its eigenvalues put in the order of ``ans`` (eigvals' result)."""
    w, v = la.eig(np.asarray(a))
    order = np.argmin(np.abs(np.asarray(ans)[..., :, None] - w[..., None, :]), axis=-1)
    return ans, np.take_along_axis(v, order[..., None, :], axis=-1)


def _eigvals_vjp(g, ans, a):
    w, v = _eig_matched(a, ans)
    return _cot(_eig_adj(g, None, w, v), a)


def _eigvals_jvp(tangents, ans, a):
    w, v = _eig_matched(a, ans)
    return _eig_dir(w, v, tangents[0])[0]


# --- svd -------------------------------------------------------------------------------------

def _svd_parts(a, ans, full_matrices, compute_uv, hermitian, name="svd"):
    if hermitian:
        raise NotImplementedError(f"framead: np.linalg.{name}(hermitian=True) has no rule")
    if not compute_uv:
        u, s, vh = la.svd(a, full_matrices=False)
        return u, s, vh
    m, n = shape_of(a)[-2:]
    if full_matrices and m != n:
        raise NotImplementedError("framead: np.linalg.svd(full_matrices=True) of a non-square "
                                  "matrix has no rule (its extra singular vectors are not "
                                  "unique); pass full_matrices=False")
    return ans


# A complex SVD is unique up to u_j, v_j -> e^{it} (u_j, v_j); the derivative is JAX's plus
# i c_j on both vectors, keeping real the row LAPACK (gesdd) keeps real (V's if m >= n, else U's).

def _svd_gauge(u, vh):
    """(True if V's first row is the real one, that real row of U or V)."""
    on_v = u.shape[-2] >= vh.shape[-1]
    return on_v, np.real(np.conj(vh[..., :, 0]) if on_v else u[..., 0, :])


def _svd_vjp(g, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    u, s, vh = _svd_parts(a, ans, full_matrices, compute_uv, hermitian)
    if not compute_uv:
        return _cot(np.conj(u * np.asarray(g)[..., None, :]) @ np.conj(vh), a)
    gu, gs, gvh = g
    v = mH(vh)
    gu = np.zeros_like(u) if gu is None else np.asarray(gu)
    gv = np.zeros_like(v) if gvh is None else mH(np.asarray(gvh))
    if np.iscomplexobj(u):
        on_v, y0 = _svd_gauge(u, vh)
        q = (np.imag(np.sum(gu * u, axis=-2)) + np.imag(np.sum(gv * v, axis=-2))) / y0
        row = (np.arange(v.shape[-2] if on_v else u.shape[-2]) == 0)[:, None]
        if on_v:
            gv = gv - 1j * row * q[..., None, :]
        else:
            gu = gu - 1j * row * q[..., None, :]
    f = _gaps(s * s)
    au, av = mT(u) @ gu, mT(v) @ gv
    gp = (f * (au - mH(au))) * s[..., None, :] + s[..., :, None] * (f * (av - mH(av)))
    d = np.arange(s.shape[-1])
    gp = gp + (d[:, None] == d) * (0 if gs is None else np.asarray(gs)[..., None, :]
                                   + 1j * np.imag(au) / s[..., None, :])
    out = np.conj(u) @ gp @ mT(v)
    m, n, k = u.shape[-2], v.shape[-2], s.shape[-1]
    if m > k:
        out = out + (gu - np.conj(u) @ (mT(u) @ gu)) / s[..., None, :] @ mT(v)
    if n > k:
        mv = (gv - np.conj(v) @ (mT(v) @ gv)) / s[..., None, :] @ mT(u)
        out = out + mH(mv)
    return _cot(out, a)


def _svd_jvp(tangents, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    u, s, vh = _svd_parts(a, ans, full_matrices, compute_uv, hermitian)
    t = tangents[0]
    dp = mH(u) @ t @ mH(vh)
    ds = np.real(np.diagonal(dp, axis1=-2, axis2=-1))
    if not compute_uv:
        return ds
    v, sm = mH(vh), s[..., None, :]
    f = _gaps(s * s)
    dss, sds = dp * sm, s[..., :, None] * dp
    d = np.arange(s.shape[-1])
    du = u @ (f * (dss + mH(dss)) + (d[:, None] == d) * (0.5 * (dp - mH(dp)) / sm))
    dv = v @ (f * (sds + mH(sds)))
    m, n = u.shape[-2], v.shape[-2]
    if m > s.shape[-1]:
        du = du + (t @ v - u @ (mH(u) @ t @ v)) / sm
    if n > s.shape[-1]:
        dv = dv + (mH(t) @ u - v @ (mH(v) @ mH(t) @ u)) / sm
    if np.iscomplexobj(du) or np.iscomplexobj(dv):
        on_v, y0 = _svd_gauge(u, vh)
        c = -np.imag((dv if on_v else du)[..., 0, :]) / y0
        du, dv = du + 1j * u * c[..., None, :], dv + 1j * v * c[..., None, :]
    return du, ds, mH(dv)


# --- qr --------------------------------------------------------------------------------------

def _qr_mode(a, mode, gq=None):
    m, n = shape_of(a)[-2:]
    if mode == "complete" and m > n and (gq is None or np.any(gq[..., n:])):
        raise NotImplementedError("framead: np.linalg.qr(mode='complete') of a tall matrix "
                                  "has no rule for its extra columns of Q (they are not "
                                  "unique); only Q[..., :n] and R may be used")
    if mode not in ("reduced", "complete", "r"):
        raise NotImplementedError(f"framead: np.linalg.qr(mode={mode!r}) has no rule")
    return min(m, n)


def _diag_imag(m):
    """i Im(m) on the diagonal, zero elsewhere (LAPACK keeps diag(R) real)."""
    d = np.arange(m.shape[-1])
    return (d[:, None] == d) * (1j * np.imag(m)) if np.iscomplexobj(m) else 0


def _qr_square_vjp(q, r, gq, gr):
    m = mT(q) @ gq - gr @ mT(r)
    gy = np.tril(m - mH(m), -1) - m + _diag_imag(m)
    return mT(la.solve(r, mT(gq + np.conj(q) @ gy)))


def _qr_vjp(g, ans, a, mode="reduced"):
    if mode == "r":
        k = _qr_mode(a, mode)
        q, r = la.qr(a)
        gq, gr = np.zeros_like(q), g
    else:
        (q, r), (gq, gr) = ans, g
        gq = np.zeros_like(q) if gq is None else np.asarray(gq)
        gr = np.zeros_like(r) if gr is None else np.asarray(gr)
        k = _qr_mode(a, mode, gq)
        q, r, gq, gr = q[..., :k], r[..., :k, :], gq[..., :k], gr[..., :k, :]
    a = np.asarray(a)
    if a.shape[-1] <= k:
        return _cot(_qr_square_vjp(q, r, gq, gr), a)
    x, gx, gy = r[..., :k], gr[..., :k], gr[..., k:]
    ga1 = _qr_square_vjp(q, x, gq + np.conj(a[..., k:] @ mT(gy)), gx)
    return _cot(np.concatenate([ga1, np.conj(q) @ gy], axis=-1), a)


def _qr_square_jvp(q, r, t):
    x = mT(la.solve(mT(r), mT(t)))  # dA R^-1
    y = mH(q) @ x
    low = np.tril(y, -1)
    om = low - mH(low) + _diag_imag(y)
    return q @ (om - y) + x, (y - om) @ r


def _qr_jvp(tangents, ans, a, mode="reduced"):
    k = _qr_mode(a, mode)
    q, r = la.qr(a) if mode == "r" else ans
    t = tangents[0]
    if t.shape[-1] <= k:
        dq, dr = _qr_square_jvp(q, r, t)
    else:
        dq, dx = _qr_square_jvp(q, r[..., :k], t[..., :k])
        dy = mH(dq) @ np.asarray(a)[..., k:] + mH(q) @ t[..., k:]
        dr = np.concatenate([dx, dy], axis=-1)
    return dr if mode == "r" else (dq, dr)


# --- pinv, lstsq -----------------------------------------------------------------------------

def _pinv_adj(g, a, p):
    m, n = a.shape[-2:]
    out = -(mH(p) @ g @ mH(p))
    out = out + (np.eye(m) - a @ p) @ mH(g) @ p @ mH(p)
    return out + mH(p) @ p @ mH(g) @ (np.eye(n) - p @ a)


def _pinv_herm_adj(g, h, p):
    return _herm_adjoint(_pinv_adj(g, h, p), True)


def _pinv_vjp(g, ans, a, rcond=None, hermitian=False, **kw):
    """With ``hermitian=True`` NumPy reads the lower triangle (through eigh)."""
    if hermitian:
        return _cot(_jax(_pinv_herm_adj, g, _herm_from(np.asarray(a), True), ans), a)
    return _cot(_jax(_pinv_adj, g, np.asarray(a), ans), a)


def _pinv_dir(p, a, t):
    m, n = a.shape[-2:]
    out = -(p @ t @ p) + p @ mH(p) @ mH(t) @ (np.eye(m) - a @ p)
    return out + (np.eye(n) - p @ a) @ mH(t) @ mH(p) @ p


def _pinv_jvp(tangents, ans, a, rcond=None, hermitian=False, **kw):
    if hermitian:
        return _pinv_dir(ans, _herm_from(np.asarray(a), True), _herm_from(tangents[0], True))
    return _pinv_dir(ans, np.asarray(a), tangents[0])


def _lstsq_vjp(g, ans, a, b, rcond=None):
    """x = pinv(a) b; residuals = |b - a x|^2 per column (a^H r = 0 at the solution);
    s = singular values of a."""
    a, b = np.asarray(a), np.asarray(b)
    x, res, rank, s = ans
    gx, gres, _, gs = g
    p = la.pinv(a)
    vec = b.ndim == 1
    x2, b2 = (x[:, None], b[:, None]) if vec else (x, b)
    gx2 = gx[:, None] if vec else gx
    ga = _jax(_pinv_adj, gx2 @ mT(b2), a, p)
    gb = mT(p) @ gx2
    if gres is not None and np.size(res):
        r = b2 - a @ x2
        w = 2 * np.conj(r) * np.reshape(gres, (1, -1))  # d|r|^2 = 2 Re(conj(r) dr)
        gb = gb + w
        ga = ga - w @ mT(x2)
    if gs is not None:
        ga = ga + _svd_vjp(gs, None, a, False, False)
    return _cot(ga, a), _cot(gb[:, 0] if vec else gb, b), None


def _lstsq_jvp(tangents, ans, a, b, rcond=None):
    ta, tb = (tuple(tangents) + (None,))[:2]  # a positional rcond has a (None) tangent
    a, b = np.asarray(a), np.asarray(b)
    x, res, rank, s = ans
    p = la.pinv(a)
    dx = add_tangents((None if ta is None else _pinv_dir(p, a, ta) @ b,
                       None if tb is None else p @ tb))
    dres = ds = None
    r = b - a @ x
    if np.size(res):
        dr = add_tangents((tb, None if ta is None else -(ta @ x)))
        dres = np.sum(2 * np.real(np.conj(r) * dr), axis=0).reshape(np.shape(res))
    if ta is not None:
        ds = _svd_jvp((ta,), None, a, False, False)
    return dx, dres, None, ds


def _mt_attr_jvp(tangents, ans, a):
    return None if tangents[0] is None else mT(tangents[0])


# (function, vjp, jvp, saves, multi[, nondiff])
RULES = [
    (la.solve, (_solve_da, _solve_db), _solve_jvp, {0: (0, ANS), 1: (0,)}, False),
    (la.inv, (_inv_vjp,), _inv_jvp, {0: (ANS,)}, False),
    (la.det, (_det_vjp,), _det_jvp, {0: (0, ANS)}, False),
    (la.slogdet, (_slogdet_vjp,), _slogdet_jvp, {0: (0, ANS)}, True),
    (la.matrix_power, (_mpow_vjp,), _mpow_jvp, {0: (0,)}, False),
    (la.cholesky, (_chol_vjp,), _chol_jvp, {0: (ANS,)}, False),
    (la.eigh, (_eigh_vjp,), _eigh_jvp, {0: (0, ANS)}, True),
    (la.eigvalsh, (_eigvalsh_vjp,), _eigvalsh_jvp, {0: (0,)}, False),
    (la.eig, (lambda g, ans, a: _cot(_eig_adj(g[0], g[1], *ans), a),),
     lambda ts, ans, a: _eig_dir(*ans, ts[0]), {0: (ANS,)}, True),
    (la.eigvals, (_eigvals_vjp,), _eigvals_jvp, {0: (0, ANS)}, False),
    (la.svd, (_svd_vjp,), _svd_jvp, {0: (0, ANS)}, True),
    (la.svdvals, (lambda g, ans, x: _svd_vjp(g, None, x, False, False),),
     lambda ts, ans, x: _svd_jvp(ts, None, x, False, False), {0: (0,)}, False),
    (la.qr, (_qr_vjp,), _qr_jvp, {0: (0, ANS)}, True),
    (la.pinv, (_pinv_vjp,), _pinv_jvp, {0: (0, ANS)}, False, (1,)),
    (la.lstsq, _lstsq_vjp, _lstsq_jvp, {0: (0, 1, ANS), 1: (0, 1, ANS)}, True, (2,)),
]


def install() -> None:
    register_attr(np.ndarray, "mT", vjp=(lambda g, ans, a: mT(g),), jvp=_mt_attr_jvp,
                  saves={0: ()}, aliases={0: 0})
    for fn, vjp, jvp, saves, multi, *nondiff in RULES + NORM_RULES:
        register(fn, vjp=vjp, jvp=jvp, saves=saves, multi=multi,
                 nondiff=nondiff[0] if nondiff else (), name=public_name(fn))
