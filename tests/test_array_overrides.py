"""Objects that are no ndarray but take NumPy's calls over: a Python ``__array_ufunc__``
(ufuncs and their methods) or ``__array_function__`` (dispatched functions), returning
NotImplemented, or ``__array_ufunc__ = None``. Where NumPy hands a call to such an object,
the override's body runs instrumented (its arithmetic on traced values recorded), with the
native result, exceptions and number of override calls; the call is not recorded as the
ufunc's/function's rule with the object a constant (capture/recorder.py ``_overridden``,
capture/overrides.py ``override_in``). The gradient is checked against central differences.
"""

from __future__ import annotations

import contextlib
import re
import warnings

import numpy as np
import pytest
from conftest import fd_grad, line_of
from framead.capture import _evalframe as CE
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import framead

C = np.array([0.7, 1.1, 0.45])  # the constants standing in for untraced values


def _unwrap(x):
    if isinstance(x, Base):
        return x.a
    if type(x) in (list, tuple):
        return type(x)(_unwrap(y) for y in x)
    return x


class Base:
    """Holds ``a`` (traced or not); counts the override calls NumPy makes (``calls``)."""

    def __init__(self, a) -> None:
        self.a, self.calls = a, []


class UfuncOv(Base):
    def __array_ufunc__(self, ufunc, method, *inputs, **kw):
        self.calls.append(method)
        if "out" in kw:
            kw["out"] = _unwrap(kw["out"])
        r = getattr(ufunc, method)(*_unwrap(inputs), **kw)  # override: ufunc
        return r if r is None else r * 1.5 + self.a[0]  # (its own arithmetic, recorded)


class FunctionOv(Base):
    def __array_function__(self, func, types, args, kwargs):
        self.calls.append(func.__name__)
        r = func(*_unwrap(args), **kwargs)
        return r if r is None else r * 1.5 + self.a[0]


class BothOv(UfuncOv, FunctionOv):
    pass


class RefusingOv(Base):
    def __array_ufunc__(self, ufunc, method, *inputs, **kw):
        self.calls.append(method)
        return NotImplemented

    def __array_function__(self, func, types, args, kwargs):
        self.calls.append(func.__name__)
        return NotImplemented


class NoUfuncs(Base):
    """NumPy refuses its ufuncs (TypeError); ndarray's operators leave ``x * obj`` to its
    own reflected method."""

    __array_ufunc__ = None

    def __mul__(self, other):
        self.calls.append("__mul__")
        return self.a * other * 2.0

    def __rmul__(self, other):
        self.calls.append("__rmul__")
        return other * self.a * 2.0


KINDS = {"ufunc": UfuncOv, "function": FunctionOv, "both": BothOv, "notimpl": RefusingOv,
         "none": NoUfuncs}
UNARY = [np.sin, np.exp, np.sqrt, np.negative, np.log1p]
BINARY = [np.multiply, np.add, np.subtract, np.divide, np.hypot, np.arctan2, np.maximum]
REDUCING = [np.add, np.multiply, np.maximum]  # (reduce has a rule; accumulate: add, multiply)
IDX = np.array([0, 2, 0])


# form -> f(o, w, u, first) -> array: o the override object, w the other operand, u a ufunc,
# first: o is the first operand
def _call(o, w, u, first):
    if u.nin == 1:
        return u(o)  # form: call
    return u(o, w) if first else u(w, o)  # form: call


def _reduce(o, w, u, first):
    return u.reduce(o)  # form: reduce


def _accumulate(o, w, u, first):
    return u.accumulate(o)  # form: accumulate


def _outer(o, w, u, first):
    return u.outer(o, w) if first else u.outer(w, o)  # form: outer


def _at(o, w, u, first):
    if first:
        u.at(o, IDX, w)  # form: at
        return o.a
    t = w * 1.0
    u.at(t, IDX, o)  # form: at
    return t


def _dot(o, w, u, first):
    return np.dot(o, w) if first else np.dot(w, o)  # form: dot


