"""A traced ``initial=`` of a reduction (``np.sum``, ``np.prod``, ``np.max``/``np.min``, the
nan-reductions, ``np.add.reduce``..., the ndarray methods), with and without ``where=``: a
differentiable input of the rule (VJP and JVP), no FA106, checked against central
differences fresh and in cached replays."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import fd_grad, trace_hazards
from hypothesis import given, settings
from hypothesis import strategies as st

import framead

FORMS = {  # name -> (reduce(x, axis, keepdims, initial, where), kind)
    "np.sum": (lambda x, ax, kd, i, w: np.sum(x, axis=ax, keepdims=kd, initial=i, where=w), "+"),
    "np.prod": (lambda x, ax, kd, i, w: np.prod(x, ax, None, None, kd, initial=i, where=w), "*"),
    "np.max": (lambda x, ax, kd, i, w: np.max(x, axis=ax, keepdims=kd, initial=i, where=w), ">"),
    "np.min": (lambda x, ax, kd, i, w: np.min(x, axis=ax, keepdims=kd, initial=i, where=w), "<"),
    "np.amax": (lambda x, ax, kd, i, w: np.amax(x, ax, keepdims=kd, initial=i, where=w), ">"),
    "np.nansum": (lambda x, ax, kd, i, w: np.nansum(x, ax, keepdims=kd, initial=i, where=w),
                  "+"),
    "np.nanprod": (lambda x, ax, kd, i, w: np.nanprod(x, ax, keepdims=kd, initial=i, where=w),
                   "*"),
    "np.nanmax": (lambda x, ax, kd, i, w: np.nanmax(x, ax, keepdims=kd, initial=i, where=w),
                  ">"),
    "np.nanmin": (lambda x, ax, kd, i, w: np.nanmin(x, ax, keepdims=kd, initial=i, where=w),
                  "<"),
    "add.reduce": (lambda x, ax, kd, i, w: np.add.reduce(x, ax, None, None, kd, i, w), "+"),
    "multiply.reduce": (lambda x, ax, kd, i, w: np.multiply.reduce(
        x, axis=ax, keepdims=kd, initial=i, where=w), "*"),
    "maximum.reduce": (lambda x, ax, kd, i, w: np.maximum.reduce(
        x, axis=ax, keepdims=kd, initial=i, where=w), ">"),
    "minimum.reduce": (lambda x, ax, kd, i, w: np.minimum.reduce(
        x, ax, keepdims=kd, initial=i, where=w), "<"),
    "x.sum": (lambda x, ax, kd, i, w: x.sum(ax, keepdims=kd, initial=i, where=w), "+"),
    "x.prod": (lambda x, ax, kd, i, w: x.prod(axis=ax, keepdims=kd, initial=i, where=w), "*"),
    "x.max": (lambda x, ax, kd, i, w: x.max(ax, None, kd, i, where=w), ">"),
    "x.min": (lambda x, ax, kd, i, w: x.min(axis=ax, keepdims=kd, initial=i, where=w), "<"),
}


def _program(form: str, axis, keepdims: bool, where, traced_initial: bool):
    red, _ = FORMS[form]

    def f(x, t):
        init = t * 1.5 if traced_initial else 0.8
        r = red(x * 1.0, axis, keepdims, init, where)
        return np.sum(np.sin(r) * np.arange(1.0, np.size(r) + 1).reshape(np.shape(r))) + t
    return f


@st.composite
def cases(draw):
    form = draw(st.sampled_from(sorted(FORMS)))
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    n = int(np.prod(shape))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    # distinct values 0.3 apart; initial 0.15 + 0.3k from every one of them: no ties, no kinks
    x = (rng.permutation(n) * 0.3 + 0.1 + rng.uniform(0, 0.05)).reshape(shape)
    if FORMS[form][1] == "*":
        x = 0.6 + x / n  # products of moderate size
    k = draw(st.integers(-1, n + 1))
    t = (0.3 * k + 0.25) / 1.5
    if FORMS[form][1] == "*":
        t = 0.5 + 0.1 * k
    axis = draw(st.sampled_from([None, 0, -1, tuple(range(len(shape)))]))
    where = True
    if draw(st.booleans()):
        where = rng.uniform(size=shape if draw(st.booleans()) else shape[-1:]) < 0.6
    return form, x, t, axis, draw(st.booleans()), where, draw(st.booleans())


def _grads_at(f, x, t):
    return fd_grad(f, (x, t), (0, 1))


@settings(max_examples=70, deadline=None)
@given(cases())
def test_initial_is_an_input(case):
    form, x, t, axis, keepdims, where, traced = case
    f = _program(form, axis, keepdims, where, traced)
    assert not trace_hazards(f, x, t), form
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value, (gx, gt) = framead.value_and_grad(f, argnums=(0, 1))(x.copy(), t)
    assert value == f(x.copy(), t)
    rx, rt = _grads_at(f, x, t)
    np.testing.assert_allclose(gx, rx, rtol=1e-6, atol=1e-7, err_msg=form)
    np.testing.assert_allclose(gt, rt, rtol=1e-6, atol=1e-7, err_msg=form)
    # forward mode: along x and along t (a constant initial is no part of the tangent)
    tx = np.cos(np.arange(x.size)).reshape(x.shape)
    _, d = framead.jvp(f, (x.copy(), t), (tx, 0.7))
    np.testing.assert_allclose(d, np.sum(rx * tx) + 0.7 * rt, rtol=1e-6, atol=1e-7,
                               err_msg=form)
    # a cached trace replayed at other points (values shifted together: the same order)
    vg = framead.value_and_grad(f, argnums=(0, 1), cache=True)
    for s in (0.0, 0.01, -0.02):
        v, (cx, ct) = vg(x + s, t + s / 1.5)
        assert v == pytest.approx(f(x + s, t + s / 1.5), rel=1e-13)
        rx, rt = _grads_at(f, x + s, t + s / 1.5)
        np.testing.assert_allclose(cx, rx, rtol=1e-6, atol=1e-7, err_msg=f"{form} {vg.stats}")
        np.testing.assert_allclose(ct, rt, rtol=1e-6, atol=1e-7, err_msg=f"{form} {vg.stats}")
    assert vg.stats["hits"] >= 2, vg.stats


def test_initial_where_it_wins_and_ties():
    """max with initial equal to the largest element: the two share the cotangent, as the
    one-sided derivatives' mean (the convention of ties in max)."""
    x = np.array([0.2, 1.0, 0.5])

    def f(x, t):
        return np.max(x, initial=t)

    gx, gt = framead.grad(f, argnums=(0, 1))(x, 1.0)
    np.testing.assert_array_equal(gx, [0.0, 0.5, 0.0])
    assert gt == 0.5
    gx, gt = framead.grad(f, argnums=(0, 1))(x, 2.0)
    np.testing.assert_array_equal(gx, [0.0, 0.0, 0.0])
    assert gt == 1.0


def test_out_before_initial_is_reported():
    """``out=`` sits before ``initial`` and is never moved into the node: FA106, as before."""
    def f(x, t):
        o = np.zeros(())
        np.sum(x, out=o, initial=t)
        return o * 1.0

    assert [h.code for h in trace_hazards(f, np.ones(2), 0.5)] == ["FA106"]
