"""``x <op> obj``, ``obj <op> x``, ``x <op>= obj`` (BINARY_OP, every operator and its in-place
form) where x is a traced NumPy array, NumPy scalar or Python float and obj a user object that
NumPy converts through a protocol (``__array__``, ``__array_interface__``; with an
``__array_priority__``, ``__array_ufunc__ = None``, operator methods of its own): the same
value (bit for bit), exception, protocol calls and warnings as the native run, and the
central-difference gradient; or FA105 at the operator's line (``strict=True`` raises there)
where NumPy reads raw memory holding traced values (capture/protocols.py binary_operand)."""

from __future__ import annotations

import functools
import operator
import warnings

import numpy as np
import pytest
from conftest import fd_grad
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import framead

NAMES = ("add", "and", "floordiv", "lshift", "matmul", "mul", "mod", "or", "pow", "rshift",
         "sub", "truediv", "xor")  # BINARY_OP's order
SYMBOLS = ("+", "&", "//", "<<", "@", "*", "%", "|", "**", ">>", "-", "/", "^")
FUNCS = tuple(getattr(operator, n + "_" if n in ("and", "or") else n) for n in NAMES)
W = np.array([0.3, -1.2, 0.7])
CONST = np.array([1.1, 0.7, 1.6])
XCONST = np.array([0.8, 1.3, 0.6])


class PlainSub(np.ndarray):
    """An ndarray subclass keeping ndarray's C operators (a NumPy operand)."""


class Base:
    """Holds ``data`` (traced or not); records its protocol and operator calls."""

    def __init__(self, data) -> None:
        self.data, self.calls = data, []

    def _value(self):
        return self.data * 1.5 + 0.25


class ArrayObj(Base):
    def __array__(self, *args, **kwargs):
        self.calls.append(("__array__", args, kwargs))
        return self._value()


class HeldArray(Base):
    """``__array__`` hands out the array it holds."""

    def __array__(self, *args, **kwargs):
        self.calls.append(("__array__", args, kwargs))
        return self.data


class Raises(Base):
    def __array__(self, *args, **kwargs):
        self.calls.append(("__array__", args, kwargs))
        raise ValueError("no array today")


class ReturnsList(Base):
    def __array__(self, *args, **kwargs):  # (NumPy's ValueError: not an array)
        self.calls.append(("__array__", args, kwargs))
        return [1.0, 2.0, 3.0]


class ReturnsSubclass(Base):
    def __array__(self, *args, **kwargs):  # (NumPy computes with it as a plain array)
        self.calls.append(("__array__", args, kwargs))
        return self._value().view(PlainSub)


class InterfaceObj(Base):
    """Exports the memory of an array computed from its data (raw memory)."""

    def __init__(self, data) -> None:
        super().__init__(data)
        self._keep = self._value()
        self.__array_interface__ = self._keep.__array_interface__


class LowPriority(ArrayObj):
    __array_priority__ = -5.0  # NumPy scalars give up for it (TypeError), arrays do not


def _methods(cls_name: str, base: type, prefixes: str, make, **attrs) -> type:
    """``base`` with ``__{p}op__`` for every operator and each prefix p in ``prefixes``."""
    ns = dict(attrs)
    for k, n in enumerate(NAMES):
        for p in prefixes:
            ns[f"__{p.strip()}{n}__"] = make(k, f"__{p.strip()}{n}__")
    return type(cls_name, (base,), ns)


def _reflected(k: int, dunder: str):
    def method(self, other):
        self.calls.append((dunder,))
        return FUNCS[k](other, self._value())
    return method


def _forward(k: int, dunder: str):
    def method(self, other):
        self.calls.append((dunder,))
        return FUNCS[k](self._value(), other)
    return method


def _not_implemented(k: int, dunder: str):
    def method(self, other):
        self.calls.append((dunder,))
        return NotImplemented
    return method


