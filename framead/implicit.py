"""``framead.implicit``: a user's own solver differentiated by the implicit function theorem.

Importing this module also registers the SciPy solver adjoints with capture
(framead/solvers.py): framead/__init__.py imports it.
"""

from __future__ import annotations

import functools
import operator
import os
import sys
from collections.abc import Callable
from typing import Any

from . import solvers
from .capture.caller_frame import trampoline
from .capture.sourceloc import strip_framead_frames
from .capturing import active_recorder, quiet
from .implicit_adjoint import RESIDUALS, record_solution


def implicit(solve: Callable | None = None, residual: Callable | None = None) -> Callable:
    """``framead.implicit(solve, residual)``: ``solve(*params)`` returns ``x`` with
    ``residual(x, *params) == 0``. Inside a capture, the returned function runs ``solve``
    without recording it and records ``x`` with the implicit-function adjoint (gradients reach
    traced ``params`` and traced values ``residual`` reads through closures). Outside a capture
    it is ``solve``. Usable as ``@framead.implicit(residual=res)`` too. ``solve`` runs from
    the line that called the returned function (a trampoline, capture/caller_frame.py), and
    its errors leave without framead's frames, as in a native call.

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
        try:
            return run(sys._getframe(1), params, kwargs)
        except BaseException as e:
            if not os.environ.get("FRAMEAD_SHOW_INTERNALS"):
                e.__traceback__ = strip_framead_frames(e.__traceback__)
            raise

    def run(frame: Any, params: tuple, kwargs: dict) -> Any:
        rec = active_recorder()
        via = trampoline(frame, solve)
        if rec is None:
            return via(operator.call, solve, params, kwargs)
        x_star = quiet(via, (operator.call, solve, params, kwargs), {})
        x = record_solution(rec, frame, x_star,
                            lambda x: RESIDUALS["res_plain"](residual, x, params),
                            getattr(solve, "__qualname__", "implicit"))
        return x_star if x is None else x

    return solved


solvers.register()  # capture routes the SciPy solvers to their adjoints (capture/calls.py)
