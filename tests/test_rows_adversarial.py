"""Adversarial tests of iteration over traced arrays (C ``Rows``, capture/handlers.py
``getiter``/``rows``/``_row``) and of the prefaulted copies of large arguments
(capture/buffers.py ``fresh_copy``), and of their interactions: writes while iterating,
views of views, odd layouts, subclasses, threads, kept iterators, nested and higher-order
gradients, cached replays.

Every check compares with something independent of the code under test: the native run
(values, exceptions, tracebacks, warnings, object lifetimes), central finite differences in
float64, the handlers' IR (``FAST_RECORD = False``) and the caller's arrays before the call.
Bugs found are kept as strict xfails whose reason says what differs and where."""

from __future__ import annotations

import copy
import gc
import math
import operator
import sys
import textwrap
import threading
import traceback
import warnings
import weakref

import numpy as np
import pytest
from conftest import fd_grad
from framead.capture import buffers, session
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view
from test_fast_record import assert_same

import framead

pytestmark = [pytest.mark.filterwarnings("ignore::framead.api.GradientWarning"),
              pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")]  # (np.matrix)

X6 = np.array([0.7, 1.3, 0.4, 1.1, 0.95, 0.6])


# --- helpers ---------------------------------------------------------------------------------

def _slow(fn):
    """``fn()`` with every C fast path off (the handlers' recording: the reference)."""
    old = session.FAST_RECORD
    try:
        session.FAST_RECORD = False
        return fn()
    finally:
        session.FAST_RECORD = old


def _outcome(fn, *args):
    """(result or None, (exception type, message, [(function, line)] below the caller))."""
    try:
        return fn(*args), None
    except Exception as e:  # noqa: BLE001 - compared with the native run's
        frames = traceback.extract_tb(e.__traceback__)[1:]
        return None, (type(e).__name__, str(e), [(fr.name, fr.lineno) for fr in frames])


def _check_gradient(f, x, rtol=1e-5, atol=1e-7):
    """value_and_grad of f at x: the native value, the caller's x untouched, the gradient
    equal to the handlers' and to central differences."""
    x0 = x.copy()
    native = f(x.copy())
    val, g = framead.value_and_grad(f)(x)
    np.testing.assert_array_equal(x, x0)
    assert val == native
    _, g_slow = _slow(lambda: framead.value_and_grad(f)(x.copy()))
    np.testing.assert_array_equal(g, g_slow)
    np.testing.assert_allclose(g, fd_grad(f, x0, step=1e-6), rtol=rtol, atol=atol)


# --- the fuzzer: iteration over views while the program writes ---------------------------------

# arrays to iterate (y = x * 1.0 of 12, M = y.reshape(3, 4) a view of it, W = y.reshape(4, 3);
# z the second argument: x[2:] itself (shared memory) or an array of its own)
_ITER_1D = ["y", "y[::2]", "y[::-1]", "y[1:][::-2]", "M[1]", "M.T[2]", "M[:, 1]",
            "M[::-1][0][::-1]", "x", "x[3:9]", "z", "z[::-3]"]
_ITER_2D = ["M", "M.T", "M[::-1, ::2]", "M[1:][::-1]", "W[::2]", "W.T[::-1]",
            "x.reshape(2, 6)", "z.reshape(5, 2)[::-2]", "x[:8].reshape(2, 4).T"]
_E1 = ["v * v", "math.sin(v)", "v * 2.0 + 1.0", "np.float64(1.5) * v", "v / (1.0 + v * v)",
       "np.exp(v) * 0.1", "float(v) ** 2"]
_E2 = ["np.sum(r * r)", "r[0] * r[-1]", "r @ r", "np.sum(np.sin(r))", "r.sum() * r[0]"]
# writes made inside a loop over elements (v) or rows (r)
_W1 = ["y[{k}] = v * 0.5", "y += v * 0.01", "M[{i}, {j}] *= 1.0 + 0.1 * v",
       "np.copyto(M[{i}], M[{i2}] * v)", "x[{k}] = v + 0.25", "y[{k}:{k2}] -= v * 0.1",
       "z[{jz}] = v * 0.3", "x[{k}:] += v * 0.01"]
_W2 = ["M[{i}, :len(r)] = r * 0.5", "y[:len(r)] += r[::-1] * 0.1",
       "np.copyto(W[{i}, :min(len(r), 3)], r[:3] * 0.9)", "r *= 1.01", "x[:len(r)] *= 1.001",
       "z[-len(r):] = r * 0.7"]
_FORMS1 = [
    "for v in {arr}:\n    {w}\n    s = s + {e}",
    "for i, v in enumerate({arr}):\n    s = s + (i + 1) * ({e})\n    {w}",
    "for v, u in zip({arr}, y[::-1]):\n    s = s + ({e}) * u\n    {w}",
    "vs = list({arr})\n{w0}\nfor v in vs:\n    s = s + {e}",
    "s = s + sum({e} for v in {arr})",
    "it = iter({arr})\nfor v in it:\n    s = s + {e}\n    {w}\n    break\n"
    "for v in it:\n    s = s - {e}",
    "def gen(a):\n    for v in a:\n        yield {e}\ng = gen({arr})\ns = s + next(g)\n{w0}\n"
    "s = s + sum(g)",
    "s = s + sum(map(lambda v: {e}, {arr}))",
    "a, b, *rest = {arr}\n{w0}\nv = a * b\ns = s + {e} + sum(rest)",
    "s = s + max({arr}) * 0.5 + min({arr}) * 0.25",
]
_FORMS2 = [
    "for r in {arr}:\n    {w}\n    s = s + {e}",
    "for i, r in enumerate({arr}):\n    s = s + (i + 1) * ({e})\n    {w}",
    "rows = list({arr})\n{w0}\nfor r in rows:\n    s = s + {e}",
    "for r in {arr}:\n    for v in r:\n        s = s + v * v\n    {w}",
    "for r, q in zip({arr}, {arr}[::-1]):\n    s = s + np.sum(r * q)\n    {w}",
]


def _nums(draw):
    return {"k": draw(st.integers(0, 11)), "k2": draw(st.integers(0, 12)),
            "i": draw(st.integers(0, 2)), "i2": draw(st.integers(0, 2)),
            "j": draw(st.integers(0, 3)), "jz": draw(st.integers(0, 9))}


@st.composite
def programs(draw):
    """f(x, z): one to three loops over views of x, of y = x * 1.0 and of z, each writing
    into x, y, z or the row it reads."""
    body = ["y = x * 1.0", "M = y.reshape(3, 4)", "W = y.reshape(4, 3)", "s = 0.0"]
    for _ in range(draw(st.integers(1, 3))):
        nums = _nums(draw)
        if draw(st.booleans()):
            arr, e = draw(st.sampled_from(_ITER_1D)), draw(st.sampled_from(_E1))
            w = draw(st.sampled_from(_W1)).format(**nums)
            form = draw(st.sampled_from(_FORMS1))
        else:
            arr, e = draw(st.sampled_from(_ITER_2D)), draw(st.sampled_from(_E2))
            w = draw(st.sampled_from(_W2)).format(**nums)
            form = draw(st.sampled_from(_FORMS2))
        # w0: a write between making the rows and reading them (no element in scope)
        w0 = draw(st.sampled_from(["pass", "y *= 1.01", "M[1] = M[2] * 0.5", "x[0] = y[5]",
                                   "z[1:3] = x[4:6] * 2.0"]))
        body.append(form.format(arr=arr, e=e, w=w, w0=w0))
    body.append("return s + 0.01 * np.sum(y * y) + 0.1 * np.sum(z * x[2:])")
    return "def f(x, z):\n" + textwrap.indent("\n".join(body), "    ") + "\n"


def _load(src):
    ns: dict = {"np": np, "math": math}
    exec(compile(src, "<rows-adversarial>", "exec"), ns)  # noqa: S102 - the fuzzer's program
    return ns["f"]


X12 = np.linspace(0.35, 1.45, 12) + 0.01 * np.sin(np.arange(12.0))
Z10 = np.linspace(1.2, 0.3, 10)


def _call(f, shared):
    """f as a function of x alone: z is x[2:] (one memory, as the caller passes it) or a
    fresh copy of Z10."""
    if shared:
        return lambda x: f(x, x[2:])
    return lambda x: f(x, Z10.copy())


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(src=programs(), shared=st.booleans())
def test_fuzz_iteration_with_writes(src, shared):
    """Values as natively, the caller's arrays untouched, the IR as the handlers record it,
    the gradient right against central differences (the programs are smooth), and a cached
    replay on another x giving the uncached gradient."""
    f = _load(src)
    fx = _call(f, shared)
    x = X12.copy()
    z = x[2:] if shared else Z10.copy()
    xn = x.copy()
    native, nerr = _outcome(f, xn, xn[2:] if shared else Z10.copy())
    got, gerr = _outcome(framead.value_and_grad(f), x, z)
    np.testing.assert_array_equal(x, X12)
    np.testing.assert_array_equal(z, X12[2:] if shared else Z10)
    assert gerr == nerr
    if nerr is not None:
        return
    val, g = got
    assert val == native
    quick = framead.trace(f, X12.copy(), Z10.copy(), argnums=0)
    slow = _slow(lambda: framead.trace(f, X12.copy(), Z10.copy(), argnums=0))
    assert_same(slow, quick)
    assert [str(h) for h in quick.hazards] == [str(h) for h in slow.hazards]
    assert not quick.hazards
    np.testing.assert_allclose(g, fd_grad(fx, X12, step=1e-6), rtol=1e-4, atol=1e-6)
    vg = framead.value_and_grad(f, cache=True)
    x2 = X12[::-1].copy()
    for xc in (X12.copy(), x2.copy()):
        val_c, g_c = vg(xc, xc[2:] if shared else Z10.copy())
        val_u, g_u = framead.value_and_grad(f)(xc, xc[2:] if shared else Z10.copy())
        assert val_c == val_u == fx(xc.copy())
        np.testing.assert_allclose(g_c, g_u, rtol=1e-12, atol=1e-12)


# --- targeted cases that hold --------------------------------------------------------------------

def _matrix_rows(x):
    M = np.asmatrix(x.reshape(3, 2))
    s = 0.0
    for r in M:
        s = s + r[0, 0] * r[0, 1]
    return s


def _masked_rows(x):
    A = np.ma.masked_array(x * 1.0, mask=[0, 1, 0, 0, 1, 0])
    s = 0.0
    for v in A:
        if v is np.ma.masked:
            continue
        s = s + v * v
    return s


def _complex_rows(x):
    z = (x + 1j * x[::-1]).reshape(2, 3)
    s = 0.0
    for r in z:
        s = s + np.abs(r @ r)
    return s


def _bool_and_int_rows(x):
    s = 0.0
    for b, k, v in zip(x > 1.0, (x * 3).astype(int), x, strict=True):
        if b:
            s = s + v * v * k
    return s


def _shape_flips_while_iterating(x):
    y = x.copy()
    s = 0.0
    for v in y:  # the rows change from elements to rows of 3 and back as natively
        y.shape = (2, 3) if y.ndim == 1 else (6,)
        s = s + np.sum(v * v)
    return s


class _Plain(np.ndarray):
    pass


def _fast_and_slow_rows(x):
    it = iter(x)
    s = 0.0
    for v in it:  # rows of a subclass view in the middle: no fast path for them
        s = s + v * sum(w * w for w in x.view(_Plain)[:2]) + next(it, 0.0)
    return s


@pytest.mark.parametrize("f", [_matrix_rows, _masked_rows, _complex_rows, _bool_and_int_rows,
                               _shape_flips_while_iterating, _fast_and_slow_rows])
def test_dtypes_and_subclasses_iterate_as_natively(f):
    _check_gradient(f, X6.copy(), rtol=1e-4, atol=1e-6)


class _Picky(np.ndarray):
    def __getitem__(self, k):
        if k == 2:
            raise KeyError("boom")
        return np.ndarray.__getitem__(self, k)


def _raise_mid_loop(x):
    s = 0.0
    for v in x:
        if v > 1.0:
            raise ValueError("big")
        s = s + v
    return s


def _raise_in_subclass_getitem(x):
    return sum(v * v for v in x.view(_Picky))


def _raise_in_sum_of_rows(x):
    return sum(x.view(_Picky)) * 1.0


def _iter_0d(x):
    return list(np.asarray(x[0] * 2.0))


def _write_read_only(x):
    s = 0.0
    for v in x:
        s = s + v
    x[0] = s
    return s


def _zip_strict(x):
    return sum(a * b for a, b in zip(x[1:], x, strict=True))


def _unpack_too_many(x):
    a, b = x
    return a * b


@pytest.mark.parametrize("f", [_raise_mid_loop, _raise_in_subclass_getitem,
                               _raise_in_sum_of_rows, _iter_0d, _write_read_only, _zip_strict,
                               _unpack_too_many])
def test_exceptions_mid_loop_as_natively(f):
    x = X6.copy()
    if f is _write_read_only:
        x.flags.writeable = False
    native = _outcome(f, x)
    assert native[1] is not None
    assert _outcome(framead.grad(f), x) == native
    assert _outcome(framead.grad(f, cache=True), x) == native


def test_warnings_in_loops_as_natively():
    def f(x):
        s = 0.0
        for r in x.reshape(3, 2):
            s = s + np.sum(np.log(r - 0.5) * 0.0) + r[0]
        return s

    def seen(fn, x):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            fn(x)
        return [(type(m.message), str(m.message), m.filename, m.lineno) for m in w]

    x = X6.copy()
    assert seen(f, x) and seen(framead.grad(f), x) == seen(f, x)


def _higher(x):
    s = 0.0
    for a, r in zip(x, x.reshape(3, 2).repeat(2, axis=0), strict=True):
        s = s + a * a * np.sum(np.sin(r))
    return s


def test_second_derivative_of_a_loop():
    """grad(grad(f)) with f iterating: the Hessian-vector product against differences of the
    first gradient (itself checked against differences)."""
    w = np.arange(1.0, 7.0)

    def gdot(x):
        return np.sum(framead.grad(_higher)(x) * w)

    _check_gradient(_higher, X6.copy(), rtol=1e-4, atol=1e-6)
    _check_gradient(gdot, X6.copy(), rtol=1e-4, atol=1e-5)


def test_cached_replays_of_loops_on_new_inputs():
    """cache=True: the first call captures, later ones replay (or capture again where a guard
    fails); every gradient equals the uncached one and central differences."""
    def f(x):
        y = x * 1.0
        s = 0.0
        for i, r in enumerate(y.reshape(3, 2)):
            y[0] = y[0] + r[1] * 0.5 * i
            if r[0] > 1.0:
                s = s + r[0] * r[1]
            else:
                s = s - max(r) * 0.5
        return s + sum(v * v for v in y[::-2])

    vg = framead.value_and_grad(f, cache=True)
    rng = np.random.default_rng(5)
    for k in range(6):
        x = X6 + 0.01 * rng.standard_normal(6) if k < 4 else rng.uniform(0.3, 1.7, 6)
        val, g = vg(x)
        assert val == f(x.copy())
        np.testing.assert_array_equal(g, framead.grad(f)(x))
        np.testing.assert_allclose(g, fd_grad(f, x, step=1e-6), rtol=1e-5, atol=1e-7)
    assert vg.stats["hits"] >= 3


def test_iterators_crossing_nested_captures():
    """An iterator (and a generator) of the outer capture read inside nested ones, and one of
    an inner capture read in the outer after the inner returned."""
    def f(x):
        it = iter(x * 3.0)

        def gen():
            for v in x:
                yield v * v

        g = gen()

        def inner(y):
            return y * next(it) + next(g) * y * y

        kept = []

        def inner2(y):
            y[0] = y[1] * y[2]
            kept.append(iter(y.reshape(3, 2)))
            return np.sum(y * y)

        a = framead.grad(inner)(1.5)
        b = framead.grad(inner)(0.5)
        framead.grad(inner2)(x)
        s = 0.0
        for r in kept[0]:
            s = s + r[0] * r[1]
        return a * b + sum(it) + sum(g) + s

    _check_gradient(f, X6.copy(), rtol=1e-4, atol=1e-6)


def test_iteration_in_another_thread_is_reported():
    """A thread that iterates the traced array itself: the gradient is wrong, so a hazard."""
    def f(x):
        out = []

        def work():
            s = 0.0
            for v in x:
                s = s + v * v
            out.append(s)

        t = threading.Thread(target=work)
        t.start()
        t.join()
        return out[0] + x[0]

    t = framead.trace(f, X6.copy())
    assert any("thread" in str(h) for h in t.hazards)


def test_kept_iterators_and_generators_after_the_capture():
    """Iterators and generators over traced arrays kept by the program: after the call they
    give the rows a native run gives (plain values), and keep no recorder alive."""
    kept = []

    def f(x):
        M = x.reshape(3, 2) * 2.0
        it = iter(M)
        first = next(it)

        def gen():
            for v in x[::-1]:
                yield v * 10.0

        g = gen()
        kept.extend([it, g, next(g)])
        return np.sum(first) + kept[-1]

    x = X6.copy()
    f(x.copy())
    native = [np.array(v).tolist() for v in (*list(kept[0]), *list(kept[1]))]
    kept.clear()
    framead.grad(f)(x)
    rec_refs = [r for r in gc.get_referents(kept[0]) if isinstance(r, weakref.ref)]
    gc.collect()
    assert rec_refs and rec_refs[0]() is None
    rows = list(kept[0])
    assert all(type(r) is np.ndarray for r in rows)
    assert [np.array(v).tolist() for v in (*rows, *list(kept[1]))] == native


def test_a_kept_iterator_resumed_in_a_later_capture_is_a_constant():
    kept = []

    def first(x):
        kept.append(iter(x * 2.0))
        return x[0] * 1.0

    def second(y):
        return y[0] * next(kept[0]) + y[1] * sum(kept[0])

    x = X6.copy()
    framead.grad(first)(x)
    y = np.array([1.5, 2.5])
    g = framead.grad(second)(y)
    np.testing.assert_array_equal(g, [2 * x[0], 2 * np.sum(x[1:])])


def test_one_array_passed_twice_iterated_and_written():
    """f(x, x): a write through b while iterating a is seen by a (one copy, as natively); the
    gradient over both arguments sums to the shared one's differences."""
    def f(a, b):
        s = 0.0
        for v in a:
            b[0] = b[0] + v * 0.5
            s = s + v * b[0]
        return s

    def shared(x):
        c = x.copy()
        return f(c, c)

    x = X6.copy()
    val, (ga, gb) = framead.value_and_grad(f, argnums=(0, 1))(x, x)
    np.testing.assert_array_equal(x, X6)
    assert val == shared(x)
    np.testing.assert_allclose(ga + gb, fd_grad(shared, x, step=1e-6), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(framead.grad(f)(x, x), fd_grad(shared, x, step=1e-6), rtol=1e-6,
                               atol=1e-8)


# --- large arrays (prefaulted copies) written and iterated --------------------------------------

def _large_loop(M):
    s = 0.0
    for r in M[::7]:
        M[0] += r * 1e-3
        s = s + np.sum(r * r)
    return s + np.sum(M)


@pytest.mark.parametrize("layout", ["C", "F", "T", "neg"])
def test_large_arguments_iterated_and_written(layout):
    """Above the prefault size, in four layouts: values as natively, the caller's array
    untouched, the gradient the handlers' and a directional difference's."""
    rng = np.random.default_rng(3)
    base = rng.uniform(0.5, 1.5, (300, 120))
    M = {"C": np.ascontiguousarray, "F": np.asfortranarray,
         "T": lambda a: np.ascontiguousarray(a.T).T, "neg": lambda a: a[::-1].copy()[::-1]}[
        layout](base)
    assert M.nbytes >= buffers.PREFAULT_BYTES
    M0 = M.copy()
    val, g = framead.value_and_grad(_large_loop)(M)
    np.testing.assert_array_equal(M, M0)
    assert val == _large_loop(M0.copy())
    _, g_slow = _slow(lambda: framead.value_and_grad(_large_loop)(M.copy()))
    np.testing.assert_array_equal(g, g_slow)
    d = rng.standard_normal(M.shape)
    fd = (_large_loop(M0 + 1e-6 * d) - _large_loop(M0 - 1e-6 * d)) / 2e-6
    np.testing.assert_allclose(np.sum(g * d), fd, rtol=1e-6)


def test_large_shared_arguments_iterated_and_written():
    """f(x, x[1:]) with a large x: a row written through one argument is seen through the
    other (one copy, as natively); the caller's array untouched."""
    rng = np.random.default_rng(4)
    big = rng.uniform(0.5, 1.5, (400, 100))
    big0 = big.copy()

    def f(a, b):
        s = 0.0
        for r in b[::9]:
            r *= 1.01
            s = s + np.sum(r * a[0])
        return s + np.sum(a[1] * a[2])

    def shared(m):
        c = m.copy()
        return f(c, c[1:])

    val, (ga, gb) = framead.value_and_grad(f, argnums=(0, 1))(big, big[1:])
    np.testing.assert_array_equal(big, big0)
    assert val == shared(big0)
    d = rng.standard_normal(big.shape)
    fd = (shared(big0 + 1e-6 * d) - shared(big0 - 1e-6 * d)) / 2e-6
    np.testing.assert_allclose(np.sum(ga * d) + np.sum(gb * d[1:]), fd, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["f4", "c16", ">f8"])
def test_large_arguments_of_other_dtypes(dtype):
    """Large float32, complex and big-endian arguments: copied with their dtype and values,
    the caller's array untouched, the gradient of a loop over them right."""
    x = (np.linspace(0.5, 1.5, 70_000) * (1 + 0.5j if dtype == "c16" else 1)).astype(dtype)
    assert x.nbytes >= buffers.PREFAULT_BYTES
    x0 = x.copy()
    seen = []

    def f(x):
        seen.append((x.dtype, x.flags.writeable))
        s = 0.0
        for v in x[::10_000]:
            s = s + (v * v).real
        return s

    g = framead.grad(f)(x)
    np.testing.assert_array_equal(x, x0)
    assert seen == [(x.dtype, True)]
    expect = np.zeros(x.shape, np.complex128 if dtype == "c16" else np.float64)
    expect[::10_000] = 2 * x0[::10_000]  # (complex: df/da - i df/db, as JAX)
    np.testing.assert_allclose(g, expect, rtol=1e-6)


# --- bugs (strict xfails) ------------------------------------------------------------------------

# Once a bug, fixed: an exhausted row iterator comes back to life when its array gets longer:
# native iter() of an ndarray is a sequence iterator that drops the array at the first IndexError
# and stays exhausted; C Rows.rows_next (capture/_evalframe.c) re-reads len(a) on every call and
# keeps `a` (also the old Python _Rows): after `z.shape = (6,)` list(it) gives 4 more rows, so f
# returns 4.0 instead of 0.0
def test_an_exhausted_iterator_stays_exhausted():
    def f(x):
        z = x.reshape(2, 3) * 1.0
        it = iter(z)
        list(it)
        z.shape = (6,)
        return len(list(it)) + np.sum(z) * 0.0

    x = X6.copy()
    assert f(x.copy()) == 0.0
    assert framead.value_and_grad(f)(x)[0] == 0.0


# Once a bug, fixed: a kept, exhausted row iterator keeps its array alive after the call: natively
# the exhausted sequence iterator has released it; C Rows keeps `a` until it is freed (rows_next
# returns NULL at the end without Py_CLEAR(it->a))
def test_an_exhausted_iterator_releases_its_array():
    kept, refs = [], []

    def f(x):
        y = x * 2.0
        it = iter(y)
        s = sum(it)
        kept.append(it)
        refs.append(weakref.ref(y))
        return s

    f(X6.copy())
    gc.collect()
    assert refs.pop()() is None  # native
    framead.grad(f)(X6.copy())
    gc.collect()
    assert refs.pop()() is None


# Once a bug, fixed: operator.length_hint of a row iterator is 0 under capture (C Rows has no
# __length_hint__; the native sequence iterator gives len(a) - i): f returns 0 * x[1] instead of 5
# * x[1], and the gradient is 0
def test_length_hint_of_a_row_iterator():
    def f(x):
        it = iter(x)
        next(it)
        return operator.length_hint(it) * x[1]

    x = X6.copy()
    val, g = framead.value_and_grad(f)(x)
    assert val == f(x.copy())
    np.testing.assert_array_equal(g, [0, 5, 0, 0, 0, 0])


# Once a bug, fixed: copy.copy / pickle of a row iterator raise TypeError \"cannot pickle
# 'framead.capture._evalframe.Rows' object\" under capture (C Rows has no __reduce__ /
# __setstate__); natively an ndarray's iterator copies and pickles
def test_copying_a_row_iterator():
    def f(x):
        it = iter(x)
        next(it)
        return sum(copy.copy(it)) * x[0]

    x = X6.copy()
    native = _outcome(f, x.copy())
    assert native[1] is None
    assert _outcome(framead.value_and_grad(f), x)[1] is None


# Once a bug, fixed: reversed(x) of a traced array raises TypeError
# "'framead.capture._evalframe.Rows' object is not reversible": calls._iterating turns every
# argument of an ITERATING callable (builtins.reversed is one, call_kinds.py) into rec.rows(x), an
# iterator, and reversed() needs a sequence (natively ndarray's __len__/__getitem__);
# FAST_RECORD=False too
def test_reversed_of_a_traced_array():
    def f(x):
        s = 0.0
        for v in reversed(x):
            s = s * 0.5 + v * v
        for row in reversed(x.reshape(2, 3)):  # rows, and a kept reversed iterator
            it = reversed(row)
            s = s + next(it) * operator.length_hint(it)
        return s + sum(list(reversed(x[::2])))

    _check_gradient(f, X6.copy())
    old = session.FAST_RECORD
    try:
        session.FAST_RECORD = False
        _check_gradient(f, X6.copy())
    finally:
        session.FAST_RECORD = old


class _Backwards(np.ndarray):
    def __iter__(self):
        for i in range(len(self) - 1, -1, -1):
            yield self[i]


def test_a_subclass_iter_is_run():
    """An ndarray subclass's own __iter__ runs (instrumented) under capture: the loop goes
    backwards as natively (it was once skipped: value 321.0 instead of 120.0)."""
    def f(x):
        out, w = 0.0, 1.0
        for v in x.view(_Backwards):
            out = out + w * v
            w = w * 2.0
        return out

    _check_gradient(f, np.arange(1.0, 7.0))


# Once a bug, fixed: an iterator made in the captured thread and consumed in another thread gives
# a wrong gradient with no hazard (expected 2x + e0, got e0): Rows.rows_next in the worker is not
# FA_ACTIVE, so it calls handlers._row plainly, which records rec.get_item from the worker
# (C.track puts the row in the worker's own tracked set), and the worker's v * v is neither
# recorded nor seen by watch_operands: no FA109 as for iter(x) in the worker
def test_an_iterator_consumed_in_another_thread():
    def f(x):
        out = []
        it = iter(x)

        def work():
            s = 0.0
            for v in it:
                s = s + v * v
            out.append(s)

        t = threading.Thread(target=work)
        t.start()
        t.join()
        return out[0] + x[0]

    x = X6.copy()
    t = framead.trace(f, x)
    if not t.hazards:
        np.testing.assert_allclose(framead.grad(f)(x), 2 * x + np.eye(6)[0])


@pytest.mark.xfail(strict=True, reason=(
    "an iterator of the captured thread read by a framead.grad running in another thread: "
    "the outer gradient loses what flowed through it, with no hazard (expected x[1] in "
    "d/dx0, got 0): the worker's capture is not the iterator's recorder, so Rows.rows_next "
    "calls handlers._row, which records into the main thread's recorder from the worker; "
    "the worker's own recording takes the row as a constant and its result reaches the "
    "main thread untracked"))
def test_an_iterator_read_by_a_capture_in_another_thread():
    def f(x):
        out = []
        it = iter(x)

        def work():
            out.append(framead.grad(lambda t: t * next(it))(2.0))

        t = threading.Thread(target=work)
        t.start()
        t.join()
        return out[0] * x[1] + sum(it)

    x = X6.copy()
    if not framead.trace(f, x).hazards:
        np.testing.assert_allclose(framead.grad(f)(x), fd_grad(f, x, step=1e-6),
                                   rtol=1e-6, atol=1e-8)


# Once a bug, fixed: a row iterator kept after the capture shows framead's handlers._row frame to
# profilers (sys.setprofile 'call' events) and in tracebacks: Rows.rows_next, when no capture is
# active, calls the Python `slow` (_row) with PyObject_CallFunctionObjArgs instead of reading a[i]
# in C once the weakly held recorder is gone
def test_a_kept_iterator_is_invisible_after_the_capture():
    kept = []

    def f(x):
        its = iter(x), iter(x.view(_Picky))
        kept.append(its)
        return next(its[0]) * next(its[1])

    def consume(it):
        for _ in it:
            pass

    def observe(its):
        calls = []

        def prof(frame, event, arg):
            if event == "call":
                calls.append(frame.f_code.co_name)

        sys.setprofile(prof)
        try:
            consume(its[0])
        finally:
            sys.setprofile(None)
        return calls, _outcome(consume, its[1])  # (its[1]: KeyError at x[2])

    f(X6.copy())
    native = observe(kept.pop())
    assert native == (["consume"], (None, ("KeyError", "'boom'", [
        ("consume", consume.__code__.co_firstlineno + 1),
        ("__getitem__", _Picky.__getitem__.__code__.co_firstlineno + 2)])))
    framead.grad(f)(X6.copy())
    assert observe(kept.pop()) == native


def test_fromiter_of_a_row_iterator():
    def f(x):
        return x[0] + np.sum(np.fromiter(iter(x), float) ** 2)

    x = X6.copy()
    if not framead.trace(f, x).hazards:
        np.testing.assert_allclose(framead.grad(f)(x), np.eye(6)[0] + 2 * x)


# Once a bug, fixed: iterating x.astype(object) (also np.asarray(x, object), np.array(x,
# dtype='O')) lost the gradient with no hazard (expected e0 + 2x, got e0): calls.dispatch made
# object arrays linked to x (special_forms.to_object_array) only for a keyword dtype that was
# `object` or np.object_, not a positional dtype, 'O' or the astype method
# (tests/test_object_arrays_all_spellings.py: every spelling and read-back form)
@pytest.mark.parametrize("convert", [lambda x: x.astype(object), lambda x: np.asarray(x, object),
                                     lambda x: np.array(x, dtype="O")])
def test_iterating_an_object_copy(convert):
    def f(x):
        s = x[0] * 1.0
        for v in convert(x):
            s = s + v * v
        return s

    x = X6.copy()
    assert not framead.trace(f, x).hazards
    np.testing.assert_allclose(framead.grad(f)(x), np.eye(6)[0] + 2 * x)
    np.testing.assert_allclose(framead.grad(f)(x), fd_grad(f, x), rtol=1e-6)


# Once a bug, fixed: rows of sliding_window_view(y) (an as_strided view) read after a write into
# y: the gradient uses the window's value before the write, with no hazard (expected [0, 6.56,
# 1.72, 5.18, 2.84, 1.42], got 0.58 at x[0] and 2.28 at x[3]): as_strided's result has a
# DummyArray base, and the buffer walk (buffers.buffer_owner, C is_traced_in) follows .base only
# while it is an ndarray, so the window is its own buffer and y's writes make no new version of it
def test_rows_of_a_sliding_window_after_a_write():
    def f(x):
        y = x * 1.0
        w = sliding_window_view(y, 2)
        y[0] = 5.0 * y[3]
        s = 0.0
        for r in w:
            s = s + r[0] * r[1]
        return s

    x = np.linspace(0.3, 1.7, 6)
    if not framead.trace(f, x).hazards:
        np.testing.assert_allclose(framead.grad(f)(x), fd_grad(f, x, step=1e-6),
                                   rtol=1e-5, atol=1e-7)


def test_resize_in_place():
    def f(x):
        y = x * 1.0
        for v in y[:2]:
            y[0] = v * v
        y.resize(8, refcheck=False)
        return np.sum(y * y)

    x = X6.copy()
    assert _outcome(f, x.copy())[1] is None
    assert _outcome(framead.value_and_grad(f), x)[1] is None


def test_matrix_rows_written_while_iterating():
    def f(x):
        M = np.asmatrix(x.reshape(3, 2))
        s = 0.0
        for r in M:
            M[0] = M[0] + r
            s = s + r[0, 0] * r[0, 1]
        return s

    _check_gradient(f, X6.copy())