# __r*__ only: NumPy converts the object rather than call them (no priority)
Reflected = _methods("Reflected", ArrayObj, "r", _reflected)
# a higher priority: NumPy gives up, Python runs the object's own __r*__
HighPriority = _methods("HighPriority", ArrayObj, "r", _reflected, __array_priority__=100.0)
# NumPy refuses ufuncs on it: the object's own operators, or TypeError
UfuncNone = _methods("UfuncNone", _methods("_Fw", ArrayObj, " ", _forward), "r", _reflected,
                     __array_ufunc__=None)
# __op__/__iop__ that decline: CPython calls them first, then NumPy converts
Declines = _methods("Declines", ArrayObj, " i", _not_implemented)
# __op__ computing in Python (obj first: it runs, NumPy does not)
Forward = _methods("Forward", ArrayObj, " ", _forward)



class AttributeHook(ArrayObj):
    """NumPy's attribute lookups (its protocols, priority, wrap) run Python code."""

    def __getattr__(self, name):
        self.calls.append(("__getattr__", name))
        raise AttributeError(name)


class PriorityProperty(ArrayObj):
    @property
    def __array_priority__(self):
        self.calls.append(("__array_priority__",))
        return -5.0


class Wraps(ArrayObj):
    def __array_wrap__(self, arr, context=None, return_scalar=False):
        self.calls.append(("__array_wrap__",))
        return arr[()] if return_scalar else arr


class TupleLike(tuple, ArrayObj):
    """An empty tuple subclass with ``__array__`` (a C base class: not mirrored)."""

    def __new__(cls, data):
        return super().__new__(cls, ())


# NumPy runs Python code of theirs on its way that framead cannot run the same way: the
# operator runs natively, the loss reported (FA101; FA104 for a traced array written)
UNMIRRORED = {"attribute_hook": AttributeHook, "priority_property": PriorityProperty,
              "wraps": Wraps, "tuple_like": TupleLike}
KINDS = {**UNMIRRORED, "raises": Raises, "returns_list": ReturnsList,
         "returns_subclass": ReturnsSubclass, "array": ArrayObj, "held": HeldArray,
         "interface": InterfaceObj,
         "low_priority": LowPriority, "reflected": Reflected, "high_priority": HighPriority,
         "ufunc_none": UfuncNone, "declines": Declines, "forward": Forward}


XMAKE = {"array": lambda v: v * 1.0, "f64": lambda v: v[1], "float": lambda v: float(v[1]),
         "f32": lambda v: np.float32(v[1]), "0d": lambda v: (v * 1.0)[1:2].reshape(()),
         "sub": lambda v: (v * 1.0).view(PlainSub), "const": lambda v: XCONST.copy()}
XKINDS = tuple(k for k in XMAKE if k != "const")  # (const: only with call forms)


def _source(k: int, inplace: bool, left: bool, call: bool) -> str:
    """The program: ``x <op> o`` (or ``o <op> x``; ``r <op>= ...``), or with ``call`` the
    operator module's function (``operator.iadd(x, o)``)."""
    first, second = ("x", "o") if left else ("o", "x")
    fn = f"operator.{'i' if inplace else ''}{NAMES[k]}{'_' if NAMES[k] in ('and', 'or') else ''}"
    body = f"    r = {fn}({first}, {second})\n" if call else \
        f"    r = {first}\n    r {SYMBOLS[k]}= {second}\n" if inplace else \
        f"    r = {first} {SYMBOLS[k]} {second}\n"
    return ("def f(v, make, xmake, traced):\n"
            "    o = make(v * 0.5 + 1.0 if traced else CONST.copy())\n"
            "    x = xmake(v)\n"
            + body + "    return r, o\n")


def _filename(k: int, inplace: bool, left: bool, call: bool) -> str:
    return f"<binary {'call ' if call else ''}{NAMES[k]}{'=' if inplace else ''} " \
        f"{'x-obj' if left else 'obj-x'}>"


def _op_line(inplace: bool, call: bool) -> int:
    return 5 if inplace and not call else 4  # (_source's)


