"""Containers of traced floats that are not exact lists/tuples, handed to NumPy and math:
deques, list/tuple subclasses, namedtuples, UserLists and a user class with only ``__len__`` /
``__getitem__`` (the sequence protocol). NumPy converts them in C (``PySequence_Fast``: a
subclass's storage, any other sequence ``list(obj)``); framead reads them first, the same way
(capture/sequences.py), or reports FA101 where it cannot.

Each case is checked against central differences in float64 (conftest.fd_grad) and the
native value; ``strict=True`` throughout: a case must be right, or raise GradientHazard where
one is expected. Alone in the call (nothing else traced), such a container reaches the
handler because the C trampoline looks inside it (capture/_evalframe.c ``scan_walk``'s
FA_SCAN_SEQS for a ruled call's arguments, ``seq_operand_traced`` for a BINARY_OP operand;
tests/test_sequence_scan_c.py tests that scan further)."""

from __future__ import annotations

import collections
import math
from typing import Any

import numpy as np
import pytest
from conftest import FAKE, fd_grad
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

framead = pytest.importorskip("framead")
if FAKE:
    pytest.skip("framead itself is under test here", allow_module_level=True)

from framead.errors import GradientHazard  # noqa: E402


class _List(list):
    """A list subclass with a helper method, as legacy code defines them."""

    def total(self) -> float:
        return sum(self)


class _Tuple(tuple):
    __slots__ = ()


_Point = collections.namedtuple("_Point", "a b c")


class _Samples:
    """The sequence protocol only: __len__ and __getitem__ (no __iter__, no __array__)."""

    def __init__(self, values: list) -> None:
        self.values = values

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, i: int) -> Any:
        if i >= len(self.values):
            raise IndexError(i)
        return self.values[i]


class _Hooked(_Samples):
    """A sequence whose class hooks attribute lookup: NumPy's protocol lookups would run
    it, so framead does not mirror NumPy's reading (FA101 where it meets a rule)."""

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


KINDS = {
    "deque": collections.deque,
    "list_subclass": _List,
    "tuple_subclass": _Tuple,
    "userlist": collections.UserList,
    "namedtuple": lambda items: _Point(*items),
    "user_sequence": _Samples,
    "hooked_sequence": _Hooked,
}
_W = np.array([0.3, -0.7, 1.1])
CONSUMERS = {
    "np.sum": lambda c, w: np.sum(c),
    "np.asarray+sum": lambda c, w: np.asarray(c).sum(),
    "np.dot": lambda c, w: np.dot(w, c),
    "np.linalg.norm": lambda c, w: np.linalg.norm(c),
    "np.mean": lambda c, w: np.mean(c),
    "np.median": lambda c, w: np.median(c),
    "math.fsum": lambda c, w: math.fsum(c),
    "ndarray+c": lambda c, w: (w + c) @ np.arange(1.0, 4.0),
    "np.concatenate": lambda c, w: np.concatenate([c, w]) @ np.arange(1.0, 7.0),
}
_USES_W = ("np.dot", "ndarray+c", "np.concatenate")


def program(kind: str, consumer: str, traced: bool, partner: bool):
    """f(x): a container of three numbers (computed from x, or constants) given to the
    consumer, with a weight vector (computed from x with ``partner``), plus a plain term."""
    make, use = KINDS[kind], CONSUMERS[consumer]

    def f(x):
        a, b, c = float(x[0]), float(x[1]), float(x[2])
        items = [a * 1.5, b * b + 0.5, math.sin(c)] if traced else [0.25, -1.5, 0.75]
        w = _W * x[1] if partner else _W
        return float(use(make(items), w)) + 0.25 * a * c
    return f


def expected(kind: str, consumer: str, traced: bool, partner: bool) -> str:
    """"right" or "hazard" (GradientHazard under strict=True): a hooked sequence's reading
    is not mirrored (capture/sequences.py is_sequence), FA101 where it holds traced values
    or meets a traced array."""
    if kind == "hooked_sequence" and consumer == "ndarray+c" and partner:
        return "hazard"  # (NumPy's reading not mirrored: w's gradient is lost too)
    if not traced or consumer == "math.fsum":  # (fsum: a special form iterating in Python)
        return "right"
    return "hazard" if kind == "hooked_sequence" else "right"


CASES = [(k, c, t, p) for k in KINDS for c in CONSUMERS for t in (True, False)
         for p in ((False, True) if c in _USES_W else (False,))]


def _param(k: str, c: str, t: bool, p: bool):
    return pytest.param(k, c, t, p,
                        id=f"{k}-{c}-{'traced' if t else 'const'}{'-partner' if p else ''}")


