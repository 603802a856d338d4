"""Core capture: recorder, buffers/views/copy-on-write, IR printing, generated reverse pass.

Every gradient is checked against central differences (or an analytic derivative).
"""

from __future__ import annotations

import functools
import math
import operator

import numpy as np
import pytest

import framead


def fd(f, x, eps=1e-6):
    """Central differences of scalar f at float or array x."""
    if isinstance(x, float):
        return (f(x + eps) - f(x - eps)) / (2 * eps)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


def check(f, x, rtol=1e-6, atol=1e-8):
    g = framead.grad(f)(x)
    np.testing.assert_allclose(g, fd(f, x), rtol=rtol, atol=atol)
    return g


def test_polynomial_scalar_analytic():
    def f(x):
        return 3.0 * x ** 3 - 2.0 * x + 1.0

    assert framead.grad(f)(2.0) == pytest.approx(9 * 4.0 - 2.0, rel=1e-12)
    assert isinstance(framead.grad(f)(2.0), float)


def test_value_and_grad_value_bit_identical():
    def f(x):
        s = 0.0
        for i in range(10):
            s += math.sin(x * i) / (1.0 + i)
        return s

    v, g = framead.value_and_grad(f)(0.7)
    assert v == f(0.7)
    assert g == pytest.approx(fd(f, 0.7), rel=1e-7)


def test_argnums_tuple():
    def f(a, b, c):
        return a * b + np.sum(c * a)

    a, b, c = 1.5, -2.0, np.array([1.0, 2.0, 3.0])
    ga, gb, gc = framead.grad(f, argnums=(0, 1, 2))(a, b, c)
    assert ga == pytest.approx(b + c.sum())
    assert gb == pytest.approx(a)
    np.testing.assert_allclose(gc, [a, a, a])


def heat(u0, steps=20, c=0.2):
    u = u0.copy()
    for _ in range(steps):
        u[1:-1] = u[1:-1] + c * (u[2:] - 2 * u[1:-1] + u[:-2])
    return np.sum(u ** 2)


def test_linear_stencil_copies_nothing():
    u0 = np.sin(np.linspace(0, 3, 30))
    check(heat, u0)
    t = framead.trace(heat, u0)
    assert t.stats["bytes_copied"] == 0


def test_nonlinear_stencil_copies_only_saved_part():
    def f(u0):
        u = u0.copy()
        for _ in range(5):
            u[1:-1] = u[1:-1] + 0.1 * u[1:-1] ** 2
        return np.sum(u)

    u0 = np.linspace(0.1, 0.5, 12)
    check(f, u0)
    t = framead.trace(f, u0)
    assert t.stats["bytes_copied"] == 5 * 10 * 8  # each step saves u[1:-1] for the square


def test_view_made_before_buffer_traced():
    def f(x):
        a = np.zeros(6)
        inner = a[1:5]
        tail = a[3:]
        a[:] = x
        inner *= 2.0
        return np.sum(tail ** 2) + inner[0]

    check(f, np.arange(1.0, 7.0))


def test_writes_through_reshape_and_transpose_views():
    def f(x):
        a = np.zeros(12)
        b = a.reshape(3, 4)
        b[1, :] = x[:4]
        b.T[0] += x[4:7]
        return np.sum(a * np.arange(12.0)) + np.sum(b ** 2)

    check(f, np.linspace(-1, 1, 7))


def test_function_mutating_its_input_and_caller_array_untouched():
    def f(x):
        x[0] = x[0] * x[1]
        x *= 2.0
        x[1:] += x[:-1]
        return np.sum(x ** 2)

    x = np.array([1.0, 2.0, 3.0])
    before = x.copy()
    check(f, x)
    np.testing.assert_array_equal(x, before)


def test_out_argument():
    def f(x):
        y = np.empty_like(x)
        np.multiply(x, x, out=y)
        np.add(y, x, out=y)
        return np.sum(y)

    check(f, np.array([0.5, -1.0, 2.0]))


def test_iteration_and_unpacking_of_arrays():
    def f(x):
        s = 0.0
        for row in x.reshape(2, 3):
            a, b, c = row
            s += a * b - c
        return s

    check(f, np.arange(1.0, 7.0))


