"""``framead.vmap``: map a function over a batch axis of its arguments, with JAX's semantics.

framead runs legacy code for real, so ``vmap`` runs ``f`` once per example, on copies of the
example's slices, and stacks the results: correct for any program (loops, branches on
values, in-place writes). Composition follows: ``vmap(grad(f))`` gives per-example
gradients, ``grad(lambda w: vmap(loss, in_axes=(None, 0))(w, X).sum())`` differentiates
through the loop (under a capture its slicing and stacking are recorded, see ``_Ops``), and a
cached ``f`` (``grad(f, cache=True)``, ``jit(f)``) records its trace on the first example and
replays it for the others while the recorded decisions hold.
"""

from __future__ import annotations

import functools
import operator
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import tree
from .batching_trace import NOTHING, FastPath, is_cached
from .capture import _evalframe as C
from .capture.caller_frame import trampoline
from .capture.session import outer_recorder
from .tracing import user_facing

__all__ = ["vmap"]

Axis = int | None


def vmap(f: Callable, in_axes: Any = 0, out_axes: Any = 0,
         axis_size: int | None = None, *, fast: bool | None = None) -> Callable:
    """``vmap(f, in_axes=0, out_axes=0, axis_size=None)``: ``f`` mapped over an axis of its
    arguments, as ``jax.vmap``. ``in_axes`` is an int, None, or a tuple with one entry per
    positional argument, each an int/None or a pytree prefix of that argument (an int at a node
    maps every leaf under it; None broadcasts). Keyword arguments are mapped along axis 0, as
    in JAX. ``out_axes`` (an int/None or a prefix of the output) says where the batch axis goes
    in each output leaf; None requires the output not to vary along the batch. ``f`` runs once
    per example on copies of its slices (the caller's arrays are never modified) and each
    output leaf is stacked (Python floats become float64 arrays), so any program works and
    ``vmap`` composes with ``grad``, ``jit`` and itself. A cached ``f`` (``jit(grad(f))``)
    records its trace on the first example and replays it on the others.

    One pass (framead/batching_trace.py): for a cached ``f`` (``jit(f)``, ``jit(grad(f))``,
    ``grad(f, cache=True)``, whose contract is already to replay its recording instead of
    running ``f``) vmap records ``f`` on the first example and runs the recorded operations
    once on the whole batch (elementwise operations, reductions, indexing with constant
    keys, in-place writes, matmul, ... see framead/batching_rules.py), when that is exactly
    the loop's result: mapped arguments are float arrays, every recorded decision is the
    same for every example, no random draw was recorded, every operation has a batching
    rule. Otherwise it loops. ``fast=True`` takes the one pass for any ``f`` too (asserting,
    as jit does, that ``f`` has no side effects to repeat: they then happen once per trace),
    ``fast=False`` always loops. ``vmap(f).vmap_stats``: how calls ran (``batched``, ``loop``,
    ``captures``, ``last``) and the ``reasons`` for looping.

    >>> import numpy as np, framead
    >>> def loss(w, x):
    ...     return float(np.sum((w * x) ** 2))
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0], [0.5, 0.0]])
    >>> framead.vmap(loss, in_axes=(None, 0))(np.ones(2), X)
    array([ 5.  , 25.  ,  0.25])
    >>> framead.vmap(framead.grad(loss, 1), in_axes=(None, 0))(np.ones(2), X)  # per example
    array([[2., 4.],
           [6., 8.],
           [1., 0.]])
    """
    if not callable(f):
        raise TypeError(f"vmap needs a callable, got {type(f).__name__} {f!r}")
    if axis_size is not None and (isinstance(axis_size, bool)
                                  or not isinstance(axis_size, int | np.integer)
                                  or axis_size < 1):
        raise ValueError(f"vmap: axis_size must be a positive int or None, got {axis_size!r}")
    _check_spec(in_axes, "in_axes", top=True)
    _check_spec(out_axes, "out_axes", top=False)

    if fast not in (None, True, False):
        raise TypeError(f"vmap: fast must be None, True or False, got {fast!r}")
    path = FastPath(f)
    if fast is False:
        path.off = "fast=False"
    elif fast is None and not is_cached(f):
        path.off = ("f is not a cached function (framead.jit, grad(..., cache=True)): it "
                    "runs once per example (fast=True records it and runs the batch at once)")

    @functools.wraps(f)
    @user_facing
    def mapped(*args: Any, **kwargs: Any) -> Any:
        return _run(f, in_axes, out_axes, axis_size, args, kwargs, path)

    mapped.vmap_stats = path.stats  # (not .stats: jit(vmap(f)) copies it over its own)
    return mapped


