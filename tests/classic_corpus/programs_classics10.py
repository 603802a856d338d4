# ruff: noqa: B905, E731 - legacy code: zip() without strict=, lambdas bound to names
"""A tenth set of legacy programs, written adversarially for the BREADTH of NumPy / SciPy
library calls and their less common arguments: np.linalg (norm with every ord and axis
tuples, stacked det / slogdet / inv / solve, matrix_power with negative exponents, eig /
eigvals of non-symmetric matrices used through .real and abs, eigh / eigvalsh reading one
triangle of a non-symmetric input, qr modes, svd full_matrices / compute_uv, cholesky
upper=, lstsq residuals, multi_dot with 1-d ends, pinv hermitian=), einsum (traces,
diagonals, ellipses, optimize=), tensordot axes forms, kron, cross with axisa / axisb,
inner / outer / vdot of 2-d and complex operands, polynomials (polyfit with weights, poly1d
objects, roots, np.polynomial classes and fits), convolve / correlate modes, gradient with
spacing arrays, trapezoid, diff with prepend / append, cumulative sums and products (also over
exact zeros), sorting, partitions and order statistics with their methods, nan-reductions
with NaNs present, weighted averages, var / std / sum / max with where= and initial=, cov /
corrcoef options, histogram densities, interp with period= and complex values, clip with
array bounds, select / choose / piecewise, take / put_along_axis, pad modes, meshgrid,
unique with return_inverse, ufuncs at their removable singularities (sinc, x ** 0, xlogy at
0), out= / where= on ufuncs, fmod / remainder / modf / frexp / ldexp / copysign, complex
sign / angle / unwrap, FFTs with n= / norm= / axes=, np.matrix, np.ma, np.char; SciPy
special functions, stats distributions with traced parameters, quad (weight= with a traced
wvar) / solve_ivp / odeint (traced output times), minimize_scalar / brentq / newton / minimize
/ least_squares / root / fsolve, CubicSpline / interp1d
/ make_interp_spline / RegularGridInterpolator, lfilter / fftconvolve / savgol_filter,
scipy.linalg (expm, solve_triangular, toeplitz / circulant / hankel, block_diag, cho_solve,
solve_banded, solve with assume_a, pinv), sparse, ndimage filters and spatial distances."""

import math

import numpy as np
from registry import case, vector


def with_zero(n: int, k: int = 0, lo: float = 0.5, hi: float = 2.0):
    """An n-vector with an exact 0.0 at index k (a removable singularity of many rules)."""
    def draw(rng):
        v = rng.uniform(lo, hi, size=n)
        v[k] = 0.0
        return v
    return draw


def square(n: int, diag: float = 3.0):
    def draw(rng):
        return (rng.uniform(-1.0, 1.0, size=(n, n)) + diag * np.eye(n)).ravel()
    return draw


# ================================================================ np.linalg


@case(square(3))
def norm_every_matrix_ord(x):
    """np.linalg.norm of a matrix with ord 1, -1, inf, -inf, 'fro', 'nuc', 2 and -2 (the
    column / row sums, the extreme singular values)."""
    A = x.reshape(3, 3)
    tot = 0.0
    for i, o in enumerate((1, -1, np.inf, -np.inf, "fro", "nuc", 2, -2)):
        tot += (i + 1) * np.linalg.norm(A, o)
    return float(tot)


@case(vector(8, 0.2, 2.0))
def norm_vector_ords_axis_keepdims(x):
    """Vector norms with ord 3, 0.5, -1, inf, -inf along axis=1 of a 2x4 array with
    keepdims=True, and ord=None on axis=-1."""
    X = x.reshape(2, 4)
    s = 0.0
    for o in (3, 0.5, -1, np.inf, -np.inf):
        s = s + np.linalg.norm(X, ord=o, axis=1, keepdims=True) * np.array([[1.0], [2.0]])
    return float(s.sum() + np.linalg.norm(X, axis=-1) @ [0.5, 0.25])


@case(vector(12, -1.0, 1.0))
def norm_axis_tuple_tensor(x):
    """np.linalg.norm of a 3-d tensor over axis=(1, 2) ('fro') and axis=(0, 2) with ord=1 and
    ord='nuc' over (2, 0) (a transposed pair)."""
    T = x.reshape(2, 3, 2) + np.arange(12.0).reshape(2, 3, 2) / 5
    return float(np.linalg.norm(T, axis=(1, 2)) @ [1.0, 2.0]
                 + np.linalg.norm(T, ord=1, axis=(0, 2)) @ [1.0, 0.5, 0.25]
                 + np.linalg.norm(T, ord="nuc", axis=(2, 0)).sum())


@case(vector(18, -1.0, 1.0))
def stacked_det_slogdet_inv(x):
    """det, slogdet and inv of a stack of two 3x3 matrices (one with a negative determinant:
    slogdet's sign) and solve with a stack of right-hand matrices."""
    A = x.reshape(2, 3, 3) + np.array([3.0, -3.0])[:, None, None] * np.eye(3)
    sign, logdet = np.linalg.slogdet(A)
    B = np.arange(12.0).reshape(2, 3, 2) / 7
    X = np.linalg.solve(A, B)
    return float(np.linalg.det(A) @ [1.0, 0.5] + (sign * logdet).sum()
                 + np.linalg.inv(A)[:, 0, :].sum() + (X ** 2).sum())


@case(vector(8, -1.0, 1.0))
def batched_solve_vector_rhs(x):
    """np.linalg.solve of a (2, 2, 2) stack with a (2, 2) right side (NumPy 2: a 2-d b is
    one matrix broadcast over the stack), with a 1-d b (one vector for every matrix), and
    with a (2, 2, 1) stack of columns."""
    A = x.reshape(2, 2, 2) + 3 * np.eye(2)
    b = np.array([[1.0, 2.0], [3.0, -1.0]]) * (1 + x[:2, None] ** 2)
    y = np.linalg.solve(A, b)
    z = np.linalg.solve(A, b[0])
    w = np.linalg.solve(A, b[:, :, None])
    return float((y * np.arange(8.0).reshape(2, 2, 2)).sum() + (z * [[1.0, -1.0]]).sum()
                 + w[:, 1, 0] @ [2.0, 3.0])


@case(square(3, 3.0))
def matrix_power_negative_and_zero(x):
    """np.linalg.matrix_power with n = -2, 0, 1 and 5 (the inverse's powers, the identity)."""
    A = x.reshape(3, 3) / 3
    return float(np.linalg.matrix_power(A, -2).sum() + np.linalg.matrix_power(A, 0).sum()
                 + np.linalg.matrix_power(A, 1)[0, 1] + np.linalg.matrix_power(A, 5).trace())


@case(vector(4, -0.5, 0.5))
def eig_nonsymmetric_complex_pair(x):
    """np.linalg.eig of a rotation-like (non-symmetric) 2x2 matrix: a complex pair of
    eigenvalues used through abs and .real, the eigenvector through abs."""
    A = np.array([[1.0 + x[0], -2.0 + x[1]], [2.0 + x[2], 1.0 + x[3]]])
    w, v = np.linalg.eig(A)
    return float(np.abs(w).sum() + w.real.sum() * 2 + np.abs(w.imag).sum()
                 + np.abs(v[0, 0]) ** 2)



@case(square(3, 2.0))
def eigh_upper_of_nonsymmetric(x):
    """np.linalg.eigh(A, UPLO='U') and eigvalsh(A, UPLO='L') of a NON-symmetric array: LAPACK
    reads one triangle, so the other triangle has no influence on the result."""
    A = x.reshape(3, 3) + np.diag([0.0, 2.0, 4.0])
    w, v = np.linalg.eigh(A, UPLO="U")
    wl = np.linalg.eigvalsh(A, UPLO="L")
    return float(w @ [1.0, 2.0, 3.0] + wl @ [3.0, 1.0, 0.5] + (v[:, 0] ** 2) @ [1.0, 0.0, 2.0])


@case(vector(12, -1.0, 1.0))
def qr_modes_tall(x):
    """np.linalg.qr of a tall 4x3 matrix in modes 'r', 'complete' and 'reduced' (abs of the
    R diagonal, a projector from the reduced Q, the complete Q's first columns)."""
    A = x.reshape(4, 3) + np.vstack([2 * np.eye(3), np.zeros((1, 3))])
    r = np.linalg.qr(A, mode="r")
    Qc, Rc = np.linalg.qr(A, mode="complete")
    Q, R = np.linalg.qr(A)
    P = Q @ Q.T
    Pc = Qc[:, :3] @ Qc[:, :3].T
    return float(np.abs(np.diag(r)).sum() + P[0, 1] + Pc[2, 3] * 3 + np.abs(Rc[:3]).sum())


@case(vector(12, -1.0, 1.0))
def qr_complete_complement(x):
    """The orthogonal complement of a tall matrix's columns from np.linalg.qr(mode='complete')
    (its last column, unique up to sign: the projector q q^T is differentiable)."""
    A = x.reshape(4, 3) + np.vstack([2 * np.eye(3), np.zeros((1, 3))])
    Qc, _ = np.linalg.qr(A, mode="complete")
    q = Qc[:, 3]
    return float(np.outer(q, q)[2, 3] * 3 + np.outer(q, q)[0, 0])


@case(vector(12, -1.0, 1.0))
def svd_full_matrices_projectors(x):
    """np.linalg.svd of a wide 3x4 matrix with the default full_matrices=True (only Vt's first
    rows used), compute_uv=False, and U @ diag(s) @ Vt[:3] rebuilt."""
    A = x.reshape(3, 4) + np.hstack([np.diag([3.0, 2.0, 1.0]), np.zeros((3, 1))])
    u, s, vt = np.linalg.svd(A, full_matrices=True)
    s2 = np.linalg.svd(A, compute_uv=False)
    back = u @ np.diag(s) @ vt[:3]
    return float(s @ [1.0, 2.0, 3.0] + s2.prod() + back[1, 2])



@case(square(3, 3.0))
def cholesky_upper_keyword(x):
    """np.linalg.cholesky(S, upper=True) (NumPy 2) of S = A A^T: the upper factor."""
    A = x.reshape(3, 3)
    S = A @ A.T + np.eye(3)
    U = np.linalg.cholesky(S, upper=True)
    L = np.linalg.cholesky(S)
    return float(U[0, 1] * 3 + U[1, 2] + np.log(np.diag(L)).sum() + U.sum())


@case(vector(7, -1.0, 1.0))
def lstsq_residuals_and_singular_values(x):
    """np.linalg.lstsq(A, b, rcond=None) using every output: the solution, the residual sum of
    squares (an array of one element), the rank and the singular values."""
    t = np.linspace(0.0, 1.0, 5)
    A = np.column_stack([np.ones(5), t + x[5] * t * t, np.cos(t) * (1 + x[6])])
    sol, res, rank, sv = np.linalg.lstsq(A, x[:5], rcond=None)
    return float(sol @ [1.0, 2.0, 3.0] + res[0] * 4 + rank * 0.0 + sv.sum())



