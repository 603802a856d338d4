"""Timing, memory and gradient-checking machinery of the benchmark suite.

What is measured (RESULTS.md repeats this):

* **gradient time**: wall-clock time of one call returning the value and the gradient
  (``value_and_grad``; for PyTorch the forward plus ``.backward()``; for JAX including
  ``block_until_ready``), inputs already converted to the system's array type. Median over
  warm calls (the first call excluded), repeated until the per-system time budget is spent
  (at least one, at most ``max_reps``); ``gc.collect()`` runs between calls, outside the
  timed region. A system whose calls take longer than the budget gets a single warm call;
  one whose first call takes longer than a cap gets no warm call, and its first call stands
  in for the warm time (marked in the report).
* **primal time**: the same for the system's own forward computation without AD (framead's
  primal is the legacy NumPy program itself; PyTorch's runs under ``torch.no_grad()``; the
  ``jax.jit`` system's is ``jit(primal)``); one untimed call warms it first, which compiles
  ``jit(primal)`` and fills JAX's per-operation cache.
* **first call**: the first gradient call of the system in a fresh process (each system runs
  in its own subprocess), so it includes framead's bytecode rewriting, JAX's tracing and
  compilation and PyTorch's lazy initialization, but not importing the package.
* **framead.cached** is ``framead.value_and_grad(f, argnums, cache=True)``, made once per
  process: its first call captures ``f`` (like uncached framead, plus the guards), its second
  call is the first cache hit and builds the replay (compiled code, or steps for traces over
  1000 nodes; timed separately, reported as *second call*, not part of the warm median), and
  the warm calls after it re-run it
  without running ``f`` while the guards hold. The gradients of the first call and of the
  second (a hit) must both pass the finite-difference check. ``vg.stats`` (hits, misses,
  captures, uncacheable calls and their reasons) is recorded after the warm calls, and the
  report says how many warm calls were cache hits; a system whose warm calls were not all
  hits is flagged *not cached*.
* **peak memory**, two ways:
  ``rss`` (all systems): the peak of the process's resident set during the first warm
  gradient call, minus the resident set just before the first call (inputs built, package
  imported; both after ``gc.collect()`` and ``malloc_trim(0)``). The peak is Linux's
  ``VmHWM``, reset through ``/proc/self/clear_refs`` before the call. So it is the
  steady-state memory a gradient costs: it includes what the system keeps between calls
  (JAX's compiled executables, anything a system holds on to from its previous call) as
  well as the call's own temporaries; it sees every allocator (PyTorch's, XLA's) but only in
  whole pages, so small values are noise.
  ``tracemalloc`` (NumPy, framead and autograd only; it cannot see PyTorch's or XLA's
  buffers): the peak of the Python-traced allocations one more warm call makes (NumPy
  reports its array buffers to tracemalloc), and how much of that is still held after the
  call returned and its result was dropped. Skipped for calls slower than the budget
  (tracing every allocation slows them down).
* **gradient check**: before a system is timed, its first call's value must equal the legacy
  primal's value (relative 1e-9) and its gradient must match float64 central finite
  differences of the legacy primal: for each differentiated argument, or for each leaf of a
  differentiated container (a tuple, list, dict, named tuple or dataclass of floats and
  arrays, whose gradient must have the container's structure), the derivative along two
  random Gaussian directions (the exact partial derivative for a scalar), by a
  Richardson-extrapolated fourth-order stencil with an error estimate; the tolerance is
  ``rtol * max(|fd|, |g| |v| / sqrt(size))`` plus three error estimates. A system that
  fails is reported FAILED and not timed.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import dataclasses
import functools
import gc
import itertools
import math
import os
import time
import traceback
import tracemalloc
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SYSTEMS = ("numpy", "framead", "framead.cached", "autograd", "jax", "jax.jit", "torch")
PEERS = ("autograd", "jax", "jax.jit", "torch")
EAGER_PEERS = ("autograd", "jax", "torch")

# --------------------------------------------------------------------------------------------
# containers of arguments ("pytrees"), without importing any system: every worker process
# imports only its own package
# --------------------------------------------------------------------------------------------


def _children(x: Any) -> tuple[list[tuple[str, Any]], Any] | None:
    """A container's (name, child) pairs and a rebuilder ``children -> container``; None for
    a leaf. The same nodes as ``framead.tree`` and JAX: tuples, lists, dicts, named tuples,
    dataclass instances."""
    if isinstance(x, tuple) and hasattr(type(x), "_fields"):
        return [(f".{n}", v) for n, v in zip(x._fields, x, strict=True)], \
            lambda kids: type(x)(*kids)
    if isinstance(x, tuple | list):
        cls = tuple if isinstance(x, tuple) else list
        return [(f"[{k}]", v) for k, v in enumerate(x)], cls
    if isinstance(x, dict):
        keys = list(x)
        return [(f"[{k!r}]", x[k]) for k in keys], lambda kids: dict(zip(keys, kids,
                                                                          strict=True))
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        names = [f.name for f in dataclasses.fields(x)]

        def rebuild(kids):
            new = copy.copy(x)
            for n, v in zip(names, kids, strict=True):
                object.__setattr__(new, n, v)
            return new

        return [(f".{n}", getattr(x, n)) for n in names], rebuild
    return None


def tree_leaves(x: Any, path: str = "") -> list[tuple[str, Any]]:
    """The leaves of ``x`` with their paths (``[0]``, ``['W']``, ``.b``; ``""`` for a leaf)."""
    node = _children(x)
    if node is None:
        return [(path, x)]
    return [leaf for name, c in node[0] for leaf in tree_leaves(c, path + name)]


def tree_map(fn, x: Any) -> Any:
    """``fn`` applied to every leaf of ``x``, in fresh containers of the same structure."""
    node = _children(x)
    if node is None:
        return fn(x)
    kids, rebuild = node
    return rebuild([tree_map(fn, c) for _, c in kids])


def _copy_leaf(a: Any) -> Any:
    return a.copy() if isinstance(a, np.ndarray) else a


def diff_leaves(args: tuple, argnums) -> list[tuple[str, Any]]:
    """The differentiated leaves, in gradient order: ``("argument 0[1]", leaf)``, ..."""
    return [(f"argument {i}{p}", leaf) for i in argnums for p, leaf in tree_leaves(args[i])]


def grad_leaves(arg: Any, g: Any, where: str) -> list[Any]:
    """The leaves of gradient ``g`` of argument ``arg``, which must have its structure
    (the same container classes, lengths, keys and fields)."""
    node = _children(arg)
    if node is None:
        return [g]
    kids, _ = node
    gnode = _children(g) if type(g) is type(arg) else None
    gkids = dict(gnode[0]) if gnode is not None else {}
    if gnode is None or len(gkids) != len(kids) or set(gkids) != {n for n, _ in kids}:
        raise ValueError(f"the gradient of {where} has not the argument's structure: "
                         f"{_shape_of(g)} for {_shape_of(arg)}")
    # children matched by name: JAX returns a dict's keys sorted
    return [leaf for name, a in kids for leaf in grad_leaves(a, gkids[name], where + name)]


def _shape_of(x: Any) -> str:
    node = _children(x)
    if node is None:
        return type(x).__name__
    return f"{type(x).__name__}({', '.join(_shape_of(c) for _, c in node[0])})"


# --------------------------------------------------------------------------------------------
# finite-difference reference (float64, from the legacy primal only)
# --------------------------------------------------------------------------------------------


@dataclass
class CheckSpec:
    """What a system's first call is compared with."""

    value: float
    argnums: tuple[int, ...]
    directions: list[list[Any]]      # per differentiated leaf: its directions
    fd: list[list[float]]            # directional derivatives by finite differences
    fd_err: list[list[float]]        # their error estimates
    labels: list[str] = field(default_factory=list)   # per leaf: "argument 0[2]"
    rtol: float = 1e-6
    value_rtol: float = 1e-9


