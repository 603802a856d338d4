"""Judge framead's forward mode and second derivatives of one corpus program at one point.

Shared by tests/test_corpus_forward.py. A program is a function of one float or one 1-d float
array returning a real scalar (tests/classic_corpus/registry.py). ``check_api(f, x)`` returns a
verdict per check, each as in corpus_check (pass / hazard / wrong_hazard / wrong / error /
skip):

``grad``     the first-order check itself: ``framead.value_and_grad`` against central
             differences per coordinate (corpus_check's rule, reimplemented here so that the
             differences and the gradient are kept for the checks below);
``jvp``      ``framead.jvp(f, (x,), (v,))`` along a random unit ``v`` (1.0 for a scalar): the
             value must equal the native one, the tangent the central difference of ``f``
             along ``v`` (or the program's exact ``reference`` gradient dotted with ``v``) and,
             where the gradient passed, ``grad . v`` to near rounding;
``jacfwd``   ``framead.jacfwd(f)(x)`` against the gradient (where it passed; else against the
             differences);
``hessian``  ``framead.hessian(f)(x) @ v`` (n <= ``hessian_max`` only) and
``gog``      grad of grad along ``v`` (``grad(lambda y: grad(f)(y) . v)``), both against the
             central difference of the gradient along ``v`` -- framead's own gradient, already
             checked at ``x``, or the program's ``reference`` -- at steps for second order
             (1e-3, 1e-4, 1e-5 of the point's scale: the pair that agrees best, Richardson-
             extrapolated). Judged only where the first-order check is pass or hazard.

``check_api(..., fast=True)`` (the default test run) judges the gradient along ``v`` only,
reads hazards only for disagreements and takes two steps for second order.

A hazard is what framead reports: the first-order capture's ``framead.trace(...).hazards``
for a right result; for a wrong one the hazards of the capture that made it (the forward
trace of ``f``, of ``jacrev(f)``, the trace of the inner gradient) and any GradientWarning the
call emitted.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from corpus_check import EPS, NOISE_SEED, Verdict, _as_float, _call, _where, finite_difference

CHECKS = ("grad", "jvp", "jacfwd", "hessian", "gog")
RIGHT = ("pass", "hazard")
# derivative against derivative (both exact up to rounding; float32 programs round at ~1e-7)
AD_RTOL = 1e-6


@dataclass
class FirstOrder:
    verdict: Verdict
    y0: float = math.nan
    fd: np.ndarray | None = None  # central differences per coordinate (or the reference)
    fd_err: np.ndarray | None = None
    g: np.ndarray | None = None  # framead's gradient, flat
    d: float | None = None  # the directional derivative along v (differences or reference)
    d_err: float = 0.0
    found: list | None = None  # hazard strings from framead.trace (None: not read yet)
    read: Callable | None = field(default=None, repr=False)

    @property
    def hazards(self) -> list:
        """framead.trace(f, x).hazards (read on first use) and FA112 warnings."""
        if self.found is None:
            self.found = self.read() if self.read is not None else []
        return self.found


def _copy(x: Any) -> Any:
    np.random.seed(NOISE_SEED)
    return x.copy() if isinstance(x, np.ndarray) else x


def _flat(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=float).reshape(-1)


def _hz_strings(hazards: list) -> list[str]:
    return [f"{h.code} {h.op} at {h.loc.file.rsplit('/', 1)[-1]}:{h.loc.line}"
            for h in hazards]


def _recorded(call: Callable) -> tuple[Any, list[str]]:
    """``call()`` with warnings silenced except framead's GradientWarnings, returned."""
    with np.errstate(all="ignore"), warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = call()
    return out, [str(m.message)[:160] for m in w
                 if type(m.message).__name__ == "GradientWarning"]


