"""Gradients of unmodified programs, by language feature, against central differences.

Each program is ordinary legacy-style Python; ``@program(*args, argnums=...)`` registers it
with the point at which it is differentiated (several points per program where useful).
``assert_grad_matches_fd`` also checks that the caller's arguments are untouched and that
``value_and_grad``'s value equals the native result.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import pytest
from conftest import assert_grad_matches_fd, fresh, get_engine, snapshot

PROGRAMS: list = []


def program(*args, argnums=0, rtol=1e-6, name=None):
    def deco(fn):
        pid = name or fn.__name__
        n = sum(1 for p in PROGRAMS if p[0].split("#")[0] == pid)
        PROGRAMS.append((pid if n == 0 else f"{pid}#{n + 1}", fn, args, argnums, rtol))
        return fn

    return deco


def _a(*shape, seed=0, lo=-1.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, size=shape)


# =======================================================================================
# for / while loops, break / continue, early return
# =======================================================================================


@program(0.7, 6)
@program(-1.3, 3)
def horner_loop(x, n):
    coeffs = [1.0, -0.5, 0.25, 2.0, -1.0, 0.3, 0.1][: n + 1]
    acc = 0.0
    for c in reversed(coeffs):
        acc = acc * x + c
    return acc


@program(0.6)
@program(-0.45)
def series_with_break(x):
    s = 0.0
    term = 1.0
    for k in range(1, 200):
        term = term * x / k
        if abs(term) < 1e-12:
            break
        s += term
    return s


@program(_a(9, seed=1))
def loop_continue_skips_negatives(x):
    total = 0.0
    for v in x:
        if v < 0:
            continue
        total += v * v
    return total


@program(2.0)
@program(0.37)
def while_newton_sqrt(a):
    x = a if a > 1 else 1.0
    for _ in range(100):
        nx = 0.5 * (x + a / x)
        if abs(nx - x) < 1e-14 * nx:
            x = nx
            break
        x = nx
    return x


@program(0.3)
@program(2.2)
def while_grow_until(x):
    steps = 0
    while x < 10.0:
        x = x * 1.7 + 0.4
        steps += 1
    return x + 0.1 * steps


@program(0.4)
@program(1.8)
@program(-0.9)
def early_return_branches(x):
    if x > 1.5:
        return x * x - 1.0
    for i in range(4):
        x = math.sin(x) + 0.5 * x
        if x > 0.9:
            return x * (i + 1)
    return x * 3.0


@program(_a(3, 3, seed=2), _a(3, seed=3), argnums=(0, 1))
def nested_loops_quadratic_form(A, v):
    n = len(v)
    s = 0.0
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            s += v[i] * A[i, j] * v[j]
    for i in range(n):
        s += A[i, i] ** 2
    return s


@program(_a(6, seed=4, lo=0.1, hi=2.0))
def for_else_search(x):
    for i, v in enumerate(x):  # noqa: B007
        if v > 5.0:
            result = v
            break
    else:
        result = x[0] * x[-1]
        i = -1
    return result + i


@program(_a(4, 3, seed=5))
def loop_over_rows_and_enumerate(M):
    best = -1e300
    acc = 0.0
    for i, row in enumerate(M):
        r = float(np.dot(row, row)) * (i + 1)
        acc += r
        if r > best:
            best = r
    return acc + best


@program(1.1, 5)
def while_with_break_and_continue(x, n):
    i = 0
    s = 0.0
    while True:
        i += 1
        if i % 2 == 0:
            continue
        s += x ** i / i
        if i > n:
            break
    return s


@program(0.8)
def nested_loop_early_return_inner_function(x):
    def find(y):
        for i in range(10):
            for j in range(10):
                if i * j > 12:
                    return y * i + j * y * y
        return 0.0

    return find(x) + find(2 * x)


# =======================================================================================
# recursion
# =======================================================================================


def _rpow(x, n):
    if n == 0:
        return 1.0
    half = _rpow(x, n // 2)
    return half * half * (x if n % 2 else 1.0)


@program(1.3, 11)
@program(-0.7, 6)
def recursive_power(x, n):
    return _rpow(x, n)


def _rsum(x, i):
    if i == len(x):
        return 0.0
    return math.sin(x[i]) * (i + 1) + _rsum(x, i + 1)


@program(_a(7, seed=6))
def recursive_array_sum(x):
    return _rsum(x, 0)


def _even(x, n):
    return x if n == 0 else _odd(x * 1.1, n - 1)


def _odd(x, n):
    return -x if n == 0 else _even(math.tanh(x) + x, n - 1)


@program(0.3, 7)
def mutual_recursion(x, n):
    return _even(x, n)


def _chain(x, n):
    if n == 0:
        return x
    return _chain(x + 0.002 * math.sin(x + 0.01 * n), n - 1)


@program(0.5)
def deep_recursion_300(x):
    return _chain(x, 300)


def _tree(x, depth):
    if depth == 0:
        return x
    return _tree(x * 0.9, depth - 1) + _tree(math.cos(x), depth - 1) * 0.5


@program(0.4)
def recursive_tree(x):
    return _tree(x, 5)


# =======================================================================================
# try / except / finally
# =======================================================================================


@program(_a(8, seed=7))
def try_except_per_element(x):
    s = 0.0
    for v in x:
        try:
            s += math.sqrt(v)
        except ValueError:
            s -= v * v
    return s


@program(0.5)
@program(3.0)
def exception_driven_fallback(x):
    def risky(y):
        if y > 1.0:
            raise OverflowError("too big")
        return math.exp(y)

    try:
        r = risky(x)
    except OverflowError:
        r = 1.0 + x * math.e
    return r * x


@program(1.7)
def try_finally_accumulates(x):
    log = []

    def work(y):
        z = y * y
        try:
            return z + 1.0
        finally:
            log.append(z * 0.5)

    r = work(x) + work(x + 1.0)
    return r + sum(log)


@program(0.9)
def zero_division_caught(x):
    out = 0.0
    for d in (1.0, 0.0, 2.0):
        try:
            out += x / d
        except ZeroDivisionError:
            out += x * x
        else:
            out += 0.1 * x
        finally:
            out *= 1.01
    return out


@program(_a(5, seed=8))
def index_error_terminates_loop(x):
    i = 0
    s = 0.0
    try:
        while True:
            s += x[i] * x[i + 1]
            i += 1
    except IndexError:
        pass
    return s


@program(0.6)
def with_block_and_raise(x):
    import contextlib

    @contextlib.contextmanager
    def scaled(v):
        try:
            yield v * 2.0
        finally:
            pass

    with scaled(x) as y:
        z = y * y
    try:
        with scaled(z) as w:
            raise KeyError(w)
    except KeyError as e:
        z = z + e.args[0]
    return z


# =======================================================================================
# closures, nonlocal
# =======================================================================================


@program(0.7)
def closure_nonlocal_accumulator(x):
    total = 0.0

    def add(v):
        nonlocal total
        total += v * x

    for k in range(5):
        add(math.cos(k * x))
    return total


@program(1.2, 0.4, argnums=(0, 1))
def closure_factory(a, b):
    def make(scale):
        def f(t):
            return scale * t * t + b

        return f

    f1, f2 = make(a), make(2.0)
    return f1(b) + f2(a)


@program(_a(5, seed=9))
def closure_over_array(x):
    def weight(i):
        return x[i] * (i + 1)

    def apply():
        return sum(weight(i) ** 2 for i in range(len(x)))

    return apply()


@program(0.35)
def nonlocal_counter_in_nested_loop(x):
    state = x

    def step():
        nonlocal state
        state = state * 0.9 + math.sin(state)
        return state

    acc = 0.0
    for _ in range(3):
        for _ in range(2):
            acc += step()
    return acc


@program(0.5)
def decorator_wrapping(x):
    def twice(fn):
        @functools.wraps(fn)
        def wrapper(v):
            return fn(fn(v))

        return wrapper

    @twice
    def g(v):
        return v * v + 0.25

    return g(x)


# =======================================================================================
# lambdas called from C: map, sorted(key=), functools.reduce, filter, max(key=)
# =======================================================================================


@program(0.8)
def map_lambda_sum(x):
    return sum(map(lambda k: math.sin(k * x) / (k + 1), range(6)))


@program(_a(5, seed=10))
def map_over_array_two_iterables(x):
    w = [0.5, -1.0, 2.0, 0.25, 1.5]
    return sum(map(lambda a, b: a * a * b, x, w))


@program(0.3, 1.4, -0.6, argnums=(0, 1, 2))
def sorted_key_lambda(a, b, c):
    vals = sorted([a, b, c], key=lambda v: -v * v)
    return vals[0] * 3.0 + vals[1] * 2.0 + vals[2]


@program(_a(6, seed=11))
def sorted_array_elements_weighted(x):
    s = sorted(x, key=lambda v: abs(v))
    return sum(v * (i + 1) for i, v in enumerate(s))


@program(_a(4, seed=12, lo=0.5, hi=1.5))
def reduce_lambda_product(x):
    return functools.reduce(lambda acc, v: acc * v + 0.1, x, 1.0)


@program(0.7)
def reduce_without_initial(x):
    return functools.reduce(lambda p, q: p * q - p, [x, x + 1.0, 2.0 * x, 3.0])


@program(_a(7, seed=13))
def filter_lambda(x):
    return sum(filter(lambda v: v > 0.0, x)) + max(x, key=lambda v: v * v)


@program(0.6)
def min_max_with_key(x):
    pts = [(x, 1.0), (2.0 * x, -x), (x * x, 0.5)]
    best = min(pts, key=lambda p: p[0] + p[1])
    worst = max(pts, key=lambda p: p[1])
    return best[0] * best[1] + worst[0]


@program(_a(5, seed=14))
def list_sort_in_place_with_key(x):
    items = [(float(v), i) for i, v in enumerate(x)]
    items.sort(key=lambda t: t[0] * (t[1] - 2))
    return sum(t[0] * k for k, t in enumerate(items))


# =======================================================================================
# functools.partial
# =======================================================================================


def _affine(a, x, b=0.0):
    return a * x + b


@program(0.9, 1.7, argnums=(0, 1))
def partial_user_function(x, y):
    f = functools.partial(_affine, x, b=y)
    g = functools.partial(_affine, b=1.0)
    return f(y) * g(2.0, x)


@program(0.9)
def partial_math_pow(x):
    p = functools.partial(math.pow, x)
    return p(3.0) + functools.partial(math.pow, 2.0)(x)


@program(_a(4, seed=15))
def partial_numpy(x):
    s = functools.partial(np.sum, axis=0)
    return float(s(np.outer(x, x)).dot(x))


# =======================================================================================
# dataclasses (mutating methods), properties, plain classes
# =======================================================================================


@dataclass
class Particle:
    x: float
    v: float
    k: float = 2.0
    history: list = field(default_factory=list)

    def step(self, dt):
        self.v -= self.k * self.x * dt
        self.x += self.v * dt
        self.history.append(self.x)

    def energy(self):
        return 0.5 * self.v ** 2 + 0.5 * self.k * self.x ** 2


@program(1.0, 0.0, argnums=(0, 1))
@program(0.3, -0.8, argnums=(0, 1))
def dataclass_simulation(x0, v0):
    p = Particle(x0, v0)
    for _ in range(20):
        p.step(0.05)
    return p.energy() + sum(p.history) * 0.1


@dataclass
class Layer:
    w: np.ndarray
    b: float

    def forward(self, x):
        return np.tanh(self.w @ x + self.b)

    def decay(self, rate):
        self.w = self.w * (1.0 - rate)
        self.b *= 1.0 - rate


@program(_a(3, 4, seed=16), _a(4, seed=17), argnums=(0, 1))
def dataclass_array_fields(w, x):
    layer = Layer(w, 0.1)
    y = layer.forward(x)
    layer.decay(0.5)
    z = layer.forward(x)
    return float(np.sum(y * y) + np.sum(z))


class Rect:
    def __init__(self, w, h):
        self._w = w
        self.h = h

    @property
    def w(self):
        return self._w

    @w.setter
    def w(self, value):
        self._w = abs(value)

    @property
    def area(self):
        return self.w * self.h

    @property
    def diag(self):
        return math.hypot(self.w, self.h)


@program(1.5, 0.7, argnums=(0, 1))
def properties_get_set(w, h):
    r = Rect(w, h)
    a = r.area
    r.w = -2.0 * r.w
    return a + r.area + r.diag


class Vec2:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __add__(self, o):
        return Vec2(self.x + o.x, self.y + o.y)

    def __mul__(self, k):
        return Vec2(self.x * k, self.y * k)

    __rmul__ = __mul__

    def __abs__(self):
        return math.sqrt(self.x * self.x + self.y * self.y)


@program(0.4, 1.3, argnums=(0, 1))
def operator_overloading_class(a, b):
    p = Vec2(a, b)
    q = 2.0 * p + Vec2(b, -a) * a
    return abs(q) + q.x


class Base:
    def __init__(self, x):
        self.x = x

    def value(self):
        return self.x * self.x


class Derived(Base):
    def __init__(self, x, s):
        super().__init__(x)
        self.s = s

    def value(self):
        return super().value() * self.s + math.sin(self.x)


@program(0.8, 1.5, argnums=(0, 1))
def super_method_chain(x, s):
    return Derived(x, s).value()


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a = a
        self.b = b


@program(0.6)
def slots_attributes(x):
    objs = [Slotted(x * i, x + i) for i in range(1, 4)]
    for o in objs:
        o.a, o.b = o.b, o.a * o.b
    return sum(o.a * o.b for o in objs)


# =======================================================================================
# list / dict accumulation, tuple unpacking
# =======================================================================================


@program(0.5)
def list_accumulation(x):
    terms = []
    for k in range(8):
        terms.append((-1) ** k * x ** (2 * k + 1) / math.factorial(2 * k + 1))
    return sum(terms) + terms[-1] * 1e3


@program(0.3, 0.9, argnums=(0, 1))
def dict_accumulation(x, y):
    d = {}
    d["a"] = x * y
    d["b"] = d["a"] + math.exp(x)
    for key in ("c", "d"):
        d[key] = d.get("b", 0.0) * y
    d.setdefault("e", 0.0)
    d["e"] += x
    return sum(d.values()) + max(d.values())


@program(_a(5, seed=18))
def list_of_arrays_stacked(x):
    rows = []
    for k in range(3):
        rows.append(x * (k + 1) + k)
    m = np.array(rows)
    return float(np.sum(m ** 2) + m[1, 2])


@program(0.7, 1.2, argnums=(0, 1))
def list_of_floats_to_numpy(a, b):
    vals = [a, b, a * b, a - b]
    arr = np.asarray(vals)
    return float(arr @ arr + np.prod(np.array([a, 2.0, b])))


@program(0.4, 1.1)
def tuple_unpacking_swap(a, b):
    for _ in range(5):
        a, b = b, a * 0.5 + b * 0.25
    (p, q), r = (a, b), a * b
    first, *rest = [p, q, r, 1.0]
    return first + sum(rest)


def _polar(x, y):
    return math.hypot(x, y), math.atan2(y, x)


@program(0.6, 0.8, argnums=(0, 1))
def tuple_returned_from_function(x, y):
    r, th = _polar(x, y)
    return r * math.cos(2 * th)


@program(_a(4, seed=19), _a(4, seed=20), argnums=(0, 1))
def zip_and_enumerate_unpacking(x, y):
    s = 0.0
    for i, (a, b) in enumerate(zip(x, y, strict=True)):
        s += (a - b) ** 2 * (i + 1)
    return s


@program(0.3)
def nested_containers(x):
    data = {"layers": [[x, 2 * x], [x * x]], "bias": (x, 1.0)}
    total = 0.0
    for layer in data["layers"]:
        for w in layer:
            total += w * data["bias"][0]
    return total + data["bias"][1]


# =======================================================================================
# generator expressions to sum / max / min; generator functions
# =======================================================================================


@program(1.3)
def genexpr_sum_exp_series(x):
    return sum(x ** k / math.factorial(k) for k in range(15))


@program(_a(6, seed=21))
def genexpr_max_min(x):
    return max(v * v for v in x) - min(math.sin(v) for v in x) + sum(v for v in x if v > 0)


def _terms(x, n):
    t = x
    for k in range(n):
        yield t
        t = -t * x * x / ((2 * k + 2) * (2 * k + 3))


@program(0.9)
def generator_function_terms(x):
    return sum(_terms(x, 10))


@program(0.5)
def generator_send(x):
    def averager():
        total, count = 0.0, 0
        avg = None
        while True:
            v = yield avg
            total += v
            count += 1
            avg = total / count

    g = averager()
    next(g)
    out = 0.0
    for k in range(1, 5):
        out = g.send(x ** k)
    return out


@program(0.7)
def yield_from_chain(x):
    def inner(v):
        yield v
        yield v * v

    def outer(v):
        yield from inner(v)
        yield from inner(v + 1.0)

    return sum(outer(x)) * max(outer(x))


# =======================================================================================
# math functions and builtins
# =======================================================================================


@program(0.7)
@program(2.3)
def math_module_mix(x):
    return (math.sin(x) * math.cos(x) + math.tan(x / 3) + math.exp(-x) + math.log(x)
            + math.log1p(x) + math.expm1(x / 2) + math.sqrt(x) + math.atan(x) + math.tanh(x)
            + math.sinh(x / 2) + math.cosh(x / 3) + math.log10(x) + math.log2(x)
            + math.asin(x / 4) + math.acos(x / 5) + math.erf(x))


@program(0.6, 1.7, argnums=(0, 1))
def math_two_argument(x, y):
    return (math.hypot(x, y) + math.atan2(y, x) + math.pow(x, y) + x ** y + math.log(y, 3)
            + math.fmod(y, 1.0) * x + math.copysign(x, -1.0) * y)


@program(-0.8, 1.3, argnums=(0, 1))
@program(0.4, 0.2, argnums=(0, 1))
def builtins_abs_min_max_pow(x, y):
    return (abs(x) * y + min(x, y) ** 2 + max(x, y, 0.3) + pow(y, 3) + pow(abs(x), y)
            + min([x * y, x + y]) + abs(x - 2 * y))


@program(_a(5, seed=22))
def builtin_sum_and_float(x):
    s = sum(x)
    t = float(np.sum(x * x))
    u = float(x[2])
    return s * t + u + sum([float(v) for v in x], 1.0)


@program(np.float64(0.7))
def float_of_numpy_scalar(x):
    y = float(x) * 2.0
    return y + float(np.sin(x))


@program(1.25)
def round_floor_cut_derivative(x):
    k = math.floor(x * 3)
    return x * k + round(x, 0) * x


@program(0.45)
def conditional_expression_chain(x):
    y = x * 2 if x < 0.5 else x * 3
    z = math.exp(y) if y > 0.8 else y
    return (z if z > 1 else -z) + (x and 1.0)


# =======================================================================================
# element and slice assignment into pre-allocated arrays
# =======================================================================================


@program(_a(6, seed=23))
def preallocated_elementwise(x):
    out = np.zeros(len(x))
    for i in range(len(x)):
        out[i] = math.sin(x[i]) * (i + 1)
    return float(np.sum(out * out))


@program(_a(6, seed=24))
def preallocated_recurrence(x):
    y = np.empty_like(x)
    y[0] = x[0]
    for i in range(1, len(x)):
        y[i] = 0.5 * y[i - 1] + x[i] ** 2
    return float(y[-1] + y.sum())


@program(_a(5, seed=25))
def slice_assignment_blocks(x):
    out = np.zeros(10)
    out[:5] = x
    out[5:] = x[::-1] * 2.0
    out[2:4] = out[6:8] * out[0]
    return float(out @ np.arange(10.0))


@program(_a(3, seed=26), _a(3, seed=27), argnums=(0, 1))
def row_and_column_assignment(a, b):
    m = np.zeros((3, 3))
    for i in range(3):
        m[i, :] = a * (i + 1)
    m[:, 1] = b
    m[2, 2] = a[0] * b[0]
    return float(np.sum(m * m) + np.trace(m))


@program(_a(6, seed=28))
def fancy_and_mask_assignment(x):
    out = np.zeros(6)
    out[[0, 2, 4]] = x[:3]
    mask = x > 0
    out[mask] = out[mask] + x[mask] ** 2
    return float(np.sum(out * np.arange(1.0, 7.0)))


@program(_a(4, seed=29))
def overwrite_then_read(x):
    buf = np.ones(4)
    buf[:] = x
    s1 = float(buf @ buf)
    buf[1] = 3.0
    buf[2] = buf[0] * buf[3]
    return s1 + float(np.sum(buf))


@program(_a(8, seed=30))
def scatter_into_2d_in_loop(x):
    grid = np.zeros((4, 4))
    for k, v in enumerate(x):
        i, j = divmod(k, 2)
        grid[i, j + 1] = v * v
        grid[i, 0] += v
    return float(np.sum(np.sin(grid)))


# =======================================================================================
# augmented assignment on slices
# =======================================================================================


@program(_a(12, seed=31))
def stencil_augmented_slices(u):
    u = u.copy()
    for _ in range(4):
        lap = u[:-2] - 2 * u[1:-1] + u[2:]
        u[1:-1] += 0.2 * lap
    return float(np.sum(u ** 2))


@program(_a(6, seed=32), 1.5, argnums=(0, 1))
def augmented_strided_and_index(x, s):
    y = x.copy()
    y[::2] *= s
    y[1::2] -= s * 0.5
    y[0] /= s
    y[-1] **= 2
    return float(np.sum(y * y))


@program(_a(3, 4, seed=33))
def augmented_column_normalize(m):
    m = m.copy()
    for j in range(m.shape[1]):
        m[:, j] /= math.sqrt(float(np.sum(m[:, j] ** 2)))
    m[0] += m[1]
    return float(np.sum(m * np.arange(12.0).reshape(3, 4)))


@program(_a(5, seed=34))
def augmented_python_list_elements(x):
    acc = [0.0] * 3
    for i, v in enumerate(x):
        acc[i % 3] += v * v
        acc[(i + 1) % 3] *= 1.0 + v * 0.1
    return acc[0] + 2 * acc[1] + 3 * acc[2]


# =======================================================================================
# writes through views (reshape, slices, transpose, ravel)
# =======================================================================================


@program(_a(12, seed=35))
def writes_through_reshape_view(x):
    buf = x.copy()
    m = buf.reshape(3, 4)
    m[1, :] = m[0, :] * m[2, :]
    m[:, 0] *= 2.0
    return float(np.sum(buf ** 2) + buf[5])


@program(_a(8, seed=36))
def writes_through_slice_view(x):
    buf = np.zeros(8)
    v = buf[2:6]
    v[:] = x[:4] ** 2
    v[0] += x[7]
    w = buf[::2]
    w *= 3.0
    return float(buf @ x)


@program(_a(3, 3, seed=37))
def writes_through_transpose_view(a):
    b = a.copy()
    t = b.T
    t[0, :] = np.sin(t[1, :])
    return float(np.sum(b * a))


@program(_a(2, 3, seed=38))
def view_read_after_base_write(x):
    buf = x.copy()
    flat = buf.ravel()
    row = buf[1]
    buf[1, 1] = buf[0, 0] * 5.0
    flat[0] = row[1] + 1.0
    return float(np.sum(flat * flat) + row.sum())


# =======================================================================================
# functions that mutate their own input (gradient w.r.t. the value at call time)
# =======================================================================================


@program(_a(5, seed=39))
def mutates_input_inplace_ops(x):
    x *= 2.0
    x[0] = x[1] ** 2
    x += np.sin(x)
    return float(np.sum(x * x))


@program(_a(6, seed=40))
def mutates_input_slice_and_sort(x):
    x[:3] = x[3:] * x[:3]
    x.sort()
    return float(x[0] * 2.0 + x[-1] * 3.0 + np.sum(x))


@program(_a(4, seed=41))
def mutates_input_via_out_argument(x):
    np.exp(x, out=x)
    np.multiply(x, x, out=x)
    np.cumsum(x, out=x)
    return float(x[-1] + x[1])


@program(_a(5, seed=42))
def mutates_input_then_reads_old_alias(x):
    orig = x.copy()
    x[:] = x[::-1]
    x -= orig * 0.5
    return float(np.dot(x, orig) + np.sum(x ** 3))


@program(_a(3, seed=43), _a(3, seed=44), argnums=(0, 1))
def mutates_two_inputs(a, b):
    a += b
    b *= a
    a[1] = b[2]
    return float(np.sum(a * b))


# =======================================================================================
# argnums tuples, mixed scalar and array arguments, numpy scalar inputs
# =======================================================================================


@program(0.5, _a(4, seed=45), 2.0, argnums=(0, 1, 2))
@program(0.5, _a(4, seed=45), 2.0, argnums=(2, 0))
@program(0.5, _a(4, seed=45), 2.0, argnums=(1,))
def mixed_scalar_array_args(s, v, t):
    return float(np.sum(np.tanh(s * v + t)) * t + s * s)


@program(1.5, 3, _a(3, seed=46), argnums=(0, 2))
def int_argument_not_differentiated(x, n, w):
    total = 0.0
    for k in range(n):
        total += x ** k * w[k % 3]
    return total


@program(np.float64(0.8))
@program(np.float64(-1.4))
def numpy_scalar_input(x):
    return np.sin(x) * np.exp(x) + x ** 3 + math.cos(x)


@program(np.float64(0.8), np.float64(1.2), argnums=(0, 1))
def numpy_scalars_mixed_with_floats(x, y):
    z = x * 2.0 + y
    arr = np.array([x, y, z])
    return float(np.sum(arr ** 2)) + math.sqrt(y)


@program(_a(4, seed=47))
def numpy_scalar_elements_from_array(x):
    s = x[0]
    for v in x[1:]:
        s = s * v + np.cos(v)
    return s


# =======================================================================================
# array programs (nested, mixed)
# =======================================================================================


@program(_a(4, 4, seed=48), _a(4, seed=49), argnums=(0, 1))
def small_mlp(w, x):
    h = np.tanh(w @ x)
    h2 = np.maximum(h, 0.05 * h)
    return float(np.sum(h2 ** 2) + np.log(np.sum(np.exp(h))))


@program(_a(5, seed=50, lo=0.5, hi=2.0))
def reductions_and_broadcasting(x):
    m = x[:, None] * x[None, :] + np.eye(5)
    return float(np.mean(m) + np.max(m) * np.min(x) + np.prod(x) + np.linalg.norm(m))


@program(_a(3, 3, seed=51))
def linear_solve(a):
    m = a @ a.T + 3.0 * np.eye(3)
    sol = np.linalg.solve(m, np.ones(3))
    return float(sol @ sol + np.linalg.det(m))


@program(_a(6, seed=52))
def where_and_clip(x):
    y = np.where(x > 0, x ** 2, np.sin(x))
    z = np.clip(x, -0.5, 0.5)
    return float(np.sum(y * z) + np.abs(x).sum())


@program(_a(20, seed=53, lo=0.0, hi=1.0))
def python_loop_over_numpy_time_series(x):
    level, trend = x[0], 0.0
    err = 0.0
    for t in range(1, len(x)):
        pred = level + trend
        err += (x[t] - pred) ** 2
        new_level = 0.3 * x[t] + 0.7 * pred
        trend = 0.2 * (new_level - level) + 0.8 * trend
        level = new_level
    return err


# =======================================================================================
# nested combinations (several features in one program)
# =======================================================================================


@program(_a(4, 3, seed=54))
def map_lambda_over_array_rows(m):
    norms = list(map(lambda row: math.sqrt(float(row @ row)), m))
    ranked = sorted(range(len(norms)), key=lambda i: norms[i])
    return sum(norms[i] * (k + 1) for k, i in enumerate(ranked))


@program(_a(3, 2, seed=55))
def reduce_over_arrays(m):
    acc = functools.reduce(lambda a, b: a * b + np.sin(a), list(m))
    return float(np.sum(acc ** 2))


def _fill(out, x, scale):
    for i in range(len(x)):
        out[i] = scale * x[i] ** 2


@program(_a(5, seed=56), 0.7, argnums=(0, 1))
def partial_that_writes_into_buffer(x, s):
    out = np.zeros(5)
    fill = functools.partial(_fill, out, scale=s)
    fill(x)
    fill(x[::-1][:3])
    return float(out @ out)


@dataclass
class Grid:
    u: np.ndarray
    dt: float = 0.1
    steps: int = 0

    def smooth(self):
        self.u[1:-1] += self.dt * (self.u[:-2] - 2 * self.u[1:-1] + self.u[2:])
        self.steps += 1

    @property
    def energy(self):
        return float(np.sum(self.u ** 2)) / self.steps


@program(_a(9, seed=57))
def dataclass_with_array_property_and_slices(x):
    g = Grid(x.copy())
    for _ in range(3):
        g.smooth()
    return g.energy


@program(_a(6, seed=58), 0.4, argnums=(0, 1))
def generator_over_array_views(x, s):
    def windows(a, w):
        for i in range(len(a) - w + 1):
            yield a[i:i + w]

    return max(float(np.sum(v * v)) for v in windows(x, 3)) + s * sum(
        float(v[0] * v[-1]) for v in windows(x, 2))


@program(_a(8, seed=59))
def while_over_array_with_try_and_early_return(x):
    i, s = 0, 0.0
    while True:
        try:
            v = x[i]
        except IndexError:
            return s
        if v > 0.9:
            return s * v
        s += v * math.exp(-i * 0.1)
        i += 1


def _rec_array(x, depth):
    if depth == 0 or x.size == 1:
        return float(np.sum(np.tanh(x)))
    mid = x.size // 2
    return _rec_array(x[:mid] * 1.1, depth - 1) + _rec_array(x[mid:] ** 2, depth - 1)


@program(_a(8, seed=60))
def recursion_on_array_halves(x):
    return _rec_array(x, 3)


@program(_a(5, seed=61))
def builtins_on_arrays(x):
    return float(np.sum(abs(x) * pow(x, 2)) + sum(x) + max(x) * min(x[0], x[1])
                 + sum(abs(v) for v in x))


@program(_a(4, seed=62), _a(4, seed=63), argnums=(0, 1))
def closure_accumulates_into_array(x, y):
    out = np.zeros(4)

    def add(i, v):
        nonlocal out
        out[i] += v
        if i == 3:
            out = out * 1.5

    for i in range(4):
        add(i, x[i] * y[3 - i])
        add((i + 1) % 4, math.sin(float(x[i])))
    return float(np.sum(out ** 2))


@program(0.7, _a(3, seed=64), argnums=(0, 1))
def dict_of_arrays_and_scalars(a, v):
    state = {"v": v.copy(), "a": a, "hist": []}
    for k in range(3):
        state["v"][k] *= state["a"]
        state["a"] = state["a"] * 0.5 + float(state["v"].sum())
        state["hist"].append(state["v"].copy())
    return state["a"] + float(np.sum(np.stack(state["hist"]) ** 2))


class Model:
    def __init__(self, w):
        self.w = w
        self._cache = {}

    @property
    def norm(self):
        if "norm" not in self._cache:
            self._cache["norm"] = float(np.sqrt(np.sum(self.w ** 2)))
        return self._cache["norm"]

    def __call__(self, x):
        return float(np.tanh(self.w @ x)) / self.norm


@program(_a(3, seed=65), _a(3, seed=66), argnums=(0, 1))
def callable_object_with_cached_property(w, x):
    m = Model(w)
    return m(x) + m(x * 2.0) + m.norm


@program(_a(6, seed=67))
def list_comprehension_of_numpy_scalars_to_array(x):
    vals = [v * v if v > 0 else -v for v in x]
    arr = np.array(vals)
    arr[arr > 0.5] = 0.5 * arr[arr > 0.5]
    return float(arr @ np.arange(6.0))


PROGRAM_IDS = [p[0] for p in PROGRAMS]


@pytest.mark.parametrize("pid,fn,args,argnums,rtol", PROGRAMS, ids=PROGRAM_IDS)
def test_gradient_matches_finite_differences(pid, fn, args, argnums, rtol):
    assert_grad_matches_fd(fn, *args, argnums=argnums, rtol=rtol)


def test_enough_programs():
    assert len(PROGRAMS) >= 100


# =======================================================================================
# caller's data, output types, error messages, repeated calls
# =======================================================================================


def _mutating(x):
    x *= 3.0
    x[0] = 7.0
    return float(np.sum(x))


def test_caller_array_untouched_by_grad_of_mutating_function():
    eng = get_engine()
    x = _a(4, seed=60)
    before = x.copy()
    g = eng.grad(_mutating)(x)
    assert np.array_equal(x, before), "grad modified the caller's array"
    np.testing.assert_allclose(g, [0.0, 3.0, 3.0, 3.0], rtol=1e-6)
    v, g2 = eng.value_and_grad(_mutating)(x)
    assert np.array_equal(x, before), "value_and_grad modified the caller's array"
    assert v == _mutating(x.copy())


def test_caller_view_and_base_untouched():
    eng = get_engine()
    base = _a(10, seed=61)
    view = base[2:8]
    before = base.copy()

    def f(v):
        v[1:3] = v[0]
        v += 1.0
        return float(np.sum(v * v))

    g = eng.grad(f)(view)
    assert np.array_equal(base, before), "grad wrote into the caller's buffer through a view"
    assert g.shape == view.shape


def test_caller_arrays_inside_argument_tuple_untouched():
    eng = get_engine()
    x, y = _a(3, seed=62), _a(3, seed=63)
    snap = snapshot((x, y))

    def f(a, b):
        a[0] = b[1]
        b += a
        return float(np.sum(a * b))

    eng.grad(f, argnums=(0, 1))(x, y)
    eng.value_and_grad(f, argnums=1)(x, y)
    assert np.array_equal(x, snap[0]) and np.array_equal(y, snap[1])


@pytest.mark.parametrize("x", [0.7, np.float64(0.7), np.array([0.7, 0.2]),
                               np.array([[0.1, 0.2], [0.3, 0.4]])],
                         ids=["float", "np.float64", "1d", "2d"])
def test_gradient_has_input_type_and_shape(x):
    eng = get_engine()

    def f(v):
        return np.sum(np.sin(v) * v) if isinstance(v, np.ndarray) else math.sin(v) * v

    g = eng.grad(f)(x)
    if isinstance(x, np.ndarray):
        assert type(g) is np.ndarray and g.shape == x.shape and g.dtype == np.float64
    else:
        assert type(g) is type(x), f"gradient type {type(g).__name__} for {type(x).__name__}"
    np.testing.assert_allclose(g, np.sin(x) + x * np.cos(x), rtol=1e-8)


def test_argnums_tuple_returns_tuple():
    eng = get_engine()

    def f(a, b, c):
        return a * b * c[0]

    g = eng.grad(f, argnums=(0, 2))(2.0, 3.0, np.array([4.0, 5.0]))
    assert isinstance(g, tuple) and len(g) == 2
    assert g[0] == pytest.approx(12.0)
    np.testing.assert_allclose(g[1], [6.0, 0.0])
    v, gv = eng.value_and_grad(f, argnums=(1,))(2.0, 3.0, np.array([4.0, 5.0]))
    assert v == 24.0 and isinstance(gv, tuple) and gv[0] == pytest.approx(8.0)


def test_repeated_calls_and_different_points():
    eng = get_engine()
    df = eng.grad(horner_loop)
    for x in (0.1, 0.5, -1.3, 0.1):
        ref = eng.grad(horner_loop)(x, 6)
        assert df(x, 6) == ref
        assert_grad_matches_fd(horner_loop, x, 6)


def test_float_constants_not_confused_with_input():
    """Inputs are re-boxed: a constant equal to the input value is not the input."""
    eng = get_engine()

    def f(x):
        c = 1.0
        return x * c + c * c

    assert eng.grad(f)(1.0) == pytest.approx(1.0, rel=1e-9)
    assert eng.grad(lambda x: x * 2.5 + 2.5)(2.5) == pytest.approx(2.5, rel=1e-9)


def test_non_scalar_output_raises_clear_error():
    eng = get_engine()
    with pytest.raises((TypeError, ValueError), match=r"(?i)scalar"):
        eng.grad(lambda x: x * 2.0)(np.ones(3))
    with pytest.raises((TypeError, ValueError), match=r"(?i)scalar"):
        eng.grad(lambda x: [x, x])(1.0)
    with pytest.raises((TypeError, ValueError), match=r"(?i)scalar"):
        eng.value_and_grad(lambda x: np.stack([x, x]))(np.ones(2))


def test_integer_input_raises_clear_error():
    eng = get_engine()
    pattern = r"(?i)(integer|int\b|float|inexact|differentiab)"
    with pytest.raises((TypeError, ValueError), match=pattern):
        eng.grad(lambda x: x * 2.0)(3)
    with pytest.raises((TypeError, ValueError), match=pattern):
        eng.grad(lambda x: float(np.sum(x * 2.0)))(np.array([1, 2, 3]))
    with pytest.raises((TypeError, ValueError), match=pattern):
        eng.grad(lambda x, y: x * y, argnums=1)(2.0, 3)


def test_user_exception_propagates_unchanged():
    eng = get_engine()

    def f(x):
        if x > 0:
            raise ValueError("user error 42")
        return x

    with pytest.raises(ValueError, match="user error 42"):
        eng.grad(f)(1.0)


# =======================================================================================
# the IR printer and the generated reverse pass
# =======================================================================================


def _traced_program(x, y):
    a = math.sin(x) * y
    b = np.exp(a)
    return b + x * x


def test_trace_shows_ops_and_source_lines():
    eng = get_engine()
    if eng.trace is None:
        pytest.skip("the fake engine has no IR")
    graph = eng.trace(_traced_program, 0.3, 1.2)
    text = str(graph)
    first = _traced_program.__code__.co_firstlineno
    assert "sin" in text and "exp" in text
    assert f"test_grad_categories.py:{first + 1}" in text
    assert "math.sin(x) * y" in text
    src = graph.backward_source()
    assert isinstance(src, str) and f"test_grad_categories.py:{first + 2}" in src
    # the graph's inputs are independent of how many times it is printed
    assert str(graph) == text


def test_fresh_copies_helper():
    x = np.ones(2)
    (y,) = fresh((x,))
    y[0] = 5.0
    assert x[0] == 1.0
