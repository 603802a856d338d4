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

SYSTEMS = ("framead", "framead.cached", "autograd", "torch", "jax", "jax.jit")
_SPECS: dict[str, harness.CheckSpec] = {}


def _spec(name: str) -> harness.CheckSpec:
    if name not in _SPECS:
        mod = workloads.load(name)
        _SPECS[name] = harness.make_check(mod, mod.SIZES["tiny"])
    return _SPECS[name]


def _need(system: str) -> None:
    if system.startswith("framead") and FAKE:
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
    before = harness._copy_args(args)   # containers rebuilt, arrays copied
    mod.primal(*args, **static)
    for a, b in zip(args, before, strict=True):
        leaves_a, leaves_b = harness.tree_leaves(a), harness.tree_leaves(b)
        assert [p for p, _ in leaves_a] == [p for p, _ in leaves_b]
        for (_, x), (_, y) in zip(leaves_a, leaves_b, strict=True):
            if isinstance(x, np.ndarray):
                assert np.array_equal(x, y)
            else:
                assert x == y


def test_check_rejects_a_wrong_gradient():
    spec = _spec("mlp")
    mod = workloads.load("mlp")
    args, static = mod.inputs(**mod.SIZES["tiny"])
    ad = harness.adapter("numpy", mod, args, static)
    assert ad.vg is None
    # zero gradients, or the right shapes with a wrong value, must fail
    shapes = [np.shape(x) for _, x in harness.diff_leaves(args, mod.ARGNUMS)]
    assert len(shapes) == 4   # the params tuple (W1, b1, W2, b2), checked leaf by leaf
    ok, report = harness.check_gradient(spec, spec.value, [np.zeros(s) for s in shapes])
    assert not ok and "finite differences" in report
    ok, report = harness.check_gradient(spec, spec.value + 1e-3, [np.zeros(s) for s in shapes])
    assert not ok and "differs from the legacy primal" in report


def test_container_arguments_checked_leaf_by_leaf():
    """A differentiated tuple (mlp's weights, lorenz_rk4's parameters): one direction set per
    leaf, a wrong entry in one leaf is named by its path, and a gradient without the
    argument's structure is refused."""
    _need("autograd")
    spec = _spec("mlp")
    assert spec.argnums == (0,)
    assert spec.labels == [f"argument 0[{k}]" for k in range(4)]
    assert _spec("lorenz_rk4").labels == ["argument 0[0]", "argument 0[1]", "argument 0[2]"]
    mod = workloads.load("mlp")
    args, static = mod.inputs(**mod.SIZES["tiny"])
    ad = harness.adapter("autograd", mod, args, static)
    native = ad.vg()
    value, grads = ad.to_numpy(native)
    assert [g.shape for g in grads] == [np.shape(w) for w in args[0]]
    assert harness.check_gradient(spec, value, grads)[0]
    bad = [g.copy() for g in grads]
    bad[1][0] += 1e-3 * np.abs(bad[1]).max()
    ok, report = harness.check_gradient(spec, value, bad)
    assert not ok and "argument 0[1]" in report and "argument 0[0]" not in report
    with pytest.raises(ValueError, match="structure"):
        ad.to_numpy((native[0], (list(native[1][0]),)))      # a list for the tuple
    with pytest.raises(ValueError, match="structure"):
        ad.to_numpy((native[0], (native[1][0][:3],)))        # a leaf missing
    # the tree helpers: dicts matched by key (JAX sorts them), fresh containers
    tree = {"w": np.ones(2), "b": (1.0, [2.0])}
    assert [p for p, _ in harness.tree_leaves(tree)] == ["['w']", "['b'][0]", "['b'][1][0]"]
    g = {"b": (3.0, [4.0]), "w": np.zeros(2)}
    assert [np.shape(x) for x in harness.grad_leaves(tree, g, "x")] == [(2,), (), ()]
    copied = harness._copy_args((tree,))[0]
    assert copied["b"] is not tree["b"] and copied["w"] is not tree["w"]
    shifted = harness._shifted((tree,), 0, 0.5, 2.0, leaf=1)[0]
    assert shifted["b"] == (2.0, [2.0]) and tree["b"] == (1.0, [2.0])


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


