"""Per-example gradients of a legacy loss over a batch: framead.vmap against the Python loop.

Run: ``.venv/bin/python benchmarks/vmap_bench.py [--quick] [--examples N] [--dim D]``.

The loss is legacy NumPy code (a Python loop writing into an array, a branch on a value);
every variant computes the gradient with respect to the shared weights for each example:

* loop: ``[framead.grad(f)(w, X[b], Y[b]) for b]``, stacked;
* ``vmap(grad(f))``: the same through framead.vmap;
* ``vmap(grad(f, cache=True))``: the per-example ``x, y`` are not differentiated, so the
  cache keys on their values and every example is captured again (its overhead shows);
* ``vmap(jit(grad(f)))``: every float/array argument is an input of the cached trace, so the
  first example records it and the others replay it (a fresh jit per timed call, and a warm
  one that already holds the trace);
* ``jax.vmap(jax.grad(f_jax))`` (eager, and under ``jax.jit`` after compiling) when JAX is
  importable, on a functional port of the loss (``jnp.where`` for the branch).

Each variant is timed ``--repeats`` times (one call over the whole batch each); the table gives
the median in ms, its ratio to the loop's median, and min/max as the noise. Every variant's
result is compared with the loop's. A second table times the loss's value alone (the loop
against ``vmap(f)``): vmap's own cost per call. A third table times vmap's one pass (the
trace recorded on the first example, run batched) on ``smooth_loss``, which it takes.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import framead


def legacy_loss(w: np.ndarray, x: np.ndarray, y: float) -> float:
    """Legacy per-example loss: a loop of in-place writes, a Huber branch on the residual."""
    z = np.zeros(len(x))
    for i in range(len(x)):
        z[i] = w[i] * x[i]
    p = 0.0
    for i in range(len(z)):
        p += np.tanh(z[i])
    r = p - y
    if abs(r) > 1.0:
        return float(2.0 * abs(r) - 1.0)
    return float(r * r)


def smooth_loss(w: np.ndarray, x: np.ndarray, y: float) -> float:
    """A legacy per-example loss the one pass takes: elementwise operations and reductions."""
    z = np.tanh(w * x)
    r = np.sum(z) - y
    return float(r * r + 0.01 * np.sum(w * w))


def fast_variants(w: np.ndarray, X: np.ndarray, Y: np.ndarray
                  ) -> tuple[dict[str, Callable], dict[str, Callable]]:
    """Per-example gradients of ``smooth_loss``: the loop against vmap's one pass (a warm
    vmap keeps the trace; a fresh one records it on the first example each call)."""
    g = framead.grad(smooth_loss)
    axes = (None, 0, 0)
    warm = framead.vmap(framead.jit(framead.grad(smooth_loss)), in_axes=axes)
    warm_value = framead.vmap(framead.jit(smooth_loss), in_axes=axes)
    loop_warm = framead.vmap(framead.jit(framead.grad(smooth_loss)), in_axes=axes, fast=False)
    fast_plain = framead.vmap(g, in_axes=axes, fast=True)
    return {
        "loop of grad(f)": lambda: np.stack([g(w, X[b].copy(), Y[b]) for b in range(len(X))]),
        "vmap(grad(f)) loop": lambda: framead.vmap(g, in_axes=axes, fast=False)(w, X, Y),
        "vmap(jit(grad(f))) loop warm": lambda: loop_warm(w, X, Y),
        "vmap(jit(grad(f))) 1-pass fresh": lambda: framead.vmap(
            framead.jit(framead.grad(smooth_loss)), in_axes=axes)(w, X, Y),
        "vmap(jit(grad(f))) 1-pass warm": lambda: warm(w, X, Y),
        "vmap(grad(f), fast=True) warm": lambda: fast_plain(w, X, Y),
    }, {
        "(value) loop of f": lambda: np.array([smooth_loss(w, X[b].copy(), Y[b])
                                               for b in range(len(X))]),
        "(value) vmap(jit(f)) 1-pass warm": lambda: warm_value(w, X, Y),
    }


def _jax_variants(w: np.ndarray, X: np.ndarray, Y: np.ndarray) -> dict[str, Callable]:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return {}
    jax.config.update("jax_enable_x64", True)

    def f_jax(w: Any, x: Any, y: Any) -> Any:
        r = jnp.sum(jnp.tanh(w * x)) - y
        return jnp.where(jnp.abs(r) > 1.0, 2.0 * jnp.abs(r) - 1.0, r * r)

    eager = jax.vmap(jax.grad(f_jax), in_axes=(None, 0, 0))
    jitted = jax.jit(eager)
    jitted(w, X, Y).block_until_ready()  # compile outside the timing
    return {"jax.vmap(jax.grad) eager": lambda: np.asarray(eager(w, X, Y)),
            "jax.jit(jax.vmap(jax.grad))": lambda: np.asarray(jitted(w, X, Y))}


def variants(w: np.ndarray, X: np.ndarray, Y: np.ndarray) -> dict[str, Callable]:
    g = framead.grad(legacy_loss)
    warm = framead.jit(framead.grad(legacy_loss))
    axes = (None, 0, 0)
    out: dict[str, Callable] = {
        "loop of grad(f)": lambda: np.stack([g(w, X[b].copy(), Y[b]) for b in range(len(X))]),
        "vmap(grad(f))": lambda: framead.vmap(g, in_axes=axes)(w, X, Y),
        "vmap(grad(f, cache=True))": lambda: framead.vmap(
            framead.grad(legacy_loss, cache=True), in_axes=axes)(w, X, Y),
        "vmap(jit(grad(f))) fresh": lambda: framead.vmap(
            framead.jit(framead.grad(legacy_loss)), in_axes=axes)(w, X, Y),
        "vmap(jit(grad(f))) warm": lambda: framead.vmap(warm, in_axes=axes)(w, X, Y),
    }
    out.update(_jax_variants(w, X, Y))
    return out


def overhead_variants(w: np.ndarray, X: np.ndarray, Y: np.ndarray) -> dict[str, Callable]:
    """The loss's value only: what vmap itself costs over the loop."""
    v = framead.vmap(legacy_loss, in_axes=(None, 0, 0))
    return {"loop of f (value only)": lambda: np.array(
                [legacy_loss(w.copy(), X[b].copy(), Y[b]) for b in range(len(X))]),
            "vmap(f) (value only)": lambda: v(w, X, Y)}


