# ruff: noqa: B905, UP031, UP032 - legacy code: zip() without strict=, % formats
"""A sixth set of legacy programs, written adversarially for corners programs_classics1..5
reach least: C code writing into the program's arrays (Generator.random(out=), LAPACK's
overwrite_a / overwrite_b, reductions and einsum with out= views, ndarray.resize, a.flat =,
z.real =, operator.iadd / operator.setitem called as functions), work done off the capturing
frame (threading.Thread workers, concurrent.futures.submit, asyncio coroutines and async
generators), NumPy's iteration helpers (nditer with an allocated output and external_loop,
ndindex stencils, vectorize with Python branches, frompyfunc's reduce / accumulate, as_strided
Hankel / Toeplitz reads, np.ix_ blocks), casting into int and complex arrays, nested tolist /
item, closures, recursion (a recursive FFT on lists, de Casteljau), generator coroutines with
send / throw, Bunch-style dict attribute classes, ordered dataclasses, partialmethod, heapq
with keys, exceptions and for/else as control flow, module-level scratch arrays, Fractions
mixed with floats, complex polar forms, np.roots, eigh matrix functions, Butcher-tableau RK,
Halley's method, np.interp with traced breakpoints, products through exact zeros, np.gradient
on traced coordinates, np.polynomial classes and poly1d, logging, and textbook programs from
finance, statistics, graphics and signal processing; then programs whose control flow depends
on data (shapes from masks, iteration counts, dict keys, searchsorted indices) for the cached
replays."""

import asyncio
import bisect
import cmath
import collections
import colorsys
import concurrent.futures
import contextlib
import dataclasses
import functools
import heapq
import io
import logging
import math
import operator
import threading
from fractions import Fraction

import numpy as np
from registry import case, matrix, on_list, vector

# ================================================================ C code writing into arrays


@case(vector(5, -1.0, 1.0))
def rng_fill_out_argument(x):
    """A work buffer computed from x, then refilled in place by a seeded Generator
    (rng.standard_normal(out=buf), rng.random(out=u)): afterwards it holds noise, not x."""
    rng = np.random.default_rng(7)
    buf = x * 3.0
    first = buf @ buf
    rng.standard_normal(out=buf)
    u = np.exp(x)
    rng.random(out=u)
    return float(first + buf @ x + u @ x ** 2)


@case(vector(5, -1.0, 1.0))
def operator_module_inplace(x):
    """operator.iadd / operator.imul / operator.setitem on arrays called as functions (through
    map and functools.reduce, as table-driven legacy code does), and an operator table."""
    a = x.copy()
    operator.iadd(a, x ** 2)
    operator.imul(a[1:3], 2.0)
    operator.setitem(a, 0, x[4] * 5.0)
    list(map(operator.setitem, [a, a], [3, 4], [x[0] ** 3, 1.0]))
    b = functools.reduce(operator.iadd, [np.sin(x), x, x * x], np.zeros(5))
    ops = {"+": operator.add, "*": operator.mul, "/": operator.truediv}
    c = ops["/"](ops["*"](a, b), ops["+"](b, 3.0))
    return float(c @ np.arange(1.0, 6.0) + a.sum())


@case(matrix(3, extra=3, diag=3.0))
def scipy_overwrite_lapack(x):
    """scipy.linalg.lu_factor(a, overwrite_a=True) on a Fortran-ordered copy (LAPACK writes
    the LU factors into a, which is read afterwards) and solve(..., overwrite_b=True)."""
    from scipy import linalg

    a = np.asfortranarray(x[:9].reshape(3, 3))
    b = x[9:].copy()
    lu, piv = linalg.lu_factor(a, overwrite_a=True)
    s = linalg.lu_solve((lu, piv), b)
    m = x[:9].reshape(3, 3)
    c = m @ m.T + 3.0 * np.eye(3)
    rhs = b * 2.0
    r = linalg.solve(c, rhs, overwrite_b=True, assume_a="pos")
    return float(s.sum() + a.sum() + r @ [1.0, 2.0, 3.0] + rhs.sum())


@case(vector(6, -1.0, 1.0))
def reduction_out_into_views(x):
    """Reductions and products written into rows of a preallocated table with out=
    (np.sum, np.mean, np.dot, np.einsum), then np.concatenate(out=) of the rows."""
    m = x.reshape(2, 3)
    res = np.zeros((4, 3))
    np.sum(m, axis=0, out=res[0])
    np.mean(m * m, axis=0, out=res[1])
    np.dot(m.T, m[:, 0], out=res[2])
    np.einsum("ij,ij->j", m, np.exp(m), out=res[3])
    flat = np.empty(12)
    np.concatenate([res[0], res[1], res[2], res[3]], out=flat)
    return float(flat @ np.linspace(-1.0, 1.0, 12) + (res ** 2).sum())


@case(vector(6, -1.0, 1.0))
def inplace_operator_variety(x):
    """a @= m, a **= 2, b %= 1.0 (the fractional part), c -= c[::-1] (overlapping),
    np.power(c, 3, out=c), d /= d.sum() and np.add(d, 1, out=d, where=mask)."""
    m = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.25], [0.1, 0.0, 1.0]])
    a = x[:3].copy()
    a @= m
    a **= 2
    b = x * 1.7 + 5.0
    b %= 1.0
    c = np.exp(x)
    c -= c[::-1]
    np.power(c, 3, out=c)
    d = np.exp(x)
    d /= d.sum()
    np.add(d, 1.0, out=d, where=np.array([True, False] * 3))
    return float(a.sum() + b @ np.arange(6.0) + c @ np.linspace(0.0, 1.0, 6)
                 + d @ np.arange(1.0, 7.0))


@case(vector(5, -1.0, 1.0))
def ndarray_resize_flat_attribute(x):
    """ndarray.resize in place (refcheck=False, zero-filled growth), b.flat = values (cycled
    over the array), z.real = / z.imag = attribute stores, and c.shape = (...)."""
    a = x * 2.0
    a.resize(8, refcheck=False)
    b = np.zeros((2, 4))
    b.flat = x[:3] ** 2
    z = np.zeros(4, dtype=complex)
    z.real = x[:4]
    z.imag = x[1:] * 3.0
    c = np.exp(x)
    c.shape = (5, 1)
    return float(a @ np.arange(8.0) + (b * np.arange(8.0).reshape(2, 4)).sum()
                 + np.abs(z).sum() + (c * x).sum())


@case(vector(7, -1.0, 1.0))
def ndarray_methods_inplace(x):
    """ndarray methods that rearrange or write in place: a.partition(k), a.put with
    mode='clip', a.cumsum(out=a), b.clip(lo, hi, out=b) with a traced bound."""
    a = np.sin(x)
    a.partition(3)
    p = np.zeros(5)
    p.put([0, 7, 2], x[:3] * 2.0, mode="clip")
    c = np.exp(x)
    c.cumsum(out=c)
    b = x * 3.0
    b.clip(x[0] - 0.5, 1.5, out=b)
    return float(a @ np.arange(7.0) + p @ np.arange(1.0, 6.0) + c[-1] + c[2] + b.sum())


@case(vector(5, -1.0, 1.0))
def threading_shared_output(x):
    """threading.Thread workers each writing their slot of a shared preallocated array,
    joined, then combined with a term computed on the main thread."""
    out = np.zeros(4)

    def work(i):
        out[i] = math.exp(x[i]) * x[i]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return float(out.sum() + x[4] ** 2)


@case(vector(4, -1.0, 1.0), on_list)
def futures_submit_partial(xs):
    """concurrent.futures: one term computed by executor.submit in a worker thread (its
    future's result), the rest on the main thread."""
    def heavy(v, w):
        return math.sin(v) * w + v * v

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        fut = ex.submit(heavy, xs[0], xs[1])
        local = sum(v ** 3 for v in xs[1:])
        remote = fut.result()
    return remote + local


@case(vector(5, -1.0, 1.0), on_list)
def asyncio_gather_pipeline(xs):
    """asyncio.run of a pipeline: per-sample coroutines gathered (each awaiting
    asyncio.sleep(0)), and an async generator consumed with async for."""
    async def term(v, k):
        await asyncio.sleep(0)
        return k * v * v + math.sin(v)

    async def stream():
        for v in xs:
            await asyncio.sleep(0)
            yield math.exp(v)

    async def main():
        parts = await asyncio.gather(*(term(v, k + 1) for k, v in enumerate(xs)))
        acc = 0.0
        async for e in stream():
            acc += e
        return sum(parts) + acc

    return asyncio.run(main())


