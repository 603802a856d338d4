"""``ufunc.accumulate``, ``ufunc.reduce`` and ``ufunc.reduceat`` for the ufuncs capture does
not map to a NumPy function (``np.add.reduce`` is ``np.sum``, capture/call_kinds.py): one
rule per method (``lookup_method(np.ufunc, "reduce")``), the ufunc its first argument.

* ``maximum``/``minimum``/``fmax``/``fmin`` ``.accumulate``: each output's cotangent goes to the
  element its running extreme came from. Ties: the running extreme changes only where it
  changes value, so a tie keeps the earlier element (as the forward keeps its value); with
  NaN (``maximum``) the first NaN takes the rest.
* ``logaddexp``/``logaddexp2`` ``.reduce``: the softmax weights ``exp(x - ans)``
  (``2 ** (x - ans)``), any axis/axes, ``keepdims``.
* ``reduceat`` (NumPy's indices: ``indices[i] >= indices[i+1]`` is the one element
  ``a[indices[i]]``): each segment's reduction rule (``np.sum``/``np.prod``/``np.max``/
  ``np.min``, their tie rules, or those above).
* Any other binary ufunc with an elementwise rule (``hypot``, ``subtract``, ``logaddexp``'s
  accumulate...): the scan ``y[k] = f(y[k-1], x[k])`` differentiated step by step through
  that rule (a Python loop over the scanned axis).

Refused (FA101 at the call, as before): ``initial=``, ``where=``, a non-float dtype, complex
or 0-d arrays, ufuncs without an elementwise binary rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .registry import lookup, make_rule, register_method

_EXTREMES = {np.maximum: np.max, np.minimum: np.min}  # reduce rules reused (ties split)
_RUNNING = (np.maximum, np.minimum, np.fmax, np.fmin)
_LSE = {np.logaddexp: (np.exp, 1.0), np.logaddexp2: (np.exp2, np.log(2.0))}


# --- the reduced axis last ------------------------------------------------------------------

def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    ax = tuple(axis) if isinstance(axis, tuple | list) else (axis,)
    return tuple(sorted(int(a) % ndim for a in ax))


def _to_last(x: Any, axes: tuple[int, ...]) -> Any:
    """``x`` with ``axes`` moved last and merged into one."""
    x = np.asarray(x)
    rest = [d for d in range(x.ndim) if d not in axes]
    xt = np.transpose(x, (*rest, *axes))
    return np.reshape(xt, (*xt.shape[:len(rest)], -1))


def _from_last(c: Any, x: Any, axes: tuple[int, ...]) -> Any:
    """The inverse of ``_to_last`` (``c`` shaped as ``_to_last(x)``)."""
    x = np.asarray(x)
    rest = [d for d in range(x.ndim) if d not in axes]
    perm = (*rest, *axes)
    c = np.reshape(c, tuple(x.shape[d] for d in perm))
    return np.transpose(c, np.argsort(perm))


def _dropped(g: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    g = np.asarray(g)
    return np.squeeze(g, axis=axes) if keepdims and axes else g


def _kept(t: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    return np.expand_dims(t, axes) if keepdims and axes else t


def _zeros(x: Any) -> Any:
    x = np.asarray(x)
    return np.zeros(x.shape, x.dtype if x.dtype.kind in "fc" else np.float64)


def _or_zero(c: Any, like: Any) -> Any:
    return np.zeros_like(like) if c is None else c


# --- scans along the last axis --------------------------------------------------------------

def _scan_vjp(uf: np.ufunc, g: Any, x: Any) -> Any:
    """Cotangent of ``x`` (scanned axis last) for ``uf.accumulate(x, -1)`` and ``g``."""
    n = x.shape[-1]
    if n == 0:
        return _zeros(x)
    if uf in _RUNNING:
        return _running_vjp(uf, g, x)
    rule = lookup(uf)
    assert rule is not None
    y = uf.accumulate(x, axis=-1)
    out: list = [None] * n
    carry = g[..., n - 1]
    for k in range(n - 1, 0, -1):  # y[k] = uf(y[k-1], x[k])
        ca, cb = rule.call_vjp(carry, y[..., k], (y[..., k - 1], x[..., k]))
        out[k] = _or_zero(cb, x[..., k])
        carry = g[..., k - 1] + _or_zero(ca, x[..., k])
    out[0] = carry
    return np.stack(out, axis=-1)


def _scan_jvp(uf: np.ufunc, t: Any, x: Any) -> Any:
    """Tangent of ``uf.accumulate(x, -1)`` (``t`` shaped as ``x``)."""
    n = x.shape[-1]
    if n == 0:
        return np.zeros(np.shape(x))
    if uf in _RUNNING:
        return np.take_along_axis(t, _sources(uf, x), axis=-1)
    rule = lookup(uf)
    assert rule is not None
    y = uf.accumulate(x, axis=-1)
    out = [t[..., 0]]
    for k in range(1, n):
        out.append(rule.call_jvp((out[-1], t[..., k]), y[..., k], (y[..., k - 1], x[..., k])))
    return np.stack(out, axis=-1)


def _sources(uf: np.ufunc, x: Any) -> Any:
    """For each position, the index of the element its running extreme came from: the last
    place up to it where the running extreme changed value (NaN to NaN is no change)."""
    y = uf.accumulate(x, axis=-1)
    prev, cur = y[..., :-1], y[..., 1:]
    same = (prev == cur) | (np.isnan(prev) & np.isnan(cur))
    idx = np.arange(x.shape[-1])
    new = np.concatenate([np.ones((*x.shape[:-1], 1), bool), ~same], axis=-1)
    return np.maximum.accumulate(np.where(new, idx, 0), axis=-1)


def _running_vjp(uf: np.ufunc, g: Any, x: Any) -> Any:
    src = _sources(uf, x)
    m = int(np.prod(x.shape[:-1], dtype=np.int64))
    n = x.shape[-1]
    rows = np.repeat(np.arange(m), n)
    out = np.zeros((m, n), np.result_type(g, x))
    np.add.at(out, (rows, np.ravel(src)), np.ravel(np.broadcast_to(g, x.shape)))
    return np.reshape(out, x.shape)


# --- reductions along the last axis ---------------------------------------------------------

def _reduce_vjp(uf: np.ufunc, g: Any, x: Any) -> Any:
    """Cotangent of ``x`` for ``uf.reduce(x, axis=-1)`` (``g`` shaped as the result)."""
    if x.shape[-1] == 0:
        return _zeros(x)
    g = np.asarray(g)
    if uf is np.add:
        return np.broadcast_to(g[..., None], x.shape) + _zeros(x)
    if uf is np.multiply or uf in _EXTREMES:
        fn = np.prod if uf is np.multiply else _EXTREMES[uf]
        rule = lookup(fn)
        assert rule is not None
        return rule.call_vjp(g, fn(x, axis=-1), (x,), {"axis": -1})[0]
    if uf in _LSE:
        power, scale = _LSE[uf]
        ans = uf.reduce(x, axis=-1)
        return g[..., None] * power(x - ans[..., None])
    cs = [np.zeros_like(x[..., 0])] * (x.shape[-1] - 1)
    return _scan_vjp(uf, np.stack([*cs, g + cs[0]] if cs else [g], axis=-1), x)


def _reduce_jvp(uf: np.ufunc, t: Any, x: Any) -> Any:
    if x.shape[-1] == 0:
        return np.zeros(x.shape[:-1])
    if uf is np.add:
        return np.sum(t, axis=-1)
    if uf is np.multiply or uf in _EXTREMES:
        fn = np.prod if uf is np.multiply else _EXTREMES[uf]
        rule = lookup(fn)
        assert rule is not None
        return rule.call_jvp((t,), fn(x, axis=-1), (x,), {"axis": -1})
    if uf in _LSE:
        power, _ = _LSE[uf]
        ans = uf.reduce(x, axis=-1)
        return np.sum(t * power(x - ans[..., None]), axis=-1)
    return _scan_jvp(uf, t, x)[..., -1]


# --- the rules ------------------------------------------------------------------------------

def _float(x: Any) -> Any:
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def _cts(ct: Any) -> tuple:
    """The joint cotangents: the array's, None for the ufunc and the other arguments."""
    return (None, ct, *(None,) * 6)


