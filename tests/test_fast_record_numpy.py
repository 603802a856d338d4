"""The C fast path for NumPy scalars (issue 16): capture/_evalframe.c records a traced binop
with an np.float64 operand (the other a float, an int or an np.float64) and ``a[i]`` of a
traced 1-d float64 array itself. The IR must be exactly what the handlers (Recorder.apply,
get_item) record, and results, warnings, exceptions and gradients as natively; anything the
C path does not reproduce exactly (a floating-point flag NumPy would report, a stale view, a
reshaped array, other types) goes to the handlers."""

from __future__ import annotations

import math
import traceback
import warnings

import numpy as np
import pytest
from conftest import load_source_module
from framead.capture import session
from framead.capture.handlers import ProbeHandlers
from framead.capture.recorder import Recorder
from hypothesis import given, settings
from hypothesis import strategies as st
from test_fast_record import assert_same, count_calls, record_both
from test_scalar_tape_fused import programs

import framead


def _switch(monkeypatch):
    """fast(on): the C fast path on or off (test_fast_record's ``fast`` fixture)."""
    return lambda on: monkeypatch.setattr(session, "FAST_RECORD", on)


def _handler_calls(monkeypatch):
    """Count the handlers' recordings of general operations and writes (Recorder.apply,
    Recorder.set_item)."""
    return count_calls(monkeypatch, Recorder, "apply", "set_item")


# --- programs ------------------------------------------------------------------------------

def rosen(x):
    terms = np.zeros(len(x) - 1)
    for i in range(len(x) - 1):
        terms[i] = 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return np.sum(terms)


def mixed(x):
    a = x[0] * 2.0 + 3 * x[1] - x[-1] / 4
    b = np.float64(1.5) * a + a ** 2 - 2 ** x[2]
    c = a * b / (x[1] + 2.0)
    c += x[0]
    c *= 2
    c -= 1.5
    c /= np.float64(3.0)
    d = x[0] // 1.0 + x[1] % 1.0  # cut rules: the handler
    return c + d + (x[0] - x[0]) * 0.0


def views_and_writes(x):
    m = np.stack([x, 2.0 * x])  # (2, n)
    col = m[:, 1]  # a view
    s = col[0] * col[1]
    row = m[1]
    s = s + row[2]
    m[1, 2] = s  # a write: row's and col's values are derived again
    s = s + row[2] * col[1] + m[1][2]
    y = x.copy()
    y[0] = 5.0
    return s + y[0] * y[1] + y[-1]


def writes(x):
    y = x.copy()
    y[0] = x[1] * 2.0  # a traced value into a traced array
    y[-1] = 5.0  # a constant
    p = y * y  # saves y's current value: the next write copies it first (the handler)
    y[1] = y[0] + p[2]
    col = np.stack([y, y])[:, 1]  # a view: writes into it go to the handler
    col[0] = y[2] * 3.0
    z = np.zeros(len(x))  # untraced: its first traced write makes it a buffer (the handler)
    z[0] = y[1]
    z[1] = z[0] * x[2]
    return float(np.sum(p)) + y[1] * col[0] + z[1] + y[-1]


def reshaped(x):  # (NumPy 2.5 deprecates setting .shape: filtered in the tests)
    y = x.copy()
    s = y[0] * 2.0
    y.shape = (1, len(x))  # no probe sees it: the handler records the reshape
    y.shape = (len(x),)
    return s + y[1] * 3.0


def other_types(x):
    f32 = np.float32(x[0]) * 2.0  # float32: the handlers
    i = x[0] * (2 ** 60 + 1) * 1e-18  # an int NumPy converts inexactly: the handlers
    t = x[1] * True  # a bool: the handlers
    return float(f32) + i + t + x[2] * np.int64(3)


PROGRAMS = [(rosen, 6), (mixed, 4), (views_and_writes, 4), (writes, 4), (reshaped, 3),
            (other_types, 3)]


@pytest.mark.filterwarnings("ignore:Setting the shape:DeprecationWarning")
@pytest.mark.parametrize("fn,n", PROGRAMS, ids=lambda v: getattr(v, "__name__", ""))
def test_same_ir_as_the_handlers(monkeypatch, fn, n):
    fast = _switch(monkeypatch)
    x = np.linspace(0.3, 1.7, n)
    slow, quick = record_both(fast, fn, x)
    assert_same(slow, quick)


@pytest.mark.filterwarnings("ignore:Setting the shape:DeprecationWarning")
@pytest.mark.parametrize("fn,n", PROGRAMS, ids=lambda v: getattr(v, "__name__", ""))
def test_gradients_match_finite_differences(monkeypatch, fn, n):
    fast = _switch(monkeypatch)
    fast(True)
    x = np.linspace(0.3, 1.7, n)
    g = framead.grad(fn)(x)
    eps = 1e-3 if fn is other_types else 1e-6  # (float32 rounding in other_types)
    fd = np.array([(fn(x + eps * e) - fn(x - eps * e)) / (2 * eps) for e in np.eye(n)])
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6)


