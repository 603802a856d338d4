# ruff: noqa: B905 - legacy code: zip() without strict=, as it was written
"""A fourth set of legacy programs, mostly language and library idioms: coroutines driven
through `yield from`, context managers, try/except/else/finally in loops, recursive methods,
functools.singledispatch, attrgetter/sorted(key=) on traced properties, heapq event queues,
itertools tee/islice/chain/starmap, deque rotation, Counter.most_common, namedtuple._replace
and star-unpacking, walrus and match statements, f-string logging, frozen dataclasses, a
Polynomial class, descriptors and __getattr__ delegation, class-level caches with super();
np.vectorize(signature=), np.where with a NaN branch, mask / put / place writes, lexsort and
take_along_axis, unique(return_inverse) with bincount weights, histogram weights, convolve /
correlate modes, polyfit / roots, slogdet / pinv / matrix_power / inv, Broyden's method, QR /
SVD / eigvalsh norms, np.gradient / diff(prepend=) / cumsum(out=), ufunc where= on strided
slices, reshape and transpose views written through, nditer readwrite, stacked rows, complex
intermediates, errstate / seterr, integer arrays, meshgrid fields, ufunc.outer, seeded
Generator permutations; statistics weights, seeded random bootstraps, copies and pickles of
array-holding objects, weakref caches, threading.local, and values stored through sqlite3,
csv, array.array and json (default=vars); SciPy root_scalar / minimize_scalar (implicit
references), special functions, triangular / Cholesky / LU solves, clamped CubicSpline,
block-wise lfilter, quad with args=, expm_multiply."""

import functools
import math

import numpy as np
from registry import case, matrix, on_list, scalar, vector

# ------------------------------------------------------------------ Python control flow


def _averager():
    total, count = 0.0, 0
    while True:
        value = yield
        if value is None:
            return total / count
        total += value
        count += 1


def _grouper(results, key):
    while True:
        results[key] = yield from _averager()


@case(vector(6, -1.0, 2.0), on_list)
def coroutine_grouper_yield_from(xs):
    """Fluent Python's averager: a delegating generator forwards send() through `yield from`
    to a coroutine whose return value (StopIteration.value) lands in a dict."""
    data = {"a": [v * v for v in xs[:3]], "b": [math.exp(v) for v in xs[3:]]}
    results = {}
    for key, values in data.items():
        group = _grouper(results, key)
        next(group)
        for value in values:
            group.send(value)
        group.send(None)
    return results["a"] * 2.0 + results["b"]


class _Accumulate:
    def __init__(self, log):
        self.log = log
        self.total = 0.0

    def __enter__(self):
        return self

    def add(self, v):
        self.total += v

    def __exit__(self, exc_type, exc, tb):
        self.log.append(self.total)
        return False


@case(vector(5, -1.0, 1.0), on_list)
def context_manager_accumulator(xs):
    """A class-based context manager that records its running total on exit, and a
    contextlib.contextmanager that scales what it yields."""
    import contextlib

    @contextlib.contextmanager
    def scaled(factor):
        box = [factor]
        try:
            yield box
        finally:
            box[0] = 0.0

    log = []
    for k in range(3):
        with _Accumulate(log) as acc, scaled(1.0 + k) as s:
            for v in xs:
                acc.add(s[0] * math.sin(v + k))
    return log[0] + 2.0 * log[1] - log[2] ** 2


@case(vector(6, 0.2, 2.0), on_list)
def try_except_finally_loop(xs):
    """try / except / else / finally inside a loop: a log of a ratio that sometimes raises
    (a fixed zero denominator), finally counting attempts."""
    dens = [1.0, 0.0, 2.0, 0.5, 0.0, 3.0]
    total, attempts, failures = 0.0, 0, 0
    for v, d in zip(map(float, xs), dens):
        try:
            r = v / d
        except ZeroDivisionError:
            failures += 1
            total += v * v
            continue
        else:
            total += math.log(1.0 + r)
        finally:
            attempts += 1
    return total * attempts / (attempts + failures)




class _Node:
    def __init__(self, op, left=None, right=None, value=None):
        self.op, self.left, self.right, self.value = op, left, right, value

    def evaluate(self, env):
        if self.op == "var":
            return env[self.value]
        if self.op == "const":
            return self.value
        lhs, rhs = self.left.evaluate(env), self.right.evaluate(env)
        return {"+": lambda: lhs + rhs, "*": lambda: lhs * rhs,
                "/": lambda: lhs / rhs, "^": lambda: lhs ** rhs}[self.op]()

    def depth(self):
        return 1 if self.op in ("var", "const") else 1 + max(self.left.depth(),
                                                           self.right.depth())


@case(vector(3, 0.5, 2.0), on_list)
def expression_tree_methods(p):
    """An expression tree evaluated by a recursive method (dispatch through a dict of
    lambdas), for (x + y*z)^1.5 / (x*z + 2)."""
    N = _Node
    x, y, z = (N("var", value=k) for k in "xyz")
    tree = N("/", N("^", N("+", x, N("*", y, z)), N("const", value=1.5)),
             N("+", N("*", x, z), N("const", value=2.0)))
    env = dict(zip("xyz", p))
    return tree.evaluate(env) * tree.depth()




@functools.singledispatch
def _energy(obj):
    raise TypeError(type(obj))


@_energy.register
def _(obj: float):
    return 0.5 * obj * obj


@_energy.register
def _(obj: list):
    return sum(_energy(v) for v in obj)


@_energy.register
def _(obj: np.ndarray):
    return float(0.5 * obj @ obj) + 1.0


