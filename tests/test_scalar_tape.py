"""The C step loop for real scalar nodes (capture/_scalar_tape.c, framead/reverse.py
``_run_steps``): cotangents bit-identical, of the same types, to the Python step loop's;
errors, missing cotangents and higher order as before."""

from __future__ import annotations

import math
import re
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import framead
from framead import reverse

pytestmark = pytest.mark.skipif(reverse._scalar_tape is None,
                                reason="the _scalar_tape extension is not built")


def _bits(x):
    return None if x is None else (type(x), struct.pack("<d", float(x)))


def _backward(f, args, c: bool, seed=1.0):
    """The raw reverse-pass cotangents of ``f``'s inputs (types as the pass leaves them), and
    how many nodes the C loop took."""
    t = framead.trace(f, *args)
    bw = reverse.Backward(t.graph, t.wrt, compiled=False)
    out = t.graph.outputs[0]
    taken = [0]
    run = reverse._scalar_tape.run

    def counting(nodes, k, ct, ops):
        r = run(nodes, k, ct, ops)
        taken[0] += r - k
        return r

    old = reverse.SCALAR_C
    reverse.SCALAR_C = c
    reverse._scalar_tape.run = counting
    try:
        return bw({out.id: seed}), taken[0]
    finally:
        reverse.SCALAR_C = old
        reverse._scalar_tape.run = run


def _same(f, *args, seed=1.0, min_taken=1):
    py, n_py = _backward(f, args, c=False, seed=seed)
    cc, n_c = _backward(f, args, c=True, seed=seed)
    assert n_py == 0 and n_c >= min_taken
    assert [_bits(g) for g in cc] == [_bits(g) for g in py]
    return cc


# --- programs of random scalar operations -------------------------------------------------

_UNARY = {
    "neg": lambda a: -a, "pos": lambda a: +a, "sin": math.sin, "cos": math.cos,
    "exp": lambda a: math.exp(math.tanh(a)), "sq": lambda a: a ** 2, "cube": lambda a: a ** 3,
    "p5": lambda a: a ** 5, "p1": lambda a: a ** 1, "tanh": math.tanh,
    "sqrt": lambda a: math.sqrt(a * a + 0.5), "log": lambda a: math.log(a * a + 0.25),
    "sinh": lambda a: math.sinh(math.sin(a)), "cosh": lambda a: math.cosh(math.cos(a)),
    "log1p": lambda a: math.log1p(a * a), "expm1": lambda a: math.expm1(math.sin(a)),
    "tan": lambda a: math.tan(math.sin(a)), "atan": math.atan,
    "log2": lambda a: math.log2(a * a + 1.0), "log10": lambda a: math.log10(a * a + 1.0),
}
_BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 0.5), "rdiv": lambda a, b: a / b,
}
_OPS = sorted(_UNARY) + sorted(_BINARY)


def _program(ops):
    def f(*xs):
        pool = list(xs)
        for name, i, j, c in ops:
            a, b = pool[i % len(pool)], pool[j % len(pool)]
            if name in _UNARY:
                pool.append(_UNARY[name](a))
            elif c is not None:  # a constant operand, on either side
                pool.append(_BINARY[name](a, c) if i % 2 else _BINARY[name](c, a))
            else:
                pool.append(_BINARY[name](a, b))
        return pool[-1] + pool[-2] * 0.5 if len(pool) > 1 else pool[-1]
    return f


_step = st.tuples(st.sampled_from(_OPS), st.integers(0, 50), st.integers(0, 50),
                  st.one_of(st.none(), st.sampled_from([2, -3, 0.5, 1.25, np.float64(1.5)])))
_x = st.floats(-3.0, 3.0, allow_nan=False).filter(lambda v: abs(v) > 1e-3)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_step, min_size=1, max_size=25),
       xs=st.lists(st.tuples(_x, st.booleans()), min_size=1, max_size=3),
       seed=st.sampled_from([1.0, np.float64(1.0), -0.75]))
def test_random_programs_bit_identical(ops, xs, seed):
    args = tuple(np.float64(v) if np64 else v for v, np64 in xs)
    f = _program(ops)
    try:
        with np.errstate(all="raise"):
            y = f(*args)
    except (ArithmeticError, ValueError, FloatingPointError):
        assume(False)
    assume(math.isfinite(y))
    py, _ = _backward(f, args, c=False, seed=seed)
    cc, _ = _backward(f, args, c=True, seed=seed)
    assert [_bits(g) for g in cc] == [_bits(g) for g in py]


@settings(max_examples=40, deadline=None)
@given(ops=st.lists(_step, min_size=1, max_size=12), x=_x, y=_x)
def test_random_programs_finite_differences(ops, x, y):
    f = _program(ops)
    try:
        v = f(x, y)
        grads = [(f(x + h, y) - f(x - h, y), f(x, y + h) - f(x, y - h))
                 for h in (1e-6,)][0]
    except (ArithmeticError, ValueError):
        assume(False)
    assume(math.isfinite(v) and abs(v) < 1e6)
    g = framead.grad(f, argnums=(0, 1))(x, y)
    for gi, d in zip(g, grads, strict=True):
        fd = d / 2e-6
        assume(abs(fd) < 1e4)
        assert gi == pytest.approx(fd, rel=1e-4, abs=1e-4)


