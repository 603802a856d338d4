"""Four capture gaps found by adversarial runs, each checked as a class:

* ``ufunc.outer(a, b)`` for every binary ufunc with a rule (it is ``ufunc(A, b)`` with ``A``
  ``a`` given ``b.ndim`` trailing axes): a fuzzer over ufuncs x operand kinds (scalars, 0-d,
  1-d, 2-d, lists) x keywords, against native values (bit for bit, dtype too) and central
  finite differences;
* ``a.dtype = ...`` / ``a.shape = ...`` / ``a.strides = ...`` on traced arrays
  (capture/values.py ``set_layout``): a float <-> complex reinterpretation is differentiated,
  any other dtype is FA104, never a reverse pass that raises;
* ``a.resize(...)`` of arrays framead tracks (capture/mutation.py ``Recorder.resize``):
  as natively (NumPy refuses arrays with weak references, and with refcheck arrays referenced
  elsewhere), the gradient through the kept values;
* ``Recorder.mutate`` honours a rule's refusal (FA101 with the reason, FA104 for the write).
"""

from __future__ import annotations

import dataclasses
import warnings
import weakref

import numpy as np
import pytest
from conftest import fd_grad
from framead.rules.refusals import refusal
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

import framead
from framead import rules

pytestmark = pytest.mark.filterwarnings(
    "ignore::framead.GradientWarning",
    "ignore:Setting the dtype:DeprecationWarning",  # NumPy 2.5
    "ignore:Setting the shape:DeprecationWarning",  # NumPy 2.5
    "ignore:Setting the strides:DeprecationWarning")  # NumPy 2.4


def _codes(f, *args):
    return [h.code for h in framead.trace(f, *args).hazards]


def _fd(f, x, rel=1e-4):
    """Central differences at two steps; None where they disagree (a kink nearby)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = fd_grad(f, (x.copy(),), step=1e-4), fd_grad(f, (x.copy(),), step=1e-6)
    scale = 1.0 + np.max(np.abs(a))
    return a if np.all(np.abs(a - b) <= rel * 10 * scale) else None


# ============================================================================================
# ufunc.outer
# ============================================================================================

BINARY = sorted({u for u in vars(np).values() if isinstance(u, np.ufunc) and u.nin == 2 and
                 u.nout == 1 and u.signature is None and rules.lookup(u) is not None and
                 not all(t.endswith("?") for t in u.types)}, key=lambda u: u.__name__)
KINDS = ["float", "0d", "1d", "2d", "list"]


def _operand(kind, v):
    """An operand of ``kind`` made from traced ``v`` (2-4 items)."""
    if kind == "float":
        return float(v[0])
    if kind == "0d":
        return v[0] * 1.0
    if kind == "1d":
        return v[:3] * 1.0
    if kind == "2d":
        return np.reshape(v[:4], (2, 2)) * 1.0
    return [float(v[0]), v[1] * 2.0]


def _outer_program(ufunc, ka, kb, kw):
    def f(x):
        a, b = _operand(ka, x[:4]), _operand(kb, x[4:8] + 0.5)
        kwargs = dict(kw)
        if "out" in kwargs:
            kwargs["out"] = np.zeros(np.shape(a) + np.shape(b))
        r = ufunc.outer(a, b, **kwargs)
        f.results.append((r, a, b))
        w = np.linspace(0.3, 1.2, np.size(r)).reshape(np.shape(r))
        return float(np.sum(np.real(r * w)))
    f.results = []
    return f


@settings(max_examples=160, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(BINARY), st.sampled_from(KINDS), st.sampled_from(KINDS),
       st.sampled_from([{}, {"dtype": np.float64}, {"out": True}, {"casting": "same_kind"}]),
       st.integers(0, 2**31 - 1))
def test_ufunc_outer_fuzz(ufunc, ka, kb, kw, seed):
    x = np.random.default_rng(seed).uniform(0.6, 1.6, 8)
    f = _outer_program(ufunc, ka, kb, kw)
    note(f"np.{ufunc.__name__}.outer({ka}, {kb}, {kw})")
    with np.errstate(all="ignore"):
        try:
            native = f(x.copy())
        except (TypeError, ValueError) as e:  # (integer-only ufuncs of floats)
            with pytest.raises(type(e)):
                framead.grad(f)(x.copy())
            return
        r, a, b = f.results[-1]
        same = ufunc(np.reshape(a, np.shape(a) + (1,) * np.ndim(b)), b, **(
            {"out": np.zeros(np.shape(r))} if "out" in kw else kw))
        assert np.array_equal(r, same, equal_nan=True) and np.result_type(r) == \
            np.result_type(same)
        codes = _codes(f, x.copy())
        val, g = framead.value_and_grad(f)(x.copy())
    got = f.results[-1][0]
    assert np.array_equal(got, r, equal_nan=True) and type(got) is type(r) and \
        np.result_type(got) == np.result_type(r)
    assert val == native or (np.isnan(val) and np.isnan(native))
    assert "FA101" not in codes, codes
    ref = _fd(f, x)
    assume(ref is not None and np.all(np.isfinite(ref)))
    np.testing.assert_allclose(g, ref, rtol=1e-4, atol=1e-6)


def test_ufunc_outer_pairwise_kernel():
    """helper-45's corpus program: a Gaussian kernel of pairwise differences."""
    def f(x):
        d = np.subtract.outer(x, x)
        k = np.exp(-np.multiply.outer(x, x) * d ** 2)
        return float(np.sum(k) + np.sum(np.add.outer(x, 2.0 * x)))

    x = np.array([0.3, 0.9, 1.4, 2.0])
    assert _codes(f, x) == []
    np.testing.assert_allclose(framead.grad(f)(x), fd_grad(f, (x,)), rtol=1e-6)


