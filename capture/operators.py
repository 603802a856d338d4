"""Python's operators in the order of their opcodes' arguments (BINARY_OP, COMPARE_OP) and
the dunder names that call them."""

from __future__ import annotations

import builtins
import operator

# BINARY_OP's oparg: 0-12 the operators, 13-25 their in-place forms
BINARY_NAMES = ("add", "and_", "floordiv", "lshift", "matmul", "mul", "mod", "or_", "pow",
                "rshift", "sub", "truediv", "xor")
FUNC_OPS = tuple(getattr(operator, n) for n in BINARY_NAMES)
INPLACE_OPS = tuple(getattr(operator, f"i{n.rstrip('_')}") for n in BINARY_NAMES)
COMPARE_OPS = (operator.lt, operator.le, operator.eq, operator.ne, operator.gt, operator.ge)
UNARY_OPS = {"neg": operator.neg, "pos": operator.pos, "invert": operator.invert}

# x.__add__(y) is BINARY_OP add (oparg, reflected); x.__neg__() is operator.neg...
SLOT_BINARY = {
    **{f"__{n.rstrip('_')}__": (k, False) for k, n in enumerate(BINARY_NAMES)},
    **{f"__r{n.rstrip('_')}__": (k, True) for k, n in enumerate(BINARY_NAMES)},
    **{f"__i{n.rstrip('_')}__": (13 + k, False) for k, n in enumerate(BINARY_NAMES)},
}
SLOT_UNARY = {"__neg__": operator.neg, "__pos__": operator.pos, "__abs__": builtins.abs,
              "__float__": builtins.float, "__complex__": builtins.complex}
