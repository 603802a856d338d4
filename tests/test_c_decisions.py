"""Equality decisions made in C in cached traces (``value_and_grad(f, cache=True)``: later
calls replay the trace while its guards hold): ``L.count(v)``, ``L.index(v)``, ``L.remove(v)``,
tuple's and deque's, ``operator.countOf/indexOf``, ``itertools.groupby``'s runs compare items
in C, where no probe sees them; a replay where they decide otherwise returned the recorded
decisions' value and gradient silently. Each is now guarded (capture/decision_guards.py: the
decision re-made from the replay's values) or makes the trace unreplayable with the reason.

The items are traced values on a 0.5 grid (``v - v % 0.5``: a zero derivative, the same
value under central differences), the result weighted by ``x``: the gradient depends on the
decisions. Each program is called at several points where they differ; every call's value
must be the native one, its gradient the central differences' and an uncached capture's."""

from __future__ import annotations

import collections
import itertools
import operator
import warnings

import numpy as np
import pytest
from conftest import check_replay_at_points, fd_grad
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framead

pytestmark = pytest.mark.filterwarnings("ignore::framead.api.GradientWarning")


def _grid(x):
    return [float(v - v % 0.5) for v in x]


def _index_or(vals, v):
    try:
        return vals.index(v)
    except ValueError:
        return -1


def _removed(vals, v):
    rest = list(vals)
    rest.remove(v)
    return rest


def _runs(vals, key=None):
    return [(k, len(list(g))) for k, g in itertools.groupby(vals, key)]


# decision forms: (vals) -> (an int the decision made, a list of the items it kept, in order)
FORMS = {
    "count": lambda v: (v.count(v[1]), v),
    "count_const": lambda v: (v.count(1.0), v),
    "tuple_count": lambda v: (tuple(v).count(v[0]), v),
    "deque_count": lambda v: (collections.deque(v).count(v[2]), v),
    "countOf": lambda v: (operator.countOf(v, v[3]), v),
    "index": lambda v: (v.index(v[3]), v),
    "index_missing": lambda v: (_index_or(v, 1.0), v),
    "tuple_index": lambda v: (tuple(v).index(v[2]), v),
    "unbound_index": lambda v: (list.index(v, v[2], 1), v[1:]),
    "indexOf": lambda v: (operator.indexOf(v, v[3]), v),
    "remove": lambda v: (0, _removed(v, v[2])),
    "deque_remove": lambda v: (0, list(_removed(collections.deque(v), v[3]))),
    "groupby": lambda v: (len(_runs(v)), [k for k, _ in _runs(v)]),
    "groupby_lengths": lambda v: (sum(n * n for _, n in _runs(v)), v),
    "groupby_key": lambda v: (len(_runs(v, lambda a: a > 1.0)), v),
    "groupby_array": lambda v: (len(_runs(np.array(v) * 1.0)), v),
    "counter": lambda v: (collections.Counter(v)[v[0]], v),
    "contains": lambda v: (int(v[3] in v[:3]), v),
    "list_eq": lambda v: (int(v[:2] == v[2:]), v),
}

CONSUMERS = {
    "weight": lambda n, items, x: n * x[0] + sum(items) * x[1],
    "branch": lambda n, items, x: x[0] * 2.0 if n > 1 else x[1] * x[2],
    "positions": lambda n, items, x: sum((k + 1.0) * x[k % 4] for k, _ in enumerate(items))
    + (n + 1.0) * x[3],
    "loop": lambda n, items, x: sum(x[k % 4] * (k + 1.0) for k in range(max(n, 0) % 5)),
}


def _program(form, consumer):
    decide, use = FORMS[form], CONSUMERS[consumer]

    def f(x):
        n, items = decide(_grid(x))
        return float(use(n, items, x) + x[2] * x[3])

    return f


_cells = st.lists(st.integers(1, 3), min_size=4, max_size=4)  # (few cells: equal items)
_fracs = st.lists(st.floats(0.1, 0.4), min_size=4, max_size=4)


def _point(cells, fracs):
    return [0.5 * c + 0.5 * f for c, f in zip(cells, fracs, strict=True)]


@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("consumer", list(CONSUMERS))
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cs=st.lists(_cells, min_size=3, max_size=3), fs=st.lists(_fracs, min_size=3,
                                                                max_size=3))
def test_c_decisions_at_other_points(form, consumer, cs, fs):
    """Recorded at one point, called at two others (other equalities) and at the first with
    other offsets (a replay where nothing differs)."""
    f = _program(form, consumer)
    points = [_point(c, q) for c, q in zip(cs, fs, strict=True)] + [_point(cs[0], fs[1])]
    check_replay_at_points(f, points)


# the second and third points make other items equal than the first; the fourth replays it
POINTS = [[0.6, 1.2, 1.7, 2.3], [1.2, 1.3, 1.1, 1.4], [1.2, 0.6, 1.7, 1.1],
          [0.7, 1.3, 1.8, 2.4]]


