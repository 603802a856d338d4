"""Rules for NumPy's statistics: ``var``/``std`` (``ddof``, ``correction``, ``mean``) and their
nan-twins, ``average`` (weights), ``median``/``quantile``/``percentile`` (every ``method``) and
their nan-twins, ``cov`` and ``corrcoef``.

Order statistics send the cotangent to the elements at the chosen sorted positions, split
evenly between equal values (``tie_mean``); ``std`` where all values are equal has the
subgradient 0.
"""

from __future__ import annotations

import numpy as np
from numpy.lib._function_base_impl import _QuantileMethods

from .numpy_shape_rules import tie_mean
from .refusals import SeeThrough
from .registry import ANS, register, register_method
from .shapes import (
    add_tangents,
    expand_reduced,
    fit,
    given,
    keepdims_of,
    meta_of,
    normalize_axis,
    where_mask,
)

_NV = np._NoValue


# --- var, std (and their nan-twins) ----------------------------------------------------------

def _var_dir(a, axis, ddof, where, mean, correction, nan=False):
    """d var / da (JAX convention): 2 conj(a - mean) / (N - ddof), zero off ``where``."""
    a = np.asarray(a)
    if given(correction):
        ddof = correction
    axes = normalize_axis(axis, a.ndim)
    w = where_mask(where, a.shape)
    if nan:
        ok = ~np.isnan(a)
        w = ok if w is None else (w & ok)
        a = np.where(ok, a, 0)
    if given(mean):
        m = mean
    else:
        m = np.mean(a, axis=axes, keepdims=True, where=True if w is None else w)
    n = (np.sum(w, axis=axes, keepdims=True) if w is not None
         else np.prod([a.shape[i] for i in axes]))
    d = 2 * np.conj(a - m) / (n - ddof)
    return d if w is None else np.where(w, d, 0)


def _std_dir(d, ans, a, axis, keepdims):
    """d std = d var / (2 std); where std is 0 (all equal, up to the rounding of the mean)
    the subgradient 0, which is what central differences see (std is even there)."""
    a = np.asarray(a)
    axes, sd = normalize_axis(axis, a.ndim), np.abs(expand_reduced(ans, a, axis, keepdims))
    big = np.max(np.abs(np.where(np.isnan(a), 0, a)), axes, keepdims=True) if a.size else 0
    eps = np.prod([a.shape[i] for i in axes]) * np.finfo(np.result_type(a, float)).eps
    flat = sd <= 4 * eps * big
    # the quotient is formed on a safe denominator: a where() whose other branch is inf
    # would make the derivative of this derivative nan (0 * inf) at the flat lanes
    return np.where(flat, 0.0, d / (2 * np.where(flat, 1.0, sd)))


def _real_dir(d, t):
    return np.real(d * t) if np.iscomplexobj(d) else d * t


def _var_family(std, nan=False):
    def vjp(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=_NV, *, where=_NV,
            mean=_NV, correction=_NV):
        d = _var_dir(a, axis, ddof, where, mean, correction, nan)
        if std:
            d = _std_dir(d, ans, a, axis, keepdims)
        return fit(expand_reduced(g, a, axis, keepdims) * d, meta_of(a))

    def jvp(tangents, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=_NV, *,
            where=_NV, mean=_NV, correction=_NV):
        d = _var_dir(a, axis, ddof, where, mean, correction, nan)
        if std:
            d = _std_dir(d, ans, a, axis, keepdims)
        t = np.where(np.isnan(a), 0, tangents[0]) if nan else tangents[0]
        return np.sum(_real_dir(d, t), axis=axis, keepdims=keepdims_of(keepdims))
    return vjp, jvp


# --- average ---------------------------------------------------------------------------------

