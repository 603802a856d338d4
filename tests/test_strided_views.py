"""Views made by ``np.lib.stride_tricks.as_strided`` and ``sliding_window_view`` (their base is
NumPy's ``DummyArray``, whose ``.base`` is the viewed array): framead must see them as views of
that array's memory (``buffers.buffer_owner``, C ``array_base``), so writes into the array
show through the view and writes through a writeable view reach the array, as natively.
Gradients against central differences, with the C fast paths on and off."""

from __future__ import annotations

import numpy as np
from conftest import fd_grad
from framead.capture import buffers, session
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import as_strided, sliding_window_view

import framead

N = 8


_step = st.one_of(
    st.tuples(st.just("set"), st.integers(0, N - 1), st.integers(0, N - 1),
              st.floats(-2.0, 2.0)),                       # y[i] = c * y[j]
    st.tuples(st.just("scale"), st.integers(0, N - 2), st.floats(0.5, 1.5)),   # y[i:] *= c
    st.tuples(st.just("read"), st.integers(0, 2), st.integers(0, 1)),        # s += w[i, j]
    st.tuples(st.just("rows"), st.booleans()),              # s += sum(r[0] * r[1] for r in w)
    st.tuples(st.just("through"), st.integers(0, 2), st.floats(-1.0, 1.0)),  # w[i, 1] = c * w[i, 0]
)


def _program(kind, steps):
    def f(x):
        y = x * 1.0
        if kind == "window":
            w = sliding_window_view(y, 2)[::3]
        else:
            w = as_strided(y, (3, 2), (3 * y.itemsize, y.itemsize))
        s = 0.0
        for st_ in steps:
            op = st_[0]
            if op == "set":
                y[st_[1]] = st_[3] * y[st_[2]]
            elif op == "scale":
                y[st_[1]:] *= st_[2]
            elif op == "read":
                s = s + w[st_[1], st_[2]] * y[st_[1]]
            elif op == "rows":
                s = s + sum(r[0] * r[1] for r in w)
            elif kind == "strided":  # ("through": only as_strided's view is writeable)
                w[st_[1], 1] = st_[2] * w[st_[1], 0]
        return s + np.sum(y * y) + np.sum(w * w)
    return f


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(kind=st.sampled_from(["window", "strided"]), steps=st.lists(_step, max_size=6))
def test_strided_views_follow_their_array(kind, steps):
    f = _program(kind, steps)
    x = np.linspace(0.3, 1.7, N)
    assert not framead.trace(f, x).hazards
    fd = fd_grad(f, x, step=1e-6)
    old = session.FAST_RECORD
    try:
        for fast in (True, False):
            session.FAST_RECORD = fast
            v, g = framead.value_and_grad(f)(x)
            assert v == f(x)
            np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6)
    finally:
        session.FAST_RECORD = old


def test_the_owner_walk_goes_through_the_dummy_array():
    y = np.arange(6.0)
    w = sliding_window_view(y[1:], 2)
    assert type(w.base) is buffers.STRIDED_BASE
    assert buffers.buffer_owner(w) is y
    assert buffers.buffer_owner(as_strided(y, (2, 2), (8, 8))) is y


def test_strided_arguments_share_the_copy():
    """f(x, as_strided(x, ...)): one copy of x's memory for both, as natively one buffer."""
    def f(a, b):
        a[0] = 10.0
        return b[0, 0] * a[1]

    x = np.arange(1.0, 7.0)
    c = x.copy()
    native = f(c, as_strided(c, (3, 2), (16, 8)))
    val, g = framead.value_and_grad(f, argnums=0)(x, as_strided(x, (3, 2), (16, 8)))
    assert val == native and np.array_equal(x, np.arange(1.0, 7.0))
    np.testing.assert_array_equal(g, [0.0, 10.0, 0.0, 0.0, 0.0, 0.0])
