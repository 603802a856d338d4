"""Batching rules: a recorded trace (framead/ir.py) run once on a whole batch of examples.

Each value of the trace is either *batched* (it depends on a mapped input: the examples'
values stacked along a new leading axis) or not (the same for every example). Each node is
looked up in a small table (``_RULES`` by callable, ``_RULE_OBJECTS`` by framead's internal
rules) whose entry computes every example's output at once with the batch axis first, as
in JAX's batching. After each node the result must have the recorded dtype and, per example,
the recorded shape; Python-float results must be finite (where Python would raise,
``ZeroDivisionError``, ``OverflowError``, ``math`` domain errors, NumPy gives inf/nan).
Anything else (a callable without a rule, keyword arguments a rule does not know, a check
that fails) raises ``Unbatchable`` and the caller runs the examples one by one.

NumPy's floating-point warnings of a node whose NumPy call the program makes itself (a ufunc,
an operator, ``@``, ``np.dot``) name the node's line, as the per-example loop's do, not this
file's (``_FpWarnings``); once per batch and kind, not once per example.
"""

from __future__ import annotations

import math
import operator
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .capture.guards import WhichArgument
from .capture.primitive_rules import (
    CONST_RULE,
    COPY_RULE,
    GATHER_RULE,
    SETITEM_RULE,
    VIEW_UPDATE_RULE,
)
from .ir import Node, Value, values_in
from .replay import same_as_recorded


class Unbatchable(Exception):
    """The trace (or this batch) cannot be run batched; the message says why."""


class Batched:
    """A value stacked over the examples (batch axis first)."""

    __slots__ = ("a",)

    def __init__(self, a: np.ndarray):
        self.a = a


def _arr(x: Any) -> Any:
    return x.a if isinstance(x, Batched) else x


def _pe_ndim(x: Any) -> int:
    """Per-example number of dimensions."""
    return x.a.ndim - 1 if isinstance(x, Batched) else np.ndim(x)


def _align(xs: list[Any]) -> list[Any]:
    """Operands for NumPy broadcasting with the batch axis first: a batched operand of lower
    per-example rank gets size-1 axes after its batch axis (unbatched ones broadcast from the
    right as they would per example)."""
    r = max((_pe_ndim(x) for x in xs), default=0)
    out = []
    for x in xs:
        if isinstance(x, Batched):
            a = x.a
            k = a.ndim - 1
            out.append(a.reshape(a.shape[:1] + (1,) * (r - k) + a.shape[1:]) if k < r else a)
        else:
            out.append(x)
    return out


# --- rules: (args, kwargs) with batched args as Batched -> Batched or plain value ---------

_UFUNC_NAMES = {operator.add: "add", operator.sub: "subtract", operator.mul: "multiply",
                operator.truediv: "divide", operator.pow: "power",
                operator.floordiv: "floor_divide", operator.mod: "remainder",
                operator.neg: "negative", operator.pos: "positive", operator.abs: "absolute",
                operator.matmul: "matmul"}


def _elementwise(fn: Callable) -> Callable:
    def rule(args: list, kwargs: dict) -> Any:
        if kwargs:
            raise Unbatchable(f"keyword arguments {sorted(kwargs)}")
        return Batched(np.asarray(fn(*_align(args))))
    rule.fp_name = (fn.__name__ if isinstance(fn, np.ufunc)  # type: ignore[attr-defined]
                    else _UFUNC_NAMES.get(fn))
    return rule


def _to_float(args: list, kwargs: dict) -> Any:
    (x,) = args
    a = x.a
    if kwargs or a.dtype.kind not in "fiub" or a[0].size != 1:
        raise Unbatchable("float() of a non-real or non-scalar value")
    return Batched(a.reshape(a.shape[0]).astype(np.float64))


_REDUCE_KW = {"axis", "keepdims"}


def _reduction(fn: Callable, extra: frozenset = frozenset()) -> Callable:
    def rule(args: list, kwargs: dict) -> Any:
        x = args[0]
        if len(args) > 2 or not set(kwargs) <= _REDUCE_KW | extra:
            raise Unbatchable("unsupported arguments")
        kw = dict(kwargs)
        if len(args) == 2:
            if "axis" in kw:
                raise Unbatchable("axis given twice")
            kw["axis"] = args[1]
        kw["axis"] = _shift_axes(kw.get("axis"), _pe_ndim(x))
        return Batched(np.asarray(fn(x.a, **kw)))
    return rule


