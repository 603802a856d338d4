"""The Lorenz system integrated by classical RK4 in Python floats and tuples."""

from __future__ import annotations

import math

NAME = "lorenz_rk4"
KIND = "scalar"
DESCRIPTION = ("Lorenz system, classical RK4 on Python floats and tuples, 2000 steps of "
               "dt=0.001; objective: time average of z plus the squared miss distance of the "
               "final state; the parameters come in as one tuple `params = (sigma, rho, beta)` "
               "of Python floats, and the gradient (with respect to that tuple) is a tuple "
               "of three floats.")
PORT_NOTES = ("All ports take the same `params` tuple (autograd and JAX differentiate it as a "
              "container, PyTorch gets a tuple of three 0-d float64 tensors that require "
              "grad). autograd: the same code (`math.hypot` becomes `anp.hypot`). JAX: the "
              "same code on 0-d arrays (`jnp.hypot`); under jit the time loop is a "
              "`lax.fori_loop`. PyTorch: the same code on 0-d tensors (`torch.hypot`).")
SIZES = {"full": {"nsteps": 2000}, "quick": {"nsteps": 200}, "tiny": {"nsteps": 4}}
ARGNUMS = (0,)   # the params tuple


def inputs(nsteps: int):
    return ((10.0, 28.0, 8.0 / 3.0),), {"nsteps": nsteps, "dt": 0.001}


# --- the legacy primal -------------------------------------------------------------------------

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


def primal(params, nsteps=2000, dt=0.001):
    """``params = (sigma, rho, beta)``."""
    state = (1.0, 1.0, 20.0)
    z_sum = 0.0
    for _ in range(nsteps):
        state = rk4_step(lorenz, state, dt, params)
        z_sum += state[2]
    x, y, z = state
    miss = math.hypot(x - 5.0, y - 5.0) ** 2 + (z - 25.0) ** 2
    return z_sum / nsteps + 0.01 * miss


# --- ports: the same integrator, only the hypot differs ----------------------------------------

def _objective(hypot, params, nsteps, dt):
    state = (1.0, 1.0, 20.0)
    z_sum = 0.0
    for _ in range(nsteps):
        state = rk4_step(lorenz, state, dt, params)
        z_sum = z_sum + state[2]
    x, y, z = state
    miss = hypot(x - 5.0, y - 5.0) ** 2 + (z - 25.0) ** 2
    return z_sum / nsteps + 0.01 * miss


def make_autograd():
    import autograd.numpy as anp

    def lorenz_autograd(params, nsteps=2000, dt=0.001):
        return _objective(anp.hypot, params, nsteps, dt)

    return lorenz_autograd


def make_jax(jit: bool):
    import jax.numpy as jnp
    from jax import lax

    def lorenz_jax(params, nsteps=2000, dt=0.001):
        return _objective(jnp.hypot, params, nsteps, dt)

    def lorenz_jax_loop(params, nsteps=2000, dt=0.001):
        def body(_, carry):
            state, z_sum = carry
            state = rk4_step(lorenz, state, dt, params)
            return state, z_sum + state[2]

        init = ((jnp.float64(1.0), jnp.float64(1.0), jnp.float64(20.0)), jnp.float64(0.0))
        (x, y, z), z_sum = lax.fori_loop(0, nsteps, body, init)
        miss = jnp.hypot(x - 5.0, y - 5.0) ** 2 + (z - 25.0) ** 2
        return z_sum / nsteps + 0.01 * miss

    return lorenz_jax_loop if jit else lorenz_jax


def make_torch():
    import torch

    def lorenz_torch(params, nsteps=2000, dt=0.001):
        return _objective(torch.hypot, params, nsteps, dt)

    return lorenz_torch
