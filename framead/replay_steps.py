"""The step loop of long replays (framead/replay.py): a replay's forward and reverse passes as
lists of small tuples run by two loops, instead of generated Python source.

Compiling Python costs 15-60 us a line, several times what recording the line cost, so a long
trace's first cache hit would cost many first calls. The steps here are made in one pass over
the nodes (a few us each) and take the same actions, in the same order, as the lines
framead/replay.py and framead/reverse_source.py ``node_block(env=True)`` generate, so values
and gradients are identical. An exception raised by a step gets a note naming the user's line
it replays (generated lines carry that as a comment).

Values live in the env list ``e`` as in the generated code; traced leaves of container
arguments are ``Ref`` placeholders (a step never holds a ``Value``, so never a recorded
primal). So are the constants that are a static argument's bytes (replay_graph.``Statics``):
each call puts its own argument in their env slot.

The plain scalar work of both loops runs in C when the extension is built
(capture/_scalar_tape.c ``replay_forward`` / ``replay_backward``): forward steps of operators
and math functions on floats and np.float64 scalars, env frees, constants and items, and the
inline-formula reverse steps (B_INLINE) of real scalars, computed as the Python steps compute
them, bit for bit and with the same types; C hands each step it cannot reproduce exactly
(other types, zero divisors, non-finite values, anything that may raise or warn) back to the
Python step. Never under an outer capture (``current_recorder()``), which must record the
steps' arithmetic. ``SCALAR_C = False`` (or FRAMEAD_REPLAY_C=0) turns it off.
"""

from __future__ import annotations

import math
import operator
import os
from typing import Any

import numpy as np

from .capture.session import current_recorder
from .ir import Node, Value, flatten_tree
from .replay_cnodes import Shadows, c_loop
from .replay_graph import Miss, Statics
from .replay_memo import (
    has_value,
    same_array,
    same_constant,
    shape_of,
    shared,
    shared_kwargs,
    shared_meta,
)
from .reverse import _INLINE_OPCODES, RUNTIME, _array_ops, _scalar_tape, vjp_parts
from .reverse_inline import inline_callables
from .reverse_source import Emitter, fused_kind, out_metas, setitem_parts

_acc_getitem = RUNTIME["_acc_getitem"]
_acc_setitem = RUNTIME["_acc_setitem"]
_acc_tree = RUNTIME["_acc_tree"]
_unb = RUNTIME["_unb"]
_fill = RUNTIME["_fill"]
_cts = RUNTIME["_cts"]
_check = RUNTIME["_check"]
_unflatten = RUNTIME["_unflatten"]

# forward step kinds: (kind, fn, a, b, o)
F_VV, F_VC, F_CV, F_V, F_CONST, F_CALL, F_FREE, F_ITEM = range(8)
# reverse step kinds (tuples); a step that calls the rule's VJP(s) is a _Call
B_INLINE, B_GETITEM, B_SETITEM = range(3)


_inline_fns: dict[tuple, list] = {}  # inline formulas -> their functions

# the C loops (capture/_scalar_tape.c); FRAMEAD_REPLAY_C=0 or SCALAR_C = False: Python only
_c_fwd: Any = getattr(_scalar_tape, "replay_forward", None)
_c_bwd: Any = getattr(_scalar_tape, "replay_backward", None)
SCALAR_C = _c_fwd is not None and os.environ.get("FRAMEAD_REPLAY_C", "") != "0"
# forward callables the C loop computes (its FO_* opcodes)
_FWD_OPS: dict[Any, int] = {
    operator.add: 1, operator.sub: 2, operator.mul: 3, operator.truediv: 4,
    operator.iadd: 1, operator.isub: 2, operator.imul: 3, operator.itruediv: 4,
    operator.neg: 5, operator.pos: 6, operator.pow: 7, operator.ipow: 7,
    math.sin: 20, math.cos: 21, math.tan: 22, math.exp: 23, math.sqrt: 24, math.log: 25,
    math.tanh: 26, math.sinh: 27, math.cosh: 28, math.atan: 29, math.log2: 30,
    math.log10: 31}


