"""Rules for NumPy's reductions: ``sum``, ``mean``, ``prod``, ``max``/``min`` (``amax``,
``amin``), ``ptp``, the nan-reductions (``nansum``, ``nanmean``, ``nanprod``, ``nanmax``,
``nanmin``), with their ndarray methods, and the integer-valued functions (``argmax``,
``argsort``, ``nonzero``...) as cuts.

Reductions take ``axis`` (int, tuple or None), ``keepdims`` and ``where``. Ties (``max``,
``ptp``, ``nanmax``) split the cotangent evenly.
"""

from __future__ import annotations

import functools

import numpy as np

from .families import defcut, deflinear
from .registry import ANS, register, register_method
from .shapes import (
    expand_reduced,
    fit,
    given,
    keepdims_of,
    meta_of,
    normalize_axis,
    reduced_size,
    shape_of,
    where_mask,
)

_NV = np._NoValue

# --- reductions ------------------------------------------------------------------------------


def _sum_vjp(g, ans, a, axis=None, dtype=None, out=None, keepdims=_NV, initial=_NV,
             where=_NV):
    ct = expand_reduced(g, a, axis, keepdims)
    if given(where) and where is not True:
        ct = np.where(where, ct, 0)
    return fit(ct, meta_of(a))


def _initial_vjp(weights, at):
    """The cotangent of a reduction's ``initial=`` (argument ``at``, a scalar that enters
    every output): ``sum(g * weights(ans, a, ...))``, the outputs' derivatives in it."""
    def vjp(g, ans, a, *args, **kw):
        w = weights(ans, a, *args, **kw)
        return fit(np.sum(g if w is None else np.asarray(g) * w), meta_of(args[at - 1]))
    return vjp


def _sum_jvp(tangents, ans, a, axis=None, dtype=None, out=None, keepdims=_NV, initial=_NV,
             where=_NV):
    t, ti = tangents[0], tangents[5] if len(tangents) > 5 else None
    r = None
    if t is not None:  # (the sum of the tangents: never initial's value)
        kw = {} if not given(where) or where is True else {"where": where}
        r = np.sum(t, axis=axis, dtype=dtype, keepdims=keepdims_of(keepdims), **kw)
    return ti if r is None else r if ti is None else r + ti


def _mean_vjp(g, ans, a, axis=None, dtype=None, out=None, keepdims=_NV, *, where=_NV):
    ct = expand_reduced(g, a, axis, keepdims)
    if given(where) and where is not True:
        w = np.broadcast_to(where, shape_of(a))
        n = np.sum(w, axis=normalize_axis(axis, len(shape_of(a))), keepdims=True)
        return fit(np.where(w, ct / n, 0), meta_of(a))
    return fit(ct / reduced_size(a, axis), meta_of(a))


def _prod_others(a, axis, initial, where):
    """Product of every other element along the reduced axes (exclusive cumprods: no
    division, so zeros are handled), times ``initial``."""
    a = np.asarray(a)
    if given(where) and where is not True:
        a = np.where(where, a, 1)
    axes = normalize_axis(axis, a.ndim)
    keep = [i for i in range(a.ndim) if i not in axes]
    perm = keep + list(axes)
    at = a.transpose(perm)
    flat = at.reshape(at.shape[:len(keep)] + (-1,))
    left, right = np.ones_like(flat), np.ones_like(flat)
    if flat.shape[-1] > 1:
        left[..., 1:] = np.cumprod(flat[..., :-1], axis=-1)
        right[..., :-1] = np.cumprod(flat[..., :0:-1], axis=-1)[..., ::-1]
    others = (left * right).reshape(at.shape).transpose(np.argsort(perm))
    if given(initial):
        others = others * initial
    if given(where) and where is not True:
        others = np.where(where, others, 0)
    return others


def _prod_vjp(g, ans, a, axis=None, dtype=None, out=None, keepdims=_NV, initial=_NV,
              where=_NV):
    ct = expand_reduced(g, a, axis, keepdims) * _prod_others(a, axis, initial, where)
    return fit(ct, meta_of(a))


