"""Smoke test of the benchmark suite: every workload's ports, at tiny sizes.

Each system's value and gradient must match float64 central finite differences of the legacy
NumPy primal (the same check ``benchmarks/run.py`` applies before timing), so a broken port
fails here rather than in a benchmark run. A system whose package is absent is skipped.
"""

from __future__ import annotations

import math
import os
import sys
from types import SimpleNamespace

import numpy as np
import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)

import harness  # noqa: E402
import run as bench_run  # noqa: E402
import workloads  # noqa: E402
from conftest import FAKE  # noqa: E402

SYSTEMS = ("framead", "autograd", "torch", "jax", "jax.jit")
_SPECS: dict[str, harness.CheckSpec] = {}


def _spec(name: str) -> harness.CheckSpec:
    if name not in _SPECS:
        mod = workloads.load(name)
        _SPECS[name] = harness.make_check(mod, mod.SIZES["tiny"])
    return _SPECS[name]


def _need(system: str) -> None:
    if system == "framead" and FAKE:
        pytest.skip("FRAMEAD_TEST_ENGINE=fake: the suite runs without framead")
    ok, why = harness.system_available(system)
    if not ok:
        pytest.skip(why)


@pytest.fixture(scope="module", autouse=True)
def _restore_jax_x64():
    """The JAX adapter turns on float64; put JAX's setting back for the rest of the suite."""
    before = None
    if "jax" in sys.modules:
        before = sys.modules["jax"].config.jax_enable_x64
    yield
    if "jax" in sys.modules:
        sys.modules["jax"].config.update("jax_enable_x64", bool(before))


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize("name", workloads.WORKLOADS)
def test_port_gradient_matches_finite_differences(system, name):
    _need(system)
    mod = workloads.load(name)
    args, static = mod.inputs(**mod.SIZES["tiny"])
    spec = _spec(name)
    ad = harness.adapter(system, mod, args, static)
    value, grads = ad.to_numpy(ad.block(ad.vg()))
    ok, report = harness.check_gradient(spec, value, grads)
    assert ok, f"{system} on {name}: {report}"
    if system.startswith("jax"):
        return   # JAX compiles every new call signature: keep its part of the test short
    # the system's own primal computes the same value
    primal = ad.block(ad.primal())
    p = float(primal.item() if hasattr(primal, "item") else primal)
    assert math.isclose(p, spec.value, rel_tol=1e-9, abs_tol=1e-12)
    # a second call gives the same gradient (no state leaks between calls)
    _, grads2 = ad.to_numpy(ad.block(ad.vg()))
    for g1, g2 in zip(grads, grads2, strict=True):
        np.testing.assert_allclose(g2, g1, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", workloads.WORKLOADS)
def test_legacy_primal_leaves_inputs_alone_and_sizes_are_consistent(name):
    mod = workloads.load(name)
    assert set(mod.SIZES) == {"full", "quick", "tiny"}
    assert mod.KIND in ("scalar", "array")
    args, static = mod.inputs(**mod.SIZES["tiny"])
    before = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    mod.primal(*args, **static)
    for a, b in zip(args, before, strict=True):
        if isinstance(a, np.ndarray):
            assert np.array_equal(a, b)
        else:
            assert a == b


def test_check_rejects_a_wrong_gradient():
    spec = _spec("mlp")
    mod = workloads.load("mlp")
    args, static = mod.inputs(**mod.SIZES["tiny"])
    ad = harness.adapter("numpy", mod, args, static)
    assert ad.vg is None
    # zero gradients, or the right shapes with a wrong value, must fail
    shapes = [np.shape(args[i]) for i in mod.ARGNUMS]
    ok, report = harness.check_gradient(spec, spec.value, [np.zeros(s) for s in shapes])
    assert not ok and "finite differences" in report
    ok, report = harness.check_gradient(spec, spec.value + 1e-3, [np.zeros(s) for s in shapes])
    assert not ok and "differs from the legacy primal" in report


def test_check_rejects_one_wrong_entry():
    _need("autograd")
    mod = workloads.load("heat1d")
    args, static = mod.inputs(**mod.SIZES["tiny"])
    ad = harness.adapter("autograd", mod, args, static)
    value, grads = ad.to_numpy(ad.vg())
    spec = _spec("heat1d")
    assert harness.check_gradient(spec, value, grads)[0]
    bad = grads[0].copy()
    bad[3] += 1e-4 * np.abs(bad).max()
    assert not harness.check_gradient(spec, value, [bad])[0]


def test_run_system_and_report_render():
    """The timing, memory and report code paths on one cheap system."""
    _need("autograd")
    mod = workloads.load("gp_nll")
    size = mod.SIZES["tiny"]
    spec = _spec("gp_nll")
    res = {s: harness.run_system(mod, s, size, spec, budget_s=0.05, max_reps=2)
           for s in ("numpy", "autograd")}
    for r in res.values():
        r["wall_s"] = 0.0
        assert r["status"] == "ok", r
    assert res["autograd"]["grad_times"] and res["autograd"]["primal_times"]
    w = {"name": mod.NAME, "kind": mod.KIND, "description": mod.DESCRIPTION,
         "port_notes": mod.PORT_NOTES, "size": size, "check_s": 0.0, "systems": res}
    info = bench_run.machine_info(1)
    info.update(total_s=1.0, loadavg_end="0 0 0")
    a = SimpleNamespace(quick=True, budget=0.05, max_reps=2, slow=0.05, cap=1.0, timeout=1.0)
    text = bench_run.render([w], info, a)
    assert "### gp_nll" in text and "| autograd | ok |" in text