def test_sum_of_generator_and_fsum():
    def f(x):
        return sum(math.exp(x * k) for k in range(4)) + math.fsum([x, x * x])

    check(f, 0.3)


def test_map_reduce_with_c_functions():
    def f(x):
        vals = list(map(math.sin, [x, 2 * x, 3 * x]))
        return functools.reduce(operator.mul, vals) + functools.reduce(lambda a, b: a + b, vals)

    check(f, 0.4)


def test_np_array_of_traced_floats():
    def f(x):
        v = np.array([x, x * x, [1.0, x][1]])
        return float(np.dot(v, v))

    check(f, 1.3)


def test_trace_prints_ops_and_source_lines():
    def f(x):
        y = np.sin(x) * 2.0
        return np.sum(y)

    t = framead.trace(f, np.ones(3))
    text = str(t)
    assert "y = np.sin(x) * 2.0" in text
    assert "test_capture_core.py:" in text
    src = t.backward_source()
    assert "test_capture_core.py:" in src and "def backward_chunk_0" in src


def test_non_scalar_output_error_names_origin():
    def f(x):
        return np.sin(x)

    with pytest.raises(framead.NonScalarOutputError, match=r"scalar.*shape \(3,\)"):
        framead.grad(f)(np.ones(3))


def test_integer_input_error():
    with pytest.raises(framead.InputTypeError, match="integer"):
        framead.grad(lambda x: x * 2.0)(3)


def test_unknown_c_function_is_reported():
    import struct

    def f(x):
        return struct.unpack("d", struct.pack("d", x))[0] + x

    t = framead.trace(f, 2.0)
    assert any(h.code == "FA105" and "pack" in h.op for h in t.hazards)
    assert t.hazards[0].loc.line > 0


def test_frames_called_from_numpy_are_captured():
    def along_axis(x):
        rows = np.apply_along_axis(lambda r: np.sum(r ** 2) * r[0], 1, x.reshape(2, 3))
        return float(np.sum(rows))

    def vectorized(x):
        return float(np.sum(np.vectorize(lambda v: math.sin(v) * v)(x)))

    x = np.linspace(0.1, 0.9, 6)
    for f in (along_axis, vectorized):
        check(f, x)
        assert not framead.coverage(f, x).entries


def test_callback_returning_traced_value_into_c_is_reported():
    pytest.importorskip("scipy.integrate")
    from scipy.integrate import _quadpack  # QUADPACK itself: a C function without a rule

    def qagse(fn):
        return _quadpack._qagse(fn, 0.0, 1.0, (), 0, 1.49e-8, 1.49e-8, 50)[0]

    def f(x):  # traced work in the callback
        return qagse(lambda t: math.sin(t * x)) * x

    def g(x):  # a traced value returned as it is
        return qagse(lambda t: x) * x

    for fn in (f, g):
        report = framead.coverage(fn, 0.7)
        assert [e.code for e in report.entries] == ["FA101"]
        assert "_qagse" in report.entries[0].op


def test_callbacks_given_to_c_keep_their_identity():
    """Nothing traced reaches them: C receives the very function objects (weakref, pickle,
    identity), and a callback's caller frame is the user's, as natively."""
    import pickle
    import sys
    import weakref

    seen = []

    def key(v):
        seen.append(sys._getframe(1).f_code.co_name)
        return v

    def f(x):
        wr = weakref.ref(check)
        assert wr() is check and pickle.loads(pickle.dumps(check)) is check
        assert (check,).index(check) == 0
        sorted([3.0, 1.0], key=key)
        return x * 2.0

    assert framead.grad(f)(1.0) == 2.0
    assert seen == ["f", "f"]


def test_sort_keys_and_max_key_are_not_hazards():
    def g(x):
        xs = [x, 2 * x, 0.5 * x]
        xs.sort(key=lambda v: -v)
        return xs[0] * 3 + max(xs, key=lambda v: v * v)

    assert not framead.coverage(g, 0.7).entries
    assert framead.grad(g)(0.7) == pytest.approx(6 + 2)


