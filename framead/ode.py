"""Continuous adjoints for ``scipy.integrate.solve_ivp`` and ``scipy.integrate.odeint``.

Inside a capture (capture/calls.py routes these callables here through the ``SOLVERS`` hook,
framead/solvers.py):

1. the integration runs natively with capture disabled (nothing inside it is recorded), with
   a dense interpolant of ``y(t)`` kept for the reverse pass (``solve_ivp``: its own
   ``dense_output``; ``odeint``: a quiet ``solve_ivp(method="LSODA")`` at odeint's
   tolerances);
2. the right-hand side is evaluated once more under capture at ``(t0, y0)`` with ``y0`` a
   constant; the traced values that evaluation reads (through closures or ``args=``) are the
   parameters ``θ`` (framead finds the objects holding them);
3. the outputs (``sol.y``, at ``t_eval`` or at the solver's steps; odeint's array) are recorded
   as one node ``y = ode_solution(y0, *θ)``.

Its VJP integrates the adjoint system backward in time with ``solve_ivp``::

    a' = -(∂f/∂y)^T a,   θ̄' = -(∂f/∂θ)^T a,   a(t_i) += ȳ(t_i) at each output time,

giving ``ȳ0 = a(t0)`` and ``θ̄``; each right-hand side evaluation is one nested framead capture
of the user's ``fun`` at ``(t, y(t))`` with ``y`` and the ``θ`` objects as inputs, and one
reverse sweep. The adjoint solve uses the forward call's method and tolerances unless
``adjoint_options(rtol=..., atol=..., method=...)`` says otherwise. With
``dense_output=True``, each call ``sol.sol(t)`` inside the capture is recorded the same way
(its own adjoint from ``t`` back to ``t0``); ``t_span`` may run backward in time.

Traced times are inputs too: an output at a traced time ``t_i`` (``t_eval``'s points, odeint's
``t``, ``t_span[1]`` for the last column of ``sol.y``) has ``∂y(t_i)/∂t_i = f(t_i, y(t_i))``;
a traced start time ``t0`` (``t_span[0]``, odeint's ``t[0]``) has ``∂/∂t0 = -a(t0)^T f(t0, y0)``
from the same adjoint; ``sol.t`` follows them (its first and last entries, or ``t_eval``).
The solver's own intermediate step times (``sol.t`` without ``t_eval``) are constants.

Not differentiated: event times (a terminal event is reported as FA101), ``vectorized=True``
right-hand sides and failed integrations (reported as FA101). The parameters are found by
evaluating ``fun`` once more at ``(t0, y0)``: a traced value the right-hand side reads only
at other times or states (behind a branch) is missed.
Arrays among the parameters are restored to their forward values while the adjoint runs.
"""

from __future__ import annotations

import contextlib
import copy
import operator
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from .capture import calls
from .capture.recorder import Recorder
from .capture.session import Session
from .capturing import active_recorder, quiet
from .ir import Value, flatten_tree
from .reverse import Backward
from .rules import make_rule
from .solver_common import args_tuple, bind, forward_values, parameters, snapshots, split_like

# each thread's stack of adjoint_options blocks: a block is its own thread's (one process-wide
# stack gave a capture the options of a block open in another thread, and a block that
# closed in one thread popped another thread's entry)
_options = threading.local()


def _current_options() -> dict:
    """The adjoint options of this thread's innermost ``adjoint_options`` block."""
    stack = getattr(_options, "stack", None)
    return stack[-1] if stack else {}


@contextlib.contextmanager
def adjoint_options(rtol: float | None = None, atol: float | None = None,
                    method: str | None = None):
    """``with framead.ode.adjoint_options(rtol=1e-10, atol=1e-12):`` tolerances and method of
    the backward (adjoint) integrations of captures inside the block. Defaults: those of the
    forward call."""
    new = {k: v for k, v in (("rtol", rtol), ("atol", atol), ("method", method))
           if v is not None}
    stack = _options.__dict__.setdefault("stack", [])
    stack.append({**_current_options(), **new})
    try:
        yield
    finally:
        stack.pop()


