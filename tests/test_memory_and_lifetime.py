"""Memory and cost under capture: no growth per call, nothing of a capture outlives it, and
recording is linear in the length of a function.

FRAMEAD_STRESS=1 runs the growth test over 10^5 calls (minutes) instead of a few thousand.
"""

from __future__ import annotations

import contextlib
import gc
import linecache
import os
import statistics
import sys
import time
import traceback
import warnings
import weakref

import numpy as np
import pytest
from framead.capture import sourceloc
from framead.capture.recorder import Recorder

import framead
from framead import rules

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)

import memory_growth  # noqa: E402
from conftest import load_source_module  # noqa: E402

STRESS = os.environ.get("FRAMEAD_STRESS", "") not in ("", "0")


# --- (a, b) no growth per uncached call ----------------------------------------------------------

def small(x):
    y = np.sin(x) * x
    return float(np.sum(y * y))


def test_uncached_calls_do_not_grow():
    """RSS, live objects and allocated blocks stay flat over many captures (median of chunks:
    a one-off step, an arena or a cache reaching its bound, is not growth per call)."""
    g = framead.grad(small)
    x = np.linspace(0.0, 1.0, 6)
    calls, chunk = (100_000, 5_000) if STRESS else (3_000, 300)
    # (warm-up: caches bounded by size fill over the first ~2000 calls on 3.12/3.13)
    growth = memory_growth.measure(lambda i: g(x), calls, chunk, warmup=2000)
    assert growth.median("rss") < 1024, growth.rss  # bytes per call
    assert growth.median("objects") < 0.01, growth.objects
    assert growth.median("blocks") < 0.05, (growth.blocks, _without_type_cache(lambda: g(x)))
    assert max(growth.linecache) - min(growth.linecache) <= 1, growth.linecache
    np.testing.assert_allclose(g(x), (np.sin(2 * x) * x + 2 * np.sin(x) ** 2) * x, rtol=1e-12)


def _without_type_cache(call, n: int = 3000) -> str:
    """(For a failure's message) blocks a call adds with CPython's type attribute cache emptied
    around the calls: C code that looks an attribute up by a name string made for each call
    (PyObject_GetAttrString, PyObject_CallMethod) leaves the string in that cache, one entry
    per new address, up to its 4096 entries (the names were 0.05-0.15 blocks a call)."""
    gc.collect()
    sys._clear_type_cache()
    before = sys.getallocatedblocks()
    for _ in range(n):
        call()
    gc.collect()
    sys._clear_type_cache()
    per = (sys.getallocatedblocks() - before) / n
    return (f"{per:.4f} blocks a call with the type cache emptied: much less means a C "
            "attribute lookup by a name string made per call (intern it once)")


@contextlib.contextmanager
def _failing_vjp():
    """A function whose rule's (joint) VJP raises, registered for the ``with`` block."""
    def fragile(v):
        return v * 1.0

    def vjp(g, ans, v):
        raise ArithmeticError("this VJP fails")

    rules.register(fragile, vjp=vjp, saves={0: ()})
    try:
        yield fragile
    finally:
        rules.unregister(fragile)


def test_linecache_flat_and_sources_of_live_passes_kept(monkeypatch):
    """Each reverse pass's source leaves linecache with its last code object; a traceback
    through a reverse pass keeps it (and shows its lines) until the traceback goes. (Compiled
    reverse passes: the default step loop registers no source unless asked for it.)"""
    monkeypatch.setenv("FRAMEAD_BACKWARD", "source")
    g = framead.grad(small)
    x = np.linspace(0.0, 1.0, 6)
    g(x)
    before = len(linecache.cache)
    for _ in range(200):
        g(x)
    assert len(linecache.cache) == before

    with pytest.raises(ArithmeticError) as info, _failing_vjp() as fragile:
        framead.grad(lambda z: fragile(z) * 3.0)(1.5)
    err = info.value
    del info
    gc.collect()
    names = [f.filename for f in traceback.extract_tb(err.__traceback__)]
    generated = [n for n in names if n.startswith("<framead-backward-")]
    assert generated and generated[0] in linecache.cache
    text = "".join(traceback.format_exception(err))
    assert "fragile_vjp" in text  # the generated line that called the VJP is shown
    del err
    gc.collect()
    assert generated[0] not in linecache.cache


