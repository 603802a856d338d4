"""NumPy scalars and 0-d arrays of traced values meeting Python number objects NumPy knows
nothing of (a Fraction, a user number class with reflected methods): NumPy's object loop
hands the object's method the scalar's value as a fresh Python number. framead mirrors it
(handlers._object_loop): the method gets a traced number, the term keeps its gradient.
Fuzzed over scalar kinds x operators (binary, in-place, comparisons) x number objects x
sides, against the native run (value, result type, exception, what the object's methods
were given) and central differences; FA101 where a term is lost instead."""

import operator
import warnings
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framead

SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%",
           "pow": "**", "and": "&", "or": "|", "xor": "^", "lshift": "<<", "rshift": ">>",
           "matmul": "@"}
COMPARES = {"lt": "<", "le": "<=", "eq": "==", "ne": "!=", "gt": ">", "ge": ">="}
_SRC = "".join(
    [f"def b_{n}(a, b):\n    return a {s} b\n\n\n" for n, s in SYMBOLS.items()] +
    [f"def i_{n}(a, b):\n    a {s}= b\n    return a\n\n\n" for n, s in SYMBOLS.items()] +
    [f"def c_{n}(a, b):\n    return a {s} b\n\n\n" for n, s in COMPARES.items()])
_NS: dict = {}
exec(compile(_SRC, __file__, "exec"), _NS)  # (the operators as user code: BINARY_OP probes)
OPS = {k[2:] if k.startswith("b_") else k: v for k, v in _NS.items() if k[:2] in
       ("b_", "i_", "c_")}

GOT: list = []  # the types the number classes' methods were given


def _value(self, v):
    GOT.append(type(v))
    return v * self.c + v * v


def _decide(self, v):
    GOT.append(type(v))
    return v * self.c > 1.0


class _Number:
    def __init__(self, c=1.5):
        self.c = c


class Num(_Number):
    """A number class with forward and reflected methods of every operator."""


class RNum(_Number):
    """Reflected methods only."""


class FNum(_Number):
    """Forward methods only."""


class PriorityNum(_Number):
    """NumPy defers to it (``__array_priority__``): its methods get the scalar itself."""

    __array_priority__ = 50.0


for _n in SYMBOLS:
    for _cls, _names in ((Num, (f"__{_n}__", f"__r{_n}__")), (RNum, (f"__r{_n}__",)),
                         (FNum, (f"__{_n}__",)), (PriorityNum, (f"__{_n}__", f"__r{_n}__"))):
        for _name in _names:
            setattr(_cls, _name, _value)
for _n in COMPARES:
    setattr(Num, f"__{_n}__", _decide)
    setattr(RNum, f"__{ {'lt': 'gt', 'gt': 'lt', 'le': 'ge', 'ge': 'le'}.get(_n, _n)}__",
            _decide)


class RawCompare(_Number):
    """Comparisons returning a number of what they are given (a NumPy scalar hands it on)."""


for _n in COMPARES:
    setattr(RawCompare, f"__{_n}__", _value)


class Plain:
    """No operators at all: NumPy's object loop raises Python's TypeError."""


class FloatSub(float):
    pass


class IntSub(int):
    pass


class ScaledFloat(float):
    def __rmul__(self, v):
        GOT.append(type(v))
        return v * float(self) * 2.0


OBJECTS = {
    "fraction": lambda: Fraction(3, 4), "decimal": lambda: Decimal("1.25"), "num": Num,
    "rnum": RNum, "fnum": FNum, "raw_compare": RawCompare, "priority": PriorityNum, "plain": Plain,
    "float_sub": lambda: FloatSub(0.75), "int_sub": lambda: IntSub(2),
    "scaled": lambda: ScaledFloat(0.5)}
KINDS = {
    "f64": lambda x: x[0] * 1.0,
    "f32": lambda x: x.astype(np.float32)[0],
    "c128": lambda x: (x * (1.0 + 0.5j))[0],
    "i64": lambda x: (x * 2.0).astype(np.int64)[0],
    "bool": lambda x: (x > 1.0)[0],
    "0d_f64": lambda x: x[:1].reshape(()),
    "0d_f32": lambda x: x.astype(np.float32)[:1].reshape(()),
}


def _real(r):
    if isinstance(r, complex | np.complexfloating):
        return r.real
    return r


