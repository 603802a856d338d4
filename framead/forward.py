"""Forward mode: tangents pushed through a captured graph with the rules' JVPs.

How it works
------------
``f`` is captured once, like ``grad`` does, but with ``Recorder(save_all=True)``: every
argument and result of every recorded call is kept and copy-on-write protected (as if every
rule had ``saves=None``), so after the capture each ``Value.primal`` still holds the value it
had when its node ran, even in programs that overwrite their arrays in place. Tangents are
then propagated through the nodes in execution order, calling ``Rule.call_jvp(tangents, ans,
args, kwargs)`` on the recorded primals; zero tangents are None and skip their node, so one
capture serves any number of tangent passes (``jacfwd`` runs one pass per input element).

framead's internal primitives (``setitem``, ``view_update``, ``gather_flat``: all linear)
get their JVPs here; a user rule registered with a VJP but no JVP is handled by transposing
its VJP (one VJP call per output element, real dtypes only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import tree
from .capture.primitive_rules import (
    CONST_RULE,
    COPY_RULE,
    GATHER_RULE,
    SETITEM_RULE,
    VIEW_UPDATE_RULE,
)
from .capture.recorder import Recorder
from .capture.session import internals_visible, outer_recorder
from .ir import Graph, Node, Value, active_nodes, flatten_tree, primal_tree, unflatten_tree
from .nonfinite import finite, has_nan, report_fa112, step_at
from .rules import fill_zeros, fit_tangent
from .rules import primitives as prim
from .rules.families import cotangent_dtype
from .tracing import capture, name_of, norm_argnums, report_opaque, resolve_strict, split_aux

__all__ = ["jvp", "linearize_trace", "ForwardTrace", "forward_trace", "unit_basis"]


# ----------------------------------------------------------------------------- capture

class ForwardTrace:
    """A capture made for forward mode: ``tangent(seeds)`` runs one tangent pass."""

    def __init__(self, graph: Graph, value: Any, out_treedef: Any, wrt: list[Value],
                 hazards: list):
        self.graph = graph
        self.value = value
        self.out_treedef = out_treedef
        self.wrt = wrt
        self.hazards = hazards
        self.spec: Any = None  # the differentiated arguments (framead/inputs.py)
        self.aux: Any = None  # has_aux: the second item f returned
        self.live = active_nodes(graph, wrt)  # the nodes between wrt and the outputs
        self.name = "f"  # (for messages)
        self.strict = False
        self.reported = False  # FA112 once per trace

    def tangent(self, tangents: Sequence[Any]) -> Any:
        """Tangent of the output (shaped like it) for one tangent per ``wrt`` input (None:
        zero)."""
        seeds = {v.id: t for v, t in zip(self.wrt, tangents, strict=True) if t is not None}
        tan = propagate(self.live, seeds)

        leaves = tree.leaves(self.value)
        outs = []
        for v, leaf in zip(self.graph.outputs, leaves, strict=True):
            t = tan.get(v.id) if isinstance(v, Value) else None
            outs.append(_fit_out(t, leaf))
        if not self.reported and any(map(has_nan, outs)) and all(map(finite, leaves)):
            self.reported = True
            report_nonfinite_tangent(self.live, seeds, self.name, self.strict)
        return tree.unflatten(self.out_treedef, outs)


def forward_trace(f: Callable, args: tuple, kwargs: dict, nums: tuple[int, ...],
                  strict: bool | None = None, has_aux: bool = False) -> ForwardTrace:
    """Capture ``f(*args, **kwargs)`` with ``args[nums]`` as inputs, keeping every primal
    (``has_aux``: ``f`` returns ``(out, aux)``; ``.aux`` is the second)."""
    t = capture(f, args, kwargs, nums, strict,
                rec=Recorder(strict=resolve_strict(strict), save_all=True))
    aux = split_aux(t, name_of(f)) if has_aux else None
    if t.nested:  # inside another capture (its recorder keeps every primal of the segment)
        ft = _NestedForwardTrace(t.graph, t.value, t.out_treedef, t.wrt, [])
        report_opaque(ft.live, 2)
    else:
        ft = ForwardTrace(t.graph, t.value, t.out_treedef, t.wrt, t.hazards)
        ft.name, ft.strict = name_of(f), bool(t.strict)
    ft.spec, ft.aux = t.spec, aux
    return ft


class _NestedForwardTrace(ForwardTrace):
    """A forward trace inside another capture (framead/tracing.py ``_capture_nested``): its
    tangent passes run as code the outer capture records (jacrev(jacfwd(f)), ...)."""

    reported = True  # (the outer capture's own checks apply)

    def tangent(self, tangents: Sequence[Any]) -> Any:
        with internals_visible():
            return super().tangent(tangents)


def report_nonfinite_tangent(nodes: list[Node], seeds: dict[int, Any], fname: str,
                             strict: bool) -> None:
    """FA112 for a finite result whose tangent holds a NaN (the forward twin of
    framead/nonfinite.py): the pass is run again and the first node whose JVP made a NaN out
    of NaN-free tangents is named at its user's line (GradientHazard in strict mode)."""
    if any(map(has_nan, seeds.values())):
        return
    tan = dict(seeds)
    with np.errstate(all="ignore"):
        for node in nodes:
            if _step(node, tan) and any(has_nan(tan.get(o.id)) for o in node.outputs
                                        if o is not None):
                break
        else:
            return
    report_fa112(node, f"the tangent of {fname} holds a NaN although its value is finite: it is "
                 f"born in the JVP of {node.name} for {step_at(node)}: inf * 0 or NaN * 0, "
                 "typically an infinite tangent or derivative that a mask, a clamp or "
                 "np.where's unselected branch multiplies by 0; its true contribution is 0", strict)