def _use_c() -> bool:
    """Whether the C loops may run now: built, switched on, and no capture records this
    thread (it must see each step's arithmetic: grad of a cached function, hessian)."""
    return SCALAR_C and current_recorder() is None


class Ref:
    """A traced leaf of a container argument: the value with id ``id`` of the env."""

    __slots__ = ("id",)

    def __init__(self, id: int) -> None:
        self.id = id


def template(tree: Any, statics: Statics | None = None) -> Any:
    """``tree`` (an argument) with its Values (and the arrays ``statics`` reads from the env)
    replaced by ``Ref`` placeholders."""
    if type(tree) is Value:
        return Ref(tree.id)
    if type(tree) in (list, tuple):
        return type(tree)(template(x, statics) for x in tree)
    if statics is not None and (slot := statics.slot(tree)) is not None:
        return Ref(slot)
    return tree


def fill(e: list, t: Any) -> Any:
    """A ``template`` with the env's values put in."""
    if type(t) is Ref:
        return e[t.id]
    if type(t) in (list, tuple):
        return type(t)(fill(e, x) for x in t)
    return t


def arg_spec(a: Any, memo: dict | None = None,
             statics: Statics | None = None) -> tuple[int, Any]:
    """How a step gets an argument: (0, constant), (1, value id or env slot) or (2, template).
    ``memo``: the replay's parts made so far, so equal (1, id) and (0, constant) pairs are one
    object (the step lists hold tens of thousands); ``statics``: the constants read from env
    slots."""
    if type(a) is Value:
        return (1, a.id) if memo is None else shared(memo, (1, a.id))
    if type(a) in (list, tuple) and (has_value(a) or (statics is not None and
                                                       statics.holds(a))):
        return 2, template(a, statics)
    if statics is not None and (slot := statics.slot(a)) is not None:
        return (1, slot) if memo is None else shared(memo, (1, slot))
    if memo is None:
        return 0, a
    a = same_constant(memo, a)
    got = memo.get(("c", id(a)))  # (by identity: the pair holds the constant alive)
    if got is None:
        got = memo[("c", id(a))] = (0, a)
    return got


def args_of(e: list, spec: tuple) -> list:
    return [x if k == 0 else e[x] if k == 1 else fill(e, x) for k, x in spec]


def kwargs_of(e: list, spec: dict) -> dict:
    return {name: x if k == 0 else e[x] if k == 1 else fill(e, x)
            for name, (k, x) in spec.items()}


# ------------------------------------------------------------------ forward
def run_forward(steps: list, where: list, e: list,
                miss: type[BaseException]) -> None:
    """Run forward steps on the env ``e`` (``where``: each step's (rule, location), for
    error notes, or None; ``miss``: the guard-failure exception, let through without a
    note)."""
    if _use_c():
        _run_forward_c(steps, where, e, miss)
        return
    k = -1
    try:
        for k, st in enumerate(steps):  # noqa: B007 - read on error
            _forward_one(st, e)
    except miss:
        raise
    except Exception as err:
        _note(err, where, k, "replaying")
        raise


def _run_forward_c(steps: list, where: list, e: list,
                   miss: type[BaseException]) -> None:
    """``run_forward`` with runs of plain steps done in C, the others here."""
    crun, ops = _c_fwd, _FWD_OPS
    k, n, j = 0, len(steps), -1
    try:
        while True:
            k = crun(steps, k, e, ops)
            if k >= n:
                break
            j = k
            k += 1
            _forward_one(steps[j], e)
    except miss:
        raise
    except Exception as err:
        _note(err, where, j, "replaying")
        raise