def accumulate_vjp(g: Any, ans: Any, ufunc: np.ufunc, array: Any, axis: Any = 0,
                   dtype: Any = None, out: Any = None) -> tuple:
    x = _float(array)
    ax = _axes(axis, x.ndim)
    xl = _to_last(x, ax)
    ct = _scan_vjp(ufunc, np.moveaxis(np.asarray(g), ax[0], -1), xl)
    return _cts(np.moveaxis(ct, -1, ax[0]).astype(x.dtype, copy=False))


def accumulate_jvp(tangents: tuple, ans: Any, ufunc: np.ufunc, array: Any, axis: Any = 0,
                   dtype: Any = None, out: Any = None) -> Any:
    t = tangents[1] if len(tangents) > 1 else None
    if t is None:
        return None
    x = _float(array)
    ax = _axes(axis, x.ndim)[0]
    tl = np.moveaxis(np.broadcast_to(t, x.shape), ax, -1)
    return np.moveaxis(_scan_jvp(ufunc, tl, np.moveaxis(x, ax, -1)), -1, ax)


def reduce_vjp(g: Any, ans: Any, ufunc: np.ufunc, array: Any, axis: Any = 0, dtype: Any = None,
               out: Any = None, keepdims: bool = False, initial: Any = None,
               where: Any = True) -> tuple:
    x = _float(array)
    ax = _axes(axis, x.ndim)
    gl = np.reshape(_dropped(g, ax, keepdims), _to_last(x, ax).shape[:-1])
    ct = _from_last(_reduce_vjp(ufunc, gl, _to_last(x, ax)), x, ax)
    return _cts(ct.astype(x.dtype, copy=False))


