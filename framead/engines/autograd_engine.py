"""``framead.use("autograd")``: ``fn`` is written against HIPS autograd's ``autograd.numpy``.

``fn`` is called with the NumPy values themselves (autograd.numpy accepts them), so the
primal is exactly ``fn(*args)``. The VJP is ``autograd.make_vjp`` over the traced arguments
(packed in one tuple, so ``fn`` runs once per reverse step); tuple/list outputs are supported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import autograd
import numpy as np
from autograd.builtins import tuple as ag_tuple
from autograd.differential_operators import make_jvp

from framead.ir import flatten_tree, unflatten_tree

from . import register_engine
from .common import cotangents, glue, run_fn


def _as_tuple_box(out: Any) -> Any:
    if type(out) in (tuple, list):
        return ag_tuple(_as_tuple_box(o) for o in out)
    return out


class AutogradEngine:
    saves_ans = False
    higher_order = "visible"  # an outer capture records the VJP (grad of grad)

    def __init__(self, fn: Callable):
        self.fn = fn
        self.name = f"use[autograd]({getattr(fn, '__qualname__', fn)})"

    def call(self, *args: Any, **kwargs: Any) -> Any:
        return run_fn(self.fn, *args, **kwargs)

    def _packed(self, args: tuple, wrt: tuple, kwargs: dict) -> Callable:
        def f(xs):
            a = list(args)
            for k, i in enumerate(wrt):
                a[i] = xs[k]
            return _as_tuple_box(run_fn(self.fn, *a, **kwargs))
        return f

    def vjp(self, g: Any, ans: Any, args: tuple, kwargs: dict, wrt: tuple) -> tuple:
        pull, out = autograd.make_vjp(self._packed(args, wrt, kwargs))(
            tuple(args[i] for i in wrt))
        gt = _seed(g, out)
        return cotangents(args, wrt, pull(gt))

    def jvp(self, tangents: tuple, ans: Any, args: tuple, kwargs: dict) -> Any:
        wrt = tuple(i for i, t in enumerate(tangents) if t is not None)
        if not wrt:
            return None
        prim = tuple(args[i] for i in wrt)
        tans = tuple(np.broadcast_to(np.asarray(tangents[i], dtype=float), np.shape(p)) + 0.0
                     for i, p in zip(wrt, prim, strict=True))
        return make_jvp(self._packed(args, wrt, kwargs))(prim)(tans)[1]


# The cotangent handed to autograd, as derivative glue: inside an outer capture (grad of grad)
# it may depend on the outer inputs, and the outer capture records autograd's VJP with it.
_seed: Callable = glue("""
def seed(g, out):
    outs, td = flatten_tree(out)
    gl, _ = flatten_tree(g)
    if len(gl) != len(outs):
        gl = [g]
    gt = unflatten_tree(td, [np.zeros_like(o) if c is None else
                             np.broadcast_to(np.asarray(c, dtype=np.result_type(o)),
                                             np.shape(o)).copy()
                             for c, o in zip(gl, outs, strict=True)])
    if not isinstance(out, tuple | list):
        gt = gt if np.ndim(out) else np.asarray(gt).reshape(())[()]
    return gt
""", flatten_tree=flatten_tree, unflatten_tree=unflatten_tree)["seed"]


def factory(fn: Callable, options: dict) -> AutogradEngine:
    if options:
        raise TypeError(f"the autograd engine takes no options, got {sorted(options)}")
    return AutogradEngine(fn)


register_engine("autograd", factory)
