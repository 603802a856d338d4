"""Adjoints for ``scipy.integrate.quad`` and ``quad_vec``: differentiate through the integrand.

Inside a capture (capture/calls.py routes these callables here through the ``SOLVERS`` hook,
framead/solvers.py):

1. the integral runs natively with capture disabled (nothing inside it is recorded);
2. the integrand is evaluated under capture at a few interior points; the traced values those
   evaluations read (closures, ``args=``) are the parameters ``θ`` (solver_common.parameters);
3. the value is recorded as one node ``I = integral(a, b, *θ)`` whose derivatives are::

       ∂I/∂θ = ∫_a^b ∂f/∂θ(x) dx,   ∂I/∂b = f(b),   ∂I/∂a = -f(a)

   The parameter integral is computed by ``quad_vec`` (``quad`` per component when a
   ``weight=`` is given) over the integrand's VJP: one nested framead capture of ``f`` per
   evaluation point, with the tolerances of the forward call.

A traced ``wvar`` is an input too: ``∂I/∂c`` for ``weight='cos'`` is ``-∫ x f(x) sin(cx) dx``,
for ``'sin'`` ``∫ x f(x) cos(cx) dx``, for ``'alg'`` the ``'alg-loga'`` / ``'alg-logb'``
integrals (``quad`` itself computes each), for ``'cauchy'`` (by parts)
``PV ∫ f'(x) / (x - c) dx - f(b) / (b - c) + f(a) / (a - c)`` (``f'`` by nested captures).

Not differentiated (reported as FA101): infinite limits that are traced, ``complex_func=True``,
integrands that are not Python callables (``LowLevelCallable``), a traced ``wvar`` of the
logarithmic ``'alg-*'`` weights. As for ODEs, a traced value
the integrand reads only away from the sample points (behind a branch) is missed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from .capture.recorder import Recorder
from .capture.session import Session
from .capturing import quiet
from .ir import Value
from .reverse import Backward
from .rules import make_rule
from .solver_common import args_tuple, bind, forward_values, parameters, snapshots, split_like

_SAMPLES = (0.25, 0.5, 0.75, 0.1, 0.9)


def _is_traced(rec: Any, x: Any) -> bool:
    return rec.tree_value(x) is not None


def _sample_points(a: float, b: float) -> list[float]:
    """Interior points of ``[a, b]`` (infinite ends allowed) where the integrand is sampled."""
    if np.isfinite(a) and np.isfinite(b):
        return [a + s * (b - a) for s in _SAMPLES]
    if np.isfinite(a):
        return [a + s / (1 - s) for s in _SAMPLES]
    if np.isfinite(b):
        return [b - s / (1 - s) for s in _SAMPLES]
    return [np.tan(np.pi * (s - 0.5)) for s in _SAMPLES]


class QuadContext:
    """What the derivatives of one integral need: the integrand, the parameter objects (and
    snapshots of the arrays among them), the limits and the forward call's options."""

    def __init__(self, f: Callable, params: list, a: float, b: float, shape: tuple,
                 options: dict, name: str, nw: int = 0):
        self.f = f
        self.nw = nw  # traced wvar components (node arguments after the limits)
        self.params = params
        self.snap = snapshots(params)
        self.a, self.b = a, b
        self.shape = shape
        self.options = options
        self.name = name
        self.evaluations = 0
        self._jac: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"<integral {self.name}>"

    def _forward_values(self):
        """Parameter arrays hold their values of the forward call while derivatives run."""
        return forward_values(self.params, self.snap)

    def value_at(self, x: float) -> np.ndarray:
        with self._forward_values():
            return np.asarray(quiet(self.f, (x,), {}), dtype=float)

    def param_vjp(self, x: float, g: np.ndarray) -> np.ndarray:
        """``g^T ∂f/∂θ`` at ``x`` (flattened over all parameters) by one nested capture."""
        self.evaluations += 1
        rec = Recorder()
        wrt = [rec.new_input(p) for p in self.params]
        with Session(rec):
            out = self.f(x)
        graph = rec.finish([out])
        v = graph.outputs[0]
        sizes = [int(np.size(p)) for p in self.params]
        if not isinstance(v, Value):
            return np.zeros(sum(sizes))
        seed = g if self.shape else float(g)
        grads = Backward(graph, wrt)({v.id: np.reshape(seed, np.shape(out)) if self.shape
                                      else seed})
        return np.concatenate([np.zeros(s) if gr is None else
                               np.ravel(np.real(np.asarray(gr, dtype=complex)))
                               for gr, s in zip(grads, sizes, strict=True)])

    def x_vjp(self, x: float, g: Any) -> float:
        """``g^T ∂f/∂x`` at ``x`` (the integrand's derivative in its variable) by one nested
        capture."""
        self.evaluations += 1
        rec = Recorder()
        xo = np.float64(x).item()  # (a fresh float object: the input)
        wrt = [rec.new_input(xo)]
        with Session(rec):
            out = self.f(xo)
        graph = rec.finish([out])
        v = graph.outputs[0]
        if not isinstance(v, Value):
            return 0.0
        seed = np.reshape(g, np.shape(out)) if self.shape else float(np.sum(g))
        gr = Backward(graph, wrt)({v.id: seed})[0]
        return 0.0 if gr is None else float(np.real(gr))

    def integrate(self, integrand: Callable, n: int) -> np.ndarray:
        """``∫_a^b integrand(x) dx`` of a vector-valued integrand of length ``n``."""
        from scipy import integrate  # noqa: PLC0415 - optional dependency

        if n == 0:
            return np.zeros(0)
        opts = self.options
        weight = opts.get("weight")
        with self._forward_values():
            if weight is None:
                kw = {k: opts[k] for k in ("epsabs", "epsrel", "points") if
                      opts.get(k) is not None}
                return np.asarray(integrate.quad_vec(integrand, self.a, self.b, **kw)[0])
            kw = {k: opts[k] for k in ("epsabs", "epsrel", "limit", "weight", "wvar",
                                       "wopts") if opts.get(k) is not None}
            return np.array([integrate.quad(lambda x, k=k: integrand(x)[k], self.a, self.b,
                                            **kw)[0] for k in range(n)])

    def weight_at(self, x: float) -> float:
        """The ``weight=`` factor of the integrand at ``x`` (1 without a weight)."""
        w, c = self.options.get("weight"), self.options.get("wvar")
        if w is None:
            return 1.0
        if w == "cos":
            return float(np.cos(c * x))
        if w == "sin":
            return float(np.sin(c * x))
        if w == "alg":
            al, be = c
            return float((x - self.a) ** al * (self.b - x) ** be)
        if w == "cauchy":
            return float(1 / (x - c))
        raise NotImplementedError(f"framead: {self.name} with weight={w!r} has no adjoint")

    def wvar_integrals(self, g: Any) -> list[float]:
        """``∫ g f(x) ∂w/∂c_k(x) dx`` per component ``c_k`` of the traced ``wvar``."""
        from scipy import integrate  # noqa: PLC0415 - optional dependency

        w, c = self.options["weight"], self.options["wvar"]
        kw = {k: self.options[k] for k in ("epsabs", "epsrel", "limit")
              if self.options.get(k) is not None}
        with self._forward_values():
            fg = lambda x: float(np.sum(g * self.value_at(x)))  # noqa: E731
            if w == "alg":
                return [integrate.quad(fg, self.a, self.b, weight=lw, wvar=c, **kw)[0]
                        for lw in ("alg-loga", "alg-logb")]
            if w == "cauchy":  # PV ∫ f/(x - c) = PV ∫ f(c + u)/u du over [a - c, b - c]
                df = lambda x: self.x_vjp(x, g)  # noqa: E731
                return [integrate.quad(df, self.a, self.b, weight="cauchy", wvar=c, **kw)[0]
                        - fg(self.b) / (self.b - c) + fg(self.a) / (self.a - c)]
            xf = lambda x: x * fg(x)  # noqa: E731
            sign, other = (-1.0, "sin") if w == "cos" else (1.0, "cos")
            return [sign * integrate.quad(xf, self.a, self.b, weight=other, wvar=c, **kw)[0]]

    def sizes(self) -> list[int]:
        return [int(np.size(p)) for p in self.params]

    def split(self, flat: np.ndarray) -> list:
        """``flat`` as one piece per parameter, shaped like it."""
        return split_like(self.params, self.sizes(), flat)

    def jacobian(self) -> np.ndarray:
        """``∫ ∂f/∂θ dx`` as an (output size) x (parameter size) matrix (forward mode)."""
        if self._jac is None:
            m, n = int(np.prod(self.shape, dtype=int)), sum(self.sizes())
            eye = np.eye(m)
            self._jac = self.integrate(
                lambda x: np.concatenate([self.param_vjp(x, eye[i].reshape(self.shape))
                                          for i in range(m)]), m * n).reshape(m, n)
        return self._jac


