# ruff: noqa: B905 - legacy code: zip() without strict=, as it was written
"""Quadrature loops: trapezoid, Simpson, Romberg, Gauss-Legendre, midpoint with fsum."""

from registry import case, on_list, scalar, vector


@case(vector(3, 0.5, 2.0), on_list)
def trapezoid_gaussian(p):
    """Integral of a*exp(-(x-b)^2/c) over [0, 3], composite trapezoid rule, 200 panels."""
    import math

    a, b, c = p

    def f(x):
        return a * math.exp(-(x - b) ** 2 / c)

    n = 200
    h = 3.0 / n
    s = 0.5 * (f(0.0) + f(3.0))
    for i in range(1, n):
        s += f(i * h)
    return s * h


@case(scalar(0.5, 3.0))
def simpson_x_sin(k):
    """Integral of x sin(k x) over [0, pi] by Simpson's rule (n even)."""
    import math

    n = 64
    a, b = 0.0, math.pi
    h = (b - a) / n
    total = math.sin(k * a) * a + math.sin(k * b) * b
    for i in range(1, n):
        x = a + i * h
        total += (4 if i % 2 else 2) * x * math.sin(k * x)
    return total * h / 3


@case(scalar(0.2, 3.0))
def romberg_arctan(a):
    """Romberg table for the integral of 1 / (1 + a x^2) over [0, 1]."""
    def f(x):
        return 1.0 / (1.0 + a * x * x)

    R = [[0.0] * 7 for _ in range(7)]
    h = 1.0
    R[0][0] = 0.5 * h * (f(0.0) + f(1.0))
    for i in range(1, 7):
        h /= 2
        s = sum(f((2 * k - 1) * h) for k in range(1, 2 ** (i - 1) + 1))
        R[i][0] = 0.5 * R[i - 1][0] + h * s
        for j in range(1, i + 1):
            R[i][j] = R[i][j - 1] + (R[i][j - 1] - R[i - 1][j - 1]) / (4 ** j - 1)
    return R[6][6]


@case(scalar(0.5, 2.5))
def gauss_legendre_5(b):
    """Five-point Gauss-Legendre rule for the integral of exp(-x^2) over [0, b]."""
    from math import exp

    nodes = [0.0, -0.5384693101056831, 0.5384693101056831, -0.9061798459386640,
             0.9061798459386640]
    weights = [0.5688888888888889, 0.4786286704993665, 0.4786286704993665,
               0.2369268850561891, 0.2369268850561891]
    half = b / 2.0
    return half * sum(w * exp(-(half * t + half) ** 2) for t, w in zip(nodes, weights))


@case(scalar(0.5, 3.0))
def midpoint_fsum(p):
    """Integral of x^p over [0, 1] (midpoint rule) accumulated with math.fsum."""
    import math

    n = 400
    return math.fsum(((i + 0.5) / n) ** p for i in range(n)) / n