class OdeContext:
    """What the adjoint needs: the right-hand side, the parameter objects (and snapshots of
    the arrays among them), the forward interpolant, output times and options."""

    def __init__(self, f: Callable, params: list, dense: Callable, t0: float, times: np.ndarray,
                 y_shape: tuple, options: dict, name: str):
        self.f = f
        self.params = params
        self.snap = snapshots(params)
        self.dense = dense
        self.t0 = float(t0)
        self.times = np.asarray(times, dtype=float)
        self.y_shape = y_shape
        self.options = options
        self.name = name
        self.rhs_evaluations = 0
        self.direction = 1.0
        self.out_to_columns: Callable = np.asarray
        # node arguments after y0: traced times, each "t0" (the start), "first"/"last" (the
        # start / the end of t_span: the time of the first / last output column), "each" (one
        # time per output column: t_eval, odeint's t, whose first is also t0 when "t0+each")
        self.time_kinds: tuple[str, ...] = ()
        self.y0c: np.ndarray = np.zeros(0)
        self.y_cols: np.ndarray = np.zeros((0, 0))

    def __repr__(self) -> str:
        return f"<ode adjoint {self.name}>"

    def rhs_vjp(self, t: float, y: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, list]:
        """``(a^T ∂f/∂y, [a^T ∂f/∂θ_k])`` at ``(t, y)`` by one nested capture of ``f``."""
        self.rhs_evaluations += 1
        rec = Recorder()
        yv = np.array(y, dtype=float, copy=True).reshape(self.y_shape)
        wrt = [rec.new_input(yv)] + [rec.new_input(p) for p in self.params]
        with Session(rec):
            out = self.f(t, yv)
        leaves, _ = flatten_tree(out)
        graph = rec.finish(leaves)
        if len(leaves) == 1:
            cts = [np.asarray(a).reshape(np.shape(leaves[0]))]
        else:
            cts = list(np.ravel(a))
        seeds: dict[int, Any] = {}
        for v, c in zip(graph.outputs, cts, strict=True):
            if isinstance(v, Value):
                seeds[v.id] = c if v.id not in seeds else seeds[v.id] + c
        grads = Backward(graph, wrt)(seeds) if seeds else [None] * len(wrt)
        gy = np.zeros(self.y_shape) if grads[0] is None else np.real(np.asarray(grads[0]))
        gp = [np.zeros(np.shape(p)) if g is None else np.real(np.asarray(g, dtype=complex))
              for g, p in zip(grads[1:], self.params, strict=True)]
        return np.ravel(gy), gp

    def _forward_values(self):
        """Parameter arrays hold their values of the forward solve while the adjoint runs."""
        return forward_values(self.params, self.snap)

    def adjoint(self, g: np.ndarray) -> tuple[np.ndarray, list]:
        """Cotangents of ``y0`` and of each parameter, for cotangents ``g[:, i]`` of y(t_i)."""
        from scipy.integrate import solve_ivp  # noqa: PLC0415 - optional dependency

        n = int(np.prod(self.y_shape, dtype=int))
        sizes = [int(np.size(p)) for p in self.params]
        a = np.zeros(n)
        pbar = np.zeros(sum(sizes))
        g = np.asarray(g, dtype=float).reshape(n, len(self.times))

        def rhs(t, z):
            y = np.asarray(self.dense(t), dtype=float)
            gy, gp = self.rhs_vjp(t, y, z[:n])
            flat = [np.ravel(x) for x in gp]
            return -np.concatenate([gy, *flat]) if flat else -gy

        opts = self.options
        t_hi = None
        with self._forward_values():
            # from the output time farthest from t0 back to t0 (t_span may run backward)
            for i in np.argsort(-(self.times - self.t0) * self.direction, kind="stable"):
                ti = float(self.times[i])
                if t_hi is not None and ti != t_hi:
                    z = self._solve(solve_ivp, rhs, t_hi, ti, np.concatenate([a, pbar]), opts)
                    a, pbar = z[:n], z[n:]
                a = a + g[:, i]
                t_hi = ti
            if t_hi is not None and t_hi != self.t0:
                z = self._solve(solve_ivp, rhs, t_hi, self.t0, np.concatenate([a, pbar]), opts)
                a, pbar = z[:n], z[n:]
        return a.reshape(self.y_shape), split_like(self.params, sizes, pbar)

    def rhs_at(self, t: float, y: np.ndarray) -> np.ndarray:
        """``f(t, y)`` (raveled, real) at the forward parameter values, not recorded."""
        with self._forward_values():
            out = quiet(self.f, (float(t), np.array(y, dtype=float).reshape(self.y_shape)), {})
        return np.ravel(np.asarray(out, dtype=float))

    def time_cots(self, g: np.ndarray, a0: np.ndarray) -> list:
        """Cotangents of the traced time arguments (``time_kinds``) for cotangents ``g[:, i]``
        of the outputs y(t_i) and the adjoint ``a0`` at t0."""
        n = len(self.times)
        g = np.asarray(g, dtype=float).reshape(-1, n)
        per = np.array([float(g[:, i] @ self.rhs_at(self.times[i], self.y_cols[:, i]))
                        if np.any(g[:, i]) else 0.0 for i in range(n)])
        start = -float(np.ravel(a0) @ self.rhs_at(self.t0, self.y0c)) \
            if {"t0", "first", "t0+each"} & set(self.time_kinds) else 0.0
        out: list = []
        for kind in self.time_kinds:
            if kind == "t0":
                out.append(start)
            elif kind == "first":
                out.append(start + per[0])
            elif kind == "last":
                out.append(float(per[-1]))
            elif kind == "each":
                out.append(per)
            elif kind == "t0+each":
                out.append(per + np.eye(n)[0] * start)
            else:
                out.append(None)
        return out

    def _solve(self, solve_ivp, rhs, t_from, t_to, z0, opts):
        if not np.any(z0):
            return z0
        sol = solve_ivp(rhs, (t_from, t_to), z0, method=opts.get("method", "RK45"),
                        rtol=opts.get("rtol", 1e-3), atol=opts.get("atol", 1e-6))
        if sol.status < 0:
            raise RuntimeError(f"framead: the adjoint integration of {self.name} failed: "
                               f"{sol.message}")
        return sol.y[:, -1]


