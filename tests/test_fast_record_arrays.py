"""The C fast path for float64 arrays (issue 16): capture/_evalframe.c records ``a <op> b``
of traced float64 arrays with each other or with a float, an int or an np.float64, views
``a[k]`` by basic indices, region writes ``a[k] = v`` and one-input ufunc calls itself. The
IR must be exactly what Recorder.apply records (Values, saves, kept primals, buffers),
results, warnings and exceptions as natively, and the arrays a program drops freed as
natively; anything else (in-place operators, constant or other-dtype arrays, 0-d arrays,
subclasses) goes to the handlers."""

from __future__ import annotations

import gc
import traceback
import tracemalloc
import warnings
import weakref

import numpy as np
import pytest
from conftest import load_source_module
from framead.capture import session
from framead.capture.recorder import Recorder
from hypothesis import given, settings
from hypothesis import strategies as st
from test_fast_record import assert_same, count_calls, record_both

import framead

N = 6


def _switch(monkeypatch):
    return lambda on: monkeypatch.setattr(session, "FAST_RECORD", on)


# --- a fuzzer over array programs -----------------------------------------------------------

_SCALARS = ["s", "t", "2", "0.5", "np.float64(1.25)", "3"]
_ARRAY_OPS = ["+", "-", "*", "/"]


