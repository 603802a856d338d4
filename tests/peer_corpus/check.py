"""Run one corpus case through framead and judge it against central finite differences.

A case's differentiated arguments may be floats, complex numbers, arrays, or (as in the peers'
tests) lists/tuples of them; containers are flattened into leaves and rebuilt around the
unmodified function. The output may be any tree of scalars/arrays; inexact leaves get a random
cotangent ``c`` and the check is autograd's: for a random direction ``v`` of the inputs,
``<vjp(c), v>`` must equal the central difference of ``L(x) = Re sum(c * f(x))`` along ``v``
(framead, like autograd, pairs complex cotangents without conjugation).

Statuses: ``pass``; ``hazard`` (right gradient, hazard reported); ``wrong`` (disagrees, no
hazard: a silent error); ``wrong_hazard`` (disagrees, hazard reported); ``error`` (raised).
"""

from __future__ import annotations

import copy
import math
import traceback
import warnings
from typing import Any

import numpy as np

EPS = 1e-6
ATOL, RTOL = 1e-6, 1e-5


def _leaves(x: Any, out: list) -> Any:
    """Flatten nested lists/tuples; returns a rebuild spec."""
    if isinstance(x, list | tuple):
        return (type(x), [_leaves(e, out) for e in x])
    out.append(x)
    return None


def _rebuild(spec: Any, it) -> Any:
    if spec is None:
        return next(it)
    kind, parts = spec
    return kind(_rebuild(p, it) for p in parts)


def _inexact(x: Any) -> bool:
    if isinstance(x, bool):
        return False
    if isinstance(x, float | complex | np.inexact):
        return True
    return isinstance(x, np.ndarray) and x.dtype.kind in "fc"


def _flat_out(y: Any, out: list) -> None:
    if isinstance(y, list | tuple):
        for e in y:
            _flat_out(e, out)
    else:
        out.append(y)


def _like(x: Any, data: np.ndarray) -> Any:
    """``data`` (an array shaped like ``x``) as the type of ``x``."""
    if isinstance(x, np.ndarray):  # finite differences in (at least) float64
        return data.astype(np.result_type(x.dtype, np.float64))
    if isinstance(x, complex):
        return complex(data)
    if isinstance(x, np.inexact):
        return type(x)(data[()])
    return float(data)


class Problem:
    """The case with its differentiated arguments flattened into leaves."""

    def __init__(self, case):
        self.case = case
        self.args = list(case.args)
        self.specs, self.leaves, self.pos = {}, [], []
        for i in case.argnums:
            ls: list = []
            self.specs[i] = _leaves(self.args[i], ls)
            self.pos.append((i, len(self.leaves), len(ls)))
            self.leaves += ls
        self.containers = any(s is not None for s in self.specs.values())
        # ints given where a float is meant (a list [1., 2] or a 3 in a tuple) become floats
        self.leaves = [float(v) if isinstance(v, int | np.integer) and not isinstance(v, bool)
                       else v for v in self.leaves]

    def call_args(self, leaves: list) -> list:
        args = list(self.args)
        for i, start, n in self.pos:
            args[i] = _rebuild(self.specs[i], iter(leaves[start:start + n]))
        return args

    def native(self, leaves: list) -> Any:
        c = self.case
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return c.fun(*copy.deepcopy(self.call_args(leaves)), **c.kwargs)

    def framead_fn(self):
        """(function, args, argnums) for framead: the case itself when no container is
        differentiated, else a wrapper taking the leaves."""
        c = self.case
        if not self.containers:
            return c.fun, list(self.args), tuple(c.argnums)
        nargs = len(self.leaves)
        fun, kwargs = c.fun, c.kwargs

        def leaves_fn(*flat):
            return fun(*self.call_args(list(flat)), **kwargs)

        return leaves_fn, list(self.leaves), tuple(range(nargs))


def _hazards_of(f_vjp) -> list | None:
    for name, cell in zip(f_vjp.__code__.co_freevars, f_vjp.__closure__ or (), strict=False):
        if name == "t":
            return list(getattr(cell.cell_contents, "hazards", []))
    return None


def _randlike(x: Any, rng) -> np.ndarray:
    a = np.asarray(x)
    v = rng.standard_normal(a.shape)
    if a.dtype.kind == "c":
        v = v + 1j * rng.standard_normal(a.shape)
    return v


