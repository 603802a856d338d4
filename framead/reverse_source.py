"""The reverse pass as Python source: one block of lines per node, in reverse order, each
commented with the user's ``file:line`` and source text (framead/reverse.py compiles and runs
it; framead/replay.py generates its replays' reverse passes with it, reading saved primals
from the env list ``e``), and the source registered in ``linecache`` so tracebacks, cProfile
and pyinstrument show it while its code lives (``register_source``).

The generated code calls the helpers of framead/reverse.py by the names of its namespace
(``RUNTIME``: ``_acc1``, ``_acc_getitem``, ``_unb``...), which the emitter is given.
"""

from __future__ import annotations

import builtins
import functools
import linecache
import math
import operator
import re
import weakref
from typing import Any

import numpy as np

from . import rules
from .capture.primitive_rules import SETITEM_RULE, VIEW_UPDATE_RULE
from .ir import Meta, Node, Value, format_node, primal_tree, values_in
from .ir import unflatten_tree as _unflatten
from .reverse_inline import FORMULA_NAMES, inline_vjp, library_rule_ids
from .rules.primitives import is_basic_key


def real_from_complex(node: Node, a: Value) -> bool:
    """A real input of a node with a complex output: its cotangent keeps the real part."""
    return getattr(a.dtype, "kind", "f") != "c" and any(
        o is not None and getattr(o.dtype, "kind", "") == "c" for o in node.outputs)


def out_metas(node: Node) -> tuple:
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


def ids_tree(tree: Any) -> Any:
    """The value ids of a container argument, in its shape (None for constants)."""
    if isinstance(tree, Value):
        return tree.id
    if type(tree) in (list, tuple):
        return [ids_tree(x) for x in tree]
    return None


# --- fused cotangent accumulation (framead/reverse.py ``_acc_getitem``, ``_acc_setitem``) ---
_FUSED_RULES: tuple = ()  # set whole, once (threads may race to set it: same value)


def fused_rules() -> tuple:
    """(the setitem rule, the getitem rule): the rules fused accumulators serve."""
    global _FUSED_RULES
    fused = _FUSED_RULES
    if not fused:
        fused = _FUSED_RULES = (SETITEM_RULE, rules.lookup(operator.getitem))
    return fused


def setitem_parts(node: Node) -> tuple:
    """``(a, key, v)`` of a node that writes ``v`` into ``a[key]``: a setitem, or a
    ``view_update`` of the view ``a[key]`` (its recipe ``("getitem", key)``), whose reverse
    steps are one."""
    if node.rule is VIEW_UPDATE_RULE:
        parent, child, recipe = node.args
        return parent, recipe[1], child
    return node.args


def fused_kind(node: Node) -> str | None:
    """Which fused accumulator serves ``node``'s reverse step (None: its rule's VJP)."""
    setitem, getitem = fused_rules()
    rule = node.rule
    if (rule is not setitem and rule is not getitem and rule is not VIEW_UPDATE_RULE) or \
            node.multi or node.outputs[0] is None:
        return None
    out = node.outputs[0]
    if rule is VIEW_UPDATE_RULE:
        recipe = node.args[2]
        if type(recipe) is not tuple or len(recipe) != 2 or recipe[0] != "getitem" or \
                not isinstance(node.args[0], Value) or not isinstance(node.args[1], Value):
            return None
    if rule is not getitem:
        a, key, v = setitem_parts(node)
        if any(True for _ in values_in(key)) or not is_basic_key(key) or \
                type(v) in (list, tuple) or (isinstance(a, Value) and a.dtype != out.dtype) \
                or (isinstance(v, Value) and getattr(v.dtype, "kind", "") == "c" and
                    getattr(out.dtype, "kind", "") != "c"):
            return None
        return "setitem"
    if len(node.args) == 2 and not node.kwargs:
        a, key = node.args
        if isinstance(a, Value) and issubclass(a.kind, np.ndarray) and a.dtype == out.dtype \
                and not any(True for _ in values_in(key)) and is_basic_key(key):
            return "getitem"
    return None


# --- generated source in linecache --------------------------------------------------------
# A traceback holds the frames of a reverse pass (so its code objects) after the pass itself is
# gone: the source stays in linecache while any code object compiled from it, or the object
# that made it, lives, and goes with the last of them (one entry per call would never go).
_registered: dict[str, list] = {}  # filename -> [live owners, their weak references]
_sweep_at = [64]  # the table's size at which register_source next sweeps it


def register_source(filename: str, source: str, owners: list) -> None:
    """``source`` in linecache under ``filename`` for as long as one of ``owners`` lives."""
    # entries whose callback was lost (a KeyboardInterrupt inside it), swept each time the
    # table doubles (amortised O(1) a call); walked on a copy: the tuples items() makes can
    # start a collection, whose callbacks (_owner_gone) delete entries of _registered
    # ("dictionary changed size during iteration", now and then)
    if len(_registered) >= _sweep_at[0]:
        for name, (_n, refs) in _registered.copy().items():
            if all(r() is None for r in refs):
                _registered.pop(name, None)
                linecache.cache.pop(name, None)
        _sweep_at[0] = max(64, 2 * len(_registered))
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