def test_nested_capture_treats_outer_values_as_constants():
    def inner(y):
        return math.sin(y) * y

    def f(x):
        g = framead.grad(inner)(0.3)  # a capture inside a capture
        return x * x * g + math.exp(x)

    expected = 2 * 0.7 * (math.cos(0.3) * 0.3 + math.sin(0.3)) + math.exp(0.7)
    assert framead.grad(f)(0.7) == pytest.approx(expected, rel=1e-12)


def test_attribute_writes_flat_real_imag():
    def f(x):
        w = np.zeros(5)
        w.flat = x[0] * x
        z = np.zeros(5, dtype=complex)
        z.real = x ** 2
        z.imag = np.sin(x)
        z.imag[1:3] *= 3.0
        return float(np.sum(w * w) + np.sum(np.abs(z) ** 2))

    check(f, np.linspace(0.2, 0.8, 5))

    class Plain:
        pass

    def h(x):
        o = Plain()
        o.flat = x * 2  # an ordinary attribute on a non-array: untouched semantics
        o.real = 3.0
        return o.flat * o.real

    assert framead.grad(h)(0.5) == 6.0


def test_recording_is_released_after_grad():
    import gc
    import tracemalloc

    tracemalloc.start()
    try:
        g = framead.grad(heat)(np.random.default_rng(0).random(20_000), 50)
        del g
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # the recording itself is ~80 MiB here; caches (rewritten code, locations, the reverse
    # pass source in linecache) stay
    assert held < 16 * 2**20, f"{held / 2**20:.1f} MiB still held after grad returned"


def test_frames_at_the_end_of_a_stack_chunk_are_still_instrumented():
    """The instrumented copy needs a few more stack slots; a frame that lands at the end of a
    data-stack chunk is re-run on a fresh chunk instead of running uninstrumented."""
    from framead.capture import _evalframe as C

    def chain(x, n):
        return x if n == 0 else chain(x + 0.002 * math.sin(x + 0.01 * n), n - 1)

    def pad(k, fn):
        return fn() if k == 0 else pad(k - 1, fn)

    def pad1(fn):  # one stack slot more than pad: with it every offset is reachable
        extra = fn
        return extra()

    expected = framead.grad(lambda x: chain(x, 300))(0.5)
    before = C.stats()["recalled"]
    for k in range(0, 40):  # shift the stack so some frame meets a chunk boundary
        for shifted in (False, True):
            run = lambda: framead.grad(lambda x: chain(x, 300))(0.5)  # noqa: E731
            assert pad(k, (lambda: pad1(run)) if shifted else run) == expected
        if k % 4 == 0:
            assert pad(k, lambda: framead.jvp(lambda x: chain(x, 300), (0.5,), (1.0,))[1]) \
                == pytest.approx(expected, rel=1e-12)
    assert C.stats()["recalled"] > before
    assert expected == pytest.approx(fd(lambda x: chain(x, 300), 0.5), rel=1e-6)


def test_classes_defined_during_a_capture_keep_their_class_cell():
    """__build_class__ runs the class body with the namespace as its locals: it must get
    the class body function itself, even while a traced value exists (zero-arg super())."""
    def f(x):
        class Base:
            def __init__(self, a):
                self.a = a

        class Child(Base):
            def __init__(self, a):
                super().__init__(a)

        return Child(x).a * 3.0

    assert framead.grad(f)(1.5) == 3.0


def test_base_slots_called_through_super_are_not_the_subclass_operator():
    """``super().__setitem__(k, v)`` in a dict subclass (enum's _EnumDict) is dict's slot:
    recording it as ``self[k] = v`` would run the subclass's method again, endlessly."""
    import enum

    class Scaled(float):
        def __mul__(self, o):
            return Scaled(super().__mul__(o) * 10.0)

    def f(x):
        class Color(enum.Enum):
            RED = 1
            GREEN = 2

        assert [c.value for c in Color] == [1, 2]
        s = Scaled(3.0) * 2.0  # a float subclass's super() slot, nothing traced
        return x * float(s)

    assert framead.grad(f)(1.0) == 60.0
