"""Rules for the factorizations of ``np.linalg``: ``cholesky``, ``eigh``/``eigvalsh``,
``eig``/``eigvals``, ``svd``/``svdvals`` and ``qr`` (installed by ``linalg_rules``).

A function that reads one triangle of its input (``cholesky``, ``eigh``) is differentiated as
NumPy computes it: the other triangle gets a zero cotangent. Eigen- and singular vectors keep
LAPACK's gauge (``eig``: unit norm, largest entry real; complex ``eigh``/``svd``: one row real;
``qr``: diag(R) real); their cotangents divide by eigenvalue gaps, taken as zero between equal
eigenvalues.
"""

from __future__ import annotations

import numpy as np

from .matrices import conj, cot_like, herm_adjoint, herm_from, jax_cot, mH, mT
from .registry import ANS
from .shapes import shape_of
from .triangular import lower_of_product, tri_solve

la = np.linalg


# --- cholesky --------------------------------------------------------------------------------

def _phi(x):
    """Lower triangle with the (real part of the) diagonal halved."""
    d = np.arange(x.shape[-1])
    out = np.tril(x, -1).astype(np.result_type(x, float), copy=False)
    out[..., d, d] = 0.5 * np.real(x[..., d, d])
    return out


def _chol_lower_jvp(l, t):
    s = herm_from(t, True)
    x = tri_solve(l, mH(tri_solve(l, s, True)), True)  # L^-1 S L^-H (S Hermitian)
    return l @ _phi(x)


def _chol_lower_adj(gl, l):
    p = _phi(lower_of_product(mH(l), gl))  # (only its lower triangle is read)
    lh = mH(l)
    m = mH(tri_solve(lh, mH(tri_solve(lh, p, False)), False))  # L^-H P L^-1
    return herm_adjoint(m, True)


def chol_vjp(g, ans, a, upper=False):
    if upper:
        return cot_like(mH(jax_cot(_chol_lower_adj, mH(g), mH(ans))), a)
    return cot_like(jax_cot(_chol_lower_adj, g, ans), a)


def chol_jvp(tangents, ans, a, upper=False):
    if upper:
        return mH(_chol_lower_jvp(mH(ans), mH(tangents[0])))
    return _chol_lower_jvp(ans, tangents[0])


# --- eigh, eigvalsh --------------------------------------------------------------------------

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
    return herm_adjoint(v @ inner @ mH(v), lower)


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
    return cot_like(jax_cot(_eigh_adj, (gw, gv), a, w, v, lower), a)


def _eigh_jvp(tangents, ans, a, UPLO="L"):
    w, v = ans
    lower = UPLO.upper() == "L"
    k = mH(v) @ herm_from(tangents[0], lower) @ v
    dv = v @ (_gaps(w) * k)
    if np.iscomplexobj(dv):
        row, vk = _eigh_phase_row(v, lower)
        dv = dv - 1j * (np.imag(np.sum(np.where(row, dv, 0), axis=-2)) / vk)[..., None, :] * v
    return np.real(np.diagonal(k, axis1=-2, axis2=-1)), dv


def _eigvalsh_vjp(g, ans, a, UPLO="L"):
    w, v = la.eigh(a, UPLO)
    return cot_like(jax_cot(_eigh_adj, (g, None), a, w, v, UPLO.upper() == "L"), a)


def _eigvalsh_jvp(tangents, ans, a, UPLO="L"):
    w, v = la.eigh(a, UPLO)
    k = mH(v) @ herm_from(tangents[0], UPLO.upper() == "L") @ v
    return np.real(np.diagonal(k, axis1=-2, axis2=-1))


# --- eig, eigvals ----------------------------------------------------------------------------
# geev's eigenvectors have unit norm and a real largest entry; the derivative keeps that gauge:
# dv = V (F * X) + V diag(c), X = V^-1 dA V, c fixing the norm (Re) and that entry's phase (Im).

