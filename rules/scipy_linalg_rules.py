"""Rules for ``scipy.linalg``'s Hermitian eigensolvers and SVD: ``eigh`` (with
``eigvals_only``, ``subset_by_index``), ``eigvalsh``, ``svd`` (with ``compute_uv``), ``svdvals``;
also installs ``scipy_decomp_rules`` (``lu``, ``qr``, ``rq``, ``lstsq``, ``eig``, ``eigvals``).

They are NumPy's (``linalg_factor_rules``): ``lower=False`` reads the upper triangle, as
``UPLO='U'``, and the other triangle gets a zero cotangent; every LAPACK driver SciPy offers
keeps NumPy's complex gauge (eigenvectors: the first row real for ``lower=True``, the last for
``lower=False``; singular vectors: V's first row real if m >= n, else U's). Gaps between equal
eigenvalues (singular values) count as zero, as in NumPy's rules. A subset
(``subset_by_index``) is differentiated through the whole spectrum: the other pairs' gaps count.
The default driver (``evr``) picks real eigenvectors' signs in no continuous way (a 1e-6
perturbation flips one about a third of the time); the derivative holds them fixed, so only a
sign-invariant use of them has the derivative finite differences see.
Refused (FA101 at the call): the generalized problem (``b``), ``subset_by_value`` (how many
eigenvalues it selects depends on the input) and ``overwrite_a=True`` (LAPACK may write into
the input, which no node records). The extra singular vectors of a non-square
``svd(full_matrices=True)`` are not unique: a cotangent on them raises, their tangent is NaN.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sl

from .linalg_factor_rules import (
    _eigh_jvp,
    _eigh_vjp,
    _eigvalsh_jvp,
    _eigvalsh_vjp,
    svd_jvp,
    svd_vjp,
)
from .registry import ANS, lookup, register
from .scipy_decomp_rules import DECOMP_RULES


def _uplo(lower) -> str:
    return "L" if lower else "U"


def _overwrites(name: str, args: tuple, kwargs: dict, pos: int | None) -> str | None:
    """``overwrite_a``/``overwrite_b`` on: LAPACK may write into the (traced) input, which no
    node records; the call runs natively (as an unruled call's write) and is reported."""
    for key in ("overwrite_a", "overwrite_b"):
        on = args[pos] if key == "overwrite_a" and pos is not None and len(args) > pos \
            else kwargs.get(key, False)
        if on:
            return f"scipy.linalg.{name}({key}=True) has no derivative rule"
    return None


def _eigh_refuses(name: str):
    def refuses(args: tuple, kwargs: dict) -> str | None:
        if (why := _overwrites(name, args, kwargs, None)) is not None:
            return why
        if (len(args) > 1 and args[1] is not None) or kwargs.get("b") is not None:
            return f"scipy.linalg.{name} with b= (the generalized problem) has no derivative rule"
        if kwargs.get("subset_by_value") is not None:
            return f"scipy.linalg.{name} with subset_by_value= has no derivative rule"
        return None
    return refuses


def _whole(a, uplo, ans_v, sel):
    """(w, v) of the whole spectrum, the selected columns of v those SciPy returned."""
    w, v = np.linalg.eigh(np.asarray(a), uplo)
    if ans_v is not None:
        v[..., sel] = ans_v
    return w, v


def _eigh_vjp_s(g, ans, a, b=None, *, lower=True, eigvals_only=False, subset_by_index=None,
                **kw):
    uplo = _uplo(lower)
    if subset_by_index is None:
        return _eigvalsh_vjp(g, ans, a, uplo) if eigvals_only else _eigh_vjp(g, ans, a, uplo)
    # a subset: the cotangents of the other eigenpairs are zero, their gaps still count
    lo, hi = (int(i) for i in subset_by_index)
    sel = slice(lo, hi + 1)
    gw, gv = (g, None) if eigvals_only else g
    w, v = _whole(a, uplo, None if eigvals_only else ans[1], sel)
    gw_all = np.zeros(w.shape)
    if gw is not None:
        gw_all[..., sel] = gw
    gv_all = None
    if gv is not None:
        gv_all = np.zeros(v.shape, v.dtype)
        gv_all[..., sel] = gv
    return _eigh_vjp((gw_all, gv_all), (w, v), a, uplo)


def _eigh_jvp_s(tangents, ans, a, b=None, *, lower=True, eigvals_only=False,
                subset_by_index=None, **kw):
    uplo = _uplo(lower)
    if subset_by_index is None:
        return _eigvalsh_jvp(tangents, ans, a, uplo) if eigvals_only else \
            _eigh_jvp(tangents, ans, a, uplo)
    lo, hi = (int(i) for i in subset_by_index)
    sel = slice(lo, hi + 1)
    w, v = _whole(a, uplo, None if eigvals_only else ans[1], sel)
    dw, dv = _eigh_jvp(tangents, (w, v), a, uplo)
    return dw[..., sel] if eigvals_only else (dw[..., sel], dv[..., sel])


def _eigvalsh_vjp_s(g, ans, a, b=None, *, lower=True, subset_by_index=None, **kw):
    return _eigh_vjp_s(g, ans, a, lower=lower, eigvals_only=True,
                       subset_by_index=subset_by_index)


def _eigvalsh_jvp_s(tangents, ans, a, b=None, *, lower=True, subset_by_index=None, **kw):
    return _eigh_jvp_s(tangents, ans, a, lower=lower, eigvals_only=True,
                       subset_by_index=subset_by_index)


def _svd_refuses(args: tuple, kwargs: dict) -> str | None:
    if (why := _overwrites("svd", args, kwargs, 3)) is not None:
        return why
    return None  # (full_matrices=True of a non-square matrix: svd_vjp / svd_jvp's business)


def _svd_vjp_s(g, ans, a, full_matrices=True, compute_uv=True, *args, **kw):
    return svd_vjp(g, ans, a, full_matrices, compute_uv)


def _svd_jvp_s(tangents, ans, a, full_matrices=True, compute_uv=True, *args, **kw):
    return svd_jvp(tangents, ans, a, full_matrices, compute_uv)


def _svdvals_vjp(g, ans, a, *args, **kw):
    return svd_vjp(g, None, a, False, False)


def _svdvals_jvp(tangents, ans, a, *args, **kw):
    return svd_jvp(tangents, None, a, False, False)


RULES = [  # (function, vjp, jvp, saves, more metadata)
    (sl.eigh, (_eigh_vjp_s,), _eigh_jvp_s, {0: (0, ANS)},
     {"multi": True, "refuses": _eigh_refuses("eigh")}),
    (sl.eigvalsh, (_eigvalsh_vjp_s,), _eigvalsh_jvp_s, {0: (0,)},
     {"refuses": _eigh_refuses("eigvalsh")}),
    (sl.svd, (_svd_vjp_s,), _svd_jvp_s, {0: (0, ANS)}, {"multi": True, "refuses": _svd_refuses}),
    (sl.svdvals, (_svdvals_vjp,), _svdvals_jvp, {0: (0,)},
     {"refuses": lambda args, kwargs: _overwrites("svdvals", args, kwargs, 1)}),
    *DECOMP_RULES,  # lu, qr, rq, lstsq, eig, eigvals (scipy_decomp_rules)
]


def install() -> None:
    """Register every rule whose function has none yet (a user's own rule wins)."""
    for fn, vjp, jvp, saves, spec in RULES:
        if lookup(fn) is None:
            register(fn, vjp=vjp, jvp=jvp, saves=saves, name=f"scipy.linalg.{fn.__name__}",
                     **spec)

