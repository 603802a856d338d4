# ruff: noqa: B905 - legacy code: zip() without strict=, as it was written
"""A third set of textbook numerics and legacy idioms: Kahan and pairwise summation,
recursive adaptive Simpson, tanh-sinh quadrature, Brent's and Ridders' root finders and
Steffensen's acceleration (exact implicit gradients as references), Lentz's continued
fraction, the AGM, Miller's backward recurrence, SOR / Givens / Jacobi rotations on lists of
lists, Householder QR, Gauss-Newton with lstsq, eigh / eig in loops, np.matrix, Fritsch-Carlson
interpolation, stride-trick windows, an adaptive Bogacki-Shampine integrator with dict state,
leapfrog with NumPy in-place operations, objects with __slots__ and dataclasses, a binomial
tree, DFT and Goertzel, a convex hull, generator pipelines, bisect.insort, row iteration over
2-d arrays, views written through, ufunc methods (.at / .reduce / .accumulate / .reduceat),
fancy-index writes with repeated indices, einsum, masked and structured arrays, long double,
SciPy sparse / PCHIP / DCT, a lower-triangle-only Cholesky, np.divide(where=), samplers with
traced parameters; and values that leave framead's sight: memo tables that outlive a call
(functools.lru_cache, a module-level dict), the __array__ / __array_interface__ / __float__
protocols, text checkpoints, ctypes pointers, ndarray.data, object arrays, struct, np.save,
np.pad's statistic modes."""

import functools
import math

import numpy as np
from registry import case, matrix, on_list, on_matrix, scalar, vector

# --------------------------------------------------------------------------- summation


@case(vector(8, -2.0, 2.0), on_list)
def kahan_compensated_sum(xs):
    """Kahan summation of x_i^2 / (i + 1), the compensation c = (t - s) - y kept."""
    s = 0.0
    c = 0.0
    for i, v in enumerate(xs):
        y = v * v / (i + 1) - c
        t = s + y
        c = (t - s) - y
        s = t
    return s


def _pairwise(a, lo, hi):
    if hi - lo <= 2:
        return sum(a[lo:hi])
    mid = (lo + hi) // 2
    return _pairwise(a, lo, mid) + _pairwise(a, mid, hi)


@case(vector(9, -1.0, 1.0))
def pairwise_sum_recursive(x):
    """Recursive pairwise summation over slices of a NumPy array (builtin sum at leaves)."""
    w = np.exp(x) * np.arange(1, len(x) + 1)
    return float(_pairwise(w, 0, len(w)))


# --------------------------------------------------------------------------- quadrature


def _asr(f, a, b, fa, fm, fb, whole, eps, depth):
    m = (a + b) / 2
    lm, rm = (a + m) / 2, (m + b) / 2
    flm, frm = f(lm), f(rm)
    left = (m - a) / 6 * (fa + 4 * flm + fm)
    right = (b - m) / 6 * (fm + 4 * frm + fb)
    if depth <= 0 or abs(left + right - whole) <= 15 * eps:
        return left + right + (left + right - whole) / 15
    return _asr(f, a, m, fa, flm, fm, left, eps / 2, depth - 1) + \
        _asr(f, m, b, fm, frm, fb, right, eps / 2, depth - 1)


def _simpson_reference(p):
    from scipy.integrate import quad

    a, b = p
    ga = quad(lambda t: -t * t * math.exp(-a * t * t) * math.cos(b * t), 0.0, 2.0,
              epsabs=1e-14, epsrel=1e-13)[0]
    gb = quad(lambda t: -t * math.exp(-a * t * t) * math.sin(b * t), 0.0, 2.0,
              epsabs=1e-14, epsrel=1e-13)[0]
    return [ga, gb]


@case(vector(2, 0.5, 2.0), on_list, reference=_simpson_reference)
def adaptive_simpson_recursive(p):
    """Recursive adaptive Simpson (Richardson-corrected) of exp(-a t^2) cos(b t) on [0, 2];
    the subdivision follows the parameters, so the exact integral's gradient is the
    reference."""
    a, b = p
    f = lambda t: math.exp(-a * t * t) * math.cos(b * t)
    fa, fm, fb = f(0.0), f(1.0), f(2.0)
    whole = 2.0 / 6 * (fa + 4 * fm + fb)
    return _asr(f, 0.0, 2.0, fa, fm, fb, whole, 1e-11, 40)


@case(scalar(0.6, 2.5))
def tanh_sinh_quadrature(p):
    """Beta(p, 1.5) = integral of t^(p-1) (1-t)^0.5 on [0, 1] by tanh-sinh (double
    exponential) quadrature, nodes and weights computed in the loop."""
    h = 0.1
    total = 0.0
    for k in range(-40, 41):
        u = 0.5 * math.pi * math.sinh(k * h)
        t = 1.0 / (1.0 + math.exp(-2.0 * u))
        s = 1.0 / (1.0 + math.exp(2.0 * u))  # 1 - t without cancellation
        w = h * 0.5 * math.pi * math.cosh(k * h) * 2.0 * t * s
        total += w * t ** (p - 1.0) * s ** 0.5
    return total


# --------------------------------------------------------------------------- roots


def _zbrent(f, x1, x2, tol):
    a, b, c = x1, x2, x2
    fa, fb = f(a), f(b)
    fc = fb
    d = e = b - a
    for _ in range(100):
        if (fb > 0.0 and fc > 0.0) or (fb < 0.0 and fc < 0.0):
            c, fc = a, fa
            e = d = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol1 = 2.0 * 3.0e-16 * abs(b) + 0.5 * tol
        xm = 0.5 * (c - b)
        if abs(xm) <= tol1 or fb == 0.0:
            return b
        if abs(e) >= tol1 and abs(fa) > abs(fb):
            s = fb / fa
            if a == c:
                p = 2.0 * xm * s
                q = 1.0 - s
            else:
                q = fa / fc
                r = fb / fc
                p = s * (2.0 * xm * q * (q - r) - (b - a) * (r - 1.0))
                q = (q - 1.0) * (r - 1.0) * (s - 1.0)
            if p > 0.0:
                q = -q
            p = abs(p)
            min1 = 3.0 * xm * q - abs(tol1 * q)
            min2 = abs(e * q)
            if 2.0 * p < (min1 if min1 < min2 else min2):
                e = d
                d = p / q
            else:
                d = xm
                e = d
        else:
            d = xm
            e = d
        a, fa = b, fb
        if abs(d) > tol1:
            b += d
        else:
            b += math.copysign(tol1, xm)
        fb = f(b)
    return b


