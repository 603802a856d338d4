"""Traced float bytes reinterpreted as another kind (``x.view(np.int64)``, the Quake
inverse-square-root guess, sign-bit XOR, ``np.frombuffer(x, ...)``, ``np.ndarray(buffer=x)``):
framead does not follow values through bits, so each must report a hazard at the user's line
(strict mode raises) -- never a silently wrong gradient. Views of memory holding constants
stay silent and right. Checked against central differences of the native run.

Hypothesis draws the spelling of the reinterpretation, the integer/bytes dtype, what is done
with the bits (copied, arithmetic, XOR with zero), and the operand's rank (0-d item, 1-d, 2-d)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import framead
from framead import GradientHazard

H = 1e-6
KINDS = {"i8": np.int64, "u8": np.uint64, "u1": np.uint8, "b1": np.bool_, "V8": "V8",
         "i4x2": np.int32}
MAKE = {  # the bits of ``t`` (a traced float64 array) as ``dt``
    "view": lambda t, dt: t.view(dt),
    "view_kw": lambda t, dt: t.view(dtype=dt),
    "frombuffer": lambda t, dt: np.frombuffer(t, dtype=dt).reshape(-1),
    "ndarray_buffer": lambda t, dt: np.ndarray((t.nbytes // np.dtype(dt).itemsize,), dt,
                                               buffer=np.ascontiguousarray(t)),
}
USE = {  # what the program does with the bits (their values unchanged)
    "copy": lambda b: b.copy(),
    "plus0": lambda b: b + b.dtype.type(0) if b.dtype.kind in "iu" else b.copy(),
    "xor0": lambda b: b ^ b.dtype.type(0) if b.dtype.kind in "iub" else b.copy(),
    "astype_same": lambda b: b.astype(b.dtype),
}
SHAPES = {"0d": lambda x: x[:1].reshape(()), "1d": lambda x: x, "2d": lambda x: np.outer(x, x)}


def _program(make, kind, use, shape):
    def f(x):
        t = SHAPES[shape](x) * 1.0  # (a traced float64 array of that rank)
        bits = USE[use](MAKE[make](t, KINDS[kind]))  # the line reading the bits
        back = np.ascontiguousarray(bits).view(np.float64).reshape(t.shape)
        return float((back * t).sum())
    return f


def _fd(f, x):
    return np.array([(f(x + H * e) - f(x - H * e)) / (2 * H) for e in np.eye(len(x))])


@settings(max_examples=80, deadline=None, derandomize=True)
@given(make=st.sampled_from(sorted(MAKE)), kind=st.sampled_from(sorted(KINDS)),
       use=st.sampled_from(sorted(USE)), shape=st.sampled_from(sorted(SHAPES)),
       xs=st.lists(st.floats(0.2, 3.0), min_size=3, max_size=3))
def test_reinterpreted_float_bits_report(make, kind, use, shape, xs):
    assume(shape != "0d" or np.dtype(KINDS[kind]).itemsize == 8)  # (NumPy's 0-d rule)
    f = _program(make, kind, use, shape)
    x = np.array(xs)
    v, g = framead.value_and_grad(f)(x.copy())
    assert v == f(x.copy())
    hz = framead.trace(f, x.copy(), argnums=0).hazards
    # (FA104 where the bits are read; np.frombuffer, a call with no rule, FA101 at its line)
    assert any(h.code in ("FA104", "FA101") and h.loc.file == __file__ for h in hz), hz
    with pytest.raises(GradientHazard):
        framead.value_and_grad(f, strict=True)(x.copy())


def _quake(x):
    i = x.view(np.int64)
    g = (np.int64(0x5FE6EB50C7B537A9) - (i >> 1)).view(np.float64)
    return float((g * (1.5 - 0.5 * x * g * g)).sum())


def _sign_flip(x):
    return float(((x.view(np.uint64) ^ np.uint64(1 << 63)).view(np.float64) * x).sum())


def _scalar_item(x):
    return float(x[0].view(np.int64).copy().view(np.float64) * x[0])


@pytest.mark.parametrize("f", [_quake, _sign_flip, _scalar_item])
def test_bit_tricks_not_silent(f):
    x = np.array([0.7, 1.3])
    _, g = framead.value_and_grad(f)(x.copy())
    if not np.allclose(g, _fd(f, x), rtol=1e-4):
        assert framead.trace(f, x.copy(), argnums=0).hazards
        with pytest.raises(GradientHazard):
            framead.value_and_grad(f, strict=True)(x.copy())


UNTRACED = {
    "fresh_constant": lambda x: np.ones(3).view(np.int64).copy().view(np.float64),
    "floored": lambda x: np.floor(x).view(np.int64).copy().view(np.float64),
    "cut_in_place": lambda x: _floored_in_place(x.copy()).view(np.int64).copy()
    .view(np.float64),
    "roundtrip_view": lambda x: x.view(np.int64).view(np.float64),  # (the same values)
}


def _floored_in_place(a):
    np.floor_divide(a, 1.0, out=a)
    return a


@pytest.mark.parametrize("name", sorted(UNTRACED))
def test_views_of_constants_silent_and_right(name):
    def f(x):
        return float((UNTRACED[name](x) * x).sum())
    x = np.array([0.7, 1.3, 2.6])
    _, g = framead.value_and_grad(f, strict=True)(x.copy())
    np.testing.assert_allclose(g, _fd(f, x), rtol=1e-5, atol=1e-6)
    assert framead.trace(f, x.copy(), argnums=0).hazards == []