def _same_value(a: Any, b: Any) -> bool:
    fa, fb = [], []
    _flat_out(a, fa)
    _flat_out(b, fb)
    if len(fa) != len(fb):
        return False
    for x, y in zip(fa, fb, strict=True):
        try:
            xa, ya = np.asarray(x), np.asarray(y)
            if xa.shape != ya.shape:
                return False
            if xa.dtype.kind in "fcbiu" and not np.allclose(xa, ya, rtol=1e-12, atol=0,
                                                            equal_nan=True):
                return False
        except Exception:  # noqa: BLE001 - non-numeric leaves compare by equality
            if x != y:
                return False
    return True


def run_case(case, seed: int = 0) -> tuple[str, str]:
    """Returns (status, detail)."""
    import framead

    rng = np.random.default_rng(seed)
    try:
        prob = Problem(case)
        y0 = prob.native(prob.leaves)
    except Exception as e:  # noqa: BLE001 - a combination NumPy itself rejects
        return "skip", f"native: {type(e).__name__}: {e}"
    outs: list = []
    _flat_out(y0, outs)
    cts = [(_randlike(o, rng) if _inexact(o) else None) for o in outs]

    fn, args, nums = prob.framead_fn()
    hazards: list = []
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value, f_vjp = framead.vjp(fn, *args, argnums=nums, **(
                {} if prob.containers else case.kwargs))
            hz = _hazards_of(f_vjp)
            hazards = hz if hz is not None else []
            tree = _ct_tree(value, iter([_cast_ct(c, o) for c, o in zip(cts, outs,
                                                                         strict=True)]))
            grads = f_vjp(tree)
    except Exception as e:  # noqa: BLE001 - every failure is classified
        tb = traceback.extract_tb(e.__traceback__)
        where = f"{tb[-1].filename.split('/')[-1]}:{tb[-1].lineno}" if tb else "?"
        return "error", f"{type(e).__name__}: {str(e)[:200]} [{where}]"

    if not _same_value(value, y0):
        return ("wrong_hazard" if hazards else "wrong"), "captured value differs from native"

    def L(leaves: list) -> float:
        ys: list = []
        _flat_out(prob.native(leaves), ys)
        tot = 0.0
        for c, yv in zip(cts, ys, strict=True):
            if c is not None:
                tot += float(np.real(np.sum(c * np.asarray(yv))))
        return tot

    vs = [(_randlike(x, rng) if _inexact(x) else None) for x in prob.leaves]
    exact = 0.0
    gleaves = list(grads)
    for g, v, x in zip(gleaves, vs, prob.leaves, strict=True):
        if v is None or g is None:
            continue
        ga = np.asarray(g)
        if ga.shape != np.shape(x):
            return ("wrong_hazard" if hazards else "wrong"), (
                f"gradient shape {ga.shape} != input shape {np.shape(x)}")
        exact += float(np.real(np.sum(ga * v)))
    plus = [(_like(x, np.asarray(x) + EPS / 2 * v) if v is not None else x)
            for x, v in zip(prob.leaves, vs, strict=True)]
    minus = [(_like(x, np.asarray(x) - EPS / 2 * v) if v is not None else x)
             for x, v in zip(prob.leaves, vs, strict=True)]
    numeric = (L(plus) - L(minus)) / EPS
    hz = f" hazards: {[h.code for h in hazards]}" if hazards else ""
    if not math.isfinite(numeric):
        return "skip", "finite differences not finite"
    if not math.isfinite(exact) or abs(exact - numeric) > ATOL + RTOL * max(abs(exact),
                                                                          abs(numeric)):
        return ("wrong_hazard" if hazards else "wrong"), (
            f"<vjp, v> = {exact:.9g}, finite differences {numeric:.9g}{hz}")
    return ("hazard" if hazards else "pass"), hz


def _cast_ct(c: Any, o: Any) -> Any:
    if c is None:
        return None
    if isinstance(o, np.ndarray):
        return c.astype(np.result_type(o.dtype, np.float64) if o.dtype.kind == "c" else c.dtype)
    if isinstance(o, np.inexact):
        return type(o)(c[()]) if o.dtype.kind == "c" or np.isrealobj(c) else c[()]
    if isinstance(o, complex):
        return complex(c)
    return float(c)


