"""Capture-time refusals: the calls a rule's derivatives cannot handle (``refuses=`` of
``register``; ``Rule.refuses``). Capture runs a refused call natively, as a call with no rule,
and reports FA101 at the user's line, instead of a reverse pass that raises or is wrong.

``refuses`` is a function ``(args, kwargs) -> reason | None`` (``args`` the positional
arguments as the rule sees them, traced keywords made positional), or a table
``{parameter: test}``: the parameter is found by keyword, else by its position in the rule's
``argnames``; a test is a tuple of refused values (strings, numbers, None, or objects by
identity), a predicate of the value (True or a reason string refuses), or ``"given"`` (any
value but None refuses). The predicates below serve the library's tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

GIVEN = "given"


class SeeThrough(str):
    """A reason that asks capture to run the refused call's own Python body instrumented, its
    operations recorded one by one (they have rules), instead of natively with FA101: NumPy's
    ``np.median(a, overwrite_input=True)``, whose in-place ``a.partition`` the rule cannot
    record. Capture refuses as usual where the function has no Python body."""
_ABSENT: Any = object()
_PLAIN = (str, int, float, type(None))  # (bool is an int: compared as a bool only)


def refusal(spec: Any, argnames: tuple | None, owner: str,
            error: type[Exception] = ValueError) -> Callable | None:
    """``spec`` (a function or a table, above) as one function; ``error`` if malformed."""
    if spec is None or callable(spec):
        return spec
    if not isinstance(spec, dict) or not spec:
        raise error(f"rule {owner}: refuses must be a function (args, kwargs) -> reason or "
                    f"None, or a dict {{parameter: test}}, got {spec!r:.80}")
    table = []
    for key, test in spec.items():
        if not (isinstance(test, tuple) or callable(test) or test == GIVEN):
            raise error(f"rule {owner}: refuses[{key!r}] must be a tuple of values, a predicate or "
                             f"'given', got {test!r:.80}")
        pos = argnames.index(key) if argnames and key in argnames else None
        table.append((key, pos, test))

    def refuses(args: tuple, kwargs: dict) -> str | None:
        for key, pos, test in table:
            v = args[pos] if pos is not None and pos < len(args) else kwargs.get(key, _ABSENT)
            if v is _ABSENT:
                continue
            if isinstance(test, tuple):
                hit = any(v is t or (isinstance(v, _PLAIN) and isinstance(t, _PLAIN) and
                                     (type(v) is bool) == (type(t) is bool) and v == t)
                          for t in test)
            else:
                hit = v is not None if isinstance(test, str) else test(v)
            if hit:
                if isinstance(hit, str):
                    return hit
                what = f"{v!r:.60}" if isinstance(v, _PLAIN) else \
                    getattr(v, "__name__", type(v).__name__)
                return f"{owner} with {key}={what} has no derivative rule"
        return None

    return refuses


def is_complex(x: Any) -> bool:
    """A complex array, scalar or dtype (``dtype=complex``)."""
    if isinstance(x, type | np.dtype | str):
        try:
            return np.dtype(x).kind == "c"
        except TypeError:
            return False
    return np.iscomplexobj(x)


def not_square(x: Any) -> bool:
    """A matrix (or a stack) whose last two dimensions differ."""
    shape = np.shape(x)
    return len(shape) >= 2 and shape[-1] != shape[-2]
