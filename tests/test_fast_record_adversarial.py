"""Adversarial tests of the C fast path for float64 arrays (capture/_evalframe.c:
fast_array_binop, fast_view_getitem, fast_setitem's region branch, fast_ufunc_call). Each
program is recorded with ``session.FAST_RECORD`` on and off: the IR (graph text, Values,
node arguments, saves), the graph's stats, the hazards, the value, the warnings and
exceptions, and the gradient (bit for bit) must be the same, the value that of the plain
call and the gradient that of central finite differences. Five of them are reproducers of
bugs they found (protects after the operation, a use after free of the fast-record state,
~70 NumPy submodules imported), fixed since."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap
import threading
import traceback
import warnings
import weakref

import numpy as np
import pytest
from framead.capture import session
from framead.capture.recorder import Recorder
from test_fast_record import assert_same, count_calls

import framead

N = 6
X = np.linspace(0.6, 1.4, N)


def _switch(monkeypatch):
    return lambda on: monkeypatch.setattr(session, "FAST_RECORD", on)


def _call(fn, *args):
    """(result or exception summary, warnings) of ``fn(*args)``."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            out = fn(*args)
        except Exception as e:  # (compared by type, message and the user's lines)
            tb = [(f.filename, f.lineno) for f in traceback.extract_tb(e.__traceback__)
                  if "/framead/" not in f.filename and f.filename != __file__]
            out = ("raised", type(e), str(e), tb)
    return out, [(type(m.message), str(m.message), m.filename, m.lineno) for m in w]


def _fd(f, x, eps=1e-6):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.array([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(x.size)])


def check(monkeypatch, f, x=X, fd=True):
    """f recorded with the fast path on and off: the same IR, stats, hazards, value, warnings
    and gradient (bit for bit); the value as natively, the gradient as finite differences."""
    fast = _switch(monkeypatch)
    native = _call(f, x.copy())
    traces, grads = {}, {}
    for on in (False, True):
        fast(on)
        traces[on] = _call(framead.trace, f, x.copy())
        grads[on] = _call(framead.grad(f), x.copy())
    (slow, w_slow), (quick, w_quick) = traces[False], traces[True]
    assert w_quick == w_slow
    if isinstance(native[0], tuple):  # an exception: the same, raised at the same line
        assert quick == slow and isinstance(quick, tuple)
        assert quick[1:3] == native[0][1:3] and quick[3][-1:] == native[0][3][-1:]
        assert w_quick == native[1]
        return None
    assert_same(slow, quick)
    assert quick.graph.stats == slow.graph.stats
    assert [str(h) for h in quick.hazards] == [str(h) for h in slow.hazards]
    assert w_quick == native[1]
    np.testing.assert_array_equal(np.asarray(quick.value), np.asarray(native[0]))
    np.testing.assert_array_equal(np.asarray(slow.value), np.asarray(native[0]))
    g_slow, g_quick = grads[False][0], grads[True][0]
    if isinstance(g_slow, tuple) or isinstance(g_quick, tuple):  # the reverse pass raised
        assert g_quick == g_slow
        return quick
    np.testing.assert_array_equal(g_quick, g_slow)
    if fd:
        np.testing.assert_allclose(g_quick, _fd(f, x), rtol=1e-5, atol=1e-6)
    return quick


# --- programs: aliasing, views, layouts, operand types ------------------------------------

def alias_shift(x):
    u = x * 1.0
    u[1:] = u[:-1]  # the source a view of the target's memory
    u[:-1] = u[1:]
    u[::2] = u[::-1][::2]
    return np.sum(u * x)


def x_plus_x(x):
    y = x + x
    return np.sum(y * y - y / (y + 3.0))


def view_then_write_base(x):
    u = x * 2.0
    v = u[1:4]
    u[2] = 10.0 * x[0]  # v's value is derived again
    w = v * v
    u[1:3] = x[:2]
    return np.sum(w) + np.sum(v * 3.0)


def views_of_views(x):
    u = x * 1.0
    c = u[::-1][1:][::2]
    d = c[None, :]
    e = d[..., 0]
    u[0] = 4.0  # c, d, e derived again
    return np.sum(c * c) + np.sum(e * 2.0) + np.sum(d[0, 1:] ** 2)


