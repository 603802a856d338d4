"""Linear algebra, FFT and ``math`` cases over dtypes, batch shapes and keyword variants.

Modelled on JAX's tests/linalg_test.py and tests/fft_test.py autodiff checks (Apache-2.0)
and PyTorch's gradcheck cases for torch.linalg/torch.fft (BSD), called through NumPy's and
Python's own functions.
"""

from __future__ import annotations

import math

import numpy as np

from . import Case, combos

LA, FT, MA = ("jax tests/linalg_test.py", "jax tests/fft_test.py",
              "pytorch gradcheck / cpython test_math")


def _linalg(rs) -> list[Case]:
    L = np.linalg

    def R(*s):
        return rs.randn(*s)

    def C(*s):
        return rs.randn(*s) + 1j * rs.randn(*s)

    def well(*s, cplx=False):
        n = s[-1]
        return (C(*s) if cplx else R(*s)) + 3 * n ** 0.5 * np.eye(n)

    def psd(*s, cplx=False):
        a = C(*s) if cplx else R(*s)
        return a @ np.conj(np.swapaxes(a, -1, -2)) + s[-1] * np.eye(s[-1])

    def herm(f):
        def g(a, *r, **k):
            return f(0.5 * (a + np.conj(np.swapaxes(a, -1, -2))), *r, **k)
        return g

    def eig_sym_fn(x):  # gauge-invariant functions of the eigenvectors
        w, v = L.eigh(x)
        return w, np.abs(v) ** 2

    def eig_fn(x):
        w, v = L.eig(x)
        return np.real(w), np.imag(w)

    def eig_vec_fn(x):
        w, v = L.eig(x)
        v = v / v[..., :1, :]  # fix the scale/phase of each eigenvector
        return np.real(v), np.imag(v)

    def svd_fn(x):
        u, s, vh = L.svd(x, full_matrices=False)
        return s, (u * vh.T) if x.ndim == 2 and u.shape[-1] == vh.shape[-2] else s

    def qr_r(x):
        return np.abs(L.qr(x, mode="r"))

    def qr_complete(x):
        q, r = L.qr(x, mode="complete")
        return q[:, : x.shape[1]] @ r[: x.shape[1]]

    out: list[Case] = []
    for sh in ((3, 3), (2, 4, 4)):
        for cplx in (False, True):
            tag = ("c" if cplx else "") + "x".join(map(str, sh))
            out += [
                Case(f"jlinalg/inv[{tag}]", L.inv, (well(*sh, cplx=cplx),), (0,), LA),
                Case(f"jlinalg/det[{tag}]", L.det, (well(*sh, cplx=cplx),), (0,), LA),
                Case(f"jlinalg/slogdet[{tag}]", lambda a: L.slogdet(a)[1],
                     (well(*sh, cplx=cplx),), (0,), LA),
                Case(f"jlinalg/slogdet_sign[{tag}]", lambda a: L.slogdet(a)[0] * 1.0,
                     (well(*sh, cplx=cplx),), (0,), LA),
                Case(f"jlinalg/solve[{tag}]", L.solve, (well(*sh, cplx=cplx),
                                                        C(*sh) if cplx else R(*sh)), (0, 1),
                     LA),
                Case(f"jlinalg/cholesky[{tag}]", herm(L.cholesky), (psd(*sh, cplx=cplx),),
                     (0,), LA),
                Case(f"jlinalg/eigh[{tag}]", herm(eig_sym_fn), (psd(*sh, cplx=cplx),), (0,),
                     LA),
                Case(f"jlinalg/eigvalsh[{tag}]", herm(L.eigvalsh), (psd(*sh, cplx=cplx),),
                     (0,), LA),
                Case(f"jlinalg/eigvals[{tag}]", lambda a: L.eigvals(a).real ** 2
                     + L.eigvals(a).imag ** 2, (well(*sh, cplx=cplx),), (0,), LA),
                Case(f"jlinalg/eig[{tag}]", eig_fn, (well(*sh, cplx=cplx),), (0,), LA),
                Case(f"jlinalg/eig_vectors[{tag}]", eig_vec_fn, (well(*sh, cplx=cplx),),
                     (0,), LA),
                Case(f"jlinalg/eig_raw[{tag}]", L.eig, (well(*sh, cplx=cplx),), (0,), LA),
                Case(f"jlinalg/eigh_raw[{tag}]", herm(L.eigh), (psd(*sh, cplx=cplx),), (0,), LA),
                Case(f"jlinalg/svd_raw[{tag}]", L.svd, (C(*sh) if cplx else R(*sh),), (0,), LA),
                Case(f"jlinalg/qr_raw[{tag}]", L.qr, (C(*sh) if cplx else R(*sh),), (0,), LA),
                Case(f"jlinalg/qr_raw_tall[{tag}]", L.qr,
                     (C(*sh[:-2], 5, 3) if cplx else R(*sh[:-2], 5, 3),), (0,), LA),
                Case(f"jlinalg/qr_raw_wide[{tag}]", L.qr,
                     (C(*sh[:-2], 2, 4) if cplx else R(*sh[:-2], 2, 4),), (0,), LA),
                Case(f"jlinalg/svd_raw_tall[{tag}]", lambda a: L.svd(a, full_matrices=False),
                     (C(*sh[:-2], 5, 3) if cplx else R(*sh[:-2], 5, 3),), (0,), LA),
                Case(f"jlinalg/svd_raw_wide[{tag}]", lambda a: L.svd(a, full_matrices=False),
                     (C(*sh[:-2], 2, 4) if cplx else R(*sh[:-2], 2, 4),), (0,), LA),
                Case(f"jlinalg/eigh_raw_upper[{tag}]", lambda a: L.eigh(a, "U"),
                     (psd(*sh, cplx=cplx),), (0,), LA),
                Case(f"jlinalg/pinv[{tag}]", L.pinv, (well(*sh, cplx=cplx),), (0,), LA),
                Case(f"jlinalg/matrix_power3[{tag}]", lambda a: L.matrix_power(a, 3),
                     (well(*sh, cplx=cplx) / 3,), (0,), LA),
                Case(f"jlinalg/matrix_power_neg[{tag}]", lambda a: L.matrix_power(a, -2),
                     (well(*sh, cplx=cplx),), (0,), LA),
                Case(f"jlinalg/svdvals[{tag}]", lambda a: L.svd(a, compute_uv=False),
                     (well(*sh, cplx=cplx),), (0,), LA),
                Case(f"jlinalg/norm_fro[{tag}]", lambda a: L.norm(a, axis=(-2, -1)),
                     (C(*sh) if cplx else R(*sh),), (0,), LA),
                Case(f"jlinalg/norm_nuc[{tag}]", lambda a: L.norm(a, "nuc", axis=(-2, -1)),
                     (well(*sh, cplx=cplx),), (0,), LA),
                Case(f"jlinalg/norm_2[{tag}]", lambda a: L.norm(a, 2, axis=(-2, -1)),
                     (well(*sh, cplx=cplx),), (0,), LA),
                Case(f"jlinalg/vector_norm[{tag}]", lambda a: L.norm(a, axis=-1),
                     (C(*sh) if cplx else R(*sh),), (0,), LA),
                Case(f"jlinalg/tensorinv[{tag}]", lambda a: L.tensorinv(a, ind=1),
                     (well(*sh[-2:], cplx=cplx),), (0,), LA),
                Case(f"jlinalg/cond[{tag}]", L.cond, (well(*sh, cplx=cplx),), (0,), LA),
                Case(f"jlinalg/matrix_norm[{tag}]", L.matrix_norm, (well(*sh, cplx=cplx),),
                     (0,), LA),
                Case(f"jlinalg/vector_norm_fn[{tag}]", L.vector_norm,
                     (C(*sh) if cplx else R(*sh),), (0,), LA),
                Case(f"jlinalg/trace_of_inv[{tag}]", lambda a: np.trace(L.inv(a), axis1=-2,
                                                                       axis2=-1),
                     (well(*sh, cplx=cplx),), (0,), LA),
            ]
        out += [
            Case(f"jlinalg/svd[{sh}]", svd_fn, (R(*sh),), (0,), LA),
            Case(f"jlinalg/qr_r[{sh}]", qr_r, (R(*sh),), (0,), LA),
            Case(f"jlinalg/multi_dot[{sh}]", lambda a, b: L.multi_dot([a[..., 0, :], b, a.T[0]])
                 if a.ndim == 2 else L.multi_dot([a[0], b[0], a[1]]), (R(*sh), R(*sh)), (0, 1),
                 LA),
        ]
    out += [
        Case("jlinalg/qr_complete", qr_complete, (R(5, 3),), (0,), LA),
        Case("jlinalg/det_singular", L.det, (np.array([[1.0, 2.0], [2.0, 4.0]]),), (0,), LA),
        Case("jlinalg/det_singular_batch", L.det, (R(2, 3, 2) @ R(2, 2, 3),), (0,), LA),
        Case("jlinalg/qr_wide", lambda a: L.qr(a), (R(3, 5),), (0,), LA),
        Case("jlinalg/lstsq_underdetermined", lambda a, b: L.lstsq(a, b, rcond=None)[0],
             (R(3, 5), R(3)), (0, 1), LA),
        Case("jlinalg/lstsq_matrix_rhs", lambda a, b: L.lstsq(a, b, rcond=None)[0],
             (R(6, 3), R(6, 2)), (0, 1), LA),
        Case("jlinalg/pinv_hermitian", lambda a: L.pinv(a, hermitian=True), (psd(4, 4),), (0,),
             LA),
        Case("jlinalg/pinv_rect_batch", L.pinv, (R(2, 5, 3),), (0,), LA),
        Case("jlinalg/eigh_upper_complex", herm(lambda a: L.eigh(a, UPLO="U")[0]),
             (psd(3, 3, cplx=True),), (0,), LA),
        Case("jlinalg/tensorsolve", lambda a, b: L.tensorsolve(a, b),
             (well(6, 6).reshape(6, 2, 3), R(6)), (0, 1), LA),
        Case("jlinalg/matmul_complex", np.matmul, (C(3, 4), C(4, 2)), (0, 1), LA),
        Case("jlinalg/solve_vector_rhs_batch", lambda a, b: L.solve(a, b[..., None])[..., 0],
             (well(2, 3, 3), R(2, 3)), (0, 1), LA),
        Case("jlinalg/cross_vectors", np.linalg.cross, (R(4, 3), R(4, 3)), (0, 1), LA),
        Case("jlinalg/outer", np.linalg.outer, (R(3), R(4)), (0, 1), LA),
        Case("jlinalg/vecdot", np.linalg.vecdot, (R(2, 3), R(2, 3)), (0, 1), LA),
        Case("jlinalg/matrix_transpose", np.linalg.matrix_transpose, (R(2, 3, 4),), (0,), LA),
        Case("jlinalg/diagonal", lambda a: np.linalg.diagonal(a, offset=1), (R(3, 4),), (0,),
             LA),
        Case("jlinalg/trace", lambda a: np.linalg.trace(a, offset=-1), (R(2, 4, 4),), (0,),
             LA),
        Case("jlinalg/tensordot", lambda a, b: np.linalg.tensordot(a, b, axes=2),
             (R(2, 3, 4), R(3, 4, 5)), (0, 1), LA),
        Case("jlinalg/svdvals_fn", np.linalg.svdvals, (R(4, 3),), (0,), LA),
        Case("jlinalg/mT", lambda a: a.mT @ a, (R(2, 3, 2),), (0,), LA),
    ]
    return out