def _eig_gauge(v):
    """(index of the largest entry of each eigenvector, that entry) over the last two axes."""
    k = np.argmax(np.abs(v), axis=-2)[..., None, :]
    return k, np.take_along_axis(v, k, axis=-2)[..., 0, :]


def _equal_pairs(w):
    """Pairs (i != j) of exactly equal eigenvalues: the gaps the formulas take as zero."""
    n = w.shape[-1]
    return (w[..., :, None] == w[..., None, :]) & ~np.eye(n, dtype=bool)


def _eig_undefined(w, gw, gv) -> bool:
    """Equal eigenvalues that the cotangent tells apart (an eigenvector's cotangent, or
    different eigenvalue cotangents): eig has no derivative there (the eigenvalues split as
    the perturbation's, the eigenvectors turn within their space)."""
    same = _equal_pairs(w)
    if not same.any():
        return False
    hit = np.zeros(same.shape, bool)
    if gw is not None:
        gw = np.broadcast_to(np.asarray(gw), w.shape)
        hit |= gw[..., :, None] != gw[..., None, :]
    if gv is not None:
        used = np.any(np.asarray(gv) != 0, axis=-2)
        hit |= used[..., :, None] | used[..., None, :]
    return bool(np.any(same & hit))


def _inv_or_nan(v):
    try:
        return la.inv(v)
    except la.LinAlgError:  # a defective matrix (no eigenbasis): no derivative
        return np.full(v.shape, np.nan, v.dtype)


def _eig_adj(gw, gv, w, v):
    """Cotangent of A from those of eig's (w, v) (None for an unused output); NaN (FA112
    reports it) where equal eigenvalues make it undefined."""
    n = w.shape[-1]
    if _eig_undefined(w, gw, gv):
        return np.full(w.shape + (n,), np.nan, np.result_type(v, w, float))
    gx = np.zeros(w.shape + (n,), np.result_type(v, w, float))
    if gw is not None:
        d = np.arange(n)
        gx[..., d, d] = gw
    if gv is not None:
        gv = np.asarray(gv)
        s = np.sum(gv * v, axis=-2)
        gvp = (gv - np.real(s)[..., None, :] * conj(v)).astype(gx.dtype)
        if np.iscomplexobj(gvp):
            k, vk = _eig_gauge(v)
            np.put_along_axis(gvp, k, np.take_along_axis(gvp, k, axis=-2)
                              - (1j * np.imag(s) / np.real(vk))[..., None, :], axis=-2)
        gx = gx + _gaps(w) * (mT(v) @ gvp)
    return mT(_inv_or_nan(v)) @ gx @ mT(v)


def _eig_dir(w, v, t):
    x = _inv_or_nan(v) @ (t @ v)
    if np.any(_equal_pairs(w) & (x != 0)):  # equal eigenvalues the perturbation splits
        x = np.full(x.shape, np.nan, x.dtype)
    d = np.arange(w.shape[-1])
    dw = x[..., d, d]
    dv = v @ (_gaps(w) * x)
    c = -np.real(np.sum(conj(v) * dv, axis=-2))
    if np.iscomplexobj(dv):
        k, vk = _eig_gauge(v)
        c = c - 1j * np.imag(np.take_along_axis(dv, k, axis=-2)[..., 0, :]) / np.real(vk)
    return dw, dv + v * c[..., None, :]


def _eig_matched(a, ans):
    """eig(a) with its eigenvalues put in the order of ``ans`` (eigvals' result)."""
    w, v = la.eig(np.asarray(a))
    dist = np.abs(np.asarray(ans)[..., :, None] - w[..., None, :])
    order = np.zeros(dist.shape[:-1], int)
    for i in range(dist.shape[-1]):  # greedy, each of eig's used once (equal eigenvalues)
        order[..., i] = j = np.argmin(dist[..., i, :], axis=-1)
        np.put_along_axis(dist, j[..., None, None], np.inf, axis=-1)
    return ans, np.take_along_axis(v, order[..., None, :], axis=-1)


