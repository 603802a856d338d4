# ruff: noqa: B905 - legacy code: zip() without strict=, as it was written
"""Conversions and container idioms between NumPy and plain Python that legacy code is full
of: tolist, nditer, flat, fill, sort in place, builtin sum/max/sorted over arrays, sets,
itertools, functools.partial, user classes with operator overloading and __slots__."""

from registry import case, on_list, vector


@case(vector(5, -1.0, 1.0))
def ndarray_tolist(x):
    """x.tolist() then a pure-Python loop."""
    total = 0.0
    for v in x.tolist():
        total += v * v
    return total


@case(vector(5, -1.0, 1.0))
def nditer_loop(x):
    """Iterating with np.nditer (0-d views)."""
    import numpy as np

    total = 0.0
    for v in np.nditer(x):
        total += float(v) ** 3
    return total


@case(vector(5, -1.0, 1.0))
def flat_and_item(x):
    """x.flat[i] and x.item(i) element access."""
    return sum(x.flat[i] * x.item(i) for i in range(x.size))


@case(vector(3, 0.5, 1.5))
def fill_with_traced_value(x):
    """arr.fill(traced scalar) and np.full_like with a traced fill value."""
    import numpy as np

    a = np.empty(4)
    a.fill(x[0])
    b = np.full_like(a, x[1])
    return float(np.sum(a * b) + x[2])


@case(vector(6, -1.0, 1.0))
def sort_in_place(x):
    """A copy sorted in place (ndarray.sort), weighted by rank."""
    import numpy as np

    y = x.copy()
    y.sort()
    return float(y @ np.arange(1.0, 7.0))


@case(vector(5, -1.0, 1.0))
def builtins_over_array(x):
    """Builtin sum, max, min and sorted applied to an ndarray."""
    return sum(x) + max(x) * 2.0 - min(x) + sorted(x)[1] * 0.5


@case(vector(5, 0.0, 4.0), on_list)
def set_dedupe(xs):
    """Values deduplicated through a set, then sorted and summed (distinct values)."""
    return sum(v * v for v in sorted(set(xs)))


@case(vector(4, -1.0, 1.0), on_list)
def itertools_product_combinations(xs):
    """Pairwise products over itertools.combinations and a grid from itertools.product."""
    import itertools

    pairs = sum(a * b for a, b in itertools.combinations(xs, 2))
    grid = sum(a - b for a, b in itertools.product(xs[:2], xs[2:]))
    chained = sum(itertools.chain(xs[:1], itertools.islice(xs, 2, 4)))
    return pairs + grid ** 2 + chained


@case(vector(3, 0.5, 2.0), on_list)
def functools_partial(p):
    """A model function specialised with functools.partial, then evaluated on a grid."""
    import functools

    def model(t, a, b, c):
        return a * t * t + b * t + c

    m = functools.partial(model, a=p[0], b=p[1])
    return sum(m(0.1 * k, c=p[2]) ** 2 for k in range(10))


class Vec2:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __add__(self, other):
        return Vec2(self.x + other.x, self.y + other.y)

    def __mul__(self, s):
        return Vec2(self.x * s, self.y * s)

    __rmul__ = __mul__

    def __iadd__(self, other):
        self.x += other.x
        self.y += other.y
        return self

    def __abs__(self):
        return (self.x * self.x + self.y * self.y) ** 0.5


@case(vector(4, -1.0, 1.0), on_list)
def operator_overloading_class(v):
    """A 2-D vector class with __slots__, __add__, __rmul__, __iadd__ and __abs__."""
    p, q = Vec2(v[0], v[1]), Vec2(v[2], v[3])
    acc = Vec2(0.0, 0.0)
    for k in range(5):
        acc += 0.5 * p + q * (k * 0.1)
    return abs(acc)


@case(vector(6, -1.0, 1.0), on_list)
def sentinel_minimum(xs):
    """The minimum found with a float('inf') sentinel and a loop, plus its neighbour."""
    best, where = float("inf"), -1
    for i, v in enumerate(xs):
        if v < best:
            best, where = v, i
    return best + 0.5 * xs[(where + 1) % len(xs)]


@case(vector(4, 0.5, 2.0))
def tobytes_frombuffer(x):
    """An array serialised with tobytes and rebuilt with np.frombuffer (raw bytes)."""
    import numpy as np

    y = np.frombuffer((x * 2.0).tobytes(), dtype=float)
    return float(np.sum(y ** 2) + x.sum())


@case(vector(4, 0.5, 2.0))
def memoryview_buffer(x):
    """Values read back through a memoryview of the array's buffer."""
    m = memoryview(x * 3.0)
    return sum(m[i] for i in range(len(m))) + float(x[0])


@case(vector(5, -1.0, 1.0))
def copyto_and_putmask(x):
    """np.copyto into a buffer and np.putmask with a traced replacement."""
    import numpy as np

    buf = np.zeros(5)
    np.copyto(buf, x * 2.0)
    np.putmask(buf, buf < 0.0, x ** 2)
    return float(np.sum(buf ** 2))


@case(vector(4, -1.0, 1.0), on_list)
def super_and_inheritance(v):
    """A model hierarchy: a subclass overriding energy() and calling super()."""
    class Spring:
        def __init__(self, k):
            self.k = k

        def energy(self, d):
            return 0.5 * self.k * d * d

    class AnharmonicSpring(Spring):
        def __init__(self, k, c):
            super().__init__(k)
            self.c = c

        def energy(self, d):
            return super().energy(d) + self.c * d ** 4

    s = AnharmonicSpring(1.0 + v[0] ** 2, 0.1 + v[1] ** 2)
    return s.energy(v[2]) + s.energy(v[3])


@case(vector(3, -1.0, 1.0), on_list)
def generator_send(xs):
    """A running-average coroutine driven with send()."""
    def averager():
        total, count, avg = 0.0, 0, None
        while True:
            value = yield avg
            total += value
            count += 1
            avg = total / count

    co = averager()
    next(co)
    out = 0.0
    for x in xs:
        out += co.send(x) ** 2
    return out
