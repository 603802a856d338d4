"""The SciPy calls capture hands to framead's solver adjoints, in one table.

capture/calls.py routes a call of any callable listed here to its handler (the ``SOLVERS``
hook): ``scipy.optimize``'s root finders and minimizers (framead/scipy_optimize.py),
``scipy.integrate``'s ODE solvers (framead/ode.py) and integrals (framead/quadrature.py), and
the SciPy calls that need more than a rule (framead/scipy_calls.py). The table is empty until
SciPy is imported (framead never imports SciPy itself); capture asks for it again whenever it
rebuilds its flag table.
"""

from __future__ import annotations

import sys
from typing import Any

from . import ode, quadrature, scipy_calls, scipy_optimize
from .capture.calls import register_solvers


def solver_handlers() -> dict[int, tuple[Any, Any]]:
    """``id(solver) -> (solver, handler)`` for capture/calls.py's SOLVERS hook."""
    if "scipy" not in sys.modules:
        return {}
    try:
        import scipy.optimize  # noqa: F401, PLC0415 - optional dependency, imported by the user
    except Exception:  # a broken SciPy must not break every capture
        return {}
    table = scipy_optimize.solver_table()
    try:
        table.extend(ode.solver_table())
        table.extend(quadrature.solver_table())
        table.extend(scipy_calls.solver_table())
    except ImportError:
        pass
    return {id(f): (f, h) for f, h in table}


def register() -> None:
    """Have capture route the solvers here (idempotent)."""
    register_solvers(solver_handlers)