def integral(ctx: QuadContext, a: Any, b: Any, *params: Any) -> Any:
    """The IR node of a definite integral (limits, the traced ``wvar`` components, then the
    integrand's parameters are its inputs)."""
    raise AssertionError("recorded only")


def _limit_cot(ctx: QuadContext, g: np.ndarray, x: float, sign: float) -> float:
    if not np.isfinite(x):
        return 0.0
    return sign * float(np.sum(g * ctx.value_at(x))) * ctx.weight_at(x)


def _quad_vjp(g: Any, ans: Any, ctx: QuadContext, a: Any, b: Any, *params: Any) -> tuple:
    g = np.real(np.asarray(g, dtype=complex))
    n = sum(ctx.sizes())
    flat = ctx.integrate(lambda x: ctx.param_vjp(x, g), n) if n else np.zeros(0)
    return (None, _limit_cot(ctx, g, ctx.a, -1.0), _limit_cot(ctx, g, ctx.b, 1.0),
            *(ctx.wvar_integrals(g) if ctx.nw else ()), *ctx.split(flat))


def _quad_jvp(tangents: tuple, ans: Any, ctx: QuadContext, a: Any, b: Any, *params: Any):
    ta, tb = tangents[1], tangents[2]
    tws, tps = tangents[3:3 + ctx.nw], tangents[3 + ctx.nw:]
    out = np.zeros(ctx.shape)
    if any(t is not None for t in tws):  # (a weight=: quad, a scalar integral)
        out = out + sum(float(t) * d for t, d in zip(tws, ctx.wvar_integrals(1.0),
                                                      strict=False) if t is not None)
    if any(t is not None for t in tps):
        flat = np.concatenate([np.zeros(s) if t is None else np.ravel(np.asarray(t, float))
                               for t, s in zip(tps, ctx.sizes(), strict=False)])
        out = out + (ctx.jacobian() @ flat).reshape(ctx.shape)
    for t, x, sign in ((ta, ctx.a, -1.0), (tb, ctx.b, 1.0)):
        if t is not None and np.isfinite(x):
            out = out + sign * float(t) * ctx.value_at(x) * ctx.weight_at(x)
    return float(out) if ctx.shape == () else out