def _fft(rs) -> list[Case]:
    F = np.fft

    def R(*s):
        return rs.randn(*s)

    def C(*s):
        return rs.randn(*s) + 1j * rs.randn(*s)

    out: list[Case] = []
    for f in (F.fft, F.ifft):
        for norm in (None, "ortho", "forward", "backward"):
            out += combos(f"jfft/{f.__name__}", f, (0,), [R(6), C(6), C(3, 5)], origin=FT,
                          n=[None, 4, 8], axis=[-1, 0], norm=[norm])
    for f in (F.rfft, F.ihfft):
        for norm in (None, "ortho", "forward"):
            out += combos(f"jfft/{f.__name__}", f, (0,), [R(6), R(7), R(3, 5)], origin=FT,
                          n=[None, 4, 9], axis=[-1, 0], norm=[norm])
    for f in (F.irfft, F.hfft):
        for norm in (None, "ortho", "forward"):
            out += combos(f"jfft/{f.__name__}", f, (0,), [C(4), C(5), C(3, 4)], origin=FT,
                          n=[None, 5, 6, 9], axis=[-1, 0], norm=[norm])
    for f in (F.fft2, F.ifft2, F.fftn, F.ifftn):
        out += combos(f"jfft/{f.__name__}", f, (0,), [C(3, 4), R(2, 3, 4)], origin=FT,
                      s=[None, (4, 6)], norm=[None, "ortho", "forward"])
    for f in (F.rfft2, F.rfftn):
        out += combos(f"jfft/{f.__name__}", f, (0,), [R(3, 4), R(2, 3, 5)], origin=FT,
                      s=[None, (4, 6), (3, 5)], norm=[None, "ortho", "forward"])
    for f in (F.irfft2, F.irfftn):
        out += combos(f"jfft/{f.__name__}", f, (0,), [C(3, 4), C(2, 3, 5)], origin=FT,
                      s=[None, (4, 6), (3, 5)], norm=[None, "ortho", "forward"])
    out += combos("jfft/fftn_axes", F.fftn, (0,), [C(2, 3, 4)], origin=FT,
                  axes=[(0,), (2, 0), (-1, -2)])
    out += combos("jfft/rfftn_axes", F.rfftn, (0,), [R(2, 3, 4)], origin=FT,
                  axes=[(0,), (2, 0), (1, 2)])
    out += combos("jfft/irfftn_axes", F.irfftn, (0,), [C(2, 3, 4)], origin=FT,
                  axes=[(0,), (2, 0), (1, 2)])
    out += combos("jfft/fftshift", F.fftshift, (0,), [R(5), C(4, 5)], origin=FT,
                  axes=[None, 0])
    out += combos("jfft/ifftshift", F.ifftshift, (0,), [R(5), C(4, 5)], origin=FT,
                  axes=[None, -1])
    out += combos("jfft/fftshift", F.fftshift, (0,), [C(4, 5)], origin=FT, axes=[(0, 1)])
    out += combos("jfft/ifftshift", F.ifftshift, (0,), [C(4, 5)], origin=FT, axes=[(1, 0)])
    out += [
        Case("jfft/power_spectrum", lambda x: np.abs(F.rfft(x)) ** 2, (R(8),), (0,), FT),
        Case("jfft/roundtrip", lambda x: F.irfft(F.rfft(x) * np.exp(-np.arange(5.0)), 8),
             (R(8),), (0,), FT),
        Case("jfft/fft_convolution", lambda a, b: np.real(F.ifft(F.fft(a) * F.fft(b))),
             (R(8), R(8)), (0, 1), FT),
        Case("jfft/fftfreq_scaled", lambda x: np.sum(F.fft(x).real * F.fftfreq(x.size)),
             (R(8),), (0,), FT),
    ]
    return out