@pytest.mark.parametrize("form", [f for f in FORMS if f not in ("contains", "list_eq")])
def test_decisions_that_differ_are_misses(form):
    """Where the decision differs the call is not a replay of the first trace; where it is
    the same, it is (the guards do not make every call a capture)."""
    stats = check_replay_at_points(_program(form, "weight"), POINTS)
    assert stats["hits"] >= 1 and stats["misses"] >= 1, stats
    assert not stats["reasons"], stats


def run_length_groupby(x):
    """The corpus program (tests/classic_corpus/programs_classics6.py)."""
    levels = np.sign(x).tolist()
    total, pos = 0.0, 0
    for level, run in itertools.groupby(levels):
        n = len(list(run))
        total += n * n * level + x[pos:pos + n].sum() * n
        pos += n
    return float(total)


def test_run_length_groupby_replays_other_runs():
    stats = check_replay_at_points(run_length_groupby, [
        [0.3, 0.5, -0.2, 0.7], [0.3, -0.5, -0.2, 0.7], [0.4, 0.6, 0.2, 0.8],
        [0.35, 0.55, -0.25, 0.75]])
    assert stats["hits"] >= 1 and stats["misses"] >= 2, stats


@pytest.mark.parametrize(("decide", "reason"), [
    (lambda v: len(_runs(w for w in v)), "itertools.groupby compares traced items of an "
                                         "iterator"),
    (lambda v: len(_runs(v, lambda a: a * 1.0)), "groupby(key=...) compares traced values"),
    (lambda v: len(_runs(v, abs)), "the C key abs"),
    (lambda v: operator.countOf((w * 1.0 for w in v), 1.0), "operator.countOf compares"),
])
def test_decisions_that_cannot_be_remade_are_not_replayable(decide, reason):
    """An iterator's items and a key's traced results are compared in C where no guard can
    re-make them: every call captures, and is right."""

    def f(x):
        return float(decide(_grid(x)) * x[0] + x[1] * x[2])

    vg = framead.value_and_grad(f, cache=True)
    for p in POINTS[:3]:
        x = np.array(p)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value, g = vg(x.copy())
        assert value == f(x.copy())
        np.testing.assert_allclose(g, fd_grad(f, (x.copy(),)), rtol=1e-6, atol=1e-6)
    assert vg.stats["hits"] == 0 and any(reason in r for r in vg.stats["reasons"]), vg.stats


def test_uncached_captures_report_nothing():
    """tuple.count, operator.countOf/indexOf return ints: no gradient is lost (they were
    FA101 before), in strict mode too."""

    def f(x):
        v = _grid(x)
        return (tuple(v).count(v[0]) + operator.countOf(v, v[1]) + operator.indexOf(v, v[2])
                + tuple(v).index(v[3])) * x[0]

    x = np.array(POINTS[1])
    g = framead.grad(f, strict=True)(x.copy())
    np.testing.assert_allclose(g, fd_grad(f, (x.copy(),)), rtol=1e-6, atol=1e-6)




@pytest.mark.parametrize("text", [
    lambda a: str({a}), lambda a: str([frozenset([a])]), lambda a: repr({"k": {a}}),
    lambda a: repr([a, {"k": a}.items()]), lambda a: str([a, slice(a, None)]),
    lambda a: str([a, {a: 1.0}]),
    lambda a: str(({a: 1.0},)),
    lambda a: f"{slice(a, None)}", lambda a: str(slice(None, a)),
    lambda a: repr({"k": a}.values())],
    ids=["set", "list-frozenset", "dict-set", "list-items", "list-slice", "list-dictkey",
         "tuple-dictkey",
         "fstring-slice", "str-slice", "repr-values"])
def test_text_of_containers_holding_traced_values_decides(text):
    """Text made by C from traced values inside sets, frozensets, slices, dict views and dict
    keys decides where the program reads it: not replayed at a point where it differs."""

    def f(x):
        a = x[0] * 2.0
        return a * 3.0 if "-" in text(a) else a * a

    cf = framead.value_and_grad(f, cache=True)
    for p in ([1.0], [-1.0], [2.0]):
        assert float(cf(np.array(p))[0]) == f(np.array(p)), cf.stats


def _rows_never_iterated(x):
    itertools.groupby(x.reshape(2, 2) * 1.0)  # (its rows compare ambiguously: not iterated)
    return float(x.sum() * 2.0)


def _rows_raising(x):
    try:
        return float(len(list(itertools.groupby(x.reshape(2, 2) * 1.0))) * x[0])
    except ValueError:
        return float(x[1] * 3.0)


@pytest.mark.parametrize("f", [_rows_never_iterated, _rows_raising])
def test_groupby_of_rows_that_compare_ambiguously(f):
    """groupby over a 2-d array's rows raises only where C compares them (iterating): the
    guard re-making its runs neither raises at the call nor loses the outcome."""
    stats = check_replay_at_points(
        f, [[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 1.0, 2.0], [0.5, 2.0, 3.0, 1.0]])
    assert stats["hits"] >= 1, stats
