"""A loop that ran zero times because its first test was a near-tie (capture/zero_trip.py).

Newton's method, a Babylonian or cube-root iteration started exactly at its answer exits at
once: the gradient is the starting guess's, while any change of the inputs as small as the
tolerance runs the loop (central differences see the solver's derivative). framead reports
FA102 at the test's line. The same loops started elsewhere converge (a first test that is no
tie), and a loose tolerance met at the start is no tie either (the program really is the
starting value there): both stay silent and right, checked against central differences.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import framead
from framead.errors import GradientHazard


def _central(f, a, h=1e-6):
    return (f(a + h) - f(a - h)) / (2 * h)


# --- iterations: (start from a, residual, Newton update); each is exact at its start for A ---
ITERS = {
    "sqrt_half": (lambda a: a / 2.0, lambda x, a: x * x - a,
                  lambda x, a: x - (x * x - a) / (2 * x)),
    "sqrt_babylonian": (lambda a: a, lambda x, a: x * x - a, lambda x, a: 0.5 * (x + a / x)),
    "cbrt_third": (lambda a: a / 9.0, lambda x, a: x ** 3 - a,
                   lambda x, a: x - (x ** 3 - a) / (3 * x * x)),
}
AT_START = {"sqrt_half": 4.0, "sqrt_babylonian": 1.0, "cbrt_third": 27.0}
TRUE = {"sqrt_half": lambda a: 0.5 / np.sqrt(a), "sqrt_babylonian": lambda a: 0.5 / np.sqrt(a),
        "cbrt_third": lambda a: 1.0 / (3.0 * np.cbrt(a) ** 2)}


def _program(form, it, tol):
    """A solver of one loop form around the iteration ``it``; the test is on a line with the
    marker ``# test``."""
    start, resid, step = ITERS[it]
    if form == "while":
        def f(a):
            x = start(a)
            while abs(resid(x, a)) > tol:  # test
                x = step(x, a)
            return x
    elif form == "while_inline":
        def f(a):
            x = start(a)
            while abs(x * x - a if it != "cbrt_third" else x ** 3 - a) > tol:  # test
                x = step(x, a)
            return x
    elif form == "for_break":
        def f(a):
            x = start(a)
            for _ in range(60):
                r = resid(x, a)  # test
                if abs(r) < tol:
                    break
                x = step(x, a)
            return x
    elif form == "for_return":
        def f(a):
            x = start(a)
            for _ in range(60):
                if abs(resid(x, a)) <= tol:  # test
                    return x
                x = step(x, a)
            return x
    elif form == "for_return_work":
        def f(a):
            x = start(a)
            for _ in range(60):
                if abs(resid(x, a)) <= tol:  # test
                    return x * 1.0 + 0.5
                x = step(x, a)
            return x + 0.5
    elif form == "while_true":
        def f(a):
            x = start(a)
            while True:
                r = resid(x, a)  # test
                if not abs(r) > tol:
                    break
                x = step(x, a)
            return 2.0 * x
    elif form == "array":
        def f(a):
            av = np.array([a, a])
            x = start(av)
            for _ in range(60):
                r = resid(x, av)  # test
                if np.max(np.abs(r)) < tol:
                    break
                x = step(x, av)
            return x.sum()
    elif form == "array_all":
        def f(a):
            av = np.array([a, a])
            x = start(av)
            for _ in range(60):
                r = resid(x, av)  # test
                if np.all(np.abs(r) < tol):
                    break
                x = step(x, av)
            return x.sum() / 2.0
    else:
        raise AssertionError(form)
    return f


FORMS = ("while", "while_inline", "for_break", "for_return", "for_return_work", "while_true",
         "array", "array_all")
REPORTED = FORMS  # (arrays' operands not kept are made again: capture/zero_trip.py _remade)


def _test_line(f):
    lines, first = inspect.getsourcelines(f)
    return first + next(k for k, s in enumerate(lines) if "# test" in s)


def _lines(loc):
    """The hazard's line and its callers' (a residual made in a helper: the loop's line)."""
    return [loc.line, *(line for _, line, _ in loc.stack)]


