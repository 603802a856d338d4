"""The rule library beyond the core tables of test_rules.py: np.linalg, products and einsum,
shape/gather functions, statistics and scans, sequences, np.fft, math/cmath/operator
additions and SciPy, each against finite differences with ``rules.check``.

``CASES`` holds representative inputs for every rule these modules register (and for the
core modules' newer entries); ``test_every_library_rule_has_a_case`` fails when any library
rule, core included, has no case in this file or in test_rules.py. Hypothesis then varies
shapes (broadcasting, 0-d and empty arrays), axes, orders, subscripts and transform lengths
family by family.
"""

from __future__ import annotations

import cmath
import math
import operator
import string
import subprocess
import sys
import warnings

import framead.rules as R
import numpy as np
import pytest
from framead.rules import fft_rules, math_rules
from framead.rules import mutation_rules as M
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_linalg_numpy25 import GUFUNC_CASES

try:
    import scipy.linalg as sl
    import scipy.special as sp
except ImportError:  # pragma: no cover - scipy is a test dependency
    sl = sp = None
R.install_optional()  # what capture does before each trace: SciPy's rules, now it is imported

rng = np.random.default_rng(20240611)
HYP = settings(max_examples=25, deadline=None)
la, F, nd = np.linalg, np.fft, np.ndarray


def U(*shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, shape)


def C(*shape):
    return U(*shape) + 1j * U(*shape)


def P(*shape):
    return U(*shape, lo=0.3, hi=2.0)


def spd(n, batch=()):
    a = U(*batch, n, n)
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


X = U(3, 4)
XN = X.copy()
XN[0, 1] = XN[2, 3] = np.nan
ZEROS = np.array([[0.5, 0.0, 1.5, 2.0], [1.2, -0.7, 0.0, 0.0], [0.3, 0.9, 1.1, -1.4]])
A = U(3, 3) + 3 * np.eye(3)
AB = U(2, 3, 3) + 3 * np.eye(3)
AC = C(3, 3) + 3 * np.eye(3)
SPD, HPD = spd(3), AC @ AC.conj().T
SEPARATED = np.diag([1.0, 2.5, 4.0]) + 0.1 * U(3, 3)  # eigenvalues well apart
XP, FP = np.array([0.0, 0.5, 1.3, 2.0]), U(4)
B3, B32 = U(3), U(3, 2)
attr = R.lookup_attr
ROW_STACK = [f for f in [getattr(np, "row_stack", None)] if f]  # removed in NumPy 2.5


