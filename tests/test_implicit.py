"""Implicit-function adjoints (issue 6 item 2): SciPy root finders and minimizers inside a
capture are differentiated through the implicit function theorem, never through their
iterations; ``framead.implicit(solve, residual)`` does the same for a user's own solver."""

from __future__ import annotations

import numpy as np
import pytest

so = pytest.importorskip("scipy.optimize")
framead = pytest.importorskip("framead")

H = 1e-6


def central(f, x, h=H):
    """Central differences of a scalar program (scalar or array argument)."""
    if np.ndim(x) == 0:
        return (f(x + h) - f(x - h)) / (2 * h)
    out = np.zeros(np.shape(x))
    for k in range(np.size(x)):
        e = np.zeros(np.shape(x))
        e.flat[k] = h
        out.flat[k] = (f(x + e) - f(x - e)) / (2 * h)
    return out


def cubic(x, th):
    return x**3 + th * x - 2.0


@pytest.mark.parametrize("solver", ["brentq", "brenth", "ridder", "bisect"])
def test_bracketing_scalar_solvers_closure(solver):
    fn = getattr(so, solver)

    def prog(th):
        return fn(lambda x: x**3 + th * x - 2.0, 0.0, 2.0, xtol=1e-15, rtol=1e-15) ** 2

    th = 1.3
    assert framead.grad(prog)(th) == pytest.approx(central(prog, th), rel=1e-7)


def test_brentq_args_and_full_output():
    def prog(th):
        x, info = so.brentq(cubic, 0.0, 2.0, args=(th * th,), xtol=1e-15, full_output=True)
        assert info.converged
        return np.sin(x) + info.root

    th = 0.9
    assert framead.grad(prog)(th) == pytest.approx(central(prog, th), rel=1e-7)


def test_newton_scalar_and_vectorized():
    def prog(th):
        return so.newton(lambda x: np.cos(x) - th * x, 0.5, tol=1e-14)

    th = 0.8
    assert framead.grad(prog)(th) == pytest.approx(central(prog, th), rel=1e-7)

    def prog_vec(th):
        x = so.newton(lambda x, a: x**3 - a, np.ones(3), args=(th,), tol=1e-14)
        return np.sum(x * np.arange(1.0, 4.0))

    th = np.array([2.0, 3.0, 5.0])
    np.testing.assert_allclose(framead.grad(prog_vec)(th), central(prog_vec, th), rtol=1e-7)
    # cube roots: d a^(1/3)/da = a^(-2/3)/3
    np.testing.assert_allclose(framead.grad(prog_vec)(th),
                               np.arange(1.0, 4.0) * th ** (-2 / 3) / 3, rtol=1e-12)


def test_root_scalar_methods():
    def prog(th):
        f = lambda x: np.exp(x) - th * (x + 2.0)
        a = so.root_scalar(f, bracket=(0.0, 3.0), method="brentq", xtol=1e-15).root
        b = so.root_scalar(lambda x: (f(x), np.exp(x) - th), x0=2.0, fprime=True,
                           method="newton", xtol=1e-15).root
        return a + 2 * b

    th = 3.0
    assert framead.grad(prog)(th) == pytest.approx(central(prog, th), rel=1e-7)


def system(x, th):
    return np.array([x[0] ** 3 + x[0] - th[0] - 0.1 * x[1],
                     x[1] ** 3 + 2 * x[1] - th[1] + 0.2 * np.sin(x[0])])


def test_root_and_fsolve_systems():
    def prog_root(th):
        r = so.root(lambda x: system(x, th), np.ones(2), tol=1e-14)
        return np.sum(r.x**2)

    def prog_fsolve(th):
        x = so.fsolve(system, np.ones(2), args=(th,), xtol=1e-13)
        return x[0] * np.exp(x[1])

    th = np.array([0.7, 1.2])
    for prog in (prog_root, prog_fsolve):
        np.testing.assert_allclose(framead.grad(prog)(th), central(prog, th), rtol=1e-7)


def test_root_with_jacobian_true():
    def prog(th):
        def fun(x):
            J = np.array([[3 * x[0] ** 2 + 1, -0.1], [0.2 * np.cos(x[0]), 3 * x[1] ** 2 + 2]])
            return system(x, th), J

        return np.sum(so.root(fun, np.ones(2), jac=True, tol=1e-14).x ** 3)

    th = np.array([0.4, 2.0])
    np.testing.assert_allclose(framead.grad(prog)(th), central(prog, th), rtol=1e-7)


