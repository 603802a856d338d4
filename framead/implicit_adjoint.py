"""The implicit-function adjoint: a solution ``x*`` of ``F(x*, θ) = 0`` recorded as one node.

``record_solution`` (called by framead.implicit and the ``scipy.optimize`` handlers,
framead/scipy_optimize.py, after the solver ran natively):

1. evaluates the residual ``F(x*)`` once more under capture at the (constant) solution ``x*``;
   this records how the residual depends on the traced values the user's callback reads
   (closures, ``args=``);
2. captures ``∂F/∂x`` at ``x*`` once by a nested ``framead.vjp`` (traced values of the outer
   capture are constants there);
3. records the solution as one node ``x = implicit_solution(r)`` whose VJP is
   ``r̄ = -(∂F/∂x)^{-T} x̄`` (n reverse sweeps of the nested trace and one dense solve).
   The reverse pass never calls the user's residual and never re-runs the solver.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .api import vjp
from .capture import calls
from .capturing import quiet
from .errors import FrameadError
from .rules import make_rule

# The residual builders run as instrumented user code (a framead file never is), so the
# arithmetic they do on traced values (x + i h e_k, .imag, - x) is recorded.
_RESIDUAL_SRC = '''
import numpy as np

def res_plain(f, x, args):
    return f(x, *args)

def res_first(f, x, args):
    return f(x, *args)[0]

def res_second(f, x, args):
    return f(x, *args)[1]

def res_fixed(f, x, args):
    return np.subtract(f(x, *args), x)

def res_cs_grad(f, x, args, h):
    if np.ndim(x) == 0:
        return np.imag(f(x + 1j * h, *args)) / h
    out = []
    for k in range(x.size):
        e = np.zeros(x.shape, dtype=complex)
        e.reshape(-1)[k] = 1j * h
        out.append(np.imag(f(x + e, *args)) / h)
    return np.reshape(np.array(out), x.shape)

def res_fd_grad(f, x, args, h):
    if np.ndim(x) == 0:
        return (f(x + h, *args) - f(x - h, *args)) / (2 * h)
    out = []
    for k in range(x.size):
        e = np.zeros(x.shape)
        e.reshape(-1)[k] = h[k]
        out.append((f(x + e, *args) - f(x - e, *args)) / (2 * h[k]))
    return np.reshape(np.array(out), x.shape)

def evaluate(f, x, args):
    return f(x, *args)

def res_bounded(grad_res, x, active, bound):
    return np.where(active, x - bound, grad_res(x))
'''
# name -> builder: res_plain(f, x, args) is f(x, *args), res_first its first output...
RESIDUALS: dict[str, Any] = {}
exec(compile(_RESIDUAL_SRC, "/<framead-generated>/implicit_residuals.py", "exec"), RESIDUALS)


def fresh(x: Any) -> Any:
    """A new object equal to ``x`` (never a traced one, never shared)."""
    if isinstance(x, np.ndarray):
        return np.array(x, dtype=np.result_type(x.dtype, float), copy=True)
    if isinstance(x, np.inexact):
        return type(x)(x.item())
    if isinstance(x, complex):
        return complex(x.real, x.imag)
    return float(x) * 1.0


class ImplicitContext:
    """What the reverse pass of one implicit solution needs: the nested trace of the residual
    with respect to ``x`` at ``x*`` (captured during the forward pass)."""

    def __init__(self, f_vjp: Callable, x_star: Any, r: Any, name: str):
        self.f_vjp = f_vjp
        self.x_star = x_star
        self.r_shape = quiet(np.shape, (r,), {})  # NumPy's Python code: keep it unrecorded
        self.r_scalar = not isinstance(r, np.ndarray) and self.r_shape == ()
        self.r_seq = type(r) in (list, tuple)  # the residual returns a list of numbers
        self.name = name
        self.jacobian: np.ndarray | None = None
        self.sweeps = 0

    def __repr__(self) -> str:
        return f"<implicit {self.name}>"

    def jac(self) -> np.ndarray:
        """Dense ``∂F/∂x`` (m x n), one reverse sweep per residual component."""
        if self.jacobian is None:
            m = int(np.prod(self.r_shape, dtype=int))
            n = int(np.size(self.x_star))
            J = np.zeros((m, n))
            for i in range(m):
                if self.r_scalar:
                    e: Any = 1.0
                else:
                    e = np.zeros(self.r_shape)
                    e.reshape(-1)[i] = 1.0
                    if self.r_seq:
                        e = e.tolist()
                (row,) = self.f_vjp(e)
                self.sweeps += 1
                J[i] = np.ravel(np.real(row))
            self.jacobian = J
        return self.jacobian

    def adjoint(self, g: Any) -> Any:
        """``r̄ = -(∂F/∂x)^{-T} x̄``, shaped like the residual."""
        J = self.jac()
        gx = np.ravel(np.real(np.asarray(g, dtype=complex)))
        if J.shape[0] != J.shape[1]:
            raise FrameadError(
                f"{self.name}: the residual has {J.shape[0]} components for {J.shape[1]} "
                "unknowns; the implicit function theorem needs a square system")
        try:
            w = np.linalg.solve(J.T, gx)
        except np.linalg.LinAlgError:
            raise FrameadError(
                f"{self.name}: the Jacobian of the residual is singular at the solution; the "
                "solution is not a differentiable function of the parameters there") from None
        if self.r_scalar:
            return float(-w[0])
        return (-w).reshape(self.r_shape)


def implicit_solution(ctx: ImplicitContext, r: Any) -> Any:
    """The IR node of a solution ``x*`` defined by ``F(x*, θ) = r = 0`` (it returns ``x*``)."""
    return fresh(ctx.x_star)


def _implicit_vjp(g: Any, ans: Any, ctx: ImplicitContext, r: Any) -> tuple:
    return None, ctx.adjoint(g)


def _implicit_jvp(tangents: tuple, ans: Any, ctx: ImplicitContext, r: Any) -> Any:
    """Forward mode: ``ẋ = -(∂F/∂x)^{-1} ṙ``."""
    tr = tangents[1] if len(tangents) > 1 else None
    if tr is None:
        return None
    J = ctx.jac()
    t = np.linalg.solve(J, np.ravel(np.real(np.asarray(tr, dtype=complex))))
    return -t[0] if np.ndim(ctx.x_star) == 0 else (-t).reshape(np.shape(ctx.x_star))


_RULE = make_rule(implicit_solution, vjp=_implicit_vjp, jvp=_implicit_jvp, saves={1: ()},
                  nondiff=(0,), name="implicit_solution")


def record_solution(rec: Any, frame: Any, x_star: Any, residual: Callable[[Any], Any],
                    name: str) -> Any:
    """Record ``x*`` (a root of ``residual``) in ``rec``'s graph; None when the residual does not
    depend on anything traced (then ``x*`` is a constant)."""
    r = residual(fresh(x_star))
    if rec.tree_value(r) is None:
        return None
    _, f_vjp = vjp(residual, fresh(x_star), argnums=0)
    ctx = ImplicitContext(f_vjp, fresh(x_star), r, name)
    if type(r) in (list, tuple):
        r = calls.dispatch(rec, np.asarray, (r,), {}, frame)
    return rec.apply(_RULE, implicit_solution, (ctx, r), {}, (ctx, r), frame)