def _sum(o, w, u, first):
    return np.sum(o)  # form: sum


def _concatenate(o, w, u, first):
    return np.concatenate([o, w] if first else [w, o])  # form: concatenate


def _binop(o, w, u, first):
    return o * w if first else w * o  # form: binop


def _out(o, w, u, first):
    r = u(w, w, out=o) if u.nin == 2 else u(w, out=o)  # form: out
    return np.asarray(r) + o.a


def _copyto(o, w, u, first):
    t = w * 1.0
    np.copyto(t, o)  # form: copyto
    return t


def _clip_method(o, w, u, first):
    return w.clip(o, 2.0)  # form: clip_method


FORMS = {"binop": _binop, "out": _out, "copyto": _copyto, "clip_method": _clip_method,
         "call": _call, "reduce": _reduce, "accumulate": _accumulate, "outer": _outer,
         "at": _at, "dot": _dot, "sum": _sum, "concatenate": _concatenate}
# x.clip(obj, hi) reaches obj's __array_ufunc__ with NumPy's clip ufunc, which has no rule:
# FA101 at the override's line, the gradient through it lost (reported, so not checked)
LOST_IN_OVERRIDE = {"clip_method"}
# the callables routed (C flag ALWAYS: sent to the recorder whatever their arguments, as
# test_protocol_conversions.routed) when the fuzz asks
ROUTED = {"out": None, "copyto": np.copyto, "call": None, "dot": np.dot, "sum": np.sum,
          "concatenate": np.concatenate}


def _program(form, kind, u, first, obj_traced, other_traced):
    """f(v) -> scalar, and the list of the override objects it made."""
    use, cls = FORMS[form], KINDS[kind]
    made: list = []

    def f(v):
        o = cls((v if obj_traced else C) * 3.0)
        made.append(o)
        w = (v if other_traced else C) + 0.25
        r = use(o, w, u, first)
        return np.sum(np.asarray(r, dtype=float)) + np.sum(v * v)
    return f, made


