"""Rosenbrock function evaluated by an element loop into a pre-allocated array."""

from __future__ import annotations

import numpy as np

NAME = "rosen_loop"
KIND = "scalar"
DESCRIPTION = ("Rosenbrock function of n=1000 variables; a Python loop fills a pre-allocated "
               "array of n-1 terms element by element, then sums it.")
PORT_NOTES = ("autograd: the terms are accumulated into a scalar (no item assignment). "
              "JAX: `terms.at[i].set(...)`; under jit the element loop is a `lax.fori_loop`. "
              "PyTorch: the same item assignment into a float64 tensor.")
SIZES = {"full": {"n": 1000}, "quick": {"n": 200}, "tiny": {"n": 5}}
ARGNUMS = (0,)


def inputs(n: int):
    rng = np.random.default_rng(0)
    x = 1.0 + 0.3 * rng.standard_normal(n)
    return (x,), {}


# --- the legacy primal (plain NumPy; framead differentiates exactly this) -------------------

def primal(x):
    n = len(x)
    terms = np.zeros(n - 1)
    for i in range(n - 1):
        terms[i] = 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return np.sum(terms)


# --- ports -----------------------------------------------------------------------------------

def make_autograd():
    def rosen_autograd(x):
        s = 0.0
        for i in range(len(x) - 1):
            s = s + 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
        return s

    return rosen_autograd


def make_jax(jit: bool):
    import jax.numpy as jnp
    from jax import lax

    def rosen_jax(x):
        n = x.shape[0]
        terms = jnp.zeros(n - 1)
        for i in range(n - 1):
            terms = terms.at[i].set(100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2)
        return jnp.sum(terms)

    def rosen_jax_loop(x):
        def body(i, terms):
            return terms.at[i].set(100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2)

        n = x.shape[0]
        return jnp.sum(lax.fori_loop(0, n - 1, body, jnp.zeros(n - 1)))

    return rosen_jax_loop if jit else rosen_jax


def make_torch():
    import torch

    def rosen_torch(x):
        n = x.shape[0]
        terms = torch.zeros(n - 1, dtype=x.dtype)
        for i in range(n - 1):
            terms[i] = 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
        return torch.sum(terms)

    return rosen_torch
