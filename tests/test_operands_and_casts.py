"""Operand forms (issue 11 items 1, 3, 4): Python sequences as NumPy operands, scalar
conversions, raw storage and rule-less C calls given traced values inside lists.

Every gradient is checked against central differences in float64; where framead cannot
follow, a hazard must be reported instead.
"""

from __future__ import annotations

import array
import ctypes
import itertools
import math
import operator
import warnings
from collections import namedtuple

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import framead
from framead import rules

X0 = np.array([1.3, 0.7, 0.9])


def central(f, x, h=1e-6):
    """Central differences of a real scalar ``f`` at ``x`` (float64)."""
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        g.flat[i] = (float(np.real(f(x + e))) - float(np.real(f(x - e)))) / (2 * h)
    return g


def grad_and_hazards(f, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = framead.grad(f)(x)
        hazards = framead.trace(f, x, argnums=0).hazards
    return np.asarray(g, dtype=float), hazards


def assert_right(f, x=X0, rtol=1e-6, atol=1e-7):
    g, hazards = grad_and_hazards(f, x)
    assert not hazards, hazards
    np.testing.assert_allclose(g, central(f, x), rtol=rtol, atol=atol)


def hazard_codes(f, x=X0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [h.code for h in framead.trace(f, x, argnums=0).hazards]


# --------------------------------------------------------------------------- item 1


SEQUENCE_PROGRAMS = {
    "array minus list": lambda x: np.sum(x - [1.0, 2.0, 3.0]),
    "scalar minus list": lambda x: np.sum(x[0] - [1.0, 2.0]),
    "list of traced times array": lambda x: np.sum([x[0], x[1], 2.0] * x),
    "tuple of traced times array": lambda x: np.sum((x[0], 1.0, x[2]) * x ** 2),
    "list of traced over constant array": lambda x: np.sum([x[0], x[1]] / np.array([2., 3.])),
    "constant array times list of traced": lambda x: np.sum(np.array([2., 3.]) * [x[0], x[1]]),
    "ufunc of list": lambda x: np.sum(np.sin([x[0], 2.0])),
    "dot with list": lambda x: np.dot(x, [x[0], 1.0, 2.0]),
    "array plus tuple": lambda x: np.sum(x[:2] + (x[2], x[2])),
    "nested list": lambda x: np.sum(x[:2] * [[x[2], 1.0], [2.0, x[0]]]),
    "list of arrays": lambda x: np.sum(np.exp([x[:2], x[1:]]) * x[0]),
    "numpy scalar power list": lambda x: np.sum(np.float64(x[0]) ** [x[1], 2.0]),
    "list repeated by numpy int": lambda x: sum([x[0], x[1]] * np.int64(2)),
    "maximum of lists": lambda x: np.sum(np.maximum([x[0], 0.1], (0.2, x[1]))),
    "star call of traced array": lambda x: np.hypot(*x[:2]),
}


@pytest.mark.parametrize("name", sorted(SEQUENCE_PROGRAMS))
def test_sequence_operands(name):
    assert_right(SEQUENCE_PROGRAMS[name])


def test_star_unpacking_into_displays_and_calls():
    """[*x], (*x, c), f(*a, *b), {*x}: a traced array is extended by its rows."""
    progs = [lambda a: sum([*a]) * 2.0, lambda a: np.sum(np.array((*a, 2.0)) ** 2),
             lambda a: np.hypot(*a[:1], *a[1:2]), lambda a: max({*a})]
    for f in progs:
        assert_right(f)


def test_inplace_with_sequences():
    def add(x):
        y = x[:2].copy()
        y += [x[2], 1.0]
        return np.sum(y * y)

    def mul(x):
        y = x.copy()
        y *= (x[2], np.float64(2.0), x[0])
        return np.sum(y ** 2)

    def scalar_inplace(x):
        s = np.float64(x[0])
        s += [x[1], 2.0]  # not in place: an array
        return np.sum(s * s)

    for f in (add, mul, scalar_inplace):
        assert_right(f)


def test_comparisons_with_sequences_drive_branches():
    def f(x):
        if np.all(x[:2] < [x[2] + 1.0, 5.0]):
            return np.sum(x * x)
        return np.sum(x)

    def g(x):
        return np.sum(np.where(x > (x[0], 1.0, 0.5), x, 2 * x))

    assert_right(f)
    assert_right(g)


def test_list_operations_stay_lists():
    def f(x):
        items = [x[0], x[1]] + [x[2]]
        items *= 2
        return sum(items) + math.fsum((x[0], x[1]))

    assert_right(f)


def test_list_extend_and_iadd_with_traced_array():
    def extend(x):
        items = [1.0]
        items.extend(x)
        list.extend(items, x[:2] * 2.0)
        return sum(items)

    def iadd(x):
        items = [1.0, 2.0, 3.0]
        items += x  # NumPy's reflected add: an array
        return np.sum(items * x)

    assert_right(extend)
    assert_right(iadd)


def test_user_arrays_and_lists_are_not_modified():
    const = [1.0, 2.0, 3.0]
    arr = np.array([4.0, 5.0, 6.0])

    def f(x):
        return np.sum((x - const) * arr)

    assert_right(f)
    assert const == [1.0, 2.0, 3.0] and arr.tolist() == [4.0, 5.0, 6.0]


# --------------------------------------------------------------------------- item 3

FLOAT_KINDS = [np.float64, np.float32, np.float16, np.longdouble, np.complex64,
               np.complex128, float, complex]


def _source(kind, x):
    """A traced value of each kind, from the float64 input x."""
    return {"pyfloat": lambda: float(x[0]), "f64": lambda: x[0],
            "f32": lambda: x[0].astype(np.float32), "f16": lambda: np.float16(x[0]),
            "0d": lambda: x[0:1].reshape(()), "c128": lambda: x[0] * (1 + 0j),
            "0d32": lambda: x[0:1].astype(np.float32).reshape(())}[kind]()


@pytest.mark.parametrize("target", FLOAT_KINDS, ids=lambda t: t.__name__)
@pytest.mark.parametrize("kind", ["pyfloat", "f64", "f32", "f16", "0d", "c128", "0d32"])
def test_scalar_conversions(kind, target):
    def f(x):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # complex -> real drops the imaginary part
            v = target(_source(kind, x))
        return float(np.real(v * v)) + x[1]

    def ref(x):  # the same program in float64 (conversions are identities in value)
        v = x[0] if kind != "c128" else x[0]
        return float(np.real(v * v)) + x[1]

    g, hazards = grad_and_hazards(f, X0)
    assert not hazards, hazards
    low = {np.float16, np.complex64, np.float32}
    tol = 1e-2 if kind == "f16" or target is np.float16 else (
        1e-5 if kind in ("f32", "0d32") or target in low else 1e-7)
    np.testing.assert_allclose(g, central(ref, X0), rtol=tol, atol=tol)


@pytest.mark.parametrize("method", ["item", "astype64", "astype32", "tolist", "reshape",
                                    "float", "complex"])
@pytest.mark.parametrize("kind", ["f64", "f32", "0d"])
def test_scalar_methods(kind, method):
    def f(x):
        v = _source(kind, x)
        out = {"item": lambda: v.item(), "astype64": lambda: v.astype(float),
               "astype32": lambda: v.astype(np.float32), "tolist": lambda: v.tolist(),
               "reshape": lambda: v.reshape((1,))[0], "float": lambda: float(v),
               "complex": lambda: complex(v).real}[method]()
        return out * out * 3.0

    g, hazards = grad_and_hazards(f, X0)
    assert not hazards, hazards
    tol = 1e-5 if kind == "f32" or method == "astype32" else 1e-7
    np.testing.assert_allclose(g, [6 * X0[0], 0.0, 0.0], rtol=tol)


def test_lower_precision_cast_vjp_casts_back():
    def f(x):
        return np.sum(x.astype(np.float32) * 2.0)

    t = framead.trace(f, X0)
    g = framead.grad(f)(X0)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, 2.0)
    rule = rules.lookup(np.float32)
    ct = rule.vjp[0](np.float32(2.0), np.float32(1.0), 1.5)
    assert type(ct) is float and ct == 2.0
    ct = rule.vjp[0](np.ones(2, np.float32), None, np.ones(2))
    assert ct.dtype == np.float64
    assert not t.hazards


def test_complex_sign_is_differentiable():
    def f(x):  # NumPy 2: sign(z) = z / |z| for complex z; piecewise constant for reals
        z = x[:2] + 1j * x[1:]
        return np.real(np.sum(np.sign(z) * (1.5 - 0.5j))) + np.sum(np.sign(x) * x)

    assert_right(f, np.array([0.3, -0.7, 0.9]))
    np.testing.assert_allclose(framead.jacfwd(f)(np.array([0.3, -0.7, 0.9])),
                               central(f, np.array([0.3, -0.7, 0.9])), rtol=1e-6)


def test_integer_conversions_are_reported_cuts():
    assert hazard_codes(lambda x: np.int64(x[0]) * x[1]) == ["FA102"]
    assert hazard_codes(lambda x: int(x[0]) * x[1]) == ["FA102"]


def _mixed(x):
    y = x - [1.0, 2.0, 3.0]
    z = [x[0], 2.0, x[1]] * y + np.float32(x[2]).astype(np.float64)
    w = np.sin((x[0], x[1]))
    y2 = x.copy()
    y2 += [x[2], 1.0, 2.0]
    if x[0] < [2.0][0]:
        return np.sum(z * z) + np.sum(w) + np.sum(y2 ** 2) + x[1].item() * np.float64(x[2])
    return np.sum(z)


def _mixed_ref(x):  # the same in float64
    y = x - np.array([1.0, 2.0, 3.0])
    z = np.array([x[0], 2.0, x[1]]) * y + x[2]
    y2 = np.array([x[0] + x[2], x[1] + 1.0, x[2] + 2.0])
    return np.sum(z * z) + np.sum(np.sin(x[:2])) + np.sum(y2 ** 2) + x[1] * x[2]


def test_cached_replays_and_forward_mode_follow_coercions_and_casts():
    cached = framead.grad(_mixed, cache=True)
    for x in (X0, np.array([1.1, 0.2, 0.4]), np.array([1.5, 0.3, 0.2])):
        np.testing.assert_allclose(cached(x), central(_mixed_ref, x), rtol=1e-5)
        np.testing.assert_allclose(framead.jacfwd(_mixed)(x), central(_mixed_ref, x),
                                   rtol=1e-5)
    assert cached.stats["hits"] == 2


def test_slots_called_by_name_are_their_operators():
    def scalar(x):
        t = x[0] * 1.0
        u = float(x[1])
        return (t.__mul__(3.0) + u.__pow__(2) + u.__rsub__(1.0) + t.__neg__() + u.__abs__()
                + t.__float__() + u.__truediv__(x[2]) + u.__mul__(t))

    def arrays(x):
        y = x.__add__(np.ones(3))
        z = (2.0 * x).__rmul__(x)
        w = x.copy()
        w.__iadd__(x)
        return np.sum(y * z + w)

    def items(x):
        y = x * 1.0
        y.__setitem__(y < 1.0, 0.5)
        y.flat.__setitem__(2, y.__getitem__(0) * 3.0)
        return np.sum(y * x)

    assert_right(scalar)
    assert_right(arrays)
    assert_right(items)
    assert (1.5).__mul__([1.0]) is NotImplemented


# --------------------------------------------------------------------------- item 4


def test_raw_storage_is_reported():
    programs = [
        lambda x: sum(array.array("d", x)),
        lambda x: sum(array.array("d", [x[0], x[1]])),
        lambda x: ctypes.c_double(x[0]).value * 2,
        lambda x: ctypes.c_double(float(x[0])).value * 2,
        lambda x: sum((ctypes.c_double * 2)(x[0], 1.0)),
    ]
    for f in programs:
        assert "FA105" in hazard_codes(f)
        with pytest.raises(framead.GradientHazard):
            framead.grad(f, strict=True)(X0)


def test_rule_less_c_call_given_list_of_traced_values_is_reported():
    def rng(x):
        return float(np.sum(np.random.default_rng(0).gamma([x[0], 1.0], 1e-9)))

    assert hazard_codes(rng) == ["FA101"]


def test_itertools_calling_c_functions_step_through_dispatch():
    def accumulate(x):
        return list(itertools.accumulate([x[0], x[1], x[2]]))[-1] + list(
            itertools.accumulate(x, operator.mul, initial=2.0))[-1]

    def starmap(x):
        return sum(itertools.starmap(operator.mul, itertools.pairwise([x[0], x[1], x[2]])))

    assert_right(accumulate)
    assert_right(starmap)


def test_structural_c_calls_with_lists_are_not_hazards():
    Point = namedtuple("Point", "a b")

    class Items(list):
        pass

    class Failure(Exception):
        pass

    def f(x):
        p = Point(x[0], [x[1]])
        q = Items([x[2], p.a])
        e = Failure([x[0]])
        chained = list(itertools.chain([x[0]], (x[1],)))
        first = operator.itemgetter(0)([x[2], 1.0])
        return p.a * p.b[0] + sum(q) + e.args[0][0] + sum(chained) + first

    assert_right(f)


def test_as_strided_views_are_gathers_from_the_buffer():
    from numpy.lib.stride_tricks import as_strided, sliding_window_view

    sl = pytest.importorskip("scipy.linalg")
    x = np.array([0.3, -0.7, 0.9, 1.1])
    programs = [
        lambda x: np.sum(np.sin(sliding_window_view(x, 2)) * np.arange(3)[:, None]),
        lambda x: np.sum(sl.toeplitz(x, x[::-1] * 2) ** 2),  # a view of its argument's base
        lambda x: np.sum(sl.hankel(x) * np.arange(16).reshape(4, 4)),
        lambda x: np.sum(sl.circulant(x) ** 3),
        lambda x: np.sum(as_strided(x[1:], shape=(2, 2), strides=(8, 8)) ** 2),
    ]
    for f in programs:
        assert_right(f, x)
        np.testing.assert_allclose(framead.jacfwd(f)(x), central(f, x), rtol=1e-6)


def test_raw_implementation_of_dispatcher_has_the_rule():
    assert rules.lookup(np.concatenate.__wrapped__) is rules.lookup(np.concatenate)
    assert_right(lambda x: np.sum(np.concatenate.__wrapped__([x, x[:2]]) ** 2))
    assert_right(lambda x: np.sum(np.block([x, x[:1]]) ** 2))


def test_dispatcher_rule_covers_implementation_generically():
    @np._core.overrides.array_function_dispatch(lambda a: (a,))
    def twice(a):
        return 2 * np.asarray(a)

    assert rules.lookup(twice._implementation) is None
    rule = rules.register(twice, vjp=(lambda g, ans, a: 2 * g,), saves={0: ()})
    try:
        assert rules.lookup(twice._implementation) is rule
        own = rules.register(twice._implementation, vjp=(lambda g, ans, a: 2 * g,),
                             saves={0: ()})
        assert rules.lookup(twice._implementation) is own
    finally:
        rules.unregister(twice)
        rules.unregister(twice._implementation)
    assert rules.lookup(twice._implementation) is None


# --------------------------------------------------------------------------- fuzz

SCALAR_FORMS = ["py", "int", "f16", "f32", "f64", "0d"]
LEAF = st.sampled_from(SCALAR_FORMS)
ARRAY_LEAF = st.sampled_from(["nd", "sq", "ones"])
FORMS = st.one_of(
    st.sampled_from(SCALAR_FORMS + ["nd"]),
    st.tuples(st.sampled_from(["list", "tuple"]), st.lists(LEAF, min_size=3, max_size=3)),
    st.tuples(st.just("nested"), st.lists(LEAF, min_size=3, max_size=3)),
    st.tuples(st.sampled_from(["list", "tuple"]), st.lists(ARRAY_LEAF, min_size=3,
                                                           max_size=3)),
)
# the operators as syntax (BINARY_OP probes) and as operator's functions (the call trampoline)
BINARY = {"+": (lambda a, b: a + b, operator.add), "-": (lambda a, b: a - b, operator.sub),
          "*": (lambda a, b: a * b, operator.mul), "/": (lambda a, b: a / b, operator.truediv),
          "**": (lambda a, b: a ** b, operator.pow), "%": (lambda a, b: a % b, operator.mod),
          "//": (lambda a, b: a // b, operator.floordiv),
          "@": (lambda a, b: a @ b, operator.matmul)}


def _iadd(a, b):
    a += b
    return a


def _isub(a, b):
    a -= b
    return a


def _imul(a, b):
    a *= b
    return a


def _itruediv(a, b):
    a /= b
    return a


def _ipow(a, b):
    a **= b
    return a


INPLACE = {"+": (_iadd, operator.iadd), "-": (_isub, operator.isub),
           "*": (_imul, operator.imul), "/": (_itruediv, operator.itruediv),
           "**": (_ipow, operator.ipow)}
FUNCS = {
    "sin": lambda a, b: np.add(np.sin(a), b),
    "exp": lambda a, b: np.multiply(np.exp(a), b),
    "hypot": np.hypot,
    "maximum": np.maximum,
    "dot": lambda a, b: np.dot(np.ravel(a), np.ravel(b)) if np.size(a) == np.size(b)
    else np.dot(np.ravel(a)[:1], np.ravel(b)[:1]),
    "where": lambda a, b: np.where(np.asarray(a) > 1.0, a, b),
    "sum": lambda a, b: np.sum(a) * np.mean(b),
    "norm": lambda a, b: np.linalg.norm(a) + np.prod(b),
    "abs": lambda a, b: abs(np.subtract(a, b)),
    "branch": lambda a, b: (np.multiply(a, b) if np.all(np.less(a, b)) else np.add(a, b)),
}


def build(form, x, i, ref):
    """The operand ``form`` made from the input x (index i picks the element); ``ref``:
    float64 throughout (the finite-difference reference: conversions are identities)."""
    f16, f32 = (np.float64, np.float64) if ref else (np.float16, np.float32)
    if isinstance(form, tuple):
        kind, leaves = form
        items = [build(leaf, x, i + k, ref) for k, leaf in enumerate(leaves)]
        return {"list": list, "tuple": tuple}.get(kind, lambda v: [v])(items)
    k = i % 3
    return {"py": lambda: float(x[k]), "int": lambda: 2, "f16": lambda: f16(x[k]),
            "f32": lambda: f32(x[k]), "f64": lambda: x[k], "0d": lambda: x[k:k + 1].reshape(()),
            "nd": lambda: x * 1.0, "sq": lambda: x ** 2, "ones": lambda: np.ones(3)}[form]()


def _total(r):
    if isinstance(r, list | tuple):
        return sum(_total(v) for v in r)
    return np.sum(np.real(np.asarray(r, dtype=np.complex128)))


def _precision(*forms) -> float:
    text = repr(forms)
    return 3e-2 if "f16" in text else 1e-4 if "f32" in text else 1e-6


def check_program(program, forms):
    """framead's gradient of ``program`` is right (against central differences of its
    float64 twin) or a hazard was reported; programs that fail natively are skipped."""
    def f(x):
        return _total(program(x, False))

    def ref(x):
        return _total(program(x, True))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            v = f(X0)
            fd1, fd2 = central(ref, X0, 1e-6), central(ref, X0, 1e-5)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            assume(False)
        tol = _precision(*forms)
        assume(np.isfinite(v) and np.all(np.isfinite(fd1)))
        assume(abs(v - ref(X0)) <= tol * (1 + abs(v)))  # rounding kept the same branch
        assume(np.allclose(fd1, fd2, rtol=1e-3, atol=1e-4))  # smooth near X0 (% and //)
        g, hazards = grad_and_hazards(f, X0)
    if hazards:
        return
    np.testing.assert_allclose(g, fd1, rtol=tol, atol=tol, err_msg=f"{forms}")


FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


@FUZZ
@given(op=st.sampled_from(sorted(BINARY)), fa=FORMS, fb=FORMS, call=st.booleans())
def test_fuzz_binary_operators(op, fa, fb, call):
    def program(x, ref):
        return BINARY[op][call](build(fa, x, 0, ref), build(fb, x, 1, ref))

    check_program(program, (fa, fb))


@FUZZ
@given(op=st.sampled_from(sorted(INPLACE)), fb=FORMS, target=st.sampled_from(["nd", "f64"]),
       call=st.booleans())
def test_fuzz_inplace_operators(op, fb, target, call):
    def program(x, ref):
        y = build(target, x, 0, ref)
        y = y.copy() if isinstance(y, np.ndarray) else y
        return INPLACE[op][call](y, build(fb, x, 1, ref))

    check_program(program, (fb,))


@FUZZ
@given(fn=st.sampled_from(sorted(FUNCS)), fa=FORMS, fb=FORMS)
def test_fuzz_functions(fn, fa, fb):
    def program(x, ref):
        return FUNCS[fn](build(fa, x, 0, ref), build(fb, x, 2, ref))

    check_program(program, (fa, fb))


@FUZZ
@given(fa=FORMS, unary=st.sampled_from(["neg", "pos", "abs"]))
def test_fuzz_unary(fa, unary):
    op = {"neg": operator.neg, "pos": operator.pos, "abs": abs}[unary]

    def program(x, ref):
        a = build(fa, x, 1, ref)
        if isinstance(a, list | tuple):
            a = np.asarray(a)
        return op(a) * x[0]

    check_program(program, (fa,))
