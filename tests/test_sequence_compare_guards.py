"""Comparisons of lists/tuples holding traced values in cached traces: the comparison probe
sends two exact lists/tuples holding traced values to ProbeHandlers.compare while guards are
recorded, which guards the decision (tree_value), so a replay where the decision flips is a
miss, not a silently wrong value. Checked against native values, central differences and
uncached framead."""

import warnings
from collections import namedtuple

import numpy as np
import pytest
from conftest import fd_grad
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framead


def _check(f, points: list) -> dict:
    """``value_and_grad(f, cache=True)`` at each point in turn against the native value,
    central differences (not where an equality holds: a tie) and uncached framead; the
    cache's stats."""
    vg = framead.value_and_grad(f, cache=True)
    for p in points:
        x = np.array(p, dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value, g = vg(x.copy())
            plain = framead.grad(f)(x.copy())
        assert float(value) == float(f(x.copy())), (p, vg.stats)
        if f not in _TIES:
            np.testing.assert_allclose(np.asarray(g, dtype=float), fd_grad(f, x.copy()),
                                       rtol=1e-6, atol=1e-8, err_msg=f"{p} {vg.stats}")
        np.testing.assert_allclose(np.asarray(g, dtype=float), np.asarray(plain, dtype=float),
                                   rtol=1e-12, atol=1e-12)
    return vg.stats


def lexicographic_tuple_choice(x):
    return float(x[0] if (x[0], 1) < (x[2], 0) else 5.0 * x[1])


def best_prefix_slice(x):
    best = (x[1], 0, "b")
    cost, k = x[0] * 1.0, 1
    return x[0] * 3.0 if (cost, k) < best[:2] else x[1] * x[2]


def list_gt(x):
    a, b, c, d = x[0], x[1], x[2], 0.5
    return a * b if [a, b] > [c, d] else c * 2.0


def tuple_eq(x):
    return x[0] * 2.0 if (x[0] * 1.0, 2) == (x[1] * 1.0, 2) else x[1] * x[2]


def tuple_ne_nested(x):
    return x[2] * 4.0 if ((x[0], (1, x[1])),) != ((x[0], (1, 0.25)),) else x[0] - x[2]


def list_tuple_eq_mixed(x):  # a list never equals a tuple: no decision on traced values
    return x[0] * 2.0 if [x[0]] == (x[0],) else x[1] * 3.0


def running_min_pairs(x):
    best = (x[0], 0)
    for k in range(1, 3):
        if (x[k], k) <= best:
            best = (x[k], k)
    return best[0] * (best[1] + 1.0)


_TIES = (tuple_eq, tuple_ne_nested)  # (their decisions hold at ties: no finite differences)

Pair = namedtuple("Pair", "cost k")


class Reversed(tuple):
    """A tuple ordered backwards: its own __lt__ runs (instrumented), comparing floats."""

    def __lt__(self, other):
        return tuple(other) < tuple(self)


def namedtuple_choice(x):
    return float(x[0] if Pair(x[0], 1) < Pair(x[2], 0) else 5.0 * x[1])


def tuple_subclass_own_lt(x):
    return x[0] * 3.0 if Reversed((x[0], 1)) < Reversed((x[1], 0)) else x[2] * 2.0


class Row(list):
    pass


def list_subclass_ge(x):
    return x[0] * 3.0 if Row([x[0], 2.0]) >= [x[1] * 1.0, 1.0] else x[2] * x[1]


# (program, first point, a point where the decision is the same, one where it flips)
CASES = [
    (lexicographic_tuple_choice, [.3, -.5, .7], [.2, -.4, .8], [.9, -.5, .7]),
    (best_prefix_slice, [.3, .6, .7], [.1, .6, .9], [.8, .6, .7]),
    (list_gt, [.9, .2, .3], [.8, .3, .2], [.1, .2, .3]),
    (tuple_eq, [.5, .5, .7], [.5, .5, .3], [.5, .6, .7]),
    (tuple_ne_nested, [.5, .5, .7], [.4, .6, .3], [.5, .25, .7]),
    (running_min_pairs, [.3, .2, .7], [.4, .1, .9], [.3, .6, .1]),
    (namedtuple_choice, [.3, -.5, .7], [.2, -.4, .8], [.9, -.5, .7]),
    (tuple_subclass_own_lt, [.9, .2, .3], [.8, .3, .2], [.1, .2, .3]),
    (list_subclass_ge, [.9, .2, .3], [.8, .3, .2], [.1, .2, .3]),
]


@pytest.mark.parametrize("f,first,same,flip", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_decision_replayed_only_where_it_holds(f, first, same, flip):
    stats = _check(f, [first, same, flip, flip])
    # the same decision: a replay; the flipped one: a fresh capture, then its own replay
    assert stats["hits"] == 2 and stats["captures"] == 2, stats


def test_list_never_equals_tuple():
    stats = _check(list_tuple_eq_mixed, [[.3, .4, .5], [.9, .1, .2]])
    assert stats["hits"] == 1, stats


def test_untraced_tuples_not_guarded():
    def f(x):
        n = sum(1 for i in range(50) if (i, 1) < (i ^ 3, 0))
        return x[0] * n

    stats = _check(f, [[.5], [-2.0]])
    assert stats["hits"] == 1 and stats["captures"] == 1, stats


# ------------------------------------------------ hypothesis: operand shapes and operators

# (the COMPARE_OP instruction itself, in the program's code: operator.lt would be a call)
_OPS = [lambda a, b: a < b, lambda a, b: a <= b, lambda a, b: a == b,
        lambda a, b: a != b, lambda a, b: a > b, lambda a, b: a >= b]
_EQUALITIES = _OPS[2:4]
_leaf = st.one_of(st.tuples(st.just("x"), st.integers(0, 2)),
                  st.tuples(st.just("c"), st.sampled_from([0, 1, 0.5, -0.25, 2])))
_shape = st.recursive(_leaf, lambda inner: st.tuples(st.just("t"), st.lists(inner, min_size=1,
                                                                            max_size=3)),
                      max_leaves=6)


def _build(spec, x):
    tag, v = spec
    if tag == "x":
        return x[v]
    if tag == "c":
        return v
    return tuple(_build(s, x) for s in v)


def _fill(spec, draw):
    """The other operand: the same nesting (comparable), leaves drawn anew."""
    tag, v = spec
    if tag == "t":
        return ("t", [_fill(s, draw) for s in v])
    return draw(_leaf)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_sequence_comparisons_replay_as_native(data):
    items = data.draw(st.lists(_shape, min_size=1, max_size=4))
    other = [_fill(s, data.draw) for s in items]
    other = other[:data.draw(st.integers(1, len(other)))]
    if data.draw(st.booleans()):
        items, other = other, items
    op = data.draw(st.sampled_from(_OPS))
    kind_a = data.draw(st.sampled_from([tuple, list]))
    kind_b = kind_a if op not in _EQUALITIES else \
        data.draw(st.sampled_from([tuple, list]))

    def f(x):
        a = kind_a(_build(s, x) for s in items)
        b = kind_b(_build(s, x) for s in other)
        return x[0] * 2.0 if op(a, b) else x[1] * 3.0 + x[2]

    grid = [-0.25, 0.0, 0.5, 1.0, 2.0]
    pts = [np.array([data.draw(st.sampled_from(grid)) for _ in range(3)]) for _ in range(3)]
    vg = framead.value_and_grad(f, cache=True)
    for x in pts:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value, g = vg(x.copy())
            plain = framead.grad(f)(x.copy())
        assert float(value) == float(f(x.copy())), (x, vg.stats)
        np.testing.assert_array_equal(np.asarray(g, dtype=float), np.asarray(plain, dtype=float))
    # the gradient itself: 2 at x0 on one branch, (0, 3, 1) on the other
    x = pts[-1]
    taken = op(kind_a(_build(s, x) for s in items), kind_b(_build(s, x) for s in other))
    want = np.array([2.0, 0, 0]) if taken else np.array([0, 3.0, 1.0])
    np.testing.assert_array_equal(np.asarray(g, dtype=float), want)