def _scalar(y: Any) -> float:
    if hasattr(y, "item"):
        y = y.item()
    return float(y)


def _shifted(args: tuple, i: int, v: Any, t: float, leaf: int | None = None) -> tuple:
    """``args`` with argument ``i`` (or leaf number ``leaf`` of the container ``args[i]``)
    moved by ``t v``; containers are rebuilt, nothing is written."""
    def shift(x):
        return x + t * v if isinstance(x, np.ndarray) else float(x) + t * float(v)

    if leaf is None:
        new = shift(args[i])
    else:
        seen = itertools.count()   # tree_map visits the leaves in tree_leaves' order
        new = tree_map(lambda x: shift(x) if next(seen) == leaf else x, args[i])
    return args[:i] + (new,) + args[i + 1:]


def _stencil(f, args, i, v, h, leaf=None) -> float:
    fp1, fm1 = f(*_shifted(args, i, v, h, leaf)), f(*_shifted(args, i, v, -h, leaf))
    fp2, fm2 = f(*_shifted(args, i, v, 2 * h, leaf)), f(*_shifted(args, i, v, -2 * h, leaf))
    return (8.0 * (fp1 - fm1) - (fp2 - fm2)) / (12.0 * h)


def directional_fd(f, args: tuple, i: int, v: Any, h: float,
                   leaf: int | None = None) -> tuple[float, float]:
    """d/dt f(args[i] + t v) at t=0 (or of its leaf number ``leaf`` when ``args[i]`` is a
    container), with an error estimate (Richardson on h and h/2)."""
    g = lambda *a: _scalar(f(*_copy_args(a)))
    d1 = _stencil(g, args, i, v, h, leaf)
    d2 = _stencil(g, args, i, v, h / 2, leaf)
    return d2 + (d2 - d1) / 15.0, abs(d1 - d2)


