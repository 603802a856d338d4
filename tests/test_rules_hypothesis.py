"""Conformance of every elementwise ufunc rule on hypothesis-drawn inputs: broadcasting shapes
(0-d, empty and length-1 axes included) and values in each function's domain.

``rules.check`` compares the VJP and the JVP with central differences and runs the dot-product
test; an input where the function is not finite, or sits near a kink (|x|, max, fmod...), is
rejected with ``assume`` rather than tested.
"""

from __future__ import annotations

import warnings

import framead.rules as R
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

ELEMENTWISE = sorted(
    (r for r in R.library_rules()
     if r.elementwise and isinstance(r.fn, np.ufunc) and not r.cut and r.fn.nout == 1
     and getattr(np, r.fn.__name__, None) is r.fn  # NumPy's (SciPy's, installed once SciPy
     # is imported by an earlier test module, have order arguments: tested elsewhere)
     and r.fn not in (np.ldexp, np.nextafter)),  # integer / ulp arguments
    key=lambda r: r.name)
KINKS = {np.fabs, np.absolute, np.maximum, np.minimum, np.fmax, np.fmin, np.remainder,
         np.fmod, np.copysign, np.arctan2, np.hypot, np.cbrt}


def _values(shape):
    return hnp.arrays(np.float64, shape, elements=st.floats(-2.0, 2.0, allow_nan=False,
                                                            allow_subnormal=False))


@pytest.mark.parametrize("rule", ELEMENTWISE, ids=[r.name for r in ELEMENTWISE])
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(data=st.data())
def test_elementwise_rule_on_drawn_shapes(rule, data):
    fn = rule.fn
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=fn.nin, min_dims=0,
                                                         max_dims=3, min_side=0, max_side=3))
    args = [data.draw(_values(s)) for s in shapes.input_shapes]
    if fn is np.power or fn is np.float_power:
        args[0] = np.abs(args[0]) + 0.5  # a real power of a positive base
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*args)
        assume(np.all(np.isfinite(out)))
        for a in args:  # stay away from the edges of the domain and from kinks
            for d in (-1e-4, 1e-4):
                near = fn(*[x + d if x is a else x for x in args])
                assume(np.all(np.isfinite(near)))
        # poles (1/x), kinks (|x|) and infinite slopes (cbrt) sit at 0 for these families
        assume(all(np.all(np.abs(a) > 1e-3) for a in args))
        if fn in KINKS:
            if fn in (np.maximum, np.minimum, np.fmax, np.fmin) and len(args) == 2:
                assume(np.all(np.abs(args[0] - args[1]) > 1e-3))
            if fn in (np.remainder, np.fmod):
                q = args[0] / args[1]
                assume(np.all(np.abs(q - np.round(q)) > 1e-3))
        report = R.check(fn, *args)
    assert report.ok


def test_elementwise_families_are_all_covered():
    assert len(ELEMENTWISE) >= 45