# --- axis specifications -----------------------------------------------------------------------

def _is_axis(x: Any) -> bool:
    return x is None or (isinstance(x, int | np.integer) and not isinstance(x, bool))


def _check_spec(spec: Any, name: str, top: bool) -> None:
    """``in_axes``/``out_axes`` hold only ints and None at their leaves."""
    if top and not _is_axis(spec) and not isinstance(spec, tuple | list):
        raise TypeError(f"vmap: in_axes must be an int, None, or a tuple with one entry per "
                        f"positional argument; got {type(spec).__name__} {spec!r}")
    pairs, _ = tree.flatten_with_paths(spec, is_leaf=_is_axis)
    for path, a in pairs:
        if not _is_axis(a):
            raise TypeError(f"vmap: {name}{path} must be an int or None, got "
                            f"{type(a).__name__} {a!r}")


def _leaf_axes(spec: Any, value: Any, what: str) -> tuple[list[tuple[str, Axis, Any]], Any]:
    """(path, axis, leaf) for every leaf of ``value`` in its own order, ``spec`` being a
    prefix of it (dict keys matched by name); and ``value``'s structure."""
    pairs, td = tree.flatten_with_paths(value)
    if _is_axis(spec):
        return [(what + p, spec, x) for p, x in pairs], td
    spec_axes, spec_td = tree.flatten(spec, is_leaf=_is_axis)
    numbered = tree.unflatten(td, range(len(pairs)))  # value's structure, leaves numbered
    try:
        subtrees = spec_td.flatten_up_to(numbered)
    except ValueError as e:
        raise ValueError(f"vmap: the axes given for {what} ({spec!r}) are not a prefix of its "
                         f"structure: {e}") from None
    axes: list[Axis] = [None] * len(pairs)
    for a, sub in zip(spec_axes, subtrees, strict=True):
        for k in tree.leaves(sub):
            axes[k] = a
    return [(what + p, a, x) for (p, x), a in zip(pairs, axes, strict=True)], td


def _arg_specs(in_axes: Any, args: tuple, kwargs: dict) -> list[tuple[str, Any, Any]]:
    """(name, spec, value) for every argument: positional ones with their in_axes entry,
    keyword ones mapped along axis 0."""
    if _is_axis(in_axes):
        specs: Sequence[Any] = [in_axes] * len(args)
    else:
        specs = in_axes
        if len(specs) != len(args):
            raise ValueError(f"vmap: in_axes has {len(specs)} entries ({in_axes!r}) but the "
                             f"function was called with {len(args)} positional arguments; "
                             "give one entry per positional argument")
    out = [(f"argument {i}", s, a) for i, (s, a) in enumerate(zip(specs, args, strict=True))]
    out += [(f"keyword argument {k!r}", 0, v) for k, v in kwargs.items()]
    return out


# --- the batch -----------------------------------------------------------------------------------

class _Leaf:
    """One input leaf: where it is, its normalized axis, and the value."""

    __slots__ = ("where", "axis", "value")

    def __init__(self, where: str, axis: Axis, value: Any):
        self.where, self.axis, self.value = where, axis, value


