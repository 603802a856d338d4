# ruff: noqa: B905 - legacy code: zip() without strict=, as it was written
"""Standard-library and SciPy idioms inside numerical code: itertools, heapq, bisect, deque,
math.prod/dist/hypot, map, copy, namedtuple/dataclass containers, array.array, round/floor,
scipy.integrate.quad, scipy.optimize.brentq, scipy.interpolate, np.interp."""

from registry import case, on_list, scalar, vector


@case(vector(6, -1.0, 1.0), on_list)
def itertools_accumulate(xs):
    """Running sums with itertools.accumulate, then the sum of their squares."""
    import itertools

    return sum(c * c for c in itertools.accumulate(xs))


@case(vector(6, -1.0, 1.0), on_list)
def itertools_pairwise_product(xs):
    """Neighbour products with itertools.pairwise and itertools.starmap(operator.mul)."""
    import itertools
    import operator

    return sum(itertools.starmap(operator.mul, itertools.pairwise(xs)))


@case(vector(7, 0.0, 5.0), on_list)
def heapq_three_smallest(xs):
    """Sum of the three smallest values kept in a heap (heapq.heapify/heappop)."""
    import heapq

    h = list(xs)
    heapq.heapify(h)
    return sum(heapq.heappop(h) for _ in range(3))


@case(vector(7, 0.0, 5.0), on_list)
def heapq_nlargest(xs):
    """heapq.nlargest(2, ...) with a key."""
    import heapq

    return sum(heapq.nlargest(2, xs, key=lambda v: v * v))


@case(scalar(0.1, 3.9))
def bisect_table_lookup(t):
    """Linear interpolation in a table, the interval found with bisect.bisect_right."""
    import bisect

    xs = [0.0, 1.0, 2.0, 3.0, 4.0]
    ys = [0.0, 0.8, 0.9, 0.1, -0.7]
    i = bisect.bisect_right(xs, t) - 1
    w = (t - xs[i]) / (xs[i + 1] - xs[i])
    return (1 - w) * ys[i] + w * ys[i + 1]


@case(vector(8, -1.0, 1.0), on_list)
def deque_rolling_mean(xs):
    """Rolling mean over a window of 3 kept in a collections.deque(maxlen=3)."""
    from collections import deque

    window = deque(maxlen=3)
    out = 0.0
    for x in xs:
        window.append(x)
        out += (sum(window) / len(window)) ** 2
    return out


@case(vector(6, 0.5, 2.0), on_list)
def math_prod_dist_hypot(v):
    """math.prod, math.dist and math.hypot(*v) together."""
    import math

    return math.prod(v[:3]) + math.dist(v[:3], v[3:]) + math.hypot(*v)


@case(vector(5, 0.5, 3.0), on_list)
def map_sqrt_and_sum_start(xs):
    """sum(map(math.sqrt, xs), start) and max() over a generator."""
    import math

    return sum(map(math.sqrt, xs), 1.5) + max(x * 0.1 for x in xs)


@case(vector(4, -1.0, 1.0), on_list)
def deepcopy_state(xs):
    """A state dict deep-copied before an in-place update (copy.deepcopy)."""
    import copy

    state = {"pos": list(xs[:2]), "vel": list(xs[2:])}
    saved = copy.deepcopy(state)
    for i in range(2):
        state["pos"][i] += 0.5 * state["vel"][i]
    return sum(p * p for p in state["pos"]) - sum(p for p in saved["pos"])


@case(vector(6, -1.0, 1.0), on_list)
def namedtuple_dataclass(v):
    """Points as namedtuples and a dataclass holding a float field."""
    from collections import namedtuple
    from dataclasses import dataclass

    Point = namedtuple("Point", "x y z")

    @dataclass
    class Spring:
        k: float
        rest: float

    a, b = Point(*v[:3]), Point(*v[3:])
    s = Spring(k=2.0 + a.x, rest=0.5)
    d = ((a.x - b.x) ** 2 + (a.y - b.y) ** 2 + (a.z - b.z) ** 2) ** 0.5
    return 0.5 * s.k * (d - s.rest) ** 2


@case(vector(4, -1.0, 1.0), on_list)
def array_module_buffer(xs):
    """Values staged in an array.array('d') buffer before summing (raw storage)."""
    import array

    buf = array.array("d", xs)
    return sum(v * v for v in buf)


@case(scalar(0.3, 2.5))
def round_and_floor(x):
    """Rounded reporting values mixed into the result (round, math.floor): piecewise
    constant parts, plus a smooth part."""
    import math

    cents = round(x * 100) / 100
    whole = math.floor(x)
    return x * x + 0.0 * cents + 0.0 * whole


@case(vector(2, 0.5, 2.0), on_list, heavy=True)
def scipy_quad_inside(p):
    """scipy.integrate.quad of a parametrised integrand (the parameters from the input)."""
    import math

    from scipy.integrate import quad

    a, b = p
    value, _err = quad(lambda t: math.exp(-a * t) * math.cos(b * t), 0.0, 2.0)
    return value


@case(scalar(1.0, 8.0))
def scipy_brentq_inside(c):
    """The root of x^3 + x - c by scipy.optimize.brentq (the parameter in the function)."""
    from scipy.optimize import brentq

    return brentq(lambda x: x ** 3 + x - c, 0.0, 3.0, xtol=1e-14)


@case(vector(5, -1.0, 1.0))
def scipy_cubic_spline_inside(y):
    """scipy.interpolate.CubicSpline through the values, evaluated at 1.37."""
    import numpy as np
    from scipy.interpolate import CubicSpline

    return float(CubicSpline(np.arange(5.0), y)(1.37))


@case(vector(5, -1.0, 1.0))
def numpy_interp_inside(y):
    """np.interp in a table whose values are the input, at three points."""
    import numpy as np

    return float(np.sum(np.interp([0.3, 1.7, 3.2], np.arange(5.0), y) ** 2))
