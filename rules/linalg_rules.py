"""Rules for ``np.linalg``: solves, inverses, determinants, matrix powers, ``pinv`` and
``lstsq``, and ``trace``/``diagonal``/``matrix_transpose`` (the np and np.linalg spellings).
``install`` also installs the factorizations (``linalg_factor_rules``), the norms
(``linalg_norm_rules``) and the ``_umath_linalg`` gufuncs NumPy's code calls directly, with
``ndarray.__array_wrap__`` (``linalg_gufunc_rules``).

Stacked inputs (``(..., M, M)``) work wherever NumPy accepts them. Complex inputs follow JAX's
convention (registry docstring): the VJP is the transpose of the JVP under ``Re(sum(u * v))``;
non-holomorphic functions are written with Hermitian adjoints and conjugated into it
(``matrices.jax_cot``).
"""

from __future__ import annotations

import importlib

import numpy as np

from . import triangular as tri
from .families import deflinear
from .linalg_factor_rules import FACTOR_REFUSALS, FACTOR_RULES, svd_jvp, svd_vjp
from .linalg_norm_rules import NORM_RULES
from .matrices import (
    cot_like,
    herm_adjoint,
    herm_from,
    is_vec,
    jax_cot,
    mH,
    mT,
    outer_last,
)
from .registry import ANS, lookup, public_name, register, register_attr, register_method
from .shapes import add_tangents, fit, meta_of

la = np.linalg


# --- solve, inv, det, slogdet ----------------------------------------------------------------

def _solve_gb(a, b, g):
    return tri.solve(mT(np.asarray(a)), g, is_vec(b))


def _solve_vjp(g, ans, a, b):
    """Both cotangents from one solve with ``a``'s transpose (``b``'s cotangent is the
    solution; ``a``'s is minus its outer product with ``ans``)."""
    gb = _solve_gb(a, b, g)
    ga = -(outer_last(gb, ans) if is_vec(b) else gb @ mT(ans))
    return cot_like(ga, a), cot_like(gb, b)


def _solve_jvp(tangents, ans, a, b):
    ta, tb = tangents
    tax = None if ta is None else -((ta @ ans[..., None])[..., 0] if is_vec(b) else ta @ ans)
    rhs = add_tangents((tb, tax))
    if rhs is None:
        return None
    return tri.solve(np.asarray(a), rhs, is_vec(b))


def inv_jvp(tangents, ans, a):
    return -(ans @ tangents[0] @ ans)


def inv_vjp(g, ans, a):
    return cot_like(-(mT(ans) @ g @ mT(ans)), a)


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


def det_vjp(g, ans, a):
    return cot_like(np.asarray(g)[..., None, None] * _det_dx(ans, a), a)


def det_jvp(tangents, ans, a):
    return np.sum(_det_dx(ans, a) * tangents[0], axis=(-2, -1))


def _slogdet_vjp(g, ans, a):
    gs, gl = g
    c = np.real(gl) if gl is not None else 0.0
    if np.iscomplexobj(a) and gs is not None:
        c = c + 1j * np.imag(gs * ans[0])
    return cot_like(np.asarray(c)[..., None, None] * mT(la.inv(a)), a)


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
        return cot_like(np.zeros_like(m), a)
    pw = [np.broadcast_to(np.eye(m.shape[-1]), m.shape)]
    for _ in range(k - 1):
        pw.append(pw[-1] @ m)
    gm = sum(mT(pw[i]) @ g @ mT(pw[k - 1 - i]) for i in range(k))
    if n < 0:
        gm = -(mT(m) @ gm @ mT(m))
    return cot_like(gm, a)


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


# --- pinv, lstsq -----------------------------------------------------------------------------

def _pinv_adj(g, a, p):
    m, n = a.shape[-2:]
    out = -(mH(p) @ g @ mH(p))
    out = out + (np.eye(m) - a @ p) @ mH(g) @ p @ mH(p)
    return out + mH(p) @ p @ mH(g) @ (np.eye(n) - p @ a)


def _pinv_herm_adj(g, h, p):
    return herm_adjoint(_pinv_adj(g, h, p), True)


def _pinv_vjp(g, ans, a, rcond=None, hermitian=False, **kw):
    """With ``hermitian=True`` NumPy reads the lower triangle (through eigh)."""
    if hermitian:
        return cot_like(jax_cot(_pinv_herm_adj, g, herm_from(np.asarray(a), True), ans), a)
    return cot_like(jax_cot(_pinv_adj, g, np.asarray(a), ans), a)


def _pinv_dir(p, a, t):
    m, n = a.shape[-2:]
    out = -(p @ t @ p) + p @ mH(p) @ mH(t) @ (np.eye(m) - a @ p)
    return out + (np.eye(n) - p @ a) @ mH(t) @ mH(p) @ p


