"""The reverse pass: Python source generated from the IR, compiled in chunks.

One block per live node, in reverse order; each VJP call carries a comment naming the user's
``file:line`` and source text, and the source is registered in ``linecache`` so tracebacks,
cProfile and pyinstrument show it while its code lives (``register_source``). Cotangents live
in a dict keyed by value id; zero (None) cotangents skip their node.
"""

from __future__ import annotations

import functools
import itertools
import linecache
import math
import os
import re
import weakref
from typing import Any

import numpy as np

from .ir import Graph, Meta, Node, Value
from .ir import unflatten_tree as _unflatten
from .rules.helpers import unbroadcast as _unbroadcast
from .rules.primitives import _is_basic_key as _basic_key

CHUNK_NODES = 250
COMPILE_LIMIT = 1000
_serial = itertools.count(1)


def _real_from_complex(node: Node, a: Value) -> bool:
    """A real input of a node with a complex output: its cotangent keeps the real part."""
    return getattr(a.dtype, "kind", "f") != "c" and any(
        o is not None and getattr(o.dtype, "kind", "") == "c" for o in node.outputs)


def _zeros(meta: Meta) -> Any:
    z = np.zeros(meta.shape, dtype=meta.dtype if meta.dtype is not None else float)
    return z if issubclass(meta.kind, np.ndarray) else z[()]


def _fill(gs: tuple, metas: tuple) -> tuple:
    return tuple(g if g is not None or m is None else _zeros(m) for g, m in zip(gs, metas,
                                                                               strict=True))


def _out_metas(node: Node) -> tuple:
    """Metas for ``_fill`` of a multi-output node: every numeric leaf gets zeros, the ones
    without a Value of their own too (an input returned as is, an int or bool leaf), since
    a rule's VJP reads ``g`` with zeros filled in (never None)."""
    leaves = node.out_treedef[1]
    return tuple(o.meta() if o is not None else _leaf_meta(leaf)
                 for o, leaf in zip(node.outputs, leaves, strict=True))


def _leaf_meta(leaf: Any) -> Meta | None:
    if isinstance(leaf, np.ndarray | np.generic):
        return Meta.of(leaf) if leaf.dtype.kind in "biufc" else None
    return Meta.of(leaf) if type(leaf) in (float, int, complex, bool) else None


def _unb(t: Any, meta: Meta) -> Any:
    """``unbroadcast`` that keeps None (no cotangent) as None."""
    return None if t is None else _unbroadcast(t, meta)


def _cts(ts: Any, n: int) -> Any:
    """A joint VJP's cotangents, one per argument: None (no cotangent at all) or a short
    tuple are padded with None."""
    if ts is None:
        return (None,) * n
    if len(ts) < n:
        return (*ts, *(None,) * (n - len(ts)))
    return ts


def _accumulate_tree(ct: dict, t: Any, ids: Any) -> None:
    """Add a cotangent tree ``t`` into ``ct`` at the value ids of the same-shaped ``ids``."""
    if ids is None or t is None:
        return
    if isinstance(ids, int):
        o = ct.get(ids)
        ct[ids] = t if o is None else o + t
        return
    if isinstance(t, np.ndarray) and not isinstance(ids, np.ndarray):
        t = list(t)
    for sub_t, sub_ids in zip(t, ids, strict=True):
        _accumulate_tree(ct, sub_t, sub_ids)


def _arg_ids(node: Node) -> list[int]:
    """Ids of the Values among a node's arguments (inside lists/tuples too)."""
    ids = []
    for a in node.args:
        if type(a) is Value:
            ids.append(a.id)
        elif type(a) in (list, tuple):
            ids.extend(v.id for v in _values_in(a))
    return ids


