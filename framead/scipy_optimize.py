"""Implicit-function adjoints for SciPy's root finders and minimizers.

Inside a capture, a call of ``scipy.optimize.root``, ``fsolve``, ``root_scalar``, ``brentq``,
``brenth``, ``ridder``, ``bisect``, ``newton``, ``fixed_point``, ``minimize`` or
``minimize_scalar`` (routed here by capture/calls.py's ``SOLVERS`` hook, framead/solvers.py)
is not differentiated through its iterations: the solver runs natively with capture disabled
(its iterations record nothing), and its solution is recorded with the implicit-function
adjoint of a residual (framead/implicit_adjoint.py).

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

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .capturing import quiet
from .implicit_adjoint import RESIDUALS, fresh, record_solution
from .solver_common import Handler, args_tuple, bind

COMPLEX_STEP = 1e-20

# --- root finders: one table row each ---------------------------------------------------------


@dataclass(frozen=True)
class RootFinder:
    """A root finder's handler: run it quietly, bind its arguments, record its solution as a
    root of the residual built from its callback, and put the recorded solution back into
    its output."""

    callback: str  # the solver's parameter holding the user's function
    residual: Callable[[dict], Callable]  # bound arguments -> residual builder (RESIDUALS)
    solution: Callable[[Any, dict], Any]  # (output, bound arguments) -> x*
    patch: Callable[[Any, Any, dict], Any]  # (output, recorded x, bound arguments) -> result
    name: str | None = None  # the node's name (default: the solver's __name__)

    def __call__(self, rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
        out = quiet(fn, args, kwargs)
        b = bind(fn, args, kwargs)
        if b is None:
            return out
        f, fargs = b[self.callback], args_tuple(b.get("args"))
        build = self.residual(b)
        x = record_solution(rec, frame, self.solution(out, b), lambda x: build(f, x, fargs),
                            self.name or fn.__name__)
        return out if x is None else self.patch(out, x, b)


# which residual builder (framead/implicit_adjoint.py RESIDUALS) the callback needs


def _plain(b: dict) -> Callable:
    return RESIDUALS["res_plain"]


def _first_output_if(*flags: str) -> Callable[[dict], Callable]:
    """The callback's first output when one of ``flags`` is True (it returns derivatives
    too), else the callback."""
    def residual(b: dict) -> Callable:
        return RESIDUALS["res_first" if any(b.get(k) is True for k in flags) else "res_plain"]
    return residual


def _fixed(b: dict) -> Callable:
    return RESIDUALS["res_fixed"]


# where the output holds x*, and how the recorded x replaces it


def _solution_first(out: Any, b: dict) -> Any:
    return out[0] if isinstance(out, tuple) else out


def _solution_first_if_full(out: Any, b: dict) -> Any:
    return out[0] if bool(b.get("full_output")) else out


def _put_root_results(out: Any, x: Any, b: dict) -> Any:
    """brentq & co.: ``x`` or ``(x, RootResults)``."""
    if isinstance(out, tuple):
        out[1].root = x
        return (x, *out[1:])
    return x


def _put_newton(out: Any, x: Any, b: dict) -> Any:
    if not bool(b.get("full_output")):
        return x
    if hasattr(out, "_replace"):
        return out._replace(root=x)
    if len(out) > 1 and hasattr(out[1], "root"):
        out[1].root = x
    return (x, *out[1:])


def _put_root(out: Any, x: Any, b: dict) -> Any:
    out.root = x
    return out


def _put_x(out: Any, x: Any, b: dict) -> Any:
    out["x"] = x
    return out


def _put_first(out: Any, x: Any, b: dict) -> Any:
    return (x, *out[1:]) if isinstance(out, tuple) else x


def _put_alone(out: Any, x: Any, b: dict) -> Any:
    return x


_SCALAR = RootFinder("f", _plain, _solution_first, _put_root_results)  # f(x, *args) on a bracket
ROOT_FINDERS: dict[str, RootFinder] = {
    "brentq": _SCALAR, "brenth": _SCALAR, "ridder": _SCALAR, "bisect": _SCALAR,
    "newton": RootFinder("func", _plain, _solution_first_if_full, _put_newton, "newton"),
    "root_scalar": RootFinder("f", _first_output_if("fprime", "fprime2"),
                              lambda out, b: out.root, _put_root, "root_scalar"),
    "root": RootFinder("fun", _first_output_if("jac"), lambda out, b: out.x, _put_x, "root"),
    "fsolve": RootFinder("func", _plain, _solution_first, _put_first, "fsolve"),
    "fixed_point": RootFinder("func", _fixed, lambda out, b: out, _put_alone, "fixed_point"),
}


# --- minimizers: the optimality condition ∇f(x) = 0 ------------------------------------------


def _gradient_residual(f: Callable, x_star: Any, fargs: tuple, name: str) -> Callable:
    """``x -> ∇f(x)`` as instrumented code: complex step when ``f`` is complex-safe at ``x*``
    (checked against central differences), central differences otherwise."""
    scale = np.maximum(1.0, np.abs(np.asarray(x_star, dtype=float)))
    h_fd = 1e-5 * scale if np.ndim(x_star) else float(1e-5 * scale)
    fd = quiet(RESIDUALS["res_fd_grad"], (f, fresh(x_star), fargs, h_fd), {})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            cs = quiet(RESIDUALS["res_cs_grad"], (f, fresh(x_star), fargs, COMPLEX_STEP), {})
        ok = np.all(np.isfinite(cs)) and np.allclose(cs, fd, rtol=1e-4,
                                                     atol=1e-6 * (1 + np.max(np.abs(fd))))
    except Exception:
        ok = False
    if ok:
        return lambda x: RESIDUALS["res_cs_grad"](f, x, fargs, COMPLEX_STEP)
    warnings.warn(f"framead: {name}'s objective is not complex-safe; its optimality condition "
                  "uses central differences of the objective (approximate gradient)",
                  RuntimeWarning, stacklevel=3)
    return lambda x: RESIDUALS["res_fd_grad"](f, x, fargs, h_fd)


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
        return lambda x: RESIDUALS["res_bounded"](residual, x, bool(active), float(bound))
    return lambda x: RESIDUALS["res_bounded"](residual, x, active, bound)


def minimize(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """``minimize``/``minimize_scalar``: the minimizer is a root of the objective's gradient."""
    res = quiet(fn, args, kwargs)
    b = bind(fn, args, kwargs)
    if b is None:
        return res
    f, fargs = b["fun"], args_tuple(b.get("args"))
    jac = b.get("jac")
    if callable(jac):
        residual = lambda x: RESIDUALS["res_plain"](jac, x, fargs)
        value = lambda x: RESIDUALS["evaluate"](f, x, fargs)
    elif jac is True:
        residual = lambda x: RESIDUALS["res_second"](f, x, fargs)
        value = lambda x: RESIDUALS["res_first"](f, x, fargs)
    else:
        value = lambda x: RESIDUALS["evaluate"](f, x, fargs)
        residual = None
    if residual is None:
        # cheap dependence test before building a gradient residual
        if rec.tree_value(value(fresh(res.x))) is None:
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


HANDLERS: dict[str, Handler] = {**ROOT_FINDERS, "minimize": minimize,
                                "minimize_scalar": minimize}


def solver_table() -> list[tuple[Any, Handler]]:
    """``(scipy.optimize function, handler)`` pairs (SciPy is already imported)."""
    import scipy.optimize as so  # noqa: PLC0415 - optional dependency, imported by the user

    return [(getattr(so, name), handler) for name, handler in HANDLERS.items()]