def _ct_tree(value: Any, it) -> Any:
    """The cotangents arranged like the output (lists/tuples/dicts kept)."""
    if isinstance(value, list | tuple):
        return type(value)(_ct_tree(v, it) for v in value) if not hasattr(value, "_fields") \
            else type(value)(*(_ct_tree(v, it) for v in value))
    return next(it)


def second_order(case, seed: int = 0):
    """The case whose function is ``x -> Re <vjp_f(x)(c), w>`` (fixed random c, w): checking
    it checks framead's derivative of its own reverse pass (autograd's check_grads order=2)."""
    import framead

    from . import Case

    rng = np.random.default_rng(seed + 1)
    prob = Problem(case)
    y0 = prob.native(prob.leaves)
    outs: list = []
    _flat_out(y0, outs)
    cts = [(_randlike(o, rng) if _inexact(o) else None) for o in outs]
    fn, args, nums = prob.framead_fn()
    ws = [_randlike(args[i], rng) for i in nums]
    kw = {} if prob.containers else case.kwargs

    def g2(*a):
        value, f_vjp = framead.vjp(fn, *a, argnums=nums, **kw)
        grads = f_vjp(_ct_tree(value, iter([_cast_ct(c, o) for c, o in zip(cts, outs,
                                                                            strict=True)])))
        tot = 0.0
        for g, w in zip(grads, ws, strict=True):
            if g is not None:
                tot = tot + np.real(np.sum(g * w))
        return tot

    return Case(case.name + "/order2", g2, tuple(args), nums, case.origin)


def run_case_fwd(case, seed: int = 0) -> tuple[str, str]:
    """As ``run_case`` in forward mode: ``framead.jvp`` along a random direction ``v``
    against the central difference of ``Re sum(c * f(x))`` along ``v``."""
    import framead

    rng = np.random.default_rng(seed)
    try:
        prob = Problem(case)
        y0 = prob.native(prob.leaves)
    except Exception as e:  # noqa: BLE001
        return "skip", f"native: {type(e).__name__}: {e}"
    fn, args, nums = prob.framead_fn()
    vs = [(_randlike(x, rng) if _inexact(x) else None) for x in prob.leaves]
    tangents = [None] * len(args)
    for k, i in enumerate(nums):
        x = args[i]
        tangents[i] = None if vs[k] is None else _like(x, vs[k]) if not isinstance(
            x, np.ndarray) else vs[k].astype(x.dtype)
    kw = {} if prob.containers else case.kwargs
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value, tout = framead.jvp(fn, args, tangents, **kw)
    except Exception as e:  # noqa: BLE001
        tb = traceback.extract_tb(e.__traceback__)
        where = f"{tb[-1].filename.split('/')[-1]}:{tb[-1].lineno}" if tb else "?"
        return "error", f"{type(e).__name__}: {str(e)[:200]} [{where}]"
    outs: list = []
    _flat_out(y0, outs)
    touts: list = []
    _flat_out(tout, touts)
    cts = [(_randlike(o, rng) if _inexact(o) else None) for o in outs]
    exact = sum(float(np.real(np.sum(c * np.asarray(t)))) for c, t in zip(cts, touts,
                                                                          strict=False)
                if c is not None and t is not None)

    def L(leaves: list) -> float:
        ys: list = []
        _flat_out(prob.native(leaves), ys)
        return sum(float(np.real(np.sum(c * np.asarray(y)))) for c, y in zip(cts, ys,
                                                                             strict=True)
                   if c is not None)

    plus = [(_like(x, np.asarray(x) + EPS / 2 * v) if v is not None else x)
            for x, v in zip(prob.leaves, vs, strict=True)]
    minus = [(_like(x, np.asarray(x) - EPS / 2 * v) if v is not None else x)
             for x, v in zip(prob.leaves, vs, strict=True)]
    numeric = (L(plus) - L(minus)) / EPS
    if not math.isfinite(numeric):
        return "skip", "finite differences not finite"
    if not math.isfinite(exact) or abs(exact - numeric) > ATOL + RTOL * max(abs(exact),
                                                                          abs(numeric)):
        return "wrong", f"<c, jvp> = {exact:.9g}, finite differences {numeric:.9g}"
    return "pass", ""