def _cubic_root_reference(c):
    r = float(np.real([z for z in np.roots([1.0, 0.0, 1.0, -c]) if abs(z.imag) < 1e-9][0]))
    return [1.0 / (3.0 * r * r + 1.0)]


@case(scalar(2.0, 20.0), reference=_cubic_root_reference)
def brent_root_by_hand(c):
    """Root of x^3 + x - c on [0, 4] by Brent's method as in Numerical Recipes' zbrent
    (inverse quadratic interpolation, secant and bisection steps, tolerance 1e-13)."""
    return _zbrent(lambda x: x ** 3 + x - c, 0.0, 4.0, 1e-13)


def _ridders_reference(a):
    r = ridders_method(a)
    # d/da of r where r e^(a r) - 2 = 0: -(r^2 e^(a r)) / (e^(a r) (1 + a r))
    return [-r * r / (1.0 + a * r)]


@case(scalar(0.3, 3.0), reference=_ridders_reference)
def ridders_method(a):
    """Ridders' method (exponential-fit false position) for x e^(a x) = 2 on [0, 3],
    stopping when the bracket is below 1e-12."""
    f = lambda x: x * math.exp(a * x) - 2.0
    x1, x2 = 0.0, 3.0
    f1, f2 = f(x1), f(x2)
    ans = 0.5 * (x1 + x2)
    for _ in range(60):
        xm = 0.5 * (x1 + x2)
        fm = f(xm)
        s = math.sqrt(fm * fm - f1 * f2)
        if s == 0.0:
            return ans
        xnew = xm + (xm - x1) * ((1.0 if f1 >= f2 else -1.0) * fm / s)
        if abs(xnew - ans) <= 1e-13:
            return xnew
        ans = xnew
        fnew = f(ans)
        if fnew == 0.0:
            return ans
        if math.copysign(fm, fnew) != fm:
            x1, f1, x2, f2 = xm, fm, ans, fnew
        elif math.copysign(f1, fnew) != f1:
            x2, f2 = ans, fnew
        else:
            x1, f1 = ans, fnew
        if abs(x2 - x1) <= 1e-12:
            return ans
    return ans


def _steffensen_reference(a):
    x = steffensen_fixed_point(a)
    # x = exp(-a x): dx/da = -x e^(-a x) / (1 + a e^(-a x))
    e = math.exp(-a * x)
    return [-x * e / (1.0 + a * e)]


@case(scalar(0.3, 2.0), reference=_steffensen_reference)
def steffensen_fixed_point(a):
    """x = exp(-a x) by Steffensen's (Aitken delta-squared) acceleration, stopping on the
    step size."""
    g = lambda x: math.exp(-a * x)
    x = 0.5
    for _ in range(50):
        x1 = g(x)
        x2 = g(x1)
        denom = x2 - 2.0 * x1 + x
        if denom == 0.0:
            return x2
        xn = x - (x1 - x) ** 2 / denom
        if abs(xn - x) < 1e-14:
            return xn
        x = xn
    return x


# --------------------------------------------------------------------------- special functions


def _lentz_reference(x):
    return [-(x ** 1.5) * math.exp(-x) / math.gamma(2.5)]


@case(scalar(2.0, 8.0), reference=_lentz_reference)
def lentz_incomplete_gamma(x):
    """Q(2.5, x), the regularised upper incomplete gamma, by the modified Lentz algorithm on
    its continued fraction (Numerical Recipes' gcf), stopping when |delta - 1| < 1e-15."""
    a = 2.5
    FPMIN = 1e-300
    b = x + 1.0 - a
    c = 1.0 / FPMIN
    d = 1.0 / b
    h = d
    for i in range(1, 200):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < FPMIN:
            d = FPMIN
        c = b + an / c
        if abs(c) < FPMIN:
            c = FPMIN
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def _agm_reference(m):
    from scipy.special import ellipe, ellipk

    return [(ellipe(m) - (1.0 - m) * ellipk(m)) / (2.0 * m * (1.0 - m))]


@case(scalar(0.05, 0.95), reference=_agm_reference)
def agm_elliptic_k(m):
    """The complete elliptic integral K(m) = pi / (2 AGM(1, sqrt(1 - m))), the AGM iterated
    while the means differ."""
    a, b = 1.0, math.sqrt(1.0 - m)
    while abs(a - b) > 1e-15 * a:
        a, b = 0.5 * (a + b), math.sqrt(a * b)
    return math.pi / (2.0 * a)


@case(scalar(0.5, 6.0))
def miller_bessel_backward(x):
    """J_1(x) by Miller's backward recurrence from an arbitrary start far above the order,
    normalised with J_0 + 2 (J_2 + J_4 + ...) = 1."""
    n_start = 40
    j_next, j = 0.0, 1e-30
    vals = [0.0] * (n_start + 1)
    vals[n_start] = j
    for n in range(n_start, 0, -1):
        j_prev = 2.0 * n / x * j - j_next
        j_next, j = j, j_prev
        vals[n - 1] = j
    norm = vals[0] + 2.0 * sum(vals[2::2])
    return vals[1] / norm


# --------------------------------------------------------------------------- lists of lists