@case(square(3, 2.0))
def pinv_hermitian_and_rcond(x):
    """np.linalg.pinv(S, hermitian=True) of a symmetric matrix and pinv of a 3x2 with
    rcond= (rtol in NumPy 2 spelled the old way)."""
    A = x.reshape(3, 3)
    S = A + A.T
    P = np.linalg.pinv(S, hermitian=True)
    Q = np.linalg.pinv(A[:, :2], rcond=1e-10)
    return float(P.sum() + (Q ** 2).sum())


@case(square(3, 3.0))
def cond_tensorinv_tensorsolve(x):
    """np.linalg.cond (default 2-norm, and p='fro', p=1), np.linalg.tensorsolve on a 3x3
    system reshaped, and np.linalg.tensorinv."""
    A = x.reshape(3, 3)
    b = np.array([1.0, -2.0, 0.5])
    y = np.linalg.tensorsolve(A, b)
    Ai = np.linalg.tensorinv(A, ind=1)
    return float(np.linalg.cond(A) + np.linalg.cond(A, "fro") * 0.5 + np.linalg.cond(A, 1)
                 + y @ [1.0, 2.0, 3.0] + Ai[2, 0])


# ================================================================ einsum, tensordot, products


@case(vector(9, -1.0, 1.0))
def einsum_trace_diagonal_repeated(x):
    """einsum 'ii->', 'ii->i', 'ij,ij->', 'ij,jk,ki->' (a trace of a triple product),
    'i,i,i->' and a transposition 'ij->ji' written with out=."""
    A = x.reshape(3, 3)
    out = np.empty((3, 3))
    np.einsum("ij->ji", A, out=out)
    return float(np.einsum("ii->", A) + np.einsum("ii->i", A) @ [1.0, 2.0, 3.0]
                 + np.einsum("ij,ij->", A, out) + np.einsum("ij,jk,ki->", A, A, A)
                 + np.einsum("i,i,i->", A[0], A[1], A[2]) + out[0, 2])


@case(vector(12, -1.0, 1.0))
def einsum_ellipsis_optimize(x):
    """einsum with ellipses ('...ij,...jk->...ik', '...i->...') and optimize=True / 'greedy'
    on a four-operand contraction."""
    A = x.reshape(2, 2, 3)
    B = np.swapaxes(A, 1, 2)
    C = np.einsum("...ij,...jk->...ik", A, B)
    d = np.einsum("...i->...", A)
    e = np.einsum("ij,jk,kl,l->i", A[0], B[1], A[1], x[:3], optimize=True)
    f = np.einsum("bij,bjk->", A, B, optimize="greedy")
    return float(C.sum() + (d ** 2).sum() + e @ [1.0, -1.0] + f)


@case(vector(12, -1.0, 1.0))
def tensordot_axes_forms(x):
    """np.tensordot with axes=0 (outer), axes=1, axes=2 and axes=([1, 0], [0, 1]) (a
    permuted pairing)."""
    A = x[:6].reshape(2, 3)
    B = x[6:].reshape(3, 2)
    return float(np.tensordot(A[0], B[:, 0], axes=0).sum()
                 + np.tensordot(A, B, axes=1).trace()
                 + np.tensordot(A, B.T, axes=2)
                 + np.tensordot(A, B, axes=([1, 0], [0, 1])))


@case(vector(6, -1.0, 1.0))
def kron_cross_axes(x):
    """np.kron of a 2-d with a 1-d array; np.cross of vectors stored in columns (axisa=0,
    axisb=0, axisc=0) and of broadcast rows."""
    A = x[:4].reshape(2, 2)
    K = np.kron(A, x[4:])
    U = np.array([x[:3], x[3:], x[::2]]).T  # columns are vectors
    V = np.ones((3, 3)) + np.diag(x[:3])
    C = np.cross(U, V, axisa=0, axisb=0, axisc=0)
    D = np.cross(x[:3], np.eye(3))
    return float(K.sum() + (K ** 2)[1, 3] + (C * np.arange(9.0).reshape(3, 3)).sum()
                 + D[1, 2] * 3)


@case(vector(8, -1.0, 1.0))
def inner_outer_vdot_2d(x):
    """np.outer of 2-d arrays (it flattens them), np.inner of 2-d arrays (over last axes), and
    np.vdot of 2-d arrays (flattened) and of complex vectors (the first conjugated)."""
    A = x[:4].reshape(2, 2)
    B = x[4:].reshape(2, 2)
    z = x[:4] + 1j * x[4:]
    w = np.array([1.0 + 2j, -1.0j, 0.5, 2.0 - 1j])
    return float(np.outer(A, B)[1, 3] + np.inner(A, B).sum() * 2 + np.vdot(A, B)
                 + np.vdot(z, w).real * 3 + np.vdot(w, z).imag)


@case(vector(8, -1.0, 1.0))
def matmul_axes_keyword(x):
    """np.matmul with the gufunc axes= keyword (operands stored transposed) and np.dot with
    out=."""
    A = x.reshape(2, 2, 2)
    C = np.matmul(A, A, axes=[(0, 1), (0, 1), (0, 1)])
    out = np.zeros((2, 2))
    np.dot(A[0], A[1], out=out)
    return float((C * np.arange(8.0).reshape(2, 2, 2)).sum() + out[0, 1] * 3 + out.sum())


# ================================================================ polynomials


@case(vector(6, -1.0, 1.0))
def polyfit_weighted_then_polyval(x):
    """np.polyfit(t, y, 2, w=weights) with traced data and traced weights, then polyval of the
    fit at new points and np.polyder / np.polyint of the coefficients."""
    t = np.linspace(-1.0, 1.0, 6)
    y = np.sin(t) + 0.3 * x
    w = 1.0 + x ** 2
    c = np.polyfit(t, y, 2, w=w)
    return float(np.polyval(c, [0.3, 1.5]).sum() + np.polyval(np.polyder(c), 0.2)
                 + np.polyint(c, k=x[0])[-1] + np.polyint(c)[0])


@case(vector(4, -1.0, 1.0))
def poly1d_object_arithmetic(x):
    """np.poly1d objects: product, derivative, integral with a traced constant, division
    with remainder, evaluation at a traced point, and the coefficient array."""
    p = np.poly1d([1.0, x[0], x[1]])
    q = np.poly1d([x[2], 2.0])
    r = p * q + p.deriv() - 3 * q
    quo, rem = np.polydiv(r.coeffs, q.coeffs)
    return float(r(x[3]) + p.integ(k=x[2])(1.5) + quo.sum() + rem[-1] * 2
                 + r.coeffs @ np.arange(1.0, r.order + 2.0))


@case(vector(3, 0.3, 1.5))
def roots_and_poly_round_trip(x):
    """np.roots of the coefficients of np.poly(traced distinct roots) (a companion-matrix
    eigenproblem), sorted; np.polyadd / np.polysub of traced coefficient arrays."""
    r = np.array([x[0], x[1] + 2.0, -x[2] - 1.0])
    c = np.poly(r)
    back = np.sort(np.roots(c).real)
    return float(back @ [1.0, 2.0, 3.0] + np.polyadd(c, [1.0, x[0]]).sum()
                 + np.polysub(c, c[::-1])[1])


@case(vector(5, -1.0, 1.0))
def chebyshev_legendre_classes(x):
    """np.polynomial.Chebyshev with a domain, its derivative and integral; Legendre series
    value through legval; Hermite and Laguerre evaluation."""
    from numpy.polynomial import Chebyshev, hermite, laguerre, legendre

    c = Chebyshev(x, domain=[0.0, 2.0])
    return float(c(0.7) + c.deriv(2)(1.3) + c.integ(lbnd=0.5)(1.9)
                 + legendre.legval(0.4, x) + hermite.hermval(0.2, x[:3])
                 + laguerre.lagval(0.8, x[1:]))


@case(vector(8, -1.0, 1.0))
def polynomial_fit_class(x):
    """np.polynomial.Polynomial.fit (a scaled domain, lstsq inside) and Chebyshev.fit of
    traced data, the fitted series evaluated and converted."""
    from numpy.polynomial import Chebyshev, Polynomial

    t = np.linspace(0.0, 3.0, 8)
    y = np.exp(-t) + 0.1 * x
    p = Polynomial.fit(t, y, 3)
    c = Chebyshev.fit(t, y, 2)
    return float(p(1.1) + p.convert().coef @ [1.0, 0.5, 0.25, 0.125] + c(2.5)
                 + c.deriv()(0.3))



# ================================================================ signals and differences


@case(vector(7, -1.0, 1.0))
def convolve_modes_complex_correlate(x):
    """np.convolve in 'full', 'same' and 'valid' modes (the longer operand second), and
    np.correlate of a complex pair (the second operand conjugated)."""
    a, v = x[:3], x[3:]
    z = v + 1j * v[::-1]
    return float(np.convolve(a, v).sum() + np.convolve(a, v, "same") @ [1.0, 2.0, 3.0, 4.0]
                 + np.convolve(v, a, mode="valid") @ [1.0, -1.0]
                 + np.abs(np.correlate(z, a + 0.5j, "full")).sum())


@case(vector(6, -1.0, 1.0))
def gradient_spacing_array_edge_order(x):
    """np.gradient with a traced coordinate array (non-uniform), edge_order=2, along axis=1 of
    a 2-d array, and with a scalar traced spacing."""
    t = np.cumsum(1.0 + 0.2 * np.abs(x))
    y = np.sin(t) * (1 + x)
    g1 = np.gradient(y, t, edge_order=2)
    g2 = np.gradient(np.vstack([y, y ** 2]), 0.5 + x[0] ** 2, axis=1)
    return float(g1 @ np.arange(1.0, 7.0) + g2[1] @ np.arange(6.0))


@case(vector(6, -1.0, 1.0))
def trapezoid_traced_abscissa_axis(x):
    """np.trapezoid with a traced abscissa, with a traced dx, and along axis=0 of a 2-d array
    with a 1-d x."""
    t = np.cumsum(1.0 + 0.1 * x)
    Y = np.vstack([np.cos(t), t * x]).T
    return float(np.trapezoid(np.exp(-t), t) + np.trapezoid(x, dx=0.3 + x[1] ** 2)
                 + np.trapezoid(Y, t, axis=0) @ [1.0, 2.0])


@case(vector(5, -1.0, 1.0))
def diff_order_prepend_append(x):
    """np.diff with n=2, with traced prepend= and append= values, along axis=0 of a 2-d
    array, and np.ediff1d with to_begin / to_end."""
    d2 = np.diff(x, n=2)
    dp = np.diff(x, prepend=x[-1], append=[x[0] * 2, 1.0])
    M = np.outer(x, [1.0, 2.0])
    dm = np.diff(M, axis=0)
    e = np.ediff1d(x, to_begin=x[2], to_end=[3.0, x[1]])
    return float(d2 @ [1.0, 2.0, 3.0] + dp @ np.arange(7.0) + (dm ** 2).sum()
                 + e @ np.arange(1.0, 8.0))


