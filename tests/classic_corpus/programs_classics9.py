# ruff: noqa: B905, UP031, UP032, UP033, E731, B006, B008, B009, B023, PLW0603 - legacy idioms, kept as written
"""A ninth set of legacy programs, written adversarially for Python semantics and NumPy
memory semantics, which programs_classics1..8 reach least: user number classes whose
operators fall back (__iadd__ returning NotImplemented, __radd__ under sum(), __rpow__,
__matmul__, __call__, __float__ under math), properties / cached_property invalidated with
del, descriptors, __slots__ with class defaults, __setattr__ / __getattr__ / vars() writes,
classes built with type(), dataclasses (field factories, replace, astuple copies),
NamedTuple._make / _replace, objects with __eq__ / __hash__ from rounded traced values as
dict keys, user iterators and __reversed__, context managers that write back on exit,
copy.copy sharing an array versus copy.deepcopy keeping aliasing inside one graph; functional
Python (reduce, partials of partials, lru_cache on a function defined per call, itertools
accumulate / starmap / compress / cycle / groupby over traced keys, generators driven by
send() with return values through yield from, closures with late binding, defaultdict and
Counter arithmetic that drops non-positive counts, heapq with tie counters, bisect with
key=, getattr / setattr by name, operator.methodcaller / itemgetter); and NumPy memory:
copies that look like views (a.T.reshape, ravel of a strided view, fancy and boolean reads
written to, astype(copy=False)), views that look like copies (np.flip, np.rot90, np.split,
np.squeeze, a.real of a real array, broadcast_arrays, as_strided windows), row swaps through
views (a[0], a[1] = a[1], a[0]) and tuple assignment of overlapping slices, overlapping
in-place ufuncs (a += a.T, a[1:] += a[:-1], a[:] = a[::-1]), a[::-1].sort(), out= into
views, np.put with repeated indices, putmask cycling values, a.flat assignment, int arrays
truncating traced writes, 0-d arrays updated in place, object arrays, np.vectorize /
frompyfunc / apply_along_axis / piecewise with Python callbacks; Fortran-ordered arrays
written through their order='F' reshapes and ravels (MATLAB ports); writers whose values
alias the written array (np.place, a.flat[k] = view, a.flat = view, np.fill_diagonal,
np.concatenate / np.stack with out=), which NumPy copies element by element without
buffering; object arrays whose maxima and in-place sorts pick items in C; rows of 2-d
arrays travelling through builtins as views; iterators reading memory written during the
loop. Each program is a deterministic function of its input. REPLAY_EXPECTED lists the
programs whose cached replays are known wrong."""

import bisect
import collections
import contextlib
import copy
import dataclasses
import functools
import heapq
import itertools
import math
import operator
import typing

import numpy as np
from registry import case, on_list, scalar, vector

# ================================================================ user number classes


class _V2:
    """A 2-vector whose in-place add returns NotImplemented for scalars."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __add__(self, o):
        if isinstance(o, _V2):
            return _V2(self.x + o.x, self.y + o.y)
        return _V2(self.x + o, self.y + o)

    __radd__ = __add__

    def __iadd__(self, o):
        if not isinstance(o, _V2):
            return NotImplemented
        self.x += o.x
        self.y += o.y
        return self

    def __mul__(self, k):
        return _V2(self.x * k, self.y * k)

    def __rmul__(self, k):
        return _V2(k * self.x, k * self.y)

    def __matmul__(self, o):
        return self.x * o.x + self.y * o.y

    def __neg__(self):
        return _V2(-self.x, -self.y)

    def __abs__(self):
        return math.hypot(self.x, self.y)

    def __iter__(self):
        yield self.x
        yield self.y


@case(vector(4, 0.2, 1.5))
def vec_iadd_notimplemented_fallback(x):
    """v += scalar falls back to __add__ (a new object: the alias keeps the old value),
    v += vector mutates in place (the alias sees it)."""
    v = _V2(x[0], x[1])
    alias = v
    v += x[2]
    w = _V2(x[2], x[3])
    alias2 = w
    w += _V2(x[0], 1.0)
    return (alias @ v) + abs(alias2) * w.y + sum(alias)


@case(vector(6, -1.0, 1.0))
def vec_sum_radd_start_zero(x):
    """sum() of user vectors starts at 0 (int + _V2 -> __radd__), then -v and k * v."""
    vs = [_V2(x[i], x[i + 1]) for i in range(0, 6, 2)]
    s = sum(vs)
    t = sum((-v * 0.5 for v in vs), _V2(1.0, 2.0))
    return s @ t + abs(3.0 * s)


class _Dual:
    """Forward-mode dual numbers (the program computes its own derivative)."""

    __slots__ = ("a", "b")

    def __init__(self, a, b=0.0):
        self.a, self.b = a, b

    def __add__(self, o):
        o = o if isinstance(o, _Dual) else _Dual(o)
        return _Dual(self.a + o.a, self.b + o.b)

    __radd__ = __add__

    def __sub__(self, o):
        o = o if isinstance(o, _Dual) else _Dual(o)
        return _Dual(self.a - o.a, self.b - o.b)

    def __rsub__(self, o):
        return _Dual(o) - self

    def __mul__(self, o):
        o = o if isinstance(o, _Dual) else _Dual(o)
        return _Dual(self.a * o.a, self.a * o.b + self.b * o.a)

    __rmul__ = __mul__

    def __truediv__(self, o):
        o = o if isinstance(o, _Dual) else _Dual(o)
        return _Dual(self.a / o.a, (self.b * o.a - self.a * o.b) / (o.a * o.a))

    def __rtruediv__(self, o):
        return _Dual(o) / self

    def __pow__(self, n):
        return _Dual(self.a ** n, n * self.a ** (n - 1) * self.b)

    def __rpow__(self, base):
        v = base ** self.a
        return _Dual(v, v * math.log(base) * self.b)

    def __float__(self):
        return float(self.a)


@case(scalar(0.3, 2.0))
def dual_numbers_rpow_rtruediv(t):
    """The program differentiates g(t) = 2**t / (1 + t**3) - 1/t with its own dual numbers
    and returns g + g' (framead differentiates the sum, so it needs g'')."""
    d = _Dual(t, 1.0)
    g = 2.0 ** d / (1 + d ** 3) - 1.0 / d
    return float(g) + g.b


class _Poly:
    """A polynomial that is callable, indexable and supports +, *, derivative."""

    def __init__(self, coeffs):
        self.c = list(coeffs)

    def __call__(self, x):
        acc = 0.0
        for c in reversed(self.c):
            acc = acc * x + c
        return acc

    def __getitem__(self, k):
        return self.c[k] if k < len(self.c) else 0.0

    def __setitem__(self, k, v):
        while len(self.c) <= k:
            self.c.append(0.0)
        self.c[k] = v

    def __len__(self):
        return len(self.c)

    def __add__(self, o):
        n = max(len(self), len(o))
        return _Poly([self[i] + o[i] for i in range(n)])

    def __mul__(self, o):
        out = _Poly([0.0] * (len(self) + len(o) - 1))
        for i, a in enumerate(self.c):
            for j, b in enumerate(o.c):
                out[i + j] = out[i + j] + a * b
        return out

    def deriv(self):
        return _Poly([i * c for i, c in enumerate(self.c)][1:] or [0.0])


@case(vector(4, -1.0, 1.0))
def poly_class_call_setitem(x):
    """Polynomial algebra through __getitem__ / __setitem__ growth / __call__: p*p + p'
    evaluated at a traced point, coefficient 5 written through p[5] = ..."""
    p = _Poly(x[:3])
    p[5] = x[3] * 0.1
    q = p * p + p.deriv()
    return q(0.5 + 0.1 * x[0]) + q[2]


class _Meters(float):
    """A float subclass whose arithmetic returns plain floats except __add__."""

    def __add__(self, o):
        return _Meters(float(self) + float(o))


@case(scalar(0.5, 2.0))
def float_protocol_math_calls(x):
    """math functions on an object with __float__ (converted in C), and on a float subclass."""
    class Q:
        def __init__(self, v):
            self.v = v

        def __float__(self):
            return self.v * 2.0

    q = Q(x)
    m = _Meters(x) + 1.0
    return math.sqrt(q) + math.log(m) + math.atan2(q, m) + float(m) * x


class _Temp:
    """A property with a setter that converts units, and a class-level counter."""

    reads = 0

    def __init__(self, celsius):
        self._c = celsius

    @property
    def kelvin(self):
        type(self).reads += 1
        return self._c + 273.15

    @kelvin.setter
    def kelvin(self, k):
        self._c = k - 273.15

    @property
    def fahrenheit(self):
        return self._c * 9 / 5 + 32


@case(vector(3, 10.0, 30.0))
def property_setter_units(x):
    """Setter through an expression of the getter, a class attribute mutated as state."""
    _Temp.reads = 0
    ts = [_Temp(c) for c in x]
    for t in ts:
        t.kelvin = t.kelvin * 1.01
    return sum(t.fahrenheit for t in ts) * 0.01 + _Temp.reads


class _Lazy:
    def __init__(self, a):
        self.a = a

    @functools.cached_property
    def heavy(self):
        return math.exp(self.a) / (1 + self.a * self.a)


@case(vector(3, -1.0, 1.0))
def cached_property_invalidated(x):
    """cached_property read, the base mutated (stale cache read), then del to recompute."""
    o = _Lazy(x[0])
    first = o.heavy
    o.a = x[1]
    stale = o.heavy
    del o.heavy
    fresh = o.heavy
    o.__dict__["heavy"] = x[2] ** 2
    return first + 2 * stale + 3 * fresh + o.heavy


class _Positive:
    """A data descriptor storing a clamped square in the instance dict under another name."""

    def __set_name__(self, owner, name):
        self.name = "_" + name

    def __get__(self, obj, objtype=None):
        return getattr(obj, self.name)

    def __set__(self, obj, value):
        setattr(obj, self.name, value * value + 0.1)


class _Spring:
    k = _Positive()
    c = _Positive()

    def __init__(self, k, c):
        self.k, self.c = k, c