def ode_solution(ctx: OdeContext, y0: Any, *params: Any) -> Any:
    """The IR node of an ODE solution (``y0``, the traced times ``ctx.time_kinds`` say, and
    the parameters ``θ`` are its inputs)."""
    raise AssertionError("recorded only")


def _ode_vjp(g: Any, ans: Any, ctx: OdeContext, y0: Any, *params: Any) -> tuple:
    cols = ctx.out_to_columns(g)
    ybar, pbars = ctx.adjoint(cols)
    tbars = ctx.time_cots(cols, ybar) if ctx.time_kinds else []
    kind = getattr(y0, "kind", type(y0))
    if isinstance(kind, type) and issubclass(kind, np.ndarray):
        ybar = np.reshape(ybar, tuple(y0.shape))
    else:
        ybar = float(np.ravel(ybar)[0])
    return (None, ybar, *tbars, *pbars)


_RULE = make_rule(ode_solution, vjp=_ode_vjp, saves={}, nondiff=(0,), name="ode_solution")


def _record(rec, frame, f: Callable, t0: float, y0: Any, y_out: np.ndarray, times, dense,
            to_columns: Callable, options: dict, name: str, direction: float | None = None,
            time_args: tuple = ()) -> tuple[Any, tuple] | None:
    """Record ``y_out`` as an ODE solution node: (the traced output, the node's arguments);
    None when nothing traced reaches it. ``time_args``: (kind, object) of the times that may
    be traced (``OdeContext.time_kinds``)."""
    if type(y0) in (list, tuple) and rec.tree_value(y0) is not None:
        y0 = calls.dispatch(rec, np.asarray, (y0,), {}, frame)
    y0c = np.array(quiet(np.asarray, (y0,), {}), dtype=float)
    start = len(rec.nodes)
    f(t0, np.array(y0c, copy=True))
    params = parameters(rec, start, frame)
    timed = [(k, calls.dispatch(rec, np.asarray, (t,), {}, frame) if type(t) in (list, tuple)
              else t) for k, t in time_args if rec.tree_value(t) is not None]
    if not params and rec.tree_value(y0) is None and not timed:
        return None
    ctx = OdeContext(f, params, dense, t0, times, y0c.shape, options, name)
    ctx.out_to_columns = to_columns
    ctx.time_kinds = tuple(k for k, _ in timed)
    ctx.y0c, ctx.y_cols = y0c, np.asarray(to_columns(y_out), dtype=float)
    if direction is not None:
        ctx.direction = direction
    result = np.array(y_out, copy=True)
    node_args = (ctx, y0, *(t for _, t in timed), *params)
    return rec.apply(_RULE, lambda *_: result, (), {}, node_args, frame), node_args