def _normalize_in(where: str, axis: Axis, value: Any) -> _Leaf:
    if axis is None:
        return _Leaf(where, None, value)
    ndim = np.ndim(value)
    if ndim == 0:
        raise ValueError(f"vmap: {where} is mapped (in_axes {axis}) but it is a "
                         f"{type(value).__name__} with no axis to map over; give None "
                         "for it in in_axes to broadcast it")
    if not -ndim <= axis < ndim:
        raise ValueError(f"vmap: in_axes {axis} is out of range for {where}, of shape "
                         f"{np.shape(value)} ({ndim} dimensions)")
    return _Leaf(where, int(axis) % ndim, value)


def _batch_size(leaves: list[_Leaf], axis_size: int | None) -> int:
    mapped = [lf for lf in leaves if lf.axis is not None]
    sizes = {np.shape(lf.value)[lf.axis] for lf in mapped}
    if axis_size is not None:
        sizes.add(int(axis_size))
    if not sizes:
        raise ValueError("vmap: no argument is mapped (every in_axes is None) and axis_size "
                         "was not given: give axis_size or map an argument")
    if len(sizes) > 1:
        lines = [f"  {lf.where}: shape {np.shape(lf.value)}, axis {lf.axis}, size "
                 f"{np.shape(lf.value)[lf.axis]}" for lf in mapped]
        if axis_size is not None:
            lines.append(f"  axis_size: {axis_size}")
        raise ValueError("vmap got inconsistent sizes for the mapped axis:\n" + "\n".join(lines))
    n = sizes.pop()
    if n == 0:
        raise ValueError("vmap: the mapped axis has size 0; framead runs f once per example "
                         "and learns its output's structure from it, so it needs at least one")
    return n


def _run(f: Callable, in_axes: Any, out_axes: Any, axis_size: int | None, args: tuple,
         kwargs: dict, path: Any = None) -> Any:
    args_tds: list[tuple[Any, list[_Leaf]]] = []
    for where, spec, value in _arg_specs(in_axes, args, kwargs):
        triples, td = _leaf_axes(spec, value, where)
        args_tds.append((td, [_normalize_in(*t) for t in triples]))
    n = _batch_size([lf for _, lfs in args_tds for lf in lfs], axis_size)
    ops = _Ops()
    moved = {(id(lf.value), lf.axis): ops.moveaxis(lf.value, lf.axis)
             for _, lfs in args_tds for lf in lfs if lf.axis is not None}
    outs: list[Any] = []
    call_f = trampoline(sys._getframe(1), f)  # f's caller: the user's line, as natively
    if path is not None:
        done, result = _one_pass(path, args_tds, moved, n, ops, len(args), list(kwargs),
                                 out_axes, outs)
        if done:
            return result
    for b in range(len(outs), n):
        example = _example(args_tds, moved, b, ops)
        npos = len(args)
        ex_args = example[:npos]
        ex_kwargs = dict(zip(kwargs, example[npos:], strict=True))
        outs.append(ops.apply(call_f, f, ex_args, ex_kwargs))
    return _stack_outputs(outs, out_axes, ops)