def make_check(mod, size: dict, n_dirs: int = 2, seed: int = 12345) -> CheckSpec:
    args, static = mod.inputs(**size)
    f = functools.partial(mod.primal, **static)
    rng = np.random.default_rng(seed)
    value = _scalar(f(*_copy_args(args)))
    step = getattr(mod, "FD_STEP", 1e-3)
    dirs, fds, errs, labels = [], [], [], []
    for i in mod.ARGNUMS:
        container = _children(args[i]) is not None
        for k, (path, x) in enumerate(tree_leaves(args[i])):
            label = f"argument {i}{path}"
            if isinstance(x, np.ndarray) and x.dtype.kind == "f":
                vs = [rng.standard_normal(x.shape) for _ in range(n_dirs)]
                h = step * max(1.0, float(np.sqrt(np.mean(x ** 2))))
            elif isinstance(x, float | np.floating):
                vs = [1.0]
                h = step * max(1.0, abs(float(x)))
            else:
                raise TypeError(f"{mod.NAME}: differentiated {label} is a "
                                f"{type(x).__name__}, not a float or a float array")
            res = [directional_fd(f, args, i, v, h, k if container else None) for v in vs]
            dirs.append(vs)
            fds.append([r[0] for r in res])
            errs.append([r[1] for r in res])
            labels.append(label)
    return CheckSpec(value, tuple(mod.ARGNUMS), dirs, fds, errs, labels)


def check_gradient(spec: CheckSpec, value: float, grads: list[np.ndarray]) -> tuple[bool, str]:
    """Compare a system's value and gradient with the reference; (ok, report). ``grads`` has
    one array per differentiated leaf (``diff_leaves`` order: a container argument's gradient
    flattened by ``grad_leaves``)."""
    lines = []
    ok = True
    dv = abs(value - spec.value)
    if not dv <= spec.value_rtol * max(1.0, abs(spec.value)):
        ok = False
        lines.append(f"value {value!r} differs from the legacy primal's {spec.value!r}")
    labels = spec.labels or [f"argument {i}" for i in spec.argnums]
    if len(grads) != len(labels):
        return False, f"expected {len(labels)} gradients ({', '.join(labels)}), got {len(grads)}"
    worst = 0.0
    for k, (i, g) in enumerate(zip(labels, grads, strict=True)):
        g = np.asarray(g, dtype=np.float64)
        for v, fd, err in zip(spec.directions[k], spec.fd[k], spec.fd_err[k], strict=True):
            v = np.asarray(v, dtype=np.float64)
            if g.shape != v.shape:
                ok = False
                lines.append(f"gradient of {i} has shape {g.shape}, expected {v.shape}")
                break
            gv = float(np.sum(g * v))
            scale = max(abs(fd), float(np.linalg.norm(g) * np.linalg.norm(v))
                        / math.sqrt(max(1, v.size)))
            tol = spec.rtol * scale + 3.0 * err
            rel = abs(gv - fd) / max(scale, 1e-300)
            worst = max(worst, rel)
            if not abs(gv - fd) <= tol:   # also catches NaN
                ok = False
                lines.append(f"{i}: directional derivative {gv!r}, finite differences "
                             f"{fd!r} (error estimate {err:.2g}, tolerance {tol:.2g})")
    if ok:
        lines.append(f"ok (worst relative deviation {worst:.1e})")
    return ok, "; ".join(lines)