def forward_active(graph: Graph, wrt: list[Value]) -> list[Node]:
    """Nodes that depend on ``wrt`` (one pass; the reverse pass skips those no cotangent
    reaches, so liveness need not be computed first)."""
    active = {v.id for v in wrt}
    out = []
    for node in graph.nodes:
        for a in node.args:
            t = type(a)
            if (t is Value and a.id in active) or ((t is list or t is tuple) and any(
                    v.id in active for v in _values_in(a))):
                live = [o.id for o in node.outputs if o is not None]
                if live:  # a node without traced outputs never gets a cotangent
                    out.append(node)
                    active.update(live)
                break
    return out


def active_nodes(graph: Graph, wrt: list[Value]) -> list[Node]:
    """Nodes on some path from ``wrt`` to an output (forward-active and live)."""
    active = {v.id for v in wrt}
    fwd = []
    for node in graph.nodes:
        if not active.isdisjoint(_arg_ids(node)):
            fwd.append(node)
            active.update(o.id for o in node.outputs if o is not None)
    needed = {v.id for v in graph.outputs if isinstance(v, Value)}
    out = []
    for node in reversed(fwd):
        if any(o is not None and o.id in needed for o in node.outputs):
            out.append(node)
            needed.update(_arg_ids(node))
    out.reverse()
    return out


def _values_in(tree: Any):
    if isinstance(tree, Value):
        yield tree
    elif type(tree) in (list, tuple):
        for x in tree:
            yield from _values_in(x)


# --- fused cotangent accumulation ---------------------------------------------------------
# Element reads x[i] and writes a[i] = v in loops would each cost a full-size cotangent array
# (zeros plus an add, or a copy). Instead the cotangent of the array is allocated once and
# updated in place. ``own`` (kept in ct under key -1) holds the value ids whose cotangent
# array framead allocated itself: only those are ever written in place.

def _owned(ct: dict) -> set:
    own = ct.get(-1)
    if own is None:
        own = ct[-1] = set()
    return own


def _acc1(ct: dict, a: int, t: Any) -> None:
    o = ct.get(a)
    ct[a] = t if o is None else o + t


def _acc2(ct: dict, a: int, ta: Any, b: int, tb: Any) -> None:
    o = ct.get(a)
    ct[a] = ta if o is None else o + ta
    o = ct.get(b)
    ct[b] = tb if o is None else o + tb


def _acc_getitem(ct: dict, a: int, key: Any, g: Any, shape: tuple, dtype: Any) -> None:
    """ct[a][key] += g, in place."""
    own = _owned(ct)
    o = ct.get(a)
    if o is None:
        o = ct[a] = np.zeros(shape, dtype)
        own.add(a)
    elif a not in own:
        o = ct[a] = np.array(np.broadcast_to(o, shape), dtype=dtype, copy=True)
        own.add(a)
    o[key] += g


def _acc_setitem(ct: dict, out: int, a: int | None, key: Any, v: int | None, g: Any,
                 vmeta: Any) -> None:
    """The reverse of ``out = setitem(a, key, v)``: ct[v] += g[key]; ct[a] += g with g[key]
    zeroed (in place when g is framead's own array)."""
    own = _owned(ct)
    if not isinstance(g, np.ndarray):
        g = np.asarray(g)
    if v is not None:
        gv = g[key]
        if isinstance(gv, np.ndarray):
            gv = _unbroadcast(gv.copy(), vmeta)
        elif vmeta.shape:
            gv = _unbroadcast(gv, vmeta)
        o = ct.get(v)
        if o is None:
            ct[v] = gv
        else:
            ct[v] = o + gv
            own.discard(v)
    if a is not None:
        if out in own and isinstance(g, np.ndarray) and g.flags.writeable:
            ga = g
        else:
            ga = np.array(g, copy=True)
        ga[key] = 0
        o = ct.get(a)
        if o is None:
            ct[a] = ga
            own.add(a)
        elif a in own and o.shape == ga.shape and o.dtype == ga.dtype:
            o += ga
        else:
            ct[a] = o + ga
            own.discard(a)


_FUSED_RULES: list = []


