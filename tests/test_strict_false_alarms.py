"""strict=True raises only where a gradient can really be lost.

Each program computes with traced values through a Python feature that hands them to C
(generator.send/throw, a metaclass's super().__call__, functools.lru_cache, partial, wraps,
operator.methodcaller, descriptors, classmethod/staticmethod, __init_subclass__,
dataclasses, contextmanager): strict=True must give the gradient central differences give.
The second table is where the gradient really is lost: there a hazard is required.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import operator

import numpy as np
import pytest

import framead


def central(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


def gen_send(x):
    def acc():
        total = 0.0
        while True:
            v = yield total
            total = total + v * x

    it = acc()
    next(it)
    it.send(2.0)
    return it.send(x)


def gen_throw(x):
    def g(v):
        try:
            yield v * v
        except ValueError:
            yield v * 3.0

    it = g(x)
    next(it)
    return it.throw(ValueError)


def yield_from_send(x):
    def inner():
        v = yield 0.0
        yield v * v

    def outer():
        yield from inner()

    it = outer()
    next(it)
    return it.send(x * 3.0)


def coroutine_send(x):
    async def c(v):
        return v ** 3

    co = c(x)
    try:
        co.send(None)
    except StopIteration as e:
        return e.value


class Meta(type):
    def __call__(cls, *a, **k):
        return super().__call__(*a, **k)


class Made(metaclass=Meta):
    def __init__(self, v, scale=2.0):
        self.v = v * scale


@functools.lru_cache(maxsize=128)
def _lru_square(v):
    return v * v


@functools.cache
def _cached_cube(v):
    return v ** 3


def lru(x):
    _lru_square.cache_clear()
    return _lru_square(x) + _lru_square(x) + math.sin(x)


def cache(x):
    _cached_cube.cache_clear()
    return _cached_cube(x)


def _logged(fn):
    @functools.wraps(fn)
    def wrapper(*a, **k):
        return fn(*a, **k)

    return wrapper


@_logged
def _wrapped(v):
    return v ** 3


class Scale:
    def __init__(self, s):
        self.s = s

    def apply(self, v):
        return v * self.s


class Box:
    factor = 3.0

    def __init__(self, v):
        self._v = v

    @property
    def sq(self):
        return self._v ** 2

    @classmethod
    def doubled(cls, v):
        return cls(v * 2.0)

    @staticmethod
    def five(v):
        return v * 5.0


class Times3:
    def __get__(self, obj, owner=None):
        return obj._v * 3.0


class HasDescriptor:
    d = Times3()

    def __init__(self, v):
        self._v = v


def init_subclass(x):
    seen = []

    class Base:
        def __init_subclass__(cls, k=1.0, **kw):
            super().__init_subclass__(**kw)
            seen.append(k * k)

    class Child(Base, k=x):
        pass

    return seen[0]


@dataclasses.dataclass
class Point:
    a: float
    b: float

    def norm(self):
        return math.hypot(self.a, self.b)


@dataclasses.dataclass(frozen=True, order=True)
class Frozen:
    a: float


@dataclasses.dataclass
class Tripled:
    a: float

    def __post_init__(self):
        self.a = self.a * 3.0


@contextlib.contextmanager
def _scaled(v):
    yield v * 2.0


def contextmanager_body(x):
    with _scaled(x) as y:
        return y * x


PROGRAMS = {
    "generator.send": gen_send,
    "generator.throw": gen_throw,
    "yield from .send": yield_from_send,
    "coroutine.send": coroutine_send,
    "metaclass super().__call__": lambda x: Made(x).v * x + Made(x, scale=x).v,
    "functools.lru_cache": lru,
    "functools.cache": cache,
    "functools.partial": lambda x: functools.partial(operator.mul, 2.0)(x) * x,
    "functools.partial of Python": lambda x: functools.partial(lambda a, b: a * b, x)(x),
    "functools.wraps": lambda x: _wrapped(x),
    "operator.methodcaller": lambda x: operator.methodcaller("apply", x)(Scale(x)),
    "property": lambda x: Box(x).sq,
    "classmethod": lambda x: Box.doubled(x).sq,
    "staticmethod": lambda x: Box.five(x) * Box.factor,
    "descriptor __get__": lambda x: HasDescriptor(x).d * x,
    "__init_subclass__": init_subclass,
    "dataclass method": lambda x: Point(x, 2.0).norm(),
    "dataclass order": lambda x: max(Frozen(x), Frozen(0.5)).a * 2.0,
    "dataclass __post_init__": lambda x: Tripled(x).a ** 2,
    "dataclasses.astuple": lambda x: sum(dataclasses.astuple(Point(x, x * x))),
    "dataclasses.replace": lambda x: dataclasses.replace(Point(x, 1.0), b=x).norm(),
    "contextmanager body": contextmanager_body,
    "functools.reduce": lambda x: functools.reduce(operator.mul, [x, x, 2.0]),
    "copy.deepcopy of an array": lambda x: __import__("copy").deepcopy(np.array([x, 2.0]))
    .sum() * x,
}


@pytest.mark.parametrize("name", PROGRAMS)
def test_strict_gives_the_gradient_without_false_alarms(name):
    f = PROGRAMS[name]
    g = framead.grad(f, strict=True)(1.3)
    assert abs(g - central(f, 1.3)) < 1e-6 * max(1.0, abs(g))


# --------------------------------------------------------------------------- real losses


def stale_cache(x):
    return _lru_square(x) * 2.0  # 1.3 was cached before the capture: a constant


def equal_values_share_a_cache_entry(x):
    _lru_square.cache_clear()
    y = x * 1.0
    z = x * 2.0 - y  # equal to y, another traced value
    return _lru_square(y) + _lru_square(z)


def _made_before():
    acc = 0.0
    while True:
        v = yield acc
        acc = acc + v * 2.0


_EARLY = _made_before()
next(_EARLY)


LOSSES = {
    "lru_cache hit of a value cached before the capture": (stale_cache, "FA101"),
    "lru_cache hit computed from another traced value": (equal_values_share_a_cache_entry,
                                                         "FA101"),
    "send into a generator made before the capture": (lambda x: _EARLY.send(x), "FA101"),
}


@pytest.mark.parametrize("name", LOSSES)
def test_real_losses_are_reported(name):
    f, code = LOSSES[name]
    _lru_square(1.3)
    with pytest.raises(framead.GradientHazard, match=code):
        framead.grad(f, strict=True)(1.3)