# --------------------------------------------------------------------------------------------
# the systems
# --------------------------------------------------------------------------------------------


@dataclass
class Adapter:
    """One system made ready on one workload: calls to time and conversions."""

    vg: Any                  # () -> native (value, grads)
    primal: Any              # () -> native value
    to_numpy: Any            # native (value, grads) -> (float, [ndarray per diff. leaf])
    block: Any = lambda r: r
    tracemalloc_ok: bool = True
    info: dict = field(default_factory=dict)
    cache_stats: Any = None  # framead.cached: () -> a copy of the cached callable's stats


def _np_out(args: tuple, argnums: tuple[int, ...]):
    """``(value, grads) -> (float, [ndarray])`` for a system whose gradient has one entry per
    differentiated argument, with that argument's structure: flattened leaf by leaf (a
    gradient of another structure raises)."""
    def to_numpy(r) -> tuple[float, list[np.ndarray]]:
        value, grads = r
        if len(grads) != len(argnums):
            raise ValueError(f"{len(grads)} gradients for argnums {argnums}")
        flat = []
        for i, g in zip(argnums, grads, strict=True):
            for (_, x), gl in zip(tree_leaves(args[i]), grad_leaves(args[i], g, f"argument {i}"),
                                  strict=True):
                flat.append(np.zeros(np.shape(x)) if gl is None
                            else np.asarray(gl, dtype=np.float64))
        return _scalar(value), flat

    return to_numpy


def _copy_args(args):
    """Fresh containers, arrays copied (the legacy programs may write into their inputs)."""
    return tuple(tree_map(_copy_leaf, a) for a in args)


def adapter(system: str, mod, args: tuple, static: dict) -> Adapter:
    """Build system ``system``'s callables for workload ``mod`` (imports happen here)."""
    argnums = tuple(mod.ARGNUMS)
    if system in ("numpy", "framead", "framead.cached"):
        f = functools.partial(mod.primal, **static)
        args = _copy_args(args)
        if system == "numpy":
            return Adapter(vg=None, primal=lambda: f(*args), to_numpy=None)
        import framead

        if system == "framead.cached":   # one cached callable per process
            vg = framead.value_and_grad(f, argnums=argnums, cache=True)
            return Adapter(vg=lambda: vg(*args), primal=lambda: f(*args),
                           to_numpy=_np_out(args, argnums),
                           cache_stats=lambda: copy.deepcopy(dict(vg.stats)))
        vg = framead.value_and_grad(f, argnums=argnums)
        return Adapter(vg=lambda: vg(*args), primal=lambda: f(*args),
                       to_numpy=_np_out(args, argnums))
    if system == "autograd":
        import autograd

        f = functools.partial(mod.make_autograd(), **static)
        vg = autograd.value_and_grad(f, argnum=argnums)
        args = _copy_args(args)
        return Adapter(vg=lambda: vg(*args), primal=lambda: f(*args),
                       to_numpy=_np_out(args, argnums))
    if system in ("jax", "jax.jit"):
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        jit = system == "jax.jit"
        f = functools.partial(mod.make_jax(jit), **static)
        vg = jax.value_and_grad(f, argnums=argnums)
        prim = f
        if jit:
            vg, prim = jax.jit(vg), jax.jit(f)
        jargs = tuple(tree_map(lambda a: jnp.asarray(a) if isinstance(a, np.ndarray) else a, x)
                      for x in args)

        def primal():
            return jax.block_until_ready(prim(*jargs))

        return Adapter(vg=lambda: vg(*jargs), primal=primal, to_numpy=_np_out(args, argnums),
                       block=jax.block_until_ready, tracemalloc_ok=False,
                       info={"jax_backend": jax.default_backend()})
    if system == "torch":
        import torch

        f = functools.partial(mod.make_torch(), **static)

        def conv(a, diff, grad):
            if isinstance(a, np.ndarray):
                t = torch.from_numpy(a.copy())
            elif diff:   # a differentiated Python float becomes a 0-d tensor
                t = torch.tensor(a, dtype=torch.float64)
            else:
                return a
            return t.requires_grad_(True) if grad and diff else t

        # a container argument (a tuple of weights) becomes the same container of tensors;
        # every differentiated leaf requires grad and its .grad is collected
        targs = tuple(tree_map(lambda a, d=i in argnums: conv(a, d, True), x)
                      for i, x in enumerate(args))
        pargs = tuple(tree_map(lambda a, d=i in argnums: conv(a, d, False), x)
                      for i, x in enumerate(args))
        leaves = [t for i in argnums for _, t in tree_leaves(targs[i])]

        def vg():
            for t in leaves:
                t.grad = None
            out = f(*targs)
            out.backward()
            return out.detach(), tuple(t.grad for t in leaves)

        def primal():
            with torch.no_grad():
                return f(*pargs)

        def to_numpy(r):
            value, grads = r
            return float(value), [np.zeros(np.shape(leaves[k].detach().numpy()))
                                  if g is None else g.detach().numpy().astype(np.float64)
                                  for k, g in enumerate(grads)]

        return Adapter(vg=vg, primal=primal, to_numpy=to_numpy, tracemalloc_ok=False,
                       info={"torch_threads": torch.get_num_threads()})
    raise ValueError(f"unknown system {system!r}")


