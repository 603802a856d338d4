# ruff: noqa: B905 - legacy code: zip() without strict=, as it was written
"""ODE integrators over lists of floats: Euler, RK4, velocity Verlet."""

from registry import case, on_list, scalar, vector


@case(vector(3, 0.1, 1.5), on_list)
def euler_decay_chain(k):
    """A -> B -> C -> (out) first-order decay chain, forward Euler, rates given as a list."""
    y = [1.0, 0.0, 0.0]
    dt = 0.01
    for _ in range(300):
        dy = [-k[0] * y[0], k[0] * y[0] - k[1] * y[1], k[1] * y[1] - k[2] * y[2]]
        y = [y[i] + dt * dy[i] for i in range(3)]
    return y[1] + 2.0 * y[2]


def _rk4_step(f, t, y, h, *args):
    k1 = f(t, y, *args)
    k2 = f(t + h / 2, [y[i] + h / 2 * k1[i] for i in range(len(y))], *args)
    k3 = f(t + h / 2, [y[i] + h / 2 * k2[i] for i in range(len(y))], *args)
    k4 = f(t + h, [y[i] + h * k3[i] for i in range(len(y))], *args)
    return [y[i] + h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]) for i in range(len(y))]


def _oscillator(t, y, omega, zeta):
    return [y[1], -2 * zeta * omega * y[1] - omega * omega * y[0]]


@case(vector(2, 0.2, 2.0), on_list)
def rk4_damped_oscillator(params):
    """Damped oscillator x'' + 2 zeta w x' + w^2 x = 0, classical RK4, energy at t = 5."""
    omega, zeta = params[0], params[1] * 0.2
    y, t, h = [1.0, 0.0], 0.0, 0.05
    while t < 5.0 - 1e-12:
        y = _rk4_step(_oscillator, t, y, h, omega, zeta)
        t += h
    return 0.5 * y[1] ** 2 + 0.5 * omega ** 2 * y[0] ** 2


def _lotka_volterra(t, y, a, b, c, d):
    return [a * y[0] - b * y[0] * y[1], d * y[0] * y[1] - c * y[1]]


@case(vector(4, 0.5, 1.5), on_list)
def rk4_lotka_volterra(p):
    """Predator-prey model, RK4 with a fixed step, prey at t = 4."""
    a, b, c, d = p
    y = [1.0, 0.5]
    for n in range(80):
        y = _rk4_step(_lotka_volterra, n * 0.05, y, 0.05, a, b, c, d)
    return y[0]


@case(scalar(0.5, 2.0))
def verlet_pendulum(length):
    """Nonlinear pendulum of a given length, velocity Verlet, angle after 3 seconds."""
    import math

    g, dt = 9.81, 0.01
    theta, omega = 0.8, 0.0
    acc = -g / length * math.sin(theta)
    for _ in range(300):
        theta += omega * dt + 0.5 * acc * dt * dt
        new_acc = -g / length * math.sin(theta)
        omega += 0.5 * (acc + new_acc) * dt
        acc = new_acc
    return theta


@case(vector(2, 0.5, 1.5), on_list)
def heun_logistic(p):
    """Logistic growth y' = r y (1 - y / K), Heun's method (improved Euler)."""
    r, K = p
    y, h = 0.1, 0.1
    for _ in range(50):
        f0 = r * y * (1 - y / K)
        yp = y + h * f0
        y = y + h / 2 * (f0 + r * yp * (1 - yp / K))
    return y
