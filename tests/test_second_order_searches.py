"""Second order through value-dependent control flow: a minimiser found by comparisons.

``V(t) = min_x f(x, t)`` by a search (golden section, ternary, bisection on df/dx, a grid's
argmin, Newton with a comparison stop). framead's first derivative is right (envelope theorem);
at second order (hessian, grad of grad, jacfwd / jvp of grad) a search's choice x* is a
constant to the nested derivative, so d(dV/dt)/dx * dx*/dt is lost. Each result must be right
against the analytic second derivative (or the central difference of the first-order
gradient), or reported (FA102, strict raises) at the search's comparison line (or, for a
bisection whose first midpoint is the root, zero_trip's first-pass tie at the residual's
line). Results that are right stay silent: Newton's iterates carry x*'s
dependence, a grid's argmin is locally constant, and a gradient that does not read x*
(f separable as written) loses nothing. A gradient that reads x* multiplied by a zero
coefficient (``(x - 0.0 * t) ** 2``) is reported although it loses nothing (the check is on
the program's dependence, not on the size of d(dV/dt)/dx).

f(x, t) = w (x - c1 t)^2 + c2 t x + c3 t^2 (w > 0): x* = k t with k = c1 - c2 / (2 w), and
V''(t) = 2 (w (k - c1)^2 + c2 k + c3); on a grid, V'' = 2 (w c1^2 + c3) (x fixed).
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import framead

GR = (math.sqrt(5) - 1) / 2


def _line(fn, marker: str) -> int:
    src, first = inspect.getsourcelines(fn)
    return first + next(i for i, s in enumerate(src) if marker in s)


def make(kind: str, w: float, c1: float, c2: float, c3: float, shape: str = "quad"):
    def f(x, t):
        if c1 == 0.0 and c2 == 0.0 and shape == "quad":  # (separable as written)
            return w * x ** 2 + c3 * t ** 2
        v = w * (x - c1 * t) ** 2 + c2 * t * x + c3 * t ** 2
        if shape == "quartic":
            return v + 0.1 * (x - c1 * t) ** 4
        if shape == "sin":
            return v + 0.2 * math.sin(x) * t
        return v

    def dfdx(x, t):
        if c1 == 0.0 and c2 == 0.0 and shape == "quad":
            return 2 * w * x
        d = 2 * w * (x - c1 * t) + c2 * t
        if shape == "quartic":
            return d + 0.4 * (x - c1 * t) ** 3
        if shape == "sin":
            return d + 0.2 * math.cos(x) * t
        return d

    def d2f(x, t):
        if shape == "quartic":
            return 2 * w + 1.2 * (x - c1 * t) ** 2
        if shape == "sin":
            return 2 * w - 0.2 * math.sin(x) * t
        return 2 * w

    def golden(t):
        a, b = -20.0, 20.0
        c, d = b - GR * (b - a), a + GR * (b - a)
        for _ in range(90):
            if f(c, t) < f(d, t):  # SEARCH
                b = d
            else:
                a = c
            c, d = b - GR * (b - a), a + GR * (b - a)
        return f((a + b) / 2, t)

    def ternary(t):
        lo, hi = -20.0, 20.0
        for _ in range(120):
            m1, m2 = lo + (hi - lo) / 3, hi - (hi - lo) / 3
            if f(m1, t) > f(m2, t):  # SEARCH
                lo = m1
            else:
                hi = m2
        return f((lo + hi) / 2, t)

    def bisection(t):
        lo, hi = -20.0, 20.0
        while hi - lo > 1e-13:
            mid = (lo + hi) / 2
            if dfdx(mid, t) > 0:  # SEARCH
                hi = mid
            else:
                lo = mid
        return f((lo + hi) / 2, t)

    def grid(t):
        best, xb = None, 0.0
        for x in np.linspace(-20.0, 20.0, 161).tolist():
            v = f(x, t)
            if best is None or v < best:  # SEARCH
                best, xb = v, x
        return f(xb, t)

    def newton(t):
        x = 0.0
        while abs(dfdx(x, t)) > 1e-10:  # SEARCH
            x = x - dfdx(x, t) / d2f(x, t)
        return f(x, t)

    fn = {"golden": golden, "ternary": ternary, "bisection": bisection, "grid": grid,
          "newton": newton}[kind]
    f_lines = {ln for g in (f, dfdx) for _, _, ln in g.__code__.co_lines() if ln}
    return fn, _line(fn, "# SEARCH"), f_lines


def exact(kind: str, t: float, w: float, c1: float, c2: float, c3: float) -> float:
    if kind == "grid":
        return 2 * (w * c1 ** 2 + c3)
    k = c1 - c2 / (2 * w)
    return 2 * (w * (k - c1) ** 2 + c2 * k + c3)


APIS = {
    "hessian": lambda F, t, s: framead.hessian(F, strict=s)(t),
    "gog": lambda F, t, s: framead.grad(framead.grad(F, strict=s), strict=s)(t),
    "jacfwd_grad": lambda F, t, s: framead.jacfwd(framead.grad(F), strict=s)(t),
    "jvp_grad": lambda F, t, s: framead.jvp(framead.grad(F), (t,), (1.0,), strict=s)[1],
}
KINDS = ("golden", "ternary", "bisection", "grid", "newton")


@contextlib.contextmanager
def backward_mode(mode: str):
    """The reverse pass as framead runs it by default ("loop"), as generated source
    (FRAMEAD_BACKWARD=source), or under a tracer (sys.settrace: a debugger, coverage,
    hypothesis's explain phase), which also runs generated source. Reading a node's location
    for the source's comments once replaced the code objects and offsets the search check
    reads: under a tracer the search's report was lost (found by this fuzzer in CI)."""
    old_env, old_trace = os.environ.get("FRAMEAD_BACKWARD"), sys.gettrace()
    if mode == "source":
        os.environ["FRAMEAD_BACKWARD"] = "source"
    elif mode == "tracer":
        sys.settrace(lambda frame, event, arg: None)
    try:
        yield
    finally:
        sys.settrace(old_trace)
        if old_env is None:
            os.environ.pop("FRAMEAD_BACKWARD", None)
        else:
            os.environ["FRAMEAD_BACKWARD"] = old_env


def judge(kind: str, api: str, t: float, w: float, c1: float, c2: float, c3: float,
          shape: str = "quad", mode: str = "loop") -> str:
    """'right', or 'reported' (FA102 at the search's line); fails on a silent wrong result
    or a report of a right one. The reference: the analytic V'' (quad), else the central
    difference of framead's first-order gradient (right: the envelope theorem, checked by
    test_first_order_stays_silent)."""
    F, line, f_lines = make(kind, w, c1, c2, c3, shape)
    scale = 2 * (w * (c1 ** 2 + 1) + abs(c2) + abs(c3)) + 1.0
    if shape == "quad":
        want, tol = exact(kind, t, w, c1, c2, c3), 1e-5 * scale
    else:  # (h = 1e-4: truncation ~1e-8, a bisection's 1e-13 noise / h ~1e-9; a looser
        # tolerance took a lost term of 2e-3 for right, and its report for a false alarm)
        g, h = framead.grad(F), 1e-4
        want, tol = (g(t + h) - g(t - h)) / (2 * h), 1e-5 * scale
    with backward_mode(mode):
        got = float(np.asarray(APIS[api](F, t, False)))
        try:
            APIS[api](F, t, True)
            reported = None
        except framead.GradientHazard as e:
            reported = str(e)
    right = abs(got - want) <= tol
    if right:
        assert reported is None, f"{kind} {api}: right ({got}) but reported: {reported}"
        return "right"
    assert reported is not None, f"{kind} {api}: silently wrong: {got} vs {want}"
    # at the search's comparison (zero_trip.decided_exit), or at the compared value's line
    # in f / dfdx (zero_trip's first-pass tie: bisection whose first midpoint is the root)
    assert "FA102" in reported and any(f":{ln} " in reported for ln in (line, *f_lines)), (
        kind, api, line, reported)
    return "reported"


MODES = ("loop", "source", "tracer")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", list(APIS))
@pytest.mark.parametrize("kind", KINDS)
def test_golden_shape_each_search(kind, api, mode):
    """A shape whose second derivative x*(t) changes: the searches (golden, ternary,
    bisection) are reported, Newton and the grid are right, however the reverse pass runs."""
    verdict = judge(kind, api, 0.7, 1.0, 1.0, 1.0, 0.5, "quad", mode)
    assert verdict == ("right" if kind in ("grid", "newton") else "reported")


@pytest.mark.parametrize("kind", ("golden", "ternary", "bisection"))
def test_separable_is_silent(kind):
    """f = w x^2 + c3 t^2: the gradient does not read x*, the Hessian is right, no report."""
    assert judge(kind, "hessian", 0.7, 1.3, 0.0, 0.0, 0.8) == "right"


def test_first_order_stays_silent():
    """The first derivative of the searched minimum is right and not reported."""
    for kind in KINDS:
        F, _, _ = make(kind, 1.0, 1.0, 1.0, 0.5)
        g = framead.grad(F, strict=True)(0.7)
        want = (F(0.7 + 1e-5) - F(0.7 - 1e-5)) / 2e-5  # (central difference, float64)
        assert abs(g - want) <= 1e-5, (kind, g, want)


_nz = st.floats(0.3, 2.0) | st.floats(-2.0, -0.3)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(kind=st.sampled_from(KINDS), api=st.sampled_from(list(APIS)),
       shape=st.sampled_from(["quad", "quartic", "sin"]),
       t=st.floats(-2.0, 2.0), w=st.floats(0.4, 3.0),
       c1=st.sampled_from([0.0, 1.0]) | _nz, c2=st.sampled_from([0.0]) | _nz,
       c3=st.floats(-1.0, 1.0), mode=st.sampled_from(MODES))
def test_fuzz_searches_right_or_reported(kind, api, shape, t, w, c1, c2, c3, mode):
    # known misses, left out: near t = 0 (|t| below 1e-6), Newton's start (0.0) and bisection's
    # first midpoint are within the tolerance of the root (at t = 0 exactly: the root) and the
    # first test ends the loop on its first pass with a residual of the size of t, not a
    # rounding-level tie zero_trip judges (Newton silently 0.0 for 0.0 + the lost term)
    assume(not (kind in ("bisection", "newton") and abs(t) < 1e-6))
    # known false alarm, left out: c1 = c2 = 0 (quartic, sin) puts the root of df/dx at 0 for
    # every t, bisection's first midpoint: zero_trip reports the exact tie there as a loop
    # that ran zero times (the bisection goes on; the same in test_search_choice_first_order)
    assume(not (kind == "bisection" and c1 == 0.0 and c2 == 0.0))
    # the same false alarm where x* = k t = 0 for every t (k = c1 - c2 / (2 w) = 0): Newton's
    # start and bisection's first midpoint are the root (test_choice_that_does_not_move_is_silent)
    assume(not (kind in ("bisection", "newton") and shape == "quad" and c1 - c2 / (2 * w) == 0))
    if kind == "grid" and shape != "quad":
        shape = "quad"  # (a grid's gradient jumps: its reference is the analytic one)
    judge(kind, api, t, w, c1, c2, c3, shape, mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", list(APIS))
@pytest.mark.parametrize("kind", KINDS)
def test_choice_read_only_by_the_reverse_pass(kind, api, mode):
    """c1 = 0: dV/dt = c2 x*, made by the inner reverse pass from its seed and constants only
    (x* and c2 untraced): with a constant seed that product was folded out of the outer graph
    and the Hessian was a silent 0.0 for -0.125 (found by the fuzzer below in CI). The
    searches are reported, Newton and the grid are right."""
    verdict = judge(kind, api, 1.0, 1.0, 0.0, 0.5, 0.0, "quad", mode)
    assert verdict == ("right" if kind in ("grid", "newton") else "reported")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", list(APIS))
@pytest.mark.parametrize("kind", ("golden", "ternary", "grid"))
def test_choice_that_does_not_move_is_silent(kind, api, mode):
    """c1 = -1, c2 = -2 (k = 0): x* = 0 for every t, so nothing is lost although the gradient
    reads x* (2 (x* + t) - 2 x*: the forward pass's read and the reverse pass's cancel; the
    check once counted only the reads after the last comparison, which the reverse pass makes:
    a false alarm, found by the fuzzer in CI). Bisection's first midpoint and Newton's start
    are that root: zero_trip's known false alarm (a loop that ran zero times), left out."""
    assert judge(kind, api, 0.7, 1.0, -1.0, -2.0, 0.0, "quad", mode) == "right"


@pytest.mark.parametrize("shape,t,c1", [("quad", 2.0, 1.0), ("quartic", 0.0, 0.0)])
def test_objective_with_zero_minimum_value_for_every_t(shape, t, c1):
    """f = w (x - c1 t)^2 (+ 0.1 (x - c1 t)^4): the minimum value is 0 for every t. x* = 2.0
    at t = 2 is also the literal of ``** 2`` (read where the search's points were read: not
    taken for the literal); with c1 = 0 the gradient reads x* times 0 (its tangent in x* is
    0: right, silent). Found by the fuzzer below in CI."""
    judge("golden", "hessian", t, 1.0, c1, 0.0, 0.0, shape)