def _shift_axes(axis: Any, nd: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(1, nd + 1))
    axes = axis if isinstance(axis, tuple) else (axis,)
    if not all(isinstance(a, int | np.integer) and not isinstance(a, bool) for a in axes):
        raise Unbatchable(f"axis {axis!r}")
    if any(not -nd <= a < nd for a in axes):
        raise Unbatchable(f"axis {axis!r} out of range")
    return tuple(int(a) % nd + 1 for a in axes)


def _reshape(args: list, kwargs: dict, out: Value) -> Any:
    if kwargs not in ({}, {"order": "C"}):
        raise Unbatchable("reshape order")
    a = args[0].a
    return Batched(a.reshape(a.shape[:1] + tuple(out.shape)))


def _transpose(args: list, kwargs: dict) -> Any:
    a = args[0].a
    nd = a.ndim - 1
    axes = kwargs.get("axes", args[1] if len(args) > 1 else None)
    if len(args) > 2 or set(kwargs) - {"axes"}:
        raise Unbatchable("unsupported arguments")
    perm = tuple(reversed(range(nd))) if axes is None else tuple(int(i) % nd for i in axes)
    return Batched(a.transpose((0, *(p + 1 for p in perm))))


def _swapaxes(args: list, kwargs: dict) -> Any:
    a, i, j = args[0].a, *args[1:]
    if kwargs or isinstance(i, Batched | bool) or isinstance(j, Batched | bool):
        raise Unbatchable("unsupported arguments")
    nd = a.ndim - 1
    return Batched(np.swapaxes(a, int(i) % nd + 1, int(j) % nd + 1))


def _broadcast_to(args: list, kwargs: dict) -> Any:
    x, shape = args[0], kwargs.get("shape", args[1] if len(args) > 1 else None)
    if len(args) > 2 or set(kwargs) - {"shape"} or isinstance(shape, Batched):
        raise Unbatchable("unsupported arguments")
    shape = tuple(shape) if isinstance(shape, tuple | list) else (shape,)
    a = x.a
    k = a.ndim - 1
    if k > len(shape):
        raise Unbatchable("broadcast_to a lower rank")
    a = a.reshape(a.shape[:1] + (1,) * (len(shape) - k) + a.shape[1:])
    return Batched(np.broadcast_to(a, a.shape[:1] + shape))


def _asarray(args: list, kwargs: dict) -> Any:
    if len(args) != 1 or set(kwargs) - {"dtype"}:
        raise Unbatchable("unsupported arguments")
    return Batched(np.asarray(args[0].a, **kwargs))


def _array(args: list, kwargs: dict) -> Any:
    if len(args) != 1 or set(kwargs) - {"copy", "order", "dtype"} or \
            kwargs.get("order", "K") not in ("C", "K", "A"):
        raise Unbatchable("unsupported arguments")
    return Batched(np.array(args[0].a, copy=True, dtype=kwargs.get("dtype")))


def _copy(args: list, kwargs: dict) -> Any:
    if len(args) != 1 or kwargs:
        raise Unbatchable("unsupported arguments")
    return Batched(np.array(args[0].a, copy=True))


def _batched_key(key: Any) -> tuple:
    """``key`` (per example, no traced values) with the batch axis in front, or Unbatchable
    where NumPy would place the result's axes differently (several advanced indices)."""
    keys = key if isinstance(key, tuple) else (key,)
    adv = [k for k in keys if isinstance(k, np.ndarray | list)]
    for k in keys:
        ok = k is None or k is Ellipsis or isinstance(k, slice) or (
            isinstance(k, int | np.integer) and not isinstance(k, bool))
        if not ok and not isinstance(k, np.ndarray | list):
            raise Unbatchable(f"index {k!r}")
    if adv:
        if len(keys) != 1:
            raise Unbatchable("an advanced index with other indices")
        a = np.asarray(adv[0])
        if a.dtype.kind not in "iub" or (a.dtype.kind == "b" and a.ndim == 0):
            raise Unbatchable("an advanced index that is not an int or bool array")
    return (slice(None), *keys)


