"""NumPy programs: indexing, reshaping, reductions, array construction, linalg and FFT.

Modelled on HIPS autograd's tests/test_numpy.py, tests/test_linalg.py and tests/test_fft.py
(MIT): the same operations, shapes and differentiated arguments, written as plain NumPy.
"""

from __future__ import annotations

import numpy as np

from . import Case

NP, LA, FFT = ("autograd tests/test_numpy.py", "autograd tests/test_linalg.py",
               "autograd tests/test_fft.py")


def _numpy(R) -> list[Case]:
    m1011, m1011b, v10, v11, v11b = R(10, 11), R(10, 11), R(10), R(11), R(11)
    m345, A564, A5 = R(3, 4, 5), R(5, 6, 4), R(5)
    C = R(4, 5) > 0
    const32 = R(3, 2)
    c10 = R(10)
    B564 = R(5, 6, 4)
    inds = np.ones(5)[:, None]
    y_nan = np.array([0.0, np.nan, np.inf, -np.inf])

    def dot(x, y):
        return np.dot(x, y)

    def outer(x, y):
        return np.outer(x, y)

    def sum_list(x, y):
        return sum([x, y])

    def fanout(x):
        y = x[::-1, 2:4, :]
        z = x[::-1, 3:5, :]
        return y + z

    def slices(x):
        y = x[2:6]
        z = y[1:3]
        return z

    def arr1(x):
        return np.array([x, x * 1.0, x + 2.5])

    def arr2(x):
        return np.array([[x, x * 1.0, x + 2.5], [x ** 2, x, x / 2.0]])

    def arr1_fan(x):
        A = np.array([x, x * 1.0, x + 2.5])
        return A + A

    def arr2_fan(x):
        A = np.array([[x, x * 1.0, x + 2.5], [x ** 2, x, x / 2.0]])
        return A + A

    def with_len(x):
        assert len(x) == 3
        return x

    def r_mixed(x):
        return np.r_[x, const32, x]

    def r_slicing(x):
        return np.r_[x, c10, 1:10]

    def c_mixed(x):
        return np.c_[x, const32, x]

    def where(x, y):
        return np.where(C, x, y)

    def cast_to_int(W):
        np.concatenate((W, inds), axis=1)
        new_W = W[:, :-1]
        new_inds = np.int64(W[:, -1])
        return new_W[new_inds].sum()

    def linspace(num):
        return lambda x, y: np.linspace(x, y, num)

    cases = [
        Case("np/dot[mat,vec]", dot, (m1011, v11), (0,), NP),
        Case("np/dot[mat,mat.T]", dot, (m1011, m1011b.T), (0,), NP),
        Case("np/dot[vec,mat]", dot, (v10, m1011), (0,), NP),
        Case("np/dot[vec,vec]", dot, (v11, v11b), (0,), NP),
        Case("np/dot[mat,float]", dot, (m1011, R()), (0,), NP),
        Case("np/dot[float,mat]", dot, (R(), m1011), (0,), NP),
        Case("np/dot[vec,float]", dot, (v10, R()), (0,), NP),
        Case("np/dot[float,vec]", dot, (R(), v10), (0,), NP),
        Case("np/outer", outer, (v11, v11b), (0,), NP),
        Case("np/max", lambda x: np.max(x), (m1011,), (0,), NP),
        Case("np/max_axis", lambda x: np.max(x, axis=1), (m345,), (0,), NP),
        Case("np/max_axis_keepdims", lambda x: np.max(x, axis=1, keepdims=True), (m345,),
             (0,), NP),
        Case("np/min", lambda x: np.min(x), (m1011,), (0,), NP),
        Case("np/min_axis", lambda x: np.min(x, axis=1), (m345,), (0,), NP),
        Case("np/min_axis_keepdims", lambda x: np.min(x, axis=1, keepdims=True), (m345,),
             (0,), NP),
        Case("np/sum", lambda x: np.sum(x), (m1011,), (0,), NP),
        Case("np/sum_axis0", lambda x: np.sum(x, axis=0), (m1011,), (0,), NP),
        Case("np/sum_keepdims", lambda x: np.sum(x, axis=0, keepdims=True), (m1011,), (0,), NP),
        Case("np/sum_axis_tuple", lambda x: np.sum(x, axis=(1, 2)), (R(10, 11, 7),), (0,), NP),
        Case("np/flipud", lambda x: np.flipud(x), (m1011,), (0,), NP),
        Case("np/fliplr", lambda x: np.fliplr(x), (m1011,), (0,), NP),
        Case("np/rot90", lambda x: np.rot90(x), (m1011,), (0,), NP),
        Case("np/cumsum_axis0", lambda x: np.cumsum(x, axis=0), (m1011,), (0,), NP),
        Case("np/cumsum_axis1", lambda x: np.cumsum(x, axis=1), (m1011,), (0,), NP),
        Case("np/cumsum_1d", lambda x: np.cumsum(x), (v10,), (0,), NP),
        Case("np/cumsum_no_axis", lambda x: np.cumsum(x), (m1011,), (0,), NP),
        Case("np/builtin_sum_of_list", sum_list, (m1011, m1011b), (0,), NP),
        Case("np/mean", lambda x: np.mean(x), (m1011,), (0,), NP),
        Case("np/mean_axis0", lambda x: np.mean(x, axis=0), (m1011,), (0,), NP),
        Case("np/mean_keepdims", lambda x: np.mean(x, axis=0, keepdims=True), (m1011,), (0,),
             NP),
        Case("np/index_ints", lambda x: x[3, 0, 1], (A564,), (0,), NP),
        Case("np/index_slice", lambda x: x[::-1, 2:4, :], (A564,), (0,), NP),
        Case("np/index_lists", lambda x: x[[0, 1, 2], :, :], (A564,), (0,), NP),
        Case("np/index_mixed", lambda x: x[3, 2:, [1, 3]], (A564,), (0,), NP),
        Case("np/vector_slice", lambda x: x[2:4], (A5,), (0,), NP),
        Case("np/index_slice_fanout", fanout, (A564,), (0,), NP),
        Case("np/index_multiple_slices", slices, (R(7),), (0,), NP),
        Case("np/reshape_method", lambda x: x.reshape((5 * 4, 6)), (A564,), (0,), NP),
        Case("np/reshape_call", lambda x: np.reshape(x, (5 * 4, 6)), (A564,), (0,), NP),
        Case("np/reshape_method_nolist", lambda x: x.reshape(5 * 4, 6), (A564,), (0,), NP),
        Case("np/ravel_method", lambda x: x.ravel(), (A564,), (0,), NP),
        Case("np/ravel_call", lambda x: np.ravel(x), (A564,), (0,), NP),
        Case("np/flatten_method", lambda x: x.flatten(), (A564,), (0,), NP),
        Case("np/append_list", np.append, ([1.0, 2.0, 3.0], 4.0), (0, 1), NP),
        Case("np/append_arr", np.append, (np.array([1.0, 2.0, 3.0]), 4.0), (0, 1), NP),
        Case("np/concatenate_simple", lambda x: np.concatenate((A564, x)), (R(4, 6, 4),),
             (0,), NP),
        Case("np/concatenate_axis0", lambda x: np.concatenate((B564, x, B564)), (A564,), (0,),
             NP),
        Case("np/concatenate_axis1", lambda x: np.concatenate((B564, x, B564), axis=1),
             (A564,), (0,), NP),
        Case("np/concatenate_axis1_unnamed", lambda x: np.concatenate((B564, x, B564), 1),
             (A564,), (0,), NP),
        Case("np/trace_offset", lambda x: np.trace(x, offset=3), (m1011,), (0,), NP),
        Case("np/trace_offset_neg", lambda x: np.trace(x, offset=-4), (R(11, 10),), (0,), NP),
        Case("np/split_first", lambda x: np.split(x, 2)[0], (v10,), (0,), NP),
        Case("np/trace_extradims", lambda x: np.trace(x, offset=2), (R(5, 6, 4, 3),), (0,),
             NP),
        Case("np/diag", lambda x: np.diag(x), (R(10, 10),), (0,), NP),
        Case("np/transpose_attr", lambda x: x.T, (R(8, 8),), (0,), NP),
        Case("np/roll", lambda x: np.roll(x, 2, axis=1), (R(4, 5),), (0,), NP),
        Case("np/roll_no_axis", lambda x: np.roll(x, 2), (R(4, 5),), (0,), NP),
        Case("np/triu_k", lambda x: np.triu(x, k=2), (R(5, 5),), (0,), NP),
        Case("np/tril_k", lambda x: np.tril(x, k=2), (R(5, 5),), (0,), NP),
        Case("np/clip", lambda x: np.clip(x, a_min=0.1, a_max=1.1), (R(5, 5),), (0,), NP),
        Case("np/prod", lambda x: np.prod(x), (R(2, 3) ** 2 / 10.0 + 0.1,), (0,), NP),
        Case("np/prod_axis0", lambda x: np.prod(x, axis=0), (R(2, 3) ** 2 + 0.1,), (0,), NP),
        Case("np/prod_keepdims", lambda x: np.prod(x, axis=0, keepdims=True),
             (R(2, 3) ** 2 + 0.1,), (0,), NP),
        Case("np/prod_1d", lambda x: np.prod(x), (R(7) ** 2 + 0.1,), (0,), NP),
        Case("np/array_1d_from_floats", arr1, (3.0,), (0,), NP),
        Case("np/array_2d_from_floats", arr2, (3.0,), (0,), NP),
        Case("np/array_1d_fanout", arr1_fan, (3.0,), (0,), NP),
        Case("np/array_2d_fanout", arr2_fan, (3.0,), (0,), NP),
        Case("np/array_from_scalar", lambda x: np.array(x), (3.0,), (0,), NP),
        Case("np/array_from_arrays", lambda x: np.array([x, x]), (R(3, 2),), (0,), NP),
        Case("np/array_from_arrays_2", lambda x: np.array([[2 * x, x + 1], [x, x]]),
             (R(3, 2),), (0,), NP),
        Case("np/len", with_len, (R(3, 2),), (0,), NP),
        Case("np/r_basic", lambda x: np.r_[x], (R(3, 2),), (0,), NP),
        Case("np/r_double", lambda x: np.r_[x, x], (R(3, 2),), (0,), NP),
        Case("np/no_relation", lambda x: const32, (R(3, 2),), (0,), NP),
        Case("np/r_no_relation", lambda x: np.r_[const32], (R(3, 2),), (0,), NP),
        Case("np/r_node_and_const", lambda x: np.r_[x, const32], (R(3, 2),), (0,), NP),
        Case("np/r_mixed", r_mixed, (R(3, 2),), (0,), NP),
        Case("np/r_slicing", r_slicing, (R(10),), (0,), NP),
        Case("np/c_mixed", c_mixed, (R(3, 2),), (0,), NP),
        Case("np/where", where, (R(4, 5), R(4, 5)), (0,), NP),
        Case("np/squeeze_func", lambda x: np.squeeze(x), (R(5, 1, 4),), (0,), NP),
        Case("np/squeeze_method", lambda x: x.squeeze(), (R(5, 1, 4),), (0,), NP),
        Case("np/repeat_axis1", lambda x: np.repeat(x, 2, axis=1), (R(5, 3, 4),), (0,), NP),
        Case("np/repeat_axis1_rep1", lambda x: np.repeat(x, 1, axis=1), (R(5, 3, 4),), (0,),
             NP),
        Case("np/repeat_axis0", lambda x: np.repeat(x, 2, axis=0), (R(5, 3),), (0,), NP),
        Case("np/repeat_1d_axis0", lambda x: np.repeat(x, 2, axis=0), (R(5),), (0,), NP),
        Case("np/repeat_axis0_rep1", lambda x: np.repeat(x, 1, axis=0), (R(5, 1),), (0,), NP),
        Case("np/expand_dims", lambda x: np.expand_dims(x, 2), (R(5, 1, 4),), (0,), NP),
        Case("np/tensordot_by_position",
             lambda x: np.tensordot(x * np.ones((2, 2)), x * np.ones((2, 2)), 2), (1.0,), (0,),
             NP),
        Case("np/multi_index", lambda x: np.sum(x[[0, 0]]), (R(3),), (0,), NP),
        Case("np/multi_index2", lambda x: np.sum(x[[0, 1, 0]]), (R(3),), (0,), NP),
        Case("np/index_dot_slices", lambda x: np.dot(x[:2], x[2:]), (R(4),), (0,), NP),
        Case("np/cast_to_int", cast_to_int, (np.random.RandomState(3).randn(5, 10),), (0,),
             NP),
        Case("np/diagonal_2d", lambda D: np.diagonal(D, axis1=-1, axis2=-2), (R(4, 4),), (0,),
             NP),
        Case("np/diagonal_3d", lambda D: np.diagonal(D, axis1=-1, axis2=-2), (R(3, 4, 4),),
             (0,), NP),
        Case("np/nan_to_num", lambda x: np.sum(np.sin(np.nan_to_num(x + y_nan))), (R(4),),
             (0,), NP),
        Case("np/max_equal_values", lambda x: np.max(np.array([x, x])), (1.0,), (0,), NP),
        Case("np/astype", lambda x: np.sum(np.sin(x.astype("float64"))),
             (np.arange(3, dtype="float32"),), (0,), NP),
    ]
    for v in (1.0, -1.0):
        cases.append(Case(f"np/max_equal_values_2d[{v}]",
                          lambda x: np.max(np.array([[x, x], [x, 0.5]]), axis=1), (v,), (0,),
                          NP))
        cases.append(Case(f"np/min_3_way_equality[{v}]", lambda x: np.min(np.array(
            [[x, x, x], [x, 0.5, 0.5], [0.5, 0.5, 0.5], [x, x, 0.5]]), axis=0), (v,), (0,),
            NP))
    cases.append(Case("np/maximum_equal_values", lambda x: np.maximum(x, x), (1.0,), (0,), NP))
    for v in (1.0, -1.0, 2.0):
        cases.append(Case(f"np/maximum_equal_values_2d[{v}]", lambda x: np.maximum(
            np.array([x, x, 0.5]), np.array([[x, 0.5, x], [x, x, 0.5]])), (v,), (0,), NP))
    for num in (0, 1, 5):
        for a, b in ((1.2, 3.4), (1.2, -3.4), (1.2, 1.2)):
            cases.append(Case(f"np/linspace[{num},{a},{b}]", linspace(num), (a, b), (0,), NP))
    B, Cm, D = R(3), R(3, 4), R(1, 3)
    from . import combos
    for f in (np.var, np.std):
        cases += combos(f"np/{f.__name__}_ddof", f, (0,), [B, Cm, D], origin=NP, axis=[None],
                        keepdims=[True, False], ddof=[0, 1])
        cases += combos(f"np/{f.__name__}_ddof", f, (0,), [Cm, D], origin=NP, axis=[None, 1],
                        keepdims=[True, False], ddof=[2])
    return cases


