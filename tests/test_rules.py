"""Every registered rule against finite differences, plus the registry and the checker.

``CASES`` holds representative inputs for every rule (a test fails when a rule has none);
hypothesis varies shapes (broadcasting included), axes, keys and values for the families.
The checker itself is tested on deliberately wrong rules: a checker that cannot fail is a
defect.
"""

from __future__ import annotations

import builtins
import math
import operator

import framead.rules as R
import numpy as np
import pytest
from framead.rules import builtin_rules, math_rules, numpy_rules
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from framead.ir import Meta

rng = np.random.default_rng(1234)
HYP = settings(max_examples=40, deadline=None)


def U(lo, hi, shape=(2, 3)):
    return rng.uniform(lo, hi, shape)


def S(lo, hi):
    return float(rng.uniform(lo, hi))


def signed(shape=(2, 3)):
    return U(0.2, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


# domain (lo, hi) per function name; default (-1.5, 1.5)
DOMAIN = {
    "log": (0.3, 2), "log2": (0.3, 2), "log10": (0.3, 2), "log1p": (-0.5, 2),
    "sqrt": (0.3, 2), "cbrt": (0.3, 2), "reciprocal": (0.3, 2), "tan": (-1.2, 1.2),
    "arcsin": (-0.9, 0.9), "arccos": (-0.9, 0.9), "arctanh": (-0.9, 0.9),
    "asin": (-0.9, 0.9), "acos": (-0.9, 0.9), "atanh": (-0.9, 0.9),
    "arccosh": (1.2, 3), "acosh": (1.2, 3), "fabs": None,
}
COMPLEX_OK = {np.exp, np.log, np.sin, np.cos, np.tan, np.sinh, np.cosh, np.tanh, np.sqrt,
              np.square, np.reciprocal, np.negative, np.positive, np.expm1, np.log1p, np.exp2,
              np.arctan, np.arcsinh, np.log10}


def unary_input(fn, shape=(2, 3)):
    lohi = DOMAIN.get(fn.__name__, (-1.5, 1.5))
    return signed(shape) if lohi is None else U(*lohi, shape)


def unary_cases():
    out = []
    for fn, _ in numpy_rules.UNARY:
        out += [(fn, (unary_input(fn),), {}), (fn, (float(unary_input(fn, ())),), {})]
        if fn in COMPLEX_OK:
            z = unary_input(fn, (3,)) + 0.3j * U(-1, 1, (3,))
            out.append((fn, (z,), {}))
    for fn, _ in math_rules.UNARY:
        out.append((fn, (float(unary_input(fn, ())),), {}))
    for fn, _ in builtin_rules.UNARY:
        out += [(fn, (unary_input(fn),), {}), (fn, (S(-1, 1),), {})]
    return out


BIN_INPUTS = {  # name -> (x sampler, y sampler)
    "power": ((0.5, 2), (-1.5, 2.5)), "float_power": ((0.5, 2), (-1.5, 2.5)),
    "pow": ((0.5, 2), (-1.5, 2.5)), "ipow": ((0.5, 2), (-1.5, 2.5)),
    "divide": ((-2, 2), (0.5, 2)), "truediv": ((-2, 2), (0.5, 2)),
    "itruediv": ((-2, 2), (0.5, 2)), "remainder": ((0.1, 3), (0.7, 1.3)),
    "mod": ((0.1, 3), (0.7, 1.3)), "imod": ((0.1, 3), (0.7, 1.3)),
    "fmod": ((-3, 3), (0.7, 1.3)),
}


def bin_inputs(name, xshape=(2, 3), yshape=(3,)):
    (a, b), (c, d) = BIN_INPUTS.get(name, ((-2, 2), (-2, 2)))
    return U(a, b, xshape), U(c, d, yshape)


def binary_cases():
    out = []
    for fn, *_ in numpy_rules.BINARY:
        x, y = bin_inputs(fn.__name__)
        xs, ys = bin_inputs(fn.__name__, (), ())
        out += [(fn, (x, y), {}), (fn, (float(xs), float(ys)), {}), (fn, (float(xs), y), {})]
    for fn, ifn, *_ in builtin_rules.BINARY:
        x, y = bin_inputs(fn.__name__)
        xs, ys = bin_inputs(fn.__name__, (), ())
        out += [(fn, (x, y), {}), (fn, (float(xs), float(ys)), {}),
                (ifn, (x, y), {}), (ifn, (float(xs), float(ys)), {})]
    for fn, *_ in math_rules.BINARY:
        xs, ys = bin_inputs(fn.__name__, (), ())
        out.append((fn, (float(xs), float(ys)), {}))
    return out


X = U(-1, 1)
Y3 = U(-1, 1, (3,))
ZC = U(-1, 1, (3,)) + 1j * U(-1, 1, (3,))
WITH_ZEROS = np.array([[0.0, 2.0, 3.0], [1.5, 0.0, 0.0], [0.5, -1.0, 2.0]])
attr = R.lookup_attr

OTHER_CASES = [
    # math
    (math.log, (0.7,), {}), (math.log, (0.7, 3.0), {}), (math.hypot, (0.3, -0.4, 1.2), {}),
    (math.fabs, (-0.3,), {}), (math.fsum, ([0.3, 1.5, 2, -0.7],), {}),
    (math.prod, ([0.3, 0.0, 2.0, 1.5],), {}), (math.prod, ([0.3, 1.1, 2.0],), {"start": 2.0}),
    *([(math.sumprod, ([0.3, 1.5, -0.7], [1.1, 2.0, 0.4]), {})]  # 3.12+
      if hasattr(math, "sumprod") else []),
    (math.floor, (2.3,), {}), (math.ceil, (2.3,), {}), (math.trunc, (-2.3,), {}),
    # operator and builtins
    (operator.neg, (ZC,), {}), (operator.abs, (X,), {}), (operator.abs, (-0.3,), {}),
    (operator.abs, (ZC,), {}), (builtins.abs, (X,), {}), (builtins.abs, (1.0 - 2.0j,), {}),
    (operator.mul, (ZC, ZC[::-1]), {}),
    (operator.matmul, (U(-1, 1, (2, 3)), U(-1, 1, (3, 4))), {}),
    (operator.imatmul, (U(-1, 1, (2, 3)), U(-1, 1, (3, 3))), {}),
    (operator.getitem, (X, (1, slice(0, 2))), {}),
    (operator.getitem, (X, (slice(None), [0, 0, 2])), {}),
    (operator.getitem, (X, X > 0), {}), (operator.getitem, (X, (..., None, 1)), {}),
    (operator.getitem, (U(-1, 1, (3,)), 1), {}),
    (operator.getitem, (U(-1, 1, (3, 2, 2)), ([0, 2, 0], slice(None), [1, 1, 0])), {}),
    (operator.floordiv, (2.3, 0.7), {}), (operator.ifloordiv, (X + 3.1, 0.7), {}),
    (operator.lt, (0.3, 0.5), {}), (operator.le, (0.3, 0.5), {}), (operator.eq, (0.3, 0.5), {}),
    (operator.ne, (0.3, 0.5), {}), (operator.ge, (X, 0.5), {}), (operator.gt, (X, 0.5), {}),
    (builtins.int, (2.3,), {}), (builtins.round, (2.3,), {}), (builtins.round, (2.346, 1), {}),
    (builtins.pow, (0.7, 2.3), {}), (builtins.pow, (X + 2, 3), {}),
    (builtins.divmod, (2.3, 0.7), {}), (builtins.divmod, (U(0.1, 3), U(0.7, 1.3, (3,))), {}),
    (builtins.sum, ([0.3, X, 2.0, 1, Y3],), {}), (builtins.sum, ([0.3, -1.2], 0.5), {}),
    (builtins.float, (np.float64(0.3),), {}), (builtins.float, (np.array(0.3),), {}),
    (builtins.complex, (0.3, 0.5), {}), (builtins.complex, (0.3,), {}),
    (builtins.complex, (0.3 + 1j, 0.5 - 2j), {}),
    # numpy elementwise specials
    (np.absolute, (X,), {}), (np.absolute, (ZC,), {}), (np.conjugate, (ZC,), {}),
    (np.clip, (X, -0.5, U(0.2, 0.6, (3,))), {}), (np.clip, (X, None, 0.3), {}),
    (np.clip, (X,), {"min": -0.3}),
    (np.where, (X > 0, X, Y3), {}), (np.where, (X > 0, 2.0, Y3), {}),
    (np.divmod, (U(0.1, 3), U(0.7, 1.3, (3,))), {}), (np.sin, (X,), {"where": X > 0, "out": X * 0}),
    (np.floor, (U(0.1, 0.9) + 2,), {}), (np.ceil, (U(0.1, 0.9),), {}), (np.sign, (signed(),), {}),
    (np.trunc, (U(0.1, 0.9) - 3,), {}), (np.rint, (U(0.1, 0.4),), {}), (np.fix, (U(0.1, 0.9),), {}),
    (np.round, (U(0.1, 0.4),), {}), (np.around, (U(1.01, 1.04), 1), {}),
    (np.floor_divide, (U(0.1, 0.9) + 2, 1.0), {}), (np.zeros_like, (X,), {}),
    (np.ones_like, (X,), {}), (np.empty_like, (X[:0],), {}), (np.zeros, ((2, 3),), {}),
    (np.ones, (3,), {}), (np.empty, (2,), {}),
    # reductions
    (np.sum, (X,), {}), (np.sum, (X,), {"axis": 0}), (np.sum, (X, (0, 1), None, None, True), {}),
    (np.sum, (X,), {"axis": 1, "where": X > 0}), (np.sum, (2.5,), {}),
    (np.mean, (X,), {"axis": -1, "keepdims": True}), (np.mean, (X,), {"where": X > -0.5}),
    (np.prod, (WITH_ZEROS,), {"axis": 1}), (np.prod, (WITH_ZEROS,), {"axis": 0}),
    (np.prod, (WITH_ZEROS[2],), {}), (np.prod, (X,), {"axis": (0, 1), "keepdims": True}),
    (np.prod, (X,), {"initial": 2.0, "where": X > 0}),
    (np.max, (X,), {"axis": 1}), (np.min, (X,), {}), (np.amax, (X,), {"keepdims": True}),
    (np.amin, (X,), {"axis": 0}), (np.max, (np.array([1.0, 3.0, 3.0, 2.0]),), {}),
    # products
    (np.dot, (Y3, Y3 + 1), {}), (np.dot, (X, Y3), {}), (np.dot, (U(-1, 1, (2,)), X), {}),
    (np.dot, (X, U(-1, 1, (3, 4))), {}), (np.dot, (U(-1, 1, (2, 2, 3)), U(-1, 1, (2, 3, 2))), {}),
    (np.dot, (1.5, X), {}), (np.dot, (X, 2.5), {}), (np.dot, (ZC, ZC[::-1]), {}),
    (np.matmul, (X, Y3), {}), (np.matmul, (Y3, U(-1, 1, (3, 2))), {}), (np.matmul, (Y3, Y3), {}),
    (np.matmul, (U(-1, 1, (2, 1, 2, 3)), U(-1, 1, (3, 3, 2))), {}),
    # shapes and construction
    (np.reshape, (X, (3, 2)), {}), (np.reshape, (X, (3, 2)), {"order": "F"}),
    (np.ravel, (X,), {}), (np.ravel, (X, "F"), {}), (np.ravel, (X.T, "K"), {}),
    (np.ravel, (np.asfortranarray(X), "A"), {}), (np.ravel, (X[::-1, ::2].T, "K"), {}),
    (np.ndarray.ravel, (U(-1, 1, (2, 3, 2)).transpose(1, 2, 0),), {"order": "K"}),
    (np.ndarray.flatten, (np.asfortranarray(X),), {"order": "A"}), (np.transpose, (X,), {}),
    (np.transpose, (U(-1, 1, (2, 3, 2)), (1, -1, 0)), {}), (np.copy, (X,), {}),
    (np.real, (ZC,), {}), (np.imag, (ZC,), {}), (np.imag, (X,), {}),
    (np.array, ([[0.3, 1], [Y3[0], 2.5]],), {}), (np.array, ([X, X * 2],), {}),
    (np.array, ([0.3, 1.5],), {"ndmin": 3}), (np.array, (0.7,), {"dtype": np.complex128}),
    (np.asarray, (X,), {}), (np.asarray, ((0.3, [0.1, 0.2][1]),), {}),
    (np.concatenate, ([X, X[:1], [[0.5, 1, 2.0]]],), {}),
    (np.concatenate, ((X, Y3),), {"axis": None}), (np.concatenate, ([X, X],), {"axis": 1}),
    (np.stack, ((Y3, Y3 * 2),), {"axis": 1}), (np.stack, ([X, X, X],), {"axis": -1}),
    # ndarray methods and attributes
    (np.ndarray.sum, (X, 1), {}), (np.ndarray.mean, (X,), {}), (np.ndarray.prod, (X,), {}),
    (np.ndarray.max, (X,), {"axis": 0}), (np.ndarray.min, (X,), {}),
    (np.ndarray.dot, (X, Y3), {}), (np.ndarray.copy, (X,), {}), (np.ndarray.conj, (ZC,), {}),
    (np.ndarray.conjugate, (ZC,), {}),
    (np.ndarray.reshape, (X, 3, 2), {}), (np.ndarray.reshape, (X, (6,)), {"order": "F"}),
    (np.ndarray.transpose, (U(-1, 1, (2, 3, 2)), 2, 0, 1), {}),
    (np.ndarray.transpose, (X,), {}), (np.ndarray.transpose, (X, (1, 0)), {}),
    (np.ndarray.ravel, (X,), {}), (np.ndarray.flatten, (X, "F"), {}),
    (np.ndarray.astype, (X, np.complex128), {}), (np.ndarray.astype, (ZC, np.float64), {}),
    (np.ndarray.astype, (X.astype(np.float32), np.float64), {}),
    (np.ndarray.item, (X, 4), {}), (np.ndarray.item, (X, (1, 2)), {}),
    (np.ndarray.item, (np.array([0.3]),), {}), (np.ndarray.tolist, (X,), {}),
    (np.ndarray.tolist, (np.array(0.3),), {}),
    (attr(np.ndarray, "T"), (X,), {}), (attr(np.ndarray, "real"), (ZC,), {}),
    (attr(np.ndarray, "imag"), (ZC,), {}), (attr(complex, "real"), (1 + 2j,), {}),
    (attr(complex, "imag"), (1 + 2j,), {}), (attr(float, "imag"), (0.3,), {}),
    (attr(np.float64, "real"), (np.float64(0.3),), {}),
]

# NumPy's scalar types as conversions (issue 11); casts to lower precision are checked with
# a wide finite-difference step (exact for a linear map; float16 rounds at 5e-4)
LOSSY_CASTS = {np.float32: (1e-2, 1e-3), np.complex64: (1e-2, 1e-3), np.float16: (1e-1, 1e-2)}
CAST_CASES = [(t, (a,), {}) for t in (np.float64, np.longdouble, np.complex128, np.clongdouble,
                                      *LOSSY_CASTS) for a in (X, 0.3, np.float64(0.3))] + [
    (np.complex128, (ZC,), {}), (np.float64, (np.array(0.3),), {}),
    *[(t, (X,), {}) for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                              np.uint32, np.uint64, np.longlong, np.ulonglong, np.bool_)]]