def two_d_transposes(x):
    m = x.reshape(2, 3) * 1.0
    t = m.T
    s = t * m.T + t[:, 0:1]
    r = s[::-1, ::-1] * 2.0
    m[:, 1] = m[:, 0] * 3.0  # a strided region
    return np.sum(r) + np.sum(m * t.T) + np.sum(t * 1.5)


def three_d(x):
    a = np.stack([x, x * 2.0, x * 3.0]).reshape(3, 2, 3) * 1.0
    b = a.transpose(2, 0, 1)
    c = b[:, 1] * b[:, 0]
    a[1, :, ::2] = a[0, :, ::2] * 0.5
    d = a[..., 1] + b[1]
    return np.sum(c * c) + np.sum(d ** 2)


def broadcasting(x):
    a = x * 1.0
    col, row = a[:, None], a[None, :]
    m = col * row - row / (col + 5.0)
    return np.sum((m + a) ** 2)


def zero_size(x):
    a = x * 1.0
    e = a[3:3]
    f = e * 2.0 + e
    a[3:3] = 4.0
    a[2:2] = e
    return np.sum(a) + np.sum(f) + np.sum(np.exp(e))


def negative_strides(x):
    a = x * 1.0
    a[::-1] = a * 2.0  # overlapping, reversed
    a[::-2] = a[1::2] * 3.0
    return np.sum(a * a)


def ufuncs(x):
    a = np.exp(x) + np.sin(x[::-1]) * np.tanh(x.reshape(2, 3).T).ravel()
    b = np.sqrt(np.abs(a)) + np.log1p(x * x) + np.arctan(x) + np.negative(x) + np.square(x)
    c = np.positive(x) * np.reciprocal(x + 2.0) + np.cbrt(x) + np.expm1(x) + np.sign(x)
    d = np.conjugate(x) + np.deg2rad(x) + np.exp2(x) + np.log2(x) + np.fabs(-x)
    return np.sum(a * b * c * d)


def scalar_operands(x):
    s = x[0] * 1.0  # a traced np.float64
    t = float(x[1])  # a traced float
    a = x * s + t - np.float64(2.0) * x
    b = 2 * a - a / 3 + a ** 2 + 3 ** (x * 0.1) + a ** s + t ** a
    return np.sum(b + b % 0.7)


def big_ints(x):
    return np.sum(x * 2 ** 70 + x / 2 ** 60 + (x - 2 ** 53) + (x + (2 ** 53 + 1)))


def bool_and_numpy_ints(x):
    return np.sum(x * True + x * np.int64(3) + np.int32(2) * x - x * np.uint8(200))


def complex_scalar(x):
    z = x * (1 + 2j)  # complex128: the handler
    return np.real(np.sum(z * z.conj()))


def other_float_types(x):
    h = np.ones(N, np.float32) * np.float32(1.5)
    a = x * h + h * x
    b = x * np.float32(2.5) + np.float16(1.5) * x
    c = np.ones(N, ">f8") * 2.0  # float64, other byte order
    return np.sum(a * b) + np.sum(x * c + c / x)


class Sub(np.ndarray):
    pass


class Prio:
    __array_priority__ = 100

    def __radd__(self, o):
        return o * 3.0

    def __add__(self, o):
        return o * 3.0


class UfuncOverride:
    def __array_ufunc__(self, uf, method, *inputs, **kw):
        return getattr(uf, method)(*[2.0 if i is self else i for i in inputs], **kw)


def subclasses_and_overrides(x):
    s = np.ones(N).view(Sub)
    a = x * s + s / (x + 1.0)
    m = np.ma.masked_array(np.ones(N), mask=[0, 1, 0, 0, 0, 0])
    b = x * m
    return float(np.sum(np.asarray(a) * x) + np.sum(b * x)) + np.sum(x + Prio()) + \
        np.sum(Prio() + x) + np.sum(x * UfuncOverride()) + np.sum(UfuncOverride() - x)


def read_only(x):
    a = x * 1.0
    a.flags.writeable = False
    b = a * 2.0
    c = a[1:]
    for k, v in ((0, 1.0), (slice(1, 3), c[:2])):
        try:
            a[k] = v
        except ValueError:
            pass
    return np.sum(b) + np.sum(c * c)


