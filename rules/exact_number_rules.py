"""Conversions of floats to exact numbers (``decimal.Decimal``, ``fractions.Fraction``, their
``from_float`` and ``float.as_integer_ratio``) are cuts: the result is a constant, reported as
FA102 (like ``int()``/``round()``) at the user's line. Installed once ``decimal`` or
``fractions`` has been imported."""

from __future__ import annotations

import decimal
import fractions

import numpy as np

from .registry import iter_methods, lookup, make_rule, register, register_method


def _why(name: str) -> str:
    return (f"{name} of a traced value is an exact number framead does not differentiate; "
            "the gradient through it is cut (use float arithmetic to keep it)")


def _from_float(cls, x):
    return cls.from_float(x)


def _as_integer_ratio(x):
    return x.as_integer_ratio()


def _registered() -> set:
    return {(cls, name) for cls, name, _ in iter_methods()}


def install() -> None:
    """Register every rule whose function has none yet (a user's own rule wins)."""
    for cls, name in ((decimal.Decimal, "decimal.Decimal"),
                      (fractions.Fraction, "fractions.Fraction")):
        if lookup(cls) is None:
            register(cls, cut=True, hazard=_why(name), name=name, argnames=None)
    have = _registered()
    if (decimal.Decimal, "from_float") not in have:  # a classmethod: called as (cls, x)
        register_method(decimal.Decimal, "from_float", make_rule(
            _from_float, cut=True, hazard=_why("Decimal.from_float"), name="Decimal.from_float"))
    ratio = make_rule(_as_integer_ratio, cut=True, hazard=_why("as_integer_ratio"),
                      name="float.as_integer_ratio")
    for cls in (float, np.float16, np.float32, np.float64, np.longdouble):
        if (cls, "as_integer_ratio") not in have and hasattr(cls, "as_integer_ratio"):
            register_method(cls, "as_integer_ratio", ratio)