CASES = unary_cases() + binary_cases() + OTHER_CASES + CAST_CASES


def _rule_of(fn):
    return fn if isinstance(fn, R.Rule) else R.resolve(fn)[0]


def _id(case):
    return _rule_of(case[0]).name


@pytest.mark.parametrize("fn,args,kwargs", CASES, ids=[_id(c) for c in CASES])
def test_rule_matches_finite_differences(fn, args, kwargs):
    if isinstance(fn, type) and fn in LOSSY_CASTS:
        eps, rtol = LOSSY_CASTS[fn]
        assert R.check_rule(fn, args, kwargs, eps=eps, rtol=rtol, atol=1e-4).ok
        return
    report = R.check(fn, *args, **kwargs)
    assert report.ok


def test_every_rule_has_a_case():
    """The core modules' rules; test_rules_library checks the whole library."""
    covered = {id(_rule_of(c[0])) for c in CASES}
    core = [r for m in ("math_rules", "builtin_rules", "numpy_rules")
            for r in R.library_rules(m)]
    from test_rules_library import CASES as LIBRARY_CASES

    covered |= {id(_rule_of(c[0])) for c in LIBRARY_CASES}
    missing = [r.name for r in core if id(r) not in covered]
    assert not missing, f"rules without a test case: {missing}"


