"""The rule of ``np.pad``, every mode but a function.

The modes that copy elements (constant, edge, wrap, even reflections) are gathers
(``gather_cot``). The others compute: NumPy pads one axis after another, so the cotangent
goes back through the axes in reverse order. A statistic (mean, maximum, minimum, median of
``stat_length`` elements) sends each pad's cotangent to the elements it reads (the picked
ones, ties split evenly); a linear ramp and an odd reflection are linear maps of each lane,
every padded element one element (+-) plus multiples of the lane's two ends, the coefficients
read off np.pad of three probe lanes.
"""

from __future__ import annotations

import numpy as np

from .numpy_shape_rules import _bincount, gather_cot, tie_mean
from .registry import ANS, register
from .shapes import fit, meta_of


def _as_pairs(x, ndim):
    """np.pad's widths (or stat lengths) broadcast to one (before, after) pair of ints per
    axis, as np.pad reads them; None: (None, None) for each."""
    if x is None:
        return ((None, None),) * ndim
    pairs = np.broadcast_to(np.round(np.asarray(x)).astype(np.intp), (ndim, 2))
    return tuple((int(b), int(a)) for b, a in pairs)


_PAD_GATHERS = ("constant", "edge", "reflect", "symmetric", "wrap", "empty")
_STATS = ("mean", "maximum", "minimum", "median")


def _pad_kw(mode, kw):
    """np.pad keywords for the index array: constant padding with the sentinel 0."""
    if mode in ("constant", "empty"):
        return "constant", {"constant_values": 0}
    return mode, kw


def _gathers(mode, kw):
    """Whether np.pad(mode, **kw) copies elements (else it computes: a statistic, a ramp or
    an odd reflection)."""
    return (not callable(mode) and mode in _PAD_GATHERS
            and kw.get("reflect_type", "even") == "even")


def _no_callable_mode(mode):
    if callable(mode):
        raise NotImplementedError("framead: np.pad with a function as mode has no rule")


def _pad_pairs(ndim, pad_width):
    """np.pad's ``pad_width`` (an int, pairs or a dict by axis) as one (before, after) per
    axis."""
    if isinstance(pad_width, dict):
        seq = [(0, 0)] * ndim
        for axis, w in pad_width.items():
            seq[axis] = (w, w) if isinstance(w, int) else tuple(w)
        pad_width = seq
    return _as_pairs(pad_width, ndim)


