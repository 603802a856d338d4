# ruff: noqa: B905 - legacy code: zip() without strict=, as it was written
"""More textbook numerics: complex-step and dual-number differentiation inside the program,
the Lanczos gamma approximation, Acklam's inverse normal CDF, an adaptive Runge-Kutta-Fehlberg
integrator, dynamic time warping, bubble sort, a matrix exponential by scaling and
squaring."""

from registry import case, matrix, on_list, on_matrix, scalar, vector


@case(scalar(0.2, 2.0))
def complex_step_derivative(a):
    """The program differentiates exp(a t) sin(t) at t = 0.7 by the complex-step method."""
    import cmath

    h = 1e-20
    t = complex(0.7, h)
    return (cmath.exp(a * t) * cmath.sin(t)).imag / h


class Dual:
    """Forward-mode dual numbers, as hand-rolled AD in legacy code."""

    def __init__(self, v, d=0.0):
        self.v, self.d = v, d

    def __add__(self, o):
        o = o if isinstance(o, Dual) else Dual(o)
        return Dual(self.v + o.v, self.d + o.d)

    __radd__ = __add__

    def __mul__(self, o):
        o = o if isinstance(o, Dual) else Dual(o)
        return Dual(self.v * o.v, self.v * o.d + self.d * o.v)

    __rmul__ = __mul__

    def sin(self):
        import math

        return Dual(math.sin(self.v), math.cos(self.v) * self.d)


@case(vector(2, 0.2, 1.5), on_list)
def dual_number_derivative(p):
    """d/dt [a t^2 + sin(b t)] at t = 0.9 by a hand-written dual-number class."""
    a, b = p
    t = Dual(0.9, 1.0)
    y = a * t * t + (b * t).sin()
    return y.d + 0.1 * y.v


_LANCZOS = [0.99999999999980993, 676.5203681218851, -1259.1392167224028,
            771.32342877765313, -176.61503916999185, 12.507343278686905,
            -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7]


@case(scalar(0.6, 6.0))
def lanczos_gamma(z):
    """Gamma(z) by the Lanczos approximation (g = 7), coefficients in a module list."""
    import math

    z -= 1
    x = _LANCZOS[0]
    for i in range(1, 9):
        x += _LANCZOS[i] / (z + i)
    t = z + 7.5
    return math.sqrt(2 * math.pi) * t ** (z + 0.5) * math.exp(-t) * x


@case(scalar(0.01, 0.99))
def acklam_inverse_normal(p):
    """Acklam's rational approximation of the inverse normal CDF (three regions)."""
    import math

    a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
         1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
    b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
         6.680131188771972e+01, -1.328068155288572e+01]
    c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
         -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
    d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
         3.754408661907416e+00]
    plow = 0.02425
    if p < plow:
        q = math.sqrt(-2 * math.log(p))
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    if p > 1 - plow:
        q = math.sqrt(-2 * math.log(1 - p))
        return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    q = p - 0.5
    r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / \
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)


@case(vector(2, 0.5, 1.5), on_list)
def rkf45_adaptive(p):
    """Runge-Kutta-Fehlberg 4(5) with step-size control (the accepted steps change with
    the parameters only at isolated points)."""
    k, c = p

    def f(t, y):
        return -k * y + c * t

    t, y, h = 0.0, 1.0, 0.1
    while t < 2.0 - 1e-12:
        h = min(h, 2.0 - t)
        k1 = h * f(t, y)
        k2 = h * f(t + h / 4, y + k1 / 4)
        k3 = h * f(t + 3 * h / 8, y + 3 * k1 / 32 + 9 * k2 / 32)
        k4 = h * f(t + 12 * h / 13, y + 1932 * k1 / 2197 - 7200 * k2 / 2197 + 7296 * k3 / 2197)
        k5 = h * f(t + h, y + 439 * k1 / 216 - 8 * k2 + 3680 * k3 / 513 - 845 * k4 / 4104)
        k6 = h * f(t + h / 2, y - 8 * k1 / 27 + 2 * k2 - 3544 * k3 / 2565 + 1859 * k4 / 4104
                   - 11 * k5 / 40)
        y4 = y + 25 * k1 / 216 + 1408 * k3 / 2565 + 2197 * k4 / 4104 - k5 / 5
        y5 = y + 16 * k1 / 135 + 6656 * k3 / 12825 + 28561 * k4 / 56430 - 9 * k5 / 50 \
            + 2 * k6 / 55
        err = abs(y5 - y4)
        if err < 1e-9 or h < 1e-6:
            t, y = t + h, y5
        h = 0.1 if err == 0 else min(0.1, 0.9 * h * (1e-9 / err) ** 0.2)
    return y


@case(vector(6, -1.0, 1.0), on_list)
def dynamic_time_warping(xs):
    """Dynamic-time-warping distance between the input series and a fixed one (a DP table
    of mins)."""
    ref = [0.0, 0.5, 1.0, 0.5, 0.0]
    n, m = len(xs), len(ref)
    INF = float("inf")
    D = [[INF] * (m + 1) for _ in range(n + 1)]
    D[0][0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost = (xs[i - 1] - ref[j - 1]) ** 2
            D[i][j] = cost + min(D[i - 1][j], D[i][j - 1], D[i - 1][j - 1])
    return D[n][m]


@case(vector(6, -3.0, 3.0), on_list)
def bubble_sort_weighted(xs):
    """Bubble sort (swaps of list elements), then a rank-weighted sum."""
    a = list(xs)
    n = len(a)
    for i in range(n):
        for j in range(n - 1 - i):
            if a[j] > a[j + 1]:
                a[j], a[j + 1] = a[j + 1], a[j]
    return sum((k + 1) ** 0.5 * v for k, v in enumerate(a))


@case(matrix(2, diag=0.0, lo=-0.8, hi=0.8), on_matrix(2))
def matrix_exponential_lists(A):
    """exp(A) for a 2 x 2 list-of-lists matrix: scaling by 2^-6, a 12-term Taylor series,
    then six squarings; returns the trace."""
    def mm(X, Y):
        return [[X[0][0] * Y[0][0] + X[0][1] * Y[1][0], X[0][0] * Y[0][1] + X[0][1] * Y[1][1]],
                [X[1][0] * Y[0][0] + X[1][1] * Y[1][0], X[1][0] * Y[0][1] + X[1][1] * Y[1][1]]]

    s = 2.0 ** -6
    B = [[a * s for a in row] for row in A]
    E = [[1.0, 0.0], [0.0, 1.0]]
    term = [[1.0, 0.0], [0.0, 1.0]]
    for k in range(1, 13):
        term = [[v / k for v in row] for row in mm(term, B)]
        E = [[e + t for e, t in zip(re, rt)] for re, rt in zip(E, term)]
    for _ in range(6):
        E = mm(E, E)
    return E[0][0] + E[1][1]
