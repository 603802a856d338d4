"""User objects handed to a call framead records, converted by the callee in C through a
protocol (``__array__``, ``__array_interface__``, ``__float__``, ``__complex__``): the
conversion runs under capture as the callee would run it (the same protocol calls, the same
exceptions and warnings, the same result), or a hazard is reported at the user's line.

The C trampoline sends a call with a rule to the recorder when an argument is traced at its
top level, or is an object of the program's with a Python conversion protocol holding a
traced value (capture/_evalframe.c ``protocol_traced``); ``routed`` flags the consumer
ALWAYS for the other cases (a protocol reading traced values through globals)."""

from __future__ import annotations

import cmath
import contextlib
import math
import warnings

import numpy as np
import pytest
from conftest import fd_grad, line_of
from framead.capture import _evalframe as C
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framead


class Counted:
    """Counts its protocol calls (per instance); ``fail`` makes the protocol raise."""

    def __init__(self, data, scale: float = 2.0, fail: bool = False) -> None:
        self.data, self.scale, self.fail, self.calls = data, scale, fail, []

    def _called(self, *how) -> None:
        self.calls.append(how)
        if self.fail:
            raise ValueError("protocol refused")


class ArrayObj(Counted):
    def __array__(self, dtype=None, copy=None):
        self._called(dtype, copy)
        return self.data * self.scale


class FloatObj(Counted):
    def __float__(self):
        self._called()
        return self.data * self.scale


class ComplexObj(Counted):
    def __complex__(self):
        self._called()
        return complex(self.data * self.scale, 0.5)


class InterfaceObj(Counted):
    """Exports the memory of an array computed from the data (no reference to it kept)."""

    def __init__(self, data, scale: float = 2.0, fail: bool = False) -> None:
        super().__init__(None, scale, fail)
        self._keep = np.tanh(data) * scale
        self.__array_interface__ = self._keep.__array_interface__


W = np.array([0.3, -1.2, 0.7])


# consumer name -> (protocols it takes, f(obj, v, other) -> scalar); ``other``: another term
# of the same call stays traced
def _c_dot(o, v, other):
    return np.dot(o, v if other else W)  # call: dot


def _c_sum(o, v, other):
    return np.sum(o) + (np.sum(v) if other else 0.0)  # call: sum


def _c_add(o, v, other):
    return np.sum(np.add(o, v if other else W) ** 2)  # call: add


def _c_asarray(o, v, other):
    return np.sum(np.asarray(o) * (v if other else W))  # call: asarray


def _c_array(o, v, other):
    return np.sum(np.array(o) * (v if other else W))  # call: array


def _c_sqrt(o, v, other):
    return math.sqrt(o) + (v[1] if other else 0.0)  # call: sqrt


def _c_hypot(o, v, other):
    return math.hypot(o, v[1] if other else 0.4)  # call: hypot


def _c_float(o, v, other):
    return float(o) * (v[1] if other else 0.4)  # call: float


def _c_cexp(o, v, other):
    return cmath.exp(o).real + (v[1] if other else 0.0)  # call: cexp


def _c_float64(o, v, other):
    return float(np.float64(o)) * (v[1] if other else 0.4)  # call: float64


CONSUMERS = {"dot": (np.dot, _c_dot), "sum": (np.add.reduce, _c_sum),
             "add": (np.add, _c_add), "asarray": (np.asarray, _c_asarray),
             "array": (np.array, _c_array), "sqrt": (math.sqrt, _c_sqrt),
             "hypot": (math.hypot, _c_hypot), "float": (float, _c_float),
             "cexp": (cmath.exp, _c_cexp), "float64": (np.float64, _c_float64)}
ARRAY_CONSUMERS = ("dot", "sum", "add", "asarray", "array")
PROTOCOLS = {"__array__": ArrayObj, "__array_interface__": InterfaceObj,
             "__float__": FloatObj, "__complex__": ComplexObj}


