"""Export a NumPy function to PyTorch and JAX, differentiated by framead.

``to_torch(fn)``: a function of torch tensors whose forward runs ``fn`` on NumPy copies and
records it with framead; its backward is framead's reverse pass (a
``torch.autograd.Function``; first order only, ``once_differentiable``).

``to_jax(fn)``: a ``jax.custom_vjp`` function whose forward is ``jax.pure_callback(fn)`` and
whose VJP is a second ``pure_callback`` that re-runs ``fn`` under framead and applies its
reverse pass (a callback must be pure, so nothing is kept between the two; the forward runs
twice when differentiating). Works under ``jax.jit`` and ``jax.grad``; ``vmap`` calls the
host function once per batch element.

Positional arguments may be tensors/arrays or containers of them (tuples, lists, dicts, named
tuples; for ``to_torch`` also dataclasses and classes registered with ``framead.tree``; for
``to_jax`` JAX's pytrees). Tensor/array leaves of a float or complex dtype are differentiable;
other leaves (ints, Python objects) and keyword arguments are passed through as constants.
Outputs: an array or a float, or any container of them.

``fn`` runs from the line that called the exported function (a trampoline,
capture/caller_frame.py): ``warnings.warn(..., stacklevel=2)`` and ``sys._getframe(1)`` in
``fn`` see that line, as in a native call (for ``to_jax``, the line JAX traced; under
``jax.grad(g)`` called directly, JAX's own frame, as for a native JAX function).
"""

from __future__ import annotations

import functools
import itertools
import operator
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from . import tree
from .api import vjp
from .capture.caller_frame import trampoline
from .inputs import Differentiated
from .tracing import user_facing

__all__ = ["to_torch", "to_jax"]


def _leaf_grads(args: tuple, nums: tuple[int, ...], grads: tuple) -> list:
    """framead's gradients of ``args[nums]`` (one tree per argument) as one entry per leaf of
    ``tree.flatten(args)`` (None where nothing is differentiated)."""
    spec = Differentiated(args, nums)
    out: list = []
    packed = dict(zip(nums, grads, strict=True))
    for i, a in enumerate(args):
        n = len(tree.leaves(a)) if tree.is_node(a) and a is not None else 1
        if i not in packed:
            out += [None] * n
            continue
        t = spec.trees[i]
        gs = [packed[i]] if t.treedef.is_leaf else t.treedef.flatten_up_to(packed[i])
        out += [g if d else None for g, d in zip(gs, t.diff, strict=True)]
    return out


# ----------------------------------------------------------------------------- PyTorch

def to_torch(fn: Callable) -> Callable:
    """``g = to_torch(fn)``: ``g(*tensors)`` returns torch tensors; gradients flow through
    framead's reverse pass of ``fn`` (NumPy code, run on CPU copies of the tensors).

    Complex tensors follow PyTorch's convention (the conjugate of framead/JAX's cotangent).

    >>> import torch
    >>> f = framead.to_torch(lambda p: np.sum(p["w"] ** 2) * p["s"])
    >>> w = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    >>> f({"w": w, "s": 3.0}).backward()
    >>> w.grad
    tensor([ 6., 12.], dtype=torch.float64)
    """
    import torch  # noqa: PLC0415 - optional dependency

    state: dict = {}  # the output structure of the last forward (apply returns a flat tuple)

    class _FrameadFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, in_treedef, via, *leaves):
            arrays, diff = [], []
            for k, a in enumerate(leaves):
                if isinstance(a, torch.Tensor):
                    arr = a.detach().cpu().numpy().copy()
                    if tree.differentiable(arr) and ctx.needs_input_grad[k + 2]:
                        diff.append(k)
                    arrays.append(arr)
                else:
                    arrays.append(a)
            ctx.devices = [a.device if isinstance(a, torch.Tensor) else None for a in leaves]
            ctx.diff = frozenset(diff)
            ctx.nleaves = len(leaves)
            args = tree.unflatten(in_treedef, arrays)
            ends = list(itertools.accumulate(_n_leaves(a) for a in args))
            nums = tuple(i for i, end in enumerate(ends)
                         if any(end - _n_leaves(args[i]) <= k < end for k in diff))
            if nums:  # (framead.vjp finds the trampoline as its caller: fn's caller)
                out, f_vjp = via(operator.call, vjp, (fn, *args), {"argnums": nums})
                ctx.f_vjp, ctx.args, ctx.nums = f_vjp, args, nums
            else:
                out = via(operator.call, fn, args, {})
            out_leaves, treedef = tree.flatten(out)
            ctx.treedef = state["treedef"] = treedef
            ctx.out_leaves = [np.asarray(x) for x in out_leaves]
            dev = next((d for d in ctx.devices if d is not None), None)
            tensors = tuple(torch.as_tensor(np.array(x, copy=True), device=dev)
                            for x in out_leaves)
            for t, leaf in zip(tensors, ctx.out_leaves, strict=True):
                if not tree.differentiable(leaf):
                    ctx.mark_non_differentiable(t)
            return tensors

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx, *grads):
            if not ctx.diff:
                return (None,) * (ctx.nleaves + 2)
            cts = []
            for g, leaf in zip(grads, ctx.out_leaves, strict=True):
                if g is None or not tree.differentiable(leaf):
                    cts.append(None)
                    continue
                c = np.conj(g.detach().cpu().numpy()).astype(leaf.dtype, copy=False)
                cts.append(c if leaf.ndim else c[()])
            grads_in = ctx.f_vjp(tree.unflatten(ctx.treedef, cts))
            out: list = [None, None]
            for k, gk in enumerate(_leaf_grads(ctx.args, ctx.nums, grads_in)):
                out.append(None if k not in ctx.diff or gk is None else
                           torch.as_tensor(np.conj(np.asarray(gk)).copy(),
                                           device=ctx.devices[k]))
            return tuple(out)

    @user_facing
    def call(*args: Any):
        leaves, in_treedef = tree.flatten(args)
        via = trampoline(sys._getframe(1), fn)  # fn's caller: the user's line
        flat = _FrameadFunction.apply(in_treedef, via, *leaves)
        return tree.unflatten(state["treedef"], list(flat))

    functools.update_wrapper(call, fn)
    call.autograd_function = _FrameadFunction  # type: ignore[attr-defined]
    return call