def test_rule_count_and_listing():
    rules = list(R.iter_rules())
    assert len(rules) == len({id(r) for r in rules}) >= 150
    assert all(isinstance(r.name, str) and r.name for r in rules)
    assert set(map(id, R.library_rules())) <= set(map(id, rules))
    callables = R.ruled_callables()
    assert np.sin in callables and np.ndarray.sum in callables and operator.add in callables


# --- hypothesis: families over shapes, axes, keys ----------------------------------------------

def _arr(shape, lo, hi):
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi, allow_nan=False))


BROADCAST_FNS = [np.add, np.subtract, np.multiply, np.divide, np.power, np.arctan2, np.hypot,
                 np.logaddexp, np.maximum, np.fmin, operator.add, operator.mul,
                 operator.truediv, operator.pow, np.where]


@HYP
@given(fn=st.sampled_from(BROADCAST_FNS), data=st.data(),
       shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
def test_broadcasting_binary(fn, data, shapes):
    xs, ys = shapes.input_shapes
    x = data.draw(_arr(xs, 0.5, 2.0))
    y = data.draw(_arr(ys, 0.5, 2.0))
    if fn is np.where:
        R.check(fn, x > 1.2, x, y)
        return
    if fn in (np.maximum, np.fmin):  # a tie is a kink: no derivative to check there
        y = np.where(np.abs(np.broadcast_to(x, np.broadcast(x, y).shape) - y) < 1e-3,
                     y + 0.25, y)
    R.check(fn, x, y)


UNARY_FNS = [fn for fn, _ in numpy_rules.UNARY]


@HYP
@given(fn=st.sampled_from(UNARY_FNS), data=st.data(),
       shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=3))
