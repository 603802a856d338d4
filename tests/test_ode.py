"""ODE adjoints (issue 6 item 3): solve_ivp and odeint inside a capture are differentiated by
the continuous adjoint method (backward integration of the adjoint ODE with VJPs of the
captured right-hand side), with respect to y0 and to parameters reached through closures and
``args=``."""

from __future__ import annotations

import numpy as np
import pytest

si = pytest.importorskip("scipy.integrate")
framead = pytest.importorskip("framead")
from framead.ode import adjoint_options  # noqa: E402

TIGHT = {"rtol": 1e-10, "atol": 1e-12}
H = 1e-5


def central(f, x, h=H):
    if np.ndim(x) == 0:
        return (f(x + h) - f(x - h)) / (2 * h)
    out = np.zeros(np.shape(x))
    for k in range(np.size(x)):
        e = np.zeros(np.shape(x))
        e.flat[k] = h
        out.flat[k] = (f(x + e) - f(x - e)) / (2 * h)
    return out


def check(prog, args, rtol=1e-6, atol=1e-9):
    nums = tuple(range(len(args)))
    with adjoint_options(**TIGHT):
        grads = framead.grad(prog, nums)(*args)
    for i, g in enumerate(grads):
        fd = central(lambda v: prog(*args[:i], v, *args[i + 1:]), args[i])
        np.testing.assert_allclose(g, fd, rtol=rtol, atol=atol, err_msg=f"argument {i}")


def test_solve_ivp_t_eval_closure_parameters_and_y0():
    def prog(p, y0):
        k = p[0]

        def fun(t, y):
            return np.array([-k * y[0] + p[1] * y[1], -p[1] * y[1] * y[0]])

        sol = si.solve_ivp(fun, (0.0, 2.0), y0, t_eval=np.linspace(0, 2, 5), **TIGHT)
        return np.sum(sol.y**2)

    check(prog, (np.array([0.7, 0.4]), np.array([1.0, 0.5])))


def test_solve_ivp_solver_steps_and_dense_output():
    def prog(a, y0):
        def fun(t, y):  # a closure over a Python float, time-dependent forcing
            return np.array([y[1], -a * np.sin(y[0]) + 0.1 * np.cos(t)])

        sol = si.solve_ivp(fun, (0.0, 3.0), y0, dense_output=True, method="DOP853", **TIGHT)
        assert sol.sol is not None
        return sol.y[0, -1] + sol.y[1, -1] ** 2  # the step times move with a: endpoint only

    check(prog, (1.3, np.array([0.4, 0.0])))


def test_solve_ivp_args_and_list_y0():
    def prog(b, c):
        sol = si.solve_ivp(lambda t, y, b: [-b * y[0] * y[1], b * y[0] - c * y[1]],
                           (0.0, 1.5), [c, 1.0], args=(b,), t_eval=[0.5, 1.5], **TIGHT)
        return sol.y[0, 0] * sol.y[1, 1]

    check(prog, (0.6, 0.9))


def test_odeint_closure_and_args():
    def prog(k, b, y0):
        def rhs(y, t, b):
            return [-k * y[0] + b * np.sin(y[1]), -b * y[1] + 0.1 * t]

        ys = si.odeint(rhs, y0, np.linspace(0, 1.5, 7), args=(b,), rtol=1e-12, atol=1e-12)
        return np.sum(ys[-1] ** 2) + ys[3, 0]

    check(prog, (0.7, 0.4, np.array([1.0, 0.5])), rtol=1e-5, atol=1e-8)


def test_odeint_tfirst_array_parameter():
    def prog(A):
        ys = si.odeint(lambda t, y: A @ y, np.array([1.0, 0.0]), [0.0, 0.5, 1.0], tfirst=True,
                       rtol=1e-12, atol=1e-12)
        return ys[-1, 0] - ys[1, 1]

    A = np.array([[-0.5, 1.0], [-1.0, -0.2]])
    check(prog, (A,), rtol=1e-5, atol=1e-8)


def test_linear_ode_exact_gradient():
    """y' = -k y: y(T) = y0 exp(-k T); d/dk = -T y(T), d/dy0 = exp(-k T)."""
    def prog(k, y0):
        sol = si.solve_ivp(lambda t, y: -k * y, (0.0, 2.0), y0, **TIGHT)
        return sol.y[0, -1]

    with adjoint_options(**TIGHT):
        gk, gy = framead.grad(prog, (0, 1))(0.8, np.array([1.5]))
    assert gk == pytest.approx(-2.0 * 1.5 * np.exp(-1.6), rel=1e-8)
    np.testing.assert_allclose(gy, [np.exp(-1.6)], rtol=1e-8)


