"""``ufunc.outer(a, b)`` for every binary ufunc with a rule: it is ``ufunc(A, b)`` with ``A``
``a`` given ``b.ndim`` trailing axes of length 1 (NumPy computes it so), so its derivatives
are the ufunc rule's at those arguments, ``A``'s cotangent summed back to ``a``'s shape.
One rule, the method's (``ufunc.outer`` bound to any ufunc finds it through
``lookup_method(np.ufunc, "outer")``); calls it cannot differentiate (a ufunc without a rule,
not binary, several outputs, or a call its own rule refuses) are refused at capture."""

from __future__ import annotations

from typing import Any

import numpy as np

from .registry import lookup, make_rule, register_method


def _expanded(a: Any, nb: int) -> Any:
    """``a`` with ``nb`` trailing axes of length 1 (a scalar or 0-d as it is: it broadcasts
    alike, and its cotangent keeps its kind)."""
    if np.ndim(a) == 0 or nb == 0:
        return a
    return np.reshape(a, (*np.shape(a), *(1,) * nb))


def _fit(ct: Any, a: Any) -> Any:
    """``A``'s cotangent as ``a``'s (its shape: the trailing axes dropped)."""
    if ct is None or np.ndim(a) == 0:
        return ct
    return np.reshape(ct, np.shape(a))


def outer_vjp(g: Any, ans: Any, ufunc: np.ufunc, a: Any, b: Any, **kwargs: Any) -> tuple:
    rule = lookup(ufunc)
    if rule is None or rule.cut:  # (a cut ufunc: a zero derivative)
        return None, None, None
    ae = _expanded(a, np.ndim(b))
    ca, cb = rule.call_vjp(g, ans, (ae, b), kwargs)
    return None, _fit(ca, a), cb


def outer_jvp(tangents: tuple, ans: Any, ufunc: np.ufunc, a: Any, b: Any, **kwargs: Any) -> Any:
    rule = lookup(ufunc)
    if rule is None or rule.cut:
        return None
    nb = np.ndim(b)
    ta = tangents[1] if len(tangents) > 1 else None
    tb = tangents[2] if len(tangents) > 2 else None
    ta = None if ta is None else _expanded(ta, nb)
    return rule.call_jvp((ta, tb), ans, (_expanded(a, nb), b), kwargs)


_NOT_ELEMENTWISE = ("axes", "axis", "keepdims")


def outer_refuses(args: tuple, kwargs: dict) -> str | None:
    """Why ``ufunc.outer(a, b, **kwargs)`` (``args``: ufunc, a, b) has no derivative here."""
    if len(args) != 3 or not isinstance(args[0], np.ufunc):
        return "ufunc.outer takes a ufunc and two operands"
    ufunc, a, b = args
    name = f"np.{ufunc.__name__}.outer"
    if ufunc.nin != 2 or ufunc.nout != 1:
        return f"{name}: ufunc.outer of a ufunc with {ufunc.nin} inputs and {ufunc.nout} " \
               "outputs has no derivative rule"
    rule = lookup(ufunc)
    if rule is None:
        return f"{name}: np.{ufunc.__name__} has no derivative rule"
    bad = [k for k in kwargs if k in _NOT_ELEMENTWISE]
    if bad:
        return f"{name} with {bad[0]}= has no derivative rule"
    kw = {k: v for k, v in kwargs.items() if k != "out"}
    why = rule.refuses((_expanded(a, np.ndim(b)), b), kw) if rule.refusal else None
    return None if why is None else f"{name}: {why}"


def outer_cut(args: tuple) -> Any:
    """The rule of the ufunc in ``ufunc.outer(a, b)`` (``args``: ufunc, a, b) when it is cut
    (``np.floor_divide``, ``np.heaviside``: a zero derivative): the recorder takes the call
    as that cut, as it takes the plain ``ufunc(a, b)`` (no node; its FA102 note where the
    cut has one); None otherwise."""
    rule = lookup(args[0]) if args and isinstance(args[0], np.ufunc) else None
    return rule if rule is not None and rule.cut else None


OUTER_RULE = make_rule(np.ufunc.outer, vjp=outer_vjp, jvp=outer_jvp, saves=None,
                       nondiff=(0,), argnames=("ufunc", "A", "B"), name="ufunc.outer",
                       refuses=outer_refuses)


def install() -> None:
    register_method(np.ufunc, "outer", OUTER_RULE, replace=True)