@case(vector(6, 0.3, 1.5))
def cumsum_cumprod_axes_dtype(x):
    """np.cumsum(axis=0), np.cumprod(axis=-1), cumsum with dtype=float and out=, and
    np.cumulative_sum(include_initial=True)."""
    X = x.reshape(2, 3)
    out = np.empty(6)
    np.cumsum(x, dtype=float, out=out)
    return float(np.cumsum(X, axis=0).sum() + np.cumprod(X, axis=-1)[:, -1] @ [1.0, 2.0]
                 + out @ np.arange(6.0) + np.cumulative_sum(x, include_initial=True)[-2])


@case(with_zero(5, 2))
def prod_cumprod_with_exact_zero(x):
    """np.prod and np.cumprod of a vector holding an exact 0.0: the derivative with respect to
    the zero entry is the product of the others (a rule dividing by x gets 0/0)."""
    return float(np.prod(x) + np.cumprod(x) @ [1.0, 1.0, 1.0, 2.0, 3.0]
                 + np.prod(x.reshape(1, 5), axis=1)[0] * 2 + math.prod(x))


@case(with_zero(4, 0))
def powers_at_exact_zero(x):
    """x ** [0, 1, 2, 3] at x = 0, np.power / np.float_power / math.pow / ** with an integer
    exponent 0 (d/dx 0**0 is 0, d/dx x**1 is 1: a rule writing p * x**(p-1) makes 0 * inf)."""
    e = np.array([0, 1, 2, 3])
    return float(np.power(x[0], e).sum() + np.float_power(x[0], e) @ [1.0, 2.0, 3.0, 4.0]
                 + math.pow(x[0], 1.0) + x[0] ** 0 + x[0] ** 1 + np.power(x, 1) @ x
                 + x[0] ** 2)


@case(with_zero(4, 0))
def sinc_i0_at_zero(x):
    """np.sinc and np.i0 at exactly 0 (removable singularities: sinc'(0) = 0, i0'(0) = 0)
    and elsewhere."""
    return float(np.sinc(x) @ [3.0, 1.0, 2.0, 1.0] + np.i0(x) @ [2.0, 1.0, 1.0, 1.0]
                 + np.sinc(x[0]) * x[1])


# ================================================================ sorting and order statistics


@case(vector(6, -1.0, 1.0))
def sort_axis0_descending_stable(x):
    """np.sort(axis=0) of a 2-d array, descending through [::-1], kind='stable', np.argsort
    then take_along_axis, and lexsort of two keys."""
    X = x.reshape(3, 2) + np.array([[0.0, 5.0], [1.0, 2.0], [2.0, 0.0]])
    S = np.sort(X, axis=0)
    d = np.sort(x, kind="stable")[::-1]
    i = np.argsort(X, axis=1)
    T = np.take_along_axis(X, i, axis=1)
    o = np.lexsort((x[:3], np.array([1, 0, 1])))
    return float((S * np.arange(6.0).reshape(3, 2)).sum() + d @ np.arange(6.0)
                 + T[:, 1] @ [1.0, 2.0, 3.0] + x[o] @ [1.0, 2.0, 4.0])



@case(vector(9, -1.0, 1.0))
def percentile_methods_axis(x):
    """np.percentile / np.quantile with methods linear, midpoint, weibull, hazen,
    median_unbiased, normal_unbiased, nearest, lower and higher, over axis=1 with keepdims and
    an array of q."""
    X = x.reshape(3, 3)
    s = 0.0
    for k, m in enumerate(("linear", "midpoint", "weibull", "hazen", "median_unbiased",
                           "normal_unbiased", "nearest", "lower", "higher")):
        s = s + (k + 1) * np.percentile(x, [20.0, 65.0], method=m).sum()
    q = np.quantile(X, [0.3, 0.9], axis=1, keepdims=True)
    return float(s + (q * np.arange(6.0).reshape(2, 3, 1)).sum()
                 + np.median(X, axis=0) @ [1.0, 2.0, 3.0])


@case(vector(6, 0.2, 2.0))
def quantile_with_weights(x):
    """np.quantile(a, q, weights=w, method='inverted_cdf') (NumPy 2): the answer is a data
    value chosen by the traced weights' cumulative sum; plus np.average with weights."""
    a = np.array([0.5, 1.0, 1.7, 2.2, 3.1, 4.0]) + x * 0.01
    q = np.quantile(a, 0.5, weights=np.array([1.0, 2.0, 1.0, 3.0, 1.0, 2.0]),
                    method="inverted_cdf")
    return float(q * 3 + np.average(a, weights=x))


@case(vector(6, -1.0, 1.0))
def nan_reductions_with_nans(x):
    """nanmean, nansum, nanmax, nanmin, nanstd(ddof=1), nanvar, nanmedian, nanpercentile and
    nancumsum of data with NaNs at fixed places (also a whole NaN-free row)."""
    y = np.where(np.array([1, 0, 1, 1, 1, 0], bool), x, np.nan)
    Y = y.reshape(2, 3)
    return float(np.nanmean(y) + np.nansum(y) * 2 + np.nanmax(y) + np.nanmin(Y, axis=1).sum()
                 + np.nanstd(y, ddof=1) + np.nanvar(Y, axis=0) @ [1.0, 0.0, 2.0]
                 + np.nanmedian(y) + np.nanpercentile(y, 30.0) + np.nancumsum(y)[-1]
                 + np.nanprod(Y, axis=1) @ [1.0, 2.0])


@case(vector(6, 0.2, 2.0))
def average_weights_returned_axis(x):
    """np.average with traced weights along axis=1, returned=True (the sum of weights), and a
    1-d weight vector for a 2-d array."""
    X = np.arange(6.0).reshape(2, 3) + x.reshape(2, 3) ** 2
    avg, wsum = np.average(X, axis=1, weights=x.reshape(2, 3), returned=True)
    a2 = np.average(X, axis=0, weights=x[:2])
    return float(avg @ [1.0, 2.0] + wsum @ [0.5, 0.25] + a2 @ [1.0, 1.0, 3.0])


@case(vector(8, -1.0, 1.0))
def where_and_initial_reductions(x):
    """mean / var / std with where= (ddof=1), sum with where= and initial=, max with where=
    and initial=, prod with where=, and np.maximum.reduce with where=."""
    m = np.array([1, 1, 0, 1, 0, 1, 1, 1], bool)
    return float(np.mean(x, where=m) + np.var(x, where=m, ddof=1) * 2 + np.std(x, where=m)
                 + np.sum(x, where=m, initial=2.5) + np.max(x, where=m, initial=-5.0)
                 + np.prod(x + 2.0, where=~m) + np.maximum.reduce(x, where=m, initial=-9.0)
                 + x.sum(where=m, keepdims=True)[0] * 0.5)


@case(vector(8, -1.0, 1.0))
def cov_corrcoef_options(x):
    """np.cov with rowvar=False, bias=True, ddof=0, traced aweights and integer fweights, and
    np.corrcoef of two traced rows."""
    X = x.reshape(4, 2) + np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 3.0], [0.5, -1.0]])
    c1 = np.cov(X, rowvar=False)
    c2 = np.cov(X.T, bias=True)
    c3 = np.cov(X.T, aweights=1.0 + x[:4] ** 2, fweights=[1, 2, 1, 3])
    r = np.corrcoef(X[:, 0], X[:, 1])
    return float(c1[0, 1] + c2.sum() + c3[0, 0] * 2 + c3[0, 1] + r[0, 1] * 3)


@case(vector(10, 0.0, 1.0))
def histogram_density_and_weights(x):
    """np.histogram with density=True (the bin width depends on the traced min and max), with
    traced weights and fixed bins, and np.histogram_bin_edges."""
    data = np.array([0.05, 0.15, 0.31, 0.42, 0.55, 0.61, 0.72, 0.83, 0.9, 0.97])
    y = data + 0.001 * x
    dens, edges = np.histogram(y, bins=4, density=True)
    cnt, _ = np.histogram(data, bins=[0.0, 0.5, 1.0], weights=x)
    be = np.histogram_bin_edges(y, bins=3)
    return float(dens @ [1.0, 2.0, 3.0, 4.0] + edges @ np.arange(5.0) + cnt @ [1.0, 3.0]
                 + be.sum())


@case(vector(6, 0.0, 1.0))
def interp_period_left_right_complex(x):
    """np.interp with period= (an angle table), traced left= / right= values outside the
    table, and complex fp values (NumPy interpolates both parts)."""
    xp = np.array([0.0, 1.0, 2.5, 4.0, 5.5])
    fp = np.sin(xp) + x[:5]
    a = np.interp([-0.5, 7.0, 2.0], xp, fp, period=6.0)
    b = np.interp([-1.0, 6.0, 3.0], xp, fp, left=x[5] * 2, right=-x[5])
    c = np.interp(3.3, xp, fp + 1j * fp[::-1])
    return float(a @ [1.0, 2.0, 3.0] + b @ [1.0, 1.0, 1.0] + c.real + 2 * c.imag)


@case(vector(6, -1.0, 1.0))
def clip_array_bounds_inplace(x):
    """np.clip with traced array bounds (each entry strictly inside or outside), one bound
    None, and ndarray.clip(out=) in place."""
    lo = np.array([-0.5, -2.0, 0.0, -2.0, -1.5, 0.0]) * (1 + 0.1 * x)
    hi = lo + np.array([0.4, 5.0, 0.2, 5.0, 0.2, 5.0])
    y = np.array([0.0, 0.3, 1.5, -0.4, -1.9, 2.2]) + 0.01 * x
    a = np.clip(y, lo, hi)
    b = np.clip(y, None, hi[::-1])
    c = y.copy()
    c.clip(-0.2, 0.5 + x[0] * 0.0, out=c)
    return float(a @ np.arange(1.0, 7.0) + b.sum() + c @ [1.0, 2.0, 1.0, 2.0, 1.0, 2.0])


@case(vector(6, -1.0, 1.0))
def select_choose_piecewise(x):
    """np.select with a traced default, np.choose with mode='clip' and 'wrap', np.piecewise
    with functions and a constant, and np.where with broadcasting scalars."""
    cond = [np.arange(6) < 2, np.arange(6) > 3]
    s = np.select(cond, [x ** 2, np.sin(x)], default=x[0] * 3)
    ch = np.choose([0, 2, 1, 5, -1, 1], [x, x ** 2, x * 3], mode="clip")
    cw = np.choose([0, 4, 1], [x[:3], x[3:], x[::2]], mode="wrap")
    pw = np.piecewise(x, [np.arange(6) % 2 == 0, np.arange(6) == 3], [np.cos, 7.0, lambda v: v])
    w = np.where(np.arange(6)[:, None] > np.arange(2), x[:, None], x[1])
    return float(s @ np.arange(1.0, 7.0) + ch.sum() + cw @ [1.0, 2.0, 3.0] + pw @ pw
                 + (w * [1.0, 2.0]).sum())


@case(vector(6, -1.0, 1.0))
def take_modes_put_along_axis(x):
    """np.take with mode='wrap' and 'clip', out-of-range indices; put_along_axis into a copy
    (duplicate index: the last write wins); np.put with mode='wrap'."""
    t1 = np.take(x, [7, -8, 2], mode="wrap")
    t2 = np.take(x, [9, -3, 0], mode="clip")
    Y = x.reshape(2, 3).copy()
    np.put_along_axis(Y, np.array([[2, 2], [0, 1]]), x[:2, None] * np.array([[1.0, 5.0]]), 1)
    z = x.copy()
    np.put(z, [7, 8], [x[0] * 2, 1.0], mode="wrap")
    return float(t1 @ [1.0, 2.0, 3.0] + t2 @ [3.0, 1.0, 2.0]
                 + (Y * np.arange(6.0).reshape(2, 3)).sum() + z @ np.arange(6.0))


