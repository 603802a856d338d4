"""Rules for SciPy's matrix functions beyond ``expm``: ``logm`` and ``sqrtm``; and
``scipy.linalg.norm`` (np.linalg.norm's rule: the same function, every ord/axis).

Both derivatives are Fréchet derivatives L(A, E), read off the upper right block of the same
function of the block matrix [[A, E], [0, A]] (Higham, *Functions of Matrices*, 3.2). The
functions have real power-series coefficients, so the transpose of L(A, .) is L(A^T, .): the
VJP is L(A^T, G) (JAX's convention for complex matrices, as ``expm``'s). Where an eigenvalue
lies on the branch cut (a real matrix's negative eigenvalue) the block matrix's doubled
eigenvalue splits across the cut under rounding: there the derivative comes from the
eigendecomposition and the divided differences of the scalar function. The block matrix is
built with NumPy and the function called again, so a second derivative differentiates that
call through these same rules. A real result's derivative is the real part (the imaginary part
of a real logm/sqrtm is zero, up to SciPy's rounding). ``disp=False`` (deprecated by SciPy,
a (result, error estimate) pair) is refused (FA101).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sl

from .linalg_norm_rules import _norm_jvp, _norm_vjp
from .matrices import cot_like, mT
from .registry import ANS, lookup, public_name, register

_SCALAR = {sl.logm: (np.log, lambda w, fw: 1 / w),
           sl.sqrtm: (np.sqrt, lambda w, fw: 0.5 / fw)}


def _on_cut(a) -> bool:
    """An eigenvalue on the negative real axis (the branch cut): the block matrix's double
    eigenvalue there splits by ~sqrt(eps) under rounding, half of it across the cut."""
    w = np.linalg.eigvals(a)
    return bool(np.any((np.real(w) < 0) & (np.abs(np.imag(w)) <= 1e-6 * np.abs(w))))


def _frechet_eig(fn, a, e):
    """L_fn(a, e) = V (F o (V^-1 E V)) V^-1 with F the divided differences of the scalar
    function at the eigenvalues (its derivative between equal ones), on the branch NumPy gives
    a real negative eigenvalue (+i pi for log, +i sqrt|w| for sqrt), as SciPy's result."""
    f, df = _SCALAR[fn]
    w, v = np.linalg.eig(a)
    w = w.astype(complex)
    fw = f(w)
    dw = w[:, None] - w[None, :]
    close = np.abs(dw) <= 1e-8 * np.maximum(np.abs(w[:, None]), np.abs(w[None, :]))
    d = df(w, fw)
    dd = np.where(close, (d[:, None] + d[None, :]) / 2,
                  (fw[:, None] - fw[None, :]) / np.where(close, 1, dw))
    vi = np.linalg.inv(v)
    return v @ (dd * (vi @ e @ v)) @ vi


def _frechet(fn, a, e, real):
    """L_fn(a, e) by the 2n x 2n block matrix (by eigenvectors where an eigenvalue is on the
    branch cut); batched matrices one by one."""
    a, e = np.asarray(a), np.asarray(e)
    if a.ndim > 2:
        e = np.broadcast_to(e, a.shape)
        return np.stack([_frechet(fn, a[i], e[i], real) for i in np.ndindex(a.shape[:-2])]
                        ).reshape(np.broadcast_shapes(a.shape, e.shape))
    if _on_cut(a):
        out = _frechet_eig(fn, a, e)
        return np.real(out) if real else out
    n = a.shape[-1]
    dt = np.result_type(a, e, float)
    big = np.block([[a.astype(dt), e.astype(dt)], [np.zeros((n, n), dt), a.astype(dt)]])
    out = fn(big)[:n, n:]
    return np.real(out) if real else out


def _rule(fn):
    def vjp(g, ans, A, *args, **kw):
        real = not np.iscomplexobj(ans)
        return cot_like(_frechet(fn, mT(np.asarray(A)), g, real and not np.iscomplexobj(A)),
                        A)

    def jvp(tangents, ans, A, *args, **kw):
        return _frechet(fn, A, tangents[0], not np.iscomplexobj(ans))

    return vjp, jvp


def _no_disp_false(name):
    def refuses(args: tuple, kwargs: dict) -> str | None:
        disp = args[1] if len(args) > 1 else kwargs.get("disp", True)
        if disp is False:
            return f"scipy.linalg.{name}(disp=False) has no derivative rule (pass disp=True)"
        return None
    return refuses


def _snorm_vjp(g, ans, a, ord=None, axis=None, keepdims=False, check_finite=True):
    return _norm_vjp(g, ans, a, ord, axis, keepdims)


def _snorm_jvp(tangents, ans, a, ord=None, axis=None, keepdims=False, check_finite=True):
    return _norm_jvp(tangents, ans, a, ord, axis, keepdims)


def install() -> None:
    # scipy.linalg.norm is np.linalg.norm's function (BLAS nrm2 / LAPACK lange for some ord:
    # untraced C, FA101 before): its rule
    if lookup(sl.norm) is None:
        register(sl.norm, vjp=(_snorm_vjp,), jvp=_snorm_jvp, saves={0: (0, 1, ANS)},
                 nondiff=(1,), name="scipy.linalg.norm")
    for fn, name in ((sl.logm, "logm"), (sl.sqrtm, "sqrtm")):
        if lookup(fn) is None:
            vjp, jvp = _rule(fn)
            register(fn, vjp=(vjp,), jvp=jvp, saves={0: (0,)}, name=public_name(fn),
                     refuses=_no_disp_false(name))