def _prod_weights(ans, a, axis=None, dtype=None, out=None, keepdims=_NV, initial=_NV,
                  where=_NV, nan=False):
    """d prod / d initial: the product of the elements alone (each output's)."""
    a = np.asarray(a)
    w = _nanmask(a, where) if nan else where_mask(where, a.shape)
    if w is not None:
        a = np.where(w, a, 1)
    return np.prod(a, axis=normalize_axis(axis, a.ndim), keepdims=keepdims_of(keepdims))


def _prod_jvp(tangents, ans, a, axis=None, dtype=None, out=None, keepdims=_NV, initial=_NV,
              where=_NV):
    t, ti = tangents[0], tangents[5] if len(tangents) > 5 else None
    r = None
    if t is not None:
        r = np.sum(t * _prod_others(a, axis, initial, where), axis=axis,
                   keepdims=keepdims_of(keepdims))
    if ti is not None:
        r = (0 if r is None else r) + ti * _prod_weights(ans, a, axis, dtype, out, keepdims,
                                                          initial, where)
    return r


def _pick_weights(a, best, axes, initial, where):
    """Weights of the elements of ``a`` equal to ``best`` (the max/min, broadcast to ``a``)
    among those ``where`` takes, split equally between ties; ``initial`` ties as one more
    element and, when it is the result, leaves every weight 0."""
    mask = np.equal(a, best)
    if (w := where_mask(where, a.shape)) is not None:
        mask = mask & w
    count = np.sum(mask, axis=axes, keepdims=True)
    if given(initial):
        count = count + np.equal(best, initial)
    return mask / np.maximum(count, 1)


def _max_weights(ans, a, axis, keepdims, initial, where):
    """Where ``a`` attains its max/min, split equally between ties."""
    a = np.asarray(a)
    return _pick_weights(a, expand_reduced(ans, a, axis, keepdims),
                         normalize_axis(axis, a.ndim), initial, where)


def _max_vjp(g, ans, a, axis=None, out=None, keepdims=_NV, initial=_NV, where=_NV):
    w = _max_weights(ans, a, axis, keepdims, initial, where)
    return fit(expand_reduced(g, a, axis, keepdims) * w, meta_of(a))


def _initial_weight(ans, a, axis=None, out=None, keepdims=_NV, initial=_NV, where=_NV,
                    nan=False):
    """The share of ``initial`` in a max/min: 1/(ties) where it equals the result, else 0."""
    a = np.asarray(a)
    best = expand_reduced(ans, a, axis, keepdims)
    mask = np.equal(a, best)
    if (w := _nanmask(a, where) if nan else where_mask(where, a.shape)) is not None:
        mask = mask & w
    count = np.sum(mask, axis=normalize_axis(axis, a.ndim), keepdims=keepdims_of(keepdims))
    hit = np.equal(ans, initial)
    return hit / np.maximum(count + hit, 1)


def _max_jvp(tangents, ans, a, axis=None, out=None, keepdims=_NV, initial=_NV, where=_NV):
    t, ti = tangents[0], tangents[4] if len(tangents) > 4 else None
    r = None
    if t is not None:
        w = _max_weights(ans, a, axis, keepdims, initial, where)
        r = np.sum(t * w, axis=axis, keepdims=keepdims_of(keepdims))
    if ti is not None:
        r = (0 if r is None else r) + ti * _initial_weight(ans, a, axis, out, keepdims,
                                                           initial, where)
    return r


# --- ptp, nan-reductions ---------------------------------------------------------------------

def _extreme_weights(a, axis, pick, ignore_nan=False, initial=_NV, where=_NV):
    """Weights of the elements attaining ``pick`` (max/min) along ``axis``, ties split."""
    a = np.asarray(a)
    axes = normalize_axis(axis, a.ndim)
    if ignore_nan:
        pick = np.nanmax if pick is np.max else np.nanmin
    best = pick(a, axis=axes, keepdims=True, initial=initial, where=where)
    return _pick_weights(a, best, axes, initial, where)