def _fused_kind(node: Node) -> str | None:
    """Which fused accumulator serves ``node``'s reverse step (None: its rule's VJP)."""
    if not _FUSED_RULES:
        from .capture import recorder as R

        _FUSED_RULES.extend((R.SETITEM_RULE, _getitem_rule()))
    rule = node.rule
    if (rule is not _FUSED_RULES[0] and rule is not _FUSED_RULES[1]) or node.multi or \
            node.outputs[0] is None:
        return None
    out = node.outputs[0]
    if rule is _FUSED_RULES[0]:
        a, key, v = node.args
        if any(True for _ in _values_in(key)) or not _basic_key(key) or \
                type(v) in (list, tuple) or (isinstance(a, Value) and a.dtype != out.dtype) \
                or (isinstance(v, Value) and getattr(v.dtype, "kind", "") == "c" and
                    getattr(out.dtype, "kind", "") != "c"):
            return None
        return "setitem"
    if len(node.args) == 2 and not node.kwargs:
        a, key = node.args
        if isinstance(a, Value) and issubclass(a.kind, np.ndarray) and a.dtype == out.dtype \
                and not any(True for _ in _values_in(key)) and _basic_key(key):
            return "getitem"
    return None


# --- inline scalar VJPs (replays: framead/replay.py) -----------------------------------------
# For real scalar nodes the commonest rules' VJPs, written out as expressions (the same
# formulas as the rule tables), so a replayed reverse pass makes no call per node.
_SCALAR_KINDS = (float, np.float64)


def _inline_table() -> dict:
    import math
    import operator

    return {
        operator.add: ("g", "g"), operator.sub: ("g", "-g"),
        operator.mul: ("g * {1}", "g * {0}"),
        operator.truediv: ("g / {1}", "-g * {ans} / {1}"),
        operator.neg: ("-g",), operator.pos: ("g",),
        math.sin: ("g * _mcos({0})",), math.cos: ("-g * _msin({0})",),
        math.exp: ("g * {ans}",),
    }


_INLINE: dict = {}
_INLINE_FNS: dict = {}


def _inline_callables(node: Node) -> list | None:
    """The inline VJP formulas of ``node`` as functions ``(g, x0, x1, ans) -> cotangent``
    (the step loop's counterpart of the generated expressions)."""
    forms = _inline_vjp(node)
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
                                       {"_mcos": math.cos, "_msin": math.sin})
        out.append(fn)
    return out


def _inline_vjp(node: Node) -> list[str] | None:
    """Expressions (with {0}, {1}, {ans} placeholders) for each argument's cotangent, or None
    when ``node`` is not a real-scalar node of an inlined rule."""
    import operator

    if not _INLINE:
        _INLINE.update(_inline_table())
    out = node.outputs[0] if not node.multi else None
    if out is None or node.kwargs or getattr(out.dtype, "kind", "") != "f" or (
            out.kind not in _SCALAR_KINDS and out.kind is not np.ndarray):
        return None
    fn = getattr(node.rule, "fn", None)
    for a in node.args:  # same shape and dtype as the output: no broadcasting to undo
        if isinstance(a, Value):
            if a.shape != out.shape or a.dtype != out.dtype or (
                    a.kind not in _SCALAR_KINDS and a.kind is not np.ndarray):
                return None
        elif type(a) not in (float, int) and not isinstance(a, np.float64):
            return None
    if out.kind is np.ndarray and fn in (math.sin, math.cos, math.exp):
        return None
    if fn is operator.pow and len(node.args) == 2 and not isinstance(node.args[1], Value) \
            and type(node.args[1]) is int and node.args[1] > 0:
        c = node.args[1]
        return ["g" if c == 1 else "g * 2 * {0}" if c == 2 else f"g * {c} * {{0}} ** {c - 1}",
                None]
    try:
        return list(_INLINE.get(fn)) if fn in _INLINE else None
    except TypeError:  # unhashable callable
        return None


def _getitem_rule():
    import operator

    from framead import rules

    return rules.lookup(operator.getitem)
# --- end fused cotangent accumulation ------------------------------------------------------