def first_order(f: Callable, x: Any, v: Any, *, rtol: float = 1e-5,
                reference: Callable | None = None, coords: bool = True,
                eager_hazards: bool = True) -> FirstOrder:
    """corpus_check.check's verdict for framead's gradient, with the data kept; and the
    directional derivative along ``v``. ``coords=False``: the gradient is judged along ``v``
    only (one difference instead of one per coordinate); ``eager_hazards=False``: the hazards
    are read only when a verdict needs them (a right result is then ``pass``)."""
    import framead

    try:
        y0 = _as_float(_call(f, x))
    except Exception as e:  # noqa: BLE001 - the program itself fails there
        return FirstOrder(Verdict("skip", f"native: {type(e).__name__}: {e}"))
    if not math.isfinite(y0):
        return FirstOrder(Verdict("skip", "native value not finite"))
    fd = fd_err = None
    if reference is not None:
        fd = _flat(reference(x))
        fd_err = 1e-7 * np.abs(fd)
        d, d_err = float(np.dot(fd, _flat(v))), float(np.dot(fd_err, np.abs(_flat(v))))
    else:
        if coords:
            fd, fd_err = finite_difference(f, x, y0)
            if fd is None:
                return FirstOrder(Verdict("skip", str(fd_err)), y0)
        d, d_err = directional_difference(f, x, v, y0)
        if d is None and not coords:
            return FirstOrder(Verdict("skip", str(d_err)), y0)
    try:
        (value, g), warned = _recorded(lambda: framead.value_and_grad(f)(_copy(x)))
    except Exception as e:  # noqa: BLE001 - every failure is classified
        return FirstOrder(Verdict("error", f"{type(e).__name__}: {str(e)[:300]} [{_where(e)}]"),
                          y0, fd, fd_err, d=d, d_err=float(d_err) if d is not None else 0.0)
    nonfinite = [w for w in warned if w.startswith("FA112")]
    fo = FirstOrder(Verdict("pass"), y0, fd, fd_err, None, d,
                    float(d_err) if d is not None else 0.0,
                    read=lambda: _hz_strings(framead.trace(f, _copy(x), argnums=0).hazards)
                    + nonfinite)
    if eager_hazards or nonfinite:
        fo.hazards  # noqa: B018 - read now
    n = fd.size if fd is not None else int(np.size(x))
    fo.g = _flat(g) if g is not None else np.zeros(n)
    if not _same_value(value, y0):
        fo.verdict = Verdict("wrong", f"captured value {value!r} != native {y0!r}")
    elif fo.g.size != n:
        fo.verdict = Verdict("wrong", f"gradient shape {fo.g.shape} != {n}")
    elif fd is not None:
        fo.verdict = _compare("d/dx", fo.g, fd, fd_err, rtol, y0, [])
    else:
        fo.verdict = _compare("grad.v vs differences", np.array([np.dot(fo.g, _flat(v))]),
                              np.array([d]), float(d_err), rtol, y0, [])
    fo.verdict = _labelled(fo.verdict, fo)
    return fo


def _labelled(verdict: Verdict, fo: FirstOrder, warned: list | None = None) -> Verdict:
    """pass -> hazard and wrong -> wrong_hazard where the first-order capture reported one
    (read now for a wrong verdict; for a right one only if already read)."""
    if verdict.status == "wrong" or fo.found is not None:
        hz = fo.hazards + (warned or [])
    else:
        hz = list(warned or [])
    verdict.hazards = hz
    if hz and verdict.status in ("pass", "wrong"):
        verdict.status = {"pass": "hazard", "wrong": "wrong_hazard"}[verdict.status]
    return verdict


def _same_value(value: Any, y0: float) -> bool:
    v = _as_float(value)
    return v == y0 or abs(v - y0) <= 1e-12 * abs(y0)


def _compare(what: str, got: np.ndarray, ref: np.ndarray, ref_err: np.ndarray | float,
             rtol: float, y0: float, hz: list, scale: float = 0.0) -> Verdict:
    """``got`` against ``ref`` (arrays of one shape): pass/hazard or wrong/wrong_hazard."""
    got, ref = np.atleast_1d(got), np.atleast_1d(ref)
    if got.shape != ref.shape:
        return Verdict("wrong_hazard" if hz else "wrong",
                       f"{what}: shape {got.shape} != {ref.shape}", hz)
    tol = rtol * max(np.max(np.abs(ref)), np.max(np.abs(got)), scale,
                     1e-8 * (abs(y0) + 1.0)) + 1e3 * EPS * (abs(y0) + 1.0)
    err = np.abs(got - ref)
    if np.all(np.isfinite(got)) and not np.any(err > tol + ref_err):
        return Verdict("hazard" if hz else "pass", "", hz)
    i = int(np.nanargmax(np.where(np.isfinite(err), err, np.inf)))
    return Verdict("wrong_hazard" if hz else "wrong",
                   f"{what}[{i}]: framead {got[i]:.9g}, reference {ref[i]:.9g}", hz)


def direction(x: Any, rng: np.random.Generator) -> Any:
    """A random unit vector shaped like ``x`` (1.0 for a scalar)."""
    if not isinstance(x, np.ndarray):
        return 1.0
    v = rng.standard_normal(x.shape)
    return v / np.linalg.norm(v)


def _along(x: Any, v: Any, t: float) -> Any:
    return x + t * v


def _scale(x: Any) -> float:
    return max(float(np.max(np.abs(x))), 1.0) if np.size(x) else 1.0