def reduce_jvp(tangents: tuple, ans: Any, ufunc: np.ufunc, array: Any, axis: Any = 0,
               dtype: Any = None, out: Any = None, keepdims: bool = False, initial: Any = None,
               where: Any = True) -> Any:
    t = tangents[1] if len(tangents) > 1 else None
    if t is None:
        return None
    x = _float(array)
    ax = _axes(axis, x.ndim)
    r = _reduce_jvp(ufunc, _to_last(np.broadcast_to(t, x.shape), ax), _to_last(x, ax))
    rest_shape = tuple(x.shape[d] for d in range(x.ndim) if d not in ax)
    return _kept(np.reshape(r, rest_shape), ax, keepdims)


def _segments(indices: Any, n: int) -> list[tuple[int, int]]:
    """NumPy's reduceat segments: ``[i_k, i_{k+1})``, or the one element ``i_k`` where
    ``i_k >= i_{k+1}``; the last runs to the end."""
    idx = [int(i) for i in np.ravel(indices)]
    ends = [*idx[1:], n]
    return [(i, j) if i < j else (i, i + 1) for i, j in zip(idx, ends, strict=True)]


def reduceat_vjp(g: Any, ans: Any, ufunc: np.ufunc, array: Any, indices: Any, axis: Any = 0,
                 dtype: Any = None, out: Any = None) -> tuple:
    x = _float(array)
    ax = int(axis) % x.ndim
    xl = np.moveaxis(x, ax, -1)
    gl = np.moveaxis(np.asarray(g), ax, -1)
    ct = _zeros(xl)
    for k, (i, j) in enumerate(_segments(indices, xl.shape[-1])):  # (segments may overlap)
        piece = _reduce_vjp(ufunc, gl[..., k], xl[..., i:j])
        ct = ct + np.concatenate([np.zeros_like(xl[..., :i]), piece,
                                  np.zeros_like(xl[..., j:])], axis=-1)
    return _cts(np.moveaxis(ct, -1, ax).astype(x.dtype, copy=False))