def _stat_weights(v, mode):
    """d stat / d v for np.pad's statistic of lanes ``v`` (..., k): mean, or the element(s)
    picked by maximum/minimum/median, split evenly between ties."""
    k = v.shape[-1]
    if mode == "mean" or k == 0:
        return np.full(v.shape, 1 / max(k, 1))
    if mode == "median":
        w = np.zeros(k)
        w[(k - 1) // 2] += 0.5
        w[k // 2] += 0.5
        order = np.argsort(v, axis=-1, kind="stable")
        out = np.zeros(v.shape)
        np.put_along_axis(out, order, np.broadcast_to(w, v.shape), -1)
        return tie_mean(v, out, -1)
    best = (np.max if mode == "maximum" else np.min)(v, axis=-1, keepdims=True)
    mask = np.equal(v, best)
    return mask / np.sum(mask, axis=-1, keepdims=True)


def _lane_map(n, pair, mode, kw):
    """np.pad of one lane of ``n`` with a ramp or an odd reflection, a linear map (end values
    0): ``sign * x[idx] + c0 * x[0] + c1 * x[n - 1]`` (each padded element is +-one element
    plus multiples of the two ends). Found by padding three probes; returns (sign, idx, c0,
    c1), each of the padded length."""
    kw = {"end_values": 0} if mode == "linear_ramp" else {"reflect_type": "odd"}
    idx = np.pad(np.arange(n), pair, "edge" if mode == "linear_ramp" else mode)
    ends = np.zeros((2, n))
    ends[0, 0] = ends[1, -1] = 1
    c0, c1 = (np.pad(e, pair, mode, **kw) for e in ends)
    if n == 1:
        c1 = np.zeros_like(c0)
    inner = (idx > 0) & (idx < n - 1)
    probe = np.pad(np.arange(n, dtype=float), pair, mode, **kw) - (n - 1) * c1
    return np.where(inner, probe / np.where(inner, idx, 1), 0.0), idx, c0, c1


def _lane_scatter(w, idx, n):
    """``out[..., idx[j]] += w[..., j]``: out of the last-axis length ``n``."""
    lanes = w.reshape(-1, w.shape[-1])
    pos = (np.arange(lanes.shape[0])[:, None] * n + idx).ravel()
    return _bincount(pos, lanes.ravel(), lanes.shape[0] * n).reshape(w.shape[:-1] + (n,))


def _pad_steps(ans, shape, pad_width, mode, kw):
    """np.pad pads one axis after another: per axis (axis, (before, after), stat lengths,
    the array before that axis is padded, its lanes last). That array is a region of
    ``ans`` (the axes before padded, the others not), which the statistics read."""
    pairs = _pad_pairs(len(shape), pad_width)
    stats = _as_pairs(kw.get("stat_length"), len(shape))
    region = [slice(b, b + n) for n, (b, _) in zip(shape, pairs, strict=True)]
    for axis, pair in enumerate(pairs):
        before = np.moveaxis(np.asarray(ans)[tuple(region)], axis, -1) if mode in _STATS \
            else None
        region[axis] = slice(None)
        yield axis, tuple(pair), stats[axis], before


def _stat_lengths(n, lengths):
    """How many elements the before and after statistics read (``stat_length``, at most n)."""
    return tuple(n if k is None else min(k, n) for k in lengths)


def _pad_axis_cot(g, x, n, pair, lengths, mode, kw):
    """Cotangent (lanes last) of the array before one axis was padded, from ``g``'s."""
    b, a = pair
    if mode in _STATS:
        lb, la = _stat_lengths(n, lengths)
        ct = np.array(g[..., b:b + n], np.result_type(g, float))
        ct[..., :lb] += np.sum(g[..., :b], -1, keepdims=True) * _stat_weights(x[..., :lb], mode)
        ct[..., n - la:] += np.sum(g[..., b + n:], -1, keepdims=True) * \
            _stat_weights(x[..., n - la:], mode)
        return ct
    sign, idx, c0, c1 = _lane_map(n, pair, mode, kw)
    ct = _lane_scatter(g * sign, idx, n)
    ct[..., 0] += g @ c0
    ct[..., -1] += g @ c1
    return ct


def _pad_vjp(g, ans, array, pad_width, mode="constant", **kw):
    _no_callable_mode(mode)
    if _gathers(mode, kw):
        mode, kw = _pad_kw(mode, kw)
        return gather_cot(np.pad, g, array, (array, pad_width, mode), kw)
    m = meta_of(array)
    g = np.asarray(g)
    for axis, pair, lengths, x in reversed(list(_pad_steps(ans, m.shape, pad_width, mode, kw))):
        if pair != (0, 0):
            ct = _pad_axis_cot(np.moveaxis(g, axis, -1), x, m.shape[axis], pair, lengths, mode,
                               kw)
            g = np.moveaxis(ct, -1, axis)
    return fit(g, m)


def _pad_jvp(tangents, ans, array, pad_width, mode="constant", **kw):
    _no_callable_mode(mode)
    t = tangents[0]
    if t is None:
        return None
    if _gathers(mode, kw):
        mode, kw = _pad_kw(mode, kw)
    elif mode == "linear_ramp":
        kw = {"end_values": 0}
    elif mode in ("maximum", "minimum", "median"):  # per axis: the picked elements' tangents
        t = np.asarray(t)
        for axis, (b, a), lengths, x in _pad_steps(ans, np.shape(t), pad_width, mode, kw):
            n, tm = np.shape(t)[axis], np.moveaxis(t, axis, -1)
            lb, la = _stat_lengths(n, lengths)
            tb = np.sum(tm[..., :lb] * _stat_weights(x[..., :lb], mode), -1, keepdims=True)
            ta = np.sum(tm[..., n - la:] * _stat_weights(x[..., n - la:], mode), -1,
                        keepdims=True)
            t = np.moveaxis(np.concatenate([np.repeat(tb, b, -1), tm, np.repeat(ta, a, -1)],
                                           -1), -1, axis)
        return t
    return np.pad(t, pad_width, mode, **kw)  # (linear in the array: the mean too)


def install() -> None:
    register(np.pad, vjp=(_pad_vjp,), jvp=_pad_jvp, saves={0: (ANS,)},
             refuses={"mode": callable})
