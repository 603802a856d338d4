"""Rules for NumPy's scans: ``cumsum``/``cumprod`` (with their ndarray methods), the array-API
``cumulative_sum``/``cumulative_prod`` (``include_initial``) and ``nancumsum``/``nancumprod``.

``cumprod``'s cotangent and tangent divide by the input where it has no zeros; with zeros they
are computed by a recurrence without division.

Also ``np.arange(start, stop, step)``: ``start + i * step``, so ``start`` gets ``sum(g)`` and
``step`` ``sum(i * g)``; ``stop`` (or a lone argument: the stop) only decides the length,
which a cached trace must guard (capture records that decision), and gets no cotangent.
"""

from __future__ import annotations

import numpy as np

from .families import deflinear
from .registry import register, register_method
from .shapes import fit, meta_of


def _rev_cumsum(g, axis):
    return np.flip(np.cumsum(np.flip(g, axis), axis), axis)


def _cumsum_vjp(g, ans, a, axis=None, dtype=None, out=None):
    m = meta_of(a)
    if axis is None:  # (np.matrix's cumsum is (1, n): its g too)
        return fit(_rev_cumsum(np.ravel(np.asarray(g)), 0).reshape(m.shape), m)
    return fit(_rev_cumsum(np.asarray(g), axis), m)


def _initial_dropped(g, axis, include_initial):
    if not include_initial:
        return np.asarray(g)
    g = np.asarray(g)
    return np.take(g, np.arange(1, g.shape[axis or 0]), axis=axis or 0)


def _csum_vjp(g, ans, x, *, axis=None, dtype=None, out=None, include_initial=False):
    g = _initial_dropped(g, axis, include_initial)
    return fit(_rev_cumsum(g, axis or 0), meta_of(x))


def _cumprod_scan(a, axis):
    """(a with the scanned axis last, exclusive prefix products, the cumprod)."""
    am = np.moveaxis(np.asarray(a), axis, -1)
    ans = np.cumprod(am, axis=-1)
    pre = np.ones_like(ans)
    pre[..., 1:] = ans[..., :-1]
    return am, pre, ans


def _cumprod_cot(g, a, axis):
    am, pre, ans = _cumprod_scan(a, axis)
    gm = np.moveaxis(np.asarray(g), axis, -1)
    if np.all(am != 0):
        return np.moveaxis(_rev_cumsum(gm * ans, -1) / am, -1, axis)
    h = np.zeros(np.broadcast_shapes(gm.shape, am.shape), np.result_type(gm, am))
    h[..., -1] = gm[..., -1]
    for k in range(am.shape[-1] - 2, -1, -1):  # h_k = g_k + a_{k+1} h_{k+1}: no division
        h[..., k] = gm[..., k] + am[..., k + 1] * h[..., k + 1]
    return np.moveaxis(pre * h, -1, axis)


def _cumprod_tan(t, a, axis):
    am, pre, ans = _cumprod_scan(a, axis)
    tm = np.moveaxis(np.asarray(t), axis, -1)
    if np.all(am != 0):
        return np.moveaxis(ans * np.cumsum(tm / am, axis=-1), -1, axis)
    u = np.zeros(np.broadcast_shapes(tm.shape, am.shape), np.result_type(tm, am))
    u[..., 0] = tm[..., 0]
    for j in range(1, am.shape[-1]):
        u[..., j] = u[..., j - 1] * am[..., j] + pre[..., j] * tm[..., j]
    return np.moveaxis(u, -1, axis)


def _flat_axis(a, axis):
    return (np.ravel(a), 0) if axis is None else (np.asarray(a), axis)


def _cumprod_vjp(g, ans, a, axis=None, dtype=None, out=None):
    af, ax = _flat_axis(a, axis)
    g = np.ravel(np.asarray(g)) if axis is None else g  # (np.matrix's is (1, n))
    return fit(_cumprod_cot(g, af, ax).reshape(np.shape(a)), meta_of(a))


def _cumprod_jvp(tangents, ans, a, axis=None, dtype=None, out=None):
    af, ax = _flat_axis(a, axis)
    return _cumprod_tan(np.ravel(tangents[0]) if axis is None else tangents[0], af, ax)


