# ruff: noqa: B905, UP031, UP032, UP033 - legacy code: zip() without strict=, % formats, lru_cache
"""A seventh set of legacy programs, written adversarially for corners programs_classics1..6
reach least: class-heavy code (functools.cached_property over traced state, __slots__ with
properties, dataclass __post_init__ normalising arrays in place, __iadd__ / __imul__ on user
classes holding arrays, super() chains, __getattr__ proxies over ndarrays, __array_ufunc__ /
__array_function__ containers, ndarray subclasses carrying attributes through
__array_finalize__, ndarray op user-object with __array_ufunc__ = None and object loops);
closures with nonlocal accumulators, generators feeding sum / max / sorted(key=), lru_cache and
dict memos keyed by rounded traced values; itertools (accumulate with a function, pairwise,
product, tee, zip_longest with a traced fill); aliasing (a.T, ravel / flatten / reshape views
written through, views of views, memoryview writes, np.shares_memory branches, broadcast_to
and sliding_window_view reads); fancy writes (repeated-index += against np.add.at, np.put,
np.place, np.copyto(where=), put_along_axis), select / piecewise, out= / where= on ufuncs,
ufunc methods (reduceat, outer, accumulate of maximum / logaddexp); dtype games (float32
accumulation, longdouble, the bit-level fast inverse square root through an int64 view,
frexp / ldexp / modf, struct and tobytes round trips, complex intermediates, real_if_close);
exceptions and warnings as control flow; global state; and textbook algorithms (Clenshaw,
Welford, RKF45 with step control, adaptive Simpson, Gauss-Legendre, Jacobi eigenvalues,
LU with partial pivoting, Cholesky and a natural spline by hand, a radix-2 FFT on complex
lists, Kalman filtering, Black-Scholes greeks, a trinomial tree, logistic regression steps,
stable softmax); then programs whose control flow depends on data for the cached replays."""

import bisect
import cmath
import collections
import contextlib
import copy
import dataclasses
import functools
import itertools
import math
import operator
import statistics
import struct
import warnings

import numpy as np
from registry import case, matrix, on_list, scalar, vector

# ================================================================ class-heavy code


class _Pendulum:
    """A cached_property computed from traced state: the cache outlives later state writes."""

    def __init__(self, length, g=9.81):
        self.length = length
        self.g = g

    @functools.cached_property
    def omega(self):
        return math.sqrt(self.g / self.length)

    def energy(self, theta):
        return 0.5 * self.length ** 2 * self.omega ** 2 * theta ** 2


@case(vector(3, 0.5, 2.0))
def cached_property_pendulum(x):
    """functools.cached_property from the length; the length is changed afterwards (the
    cached omega is stale, natively too) and the energy read again."""
    p = _Pendulum(x[0])
    e1 = p.energy(x[1])
    p.length = x[2]
    return float(e1 + p.energy(x[1] * x[2]))


class _Body:
    __slots__ = ("m", "_v")

    def __init__(self, m, v):
        self.m = m
        self._v = v

    @property
    def v(self):
        return self._v

    @v.setter
    def v(self, value):
        self._v = min(max(value, -10.0), 10.0)

    @property
    def kinetic(self):
        return 0.5 * self.m * self._v * self._v


@case(vector(4, 0.2, 2.0))
def slots_property_setter_clamp(x):
    """__slots__ bodies whose velocity setter clamps (max/min of traced floats) and whose
    kinetic energy is a property; two bodies exchange momentum."""
    a, b = _Body(x[0], x[1]), _Body(x[2], -x[3])
    p = a.m * a.v + b.m * b.v
    vc = p / (a.m + b.m)
    a.v, b.v = 2 * vc - a.v, 2 * vc - b.v
    return a.kinetic + b.kinetic + p * a.v


@dataclasses.dataclass
class _Portfolio:
    weights: np.ndarray
    returns: np.ndarray
    total: float = dataclasses.field(init=False)

    def __post_init__(self):
        self.weights /= self.weights.sum()  # normalised in place: the caller's array too
        self.total = float(self.weights @ self.returns)


@case(vector(8, 0.1, 1.0))
def dataclass_post_init_inplace(x):
    """A dataclass whose __post_init__ divides the caller's weight array in place; the caller
    reads the (now normalised) array afterwards."""
    w = x[:4].copy()
    pf = _Portfolio(w, x[4:] - 0.5)
    return pf.total + float(w @ np.arange(1.0, 5.0)) + float(pf.weights[0] ** 2)


class _Accumulator:
    def __init__(self, n):
        self.buf = np.zeros(n)
        self.count = 0

    def __iadd__(self, v):
        self.buf += v
        self.count += 1
        return self

    def __imul__(self, s):
        return _ScaledAccumulator(self, s)

    def mean(self):
        return self.buf / self.count


class _ScaledAccumulator(_Accumulator):
    def __init__(self, base, s):
        super().__init__(len(base.buf))
        self.buf = base.buf * s
        self.count = base.count


@case(vector(6, -1.0, 1.0))
def user_iadd_imul_array_holder(x):
    """acc += v mutates the held array in place and returns self; acc *= s returns a new
    object of a subclass (super().__init__ then an attribute write)."""
    acc = _Accumulator(3)
    for row in x.reshape(2, 3):
        acc += np.sin(row)
    acc += x[:3] * x[3:]
    acc *= x[0] + 2.0
    return float(acc.mean() @ [1.0, -2.0, 3.0])


class _Layer:
    def __init__(self, w):
        self.w = w

    def forward(self, h):
        return self.w * h


class _Tanh(_Layer):
    def forward(self, h):
        return np.tanh(super().forward(h))


class _Residual(_Tanh):
    def forward(self, h):
        return h + super().forward(h)


@case(vector(4, -1.0, 1.0))
def super_chain_layers(x):
    """Three-level inheritance, each forward() calling super().forward()."""
    layers = [_Residual(x[0]), _Tanh(x[1]), _Layer(x[2]), _Residual(-x[1])]
    h = x[3]
    for layer in layers:
        h = layer.forward(h)
    return float(h)


class _Model:
    _cache: dict = {}

    def __init__(self, k):
        self.k = k

    def basis(self, t):
        key = round(t, 3)
        if key not in _Model._cache:
            _Model._cache[key] = math.exp(-self.k * t)
        return _Model._cache[key]


@case(vector(4, 0.0, 1.0))
def class_level_rounded_cache(x):
    """A class-level cache keyed by round(t, 3), cleared per call: repeated evaluations at
    nearby points reuse the first one's value (natively so)."""
    _Model._cache.clear()
    m = _Model(x[0] + 0.5)
    ts = [x[1], x[1] + 1e-6, x[2], x[3], x[2]]
    return sum(m.basis(t) * (i + 1) for i, t in enumerate(ts))


class _Proxy:
    """Forwards every attribute to the wrapped array (legacy wrapper classes)."""

    def __init__(self, arr):
        self._arr = arr

    def __getattr__(self, name):
        return getattr(self._arr, name)

    def __len__(self):
        return len(self._arr)


@case(vector(5, -1.0, 1.0))
def getattr_proxy_ndarray(x):
    """A __getattr__ proxy: p.sum(), p.dot(p._arr), p.cumsum(), p.max(), p.T."""
    p = _Proxy(np.exp(x))
    return float(p.sum() + p.dot(x) + p.cumsum()[-2] * p.max() + p.T[0] / len(p))


class _Tagged:
    """A container implementing __array_ufunc__: unwraps, computes, rewraps."""

    def __init__(self, a, unit="m"):
        self.a = np.asarray(a)
        self.unit = unit

    def __array_ufunc__(self, ufunc, method, *inputs, **kw):
        raw = [i.a if isinstance(i, _Tagged) else i for i in inputs]
        return _Tagged(getattr(ufunc, method)(*raw, **kw), self.unit)

    def __mul__(self, other):
        return np.multiply(self, other)

    def __add__(self, other):
        return np.add(self, other)


@case(vector(5, -1.0, 1.0))
def array_ufunc_container(x):
    """np.sin(t), t * t, np.add.reduce(t) dispatched to __array_ufunc__ of a user container."""
    t = _Tagged(x)
    u = np.sin(t) * t + np.exp(t)
    v = np.add.reduce(u * u)
    return float(v.a)


class _Lazy:
    """A container implementing __array_function__ for a few NumPy functions."""

    def __init__(self, a):
        self.a = a

    def __array_function__(self, func, types, args, kwargs):
        def raw(a):
            if isinstance(a, (list, tuple)):
                return type(a)(raw(b) for b in a)
            return a.a if isinstance(a, _Lazy) else a

        return func(*[raw(a) for a in args], **kwargs)


@case(vector(5, 0.1, 2.0))
def array_function_container(x):
    """np.mean / np.std / np.dot / np.concatenate on a user class with __array_function__."""
    c = _Lazy(np.log(x))
    return float(np.mean(c) + np.std(c) + np.dot(c, x) + np.concatenate([c, c])[3])


class _Scaled(np.ndarray):
    """An ndarray subclass carrying a scale through __array_finalize__."""

    def __new__(cls, arr, scale=1.0):
        obj = np.asarray(arr).view(cls)
        obj.scale = scale
        return obj

    def __array_finalize__(self, obj):
        self.scale = getattr(obj, "scale", 1.0)

    def physical(self):
        return np.asarray(self) * self.scale