def test_unary_ufuncs(fn, data, shape):
    lohi = DOMAIN.get(fn.__name__, (-1.5, 1.5)) or (0.2, 1.5)
    x = data.draw(_arr(shape, *lohi))
    R.check(fn, x)


@HYP
@given(fn=st.sampled_from([np.sum, np.mean, np.prod, np.max, np.ndarray.sum]), data=st.data(),
       shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), keepdims=st.booleans())
def test_reductions(fn, data, shape, keepdims):
    axis = data.draw(st.none() | hnp.valid_tuple_axes(len(shape), min_size=1)
                     | st.integers(-len(shape), len(shape) - 1))
    # distinct values on a lattice: ties (the split is a convention) and near-ties (finite
    # differences straddle them) are tested elsewhere
    elements = st.integers(-40, 40).map(lambda k: k / 16)
    x = data.draw(hnp.arrays(np.float64, shape, elements=elements, unique=fn is np.max))
    R.check(fn, x, axis=axis, keepdims=keepdims)


@HYP
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
def test_getitem_keys(data, shape):
    x = data.draw(_arr(shape, -2.0, 2.0))
    key = data.draw(hnp.basic_indices(shape, allow_newaxis=True)
                    | hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(max_side=4)))
    R.check(operator.getitem, x, key)