def _pinv_jvp(tangents, ans, a, rcond=None, hermitian=False, **kw):
    if hermitian:
        return _pinv_dir(ans, herm_from(np.asarray(a), True), herm_from(tangents[0], True))
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
    ga = jax_cot(_pinv_adj, gx2 @ mT(b2), a, p)
    gb = mT(p) @ gx2
    if gres is not None and np.size(res):
        r = b2 - a @ x2
        w = 2 * np.conj(r) * np.reshape(gres, (1, -1))  # d|r|^2 = 2 Re(conj(r) dr)
        gb = gb + w
        ga = ga - w @ mT(x2)
    if gs is not None:
        ga = ga + svd_vjp(gs, None, a, False, False)
    return cot_like(ga, a), cot_like(gb[:, 0] if vec else gb, b), None


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
        ds = svd_jvp((ta,), None, a, False, False)
    return dx, dres, None, ds


def _mt_attr_jvp(tangents, ans, a):
    return None if tangents[0] is None else mT(tangents[0])


# --- trace, diagonal, matrix transpose (np and np.linalg spellings) --------------------------

def trace_cot(g, x, offset=0, axis1=0, axis2=1):
    """Cotangent of ``np.trace``: ``g`` on the chosen diagonal, zeros elsewhere (``g`` may be
    np.matrix's (1, 1) for ``m.trace()``: taken by its size)."""
    m = meta_of(x)
    nd = len(m.shape)
    a1, a2 = axis1 % nd, axis2 % nd
    rest = [n for i, n in enumerate(m.shape) if i not in (a1, a2)]
    e = np.eye(m.shape[a1], m.shape[a2], k=offset)
    ct = np.reshape(np.asarray(g), rest)[..., None, None] * e
    ct = np.broadcast_to(ct, tuple(rest) + e.shape)
    return fit(np.moveaxis(ct, (-2, -1), (a1, a2)), m)


def _trace_vjp(g, ans, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    return trace_cot(g, a, offset, axis1, axis2)


def _ltrace_vjp(g, ans, x, *, offset=0, dtype=None):
    return trace_cot(g, x, offset, -2, -1)


def _ldiagonal_vjp(g, ans, x, *, offset=0):
    m = meta_of(x)
    g = np.asarray(g)
    ct = np.zeros(m.shape, np.result_type(m.dtype, g.dtype))
    r = np.arange(g.shape[-1])  # the diagonal's length: (i + max(-k, 0), i + max(k, 0))
    ct[..., r + max(-offset, 0), r + max(offset, 0)] = g
    return fit(ct, m)


def _mtranspose_vjp(g, ans, x):
    return mT(g)


TRACES = [  # (function, vjp)
    (np.trace, _trace_vjp), (np.linalg.trace, _ltrace_vjp),
    (np.linalg.diagonal, _ldiagonal_vjp),
    (np.linalg.matrix_transpose, _mtranspose_vjp), (np.matrix_transpose, _mtranspose_vjp),
]

# (function, vjp, jvp, saves, multi[, nondiff])
RULES = [
    (la.solve, _solve_vjp, _solve_jvp, {0: (0, ANS), 1: (0, ANS)}, False),
    (la.inv, (inv_vjp,), inv_jvp, {0: (ANS,)}, False),
    (la.det, (det_vjp,), det_jvp, {0: (0, ANS)}, False),
    (la.slogdet, (_slogdet_vjp,), _slogdet_jvp, {0: (0, ANS)}, True),
    (la.matrix_power, (_mpow_vjp,), _mpow_jvp, {0: (0,)}, False),
    (la.pinv, (_pinv_vjp,), _pinv_jvp, {0: (0, ANS)}, False, (1,)),
    (la.lstsq, _lstsq_vjp, _lstsq_jvp, {0: (0, 1, ANS), 1: (0, 1, ANS)}, True, (2,)),
]


def install() -> None:
    register_attr(np.ndarray, "mT", vjp=(lambda g, ans, a: mT(g),), jvp=_mt_attr_jvp,
                  saves={0: ()}, aliases={0: 0})
    for fn, vjp, jvp, saves, multi, *nondiff in RULES + FACTOR_RULES + NORM_RULES:
        register(fn, vjp=vjp, jvp=jvp, saves=saves, multi=multi,
                 nondiff=nondiff[0] if nondiff else (), name=public_name(fn),
                 refuses=FACTOR_REFUSALS.get(fn))
    for fn, vjp in TRACES:
        deflinear(fn, vjp, name=public_name(fn))
    register_method(np.ndarray, "trace", lookup(np.trace))
    # (linalg_gufunc_rules imports this module's derivatives: imported once this one is)
    importlib.import_module(f"{__package__}.linalg_gufunc_rules").install()
