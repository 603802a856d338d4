"""Bool/int-valued ufuncs writing into ``out=`` (predicates np.isnan & co., which have no
rule, and the ruled cuts np.signbit, np.greater...): the array written holds constants (where=
keeps its old, traced values). Fuzzed over ufunc x out by keyword/position x out traced or
not x out dtype x where= x API, against central differences of the native program."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import framead

UNARY = [np.isnan, np.isinf, np.isfinite, np.signbit, np.logical_not]
BINARY = [np.greater, np.less_equal, np.equal, np.logical_and]
W = np.array([1.0, -2.0, 3.0])
MASK = np.array([True, False, True])


def _program(u, spelling: str, traced_out: bool, dtype: str, masked: bool):
    def f(x):
        y = 2.0 * x if traced_out else np.full(3, 5.0)
        y = y.astype(dtype) if dtype != "float64" else y
        ins = (x,) if u.nin == 1 else (x, 1.5 * x[::-1])
        kw = {"where": MASK} if masked else {}
        if spelling == "positional":
            r = u(*ins, y, **kw)
        elif spelling == "tuple":
            r = u(*ins, out=(y,), **kw)
        else:
            r = u(*ins, out=y, **kw)
        assert r is y  # (identities as in the native run)
        return np.sum(y * W) + np.sum(np.sin(x))
    return f


def _central(f, x, h=1e-3):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


@settings(max_examples=120, deadline=None, derandomize=True)
@given(u=st.sampled_from(UNARY + BINARY),
       spelling=st.sampled_from(["keyword", "tuple", "positional"]), traced_out=st.booleans(),
       dtype=st.sampled_from(["float64", "float32", "bool", "int64"]), masked=st.booleans(),
       api=st.sampled_from(["grad", "cached", "jvp"]),
       x=st.lists(st.floats(0.3, 3.0), min_size=3, max_size=3))
def test_predicate_out_matches_central_differences(u, spelling, traced_out, dtype, masked,
                                                   api, x):
    x = np.array(x)
    f = _program(u, spelling, traced_out, dtype, masked)
    ref = _central(f, x)  # (x away from the steps: every predicate is locally constant)
    tol = 1e-3 if dtype == "float32" else 1e-6  # (y rounded to float32: its differences)
    if api == "grad":
        g = framead.grad(f)(x)
    elif api == "cached":
        vg = framead.value_and_grad(f, cache=True)
        vg(x + 0.25)
        v, g = vg(x)
        assert v == pytest.approx(f(x), rel=1e-12)
    else:
        t = np.array([0.3, -0.7, 1.1])
        _, d = framead.jvp(f, (x,), (t,))
        assert d == pytest.approx(ref @ t, rel=tol, abs=tol)
        return
    np.testing.assert_allclose(g, ref, rtol=tol, atol=tol)


def test_isnan_out_overwrites_input_copy():
    """The reported case: y's gradient is zero (y was overwritten by 0/1 constants)."""
    def f(x, y):
        y = y.copy()
        np.isnan(x, out=y)
        return np.sum(y * np.arange(1.0, 4.0)) + np.sum(x)
    gx, gy = framead.grad(f, argnums=(0, 1))(np.array([1.0, 2.0, 3.0]), np.array([5.0, 6, 7]))
    np.testing.assert_array_equal(gx, np.ones(3))
    np.testing.assert_array_equal(gy, np.zeros(3))


METHODS = {
    "reduce": lambda x, y: np.logical_and.reduce(x, axis=0, out=y[0]),
    "accumulate": lambda x, y: np.logical_or.accumulate(x, axis=0, out=y),
    "reduceat": lambda x, y: np.logical_xor.reduceat(x, [0], axis=0, out=y[:1]),
    "outer": lambda x, y: np.greater.outer(x[0], x[1, :2], out=y.T),
    "at": lambda x, y: np.isnan.at(y, [0, 1]),
}


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("api", ["grad", "cached"])
def test_bool_ufunc_methods_writing_out(method, api):
    """Bool-valued ufuncs' methods writing a traced array: it holds constants from there on."""
    def f(x):
        y = 2.0 * x
        METHODS[method](x, y)
        return np.sum(y * np.arange(1.0, 7.0).reshape(2, 3)) + np.sum(np.sin(x))
    x = np.array([[1.0, 0.5, 3.0], [2.0, 5.0, 0.25]])
    ref = _central(lambda v: f(v.reshape(2, 3)), x.ravel()).reshape(2, 3)
    if api == "grad":
        g = framead.grad(f)(x)
    else:
        vg = framead.value_and_grad(f, cache=True)
        vg(x + 0.125)
        g = vg(x)[1]
    np.testing.assert_allclose(g, ref, rtol=1e-6, atol=1e-6)