@case(vector(6, -1.0, 1.0))
def roll_rot90_flip_tile_repeat(x):
    """np.roll with shift and axis tuples, np.rot90 with k=-1 and axes=(1, 0), np.flip with
    axis=None, np.tile with a tuple of reps, np.repeat with a repeats array and axis."""
    X = x.reshape(2, 3)
    r = np.roll(X, (1, -1), axis=(0, 1))
    q = np.rot90(X, k=-1, axes=(1, 0))
    f = np.flip(X)
    t = np.tile(x[:2], (2, 3))
    p = np.repeat(X, [1, 3, 2], axis=1)
    w = np.arange(r.size, dtype=float).reshape(r.shape)
    return float((r * w).sum() + (q * np.arange(6.0).reshape(q.shape)).sum() + f[0, 0] * 3
                 + (t * np.arange(12.0).reshape(2, 6)).sum() + (p ** 2).sum())


@case(vector(5, -1.0, 1.0))
def pad_every_mode(x):
    """np.pad in modes constant (a traced constant_values pair), edge, reflect, symmetric
    (reflect_type='odd'), wrap, linear_ramp (traced end_values), maximum / mean with
    stat_length, and a 2-d pad with per-axis widths."""
    s = 0.0
    w = np.arange(1.0, 10.0)
    s += np.pad(x, 2, constant_values=(x[0], 2 * x[1])) @ w
    s += np.pad(x, 2, mode="edge") @ w
    s += np.pad(x, 2, mode="reflect") @ w
    s += np.pad(x, 2, mode="symmetric", reflect_type="odd") @ w
    s += np.pad(x, 2, mode="wrap") @ w
    s += np.pad(x, 2, mode="linear_ramp", end_values=(x[3], -1.0)) @ w
    s += np.pad(x, 2, mode="mean", stat_length=2) @ w
    s += np.pad(x + [0.0, 3.0, 0.0, 0.0, 0.0], (1, 2), mode="maximum", stat_length=(3, 2)) @ w[:8]
    s += np.pad(x[:4].reshape(2, 2), ((1, 0), (0, 2)), mode="reflect").sum()
    return float(s)



@case(vector(8, -1.0, 1.0))
def unique_inverse_scatter(x):
    """np.unique(labels, return_inverse=True, return_counts=True) used to scatter traced
    values per group (np.add.at, np.bincount with traced weights), then group means."""
    labels = np.array([3, 1, 3, 2, 1, 3, 7, 2])
    u, inv, cnt = np.unique(labels, return_inverse=True, return_counts=True)
    s = np.zeros(len(u))
    np.add.at(s, inv, x)
    b = np.bincount(inv, weights=x ** 2)
    return float((s / cnt) @ np.arange(1.0, 5.0) + b @ [1.0, 2.0, 0.5, 4.0]
                 + np.unique(x)[-1])



# ================================================================ ufuncs and their arguments



@case(vector(5, -1.0, 1.0))
def heaviside_sign_copysign_traced(x):
    """np.heaviside with a traced second argument used only where the first is exactly 0,
    np.copysign with a traced sign source, np.sign times data, np.fabs."""
    z = np.array([0.0, 1.0, -1.0, 0.0, 2.0])
    h = np.heaviside(z, x)
    c = np.copysign(x, z - 0.5)
    return float(h @ [1.0, 2.0, 3.0, 4.0, 5.0] + c @ [1.0, 1.0, 2.0, 2.0, 3.0]
                 + (np.sign(x + 3) * x).sum() + np.fabs(x - 3).sum())




@case(vector(4, 0.3, 2.0))
def negative_base_integer_powers(x):
    """Negative bases to integer powers: np.power(-x, 3), (-x) ** 2, np.float_power(-x, 2),
    np.power(-x, [2, 3, -1, -2]) with an integer exponent array, and builtin pow."""
    n = -x
    return float(np.power(n, 3).sum() + (n ** 2) @ [1.0, 2.0, 3.0, 4.0]
                 + np.float_power(n, 2.0).sum() + np.power(n, np.array([2, 3, -1, -2])).sum()
                 + pow(float(n[0]), 3) + float(n[1]) ** -2)


@case(vector(6, -1.0, 1.0))
def ufunc_out_where_partial(x):
    """np.divide(out=zeros, where=den != 0) (entries where the condition is False keep the
    out buffer), np.log(where=) into a prefilled buffer, np.add(out=x-sized slice)."""
    den = np.array([1.0, 0.0, 2.0, 0.0, -1.0, 3.0]) * (1 + 0.1 * x)
    q = np.zeros(6)
    np.divide(x, den, out=q, where=den != 0)
    lg = np.full(6, 2.0) * x[0]
    np.log(x + 2.0, out=lg, where=x > 0)
    buf = np.ones(8)
    np.multiply(x, x, out=buf[1:7])
    return float(q @ np.arange(1.0, 7.0) + lg.sum() + buf @ np.arange(8.0))


@case(vector(4, -1.0, 1.0))
def complex_sign_angle_unwrap(x):
    """np.abs and np.angle(deg=True) of complex data, np.sign of complex (z / |z| in NumPy
    2), np.unwrap of a phase with period= and discont=, np.real_if_close."""
    z = (x + 2.0) + 1j * (x[::-1] - 0.3)
    ph = np.cumsum(np.array([3.0, 3.5, 2.9, 3.3]) + 0.1 * x)
    u = np.unwrap(ph, period=2 * np.pi)
    u2 = np.unwrap(ph * 10, discont=4.0, period=7.0)
    rc = np.real_if_close(z * 0 + x + 0j)
    return float(np.abs(z).sum() + np.angle(z, deg=True) @ [0.1, 0.2, 0.3, 0.4]
                 + np.sign(z).real.sum() + np.sign(z).imag @ [1.0, 2.0, 3.0, 4.0]
                 + u @ [1.0, 2.0, 3.0, 4.0] + u2.sum() * 0.1 + rc.sum())


@case(vector(4, -1.0, 1.0))
def complex_matrix_det_solve(x):
    """np.linalg.det, solve and inv of a complex matrix built from traced data, used through
    abs and .real; np.linalg.norm of a complex vector."""
    A = np.array([[2.0 + x[0] * 1j, x[1]], [x[2] * 1j, 3.0 + x[3]]])
    b = np.array([1.0, 1j])
    y = np.linalg.solve(A, b)
    return float(np.abs(np.linalg.det(A)) + y.real.sum() + np.linalg.inv(A).imag.sum() * 2
                 + np.linalg.norm(y) + np.linalg.norm(A, "fro"))


@case(vector(4, -1.0, 1.0))
def hermitian_eigh_complex(x):
    """np.linalg.eigh / eigvalsh of a complex Hermitian matrix built from traced parts."""
    H = np.array([[2.0 + x[0], x[1] + 1j * x[2]], [x[1] - 1j * x[2], -1.0 + x[3]]])
    w, v = np.linalg.eigh(H)
    return float(w @ [1.0, 3.0] + np.abs(v[0, 0]) ** 2 + np.linalg.eigvalsh(H).prod())


# ================================================================ FFTs


@case(vector(8, -1.0, 1.0))
def rfft_irfft_n_and_norm(x):
    """np.fft.rfft with n= padding and truncation, norm='ortho' / 'forward', irfft with an odd
    n=, and a low-pass filter built from np.fft.rfftfreq."""
    F = np.fft.rfft(x, n=12)
    G = np.fft.rfft(x, n=5, norm="ortho")
    f = np.fft.rfftfreq(8, d=0.5)
    H = np.fft.rfft(x, norm="forward") * (f < 0.6)
    y = np.fft.irfft(H, n=9)
    z = np.fft.irfft(F, n=7, norm="ortho")
    return float(np.abs(F).sum() + (np.abs(G) ** 2).sum() + y @ np.arange(9.0)
                 + z @ np.arange(7.0))


@case(vector(12, -1.0, 1.0))
def fft2_shape_axes_shift(x):
    """np.fft.fft2 with s= and axes= (transposed axes), fftn over one axis, fftshift with
    axes=, ifft2 back and the real part used."""
    X = x.reshape(3, 4)
    F = np.fft.fft2(X, s=(4, 3), axes=(1, 0))
    S = np.fft.fftshift(F, axes=0)
    G = np.fft.fftn(X, axes=(1,))
    back = np.fft.ifft2(G * 2, axes=(-1, -2)).real
    return float(np.abs(S[0]).sum() + np.abs(S).sum() * 0.1 + (G.real * G.imag).sum()
                 + back[2, 1])


# ================================================================ array kinds


@case(vector(4, -1.0, 1.0))
def numpy_matrix_class(x):
    """np.matrix: '*' is a matrix product, '**' a matrix power, .I the inverse, .T, .A1,
    sum(axis=1) keeps 2-d, and indexing a row keeps a matrix."""
    M = np.matrix(x.reshape(2, 2) + 2 * np.eye(2))
    P = M * M.T
    Q = M ** 3
    r = M[0] * M.I
    return float(P.sum() + Q[1, 0] + r.A1 @ [1.0, 2.0] + M.sum(axis=1)[1, 0] * 2
                 + np.asarray(M.mean(0)).ravel() @ [1.0, 3.0])


@case(vector(5, -1.0, 1.0))
def masked_array_arithmetic_filled(x):
    """np.ma.masked_array arithmetic (mask propagates), .filled(0), np.ma.sum over a masked
    array and masked_where."""
    m = np.ma.masked_array(x, mask=[0, 1, 0, 0, 1])
    y = (m * 2 + 1) ** 2
    w = np.ma.masked_where(x > 0.9, x)
    return float(y.filled(0.0) @ np.arange(1.0, 6.0) + np.ma.sum(m) + w.filled(1.0).sum())


@case(vector(3, -1.0, 1.0))
def char_mod_numbers_as_text(x):
    """np.char.mod('%.12f', x) then back to float with astype (numbers through text), plus a
    differentiable term."""
    s = np.char.mod("%.17g", x)
    y = s.astype(float)
    return float(y @ [1.0, 2.0, 3.0] + x @ x)


@case(vector(4, -1.0, 1.0))
def zero_d_and_empty_arrays(x):
    """0-d arrays (np.asarray of a traced scalar, += in place, .item()), empty slices in sums
    and products, np.max(initial=) of an empty slice, np.linalg.det of a 0x0 matrix and a dot
    of empty vectors."""
    a = np.asarray(x[0] * 2)
    a += x[1]
    e = x[:0]
    return float(a * 3 + a.item() + np.sum(e) + np.prod(e) * x[2] + np.max(e, initial=-1.0) * x[3]
                 + np.linalg.det(np.zeros((0, 0))) * x[2] + np.dot(e, e) + np.atleast_1d(a)[0])




# ================================================================ scipy.special



