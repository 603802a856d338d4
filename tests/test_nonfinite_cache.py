"""FA112 through the cache (framead/cache.py): ``cache=True`` reports a NaN gradient of a
finite result as the uncached call does, on its first call and on a replay at a new point.

A replay whose gradient holds a NaN (the trace was recorded where it did not) is not returned:
the call is captured again, which names where the NaN is born, and a trace with a NaN gradient
is not kept. Fuzzed over the singular functions x guards x reductions of
test_nonfinite_gradient.py, recorded at a safe point, replayed at a singular one; the
reference is the uncached call (itself checked against central differences there).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import central
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_nonfinite_gradient import GUARDS, REDUCE, SINGULAR, _program

import framead
from framead.errors import GradientHazard


def _call(fn, x):
    with warnings.catch_warnings(record=True) as w, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        out = fn(x)
    return out, [m for m in w if "FA112" in str(m.message)]


@settings(max_examples=60, deadline=None)
@given(fn=st.sampled_from(sorted(SINGULAR)), guard=st.sampled_from(sorted(GUARDS)),
       red=st.sampled_from(sorted(REDUCE)),
       below=st.lists(st.booleans(), min_size=2, max_size=4))
def test_a_replay_at_a_singular_point_reports_the_nan(fn, guard, red, below):
    f = _program(fn, guard, red)
    safe = np.array([2.5 + i for i in range(len(below))])
    x = np.array([0.25 if b else 2.5 + i for i, b in enumerate(below)])
    with np.errstate(all="ignore"):
        assume(np.isfinite(f(x)))
    vg = framead.value_and_grad(f, cache=True)
    (_, g_safe), reports = _call(vg, safe)
    assert not reports and np.allclose(g_safe, central(f, safe), rtol=1e-5, atol=1e-6)
    _call(vg, safe + 0.125)  # (a hit: the trace replays)
    (v, g), reports = _call(vg, x)
    (v0, g0), reports0 = _call(framead.value_and_grad(f), x)
    assert v == v0 and np.array_equal(g, g0, equal_nan=True)
    assert bool(reports) == bool(reports0) == bool(np.isnan(g).any())
    if reports:
        assert reports[0].filename == __file__  # (the user's call, as uncached)
        assert str(reports[0].message) == str(reports0[0].message)
        with pytest.raises(GradientHazard, match="FA112"), np.errstate(all="ignore"):
            framead.value_and_grad(f, cache=True, strict=True)(x)
    # the first call at the singular point reports as well, and keeps no trace
    vg2 = framead.grad(f, cache=True)
    for _ in range(2):
        g2, reports2 = _call(vg2, x)
        assert np.array_equal(g2, g0, equal_nan=True) and bool(reports2) == bool(reports0)


def test_a_first_cached_call_reports_and_raises_in_strict_mode():
    def entropy(p):
        return -np.sum(np.where(p > 0, p * np.log(p), 0.0))

    p = np.array([0.0, 0.4, 0.6])
    g, reports = _call(framead.grad(entropy, cache=True), p)
    assert np.isnan(g[0]) and reports and reports[0].filename == __file__
    with pytest.raises(GradientHazard, match="FA112"), np.errstate(all="ignore"):
        framead.grad(entropy, cache=True, strict=True)(p)


def test_has_aux_replays_report_too():
    def f(s):
        r = np.sqrt(np.maximum(s, 0.0))
        return np.sum(r), r.max()

    vg = framead.value_and_grad(f, cache=True, has_aux=True)
    for s in (np.array([1.0, 4.0]), np.array([2.0, 9.0])):
        _, reports = _call(vg, s)
        assert not reports
    assert vg.stats["hits"] == 1
    ((v, aux), g), reports = _call(vg, np.array([-1.0, 4.0]))
    assert v == 2.0 and aux == 2.0 and np.isnan(g[0]) and g[1] == 0.25
    assert reports and reports[0].filename == __file__
    # the replay ran (no guard failed) and was not returned: captured again, not kept
    assert vg.stats["hits"] == 1 and vg.stats["misses"] == 1 and vg.stats["captures"] == 2
    assert any("FA112" in r for r in vg.stats["reasons"])
    (_, g), reports = _call(framead.value_and_grad(f, has_aux=True), np.array([-1.0, 4.0]))
    assert reports and np.isnan(g[0])  # (uncached, has_aux: the loss is checked)


def test_vjp_and_jacrev_report_a_nan_born_in_the_reverse_pass():
    """vjp's cotangent pass (and jacrev's rows) check as grad does: a NaN of finite outputs
    and cotangents is reported at the user's call; a NaN the caller's cotangent brings is not."""
    def f(x):
        return np.sqrt(np.maximum(x, 0.0)) * 2

    x = np.array([-1.0, 4.0])
    (g,), reports = _call(lambda v: framead.vjp(f, v)[1](np.ones(2)), x)
    assert np.isnan(g[0]) and g[1] == 0.5 and reports and reports[0].filename == __file__
    jac, reports = _call(framead.jacrev(f), x)
    assert np.isnan(jac[0, 0]) and reports and reports[0].filename == __file__
    with pytest.raises(GradientHazard, match="FA112"), np.errstate(all="ignore"):
        framead.vjp(f, x, strict=True)[1](np.ones(2))
    (g,), reports = _call(lambda v: framead.vjp(f, v)[1](np.array([np.nan, 1.0])), x)
    assert np.isnan(g[0]) and not reports  # (the caller's own NaN)
    (g,), reports = _call(lambda v: framead.vjp(f, v)[1](np.ones(2)), np.array([1.0, 4.0]))
    assert np.allclose(g, [1.0, 0.5]) and not reports
