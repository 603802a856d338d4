"""What a recorded node replays as (framead/replay.py): its callable, and what the replay may
assume of it (an array of the recorded class, shape and dtype without ``fit``; a view of its
arguments or not; an operator the generated source writes as one); and the static arrays a
call's replay reads from its arguments (framead/cache.py)."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .capture.primitive_rules import SETITEM_RULE, VIEW_UPDATE_RULE
from .ir import Node, Value
from .replay_graph import NotReplayable, Statics, broadcast_shape
from .replay_steps import arg_spec
from .rules.primitives import is_basic_key

SCALAR_KINDS = frozenset({float, int, complex, bool, np.float64, np.float32, np.complex128,
                           np.int64})

# operator nodes emitted as Python operators (the outer capture's probes see them as usual)
BINOPS = {operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/",
          operator.pow: "**", operator.matmul: "@", operator.floordiv: "//", operator.mod: "%"}
UNOPS = {operator.neg: "-", operator.pos: "+"}


def setitem_inplace(a: np.ndarray, key: Any, v: Any) -> np.ndarray:
    """``setitem`` on an array no other node reads: written in place instead of copied."""
    a[key] = v
    return a


def replay_callable(node: Node) -> Any:
    """The callable that recomputes ``node``'s output from its (node) arguments."""
    fn = getattr(node.rule, "fn", None)
    if not callable(fn):
        raise NotReplayable(f"{node.name} at {node.loc.file}:{node.loc.line} has no callable")
    return fn


def nth(args: tuple, k: int) -> Any:
    return args[k] if k < len(args) else None


def on_copy(fn: Any, k: int, *args: Any, **kwargs: Any) -> Any:
    """A rule that writes its argument ``k`` (``mutates``), run on a copy of it: the new
    contents (the recorded value of the write), the replay's values untouched."""
    copied = list(args)
    copied[k] = np.array(args[k], copy=True)
    r = fn(*copied, **kwargs)
    return copied[k] if r is None or r is copied[k] else r


def as_recorded(fn: Any, node: Node) -> bool:
    """Whether ``fn`` (``node``'s callable in the replay) returns an array of the recorded
    class, shape and dtype without ``fit``: a one-output ufunc called without keywords on
    arrays and scalars, its result of at least one dimension, the arguments' broadcast shape
    (NumPy 2 types results by dtypes, not values; an ``out=`` may have broadcast it), or a
    setitem copying (or writing) an array of the output's shape and dtype."""
    o = node.outputs[0]
    if node.rule is SETITEM_RULE:
        a = node.args[0]
        return fn in (SETITEM_RULE.fn, setitem_inplace) and type(a) is Value and \
            a.kind is np.ndarray and tuple(a.shape) == tuple(o.shape) and a.dtype == o.dtype
    return isinstance(fn, np.ufunc) and fn.nout == 1 and not node.kwargs and \
        len(o.shape) >= 1 and all(type(a) is not Value or a.kind is np.ndarray or
                                  a.kind in SCALAR_KINDS for a in node.args) and \
        broadcast_shape(node.args) == tuple(o.shape) and _of_dtype(node.args, o.dtype)


def _of_dtype(args: tuple, dtype: Any) -> bool:
    """Whether a ufunc's ``args`` are all of ``dtype`` (Python scalars aside, which NumPy 2
    makes the arrays' type): its result is then too, unless the ufunc changes type (a
    comparison's bool: those go through ``fit``). Not so for an in-place write recorded as
    the ufunc (``w *= b``, a float32 ``w`` and a float64 ``b``: the write rounds)."""
    for a in args:
        t = type(a)
        if t is Value:
            if a.dtype != dtype:
                return False
        elif t is not float and t is not int and t is not bool and \
                getattr(a, "dtype", None) != dtype:
            return False
    return True



def basic_view(node: Node, statics: Statics | None) -> bool:
    """Whether ``node`` (a getitem) is ``a[key]`` of an exact ndarray by a constant basic key,
    an array of ``a``'s dtype: the replay's ``a[key]`` is then of the recorded class, shape
    (``a``'s is) and dtype without ``fit``."""
    a, o = node.args[0], node.outputs[0]
    return len(node.args) == 2 and not node.kwargs and type(a) is Value and \
        a.kind is np.ndarray and o.kind is np.ndarray and o.dtype == a.dtype and \
        is_basic_key(node.args[1]) and arg_spec(node.args[1], None, statics)[0] == 0


def may_return_view(node: Node) -> bool:
    """Whether ``node``'s array outputs may share memory with its array arguments (anything
    but arithmetic operators, ufuncs without ``out=`` and framead's copying primitives)."""
    fn = getattr(node.rule, "fn", None)
    if node.rule in (SETITEM_RULE, VIEW_UPDATE_RULE):
        return False
    return not (isinstance(fn, np.ufunc) or is_operator(fn))


def is_operator(fn: Any) -> bool:
    try:
        return fn in BINOPS or fn in UNOPS
    except TypeError:  # an unhashable callable
        return False


# --- static arguments read from the call (framead/cache.py) ----------------------------------

def static_digests(sig: tuple, args: tuple, spec: Any) -> tuple:
    """(path, fingerprint) of each static array that ``sig`` (cache.py's ``_signature``)
    compares by digest: a path is an argument's index or a keyword, then the keys down the
    lists, tuples and dicts fingerprinted by value (so a call with an equal signature has an
    array of those bytes there)."""
    out: list = []
    static = [i for i in range(len(args)) if i not in spec.trees]
    for i, fp in zip(static, sig[1:1 + len(static)], strict=True):
        _digests(fp, (i,), out)
    for k, fp in sig[-2]:
        _digests(fp, (k,), out)
    return tuple(out)


def _digests(fp: Any, path: tuple, out: list) -> None:
    if type(fp) is not tuple or not fp or type(fp[0]) is not str:
        return  # (a value's fingerprint starts with its type; an _Ident is no tuple)
    if fp[0] == "array":
        if len(fp) >= 5 and fp[3] == "sha256":  # ("array", shape, dtype, "sha256", digest)
            out.append((path, fp))
    elif fp[0] in ("tuple", "list"):
        for k, f in enumerate(fp[1]):
            _digests(f, (*path, k), out)
    elif fp[0] == "dict":
        for kf, vf in fp[1]:
            if type(kf) is tuple and len(kf) == 2 and kf[0] in (str, int):  # the key itself
                _digests(vf, (*path, kf[1]), out)


def static_args(keys: list, args: tuple, kwargs: dict) -> list:
    """The call's arrays for a replay's ``static_keys``: read-only views of the arguments
    (the digest of each was checked by the signature), or a copy in the layout the trace
    read."""
    out = []
    for path, order in keys:
        a = args[path[0]] if type(path[0]) is int else kwargs[path[0]]
        for k in path[1:]:
            a = a[k]
        if type(a) is np.ndarray and (a.flags.c_contiguous if order == "C" else
                                      a.flags.f_contiguous):
            a = a.view()
        else:
            a = np.array(a, order=order)
        a.flags.writeable = False
        out.append(a)
    return out
