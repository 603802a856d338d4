"""Implicit-function adjoints for SciPy's root finders and minimizers, and ``framead.implicit``.

Inside a capture, a call of ``scipy.optimize.root``, ``fsolve``, ``root_scalar``, ``brentq``,
``brenth``, ``ridder``, ``bisect``, ``newton``, ``fixed_point``, ``minimize`` or
``minimize_scalar`` is not differentiated through its iterations. Instead (capture/calls.py
routes these callables here through the ``SOLVERS`` hook):

1. the solver runs natively with capture disabled: its iterations record nothing;
2. the residual ``F(x*, *args)`` is evaluated once more under capture at the (constant)
   solution ``x*``; this records how the residual depends on the traced values the user's
   callback reads (closures, ``args=``);
3. ``∂F/∂x`` at ``x*`` is captured once by a nested ``framead.vjp`` (traced values of the
   outer capture are constants there);
4. the solution is recorded as one node ``x = implicit_solution(r)`` whose VJP is
   ``r̄ = -(∂F/∂x)^{-T} x̄`` (n reverse sweeps of the nested trace and one dense solve).
   The reverse pass never calls the user's residual and never re-runs the solver.

Residuals: the callback itself (root finders; its first output with ``jac=True`` or
``fprime=True``), ``func(x) - x`` (``fixed_point``), and the optimality condition
``∇f(x) = 0`` for ``minimize``/``minimize_scalar``: the user's ``jac`` when given (exact), else
the complex-step gradient ``Im f(x + i h e_k) / h`` (exact to rounding; checked against central
differences at ``x*`` first) and central differences of ``f`` when ``f`` is not complex-safe
(approximate, O(h²)). Components of the minimizer sitting on a bound stay there
(``x_k = bound_k``); ``constraints=`` are not supported (reported as FA101, the minimizer is
then a constant). The residual must depend on the traced values at ``x*`` itself (it is
evaluated there once under capture); the solver's own outputs other than the solution
(``res.fun`` of ``minimize``/``minimize_scalar`` is re-evaluated and so differentiated) are
constants.
"""

from __future__ import annotations

import functools
import inspect
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .capture.calls import register_solvers
from .errors import FrameadError

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
_R: dict[str, Any] = {}
exec(compile(_RESIDUAL_SRC, "/<framead-generated>/implicit_residuals.py", "exec"), _R)

COMPLEX_STEP = 1e-20


def _C():
    from .capture import _evalframe as C

    return C


def _quiet(fn: Callable, args: tuple, kwargs: dict) -> Any:
    """Run ``fn`` natively: nothing inside it is recorded."""
    C = _C()
    prev = C.set_enabled(False)
    try:
        return fn(*args, **kwargs)
    finally:
        C.set_enabled(prev)


def _fresh(x: Any) -> Any:
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
        self.r_shape = _quiet(np.shape, (r,), {})  # NumPy's Python code: keep it unrecorded
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
    return _fresh(ctx.x_star)


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


def _make_rule():
    from .rules import make_rule

    return make_rule(implicit_solution, vjp=_implicit_vjp, jvp=_implicit_jvp, saves={1: ()},
                     nondiff=(0,), name="implicit_solution")


_RULE: list = []


def _rule():
    if not _RULE:
        _RULE.append(_make_rule())
    return _RULE[0]


def record_solution(rec: Any, frame: Any, x_star: Any, residual: Callable[[Any], Any],
                    name: str) -> Any:
    """Record ``x*`` (a root of ``residual``) in ``rec``'s graph; None when the residual does not
    depend on anything traced (then ``x*`` is a constant)."""
    from . import api

    r = residual(_fresh(x_star))
    if rec.tree_value(r) is None:
        return None
    _, f_vjp = api.vjp(residual, _fresh(x_star), argnums=0)
    ctx = ImplicitContext(f_vjp, _fresh(x_star), r, name)
    if type(r) in (list, tuple):
        from .capture import calls

        r = calls.dispatch(rec, np.asarray, (r,), {}, frame)
    return rec.apply(_rule(), implicit_solution, (ctx, r), {}, (ctx, r), frame)


# ------------------------------------------------------------------------------ user solvers


def implicit(solve: Callable | None = None, residual: Callable | None = None) -> Callable:
    """``framead.implicit(solve, residual)``: ``solve(*params)`` returns ``x`` with
    ``residual(x, *params) == 0``. Inside a capture, the returned function runs ``solve``
    without recording it and records ``x`` with the implicit-function adjoint (gradients reach
    traced ``params`` and traced values ``residual`` reads through closures). Outside a capture
    it is ``solve``. Usable as ``@framead.implicit(residual=res)`` too.

    >>> def newton_sqrt(a):  # iterations framead never differentiates
    ...     x = 1.0
    ...     for _ in range(60):
    ...         x = 0.5 * (x + a / x)
    ...     return x
    >>> sqrt = framead.implicit(newton_sqrt, residual=lambda x, a: x * x - a)
    >>> round(framead.grad(sqrt)(4.0), 12)  # d sqrt(a)/da = 1 / (2 sqrt(a))
    0.25
    """
    if residual is None:
        raise TypeError("framead.implicit needs residual=residual(x, *params)")
    if solve is None:
        return lambda s: implicit(s, residual)

    @functools.wraps(solve)
    def solved(*params: Any, **kwargs: Any) -> Any:
        from .capture.session import current_recorder

        rec = current_recorder()
        if rec is None or not _C().is_enabled():
            return solve(*params, **kwargs)
        frame = sys._getframe(1)
        x_star = _quiet(solve, params, kwargs)
        x = record_solution(rec, frame, x_star,
                            lambda x: _R["res_plain"](residual, x, params),
                            getattr(solve, "__qualname__", "implicit"))
        return x_star if x is None else x

    return solved