def _hazards(f, a):
    return [h for h in framead.trace(f, a).hazards if h.code == "FA102"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(form=st.sampled_from(REPORTED), it=st.sampled_from(sorted(ITERS)),
       tol=st.sampled_from([1e-12, 1e-10, 1e-14]))
def test_a_loop_started_at_its_answer_is_reported_at_its_test(form, it, tol):
    f = _program(form, it, tol)
    a = AT_START[it]
    assert abs(float(np.sum(f(a))) - float(np.sum(f(a + 0.0)))) == 0.0
    got = float(framead.grad(f)(a))
    fd = _central(f, a)
    assert abs(got - fd) > 1e-3 * abs(fd)  # (the case is real: the gradient is wrong)
    hz = _hazards(f, a)
    assert hz, (form, it, tol)
    assert _test_line(f) in _lines(hz[0].loc)
    with pytest.raises(GradientHazard, match="loop ran zero times"):
        framead.grad(f, strict=True)(a)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(form=st.sampled_from(FORMS), it=st.sampled_from(sorted(ITERS)),
       shift=st.sampled_from([0.37, 1.5, 3.0, -0.4]), tol=st.sampled_from([1e-12, 1e-10]))
def test_the_same_loops_started_elsewhere_stay_silent_and_right(form, it, shift, tol):
    f = _program(form, it, tol)
    a = AT_START[it] + shift
    g = framead.grad(f, strict=True)(a)
    scale = {"while_true": 2.0, "array": 2.0}.get(form, 1.0)
    assert np.isclose(g, scale * TRUE[it](a), rtol=1e-6)
    assert np.isclose(g, _central(f, a), rtol=1e-5)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("it", sorted(ITERS))
def test_a_loose_tolerance_met_at_the_start_is_no_tie(form, it):
    f = _program(form, it, 0.05)  # (the program is its starting value near A)
    a = AT_START[it]
    g = framead.grad(f, strict=True)(a)
    assert np.isclose(g, _central(f, a, 1e-7), rtol=1e-6)


def test_work_done_before_the_first_test_is_no_zero_trip():
    """One Newton step of a linear equation lands on its root exactly: the test after it is a
    cancellation on the loop's first pass, but the pass did work (and it is right)."""
    def f(a):
        x = 0.0
        for _ in range(10):
            x = x - (3.0 * x - a) / 3.0
            if abs(3.0 * x - a) < 1e-12:
                break
        return x
    g = framead.grad(f, strict=True)(6.0)
    assert np.isclose(g, 1 / 3) and np.isclose(g, _central(f, 6.0))


def test_a_residual_checked_after_a_converged_loop_is_no_zero_trip():
    def f(a):
        x = a
        for _ in range(60):
            x = 0.5 * (x + a / x)
        assert abs(x * x - a) < 1e-9
        ok = abs(x * x - a) < 1e-12
        return x if ok else x
    g = framead.grad(f, strict=True)(2.0)
    assert np.isclose(g, 0.5 / np.sqrt(2.0)) and np.isclose(g, _central(f, 2.0))


def test_a_solver_called_in_a_loop_reports_the_call_that_starts_at_its_answer():
    def newton(a):
        x = a / 2.0
        while abs(x * x - a) > 1e-12:  # test
            x = x - (x * x - a) / (2 * x)
        return x

    def f(a):
        return newton(a) + 3.0 * a

    hz = _hazards(f, 4.0)
    assert hz and _test_line(newton) in _lines(hz[0].loc)
    assert not _hazards(f, 5.0)


@pytest.mark.parametrize("first", [True, False])
def test_a_solver_run_again_later_still_reports_its_zero_trip_run(first):
    """The same loop run again (a second call, an outer loop) is a new run, not a second
    pass of the run that exited at once."""
    def newton(a):
        x = a / 2.0
        while abs(x * x - a) > 1e-12:  # test
            x = x - (x * x - a) / (2 * x)
        return x

    def f(a):
        bs = [a, 1.25 * a] if first else [1.25 * a, a]
        return sum(newton(b) for b in bs)

    def g(a):
        total = 0.0
        for b in ([a, 1.25 * a] if first else [1.25 * a, a]):
            x = b / 2.0
            while abs(x * x - b) > 1e-12:  # test
                x = x - (x * x - b) / (2 * x)
            total += x
        return total

    assert _test_line(newton) in _lines(_hazards(f, 4.0)[0].loc)
    assert _test_line(g) in _lines(_hazards(g, 4.0)[0].loc)
    for h in (f, g):
        assert np.isclose(framead.grad(h, strict=True)(4.4), 0.5 / np.sqrt(4.4) +
                          1.25 * 0.5 / np.sqrt(5.5))


def test_cached_calls_report_it_too():
    f = _program("while", "sqrt_half", 1e-12)
    vg = framead.value_and_grad(f, cache=True)
    assert np.isclose(vg(5.0)[1], TRUE["sqrt_half"](5.0))
    with pytest.raises(GradientHazard, match="loop ran zero times"):
        framead.value_and_grad(f, cache=True, strict=True)(4.0)


# --- tests that are themselves the tie, sum()'s residual, a damped step, recursion ----------
# (a start at the answer: x0 = a / 2 at a = 4; the fixed point is sqrt(a) for every family)

def _family(kind, tol, c):
    """A solver whose first test at its answer is of the kind ``kind``; ``c``: the damping of
    the "damped" step. Its test is on the line marked ``# test``."""
    if kind == "equal":
        def f(a):
            x = a / 2.0
            for _ in range(60):
                if x * x == a:  # test
                    break
                x = x - (x * x - a) / (2 * x)
            return x
    elif kind == "equal_swapped":
        def f(a):
            x = a / 2.0
            for _ in range(60):
                if a == x * x:  # test
                    return x
                x = x - (x * x - a) / (2 * x)
            return x
    elif kind == "fixed_point":
        def f(a):
            x = a / 2.0
            for _ in range(60):
                xn = 0.5 * (x + a / x)
                if xn == x:  # test
                    break
                x = xn
            return x
    elif kind == "side_work":
        def f(a):
            x = a / 2.0
            for _ in range(60):
                dfx = 2 * x  # (this pass's work, not the residual's)
                fx = x * x - a  # test
                if abs(fx) < tol:
                    break
                x = x - fx / dfx
            return x
    elif kind in ("sum", "fsum"):
        total = sum if kind == "sum" else math.fsum

        def f(a):
            x = a / 2.0
            while abs(total([x * x, -a])) > tol:  # test
                x = x - (x * x - a) / (2 * x)
            return x
    elif kind == "damped":
        def f(a):
            x = a / 2.0
            for _ in range(2000):
                xn = x - c * (x * x - a)
                if abs(xn - x) < tol:  # test
                    return xn
                x = xn
            raise AssertionError
    elif kind == "recursive":
        def newton(a, x, depth=0):
            if abs(x * x - a) < tol or depth > 60:  # test
                return x
            return newton(a, x - (x * x - a) / (2 * x), depth + 1)

        def f(a):
            return newton(a, a / 2.0)
        f.marked = newton
    else:
        raise AssertionError(kind)
    return f


FAMILIES = ("equal", "equal_swapped", "fixed_point", "sum", "fsum", "damped", "recursive",
            "side_work")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(FAMILIES), tol=st.sampled_from([1e-12, 1e-10, 1e-13]),
       c=st.sampled_from([0.05, 0.1, 0.2]))