def _forward_one(st: tuple, e: list) -> None:
    """One forward step (the Python loop's, and the C loop's hand-backs)."""
    kind, fn, a, b, o = st
    if kind == F_VV:
        e[o] = fn(e[a], e[b])
    elif kind == F_VC:
        e[o] = fn(e[a], b)
    elif kind == F_CV:
        e[o] = fn(a, e[b])
    elif kind == F_V:
        e[o] = fn(e[a])
    elif kind == F_FREE:
        for i in a:
            e[i] = None
    elif kind == F_ITEM:
        e[o] = e[a][b]
    elif kind == F_CONST:
        e[o] = a
    else:  # F_CALL: fn(e) does all
        fn(e, a, b, o)


def _note(err: BaseException, where: list, k: int, what: str) -> None:
    if k < 0 or where[k] is None:
        return
    rule, loc = where[k]
    name = rule if type(rule) is str else getattr(rule, "name", repr(rule))
    err.add_note(f"framead: raised {what} {name} (a step of a cached trace), recorded at "
                 f"{loc.file}:{loc.line}: {loc.source()}")


# ------------------------------------------------------------------ reverse
def backward_step(node: Node, inline: Any, check: bool, memo: dict | None = None,
                  statics: Statics | None = None) -> tuple | _Call:
    """The reverse step of ``node`` (one of the active nodes), as ``node_block(env=True)``
    writes it; ``inline``: its ``inline_vjp``; ``check``: a user rule (cotangent shapes are
    checked); ``memo``, ``statics``: as for ``arg_spec`` (inline steps read real scalars
    only: no array constant)."""
    memo = {} if memo is None else memo
    outs = node.outputs
    if inline is not None:
        fns = inline_functions(node, inline)
        a = node.args
        i0, c0 = (a[0].id, None) if type(a[0]) is Value else (None, same_array(memo, a[0]))
        i1, c1 = (None, None) if len(a) < 2 else \
            (a[1].id, None) if type(a[1]) is Value else (None, same_array(memo, a[1]))
        parts = [(x.id, fns[i]) for i, x in enumerate(a)
                 if type(x) is Value and i < len(fns) and fns[i] is not None]
        ta, fa = parts[0]
        tb, fb = parts[1] if len(parts) > 1 else (None, None)
        # for C: the opcode (0: real scalars only) and the targets' argument indices
        idx = [i for i, x in enumerate(a) if type(x) is Value and i < len(fns) and
               fns[i] is not None]
        op = _INLINE_OPCODES.get(node.rule.fn, 0) if outs[0].kind in (float, np.float64) \
            else 0
        return (B_INLINE, outs[0].id, i0, c0, i1, c1, ta, fa, tb, fb, op, idx[0],
                idx[1] if len(idx) > 1 else -1)
    fused = fused_kind(node)
    if fused == "getitem":
        a, key = node.args
        return (B_GETITEM, outs[0].id, a.id, same_constant(memo, key),
                shared(memo, tuple(a.shape)), a.dtype)
    if fused is not None:
        a, key, v = setitem_parts(node)
        return (B_SETITEM, outs[0].id, a.id if isinstance(a, Value) else None,
                same_constant(memo, key),
                v.id if isinstance(v, Value) else None,
                shared_meta(memo, v) if isinstance(v, Value) else None)
    return _call_step(node, check, memo, statics)


def inline_functions(node: Node, inline: Any) -> list:
    """The functions of the inline formulas ``inline`` (``node``'s ``inline_vjp``), made once
    per formula list (from a node whose recorded primals are still there)."""
    fns = _inline_fns.get(tuple(inline))
    if fns is None:  # the functions depend on the formulas only
        fns = _inline_fns[tuple(inline)] = inline_callables(node) or []
    return fns


class _Call:
    """A reverse step that calls the rule's VJP(s)."""

    __slots__ = ("outs", "metas", "treedef", "ans", "args", "kw", "joint", "parts", "tgts",
                 "node")
    outs: Any
    metas: Any
    treedef: Any
    ans: tuple
    args: tuple
    kw: Any  # the keyword arguments, or (their arg_specs,) where one is read from the env
    joint: Any
    parts: tuple  # (argnum, its VJP, Meta to unbroadcast to, Meta to check against) each
    tgts: tuple  # each part's target: a value id (or the ids of a container argument)
    node: Any  # a _Named, for user rules