def _static(x: Any) -> bool:
    return not isinstance(x, Batched) and not any(True for _ in values_in([x]))


def _getitem(args: list, kwargs: dict) -> Any:
    a, key = args
    if kwargs or not _static(key) or not isinstance(a.a, np.ndarray):
        raise Unbatchable("a traced index")
    return Batched(a.a[_batched_key(key)])


def _lift(x: Any, n: int) -> np.ndarray:
    """An unbatched array repeated over the batch (a fresh array)."""
    x = np.asarray(x)
    return np.array(np.broadcast_to(x, (n, *x.shape)), copy=True)


def _setitem(args: list, kwargs: dict, n: int) -> Any:
    a, key, v = args
    if kwargs or not _static(key):
        raise Unbatchable("a traced index")
    out = np.array(a.a, copy=True, order="C") if isinstance(a, Batched) else _lift(a, n)
    bkey = _batched_key(key)
    if isinstance(v, Batched):
        target = out[bkey].ndim - 1
        va = v.a
        if va.ndim - 1 > target:
            raise Unbatchable("a value of higher rank than its target")
        v = va.reshape(va.shape[:1] + (1,) * (target - va.ndim + 1) + va.shape[1:])
    elif not _static(v):
        raise Unbatchable("a container value")
    out[bkey] = v
    return Batched(out)


def _view_update(args: list, kwargs: dict, n: int) -> Any:
    parent, child, recipe = args
    if not kwargs and isinstance(recipe, tuple) and len(recipe) == 2 and \
            recipe[0] == "getitem" and _is_basic(recipe[1]):  # a view written: a[key] = child
        return _setitem([parent, recipe[1], child], {}, n)
    if kwargs or not (isinstance(recipe, tuple) and recipe and recipe[0] == "index"):
        raise Unbatchable(f"view recipe {recipe!r}")
    idx = np.asarray(recipe[1])
    out = np.array(parent.a, copy=True, order="C") if isinstance(parent, Batched) else \
        _lift(parent, n)
    flat = out.reshape(n, -1)
    if isinstance(child, Batched):
        c = child.a
        if c.ndim - 1 > idx.ndim:
            raise Unbatchable("a value of higher rank than its target")
        child = c.reshape(c.shape[:1] + (1,) * (idx.ndim - c.ndim + 1) + c.shape[1:])
    flat[:, idx] = child
    return Batched(out)


def _is_basic(key: Any) -> bool:
    keys = key if isinstance(key, tuple) else (key,)
    return all(k is None or k is Ellipsis or isinstance(k, slice) or (
        isinstance(k, int | np.integer) and not isinstance(k, bool)) for k in keys)


def _gather_flat(args: list, kwargs: dict, n: int) -> Any:
    root, idx = args
    if kwargs or isinstance(idx, Batched):
        raise Unbatchable("a traced index")
    return Batched(root.a.reshape(n, -1)[:, np.asarray(idx)])


def _matmul(fn: Callable) -> Callable:
    def rule(args: list, kwargs: dict) -> Any:
        if kwargs or len(args) != 2:
            raise Unbatchable("unsupported arguments")
        x, y = args
        rx, ry = _pe_ndim(x), _pe_ndim(y)
        if rx == 0 or ry == 0 or (fn is np.dot and (rx > 2 or ry > 2)):
            raise Unbatchable("np.dot of scalars or of arrays of more than 2 dimensions")
        if rx == 1 and ry == 1:  # inner product per example
            if isinstance(x, Batched) and isinstance(y, Batched):
                return Batched(np.matmul(x.a[:, None, :], y.a[:, :, None])[:, 0, 0])
            b, u = (x, y) if isinstance(x, Batched) else (y, x)
            return Batched(np.matmul(b.a, u))
        xa, ya, squeeze = _arr(x), _arr(y), None
        if rx == 1:  # (k,) @ (..., k, m): a row vector, its axis removed after
            xa, rx, squeeze = xa[..., None, :], 2, -2
        if ry == 1:  # (..., n, k) @ (k,): a column vector
            ya, ry, squeeze = ya[..., :, None], 2, -1
        if isinstance(x, Batched) and isinstance(y, Batched) and rx != ry:
            if rx < ry:
                xa = xa.reshape(xa.shape[:1] + (1,) * (ry - rx) + xa.shape[1:])
            else:
                ya = ya.reshape(ya.shape[:1] + (1,) * (rx - ry) + ya.shape[1:])
        elif not isinstance(x, Batched) and rx > ry:  # an unbatched operand of higher rank
            ya = ya.reshape(ya.shape[:1] + (1,) * (rx - ry) + ya.shape[1:])
        elif not isinstance(y, Batched) and ry > rx:
            xa = xa.reshape(xa.shape[:1] + (1,) * (ry - rx) + xa.shape[1:])
        r = np.matmul(xa, ya)
        return Batched(r if squeeze is None else np.squeeze(r, squeeze))
    rule.fp_name = fn.__name__  # type: ignore[attr-defined]
    return rule