def test_ufunc_outer_refusals_are_reported_at_the_users_line():
    """A ufunc with no rule (a user's np.frompyfunc is an object ufunc: not here), keywords
    outer cannot take: FA101 with the reason, or NumPy's own error."""
    x = np.array([0.3, 0.9])
    from framead.rules import ufunc_outer_rules as uo

    assert uo.outer_refuses((np.divmod, x, x), {}) is not None  # two outputs
    assert uo.outer_refuses((np.add, x, x), {"axes": [0]}) is not None
    assert uo.outer_refuses((np.add, x, x), {}) is None

    def f(x):
        return float(np.sum(np.divmod.outer(x, x)[1]))

    with pytest.raises(framead.GradientHazard, match="divmod"):
        framead.grad(f, strict=True)(x)


def test_ufunc_outer_second_order():
    def f(x):
        return float(np.sum(np.multiply.outer(x, np.sin(x)) ** 2))

    def grad(v):  # analytic: f = sum(v**2) * sum(sin(v)**2)
        return 2 * v * np.sum(np.sin(v) ** 2) + np.sum(v ** 2) * np.sin(2 * v)

    x = np.array([0.3, 0.9, 1.2])
    np.testing.assert_allclose(framead.grad(f)(x), grad(x), rtol=1e-12)
    h = framead.hessian(f)(x)
    ref = np.array([fd_grad(lambda v, i=i: grad(v)[i], (x,)) for i in range(3)])
    np.testing.assert_allclose(h, ref, rtol=1e-5, atol=1e-7)


# ============================================================================================
# a.dtype = ..., a.shape = ..., a.strides = ...
# ============================================================================================

TARGETS = [np.float32, np.complex128, np.int64, np.float16, np.dtype("S8"), np.float64]
SHAPES = [(4,), (2, 4), (3, 2), (2, 2, 2)]


def _dtype_program(shape, target, saved):
    def f(x):
        y = np.reshape(x[:int(np.prod(shape))], shape) * 1.5
        s = np.sin(y) if saved else 0.0  # (its VJP reads y: y's memory in its old layout)
        y.dtype = target
        if y.dtype.kind == "c":
            out = np.sum(y.real * 2.0 - y.imag * 0.5) + np.sum(np.abs(y) ** 2)
        elif y.dtype.kind == "f":
            out = float(np.sum(np.nan_to_num(y.astype(np.float64), posinf=0.0, neginf=0.0)))
        else:
            y.dtype = np.float64  # back: the same values (constants from the first store)
            out = np.sum(y * y)
        return float(out + np.sum(s))
    return f


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(SHAPES), st.sampled_from(TARGETS), st.booleans(),
       st.integers(0, 2**31 - 1))
def test_dtype_assignment_fuzz(shape, target, saved, seed):
    x = np.random.default_rng(seed).uniform(0.5, 1.5, 8)
    f = _dtype_program(shape, target, saved)
    with np.errstate(all="ignore"):
        try:
            native = f(x.copy())
        except (ValueError, TypeError, AttributeError) as e:
            with pytest.raises(type(e)):
                framead.grad(f)(x.copy())
            return
        codes = _codes(f, x.copy())
        val, g = framead.value_and_grad(f)(x.copy())  # never an error native does not raise
    assert val == native or (np.isnan(val) and np.isnan(native))
    exact = np.dtype(target) in (np.dtype(np.complex128), np.dtype(np.float64))
    assert ("FA104" in codes) == (not exact), codes
    if not codes:
        np.testing.assert_allclose(g, fd_grad(f, (x.copy(),), step=1e-6), rtol=1e-5,
                                   atol=1e-8)


