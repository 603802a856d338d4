"""Rules for SciPy: ``scipy.special`` (elementwise ufuncs, ``logsumexp``, ``softmax``,
``log_softmax``) and ``scipy.linalg`` (solves, banded solves, factorizations, ``expm``).

Installed by ``framead.rules.install_optional`` once SciPy has been imported (never imported
by framead itself). Derivatives with respect to an order or shape parameter (``jv``'s ``v``,
``polygamma``'s ``n``) are not provided: those arguments are
``nondiff``, and a traced value reaching one is reported (FA101). Matrix rules follow
``linalg_rules`` (the triangle a routine reads is the one differentiated; complex numbers in
JAX's convention); ``cho_factor``/``cho_solve`` are real-only. ``cho_factor``'s unused triangle
is whatever SciPy returns there: the input's (SciPy <= 1.17, or 1.18 factoring in place with
``overwrite_a=True``), whose derivative passes through, or zeros (SciPy >= 1.18), whose
derivative is zero; the rule reads which from the result (``_rest_passes``), not from the
version number. More ``scipy.special`` functions (those ``scipy.stats`` reaches) are in
``scipy_special_rules``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg as sl
import scipy.special as sp

from .families import defbinary, defunary
from .linalg_factor_rules import chol_jvp, chol_vjp
from .linalg_rules import det_jvp, det_vjp, inv_jvp, inv_vjp
from .matrices import cot_like, is_vec, mT, outer_last, real_only
from .refusals import is_complex, not_square
from .registry import ANS, lookup, public_name, register
from .scipy_special_rules import order_hazard
from .shapes import add_tangents, expand_reduced, fit, meta_of, sum_to

_SQRT_PI, _SQRT_2PI = math.sqrt(math.pi), math.sqrt(2 * math.pi)
_LN10 = math.log(10.0)


def _safe(num, den, at_zero=0.0):
    den = np.asarray(den)
    return np.where(den == 0, at_zero, num / np.where(den == 0, 1, den))


def _where_defined(x, y, pole, log):
    """d xlogy / dx = log(y), taken as 0 at x == 0, y == pole (where xlogy is 0)."""
    at = np.equal(x, 0) & np.equal(y, pole)
    with np.errstate(divide="ignore"):
        return np.where(at, 0.0, log(np.where(at, pole + 1, y)))


UNARY = [
    (sp.gammaln, lambda x: sp.psi(x)), (sp.loggamma, lambda x: sp.psi(x)),
    (sp.gamma, lambda ans, x: ans * sp.psi(x)), (sp.rgamma, lambda ans, x: -ans * sp.psi(x)),
    (sp.psi, lambda x: sp.polygamma(1, x)),
    (sp.erf, lambda x: 2 / _SQRT_PI * np.exp(-x * x)),
    (sp.erfc, lambda x: -2 / _SQRT_PI * np.exp(-x * x)),
    (sp.erfinv, lambda ans: _SQRT_PI / 2 * np.exp(ans * ans)),
    (sp.erfcinv, lambda ans: -_SQRT_PI / 2 * np.exp(ans * ans)),
    (sp.erfcx, lambda ans, x: 2 * x * ans - 2 / _SQRT_PI),
    (sp.dawsn, lambda ans, x: 1 - 2 * x * ans),
    (sp.expit, lambda ans: ans * (1 - ans)), (sp.logit, lambda x: 1 / (x * (1 - x))),
    (sp.log_expit, lambda x: sp.expit(-x)), (sp.softplus, lambda x: sp.expit(x)),
    (sp.ndtr, lambda x: np.exp(-x * x / 2) / _SQRT_2PI),
    (sp.log_ndtr, lambda ans, x: np.exp(-x * x / 2 - ans) / _SQRT_2PI),
    (sp.ndtri, lambda ans: _SQRT_2PI * np.exp(ans * ans / 2)),
    (sp.entr, lambda x: -(1 + np.log(x))),
    (sp.expm1, lambda ans: ans + 1), (sp.log1p, lambda x: 1 / (1 + x)),
    (sp.exp2, lambda ans: ans * math.log(2.0)), (sp.exp10, lambda ans: ans * _LN10),
    (sp.cbrt, lambda ans: 1 / (3 * ans * ans)),
    (sp.i0, lambda x: sp.i1(x)), (sp.i1, lambda ans, x: sp.i0(x) - _safe(ans, x, 0.5)),
    (sp.i0e, lambda ans, x: sp.i1e(x) - np.sign(x) * ans),
    (sp.i1e, lambda ans, x: sp.i0e(x) - np.sign(x) * ans - _safe(ans, x, 0.5)),
    (sp.j0, lambda x: -sp.j1(x)), (sp.j1, lambda ans, x: sp.j0(x) - _safe(ans, x, 0.5)),
    (sp.y0, lambda x: -sp.y1(x)), (sp.y1, lambda ans, x: sp.y0(x) - ans / x),
    (sp.k0, lambda x: -sp.k1(x)), (sp.k1, lambda ans, x: -sp.k0(x) - ans / x),
]

BINARY = [
    (sp.xlogy, lambda x, y: _where_defined(x, y, 0, np.log), lambda x, y: _safe(x, y)),
    (sp.xlog1py, lambda x, y: _where_defined(x, y, -1, np.log1p), lambda x, y: _safe(x, 1 + y)),
    (sp.betaln, lambda x, y: sp.psi(x) - sp.psi(x + y), lambda x, y: sp.psi(y) - sp.psi(x + y)),
    (sp.beta, lambda ans, x, y: ans * (sp.psi(x) - sp.psi(x + y)),
     lambda ans, x, y: ans * (sp.psi(y) - sp.psi(x + y))),
    (sp.rel_entr, lambda x, y: np.log(x / y) + 1, lambda x, y: -x / y),
    (sp.kl_div, lambda x, y: np.log(x / y), lambda x, y: 1 - x / y),
]

ORDER_FIRST = [  # f(order, x): derivative in x only (the order comes as the output's dtype,
    # complex for a complex x: np.real gives SciPy the real order its loops take)
    (sp.jv, lambda x, y: (sp.jv(np.real(x) - 1, y) - sp.jv(np.real(x) + 1, y)) / 2),
    (sp.yv, lambda x, y: (sp.yv(np.real(x) - 1, y) - sp.yv(np.real(x) + 1, y)) / 2),
    (sp.iv, lambda x, y: (sp.iv(np.real(x) - 1, y) + sp.iv(np.real(x) + 1, y)) / 2),
    (sp.kv, lambda x, y: -(sp.kv(np.real(x) - 1, y) + sp.kv(np.real(x) + 1, y)) / 2),
    (sp.polygamma, lambda x, y: sp.polygamma(x + 1, y)),
]


# --- logsumexp, softmax, log_softmax ---------------------------------------------------------

def _lse_weights(a, ans, axis, b, keepdims, return_sign):
    lse, sign = ans if return_sign else (ans, 1.0)
    lse = expand_reduced(lse, a, axis, keepdims)
    sign = expand_reduced(sign, a, axis, keepdims) if return_sign else 1.0
    e = np.exp(np.asarray(a) - lse) * sign
    return e, (e if b is None else e * b)


def _lse_cot(i):
    def vjp(g, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
        real_only("scipy.special.logsumexp", a)
        e, w = _lse_weights(a, ans, axis, b, keepdims, return_sign)
        g = g[0] if return_sign else g
        ge = expand_reduced(g, a, axis, keepdims)
        x = (a, None, b)[i]
        return fit(sum_to(ge * (w if i == 0 else e), np.shape(x)), meta_of(x))
    return vjp


def _lse_jvp(tangents, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
    ta, tb = tangents[0], tangents[2] if len(tangents) > 2 else None
    e, w = _lse_weights(a, ans, axis, b, keepdims, return_sign)
    terms = [None if ta is None else w * ta, None if tb is None else e * tb]
    t = add_tangents(terms)
    t = np.sum(t, axis=axis, keepdims=keepdims)
    return (t, None) if return_sign else t


def _softmax_vjp(g, ans, x, axis=None):
    return fit(ans * (g - np.sum(g * ans, axis=axis, keepdims=True)), meta_of(x))


def _softmax_jvp(tangents, ans, x, axis=None):
    t = tangents[0]
    return ans * (t - np.sum(t * ans, axis=axis, keepdims=True))


def _log_softmax_vjp(g, ans, x, axis=None):
    return fit(g - np.exp(ans) * np.sum(g, axis=axis, keepdims=True), meta_of(x))


def _log_softmax_jvp(tangents, ans, x, axis=None):
    t = tangents[0]
    return t - np.sum(np.exp(ans) * t, axis=axis, keepdims=True)


# --- scipy.linalg ----------------------------------------------------------------------------

_GENERAL = (None, "gen", "general")


def _solve_read(t, assume_a, lower):
    """The matrix scipy.linalg.solve uses, as a function of its argument (linear)."""
    if assume_a in _GENERAL:
        return t
    if assume_a in ("sym", "symmetric", "pos", "positive definite", "her", "hermitian"):
        if np.iscomplexobj(t) and assume_a not in ("sym", "symmetric"):
            raise NotImplementedError(f"framead: scipy.linalg.solve(assume_a={assume_a!r}) "
                                      "of a complex matrix has no rule")
        tri = np.tril(t) if lower else np.triu(t)
        return tri + mT(np.tril(t, -1) if lower else np.triu(t, 1))
    if assume_a in ("upper triangular", "lower triangular"):
        return np.triu(t) if assume_a.startswith("upper") else np.tril(t)
    if assume_a == "diagonal":
        return t * np.eye(t.shape[-1])
    raise NotImplementedError(f"framead: scipy.linalg.solve(assume_a={assume_a!r}) has no rule")


def _solve_read_t(m, assume_a, lower):
    """Transpose of ``_solve_read`` (the cotangent on what it reads)."""
    if assume_a in _GENERAL or assume_a in ("upper triangular", "lower triangular",
                                            "diagonal"):
        return _solve_read(m, assume_a, lower)
    s = m + mT(m)
    out = np.tril(s, -1) if lower else np.triu(s, 1)
    d = np.arange(m.shape[-1])
    out[..., d, d] = m[..., d, d]
    return out


def _ssolve_cot(i):
    def vjp(g, ans, a, b, lower=False, overwrite_a=False, overwrite_b=False, check_finite=True,
            assume_a=None, transposed=False):
        eff = _solve_read(np.asarray(a), assume_a, lower)
        eff = mT(eff) if transposed else eff
        g = np.asarray(g)
        gb = np.linalg.solve(mT(eff), g[..., None])[..., 0] if is_vec(b) else \
            np.linalg.solve(mT(eff), g)
        if i == 1:
            return cot_like(gb, b)
        ga = -(outer_last(gb, ans) if is_vec(b) else gb @ mT(ans))
        ga = mT(ga) if transposed else ga
        return cot_like(_solve_read_t(ga, assume_a, lower), a)
    return vjp


def _ssolve_jvp(tangents, ans, a, b, lower=False, overwrite_a=False, overwrite_b=False,
                check_finite=True, assume_a=None, transposed=False):
    ta, tb = tangents[0], tangents[1]
    eff = _solve_read(np.asarray(a), assume_a, lower)
    eff = mT(eff) if transposed else eff
    rhs = tb
    if ta is not None:
        te = _solve_read(np.asarray(ta), assume_a, lower)
        te = mT(te) if transposed else te
        tx = (te @ ans[..., None])[..., 0] if is_vec(b) else te @ ans
        rhs = -tx if rhs is None else rhs - tx
    if rhs is None:
        return None
    return np.linalg.solve(eff, rhs[..., None])[..., 0] if is_vec(b) else \
        np.linalg.solve(eff, rhs)


def _trans_code(trans):
    return {"N": 0, "T": 1, "C": 2}.get(trans, trans)


def _tri_mask(t, lower, unit_diagonal):
    return np.tril(t, -int(unit_diagonal)) if lower else np.triu(t, int(unit_diagonal))


def _op(t, trans):
    return {0: t, 1: mT(t), 2: np.conj(mT(t))}[trans]


def _tri_cot(i):
    def vjp(g, ans, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
            check_finite=True):
        trans = _trans_code(trans)
        kw = dict(lower=lower, unit_diagonal=unit_diagonal)
        g = np.asarray(g)
        if trans == 2:
            gb = np.conj(sl.solve_triangular(a, np.conj(g), trans=0, **kw))
        else:
            gb = sl.solve_triangular(a, g, trans=1 - trans, **kw)
        if i == 1:
            return cot_like(gb, b)
        gop = -(outer_last(gb, ans) if is_vec(b) else gb @ mT(ans))
        ga = {0: gop, 1: mT(gop), 2: np.conj(mT(gop))}[trans]
        return cot_like(_tri_mask(ga, lower, unit_diagonal), a)
    return vjp


def _tri_jvp(tangents, ans, a, b, trans=0, lower=False, unit_diagonal=False,
             overwrite_b=False, check_finite=True):
    trans = _trans_code(trans)
    ta, tb = tangents[0], tangents[1]
    rhs = tb
    if ta is not None:
        top = _op(_tri_mask(ta, lower, unit_diagonal), trans)
        tx = (top @ ans[..., None])[..., 0] if is_vec(b) else top @ ans
        rhs = -tx if rhs is None else rhs - tx
    if rhs is None:
        return None
    return sl.solve_triangular(a, rhs, trans=trans, lower=lower, unit_diagonal=unit_diagonal)


def _rest(x, lower):
    """The triangle of ``cho_factor``'s result its factor does not use (diagonal excluded)."""
    return np.triu(x, 1) if lower else np.tril(x, -1)