def _program(proto: str, consumer: str, traced: bool, other: bool, fail: bool):
    """f(v) -> (scalar, the protocol object): the object built from v (``traced``) or from
    constants, handed to the consumer."""
    cls, (_, use) = PROTOCOLS[proto], CONSUMERS[consumer]
    array = proto in ("__array__", "__array_interface__")

    def f(v):
        src = v if traced else np.array([0.5, 0.25, 1.5])
        data = src * 1.0 if array else float(src[0]) * 1.0 + 0.5
        o = cls(data, fail=fail)
        return use(o, v, other) + float(np.sum(v * v)), o
    return f


@contextlib.contextmanager
def routed(fn):
    """The consumer sent to the recorder whatever its arguments (what the C change does)."""
    framead.trace(np.sum, np.ones(2))  # (the C flag table built first: it keeps the flag)
    old = C.get_callable_flags(fn)
    C.set_callable_flags(fn, old | C.ALWAYS)
    try:
        yield
    finally:
        C.set_callable_flags(fn, old)


def _run(f, x):
    """(value or exception, protocol calls, warnings)."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            y, o = f(x)
            out = ("ok", y)
        except Exception as e:  # noqa: BLE001
            return ("raised", type(e), str(e)), None, [str(m.message) for m in w]
    return out, o.calls, [str(m.message) for m in w]


def _captured(f, x):
    """Like _run, under framead.trace (the first output): plus its hazards and gradient."""
    seen: list = []

    def g(v):
        y, o = f(v)
        seen.append(o)
        return y
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            t = framead.trace(g, x)
        except Exception as e:  # noqa: BLE001
            return ("raised", type(e), str(e)), None, None, None
    msgs = [str(m.message) for m in w if "framead" not in str(m.message) and
            not str(m.message).startswith("FA")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grad = framead.grad(g)(x)
    return ("ok", t.value if hasattr(t, "value") else None), seen[0].calls, t.hazards, \
        (grad, msgs)


def _check(proto, consumer, traced, other, fail, x):
    fn = CONSUMERS[consumer][0]
    f = _program(proto, consumer, traced, other, fail)
    native, n_calls, n_warn = _run(f, x)
    with routed(fn):
        cap, c_calls, hz, extra = _captured(f, x)
    if native[0] == "raised":
        assert cap == native, (cap, native)  # the same exception
        return
    assert cap[0] == "ok", cap
    assert c_calls == n_calls, (c_calls, n_calls)  # the same protocol calls
    grad, c_warn = extra
    assert c_warn == [m for m in n_warn], (c_warn, n_warn)
    line = line_of(f"call: {consumer}", __file__)
    if hz:
        assert all(h.loc.file == __file__ and h.loc.line == line for h in hz), hz
        assert traced or other, hz  # nothing traced inside: nothing reported
        return
    ref = fd_grad(lambda v: f(v)[0], (x.copy(),))
    np.testing.assert_allclose(grad, ref, rtol=1e-6, atol=1e-6)


_FIT = [(p, c) for p in PROTOCOLS for c in CONSUMERS
        if (c in ARRAY_CONSUMERS) == (p in ("__array__", "__array_interface__"))]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(_FIT), st.booleans(), st.booleans(), st.booleans(),
       st.lists(st.floats(0.2, 1.5), min_size=3, max_size=3))
def test_protocol_fuzz(pc, traced, other, fail, xs):
    """protocol x consumer x traced object x other term traced x raising protocol: the
    central-difference gradient or a hazard at the call's line; protocol calls, exceptions
    and warnings as native."""
    _check(*pc, traced, other, fail, np.array(xs))


@pytest.mark.parametrize("pc", _FIT, ids=[f"{p}-{c}" for p, c in _FIT])
@pytest.mark.parametrize("other", [False, True], ids=["alone", "other"])
def test_each_pair(pc, other):
    _check(*pc, True, other, False, np.array([0.4, 0.9, 1.3]))


def _hazard_or_right(f, x) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hz = framead.trace(lambda v: f(v)[0], x).hazards
        grad = framead.grad(lambda v: f(v)[0])(x)
    if not hz:
        np.testing.assert_allclose(grad, fd_grad(lambda v: f(v)[0], (x.copy(),)), rtol=1e-6)


@pytest.mark.parametrize("pc", [("__array__", "add"), ("__array__", "dot"),
                                ("__float__", "hypot"), ("__array__", "sum")])
def test_unrouted_other_traced(pc):
    """np.add(obj, v), np.dot(obj, v), math.hypot(obj, y): v/y traced, so dispatched today;
    np.sum(obj) reaches ufunc.reduce through NumPy's Python code."""
    _hazard_or_right(_program(*pc, True, pc[1] != "sum", False), np.array([0.4, 0.9, 1.3]))