_RULE = make_rule(integral, vjp=_quad_vjp, jvp=_quad_jvp, saves={}, nondiff=(0,),
                  name="integral")


def _lost(rec, frame, name: str, why: str) -> None:
    rec.hazard("FA101", name, frame, f"{name}: {why}; the gradient through the integral is lost")


def _handler(vector: bool):
    name = "quad_vec" if vector else "quad"

    def handle(rec, fn, args, kwargs, frame):
        out = quiet(fn, args, kwargs)
        b = bind(fn, args, kwargs)
        if b is None:
            return out
        func, fargs = b.get("func", b.get("f")), args_tuple(b.get("args"))
        lo, hi = b["a"], b["b"]
        limits_traced = _is_traced(rec, lo) or _is_traced(rec, hi)
        if not callable(func) or b.get("complex_func"):
            if limits_traced or _is_traced(rec, fargs):
                _lost(rec, frame, name, "complex_func=True or a non-Python integrand")
            return out
        a, bb = float(lo), float(hi)
        if (_is_traced(rec, lo) and not np.isfinite(a)) or \
                (_is_traced(rec, hi) and not np.isfinite(bb)):
            _lost(rec, frame, name, "a traced infinite limit")
        if limits_traced and str(b.get("weight")).startswith("alg"):
            _lost(rec, frame, name, "traced limits with an algebraic weight=")
        weight, wvar = b.get("weight"), b.get("wvar")
        wvars: list = []
        if weight is not None and _is_traced(rec, wvar):
            if weight in ("cos", "sin"):
                wvars = [wvar]
            elif weight == "alg":
                wvars = list(wvar)
            elif weight == "cauchy" and np.isfinite(a) and np.isfinite(bb):
                wvars = [wvar]
            else:
                _lost(rec, frame, name, f"a traced wvar of weight={weight!r}")
        f = lambda x: func(x, *fargs)
        start = len(rec.nodes)
        for x in _sample_points(a, bb):
            f(x)
        params = parameters(rec, start, frame)
        if not params and not limits_traced and not wvars:
            return out
        value = out[0]
        options = {k: b.get(k) for k in ("epsabs", "epsrel", "limit", "points", "weight",
                                         "wvar", "wopts")}
        if vector:
            options["epsabs"] = max(float(b.get("epsabs") or 0.0), 1e-14)
        ctx = QuadContext(f, params, a, bb, np.shape(value), options, name, len(wvars))
        result = np.array(value, copy=True) if vector else float(value)
        y = rec.apply(_RULE, lambda *_: result, (), {}, (ctx, lo, hi, *wvars, *params), frame)
        return (y, *out[1:])

    return handle


def solver_table() -> list[tuple[Any, Any]]:
    """``(callable, handler)`` pairs for the SOLVERS hook (empty until SciPy is imported)."""
    if "scipy" not in sys.modules:
        return []
    import scipy.integrate as si  # noqa: PLC0415 - optional dependency

    return [(si.quad, _handler(False)), (si.quad_vec, _handler(True))]
