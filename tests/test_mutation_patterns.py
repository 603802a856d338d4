"""Mutation and aliasing patterns of issue 4, one focused program each, against central
differences.

* every way NumPy code writes (issue 4, item 1), every way it aliases (item 2): gradients
  against float64 central differences of the unmodified program (``assert_grad_matches_fd``
  also checks the caller's arrays are untouched and ``value_and_grad``'s value is the native
  one bit for bit), and no hazard reported: these are all supported NumPy operations;
* copy-on-write (item 3): ``framead.trace(...).stats`` byte counts, exact;
* unknown mutators (item 4): a C function without a rule that writes into a traced array is
  reported in ``trace(...).hazards`` as FA104/FA101 at the user's line;
* inputs mutated by the function (item 5), including aliased inputs ``f(x, x)``,
  ``f(x, x[1:])``.

Test points keep data-dependent masks and sorts away from their thresholds and ties, so the
finite differences are valid (the checker verifies its own error estimate).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import inspect

import numpy as np
import pytest
from conftest import FAKE, assert_grad_matches_fd, fd_grad, fresh, get_engine, snapshot

WRITES: list = []
ALIASES: list = []
INPUTS: list = []


def _a(*shape, seed=0, lo=-1.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, size=shape)


def _case(registry, *args, argnums=0):
    def deco(fn):
        n = sum(1 for p in registry if p.id.split("#")[0] == fn.__name__)
        pid = fn.__name__ if n == 0 else f"{fn.__name__}#{n + 1}"
        registry.append(pytest.param(fn, args, argnums, id=pid))
        return fn

    return deco


def write(*args, argnums=0):
    return _case(WRITES, *args, argnums=argnums)


def alias(*args, argnums=0):
    return _case(ALIASES, *args, argnums=argnums)


def inputs(*args, argnums=0):
    return _case(INPUTS, *args, argnums=argnums)


def check(fn, *args, argnums=0):
    """Gradient against central differences, and no hazard on a supported program."""
    eng = get_engine()
    problems, cause = [], None
    try:
        assert_grad_matches_fd(fn, *args, argnums=argnums)
    except Exception as e:  # keep going: the hazards usually say why
        problems.append(f"{type(e).__name__}: {e}")
        cause = e
    if eng.trace is not None:
        try:
            hazards = eng.trace(fn, *args, argnums=argnums).hazards
        except Exception as e:
            hazards = []
            problems.append(f"trace raised {type(e).__name__}: {e}")
            cause = cause or e
        if hazards:
            problems.append("hazards reported on a program that uses only supported NumPy "
                            "operations:\n  " + "\n  ".join(str(h) for h in hazards))
    if problems:
        raise AssertionError("\n\n".join(problems)) from cause


# =======================================================================================
# 1. every way NumPy code writes
# =======================================================================================

# ---- __setitem__: basic keys ------------------------------------------------------------


@write(_a(6, seed=1))
def setitem_slice(x):
    u = x.copy()
    u[1:4] = np.sin(x[:3])
    return np.sum(u * u)


@write(_a(4, 5, seed=2))
def setitem_stepped_and_negative_slices(x):
    u = np.zeros((4, 5))
    u[::2, 1::2] = x[:2, :2] * 3.0
    u[::-1, 0] = np.exp(x[:, 4])
    u[3:0:-2, 4] = x[0, 2:4] ** 2
    return np.sum(u * np.arange(1.0, 21.0).reshape(4, 5))


@write(_a(3, 4, seed=3))
def setitem_integer_elements(x):
    u = x.copy()
    u[1, 2] = x[0, 0] * x[2, 3]
    u[-1, -1] = np.sin(u[1, 2])
    u[0] = x[2, 0]  # a whole row from a scalar
    return np.sum(u * u)


@write(_a(5, seed=4))
def setitem_ellipsis_colon_newaxis(x):
    u = np.empty(5)
    u[...] = x ** 2
    v = np.ones((2, 5))
    v[:] = u * 0.5
    v[None, 1, 1:3] = x[:2]
    return np.sum(v * v) + np.sum(u)


@write(_a(3, 4, seed=5))
def setitem_broadcast_row_and_scalar(x):
    u = np.zeros((3, 4))
    u[:, :] = x[1]
    u[1:, 2:] = x[0, 0]
    return np.sum(np.sin(u) * x)


# ---- __setitem__: advanced, boolean and mixed keys ----------------------------------------


@write(_a(6, seed=6))
def setitem_integer_array(x):
    u = x.copy()
    u[[0, 3, 5]] = np.sin(x[:3])
    u[np.array([-1, 1])] = u[[2, 4]] * 2.0
    return np.sum(u * u)


@write(_a(3, 4, seed=7))
def setitem_coordinate_arrays(x):
    u = x.copy()
    u[[0, 2, 1], [1, 3, 0]] = x[1, :3] ** 2
    u[np.array([[0], [2]]), np.array([[0, 3]])] = 0.5 * x[:2, :2]
    return np.sum(u * u)


@write(_a(8, seed=8, lo=0.1, hi=1.0))
def setitem_boolean_data_dependent(x):
    u = x.copy()
    u[u > 0.55] = 0.0
    u[x < 0.3] = x[x < 0.3] ** 2
    return np.sum(np.exp(u) * x)


@write(np.array([0.12, 0.91, 0.33, 0.74, 0.58, 0.21, 0.87, 0.45]))
def setitem_boolean_threshold(x):
    u = np.ones(8)
    mask = x > 0.5
    u[mask] = x[mask] * 3.0
    u[~mask] = np.sin(x[~mask])
    return np.sum(u * u)


@write(_a(3, 4, seed=9))
def setitem_boolean_2d_and_row_mask(x):
    u = x.copy()
    m = np.array([[True, False, True, False], [False, False, True, True], [True, True, False,
                                                                            False]])
    u[m] = np.arange(6.0) * x[0, 0]
    u[np.array([False, True, True])] = u[0] ** 2
    return np.sum(u * x)


@write(_a(3, 4, seed=10))
def setitem_mixed_slice_and_list(x):
    u = x.copy()
    u[1:, [0, 2]] = np.sin(x[:2, 1:3])
    u[[0, 2], 1:3] = u[1, 2] * x[1, :2]
    u[[2, 0], 3] = x[0, :2] ** 2
    return np.sum(u * u)


@write(_a(2, 3, 4, seed=11))
def setitem_mixed_ellipsis_and_mask(x):
    u = x.copy()
    u[..., [0, 3]] = x[..., 1:3] * 2.0
    u[np.array([True, False]), 1:] = np.exp(x[1, 1:, :])
    return np.sum(u * u)


# ---- repeated indices: a[idx] += v (buffered) vs ufunc.at (unbuffered) -------------------


@write(_a(5, seed=12), 0.7)
@write(_a(5, seed=12), 0.7, argnums=(0, 1))
def aug_assign_repeated_indices_buffered(x, s):
    u = x.copy()
    u[[0, 0, 2, 0]] += s * x[4]  # u[0] grows once: NumPy's buffered semantics
    return np.sum(u * u)


@write(_a(3, 4, seed=13))
def aug_assign_repeated_rows_buffered(x):
    u = x.copy()
    u[[1, 1, 2]] *= np.exp(x[0])  # the same row factor for each repeat
    return np.sum(u * u)


@write(_a(5, seed=14), _a(4, seed=15))
@write(_a(5, seed=14), _a(4, seed=15), argnums=(0, 1))
def add_at_repeated_indices_unbuffered(x, v):
    u = x.copy()
    np.add.at(u, [0, 0, 2, 0], v)
    return np.sum(u * u)


@write(_a(5, seed=16), _a(4, seed=17), argnums=(0, 1))
def subtract_multiply_negative_at(x, v):
    u = x.copy()
    np.subtract.at(u, [1, 1, 3, 4], v)
    np.multiply.at(u, [0, 4, 0, 2], v)
    np.negative.at(u, [3, 3, 3])
    return np.sum(u * u)


@write(_a(3, 4, seed=18), _a(3, seed=19), argnums=(0, 1))
def add_at_2d_coordinates_and_slices(x, v):
    u = x.copy()
    np.add.at(u, ([0, 0, 2], [1, 1, 3]), v)
    np.add.at(u, (slice(None), [0, 0]), v[:, None] * np.ones(2))
    return np.sum(u * u)


# ---- augmented assignment on arrays and slices ------------------------------------------


@write(_a(6, seed=20, lo=0.2, hi=1.0))
def augmented_whole_array(x):
    u = x.copy()
    u += x
    u -= np.sin(x)
    u *= x
    u /= 2.0 + x
    u **= 2
    return np.sum(u)


@write(_a(7, seed=21))
def augmented_slices_and_elements(x):
    u = x.copy()
    u[::2] += 1.0
    u[1:] *= u[:-1]  # overlapping operands: NumPy copies the input first
    u[3] += x[0] * 2.0
    u[-2:] -= np.exp(x[:2])
    return np.sum(u * u)


@write(_a(3, 4, seed=22))
def augmented_through_transpose_and_rows(x):
    u = x.copy()
    u.T[0] += x[0, :3]
    u[1] *= np.sin(u[2])
    u[:, ::-2] -= 0.5 * x[:, :2]
    return np.sum(u * u)


@write(_a(3, 4, seed=23))
def augmented_mixed_index(x):
    u = x.copy()
    u[:, [2, 0]] *= 2.0 + x[:, :2]
    u[1::2, [3]] += np.sin(x[1:2, :1])
    return np.sum(u * u)


# ---- out= on ufuncs ---------------------------------------------------------------------


@write(_a(6, seed=24, lo=0.2, hi=1.0), _a(6, seed=25, lo=0.2, hi=1.0), argnums=(0, 1))
def ufunc_out_binary(x, y):
    u = np.empty(6)
    np.add(x, y, out=u)
    w = np.zeros(6)
    np.multiply(u, x, out=w)
    np.subtract(w, y, out=w)
    np.divide(w, 1.0 + y, out=u)
    return np.sum(u * w)


@write(_a(6, seed=24, lo=0.2, hi=1.0), _a(6, seed=25, lo=0.2, hi=1.0), argnums=(0, 1))
def ufunc_out_unary_and_power(x, y):
    u = x * y
    np.sin(u, out=u)
    w = np.empty(6)
    np.exp(0.5 * x, out=w)
    np.negative(w, out=w)
    np.power(y, 3.0, out=x)
    return np.sum(u * w) + np.sum(x)


@write(_a(8, seed=26))
def ufunc_out_slice_and_tuple(x):
    u = x.copy()
    np.multiply(x[:4], x[4:], out=u[::2])
    np.sin(u[1:3], out=(u[5:7],))
    return np.sum(u * u)


@write(_a(8, seed=26))
def ufunc_out_overlapping_input(x):
    u = x * 2.0
    np.add(u[:-1], u[1:], out=u[1:])  # out overlaps an input: defined as if copied
    return np.sum(u * u)


@write(_a(6, seed=27))
def ufunc_out_with_where(x):
    u = np.ones(6) * 0.5
    mask = np.array([True, False, True, True, False, False])
    np.multiply(x, 3.0, out=u, where=mask)
    np.exp(x, out=u, where=~mask)
    return np.sum(u * u)


@write(_a(6, seed=28))
def ufunc_out_constant_inputs_overwrite_traced(x):
    u = x * 2.0
    np.add(1.0, 2.0, out=u[:2])  # constants overwrite traced elements
    np.sin(np.linspace(0.0, 1.0, 2), out=u[2:4])
    return np.sum(u * u)


@write(_a(6, seed=28))
def ufunc_out_constant_overwrites_input(x):
    y = np.sin(x)
    np.multiply(np.ones(6), 0.25, out=x)
    return np.sum(y * x)


# ---- out= on reductions, dot and matmul -------------------------------------------------


@write(_a(3, 4, seed=29, lo=0.2, hi=1.0))
def reduction_sum_out(x):
    u = np.zeros(4)
    np.sum(x, axis=0, out=u)
    return np.sum(u * u)


@write(_a(3, 4, seed=29, lo=0.2, hi=1.0))
def reduction_method_sum_out_into_view(x):
    w = np.ones(5)
    x.sum(axis=1, out=w[1:4])
    return np.sum(w * w)


@write(_a(3, 4, seed=29, lo=0.2, hi=1.0))
def reduction_mean_out(x):
    m = np.empty(4)
    np.mean(x, axis=0, out=m)
    return np.sum(m * m)


@write(_a(3, 4, seed=29, lo=0.2, hi=1.0))
def reduction_prod_out(x):
    p = np.empty(3)
    np.prod(x, axis=1, out=p)
    return np.sum(p * p)


@write(_a(3, 4, seed=29, lo=0.2, hi=1.0))
def ufunc_reduce_out(x):
    r = np.empty(4)
    np.add.reduce(x * x, axis=0, out=r)
    return np.sum(np.sin(r))


@write(_a(3, 4, seed=30))
def reduction_max_out(x):
    mx = np.empty(4)
    np.max(x, axis=0, out=mx)  # no ties at this point
    return np.sum(mx * mx)


@write(_a(3, 4, seed=30))
def cumsum_out(x):
    c = np.empty(12)
    np.cumsum(x.ravel(), out=c)
    return np.sum(np.sin(c))


@write(_a(3, 4, seed=30))
def cumsum_out_in_place(x):
    u = x * 1.5
    u.cumsum(axis=1, out=u)
    return np.sum(u * u)


@write(_a(3, 4, seed=31), _a(4, 2, seed=32), argnums=(0, 1))
def dot_out(a, b):
    c = np.empty((3, 2))
    np.dot(a, b, out=c)
    return np.sum(c * c)


@write(_a(3, 4, seed=31), _a(4, 2, seed=32), argnums=(0, 1))
def matmul_out(a, b):
    d = np.zeros((3, 2))
    np.matmul(a, b, out=d)
    return np.sum(np.sin(d))


@write(_a(3, 4, seed=31), _a(4, 2, seed=32), argnums=(0, 1))
def dot_matvec_out_into_view(a, b):
    v = np.zeros((2, 3))
    np.dot(a, b[:, 0], out=v[1])
    return np.sum(v * v)


# ---- in-place methods and functions -----------------------------------------------------


@write(_a(5, seed=33), 0.8)
@write(_a(5, seed=33), 0.8, argnums=(0, 1))
def fill_with_traced_scalar(x, s):
    u = x.copy()
    u[1:3].fill(s * 2.0)
    w = np.empty(4)
    w.fill(x[0])
    return np.sum(u * u) + np.sum(w * x[1:])


@write(_a(5, seed=33))
def fill_with_constant(x):
    u = x * 3.0
    u[3:].fill(0.5)
    return np.sum(u * u)


@write(np.array([0.31, -0.72, 0.95, 0.18, -0.44, 0.63]))
def sort_in_place(x):
    u = x * np.arange(1.0, 7.0)
    u.sort()
    return np.sum(u * np.arange(6.0))


@write(np.array([0.31, -0.72, 0.95, 0.18, -0.44, 0.63]))
def sort_in_place_view(x):
    w = x.copy()
    w[1:5].sort()
    return np.sum(w * np.linspace(-1.0, 1.0, 6))


@write(np.array([[0.31, -0.72, 0.95], [0.08, -0.44, 0.63], [0.52, 0.17, -0.9]]))
def sort_in_place_axis_keyword(x):
    u = x.copy()
    u.sort(axis=0)
    return np.sum(u * np.arange(9.0).reshape(3, 3))


@write(np.array([[0.31, -0.72, 0.95], [0.08, -0.44, 0.63], [0.52, 0.17, -0.9]]))
def sort_in_place_axis_positional(x):
    w = x * 2.0
    w.sort(1)
    return np.sum(w * np.arange(9.0).reshape(3, 3))


@write(np.array([[0.31, -0.72, 0.95], [0.08, -0.44, 0.63], [0.52, 0.17, -0.9]]))
def sort_in_place_transposed(x):
    t = x.copy()
    t.T.sort()  # sorts the columns of t
    return np.sum(t * t * t)


@write(_a(6, seed=34))
def put_method(x):
    u = x.copy()
    u.put([0, 3], np.sin(x[4:]))
    u.put([1], x[2] * 2.0)
    return np.sum(u * u)


@write(_a(6, seed=34))
def np_put(x):
    u = x.copy()
    np.put(u, [5, 2], u[:2] ** 2)
    return np.sum(u * u)


@write(_a(6, seed=34))
def np_put_wrap(x):
    u = np.zeros(6)
    np.put(u, [7, -1], x[:2] * 3.0, mode="wrap")
    return np.sum(u * u) + np.sum(u * x)


@write(_a(6, seed=35))
def copyto_broadcast(x):
    u = np.zeros((2, 6))
    np.copyto(u, x)
    return np.sum(u * u * np.arange(12.0).reshape(2, 6))


@write(_a(6, seed=35))
def copyto_where_constant_mask(x):
    u = x * 2.0
    np.copyto(u, np.sin(x), where=np.array([True, False, True, False, True, False]))
    return np.sum(u * u)


@write(np.array([0.2, 0.95, -0.4, 0.99, 0.1, -0.7]))
def copyto_where_data_mask(x):
    w = x.copy()
    np.copyto(w, 0.25, where=x > 0.9)
    return np.sum(w * w)


@write(_a(6, seed=35))
def copyto_between_views(x):
    u = np.ones((2, 6))
    w = x.copy()
    np.copyto(w[::2], u[0, 1::2] * x[:3])
    np.copyto(u[1], w)
    return np.sum(u * u) + np.sum(w * w)


@write(_a(6, seed=36))
def copyto_traced_into_constant(x):
    u = np.ones(6)
    np.copyto(u, np.exp(x))
    return np.sum(u * u)


@write(_a(6, seed=36))
def copyto_constant_over_traced(x):
    w = x * 3.0
    np.copyto(w[:3], np.arange(3.0))
    return np.sum(w * w)


@write(_a(6, seed=37))
def np_place_repeats_values(x):
    u = x.copy()
    np.place(u, np.array([True, False, True, True, False, True]), x[:2] * 3.0)
    return np.sum(u * u)


@write(_a(6, seed=37))
def np_putmask_repeats_by_position(x):
    w = x.copy()
    np.putmask(w, np.array([True, False, True, True, False, True]), np.sin(x[2:5]))
    return np.sum(w * x)


@write(np.array([0.2, 0.95, -0.4, 0.99, 0.1, -0.7]))
def np_putmask_data_mask(x):
    v = x * 1.0
    np.putmask(v, v > 0.8, 0.0)
    return np.sum(v * v)


@write(_a(3, 3, seed=38), 0.6, argnums=(0, 1))
def fill_diagonal_scalar(x, s):
    u = x.copy()
    np.fill_diagonal(u, s * 2.0)
    return np.sum(u * u)


@write(_a(3, 3, seed=38))
def fill_diagonal_array_into_constant(x):
    w = np.zeros((3, 3))
    np.fill_diagonal(w, x[0])
    return np.sum(w * x)


@write(_a(3, 3, seed=38))
def fill_diagonal_wrap(x):
    t = np.zeros((7, 3))
    np.fill_diagonal(t, x[1], wrap=True)
    return np.sum(t * t)


@write(_a(3, 4, seed=39))
def flat_element_write(x):
    u = x.copy()
    u.flat[3] = x[0, 0] ** 2
    return np.sum(u * u) + float(u.flat[7])


@write(_a(3, 4, seed=39))
def flat_fancy_and_slice_writes(x):
    u = x.copy()
    u.flat[[1, 5]] = np.sin(x[1, :2])
    u.flat[8:11] = x[2, :3] * 2.0
    return np.sum(u * u)


@write(_a(3, 4, seed=39))
def flat_write_through_transpose(x):
    t = x.copy()
    t.T.flat[1] = 5.0 * x[2, 2]  # the transpose's C order: element [1, 0] of t
    return np.sum(t * t)


@write(_a(3, 4, seed=39))
def flat_assign_all(x):
    w = np.zeros(5)
    w.flat = x[0, 0]
    return np.sum(w * w) + np.sum(w)


# ---- in-place writers on views that are not C-contiguous --------------------------------
# put, place, putmask, ufunc.at, .flat and fill_diagonal address the view in its own C order,
# which for a transposed view is not the order of the memory underneath.

_W43 = np.arange(12.0).reshape(4, 3)
_M34 = np.array([[True, False, True, True], [False, True, True, False], [True, True, False,
                                                                          False]])


@write(_a(4, 3, seed=45))
def put_on_transposed_view(x):
    b = x * 1.0
    b.T.put([4, 1], np.array([0.3, 0.7]) * x[0, 0])
    return np.sum(b * b * _W43)


@write(_a(4, 3, seed=45))
def np_put_on_transposed_view(x):
    b = x * 1.0
    np.put(b.T, [0, 7, 9], np.sin(x[1]))
    return np.sum(b * b * _W43)


@write(_a(4, 3, seed=45))
def fill_diagonal_on_transposed_view(x):
    b = x * 1.0
    np.fill_diagonal(b.T, x[0, 1])
    return np.sum(b * b * _W43)


@write(_a(4, 3, seed=45))
def fill_diagonal_on_strided_view(x):
    b = x * 1.0
    np.fill_diagonal(b[::2], x[0, 1])
    return np.sum(b * b * _W43)


@write(_a(4, 3, seed=45))
def place_and_putmask_on_transposed_view(x):
    b = x * 1.0
    np.place(b.T, _M34, x[0, :2] * 3.0)
    c = x * 2.0
    np.putmask(c.T, _M34, np.sin(x[1, :]))
    return np.sum(b * b * _W43) + np.sum(c * c * _W43)


@write(_a(4, 3, seed=45))
def add_at_and_flat_on_transposed_view(x):
    b = x * 1.0
    np.add.at(b.T, ([0, 0, 2], [1, 1, 3]), x[2, :])
    b.T.flat[2:9:3] = x[0, :3]
    return np.sum(b * b * _W43)


# ---- constants read by the reverse pass, then overwritten -------------------------------


@write(_a(6, seed=42))
def saved_constant_overwritten_untraced(x):
    b = np.ones(4)
    t = x[:2] * b[:2]  # the multiply keeps b[:2] for d/dx
    b[:2] = 5.0  # an untraced write into it
    return np.sum(t * t) + np.sum(b)


@write(_a(6, seed=43))
def saved_constant_updated_in_place(x):
    c = np.full(6, 2.0)
    y = np.sin(x) * c
    c *= 3.0
    return np.sum(y * y) + np.sum(c * x)


@write(_a(6, seed=44))
def saved_constant_buffer_becomes_traced(x):
    b = np.ones(8)
    b[1:7] = x * b[0:6]  # keeps the constant b[0:6], then overwrites b[1:7]
    return np.sum(b * b)


# ---- arrays held as attributes and inside containers ------------------------------------


class Rod:
    """Legacy-style state object: arrays as attributes, mutated by methods."""

    def __init__(self, u0):
        self.u = u0.copy()
        self.flux = np.zeros(len(u0) - 1)
        self.odd = self.u[1::2]  # a view kept as an attribute

    def step(self, c):
        np.subtract(self.u[1:], self.u[:-1], out=self.flux)
        self.u[1:-1] += c * (self.flux[1:] - self.flux[:-1])

    def relax(self):
        self.odd *= 0.5
        self.u.sort()


@write(_a(7, seed=40), 0.2)
@write(_a(7, seed=40), 0.2, argnums=(0, 1))
def attribute_arrays_mutated_by_methods(x, c):
    rod = Rod(0.1 * np.sin(x) + np.arange(7.0))  # well separated: the sort is smooth
    for _ in range(3):
        rod.step(c)
    rod.relax()
    return np.sum(rod.u * rod.u) + np.sum(rod.flux)


@write(_a(4, seed=41))
def arrays_in_a_list(x):
    bufs = [np.zeros(4), x.copy()]
    for b in bufs:
        b *= 2.0
        b += x
    bufs[0][:2] = bufs[1][2:] ** 2
    return np.sum(bufs[0] * bufs[1])


@write(_a(4, seed=41))
def arrays_in_a_dict(x):
    state = {"u": x * 1.0, "v": np.ones(4)}
    state["u"] += np.sin(x)
    state["v"][1:] = state["u"][:3]
    state["v"][::2] *= 2.0
    return np.sum(state["u"]) + np.sum(state["v"] * x)


@write(_a(4, seed=41))
def arrays_in_a_tuple(x):
    pair = (x.copy(), np.ones(3))
    pair[1][:] = pair[0][1:] * 3.0
    pair[0][1:] *= pair[1]
    return np.sum(pair[0] ** 2) + np.sum(pair[1])


# =======================================================================================
# 2. every way NumPy code aliases
# =======================================================================================


@alias(_a(8, seed=50))
def strided_and_negative_step_views(x):
    u = x.copy()
    v = u[::2]
    v *= x[1::2]
    r = u[::-1]
    r[:2] = np.sin(x[:2])
    s = u[5:1:-3]
    s += 1.0
    return np.sum(u * u)


@alias(_a(6, seed=51))
def reshape_and_ravel_views(x):
    u = x.copy()
    m = u.reshape(2, 3)
    m[1] = np.sin(m[0])
    r = m.ravel()
    r[::4] = 0.5 * r[1::4]
    c = m.reshape(-1)
    c[2] *= 3.0
    return np.sum(u * x)


@alias(_a(3, 4, seed=52))
def reshape_and_ravel_copies_do_not_alias(x):
    u = x.copy()
    w = u.T.reshape(-1)  # a copy: writes must not reach u
    w[0] = 100.0 * x[0, 0]
    r = u[:, ::2].ravel()  # a copy as well
    r *= 3.0
    return np.sum(u * u) + np.sum(w) + np.sum(r)


@alias(_a(3, 4, seed=53))
def transpose_swapaxes_views(x):
    u = x.copy()
    u.T[0] = x[:, 1] ** 2
    np.transpose(u)[2, 1:] = np.sin(x[0, :2])
    u.swapaxes(0, 1)[3, :] *= 2.0
    t = np.zeros((2, 3, 4))
    np.transpose(t, (2, 0, 1))[1] = x[:2, :3]
    np.swapaxes(t, 0, 2)[3, 2] = x[2, :2]
    return np.sum(u * u) + np.sum(t * t)


@alias(_a(3, 3, seed=54))
def diagonal_view_reads_after_writes(x):
    u = x.copy()
    d = u.diagonal()  # a read-only view in NumPy: reads only
    off = np.diagonal(u, 1)
    u[1, 1] = x[0, 0] ** 2
    u[:, 2] *= 3.0
    return np.sum(d * d) + np.sum(off * x[0, :2])


@alias(_a(5, seed=55))
def view_method(x):
    u = x.copy()
    v = u.view()
    v[0] = np.sin(x[1])
    v[2:] *= 2.0
    return np.sum(u * u)


@alias(_a(5, seed=55))
def asarray_is_the_same_array(x):
    u = x.copy()
    a = np.asarray(u)
    a += x
    b = np.asarray(a, dtype=np.float64)
    b[-1] *= 2.0
    return np.sum(u * u)


@alias(_a(4, 6, seed=56))
def views_of_views(x):
    u = x.copy()
    w = u[1:, ::-1]
    col = w[:, 1]
    col[:] = np.exp(x[0, :3])
    t = w.T[::2]
    t[1] += 1.0
    e = u[...]
    e[0, :2] = e[3, 4:] * 2.0
    return np.sum(u * u)


@alias(_a(6, seed=57))
def stale_views_read_after_base_writes(x):
    u = x.copy()
    tail = u[2:]
    head = u[:3]
    u[:] = x ** 2
    u[1] = 7.0 * x[0]
    return np.sum(tail[:2] * head[1:]) + np.sum(np.sin(head))


@alias(_a(8, seed=58))
def overlapping_views_augmented(x):
    u = x.copy()
    a = u[:5]
    b = u[3:]
    a += b  # the operands overlap
    return np.sum(u * u)


@alias(_a(8, seed=58))
def overlapping_shift_assignment(x):
    u = x * 2.0
    u[1:] = u[:-1]  # NumPy copies the source first
    return np.sum(u * u * x)


@alias(_a(8, seed=58))
def overlapping_copyto(x):
    u = x * 2.0
    np.copyto(u[2:], u[:-2])
    return np.sum(u * u * x)


def _mutates_first(a, b):
    a *= 2.0
    a[0] = np.sin(b[1])
    n = min(len(a), len(b))
    return np.sum(a[:n] * b[:n])


@alias(_a(5, seed=59))
def same_array_passed_twice_inside(x):
    u = x.copy()
    return _mutates_first(u, u)  # b sees the writes through a


@alias(_a(6, seed=60))
def overlapping_slices_passed_inside(x):
    u = x.copy()
    return _mutates_first(u, u[1:])


# =======================================================================================
# 5. inputs mutated by the function
# =======================================================================================


@inputs(_a(5, seed=70))
def input_ufunc_out_and_setitem(x):
    np.exp(x, out=x)
    x[::2] = np.sin(x[1::2].sum())
    return np.sum(x * x)


@inputs(_a(6, seed=71))
def input_read_then_overwritten(x):
    y = np.sin(x)  # saves x for the reverse pass
    x[:] = 0.0
    x += y
    return np.sum(y * y) + np.sum(x)


@inputs(_a(6, seed=72))
def input_old_view_read_after_write(x):
    v = x[1:]
    x *= 2.0
    x[0] = v[2] ** 2
    return np.sum(v * v) + x[0]


@inputs(_a(3, 4, seed=73))
def input_written_through_transpose(x):
    t = x.T
    t[0] *= 3.0
    x[1] = np.sin(x[0])
    return np.sum(x * x)


@inputs(_a(3, 4, seed=73))
def input_copyto_and_add_at(x):
    np.copyto(x[1], np.sin(x[0]))
    np.add.at(x, (2, [0, 0, 1]), 1.5)
    return np.sum(x * x)


@inputs(np.array([0.31, -0.72, 0.95, 0.08, -0.44, 0.63]))
def input_sorted_and_filled(x):
    x.sort()
    s = x[-1]
    x[:2].fill(s * 0.5)
    return np.sum(x * np.arange(6.0))


@inputs(_a(4, seed=74), _a(4, seed=75), argnums=(0, 1))
def two_inputs_mutating_each_other(a, b):
    a += b
    b *= a
    np.multiply(a, b, out=a)
    return np.sum(a * b)


@inputs(np.array(0.7))
def zero_d_array_input(x):
    x[...] = x * x
    x += 1.0
    return x * 3.0


def test_input_view_argument_and_its_base_untouched():
    base = _a(10, seed=76)
    view = base[::2]
    snap = base.copy()

    def f(v):
        v[1:3] = v[0] ** 2
        v *= 2.0
        return np.sum(v * v)

    assert_grad_matches_fd(f, view)
    assert np.array_equal(base, snap)


def test_transposed_input_untouched():
    base = _a(3, 4, seed=77)
    snap = base.copy()

    def f(t):
        t[0] = np.sin(t[1])
        t += 1.0
        return np.sum(t * t * t)

    assert_grad_matches_fd(f, base.T)
    assert np.array_equal(base, snap)


# ---- aliased arguments: f(x, x), f(x, x[1:]) ---------------------------------------------
# framead must run f on arguments that alias each other exactly as NumPy does (the write
# through ``a`` is visible through ``b``), so its value is the native one. The gradients with
# respect to the two arguments satisfy the chain rule through x -> (x, x) (resp. (x, x[1:])):
# their sum (the second one placed where it lives in x) is the derivative of
# ``lambda x: f(x, x)``.


def _mutates_shared(a, b):
    a *= 2.0
    a[0] = a[0] + np.sin(b[-1])
    return np.sum(a[: len(b)] * b) + np.sum(np.exp(b))


@pytest.mark.parametrize("offset", [0, 1], ids=["f(x, x)", "f(x, x[1:])"])
def test_aliased_arguments(offset):
    eng = get_engine()
    x = _a(6, seed=78)
    before = x.copy()

    def second(z):  # the same object for f(x, x), a view for f(x, x[1:])
        return z[offset:] if offset else z

    def joined(z):
        return _mutates_shared(z, second(z))

    ref, err = fd_grad(joined, (x,), 0, with_error=True)
    assert np.all(err < 1e-9)
    if FAKE:
        pytest.skip("the fake engine copies each argument separately")
    xn = x.copy()
    native = _mutates_shared(xn, second(xn))
    value, (g0, g1) = eng.value_and_grad(_mutates_shared, argnums=(0, 1))(x, second(x))
    assert np.array_equal(x, before), "grad wrote into the caller's array"
    assert repr(float(value)) == repr(float(native)), (
        f"value {value!r} differs from the native f(x, x{'[1:]' if offset else ''}) = "
        f"{native!r}: the arguments' aliasing was not preserved")
    total = np.array(g0, dtype=float)
    total[offset:] += g1
    np.testing.assert_allclose(total, ref, rtol=1e-6, atol=1e-8)


# =======================================================================================
# parametrized runs
# =======================================================================================


# Known gaps (id -> reason) are listed here and run as strict xfails.
KNOWN_GAPS: dict[str, str] = {}


@pytest.mark.parametrize("fn, args, argnums", [
    pytest.param(*case.values, id=case.id, marks=pytest.mark.xfail(
        reason=KNOWN_GAPS[case.id], strict=True)) if case.id in KNOWN_GAPS and not FAKE
    else case
    for case in WRITES])
def test_write_pattern(fn, args, argnums):
    check(fn, *fresh(args), argnums=argnums)


@pytest.mark.parametrize("fn, args, argnums", ALIASES)
def test_alias_pattern(fn, args, argnums):
    check(fn, *fresh(args), argnums=argnums)


@pytest.mark.parametrize("fn, args, argnums", INPUTS)
def test_input_mutation_pattern(fn, args, argnums):
    before = snapshot(args)
    check(fn, *args, argnums=argnums)
    for b, a in zip(before, args, strict=True):
        assert np.array_equal(a, b), "the caller's argument changed"


# =======================================================================================
# 3. copy-on-write: bytes copied, exactly
# =======================================================================================

N_GRID, N_STEPS, C = 32, 10, 0.2


def stencil_linear(u0):
    u = u0.copy()
    for _ in range(N_STEPS):
        u[1:-1] = u[1:-1] + C * (u[2:] - 2 * u[1:-1] + u[:-2])
    return np.sum(u * u)


def stencil_linear_augmented(u0):
    u = u0.copy()
    for _ in range(N_STEPS):
        u[1:-1] += C * (u[2:] - 2 * u[1:-1] + u[:-2])
    return np.sum(u * u)


def stencil_linear_out(u0):
    u = u0.copy()
    lap = np.empty(N_GRID - 2)
    for _ in range(N_STEPS):
        np.subtract(u[2:] + u[:-2], 2.0 * u[1:-1], out=lap)
        np.add(u[1:-1], C * lap, out=u[1:-1])
    return np.sum(u * u)


def stencil_nonlinear_fresh_save(u0):
    # nonlinear, but its rule saves a temporary, never memory that is written later
    u = u0.copy()
    for _ in range(N_STEPS):
        u[1:-1] = u[1:-1] + C * np.sin(u[2:] - u[:-2])
    return np.sum(u * u)


def disjoint_write_after_save(u0):
    u = u0.copy()
    t = np.sin(u[:8])  # saves u[:8]
    u[8:] = 0.0  # never overlaps it
    return np.sum(t) + np.sum(u * u)


def stencil_product(u0):
    # (C * u[2:]) * u[:-2]: the multiply saves the view u[:-2] (the other operand is a fresh
    # temporary); the write to u[1:-1] overlaps it, so each step copies that view once
    u = u0.copy()
    for _ in range(N_STEPS):
        u[1:-1] = u[1:-1] + C * u[2:] * u[:-2]
    return np.sum(u * u)


def stencil_sin_in_place(u0):
    # np.sin saves its argument, the view u[1:-1], which the same statement overwrites
    u = u0.copy()
    for _ in range(N_STEPS):
        u[1:-1] = np.sin(u[1:-1])
    return np.sum(u * u)


def repeated_self_product(x):
    # u *= x saves the old u (for d/dx) in the memory it overwrites: a whole copy per step
    u = x.copy()
    for _ in range(N_STEPS):
        u *= x
    return np.sum(u)


_ITEM = 8
_VIEW = (N_GRID - 2) * _ITEM


@pytest.mark.parametrize("fn, nbytes, ncopies", [
    (stencil_linear, 0, 0),
    (stencil_linear_augmented, 0, 0),
    (stencil_linear_out, 0, 0),
    (stencil_nonlinear_fresh_save, 0, 0),
    (disjoint_write_after_save, 0, 0),
    (stencil_product, N_STEPS * _VIEW, N_STEPS),
    (stencil_sin_in_place, N_STEPS * _VIEW, N_STEPS),
    (repeated_self_product, N_STEPS * N_GRID * _ITEM, N_STEPS),
])
def test_copy_on_write_bytes(fn, nbytes, ncopies):
    if FAKE:
        pytest.skip("trace statistics need framead")
    x = np.sin(np.linspace(0.0, 3.0, N_GRID)) * 0.5
    t = get_engine().trace(fn, x)
    assert t.stats["bytes_copied"] == nbytes, (
        f"{fn.__name__}: copied {t.stats['bytes_copied']} bytes in {t.stats['copies']} "
        f"copies; expected {nbytes} in {ncopies} (what the rules saved and a write overwrote)")
    assert t.stats["copies"] == ncopies
    assert_grad_matches_fd(fn, x)


# =======================================================================================
# 4. unknown mutators: a C function without a rule writes into a traced array
# =======================================================================================

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
_memset = _libc.memset
_memset.argtypes = [np.ctypeslib.ndpointer(dtype=np.float64, flags="C_CONTIGUOUS"),
                    ctypes.c_int, ctypes.c_size_t]
_memset.restype = ctypes.c_void_p


def memset_zeroes_traced_array(x):
    u = x * 2.0
    _memset(u, 0, 2 * u.itemsize)  # MUTATOR
    return np.sum(u * u)


def memset_through_a_view(x):
    u = np.sin(x)
    _memset(u[3:], 0, u.itemsize)  # MUTATOR
    return np.sum(u * x)


def shuffle_in_place(x):
    u = np.exp(x)
    np.random.default_rng(0).permuted(u, out=u)  # MUTATOR
    return np.sum(u * np.arange(len(u)))


def legacy_shuffle_input(x):
    np.random.default_rng(1).permuted(x, out=x)  # MUTATOR
    return np.sum(x * np.arange(len(x)) ** 2)


def _marker_line(fn) -> int:
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, text in enumerate(lines) if "# MUTATOR" in text)


@pytest.mark.parametrize("fn", [memset_zeroes_traced_array, memset_through_a_view,
                                shuffle_in_place, legacy_shuffle_input])
def test_unknown_mutator_reported_at_user_line(fn):
    if FAKE:
        pytest.skip("hazards need framead")
    x = _a(6, seed=80)
    before = x.copy()
    t = get_engine().trace(fn, x)
    assert np.array_equal(x, before)
    line = _marker_line(fn)
    hits = [h for h in t.hazards if h.code in ("FA104", "FA101")]
    assert hits, f"no FA104/FA101 hazard for the unknown mutator; hazards: {t.hazards!r}"
    assert any(h.loc.line == line and h.loc.file == __file__ for h in hits), (
        f"the hazard does not name {__file__}:{line}: {[str(h) for h in hits]}")


def test_unknown_mutator_gradient_never_silently_wrong():
    """When framead returns a gradient for a program with an unknown mutator without
    reporting it, that gradient must be right."""
    if FAKE:
        pytest.skip("hazards need framead")
    x = _a(6, seed=81)
    t = get_engine().trace(memset_zeroes_traced_array, x)
    if any(h.code in ("FA104", "FA101") for h in t.hazards):
        return  # reported: not silent
    assert_grad_matches_fd(memset_zeroes_traced_array, x)