def _eigvals_vjp(g, ans, a):
    w, v = _eig_matched(a, ans)
    return cot_like(_eig_adj(g, None, w, v), a)


def _eigvals_jvp(tangents, ans, a):
    w, v = _eig_matched(a, ans)
    return _eig_dir(w, v, tangents[0])[0]


# --- svd -------------------------------------------------------------------------------------

def _svd_parts(a, ans, full_matrices, compute_uv, hermitian, name="svd"):
    """(u, s, vh): the reduced factors; a full SVD of a non-square matrix is cut to them."""
    if hermitian:
        raise NotImplementedError(f"framead: np.linalg.{name}(hermitian=True) has no rule")
    if not compute_uv:
        u, s, vh = la.svd(a, full_matrices=False)
        return u, s, vh
    u, s, vh = ans
    k = s.shape[-1]
    return u[..., :, :k], s, vh[..., :k, :]


def _one_real_extra(full, k, axis) -> bool:
    """The full factor has exactly one extra real singular vector: unique up to its sign
    (locally constant), its derivative is fixed by orthogonality, as qr's (``_one_extra``)."""
    return full.shape[axis] == k + 1 and not np.iscomplexobj(full)


def _svd_cut(g, ans, k):
    """(the cotangents of the reduced factors, False where a full SVD's extra singular vectors
    got a nonzero one they cannot pass on: more than one, or complex, are not unique). One
    real extra u_e = e has de = -U1 dU1^T e: its cotangent h adds -e h^T U1 to U1's."""
    gu, gs, gvh = g
    ok = True
    if gu is not None and np.shape(gu)[-1] > k:
        gu = np.asarray(gu)
        u = ans[0]
        if _one_real_extra(u, k, -1):
            e, h = u[..., :, k:], gu[..., :, k:]
            gu = gu[..., :k] - e @ (mT(h) @ u[..., :, :k])
        else:
            ok = not np.any(gu[..., k:])
            gu = gu[..., :k]
    if gvh is not None and np.shape(gvh)[-2] > k:
        gvh = np.asarray(gvh)
        vh = ans[2]
        if _one_real_extra(vh, k, -2):
            e, h = vh[..., k:, :], gvh[..., k:, :]
            gvh = gvh[..., :k, :] - (vh[..., :k, :] @ mT(h)) @ e
        else:
            ok = ok and not np.any(gvh[..., k:, :])
            gvh = gvh[..., :k, :]
    return (gu, gs, gvh), ok


def _svd_pad(d, full, axis):
    """A reduced factor's tangent (U's, axis -1, or Vh's, axis -2) grown to the full factor's
    shape: one real extra vector's is -U1 dU1^T e (its transpose for Vh); more, or complex,
    are not unique: NaN (forward mode reports a NaN that reaches the output, FA112)."""
    k = d.shape[axis]
    if full.shape[axis] == k:
        return d
    if _one_real_extra(full, k, axis) and not np.iscomplexobj(d):
        if axis == -1:
            e = full[..., :, k:]
            return np.concatenate([d, -full[..., :, :k] @ (mT(d) @ e)], axis=-1)
        e = full[..., k:, :]
        return np.concatenate([d, -(e @ mT(d)) @ full[..., :k, :]], axis=-2)
    shape = list(full.shape)
    shape[axis] = full.shape[axis] - k
    return np.concatenate([d, np.full(shape, np.nan, dtype=d.dtype)], axis=axis)


# A complex SVD is unique up to u_j, v_j -> e^{it} (u_j, v_j); the derivative is JAX's plus
# i c_j on both vectors, keeping real the row LAPACK (gesdd) keeps real (V's if m >= n, else U's).