@case(vector(4, -1.0, 1.0))
def descriptor_set_name_squares(x):
    """A __set_name__ descriptor squaring on set; getattr / setattr with computed names."""
    s = _Spring(x[0], x[1])
    for name in ("k", "c"):
        setattr(s, name, getattr(s, name) + x[2])
    return s.k * s.c + getattr(s, "_k") * x[3]


class _Particle:
    __slots__ = ("m", "v")
    g = 9.81

    def __init__(self, m, v):
        self.m, self.v = m, v

    def energy(self, h):
        return 0.5 * self.m * self.v ** 2 + self.m * self.g * h


@case(vector(4, 0.5, 2.0))
def slots_class_default_shadowed(x):
    """__slots__ class with a class attribute read through self, changed on the class
    between calls (restored), and a subclass with a __dict__ shadowing it."""
    class Heavy(_Particle):
        pass

    p = _Particle(x[0], x[1])
    e1 = p.energy(x[2])
    _Particle.g = x[3]
    try:
        e2 = p.energy(1.0)
    finally:
        _Particle.g = 9.81
    q = Heavy(x[1], x[0])
    q.g = x[2] * 2
    return e1 + e2 + q.energy(x[3])


class _Record:
    def __init__(self, **kw):
        object.__setattr__(self, "_data", {})
        for k, v in kw.items():
            setattr(self, k, v)

    def __setattr__(self, name, value):
        self._data[name] = value * 1.0

    def __getattr__(self, name):
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(name) from None


@case(vector(3, -1.0, 1.0))
def setattr_getattr_override_dict(x):
    """__setattr__ / __getattr__ routing attributes into a private dict; vars() updates on a
    plain object; getattr with a default."""
    r = _Record(a=x[0], b=x[1])
    r.c = r.a * r.b + x[2]
    plain = type("Plain", (), {})()
    vars(plain).update({"p": x[0] ** 2, "q": r.c})
    plain.__dict__["p"] += x[1]
    return r.c * plain.p + getattr(plain, "missing", x[2]) + plain.q


@dataclasses.dataclass
class _State:
    pos: np.ndarray
    vel: np.ndarray
    log: list = dataclasses.field(default_factory=list)
    t: float = 0.0


@case(vector(4, -1.0, 1.0))
def dataclass_replace_shares_arrays(x):
    """dataclasses.replace copies the fields shallowly: the new state shares pos with the
    old one, so an in-place write through one is seen by both; astuple deep-copies."""
    s = _State(x[:2].copy(), x[2:].copy())
    s2 = dataclasses.replace(s, t=1.0)
    s2.pos += s2.vel * 0.5
    s2.log.append(float(s2.pos[0]))
    frozen = dataclasses.astuple(s)
    s.pos *= 2.0
    return float(s.pos @ s2.pos + frozen[0] @ frozen[1]) + sum(s.log) + s2.t


class _Pt(typing.NamedTuple):
    x: float
    y: float
    w: float = 1.0

    def norm2(self):
        return self.x ** 2 + self.y ** 2


@case(vector(4, -1.0, 1.0))
def namedtuple_make_replace_asdict(x):
    """NamedTuple._make from an iterator, _replace, _asdict, and tuple comparison in max()."""
    pts = [_Pt._make(p) for p in zip(x, x[::-1], [1.0, 2.0, 3.0, 4.0])]
    pts = [p._replace(w=p.w * p.norm2()) for p in pts]
    d = pts[1]._asdict()
    best = max(pts, key=lambda p: p.w)
    return sum(p.w for p in pts) + d["x"] * d["w"] + best.norm2()


class _Key:
    """A key whose equality and hash use a rounded traced value."""

    def __init__(self, v):
        self.v = v

    def __eq__(self, o):
        return round(self.v, 1) == round(o.v, 1)

    def __hash__(self):
        return hash(round(self.v, 1))


@case(vector(6, 0.0, 3.0))
def hash_eq_objects_as_dict_keys(x):
    """Objects equal when their rounded values agree land in one dict slot: the stored key
    is the first one (its value is used), the value accumulates."""
    xs = np.concatenate([x, x[:3] + 1e-6])
    table = {}
    for v in xs:
        k = _Key(v)
        table[k] = table.get(k, 0.0) + v * v
    return sum(k.v * val for k, val in table.items())


class _Countdown:
    """An iterator class (__iter__ returns self, __next__ raises StopIteration)."""

    def __init__(self, start, step):
        self.cur, self.step = start, step

    def __iter__(self):
        return self

    def __next__(self):
        if self.cur <= 0:
            raise StopIteration
        v = self.cur
        self.cur -= self.step
        return v


class _Seq:
    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return self.data[i] * 2.0

    def __reversed__(self):
        return iter([v * 3.0 for v in self.data])


@case(vector(3, 0.5, 1.5))
def iterator_and_sequence_protocols(x):
    """A user iterator consumed by list / sum, a __getitem__-only sequence iterated by the
    old protocol (until IndexError), and reversed() using __reversed__."""
    c = _Countdown(x[0] * 3.0, 1.0)
    vals = list(c)
    s = _Seq(list(x))
    fwd = [v for v in s]
    back = list(reversed(s))
    return sum(v * v for v in vals) + sum(fwd) * back[0] + len(vals)


class _Accumulate:
    """A context manager that adds its body's contribution into a shared array on exit,
    scaled, unless an exception escaped."""

    def __init__(self, target, scale):
        self.target, self.scale = target, scale
        self.local = np.zeros_like(target)

    def __enter__(self):
        return self.local

    def __exit__(self, et, ev, tb):
        if et is None:
            self.target += self.scale * self.local
        return et is KeyError


@case(vector(3, -1.0, 1.0))
def context_manager_writes_back(x):
    """Bodies write into the manager's buffer; __exit__ folds it into the target; one body
    raises a KeyError that __exit__ swallows (its partial writes are dropped)."""
    total = np.zeros(3)
    with _Accumulate(total, 2.0) as buf:
        buf += x * x
    with _Accumulate(total, 5.0) as buf:
        buf[0] = x[1]
        raise KeyError("skip")
    with _Accumulate(total, x[2]) as buf:
        buf[:] = np.sin(x)
    return float(total @ [1.0, 2.0, 3.0])


@case(vector(3, -1.0, 1.0))
def contextmanager_generator_exitstack(x):
    """@contextmanager generators yielding a list they rescale after the body, stacked in an
    ExitStack whose callbacks run in reverse order."""
    @contextlib.contextmanager
    def scaled(store, k):
        box = []
        yield box
        store.extend(v * k for v in box)

    store = []
    with contextlib.ExitStack() as stack:
        a = stack.enter_context(scaled(store, x[0]))
        b = stack.enter_context(scaled(store, 2.0))
        stack.callback(lambda: store.append(x[2] ** 2))
        a.append(x[1])
        b.append(x[1] * x[2])
    return sum(v * (i + 1) for i, v in enumerate(store))


class _Holder:
    def __init__(self, arr, scale):
        self.arr, self.scale = arr, scale


@case(vector(4, -1.0, 1.0))
def copy_shallow_vs_deep_aliasing(x):
    """copy.copy shares the array (a write through the copy is seen by the original);
    copy.deepcopy of a list holding one array twice keeps the two aliased in the copy."""
    h = _Holder(x.copy(), x[0])
    c = copy.copy(h)
    c.arr *= 2.0
    c.scale = 5.0
    pair = [h.arr, h.arr]
    d = copy.deepcopy(pair)
    d[0] += x
    return float(h.arr @ x * h.scale + d[1] @ d[1] + c.scale)


# ================================================================ functional Python


@case(vector(5, -1.0, 1.0))
def reduce_partial_of_partial(x):
    """functools.partial of a partial overriding a keyword; reduce with an initial value."""
    def affine(v, a=1.0, b=0.0, *, c=0.0):
        return a * v + b + c * v * v

    f1 = functools.partial(affine, a=x[0], c=0.5)
    f2 = functools.partial(f1, b=x[1], c=x[2])
    return functools.reduce(lambda acc, v: f2(acc) + v, x[3:], x[4])


@case(vector(4, 0.5, 1.5))
def lru_cache_defined_per_call(x):
    """An lru_cache'd recursive function defined inside the call (a fresh cache each call)
    keyed by integers, closing over the traced parameters; cache_info branches."""
    @functools.lru_cache(maxsize=None)
    def term(n):
        if n == 0:
            return x[0]
        return x[1] * term(n - 1) + x[2] / (n + x[3])

    s = sum(term(n) for n in range(12)) + term(11)
    info = term.cache_info()
    return s + (1.0 if info.hits > 0 else 0.0)


@case(vector(4, 0.5, 1.5))
def functools_cache_method_keyed_by_self(x):
    """functools.cache on a function taking an object with identity hash, called twice with
    the same object after its attribute changed (the stale value is returned)."""
    class Box:
        def __init__(self, v):
            self.v = v

    @functools.cache
    def cube(b):
        return b.v ** 3

    b = Box(x[0])
    first = cube(b)
    b.v = x[1]
    stale = cube(b)
    other = cube(Box(x[2]))
    return first + 2 * stale + other * x[3]


@case(vector(6, -1.0, 1.0))
def itertools_accumulate_starmap_compress(x):
    """accumulate with max and with a lambda and initial=, starmap(pow) on positive bases,
    compress by a traced-sign selector."""
    run = list(itertools.accumulate(x, max))
    ema = list(itertools.accumulate(x, lambda a, b: 0.7 * a + 0.3 * b, initial=x[0]))
    pw = list(itertools.starmap(pow, zip(x * x + 1.0, [1, 2, 3, 0.5, 1.5, 2.5])))
    kept = list(itertools.compress(x, [v > 0 for v in x]))
    return sum(run) + sum(ema) + sum(pw) + sum(kept)


@case(vector(5, -1.0, 1.0))
def itertools_cycle_islice_repeat_chain(x):
    """cycle over traced weights sliced with islice, repeat, chain.from_iterable, zip_longest
    with a fill value."""
    w = list(itertools.islice(itertools.cycle(x[:2]), 7))
    reps = list(itertools.chain.from_iterable(itertools.repeat(x[2:4], 3)))
    acc = 0.0
    for a, b in itertools.zip_longest(w, reps, fillvalue=x[4]):
        acc += a * b
    return acc


