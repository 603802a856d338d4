"""``sorted`` of (value, index) tuples (decorate-sort-undecorate) is a decision a cached trace
guards: capture/guards.py WhichArgument.index finds each result item among the iterable's own
items (a tuple is never a leaf). Checked against native runs, central differences and
uncached framead at points where the order changes and where it does not."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fd_grad
from framead.capture.guards import WhichArgument
from hypothesis import given, settings
from hypothesis import strategies as st

import framead


def _list_comp(x):
    desc = sorted([(v, i) for i, v in enumerate(x)], reverse=True)
    return sum(v * (rank + 1) for rank, (v, _) in enumerate(desc))


def _generator(x):
    dec = sorted((abs(v), i) for i, v in enumerate(x))
    return sum(rank * x[i] * x[i] for rank, (_, i) in enumerate(dec))


def _tuple_of_tuples(x):
    ordered = sorted(tuple((x[i] * x[i] - x[i], i) for i in range(len(x))))
    return sum(x[i] * (rank + 0.5) for rank, (_, i) in enumerate(ordered))


def _nested(x):
    pairs = sorted([((v, -v), [i]) for i, v in enumerate(x)])
    return sum(x[idx[0]] * k for k, ((v, _), idx) in enumerate(pairs))


PROGRAMS = {f.__name__[1:]: f for f in (_list_comp, _generator, _tuple_of_tuples, _nested)}


def _wrap(prog):
    return lambda x: float(prog(list(x)))


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(PROGRAMS)),
       a=st.lists(st.floats(-1.0, 1.0), min_size=4, max_size=4),
       b=st.lists(st.floats(-1.0, 1.0), min_size=4, max_size=4))
def test_cached_sort_orders_are_guarded(name, a, b):
    f = _wrap(PROGRAMS[name])
    xa, xb = np.array(a), np.array(b)
    for x in (xa, xb):  # fd steps must not cross a tie
        keys = np.concatenate([x, np.abs(x), x * x - x])
        gaps = np.abs(keys[:, None] - keys[None, :])[~np.eye(len(keys), dtype=bool)]
        if gaps[gaps > 0].min(initial=1.0) < 1e-2 or len(set(np.abs(x))) < len(x):
            return
    cached = framead.value_and_grad(f, cache=True)
    cached(xa.copy())
    value, g = cached(xb.copy())
    assert value == pytest.approx(f(xb.copy()), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(g, fd_grad(f, xb.copy()), rtol=1e-6, atol=1e-6)
    _, g_fresh = framead.value_and_grad(f)(xb.copy())
    np.testing.assert_allclose(g, g_fresh, rtol=1e-12, atol=1e-12)


def test_order_flip_is_seen():
    f = _wrap(_list_comp)
    cached = framead.value_and_grad(f, cache=True)
    cached(np.array([0.1, 0.2, 0.3]))
    value, g = cached(np.array([0.3, 0.2, 0.1]))
    assert value == pytest.approx(f(np.array([0.3, 0.2, 0.1])))
    np.testing.assert_allclose(g, [1.0, 2.0, 3.0])


def test_index_of_tuples_is_their_position_in_the_iterable():
    items = [(0.5, 0), (0.1, 1), (0.3, 2)]
    assert WhichArgument.index(sorted(items), (items,)) == (1, 2, 0)
    floats = [0.5, 0.1, 0.3]
    assert WhichArgument.index(sorted(floats), (floats,)) == (1, 2, 0)
    assert WhichArgument.index(max(floats), (floats,)) == 0
