# ruff: noqa: B905 - legacy code: zip() without strict=, as it was written
"""Classic algorithms written with NumPy arrays the way legacy code does it: in-place row
operations, fancy-index swaps, slice accumulation, out= arguments, np.linalg / np.fft, and
NumPy imported inside the function body."""

from registry import case, matrix, vector


@case(matrix(4, extra=4, diag=1.0))
def numpy_gauss_inplace(v):
    """Gaussian elimination with partial pivoting on an augmented array, rows swapped with
    fancy indexing and updated in place."""
    import numpy as np

    n = 4
    M = np.hstack([v[:16].reshape(n, n), v[16:].reshape(n, 1)])
    for k in range(n):
        p = k + int(np.argmax(np.abs(M[k:, k])))
        if p != k:
            M[[k, p]] = M[[p, k]]
        for i in range(k + 1, n):
            M[i, k:] -= M[i, k] / M[k, k] * M[k, k:]
    x = np.zeros(n)
    for i in range(n - 1, -1, -1):
        x[i] = (M[i, n] - M[i, i + 1:n] @ x[i + 1:]) / M[i, i]
    return float(x @ np.arange(1.0, n + 1))


@case(matrix(3, diag=3.0))
def numpy_lu_inplace(v):
    """LU factorisation overwriting a copy of A (Doolittle, no pivoting); log|det|."""
    import numpy as np

    A = v.reshape(3, 3).copy()
    n = A.shape[0]
    for k in range(n - 1):
        A[k + 1:, k] /= A[k, k]
        A[k + 1:, k + 1:] -= np.outer(A[k + 1:, k], A[k, k + 1:])
    return float(np.sum(np.log(np.abs(np.diag(A)))))


@case(vector(7, 0.5, 1.5))
def conjugate_gradient(v):
    """Conjugate gradient (fixed 10 iterations) on an SPD tridiagonal system."""
    import numpy as np

    n = 4
    A = np.diag(2.0 + v[:n]) - np.diag(0.5 * v[n:n + 3], 1) - np.diag(0.5 * v[n:n + 3], -1)
    b = np.ones(n)
    x = np.zeros(n)
    r = b - A @ x
    p = r.copy()
    rs = r @ r
    for _ in range(n):
        Ap = A @ p
        alpha = rs / (p @ Ap)
        x += alpha * p
        r -= alpha * Ap
        rs_new = r @ r
        p = r + rs_new / rs * p
        rs = rs_new
    return float(x.sum())


@case(matrix(3, extra=3, diag=5.0))
def gauss_seidel_inplace(v):
    """Gauss-Seidel sweeps writing x[i] in place."""
    import numpy as np

    A, b = v[:9].reshape(3, 3), v[9:]
    x = np.zeros(3)
    for _ in range(40):
        for i in range(3):
            x[i] = (b[i] - A[i, :i] @ x[:i] - A[i, i + 1:] @ x[i + 1:]) / A[i, i]
    return float(np.dot(x, x))


