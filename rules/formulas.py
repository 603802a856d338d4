"""Derivative formulas several rule modules share (``math``, ``operator``, NumPy, norms):
``x ** y`` in each argument, the direction of ``|x|``, and a division that behaves like
NumPy's on Python floats."""

from __future__ import annotations

import cmath
import math
from typing import Any

import numpy as np


def pow_dx(x: Any, y: Any) -> Any:
    """d(x**y)/dx = y * x**(y-1): zero where y == 0, y*inf (not an exception) at x == 0.
    The formula is kept where y == 0 (0 * x**-1; only x == 0 == y is substituted) so that
    its own derivative in y, 1/x there, survives for second derivatives."""
    if isinstance(y, np.ndarray) or (isinstance(x, np.ndarray) and y == 0):  # (x ** 0)
        both = (np.asarray(y) == 0) & (np.asarray(x) == 0)
        return y * np.where(both, 1, x) ** (y - 1) if both.any() else y * x ** (y - 1)
    if y == 0 and x == 0:
        return 0 * x
    if isinstance(x, np.ndarray | np.generic):
        return y * x ** (y - 1)
    try:
        return y * x ** (y - 1)
    except ZeroDivisionError:
        return y * math.inf


def pow_dy(x: Any, y: Any, ans: Any) -> Any:
    """d(x**y)/dy = x**y * log(x): zero at x == 0 (JAX's choice) and for real x < 0
    (TensorFlow's): there x**y is real only at integer y, so no derivative along y exists,
    and a nan would poison gradients where y does not vary (``x ** (a / a)``)."""
    if isinstance(x, np.ndarray) or isinstance(ans, np.ndarray):
        cplx = np.iscomplexobj(x) or np.iscomplexobj(ans)
        zero = np.equal(x, 0) if cplx else np.less_equal(x, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(zero, 0 * ans, ans * np.log(np.where(zero, 1, x)))
    if x == 0:
        return 0 * ans
    if isinstance(x, complex) or isinstance(ans, complex):
        return ans * cmath.log(x)
    return ans * math.log(x) if x > 0 else 0 * ans


def abs_dx(x: Any) -> Any:
    """Direction of d|x|: sign(x) for reals, conj(x)/|x| for complex (0 at 0)."""
    if isinstance(x, float):
        return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)
    if isinstance(x, complex):
        a = abs(x)
        # a != 0, not `if a`: derivative code decides by comparisons (rules/registry.py)
        return np.conj(x) / a if a != 0 else 0j  # np.conj, not .conjugate(): it has a rule
    if np.iscomplexobj(x):
        a = np.abs(x)
        return np.conj(x) / np.where(a == 0, 1, a)
    return np.sign(x)


def abs_jvp(t: Any, ans: Any, x: Any, *args: Any, **kw: Any) -> Any:
    d = abs_dx(x)
    return np.real(d * t) if np.iscomplexobj(d) else d * t


def sdiv(a: Any, b: Any) -> Any:
    """``a / b`` that gives inf/nan instead of raising for Python floats (like NumPy)."""
    try:
        return a / b
    except ZeroDivisionError:
        return math.copysign(math.inf, a) if a != 0 else math.nan
