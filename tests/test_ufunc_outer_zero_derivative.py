"""``ufunc.outer`` of a ufunc whose rule is a cut (a zero derivative: ``np.floor_divide``,
``np.spacing``, the comparisons) is taken as the plain call's cut (capture/recorder.py
``Recorder.apply``, rules/ufunc_outer_rules.py ``outer_cut``): no node, the result a
constant, so it reports what ``ufunc(a[:, None], b)`` reports (its FA102 note where the cut
has one, FA108 for a result left with no path to the inputs) and gives the same, zero,
gradient. It was recorded as a ufunc.outer node with no derivative: a connected result,
with neither note."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import fd_grad, line_of
from framead.rules import lookup, registry

import framead
from framead.errors import GradientHazard

X = np.array([1.3, 2.7, 0.4])
B = np.array([0.5, 1.5])


def _binary_ufuncs(cut: bool) -> list:
    found = {id(u): u for u in vars(np).values() if isinstance(u, np.ufunc) and u.nin == 2
             and u.nout == 1 and lookup(u) is not None and lookup(u).cut == cut}
    return sorted(found.values(), key=lambda u: u.__name__)


CUT = _binary_ufuncs(True)
KEPT = [np.remainder, np.fmod, np.copysign, np.maximum, np.heaviside]  # (derivatives zero in part)


# how: "scalar" u(x, 0.7) and u.outer(x, 0.7), nothing else recorded; "expanded": both
# programs take x[:, None] (recorded), u(x[:, None], B) and u.outer(x, B); "after_node": the
# same of x * 1.0
def _plain(u, how):
    def f(x):
        a = x * 1.0 if how == "after_node" else x
        if how == "scalar":
            return np.sum(u(a, 0.7) * 1.0)  # call: plain
        return np.sum(u(a[:, None], B) * 1.0)  # call: plain, expanded
    return f


def _outer(u, how):
    def f(x):
        a = x * 1.0 if how == "after_node" else x
        if how == "scalar":
            return np.sum(u.outer(a, 0.7) * 1.0)  # call: outer
        _ = a[:, None]  # (recorded, as the plain call's operand is)
        return np.sum(u.outer(a, B) * 1.0)  # call: outer, expanded
    return f


def _run(f, strict=False):
    """(codes of the hazards, gradient), or the exception as NumPy raised it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            f(X.copy())
        except Exception as e:  # noqa: BLE001
            return "raised", type(e), str(e)
        t = framead.trace(f, X.copy())
        try:
            g = framead.grad(f, strict=strict)(X.copy())
        except GradientHazard as e:
            return "hazard", e.hazard.code
    return sorted(h.code for h in t.hazards), g


def test_cut_ufuncs_found():
    assert {np.floor_divide, np.greater, np.logical_and} <= set(CUT)


@pytest.mark.parametrize("how", ["scalar", "expanded", "after_node"])
@pytest.mark.parametrize("u", CUT + KEPT, ids=lambda u: u.__name__)
def test_outer_reports_as_the_plain_call(u, how):
    """The same hazards (none where nothing else was recorded, FA108 where a traced value
    was used but the result is left with no path to it), the same gradient, central
    differences' (zero where the rule is cut); strict mode alike."""
    plain, outer = _run(_plain(u, how)), _run(_outer(u, how))
    if plain[0] == "raised":  # (no float loop: np.gcd, the shifts...)
        assert outer[0] == "raised"
        return
    assert outer[0] == plain[0], (outer, plain)
    np.testing.assert_array_equal(outer[1], plain[1])
    ref = fd_grad(_plain(u, how), (X.copy(),))
    np.testing.assert_allclose(outer[1], ref, atol=1e-6)
    strict = [_run(make(u, how), strict=True) for make in (_outer, _plain)]
    assert strict[0][0] == strict[1][0], strict


def test_cut_with_a_note_reports_fa102_for_outer_too():
    """A cut whose rule carries a note (as int() and round() do) reports FA102 at the user's
    line for ``ufunc.outer`` as for the plain call; strict mode raises for both."""
    saved = registry._BY_ID[id(np.floor_divide)]
    try:
        registry.register(np.floor_divide, cut=True, replace=True,
                          hazard="np.floor_divide has zero derivative: the gradient stops here")
        for make, marker, op in ((_plain, "plain", "np.floor_divide"),
                                 (_outer, "outer", "np.floor_divide.outer")):
            t = framead.trace(make(np.floor_divide, "scalar"), X.copy())
            assert [(h.code, h.op, h.loc.line) for h in t.hazards] == [
                ("FA102", op, line_of(f"call: {marker}", __file__))], t.hazards
            with pytest.raises(GradientHazard):
                framead.grad(make(np.floor_divide, "scalar"), strict=True)(X.copy())
    finally:
        registry._BY_ID[id(np.floor_divide)] = saved
        registry._GENERATION[0] += 1


def test_outer_written_out_is_a_constant():
    """``np.floor_divide.outer(a, b, out=o)`` over traced memory: o holds constants now, as
    for the plain call with out=."""
    def f(x):
        o = np.outer(x, B)
        np.floor_divide.outer(x, B, out=o)
        return np.sum(o * x[:, None])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = framead.grad(f)(X.copy())
    np.testing.assert_allclose(g, fd_grad(f, (X.copy(),)), atol=1e-6)
