"""Transparency cases: small programs that must behave identically natively and under capture.

Each module registers cases with ``@case(*args, **kwargs)`` (stack the decorator for several
argument sets) or ``add(name, func, *args)``. A case is a callable plus its arguments; the
suite runs it natively and inside ``Session()`` and compares return values bit for bit,
exceptions (type, message, chained causes), the traceback entries that fall inside this
package, stdout/stderr, and the arguments after the call (side effects).

Cases must be deterministic and repeatable: reset any module state they touch, and report
frame/line information only for frames inside this package.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CASES_DIR = os.path.dirname(os.path.abspath(__file__))

MODULES = [
    "control_flow",
    "exceptions",
    "tracebacks",
    "functions",
    "functional",
    "comprehensions",
    "generators",
    "async_cases",
    "classes",
    "introspection",
    "numpy_cases",
    "misc",
]


@dataclass
class Case:
    name: str
    func: Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Case({self.name})"


CASES: list[Case] = []
_names: set[str] = set()


def _register(name: str, func: Callable, args: tuple, kwargs: dict) -> None:
    base, n = name, 1
    while name in _names:
        n += 1
        name = f"{base}#{n}"
    _names.add(name)
    CASES.append(Case(name, func, args, kwargs))


def case(*args: Any, **kwargs: Any):
    """Register the decorated function as a case called with ``args``/``kwargs``."""

    def deco(func):
        mod = func.__module__.rsplit(".", 1)[-1]
        _register(f"{mod}.{func.__name__}", func, args, kwargs)
        return func

    return deco


def add(name: str, func: Callable, *args: Any, **kwargs: Any) -> None:
    """Register a callable that is not a plain decorated function (lambda, partial, ...)."""
    _register(name, func, args, kwargs)


def all_cases() -> list[Case]:
    for m in MODULES:
        importlib.import_module(f"{__name__}.{m}")
    return CASES