def _outcome(run):
    """(("ok", value) or ("raised", type, message without addresses))."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return "ok", float(run())
        except Exception as e:  # noqa: BLE001
            return "raised", type(e), re.sub(r" at 0x[0-9a-f]+", "", str(e))


@contextlib.contextmanager
def routed(fn):
    """``fn`` sent to the recorder whatever its arguments (C flag ALWAYS), as
    test_protocol_conversions.routed; ``None``: nothing changed."""
    if fn is None:
        yield
        return
    framead.trace(np.sum, np.ones(2))  # (the C flag table built first: it keeps the flag)
    old = CE.get_callable_flags(fn)
    CE.set_callable_flags(fn, old | CE.ALWAYS)
    try:
        yield
    finally:
        CE.set_callable_flags(fn, old)


def check(form, kind, u, first, obj_traced, other_traced, x, route=False):
    f, made = _program(form, kind, u, first, obj_traced, other_traced)
    native = _outcome(lambda: f(x.copy()))
    n_calls = made.pop().calls
    traces: list = []
    fn = (ROUTED.get(form, None) or (u if form in ("call", "out") else None)) if route else None
    with routed(fn):
        cap = _outcome(lambda: traces.append(framead.trace(f, x.copy())) or traces[0].value)
        c_calls = made.pop().calls
        assert cap == native, (cap, native)  # the same value (bit for bit) or exception
        assert c_calls == n_calls, (c_calls, n_calls)  # the same override calls
        if native[0] == "raised":
            return
        hazards = traces[0].hazards
        if form in LOST_IN_OVERRIDE and hazards:
            assert {(h.code, h.loc.line) for h in hazards} == {
                ("FA101", line_of("override: ufunc", __file__))}, hazards
            return
        assert not hazards, (form, kind, hazards)  # (all recorded here)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            grad = framead.grad(f)(x.copy())
    ref = fd_grad(f, (x.copy(),))
    np.testing.assert_allclose(grad, ref, rtol=1e-5, atol=1e-6, err_msg=f"{form} {kind}")


_CASES = st.one_of(
    st.tuples(st.just("call"), st.sampled_from(UNARY), st.just(True)),
    st.tuples(st.sampled_from(("call", "outer", "at")), st.sampled_from(BINARY),
              st.booleans()),
    st.tuples(st.just("reduce"), st.sampled_from(REDUCING), st.just(True)),
    st.tuples(st.just("accumulate"), st.sampled_from(REDUCING[:2]), st.just(True)),
    st.tuples(st.sampled_from(("dot", "sum", "concatenate")), st.just(np.add),
              st.booleans()),
    st.tuples(st.just("out"), st.sampled_from(UNARY + BINARY), st.just(True)),
    st.tuples(st.sampled_from(("copyto", "clip_method")), st.just(np.add), st.just(False)),
    st.tuples(st.just("binop"), st.just(np.multiply), st.booleans()))


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(_CASES, st.sampled_from(sorted(KINDS)), st.booleans(), st.booleans(), st.booleans(),
       st.lists(st.floats(0.2, 1.5), min_size=3, max_size=3))
def test_override_fuzz(case, kind, obj_traced, other_traced, route, xs):
    """ufunc (unary/binary) x form (call, reduce, accumulate, outer, at; np.dot, np.sum,
    np.concatenate) x position x override kind x the object's / the other operand's values
    traced x the callable routed (sent to the recorder whatever its arguments): the native
    value or exception and override calls, the central-difference gradient."""
    form, u, first = case
    x = np.array(xs)
    cands = np.stack([3.0 * x, x + 0.25, 3.0 * C, C + 0.25])  # (operands, element by element)
    gaps = [np.abs(cands[i] - cands[j]).min() for i in range(4) for j in range(i)]
    gaps += [abs(x[i] - x[j]) for i in range(3) for j in range(i)]  # (and reductions)
    assume(min(gaps) > 0.02)  # (no ties: np.maximum's kinks)
    if form == "at" and (u in (np.hypot, np.arctan2) or (kind == "function" and not first)):
        # (hypot, arctan2: no ufunc.at loop; np.multiply.at(t, i, obj) of an object with
        # __array_function__ only: capture/writers.py ufunc_at asks np.size(obj) first, which
        # NumPy hands to obj: an extra override call and another TypeError than NumPy's, as
        # before this change. np.add.at is recorded as one linear write instead)
        u = np.add
    check(form, kind, u, first, obj_traced, other_traced, x, route)


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("kind", ["ufunc", "function", "both", "none"])
def test_each_form_dispatched(form, kind):
    """Every form with each overriding kind, both operands traced (the forms NumPy does not
    hand to the kind run as natively, a TypeError or ValueError mostly)."""
    u = np.sin if form == "call" else np.add if form == "at" else np.multiply
    for first in (True, False):
        for route in (False, True):
            check(form, kind, u, first, True, True, np.array([0.4, 0.9, 1.3]), route)


def test_override_records_its_own_arithmetic():
    """The override's body is recorded: its ``* 1.5 + self.a[0]`` and the traced self.a."""
    def f(v):
        o = UfuncOv(v * 3.0)
        return np.sum(np.multiply(o, v))  # call: multiply
    x = np.array([0.3, 0.8, -0.4])
    t = framead.trace(f, x)
    assert not t.hazards
    lines = {n.loc.line for n in t.graph.nodes}
    assert line_of("(its own arithmetic, recorded)", __file__) in lines
    np.testing.assert_allclose(framead.grad(f)(x), 9.0 * x + 3.0 * len(x) * np.eye(3)[0])