@st.composite
def array_programs(draw):
    """Source of ``f(x)`` (x of shape (6,)): array expressions over traced arrays, their
    views (reversed, strided, sliced), traced and constant scalars, a constant array,
    float32 and 0-d arrays (the handlers), in-place operators and writes between them."""
    arrays = ["x", "a"]
    lines = ["a = x * 1.5", "s = x[0] * 1.0", "t = float(x[1])", "c = np.linspace(1, 2, 6)",
             "h = np.float32(2.0) * np.ones(6, np.float32)"]

    def operand():
        kind = draw(st.sampled_from(["array", "array", "view", "scalar", "const", "other"]))
        if kind == "array":
            return draw(st.sampled_from(arrays))
        if kind == "view":
            v = draw(st.sampled_from(arrays))
            w = draw(st.sampled_from(arrays))
            return draw(st.sampled_from([
                f"{v}[::-1]", f"np.concatenate([{v}[3:], {v}[:3]])",
                f"np.concatenate([{v}[:1], {v}[1:][::-1][:5][::-1]])",
                f"{v}.reshape(2, 3).T.ravel()", f"{v}.copy()", f"np.stack([{v}, {w}])[1]",
                f"np.stack([{v}, {w}])[:, ::2].ravel()", f"np.stack([{v}, {w}])[(0, slice(None))]",
                f"{v}.reshape(3, 2)[::-1, 1:].repeat(2)", f"({v}[:, None] * {w}[None, :])[2]",
                f"{v}[..., None][:, 0]", f"np.sqrt({v} * {w} + 2.0)", f"np.tanh({v})",
                f"np.exp(0.5 * {v})", f"np.sin({v}[::-1])",
                # reductions (C: np.sum and x.sum, no axis or an int one)
                f"np.sum({v}.reshape(2, 3), axis=0).repeat(2)",
                f"{v}.reshape(3, 2).sum(axis=-1).repeat(2)",
                f"np.sum({v}.reshape(2, 3), axis=1).repeat(3)", f"{v} * {w}.sum()",
                f"{v} + np.sum({w}, axis=0)", f"{v} - np.sum({w}[::-1])",
                f"np.mean({v}.reshape(2, 3), axis=0).repeat(2)", f"{v} * {w}.mean()"]))
        if kind == "scalar":
            return draw(st.sampled_from(_SCALARS))
        if kind == "const":
            return "c"
        return draw(st.sampled_from(["h", f"np.asarray({draw(st.sampled_from(arrays))}[2])"]))

    for k in range(draw(st.integers(1, 7))):
        what = draw(st.sampled_from(["binop", "binop", "binop", "pow", "inplace", "write",
                                     "slice_write", "view"]))
        target = draw(st.sampled_from(arrays))
        if what == "binop":
            op = draw(st.sampled_from(_ARRAY_OPS))
            a, b = draw(st.sampled_from(arrays)), operand()
            if draw(st.booleans()):
                a, b = b, a
            rhs = f"({a}) {op} (({b}) * ({b}) + 1.0)" if op == "/" else f"({a}) {op} ({b})"
            name = f"v{k}"
            lines.append(f"{name} = {rhs}")
            arrays.append(name)
        elif what == "pow":
            p = draw(st.sampled_from(["2", "0.5", "np.float64(1.5)", "s * 0.0 + 2.0"]))
            name = f"v{k}"
            lines.append(f"{name} = ({target} * {target} + 0.5) ** {p}")
            arrays.append(name)
        elif what == "view":  # a view kept: writes into its memory make its value stale
            name = f"v{k}"
            lines.append(f"{name} = {draw(st.sampled_from([f'{target}[::-1]', f'{target}[:]']))}")
            arrays.append(name)
        elif what == "inplace":
            op = draw(st.sampled_from(["+=", "-=", "*="]))
            lines.append(f"{target} {op} {operand()}")
        elif what == "write":
            i = draw(st.integers(-N, N - 1))
            lines.append(f"{target}[{i}] = s * {draw(st.sampled_from(arrays))}[{i}]")
        else:  # a region: an array expression, a view (maybe of the same memory), a scalar
            a, b = draw(st.sampled_from(arrays)), draw(st.sampled_from(arrays))
            lines.append(draw(st.sampled_from([
                f"{target}[1:-1] = {a}[2:] * 0.5 + {b}[:-2]", f"{target}[1:4] = {a}[::-1][1:4]",
                f"{target}[::2] = {draw(st.sampled_from(_SCALARS))}",
                f"{target}[(slice(1, None),)] = {a}[:-1]", f"{target}[2:] = c[2:]"])))
    w = "np.linspace(-1.0, 1.0, 6)"
    total = " + ".join(f"np.sum({v} * {w})" for v in arrays)
    body = "\n".join(f"    {ln}" for ln in lines)
    return f"import numpy as np\n\ndef f(x):\n{body}\n    return {total}\n"


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(src=array_programs())
def test_fuzz_array_programs_record_as_the_handlers(src, tmp_path_factory):
    mod, _ = load_source_module(src, tmp_path_factory.mktemp("fastarr"), "framead_fastarr")
    x = np.linspace(0.6, 1.4, N)
    w = np.linspace(-0.5, 0.7, N)
    old = session.FAST_RECORD
    try:
        session.FAST_RECORD = False
        slow = framead.trace(mod.f, x)
        g_slow = framead.grad(mod.f)(x)
        session.FAST_RECORD = True
        quick = framead.trace(mod.f, x)
        g_fast = framead.grad(mod.f)(x)
    finally:
        session.FAST_RECORD = old
    assert_same(slow, quick)
    assert [str(h) for h in quick.hazards] == [str(h) for h in slow.hazards]
    np.testing.assert_array_equal(g_fast, g_slow)
    nested = []  # Hessian-vector products: the program recorded inside an outer capture,
    for on in (False, True):  # which sets save_all while it records the inner one
        session.FAST_RECORD = on
        try:
            nested.append(framead.grad(lambda z: framead.jvp(mod.f, (z,), (w,))[1])(x))
            nested.append(framead.jvp(framead.grad(mod.f), (x,), (w,))[1])
        finally:
            session.FAST_RECORD = old
    np.testing.assert_array_equal(nested[2], nested[0])
    np.testing.assert_array_equal(nested[3], nested[1])
    native = mod.f(x.copy())  # (a program may write into its argument)
    np.testing.assert_equal([quick.value, slow.value], [native, native])
    if not (np.isfinite(native) and abs(native) < 1e8 and np.all(np.isfinite(g_fast))):
        return  # (an overflow or a nan: the same on both paths, no derivative to check)
    np.testing.assert_allclose(nested[2], nested[3], rtol=1e-7, atol=1e-9)
    fd, fd4 = (np.array([(mod.f(x + h * e) - mod.f(x - h * e)) / (2 * h) for e in np.eye(N)])
               for h in (1e-6, 4e-6))
    scale = 1e-8 * max(1.0, abs(float(native)))
    if np.allclose(fd, fd4, rtol=1e-3, atol=1e-5 + scale):  # (else not smooth at x)
        np.testing.assert_allclose(g_fast, fd, rtol=1e-4, atol=1e-6 + scale)


