"""Triangular solves of the linear-algebra rules without SciPy: ``triangle`` says whether a
matrix (stack) is exactly triangular, ``tri_solve`` solves with it.

NumPy has no triangular solver (``np.linalg.solve`` runs a general LU factorization,
2/3 n^3 flops for one right-hand side). The blocked solve here costs about n^3 / 3 flops for
an n x n right-hand side and a few leaf inverses for a vector (n = 400: ~0.3 ms against
LU's ~2 ms). ``scipy.linalg.solve_triangular`` is used where SciPy is already loaded;
importing it here would cost a first call ~150 ms and ~45 MB.
"""

from __future__ import annotations

import functools
import sys

import numpy as np

from .matrices import solve_vec

la = np.linalg

TRI_LEAF = 32  # blocks this small are inverted whole (one LAPACK call, then a product)
MIN_N = 64  # smaller matrices: LU is as cheap as the blocked solve and the check


def triangle(a) -> bool | None:
    """True where the (stack of) square matrices ``a`` is exactly lower triangular, False
    where exactly upper (and not lower), None otherwise or where it is too small for a
    blocked solve to pay (n <= MIN_N). Reads blocks in place (no n x n temporary)."""
    if type(a) is not np.ndarray or a.ndim < 2 or a.shape[-1] != a.shape[-2] or \
            a.shape[-1] <= MIN_N or a.dtype.kind not in "fc":
        return None
    if not np.any(a[..., 0, 1:]) and _zero_above(a):
        return True
    if not np.any(a[..., 1:, 0]) and _zero_above(np.swapaxes(a, -1, -2)):
        return False
    return None


def _zero_above(a) -> bool:
    """Whether the strict upper triangle of ``a`` (stack) is all zero, by halves: the
    upper-right block, then the two diagonal blocks."""
    n = a.shape[-1]
    if n <= MIN_N:
        return not a[..., _above(n)].any()
    h = n // 2
    return not a[..., :h, h:].any() and _zero_above(a[..., :h, :h]) and \
        _zero_above(a[..., h:, h:])


@functools.lru_cache(maxsize=MIN_N + 1)
def _above(n: int):
    """The mask of an n x n matrix's strict upper triangle."""
    return np.triu(np.ones((n, n), bool), 1)


def tri_solve(t, b, lower, vec=False):
    """``solve(t, b)`` for an exactly triangular ``t`` (``lower``: lower; its other triangle
    must be zero: the blocks' leaves read it) and a matrix (stack) ``b``, or a vector (stack)
    where ``vec``."""
    sl = sys.modules.get("scipy.linalg")
    if sl is not None and t.ndim == 2 and b.ndim == (1 if vec else 2):
        return sl.solve_triangular(t, b, lower=lower, check_finite=False)
    if vec:
        return tri_solve(t, b[..., None], lower)[..., 0]
    x = np.array(np.broadcast_to(b, (*np.broadcast_shapes(t.shape[:-2], b.shape[:-2]),
                                     *b.shape[-2:])), dtype=np.result_type(t, b, 1.0))
    _tri_solve_into(t, x, lower)
    return x


def solve(a, b, vec=False):
    """``np.linalg.solve(a, b)`` (``b`` a vector (stack) where ``vec``), by a triangular
    solve where ``a`` is exactly triangular (the cotangents and tangents of solves with a
    Cholesky factor)."""
    lower = triangle(a)
    if lower is not None:
        return tri_solve(a, b, lower, vec)
    return solve_vec(a, b) if vec else la.solve(a, b)


def _tri_solve_into(t, x, lower):
    """``x = solve(t, x)`` in place, recursively by halves: the off-diagonal block's product
    is subtracted from the other half of ``x`` (LAPACK's blocked triangular solve)."""
    n = t.shape[-1]
    if n <= TRI_LEAF:
        x[...] = la.inv(t) @ x
        return
    h = n // 2
    first, second = (slice(None, h), slice(h, None)) if lower else \
        (slice(h, None), slice(None, h))
    _tri_solve_into(t[..., first, first], x[..., first, :], lower)
    x[..., second, :] -= t[..., second, first] @ x[..., first, :]
    _tri_solve_into(t[..., second, second], x[..., second, :], lower)


def lower_of_product(u, b):
    """A matrix (stack) whose lower triangle (diagonal included) is that of ``u @ b`` for an
    exactly upper triangular ``u`` (the leaves read its whole blocks; the result's strict
    upper triangle is not that of ``u @ b``): the blocks above the diagonal are never formed, a
    third of a full product's flops (the Cholesky adjoint's ``tril(L^H G)``)."""
    shape = (*np.broadcast_shapes(u.shape[:-2], b.shape[:-2]), *b.shape[-2:])
    out = np.empty(shape, np.result_type(u, b))
    _lower_into(u, b, out)
    return out


def _lower_into(u, b, out):
    """out's lower triangle := that of u @ b (u upper): [[U11 B11 + U12 B21, .], [U22 B21,
    U22 B22]], the diagonal blocks by halves."""
    n = u.shape[-1]
    if n <= MIN_N:
        np.matmul(u, b, out=out)
        return
    h = n // 2
    _lower_into(u[..., :h, :h], b[..., :h, :h], out[..., :h, :h])
    out[..., :h, :h] += u[..., :h, h:] @ b[..., h:, :h]
    np.matmul(u[..., h:, h:], b[..., h:, :h], out=out[..., h:, :h])
    _lower_into(u[..., h:, h:], b[..., h:, h:], out[..., h:, h:])