def _svd_gauge(u, vh):
    """(True if V's first row is the real one, that real row of U or V)."""
    on_v = u.shape[-2] >= vh.shape[-1]
    return on_v, np.real(conj(vh[..., :, 0]) if on_v else u[..., 0, :])


def svd_vjp(g, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    u, s, vh = _svd_parts(a, ans, full_matrices, compute_uv, hermitian)
    if not compute_uv:
        return cot_like(conj(u * np.asarray(g)[..., None, :]) @ conj(vh), a)
    (gu, gs, gvh), defined = _svd_cut(g, ans, s.shape[-1])
    if not defined:  # NaN: reported where it reaches the gradient (FA112), with this node
        return cot_like(np.full(shape_of(a), np.nan), a)
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
    out = conj(u) @ gp @ mT(v)
    m, n, k = u.shape[-2], v.shape[-2], s.shape[-1]
    if m > k:
        out = out + (gu - conj(u) @ (mT(u) @ gu)) / s[..., None, :] @ mT(v)
    if n > k:
        mv = (gv - conj(v) @ (mT(v) @ gv)) / s[..., None, :] @ mT(u)
        out = out + mH(mv)
    return cot_like(out, a)


def svd_jvp(tangents, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
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
    return _svd_pad(du, ans[0], -1), ds, _svd_pad(mH(dv), ans[2], -2)


# --- qr --------------------------------------------------------------------------------------

def _one_extra(a, mode) -> bool:
    """mode='complete' of a real (n + 1) x n matrix: the extra column of Q is unique up to its
    sign (locally constant), dQ2 = -Q1 dQ1^T Q2 (Q^T dQ skew, its 1 x 1 block zero)."""
    m, n = shape_of(a)[-2:]
    return mode == "complete" and m == n + 1 and not np.iscomplexobj(a)


def _qr_mode(a, mode, gq=None):
    m, n = shape_of(a)[-2:]
    if mode == "complete" and m > n and not _one_extra(a, mode) and \
            (gq is None or np.any(gq[..., n:])):
        raise NotImplementedError("framead: np.linalg.qr(mode='complete') of a tall matrix "
                                  "has no rule for its extra columns of Q (they are not "
                                  "unique past one real column); only Q[..., :n] and R may "
                                  "be used")
    if mode not in ("reduced", "complete", "r", "full", "f"):  # ('full': 'reduced', deprecated)
        raise NotImplementedError(f"framead: np.linalg.qr(mode={mode!r}) has no rule")
    return min(m, n)


def _diag_imag(m):
    """i Im(m) on the diagonal, zero elsewhere (LAPACK keeps diag(R) real)."""
    d = np.arange(m.shape[-1])
    return (d[:, None] == d) * (1j * np.imag(m)) if np.iscomplexobj(m) else 0


def _qr_square_vjp(q, r, gq, gr):
    m = mT(q) @ gq - gr @ mT(r)
    gy = np.tril(m - mH(m), -1) - m + _diag_imag(m)
    return mT(la.solve(r, mT(gq + conj(q) @ gy)))


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
        if _one_extra(a, mode):  # the extra column's cotangent, moved onto Q1's
            gq = gq[..., :k] - q[..., k:] @ mT(gq[..., k:]) @ q[..., :k]
        q, r, gq, gr = q[..., :k], r[..., :k, :], gq[..., :k], gr[..., :k, :]
    a = np.asarray(a)
    if a.shape[-1] <= k:
        return cot_like(_qr_square_vjp(q, r, gq, gr), a)
    x, gx, gy = r[..., :k], gr[..., :k], gr[..., k:]
    ga1 = _qr_square_vjp(q, x, gq + conj(a[..., k:] @ mT(gy)), gx)
    return cot_like(np.concatenate([ga1, conj(q) @ gy], axis=-1), a)


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
    if _one_extra(a, mode):
        dq, dr = _qr_square_jvp(q[..., :k], r[..., :k, :], t)
        dq2 = -q[..., :k] @ (mT(dq) @ q[..., k:])
        return np.concatenate([dq, dq2], -1), np.concatenate([dr, np.zeros_like(r[..., k:, :])],
                                                             -2)
    if t.shape[-1] <= k:
        dq, dr = _qr_square_jvp(q, r, t)
    else:
        dq, dx = _qr_square_jvp(q, r[..., :k], t[..., :k])
        dy = mH(dq) @ np.asarray(a)[..., k:] + mH(q) @ t[..., k:]
        dr = np.concatenate([dx, dy], axis=-1)
    return dr if mode == "r" else (dq, dr)


def _svd_refuses(args: tuple, kwargs: dict) -> str | None:
    """hermitian=True (a full SVD of a non-square matrix is differentiated as far as its
    output uses U[..., :k] and Vh[..., :k, :]: svd_vjp / svd_jvp)."""
    names = ("a", "full_matrices", "compute_uv", "hermitian")
    p = {"hermitian": False, **dict(zip(names, args, strict=False)), **kwargs}
    if p["hermitian"]:
        return "np.linalg.svd(hermitian=True) has no derivative rule"
    return None


def rank_deficient(a, rcond) -> bool:
    """A (finite, 2-d) matrix whose rank at ``rcond`` (relative to the largest singular value;
    lstsq's) is below min(m, n): lstsq's solution jumps under any perturbation."""
    a = np.asarray(a)
    if a.ndim != 2 or a.size == 0 or not np.all(np.isfinite(a)):
        return False  # (LAPACK raises, or the shapes are its to refuse)
    s = la.svd(a, compute_uv=False)
    return int(np.sum(s > rcond * s[0])) < min(a.shape)


def _lstsq_refuses(args: tuple, kwargs: dict) -> str | None:
    a = np.asarray(args[0] if args else kwargs.get("a"))
    rcond = args[2] if len(args) > 2 else kwargs.get("rcond")
    if rcond is None:  # NumPy's default; -1: machine precision
        rcond = np.finfo(np.result_type(a, np.float32)).eps * max(a.shape[-2:], default=1)
    elif rcond < 0:
        rcond = np.finfo(np.result_type(a, np.float32)).eps
    if rank_deficient(a, rcond):
        return ("np.linalg.lstsq of a rank-deficient matrix has no derivative rule (its rank "
                "changes under any perturbation)")
    return None


# capture-time refusals of FACTOR_RULES' and linalg_rules' functions (Rule.refuses)
FACTOR_REFUSALS = {la.svd: _svd_refuses, la.qr: {"mode": ("raw", "economic", "e")},
                   la.lstsq: _lstsq_refuses}

# (function, vjp, jvp, saves, multi), installed by linalg_rules
FACTOR_RULES = [
    (la.cholesky, (chol_vjp,), chol_jvp, {0: (ANS,)}, False),
    (la.eigh, (_eigh_vjp,), _eigh_jvp, {0: (0, ANS)}, True),
    (la.eigvalsh, (_eigvalsh_vjp,), _eigvalsh_jvp, {0: (0,)}, False),
    (la.eig, (lambda g, ans, a: cot_like(_eig_adj(g[0], g[1], *ans), a),),
     lambda ts, ans, a: _eig_dir(ans[0], ans[1], ts[0]), {0: (ANS,)}, True),
    (la.eigvals, (_eigvals_vjp,), _eigvals_jvp, {0: (0, ANS)}, False),
    (la.svd, (svd_vjp,), svd_jvp, {0: (0, ANS)}, True),
    (la.svdvals, (lambda g, ans, x: svd_vjp(g, None, x, False, False),),
     lambda ts, ans, x: svd_jvp(ts, None, x, False, False), {0: (0,)}, False),
    (la.qr, (_qr_vjp,), _qr_jvp, {0: (0, ANS)}, True),
]
