"""Cotangents of float16 primals are carried and accumulated in float32 (float16's range,
6e-8 .. 65504, would turn finite gradients into inf or 0 without a hazard); only the gradient
of a float16 *input* is float16, cast at the API boundary (as JAX and PyTorch give it).

The fuzzer draws program shapes -- astype chains, element reads in loops, in-place
accumulation into float16 arrays, elementwise array and scalar operations, reductions,
conversions (item, tolist, np.float16()) -- and runs each with float16 intermediates (from a
float64 input, or on a float16 input), fresh and through ``value_and_grad(f, cache=True)`` at
several points. The reference is the same program in float64 (its twin), differentiated by
central differences: to float32 precision for a linear program (its derivative does not depend
on the rounded primals), to what float16 rounding of the primals allows otherwise.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import framead

F16_MAX = float(np.finfo(np.float16).max)  # 65504
NONLINEAR = {"sin", "sq", "div", "scalar", "recip", "arecip"}
KINDS = ["chain", "scale", "sin", "sq", "div", "reads", "item", "inplace", "iadd", "sum",
         "sum64", "mean", "tolist", "scalar", "cast", "mix64", "recip", "arecip"]


def program(steps: list[tuple[str, int]], scale: float, lo: type):
    """The program of ``steps`` with intermediates of dtype ``lo`` (np.float16; np.float64
    for its twin), returning a float64 loss times ``scale``."""
    mid = np.float32 if lo is np.float16 else lo  # (the twin stays float64 throughout)

    def f(x):
        a = x.astype(lo)
        n = len(a)
        s = 0.0
        for kind, p in steps:
            if kind == "chain":  # a float16 -> float64 -> float32 -> float16 round trip
                a = a.astype(np.float64).astype(mid).astype(lo)
            elif kind == "scale":
                a = a * lo((0.5, 1.5, 0.75)[p % 3])
            elif kind == "sin":
                a = np.sin(a)
            elif kind == "sq":
                a = a * a * lo(0.5)
            elif kind == "div":
                a = a / (a * a + lo(1.0))
            elif kind == "reads":  # element reads in a loop: summed into a's cotangent
                for k in range(p + 2):
                    s += float(a[k % n]) * 0.5
            elif kind == "item":
                s += 2.0 * a.item(p % n)
            elif kind == "inplace":  # reads of a accumulated in place into a lo array
                acc = np.zeros(n, lo)
                for k in range(p + n):
                    acc[k % n] += a[(k + p) % n]
                a = acc
            elif kind == "iadd":
                b = a.copy()
                b += a * lo(0.5)
                a = b
            elif kind == "sum":  # a lo reduction, then float()
                s += float(np.sum(a))
            elif kind == "sum64":
                s += float(a.sum(dtype=np.float64))
            elif kind == "mean":
                s += float(np.mean(a.astype(np.float64)))
            elif kind == "tolist":
                s += sum(a.tolist())
            elif kind == "scalar":  # lo scalar arithmetic
                s += float(a[p % n] * a[(p + 1) % n] + lo(0.25) * a[0])
            elif kind == "cast":  # np.float16() of a float64 element
                s += float(lo(a.astype(np.float64)[p % n] * 3.0))
            elif kind == "recip":  # d(1/y)/dy = -1e6 at y = 1e-3: past float16, not float32
                s += float(lo(1.0) / (a[p % n] * lo(1e-3)))
            elif kind == "arecip":
                s += float(np.sum(np.divide(lo(1.0), a * lo(1e-3)), dtype=np.float64))
            elif kind == "mix64":  # lo times a float64 array (float64), back to lo
                a = (a * np.linspace(0.5, 1.5, n)).astype(lo)
        return float((s + np.sum(a.astype(np.float64))) * scale)
    return f


def central(f, x: np.ndarray) -> np.ndarray:
    g = np.empty_like(x)
    for i in range(x.size):
        h = 1e-6 * (1.0 + abs(x[i]))
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (f(xp) - f(xm)) / (2 * h)
    return g


def _expect_close(got: np.ndarray, ref: np.ndarray, rtol: float, f16_input: bool) -> None:
    scale = float(np.max(np.abs(ref)))
    if not f16_input:
        assert got.dtype == np.float64
        assert np.all(np.isfinite(got)), (got, ref)
        assert np.all(np.abs(got - ref) <= rtol * scale + 1e-300), (got, ref)
        return
    assert got.dtype == np.float16  # the boundary: a float16 input's gradient is float16
    big = np.abs(ref) > F16_MAX * 1.01  # beyond float16: inf, the input's precision
    near = ~big & (np.abs(ref) > F16_MAX * 0.99)
    assert np.all(np.isinf(got[big]) & (np.sign(got[big]) == np.sign(ref[big]))), (got, ref)
    ok = ~big & ~near
    tol = rtol * float(np.max(np.abs(ref[ok]), initial=0.0)) + 2.0 ** -24
    err = np.abs(got[ok].astype(np.float64) - ref[ok])
    assert np.all(err <= tol + np.abs(ref[ok]) * 2.0 ** -11), (got, ref)


@st.composite
def shapes(draw):
    steps = draw(st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 14)),
                          min_size=1, max_size=6))
    scale = draw(st.sampled_from([1e-9, 3e-7, 1.0, 4e3, 2e5, 1e7]))
    n = draw(st.integers(2, 5))
    seed = draw(st.integers(0, 2 ** 16))
    return steps, scale, n, seed, draw(st.booleans())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shapes())
def test_float16_cotangents_fuzz(shape):
    steps, scale, n, seed, f16_input = shape
    f16, f64 = program(steps, scale, np.float16), program(steps, scale, np.float64)
    linear = not any(k in NONLINEAR for k, _ in steps)
    rtol = (2e-6 if not f16_input else 0.0) if linear else 4e-2
    rng = np.random.default_rng(seed)
    points = [rng.uniform(0.5, 2.0, n) for _ in range(3)]
    if f16_input:
        points = [p.astype(np.float16) for p in points]
    with np.errstate(all="ignore"):
        natives = [f16(p.copy()) for p in points]
    assume(all(np.isfinite(v) for v in natives))
    refs = [central(f64, p.astype(np.float64)) for p in points]
    assume(all(np.all(np.isfinite(r)) for r in refs))
    value, g = framead.value_and_grad(f16)(points[0].copy())
    assert value == natives[0]
    _expect_close(np.asarray(g), refs[0], rtol, f16_input)
    cached = framead.value_and_grad(f16, cache=True)
    for p, native, ref in zip(points, natives, refs, strict=True):
        value, g = cached(p.copy())
        assert value == native
        _expect_close(np.asarray(g), ref, rtol, f16_input)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shapes())
def test_float16_tangents_fuzz(shape):
    """Forward mode carries float16 tangents in float32 too: jacfwd and jvp of a float64
    input against the float64 twin's central differences (a float16 input's tangent is its
    own precision's, as the gradient's)."""
    steps, scale, n, seed, f16_input = shape
    assume(not f16_input)
    f16, f64 = program(steps, scale, np.float16), program(steps, scale, np.float64)
    linear = not any(k in NONLINEAR for k, _ in steps)
    p = np.random.default_rng(seed).uniform(0.5, 2.0, n)
    with np.errstate(all="ignore"):
        assume(np.isfinite(f16(p.copy())))
    ref = central(f64, p)
    assume(np.all(np.isfinite(ref)))
    with np.errstate(all="ignore"):
        jac = framead.jacfwd(f16)(p.copy())
        v = np.cos(1.0 + np.arange(n))
        _, t = framead.jvp(f16, (p.copy(),), (v,))
    rtol = 2e-6 if linear else 4e-2
    _expect_close(np.asarray(jac, dtype=float), ref, rtol, False)
    # (along v the terms may cancel: the error scale is that of the terms)
    np.testing.assert_allclose(t, ref @ v, rtol=rtol, atol=rtol * (np.abs(ref) @ np.abs(v)))


# --- the shapes helper-104 found, and the boundary ------------------------------------------

@pytest.mark.parametrize("scale", [1e5, 1e-8, 1.0])
def test_astype_roundtrip_scales(scale):
    """A float64 input through float16 storage: the gradient is ``scale`` (not inf, not 0)."""
    def f(x):
        return float(np.sum(x.astype(np.float16).astype(np.float64)) * scale)
    x = np.array([0.5, 1.5, 1.25])
    for vg in (framead.value_and_grad(f), framead.value_and_grad(f, cache=True)):
        for _ in range(2):
            _, g = vg(x.copy())
            np.testing.assert_allclose(g, np.full(3, scale), rtol=1e-7)


def test_element_reads_accumulate_past_float16_max():
    """Twelve reads of one float16 element, each weighted 1e4: 1.2e5 in float32."""
    def f(x):
        a = x.astype(np.float16)
        return sum(float(a[1]) * 1e4 for _ in range(12))
    g = framead.grad(f)(np.array([0.5, 1.5]))
    np.testing.assert_allclose(g, [0.0, 1.2e5], rtol=1e-7)


def test_float16_output_seed_fresh():
    """A float16 output: its seed is carried in float32, so products of float16 arrays do not
    overflow in the reverse pass (d(a**10)/da = 1.45e5 at a = 2.9 while a**10 = 4.2e4)."""
    def f(x):
        a = x.astype(np.float16)
        p = a
        for _ in range(9):
            p = p * a
        return np.sum(p)
    x = np.array([2.9])
    a = float(np.float16(2.9))
    g = framead.grad(f)(x)
    np.testing.assert_allclose(g, [10 * a ** 9], rtol=2e-2)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_gradient_dtype_is_the_inputs(dtype):
    """The boundary: a float16 input gets a float16 gradient (inf where the float32 value
    passes 65504: the input's precision), float32/float64 their own."""
    def f(x):
        return float(np.sum((x * x).astype(np.float64)) * 5e4)
    x = np.array([0.5, 1.5], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (the cast to float16 is the input's: not reported)
        g = framead.grad(f)(x)
    assert g.dtype == dtype
    want = 1e5 * x.astype(np.float64)
    if dtype is np.float16:
        assert np.isinf(g[1]) and abs(float(g[0]) - want[0]) <= 2 ** -11 * want[0]
    else:
        np.testing.assert_allclose(g, want, rtol=1e-6)


def test_float16_output_seed_cached():
    """As test_float16_output_seed_fresh, through value_and_grad(f, cache=True)."""
    def f(x):
        a = x.astype(np.float16)
        p = a
        for _ in range(9):
            p = p * a
        return np.sum(p)
    vg = framead.value_and_grad(f, cache=True)
    for x in (np.array([2.9]), np.array([2.85]), np.array([2.9])):
        a = float(np.float16(x[0]))
        np.testing.assert_allclose(vg(x)[1], [10 * a ** 9], rtol=2e-2)
