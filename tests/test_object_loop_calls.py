"""NumPy's object loop hands user objects' methods fresh Python floats made from a traced
array's items (``np.multiply(x, Money(2.))``, ``np.array([Money(1.), Money(2.)]) * x``): the
terms they compute are lost. Each spelling must be right (mirrored) or report FA101 at the
user's line (strict mode raises) -- never a silently wrong gradient.

Hypothesis draws the ufunc, the spelling (the ufunc called as a function, either side, an
object array of user objects on either side, ``ufunc.outer``, the operator form), how the user
class keeps its number (an attribute, a slot, inside a list) and the point; the reference is
central differences of the native run."""
from __future__ import annotations

import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import framead
from framead import GradientHazard

H = 1e-6


def _number_class(store):
    class Num:
        if store == "slot":
            __slots__ = ("_v",)

        def __init__(self, v):
            if store == "list":
                self._v = [v]
            else:
                self._v = v

        @property
        def v(self):
            return self._v[0] if store == "list" else self._v

        def _op(self, f, k):
            return Num(f(self.v, k))

        def __add__(self, k): return self._op(operator.add, k)
        def __radd__(self, k): return Num(k + self.v)
        def __sub__(self, k): return self._op(operator.sub, k)
        def __rsub__(self, k): return Num(k - self.v)
        def __mul__(self, k): return self._op(operator.mul, k)
        def __rmul__(self, k): return Num(k * self.v)
        def __truediv__(self, k): return self._op(operator.truediv, k)
        def __rtruediv__(self, k): return Num(k / self.v)
    return Num


UFUNCS = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply,
          "true_divide": np.true_divide}
OPERATORS = {"add": operator.add, "subtract": operator.sub, "multiply": operator.mul,
             "true_divide": operator.truediv}
SPELLINGS = {  # (x: traced float array, N: the user class) -> user objects made by the loop
    "call_obj_right": lambda u, x, N: u(x, N(2.0)),
    "call_obj_left": lambda u, x, N: u(N(2.0), x),
    "call_objarr_left": lambda u, x, N: u(np.array([N(1.5), N(2.0), N(-1.0)]), x),
    "call_objarr_right": lambda u, x, N: u(x, np.array([N(1.5), N(2.0), N(-1.0)])),
    "outer": lambda u, x, N: u.outer(x, [N(2.0)]).ravel(),
    "call_obj_right_kw": lambda u, x, N: u(x, N(2.0), dtype=object),
    "inplace_objarr": lambda u, x, N: _inplace(u, np.array([N(1.5), N(2.0), N(-1.0)]), x),
}
IOPS = {"add": operator.iadd, "subtract": operator.isub, "multiply": operator.imul,
        "true_divide": operator.itruediv}


def _inplace(u, objs, x):
    """``objs op= x`` (capture/mutation.py ``_inplace``: the object array written in place)."""
    objs = IOPS[u.__name__](objs, x)
    return objs


# the operator forms (capture/handlers.py: the object array Recorder.apply returns is checked)
OPERATOR_SPELLINGS = {
    "op_objarr_left": lambda o, x, N: o(np.array([N(1.5), N(2.0), N(-1.0)]), x),
    "op_objarr_right": lambda o, x, N: o(x, np.array([N(1.5), N(2.0), N(-1.0)])),
}


def _program(body):
    def f(x):
        objs = body(x)
        return float(sum(o.v for o in objs) + x[0])  # (x[0]: the output stays connected)
    return f


def _check(f, x):
    v, g = framead.value_and_grad(f)(x.copy())
    assert v == f(x.copy())
    fd = np.array([(f(x + H * e) - f(x - H * e)) / (2 * H) for e in np.eye(len(x))])
    if np.allclose(g, fd, rtol=1e-5, atol=1e-6):
        return
    hz = framead.trace(f, x.copy(), argnums=0).hazards
    assert any(h.code == "FA101" and h.loc.file == __file__ for h in hz), (g, fd, hz)
    with pytest.raises(GradientHazard):
        framead.value_and_grad(f, strict=True)(x.copy())


_point = st.lists(st.floats(0.3, 3.0), min_size=3, max_size=3)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(ufunc=st.sampled_from(sorted(UFUNCS)), spelling=st.sampled_from(sorted(SPELLINGS)),
       store=st.sampled_from(["attr", "slot", "list"]), xs=_point)
def test_ufunc_calls_with_user_objects_not_silent(ufunc, spelling, store, xs):
    N, u = _number_class(store), UFUNCS[ufunc]
    _check(_program(lambda x: SPELLINGS[spelling](u, x, N)), np.array(xs))


@pytest.mark.parametrize("spelling", sorted(OPERATOR_SPELLINGS))
def test_operator_with_object_arrays_of_user_objects(spelling):
    N = _number_class("attr")
    for o in OPERATORS.values():
        _check(_program(lambda x, o=o: OPERATOR_SPELLINGS[spelling](o, x, N)),
               np.array([0.4, 1.3, 2.2]))


def test_ufunc_call_on_a_traced_scalar_and_a_user_object():
    N = _number_class("attr")
    _check(_program(lambda x: [np.multiply(x[1], N(2.0))]), np.array([0.4, 1.3, 2.2]))


@pytest.mark.parametrize("store", ["attr", "slot", "list"])
def test_mirrored_operator_form_stays_silent_and_right(store):
    """``x * obj`` (the operator, mirrored by capture/handlers.py): no hazard, the gradient
    right -- the check above does not flag objects holding traced numbers."""
    N = _number_class(store)
    f = _program(lambda x: x * N(2.0))
    x = np.array([0.4, 1.3, 2.2])
    _, g = framead.value_and_grad(f, strict=True)(x.copy())
    np.testing.assert_allclose(g, [3.0, 2.0, 2.0])


@pytest.mark.parametrize("iop", sorted(IOPS))
def test_object_array_of_floats_updated_in_place(iop):
    """``o = np.array([1.5, 2.0, -1.0], object); o += x``: NumPy's object loop stores fresh
    floats computed from x's items: right or FA101, never silent."""
    def f(x):
        o = np.array([1.5, 2.0, -1.0], dtype=object)
        o = IOPS[iop](o, x)
        return float(sum(o) + x[0])
    _check(f, np.array([0.4, 1.3, 2.2]))


KEPT = {  # object arrays whose user objects NumPy copies by identity: not lost, no hazard
    "concatenate": lambda x, objs: np.concatenate([x.astype(object), objs]),
    "stack": lambda x, objs: np.stack([x.astype(object), objs]).ravel(),
    "where": lambda x, objs: np.where(x > 1.0, objs, objs[::-1]),
}


@pytest.mark.parametrize("name", sorted(KEPT))
def test_user_objects_copied_by_identity_stay_silent(name):
    N = _number_class("attr")

    def f(x):
        objs = np.array([N(1.5), N(2.0), N(-1.0)])
        out = KEPT[name](x, objs)
        return float(sum(v if isinstance(v, float) else v.v for v in out) + x[0])
    x = np.array([0.4, 1.3, 2.2])
    _, g = framead.value_and_grad(f, strict=True)(x.copy())
    fd = np.array([(f(x + H * e) - f(x - H * e)) / (2 * H) for e in np.eye(3)])
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6)
