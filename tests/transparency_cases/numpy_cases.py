# ruff: noqa  (deliberately unusual code: these programs exercise odd corners of Python)
"""NumPy code: in-place writes, views, fancy indexing, reductions, errors, warnings."""

import os
import warnings

import numpy as np

from . import case


def _arr(n, seed=0):
    return np.random.default_rng(seed).standard_normal(n)


@case(_arr(8))
def inplace_element_and_slice_writes(x):
    y = np.zeros_like(x)
    for i in range(len(x)):
        y[i] = x[i] * 2.0 + 1.0
    y[2:5] = -1.5
    y[::3] += 0.25
    y[-1] *= 3.0
    return y, x


@case(_arr(12, 1))
def views_and_base_writes(x):
    m = x.reshape(3, 4)
    row = m[1]
    row[:] = 0.5
    col = m[:, 2]
    col *= 10.0
    t = m.T
    t[0, 0] = -7.0
    return x, m.base is x, col.base is x, np.shares_memory(t, x), m.flags.c_contiguous


@case(_arr(10, 2))
def fancy_and_boolean_indexing(x):
    idx = np.array([0, 3, 3, 7])
    a = x[idx]
    mask = x > 0
    b = x[mask]
    y = x.copy()
    y[idx] = 1.0
    y[mask] *= -1.0
    z = np.zeros(5)
    np.add.at(z, [0, 1, 1, 4], 1.5)
    return a, b, y, z, np.nonzero(mask)[0]


@case(_arr(6, 3))
def mutate_input_array(x):
    x *= 2.0
    x[0] = np.nan
    x[1] = -0.0
    return x.sum(), np.nansum(x), x


@case(np.arange(24.0))
def reshape_transpose_stack(x):
    a = x.reshape(2, 3, 4)
    b = a.transpose(2, 0, 1)
    c = np.concatenate([a[0], a[1]], axis=0)
    d = np.stack([x[:4], x[4:8]])
    return b.shape, b[1, 1], c, d, np.moveaxis(a, 0, -1).strides == a.transpose(1, 2, 0).strides


@case(_arr(9, 4))
def reductions_and_cumulative(x):
    m = x.reshape(3, 3)
    return (m.sum(axis=0), m.mean(axis=1), m.max(), m.argmin(), np.cumsum(x), np.prod(m[0]),
            np.var(x), np.std(x, ddof=1), np.linalg.norm(m), np.trace(m), np.diff(x, 2),
            np.sort(x), np.argsort(x, kind="stable"), np.median(x))


@case(_arr(16, 5).reshape(4, 4))
def linear_algebra(a):
    b = a @ a.T + 4 * np.eye(4)
    l = np.linalg.cholesky(b)
    x = np.linalg.solve(b, np.ones(4))
    return b, l, x, np.linalg.det(b), np.einsum("ij,ij->", a, a), np.dot(a[0], a[1])


@case(_arr(5, 6))
def ufuncs_and_out_argument(x):
    out = np.empty_like(x)
    np.exp(x, out=out)
    np.multiply(out, 2.0, out=out)
    y = np.where(x > 0, np.sqrt(np.abs(x)), np.tanh(x))
    z = np.clip(x, -0.5, 0.5)
    return out, y, z, np.maximum(x, 0.1), np.hypot(x, 1.0), np.arctan2(x, 2.0)


@case()
def numpy_scalars_and_types():
    a = np.float64(1.5)
    b = np.float32(2.25)
    c = a * b
    d = np.int64(7) // 2
    e = np.float32(1) / np.float32(3)
    return (c, type(c).__name__, d, type(d).__name__, e, repr(e), a.item(), float(b),
            np.float64(0.1) + 0.2)


@case()
def numpy_broadcast_error():
    return np.ones(3) + np.ones(4)


@case()
def numpy_index_error():
    a = np.zeros((2, 3))
    return a[2, 0]


@case()
def numpy_axis_error():
    return np.zeros((2, 2)).sum(axis=3)


@case()
def numpy_shape_mismatch_assignment():
    a = np.zeros(5)
    a[1:3] = [1.0, 2.0, 3.0]


@case()
def numpy_linalg_error():
    return np.linalg.inv(np.zeros((2, 2)))


@case()
def numpy_floating_point_error_seterr():
    with np.errstate(divide="raise"):
        return np.ones(2) / np.zeros(2)


@case()
def numpy_runtime_warning_location():
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        with np.errstate(all="warn"):
            r = np.log(np.array([0.0, 1.0]))
            s = np.array([1.0]) / 0.0
    return r, s, [(os.path.basename(w.filename), w.lineno, str(w.message)) for w in ws]


@case()
def numpy_nan_and_negative_zero_bits():
    a = np.array([0.0, -0.0, np.nan, np.inf, -np.inf])
    b = a * -1.0
    return a, b, np.signbit(b), np.copysign(1.0, b)


@case(_arr(7, 7))
def numpy_loop_with_preallocated_output(x):
    n = len(x)
    out = np.empty(n)
    acc = 0.0
    for i in range(n):
        acc = 0.5 * acc + x[i]
        out[i] = acc
        if acc > 2.0:
            out[i:] = acc
            break
    return out


@case(_arr(20, 8))
def numpy_stencil_in_place(u):
    for _ in range(3):
        u[1:-1] = u[1:-1] + 0.25 * (u[:-2] - 2 * u[1:-1] + u[2:])
    return u


@case()
def numpy_structured_and_object_arrays():
    s = np.zeros(3, dtype=[("a", "f8"), ("b", "i4")])
    s["a"] = [1.5, 2.5, 3.5]
    s[1]["b"] = 7
    o = np.array([1, "x", None], dtype=object)
    return s, s["a"].sum(), o.tolist(), o.dtype.str


@case()
def numpy_apply_along_axis_and_vectorize():
    m = np.arange(6.0).reshape(2, 3)
    f = np.vectorize(lambda v: v * v if v > 2 else -v)
    return np.apply_along_axis(lambda r: r.max() - r.min(), 1, m), f(m), np.frompyfunc(
        lambda a, b: a + b, 2, 1)(m, 1.0).astype(float)


@case()
def numpy_random_generator_determinism():
    rng = np.random.default_rng(1234)
    return rng.standard_normal(3), rng.integers(0, 10, 4), rng.permutation(5)


@case()
def numpy_array_from_python_lists_of_floats():
    vals = [0.1 * i for i in range(5)]
    a = np.array(vals)
    b = np.asarray([vals, vals[::-1]])
    c = np.fromiter((v * v for v in vals), dtype=float)
    return a, b, c, a.tolist(), float(a.sum()), sum(vals)


@case()
def numpy_setitem_wrong_type_error():
    a = np.zeros(3)
    a[0] = "abc"


@case(_arr(6, 9))
def numpy_iteration_and_unpacking(x):
    a, b, *rest = x
    total = 0.0
    for v in x:
        total += v * v
    pairs = [(i, v) for i, v in enumerate(x.reshape(3, 2))]
    return a, b, rest, total, pairs[1][1]