# --- each formula, against the Python step, where it would be wrong if changed ------------

@pytest.mark.parametrize("name", _OPS)
@pytest.mark.parametrize("np64", [False, True])
def test_each_op(name, np64):
    x, y = (0.7, -1.3) if not np64 else (np.float64(0.7), np.float64(-1.3))
    if name in _UNARY:
        f = lambda a, b: _UNARY[name](a) * b  # noqa: E731
    else:
        f = lambda a, b: _BINARY[name](a, b) + 0.0 * b  # noqa: E731
    _same(f, x, y)
    _same(f, x, y, seed=np.float64(-2.5))


def test_types_follow_python():
    # float * float stays float; np.float64 anywhere makes np.float64; math.* gives float
    gx, gy = _same(lambda a, b: a * b + math.sin(a), 0.5, np.float64(2.0))
    assert type(gx) is np.float64 and type(gy) is float  # gy = 1.0 * 0.5
    gx, gy = _same(lambda a, b: a * b, 0.5, 2.0)
    assert type(gx) is float and type(gy) is float
    (gx,) = _same(lambda a: math.cos(a) * 1.0, np.float64(0.3))
    assert type(gx) is float  # -1.0 * math.sin(np.float64): a Python float


def test_accumulation_order():
    # (a + b) + c differs from a + (b + c) in the last bit for these: the C loop must add
    # cotangents in the step loop's order
    def f(x):
        a = x * 0.1
        b = x * 0.2
        c = x * 0.3
        return a * 1.0 + b * 1.0 + c * 1.0 + x * x
    _same(f, 0.7, min_taken=6)


def test_none_cotangent_stays_none():
    def f(x, y):
        z = y * 2.0  # no path from y's product to the output
        del z
        return x * 3.0
    (gx, gy), _ = _backward(f, (1.0, 2.0), c=True)
    assert gx == 3.0 and gy is None
    (py, _), (cc, _) = _backward(f, (1.0, 2.0), c=False), _backward(f, (1.0, 2.0), c=True)
    assert py == cc == [3.0, None]


def _raised(f, args, c: bool):
    old = reverse.SCALAR_C
    reverse.SCALAR_C = c
    try:
        with np.errstate(all="ignore"), pytest.raises(ArithmeticError) as e:
            framead.grad(f, argnums=tuple(range(len(args))))(*args)
        notes = [re.sub(r"framead-backward-\d+", "", n) for n in getattr(e.value, "__notes__", [])]
        return type(e.value), str(e.value), notes
    finally:
        reverse.SCALAR_C = old


def test_division_by_zero_raises_as_before():
    # np.float64 / 0.0 is inf in the forward; the VJP g / x1 with a float g and x1 == 0.0
    # raises ZeroDivisionError: the C loop hands the node back, the note names it
    f = lambda a, b: (a / b) * 1.0  # noqa: E731
    args = (np.float64(1.0), 0.0)
    py, cc = _raised(f, args, c=False), _raised(f, args, c=True)
    assert py == cc
    assert py[0] is ZeroDivisionError and any("the VJP of" in n for n in py[2])


def test_np_float64_division_by_zero_gives_inf_silently():
    # np.float64: the forward gives inf (NumPy warns), the VJP g / 0 gives inf, no error
    x = np.float64(2.0)
    with np.errstate(all="ignore"):
        py, _ = _backward(lambda a: a / (a - a), (x,), c=False)
        cc, _ = _backward(lambda a: a / (a - a), (x,), c=True)
    assert [_bits(g) for g in cc] == [_bits(g) for g in py]


def test_higher_order_not_through_c():
    f = lambda x: math.sin(x) * x ** 3 + math.tanh(x)  # noqa: E731
    x = 0.4
    d2 = framead.grad(framead.grad(f))(x)
    exact = (-math.sin(x) * x ** 3 + 6 * math.cos(x) * x ** 2 + 6 * x * math.sin(x)
             - 2 * math.tanh(x) * (1 - math.tanh(x) ** 2))
    assert d2 == pytest.approx(exact, rel=1e-12)
    old = reverse.SCALAR_C
    reverse.SCALAR_C = False
    try:
        assert framead.grad(framead.grad(f))(x) == d2
    finally:
        reverse.SCALAR_C = old


def test_forward_active_matches_python():
    from framead.ir import forward_active

    def f(x, y):
        a = [x * 2.0, (y, 3.0)]
        return math.sin(a[0]) + a[1][0] * x + np.sum(np.array([x, y]))
    t = framead.trace(f, 1.0, 2.0)
    for wrt in (t.wrt, t.wrt[:1], t.wrt[1:], []):
        assert reverse._scalar_tape.forward_active(t.graph.nodes, list(wrt)) == \
            forward_active(t.graph, list(wrt))
