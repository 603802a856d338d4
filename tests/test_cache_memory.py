"""What a cached trace keeps (framead/cache.py, framead/replay.py): once its replay is made
(the second call), the cache entry reaches no recorded node or value; the replay frees each
node as it makes its steps; large static arrays are compared without a copy of their bytes."""

from __future__ import annotations

import functools
import gc
import types

import numpy as np
import pytest

from framead import replay_steps, rules
from framead.cache import DIGEST_BYTES, CachedValueAndGrad
from framead.ir import UNKNOWN_LOC, Node, Value
from framead.replay_cnodes import Shadows
from framead.reverse import RuleOutputError
from framead.tracing import paused_gc

# (and a replay's shadow nodes for the C step loop: ids and constants, primals only during
# a pass, tests/test_replay_cnodes.py)
_LEAVES = (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType,
           types.MethodType, types.CodeType, types.FrameType, Shadows)


def _program(x: np.ndarray, n: int) -> float:
    s = 0.0
    for i in range(n):
        if x[i % len(x)] > -10.0:  # a decision: the trace keeps a guard
            s = s + np.sin(x[i % len(x)]) * x[(i + 1) % len(x)]
    return s


def _cached(n: int) -> CachedValueAndGrad:
    return CachedValueAndGrad(functools.partial(_program, n=n), 0, None)


def _reachable(root: object, kinds: tuple, big: int = 0) -> int:
    """How many objects of ``kinds`` (at least ``big`` long, if given) ``root`` reaches (not
    through modules, classes, functions, code or frames: the rest of the program)."""
    seen: set[int] = set()
    stack = [root]
    found = 0
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if type(o) is Node and o._loc is UNKNOWN_LOC:  # (a shadow node: not recorded)
            continue
        if isinstance(o, kinds) and (not big or len(o) >= big):  # type: ignore[arg-type]
            found += 1
        if isinstance(o, _LEAVES):
            continue
        stack.extend(gc.get_referents(o))
    return found


def _live_nodes() -> int:
    return sum(1 for o in gc.get_objects() if type(o) is Node and o._loc is not UNKNOWN_LOC)


def test_the_entry_reaches_no_node_or_value_once_the_replay_is_made(monkeypatch):
    for loop in (True, False):  # the step loop, and compiled source
        monkeypatch.setenv("FRAMEAD_REPLAY", "loop" if loop else "source")
        vg = _cached(40)
        x = np.linspace(0.1, 0.9, 5)
        v1, g1 = vg(x)
        assert _reachable(vg, (Node, Value)) > 0  # the recorded trace, until reused
        v2, g2 = vg(x)
        assert vg.stats["hits"] == 1
        assert v2 == v1 and np.array_equal(g2, g1)
        gc.collect()
        assert _reachable(vg, (Node, Value)) == 0


def test_nodes_are_freed_as_their_steps_are_made(monkeypatch):
    monkeypatch.setenv("FRAMEAD_REPLAY", "loop")
    vg = _cached(30)
    x = np.linspace(0.1, 0.9, 5)
    vg(x)
    gc.collect()
    (entries,) = vg._traces.values()
    total = len(entries[0].recorded[0].nodes)
    entries = None
    others = _live_nodes() - total  # (other tests' traces still alive)
    seen: list[int] = []
    make = replay_steps.backward_step

    def counting(*a, **k):
        seen.append(_live_nodes() - others)
        return make(*a, **k)

    monkeypatch.setattr(replay_steps, "backward_step", counting)
    with paused_gc():  # (as in a cache hit: only reference counts free the nodes)
        vg(x)
    assert vg.stats["hits"] == 1
    assert seen and min(seen) < total // 4, (seen, total)


def test_large_static_arrays_are_compared_by_digest_not_kept():
    big = np.random.default_rng(0).standard_normal(DIGEST_BYTES // 8 + 7)

    def f(w, data):
        return np.sum(w * data[:3])

    vg = CachedValueAndGrad(f, 0, None)
    w = np.ones(3)
    vg(w, big)
    vg(w, big.copy())  # equal bytes, another object: a hit
    assert vg.stats["hits"] == 1
    changed = big.copy()
    changed[-1] += 1.0  # a byte no node reads: still another argument
    vg(w, changed)
    assert vg.stats["captures"] == 2
    vg(w, changed[::-1][::-1])  # (a non-contiguous view: compared by its values)
    assert vg.stats["hits"] == 2
    gc.collect()
    assert _reachable(vg, (bytes,), big=DIGEST_BYTES) == 0  # no copy of ``big``'s bytes


def test_a_user_rules_wrong_cotangent_in_a_step_replay_names_the_rule_and_line(monkeypatch):
    monkeypatch.setenv("FRAMEAD_REPLAY", "loop")  # (its node is gone: a stand-in names it)
    wrong = [False]

    def scale(v):
        return v * 2.0

    rules.register(scale, vjp=(lambda g, ans, v: np.ones(5) if wrong[0] else 2.0 * g,),
                   saves={0: ()})
    try:
        def f(x):
            return np.sum(scale(x))  # the rule's line

        vg = CachedValueAndGrad(f, 0, None)
        x = np.ones(3)
        vg(x)
        wrong[0] = True
        with pytest.raises(RuleOutputError) as e:
            vg(x)
        assert vg.stats["hits"] == 0 and "shape (5,) for argument 0" in str(e.value)
        assert "np.sum(scale(x))  # the rule's line" in str(e.value)
    finally:
        rules.unregister(scale)


def test_generated_reverse_pass_drops_saved_arrays_once_past(monkeypatch):
    monkeypatch.setenv("FRAMEAD_REPLAY", "source")
    data = np.random.default_rng(1).standard_normal((20, 4))

    def f(w):
        return np.sum(np.tanh(data @ w) ** 2)  # tanh's and the square's saved arrays

    vg = CachedValueAndGrad(f, 0, None)
    w = np.ones(4)
    vg(w)
    value, grad = vg(w)
    (entries,) = vg._traces.values()
    rp = entries[0].replay
    e = rp.forward([w.copy()])
    assert rp.outputs(e)[0] == value
    g = rp.backward(e, {rp.output_ids[0]: 1.0})
    assert np.array_equal(g[0], grad)
    kept = [i for i, x in enumerate(e) if isinstance(x, np.ndarray) and x.size > 1]
    assert kept == rp.input_ids  # (every saved array went after its last reader)


def test_threads_reusing_a_trace_share_one_replay(monkeypatch):
    """The graph is handed to one replay: threads whose first cache hit comes at once wait
    for it (the second thread found the graph gone and dropped the entry, and two threads
    dropping it raised ValueError from list.remove)."""
    import threading  # noqa: PLC0415 - only here
    import time  # noqa: PLC0415

    from framead import cache  # noqa: PLC0415 - its replay maker slowed down below

    made = []
    orig = cache._replay_of

    def slow(entry):
        made.append(1)
        time.sleep(0.05)  # every thread reaches the entry while the first makes its replay
        return orig(entry)

    monkeypatch.setattr(cache, "_replay_of", slow)

    def f(x):
        return float(np.sum(np.sin(x) * x))

    g = CachedValueAndGrad(f, 0, None)
    x = np.linspace(0.1, 1.0, 4)
    g(x)  # the capture
    out, errors = [], []

    def work():
        try:
            out.append(g(x)[1])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    ts = [threading.Thread(target=work) for _ in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert errors == [] and len(out) == 6 and len(made) == 1
    for grad in out:
        np.testing.assert_allclose(grad, np.cos(x) * x + np.sin(x), rtol=1e-13)
    assert g.stats["hits"] == 6 and g.stats["captures"] == 1