def _runner(kind, op, obj, left):
    fn, o = OPS[op], OBJECTS[obj]()
    seen: list = []

    def run(x):
        s = KINDS[kind](x)
        r = fn(s, o) if left else fn(o, s)
        seen.append((type(r), repr(r)))
        return float(_real(r)) + x[1] * 0.5  # (connected: a lost term is silent)
    return run, seen


def _call(f, *args, **kw):
    GOT.clear()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            out = f(*args, **kw)
        except Exception as e:  # noqa: BLE001 - compared with the native run's
            return ("raised", type(e), str(e)), list(GOT), w
    return ("ok", out), list(GOT), w


def _smooth_slope(run, x0, steps):
    """Central difference of ``run`` at ``x0``, or None where it is not smooth there."""
    def at(v):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return run(np.array([v, 0.3]))
    slopes = [(at(x0 + h) - at(x0 - h)) / (2 * h) for h in steps]
    if not all(np.isfinite(slopes)) or abs(slopes[0] - slopes[1]) > 1e-2 * (1 + abs(slopes[0])):
        return None
    return slopes[1]


def check(kind, op, obj, left, x0, cache=False):
    run, seen = _runner(kind, op, obj, left)
    x = np.array([x0, 0.3])
    native, got, _ = _call(run, x.copy())  # (x[:1].reshape(()) += o writes into x)
    n_seen = list(seen)
    seen.clear()
    traced, c_got, _ = _call(framead.trace, run, x.copy())
    if native[0] == "raised":
        assert traced == native and c_got == got, (traced, native, c_got, got)
        return
    assert traced[0] == "ok", traced
    t = traced[1]
    assert c_got == got, (c_got, got)  # the methods were given what NumPy gives them
    assert [ty for ty, _ in seen] == [ty for ty, _ in n_seen], (seen, n_seen)  # result types
    assert repr(seen) == repr(n_seen), (seen, n_seen)
    assert repr(t.value) == repr(native[1]), (t.value, native)
    single = "f32" in kind  # (float32 arithmetic: wider steps, a looser tolerance)
    slope = _smooth_slope(run, x0, (1e-2, 1e-3) if single else (1e-5, 1e-6))
    rtol = 5e-3 if single else 1e-5
    codes = {h.code for h in t.hazards}
    if codes and codes <= {"FA102", "FA108"}:  # reached through decisions (or //) only
        assert slope is None or abs(slope) < 1e-6, (t.hazards, slope)  # (a zero gradient)
        return
    if codes:  # a lost term reported, at the operator
        assert codes == {"FA101"} and all(h.loc.file == __file__ for h in t.hazards), codes
        return
    if slope is None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v, g = framead.value_and_grad(run)(x.copy())
        assert v == native[1]
        assert np.allclose(g, [slope, 0.5], rtol=rtol, atol=1e-6), (g, slope)
        if cache:  # a replay at a second point: its value and gradient as a fresh capture's
            cf = framead.value_and_grad(run, cache=True)
            cf(x.copy())
            x2 = np.array([x0 * 1.01, 0.3])
            v2, g2 = cf(x2.copy())
            n2 = run(x2.copy())
            assert v2 == n2 or (np.isnan(v2) and np.isnan(n2)), (v2, n2)
            assert np.allclose(g2, framead.value_and_grad(run)(x2.copy())[1], rtol=1e-9), g2


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(kind=st.sampled_from(sorted(KINDS)), op=st.sampled_from(sorted(OPS)),
       obj=st.sampled_from(sorted(OBJECTS)), left=st.booleans(),
       x0=st.floats(0.55, 2.5), cache=st.booleans())
def test_scalar_meets_number_object(kind, op, obj, left, x0, cache):
    check(kind, op, obj, left, x0, cache)


@pytest.mark.parametrize("kind", ["f64", "f32", "0d_f64"])
@pytest.mark.parametrize("obj", ["fraction", "num", "rnum"])
@pytest.mark.parametrize("op", ["mul", "add", "truediv", "pow", "i_mul", "i_sub"])
@pytest.mark.parametrize("left", [True, False])
def test_object_loop_terms_keep_gradient(kind, obj, op, left):
    """The cases NumPy's object loop computes (on both sides): a gradient through the
    object's method, no hazard, and a replay right at a second point."""
    check(kind, op, obj, left, 1.3, cache=True)


@pytest.mark.parametrize("op", sorted(COMPARES))
@pytest.mark.parametrize("left", [True, False])
def test_comparison_returning_a_number(op, left):
    """``x[0] < obj`` whose reflected comparison returns a number: the scalar's is it."""
    check("f64", "c_" + op, "raw_compare", left, 1.3, cache=True)