# --- generated source in linecache --------------------------------------------------------
# A traceback holds the frames of a reverse pass (so its code objects) after the pass itself is
# gone: the source stays in linecache while any code object compiled from it, or the object
# that made it, lives, and goes with the last of them (one entry per call would never go).
_registered: dict[str, list] = {}  # filename -> [live owners, their weak references]


def register_source(filename: str, source: str, owners: list) -> None:
    """``source`` in linecache under ``filename`` for as long as one of ``owners`` lives."""
    for name, (_n, refs) in list(_registered.items()):  # entries whose callback was lost
        if all(r() is None for r in refs):          # (a KeyboardInterrupt inside it)
            _registered.pop(name, None)
            linecache.cache.pop(name, None)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    # (bound now: the callback may run at interpreter exit, after module globals are gone)
    gone = functools.partial(_owner_gone, _registered, linecache.cache, filename)
    _registered[filename] = [len(owners), [weakref.ref(o, gone) for o in owners]]


def _owner_gone(registered: dict, cache: dict, filename: str, _ref: weakref.ref) -> None:
    entry = registered.get(filename)
    if entry is None:
        return
    entry[0] -= 1
    if entry[0] <= 0:
        del registered[filename]
        cache.pop(filename, None)
# --- end generated source in linecache ---------------------------------------------------


class RuleOutputError(ValueError):
    """A rule's VJP returned a cotangent that does not fit its argument."""


def _check_cotangent(t: Any, meta: Meta, node: Node, i: int) -> None:
    """User rules only: the cotangent for argument i must have the argument's shape."""
    if t is None:
        return
    shape = np.shape(t)
    if shape != tuple(meta.shape):
        loc = node.loc
        raise RuleOutputError(
            f"the VJP of rule {node.name!r} returned a cotangent of shape {shape} for "
            f"argument {i}, whose shape is {tuple(meta.shape)} (call at {loc.file}:{loc.line}: "
            f"{loc.source()}). A VJP must return one cotangent per argument, shaped like it; "
            "use framead.rules.unbroadcast for broadcasting arguments")


def _framead_rule_ids() -> set[int]:
    """Rules framead ships, its internal primitives included (their cotangent shapes are
    trusted; only user rules get checked)."""
    from framead import rules

    from .capture import recorder as R

    return {id(r) for r in rules.library_rules()} | {
        id(r) for r in (R.SETITEM_RULE, R.VIEW_UPDATE_RULE, R.GATHER_RULE, R.COPY_RULE)}


class _Emitter:
    """Binds residuals, constants and VJP functions to names in one namespace."""

    def __init__(self) -> None:
        self.ns: dict[str, Any] = {"_unb": _unb, "_fill": _fill, "_cts": _cts,
                                   "_acc_tree": _accumulate_tree, "_unflatten": _unflatten,
                                   "_check": _check_cotangent, "_acc_getitem": _acc_getitem,
                                   "_acc_setitem": _acc_setitem, "_mcos": math.cos,
                                   "_acc1": _acc1, "_acc2": _acc2,
                                   "_msin": math.sin}
        self._n = 0
        self.line_locs: dict[int, Any] = {}
        self._library = _framead_rule_ids()

    def check_shapes(self, rule: Any) -> bool:
        """Rules framead does not ship get their cotangent shapes checked."""
        return hasattr(rule, "fn") and id(rule) not in self._library

    def bind(self, prefix: str, obj: Any) -> str:
        self._n += 1
        name = f"{prefix}{self._n}"
        self.ns[name] = obj
        return name


def _arg_expr(em: _Emitter, node: Node, i: int, a: Any, env: bool = False) -> str:
    if isinstance(a, Value):
        if i in node.saved:
            return f"e[{a.id}]" if env else em.bind(f"x{a.id}_", a.primal)
        return em.bind(f"shape{a.id}_", a.meta())
    if type(a) in (list, tuple) and any(True for _ in _values_in(a)):
        if env and i in node.saved:
            return _env_tree(em, a)
        return em.bind("k", _primal_tree(a, i in node.saved))
    return em.bind("k", a)


