"""NumPy and SciPy functions handed to framead directly, with the keyword forms their own
docstrings and test suites use (numpy/_core/tests, numpy/lib/tests, scipy/special/tests).

Modelled on JAX's tests/lax_numpy_test.py (Apache-2.0) "every jnp function over shapes and
keywords" autodiff checks, written against NumPy itself.
"""

from __future__ import annotations

import numpy as np

from . import Case, combos

O = "jax tests/lax_numpy_test.py"


def cases() -> list[Case]:
    rs = np.random.RandomState(11)
    R = rs.randn

    def P(*s):
        return rs.rand(*s) + 0.5

    v, m, t = R(5), R(3, 4), R(2, 3, 4)
    out: list[Case] = []
    red = [np.cumsum, np.cumprod, np.nansum, np.nanmean, np.nanmax, np.nanmin, np.nanprod,
           np.nanvar, np.nanstd, np.ptp, np.median, np.average, np.amax, np.amin,
           np.nancumsum, np.nancumprod, np.logaddexp.reduce, np.add.reduce, np.multiply.reduce,
           np.maximum.reduce, np.add.accumulate, np.multiply.accumulate, np.linalg.norm]
    for f in red:
        name = getattr(f, "__name__", "f")
        if name in ("reduce", "accumulate"):
            name = f"{f.__self__.__name__}.{name}"
        if f in (np.cumprod, np.nanprod, np.nancumprod, np.multiply.reduce,
                 np.multiply.accumulate):
            args = [P(5), P(3, 4)]
        else:
            args = [v, m]
        out += combos(f"api/{name}", f, (0,), args, origin=O)
        out += combos(f"api/{name}", f, (0,), [t], origin=O, axis=[0, -1])
    for f in (np.percentile, np.quantile, np.nanpercentile, np.nanquantile):
        q = 30.0 if "percentile" in f.__name__ else 0.3
        out += combos(f"api/{f.__name__}", f, (0,), [v, m], [q], origin=O)
        out += combos(f"api/{f.__name__}", f, (0,), [t], [q], origin=O, axis=[1],
                      method=["linear", "midpoint", "nearest", "lower"])
    out += combos("api/average_weights", np.average, (0,), [m], origin=O, axis=[0],
                  weights=[None, P(3)]) + [
        Case("api/average_w", lambda a, w: np.average(a, axis=1, weights=w), (m, P(4)), (0, 1),
             O)]
    elementwise = [np.sin, np.cos, np.tan, np.arcsin, np.arccos, np.arctan, np.sinh, np.cosh,
                   np.tanh, np.arcsinh, np.exp, np.exp2, np.expm1, np.log, np.log2, np.log10,
                   np.log1p, np.sqrt, np.cbrt, np.square, np.reciprocal, np.abs, np.fabs,
                   np.negative, np.positive, np.sinc, np.i0, np.deg2rad, np.rad2deg]
    for f in elementwise:
        x = P(3, 4) * 0.5 if f in (np.arcsin, np.arccos) else P(3, 4)
        out += combos(f"api/{f.__name__}", f, (0,), [x, float(x[0, 0]), x[0, 0]], origin=O)
    binary = [np.add, np.subtract, np.multiply, np.divide, np.true_divide, np.power,
              np.float_power, np.maximum, np.minimum, np.fmax, np.fmin, np.arctan2, np.hypot,
              np.logaddexp, np.logaddexp2, np.copysign, np.heaviside, np.fmod, np.remainder,
              np.dot, np.vdot, np.inner, np.outer, np.kron, np.cross, np.matmul,
              np.convolve, np.correlate, np.ldexp if False else np.nextafter]
    for f in binary:
        if f is np.nextafter:
            continue
        if f is np.cross:
            a, b = R(4, 3), R(4, 3)
        elif f in (np.dot, np.matmul):
            a, b = R(3, 4), R(4, 2)
        elif f in (np.vdot, np.inner, np.outer, np.convolve, np.correlate):
            a, b = R(5), R(3)
        else:
            a, b = P(3, 4), P(4) + 0.3
        out += combos(f"api/{f.__name__}", f, (0, 1), [a], [b], origin=O)
    out += [
        Case("api/interp", lambda x, fp: np.interp(x, [0.0, 0.5, 1.0, 2.0], fp),
             (rs.rand(5) * 1.9 + 0.05, R(4)), (0, 1), O),
        Case("api/polyval", np.polyval, (R(4), R(5)), (0, 1), O),
        Case("api/polyfit", lambda x, y: np.polyfit(x, y, 2), (np.linspace(0, 1, 6) + 0.01 * R(6),
                                                              R(6)), (0, 1), O),
        Case("api/polyder_val", lambda p, x: np.polyval(np.polyder(p), x), (R(4), R(3)),
             (0, 1), O),
        Case("api/polymul", np.polymul, (R(3), R(2)), (0, 1), O),
        Case("api/trapezoid", np.trapezoid, (R(6), np.linspace(0, 1, 6) + 0.01 * R(6)), (0, 1),
             O),
        Case("api/cov", np.cov, (R(3, 6),), (0,), O),
        Case("api/corrcoef", np.corrcoef, (R(3, 6),), (0,), O),
        Case("api/diff_prepend", lambda x: np.diff(x, prepend=0.0, append=x[-1]), (v,), (0,),
             O),
        Case("api/ediff1d", np.ediff1d, (v,), (0,), O),
        Case("api/gradient", np.gradient, (R(6),), (0,), O),
        Case("api/gradient_2d", lambda x: np.gradient(x, axis=1), (m,), (0,), O),
        Case("api/gradient_spacing", lambda y, x: np.gradient(y, x),
             (R(6), np.cumsum(P(6))), (0, 1), O),
        Case("api/clip", lambda x: np.clip(x, -0.5, 0.5), (m,), (0,), O),
        Case("api/clip_arrays", np.clip, (m, -P(4), P(4)), (0, 1, 2), O),
        Case("api/where", lambda x, y: np.where(x > 0, x, y), (m, R(3, 4)), (0, 1), O),
        Case("api/sort_axis0", lambda x: np.sort(x, axis=0), (m,), (0,), O),
        Case("api/take", lambda x: np.take(x, [0, 2, 2, 1], axis=1), (m,), (0,), O),
        Case("api/take_along_axis", lambda x: np.take_along_axis(x, np.argsort(x, 1), 1),
             (m,), (0,), O),
        Case("api/put_copy", lambda x: (lambda y: (np.put(y, [0, 3], [1.0, 2.0]), y)[1])(
            x.copy()) * x, (v,), (0,), O),
        Case("api/pad_constant", lambda x: np.pad(x, ((1, 2), (0, 1))), (m,), (0,), O),
        Case("api/pad_reflect", lambda x: np.pad(x, 2, mode="reflect"), (v,), (0,), O),
        Case("api/pad_edge", lambda x: np.pad(x, 1, mode="edge"), (m,), (0,), O),
        Case("api/pad_wrap", lambda x: np.pad(x, 2, mode="wrap"), (v,), (0,), O),
        Case("api/roll_axes", lambda x: np.roll(x, (1, -1), axis=(0, 2)), (t,), (0,), O),
        Case("api/flip_axes", lambda x: np.flip(x, axis=(0, 2)), (t,), (0,), O),
        Case("api/moveaxis", lambda x: np.moveaxis(x, 0, -1), (t,), (0,), O),
        Case("api/broadcast_to", lambda x: np.broadcast_to(x, (3, 5)), (v,), (0,), O),
        Case("api/broadcast_arrays", lambda x, y: np.broadcast_arrays(x, y)[0] * 2,
             (v, R(3, 1)), (0, 1), O),
        Case("api/meshgrid", lambda x, y: np.meshgrid(x, y)[0] * np.meshgrid(x, y)[1],
             (R(3), R(4)), (0, 1), O),
        Case("api/block", lambda a, b: np.block([[a, b], [b, a]]), (R(2, 2), R(2, 2)), (0, 1),
             O),
        Case("api/append_axis", lambda a, b: np.append(a, b, axis=0), (m, R(1, 4)), (0, 1), O),
        Case("api/insert", lambda a: np.insert(a, 2, 7.0), (v,), (0,), O),
        Case("api/delete", lambda a: np.delete(a, [1, 3]), (v,), (0,), O),
        Case("api/triu_indices", lambda a: a[np.triu_indices(4)], (R(4, 4),), (0,), O),
        Case("api/diag_indices", lambda a: a[np.diag_indices(4)], (R(4, 4),), (0,), O),
        Case("api/diagflat", np.diagflat, (R(3),), (0,), O),
        Case("api/vander", lambda x: np.vander(x, 3), (R(4),), (0,), O),
        Case("api/tri_mask", lambda x: x * np.tri(3, 4), (m,), (0,), O),
        Case("api/einsum_optimize", lambda a, b: np.einsum("ij,jk,kl->il", a, b, a.T,
                                                           optimize=True),
             (R(2, 3), R(3, 3)), (0, 1), O),
        Case("api/tensordot_axes_int", lambda a, b: np.tensordot(a, b, 1), (R(2, 3), R(3, 4)),
             (0, 1), O),
        Case("api/sum_where", lambda x: np.sum(x, where=x > 0), (m,), (0,), O),
        Case("api/mean_dtype", lambda x: np.mean(x, dtype=np.float64, axis=0), (m,), (0,), O),
        Case("api/max_initial", lambda x: np.max(x, initial=-10.0, axis=1), (m,), (0,), O),
        Case("api/prod_zero", lambda x: np.prod(x * np.array([1.0, 0.0, 1.0, 1.0, 1.0])),
             (v,), (0,), O),
        Case("api/real_imag_of_complex_ctor", lambda x, y: np.abs(x + 1j * y) ** 2,
             (m, R(3, 4)), (0, 1), O),
        Case("api/angle_deg", lambda z: np.angle(z, deg=True), (R(3) + 1j * R(3),), (0,), O),
        Case("api/around", lambda x: np.around(x, 2) * x, (v,), (0,), O),
        Case("api/frexp", lambda x: np.frexp(x)[0], (P(4) * 3,), (0,), O),
        Case("api/modf", lambda x: np.modf(x)[0], (P(4) * 3,), (0,), O),
        Case("api/divmod", lambda x, y: np.divmod(x, y)[1], (P(4) * 3, P(4)), (0, 1), O),
        Case("api/nan_to_num", lambda x: np.nan_to_num(np.log(x)), (R(5),), (0,), O),
        Case("api/isfinite_mask", lambda x: np.where(np.isfinite(np.log(x)), x, 0.0), (R(5),),
             (0,), O),
        Case("api/apply_along_axis", lambda x: np.apply_along_axis(np.sum, 1, x ** 2), (m,),
             (0,), O),
        Case("api/vectorize", lambda x: np.vectorize(lambda a: a * a + 1.0)(x), (v,), (0,), O),
        Case("api/frompyfunc_free", lambda x: np.array([xi ** 3 for xi in x]), (v,), (0,), O),
        Case("api/asarray_list", lambda x: np.asarray([x[0], x[1] * 2.0, 3.0]), (v,), (0,), O),
        Case("api/stack_list_scalars", lambda a, b: np.stack([a, b, a * b]), (0.3, 1.7),
             (0, 1), O),
        Case("api/linspace_arrays", lambda a, b: np.linspace(a, b, 4), (R(3), R(3)), (0, 1),
             O),
        Case("api/logspace", lambda a: np.logspace(a, a + 1.0, 4), (0.3,), (0,), O),
        Case("api/geomspace", lambda a: np.geomspace(a, 10.0, 4), (1.3,), (0,), O),
        Case("api/unwrap", np.unwrap, (np.cumsum(P(6)),), (0,), O),
        Case("api/histogram_weights", lambda w: np.histogram(np.arange(6.0), bins=3,
                                                             weights=w)[0], (R(6),), (0,), O),
        Case("api/bincount_weights", lambda w: np.bincount([0, 1, 1, 2, 0, 2], weights=w),
             (R(6),), (0,), O),
        Case("api/searchsorted_interp", lambda x: x[np.searchsorted(x, 0.1) % 5] * 2,
             (np.sort(R(5)),), (0,), O),
        Case("api/lexsort_gather", lambda x: x[np.lexsort((x,))], (R(5),), (0,), O),
        Case("api/unique_gather", lambda x: np.unique(x), (R(5),), (0,), O),
        Case("api/compress", lambda x: np.compress([True, False, True, True, False], x), (v,),
             (0,), O),
        Case("api/extract", lambda x: np.extract(x > 0, x), (v,), (0,), O),
        Case("api/choose", lambda a, b: np.choose([0, 1, 0, 1], [a, b]), (R(4), R(4)), (0, 1),
             O),
        Case("api/piecewise", lambda x: np.piecewise(x, [x < 0, x >= 0], [lambda a: -a,
                                                                           lambda a: a * a]),
             (v,), (0,), O),
        Case("api/ravel_multi_index_gather", lambda x: x.flat[np.ravel_multi_index(
            ([0, 2], [1, 3]), (3, 4))], (m,), (0,), O),
        Case("api/flat_setitem", lambda x: (lambda y: (y.flat.__setitem__(2, 5.0), y)[1])(
            x * 1.0), (m,), (0,), O),
        Case("api/copyto", lambda x: (lambda y: (np.copyto(y, x[0]), y)[1])(np.zeros(4)) * x,
             (m,), (0,), O),
        Case("api/fill_diagonal", lambda x: (lambda y: (np.fill_diagonal(y, 0.0), y)[1])(
            x.copy()), (R(3, 3),), (0,), O),
        Case("api/setitem_bool", lambda x: (lambda y: (y.__setitem__(y < 0, 0.0), y)[1])(
            x.copy()), (v,), (0,), O),
        Case("api/inplace_ops", lambda x: (lambda y: (y.__imul__(2.0), y.__iadd__(x), y)[2])(
            x.copy()), (v,), (0,), O),
    ]
    def flat_set(x):
        y = x * 1.0
        y.flat[2] = 5.0
        return y

    def bool_set(x):
        y = x.copy()
        y[y < 0] = 0.0
        return y

    def inplace(x):
        y = x.copy()
        y *= 2.0
        y += x
        y[1:3] -= x[:2]
        return y

    def accumulate_loop(x):
        out = np.empty_like(x)
        acc = 0.0
        for i in range(x.shape[0]):
            acc = acc + x[i]
            out[i] = acc
        return out

    from numpy.lib.stride_tricks import as_strided, sliding_window_view

    out += [Case("api/as_strided", lambda x: as_strided(x, shape=(3, 3), strides=(8, 8)) * 1.0,
                 (R(6),), (0,), O),
            Case("api/sliding_window_view", lambda x: sliding_window_view(x, 3).sum(axis=1),
                 (R(6),), (0,), O),
            Case("api/flat_setitem_stmt", flat_set, (m,), (0,), O),
            Case("api/setitem_bool_stmt", bool_set, (v,), (0,), O),
            Case("api/inplace_stmt", inplace, (v,), (0,), O),
            Case("api/accumulate_loop", accumulate_loop, (m,), (0,), O)]
    return out
