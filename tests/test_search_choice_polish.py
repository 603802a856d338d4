"""First order through a search's choice (capture/search_choice.py ``chosen_exit``): what keeps
it right and silent, and where the loss is reported.

Right, silent: the searched function evaluated again at the choice for the result (a Newton
step from the bracket, through the search's own function or written inline; a minimiser's
objective value, through its function or inline with terms computed natively from x*), and a
line search's step (2 ** -k: a discrete choice, locally constant). Lost, reported (FA102 at
the search's comparison): the choice read with another path to the input. References: central
differences of the native run (conftest.fd_grad).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import fd_grad, line_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framead


def g(x, c):
    return x ** 3 + x - c


def bisect(c, g=g):
    lo, hi = -4.0, 4.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if g(mid, c) > 0:  # the bisection's comparison
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


R = (math.sqrt(5) - 1) / 2


def golden(a, w):
    def f(t):
        return (t - a) ** 2 + w * t ** 4
    lo, hi = -3.0, 3.0
    c, d = hi - R * (hi - lo), lo + R * (hi - lo)
    while hi - lo > 1e-9:
        if f(c) < f(d):  # the golden section's comparison
            hi, d = d, c
            c = hi - R * (hi - lo)
        else:
            lo, c = c, d
            d = lo + R * (hi - lo)
    return 0.5 * (lo + hi)


POLISHED = {  # right: the searched function evaluated again at the choice
    "newton_same_g": lambda c: (lambda m: m - g(m, c) / (3 * m * m + 1))(bisect(c)),
    "newton_inline": lambda c: (lambda m: m - (m ** 3 + m - c) / (3 * m * m + 1))(bisect(c)),
    "newton_then_used": lambda c: (lambda m: (m - g(m, c) / (3 * m * m + 1)) * c + c)(
        bisect(c)),
    "min_value_inline": lambda a: (lambda t: (t - a) ** 2 + 0.05 * t ** 4)(golden(a, 0.05)),
    "min_value_plus_input": lambda a: (lambda t: (t - a) ** 2 + 0.05 * t ** 4 + a * a)(
        golden(a, 0.05)),
}
LOST = {  # wrong without the report: dx*/dc is lost
    "root_plus": lambda c: bisect(c) + c,
    "root_cubed_times": lambda c: bisect(c) ** 3 * c,
    "root_exp": lambda c: math.exp(bisect(c)) - c,
    "argmin_plus": lambda a: golden(a, 0.05) + a,
    "argmin_sin_times": lambda a: math.sin(golden(a, 0.05)) * a,
    # (x* - c) is a residual of ~0 like the search's 2 (x - c), but reaches the result times 0
    "residual_squared_plus_root": lambda c: (lambda x: (x - c) ** 2 + x)(
        bisect(c, lambda x, c: 2 * (x - c))),
}
LINES = {line_of("the bisection's comparison", __file__),
         line_of("the golden section's comparison", __file__)}


def _grad(f, x, api, strict):
    if api == "grad":
        return framead.grad(f, strict=strict)(x)
    if api == "value_and_grad":
        return framead.value_and_grad(f, strict=strict)(x)[1]
    if api == "jacrev":
        return framead.jacrev(f, strict=strict)(x)
    vg = framead.value_and_grad(f, cache=True, strict=strict)
    vg(x)
    return vg(x * 1.01)[1]


APIS = ("grad", "value_and_grad", "jacrev", "cached")


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(name=st.sampled_from(sorted(POLISHED)), api=st.sampled_from(APIS),
       x=st.floats(0.6, 1.9), as_np=st.booleans())
def test_polished_choices_are_right_and_silent(name, api, x, as_np):
    f = POLISHED[name]
    x = np.float64(x) if as_np else x
    got = float(np.asarray(_grad(f, x, api, True)))  # (strict: any report raises)
    at = x * 1.01 if api == "cached" else x
    assert math.isclose(got, fd_grad(f, (at,)), rel_tol=1e-5, abs_tol=1e-7), (name, api)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(name=st.sampled_from(sorted(LOST)), api=st.sampled_from(APIS),
       x=st.floats(0.6, 1.9), as_np=st.booleans())
def test_lost_choices_are_reported_at_the_search(name, api, x, as_np):
    f = LOST[name]
    x = np.float64(x) if as_np else x
    at = x * 1.01 if api == "cached" else x
    got = float(np.asarray(_grad(f, x, api, False)))
    assert not math.isclose(got, fd_grad(f, (at,)), rel_tol=1e-3)  # (the loss is real)
    with pytest.raises(framead.GradientHazard, match="FA102") as e:
        _grad(f, x, api, True)
    assert any(f"{__file__}:{ln} " in str(e.value) for ln in LINES), str(e.value)


def armijo(p):
    """Steepest descent with Armijo backtracking: once converged, its tests are near-ties of
    work reaching no output, and the step it read is 2 ** -k (a discrete choice)."""
    def f(u, v):
        return (u - p[0]) ** 2 + 5 * (v - u * u) ** 2 + p[1] * v * v

    u, v = 0.0, 0.0
    for _ in range(30):
        gu = 2 * (u - p[0]) - 20 * u * (v - u * u)
        gv = 10 * (v - u * u) + 2 * p[1] * v
        t = 1.0
        f0 = f(u, v)
        while f(u - t * gu, v - t * gv) > f0 - 1e-4 * t * (gu * gu + gv * gv):
            t *= 0.5
        u, v = u - t * gu, v - t * gv
    return u + 2 * v


@pytest.mark.parametrize("p", [(0.8, 1.2), (1.3, 0.6), (0.5, 1.5), (1.1, 0.9)])
def test_line_search_step_is_silent_and_right(p):
    """(A small difference step: the backtracking counts change with p, jumps 1e-3 crosses.)"""
    p = np.array(p)
    np.testing.assert_allclose(framead.grad(armijo, strict=True)(p),
                               fd_grad(armijo, (p,), step=1e-6), rtol=1e-5, atol=1e-7)