def _env_tree(em: _Emitter, a: Any) -> str:
    """Source for a container argument whose traced leaves are read from the env ``e``."""
    if isinstance(a, Value):
        return f"e[{a.id}]"
    if type(a) in (list, tuple):
        items = ", ".join(_env_tree(em, x) for x in a)
        if type(a) is list:
            return f"[{items}]"
        return f"({items},)" if len(a) == 1 else f"({items})"
    return em.bind("k", a)


def _primal_tree(tree: Any, saved: bool) -> Any:
    if isinstance(tree, Value):
        return tree.primal if saved else tree.meta()
    if type(tree) in (list, tuple):
        return type(tree)(_primal_tree(x, saved) for x in tree)
    return tree


def _ids_tree(tree: Any) -> Any:
    if isinstance(tree, Value):
        return tree.id
    if type(tree) in (list, tuple):
        return [_ids_tree(x) for x in tree]
    return None


def _ans_expr(em: _Emitter, node: Node, env: bool = False) -> str:
    if node.multi:
        treedef, leaves = node.out_treedef
        if "ans" not in node.saved:
            return "None"
        if env:
            items = ", ".join(f"e[{o.id}]" if o is not None else em.bind("k", leaf)
                              for o, leaf in zip(node.outputs, leaves, strict=True))
            return f"_unflatten({em.bind('td', treedef)}, ({items},))"
        prim = [o.primal if o is not None else leaf for o, leaf in zip(node.outputs, leaves,
                                                                       strict=True)]
        return em.bind("a", _unflatten(treedef, tuple(prim)))
    out = node.outputs[0]
    if "ans" in node.saved:
        return f"e[{out.id}]" if env else em.bind(f"x{out.id}_", out.primal)
    return em.bind(f"shape{out.id}_", out.meta())