_REST_PASSES: dict[tuple, bool] = {}  # (lower, overwrite_a, batched, dtype) -> SciPy's answer


def _rest_passes(c, lower, overwrite_a) -> bool:
    """Whether ``cho_factor`` returned the input's unused triangle (its derivative is the
    identity) rather than zeros (its derivative is zero). A nonzero entry there can only be
    the input's. An all-zero triangle is either (the input's may be zero: a diagonal or
    triangular matrix), so ``cho_factor`` itself is asked, once per combination of flags, on
    a matrix whose triangle is not zero."""
    c = np.asarray(c)
    if np.any(_rest(c, lower)):
        return True
    key = (bool(lower), bool(overwrite_a), c.ndim > 2, c.dtype.char)
    if key not in _REST_PASSES:
        probe = np.array([[4.0, 1.0], [1.0, 4.0]], dtype=c.dtype)
        probe = probe[None] if key[2] else probe
        out = sl.cho_factor(probe, lower=key[0], overwrite_a=key[1])[0]
        _REST_PASSES[key] = bool(np.any(_rest(np.asarray(out), key[0])))
    return _REST_PASSES[key]


def _cho_factor_vjp(g, ans, a, lower=False, overwrite_a=False, check_finite=True):
    real_only("scipy.linalg.cho_factor", a)
    c, gc = ans[0], np.asarray(g[0])
    mine = np.tril(gc) if lower else np.triu(gc)
    fac = np.tril(c) if lower else np.triu(c)
    ga = chol_vjp(mine, fac, a, upper=not lower)
    return ga + _rest(gc, lower) if _rest_passes(c, lower, overwrite_a) else ga