def test_dtype_complex_back_to_float_and_a_view_alive():
    def back(x):
        z = x[:4] * 1.0
        z.dtype = np.complex128
        z *= 1j + 0.5  # complex arithmetic on the pairs
        z.dtype = np.float64
        return float(np.sum(z * np.arange(1.0, 5.0)))

    x = np.array([0.3, 0.9, 0.5, 0.7])
    assert _codes(back, x) == []
    np.testing.assert_allclose(framead.grad(back)(x), fd_grad(back, (x,)), rtol=1e-6, atol=1e-9)

    def viewed(x):
        y = x * 1.0
        v = y[1:3]
        y.dtype = np.complex128  # a float view of the old layout is alive: not exact
        return float(np.sum(y.real) + np.sum(v))

    assert "FA104" in _codes(viewed, x)
    framead.grad(viewed)(x)


def _shape_program(saved_then_write):
    def f(x):
        y = x * 1.0
        z = np.sin(y)  # saves y
        v = y[1:]
        y.shape = (2, 2)
        if saved_then_write:
            y[1, 1] = 5.0  # seen by v (through the memory)
        return float(np.sum(z * np.arange(4.0)) + np.sum(y[0] * y[1]) + np.sum(v * v))
    return f


@pytest.mark.parametrize("write", [False, True])
def test_shape_assignment_with_a_saved_value_and_a_view(write):
    f = _shape_program(write)
    x = np.array([0.3, 0.7, 1.1, 1.9])
    assert _codes(f, x) == []
    np.testing.assert_allclose(framead.grad(f)(x), fd_grad(f, (x,)), rtol=1e-6)


def test_strides_assignment_is_a_gather():
    def f(x):
        y = x * 1.0
        y.shape = (2, 2)
        s = np.sin(y)
        y.strides = (8, 16)  # the transpose, in place
        y[0, 1] = y[0, 1] * 3.0
        return float(np.sum(y * np.array([[1.0, 2.0], [3.0, 4.0]])) + np.sum(s))

    x = np.array([0.3, 0.7, 1.1, 1.9])
    assert _codes(f, x) == []
    np.testing.assert_allclose(framead.grad(f)(x), fd_grad(f, (x,)), rtol=1e-6)


def test_layout_stores_of_plain_objects_untouched():
    class Box:
        pass

    def f(x):
        b = Box()
        b.shape, b.dtype, b.strides = x.shape, x.dtype, (8,)
        return float(np.sum(x * x)) + len(b.shape)

    x = np.array([0.3, 0.7])
    np.testing.assert_allclose(framead.grad(f)(x), 2 * x)


# ============================================================================================
# ndarray.resize
# ============================================================================================


def _grow_buffer(x):
    buf = np.zeros(1)
    n = 0
    for v in x:
        if n == buf.size:
            buf.resize(2 * buf.size)  # the legacy growable buffer
        buf[n] = v * v
        n += 1
    return float(np.sum(buf[:n] * np.arange(1.0, n + 1)))


def _shrink(x):
    y = np.exp(x)
    y.resize(2)
    return float(np.sum(y * y))


def _refcheck_false_2d(x):
    y = x * 2.0
    y.resize((3, 3), refcheck=False)
    y[2, 2] = x[0] ** 3
    return float(np.sum(np.sin(y)))


def _resize_args_2d(x):
    y = x.copy()
    y.resize(2, 2)
    return float(np.sum(y[0] * y[1]))


def _unbound(x):
    y = np.sin(x)
    np.ndarray.resize(y, 6)
    return float(np.sum(y ** 2))


def _saved_then_resized(x):
    y = x * 1.0
    z = np.sin(y)  # saves y
    y.resize(6)
    return float(np.sum(z) + np.sum(y * y))


def _same_size(x):
    y = x * 1.0
    v = y[1:]
    y.resize((2, 2))
    y[0, 0] = 3.0
    return float(np.sum(y ** 2) + np.sum(v))


RESIZES = [_grow_buffer, _shrink, _refcheck_false_2d, _resize_args_2d, _unbound,
           _saved_then_resized, _same_size]