def _call_step(node: Node, check: bool, memo: dict, statics: Statics | None) -> _Call:
    st = _Call()
    outs = node.outputs
    saved = node.saved
    if node.multi:
        st.outs = tuple(o.id if o is not None else None for o in outs)
        st.metas = out_metas(node)
        st.treedef, leaves = node.out_treedef
        st.ans = (2, (st.treedef, tuple(Ref(o.id) if o is not None else leaf
                                        for o, leaf in zip(outs, leaves, strict=True)))) \
            if "ans" in saved else (0, None)
    else:
        st.outs, st.metas, st.treedef = outs[0].id, None, None
        st.ans = shared(memo, (1, outs[0].id)) if "ans" in saved else shape_of(memo, outs[0])
    st.args = tuple(
        (shared(memo, (1, a.id)) if i in saved else shape_of(memo, a)) if type(a) is Value
        else ((2, template(a, statics)) if i in saved else _metas_spec(a, statics))
        if type(a) in (list, tuple) and has_value(a) else
        arg_spec(same_array(memo, a), memo, statics)  # (a VJP reads its arguments only)
        for i, a in enumerate(node.args))
    kw = node.kwargs
    if statics is not None and statics.holds(kw):  # (kwargs read from the env: a 1-tuple)
        st.kw = ({k: arg_spec(v, None, statics) for k, v in kw.items()},)
    else:  # (equal ones shared: a loop's np.sum(..., axis=1) VJPs)
        st.kw = shared_kwargs(memo, {k: same_constant(memo, v) for k, v in kw.items()})
    vjp = node.rule.vjp
    st.joint = vjp if callable(vjp) else None
    parts = vjp_parts(node, check, lambda v: shared_meta(memo, v))
    # (what depends on the node's kind, shared; the targets, this step's own)
    st.parts = shared(memo, tuple((i, fn, unb, chk) for i, fn, _, unb, chk in parts))
    st.tgts = tuple(p[2] for p in parts)
    st.node = _Named(node.name, node.loc) if check else None  # (a wrong cotangent's error)
    return st


class _Named:
    """What a wrong cotangent's error reads of a node (``reverse._check_cotangent``): its
    name and location, without its arguments (and their recorded primals)."""

    __slots__ = ("name", "loc")

    def __init__(self, name: str, loc: Any) -> None:
        self.name = name
        self.loc = loc


def _metas(tree: Any, statics: Statics | None = None) -> Any:
    if type(tree) is Value:
        return tree.meta()
    if type(tree) in (list, tuple):
        return type(tree)(_metas(x, statics) for x in tree)
    if statics is not None and (slot := statics.slot(tree)) is not None:
        return Ref(slot)
    return tree


def _metas_spec(tree: Any, statics: Statics | None) -> tuple[int, Any]:
    """A container argument whose primals the VJP does not read: (0, its metas), or
    (2, a template) when it holds arrays read from the env."""
    if statics is not None and statics.holds(tree):
        return 2, _metas(tree, statics)
    return 0, _metas(tree)


