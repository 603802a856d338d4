"""The ``"forward"`` engine: ``framead.use("forward")(fn)`` differentiates each call of ``fn``
by framead's own forward mode (framead/forward.py).

The JVP is one capture of ``fn`` plus one tangent pass. The VJP (what the reverse pass of
the enclosing capture asks for) is assembled column by column from forward passes: one
capture of ``fn``, then one tangent pass per element of the traced inputs (two for complex
inputs). That is the right trade for few inputs and many outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from framead.forward import forward_trace, unit_basis
from framead.ir import flatten_tree

from . import register_engine
from .common import cast_cotangent, glue, pair, run_fn


class ForwardEngine:
    """Engine object for ``framead.use("forward", strict=None)``."""

    saves_ans = False
    higher_order = "visible"  # an outer capture records the VJP (grad of grad)

    def __init__(self, fn: Callable, options: dict):
        unknown = set(options) - {"strict"}
        if unknown:
            raise TypeError(f"framead.use('forward'): unknown option(s) {sorted(unknown)}; "
                            "accepted: strict")
        self.fn = fn
        self.strict = options.get("strict")
        name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", repr(fn))
        self.name = f"use[forward]({name})"

    def call(self, *args: Any, **kwargs: Any) -> Any:
        return run_fn(self.fn, *args, **kwargs)

    def jvp(self, tangents: tuple, ans: Any, args: tuple, kwargs: dict) -> Any:
        nums = tuple(i for i, t in enumerate(tangents) if t is not None)
        if not nums:
            return None
        ft = run_fn(forward_trace, self.fn, args, kwargs, nums, self.strict)
        return ft.tangent([tangents[i] for i in nums])

    def vjp(self, g: Any, ans: Any, args: tuple, kwargs: dict, wrt: tuple) -> tuple:
        ft = run_fn(forward_trace, self.fn, args, kwargs, tuple(wrt), self.strict)
        return _assemble_vjp(ft, flatten_tree(g)[0], args, wrt)


# The VJP assembled from tangent passes, as derivative glue: inside an outer capture (grad of
# grad, hessian) the tangent passes are recorded (framead/forward.py), and so is this.
_assemble_vjp: Callable = glue("""
def assemble_vjp(ft, g_leaves, args, wrt):
    out = [None] * len(args)
    for j, i in enumerate(wrt):
        x = args[i]
        cplx = np.iscomplexobj(x)
        ct = np.zeros(int(np.size(x)), dtype=complex if cplx else float)
        for k in range(ct.size):
            ts = [None] * len(wrt)
            ts[j] = unit_basis(x, k)
            ct[k] = pair(g_leaves, flatten_tree(ft.tangent(ts))[0])
            if cplx:  # Re(ct * i) = -Im(ct) = <g, J (i e_k)>
                ts[j] = unit_basis(x, k) * 1j
                ct[k] -= 1j * pair(g_leaves, flatten_tree(ft.tangent(ts))[0])
        out[i] = cast_cotangent(ct.reshape(np.shape(x)), x)
    return tuple(out)
""", unit_basis=unit_basis, pair=pair, flatten_tree=flatten_tree,
    cast_cotangent=cast_cotangent)["assemble_vjp"]


def _factory(fn: Callable, options: dict) -> ForwardEngine:
    return ForwardEngine(fn, options)


register_engine("forward", _factory, replace=True)
