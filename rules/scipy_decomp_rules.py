"""Rules for ``scipy.linalg``'s general factorizations: ``lu`` (``permute_l``, ``p_indices``),
``qr`` (``mode`` 'full'/'economic'/'r', ``pivoting``), ``rq``, ``lstsq``, ``eig`` and
``eigvals`` (installed with ``scipy_linalg_rules``).

``lu``: the permutation is a decision, constant near a point where the pivots are strict
(P gets no derivative); L and U are JAX's (a rectangular matrix padded to square factors).
``qr``/``rq`` are NumPy's QR rule (``rq(a)`` is the QR of ``a.T`` with its columns reversed);
``pivoting=True`` differentiates the QR of ``a[:, P]`` with the column order P held fixed (a
decision as LU's pivots). ``lstsq`` is NumPy's rule (``x = pinv(a) b``): full rank only; a
rank-deficient ``a`` (rank < min(m, n) at SciPy's ``cond``) is refused at the call, and its
cached replay's derivative is NaN (FA112). ``eig``/``eigvals`` are NumPy's rules (geev's gauge).
Refused (FA101 at the call): ``overwrite_a``/``overwrite_b=True``, ``qr(mode='raw')``,
``eig`` with ``b`` (the generalized problem), ``left=True`` or ``homogeneous_eigvals=True``.
``schur`` has no rule (its unitary factor is not unique near repeated eigenvalues).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sl

from .linalg_factor_rules import (
    _eig_adj,
    _eig_dir,
    _eigvals_jvp,
    _eigvals_vjp,
    _qr_jvp,
    _qr_vjp,
    rank_deficient,
)
from .linalg_rules import _lstsq_jvp, _lstsq_vjp
from .matrices import cot_like, mT
from .registry import ANS

__all__ = ["DECOMP_RULES"]


def _flag(args: tuple, kwargs: dict, name: str, pos: int, default):
    return args[pos] if len(args) > pos else kwargs.get(name, default)


def _overwrite(name: str, args: tuple, kwargs: dict, pos_a: int, pos_b: int | None = None):
    for key, pos in (("overwrite_a", pos_a), ("overwrite_b", pos_b)):
        if pos is not None and _flag(args, kwargs, key, pos, False):
            return f"scipy.linalg.{name}({key}=True) has no derivative rule"
    return None


def _nan_like(x):
    return np.full(np.shape(x), np.nan, np.result_type(x, float))


# --- lu --------------------------------------------------------------------------------------

def _lu_perm(ans, a, permute_l, p_indices):
    """Row indices p with a = (L U)[p] (SciPy's ``p_indices``)."""
    if permute_l:
        return sl.lu(np.asarray(a), p_indices=True, check_finite=False)[0]
    return ans[0] if p_indices else np.argmax(ans[0], axis=-1)


def _rows(x, idx):
    return np.take_along_axis(x, np.asarray(idx)[..., :, None], axis=-2)


def _padded(low, up):
    """L padded to m x m (identity columns), U to n x n (identity rows)."""
    m, k = low.shape[-2:]
    n = up.shape[-1]
    lp = np.broadcast_to(np.eye(m, dtype=low.dtype), (*low.shape[:-1], m)).copy()
    lp[..., :k] = low
    upp = np.broadcast_to(np.eye(n, dtype=up.dtype), (*up.shape[:-2], n, n)).copy()
    upp[..., :k, :] = up
    return lp, upp


def _factors(ans, p, permute_l):
    low, up = ans if permute_l else ans[1:]
    return (_rows(low, np.argsort(p, axis=-1)) if permute_l else low), up


def _lu_vjp(g, ans, a, permute_l=False, overwrite_a=False, check_finite=True,
            p_indices=False):
    p = _lu_perm(ans, a, permute_l, p_indices)
    low, up = _factors(ans, p, permute_l)
    gl, gu = g if permute_l else g[1:]
    gl = np.zeros_like(low) if gl is None else np.asarray(gl)
    gu = np.zeros_like(up) if gu is None else np.asarray(gu)
    if permute_l:
        gl = _rows(gl, np.argsort(p, axis=-1))  # (P L = L[p]: its cotangent, back in L's rows)
    lp, upp = _padded(low, up)
    m, k = low.shape[-2:]
    n = up.shape[-1]
    dt = np.result_type(lp, gl, gu)
    gpl, gpu = np.zeros((*gl.shape[:-2], m, n), dt), np.zeros((*gu.shape[:-2], m, n), dt)
    gpl[..., :k], gpu[..., :k, :] = gl, gu
    glau = np.tril(mT(lp) @ gpl, -1) + np.triu(gpu @ mT(upp))
    try:
        gx = np.linalg.solve(mT(lp), mT(np.linalg.solve(upp, mT(glau))))  # L^-T G U^-T
    except np.linalg.LinAlgError:  # a singular U: no derivative (FA112 reports the NaN)
        return _nan_like(a)
    return cot_like(_rows(gx, p), a)


def _lu_jvp(tangents, ans, a, permute_l=False, overwrite_a=False, check_finite=True,
            p_indices=False):
    p = _lu_perm(ans, a, permute_l, p_indices)
    low, up = _factors(ans, p, permute_l)
    lp, upp = _padded(low, up)
    k = low.shape[-1]
    x = _rows(np.asarray(tangents[0]), np.argsort(p, axis=-1))
    try:
        lau = mT(np.linalg.solve(mT(upp), mT(np.linalg.solve(lp, x))))  # L^-1 X U^-1
    except np.linalg.LinAlgError:
        lau = _nan_like(x)
    dl = (lp @ np.tril(lau, -1))[..., :k]
    du = np.triu(lau)[..., :k, :] @ upp
    return (_rows(dl, p), du) if permute_l else (None, dl, du)


# --- qr, rq ----------------------------------------------------------------------------------

_QR_MODES = {"full": "complete", "economic": "reduced", "r": "r"}


def _qr_refuses(args: tuple, kwargs: dict) -> str | None:
    if (why := _overwrite("qr", args, kwargs, 1)) is not None:
        return why
    mode = _flag(args, kwargs, "mode", 3, "full")
    return None if mode in _QR_MODES else f"scipy.linalg.qr(mode={mode!r}) has no derivative rule"


def _qr_parts(ans, a, mode, pivoting):
    """(Q or None, R, the columns' order or None, a with its columns in that order)."""
    a = np.asarray(a)
    piv = ans[-1] if pivoting else None
    ap = a if piv is None else np.take_along_axis(a, np.asarray(piv)[..., None, :], axis=-1)
    q = None if mode == "r" else ans[0]
    return q, ans[0 if mode == "r" else 1], piv, ap


def _unpivot(ga, piv):
    if piv is None:
        return ga
    out = np.empty_like(ga)
    np.put_along_axis(out, np.asarray(piv)[..., None, :], ga, axis=-1)
    return out


def _sqr_vjp(g, ans, a, overwrite_a=False, lwork=None, mode="full", pivoting=False,
             check_finite=True):
    q, r, piv, ap = _qr_parts(ans, a, mode, pivoting)
    k = min(ap.shape[-2:])
    if mode == "r":
        q, rk = sl.qr(ap, mode="economic", check_finite=False)  # (the same geqrf: its gauge)
        gr = np.asarray(g[0])[..., :k, :]
        ga = _qr_vjp((np.zeros_like(q), gr), (q, rk), ap, "reduced")
    else:
        ga = _qr_vjp(g[:2], (q, r), ap, _QR_MODES[mode])
    return cot_like(_unpivot(np.asarray(ga), piv), a)


def _sqr_jvp(tangents, ans, a, overwrite_a=False, lwork=None, mode="full", pivoting=False,
             check_finite=True):
    q, r, piv, ap = _qr_parts(ans, a, mode, pivoting)
    t = np.asarray(tangents[0])
    if piv is not None:
        t = np.take_along_axis(t, np.asarray(piv)[..., None, :], axis=-1)
    if mode == "r":
        m, n = ap.shape[-2:]
        dr = _qr_jvp((t,), None, ap, "r")
        if m > n:
            dr = np.concatenate([dr, np.zeros((*dr.shape[:-2], m - n, n), dr.dtype)], -2)
        out: tuple = (dr,)
    else:
        out = tuple(_qr_jvp((t,), (q, r), ap, _QR_MODES[mode]))
    return (*out, None) if pivoting else out


def _rq_refuses(args: tuple, kwargs: dict) -> str | None:
    if (why := _overwrite("rq", args, kwargs, 1)) is not None:
        return why
    mode = _flag(args, kwargs, "mode", 3, "full")
    return None if mode in _QR_MODES else f"scipy.linalg.rq(mode={mode!r}) has no derivative rule"


def _flipT(x):
    """x.T with its last axis reversed: rq(a) = (flip(R'.T), Q'.T flipped) for qr(_flipT(a))."""
    return mT(x)[..., ::-1]


def _rq_economic(a):
    """rq(a, mode='economic'): mode='r''s R is its R, zero columns first for a wide ``a``."""
    return sl.rq(np.asarray(a), mode="economic", check_finite=False)


def _rq_vjp(g, ans, a, overwrite_a=False, lwork=None, mode="full", check_finite=True):
    if mode == "r":
        m, n = np.shape(a)[-2:]
        g = np.asarray(g)[..., max(n - m, 0):]
        return _rq_vjp((g, None), _rq_economic(a), a, mode="economic")
    b = _flipT(np.asarray(a))
    r, q = ans
    gr, gq = (np.zeros_like(x) if gx is None else np.asarray(gx)
              for gx, x in zip(g, ans, strict=True))
    gb = _qr_vjp((mT(gq[..., ::-1, :]), mT(gr[..., ::-1, ::-1])),
                 (mT(q[..., ::-1, :]), mT(r[..., ::-1, ::-1])), b, _QR_MODES[mode])
    return cot_like(mT(np.asarray(gb)[..., :, ::-1]), a)


def _rq_jvp(tangents, ans, a, overwrite_a=False, lwork=None, mode="full", check_finite=True):
    if mode == "r":
        m, n = np.shape(a)[-2:]
        dr = _rq_jvp(tangents, _rq_economic(a), a, mode="economic")[0]
        return np.concatenate([np.zeros((*dr.shape[:-1], n - m), dr.dtype), dr], -1) \
            if n > m else dr
    b, tb = _flipT(np.asarray(a)), _flipT(np.asarray(tangents[0]))
    r, q = ans
    dq2, dr2 = _qr_jvp((tb,), (mT(q[..., ::-1, :]), mT(r[..., ::-1, ::-1])), b,
                       _QR_MODES[mode])
    return mT(dr2)[..., ::-1, ::-1], mT(dq2)[..., ::-1, :]


# --- lstsq -----------------------------------------------------------------------------------

def _lstsq_refuses(args: tuple, kwargs: dict) -> str | None:
    if (why := _overwrite("lstsq", args, kwargs, 3, 4)) is not None:
        return why
    a = args[0] if args else kwargs.get("a")
    cond = _flag(args, kwargs, "cond", 2, None)
    if cond is None or cond < 0:  # SciPy's default: machine precision
        cond = np.finfo(np.result_type(a, np.float32)).eps
    if rank_deficient(a, cond):
        return ("scipy.linalg.lstsq of a rank-deficient matrix has no derivative rule (its "
                "rank changes under any perturbation)")
    return None


def _full_rank(ans, a) -> bool:
    return int(ans[2]) == min(np.shape(a))


def _slstsq_vjp(g, ans, a, b, *rest, **kw):
    if not _full_rank(ans, a):  # (a replay at a rank-deficient point: FA112 reports the NaN)
        return (_nan_like(a), _nan_like(b), *(None for _ in rest))
    gx, gres, _, gs = g
    if gres is not None:  # (sums of squares: SciPy >= 1.18 gives a complex a's as complex)
        gres = np.real(gres)
    ga, gb, _ = _lstsq_vjp((gx, gres, None, None if ans[3] is None else gs), ans, a, b)
    return (ga, gb, *(None for _ in rest))


def _slstsq_jvp(tangents, ans, a, b, *rest, **kw):
    dx, dres, _, ds = _lstsq_jvp(tuple(tangents)[:2], ans, a, b)
    if not _full_rank(ans, a):
        dx = _nan_like(dx)
    if dres is not None and np.iscomplexobj(ans[1]):  # (real sums of squares, complex dtype)
        dres = np.asarray(dres).astype(ans[1].dtype)
    return dx, dres, None, None if ans[3] is None else ds


# --- eig, eigvals ----------------------------------------------------------------------------

def _eig_refuses(name: str, pos_ow: int, pos_h: int):
    def refuses(args: tuple, kwargs: dict) -> str | None:
        if (why := _overwrite(name, args, kwargs, pos_ow, pos_ow + 1 if name == "eig"
                              else None)) is not None:
            return why
        if _flag(args, kwargs, "b", 1, None) is not None:
            return f"scipy.linalg.{name} with b= (the generalized problem) has no derivative rule"
        if name == "eig" and _flag(args, kwargs, "left", 2, False):
            return "scipy.linalg.eig(left=True) has no derivative rule"
        if _flag(args, kwargs, "homogeneous_eigvals", pos_h, False):
            return f"scipy.linalg.{name}(homogeneous_eigvals=True) has no derivative rule"
        return None
    return refuses


def _seig_vjp(g, ans, a, *args, **kw):
    if not isinstance(ans, tuple):  # right=False: the eigenvalues only
        return _eigvals_vjp(g, ans, a)
    return cot_like(_eig_adj(g[0], g[1], *ans), a)


def _seig_jvp(tangents, ans, a, *args, **kw):
    if not isinstance(ans, tuple):
        return _eigvals_jvp(tangents, ans, a)
    return _eig_dir(ans[0], ans[1], tangents[0])


# (function, vjp, jvp, saves, more metadata), installed by scipy_linalg_rules
DECOMP_RULES = [
    (sl.lu, (_lu_vjp,), _lu_jvp, {0: (0, ANS)},
     {"multi": True, "refuses": lambda args, kwargs: _overwrite("lu", args, kwargs, 2)}),
    (sl.qr, (_sqr_vjp,), _sqr_jvp, {0: (0, ANS)}, {"multi": True, "refuses": _qr_refuses}),
    (sl.rq, (_rq_vjp,), _rq_jvp, {0: (0, ANS)}, {"multi": True, "refuses": _rq_refuses}),
    (sl.lstsq, _slstsq_vjp, _slstsq_jvp, {0: (0, 1, ANS), 1: (0, 1, ANS)},
     {"multi": True, "nondiff": (2,), "refuses": _lstsq_refuses}),
    (sl.eig, (_seig_vjp,), _seig_jvp, {0: (0, ANS)},
     {"multi": True, "refuses": _eig_refuses("eig", 4, 7)}),
    (sl.eigvals, (_eigvals_vjp,), _eigvals_jvp, {0: (0, ANS)},
     {"refuses": _eig_refuses("eigvals", 2, 4)}),
]
