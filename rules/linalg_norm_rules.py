"""Rules for ``np.linalg.norm``, ``vector_norm`` and ``matrix_norm`` (every ``ord``, axes,
``keepdims``; complex inputs in JAX's convention). Ties in the max/min orders (``inf``, ``1``
of matrices...) share the cotangent evenly. Installed with ``linalg_rules``."""

from __future__ import annotations

import numpy as np

from .families import no_cotangent_no_nan
from .formulas import abs_dx
from .matrices import outer_last
from .registry import ANS
from .shapes import fit, meta_of, shape_of

la = np.linalg


def _share(mask, axes):
    """Split a tie mask evenly along ``axes`` (max/min cotangents)."""
    return mask / np.sum(mask, axis=axes, keepdims=True)


def _vector_dir(x, n, ord, axes):
    """d norm / dx (JAX convention: the cotangent for g = 1), ``n`` expanded like ``x``."""
    ax = np.abs(x)
    if ord is None or ord == 2:
        return np.divide(np.conj(x), n, out=np.zeros_like(x, dtype=np.result_type(x, float)),
                         where=n != 0)
    if ord == 0:
        return np.zeros_like(x)
    if ord == 1:
        return abs_dx(x)
    if np.isinf(ord):
        return abs_dx(x) * _share(np.equal(ax, n), axes)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(ax == 0, 0.0, np.abs(np.divide(ax, n)) ** (ord - 1))
    return abs_dx(x) * r


def _matrix_dir(x, n, ord, axes):
    r, c = axes
    if ord in (None, "fro"):
        return _vector_dir(x, n, None, axes)
    if ord in ("nuc", 2, -2):
        xm = np.moveaxis(x, (r, c), (-2, -1))
        u, _, vh = la.svd(xm, full_matrices=False)
        if ord == "nuc":
            d = np.conj(u @ vh)
        else:
            k = 0 if ord == 2 else -1
            d = np.conj(outer_last(u[..., :, k], vh[..., k, :]))
        return np.moveaxis(d, (-2, -1), (r, c))
    if ord in (1, -1, np.inf, -np.inf):
        summed = c if ord in (np.inf, -np.inf) else r  # inf: row sums; 1: column sums
        other = r if summed == c else c
        sums = np.sum(np.abs(x), axis=summed, keepdims=True)
        return abs_dx(x) * _share(np.equal(sums, n), (other,))
    raise ValueError(f"framead: invalid norm order {ord!r} for matrices")


def _norm_axes(x, ord, axis):
    """(axes reduced, matrix?) as np.linalg.norm decides."""
    nd = len(shape_of(x))
    if axis is None:
        if ord is None or nd == 1:
            return tuple(range(nd)), False
        return (0, 1), True
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    axes = tuple(int(a) % nd for a in axes)
    return axes, len(axes) == 2


def _norm_dir(x, ans, ord, axis, keepdims, matrix=None):
    x = np.asarray(x)
    axes, is_matrix = _norm_axes(x, ord, axis)
    if matrix is not None:
        is_matrix = matrix
    n = np.asarray(ans)
    if not keepdims:
        n = np.expand_dims(n, tuple(sorted(axes)))
    if is_matrix:
        return _matrix_dir(x, n, ord, axes), axes
    return _vector_dir(x, n, ord, axes), axes


def _expand(g, axes, keepdims):
    g = np.asarray(g)
    return g if keepdims else np.expand_dims(g, tuple(sorted(axes)))


def _norm_vjp(g, ans, x, ord=None, axis=None, keepdims=False):
    d, axes = _norm_dir(x, ans, ord, axis, keepdims)
    ge = _expand(g, axes, keepdims)  # (a norm the loss does not read: 0, not 0 * NaN)
    return fit(no_cotangent_no_nan(ge * d, ge), meta_of(x))


def _norm_jvp(tangents, ans, x, ord=None, axis=None, keepdims=False):
    d, axes = _norm_dir(x, ans, ord, axis, keepdims)
    return np.real(np.sum(d * tangents[0], axis=axes, keepdims=keepdims))


def _vnorm_args(x, axis, ord):
    if axis is None:
        axis = tuple(range(len(shape_of(x))))
    return (2 if ord is None else ord), axis


def _vector_norm_vjp(g, ans, x, *, axis=None, keepdims=False, ord=2):
    ord, axis = _vnorm_args(x, axis, ord)
    d, axes = _norm_dir(x, ans, ord, axis, keepdims, matrix=False)
    ge = _expand(g, axes, keepdims)
    return fit(no_cotangent_no_nan(ge * d, ge), meta_of(x))


def _vector_norm_jvp(tangents, ans, x, *, axis=None, keepdims=False, ord=2):
    ord, axis = _vnorm_args(x, axis, ord)
    d, axes = _norm_dir(x, ans, ord, axis, keepdims, matrix=False)
    return np.real(np.sum(d * tangents[0], axis=axes, keepdims=keepdims))


def _matrix_norm_vjp(g, ans, x, *, keepdims=False, ord="fro"):
    return _norm_vjp(g, ans, x, ord, (-2, -1), keepdims)


def _matrix_norm_jvp(tangents, ans, x, *, keepdims=False, ord="fro"):
    return _norm_jvp(tangents, ans, x, ord, (-2, -1), keepdims)


# (function, vjp, jvp, saves, multi[, nondiff]), as linalg_rules.RULES
NORM_RULES = [
    (la.norm, (_norm_vjp,), _norm_jvp, {0: (0, 1, ANS)}, False, (1,)),
    (la.vector_norm, (_vector_norm_vjp,), _vector_norm_jvp, {0: (0, ANS)}, False),
    (la.matrix_norm, (_matrix_norm_vjp,), _matrix_norm_jvp, {0: (0, ANS)}, False),
]