@HYP
@given(data=st.data(), na=st.integers(1, 3), nb=st.integers(1, 3), fn=st.sampled_from(
    [np.dot, np.matmul]))
def test_dot_matmul_shapes(data, na, nb, fn):
    k, n, m = data.draw(st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)))
    batch = data.draw(st.lists(st.integers(1, 2), max_size=1))
    ashape = (n, k)[2 - na:] if na <= 2 else tuple(batch or [2]) + (n, k)
    bshape = (k, m)[2 - nb:] if nb <= 2 else tuple(batch or [2]) + (k, m)
    if na == 1:
        ashape = (k,)
    if nb == 1:
        bshape = (k,)
    R.check(fn, data.draw(_arr(ashape, -1, 1)), data.draw(_arr(bshape, -1, 1)))


@HYP
@given(fn=st.sampled_from([f for f, _ in math_rules.UNARY]), data=st.data())
def test_math_unary(fn, data):
    lohi = DOMAIN.get(fn.__name__, (-1.5, 1.5)) or (0.2, 1.5)
    R.check(fn, data.draw(st.floats(*lohi)))


def test_float32_inputs_are_promoted():
    R.check(np.tanh, U(-1, 1).astype(np.float32))
    R.check(np.multiply, np.float32(0.5), U(-1, 1, (3,)).astype(np.float32))


# --- the checker fails on wrong rules ----------------------------------------------------------

