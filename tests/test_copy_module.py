"""``copy.copy`` / ``copy.deepcopy`` of traced arrays and NumPy scalars (directly, inside
dicts, lists, dataclasses through ``dataclasses.asdict``/``astuple``): ndarray's and NumPy
scalars' ``__copy__``/``__deepcopy__`` have rules (a copy: the cotangent passes through), so
the copies stay traced; copy.copy's unbound ``ndarray.__copy__(x)`` was FA101 with a zero
gradient, and a scalar's deepcopy FA101. Checked against central differences, with no hazard,
in strict mode and through a cached trace."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
from conftest import fd_grad
from hypothesis import given, settings
from hypothesis import strategies as st

import framead


@dataclasses.dataclass
class State:
    pos: np.ndarray
    scale: float


_WRAP = {
    "array": lambda x: x,
    "scalar": lambda x: x[0],
    "dict": lambda x: {"a": x, "s": x[1]},
    "list": lambda x: [x[0], x[1] * 2.0, x],
    "dataclass": lambda x: State(x * 1.0, x[0]),
}
_COPY = {"copy": copy.copy, "deepcopy": copy.deepcopy,
         "asdict": lambda o: dataclasses.asdict(o) if dataclasses.is_dataclass(o) else
         copy.deepcopy(o),
         "astuple": lambda o: dataclasses.astuple(o) if dataclasses.is_dataclass(o) else
         copy.copy(o)}


def _leaves(o):
    if isinstance(o, dict):
        return [v for k in sorted(o) for v in _leaves(o[k])]
    if isinstance(o, list | tuple):
        return [v for x in o for v in _leaves(x)]
    if dataclasses.is_dataclass(o):
        return _leaves(dataclasses.astuple(o))
    return [o]


def _program(wrap, how, write):
    def f(x):
        c = _COPY[how](_WRAP[wrap](x))
        total = 0.0
        for i, v in enumerate(_leaves(c)):
            if write and isinstance(v, np.ndarray):
                v[0] = v[0] * 3.0  # (the copy written in place: the original is not)
            total = total + float(np.sum(v * v)) * (i + 1.0)
        return total + float(x[0] * x[1])
    return f


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(wrap=st.sampled_from(sorted(_WRAP)), how=st.sampled_from(sorted(_COPY)),
       write=st.booleans(), xs=st.lists(st.floats(-2.0, 2.0), min_size=2, max_size=4))
def test_copies_keep_their_gradient(wrap, how, write, xs):
    f = _program(wrap, how, write)
    x = np.array(xs)
    t = framead.trace(f, x.copy())
    assert not t.hazards, t.hazards
    g = framead.grad(f, strict=True)(x.copy())
    np.testing.assert_allclose(g, fd_grad(f, (x.copy(),), step=1e-6), rtol=1e-6, atol=1e-6)
    kept = x.copy()
    framead.grad(f)(x)
    np.testing.assert_array_equal(x, kept)  # (the caller's array untouched)


def test_cached_replays_of_copies():
    f = _program("dict", "deepcopy", True)
    cf = framead.value_and_grad(f, cache=True)
    for p in ([0.3, 0.7], [1.2, -0.4], [-1.0, 2.0]):
        x = np.array(p)
        v, g = cf(x.copy())
        assert float(v) == f(x.copy())
        np.testing.assert_allclose(g, fd_grad(f, (x.copy(),), step=1e-6), rtol=1e-6, atol=1e-6)
    assert cf.stats["hits"] == 2