def directional_difference(f: Callable, x: Any, v: Any, y0: float
                           ) -> tuple[float | None, float | str]:
    """The central difference of ``f`` at ``x`` along ``v`` and its error estimate (corpus
    _check.finite_difference on t -> f(x + t s v), s the point's scale), or (None, why)."""
    s = _scale(x)
    d, err = finite_difference(lambda t: f(_along(x, v, t * s)), 0.0, y0)
    if d is None:
        return None, f"along v: {err}"
    return float(d[0]) / s, float(np.asarray(err)[0]) / s


# ------------------------------------------------------------------------------ checks

def _error(e: BaseException) -> Verdict:
    return Verdict("error", f"{type(e).__name__}: {str(e)[:300]} [{_where(e)}]")


def check_jvp(f: Callable, x: Any, v: Any, fo: FirstOrder, rtol: float = 1e-5) -> Verdict:
    """framead.jvp along v: the native value, the directional difference, grad . v."""
    import framead

    try:
        (value, tan), warned = _recorded(lambda: framead.jvp(f, (_copy(x),), (v,)))
    except Exception as e:  # noqa: BLE001
        return _error(e)
    if not _same_value(value, fo.y0):
        verdict = Verdict("wrong", f"jvp value {value!r} != native {fo.y0!r}")
        return _bad(verdict, lambda: _forward_hazards(f, x), warned)
    t = _as_float(tan) if np.ndim(tan) == 0 else math.nan
    gv = float(np.dot(fo.g, _flat(v))) if fo.verdict.status in RIGHT else None
    if fo.d is None and gv is None:
        return Verdict("skip", "no directional difference and no checked gradient")
    verdict = Verdict("pass")
    if fo.d is not None:
        verdict = _compare("jvp vs differences", np.array([t]), np.array([fo.d]), fo.d_err,
                           rtol, fo.y0, [])
    if verdict.status == "pass" and gv is not None:
        scale = float(np.sum(np.abs(fo.g * _flat(v))))
        verdict = _compare("jvp vs grad.v", np.array([t]), np.array([gv]), 0.0, AD_RTOL,
                           fo.y0, [], scale)
    if verdict.status == "pass":
        return _labelled(verdict, fo, warned)
    return _bad(verdict, lambda: _forward_hazards(f, x), warned)


def check_jacfwd(f: Callable, x: Any, v: Any, fo: FirstOrder) -> Verdict:
    """framead.jacfwd against the checked gradient (else its product with v against the
    directional difference)."""
    import framead

    try:
        jac, warned = _recorded(lambda: framead.jacfwd(f)(_copy(x)))
    except Exception as e:  # noqa: BLE001
        return _error(e)
    if fo.verdict.status in RIGHT:
        verdict = _compare("jacfwd vs grad", _flat(jac), fo.g, 0.0, AD_RTOL, fo.y0, [])
    elif fo.fd is not None:
        verdict = _compare("jacfwd vs differences", _flat(jac), fo.fd, fo.fd_err, 1e-5,
                           fo.y0, [])
    elif fo.d is not None and _flat(jac).size == _flat(v).size:
        verdict = _compare("jacfwd.v vs differences", np.array([_flat(jac) @ _flat(v)]),
                           np.array([fo.d]), fo.d_err, 1e-5, fo.y0, [])
    else:
        return Verdict("skip", "no reference")
    if verdict.status == "pass":
        return _labelled(verdict, fo, warned)
    return _bad(verdict, lambda: _forward_hazards(f, x), warned)


def _forward_hazards(f: Callable, x: Any) -> list[str]:
    from framead.forward import linearize_trace

    return _hz_strings(linearize_trace(f, _copy(x)).hazards)


def _bad(verdict: Verdict, hazards: Callable[[], list[str]], warned: list[str]) -> Verdict:
    """A disagreement: wrong_hazard when the capture that made it reported a hazard (its
    own hazards, the GradientWarnings of the call)."""
    try:
        hz = _recorded(hazards)[0] + warned
    except Exception as e:  # noqa: BLE001 - (the call itself worked)
        hz = warned + [f"(hazards not read: {type(e).__name__})"]
    verdict.hazards = hz
    verdict.status = "wrong_hazard" if any(not h.startswith("(") for h in hz) else "wrong"
    return verdict