def _fails(rule, *args, match=None, **kwargs):
    with pytest.raises(R.RuleCheckError) as info:
        R.check(rule, *args, **kwargs)
    if match:
        assert match in str(info.value), str(info.value)
    return info.value.report


def test_check_catches_wrong_derivative():
    bad = R.make_rule(np.sin, vjp=(lambda g, ans, x, **k: g * np.sin(x),), saves={0: (0,)})
    report = _fails(bad, U(0.2, 1), match="vjp  x")
    assert report.failures[0].max_abs_err > 1e-2


def test_check_catches_wrong_jvp():
    bad = R.make_rule(np.sin, vjp=(lambda g, ans, x, **k: g * np.cos(x),),
                      jvp=(lambda t, ans, x, **k: t * np.sin(x),), saves={0: (0,)})
    _fails(bad, U(0.2, 1), match="jvp")


def test_check_catches_read_of_unsaved_argument():
    bad = R.make_rule(np.multiply, vjp=(lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x),
                      saves={0: (), 1: (0,)}, elementwise=True)
    _fails(bad, X, Y3, match="saves[0]")


def test_check_catches_missing_unbroadcast():
    bad = R.make_rule(np.add, vjp=(lambda g, ans, x, y: g, lambda g, ans, x, y: g),
                      saves={0: (), 1: ()})
    _fails(bad, X, Y3, match="shape")


def test_check_catches_wrong_argument_of_several():
    bad = R.make_rule(np.divide, vjp=(lambda g, ans, x, y: g / y, lambda g, ans, x, y: g / y),
                      saves={0: (1,), 1: (1,)}, elementwise=True)
    report = _fails(bad, X, Y3 + 2)
    assert [e.arg for e in report.failures] == ["x2"]


def test_check_catches_conjugated_complex_convention():
    bad = R.make_rule(np.exp, vjp=(lambda g, ans, x: g * np.conj(ans),), saves={0: ("ans",)})
    _fails(bad, ZC)
    bad_abs = R.make_rule(np.abs, vjp=(lambda g, ans, x: g * x / np.abs(x),), saves={0: (0,)})
    _fails(bad_abs, ZC)


def test_check_catches_complex_cotangent_of_real_input():
    bad = R.make_rule(np.sin, vjp=(lambda g, ans, x: g * np.cos(x) + 0j,), saves={0: (0,)})
    _fails(bad, X, match="real")


def test_check_catches_false_cut_and_missing_vjp():
    _fails(R.make_rule(np.sin, cut=True), X, match="cut")
    half = R.make_rule(np.multiply, vjp=(lambda g, ans, x, y: g * y,), saves={0: (1,)})
    _fails(half, X, X + 1, match="cut  x2")


def test_check_catches_array_cotangent_for_float():
    bad = R.make_rule(math.sin, vjp=(lambda g, ans, x: np.array(g * math.cos(x)),),
                      saves={0: (0,)})
    _fails(bad, 0.3, match="scalar")


def test_check_catches_vjp_that_mutates_and_that_raises():
    def mutating(g, ans, x):
        x *= 2
        return g

    _fails(R.make_rule(np.positive, vjp=(mutating,), saves={0: (0,)}), X, match="mutated")
    _fails(R.make_rule(np.positive, vjp=(lambda g, ans, x: 1 / 0,), saves={0: ()}), X,
           match="ZeroDivisionError")


def test_check_catches_wrong_container_cotangent():
    bad = R.make_rule(builtins.sum, vjp=(lambda g, ans, items, start=0: [g] * (len(items) - 1),),
                      saves={0: ()}, containers=(0,))
    _fails(bad, [0.3, 0.4, 0.5], match="iterable[2]")


def test_check_reports_lookup_and_size_errors():
    with pytest.raises(LookupError):
        R.check(lambda x: x, 1.0)
    with pytest.raises(ValueError, match="elements"):
        R.check(np.sin, np.ones(1000))


# --- registration validation ------------------------------------------------------------------