def _run_call(st: _Call, e: list, ct: dict) -> None:
    if st.metas is None:
        g = ct.pop(st.outs, None)
        if g is None:
            return
    else:
        gs = tuple(ct.pop(o, None) if o is not None else None for o in st.outs)
        if all(x is None for x in gs):
            return
        g = _unflatten(st.treedef, _fill(gs, st.metas))
    k, x = st.ans
    ans = x if k == 0 else e[x] if k == 1 else _unflatten(x[0], fill(e, x[1]))
    args = [x if k == 0 else e[x] if k == 1 else fill(e, x) for k, x in st.args]
    kw = st.kw
    if type(kw) is not dict:
        kw = kwargs_of(e, kw[0])
    ts = _cts(st.joint(g, ans, *args, **kw), len(args)) if st.joint is not None else None
    for (i, fn, unb, chk), tgt in zip(st.parts, st.tgts, strict=True):
        t = ts[i] if fn is None else fn(g, ans, *args, **kw)  # type: ignore[index]
        if unb is not None:
            t = _unb(t, unb)
        if chk is not None:
            t = _check(t, chk, st.node, i)
        if type(tgt) is int:
            if t is not None:
                o = ct.get(tgt)
                ct[tgt] = t if o is None else o + t
        else:
            _acc_tree(ct, t, tgt)


def run_backward(steps: list, where: list, e: list, ct: dict,
                 shadows: Shadows | None = None) -> None:
    """Run reverse steps: cotangents ``ct`` (by value id) from the seeds to the inputs
    (``where``: as for ``run_forward``; ``shadows``: the nodes standing for the steps the
    uncached pass's C loop may take, framead/replay_cnodes.py: a step that is a Node)."""
    if shadows is None:
        _run_backward(steps, where, e, ct, None, None)
        return
    with shadows.filled(e) as nodes:
        _run_backward(steps, where, e, ct, shadows, nodes)


def _run_backward(steps: list, where: list, e: list, ct: dict, shadows: Shadows | None,
                  nodes: list | None) -> None:
    if _use_c():
        _run_backward_c(steps, where, e, ct, shadows, nodes)
        return
    k = -1
    try:
        for k, st in enumerate(steps):  # noqa: B007 - read on error
            if type(st) is Node:
                shadows.step(nodes[k], ct)  # type: ignore[union-attr,index]
            else:
                _backward_one(st, e, ct)
    except Exception as err:
        _note(err, where, k, "in the reverse pass: the VJP of")
        raise


def _run_backward_c(steps: list, where: list, e: list, ct: dict, shadows: Shadows | None,
                    nodes: list | None) -> None:
    """``run_backward`` with runs of real scalar B_INLINE steps done in C, and (``nodes``,
    the shadow nodes) the array steps the uncached pass does in C, the others here."""
    crun, nrun, ops = _c_bwd, c_loop(), _array_ops()
    k, n, j, h = 0, len(steps), -1, -1  # (h: the step nrun last handed back)
    try:
        while k < n:
            if nodes is not None and nodes[k] is not None and k != h:
                k = h = nrun(nodes, k, ct, ops)
                if k >= n:
                    break
            k = crun(steps, k, e, ct)
            if k >= n:
                break
            if k != h and nodes is not None and nodes[k] is not None:
                continue  # (a shadow node crun stopped at: nrun's first)
            j = k
            k += 1
            st = steps[j]
            if type(st) is Node:
                shadows.step(nodes[j], ct)  # type: ignore[union-attr,index]
            else:
                _backward_one(st, e, ct)
    except Exception as err:
        _note(err, where, j, "in the reverse pass: the VJP of")
        raise


def _backward_one(st: tuple | _Call, e: list, ct: dict) -> None:
    """One reverse step (of the C loop's hand-backs)."""
    if isinstance(st, _Call):
        _run_call(st, e, ct)
        return
    kind = st[0]
    if kind == B_INLINE:
        g = ct.pop(st[1], None)
        if g is None:
            return
        _, out, i0, x0, i1, x1, ta, fa, tb, fb, _op, _ia, _ib = st
        if i0 is not None:
            x0 = e[i0]
        if i1 is not None:
            x1 = e[i1]
        if tb is None:
            t = fa(g, x0, x1, e[out])
            o = ct.get(ta)
            ct[ta] = t if o is None else o + t
        else:  # both formulas before either sum, as _acc2 does
            ans = e[out]
            a = fa(g, x0, x1, ans)
            b = fb(g, x0, x1, ans)
            o = ct.get(ta)
            ct[ta] = a if o is None else o + a
            o = ct.get(tb)
            ct[tb] = b if o is None else o + b
    elif kind == B_GETITEM:
        g = ct.pop(st[1], None)
        if g is not None:
            _acc_getitem(ct, st[2], st[3], g, st[4], st[5])
    else:
        g = ct.pop(st[1], None)
        if g is not None:
            _acc_setitem(ct, st[1], st[2], st[3], st[4], g, st[5])