@case(vector(6, -1.0, 1.0))
def singledispatch_energy(x):
    """functools.singledispatch over float / list / ndarray, reduce with operator.add and a
    functools.partial-bound weight."""
    import operator

    def weighted(w, v):
        return w * v

    half = functools.partial(weighted, 0.5)
    parts = [_energy(float(x[0])), _energy([float(v) for v in x[1:3]]), _energy(x[3:] * 2.0)]
    return functools.reduce(operator.add, map(half, parts), 0.0)


class _Particle:
    def __init__(self, name, mass, speed):
        self.name, self.mass, self.speed = name, mass, speed

    @property
    def energy(self):
        return 0.5 * self.mass * self.speed ** 2


@case(vector(5, 0.1, 3.0), on_list)
def attrgetter_sorted_particles(speeds):
    """Particles sorted by a traced property with operator.attrgetter; the top three's
    energies weighted by rank, and max(..., key=) of momentum."""
    import operator

    ps = [_Particle(f"p{i}", 1.0 + 0.5 * i, s) for i, s in enumerate(speeds)]
    ranked = sorted(ps, key=operator.attrgetter("energy"), reverse=True)
    top = sum((3 - r) * p.energy for r, p in enumerate(ranked[:3]))
    fastest = max(ps, key=lambda p: p.mass * p.speed)
    return top + fastest.speed * fastest.mass


@case(vector(4, 0.5, 2.0), on_list)
def heapq_event_simulation(rates):
    """A discrete-event simulation: a heap of (time, server) events with traced service
    times; returns the mean completion time."""
    import heapq

    jobs = [1.0, 0.7, 1.3, 0.4, 0.9, 1.1, 0.6, 1.5]
    heap = [(0.0, k) for k in range(len(rates))]
    heapq.heapify(heap)
    done = []
    for j, work in enumerate(jobs):
        t, k = heapq.heappop(heap)
        finish = t + work / rates[k] + 0.01 * j
        done.append(finish)
        heapq.heappush(heap, (finish, k))
    return sum(done) / len(done) + heapq.nsmallest(1, heap)[0][0]


@case(vector(8, -1.0, 1.0), on_list)
def itertools_tee_islice_chain(xs):
    """itertools.tee of a generator, islice windows, chain of two streams, starmap of a
    two-argument function, and accumulate with an initial value."""
    import itertools

    gen = (math.exp(0.5 * v) for v in xs)
    a, b = itertools.tee(gen)
    next(b, None)
    ratios = list(itertools.starmap(lambda p, q: q / p, zip(a, b)))
    head = list(itertools.islice(ratios, 0, None, 2))
    stream = itertools.chain(head, (v * v for v in xs[-3:]))
    sums = list(itertools.accumulate(stream, initial=1.0))
    return sum(s * 0.1 * k for k, s in enumerate(sums))


@case(vector(6, -1.0, 1.0), on_list)
def deque_rotation_ring_filter(xs):
    """A ring buffer in a collections.deque rotated each step (a circular FIR filter), and
    a maxlen deque as a sliding window."""
    from collections import deque

    taps = deque([0.5, 0.3, 0.2])
    window = deque(maxlen=3)
    out = 0.0
    for v in xs:
        window.append(v)
        taps.rotate(1)
        out += sum(t * w for t, w in zip(taps, window)) ** 2
    ring = deque(xs)
    ring.rotate(-2)
    return out + ring[0] * ring[-1]


@case(vector(6, 0.1, 2.0), on_list)
def counter_weighted_tally(ws):
    """collections.Counter tallies with float weights (update with a mapping), most_common
    ordered by the traced weights, and Counter arithmetic."""
    from collections import Counter

    labels = ["a", "b", "a", "c", "b", "a"]
    tally = Counter()
    for lab, w in zip(labels, ws):
        tally.update({lab: w})
    extra = Counter({"a": 0.5, "c": 1.5})
    both = tally + extra
    top_label, top_weight = both.most_common(1)[0]
    return top_weight * 2.0 + sum(both.values()) + tally["b"] * tally["c"]


@case(vector(6, -1.0, 1.0), on_list)
def namedtuple_replace_unpacking(xs):
    """namedtuple states updated with _replace, star-unpacking of lists, and _asdict()."""
    from collections import namedtuple

    State = namedtuple("State", "pos vel acc")
    s = State(*xs[:3])
    first, *middle, last = xs[3:]
    for _ in range(5):
        s = s._replace(vel=s.vel + 0.1 * s.acc)
        s = s._replace(pos=s.pos + 0.1 * s.vel, acc=-s.pos + first * last)
    d = s._asdict()
    return d["pos"] ** 2 + d["vel"] + sum(middle) * s.acc


@case(vector(6, -1.0, 1.0))
def row_unpacking_arrays(v):
    """Tuple unpacking of array slices and rows: a, b, c = x[:3]; for p, q in arr2d; and
    zip over rows of a reshaped array."""
    a, b, c = v[:3]
    pts = v.reshape(3, 2)
    s = 0.0
    for p, q in pts:
        s += p * q + a * p
    for row, w in zip(pts, (1.0, 2.0, 3.0)):
        x0, y0 = row
        s += w * (x0 - y0) ** 2
    return float(s + b * c)