# ----------------------------------------------------------------------------- tangent pass

def _tangent_tree(a: Any, tan: dict) -> Any:
    """Tangent of an argument: None when zero; for containers the same structure."""
    if isinstance(a, Value):
        return tan.get(a.id)
    if type(a) in (list, tuple):
        items = [_tangent_tree(x, tan) for x in a]
        if all(x is None for x in items):
            return None
        return type(a)(items)
    return None


def _fit_out(t: Any, leaf: Any) -> Any:
    if not tree.differentiable(leaf):
        return None
    return fit_tangent(t, leaf)


def propagate(nodes: list[Node], seeds: dict[int, Any]) -> dict[int, Any]:
    """Tangents (value id -> tangent) of every value reached from ``seeds``."""
    tan = dict(seeds)
    for node in nodes:
        _step(node, tan)
    return tan


def _step(node: Node, tan: dict[int, Any]) -> bool:
    """One node's JVP, its output tangents stored in ``tan``; False where it had none."""
    ts = tuple(_tangent_tree(a, tan) for a in node.args)
    if all(t is None for t in ts):
        return False
    out = node_jvp(node, ts)
    if node.multi:
        leaves, _ = flatten_tree(out) if out is not None else ([None] * len(node.outputs), None)
        for o, t in zip(node.outputs, leaves, strict=True):
            if o is not None and t is not None:
                tan[o.id] = _array_like_primal(t, o)
    else:
        o = node.outputs[0]
        if o is not None and out is not None:
            tan[o.id] = _array_like_primal(out, o)
    return True


def _array_like_primal(t: Any, o: Value) -> Any:
    """The tangent of a 0-d array as a 0-d array: NumPy's arithmetic on 0-d arrays returns
    scalars (``a *= x`` with a 0-d ``a``: its JVP ``ta * x`` is an np.float64), and the rules
    downstream call ndarray methods on the tangent (``ndarray.item(t)``)."""
    if type(o.primal) is np.ndarray and isinstance(t, np.generic):
        return np.asarray(t)
    return t


def _ans(node: Node) -> Any:
    if node.multi:

        treedef, leaves = node.out_treedef
        prim = [o.primal if o is not None else leaf
                for o, leaf in zip(node.outputs, leaves, strict=True)]
        return unflatten_tree(treedef, prim)
    o = node.outputs[0]
    return None if o is None else o.primal