def _cho_factor_jvp(tangents, ans, a, lower=False, overwrite_a=False, check_finite=True):
    t = tangents[0]
    c = ans[0]
    fac = np.tril(c) if lower else np.triu(c)
    tc = chol_jvp((t,), fac, a, upper=not lower)
    return (tc + _rest(t, lower) if _rest_passes(c, lower, overwrite_a) else tc), None


def _cho_parts(c_and_lower):
    c, lower = c_and_lower
    c = np.asarray(c)
    real_only("scipy.linalg.cho_solve", c)
    fac = np.tril(c) if lower else np.triu(c)
    return c, lower, fac


def _cho_solve_cot(i):
    def vjp(g, ans, c_and_lower, b, overwrite_b=False, check_finite=True):
        c, lower, fac = _cho_parts(c_and_lower)
        gb = sl.cho_solve((c, lower), g)
        if i == 1:
            return cot_like(gb, b)
        ga = -(np.outer(gb, ans) if is_vec(b) else gb @ mT(ans))
        sym = ga + mT(ga)
        gf = np.tril(sym @ fac) if lower else np.triu(fac @ sym)
        return (fit(gf, meta_of(c_and_lower[0])), None)
    return vjp


def _cho_solve_jvp(tangents, ans, c_and_lower, b, overwrite_b=False, check_finite=True):
    tcl, tb = tangents[0], tangents[1]
    c, lower, fac = _cho_parts(c_and_lower)
    rhs = tb
    tc = None if tcl is None else tcl[0]
    if tc is not None:
        tf = np.tril(tc) if lower else np.triu(tc)
        ta = tf @ mT(fac) + fac @ mT(tf) if lower else mT(tf) @ fac + mT(fac) @ tf
        tx = ta @ ans
        rhs = -tx if rhs is None else rhs - tx
    return None if rhs is None else sl.cho_solve((c, lower), rhs)