def system_available(system: str) -> tuple[bool, str]:
    """Whether ``system``'s package can be imported (without importing it)."""
    import importlib.util

    pkg = {"numpy": "numpy", "framead": "framead", "framead.cached": "framead",
           "autograd": "autograd", "jax": "jax", "jax.jit": "jax", "torch": "torch"}[system]
    if importlib.util.find_spec(pkg) is None:
        return False, f"{pkg} is not installed"
    return True, ""


# --------------------------------------------------------------------------------------------
# timing and memory
# --------------------------------------------------------------------------------------------


def timed(fn, block) -> tuple[float, Any]:
    t0 = time.perf_counter()
    r = block(fn())
    return time.perf_counter() - t0, r


def repeat(fn, block, budget_s: float, max_reps: int) -> list[float]:
    """Warm timings until ``budget_s`` would be exceeded (at least one, at most max_reps)."""
    times: list[float] = []
    spent = 0.0
    while len(times) < max_reps:
        gc.collect()
        t, r = timed(fn, block)
        del r
        times.append(t)
        spent += t
        if spent + float(np.median(times)) > budget_s:
            break
    return times


def _proc_status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _malloc_trim() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def rss_baseline() -> int | None:
    """Resident set (bytes) after ``gc.collect()`` and ``malloc_trim(0)``."""
    gc.collect()
    _malloc_trim()
    kb = _proc_status_kb("VmRSS")
    return None if kb is None else kb * 1024


def peak_rss_and_time(fn, block, base: int | None) -> tuple[int | None, float, Any]:
    """One timed call, and the peak of the resident set during it minus ``base`` (bytes)."""
    _malloc_trim()
    reset = _reset_hwm()
    t, r = timed(fn, block)
    hwm = _proc_status_kb("VmHWM")
    if not reset or base is None or hwm is None:
        return None, t, r
    return max(0, hwm * 1024 - base), t, r