@case(vector(8, 0.0, 4.0))
def groupby_traced_floor_keys(x):
    """groupby over sorted data keyed by math.floor of traced values: group means weighted by
    group size."""
    data = sorted(x)
    out = 0.0
    for k, grp in itertools.groupby(data, key=math.floor):
        g = list(grp)
        out += (k + 1) * sum(g) / len(g) + len(g) * g[-1]
    return out


@case(vector(3, 0.2, 1.0))
def generator_send_return_yield_from(x):
    """A generator driven by send() that averages what it is sent and returns its state;
    the return value travels through yield from."""
    def averager():
        total, n, avg = 0.0, 0, None
        while True:
            v = yield avg
            if v is None:
                return total, n
            total += v
            n += 1
            avg = total / n

    def delegating(out):
        while True:
            res = yield from averager()
            out.append(res)

    results = []
    g = delegating(results)
    next(g)
    seen = []
    for v in (x[0], x[1] * 2, x[2] ** 2):
        seen.append(g.send(v))
    g.send(None)
    for v in (x[2], x[0]):
        g.send(v)
    g.send(None)
    return sum(seen) + results[0][0] * results[1][0] + results[0][1]


@case(vector(3, -1.0, 1.0))
def closures_late_binding_and_defaults(x):
    """Lambdas in a loop capture the variable (late binding: all see the last value); with a
    default argument each keeps its own; a nonlocal counter scales the result."""
    late = [lambda: v * 2.0 for v in x]
    early = [lambda v=v: v * 3.0 for v in x]
    count = 0

    def bump(v):
        nonlocal count
        count += 1
        return v * count

    return sum(f() for f in late) + sum(f() for f in early) + sum(bump(v) for v in x)


@case(vector(5, -1.0, 1.0))
def operator_itemgetter_reduce(x):
    """operator.itemgetter over rows (sort key and map), operator.mul / operator.iadd in
    functools.reduce."""
    rows = [(x[i], x[(i + 1) % 5], i) for i in range(5)]
    rows.sort(key=operator.itemgetter(1))
    firsts = list(map(operator.itemgetter(0), rows))
    prod = functools.reduce(operator.mul, [1.0 + 0.1 * v for v in firsts])
    acc = functools.reduce(operator.iadd, [[v] for v in firsts], [])
    return prod + acc[0] * acc[-1] + sum(map(operator.itemgetter(1), rows[:2]))


@case(vector(4, -1.0, 1.0))
def methodcaller_conjugate(x):
    """map(operator.methodcaller('conjugate'), complex numbers): the method is called by
    the methodcaller object in C."""
    cplx = [complex(a, b) for a, b in zip(x[:2], x[2:])]
    conj = list(map(operator.methodcaller("conjugate"), cplx))
    return sum((c * d).real + d.imag for c, d in zip(cplx, conj))


@case(vector(6, -1.0, 1.0))
def defaultdict_counter_arithmetic(x):
    """defaultdict(float) accumulation keyed by sign; Counter.update adds float values;
    Counter + Counter drops non-positive totals; most_common sorts by traced values."""
    dd = collections.defaultdict(float)
    for v in x:
        dd["pos" if v > 0 else "neg"] += v * v
    c1 = collections.Counter({"a": x[0], "b": x[1], "c": x[2]})
    c1.update({"a": x[3], "b": 1.0})
    c2 = collections.Counter({"a": x[4], "b": x[5], "c": -5.0})
    both = c1 + c2
    top = c1.most_common(1)[0][1]
    return sum(dd.values()) + sum(both.values()) + top


@case(vector(6, -1.0, 1.0))
def heapq_tie_counter_and_nlargest(x):
    """A heap of (priority, counter, payload) tuples where priorities tie (rounded), popped
    in order; nlargest with key on traced values."""
    heap = []
    for i, v in enumerate(x):
        heapq.heappush(heap, (round(v * 2) / 2, i, v * v))
    out = 0.0
    k = 1.0
    while heap:
        _, _, payload = heapq.heappop(heap)
        out += k * payload
        k += 1.0
    big = heapq.nlargest(2, x, key=lambda v: v * v)
    return out + big[0] * big[1]


@case(vector(6, 0.0, 1.0))
def bisect_with_key_insort(x):
    """bisect.insort with key= keeps records ordered by a traced field; bisect_left with
    key= locates a traced threshold."""
    recs = []
    for i, v in enumerate(x):
        bisect.insort(recs, (i, v), key=lambda r: r[1])
    pos = bisect.bisect_left(recs, x[0] * 0.5 + 0.25, key=lambda r: r[1])
    return sum((j + 1) * r[1] for j, r in enumerate(recs)) + pos * x[1]


@case(vector(5, -1.0, 1.0))
def sorted_min_max_key_variety(x):
    """sorted(key=abs, reverse=True) (stable), min over tuples, max with default, min(*args)."""
    s = sorted(x, key=abs, reverse=True)
    pairs = [(round(v, 1), -v) for v in x]
    lo = min(pairs)
    hi = max((v for v in x if v > 5.0), default=x[0])
    return sum((i + 1) * v for i, v in enumerate(s)) + lo[1] + hi + min(x[0], x[1], x[2])


@case(vector(9, -1.0, 1.0))
def rows_as_views_through_builtins(x):
    """Rows of a 2-d array are views wherever they travel: list(A), unpacking, sorted(A,
    key=) and max(A, key=) results, dict(enumerate(A)), heap entries; writes through
    them reach A (a deepcopy of the list does not)."""
    import heapq

    A = x.reshape(3, 3).copy()
    lst = list(A)
    lst[0][1] = lst[2][2] * 3.0
    a, b, c = A
    a += c
    b *= 2.0
    rs = sorted(A, key=lambda r: r.sum())
    rs[-1] *= 2.0
    r = max(A, key=lambda r: r @ r)
    r[0] = 5.0 * r[1]
    d = dict(enumerate(A))
    d[1] *= d[0]
    h = [(float(row.sum()), i, row) for i, row in enumerate(A)]
    heapq.heapify(h)
    heapq.heappop(h)[2][2] += 1.0
    deep = copy.deepcopy(list(A))
    deep[0] *= 10.0
    return float(A.ravel() @ np.arange(1.0, 10.0) + deep[0] @ [1.0, 2.0, 3.0])


_REGISTRY_STATE = {"scale": 1.0, "calls": 0}


def _register(k):
    _REGISTRY_STATE["scale"] *= k
    _REGISTRY_STATE["calls"] += 1
    return _REGISTRY_STATE["scale"]


@case(vector(3, 0.5, 1.5))
def global_dict_state_reset(x):
    """Module-level dict state reset at the start, mutated with traced factors, read back
    through globals()."""
    _REGISTRY_STATE.update(scale=1.0, calls=0)
    for v in x:
        _register(v)
    g = globals()["_REGISTRY_STATE"]
    return g["scale"] + g["calls"] * x[0]


@case(vector(4, -1.0, 1.0))
def mutable_default_argument_cleared(x):
    """A helper whose mutable default list carries state between calls; the program clears
    it first so each call starts from empty."""
    def push(v, acc=[]):
        acc.append(v)
        return acc

    push(0.0).clear()
    for v in x:
        out = push(v * v)
    return sum(out) * out[-1] + len(out)


@case(vector(4, 0.2, 1.0))
def dataclass_traced_defaults(x):
    """Classes made per call whose defaults are traced values: a dataclass field default
    and default_factory closure, make_dataclass with a field(default=...), namedtuple
    defaults= (the generated __init__ / __new__ read them)."""
    @dataclasses.dataclass
    class P:
        a: float
        b: float = x[1] * 2.0
        c: list = dataclasses.field(default_factory=lambda: [x[2]])

    Q = dataclasses.make_dataclass("Q", [("a", float),
                                         ("b", float, dataclasses.field(default=x[0]))])
    R = collections.namedtuple("R", "a b c", defaults=(x[0], x[1] ** 2))
    p, q, r = P(x[0]), Q(x[3]), R(x[2])
    return p.a * p.b + p.c[0] ** 2 + q.a * q.b + r.a * r.b + r.c + R(1.0)._replace(c=x[3]).c


# ======================================================== NumPy: copies that look like views


@case(vector(6, -1.0, 1.0))
def transpose_reshape_is_a_copy(x):
    """a.T.reshape(-1) is a copy (a write to it does not reach a); a.reshape(-1) is a view
    (a write does)."""
    a = x.reshape(2, 3).copy()
    flat_copy = a.T.reshape(-1)
    flat_copy[0] = 100.0
    flat_view = a.reshape(-1)
    flat_view[1] = flat_view[1] * 3.0
    return float((a * a).sum() + flat_copy @ np.arange(6.0))


@case(vector(8, -1.0, 1.0))
def ravel_of_strided_view_copies(x):
    """ravel() of a contiguous array is a view, of a strided slice a copy; flatten() always
    copies; writes through each."""
    a = x.copy()
    r1 = a.ravel()
    r1[0] = r1[0] * 2.0
    r2 = a[::2].ravel()
    r2[1] = -50.0
    f = a.reshape(2, 4).flatten()
    f[2] = 7.0
    return float(a @ a + r2.sum() + f @ x)


@case(vector(6, -1.0, 1.0))
def fancy_and_mask_reads_are_copies(x):
    """a[[0, 2]][0] = v and a[mask][0] = v write into temporaries (a unchanged), while
    a[[0, 2]] = v and a[mask] *= 2 write into a."""
    a = x.copy()
    a[[0, 2]][0] = 10.0
    a[a > 0][0] = 20.0
    b = a[[1, 3]]
    b *= 3.0
    a[[4, 5]] = a[[5, 4]] * 2.0
    a[a < 0] *= 2.0
    return float(a @ x + b.sum())


@case(vector(4, 0.5, 1.5))
def astype_copy_false_aliases(x):
    """astype(float, copy=False) of a float array is the array itself (writes are shared);
    astype(float) copies; np.asarray aliases, np.array copies."""
    a = x.copy()
    same = a.astype(float, copy=False)
    same[0] = same[0] ** 2
    other = a.astype(float)
    other[1] = 0.0
    al = np.asarray(a)
    al[2] *= 3.0
    cp = np.array(a)
    cp[3] = -1.0
    return float(a @ a + other.sum() + cp.sum())


