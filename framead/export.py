"""Export a NumPy function to PyTorch and JAX, differentiated by framead.

``to_torch(fn)``: a function of torch tensors whose forward runs ``fn`` on NumPy copies and
records it with framead; its backward is framead's reverse pass (a
``torch.autograd.Function``; first order only, ``once_differentiable``).

``to_jax(fn)``: a ``jax.custom_vjp`` function whose forward is ``jax.pure_callback(fn)`` and
whose VJP is a second ``pure_callback`` that re-runs ``fn`` under framead and applies its
reverse pass (a callback must be pure, so nothing is kept between the two; the forward runs
twice when differentiating). Works under ``jax.jit`` and ``jax.grad``; ``vmap`` calls the
host function once per batch element.

Positional tensor/array arguments of a float or complex dtype are differentiable; other
arguments (ints, Python objects, keyword arguments) are passed through as constants. Outputs:
an array or a float, or a (nested) tuple/list of them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .ir import flatten_tree, unflatten_tree

__all__ = ["to_torch", "to_jax"]

_flatten, _unflatten = flatten_tree, unflatten_tree


# ----------------------------------------------------------------------------- PyTorch

def to_torch(fn: Callable) -> Callable:
    """``g = to_torch(fn)``: ``g(*tensors)`` returns torch tensors; gradients flow through
    framead's reverse pass of ``fn`` (NumPy code, run on CPU copies of the tensors).

    Complex tensors follow PyTorch's convention (the conjugate of framead/JAX's cotangent)."""
    import torch

    state: dict = {}  # the output structure of the last forward (apply returns a flat tuple)

    class _FrameadFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *args):
            arrays = []
            diff = []
            for i, a in enumerate(args):
                if isinstance(a, torch.Tensor):
                    arr = a.detach().cpu().numpy().copy()
                    if arr.dtype.kind in "fc" and ctx.needs_input_grad[i]:
                        diff.append(i)
                    arrays.append(arr)
                else:
                    arrays.append(a)
            ctx.devices = [a.device if isinstance(a, torch.Tensor) else None for a in args]
            ctx.diff = tuple(diff)
            ctx.nargs = len(args)
            if diff:
                from .api import vjp

                out, f_vjp = vjp(fn, *arrays, argnums=ctx.diff)
                ctx.f_vjp = f_vjp
            else:
                out = fn(*arrays)
            leaves, treedef = _flatten(out)
            ctx.treedef = state["treedef"] = treedef
            ctx.out_leaves = [np.asarray(x) for x in leaves]
            dev = next((d for d in ctx.devices if d is not None), None)
            tensors = tuple(torch.as_tensor(np.array(x, copy=True), device=dev) for x in leaves)
            for t, leaf in zip(tensors, ctx.out_leaves, strict=True):
                if leaf.dtype.kind not in "fc":
                    ctx.mark_non_differentiable(t)
            return tensors

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx, *grads):
            if not ctx.diff:
                return (None,) * ctx.nargs
            cts = []
            for g, leaf in zip(grads, ctx.out_leaves, strict=True):
                if g is None or leaf.dtype.kind not in "fc":
                    cts.append(None)
                    continue
                c = np.conj(g.detach().cpu().numpy()).astype(leaf.dtype, copy=False)
                cts.append(c if leaf.ndim else c[()])
            grads_in = ctx.f_vjp(_unflatten(ctx.treedef, cts))
            out: list = [None] * ctx.nargs
            for i, gi in zip(ctx.diff, grads_in, strict=True):
                out[i] = torch.as_tensor(np.conj(np.asarray(gi)).copy(), device=ctx.devices[i])
            return tuple(out)

    def call(*args: Any):
        flat = _FrameadFunction.apply(*args)
        return _unflatten(state["treedef"], list(flat))

    functools.update_wrapper(call, fn)
    call.autograd_function = _FrameadFunction  # type: ignore[attr-defined]
    return call


# ----------------------------------------------------------------------------- JAX

def to_jax(fn: Callable, result_shape: Any = None) -> Callable:
    """``g = to_jax(fn)``: a JAX-differentiable function of JAX arrays that runs the NumPy
    function ``fn`` on the host (``jax.pure_callback``) with framead's reverse pass as its
    VJP (``jax.custom_vjp``).

    ``result_shape``: the output's ``jax.ShapeDtypeStruct`` tree, or a callable taking the
    input ShapeDtypeStructs and returning it. Without it the output structure is found by
    running ``fn`` once on the inputs when they are concrete, else on arrays of ones shaped
    like them (under ``jax.jit``). Enable ``jax_enable_x64`` for float64."""
    import jax

    def _structs(args):
        return [jax.ShapeDtypeStruct(np.shape(a), jax.numpy.result_type(a)) for a in args]

    def _out_struct(args):
        if result_shape is not None:
            rs = result_shape(*_structs(args)) if callable(result_shape) else result_shape
            return rs
        try:
            concrete = [np.asarray(a) for a in args]
        except Exception:  # tracers (jit): probe with ones of the same shapes and dtypes
            concrete = [np.ones(s.shape, s.dtype) for s in _structs(args)]
        out = fn(*concrete)
        return jax.tree_util.tree_map(
            lambda x: jax.ShapeDtypeStruct(np.shape(x), np.asarray(x).dtype), out)

    def _host_fn(*args):
        out = fn(*[np.asarray(a) for a in args])
        return jax.tree_util.tree_map(np.asarray, out)

    @jax.custom_vjp
    def f(*args):
        return jax.pure_callback(_host_fn, _out_struct(args), *args,
                                 vmap_method="sequential")

    def f_fwd(*args):
        return f(*args), args

    def f_bwd(args, g):
        in_structs = tuple(_structs(args))

        def host_vjp(args_and_g):
            a, gg = args_and_g
            arrays = [np.array(x, copy=True) for x in a]
            nums = tuple(i for i, x in enumerate(arrays) if x.dtype.kind in "fc")
            from .api import vjp

            out, f_vjp = vjp(fn, *arrays, argnums=nums)
            leaves, treedef = _flatten(out)
            g_leaves = jax.tree_util.tree_leaves(gg)
            cts = [np.asarray(c).astype(np.asarray(x).dtype, copy=False).reshape(np.shape(x))
                   for c, x in zip(g_leaves, leaves, strict=True)]
            grads = f_vjp(_unflatten(treedef, cts))
            res = [np.zeros(s.shape, s.dtype) for s in in_structs]
            for i, gi in zip(nums, grads, strict=True):
                res[i] = np.asarray(gi, dtype=in_structs[i].dtype).reshape(in_structs[i].shape)
            return tuple(res)

        return jax.pure_callback(host_vjp, in_structs, (args, g), vmap_method="sequential")

    f.defvjp(f_fwd, f_bwd)
    functools.update_wrapper(f, fn)
    return f