@case(vector(4, 0.3, 2.5))
def special_betainc_traced_shapes(x):
    """betainc(a, b, t) with traced shape parameters a, b and traced t; gammainc(a, t) with a
    traced a (derivatives with respect to the shapes)."""
    from scipy import special as sp

    t = x[2] / 3.0
    return float(sp.betainc(x[0], x[1], t) * 3 + sp.gammainc(x[3], x[2])
                 + sp.gammaincc(x[0], 1.0))


@case(with_zero(4, 0, 0.2, 0.8))
def special_erf_logit_xlogy(x):
    """erf, erfc, erfinv, erfcinv, expit, logit, log_expit and xlogy / xlog1py with the first
    argument exactly 0 (d/dx xlogy(x, y) at x = 0 is log(y))."""
    from scipy import special as sp

    return float(sp.erf(x).sum() + sp.erfc(x[1]) + sp.erfinv(x[2]) + sp.erfcinv(x[3] + 0.1)
                 + sp.expit(x).sum() + sp.logit(x[1]) + sp.log_expit(x[2])
                 + sp.xlogy(x[0], 2.0 + x[1]) + sp.xlog1py(x[0], x[3]))


@case(vector(6, -1.0, 1.0))
def special_logsumexp_b_sign_axis(x):
    """scipy.special.logsumexp with b= (some negative weights) and return_sign=True, with
    axis=1 and keepdims=True, and with -inf entries."""
    from scipy import special as sp

    X = x.reshape(2, 3)
    v, s = sp.logsumexp(x, b=[1.0, 2.0, -0.5, 1.0, 0.5, 1.0], return_sign=True)
    w = sp.logsumexp(X, axis=1, keepdims=True)
    z = sp.logsumexp(np.concatenate([x, [-np.inf]]), b=np.append(np.ones(6), 3.0))
    return float(v * s + (w * [[1.0], [2.0]]).sum() + z)



@case(vector(3, 0.5, 3.0))
def special_bessel_family(x):
    """ive, kv, jv, yv, iv with fixed orders (also non-integer) and traced arguments, and
    i0e."""
    from scipy import special as sp

    return float(sp.ive(1.5, x[0]) + sp.kv(0.3, x[1]) + sp.jv(2, x[2]) + sp.yv(1, x[0])
                 + sp.iv(0.5, x[1]) + sp.i0e(x[2]))


@case(vector(2, 0.1, 0.8))
def special_zeta_ellipk(x):
    """scipy.special.zeta(s, q) with a traced q (Hurwitz), ellipk(m) and ellipe(m) with a
    traced m."""
    from scipy import special as sp

    return float(sp.zeta(3.0, 1.0 + x[0]) + sp.ellipk(x[1]) + sp.ellipe(x[0]))


# ================================================================ scipy.stats


@case(vector(3, 0.5, 2.0))
def stats_norm_t_traced_params(x):
    """scipy.stats.norm.logpdf / cdf / sf / ppf / logcdf with traced loc and scale, and t.cdf
    with traced loc and scale (fixed df)."""
    from scipy import stats

    return float(stats.norm.logpdf(0.3, loc=x[0], scale=x[1])
                 + stats.norm.cdf(1.2, x[0], x[1]) * 2 + stats.norm.sf(0.1, loc=x[2])
                 + stats.t.cdf(0.7, df=4.0, loc=x[2], scale=x[1])
                 + stats.norm.ppf(0.3, loc=x[0], scale=x[1]) + stats.norm.logcdf(-1.0, x[2], x[0]))


@case(vector(3, 1.0, 3.0))
def stats_gamma_beta_lognorm_shapes(x):
    """scipy.stats.gamma.logpdf / cdf with traced shape and scale, beta.logpdf with traced a,
    b, lognorm.sf with a traced s, expon.logcdf with a traced scale."""
    from scipy import stats

    return float(stats.gamma.logpdf(1.5, x[0], scale=x[1])
                 + stats.beta.logpdf(0.4, x[1], x[2]) * 2 + stats.lognorm.sf(1.3, x[2] / 2)
                 + stats.gamma.cdf(2.0, x[2], scale=x[0])
                 + stats.expon.logcdf(0.8, scale=x[0]))


@case(vector(3, 1.0, 3.0))
def stats_frozen_distribution_methods(x):
    """A frozen scipy.stats distribution (gamma(a, scale=)) : its mean, var, entropy, logpdf
    of an array, and interval()."""
    from scipy import stats

    d = stats.gamma(x[0], scale=x[1])
    lo, hi = d.interval(0.9)
    return float(d.mean() + d.var() + d.entropy() + d.logpdf(np.array([0.5, 1.5, x[2]])).sum()
                 + hi - lo)


# ================================================================ scipy.integrate


@case(vector(3, 0.5, 2.0))
def quad_traced_limits_and_args(x):
    """scipy.integrate.quad with traced limits and traced args (a Leibniz rule)."""
    from scipy import integrate

    v, _ = integrate.quad(lambda t, a, b: np.exp(-a * t) * np.cos(b * t), 0.1 * x[0],
                          1.0 + x[1], args=(x[2], x[0]))
    return float(v)



@case(vector(2, 0.5, 1.5), heavy=True)
def solve_ivp_traced_params_dense(x):
    """scipy.integrate.solve_ivp with traced parameters via args=, t_eval points and tight
    tolerances (damped oscillator)."""
    from scipy.integrate import solve_ivp

    sol = solve_ivp(lambda t, y, k, c: [y[1], -k * y[0] - c * y[1]], (0.0, 2.0), [1.0, 0.0],
                    args=(x[0], 0.3 * x[1]), t_eval=[0.5, 2.0], rtol=1e-11, atol=1e-12)
    return float(sol.y[0] @ [1.0, 2.0] + sol.y[1, -1])



@case(vector(2, 0.5, 2.0))
def quad_weight_traced_wvar(x):
    """scipy.integrate.quad with weight='cos' / 'sin' (QAWO, QAWF on [0, inf)) and 'cauchy'
    whose wvar (the frequency, the pole) is traced: a Fourier integral of a damped signal."""
    from scipy import integrate

    f = lambda t: np.exp(-x[0] * t)
    return float(integrate.quad(f, 0, 3, weight="cos", wvar=x[1])[0]
                 + integrate.quad(f, 0, np.inf, weight="sin", wvar=x[1])[0]
                 + integrate.quad(f, 0, 3, weight="cauchy", wvar=x[1] + 0.3)[0])


@case(vector(2, 0.5, 1.5), heavy=True)
def ode_traced_output_times(x):
    """solve_ivp with a traced final time in t_span and a traced t_eval point, odeint with a
    traced output time (d y(T) / dT = f(T, y(T)))."""
    from scipy import integrate

    T = 1.0 + x[1]
    f = lambda t, y: [-x[0] * y[0] + np.sin(t)]
    a = integrate.solve_ivp(f, (0.0, T), [1.0], rtol=1e-12, atol=1e-12).y[0, -1]
    b = integrate.solve_ivp(f, (0.0, 3.0), [1.0], t_eval=[0.5, T], rtol=1e-12,
                            atol=1e-12).y[0, -1]
    c = integrate.odeint(lambda y, t: -x[0] * y + np.sin(t), 1.0, [0.0, 0.5, T], rtol=1e-12,
                         atol=1e-12)[-1, 0]
    return float(a + 2 * b + 3 * c)


# ================================================================ scipy.optimize


def _minimize_scalar_ref(x):
    # min over t of (t - a)^2 + b cos(t): the envelope derivative at the minimiser
    from scipy.optimize import minimize_scalar

    a, b = x
    t = minimize_scalar(lambda t: (t - a) ** 2 + b * np.cos(t), bracket=(a - 1, a + 1),
                        tol=1e-12).x
    return np.array([-2 * (t - a), np.cos(t)])


@case(vector(2, 0.5, 1.0), reference=_minimize_scalar_ref)
def minimize_scalar_value_envelope(x):
    """scipy.optimize.minimize_scalar (Brent) with traced data: the minimum value (the
    envelope theorem gives its gradient)."""
    from scipy.optimize import minimize_scalar

    a, b = x
    r = minimize_scalar(lambda t: (t - a) ** 2 + b * np.cos(t), bracket=(a - 1, a + 1),
                        tol=1e-12)
    return float(r.fun)


@case(vector(2, 0.5, 2.0))
def brentq_newton_traced_args(x):
    """scipy.optimize.brentq with args= (xtol tight) and scipy.optimize.newton with args= and
    an fprime: the roots of t**3 + a t - b."""
    from scipy.optimize import brentq, newton

    f = lambda t, a, b: t ** 3 + a * t - b
    r1 = brentq(f, -5.0, 5.0, args=(x[0], x[1]), xtol=1e-15, rtol=1e-15)
    r2 = newton(f, 1.0, fprime=lambda t, a, b: 3 * t * t + a, args=(x[1], x[0]), tol=1e-14)
    return float(r1 + 2 * r2)


def _lsq_ref(x):
    # linear least squares: the minimal cost's gradient with respect to the data
    t = np.linspace(0.0, 1.0, 5)
    A = np.column_stack([np.ones(5), t])
    beta = np.linalg.lstsq(A, x, rcond=None)[0]
    return x - A @ beta


@case(vector(5, -1.0, 1.0), reference=_lsq_ref)
def least_squares_cost_traced_data(x):
    """scipy.optimize.least_squares of a linear model with traced data: the optimal cost
    (0.5 * |residual|^2)."""
    from scipy.optimize import least_squares

    t = np.linspace(0.0, 1.0, 5)
    r = least_squares(lambda p: p[0] + p[1] * t - x, [0.0, 0.0], xtol=1e-15, ftol=1e-15,
                      gtol=1e-15)
    return float(r.cost)


def _minimize_ref(x):
    # min over p of sum((p - x)^2 * w) + |p|^4 / 4: the envelope gradient -2 w (p - x)
    from scipy.optimize import minimize

    w = np.array([1.0, 2.0, 3.0])
    f = lambda p: np.sum(w * (p - x) ** 2) + (p @ p) ** 2 / 4
    p = minimize(f, np.zeros(3), method="BFGS", options={"gtol": 1e-12}).x
    return -2 * w * (p - x)


@case(vector(3, -1.0, 1.0), reference=_minimize_ref)
def minimize_bfgs_traced_data(x):
    """scipy.optimize.minimize (BFGS, numerical gradient) with traced data: the optimal
    value."""
    from scipy.optimize import minimize

    w = np.array([1.0, 2.0, 3.0])
    f = lambda p: np.sum(w * (p - x) ** 2) + (p @ p) ** 2 / 4
    return float(minimize(f, np.zeros(3), method="BFGS", options={"gtol": 1e-12}).fun)


# ================================================================ scipy.interpolate