def _linalg(R) -> list[Case]:
    def rand_psd(D):
        m = R(D, D)
        return np.dot(m, m.T)

    def T(A):
        return np.swapaxes(A, -1, -2)

    def sym(fun):
        """The peer's symmetric-matrix check: the function of the symmetrized argument."""
        def symmetrized(A, *rest):
            L = np.tril(A)
            return fun((L + T(L)) / 2.0, *rest)
        return symmetrized

    D = 8
    mat = R(D, D)
    inv_mat = np.dot(mat, mat) + 1.0 * np.eye(D)
    A8, B87, B8 = R(D, D) + 10.0 * np.eye(D), R(D, D - 1), R(D)
    A6, B65 = R(6, 6) + 1.0 * np.eye(6), R(6, 5)
    A544, B546 = R(5, 4, 4) + 5 * np.eye(4), R(5, 4, 6)
    R(5, 4)  # (keeps the random stream of the cases below)
    m6 = R(6, 6)
    h6 = np.dot(m6.T, m6)
    mb = R(2, 3, 6, 6) + 10 * np.eye(6)[None, None, ...]
    hb = np.einsum("...ij,...kj->...ik", mb, mb)
    psd3 = np.concatenate([(rand_psd(5) + 5 * np.eye(5))[None, ...] for _ in range(3)])
    chol3 = np.concatenate([rand_psd(6)[None, :, :] for _ in range(3)], axis=0)

    def slogdet(x):
        sign, logdet = np.linalg.slogdet(x)
        return logdet

    def eigh_lower(x):
        w, v = np.linalg.eigh(x)
        return (w, v)

    def eigh_upper(x):
        w, v = np.linalg.eigh(x, "U")
        return (w, v)

    def chol_reparam(A):
        rng = np.random.RandomState(0)
        z = np.dot(np.linalg.cholesky(A), rng.randn(A.shape[0]))
        return np.linalg.norm(z)

    def svd(x):
        u, s, v = np.linalg.svd(x, full_matrices=False)
        return (u, s, v)

    def svd_s(x):
        return np.linalg.svd(x, full_matrices=False, compute_uv=False)

    def norm_ord(o):
        return lambda x: np.linalg.norm(x, ord=o)

    def norm_axis(a):
        return lambda x: np.linalg.norm(x, axis=a)

    cases = [
        Case("linalg/inv", lambda x: np.linalg.inv(x), (inv_mat,), (0,), LA),
        Case("linalg/inv_3d", lambda x: np.linalg.inv(x), (R(4, 4, 4) + 5 * np.eye(4),), (0,),
             LA),
        Case("linalg/inv_4d", lambda x: np.linalg.inv(x), (R(4, 4, 4, 4) + 5 * np.eye(4),),
             (0,), LA),
        Case("linalg/solve_arg1", lambda a: np.linalg.solve(a, B87), (A8,), (0,), LA),
        Case("linalg/solve_arg1_1d", lambda a: np.linalg.solve(a, B8), (A8,), (0,), LA),
        Case("linalg/solve_arg2", lambda b: np.linalg.solve(A6, b), (B65,), (0,), LA),
        Case("linalg/solve_arg1_3d_3d", lambda A: np.linalg.solve(A, B546), (A544,), (0,), LA),
        Case("linalg/solve_both", np.linalg.solve, (A6, B65), (0, 1), LA),
        Case("linalg/det", lambda x: np.linalg.det(x), (R(6, 6),), (0,), LA),
        Case("linalg/det_3d", lambda x: np.linalg.det(x), (R(3, 3, 3),), (0,), LA),
        Case("linalg/slogdet", slogdet, (m6,), (0,), LA),
        Case("linalg/slogdet_neg", slogdet, (-m6,), (0,), LA),
        Case("linalg/slogdet_3d", lambda x: np.sum(np.linalg.slogdet(x)[1]), (psd3,), (0,),
             LA),
        Case("linalg/vector_2norm", lambda x: np.linalg.norm(x), (R(6),), (0,), LA),
        Case("linalg/frobenius_norm", lambda x: np.linalg.norm(x), (R(6, 5),), (0,), LA),
        Case("linalg/frobenius_norm_axis", lambda x: np.linalg.norm(x, axis=(0, 1)),
             (R(6, 5, 4),), (0,), LA),
        Case("linalg/norm_nuclear", lambda x: np.linalg.norm(x, ord="nuc"), (R(6, 5),), (0,),
             LA),
        Case("linalg/norm_nuclear_axis", lambda x: np.linalg.norm(x, ord="nuc", axis=(0, 1)),
             (R(6, 5, 4),), (0,), LA),
        Case("linalg/eigh_lower", sym(eigh_lower), (h6,), (0,), LA),
        Case("linalg/eigh_upper", sym(eigh_upper), (h6,), (0,), LA),
        Case("linalg/eigh_lower_broadcast", sym(eigh_lower), (hb,), (0,), LA),
        Case("linalg/eigh_upper_broadcast", sym(eigh_upper), (hb,), (0,), LA),
        Case("linalg/cholesky", sym(lambda A: np.linalg.cholesky(A)), (rand_psd(6),), (0,),
             LA),
        Case("linalg/cholesky_broadcast", sym(lambda A: np.linalg.cholesky(A)), (chol3,),
             (0,), LA),
        Case("linalg/cholesky_reparameterization", sym(chol_reparam), (rand_psd(6),), (0,),
             LA),
        Case("linalg/svd_only_s_2d", svd_s, (R(5, 3),), (0,), LA),
        Case("linalg/svd_only_s_3d", svd_s, (R(4, 5, 3),), (0,), LA),
        Case("linalg/pinv", lambda x: np.linalg.pinv(x), (R(5, 3),), (0,), LA),
        Case("linalg/matrix_power", lambda x: np.linalg.matrix_power(x, 3), (R(4, 4),), (0,),
             LA),
        Case("linalg/eigvalsh", sym(lambda x: np.linalg.eigvalsh(x)), (h6,), (0,), LA),
        Case("linalg/qr", lambda x: np.linalg.qr(x), (R(5, 3),), (0,), LA),
        Case("linalg/lstsq", lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0],
             (R(6, 3), R(6)), (0, 1), LA),
        Case("linalg/multi_dot", lambda a, b, c: np.linalg.multi_dot([a, b, c]),
             (R(2, 3), R(3, 4), R(4, 2)), (0, 1, 2), LA),
        Case("linalg/eig_vals_real", lambda x: np.real(np.linalg.eigvals(x)),
             (R(4, 4) + 4 * np.eye(4),), (0,), LA),
        Case("linalg/cond", lambda x: np.linalg.cond(x), (R(4, 4) + 4 * np.eye(4),), (0,), LA),
        Case("linalg/tensorsolve", lambda a: np.linalg.tensorsolve(a, B8),
             (A8,), (0,), LA),
    ]
    for name, shape in (("wide_2d", (3, 5)), ("wide_3d", (4, 3, 5)), ("square_2d", (4, 4)),
                        ("square_3d", (3, 4, 4)), ("tall_2d", (5, 3)), ("tall_3d", (4, 5, 3))):
        cases.append(Case(f"linalg/svd_{name}", svd, (R(*shape),), (0,), LA))
    for o in (2, 3, 4, 1, np.inf, -np.inf, 0.5):
        cases.append(Case(f"linalg/vector_norm_ord[{o}]", norm_ord(o), (R(6),), (0,), LA))
    for o in ("fro", 1, -1, 2, -2, np.inf, -np.inf):
        cases.append(Case(f"linalg/matrix_norm_ord[{o}]", norm_ord(o), (R(4, 5),), (0,), LA))
    for a in range(3):
        cases.append(Case(f"linalg/norm_axis[{a}]", norm_axis(a), (R(6, 5, 4),), (0,), LA))
    return cases