def _avg_weights(shape, axis, weights):
    """(weights broadcast to ``shape``, their sums over the reduced axes, the axes)."""
    axes = normalize_axis(axis, len(shape))
    if weights is None:
        w = np.ones(shape)
    else:
        w = np.asarray(weights)
        if w.shape != shape:  # 1-D weights along the one reduced axis
            w = w.reshape([w.size if i == axes[0] else 1 for i in range(len(shape))])
        w = np.broadcast_to(w, shape)
    return w, np.sum(w, axis=axes, keepdims=True), axes


def _avg_parts(a, axis, weights):
    a = np.asarray(a)
    w, wsum, axes = _avg_weights(a.shape, axis, weights)
    return a, w, wsum, np.sum(a * w, axis=axes, keepdims=True) / wsum, axes


def _avg_cot(i):
    def vjp(g, ans, a, axis=None, weights=None, returned=False, *, keepdims=_NV):
        g, gsum = g if returned else (g, None)
        g = expand_reduced(g, a, axis, keepdims)
        if i == 0:
            w, wsum, _ = _avg_weights(meta_of(a).shape, axis, weights)
            return fit(g * w / wsum, meta_of(a))
        a, w, wsum, avg, axes = _avg_parts(a, axis, weights)
        ct = g * (a - avg) / wsum
        if gsum is not None:
            ct = ct + expand_reduced(gsum, a, axis, keepdims)
        if np.shape(weights) != a.shape:
            ct = np.sum(ct, axis=tuple(j for j in range(a.ndim) if j != axes[0]))
        return fit(ct, meta_of(weights))
    return vjp


def _avg_jvp(tangents, ans, a, axis=None, weights=None, returned=False, *, keepdims=_NV):
    ta = tangents[0]
    tw = tangents[2] if len(tangents) > 2 else None
    a, w, wsum, avg, axes = _avg_parts(a, axis, weights)
    kd = keepdims_of(keepdims)
    t = 0.0
    if ta is not None:
        t = t + np.sum(ta * w, axis=axes, keepdims=True) / wsum
    tsum = 0.0
    if tw is not None:
        tw = _avg_parts(a, axis, tw)[1]
        t = t + np.sum(tw * (a - avg), axis=axes, keepdims=True) / wsum
        tsum = np.sum(tw, axis=axes, keepdims=True)
    t = np.broadcast_to(t, avg.shape)
    if not kd:
        t = np.squeeze(t, axis=axes)
        tsum = np.squeeze(np.broadcast_to(tsum, avg.shape), axis=axes)
    return (t, tsum) if returned else t


# --- order statistics ------------------------------------------------------------------------

_CONTINUOUS = {"linear", "interpolated_inverted_cdf", "hazen", "weibull", "median_unbiased",
               "normal_unbiased"}


def _positions(method, count, qv):
    """(lo, hi, gamma, d index / d q) of quantile ``qv`` in lanes of ``count`` sorted values,
    placed as NumPy's ``method`` places it (d / dq is 0 for the methods that step)."""
    props = _QuantileMethods[method]
    top = np.maximum(count - 1, 0)
    vi = np.asarray(props["get_virtual_index"](count, qv))
    if vi.dtype.kind in "iu":
        k = np.clip(vi, 0, top).astype(np.intp)
        return k, k, np.zeros(k.shape), np.zeros(k.shape)
    below = np.floor(vi)
    gamma = np.asarray(props["fix_gamma"](vi - below, vi), dtype=float)
    lo = np.clip(below, 0, top).astype(np.intp)
    hi = np.clip(below + 1, 0, top).astype(np.intp)
    dvi = (np.asarray(props["get_virtual_index"](count, 1.0)) -
           np.asarray(props["get_virtual_index"](count, 0.0))) if method in _CONTINUOUS else 0.0
    return lo, hi, np.broadcast_to(gamma, lo.shape), np.broadcast_to(dvi, lo.shape)