def non_ndarray_base(x):
    a = np.frombuffer(bytearray(8 * N), dtype=np.float64)  # .base: a bytearray
    a[:] = x * 2.0
    a[1:3] = x[:2] * a[3:5]
    b = a[::2] * a[1::2]
    a[0] = b[1]
    return np.sum(a * b[0]) + np.sum(b)


def out_keyword_and_np_calls(x):
    a = x * 1.0
    np.multiply(a, 2.0, out=a)
    o = np.empty(N)
    np.exp(x, out=o)
    np.sin(a, o)
    p = np.add(x, x) * np.multiply(x, 3.0) - np.subtract(2.0, x) / np.true_divide(x, 4.0)
    return np.sum(o * a) + np.sum(p)


def write_through_transpose(x):
    a = x.reshape(2, 3) * 1.0
    a.T[1:, 0] = x[:2] * 5.0
    a.T[...] = a.T * 2.0
    return np.sum(a * a)


def del_base_keep_view(x):
    a = x * 2.0
    v = a[1:4]
    del a
    w = v * v
    v[0] = 5.0 * x[3]
    return np.sum(w + v)


def ellipsis_and_none(x):
    a = x.reshape(2, 3) * 1.0
    b = a[..., None, 1:]
    c = a[None, ..., ::-1]
    d = a[1, ...]
    e = a[:, None, ...][:, 0]
    a[..., 0] = d[1]
    a[None, 0] = e[1] * 2.0
    a[0, 0, None] = 1.5
    return np.sum(b ** 2) + np.sum(c * 3.0) + np.sum(d) + np.sum(e) + np.sum(a * a)


def huge_slice_bounds(x):
    a = x * 1.0
    b = a[-100:100]
    c = a[2 ** 70:]
    d = a[:-2 ** 70:-1]
    a[-100:100:2] = 1.5
    return np.sum(b * 2.0) + np.sum(c) + np.sum(d * d) + np.sum(a)


def bad_indices(x):
    a = x * 1.0
    out = 0.0
    for k in ((0, 0), slice(None, None, 0), (Ellipsis, Ellipsis), (slice(None),) * 3):
        for op in ("get", "set"):
            try:
                if op == "get":
                    out = out + np.sum(a[k])
                else:
                    a[k] = 2.0
            except (IndexError, ValueError):
                pass
    try:
        a[1:3] = a  # shapes that do not broadcast
    except ValueError:
        pass
    return out + np.sum(a * a)


def powers(x):
    a = x ** 2 + x ** 0.5 + x ** -1 + x ** x + 2.0 ** x + x ** np.float64(3.0) + x ** 3
    return np.sum(a * ((-x) ** 2 + (x - 1.0) ** 2.0))


def generator_and_recursion(x):
    def gen(v):
        for i in range(3):
            yield v[i:] * (i + 1.0)

    def rec(v, n):
        return np.sum(v) if n == 0 else rec(v * 1.1 + v[::-1] * 0.1, n - 1)

    return sum(np.sum(w * w) for w in gen(x)) + rec(x, 4)


def in_place_reshape(x):
    u = x * 1.0
    u.shape = (2, 3)  # no probe sees it: the handler records the reshape
    v = u * 2.0
    w = u[1]
    u[0, 1:] = w[:2] * 3.0
    u.shape = (N,)
    return np.sum(v) + np.sum(u * u) + np.sum(w)


def views_made_natively(x):
    u = x * 1.0
    v = np.ndarray((3,), dtype=np.float64, buffer=u, offset=8)  # no entry: derived
    w = v * 2.0 + u[1:4] + u.view()[::-1][:3]
    v[0] = 5.0
    u[2:4] = w[:2]
    return np.sum(v * u[1:4]) + np.sum(w)


def traced_scalars_written(x):
    u = x * 1.0
    s = x[0] * 2.0
    t = float(x[1])
    u[1:4] = s
    u[::2] = t
    u[...] = u[::-1]
    u[None] = u * s
    return np.sum(u * u)


def rows_and_columns(x):
    m = np.zeros((3, N))  # a constant buffer that becomes traced
    m[0] = x
    m[1] = x * 2.0
    m[2, ::2] = x[::2]
    m[:, 0] = m[:, 1]
    m[1:, 1:] = m[:-1, :-1] * 0.5
    return np.sum(m * m)