@pytest.mark.parametrize("name", workloads.WORKLOADS)
def test_cached_framead_hits_and_matches_uncached(name):
    """framead.cached: the second call is a cache hit, and its gradient (and the first
    call's) equals uncached framead's and passes the finite-difference check."""
    _need("framead.cached")
    mod = workloads.load(name)
    args, static = mod.inputs(**mod.SIZES["tiny"])
    spec = _spec(name)
    ref = harness.adapter("framead", mod, args, static)
    ad = harness.adapter("framead.cached", mod, args, static)
    assert ad.cache_stats is not None and ad.cache_stats()["hits"] == 0
    v0, g0 = ref.to_numpy(ref.vg())
    v1, g1 = ad.to_numpy(ad.vg())
    st = ad.cache_stats()
    assert st["captures"] == 1 and st["hits"] == 0, st
    v2, g2 = ad.to_numpy(ad.vg())
    st = ad.cache_stats()
    assert st["hits"] > 0 and st["captures"] == 1, st
    for v, g in ((v1, g1), (v2, g2)):
        ok, report = harness.check_gradient(spec, v, g)
        assert ok, f"framead.cached on {name}: {report}"
        assert math.isclose(v, v0, rel_tol=1e-12, abs_tol=1e-300)
        for a, b in zip(g, g0, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14 * float(np.max(np.abs(b))))


def test_run_system_cached_reports_hits():
    """run_system on framead.cached: second call checked, timed calls counted as hits, and
    the report's targets table covers both framead systems."""
    _need("framead.cached")
    mod = workloads.load("rosen_loop")
    size = mod.SIZES["tiny"]
    spec = _spec("rosen_loop")
    res = {s: harness.run_system(mod, s, size, spec, budget_s=0.05, max_reps=3, profile=False)
           for s in ("numpy", "framead", "framead.cached")}
    for r in res.values():
        r["wall_s"] = 0.0
        assert r["status"] == "ok", r
    c = res["framead.cached"]["cache"]
    assert c["second_hit"] and res["framead.cached"]["second_s"] > 0
    assert c["timed_calls"] == len(res["framead.cached"]["grad_times"]) >= 1
    assert c["timed_hits"] == c["timed_calls"] and c["timed_captures"] == 0
    assert c["stats"]["captures"] == 1 and c["stats"]["hits"] >= c["timed_hits"] + 1
    assert "second call (a cache hit) ok" in res["framead.cached"]["check"]
    assert bench_run.not_cached(res["framead.cached"]) == ""
    w = {"name": mod.NAME, "kind": mod.KIND, "description": mod.DESCRIPTION,
         "port_notes": mod.PORT_NOTES, "size": size, "check_s": 0.0, "systems": res}
    rows = bench_run.targets(w)
    assert [t["target"].split()[0] for t in rows] == ["framead"] * 2 + ["framead.cached"] * 3
    # no PyTorch in this result: its comparisons are not measurable, the cache's own are
    assert all(t["met"] is None for t in rows if "PyTorch" in t["target"])
    second = [t for t in rows if "second call" in t["target"]]
    assert second and second[0]["met"] is not None and "ratio" in second[0]
    info = bench_run.machine_info(1)
    info.update(total_s=1.0, loadavg_end="0 0 0")
    a = SimpleNamespace(quick=True, budget=0.05, max_reps=3, slow=0.05, cap=1.0, timeout=1.0)
    text = bench_run.render([w], info, a)
    assert "| framead.cached | ok |" in text and "timed warm calls were cache hits" in text
    assert "not cached:" not in text
    # a cached system whose timed calls were not hits is flagged, and misses its targets
    bad = dict(res["framead.cached"], cache=dict(c, timed_hits=0, stats=dict(
        c["stats"], reasons=["FA201 at x.py:3"])))
    assert bench_run.not_cached(bad).startswith("not cached: 0 of")
    assert "FA201 at x.py:3" in bench_run.not_cached(bad)
    res_bad = dict(res, **{"framead.cached": bad}, torch=dict(res["framead"], system="torch"))
    rows = bench_run.targets(dict(w, systems=res_bad))
    cached_torch = [t for t in rows if t["target"].startswith("framead.cached")
                    and "PyTorch" in t["target"]]
    assert cached_torch and cached_torch[0]["met"] is False
    assert "not cached" in cached_torch[0]["measured"]
