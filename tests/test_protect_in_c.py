"""Recorder._protect of a Value runs in C (capture/_evalframe.c protect_core, from the C fast
path and from recorder.py): the recording it leaves must be the Python path's exactly (the
IR, the kept primals, each buffer's saved values) and the gradients the same bits, on
programs that save values living in views, in memory written in place later, in as_strided
windows and in ndarray subclasses (which C leaves to Python)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fd_grad
from framead.capture import recorder, session
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

import framead


def views_and_products(x):
    y = np.sin(x)
    z = y * x
    w = x[1:] * y[:-1]
    return np.sum(w) + np.sum(z * z)


def written_after_saved(x):
    a = x.copy()
    b = a * a          # saves a
    a[1:] *= x[:-1]    # a written after the save
    c = np.exp(a)      # saves the new a
    a[0] = 3.0
    return np.sum(c * b) + np.sum(a)


def views_of_views(x):
    m = x.reshape(2, -1)
    t = m.T
    u = t * t          # saves a view of a view
    m[0] *= 2.0
    return np.sum(u) + np.sum(np.tanh(t))


def windows(x):
    w = sliding_window_view(x, 3)
    return np.sum(w * w) + np.sum(np.log1p(w * w))


def subclass(x):
    m = np.asmatrix(x.reshape(2, -1))
    s = np.sin(np.asarray(m))
    return float(np.sum(np.multiply(m, m))) + float(np.sum(s * s))


def loop_saves(x):
    acc = np.zeros_like(x)
    for i in range(len(x) - 1):
        d = x[i + 1:] - x[i]
        acc[i + 1:] += d * d
        acc[i] -= np.sum(d * x[i + 1:])
    return np.sum(acc * x)


pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # (np.matrix)

PROGRAMS = [views_and_products, written_after_saved, views_of_views, windows, subclass,
            loop_saves]


def _state(f, x):
    """A trace and what its recorder kept: kept value ids, and each buffer's saved ids."""
    recs = []
    real = recorder.Recorder.finish

    def finish(self, *a, **k):
        recs.append(([v.id for v in self._kept],
                     sorted((b.value.id, [v.id for v in b.saved]) for b in self.buffers.values()
                            if b.saved)))
        return real(self, *a, **k)

    recorder.Recorder.finish = finish
    try:
        tr = framead.trace(f, x)
    finally:
        recorder.Recorder.finish = real
    return str(tr.graph), recs[-1]


@settings(max_examples=25, deadline=None)
@given(f=st.sampled_from(PROGRAMS), n=st.sampled_from([4, 6, 8]), seed=st.integers(0, 999))
def test_c_and_python_record_the_same(f, n, seed):
    """(Through the handlers: the C fast path calls protect_core itself, and the fast-record
    fuzzers compare it with the handlers.)"""
    x = np.random.default_rng(seed).uniform(0.2, 1.5, n)
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(session, "FAST_RECORD", False)
        in_c, grad_c = _state(f, x), framead.grad(f)(x)
        calls = []
        mp.setattr(recorder, "protect_saved", lambda *a: calls.append(a) or False)
        in_py, grad_py = _state(f, x), framead.grad(f)(x)
    finally:
        mp.undo()
    assert calls  # (the Python path ran)
    assert in_c == in_py
    np.testing.assert_array_equal(grad_c, grad_py)


@pytest.mark.parametrize("f", PROGRAMS)
def test_gradients_against_finite_differences(f):
    x = np.linspace(0.3, 1.4, 6)
    np.testing.assert_allclose(framead.grad(f)(x), fd_grad(f, (x.copy(),)), rtol=1e-6)
