"""Dicts of traced values compared (``{"a": x} == {"a": y}``, ``!=``; a defaultdict, values
inside lists): dict's comparison decides in C which values are equal. A cached trace cannot
re-make it, so such a trace is captured at every call (unreplayable, with the reason): every
call's value is the native one, its gradient the central differences'. (Before, the replay
returned the recorded decision, silently.)"""

from __future__ import annotations

import collections

import numpy as np
import pytest
from conftest import fd_grad
from hypothesis import given, settings
from hypothesis import strategies as st

import framead

_MAKERS = {
    "dict": lambda k, v: {k: v, "c": 1.0},
    "defaultdict": lambda k, v: collections.defaultdict(float, {k: v}),
    "nested": lambda k, v: {k: [v, 2.0]},
}
_OPS = {"eq": lambda p, q: p == q, "ne": lambda p, q: p != q}


def _program(maker, op, i, j):
    make, cmp = _MAKERS[maker], _OPS[op]

    def f(x):
        v = x - x % 0.5  # (a grid: the same decision under central differences)
        d = cmp(make("a", v[i]), make("a", v[j]))
        return x[0] * (3.0 if d else 1.0) + x[1] * x[2]
    return f


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(maker=st.sampled_from(sorted(_MAKERS)), op=st.sampled_from(sorted(_OPS)),
       i=st.integers(0, 2), j=st.integers(0, 2),
       points=st.lists(st.lists(st.sampled_from([0.1, 0.2, 0.6, 0.7, 1.1]), min_size=3,
                                max_size=3), min_size=2, max_size=4))
def test_dict_comparisons_in_cached_traces(maker, op, i, j, points):
    f = _program(maker, op, i, j)
    cf = framead.value_and_grad(f, cache=True)
    for p in points:
        x = np.array(p)
        v, g = cf(x)
        assert float(v) == pytest.approx(f(x), rel=1e-12)
        np.testing.assert_allclose(g, fd_grad(f, (x,), step=1e-6), rtol=1e-6, atol=1e-6)


def test_the_reason_is_given():
    f = _program("dict", "eq", 0, 1)
    cf = framead.value_and_grad(f, cache=True)
    cf(np.array([0.1, 0.2, 0.3]))
    assert float(cf(np.array([0.1, 0.7, 0.9]))[0]) == pytest.approx(0.1 + 0.7 * 0.9)
    assert any("dict comparison" in r for r in cf.stats["reasons"])


def test_uncompared_dicts_still_replay():
    """A dict of traced values only read (not compared) keeps its trace replayable."""
    def f(x):
        d = {"a": x[0] * 2.0, "b": x[1]}
        return d["a"] * d["b"]

    cf = framead.value_and_grad(f, cache=True)
    for p in ([1.0, 2.0], [3.0, -1.0], [0.5, 0.5]):
        v, g = cf(np.array(p))
        assert float(v) == pytest.approx(2.0 * p[0] * p[1])
    assert cf.stats["hits"] == 2