@case(vector(5, -1.0, 1.0), on_list)
def walrus_match_statement(xs):
    """The walrus operator in comprehension filters and while conditions, and a match
    statement over tuples and class patterns."""
    terms = [(t, y) for v in xs if (y := math.exp(v)) > 0.0 for t in ("exp",)]
    terms += [("pair", (v, v * v)) for v in xs[:2]]
    terms += [("scale", 3.0), ("other", None)]
    total = 0.0
    for term in terms:
        match term:
            case ("exp", float(y)):
                total += y
            case ("pair", (p, q)):
                total += p * q
            case ("scale", k):
                total *= k
            case _:
                total += 0.0
    i = 0
    while (r := total / (2.0 ** i)) > 1.0:
        i += 1
    return r + i


@case(vector(4, -1.0, 1.0), on_list)
def fstring_logging_midway(xs):
    """Logging that formats values mid-computation: f-strings into a list, %-style logger
    calls (lazy), and a formatted report line that is not used in the result."""
    import logging

    log = logging.getLogger("legacy.solver")
    history = []
    x = 1.0
    for k, v in enumerate(xs):
        x = x - 0.3 * (x - v) ** 3 - 0.1 * x
        history.append(f"step {k}: x={x:.6f} residual={(x - v):+.3e}")
        log.debug("iteration %d x=%g", k, x)
    report = "; ".join(history) + f" final={x!r}"
    return x * len(report) / len(report) + sum(v * v for v in xs)


@case(vector(4, -1.0, 1.0), on_list)
def frozen_dataclass_vector2(xs):
    """A frozen dataclass Vector2 with operator overloading, a cached norm property and
    dataclasses.replace; a polygon's perimeter and signed area."""
    from dataclasses import dataclass, replace

    @dataclass(frozen=True)
    class Vector2:
        x: float
        y: float

        def __add__(self, o):
            return Vector2(self.x + o.x, self.y + o.y)

        def __sub__(self, o):
            return Vector2(self.x - o.x, self.y - o.y)

        def __rmul__(self, k):
            return Vector2(k * self.x, k * self.y)

        def __abs__(self):
            return math.hypot(self.x, self.y)

        def cross(self, o):
            return self.x * o.y - self.y * o.x

    pts = [Vector2(2.0, 0.0), Vector2(xs[0], 2.0 + xs[1]), Vector2(-2.0, xs[2]),
           replace(Vector2(0.0, -2.0), x=xs[3])]
    per = sum(abs(b - a) for a, b in zip(pts, pts[1:] + pts[:1]))
    area = 0.5 * sum(a.cross(b) for a, b in zip(pts, pts[1:] + pts[:1]))
    return per + area + abs(0.5 * (pts[0] + pts[2]))


class Polynomial:
    __slots__ = ("c",)

    def __init__(self, coeffs):
        self.c = list(coeffs)

    def __call__(self, x):
        acc = 0.0
        for a in reversed(self.c):
            acc = acc * x + a
        return acc

    def __mul__(self, other):
        out = [0.0] * (len(self.c) + len(other.c) - 1)
        for i, a in enumerate(self.c):
            for j, b in enumerate(other.c):
                out[i + j] += a * b
        return Polynomial(out)

    def __add__(self, other):
        n = max(len(self.c), len(other.c))
        pad = lambda c: c + [0.0] * (n - len(c))  # noqa: E731
        return Polynomial([a + b for a, b in zip(pad(self.c), pad(other.c))])

    def deriv(self):
        return Polynomial([k * a for k, a in enumerate(self.c)][1:] or [0.0])


@case(vector(4, -1.0, 1.0), on_list)
def polynomial_class_algebra(cs):
    """A Polynomial class (__slots__, __call__, __mul__, __add__, deriv): (p*p + p')(0.7)
    and Newton's root refinement using the class."""
    p = Polynomial(cs)
    q = p * p + p.deriv()
    r = Polynomial([-2.0 - cs[0] ** 2, 0.0, 1.0])  # t^2 - (2 + c0^2): root near 1.5
    t = 1.5
    for _ in range(30):
        t -= r(t) / r.deriv()(t)
    return q(0.7) + t


class _Meters:
    """A descriptor storing a length in metres behind an attribute set in feet."""

    def __set_name__(self, owner, name):
        self.private = "_" + name

    def __get__(self, obj, objtype=None):
        return getattr(obj, self.private) * 3.28084

    def __set__(self, obj, value_feet):
        setattr(obj, self.private, value_feet / 3.28084)


class _Beam:
    length = _Meters()
    height = _Meters()

    def __init__(self, length, height, material):
        self.length, self.height = length, height
        self._material = material

    def __getattr__(self, name):
        return self._material[name]


@case(vector(3, 0.5, 2.0), on_list)
def descriptor_getattr_beam(p):
    """A data descriptor converting units on get/set and __getattr__ delegating unknown
    attributes to a dict of material properties: a beam's deflection."""
    beam = _Beam(10.0 * p[0], p[1], {"E": 200.0 * p[2], "load": 3.0})
    inertia = beam.height ** 3 / 12.0
    deflection = beam.load * beam.length ** 3 / (48.0 * beam.E * inertia)
    beam.height = beam.height * 1.1
    return deflection + beam.height


class _Shape:
    _cache: dict = {}

    def __init__(self, scale):
        self.scale = scale

    @classmethod
    def quad_weights(cls, n):
        if n not in cls._cache:
            cls._cache[n] = np.polynomial.legendre.leggauss(n)
        return cls._cache[n]

    def area(self):
        raise NotImplementedError


class _Ellipse(_Shape):
    def __init__(self, a, b):
        super().__init__(1.0)
        self.a, self.b = a, b

    def area(self):
        return math.pi * self.a * self.b * self.scale

    def perimeter(self):
        t, w = self.quad_weights(16)
        th = 0.5 * math.pi * (t + 1.0)
        return float(2.0 * math.pi * np.sum(w * np.sqrt((self.a * np.sin(th)) ** 2
                                                      + (self.b * np.cos(th)) ** 2)))