def saved_then_written(x):
    u = x * 1.0
    e = np.exp(u)  # saves its result
    m = u * u  # saves u: the next write into u copies it first (the handler)
    u[1:3] = 0.5
    u[3:5] = e[:2]
    f = u[::2]
    u[0] = 3.0
    e[1:] = 2.0 * e[:-1]  # e saved: copy-on-write
    return np.sum(m) + np.sum(e) + np.sum(u[::2] * f)


def id_reuse(x):
    keep = []
    s = 0.0
    for i in range(120):
        a = x * (1.0 + i * 1e-3)
        b = a[1:] - a[:-1]
        if i % 7 == 0:
            keep.append(b[::2])
        a[0] = b[0] * 0.5
        c = np.exp(-a) + b.sum()
        s = s + c[i % N]
        del a, b, c
    for k in keep:
        s = s + np.sum(k * k)
    return s


def a_matrix_operand(x):
    m = np.asmatrix(np.ones((1, N)))
    return float(np.sum(x * m * 2.0))  # np.matrix's own * (a product): shapes error


PROGRAMS = [alias_shift, x_plus_x, view_then_write_base, views_of_views, two_d_transposes,
            three_d, broadcasting, zero_size, negative_strides, ufuncs, scalar_operands,
            big_ints, bool_and_numpy_ints, complex_scalar, other_float_types,
            subclasses_and_overrides, read_only, non_ndarray_base, out_keyword_and_np_calls,
            write_through_transpose, del_base_keep_view, ellipsis_and_none, huge_slice_bounds,
            bad_indices, powers, generator_and_recursion, in_place_reshape,
            views_made_natively, traced_scalars_written, rows_and_columns, saved_then_written,
            id_reuse, a_matrix_operand]


@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_same_with_and_without_fast_path(monkeypatch, fn):
    check(monkeypatch, fn)


@pytest.mark.parametrize("fn", [alias_shift, views_of_views, ufuncs, traced_scalars_written,
                                broadcasting, negative_strides], ids=lambda f: f.__name__)
def test_the_fast_path_is_taken(monkeypatch, fn):
    """(else the comparisons above compare the handlers with themselves)"""
    fast = _switch(monkeypatch)
    n = count_calls(monkeypatch, Recorder, "apply", "set_item")
    counts = []
    for on in (False, True):
        fast(on)
        n[0] = 0
        framead.trace(fn, X)
        counts.append(n[0])
    assert counts[1] <= counts[0] // 2, counts


# --- floating-point flags: modes, callbacks, warnings as errors --------------------------

def _raise_in_callback(kind, flag):
    raise ArithmeticError(f"callback: {kind}")


class _Log:
    def __init__(self):
        self.lines: list = []

    def write(self, m):
        self.lines.append(m)


_SEEN: list = []
_HELD: list = [None]


def _math_in_callback(kind, flag):
    _SEEN.append((kind, float(np.sum(_HELD[0] * 2.0))))  # array math on a traced array


def _with_errcall(callback, mode, body):
    old = np.seterrcall(callback)
    try:
        with np.errstate(all=mode):
            return body()
    finally:
        np.seterrcall(old)


def warnings_as_errors_binop(x):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = x / (x - x)
    return np.sum(y)


def warnings_as_errors_ufunc(x):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = np.log(x - 1.0)
    return np.sum(y)


def callback_raises(x):
    return np.sum(_with_errcall(_raise_in_callback, "call",
                                lambda: np.sqrt(x - 1.0) + x / (x - x)))


def mode_raise(x):
    return np.sum(_with_errcall(None, "raise", lambda: x ** 1e10))


def mode_raise_underflow(x):
    return np.sum(_with_errcall(None, "raise", lambda: np.exp(-x * 1000.0)))


def mode_warn_underflow(x):
    return np.sum(_with_errcall(None, "warn", lambda: np.exp(-x * 1000.0) + x * 1e-320))


def mode_ignore(x):
    y = _with_errcall(None, "ignore", lambda: x / (x - x) + np.log(x - x) + np.sqrt(-x))
    return np.sum(np.nan_to_num(y)) + np.sum(x * 2.0)