def _cprod_vjp(g, ans, x, *, axis=None, dtype=None, out=None, include_initial=False):
    g = _initial_dropped(g, axis, include_initial)
    return fit(_cumprod_cot(g, x, axis or 0), meta_of(x))


def _cprod_jvp(tangents, ans, x, *, axis=None, dtype=None, out=None, include_initial=False):
    t = _cumprod_tan(tangents[0], x, axis or 0)
    if include_initial:
        t = np.concatenate([np.zeros_like(np.take(t, [0], axis=axis or 0)), t], axis=axis or 0)
    return t


def _nancumsum_vjp(g, ans, a, axis=None, dtype=None, out=None):
    return fit(_cumsum_vjp(g, None, a, axis) * ~np.isnan(a), meta_of(a))


def _nancumsum_jvp(tangents, ans, a, axis=None, dtype=None, out=None):
    return np.cumsum(np.where(np.isnan(a), 0, tangents[0]), axis=axis)


def _nancumprod_vjp(g, ans, a, axis=None, dtype=None, out=None):
    ok = ~np.isnan(a)
    return fit(_cumprod_vjp(g, None, np.where(ok, a, 1), axis) * ok, meta_of(a))


def _nancumprod_jvp(tangents, ans, a, axis=None, dtype=None, out=None):
    ok = ~np.isnan(a)
    return _cumprod_jvp((np.where(ok, tangents[0], 0),), None, np.where(ok, a, 1), axis)


def _arange_parts(args: tuple, kw: dict) -> tuple[int | None, int | None]:
    """Positions (in ``args``) of arange's start and step (None: absent or a keyword)."""
    if len(args) == 1 and "stop" not in kw:  # arange(stop)
        return None, None
    return 0, (2 if len(args) > 2 else None)


def _arange_vjp(g, ans, *args, **kw):
    g = np.asarray(g)
    if np.arange(*args, **kw).shape != g.shape:  # (a cached trace replayed where the length
        raise ValueError("np.arange's length differs from the recorded one")  # changed: a miss)
    start, step = _arange_parts(args, kw)
    cts: list = [None] * len(args)
    if start is not None:
        cts[start] = fit(np.sum(g), meta_of(args[start]))
    if step is not None:
        cts[step] = fit(np.sum(g * np.arange(g.shape[0])), meta_of(args[step]))
    return tuple(cts)


def _arange_jvp(tangents, ans, *args, **kw):
    start, step = _arange_parts(args, kw)
    t0 = tangents[start] if start is not None else None
    ts = tangents[step] if step is not None else None
    n = np.shape(ans)[0]
    out = np.zeros(n) if t0 is None else np.zeros(n) + t0
    return out if ts is None else out + np.arange(n) * ts


def _arange_refuses(args: tuple, kwargs: dict) -> str | None:
    dt = kwargs.get("dtype", args[3] if len(args) > 3 else None)
    if dt is not None and np.dtype(dt).kind != "f":
        return f"np.arange with dtype={np.dtype(dt)} of traced bounds has no derivative rule"
    if any(k in kwargs for k in ("start", "step")):
        return "np.arange with a start= or step= keyword has no derivative rule"
    if any(np.iscomplexobj(a) for a in args[:3]):
        return "np.arange of complex bounds has no derivative rule"
    return None


def install() -> None:
    register(np.arange, vjp=_arange_vjp, jvp=_arange_jvp,
             saves=dict.fromkeys((0, 1, 2), (0, 1, 2)), nondiff=(1, 3),
             argnames=("start", "stop", "step", "dtype"), refuses=_arange_refuses)
    cumsum = deflinear(np.cumsum, _cumsum_vjp)
    register_method(np.ndarray, "cumsum", cumsum)
    deflinear(np.cumulative_sum, _csum_vjp)
    cumprod = register(np.cumprod, vjp=(_cumprod_vjp,), jvp=_cumprod_jvp, saves={0: (0,)})
    register_method(np.ndarray, "cumprod", cumprod)
    register(np.cumulative_prod, vjp=(_cprod_vjp,), jvp=_cprod_jvp, saves={0: (0,)})
    register(np.nancumsum, vjp=(_nancumsum_vjp,), jvp=_nancumsum_jvp, saves={0: (0,)})
    register(np.nancumprod, vjp=(_nancumprod_vjp,), jvp=_nancumprod_jvp, saves={0: (0,)})