@case(vector(5, -1.0, 1.0))
def ndarray_subclass_finalize_scale(x):
    """The scale (traced) travels through slicing and ufuncs by __array_finalize__."""
    a = _Scaled(x * 2.0, scale=x[0] ** 2 + 1.0)
    b = np.sin(a[1:])
    return float(b.physical().sum() + (a * a).physical()[0] + b.scale)


class _Meters:
    __array_ufunc__ = None  # ndarray op _Meters -> _Meters.__rop__

    def __init__(self, v):
        self.v = v

    def __rmul__(self, other):
        return _Meters(other * self.v)

    def __radd__(self, other):
        return _Meters(other + self.v)


@case(vector(4, -1.0, 1.0))
def array_ufunc_none_reflected(x):
    """ndarray * user object with __array_ufunc__ = None: NumPy defers to __rmul__ with the
    (traced) array itself."""
    m = _Meters(x[0] + 2.0)
    r = x * m
    s = np.exp(x) + r
    return float(s.v @ x)


class _Money:
    def __init__(self, amount):
        self.amount = amount

    def __rmul__(self, k):
        return _Money(k * self.amount)

    def __add__(self, other):
        return _Money(self.amount + (other.amount if isinstance(other, _Money) else other))

    __radd__ = __add__


@case(vector(4, -1.0, 1.0))
def ndarray_times_plain_object(x):
    """ndarray * a plain user object (no __array_ufunc__): NumPy builds an object array and
    calls __rmul__ per element; sum() of the resulting object array."""
    m = _Money(x[0] + 2.0)
    prices = np.exp(x) * m
    total = sum(prices, _Money(0.0))
    return float(total.amount)


# ================================================================ closures, generators, memos


def _make_integrator(dt):
    t, s = 0.0, 0.0

    def step(v):
        nonlocal t, s
        s += v * dt
        t += dt
        return s / t

    return step


@case(vector(6, -1.0, 1.0))
def closure_nonlocal_integrator(x):
    """A closure with nonlocal accumulators (the step size traced too)."""
    step = _make_integrator(0.1 + x[0] ** 2)
    out = 0.0
    for v in x[1:]:
        out = step(math.sin(v)) + 0.5 * out
    return out


@case(vector(7, -2.0, 2.0))
def generator_sum_max_sorted_key(x):
    """Generator expressions feeding sum, max(key=), sorted(key=) and min with a default."""
    xs = list(x)
    total = sum(v * v for v in xs if v > -1.5)
    best = max(xs, key=lambda v: -(v - 0.3) ** 2)
    top = sorted(xs, key=abs, reverse=True)[:3]
    low = min((v for v in xs if v > 5.0), default=xs[0] * 2.0)
    return total + best * 3.0 + sum(t * (i + 1) for i, t in enumerate(top)) + low


@case(vector(5, -1.0, 1.0))
def lru_cache_inner_rounded(x):
    """functools.lru_cache on an inner function keyed by round(t, 4) while the body computes
    from the unrounded value held in a closure (a cache shared by nearby arguments)."""
    exact = {}

    @functools.lru_cache(maxsize=None)
    def expensive(key):
        t = exact[key]
        return math.exp(t) * math.cos(3.0 * t)

    total = 0.0
    for v in list(x) + [x[0], x[2] + 1e-7]:
        k = round(v, 4)
        exact.setdefault(k, v)
        total += expensive(k)
    return total


@case(vector(6, 0.0, 3.0))
def dict_memo_recursion(x):
    """A recursive function with a dict memo keyed by (n, int(bucket)): a Fibonacci-like
    recurrence whose coefficients are traced."""
    memo = {}

    def f(n):
        if n < 2:
            return x[n]
        key = (n, int(x[n % 6]))
        if key not in memo:
            memo[key] = 0.5 * f(n - 1) + 0.3 * math.tanh(f(n - 2)) + 0.01 * x[n % 6]
        return memo[key]

    return f(12)


@case(vector(6, -1.0, 1.0))
def functools_reduce_horner(x):
    """Horner's rule through functools.reduce over the coefficient list, and a product
    through reduce(operator.mul)."""
    t = x[0]
    p = functools.reduce(lambda acc, c: acc * t + c, list(x[1:]), 0.0)
    q = functools.reduce(operator.mul, [1.0 + v * v for v in x], 1.0)
    return p + math.log(q)


@case(vector(7, 0.1, 2.0))
def itertools_accumulate_pairwise(x):
    """accumulate with operator.mul and with max, then pairwise segment lengths (3.10+),
    and accumulate(initial=)."""
    prods = list(itertools.accumulate(x, operator.mul))
    runmax = list(itertools.accumulate(x * np.linspace(1.0, 0.5, 7), max))
    segs = [math.hypot(b - a, 1.0) for a, b in itertools.pairwise(prods)]
    shifted = list(itertools.accumulate(x, initial=x[0]))
    return sum(segs) + sum(runmax) + shifted[-1] * shifted[1]


@case(vector(6, -1.0, 1.0))
def tee_of_generator_diffs(x):
    """tee of a generator of traced values, islice windows and chain of the pieces."""
    gen = (math.sin(v) * 2.0 for v in x)
    a, b = itertools.tee(gen)
    next(b)
    diffs = [q - p for p, q in zip(a, b)]
    head = list(itertools.islice(itertools.chain(diffs, x), 2, 9, 2))
    return sum(h * h for h in head) + diffs[-1]


