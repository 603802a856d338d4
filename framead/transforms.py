"""Jacobians and Hessians: ``jacfwd`` (forward mode), ``jacrev`` (reverse mode), ``hessian``.

Layout follows JAX: the Jacobian of an output leaf of shape ``S_out`` with respect to an
argument of shape ``S_in`` has shape ``S_out + S_in``; a tuple ``argnums`` gives a tuple of
Jacobians; a tuple/list output gives the same structure with a Jacobian per leaf.
Both capture ``f`` once: ``jacfwd`` then runs one tangent pass per input element,
``jacrev`` one reverse pass per output element.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .ir import flatten_tree, unflatten_tree

__all__ = ["jacfwd", "jacrev", "hessian"]


def _leaf_shape(x: Any) -> tuple[int, ...]:
    return tuple(np.shape(x))


def _basis(x: Any, k: int) -> Any:
    """The k-th unit tangent/cotangent shaped and typed like ``x``."""
    if isinstance(x, np.ndarray):
        e = np.zeros(x.size, dtype=x.dtype)
        e[k] = 1
        return e.reshape(x.shape)
    if type(x) is float:
        return 1.0
    if isinstance(x, complex):
        return 1 + 0j
    return np.ones((), dtype=np.result_type(x))[()]


def _jac_dtype(out_leaf: Any, ins: list[Any]) -> Any:
    return np.result_type(*[np.asarray(a).dtype for a in (out_leaf, *ins)], np.float16)


def _assemble(out_leaves: list[Any], in_leaves: list[Any],
              columns: list[list[list[Any]]], out_major: bool) -> list[list[Any]]:
    """jac[o][i] arrays of shape out_shape + in_shape.

    ``columns[i][k][o]`` (forward: input i, element k) or ``columns[o][k][i]`` (reverse)."""
    jacs: list[list[Any]] = []
    for o, ol in enumerate(out_leaves):
        row = []
        for i, il in enumerate(in_leaves):
            so, si = _leaf_shape(ol), _leaf_shape(il)
            dt = _jac_dtype(ol, [il])
            mo, mi = int(np.prod(so, dtype=np.int64)), int(np.prod(si, dtype=np.int64))
            if out_major:  # rows: one per output element
                m = np.zeros((mo, mi), dtype=dt)
                for k in range(mo):
                    v = columns[o][k][i]
                    if v is not None:
                        m[k, :] = np.asarray(v).reshape(-1)
            else:
                m = np.zeros((mo, mi), dtype=dt)
                for k in range(mi):
                    v = columns[i][k][o]
                    if v is not None:
                        m[:, k] = np.asarray(v).reshape(-1)
            row.append(m.reshape(so + si))
        jacs.append(row)
    return jacs


def _pack(jacs: list[list[Any]], treedef: Any, argnums: int | Sequence[int]) -> Any:

    per_leaf = [r[0] if isinstance(argnums, int) else tuple(r) for r in jacs]
    return unflatten_tree(treedef, per_leaf)


def jacfwd(f: Callable, argnums: int | Sequence[int] = 0, *,
           strict: bool | None = None) -> Callable:
    """``jacfwd(f)(*args)``: the Jacobian of ``f`` with respect to ``args[argnums]`` by
    forward mode (one capture, one tangent pass per input element)."""
    from .api import _norm_argnums, _user_facing
    from .forward import forward_trace

    @functools.wraps(f)
    @_user_facing
    def wrapper(*args: Any, **kwargs: Any):
        from .capture.session import internals_visible, outer_recorder

        nums = _norm_argnums(argnums, len(args))
        ft = forward_trace(f, args, kwargs, nums, strict)
        if outer_recorder() is not None:  # inside a capture: let it see the assembly too
            with internals_visible():
                return _forward_jacobian(ft, args, nums, argnums)
        return _forward_jacobian(ft, args, nums, argnums)

    return wrapper


def _forward_jacobian(ft: Any, args: tuple, nums: tuple[int, ...], argnums: Any) -> Any:
    """One tangent pass per input element of a forward trace, assembled JAX-style."""
    out_leaves, treedef = flatten_tree(ft.value)
    ins = [args[i] for i in nums]
    columns = []
    for i, x in enumerate(ins):
        cols = []
        for k in range(int(np.size(x))):
            ts = [None] * len(ins)
            ts[i] = _basis(x, k)
            cols.append(flatten_tree(ft.tangent(ts))[0])
        columns.append(cols)
    return _pack(_assemble(out_leaves, ins, columns, out_major=False), treedef, argnums)


def jacrev(f: Callable, argnums: int | Sequence[int] = 0, *,
           strict: bool | None = None) -> Callable:
    """``jacrev(f)(*args)``: the Jacobian of ``f`` with respect to ``args[argnums]`` by
    reverse mode (one capture through ``framead.vjp``, one reverse pass per output element)."""
    from .api import _norm_argnums, _user_facing
    from .api import vjp as _vjp

    @functools.wraps(f)
    @_user_facing
    def wrapper(*args: Any, **kwargs: Any):
        from .capture.session import internals_visible, outer_recorder

        nums = _norm_argnums(argnums, len(args))
        out, f_vjp = _vjp(f, *args, argnums=nums, strict=strict, **kwargs)
        if outer_recorder() is not None:  # inside a capture: let it see the assembly too
            with internals_visible():
                return _jacrev_assemble(out, f_vjp, args, nums, argnums)
        return _jacrev_assemble(out, f_vjp, args, nums, argnums)

    return wrapper


def _jacrev_assemble(out: Any, f_vjp: Callable, args: tuple, nums: tuple[int, ...],
                     argnums: Any) -> Any:
    """One reverse pass per output element, assembled JAX-style."""
    out_leaves, treedef = flatten_tree(out)
    ins = [args[i] for i in nums]
    rows = []
    for o, ol in enumerate(out_leaves):
        r = []
        if not (isinstance(ol, float | complex | np.inexact) or (
                isinstance(ol, np.ndarray) and ol.dtype.kind in "fc")):
            rows.append(r)
            continue
        for k in range(int(np.size(ol))):
            cts = [None] * len(out_leaves)
            cts[o] = _basis(ol, k)
            r.append(list(f_vjp(unflatten_tree(treedef, cts))))
        rows.append(r)
    jacs = []
    for o, ol in enumerate(out_leaves):
        if not rows[o]:  # integer/boolean output: no derivative
            jacs.append([np.zeros(_leaf_shape(ol) + _leaf_shape(x)) for x in ins])
        else:
            jacs.append(_assemble([ol], ins, [rows[o]], out_major=True)[0])
    return _pack(jacs, treedef, argnums)


def hessian(f: Callable, argnums: int | Sequence[int] = 0, *,
            strict: bool | None = None) -> Callable:
    """``hessian(f)(*args)``: second derivatives of a scalar ``f``, ``jacfwd(jacrev(f))``
    (forward-over-reverse): the inner reverse pass runs as code the outer forward capture
    records (framead/replay.py), so every rule's VJP is differentiated by the rules' JVPs."""
    return jacfwd(jacrev(f, argnums, strict=strict), argnums, strict=strict)