@pytest.mark.parametrize("spec,match", [
    (dict(vjp=(lambda g, ans: g,)), "positional"),
    (dict(vjp=(lambda g, ans, x: g, lambda g, ans, x: g)), "positional"),
    (dict(vjp=(lambda g, ans, x, y, z, w: g,)), "at most 2"),
    (dict(vjp=(lambda g, ans, x, y: g,), saves={1: ()}), "no vjp"),
    (dict(vjp=(lambda g, ans, x, y: g, lambda g, ans, x, y: g), saves={0: ()}), "no entry"),
    (dict(vjp=(lambda g, ans, x, y: g,), saves={0: (5,)}), "argnum"),
    (dict(vjp=lambda g, ans, x, y: (g, g), saves={0: (0,), 1: (1,)}), "joint"),
    (dict(vjp=(lambda g, ans, x, y: g,), cut=True), "contradicts"),
    (dict(), "cut=True"),
    (dict(vjp=(lambda g, ans, x, y: g,), nondiff=(0,)), "nondiff"),
    (dict(vjp=(lambda g, ans, x, y: g,), saves=[0]), "dict"),
])
def test_register_validates(spec, match):
    with pytest.raises(R.RuleError, match=match):
        R.make_rule(operator.add, **spec)


def test_register_duplicate_and_replace_and_unregister():
    def myfn(x):
        return 2 * x

    gen = R.generation()
    rule = R.register(myfn, vjp=(lambda g, ans, x: 2 * g,), saves={0: ()})
    assert R.generation() > gen
    try:
        assert R.lookup(myfn) is rule and rule.name.endswith("myfn")
        with pytest.raises(R.RuleError, match="already"):
            R.register(myfn, vjp=(lambda g, ans, x: 2 * g,), saves={0: ()})
        R.check(myfn, X)
        new = R.register(myfn, vjp=(lambda g, ans, x: 2 * g,), saves={0: ()}, replace=True)
        assert R.lookup(myfn) is new
    finally:
        R.unregister(myfn)
    assert R.lookup(myfn) is None


def test_defunary_names_give_saves_and_bad_names_fail():
    assert R.lookup(np.exp).saves == {0: ("ans",)}
    assert R.lookup(np.sin).saves == {0: (0,)}
    assert R.lookup(np.multiply).saves == {0: (1,), 1: (0,)}
    assert R.lookup(np.add).saves == {0: (), 1: ()}
    with pytest.raises(R.RuleError, match="parameters"):
        R.defunary(lambda x: x, lambda z: z)
    with pytest.raises(R.RuleError, match="names neither"):
        R.defbinary(lambda x, y: x * y, "z", "x")


# --- lookup -----------------------------------------------------------------------------------

def test_methods_share_function_rules_and_bound_methods_resolve():
    x = np.ones(3)
    assert R.lookup(np.ndarray.sum) is R.lookup(np.sum)
    rule, owner = R.resolve(x.sum)
    assert rule is R.lookup(np.sum) and owner is x
    assert R.resolve(np.sum)[1] is R.NO_SELF
    assert R.lookup(x.sum) is None  # bound: the caller must prepend self (resolve does)
    assert R.resolve(x.reshape)[0].name == "ndarray.reshape"
    assert R.lookup_method(np.memmap, "sum") is R.lookup(np.sum)  # MRO
    assert R.lookup(math.sin).name == "math.sin" and R.lookup(np.sin).name == "np.sin"
    assert R.lookup(operator.mul).name == "operator.mul"
    assert R.lookup(sum).name == "builtins.sum" and R.lookup(len) is None


def test_attribute_rules():
    assert attr(np.float64, "real").name == "attr.real"
    assert attr(np.ndarray, "T").aliases == {0: 0}
    assert attr(np.ndarray, "shape") is None
    assert attr(complex, "imag") is attr(np.complex128, "imag")


def test_metadata():
    assert R.lookup(operator.iadd).mutates == (0,) and R.lookup(operator.add).mutates == ()
    assert R.lookup(np.floor).cut and R.lookup(int).cut and R.lookup(int).hazard
    assert R.lookup(np.where).nondiff == (0,)
    assert R.lookup(np.sum).argnames[:2] == ("a", "axis")
    assert R.lookup(divmod).multi and R.lookup(np.ndarray.tolist).multi
    assert R.lookup(sum).containers == (0,) and R.lookup(np.array).containers == (0,)
    assert R.lookup(math.hypot).joint and R.lookup(math.hypot).saves is None


# --- helpers and conventions ------------------------------------------------------------------