@case(matrix(3, extra=3), on_matrix(3, extra=True))
def sor_lists(A, b):
    """Successive over-relaxation (omega = 1.25), 60 sweeps on a diagonally dominant
    matrix given as a list of lists; a weighted sum of the solution."""
    n = len(A)
    x = [0.0] * n
    omega = 1.25
    for _ in range(60):
        for i in range(n):
            sigma = 0.0
            for j in range(n):
                if j != i:
                    sigma += A[i][j] * x[j]
            x[i] = (1.0 - omega) * x[i] + omega * (b[i] - sigma) / A[i][i]
    return x[0] + 2.0 * x[1] - x[2]


@case(matrix(3, diag=2.0), on_matrix(3))
def givens_qr_lists(A):
    """QR by Givens rotations applied in place to the rows of a list of lists; the sum of
    log |r_ii| (log |det A|)."""
    R = [row[:] for row in A]
    n = len(R)
    for j in range(n):
        for i in range(n - 1, j, -1):
            a, b = R[i - 1][j], R[i][j]
            if b == 0.0:
                continue
            r = math.hypot(a, b)
            c, s = a / r, b / r
            for k in range(n):
                t1, t2 = R[i - 1][k], R[i][k]
                R[i - 1][k] = c * t1 + s * t2
                R[i][k] = -s * t1 + c * t2
    return sum(math.log(abs(R[i][i])) for i in range(n))


@case(vector(9, -1.0, 1.0), on_matrix(3))
def jacobi_eigen_rotations(M):
    """Cyclic Jacobi eigenvalue algorithm on the symmetric (M + M^T) / 2 + diag(0, 1, 2),
    eight sweeps of rotations on a list of lists; the largest eigenvalue plus the
    smallest squared."""
    n = len(M)
    a = [[0.5 * (M[i][j] + M[j][i]) + (float(i) if i == j else 0.0) for j in range(n)]
         for i in range(n)]
    for _ in range(8):
        for p in range(n - 1):
            for q in range(p + 1, n):
                if abs(a[p][q]) < 1e-300:
                    continue
                theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q])
                t = math.copysign(1.0, theta) / (abs(theta) + math.sqrt(theta * theta + 1.0))
                c = 1.0 / math.sqrt(t * t + 1.0)
                s = t * c
                for k in range(n):
                    akp, akq = a[k][p], a[k][q]
                    a[k][p] = c * akp - s * akq
                    a[k][q] = s * akp + c * akq
                for k in range(n):
                    apk, aqk = a[p][k], a[q][k]
                    a[p][k] = c * apk - s * aqk
                    a[q][k] = s * apk + c * aqk
    eig = sorted(a[i][i] for i in range(n))
    return eig[-1] + eig[0] ** 2


# --------------------------------------------------------------------------- numpy linear algebra


@case(matrix(4, extra=4, diag=3.0))
def householder_qr_least_squares(v):
    """Least squares of a 4 x 3 system by Householder reflections applied in place
    (R[k:, k:] -= 2 v (v^T R[k:, k:])), then back substitution on R."""
    A = v[:12].reshape(4, 3).copy()
    b = v[12:16] + v[16:] * 0.0
    R, y = A.copy(), b.copy()
    m, n = R.shape
    for k in range(n):
        x = R[k:, k]
        alpha = -math.copysign(np.linalg.norm(x), x[0])
        u = x.copy()
        u[0] -= alpha
        u /= np.linalg.norm(u)
        R[k:, k:] -= 2.0 * np.outer(u, u @ R[k:, k:])
        y[k:] -= 2.0 * u * (u @ y[k:])
    coef = np.zeros(n)
    for i in range(n - 1, -1, -1):
        coef[i] = (y[i] - R[i, i + 1:] @ coef[i + 1:]) / R[i, i]
    return float(coef @ np.array([1.0, -1.0, 0.5]))


@case(vector(2, 0.5, 1.5), on_list)
def gauss_newton_lstsq_loop(p):
    """Gauss-Newton fit of a exp(-k t) to data that depend on the parameters, with
    np.linalg.lstsq solving each step (12 steps); the fitted a + k."""
    a0, k0 = p
    t = np.linspace(0.0, 2.0, 8)
    noise = np.array([0.01, -0.02, 0.015, 0.0, -0.01, 0.02, -0.005, 0.01])
    y = a0 * np.exp(-k0 * t) + noise
    a, k = 1.0, 1.0
    for _ in range(12):
        model = a * np.exp(-k * t)
        J = np.column_stack([np.exp(-k * t), -a * t * np.exp(-k * t)])
        step, *_ = np.linalg.lstsq(J, y - model, rcond=None)
        a, k = a + step[0], k + step[1]
    return float(a + k)


@case(vector(3, -1.0, 1.0))
def eigh_eigenvector_loop(c):
    """For three couplings g, the tridiagonal chain H(g) is diagonalised with np.linalg.eigh
    and the ground state's weight on the first site (sign-free) is accumulated."""
    total = 0.0
    for g in (0.5, 1.0, 1.5):
        H = np.diag([0.0, 1.0, 2.5, 3.0]) + g * np.diag(c, 1) + g * np.diag(c, -1)
        w, V = np.linalg.eigh(H)
        total += w[0] + V[0, 0] ** 2
    return float(total)


@case(vector(3, 0.1, 0.8))
def markov_chain_matrix_power(p):
    """A 3-state Markov chain: np.linalg.matrix_power for the 6-step distribution and the
    stationary distribution from np.linalg.eig (the eigenvalue closest to 1)."""
    a, b, c = p
    P = np.array([[1.0 - a, a, 0.0], [0.5 * b, 1.0 - b, 0.5 * b], [0.0, c, 1.0 - c]])
    d6 = np.array([1.0, 0.0, 0.0]) @ np.linalg.matrix_power(P, 6)
    w, V = np.linalg.eig(P.T)
    k = int(np.argmin(np.abs(w - 1.0)))
    pi = np.real(V[:, k])
    pi = pi / pi.sum()
    return float(d6 @ np.array([0.0, 1.0, 2.0]) + pi @ np.array([1.0, 2.0, 4.0]))


