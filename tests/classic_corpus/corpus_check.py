"""Judge one program's framead gradient against central finite differences (float64).

Shared by tests/test_classic_corpus.py and tests/test_go_benchmarks.py. A program is a function
of one float or one 1-d float array returning a real scalar. Steps:

1. the native value (``numpy.random`` seeded before every call, so programs that draw noise
   from the global generator are deterministic functions of their input);
2. a kink check per coordinate: one-sided differences at two step sizes. Where the function
   is smooth the forward/backward gap shrinks with the step (it is ``h * f''``); at a kink or
   a jump it does not. Such points are skipped (the caller draws another point and counts
   the skip with its reason). A point whose central differences do not settle as the step
   shrinks (a dense staircase, a high-frequency oscillation) is skipped the same way;
3. ``framead.value_and_grad(f)(x)`` (the value must equal the native one), and the hazards
   of the same capture from ``framead.trace``;
4. the verdict: ``pass``, ``hazard`` (right, with a hazard), ``wrong_hazard``, ``wrong``
   (disagrees, no hazard: the silent failure the suites forbid), ``error`` (framead raised),
   ``skip`` (not differentiable there, or natively not finite).
"""

from __future__ import annotations

import math
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

EPS = np.finfo(float).eps
NOISE_SEED = 1234


@dataclass
class Verdict:
    status: str
    detail: str = ""
    hazards: list = field(default_factory=list)


def _call(f, x):
    np.random.seed(NOISE_SEED)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(x.copy() if isinstance(x, np.ndarray) else x)


def _as_float(y: Any) -> float:
    return float(np.real(y))


def _perturbed(x, i: int, h: float):
    if isinstance(x, np.ndarray):
        z = x.copy()
        z.flat[i] += h
        return z
    return x + h


def _coord(x, i: int) -> float:
    return float(x.flat[i]) if isinstance(x, np.ndarray) else float(x)


