"""Truth tests of traced values (``if h:``, ``not h``, ``h or 1.0``, ``a and b``, ``while v:``,
``assert v``, conditional expressions, comprehension filters) are decisions a cached trace
guards: the rewriter turns the tested value into ``bool(v)`` through the call probe
(opcodes_common.Emitter.truth). Checked against native runs, central differences, uncached
framead; and the truth test itself stays native: __bool__/__len__ called once, the same
exceptions at the same source positions, the same profiler and line events (opcode events:
every probe adds some, as before)."""

from __future__ import annotations

import sys
import traceback

import numpy as np
import pytest
from conftest import fd_grad
from hypothesis import given, settings
from hypothesis import strategies as st

import framead


class _Obj:
    def __init__(self, v):
        self.v = v

    def __repr__(self):  # (a test id: the same in every process, as pytest-xdist needs)
        return f"{type(self).__name__}({self.v!r})"


class _B(_Obj):
    def __bool__(self):
        return bool(self.v)


class _L(_Obj):
    def __len__(self):
        return int(self.v > 0.0)


KINDS = {
    "float": lambda x: float(np.maximum(x[0], 0.0)),
    "float64": lambda x: np.maximum(x[0], 0.0),
    "array0": lambda x: np.maximum(x[:1], 0.0).reshape(()),
    "array1": lambda x: np.maximum(x[:1], 0.0),
    "user_bool": lambda x: _B(np.maximum(x[0], 0.0)),
    "user_len": lambda x: _L(np.maximum(x[0], 0.0)),
}


def _num(s):
    return s.v if isinstance(s, _Obj) else s


def _if(v, x):
    if v:
        return x[1] * x[1]
    return 2.0 * x[1]


def _if_not(v, x):
    if not v:
        return 3.0 * x[1]
    return x[1] ** 3


def _not(v, x):
    k = not v
    return x[1] * (1.0 + k)


def _or(v, x):
    s = v or 2.0
    return x[1] * _num(s)


def _and(v, x):
    s = v and 3.0
    return x[1] * (_num(s) + 1.0)


def _ifexp(v, x):
    return x[1] if v else 2.0 * x[1]


def _while(v, x):
    n, w = 0, v
    while w:
        n += 1
        w = n < 2 and w
    return x[1] * (n + 1)


def _assert(v, x):
    try:
        assert v
    except AssertionError:
        return 2.0 * x[1]
    return x[1] * x[1]


def _filter(v, x):
    return sum([x[1] for _ in range(2) if v]) + 0.5 * x[1]


FORMS = {f.__name__[1:]: f for f in (_if, _if_not, _not, _or, _and, _ifexp, _while, _assert,
                                      _filter)}


def program(kind: str, form: str):
    mk, test = KINDS[kind], FORMS[form]

    def f(x):
        return float(np.sum(test(mk(x), x)))

    return f


X0 = (-0.7, -0.2, 0.3, 0.9)  # h = max(x0, 0): zero (false) or not; fd steps stay on one side


@settings(max_examples=120, deadline=None)
@given(kind=st.sampled_from(sorted(KINDS)), form=st.sampled_from(sorted(FORMS)),
       r0=st.sampled_from(X0), c0=st.sampled_from(X0), x1=st.floats(0.5, 1.5))
def test_cached_truth_decisions_are_guarded(kind, form, r0, c0, x1):
    """Recorded at one point, called at another where the decision flips or not: the
    native value, the central-difference gradient and uncached framead's gradient."""
    f = program(kind, form)
    cached = framead.value_and_grad(f, cache=True)
    cached(np.array([r0, 1.0]))
    x = np.array([c0, x1])
    want = f(x.copy())
    value, g = cached(x.copy())
    assert value == pytest.approx(want, rel=1e-12, abs=1e-12), (kind, form, r0, c0)
    np.testing.assert_allclose(g, fd_grad(f, x.copy()), rtol=1e-6, atol=1e-6)
    v_fresh, g_fresh = framead.value_and_grad(f)(x.copy())
    assert v_fresh == value
    np.testing.assert_allclose(g, g_fresh, rtol=1e-12, atol=1e-12)