def time_it(fn: Callable, repeats: int) -> tuple[list[float], Any]:
    result = fn()  # warm-up (imports, rule tables, the warm cache's first trace)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats (3)")
    ap.add_argument("--examples", type=int, default=64)
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=None)
    opts = ap.parse_args()
    repeats = opts.repeats or (3 if opts.quick else 9)
    rng = np.random.default_rng(0)
    w = rng.normal(size=opts.dim)
    X = rng.normal(size=(opts.examples, opts.dim))
    Y = rng.normal(scale=2.0, size=opts.examples)  # both sides of the Huber branch

    print(f"per-example gradients of a legacy loss: {opts.examples} examples, dim {opts.dim}, "
          f"median of {repeats} calls")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table(variants(w, X, Y), repeats)
        print()
        table(overhead_variants(w, X, Y), repeats)
        print("\none pass (framead/batching_trace.py) on a loss it takes:")
        grads, values = fast_variants(w, X, Y)
        table(grads, repeats)
        print()
        table(values, repeats)


def table(fns: dict[str, Callable], repeats: int) -> None:
    """Times each variant; ratios and matches are relative to the first."""
    print(f"{'variant':32} {'median ms':>10} {'ratio':>7} {'min ms':>9} {'max ms':>9}  match")
    reference = base = None
    for name, fn in fns.items():
        times, result = time_it(fn, repeats)
        med = statistics.median(times)
        if reference is None:
            reference, base = result, med
        match = np.allclose(result, reference, rtol=1e-10, atol=1e-12)
        print(f"{name:32} {med:10.3f} {med / base:7.2f} {min(times):9.3f} "
              f"{max(times):9.3f}  {'yes' if match else 'NO'}")


if __name__ == "__main__":
    main()
