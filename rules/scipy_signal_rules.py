"""Rules for SciPy's linear filters: ``scipy.ndimage`` correlations/convolutions and the
separable filters built on them (``gaussian_filter``, ``uniform_filter``, their 1-D forms).

A filter is linear in its input and its weights and affine in ``cval``. Its adjoint in the
input respects every boundary ``mode`` and ``origin`` because it is built from SciPy's own
filter: for each tap ``k`` of the weights, filtering an image of flat indices with the one-hot
weights ``e_k`` (``cval=-1``) tells which input element feeds each output element through that
tap; the cotangent is scattered back along those maps (``np.add.at``), and the weights'
cotangent is ``sum(g * x[map_k])``. Separable filters apply the 1-D adjoints in reverse order.
Not differentiated (nondiff, reported as FA101 when traced): ``sigma``, ``size``, ``order``,
``truncate`` and an ``output=`` array (in-place filtering). Real-valued data only.

``scipy.fft``'s transforms share NumPy's rules (fft_rules), so ``scipy.signal.fftconvolve``
and the other FFT-based routines differentiate through them.
"""

from __future__ import annotations

import inspect

import numpy as np
import scipy.fft as sfft
import scipy.ndimage as nd
import scipy.signal as ss
from scipy.interpolate import _dierckx, _ppoly
from scipy.ndimage import _filters, _ni_support

from . import fft_rules
from .matrices import real_only
from .registry import lookup, register
from .scipy_fft_rules import overwrite_refused


def _bound(fn, args, kwargs) -> dict:
    b = inspect.signature(fn).bind(*args, **kwargs)
    b.apply_defaults()
    return dict(b.arguments)


def _maps(fn, shape, wshape, kw):
    """``(k, flat source index per output element, -1 outside)`` for each tap ``k``."""
    idx = np.arange(int(np.prod(shape)), dtype=float).reshape(shape)
    kw = {**kw, "output": None, "cval": -1.0}
    for k in np.ndindex(*wshape):
        e = np.zeros(wshape)
        e[k] = 1.0
        yield k, np.rint(fn(idx, e, **kw)).astype(np.intp)


def _filter_adjoint(fn, g, x, w, kw):
    """``(x̄, w̄)`` of ``y = fn(x, w, **kw)`` for the cotangent ``g`` (x̄ without cval)."""
    g = np.asarray(g, dtype=float)
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    gx, gw = np.zeros(x.size), np.zeros(w.shape)
    xf = x.ravel()
    cval = float(kw.get("cval", 0.0))
    for k, m in _maps(fn, x.shape, w.shape, kw):
        inside = m >= 0
        np.add.at(gx, m[inside], (g * w[k])[inside])
        gw[k] = np.sum(np.where(inside, g * xf[np.where(inside, m, 0)], g * cval))
    return gx.reshape(x.shape), gw


def _cval_cot(fn, g, args, b, cval_pos):
    """``sum(g * dy/dcval)``: y is affine in cval, so dy/dcval = fn(0, ..., cval=1)."""
    if len(args) <= cval_pos:
        return None
    kw = {**b, "output": None, "cval": 1.0, "input": np.zeros(np.shape(b["input"]))}
    return float(np.sum(np.asarray(g) * fn(**kw)))


