"""First order through a root a search chose by comparisons, where the result ALSO depends on
the input directly: the root's dependence on the input is lost. When the result depends on the
input only through the comparisons, FA102 reports it (Recorder.finish); when another path
connects it, capture/search_choice.chosen_exit reports it (the criterion: a converged search's
constant reaches the output with a non-zero derivative; a minimiser's value has a zero one,
the envelope theorem, and stays silent)."""
from __future__ import annotations

import math

import pytest
from conftest import fd_grad

import framead


def _bisect(t, lo=-10.0, hi=10.0, n=80):
    for _ in range(n):
        mid = 0.5 * (lo + hi)
        if mid ** 3 + mid - t > 0:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


def _while_bisect(t):
    lo, hi = -10.0, 10.0
    while hi - lo > 1e-12:
        mid = 0.5 * (lo + hi)
        if mid ** 3 + mid - t > 0:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


PROGRAMS = {
    "root_plus_input": lambda t: _bisect(t) + t,
    "root_squared_plus_input": lambda t: _bisect(t) ** 2 + t,
    "while_root_times_input": lambda t: _while_bisect(t) * t,
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_connected_result_through_a_bisection_root_is_right_or_reported(name):
    f = PROGRAMS[name]
    ref = fd_grad(f, (0.7,))
    try:
        g = framead.grad(f, strict=True)(0.7)
    except framead.GradientHazard as e:
        assert "FA102" in str(e)
        return
    assert math.isclose(g, ref, rel_tol=1e-5), (g, ref)


def test_result_only_through_a_bisection_root_is_reported():
    with pytest.raises(framead.GradientHazard, match="FA102"):
        framead.grad(_bisect, strict=True)(0.7)
