"""The C trampoline's look inside the sequences NumPy reads in C (capture/_evalframe.c
``scan_walk``'s FA_SCAN_SEQS, ``seq_operand_traced``): a deque (or a subclass, a maxlen
one), a UserList (or a subclass) and an object with only ``__len__`` / ``__getitem__``,
holding traced numbers, handed alone to a ruled NumPy call or met by an untraced array in a
binary operator, as they are or nested in lists, tuples, deques and UserLists. Before, such
a call ran natively: a silently wrong (zero) gradient.

Each case is checked against central differences in float64 (conftest.fd_grad) and the
native value; the user sequences' own code runs as often under capture as natively (the
scan runs none of it), and the scan is bounded (shared and cyclic structures)."""

from __future__ import annotations

import collections
import math
import time
from typing import Any

import numpy as np
import pytest
from conftest import FAKE, fd_grad
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

framead = pytest.importorskip("framead")
if FAKE:
    pytest.skip("framead itself is under test here", allow_module_level=True)

from test_sequence_containers import _Point, _Samples  # noqa: E402

from framead.errors import GradientHazard  # noqa: E402


class _Deque(collections.deque):
    """A deque subclass (a heap type on every version)."""


class _UserList(collections.UserList):
    def total(self) -> float:
        return sum(self)


class _List(list):
    pass


_Seq = _Samples  # (the sequence protocol only: __len__ and __getitem__)


KINDS = {
    "deque": collections.deque,
    "deque_maxlen": lambda items: collections.deque(items, maxlen=len(items)),
    "deque_subclass": _Deque,
    "userlist": collections.UserList,
    "userlist_subclass": _UserList,
    "user_sequence": _Seq,
    "list_subclass": _List,
    "namedtuple": lambda items: _Point(*items),
}
# how the container reaches the consumer: as it is, or inside another sequence
NESTINGS = {
    "alone": lambda c, make: c,
    "in_list": lambda c, make: [c],
    "in_tuple": lambda c, make: (c, make([0.5, -0.25, 2.0])),
    "in_deque": lambda c, make: collections.deque([make([1.0, 2.0, 3.0]), c]),
    "in_userlist": lambda c, make: collections.UserList([c]),
    "in_user_sequence": lambda c, make: _Seq([c, make([0.0, 1.0, -1.0])]),
}
_W = np.array([0.3, -0.7, 1.1])
CONSUMERS = {
    "np.mean": lambda c: np.mean(c),
    "np.asarray": lambda c: (np.asarray(c) * _W).sum(),
    "np.linalg.norm": lambda c: np.linalg.norm(c),
    "np.dot": lambda c: np.dot(c, _W).sum(),
    "np.exp": lambda c: np.exp(c).sum(),
    "ndarray+c": lambda c: ((_W + c) ** 2).sum(),
    "c*ndarray": lambda c: (c * _W).sum(),
    "np.add": lambda c: (np.add(c, 0.5) ** 2).sum(),
}
_OWN_OPERATORS = ("userlist", "userlist_subclass", "namedtuple", "list_subclass")


def _program(kind: str, nesting: str, consumer: str, numpy_items: bool):
    make, nest, use = KINDS[kind], NESTINGS[nesting], CONSUMERS[consumer]

    def f(x):
        if numpy_items:
            items = [x[0] * 1.5, x[1] * x[1] + 0.5, np.sin(x[2])]
        else:
            a, b, c = float(x[0]), float(x[1]), float(x[2])
            items = [a * 1.5, b * b + 0.5, math.sin(c)]
        return float(use(nest(make(items), make)))
    return f


def _applies(kind: str, nesting: str, consumer: str) -> bool:
    """``c * ndarray`` with c (or what holds it) a UserList or a list/tuple subclass: its own
    operator (repetition) or a TypeError, not NumPy's."""
    if consumer == "c*ndarray" and (nesting == "in_userlist" or (
            nesting == "alone" and kind in _OWN_OPERATORS)):
        return False
    return _KNOWN.get((kind, nesting, consumer in _OPERATORS)) is None


