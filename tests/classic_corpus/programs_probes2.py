# ruff: noqa: B905 - legacy code: zip() without strict=, as it was written
"""More legacy idioms: comparison-only searches (golden section), regula falsi, eval/exec of
formula strings, functors, type checks on inputs, statistics.NormalDist / median / variance,
math and cmath special functions, float methods and dunders, defaultdict/Counter, yield
from, math.isclose-terminated loops."""

from registry import case, on_list, scalar, vector


def _golden_reference(a):
    """dt*/da = 2 / (2 + 1.2 t*^2) from 2 (t - a) + 0.4 t^3 = 0 (a golden-section result is
    only accurate to ~sqrt(eps), too noisy for finite differences)."""
    t = golden_section_minimum(a)
    return [2.0 / (2.0 + 1.2 * t * t)]


@case(scalar(0.5, 2.5), reference=lambda a: _golden_reference(a))
def golden_section_minimum(a):
    """The minimiser of (t - a)^2 + 0.1 t^4 by golden-section search; the
    location depends on a only through the comparisons."""
    import math

    def f(t):
        return (t - a) ** 2 + 0.1 * t ** 4

    gr = (math.sqrt(5.0) - 1.0) / 2.0
    lo, hi = -5.0, 5.0
    c, d = hi - gr * (hi - lo), lo + gr * (hi - lo)
    for _ in range(90):
        if f(c) < f(d):
            hi = d
        else:
            lo = c
        c, d = hi - gr * (hi - lo), lo + gr * (hi - lo)
    return 0.5 * (lo + hi)


@case(scalar(1.0, 6.0))
def regula_falsi(c):
    """False position for x^2 - c on [0, 3] (Illinois variant), 40 steps."""
    a, b = 0.0, 3.0
    fa, fb = a * a - c, b * b - c
    side = 0
    x = a
    for _ in range(40):
        x = (a * fb - b * fa) / (fb - fa)
        fx = x * x - c
        if fx * fb > 0:
            b, fb = x, fx
            if side == -1:
                fa /= 2
            side = -1
        elif fa * fx > 0:
            a, fa = x, fx
            if side == 1:
                fb /= 2
            side = 1
        else:
            break
    return x


@case(vector(2, -1.0, 1.0), on_list)
def eval_formula_string(p):
    """A formula kept as a string (a config file) and evaluated with eval()."""
    formula = "a * a + 3.0 * a * b - b ** 3"
    return eval(formula, {"__builtins__": {}}, {"a": p[0], "b": p[1]})


@case(vector(2, -1.0, 1.0), on_list)
def exec_generated_function(p):
    """A function generated as source text and created with exec()."""
    src = "def model(a, b):\n    return a * b + a ** 2 / (1.0 + b * b)\n"
    ns = {}
    exec(src, ns)
    return ns["model"](p[0], p[1])


class Polynomial:
    """A functor: an object with __call__."""

    def __init__(self, *coeffs):
        self.coeffs = coeffs

    def __call__(self, t):
        return sum(c * t ** k for k, c in enumerate(self.coeffs))


@case(vector(3, -1.0, 1.0), on_list)
def functor_objects(c):
    """Callable objects (__call__) built from the input and applied on a grid."""
    p = Polynomial(*c)
    return sum(p(0.25 * k) ** 2 for k in range(8))


@case(scalar(0.5, 2.0))
def type_checks_on_input(x):
    """Legacy input validation: isinstance / type(...) is float, then arithmetic."""
    import numbers

    if not isinstance(x, numbers.Real):
        raise TypeError("need a real number")
    scale = 2.0 if isinstance(x, float) else 1.0
    return scale * x * x + (1.0 if type(x) is float else 0.0)


@case(vector(3, 0.5, 1.5), on_list)
def statistics_normaldist(p):
    """statistics.NormalDist: cdf, pdf and inv_cdf with parameters from the input."""
    from statistics import NormalDist

    d = NormalDist(mu=p[0] - 1.0, sigma=p[1])
    return d.cdf(0.3) + d.pdf(0.1) + d.inv_cdf(0.2 + 0.5 * p[2] / 1.5)


@case(vector(7, 0.0, 5.0), on_list)
def statistics_median_variance(xs):
    """statistics.median (an element of the data) plus statistics.pvariance (exact sums)."""
    import statistics

    return statistics.median(xs) + statistics.pvariance(xs)


@case(scalar(0.6, 3.0))
def math_special_functions(x):
    """math.gamma, lgamma, erfc, expm1, log1p, log2, cbrt and exp2."""
    import math

    return (math.gamma(x) + math.lgamma(x) + math.erfc(x) + math.expm1(x) + math.log1p(x)
            + math.log2(x) + math.cbrt(x) + math.exp2(x))


@case(vector(2, 0.3, 1.5), on_list)
def cmath_functions(p):
    """cmath.sqrt, log, phase, polar and rect on a complex built from the input."""
    import cmath

    z = complex(p[0], p[1])
    r, phi = cmath.polar(cmath.sqrt(z) + cmath.log(z))
    return r + cmath.phase(z) + cmath.rect(r, phi).real * 0.5


@case(scalar(0.5, 2.0))
def float_methods_and_dunders(x):
    """float methods and slot wrappers called explicitly: __mul__, __pow__, conjugate,
    .real, math.pow."""
    import math

    return x.__mul__(3.0) + x.__pow__(2) + x.conjugate() * x.real + math.pow(x, 1.5)


@case(scalar(0.3, 5.7))
def math_modf_trunc(x):
    """math.modf's fractional part used smoothly; the integer part as an offset."""
    import math

    frac, whole = math.modf(x)
    return frac ** 2 + whole + 0.0 * math.trunc(x)


@case(vector(4, 0.5, 2.0), on_list)
def defaultdict_counter(w):
    """Accumulating weights in collections.defaultdict(float) and a Counter."""
    from collections import Counter, defaultdict

    acc = defaultdict(float)
    for key, v in zip("abab", w):
        acc[key] += v * v
    counts = Counter({"a": w[0], "b": w[1]})
    counts.update({"a": w[2]})
    return acc["a"] * acc["b"] + counts["a"] * counts["b"]


def _leaves(tree):
    for node in tree:
        if isinstance(node, list):
            yield from _leaves(node)
        else:
            yield node


@case(vector(5, -1.0, 1.0), on_list)
def yield_from_tree(xs):
    """Leaves of a nested list walked with a recursive `yield from` generator."""
    tree = [xs[0], [xs[1], [xs[2], xs[3]]], xs[4]]
    return sum(v * (i + 1) for i, v in enumerate(_leaves(tree)))


@case(scalar(0.5, 4.0))
def isclose_terminated_newton(a):
    """Newton's method for the square root, stopped by math.isclose."""
    import math

    x = max(a, 1.0)
    for _ in range(100):
        new = 0.5 * (x + a / x)
        if math.isclose(new, x, rel_tol=1e-15):
            x = new
            break
        x = new
    return x


@case(vector(3, 0.5, 2.0))
def numpy_dunder_methods(a):
    """ndarray and NumPy-scalar operators called as methods (a.__mul__(k), s.__pow__(2)),
    as generic code built on operator names does."""
    return float(a.__mul__(3.0).sum() + a[0].__pow__(2))