def finite_difference(f, x, y0: float) -> tuple[np.ndarray | None, np.ndarray | str]:
    """Central differences per coordinate and their error estimates, or (None, why) where f
    is not differentiable at x (a kink, a jump, or differences that do not settle)."""
    n = x.size if isinstance(x, np.ndarray) else 1
    g, err = np.empty(n), np.empty(n)
    steps = (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
    for i in range(n):
        s = max(abs(_coord(x, i)), 1.0)
        vals = {}
        for k in steps:
            h = k * s
            vals[k] = (_as_float(_call(f, _perturbed(x, i, h))),
                       _as_float(_call(f, _perturbed(x, i, -h))), h)
        if not all(math.isfinite(v) for a, b, _ in vals.values() for v in (a, b)):
            return None, f"coordinate {i}: not finite next to the point"
        noise = lambda h: 64 * EPS * (abs(y0) + 1e-300) / h  # noqa: E731
        central = {k: (a - b) / (2 * h) for k, (a, b, h) in vals.items()}
        gaps = {k: (a - y0) / h - (y0 - b) / h for k, (a, b, h) in vals.items()}
        scale = max(max(abs(c) for c in central.values()), 1e-8 * (abs(y0) + 1.0) / s)
        # a kink or jump: the one-sided slopes differ by an amount that does not shrink with h
        g6, g7 = abs(gaps[1e-6]), abs(gaps[1e-7])
        if g7 > noise(1e-7 * s) and g7 > 0.3 * g6 and g7 > 1e-4 * scale:
            return None, f"coordinate {i}: kink (one-sided slopes differ by {g7:.3g})"
        # three neighbouring steps whose central differences agree best (truncation error
        # ~ h^2 above them, roundoff ~ 1/h below; three, so that a high-frequency function
        # cannot agree by aliasing), the last two Richardson-extrapolated
        triples = [(max(abs(central[a] - central[b]), abs(central[b] - central[c])), a, b, c)
                   for a, b, c in zip(steps[:-2], steps[1:-1], steps[2:], strict=True)]
        d, a, b, c = min(triples)
        if d > 1e-3 * max(abs(central[a]), abs(central[b])) + noise(c * s):
            return None, (f"coordinate {i}: differences do not settle ("
                          + ", ".join(f"{central[k]:.6g}" for k in steps) + ")")
        g[i] = central[b] + (central[b] - central[a]) / 99.0
        err[i] = d + noise(c * s)
    return g, err


def _where(e: BaseException) -> str:
    tb = traceback.extract_tb(e.__traceback__)
    return f"{tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else "?"


def check(f, x, *, rtol: float = 1e-5, reference=None) -> Verdict:
    """The verdict for framead's gradient of ``f`` at ``x`` (see the module docstring);
    ``reference(x)``, when given, is the exact gradient used instead of differences."""
    import framead

    try:
        y0 = _call(f, x)
        y0f = _as_float(y0)
    except Exception as e:  # noqa: BLE001 - the program itself fails there
        return Verdict("skip", f"native: {type(e).__name__}: {e}")
    if not math.isfinite(y0f):
        return Verdict("skip", "native value not finite")
    if reference is not None:
        fd = np.asarray(reference(x), dtype=float).reshape(-1)
        fd_err = 1e-7 * np.abs(fd)
    else:
        fd, fd_err = finite_difference(f, x, y0f)
    if fd is None:
        return Verdict("skip", fd_err)

    zero_warned: list = []
    nonfinite: list = []
    try:
        np.random.seed(NOISE_SEED)
        with np.errstate(all="ignore"), warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            value, g = framead.value_and_grad(f)(x.copy() if isinstance(x, np.ndarray) else x)
            zero_warned = [str(m.message) for m in w
                           if type(m.message).__name__ == "GradientWarning"]
            nonfinite = [m for m in w if str(m.message).startswith("FA112")]  # (reported)
            np.random.seed(NOISE_SEED)
            hazards = list(framead.trace(f, x.copy() if isinstance(x, np.ndarray) else x,
                                         argnums=0).hazards)
    except Exception as e:  # noqa: BLE001 - every failure is classified
        return Verdict("error", f"{type(e).__name__}: {str(e)[:300]} [{_where(e)}]")

    hz = [f"{h.code} {h.op} at {h.loc.file.rsplit('/', 1)[-1]}:{h.loc.line}"
          for h in hazards] + [f"FA112 nonfinite-gradient ({m.message})" for m in nonfinite]
    hazards += nonfinite
    bad = "wrong_hazard" if hazards else "wrong"
    if _as_float(value) != y0f and not (abs(_as_float(value) - y0f)
                                        <= 1e-12 * abs(y0f)):
        return Verdict(bad, f"captured value {value!r} != native {y0!r}", hz)
    ga = np.asarray(g, dtype=float).reshape(-1) if g is not None else np.zeros_like(fd)
    if ga.shape != fd.shape:
        return Verdict(bad, f"gradient shape {ga.shape} != {fd.shape}", hz)
    tol = rtol * max(np.max(np.abs(fd)), np.max(np.abs(ga)), 1e-8 * (abs(y0f) + 1.0)) \
        + 1e3 * EPS * (abs(y0f) + 1.0)
    err = np.abs(ga - fd)
    if not np.all(np.isfinite(ga)) or np.any(err > tol + fd_err):
        i = int(np.nanargmax(np.where(np.isfinite(err), err, np.inf)))
        warned = f"; GradientWarning: {zero_warned[0][:120]}" if zero_warned else ""
        return Verdict(bad, f"d/dx[{i}]: framead {ga[i]:.9g}, differences {fd[i]:.9g}"
                            f"{warned}", hz)
    return Verdict("hazard" if hazards else "pass", "", hz)


def check_replay(f, points) -> Verdict:
    """``framead.value_and_grad(f, cache=True)`` called at each point in turn (the first
    call records, later ones may replay the recorded trace) must give the native value and
    the gradient of a fresh capture at every point. ``pass``, ``wrong`` or ``error``."""
    import framead

    cached = framead.value_and_grad(f, cache=True)
    fresh = framead.value_and_grad(f)
    for i, x in enumerate(points):
        def arg():
            np.random.seed(NOISE_SEED)
            return x.copy() if isinstance(x, np.ndarray) else x

        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                y0 = _as_float(_call(f, x))
                _, g_fresh = fresh(arg())
            except Exception:  # noqa: BLE001 - judged by the gradient check itself
                continue
            if not math.isfinite(y0):
                continue
            try:
                value, g = cached(arg())
            except Exception as e:  # noqa: BLE001
                return Verdict("error", f"point {i}: {type(e).__name__}: {str(e)[:200]}")
        a = np.asarray(g, dtype=float).reshape(-1)
        b = np.asarray(g_fresh, dtype=float).reshape(-1)
        if not (abs(_as_float(value) - y0) <= 1e-12 * abs(y0) or _as_float(value) == y0):
            return Verdict("wrong", f"point {i}: cached value {_as_float(value)!r}, "
                                    f"native {y0!r}")
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True):
            return Verdict("wrong", f"point {i}: cached gradient {a[:4]}, fresh {b[:4]}")
    return Verdict("pass")