def _solve_ivp(rec, fn, args, kwargs, frame):
    b = bind(fn, args, kwargs)
    if b is None or b.get("vectorized"):
        res = quiet(fn, args, kwargs)
        if b is not None:
            _report_lost(rec, frame, b, "vectorized=True is not supported by the ODE adjoint")
        return res
    call_kwargs = dict(kwargs)
    want_dense = bool(b.get("dense_output"))
    if not want_dense:
        # dense_output does not change the steps; args passed positionally stay positional
        call_kwargs["dense_output"] = True
    res = quiet(fn, args, call_kwargs)
    if not res.success or res.sol is None:
        _report_lost(rec, frame, b, f"the integration failed ({res.message})")
        return res
    if res.status == 1:
        rec.hazard("FA101", "solve_ivp", frame,
                   "a terminal event stopped solve_ivp: the dependence of the stopping time "
                   "on traced values is not differentiated (the state is)")
    extra = b.get("options") or {}
    fargs = args_tuple(b.get("args"))
    fun = b["fun"]
    f = lambda t, y: fun(t, y, *fargs)
    method = b.get("method", "RK45")
    opts = {"method": method if isinstance(method, str) else "RK45",
            "rtol": extra.get("rtol", 1e-3), "atol": extra.get("atol", 1e-6),
            **_current_options()}
    t0, t1 = (float(v) for v in b["t_span"])
    t_eval = b.get("t_eval")
    span = b["t_span"]
    if isinstance(span, np.ndarray) and rec.tree_value(span) is not None:  # its items
        span = [calls.dispatch(rec, operator.getitem, (span, k), {}, frame) for k in (0, 1)]
    times = ((("t0" if t_eval is not None else "first"), span[0]),
             *((("last", span[1]),) if t_eval is None else (("each", t_eval),)))
    got = _record(rec, frame, f, t0, b["y0"], res.y, res.t, res.sol, np.asarray, opts,
                  "solve_ivp", 1.0 if t1 >= t0 else -1.0, times)
    if got is None:
        if not want_dense:
            res["sol"] = None
        return res
    res["y"] = got[0]
    res["sol"] = DenseSolution(res.sol, got[1]) if want_dense else None
    if t_eval is not None and rec.tree_value(t_eval) is not None:  # sol.t: t_eval's values
        res["t"] = calls.dispatch(rec, np.array, (t_eval,), {"dtype": float}, frame)
    elif t_eval is None and (rec.tree_value(span[0]) is not None or
                             rec.tree_value(span[1]) is not None):
        ts = np.array(res.t, dtype=float, copy=True)
        res["t"] = rec.apply(_TIMES_RULE, lambda *_: ts, (), {}, (res.t, span[0], span[1]),
                             frame)
    return res


def step_times(ts: np.ndarray, t0: Any, t1: Any) -> np.ndarray:
    """``sol.t`` without ``t_eval``: the solver's steps, from ``t_span[0]`` to ``t_span[1]``
    (the steps between are constants)."""
    out = np.array(ts, dtype=float, copy=True)
    out[0], out[-1] = t0, t1
    return out


def _ends(g: Any, k: int) -> float:
    return float(np.real(np.ravel(g)[k]))


def _step_times_jvp(tangents: tuple, ans: Any, ts: Any, t0: Any, t1: Any) -> np.ndarray:
    out = np.zeros(np.shape(ans))
    for t, k in ((tangents[1], 0), (tangents[2], -1)):
        if t is not None:
            out[k] += float(t)
    return out


_TIMES_RULE = make_rule(step_times, vjp=(None, lambda g, ans, ts, t0, t1: _ends(g, 0),
                                         lambda g, ans, ts, t0, t1: _ends(g, -1)),
                        jvp=_step_times_jvp, saves={1: (), 2: ()}, nondiff=(0,),
                        name="solve_ivp.t")