def _ptp_w(a, axis):
    return _extreme_weights(a, axis, np.max) - _extreme_weights(a, axis, np.min)


def _ptp_vjp(g, ans, a, axis=None, out=None, keepdims=_NV):
    return fit(expand_reduced(g, a, axis, keepdims) * _ptp_w(a, axis), meta_of(a))


def _ptp_jvp(tangents, ans, a, axis=None, out=None, keepdims=_NV):
    return np.sum(tangents[0] * _ptp_w(a, axis), axis=axis, keepdims=keepdims_of(keepdims))


def _nanext(pick):
    def vjp(g, ans, a, axis=None, out=None, keepdims=_NV, initial=_NV, where=_NV):
        w = _extreme_weights(a, axis, pick, True, initial, where)
        return fit(expand_reduced(g, a, axis, keepdims) * w, meta_of(a))

    def jvp(tangents, ans, a, axis=None, out=None, keepdims=_NV, initial=_NV, where=_NV):
        ti = tangents[4] if len(tangents) > 4 else None
        r = None
        if tangents[0] is not None:
            w = _extreme_weights(a, axis, pick, True, initial, where)
            t = np.where(np.isnan(a), 0, tangents[0])
            r = np.sum(t * w, axis=axis, keepdims=keepdims_of(keepdims))
        if ti is not None:
            r = (0 if r is None else r) + ti * _initial_weight(
                ans, a, axis, out, keepdims, initial, where, nan=True)
        return r
    return vjp, jvp


def _nanmask(a, where):
    ok = ~np.isnan(a)
    w = where_mask(where, np.shape(a))
    return ok if w is None else ok & w


def _nansum_vjp(g, ans, a, axis=None, dtype=None, out=None, keepdims=_NV, initial=_NV,
                where=_NV):
    return fit(expand_reduced(g, a, axis, keepdims) * _nanmask(a, where), meta_of(a))


