"""``scipy.signal.lfilter(b, a, x, zi=zi)`` returning ``(y, zf)``: the final state and a traced
initial state are differentiated (block-wise filtering, the state carried across blocks), in
b, a, x and zi; against central differences, fresh, forward and in cached replays."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import fd_grad, trace_hazards
from hypothesis import given, settings
from hypothesis import strategies as st

import framead

signal = pytest.importorskip("scipy.signal")


@st.composite
def cases(draw):
    nb, na = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    k = max(nb, na) - 1
    ndim = draw(st.integers(1, 2))
    n = draw(st.integers(1, 6))
    axis = draw(st.sampled_from([-1, 0] if ndim == 2 else [-1]))
    shape = [n] if ndim == 1 else ([n, 2] if axis == 0 else [2, n])
    zshape = list(shape)
    zshape[axis] = k
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    b = rng.uniform(-1, 1, nb)
    a = np.concatenate([[draw(st.sampled_from([1.0, 1.4, -0.8]))], rng.uniform(-0.3, 0.3, na - 1)])
    x = rng.uniform(-1, 1, shape)
    zi = rng.uniform(-1, 1, zshape)
    traced = draw(st.sampled_from(["b", "a", "x", "zi", "all"]))
    use = draw(st.sampled_from(["y", "zf", "both", "blocks"]))
    keyword = draw(st.booleans())
    return b, a, x, zi, axis, traced, use, keyword


def _program(b, a, x, zi, axis, traced, use, keyword):
    parts = {"b": b, "a": a, "x": x, "zi": zi}
    names = list(parts) if traced == "all" else [traced]
    shapes = [np.shape(parts[k]) for k in names]
    sizes = [int(np.prod(s)) for s in shapes]

    def f(p):
        vals = dict(parts)
        at = 0
        for name, s, m in zip(names, shapes, sizes, strict=True):
            vals[name] = p[at:at + m].reshape(s) * 1.0
            at += m
        bb, aa, xx, z = vals["b"], vals["a"], vals["x"], vals["zi"]
        if keyword:
            y, zf = signal.lfilter(bb, aa, xx, axis=axis, zi=z)
        else:
            y, zf = signal.lfilter(bb, aa, xx, axis, z)
        wy = np.cos(np.arange(y.size)).reshape(y.shape)
        wz = np.sin(1.0 + np.arange(zf.size)).reshape(zf.shape)
        if use == "y":
            return float(np.sum(wy * y))
        if use == "zf":
            return float(np.sum(wz * zf))
        if use == "both":
            return float(np.sum(wy * y) + np.sum(wz * zf))
        y2, zf2 = signal.lfilter(bb, aa, np.flip(xx, axis), axis=axis, zi=zf)  # next block
        return float(np.sum(wy * y2) + np.sum(wz * zf2) + np.sum(y))

    p = np.concatenate([np.ravel(parts[k]) for k in names])
    return f, p


@settings(max_examples=60, deadline=None)
@given(cases())
def test_lfilter_state(case):
    f, p = _program(*case)
    assert not trace_hazards(f, p), case[4:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value, g = framead.value_and_grad(f)(p.copy())
    assert value == f(p.copy())
    ref = fd_grad(f, (p,))
    np.testing.assert_allclose(g, ref, rtol=1e-6, atol=1e-8, err_msg=str(case[4:]))
    t = np.cos(3.0 * np.arange(p.size))
    _, d = framead.jvp(f, (p.copy(),), (t,))
    np.testing.assert_allclose(d, ref @ t, rtol=1e-6, atol=1e-8, err_msg=str(case[4:]))
    vg = framead.value_and_grad(f, cache=True)
    for s in (0.0, 0.02, -0.03):
        v, gc = vg(p + s)
        assert v == pytest.approx(f(p + s), rel=1e-12)
        np.testing.assert_allclose(gc, fd_grad(f, (p + s,)), rtol=1e-6, atol=1e-8,
                                   err_msg=f"{case[4:]} {vg.stats}")
    assert vg.stats["hits"] >= 2, vg.stats


def test_corpus_blocks():
    """The corpus program (tests/classic_corpus/programs_classics10.py): a constant zi, its zf
    carried into the next block."""
    def f(x):
        b, a = signal.butter(2, 0.3)
        y1, zf = signal.lfilter(b, a, x[:4], zi=np.array([0.1, -0.2]))
        y2, _ = signal.lfilter(b, a, x[4:], zi=zf)
        return float(y1 @ np.arange(4.0) + y2 @ np.arange(4.0, 8.0) + zf.sum())

    x = np.linspace(-0.8, 0.9, 8)
    assert not trace_hazards(f, x)
    np.testing.assert_allclose(framead.grad(f)(x), fd_grad(f, (x,)), rtol=1e-7, atol=1e-9)