def test_fixed_point():
    def prog(th):
        x = so.fixed_point(lambda x: np.cos(th * x), 0.5, xtol=1e-14)
        return x * 1.0

    th = 0.9
    assert framead.grad(prog)(th) == pytest.approx(central(prog, th), rel=1e-7)

    def prog_vec(th):
        x = so.fixed_point(lambda x, a: np.sqrt(a + 0.1 * x), np.ones(2), args=(th,),
                           xtol=1e-14)
        return np.sum(x**2)

    th = np.array([2.0, 3.0])
    np.testing.assert_allclose(framead.grad(prog_vec)(th), central(prog_vec, th), rtol=1e-7)


def _exact_minimizer(th):
    """Minimizer of sum((x - th)^2) + th0 * sum(x^4): 2(x - th) + 4 th0 x^3 = 0."""
    return np.array([so.brentq(lambda x: 2 * (x - t) + 4 * th[0] * x**3, -5, 5, xtol=1e-15)
                     for t in th])


def _minimizer_jacobian(th):
    x = _exact_minimizer(th)
    d = 2 + 12 * th[0] * x**2
    J = np.diag(2 / d)
    J[:, 0] -= 4 * x**3 / d
    return x, J  # J[i, j] = dx_i / dth_j


@pytest.mark.parametrize("how", ["no_jac", "jac", "jac_true"])
def test_minimize_optimality_condition(how):
    """x* of a minimize call: against the analytic derivative of the minimizer (finite
    differences through BFGS are only as good as its tolerance), and r.fun against central
    differences."""
    w = np.array([1.0, 2.0])

    def prog(th, what="x"):
        f = lambda x: np.sum((x - th) ** 2) + np.sum(x**4) * th[0]
        g = lambda x: 2 * (x - th) + 4 * th[0] * x**3
        if how == "jac":
            r = so.minimize(f, np.zeros(2), jac=g, method="BFGS", options={"gtol": 1e-12})
        elif how == "jac_true":
            r = so.minimize(lambda x: (f(x), g(x)), np.zeros(2), jac=True, method="BFGS",
                            options={"gtol": 1e-12})
        else:
            r = so.minimize(f, np.zeros(2), method="BFGS", options={"gtol": 1e-10})
        return np.sum(w * r.x) if what == "x" else r.fun

    th = np.array([0.7, 1.2])
    _, J = _minimizer_jacobian(th)
    # without jac, BFGS stops at |grad| ~ 1e-10: x* (hence dx*/dth) is less accurate
    np.testing.assert_allclose(framead.grad(prog)(th), w @ J, rtol=1e-7 if how != "no_jac"
                               else 1e-6)
    fun = lambda th: prog(th, "fun")
    np.testing.assert_allclose(framead.grad(fun)(th), central(fun, th), rtol=1e-6)


def test_minimize_not_complex_safe_uses_differences():
    def prog(th):  # abs() of a complex step drops its imaginary part
        f = lambda x: np.sum((x - th) ** 2) + th[0] * np.sum(np.abs(x) ** 4)
        return np.sum(so.minimize(f, np.zeros(2), method="BFGS", options={"gtol": 1e-10}).x)

    th = np.array([0.7, 1.2])
    _, J = _minimizer_jacobian(th)
    with pytest.warns(RuntimeWarning, match="central differences"):
        g = framead.grad(prog)(th)
    np.testing.assert_allclose(g, J.sum(axis=0), rtol=1e-5)


def test_minimize_scalar():
    def prog(th):
        r = so.minimize_scalar(lambda x: (x - th) ** 2 + 0.3 * x**4, bracket=(-1.0, 2.0),
                               options={"xtol": 1e-14})
        return r.x

    th = 0.8
    x = prog(th)
    assert framead.grad(prog)(th) == pytest.approx(2 / (2 + 3.6 * x**2), rel=1e-7)


def test_untraced_solver_calls_are_unchanged():
    def prog(th):
        x = so.brentq(lambda x: x**2 - 2.0, 0.0, 2.0)  # nothing traced reaches it
        return th * x

    assert framead.grad(prog)(1.5) == pytest.approx(np.sqrt(2.0), rel=1e-10)


def test_solution_independent_of_traced_initial_guess():
    def prog(th):
        return so.newton(lambda x: x**2 - 2.0, th, tol=1e-14) * 1.0

    with pytest.warns(framead.GradientWarning):
        assert framead.grad(prog)(1.0) == 0.0