def test_each_family_started_at_its_answer_is_reported_at_its_test(kind, tol, c):
    f = _family(kind, tol, c)
    got, fd = float(framead.grad(f)(4.0)), _central(f, 4.0)
    assert abs(got - fd) > 0.1 * abs(fd)  # (the case is real: one pass is not the solver)
    hz = _hazards(f, 4.0)
    assert hz, (kind, tol, c)
    assert _test_line(getattr(f, "marked", f)) in _lines(hz[0].loc)
    with pytest.raises(GradientHazard, match="loop ran zero times"):
        framead.grad(f, strict=True)(4.0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(FAMILIES), tol=st.sampled_from([1e-12, 1e-10, 1e-13]),
       c=st.sampled_from([0.05, 0.1, 0.2]), a=st.floats(2.5, 6.0))
def test_each_family_started_elsewhere_stays_silent_and_right(kind, tol, c, a):
    assume(abs(a - 4.0) > 1e-3)
    f = _family(kind, tol, c)
    g = float(framead.grad(f, strict=True)(a))
    assert np.isclose(g, 0.5 / math.sqrt(a), rtol=1e-6)
    assert np.isclose(g, _central(f, a), rtol=1e-5)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(("newton", "babylonian", "equal")), a=st.floats(0.5, 9.0),
       checks=st.integers(1, 4))
def test_a_verification_loop_after_a_solver_stays_silent(kind, a, checks):
    """A loop that only tests the converged answer (its body changes nothing) exits at once
    on a tie: that is the program, the gradient is the solver's."""
    def f(a):
        x = a
        for _ in range(60):
            x = 0.5 * (x + a / x) if kind != "newton" else x - (x * x - a) / (2 * x)
        for _ in range(checks):
            if (x * x == a) if kind == "equal" else abs(x * x - a) < 1e-12:
                break
        return x
    g = float(framead.grad(f, strict=True)(a))
    assert np.isclose(g, 0.5 / math.sqrt(a), rtol=1e-6)
    assert np.isclose(g, _central(f, a), rtol=1e-5)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(test=st.sampled_from(("norm", "max_abs", "all_close")), tol=st.sampled_from([1e-12, 1e-10]),
       shift=st.sampled_from([0.0, 0.0, 0.7, -1.3]))
def test_a_linear_residual_of_arrays(test, tol, shift):
    """Richardson's iteration for A x = b(a) started at the answer when a = 4 (x0 is not the
    closed form: its derivative differs): reported there, silent and right elsewhere."""
    A = np.array([[2.0, 1.0], [1.0, 3.0]])

    def f(a):
        b = np.array([a, 2.0 * a])
        x = np.array([a / 4.0 - 0.2, 2.4])  # (A x = b at a = 4)
        for _ in range(400):
            r = A @ x - b  # test
            if (np.linalg.norm(r) < tol if test == "norm" else np.max(np.abs(r)) < tol
                    if test == "max_abs" else np.all(np.abs(r) < tol)):
                break
            x = x - 0.2 * r
        return x.sum()
    a = 4.0 + shift
    g = float(framead.grad(f, strict=not shift == 0.0)(a))
    if shift == 0.0:
        assert abs(g - _central(f, a)) > 0.1  # (real: 0.25, the solution's 0.8)
        hz = _hazards(f, a)
        assert hz and _test_line(f) in _lines(hz[0].loc)
    else:
        assert np.isclose(g, 0.8, rtol=1e-6) and np.isclose(g, _central(f, a), rtol=1e-5)
