"""Traced values written into integer, bool, float32 and complex arrays.

An integer or bool array holds NumPy's cast of what is written (truncated, or ``!= 0``): the
stored values move in steps, so no derivative flows through them (capture/mutation.py
``_integral_write``); a float array written with complex values keeps the real part. Each
write form x destination dtype x source dtype is checked against central differences (at
points whose stored values lie far from the cast's steps) and against the native run's
value, uncached and replayed from a cached trace."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import fd_grad
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framead

pytestmark = pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")

N = 4
S = 10.0  # stored = x * S: integer part k, fraction in [0.3, 0.7] (FD steps move it < 0.01)
MASK = np.array([True, False, True, True])


def _slice(w, s):
    w[:] = s


def _ellipsis(w, s):
    w[...] = s


def _elements(w, s):
    for i in range(N):
        w[i] = s[i]  # (one element: the C fast path takes float64 arrays only)


def _fancy(w, s):
    w[[3, 1, 0, 2]] = s[[3, 1, 0, 2]]


def _mask(w, s):
    w[MASK] = s[MASK]


def _copyto(w, s):
    np.copyto(w, s, casting="unsafe")


def _copyto_where(w, s):
    np.copyto(w, s, casting="unsafe", where=MASK)


def _put(w, s):
    np.put(w, [0, 1, 2, 3], s)


def _put_method(w, s):
    w.put([2, 3], s[2:])


def _fill(w, s):
    w.fill(s[1])


def _flat_assign(w, s):
    w.flat = s


def _flat_setitem(w, s):
    w.flat[1:] = s[1:]


def _multiply_out(w, s):
    np.multiply(s, 1.0, out=w, casting="unsafe")


def _add_out_where(w, s):
    np.add(s, 0.0, out=w, where=MASK, casting="unsafe")


def _matmul_out(w, s):
    np.matmul(np.eye(N)[::-1], s, out=w, casting="unsafe")


def _inplace_add(w, s):
    np.add(w, s, out=w, casting="unsafe")  # (w += s where NumPy's casting allows it)


def _add_at(w, s):
    np.add.at(w, [0, 1, 2, 3], s)


def _view(w, s):
    v = w[1:]
    v[:] = s[1:]


def _view_element(w, s):
    v = w[::2]
    v[1] = s[2]


FORMS = [_slice, _ellipsis, _elements, _fancy, _mask, _copyto, _copyto_where, _put,
         _put_method, _fill, _flat_assign, _flat_setitem, _multiply_out, _add_out_where,
         _matmul_out, _inplace_add, _add_at, _view, _view_element]
DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.bool_, np.float32, np.float64,
          np.complex128]


def program(form, dtype, complex_source: bool, element: bool = True):
    """``w`` written by ``form``, read as a whole (and, with ``element``, one element: a
    cached trace guards an int element read from a traced array by itself)."""
    def f(x):
        s = x * S * (1.0 + 0.5j) if complex_source else x * S
        w = np.zeros(N, dtype=dtype)
        form(w, s)
        out = np.real(np.sum(w * x))
        return float(out + np.real(w[0]) * x[1] if element else out)
    return f


def points(dtype) -> st.SearchStrategy:
    """x with x * S = k + frac, frac in [0.3, 0.7]: far from the steps of an int cast (and
    from 0, for bool); k >= 0 for uint8 (a negative float's cast to it is undefined)."""
    lo = 0 if np.dtype(dtype).kind == "u" else -9
    k = st.lists(st.integers(lo, 9), min_size=N, max_size=N)
    frac = st.lists(st.floats(0.3, 0.7), min_size=N, max_size=N)
    return st.builds(lambda k, fr: (np.array(k) + np.array(fr)) / S, k, frac)


@st.composite
def cases(draw):
    dtype = draw(st.sampled_from(DTYPES))
    return (draw(st.sampled_from(FORMS)), dtype, draw(st.booleans()), draw(points(dtype)))


def reference(f, x, dtype):
    """Central differences: float32 stores round (noise of ~1e-7 relative), so a wider step
    there; f is a polynomial of degree 2 in x between the steps of the cast."""
    wide = np.dtype(dtype) == np.float32
    return fd_grad(f, (x,), step=1e-2 if wide else 1e-4), (1e-3 if wide else 1e-6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_write_forms_match_finite_differences(case):
    form, dtype, cplx, x = case
    f = program(form, dtype, cplx)
    value, g = framead.value_and_grad(f)(x.copy())
    assert value == f(x.copy())  # the native run's value, bit for bit
    expected, tol = reference(f, x, dtype)
    np.testing.assert_allclose(g, expected, rtol=tol, atol=tol,
                               err_msg=f"{form.__name__} into {np.dtype(dtype)}")


@pytest.mark.parametrize("dtype", [np.int16, np.uint8, np.bool_, np.float32])
@pytest.mark.parametrize("form", [_slice, _copyto, _multiply_out, _add_out_where, _add_at,
                                  _flat_assign, _view])
def test_cached_replay_rechecks_stored_integers(form, dtype):
    """A cached trace replays only while the stored values come out the same; else it
    records again: values and gradients as uncached, for inputs whose stored ints differ."""
    f = program(form, dtype, False, element=False)
    cached = framead.value_and_grad(f, cache=True)
    for x in (np.array([0.13, 0.45, 0.64, 0.27]), np.array([0.23, 0.55, 0.74, 0.37]),
              np.array([0.231, 0.551, 0.741, 0.371])):
        value, g = cached(x.copy())
        assert value == f(x.copy())
        expected, tol = reference(f, x, dtype)
        np.testing.assert_allclose(g, expected, rtol=tol, atol=tol)


def test_corpus_example_int64_buffer():
    """The finder's example: w[:] = x * 100 into int64, then w @ x: the derivative is w."""
    def f(x):
        w = np.zeros(3, dtype=np.int64)
        w[:] = x * 100.0
        return float(w @ x)
    x = np.array([0.3331, -0.5212, 0.7123])
    np.testing.assert_allclose(framead.grad(f)(x), [33.0, -52.0, 71.0])


def test_int_array_written_from_traced_values_reads_as_a_constant():
    """After the write, reads of the int array (and of its views) carry no derivative; the
    float array written from it later is a constant too."""
    def f(x):
        w = np.zeros((2, 3), dtype=np.int32)
        w[0] = x * S
        row = w[0]
        row[1] = x[2] * S
        fl = np.zeros(3)
        fl[:] = w[0]
        return float(fl @ x + w.sum() * x[0])
    x = np.array([0.13, 0.45, 0.64])
    g = framead.grad(f)(x)
    np.testing.assert_allclose(g, fd_grad(f, (x,), step=1e-4), rtol=1e-6, atol=1e-6)


def test_complex_written_into_float_keeps_the_real_part():
    """A float array written with complex values holds their real parts: the derivative is
    the real part's, forward and reverse."""
    def f(x):
        w = np.zeros(N)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
            w[:] = np.exp(1j * x) * x
        return float((w ** 2).sum())
    x = np.array([0.3, -0.7, 1.1, 0.2])
    expected = fd_grad(f, (x,))
    np.testing.assert_allclose(framead.grad(f)(x), expected, rtol=1e-7)
    np.testing.assert_allclose(framead.jacfwd(f)(x), expected, rtol=1e-7)


def test_forward_mode_through_int_writes():
    f = program(_slice, np.int16, False)
    x = np.array([0.13, 0.45, 0.64, 0.27])
    np.testing.assert_allclose(framead.jacfwd(f)(x), fd_grad(f, (x,), step=1e-4), atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("op", ["+=", "*=", "/=", "**="])
def test_narrow_float_in_place_replays_native_values(dtype, op):
    """``w op= b`` with a wider ``b``: NumPy computes in float64 and rounds into ``w``; a
    replay of the cached trace gives the native values (the result's low bits are read)."""
    def f(x):
        w = np.full(N, 1.25, dtype=dtype)
        b = x / 3.0
        if op == "+=":
            w += b
        elif op == "*=":
            w *= b
        elif op == "/=":
            w /= b
        else:
            w **= b
        return float((w.astype(np.float64) * 1e6).sum() % 1.0)
    cached = framead.value_and_grad(f, cache=True)
    for x in (np.array([0.31, 0.52, 0.73, 0.24]), np.array([0.41, 0.62, 0.83, 0.14])):
        assert cached(x.copy())[0] == f(x.copy())