def _lu_parts(lu, piv):
    lu = np.asarray(lu)
    n = lu.shape[-1]
    if lu.shape[-2] != n:
        raise NotImplementedError("framead: LU rules cover square matrices only")
    perm = np.arange(n)
    for i, p in enumerate(np.asarray(piv)):
        perm[i], perm[p] = perm[p], perm[i]
    return np.tril(lu, -1) + np.eye(n), np.triu(lu), perm


def _lu_factor_vjp(g, ans, a, overwrite_a=False, check_finite=True):
    lw, up, perm = _lu_parts(*ans)
    gl = np.asarray(g[0])
    gx = np.tril(mT(lw) @ np.tril(gl, -1), -1) + np.triu(np.triu(gl) @ mT(up))
    gap = np.linalg.solve(mT(lw), mT(np.linalg.solve(up, mT(gx))))  # L^-T gX U^-T
    ga = np.empty_like(gap)
    ga[perm] = gap
    return fit(ga, meta_of(a))


def _lu_factor_jvp(tangents, ans, a, overwrite_a=False, check_finite=True):
    lw, up, perm = _lu_parts(*ans)
    tp = np.asarray(tangents[0])[perm]
    x = mT(np.linalg.solve(mT(up), mT(np.linalg.solve(lw, tp))))  # L^-1 dA' U^-1
    return lw @ np.tril(x, -1) + np.triu(x) @ up, None