@pytest.mark.parametrize("solver", ["fsolve", "brentq"])
def test_backward_residual_evaluations_independent_of_iterations(solver):
    """The reverse pass never calls the residual; the forward pass adds exactly two calls
    (one recording the residual's dependence on the parameters, one nested capture of
    dF/dx), whatever the number of solver iterations."""
    counts = {"n": 0}

    def prog(th, start, tol):
        def F(x):
            counts["n"] += 1
            return x**3 + th * x - 2.0 if solver == "brentq" else system(x, th)

        if solver == "brentq":
            return so.brentq(F, 0.0, start, xtol=tol) * 1.0
        return np.sum(so.fsolve(F, np.full(2, start), xtol=tol))

    th = 1.3 if solver == "brentq" else np.array([0.7, 1.2])
    seen = []
    for start, tol in [(2.0, 1e-4), (50.0, 1e-13)]:
        counts["n"] = 0
        prog(th, start, tol)
        native = counts["n"]
        counts["n"] = 0
        _, f_vjp = framead.vjp(prog, th, start, tol, argnums=0)
        forward = counts["n"]
        f_vjp(1.0)
        backward = counts["n"] - forward
        assert forward == native + 2
        assert backward == 0
        seen.append(native)
    assert seen[1] > seen[0] + 3  # the iteration counts really differ


def test_framead_implicit_user_solver():
    iterations = {"n": 0}

    def residual(x, a, b):
        return x - a * np.cos(x) - b

    def my_solver(a, b):  # a hand-written fixed-point loop
        x = 0.0
        for _ in range(200):
            iterations["n"] += 1
            x = a * np.cos(x) + b
        return x

    solve = framead.implicit(my_solver, residual)

    def prog(a, b):
        return solve(a, b) ** 2

    a, b = 0.5, 0.3
    ga, gb = framead.grad(prog, (0, 1))(a, b)
    assert ga == pytest.approx(central(lambda a: prog(a, b), a), rel=1e-7)
    assert gb == pytest.approx(central(lambda b: prog(a, b), b), rel=1e-7)
    assert solve(a, b) == my_solver(a, b)  # outside a capture it is the solver itself


def test_framead_implicit_closure_and_decorator():
    def prog(c):
        @framead.implicit(residual=lambda x: x**2 - c)
        def sqrt_c():
            return float(np.sqrt(float(c)))

        return sqrt_c()

    assert framead.grad(prog)(3.0) == pytest.approx(0.5 / np.sqrt(3.0), rel=1e-12)


def test_minimize_active_bounds():
    """L-BFGS-B with x_1 stopped at its upper bound: dx_1/dth = 0, x_0 follows th_0."""
    def prog(th):
        r = so.minimize(lambda x: np.sum((x - th) ** 2) + 0.1 * x[0] ** 4, np.zeros(2),
                        method="L-BFGS-B", bounds=[(-5.0, 5.0), (-1.0, 0.5)],
                        options={"gtol": 1e-12, "ftol": 1e-15})
        return r.x[0] + 3 * r.x[1]

    th = np.array([0.3, 2.0])
    x0 = prog(th) - 1.5
    g = framead.grad(prog)(th)
    np.testing.assert_allclose(g, [2 / (2 + 1.2 * x0**2), 0.0], rtol=1e-6, atol=1e-12)


def test_fsolve_residual_returning_a_list():
    def prog(th):
        F = lambda x: [x[0] ** 3 + x[0] - th[0], x[1] + 0.5 * np.sin(x[0]) - th[1]]
        return np.sum(so.fsolve(F, [0.5, 0.5], xtol=1e-13) ** 2)

    th = np.array([0.8, 0.2])
    np.testing.assert_allclose(framead.grad(prog)(th), central(prog, th), rtol=1e-7)


def test_minimize_with_constraints_is_reported():
    def prog(th):
        cons = [{"type": "eq", "fun": lambda x: x[0] + x[1] - 1.0}]
        r = so.minimize(lambda x: np.sum((x - th) ** 2), np.zeros(2), constraints=cons,
                        method="SLSQP")
        return np.sum(r.x)

    t = framead.trace(prog, np.array([0.3, 0.9]))
    assert any(h.code == "FA101" and "constraints" in str(h) for h in t.hazards)


def test_forward_mode_through_a_solver():
    if not hasattr(framead, "jvp"):
        pytest.skip("framead.jvp not available")

    def prog(th):
        return so.fsolve(system, np.ones(2), args=(th,), xtol=1e-13)

    th, v = np.array([0.7, 1.2]), np.array([0.3, -1.0])
    _, t = framead.jvp(prog, (th,), (v,))
    np.testing.assert_allclose(t, central(lambda s: prog(th + s * v), 0.0), rtol=1e-7)