def test_fast_path_is_taken(monkeypatch):
    fast = _switch(monkeypatch)
    n = _handler_calls(monkeypatch)
    x = np.linspace(0.5, 1.5, 40)
    fast(False)
    framead.trace(rosen, x)
    slow = n[0]
    n[0] = 0
    fast(True)
    framead.trace(rosen, x)
    # 39 iterations of 3 getitems, 7 binops and a setitem; np.zeros, np.sum and the first
    # write into the untraced array remain
    assert slow >= 39 * 11 and n[0] <= 5


def _warned(fn, x):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            out = framead.trace(fn, x).value
        except Exception as e:  # noqa: BLE001 - compared below
            out = e
    return out, [(type(m.message), str(m.message), m.filename, m.lineno) for m in w]


def overflow(x):
    return x[0] * 1e308 * 10.0


def divide(x):
    return x[0] / 0.0 + x[1] / 0


def invalid(x):
    return (x[0] - 2.0) ** 0.5


def underflow(x):
    return x[0] * 1e-300 * 1e-300


@pytest.mark.parametrize("fn", [overflow, divide, invalid, underflow],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", ["warn", "raise", "ignore"])
def test_floating_point_flags_as_natively(monkeypatch, fn, mode):
    fast = _switch(monkeypatch)
    x = np.array([1.0, 2.0])
    with np.errstate(all=mode):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            try:
                native = fn(x)
            except FloatingPointError as e:
                native = e
        native_w = [(type(m.message), str(m.message), m.filename, m.lineno) for m in w]
        fast(True)
        out, got_w = _warned(fn, x)
        fast(False)
        out_slow, slow_w = _warned(fn, x)
    assert got_w == native_w == slow_w
    if isinstance(native, Exception):
        assert type(out) is type(native) and str(out) == str(native)
        tb = traceback.extract_tb(out.__traceback__)
        assert tb[-1].name == fn.__name__
    else:
        np.testing.assert_equal(out, native)


def test_index_errors_as_natively(monkeypatch):
    fast = _switch(monkeypatch)
    def f(x):
        return x[5] * 2.0

    fast(True)
    with pytest.raises(IndexError) as info:
        framead.trace(f, np.ones(3))
    with pytest.raises(IndexError) as native:
        f(np.ones(3))
    assert str(info.value) == str(native.value)
    assert traceback.extract_tb(info.value.__traceback__)[-1].name == "f"


# --- a fuzzer over expressions of NumPy scalars, floats, ints and array items -------------

_OPS = ["+", "-", "*", "/", "**", "math", "neg", "cmp"]
_MATH = ["math.sin({a})", "math.cos({a})", "math.exp(0.5 * math.tanh({a}))", "math.tanh({a})",
         "math.sqrt(({a}) * ({a}) + 1.0)", "math.log(({a}) * ({a}) + 1.0)",
         "math.atan({a})", "math.log(({a}) * ({a}) + 1.0, 2.0)", "math.floor({a})"]


@st.composite
def expressions(draw, depth=0):
    """Source text of an expression over ``x[i]``, ``y`` (np.float64), ``z`` (float),
    constants of every kind and math functions; smooth almost everywhere (no division by
    zero, no power of 0; floor's steps are not met by finite differences' small steps)."""
    if depth >= 3 or draw(st.booleans()):
        leaf = draw(st.sampled_from(["x[0]", "x[1]", "x[-1]", "y", "z", "2", "0.5",
                                     "np.float64(1.25)", "3"]))
        return leaf
    op = draw(st.sampled_from(_OPS))
    a = draw(expressions(depth + 1))
    if op == "math":  # one-argument calls are recorded in C; log(x, base), floor: handlers
        return draw(st.sampled_from(_MATH)).format(a=a)
    if op == "neg":
        return f"-({a})" if draw(st.booleans()) else f"+({a})"
    if op == "cmp":  # compared in C once the first comparison is noted
        b = draw(expressions(depth + 1))
        rel = draw(st.sampled_from([">", "<", ">=", "<=", "==", "!="]))
        return f"(({a}) if ({a}) {rel} ({b}) else 0.5 * ({b}))"
    if op == "**":
        p = draw(st.sampled_from(['2', '0.5', '1.5', 'np.float64(2.0)']))
        return f"(({a}) * ({a}) + 0.25) ** {p}"
    b = draw(expressions(depth + 1))
    if op == "/":
        return f"({a}) / (({b}) * ({b}) + 1.0)"
    return f"({a}) {op} ({b})"


@pytest.mark.filterwarnings("ignore::framead.api.GradientWarning")
@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(expressions())
def test_fuzz_fast_and_handlers_agree(expr):
    src = f"def f(x):\n    y = x[1] * 1.0\n    z = float(x[0])\n    return {expr}\n"
    ns: dict = {"np": np, "math": math}
    exec(compile(src, "<fuzz>", "exec"), ns)  # noqa: S102 - the fuzzer's program
    f = ns["f"]
    x = np.array([0.7, 1.3, 0.9])
    old = session.FAST_RECORD
    try:
        session.FAST_RECORD = False
        slow = framead.trace(f, x)
        g_slow = framead.grad(f)(x) if slow.graph.nodes else None
        session.FAST_RECORD = True
        quick = framead.trace(f, x)
        g_fast = framead.grad(f)(x) if quick.graph.nodes else None
    finally:
        session.FAST_RECORD = old
    assert str(quick.graph) == str(slow.graph)
    assert_same(slow, quick)
    assert [str(h) for h in quick.hazards] == [str(h) for h in slow.hazards]
    if g_fast is not None:
        np.testing.assert_array_equal(g_fast, g_slow)
        # central differences at two step sizes: where they disagree, a branch (a comparison)
        # or a floor lies within a step of x and differences say nothing about the derivative
        fd, fd4 = (np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(3)])
                   for h in (1e-6, 4e-6))
        rounding = 1e-9 * abs(float(f(x)))  # (central differences of a large value)
        if np.allclose(fd, fd4, rtol=1e-3, atol=1e-5 + rounding):
            np.testing.assert_allclose(g_fast, fd, rtol=1e-4, atol=1e-6 + rounding)