_MATH = {math.sin: np.sin, math.cos: np.cos, math.tan: np.tan, math.exp: np.exp,
         math.log: np.log, math.sqrt: np.sqrt, math.tanh: np.tanh, math.sinh: np.sinh,
         math.cosh: np.cosh, math.atan: np.arctan, math.asin: np.arcsin,
         math.acos: np.arccos, math.log10: np.log10, math.log2: np.log2,
         math.expm1: np.expm1, math.log1p: np.log1p, math.fabs: np.fabs,
         math.atan2: np.arctan2, math.hypot: np.hypot, math.pow: np.power}

_RULES: dict[Any, Callable] = {fn: _elementwise(fn) for fn in (
    operator.add, operator.sub, operator.mul, operator.truediv, operator.pow,
    operator.floordiv, operator.mod, operator.neg, operator.pos, operator.abs,
    operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne)}
_RULES.update({fn: _elementwise(u) for fn, u in _MATH.items()})
_RULES.update({abs: _elementwise(np.abs), float: _to_float, np.where: _elementwise(np.where),
               np.sum: _reduction(np.sum), np.mean: _reduction(np.mean),
               np.max: _reduction(np.max), np.min: _reduction(np.min),
               np.amax: _reduction(np.amax), np.amin: _reduction(np.amin),
               np.prod: _reduction(np.prod),
               np.std: _reduction(np.std, frozenset({"ddof"})),
               np.var: _reduction(np.var, frozenset({"ddof"})),
               np.transpose: _transpose, np.swapaxes: _swapaxes,
               np.broadcast_to: _broadcast_to, np.asarray: _asarray, np.copy: _copy,
               np.array: _array,
               operator.getitem: _getitem, operator.matmul: _matmul(np.matmul),
               np.matmul: _matmul(np.matmul), np.dot: _matmul(np.dot)})
_SHAPED = {np.reshape, np.ndarray.reshape}  # rules that read the recorded output shape


def _rule_objects() -> dict[Any, Callable]:
    return {SETITEM_RULE: _setitem, VIEW_UPDATE_RULE: _view_update,
            GATHER_RULE: _gather_flat}


_FLOAT_KINDS = (float,)  # Python floats: results where Python would have raised are refused


def _rule_for(node: Node) -> tuple[Callable, str] | None:
    """(rule, how it is called) for ``node``, or None."""
    if node.rule is COPY_RULE:
        return _copy, "plain"
    by_obj = _rule_objects().get(node.rule)
    if by_obj is not None:
        return by_obj, "n"
    fn = getattr(node.rule, "fn", None)
    if node.name == "attr.T":
        return _transpose, "plain"
    try:
        if fn in _SHAPED:
            return _reshape, "out"
        rule = _RULES.get(fn)
    except TypeError:  # an unhashable callable
        return None
    if rule is None and isinstance(fn, np.ufunc) and fn.nout == 1:
        rule = _RULES[fn] = _elementwise(fn)
    return (rule, "plain") if rule is not None else None


def _resolve(x: Any, env: dict[int, Any]) -> Any:
    if isinstance(x, Value):
        return env[x.id]
    if type(x) in (list, tuple):
        items = [_resolve(v, env) for v in x]
        if any(isinstance(v, Batched) for v in items):
            raise Unbatchable("a batched value inside a list or tuple argument")
        return type(x)(items)
    return x


