"""A replay's per-node decisions (framead/replay.py), made once per node *shape*: a long trace
repeats a few kinds of node (a loop's ``x * y``, ``c * x`` on floats), and the inline VJP, what
its reverse step reads, the reverse step's formulas and the forward step's kind depend on the
node's shape only. ``node_key`` is that shape, cheaper to make than the decisions: the rule,
the output's and each argument's kind, dtype and shape (and, for the reverse side, the types
of the recorded primals the formulas check), each constant's type (an int's value). Nodes with
keyword arguments, several outputs or other constants (arrays, slices, tuples) get no key and
are decided one by one, as before.

``VERIFY = True`` (tests): every step made from a plan is checked against the one made
directly (a mismatch is noted in ``MISMATCHES``: the cache takes a replay that raised for a
miss)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .ir import Node, Value
from .replay_steps import B_INLINE, F_CV, F_ITEM, F_V, F_VC, F_VV, inline_functions

VERIFY = False
MISMATCHES: list = []  # (VERIFY) each planned step that differed, with the direct one
_PLAIN = frozenset({float, bool, type(None), np.float64})  # constants keyed by type
FWD_KINDS = frozenset({F_VV, F_VC, F_CV, F_V, F_ITEM})  # forward steps a plan remakes


def node_key(node: Node, primals: bool) -> tuple | None:
    """The node's shape (see the module's docstring), or None; ``primals``: with the types
    of the recorded primals (the reverse side's inline formulas check them)."""
    if node.kwargs or node.multi:
        return None
    o = node.outputs[0]
    if o is None:
        return None
    key: list = [id(node.rule), o.kind, o.dtype, o.shape]
    if primals:
        key.append(type(o.primal))
    for a in node.args:
        t = type(a)
        if t is Value:
            key.append((a.kind, a.dtype, a.shape, type(a.primal)) if primals else
                       (a.kind, a.dtype, a.shape))
        elif t in _PLAIN:
            key.append(t)
        elif t is int:
            key.append(a)  # (an int is never a type: pow's exponent decides its formula)
        else:
            return None
    return tuple(key)


class NodeShape:
    """What the nodes of one shape share: ``fwd``, the (kind, fn) of their forward steps (()
    where each is made directly; None: not made yet); ``bwd``, their ``BwdPlan``."""

    __slots__ = ("fwd", "bwd")

    def __init__(self) -> None:
        self.fwd: tuple | None = None
        self.bwd: BwdPlan | None = None


class BwdPlan:
    """The reverse side of one node shape: its inline formulas (``inline_vjp``, None), the
    arguments (indices) and output (``ans``) the reverse step reads, and for inline ones the
    step's functions, C opcode and target argument indices."""

    __slots__ = ("inline", "reads", "ans", "fns", "fa", "fb", "op", "ia", "ib", "rule")

    def __init__(self, node: Node, inline: Any, keyed: bool, opcodes: dict) -> None:
        self.inline = inline
        self.rule = node.rule  # (keeps the id in the key its own)
        self.reads: tuple = ()
        self.ans = False
        if inline is None or not keyed:
            self.fns = None
            return
        fns = self.fns = inline_functions(node, inline)
        a = node.args
        traced = [type(x) is Value for x in a]
        text = " ".join(x for i, x in enumerate(inline) if x is not None and traced[i])
        self.reads = tuple(i for i, t in enumerate(traced) if t and f"{{{i}}}" in text)
        self.ans = "{ans}" in text
        idx = [i for i, x in enumerate(a) if type(x) is Value and i < len(fns) and
               fns[i] is not None]
        self.ia = idx[0]
        self.ib = idx[1] if len(idx) > 1 else -1
        self.fa = fns[self.ia]
        self.fb = fns[self.ib] if self.ib >= 0 else None
        self.op = opcodes.get(node.rule.fn, 0) if node.outputs[0].kind in (float, np.float64) \
            else 0

    def inline_step(self, node: Node) -> tuple:
        """``replay_steps.backward_step`` of an inline node of this shape."""
        a = node.args
        a0 = a[0]
        if type(a0) is Value:
            i0, c0 = a0.id, None
        else:
            i0, c0 = None, a0
        if len(a) < 2:
            i1 = c1 = None
        elif type(a1 := a[1]) is Value:
            i1, c1 = a1.id, None
        else:
            i1, c1 = None, a1
        ib = self.ib
        return (B_INLINE, node.outputs[0].id, i0, c0, i1, c1, a[self.ia].id, self.fa,
                a[ib].id if ib >= 0 else None, self.fb, self.op, self.ia, ib)


def remake_forward(plan: tuple, node: Node, memo: dict, same_constant: Any) -> tuple:
    """The forward step of ``node`` from ``plan``: (kind, fn) of a step of its shape."""
    kind, fn = plan
    a = node.args
    o = node.outputs[0].id
    if kind == F_VV:
        return (F_VV, fn, a[0].id, a[1].id, o)
    if kind == F_VC:
        return (F_VC, fn, a[0].id, a[1], o)
    if kind == F_CV:
        return (F_CV, fn, a[0], a[1].id, o)
    if kind == F_V:
        return (F_V, fn, a[0].id, None, o)
    return (F_ITEM, None, a[0].id, same_constant(memo, a[1]), o)


def verify(planned: Any, direct: Any) -> None:
    """(``VERIFY``) note a planned step that is not the direct one, and raise."""
    if not same_step(planned, direct):
        MISMATCHES.append((planned, direct))
        raise AssertionError(f"a planned replay step differs: {planned} != {direct}")


def same_step(a: Any, b: Any) -> bool:
    """Whether two steps are the same (``VERIFY``): equal parts, functions equal (a
    ``functools.partial`` by its function and arguments)."""
    if type(a) is not tuple or type(b) is not tuple:
        return a == b
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x is y:
            continue
        px, py = getattr(x, "func", None), getattr(y, "func", None)
        if px is not None and py is not None:
            if px is not py or x.args != y.args:
                return False
        elif type(x) is not type(y) or not (x == y):
            return False
    return True
