"""Cached replays of in-place writes by ops with no derivative (cuts: ``a //= h``,
``np.floor(a, out=a)``, ...): the values the cut leaves depend on the input, so a replay at a
point where they differ must miss (a guard) or not be replayed at all -- never reuse the
recorded constants. Hypothesis draws the spelling, the target (a copy, a view, float32), and
two points; the replay at the second is checked against the native run (value) and central
differences (gradient).

Points lie on a grid offset from every step of the cuts (multiples of 1/8 for ``x / h``,
half-integers for rounding) by at least 1e-3, far beyond the finite-difference step."""
from __future__ import annotations

import operator

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import framead

H = 0.25


def _target(x, where):
    a = (x * 4.0).astype(np.float32) if where == "f32" else x * 4.0
    return a, (a[:2] if where == "slice" else a[::2] if where == "strided" else a)


SPELLINGS = {
    "ifloordiv": lambda x, v: operator.ifloordiv(v, H),
    "floordiv_aug": lambda x, v: _aug_floordiv(v),
    "imod": lambda x, v: operator.imod(v, H),
    "floor_divide_out": lambda x, v: np.floor_divide(v, H, out=v),
    "floor_divide_other_out": lambda x, v: np.floor_divide(v * 1.0, H, out=v),
    "remainder_out": lambda x, v: np.remainder(v, H, out=v),
    "floor_out": lambda x, v: np.floor(v, out=v),
    "ceil_out": lambda x, v: np.ceil(v, out=v),
    "trunc_out": lambda x, v: np.trunc(v, out=v),
    "rint_out": lambda x, v: np.rint(v, out=v),
    "round_out": lambda x, v: np.round(v, 0, out=v),
    "round_method_out": lambda x, v: v.round(0, out=v),
    "copyto_cut": lambda x, v: np.copyto(v, v // H),
    "setitem_cut": lambda x, v: v.__setitem__(slice(None), np.floor(v)),
}


def _aug_floordiv(v):
    v //= H
    return v


def _program(spelling, where):
    def f(x):
        a, v = _target(x, where)
        SPELLINGS[spelling](x, v)
        return float(a.astype(np.float64).sum() * 0.5 + x @ x)
    return f


def _fd(f, x, h=1e-6):
    return np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(len(x))])


_grid = st.integers(-300, 300).map(lambda k: k / 100 + 0.0031)


@settings(max_examples=120, deadline=None, derandomize=True)
@given(spelling=st.sampled_from(sorted(SPELLINGS)),
       where=st.sampled_from(["copy", "slice", "strided", "f32"]),
       p1=st.lists(_grid, min_size=4, max_size=4), p2=st.lists(_grid, min_size=4, max_size=4))
def test_cut_in_place_replayed_at_a_new_point(spelling, where, p1, p2):
    f = _program(spelling, where)
    cached = framead.value_and_grad(f, cache=True)
    x1, x2 = np.array(p1), np.array(p2)
    cached(x1.copy())
    v, g = cached(x2.copy())
    assert v == f(x2.copy())
    if where == "f32":  # (float32 rounding of 4x: a coarser step and tolerance)
        np.testing.assert_allclose(g, _fd(f, x2, 1e-4), atol=1e-2)
    else:
        np.testing.assert_allclose(g, _fd(f, x2), rtol=1e-5, atol=1e-5)
    again = cached(x1.copy())  # (the first trace, or a second entry: right either way)
    assert again[0] == f(x1.copy())


def test_cut_in_place_guarded_not_unreplayable():
    """The guard lets a point with the same cut values replay (a hit), and misses where they
    differ: the fix is a guard, not a trace that never replays."""
    f = _program("floordiv_aug", "copy")
    cached = framead.value_and_grad(f, cache=True)
    cached(np.array([0.11, 0.61, -0.3, 0.9]))
    cached(np.array([0.12, 0.62, -0.31, 0.91]))  # same floor(x * 4 / 0.25)
    assert cached.stats["hits"] == 1
    v, _ = cached(np.array([0.3, -0.6, 0.4, 0.2]))
    assert v == f(np.array([0.3, -0.6, 0.4, 0.2]))
    assert cached.stats["misses"] == 1