def test_the_reported_case():
    def f(x):
        h = np.maximum(x[0], 0.0)
        return float(x[1] if h else 2.0 * x[1])

    cached = framead.value_and_grad(f, cache=True)
    assert cached(np.array([0.0, 1.0]))[0] == 2.0
    value, g = cached(np.array([0.3, 1.0]))
    assert value == 1.0
    np.testing.assert_allclose(g, [0.0, 1.0])


# --------------------------------------------------------------------------- native semantics

class _Counting:
    calls = 0

    def __init__(self, answer):
        self.answer = answer

    def __bool__(self):
        type(self).calls += 1
        return self.answer


def _forms_on(o, x):
    n = 0
    if o:
        n += 1
    if not o:
        n += 2
    n += 4 * bool(o or 0)
    n += 8 * (not o)
    n += 16 * (1 if o else 0)
    return x * n


def _under_capture(fn, *args):
    out = []

    def f(x):
        out.append(fn(*args))
        return x * 2.0

    assert framead.grad(f)(1.0) == 2.0
    assert framead.value_and_grad(f, cache=True)(1.0)[1] == 2.0
    return out


@pytest.mark.parametrize("answer", [True, False])
def test_bool_is_called_once_per_truth_test(answer):
    _Counting.calls = 0
    want = _forms_on(_Counting(answer), 1.0)
    native_calls = _Counting.calls
    _Counting.calls = 0
    got = _under_capture(_forms_on, _Counting(answer), 1.0)
    assert got == [want, want]
    assert _Counting.calls == 2 * native_calls


class _Raises:
    def __bool__(self):
        raise KeyError("bool")


class _NotBool:
    def __bool__(self):
        return 1


class _NegLen:
    def __len__(self):
        return -1


def _test_if(v):
    if v:
        return 1
    return 0


def _test_or(v):
    return (
        v or 0)


def _test_not(v):
    return not v


def _test_while(v):
    while v:
        return 1
    return 0


@pytest.mark.parametrize("fn", [_test_if, _test_or, _test_not, _test_while])
@pytest.mark.parametrize("value", [np.array([1.0, 2.0]), _Raises(), _NotBool(), _NegLen()],
                         ids=["array2", "raises", "not_bool", "neg_len"])
def test_exceptions_and_their_positions_are_native(fn, value):
    def outcome(run):
        try:
            run()
        except Exception as e:  # noqa: BLE001 - the exception itself is compared
            frames = [fs for fs in traceback.extract_tb(e.__traceback__) if fs.name == fn.__name__]
            last = frames[-1]
            shown = traceback.format_list([last])
            return type(e), str(e), (last.lineno, last.colno, last.end_lineno, last.end_colno), \
                shown
        raise AssertionError("no exception")

    want = outcome(lambda: fn(value))
    got = []

    def f(x):
        got.append(outcome(lambda: fn(value)))
        return x * 2.0

    framead.grad(f)(1.0)
    framead.value_and_grad(f, cache=True)(1.0)
    assert got == [want, want]


def _profiled(v):
    events = []
    sys.setprofile(lambda frame, event, arg: events.append((event, getattr(arg, "__name__", ""))))
    try:
        r = _forms_on(v, 1.0)
    finally:
        sys.setprofile(None)
    return r, events


@pytest.mark.parametrize("value", [0.0, 2.5, np.float64(0.0), _B(1.0)], ids=repr)
def test_a_profiler_sees_the_native_events(value):
    want = _profiled(value)
    assert _under_capture(_profiled, value) == [want, want]


def _line_traced(v):
    events = []

    def tracer(frame, event, arg):
        if frame.f_code.co_name == "_forms_on":
            events.append((event, frame.f_lineno))
        return tracer

    sys.settrace(tracer)
    try:
        _forms_on(v, 1.0)
    finally:
        sys.settrace(None)
    return events


@pytest.mark.parametrize("value", [0.0, 2.5, _B(0.0)], ids=repr)
def test_a_tracer_sees_the_native_line_events(value):
    want = _line_traced(value)
    assert _under_capture(_line_traced, value) == [want, want]