class Emitter:
    """Binds residuals, constants and VJP functions to names in one namespace, which starts
    as ``runtime`` (the helpers the generated code calls, framead/reverse.py ``RUNTIME``)."""

    def __init__(self, runtime: dict[str, Any]) -> None:
        # (__builtins__: 3.13's warnings read it from the globals of the frame that warns)
        self.ns: dict[str, Any] = {"__builtins__": builtins, **runtime, **FORMULA_NAMES}
        self._n = 0
        self._names: dict[tuple[str, int], str] = {}  # (prefix, id of the object) -> name
        self._library = library_rule_ids()

    def check_shapes(self, rule: Any) -> bool:
        """Rules framead does not ship get their cotangent shapes checked."""
        return hasattr(rule, "fn") and id(rule) not in self._library

    def bind(self, prefix: str, obj: Any) -> str:
        """The name ``obj`` has in the namespace (one per object and prefix). A prefix that
        names a role (ends in ``_``: ``x12_`` the primal of %12, ``np_sin_vjp0_``) is the
        name itself while it is free; otherwise a number is added."""
        key = (prefix, id(obj))
        name = self._names.get(key)
        if name is not None:
            return name
        name = prefix.rstrip("_")
        if not prefix.endswith("_") or not name.isidentifier() or name in self.ns or \
                name in _GENERATED_LOCALS:
            self._n += 1
            name = f"{prefix}{self._n}"
            while name in self.ns:
                self._n += 1
                name = f"{prefix}{self._n}"
        self.ns[name] = obj  # (held here: the id in the key stays this object's)
        self._names[key] = name
        return name


# names the generated code uses for its own locals and parameters
_GENERATED_LOCALS = frozenset({"g", "ct", "ts", "t", "o", "e", "x"})


def _arg_expr(em: Emitter, node: Node, i: int, a: Any, env: bool = False) -> str:
    if isinstance(a, Value):
        if i in node.saved:
            return f"e[{a.id}]" if env else em.bind(f"x{a.id}_", a.primal)
        return em.bind(f"shape{a.id}_", a.meta())
    if type(a) in (list, tuple) and any(True for _ in values_in(a)):
        if env and i in node.saved:
            return _env_tree(em, a)
        return em.bind("k", primal_tree(a, i in node.saved))
    return em.bind("k", a)


def _env_tree(em: Emitter, a: Any) -> str:
    """Source for a container argument whose traced leaves are read from the env ``e``."""
    if isinstance(a, Value):
        return f"e[{a.id}]"
    if type(a) in (list, tuple):
        items = ", ".join(_env_tree(em, x) for x in a)
        if type(a) is list:
            return f"[{items}]"
        return f"({items},)" if len(a) == 1 else f"({items})"
    return em.bind("k", a)


def _ans_expr(em: Emitter, node: Node, env: bool = False) -> str:
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


def node_block(em: Emitter, node: Node, env: bool = False,
                inline: Any = False) -> list[str]:
    """Reverse-pass lines for ``node``; ``env``: saved primals are read from the list ``e``
    (framead.replay) instead of being bound as constants, and the commonest nodes become one
    line each (compiling Python costs per statement; replays can be long). ``inline``: the
    node's ``inline_vjp`` if already known."""
    loc = node.loc
    where = f"{loc.file}:{loc.line}"
    outs = node.outputs
    lines = [] if env else [f"# {_describe(node)}    <- {where}  {loc.source()}"[:200]]
    if env:
        if inline is False:
            inline = inline_vjp(node)
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
    fused = fused_kind(node)
    if fused is not None:
        out = outs[0].id
        head = f"if (g := ct.pop({out}, None)) is not None: "
        if fused == "getitem":
            a, key = node.args
            lines.append(f"{head}_acc_getitem(ct, {a.id}, {key_src(em, key)}, g, "
                         f"{tuple(a.shape)!r}, {em.bind('dt', a.dtype)})  # {where}")
        else:
            a, key, v = setitem_parts(node)
            vid = v.id if isinstance(v, Value) else None
            vmeta = em.bind("m", v.meta()) if vid is not None else "None"
            lines.append(f"{head}_acc_setitem(ct, {out}, "
                         f"{a.id if isinstance(a, Value) else None}, {key_src(em, key)}, {vid}, "
                         f"g, {vmeta})  # {where}")
        return lines
    if node.multi:
        metas = out_metas(node)
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
        vals = list(values_in(a))
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
                    real_from_complex(node, a):
                expr = f"_unb({expr}, {em.bind('m', a.meta())})"
            if em.check_shapes(node.rule):
                expr = f"_check({expr}, {em.bind('m', a.meta())}, {em.bind('r', node)}, {i})"
            lines.append(f"    _acc(ct, {a.id}, {expr})  # {where}")
        else:
            lines.append(f"    _acc_tree(ct, {expr}, {em.bind('ids', ids_tree(a))})"
                         f"  # {where}")
    if len(lines) == head:  # no argument has a VJP: the cotangent stops here
        lines.append("    pass")
    return lines


def key_src(em: Emitter, key: Any) -> str:
    if type(key) is int or (type(key) is tuple and all(type(k) is int for k in key)):
        return repr(key)
    return em.bind("k", key)


def _describe(node: Node) -> str:
    return format_node(node).replace("\n", " ")