@case(vector(6, -1.0, 1.0))
def matrix_class_legacy(v):
    """np.matrix as old code used it: '*' is the matrix product, .I the inverse, .T, .A1,
    and [0, 0] of 1 x 1 results."""
    A = np.matrix(v[:4].reshape(2, 2)) + 3.0 * np.matrix(np.eye(2))
    b = np.matrix(v[4:6]).T
    x = A.I * b
    q = b.T * A * b
    return q[0, 0] + float(x.A1 @ np.array([1.0, 2.0])) + (A * A).trace()[0, 0]


# ---------------------------------------------------------------- interpolation and smoothing


@case(vector(6, -1.0, 1.0))
def fritsch_carlson_monotone(yd):
    """Monotone cubic (Fritsch-Carlson) through (i, cumsum(exp(y_i))) - a monotone data
    set - with slopes limited by the alpha/beta circle, evaluated by Hermite basis at
    fixed points located with np.searchsorted."""
    ys = np.cumsum(np.exp(yd))
    xs = np.arange(len(ys), dtype=float)
    d = np.diff(ys) / np.diff(xs)
    m = np.empty_like(ys)
    m[0], m[-1] = d[0], d[-1]
    m[1:-1] = 0.5 * (d[:-1] + d[1:])
    for k in range(len(d)):
        a, b = m[k] / d[k], m[k + 1] / d[k]
        r = a * a + b * b
        if r > 9.0:
            tau = 3.0 / math.sqrt(r)
            m[k] = tau * a * d[k]
            m[k + 1] = tau * b * d[k]
    q = np.array([0.3, 1.7, 2.2, 3.9, 4.5])
    i = np.searchsorted(xs, q) - 1
    h = xs[i + 1] - xs[i]
    t = (q - xs[i]) / h
    h00, h10 = 2 * t ** 3 - 3 * t ** 2 + 1, t ** 3 - 2 * t ** 2 + t
    h01, h11 = -2 * t ** 3 + 3 * t ** 2, t ** 3 - t ** 2
    val = h00 * ys[i] + h10 * h * m[i] + h01 * ys[i + 1] + h11 * h * m[i + 1]
    return float(val.sum())


@case(vector(10, -1.0, 1.0))
def sliding_window_smoothing(x):
    """Moving averages through stride tricks: sliding_window_view and as_strided views
    of the input, reduced along the window axis."""
    from numpy.lib.stride_tricks import as_strided, sliding_window_view

    w3 = sliding_window_view(x, 3).mean(axis=1)
    s = x.strides[0]
    w4 = as_strided(x, shape=(len(x) - 3, 4), strides=(s, s))
    return float(np.sum(w3 ** 2) + np.sum(w4 @ np.array([0.1, 0.2, 0.3, 0.4]) ** 3))


# --------------------------------------------------------------------------- ODEs and dynamics


def _bs_reference(p):
    k, c = p
    T = 2.0
    e = math.exp(-k * T)
    # y(T) = c/k + (1 - c/k) e^(-kT)
    dk = -c / k ** 2 + (c / k ** 2) * e + (1 - c / k) * (-T) * e
    dc = 1.0 / k - e / k
    return [dk, dc]


@case(vector(2, 0.5, 2.0), on_list, reference=_bs_reference)
def bogacki_shampine_dict_state(p):
    """y' = -k y + c by the adaptive Bogacki-Shampine 3(2) pair, the state in a dict, the
    FSAL stage reused; the exact solution's gradient is the reference."""
    k, c = p
    f = lambda t, y: -k * y + c
    st = {"t": 0.0, "y": 1.0, "h": 0.05, "f": f(0.0, 1.0)}
    tol = 1e-10
    while st["t"] < 2.0:
        h = min(st["h"], 2.0 - st["t"])
        t, y, k1 = st["t"], st["y"], st["f"]
        k2 = f(t + h / 2, y + h * k1 / 2)
        k3 = f(t + 3 * h / 4, y + 3 * h * k2 / 4)
        y3 = y + h * (2 * k1 + 3 * k2 + 4 * k3) / 9
        k4 = f(t + h, y3)
        y2 = y + h * (7 * k1 / 24 + k2 / 4 + k3 / 3 + k4 / 8)
        err = abs(y3 - y2)
        if err <= tol:
            st.update(t=t + h, y=y3, f=k4)
        st["h"] = h * min(4.0, max(0.2, 0.9 * (tol / max(err, 1e-300)) ** (1 / 3)))
    return st["y"]


@case(vector(4, -1.0, 1.0))
def leapfrog_inplace_numpy(q0):
    """Two bodies on springs in the plane, kick-drift-kick leapfrog with in-place NumPy:
    +=, np.add(a, b, out=a), a[...] = and np.copyto."""
    pos = q0.reshape(2, 2).copy()
    pos[1] += np.array([2.0, 0.0])
    vel = np.zeros((2, 2))
    acc = np.empty((2, 2))
    prev = np.empty((2, 2))
    dt = 0.05

    def forces(out):
        d = pos[1] - pos[0]
        r = np.sqrt(d @ d)
        fpair = -3.0 * (r - 1.5) * d / r
        out[...] = -pos
        out[0] -= fpair
        out[1] += fpair

    forces(acc)
    for _ in range(40):
        np.copyto(prev, pos)
        vel += 0.5 * dt * acc
        np.add(pos, dt * vel, out=pos)
        forces(acc)
        vel += 0.5 * dt * acc
    kinetic = 0.5 * np.sum(vel * vel)
    return float(kinetic + np.sum((pos - prev) ** 2) + pos[0, 0])


class _Mass:
    __slots__ = ("x", "v", "m")

    def __init__(self, x, m):
        self.x, self.v, self.m = x, 0.0, m