# ------------------------------------------------------------------------------ SciPy solvers


def _bind(fn: Callable, args: tuple, kwargs: dict) -> dict | None:
    try:
        ba = inspect.signature(fn).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return None
    ba.apply_defaults()
    return dict(ba.arguments)


def _args_tuple(a: Any) -> tuple:
    if a is None:
        return ()
    return a if isinstance(a, tuple) else (a,)


def _scalar_solver(cb: str):
    """brentq, brenth, ridder, bisect: ``f(x, *args)``; output x or (x, RootResults)."""

    def handle(rec, fn, args, kwargs, frame):
        out = _quiet(fn, args, kwargs)
        b = _bind(fn, args, kwargs)
        if b is None:
            return out
        f, fargs = b[cb], _args_tuple(b.get("args"))
        x_star = out[0] if isinstance(out, tuple) else out
        x = record_solution(rec, frame, x_star, lambda x: _R["res_plain"](f, x, fargs),
                            fn.__name__)
        if x is None:
            return out
        if isinstance(out, tuple):
            out[1].root = x
            return (x, *out[1:])
        return x

    return handle


def _newton(rec, fn, args, kwargs, frame):
    out = _quiet(fn, args, kwargs)
    b = _bind(fn, args, kwargs)
    if b is None:
        return out
    f, fargs = b["func"], _args_tuple(b.get("args"))
    full = bool(b.get("full_output"))
    x_star = out[0] if full else out
    x = record_solution(rec, frame, x_star, lambda x: _R["res_plain"](f, x, fargs), "newton")
    if x is None:
        return out
    if not full:
        return x
    if hasattr(out, "_replace"):
        return out._replace(root=x)
    if len(out) > 1 and hasattr(out[1], "root"):
        out[1].root = x
    return (x, *out[1:])


def _root_scalar(rec, fn, args, kwargs, frame):
    res = _quiet(fn, args, kwargs)
    b = _bind(fn, args, kwargs)
    if b is None:
        return res
    f, fargs = b["f"], _args_tuple(b.get("args"))
    build = _R["res_first"] if b.get("fprime") is True or b.get("fprime2") is True \
        else _R["res_plain"]
    x = record_solution(rec, frame, res.root, lambda x: build(f, x, fargs), "root_scalar")
    if x is not None:
        res.root = x
    return res


def _root(rec, fn, args, kwargs, frame):
    res = _quiet(fn, args, kwargs)
    b = _bind(fn, args, kwargs)
    if b is None:
        return res
    f, fargs = b["fun"], _args_tuple(b.get("args"))
    build = _R["res_first"] if b.get("jac") is True else _R["res_plain"]
    x = record_solution(rec, frame, res.x, lambda x: build(f, x, fargs), "root")
    if x is not None:
        res["x"] = x
    return res


def _fsolve(rec, fn, args, kwargs, frame):
    out = _quiet(fn, args, kwargs)
    b = _bind(fn, args, kwargs)
    if b is None:
        return out
    f, fargs = b["func"], _args_tuple(b.get("args"))
    full = isinstance(out, tuple)
    x_star = out[0] if full else out
    x = record_solution(rec, frame, x_star, lambda x: _R["res_plain"](f, x, fargs), "fsolve")
    if x is None:
        return out
    return (x, *out[1:]) if full else x


def _fixed_point(rec, fn, args, kwargs, frame):
    out = _quiet(fn, args, kwargs)
    b = _bind(fn, args, kwargs)
    if b is None:
        return out
    f, fargs = b["func"], _args_tuple(b.get("args"))
    x = record_solution(rec, frame, out, lambda x: _R["res_fixed"](f, x, fargs), "fixed_point")
    return out if x is None else x