# ================================================================ NumPy iteration helpers


@case(vector(6, -1.0, 1.0))
def nditer_allocated_output(x):
    """The NumPy manual's nditer idioms: an allocated output operand ([a, None]) written
    with y[...] = ..., and flags=['external_loop'] with op_flags=['readwrite'] chunks."""
    a = x.reshape(2, 3)
    with np.nditer([a, None]) as it:
        for u, y in it:
            y[...] = u * u + 1.0
        out = it.operands[1]
    b = np.exp(x)
    with np.nditer(b, flags=["external_loop"], op_flags=["readwrite"]) as it:
        for chunk in it:
            chunk[...] = 2.0 * chunk
    return float(out.sum() + b @ x)


@case(vector(16, 0.0, 1.0))
def ndindex_laplacian_stencil(x):
    """A 5-point Laplacian over the interior written with np.ndindex (tuple index
    arithmetic into a 2-d grid), then a Jacobi relaxation sweep the same way."""
    u = x.reshape(4, 4)
    lap = np.zeros((4, 4))
    for i, j in np.ndindex(2, 2):
        i, j = i + 1, j + 1
        lap[i, j] = u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1] - 4.0 * u[i, j]
    v = u.copy()
    for idx in np.ndindex(*v.shape):
        if 0 < idx[0] < 3 and 0 < idx[1] < 3:
            v[idx] = 0.25 * (v[idx[0] - 1, idx[1]] + v[idx[0] + 1, idx[1]]
                             + v[idx[0], idx[1] - 1] + v[idx[0], idx[1] + 1])
    return float((lap ** 2).sum() + v.sum())


@case(vector(5, 0.1, 2.0))
def vectorize_python_branches(x):
    """np.vectorize of a Python function branching per element (otypes=[float]) broadcast
    against a column, and np.frompyfunc(math.hypot)'s .accumulate / .reduce on object
    arrays."""
    def soft(v, t):
        if v > t:
            return v - 0.5 * t
        return 0.5 * v * v / t

    vs = np.vectorize(soft, otypes=[float])
    r = vs(x, x[0] ** 2 + 0.5)
    grid = vs(x[:, None], np.array([0.6, 1.1]))
    hyp = np.frompyfunc(math.hypot, 2, 1)
    acc = hyp.accumulate(np.asarray(x, dtype=object))
    red = hyp.reduce(np.asarray(x * 2.0, dtype=object))
    return float(r.sum() + grid.sum() + float(acc[-2]) + float(red))


@case(vector(6, -1.0, 1.0))
def where_scalars_heaviside_sign(x):
    """np.where choosing between traced scalars, np.heaviside with a traced value at 0,
    np.sign used as a factor, np.copysign and np.fmax / np.fmin with NaN-free data."""
    w = np.where(x > 0.0, x[0] * 2.0, x[1] ** 2)
    h = np.heaviside(x - 0.3, 0.5) * x
    s = np.sign(x) * x ** 2
    c = np.copysign(x[::-1] + 2.0, x)
    f = np.fmax(x, 0.5 * x[0]) + np.fmin(x, -0.2)
    return float(w @ np.arange(6.0) + h.sum() + s.sum() + c @ x + f.sum())


@case(vector(8, -1.0, 1.0))
def as_strided_hankel_toeplitz(x):
    """Hankel and Toeplitz matrices from np.lib.stride_tricks.as_strided reads (overlapping
    rows of one buffer; a negative stride for the Toeplitz), used in a Yule-Walker solve."""
    from numpy.lib.stride_tricks import as_strided

    n, p = len(x), 3
    s = x.strides[0]
    hank = as_strided(x, shape=(n - p + 1, p), strides=(s, s))
    c = np.concatenate([x[::-1], x[1:]])
    toep = as_strided(c[n - 1:], shape=(p, p), strides=(s, -s))
    coef = np.linalg.solve(toep + 5.0 * np.eye(p), hank.T @ np.ones(n - p + 1))
    return float(coef @ [1.0, 2.0, 3.0] + (hank * hank).sum())


@case(vector(8, -1.0, 1.0))
def ix_block_updates(x):
    """Blocks addressed with np.ix_: a[np.ix_(r, c)] += v with a repeated row (buffered:
    the last write wins), np.add.at with the same index (accumulates), and a gather."""
    a = np.arange(16.0).reshape(4, 4) * 0.1
    v = x.reshape(4, 2)[:3]
    a[np.ix_([0, 2, 0], [1, 3])] += v
    b = np.zeros((4, 4))
    np.add.at(b, np.ix_([0, 2, 0], [1, 3]), v ** 2)
    g = a[np.ix_([3, 1], [0, 1, 3])]
    return float((a * b).sum() + g.sum() * x[7] + (a ** 2).sum())


@case(vector(8, -1.0, 1.0))
def mask_assign_data_dependent(x):
    """Boolean-mask stores whose mask depends on the data: a[a > t] = b[a > t] * 2,
    c[c < 0] *= -0.5 (leaky reflection), and an np.argwhere-driven loop."""
    a = np.sin(x * 2.0)
    b = np.exp(x)
    m = a > 0.2
    a[m] = b[m] * 2.0
    c = x * 3.0
    c[c < 0] *= -0.5
    tot = 0.0
    for (i,) in np.argwhere(x > 0.0):
        tot += x[i] * (i + 1)
    return float(a @ np.arange(8.0) + c.sum() + tot)


@case(vector(5, -1.0, 1.0))
def integer_and_complex_casting(x):
    """Values stored into int and complex arrays in place: a float array written into an
    int array (truncated), np.copyto(int32, ..., casting='unsafe'), a complex array += a
    float array and scaled by a complex one, and a float32 constant weight vector."""
    ints = np.zeros(5, dtype=np.int64)
    ints[:] = x * 10.0
    w = np.empty(5, dtype=np.int32)
    np.copyto(w, x * 100.0, casting="unsafe")
    z = np.zeros(5, dtype=complex)
    z += x
    z *= 1.0 + 1j * x
    w32 = np.linspace(0.0, 1.0, 5, dtype=np.float32)
    return float(np.abs(z).sum() + ints.sum() * x[0] + (w * x).sum() / 100.0 + (x * w32).sum())


@case(vector(6, -1.0, 1.0))
def tolist_nested_item(x):
    """a.tolist() of a 2-d array walked as nested lists, a.item(i, j), a[()] of a 0-d array,
    np.float64(...).item() and list(a) of rows."""
    m = np.exp(x).reshape(2, 3)
    rows = m.tolist()
    tot = sum(r[0] * r[2] for r in rows) + sum(sum(r) for r in rows)
    z = np.array(x[1] * 3.0)
    tot += z[()] ** 2 + m.item(1, 2) * m.item(4)
    tot += np.float64(x[0] * x[5]).item()
    for row in list(m):
        tot += float(row[1]) ** 2
    return tot


# ================================================================ Python language corners


@case(vector(6, -1.0, 1.0), on_list)
def closure_accumulators(xs):
    """Closures keeping state: a nonlocal float running total, a captured array updated in
    place (buf[k % 3] += ...), driven by a callback-style loop, read back by a getter."""
    def make():
        total = 0.0
        buf = np.zeros(3)

        def push(v, k):
            nonlocal total
            total += v * k
            buf[k % 3] += v * v
            return total

        def state():
            return total, buf

        return push, state

    push, state = make()
    for k, v in enumerate(xs):
        push(v, k + 1)
    t, b = state()
    return float(t + b @ [1.0, 2.0, 3.0])