@case(vector(4, -0.3, 0.3), on_list)
def spring_chain_slots(dx):
    """A chain of four masses (objects with __slots__) between walls, symplectic Euler for
    60 steps, the final potential plus kinetic energy."""
    masses = [_Mass(float(i + 1) + d, 1.0 + 0.25 * i) for i, d in enumerate(dx)]
    k, dt = 4.0, 0.02
    for _ in range(60):
        xs = [0.0] + [m.x for m in masses] + [5.0]
        for i, m in enumerate(masses):
            f = k * (xs[i + 2] - xs[i + 1]) - k * (xs[i + 1] - xs[i]) - 0.1 * m.v
            m.v += dt * f / m.m
        for m in masses:
            m.x += dt * m.v
    xs = [0.0] + [m.x for m in masses] + [5.0]
    pot = sum(0.5 * k * (b - a - 1.0) ** 2 for a, b in zip(xs, xs[1:]))
    return pot + sum(0.5 * m.m * m.v * m.v for m in masses)


@case(vector(3, 0.5, 2.0), on_list)
def dataclass_replace_asdict(p):
    """Frozen dataclasses updated with dataclasses.replace, a mutable one with a list field,
    read back with astuple and asdict (which deep-copies)."""
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class State:
        pos: float
        vel: float

    @dataclasses.dataclass
    class Log:
        k: float
        energies: list = dataclasses.field(default_factory=list)

    log = Log(k=p[0])
    s = State(pos=p[1], vel=p[2])
    for _ in range(20):
        s = dataclasses.replace(s, vel=s.vel - 0.05 * log.k * s.pos)
        s = dataclasses.replace(s, pos=s.pos + 0.05 * s.vel)
        log.energies.append(0.5 * s.vel ** 2 + 0.5 * log.k * s.pos ** 2)
    pos, vel = dataclasses.astuple(s)
    d = dataclasses.asdict(log)
    return pos + vel + sum(d["energies"]) / len(d["energies"])


# --------------------------------------------------------------------------- finance and signal


@case(vector(2, 0.15, 0.45), on_list)
def binomial_tree_american_put(p):
    """An American put on a Cox-Ross-Rubinstein tree (60 steps), the value array
    overwritten in place at each level with early exercise by np.maximum."""
    sigma, r = p[0], 0.1 * p[1]
    S0, K, T, n = 100.0, 105.0, 1.0, 60
    dt = T / n
    u = math.exp(sigma * math.sqrt(dt))
    d = 1.0 / u
    q = (math.exp(r * dt) - d) / (u - d)
    disc = math.exp(-r * dt)
    j = np.arange(n + 1)
    v = np.maximum(K - S0 * u ** (n - 2 * j), 0.0)
    for i in range(n - 1, -1, -1):
        j = np.arange(i + 1)
        cont = disc * (q * v[:i + 1] + (1 - q) * v[1:i + 2])
        v[:i + 1] = np.maximum(cont, K - S0 * u ** (i - 2 * j))
    return float(v[0])


