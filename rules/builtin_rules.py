"""Rules for Python's operators (``operator.*``: what the recorder uses for BINARY_OP,
UNARY_*, COMPARE_OP and BINARY_SUBSCR) and for builtins.

The same formulas serve floats and arrays, so one rule covers ``x * y`` for both; they are
elementwise (the reverse pass unbroadcasts). In-place operators (``a += b``) have the rules
of their out-of-place twins plus ``mutates=(0,)``/``aliases={0: 0}``: for an ndarray
``args[0]`` is the value *before* the write (copy-on-write keeps it when saved), ``ans`` the
value after. ``builtins.sum`` is called with the materialised items: ``(items_list, start)``.
"""

from __future__ import annotations

import builtins
import operator

import numpy as np

from .families import QUOTIENT_DY, cotangent_dtype, defbinary, defcut, deflinear, defunary
from .formulas import abs_dx, abs_jvp, pow_dx, pow_dy
from .numpy_array_rules import cast_back, cast_vjp
from .numpy_rules import DIVMOD, ROUND_HAZARD
from .primitives import is_basic_key
from .product_rules import MATMUL
from .registry import register
from .shapes import add_tangents, is_inexact, meta_of, unbroadcast

_POW = (lambda x, y: pow_dx(x, y), lambda ans, x, y: pow_dy(x, y, ans))
_MOD = (1, lambda x, y: -(x // y))

# (function, in-place twin, d/dx, d/dy)
BINARY = [
    (operator.add, operator.iadd, 1, 1),
    (operator.sub, operator.isub, 1, -1),
    (operator.mul, operator.imul, "y", "x"),
    (operator.truediv, operator.itruediv, lambda y: 1 / y, QUOTIENT_DY),
    (operator.pow, operator.ipow, *_POW),
    (operator.mod, operator.imod, *_MOD),
]

UNARY = [(operator.neg, -1), (operator.pos, 1)]

# piecewise constant or boolean valued (bool() itself is structural: capture's business)
CUTS = [operator.floordiv, operator.ifloordiv, operator.lt, operator.le, operator.eq,
        operator.ne, operator.ge, operator.gt, operator.not_, operator.truth, operator.and_,
        operator.or_, operator.xor, operator.iand, operator.ior, operator.ixor,
        operator.lshift, operator.rshift, operator.ilshift, operator.irshift, operator.inv,
        operator.invert]

HAZARDS = [
    (builtins.int, "int() of a traced value has zero derivative: the gradient stops here"),
    (builtins.round, ROUND_HAZARD),  # as np.round / np.around (numpy_rules.ROUNDS)
]


def getitem_vjp(g, ans, x, key):
    """Scatter: zeros, then assignment (basic keys) or np.add.at (repeats possible)."""
    m = meta_of(x)
    dt = cotangent_dtype(m.dtype)  # (float16: float32, and a Python-float g does not narrow)
    out = np.zeros(m.shape, np.result_type(dt, getattr(g, "dtype", dt)))
    if is_basic_key(key):
        out[key] = g
    else:
        np.add.at(out, key, g)
    return out


def _sum_items_vjp(g, ans, items, start=0):
    return [unbroadcast(g, x) if is_inexact(x) else None for x in items]


def _sum_start_vjp(g, ans, items, start=0):
    return unbroadcast(g, start) if is_inexact(start) else None


def _sum_jvp(tangents, ans, items, start=0):
    ts = list(tangents[0] or ())
    return add_tangents(ts + [tangents[1] if len(tangents) > 1 else None])


def _cast(g, x):
    m = meta_of(x)
    return cast_back(unbroadcast(g, m), m)


def _complex_jvp(tangents, ans, real=0, imag=0):
    tr, ti = (tuple(tangents) + (None, None))[:2]
    return add_tangents((tr, None if ti is None else 1j * ti))


def _abs(fn):
    return register(fn, vjp=(lambda g, ans, x: g * abs_dx(x),), jvp=(abs_jvp,),
                    saves={0: (0,)}, elementwise=True)


def install() -> None:
    for fn, ifn, dx, dy in BINARY:
        defbinary(fn, dx, dy)
        defbinary(ifn, dx, dy, mutates=(0,), aliases={0: 0})
    for fn, d in UNARY:
        defunary(fn, d)
    for fn in CUTS:
        defcut(fn)
    for fn, why in HAZARDS:
        defcut(fn, hazard=why, argnames=("x",) if fn is builtins.int else None)
    register(operator.matmul, **MATMUL)
    register(operator.imatmul, **MATMUL, mutates=(0,), aliases={0: 0})
    deflinear(operator.getitem, getitem_vjp, saves={0: (1,)}, aliases={0: 0})
    _abs(operator.abs)
    _abs(builtins.abs)
    defbinary(builtins.pow, *_POW, nondiff=(2,))
    register(builtins.divmod, **DIVMOD)
    register(builtins.sum, vjp=(_sum_items_vjp, _sum_start_vjp), jvp=_sum_jvp,
             saves={0: (), 1: ()}, containers=(0,), name="builtins.sum")
    deflinear(builtins.float, cast_vjp, name="builtins.float")
    register(builtins.complex, vjp=(lambda g, ans, real=0, imag=0: _cast(g, real),
                                    lambda g, ans, real=0, imag=0: _cast(1j * g, imag)),
             jvp=_complex_jvp, saves={0: (), 1: ()}, name="builtins.complex")