def _fft(a):
    n = len(a)
    if n == 1:
        return a
    even, odd = _fft(a[0::2]), _fft(a[1::2])
    tw = [cmath.exp(-2j * math.pi * k / n) * odd[k] for k in range(n // 2)]
    return [even[k] + tw[k] for k in range(n // 2)] + [even[k] - tw[k] for k in range(n // 2)]


@case(vector(8, -1.0, 1.0), on_list)
def recursive_fft_lists(xs):
    """The textbook recursive radix-2 Cooley-Tukey FFT on Python lists of complex numbers
    (cmath.exp twiddles); a weighted power spectrum and one phase."""
    spec = _fft([complex(v, 0.0) for v in xs])
    power = sum((k + 1) * abs(c) ** 2 for k, c in enumerate(spec))
    return power + cmath.phase(spec[1] + 3.0)


class _Reset(Exception):
    pass


@case(vector(4, 0.2, 1.5))
def generator_pid_controller(p):
    """A PID controller written as a generator coroutine (errors sent in with send(), the
    action yielded back), its integral reset by throw() of a custom exception, then closed."""
    kp, ki, kd = float(p[0]), float(p[1]), float(p[2])

    def pid():
        integral, prev, u = 0.0, 0.0, 0.0
        while True:
            try:
                err = yield u
            except _Reset:
                integral = 0.0
                err = yield u
            integral += err * 0.1
            u = kp * err + ki * integral + kd * (err - prev) / 0.1
            prev = err

    ctl = pid()
    next(ctl)
    y, total = 0.0, 0.0
    for k in range(12):
        u = ctl.send(float(p[3]) - y)
        y += 0.1 * (u - y)
        total += y * y
        if k == 6:
            ctl.throw(_Reset)
    ctl.close()
    return total + y


class _Bunch(dict):
    """The legacy attribute dictionary: attributes are the dict's items."""

    __getattr__ = dict.__getitem__
    __setattr__ = dict.__setitem__


@case(vector(4, 0.5, 2.0), on_list)
def bunch_dict_attributes(xs):
    """A Bunch (dict subclass with __getattr__ = dict.__getitem__) of model parameters,
    updated with attribute stores, update() and setdefault, then a damped-oscillator energy."""
    prm = _Bunch(m=xs[0], k=xs[1])
    prm.c = 0.1 * xs[2]
    prm.update(x0=xs[3], v0=0.0)
    prm.setdefault("dt", 0.05)
    x, v = prm.x0, prm.v0
    for _ in range(20):
        a = -(prm.k * x + prm.c * v) / prm.m
        v += prm.dt * a
        x += prm.dt * v
    return 0.5 * prm.m * v * v + 0.5 * prm.k * x * x


@dataclasses.dataclass(order=True)
class _Job:
    priority: float
    name: str = dataclasses.field(compare=False)
    weight: float = dataclasses.field(compare=False, default=1.0)
    tags: list = dataclasses.field(compare=False, default_factory=list)


@case(vector(5, -2.0, 2.0), on_list)
def dataclass_order_sorting(xs):
    """dataclass(order=True) records ordered by a traced float field (compare=False on the
    rest), sorted, min/max taken, heap-pushed, and dataclasses.astuple of the first."""
    jobs = [_Job(v * v - v, f"j{i}", weight=math.exp(v)) for i, v in enumerate(xs)]
    jobs.sort()
    best, worst = min(jobs), max(jobs)
    heap = []
    for j in jobs:
        heapq.heappush(heap, j)
    first = dataclasses.astuple(heapq.heappop(heap))
    return (sum(k * j.weight for k, j in enumerate(jobs)) + best.weight * worst.priority
            + first[0] * first[2])


class _Spring:
    def __init__(self, k):
        self.k = k

    def force(self, x, scale=1.0, power=1):
        return -scale * self.k * x ** power

    linear = functools.partialmethod(force, power=1)
    cubic = functools.partialmethod(force, scale=0.3, power=3)


@case(vector(3, 0.5, 2.0), on_list)
def partialmethod_force_laws(xs):
    """functools.partialmethod force laws on a class, functools.partial of a bound method,
    functools.reduce with an initial value over the force contributions."""
    s = _Spring(xs[0])
    pos = xs[1]
    f_lin = functools.partial(s.force, scale=xs[2])
    terms = [s.linear(pos), s.cubic(pos), f_lin(pos), f_lin(pos, power=2)]
    return functools.reduce(lambda acc, t: acc + t * t, terms, 0.0)


@case(vector(8, -1.0, 1.0), on_list)
def kth_nearest_heap_bisect(xs):
    """k nearest neighbours by heapq.nsmallest(key=...) of traced distances, inverse-distance
    weights, and bisect.bisect_left(key=...) into records sorted by a traced key."""
    query = xs[0]
    pts = [(v, math.sin(3.0 * v)) for v in xs[1:]]
    near = heapq.nsmallest(3, pts, key=lambda p: abs(p[0] - query))
    w = [1.0 / (0.1 + (p[0] - query) ** 2) for p in near]
    est = sum(wi * p[1] for wi, p in zip(w, near)) / sum(w)
    recs = sorted(pts, key=lambda p: p[1])
    k = bisect.bisect_left(recs, 0.0, key=lambda p: p[1])
    return est + sum(p[0] for p in recs[:k]) * 0.5


def _first_positive(it):
    for v in it:
        if v > 0:
            break
    else:
        return None
    return v


@case(vector(6, -1.0, 1.0), on_list)
def exceptions_and_else_clauses(xs):
    """Control flow by exceptions and else-clauses: next(it, default), StopIteration caught,
    contextlib.suppress(ZeroDivisionError), for/else, and try/finally with a return."""
    it = iter(xs)
    a = next(it) * 2.0
    b = next(filter(lambda v: v > 5.0, xs), xs[1])
    total = 0.0
    gen = (v * v for v in xs[2:4])
    while True:
        try:
            total += next(gen)
        except StopIteration:
            break
    r = 1.0
    with contextlib.suppress(ZeroDivisionError):
        r = 1.0 / float(xs[2] - xs[2])
    fp = _first_positive(xs)
    extra = fp if fp is not None else 0.0

    def guarded():
        try:
            return xs[4] * 3.0
        finally:
            nonlocal total
            total += xs[5]

    return a + b + total + r * xs[3] + extra * extra + guarded()


_SCRATCH = np.zeros(6)
_TABLE = np.array([1.0, -2.0, 0.5, 3.0, -1.0, 2.0])
_LAST = [0.0]


@case(vector(6, -1.0, 1.0))
def global_scratch_buffer(x):
    """A module-level work array reused by every call (Fortran COMMON style), written in
    place then read; a module-level table read by index; a module list storing the result."""
    _SCRATCH[:] = x ** 2
    _SCRATCH[::2] *= x[::2]
    s = _SCRATCH @ _TABLE
    _LAST[0] = s
    k = int(np.argmin(_TABLE))
    return float(s + _SCRATCH[k] * _TABLE[k] + _LAST[0] ** 2)


@case(vector(4, 0.5, 2.0), on_list)
def fraction_constants_mixed(xs):
    """Exact Fraction constants mixed into float arithmetic (rate * v goes through
    Fraction.__rmul__, float(Fraction) for a step), as financial code does."""
    rate = Fraction(3, 100)
    tax = Fraction(1, 5)
    acc = 0.0
    for v in xs:
        acc = acc * (1 + rate) + v * (1 - tax)
        acc -= rate * v
    step = float(Fraction(1, 3))
    return acc + step * xs[0] ** 2 + xs[1] / Fraction(7, 2)


@case(vector(4, 0.2, 2.0), on_list)
def complex_polar_rect(xs):
    """Complex arithmetic on Python complex numbers: complex(a, b), cmath.polar / rect,
    abs(), conjugate(), z ** 0.5 and z ** w, and .real / .imag reads."""
    z = complex(xs[0], xs[1])
    w = complex(xs[2], -xs[3])
    r, phi = cmath.polar(z * w)
    back = cmath.rect(r * 0.5, phi + xs[0])
    root = z ** 0.5
    pw = z ** (0.3 + 0.1j)
    q = (z / w).conjugate()
    return back.real + back.imag + abs(root) + pw.imag + q.imag * q.real + abs(z - w)


# ================================================================ numerical methods


@case(vector(5, -1.5, 1.5))
def polynomial_roots_irr(x):
    """Internal rate of return: np.roots of the cash-flow polynomial (companion-matrix
    eigenvalues), the real positive root chosen with np.isreal and a mask, then a price."""
    flows = np.concatenate([[-10.0], 2.5 + 0.3 * x])
    roots = np.roots(flows[::-1])
    real = roots[np.isreal(roots)].real
    v = real[real > 0][0]
    irr = 1.0 / v - 1.0
    return float(irr + np.sum(np.abs(roots) ** 2) * 0.01)


@case(matrix(3, diag=0.0))
def eigh_matrix_functions(x):
    """Matrix square root, exponential and logarithm of an SPD matrix through np.linalg.eigh
    (V diag(f(w)) V^T, written with broadcasting and with np.diag), compared with
    scipy.linalg.expm."""
    from scipy import linalg

    m = x.reshape(3, 3)
    s = m @ m.T + 2.0 * np.eye(3)
    w, v = np.linalg.eigh(s)
    sq = (v * np.sqrt(w)) @ v.T
    ex = v @ np.diag(np.exp(0.2 * w)) @ v.T
    lg = np.einsum("ij,j,kj->ik", v, np.log(w), v)
    ref = linalg.expm(0.2 * s)
    return float(np.trace(sq) + ex[0, 1] + lg.sum() + (ref - ex).sum() * 100.0 + ref[2, 2])


@case(vector(3, 0.3, 1.2))
def butcher_tableau_rk(p):
    """The 3/8-rule Runge-Kutta method driven by its Butcher tableau arrays, the stages kept
    in a 2-d array written row by row (k[i] = f(t + c[i] h, y + h a[i, :i] @ k[:i]))."""
    a = np.array([[0, 0, 0, 0], [1 / 3, 0, 0, 0], [-1 / 3, 1, 0, 0], [1, -1, 1, 0]], float)
    b = np.array([1, 3, 3, 1]) / 8.0
    c = np.array([0, 1 / 3, 2 / 3, 1])
    w, g = float(p[0]), float(p[1])

    def f(t, y):
        return np.array([y[1], -w * w * np.sin(y[0]) - g * y[1]])

    y = np.array([p[2], 0.0])
    h, t = 0.1, 0.0
    k = np.zeros((4, 2))
    for _ in range(20):
        for i in range(4):
            k[i] = f(t + c[i] * h, y + h * (a[i, :i] @ k[:i]))
        y = y + h * (b @ k)
        t += h
    return float(y[0] + 0.5 * y[1] ** 2)


@case(vector(2, 0.05, 0.8), on_list)
def kepler_equation_halley(ps):
    """Kepler's equation E - e sin E = M by Halley's method with a tolerance-driven while
    loop, then the true anomaly by math.atan2 and the radius."""
    e, mean_anom = ps[0], 1.0 + ps[1]
    big_e = mean_anom if e < 0.8 else math.pi
    while True:
        f = big_e - e * math.sin(big_e) - mean_anom
        fp = 1.0 - e * math.cos(big_e)
        fpp = e * math.sin(big_e)
        d = f / fp
        step = d / (1.0 - 0.5 * d * fpp / fp)
        big_e -= step
        if abs(step) < 1e-14:
            break
    nu = 2.0 * math.atan2(math.sqrt(1 + e) * math.sin(big_e / 2),
                          math.sqrt(1 - e) * math.cos(big_e / 2))
    return nu + (1.0 - e * math.cos(big_e))


@case(vector(6, -1.0, 1.0))
def interp_traced_breakpoints(x):
    """np.interp with traced sample values and traced (increasing) breakpoints, with left= /
    right= fill values from the data, and with period= for an angle table."""
    xp = np.cumsum(np.exp(x[:4]))
    fp = np.sin(x[:4]) + x[4]
    q = np.linspace(0.0, xp[-1] + 1.0, 9)
    y = np.interp(q, xp, fp, left=x[5], right=2.0 * x[5])
    ang = np.interp(np.array([0.3, 6.0, -1.0]), np.array([0.0, 1.5, 3.0, 4.5]),
                    np.cos(x[:4]), period=2.0 * np.pi)
    return float(y @ np.arange(1.0, 10.0) + ang.sum())


def _with_zero(n, lo, hi):
    def draw(rng):
        v = rng.uniform(lo, hi, size=n)
        v[2] = 0.0
        return v
    return draw


@case(_with_zero(5, 0.2, 1.5))
def products_through_exact_zero(x):
    """Products where one factor is an exact 0.0 in the data (a sample that is zero):
    np.prod, math.prod, np.cumprod, np.multiply.reduce and a product loop; their gradient
    with respect to the zero factor is the product of the others."""
    p1 = np.prod(x)
    p2 = math.prod(x.tolist())
    c = np.cumprod(x)
    p3 = np.multiply.reduce(x[1:4])
    p4 = 1.0
    for v in x[:3]:
        p4 *= v
    return float(p1 + 2.0 * p2 + c @ np.arange(1.0, 6.0) + p3 + p4 + x.sum())


@case(vector(6, -1.0, 1.0))
def gradient_on_traced_coordinates(x):
    """np.gradient of samples on traced, non-uniform coordinates (edge_order 1 and 2),
    np.diff with n=2 and append=, and a 2-d np.gradient with per-axis spacings."""
    t = np.cumsum(np.exp(x))
    y = np.sin(t)
    g1 = np.gradient(y, t)
    g2 = np.gradient(y, t, edge_order=2)
    d2 = np.diff(y, n=2, append=x[0])
    gy, gx = np.gradient(np.outer(x, x[:3]), 0.5, x[1] + 2.0)
    return float(g1 @ np.arange(6.0) + g2.sum() + d2 @ d2 + gy.sum() + (gx ** 2).sum())


@case(vector(4, -1.0, 1.0))
def polynomial_classes_numpy(c):
    """np.polynomial classes with traced coefficients: Polynomial arithmetic, roots of its
    derivative, Chebyshev.interpolate of a traced function, and np.poly1d algebra."""
    from numpy.polynomial import Chebyshev, Polynomial

    p = Polynomial(np.concatenate([c, [1.0]]))
    q = p * p - p.deriv()
    crit = p.deriv(2).roots()
    ch = Chebyshev.interpolate(lambda t: np.exp(c[0] * t) * np.cos(t), 8)
    pd = np.poly1d(c[::-1]) ** 2 + np.poly1d([1.0, c[1]])
    return float(q(0.3) + np.real(crit).sum() + ch(0.4) + ch.integ()(1.0) + pd(0.7)
                 + pd.deriv()(0.2))


@case(vector(3, 0.5, 2.0), on_list)
def logging_midway(xs):
    """A solver logging its iterates with logging (lazy % arguments, a StringIO handler),
    str.format and repr of an array: the text is written, not read back."""
    log = logging.getLogger("classics6.solver")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    try:
        x = xs[0]
        for it in range(6):
            x = x - (x * x - xs[1]) / (2.0 * x)
            log.debug("iter %d x=%.6f target=%g", it, x, xs[1])
        msg = "{:.3e} / {!r}".format(x, np.array([x, xs[2]]))
        stream.write(msg)
    finally:
        log.removeHandler(handler)
    return x * xs[2] + len(stream.getvalue()) * 0.0


@case(vector(5, -1.0, 1.0))
def quantile_traced_level(x):
    """np.quantile with a traced level q (linear interpolation between order statistics),
    np.percentile with method='midpoint' and 'hazen', np.median of an even count."""
    data = np.sin(3.0 * x) + np.arange(5.0)
    q = 0.3 + 0.2 * math.tanh(x[0])
    a = np.quantile(data, q)
    b = np.percentile(data * 2.0, [20.0, 70.0], method="midpoint")
    c = np.percentile(data, 40.0, method="hazen")
    d = np.median(np.concatenate([data, [x[1] * 3.0]]))
    return float(a + b @ [1.0, 2.0] + c + d)


@case(vector(6, 0.2, 2.0))
def masked_invalid_statistics(x):
    """np.ma.masked_invalid of np.log of shifted data (NaN where negative), its mean / std
    / filled(0), and masked arithmetic with np.ma.array(mask=...)."""
    with np.errstate(invalid="ignore"):
        lg = np.log(x - 0.8)
    m = np.ma.masked_invalid(lg)
    a = np.ma.array(x ** 2, mask=[0, 1, 0, 0, 1, 0])
    b = (a * 2.0 + 1.0).sum()
    return float(m.mean() + m.std() + m.filled(0.0) @ np.arange(6.0) + b)


@case(vector(8, -1.0, 1.0))
def einsum_path_greedy_batch(x):
    """np.einsum_path computed once and reused (optimize=path), optimize='greedy', and an
    ellipsis batch contraction over a stacked array."""
    a = x[:4].reshape(2, 2)
    b = x[4:].reshape(2, 2)
    path, _ = np.einsum_path("ij,jk,kl->il", a, b, a, optimize="greedy")
    r1 = np.einsum("ij,jk,kl->il", a, b, a, optimize=path)
    r2 = np.einsum("ij,ji->", a, b, optimize="greedy")
    st = np.stack([a, b, a @ b])
    r3 = np.einsum("...ij,...j->...i", st, x[:2])
    return float(r1.sum() + r2 + (r3 ** 2).sum())


# ================================================================ finance and statistics


@case(vector(3, 0.15, 0.6), on_list)
def black_scholes_implied_vol(ps):
    """Black-Scholes call through math.erf, then the implied volatility of a traced market
    price recovered by Newton's method on vega (fixed 30 iterations)."""
    s0, k, t, r = 100.0, 95.0 + 10.0 * ps[0], 0.5 + ps[1], 0.02

    def ncdf(z):
        return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))

    def call(sig):
        d1 = (math.log(s0 / k) + (r + 0.5 * sig * sig) * t) / (sig * math.sqrt(t))
        return s0 * ncdf(d1) - k * math.exp(-r * t) * ncdf(d1 - sig * math.sqrt(t)), d1

    price, _ = call(ps[2])
    sig = 0.3
    for _ in range(30):
        c, d1 = call(sig)
        vega = s0 * math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi) * math.sqrt(t)
        sig -= (c - price) / vega
    return sig * 10.0 + price / 10.0


@case(vector(2, 0.1, 0.5), on_list)
def monte_carlo_antithetic(ps):
    """A European call by Monte Carlo with a seeded Generator and antithetic variates; the
    pathwise estimator through np.maximum (vol and rate traced)."""
    rng = np.random.default_rng(2024)
    z = rng.standard_normal(4000)
    z = np.concatenate([z, -z])
    sig, r = ps[0], 0.1 * ps[1]
    st = 100.0 * np.exp((r - 0.5 * sig ** 2) + sig * z)
    payoff = np.maximum(st - 100.0, 0.0)
    return float(np.exp(-r) * payoff.mean())


@case(vector(4, 0.2, 1.5))
def kalman_filter_constant_velocity(p):
    """A constant-velocity Kalman filter loop with np.linalg.inv, P = (I - K H) P, and the
    innovation log-likelihood (process and measurement noise traced)."""
    q, rr = float(p[0]) * 0.1, float(p[1])
    f = np.array([[1.0, 0.1], [0.0, 1.0]])
    h = np.array([[1.0, 0.0]])
    qm = q * np.array([[0.1 ** 3 / 3, 0.1 ** 2 / 2], [0.1 ** 2 / 2, 0.1]])
    xk, pk = np.zeros(2), np.eye(2)
    zs = np.sin(np.linspace(0.0, 3.0, 15)) * (1.0 + p[2]) + 0.1 * p[3]
    ll = 0.0
    for z in zs:
        xk = f @ xk
        pk = f @ pk @ f.T + qm
        s = h @ pk @ h.T + rr
        k = pk @ h.T @ np.linalg.inv(s)
        innov = z - (h @ xk)[0]
        xk = xk + (k * innov).ravel()
        pk = (np.eye(2) - k @ h) @ pk
        ll += -0.5 * (math.log(2 * math.pi * s[0, 0]) + innov ** 2 / s[0, 0])
    return float(ll)


@case(vector(4, -1.0, 1.0))
def gmm_em_steps(p):
    """Three EM steps of a two-component 1-d Gaussian mixture on fixed data (initial means,
    log-variance and weight traced): responsibilities by a max-subtracted log-sum-exp."""
    data = np.array([-2.1, -1.7, -1.2, -0.4, 0.3, 0.9, 1.4, 2.2, 2.6, 3.1])
    mu = np.array([p[0] - 1.0, p[1] + 1.5])
    var = np.exp(np.array([p[2], -p[2]]) * 0.5)
    pi = np.array([0.5 + 0.2 * p[3], 0.5 - 0.2 * p[3]])
    for _ in range(3):
        logp = (np.log(pi) - 0.5 * np.log(2 * np.pi * var)
                - 0.5 * (data[:, None] - mu) ** 2 / var)
        mx = logp.max(axis=1, keepdims=True)
        lse = mx + np.log(np.exp(logp - mx).sum(axis=1, keepdims=True))
        resp = np.exp(logp - lse)
        nk = resp.sum(axis=0)
        mu = (resp * data[:, None]).sum(axis=0) / nk
        var = (resp * (data[:, None] - mu) ** 2).sum(axis=0) / nk
        pi = nk / len(data)
    return float(lse.sum() + mu @ [1.0, 2.0] + var.sum())


class _Welford:
    """Welford's online mean and variance, updated one sample at a time."""

    __slots__ = ("n", "mean", "m2")

    def __init__(self):
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def update(self, v):
        self.n += 1
        d = v - self.mean
        self.mean += d / self.n
        self.m2 += d * (v - self.mean)

    @property
    def variance(self):
        return self.m2 / (self.n - 1)


@case(vector(7, -1.0, 2.0))
def welford_online_class(x):
    """Welford's online variance in a __slots__ class fed a stream of NumPy scalars, next to
    np.var(ddof=1) of the same data and a merge of two accumulators (Chan's formula)."""
    a, b = _Welford(), _Welford()
    for v in x[:4]:
        a.update(v)
    for v in x[4:]:
        b.update(v * 2.0)
    n = a.n + b.n
    d = b.mean - a.mean
    m2 = a.m2 + b.m2 + d * d * a.n * b.n / n
    return float(a.variance + m2 / (n - 1) + np.var(x, ddof=1) * a.mean)


@case(vector(6, 0.2, 2.0))
def weighted_cov_corrcoef(x):
    """np.cov with traced aweights and fweights-free rows, np.corrcoef of traced rows, and
    a weighted least-squares fit through np.linalg.lstsq(rcond=None)."""
    t = np.linspace(0.0, 1.0, 6)
    data = np.vstack([np.sin(t * 3.0) + x * 0.1, t * x, np.exp(-t) * x[0]])
    c = np.cov(data, aweights=x)
    r = np.corrcoef(data[:2])
    w = np.sqrt(x)
    coef, *_ = np.linalg.lstsq(np.vander(t, 3) * w[:, None], data[0] * w, rcond=None)
    return float(c.sum() + r[0, 1] + coef @ [1.0, 2.0, 3.0])


# ================================================================ graphics


@case(vector(3, 0.1, 0.9), on_list)
def colorsys_roundtrips(rgb):
    """colorsys (pure-Python stdlib) conversions of a traced colour: rgb_to_hsv, a hue shift,
    hsv_to_rgb; rgb_to_hls / hls_to_rgb; rgb_to_yiq; and sRGB gamma by a branch."""
    h, s, v = colorsys.rgb_to_hsv(*rgb)
    r2, g2, b2 = colorsys.hsv_to_rgb((h + 0.1) % 1.0, s * 0.8, v)
    hh, ll, ss = colorsys.rgb_to_hls(*rgb)
    r3, g3, b3 = colorsys.hls_to_rgb(hh, ll * 0.9, ss)
    y, i, q = colorsys.rgb_to_yiq(*rgb)

    def srgb(c):
        return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055

    return (sum(map(srgb, (r2, g2, b2))) + r3 * 2.0 + g3 + b3 * 3.0 + y + i * q
            + h * s)


def _casteljau(pts, t):
    if len(pts) == 1:
        return pts[0]
    return _casteljau([((1 - t) * a[0] + t * b[0], (1 - t) * a[1] + t * b[1])
                       for a, b in zip(pts, pts[1:])], t)


@case(vector(8, -1.0, 1.0), on_list)
def bezier_de_casteljau(xs):
    """A cubic Bezier curve evaluated by recursive de Casteljau on lists of tuples; its
    polyline arc length by math.dist over 16 samples and the area under it."""
    ctrl = [(xs[2 * i] + i, xs[2 * i + 1]) for i in range(4)]
    pts = [_casteljau(ctrl, k / 16) for k in range(17)]
    length = sum(math.dist(p, q) for p, q in zip(pts, pts[1:]))
    area = sum(0.5 * (p[1] + q[1]) * (q[0] - p[0]) for p, q in zip(pts, pts[1:]))
    return length + area


@case(vector(3, -0.3, 0.3))
def ray_sphere_shading(c):
    """Rays through a pixel grid hitting a sphere with traced centre offset: the
    discriminant test per ray, the nearest root, normals, and Lambert shading max(0, n.l)."""
    centre = np.array([c[0], c[1], 3.0 + c[2]])
    light = np.array([1.0, 1.0, -1.0]) / math.sqrt(3.0)
    total = 0.0
    for px in np.linspace(-0.3, 0.3, 5):
        for py in np.linspace(-0.3, 0.3, 5):
            d = np.array([px, py, 1.0])
            d /= np.linalg.norm(d)
            oc = -centre
            b = 2.0 * d @ oc
            disc = b * b - 4.0 * (oc @ oc - 1.0)
            if disc < 0:
                continue
            t = (-b - math.sqrt(disc)) / 2.0
            n = t * d - centre
            n /= np.linalg.norm(n)
            total += max(0.0, float(n @ light)) + 0.1 * t
    return total


@case(vector(10, -0.3, 0.3))
def shoelace_polygon_roll(x):
    """Area and centroid of a perturbed pentagon by the shoelace formula written with
    np.roll, and its perimeter through np.hypot of np.diff with append=."""
    ang = np.linspace(0.0, 2 * np.pi, 5, endpoint=False)
    px = np.cos(ang) + x[:5]
    py = np.sin(ang) + x[5:]
    cross = px * np.roll(py, -1) - np.roll(px, -1) * py
    area = 0.5 * cross.sum()
    cx = ((px + np.roll(px, -1)) * cross).sum() / (6.0 * area)
    cy = ((py + np.roll(py, -1)) * cross).sum() / (6.0 * area)
    per = np.hypot(np.diff(px, append=px[0]), np.diff(py, append=py[0])).sum()
    return float(area + cx * 2.0 + cy + per)


@case(vector(3, -1.0, 1.0))
def homogeneous_transforms(a):
    """2-d homogeneous transforms built with np.block / np.hstack / np.radians, composed
    with functools.reduce(np.matmul), applied to a point cloud."""
    def rot(deg):
        t = np.radians(deg)
        r = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
        return np.block([[r, np.zeros((2, 1))], [np.zeros((1, 2)), np.ones((1, 1))]])

    def trans(dx, dy):
        return np.vstack([np.hstack([np.eye(2), [[dx], [dy]]]), [0.0, 0.0, 1.0]])

    m = functools.reduce(np.matmul, [trans(a[0], 1.0), rot(30.0 * a[1]), trans(0.5, a[2])])
    pts = np.vstack([np.linspace(-1, 1, 4), np.linspace(0, 2, 4), np.ones(4)])
    out = m @ pts
    return float((out[:2] ** 2).sum() + np.linalg.det(m[:2, :2]) * a[0])


# ================================================================ signal processing


@case(vector(2, 0.05, 0.4), on_list)
def biquad_df2t_filter(ps):
    """An RBJ-cookbook low-pass biquad (cutoff and Q traced, math.tan pre-warp), run over a
    test signal in transposed direct form II with a two-element state list."""
    fc, q = ps[0], 0.5 + ps[1]
    k = math.tan(math.pi * fc)
    norm = 1.0 / (1.0 + k / q + k * k)
    b0 = k * k * norm
    b1, b2 = 2.0 * b0, b0
    a1 = 2.0 * (k * k - 1.0) * norm
    a2 = (1.0 - k / q + k * k) * norm
    state = [0.0, 0.0]
    out = 0.0
    for n in range(40):
        xn = math.sin(0.3 * n) + 0.5 * math.sin(1.9 * n)
        yn = b0 * xn + state[0]
        state[0] = b1 * xn - a1 * yn + state[1]
        state[1] = b2 * xn - a2 * yn
        out += yn * yn
    return out


@case(vector(16, -1.0, 1.0))
def hilbert_envelope_fft(x):
    """The analytic signal by FFT (h = [1, 2, ..., 2, 1, 0, ...]), its envelope np.abs and
    instantaneous phase np.unwrap(np.angle), with np.fft.fftshift / fftfreq weights."""
    n = len(x)
    sig = x + np.sin(np.arange(n) * 0.7) * 2.0
    spec = np.fft.fft(sig)
    h = np.zeros(n)
    h[0] = h[n // 2] = 1.0
    h[1:n // 2] = 2.0
    analytic = np.fft.ifft(spec * h)
    env = np.abs(analytic)
    phase = np.unwrap(np.angle(analytic))
    w = np.abs(np.fft.fftshift(np.fft.fftfreq(n)))
    return float(env.sum() + np.diff(phase).sum() * 0.1 + (np.abs(np.fft.fftshift(spec)) * w).sum())


@case(vector(16, -1.0, 1.0))
def cepstrum_hann_window(x):
    """A real cepstrum of a Hann-windowed frame (np.hanning): irfft(log|rfft|), its low
    quefrency energy, and autocorrelation by np.correlate('full')[n-1:]."""
    n = len(x)
    frame = (x + np.cos(np.arange(n) * 0.9) * 2.0) * np.hanning(n + 2)[1:-1]
    mag = np.abs(np.fft.rfft(frame)) + 1e-3
    cep = np.fft.irfft(np.log(mag), n=n)
    ac = np.correlate(frame, frame, "full")[n - 1:]
    return float((cep[:5] ** 2).sum() + ac[1:4].sum() / ac[0])


# ================================================================ physics


@case(vector(6, -0.2, 0.2))
def lennard_jones_triu(x):
    """Lennard-Jones energy of a 2-d cluster from pair distances gathered with np.triu_indices
    (r[i, j] from broadcast differences), and forces by explicit loops over the pairs."""
    pos = np.array([[0.0, 0.0], [1.1, 0.0], [0.5, 1.0]]) + x.reshape(3, 2)
    diff = pos[:, None, :] - pos[None, :, :]
    r2 = (diff ** 2).sum(axis=-1)
    iu = np.triu_indices(3, 1)
    inv6 = (1.0 / r2[iu]) ** 3
    energy = (4.0 * (inv6 * inv6 - inv6)).sum()
    force = np.zeros_like(pos)
    for i, j in zip(*iu):
        s6 = (1.0 / r2[i, j]) ** 3
        f = 24.0 * (2.0 * s6 * s6 - s6) / r2[i, j] * diff[i, j]
        force[i] += f
        force[j] -= f
    return float(energy + (force ** 2).sum() * 0.01)


@case(vector(12, -0.1, 0.1))
def wave_equation_buffer_rotation(x):
    """The 1-d wave equation by leapfrog with three buffers rotated by tuple assignment each
    step (u_prev, u, u_next = u, u_next, u_prev) and written with np.add(..., out=) views."""
    n = len(x)
    u_prev = np.sin(np.linspace(0, np.pi, n)) + x
    u = u_prev.copy()
    u_next = np.zeros(n)
    c2 = 0.25
    for _ in range(15):
        np.add(2.0 * u[1:-1] - u_prev[1:-1],
               c2 * (u[2:] - 2.0 * u[1:-1] + u[:-2]), out=u_next[1:-1])
        u_next[0] = u_next[-1] = 0.0
        u_prev, u, u_next = u, u_next, u_prev
    return float(u @ u + u_prev @ np.arange(n))


@case(vector(3, 0.2, 1.5))
def ising_mean_field_roll(p):
    """Mean-field magnetisation of a ring by a damped fixed-point iteration
    m = tanh(beta (J (roll(m, 1) + roll(m, -1)) + h)), with a site-dependent field."""
    beta, j = float(p[0]), float(p[1]) * 0.3
    h = 0.2 * np.cos(np.arange(8) * 0.8) + 0.1 * p[2]
    m = np.full(8, 0.1)
    for _ in range(60):
        m = 0.5 * m + 0.5 * np.tanh(beta * (j * (np.roll(m, 1) + np.roll(m, -1)) + h))
    return float(m.sum() + (m * np.roll(m, 1)).sum())


@case(vector(8, 0.0, 1.0))
def crank_nicolson_banded(x):
    """Heat equation by Crank-Nicolson: the tridiagonal system stored in LAPACK band form
    and solved with scipy.linalg.solve_banded each step (diffusivity profile traced)."""
    from scipy.linalg import solve_banded

    n = len(x)
    kappa = 0.5 + 0.5 * x
    r = 0.4 * kappa
    ab = np.zeros((3, n))
    ab[0, 1:] = -0.5 * r[:-1]
    ab[1] = 1.0 + r
    ab[2, :-1] = -0.5 * r[1:]
    u = np.exp(-((np.arange(n) - 3.5) ** 2))
    for _ in range(5):
        rhs = (1.0 - r) * u
        rhs[1:] += 0.5 * r[1:] * u[:-1]
        rhs[:-1] += 0.5 * r[:-1] * u[1:]
        u = solve_banded((1, 1), ab, rhs)
    return float(u @ np.arange(n))


@case(vector(4, -1.0, 1.0))
def velocity_verlet_cross(p):
    """A charged particle in a magnetic field: velocity Verlet-style Boris push with
    np.cross, field strength and initial velocity traced; the final kinetic energy and
    position."""
    b = np.array([0.0, 0.0, 1.0 + 0.5 * p[0]])
    e = np.array([0.1 * p[1], 0.0, 0.0])
    v = np.array([1.0, p[2], 0.2 * p[3]])
    xpos = np.zeros(3)
    dt = 0.1
    for _ in range(30):
        vm = v + 0.5 * dt * e
        t = 0.5 * dt * b
        vp = vm + np.cross(vm, t)
        v = vm + np.cross(vp, 2.0 * t / (1.0 + t @ t)) + 0.5 * dt * e
        xpos = xpos + dt * v
    return float(0.5 * v @ v + xpos @ [1.0, 2.0, 3.0])


# ================================================================ builtins, lists, library


@case(vector(6, -1.0, 1.0), on_list)
def c_iterators_builtin_steps(xs):
    """C builtins applied by C iterators to traced floats: itertools.starmap(math.hypot),
    map(pow, xs, repeat(2)), map(math.fsum, rows), sorted(key=abs), max(key=) with
    default, and math.hypot(*xs) / math.fsum / math.dist."""
    import itertools

    pairs = list(zip(xs[::2], xs[1::2]))
    h = sum(itertools.starmap(math.hypot, pairs))
    sq = sum(map(pow, xs, itertools.repeat(2)))
    rows = [xs[:3], xs[3:]]
    fs = list(map(math.fsum, rows))
    srt = sorted(xs, key=abs)
    big = max(xs, key=lambda v: v * v, default=0.0)
    return (h + sq + fs[0] * fs[1] + srt[0] * 2.0 + srt[-1] + big
            + math.hypot(*xs) + math.fsum(xs) + math.dist(xs[:3], xs[3:]))


@case(vector(7, -1.0, 1.0), on_list)
def list_mutation_methods(xs):
    """A Python list of traced floats mutated with insert, pop, del, reverse, remove,
    extended slice assignment (lst[::2] = ...), lst *= 2, index() and count()."""
    lst = list(xs)
    lst.insert(2, xs[0] * 3.0)
    last = lst.pop()
    del lst[1]
    lst.reverse()
    lst[::2] = [v * v for v in lst[::2]]
    lst.remove(lst[1])
    lst *= 2
    k = lst.index(lst[3])
    n = lst.count(lst[0])
    return sum((i + 1) * v for i, v in enumerate(lst)) + last * k + n * xs[2]


@case(vector(6, -1.0, 1.0))
def sum_start_and_generators(x):
    """sum() of arrays with an array start, sum() of a generator with a float start,
    np.sum of a list of arrays, functools.reduce(np.add), and math.fsum of a generator."""
    rows = [x[:3], x[3:] ** 2, np.sin(x[:3])]
    s1 = sum(rows, np.zeros(3))
    s2 = sum((v * v for v in x), 10.0)
    s3 = np.sum([x[:3], x[3:]], axis=0)
    s4 = functools.reduce(np.add, rows)
    s5 = math.fsum(v ** 3 for v in x)
    return float(s1 @ [1.0, 2.0, 3.0] + s2 + s3 @ s4 + s5)


@case(vector(6, -1.0, 1.0))
def may_share_memory_copies(x):
    """Copy-if-aliased idioms: np.may_share_memory / np.shares_memory deciding whether to
    copy before an in-place update, and a view that is (and one that is not) the input."""
    a = x.reshape(2, 3)
    b = a[:, ::-1]
    if np.may_share_memory(a, b):
        b = b.copy()
    b *= 2.0
    c = a.T
    if not np.shares_memory(c, x):
        c = c.copy()
    d = np.exp(x)
    e = d[1:]
    e += d[:-1]
    return float(a.sum() + (b * np.arange(6.0).reshape(2, 3)).sum() + c[0, 1] + d @ x)


@case(vector(12, -1.0, 1.0))
def batched_linalg_stack(x):
    """np.linalg on stacks of matrices: solve, inv, det and slogdet over a leading batch
    axis, and matmul broadcasting a vector against the stack."""
    m = x[:8].reshape(2, 2, 2) + 3.0 * np.eye(2)
    rhs = x[8:].reshape(2, 2)
    sol = np.linalg.solve(m, rhs[..., None])[..., 0]
    inv = np.linalg.inv(m)
    det = np.linalg.det(m)
    sign, logdet = np.linalg.slogdet(m)
    mv = m @ x[:2]
    return float(sol.sum() + inv[:, 0, 1].sum() + det @ [1.0, 2.0] + (sign * logdet).sum()
                 + (mv ** 2).sum())


@case(vector(5, -1.0, 1.0))
def scipy_structured_matrices(x):
    """scipy.linalg.toeplitz / hankel / circulant / block_diag of traced vectors (SciPy
    builds some with as_strided), a circulant solve by FFT and a Toeplitz matvec."""
    from scipy import linalg

    t = linalg.toeplitz(x, np.concatenate([[x[0]], x[1:] * 0.5]))
    h = linalg.hankel(x[:3], x[2:])
    c = linalg.circulant(np.concatenate([[4.0], x[1:] * 0.3]))
    bd = linalg.block_diag(h[:2, :2], t[:2, :2])
    sol = np.fft.ifft(np.fft.fft(np.arange(1.0, 6.0)) / np.fft.fft(c[:, 0])).real
    return float(t @ np.arange(5.0) @ x + h.sum() + sol @ x + bd.sum() + np.trace(c @ t))


@case(vector(4, -0.5, 0.5))
def scipy_stats_distributions(p):
    """scipy.stats: norm(loc, scale).logpdf / cdf with traced parameters,
    multivariate_normal.logpdf with a traced covariance, and t.logpdf."""
    from scipy import stats

    data = np.array([-1.0, -0.2, 0.4, 1.3])
    ll = stats.norm(loc=p[0], scale=1.0 + p[1] ** 2).logpdf(data).sum()
    cd = stats.norm.cdf(0.3, loc=p[0], scale=1.2)
    cov = np.array([[1.0 + p[2] ** 2, 0.3 * p[3]], [0.3 * p[3], 1.5]])
    mv = stats.multivariate_normal.logpdf(np.array([[0.1, 0.2], [0.5, -0.4]]),
                                          mean=[p[0], 0.0], cov=cov).sum()
    tl = stats.t.logpdf(data, df=4.0, loc=p[1]).sum()
    return float(ll + cd + mv + tl)


@case(vector(6, -1.0, 1.0))
def fromfunction_choose_compress(x):
    """np.fromfunction with a lambda of traced parameters, np.choose among traced arrays,
    np.compress / np.extract by a fixed condition, np.take(mode='wrap', out=)."""
    f = np.fromfunction(lambda i, j: x[0] * i + x[1] * j ** 2, (3, 4))
    ch = np.choose(np.array([0, 2, 1, 0, 2, 1]), [x, x ** 2, np.sin(x)])
    cp = np.compress([True, False, True, True, False, True], x * 3.0)
    ex = np.extract(np.arange(6) % 2 == 0, np.exp(x))
    out = np.zeros(4)
    np.take(x * 2.0, [5, 6, 7, -1], mode="wrap", out=out)
    return float(f.sum() + ch @ np.arange(6.0) + cp.sum() + ex.sum() + out @ [1.0, 2.0, 3.0, 4.0])


# ================================================================ data-dependent control flow


@case(vector(8, -1.0, 1.0))
def data_dependent_shapes(x):
    """Shapes decided by the data: the positive samples' mean (len of a boolean selection),
    a loop bounded by np.count_nonzero, np.nonzero's first index used as a split point."""
    pos = x[x > 0]
    mean = pos.sum() / max(len(pos), 1)
    acc = 0.0
    for i in range(np.count_nonzero(x > 0.3)):
        acc += x[i] * (i + 1)
    nz = np.flatnonzero(x < -0.2)
    split = int(nz[0]) if nz.size else 4
    return float(mean + acc + x[:split].sum() * 2.0 + x[split:] @ x[split:])


@case(vector(2, 0.2, 1.2), on_list)
def allclose_iteration_count(ps):
    """A fixed-point iteration x = cos(a x) + b stopped by np.allclose / math.isclose: the
    number of iterations depends on the inputs."""
    a, b = ps
    x = np.array([0.5, 1.0])
    for _ in range(500):
        new = np.cos(a * x) * 0.5 + b * np.array([1.0, 0.5])
        if np.allclose(new, x, rtol=0.0, atol=1e-13):
            x = new
            break
        x = new
    y = 1.0
    while True:
        ny = 0.5 * (y + a / y)
        if math.isclose(ny, y, rel_tol=1e-15):
            break
        y = ny
    return float(x.sum() + y)


@case(vector(8, -1.0, 1.0), on_list)
def dict_keyed_by_bins(xs):
    """Samples grouped in a dict keyed by their bin (int(math.floor(v * 2))), per-bin sums,
    then the bins visited in sorted order with weights by position."""
    bins = {}
    for v in xs:
        bins.setdefault(int(math.floor(v * 2.0)), []).append(v)
    total = 0.0
    for rank, key in enumerate(sorted(bins)):
        vals = bins[key]
        total += (rank + 1) * sum(vals) / len(vals) + key * vals[0] ** 2
    return total


@case(vector(4, -1.0, 1.0))
def searchsorted_segment_lookup(x):
    """A hand-written piecewise-linear lookup: np.searchsorted of traced queries in a fixed
    grid picks the segment, np.digitize picks a coefficient table row, int() of a traced
    position indexes a table."""
    grid = np.linspace(-1.5, 1.5, 7)
    vals = np.cos(grid) * 2.0
    q = np.sin(x * 1.3)
    k = np.clip(np.searchsorted(grid, q) - 1, 0, len(grid) - 2)
    t = (q - grid[k]) / (grid[k + 1] - grid[k])
    y = (1 - t) * vals[k] + t * vals[k + 1]
    table = np.array([[1.0, 0.5], [2.0, -0.5], [0.5, 1.5], [3.0, 0.1]])
    row = table[np.digitize(x, [-0.5, 0.0, 0.5])]
    idx = int((x[0] + 1.0) * 1.99)
    return float(y.sum() + (row[:, 0] * x + row[:, 1] * x ** 2).sum() + table[idx, 0] * x[1])


@case(vector(8, -1.0, 1.0))
def argmax_unravel_index(x):
    """The peak of a 2-d field located by np.unravel_index(np.argmax(...)), its neighbours
    read around it (clamped), and np.unique of rounded data counting cells."""
    f = np.outer(np.sin(x[:4] * 2.0), np.cos(x[4:]))
    i, j = np.unravel_index(np.argmax(f), f.shape)
    lo_i, hi_i = max(i - 1, 0), min(i + 2, 4)
    patch = f[lo_i:hi_i, max(j - 1, 0):min(j + 2, 4)]
    cells, counts = np.unique(np.floor(x * 2.0), return_counts=True)
    return float(patch.sum() + f[i, j] + (counts * cells).sum() * x[0])


# ================================================================ third round: the findings


@case(vector(8, -0.9, 0.9))
def pcm_quantise_int16(x):
    """Audio-style quantisation: samples stored into a preallocated int16 buffer
    (pcm[:] = x * 32767, truncating), a clipping flag array of bools written the same way,
    then dequantised and compared with the float signal (quantisation noise energy)."""
    pcm = np.empty(len(x), dtype=np.int16)
    pcm[:] = x * 32767.0
    flags = np.zeros(len(x), dtype=bool)
    flags[:] = np.abs(x) > 0.5
    deq = pcm / 32767.0
    noise = ((x - deq) ** 2).sum()
    return float(noise * 1e6 + deq @ x + flags @ x)


class _Gain:
    """A legacy units helper: multiplying by it scales a value (its __rmul__)."""

    def __init__(self, db):
        self.factor = 10.0 ** (db / 20.0)

    def __rmul__(self, other):
        return other * self.factor

    __mul__ = __rmul__


@case(vector(5, -1.0, 1.0))
def numpy_scalar_times_user_number(x):
    """NumPy scalars taken from an array multiplied by a user number class with __rmul__
    (a gain in dB), next to terms computed directly: NumPy's object loop hands __rmul__ a
    Python float."""
    g = _Gain(6.0)
    total = 0.0
    for v in x:
        total += v * g + v * v
    return float(total)


@case(vector(8, -1.0, 1.0), on_list)
def lexicographic_tuple_choice(xs):
    """Model selection comparing (cost, complexity) tuples lexicographically
    (if (cost, k) < best[:2]): the cheapest candidate wins, ties broken by size; then
    pairwise (value, rank) tuple comparisons and a list comparison choose terms."""
    best = (math.inf, 0, 0.0)
    for k in range(4):
        cost = (xs[2 * k] - 0.1 * k) ** 2 + 0.5 * xs[2 * k + 1]
        if (cost, k) < best[:2]:
            best = (cost, k, xs[2 * k + 1])
    acc = 0.0
    for i in range(4):
        acc += xs[i] if (xs[i], i) < (xs[i + 4], i) else 2.0 * xs[i + 4]
    upper = [xs[0], xs[1]] > [xs[2], xs[3]]
    return best[0] * (best[1] + 1) + best[2] + acc + (xs[4] if upper else 2.0 * xs[5])


@case(vector(9, -1.0, 1.0))
def sign_vote_counter(x):
    """Ensemble votes at three decision thresholds: collections.Counter of np.sign of the
    models' margins (as a list), the side with more votes, list.count and tuple.count of
    the votes."""
    total = 0.0
    for k, c in enumerate((-0.4, 0.0, 0.4)):
        votes = np.sign(x - c).tolist()
        tally = collections.Counter(votes)
        n_pos, n_neg = tally[1.0], tally[-1.0]
        side = 1.0 if n_pos >= n_neg else -1.0
        total += max(n_pos, n_neg) * x[k] + side * x[k + 3] + votes.count(-1.0) * x[k + 6]
        total += tuple(votes).count(1.0) * 0.5
    return float(total + x.sum())


@case(vector(8, -1.0, 1.0))
def relu_truthiness_branches(x):
    """Hand-written ReLU units whose outputs are tested for truth (if h:, h or default,
    not h), as scalar neural-network and sparse-update code does: inactive units (exact
    zeros) take other branches."""
    w = np.array([1.0, -0.8, 0.6, -1.2, 0.9, -0.5, 1.1, -0.7])
    hidden = np.maximum(w * x + 0.1, 0.0)
    total = 0.0
    for k, h in enumerate(hidden):
        if h:
            total += h * h * (k + 1)
        else:
            total += 0.1 * x[k]
        scale = h or 1.0
        total += scale * 0.5
        if not h:
            total -= x[(k + 1) % 8] * 0.2
    return float(total)


@case(vector(8, -1.0, 1.0), on_list)
def decorate_sort_undecorate(xs):
    """The decorate-sort-undecorate idiom: sorted() of (|v|, i) tuples (and of (v, i)
    descending), the ranks used as weights, as code older than key= does."""
    decorated = sorted((abs(v), i) for i, v in enumerate(xs))
    total = sum(rank * xs[i] for rank, (_, i) in enumerate(decorated))
    desc = sorted([(v, i) for i, v in enumerate(xs)], reverse=True)
    return total + sum(v * (rank + 1) for rank, (v, _) in enumerate(desc[:3]))


@case(vector(10, -1.0, 1.0))
def run_length_groupby(x):
    """Run-length encoding of a quantised signal: itertools.groupby (no key: runs of equal
    values) over np.sign(x).tolist(), the run lengths weighting each run's samples."""
    import itertools

    levels = np.sign(x).tolist()
    total, pos = 0.0, 0
    for level, run in itertools.groupby(levels):
        n = len(list(run))
        total += n * n * level + x[pos:pos + n].sum() * n
        pos += n
    return float(total)