def _math(rs) -> list[Case]:
    m = math
    out: list[Case] = []
    unary = {"acos": 0.37, "asin": 0.37, "atan": 1.3, "acosh": 1.3, "asinh": 1.3,
             "atanh": 0.37, "cos": 1.3, "sin": 1.3, "tan": 1.3, "cosh": 1.3, "sinh": 1.3,
             "tanh": 1.3, "exp": 1.3, "exp2": 1.3, "expm1": 0.37, "log": 1.3, "log2": 1.3,
             "log10": 1.3, "log1p": 0.37, "sqrt": 1.3, "cbrt": 1.3, "erf": 0.37,
             "erfc": 0.37, "gamma": 1.3, "lgamma": 1.3, "fabs": -1.3, "degrees": 1.3,
             "radians": 1.3}
    for name, x in unary.items():
        f = getattr(m, name, None)
        if f is not None:
            out.append(Case(f"math/{name}", f, (x,), (0,), MA))
            out.append(Case(f"math/{name}_in_expr", (lambda f: lambda t: f(t) * t + 1.0)(f),
                            (x,), (0,), MA))
    binary = {"atan2": (0.7, -1.3), "hypot": (0.7, -1.3), "pow": (1.3, 2.2),
              "copysign": (1.3, -0.2), "fmod": (5.3, 1.7), "remainder": (5.3, 1.7),
              "log": (5.3, 2.2), "dist": None, "ldexp": None}
    for name, args in binary.items():
        f = getattr(m, name)
        if args is not None:
            out.append(Case(f"math/{name}2", f, args, (0, 1), MA))
    out += [
        Case("math/hypot3", m.hypot, (0.7, -1.3, 2.0), (0, 1, 2), MA),
        Case("math/dist", lambda p, q: m.dist(p, q), ([0.3, 1.2, -0.4], [1.0, -0.5, 0.2]),
             (0, 1), MA),
        Case("math/fsum", lambda x: m.fsum([x, 2 * x, x * x]), (0.7,), (0,), MA),
        Case("math/fsum_array", lambda x: m.fsum(x), (rs.randn(5),), (0,), MA),
        Case("math/prod", lambda x: m.prod([x, 2.0, x + 1]), (0.7,), (0,), MA),
        Case("math/prod_array", lambda x: m.prod(x), (rs.randn(4),), (0,), MA),
        Case("math/ldexp", lambda x: m.ldexp(x, 3), (0.7,), (0,), MA),
        Case("math/frexp", lambda x: m.frexp(x)[0], (5.3,), (0,), MA),
        Case("math/modf", lambda x: m.modf(x)[0] + m.modf(x)[1], (5.3,), (0,), MA),
        Case("math/floor_mul", lambda x: m.floor(x) * x, (2.3,), (0,), MA),
        Case("math/ceil_mul", lambda x: m.ceil(x) * x, (2.3,), (0,), MA),
        Case("math/trunc_mul", lambda x: m.trunc(x) * x, (2.3,), (0,), MA),
        Case("math/sqrt_of_sum", lambda x: m.sqrt(sum(t * t for t in x)), (rs.randn(4),),
             (0,), MA),
        Case("math/on_np_scalar", lambda x: m.exp(x[0]) + m.log(abs(x[1])) + m.sin(x[2]),
             (rs.randn(3),), (0,), MA),
        Case("math/isclose_branch", lambda x: x * 2 if m.isclose(x, 0.3) else x * 3, (0.7,),
             (0,), MA),
        Case("math/nextafter_ulp", lambda x: x + m.ulp(x), (0.7,), (0,), MA),
        Case("math/sumprod", lambda a, b: m.sumprod(a, b) if hasattr(m, "sumprod")
             else sum(x * y for x, y in zip(a, b, strict=True)),
             ([0.3, 1.2], [0.5, -2.0]), (0, 1), MA),
        Case("math/pi_tau_e", lambda x: m.pi * x + m.tau * x * x + m.e, (0.7,), (0,), MA),
        Case("math/cmath_mix", lambda x: abs(__import__("cmath").sqrt(x - 4.0)), (1.7,), (0,),
             MA),
        Case("math/log_base_both", lambda x, b: m.log(x, b), (3.3, 2.2), (0, 1), MA),
        Case("math/round_digits", lambda x: round(x, 2) * x, (1.337,), (0,), MA),
        Case("math/divmod", lambda x: divmod(x, 0.7)[1], (1.337,), (0,), MA),
        Case("math/float_of_array_item", lambda x: float(x[0]) * x[1], (rs.randn(2),), (0,), MA),
        Case("complex/ctor_abs", lambda x, y: abs(complex(x, y)) ** 2, (0.3, 0.4), (0, 1), MA),
        Case("complex/conjugate_method", lambda z: (z.conjugate() * z).real + z.imag,
             (0.3 + 0.4j,), (0,), MA),
        Case("complex/float_conjugate", lambda x: x.conjugate() * x, (1.5,), (0,), MA),
    ]
    import cmath

    for name in ("exp", "log", "log10", "sqrt", "sin", "cos", "tan", "asin", "acos", "atan",
                 "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "phase"):
        f = getattr(cmath, name)
        out.append(Case(f"cmath/{name}", f, (0.3 + 0.4j,), (0,), MA))
        out.append(Case(f"cmath/{name}_of_real", (lambda f: lambda x: abs(f(x)))(f), (0.3,),
                        (0,), MA))
    out += [Case("cmath/polar", cmath.polar, (0.3 + 0.4j,), (0,), MA),
            Case("cmath/rect", cmath.rect, (1.3, 0.4), (0, 1), MA),
            Case("cmath/log_base", lambda z: cmath.log(z, 2.0), (0.3 + 0.4j,), (0,), MA)]
    return out


def cases() -> list[Case]:
    rs = np.random.RandomState(7)
    return _linalg(rs) + _fft(rs) + _math(rs)
