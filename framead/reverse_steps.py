"""The steps of the reverse pass's step loop (framead/reverse.py ``_run_steps``): what a
node's step does (``_Step``), decided by ``_make_step``.

What a step does depends on the node's *kind* only: its rule, which arguments are traced
and their shapes, dtypes and kinds, the types of the primals its formulas read, its saves,
whether it has keyword arguments, and the structure of a constant index. Array programs
repeat a few kinds thousands of times (``u[1:-1] = u[1:-1] + c * ...`` in a time loop), so
the analysis (``inline_callables``, ``fused_kind``, ``vjp_parts``) runs once per kind and is
kept in a small memo keyed on those descriptors (``_kind``: rule objects, shapes, dtypes
and types, never arrays); each node's step is then filled in from the decision with the
node's own ids, primals, keys and Metas. The memo is bounded, and emptied when the set of
framead's own rules changes (``library_rule_ids``: a library module installed more).

No cotangent arithmetic happens here (it runs in framead/reverse.py, which an outer capture
records): steps only hold the node's primals, Metas, ids and VJPs.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from . import reverse_inline
from .capture.primitive_rules import VIEW_UPDATE_RULE
from .ir import Node, Value, primal_tree, values_in
from .ir import unflatten_tree as _unflatten
from .reverse_inline import inline_callables
from .reverse_source import fused_kind, fused_rules, ids_tree, out_metas, real_from_complex
from .rules.primitives import is_basic_key

MEMO_LIMIT = 4096  # kinds kept (a program has tens; emptied when full)

# a step's action (``_Step.fused``): the inline formulas, the fused accumulators, or (None)
# the rule's VJP
INLINE, GETITEM, SETITEM = "inline", "getitem", "setitem"


class _Step:
    """One node of the reverse pass, ready to run without generated code: the rule's VJP
    (``fused`` None) with the node's own primals, Metas and ids; or, shared by every node of
    a kind, the inline formulas (``fused`` INLINE, ``parts`` (the formula of each argument,
    the argnums that get one)) or a fused accumulator (GETITEM, SETITEM), which read the
    node's ids, primals and key from the node itself."""

    __slots__ = ("node", "outs", "metas", "treedef", "ans", "args", "kw", "joint", "parts",
                 "fused")
    node: Node | None
    outs: Any
    metas: Any
    treedef: Any
    ans: Any
    args: Any
    kw: Any
    joint: Any
    parts: Any
    fused: Any


def _multi_step(node: Node, check: bool) -> _Step:
    """The step of a node with several outputs (its rule's VJP)."""
    st = _Step()
    st.node = node
    st.fused = None
    st.outs = tuple(o.id if o is not None else None for o in node.outputs)
    st.metas = out_metas(node)
    st.treedef = node.out_treedef[0]
    if "ans" in node.saved:
        leaves = node.out_treedef[1]
        st.ans = _unflatten(st.treedef, tuple(o.primal if o is not None else leaf
                                              for o, leaf in zip(node.outputs, leaves,
                                                                 strict=True)))
    else:
        st.ans = None
    saved = node.saved
    st.args = tuple(
        (a.primal if i in saved else a.meta()) if type(a) is Value
        else primal_tree(a, i in saved) if type(a) in (list, tuple) else a
        for i, a in enumerate(node.args))
    st.kw = node.kwargs
    vjp = node.rule.vjp
    st.joint = vjp if callable(vjp) else None
    st.parts = vjp_parts(node, check)
    return st


def vjp_parts(node: Node, check: bool, meta: Callable[[Value], Any] = Value.meta) -> tuple:
    """One entry per traced argument of ``node`` that gets a cotangent: (argnum, its VJP
    (None: the joint VJP's entry), the target (a value id, or the ids of a container
    argument), the Meta to unbroadcast to (or None), the Meta a user rule's cotangent is
    checked against (or None)). The step loop's and the replay steps' common part;
    ``meta(value)`` makes the Metas (a replay's are shared)."""
    vjp = node.rule.vjp
    joint = callable(vjp)
    out_shape = None if node.multi else node.outputs[0].shape
    parts = []
    for i, a in enumerate(node.args):
        if type(a) is not Value and (type(a) not in (list, tuple) or
                                     not any(True for _ in values_in(a))):
            continue
        fn = None
        if not joint:
            fn = vjp[i] if i < len(vjp) else None
            if fn is None:
                continue
        if isinstance(a, Value):
            unb = meta(a) if (getattr(node.rule, "elementwise", False) and
                              a.shape != out_shape) or real_from_complex(node, a) else None
            parts.append((i, fn, a.id, unb, meta(a) if check else None))
        else:
            parts.append((i, fn, ids_tree(a), None, None))
    return tuple(parts)


# --- the memo of decisions by node kind -----------------------------------------------------
_memo: dict = {}
_memo_library: list = [None]  # the library_rule_ids() the memo's decisions were made under
_rule_info: dict = {}  # id(rule) -> (rule, is a fused rule, its fn is operator.pow, id)


def _info(rule: Any) -> tuple:
    """Rules go by identity (the entry holds the rule, so its id stays its own)."""
    info = _rule_info.get(id(rule))
    if info is None or info[0] is not rule:
        setitem, getitem = fused_rules()
        if len(_rule_info) >= MEMO_LIMIT:
            _rule_info.clear()
        info = _rule_info[id(rule)] = (rule, rule is setitem or rule is getitem,
                                       getattr(rule, "fn", None) is operator.pow, id(rule))
    return info