# ======================================================== NumPy: views that look like copies


@case(vector(6, -1.0, 1.0))
def flip_rot90_are_views(x):
    """np.flip and np.rot90 return views: writing through them changes the original."""
    a = x.reshape(2, 3).copy()
    f = np.flip(a)
    f[0, 0] = f[0, 0] * 4.0
    r = np.rot90(a)
    r[0, 0] += x[0]
    lr = np.fliplr(a)
    lr[1] *= 0.5
    return float((a * a).sum() + a[0] @ a[1])


@case(vector(8, -1.0, 1.0))
def split_squeeze_expand_views(x):
    """np.split pieces, np.squeeze and np.expand_dims are views; writing into them edits
    the array; np.array_split of a reshaped array too."""
    a = x.copy()
    p, q = np.split(a, 2)
    p *= 2.0
    q[0] = p[0] + q[1]
    s = np.squeeze(a.reshape(1, 8, 1))
    s[-1] = s[-1] ** 2
    e = np.expand_dims(a, 0)
    e[0, 3] -= 1.0
    return float(a @ np.arange(1.0, 9.0))


@case(vector(4, -1.0, 1.0))
def real_of_real_array_is_view(x):
    """a.real of a float array is a writable view of a; a.imag is read-only zeros (writing
    raises, caught); np.real returns the same view."""
    a = x.copy()
    a.real[1] = a[1] * 3.0
    np.real(a)[2] += 1.0
    try:
        a.imag[0] = 5.0
    except (TypeError, ValueError):
        a[0] *= 2.0
    return float(a @ a + a.imag.sum())


@case(vector(3, -1.0, 1.0))
def broadcast_arrays_views_read(x):
    """np.broadcast_arrays returns read-only views; broadcast_to a row read repeatedly;
    writes raise, the except branch copies."""
    col = x.reshape(3, 1)
    row = x[::-1].reshape(1, 3)
    A, B = np.broadcast_arrays(col, row)
    try:
        A[0, 0] = 1.0
    except ValueError:
        A = A.copy()
        A[0, 0] = A[0, 0] * 5.0
    M = np.broadcast_to(x, (4, 3))
    return float((A * B).sum() + (M * M).sum() + A[0, 0])


@case(vector(7, -1.0, 1.0))
def as_strided_overlapping_windows(x):
    """as_strided windows of length 3 overlapping by 2, summed with weights; a writable
    as_strided view written once per window (later writes override earlier ones)."""
    from numpy.lib.stride_tricks import as_strided
    a = x.copy()
    s = a.strides[0]
    W = as_strided(a, shape=(5, 3), strides=(s, s), writeable=False)
    val = float((W @ [1.0, 2.0, 3.0]) @ np.arange(1.0, 6.0))
    Ww = as_strided(a, shape=(3, 3), strides=(2 * s, s))
    for i in range(3):
        Ww[i, 1] = Ww[i, 0] * Ww[i, 2]
    return val + float(a @ a)


@case(vector(9, -1.0, 1.0))
def diagonal_readonly_then_copy(x):
    """np.diagonal is a read-only view (a write raises); a.diagonal().copy() is writable;
    np.einsum('ii->i') a writable view; np.diag(v) builds a new matrix."""
    a = x.reshape(3, 3).copy()
    d = np.diagonal(a)
    try:
        d[0] = 0.0
    except ValueError:
        d = d.copy()
        d[0] = d[0] * 2.0
    np.einsum("ii->i", a)[:] += 1.0
    D = np.diag(d)
    D[0, 1] = x[5]
    return float((a * D).sum() + d @ d + np.trace(a, offset=1))


# ================================================================ NumPy: swaps and overlap


@case(vector(6, -1.0, 1.0))
def row_swap_through_views_bug(x):
    """The classic bug: a[0], a[1] = a[1], a[0] with 2-d rows (views) makes both rows equal
    the old a[1]; the fancy swap a[[0, 1]] = a[[1, 0]] really swaps."""
    a = x.reshape(3, 2).copy()
    a[0], a[1] = a[1], a[0]
    b = x.reshape(3, 2).copy()
    b[[0, 2]] = b[[2, 0]]
    return float((a * np.arange(1.0, 7.0).reshape(3, 2)).sum() + b[0] @ b[1] + b[2] @ [3.0, 1.0])


@case(vector(6, -1.0, 1.0))
def scalar_swap_and_slice_tuple_assignment(x):
    """1-d element swap a[i], a[j] = a[j], a[i] (scalars: a real swap), and a tuple
    assignment of overlapping slices a[1:], a[:-1] = a[:-1], a[1:] (the right side holds
    views, the first store changes the second value)."""
    a = x.copy()
    a[0], a[5] = a[5], a[0]
    b = x.copy()
    b[1:], b[:-1] = b[:-1], b[1:]
    return float(a @ np.arange(1.0, 7.0) + b @ np.arange(6.0, 0.0, -1.0))


@case(vector(9, -1.0, 1.0))
def overlapping_inplace_ufuncs(x):
    """a += a.T (numpy buffers the overlap: the result is symmetric), a[1:] += a[:-1] (old
    values, not a running sum), a[:] = a[::-1] (a true reversal)."""
    A = x.reshape(3, 3).copy()
    A += A.T
    v = x.copy()
    v[1:] += v[:-1]
    w = x.copy()
    w[:] = w[::-1]
    w[1:] = w[:-1] * 2.0
    return float((A * A).sum() + v @ np.arange(9.0) + w @ x)


@case(vector(6, -1.0, 1.0))
def reversed_view_sort_in_place(x):
    """a[::-1].sort() sorts the reversed view, so a ends up descending; a.sort() then
    partition in place; the weights make the order matter."""
    a = x.copy()
    a[::-1].sort()
    b = x * x
    b.sort()
    c = x.copy()
    c.partition(2)
    return float(a @ np.arange(1.0, 7.0) + b @ np.arange(6.0) + c[:3].sum() * c[2])


@case(vector(6, -1.0, 1.0))
def out_into_views_and_self(x):
    """np.add(a, b, out=a), np.multiply(a[:3], a[3:], out=a[3:]) (a view), np.cumsum(x,
    out=y) into a slice, np.dot(out=) into a preallocated vector, np.negative(where=)."""
    a = x.copy()
    np.add(a, x[::-1], out=a)
    np.multiply(a[:3], a[3:], out=a[3:])
    y = np.zeros(8)
    np.cumsum(a, out=y[2:])
    M = x.reshape(2, 3)
    r = np.empty(2)
    np.dot(M, a[:3], out=r)
    np.negative(a, out=a, where=a > 0)
    return float(a @ a + y @ np.arange(8.0) + r @ [1.0, -2.0])


@case(vector(4, -1.0, 1.0))
def put_repeated_indices_last_wins(x):
    """np.put with repeated indices keeps the last value; a[[0, 0]] += v adds once;
    np.add.at adds twice; put with mode='wrap' and take with mode='clip'."""
    a = np.zeros(5)
    np.put(a, [1, 1, 2], [x[0], x[1], x[2]])
    a[[0, 0]] += x[3]
    np.add.at(a, [3, 3], x[0])
    np.put(a, [7], x[1] * 2.0, mode="wrap")
    t = np.take(x, [-3, 10], mode="clip")
    return float(a @ np.arange(1.0, 6.0) + t @ [1.0, 3.0])


@case(vector(6, -1.0, 1.0))
def putmask_place_cycle_values(x):
    """np.putmask cycles its values over the mask's positions by flat index (not by rank);
    np.place cycles by rank; a.flat = values repeats them."""
    a = x.copy()
    np.putmask(a, a > 0, [x[0] * 10, x[1] * 20])
    b = x.copy()
    np.place(b, b < 0, [x[2], x[3]])
    c = np.empty(5)
    c.flat = x[:2]
    c.flat[[1, 3]] = x[4]
    return float(a @ np.arange(6.0) + b @ np.arange(6.0, 0.0, -1.0) + c @ c)


@case(vector(4, 0.1, 3.0))
def int_array_truncates_traced_writes(x):
    """Stores of traced floats into an int array truncate (the stored values do not depend
    smoothly on x); a float array built from it then scaled by x carries the gradient."""
    idx = np.zeros(4, dtype=np.int64)
    idx[:] = x * 10
    k = np.arange(4)
    k[1] = x[0] * 100
    return float((idx * 0.001 + x) @ x + k.sum() * 0.001 + (idx.astype(float) * x).sum())


@case(scalar(0.5, 2.0))
def zero_d_array_inplace_and_item(t):
    """A 0-d array updated in place by += and *=, read back by a[()], .item(), float() and
    tolist(); np.float64 scalars mixed with Python floats."""
    a = np.array(t)
    a += 1.0
    a *= t
    s = np.float64(t) ** 2 + 0.5
    v = a[()] + a.item() * 2 + float(a) + a.tolist()
    return v * s + np.sqrt(s).item()


@case(vector(3, -1.0, 1.0))
def tolist_item_float_roundtrips(x):
    """a.tolist() into Python arithmetic, float(a[i]) and a[i].item(), then back into an
    array with np.array(list)."""
    a = np.exp(x)
    lst = a.tolist()
    lst.append(float(a[0]) * a[1].item())
    b = np.array(lst) ** 2
    return float(b.sum()) + sum(lst) * lst[-1]


@case(vector(4, 0.5, 1.5))
def object_array_python_floats(x):
    """dtype=object arrays hold Python floats: arithmetic runs element by element in Python
    (object loops), np.sum and np.dot over them, then astype(float)."""
    o = np.array(list(x), dtype=object)
    p = o * 2 + o ** 2
    s = np.sum(p)
    d = np.dot(o, p)
    f = p.astype(float)
    return float(s + d + f @ x)


@case(vector(4, 0.5, 1.5))
def object_array_of_user_objects(x):
    """An object array of _V2 instances: np.sum calls their __add__, multiplication by a
    float array calls __mul__ / __rmul__."""
    objs = np.empty(2, dtype=object)
    objs[0] = _V2(x[0], x[1])
    objs[1] = _V2(x[2], x[3])
    tot = objs.sum()
    scaled = objs * np.array([2.0, 3.0])
    return tot @ scaled[1] + abs(scaled[0])