@case(vector(3, 0.5, 1.5))
def numpy_rk4_pendulum(p):
    """RK4 on an array state for a damped driven pendulum."""
    import numpy as np

    g_over_l, damping, drive = p

    def rhs(t, y):
        return np.array([y[1], -g_over_l * np.sin(y[0]) - damping * y[1] + drive * np.cos(t)])

    y = np.array([0.5, 0.0])
    h = 0.05
    for n in range(60):
        t = n * h
        k1 = rhs(t, y)
        k2 = rhs(t + h / 2, y + h / 2 * k1)
        k3 = rhs(t + h / 2, y + h / 2 * k2)
        k4 = rhs(t + h, y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return float(y[0])


@case(vector(8, -1.0, 1.0))
def fft_circular_convolution(x):
    """Circular convolution with a fixed kernel through np.fft.rfft / irfft."""
    import numpy as np

    kernel = np.array([0.5, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.25])
    y = np.fft.irfft(np.fft.rfft(x) * np.fft.rfft(kernel), n=len(x))
    return float(np.sum(y ** 2) + y[3])


@case(vector(8, -1.0, 1.0))
def numpy_gradient_spacing(y):
    """np.gradient of samples on a fixed grid, then an energy."""
    import numpy as np

    dy = np.gradient(y, 0.25)
    return float(np.sum(dy ** 2) * 0.25)


@case(vector(8, -1.0, 1.0))
def cumsum_trapezoid(y):
    """A cumulative trapezoid integral with np.cumsum and slicing."""
    import numpy as np

    h = 0.1
    area = np.concatenate([[0.0], np.cumsum(0.5 * h * (y[1:] + y[:-1]))])
    return float(area[-1] * area[4])


@case(vector(7, -1.0, 1.0))
def polyfit_slope(y):
    """np.polyfit (least squares) of degree 2 to samples; the linear coefficient."""
    import numpy as np

    t = np.linspace(0.0, 1.0, len(y))
    return float(np.polyfit(t, y, 2)[1])


@case(matrix(3, extra=3, diag=2.0))
def lstsq_qr(v):
    """Least squares by QR (np.linalg.qr, then a triangular solve by hand)."""
    import numpy as np

    A = np.vstack([v[:9].reshape(3, 3), np.ones((1, 3))])
    b = np.concatenate([v[9:], [1.0]])
    Q, R = np.linalg.qr(A)
    c = Q.T @ b
    x = np.zeros(3)
    for i in range(2, -1, -1):
        x[i] = (c[i] - R[i, i + 1:] @ x[i + 1:]) / R[i, i]
    return float(x.sum())


@case(vector(6, -1.0, 1.0))
def eigh_extremes(v):
    """Smallest and largest eigenvalues of a symmetric matrix (np.linalg.eigh)."""
    import numpy as np

    S = np.array([[3.0 + v[0], v[1], v[2]], [v[1], 1.0 + v[3], v[4]], [v[2], v[4], -1.0 + v[5]]])
    w = np.linalg.eigh(S)[0]
    return float(w[0] + 2.0 * w[-1])


@case(matrix(3, diag=2.0))
def svd_pseudo_inverse(v):
    """Pseudo-inverse from np.linalg.svd; the sum of its entries and the condition number."""
    import numpy as np

    A = v.reshape(3, 3)
    U, s, Vt = np.linalg.svd(A)
    pinv = (Vt.T / s) @ U.T
    return float(pinv.sum() + s[0] / s[-1])


@case(vector(2, 0.5, 1.5))
def newton_system(p):
    """Newton's method for a 2 x 2 nonlinear system with np.linalg.solve; the solution."""
    import numpy as np

    a, b = p
    x = np.array([2.0, 0.5])
    for _ in range(20):
        F = np.array([x[0] ** 2 + x[1] ** 2 - 4.0 * a, x[0] * x[1] - b])
        J = np.array([[2 * x[0], 2 * x[1]], [x[1], x[0]]])
        x = x - np.linalg.solve(J, F)
    return float(x[0] + 3.0 * x[1])


@case(vector(9, -1.0, 1.0))
def savitzky_golay_convolve(y):
    """A 5-point Savitzky-Golay smoother with np.convolve (mode='valid')."""
    import numpy as np

    coeffs = np.array([-3.0, 12.0, 17.0, 12.0, -3.0]) / 35.0
    smooth = np.convolve(y, coeffs[::-1], mode="valid")
    return float(np.sum(smooth ** 2))


@case(vector(9, 0.0, 5.0))
def numpy_median_percentile(x):
    """np.median and np.percentile (interpolated) of distinct values."""
    import numpy as np

    return float(np.median(x) + np.percentile(x, 30.0))


@case(vector(13, -1.0, 1.0))
def mlp_forward(w):
    """A 2-3-1 multilayer perceptron (ReLU with np.maximum) on two fixed inputs."""
    import numpy as np

    W1, b1 = w[:6].reshape(3, 2), w[6:9]
    W2, b2 = w[9:12], w[12]
    X = np.array([[0.3, -0.8], [1.1, 0.4]])
    h = np.maximum(X @ W1.T + b1, 0.0)
    out = h @ W2 + b2
    return float(np.mean((out - np.array([0.5, -0.2])) ** 2))


@case(vector(3, -1.0, 1.0))
def logistic_regression_loss(w):
    """Binary cross-entropy of a logistic model with np.log1p / np.exp, clipped."""
    import numpy as np

    X = np.array([[1.0, 0.2, -0.4], [1.0, -1.3, 0.8], [1.0, 0.7, 0.1], [1.0, -0.2, -1.5]])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    z = X @ w
    p = np.clip(1.0 / (1.0 + np.exp(-z)), 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


@case(vector(2, 0.3, 1.5))
def gaussian_process_nll(p):
    """Negative log marginal likelihood of a GP (RBF kernel) with np.linalg.cholesky and
    scipy.linalg.solve_triangular."""
    import numpy as np
    from scipy.linalg import solve_triangular

    ell, sf = p
    x = np.array([0.0, 0.4, 1.1, 1.5, 2.3])
    y = np.array([0.1, 0.5, 0.9, 0.7, -0.2])
    K = sf ** 2 * np.exp(-0.5 * (x[:, None] - x[None, :]) ** 2 / ell ** 2) + 0.1 * np.eye(5)
    L = np.linalg.cholesky(K)
    alpha = solve_triangular(L, y, lower=True)
    return float(0.5 * alpha @ alpha + np.sum(np.log(np.diag(L))))


@case(vector(12, -1.0, 1.0))
def attention_einsum(v):
    """Scaled dot-product attention for 2 tokens of width 3, written with np.einsum."""
    import numpy as np

    Q, K, V = v[:6].reshape(2, 3), v[6:12].reshape(2, 3), np.arange(6.0).reshape(2, 3)
    s = np.einsum("id,jd->ij", Q, K) / np.sqrt(3.0)
    a = np.exp(s - s.max(axis=1, keepdims=True))
    a /= a.sum(axis=1, keepdims=True)
    return float(np.einsum("ij,jd->", a, V))


@case(vector(5, 0.5, 2.0))
def fem_stiffness_assembly(k):
    """1-D finite elements: element stiffness matrices added into slices of the global
    matrix (K[i:i+2, i:i+2] += ke), then a solve; the tip displacement."""
    import numpy as np

    n = len(k)
    K = np.zeros((n + 1, n + 1))
    for i in range(n):
        K[i:i + 2, i:i + 2] += k[i] * np.array([[1.0, -1.0], [-1.0, 1.0]])
    f = np.zeros(n + 1)
    f[-1] = 1.0
    u = np.linalg.solve(K[1:, 1:], f[1:])
    return float(u[-1])


@case(vector(6, -1.0, 1.0))
def scatter_add_at(v):
    """np.add.at scatter into bins (repeated indices), then a weighted sum."""
    import numpy as np

    bins = np.zeros(3)
    np.add.at(bins, [0, 1, 0, 2, 1, 0], v)
    return float(bins @ np.array([1.0, 2.0, 3.0]) + np.sum(bins ** 2))


@case(vector(4, -1.0, 1.0))
def ufunc_out_argument(v):
    """Ufuncs with out= into preallocated buffers, as performance-minded code does."""
    import numpy as np

    buf = np.empty(4)
    np.multiply(v, v, out=buf)
    np.add(buf, 1.0, out=buf)
    np.sqrt(buf, out=buf)
    return float(buf.sum())


@case(vector(5, -1.0, 1.0))
def rng_noise_constants(x):
    """Noise from np.random.default_rng(seed) added as constants."""
    import numpy as np

    rng = np.random.default_rng(7)
    noisy = x + 0.05 * rng.standard_normal(x.shape)
    return float(np.sum(noisy ** 2))


@case(vector(4, -1.0, 1.0))
def masks_and_where(x):
    """Boolean masks, np.where and fancy indexing on distinct values."""
    import numpy as np

    pos = x > 0.0
    y = np.where(pos, x ** 2, -0.5 * x)
    return float(y.sum() + x[pos].sum() * 0.3 + x[np.argsort(x)][-1])


@case(vector(6, 0.5, 1.5))
def numpy_take_and_list_operands(x):
    """np.take, and arithmetic between arrays and Python lists (coerced by NumPy)."""
    import numpy as np

    sel = np.take(x, [0, 2, 4])
    shifted = sel - [1.0, 2.0, 3.0]
    return float(np.sum(shifted * [0.5, 1.0, 1.5]) + np.prod(x[1::2]))
