"""The Lorenz system integrated with classical RK4, all in Python floats and tuples.

The objective is a function of the model parameters (sigma, rho, beta): the time average
of z plus the squared distance of the final state from a target point.
"""

import math


def lorenz(state, sigma, rho, beta):
    x, y, z = state
    return (sigma * (y - x), x * (rho - z) - y, x * y - beta * z)


def add_scaled(state, k, h):
    return tuple(s + h * d for s, d in zip(state, k, strict=True))


def rk4_step(rhs, state, dt, params):
    k1 = rhs(state, *params)
    k2 = rhs(add_scaled(state, k1, 0.5 * dt), *params)
    k3 = rhs(add_scaled(state, k2, 0.5 * dt), *params)
    k4 = rhs(add_scaled(state, k3, dt), *params)
    return tuple(
        s + dt / 6.0 * (a + 2.0 * b + 2.0 * c + d)
        for s, a, b, c, d in zip(state, k1, k2, k3, k4, strict=True)
    )


def objective(sigma, rho, beta, nsteps=150, dt=0.01):
    state = (1.0, 1.0, 20.0)
    params = (sigma, rho, beta)
    z_sum = 0.0
    for _ in range(nsteps):
        state = rk4_step(lorenz, state, dt, params)
        z_sum += state[2]
    x, y, z = state
    miss = math.hypot(x - 5.0, y - 5.0) ** 2 + (z - 25.0) ** 2
    return z_sum / nsteps + 0.01 * miss


EXAMPLE_ARGS = (10.0, 28.0, 8.0 / 3.0)


if __name__ == "__main__":
    print(objective(*EXAMPLE_ARGS))
