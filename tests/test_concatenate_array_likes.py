"""np.concatenate of a list holding an array-like object of the program's (NumPy converts it
with its ``__array__``): the VJP splits the cotangent by the result's extent (one such item),
or capture refuses the call (FA101: more than one, their extents unknown). It raised
IndexError in the reverse pass."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fd_grad

import framead


class ArrayLike:
    def __init__(self, data):
        self.data = data

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.data)


CASES = [
    lambda v: np.sum(np.concatenate([ArrayLike([1.0, 2.0]), v]) ** 2 * np.arange(4.0)),
    lambda v: np.sum(np.concatenate([v, ArrayLike([1.0, 2.0, 3.0]), v * v]) ** 2 *
                     np.arange(7.0)),
    lambda v: np.sum(np.concatenate([ArrayLike(np.ones((1, 2))), v[None]], axis=None) ** 2 *
                     np.arange(4.0)),
    lambda v: np.sum(np.concatenate([ArrayLike(np.ones((2, 2))), np.outer(v, v)], axis=1) ** 2),
]


@pytest.mark.parametrize("f", CASES)
def test_one_array_like(f):
    x = np.array([0.5, 1.5])
    assert not framead.trace(f, x).hazards
    value, grad = framead.value_and_grad(f)(x)
    assert value == f(x.copy())
    np.testing.assert_allclose(grad, fd_grad(f, (x.copy(),)), rtol=1e-6)


def test_two_array_likes_are_refused_at_the_users_line():
    def f(v):
        return np.sum(np.concatenate([ArrayLike(np.ones(2)), ArrayLike(np.ones(1)), v]) ** 2)
    x = np.array([0.5, 1.5])
    with pytest.raises(framead.GradientHazard) as e:
        framead.grad(f, strict=True)(x)
    assert e.value.hazard.code == "FA101"
    assert e.value.hazard.loc.line == f.__code__.co_firstlineno + 1