@case(vector(6, -1.0, 1.0))
def cubic_spline_boundary_conditions(x):
    """scipy.interpolate.CubicSpline of traced values with bc_type 'clamped', 'natural', a
    periodic series and a ((1, d), (2, d)) tuple; values, derivative nu=1 and nu=2."""
    from scipy.interpolate import CubicSpline

    t = np.array([0.0, 0.4, 1.1, 1.5, 2.2, 3.0])
    cs1 = CubicSpline(t, x, bc_type="clamped")
    cs2 = CubicSpline(t, x, bc_type="natural")
    y = np.append(x[:5], x[0])
    cs3 = CubicSpline(t, y, bc_type="periodic")
    cs4 = CubicSpline(t, x, bc_type=((1, x[0]), (2, -1.0)))
    q = np.array([0.2, 1.3, 2.7])
    return float(cs1(q).sum() + cs2(q, 1) @ [1.0, 2.0, 3.0] + cs3(3.5) + cs4(q, 2).sum())


@case(vector(6, -1.0, 1.0))
def interp1d_kinds_fill(x):
    """scipy.interpolate.interp1d of traced values: kinds linear, quadratic, cubic, nearest
    and previous, with bounds_error=False and a traced fill_value, axis=0 of a 2-d y."""
    from scipy.interpolate import interp1d

    t = np.array([0.0, 0.5, 1.2, 2.0, 2.4, 3.0])
    q = np.array([0.3, 1.7, 2.8])
    s = 0.0
    for k, kind in enumerate(("linear", "quadratic", "cubic", "nearest", "previous")):
        s += (k + 1) * interp1d(t, x, kind=kind)(q).sum()
    f = interp1d(t, x, bounds_error=False, fill_value=x[2] * 3)
    g = interp1d(t, np.column_stack([x, x ** 2]), axis=0)
    return float(s + f([-1.0, 1.0, 5.0]).sum() + g(1.1) @ [1.0, 2.0])


@case(vector(6, -1.0, 1.0))
def make_interp_spline_bsplines(x):
    """scipy.interpolate.make_interp_spline (k=3 and k=2) of traced data, BSpline evaluated
    with derivatives and integrated, and splev / splrep-free evaluation."""
    from scipy.interpolate import make_interp_spline

    t = np.linspace(0.0, 2.5, 6)
    b3 = make_interp_spline(t, x, k=3)
    b2 = make_interp_spline(t, x ** 2, k=2)
    return float(b3(1.3) + b3.derivative()(0.7) + b2(np.array([0.4, 2.2])).sum()
                 + b3.integrate(0.0, 2.0))


@case(vector(16, -1.0, 1.0))
def regular_grid_interpolator_traced_values(x):
    """scipy.interpolate.RegularGridInterpolator with traced grid values, methods 'nearest',
    'slinear' and 'cubic' (Python and sparse solves; 'linear' is rgi_linear_cython)."""
    from scipy.interpolate import RegularGridInterpolator

    g = (np.array([0.0, 1.0, 2.5, 3.0]), np.array([0.0, 0.5, 1.0, 2.0]))
    V = x.reshape(4, 4)
    pts = np.array([[0.3, 0.2], [1.7, 1.4], [2.2, 0.7]])
    a = RegularGridInterpolator(g, V, method="slinear")(pts)
    b = RegularGridInterpolator(g, V, method="nearest")(pts)
    c = RegularGridInterpolator(g, V, method="cubic")(pts)
    return float(a @ [1.0, 2.0, 3.0] + b.sum() + c @ [1.0, 1.0, 2.0])


@case(vector(12, -1.0, 1.0))
def rgi_linear_cython(x):
    """RegularGridInterpolator (method='linear', its Cython kernel for 2-d grids) and
    scipy.interpolate.interpn of traced grid values."""
    from scipy.interpolate import RegularGridInterpolator, interpn

    g = (np.array([0.0, 1.0, 2.5]), np.array([0.0, 0.5, 1.0, 2.0]))
    V = x.reshape(3, 4)
    pts = np.array([[0.3, 0.2], [1.7, 1.4], [2.2, 0.7]])
    return float(RegularGridInterpolator(g, V)(pts) @ [1.0, 2.0, 3.0]
                 + interpn(g, V, pts[:1])[0])


# ================================================================ scipy.signal


@case(vector(8, -1.0, 1.0))
def lfilter_traced_coefficients(x):
    """scipy.signal.lfilter with traced b and a coefficients (a stable first-order pole) over
    a fixed signal, along axis=0 of a 2-d signal."""
    from scipy import signal

    b = np.array([0.5, 0.2 + 0.1 * x[0]])
    a = np.array([1.0, -0.5 + 0.2 * x[1]])
    y = signal.lfilter(b, a, x[2:])
    Y = signal.lfilter(b, a, np.column_stack([x[2:], x[2:] ** 2]), axis=0)
    return float(y @ np.arange(6.0) + Y[-1] @ [1.0, 2.0])


@case(vector(8, -1.0, 1.0))
def lfilter_final_state_blocks(x):
    """Block-wise filtering: scipy.signal.lfilter with a constant initial state zi, its final
    state zf carried into the next block (streaming code), along the last axis."""
    from scipy import signal

    b, a = signal.butter(2, 0.3)
    y1, zf = signal.lfilter(b, a, x[:4], zi=np.array([0.1, -0.2]))
    y2, _ = signal.lfilter(b, a, x[4:], zi=zf)
    return float(y1 @ np.arange(4.0) + y2 @ np.arange(4.0, 8.0) + zf.sum())


@case(vector(8, -1.0, 1.0))
def fftconvolve_signal_convolve_modes(x):
    """scipy.signal.fftconvolve ('same', 'valid'), signal.convolve with method='fft' and
    'direct', signal.correlate mode='valid', oaconvolve."""
    from scipy import signal

    a, v = x[:5], x[5:]
    return float(signal.fftconvolve(a, v, mode="same") @ np.arange(5.0)
                 + signal.fftconvolve(a, v, mode="valid").sum()
                 + signal.convolve(a, v, method="fft") @ np.arange(7.0)
                 + signal.convolve(a, v, method="direct").sum()
                 + signal.correlate(a, v, mode="valid") @ [1.0, 2.0, 3.0]
                 + signal.oaconvolve(a, v).sum())


@case(vector(9, -1.0, 1.0))
def savgol_nearest_and_deriv(x):
    """scipy.signal.savgol_filter with mode='nearest' and mode='mirror', deriv=1 with delta=,
    and savgol_coeffs used in np.convolve."""
    from scipy import signal

    a = signal.savgol_filter(x, 5, 2, mode="nearest")
    b = signal.savgol_filter(x, 5, 3, deriv=1, delta=0.5, mode="mirror")
    c = np.convolve(x, signal.savgol_coeffs(5, 2), mode="valid")
    return float(a @ np.arange(9.0) + b.sum() + c @ [1.0, 2.0, 3.0, 4.0, 5.0])


@case(vector(8, -1.0, 1.0))
def sosfilt_butter(x):
    """scipy.signal.sosfilt of a traced signal with a Butterworth filter in sections."""
    from scipy import signal

    sos = signal.butter(2, 0.3, output="sos")
    return float(signal.sosfilt(sos, x) @ np.arange(8.0))


# ================================================================ scipy.linalg


@case(square(3, 0.0))
def scipy_expm_stack_frechet(x):
    """scipy.linalg.expm of a traced matrix and of a stack, and expm_frechet (the Frechet
    derivative as a value)."""
    from scipy import linalg

    A = x.reshape(3, 3) / 2
    E = linalg.expm(A)
    S = linalg.expm(np.stack([A, A.T * 0.5]))
    Ef, L = linalg.expm_frechet(A, np.eye(3) * 0.1 + A)
    return float(E.sum() + S[1, 0, 2] + L[0, 1] + Ef[2, 2])


@case(square(3, 3.0))
def solve_triangular_flags(x):
    """scipy.linalg.solve_triangular with lower=True, trans='T', trans=1, unit_diagonal=True
    on a full array (the other triangle ignored), and a 2-column right side."""
    from scipy import linalg

    A = x.reshape(3, 3)
    b = np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, 1.0]])
    y1 = linalg.solve_triangular(A, b, lower=True)
    y2 = linalg.solve_triangular(A, b[:, 0], trans="T")
    y3 = linalg.solve_triangular(A, b, trans=1, lower=True, unit_diagonal=True)
    return float(y1.sum() + y2 @ [1.0, 2.0, 3.0] + (y3 * [[1.0, 2.0]]).sum())


@case(vector(5, -1.0, 1.0))
def toeplitz_circulant_hankel(x):
    """scipy.linalg.toeplitz (one and two arguments), circulant and hankel matrices built from
    traced vectors, then a solve and a determinant."""
    from scipy import linalg

    T = linalg.toeplitz(np.append(3.0, x[:2]))
    T2 = linalg.toeplitz(x[:3], np.append(x[0], x[3:]))
    C = linalg.circulant(np.array([4.0, x[0], x[1]]))
    H = linalg.hankel(x[:3], np.array([x[2], 1.0, 2.0]))
    return float(np.linalg.solve(T, [1.0, 2.0, 3.0]).sum() + T2.sum() + np.linalg.det(C)
                 + (H * np.arange(9.0).reshape(3, 3)).sum())



@case(square(3, 2.0))
def cho_solve_lu_solve_paths(x):
    """scipy.linalg.cho_factor(lower=True) then cho_solve; lu_factor then lu_solve with
    trans=1; scipy.linalg.solve with assume_a='pos' and 'sym'."""
    from scipy import linalg

    A = x.reshape(3, 3)
    S = A @ A.T + np.eye(3)
    b = np.array([1.0, -1.0, 2.0])
    c = linalg.cho_solve(linalg.cho_factor(S, lower=True), b)
    lu = linalg.lu_factor(A)
    d = linalg.lu_solve(lu, b, trans=1)
    e = linalg.solve(S, b, assume_a="pos")
    f = linalg.solve(A + A.T, b, assume_a="sym")
    return float(c @ [1.0, 2.0, 3.0] + d.sum() + e @ e + f[0])


@case(vector(8, -1.0, 1.0))
def solve_banded_tridiagonal(x):
    """scipy.linalg.solve_banded((1, 1), ab, b) with traced diagonals and right side, and
    solve_banded((0, 1), ...) of an upper bidiagonal band."""
    from scipy import linalg

    ab = np.array([[0.0, x[0], x[1], x[2]],
                   [4.0 + x[3], 4.0, 4.0 + x[4], 4.0],
                   [x[5], x[6], x[7], 0.0]])
    y = linalg.solve_banded((1, 1), ab, np.array([1.0, 2.0, x[0], 1.0]))
    ub = np.array([[0.0, x[0], x[1], x[2]], [4.0, 4.0 + x[3], 4.0, 4.0]])
    z = linalg.solve_banded((0, 1), ub, np.ones(4))
    return float(y @ [1.0, 2.0, 3.0, 4.0] + z @ [1.0, -1.0, 2.0, 0.5])


@case(vector(6, -1.0, 1.0))
def scipy_pinv_orth_pinvh(x):
    """scipy.linalg.pinv (SVD based), orth's projector and scipy.linalg.pinvh of a symmetric
    matrix."""
    from scipy import linalg

    A = x.reshape(2, 3) + np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    P = linalg.pinv(A)
    O = linalg.orth(A.T)
    H = linalg.pinvh(A @ A.T + np.eye(2))
    return float(P.sum() + (O @ O.T)[1, 1] + H[0, 1])


