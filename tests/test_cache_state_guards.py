"""A cached trace reused after the program's static state changed must give the native
result: each kind of state f reads (a module global's dict item, a user object's attribute
held globally, in a closure or passed as an argument, nested objects and dicts, closure
lists) is changed between calls, and the cached value and gradient are compared with the
native function and central differences. Module global lists count too: small ones by value,
large lists and dicts by the objects they hold (an item replaced); a list the program appends
to during the capture is not re-captured on every call."""
from __future__ import annotations

import math

import pytest
from conftest import fd_grad
from hypothesis import given, settings
from hypothesis import strategies as st

import framead


class Params:
    def __init__(self, a: float):
        self.a = a


class Holder:
    def __init__(self, a: float):
        self.inner = Params(a)
        self.table = {"a": a}


TABLE = {"a": 2.0}
CONFIG = Params(2.0)
NESTED = Holder(2.0)
COEFFS = [2.0]
BIG_LIST = [2.0] + [0.0] * 199
BIG_DICT = {f"k{i}": float(i) for i in range(100)} | {"a": 2.0}
_K0, _K1 = "w", 1.0
BIG_TRIPLES = [(_K0, _K1, 2.0)] + [(_K0, _K1, 0.0)] * 99
LOG: list = []


def _global_dict(x, _s):
    return TABLE["a"] * x * x


def _global_object(x, _s):
    return CONFIG.a * math.sin(x)


def _nested_object(x, _s):
    return NESTED.inner.a * x + NESTED.table["a"] * x ** 3


def _argument_object(x, s):
    return s.a * x * x


def _argument_nested(x, s):
    return s.inner.a * math.exp(x) + s.table["a"]


def _global_list(x, _s):
    return COEFFS[0] * x * x


def _global_big_list(x, _s):
    return BIG_LIST[0] * x * x + BIG_LIST[7] * x


def _global_big_dict(x, _s):
    return BIG_DICT["a"] * math.cos(x) + BIG_DICT["k3"] * x


def _global_big_list_of_triples(x, _s):
    return BIG_TRIPLES[0][2] * math.sin(x)


def _appends_to_global(x, _s):
    LOG.append(len(LOG))
    return COEFFS[0] * x * x


def _set(a: float) -> None:
    TABLE["a"] = a
    CONFIG.a = a
    NESTED.inner.a = a
    NESTED.table["a"] = a
    COEFFS[0] = a
    BIG_LIST[0] = a
    BIG_DICT["a"] = a
    BIG_TRIPLES[0] = (_K0, _K1, a)  # (a new tuple; its first two items the same objects)


KINDS = {"global_dict": (_global_dict, None), "global_object": (_global_object, None),
         "nested_object": (_nested_object, None), "argument_object": (_argument_object, Params),
         "argument_nested": (_argument_nested, Holder), "global_list": (_global_list, None),
         "global_big_list": (_global_big_list, None), "global_big_dict": (_global_big_dict, None)}


def _closure_program(a: float):
    box = {"a": a}
    obj = Params(a)

    def f(x, _s):
        return box["a"] * x + obj.a * x * x

    return f, box, obj


def _check(f, s, values, xs):
    g = framead.value_and_grad(f, cache=True)
    for a, x in zip(values, xs, strict=True):
        _set(a)
        if s is not None:
            s.a = a
            if hasattr(s, "inner"):
                s.inner.a = a
                s.table["a"] = a
        v, d = g(x, s)
        assert v == f(x, s), (f.__name__, a, x, v, f(x, s))
        want = fd_grad(lambda t: f(t, s), (x,))
        assert math.isclose(d, want, rel_tol=1e-6, abs_tol=1e-9), (f.__name__, a, d, want)


@settings(max_examples=45, deadline=None, derandomize=True)
@given(kind=st.sampled_from(sorted(KINDS)),
       values=st.lists(st.sampled_from([2.0, 3.0, -1.5]), min_size=2, max_size=5),
       x=st.sampled_from([0.3, 0.7, 1.1]))
def test_cached_trace_sees_changed_state(kind, values, x):
    f, cls = KINDS[kind]
    s = cls(values[0]) if cls is not None else None
    try:
        _check(f, s, values, [x] * len(values))
    finally:
        _set(2.0)


@pytest.mark.parametrize("values", [[2.0, 3.0], [2.0, 2.0, -1.0, 2.0]])
def test_closure_dict_and_object(values):
    f, box, obj = _closure_program(values[0])
    g = framead.value_and_grad(f, cache=True)
    for a in values:
        box["a"], obj.a = a, a
        v, d = g(0.7, None)
        assert v == f(0.7, None) and math.isclose(d, a + 2 * a * 0.7), (a, v, d)


def test_unchanged_state_is_reused():
    """The guard costs no re-capture while nothing changes."""
    g = framead.value_and_grad(_nested_object, cache=True)
    for x in (0.3, 0.5, 0.9):
        g(x, None)
    assert g.stats["captures"] == 1 and g.stats["hits"] == 2

@pytest.mark.parametrize("f", [_global_list, _global_big_list, _global_big_dict,
                               _global_big_list_of_triples])
def test_global_container_item_changed(f):
    try:
        _check(f, None, [2.0, 3.0, 3.0, 2.0], [0.7, 0.7, 0.4, 0.7])
    finally:
        _set(2.0)


def test_list_appended_to_is_not_recaptured():
    """A global list the program appends to (a log) is watched as it was after the capture:
    replays do not run the program, so it does not change and the trace is reused."""
    g = framead.value_and_grad(_appends_to_global, cache=True)
    for x in (0.3, 0.5, 0.9):
        v, d = g(x, None)
        assert v == 2.0 * x * x and math.isclose(d, 4.0 * x)
    assert g.stats["captures"] == 1 and g.stats["hits"] == 2


COUNTS = [0]


def _sorted_with_counting_key(x, _s):
    def key(_v):
        COUNTS[0] += 1
        return 0  # (reads nothing traced: the replay re-runs it on its items)
    items = [x * 1.0, 0.5, 2.0 * x]
    items.sort(key=key)
    return items[0] * COEFFS[0]


def test_list_its_callbacks_change_is_not_a_guard():
    """A global counter the program's own callbacks bump (also during replays, where the sort
    key runs) is the program's state, not a table it reads: compared by identity, so the trace
    is reused; a table beside it is still watched by value."""
    g = framead.value_and_grad(_sorted_with_counting_key, cache=True)
    try:
        for a, x in ((2.0, 0.3), (2.0, 0.35), (3.0, 0.35), (3.0, 0.3)):
            _set(a)
            v, d = g(x, None)
            assert v == _sorted_with_counting_key(x, None) and math.isclose(d, a), (a, v, d)
    finally:
        _set(2.0)
    assert g.stats["captures"] == 2 and g.stats["hits"] == 2, g.stats
