"""Jacobians and Hessians: ``jacfwd`` (forward mode), ``jacrev`` (reverse mode), ``hessian``.

Layout follows JAX: the Jacobian of an output leaf of shape ``S_out`` with respect to an
argument of shape ``S_in`` has shape ``S_out + S_in``; a tuple ``argnums`` gives a tuple of
Jacobians; a tuple/list output gives the same structure with a Jacobian per leaf.
Both capture ``f`` once: ``jacfwd`` then runs one tangent pass per input element,
``jacrev`` one reverse pass per output element.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import tree
from .api import vjp
from .capture.session import internals_visible, outer_recorder
from .capture.sourceloc import user_stacklevel
from .errors import GradientWarning
from .forward import forward_trace, unit_basis
from .inputs import Differentiated
from .tracing import norm_argnums, user_facing

__all__ = ["jacfwd", "jacrev", "hessian"]


def _leaf_shape(x: Any) -> tuple[int, ...]:
    return tuple(np.shape(x))


def _jac_dtype(out_leaf: Any, ins: list[Any]) -> Any:
    dts = [np.asarray(a).dtype for a in (out_leaf, *ins)]
    # an output that is not a number (a string) has no derivative: its zeros are floats
    return np.result_type(*[dt for dt in dts if dt.kind in "biufc"], np.float16)


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


def _pack(jacs: list[list[Any]], treedef: Any, argnums: int | Sequence[int],
          spec: Differentiated) -> Any:
    """The Jacobians in JAX's layout: the output's structure, and in each output leaf's place
    the differentiated arguments' structures (one per argnum; a tuple for tuple argnums)."""
    per_leaf = []
    for row in jacs:
        per_arg = spec.pack(row, lambda j, x: j)
        per_leaf.append(per_arg[0] if isinstance(argnums, int) else per_arg)
    return tree.unflatten(treedef, per_leaf)


def jacfwd(f: Callable, argnums: int | Sequence[int] = 0, *,
           strict: bool | None = None, has_aux: bool = False) -> Callable:
    """``jacfwd(f)(*args)``: the Jacobian of ``f`` with respect to ``args[argnums]`` by
    forward mode (one capture, one tangent pass per input element). Containers of inputs and
    outputs give JAX's nested layout; ``has_aux=True``: ``f`` returns ``(out, aux)`` and the
    result is ``(jacobian, aux)``.

    >>> framead.jacfwd(lambda x: x ** 2)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    @functools.wraps(f)
    @user_facing
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nums = norm_argnums(argnums, len(args))
        ft = forward_trace(f, args, kwargs, nums, strict, has_aux=has_aux)
        if outer_recorder() is not None:  # inside a capture: let it see the assembly too
            with internals_visible():
                jac = _forward_jacobian(ft, argnums)
        else:
            jac = _forward_jacobian(ft, argnums)
            hazards = getattr(ft, "hazards", ())
            if hazards and not any(np.any(leaf) for leaf in tree.leaves(jac)):
                warnings.warn(GradientWarning(  # (a zero Jacobian a hazard may explain)
                    f"the Jacobian of {getattr(f, '__qualname__', f)} is zero, and framead "
                    f"reported {len(hazards)} hazard(s) that may explain it: {hazards[0]}"),
                    stacklevel=user_stacklevel())
        return (jac, ft.aux) if has_aux else jac

    return wrapper


def _forward_jacobian(ft: Any, argnums: Any) -> Any:
    """One tangent pass per input element of a forward trace, assembled JAX-style."""
    out_leaves, treedef = tree.flatten(ft.value)
    ins = ft.spec.leaves()
    columns = []
    for i, x in enumerate(ins):
        cols = []
        for k in range(int(np.size(x))):
            ts = [None] * len(ins)
            ts[i] = unit_basis(x, k)
            # one tangent per output leaf: None (an int, a string output) keeps its place
            cols.append(treedef.flatten_up_to(ft.tangent(ts)))
        columns.append(cols)
    return _pack(_assemble(out_leaves, ins, columns, out_major=False), treedef, argnums,
                 ft.spec)


def jacrev(f: Callable, argnums: int | Sequence[int] = 0, *,
           strict: bool | None = None, has_aux: bool = False) -> Callable:
    """``jacrev(f)(*args)``: the Jacobian of ``f`` with respect to ``args[argnums]`` by
    reverse mode (one capture through ``framead.vjp``, one reverse pass per output element).
    Layout and ``has_aux`` as for :func:`jacfwd`.

    >>> framead.jacrev(lambda p: p[0] * p[1])((2.0, 3.0))
    (array(3.), array(2.))
    """
    @functools.wraps(f)
    @user_facing
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nums = norm_argnums(argnums, len(args))
        res = vjp(f, *args, argnums=nums, strict=strict, has_aux=has_aux, **kwargs)
        out, f_vjp = res[0], res[1]
        spec = Differentiated(args, nums, f)
        if outer_recorder() is not None:  # inside a capture: let it see the assembly too
            with internals_visible():
                jac = _jacrev_assemble(out, f_vjp, spec, argnums)
        else:
            jac = _jacrev_assemble(out, f_vjp, spec, argnums)
        return (jac, res[2]) if has_aux else jac

    return wrapper


def _jacrev_assemble(out: Any, f_vjp: Callable, spec: Differentiated, argnums: Any) -> Any:
    """One reverse pass per output element, assembled JAX-style."""
    out_leaves, treedef = tree.flatten(out)
    ins = spec.leaves()
    rows = []
    for o, ol in enumerate(out_leaves):
        r = []
        if not tree.differentiable(ol):
            rows.append(r)
            continue
        for k in range(int(np.size(ol))):
            cts = [None] * len(out_leaves)
            cts[o] = unit_basis(ol, k)
            r.append(spec.flat(f_vjp(tree.unflatten(treedef, cts))))
        rows.append(r)
    jacs = []
    for o, ol in enumerate(out_leaves):
        if not rows[o]:  # integer/boolean output: no derivative
            jacs.append([np.zeros(_leaf_shape(ol) + _leaf_shape(x)) for x in ins])
        else:
            jacs.append(_assemble([ol], ins, [rows[o]], out_major=True)[0])
    return _pack(jacs, treedef, argnums, spec)


def hessian(f: Callable, argnums: int | Sequence[int] = 0, *,
            strict: bool | None = None) -> Callable:
    """``hessian(f)(*args)``: second derivatives of a scalar ``f``, ``jacfwd(jacrev(f))``
    (forward-over-reverse): the inner reverse pass runs as code the outer forward capture
    records (framead/replay.py), so every rule's VJP is differentiated by the rules' JVPs.

    >>> framead.hessian(lambda x: x[0] ** 2 * x[1])(np.array([1.0, 2.0]))
    array([[4., 2.],
           [2., 0.]])
    """
    return jacfwd(jacrev(f, argnums, strict=strict), argnums, strict=strict)