def _order_parts(a, q, axis, scale, nan=False, method="linear"):
    """(weights of shape q.shape + a.shape, d value / d q of shape q.shape + rest, axes): the
    sorted positions ``method`` picks in each lane (its non-NaN values for nan-functions)."""
    a = np.asarray(a)
    axes = normalize_axis(axis, a.ndim)
    rest = [i for i in range(a.ndim) if i not in axes]
    moved = np.transpose(a, rest + list(axes))
    flat = moved.reshape(moved.shape[:len(rest)] + (-1,))
    perm = np.argsort(flat, axis=-1, kind="stable")  # NaNs last
    srt = np.take_along_axis(flat, perm, -1)
    count = np.broadcast_to(flat.shape[-1] - (np.isnan(flat).sum(-1) if nan else 0), srt.shape[:-1])
    qs = np.asarray(q, dtype=float) / scale
    w = np.zeros(qs.shape + flat.shape)
    slope = np.zeros(qs.shape + flat.shape[:-1])

    def at(arr, k):
        return np.take_along_axis(arr, k[..., None], -1)[..., 0]

    for idx in np.ndindex(qs.shape):
        lo, hi, frac, dvi = _positions(method, count, qs[idx])
        wi = np.zeros(flat.shape)
        np.put_along_axis(wi, at(perm, hi)[..., None], frac[..., None], -1)
        np.put_along_axis(wi, at(perm, lo)[..., None],
                          np.where(hi > lo, 1 - frac, 1.0)[..., None], -1)
        w[idx] = tie_mean(flat, np.where(np.isnan(flat), 0.0, wi), -1)
        # on a sorted position q sits on a kink: the mean of the slopes on either side
        first = np.where((frac == 0) & (lo > 0), lo - 1, lo)  # (the left one at q = 1)
        with np.errstate(invalid="ignore"):
            d = (at(srt, hi) - at(srt, first)) / np.maximum(hi - first, 1) * dvi / scale
        slope[idx] = np.where(np.isnan(d), 0.0, d)
    w = w.reshape(qs.shape + moved.shape)
    inv = np.argsort(rest + list(axes))
    w = np.transpose(w, tuple(range(qs.ndim)) + tuple(qs.ndim + j for j in inv))
    return w, slope, axes


def _weighted_parts(a, q, axis, scale, nan, method, weights):
    """``_order_parts`` of a weighted quantile (inverted_cdf: it picks an element, ties split
    evenly; zero derivative in q)."""
    a = np.asarray(a)
    axes = normalize_axis(axis, a.ndim)
    qs = np.asarray(q, dtype=float)
    picked = (np.nanquantile if nan else np.quantile)(a, qs / scale, axis=axes, method=method,
                                                      keepdims=True, weights=weights)
    mask = np.equal(a, picked)
    w = mask / np.maximum(np.sum(mask, axis=tuple(qs.ndim + j for j in axes), keepdims=True), 1)
    rest = [n for j, n in enumerate(a.shape) if j not in axes]
    return w, np.zeros(qs.shape + tuple(rest)), axes


def _quantile_family(scale, nan=False):
    def parts(a, q, axis, method, weights):
        if weights is not None:
            return _weighted_parts(a, q, axis, scale, nan, method, weights)
        return _order_parts(a, q, axis, scale, nan, method)

    def cot(i):
        def vjp(g, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
                keepdims=False, *, weights=None):
            w, slope, axes = parts(a, q, axis, method, weights)
            qnd = np.ndim(q)
            g = np.asarray(g).reshape(slope.shape)  # (keepdims, or np.matrix's 2-d result)
            if i == 1:
                gq = np.sum(g * slope, axis=tuple(range(qnd, slope.ndim)))
                return fit(gq, meta_of(q))
            g = np.expand_dims(g, tuple(qnd + j for j in axes))
            return fit(np.sum(g * w, axis=tuple(range(qnd))), meta_of(a))
        return vjp

    def jvp(tangents, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
            keepdims=False, *, weights=None):
        ta, tq = tangents[0], tangents[1] if len(tangents) > 1 else None
        w, slope, axes = parts(a, q, axis, method, weights)
        qnd = np.ndim(q)
        terms = []
        if ta is not None:
            terms.append(np.sum(w * np.where(np.isnan(a), 0, ta) if nan else w * ta,
                                axis=tuple(qnd + j for j in axes)).reshape(np.shape(ans)))
        if tq is not None:
            tq = np.reshape(tq, np.shape(q) + (1,) * (slope.ndim - qnd))
            terms.append((slope * tq).reshape(np.shape(ans)))
        return add_tangents(terms)
    return (cot(0), cot(1)), jvp