class _Circle(_Ellipse):
    def __init__(self, r):
        super().__init__(r, r)
        self.scale = 1.0 + 0.0 * r


@case(vector(3, 0.5, 2.0), on_list)
def class_cache_super_shapes(p):
    """A class-level cache of Gauss-Legendre nodes shared by subclasses, super().__init__
    chains, and an ellipse perimeter by quadrature."""
    shapes = [_Ellipse(p[0], p[1]), _Circle(p[2]), _Ellipse(p[2], p[0])]
    return sum(s.area() + s.perimeter() for s in shapes)




# ------------------------------------------------------------------ NumPy


@case(vector(6, -1.0, 1.0))
def vectorize_signature(v):
    """np.vectorize with a gufunc signature '(n)->()' over the rows of a matrix, and with
    otypes over elements."""
    def seg_len(row):
        return math.sqrt(sum(d * d for d in np.diff(row)) + 1.0)

    f = np.vectorize(seg_len, signature="(n)->()")
    g = np.vectorize(lambda t: math.sinh(t) / (1.0 + t * t), otypes=[float])
    return float(f(v.reshape(2, 3)).sum() + g(v).sum())


@case(vector(6, -1.0, 1.0))
def where_nan_branch(v):
    """np.where with both branches computed under np.errstate: sqrt of a negative number in
    the branch that is not taken (NaN there), and a log guarded the same way."""
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(v > 0, np.sqrt(v), -v ** 2)
        s = np.where(v != 0, np.log(np.abs(v)), 0.0)
    return float(r.sum() + 0.1 * s.sum())


@case(vector(8, -1.0, 1.0))
def mask_put_place_writes(v):
    """Boolean-mask assignment with a fixed mask, np.put at fixed indices, np.place with a
    fixed mask, and np.copyto(where=)."""
    a = v * 2.0 + 0.5
    mask = np.array([True, False, True, False, False, True, False, True])
    a[mask] = a[mask] ** 2
    a[~mask] *= np.exp(v[~mask])
    b = np.zeros(8)
    np.put(b, [0, 3, 5], v[:3] * 3.0)
    np.place(b, ~mask, np.sin(v[4:]))
    c = np.ones(8)
    np.copyto(c, a * b, where=mask)
    return float(a @ b + c.sum())


@case(vector(8, -1.0, 1.0))
def lexsort_take_along_axis(v):
    """Rows sorted by a computed key with argsort / take_along_axis, and records ordered by
    np.lexsort on (fixed group, traced value)."""
    m = v.reshape(2, 4)
    keys = np.sin(3.0 * m) + 0.05 * np.arange(4)
    order = np.argsort(keys, axis=1)
    ranked = np.take_along_axis(m, order, axis=1)
    groups = np.array([1, 0, 1, 0, 1, 0, 1, 0])
    idx = np.lexsort((v, groups))
    w = np.linspace(1.0, 2.0, 8)
    return float((ranked * np.array([1.0, 2.0, 3.0, 4.0])).sum() + v[idx] @ w)


@case(vector(8, -1.0, 1.0))
def unique_inverse_group_means(v):
    """Group means: np.unique(labels, return_inverse=True) and np.bincount with traced
    weights, the group means broadcast back with the inverse index."""
    labels = np.array(["b", "a", "c", "a", "b", "b", "c", "a"])
    names, inv = np.unique(labels, return_inverse=True)
    sums = np.bincount(inv, weights=np.exp(v))
    counts = np.bincount(inv)
    means = sums / counts
    resid = np.exp(v) - means[inv]
    return float(resid @ resid + means @ np.arange(1.0, len(names) + 1))




@case(vector(12, 0.0, 2.0))
def histogram_weights_density(w):
    """np.histogram of fixed samples with traced weights (density=True normalises by the
    traced total), and a weighted mean per bin."""
    samples = np.linspace(-1.0, 1.0, 12) ** 3
    h, edges = np.histogram(samples, bins=4, range=(-1.0, 1.0), weights=w + 0.5,
                            density=True)
    centres = 0.5 * (edges[1:] + edges[:-1])
    return float(h @ centres + (h ** 2).sum())


@case(vector(6, -1.0, 1.0))
def convolve_correlate_modes(v):
    """np.convolve in 'full', 'same' and 'valid' modes and np.correlate (which conjugates
    and reverses) with a traced kernel."""
    signal = np.sin(np.linspace(0.0, 3.0, 10))
    k = v[:3]
    full = np.convolve(signal, k, mode="full")
    same = np.convolve(k, signal, mode="same")
    valid = np.convolve(signal, k, mode="valid")
    corr = np.correlate(signal, v[3:], mode="valid")
    return float(full @ full + same.sum() + valid.max() * 0.0 + valid @ valid + corr.sum())


@case(vector(6, -1.0, 1.0))
def polyfit_roots_polyval(v):
    """A quadratic fitted with np.polyfit to traced data, its real roots by np.roots
    (companion eigenvalues), and np.polyval at those roots of another polynomial."""
    x = np.linspace(-2.0, 2.0, 6)
    y = x ** 2 - 1.0 + 0.2 * v
    c = np.polyfit(x, y, 2)
    r = np.roots(c)
    r = np.sort(r.real)
    return float(r[1] - r[0] + np.polyval([1.0, 0.5, 0.25], r).sum() + c[1])