def _gradient_residual(f: Callable, x_star: Any, fargs: tuple, name: str) -> Callable:
    """``x -> ∇f(x)`` as instrumented code: complex step when ``f`` is complex-safe at ``x*``
    (checked against central differences), central differences otherwise."""
    scale = np.maximum(1.0, np.abs(np.asarray(x_star, dtype=float)))
    h_fd = 1e-5 * scale if np.ndim(x_star) else float(1e-5 * scale)
    fd = _quiet(_R["res_fd_grad"], (f, _fresh(x_star), fargs, h_fd), {})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            cs = _quiet(_R["res_cs_grad"], (f, _fresh(x_star), fargs, COMPLEX_STEP), {})
        ok = np.all(np.isfinite(cs)) and np.allclose(cs, fd, rtol=1e-4,
                                                     atol=1e-6 * (1 + np.max(np.abs(fd))))
    except Exception:
        ok = False
    if ok:
        return lambda x: _R["res_cs_grad"](f, x, fargs, COMPLEX_STEP)
    warnings.warn(f"framead: {name}'s objective is not complex-safe; its optimality condition "
                  "uses central differences of the objective (approximate gradient)",
                  RuntimeWarning, stacklevel=3)
    return lambda x: _R["res_fd_grad"](f, x, fargs, h_fd)


def _with_active_bounds(residual: Callable, x_star: Any, bounds: Any) -> Callable:
    """Components of ``x*`` sitting on a bound stay there (``x_k - bound_k = 0``); the others
    satisfy ``∂f/∂x_k = 0``."""
    if bounds is None:
        return residual
    x = np.asarray(x_star, dtype=float)
    if hasattr(bounds, "lb"):  # scipy.optimize.Bounds
        lo = np.broadcast_to(np.asarray(bounds.lb, dtype=float), x.shape)
        hi = np.broadcast_to(np.asarray(bounds.ub, dtype=float), x.shape)
    elif np.ndim(x) == 0:  # minimize_scalar(bounds=(lo, hi))
        lo, hi = (np.float64(-np.inf if v is None else v) for v in bounds)
    else:
        pairs = [(-np.inf if a is None else a, np.inf if b is None else b) for a, b in bounds]
        lo = np.array([p[0] for p in pairs], dtype=float).reshape(x.shape)
        hi = np.array([p[1] for p in pairs], dtype=float).reshape(x.shape)
    tol = 1e-10 * np.maximum(1.0, np.abs(x))
    at_lo, at_hi = np.abs(x - lo) <= tol, np.abs(x - hi) <= tol
    active = at_lo | at_hi
    if not np.any(active):
        return residual
    bound = np.where(at_lo, lo, hi)
    if np.ndim(x) == 0:
        return lambda x: _R["res_bounded"](residual, x, bool(active), float(bound))
    return lambda x: _R["res_bounded"](residual, x, active, bound)


def _minimize(rec, fn, args, kwargs, frame):
    res = _quiet(fn, args, kwargs)
    b = _bind(fn, args, kwargs)
    if b is None:
        return res
    f, fargs = b["fun"], _args_tuple(b.get("args"))
    jac = b.get("jac")
    if callable(jac):
        residual = lambda x: _R["res_plain"](jac, x, fargs)
        value = lambda x: _R["evaluate"](f, x, fargs)
    elif jac is True:
        residual = lambda x: _R["res_second"](f, x, fargs)
        value = lambda x: _R["res_first"](f, x, fargs)
    else:
        value = lambda x: _R["evaluate"](f, x, fargs)
        residual = None
    if residual is None:
        # cheap dependence test before building a gradient residual
        if rec.tree_value(value(_fresh(res.x))) is None:
            return res
        residual = _gradient_residual(value, res.x, (), fn.__name__)
    if b.get("constraints"):
        rec.hazard("FA101", fn.__name__, frame,
                   f"{fn.__name__} with constraints: framead differentiates unconstrained "
                   "optimality conditions only; the minimizer is treated as a constant")
        return res
    residual = _with_active_bounds(residual, res.x, b.get("bounds"))
    x = record_solution(rec, frame, res.x, residual, fn.__name__)
    if x is not None:
        res["x"] = x
        res["fun"] = value(x)
    return res


def solver_handlers() -> dict[int, tuple[Any, Any]]:
    """``id(solver) -> (solver, handler)`` for capture/calls.py's SOLVERS hook (empty until
    SciPy is imported; SciPy is never imported by framead itself)."""
    if "scipy" not in sys.modules:
        return {}
    try:
        import scipy.optimize as so
    except Exception:  # a broken SciPy must not break every capture
        return {}
    table: list[tuple[Any, Any]] = [
        (so.brentq, _scalar_solver("f")), (so.brenth, _scalar_solver("f")),
        (so.ridder, _scalar_solver("f")), (so.bisect, _scalar_solver("f")),
        (so.newton, _newton), (so.root_scalar, _root_scalar), (so.root, _root),
        (so.fsolve, _fsolve), (so.fixed_point, _fixed_point), (so.minimize, _minimize),
        (so.minimize_scalar, _minimize),
    ]
    try:
        from . import ode, quadrature, scipy_calls

        table.extend(ode.solver_table())
        table.extend(quadrature.solver_table())
        table.extend(scipy_calls.solver_table())
    except ImportError:
        pass
    return {id(f): (f, h) for f, h in table}


register_solvers(solver_handlers)  # capture routes the solvers here (capture/calls.py)