_OPERATORS = ("ndarray+c", "c*ndarray")
# (kind, nesting, an operator) -> why framead's Python side still fails (strict xfails below)
_KNOWN = {
    **{("user_sequence", n, True): (
        "a list/tuple operand holding a user sequence: the C probe sends it to the handler, "
        "but ProbeHandlers._sequence_binop's coerce reads the list through tree_value, which "
        "reads no user sequence (sequences.numpy_read is not asked), and converts it with "
        "np.asarray natively: its traced values are constants, FA108")
        for n in ("in_list", "in_tuple")},
    ("namedtuple", "in_tuple", True): (
        "a tuple operand holding a namedtuple: np.array's VJP rebuilds the namedtuple by "
        "calling its class on one list (TypeError: __new__() missing arguments) in the "
        "reverse pass"),
}


_POINTS = st.lists(st.floats(-1.5, 1.5).filter(lambda v: abs(v) > 0.05), min_size=3,
                   max_size=3)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(KINDS)), nesting=st.sampled_from(sorted(NESTINGS)),
       consumer=st.sampled_from(sorted(CONSUMERS)), numpy_items=st.booleans(),
       point=_POINTS)
def test_sequence_alone_in_the_call(kind, nesting, consumer, numpy_items, point):
    """Container kind x nesting x consumer: nothing else traced reaches the call or the
    operator, so only the C scan can send it to the handler."""
    if not _applies(kind, nesting, consumer):
        return
    f = _program(kind, nesting, consumer, numpy_items)
    x = np.array(point)
    value, g = framead.value_and_grad(f, strict=True)(x.copy())
    assert value == pytest.approx(f(x.copy()), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(g, fd_grad(f, (x.copy(),)), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", [pytest.param(
    (k, n, "ndarray+c"), id=f"{k}-{n}", marks=pytest.mark.xfail(strict=True, reason=why))
    for (k, n, _), why in _KNOWN.items()])