def node_jvp(node: Node, ts: tuple) -> Any:
    """Tangent of ``node``'s output(s) given its arguments' tangents (None: zero)."""
    rule = node.rule
    if rule is CONST_RULE or getattr(rule, "cut", False):
        return None
    if not node.multi and node.outputs[0] is None:
        return None
    if rule is SETITEM_RULE:
        a, key, v = node.args
        out = node.outputs[0]
        ta = ts[0] if ts[0] is not None else a.meta().zeros()
        res = np.array(ta, dtype=np.result_type(np.asarray(ta).dtype,
                                                 cotangent_dtype(out.dtype)), copy=True)
        tv = ts[2]
        if isinstance(tv, list | tuple):  # a[k] = [x0, 2.0]: zeros for the constant items
            tv = fill_zeros(tv, primal_tree(v))
        res[key] = tv if tv is not None else 0
        return res.astype(cotangent_dtype(out.dtype), copy=False)  # (float16: float32)
    if rule is VIEW_UPDATE_RULE:
        parent, child, recipe = node.args
        tp = ts[0] if ts[0] is not None else parent.meta().zeros()
        tc = ts[1] if ts[1] is not None else 0
        return prim.view_update(np.asarray(tp), tc, recipe)
    if rule is COPY_RULE:
        return ts[0]
    if rule is GATHER_RULE:
        return prim.gather_flat(np.asarray(ts[0]), node.args[1])
    args = tuple(primal_tree(a) for a in node.args)
    kwargs = {k: primal_tree(v) for k, v in node.kwargs.items()}
    ts = tuple(None if i in getattr(rule, "nondiff", ()) else t for i, t in enumerate(ts))
    ans = _ans(node)
    if getattr(rule, "jvp", None) is None:
        return _jvp_from_vjp(node, rule, ts, ans, args, kwargs)
    return rule.call_jvp(ts, ans, args, kwargs)


def _jvp_from_vjp(node: Node, rule: Any, ts: tuple, ans: Any, args: tuple,
                  kwargs: dict) -> Any:
    """A rule with a VJP and no JVP: J t row by row, one VJP call per output element (real
    values only)."""
    if not hasattr(rule, "call_vjp"):
        raise NotImplementedError(
            f"forward mode: rule {node.name!r} (used at {node.loc.file}:{node.loc.line}) has no "
            "JVP; register it with jvp=... to use jvp/jacfwd through it")
    leaves, treedef = flatten_tree(ans) if node.multi else ([ans], None)
    if any(np.iscomplexobj(x) for x in leaves if tree.differentiable(x)) or any(
            np.iscomplexobj(t) for t in ts if t is not None and not isinstance(t, list | tuple)):
        raise NotImplementedError(
            f"forward mode: rule {node.name!r} has no JVP and complex values are involved; "
            "register it with jvp=...")
    want = [i for i, t in enumerate(ts) if t is not None]
    zeros = [np.zeros(np.shape(x), dtype=np.asarray(x).dtype) if tree.differentiable(x)
             else None for x in leaves]
    outs = []
    for j, x in enumerate(leaves):
        if zeros[j] is None or (node.multi and node.outputs[j] is None):
            outs.append(None)
            continue
        col = np.zeros(zeros[j].size, dtype=zeros[j].dtype)
        for k in range(col.size):
            e = unit_basis(zeros[j], k)
            g_leaves = list(zeros)
            g_leaves[j] = e if isinstance(x, np.ndarray) else e[()]
            g = unflatten_tree(treedef, g_leaves) if node.multi else g_leaves[0]
            cts = rule.call_vjp(g, ans, args, kwargs, want)
            col[k] = sum(_dot(cts[i], ts[i]) for i in want)
        outs.append(col.reshape(zeros[j].shape) if isinstance(x, np.ndarray) else col[0])
    return unflatten_tree(treedef, outs) if node.multi else outs[0]


def unit_basis(x: Any, k: int) -> Any:
    """The k-th unit tangent (or cotangent) shaped and typed like ``x``."""
    if isinstance(x, np.ndarray):
        e = np.zeros(x.size, dtype=x.dtype)
        e[k] = 1
        return e.reshape(x.shape)
    if type(x) is float:
        return 1.0
    if isinstance(x, complex):
        return 1 + 0j
    return np.ones((), dtype=np.result_type(x))[()]