_POINTS = st.lists(st.floats(-1.5, 1.5).filter(lambda v: abs(v) > 0.05), min_size=3,
                   max_size=3)


@pytest.mark.parametrize("kind,consumer,traced,partner", [_param(*c) for c in CASES])
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(point=_POINTS)
def test_sequence_container_gradients(kind, consumer, traced, partner, point):
    f = program(kind, consumer, traced, partner)
    x = np.array(point)
    if consumer == "np.median" and traced:  # (no ties: median is differentiable there)
        vals = sorted([1.5 * x[0], x[1] ** 2 + 0.5, math.sin(x[2])])
        if min(abs(vals[1] - vals[0]), abs(vals[2] - vals[1])) < 0.05:
            return
    want = expected(kind, consumer, traced, partner)
    grad = framead.value_and_grad(f, strict=True)
    if want == "hazard":
        with pytest.raises(GradientHazard, match="FA101"):
            grad(x.copy())
        return
    value, g = grad(x.copy())
    assert value == pytest.approx(f(x.copy()), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(g, fd_grad(f, (x.copy(),)), rtol=1e-6, atol=1e-7)


def test_deque_np_sum_plus_item():
    """The reported case, np.sum of a deque of x's items + x[0]: [2, 1, 1], with another
    traced argument routing the call (np.add with a traced array). (deque(x) itself iterates
    the array in C: corpus containers_from_numpy_array.)"""
    def f(x):
        d = collections.deque([v * 1.0 for v in x])
        return float(np.sum(np.add(d, 0.0 * x)) + x[0])
    x = np.array([0.5, -1.0, 2.0])
    _, g = framead.value_and_grad(f, strict=True)(x)
    np.testing.assert_allclose(g, [2.0, 1.0, 1.0])


def test_math_dist_of_tuple_subclasses():
    """math.dist reads a tuple subclass's storage and iterates a list subclass."""
    def f(x):
        p = _Point(float(x[0]), float(x[1]) * 2.0, 1.0)
        q = _List([0.5, float(x[2]), -1.0])
        return math.dist(p, q)
    x = np.array([0.3, -0.4, 1.2])
    _, g = framead.value_and_grad(f, strict=True)(x)
    np.testing.assert_allclose(g, fd_grad(f, (x,)), rtol=1e-6, atol=1e-8)


def test_sequence_read_in_numpy_order():
    """The user sequence's __len__ and __getitem__ run as NumPy runs them (once each item,
    in order, __len__ first), and what they compute from traced values is followed."""
    calls = []

    class Seq:
        def __init__(self, v):
            self.v = v

        def __len__(self):
            calls.append("len")
            return len(self.v)

        def __getitem__(self, i):
            calls.append(i)
            if i >= len(self.v):
                raise IndexError(i)
            return self.v[i] * 2.0

    def f(x):
        return float(np.dot(x * 1.0, Seq([float(x[0]), float(x[1])])))
    x = np.array([0.5, -1.5])
    f(x)
    native, calls[:] = list(calls), []  # (np.dot reads them twice: len, len, 0, 1, 2, ...)
    value, g = framead.value_and_grad(f, strict=True)(x)
    assert calls == native
    np.testing.assert_allclose(g, [4 * x[0], 4 * x[1]])


class _FunctionsOnly:
    """An array-like with a Python __array_function__ (NumPy hands it np.sum, np.dot...)
    and a Python __array__: a ufunc never hands it its call, it converts it."""

    def __init__(self, values: list) -> None:
        self.values = values

    def __array_function__(self, func, types, args, kwargs):
        return NotImplemented

    def __array__(self, dtype=None, copy=None):
        return np.array([v * 2.0 for v in self.values])


@pytest.mark.parametrize("op", ["np.exp", "np.add", "np.asarray"])
def test_override_not_used_by_the_callee_converts(op):
    """protocols.conversions skips an object only where NumPy hands this call to its
    override: a ufunc (np.exp, np.add) or np.asarray converts one with __array_function__
    only through its __array__ (before: FA101, or a silent constant)."""
    fns = {"np.exp": lambda o, x: np.exp(o) @ x, "np.add": lambda o, x: np.add(o, x) @ x,
           "np.asarray": lambda o, x: np.asarray(o) @ x}

    def f(x):
        return float(fns[op](_FunctionsOnly([float(x[0]), float(x[1]) ** 2]), x))
    x = np.array([0.4, -0.3])
    value, g = framead.value_and_grad(f, strict=True)(x.copy())
    assert value == pytest.approx(f(x.copy()))
    np.testing.assert_allclose(g, fd_grad(f, (x.copy(),)), rtol=1e-6, atol=1e-8)