def _nondiff(fn, diff):
    names = list(inspect.signature(fn).parameters)
    pos = [i for i, n in enumerate(names)
           if inspect.signature(fn).parameters[n].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    return tuple(i for i in pos if names[i] not in diff)


def _hazard(name):
    return (f"a traced value reached an argument of {name} framead does not differentiate "
            "(sigma, size, order, truncate, origin, mode, or an output= array written in "
            "place); the gradient through it is lost")


# --- correlate, convolve, correlate1d, convolve1d ---------------------------------------------

def _weighted_vjp(fn):
    def vjp(g, ans, *args, **kwargs):
        b = _bound(fn, args, kwargs)
        x, w = b.pop("input"), b.pop("weights")
        real_only(fn.__name__, x, w, g)
        b.pop("output", None)
        gx, gw = _filter_adjoint(fn, g, x, w, b)
        out = [None] * len(args)
        out[0] = gx
        if len(args) > 1:
            out[1] = gw.reshape(np.shape(w))
        cpos = list(inspect.signature(fn).parameters).index("cval")
        if len(args) > cpos:
            out[cpos] = _cval_cot(fn, g, args, _bound(fn, args, kwargs), cpos)
        return tuple(out)

    return vjp


def _weighted_jvp(fn):
    names = list(inspect.signature(fn).parameters)

    def jvp(tangents, ans, *args, **kwargs):
        b = _bound(fn, args, kwargs)
        b["output"] = None
        out = None
        for i, t in enumerate(tangents):
            if t is None:
                continue
            if names[i] == "cval":
                term = fn(**{**b, "input": np.zeros(np.shape(b["input"])), "cval": 1.0}) * t
            elif names[i] == "input":  # cval is not the input's: its tangent pads with 0
                term = fn(**{**b, "input": t, "cval": 0.0})
            else:  # weights: y = sum_k w_k * (input padded with cval)_k
                term = fn(**{**b, names[i]: t})
            out = term if out is None else out + term
        return out

    return jvp


# --- separable filters: gaussian_filter(1d), uniform_filter(1d) -------------------------------

def _gauss_pass(sigma, order, truncate, radius):
    lw = int(truncate * float(sigma) + 0.5) if radius is None else radius
    return _filters._gaussian_kernel1d(sigma, order, lw)[::-1], 0


def _passes(fn, b, ndim):
    """The 1-D correlations ``[(axis, weights, mode, origin)]`` ``fn`` applies, in order."""
    if fn is nd.gaussian_filter1d:
        w, o = _gauss_pass(b["sigma"], b["order"], b["truncate"], b.get("radius"))
        return [(b["axis"], w, b["mode"], o)]
    if fn is nd.uniform_filter1d:
        return [(b["axis"], np.full(int(b["size"]), 1.0 / int(b["size"])), b["mode"],
                 b["origin"])]
    axes = _ni_support._check_axes(b.get("axes"), ndim)
    n = len(axes)
    modes = _ni_support._normalize_sequence(b["mode"], n)
    if fn is nd.gaussian_filter:
        sig = _ni_support._normalize_sequence(b["sigma"], n)
        orders = _ni_support._normalize_sequence(b["order"], n)
        radii = _ni_support._normalize_sequence(b.get("radius"), n)
        out = []
        for i in range(n):
            if sig[i] > 1e-15:
                w, _ = _gauss_pass(sig[i], orders[i], b["truncate"], radii[i])
                out.append((axes[i], w, modes[i], 0))
        return out
    sizes = _ni_support._normalize_sequence(b["size"], n)
    origins = _ni_support._normalize_sequence(b["origin"], n)
    return [(axes[i], np.full(int(sizes[i]), 1.0 / int(sizes[i])), modes[i], origins[i])
            for i in range(n) if sizes[i] > 1]


def _separable_vjp(fn):
    cpos = list(inspect.signature(fn).parameters).index("cval")

    def vjp(g, ans, *args, **kwargs):
        b = _bound(fn, args, kwargs)
        x = np.asarray(b["input"])
        real_only(fn.__name__, x, g)
        gx = np.asarray(g, dtype=float)
        for axis, w, mode, origin in reversed(_passes(fn, b, x.ndim)):
            gx, _ = _filter_adjoint(nd.correlate1d, gx, np.zeros(x.shape), w,
                                    {"axis": axis, "mode": mode, "origin": origin,
                                     "cval": 0.0})
        out = [None] * len(args)
        out[0] = gx
        if len(args) > cpos:
            out[cpos] = _cval_cot(fn, g, args, b, cpos)
        return tuple(out)

    return vjp


def _separable_jvp(fn):
    def jvp(tangents, ans, *args, **kwargs):
        b = _bound(fn, args, kwargs)
        b["output"] = None
        out = None
        if tangents[0] is not None:
            out = fn(**{**b, "input": tangents[0], "cval": 0.0})
        names = list(b)
        for i, t in enumerate(tangents[1:], 1):
            if t is not None and names[i] == "cval":
                term = fn(**{**b, "input": np.zeros(np.shape(b["input"])), "cval": 1.0}) * t
                out = term if out is None else out + term
        return out

    return jvp


WEIGHTED = [nd.correlate, nd.convolve, nd.correlate1d, nd.convolve1d]
SEPARABLE = [nd.gaussian_filter, nd.gaussian_filter1d, nd.uniform_filter, nd.uniform_filter1d]


# --- scipy.signal.convolve / correlate (every mode and method) --------------------------------

def _full_cot(g, ans, x, k, mode, centre_high=False):
    """The cotangent of the 'full' result: ``g`` placed where ``mode`` cuts it from
    (``correlate2d``'s 'same' takes the upper centre for even kernels)."""
    nx, nk = np.shape(x), np.shape(k)
    full = tuple(a + b - 1 for a, b in zip(nx, nk, strict=True))
    if mode == "full":
        return np.asarray(g, dtype=float)
    if mode == "same":
        start = tuple((f - a + centre_high) // 2 for f, a in zip(full, nx, strict=True))
    else:
        start = tuple(min(a, b) - 1 for a, b in zip(nx, nk, strict=True))
    out = np.zeros(full)
    out[tuple(slice(s, s + n) for s, n in zip(start, np.shape(ans), strict=True))] = g
    return out


def _signal_vjp(correlate, centre_high=False):
    def vjp(g, ans, in1, in2, mode="full", method="auto"):
        x, k = np.asarray(in1, dtype=float), np.asarray(in2, dtype=float)
        real_only("scipy.signal.correlate" if correlate else "scipy.signal.convolve",
                   in1, in2, g)
        gf = _full_cot(g, ans, x, k, mode, centre_high)
        kc = np.flip(k) if correlate else k  # y_full = convolve(x, kc, 'full')
        gx = ss.correlate(gf, kc, mode="valid")
        gk = ss.correlate(gf, x, mode="valid")
        return (gx.reshape(np.shape(in1)),
                (np.flip(gk) if correlate else gk).reshape(np.shape(in2)), None, None)

    return vjp


def _signal_jvp(fn):
    def jvp(tangents, ans, in1, in2, mode="full", method="auto"):
        t1, t2 = tangents[0], tangents[1] if len(tangents) > 1 else None
        terms = [fn(t1, in2, mode=mode, method=method) if t1 is not None else None,
                 fn(in1, t2, mode=mode, method=method) if t2 is not None else None]
        terms = [t for t in terms if t is not None]
        return sum(terms[1:], terms[0]) if terms else None

    return jvp


# --- piecewise polynomials (PPoly, CubicSpline, Akima...): scipy.interpolate._ppoly.evaluate ---

def ppoly_eval(c, x, xp, nu, extrapolate):
    """``_ppoly.evaluate(c, x, xp, nu, extrapolate, out)`` as a function returning ``out``
    (framead/scipy_calls.py records the C call as this, then a write into ``out``)."""
    out = np.empty((len(xp), c.shape[2]), dtype=c.dtype)
    _ppoly.evaluate(np.ascontiguousarray(c), np.ascontiguousarray(x),
                    np.ascontiguousarray(xp), int(nu), bool(extrapolate), out)
    return out


def _ppoly_parts(c, x, xp, nu, extrapolate):
    """(interval of each point (-1: none), derivative in the point)."""
    c = np.asarray(c, dtype=float)
    k, m = c.shape[:2]
    ci = np.zeros((k, m, 1))
    ci[k - 1, :, 0] = np.arange(m)
    iv = ppoly_eval(ci, x, xp, 0, extrapolate)[:, 0]
    iv = np.where(np.isnan(iv), -1, np.rint(np.nan_to_num(iv, nan=-1))).astype(np.intp)
    return iv, ppoly_eval(c, x, xp, nu + 1, extrapolate)


def _ppoly_vjp(g, ans, c, x, xp, nu, extrapolate):
    real_only("scipy.interpolate PPoly evaluation", c, g)
    c, x, xp = (np.asarray(a, dtype=float) for a in (c, x, xp))
    g = np.nan_to_num(np.asarray(g, dtype=float))
    iv, d = _ppoly_parts(c, x, xp, nu, extrapolate)
    ok = iv >= 0
    gc = np.zeros(c.shape)
    for j in range(c.shape[0]):
        e = np.zeros((c.shape[0], c.shape[1], 1))
        e[j] = 1.0
        basis = ppoly_eval(e, x, xp, nu, extrapolate)[:, 0]
        np.add.at(gc[j], iv[ok], g[ok] * basis[ok, None])
    gd = np.where(ok, np.sum(g * np.nan_to_num(d), axis=1), 0.0)
    gx = np.zeros(x.shape)
    np.add.at(gx, iv[ok], -gd[ok])
    return gc, gx, gd, None, None


def _ppoly_jvp(tangents, ans, c, x, xp, nu, extrapolate):
    tc, tx, txp = (tuple(tangents) + (None,) * 3)[:3]
    out = None if tc is None else ppoly_eval(np.asarray(tc, float), x, xp, nu, extrapolate)
    if tx is not None or txp is not None:
        iv, d = _ppoly_parts(c, x, xp, nu, extrapolate)
        shift = np.zeros(len(iv)) if txp is None else np.asarray(txp, float)
        if tx is not None:
            shift = shift - np.where(iv >= 0, np.asarray(tx, float)[np.maximum(iv, 0)], 0)
        term = d * shift[:, None]
        out = term if out is None else out + term
    return out


# --- B-splines (BSpline, make_interp_spline, interp1d(kind='cubic')...) ------------------------

def _bspline_vjp(g, ans, t, c, k, x, nu=0, extrapolate=True):
    """``_dierckx.evaluate_spline(t, c, k, x, nu, extrapolate)``: linear in ``c`` (the basis
    values come from evaluating the identity's columns), ``x`` through the ``nu + 1``-th
    derivative; the knots ``t`` are nondiff (reported when traced)."""
    real_only("scipy.interpolate BSpline evaluation", c, g)
    t, c, x = (np.asarray(a, dtype=float) for a in (t, c, x))
    g = np.asarray(g, dtype=float)
    n = c.shape[0]
    basis = _dierckx.evaluate_spline(t, np.eye(n), k, x, nu, extrapolate)
    gc = np.nan_to_num(basis).T @ np.nan_to_num(g)
    d = _dierckx.evaluate_spline(t, c, k, x, nu + 1, extrapolate)
    gx = np.sum(np.nan_to_num(g * d), axis=1)
    return None, gc, None, gx, None, None


def _bspline_jvp(tangents, ans, t, c, k, x, nu=0, extrapolate=True):
    tc, tx = (tuple(tangents) + (None,) * 4)[1], (tuple(tangents) + (None,) * 4)[3]
    out = None
    if tc is not None:
        out = _dierckx.evaluate_spline(t, np.asarray(tc, dtype=float), k, x, nu, extrapolate)
    if tx is not None:
        d = _dierckx.evaluate_spline(t, c, k, x, nu + 1, extrapolate)
        term = d * np.asarray(tx, dtype=float)[:, None]
        out = term if out is None else out + term
    return out


def _signal2d_vjp(correlate):
    base = _signal_vjp(correlate, centre_high=correlate)

    def vjp(g, ans, in1, in2, mode="full", boundary="fill", fillvalue=0):
        if boundary not in ("fill", "pad") or fillvalue != 0:
            raise NotImplementedError("framead: scipy.signal.convolve2d/correlate2d with "
                                      f"boundary={boundary!r}, fillvalue={fillvalue!r} has no "
                                      "reverse-mode rule (boundary='fill', fillvalue=0 has)")
        return (*base(g, ans, in1, in2, mode)[:2], None, None, None)

    return vjp


_SIGNAL2D_REFUSED = {"boundary": lambda b: b not in ("fill", "pad"),
                     "fillvalue": lambda v: bool(np.any(np.asarray(v) != 0))}


def _signal2d_jvp(fn):
    def jvp(tangents, ans, in1, in2, mode="full", boundary="fill", fillvalue=0):
        t1, t2 = (tuple(tangents) + (None, None))[:2]
        out = None if t1 is None else fn(t1, in2, mode, boundary, 0)
        if t2 is not None:
            term = fn(in1, t2, mode, boundary, fillvalue)
            out = term if out is None else out + term
        return out

    return jvp


# --- scipy.signal.lfilter: y = (b / a) x along an axis, with its state zi -> zf -------------
# With b, a normalised by a[0] and padded to K + 1 (K states; transposed direct form II),
# y = (b / a) x + (1 / a) d with d[n] = zi[n] (n < K), and the final state is
#   zf[m] = sum_{j=m+1}^{min(K, m+N)} (b[j] x[N+m-j] - a[j] y[N+m-j]) + zi[m+N] (m+N < K).

def _lfilter_coeffs(b, a):
    b, a = np.asarray(b, dtype=float), np.asarray(a, dtype=float)
    k = max(len(a), len(b)) - 1
    pad = lambda c: np.concatenate([c / a[0], np.zeros(k + 1 - len(c))])  # noqa: E731
    return b, a, pad(b), pad(a), k


def _state_sum(c, u, k):
    """``s[..., m] = sum_{j=m+1}^{min(k, m+N)} c[j] u[..., N+m-j]`` (``u`` along the last axis)."""
    n = u.shape[-1]
    out = np.zeros(u.shape[:-1] + (k,), dtype=np.result_type(c, u, float))
    for m in range(k):
        for j in range(m + 1, min(k, m + n) + 1):
            out[..., m] += c[j] * u[..., n + m - j]
    return out


def _state_sum_vjp(h, c, u, k):
    """The cotangents of ``c`` and ``u`` of ``_state_sum(c, u, k)``, ``h`` its cotangent."""
    n = u.shape[-1]
    gc, gu = np.zeros(len(c)), np.zeros(u.shape)
    for m in range(k):
        for j in range(m + 1, min(k, m + n) + 1):
            gc[j] += np.sum(h[..., m] * u[..., n + m - j])
            gu[..., n + m - j] += c[j] * h[..., m]
    return gc, gu


def _zi_shift(z, n, k):
    """``z[..., m + n]`` where ``m + n < k``, else 0 (the initial state left after n steps)."""
    out = np.zeros(z.shape[:-1] + (k,), dtype=np.result_type(z, float))
    if n < k:
        out[..., :k - n] = z[..., n:]
    return out


def _lfilter_vjp(g, ans, b, a, x, axis=-1, zi=None):
    real_only("scipy.signal.lfilter", b, a, x, *(() if zi is None else (zi,)))
    b, a, bn, an, k = _lfilter_coeffs(b, a)
    last = lambda v: np.moveaxis(np.asarray(v, dtype=float), axis, -1)  # noqa: E731
    xl = last(x)
    n = xl.shape[-1]
    y = ss.lfilter(bn, an, xl, zi=None if zi is None else last(zi))
    h = None
    if zi is not None:
        y = y[0]
        g, h = g if isinstance(g, tuple | list) else (g, None)
        h = None if h is None or not np.any(np.asarray(h) != 0) else last(h)
    g = np.broadcast_to(last(g), y.shape)
    gbn, gan, gx = np.zeros(k + 1), np.zeros(k + 1), 0.0
    if h is not None:  # zf's direct terms, and its cotangent of y
        gbn, gx = _state_sum_vjp(h, bn, xl, k)
        gan, gy = _state_sum_vjp(h, an, y, k)
        gan, g = -gan, g - gy
    # the adjoint of a causal filter runs anticausally: w = flip(filter(flip(g)))
    w = np.flip(ss.lfilter([1.0], an, np.flip(g, -1)), -1)
    gx = gx + np.flip(ss.lfilter(bn, an, np.flip(g, -1)), -1)
    gbn = (gbn + _lags(w, xl, k + 1, -1))[:len(b)]
    gan = (gan - _lags(w, y, k + 1, -1))[:len(a)]
    gan[0] = 0.0
    ga = gan / a[0]
    ga[0] -= (np.dot(gbn, b) + np.dot(gan, a)) / a[0] ** 2
    back = lambda v: np.moveaxis(v, -1, axis)  # noqa: E731
    gzi = None
    if zi is not None:
        gzi = np.zeros(np.shape(xl)[:-1] + (k,))
        gzi[..., :min(k, n)] = w[..., :k]
        if h is not None:
            gzi[..., n:] += h[..., :max(k - n, 0)]
        gzi = np.reshape(back(gzi), np.shape(zi))
    return gbn / a[0], ga, back(gx), None, gzi


def _lags(u, v, n, axis):
    """``out[k] = sum over the axis (and the others) of u[i] * v[i - k]``, k < n."""
    u, v = np.moveaxis(u, axis, -1), np.moveaxis(v, axis, -1)
    m = u.shape[-1]
    return np.array([np.sum(u[..., k:] * v[..., :m - k]) if k < m else 0.0 for k in range(n)])


def _lfilter_jvp(tangents, ans, b, a, x, axis=-1, zi=None):
    tb, ta, tx, _, tz = (tuple(tangents) + (None,) * 5)[:5]
    b, a, bn, an, k = _lfilter_coeffs(b, a)
    last = lambda v: np.moveaxis(np.asarray(v, dtype=float), axis, -1)  # noqa: E731
    xl = last(x)
    y = last(ans[0] if zi is not None else ans)
    ta0 = 0.0 if ta is None else np.asarray(ta, dtype=float)[0]
    tbn = np.zeros(k + 1)
    tbn[:len(b)] = (0.0 if tb is None else np.asarray(tb, dtype=float)) / a[0] - b * ta0 / a[0] ** 2
    tan = np.zeros(k + 1)
    if ta is not None:
        tan[:len(a)] = np.asarray(ta, dtype=float) / a[0] - a * ta0 / a[0] ** 2
        tan[0] = 0.0
    txl = np.zeros(xl.shape) if tx is None else np.broadcast_to(last(tx), xl.shape)
    # the tangent of y: 1 / a of the tangents' input (zi's tangent added to its first K)
    u = ss.lfilter(tbn, [1.0], xl) + ss.lfilter(bn, [1.0], txl) - ss.lfilter(tan, [1.0], y)
    tzl = None if tz is None else np.broadcast_to(last(tz), xl.shape[:-1] + (k,))
    if tzl is not None:
        u[..., :k] += tzl[..., :u.shape[-1]]
    ty = ss.lfilter([1.0], an, u)
    back = lambda v: np.moveaxis(v, -1, axis)  # noqa: E731
    if zi is None:
        return back(ty)
    tzf = (_state_sum(tbn, xl, k) + _state_sum(bn, txl, k) - _state_sum(tan, y, k)
           - _state_sum(an, ty, k))
    if tzl is not None:
        tzf = tzf + _zi_shift(tzl, xl.shape[-1], k)
    return back(ty), np.reshape(back(tzf), np.shape(ans[1]))


# --- scipy.fft: NumPy's transforms with extra arguments (overwrite_x, workers, plan) ----------

_FFT_KW = ("n", "s", "axis", "axes", "norm")


def _fft_vjp(vjp):
    def adapted(g, ans, a, *args, **kw):
        return vjp(g, ans, a, *args[:3], **{k: v for k, v in kw.items() if k in _FFT_KW})

    return adapted


def _fft_jvp(fn):
    def jvp(tangents, ans, a, *args, **kw):
        return fn(tangents[0], *args[:3], **{k: v for k, v in kw.items() if k in _FFT_KW})

    return jvp


def install() -> None:
    """Register every rule whose function has none yet (a user's own rule wins)."""
    for np_fn, vjp in fft_rules.TRANSFORMS:
        fn = getattr(sfft, np_fn.__name__, None)
        if fn is not None and lookup(fn) is None:
            register(fn, vjp=(_fft_vjp(vjp),), jvp=_fft_jvp(fn), saves={0: ()},
                     name=f"scipy.fft.{np_fn.__name__}",  # (overwrite_x: 4th after x)
                     refuses=overwrite_refused(f"scipy.fft.{np_fn.__name__}", 4))
    if lookup(_dierckx.evaluate_spline) is None:
        name = "scipy.interpolate._dierckx.evaluate_spline"
        register(_dierckx.evaluate_spline, vjp=_bspline_vjp, jvp=_bspline_jvp, saves=None,
                 nondiff=(0, 2, 4, 5), hazard=_hazard(name), name=name,
                 argnames=("t", "c", "k", "x", "nu", "extrapolate"))
    if lookup(ppoly_eval) is None:
        register(ppoly_eval, vjp=_ppoly_vjp, jvp=_ppoly_jvp, saves=None, nondiff=(3, 4),
                 name="scipy.interpolate._ppoly.evaluate")
    for fn, corr in ((ss.convolve2d, False), (ss.correlate2d, True)):
        if lookup(fn) is None:
            name = f"scipy.signal.{fn.__name__}"
            register(fn, vjp=_signal2d_vjp(corr), jvp=_signal2d_jvp(fn), saves=None,
                     nondiff=(2, 3, 4), hazard=_hazard(name) + " (fillvalue)", name=name,
                     refuses=_SIGNAL2D_REFUSED)
    if lookup(ss.lfilter) is None:
        register(ss.lfilter, vjp=_lfilter_vjp, jvp=_lfilter_jvp, saves=None, nondiff=(3,),
                 hazard=_hazard("scipy.signal.lfilter"),
                 name="scipy.signal.lfilter")
    for fn, corr in ((ss.convolve, False), (ss.correlate, True)):
        if lookup(fn) is None:
            register(fn, vjp=_signal_vjp(corr), jvp=_signal_jvp(fn), saves=None, nondiff=(2, 3),
                     name=f"scipy.signal.{fn.__name__}")
    for fn in WEIGHTED:
        if lookup(fn) is None:
            name = f"scipy.ndimage.{fn.__name__}"
            register(fn, vjp=_weighted_vjp(fn), jvp=_weighted_jvp(fn), saves=None,
                     nondiff=_nondiff(fn, ("input", "weights", "cval")), hazard=_hazard(name),
                     name=name)
    for fn in SEPARABLE:
        if lookup(fn) is None:
            name = f"scipy.ndimage.{fn.__name__}"
            register(fn, vjp=_separable_vjp(fn), jvp=_separable_jvp(fn), saves=None,
                     nondiff=_nondiff(fn, ("input", "cval")), hazard=_hazard(name), name=name)