@case(matrix(3, extra=0, diag=3.0))
def slogdet_pinv_power(a):
    """np.linalg.slogdet, det, pinv, matrix_power and inv of a 3x3 matrix."""
    A = a.reshape(3, 3)
    sign, logdet = np.linalg.slogdet(A)
    P = np.linalg.matrix_power(A / 3.0, 3)
    Ai = np.linalg.inv(A)
    return float(sign * logdet + np.trace(P) + np.linalg.pinv(A).sum()
                 + np.linalg.det(Ai) + (Ai @ Ai).trace())


@case(vector(2, 0.5, 1.5))
def broyden_inverse_updates(p):
    """Broyden's 'good' method for a 2x2 nonlinear system: an explicit Jacobian inverse
    from np.linalg.inv, then Sherman-Morrison updates with np.outer."""
    def F(z):
        return np.array([z[0] ** 2 + z[1] - p[0] - 1.0, z[0] - z[1] ** 3 + p[1] * 0.5])

    z = np.array([1.0, 1.0])
    J = np.array([[2.0 * z[0], 1.0], [1.0, -3.0 * z[1] ** 2]])
    H = np.linalg.inv(J)
    f = F(z)
    for _ in range(40):
        s = -H @ f
        z = z + s
        fn = F(z)
        y = fn - f
        f = fn
        if np.linalg.norm(s) < 1e-14:
            break
        Hy = H @ y
        H = H + np.outer(s - Hy, s @ H) / (s @ Hy)
    return float(z[0] + 2.0 * z[1])




@case(matrix(4, extra=0, diag=2.0))
def qr_svd_eigvalsh_norms(a):
    """np.linalg.qr's R diagonal, the nuclear and spectral norms (SVD), the Frobenius
    norm, and the eigenvalues of the symmetric part by eigvalsh."""
    A = a.reshape(4, 4)
    Q, R = np.linalg.qr(A)
    s = np.linalg.svd(A, compute_uv=False)
    ev = np.linalg.eigvalsh(0.5 * (A + A.T))
    return float(np.log(np.abs(np.diag(R))).sum() + np.linalg.norm(A, "nuc")
                 + np.linalg.norm(A, 2) + np.linalg.norm(A, "fro") + s[-1]
                 + ev[0] * ev[-1] + Q[0, 0] * np.sign(R[0, 0]))


@case(vector(9, -1.0, 1.0))
def gradient_diff_prepend_cumsum_out(v):
    """np.gradient with a coordinate array (second order at the edges), np.diff with
    prepend=, np.cumsum(out=) into a preallocated buffer, and np.trapezoid."""
    x = np.cumsum(np.linspace(0.5, 1.5, 9))
    y = np.sin(v) + x
    dy = np.gradient(y, x, edge_order=2)
    steps = np.diff(y, prepend=0.0)
    buf = np.empty(9)
    np.cumsum(steps * steps, out=buf)
    return float(np.trapezoid(dy ** 2, x) + buf[-1] + buf @ np.linspace(0.0, 1.0, 9))


@case(vector(10, -1.0, 1.0))
def ufunc_where_strided_slices(v):
    """ufuncs with out= and where= writing into strided slices, and in-place operations on
    a[::2] / a[1::3] / a[::-1]."""
    a = v.copy()
    a[::2] += 0.5 * a[1::2]
    a[1::3] *= np.cos(a[::4][:3])
    out = np.full(10, 2.0)
    np.multiply(a, v, out=out, where=np.arange(10) % 3 != 0)
    np.exp(a[::-1], out=a[::-1])
    np.add(out[::2], a[1::2], out=out[::2])
    return float(out.sum() + a @ np.arange(10.0) * 0.1)


@case(vector(9, -1.0, 1.0))
def reshape_transpose_views_written(v):
    """Writes through reshape / transpose / ravel views of a working buffer: the buffer is
    read after its views were updated in place."""
    buf = v * 1.0
    M = buf.reshape(3, 3)
    M.T[0] += 1.0  # the first column
    M[1:, 1:] *= M[:2, :2]
    flat = M.T.ravel()  # a copy (not contiguous)
    flat[0] = 100.0
    r = M.ravel()  # a view
    r[-1] = r[0] * r[1]
    return float(buf @ np.arange(9.0) + flat.sum() + (M ** 2).sum())


@case(vector(5, -1.0, 1.0))
def nditer_readwrite(v):
    """np.nditer with op_flags=['readwrite'] updating an array element by element."""
    a = v * 2.0
    with np.nditer(a, op_flags=["readwrite"]) as it:
        for el in it:
            el[...] = el * el + 1.0
    return float(a.sum())


@case(vector(6, -1.0, 1.0))
def stacked_rows_array(v):
    """Rows computed in a Python loop and stacked (np.stack, np.vstack, np.column_stack,
    np.array of a list of arrays), then a Gram matrix determinant."""
    rows = []
    for k in range(3):
        rows.append(np.array([math.cos(v[k]), math.sin(v[k]) + v[k + 3], 0.5 * k]))
    A = np.stack(rows)
    B = np.vstack(rows[:2] + [np.ones(3)])
    C = np.column_stack([v[:3], v[3:]])
    D = np.array([r * 2.0 for r in rows])
    return float(np.linalg.det(A @ A.T + np.eye(3)) + B.sum() + (C ** 2).sum() + D[2, 1])




@case(vector(3, 0.1, 0.8))
def complex_frequency_response(p):
    """|H(e^{iw})|^2 of a second-order filter with traced coefficients, summed over a
    frequency grid (complex NumPy intermediates; np.abs and np.real of the result)."""
    w = np.linspace(0.0, np.pi, 32)
    z = np.exp(1j * w)
    num = 1.0 + p[0] / z
    den = 1.0 - p[1] / z + 0.5 * p[2] / z ** 2
    H = num / den
    return float(np.sum(np.abs(H) ** 2) * (w[1] - w[0]) + np.real(H[5] * np.conj(H[7])))