def _n_leaves(a: Any) -> int:
    return len(tree.leaves(a)) if tree.is_node(a) and a is not None else 1


# ----------------------------------------------------------------------------- JAX

def to_jax(fn: Callable, result_shape: Any = None) -> Callable:
    """``g = to_jax(fn)``: a JAX-differentiable function of JAX arrays that runs the NumPy
    function ``fn`` on the host (``jax.pure_callback``) with framead's reverse pass as its
    VJP (``jax.custom_vjp``).

    ``result_shape``: the output's ``jax.ShapeDtypeStruct`` tree, or a callable taking the
    input ShapeDtypeStructs and returning it. Without it the output structure is found by
    running ``fn`` once on the inputs when they are concrete, else on arrays of ones shaped
    like them (under ``jax.jit``). Enable ``jax_enable_x64`` for float64.

    >>> import jax
    >>> jax.config.update("jax_enable_x64", True)
    >>> f = framead.to_jax(lambda p: np.sum(np.sin(p[0]) * p[1]))
    >>> g = jax.grad(f)((jax.numpy.zeros(2), jax.numpy.array([2.0, 3.0])))
    >>> [np.asarray(x).tolist() for x in g]
    [[2.0, 3.0], [0.0, 0.0]]
    """
    import jax  # noqa: PLC0415 - optional dependency

    def _structs(args):
        return [jax.tree_util.tree_map(
            lambda x: jax.ShapeDtypeStruct(np.shape(x), jax.numpy.result_type(x)), a)
            for a in args]

    def build(via: Callable) -> Callable:
        """The custom_vjp function whose host callbacks call ``fn`` from ``via``."""
        def _out_struct(args):
            if result_shape is not None:
                rs = result_shape(*_structs(args)) if callable(result_shape) else result_shape
                return rs
            try:
                concrete = [jax.tree_util.tree_map(np.asarray, a) for a in args]
            except Exception:  # tracers (jit): probe with ones of the same shapes and dtypes
                concrete = [jax.tree_util.tree_map(lambda s: np.ones(s.shape, s.dtype), a)
                            for a in _structs(args)]
            out = via(operator.call, fn, concrete, {})
            return jax.tree_util.tree_map(
                lambda x: jax.ShapeDtypeStruct(np.shape(x), np.asarray(x).dtype), out)

        def _host_fn(*args):
            out = via(operator.call, fn, [jax.tree_util.tree_map(np.asarray, a) for a in args],
                      {})
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
                arrays = tuple(jax.tree_util.tree_map(lambda x: np.array(x, copy=True), x)
                               for x in a)
                nums = tuple(i for i, x in enumerate(arrays)
                             if any(tree.differentiable(v) for v in tree.leaves(x)))
                out, f_vjp = via(operator.call, vjp, (fn, *arrays), {"argnums": nums})
                leaves, treedef = tree.flatten(out)
                g_leaves = jax.tree_util.tree_leaves(gg)
                cts = [np.asarray(c).astype(np.asarray(x).dtype, copy=False).reshape(np.shape(x))
                       for c, x in zip(g_leaves, leaves, strict=True)]
                grads = _leaf_grads(arrays, nums, f_vjp(tree.unflatten(treedef, cts)))
                structs, td = tree.flatten(in_structs)
                res = [np.zeros(s.shape, s.dtype) if g is None else
                       np.asarray(g, dtype=s.dtype).reshape(s.shape)
                       for s, g in zip(structs, grads, strict=True)]
                return tree.unflatten(td, res)

            return jax.pure_callback(host_vjp, in_structs, (args, g), vmap_method="sequential")

        f.defvjp(f_fwd, f_bwd)
        return f

    built: dict = {}  # trampoline (one per calling line) -> its custom_vjp function

    def g(*args: Any) -> Any:
        via = trampoline(sys._getframe(1), fn)  # fn's caller: the line calling g
        h = built.get(via)
        if h is None:
            if len(built) >= 256:
                built.clear()
            h = built[via] = build(via)
        return h(*args)

    functools.update_wrapper(g, fn)
    return g