@case(square(2, 3.0))
def scipy_solve_sylvester_lyapunov(x):
    """scipy.linalg.solve_sylvester and solve_continuous_lyapunov with traced coefficients
    (LAPACK trsyl after a Schur form)."""
    from scipy import linalg

    A = x.reshape(2, 2)
    X = linalg.solve_sylvester(A, A.T + np.eye(2), np.eye(2))
    Y = linalg.solve_continuous_lyapunov(-A, -np.eye(2))
    return float(X.sum() + Y[0, 1])


@case(square(3, 2.0))
def scipy_lu_qr_eigvals(x):
    """scipy.linalg.lu (P, L, U), scipy.linalg.qr (economic) and scipy.linalg.eigvals
    (rules being added at the time of writing)."""
    from scipy import linalg

    A = x.reshape(3, 3) + np.diag([0.0, 2.0, 4.0])
    P, L, U = linalg.lu(A)
    Q, R = linalg.qr(A, mode="economic")
    w = np.sort(linalg.eigvals(A + A.T).real)
    return float(L[2, 0] + U[1, 2] + np.abs(np.diag(R)).sum() + w @ [1.0, 2.0, 3.0])


# ================================================================ sparse, ndimage, spatial


@case(vector(5, -1.0, 1.0))
def sparse_matvec_and_spsolve(x):
    """scipy.sparse.csr_matrix (constant) times a traced vector, and a diags() matrix with
    traced diagonals solved with spsolve."""
    from scipy import sparse
    from scipy.sparse.linalg import spsolve

    S = sparse.csr_matrix(np.array([[1.0, 0.0, 2.0, 0.0, 0.0], [0.0, 3.0, 0.0, 0.0, 1.0],
                                    [0.0, 0.0, 0.0, 4.0, 0.0]]))
    y = S @ x
    D = sparse.diags([4.0 + x, x[:4]], [0, 1], format="csc")
    z = spsolve(D, np.ones(5))
    return float(y @ [1.0, 2.0, 3.0] + z.sum())


@case(vector(12, -1.0, 1.0))
def ndimage_filters_modes_orders(x):
    """scipy.ndimage.gaussian_filter with mode='wrap' and per-axis sigma, gaussian_filter1d
    with order=1 (a derivative filter), ndimage.convolve with mode='mirror' and
    uniform_filter with mode='constant' and cval."""
    from scipy import ndimage

    X = x.reshape(3, 4)
    a = ndimage.gaussian_filter(X, sigma=(0.7, 1.2), mode="wrap")
    b = ndimage.gaussian_filter1d(x, 1.0, order=1)
    c = ndimage.convolve(X, np.array([[0.0, 1.0], [2.0, -1.0]]), mode="mirror")
    d = ndimage.uniform_filter(X, size=2, mode="constant", cval=0.5)
    w = np.arange(12.0).reshape(3, 4)
    return float((a * w).sum() + b @ np.arange(12.0) + (c * w).sum() + (d * w).sum())


@case(vector(9, -1.0, 1.0))
def ndimage_map_coordinates_shift(x):
    """scipy.ndimage.map_coordinates (order=1) of a traced image at fixed coordinates, and
    ndimage.shift with order=1 (spline interpolation, C code)."""
    from scipy import ndimage

    img = x.reshape(3, 3)
    v = ndimage.map_coordinates(img, [[0.5, 1.2, 1.9], [0.3, 1.7, 0.8]], order=1)
    s = ndimage.shift(img, (0.3, -0.4), order=1, mode="nearest")
    return float(v @ [1.0, 2.0, 3.0] + (s * np.arange(9.0).reshape(3, 3)).sum())


@case(vector(6, -1.0, 1.0))
def spatial_distance_functions(x):
    """scipy.spatial.distance functions written in Python: sqeuclidean, cosine, minkowski
    with p=3 and weights, mahalanobis, braycurtis, cityblock of traced points (euclidean calls
    scipy.linalg.norm: scipy_linalg_norm_variants)."""
    from scipy.spatial import distance

    u, v = x[:3] + 2.0, x[3:] - 0.5
    VI = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.1], [0.0, 0.1, 1.5]])
    return float(distance.sqeuclidean(u, v) + distance.cosine(u, v)
                 + distance.minkowski(u, v, p=3, w=[1.0, 2.0, 0.5])
                 + distance.mahalanobis(u, v, VI) + distance.braycurtis(u, v + 3.0)
                 + distance.cityblock(u, v))


@case(vector(6, -1.0, 1.0))
def spatial_pdist_squareform(x):
    """scipy.spatial.distance.pdist with metrics 'euclidean' and 'sqeuclidean', and
    squareform of the result (C metric code)."""
    from scipy.spatial import distance

    P = x.reshape(3, 2) + np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    d = distance.pdist(P)
    D = distance.squareform(distance.pdist(P, "sqeuclidean"))
    return float(d @ [1.0, 2.0, 3.0] + D[0, 2])


# ================================================================ arguments rules may ignore


@case(vector(7, -1.0, 1.0))
def median_overwrite_input(x):
    """np.median / np.percentile with overwrite_input=True (a speed idiom): NumPy partitions
    the argument in place, and the program reads the partitioned buffer afterwards."""
    y = x * 2.0
    m = np.median(y, overwrite_input=True)
    z = x[:6].reshape(2, 3) + 1.0
    q = np.percentile(z, 40, axis=1, overwrite_input=True)
    return float(m * 3 + y @ np.arange(7.0) + q @ [1.0, 2.0] + z[0, 0])


@case(vector(4, -1.0, 1.0))
def round_decimals_cleanup(x):
    """np.round(a, 12), np.around and ndarray.round(10) used to clean rounding noise from
    computed values (numerically the identity at the FD step sizes; builtin round(x, 10) is
    reported as a gradient cut, FA102)."""
    y = np.exp(x) * 3.0
    return float(np.round(y, 12) @ [1.0, 2.0, 3.0, 4.0] + np.around(y[0] * y[1], 10)
                 + y.round(10).sum() + x @ x)


@case(vector(4, -1.0, 1.0))
def linalg_diagonal_offset_square(x):
    """np.linalg.diagonal (array API) of square matrices with offset=1 and -1, and of a stack
    of 2x2 matrices."""
    A = x.reshape(2, 2) + 2.0
    T = np.stack([A, A.T * 2])
    return float(np.linalg.diagonal(A, offset=1)[0] * 3 + np.linalg.diagonal(A, offset=-1)[0]
                 + np.linalg.diagonal(T, offset=1).sum()
                 + (np.linalg.diagonal(T) * [1.0, 2.0]).sum())


@case(vector(7, -1.0, 1.0))
def convolve_numeric_mode(x):
    """np.convolve / np.correlate with the old numeric modes (0 valid, 1 same, 2 full), as
    Numeric-era code passes them."""
    a, v = x[:3], x[3:]
    return float(np.convolve(a, v, 1) @ [1.0, 2.0, 3.0, 4.0] + np.correlate(v, a, 0) @ [1.0, 2.0]
                 + np.convolve(v, a, 2) @ np.arange(6.0))


@case(vector(6, -1.0, 1.0))
def reduction_traced_initial(x):
    """np.sum with a traced initial= (the start value of the reduction), np.max(initial=)
    of an empty slice with a traced initial, np.prod(initial=traced)."""
    e = x[:0]
    return float(np.sum(x[1:], initial=x[0]) * 2 + np.max(e, initial=x[1])
                 + np.prod(x[2:] + 2.0, initial=x[3] + 2.0))


@case(vector(6, -1.0, 1.0))
def var_std_mean_correction_keywords(x):
    """NumPy 2's keywords: np.var / np.std with a precomputed mean= (keepdims shape) and
    correction= (the ddof alias), np.clip with min= / max= keywords of traced bounds."""
    X = x.reshape(2, 3)
    m = X.mean(axis=1, keepdims=True)
    return float(np.var(X, axis=1, mean=m) @ [1.0, 2.0] + np.std(X, axis=1, mean=m) @ [3.0, 1.0]
                 + np.std(x, correction=1) * 3
                 + np.var(X, axis=0, correction=1.5) @ [1.0, 2.0, 3.0]
                 + np.clip(x, min=x[0] - 0.3, max=x[1] + 0.4) @ np.arange(6.0))


@case(vector(6, -1.0, 1.0))
def einsum_sublist_implicit_forms(x):
    """np.einsum in its operand-sublist form (A, [0, 1], B, [1, 2], [0, 2]), in implicit mode
    (the output labels sorted: 'ba' is a transpose), with spaces and uppercase labels, and
    with a precomputed einsum_path."""
    A = x.reshape(2, 3)
    path = np.einsum_path("ij,kj,kl->il", A, A, A, optimize="optimal")[0]
    return float((np.einsum(A, [0, 1], A.T, [1, 2], [0, 2]) * [[1.0, 2.0], [3.0, 4.0]]).sum()
                 + (np.einsum("ba", A) * np.arange(6.0).reshape(3, 2)).sum()
                 + (np.einsum(" Ij , Kj -> IK ", A, A) * [[1.0, 2.0], [3.0, 5.0]]).sum()
                 + np.einsum("ij,kj,kl->il", A, A, A, optimize=path)[1, 2])


@case(vector(6, -1.0, 1.0))
def vecdot_vecmat_complex_conjugation(x):
    """np.vecdot / np.linalg.vecdot (conjugate the first argument), np.vecmat (conjugates
    the vector), np.matvec (does not) on complex data from traced parts."""
    a = x[:3] + 1j * x[3:]
    b = np.array([1 + 2j, -1j, 0.5])
    A = np.array([[1 + 1j, 2.0, 0.0], [0.5j, -1.0, 1.0]]) * (1 + x[4])
    return float(np.vecdot(a, b).imag + np.linalg.vecdot(b, a).imag * 2 + np.vecdot(a, a).real
                 + np.vecmat(a[:2], A).imag @ [1.0, 2.0, 3.0] + np.matvec(A, a).imag @ [1.0, 3.0])


@case(vector(6, -1.0, 1.0))
def linspace_geomspace_traced_ends(x):
    """np.linspace with traced start / stop (endpoint=False, retstep=True, array ends with
    axis=1), np.geomspace and np.logspace(base=2) with traced ends, np.arange from a traced
    start."""
    a, st = np.linspace(x[0], x[1] + 3, 5, endpoint=False, retstep=True)
    b = np.linspace(x[:2], x[2:4] + 2, 3, axis=1)
    g = np.geomspace(1 + x[4] ** 2, 5 + x[5], 4)
    lg = np.logspace(x[0], 1.0, 3, base=2.0)
    r = np.arange(x[2], x[2] + 2.5, 0.5)
    return float(a @ np.arange(5.0) + st + (b * np.arange(6.0).reshape(2, 3)).sum()
                 + g @ [1.0, 2.0, 3.0, 4.0] + lg.sum() + r @ np.arange(5.0))