def test_parameter_mutated_after_the_solve():
    """The adjoint runs with the parameter values of the forward solve."""
    def prog(p):
        q = p * 1.0
        sol = si.solve_ivp(lambda t, y: -q * y, (0.0, 1.0), np.ones(2), **TIGHT)
        out = np.sum(sol.y[:, -1])
        q[...] = 100.0  # the closure's array changes after the solve
        return out

    with adjoint_options(**TIGHT):
        g = framead.grad(prog)(np.array([0.5, 1.5]))
    np.testing.assert_allclose(g, -np.exp(-np.array([0.5, 1.5])), rtol=1e-8)


def test_untraced_ode_is_native():
    def prog(s):
        sol = si.solve_ivp(lambda t, y: -y, (0.0, 1.0), [1.0], **TIGHT)
        return s * sol.y[0, -1]

    assert framead.grad(prog)(2.0) == pytest.approx(np.exp(-1.0), rel=1e-8)


def test_non_terminal_events_keep_the_adjoint():
    def prog(k):
        ev = lambda t, y: y[0] - 0.5
        sol = si.solve_ivp(lambda t, y: -k * y, (0.0, 1.0), np.array([1.0]), events=ev,
                           **TIGHT)
        assert len(sol.t_events[0]) == 1
        return sol.y[0, -1]

    with adjoint_options(**TIGHT):
        assert framead.grad(prog)(0.9) == pytest.approx(-np.exp(-0.9), rel=1e-8)


def test_terminal_event_is_reported():
    def prog(k):
        ev = lambda t, y: y[0] - 0.5
        ev.terminal = True
        return si.solve_ivp(lambda t, y: -k * y, (0.0, 5.0), np.array([1.0]), events=ev).y[0, -1]

    t = framead.trace(prog, 0.9)
    assert any(h.code == "FA101" and "terminal event" in str(h) for h in t.hazards)


def test_bound_method_attributes_and_views_as_parameters():
    """Parameters held by an object's attributes (a float and a view of the input), read by
    a bound-method right-hand side; the same object feeds a root finder."""
    so = pytest.importorskip("scipy.optimize")

    class Model:
        def __init__(self, p):
            self.k = p[0] * 1.0
            self.c = p[1:]

        def rhs(self, t, y):
            return -self.k * y + self.c * np.sin(t)

    def prog(p):
        m = Model(p)
        sol = si.solve_ivp(m.rhs, (0, 1), np.ones(2), t_eval=[0.5, 1.0], **TIGHT)
        x = so.brentq(lambda x: x**3 + m.k * x - m.c[0], -3, 3, xtol=1e-15)
        return np.sum(sol.y[:, 1] ** 2) + sol.y[0, 0] + x

    check(prog, (np.array([0.8, 0.3, 1.1]),))


def test_dense_output_calls_are_differentiated():
    def prog(k, y0):
        sol = si.solve_ivp(lambda t, y: np.array([y[1], -k * y[0]]), (0.0, 2.0), y0,
                           dense_output=True, **TIGHT)
        return sol.sol(0.7)[0] + np.sum(sol.sol(np.array([1.9, 0.3]))[1] ** 2)

    check(prog, (1.7, np.array([1.0, 0.2])), rtol=1e-5, atol=1e-8)


def test_backward_in_time_integration():
    def prog(k, y1):
        sol = si.solve_ivp(lambda t, y: -k * y * (1 + 0.1 * t), (2.0, 0.0), y1,
                           t_eval=[1.5, 0.0], **TIGHT)
        return sol.y[0, 0] + sol.y[0, 1] ** 2

    check(prog, (0.4, np.array([0.8])))


def test_forward_mode_through_the_ode_node():
    """jvp/jacfwd through solve_ivp: the ODE node has no JVP of its own, so forward mode
    transposes its adjoint VJP (one adjoint solve per output element)."""
    def prog(p):
        sol = si.solve_ivp(lambda t, y: np.array([-p[0] * y[0], p[0] * y[0] - p[1] * y[1]]),
                           (0.0, 1.5), np.array([1.0, 0.2]), **TIGHT)
        return sol.y[:, -1]

    p = np.array([0.7, 0.3])
    with adjoint_options(**TIGHT):
        jac = framead.jacfwd(prog)(p)
        _, tan = framead.jvp(prog, (p,), (np.array([1.0, -2.0]),))
    fd = np.stack([central(lambda v, k=k: prog(v)[k], p) for k in range(2)])
    np.testing.assert_allclose(jac, fd, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(tan, fd @ np.array([1.0, -2.0]), rtol=1e-6, atol=1e-9)