@case(vector(4, -1.0, 1.0))
def itertools_product_kernel(x):
    """A Gaussian kernel summed over itertools.product of the points with themselves and
    starmap of a distance function."""
    pts = list(zip(x[:2], x[2:]))
    k = sum(math.exp(-((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2))
            for a, b in itertools.product(pts, repeat=2))
    d = sum(itertools.starmap(math.dist, itertools.combinations(pts + [(0.5, 0.5)], 2)))
    return k + d


@case(vector(5, -1.0, 1.0))
def zip_longest_traced_fill(x):
    """zip_longest whose fillvalue is a traced float (the mean of the longer list)."""
    a, b = list(x), list(x[:2] ** 2)
    fill = sum(a) / len(a)
    return sum(p * q for p, q in itertools.zip_longest(a, b, fillvalue=fill))


# ================================================================ aliasing


@case(vector(6, -1.0, 1.0))
def alias_two_names_inplace(x):
    """b = a (one array, two names); b *= 2 then a's value used; c = a[:] (a view)."""
    a = np.exp(x)
    b = a
    b *= x
    c = a[:]
    c[0] = x[1] ** 3
    return float(a.sum() + b[2] * c[0])


@case(vector(8, -1.0, 1.0))
def view_of_view_written(x):
    """v = a[1:]; w = v[::2]; w += ...; w[1:] *= ...: the writes land in a."""
    a = x.copy()
    v = a[1:]
    w = v[::2]
    w += x[:4] ** 2
    w[1:] *= x[4:7]
    v[-1] = w[0] * 3.0
    return float(a @ np.arange(1.0, 9.0))


@case(vector(6, -1.0, 1.0))
def transpose_written_inplace(x):
    """m.T[0] += ..., m.T[:, 1] = ...: writes through the transposed view."""
    m = x.reshape(2, 3).copy()
    m.T[0] += m[:, 1]
    m.T[:, 1] = np.sin(m[0])
    mt = m.T
    mt *= 2.0
    return float((m * np.arange(6.0).reshape(2, 3)).sum())


@case(vector(6, -1.0, 1.0))
def ravel_flatten_reshape_views(x):
    """ravel() of a contiguous array is a view (written through); flatten() is a copy;
    reshape of a contiguous array is a view; ravel of a transpose is a copy."""
    a = np.exp(x).reshape(2, 3)
    r = a.ravel()
    r[0] = x[5] ** 2
    f = a.flatten()
    f[1] = 100.0
    a.reshape(3, 2)[2] *= x[0]
    rt = a.T.ravel()
    rt[2] = -5.0
    return float(a.sum() + f @ x + rt @ np.arange(6.0))


@case(vector(6, -1.0, 1.0))
def memoryview_write(x):
    """Writes through memoryview(a) (the buffer protocol, not NumPy) and reads of a."""
    a = x * 2.0
    mv = memoryview(a)
    mv[0] = 3.0
    mv[1] = float(x[2] * 5.0)
    return float(a @ x)


@case(vector(6, -1.0, 1.0))
def shares_memory_branch(x):
    """np.shares_memory decides whether to copy first (legacy defensive code)."""
    a = x * 1.5
    b = a[::2]
    src = b.copy() if np.shares_memory(a, b) else b
    a[::2] = np.cos(src)
    c = np.asarray(a)
    if np.may_share_memory(a, c):
        c = c + 0.0
    c[0] = 7.0
    return float(a @ x + c.sum())


@case(vector(4, -1.0, 1.0))
def broadcast_to_reads(x):
    """Reads of np.broadcast_to and np.broadcast_arrays (read-only views)."""
    b = np.broadcast_to(x, (3, 4))
    w = np.arange(12.0).reshape(3, 4)
    p, q = np.broadcast_arrays(x[:, None], x[None, :])
    return float((b * w).sum() + (np.exp(p - q) * w[:, :4][0]).sum())


@case(vector(10, -1.0, 1.0))
def sliding_window_moving_stats(x):
    """sliding_window_view: moving mean, moving max and a windowed dot (weights)."""
    from numpy.lib.stride_tricks import sliding_window_view

    w = sliding_window_view(x, 3)
    mean = w.mean(axis=1)
    mx = w.max(axis=1)
    filt = w @ np.array([0.25, 0.5, 0.25])
    return float(mean @ mx + filt.sum() ** 2)


# ================================================================ fancy writes and selection


@case(vector(5, -1.0, 1.0))
def repeated_index_iadd_vs_add_at(x):
    """a[idx] += v with repeated indices (buffered: one write per index, the last one wins)
    against np.add.at (unbuffered: every value added)."""
    idx = np.array([0, 1, 1, 3, 3, 3])
    v = np.concatenate([x, x[:1]]) ** 2
    a = np.zeros(5)
    a[idx] += v
    b = np.zeros(5)
    np.add.at(b, idx, v)
    return float(a @ np.arange(1.0, 6.0) + b @ np.arange(5.0, 0.0, -1.0))


@case(vector(6, -1.0, 1.0))
def put_place_copyto_where(x):
    """np.put (with mode='wrap'), np.place with a mask and cycled values, np.copyto(where=)."""
    a = np.exp(x)
    np.put(a, [0, 7], x[:2] * 3.0, mode="wrap")
    b = x.copy()
    np.place(b, b > 0.0, x[:2] ** 2)
    c = np.ones(6)
    np.copyto(c, np.sin(x), where=np.arange(6) % 2 == 0)
    return float(a @ b + c @ x)


@case(vector(6, -1.0, 1.0))
def take_put_along_axis(x):
    """take_along_axis with argsort indices (a sorted copy per row) and put_along_axis."""
    m = x.reshape(2, 3)
    order = np.argsort(m, axis=1)
    s = np.take_along_axis(m, order, axis=1)
    out = np.zeros((2, 3))
    np.put_along_axis(out, order[:, :1], s[:, -1:] * 2.0, axis=1)
    return float((s * [1.0, 2.0, 3.0]).sum() + (out * m).sum())


@case(vector(6, -2.0, 2.0))
def select_piecewise_where(x):
    """np.select with overlapping conditions, np.piecewise with lambdas and a constant,
    np.where with both branches computed."""
    s = np.select([x < -1.0, x < 0.5], [x ** 2, np.sin(x)], default=np.exp(x))
    p = np.piecewise(x, [x < 0, x >= 0], [lambda t: -t ** 3, lambda t: t * 2.0])
    w = np.where(np.abs(x) > 1.0, np.log(np.abs(x)), x ** 4)
    return float(s.sum() + p @ x + w.sum())


@case(vector(6, -1.0, 1.0))
def ufunc_out_where_preset(x):
    """np.multiply(..., out=c, where=mask) with c preset from traced values (masked-out
    entries keep them), np.add(out=) onto itself, np.clip(out=)."""
    c = np.cos(x)
    np.multiply(x, x, out=c, where=x > 0)
    np.add(c, c[::-1], out=c)
    np.clip(c, -0.5, 0.9, out=c)
    return float(c @ np.arange(1.0, 7.0))


@case(vector(9, -1.0, 1.0))
def einsum_tensordot_kron_outer(x):
    """einsum (trace, batched, implicit), tensordot axes, kron and outer."""
    a = x.reshape(3, 3)
    t = np.einsum("ii", a) + np.einsum("ij,jk,ki", a, a, a)
    td = np.tensordot(a, a, axes=([0], [1]))
    k = np.kron(a[:2, :2], np.eye(2) + a[1:, 1:])
    o = np.outer(x[:3], x[3:6])
    b = np.einsum("ij,j", o, x[6:])
    return float(t + td.sum() + (k ** 2).sum() + b @ x[:3])


@case(vector(7, 0.2, 1.5))
def cumulative_ops(x):
    """cumsum, cumprod, diff (n=2, prepend), np.maximum.accumulate and np.minimum.accumulate."""
    c = np.cumsum(x)
    p = np.cumprod(x)
    d = np.diff(x * x, n=2, prepend=0.0)
    mx = np.maximum.accumulate(np.sin(3.0 * x))
    mn = np.minimum.accumulate(x[::-1])
    return float(c @ p / 10.0 + d.sum() + mx @ x + mn.sum())


@case(vector(8, -1.0, 1.0))
def ufunc_reduceat_outer_logaddexp(x):
    """np.add.reduceat, np.maximum.reduceat, np.subtract.outer, np.logaddexp.reduce and
    np.hypot.accumulate."""
    r = np.add.reduceat(x * x, [0, 3, 5])
    m = np.maximum.reduceat(x, [0, 4])
    o = np.subtract.outer(x[:3], x[5:])
    lse = np.logaddexp.reduce(x)
    h = np.hypot.accumulate(x + 2.0)
    return float(r @ [1.0, 2.0, 3.0] + m.sum() + (o ** 2).sum() + lse + h[-1])


# ================================================================ sorting-based code


@case(vector(7, -1.0, 1.0))
def argsort_ranks_weighting(x):
    """Ranks by a double argsort weight the values (a rank-weighted mean)."""
    ranks = np.argsort(np.argsort(x))
    w = (ranks + 1.0) / len(x)
    return float((w * x).sum() / w.sum() + x[ranks == 0][0] ** 2)


@case(vector(9, -1.0, 1.0))
def partition_median_trimmed(x):
    """np.partition for the median and a trimmed mean; np.sort then slices."""
    k = len(x) // 2
    med = np.partition(x, k)[k]
    s = np.sort(x)
    trimmed = s[1:-1].mean()
    return float(med * 3.0 + trimmed + np.percentile(x, 30.0))


@case(vector(8, 0.0, 3.0))
def floor_groups_bincount_means(x):
    """np.unique(np.floor(x), return_inverse=True) groups; group means via np.bincount with
    weights, broadcast back through the inverse."""
    keys, inv = np.unique(np.floor(x), return_inverse=True)
    sums = np.bincount(inv, weights=x)
    counts = np.bincount(inv)
    means = sums / counts
    return float(((x - means[inv]) ** 2).sum() + means @ keys)


@case(vector(6, 0.0, 1.0))
def searchsorted_manual_interp(x):
    """Linear interpolation by hand with np.searchsorted over traced, sorted knots."""
    knots = np.cumsum(x + 0.2)
    vals = np.sin(knots)
    q = np.array([0.3, 1.1, 2.2, knots[-1] * 0.9])
    i = np.clip(np.searchsorted(knots, q) - 1, 0, len(knots) - 2)
    t = (q - knots[i]) / (knots[i + 1] - knots[i])
    return float(((1 - t) * vals[i] + t * vals[i + 1]).sum())


# ================================================================ dtype games


@case(vector(6, -1.0, 1.0), reference=np.cos)
def float32_accumulation(x):
    """np.sin computed in float32 and summed in a float32 accumulator, returned as float64
    (the reference is the exact float64 derivative)."""
    acc = np.float32(0.0)
    for v in np.sin(x.astype(np.float32)):
        acc += v
    return float(acc)


@case(vector(4, -1.0, 1.0))
def longdouble_intermediates(x):
    """np.longdouble arithmetic (exp, products) then float()."""
    a = np.asarray(x, dtype=np.longdouble)
    s = np.exp(a).sum() * a[0] + np.longdouble(1.5) * a[1] ** 3
    return float(s + np.longdouble(x[2]) * x[3])


@case(vector(4, -3.0, 3.0))
def integer_truncation_round(x):
    """int() truncation, round(), np.round and astype(int) steps mixed with smooth terms
    (piecewise: the steps contribute nothing)."""
    steps = int(x[0] * 3) + round(x[1]) + np.round(x[2], 1) + x.astype(int).sum()
    return float(x @ x + steps * x[3])


@case(vector(5, -1.0, 1.0), reference=lambda x: np.exp(x) * np.arange(1.0, 6.0) + 2.0 * x)
def astype_roundtrip_float32(x):
    """astype(float32).astype(float64) round trip, then a float64 computation (a float32
    staircase at 1e-7: the reference is the exact derivative)."""
    y = np.exp(x).astype(np.float32).astype(np.float64)
    return float(y @ np.arange(1.0, 6.0) + (x * x).sum())


@case(vector(4, -1.0, 1.0))
def complex_intermediates_real_if_close(x):
    """exp(i x) products, np.real_if_close, .conj() and np.angle."""
    z = np.exp(1j * x) * (x + 2.0)
    w = z * z.conj()
    r = np.real_if_close(w)
    ang = np.angle(z[0] * z[1])
    return float(r.sum() + ang + (z ** 2).real @ x)


@case(vector(3, 0.5, 2.0))
def fast_inverse_sqrt_bits(x):
    """The fast inverse square root through an int64 view of the float's bits, then Newton
    steps: the magic first guess is piecewise linear in x (it has a derivative)."""
    y = np.array(x, dtype=np.float64)
    i = y.view(np.int64)
    i = np.int64(0x5FE6EB50C7B537A9) - (i >> 1)
    g = i.view(np.float64)
    g = g * (1.5 - 0.5 * x * g * g)
    return float(g.sum())


@case(vector(4, 0.3, 5.0))
def frexp_ldexp_modf(x):
    """math.frexp / math.ldexp scaling (the mantissa is linear within a binade), math.modf's
    fractional part, np.frexp."""
    total = 0.0
    for v in x:
        m, e = math.frexp(v)
        frac, whole = math.modf(v * 1.7)
        total += math.ldexp(m * m, e) + frac * whole
    mm, ee = np.frexp(x)
    return total + float((mm * ee).sum())


@case(vector(4, -1.0, 1.0))
def struct_record_unpack(x):
    """Values packed with struct and unpacked (a binary record round trip) then used."""
    blob = struct.pack("<4d", *x)
    back = struct.unpack("<4d", blob)
    return sum(v * v for v in back) + float(x[0])


@case(vector(4, -1.0, 1.0))
def tobytes_frombuffer_roundtrip(x):
    """np.frombuffer(a.tobytes()) round trip (a binary checkpoint in memory)."""
    a = np.exp(x)
    b = np.frombuffer(a.tobytes(), dtype=np.float64)
    return float(b @ x + a.sum())


@case(vector(4, -1.0, 1.0))
def deepcopy_object_state(x):
    """copy.deepcopy of a dict of arrays and of a user object, then the copies are used."""
    state = {"w": np.exp(x), "b": float(x[0]), "hist": [x[1] * 2.0]}
    snap = copy.deepcopy(state)
    state["w"] *= 0.0
    obj = _Body(x[2], x[3])
    obj2 = copy.copy(obj)
    return float(snap["w"] @ x + snap["b"] * snap["hist"][0] + obj2.kinetic)


# ================================================================ math / cmath / statistics


@case(vector(5, 0.2, 2.0))
def math_fsum_prod_hypot_dist(x):
    """math.fsum, math.prod, math.hypot(*x), math.dist, math.log1p, math.expm1."""
    xs = list(x)
    return (math.fsum(v * v for v in xs) + math.prod(xs) + math.hypot(*xs)
            + math.dist(xs[:2], xs[2:4]) + math.log1p(xs[4]) * math.expm1(xs[0]))


@case(vector(4, 0.2, 2.0))
def cmath_polar_rect_phase(x):
    """cmath.rect / polar / phase / sqrt / log round trips."""
    z = cmath.rect(x[0], x[1])
    r, phi = cmath.polar(z * complex(x[2], x[3]))
    w = cmath.sqrt(z) + cmath.log(complex(x[3], x[0]))
    return r * phi + w.real + abs(w) + cmath.phase(w)


@case(vector(6, -1.0, 1.0))
def normaldist_inv_cdf_params(x):
    """statistics.NormalDist (traced mu / sigma): cdf, pdf, inv_cdf, and fmean."""
    nd = statistics.NormalDist(x[0], 1.0 + x[1] ** 2)
    return (nd.cdf(x[2]) + nd.pdf(x[3]) + nd.inv_cdf(0.3 + 0.2 * x[4] ** 2)
            + statistics.fmean(x) * x[5])


# ================================================================ SciPy inside functions


@case(vector(5, -1.0, 1.0))
def scipy_special_logsumexp_expit(x):
    """scipy.special.logsumexp (with b=), expit, erf, gammaln, xlogy."""
    from scipy import special

    return float(special.logsumexp(x, b=np.arange(1.0, 6.0)) + special.expit(x).sum()
                 + special.erf(x[0]) + special.gammaln(x[1] + 3.0)
                 + special.xlogy(x[2] + 2.0, x[3] + 2.0))


@case(vector(3, 0.5, 1.5))
def scipy_quad_closure(x):
    """scipy.integrate.quad of a closure over traced parameters (limits traced too)."""
    from scipy import integrate

    a, b, c = x
    val, _ = integrate.quad(lambda t: math.exp(-a * t) * math.sin(b * t), 0.0, c)
    return val


@case(vector(6, -1.0, 1.0))
def scipy_cubic_spline_values(x):
    """scipy.interpolate.CubicSpline through traced values, evaluated and integrated."""
    from scipy import interpolate

    t = np.linspace(0.0, 1.0, 6)
    cs = interpolate.CubicSpline(t, x)
    return float(cs(np.array([0.13, 0.5, 0.77])).sum() + cs.integrate(0.0, 1.0)
                 + cs(0.4, 1))


# ================================================================ exceptions and warnings


@case(vector(5, -1.0, 1.0))
def zero_division_fallback(x):
    """try/except ZeroDivisionError falls back to a limit value for exactly-zero
    denominators (the constants), the traced ones divide."""
    dens = [x[0], 0.0, x[1] * x[2], 0.0, x[3]]
    total = 0.0
    for d, v in zip(dens, x):
        try:
            total += math.sin(v) / d
        except ZeroDivisionError:
            total += math.cos(v)
    return total


@case(vector(4, -1.0, 1.0))
def warnings_as_errors_fallback(x):
    """warnings.simplefilter('error') turns NumPy's overflow RuntimeWarning into an exception
    that selects a fallback formula."""
    big = np.array([800.0, x[0], 900.0, x[1]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        out = []
        for v, w in zip(big, x):
            try:
                with np.errstate(over="warn"):
                    out.append(np.log1p(np.exp(v)) * w)
            except RuntimeWarning:
                out.append(v * w)
    return float(sum(out) + x[2] * x[3])


@case(vector(4, -1.0, 1.0))
def errstate_raise_fallback(x):
    """np.errstate(divide='raise') turns a division by an exact zero into
    FloatingPointError, caught to use a fallback."""
    den = np.array([x[0], 0.0, x[1], 0.0])
    num = np.exp(x)
    res = np.empty(4)
    for i in range(4):
        try:
            with np.errstate(divide="raise"):
                res[i] = np.divide(num[i], den[i])
        except FloatingPointError:
            res[i] = num[i] * x[3]
    return float(res.sum())


_GLOBAL_BUF = np.zeros(5)
_GLOBAL_STATE = {"scale": 1.0}


def _store_global(x):
    _GLOBAL_BUF[:] = np.sin(x)
    _GLOBAL_STATE["scale"] = float(x[0]) + 2.0


def _read_global():
    return float(_GLOBAL_BUF @ np.arange(1.0, 6.0)) * _GLOBAL_STATE["scale"]


@case(vector(5, -1.0, 1.0))
def module_global_state(x):
    """A module-level buffer and dict written by one function and read by another."""
    _store_global(x)
    return _read_global() + float(_GLOBAL_BUF[0] * x[1])


# ================================================================ textbook algorithms


@case(vector(6, -1.0, 1.0))
def clenshaw_traced_abscissa(x):
    """Clenshaw's recurrence for a Chebyshev series with traced coefficients at a traced t."""
    t = math.tanh(x[0])
    b1 = b2 = 0.0
    for c in reversed(list(x[1:])):
        b1, b2 = 2.0 * t * b1 - b2 + c, b1
    return b1 - t * b2


@case(vector(8, -1.0, 1.0))
def welford_kahan(x):
    """Welford's online variance and Kahan-compensated summation."""
    n, mean, m2 = 0, 0.0, 0.0
    for v in x:
        n += 1
        d = v - mean
        mean += d / n
        m2 += d * (v - mean)
    s, c = 0.0, 0.0
    for v in x:
        y = v * v - c
        t = s + y
        c = (t - s) - y
        s = t
    return m2 / (n - 1) + s * mean


@case(vector(2, 0.5, 1.5), heavy=True)
def rkf45_step_control(x):
    """Runge-Kutta-Fehlberg 4(5) with step-size control on y' = -k y + sin(t) (the accepted
    steps depend on the data)."""
    k, y = x
    t, h, tend = 0.0, 0.1, 2.0

    def f(t, y):
        return -k * y + math.sin(t)

    while t < tend - 1e-12:
        h = min(h, tend - t)
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
        if err <= 1e-6 or h < 1e-4:
            t += h
            y = y4
        h *= min(4.0, max(0.1, 0.84 * (1e-6 / max(err, 1e-16)) ** 0.25))
    return y


@case(vector(2, 0.5, 2.0))
def adaptive_simpson_gauss_cos(x):
    """Adaptive Simpson (recursive, tolerance-driven) of exp(-a t^2) cos(b t) on [0, 2]."""
    a, b = x

    def f(t):
        return math.exp(-a * t * t) * math.cos(b * t)

    def simpson(lo, hi, flo, fmid, fhi):
        return (hi - lo) / 6.0 * (flo + 4.0 * fmid + fhi)

    def rec(lo, hi, flo, fmid, fhi, whole, eps, depth):
        mid = 0.5 * (lo + hi)
        lm, rm = 0.5 * (lo + mid), 0.5 * (mid + hi)
        flm, frm = f(lm), f(rm)
        left = simpson(lo, mid, flo, flm, fmid)
        right = simpson(mid, hi, fmid, frm, fhi)
        if depth <= 0 or abs(left + right - whole) <= 15 * eps:
            return left + right + (left + right - whole) / 15.0
        return (rec(lo, mid, flo, flm, fmid, left, eps / 2, depth - 1)
                + rec(mid, hi, fmid, frm, fhi, right, eps / 2, depth - 1))

    f0, f1, f2 = f(0.0), f(1.0), f(2.0)
    return rec(0.0, 2.0, f0, f1, f2, simpson(0.0, 2.0, f0, f1, f2), 1e-10, 40)


@case(vector(3, 0.2, 2.0))
def gauss_legendre_mapped(x):
    """Gauss-Legendre (np.polynomial.legendre.leggauss) on [a, a + w] with traced ends."""
    a, w, k = x
    nodes, weights = np.polynomial.legendre.leggauss(8)
    b = a + w
    t = 0.5 * (b - a) * nodes + 0.5 * (a + b)
    return float(0.5 * (b - a) * weights @ (np.exp(-k * t) * np.sin(t)))


@case(matrix(3, diag=0.0))
def jacobi_eigenvalues_by_hand(x):
    """Cyclic Jacobi rotations on a symmetric matrix (the sum of squared eigenvalues and the
    largest eigenvalue)."""
    m = x[:9].reshape(3, 3)
    a = (m + m.T).tolist()
    n = 3
    for _ in range(10):
        off = sum(a[i][j] ** 2 for i in range(n) for j in range(n) if i != j)
        if off < 1e-22:
            break
        for p in range(n):
            for q in range(p + 1, n):
                if abs(a[p][q]) < 1e-300:
                    continue
                theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q])
                t = math.copysign(1.0, theta) / (abs(theta) + math.sqrt(theta * theta + 1.0))
                c = 1.0 / math.sqrt(t * t + 1.0)
                s = t * c
                for k in range(n):
                    akp, akq = a[k][p], a[k][q]
                    a[k][p], a[k][q] = c * akp - s * akq, s * akp + c * akq
                for k in range(n):
                    apk, aqk = a[p][k], a[q][k]
                    a[p][k], a[q][k] = c * apk - s * aqk, s * apk + c * aqk
    eig = [a[i][i] for i in range(n)]
    return max(eig) + 0.1 * sum(e * e for e in eig)


@case(matrix(4, extra=4, diag=0.5))
def lu_partial_pivot_by_hand(x):
    """LU with partial pivoting on a list of lists (row swaps chosen by traced magnitudes),
    then forward and back substitution."""
    n = 4
    a = [list(x[i * n:(i + 1) * n]) for i in range(n)]
    b = list(x[n * n:])
    for k in range(n):
        p = max(range(k, n), key=lambda i: abs(a[i][k]))
        a[k], a[p] = a[p], a[k]
        b[k], b[p] = b[p], b[k]
        for i in range(k + 1, n):
            f = a[i][k] / a[k][k]
            for j in range(k, n):
                a[i][j] -= f * a[k][j]
            b[i] -= f * b[k]
    sol = [0.0] * n
    for i in reversed(range(n)):
        sol[i] = (b[i] - sum(a[i][j] * sol[j] for j in range(i + 1, n))) / a[i][i]
    return sum(s * (i + 1) for i, s in enumerate(sol))


@case(matrix(3, diag=0.0))
def cholesky_by_hand_logdet(x):
    """Cholesky by hand of M M^T + I (math.sqrt on the diagonal), the log-determinant and a
    solve."""
    m = x.reshape(3, 3)
    a = m @ m.T + np.eye(3)
    n = 3
    L = np.zeros((n, n))
    for j in range(n):
        s = a[j, j] - L[j, :j] @ L[j, :j]
        L[j, j] = math.sqrt(s)
        for i in range(j + 1, n):
            L[i, j] = (a[i, j] - L[i, :j] @ L[j, :j]) / L[j, j]
    y = np.zeros(n)
    rhs = np.array([1.0, 2.0, 3.0])
    for i in range(n):
        y[i] = (rhs[i] - L[i, :i] @ y[:i]) / L[i, i]
    return float(2.0 * np.log(np.diag(L)).sum() + y @ y)


@case(vector(6, -1.0, 1.0))
def natural_spline_by_hand(x):
    """A natural cubic spline by hand (tridiagonal Thomas solve for the second derivatives)
    through traced values, evaluated at a few points."""
    n = len(x)
    h = 1.0
    ys = list(x)
    a = [1.0] * (n - 2)
    b = [4.0] * (n - 2)
    c = [1.0] * (n - 2)
    d = [6.0 * (ys[i + 2] - 2 * ys[i + 1] + ys[i]) / h ** 2 for i in range(n - 2)]
    for i in range(1, n - 2):
        w = a[i] / b[i - 1]
        b[i] -= w * c[i - 1]
        d[i] -= w * d[i - 1]
    m = [0.0] * (n - 2)
    m[-1] = d[-1] / b[-1]
    for i in range(n - 4, -1, -1):
        m[i] = (d[i] - c[i] * m[i + 1]) / b[i]
    M = [0.0] + m + [0.0]

    def s(t):
        i = min(int(t), n - 2)
        u = t - i
        return ((1 - u) * ys[i] + u * ys[i + 1]
                + ((1 - u) ** 3 - (1 - u)) * M[i] / 6.0 + (u ** 3 - u) * M[i + 1] / 6.0)

    return s(0.3) + s(2.5) * s(4.7)


@case(vector(8, -1.0, 1.0))
def fft_radix2_complex_lists(x):
    """A radix-2 FFT by hand on Python lists of complex numbers (cmath.exp twiddles);
    the power spectrum weighted."""
    def fft(a):
        n = len(a)
        if n == 1:
            return a
        even, odd = fft(a[0::2]), fft(a[1::2])
        tw = [cmath.exp(-2j * cmath.pi * k / n) * odd[k] for k in range(n // 2)]
        return [even[k] + tw[k] for k in range(n // 2)] + \
               [even[k] - tw[k] for k in range(n // 2)]

    spec = fft([complex(v, 0.0) for v in x])
    return sum(abs(z) ** 2 * (k + 1) for k, z in enumerate(spec[:5]))


@case(vector(8, -1.0, 1.0))
def convolution_by_hand(x):
    """Full and 'same' discrete convolution by hand with nested loops and a kernel taken
    from the data."""
    sig, ker = list(x[:5]), [x[5], x[6] ** 2, x[7]]
    full = [0.0] * (len(sig) + len(ker) - 1)
    for i, s in enumerate(sig):
        for j, k in enumerate(ker):
            full[i + j] += s * k
    same = full[1:1 + len(sig)]
    return sum(v * v for v in same) + full[0] * full[-1]


@case(vector(6, -1.0, 1.0))
def kalman_filter_1d(x):
    """A scalar Kalman filter over traced measurements; the noise variances traced too."""
    q, r = 0.01 + x[0] ** 2, 0.1 + x[1] ** 2
    est, p = 0.0, 1.0
    nll = 0.0
    for z in x[2:]:
        p += q
        s = p + r
        k = p / s
        innov = z - est
        nll += 0.5 * (math.log(2 * math.pi * s) + innov * innov / s)
        est += k * innov
        p *= 1 - k
    return nll + est


@case(vector(5, 0.0, 1.0))
def black_scholes_greeks(x):
    """Black-Scholes price, delta and vega via math.erf (a greek-weighted hedge value)."""
    s = 80.0 + 40.0 * x[0]
    k = 100.0
    t = 0.25 + x[1]
    r = 0.01 + 0.05 * x[2]
    sig = 0.1 + 0.4 * x[3]

    def ncdf(v):
        return 0.5 * (1.0 + math.erf(v / math.sqrt(2.0)))

    d1 = (math.log(s / k) + (r + 0.5 * sig * sig) * t) / (sig * math.sqrt(t))
    d2 = d1 - sig * math.sqrt(t)
    call = s * ncdf(d1) - k * math.exp(-r * t) * ncdf(d2)
    delta = ncdf(d1)
    vega = s * math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi) * math.sqrt(t)
    return call - delta * s * x[4] + 0.01 * vega


@case(vector(3, 0.0, 1.0))
def trinomial_tree_american(x):
    """An American put on a trinomial tree (early exercise: max with the intrinsic value)."""
    s0, vol, r = 90.0 + 20.0 * x[0], 0.15 + 0.3 * x[1], 0.01 + 0.04 * x[2]
    k, t, n = 100.0, 1.0, 30
    dt = t / n
    u = math.exp(vol * math.sqrt(2 * dt))
    a = math.exp(r * dt / 2)
    b = math.exp(vol * math.sqrt(dt / 2))
    pu = ((a - 1 / b) / (b - 1 / b)) ** 2
    pd = ((b - a) / (b - 1 / b)) ** 2
    pm = 1 - pu - pd
    disc = math.exp(-r * dt)
    vals = [max(k - s0 * u ** j, 0.0) for j in range(-n, n + 1)]
    for step in range(n - 1, -1, -1):
        vals = [max(disc * (pu * vals[j + 2] + pm * vals[j + 1] + pd * vals[j]),
                    k - s0 * u ** (j - step))
                for j in range(2 * step + 1)]
    return vals[0]


@case(vector(9, -1.0, 1.0))
def logistic_regression_steps(x):
    """Three gradient steps of logistic regression (weights from the data), then the loss."""
    X = np.array([[1.0, 0.5, -1.2], [1.0, -0.3, 0.8], [1.0, 1.5, 0.1], [1.0, -1.0, -0.7]])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    w = x[:3].copy()
    lr = 0.5 + x[3] ** 2
    X = X + 0.1 * x[4:8, None]
    for _ in range(3):
        p = 1.0 / (1.0 + np.exp(-X @ w))
        w -= lr * X.T @ (p - y) / len(y)
    z = X @ w
    return float(np.sum(np.logaddexp(0.0, z) - y * z) + x[8] * w[0])


@case(vector(6, -3.0, 3.0))
def stable_softmax_lse(x):
    """The max-shifted softmax and log-sum-exp (the shift by the traced max)."""
    m = np.max(x)
    e = np.exp(x - m)
    sm = e / e.sum()
    lse = m + math.log(e.sum())
    return float(sm @ np.arange(6.0) + lse)


@case(vector(6, -1.0, 1.0))
def gram_schmidt_power_iteration(x):
    """Modified Gram-Schmidt on two traced vectors, then power iteration on A = B B^T + I."""
    u, v = x[:3].copy(), x[3:].copy()
    u /= np.linalg.norm(u)
    v -= (v @ u) * u
    v /= np.linalg.norm(v)
    B = np.column_stack([u * 2.0, v])
    A = B @ B.T + np.eye(3) * 0.1
    q = np.ones(3) / math.sqrt(3.0)
    for _ in range(60):
        q = A @ q
        q /= np.linalg.norm(q)
    return float(q @ A @ q + u @ [1.0, 2.0, 3.0])


@case(vector(6, -1.0, 1.0), on_list)
def list_bubble_sort_weights(xs):
    """A bubble sort on a list (swaps decided by traced comparisons), weights by position."""
    a = xs[:]
    n = len(a)
    for i in range(n):
        for j in range(n - 1 - i):
            if a[j] > a[j + 1]:
                a[j], a[j + 1] = a[j + 1], a[j]
    return sum(v * (i + 1) ** 1.5 for i, v in enumerate(a))


# ================================================================ data-dependent control flow


@case(scalar(0.2, 3.0))
def newton_iteration_count(a):
    """Newton's method for cbrt(a) until |step| < 1e-14 (the number of steps depends on a);
    the result is exact to roundoff (the derivative of the root)."""
    t = 1.0
    while True:
        step = (t ** 3 - a) / (3 * t * t)
        t -= step
        if abs(step) < 1e-14:
            break
    return t * t + a


@case(vector(6, -1.0, 1.0))
def dict_keys_from_traced(x):
    """A histogram dict keyed by int(v * 3) (keys from traced values) accumulating values;
    the bins are then combined in key order."""
    bins = collections.defaultdict(float)
    for v in x:
        bins[int(v * 3)] += v * v
    keys = sorted(bins)
    return sum(bins[k] * (i + 1) for i, k in enumerate(keys)) + len(keys) * x[0]


@case(vector(6, -1.0, 1.0))
def early_exit_threshold(x):
    """A scan that returns early at the first cumulative sum above a threshold."""
    s = 0.0
    for i, v in enumerate(x):
        s += math.exp(v)
        if s > 3.0:
            return s * (i + 1) + v
    return -s


@case(vector(6, -1.0, 1.0))
def branch_on_comparison_mixture(x):
    """Per-element branches on traced comparisons choose formulas (a piecewise model)."""
    total = 0.0
    for v, w in zip(x[:3], x[3:]):
        if v > w:
            total += v * v - w
        elif v > -0.5:
            total += math.sin(v * w)
        else:
            total += math.exp(w)
    return total


@case(vector(6, -1.0, 1.0))
def bisect_insort_ordered(x):
    """bisect.insort keeps a list sorted; bisect_left finds a traced query's slot; the
    result reads neighbours."""
    buf = []
    for v in x[:5]:
        bisect.insort(buf, v)
    i = bisect.bisect_left(buf, x[5])
    lo = buf[i - 1] if i > 0 else buf[0] - 1.0
    hi = buf[i] if i < len(buf) else buf[-1] + 1.0
    return (x[5] - lo) * (hi - x[5]) + buf[2] * i


@case(vector(8, -1.0, 1.0))
def mask_shape_dependent(x):
    """The length of a boolean selection decides the formula (np.count_nonzero, len)."""
    pos = x[x > 0]
    if len(pos) >= 4:
        out = pos.mean() * np.std(pos)
    elif len(pos) >= 2:
        out = pos.prod()
    else:
        out = x.sum()
    return float(out + np.count_nonzero(x > 0.5) * x[0])


@case(vector(6, -1.0, 1.0))
def argmax_index_control(x):
    """The argmax index picks a neighbour window and a dict entry."""
    table = {0: 1.0, 1: 2.0, 2: 0.5, 3: 3.0, 4: 1.5, 5: 0.25}
    i = int(np.argmax(x))
    j = int(np.argmin(x))
    lo, hi = max(i - 1, 0), min(i + 2, len(x))
    return float(x[lo:hi].sum() * table[i] + x[j] * table[j])


@case(vector(5, -1.0, 1.0))
def string_key_dispatch(x):
    """The sign of a traced value selects a function by name from a dict ("pos"/"neg")."""
    funcs = {"pos": math.sinh, "neg": math.atan, "zero": lambda t: 0.0}
    total = 0.0
    for v in x:
        name = "pos" if v > 0 else ("neg" if v < 0 else "zero")
        total += funcs[name](v) * (2.0 if name == "pos" else 1.0)
    return total


@case(vector(5, 0.5, 1.5))
def while_loop_tolerance_series(x):
    """A series summed until the term falls below 1e-15 (terms count depends on the data):
    sum_k t^k / k! * cos(k s) for t = x0, s = x1, plus a geometric tail."""
    t, s = x[0], x[1]
    term, k, total = 1.0, 0, 0.0
    while abs(term) > 1e-15:
        total += term * math.cos(k * s)
        k += 1
        term *= t / k
    g, r, q = 0.0, 0.5 * x[2], 1.0
    while q > 1e-14:
        g += q
        q *= r
    return total + g * x[3]


@case(vector(4, -1.0, 1.0))
def sorted_dict_items_by_value(x):
    """A dict of named traced values sorted by value; the names' order picks weights."""
    d = {"a": x[0], "b": x[1] * 2.0, "c": math.sin(x[2]), "d": x[3] ** 3}
    ordered = sorted(d.items(), key=lambda kv: kv[1])
    weight = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
    return sum(v * weight[k] * (i + 1) for i, (k, v) in enumerate(ordered))


@case(vector(6, -1.0, 1.0))
def set_membership_rounded(x):
    """A set of rounded traced values deduplicates contributions."""
    seen = set()
    total = 0.0
    for v in x:
        key = round(v, 1)
        if key in seen:
            continue
        seen.add(key)
        total += v ** 3
    return total + len(seen) * x[0]


@case(vector(6, 0.1, 1.0))
def heap_merge_k_smallest(x):
    """heapq.nsmallest with a key over traced pairs and a heap-driven greedy merge."""
    import heapq

    pairs = list(zip(x[:3], x[3:]))
    best = heapq.nsmallest(2, pairs, key=lambda p: p[0] * p[1])
    h = list(x)
    heapq.heapify(h)
    while len(h) > 1:
        a, b = heapq.heappop(h), heapq.heappop(h)
        heapq.heappush(h, a + b * 0.5)
    return h[0] + sum(p[0] - p[1] for p in best)


# ================================================================ more: C code, views, dtypes


class _Sequence:
    """A user sequence (len and getitem) that NumPy converts through the sequence protocol."""

    def __init__(self, values):
        self.values = list(values)

    def __len__(self):
        return len(self.values)

    def __getitem__(self, i):
        return self.values[i] * 2.0


@case(vector(6, -1.0, 1.0))
def user_sequence_deque_to_array(x):
    """np.asarray of a user sequence class, of a rotated deque, and map()/reduce() of builtins
    over an ndarray (iterated in C)."""
    d = collections.deque(x * 2.0)
    d.rotate(2)
    a = np.asarray(_Sequence(x)) @ np.arange(6.0) + np.array(d) @ x
    return float(a + sum(map(math.exp, x)) + functools.reduce(math.hypot, x)
                 + sum(itertools.starmap(math.atan2, zip(x[:3], x[3:] + 2.0))))


@case(vector(6, -1.0, 1.0))
def row_swap_tuple_assignment(x):
    """m[0], m[1] = m[1], m[0] with row views: the first store changes what the second view
    shows (both rows end up as the old m[1], natively)."""
    m = x.reshape(2, 3).copy()
    m[0], m[1] = m[1], m[0]
    n = x.reshape(3, 2).copy()
    n[[0, 2]] = n[[2, 0]]  # the fancy swap that does work
    return float((m * np.arange(6.0).reshape(2, 3)).sum() + (n[:, 0] ** 2).sum())


@case(vector(6, -1.0, 1.0))
def zero_d_array_inplace(x):
    """A 0-d array updated in place: z += ..., z[...] = ..., z[()] += ..., np.add(out=z)."""
    z = np.array(x[0])
    z += x[1] ** 2
    z[...] = z * x[2]
    z[()] += 1.0
    np.add(z, x[3], out=z)
    return float(z * x[4] + z ** 2)


@case(vector(5, -1.0, 1.0))
def float_divmod_fmod_remainder(x):
    """Python float divmod / % / math.fmod / math.remainder (fractional parts: slope one)."""
    q, r = divmod(x[0] * 5.0, 1.3)
    return (r * x[1] + math.fmod(x[2] * 7.0, 1.1) + math.remainder(x[3] * 9.0, 2.0)
            + (x[4] * 3.0) % 1.0 + q)


@case(vector(3, 0.3, 1.0))
def cholesky_jitter_retry(x):
    """np.linalg.cholesky of an indefinite matrix raises LinAlgError; the caller adds a
    growing jitter and retries (exceptions from a ruled call as control flow)."""
    a = np.outer(x, x) - 0.05 * np.eye(3)
    jitter = 0.0
    while True:
        try:
            L = np.linalg.cholesky(a + jitter * np.eye(3))
            break
        except np.linalg.LinAlgError:
            jitter = 0.1 if jitter == 0.0 else jitter * 2.0
    return float(np.log(np.diag(L)).sum() + jitter)


@case(vector(5, -1.0, 1.0))
def random_instance_sampling(x):
    """A seeded random.Random instance: gauss, uniform, expovariate with traced parameters
    (Python code of the random module)."""
    r = random_module().Random(5)
    return sum(r.gauss(x[0], 1.0 + x[1] ** 2) + r.uniform(x[2], x[3] + 3.0)
               + r.expovariate(2.0 + x[4]) for _ in range(5))


def random_module():
    import random

    return random


@case(vector(6, 0.1, 2.0))
def statistics_regression_median(x):
    """statistics.linear_regression / correlation / geometric_mean / median_high."""
    xs, ys = list(x[:3]), list(x[3:])
    slope, icpt = statistics.linear_regression(xs, ys)
    return (slope + icpt + statistics.correlation(xs, ys)
            + statistics.geometric_mean(list(x)) + statistics.median_high(list(x)))


@case(vector(6, -1.0, 1.0))
def swapaxes_moveaxis_split_views(x):
    """Writes through np.swapaxes / np.moveaxis / a[..., None] / np.atleast_2d / np.split /
    np.array_split views."""
    a = x.reshape(1, 2, 3).copy()
    np.swapaxes(a, 1, 2)[0, 0] += 5.0 * x[:2]
    np.moveaxis(a, 0, -1)[1] *= x[3]
    a[..., None][0, 1, 2] = x[0] ** 2
    np.atleast_2d(a.ravel())[0, 4] = x[5] * 4.0
    flat = a.ravel()
    p1, p2 = np.split(flat, 2)
    p1 *= 3.0
    p2[0] = x[1] ** 2
    np.array_split(flat, 4)[-1] += 1.0
    return float((a.ravel() * np.arange(1.0, 7.0)).sum())


@case(vector(3, 0.2, 1.0))
def scipy_odeint_callback(x):
    """scipy.integrate.odeint (LSODA in Fortran calling back into Python) with traced
    parameters in the closure and a traced initial value."""
    from scipy.integrate import odeint

    sol = odeint(lambda y, t: -x[0] * y + math.sin(t) * x[1], [x[2]], [0.0, 0.5, 1.0],
                 rtol=1e-12, atol=1e-12)
    return float(sol[-1, 0] + sol[1, 0])


@case(vector(6, -1.0, 1.0))
def scipy_smoothing_spline(x):
    """scipy.interpolate.UnivariateSpline (FITPACK) through traced values, evaluated."""
    from scipy import interpolate

    s = interpolate.UnivariateSpline(np.arange(6.0), x, s=0.5)
    return float(s(2.5) + s(4.1))


@case(vector(6, -1.0, 1.0))
def complex_view_interleaved(x):
    """Interleaved (re, im) pairs read as complex with .view(np.complex128), and a complex
    array read back as float pairs with .view(np.float64) (signal-processing packing)."""
    z = x.view(np.complex128)
    f = (np.exp(1j * x[:3]) * x[3:]).view(np.float64).reshape(-1, 2)
    return float((np.abs(z) ** 2 * np.arange(1.0, 4.0)).sum() + (f[:, 0] * 2 + f[:, 1] ** 2).sum())


@case(vector(4, 0.5, 2.0))
def float_bits_copy_roundtrip(x):
    """The bits of a float array saved as int64 (x.view(np.int64).copy(), a bit-exact
    checkpoint) and restored with .view(np.float64): the restored array equals x."""
    bits = x.view(np.int64).copy()
    restored = bits.view(np.float64)
    return float(restored @ x + np.exp(restored).sum())


@case(vector(4, -1.0, 1.0))
def fromhex_exact_text(x):
    """float.hex / float.fromhex (an exact text round trip)."""
    y = float.fromhex(float(x[0] * 2.0).hex())
    return y * x[1] + x[2] * x[3]


@case(vector(6, -1.0, 1.0))
def array_interface_wrapper(x):
    """A user wrapper exposing another array's __array_interface__ (zero-copy export)."""
    class Exported:
        def __init__(self, arr):
            self._keep = arr
            self.__array_interface__ = arr.__array_interface__

    b = np.asarray(Exported(x * 3.0))
    return float(b @ x + x[0])


@case(vector(6, -1.0, 1.0))
def integer_dtype_reductions(x):
    """Reductions and ufuncs with an integer dtype= / out= (casting='unsafe'): truncations
    with no derivative, next to smooth terms."""
    c = np.cumsum(x * 10.0, dtype=np.int64)
    o = np.zeros(6, dtype=np.int64)
    np.multiply(x, 7.0, out=o, casting="unsafe")
    s = x.sum(dtype=np.int64)
    return float((c + o) @ x + s * x[0] + x @ x)


@case(vector(6, -1.0, 1.0))
def reductions_where_initial_norms(x):
    """sum/mean/max with where= and initial=, np.clip with traced bounds, np.linalg.norm
    orders (1, inf, 0.5, nuc, 2, -inf)."""
    m = x.reshape(2, 3)
    return float(x.sum(where=x > 0) + np.max(x, initial=0.5, where=x < 0.9)
                 + x.mean(where=x > -0.5) + np.clip(x, x[0] - 0.3, x[1] + 0.3).sum()
                 + np.linalg.norm(x, 1) + np.linalg.norm(x, np.inf) + np.linalg.norm(x, 0.5)
                 + np.linalg.norm(m, "nuc") + np.linalg.norm(m, 2) + np.linalg.norm(m, -np.inf))


@case(vector(6, -1.0, 1.0))
def eigvals_nonsymmetric_batched(x):
    """np.linalg.eigvals of a non-symmetric matrix (complex pairs), batched inv / det."""
    m = np.array([[x[0], x[1]], [-x[2] - 2.0, x[3]]]) + x[4] * np.eye(2)
    ev = np.linalg.eigvals(m)
    a = np.stack([np.eye(2) * 3 + x[:4].reshape(2, 2), np.eye(2) * 3 - x[2:].reshape(2, 2)])
    return float(ev.real.sum() + np.abs(ev.imag).sum() + (np.linalg.inv(a) @ a[::-1]).sum()
                 + np.linalg.det(a).sum())


@case(vector(8, 0.0, 4.0))
def grid_snap_inplace_floordiv(x):
    """Particle-in-cell style snapping: cell = pos.copy(); cell //= h; cell *= h (in place),
    the offset inside the cell and the cell corner both used."""
    h = 0.5
    pos = x.copy()
    cell = pos.copy()
    cell //= h
    cell *= h
    offset = pos - cell
    return float((offset ** 2).sum() + cell @ np.linspace(0.1, 0.8, 8))


@case(vector(6, -1.0, 1.0))
def object_dtype_reductions(x):
    """np.add.reduce(dtype=object) and np.multiply.accumulate(dtype=object) (Python floats
    summed by NumPy's object loops)."""
    return float(np.add.reduce(x, dtype=object) * x[0]
                 + np.multiply.accumulate(x + 2.0, dtype=object)[-1])


@case(matrix(2, diag=2.0, lo=-0.5, hi=0.5))
def scipy_matrix_functions(x):
    """scipy.linalg.expm / sqrtm / logm and np.linalg.matrix_power of a traced matrix."""
    from scipy.linalg import expm, logm, sqrtm

    m = x.reshape(2, 2)
    return float(expm(m).sum() + np.real(sqrtm(m)).sum() + np.real(logm(m)).trace()
                 + np.linalg.matrix_power(m, 3).sum())


@case(vector(6, -1.0, 1.0))
def array_array_buffer_copy(x):
    """array.array('d', ndarray) (a buffer-protocol copy), then Python arithmetic over it."""
    import array

    a = array.array("d", x)
    return sum(v * v for v in a) + float(x[0])


@case(vector(6, -1.0, 1.0))
def copy_module_array_snapshots(x):
    """copy.copy of an array (a snapshot before an in-place update) and copy.deepcopy of a
    list of arrays: the snapshots are used afterwards."""
    w = np.exp(x)
    before = copy.copy(w)
    w *= x
    hist = copy.deepcopy([np.sin(x), w])
    w += 1.0
    return float(before @ x + hist[0].sum() + hist[1] @ x + w.sum())


@case(vector(6, -1.0, 1.0))
def fraction_constants_with_arrays(x):
    """Exact Fraction constants (1/3, 1/2) in array arithmetic: NumPy's object loop per
    element; the result converted with astype(float)."""
    from fractions import Fraction

    third = Fraction(1, 3)
    y = (np.exp(x) * third + Fraction(1, 2)).astype(float)
    return float(y @ x + x[0] ** 2)


@case(vector(6, -1.0, 1.0))
def bytesio_binary_checkpoint(x):
    """An in-memory binary checkpoint: BytesIO.write(array) (the buffer protocol), then
    readinto() a fresh array that is used afterwards."""
    import io

    bio = io.BytesIO()
    bio.write(np.exp(x))
    bio.seek(0)
    restored = np.empty(6)
    bio.readinto(restored)
    return float(restored @ x + x[0])


# ================================================================ language features


@case(vector(6, -1.0, 1.0))
def except_star_groups(x):
    """ExceptionGroup raised with traced payloads, handled by except* clauses (3.11)."""
    total = 0.0
    for v in x[:3]:
        try:
            if v > 0:
                raise ExceptionGroup("eg", [ValueError(v), TypeError(v * 2)])
            total += v ** 2
        except* ValueError as eg:
            total += eg.exceptions[0].args[0] * 3.0
        except* TypeError as eg:
            total += eg.exceptions[0].args[0] ** 2
    return total + x[3]


@case(vector(6, -1.0, 1.0))
def class_body_in_function(x):
    """A class statement inside the function: its body (a frame of its own) computes class
    attributes from traced values, with a comprehension."""
    class Config:
        scale = x[0] * 2.0
        table = [x[1] * k for k in range(3)]

        def f(self, t):
            return self.scale * t + sum(self.table)

    return Config().f(x[2])


@case(vector(6, -1.0, 1.0))
def eval_exec_compiled_code(x):
    """eval of an expression string with traced names, exec of a def, eval of compile()d
    code (configuration-file style formulas)."""
    v = eval("a * a + math.sin(b)", {"a": x[0], "b": x[1], "math": math})
    ns = {}
    exec("def h(t):\n    return t ** 3 + 2 * t\n", ns)
    code = compile("c * 4.0", "<cfg>", "eval")
    return v + ns["h"](x[2]) + eval(code, {"c": x[3]})


@case(vector(6, -1.0, 1.0))
def suppress_and_finally_return(x):
    """contextlib.suppress(ZeroDivisionError) skipping terms, and a return in finally that
    overrides the try's return."""
    total = 0.0
    for v in x:
        with contextlib.suppress(ZeroDivisionError):
            total += 1.0 / (float(v) - float(v)) if v > 0.5 else v ** 2

    def f(t):
        try:
            return t * 2.0
        finally:
            if t > 0:
                return t * 3.0  # noqa: B012 - legacy code

    return total + f(x[0]) + f(x[1])


class _Swallow:
    def __init__(self):
        self.caught = 0.0

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is ValueError:
            self.caught += ev.args[0]
            return True
        return False


@case(vector(6, -1.0, 1.0))
def context_exit_swallows(x):
    """A context manager whose __exit__ swallows ValueErrors carrying traced payloads."""
    g = _Swallow()
    for v in x:
        with g:
            if v > 0:
                raise ValueError(v * 2.0)
    return g.caught + x[0]


@case(vector(6, -1.0, 1.0))
def generator_send_throw_finally(x):
    """A generator accumulator driven by send(), throw() with a traced payload, close()."""
    def acc():
        total = 0.0
        try:
            while True:
                try:
                    v = yield total
                    total += v * v
                except ValueError as e:
                    total -= e.args[0]
        finally:
            pass

    g = acc()
    next(g)
    for v in x[:3]:
        g.send(v)
    r = g.throw(ValueError(x[3] * 2.0))
    g.close()
    return r


@dataclasses.dataclass
class _State:
    w: np.ndarray
    b: float
    hist: list


@case(vector(6, -1.0, 1.0))
def dataclass_asdict_astuple_replace(x):
    """dataclasses.asdict / astuple (deep copies of the fields) and dataclasses.replace."""
    s = _State(np.exp(x[:3]), x[3] * 2.0, [x[4], np.float64(x[5])])
    d = dataclasses.asdict(s)
    t = dataclasses.astuple(s)
    s2 = dataclasses.replace(s, b=x[0] ** 2)
    return float(d["w"] @ x[:3] + d["b"] + sum(t[2]) + s2.b * t[1] + d["hist"][1])


@case(vector(6, -1.0, 1.0))
def wraps_decorator_counter(x):
    """A functools.wraps decorator counting calls in a function attribute."""
    def logged(fn):
        @functools.wraps(fn)
        def inner(*a, **k):
            inner.calls += 1
            return fn(*a, **k)

        inner.calls = 0
        return inner

    @logged
    def f(t, s=1.0):
        return math.exp(t) * s

    return f(x[0], s=x[1]) + f(x[2]) * f.calls


@dataclasses.dataclass
class _Pt:
    a: float
    b: float


@case(vector(6, -1.0, 1.0))
def match_dataclass_mapping_patterns(x):
    """match with class patterns and guards on traced fields, sequence, mapping and
    type-alternative patterns."""
    total = 0.0
    for item in [_Pt(x[0], x[1]), (x[2], x[3]), {"k": x[4]}, x[5]]:
        match item:
            case _Pt(a=a, b=b) if a > b:
                total += a * b
            case _Pt(a=a, b=b):
                total += a - b
            case (u, v):
                total += u ** 2 + v
            case {"k": k}:
                total += math.sin(k)
            case float() | np.float64() as f:
                total += f * 3
    return total


@case(vector(6, -1.0, 1.0))
def deep_recursion_400(x):
    """A 400-deep recursion (a fixed-point iteration written recursively)."""
    def rec(n, t):
        return t if n == 0 else rec(n - 1, math.sin(t) + 0.1 * x[1])

    return rec(400, x[0])


@case(vector(6, -1.0, 1.0))
def lambda_default_capture(x):
    """Lambdas made in a loop binding the loop variable through a default argument."""
    fs = [lambda t, k=k: x[k] * t ** k for k in range(4)]
    return sum(f(x[4]) for f in fs)


class _Norm:
    __slots__ = ("_x", "_n")

    def __init__(self, v):
        self._x = v
        self._n = None

    @property
    def norm(self):
        if self._n is None:
            self._n = math.sqrt(sum(t * t for t in self._x))
        return self._n

    @norm.deleter
    def norm(self):
        self._n = None


@case(vector(6, -1.0, 1.0))
def slots_property_deleter_cache(x):
    """A slots class caching a norm in a slot; the cache is stale after a write into the held
    list (natively too) until `del v.norm` clears it."""
    v = _Norm(list(x[:3]))
    a = v.norm
    v._x[0] = x[3] * 2
    b = v.norm
    del v.norm
    c = v.norm
    return a + b + c


class _Positive:
    def __set_name__(self, owner, name):
        self.name = "_" + name

    def __get__(self, obj, typ=None):
        return getattr(obj, self.name)

    def __set__(self, obj, v):
        setattr(obj, self.name, math.exp(v))


class _Rates:
    rate = _Positive()
    vol = _Positive()

    def __init__(self, r, v):
        self.rate = r
        self.vol = v


@case(vector(6, -1.0, 1.0))
def set_name_exp_descriptor(x):
    """A descriptor with __set_name__ storing exp(value) under a private name."""
    m = _Rates(x[0], x[1])
    return m.rate * m.vol + x[2]


class _Amount:
    def __init__(self, value):
        self.value = value

    def __mul__(self, k):
        return _Amount(self.value * k)

    def __rmul__(self, k):
        return _Amount(k * self.value)


@case(vector(4, -1.0, 1.0))
def object_array_user_items_ufunc(x):
    """User objects in NumPy's object loops two more ways: an object array of them times a
    traced array (each item's __mul__ given a float NumPy made), and np.multiply called as a
    function on a traced array and one object; a directly traced term besides."""
    book = np.array([_Amount(1.0), _Amount(2.0), _Amount(0.5), _Amount(3.0)])
    scaled = book * np.exp(x)
    taxed = np.multiply(x ** 2, _Amount(1.2))
    return float(sum(a.value for a in scaled) + sum(a.value for a in taxed) + x[0])


@case(vector(6, -5.0, 5.0))
def softplus_where_overflow(x):
    """The 'stable' softplus written with np.where: both branches are computed, so
    np.exp(z) overflows to inf where z > 709 (natively a RuntimeWarning, and the branch is
    not selected there), then a logistic loss on it."""
    z = 200.0 * x
    sp = np.where(z > 30.0, z, np.log1p(np.exp(z)))
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    return float((sp - y * z).sum() / 100.0)
