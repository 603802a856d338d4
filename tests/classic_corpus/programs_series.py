# ruff: noqa: B905 - legacy code: zip() without strict=, as it was written
"""Series, recurrences and functional idioms: Taylor with math.factorial, generators,
Horner, Clenshaw, continued fractions, recursion, functools.reduce, closures, dicts, cmath,
decimal/fractions, random.Random noise, string round trips."""

from registry import case, on_list, scalar, vector


@case(scalar(-2.0, 2.0))
def taylor_exp(x):
    """exp(x) by its Taylor series, 25 terms, with math.factorial."""
    import math

    return sum(x ** k / math.factorial(k) for k in range(25))


def _sin_terms(x, n):
    term = x
    for k in range(n):
        yield term
        term *= -x * x / ((2 * k + 2) * (2 * k + 3))


@case(scalar(-3.0, 3.0))
def generator_sine(x):
    """sin(x) summed from a generator of Taylor terms."""
    return sum(_sin_terms(x, 20))


@case(vector(6, -1.0, 1.0), on_list)
def horner_polynomial(c):
    """Horner evaluation of sum c_k t^k at t = 0.7 and its derivative at t = -0.4."""
    t = 0.7
    p = 0.0
    for coef in reversed(c):
        p = p * t + coef
    s = -0.4
    dp, q = 0.0, 0.0
    for coef in reversed(c):
        dp = dp * s + q
        q = q * s + coef
    return p + dp


@case(vector(6, -1.0, 1.0), on_list)
def clenshaw_chebyshev(c):
    """Clenshaw's recurrence for a Chebyshev series at x = 0.3."""
    x = 0.3
    b1 = b2 = 0.0
    for coef in reversed(c[1:]):
        b1, b2 = 2.0 * x * b1 - b2 + coef, b1
    return x * b1 - b2 + c[0]


@case(scalar(-1.2, 1.2))
def continued_fraction_tan(x):
    """tan(x) from Lambert's continued fraction, evaluated bottom-up (20 levels)."""
    frac = 0.0
    for k in range(20, 0, -1):
        frac = x * x / ((2 * k + 1) - frac)
    return x / (1.0 - frac)


def _recurrence(n, a, b):
    if n == 0:
        return 1.0
    if n == 1:
        return a
    return a * _recurrence(n - 1, a, b) - b * _recurrence(n - 2, a, b)


@case(vector(2, 0.3, 0.9), on_list)
def recursive_recurrence(p):
    """A Fibonacci-like three-term recurrence on floats, by plain recursion (n = 12)."""
    return _recurrence(12, p[0], p[1])


@case(vector(5, -0.5, 0.5), on_list)
def reduce_product(xs):
    """prod(1 + x_k / k) with functools.reduce and operator.mul."""
    import functools
    import operator

    return functools.reduce(operator.mul, [1.0 + x / (k + 1) for k, x in enumerate(xs)],
                            1.0)


def _make_poly(coeffs):
    def p(t):
        acc = 0.0
        for c in coeffs:
            acc = acc * t + c
        return acc
    return p


@case(vector(4, -1.0, 1.0), on_list)
def closure_polynomial(coeffs):
    """A polynomial built as a closure over its coefficients, integrated by the midpoint
    rule on [0, 1]."""
    p = _make_poly(coeffs)
    n = 50
    return sum(p((i + 0.5) / n) for i in range(n)) / n


@case(vector(4, -1.0, 1.0), on_list)
def de_casteljau(ctrl):
    """A Bezier curve's value at t = 0.35 by de Casteljau's algorithm."""
    t = 0.35
    pts = list(ctrl)
    while len(pts) > 1:
        pts = [(1 - t) * a + t * b for a, b in zip(pts, pts[1:])]
    return pts[0]


@case(vector(4, 0.5, 2.0), on_list)
def dict_accumulate(w):
    """Totals per category in a dict of floats (get with a default, then items())."""
    orders = [("a", 2.0), ("b", 1.0), ("a", 3.0), ("c", 0.5), ("b", 4.0), ("d", 1.5)]
    weight = {"a": w[0], "b": w[1], "c": w[2], "d": w[3]}
    totals = {}
    for cat, qty in orders:
        totals[cat] = totals.get(cat, 0.0) + qty * weight[cat]
    return sum(v * v for k, v in sorted(totals.items()))


@case(vector(2, -1.5, 1.5), on_list)
def cmath_polynomial(p):
    """|z^3 - 2z + 1| * |exp(i z)| for z = p0 + i p1, with cmath."""
    import cmath

    z = complex(p[0], p[1])
    w = z ** 3 - 2 * z + 1
    return abs(w) * abs(cmath.exp(1j * z))


@case(scalar(1.0, 100.0))
def decimal_price(x):
    """A price with tax computed in decimal arithmetic, then back to float."""
    from decimal import Decimal

    total = Decimal(x) * Decimal("1.07") + Decimal("0.25")
    return float(total)


@case(scalar(0.5, 2.0))
def fraction_roundtrip(x):
    """x through fractions.Fraction (exact), squared, back to float."""
    from fractions import Fraction

    f = Fraction(x)
    return float(f * f + Fraction(1, 3))


@case(vector(5, -1.0, 1.0), on_list)
def random_noise_constants(xs):
    """Deterministic noise from random.Random(seed), added as constants."""
    import random

    rng = random.Random(42)
    total = 0.0
    for x in xs:
        total += (x + 0.1 * rng.gauss(0.0, 1.0)) ** 2
    return total


@case(scalar(0.5, 2.0))
def string_roundtrip(x):
    """A value written with '%.17g' and read back with float(), as config files do."""
    text = "%.17g" % x  # noqa: UP031 - the legacy idiom under test
    return float(text) * 3.0