def test_known_python_side_gaps(case):
    """The combinations the hypothesis test leaves out (framead's Python side, not the C
    scan: capture/handlers.py, np.array's VJP)."""
    f = _program(*case, False)
    x = np.array([0.4, -0.8, 1.2])
    _, g = framead.value_and_grad(f, strict=True)(x.copy())
    np.testing.assert_allclose(g, fd_grad(f, (x.copy(),)), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kind", ["deque", "userlist", "user_sequence"])
@pytest.mark.parametrize("consumer", ["np.mean", "ndarray+c"])
def test_each_kind_alone(kind, consumer):
    """The plain cases, one by one (the hypothesis test above draws among many)."""
    f = _program(kind, "alone", consumer, False)
    x = np.array([0.4, -0.8, 1.2])
    _, g = framead.value_and_grad(f, strict=True)(x.copy())
    np.testing.assert_allclose(g, fd_grad(f, (x.copy(),)), rtol=1e-6, atol=1e-8)


class _Counted:
    """A user sequence counting the calls of its code (and of attribute lookups it hooks:
    NumPy's protocol lookups run them)."""

    calls: list = []

    def __init__(self, values: list) -> None:
        self.values = values

    def __len__(self) -> int:
        self.calls.append("len")
        return len(self.values)

    def __getitem__(self, i: int) -> Any:
        self.calls.append(i)
        if i >= len(self.values):
            raise IndexError(i)
        return self.values[i] * 2.0


@pytest.mark.parametrize("traced", [True, False])
@pytest.mark.parametrize("consumer", ["np.asarray", "np.mean", "ndarray+c"])
def test_scan_runs_no_user_code(traced, consumer):
    """The user sequence's __len__ / __getitem__ run under capture exactly as natively (the
    C scan reads its attributes, never its code; framead's reading is the one NumPy's would
    be), with the right gradient."""
    use = CONSUMERS[consumer]

    def f(x):
        vals = [float(x[0]), float(x[1]) ** 2, 1.0] if traced else [0.5, 0.25, 1.0]
        return float(use(_Counted(vals))) + float(x[2]) * float(x[0])
    x = np.array([0.5, -1.5, 0.75])
    _Counted.calls = []
    f(x.copy())
    native, _Counted.calls = _Counted.calls, []
    value, g = framead.value_and_grad(f, strict=True)(x.copy())
    assert _Counted.calls == native
    assert value == pytest.approx(f(x.copy()))
    np.testing.assert_allclose(g, fd_grad(f, (x.copy(),)), rtol=1e-6, atol=1e-8)


class _Hooked(_Seq):
    """Attribute lookups hooked: NumPy's protocol lookups run it, framead does not mirror
    that reading (FA101 where it meets traced values)."""

    lookups = 0

    def __getattr__(self, name: str) -> Any:
        type(self).lookups += 1
        raise AttributeError(name)


@pytest.mark.parametrize("consumer", ["np.mean", "ndarray+c"])
def test_hooked_sequence_alone_is_reported(consumer):
    """A sequence whose class hooks attribute lookup, alone in the call: FA101 (before:
    native, silently a zero gradient)."""
    use = CONSUMERS[consumer]

    def f(x):
        return float(use(_Hooked([float(x[0]) * 2.0, float(x[1]), 1.0])))
    with pytest.raises(GradientHazard, match="FA101"):
        framead.value_and_grad(f, strict=True)(np.array([0.5, -1.0]))


def test_constant_hooked_sequence_runs_natively():
    """Nothing traced inside: the call runs natively, its hooks as often as natively."""
    def f(x):
        return float(np.mean(_Hooked([0.5, 1.5, 2.0]))) + float(x[0]) ** 2
    x = np.array([0.5, -1.0])
    _Hooked.lookups = 0
    f(x.copy())
    native, _Hooked.lookups = _Hooked.lookups, 0
    _, g = framead.value_and_grad(f, strict=True)(x.copy())
    assert _Hooked.lookups == native
    np.testing.assert_allclose(g, [1.0, 0.0])


class _Shared(_Seq):
    """A user sequence whose first attribute is a DAG of 2**60 paths (60 levels of a list
    holding its sublist twice), a cycle back to itself, and its traced values after them."""

    def __init__(self, values: list) -> None:
        tree: list = []
        for _ in range(60):
            tree = [tree, tree]
        self.tree, self.me = tree, self
        super().__init__(values)


def test_scan_is_bounded():
    """The walk gives up past its budget ("maybe": the handler's cycle-safe walk looks) and
    finishes at once; the gradient is right."""
    def f(x):
        return float(np.mean(_Shared([float(x[0]) * 3.0, float(x[1]) ** 2])))
    x = np.array([0.5, -1.0])
    start = time.perf_counter()
    _, g = framead.value_and_grad(f, strict=True)(x.copy())
    assert time.perf_counter() - start < 5.0
    np.testing.assert_allclose(g, [1.5, x[1]])


@pytest.mark.parametrize("kind", ["deque", "userlist"])
def test_cyclic_sequence_terminates(kind):
    """A deque / UserList holding itself before its traced item: the walk stops at its
    depth limit ("maybe"), and NumPy's conversion fails as natively (its error's name
    feeds the result)."""
    def f(x):
        d = collections.deque() if kind == "deque" else collections.UserList()
        d.append(d)
        d.append(float(x[0]) * 2.0)
        try:
            r = str(np.mean(d))
        except Exception as e:  # noqa: BLE001 (whatever NumPy raises, as natively)
            r = type(e).__name__
        return float(x[0]) * len(r)
    x = np.array([0.5])
    value, g = framead.value_and_grad(f)(x.copy())
    assert value == f(x.copy())
    np.testing.assert_allclose(g, [f(x.copy()) / x[0]])


class _Vec:
    """A legacy vector class: the sequence protocol and its own operators."""

    def __init__(self, xs: list) -> None:
        self.xs = list(xs)

    def __len__(self) -> int:
        return len(self.xs)

    def __getitem__(self, i: int) -> Any:
        return self.xs[i]

    def __add__(self, o: _Vec) -> _Vec:
        return _Vec([a + b for a, b in zip(self.xs, o.xs, strict=True)])

    def __mul__(self, k: float) -> _Vec:
        return _Vec([a * k for a in self.xs])


def test_own_operators_stay_on_the_fast_path(monkeypatch):
    """``v * 0.5`` of a sequence class with its own operators, met by no array: the probe
    does not send it to the handler (its own __mul__ runs, instrumented, as before: no
    handler round trip per operation); an array meeting it does."""
    from framead.capture.handlers import ProbeHandlers

    seen = []
    binop = ProbeHandlers.binop

    def counting(self, oparg, a, b):
        if isinstance(a, _Vec) or isinstance(b, _Vec):
            seen.append((type(a).__name__, type(b).__name__))
        return binop(self, oparg, a, b)
    monkeypatch.setattr(ProbeHandlers, "binop", counting)

    def f(x):
        v, w = _Vec([float(x[0]), float(x[1])]), _Vec([0.5, 0.25])
        for _ in range(3):
            v = v * 0.5 + w
        return float((np.array([1.0, 2.0]) * v).sum())
    x = np.array([0.4, -0.8])
    _, g = framead.value_and_grad(f, strict=True)(x.copy())
    assert seen == [("ndarray", "_Vec")]
    np.testing.assert_allclose(g, [0.125, 0.25])


@pytest.mark.parametrize("kind", ["deque", "deque_subclass", "userlist", "list_subclass",
                                  pytest.param("user_sequence", marks=pytest.mark.xfail(
                                      strict=True, reason=(
                                          "the probe sends it to the handler, but "
                                          "Recorder.set_item reads the value through "
                                          "tree_value (deques, UserLists, list subclasses), "
                                          "not sequences.numpy_read: NumPy reads the user "
                                          "sequence natively, FA108")))])
@pytest.mark.parametrize("nested", [False, True])
def test_written_into_an_array(kind, nested):
    """``a[:] = container`` (or ``a[:] = [container]`` into a 2-d array): NumPy converts it in
    C; the setitem probe looks inside it as the call probe does."""
    make = KINDS[kind]

    def f(x):
        a = np.zeros((1, 3) if nested else 3)
        c = make([float(x[0]) * 2.0, float(x[1]) ** 2, math.sin(float(x[2]))])
        a[:] = [c] if nested else c
        return float((a * _W).sum())
    x = np.array([0.4, -0.8, 1.2])
    _, g = framead.value_and_grad(f, strict=True)(x.copy())
    np.testing.assert_allclose(g, fd_grad(f, (x.copy(),)), rtol=1e-6, atol=1e-8)


def test_deque_of_arrays_operand():
    """An untraced array plus a deque of traced rows: NumPy stacks the rows (2, 3)."""
    def f(x):
        d = collections.deque([x * 2.0, np.sin(x)])
        return float(((np.ones(3) + d) ** 2).sum())
    x = np.array([0.3, -0.6, 0.9])
    _, g = framead.value_and_grad(f, strict=True)(x.copy())
    np.testing.assert_allclose(g, fd_grad(f, (x.copy(),)), rtol=1e-6, atol=1e-8)


def test_deque_concatenation_stays_native():
    """deque + deque, deque * 2: CPython's own concatenation and repetition move the traced
    items by identity (not sent to the handler: np.sum of them is right)."""
    def f(x):
        d = collections.deque([float(x[0]), float(x[1]) * 2.0])
        e = d + collections.deque([1.0]) + d * 2
        return float(np.sum(e))
    x = np.array([0.5, -1.0])
    _, g = framead.value_and_grad(f, strict=True)(x.copy())
    np.testing.assert_allclose(g, [3.0, 6.0])
