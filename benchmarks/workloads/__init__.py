"""The benchmark workloads, one module each.

Every module defines the same names:

* ``NAME``, ``KIND`` (``"scalar"``: many small Python-level operations; ``"array"``: the work
  is in NumPy kernels), ``DESCRIPTION`` and ``PORT_NOTES`` (how the ports differ in spelling
  from the legacy primal);
* ``SIZES``: keyword arguments of ``inputs`` for the ``"full"`` benchmark, the ``"quick"``
  smoke run and the ``"tiny"`` size the test suite uses;
* ``ARGNUMS``: the positional arguments differentiated (a tuple);
* ``inputs(**size) -> (args, static)``: deterministic example inputs; ``args`` are NumPy
  arrays, Python floats or containers of them (tuples, lists, dicts, named tuples,
  dataclasses: a differentiated container is differentiated leaf by leaf and its gradient has
  its structure, as in JAX), ``static`` are keyword arguments (sizes, step counts);
* ``primal(*args, **static)``: the unmodified plain-NumPy legacy program (what framead gets);
* ``make_autograd()``, ``make_jax(jit)``, ``make_torch()``: the idiomatic ports, built on
  demand so that a missing package only disables its own system. Each port computes the same
  function as ``primal`` with the same algorithm (same loops, same operations); it differs
  only where the package's array API forces it (no in-place writes in autograd and JAX).
  ``make_jax(jit=True)`` may replace Python time-stepping loops by ``lax.fori_loop`` so that
  XLA does not compile an unrolled loop of thousands of steps.
"""

from __future__ import annotations

import importlib
from types import ModuleType

WORKLOADS = ("rosen_loop", "lorenz_rk4", "heat1d", "mlp", "gp_nll", "nbody")


def load(name: str) -> ModuleType:
    if name not in WORKLOADS:
        raise ValueError(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
    return importlib.import_module(f"{__name__}.{name}")