def test_unbroadcast_shapes_and_kinds():
    g = np.ones((2, 3))
    assert R.unbroadcast(g, np.ones(3)).tolist() == [2.0, 2.0, 2.0]
    assert R.unbroadcast(g, np.ones((2, 1))).shape == (2, 1)
    assert type(R.unbroadcast(g, 1.0)) is float and R.unbroadcast(g, 1.0) == 6.0
    assert type(R.unbroadcast(g, np.float32(1))) is np.float64
    assert R.unbroadcast(g, Meta((1, 3), np.float64)).shape == (1, 3)
    assert R.unbroadcast(np.array([1 + 2j]), 1.0) == 1.0
    assert R.unbroadcast(np.array([1 + 2j]), np.ones(1, complex))[0] == 1 + 2j


def test_call_vjp_unbroadcasts_and_call_jvp_fills():
    rule = R.lookup(np.multiply)
    cts = rule.call_vjp(np.ones((2, 3)), None, (Meta((2, 3), np.float64), Y3), argnums=(0,))
    assert cts[0].shape == (2, 3) and cts[1] is None
    cts = rule.call_vjp(np.ones((2, 3)), None, (X, Y3), argnums=(1,))
    assert cts[0] is None and np.allclose(cts[1], X.sum(0))
    t = rule.call_jvp((None, np.ones(3)), X * Y3, (X, Y3))
    assert t.shape == (2, 3) and np.allclose(t, X)
    assert R.lookup(np.sin).call_jvp((None,), np.sin(X), (X,)).shape == (2, 3)
    q, r = R.lookup(divmod).call_jvp((1.0, None), divmod(2.3, 0.7), (2.3, 0.7))
    assert q == 0.0 and r == 1.0
    x = np.arange(4.0).reshape(2, 2)
    t = R.lookup(np.ndarray.tolist).call_jvp((np.ones((2, 2)),), x.tolist(), (x,))
    assert t == [[1.0, 1.0], [1.0, 1.0]]
    zero = R.lookup(np.floor).call_jvp((np.ones(3),), np.zeros(3), (np.ones(3),))
    assert zero.tolist() == [0.0] * 3


def test_prod_with_zeros_is_exact():
    ct = R.lookup(np.prod).vjp[0](1.0, 0.0, np.array([0.0, 2.0, 3.0]))
    assert ct.tolist() == [6.0, 0.0, 0.0]
    ct = R.lookup(np.prod).vjp[0](1.0, 0.0, np.array([0.0, 2.0, 0.0]))
    assert ct.tolist() == [0.0, 0.0, 0.0]


def test_getitem_scatter_accumulates_repeats():
    ct = R.lookup(operator.getitem).vjp[0](np.ones(3), None, Meta((2,), np.float64), [0, 0, 1])
    assert ct.tolist() == [2.0, 1.0]


def test_sum_and_array_container_conventions():
    items = [0.5, Meta((3,), np.float64), 2, np.float64(1.0)]
    cts = R.lookup(sum).vjp[0](np.ones(3), None, items, 0.0)
    assert cts[0] == 3.0 and type(cts[0]) is float and cts[1].shape == (3,) and cts[2] is None
    assert type(cts[3]) is np.float64
    obj = [[0.5, 1], (Meta((), np.float64, float), 2.0)]
    ct = R.lookup(np.array).vjp[0](np.arange(4.0).reshape(2, 2), None, obj)
    assert ct == [[0.0, None], (2.0, 3.0)] and isinstance(ct[1], tuple)


def test_max_ties_split_and_derivative_singularities_do_not_raise():
    ct = R.lookup(np.max).vjp[0](1.0, 3.0, np.array([1.0, 3.0, 3.0]))
    assert ct.tolist() == [0.0, 0.5, 0.5]
    assert R.lookup(math.sqrt).vjp[0](1.0, 0.0, 0.0) == math.inf
    assert R.lookup(operator.pow).vjp[0](1.0, 0.0, 0.0, 0.5) == math.inf
    assert R.lookup(operator.pow).vjp[1](1.0, 0.0, 0.0, 2.0) == 0.0
    assert R.lookup(operator.pow).vjp[0](1.0, 1.0, 3.0, 0) == 0.0


def test_library_modules_stay_small():
    import importlib
    import inspect

    for name in ("math_rules", "builtin_rules", "numpy_rules", "check", "shapes", "families",
                 "registry"):
        module = importlib.import_module(f"framead.rules.{name}")
        assert len(inspect.getsource(module).splitlines()) < 620, name