# --- the fast path is taken, and only where it may be ---------------------------------------

def stencil(u0, steps=20):
    u = u0.copy()
    for _ in range(steps):
        u[1:-1] = u[1:-1] + 0.25 * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u[0] = 0.0
    return np.sum(u ** 2)


def products(x):
    y = x * x  # both operands traced: both saved
    z = y / (x + 2.0)  # saves the divisor and the result
    w = np.float64(0.5) * z - x[0] * y  # a traced np.float64 operand
    return np.sum(w * w)


@pytest.mark.parametrize("fn", [stencil, products], ids=lambda f: f.__name__)
def test_same_ir_and_gradient(monkeypatch, fn):
    fast = _switch(monkeypatch)
    x = np.linspace(0.2, 1.3, 12)
    slow, quick = record_both(fast, fn, x)
    assert_same(slow, quick)
    fast(True)
    g = framead.grad(fn)(x)
    eps = 1e-6
    fd = np.array([(fn(x + eps * e) - fn(x - eps * e)) / (2 * eps) for e in np.eye(len(x))])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_array_binops_skip_the_handler(monkeypatch):
    fast = _switch(monkeypatch)
    n = count_calls(monkeypatch, Recorder, "apply")
    x = np.linspace(0.2, 1.3, 12)

    def f(x):
        y = x + x
        y = y * 2.0 - 1
        y = np.sqrt(y * y + 1.0)
        z = y[1:][:, None]
        z[1:3] = 0.5 * z[2:4]
        return z / np.float64(3.0)

    fast(False)
    framead.trace(f, x)
    slow = n[0]
    n[0] = 0
    fast(True)
    framead.trace(f, x)
    assert slow >= 10 and n[0] == 0


def test_in_place_operators_stay_in_place(monkeypatch):
    fast = _switch(monkeypatch)
    fast(True)

    def f(x):
        y = x * 1.0
        alias = y
        y += x  # must write into y (an alias sees it), not rebind a new array
        y *= 2.0
        return np.sum(alias)

    x = np.linspace(0.2, 1.3, 5)
    assert framead.trace(f, x).value == f(x)
    np.testing.assert_allclose(framead.grad(f)(x), np.full(5, 4.0))


def _run(fn, x):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            out = fn(x)
        except FloatingPointError as e:
            out = e
    return out, [(type(m.message), str(m.message), m.filename, m.lineno) for m in w]


def divide_arrays(x):
    return x / (x - x) + (x - 1.0) ** 0.5 + np.sqrt(x - 0.75) + np.log(x - x)


@pytest.mark.parametrize("mode", ["warn", "raise", "ignore", "call"])
def test_floating_point_flags_as_natively(monkeypatch, mode):
    fast = _switch(monkeypatch)
    x = np.array([1.0, 0.5])
    seen: list = []
    old = np.seterrcall(lambda kind, flag: seen.append(kind))
    try:
        with np.errstate(all=mode):
            native = _run(divide_arrays, x)
            n_native = len(seen)
            results = []
            for on in (True, False):
                fast(on)
                seen.clear()
                results.append((_run(lambda v: framead.trace(divide_arrays, v).value, x),
                                len(seen)))
    finally:
        np.seterrcall(old)
    for (out, warned), n_called in results:
        assert warned == native[1]
        assert n_called == n_native
        if isinstance(native[0], Exception):
            assert type(out) is type(native[0]) and str(out) == str(native[0])
        else:
            np.testing.assert_equal(out, native[0])