def _one_pass(path: Any, args_tds: list[tuple[Any, list[_Leaf]]], moved: dict, n: int,
              ops: _Ops, npos: int, kwnames: list[str], out_axes: Any,
              outs: list[Any]) -> tuple[bool, Any]:
    """The batch in one pass (framead/batching_trace.py) where it is exact: (True, result);
    else (False, None), with example 0's output put in ``outs`` when recording it ran ``f``
    on it (the loop goes on from example 1)."""
    if getattr(path, "off", None):
        path.reason(path.off)
        return False, None
    if ops.call is not None:
        path.reason("inside a capture: the loop is recorded and differentiated")
        return False, None
    if n < 2:
        path.reason("one example")
        return False, None
    index: dict[tuple[int, Axis], int] = {}
    leaves: list[tuple[Any, Axis]] = []
    for _, lfs in args_tds:
        for lf in lfs:
            key = (id(lf.value), lf.axis)
            if key not in index:
                index[key] = len(leaves)
                leaves.append((lf.value, lf.axis))

    def rebuild(xs: list) -> tuple[tuple, dict]:
        built = [tree.unflatten(td, [xs[index[(id(lf.value), lf.axis)]] for lf in lfs])
                 for td, lfs in args_tds]
        return tuple(built[:npos]), dict(zip(kwnames, built[npos:], strict=True))

    def example(b: int) -> list:
        return [ops.copy(ops.index(moved[(id(x), a)], b)) if a is not None else x
                for x, a in leaves]

    done, result, first = path.run(leaves, rebuild, n, example)
    if done:
        try:
            return True, _assemble(*result, out_axes, n)
        except _Fallback as e:
            path.stats["batched"] -= 1
            path.reason(str(e))
    if first is not NOTHING:
        outs.append(first)
    return False, None


class _Fallback(Exception):
    """The batched outputs cannot be given as the loop would: loop instead."""


def _assemble(outs: list[tuple[Any, bool]], plan: Any, out_axes: Any, n: int) -> Any:
    """The batched outputs with ``out_axes`` applied, as the loop stacks them."""
    skeleton = tree.unflatten(plan.out_treedef, [r for r, _ in outs])
    try:
        axes, _ = _leaf_axes(out_axes, skeleton, "output")
    except ValueError as e:
        raise _Fallback(str(e)) from None
    result = []
    for (r, varies), (where, axis, _) in zip(outs, axes, strict=True):
        if axis is None:
            if varies:
                raise _Fallback(f"{where} varies along the batch but out_axes is None there")
            result.append(r)
            continue
        a = r if varies else np.asarray(r)
        if a.dtype.kind not in "biufc":
            raise _Fallback(f"{where} is not a number or an array")
        if not varies:
            a = np.broadcast_to(a, (n, *a.shape))
        if not -a.ndim <= axis < a.ndim:
            raise _Fallback(f"out_axes {axis} is out of range for {where}")
        result.append(np.array(np.moveaxis(a, 0, int(axis) % a.ndim), copy=True, order="C"))
    return tree.unflatten(plan.out_treedef, result)


def _example(args_tds: list[tuple[Any, list[_Leaf]]], moved: dict[tuple[int, int], Any], b: int,
             ops: _Ops) -> list[Any]:
    """Example ``b``'s arguments: slices of the mapped leaves and copies of the unmapped
    arrays (one object given twice stays one object)."""
    made: dict[tuple[int, Axis], Any] = {}
    out = []
    for td, lfs in args_tds:
        leaves = []
        for lf in lfs:
            key = (id(lf.value), lf.axis)
            if key not in made:
                if lf.axis is not None:
                    made[key] = ops.copy(ops.index(moved[key], b))
                else:
                    made[key] = ops.copy(lf.value)
            leaves.append(made[key])
        out.append(tree.unflatten(td, leaves))
    return out


# --- outputs -----------------------------------------------------------------------------------

def _stack_outputs(outs: list[Any], out_axes: Any, ops: _Ops) -> Any:
    first_leaves, td = tree.flatten(outs[0])
    per_example = [first_leaves]
    for b, out in enumerate(outs[1:], 1):
        leaves, td_b = tree.flatten(out)
        if td_b != td:
            raise ValueError(f"vmap: f returned outputs of different structure for example 0 "
                             f"({td!r}) and example {b} ({td_b!r}); every example must return "
                             "the same structure")
        per_example.append(leaves)
    axes, _ = _leaf_axes(out_axes, outs[0], "output")
    stacked = [_stack_leaf(where, axis, [ex[j] for ex in per_example], ops)
               for j, (where, axis, _) in enumerate(axes)]
    return tree.unflatten(td, stacked)