def _call(node_or_guard: Any, fn_rule: tuple[Callable, str], args: list, kwargs: dict,
          n: int, out: Value | None) -> Any:
    rule, how = fn_rule
    if how == "n":
        return rule(args, kwargs, n)
    if how == "out":
        return rule(args, kwargs, out)
    return rule(args, kwargs)


def _check(node: Node, v: Value, r: Any, n: int) -> None:
    """The batched result ``r`` has the recorded dtype and per-example shape."""
    a = _arr(r)
    shape = np.shape(a)
    want = (n, *v.shape) if isinstance(r, Batched) else tuple(v.shape)
    dtype = np.result_type(a) if v.dtype is not None else None
    if shape != want or (dtype is not None and dtype != np.dtype(v.dtype)):
        raise Unbatchable(f"{node.name} at {node.loc.file}:{node.loc.line} gave shape "
                          f"{shape} and dtype {dtype} batched, expected {want} and {v.dtype}")
    if v.kind in _FLOAT_KINDS and isinstance(r, Batched) and not np.all(np.isfinite(a)):
        raise Unbatchable(f"{node.name} at {node.loc.file}:{node.loc.line} gave a non-finite "
                          "Python float for some example (Python may raise there)")


def check_nodes(nodes: list[Node]) -> str | None:
    """Why ``nodes`` cannot be batched (a node without a batching rule), or None."""
    for node in nodes:
        if node.rule is CONST_RULE:
            continue
        if node.multi or len(node.outputs) != 1 or _rule_for(node) is None:
            return f"no batching rule for {node.name} at {node.loc.file}:{node.loc.line}"
        kind = node.outputs[0].kind if node.outputs[0] is not None else None
        if kind is None or not (kind in _FLOAT_KINDS or issubclass(kind, np.ndarray | np.generic)):
            return (f"{node.name} at {node.loc.file}:{node.loc.line} makes a "
                    f"{getattr(kind, '__name__', kind)}, not an array or float")
    return None


def run(nodes: list[Node], guards: tuple, inputs: dict[int, Any], batched: set[int],
        n: int) -> dict[int, Any]:
    """Every node's value over the batch (``Batched`` where it varies), from ``inputs``
    (value id -> array with the batch axis first where its id is in ``batched``); every guard
    must hold for every example. Raises Unbatchable."""
    env: dict[int, Any] = {i: (Batched(x) if i in batched else x) for i, x in inputs.items()}
    fp = _FpWarnings.start()
    if fp is None:
        return _run(nodes, guards, env, n, None)
    with np.errstate(call=fp.noted, **fp.kinds):
        env = _run(nodes, guards, env, n, fp)
    fp.issue()
    return env


def _run(nodes: list[Node], guards: tuple, env: dict[int, Any], n: int,
         fp: _FpWarnings | None) -> dict[int, Any]:
    order = sorted([(g[0], 0, g) for g in guards] + [(k, 1, nd) for k, nd in enumerate(nodes)],
                   key=lambda t: (t[0], t[1]))
    for _, kind, item in order:
        if kind == 0:
            if fp is None:
                _guard(item, env, n)
            else:
                with np.errstate(**fp.native):
                    _guard(item, env, n)
            continue
        node = item
        out = node.outputs[0]
        if node.rule is CONST_RULE:
            env[out.id] = out.primal
            continue
        args = [_resolve(a, env) for a in node.args]
        kwargs = {k: _resolve(v, env) for k, v in node.kwargs.items()}
        fn_rule = _rule_for(node)
        if fp is not None and getattr(fn_rule[0] if fn_rule else None, "fp_name", None) is None:
            with np.errstate(**fp.native):  # (NumPy's own Python code warns, as natively)
                r = _eval(node, fn_rule, args, kwargs, n, out)
        else:
            r = _eval(node, fn_rule, args, kwargs, n, out)
            if fp is not None and fp.raised:
                fp.at(node, fn_rule)
        _check(node, out, r, n)
        env[out.id] = r
    return env