def _node_block(em: _Emitter, node: Node, env: bool = False,
                inline: Any = False) -> list[str]:
    """Reverse-pass lines for ``node``; ``env``: saved primals are read from the list ``e``
    (framead.replay) instead of being bound as constants, and the commonest nodes become one
    line each (compiling Python costs per statement; replays can be long). ``inline``: the
    node's ``_inline_vjp`` if already known."""
    loc = node.loc
    where = f"{loc.file}:{loc.line}"
    outs = node.outputs
    lines = [] if env else [f"# {_describe(node)}    <- {where}  {loc.source()}"[:200]]
    if env:
        if inline is False:
            inline = _inline_vjp(node)
        if inline is not None:
            vals = [f"e[{a.id}]" if isinstance(a, Value) else repr(a) if type(a) is int or (
                type(a) is float and math.isfinite(a)) else em.bind("k", a) for a in node.args]
            acc = []
            for i, a in enumerate(node.args):
                if isinstance(a, Value) and i < len(inline) and inline[i] is not None:
                    acc += [str(a.id), inline[i].format(*vals, ans=f"e[{outs[0].id}]")]
            fn = "_acc1" if len(acc) == 2 else "_acc2"
            lines.append(f"if (g := ct.pop({outs[0].id}, None)) is not None: "
                         f"{fn}(ct, {', '.join(acc)})  # {where}")
            return lines
    fused = _fused_kind(node)
    if fused is not None:
        out = outs[0].id
        head = f"if (g := ct.pop({out}, None)) is not None: "
        if fused == "getitem":
            a, key = node.args
            lines.append(f"{head}_acc_getitem(ct, {a.id}, {_key_src(em, key)}, g, "
                         f"{tuple(a.shape)!r}, {em.bind('dt', a.dtype)})  # {where}")
        else:
            a, key, v = node.args
            vid = v.id if isinstance(v, Value) else None
            vmeta = em.bind("m", v.meta()) if vid is not None else "None"
            lines.append(f"{head}_acc_setitem(ct, {out}, "
                         f"{a.id if isinstance(a, Value) else None}, {_key_src(em, key)}, {vid}, "
                         f"g, {vmeta})  # {where}")
        return lines
    if node.multi:
        metas = _out_metas(node)
        gets = ", ".join(f"ct.pop({o.id}, None)" if o is not None else "None" for o in outs)
        lines.append(f"g = ({gets},)")
        lines.append("if any(x is not None for x in g):")
        lines.append(f"    g = _unflatten({em.bind('td', node.out_treedef[0])}, "
                     f"_fill(g, {em.bind('mt', metas)}))")
    else:
        lines.append(f"g = ct.pop({outs[0].id}, None)")
        lines.append("if g is not None:")
    ans = _ans_expr(em, node, env)
    args = [_arg_expr(em, node, i, a, env) for i, a in enumerate(node.args)]
    kw = f", **{em.bind('kw', node.kwargs)}" if node.kwargs else ""
    call_args = ", ".join(["g", ans, *args]) + kw
    vjp = node.rule.vjp
    joint = callable(vjp)
    stem = re.sub(r"\W+", "_", node.name).strip("_")
    head = len(lines)
    if joint:
        lines.append(f"    ts = _cts({em.bind(f'{stem}_vjp_', vjp)}({call_args}), "
                     f"{len(node.args)})  # {where}")
    out_shape = None if node.multi else outs[0].shape
    for i, a in enumerate(node.args):
        vals = list(_values_in(a))
        if not vals:
            continue
        if joint:
            expr = f"ts[{i}]"
        else:
            fn = vjp[i] if i < len(vjp) else None
            if fn is None:
                continue
            expr = f"{em.bind(f'{stem}_vjp{i}_', fn)}({call_args})"
        if isinstance(a, Value):
            if (getattr(node.rule, "elementwise", False) and a.shape != out_shape) or \
                    _real_from_complex(node, a):
                expr = f"_unb({expr}, {em.bind('m', a.meta())})"
            lines.append(f"    t = {expr}  # {where}")
            if em.check_shapes(node.rule):
                lines.append(f"    _check(t, {em.bind('m', a.meta())}, {em.bind('r', node)}, {i})")
            lines.append("    if t is not None:")
            lines.append(f"        ct[{a.id}] = t if (o := ct.get({a.id})) is None else o + t")
        else:
            lines.append(f"    _acc_tree(ct, {expr}, {em.bind('ids', _ids_tree(a))})"
                         f"  # {where}")
    if len(lines) == head:  # no argument has a VJP: the cotangent stops here
        lines.append("    pass")
    return lines


def _key_src(em: _Emitter, key: Any) -> str:
    if type(key) is int or (type(key) is tuple and all(type(k) is int for k in key)):
        return repr(key)
    return em.bind("k", key)


def _describe(node: Node) -> str:
    from .ir import format_node

    return format_node(node).replace("\n", " ")


class _Step:
    """One node of the reverse pass, ready to run without generated code."""

    __slots__ = ("node", "outs", "metas", "treedef", "ans", "args", "kw", "joint", "parts",
                 "fused")