@case(vector(5, -1.0, 1.0))
def vectorize_frompyfunc_callbacks(x):
    """np.vectorize over a Python function with branches, np.frompyfunc(f, 2, 1) called on
    arrays (an object array) and on two floats, then astype(float)."""
    def f(v):
        return math.exp(v) if v > 0 else 1.0 + v + 0.5 * v * v

    g = np.frompyfunc(lambda a, b: a * 0.5 + b * b, 2, 1)
    vf = np.vectorize(f)(x)
    pair = g(x[:2], x[2:4]).astype(float)
    return float(vf @ np.arange(1.0, 6.0) + pair.sum() + g(x[2:3], x[3:4])[0])


@case(vector(3, -1.0, 1.0))
def frompyfunc_on_scalars(x):
    """A np.frompyfunc ufunc called on two array elements (np.float64 scalars) and on a
    Python float, next to an ordinary term."""
    g = np.frompyfunc(lambda a, b: a * 0.5 + b * b, 2, 1)
    sq = np.frompyfunc(lambda a: a * a, 1, 1)
    return float(x[2] * 3.0 + g(x[0], x[1]) + sq(float(x[2])))


@case(vector(6, -1.0, 1.0))
def apply_along_axis_piecewise(x):
    """np.apply_along_axis with a Python function returning a tuple-derived array;
    np.piecewise with lambdas and a constant."""
    M = x.reshape(2, 3)
    r = np.apply_along_axis(lambda row: np.array([row @ row, row.max()]), 1, M)
    p = np.piecewise(x, [x < -0.5, (x >= -0.5) & (x < 0.5)],
                     [lambda v: -v ** 2, lambda v: v ** 3, 2.0])
    return float(r.sum() + p @ np.arange(6.0))


@case(vector(4, -1.0, 1.0))
def append_insert_delete_loop(x):
    """np.append / np.insert / np.delete in a loop build new arrays every time; the final
    weights depend on the traced values' positions."""
    a = np.array([1.0])
    for v in x:
        a = np.append(a, v * a[-1] + 1.0)
        a = np.insert(a, 1, v * v)
    a = np.delete(a, [0, 2])
    return float(a @ np.linspace(1.0, 2.0, a.size))


@case(vector(6, -1.0, 1.0))
def place_values_alias_target(x):
    """np.place(a, mask, a): NumPy copies the values one at a time through memory it is
    overwriting (no buffering), so later positions receive values already written; np.put
    and np.putmask with aliased values for comparison."""
    a = x.copy()
    np.place(a, a > 0, a)
    b = x.copy()
    np.put(b, [1, 2, 3], b)
    c = x.copy()
    np.putmask(c, c > 0, c[::-1])
    w = np.arange(1.0, 7.0)
    return float(a @ w + b @ w[::-1] + c @ w)


@case(vector(6, -1.0, 1.0))
def flat_assignment_aliased_values(x):
    """a.flat[...] = values that are a view of a itself: NumPy's flat iterator copies one
    element at a time without buffering, so later positions can receive values written
    earlier in the same assignment (a.flat[1:] = a smears a[0] along)."""
    a = x.copy()
    a.flat[1:] = a
    b = x.copy()
    b.flat[::2] = b[::-1]
    c = x.copy()
    c.flat[:5] = c[3:5]
    D = np.concatenate([x, x[:3] ** 2]).reshape(3, 3)
    np.fill_diagonal(D, D.ravel()[::-4])  # (NumPy: D.flat[::4] = values, unbuffered too)
    w = np.arange(1.0, 7.0)
    return float(a @ w + b @ w[::-1] + c @ w + x @ x + D.ravel() @ np.arange(9.0))


@case(vector(4, -1.0, 1.0))
def flat_attribute_set_reversed(x):
    """a.flat = a[::-1]: the flat setter copies its value first (a true reversal), unlike
    a.flat[:] = a[::-1]."""
    a = x.copy()
    a.flat = a[::-1]
    return float(a @ np.arange(1.0, 5.0))


@case(vector(9, -1.0, 1.0))
def concatenate_stack_out_aliasing(x):
    """np.concatenate(..., out=a) and np.stack(..., out=A) whose pieces are views of the
    output: NumPy copies piece after piece, so a later piece reads what an earlier one
    wrote (rolling right smears a[-1]; the left roll is a true roll)."""
    a = x.copy()
    np.concatenate([a[-1:], a[:-1]], out=a)
    b = x.copy()
    np.concatenate([b[1:], b[:1]], out=b)
    A = x.reshape(3, 3).copy()
    np.stack([A[2], A[0], A[1]], out=A)
    w = np.arange(1.0, 10.0)
    return float(a @ w + b @ w[::-1] + A.ravel() @ w + x @ x)


@case(vector(4, -1.0, 1.0))
def fill_and_fill_diagonal_wrap(x):
    """a.fill with a traced scalar, np.fill_diagonal on a tall matrix with wrap=True,
    np.copyto with a broadcast row and where=."""
    a = np.empty(3)
    a.fill(x[0] * 2.0)
    M = np.zeros((7, 3))
    np.fill_diagonal(M, x[1], wrap=True)
    B = np.ones((2, 4))
    np.copyto(B, x, where=np.array([[True, False, True, False], [False, True, True, True]]))
    return float(a @ x[:3] + M.sum() * x[2] + (B * B).sum())


@case(vector(4, -1.0, 1.0))
def aliasing_names_inplace(x):
    """b = a; b += 1 changes a; b = b + 1 rebinds; c = a[:]; c *= 2 changes a; d = a.copy()
    does not; a view's base."""
    a = x.copy()
    b = a
    b += 1.0
    b = b + 1.0
    c = a[:]
    c *= 2.0
    d = a.copy()
    d[0] = 99.0
    e = a.view()
    e[1] = e[1] ** 2
    return float(a @ x + b.sum() + d.sum() + (1.0 if c.base is a else 0.0))


@case(vector(4, -1.0, 1.0))
def complex_array_views_and_conj(x):
    """A complex array whose real part is written through .real and imag through .imag;
    np.conj, np.angle and abs(z) ** 2."""
    z = np.zeros(2, dtype=complex)
    z.real = x[:2]
    z.imag[:] = x[2:]
    z.real[0] *= 2.0
    w = z * np.conj(z[::-1])
    return float(np.abs(z).sum() + w.real.sum() + (np.abs(z) ** 2) @ [1.0, 3.0]
                 + np.angle(z[1] + 2.0))


@case(vector(6, -1.0, 1.0))
def flat_attribute_reads_writes(x):
    """a.flat[...] reads and writes on a transposed (non-contiguous) array follow C order of
    the transposed view."""
    a = x.reshape(2, 3).T.copy(order="F").T.T
    a.flat[0] = a.flat[5] * 2.0
    a.flat[1:3] = x[:2] ** 2
    return float(a.ravel() @ np.arange(1.0, 7.0) + a[0, 1])


@case(vector(4, 0.5, 1.5))
def resize_method_and_function(x):
    """np.resize repeats the data; a.resize (no other reference) pads with zeros; a new
    array after growth is then written."""
    r = np.resize(x, 7)
    a = x * 2.0
    a.resize(6, refcheck=False)
    a[5] = x[0]
    return float(r @ np.arange(7.0) + a @ np.arange(1.0, 7.0))


@case(vector(6, -1.0, 1.0))
def sliding_window_view_write_copy(x):
    """sliding_window_view is read-only; its means feed a new array; a writable
    sliding_window_view (writeable=True) written through duplicates entries."""
    from numpy.lib.stride_tricks import sliding_window_view
    a = x.copy()
    W = sliding_window_view(a, 3)
    m = W.mean(axis=1)
    Ww = sliding_window_view(a, 2, writeable=True)
    Ww[1, 1] = Ww[0, 0] * 3.0
    return float(m @ np.arange(1.0, 5.0) + a @ a)


@case(vector(6, -1.0, 1.0))
def boolean_mask_assign_expression_of_self(x):
    """a[mask] = f(a[mask]) where the mask changes after earlier writes; a[idx] = a[idx2]
    with overlapping index sets (right side gathered first)."""
    a = x.copy()
    a[a > 0] = np.sqrt(a[a > 0]) + a[a > 0]
    a[a < 0.5] = a[a < 0.5] * 3.0
    idx = np.array([0, 1, 2])
    a[idx] = a[idx + 1] * 2.0
    return float(a @ np.arange(1.0, 7.0))


@case(vector(6, -1.0, 1.0))
def clip_and_round_out_inplace(x):
    """a.clip(min, max, out=a) with traced bounds, np.maximum(a, b, out=a), abs in place."""
    a = x * 2.0
    a.clip(x[0] - 0.5, x[1] + 2.5, out=a)
    np.maximum(a, x[::-1] * 0.9, out=a)
    np.abs(a, out=a)
    return float(a @ np.arange(1.0, 7.0))


@case(vector(6, -1.0, 1.0))
def matmul_out_and_einsum_out(x):
    """np.matmul(A, B, out=C) where C is a slice of a bigger buffer, np.einsum with out=."""
    A = x.reshape(2, 3)
    buf = np.zeros((3, 2, 2))
    np.matmul(A, A.T, out=buf[1])
    e = np.zeros(3)
    np.einsum("ij,ij->j", A, A, out=e)
    return float((buf * buf).sum() + e @ [1.0, 2.0, 3.0])


@case(vector(6, -1.0, 1.0))
def concatenate_stack_out(x):
    """np.concatenate(..., out=) into a view of a bigger buffer; np.stack(out=)."""
    buf = np.zeros(10)
    np.concatenate([x[:2] * 2.0, x[4:]], out=buf[3:7])
    S = np.empty((2, 3))
    np.stack([x[:3], x[3:] ** 2], out=S)
    return float(buf @ np.arange(10.0) + (S * S).sum())


# ================================================================ Python containers and aliasing


