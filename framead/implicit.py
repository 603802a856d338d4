"""``framead.implicit``: a user's own solver differentiated by the implicit function theorem.

Importing this module also registers the SciPy solver adjoints with capture
(framead/solvers.py): framead/__init__.py imports it.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

from . import solvers
from .capturing import active_recorder, quiet
from .implicit_adjoint import RESIDUALS, record_solution


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
        rec = active_recorder()
        if rec is None:
            return solve(*params, **kwargs)
        frame = sys._getframe(1)
        x_star = quiet(solve, params, kwargs)
        x = record_solution(rec, frame, x_star,
                            lambda x: RESIDUALS["res_plain"](residual, x, params),
                            getattr(solve, "__qualname__", "implicit"))
        return x_star if x is None else x

    return solved


solvers.register()  # capture routes the SciPy solvers to their adjoints (capture/calls.py)