def test_replay_source_goes_with_its_cache():
    g = framead.grad(small, cache=True)
    x = np.linspace(0.0, 1.0, 6)
    for _ in range(3):
        g(x)
    replays = [k for k in linecache.cache if k.startswith("<framead-replay-")]
    assert replays
    g.clear()
    gc.collect()
    assert not any(k in linecache.cache for k in replays)


def test_uncacheable_reasons_are_bounded():
    def opaque(x):  # float.hex has no rule (FA101): uncacheable, captured every call
        return x * 2.0 + float.fromhex(x.hex()) * x

    g = framead.grad(opaque, cache=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FA101, each call
        for k in range(40):
            assert g(0.1 * (k + 1)) == pytest.approx(2.0 + 0.1 * (k + 1))  # fromhex(): a constant
    assert g.stats["uncacheable"] == 40
    assert len(g.stats["reasons"]) == 1 and "FA101" in g.stats["reasons"][0]


# --- (c) nothing the program keeps holds the recorder ---------------------------------------------

@pytest.fixture
def recorders(monkeypatch):
    """Weak references to every Recorder made while the test runs."""
    made: list[weakref.ref] = []
    init = Recorder.__init__

    def tracking(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(weakref.ref(self))

    monkeypatch.setattr(Recorder, "__init__", tracking)
    return made


class Box:
    def __init__(self, v):
        self.v = v


def _keeps_closure(x, kept):
    k = 3.0
    kept.append(lambda z: z * k * x)
    return float(np.sum(x * x))


def _keeps_object(x, kept):
    kept.append(Box(x))
    kept.append(Box(float(x[0]) * 2.0))
    return float(np.sum(x * x))


def _keeps_view(x, kept):
    kept.append(x[1:])
    return float(np.sum(x * x))


def _keeps_row_iterator(x, kept):
    it = iter(x)
    next(it)
    kept.append(it)
    return float(np.sum(x * x))


def _keeps_generator(x, kept):
    gen = (v * 2.0 for v in x)
    next(gen)
    kept.append(gen)
    return float(np.sum(x * x))


def _keeps_frame(x, kept):
    kept.append(sys._getframe())
    return float(np.sum(x * x))


def _keeps_exception(x, kept):
    try:
        x[10]
    except IndexError as e:
        kept.append(e)
    return float(np.sum(x * x))


def _raises_out(x, kept):
    y = float(np.sum(x * x))
    raise ValueError(f"out of the capture, after computing {y}")


@pytest.mark.parametrize("cache", [False, True], ids=["grad", "cached"])
@pytest.mark.parametrize("program", [
    _keeps_closure, _keeps_object, _keeps_view, _keeps_row_iterator, _keeps_generator,
    _keeps_frame, _keeps_exception, _raises_out])
def test_object_kept_by_the_program_does_not_keep_the_recorder(recorders, program, cache):
    """A kept frame or traceback keeps its callers' frames with their locals as they were at
    return (framead's capture frames among them); a kept row iterator of a traced array is
    framead's: none of them may hold the recorder."""
    kept: list = []
    x = np.linspace(0.0, 1.0, 5)
    g = framead.grad(program, cache=cache)
    try:
        np.testing.assert_allclose(g(x, kept), 2 * x)
    except ValueError as e:
        assert program is _raises_out
        kept.append(e)
    gc.collect()
    assert recorders and kept
    assert all(r() is None for r in recorders), "a Recorder outlived its capture"


# --- (d) recording is linear in the length of a function -----------------------------------------

def _long_function(tmp_path, lines: int):
    body = "\n".join(["import numpy as np", "", "", "def f(x):", "    y = x"]
                     + ["    y = y * 1.0001 + x"] * lines + ["    return y", ""])
    mod, _ = load_source_module(body, tmp_path, "longfn")
    return mod.f


def _per_node(f, x) -> tuple[float, list[int]]:
    """CPU seconds per recorded node of ``framead.trace(f, x)`` (the collector off: its passes
    depend on the whole heap, not on this function), and the nodes' lines."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.process_time()
        tr = framead.trace(f, x)
        dt = time.process_time() - t0
    finally:
        gc.enable()
    return dt / len(tr.nodes), [n.loc.line for n in tr.nodes]


def test_recording_is_linear_in_function_length(tmp_path):
    """Per-node cost at 2,000 and 20,000 lines: first captures (rewriting included) and
    repeated ones, medians; a quadratic cost (a line-table scan per node) makes it ~10x."""
    first, again = {}, {}
    for n in (2_000, 20_000):
        fresh = []
        for _ in range(2):  # first captures need fresh code objects
            f = _long_function(tmp_path, n)
            t, lines = _per_node(f, 0.3)
            fresh.append(t)
        # every node is located at its own line (lines 6.. of the module): multiply, then add
        assert lines == [6 + k // 2 for k in range(2 * n)]
        del lines
        first[n] = statistics.median(fresh)
        again[n] = statistics.median(_per_node(f, 0.3)[0] for _ in range(3))
    assert first[20_000] / first[2_000] < 2, first
    assert again[20_000] / again[2_000] < 2, again


def test_line_numbers_match_f_lineno():
    """``sourceloc.line_at`` is ``frame.f_lineno`` for every frame of a profiled run."""
    checked: list[tuple[int, int]] = []

    def profile(frame, event, arg):
        f = frame
        while f is not None:
            checked.append((f.f_lineno or 0, sourceloc.line_at(f.f_code, f.f_lasti)))
            f = f.f_back

    import difflib
    import json

    sys.setprofile(profile)
    try:
        json.loads(json.dumps({"a": [1, 2.5, {"b": None}]}))
        list(difflib.unified_diff(["a\n", "b\n"] * 5, ["a\n", "c\n"] * 5))
        list(v for v in range(3))
    finally:
        sys.setprofile(None)
    assert len(checked) > 1000
    assert all(a == b for a, b in checked)


# --- (e) code objects of eval'd functions ---------------------------------------------------------

def test_eval_code_not_kept_after_capture():
    """framead keeps no code object of a function the program made with exec/eval, nor the
    instrumented copy that ran (its caches hold them weakly, or only while a capture runs)."""
    codes: list[weakref.ref] = []
    for k in range(3):
        ns = {"np": np, "sys": sys, "weakref": weakref, "codes": codes}
        exec("def h(x):\n"
             "    codes.append(weakref.ref(sys._getframe().f_code))  # the code that runs\n"
             f"    y = np.cos(x) * x * {k + 1}.0\n"
             "    return float(np.sum(y))\n", ns)
        codes.append(weakref.ref(ns["h"].__code__))
        x = np.linspace(0.0, 1.0, 4)
        np.testing.assert_allclose(framead.grad(ns["h"])(x),
                                   (k + 1) * (np.cos(x) - x * np.sin(x)))
        del ns
    f = eval("lambda x: x * x * 2.0")
    codes.append(weakref.ref(f.__code__))
    assert framead.grad(f)(1.5) == 6.0
    del f
    gc.collect()
    assert len(codes) == 7
    assert all(c() is None for c in codes), "framead kept the code of an exec'd function"


def test_constant_snapshots_keep_their_layout():
    """A small constant a node reads is snapshotted with its memory layout, so replays and
    the reverse pass reduce it in the native order: a C-ordered copy of a transposed constant
    summed in another order, and a cached replay's value differed from the native one in the
    last bit (the cached mutation fuzzer at 1,500 programs)."""
    c = np.arange(12.0).reshape(3, 4).T * 0.37  # F-contiguous, not C

    def f(x):
        return float(np.sum(x * c))

    t = framead.trace(f, np.ones((4, 3)))
    snap = next(a for n in t.graph.nodes for a in n.args
                if isinstance(a, np.ndarray) and a.shape == c.shape)
    assert snap is not c and snap.strides == c.strides and np.array_equal(snap, c)
