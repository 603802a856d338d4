"""Subclasses that change what an operation does: which traced operations must run the
operand's own Python code (instrumented, so its body is recorded) instead of being recorded
as the base type's operation.

``np.matrix`` makes ``*`` a matrix product, ``np.ma`` masks, a float subclass may scale its
``__mul__``, an ndarray subclass may convert units in ``__array_ufunc__``: recording any of
them as the plain ``multiply`` would be silently wrong. Exact Python and NumPy types never
override anything, so the common case costs one set lookup.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np

# attributes implemented in C: a subclass holding one of these has not overridden anything
_C_ATTRS = (types.WrapperDescriptorType, types.MethodDescriptorType, types.BuiltinFunctionType,
            types.GetSetDescriptorType, types.MemberDescriptorType,
            types.ClassMethodDescriptorType, types.MethodWrapperType, np.ufunc)
_ABSENT = object()
PLAIN_TYPES = frozenset({float, int, complex, bool, np.ndarray, np.flatiter,
                         *(t for t in np.sctypeDict.values() if isinstance(t, type))})
# the eager fallback's Tracers (capture/eager.py): registered in the shadow table, so a rule
# records float(t), math.exp(t) on them, not their own dunders
TRACER_TYPES: set[type] = set()
_BINARY = ("add", "and", "floordiv", "lshift", "matmul", "mul", "mod", "or", "pow", "rshift",
           "sub", "truediv", "xor")  # BINARY_OP's order


def python_attr(t: type, name: str) -> bool:
    """Whether ``t.name`` (found through the MRO) is written in Python: a function, a
    property, a user descriptor, or None (the operation is refused). Absent: False."""
    if t in PLAIN_TYPES:
        return False
    for k in t.__mro__:
        f = k.__dict__.get(name, _ABSENT)
        if f is not _ABSENT:
            return not isinstance(f, _C_ATTRS)
    return False


def overrides_ufuncs(t: type) -> bool:
    """An ndarray subclass (or array-like) whose ``__array_ufunc__`` is Python code."""
    return t not in PLAIN_TYPES and python_attr(t, "__array_ufunc__")


def operator_runs_python(oparg: int, ta: type, tb: type, a: Any = None, b: Any = None
                         ) -> bool:
    """``a <op> b`` (BINARY_OP's oparg) calls Python code of an operand's type: its own
    operator method, or (for ndarray operands) its ``__array_ufunc__``. The right operand's
    reflected method runs first only when its type is a subclass of the left's; otherwise
    only when the left's operator returns NotImplemented (``Plain(2.0) * Scaled(3.0)``: float's
    own C multiplication computes it, and recording it as the product is right)."""
    if ta in PLAIN_TYPES and tb in PLAIN_TYPES:
        return False
    name = _BINARY[oparg % 13]
    if oparg >= 13 and python_attr(ta, f"__i{name}__"):
        return True
    if python_attr(ta, f"__{name}__"):
        return True
    if python_attr(tb, f"__r{name}__") and (
            tb is ta or issubclass(tb, ta) or not _left_computes(ta, tb, name, a, b)):
        return True
    return any(issubclass(t, np.ndarray) and overrides_ufuncs(t) for t in (ta, tb))


_NUMBERS = (float, int, complex)
_ARITHMETIC = frozenset({"add", "sub", "mul", "truediv", "floordiv", "mod", "pow"})


def _left_computes(ta: type, tb: type, name: str, a: Any, b: Any) -> bool:
    """Whether the left operand's own C operator computes ``a <name> b`` (rather than
    returning NotImplemented), for scalar operands whose values C reads without running
    Python code: the left a Python or NumPy number, the right a Python number (subclasses
    included). It is asked by calling that operator (pure C arithmetic); with no values, or
    other operands, the answer is no (Python code may run)."""
    if a is None or name not in _ARITHMETIC or not issubclass(tb, _NUMBERS) or \
            not issubclass(ta, (*_NUMBERS, np.generic)):
        return False
    with np.errstate(all="ignore"):
        try:
            r = getattr(ta, f"__{name}__")(a, b)
        except Exception:  # noqa: BLE001 - it raises natively too: the native call tells
            return True
    return r is not NotImplemented


def unary_runs_python(name: str, t: type) -> bool:
    """``-a``, ``+a``, ``~a`` call Python code of ``a``'s type."""
    return t not in PLAIN_TYPES and (python_attr(t, f"__{name}__") or (
        issubclass(t, np.ndarray) and overrides_ufuncs(t)))


def subclass_arrays(args: tuple, kwargs: dict) -> list[type]:
    """Types of the ndarray-subclass arguments (also inside list/tuple arguments)."""
    found = []
    for a in (*args, *kwargs.values()):
        for x in (a if type(a) in (list, tuple) else (a,)):
            t = type(x)
            if t is not np.ndarray and isinstance(x, np.ndarray):
                found.append(t)
    return found


def defers_to_python(fn: Any, subs: list[type], python_visible: bool) -> bool:
    """A NumPy callable given ndarray subclasses hands the work to their Python code: a
    ufunc to ``__array_ufunc__``, a dispatched function to ``__array_function__``, a NumPy
    function written in Python to the subclass's method of the same name (``np.sum`` calls
    ``np.ma``'s ``sum``). Then the call must run instrumented, not as the rule."""
    if isinstance(fn, np.ufunc) or isinstance(getattr(fn, "__self__", None), np.ufunc):
        return any(overrides_ufuncs(t) for t in subs)
    if hasattr(fn, "_implementation") and any(python_attr(t, "__array_function__")
                                              for t in subs):
        return True
    name = getattr(fn, "__name__", None)
    return python_visible and isinstance(name, str) and any(python_attr(t, name) for t in subs)


def plain(x: Any) -> Any:
    """An ndarray subclass instance as the plain ndarray over the same memory (what the
    reverse pass computes with: np.matrix's ``*`` would be a matrix product there)."""
    if type(x) is not np.ndarray and isinstance(x, np.ndarray):
        return np.ndarray.view(x, np.ndarray)  # not the subclass's own view (np.ma's)
    return x