class DenseSolution:
    """``sol.sol`` of a differentiated ``solve_ivp(dense_output=True)``: inside a capture, each
    call ``sol(t)`` is recorded as an ODE solution node at the times ``t`` (its own adjoint
    integration from ``t`` back to ``t0``); outside, the SciPy interpolant."""

    def __init__(self, dense: Any, node_args: tuple):
        self.dense = dense
        self._node_args = node_args
        self.ts, self.interpolants = getattr(dense, "ts", None), getattr(dense, "interpolants",
                                                                          None)
        self.t_min, self.t_max = getattr(dense, "t_min", None), getattr(dense, "t_max", None)

    def __call__(self, t: Any) -> Any:
        out = self.dense(t)
        rec = active_recorder()
        if rec is None:
            return out
        ctx, *rest = self._node_args
        ctx = copy.copy(ctx)
        ctx.times = np.atleast_1d(np.asarray(t, dtype=float))
        # (only the start time moves these outputs: their own times are sol(t)'s argument)
        ctx.time_kinds = tuple("t0" if k in ("t0", "first") else "none"
                               for k in ctx.time_kinds)
        ctx.out_to_columns = lambda g: np.asarray(g).reshape(-1, ctx.times.size)
        result = np.array(out, copy=True)
        return rec.apply(_RULE, lambda *_: result, (), {}, (ctx, *rest), sys._getframe(1))


def _report_lost(rec, frame, b: dict, why: str) -> None:
    """solve_ivp ran without an adjoint: report it when its right-hand side reads traced
    values."""
    fargs = args_tuple(b.get("args"))
    start = len(rec.nodes)
    try:
        b["fun"](float(b["t_span"][0]), np.array(quiet(np.asarray, (b["y0"],), {}),
                                                 dtype=float), *fargs)
    except Exception:
        pass
    if len(rec.nodes) > start or rec.tree_value(b["y0"]) is not None:
        rec.hazard("FA101", "solve_ivp", frame,
                   f"solve_ivp: {why}; its result is treated as constant")


def _odeint(rec, fn, args, kwargs, frame):
    from scipy.integrate import solve_ivp  # noqa: PLC0415 - optional dependency

    out = quiet(fn, args, kwargs)
    b = bind(fn, args, kwargs)
    if b is None:
        return out
    func, fargs = b["func"], args_tuple(b.get("args"))
    t = np.asarray(b["t"], dtype=float)
    if b.get("tfirst"):
        f = lambda t_, y: func(t_, y, *fargs)
    else:
        f = lambda t_, y: func(y, t_, *fargs)
    rtol = b.get("rtol") or 1.49012e-8
    atol = b.get("atol") or 1.49012e-8
    y0c = np.array(quiet(np.asarray, (b["y0"],), {}), dtype=float)
    fq = lambda t_, y: np.ravel(np.asarray(
        func(y.reshape(y0c.shape), t_, *fargs) if not b.get("tfirst")
        else func(t_, y.reshape(y0c.shape), *fargs), dtype=float))
    dense_sol = quiet(solve_ivp, (fq, (t[0], t[-1]), np.ravel(y0c)),
                       {"method": "LSODA", "dense_output": True, "rtol": rtol, "atol": atol})
    full = isinstance(out, tuple)
    y = out[0] if full else out
    if dense_sol.sol is None:
        return out
    opts = {"method": "LSODA", "rtol": rtol, "atol": atol, **_current_options()}
    got = _record(rec, frame, f, float(t[0]), b["y0"], y, t, dense_sol.sol,
                  lambda g: np.asarray(g).reshape(len(t), -1).T, opts, "odeint",
                  1.0 if t[-1] >= t[0] else -1.0, (("t0+each", b["t"]),))
    if got is None:
        return out
    y_out = got[0]
    return (y_out, *out[1:]) if full else y_out


def solver_table() -> list[tuple[Any, Any]]:
    """``(scipy.integrate function, handler)`` pairs (empty until SciPy is imported)."""
    if "scipy" not in sys.modules:
        return []
    import scipy.integrate as si  # noqa: PLC0415 - optional dependency

    return [(si.solve_ivp, _solve_ivp), (si.odeint, _odeint)]