@case(vector(6, -1.0, 1.0))
def errstate_seterr_nan_to_num(v):
    """np.seterr saved and restored around a division by a fixed vector with a zero, the
    infinities replaced by np.nan_to_num; np.errstate around a log of a clipped array."""
    den = np.array([1.0, 0.0, 2.0, 4.0, 0.0, 0.5])
    old = np.seterr(divide="ignore", invalid="ignore")
    try:
        q = np.nan_to_num(np.exp(v) / den, posinf=0.0)
    finally:
        np.seterr(**old)
    with np.errstate(divide="ignore"):
        lg = np.log(np.clip(v + 2.0, 0.5, None))
    return float(q.sum() + lg.sum())


@case(vector(6, -1.0, 1.0))
def integer_arrays_mixed(v):
    """Integer arrays mixed with traced floats: np.arange ints as weights, integer powers,
    // and % on an int index array, np.int64 scalars, bool arrays in arithmetic."""
    k = np.arange(6)
    parity = (k % 2 == 0)
    blocks = k // 2
    scale = np.int64(3)
    y = v * k + v ** k + parity * v * scale
    agg = np.zeros(3)
    np.add.at(agg, blocks, y)
    return float(agg @ np.array([1, 2, 3]) + y[k[::-1]] @ k)


@case(vector(4, -1.0, 1.0))
def meshgrid_field_energy(p):
    """A 2-d field on a np.meshgrid grid (indexing='ij') with traced parameters, its
    gradient by np.gradient along both axes, integrated with nested np.trapezoid."""
    x = np.linspace(0.0, 1.0, 9)
    y = np.linspace(0.0, 2.0, 7)
    X, Y = np.meshgrid(x, y, indexing="ij")
    F = np.exp(-((X - 0.5 - 0.2 * p[0]) ** 2 + (Y - 1.0 - 0.3 * p[1]) ** 2)) * (1 + p[2] * X)
    gx, gy = np.gradient(F, x, y)
    dens = gx ** 2 + gy ** 2 + p[3] * F
    return float(np.trapezoid(np.trapezoid(dens, y, axis=1), x))






# ------------------------------------------------------------------ standard library


@case(vector(6, -1.0, 1.0), on_list)
def statistics_weights_proportional(ys):
    """statistics.fmean with weights, linear_regression(proportional=True), and
    math.sumprod / math.fsum of a generator."""
    import statistics

    xs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    w = [math.exp(y) for y in ys]
    m = statistics.fmean(xs, weights=w)
    slope = statistics.linear_regression(xs, [y * y + 1.0 for y in ys], proportional=True)
    return m + slope.slope + math.fsum(y ** 3 for y in ys)




@case(vector(8, -1.0, 1.0), on_list)
def seeded_random_bootstrap(xs):
    """A bootstrap with random.Random(42): shuffles and samples of the traced list (the
    permutations do not depend on the values), and choices of indices."""
    import random

    rnd = random.Random(42)
    data = [v * v + v for v in xs]
    means = []
    for _ in range(5):
        draw = rnd.choices(range(len(data)), k=len(data))
        means.append(sum(data[i] for i in draw) / len(draw))
    shuffled = data[:]
    rnd.shuffle(shuffled)
    picked = rnd.sample(data, 3)
    return sum(means) / 5 + shuffled[0] * 2.0 + sum(picked) + rnd.gauss(0.0, 1.0) * xs[0]


class _Model:
    def __init__(self, w):
        self.w = w
        self.history = [w.copy()]
        self.meta = {"lr": 0.1}


@case(vector(4, -1.0, 1.0))
def copy_deepcopy_array_state(v):
    """copy.copy (shared arrays) versus copy.deepcopy (independent arrays) of an object
    holding NumPy arrays; the shallow copy's in-place update is seen by the original."""
    import copy

    m = _Model(v * 2.0)
    shallow = copy.copy(m)
    deep = copy.deepcopy(m)
    shallow.w *= 1.5  # also updates m.w
    deep.w += np.sin(deep.w)
    deep.history.append(deep.w * deep.meta["lr"])
    return float(m.w @ v + deep.w.sum() + deep.history[-1] @ m.history[0])


@case(vector(4, -1.0, 1.0))
def pickle_array_object(v):
    """pickle.dumps / loads of an object holding NumPy arrays (a checkpoint in memory)."""
    import pickle

    m = _Model(np.exp(v))
    blob = pickle.dumps(m)
    back = pickle.loads(blob)
    return float(back.w @ v + back.history[0].sum())


class _Expensive:
    def __init__(self, a):
        self.a = a

    def value(self):
        return np.exp(-self.a) * self.a


@case(vector(5, 0.1, 2.0))
def weakref_value_cache(v):
    """A weakref.WeakValueDictionary cache of objects built from the input within one call;
    entries die with their last strong reference."""
    import weakref

    cache = weakref.WeakValueDictionary()
    keep = []
    total = 0.0
    for i, k in enumerate([0, 1, 0, 2, 1, 0]):
        obj = cache.get(k)
        if obj is None:
            obj = _Expensive(v[k:k + 3] * (1.0 + 0.1 * i))
            cache[k] = obj
            keep.append(obj)
        total += float(obj.value().sum())
    return total + float(weakref.ref(keep[0])().a @ v[:3])


_TLS = None