@pytest.mark.parametrize("pc", [("__array__", "dot"), ("__float__", "sqrt"),
                                ("__float__", "float")])
def test_unrouted_alone(pc):
    """float(obj) comes to dispatch (an OWN_DUNDER callable); np.dot(obj, const) and
    math.sqrt(obj) with no other argument traced are routed by protocol_traced (they ran
    natively: the gradient through obj silently lost)."""
    _hazard_or_right(_program(*pc, True, False, False), np.array([0.4, 0.9, 1.3]))


class Overrides:
    """An array-like whose ufuncs NumPy hands to its Python __array_ufunc__."""

    def __init__(self, a):
        self.a = a

    def __array_ufunc__(self, ufunc, method, *inputs, **kw):
        inputs = [x.a if isinstance(x, Overrides) else x for x in inputs]
        return getattr(ufunc, method)(*inputs, **kw)


def test_array_ufunc_override_untouched():
    """np.multiply(override, v), v traced: NumPy hands it to the override's __array_ufunc__,
    which runs instrumented (its self.a, traced, is recorded), not as np.multiply's rule with
    the override a constant (tests/test_array_overrides.py: the other forms)."""
    def f(v):
        return np.sum(np.multiply(Overrides(v * 3.0), v))
    x = np.array([0.3, 0.8, -0.4])
    with routed(np.multiply):
        np.testing.assert_allclose(framead.grad(f)(x), 6.0 * x)


class Returns(Counted):
    """__float__ / __array__ returning whatever it was given (``data``)."""

    def __float__(self):
        self._called()
        return self.data

    def __array__(self, dtype=None, copy=None):
        self._called(dtype, copy)
        return self.data


def _same_as_native(f, x, fn):
    """The same value or exception, protocol calls and warnings as native; the returned
    captured result and hazards."""
    native, n_calls, n_warn = _run(f, x)
    with routed(fn):
        cap, c_calls, hz, extra = _captured(f, x)
    if native[0] == "raised":
        assert cap == native
        return None
    assert c_calls == n_calls and extra[1] == n_warn, (c_calls, n_calls, extra, n_warn)
    return extra[0], hz


@pytest.mark.parametrize("call", [
    lambda o, v: np.add(o),  # (a wrong count: NumPy raises before converting)
    lambda o, v: np.add(o, v, bogus=1),
    lambda o, v: np.add(o, v, dtype="zz"),
    lambda o, v: np.add(o, v[:2])], ids=["count", "keyword", "dtype", "shapes"])
def test_ufunc_errors_as_native(call):
    def f(v):
        o = Returns(v * 2.0)
        return call(o, v), o
    _same_as_native(f, np.array([0.4, 0.9, 1.3]), np.add)


@pytest.mark.parametrize("ret", ["float64", "str", "int", "list"])
def test_float_results_as_native(ret):
    """__float__ returning a float subclass (np.float64: CPython's DeprecationWarning, the
    gradient kept through float()'s rule), or a non-float (CPython's TypeError)."""
    def f(v):
        t = float(v[0]) * 3.0
        r = {"float64": np.float64(t), "str": "x", "int": 3, "list": [t]}[ret]
        o = Returns(r)
        return math.sqrt(o) + float(v[1]), o
    x = np.array([0.4, 0.9, 1.3])
    out = _same_as_native(f, x, math.sqrt)
    if out is not None:
        grad, hz = out
        assert not hz
        np.testing.assert_allclose(grad, fd_grad(lambda v: f(v)[0], (x.copy(),)), rtol=1e-6)
