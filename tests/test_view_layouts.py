"""Writes through views made by calls (reshape/ravel with order=, np.reshape, swapaxes,
transpose...) of arrays in any layout (C, Fortran, transposed, strided): the reverse pass and
cached replays re-make a view from a C-ordered copy of its parent (rules/primitives.apply_view),
so a call that makes a view natively only because of the parent's layout (``A.reshape(..,
order='F')`` of a Fortran array) must not be kept as that recipe (capture/values.call_recipe:
an index recipe into the owner instead). Fuzzed over layouts x view calls x writes, against
the native value, central differences and a cached replay at a second point.
"""

from __future__ import annotations

import numpy as np
from conftest import central
from hypothesis import given, settings
from hypothesis import strategies as st

import framead

LAYOUTS = {  # x (6 floats) -> a traced 2 x 3 (or 3 x 2) array in some memory layout
    "c": lambda x: x.copy().reshape(2, 3),
    "f": lambda x: x.copy().reshape(2, 3, order="F"),
    "asfortran": lambda x: np.asfortranarray(x.reshape(2, 3)),
    "transposed": lambda x: x.copy().reshape(3, 2).T,
    "strided": lambda x: np.repeat(x, 2).reshape(2, 6)[:, ::2],
}
VIEWS = {  # a 2-d array -> a view of it (natively, in some layouts) by a call
    "reshape_f": lambda a: a.reshape(3, 2, order="F"),
    "reshape_a": lambda a: a.reshape(3, 2, order="A"),
    "reshape_c": lambda a: a.reshape(3, 2),
    "ravel_f": lambda a: a.ravel(order="F"),
    "ravel_a": lambda a: a.ravel("A"),
    "ravel_k": lambda a: a.ravel("K"),
    "np_reshape_f": lambda a: np.reshape(a, (-1,), "F"),
    "swapaxes": lambda a: np.swapaxes(a, 0, 1),
    "transpose_ravel_f": lambda a: a.T.ravel(order="F"),
}
WRITES = {  # write into the view v (itself a function of a's values)
    "first_scaled": lambda v: v.reshape(-1)[:1].__imul__(3.0),
    "set_last": lambda v: v.__setitem__((-1,) * v.ndim, v[(0,) * v.ndim] * 4.0),
    "zero_some": lambda v: v.__setitem__(np.s_[:1], 0.0),
    "add_all": lambda v: v.__iadd__(v * 0.5),
    "fill": lambda v: v.fill(2.0),
}


def _program(layout, view, write):
    def f(x):
        a = LAYOUTS[layout](x)
        v = VIEWS[view](a)
        if np.shares_memory(v, a):
            WRITES[write](v)
        return float(np.sum(a * np.arange(1.0, 7.0).reshape(a.shape)) + np.sum(a ** 2))
    return f


@settings(max_examples=120, deadline=None)
@given(layout=st.sampled_from(sorted(LAYOUTS)), view=st.sampled_from(sorted(VIEWS)),
       write=st.sampled_from(sorted(WRITES)))
def test_writes_through_call_views_in_any_layout(layout, view, write):
    f = _program(layout, view, write)
    x = np.linspace(0.1, 0.6, 6)
    value, g = framead.value_and_grad(f)(x)
    assert value == f(x)
    np.testing.assert_allclose(g, central(f, x), rtol=1e-6, atol=1e-6)
    vg = framead.value_and_grad(f, cache=True)
    vg(x)
    y = x[::-1] + 0.05
    value, g = vg(y)
    assert value == f(y)
    np.testing.assert_allclose(g, central(f, y), rtol=1e-6, atol=1e-6)
