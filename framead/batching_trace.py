"""vmap's one-pass path: record ``f`` once on the first example, as ``framead.jit`` does, and
run the recorded operations on the whole batch (framead/batching_rules.py).

Taken only where the result is the loop's: every mapped argument is a float array (its
per-example values are traced inputs, never recorded constants), the trace is one a cached
trace could replay (framead/cache.py: no hazard but FA102, nothing that cannot be re-run),
it drew no random numbers (NumPy's and Python's global generators, generators reachable
from ``f`` and its arguments, fresh OS entropy), every node has a batching rule, every
recorded decision comes out the same for every example, and the batched results have the
recorded dtypes and shapes and reproduce the recorded example. Otherwise the examples run
one by one and ``stats["reasons"]`` says why. Traces are kept per argument signature (the
mapped leaves' per-example shapes and dtypes, the other leaves' values) and re-checked, as
cached traces are, against the globals and closures they read.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any

import numpy as np

from . import batching_rules as BR
from . import tree
from .cache import WatchedGlobals, fingerprint, uncacheable_reason
from .inputs import default_argnums
from .ir import Value, values_in
from .randomness import Draws
from .tracing import call_top, capture_for_cache

MAX_PLANS = 8


def is_cached(f: Callable) -> bool:
    """Whether ``f`` is a cached trace (``framead.jit(f)``, ``grad(f, cache=True)``): its
    contract already is to replay its recording instead of running ``f``."""
    stats, clear = getattr(f, "stats", None), getattr(f, "clear", None)
    return callable(clear) and isinstance(stats, dict) and \
        {"hits", "misses", "captures", "reasons"} <= stats.keys()


class _Plan:
    """One recorded trace, ready to run batched."""

    def __init__(self, t: Any, rec: Any, fns: list, codes: list, f: Callable,
                 live: list | None = None):
        g = t.graph
        guarded = [v for gd in rec.guards for v in _values(gd[2], gd[3])]
        self.nodes = g.live_nodes(also=guarded) if live is None else live
        self.guards = _renumber(tuple(rec.guards), g.nodes, self.nodes)
        self.input_ids = [v.id for v in g.inputs]
        self.outputs = list(g.outputs)
        self.out_treedef = t.out_treedef
        self.globals = WatchedGlobals([f, *fns], codes)
        self.checked = False  # its batched outputs reproduced f on a last example once
        self.refused: str | None = None  # why they did not (the loop runs instead)


def _values(args: Any, kwargs: dict) -> list[Value]:
    return list(values_in([*args, *kwargs.values()]))


def _renumber(guards: tuple, nodes: list, live: list) -> tuple:
    """Guards placed before the same (live) node as when they were recorded."""
    where = {id(n): k for k, n in enumerate(nodes)}
    pos = [where[id(n)] for n in live]  # (ascending: live nodes keep the recorded order)
    return tuple((bisect.bisect_left(pos, g[0]), *g[1:]) for g in guards)


# --- the path --------------------------------------------------------------------------------

class FastPath:
    """The one-pass path of one ``vmap(f)``: its traces and statistics."""

    def __init__(self, f: Callable):
        self.f = f
        self.plans: dict[Any, _Plan] = {}
        self.off: str | None = None  # why the one pass is not tried
        self.stats: dict[str, Any] = {"batched": 0, "loop": 0, "captures": 0,
                                      "last": None, "reasons": []}

    def reason(self, why: str) -> None:
        self.stats["loop"] += 1
        self.stats["last"] = "loop"
        reasons = self.stats["reasons"]
        if why not in reasons and len(reasons) < 16:
            reasons.append(why)

    def run(self, leaves: list[tuple[Any, int | None]], rebuild: Callable[[list], tuple],
            n: int, example: Callable[[int], list]) -> tuple[bool, Any, Any]:
        """``(done, result, first)``: ``result`` the per-leaf batched outputs (and their
        structure) when ``done``; otherwise ``first`` is example 0's output when the capture
        already ran it (the loop then starts at example 1), else a sentinel."""
        why = _unsupported(leaves)
        if why is not None:
            self.reason(why)
            return False, None, NOTHING
        key = _key(leaves, n)
        plan = self.plans.get(key) if key is not None else None
        if plan is not None and not plan.globals.valid():
            del self.plans[key]
            plan = None
        first = NOTHING
        if plan is None:
            plan, first, why = self._record(leaves, rebuild, example(0))
            if plan is None:
                self.reason(why)
                return False, None, first
            if key is not None:
                self.plans[key] = plan
                while len(self.plans) > MAX_PLANS:
                    del self.plans[next(iter(self.plans))]
        if plan.refused is not None:
            self.reason(plan.refused)
            return False, None, first
        try:
            outs = _execute(plan, leaves, n)
            if first is not NOTHING:
                _self_check(outs, first)
            if not plan.checked and is_cached(self.f):  # (f replays: no side effects)
                self._check_last(plan, outs, rebuild, example(n - 1), n)
        except BR.Unbatchable as e:
            self.reason(str(e))
            return False, None, first
        self.stats["batched"] += 1
        self.stats["last"] = "batched"
        return True, (outs, plan), first

    def _check_last(self, plan: _Plan, outs: list, rebuild: Callable, ex: list, n: int) -> None:
        """A new plan's batched outputs against a cached ``f`` (its own replay) on the last
        example, once per plan: a value the recording kept as a constant although it depends
        on the example reproduces example 0 but not the others (``vmap(grad(f, cache=True))``
        where ``s = M @ M; M[:] = ...``: the higher-order recording of matmul's VJP holds the
        overwritten operand as ``const()``). A plan that fails stays refused (the loop runs,
        nothing is recorded again). Not for a plain ``f`` under ``fast=True``, whose contract
        is one run per trace."""
        args, kwargs = rebuild(ex)
        try:
            last = self.f(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - the loop runs f and raises as it would
            raise BR.Unbatchable(f"f raised on the last example ({type(e).__name__})") from None
        try:
            _self_check([(r[n - 1:], True) if varies else (r, False) for r, varies in outs],
                        last)
        except BR.Unbatchable:
            plan.refused = ("the batched trace did not reproduce the last example (a value "
                            "recorded as a constant depends on the example)")
            raise BR.Unbatchable(plan.refused) from None
        plan.checked = True

    def _record(self, leaves: list, rebuild: Callable, ex: list) -> tuple:
        f = self.f

        def flat(*xs: Any) -> Any:  # f on the leaves, positional: every one can be an input
            args, kwargs = rebuild(list(xs))
            return call_top(f, args, kwargs)

        draws = Draws(f, [x for x, _ in leaves])
        self.stats["captures"] += 1
        try:
            t, rec, fns, codes = capture_for_cache(flat, tuple(ex), {},
                                                         default_argnums(ex), None)
        except Exception as e:  # noqa: BLE001 - the loop runs f and raises as it would
            return None, NOTHING, f"the capture failed ({type(e).__name__}: {e})"
        first = t.value
        if draws.drawn(fns, codes):
            return None, first, "f draws random numbers: a trace would repeat the recorded draw"
        live = None
        why = uncacheable_reason(t, rec)
        if why is None:
            live = t.graph.live_nodes(also=[v for g in rec.guards for v in _values(g[2], g[3])])
            why = BR.check_nodes(live)
        if why is None and len(t.graph.inputs) != sum(a is not None for _, a in leaves) + \
                sum(a is None and tree.differentiable(x) for x, a in leaves):
            why = "the trace's inputs are not the arguments' float leaves"
        if why is not None:
            return None, first, why
        return _Plan(t, rec, fns, codes, f, live), first, None


class _Nothing:
    pass


NOTHING = _Nothing()


def _unsupported(leaves: list[tuple[Any, int | None]]) -> str | None:
    arrays = [x for x, _ in leaves if isinstance(x, np.ndarray)]
    for x, a in leaves:
        if a is not None and (type(x) is not np.ndarray or x.dtype.kind != "f"):
            return (f"a mapped argument is a {type(x).__name__} of dtype {x.dtype}: only float "
                    "arrays are traced inputs (other values would be recorded constants)")
    for i, x in enumerate(arrays):
        if any(np.may_share_memory(x, y) for y in arrays[i + 1:]):
            return "two array arguments share memory"
    return None


def _key(leaves: list[tuple[Any, int | None]], n: int) -> Any:
    parts = []
    for x, a in leaves:
        if a is not None:
            parts.append(("mapped", a, x.shape[:a] + x.shape[a + 1:], x.dtype.str))
        elif tree.differentiable(x):
            parts.append((type(x), np.shape(x), str(getattr(x, "dtype", ""))))
        else:
            parts.append(fingerprint(x))
    key = tuple(parts)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _execute(plan: _Plan, leaves: list[tuple[Any, int | None]], n: int) -> list[Any]:
    """The outputs' leaves over the batch: (array with the batch axis first, True) or
    (value, False) for those that do not vary."""
    diff = [(x, a) for x, a in leaves if a is not None or tree.differentiable(x)]
    inputs, batched = {}, set()
    for i, (x, a) in zip(plan.input_ids, diff, strict=True):
        if a is not None:
            inputs[i] = np.moveaxis(x, a, 0)
            batched.add(i)
        else:
            inputs[i] = x
    try:
        env = BR.run(plan.nodes, plan.guards, inputs, batched, n)
    except BR.Unbatchable:
        raise
    except Exception as e:  # noqa: BLE001 - a batched operation failed: the loop decides
        raise BR.Unbatchable(f"a batched operation raised {type(e).__name__}: {e}") from None
    outs = []
    for v in plan.outputs:
        r = env[v.id] if isinstance(v, Value) else v
        outs.append((r.a, True) if isinstance(r, BR.Batched) else (r, False))
    return outs


def _self_check(outs: list, first: Any) -> None:
    """The batched outputs reproduce example 0 as the capture computed it."""
    for (r, varies), x in zip(outs, tree.flatten(first)[0], strict=True):
        got = r[0] if varies else r
        try:
            a, b = np.asarray(got), np.asarray(x)
            fin = np.abs(b[np.isfinite(b)]) if b.dtype.kind in "fc" else np.zeros(0)
            scale = float(fin.max()) if fin.size else 0.0
            ok = a.shape == b.shape and a.dtype == b.dtype and (
                a.dtype.kind not in "fc" or np.allclose(a, b, rtol=1e-12, atol=1e-12 * scale,
                                                        equal_nan=True))
            ok = ok and (a.dtype.kind in "fc" or np.array_equal(a, b))
        except Exception:  # noqa: BLE001 - not comparable: not reproduced
            ok = False
        if not ok:
            raise BR.Unbatchable("the batched trace did not reproduce the first example")
