"""1-D heat equation, explicit Euler, updated in place with a slice stencil."""

from __future__ import annotations

import numpy as np

NAME = "heat1d"
KIND = "array"
DESCRIPTION = ("1-D heat equation on 10^4 points, 500 explicit Euler steps; the field is "
               "overwritten in place each step (`u[1:-1] = ...`), the left end is fixed "
               "(`u[0] = 0`), the right end insulated (`u[-1] = u[-2]`); objective sum(u^2); "
               "gradient with respect to the initial field.")
PORT_NOTES = ("autograd: each step builds the new field with `anp.concatenate` (no slice "
              "assignment). JAX: `u.at[1:-1].set(...)`, `u.at[0].set(0.0)`, "
              "`u.at[-1].set(u[-2])`; under jit the time loop is a `lax.fori_loop`. "
              "PyTorch: the same in-place slice and item assignments.")
SIZES = {"full": {"n": 10_000, "nsteps": 500}, "quick": {"n": 2000, "nsteps": 100},
         "tiny": {"n": 12, "nsteps": 5}}
ARGNUMS = (0,)


def inputs(n: int, nsteps: int):
    grid = np.linspace(0.0, 1.0, n)
    u0 = np.exp(-50.0 * (grid - 0.4) ** 2) + 0.1 * np.sin(7.0 * grid)
    return (u0,), {"nsteps": nsteps}


# --- the legacy primal -------------------------------------------------------------------------

def primal(u0, nsteps=500, c=0.25):
    u = u0.copy()
    for _ in range(nsteps):
        u[1:-1] = u[1:-1] + c * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u[0] = 0.0
        u[-1] = u[-2]
    return np.sum(u ** 2)


# --- ports -----------------------------------------------------------------------------------

def make_autograd():
    import autograd.numpy as anp

    def heat_autograd(u0, nsteps=500, c=0.25):
        u = u0
        for _ in range(nsteps):
            inner = u[1:-1] + c * (u[2:] - 2.0 * u[1:-1] + u[:-2])
            u = anp.concatenate([anp.zeros(1), inner, inner[-1:]])
        return anp.sum(u ** 2)

    return heat_autograd


def make_jax(jit: bool):
    import jax.numpy as jnp
    from jax import lax

    def step(u, c):
        u = u.at[1:-1].set(u[1:-1] + c * (u[2:] - 2.0 * u[1:-1] + u[:-2]))
        u = u.at[0].set(0.0)
        return u.at[-1].set(u[-2])

    def heat_jax(u0, nsteps=500, c=0.25):
        u = u0
        for _ in range(nsteps):
            u = step(u, c)
        return jnp.sum(u ** 2)

    def heat_jax_loop(u0, nsteps=500, c=0.25):
        u = lax.fori_loop(0, nsteps, lambda _, u: step(u, c), u0)
        return jnp.sum(u ** 2)

    return heat_jax_loop if jit else heat_jax


def make_torch():
    import torch

    def heat_torch(u0, nsteps=500, c=0.25):
        u = u0.clone()
        for _ in range(nsteps):
            u[1:-1] = u[1:-1] + c * (u[2:] - 2.0 * u[1:-1] + u[:-2])
            u[0] = 0.0
            u[-1] = u[-2]
        return torch.sum(u ** 2)

    return heat_torch