def _nanmean_vjp(g, ans, a, axis=None, dtype=None, out=None, keepdims=_NV, *, where=_NV):
    ok = _nanmask(a, where)
    n = np.sum(ok, axis=normalize_axis(axis, np.ndim(a)), keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return fit(expand_reduced(g, a, axis, keepdims) * ok / n, meta_of(a))


def _weights_jvp(vjp):
    """JVP of a reduction linear in ``a`` whose VJP of ones gives the (nan-masked) weights;
    an ``initial=`` (argument 5) adds its tangent."""
    def jvp(tangents, ans, a, axis=None, dtype=None, out=None, keepdims=_NV, *args, **kw):
        ti = tangents[5] if len(tangents) > 5 else None
        if tangents[0] is None:
            return ti
        w = vjp(np.ones(np.shape(ans)), ans, a, axis, dtype, out, keepdims, *args, **kw)
        t = np.where(np.isnan(a), 0, tangents[0])
        r = np.sum(w * t, axis=axis, keepdims=keepdims_of(keepdims))
        return r if ti is None else r + ti
    return jvp


def _nanprod_vjp(g, ans, a, axis=None, dtype=None, out=None, keepdims=_NV, initial=_NV,
                 where=_NV):
    ok = _nanmask(a, where)
    others = _prod_others(np.where(ok, a, 1), axis, initial, _NV)
    return fit(expand_reduced(g, a, axis, keepdims) * others * ok, meta_of(a))


def _nanprod_jvp(tangents, ans, a, axis=None, dtype=None, out=None, keepdims=_NV,
                 initial=_NV, where=_NV):
    ok = _nanmask(a, where)
    ti = tangents[5] if len(tangents) > 5 else None
    r = None
    if tangents[0] is not None:
        others = _prod_others(np.where(ok, a, 1), axis, initial, _NV) * ok
        r = np.sum(np.where(ok, tangents[0], 0) * others, axis=axis,
                   keepdims=keepdims_of(keepdims))
    if ti is not None:
        r = (0 if r is None else r) + ti * _prod_weights(
            ans, a, axis, dtype, out, keepdims, initial, where, nan=True)
    return r


CUTS = [np.argmax, np.argmin, np.argsort, np.argpartition, np.nonzero, np.flatnonzero,
        np.argwhere, np.searchsorted, np.digitize, np.count_nonzero, np.isin, np.nanargmax,
        np.nanargmin, np.lexsort, np.isneginf, np.isposinf]
CUT_METHODS = ["argmax", "argmin", "argsort", "argpartition", "nonzero", "searchsorted"]
REDUCTIONS = [
    (np.sum, _sum_vjp, _sum_jvp, "sum"), (np.mean, _mean_vjp, None, "mean"),
    (np.prod, _prod_vjp, _prod_jvp, "prod"),
    (np.max, _max_vjp, _max_jvp, "max"), (np.min, _max_vjp, _max_jvp, "min"),
    (np.amax, _max_vjp, _max_jvp, None), (np.amin, _max_vjp, _max_jvp, None),
]
def _none(*args, **kw):
    return None


_INITIAL = {np.sum: (_initial_vjp(_none, 5), {0: (), 5: ()}),
            np.nansum: (_initial_vjp(_none, 5), {0: (0,), 5: ()}),
            np.prod: (_initial_vjp(_prod_weights, 5), {0: (0, 5), 5: (0,)}),
            np.nanprod: (_initial_vjp(functools.partial(_prod_weights, nan=True), 5),
                         {0: (0, 5), 5: (0,)}),
            np.max: (_initial_vjp(_initial_weight, 4), {0: (0, 4, ANS), 4: (0, 4, ANS)}),
            np.nanmax: (_initial_vjp(functools.partial(_initial_weight, nan=True), 4),
                        {0: (0, 4, ANS), 4: (0, 4, ANS)})}
for _a, _b in ((np.min, np.max), (np.amax, np.max), (np.amin, np.max), (np.nanmin, np.nanmax)):
    _INITIAL[_a] = _INITIAL[_b]


def _with_initial(fn, vjp):
    """``fn``'s per-argument VJPs, ``initial=`` (a differentiable scalar) among them, and
    what they read by value."""
    vjp_initial, saves = _INITIAL[fn]
    at = max(saves)
    return (vjp, *(None,) * (at - 1), vjp_initial), saves


def install() -> None:
    nd = np.ndarray
    for fn, vjp, jvp, method in REDUCTIONS:
        if fn is np.mean:
            rule = deflinear(fn, vjp, saves={0: ()})
        else:
            vjps, saves = _with_initial(fn, vjp)
            rule = register(fn, vjp=vjps, jvp=jvp, saves=saves)
        if method:
            register_method(nd, method, rule)
    register(np.ptp, vjp=(_ptp_vjp,), jvp=_ptp_jvp, saves={0: (0,)})
    for fn, pick in ((np.nanmax, np.max), (np.nanmin, np.min)):
        vjp, jvp = _nanext(pick)
        vjps, saves = _with_initial(fn, vjp)
        register(fn, vjp=vjps, jvp=jvp, saves=saves)
    vjps, saves = _with_initial(np.nansum, _nansum_vjp)
    register(np.nansum, vjp=vjps, jvp=_weights_jvp(_nansum_vjp), saves=saves)
    register(np.nanmean, vjp=(_nanmean_vjp,), jvp=_weights_jvp(_nanmean_vjp), saves={0: (0,)})
    vjps, saves = _with_initial(np.nanprod, _nanprod_vjp)
    register(np.nanprod, vjp=vjps, jvp=_nanprod_jvp, saves=saves)
    for fn in CUTS:
        defcut(fn)
    for name in CUT_METHODS:
        register_method(nd, name, cut=True)
