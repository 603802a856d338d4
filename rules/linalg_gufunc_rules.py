"""Rules for the gufuncs of ``numpy.linalg._umath_linalg`` that NumPy's own Python code calls
directly (so a capture sees them): ``svd`` (singular values only: ``cond`` on NumPy >= 2.5,
``svd(compute_uv=False)``), ``svd_s``/``svd_f`` (reduced/full SVD), ``inv`` (``cond`` with a
norm order other than None/2/-2), ``det``, ``slogdet``, ``solve`` and ``solve1``; and
``ndarray.__array_wrap__`` (``tensorsolve`` on NumPy >= 2.5 wraps its result with it), an
identity on the data. Installed by ``linalg_rules``.

The gufuncs' loop dimensions broadcast (cotangents are summed back); their core dimensions are
the last ones. ``axes=``/``axis=`` (core dimensions elsewhere) are refused at capture (FA101),
as is the full SVD of a non-square matrix (its extra singular vectors are not unique).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.linalg import _umath_linalg as ul

from . import triangular as tri
from .linalg_factor_rules import svd_jvp, svd_vjp
from .linalg_rules import (
    _slogdet_jvp,
    _slogdet_vjp,
    _solve_jvp,
    _solve_vjp,
    det_jvp,
    det_vjp,
    inv_jvp,
    inv_vjp,
)
from .matrices import cot_like, mT, outer_last
from .registry import ANS, register, register_method
from .shapes import add_tangents, fit, meta_of, shape_of

PREFIX = "np.linalg._umath_linalg."


def _core_refusal(name: str):
    """Refuses ``axes=``/``axis=`` (core dimensions not last)."""
    def refuses(args: tuple, kwargs: dict) -> str | None:
        for k in ("axes", "axis"):
            if kwargs.get(k) is not None:
                return (f"{PREFIX}{name} with {k}= (core dimensions not last) has no "
                        "derivative rule")
        return None
    return refuses


# --- singular values, SVD --------------------------------------------------------------------

def _finite(x):
    """(x with every matrix holding a NaN or an infinity zeroed, mask of the other matrices):
    the gufunc gives NaN singular values there (NumPy 2.5's ``cond``: NaN, not an error),
    where ``la.svd`` in the derivative would raise; their derivatives are NaN (zero for a
    zero cotangent or tangent)."""
    x = np.asarray(x)
    ok = np.all(np.isfinite(x), axis=(-2, -1), keepdims=True)
    return np.where(ok, x, 0), ok


def _svals_vjp(g, ans, x, **kw):
    """U diag(g) V^H (conjugated: JAX's convention) of the reduced SVD of each matrix."""
    xf, ok = _finite(x)
    g = np.asarray(g)
    lost = np.where(np.any(g != 0, axis=-1)[..., None, None], np.nan, 0.0)
    return cot_like(np.where(ok, svd_vjp(g, None, xf, False, False), lost), x)


def _svals_jvp(tangents, ans, x, **kw):
    xf, ok = _finite(x)
    t = np.asarray(tangents[0])
    lost = np.where(np.any(t != 0, axis=(-2, -1))[..., None], np.nan, 0.0)
    return np.where(ok[..., 0], svd_jvp((t,), None, xf, False, False), lost)


def _svd_rules(full: bool):
    def vjp(g, ans, x, **kw):
        return svd_vjp(g, tuple(ans), x, full, True)

    def jvp(tangents, ans, x, **kw):
        return svd_jvp(tangents[:1], tuple(ans), x, full, True)

    return vjp, jvp


# --- solve with one right-hand side per matrix (stacked) -------------------------------------

def _solve1_vjp(g, ans, a, b, **kw):
    """x = A^-1 b (vectors, stacked): b's cotangent A^-T g, A's minus its outer product with
    x; both summed over the loop dimensions the argument was broadcast along."""
    gb = tri.solve(mT(np.asarray(a)), np.asarray(g), True)
    return cot_like(-outer_last(gb, ans), a), cot_like(gb, b)


def _solve1_jvp(tangents, ans, a, b, **kw):
    ta, tb = (tuple(tangents) + (None,))[:2]
    rhs = add_tangents((tb, None if ta is None else -(ta @ np.asarray(ans)[..., None])[..., 0]))
    return None if rhs is None else tri.solve(np.asarray(a), rhs, True)


def _solve_stack_vjp(g, ans, a, b, **kw):
    ga, gb = _solve_vjp(g, ans, a, b)
    return cot_like(ga, a), cot_like(gb, b)


# --- ndarray.__array_wrap__ ------------------------------------------------------------------

def _wrap_vjp(g, ans, obj, arr, *rest, **kw):
    """The data of ``arr`` as ``obj``'s class (a NumPy scalar with ``return_scalar``)."""
    return fit(np.reshape(np.asarray(g), shape_of(arr)), meta_of(arr))


def _wrap_jvp(tangents, ans, obj, arr, *rest, **kw):
    t = tangents[1] if len(tangents) > 1 else None
    return None if t is None else np.asarray(t)


def _one(f):
    """A per-argument VJP of a one-argument gufunc (keywords such as ``signature`` ignored)."""
    def vjp(g, ans, x, **kw):
        return f(g, ans, x)
    return vjp


def _one_jvp(f):
    def jvp(tangents, ans, x, **kw):
        return f(tangents[:1], ans, x)
    return jvp


def _quiet_matrices(d):
    """A derivative through each matrix's inverse that is 0 where the matrix's cotangent or
    tangent is 0: a singular matrix's NaN inverse (``cond`` inverts under all="ignore")
    reaches only the derivatives it is used in."""
    def zero(t):
        return ~np.any(np.asarray(t) != 0, axis=(-2, -1), keepdims=True)

    def vjp(g, ans, x, **kw):
        z = zero(g)
        return np.where(z, 0, d[0](np.where(z, 0, g), np.where(z, 0, ans), x))

    def jvp(tangents, ans, x, **kw):
        z = zero(tangents[0])
        return np.where(z, 0, d[1]((np.where(z, 0, tangents[0]),), np.where(z, 0, ans), x))
    return vjp, jvp


# (gufunc, name, vjp, jvp, saves, multi, refusal)
GUFUNC_RULES: list[tuple[Any, ...]] = [
    (ul.svd, "svd", (_svals_vjp,), _svals_jvp, {0: (0,)}, False, _core_refusal("svd")),
    (ul.svd_s, "svd_s", (_svd_rules(False)[0],), _svd_rules(False)[1], {0: (0, ANS)}, True,
     _core_refusal("svd_s")),
    (ul.svd_f, "svd_f", (_svd_rules(True)[0],), _svd_rules(True)[1], {0: (0, ANS)}, True,
     _core_refusal("svd_f")),
    (ul.inv, "inv", (_quiet_matrices((inv_vjp, inv_jvp))[0],),
     _quiet_matrices((inv_vjp, inv_jvp))[1], {0: (ANS,)}, False,
     _core_refusal("inv")),
    (ul.det, "det", (_one(det_vjp),), _one_jvp(det_jvp), {0: (0, ANS)}, False,
     _core_refusal("det")),
    (ul.slogdet, "slogdet", (_one(_slogdet_vjp),), _one_jvp(_slogdet_jvp), {0: (0, ANS)}, True,
     _core_refusal("slogdet")),
    (ul.solve, "solve", _solve_stack_vjp,
     lambda ts, ans, a, b, **kw: _solve_jvp(ts, ans, a, b), {0: (0, ANS), 1: (0, ANS)}, False,
     _core_refusal("solve")),
    (ul.solve1, "solve1", _solve1_vjp, _solve1_jvp, {0: (0, ANS), 1: (0, ANS)}, False,
     _core_refusal("solve1")),
]


def install() -> None:
    for fn, name, vjp, jvp, saves, multi, refuses in GUFUNC_RULES:
        register(fn, vjp=vjp, jvp=jvp, saves=saves, multi=multi, name=PREFIX + name,
                 refuses=refuses)
    register_method(np.ndarray, "__array_wrap__", vjp=(None, _wrap_vjp), jvp=_wrap_jvp,
                    saves={1: ()}, nondiff=(0,), aliases={0: 1})
