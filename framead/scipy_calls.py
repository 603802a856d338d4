"""SciPy calls that need more than a rule: C functions that write their result into an
argument, and ``overwrite_*=True`` linear algebra.

Routed here from capture/calls.py through the ``SOLVERS`` hook (framead/solvers.py):

* ``scipy.interpolate._ppoly.evaluate(c, x, xp, nu, extrapolate, out)`` (every ``PPoly``,
  ``CubicSpline``, ``Akima1DInterpolator``... evaluation) is recorded as the function
  ``ppoly_eval(c, x, xp, nu, extrapolate)`` (rules/scipy_signal_rules.py) followed by a write of
  its result into ``out``;
* LAPACK's ``dgbsv`` (``make_interp_spline``, ``interp1d(kind='cubic')``) gets a rule for
  its solution here, with its overwrite flags off;
* ``scipy.linalg`` solves and factorizations given traced values run with their
  ``overwrite_*`` flags off: LAPACK would otherwise overwrite, unseen, the matrix or
  right-hand side the reverse pass reads (``CubicSpline`` passes ``overwrite_ab=True``).
  SciPy documents the overwritten contents as unspecified, so keeping them is allowed.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

import numpy as np

from . import rules
from .capture import calls


def _traced(rec: Any, args) -> bool:
    return any(rec.tree_value(a) is not None for a in args)


def _ppoly_evaluate(rec, fn, args, kwargs, frame):
    if kwargs or len(args) != 6 or not _traced(rec, args[:3]):
        return fn(*args, **kwargs)
    from .rules.scipy_signal_rules import ppoly_eval  # noqa: PLC0415 - imports SciPy

    c, x, xp, nu, ext, out = args
    y = rec.apply(rules.lookup(ppoly_eval), ppoly_eval, args[:5], {}, args[:5], frame)
    calls.dispatch(rec, np.copyto, (out, y), {}, frame)
    return None


def _overwrite_off(rec, fn, args, kwargs, frame):
    """Apply ``fn``'s rule with every ``overwrite_*`` argument False."""
    rule = rules.lookup(fn) or _PRIVATE.get(id(fn))
    if rule is None or not _traced(rec, (*args, *kwargs.values())):
        return fn(*args, **kwargs)
    # flags given by keyword are off whatever the signature says (an f2py LAPACK routine has
    # none, or on 3.13 one that names only its positional parameters)
    kwargs = {k: (False if k.startswith("overwrite_") else v) for k, v in kwargs.items()}
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return _apply(rec, rule, fn, args, kwargs, frame)
    flags = [i for i, n in enumerate(names[:len(args)]) if n.startswith("overwrite_") and args[i]]
    if not flags:  # nothing positional would be overwritten
        return _apply(rec, rule, fn, args, kwargs, frame)
    cut = min(len(args), flags[0])
    kw = {**dict(zip(names[cut:], args[cut:], strict=False)), **kwargs}
    kw.update({names[i]: False for i in flags})
    return _apply(rec, rule, fn, args[:cut], kw, frame)


def _apply(rec, rule, fn, args, kwargs, frame):
    node_args, kw = calls._map_keywords(rule, args, kwargs)
    if kw is None:
        rec.hazard("FA106", rule.name, frame,
                   f"a traced keyword argument of {rule.name} is not differentiated")
        return fn(*args, **kwargs)
    return rec.apply(rule, fn, args, kwargs, node_args, frame)


_PRIVATE: dict[int, Any] = {}  # rules applied here only (LAPACK routines)


def _lapack_rules() -> list:
    """``?gbsv`` (``make_interp_spline``'s banded solve): a rule for the solution ``x``."""
    import scipy.linalg as sl  # noqa: PLC0415 - optional dependency

    from .rules.scipy_rules import _gbsv_jvp, _gbsv_vjp  # noqa: PLC0415 - imports SciPy

    fn = sl.lapack.dgbsv
    if id(fn) not in _PRIVATE:
        _PRIVATE[id(fn)] = rules.make_rule(fn, vjp=_gbsv_vjp, jvp=_gbsv_jvp, nondiff=(0, 1),
                                           multi=True, argnames=("kl", "ku", "ab", "b"),
                                           name="scipy.linalg.lapack.dgbsv")
    return [fn]


def solver_table() -> list[tuple[Any, Any]]:
    """``(callable, handler)`` pairs for the SOLVERS hook (empty until SciPy is imported)."""
    out: list[tuple[Any, Any]] = []
    if "scipy.interpolate" in sys.modules:
        from scipy.interpolate import _ppoly  # noqa: PLC0415 - optional dependency

        out.append((_ppoly.evaluate, _ppoly_evaluate))
    if "scipy.linalg" in sys.modules:
        import scipy.linalg as sl  # noqa: PLC0415 - optional dependency

        out += [(f, _overwrite_off) for f in (
            sl.solve, sl.solve_banded, sl.solve_triangular, sl.cho_factor, sl.cho_solve,
            sl.lu_factor, sl.lu_solve, sl.inv, sl.det, sl.cholesky, *_lapack_rules())]
    return out