def reduceat_jvp(tangents: tuple, ans: Any, ufunc: np.ufunc, array: Any, indices: Any,
                 axis: Any = 0, dtype: Any = None, out: Any = None) -> Any:
    t = tangents[1] if len(tangents) > 1 else None
    if t is None:
        return None
    x = _float(array)
    ax = int(axis) % x.ndim
    xl = np.moveaxis(x, ax, -1)
    tl = np.moveaxis(np.broadcast_to(t, x.shape), ax, -1)
    outs = [_reduce_jvp(ufunc, tl[..., i:j], xl[..., i:j])
            for i, j in _segments(indices, xl.shape[-1])]
    return np.moveaxis(np.stack(outs, axis=-1), -1, ax)


# --- which calls, and the registration ------------------------------------------------------

_POSITIONAL = {"accumulate": ("axis", "dtype", "out"),
               "reduce": ("axis", "dtype", "out", "keepdims", "initial", "where"),
               "reduceat": ("indices", "axis", "dtype", "out")}


def _scannable(uf: np.ufunc) -> bool:
    """A binary ufunc whose elementwise rule a step-by-step scan can use."""
    rule = lookup(uf)
    return uf.nin == 2 and uf.nout == 1 and rule is not None and not rule.cut and \
        rule.elementwise and rule.vjp is not None


def _refuses(method: str) -> Any:
    def refuses(args: tuple, kwargs: dict) -> str | None:
        if len(args) < 2 or not isinstance(args[0], np.ufunc):
            return f"ufunc.{method} takes a ufunc and an array"
        uf, a = args[0], args[1]
        name = f"np.{uf.__name__}.{method}"
        if not (uf in _RUNNING or uf in _LSE or uf in _EXTREMES or _scannable(uf)):
            return f"{name} has no derivative rule"
        kw = {**dict(zip(_POSITIONAL[method], args[2:], strict=False)), **kwargs}
        if kw.get("initial", np._NoValue) is not np._NoValue:
            return f"{name} with initial= has no derivative rule"
        if kw.get("where", True) is not True:
            return f"{name} with where= has no derivative rule"
        dt = kw.get("dtype")
        if dt is not None and np.dtype(dt).kind != "f":
            return f"{name} with dtype={np.dtype(dt)} has no derivative rule"
        x = np.asarray(a)
        if x.dtype.kind not in "fiub" or x.ndim == 0:
            return f"{name} of a {x.dtype} array of {x.ndim} dimensions has no derivative rule"
        return None
    return refuses


_ARGS = ("ufunc", "array")
ACCUMULATE_RULE = make_rule(np.ufunc.accumulate, vjp=accumulate_vjp, jvp=accumulate_jvp,
                            saves=None, nondiff=(0, 2, 3, 4), name="ufunc.accumulate",
                            argnames=(*_ARGS, *_POSITIONAL["accumulate"]),
                            refuses=_refuses("accumulate"))
REDUCE_RULE = make_rule(np.ufunc.reduce, vjp=reduce_vjp, jvp=reduce_jvp, saves=None,
                        nondiff=(0, 2, 3, 4, 5, 6, 7), name="ufunc.reduce",
                        argnames=(*_ARGS, *_POSITIONAL["reduce"]), refuses=_refuses("reduce"))
REDUCEAT_RULE = make_rule(np.ufunc.reduceat, vjp=reduceat_vjp, jvp=reduceat_jvp, saves=None,
                          nondiff=(0, 2, 3, 4, 5), name="ufunc.reduceat",
                          argnames=(*_ARGS, *_POSITIONAL["reduceat"]),
                          refuses=_refuses("reduceat"))


def install() -> None:
    register_method(np.ufunc, "accumulate", ACCUMULATE_RULE)
    register_method(np.ufunc, "reduce", REDUCE_RULE)
    register_method(np.ufunc, "reduceat", REDUCEAT_RULE)