def _eval(node: Node, fn_rule: Any, args: list, kwargs: dict, n: int, out: Value) -> Any:
    if not any(isinstance(a, Batched) for a in (*args, *kwargs.values())):
        return node.rule.fn(*args, **kwargs)  # the same for every example
    return _call(node, fn_rule, args, kwargs, n, out)


class _FpWarnings:
    """NumPy's floating-point warnings of a batched run, issued at the nodes' lines: the kinds
    the program's error state warns for are handled by ``noted`` (``np.errstate(call=...)``)
    instead, and once the run is through each node's become ``RuntimeWarning("<kind>
    encountered in <ufunc>")`` at the node's file and line, with its module's registry
    (filters, "once per place" as natively). A node without a NumPy name (reductions:
    NumPy's own Python code warns, natively too) warns here as before."""

    __slots__ = ("kinds", "native", "raised", "pending")

    def __init__(self, kinds: dict[str, str]):
        self.kinds = kinds
        self.native = dict.fromkeys(kinds, "warn")
        self.raised: list[str] = []
        self.pending: list[tuple[str, Any]] = []

    @classmethod
    def start(cls) -> _FpWarnings | None:
        modes = np.geterr()
        if any(m in ("call", "log") for m in modes.values()):
            return None  # (the program's handler sees every kind: left as it is)
        kinds = {k: "call" for k, m in modes.items() if m == "warn"}
        return cls(kinds) if kinds else None

    def noted(self, err: str, flag: int) -> None:
        self.raised.append(err)

    def at(self, node: Node, fn_rule: tuple[Callable, str] | None) -> None:
        """The kinds noted since the last node are ``node``'s (it has a NumPy name)."""
        name = getattr(fn_rule[0], "fp_name", None) if fn_rule is not None else None
        for err in dict.fromkeys(self.raised):
            self.pending.append((f"{err} encountered in {name}", node.loc))
        self.raised.clear()

    def issue(self) -> None:
        for msg, loc in self.pending:
            g = _module_globals(loc.file)
            registry = g.setdefault("__warningregistry__", {}) if g is not None else None
            warnings.warn_explicit(msg, RuntimeWarning, loc.file, loc.line,
                                   module=g.get("__name__") if g is not None else None,
                                   registry=registry, module_globals=g)


_GLOBALS: dict[str, Any] = {}


def _module_globals(file: str) -> dict | None:
    """The globals of the loaded module whose file is ``file`` (its warnings registry)."""
    g = _GLOBALS.get(file)
    if g is None:
        for m in list(sys.modules.values()):
            if getattr(m, "__file__", None) == file:
                g = _GLOBALS[file] = vars(m)
                break
    return g


# identities decided by the argument's type and dtype alone (np.asarray(a) is a for an
# array of that dtype), the same for every example: min(x, y) returning x is not one
_TYPE_DECIDED = (np.asarray, np.asanyarray, np.ascontiguousarray, float)


def _guard(guard: tuple, env: dict[int, Any], n: int) -> None:
    _, fn, gargs, gkwargs, recorded, loc = guard
    if isinstance(fn, WhichArgument) and any(fn.fn is t for t in _TYPE_DECIDED):
        return
    args = [_resolve(a, env) for a in gargs]
    kwargs = {k: _resolve(v, env) for k, v in gkwargs.items()}
    where = f"the decision at {loc.file}:{loc.line}"
    if not any(isinstance(a, Batched) for a in (*args, *kwargs.values())):
        if not same_as_recorded(fn(*args, **kwargs), recorded):
            raise Unbatchable(f"{where} differs from the recorded one")
        return
    try:
        rule = _RULES.get(fn)
    except TypeError:
        rule = None
    if rule is None and isinstance(fn, np.ufunc) and fn.nout == 1:
        rule = _elementwise(fn)
    if rule is None or not isinstance(recorded, bool | int | float | np.generic | np.ndarray):
        raise Unbatchable(f"{where} ({getattr(fn, '__name__', fn)!s}) cannot be checked batched")
    r = rule(args, kwargs)
    rec = np.asarray(recorded)
    if r.a.shape != (n, *rec.shape) or not np.array_equal(r.a, np.broadcast_to(rec, r.a.shape)):
        raise Unbatchable(f"{where} is not the same for every example")