# --- forward call steps (framead/replay.py F_CALL steps: (F_CALL, run, call, kw, out), ``call`` the
# callable then its arguments' specs) ------------------------------------------------------
def store_leaves(e: list, result: Any, ids: tuple) -> None:
    leaves, _ = flatten_tree(result)
    for i, leaf in zip(ids, leaves, strict=True):
        if i is not None:
            e[i] = leaf


def fit(r: Any, shape: tuple, dtype: Any) -> Any:
    """An array result as recorded (``np.exp(s, out=a)`` broadcast into ``a``'s shape)."""
    if r.__class__ is np.ndarray and r.shape == shape and r.dtype == dtype:
        return r
    return np.array(np.broadcast_to(r, shape), dtype=dtype)


def same_as_recorded(a: Any, b: Any) -> bool:
    """Guard comparison: same value (and shape) as recorded."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.shape(a) == np.shape(b) and bool(np.array_equal(a, b))
    if type(a) in (tuple, list):
        return type(a) is type(b) and len(a) == len(b) and all(
            same_as_recorded(x, y) for x, y in zip(a, b, strict=True))
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # noqa: BLE001 - incomparable means different
        return False


def _called(e: list, call: tuple, kw: dict) -> Any:
    return call[0](*args_of(e, call[1:]), **kwargs_of(e, kw))


def run_call(e: list, call: tuple, kw: dict, o: int) -> None:
    e[o] = _called(e, call, kw)


def run_fit(e: list, call: tuple, kw: dict, o: tuple) -> None:
    e[o[0]] = fit(_called(e, call, kw), o[1], o[2])


def run_multi(e: list, call: tuple, kw: dict, ids: tuple) -> None:
    store_leaves(e, _called(e, call, kw), ids)


def run_guard(e: list, call: tuple, kw: dict, o: tuple) -> None:
    if not same_as_recorded(_called(e, call, kw), o[0]):
        raise Miss(o[1])


def itself(x: Any) -> Any:
    """A constant node's value read from an env slot (``Statics``): that call's argument."""
    return x


class ReplayEmitter(Emitter):
    """The generated replay's namespace: as ``Emitter``, but a constant ``statics`` reads
    from the env is the expression ``e[slot]`` (also inside the lists, tuples and dicts
    bound as one constant), and a node bound for a cotangent check's error is bound as
    its name and location only (not its arguments: constants, primals)."""

    def __init__(self, runtime: dict[str, Any], statics: Statics | None) -> None:
        super().__init__(runtime)
        self.statics = statics

    def bind(self, prefix: str, obj: Any) -> str:
        st = self.statics
        if st is not None and type(obj) in (np.ndarray, list, tuple, dict) and st.holds(obj):
            return self._source(prefix, obj)
        if type(obj) is Node:
            obj = _Named(obj.name, obj.loc)
        return super().bind(prefix, obj)

    def _source(self, prefix: str, x: Any) -> str:
        st = self.statics
        assert st is not None
        if not st.holds(x):
            return super().bind(prefix, x)
        if type(x) is np.ndarray:
            return f"e[{st.slot(x)}]"
        if type(x) is dict:
            return "{" + ", ".join(f"{super(ReplayEmitter, self).bind('kk', k)}: "
                                   f"{self._source(prefix, v)}" for k, v in x.items()) + "}"
        items = ", ".join(self._source(prefix, v) for v in x)
        if type(x) is list:
            return f"[{items}]"
        return f"({items},)" if len(x) == 1 else f"({items})"