def _kind(node: Node, check: bool) -> tuple:
    """The descriptors a single-output node's decision (``_decide``) depends on: the rule
    (by id), ``check``, the saves, whether there are keyword arguments, the output's and
    each traced argument's shape, dtype, kind and primal type, and each constant's type
    (an array's: and dtype; a container's: whether it holds Values; a fused rule's index:
    whether it is a basic key; an int exponent of ``**``: its value; a view_update's recipe:
    its kind, and for a view ``a[key]`` the key's descriptor)."""
    rule = node.rule
    info = _rule_info.get(id(rule))
    if info is None or info[0] is not rule:
        info = _info(rule)
    out = node.outputs[0]
    key = [info[3], check, node.saved, not node.kwargs, out.shape, out.dtype, out.kind,
           type(out.primal)]
    if not info[1] and not info[2]:  # (neither an index nor an exponent to look at)
        for a in node.args:
            t = type(a)
            if t is Value:
                key.append((a.shape, a.dtype, a.kind, type(a.primal)))
            elif t is np.ndarray:  # (a float64 constant array may be an inline formula's)
                key.append((t, a.dtype))
            else:
                key.append(t if t is not list and t is not tuple else _const(a, False))
    else:
        for i, a in enumerate(node.args):
            t = type(a)
            if t is Value:
                key.append((a.shape, a.dtype, a.kind, type(a.primal)))
            elif t is slice or t is float:
                key.append(t)
            else:
                key.append(_const(a, info[1] and i == 1, info[2]))
    if rule is VIEW_UPDATE_RULE:  # (a view a[key]'s is a fused setitem: fused_kind)
        r = node.args[2]
        key.append((r[0], _const(r[1], True)) if type(r) is tuple and len(r) == 2 and
                   type(r[0]) is str else type(r))
    return tuple(key)


def _const(a: Any, index: bool, exponent: bool = False) -> Any:
    """A constant argument's descriptor. (A fused rule's index that is no container is basic
    or not by its type alone: ``is_basic_key``.)"""
    t = type(a)
    if t is list or t is tuple:
        hv = any(True for _ in values_in(a))
        return (t, hv, index and not hv and is_basic_key(a))
    if exponent and t is int:
        return (a,)
    return t


def _decide(node: Node, check: bool) -> tuple:
    """What a single-output ``node``'s step does, in terms that hold for its whole kind:
    (INLINE, GETITEM or SETITEM, the kind's shared step, the rule) or (None, whether the VJP
    reads the output, how each argument is passed, the joint VJP, one (argnum, VJP, whether
    a Value, unbroadcast, check) per argument that gets a cotangent, the rule). The rule is
    held so that the id in the memo's key stays its own."""
    fns = inline_callables(node)
    how = INLINE if fns is not None else fused_kind(node)
    if how is not None:
        st = _Step()
        st.node = st.outs = st.metas = None
        st.fused = how
        st.parts = (fns, tuple(i for i, a in enumerate(node.args) if type(a) is Value and
                               i < len(fns) and fns[i] is not None)) if fns is not None else ()
        return (how, st, node.rule)
    saved = node.saved
    modes = tuple((1 if i in saved else 2) if type(a) is Value
                  else (3 if i in saved else 4) if type(a) in (list, tuple) else 0
                  for i, a in enumerate(node.args))
    vjp = node.rule.vjp
    parts = tuple((i, fn, type(node.args[i]) is Value, unb is not None, chk is not None)
                  for i, fn, _tgt, unb, chk in vjp_parts(node, check))
    return (None, "ans" in saved, modes, vjp if callable(vjp) else None, parts, node.rule)


def _make_step(node: Node, check: bool) -> _Step:
    """``node``'s step, from the decision for its kind (the memo's, made once)."""
    if node.multi:
        return _multi_step(node, check)
    if _memo_library[0] is not reverse_inline._library_ids[1]:
        _memo.clear()
        _memo_library[0] = reverse_inline._library_ids[1]
    try:
        key = _kind(node, check)
        d = _memo.get(key)
    except TypeError:  # an unhashable descriptor: no memo for this node
        d = _decide(node, check)
    else:
        if d is None:
            if len(_memo) >= MEMO_LIMIT:
                _memo.clear()
            d = _memo[key] = _decide(node, check)
    if d[0] is not None:
        return d[1]
    _, ans_saved, modes, joint, specs, _rule = d
    args = node.args
    out = node.outputs[0]
    st = _Step()
    st.node = node
    st.fused, st.outs, st.metas, st.treedef = None, out.id, None, None
    st.ans = out.primal if ans_saved else out.meta()
    st.args = tuple(a if m == 0 else a.primal if m == 1 else a.meta() if m == 2
                    else primal_tree(a, m == 3) for a, m in zip(args, modes, strict=True))
    st.kw = node.kwargs
    st.joint = joint
    st.parts = tuple((i, fn, args[i].id, args[i].meta() if unb else None,
                      args[i].meta() if chk else None) if is_value
                     else (i, fn, ids_tree(args[i]), None, None)
                     for i, fn, is_value, unb, chk in specs)
    return st