def mode_log(x):
    log = _Log()
    y = _with_errcall(log, "log", lambda: x / (x - x) + np.log(x - 1.0))
    return np.sum(np.nan_to_num(y)) + len(log.lines) * 1.0 + np.sum(x * x)


def callback_does_array_math(x):
    _HELD[0] = x
    _SEEN.clear()
    y = _with_errcall(_math_in_callback, "call", lambda: x / (x - x) + np.sqrt(-x))
    return np.sum(np.nan_to_num(y)) + np.sum(x * 3.0) + len(_SEEN) * 1.0


def showwarning_does_array_math(x):
    seen = []

    def show(message, category, filename, lineno, file=None, line=None):
        seen.append((str(message), lineno, float(np.sum(x * 2.0))))

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        y = x / (x - x) + np.sqrt(-x)
    return np.sum(np.nan_to_num(y)) + np.sum(x * 3.0) + len(seen) * 1.0


FLAG_PROGRAMS = [warnings_as_errors_binop, warnings_as_errors_ufunc, callback_raises,
                 mode_raise, mode_raise_underflow, mode_warn_underflow, mode_ignore, mode_log,
                 callback_does_array_math, showwarning_does_array_math]


@pytest.mark.parametrize("fn", FLAG_PROGRAMS, ids=lambda f: f.__name__)
def test_floating_point_flags_same_with_and_without_fast_path(monkeypatch, fn):
    check(monkeypatch, fn, fd=False)


# --- higher order, cached traces, threads ------------------------------------------------

def stencil_program(x):
    u = x * 1.0
    u[1:-1] = u[1:-1] + 0.25 * (u[2:] - 2.0 * u[1:-1] + u[:-2])
    v = np.sin(u) * u[::-1] + np.sqrt(u * u + 1.0)
    m = v[:, None] * v[None, :]
    return np.sum(m[1:, ::2] ** 2) / (1.0 + np.sum(np.exp(-u)))


def test_higher_order_same_with_and_without_fast_path(monkeypatch):
    fast = _switch(monkeypatch)
    f, w = stencil_program, np.linspace(-0.5, 0.7, N)
    res = {}
    for on in (False, True):
        fast(on)
        res[on] = [
            framead.hessian(f)(X),
            framead.grad(lambda z: np.sum(framead.grad(f)(z) ** 2))(X),
            framead.jvp(framead.grad(f), (X,), (w,))[1],
            framead.grad(lambda z: framead.jvp(f, (z,), (w,))[1])(X),
            framead.jacfwd(framead.grad(f))(X),
            framead.grad(lambda z: framead.vjp(f, z)[1](1.0)[0] @ w)(X),
            framead.grad(lambda z: np.sum(
                framead.grad(lambda q: np.sum(framead.grad(f)(q) * w))(z) ** 2))(X),
        ]
    for a, b in zip(res[False], res[True], strict=True):
        np.testing.assert_array_equal(b, a)
    h = res[True][0]
    np.testing.assert_allclose(h, h.T, atol=1e-12)
    np.testing.assert_allclose(res[True][4], h, atol=1e-12)
    fd = np.array([(framead.grad(f)(X + 1e-6 * e) - framead.grad(f)(X - 1e-6 * e)) / 2e-6
                   for e in np.eye(N)])
    np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-6)


def branchy(x):
    u = x * 1.0
    if u[0] > 0.5:
        u[1:] = u[:-1] * 2.0
    v = np.exp(u[::-1]) / (u + 2.0)
    return np.sum(v * v)


def test_cached_traces_same_with_and_without_fast_path(monkeypatch):
    fast = _switch(monkeypatch)
    xs = [X, X + 0.1, np.linspace(0.1, 1.4, N), X]
    res = {}
    for on in (False, True):
        fast(on)
        vg = framead.value_and_grad(branchy, cache=True)
        vg2 = framead.value_and_grad(stencil_program, cache=True)
        res[on] = ([vg(x) for x in xs] + [vg2(x) for x in xs], dict(vg.stats))
    assert res[True][1] == res[False][1] and res[True][1]["hits"] == 2
    for (v0, g0), (v1, g1) in zip(res[False][0], res[True][0], strict=True):
        assert v0 == v1
        np.testing.assert_array_equal(g1, g0)


