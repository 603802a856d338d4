"""A two-layer perceptron (784-256-10, tanh) with softmax cross-entropy on a batch of 256."""

from __future__ import annotations

import numpy as np

NAME = "mlp"
KIND = "array"
DESCRIPTION = ("MLP 784-256-10 with tanh hidden units and softmax cross-entropy (log-sum-exp "
               "with max shift) on a batch of 256; the weights come in as one tuple "
               "`params = (W1, b1, W2, b2)` of arrays, and the gradient (with respect to that "
               "tuple) is a tuple of four arrays.")
PORT_NOTES = ("All ports are the same expression in their array API (`@`, tanh, exp, log, "
              "max) and take the same `params` tuple (autograd and JAX differentiate it as a "
              "container, PyTorch gets a tuple of tensors that require grad).")
SIZES = {"full": {"batch": 256, "d_in": 784, "d_hidden": 256, "d_out": 10},
         "quick": {"batch": 64, "d_in": 196, "d_hidden": 64, "d_out": 10},
         "tiny": {"batch": 5, "d_in": 4, "d_hidden": 3, "d_out": 3}}
ARGNUMS = (0,)   # the params tuple


def inputs(batch: int, d_in: int, d_hidden: int, d_out: int):
    rng = np.random.default_rng(1)
    W1 = rng.standard_normal((d_in, d_hidden)) / np.sqrt(d_in)
    b1 = 0.1 * rng.standard_normal(d_hidden)
    W2 = rng.standard_normal((d_hidden, d_out)) / np.sqrt(d_hidden)
    b2 = 0.1 * rng.standard_normal(d_out)
    X = rng.standard_normal((batch, d_in))
    Y = np.eye(d_out)[rng.integers(0, d_out, size=batch)]
    return ((W1, b1, W2, b2), X, Y), {}


# --- the legacy primal -------------------------------------------------------------------------

def primal(params, X, Y):
    W1, b1, W2, b2 = params
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    m = np.max(logits, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
    return -np.sum(Y * (logits - lse)) / X.shape[0]


# --- ports -----------------------------------------------------------------------------------

def make_autograd():
    import autograd.numpy as anp

    def mlp_autograd(params, X, Y):
        W1, b1, W2, b2 = params
        h = anp.tanh(X @ W1 + b1)
        logits = h @ W2 + b2
        m = anp.max(logits, axis=1, keepdims=True)
        lse = m + anp.log(anp.sum(anp.exp(logits - m), axis=1, keepdims=True))
        return -anp.sum(Y * (logits - lse)) / X.shape[0]

    return mlp_autograd


def make_jax(jit: bool):
    import jax.numpy as jnp

    def mlp_jax(params, X, Y):
        W1, b1, W2, b2 = params
        h = jnp.tanh(X @ W1 + b1)
        logits = h @ W2 + b2
        m = jnp.max(logits, axis=1, keepdims=True)
        lse = m + jnp.log(jnp.sum(jnp.exp(logits - m), axis=1, keepdims=True))
        return -jnp.sum(Y * (logits - lse)) / X.shape[0]

    return mlp_jax


def make_torch():
    import torch

    def mlp_torch(params, X, Y):
        W1, b1, W2, b2 = params
        h = torch.tanh(X @ W1 + b1)
        logits = h @ W2 + b2
        m = torch.amax(logits, dim=1, keepdim=True)
        lse = m + torch.log(torch.sum(torch.exp(logits - m), dim=1, keepdim=True))
        return -torch.sum(Y * (logits - lse)) / X.shape[0]

    return mlp_torch