@pytest.mark.parametrize("f", RESIZES, ids=lambda f: f.__name__)
def test_resize_as_natively_with_the_gradient(f):
    x = np.array([0.3, 0.9, 0.5, 0.7])
    native = f(x.copy())
    assert _codes(f, x) == []
    val, g = framead.value_and_grad(f)(x.copy())
    assert val == native
    np.testing.assert_allclose(g, fd_grad(f, (x,)), rtol=1e-6, atol=1e-9)


def _view_alive(x):
    y = x * 2.0
    v = y[1:]
    y.resize(6)
    return float(np.sum(v))


def _listed(x):
    y = x * 2.0
    keep = [y]
    y.resize(6)
    return float(np.sum(keep[0]))


def _weakly_held(x):
    y = x * 2.0
    r = weakref.ref(y)
    y.resize(6, refcheck=False)
    return float(np.sum(r()))


def _a_view(x):
    y = (x * 2.0)[1:]
    y.resize(6)
    return float(np.sum(y))


@pytest.mark.parametrize("f", [_view_alive, _listed, _weakly_held, _a_view],
                         ids=lambda f: f.__name__)
def test_resize_refused_as_natively(f):
    x = np.array([0.3, 0.9, 0.5, 0.7])
    with pytest.raises(ValueError) as native:
        f(x.copy())
    with pytest.raises(ValueError) as captured:
        framead.grad(f)(x.copy())
    assert str(captured.value) == str(native.value)


def test_resize_with_a_view_alive_and_refcheck_false_is_reported():
    def f(x):
        y = x * 2.0
        v = y[1:]
        y.resize(600, refcheck=False)  # natively: v reads freed memory
        del v
        return float(np.sum(y))

    assert "FA104" in _codes(f, np.array([0.3, 0.9]))


def test_resize_leaves_no_weak_references_and_replays():
    kept = []

    def f(x):
        y = x * 2.0
        y.resize(5)
        kept.append(y)
        return float(np.sum(y ** 2))

    x = np.array([0.3, 0.9])
    framead.grad(f)(x)
    assert weakref.getweakrefcount(kept[-1]) == 0
    c = framead.value_and_grad(f, cache=True)
    for pt in (x, np.array([1.5, -0.5])):
        val, g = c(pt)
        np.testing.assert_allclose(g, 8 * pt)
        assert val == f(pt.copy())


# ============================================================================================
# Recorder.mutate and refusals
# ============================================================================================


def test_a_refused_mutating_rule_runs_natively_reported():
    old = rules.lookup_method(np.ndarray, "partition")
    new = dataclasses.replace(old, refusal=refusal({"kind": "given"}, old.argnames, old.name))
    rules.register_method(np.ndarray, "partition", new, replace=True)

    def f(x):
        y = x * 1.0
        y.partition(1, kind="introselect")
        return float(np.sum(y[:2] ** 2) + np.sum(x))

    x = np.array([3.0, 1.0, 2.0])
    try:
        t = framead.trace(f, x)
        hz = [(h.code, h.loc.line) for h in t.hazards]
        line = f.__code__.co_firstlineno + 2
        assert ("FA101", line) in hz and ("FA104", line) in hz, hz
        assert "kind='introselect'" in t.hazards[0].message
        np.testing.assert_allclose(framead.grad(f)(x), np.ones(3))  # y is a constant after
        with pytest.raises(framead.GradientHazard, match="partition"):
            framead.grad(f, strict=True)(x)
        assert f(x.copy()) == 1.0 + 4.0 + 6.0
    finally:
        rules.register_method(np.ndarray, "partition", old, replace=True)
    np.testing.assert_allclose(framead.grad(f)(x), [1.0, 3.0, 5.0])


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_matrix_of_a_traced_vector_reshapes_it():
    """np.asmatrix of a traced 1-d array: np.matrix's __array_finalize__ gives it shape
    (1, n) (``self.shape = ...``; NumPy 2.5: ``self._set_shape(...)``, a C method recorded
    as the shape store: writers.set_shape_method)."""
    def f(x):
        m = np.asmatrix(x * 2.0)
        return float(np.sum(np.multiply(m, m)) + m[0, 1] * x[0])
    x = np.array([0.3, 0.5, 0.7])
    assert not framead.trace(f, x).hazards
    value, grad = framead.value_and_grad(f)(x)
    assert value == f(x.copy())
    np.testing.assert_allclose(grad, fd_grad(f, (x.copy(),)), rtol=1e-6)