@case(vector(8, -1.0, 1.0), on_list)
def dft_cmath_loops(xs):
    """The DFT by two nested loops with cmath.exp, then a frequency-weighted power
    spectrum and the phase of one bin."""
    import cmath

    n = len(xs)
    X = []
    for k in range(n):
        s = 0j
        for t, v in enumerate(xs):
            s += v * cmath.exp(-2j * cmath.pi * k * t / n)
        X.append(s)
    power = sum((k + 1) * abs(Xk) ** 2 for k, Xk in enumerate(X[: n // 2 + 1]))
    return power / n + cmath.phase(X[1] + 3.0)


@case(vector(16, -1.0, 1.0))
def goertzel_bins(x):
    """Goertzel's second-order recursion over a NumPy array (for v in x) for bins 2 and 3;
    the sum of their powers."""
    n = len(x)
    total = 0.0
    for k in (2, 3):
        w = 2.0 * math.pi * k / n
        coeff = 2.0 * math.cos(w)
        s1 = s2 = 0.0
        for v in x:
            s0 = v + coeff * s1 - s2
            s2, s1 = s1, s0
        total += s1 * s1 + s2 * s2 - coeff * s1 * s2
    return float(total)


@case(vector(8, -1.0, 1.0))
def scipy_dct_compaction(x):
    """scipy.fft.dct (type II, orthonormal) of a signal; the energy in the first three
    coefficients, and an idct round trip."""
    from scipy.fft import dct, idct

    c = dct(x, norm="ortho")
    back = idct(c * np.array([1, 1, 1, 0.5, 0.5, 0, 0, 0]), norm="ortho")
    return float(np.sum(c[:3] ** 2) + back @ np.arange(8.0))


# --------------------------------------------------------------------------- geometry


@case(vector(14, -1.0, 1.0))
def convex_hull_perimeter(v):
    """Andrew's monotone chain convex hull of 7 points (sorted tuples, cross-product
    turns), then the perimeter with math.hypot."""
    pts = sorted(zip(v[0::2].tolist(), v[1::2].tolist()))

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    hull = lower[:-1] + upper[:-1]
    return sum(math.hypot(b[0] - a[0], b[1] - a[1])
               for a, b in zip(hull, hull[1:] + hull[:1]))


# --------------------------------------------------------------------------- Python idioms


@functools.lru_cache(maxsize=128)
def _expensive_model(a):
    s = 0.0
    for k in range(1, 30):
        s += math.sin(k * a) / k ** 2
    return s


@case(scalar(0.2, 2.0))
def module_lru_cache_float(a):
    """A module-level functools.lru_cache memoising an expensive model on its float
    argument: the cache outlives calls, so a value computed before is returned from it."""
    return _expensive_model(a) + 0.5 * a * a


@case(vector(8, -1.0, 1.0), on_list)
def generator_pipeline_itertools(xs):
    """A generator pipeline: chain, islice, starmap over pairwise, zip_longest with a fill,
    tee, and a generator function with yield; consumed by sum."""
    import itertools
    import operator

    def scaled(it, k):
        for v in it:
            yield k * v

    def clipped_square(it):
        for v in it:
            yield v * v if v < 0.9 else 0.81 + 1.8 * (v - 0.9)

    stream = itertools.chain(scaled(xs[:4], 2.0), scaled(xs[4:], 0.5))
    a, b = itertools.tee(clipped_square(stream))
    head = sum(itertools.islice(a, 1, 6))
    prods = sum(itertools.starmap(operator.mul, itertools.pairwise(b)))
    tail = sum(u - w for u, w in itertools.zip_longest(xs, xs[::2], fillvalue=0.0))
    return head + prods + tail


@case(vector(7, -1.0, 1.0), on_list)
def bisect_insort_running_median(xs):
    """A running median kept with bisect.insort into a sorted list (the C insertion
    stores the floats), summed over the stream."""
    import bisect

    window = []
    total = 0.0
    for i, v in enumerate(xs):
        bisect.insort(window, v * (1.0 + 0.1 * i))
        n = len(window)
        med = window[n // 2] if n % 2 else 0.5 * (window[n // 2 - 1] + window[n // 2])
        total += med
    return total


@case(vector(7, -1.0, 1.0), on_list)
def weighted_median_by_sort(xs):
    """Weighted median via sorting (value, weight) pairs with a key, accumulating weights;
    plus max/min with key= and sorted(key=abs)."""
    ws = [1.0, 2.0, 0.5, 1.5, 1.0, 3.0, 0.7]
    pairs = sorted(zip(xs, ws), key=lambda p: p[0])
    half = 0.5 * sum(ws)
    acc = 0.0
    med = pairs[-1][0]
    for v, w in pairs:
        acc += w
        if acc >= half:
            med = v
            break
    biggest = max(xs, key=abs)
    smallest = min(xs, key=lambda v: (v - 0.2) ** 2)
    mags = sorted(xs, key=abs)
    return med + 0.5 * biggest + 0.3 * smallest + sum(m * (i + 1) for i, m in enumerate(mags))


# --------------------------------------------------------------------------- NumPy idioms


@case(vector(3, 0.5, 2.0))
def numpy_row_iteration_inplace(v):
    """Iterating a 2-d array by rows (views) and scaling each row in place ('row *= s'
    writes through to the matrix), then 1-d iteration over a column."""
    X = np.outer(v, np.array([1.0, 0.5, 0.25])) + np.eye(3)
    for i, row in enumerate(X):
        row *= 1.0 / (1.0 + i * row.sum())
    s = 0.0
    for val in X[:, 1]:
        s += val ** 2
    return float(s + np.trace(X) + X.sum())


@case(vector(6, -1.0, 1.0))
def view_aliasing_writes(v):
    """Writes through aliasing views: a strided view scaled in place, a transposed view
    assigned, np.fill_diagonal, and a reshape view written."""
    a = v.copy()
    evens = a[::2]
    evens *= 2.0
    a[1::2] = a[::2] * 0.5 + a[1::2]
    M = np.zeros((3, 3))
    M.T[0] = a[:3]
    np.fill_diagonal(M, a[3:] ** 2)
    flat = M.reshape(-1)
    flat[-1] += a[0]
    return float(np.sum(M * M) + a @ np.arange(6.0))


@case(vector(6, -1.0, 1.0))
def take_put_along_axis_ix(v):
    """np.take_along_axis with argsort, np.put_along_axis, and writes through np.ix_."""
    A = v.reshape(2, 3)
    order = np.argsort(A, axis=1)
    S = np.take_along_axis(A, order, axis=1)
    B = np.zeros((3, 3))
    np.put_along_axis(B, np.array([[2], [0], [1]]), np.array([[v[0]], [v[1]], [v[2] ** 2]]),
                      axis=1)
    B[np.ix_([0, 2], [1, 2])] += A[:, :2] * 3.0
    return float(np.sum(S * np.array([1.0, 2.0, 3.0])) + np.sum(B ** 2))


@case(vector(6, 0.2, 1.0))
def ufunc_methods_reduce_accumulate(v):
    """Ufunc methods: multiply.accumulate, maximum.accumulate, logaddexp.reduce,
    add.reduceat, hypot.reduce and minimum.reduce."""
    cp = np.multiply.accumulate(v)
    rm = np.maximum.accumulate(v * np.array([1.0, -1.0, 2.0, 0.5, 1.5, -0.5]))
    lse = np.logaddexp.reduce(v)
    ra = np.add.reduceat(v ** 2, [0, 2, 3])
    hy = np.hypot.reduce(v)
    mn = np.minimum.reduce(v + np.array([0.0, 0.3, 0.6, 0.9, 1.2, 1.5]))
    return float(cp.sum() + rm.sum() + lse + ra @ np.array([1.0, 2.0, 3.0]) + hy + mn)


@case(vector(5, 0.5, 1.5))
def ufunc_at_repeated_indices(v):
    """np.multiply.at, np.subtract.at and np.maximum.at with repeated indices (unbuffered:
    every occurrence applies)."""
    a = np.ones(3)
    np.multiply.at(a, [0, 1, 0, 2, 0], v)
    b = np.zeros(3)
    np.subtract.at(b, [2, 2, 1, 0, 2], v ** 2)
    c = np.full(3, 0.9)
    np.maximum.at(c, [0, 0, 1, 1, 2], v)
    return float(a.sum() + b @ np.array([1.0, 2.0, 3.0]) + c.sum())


@case(vector(5, -1.0, 1.0))
def fancy_index_repeated_writes(v):
    """Fancy-index writes with repeated indices: a[idx] += w is buffered (one occurrence of
    a repeated index counts), a[idx] = w keeps the last; the classic legacy trap."""
    a = np.zeros(3)
    a[[0, 1, 0, 2, 0]] += v
    b = np.zeros(3)
    b[[1, 1, 2, 0, 1]] = v ** 2
    c = np.arange(3.0)
    c[[2, 2]] *= v[:2] + 2.0
    return float(a @ np.array([1.0, 2.0, 3.0]) + b @ np.array([3.0, 2.0, 1.0]) + c.sum())


@case(vector(6, -1.0, 1.0))
def einsum_variety(v):
    """np.einsum: trace 'ii->', 'ij,jk->ik' with optimize=True, 'i,i->', 'ij->j', an
    ellipsis, and out=."""
    A = v[:4].reshape(2, 2)
    b = v[4:]
    tr = np.einsum("ii->", A)
    P = np.einsum("ij,jk->ik", A, A.T, optimize=True)
    ip = np.einsum("i,i->", b, b)
    cols = np.einsum("ij->j", P)
    e = np.einsum("...i,i->...", A, b)
    out = np.empty(2)
    np.einsum("ij,j->i", A, b, out=out)
    return float(tr + P.sum() + ip + cols @ b + e.sum() + out @ out)


@case(vector(6, -2.0, 2.0))
def piecewise_select_where(x):
    """Huber loss by np.where, a three-piece function by np.select, and np.piecewise with
    lambdas; plus np.clip."""
    d = 1.0
    huber = np.where(np.abs(x) <= d, 0.5 * x ** 2, d * (np.abs(x) - 0.5 * d))
    sel = np.select([x < -1.0, x < 1.0], [-(x + 1.0) ** 2, np.sin(x)], default=x ** 3)
    pw = np.piecewise(x, [x < 0.0, x >= 0.0], [lambda t: np.exp(t) - 1.0, lambda t: t])
    return float(huber.sum() + sel.sum() + pw @ np.arange(1.0, 7.0) + np.clip(x, -1, 1).sum())


@case(vector(4, -1.0, 1.0))
def longdouble_accumulation(v):
    """Accumulation in np.longdouble (extended precision) as careful legacy code does,
    converted back with float()."""
    acc = np.longdouble(0.0)
    for k in range(1, 50):
        term = np.longdouble(v[k % 4]) / k + np.longdouble(math.sin(k * v[0]))
        acc += term * term
    return float(acc) * 1e-2


@case(vector(6, -1.0, 1.0))
def masked_array_statistics(v):
    """np.ma masked arrays: masked_where on a fixed mask, masked mean / sum / std, and
    .filled()."""
    mask = np.array([False, True, False, False, True, False])
    m = np.ma.masked_where(mask, v * 2.0 + 0.5)
    return float(m.mean() + (m ** 2).sum() + m.std() + m.filled(0.0) @ np.arange(6.0))


@case(vector(6, -1.0, 1.0))
def structured_array_fields(v):
    """A structured array with 'pos' and 'vel' fields written and updated by field name,
    and a record array's attribute access."""
    particles = np.zeros(3, dtype=[("pos", "f8"), ("vel", "f8"), ("mass", "f8")])
    particles["pos"] = v[:3]
    particles["vel"] = v[3:]
    particles["mass"] = [1.0, 2.0, 3.0]
    for _ in range(5):
        particles["vel"] -= 0.1 * particles["pos"] / particles["mass"]
        particles["pos"] += 0.1 * particles["vel"]
    rec = particles.view(np.recarray)
    return float(np.sum(rec.mass * rec.vel ** 2) + rec.pos @ np.array([1.0, 2.0, 3.0]))


# ----------------------------------------------------------------------- SciPy, raw round trips


@case(vector(5, 0.5, 2.0))
def scipy_sparse_tridiagonal(v):
    """A tridiagonal system assembled with scipy.sparse.diags and solved with
    scipy.sparse.linalg.spsolve; also a sparse matrix-vector product."""
    from scipy.sparse import diags
    from scipy.sparse.linalg import spsolve

    A = diags([-np.ones(4), 2.0 + v, -np.ones(4)], [-1, 0, 1], format="csc")
    x = spsolve(A, np.ones(5))
    return float(x @ np.arange(1.0, 6.0) + (A @ v).sum())


@case(vector(6, -1.0, 1.0))
def scipy_pchip_akima(yv):
    """scipy.interpolate.PchipInterpolator and Akima1DInterpolator through (i, y_i),
    evaluated at fixed points, plus PCHIP's integral."""
    from scipy.interpolate import Akima1DInterpolator, PchipInterpolator

    xs = np.arange(6.0)
    q = np.array([0.4, 1.3, 2.6, 3.5, 4.2])
    p = PchipInterpolator(xs, yv)
    a = Akima1DInterpolator(xs, yv)
    return float(p(q).sum() + a(q) @ q + p.integrate(0.0, 5.0))


@case(vector(3, -1.0, 1.0), on_list)
def struct_pack_roundtrip(xs):
    """Floats packed to bytes with struct.pack and unpacked again (a binary file format
    round trip in memory)."""
    import struct

    blob = struct.pack("<3d", *[v * v + 1.0 for v in xs])
    a, b, c = struct.unpack("<3d", blob)
    return a + 2.0 * b + 3.0 * c


@case(vector(3, -1.0, 1.0))
def numpy_save_bytesio(v):
    """np.save into an io.BytesIO and np.load back (a checkpoint in memory)."""
    import io

    buf = io.BytesIO()
    np.save(buf, np.exp(v))
    buf.seek(0)
    w = np.load(buf)
    return float(w @ np.array([1.0, 2.0, 3.0]))




# ------------------------------------------------------------------ triangles, guards, samplers


@case(vector(4, -1.5, 1.5))
def kernel_lower_triangle_cholesky(x):
    """A Gaussian-kernel matrix filled only in its lower triangle (loops j <= i, as the
    LAPACK convention allows), factored by np.linalg.cholesky, which reads that triangle."""
    n = len(x)
    K = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            K[i, j] = math.exp(-0.5 * (x[i] - x[j]) ** 2) + (0.1 if i == j else 0.0)
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L, np.array([1.0, -0.5, 0.25, 2.0]))
    return float(np.sum(np.log(np.diag(L))) + 0.5 * alpha @ alpha)


@case(vector(6, -1.0, 1.0))
def safe_divide_where(v):
    """Guarded element-wise division as legacy NumPy code writes it:
    np.divide(a, b, out=np.zeros_like(a), where=b > 0), and a guarded np.log."""
    a, b = v[:3] + 2.0, v[3:]
    ratio = np.divide(a, b, out=np.zeros_like(a), where=b > 0.0)
    logs = np.log(a * b, out=np.full(3, -1.0), where=a * b > 0.0)
    return float(ratio @ np.array([1.0, 0.5, 0.25]) + logs.sum())


@case(vector(4, -1.0, 1.0))
def monte_carlo_traced_parameters(v):
    """A Monte Carlo estimate whose sampler takes the parameters: a seeded Generator's
    normal(mu, sigma) and exponential(scale) (sample = mu + sigma z), as simulation code
    writes it."""
    rng = np.random.default_rng(11)
    mu, sigma = v[0], 1.0 + v[1] ** 2
    paths = rng.normal(mu, sigma, size=16)
    waits = rng.exponential(2.0 + v[2], size=8)
    return float(np.mean(np.maximum(paths, -3.0) ** 2) + waits.sum() + v[3])


# --------------------------------------------------------------------------- protocols,
# buffers and tables that outlive a call


_RESPONSE_TABLE = {}


def _tabulated_response(a):
    if a not in _RESPONSE_TABLE:
        s = 0.0
        for k in range(1, 30):
            s += math.cos(k * a) / k ** 3
        _RESPONSE_TABLE[a] = s
    return _RESPONSE_TABLE[a]


@case(scalar(0.2, 2.0))
def module_dict_memo(a):
    """A hand-written memo table: a module-level dict keyed by the float parameter, filled
    the first time a value is seen and read back on later calls with the same value."""
    return _tabulated_response(a) + a * a


class _Signal:
    """Samples plus metadata; NumPy gets the samples through the __array__ protocol."""

    def __init__(self, samples, rate):
        self.samples, self.rate = samples, rate

    def __array__(self, dtype=None, copy=None):
        return self.samples

    def __len__(self):
        return len(self.samples)


@case(vector(6, -1.0, 1.0))
def array_protocol_container(v):
    """A container class with __array__ passed straight to NumPy functions (np.dot, np.sum
    convert it in C), plus direct use of the inputs."""
    sig = _Signal(v * 2.0, 100.0)
    window = np.array([0.2, 0.6, 1.0, 1.0, 0.6, 0.2])
    energy = np.dot(sig, window)
    return float(energy + np.sum(sig) / sig.rate + v @ v)


class _Exported:
    """An object exporting another array's memory through __array_interface__."""

    def __init__(self, arr):
        self._arr = arr
        self.__array_interface__ = arr.__array_interface__


@case(vector(6, -1.0, 1.0))
def array_interface_export(v):
    """Interop through the __array_interface__ dict (data pointer, shape, typestr), read back
    with np.asarray, as C-extension wrappers did before the buffer protocol."""
    w = np.tanh(v)
    view = np.asarray(_Exported(w))
    return float(view @ np.arange(1.0, 7.0) + np.sum(w ** 2))


class _Length:
    """A length with a unit; float() gives metres."""

    SCALE = {"cm": 0.01, "mm": 0.001, "m": 1.0}

    def __init__(self, value, unit):
        self.value, self.unit = value, unit

    def __float__(self):
        return self.value * self.SCALE[self.unit]


@case(vector(3, 0.5, 2.0), on_list)
def float_protocol_quantity(p):
    """Unit-carrying objects converted by the __float__ protocol: math.sqrt and math.hypot
    call it in C, float() too; the rest of the formula uses the raw inputs."""
    a = _Length(100.0 * p[0], "cm")
    b = _Length(1000.0 * p[1], "mm")
    diag = math.hypot(a, b)
    area = float(a) * float(b)
    return diag + math.sqrt(_Length(p[2], "m")) + area + p[0] * p[1] * p[2]


@case(vector(4, -1.0, 1.0))
def text_checkpoint_partial(v):
    """Mid-run state written to a text checkpoint (np.savetxt into io.StringIO) and read
    back with np.loadtxt; the live state is used as well."""
    import io

    state = np.cumsum(v)
    buf = io.StringIO()
    np.savetxt(buf, state, fmt="%.17g")
    buf.seek(0)
    restored = np.loadtxt(buf)
    return float(restored @ np.arange(1.0, 5.0) + np.sum(state ** 2))


@case(vector(5, -1.0, 1.0))
def ctypes_pointer_interop(v):
    """An array handed to 'C' as a double pointer (a.ctypes.data_as): the wrapper reads one
    element through the pointer and the 'library' overwrites another in place."""
    import ctypes

    a = np.exp(v)
    ptr = a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
    first = ptr[0]
    ptr[4] = 1.0
    return float(first * 2.0 + np.sum(a ** 2))


@case(vector(6, -1.0, 1.0))
def buffer_data_attribute(v):
    """The bytes of an array shared through ndarray.data (a memoryview) and reinterpreted
    with np.frombuffer as (x, y) pairs."""
    w = v * 2.0
    pairs = np.frombuffer(w.data, dtype=np.float64).reshape(3, 2)
    return float(np.sum(pairs[:, 0] * pairs[:, 1]) + v @ v)


@case(vector(4, 0.5, 2.0))
def object_array_partial(v):
    """An object-dtype array (as ragged-record code builds) multiplied and summed in
    NumPy's object loops, next to plain float arithmetic on the same inputs."""
    rec = np.array([v[0], v[1], v[2]], dtype=object)
    weighted = (rec * rec * np.array([1.0, 2.0, 3.0], dtype=object)).sum()
    return float(weighted) + float(v @ v) + v[3]


@case(vector(8, -1.0, 1.0))
def pad_statistic_modes(x):
    """Signal edges padded with the mean of the end samples (np.pad mode='mean',
    stat_length=3) and with a linear ramp to zero, each smoothed by a 3-point kernel."""
    p = np.pad(x, 2, mode="mean", stat_length=3)
    r = np.pad(x, 2, mode="linear_ramp", end_values=0.0)
    k = np.array([0.25, 0.5, 0.25])
    return float(np.sum(np.convolve(p, k, mode="valid") ** 2)
                 + np.convolve(r, k, mode="valid") @ np.arange(10.0))
