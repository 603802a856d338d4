"""The Bessel family of ``scipy.special`` at complex arguments: ``iv``, ``jv``, ``kv``, ``yv``
and ``kve`` (holomorphic in z), ``ive``/``jve``/``yve`` (their scaling
``exp(-|Re z|)``/``exp(-|Im z|)`` is not). A real program of (x, y) through z = x + iy checks
d/dz along the real and the imaginary direction against central differences, in reverse and
forward mode, fresh and in cached replays; real z (the old real-only rules) stays right."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import fd_grad, trace_hazards
from hypothesis import given, settings
from hypothesis import strategies as st

import framead

sp = pytest.importorskip("scipy.special")

NAMES = ["iv", "jv", "kv", "yv", "ive", "jve", "kve", "yve"]
ORDER_UPCAST = {"iv", "jv", "kv", "yv"}  # (the order stays real: SciPy refuses a complex one)


@st.composite
def cases(draw):
    name = draw(st.sampled_from(NAMES))
    v = draw(st.sampled_from([0.0, 0.5, 1.0, 2.5, -0.5]))
    n = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    kind = draw(st.sampled_from(["complex", "complex", "real"]))
    x = rng.uniform(0.3, 2.0, n) * rng.choice([-1.0, 1.0], n)
    y = rng.uniform(0.2, 1.5, n) * rng.choice([-1.0, 1.0], n)  # away from the cut (y = 0)
    if kind == "real":
        x = np.abs(x)
    scalar = draw(st.booleans()) and n == 1
    return name, v, x, y, kind, scalar


def _program(name, v, kind, scalar):
    fn = getattr(sp, name)
    w = 0.8 - 0.6j

    def f(p):
        n = p.size // 2
        x, y = p[:n], p[n:]
        if scalar:
            z = complex(x[0], y[0]) if kind == "complex" else float(x[0] * y[0])
        else:
            z = x + 1j * y if kind == "complex" else x * y
        r = fn(v, z)
        return float(np.sum(np.real(w * r)) + np.sum(np.imag(r)) * 0.3)
    return f


@settings(max_examples=80, deadline=None)
@given(cases())
def test_bessel_complex(case):
    name, v, x, y, kind, scalar = case
    if kind == "real":
        y = np.abs(y)
    f = _program(name, v, kind, scalar)
    p = np.concatenate([x, y])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if not np.isfinite(f(p)):
            return  # (a real z where the function is complex-valued: nan natively)
        assert not trace_hazards(f, p), case
        value, g = framead.value_and_grad(f)(p.copy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no ComplexWarning: real cotangents of real z)
        framead.grad(f)(p.copy())
    assert value == f(p.copy())
    ref = fd_grad(f, (p,))
    np.testing.assert_allclose(g, ref, rtol=1e-6, atol=1e-8, err_msg=str(case))
    t = np.cos(1.0 + 2.0 * np.arange(p.size))
    _, d = framead.jvp(f, (p.copy(),), (t,))
    np.testing.assert_allclose(d, ref @ t, rtol=1e-6, atol=1e-8, err_msg=str(case))
    vg = framead.value_and_grad(f, cache=True)
    for s in (0.0, 0.02, -0.03):
        val, gc = vg(p + s)
        assert val == pytest.approx(f(p + s), rel=1e-12)
        np.testing.assert_allclose(gc, fd_grad(f, (p + s,)), rtol=1e-6, atol=1e-8,
                                   err_msg=f"{case} {vg.stats}")
    assert vg.stats["hits"] >= 2, vg.stats


@pytest.mark.parametrize("name", sorted(ORDER_UPCAST))
def test_order_first_complex(name):
    """``iv(0.5, complex)``: the TypeError in its VJP."""
    f = _program(name, 0.5, "complex", True)
    p = np.array([0.7, 0.4])
    np.testing.assert_allclose(framead.grad(f)(p), fd_grad(f, (p,)), rtol=1e-6, atol=1e-8)