def tracemalloc_peak_and_held(fn, block) -> tuple[int, int]:
    """Peak of the allocations a call makes, and how much of them is still held after it
    returned and its result was dropped (``gc.collect()`` run)."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        r = block(fn())
        peak = tracemalloc.get_traced_memory()[1]
        del r
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return peak - base, max(0, held - base)


# --------------------------------------------------------------------------------------------
# one system on one workload (runs in its own process)
# --------------------------------------------------------------------------------------------


def _reason(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" at {os.path.basename(tb[-1].filename)}:{tb[-1].lineno}" if tb else ""
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0] if msg else ''}{where}"


def run_system(mod, system: str, size: dict, spec: CheckSpec | None, budget_s: float,
               max_reps: int = 40, profile: bool = True, grad_path: str | None = None,
               slow_s: float | None = None, cap_s: float = math.inf,
               profile_size: dict | None = None, checkpoint=None) -> dict:
    """First call, check, timings and memory of ``system`` on workload ``mod``.

    A call slower than ``slow_s`` (default ``budget_s``) gets one warm repeat and no
    tracemalloc run; after a first call slower than ``cap_s`` nothing more is run. framead's
    cProfile runs at ``profile_size`` instead when its calls are slow. ``checkpoint(res)``
    is called with the partial result after each stage (so a killed run leaves something).

    A system with cache statistics (framead.cached) also gets a second call before the warm
    ones (the first cache hit, which builds the replay): timed as ``second_s``,
    its gradient checked and saved instead of the first call's. ``res["cache"]`` says
    whether it was a hit, how many of the timed warm calls were hits, and the final stats.
    """
    checkpoint = checkpoint or (lambda r: None)
    slow_s = budget_s if slow_s is None else slow_s
    res: dict = {"system": system, "status": "ok", "notes": []}
    args, static = mod.inputs(**size)
    try:
        ad = adapter(system, mod, args, static)
    except Exception as exc:   # a port that cannot even be built
        return {**res, "status": "FAILED", "reason": _reason(exc),
                "traceback": traceback.format_exc()}
    res["info"] = ad.info
    base = rss_baseline()   # before the first call: inputs built, package imported
    if system == "numpy":
        t_first, _ = timed(ad.primal, ad.block)
        res["first_s"] = t_first
        res["primal_times"] = repeat(ad.primal, ad.block, budget_s, max_reps)
        res["peak_rss"] = peak_rss_and_time(ad.primal, ad.block, base)[0]
        res["peak_tracemalloc"], res["held_tracemalloc"] = tracemalloc_peak_and_held(
            ad.primal, ad.block)
        return res
    # 1. the first call (fresh process), then the gradient check
    try:
        first_rss, t_first, out = peak_rss_and_time(ad.vg, ad.block, base)
        value, grads = ad.to_numpy(out)
        del out
    except Exception as exc:
        return {**res, "status": "FAILED", "reason": _reason(exc),
                "traceback": traceback.format_exc()}
    res["first_s"] = t_first
    res["first_rss"] = first_rss
    if grad_path:
        np.savez(grad_path, *grads)
    if spec is not None:
        ok, report = check_gradient(spec, value, grads)
        res["check"] = report
        if not ok:
            return {**res, "status": "FAILED", "reason": "gradient check: " + report}
    checkpoint(res)
    capped = t_first > cap_s
    if capped:
        res["notes"].append(f"the first call took {t_first:.1f} s > {cap_s:g} s, so only it "
                            "was run: its time and memory (which include compilation and "
                            "caches) stand in for the warm ones")
        res["first_only"] = True
        res["peak_rss"] = first_rss
    if ad.cache_stats is not None:
        res["cache"] = {"second_hit": False, "timed_calls": 0, "timed_hits": 0}
        if not capped:
            failed = _second_call(ad, res, spec, grad_path)
            if failed:
                return failed
        checkpoint(res)
    slow = capped
    # 2. warm timings (gradient, then the system's own primal); the first warm gradient
    #    call also measures the resident-set growth
    try:
        if not capped:
            before = ad.cache_stats() if ad.cache_stats is not None else None
            gc.collect()
            rss, t, r = peak_rss_and_time(ad.vg, ad.block, base)
            del r
            res["peak_rss"] = rss
            times = [t]
            slow = t > slow_s
            if not slow:
                times += repeat(ad.vg, ad.block, budget_s - t, max_reps - 1)
            else:
                res["notes"].append(f"slow calls ({t:.1f} s): one warm repeat, no tracemalloc")
            res["grad_times"] = times
            if before is not None:
                after = ad.cache_stats()
                res["cache"].update(
                    timed_calls=len(times), timed_hits=after["hits"] - before["hits"],
                    timed_captures=after["captures"] - before["captures"],
                    timed_misses=after["misses"] - before["misses"])
            checkpoint(res)
        timed(ad.primal, ad.block)   # warm the primal (compiles jit(primal), JAX's op cache)
        res["primal_times"] = repeat(ad.primal, ad.block, budget_s / 3, max_reps)
        # 3. Python-traced memory of another warm call
        if ad.tracemalloc_ok and not slow:
            res["peak_tracemalloc"], res["held_tracemalloc"] = tracemalloc_peak_and_held(
                ad.vg, ad.block)
    except Exception as exc:
        return {**res, "status": "FAILED", "reason": "after a passing first call: "
                + _reason(exc), "traceback": traceback.format_exc()}
    if ad.cache_stats is not None:
        res["cache"]["stats"] = _short_stats(ad.cache_stats())
    if system == "framead" and not capped:
        res["framead"] = framead_breakdown(mod, size, budget_s, profile,
                                           profile_size if slow else None)
    return res


def _second_call(ad: Adapter, res: dict, spec: CheckSpec | None,
                 grad_path: str | None) -> dict | None:
    """framead.cached's second call: the first cache hit (it builds the replay).
    Timed, its gradient checked (and saved for the agreement column); a failed result or
    None."""
    before = ad.cache_stats()
    try:
        gc.collect()
        t2, out = timed(ad.vg, ad.block)
        value, grads = ad.to_numpy(out)
        del out
    except Exception as exc:
        return {**res, "status": "FAILED", "reason": "second call (the first cache hit): "
                + _reason(exc), "traceback": traceback.format_exc()}
    after = ad.cache_stats()
    hit = after["hits"] > before["hits"]
    res["second_s"] = t2
    res["cache"]["second_hit"] = hit
    if not hit:
        why = "; ".join(after["reasons"][:1]) or f"{after['misses']} guard misses"
        res["notes"].append(f"the second call was not a cache hit ({why})")
    if grad_path:
        np.savez(grad_path, *grads)
    if spec is not None:
        ok, report = check_gradient(spec, value, grads)
        kind = "a cache hit" if hit else "not a cache hit"
        res["check"] = f"first call {res['check']}; second call ({kind}) {report}"
        if not ok:
            return {**res, "status": "FAILED",
                    "reason": f"gradient check of the second call ({kind}): " + report}
    return None


def _short_stats(stats: dict, keep: int = 5) -> dict:
    """The cached callable's stats, with at most ``keep`` distinct reasons."""
    out = {k: v for k, v in stats.items() if k != "reasons"}
    reasons = list(dict.fromkeys(str(r) for r in stats.get("reasons", [])))
    out["reasons"] = reasons[:keep]
    if len(reasons) > keep:
        out["reasons_left_out"] = len(reasons) - keep
    return out


