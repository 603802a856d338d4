"""``framead.use("jax", jit=False)``: ``fn`` is written with ``jax.numpy``.

The engine turns on ``jax_enable_x64`` (float64 like NumPy) when created. NumPy inputs are
passed as ``jnp`` arrays, outputs come back as writeable NumPy arrays (a 0-d output as a NumPy
scalar). The VJP is ``jax.vjp``, the JVP ``jax.jvp``; ``jit=True`` wraps ``fn`` in ``jax.jit`` once
(worth it when it is called many times with the same shapes; every argument must then be an
array or a JAX pytree).
Complex numbers follow JAX's convention, which is framead's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from framead.ir import flatten_tree, unflatten_tree

from . import register_engine
from .common import cotangents, run_fn, substituting


def _to_jax(x: Any) -> Any:
    if isinstance(x, np.ndarray) and x.dtype.kind in "fc":
        return jnp.asarray(x)
    if isinstance(x, float | complex | np.inexact):
        return jnp.asarray(x)
    return x


def _to_numpy(y: Any) -> Any:
    if isinstance(y, jax.Array):
        a = np.array(y)
        return a[()] if a.ndim == 0 else a
    if type(y) in (tuple, list):
        return type(y)(_to_numpy(v) for v in y)
    return y


class JaxEngine:
    saves_ans = False

    def __init__(self, fn: Callable, jit: bool = False, x64: bool = True):
        if x64:
            jax.config.update("jax_enable_x64", True)
        self.fn = jax.jit(fn) if jit else fn
        self.jit = bool(jit)
        self.name = f"use[jax]({getattr(fn, '__qualname__', fn)})"

    def call(self, *args: Any, **kwargs: Any) -> Any:
        jargs = [_to_jax(a) for a in args]
        converted = any(j is not a for j, a in zip(jargs, args, strict=True))
        out = run_fn(self.fn, *jargs, **kwargs)
        return _to_numpy(out) if converted or not args else out

    def vjp(self, g: Any, ans: Any, args: tuple, kwargs: dict, wrt: tuple) -> tuple:
        jargs = [_to_jax(a) for a in args]
        out, pull = jax.vjp(substituting(self.fn, jargs, wrt, kwargs), *[jargs[i] for i in wrt])
        outs, td = flatten_tree(out)
        gl, _ = flatten_tree(g)
        if len(gl) != len(outs):
            gl = [g]
        gt = unflatten_tree(td, [jnp.zeros_like(o) if c is None else
                                 jnp.broadcast_to(jnp.asarray(c, dtype=o.dtype), o.shape)
                                 for c, o in zip(gl, outs, strict=True)])
        return cotangents(args, wrt, [np.asarray(c) for c in pull(gt)])

    def higher_order(self, wrt: tuple) -> Callable:
        """The VJP as a JAX function of ``(g, *args)``, which this engine differentiates
        again inside an outer capture (grad of grad, hessian: framead/engines/wrapper.py)."""
        fn = self.fn

        def vjp(g: Any, *args: Any, **kwargs: Any) -> tuple:
            f = substituting(fn, list(args), wrt, kwargs)
            out, pull = jax.vjp(f, *[args[i] for i in wrt])
            outs, td = flatten_tree(out)
            gl, _ = flatten_tree(g)
            if len(gl) != len(outs):
                gl = [g]
            return tuple(pull(unflatten_tree(td, [
                jnp.zeros_like(o) if c is None else
                jnp.broadcast_to(jnp.asarray(c, dtype=o.dtype), o.shape)
                for c, o in zip(gl, outs, strict=True)])))

        vjp.__qualname__ = vjp.__name__ = f"vjp[{getattr(fn, '__qualname__', fn)}]"
        return vjp

    def jvp(self, tangents: tuple, ans: Any, args: tuple, kwargs: dict) -> Any:
        wrt = tuple(i for i, t in enumerate(tangents) if t is not None)
        if not wrt:
            return None
        jargs = [_to_jax(a) for a in args]
        prim = tuple(jargs[i] for i in wrt)
        tans = tuple(jnp.broadcast_to(jnp.asarray(tangents[i], dtype=p.dtype), p.shape)
                     for i, p in zip(wrt, prim, strict=True))
        _, t_out = jax.jvp(substituting(self.fn, jargs, wrt, kwargs), prim, tans)
        return _to_numpy(t_out)


def factory(fn: Callable, options: dict) -> JaxEngine:
    return JaxEngine(fn, **options)


register_engine("jax", factory)
