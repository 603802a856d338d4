"""Softened gravitational N-body, symplectic Euler, forces accumulated in place."""

from __future__ import annotations

import numpy as np

NAME = "nbody"
KIND = "scalar"
DESCRIPTION = ("64 softened gravitating bodies, 50 symplectic-Euler steps; a Python loop over "
               "bodies computes the forces against the bodies after it and accumulates them in "
               "place into both (`acc[i] += ...`, `acc[i+1:] -= ...`, Newton's third law), then "
               "`vel += dt * acc`, `pos += dt * vel`; objective: a weighted sum of the final "
               "positions plus the kinetic energy; gradient with respect to the initial "
               "positions and velocities.")
PORT_NOTES = ("autograd: the two accumulations become one `acc = acc + concatenate([...])` per "
              "body, the updates are out of place. JAX: `acc.at[i].add`, `acc.at[i+1:].add`; "
              "under jit the time loop is a `lax.fori_loop` (the body loop stays unrolled). "
              "PyTorch: the same in-place updates.")
SIZES = {"full": {"n": 64, "nsteps": 50}, "quick": {"n": 16, "nsteps": 10},
         "tiny": {"n": 3, "nsteps": 2}}
ARGNUMS = (0, 1)


def inputs(n: int, nsteps: int):
    rng = np.random.default_rng(3)
    pos = rng.uniform(-1.0, 1.0, size=(n, 3))
    vel = 0.1 * rng.standard_normal((n, 3))
    mass = rng.uniform(0.5, 1.5, size=n) / n
    w = rng.standard_normal((n, 3))
    return (pos, vel, mass, w), {"nsteps": nsteps}


# --- the legacy primal -------------------------------------------------------------------------

def primal(pos0, vel0, mass, w, nsteps=50, dt=0.01, eps2=0.01):
    n = len(mass)
    pos = pos0.copy()
    vel = vel0.copy()
    for _ in range(nsteps):
        acc = np.zeros_like(pos)
        for i in range(n - 1):
            d = pos[i + 1:] - pos[i]
            r2 = np.sum(d * d, axis=1) + eps2
            f = d * (mass[i] * mass[i + 1:] / (r2 * np.sqrt(r2)))[:, None]
            acc[i] += np.sum(f, axis=0) / mass[i]
            acc[i + 1:] -= f / mass[i + 1:, None]
        vel += dt * acc
        pos += dt * vel
    return np.sum(w * pos) + 0.5 * np.sum(mass[:, None] * vel ** 2)


# --- ports -----------------------------------------------------------------------------------

def make_autograd():
    import autograd.numpy as anp

    def nbody_autograd(pos0, vel0, mass, w, nsteps=50, dt=0.01, eps2=0.01):
        n = len(mass)
        pos, vel = pos0, vel0
        for _ in range(nsteps):
            acc = anp.zeros(pos.shape)
            for i in range(n - 1):
                d = pos[i + 1:] - pos[i]
                r2 = anp.sum(d * d, axis=1) + eps2
                f = d * (mass[i] * mass[i + 1:] / (r2 * anp.sqrt(r2)))[:, None]
                fi = anp.sum(f, axis=0) / mass[i]
                acc = acc + anp.concatenate(
                    [anp.zeros((i, 3)), anp.reshape(fi, (1, 3)), -f / mass[i + 1:, None]])
            vel = vel + dt * acc
            pos = pos + dt * vel
        return anp.sum(w * pos) + 0.5 * anp.sum(mass[:, None] * vel ** 2)

    return nbody_autograd


def make_jax(jit: bool):
    import jax.numpy as jnp
    from jax import lax

    def step(pos, vel, mass, dt, eps2):
        n = mass.shape[0]
        acc = jnp.zeros_like(pos)
        for i in range(n - 1):
            d = pos[i + 1:] - pos[i]
            r2 = jnp.sum(d * d, axis=1) + eps2
            f = d * (mass[i] * mass[i + 1:] / (r2 * jnp.sqrt(r2)))[:, None]
            acc = acc.at[i].add(jnp.sum(f, axis=0) / mass[i])
            acc = acc.at[i + 1:].add(-f / mass[i + 1:, None])
        vel = vel + dt * acc
        return pos + dt * vel, vel

    def nbody_jax(pos0, vel0, mass, w, nsteps=50, dt=0.01, eps2=0.01):
        pos, vel = pos0, vel0
        for _ in range(nsteps):
            pos, vel = step(pos, vel, mass, dt, eps2)
        return jnp.sum(w * pos) + 0.5 * jnp.sum(mass[:, None] * vel ** 2)

    def nbody_jax_loop(pos0, vel0, mass, w, nsteps=50, dt=0.01, eps2=0.01):
        pos, vel = lax.fori_loop(0, nsteps, lambda _, pv: step(*pv, mass, dt, eps2),
                                 (pos0, vel0))
        return jnp.sum(w * pos) + 0.5 * jnp.sum(mass[:, None] * vel ** 2)

    return nbody_jax_loop if jit else nbody_jax


def make_torch():
    import torch

    def nbody_torch(pos0, vel0, mass, w, nsteps=50, dt=0.01, eps2=0.01):
        n = mass.shape[0]
        pos = pos0.clone()
        vel = vel0.clone()
        for _ in range(nsteps):
            acc = torch.zeros_like(pos)
            for i in range(n - 1):
                d = pos[i + 1:] - pos[i]
                r2 = torch.sum(d * d, dim=1) + eps2
                f = d * (mass[i] * mass[i + 1:] / (r2 * torch.sqrt(r2)))[:, None]
                acc[i] += torch.sum(f, dim=0) / mass[i]
                acc[i + 1:] -= f / mass[i + 1:, None]
            vel += dt * acc
            pos += dt * vel
        return torch.sum(w * pos) + 0.5 * torch.sum(mass[:, None] * vel ** 2)

    return nbody_torch
