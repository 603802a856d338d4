"""Rules for NumPy's functions of sequences: ``diff``/``ediff1d``, ``convolve``/``correlate``,
``interp`` (in ``x``, ``xp``, ``fp``, ``left``, ``right``), ``polyval``, ``trapezoid``,
``bincount`` (in ``weights``), ``gradient`` (in ``f`` and in its spacings/coordinates).

``np.convolve`` is bilinear: its VJP is a ``valid`` convolution of the (zero-embedded)
cotangent with the reversed other operand. ``np.correlate(a, v, 'full')`` is
``convolve(a, conj(v)[::-1], 'full')``, which gives its rule (conjugation transposes to itself
under the JAX pairing); its other modes are windows of the full result.
"""

from __future__ import annotations

import operator

import numpy as np

from .families import deflinear
from .registry import register
from .shapes import add_tangents, fit, meta_of, shape_of, sum_to

_NV = np._NoValue


# --- diff ------------------------------------------------------------------------------------

def _diff_adjoint(g, n, axis):
    """Transpose of ``np.diff(., n, axis)``: -diff of the zero-padded cotangent, n times."""
    for _ in range(n):
        pad = [(0, 0)] * g.ndim
        pad[axis] = (1, 1)
        g = -np.diff(np.pad(g, pad), axis=axis)
    return g


def _diff_parts(a, axis, prepend, append):
    nd = len(shape_of(a))
    ax = axis % nd
    pre = 0 if prepend is _NV else (1 if np.ndim(prepend) == 0 else shape_of(prepend)[ax])
    app = 0 if append is _NV else (1 if np.ndim(append) == 0 else shape_of(append)[ax])
    return ax, pre, app


def _diff_cot(i):
    def vjp(g, ans, a, n=1, axis=-1, prepend=_NV, append=_NV):
        ax, pre, app = _diff_parts(a, axis, prepend, append)
        ct = _diff_adjoint(np.asarray(g), n, ax)
        la = shape_of(a)[ax]
        bounds = {0: (pre, pre + la), 3: (0, pre), 4: (pre + la, pre + la + app)}[i]
        part = np.take(ct, np.arange(*bounds), axis=ax)
        x = (a, None, None, prepend, append)[i]
        return fit(sum_to(part, shape_of(x)), meta_of(x))
    return vjp


def _diff_jvp(tangents, ans, a, n=1, axis=-1, prepend=_NV, append=_NV):
    ts = list(tangents) + [None] * (5 - len(tangents))
    if all(t is None for t in ts):
        return None
    zeros = [np.zeros(np.shape(x)) if x is not _NV else _NV for x in (a, prepend, append)]
    ta, tp, tap = (z if t is None else t for t, z in zip((ts[0], ts[3], ts[4]), zeros,
                                                        strict=True))
    return np.diff(ta, n, axis, prepend=tp, append=tap)


def _ediff_cot(i):
    def vjp(g, ans, ary, to_end=None, to_begin=None):
        g = np.asarray(g)
        nb = 0 if to_begin is None else int(np.size(to_begin))
        ne = 0 if to_end is None else int(np.size(to_end))
        if i == 0:
            mid = g[nb:g.size - ne]
            return fit(_diff_adjoint(mid, 1, 0).reshape(shape_of(ary)), meta_of(ary))
        x = to_end if i == 1 else to_begin
        part = g[g.size - ne:] if i == 1 else g[:nb]
        return fit(part.reshape(shape_of(x)), meta_of(x))
    return vjp


def _ediff_jvp(tangents, ans, ary, to_end=None, to_begin=None):
    ts = list(tangents) + [None] * (3 - len(tangents))
    zero = [None if x is None else np.zeros(np.shape(x)) for x in (ary, to_end, to_begin)]
    t = [z if t is None else t for t, z in zip(ts, zero, strict=True)]
    return np.ediff1d(t[0], to_end=t[1], to_begin=t[2])


# --- convolve, correlate ---------------------------------------------------------------------