@case(square(3, 2.0))
def svd_hermitian_flag(x):
    """np.linalg.svd(S, hermitian=True) of a symmetric indefinite matrix (NumPy takes eigh and
    moves the eigenvalues' signs into U), with compute_uv=False too."""
    A = x.reshape(3, 3)
    S = A + A.T - np.diag([0.0, 6.0, 0.0])
    u, s, vt = np.linalg.svd(S, hermitian=True)
    return float(s @ [1.0, 2.0, 3.0] + (u @ np.diag(s) @ vt)[0, 1]
                 + np.linalg.svd(S, hermitian=True, compute_uv=False).sum())


# ================================================================ SciPy calls without rules


@case(vector(8, -1.0, 1.0))
def scipy_eigh_generalized(x):
    """scipy.linalg.eigh(A, B) (the generalized symmetric problem A v = w B v) with traced A
    and B, and eigvals_only=True."""
    from scipy import linalg

    A = x[:4].reshape(2, 2) + 3 * np.eye(2)
    A = A + A.T
    Bm = x[4:].reshape(2, 2) * 0.3
    Bm = Bm @ Bm.T + np.eye(2)
    w, v = linalg.eigh(A, Bm)
    w2 = linalg.eigh(A, Bm, eigvals_only=True)
    return float(w @ [1.0, 2.0] + w2.sum() + np.abs(v[0, 0]))


@case(square(3, 3.0))
def scipy_solve_assume_structured(x):
    """scipy.linalg.solve with assume_a='diagonal', 'tridiagonal' and 'upper triangular'
    (SciPy 1.15+), and solveh_banded of a symmetric positive band."""
    from scipy import linalg

    A = x.reshape(3, 3)
    D = np.diag(np.diag(A))
    T = np.triu(np.tril(A, 1), -1)
    hb = np.array([[0.0, x[0], x[1]], [4.0, 4.0 + x[3], 4.0]])
    return float(linalg.solve(D, [1.0, 2.0, 3.0], assume_a="diagonal") @ [1.0, 2.0, 3.0]
                 + linalg.solve(T, [1.0, -1.0, 2.0], assume_a="tridiagonal").sum()
                 + linalg.solve(np.triu(A), [1.0, 1.0, 1.0], assume_a="upper triangular").sum()
                 + linalg.solveh_banded(hb, np.ones(3)) @ [1.0, -1.0, 2.0])


@case(square(3, 3.0))
def scipy_linalg_norm_variants(x):
    """scipy.linalg.norm of a vector (BLAS nrm2), of a matrix (LAPACK lange for 'fro', 1,
    inf), along an axis, with ord=3; and scipy.spatial.distance.euclidean (which calls it)."""
    from scipy import linalg
    from scipy.spatial import distance

    A = x.reshape(3, 3)
    return float(linalg.norm(A) + linalg.norm(A, 1) + linalg.norm(A, axis=0) @ [1.0, 2.0, 3.0]
                 + linalg.norm(x, 3) + linalg.norm(A, np.inf, axis=1).sum()
                 + linalg.norm(x[:3]) + distance.euclidean(x[:3], x[3:6]))


@case(vector(16, -1.0, 1.0))
def scipy_signal_resample_hilbert(x):
    """scipy.signal.resample (an FFT round trip that calls irfft(overwrite_x=True) on its own
    temporary), hilbert's envelope, detrend and periodogram."""
    from scipy import signal

    r = signal.resample(x, 10)
    h = np.abs(signal.hilbert(x))
    d = signal.detrend(x)
    _, pxx = signal.periodogram(x, fs=2.0)
    return float(r @ np.arange(10.0) + h.sum() + d @ np.arange(16.0) + pxx.sum())


@case(vector(4, -1.0, 1.0))
def stats_gaussian_kde(x):
    """scipy.stats.gaussian_kde of traced samples evaluated at fixed points (a Cython kernel
    after a Cholesky whitening)."""
    from scipy import stats

    kde = stats.gaussian_kde(x + np.arange(4.0), bw_method=0.5)
    return float(kde.evaluate([1.0, 2.5]).sum() + kde.logpdf(3.0)[0])


@case(vector(8, -1.0, 1.0))
def stats_descriptive_battery(x):
    """scipy.stats descriptive statistics of traced data: zscore, skew, kurtosis(fisher=False),
    trim_mean, sem, gmean, hmean, iqr, median_abs_deviation, variation, moment, pearsonr,
    linregress and entropy with base= and a second distribution."""
    from scipy import stats

    d = x + np.arange(8.0) * 0.3
    b = x[::-1] * 0.3 + np.arange(8.0) ** 1.5
    lr = stats.linregress(d, b)
    return float(stats.zscore(d) @ np.arange(8.0) + stats.skew(d) + stats.kurtosis(d, fisher=False)
                 + stats.trim_mean(d, 0.25) + stats.sem(d) + stats.gmean(d + 3) + stats.hmean(d + 3)
                 + stats.iqr(d) + stats.median_abs_deviation(d) + stats.variation(d + 3)
                 + stats.moment(d, 3) + stats.pearsonr(d, b).statistic + lr.slope + lr.rvalue
                 + stats.entropy(np.exp(d), base=2) + stats.entropy(np.exp(d), np.exp(b)))


@case(vector(3, 0.2, 0.8))
def stats_shape_parameters_without_rules(x):
    """Distribution parameters framead has no derivative for: binom.pmf / logcdf with a traced
    p (Boost's _binom_pmf), t.cdf with a traced df (stdtr's df), beta.cdf with traced a, b
    (betainc's shapes), spherical_jn."""
    from scipy import special, stats

    return float(stats.binom.pmf(3, 10, x[0]) + stats.binom.logcdf(4, 12, x[1])
                 + stats.t.cdf(0.7, df=x[2] * 3) + stats.beta.cdf(0.4, x[1] + 1, x[2] + 1)
                 + special.spherical_jn(1, x[0] + 1))


@case(vector(4, 0.3, 2.0))
def special_functions_without_rules(x):
    """scipy.special functions with no rule: huber, pseudo_huber, inv_boxcox, owens_t, wofz,
    betaincinv with traced shapes."""
    from scipy import special as sp

    return float(sp.huber(1.0, x[0] - 1.5) + sp.pseudo_huber(0.5, x[1]) + sp.inv_boxcox(1.3, x[2])
                 + sp.owens_t(x[0], x[1]) + sp.wofz(x[3] + 1j).real
                 + sp.betaincinv(x[0], x[1], 0.3))


@case(vector(6, -1.0, 1.0))
def scipy_splrep_splev(x):
    """scipy.interpolate.splrep (FITPACK curfit, s=0) of traced data and splev."""
    from scipy import interpolate

    t = np.linspace(0.0, 3.0, 6)
    tck = interpolate.splrep(t, x, s=0)
    return float(interpolate.splev([0.4, 2.2], tck) @ [1.0, 2.0])


@case(vector(2, 0.5, 2.0))
def scipy_root_fsolve_fixed_point(x):
    """scipy.optimize.root (hybr), fsolve, root_scalar(method='toms748') and fixed_point with
    traced parameters inside the residuals."""
    from scipy import optimize

    F = lambda z: [z[0] ** 3 + x[0] * z[1] - 1, z[1] - x[1] * np.sin(z[0])]
    r = optimize.root(F, [0.5, 0.5], tol=1e-14)
    s = optimize.fsolve(F, [0.5, 0.5], xtol=1e-14)
    q = optimize.root_scalar(lambda t: t ** 3 - x[0] - t, bracket=[0.0, 3.0], method="toms748",
                             xtol=1e-15)
    fp = optimize.fixed_point(lambda t: np.cos(x[1] * t) * 0.5, 0.5, xtol=1e-14)
    return float(r.x @ [1.0, 2.0] + s @ [2.0, 1.0] + q.root + fp)


# program -> (expected verdict, cause); test_classic_corpus.py merges these entries
EXPECTED: dict[str, tuple[str, str]] = {
    # SILENT wrong gradients (no hazard): framead bugs, each cause named (matmul(axes=),
    # heaviside's x2, np.linalg.diagonal(offset=), np.convolve's integer modes, quad's traced
    # wvar and ODE output times were found here too, and fixed)
    # framead refuses at the call (loud)
    # reported (wrong, with a hazard at the user's line)
    "round_decimals_cleanup": ("wrong_hazard", "np.round / np.around / ndarray.round(decimals): "
                               "zero derivative, FA102 at the user's line (as builtins.round)"),
    "svd_hermitian_flag": ("wrong_hazard", "np.linalg.svd(hermitian=True): FA101"),
    "char_mod_numbers_as_text": ("wrong_hazard", "np.char.mod's _vec_string: FA101"),
    "special_betainc_traced_shapes": ("wrong_hazard", "scipy.special.betainc / gammainc with "
                                      "traced shape parameters: FA101"),
    "special_zeta_ellipk": ("wrong_hazard", "scipy.special.zeta, ellipk, ellipe: no rule "
                            "(FA101)"),
    "special_functions_without_rules": ("wrong_hazard", "scipy.special huber, pseudo_huber, "
                                        "inv_boxcox, owens_t, wofz, betaincinv's shapes: no "
                                        "rule (FA101)"),
    "stats_shape_parameters_without_rules": ("wrong_hazard", "binom's Boost _binom_pmf / "
                                             "_binom_cdf with a traced p, stdtr's df, "
                                             "betainc's shapes, spherical_jn: FA101"),
    "scipy_eigh_generalized": ("wrong_hazard", "scipy.linalg.eigh(a, b) (generalized): "
                               "FA101"),
    "scipy_solve_assume_structured": ("wrong_hazard", "scipy.linalg.solve(assume_a="
                                      "'diagonal' / 'tridiagonal' / 'upper triangular') and "
                                      "solveh_banded (dptsv): FA101"),
    "scipy_solve_sylvester_lyapunov": ("wrong_hazard", "solve_sylvester's Schur form (dgees) "
                                       "and trsyl: FA101"),
    "scipy_signal_resample_hilbert": ("wrong_hazard", "signal.resample calls "
                                      "scipy.fft.irfft(overwrite_x=True) on its own "
                                      "temporary: the rule refuses overwrite_x (FA101)"),
    "sosfilt_butter": ("wrong_hazard", "scipy.signal.sosfilt's _sosfilt: FA101"),
    "scipy_splrep_splev": ("wrong_hazard", "splrep's FITPACK curfit: FA101"),
    "regular_grid_interpolator_traced_values": ("wrong_hazard", "RegularGridInterpolator "
                                                "'cubic' / 'slinear' solve with gcrotmk over "
                                                "sparse matrices (csr_matvec, BLAS nrm2): "
                                                "FA101"),
    "rgi_linear_cython": ("wrong_hazard", "RegularGridInterpolator 'linear' and interpn: the "
                          "Cython evaluate_linear_2d (FA101)"),
    "sparse_matvec_and_spsolve": ("wrong_hazard", "scipy.sparse's sparsetools (csr_matvec, "
                                  "dia_tocsr) and spsolve: FA101"),
    "ndimage_map_coordinates_shift": ("wrong_hazard", "ndimage.map_coordinates / shift "
                                      "(geometric_transform, zoom_shift): FA101"),
    "spatial_pdist_squareform": ("wrong_hazard", "scipy.spatial.distance.pdist's pybind11 "
                                 "metrics: FA101"),
}
