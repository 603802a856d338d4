"""``framead.use("torch", api="func")``: ``fn`` is written for torch tensors.

NumPy inputs (Python floats, NumPy scalars and float arrays) are converted to float64 CPU
tensors (complex128 for complex ones; other arguments are passed unchanged), ``fn`` runs on
them, and tensor outputs come back as NumPy (float64 arrays; a 0-d output as ``np.float64``).
The VJP comes from ``torch.func.vjp`` (``api="func"``, default) or ``torch.autograd.grad``
(``api="autograd"``, for code torch.func cannot transform); the JVP from ``torch.func.jvp``.
Called with tensors (outside a capture), the wrapper returns ``fn``'s tensors unchanged.
Real inputs and outputs only for differentiation (torch's complex gradients are conjugated).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from framead.ir import flatten_tree, unflatten_tree

from . import register_engine
from .common import cotangents, run_fn, substituting


def _to_tensor(x: Any) -> Any:
    if isinstance(x, np.ndarray) and x.dtype.kind in "fc":
        dt = torch.complex128 if x.dtype.kind == "c" else torch.float64
        return torch.tensor(np.ascontiguousarray(x), dtype=dt)
    if isinstance(x, float | complex | np.inexact):
        dt = torch.complex128 if isinstance(x, complex | np.complexfloating) else torch.float64
        return torch.tensor(x, dtype=dt)
    return x


def _to_numpy(y: Any) -> Any:
    if isinstance(y, torch.Tensor):
        a = y.detach().cpu().numpy().copy()
        return a[()] if a.ndim == 0 else a
    if type(y) in (tuple, list):
        return type(y)(_to_numpy(v) for v in y)
    return y


def _tangent_tensor(t: Any, like: torch.Tensor) -> torch.Tensor:
    if t is None:
        return torch.zeros_like(like)
    return torch.as_tensor(np.broadcast_to(np.asarray(t), tuple(like.shape)).copy(),
                           dtype=like.dtype)


def _native_cotangent(c: Any, o: Any) -> Any:
    """A cotangent (a tensor, a number or None) as a tensor shaped like the output ``o``."""
    if not isinstance(o, torch.Tensor):
        return c
    if c is None:
        return torch.zeros_like(o)
    c = c if isinstance(c, torch.Tensor) else torch.as_tensor(np.asarray(c))
    return torch.broadcast_to(c.to(o.dtype), o.shape)


class TorchEngine:
    saves_ans = False

    def __init__(self, fn: Callable, api: str = "func"):
        if api not in ("func", "autograd"):
            raise ValueError(f"torch engine: api must be 'func' or 'autograd', got {api!r}")
        self.fn = fn
        self.api = api
        self.name = f"use[torch]({getattr(fn, '__qualname__', fn)})"

    def call(self, *args: Any, **kwargs: Any) -> Any:
        targs = [_to_tensor(a) for a in args]
        converted = any(t is not a for t, a in zip(targs, args, strict=True))
        with torch.no_grad():
            out = run_fn(self.fn, *targs, **kwargs)
        return _to_numpy(out) if converted or not args else out

    def vjp(self, g: Any, ans: Any, args: tuple, kwargs: dict, wrt: tuple) -> tuple:
        targs = [_to_tensor(a) for a in args]
        f = substituting(self.fn, targs, wrt, kwargs)
        prim = [targs[i] for i in wrt]
        if self.api == "func":
            out, pull = torch.func.vjp(f, *prim)
            gt = self._cotangent_tree(g, out)
            cts = pull(gt)
        else:
            prim = [p.detach().clone().requires_grad_(True) for p in prim]
            with torch.enable_grad():
                out = f(*prim)
            outs, _ = flatten_tree(out)
            gl, _ = flatten_tree(self._cotangent_tree(g, out))
            pairs = [(o, c) for o, c in zip(outs, gl, strict=True)
                     if isinstance(o, torch.Tensor) and o.requires_grad]
            cts = torch.autograd.grad([o for o, _ in pairs], prim, [c for _, c in pairs],
                                      allow_unused=True) if pairs else [None] * len(prim)
        return cotangents(args, wrt, [c.detach().cpu().numpy() if c is not None else 0.0
                                      for c in cts])

    @staticmethod
    def _cotangent_tree(g: Any, out: Any) -> Any:
        outs, td = flatten_tree(out)
        gl, _ = flatten_tree(g)
        if len(gl) != len(outs):  # a single tensor output given as a one-leaf tree
            gl = [g]
        return unflatten_tree(td, [_tangent_tensor(c, o) if isinstance(o, torch.Tensor)
                                   else c for c, o in zip(gl, outs, strict=True)])

    def higher_order(self, wrt: tuple) -> Callable:
        """The VJP as a torch function of ``(g, *args)``, which this engine differentiates
        again inside an outer capture (grad of grad, hessian: framead/engines/wrapper.py)."""
        fn = self.fn

        def vjp(g: Any, *args: Any, **kwargs: Any) -> tuple:
            f = substituting(fn, list(args), wrt, kwargs)
            out, pull = torch.func.vjp(f, *[args[i] for i in wrt])
            outs, td = flatten_tree(out)
            gl, _ = flatten_tree(g)
            if len(gl) != len(outs):
                gl = [g]
            return tuple(pull(unflatten_tree(td, [_native_cotangent(c, o) for c, o in
                                                  zip(gl, outs, strict=True)])))

        vjp.__qualname__ = vjp.__name__ = f"vjp[{getattr(fn, '__qualname__', fn)}]"
        return vjp

    def jvp(self, tangents: tuple, ans: Any, args: tuple, kwargs: dict) -> Any:
        wrt = tuple(i for i, t in enumerate(tangents) if t is not None)
        if not wrt:
            return None
        targs = [_to_tensor(a) for a in args]
        f = substituting(self.fn, targs, wrt, kwargs)
        prim = tuple(targs[i] for i in wrt)
        tans = tuple(_tangent_tensor(tangents[i], targs[i]) for i in wrt)
        _, t_out = torch.func.jvp(f, prim, tans)
        return _to_numpy(t_out)


def factory(fn: Callable, options: dict) -> TorchEngine:
    return TorchEngine(fn, **options)


register_engine("torch", factory)
