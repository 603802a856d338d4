"""Object arrays made from traced numbers by a Python number class's operators, then used
again: ``(x * Fraction(1, 3) + Fraction(1, 2)).astype(float)``. The second operator runs the
class's Python method on each item (NumPy's object loop, instrumented), so the items are
traced; the object array it returns is held as a container of them (capture/handlers.py,
the operand's own Python operator), so NumPy's C conversions (astype, asarray) see them.
Before, the conversion gave constants with no hazard (classics7
fraction_constants_with_arrays). Checked against central differences."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from conftest import fd_grad
from hypothesis import given, settings
from hypothesis import strategies as st

import framead


class Num:
    """A user number with Python operators (NumPy knows nothing of it)."""

    def __init__(self, v):
        self.v = v

    def __radd__(self, other):
        return other + self.v

    def __rmul__(self, other):
        return other * self.v

    __add__, __mul__ = __radd__, __rmul__


_CONSTS = {"fraction": (Fraction(1, 3), Fraction(1, 2)), "user": (Num(0.25), Num(1.5))}
_SECOND = {"add": lambda o, c: o + c, "mul": lambda o, c: o * c, "radd": lambda o, c: c + o,
           "twice": lambda o, c: (o + c) * c}
_CONVERT = {"astype": lambda p: p.astype(float), "asarray": lambda p: np.asarray(p, float),
            "array": lambda p: np.array(p, dtype=float), "list": lambda p: np.array(list(p))}


def _program(consts, second, convert):
    c1, c2 = _CONSTS[consts]

    def f(x):
        p = _SECOND[second](np.exp(x) * c1, c2)
        return float(_CONVERT[convert](p).sum() + x[0] * x[1])
    return f


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(consts=st.sampled_from(sorted(_CONSTS)), second=st.sampled_from(sorted(_SECOND)),
       convert=st.sampled_from(sorted(_CONVERT)),
       xs=st.lists(st.floats(-1.0, 1.0), min_size=2, max_size=4))
def test_object_arrays_made_twice_keep_their_gradient(consts, second, convert, xs):
    f = _program(consts, second, convert)
    x = np.array(xs)
    v, g = framead.value_and_grad(f)(x.copy())
    assert float(v) == f(x.copy())
    np.testing.assert_allclose(g, fd_grad(f, (x.copy(),), step=1e-6), rtol=1e-6, atol=1e-7)