def _conv_offset(n, m, mode, correlate=False):
    """(start, length) of the ``mode`` result inside the ``full`` one. np.correlate swaps
    its operands when the second is longer, which moves an even-length 'same' window. The
    mode is a name or NumPy's integer (0 'valid', 1 'same', 2 'full')."""
    if not isinstance(mode, str):
        mode = ("valid", "same", "full")[operator.index(mode)]
    k = min(n, m)
    if mode == "full":
        return 0, n + m - 1
    if mode == "same":
        return ((k // 2) if correlate and n < m else (k - 1) // 2), max(n, m)
    return k - 1, max(n, m) - k + 1


def _conv_cot(g, n, other, mode):
    """Cotangent of the length-``n`` operand of ``convolve(., other, mode)`` (either one:
    convolution commutes)."""
    m = np.size(other)
    start, length = _conv_offset(n, m, mode)
    full = np.zeros(n + m - 1, np.result_type(g, float))
    full[start:start + length] = g
    return np.convolve(full, np.asarray(other)[::-1], "valid")


def _convolve_cot(i):
    def vjp(g, ans, a, v, mode="full"):
        x, other = (a, v)[i], (v, a)[i]
        m = meta_of(x)
        return fit(_conv_cot(g, m.size, other, mode).reshape(m.shape), m)
    return vjp


def _convolve_jvp(tangents, ans, a, v, mode="full"):
    ta, tv = tangents[0], tangents[1] if len(tangents) > 1 else None
    return add_tangents((None if ta is None else np.convolve(ta, v, mode),
                         None if tv is None else np.convolve(a, tv, mode)))


def _correlate_cot(i):
    def vjp(g, ans, a, v, mode="valid"):
        n, m = meta_of(a).size, meta_of(v).size
        full = np.zeros(n + m - 1, np.result_type(g, float))
        start, length = _conv_offset(n, m, mode, correlate=True)
        full[start:start + length] = g  # correlate(a, v, mode) is a window of the full one
        if i == 0:
            ct = _conv_cot(full, n, np.conj(np.asarray(v))[::-1], "full")
        else:
            ct = np.conj(_conv_cot(full, m, a, "full")[::-1])
        x = (a, v)[i]
        return fit(ct.reshape(shape_of(x)), meta_of(x))
    return vjp


def _correlate_jvp(tangents, ans, a, v, mode="valid"):
    ta, tv = tangents[0], tangents[1] if len(tangents) > 1 else None
    return add_tangents((None if ta is None else np.correlate(ta, v, mode),
                         None if tv is None else np.correlate(a, tv, mode)))


# --- interp ----------------------------------------------------------------------------------

def _periodic(x, xp, fp, period):
    """np.interp's periodic problem as NumPy makes it (x and xp modulo the period, xp sorted
    and extended by one point each side), and the index into xp/fp of each point of it."""
    period = abs(period)
    x, xp = np.asarray(x, dtype=float) % period, np.asarray(xp, dtype=float) % period
    order = np.argsort(xp)
    src = np.concatenate((order[-1:], order, order[:1]))
    xp = np.concatenate((xp[order[-1:]] - period, xp[order], xp[order[:1]] + period))
    return x, xp, np.asarray(fp)[src], src


def _interp_parts(x, xp, fp, left, right, period):
    """(x, xp, fp as interpolated, lower and upper point, fraction, slope, masks inside, below
    and above, ``src``: the index into xp/fp of each interpolated point, None if the same)."""
    if period is not None:
        x, xp, fp, src = _periodic(x, xp, fp, period)
    else:
        x, xp, fp, src = np.asarray(x), np.asarray(xp), np.asarray(fp), None
    n = xp.size
    j = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, max(n - 2, 0))
    below, above = x < xp[0], x > xp[-1]
    inside = ~below & ~above
    if n == 1:
        zero = np.zeros(x.shape)
        return x, xp, fp, j, j, zero, zero, inside, below, above, src
    dx = xp[j + 1] - xp[j]
    t = np.where(inside, (x - xp[j]) / dx, 0.0)
    slope = np.where(inside, (fp[j + 1] - fp[j]) / dx, 0)
    return x, xp, fp, j, j + 1, t, slope, inside, below, above, src


def _interp_cot(i):
    def vjp(g, ans, x, xp, fp, left=None, right=None, period=None):
        x_, xp_, fp_, j, k, t, s, inside, below, above, src = _interp_parts(
            x, xp, fp, left, right, period)
        g = np.broadcast_to(np.asarray(g), x_.shape)
        n = xp_.size
        if i == 0:
            return fit(g * s, meta_of(x))
        if i in (3, 4):  # (with a period: never below or above)
            return fit(np.sum(g[below if i == 3 else above]), meta_of((left, right)[i - 3]))
        if i == 1:
            w1, w2 = g * s * (t - 1) * inside, -g * s * t * inside
        else:
            w1, w2 = g * (1 - t) * inside, g * t * inside
        ct = _scatter(j, w1, n) + _scatter(k, w2, n)
        if i == 2:
            if left is None:
                ct[0] += np.sum(g[below])
            if right is None:
                ct[-1] += np.sum(g[above])
        if src is not None:
            ct = _scatter(src, ct, np.size(xp))
        return fit(ct, meta_of((x, xp, fp)[i]))
    return vjp


def _scatter(idx, w, n):
    out = np.zeros(n, np.result_type(w, float))
    np.add.at(out, np.ravel(idx), np.ravel(w))
    return out


def _interp_jvp(tangents, ans, x, xp, fp, left=None, right=None, period=None):
    ts = list(tangents) + [None] * (5 - len(tangents))
    x_, xp_, fp_, j, k, t, s, inside, below, above, src = _interp_parts(
        x, xp, fp, left, right, period)
    terms = []
    if ts[0] is not None:
        terms.append(ts[0] * s)
    if ts[1] is not None:
        tx = np.asarray(ts[1]) if src is None else np.asarray(ts[1])[src]
        terms.append(s * ((t - 1) * tx[j] - t * tx[k]) * inside)
    if ts[2] is not None:
        tf = np.asarray(ts[2]) if src is None else np.asarray(ts[2])[src]
        out = (tf[j] * (1 - t) + tf[k] * t) * inside
        if left is None:
            out = out + tf[0] * below
        if right is None:
            out = out + tf[-1] * above
        terms.append(out)
    for tb, mask in ((ts[3], below), (ts[4], above)):
        if tb is not None:
            terms.append(tb * mask)
    return add_tangents(terms)


# --- polyval, trapezoid, bincount ------------------------------------------------------------

def _polyval_dp(g, ans, p, x):
    """p of shape (n, *rest) (NumPy broadcasts each p[k] against x): g x^(n-1-k) summed
    down to rest's shape, for each k."""
    shp = shape_of(p)
    n, rest = shp[0], tuple(shp[1:])
    x, g = np.asarray(x), np.asarray(g)
    powers = np.stack([x ** k for k in range(n - 1, -1, -1)]) if n else np.zeros((0, *x.shape))
    powers = powers.reshape((n,) + (1,) * max(g.ndim - x.ndim, 0) + x.shape)
    prod = g[None] * powers
    return fit(np.stack([sum_to(t, rest) for t in prod]) if n else np.zeros(shp), meta_of(p))


def _polyder(p):
    """The derivative's coefficients, along p's first axis."""
    p = np.asarray(p)
    if p.shape[0] <= 1:
        return np.zeros((1, *p.shape[1:]), p.dtype)
    k = np.arange(p.shape[0] - 1, 0, -1).reshape((-1,) + (1,) * (p.ndim - 1))
    return p[:-1] * k


def _polyval_dx(g, ans, p, x):
    return fit(sum_to(np.asarray(g) * np.polyval(_polyder(p), x), shape_of(x)), meta_of(x))


def _polyval_jvp(tangents, ans, p, x):
    tp, tx = tangents
    return add_tangents((None if tp is None else np.polyval(tp, x),
                         None if tx is None else tx * np.polyval(_polyder(p), x)))


def _trap_weights(y, x, dx, axis):
    """Weights w (shaped to broadcast against y) with trapezoid(y) = sum(w * y, axis)."""
    shape = shape_of(y)
    ax = axis % len(shape)
    n = shape[ax]
    if x is None:
        w = np.full(n, float(dx)) if n > 1 else np.zeros(n)  # one sample: no interval
        w[[0, -1] if n > 1 else []] *= 0.5
        return w.reshape([n if i == ax else 1 for i in range(len(shape))])
    x = np.asarray(x)
    d = np.diff(x, axis=ax if x.ndim > 1 else 0)
    if x.ndim == 1:
        d = d.reshape([n - 1 if i == ax else 1 for i in range(len(shape))])
    pad0, pad1 = [(0, 0)] * d.ndim, [(0, 0)] * d.ndim
    pad0[ax], pad1[ax] = (0, 1), (1, 0)
    return 0.5 * (np.pad(d, pad0) + np.pad(d, pad1))


def _trap_cot(i):
    def vjp(g, ans, y, x=None, dx=1.0, axis=-1):
        ax = axis % len(shape_of(y))
        ge = np.expand_dims(np.asarray(g), ax)
        if i == 0:
            w = _trap_weights(y, x, dx, axis)
            return fit(np.broadcast_to(ge * w, shape_of(y)), meta_of(y))
        y = np.asarray(y)
        n = y.shape[ax]
        mid = 0.5 * (np.take(y, range(1, n), ax) + np.take(y, range(n - 1), ax))
        if i == 2:
            return fit(np.sum(ge * mid), meta_of(dx))
        cd = ge * mid  # cotangent of diff(x)
        pad = [(0, 0)] * cd.ndim
        pad[ax] = (1, 1)
        ct = -np.diff(np.pad(cd, pad), axis=ax)
        if np.ndim(x) == 1:
            ct = np.sum(ct, axis=tuple(k for k in range(ct.ndim) if k != ax))
        return fit(sum_to(ct, shape_of(x)), meta_of(x))
    return vjp


def _trap_jvp(tangents, ans, y, x=None, dx=1.0, axis=-1):
    ts = list(tangents) + [None] * (3 - len(tangents))
    terms = []
    if ts[0] is not None:
        terms.append(np.trapezoid(ts[0], x, dx, axis))
    if ts[1] is not None:  # linear in diff(x) for fixed y
        ax = axis % np.ndim(y)
        n = np.shape(y)[ax]
        y = np.asarray(y)
        mid = 0.5 * (np.take(y, range(1, n), ax) + np.take(y, range(n - 1), ax))
        tx = np.asarray(ts[1])
        d = np.diff(tx, axis=ax if tx.ndim > 1 else 0)
        if tx.ndim == 1:
            d = d.reshape([n - 1 if k == ax else 1 for k in range(y.ndim)])
        terms.append(np.sum(mid * d, axis=ax))
    if ts[2] is not None:
        terms.append(ts[2] * np.trapezoid(y, None, 1.0, axis))
    return add_tangents(terms)


def _bincount_dw(g, ans, x, weights=None, minlength=0):
    return fit(np.asarray(g)[np.asarray(x)], meta_of(weights))


# --- gradient ---------------------------------------------------------------------------------

def _gradient_axes(f, varargs, axis):
    nd = len(shape_of(f))
    axes = tuple(range(nd)) if axis is None else (
        (axis,) if isinstance(axis, int | np.integer) else tuple(axis))
    axes = tuple(int(a) % nd for a in axes)
    if not varargs:
        spacing = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacing = list(varargs) * len(axes)
    else:
        spacing = list(varargs)
    return axes, spacing


def _gradient_coeffs(n, h, edge_order):
    """np.gradient along one axis of length ``n`` is ``out[i] = sum_r G[r, i] f[j_r(i)]``
    with a stencil of at most 3 points: G from gradients of 3 combs, j from the stencils."""
    i = np.arange(n)
    g = np.stack([np.gradient((i % 3 == r).astype(float), h, edge_order=edge_order)
                  for r in range(3)])
    first = np.clip(i - 1, 0, max(n - 3, 0))  # first point of each row's stencil
    j = np.stack([first + (r - first) % 3 for r in range(3)])
    return g, np.minimum(j, n - 1)


def _gradient_vjp(g, ans, f, *varargs, axis=None, edge_order=1):
    m = meta_of(f)
    axes, spacing = _gradient_axes(f, varargs, axis)
    outs = [g] if len(axes) == 1 else list(g)
    ct = np.zeros(m.shape, np.result_type(*outs, float))
    for ax, h, gk in zip(axes, spacing, outs, strict=True):
        coef, j = _gradient_coeffs(m.shape[ax], h, edge_order)
        gk = np.moveaxis(np.asarray(gk), ax, -1)
        view = np.moveaxis(ct, ax, -1)
        for r in range(3):
            contrib = np.zeros_like(view)
            np.add.at(np.moveaxis(contrib, -1, 0), j[r], np.moveaxis(gk * coef[r], -1, 0))
            view += contrib
    return fit(ct, m)


_STEP = 1e-20  # complex step: np.gradient is rational in its spacings, so Im/step is exact


def _gradient_dspacing(f, varargs, tangents, axis, edge_order):
    """Directional derivative of ``np.gradient(f, *varargs)`` along spacing tangents
    (None: zero), by one complex step (gradient is linear in f: complex f splits)."""
    f = np.asarray(f)
    if f.dtype.kind == "c":
        re = _gradient_dspacing(f.real, varargs, tangents, axis, edge_order)
        im = _gradient_dspacing(f.imag, varargs, tangents, axis, edge_order)
        return [a + 1j * b for a, b in zip(re, im, strict=True)]
    sp = [v if t is None else np.asarray(v, float) + 1j * _STEP * np.asarray(t)
          for v, t in zip(varargs, tangents, strict=True)]
    out = np.gradient(f.astype(complex), *sp, axis=axis, edge_order=edge_order)
    outs = out if isinstance(out, tuple | list) else [out]
    return [np.imag(o) / _STEP for o in outs]


def _gradient_spacing_cot(s):
    """Cotangent of spacing ``varargs[s]``: a scalar step, or coordinates along one axis
    (each output reads at most 3 consecutive coordinates: three combs give them all)."""
    def vjp(g, ans, f, *varargs, axis=None, edge_order=1):
        axes, _ = _gradient_axes(f, varargs, axis)
        gs = [g] if len(axes) == 1 else list(g)
        v = varargs[s]
        tang = [None] * len(varargs)
        if np.ndim(v) == 0:
            tang[s] = 1.0
            ds = _gradient_dspacing(f, varargs, tang, axis, edge_order)
            ct = sum(np.sum(np.asarray(gk) * d) for gk, d in zip(gs, ds, strict=True))
            return fit(ct, meta_of(v))
        ax, n = axes[s], len(v)
        _, j = _gradient_coeffs(n, np.arange(n, dtype=float), edge_order)
        ct = np.zeros(n)
        others = tuple(k for k in range(np.ndim(f)) if k != ax)
        for r in range(3):
            tang[s] = (np.arange(n) % 3 == r).astype(float)
            d = _gradient_dspacing(f, varargs, tang, axis, edge_order)[s]
            np.add.at(ct, j[r], np.sum(np.real(np.asarray(gs[s]) * d), axis=others))
        return fit(ct, meta_of(v))
    return vjp


def _gradient_jvp(tangents, ans, f, *varargs, axis=None, edge_order=1):
    kw = {"axis": axis, "edge_order": edge_order}
    out = None if tangents[0] is None else np.gradient(tangents[0], *varargs, **kw)
    ts = list(tangents[1:1 + len(varargs)])
    ts += [None] * (len(varargs) - len(ts))
    if any(t is not None for t in ts):
        d = _gradient_dspacing(f, varargs, ts, axis, edge_order)
        d = d[0] if not isinstance(ans, tuple | list) else tuple(d)
        out = d if out is None else (out + d if not isinstance(d, tuple) else
                                     tuple(a + b for a, b in zip(out, d, strict=True)))
    return out


def install() -> None:
    every = tuple(range(9))  # f and up to 8 spacings (scalars or coordinate arrays)
    register(np.gradient, vjp=(_gradient_vjp, *map(_gradient_spacing_cot, range(8))),
             jvp=_gradient_jvp, saves={i: every for i in every}, multi=True, argnames=None,
             first_order=range(1, 9))  # the spacings' derivative is a complex step
    register(np.diff, vjp=(_diff_cot(0), None, None, _diff_cot(3), _diff_cot(4)),
             jvp=_diff_jvp, saves={0: (), 3: (), 4: ()})
    register(np.ediff1d, vjp=(_ediff_cot(0), _ediff_cot(1), _ediff_cot(2)), jvp=_ediff_jvp,
             saves={0: (), 1: (), 2: ()})
    for fn in (np.convolve, np.polymul):  # polymul of coefficient arrays: a full convolve
        register(fn, vjp=(_convolve_cot(0), _convolve_cot(1)), jvp=_convolve_jvp,
                 saves={0: (1,), 1: (0,)})
    register(np.correlate, vjp=(_correlate_cot(0), _correlate_cot(1)), jvp=_correlate_jvp,
             saves={0: (1,), 1: (0,)})
    cots = tuple(_interp_cot(i) for i in range(5))
    register(np.interp, vjp=cots, jvp=_interp_jvp, saves={i: (0, 1, 2) for i in range(5)},
             nondiff=(5,))
    register(np.polyval, vjp=(_polyval_dp, _polyval_dx), jvp=_polyval_jvp,
             saves={0: (1,), 1: (0, 1)})
    register(np.trapezoid, vjp=(_trap_cot(0), _trap_cot(1), _trap_cot(2)), jvp=_trap_jvp,
             saves={0: (1, 2), 1: (0,), 2: (0,)})
    deflinear(np.bincount, _bincount_dw, argnum=1, saves={1: (0,)})
