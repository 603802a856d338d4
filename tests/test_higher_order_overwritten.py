"""Second order through values a rule saved and the program then overwrote in place: the
copy-on-write copy stands for the saved value with its own buffer, so a reverse pass recorded
by an enclosing capture (hessian, grad of grad, jit(grad)) reads it as that value, never as a
constant. Against central differences of the (checked) gradient, fresh and replayed."""

from __future__ import annotations

import numpy as np
from conftest import central
from hypothesis import given, settings
from hypothesis import strategies as st

import framead

SAVES = {  # a rule that saves its operands or result, on the array M
    "matmul_self": lambda M: M @ M,
    "inv": lambda M: float(np.linalg.inv(np.outer(M, M) + 3 * np.eye(M.size)).sum()),
    "sin_sum": lambda M: float(np.sum(np.sin(M) * M)),
    "product": lambda M: float(np.prod(M + 2.0)),
    "exp_dot": lambda M: float(np.exp(M) @ M),
}
WRITES = {  # ...then an in-place write over M
    "zero_all": lambda M: M.__setitem__(slice(None), 0.0),
    "iadd": lambda M: M.__iadd__(1.0),
    "imul_view": lambda M: M[::2].__imul__(3.0),
    "copyto": lambda M: np.copyto(M, 5.0),
}


def _program(save, write):
    def f(x):
        M = x.copy()
        s = SAVES[save](M)
        WRITES[write](M)
        return s + 0.1 * float(M.sum())
    return f


@settings(max_examples=30, deadline=None)
@given(save=st.sampled_from(sorted(SAVES)), write=st.sampled_from(sorted(WRITES)),
       seed=st.integers(0, 1000))
def test_second_order_through_an_overwritten_saved_value(save, write, seed):
    f = _program(save, write)
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, 3)
    g = framead.grad(f)
    want = np.array([central(lambda z, i=i: g(z)[i], x, h=1e-5) for i in range(x.size)])
    np.testing.assert_allclose(framead.hessian(f)(x), want, rtol=1e-5, atol=1e-6)
    v = np.array([0.3, -0.7, 0.5])
    gog = framead.grad(lambda z: float(framead.grad(f)(z) @ v))(x)
    np.testing.assert_allclose(gog, want @ v, rtol=1e-5, atol=1e-6)
    jg = framead.jit(framead.grad(f))
    for y in (x, x * 1.1 + 0.05):
        np.testing.assert_allclose(jg(y), g(y), rtol=1e-12, atol=1e-12)