@functools.cache
def _program(k: int, inplace: bool, left: bool, call: bool):
    ns = {"CONST": CONST, "operator": operator}
    exec(compile(_source(k, inplace, left, call), _filename(k, inplace, left, call), "exec"),
         ns)
    return ns["f"]


def _reduce(r, v):
    return np.sum(np.multiply(r, W)) + np.sum(v * v)  # (v's other term stays traced)


def _runner(k, inplace, left, kind, xkind, traced, call):
    f = _program(k, inplace, left, call)

    def run(v):
        r, o = f(v, KINDS[kind], XMAKE[xkind], traced)
        return _reduce(r, v), r, o
    return run


def _same(a, b) -> bool:
    """Bit for bit: the same type, dtype, shape and values."""
    if type(a) is not type(b):
        return False
    if not isinstance(a, np.ndarray | np.generic | float):
        return a == b
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _native(run, x):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            y, r, o = run(x.copy())
        except Exception as e:  # noqa: BLE001
            return ("raised", type(e), str(e)), None, None, _warned(w)
    return ("ok", y), r, o.calls, _warned(w)


def _warned(w) -> list:
    """The warnings (message, file, line), framead's own left out."""
    return [(str(m.message), m.filename, m.lineno) for m in w
            if "framead" not in str(m.message) and not str(m.message).startswith("FA")]


def _captured(run, x):
    seen: list = []

    def g(v):
        y, r, o = run(v)
        seen.append((r, o))
        return y
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            t = framead.trace(g, x.copy())
        except Exception as e:  # noqa: BLE001
            return ("raised", type(e), str(e)), None, None, None, None, g
    return ("ok", t.value), seen[0][0], seen[0][1].calls, t.hazards, _warned(w), g


def _near_kink(k, inplace, left, kind, xkind, traced, x) -> bool:
    """``//`` and ``%`` near a jump of the quotient (central differences straddle it)."""
    if NAMES[k] not in ("floordiv", "mod"):
        return False
    data = x * 0.5 + 1.0 if traced else CONST
    o = data if kind == "held" else data * 1.5 + 0.25
    xv = x if xkind in ("array", "sub") else XCONST if xkind == "const" else x[1]
    q = np.asarray(xv / o if left else o / xv)
    return bool(np.min(np.abs(q - np.round(q))) < 0.05)


def check(k, inplace, left, kind, xkind, traced, x, call=False) -> None:
    run = _runner(k, inplace, left, kind, xkind, traced, call)
    native, n_r, n_calls, n_warn = _native(run, x)
    cap, c_r, c_calls, hazards, c_warn, g = _captured(run, x)
    if native[0] == "raised":
        assert cap == native, (cap, native)  # the same exception
        return
    assert cap[0] == "ok", cap
    assert _same(c_r, n_r), (c_r, n_r)  # the operator's result, bit for bit
    assert _same(cap[1], native[1]), (cap, native)
    assert c_calls == n_calls, (c_calls, n_calls)  # the same protocol / operator calls
    assert c_warn == n_warn, (c_warn, n_warn)
    # (the priority is read only when NumPy's operand comes first)
    unmirrored = kind in UNMIRRORED and (left or kind != "priority_property")
    codes = {"FA105"} if kind == "interface" and traced else \
        {"FA101", "FA104"} if unmirrored else None
    if codes:  # raw memory of traced values (FA105), unmirrored (FA101): at the operator
        assert hazards and all(h.code in codes for h in hazards), hazards
        assert all(h.loc.file == _filename(k, inplace, left, call) and
                   h.loc.line == _op_line(inplace, call) for h in hazards), hazards
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(framead.GradientHazard) as e:
                framead.trace(g, x.copy(), strict=True)
        assert e.value.hazard.loc.line == _op_line(inplace, call)
        return
    assert not hazards, hazards
    if _near_kink(k, inplace, left, kind, xkind, traced, x):
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grad = framead.grad(lambda v: run(v)[0])(x.copy())
    ref = fd_grad(lambda v: run(v)[0], (x.copy(),))
    tol = 2e-3 if xkind == "f32" else 1e-6  # (float32 rounding in the differences)
    np.testing.assert_allclose(grad, ref, rtol=tol, atol=tol)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 12), st.booleans(), st.booleans(), st.sampled_from(sorted(KINDS)),
       st.sampled_from(XKINDS), st.booleans(),
       st.lists(st.floats(0.2, 1.5), min_size=3, max_size=3))
