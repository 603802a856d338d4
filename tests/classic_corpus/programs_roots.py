# ruff: noqa: B905 - legacy code: zip() without strict=, as it was written
"""Root finders and fixed-point iterations with fixed iteration counts (written for this
corpus, in the style of textbook code)."""

from registry import case, on_list, scalar, vector


@case(scalar(0.5, 4.0))
def newton_sqrt(a):
    """Heron's square root: Newton's method on x*x - a, thirty steps."""
    x = a if a > 1.0 else 1.0
    for _ in range(30):
        x = 0.5 * (x + a / x)
    return x


@case(scalar(1.0, 9.0))
def bisection_cube_root(c):
    """Cube root by bisection on [0, 10], sixty halvings. The answer depends on c only
    through the comparisons."""
    lo, hi = 0.0, 10.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if mid * mid * mid - c > 0.0:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


@case(scalar(1.0, 9.0))
def bisection_then_newton(c):
    """Bisection to bracket the cube root, polished by one Newton step (the usual
    safeguarded solver; the Newton step carries the dependence on c)."""
    lo, hi = 0.0, 10.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if mid ** 3 > c:
            hi = mid
        else:
            lo = mid
    x = 0.5 * (lo + hi)
    return x - (x ** 3 - c) / (3.0 * x * x)


@case(scalar(0.2, 2.5))
def kepler_newton(M):
    """Eccentric anomaly from the mean anomaly (Kepler's equation, e = 0.4), Newton."""
    import math

    e = 0.4
    E = M
    for _ in range(25):
        E = E - (E - e * math.sin(E) - M) / (1.0 - e * math.cos(E))
    return E


@case(scalar(0.2, 2.5))
def kepler_secant(M):
    """Kepler's equation by the secant method, stopping when the iterates agree."""
    import math

    e = 0.25
    E0, E1 = M, M + 0.2
    for _ in range(10):
        f0 = E0 - e * math.sin(E0) - M
        f1 = E1 - e * math.sin(E1) - M
        if f1 == f0:
            break
        E0, E1 = E1, E1 - f1 * (E1 - E0) / (f1 - f0)
    return E1


@case(scalar(0.3, 0.8))
def fixed_point_cos(a):
    """Solve x = cos(a x) by plain fixed-point iteration."""
    from math import cos

    x = 1.0
    for _ in range(200):
        x = cos(a * x)
    return x


@case(scalar(0.5, 20.0))
def halley_cube_root(a):
    """Halley's iteration for a ** (1/3)."""
    x = 1.0
    for _ in range(20):
        x3 = x * x * x
        x = x * (x3 + 2.0 * a) / (2.0 * x3 + a)
    return x


@case(vector(4, 0.5, 2.0), on_list)
def polynomial_root_newton(coeffs):
    """Largest real root of x^4 - c0 x^3 - c1 x^2 - c2 x - c3 (a polynomial given as a list),
    Newton's method from a bound on the roots, derivative by Horner."""
    n = len(coeffs)
    x = 1.0 + max(abs(c) for c in coeffs) * 2
    for _ in range(60):
        p, dp = 1.0, 0.0
        for k in range(n):
            dp = dp * x + p
            p = p * x - coeffs[k]
        x -= p / dp
    return x
