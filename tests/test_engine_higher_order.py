"""Higher orders through ``framead.use`` engines: right, or reported, never silently zero.

The reverse pass of a nested ``grad`` is recorded by the outer capture (grad of grad, hessian
= jacfwd(jacrev)); an engine node's VJP must then be differentiated again: by the same engine
(torch, jax, finite_diff: framead/engines/wrapper.py ``higher_order``), by recording its code
(autograd, checkpoint, forward), or reported as FA107 at the user's line (an engine without
``higher_order``). References: the analytic Hessian of each function, and central differences
of framead's first-order gradient.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framead
from framead.engines import register_engine
from framead.engines.finite_diff_engine import FiniteDiffEngine

HAVE = {m: importlib.util.find_spec(m) is not None for m in ("torch", "jax", "autograd")}


def _namespace(engine: str):
    """The array module ``fn`` is written against for ``engine``."""
    if engine == "torch":
        import torch
        return torch
    if engine == "jax":
        import jax.numpy as jnp
        return jnp
    if engine == "autograd":
        import autograd.numpy as anp
        return anp
    return np


# (f(m, x), analytic Hessian of f at x) over arrays x: separable and coupled
FUNCTIONS = {
    "sin_x": (lambda m, x: m.sum(m.sin(x) * x),
              lambda x: np.diag(2 * np.cos(x) - x * np.sin(x))),
    "exp_sq": (lambda m, x: m.sum(m.exp(0.5 * x) * x * x),
               lambda x: np.diag(np.exp(0.5 * x) * (0.25 * x * x + 2 * x + 2))),
    "coupled": (lambda m, x: m.sum(x * x) * m.sum(m.sin(x)),
                lambda x: (2 * np.outer(x, np.cos(x)) + 2 * np.outer(np.cos(x), x)
                           + np.sum(x * x) * np.diag(-np.sin(x))
                           + 2 * np.sum(np.sin(x)) * np.eye(x.size))),
}


class _OpaqueEngine(FiniteDiffEngine):
    higher_order = None  # its VJP cannot be differentiated again: FA107


register_engine("_test_opaque_fd", lambda fn, options: _OpaqueEngine(fn, **options),
                replace=True)

ENGINES = ["finite_diff", "forward", "checkpoint", *[e for e in ("torch", "jax", "autograd")
                                                     if HAVE[e]]]
TOL = {"finite_diff": 2e-5}  # central differences of a central difference


def _engine_fn(engine: str, fname: str):
    f, _ = FUNCTIONS[fname]
    m = _namespace(engine)
    return framead.use(engine)(lambda x: f(m, x))


# how the program uses g: h(x) and the Hessian of h from g's value, gradient and Hessian
SHAPES = {
    "scaled": (lambda g, x: g(x) * 2.0, lambda v, d, H, x: 2.0 * H),
    "times_sum": (lambda g, x: g(x) * np.sum(x),
                  lambda v, d, H, x: H * np.sum(x) + np.add.outer(d, d)),
    "twice": (lambda g, x: g(x) + g(x * 2.0) * 0.5, None),  # g called twice
    "sin_of": (lambda g, x: np.sin(g(x)),
               lambda v, d, H, x: np.cos(v) * H - np.sin(v) * np.outer(d, d)),
}


def _analytic(fname: str, shape: str, x: np.ndarray) -> np.ndarray:
    f, hess = FUNCTIONS[fname]
    if shape == "twice":  # g(x) + 0.5 g(2x): H(x) + 0.5 * 4 H(2x)
        return hess(x) + 2.0 * hess(2.0 * x)
    v = float(f(np, x))
    d = _fd_grad(lambda y: f(np, y), x)
    return SHAPES[shape][1](v, d, hess(x), x)


def _fd_grad(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    out = np.zeros_like(x)
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        out[j] = (f(x + e) - f(x - e)) / (2 * h)
    return out


def _fd_jacobian_of_grad(gradf, x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        cols.append((np.asarray(gradf(x + e)) - np.asarray(gradf(x - e))) / (2 * h))
    return np.stack(cols, axis=1)


def _second(order: str, h, x: np.ndarray, strict: bool | None = None) -> np.ndarray:
    if order == "hessian":
        return framead.hessian(h, strict=strict)(x)
    if order == "jacfwd_grad":
        return framead.jacfwd(framead.grad(h, strict=strict), strict=strict)(x)
    if order == "jacrev_grad":
        return framead.jacrev(framead.grad(h, strict=strict), strict=strict)(x)
    # grad of grad: rows of the Hessian through a scalar contraction of the gradient
    rows = []
    for k in range(x.size):
        w = np.eye(x.size)[k]
        rows.append(framead.grad(lambda y, w=w: np.sum(framead.grad(h, strict=strict)(y) * w),
                                 strict=strict)(x))
    return np.stack(rows)


ORDERS = ["hessian", "jacfwd_grad", "jacrev_grad", "grad_grad"]
xs = st.lists(st.floats(-1.5, 1.5).filter(lambda v: abs(v) > 1e-3), min_size=1,
              max_size=3).map(np.array)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(engine=st.sampled_from(ENGINES), fname=st.sampled_from(sorted(FUNCTIONS)),
       shape=st.sampled_from(sorted(SHAPES)), order=st.sampled_from(ORDERS), x=xs)
def test_second_order_is_right(engine, fname, shape, order, x):
    """Every built-in engine's second derivative (four ways to take it) is the analytic
    Hessian and central differences of framead's gradient; strict mode reports nothing."""
    g = _engine_fn(engine, fname)

    def h(y):
        return SHAPES[shape][0](g, y)

    got = _second(order, h, x, strict=True)  # no hazard: strict raises none
    want = _analytic(fname, shape, x)
    tol = TOL.get(engine, 1e-7)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 10)
    fd = _fd_jacobian_of_grad(framead.grad(h), x)
    np.testing.assert_allclose(got, fd, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(_second(order, h, x), got, rtol=1e-12, atol=1e-12)


@settings(max_examples=12, deadline=None)
@given(order=st.sampled_from(ORDERS), shape=st.sampled_from(sorted(SHAPES)), x=xs)
def test_opaque_engine_is_reported_at_the_users_line(order, shape, x):
    """An engine whose VJP cannot be differentiated again: strict raises FA107 naming this
    file (the user's line); its first-order gradient stays right."""
    g = framead.use("_test_opaque_fd")(lambda y: np.sum(np.sin(y) * y))

    def h(y):
        return SHAPES[shape][0](g, y)

    with pytest.raises(framead.GradientHazard, match="FA107") as e:
        _second(order, h, x, strict=True)
    assert e.value.hazard.loc.file.endswith("test_engine_higher_order.py")
    np.testing.assert_allclose(framead.grad(h)(x), _fd_grad(lambda y: h(y), x), rtol=1e-6,
                               atol=1e-8)


@pytest.mark.parametrize("engine", ENGINES)
def test_scalar_grad_of_grad(engine):
    """A Python float through the engine: d2/dx2 of sin(x) x = 2 cos x - x sin x."""
    m = _namespace(engine)
    g = framead.use(engine)(lambda x: m.sin(x) * x)
    x = 0.7
    strict = True
    d2 = framead.grad(framead.grad(lambda y: g(y) * 3.0, strict=strict), strict=strict)(x)
    np.testing.assert_allclose(d2, 3.0 * (2 * np.cos(x) - x * np.sin(x)),
                               rtol=TOL.get(engine, 1e-9))


@pytest.mark.parametrize("engine", ENGINES)
def test_vmap_of_grad(engine):
    """vmap(grad(h)) over a batch: each row the analytic gradient (first order through the
    batching of an engine node)."""
    f, _ = FUNCTIONS["sin_x"]
    g = _engine_fn(engine, "sin_x")
    xb = np.array([[0.3, -0.4], [1.1, 0.2], [-0.7, 0.9]])
    try:
        got = framead.vmap(framead.grad(lambda y: g(y) * 2.0))(xb)
    except framead.FrameadError as e:  # reported, not silent
        pytest.skip(f"vmap of an engine node is refused: {e}")
    np.testing.assert_allclose(got, 2 * (np.sin(xb) + xb * np.cos(xb)), rtol=1e-6)


def test_checkpoint_strict_second_order():
    """(Backward.__init__ inside a visible reverse pass walks the graph in Python: the C walk
    saw the nested graph's lists of traced values, a false FA101.)"""
    g = _engine_fn("checkpoint", "sin_x")
    x = np.array([0.3, 1.1])
    got = framead.hessian(lambda y: g(y) * 2.0, strict=True)(x)
    np.testing.assert_allclose(got, 2.0 * FUNCTIONS["sin_x"][1](x), rtol=1e-9)