def _cross_takes_2d() -> bool:
    """np.cross of 2-element vectors: deprecated in NumPy 2.0, an error since 2.5."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            np.cross(np.ones(2), np.ones(2))
        except ValueError:
            return False
    return True


CROSS_2D = _cross_takes_2d()

LINALG_CASES = [
    (la.solve, (A, B32), {}), (la.solve, (A, B3), {}), (la.solve, (AB, B3), {}),
    (la.solve, (AB, U(2, 3, 2)), {}), (la.solve, (AC, B3 + 0j), {}),
    (la.inv, (A,), {}), (la.inv, (AB,), {}), (la.inv, (AC,), {}),
    (la.det, (A,), {}), (la.det, (AB,), {}), (la.det, (AC,), {}),
    (la.slogdet, (A,), {}), (la.slogdet, (-A,), {}), (la.slogdet, (AC,), {}),
    (la.matrix_power, (A, 3), {}), (la.matrix_power, (A, -2), {}), (la.matrix_power, (A, 0), {}),
    (la.cholesky, (SPD,), {}), (la.cholesky, (SPD,), {"upper": True}),
    (la.cholesky, (HPD,), {}), (la.cholesky, (HPD,), {"upper": True}),
    (la.cholesky, (np.stack([SPD, 2 * SPD]),), {}),
    (la.eigh, (SEPARATED,), {}), (la.eigh, (SEPARATED,), {"UPLO": "U"}),
    (la.eigvalsh, (SPD,), {}), (la.eigvalsh, (HPD,), {}), (la.eigvalsh, (HPD, "U"), {}),
    (la.eig, (A,), {}), (la.eig, (AC,), {}), (la.eigvals, (A,), {}), (la.eigvals, (AB,), {}),
    (la.svd, (SEPARATED,), {}), (la.svd, (U(4, 3),), {"full_matrices": False}),
    (la.svd, (U(3, 4),), {"full_matrices": False}), (la.svd, (U(4, 3),), {"compute_uv": False}),
    (la.svd, (AC,), {"compute_uv": False}), (la.svdvals, (U(2, 3),), {}),
    (la.qr, (A,), {}), (la.qr, (U(4, 3),), {}), (la.qr, (U(3, 5),), {}),
    (la.qr, (U(4, 3),), {"mode": "r"}), (la.qr, (U(3, 3),), {"mode": "complete"}),
    (la.pinv, (U(4, 3),), {}), (la.pinv, (U(3, 4),), {}), (la.pinv, (C(3, 2),), {}),
    (la.lstsq, (U(5, 3), U(5)), {}), (la.lstsq, (U(5, 3), U(5, 2)), {}),
    (la.lstsq, (A, B3), {}),
    (la.norm, (U(3),), {}), (la.norm, (X,), {}), (la.norm, (X,), {"axis": 1}),
    (la.norm, (X, 1), {}), (la.norm, (X, 2), {}), (la.norm, (X, -2), {}),
    (la.norm, (X, "nuc"), {}), (la.norm, (X, np.inf), {}), (la.norm, (X, -np.inf), {}),
    (la.norm, (X, -1), {}), (la.norm, (X, "fro"), {}), (la.norm, (U(4), 3), {}),
    (la.norm, (U(4), 1), {}), (la.norm, (U(4), np.inf), {}), (la.norm, (U(4), 0.5), {}),
    (la.norm, (U(4), 0), {}), (la.norm, (C(4),), {}), (la.norm, (C(2, 3), "nuc"), {}),
    (la.norm, (U(2, 3, 4),), {"axis": (0, 2), "keepdims": True}),
    (la.norm, (U(2, 3, 4), 2, (2, 0)), {}), (la.norm, (U(2, 3, 4),), {"axis": -1}),
    (la.vector_norm, (X,), {}), (la.vector_norm, (X,), {"axis": 0, "ord": 1}),
    (la.matrix_norm, (U(2, 2, 3),), {}), (la.matrix_norm, (U(2, 2, 3),), {"ord": 2}),
    (attr(nd, "mT"), (U(2, 3, 4),), {}),
]

PRODUCT_CASES = [
    (np.einsum, ("ij,jk->ik", U(2, 3), U(3, 4)), {}), (np.einsum, ("ii->", U(3, 3)), {}),
    (np.einsum, ("ii->i", U(3, 3)), {}), (np.einsum, ("ii", U(3, 3)), {}),
    (np.einsum, ("ij->", U(2, 3)), {}), (np.einsum, ("ij,j", U(2, 3), U(3)), {}),
    (np.einsum, ("...ij,...jk->...ik", U(2, 2, 3), U(3, 2)), {}),
    (np.einsum, ("i,i->i", U(1), U(3)), {}), (np.einsum, ("...i,...i", U(2, 1, 3), U(4, 3)), {}),
    (np.einsum, ("bij,bjk,bkl->bil", U(2, 2, 3), U(2, 3, 2), U(2, 2, 2)), {}),
    (np.einsum, ("iij->j", U(2, 2, 3)), {}), (np.einsum, ("i,j->ij", C(2), C(3)), {}),
    (np.einsum, ("ba,ab", U(2, 3), U(3, 2)), {}),
    (np.einsum, (U(2, 3), [0, 1], U(3), [1], [0]), {}),
    (np.einsum, (U(2, 3), [Ellipsis, 1], U(3), [1]), {}),
    (np.einsum, ("ij,jk", U(2, 3), U(3, 4)), {"optimize": True}),
    (np.tensordot, (U(2, 3, 4), U(3, 4, 2)), {}),
    (np.tensordot, (U(2, 3, 4), U(4, 3)), {"axes": ([1, 2], [1, 0])}),
    (np.tensordot, (U(2, 3), U(3, 2), 1), {}), (np.tensordot, (U(2, 3), U(4), 0), {}),
    (la.tensordot, (U(2, 3), U(3, 2)), {"axes": 1}),
    (np.outer, (U(3), U(2, 2)), {}), (np.outer, (C(3), C(2)), {}), (la.outer, (U(3), U(2)), {}),
    (np.kron, (U(2, 3), U(2, 2)), {}), (np.kron, (U(3), U(2, 2)), {}),
    (np.kron, (U(1, 3), U(2, 1)), {}), (np.kron, (C(2), C(3)), {}),
    (np.vecdot, (U(2, 3), U(3)), {}), (np.vecdot, (C(2, 3), C(3)), {}),
    (la.vecdot, (C(2, 3), C(2, 3)), {}), (np.matvec, (U(2, 3, 4), U(4)), {}),
    (np.vecmat, (C(3), C(2, 3, 4)), {}), (np.vdot, (C(2, 2), C(4)), {}),
    (np.vdot, (U(3), U(3)), {}), (np.inner, (U(2, 3), U(4, 3)), {}), (np.inner, (B3, B3), {}),
    (np.inner, (U(2, 3), 2.5), {}), (np.inner, (C(3), C(3)), {}),
    (np.cross, (B3, U(3)), {}), (np.cross, (U(2, 3), B3), {}),
    *([(np.cross, (U(2), U(2)), {}), (np.cross, (U(4, 2), B3), {})] if CROSS_2D else []),
    (np.cross, (U(3, 2), U(3, 2)), {"axis": 0}),
    (np.cross, (U(3, 4), U(4, 3)), {"axisa": 0, "axisc": 0}), (la.cross, (U(2, 3), U(2, 3)), {}),
    (la.multi_dot, ([U(2, 3), U(3, 4), U(4, 2)],), {}),
    (la.multi_dot, ([U(3), U(3, 4), U(4)],), {}), (la.matmul, (U(2, 3), B3), {}),
]

SHAPE_CASES = [
    # copy.copy(x) / copy.deepcopy(x) of arrays and NumPy scalars
    (np.ndarray.__copy__, (X,), {}), (np.ndarray.__deepcopy__, (X, {}), {}),
    (np.generic.__copy__, (np.float64(0.7),), {}),
    (np.generic.__deepcopy__, (np.float64(-1.3), {}), {}),
    (np.take, (X, [0, 2, 2]), {}), (np.take, (X, [[0, 1], [1, 1]]), {"axis": 1}),
    (np.take, (X, [5, -1, 17]), {"mode": "wrap"}), (np.take, (X, [1, 9]), {"mode": "clip"}),
    (np.take_along_axis, (X, np.array([[0, 0, 1, 2]]), 0), {}),
    (np.take_along_axis, (U(5), np.array([4, 0, 0]), None), {}),
    (np.repeat, (X, 2), {}), (np.repeat, (X, [1, 0, 2, 1]), {"axis": 1}),
    (np.tile, (X, (2, 1, 2)), {}), (np.tile, (U(3), 2), {}),
    (np.diag, (U(3),), {}), (np.diag, (U(3), 1), {}), (np.diag, (X, -1), {}),
    (np.diagflat, (U(2, 2), 1), {}), (np.diagonal, (U(2, 3, 4), 1, 0, 2), {}),
    (np.triu, (X,), {}), (np.tril, (U(2, 3, 3), -1), {}), (np.triu, (U(3),), {}),
    (np.delete, (X, 1, 1), {}), (np.delete, (X, [0, 3]), {}), (np.resize, (U(3), (2, 4)), {}),
    (np.rot90, (X,), {}), (np.rot90, (U(2, 3, 2), 2, (1, 2)), {}), (np.roll, (X, 1), {}),
    (np.roll, (X, (1, -1), (0, 1)), {}), (np.fliplr, (X,), {}), (np.flipud, (X,), {}),
    (np.compress, ([True, False, True], X, 0), {}), (np.extract, (X > 0, X), {}),
    (nd.take, (X, [1, 1]), {}), (nd.repeat, (X, 2, 0), {}), (nd.diagonal, (X,), {"offset": 1}),
    (nd.compress, (X, [1, 0, 1, 1], 1), {}),
    (np.pad, (X, 1), {}), (np.pad, (X, ((1, 0), (2, 1))), {"mode": "edge"}),
    (np.pad, (X, 2, "reflect"), {}), (np.pad, (X, 3, "symmetric"), {}),
    (np.pad, (X, (2, 4), "wrap"), {}), (np.pad, (X, 1), {"constant_values": 5.0}),
    (np.squeeze, (U(1, 3, 1),), {}), (np.squeeze, (U(1, 3, 1), 2), {}),
    (np.expand_dims, (X, (0, 3)), {}), (np.broadcast_to, (U(4), (3, 4)), {}),
    (np.swapaxes, (U(2, 3, 4), 0, 2), {}), (np.moveaxis, (U(2, 3, 4), [0, 1], [2, 0]), {}),
    (np.flip, (X,), {}), (np.flip, (X, 1), {}), (nd.squeeze, (U(1, 3),), {}),
    (nd.swapaxes, (X, 0, 1), {}), (nd.clip, (X, -0.5, 0.5), {}),
    (np.hstack, ([X, U(3, 2)],), {}), (np.hstack, ((U(3), U(2), 0.5),), {}),
    (np.vstack, ([X, U(4)],), {}), (np.vstack, ((0.5, U(1)),), {}),
    (np.dstack, ([X, X],), {}), (np.dstack, ([U(3), U(3)],), {}),
    (np.column_stack, ((U(3), U(3, 2)),), {}),
    *[(f, ([U(2), U(2)],), {}) for f in ROW_STACK],
    (np.split, (U(6), 3), {}), (np.split, (U(2, 5), [1, 3], 1), {}),
    (np.array_split, (U(7), 3), {}), (np.hsplit, (U(2, 4), 2), {}),
    (np.vsplit, (U(4, 2), [1]), {}), (np.dsplit, (U(1, 2, 4), 2), {}),
    (np.unstack, (X,), {}), (np.unstack, (X,), {"axis": 1}),
    (np.append, (X, U(3)), {}), (np.append, (X, U(1, 4), 0), {}),
    (np.atleast_1d, (0.5,), {}), (np.atleast_2d, (U(3),), {}), (np.atleast_3d, (X,), {}),
    (np.atleast_1d, (X, U(2)), {}), (np.rollaxis, (U(2, 3, 4), 2), {}),
    (np.asfortranarray, (X,), {}), (np.broadcast_arrays, (U(4), U(3, 1)), {}),
    (np.full, ((2, 3), 0.7), {}), (np.full, ((2, 3), U(3)), {}), (np.full_like, (X, 0.5), {}),
    (np.unwrap, (np.cumsum(U(6) * 3),), {}), (np.real_if_close, (X + 0.5j,), {}),
    (np.real_if_close, (X,), {}),
    (np.sort, (X,), {}), (np.sort, (X, 0), {}), (np.sort, (X, None), {}), (np.sort, (C(4),), {}),
    (np.partition, (X, 1), {}), (np.partition, (X, [0, 2], None), {}),
    (nd.partition, (X, 2, 0), {}),
    (np.choose, (np.array([0, 1, 0, 2]), [U(4), U(4), U(1)]), {}),
    (np.choose, (np.array([[0, 1], [1, 0]]), U(2, 2)), {"mode": "clip"}),
    (np.meshgrid, (U(2), U(3)), {}), (np.meshgrid, (U(2), U(3), U(2)), {"indexing": "ij"}),
    (np.meshgrid, (U(2), U(3)), {"sparse": True}),
    (np.linspace, (0.5, 2.5, 5), {}), (np.linspace, (U(2), U(3, 1), 4), {"axis": -1}),
    (np.linspace, (0.5, U(2), 4, False, True), {}), (np.linspace, (0.5, 1.5, 1), {}),
    (np.logspace, (0.5, 1.5, 4), {}), (np.logspace, (U(2), 1.5, 4), {"base": 2.0}),
]

REDUCTION_CASES = [
    (np.var, (X,), {}), (np.var, (X, 0), {"ddof": 1}),
    (np.var, (X,), {"axis": (0, 1), "keepdims": True}), (np.var, (C(4),), {}),
    (np.var, (X, 1), {"where": X > -0.5}), (np.var, (X,), {"correction": 1, "axis": -1}),
    (np.var, (X, 1), {"mean": np.mean(X, 1, keepdims=True)}),
    (np.std, (X,), {}), (np.std, (X, 1, None, None, 1, True), {}), (np.std, (C(4),), {}),
    (nd.std, (X, 0), {}), (nd.var, (X,), {"ddof": 2}),
    (np.nanvar, (XN, 1), {}), (np.nanstd, (XN,), {}), (np.ptp, (X,), {}),
    (np.ptp, (X, 1), {"keepdims": True}), (np.nanmax, (XN, 0), {}), (np.nanmin, (XN,), {}),
    (np.nansum, (XN, 1), {}), (np.nansum, (XN,), {"keepdims": True}),
    (np.nanmean, (XN, 0), {}), (np.nanmean, (XN,), {}), (np.nanprod, (XN, 1), {}),
    (np.average, (X,), {}), (np.average, (X, 1, P(4)), {}),
    (np.average, (X, 0, P(3, 4), True), {}), (np.average, (X, None, P(3, 4)), {"keepdims": True}),
    (np.average, (X,), {"axis": 1, "weights": P(4)}),
    (np.quantile, (X, 0.3), {}), (np.quantile, (X, np.array([0.3, 0.71]), 1), {}),
    (np.quantile, (X, 0.4, 0), {"keepdims": True}), (np.percentile, (X, 33.0, 1), {}),
    (np.percentile, (U(5), [10.0, 57.0]), {}),
    (np.median, (X,), {}), (np.median, (X, 1), {}), (np.median, (U(3, 5), 0), {"keepdims": True}),
    (np.median, (U(2, 3, 4), (0, 2)), {}),
    (np.nanmedian, (np.where(X > 0.5, np.nan, X), 1), {}), (np.nanmedian, (X,), {}),
    (np.nanquantile, (np.where(X > 0.6, np.nan, X), [0.2, 0.7], 0), {"keepdims": True}),
    (np.nanpercentile, (np.where(X > 0.6, np.nan, X), 40.0, 1), {}),
    (np.cumsum, (X,), {}), (np.cumsum, (X, 1), {}), (nd.cumsum, (X, 0), {}),
    (np.cumulative_sum, (X,), {"axis": 1, "include_initial": True}),
    (np.cumulative_sum, (U(4),), {}), (np.cumprod, (X,), {}), (np.cumprod, (ZEROS, 1), {}),
    (np.cumprod, (ZEROS, 0), {}), (np.cumprod, (ZEROS,), {}), (nd.cumprod, (X, 1), {}),
    (np.cumprod, (C(4),), {}), (np.cumulative_prod, (U(4),), {}),
    (np.cumulative_prod, (ZEROS,), {"axis": 1, "include_initial": True}),
    (np.cov, (X,), {}), (np.cov, (X,), {"rowvar": False}), (np.cov, (U(5), U(5)), {}),
    (np.cov, (X, U(4)), {"bias": True}), (np.cov, (U(5),), {"ddof": 2}),
    (np.cov, (U(5, 2), U(5, 2)), {"rowvar": False}), (np.corrcoef, (X,), {}),
    (np.corrcoef, (U(5), U(5)), {}), (np.corrcoef, (U(5, 3),), {"rowvar": False}),
    (np.nancumsum, (XN,), {}), (np.nancumsum, (XN, 1), {}), (np.nancumprod, (XN, 0), {}),
    (np.nancumprod, (XN,), {}), (np.nanargmax, (XN,), {}), (np.nanargmin, (XN, 0), {}),
    (np.lexsort, ((U(3), U(3)),), {}), (np.isneginf, (X,), {}), (np.isposinf, (X,), {}),
    (np.trace, (X,), {}), (np.trace, (U(2, 3, 4), 1, 1, 2), {}), (nd.trace, (X, -1), {}),
    (la.trace, (U(2, 3, 3),), {"offset": -1}), (la.diagonal, (U(2, 3, 4),), {"offset": 1}),
    (la.matrix_transpose, (X,), {}), (np.matrix_transpose, (U(2, 3, 4),), {}),
    (np.argmax, (X,), {}), (np.argmin, (X, 1), {}), (np.argsort, (X,), {}),
    (np.argpartition, (U(5), 2), {}), (np.nonzero, (X,), {}), (np.flatnonzero, (X,), {}),
    (np.argwhere, (X,), {}), (np.searchsorted, (np.sort(U(4)), 0.1), {}),
    (np.digitize, (X, [-0.5, 0.5]), {}), (np.count_nonzero, (X,), {}), (np.isin, (X, [0.1]), {}),
    (nd.argmax, (X,), {}), (nd.argmin, (X,), {}), (nd.argsort, (X,), {}),
    (nd.argpartition, (U(5), 1), {}), (nd.nonzero, (X,), {}),
    (nd.searchsorted, (np.sort(U(4)), 0.1), {}), (nd.round, (X,), {}),
]

SERIES_CASES = [
    (np.diff, (X,), {}), (np.diff, (X, 2, 0), {}), (np.diff, (U(5), 3), {}),
    (np.diff, (X, 1, -1, U(3, 1), U(3, 2)), {}), (np.diff, (X, 1, 0, 0.5), {}),
    (np.diff, (X,), {"prepend": 0.5, "append": U(3, 1)}),
    (np.ediff1d, (X,), {}), (np.ediff1d, (U(4), U(2), 0.5), {}),
    (np.polymul, (U(3), U(2)), {}),
    (np.convolve, (U(5), B3), {}), (np.convolve, (B3, U(5), "same"), {}),
    (np.convolve, (U(4), U(2), "same"), {}), (np.convolve, (U(5), B3, "valid"), {}),
    (np.convolve, (C(4), C(3)), {}), (np.correlate, (U(5), B3), {}),
    (np.correlate, (B3, U(5), "same"), {}), (np.correlate, (C(5), C(3), "same"), {}),
    (np.correlate, (C(3), C(5), "full"), {}),
    (np.interp, (np.array([-0.3, 0.2, 0.7, 1.5, 1.9, 2.4]), XP, FP), {}),
    (np.interp, (0.9, XP, FP), {}),
    (np.interp, (np.array([-0.3, 0.7, 2.4]), XP, FP, -1.5, 2.5), {}),
    (np.interp, (np.array([0.2, 0.9]), XP, FP + 1j * U(4)), {}),
    (np.interp, (U(2, 3) + 1, XP, FP), {"left": 0.3}),
    (np.polyval, (U(4), U(2, 3)), {}), (np.polyval, (U(1), B3), {}), (np.polyval, (B3, 0.7), {}),
    (np.polyval, (C(3), C(2)), {}), (np.trapezoid, (X,), {}),
    (np.trapezoid, (X, None, 0.3, 0), {}), (np.trapezoid, (X, np.sort(U(4))), {}),
    (np.trapezoid, (X, np.sort(U(3, 4), axis=0)), {"axis": 0}),
    (np.bincount, (np.array([0, 2, 2, 1]), U(4)), {}),
    (np.bincount, (np.array([0, 2]), U(2), 5), {}),
    (np.gradient, (U(6),), {}), (np.gradient, (U(6), 0.5), {}),
    (np.gradient, (U(6), np.sort(U(6))), {"edge_order": 2}), (np.gradient, (X,), {}),
    (np.gradient, (X, 0.5, np.sort(U(4))), {"edge_order": 2}), (np.gradient, (X,), {"axis": 1}),
    (np.gradient, (U(2, 3, 4), 2.0), {"axis": (0, 2)}), (np.gradient, (U(2),), {}),
]


def _fft_cases():
    out = []
    for norm in (None, "ortho", "forward"):
        k = {"norm": norm}
        out += [
            (F.fft, (C(5),), k), (F.fft, (U(2, 4),), k), (F.ifft, (C(4),), k),
            (F.fft, (C(3, 4), 6, 0), k), (F.fft, (C(5), 3), k), (F.fftn, (C(3, 4),), k),
            (F.ifftn, (C(2, 3, 2),), {"axes": (0, 2), **k}), (F.fftn, (C(3, 4), (4, 3)), k),
            (F.fft2, (U(2, 3, 4),), k), (F.ifft2, (C(3, 4), (2, 5)), k),
            (F.rfft, (U(6),), k), (F.rfft, (U(5),), k), (F.rfft, (U(3, 5), 8, 0), k),
            (F.rfft, (U(7), 4), k), (F.irfft, (C(4),), k), (F.irfft, (C(4), 7), k),
            (F.irfft, (C(3, 5), 4, 0), k), (F.irfft, (C(3), 8), k), (F.hfft, (C(4),), k),
            (F.hfft, (C(4), 5), k), (F.ihfft, (U(6),), k), (F.ihfft, (U(5), 4), k),
            (F.rfftn, (U(3, 4),), k), (F.rfftn, (U(2, 3, 4), (4, 3), (0, 2)), k),
            (F.rfft2, (U(3, 5),), k), (F.irfftn, (C(3, 3),), k),
            (F.irfftn, (C(3, 4), (4, 5)), k), (F.irfft2, (C(2, 3, 3),), k),
            (F.irfftn, (C(2, 3, 4), None, (0, 1)), k),
        ]
    return out + [(F.fftshift, (X,), {}), (F.fftshift, (X, 1), {}), (F.ifftshift, (U(5),), {}),
                  (F.fftfreq, (6, 0.3), {}), (F.rfftfreq, (7,), {"d": 0.4})]


CMATH_CASES = [(f, (0.3 + 0.2j,), {}) for f, _ in math_rules.CMATH_UNARY] + [
    (f, (0.4,), {}) for f, _ in math_rules.CMATH_UNARY if f is not cmath.acosh]
MORE_CASES = CMATH_CASES + [
    (np.ufunc.outer, (np.subtract, U(3), U(2)), {}),  # (ufunc.outer: the ufunc's own rule)
    (np.ufunc.outer, (np.hypot, U(2, 2), U(3)), {}),
    (np.ufunc.accumulate, (np.maximum, U(3, 4), 1), {}), (np.ufunc.accumulate, (np.fmin, U(5)), {}),
    (np.ufunc.accumulate, (np.hypot, P(4)), {}),
    (np.ufunc.reduce, (np.logaddexp, U(3, 4), 0), {"keepdims": True}),
    (np.ufunc.reduce, (np.hypot, P(2, 3)), {"axis": None}),
    (np.ufunc.reduceat, (np.multiply, P(6), [0, 3, 1]), {}),
    (np.ufunc.reduceat, (np.maximum, U(2, 5), [0, 2], 1), {}),
    (np.arange, (0.3, 2.5, 0.4), {}), (np.arange, (0.3, 2.5), {}),
    (cmath.acosh, (1.4,), {}), (cmath.log, (0.3 + 0.4j,), {}), (cmath.log, (0.3 + 0.4j, 2.0), {}),
    (cmath.log, (0.7,), {}), (cmath.phase, (0.3 + 0.4j,), {}), (cmath.phase, (0.3,), {}),
    (cmath.polar, (0.3 + 0.4j,), {}), (cmath.rect, (0.7, 0.3), {}),
    (complex.conjugate, (0.3 + 0.4j,), {}), (float.conjugate, (0.7,), {}),
    (math.exp2, (0.3,), {}), (math.cbrt, (0.7,), {}), (math.cbrt, (-0.7,), {}),
    (math.gamma, (2.3,), {}), (math.gamma, (-0.4,), {}), (math.lgamma, (0.3,), {}),
    (math.lgamma, (-2.5,), {}), (math.lgamma, (25.0,), {}), (math.remainder, (5.3, 1.1), {}),
    (math.ldexp, (0.3, 3), {}), (math.nextafter, (0.3, 1.0), {}), (math.ulp, (0.3,), {}),
    (math.dist, ([0.3, 1.2, 2], [0.1, 0.5, -1.0]), {}), (math.dist, ((0.3, 1.2), (0.5, 0.4)), {}),
    (math.dist, (B3, U(3)), {}), (math.frexp, (3.7,), {}), (math.modf, (3.7,), {}),
    (np.sinc, (X,), {}), (np.sinc, (np.array([0.0, 0.3]),), {}), (np.copysign, (X, U(4)), {}),
    (np.ldexp, (X, np.array([1, 2, -1, 0])), {}), (np.ldexp, (0.7, 3), {}),
    (np.nextafter, (X, X + 1), {}), (np.angle, (C(3),), {}), (np.angle, (C(3), True), {}),
    (np.angle, (X,), {}), (np.angle, (1.0 + 2j,), {}), (np.frexp, (X * 5,), {}),
    (np.modf, (X * 3,), {}), (np.nan_to_num, (np.array([0.3, np.nan, np.inf, -0.2]),), {}),
    (np.nan_to_num, (X,), {"nan": 0.5}), (np.asanyarray, (X,), {}),
    (np.ascontiguousarray, (X.T,), {}),
] + [(f, (X, X[::-1]), {}) for f in (
    np.equal, np.not_equal, np.greater, np.greater_equal, np.less, np.less_equal,
    np.logical_and, np.logical_or, np.logical_xor, np.heaviside)] + [
    (f, (X,), {}) for f in (np.logical_not, np.spacing, np.signbit)] + [
    (f, (np.array([3, 5, 6]), np.array([1, 2, 4])), {}) for f in (
        np.bitwise_and, np.bitwise_or, np.bitwise_xor, np.left_shift, np.right_shift, np.gcd,
        np.lcm)] + [
    (np.bitwise_count, (np.array([3, 5]),), {}), (np.invert, (np.array([3, 5]),), {}),
    (np.isnat, (np.array(["2020-01-01"], dtype="datetime64[D]"),), {}),
    (operator.not_, (0.3,), {}), (operator.truth, (0.3,), {}), (operator.inv, (3,), {}),
    (operator.invert, (3,), {}),
] + [(f, (X > 0, X < 0.5), {}) for f in (
    operator.and_, operator.or_, operator.xor, operator.iand, operator.ior, operator.ixor)] + [
    (f, (6, 1), {}) for f in (operator.lshift, operator.rshift, operator.ilshift,
                              operator.irshift)]


def _scipy_cases():
    if sp is None:
        return []
    from framead.rules import scipy_rules as S

    domain = {sp.erfinv: (-0.8, 0.8), sp.erfcinv: (0.2, 1.8), sp.logit: (0.1, 0.9),
              sp.ndtri: (0.1, 0.9), sp.entr: (0.2, 2), sp.log1p: (-0.5, 2),
              sp.y0: (0.5, 3), sp.y1: (0.5, 3), sp.k0: (0.5, 3), sp.k1: (0.5, 3),
              sp.gammaln: (0.3, 3), sp.loggamma: (0.3, 3), sp.gamma: (0.3, 3),
              sp.rgamma: (0.3, 3), sp.psi: (0.3, 3), sp.cbrt: (0.3, 2)}
    out = [(fn, (U(2, 3, lo=lohi[0], hi=lohi[1]),), {}) for fn, _ in S.UNARY
           for lohi in [domain.get(fn, (-1.5, 1.5))]]
    out += [(fn, (P(2, 3), P(3)), {}) for fn, *_ in S.BINARY]
    out += [(fn, (np.array([0, 1, 2]) if fn is sp.polygamma else np.array([0.5, 1.0, 2.0]),
                  P(2, 3) + 0.5), {}) for fn, _ in S.ORDER_FIRST]
    tri = np.triu(sl.cholesky(SPD)) + np.tril(U(3, 3), -1)
    out += [
        (sp.i1, (np.array([0.0, 0.5]),), {}), (sp.j1, (np.array([0.0, 0.5]),), {}),
        (sp.xlogy, (np.array([0.0, 0.5]), P(2)), {}),
        (sp.xlog1py, (np.array([0.0, 0.5]), P(2)), {}),
        (sp.logsumexp, (X,), {}), (sp.logsumexp, (X, 1), {"keepdims": True}),
        (sp.logsumexp, (X, 0, P(4)), {}),
        (sp.logsumexp, (X, (0, 1)), {"b": U(3, 4), "return_sign": True}),
        (sp.softmax, (X,), {}), (sp.softmax, (X, 1), {}), (sp.log_softmax, (X,), {}),
        (sp.log_softmax, (X, 0), {}),
        (sl.solve, (A, B3), {}), (sl.solve, (A, B32), {"transposed": True}),
        (sl.solve, (A, B32), {"assume_a": "sym"}),
        (sl.solve, (SPD, B3), {"assume_a": "pos", "lower": True}),
        (sl.solve, (A, B3), {"assume_a": "upper triangular"}),
        (sl.solve, (A, B3), {"assume_a": "diagonal"}), (sl.solve, (AC, B3 + 0j), {}),
        (sl.solve_triangular, (A, B3), {}), (sl.solve_triangular, (A, B32, 1, True), {}),
        (sl.solve_triangular, (A, B32), {"trans": "C", "unit_diagonal": True}),
        (sl.solve_triangular, (AC, B32 + 0j), {"trans": 2}),
        (sl.cho_factor, (SPD,), {}), (sl.cho_factor, (SPD, True), {}),
        # the unused triangle: the input's (SciPy <= 1.17, or in place) or zeros (1.18), and
        # all-zero inputs there (diagonal, triangular), where the rule asks SciPy which it is
        (sl.cho_factor, (SPD,), {"overwrite_a": True}),
        (sl.cho_factor, (np.asfortranarray(SPD), True, True), {}),
        (sl.cho_factor, (np.diag([1.0, 2.0, 3.0]),), {}), (sl.cho_factor, (np.tril(SPD), True), {}),
        (sl.cho_factor, (spd(3, (2,)),), {}),
        (sl.cho_solve, ((tri, False), B3), {}),
        (sl.cho_solve, ((sl.cholesky(SPD, lower=True), True), B32), {}),
        (sl.lu_factor, (A,), {}), (sl.lu_factor, (C(3, 3),), {}),
        (sl.lu_solve, (sl.lu_factor(U(3, 3) + np.eye(3)), B3), {}),
        (sl.lu_solve, (sl.lu_factor(A), B32, 1), {}),
        (sl.lu_solve, (sl.lu_factor(AC), B32 + 0j, 2), {}),
        (sl.expm, (U(3, 3),), {}), (sl.expm, (U(2, 3, 3),), {}), (sl.expm, (C(2, 2),), {}),
        (sl.inv, (A,), {}), (sl.det, (A,), {}), (sl.cholesky, (SPD,), {}),
        (sl.cholesky, (SPD, True), {}),
    ]
    return out


_M = np.linspace(0.2, 1.3, 12).reshape(3, 4)
MUTATION_CASES = [
    (M.copyto, (_M, np.linspace(-1, 1, 4), "unsafe", _M > 0.6), {}),
    (M.copyto, (_M, 0.5), {}),
    (M.put, (_M, [0, 5, 5, 11], np.array([0.3, -0.2, 0.9]), "raise"), {}),
    (M.put, (_M, [-1, 13], np.array([0.3, 0.7]), "wrap"), {}),
    (M.place, (_M, _M > 0.7, np.array([1.5, -0.5])), {}),
    (M.putmask, (_M, _M < 0.5, np.array([2.0, 3.0, -1.0])), {}),
    (M.add_at, (_M, ([0, 0, 2], [1, 1, 3]), np.array([0.3, 0.4, 0.5])), {}),
    (M.subtract_at, (_M, [0, 0, 2], np.linspace(0, 1, 4)), {}),
    (M.flat_setitem, (_M, [1, 7, 7], np.array([0.25, 0.5, 0.75])), {}),
    (M.flat_setitem, (_M, slice(2, 9, 3), 0.4), {}),
    (M.flat_getitem, (_M, [3, 3, 10]), {}),
]

def _scipy_more_cases():  # scipy_special/signal rules, exact-number cuts (issue 11)
    if sp is None:
        return []
    from test_linalg_factor_rules2 import library_cases as decomp_cases
    from test_rules_s21_linalg import library_cases as s21_linalg
    from test_rules_s21_matfunc import library_cases as s21_matfunc
    from test_rules_s21_special import library_cases as s21_special
    from test_scipy_and_missing_rules import library_cases
    from test_scipy_kde_rules import library_cases as kde_cases
    from test_scipy_missing_rules import library_cases as missing_cases

    return (library_cases() + missing_cases() + decomp_cases() + s21_special() + s21_linalg()
            + s21_matfunc() + kde_cases())


def _random_cases():  # rules/random_rules.py, random_shape.py: the samplers' pathwise rules
    from test_random_samplers import library_cases
    from test_random_shape_samplers import library_cases as shape_cases
    return library_cases() + shape_cases()


CASES = (MUTATION_CASES + LINALG_CASES + PRODUCT_CASES + SHAPE_CASES + REDUCTION_CASES
         + SERIES_CASES + _fft_cases() + MORE_CASES + _scipy_cases() + _scipy_more_cases()
         + GUFUNC_CASES + _random_cases())


def _rule_of(fn):
    return fn if isinstance(fn, R.Rule) else R.resolve(fn)[0]


@pytest.mark.parametrize("fn,args,kwargs", CASES, ids=[_rule_of(c[0]).name for c in CASES])
def test_rule_matches_finite_differences(fn, args, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # row_stack, 2-d cross (< 2.5)
        assert R.check(fn, *args, **kwargs).ok


def test_every_library_rule_has_a_case():
    from test_rules import CASES as CORE_CASES

    covered = {id(_rule_of(c[0])) for c in CASES + CORE_CASES}
    missing = [r.name for r in R.library_rules() if id(r) not in covered]
    assert not missing, f"rules without a test case: {missing}"
    if sp is not None:
        assert R.lookup(sp.logsumexp) is not None and R.library_rules("scipy_rules")


def test_every_library_rule_has_a_jvp():
    assert [r.name for r in R.library_rules() if not r.cut and r.jvp is None] == []


# --- hypothesis: families over shapes, axes, orders --------------------------------------------

def _arr(shape, lo=-1.5, hi=1.5):
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi, allow_nan=False,
                                                            allow_subnormal=False))


def _distinct(shape):
    """Values on a lattice, all distinct: no ties for order statistics and extrema."""
    return hnp.arrays(np.float64, shape, elements=st.integers(-60, 60).map(lambda k: k / 16),
                      unique=True)


ELEMENTWISE_BINARY = [np.copysign, np.nextafter] + ([
    sp.xlogy, sp.xlog1py, sp.betaln, sp.beta, sp.rel_entr, sp.kl_div] if sp else [])


@HYP
@given(fn=st.sampled_from(ELEMENTWISE_BINARY), data=st.data(),
       shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                min_side=0, max_side=3))
def test_elementwise_broadcasting(fn, data, shapes):
    xs, ys = shapes.input_shapes
    R.check(fn, data.draw(_arr(xs, 0.3, 2.0)), data.draw(_arr(ys, 0.3, 2.0)))


UNARY_MORE = [np.sinc, np.nan_to_num] + ([sp.expit, sp.erf, sp.ndtr, sp.gammaln, sp.psi,
                                         sp.i0, sp.j0, sp.log_ndtr] if sp else [])


@HYP
@given(fn=st.sampled_from(UNARY_MORE), data=st.data(),
       shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3))
def test_elementwise_unary(fn, data, shape):
    R.check(fn, data.draw(_arr(shape, 0.3, 2.0)))


def _axis(data, ndim):
    return data.draw(st.none() | st.integers(-ndim, ndim - 1)
                     | hnp.valid_tuple_axes(ndim, min_size=1))


STATS = [np.var, np.std, np.ptp, np.median, np.nanmean, np.nansum, np.nanvar, nd.std, nd.var]


@HYP
@given(fn=st.sampled_from(STATS), data=st.data(), keepdims=st.booleans(),
       shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=3))
def test_statistics(fn, data, keepdims, shape):
    x = data.draw(_distinct(shape))
    kw = {"axis": _axis(data, len(shape)), "keepdims": keepdims}
    if fn in (np.var, np.std, nd.var, nd.std):
        kw["ddof"] = data.draw(st.integers(0, 1))
    R.check(fn, x, **kw)


@HYP
@given(data=st.data(), scale=st.sampled_from([(np.quantile, 1.0), (np.percentile, 100.0)]),
       shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=3))
def test_quantiles(data, scale, shape):
    fn, top = scale
    x = data.draw(_distinct(shape))
    axis = _axis(data, len(shape))
    n = x.size if axis is None else math.prod(
        shape[a] for a in ((axis,) if isinstance(axis, int) else axis))
    # q strictly between sorted positions (the derivative in q jumps at them)
    q = (np.array(data.draw(st.lists(st.integers(0, n - 2), min_size=1, max_size=2)))
         + data.draw(st.floats(0.2, 0.8))) / (n - 1) * top
    R.check(fn, x, q if len(q) > 1 else float(q[0]), axis=axis)


@HYP
@given(fn=st.sampled_from([np.cumsum, np.cumprod, nd.cumsum]), data=st.data(),
       shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
def test_scans(fn, data, shape):
    x = data.draw(hnp.arrays(np.float64, shape, elements=st.sampled_from(
        [0.0, -0.5, 0.75, 1.25, -1.5, 2.0])))
    axis = None if not shape else data.draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    R.check(fn, x, axis=axis)


GATHERS = [
    lambda d, s: (np.take, (d.draw(hnp.arrays(np.intp, (2,), elements=st.integers(
        -max(s[0], 1), max(s[0], 1) - 1))),), {"axis": 0, "mode": "wrap"}),
    lambda d, s: (np.repeat, (d.draw(st.integers(0, 2)),), {"axis": d.draw(
        st.integers(-len(s), len(s) - 1))}),
    lambda d, s: (np.tile, (d.draw(st.tuples(st.integers(1, 2), st.integers(1, 2))),), {}),
    lambda d, s: (np.roll, (d.draw(st.integers(-3, 3)),), {"axis": d.draw(
        st.none() | st.integers(-len(s), len(s) - 1))}),
    lambda d, s: (np.flip, (), {"axis": _axis(d, len(s))}),
    lambda d, s: (np.pad, (d.draw(st.integers(0, 2)),), {"mode": d.draw(st.sampled_from(
        ["constant"] + (["edge", "wrap", "symmetric"] if min(s) else [])
        + (["reflect"] if min(s) > 1 else [])))}),
    lambda d, s: (np.triu, (d.draw(st.integers(-1, 1)),), {}),
    lambda d, s: (np.swapaxes, (0, len(s) - 1), {}),
    lambda d, s: (np.moveaxis, (0, -1), {}),
    lambda d, s: (np.expand_dims, (d.draw(st.integers(-len(s) - 1, len(s))),), {}),
    lambda d, s: (np.broadcast_to, ((2,) + s,), {}),
    lambda d, s: (np.array_split, (d.draw(st.integers(1, 3)),), {"axis": 0}),
    lambda d, s: (np.sort, (), {"axis": d.draw(st.none() | st.integers(-len(s), len(s) - 1))}),
]


@HYP
@given(make=st.sampled_from(GATHERS), data=st.data(),
       shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=3))
def test_shape_functions(make, data, shape):
    fn, rest, kw = make(data, shape)
    if fn is np.take and shape[0] == 0:
        shape = (1,) + shape[1:]
    if fn in (np.triu, np.swapaxes) and len(shape) < 2:
        shape = shape + (2,)
    x = data.draw(_distinct(shape)) if fn is np.sort else data.draw(_arr(shape))
    R.check(fn, x, *rest, **kw)


@HYP
@given(data=st.data(), n=st.integers(1, 4), batch=st.sampled_from([(), (2,)]),
       seed=st.integers(0, 2**32 - 1),
       fn=st.sampled_from([la.solve, la.inv, la.det, la.slogdet, la.cholesky, la.eigh, la.svd,
                           la.qr, la.pinv, la.matrix_power, la.norm, la.eigvalsh]))
def test_linalg_shapes(data, n, batch, seed, fn):
    r = np.random.default_rng(seed)
    q = np.linalg.qr(r.standard_normal(batch + (n, n)))[0]
    spread = np.arange(1.0, n + 1) + r.uniform(0, 0.3, n)  # separated spectrum
    a = (q * spread[..., None, :]) @ np.swapaxes(q, -1, -2)
    if fn in (la.svd, la.qr, la.pinv, la.solve, la.det, la.slogdet, la.inv, la.matrix_power,
              la.norm):
        a = a @ np.linalg.qr(r.standard_normal((n, n)))[0]  # not symmetric
    args, kw = (a,), {}
    if fn is la.solve:
        args = (a, r.standard_normal(data.draw(st.sampled_from([(n,), batch + (n, 2)]))))
    elif fn is la.matrix_power:
        args = (a, data.draw(st.integers(-2, 3)))
    elif fn is la.norm:
        kw = {"ord": data.draw(st.sampled_from([None, "fro", "nuc", 1, -1, 2, np.inf]))}
        if batch:
            kw["axis"] = (-2, -1)
    elif fn is la.eigh:
        kw = {"UPLO": data.draw(st.sampled_from("LU"))}
    R.check(fn, *args, **kw)


def _einsum_case(data):
    sizes = dict(zip("abcde", data.draw(st.lists(st.integers(1, 3), min_size=5, max_size=5)),
                     strict=True))
    nops = data.draw(st.integers(1, 3))
    terms = [data.draw(st.lists(st.sampled_from("abcde"), min_size=0, max_size=3))
             for _ in range(nops)]
    labels = sorted({c for t in terms for c in t})
    out = data.draw(st.lists(st.sampled_from(labels), unique=True)) if labels else []
    ops = [rng.uniform(-1, 1, [sizes[c] for c in t]) for t in terms]
    return ",".join("".join(t) for t in terms) + "->" + "".join(out), ops


@HYP
@given(data=st.data())
def test_einsum_any_subscripts(data):
    spec, ops = _einsum_case(data)
    first = spec.split(",")[0].split("->")[0]
    if data.draw(st.booleans()) and first and first.count(first[-1]) == 1:
        ops[0] = ops[0][..., :1]  # an axis of length 1 broadcast against the label's size
    R.check(np.einsum, spec, *ops)


@HYP
@given(data=st.data(), lead=st.integers(0, 2))
def test_einsum_ellipsis(data, lead):
    a = rng.uniform(-1, 1, (2,) * lead + (3, 2))
    b = rng.uniform(-1, 1, (2, 4))
    spec = data.draw(st.sampled_from(["...ij,jk->...ik", "...ij,jk", "...ij,jk->...",
                                      "...ij,jk->i...k"]))
    R.check(np.einsum, spec, a, b)


@HYP
@given(data=st.data(), norm=st.sampled_from([None, "ortho", "forward", "backward"]),
       shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
def test_fft_lengths_and_axes(data, norm, shape):
    fn = data.draw(st.sampled_from([F.fft, F.ifft, F.rfft, F.irfft, F.hfft, F.ihfft]))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = data.draw(st.none() | st.integers(1 if fn not in (F.irfft, F.hfft) else 2, 6))
    x = data.draw(_arr(shape))
    if fn in (F.fft, F.ifft, F.irfft, F.hfft):
        x = x + 1j * data.draw(_arr(shape))
    if fn in (F.irfft, F.hfft) and n is None and shape[axis] < 2:
        n = 2
    R.check(fn, x, n, axis, norm)


@HYP
@given(data=st.data(), shape=hnp.array_shapes(min_dims=2, max_dims=3, min_side=2, max_side=3))
def test_fftn_family(data, shape):
    fn = data.draw(st.sampled_from([F.fftn, F.ifftn, F.rfftn, F.irfftn, F.fft2, F.rfft2]))
    axes = data.draw(hnp.valid_tuple_axes(len(shape), min_size=2, max_size=2))
    s = data.draw(st.none() | st.tuples(st.integers(2, 4), st.integers(2, 4)))
    x = data.draw(_arr(shape))
    if fn in (F.fftn, F.ifftn, F.irfftn, F.fft2):
        x = x + 1j * data.draw(_arr(shape))
    R.check(fn, x, s, axes, data.draw(st.sampled_from([None, "ortho", "forward"])))


@HYP
@given(data=st.data(), n=st.integers(2, 6), m=st.integers(1, 4),
       mode=st.sampled_from(["full", "same", "valid"]), fn=st.sampled_from(
           [np.convolve, np.correlate]))
def test_convolutions(data, n, m, mode, fn):
    R.check(fn, data.draw(_arr((n,))), data.draw(_arr((m,))), mode)


# --- conventions and edge cases the finite differences cannot show -----------------------------

def test_fft_complex_convention_is_jax_and_documented():
    """For L = sum |fft(x)|^2 = n sum |x|^2 (real x): the cotangent of x is 2 n x."""
    x = U(6)
    y = np.fft.fft(x)
    g = 2 * np.conj(y)  # dL/dRe(y) - 1j dL/dIm(y)
    ct = R.lookup(np.fft.fft).vjp[0](g, y, x)
    assert np.allclose(ct, 2 * 6 * x)
    assert "Re(sum(u * v))" in fft_rules.__doc__


def test_singular_points_give_finite_gradients():
    norm = R.lookup(np.linalg.norm)
    assert np.array_equal(norm.vjp[0](1.0, 0.0, np.zeros(3)), np.zeros(3))
    w, v = np.linalg.eigh(np.eye(3))  # degenerate: eigenvalue gradient only
    ct = R.lookup(np.linalg.eigh).vjp[0]((np.ones(3), np.zeros((3, 3))), (w, v), np.eye(3))
    assert np.all(np.isfinite(ct)) and np.allclose(np.diag(ct), 1.0)
    ct = R.lookup(np.cumprod).vjp[0](np.ones(3), None, np.array([2.0, 0.0, 3.0]))
    assert ct.tolist() == [1.0, 8.0, 0.0]


def test_cholesky_cotangent_lives_on_the_read_triangle():
    l = np.linalg.cholesky(SPD)
    ct = R.lookup(np.linalg.cholesky).vjp[0](U(3, 3), l, SPD)
    assert np.allclose(np.triu(ct, 1), 0)


@pytest.mark.skipif(sl is None, reason="needs SciPy")
def test_cho_factor_unused_triangle_follows_what_scipy_returns():
    """SciPy <= 1.17 returns the input's unused triangle (its cotangent passes through), 1.18
    zeros (none), unless overwrite_a=True factors in place: the rule reads which from the
    result, and from SciPy itself where that triangle is zero (a diagonal input)."""
    vjp = R.lookup(sl.cho_factor).vjp[0]
    for kw in ({}, {"lower": True}, {"overwrite_a": True}):
        lower = kw.get("lower", False)
        rest = (lambda x: np.triu(x, 1)) if lower else (lambda x: np.tril(x, -1))
        c, low = sl.cho_factor(SPD.copy(), **kw)
        copied = np.array_equal(rest(c), rest(SPD))
        assert copied or not rest(c).any(), "neither the input's triangle nor zeros"
        g = rest(U(3, 3))  # a cotangent on the unused triangle only
        assert np.allclose(vjp((g, None), (c, low), SPD, **kw), g if copied else 0)
        d = np.diag([1.0, 2.0, 3.0])
        assert np.allclose(vjp((g, None), sl.cho_factor(d.copy(), **kw), d, **kw),
                           g if copied else 0)


def test_unsupported_variants_raise_clearly():
    assert R.check(np.linalg.svd, U(4, 3)).ok  # (full: one extra vector, unique up to sign)
    with pytest.raises(R.RuleCheckError, match="got nan"):  # two extra: not unique
        R.check(np.linalg.svd, U(5, 3))
    with pytest.raises(R.RuleCheckError, match="function as mode"):
        R.check(np.pad, X, 1, lambda vector, width, axis, kwargs: None)


def test_scipy_rules_install_only_once_scipy_is_imported():
    code = ("import sys, framead.rules as R\n"
            "assert 'scipy' not in sys.modules and not R.library_rules('scipy_rules')\n"
            "R.generation(); assert not R.library_rules('scipy_rules')\n"
            "import scipy.special\n"
            "R.generation(); assert R.lookup(scipy.special.expit) is not None\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_user_rule_registered_before_scipy_is_imported_wins():
    code = ("import framead.rules as R, numpy as np\n"
            "import scipy.special as sp\n"
            "mine = R.register(sp.expit, vjp=(lambda g, ans, x: g,), saves={0: ()},\n"
            "                  elementwise=True)\n"
            "R.generation(); assert R.lookup(sp.expit) is mine\n"
            "assert R.lookup(sp.erf).name == 'scipy.special.erf'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_lists_every_rule():
    out = subprocess.run([sys.executable, "-m", "framead", "rules"], capture_output=True,
                         text=True, check=True).stdout
    last = out.splitlines()[-1]  # other tests may have registered rules in this process
    assert f"{len(R.library_rules())} in framead's library" in last and "0 without a JVP" in last
    assert "np.linalg.solve" in out and "ndarray.sum" in out
    only = subprocess.run([sys.executable, "-m", "framead", "rules", "np.fft.", "--no-optional"],
                          capture_output=True, text=True, check=True).stdout
    assert "np.fft.rfft " in only and "np.linalg" not in only


def test_library_modules_stay_small():
    import importlib
    import inspect

    for name in ("linalg_rules", "product_rules", "numpy_shape_rules", "numpy_reduction_rules",
                 "numpy_series_rules", "fft_rules", "scipy_rules", "math_rules"):
        module = importlib.import_module(f"framead.rules.{name}")
        assert len(inspect.getsource(module).splitlines()) < 620, name
    assert len(string.ascii_letters) == 52  # einsum's label alphabet