class Hidden(Base):
    """An override that computes in a C call framead cannot see into (a copy made through
    bytes): the gradient is lost, reported at the override's line."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kw):
        a = np.frombuffer(self.a.tobytes())  # call: hidden
        return getattr(ufunc, method)(*(a if isinstance(x, Hidden) else x for x in inputs))


def test_lost_inside_the_override_is_reported():
    def f(v):
        return np.sum(np.multiply(Hidden(v * 3.0), v))
    t = framead.trace(f, np.array([0.3, 0.8, -0.4]))
    assert t.hazards
    assert {h.loc.line for h in t.hazards} == {line_of("call: hidden", __file__)}, t.hazards


def test_result_computed_before_recording_is_reported():
    """An ndarray subclass's own ``super().__mul__(obj)``: ndarray's slot runs before the
    recorder sees it, handing obj to its override unseen: FA101, not a silent constant."""
    class Sub(np.ndarray):
        def __mul__(self, other):
            return super().__mul__(other)  # call: super

    def f(v):
        s = (v * 1.0).view(Sub)
        return float(np.sum(np.asarray(s * UfuncOv(v * 3.0))))
    x = np.array([0.3, 0.8, -0.4])
    t = framead.trace(f, x)
    if t.hazards:
        assert {h.code for h in t.hazards} == {"FA101"}, t.hazards
        return
    np.testing.assert_allclose(framead.grad(f)(x), fd_grad(f, (x.copy(),)), rtol=1e-6)


class SubOv(np.ndarray):
    """An ndarray subclass whose __array_ufunc__ doubles its own operands."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kw):
        inputs = [np.asarray(x) * 2.0 if isinstance(x, SubOv) else x for x in inputs]
        return getattr(ufunc, method)(*inputs, **kw)


@pytest.mark.parametrize("fn", [np.sum, np.mean, np.prod], ids=lambda f: f.__name__)
def test_subclass_override_reached_through_python_function(fn):
    """np.sum (NumPy code in Python) calls the subclass's sum, whose ufunc reaches the
    override: run instrumented, not as np.sum's rule on the plain array."""
    def f(v):
        return float(fn((v * 3.0).view(SubOv))) * v[0]
    x = np.array([0.3, 0.8, 0.4])
    t = framead.trace(f, x)
    assert not t.hazards, t.hazards
    np.testing.assert_allclose(framead.grad(f)(x), fd_grad(f, (x.copy(),)), rtol=1e-6)


class ArrayFunctionConverts(Base):
    """__array_function__ and __array__: a ufunc converts it with __array__ (NumPy hands
    ufuncs to __array_ufunc__ only)."""

    def __array_function__(self, func, types, args, kwargs):
        return func(*_unwrap(args), **kwargs)

    def __array__(self, dtype=None, copy=None):
        return self.a * 2.0


class ArrayUfuncConverts(Base):
    """__array_ufunc__ and __array__: np.dot (no __array_function__) converts it."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kw):
        return getattr(ufunc, method)(*_unwrap(inputs), **kw)

    def __array__(self, dtype=None, copy=None):
        return self.a * 2.0


@pytest.mark.parametrize("case", ["ufunc_converts", "dot_converts"])
def test_conversion_not_handed_over_is_reported(case):
    """NumPy converts these objects with their Python __array__ where it does not hand the
    call to their override: the conversion is not seen (protocols.conversions leaves such
    objects to their override), so FA101 at the call's line rather than a silent constant;
    or the central-difference gradient."""
    def f(v):
        if case == "ufunc_converts":
            return float(np.sum(np.multiply(ArrayFunctionConverts(v * 3.0), v)))  # c: ufunc
        return float(np.dot(ArrayUfuncConverts(v * 3.0), v))  # c: dot
    x = np.array([0.3, 0.8, 0.4])
    t = framead.trace(f, x)
    if t.hazards:
        line = line_of(f"c: {case.split('_')[0]}", __file__)
        assert {(h.code, h.loc.line) for h in t.hazards} == {("FA101", line)}, t.hazards
        return
    np.testing.assert_allclose(framead.grad(f)(x), fd_grad(f, (x.copy(),)), rtol=1e-6)