def test_binary_protocol_fuzz(k, inplace, left, kind, xkind, traced, xs):
    """operator x in place x operand order x protocol kind x NumPy operand x traced data."""
    x = np.array(xs)
    assume(not _near_kink(k, inplace, left, kind, xkind, traced, x))
    check(k, inplace, left, kind, xkind, traced, x)


_ARITH = [k for k, n in enumerate(NAMES) if n in ("add", "sub", "mul", "truediv", "pow",
                                                   "matmul", "mod")]


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("traced", [True, False], ids=["traced", "untraced"])
@pytest.mark.parametrize("left", [True, False], ids=["x-obj", "obj-x"])
@pytest.mark.parametrize("inplace", [False, True], ids=["op", "op="])
@pytest.mark.parametrize("k", _ARITH, ids=[NAMES[k] for k in _ARITH])
def test_each_arithmetic_operator(k, inplace, left, traced, kind):
    """Every arithmetic operator with a traced array and each protocol kind."""
    check(k, inplace, left, kind, "array", traced, np.array([0.45, 0.9, 1.35]))


@pytest.mark.parametrize("xkind", [k for k in XKINDS if k != "array"])
@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("k", range(13), ids=NAMES)
def test_scalar_operands(k, kind, xkind):
    """NumPy scalars (their slots end in ndarray's, no ``@``), 0-d arrays, an ndarray
    subclass, and Python floats (no conversion: the object's methods or the TypeError)."""
    for inplace in (False, True):
        for left in (True, False):
            check(k, inplace, left, kind, xkind, True, np.array([0.45, 0.9, 1.35]))


@pytest.mark.parametrize("kind", ["array", "held", "interface", "reflected", "declines",
                                  "attribute_hook", "returns_subclass"])
@pytest.mark.parametrize("xkind", ["const", "array", "f64"])
@pytest.mark.parametrize("left", [True, False], ids=["x-obj", "obj-x"])
@pytest.mark.parametrize("inplace", [False, True], ids=["op", "op="])
@pytest.mark.parametrize("k", _ARITH, ids=[NAMES[k] for k in _ARITH])
def test_operator_functions(k, inplace, left, xkind, kind):
    """``operator.add(x, obj)``, ``operator.iadd(x, obj)``: calls.dispatch sends them to the
    same handler; with an untraced NumPy operand too (the call trampoline routes a traced
    array-like argument: capture/_evalframe.c protocol_traced)."""
    check(k, inplace, left, kind, xkind, True, np.array([0.45, 0.9, 1.35]), call=True)


class Sub(np.ndarray):
    """An ndarray subclass is no protocol object, whatever it defines."""

    def __array__(self, *args, **kwargs):
        return np.asarray(self.view(np.ndarray)) * 100.0


def test_ndarray_subclass_operand():
    def f(v):
        s = (v * 2.0).view(Sub)
        return np.sum(np.asarray((v * s - s) / v).view(np.ndarray) * W)
    x = np.array([0.4, 0.9, 1.3])
    t = framead.trace(f, x)
    assert not t.hazards and _same(t.value, f(x))
    np.testing.assert_allclose(framead.grad(f)(x), fd_grad(f, (x.copy(),)), rtol=1e-6)


def test_untraced_object_stays_plain():
    """An untraced array-like costs one node for the operator, its one ``__array__`` call."""
    def f(v):
        o = ArrayObj(CONST.copy())
        r = v + o
        return np.sum(r * W), o
    x = np.array([0.4, 0.9, 1.3])
    t = framead.trace(lambda v: f(v)[0], x)
    assert not t.hazards
    assert [n.rule.name for n in t.nodes][:1] == ["operator.add"], t.nodes
    np.testing.assert_allclose(framead.grad(lambda v: f(v)[0])(x), W)


