"""Gaussian-process negative log marginal likelihood through a Cholesky factorization."""

from __future__ import annotations

import numpy as np

NAME = "gp_nll"
KIND = "array"
DESCRIPTION = ("GP regression, n=400 points in 2-D, squared-exponential kernel plus noise; "
               "negative log marginal likelihood via `np.linalg.cholesky` and two "
               "`np.linalg.solve` calls; gradient with respect to the 3 log-hyperparameters.")
PORT_NOTES = ("All ports use the same operations: pairwise squared distances by broadcasting, "
              "`linalg.cholesky`, two `linalg.solve` with the factor and its transpose, "
              "`log(diag(L))`.")
SIZES = {"full": {"n": 400}, "quick": {"n": 150}, "tiny": {"n": 6}}
ARGNUMS = (0,)


def inputs(n: int):
    rng = np.random.default_rng(2)
    X = rng.uniform(-2.0, 2.0, size=(n, 2))
    y = np.sin(2.0 * X[:, 0]) * np.cos(X[:, 1]) + 0.1 * rng.standard_normal(n)
    theta = np.array([np.log(0.7), np.log(1.2), np.log(0.15)])
    return (theta, X, y), {}


# --- the legacy primal -------------------------------------------------------------------------

def primal(theta, X, y):
    n = X.shape[0]
    ell = np.exp(theta[0])
    sf2 = np.exp(2.0 * theta[1])
    sn2 = np.exp(2.0 * theta[2])
    d2 = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    K = sf2 * np.exp(-0.5 * d2 / ell ** 2) + sn2 * np.eye(n)
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(L))) + 0.5 * n * np.log(2.0 * np.pi)


# --- ports -----------------------------------------------------------------------------------

def _port(xp, cholesky, solve, transpose):
    def gp_nll(theta, X, y):
        n = X.shape[0]
        ell = xp.exp(theta[0])
        sf2 = xp.exp(2.0 * theta[1])
        sn2 = xp.exp(2.0 * theta[2])
        d2 = xp.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
        K = sf2 * xp.exp(-0.5 * d2 / ell ** 2) + sn2 * xp.eye(n, dtype=X.dtype)
        L = cholesky(K)
        alpha = solve(transpose(L), solve(L, y))
        return 0.5 * y @ alpha + xp.sum(xp.log(xp.diag(L))) + 0.5 * n * np.log(2.0 * np.pi)

    return gp_nll


def make_autograd():
    import autograd.numpy as anp

    return _port(anp, anp.linalg.cholesky, anp.linalg.solve, anp.transpose)


def make_jax(jit: bool):
    import jax.numpy as jnp

    return _port(jnp, jnp.linalg.cholesky, jnp.linalg.solve, jnp.transpose)


def make_torch():
    import torch

    def solve(a, b):
        return torch.linalg.solve(a, b.unsqueeze(-1)).squeeze(-1)

    class _TorchNp:  # the few NumPy names the shared port uses, spelled for torch
        exp, log, diag, eye = torch.exp, torch.log, torch.diag, torch.eye

        @staticmethod
        def sum(x, axis=None):
            return torch.sum(x) if axis is None else torch.sum(x, dim=axis)

    return _port(_TorchNp, torch.linalg.cholesky, solve, lambda a: a.T)