@settings(max_examples=120, deadline=None, derandomize=True, database=None)
@given(src=programs())
def test_fuzz_element_programs_record_as_the_handlers(src, tmp_path_factory):
    """Element reads and writes among whole-array operations (test_scalar_tape_fused's
    programs): the same IR with the fast path on and off."""
    mod, _ = load_source_module(src, tmp_path_factory.mktemp("fastnp"), "framead_fastnp")
    x = np.linspace(0.6, 1.4, 5)
    old = session.FAST_RECORD
    try:
        session.FAST_RECORD = False
        slow = framead.trace(mod.f, x)
        session.FAST_RECORD = True
        quick = framead.trace(mod.f, x)
    finally:
        session.FAST_RECORD = old
    assert_same(slow, quick)


def math_calls(x):
    a = math.sin(x[0]) + math.exp(np.float64(0.5) * x[1])  # a float and an np.float64
    b = math.sqrt(a * a + 1.0) * math.tanh(x[2])
    c = math.log(b + 2.0, 2.0) + math.floor(a) + math.hypot(a, b)  # two arguments, cut: handlers
    return a * b + c + math.lgamma(x[1] + 1.0)


def test_math_calls_record_as_the_handlers(monkeypatch):
    fast = _switch(monkeypatch)
    x = np.array([0.3, 0.8, 1.1])
    slow, quick = record_both(fast, math_calls, x)
    assert_same(slow, quick)
    n = _handler_calls(monkeypatch)
    fast(True)
    framead.trace(math_calls, x)
    assert n[0] == 3  # log with a base, floor (cut), hypot (two arguments)


@pytest.mark.parametrize("arg,exc", [(-1.0, ValueError), (1000.0, OverflowError)])
def test_math_errors_as_natively(monkeypatch, arg, exc):
    fast = _switch(monkeypatch)
    fast(True)

    def f(x):
        y = x * 1.0
        return math.sqrt(y) if exc is ValueError else math.exp(y)

    with pytest.raises(exc) as info:
        framead.trace(f, arg)
    with pytest.raises(exc) as native:
        f(arg)
    assert str(info.value) == str(native.value)
    assert traceback.extract_tb(info.value.__traceback__)[-1].name == "f"


def test_a_rule_registered_during_the_capture_is_used():
    """The C tables are the rules registered when the capture started: a registration
    during the capture sends the calls it may change to the handlers, which use it."""
    from framead.rules import registry  # noqa: PLC0415 - math.sin's rule swapped, restored

    def f(x):
        a = math.sin(x)
        registry.register(math.sin, vjp=(lambda g, ans, x: g * 100.0,), saves={0: ()},
                          replace=True)
        return a + math.sin(x)  # the new rule: d/dx = cos(x) + 100

    saved = registry._BY_ID[id(math.sin)]
    try:
        g = framead.grad(f)(0.5)
    finally:
        registry._BY_ID[id(math.sin)] = saved
        registry._GENERATION[0] += 1
    assert g == pytest.approx(math.cos(0.5) + 100.0)
    assert framead.grad(math.sin)(0.5) == pytest.approx(math.cos(0.5))  # restored


def only_compared(x):
    s = 0.0
    for i in range(len(x)):
        if x[i] > 0.5:  # the first comparison is noted by the handler, the rest made in C
            s = s + 1.0
    return s


def test_comparisons_after_the_first_are_made_in_c(monkeypatch):
    fast = _switch(monkeypatch)
    x = np.linspace(0.0, 1.0, 9)
    slow, quick = record_both(fast, only_compared, x)
    assert_same(slow, quick)
    assert [str(h) for h in quick.hazards] == [str(h) for h in slow.hazards]
    assert [h.code for h in quick.hazards] == ["FA102"]  # only through comparisons
    n = count_calls(monkeypatch, ProbeHandlers, "compare")
    framead.trace(only_compared, x)
    assert n[0] == 1