def _w_plus(v):
    return np.sum((W + ArrayObj(v * 2.0)) * v)


def _obj_times(v):
    return np.sum((ArrayObj(v * 2.0) * W) * v)


def _w_iadd(v):
    w = W.copy()
    w += ArrayObj(v * 2.0)
    return np.sum(w * v)


def _w_scalar(v):
    return np.sum(np.float64(1.5) - ArrayObj(v * v))


@pytest.mark.parametrize("f", [_w_plus, _obj_times, _w_iadd, _w_scalar])
def test_untraced_numpy_operand(f):
    """An untraced NumPy operand with an array-like holding traced data: the operator probe
    sends it to the handler (capture/_evalframe.c BINOP_PROBE's protocol_traced)."""
    x = np.array([0.4, 0.9, 1.3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tr = framead.trace(f, x)
        value, grad = framead.value_and_grad(f)(x)
    assert not tr.hazards, tr.hazards
    assert value == f(x.copy())
    np.testing.assert_allclose(grad, fd_grad(f, (x.copy(),)), rtol=1e-6)


def _ifloordiv(x):
    x //= 2.0


def _ifloordiv_view(x):
    x[1:] //= 2.0


def _floordiv_out(x):
    np.floor_divide(x, 2.0, out=x)


def _floor_out(x):
    np.floor(x, out=x)


def _imod_then_ifloordiv(x):
    x %= 5.0
    x //= 0.5


@pytest.mark.parametrize("write", [_ifloordiv, _ifloordiv_view, _floordiv_out, _floor_out,
                                   _imod_then_ifloordiv])
def test_in_place_writes_with_no_derivative(write):
    """An in-place write by a cut rule (x //= 2.0: capture/mutation.py Recorder.mutate)
    leaves constants in what it wrote, as the call form does (it was a node of the cut rule,
    whose missing VJP raised TypeError in the reverse pass)."""
    def f(v):
        x = v * 3.0
        write(x)
        return np.sum(x * v) + np.sum(v * v)
    x = np.array([0.45, 0.9, 1.35])
    value, grad = framead.value_and_grad(f)(x)
    assert value == f(x.copy())
    np.testing.assert_allclose(grad, fd_grad(f, (x.copy(),)), rtol=1e-6)
    # (as the call forms: np.floor_divide(x, 2.0) reports nothing, a constant is exact)
    assert [h.code for h in framead.trace(f, x).hazards] == \
        [h.code for h in framead.trace(lambda v: np.sum(np.floor(v * 3.0) * v), x).hazards]


class Zeros(Base):
    def __array__(self, *args, **kwargs):
        self.calls.append(("__array__", args, kwargs))
        return self.data * 0.0


@pytest.mark.parametrize("k", [NAMES.index(n) for n in ("truediv", "floordiv", "mod")],
                         ids=["truediv", "floordiv", "mod"])
@pytest.mark.parametrize("inplace", [False, True], ids=["op", "op="])
@pytest.mark.parametrize("left", [True, False], ids=["x-obj", "obj-x"])
def test_warnings_as_native(k, inplace, left):
    """Division by an array-like of zeros: NumPy's RuntimeWarning and its inf/nan, as native."""
    KINDS["zeros"] = Zeros
    try:
        run = _runner(k, inplace, left, "zeros", "array", True, False)
        x = np.array([0.45, 0.9, 1.35])
        native, n_r, n_calls, n_warn = _native(run, x)
        cap, c_r, c_calls, hazards, c_warn, _ = _captured(run, x)
    finally:
        del KINDS["zeros"]
    assert native[0] == "ok" and cap[0] == "ok" and _same(c_r, n_r) and c_calls == n_calls
    assert c_warn == n_warn and (n_warn or not left) and not hazards, (n_warn, c_warn, hazards)