def framead_breakdown(mod, size: dict, budget_s: float, profile: bool,
                      profile_size: dict | None) -> dict:
    """Record-only time, node count and (optionally) the top of a cProfile of one call."""
    import framead

    args, static = mod.inputs(**size)
    f = functools.partial(mod.primal, **static)
    argnums = tuple(mod.ARGNUMS)
    t, tr = timed(lambda: framead.trace(f, *args, argnums=argnums), lambda r: r)
    out = {"nodes": len(tr.nodes), "stats": {k: v for k, v in tr.stats.items()
                                             if isinstance(v, int | float)}}
    del tr
    out["trace_times"] = [t]
    if t < budget_s / 6:
        out["trace_times"] += repeat(lambda: framead.trace(f, *args, argnums=argnums),
                                     lambda r: r, budget_s / 3 - t, 14)
    if profile:
        import cProfile
        import pstats

        if profile_size is not None:
            args, static = mod.inputs(**profile_size)
            f = functools.partial(mod.primal, **static)
            out["profile_size"] = profile_size
        vg = framead.value_and_grad(f, argnums=argnums)
        vg(*args)
        prof = cProfile.Profile()
        prof.enable()
        vg(*args)
        prof.disable()
        st = pstats.Stats(prof)
        rows = []
        for (file, line, name), (_cc, nc, tt, ct, _callers) in st.stats.items():
            rows.append((tt, ct, nc, f"{_short_path(file)}:{line}({name})"))
        rows.sort(reverse=True)
        out["profile_total_s"] = st.total_tt
        out["profile"] = [{"tottime": r[0], "cumtime": r[1], "ncalls": r[2], "where": r[3]}
                          for r in rows[:8]]
    return out


def _short_path(file: str) -> str:
    parts = file.replace("\\", "/").split("/")
    for anchor in ("framead", "capture", "rules", "benchmarks", "numpy", "site-packages"):
        if anchor in parts[:-1]:
            k = len(parts) - 1 - parts[::-1].index(anchor)
            return "/".join(parts[k:])
    return parts[-1]