def _dot(c: Any, t: Any) -> float:
    """sum(c * t) over (possibly nested container) cotangent/tangent pairs."""
    if c is None or t is None:
        return 0.0
    if isinstance(t, list | tuple):
        return sum(_dot(ci, ti) for ci, ti in zip(c, t, strict=True))
    return float(np.sum(np.asarray(c) * np.asarray(t)))


# ----------------------------------------------------------------------------- public API

def _cast_tangent(t: Any, x: Any, i: int | str, nested: bool = False) -> Any:
    """A user tangent for primal ``x``: same shape, and x's kind (array / scalar).
    ``nested``: inside another capture, converted by recorded operations only (``float()``
    would cut the tangent's dependence on the outer inputs)."""
    if isinstance(x, np.ndarray):
        ta = np.asarray(t)
        if ta.shape != x.shape:
            raise ValueError(f"tangent {i} has shape {ta.shape}; primal {i} has shape {x.shape}")
        if ta.dtype.kind == "c" and x.dtype.kind != "c":
            raise ValueError(f"tangent {i} is complex but primal {i} is real")
        return np.array(ta, dtype=x.dtype, copy=True)
    if np.ndim(t) != 0:
        raise ValueError(f"tangent {i} has shape {np.shape(t)}; primal {i} is a scalar")
    if np.iscomplexobj(t) and not np.iscomplexobj(x):
        raise ValueError(f"tangent {i} is complex but primal {i} is real")
    if nested:
        return t * 1.0 if isinstance(t, float | np.inexact) else t + 0.0
    if type(x) is float:
        return float(t)
    if isinstance(x, complex):
        return complex(t)
    return type(x)(t)


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any], *,
        strict: bool | None = None, has_aux: bool = False, **kwargs: Any) -> tuple:
    """``out, tangent_out = jvp(f, primals, tangents)``: ``f(*primals)`` and its directional
    derivative along ``tangents`` (one per primal, shaped like it: a container for a container;
    None marks an argument or leaf that is not differentiated, e.g. an int). Forward mode: one
    capture, one tangent pass. ``has_aux=True``: ``f`` returns ``(out, aux)`` and ``jvp``
    returns ``(out, tangent_out, aux)``.

    >>> framead.jvp(lambda p: p["a"] * p["b"], ({"a": 2.0, "b": 5.0},), ({"a": 1.0, "b": 0.0},))
    (10.0, 5.0)
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    nums = tuple(i for i, t in enumerate(tangents) if t is not None)
    ft = forward_trace(f, primals, kwargs, nums, strict, has_aux=has_aux)
    nested = outer_recorder() is not None
    ts = []
    for i in nums:
        arg = ft.spec.trees[i]
        given = [tangents[i]] if arg.treedef.is_leaf else _tangent_leaves(arg, tangents[i])
        for k, (t, x, d) in enumerate(zip(given, arg.leaves, arg.diff, strict=True)):
            if not d:
                continue
            if t is None:
                ts.append(None)
            elif nested:  # the tangent may depend on the outer capture's inputs: it records
                with internals_visible():  # the cast, and the tangent pass keeps the link
                    ts.append(_cast_tangent(t, x, f"{i}{arg.paths[k]}", nested=True))
            else:
                ts.append(_cast_tangent(t, x, f"{i}{arg.paths[k]}"))
    out = (ft.value, ft.tangent(ts))
    return (*out, ft.aux) if has_aux else out


def _tangent_leaves(arg: Any, tangent: Any) -> list:
    try:
        return arg.treedef.flatten_up_to(tangent)
    except ValueError as e:
        raise ValueError(f"tangent {arg.num} does not match primal {arg.num}: {e}") from None


def linearize_trace(f: Callable, *args: Any, argnums: int | Sequence[int] = 0,
                    strict: bool | None = None, **kwargs: Any) -> ForwardTrace:
    """The ForwardTrace of ``f(*args)`` with respect to ``args[argnums]``: call
    ``.tangent([t0, ...])`` for as many tangents as wanted (one capture)."""
    nums = norm_argnums(argnums, len(args))
    return forward_trace(f, args, kwargs, nums, strict)