def _median_family(nan=False):
    (cot, _), qjvp = _quantile_family(1.0, nan)

    def vjp(g, ans, a, axis=None, out=None, overwrite_input=False, keepdims=False):
        return cot(g, ans, a, 0.5, axis, None, False, "linear", keepdims)

    def jvp(tangents, ans, a, axis=None, out=None, overwrite_input=False, keepdims=False):
        return qjvp((tangents[0], None), ans, a, 0.5, axis, None, False, "linear", keepdims)
    return vjp, jvp


# --- cov, corrcoef -------------------------------------------------------------------------

def _cov_parts(m, y, rowvar, bias, ddof, fweights=None, aweights=None):
    """(m's and y's rows stacked as np.cov does, per input (rows, transposed), rows centred on
    their (weighted) mean, divisor, sample weights or None). cov = xc @ (w * xc).T / fact."""
    blocks, layout = [], []
    for v in (m, y):
        if v is None:
            continue
        x = np.array(v, ndmin=2, dtype=float)
        flip = not rowvar and x.shape[0] != 1
        x = x.T if flip else x
        blocks.append(x)
        layout.append((x.shape[0], flip))
    x = np.concatenate(blocks, axis=0)
    ddof = (0 if bias else 1) if ddof is None else ddof
    w = None
    for k in (fweights, aweights):
        if k is not None:
            w = np.asarray(k, dtype=float) * (1 if w is None else w)
    if w is None:
        return x, layout, x - x.mean(axis=1, keepdims=True), x.shape[1] - ddof, None
    wsum = np.sum(w)  # (the divisor as np.cov makes it)
    if ddof == 0 or aweights is None:
        fact = wsum - ddof
    else:
        fact = wsum - ddof * np.sum(w * np.asarray(aweights, dtype=float)) / wsum
    return x, layout, x - (x @ w / wsum)[:, None], fact, w


def _cov_split(ct, layout, inputs):
    """The cotangent of the stacked rows back to ``m`` and ``y``."""
    out, start = [], 0
    for (rows, flip), v in zip(layout, inputs, strict=False):
        part = ct[start:start + rows]
        start += rows
        out.append(fit(np.reshape(part.T if flip else part, np.shape(v)), meta_of(v)))
    return out


def _real_only_cov(*vs):
    if any(v is not None and np.iscomplexobj(v) for v in vs):
        raise NotImplementedError("framead: np.cov/np.corrcoef of complex data has no rule")


def _cov_cot(i):
    def vjp(g, ans, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None,
            aweights=None, *, dtype=None):
        _real_only_cov(m, y)
        x, layout, xc, fact, w = _cov_parts(m, y, rowvar, bias, ddof, fweights, aweights)
        gm = np.reshape(g, (x.shape[0], x.shape[0]))
        ct = (gm + gm.T) @ (xc if w is None else xc * w) / fact  # (xc @ w is 0)
        return _cov_split(ct, layout, [v for v in (m, y) if v is not None])[i]
    return vjp


def _cov_tangent(tangents, m, y, rowvar, bias, ddof, fweights=None, aweights=None):
    """(d cov, cov) for the tangents of m and y."""
    x, layout, xc, fact, w = _cov_parts(m, y, rowvar, bias, ddof, fweights, aweights)
    ts = [np.zeros(np.shape(v)) if t is None else t
          for t, v in zip(tuple(tangents) + (None,), (m, y), strict=False) if v is not None]
    tx = _cov_parts(ts[0], ts[1] if len(ts) > 1 else None, rowvar, bias, ddof)[0]
    wxc = xc if w is None else xc * w  # (xc @ w is 0: the mean's tangent drops out)
    return (tx @ wxc.T + wxc @ tx.T) / fact, xc @ wxc.T / fact