def _make_step(node: Node, check: bool) -> _Step:
    st = _Step()
    st.node = node
    fns = _inline_callables(node) if not node.multi else None
    if fns is not None:  # a real scalar (or same-shape) arithmetic node: formulas
        args = node.args
        x0 = args[0].primal if type(args[0]) is Value else args[0]
        x1 = (args[1].primal if type(args[1]) is Value else args[1]) if len(args) > 1 else None
        st.fused, st.outs, st.metas = "inline", node.outputs[0].id, None
        st.ans = node.outputs[0].primal
        st.args = (x0, x1)
        st.parts = tuple((a.id, fns[i]) for i, a in enumerate(args)
                         if type(a) is Value and i < len(fns) and fns[i] is not None)
        return st
    st.fused = _fused_kind(node)
    if st.fused is not None:
        out = node.outputs[0]
        if st.fused == "getitem":
            a, key = node.args
            st.parts = (a.id, key, tuple(a.shape), a.dtype)
        else:
            a, key, v = node.args
            st.parts = (a.id if isinstance(a, Value) else None, key,
                        v.id if isinstance(v, Value) else None,
                        v.meta() if isinstance(v, Value) else None)
        st.outs, st.metas = out.id, None
        return st
    if node.multi:
        st.outs = tuple(o.id if o is not None else None for o in node.outputs)
        st.metas = _out_metas(node)
        st.treedef = node.out_treedef[0]
        if "ans" in node.saved:
            leaves = node.out_treedef[1]
            st.ans = _unflatten(st.treedef, tuple(o.primal if o is not None else leaf
                                                  for o, leaf in zip(node.outputs, leaves,
                                                                     strict=True)))
        else:
            st.ans = None
    else:
        out = node.outputs[0]
        st.outs, st.metas, st.treedef = out.id, None, None
        st.ans = out.primal if "ans" in node.saved else out.meta()
    saved = node.saved
    st.args = tuple(
        (a.primal if i in saved else a.meta()) if type(a) is Value
        else _primal_tree(a, i in saved) if type(a) in (list, tuple) else a
        for i, a in enumerate(node.args))
    st.kw = node.kwargs
    vjp = node.rule.vjp
    st.joint = vjp if callable(vjp) else None
    out_shape = None if node.multi else node.outputs[0].shape
    parts = []
    for i, a in enumerate(node.args):
        if type(a) is not Value and (type(a) not in (list, tuple) or
                                     not any(True for _ in _values_in(a))):
            continue
        fn = None
        if st.joint is None:
            fn = vjp[i] if i < len(vjp) else None
            if fn is None:
                continue
        if isinstance(a, Value):
            unb = a.meta() if (getattr(node.rule, "elementwise", False) and
                               a.shape != out_shape) or _real_from_complex(node, a) else None
            parts.append((i, fn, a.id, unb, a.meta() if check else None))
        else:
            parts.append((i, fn, _ids_tree(a), None, None))
    st.parts = tuple(parts)
    return st


def _run_steps(nodes: list[Node], steps: list, ct: dict, checked: set[int]) -> None:
    """The step loop: each node's step is made the first time a cotangent reaches it."""
    for k, node in enumerate(nodes):
        st = steps[k]
        if st is None:
            outs = node.outputs
            if not node.multi:
                if outs[0] is None or outs[0].id not in ct:
                    continue
            elif not any(o is not None and o.id in ct for o in outs):
                continue
            st = steps[k] = _make_step(node, hasattr(node.rule, "fn") and
                                       id(node.rule) not in checked)
        if st.metas is None:
            g = ct.pop(st.outs, None)
            if g is None:
                continue
        else:
            gs = tuple(ct.pop(o, None) if o is not None else None for o in st.outs)
            if all(x is None for x in gs):
                continue
            g = _unflatten(st.treedef, _fill(gs, st.metas))
        if st.fused is not None:
            if st.fused == "inline":
                x0, x1 = st.args
                for tgt, fn in st.parts:
                    t = fn(g, x0, x1, st.ans)
                    o = ct.get(tgt)
                    ct[tgt] = t if o is None else o + t
                continue
            if st.fused == "getitem":
                _acc_getitem(ct, st.parts[0], st.parts[1], g, st.parts[2], st.parts[3])
            else:
                a, key, v, vmeta = st.parts
                _acc_setitem(ct, st.outs, a, key, v, g, vmeta)
            continue
        ts = _cts(st.joint(g, st.ans, *st.args, **st.kw), len(st.args)) \
            if st.joint is not None else None
        for i, fn, tgt, unb, chk in st.parts:
            t = ts[i] if fn is None else fn(g, st.ans, *st.args, **st.kw)
            if t is None:
                continue
            if unb is not None:
                t = _unbroadcast(t, unb)
            if chk is not None:
                _check_cotangent(t, chk, st.node, i)
            if type(tgt) is int:
                o = ct.get(tgt)
                ct[tgt] = t if o is None else o + t
            else:
                _accumulate_tree(ct, t, tgt)


