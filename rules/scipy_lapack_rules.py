"""What framead/scipy_calls.py applies to LAPACK calls it runs itself: the rule of ``?gbsv``
(``make_interp_spline``'s banded solve) and ``on_copies``, the callable of a node recorded
for a call given ``overwrite_*=True`` (its function run on copies laid out as recorded)."""

from __future__ import annotations

import numpy as np

from .scipy_rules import _band_solve_jvp, _band_solve_vjp


def _gbsv_vjp(g, ans, kl, ku, ab, b, *args, **kw):
    """LAPACK ``?gbsv`` (``lub, piv, x, info``): ``ab``'s last ``kl + ku + 1`` rows hold A as
    ``solve_banded`` stores it (the first ``kl`` are workspace). Applied by
    framead/scipy_calls.py (not registered: the LU factors have no derivative, so a
    cotangent reaching them raises and their tangent is nan)."""
    if np.any(np.asarray(g[0]) != 0):
        raise NotImplementedError("framead: the LU factors returned by LAPACK gbsv have no rule")
    _, gab, gb = _band_solve_vjp(g[2], ans[2], (kl, ku), np.asarray(ab)[kl:], b)
    return None, None, np.concatenate([np.zeros((kl, gab.shape[1])), gab]), gb


def _gbsv_jvp(tangents, ans, kl, ku, ab, b, *args, **kw):
    tab, tb = (tuple(tangents) + (None,) * 4)[2:4]
    tab = None if tab is None else np.asarray(tab)[kl:]
    tx = _band_solve_jvp((None, tab, tb), ans[2], (kl, ku), np.asarray(ab)[kl:], b)
    return (None if tab is None else np.full(np.shape(ans[0]), np.nan)), None, tx, None


def copies(x, order="K"):  # arrays (a tuple's too: cho_solve's (c, lower)) copied
    return np.array(x, copy=True, order=order) if isinstance(x, np.ndarray) else \
        type(x)(copies(y, order) for y in x) if type(x) in (tuple, list) else x


def on_copies(fn, orders: dict, key=None):
    """``fn`` on copies of its arrays laid out as ``orders`` (position or name: "C"/"F")
    says (the recorded call's: LAPACK computes the same bytes); with ``key``, the copy of
    that argument, which ``fn`` (``overwrite_*`` on) left as it does natively."""
    def run(*args, **kw):
        a = [copies(x, orders.get(i, "K")) for i, x in enumerate(args)]
        k = {n: copies(v, orders.get(n, "K")) for n, v in kw.items()}
        out = fn(*a, **k)
        return out if key is None else a[key] if type(key) is int else k[key]
    return run