@case(vector(4, -1.0, 1.0))
def list_repetition_shares_arrays(x):
    """[np.zeros(2)] * 3 holds one array three times (a write through one is seen by all);
    [[0.0] * 2] * 2 holds one inner list twice; a list comprehension makes distinct ones."""
    shared = [np.zeros(2)] * 3
    shared[0] += x[:2]
    shared[2] *= x[2]
    grid = [[0.0] * 2] * 2
    grid[0][1] = x[3]
    grid[1][0] = x[0] * x[1]
    fresh = [np.zeros(2) for _ in range(3)]
    fresh[1] += x[2:]
    return float(sum(a @ [1.0, 2.0] for a in shared)) + sum(map(sum, grid)) * 2.0 \
        + float(sum(a.sum() for a in fresh))


@case(vector(6, -1.0, 1.0))
def loop_variable_rows_are_views(x):
    """for row in M: row *= k edits M (rows are views); for v in a: v *= k does not (v is a
    scalar); for i, row in enumerate(M): row[:] = row / s normalises in place."""
    M = x.reshape(3, 2).copy()
    for row in M:
        row *= 2.0
    a = x.copy()
    for v in a:
        v *= 10.0
    for _i, row in enumerate(M):
        row[:] = row / (1.0 + row @ row)
    return float((M * M).sum() + a @ a)


@case(vector(4, -1.0, 1.0))
def chained_assignment_and_dict_fromkeys(x):
    """a = b = np.zeros(2) aliases (writes through b reach a); dict.fromkeys(keys, [])
    shares one list among all keys; setdefault returns the stored object."""
    a = b = np.zeros(2)
    b += x[:2]
    d = dict.fromkeys(("p", "q"), [])
    d["p"].append(x[2])
    d.setdefault("q", [x[3]]).append(x[3] * 2.0)
    d.setdefault("r", [x[0]]).append(1.0)
    return float(a @ a) + sum(d["q"]) + sum(d["r"]) * x[1]


@case(vector(4, -1.0, 1.0))
def and_or_return_operands(x):
    """`a or b` and `a and b` return an operand: x * 0.0 is falsy so `or` picks the other;
    a traced non-zero is truthy so `and` picks the second; conditional expressions on them."""
    z = x[0] * 0.0
    a = z or x[1]
    b = x[2] and x[3] * 2.0
    c = (x[1] > 0 and x[1]) or -x[1]
    d = [v or 1.0 for v in (x * np.array([1.0, 0.0, 1.0, 0.0]))]
    return a * 3.0 + b + c * x[0] + sum(d) * x[3]


@case(vector(4, -1.0, 1.0))
def identity_checks_on_floats(x):
    """`is` between names bound to one float object, list.index and `in` (identity, then
    equality), a dict keyed by floats looked up with an equal float."""
    vals = [float(v) for v in x]
    alias = vals[2]
    hit = 1.0 if alias is vals[2] else 0.0
    k = vals.index(alias)
    table = {v: i for i, v in enumerate(vals)}
    pos = table[float(x[1])]
    present = vals[3] in vals
    return vals[k] * 5.0 + hit + pos * x[0] + (vals[3] ** 2 if present else 0.0)


@case(vector(4, -1.0, 1.0))
def cmp_to_key_comparator(x):
    """sorted with functools.cmp_to_key over a comparator returning traced differences'
    signs; any / all over traced comparisons."""
    def cmp(a, b):
        d = (a[0] - b[0]) + 0.5 * (a[1] - b[1])
        return -1 if d < 0 else (1 if d > 0 else 0)

    pts = [(x[i], x[(i + 1) % 4]) for i in range(4)]
    pts.sort(key=functools.cmp_to_key(cmp))
    flag = 2.0 if any(p[0] > 0.9 for p in pts) else 1.0
    flag += 1.0 if all(p[1] > -2.0 for p in pts) else 0.0
    return sum((i + 1) * (p[0] - p[1] ** 2) for i, p in enumerate(pts)) * flag


@case(vector(6, -1.0, 1.0))
def iteration_while_modifying(x):
    """Iterators over an array read its memory lazily: writes made during the loop are seen
    by later steps (enumerate, a.flat, zip of overlapping slices, rows, reversed, a lazy
    generator / map created before a write, next() between writes)."""
    a = x.copy()
    for i, v in enumerate(a[:-1]):
        a[i + 1] += 0.5 * v
    b = x.copy()
    for k, v in enumerate(b.flat):
        if k < 5:
            b[k + 1] = b[k + 1] + v * 0.5
    c = x.copy()
    for p, q in zip(c, c[1:]):
        c[-1] += p * q
    R = x.reshape(3, 2).copy()
    for i, row in enumerate(R[:-1]):
        R[i + 1] += row
    d = x.copy()
    for i, v in enumerate(reversed(d)):
        if i < 5:
            d[4 - i] += v
    e = x.copy()
    g = (v * 2 for v in e)
    m = map(lambda v: v * v, e)
    e[3] = 100.0 * x[0]
    it = iter(e)
    first = next(it)
    e[1] = first * 7.0
    w = np.arange(1.0, 7.0)
    return float(a @ w + b @ w + c @ w + R.ravel() @ w + d @ w + sum(g) + sum(m)
                 + next(it) * 3.0)


@case(vector(5, -1.0, 1.0))
def deque_maxlen_and_ordereddict(x):
    """A deque(maxlen=3) dropping old values, rotate, and an OrderedDict with move_to_end
    and popitem(last=False)."""
    dq = collections.deque(maxlen=3)
    for v in x:
        dq.append(v * v)
    dq.rotate(1)
    od = collections.OrderedDict((f"k{i}", v) for i, v in enumerate(x))
    od.move_to_end("k0")
    od.popitem(last=False)
    return sum(w * v for w, v in zip((1.0, 2.0, 3.0), dq)) + list(od.values())[-1] * 3.0


# ================================================================ classes, more


class _Base:
    def __init__(self, scale, **kw):
        super().__init__(**kw)
        self.scale = scale

    def f(self, v):
        return self.scale * v


class _Offset:
    def __init__(self, offset, **kw):
        super().__init__(**kw)
        self.offset = offset

    def f(self, v):
        return v + self.offset


class _Both(_Base, _Offset):
    def f(self, v):
        return super().f(v) * 2.0 + _Offset.f(self, v)


@case(vector(3, -1.0, 1.0))
def cooperative_super_mro(x):
    """Cooperative __init__ through the MRO with keywords; super().f in a diamond-free
    mixin chain (the MRO picks _Base.f) plus an explicit _Offset.f."""
    o = _Both(scale=x[0], offset=x[1])
    return o.f(x[2]) + o.f(o.scale) * o.offset


class _CallCounter:
    """A class-based decorator counting calls and remembering the last result."""

    def __init__(self, fn):
        self.fn = fn
        self.calls = 0
        self.last = None
        functools.update_wrapper(self, fn)

    def __call__(self, *a):
        self.calls += 1
        self.last = self.fn(*a)
        return self.last


@case(vector(3, -1.0, 1.0))
def class_decorator_last_result(x):
    """A decorator object applied per call, its .last attribute read after the calls; a
    property built with property(fget, fset) without decorator syntax."""
    @_CallCounter
    def energy(a, b):
        return a * a + math.sin(b)

    class Box:
        def _get(self):
            return self._v * 2.0

        def _set(self, v):
            self._v = v + 1.0

        v = property(_get, _set)

    for v in x:
        energy(v, x[0])
    b = Box()
    b.v = energy.last
    return b.v + energy.calls * x[1]


class _Meta(type):
    """A metaclass whose __call__ caches instances by an int parameter."""

    def __call__(cls, n, scale):
        cache = cls.__dict__["_instances"]
        if n not in cache:
            cache[n] = super().__call__(n, scale)
        return cache[n]


@case(vector(3, 0.5, 1.5))
def metaclass_instance_cache(x):
    """A metaclass caches instances by n: the second construction with n already present
    returns the first instance (its traced scale, not the new one); the cache is reset at
    the start of every call."""
    class Mode(metaclass=_Meta):
        _instances = {}

        def __init__(self, n, scale):
            self.n, self.scale = n, scale

        def value(self, t):
            return self.scale * math.sin(self.n * t)

    a = Mode(1, x[0])
    b = Mode(1, x[1])
    c = Mode(2, x[2])
    return a.value(x[1]) + b.value(x[2]) + c.value(x[0]) + (1.0 if a is b else 0.0)


class _Units:
    """An array container that implements __array_ufunc__ and unwraps / rewraps."""

    def __init__(self, v, unit):
        self.v, self.unit = np.asarray(v, dtype=float), unit

    def __array_ufunc__(self, ufunc, method, *inputs, **kw):
        if method != "__call__":
            return NotImplemented
        raw = [i.v if isinstance(i, _Units) else i for i in inputs]
        k = 1.0
        for i in inputs:
            if isinstance(i, _Units) and i.unit == "cm":
                k = 100.0
        return _Units(getattr(ufunc, method)(*raw, **kw), "m" if k == 1.0 else "cm")

    def __add__(self, o):
        return np.add(self, o)

    def __mul__(self, o):
        return np.multiply(self, o)

    __rmul__ = __mul__


@case(vector(4, -1.0, 1.0))
def array_ufunc_units_container(x):
    """np.sin / np.multiply on a container with __array_ufunc__; ndarray * container defers
    to the container; the result's .v read back."""
    u = _Units(x, "m")
    w = np.sin(u) * 2.0 + u
    z = x[::-1] * w
    return float(z.v @ z.v + np.exp(_Units(x[:2], "cm")).v.sum())


class _IndexLike:
    def __init__(self, v):
        self.v = v

    def __index__(self):
        return int(self.v * 3) % 4


@case(vector(4, 0.1, 1.0))
def index_protocol_selects_entry(x):
    """An object with __index__ (from a traced value) used to index a list, an array and
    range(); the selected entries carry the gradient."""
    idx = _IndexLike(x[0])
    lst = [v * v for v in x]
    r = range(10)[idx]
    return lst[idx] + float(x[idx]) * 2.0 + r * x[1]