class Backward:
    """The reverse pass of a graph with respect to ``wrt``.

    Traces up to ``COMPILE_LIMIT`` nodes run as generated, compiled Python source (so
    tracebacks and profilers show lines naming the user's lines); longer ones run the same
    steps through a small loop, since compiling Python source costs ~15-60 us per node. The
    source is generated on demand either way (``.source``); FRAMEAD_BACKWARD=source forces
    compiled code, FRAMEAD_BACKWARD=loop the loop.
    """

    def __init__(self, graph: Graph, wrt: list[Value], compiled: bool | None = None):
        self.graph = graph
        self.wrt = wrt
        self.filename = f"<framead-backward-{next(_serial)}>"
        self.nodes = list(reversed(forward_active(graph, wrt)))
        mode = os.environ.get("FRAMEAD_BACKWARD", "")
        if compiled is None:
            compiled = mode == "source" or (mode != "loop" and len(self.nodes) <= COMPILE_LIMIT)
        self.compiled = compiled
        self._source: str | None = None
        self._chunks: list = []
        self._line_node: dict[int, Node] = {}
        if compiled:
            self._generate(compile_chunks=True)
            self._steps = None
        else:  # steps are made as cotangents reach their nodes
            self._library = _framead_rule_ids()
            self._steps = [None] * len(self.nodes)

    @property
    def source(self) -> str:
        if self._source is None:
            self._generate(compile_chunks=False)
        return self._source

    def _generate(self, compile_chunks: bool) -> None:
        em = _Emitter()
        blocks = [_node_block(em, n) for n in self.nodes]
        src_lines: list[str] = []
        for start in range(0, len(blocks), CHUNK_NODES) or [0]:
            first = len(src_lines) + 1
            line_no = first + 1
            for node, block in zip(self.nodes[start:start + CHUNK_NODES],
                                   blocks[start:start + CHUNK_NODES], strict=True):
                for _ in block:
                    self._line_node[line_no] = node
                    line_no += 1
            body = [ln for b in blocks[start:start + CHUNK_NODES] for ln in b]
            chunk = [f"def backward_chunk_{start // CHUNK_NODES}(ct):"]
            chunk += ["    " + ln for ln in body] or ["    pass"]
            src_lines += chunk
            if compile_chunks:
                module = compile("\n".join(chunk) + "\n", self.filename, "exec")
                fcode = next(c for c in module.co_consts if hasattr(c, "co_code"))
                fcode = fcode.replace(co_firstlineno=first)
                self._chunks.append(type(lambda: 0)(fcode, em.ns))
        self._source = "\n".join(src_lines) + "\n"
        register_source(self.filename, self._source, [self, *(c.__code__ for c in self._chunks)])

    def __call__(self, seeds: dict[int, Any]) -> list[Any]:
        ct = dict(seeds)
        try:  # NumPy's floating-point warnings belong to the program, which has no
            # reverse pass natively (inf/nan cotangents still show in the gradient)
            with np.errstate(all="ignore"):
                if self._steps is not None:
                    _run_steps(self.nodes, self._steps, ct, self._library)
                else:
                    for chunk in self._chunks:
                        chunk(ct)
        except Exception as e:
            self._annotate(e)
            raise
        return [ct.get(v.id) for v in self.wrt]

    def _annotate(self, e: BaseException) -> None:
        """Name the generated line and the user line it came from."""
        node, line = None, None
        tb = e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                line = tb.tb_lineno
            elif tb.tb_frame.f_code is _run_steps.__code__:
                node = tb.tb_frame.f_locals.get("st").node
            tb = tb.tb_next
        if node is None and line is not None:
            node = self._line_node.get(line)
        elif node is not None:
            self.source  # noqa: B018 - generate it so the note can name the line
            line = next((k for k, n in self._line_node.items() if n is node), None)
        if node is not None:
            loc = node.loc
            e.add_note(f"framead: raised in the reverse pass at {self.filename}:{line} "
                       f"(the VJP of {node.name}), which differentiates {loc.file}:{loc.line}: "
                       f"{loc.source()}")