def _stack_leaf(where: str, axis: Axis, values: list[Any], ops: _Ops) -> Any:
    if axis is None:
        for b, v in enumerate(values[1:], 1):
            if not _same(values[0], v, ops):
                raise ValueError(f"vmap has mapped output at {where} but out_axes is None "
                                 f"there: it differs between example 0 and example {b}; give "
                                 "an int out_axes to stack it")
        return values[0]
    arrays = [ops.asarray(v) for v in values]
    for v, a in zip(values, arrays, strict=True):
        if a.dtype.kind not in "biufc":
            raise TypeError(f"vmap: {where} is a {type(v).__name__}, which cannot be stacked "
                            "(numbers and arrays only); give None for it in out_axes if it "
                            "does not vary along the batch")
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        b = next(b for b, a in enumerate(arrays) if a.shape != arrays[0].shape)
        raise ValueError(f"vmap: {where} has shape {arrays[0].shape} for example 0 but "
                         f"{arrays[b].shape} for example {b}; it cannot be stacked")
    ndim = arrays[0].ndim + 1
    if not -ndim <= axis < ndim:
        raise ValueError(f"vmap: out_axes {axis} is out of range for {where}, which has "
                         f"{ndim - 1} dimensions ({ndim} with the batch axis)")
    return ops.stack(arrays, int(axis) % ndim)


def _same(a: Any, b: Any, ops: _Ops) -> bool:
    """Whether two examples' values of an unstacked output leaf are equal (NaN equal to
    NaN)."""
    if a is b:
        return True
    if isinstance(a, _NUMERIC) and isinstance(b, _NUMERIC):
        try:
            return bool(ops.equal(a, b))
        except TypeError:  # object/string arrays: no NaN to compare
            return bool(np.array_equal(a, b))
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - values that cannot be compared are not "the same"
        return False


_NUMERIC = (np.ndarray, np.generic, int, float, complex)


# --- array operations, recorded when vmap runs inside a capture -------------------------------

class _Ops:
    """The array operations ``vmap`` makes on the program's values. Outside a capture they
    run directly; inside one (``grad(lambda w: vmap(loss)(w, X).sum())``) they go through the
    capture's call probe, so they are recorded and differentiated like the same calls written
    in the program (framead's own frames are not instrumented)."""

    def __init__(self) -> None:
        self.call: Callable[..., Any] | None = None
        if outer_recorder() is not None:
            self.call = C.call

    def _do(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        if self.call is None:
            return fn(*args, **kwargs)
        return self.call(fn, *args, **kwargs)

    def apply(self, via: Callable, f: Callable, args: Sequence[Any], kwargs: dict) -> Any:
        """``f(*args, **kwargs)`` called from ``via``, ``f``'s caller trampoline
        (capture/caller_frame.py), dispatched inside a capture as the program's own call
        would be (a NumPy function given to vmap is recorded through its rule)."""
        return via(operator.call if self.call is None else self.call, f, args, kwargs)

    def moveaxis(self, x: Any, axis: int) -> Any:
        x = x if isinstance(x, np.ndarray) else self._do(np.asarray, x)
        return x if axis == 0 else self._do(np.moveaxis, x, axis, 0)

    def index(self, x: np.ndarray, b: int) -> Any:
        return self._do(operator.getitem, x, b)

    def copy(self, x: Any) -> Any:
        return self._do(np.ndarray.copy, x) if isinstance(x, np.ndarray) else x

    def asarray(self, x: Any) -> np.ndarray:
        return x if isinstance(x, np.ndarray) else self._do(np.asarray, x)

    def equal(self, a: Any, b: Any) -> bool:
        """Whether ``a`` and ``b`` hold equal values (NaN equal to NaN); inside a capture, a
        decision a cached trace re-checks."""
        return self._do(np.array_equal, a, b, equal_nan=True)

    def stack(self, arrays: list[np.ndarray], axis: int) -> np.ndarray:
        return self._do(np.stack, arrays, axis)