@case(vector(4, -1.0, 1.0))
def getattribute_override_logging(x):
    """__getattribute__ overridden to scale numeric attributes on every read (through
    object.__getattribute__); a SimpleNamespace built from a dict."""
    import types

    class Scaled:
        def __init__(self, a, b):
            self.a, self.b = a, b

        def __getattribute__(self, name):
            v = object.__getattribute__(self, name)
            return v * 2.0 if name in ("a", "b") else v

    s = Scaled(x[0], x[1])
    ns = types.SimpleNamespace(**{"p": x[2], "q": s.a})
    ns.p += ns.q
    return s.a * s.b + ns.p ** 2 + x[3]


@case(vector(3, 0.5, 1.5))
def abc_enum_strategy_objects(x):
    """Abstract base class with concrete subclasses chosen by an Enum member's value;
    singledispatchmethod on int vs float arguments."""
    import abc
    import enum

    class Kind(enum.Enum):
        SQ = 1
        EXP = 2

    class Law(abc.ABC):
        @abc.abstractmethod
        def __call__(self, v): ...

    class Sq(Law):
        def __call__(self, v):
            return v * v

    class Exp(Law):
        def __call__(self, v):
            return math.exp(-v)

    class Mixer:
        @functools.singledispatchmethod
        def mix(self, arg):
            return arg

        @mix.register
        def _(self, arg: int):
            return float(arg) * 0.5

        @mix.register
        def _(self, arg: float):
            return arg * 3.0

    laws = {Kind.SQ: Sq(), Kind.EXP: Exp()}
    m = Mixer()
    tot = sum(laws[Kind(k)](v) for k, v in zip((1, 2, 1), x))
    return tot + m.mix(float(x[0])) + m.mix(2) + m.mix(x[1])


# ================================================================ Python float semantics


@case(vector(3, 0.3, 2.0))
def math_311_functions(x):
    """math.cbrt / math.exp2 (new in 3.11), math.dist, math.hypot with three arguments,
    math.prod, math.log with a base, math.copysign, math.fmod and math.remainder."""
    a, b, c = (float(v) for v in x)
    return (math.cbrt(a) + math.exp2(b) + math.dist((a, b), (c, 0.0)) + math.hypot(a, b, c)
            + math.prod((a, b, c)) + math.log(a + 1.0, 3.0) + math.copysign(b, -1.0)
            + math.fmod(a + 5.0, 1.3) + math.remainder(c + 3.0, 0.9) + math.log2(c))


@case(vector(2, 0.3, 2.0))
def dunder_calls_on_floats(x):
    """Explicit dunder calls: float.__mul__, x.__rpow__(3.0), (2.0).__truediv__(x),
    x.conjugate(), x.real / x.imag, pow(x, -2), pow(2.0, x)."""
    a, b = float(x[0]), float(x[1])
    return (float.__mul__(a, b) + a.__rpow__(3.0) + (2.0).__truediv__(b) + a.conjugate() * b
            + a.real * b.imag + pow(a, -2) + pow(2.0, b) + b.__neg__().__abs__())


@case(vector(2, 0.3, 2.0))
def complex_python_scalars(x):
    """Python complex arithmetic: abs, ** 0.5, cmath.exp(1j x).imag, conjugate products,
    complex(x, y).real; the real output."""
    import cmath

    z = complex(x[0], x[1])
    w = z ** 0.5 + cmath.exp(1j * x[0]) * z.conjugate()
    return abs(w) + (z * z).real + cmath.phase(z) + complex(x[1], 2.0).imag * x[0]


@case(vector(3, 0.3, 2.0))
def floor_mod_divmod_smooth_parts(x):
    """x % c, x // c (piecewise constant), divmod and math.modf: the remainders carry
    slope 1 between the jumps."""
    a, b, c = x
    q, r = divmod(a * 3.0, 0.7)
    frac, whole = math.modf(b * 5.0)
    return r * 2.0 + q + (c * 4.0) % 0.9 + frac * whole + (a + b) // 0.5


@case(vector(3, -1.0, 1.0))
def chained_comparisons_branching(x):
    """Chained comparisons 0 < a < b, lo <= v <= hi choosing formulas."""
    a, b, c = x
    out = 0.0
    if -0.5 < a < b:
        out += a * b
    else:
        out += a - b
    for v in x:
        out += v ** 2 if -0.3 <= v <= 0.4 else math.sin(v)
    return out + (c * 2.0 if a < c > b else c)


# ================================================================ NumPy: more in-place idioms


@case(vector(9, -1.0, 1.0))
def inplace_operator_zoo(x):
    """a **= 2, a %= 1.5 (slope 1 between jumps), a //= ... on a copy (constant), a @= M,
    a -= a.mean() (the right side evaluated first)."""
    a = x[:3].copy() + 2.0
    a **= 2
    a %= 1.5
    b = x[3:6].copy()
    b -= b.mean()
    M = x.reshape(3, 3) + 3.0 * np.eye(3)
    c = x[:3].copy()
    c @= M
    d = x[6:].copy() * 4.0
    d //= 1.0
    return float(a @ [1.0, 2.0, 3.0] + b @ b + c @ c + d.sum() * x[0])


@case(vector(6, -1.0, 1.0))
def shape_attribute_and_transpose_write(x):
    """a.shape = (2, 3) reshapes in place; a.T[0] += v writes a column of a; a[...] = a.T
    for a square matrix (overlap buffered: a true transpose)."""
    a = x.copy()
    a.shape = (2, 3)
    a.T[0] += a[:, 2]
    S = x[:4].reshape(2, 2).copy()
    S[0, 1] *= 3.0
    S[...] = S.T
    return float((a * a).sum() + S[0] @ [1.0, 2.0] + S[1, 0] * 5.0)


@case(vector(6, -1.0, 1.0))
def shift_in_loop_through_slices(x):
    """A shift register through slice assignment a[1:] = a[:-1] (overlap handled), a new
    value at a[0] each step, and np.roll as a copy."""
    a = np.zeros(4)
    out = 0.0
    for v in x:
        a[1:] = a[:-1]
        a[0] = v
        r = np.roll(a, 1)
        r[0] = 0.0
        out += a @ [1.0, 0.5, 0.25, 0.125] + r.sum() * 0.1
    return out


@case(vector(6, -1.0, 1.0))
def ndarray_buffer_constructor_view(x):
    """np.ndarray(shape, buffer=a, offset=...) and np.frombuffer(a) are views of a's
    memory; writes through them reach a."""
    a = x.copy()
    v = np.ndarray((2,), dtype=float, buffer=a, offset=16)
    v *= 3.0
    f = np.frombuffer(a, dtype=float)
    total = float(f @ f)
    return total + float(a @ np.arange(1.0, 7.0))


@case(vector(6, -1.0, 1.0))
def reductions_with_where_and_out(x):
    """x.sum(where=mask), x.mean(where=), np.add.reduce(out= a 0-d view), np.cumprod(out=)
    into a column of a matrix."""
    m = x > 0
    s = x.sum(where=m)
    mu = x.mean(where=~m) if (~m).any() else 0.0
    buf = np.zeros(3)
    np.add.reduce(x * x, out=buf[1:2].reshape(()))
    C = np.ones((6, 2))
    np.cumprod(1.0 + 0.1 * x, out=C[:, 1])
    return float(s + mu + buf @ [1.0, 2.0, 3.0] + C.sum())


@case(vector(5, -1.0, 1.0))
def choose_where_nonzero_indexing(x):
    """np.choose with traced-derived choices, np.where(cond) (one argument) for indexing,
    np.argwhere and np.isin on rounded values."""
    sel = (x > 0).astype(int)
    c = np.choose(sel, [x * 2.0, x ** 2])
    (idx,) = np.where(x < 0.3)
    aw = np.argwhere(x > -0.3).ravel()
    r = np.round(x, 1)
    ins = np.isin(r, [0.0, 0.5, -0.5])
    return float(c.sum() + x[idx].sum() * 3.0 + x[aw] @ x[aw] + (x * ins).sum())


@case(vector(5, -1.0, 1.0), on_list)
def list_inplace_extend_aliases(xs):
    """lst += other extends in place (an alias sees it), lst = lst + other rebinds; list
    slice assignment grows the list; del with a step."""
    alias = xs
    xs += [xs[0] * 2.0]
    xs = xs + [100.0]
    alias[1:3] = [alias[1] ** 2, alias[2] * 3.0, alias[3]]
    del alias[::3]
    return sum((i + 1) * v for i, v in enumerate(alias)) + xs[-1] * 0.0 + len(xs)


# ======================================================== NumPy: layouts (Fortran order)


@case(vector(4, -1.0, 1.0))
def matlab_column_major_linear_index(x):
    """MATLAB port: A = zeros(2, 3, order='F'), columns filled, then A(5) = 3 * A(1) as a
    write through the column-major flattening A.reshape(-1, order='F') (a view of A's
    memory, since A is Fortran-contiguous); reshape(reshape(x, 2, 2), 4, 1) written."""
    A = np.zeros((2, 3), order="F")
    A[:, 0] = x[:2]
    A[:, 1] = x[2:4] ** 2
    v = A.reshape(-1, order="F")
    v[4] = v[0] * 3.0
    X = x.copy().reshape(2, 2, order="F")  # reshape(x, 2, 2): a view of the copy
    Y = X.reshape(4, 1, order="F")  # reshape(X, 4, 1): a view of the same memory
    Y[3, 0] = Y[0, 0] * 4.0
    return float((A * A).sum() + A[0, 2] * x[1] + X.ravel() @ [1.0, 2.0, 3.0, 4.0])


@case(vector(4, -1.0, 1.0))
def transpose_ravel_order_f_written(x):
    """a.reshape(2, 2).T is Fortran-contiguous, so its ravel(order='F') is a view of a: a
    write through it reaches a."""
    a = x.copy()
    c = a.reshape(2, 2).T.ravel(order="F")
    c[1] = 7.0 * c[1]
    return float(a @ [1.0, 2.0, 3.0, 4.0])


@case(vector(6, -1.0, 1.0))
def fortran_array_column_slice_scaled(x):
    """A Fortran-ordered copy's column-major flattening sliced to its second column, scaled
    in place by slice assignment, then np.multiply(out=) and += through such views."""
    A = np.array(x.reshape(2, 3), order="F")
    col = A.ravel(order="F")[2:4]
    col[:] = col * 2.0
    np.multiply(A.ravel(order="F"), 1.5, out=A.ravel(order="F"))
    v = A.reshape(-1, order="F")
    v += x
    return float(A.ravel() @ np.arange(1.0, 7.0))


