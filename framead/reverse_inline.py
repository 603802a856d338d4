"""Inline scalar VJPs: for real scalar (or same-shape array) nodes of the commonest rules,
their derivatives written out as expressions, so a replayed reverse pass (framead/replay.py)
makes no call per node and the step loop (framead/reverse.py) one small call. The formulas
are the rule tables' (rules/builtin_rules.py, rules/math_rules.py), in the operation order
the replays have always used."""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from . import rules
from .capture.primitive_rules import COPY_RULE, GATHER_RULE, SETITEM_RULE, VIEW_UPDATE_RULE
from .ir import Node, Value
from .rules.families import no_cotangent_no_nan

_SCALAR_KINDS = (float, np.float64)

# rule callable -> one expression per argument ({0}, {1}: the arguments, {ans}: the output)
_INLINE: dict[Any, tuple[str, ...]] = {
    operator.add: ("g", "g"), operator.sub: ("g", "-g"),
    operator.mul: ("g * {1}", "g * {0}"),
    operator.truediv: ("_nz(g / {1}, g)", "_nz(-g * {ans} / {1}, g)"),  # (as the rule: 0 / 0)
    operator.neg: ("-g",), operator.pos: ("g",),
    math.sin: ("g * _mcos({0})",), math.cos: ("-g * _msin({0})",),
    math.exp: ("g * {ans}",),
}
# the functions the formulas call, by the names they use (also the generated source's)
FORMULA_NAMES: dict[str, Any] = {"_mcos": math.cos, "_msin": math.sin,
                                 "_nz": no_cotangent_no_nan}
_INLINE_FNS: dict[str, Any] = {}
# (library_rules() when computed, the ids): replaced whole, never mutated (threads share it)
_library_ids: tuple = (None, frozenset())


def library_rule_ids() -> frozenset[int]:
    """Rules framead ships, its internal primitives included: their cotangent shapes are
    trusted (only user rules get checked), and only their inline formulas are used (a rule
    registered in place of one keeps its own VJP). Computed again only when a library module
    installs more rules (an optional package imported later)."""
    global _library_ids
    shipped = rules.library_rules()
    known = _library_ids
    if known[0] is not shipped:
        known = _library_ids = (shipped, frozenset({id(r) for r in shipped} | {
            id(r) for r in (SETITEM_RULE, VIEW_UPDATE_RULE, GATHER_RULE, COPY_RULE)}))
    return known[1]


def inline_callables(node: Node) -> list | None:
    """The inline VJP formulas of ``node`` as functions ``(g, x0, x1, ans) -> cotangent``
    (the step loop's counterpart of the generated expressions)."""
    forms = inline_vjp(node)
    if forms is None:
        return None
    out = []
    for f in forms:
        if f is None:
            out.append(None)
            continue
        fn = _INLINE_FNS.get(f)
        if fn is None:
            src = f.replace("{0}", "x0").replace("{1}", "x1").replace("{ans}", "ans")
            fn = _INLINE_FNS[f] = eval(f"lambda g, x0, x1, ans: {src}",  # noqa: S307
                                       dict(FORMULA_NAMES))
        out.append(fn)
    return out


def inline_vjp(node: Node) -> list[str] | None:
    """Expressions (with {0}, {1}, {ans} placeholders) for each traced argument's cotangent
    (None for a constant argument), or None when ``node`` is not a real-scalar node of an
    inlined rule (framead's own: not a rule registered in its place), or a primal a formula
    reads is missing (not saved: ``c * x`` keeps no ``x``, and needs none) or of a float
    subclass (the formula would compute with its operators: a ``*`` that scales)."""
    forms = _forms(node)
    if forms is None:
        return None
    forms = [f if i < len(node.args) and isinstance(node.args[i], Value) else None
             for i, f in enumerate(forms)]
    out = node.outputs[0]
    for k, arg in ((0, "{0}"), (1, "{1}"), (None, "{ans}")):
        if any(f is not None and arg in f for f in forms):
            v = out if k is None else node.args[k] if k < len(node.args) else None
            x = v.primal if isinstance(v, Value) else v
            if not isinstance(x, np.ndarray) and type(x) not in _PLAIN_SCALARS:
                return None
    return forms


_PLAIN_SCALARS = (float, int, np.float64)


def _forms(node: Node) -> list[str] | None:
    out = node.outputs[0] if not node.multi else None
    if out is None or node.kwargs or getattr(out.dtype, "kind", "") != "f" or (
            out.kind not in _SCALAR_KINDS and out.kind is not np.ndarray):
        return None
    if id(node.rule) not in library_rule_ids():  # (a rule registered in its place: its own)
        return None
    fn = getattr(node.rule, "fn", None)
    for a in node.args:  # same shape and dtype as the output: no broadcasting to undo
        if isinstance(a, Value):
            if a.shape != out.shape or a.dtype != out.dtype or (
                    a.kind not in _SCALAR_KINDS and a.kind is not np.ndarray):
                return None
        elif type(a) not in (float, int) and not isinstance(a, np.float64) and not (
                type(a) is np.ndarray and a.dtype == np.float64 and out.kind is np.ndarray):
            return None  # (a float64 constant array broadcasts to the traced arguments' shape)
    if out.kind is np.ndarray and fn in (math.sin, math.cos, math.exp):
        return None
    if fn is operator.pow and len(node.args) == 2 and not isinstance(node.args[1], Value) \
            and type(node.args[1]) is int and node.args[1] > 0:
        c = node.args[1]  # (as the rule: no cotangent, no NaN from 0 * inf)
        return ["g" if c == 1 else "_nz(g * 2 * {0}, g)" if c == 2 else
                f"_nz(g * {c} * {{0}} ** {c - 1}, g)", None]
    try:
        return list(_INLINE.get(fn)) if fn in _INLINE else None
    except TypeError:  # unhashable callable
        return None
