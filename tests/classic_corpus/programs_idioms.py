# ruff: noqa: B905 - legacy code: zip() without strict=, as it was written
"""More idioms seen in real numerical code: raw-storage and serialisation round trips
(ctypes, json, pickle, float.hex), float decomposition (frexp/ldexp, fmod, %, divmod),
element-wise Python through NumPy (np.vectorize, np.fromiter, apply_along_axis), memoisation
(functools.lru_cache), exceptions as control flow, operator helpers, and SciPy solvers."""

from registry import case, on_list, scalar, vector


@case(scalar(0.5, 2.0))
def ctypes_double(x):
    """A value passed through a ctypes.c_double (as when calling a C library)."""
    import ctypes

    return ctypes.c_double(x * x).value + x


@case(vector(3, -1.0, 1.0), on_list)
def json_roundtrip(xs):
    """Parameters saved to JSON and read back before use."""
    import json

    saved = json.loads(json.dumps({"p": xs}))
    return sum(a * b for a, b in zip(saved["p"], xs))


@case(vector(3, -1.0, 1.0), on_list)
def pickle_roundtrip(xs):
    """A state pickled and unpickled (a checkpoint) before the final sum."""
    import pickle

    state = pickle.loads(pickle.dumps([float(v) for v in xs]))
    return sum(v * v for v in state)


@case(scalar(0.5, 2.0))
def float_hex_roundtrip(x):
    """float.hex / float.fromhex exact round trip."""
    return float.fromhex((x * 2.0).hex()) ** 2


@case(scalar(0.3, 20.0))
def frexp_ldexp(x):
    """Mantissa/exponent split (math.frexp) and rebuild (math.ldexp), then a log."""
    import math

    m, e = math.frexp(x)
    return math.log(m) + e * math.log(2.0) + math.ldexp(m, e)


@case(scalar(0.2, 12.0))
def angle_wrapping(theta):
    """An angle wrapped with % (2 pi) and math.fmod, then used (derivative 1 a.e.)."""
    import math

    wrapped = theta % (2 * math.pi)
    also = math.fmod(theta, 2 * math.pi)
    return math.sin(wrapped) + also * 0.5


@case(scalar(0.2, 9.8))
def divmod_split(x):
    """divmod into whole and fractional parts, the fraction used smoothly."""
    whole, frac = divmod(x, 1.0)
    return frac * frac + whole


@case(vector(5, -1.0, 1.0))
def numpy_vectorize_python(x):
    """np.vectorize of a Python function over the input array."""
    import math

    import numpy as np

    def soft(v):
        return math.log(1.0 + math.exp(v))

    return float(np.sum(np.vectorize(soft)(x)))


@case(vector(5, -1.0, 1.0), on_list)
def numpy_fromiter(xs):
    """np.fromiter over a generator of traced values."""
    import numpy as np

    a = np.fromiter((v * v for v in xs), dtype=float)
    return float(a.sum())


@case(vector(6, -1.0, 1.0))
def numpy_apply_along_axis(x):
    """np.apply_along_axis of a Python norm over the rows of a 2 x 3 array."""
    import numpy as np

    def rownorm(r):
        return (r[0] ** 2 + r[1] ** 2 + r[2] ** 2) ** 0.5

    return float(np.sum(np.apply_along_axis(rownorm, 1, x.reshape(2, 3))))


@case(scalar(0.3, 0.9))
def lru_cache_recursion(a):
    """A memoised recursion (functools.lru_cache) on a float parameter."""
    import functools

    @functools.lru_cache(maxsize=None)  # noqa: UP033 - as legacy code writes it
    def term(n, a):
        return 1.0 if n == 0 else a * term(n - 1, a) + 0.1

    return term(15, a)


@case(vector(3, -1.0, 1.0), on_list)
def exceptions_as_control_flow(xs):
    """Division guarded by try/except ZeroDivisionError (never raised here)."""
    total = 0.0
    for v in xs:
        try:
            total += 1.0 / (v * v + 0.5)
        except ZeroDivisionError:
            total += 0.0
    return total


@case(vector(6, -1.0, 1.0), on_list)
def operator_itemgetter(xs):
    """operator.itemgetter and attrgetter picking values out of records."""
    import operator
    from types import SimpleNamespace

    rows = [(xs[i], xs[i + 1]) for i in range(0, 6, 2)]
    firsts = list(map(operator.itemgetter(0), rows))
    objs = [SimpleNamespace(w=r[1]) for r in rows]
    ws = list(map(operator.attrgetter("w"), objs))
    return sum(f * w for f, w in zip(firsts, ws))


@case(vector(2, 0.5, 2.0), on_list)
def math_atan2_copysign(p):
    """Polar angle with math.atan2, and math.copysign of a magnitude."""
    import math

    return math.atan2(p[1], p[0]) + math.copysign(p[0] * p[1], -1.0)


@case(vector(2, -1.0, 1.0), on_list)
def complex_builtins(p):
    """Complex arithmetic with builtins: conjugate, .real/.imag, abs."""
    z = complex(p[0], p[1]) * (1.5 - 0.5j)
    w = z * z.conjugate() + z ** 2
    return w.real + 0.3 * w.imag + abs(z)


def _minimiser_gradient(p):
    """d w*/d(a, b) by the implicit function theorem on 2 (w - a) + 4 b w^3 = 0."""
    w = scipy_minimize_inside(list(p))
    den = 2.0 + 12.0 * p[1] * w * w
    return [2.0 / den, -4.0 * w ** 3 / den]


@case(vector(2, 0.5, 2.0), on_list, reference=lambda x: _minimiser_gradient(x), heavy=True)
def scipy_minimize_inside(p):
    """The minimiser of (w - a)^2 + b w^4 found by scipy.optimize.minimize (BFGS)."""
    import numpy as np
    from scipy.optimize import minimize

    a, b = p
    res = minimize(lambda w: (w[0] - a) ** 2 + b * w[0] ** 4, np.array([0.0]), method="BFGS",
                   options={"gtol": 1e-12})
    return float(res.x[0])


@case(vector(2, 0.5, 1.5), on_list, heavy=True)
def scipy_odeint_inside(p):
    """scipy.integrate.odeint of a decay with rate and forcing from the input."""
    import numpy as np
    from scipy.integrate import odeint

    k, f = p
    sol = odeint(lambda y, t: -k * y + f, 1.0, np.linspace(0.0, 2.0, 5), rtol=1e-11,
                 atol=1e-12)
    return float(sol[-1, 0])


@case(vector(2, 0.5, 1.5), on_list, heavy=True)
def scipy_solve_ivp_inside(p):
    """scipy.integrate.solve_ivp of a forced oscillator; the final position."""
    from scipy.integrate import solve_ivp

    w, c = p
    sol = solve_ivp(lambda t, y: [y[1], -w * w * y[0] - c * y[1]], (0.0, 1.0), [1.0, 0.0],
                    rtol=1e-10, atol=1e-12)
    return float(sol.y[0, -1])


@case(vector(4, -1.0, 1.0))
def numpy_polynomial_class(c):
    """numpy.polynomial.Polynomial: evaluate, differentiate and integrate."""
    from numpy.polynomial import Polynomial

    p = Polynomial(c)
    return float(p(0.4) + p.deriv()(0.2) + p.integ()(1.0))