ORDER: list = []  # the elements an object loop's method was given, in order


class Recording(_Number):
    def __rmul__(self, v):
        ORDER.append(v)
        return v * self.c


@pytest.mark.parametrize("obj", ["fraction", "rnum", "num", "recording"])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("layout", ["c", "f", "reversed", "strided"])
def test_array_elements_through_object_loop(obj, left, layout):
    """``x * obj`` of a traced n-d array: NumPy's object loop hands obj's method each
    element as a fresh float, in its output's memory order; mirrored element by element
    (the method given the same numbers in the same order, the object array laid out as
    NumPy's), gradients against central differences."""
    o = Recording() if obj == "recording" else OBJECTS[obj]()
    view = {"c": lambda v: v.reshape(2, 3), "f": lambda v: v.reshape(3, 2).T,
            "reversed": lambda v: v[::-1], "strided": lambda v: v.reshape(2, 3)[::-1, ::2]}

    def f(x):
        y = view[layout](x * 1.0)
        r = y * o if left else o * y
        types.append((type(r), r.dtype, r.strides, r.shape))
        return float(np.sum(np.asarray(r, dtype=float) * y)) + x[0]

    x = np.linspace(0.5, 1.75, 6)
    types: list = []
    if not left and obj in ("rnum", "recording"):  # (o * 1.25: no method for it)
        with pytest.raises(TypeError) as native:
            f(x)
        with pytest.raises(TypeError) as captured:
            framead.trace(f, x)
        assert str(captured.value) == str(native.value)
        return
    ORDER.clear()
    native = f(x)
    n_order, n_types = list(ORDER), list(types)
    ORDER.clear()
    types.clear()
    t = framead.trace(f, x)
    assert t.value == native and not t.hazards, t.hazards
    assert ORDER == n_order and types == n_types, (ORDER, n_order, types, n_types)
    h = 1e-6
    fd = [(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(6)]
    assert np.allclose(framead.value_and_grad(f)(x)[1], fd, rtol=1e-6, atol=1e-8)
    cf = framead.value_and_grad(f, cache=True)  # (a replay at a second point)
    cf(x)
    v2, g2 = cf(x * 1.1)
    assert v2 == f(x * 1.1) and cf.stats["hits"] == 1, cf.stats
    assert np.allclose(g2, framead.value_and_grad(f)(x * 1.1)[1], rtol=1e-12)


def test_fraction_result_type_and_gradient():
    def f(x):
        a = x[0] * Fraction(1, 2)
        b = Fraction(7, 2) / x[1]
        return a + b, type(a), type(b)

    x = np.array([1.5, 2.0])
    types: list = []
    t = framead.trace(lambda v: (r := f(v), types.append(r[1:]))[0][0], x)
    assert not t.hazards and t.value == f(x)[0]
    assert types == [f(x)[1:]] == [(float, np.float64)]  # (Fraction's own / on a float)
    _, g = framead.value_and_grad(lambda v: f(v)[0])(x)
    assert np.allclose(g, [0.5, -3.5 / 4.0])


def test_unmirrorable_operand_is_fa101():
    class Hooked:
        def __getattr__(self, name):
            raise AttributeError(name)

        def __rmul__(self, v):
            return v * 2.0

    def f(x):
        return x[0] * Hooked()

    t = framead.trace(f, np.array([1.5]))
    assert t.value == 3.0 and [h.code for h in t.hazards] == ["FA101"], t.hazards
    assert t.hazards[0].loc.file == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(framead.GradientHazard):
            framead.trace(f, np.array([1.5]), strict=True)


def test_result_is_the_methods_own_object():
    """NumPy's object loop hands back what the method returned, the object itself (a 0-d
    array's comparison: its truth as np.bool_)."""
    token = [1.0]

    class Token:
        def __rmul__(self, v):
            return token

        def __gt__(self, v):
            return token

    def f(x):
        s, z = x[0] * 1.0, x[:1].reshape(())
        assert s * Token() is token and z * Token() is token and (s < Token()) is token
        assert repr(z < Token()) == repr(np.array(1.0) < Token())
        return s

    assert framead.trace(f, np.array([1.5])).value == 1.5


class _Raises:
    def __rmul__(self, v):
        raise ValueError("refused")


def _raising(x):
    return x[0] * _Raises()


def _plain_operand(x):
    return x[0] * Plain()


@pytest.mark.parametrize("f", [_raising, _plain_operand])
def test_exceptions_and_tracebacks_are_native(f):
    """The method's exception (or Python's TypeError) with the native traceback's frames
    of this file (framead's own left out)."""
    def seen(call):
        with pytest.raises(Exception) as e:
            call(np.array([1.5]))
        import traceback
        return type(e.value), str(e.value), [
            (fr.lineno, fr.name) for fr in traceback.extract_tb(e.value.__traceback__)
            if fr.filename == __file__ and fr.name != "seen"]

    assert seen(framead.value_and_grad(f)) == seen(f)


def test_operator_module_call():
    """``operator.mul(x[0], obj)`` called (not an operator): the same mirroring."""
    def f(x):
        return operator.mul(x[0], Num(2.0))

    _, g = framead.value_and_grad(f)(np.array([1.5]))
    assert np.allclose(g, [2.0 + 3.0])


# --- '%' text of traced values in cached traces (handlers._text_mod) -------------------------

def _decides(text_of):
    def f(x):
        a, b = x[0] * 1.0, x[1] * 2.0
        return b * 3.0 if "-" in text_of(a, b) else b * b + a
    return f


class _Box:
    def __init__(self, v):
        self.v = v

    def __repr__(self):
        return f"Box({self.v!r})"


# the text of a (the same at every point) next to b's, which the guard's re-made text cannot
# carry (inside a set, a slice, a dict's keys): unreplayable, never a wrong replay
HIDDEN = {
    "set": lambda a, b: "%.0f %s" % (a, {b}),  # noqa: UP031 - the '%' operator is the case
    "frozenset": lambda a, b: "%.0f %s" % (a, frozenset([b])),  # noqa: UP031
    "slice": lambda a, b: "%.0f %s" % (a, slice(b, None)),  # noqa: UP031
    "values_view": lambda a, b: "%.0f %s" % (a, {"k": b}.values()),  # noqa: UP031
    "list_of_set": lambda a, b: "%.0f %s" % (a, [{b}]),  # noqa: UP031
    "inner_dict_key": lambda a, b: "%(k).0f %(d)s" % {"k": a, "d": {b: 1}},  # noqa: UP031
    "mapping_key": lambda a, b: "%s" % {b: a},  # noqa: UP031
}
# re-made from the replay's values: guarded (the flip a fresh capture, the same text a hit)
GUARDED = {
    "mapping": lambda a, b: "%(v).2f" % {"v": b},  # noqa: UP031
    "mapping_nested": lambda a, b: "%(p)s" % {"p": (b, 1), "q": a},  # noqa: UP031, F504
    "dict_as_value": lambda a, b: "%s" % {"v": b},  # noqa: UP031
    "tuple": lambda a, b: "%s %.1f" % ("t", b),  # noqa: UP031
    "inplace_mapping": lambda a, b: _imod("%(v).1f|", {"v": b}),
    "object": lambda a, b: "%.0f %s" % (a, _Box(b)),  # noqa: UP031 - (its repr recorded)
}


def _imod(text, d):
    text %= d
    return text


def _stats(f, points):
    from test_sequence_compare_guards import _check  # (cached vs native, FD, uncached)
    return _check(f, points)


# (C sends these to the handler: its scan enters dict keys and dict views)
DICT_KEYS_AND_VIEWS = {"dict_key_only": lambda a, b: "%s" % {b: 1},  # noqa: UP031
                "values_view_alone": lambda a, b: "%s" % ({"k": b}.values(),)}  # noqa: UP031


@pytest.mark.parametrize("text", [pytest.param(t, id=n) for n, t in
                                  sorted({**HIDDEN, **DICT_KEYS_AND_VIEWS}.items())])
def test_text_of_hidden_traced_values_is_unreplayable(text):
    stats = _stats(_decides(text), [[1.0, 1.5], [1.0, -1.5], [1.0, 1.5]])
    assert stats["hits"] == 0 and stats["reasons"], stats


@pytest.mark.parametrize("name", sorted(GUARDED))
def test_text_of_traced_values_is_guarded(name):
    stats = _stats(_decides(GUARDED[name]), [[1.0, 1.5], [1.0, -1.5], [1.0, 1.5], [1.0, -1.5]])
    assert stats["captures"] == 2 and stats["hits"] == 2 and not stats["reasons"], stats