def _fft(R) -> list[Case]:
    F = np.fft
    cases = [
        Case("fft/fft", lambda x: F.fft(x), (R(5, 5),), (0,), FFT),
        Case("fft/fft_ortho", lambda x: F.fft(x, norm="ortho"), (R(5, 5),), (0,), FFT),
        Case("fft/fft_forward", lambda x: F.fft(x, norm="forward"), (R(5, 5),), (0,), FFT),
        Case("fft/fft_axis", lambda x: F.fft(x, axis=0), (R(5, 5),), (0,), FFT),
        Case("fft/ifft", lambda x: F.ifft(x), (R(5, 5),), (0,), FFT),
        Case("fft/fft2", lambda x: F.fft2(x), (R(5, 5) / 10.0,), (0,), FFT),
        Case("fft/ifft2", lambda x: F.ifft2(x), (R(5, 5),), (0,), FFT),
        Case("fft/fftn", lambda x: F.fftn(x), (R(5, 5) / 10.0,), (0,), FFT),
        Case("fft/ifftn", lambda x: F.ifftn(x), (R(5, 5),), (0,), FFT),
        Case("fft/rfft", lambda x: F.rfft(x), (R(4, 4) / 10.0,), (0,), FFT),
        Case("fft/rfft_ortho", lambda x: F.rfft(x, norm="ortho"), (R(4, 4) / 10.0,), (0,), FFT),
        Case("fft/rfft_axes", lambda x: F.rfft(x, axis=0), (R(4, 4) / 10.0,), (0,), FFT),
        Case("fft/irfft", lambda x: F.irfft(x), (F.rfft(R(4, 4) / 10.0),), (0,), FFT),
        Case("fft/irfft_ortho", lambda x: F.irfft(x, norm="ortho"), (F.rfft(R(4, 4) / 10.0),),
             (0,), FFT),
        Case("fft/rfft2", lambda x: F.rfft2(x), (R(4, 4) / 10.0,), (0,), FFT),
        Case("fft/irfft2", lambda x: F.irfft2(x), (F.rfft2(R(4, 4) / 10.0),), (0,), FFT),
        Case("fft/rfftn", lambda x: F.rfftn(x), (R(4, 4, 4) / 10.0,), (0,), FFT),
        Case("fft/rfftn_odd", lambda x: F.rfftn(x), (R(5, 5, 5) / 10.0,), (0,), FFT),
        Case("fft/rfftn_subset", lambda x: F.rfftn(x)[(0, 1, 0), (3, 3, 2)],
             (R(4, 4, 4) / 10.0,), (0,), FFT),
        Case("fft/rfftn_axes", lambda x: F.rfftn(x, axes=(0, 2)), (R(4, 4, 4) / 10.0,), (0,),
             FFT),
        Case("fft/irfftn", lambda x: F.irfftn(x), (F.rfftn(R(4, 4, 4) / 10.0),), (0,), FFT),
        Case("fft/irfftn_subset", lambda x: F.irfftn(x)[(0, 1, 0), (3, 3, 2)],
             (F.rfftn(R(4, 4, 4) / 10.0),), (0,), FFT),
        Case("fft/fftshift", lambda x: F.fftshift(x), (R(5, 5) / 10.0,), (0,), FFT),
        Case("fft/fftshift_even", lambda x: F.fftshift(x), (R(4, 4) / 10.0,), (0,), FFT),
        Case("fft/fftshift_axes", lambda x: F.fftshift(x, axes=1), (R(5, 5) / 10.0,), (0,),
             FFT),
        Case("fft/ifftshift", lambda x: F.ifftshift(x), (R(5, 5),), (0,), FFT),
        Case("fft/ifftshift_even", lambda x: F.ifftshift(x), (R(4, 4),), (0,), FFT),
        Case("fft/ifftshift_axes", lambda x: F.ifftshift(x, axes=1), (R(5, 5),), (0,), FFT),
        Case("fft/hfft", lambda x: F.hfft(x), (F.rfft(R(6)),), (0,), FFT),
        Case("fft/ihfft", lambda x: F.ihfft(x), (R(6),), (0,), FFT),
    ]

    def with_n(f, D, n):
        return lambda x: f(x, D + n)

    for f in (F.fft, F.ifft, F.rfft, F.irfft):
        D = 5 if f in (F.fft, F.ifft) else 4
        for n in (-2, 2):
            m = R(D, D)
            if f.__name__.startswith("ir"):
                m = getattr(F, f.__name__[1:])(m)
            cases.append(Case(f"fft/{f.__name__}_n[{n:+d}]", with_n(f, D, n), (m,), (0,), FFT))

    def with_s(f, s, axes):
        return lambda x: f(x, s=s, axes=axes)

    for f in (F.fft2, F.ifft2, F.fftn, F.ifftn, F.rfft2, F.irfft2, F.rfftn, F.irfftn):
        D = 5 if f in (F.fft2, F.ifft2, F.fftn, F.ifftn) else 4
        m = R(D, D, D) / 10.0
        if f.__name__.startswith("ir"):
            m = getattr(F, f.__name__[1:])(m)
        cases.append(Case(f"fft/{f.__name__}_s", with_s(f, [D + 2, D - 2], [0, 2]), (m,), (0,),
                          FFT))
    return cases


def cases() -> list[Case]:
    rs = np.random.RandomState(1)

    def R(*shape):
        return rs.randn(*shape) if shape else float(rs.randn())

    return _numpy(R) + _linalg(R) + _fft(R)