@case(vector(6, -1.0, 1.0))
def fortran_reshape_block_zeroed(x):
    """A.reshape(3, 2, order='F') of a Fortran array is a view: zeroing its first row
    zeroes three entries of A (one per column pair); A.T[1] *= 2 writes a column."""
    A = np.asfortranarray(x.reshape(2, 3))
    A.T[1] *= 2.0
    B = A.reshape(3, 2, order="F")
    B[0] = 0.0
    return float(A.ravel() @ np.arange(1.0, 7.0) + (A * A).sum())


@case(vector(6, -1.0, 1.0))
def fortran_transpose_views_default_order(x):
    """Fortran arrays read and written through .T and C-order ravel / reshape views (the
    C-order views of A.T are views of A), and np.require / np.asarray(order='F') of a
    transposed C array (the array itself)."""
    A = np.asfortranarray(x.reshape(2, 3))
    r = A.T.ravel()
    r[0] = r[0] * 3.0
    A.T.reshape(-1)[5] += r[1]
    a = x.reshape(3, 2).T.copy().T
    b = np.require(a.T, requirements="F")
    b[0, 0] *= 4.0
    np.asarray(a.T, order="F")[1, 1] += 1.0
    return float(A.ravel() @ np.arange(1.0, 7.0) + a.ravel() @ np.arange(6.0))


@case(vector(6, -1.0, 1.0))
def fortran_flat_view_sort_fill_swap(x):
    """Through the column-major flattening of Fortran arrays: sort() in place, fill() of a
    strided slice, a fancy swap v[[0, 5]] = v[[5, 0]], and a sub-block's ravel(order='F')
    written."""
    A = np.asfortranarray(x.reshape(2, 3))
    A.ravel(order="F").sort()
    B = np.asfortranarray(x[::-1].reshape(2, 3))
    B.reshape(-1, order="F")[::2].fill(x[0] * 2)
    C = np.asfortranarray(x.reshape(2, 3) ** 2)
    v = C.ravel(order="F")
    v[[0, 5]] = v[[5, 0]]
    D = np.zeros((2, 4), order="F")
    D[:, :3] = x.reshape(2, 3)
    D[:, 1:3].ravel(order="F")[3] = D[0, 1] * 5.0
    w = np.arange(1.0, 7.0)
    return float(A.ravel() @ w + B.ravel() @ w[::-1] + C.ravel() @ w + D.ravel()[:6] @ w)


@case(vector(4, -1.0, 1.0))
def ravel_order_a_of_transpose_written(x):
    """a.T.ravel(order='A'): 'A' follows a.T's Fortran layout, a view of a in column
    order; a write through it reaches a (right in a fresh capture; the cached replay re-makes
    the view from a C-ordered value, where 'A' means C order)."""
    a = x.reshape(2, 2).copy()
    r = a.T.ravel(order="A")
    r[1] = 3.0 * r[1]
    return float(a.ravel() @ [1.0, 2.0, 3.0, 4.0] + r @ r)


# ======================================================== NumPy: object arrays that choose


@case(vector(5, -1.0, 1.0))
def object_array_max_min(x):
    """Maxima and minima of an object array of Python floats (NumPy's object loop compares
    them in C and returns one of the items)."""
    o = np.array(list(x), dtype=object)
    return float(o.max() * 3.0 + np.min(o) + np.maximum.reduce(o) * o[0])


@case(vector(5, -1.0, 1.0))
def object_array_sort_in_place(x):
    """o.sort() on an object array of Python floats reorders the items in place (compared in
    C); the weights make the order matter."""
    o = np.array(list(x * x - x), dtype=object)
    o.sort()
    return float(o @ np.arange(1.0, 6.0))


@case(vector(4, -1.0, 1.0))
def object_array_reductions_pass(x):
    """Object-array cumsum / prod / mean / matmul / masked fill / tolist round trips (items
    combined in Python's arithmetic)."""
    o = np.array(list(x), dtype=object)
    z = np.zeros(4, dtype=object)
    z[1:3] = [x[0], x[1] * 2]
    z[z == 0] = x[3]
    return float(np.cumsum(o) @ np.arange(1.0, 5.0) + np.prod(o + 2.0) + np.mean(o)
                 + z @ x + np.array(o.tolist()) @ x + np.dot(x, o))


@case(vector(4, -1.0, 1.0))
def object_array_matmul(x):
    """A 2 x 2 object array of Python floats multiplied by itself with @ (NumPy's object
    matmul loop) and with np.dot."""
    m = np.array(list(x), dtype=object).reshape(2, 2)
    return float((m @ m).sum() + np.dot(m, m)[0, 1] * 2.0)


@case(vector(4, -1.0, 1.0))
def ufunc_at_with_list_values(x):
    """np.multiply.at / np.maximum.at with their values given as a list (repeated indices
    compound: the updates are unbuffered)."""
    a = x.copy() + 2.0
    np.multiply.at(a, [0, 0, 2], [2.0, 3.0, 0.5])
    b = np.ones(4)
    np.maximum.at(b, [1, 1, 3], [x[0] + 1.5, x[1] + 1.5, x[2] * 2])
    return float(a @ np.arange(1.0, 5.0) + b @ x)


@case(vector(4, -1.0, 1.0))
def frompyfunc_outer_reduce_accumulate(x):
    """np.frompyfunc's outer, reduce and accumulate (object loops calling a Python lambda
    in C)."""
    f = np.frompyfunc(lambda a, b: a * b + math.sin(a), 2, 1)
    acc = f.accumulate(np.array(list(x), dtype=object))
    return float(f.outer(x[:2], x[2:]).astype(float).sum() + f.reduce(x)
                 + acc.astype(float) @ np.arange(1.0, 5.0))


# ======================================================== Python statement semantics


class _ReadOnlyBox:
    def __init__(self, a):
        self._a = a

    @property
    def arr(self):
        return self._a


@case(vector(4, -1.0, 1.0))
def augmented_assign_then_store_fails(x):
    """p.arr += v on a read-only property and t[0] += v on a tuple: the in-place add
    happens, then the store raises (caught); the array and the list keep the change."""
    p = _ReadOnlyBox(x.copy())
    try:
        p.arr += x * x
    except AttributeError:
        pass
    a = x.copy()
    t = (a, [x[0]])
    try:
        t[0] += 2.0 * x
    except TypeError:
        pass
    try:
        t[1] += [x[1] * 3.0]
    except TypeError:
        pass
    return float(p.arr @ np.arange(1.0, 5.0) + a @ x) + sum(t[1]) * t[1][-1]


@case(vector(4, -1.0, 1.0))
def assignment_target_order(x):
    """Tuple targets are stored left to right: `i, a[i] = 2, v` uses the new i; `b[j], j =
    v, 3` the old j; a subscript with a side-effecting index is evaluated once in a[k] += v."""
    a = list(x)
    i = 0
    i, a[i] = 2, x[0] * 5.0
    b = list(x)
    j = 1
    b[j], j = x[3] ** 2, 3
    c = x.copy()
    it = iter([0, 2, 1])
    c[next(it)] += c[3]
    c[next(it)] *= 3.0
    w = [1.0, 2.0, 3.0, 4.0]
    return sum(u * v for u, v in zip(a, w)) + sum(u * v for u, v in zip(b, w[::-1])) \
        + float(c @ w) + i + j


@case(vector(5, -1.0, 1.0))
def exceptions_carry_traced_values(x):
    """Traced values travel in exception arguments (raise ValueError(v)), read back from
    e.args in the handler; a custom exception class with an attribute."""
    class Overshoot(Exception):
        def __init__(self, amount):
            super().__init__("overshoot")
            self.amount = amount

    out = 0.0
    for v in x:
        try:
            if v > 0.5:
                raise Overshoot(v - 0.5)
            if v > 0:
                raise ValueError(v * 2.0, "pos")
            out += v
        except ValueError as e:
            out += e.args[0] ** 2
        except Overshoot as e:
            out += 10.0 * e.amount
    return out


@case(vector(4, -1.0, 1.0))
def finalizers_collect_traced_values(x):
    """__del__ of short-lived objects and weakref.finalize callbacks append traced values
    to a list the result reads (CPython runs them when the last reference goes)."""
    import weakref

    sink = []

    class T:
        def __init__(self, v):
            self.v = v

        def __del__(self):
            sink.append(self.v * 3.0)

    for v in x:
        t = T(v * v)
    del t

    class Plain:
        pass

    o = Plain()
    weakref.finalize(o, sink.append, x[0] * 2.0)
    del o
    return sum(sink) + x[1]


@case(vector(4, -1.0, 1.0))
def locals_dict_and_generator_close(x):
    """locals() read by name, and a generator closed early whose finally block appends a
    traced value."""
    a = x[0] * 2.0
    b = x[1] ** 2
    loc = locals()
    acc = []

    def gen():
        try:
            yield from x
        finally:
            acc.append(x[3] * 4.0)

    g = gen()
    s = next(g) + next(g)
    g.close()
    return loc["a"] * loc["b"] + s + sum(acc)


# program -> (verdict, cause): merged into tests/test_classic_corpus.py's EXPECTED
EXPECTED: dict[str, tuple[str, str]] = {
    # reported at the user's line
    "methodcaller_conjugate": ("wrong_hazard", "operator.methodcaller('conjugate') calls the "
                               "method in C: FA101"),
    "frompyfunc_outer_reduce_accumulate": ("wrong_hazard", "ufunc.outer / .reduce / "
                                           ".accumulate of a np.frompyfunc ufunc (object "
                                           "loops in C): FA101, the gradient is zero"),
    "object_array_matmul": ("wrong_hazard", "@ and np.dot of object arrays of Python floats: "
                            "FA101 (NumPy's object matmul loop is not followed)"),
}

# program -> why its cached replay (value_and_grad(f, cache=True)) is wrong: SILENT wrong
# values at a new point (none today)
REPLAY_EXPECTED: dict[str, str] = {}