@case(vector(5, -1.0, 1.0), on_list)
def threading_local_accumulator(xs):
    """Per-thread state in a module-level threading.local (legacy solvers keep scratch
    accumulators there), filled and read on the calling thread."""
    import threading

    global _TLS
    if _TLS is None:
        _TLS = threading.local()
    _TLS.acc = 0.0
    _TLS.calls = 0

    def visit(v):
        _TLS.acc += math.atan(v) * (1 + _TLS.calls)
        _TLS.calls += 1

    for v in xs:
        visit(v)
    result = _TLS.acc / _TLS.calls
    del _TLS.acc
    return result


@case(vector(6, -1.0, 1.0))
def sqlite_results_table(v):
    """Per-step results stored in an in-memory sqlite3 table with executemany over a
    generator of rows, aggregated in SQL, plus a regularisation term computed directly."""
    import sqlite3

    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE results (step INTEGER, energy REAL)")
    state = 1.0
    energies = []
    for k in range(len(v)):
        state = 0.9 * state + 0.3 * math.tanh(v[k])
        energies.append(state * state)
    con.executemany("INSERT INTO results VALUES (?, ?)",
                    ((k, e) for k, e in enumerate(energies)))
    (total,) = con.execute("SELECT SUM(energy) FROM results WHERE step >= 2").fetchone()
    con.close()
    return total + 0.01 * float(v @ v)


@case(vector(6, -1.0, 1.0))
def csv_export_zip_rows(v):
    """A time series written as (t, y) rows with csv.writer.writerows(zip(...)) into a
    StringIO and read back with csv.reader for a smoothness penalty; the fit term uses the
    values directly."""
    import csv
    import io

    ts = [0.5 * k for k in range(len(v))]
    ys = [math.sin(t) + 0.5 * float(a) for t, a in zip(ts, v)]
    buf = io.StringIO()
    csv.writer(buf).writerows(zip(ts, ys))
    buf.seek(0)
    back = [float(row[1]) for row in csv.reader(buf)]
    penalty = sum((b - a) ** 2 for a, b in zip(back, back[1:]))
    return penalty + sum((y - math.sin(t)) ** 2 for t, y in zip(ts, ys))


@case(vector(6, -1.0, 1.0), on_list)
def array_module_from_generator(xs):
    """Compact storage of derived values in array.array('d', generator), summed later,
    next to a term that uses the values directly."""
    import array

    store = array.array("d", (math.exp(0.5 * x) for x in xs))
    store.append(1.0)
    return sum(store) / len(store) + sum(x * x for x in xs)


class _Station:
    def __init__(self, name, level, flow):
        self.name, self.level, self.flow = name, level, flow


@case(vector(6, 0.1, 2.0), on_list)
def json_default_object_state(xs):
    """Objects serialised with json.dumps(default=vars) and parsed back (a state file
    written between two stages); the second stage also uses the live values."""
    import json

    stations = [_Station(f"s{i}", xs[i] * 2.0, xs[i + 3] ** 2) for i in range(3)]
    text = json.dumps({"stations": stations}, default=vars)
    saved = json.loads(text)["stations"]
    stored = sum(s["level"] * s["flow"] for s in saved)
    return stored + sum(st.level for st in stations)


@case(vector(5, -1.0, 1.0))
def dict_values_ranking(v):
    """Scores kept in a dict by name, ranked with sorted(d.values()), the best by
    max(d.values()) and statistics.median(d.values())."""
    import statistics

    names = ["ann", "bob", "cid", "dee", "eve"]
    scores = {n: float(s) ** 2 + 0.1 * i for i, (n, s) in enumerate(zip(names, v))}
    ranked = sorted(scores.values(), reverse=True)
    top = max(scores.values())
    by_score = sorted(scores.items(), key=lambda kv: kv[1])
    return (sum(w * s for w, s in zip((3.0, 2.0, 1.0), ranked)) + top
            + statistics.median(scores.values()) + by_score[0][1])


@case(vector(8, -1.0, 1.0))
def permutation_test_generator(v):
    """A permutation test statistic with a seeded np.random.Generator: permuted copies of
    the (traced) data by rng.permutation, and rng.shuffle in place."""
    rng = np.random.default_rng(2024)
    data = np.exp(0.5 * v)
    observed = data[:4].mean() - data[4:].mean()
    stats = []
    for _ in range(10):
        p = rng.permutation(data)
        stats.append(p[:4].mean() - p[4:].mean())
    scratch = data.copy()
    rng.shuffle(scratch)
    return float(observed ** 2 + np.mean(np.square(stats)) + scratch[0])


@case(vector(6, -1.0, 1.0))
def pairwise_outer_kernel(v):
    """A Gaussian kernel matrix from pairwise differences by np.subtract.outer and a
    product weight by np.multiply.outer (the usual NumPy idiom), then its log-determinant."""
    d = np.subtract.outer(v, v)
    w = np.multiply.outer(np.ones(6) + 0.1 * v, np.ones(6))
    K = np.exp(-0.5 * d ** 2) * 0.5 * (w + w.T) + 0.1 * np.eye(6)
    return float(np.linalg.slogdet(K)[1] + K.sum())


# ------------------------------------------------------------------ SciPy


def _root_scalar_reference(c):
    from scipy.optimize import brentq

    r = brentq(lambda x: x * math.exp(x) - c, 0.0, 5.0, xtol=1e-15)
    return [1.0 / (math.exp(r) * (1.0 + r))]