def _cov_jvp(tangents, ans, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None,
             aweights=None, *, dtype=None):
    dc = _cov_tangent(tangents, m, y, rowvar, bias, ddof, fweights, aweights)[0]
    return np.reshape(dc, np.shape(ans))


def _corr_parts(c):
    d = np.diag(c)
    s = np.sqrt(np.outer(d, d))
    return d, s, c / s


def _corrcoef_cot(i):
    cov_vjp = _cov_cot(i)

    def vjp(g, ans, x, y=None, rowvar=True, *, dtype=None):
        c = np.atleast_2d(np.cov(x, y, rowvar))
        d, s, r = _corr_parts(c)
        gm = np.reshape(g, c.shape)
        h = (np.sum(gm * r, axis=1) + np.sum(gm * r, axis=0)) / (2 * d)
        return cov_vjp(gm / s - np.diag(h), None, x, y, rowvar)
    return vjp


def _corrcoef_jvp(tangents, ans, x, y=None, rowvar=True, *, dtype=None):
    dc, c = _cov_tangent(tangents, x, y, rowvar, False, None)
    d, s, r = _corr_parts(c)
    q = np.diag(dc) / d
    return np.reshape(dc / s - r * (q[:, None] + q[None, :]) / 2, np.shape(ans))


def _in_place(name: str, pos: int):
    """``name(a, ..., overwrite_input=True)`` with an ndarray ``a`` (position ``pos``): NumPy
    partitions ``a`` itself (its own order, which the program may read after), a write this
    rule cannot record; capture traces NumPy's body instead (``SeeThrough``: ``a.partition``
    is recorded as the write it is, then the reads of the partitioned ``a``)."""
    def refuses(args: tuple, kwargs: dict) -> str | None:
        over = args[pos] if len(args) > pos else kwargs.get("overwrite_input", False)
        if over and args and isinstance(args[0], np.ndarray):
            return SeeThrough(f"{name} with overwrite_input=True partitions its traced "
                              "argument in place (a reordering framead does not record)")
        return None
    return refuses


def install() -> None:
    for fn, name, std, nan in ((np.var, "var", False, False), (np.std, "std", True, False),
                               (np.nanvar, None, False, True), (np.nanstd, None, True, True)):
        vjp, jvp = _var_family(std, nan)
        rule = register(fn, vjp=(vjp,), jvp=jvp, saves={0: (0, ANS) if std else (0,)})
        if name:
            register_method(np.ndarray, name, rule)
    register(np.average, vjp=(_avg_cot(0), None, _avg_cot(2)), jvp=_avg_jvp,
             saves={0: (2,), 2: (0, 2)}, multi=True)
    for nan, (quantile, percentile, median) in enumerate((
            (np.quantile, np.percentile, np.median),
            (np.nanquantile, np.nanpercentile, np.nanmedian))):  # nan: over the non-NaN
        for fn, scale in ((quantile, 1.0), (percentile, 100.0)):
            vjps, jvp = _quantile_family(scale, bool(nan))
            register(fn, vjp=vjps, jvp=jvp, saves={0: (0, 1), 1: (0, 1)},
                     refuses=_in_place(f"np.{fn.__name__}", 4))
        vjp, jvp = _median_family(bool(nan))
        register(median, vjp=(vjp,), jvp=jvp, saves={0: (0,)},
                 refuses=_in_place(f"np.{median.__name__}", 3))
    register(np.cov, vjp=(_cov_cot(0), _cov_cot(1)), jvp=_cov_jvp, saves={0: (0, 1), 1: (0, 1)})
    register(np.corrcoef, vjp=(_corrcoef_cot(0), _corrcoef_cot(1)), jvp=_corrcoef_jvp,
             saves={0: (0, 1), 1: (0, 1)})