def _lu_solve_cot(i):
    def vjp(g, ans, lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
        trans = _trans_code(trans)
        g = np.asarray(g)
        if trans == 2:
            gb = np.conj(sl.lu_solve(lu_and_piv, np.conj(g), trans=0))
        else:
            gb = sl.lu_solve(lu_and_piv, g, trans=1 - trans)
        if i == 1:
            return cot_like(gb, b)
        lw, up, perm = _lu_parts(*lu_and_piv)
        gop = -(np.outer(gb, ans) if is_vec(b) else gb @ mT(ans))
        gap = {0: gop, 1: mT(gop), 2: np.conj(mT(gop))}[trans][perm]
        glu = np.tril(gap @ mT(up), -1) + np.triu(mT(lw) @ gap)
        return (fit(glu, meta_of(lu_and_piv[0])), None)
    return vjp


def _lu_solve_jvp(tangents, ans, lu_and_piv, b, trans=0, overwrite_b=False,
                  check_finite=True):
    trans = _trans_code(trans)
    tlp, tb = tangents[0], tangents[1]
    rhs = tb
    tlu = None if tlp is None else tlp[0]
    if tlu is not None:
        lw, up, perm = _lu_parts(*lu_and_piv)
        tap = np.tril(tlu, -1) @ up + lw @ np.triu(tlu)
        ta = np.empty_like(tap)
        ta[perm] = tap
        tx = _op(ta, trans) @ ans
        rhs = -tx if rhs is None else rhs - tx
    return None if rhs is None else sl.lu_solve(lu_and_piv, rhs, trans=trans)


def _frechet(a, e):
    a, e = np.asarray(a), np.asarray(e)
    if a.ndim == 2:
        return sl.expm_frechet(a, e, compute_expm=False)
    e = np.broadcast_to(e, a.shape)
    out = np.empty(a.shape, np.result_type(a, e))
    for idx in np.ndindex(a.shape[:-2]):
        out[idx] = sl.expm_frechet(a[idx], e[idx], compute_expm=False)
    return out


def _complex_refused(args: tuple, kwargs: dict) -> str | None:
    if any(is_complex(a) for a in args) or is_complex(kwargs.get("dtype", float)):
        return ("scipy.special.psi of a complex argument has no derivative rule "
                "(scipy.special.polygamma is real only)")
    return None


_REAL_ONLY = {sp.psi: _complex_refused}  # (others raise on complex input natively)


def _name(fn):
    return f"scipy.special.{fn.__name__}"


def _sinv_vjp(g, ans, a, *args, assume_a=None, lower=False, **kw):
    """assume_a='sym'/'pos'/'her'/'diagonal'/'... triangular': inv of what scipy reads."""
    return _solve_read_t(inv_vjp(g, ans, a), assume_a, lower)


def _sinv_jvp(tangents, ans, a, *args, assume_a=None, lower=False, **kw):
    t = tangents[0]
    return inv_jvp((None if t is None else _solve_read(t, assume_a, lower),), ans, a)


def _assume_refuses(pos: int, name: str, also: tuple = ()):
    """Refuse the ``assume_a`` (argument ``pos``, or keyword) ``_solve_read`` cannot read, and
    those in ``also``."""
    def refuses(args: tuple, kwargs: dict) -> str | None:
        assume_a = args[pos] if len(args) > pos else kwargs.get("assume_a")
        if assume_a in also:
            return f"{name}(assume_a={assume_a!r}) has no derivative rule"
        kind = complex if args and np.iscomplexobj(args[0]) else float
        try:
            _solve_read(np.zeros((1, 1), kind), assume_a, False)
        except NotImplementedError as e:
            return str(e).removeprefix("framead: ").replace("scipy.linalg.solve", name)
        return None

    return refuses


def _scholesky_vjp(g, ans, a, lower=False, *args, **kw):
    return chol_vjp(g, ans, a, upper=not lower)


def _scholesky_jvp(tangents, ans, a, lower=False, *args, **kw):
    return chol_jvp(tangents, ans, a, upper=not lower)


def _expm_vjp(g, ans, A):
    return cot_like(_frechet(mT(np.asarray(A)), g), A)


def _expm_jvp(tangents, ans, A):
    return _frechet(A, tangents[0])


def _sdet_vjp(g, ans, a, *args, **kw):  # overwrite_a, check_finite
    return det_vjp(g, ans, a)


def _sdet_jvp(tangents, ans, a, *args, **kw):
    return det_jvp(tangents, ans, a)


def _band_transpose(ab, lo, up):
    """The banded storage (bandwidths ``(up, lo)``) of the transpose of ``ab``'s matrix."""
    n = ab.shape[1]
    out = np.zeros_like(ab)
    for d in range(-up, lo + 1):  # A[j + d, j] sits at ab[up + d, j], A^T's at [lo - d, j + d]
        j = np.arange(max(0, -d), min(n, n - d))
        out[lo - d, j + d] = ab[up + d, j]
    return out


def _band_matvec(ab, lo, up, x):
    """``A @ x`` for ``A`` in banded storage (x of shape (n,) or (n, k))."""
    n = ab.shape[1]
    y = np.zeros(x.shape, dtype=np.result_type(ab, x))
    for d in range(-up, lo + 1):
        j = np.arange(max(0, -d), min(n, n - d))
        row = ab[up + d, j]
        y[j + d] += row[:, None] * x[j] if x.ndim > 1 else row * x[j]
    return y


def _band_solve_vjp(g, ans, l_and_u, ab, b, overwrite_ab=False, overwrite_b=False,
                    check_finite=True):
    lo, up = l_and_u
    real_only("scipy.linalg.solve_banded", ab, b, g)
    ab = np.asarray(ab, dtype=float)
    g = np.asarray(g, dtype=float)
    gb = sl.solve_banded((up, lo), _band_transpose(ab, lo, up), g)
    x, gb2 = np.asarray(ans, dtype=float), gb
    if x.ndim == 1:
        x, gb2 = x[:, None], gb[:, None]
    n = ab.shape[1]
    gab = np.zeros(ab.shape)
    for d in range(-up, lo + 1):  # dA[j + d, j] = -sum_k gb[j + d, k] x[j, k]
        j = np.arange(max(0, -d), min(n, n - d))
        gab[up + d, j] = -np.sum(gb2[j + d] * x[j], axis=1)
    return None, gab, gb.reshape(np.shape(b))


def _band_solve_jvp(tangents, ans, l_and_u, ab, b, overwrite_ab=False, overwrite_b=False,
                    check_finite=True):
    lo, up = l_and_u
    tab, tb = (tuple(tangents) + (None,) * 3)[1:3]
    rhs = None if tb is None else np.asarray(tb, dtype=float).reshape(np.shape(ans))
    if tab is not None:
        ta = _band_matvec(np.asarray(tab, dtype=float), lo, up, np.asarray(ans, dtype=float))
        rhs = -ta if rhs is None else rhs - ta
    return None if rhs is None else sl.solve_banded((lo, up), ab, rhs)


def _complex(name):  # (the real-only rules: refused at the call, FA101)
    return lambda a: is_complex(a) and f"scipy.linalg.{name} of a complex matrix has no " \
        "derivative rule"


_SOLVES = {0: (0, ANS), 1: (0,)}
RULES = [  # (function, vjp, jvp, saves, more metadata)
    (sp.logsumexp, (_lse_cot(0), None, _lse_cot(2)), _lse_jvp,
     {0: (0, 2, ANS), 2: (0, 2, ANS)}, {"multi": True}),
    (sp.softmax, (_softmax_vjp,), _softmax_jvp, {0: (ANS,)}, {}),
    (sp.log_softmax, (_log_softmax_vjp,), _log_softmax_jvp, {0: (ANS,)}, {}),
    (sl.solve, (_ssolve_cot(0), _ssolve_cot(1)), _ssolve_jvp, _SOLVES,
     {"refuses": _assume_refuses(6, "scipy.linalg.solve")}),
    (sl.solve_triangular, (_tri_cot(0), _tri_cot(1)), _tri_jvp, _SOLVES, {}),
    (sl.cho_factor, (_cho_factor_vjp,), _cho_factor_jvp, {0: (ANS,)},
     {"multi": True, "refuses": {"a": _complex("cho_factor")}}),
    (sl.cho_solve, (_cho_solve_cot(0), _cho_solve_cot(1)), _cho_solve_jvp, _SOLVES,
     {"containers": (0,), "refuses": {"c_and_lower": lambda c: _complex("cho_solve")(c[0])}}),
    (sl.lu_factor, (_lu_factor_vjp,), _lu_factor_jvp, {0: (ANS,)},
     {"multi": True, "refuses": {"a": lambda a: (np.ndim(a) < 2 or not_square(a)) and
                                 "scipy.linalg.lu_factor of a non-square matrix (or a 1-d "
                                 "array, factored as a column) has no derivative rule"}}),
    (sl.lu_solve, (_lu_solve_cot(0), _lu_solve_cot(1)), _lu_solve_jvp, _SOLVES,
     {"containers": (0,)}),
    (sl.expm, (_expm_vjp,), _expm_jvp, {0: (0,)}, {}),
    # (SciPy 1.17's inv(assume_a='diagonal') returns the off-diagonal entries as they are)
    (sl.inv, (_sinv_vjp,), _sinv_jvp, {0: (ANS,)},
     {"refuses": _assume_refuses(99, "scipy.linalg.inv", ("diagonal",))}),
    (sl.det, (_sdet_vjp,), _sdet_jvp, {0: (0, ANS)}, {}),
    (sl.cholesky, (_scholesky_vjp,), _scholesky_jvp, {0: (ANS,)}, {}),
    (sl.solve_banded, _band_solve_vjp, _band_solve_jvp, {1: (1, ANS), 2: (1, ANS)},
     {"nondiff": (0,), "refuses": {"ab": _complex("solve_banded"),
                                   "b": _complex("solve_banded")}}),
]


def install() -> None:
    """Register every rule whose function has none yet (a user's own rule wins)."""
    for fn, d in UNARY:
        if lookup(fn) is None:
            defunary(fn, d, name=_name(fn), refuses=_REAL_ONLY.get(fn))
    for fn, dx, dy in BINARY:
        if lookup(fn) is None:
            defbinary(fn, dx, dy, name=_name(fn))
    for fn, dx in ORDER_FIRST:
        if lookup(fn) is None:
            defbinary(fn, None, dx, nondiff=(0,), name=_name(fn),
                      hazard=order_hazard(_name(fn)))
    for fn, vjp, jvp, saves, spec in RULES:
        if lookup(fn) is None:
            register(fn, vjp=vjp, jvp=jvp, saves=saves, name=public_name(fn), **spec)