@case(scalar(0.5, 5.0), reference=_root_scalar_reference)
def scipy_root_scalar_newton(c):
    """scipy.optimize.root_scalar with method='newton' and fprime (the Lambert W function
    of c); the implicit derivative 1 / (e^w (1 + w)) is the reference."""
    from scipy.optimize import root_scalar

    sol = root_scalar(lambda x: x * math.exp(x) - c, x0=1.0,
                      fprime=lambda x: math.exp(x) * (1.0 + x), method="newton", xtol=1e-14)
    return sol.root


def _minimize_scalar_reference(a):
    from scipy.optimize import brentq

    # d/dt [(t - a)^2 + 0.1 t^4 + t] = 0 -> 2 (t - a) + 0.4 t^3 + 1 = 0
    t = brentq(lambda t: 2.0 * (t - a) + 0.4 * t ** 3 + 1.0, -10.0, 10.0, xtol=1e-15)
    dt = 2.0 / (2.0 + 1.2 * t * t)
    return [dt]


@case(scalar(0.5, 3.0), reference=_minimize_scalar_reference)
def scipy_minimize_scalar_bounded(a):
    """scipy.optimize.minimize_scalar(method='bounded') of (t - a)^2 + 0.1 t^4 + t; the
    minimiser's implicit derivative is the reference."""
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(lambda t: (t - a) ** 2 + 0.1 * t ** 4 + t, bounds=(-5.0, 5.0),
                          method="bounded", options={"xatol": 1e-12})
    return res.x


@case(vector(5, 0.5, 3.0))
def scipy_special_mix(v):
    """scipy.special gammaln, digamma, xlogy, expit, erf and logsumexp with b= weights."""
    from scipy import special

    a = special.gammaln(v).sum() + special.xlogy(v, v + 1.0).sum()
    b = special.expit(v - 1.5) @ special.erf(v / 2.0)
    c = special.logsumexp(v, b=np.array([1.0, 0.5, 2.0, 1.0, 0.25]))
    return float(a + b + c + special.digamma(v[0]))


@case(matrix(4, extra=4, diag=4.0))
def scipy_triangular_cho_lu(a):
    """scipy.linalg.solve_triangular (lower), cho_factor / cho_solve of A A^T + I, and
    lu_factor / lu_solve of A."""
    from scipy.linalg import cho_factor, cho_solve, lu_factor, lu_solve, solve_triangular

    A = a[:16].reshape(4, 4)
    b = a[16:]
    y = solve_triangular(np.tril(A), b, lower=True)
    c = cho_factor(A @ A.T + np.eye(4))
    z = cho_solve(c, b)
    lu = lu_factor(A)
    w = lu_solve(lu, b, trans=1)
    return float(y @ y + z.sum() + w @ np.arange(1.0, 5.0))


@case(vector(6, -1.0, 1.0))
def scipy_clamped_spline(yv):
    """scipy.interpolate.CubicSpline with clamped end slopes, its derivative object, and
    second derivatives by cs(q, 2)."""
    from scipy.interpolate import CubicSpline

    x = np.linspace(0.0, 5.0, 6)
    cs = CubicSpline(x, yv, bc_type=((1, 0.5), (1, -0.5)))
    d = cs.derivative()
    q = np.array([0.3, 1.7, 2.2, 4.9])
    return float(cs(q).sum() + d(q) @ q + cs(q, 2) @ q ** 2)


@case(vector(3, 0.1, 0.6))
def scipy_lfilter_blockwise(p):
    """scipy.signal.lfilter run block by block (a stream), each block's final state zf
    passed on as the next block's zi, starting from lfilter_zi's steady state."""
    from scipy.signal import lfilter, lfilter_zi

    b = np.array([p[0], 0.5 * p[0]])
    a = np.array([1.0, -p[1], 0.5 * p[2]])
    x = np.cos(np.linspace(0.0, 6.0, 40))
    z = lfilter_zi(b, a) * x[0]
    energy = 0.0
    for block in np.split(x, 4):
        y, z = lfilter(b, a, block, zi=z)
        energy += float(y @ y)
    return energy


def _quad_args_reference(p):
    from scipy.integrate import quad

    a, b = p
    ga = quad(lambda t: -t * t * math.exp(-a * t * t) / (1.0 + b * t), 0.0, 3.0,
              epsabs=1e-14, epsrel=1e-13)[0]
    gb = quad(lambda t: -t * math.exp(-a * t * t) / (1.0 + b * t) ** 2, 0.0, 3.0,
              epsabs=1e-14, epsrel=1e-13)[0]
    return [ga, gb]


@case(vector(2, 0.5, 2.0), reference=_quad_args_reference)
def scipy_quad_args(p):
    """scipy.integrate.quad with the parameters passed through args= (a 2-argument
    integrand), as legacy code does."""
    from scipy.integrate import quad

    def integrand(t, a, b):
        return math.exp(-a * t * t) / (1.0 + b * t)

    val, _err = quad(integrand, 0.0, 3.0, args=(float(p[0]), float(p[1])),
                     epsabs=1e-13, epsrel=1e-12)
    return val


@case(vector(3, -0.5, 0.5))
def scipy_expm_multiply(p):
    """scipy.sparse.linalg.expm_multiply of a dense traced generator matrix against a
    vector, compared with scipy.linalg.expm."""
    from scipy.linalg import expm
    from scipy.sparse.linalg import expm_multiply

    A = np.array([[-1.0, p[0], 0.0], [0.2, -0.5, p[1]], [p[2], 0.1, -2.0]])
    v0 = np.array([1.0, 0.5, 0.25])
    u = expm_multiply(A, v0)
    E = expm(A * 0.5)
    return float(u @ np.arange(1.0, 4.0) + np.trace(E))