def gradient_difference(grad: Callable, x: Any, v: Any, gnorm: float,
                        steps: tuple[float, ...] = (1e-3, 1e-4, 1e-5)
                        ) -> tuple[np.ndarray | None, np.ndarray | str]:
    """The central difference of ``grad`` along ``v`` (the Hessian times v) and its error
    estimate, or (None, why): at ``steps`` times the point's scale, the two neighbouring ones
    that agree best, Richardson-extrapolated (steps a factor 10 apart)."""
    s = _scale(x)
    central = {}
    for k in steps:
        h = k * s
        gp, gm = _flat(grad(_along(x, v, h))), _flat(grad(_along(x, v, -h)))
        if not (np.all(np.isfinite(gp)) and np.all(np.isfinite(gm))):
            return None, "gradient not finite next to the point"
        central[k] = (gp - gm) / (2 * h)
    noise = lambda h: 256 * EPS * (gnorm + 1e-300) / h  # noqa: E731
    pairs = [(float(np.max(np.abs(central[a] - central[b]))), a, b)
             for a, b in zip(steps[:-1], steps[1:], strict=True)]
    d, a, b = min(pairs)
    big = max(float(np.max(np.abs(central[a]))), float(np.max(np.abs(central[b]))))
    if d > 1e-2 * big + noise(b * s):
        return None, ("gradient differences along v do not settle ("
                      + ", ".join(f"{float(np.max(np.abs(central[k]))):.6g}" for k in steps)
                      + ")")
    return central[b] + (central[b] - central[a]) / 99.0, np.full(central[b].shape,
                                                                  d + noise(b * s))


def check_second(f: Callable, x: Any, v: Any, fo: FirstOrder, *,
                 reference: Callable | None = None, hessian_max: int = 8, rtol: float = 1e-4,
                 steps: tuple[float, ...] = (1e-3, 1e-4, 1e-5)) -> tuple[Verdict, Verdict]:
    """(hessian, gog) verdicts: the Hessian-vector product two ways against the central
    difference of the (checked) gradient along v."""
    import framead

    if fo.verdict.status not in RIGHT:
        why = f"first-order check {fo.verdict.status}"
        return Verdict("skip", why), Verdict("skip", why)

    def grad_at(y):
        if reference is not None:
            return reference(y)
        np.random.seed(NOISE_SEED)
        return _recorded(lambda: framead.grad(f)(y))[0]

    try:
        ref, ref_err = gradient_difference(grad_at, x, v, float(np.max(np.abs(fo.g))), steps)
    except Exception as e:  # noqa: BLE001 - framead's gradient fails next to the point
        why = f"gradient next to the point: {type(e).__name__}: {str(e)[:200]}"
        return Verdict("skip", why), Verdict("skip", why)
    if ref is None:
        return Verdict("skip", str(ref_err)), Verdict("skip", str(ref_err))
    vf = _flat(v)
    scalar = not isinstance(x, np.ndarray)

    def judge(what: str, compute: Callable, hazards: Callable) -> Verdict:
        try:
            got, warned = _recorded(compute)
        except Exception as e:  # noqa: BLE001
            return _error(e)
        verdict = _compare(what, _flat(got), ref, ref_err, rtol, fo.y0, [],
                           float(np.max(np.abs(fo.g))) * 1e-6)
        if verdict.status == "pass":
            return _labelled(verdict, fo, warned)
        return _bad(verdict, hazards, warned)

    def hvp():
        h = framead.hessian(f)(_copy(x))
        return h * v if scalar else np.asarray(h).reshape(vf.size, vf.size) @ vf

    if np.size(x) > hessian_max:
        hess = Verdict("skip", f"n = {np.size(x)} > {hessian_max}")
    else:
        hess = judge("hessian@v", hvp, lambda: _forward_hazards(framead.jacrev(f), x))

    def along(y):
        gy = framead.grad(f)(y)
        return gy * v if scalar else np.dot(gy, v)

    def gog():
        return framead.grad(framead.grad(f) if scalar else along)(_copy(x))

    def gog_hazards():
        return _hz_strings(framead.trace(framead.grad(f) if scalar else along, _copy(x),
                                         argnums=0).hazards)

    return hess, judge("grad of grad", gog, gog_hazards)


def check_api(f: Callable, x: Any, v: Any, *, reference: Callable | None = None,
              second: bool = True, hessian_max: int = 8, fast: bool = False
              ) -> dict[str, Verdict]:
    """Every check of the module docstring at one point (``fast``: the first-order check
    along ``v`` only, hazards read only for disagreements, two steps for second order)."""
    fo = first_order(f, x, v, reference=reference, coords=not fast, eager_hazards=not fast)
    if fo.verdict.status == "skip":
        return {k: fo.verdict for k in CHECKS}
    out = {"grad": fo.verdict, "jvp": check_jvp(f, x, v, fo),
           "jacfwd": check_jacfwd(f, x, v, fo)}
    if second:
        out["hessian"], out["gog"] = check_second(
            f, x, v, fo, reference=reference, hessian_max=hessian_max,
            steps=(1e-3, 1e-4) if fast else (1e-3, 1e-4, 1e-5))
    else:
        out["hessian"] = out["gog"] = Verdict("skip", "second order not asked")
    return out