def worker_does_math(x):
    out = []

    def work():
        out.append(x * 2.0 + np.sin(x) + x[1:3].sum())

    t = threading.Thread(target=work, name="worker")
    t.start()
    t.join()
    return np.sum(x * 3.0) + np.sum(out[0])


def worker_writes(x):
    u = x * 1.0

    def work():
        u[1:3] = 7.0
        u[0] = 1.0

    t = threading.Thread(target=work, name="worker")
    t.start()
    t.join()
    return np.sum(u * u)


@pytest.mark.parametrize("fn", [worker_does_math, worker_writes], ids=lambda f: f.__name__)
def test_worker_threads_same_with_and_without_fast_path(monkeypatch, fn):
    check(monkeypatch, fn, fd=False)


def long_loop(x):
    u = x * 1.0
    s = 0.0
    for _ in range(150):
        u[1:-1] = u[1:-1] + 0.1 * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        v = np.tanh(u[::-1][:, None])
        s = s + np.sum(v[1:, 0] * u[1:])
    return s


def test_concurrent_captures(monkeypatch):
    fast = _switch(monkeypatch)
    fast(False)
    ref = framead.grad(long_loop)(X)
    fast(True)
    out: list = [None] * 3
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        ts = [threading.Thread(target=lambda i=i: out.__setitem__(i, framead.grad(long_loop)(X)))
              for i in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    finally:
        sys.setswitchinterval(old)
    for g in out:
        np.testing.assert_array_equal(g, ref)


# --- memory --------------------------------------------------------------------------------

_REFS: list = []


def drops_views_and_results(x):
    u = x * 1.0
    s = 0.0
    for _ in range(50):
        v = u[1:-1][::2][:, None]
        w = np.exp(v * 0.001) - v / (u[0] + 2.0)
        _REFS.extend((weakref.ref(w), weakref.ref(v)))
        u[1:-1] = u[2:] * 0.5 + u[:-2] * 0.5
        u[0] = 0.5
        s = s + w[0, 0]
    return s + np.sum(u)


def test_dropped_views_and_results_are_freed(monkeypatch):
    fast = _switch(monkeypatch)
    alive = {}
    for on in (False, True):
        fast(on)
        _REFS.clear()
        t = framead.trace(drops_views_and_results, np.linspace(0.6, 1.4, 1000))
        gc.collect()
        alive[on] = [r() is not None for r in _REFS]
        assert t.graph.stats["bytes_kept"] > 0
        del t
    assert alive[True] == alive[False]
    assert sum(alive[True]) == 0


_C7 = np.ones(7)
_KEYS = (slice(1, 3), (0, 0), (slice(None), None))


def failing_operations(x):
    y = x * 1.0
    s = y[0] * 1.0
    for _ in range(20):
        for op in (lambda: y * _C7, lambda: _C7 - y, lambda: y[_KEYS[1], None, 0]):
            try:
                op()
            except (ValueError, IndexError):
                pass
        for v in (_C7, y):
            try:
                y[_KEYS[0]] = v
            except ValueError:
                pass
        y[_KEYS[2]]
    return np.sum(y) + s


def test_no_references_leak(monkeypatch):
    """Nothing the fast path touches (operands, keys, constants) keeps a reference once the
    trace is gone, also where the operation raised."""
    fast = _switch(monkeypatch)
    objs = (_C7, *_KEYS)
    for on in (False, True):
        fast(on)
        before = [sys.getrefcount(o) for o in objs]
        t = framead.trace(failing_operations, X)
        del t
        gc.collect()
        assert [sys.getrefcount(o) for o in objs] == before


# --- bugs found ----------------------------------------------------------------------------

def _run_python(tmp_path, source: str, *argv: str) -> subprocess.CompletedProcess:
    """Run ``source`` in a fresh interpreter (a crash must not take pytest down)."""
    path = tmp_path / "prog.py"
    path.write_text(textwrap.dedent(source))
    return subprocess.run([sys.executable, "-X", "faulthandler", str(path), *argv],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)


def fails_then_changes_large_constant(x):
    c = np.ones(200_000)  # large: watched by the operation that reads it, not copied
    try:
        x * c  # shapes (6,) and (200000,): ValueError
    except ValueError:
        pass
    c[0] = 5.0
    return np.sum(x * 2.0)


def test_failed_operation_watches_constants_as_the_handler(monkeypatch):
    fast = _switch(monkeypatch)
    out = {}
    for on in (False, True):
        fast(on)
        out[on] = _call(framead.trace, fails_then_changes_large_constant, X)[0]
        if not isinstance(out[on], tuple):
            out[on] = out[on].value
    assert type(out[True]) is type(out[False])
    assert out[True] == out[False]


_FAILED_REFS: list = []


def fails_with_traced_operand(x):
    y = np.ones(100_000) * x[0]
    _FAILED_REFS.append(weakref.ref(y))
    try:
        y * x  # ValueError
    except ValueError:
        pass
    c = np.ones(7)
    try:
        x * c  # ValueError
    except ValueError:
        pass
    del y
    return np.sum(x * 2.0)


def test_failed_operation_keeps_operands_as_the_handler(monkeypatch):
    fast = _switch(monkeypatch)
    out = {}
    for on in (False, True):
        fast(on)
        _FAILED_REFS.clear()
        t = framead.trace(fails_with_traced_operand, X)
        gc.collect()
        out[on] = (t.graph.stats, [r() is not None for r in _FAILED_REFS])
        del t
    assert out[True] == out[False]


_WATCHED: list = [None]


def _overwrite_constant(kind, flag):
    _WATCHED[0][1] = 7.0  # the floating-point callback writes into the divisor


def divide_by_constant_with_callback(x):
    c = np.array([0.0, 1.0, 1.0])
    _WATCHED[0] = c
    old = np.seterrcall(_overwrite_constant)
    try:
        with np.errstate(divide="call"):
            y = x / c  # x[0] / 0: the callback runs after the division
    finally:
        np.seterrcall(old)
    return np.sum(y[1:])


def test_constant_snapshot_taken_before_the_operation(monkeypatch):
    fast = _switch(monkeypatch)
    x = np.array([0.5, 1.0, 1.5])
    grads = {}
    for on in (False, True):
        fast(on)
        grads[on] = framead.grad(divide_by_constant_with_callback)(x)
    np.testing.assert_array_equal(grads[False], [0.0, 1.0, 1.0])  # d(x/1)/dx at the call
    np.testing.assert_array_equal(grads[True], grads[False])


def test_capture_started_in_an_errcall_callback(tmp_path):
    src = """
    import json, sys
    import numpy as np
    import framead
    from framead.capture import session

    KEEP = []

    def callback(kind, flag):  # an independent capture in the floating-point callback
        framead.trace(lambda z: np.sum(z * 3.0), np.ones(3))
        # (the outer capture's fast-record state was freed meanwhile: take its memory)
        KEEP.extend(tuple([kind] * n) for n in range(1, 21) for _ in range(4))

    def f(x):
        y = x * 1.0  # (the first operation of a file goes to the handler)
        old = np.seterrcall(callback)
        try:
            with np.errstate(all="call"):
                y = y / 0.0 + np.sqrt(-y)
        finally:
            np.seterrcall(old)
        return np.sum(np.nan_to_num(y)) + np.sum(x * 2.0)

    session.FAST_RECORD = sys.argv[1] == "1"
    try:
        out = repr(framead.trace(f, np.linspace(0.6, 1.4, 6)).value)
    except Exception as e:
        out = f"{type(e).__name__}: {e}"
    print(json.dumps(out))
    """
    out = []
    for on in ("0", "1"):
        r = _run_python(tmp_path, src, on)
        assert r.returncode == 0, r.stderr[-3000:]
        out.append(json.loads(r.stdout.strip().splitlines()[-1]))
    assert out[0] == "np.float64(12.0)"
    assert out[1] == out[0]


def test_first_fast_capture_imports_no_more_modules(tmp_path):
    src = """
    import json, sys
    import numpy as np
    import framead
    from framead.capture import session

    session.FAST_RECORD = sys.argv[1] == "1"
    before = set(sys.modules)
    framead.trace(lambda x: np.sum(x * 2.0), np.ones(3))
    print(json.dumps(sorted(set(sys.modules) - before)))
    """
    new = []
    for on in ("0", "1"):
        r = _run_python(tmp_path, src, on)
        assert r.returncode == 0, r.stderr[-3000:]
        new.append(json.loads(r.stdout.strip().splitlines()[-1]))
    assert new[1] == new[0]