def test_dropped_intermediates_are_freed(monkeypatch):
    """Weak primals: the arrays a loop drops are freed (NumPy reuses their memory)."""
    fast = _switch(monkeypatch)
    fast(True)
    x = np.ones(1 << 17)  # 1 MiB
    refs = []

    def f(x):
        s = 0.0
        for _ in range(40):
            y = x + 1.0  # add saves nothing: y is dropped at the next iteration
            refs.append(weakref.ref(y))
            s = s + y[0]
        return s

    gc.collect()
    tracemalloc.start()
    try:
        framead.trace(f, x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak
    assert sum(r() is not None for r in refs) == 0


def test_a_subclass_operand_goes_to_its_operator(monkeypatch):
    fast = _switch(monkeypatch)
    m = np.asmatrix(np.array([[1.0, 2.0], [3.0, 4.0]]))

    def f(x):
        a = np.asmatrix(x.reshape(2, 2))
        return float(np.sum(a * m))  # np.matrix's * is a product

    x = np.array([0.5, 1.0, 1.5, 2.0])
    slow, quick = record_both(fast, f, x)
    assert_same(slow, quick)
    fast(True)
    g = framead.grad(f)(x)
    eps = 1e-6
    fd = np.array([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(4)])
    np.testing.assert_allclose(g, fd, rtol=1e-6)


def test_constant_operands_are_kept_as_the_handlers_keep_them(monkeypatch):
    """A constant array a rule reads: a snapshot when small, watched when large (a later write
    into it is an error naming the line that read it), with the fast path as without."""
    fast = _switch(monkeypatch)

    def small(x):
        c = np.linspace(1.0, 2.0, 5)
        y = x * c  # c saved: snapshot
        c[0] = 7.0
        return np.sum(y * c)

    def large(x):
        c = np.ones(200_000)  # 1.6 MB: watched, not copied
        y = x[0] * c
        c[0] = 5.0
        return np.sum(y)

    x = np.linspace(0.5, 1.5, 5)
    slow, quick = record_both(fast, small, x)
    assert_same(slow, quick)
    fast(True)
    np.testing.assert_allclose(framead.grad(small)(x),
                               np.linspace(1.0, 2.0, 5) * np.array([7.0, 1.25, 1.5, 1.75, 2.0]))
    messages = []
    for on in (True, False):
        fast(on)
        with pytest.raises(RuntimeError, match="modified later") as info:
            framead.grad(large)(x)
        messages.append(str(info.value))
    line = large.__code__.co_firstlineno + 2  # y = x[0] * c
    assert messages[0] == messages[1] and f"test_fast_record_arrays.py:{line} " in messages[0]


def reductions(x):
    m = x.reshape(2, 3) * 1.0
    a = np.sum(m, axis=0) + m.sum(axis=1).repeat(2)[:3] + np.sum(m, axis=-2)
    b = np.sum(m) * m.sum() + np.sum(x, axis=0) + x[::2].sum(axis=0)  # (a view: handlers)
    c = np.mean(m, axis=0) * m.mean(axis=-1).mean() + np.mean(m) + m.mean()
    return np.sum(a * a) + b + np.sum(c)


def test_reductions_record_as_the_handlers_in_c(monkeypatch):
    """``np.sum(x)``, ``np.sum(x, axis=k)``, ``x.sum()`` and ``x.sum(axis=k)`` of a traced
    float64 array, and the same of ``mean``, are recorded by C, as the handlers record them
    (the axis kept in the node's keyword arguments), and differentiated as before."""
    from framead.capture.recorder import Recorder  # noqa: PLC0415

    fast = _switch(monkeypatch)
    x = np.linspace(0.3, 1.7, 6)
    slow, quick = record_both(fast, reductions, x)
    assert_same(slow, quick)
    sums = [n for n in quick.graph.nodes if n.rule.name == "np.sum"]
    assert {tuple(n.kwargs.items()) for n in sums} >= {(), (("axis", 0),), (("axis", 1),),
                                                       (("axis", -2),)}
    applied = []
    orig = Recorder.apply
    monkeypatch.setattr(Recorder, "apply", lambda self, rule, *a, **k: (
        applied.append(rule.name), orig(self, rule, *a, **k))[1])
    framead.trace(reductions, x)
    assert applied.count("np.sum") <= 1, applied  # (the strided view's, derived first)
    assert "np.mean" not in applied, applied
    g = framead.grad(reductions)(x)
    fd = np.array([(reductions(x + 1e-6 * e) - reductions(x - 1e-6 * e)) / 2e-6
                   for e in np.eye(6)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("call", ["np.sum(m, axis=2)", "m.sum(axis=-3)", "np.sum(m, axis=True)",
                                  "m.sum(axis=1.0)"])
def test_reduction_errors_and_odd_axes_as_natively(monkeypatch, call, tmp_path_factory):
    """An axis out of range raises NumPy's own error from the user's line; a bool or float
    axis goes to the handlers (what NumPy does with it is its business), as natively."""
    src = f"import numpy as np\n\ndef f(x):\n    m = x.reshape(2, 3) * 1.0\n" \
          f"    return float(np.sum({call}))\n"
    mod, _ = load_source_module(src, tmp_path_factory.mktemp("red"), "framead_red")
    x = np.linspace(0.3, 1.7, 6)
    def frames(e):  # (the user's and NumPy's frames, as natively)
        return [(f.filename, f.lineno, f.name) for f in traceback.extract_tb(e.__traceback__)
                if "/framead/" not in f.filename and f.filename != __file__]

    try:
        want = mod.f(x)
    except Exception as e:  # noqa: BLE001 - compared below
        want = e
    for on in (True, False):
        _switch(monkeypatch)(on)
        if isinstance(want, Exception):
            with pytest.raises(type(want)) as info:
                framead.trace(mod.f, x)
            assert str(info.value) == str(want)
            assert frames(info.value) == frames(want)
        else:
            assert framead.trace(mod.f, x).value == want


def inplace_updates(x):
    """In-place operators on an owner and on one-level views (rows, tails, strided), by
    traced arrays (broadcast too), traced scalars and constants; ``*=`` by a traced value
    (its rule keeps a's old value: a copy-on-write, the handlers), a view of a view and a
    write while a saved value lives in the buffer (the handlers)."""
    m = np.outer(x, x[:3]) * 1.0  # (4, 3)
    acc = np.zeros_like(m)
    for i in range(3):
        d = m[i + 1:] - m[i]
        acc[i] += np.sum(d * d, axis=0)
        acc[i + 1:] -= d * 0.5
    acc *= 2.0
    acc[::2] /= 3
    acc[1] += x[0]
    acc -= np.float64(0.25)
    acc[2] *= x[1]              # (a traced factor: the handlers)
    acc[1:][0] += 1.5           # (a view of a view: the handlers)
    y = m * m                   # (y's rule keeps m: a later write into m copies it first)
    m[0] += acc[0]
    return np.sum(acc * acc) + np.sum(y) + np.sum(m)


def test_inplace_updates_record_as_the_handlers_in_c(monkeypatch):
    """``a op= b`` into a traced float64 array that owns its memory or is a view of the one
    that does is recorded by C as Mutations.mutate records it (the operator's node, then for
    a view the view_update node into the owner's next value); what needs a copy-on-write or
    a view of a view goes to the handlers. Gradient against finite differences."""
    from framead.capture.mutation import Mutations  # noqa: PLC0415

    fast = _switch(monkeypatch)
    x = np.linspace(0.3, 1.7, 4)
    slow, quick = record_both(fast, inplace_updates, x)
    assert_same(slow, quick)
    mutated = []
    orig = Mutations.mutate
    monkeypatch.setattr(Mutations, "mutate", lambda self, rule, *a, **k: (
        mutated.append(rule.name), orig(self, rule, *a, **k))[1])
    framead.trace(inplace_updates, x)
    # (the first write into acc, a constant until then; *= by a traced factor; the view of
    # a view; m[0] += with m's old value kept)
    assert len(mutated) <= 4, mutated
    g = framead.grad(inplace_updates)(x)
    fd = np.array([(inplace_updates(x + 1e-6 * e) - inplace_updates(x - 1e-6 * e)) / 2e-6
                   for e in np.eye(4)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-6)


def test_inplace_errors_as_natively(monkeypatch, tmp_path_factory):
    """Shapes that do not broadcast into the target raise NumPy's own error, as natively."""
    src = ("import numpy as np\n\ndef f(x):\n    m = np.outer(x, x) * 1.0\n"
           "    m[0] += m[:2]\n    return float(np.sum(m))\n")
    mod, _ = load_source_module(src, tmp_path_factory.mktemp("inpl"), "framead_inpl")
    x = np.linspace(0.3, 1.7, 4)
    with pytest.raises(ValueError) as native:
        mod.f(x)
    for on in (True, False):
        _switch(monkeypatch)(on)
        with pytest.raises(ValueError) as info:
            framead.trace(mod.f, x)
        assert str(info.value) == str(native.value)
