"""What a long replay keeps per step (framead/replay.py, framead/replay_steps.py): one object
for each distinct constant (small array snapshots, index keys, keyword arguments, Metas), a
basic view as an F_ITEM step (which C's ``replay_forward`` runs), a VJP call as one ``_Call``
whose per-kind parts are shared. A hypothesis fuzzer over loop programs that read small
constant arrays checks that such replays give the uncached values and gradients (C loops on
and off, call after call, so a shared constant is never written) and finite differences."""

from __future__ import annotations

import gc
import operator

import numpy as np
import pytest
from conftest import load_source_module
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import framead
from framead import replay_steps
from framead.ir import Meta, Node

# statements of an nbody-like pair loop: x (traced), m (a constant array), acc (traced
# through its writes), buf (a constant array the loop writes with out=)
STATEMENTS = [
    "d = x[i + 1:] - x[i]",
    "c = m[i] * m[i + 1:]",
    "f = d * (c / (1.0 + d * d))",
    "f = d * (m[i + 1:, None] * m[i + 1:, None])[:, 0]",
    "acc[i] += np.sum(f) / m[i]",
    "acc[i + 1:] -= f / m[i + 1:]",
    "s = s + np.sum(np.sin(d) * m[i + 1:], axis=0)",
    "np.multiply(m[i + 1:], 2.0, out=buf[i + 1:]); s = s + np.sum(buf[i + 1:] * d)",
    "acc[i + 1:] += np.exp(-d * d)[:, None][:, 0] * c",
    "s = s + np.sum((d[:, None] * m[None, i + 1:]) ** 2, axis=(0, 1))",
    "s = s + np.sum((d[:, None] + np.zeros(3)) / m[i + 1:, None] - m[i + 1:, None])",
]


def _program_source(picks: list[int], steps: int) -> str:
    body = "\n".join(f"            {STATEMENTS[k]}" for k in picks)
    return f"""
import numpy as np

def f(x, m):
    acc = np.zeros_like(x)
    buf = np.ones_like(m)
    s = 0.0
    for _ in range({steps}):
        for i in range(len(x) - 1):
            d = x[i + 1:] - x[i]
            c = m[i] * m[i + 1:]
            f = d * c
{body}
            acc[i] += np.sum(f)
        x = x + 0.01 * acc
    return s + np.sum(x * x) + np.sum(acc * m)
"""


def _same(a, b) -> bool:
    la, lb = framead.tree.leaves(a), framead.tree.leaves(b)
    return len(la) == len(lb) and all(
        np.shape(u) == np.shape(v) and np.allclose(u, v, rtol=1e-13, atol=1e-300)
        for u, v in zip(la, lb, strict=True))


def _replay(vg):
    (entries,) = vg._traces.values()
    (entry,) = entries
    return entry.replay


def _fd(f, x, m, v, h=1e-6):
    return (f(x + h * v, m) - f(x - h * v, m)) / (2 * h)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.integers(0, len(STATEMENTS) - 1), min_size=1, max_size=6),
       c_on=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_compact_replays_give_the_uncached_gradients(picks, c_on, seed, tmp_path_factory,
                                                     monkeypatch):
    src = _program_source(picks, steps=3)
    note(src)
    f = load_source_module(src, tmp_path_factory.mktemp("rc"), "framead_rc")[0].f
    monkeypatch.setenv("FRAMEAD_REPLAY", "loop")
    monkeypatch.setattr(replay_steps, "SCALAR_C", c_on)
    rng = np.random.default_rng(seed)
    n = 6
    m = rng.uniform(0.5, 1.5, n)
    xs = [rng.uniform(-1.0, 1.0, n) for _ in range(4)]
    vg = framead.value_and_grad(f, 0, cache=True)
    vg(xs[0], m)
    for x in xs[1:]:  # hits: the replay runs again and again on its shared constants
        got = vg(x, m)
        want = framead.value_and_grad(f, 0)(x, m)
        assert _same(got, want), (got, want)
        assert np.allclose(got[0], f(x, m), rtol=1e-13)
    assert vg.stats["hits"] == len(xs) - 1
    assert not _replay(vg).compiled
    v = rng.standard_normal(n)
    assert np.isclose(float(np.dot(got[1], v)), _fd(f, xs[-1], m, v), rtol=1e-5, atol=1e-7)


def _reachable(root: object) -> list:
    seen: set[int] = set()
    out = []
    stack = [root]
    leaves = (type, type(gc), type(_reachable), type(len), np.dtype, np.ufunc)
    while stack:
        o = stack.pop()
        if id(o) in seen or isinstance(o, leaves):
            continue
        seen.add(id(o))
        out.append(o)
        if not isinstance(o, str | bytes | int | float):
            stack.extend(gc.get_referents(o))
    return out


def nbody_like(x, m, steps=20):
    acc = np.zeros_like(x)
    for _ in range(steps):
        for i in range(len(x) - 1):
            d = x[i + 1:] - x[i]
            f = d * (m[i] * m[i + 1:] / (1.0 + d * d))
            acc[i] += np.sum(f, axis=0) / m[i]
            acc[i + 1:] -= f / m[i + 1:, None][:, 0]
        x = x + 0.01 * acc
    return np.sum(x * x)


def test_a_replay_keeps_each_constant_once(monkeypatch):
    """Each distinct small constant array, key, keyword dict and Meta once, however many
    times the loop reads it; basic views are F_ITEM steps, VJP calls _Call objects."""
    monkeypatch.delenv("FRAMEAD_REPLAY", raising=False)
    n, steps = 8, 20
    m = np.linspace(1.0, 2.0, n)
    x = np.linspace(-1.0, 1.0, n)
    vg = framead.value_and_grad(nbody_like, 0, cache=True)
    vg(x, m)
    got = vg(x + 0.1, m)
    assert _same(got, framead.value_and_grad(nbody_like, 0)(x + 0.1, m))
    rp = _replay(vg)
    assert not rp.compiled
    objs = _reachable(rp)
    assert sum(type(o) is Meta for o in objs) <= 10
    assert sum(type(o) is slice for o in objs) <= 3 * n
    fwd = rp._fwd[0].args[0]
    items = [s for s in fwd if s[0] == replay_steps.F_ITEM]
    assert len(items) >= 3 * (n - 1) * steps
    assert not any(s[0] == replay_steps.F_CALL and s[2][0] is operator.getitem for s in fwd)
    calls = [s for s in rp._bwd[0].args[0] if type(s) is replay_steps._Call]
    # (array steps of the C loop's kinds are shadow nodes: framead/replay_cnodes.py)
    shadows = [s for s in rp._bwd[0].args[0] if type(s) is Node]
    assert (calls or shadows) and len({id(c.parts) for c in calls}) <= 10
    kws = [s[3] for s in fwd if s[0] == replay_steps.F_CALL] + [c.kw for c in calls] + \
        [n.kwargs for n in shadows if n.kwargs]
    assert len(kws) >= (n - 1) * steps and len({id(k) for k in kws}) <= 5
    # the constant arrays the steps read (m[i] * m[i + 1:], m[i + 1:, None], ...)
    consts = [s[3] for s in fwd if s[0] == replay_steps.F_VC] + \
        [s[2] for s in fwd if s[0] == replay_steps.F_CV] + \
        [x for c in calls for k, x in c.args if k == 0 and type(x) is np.ndarray] + \
        [x for n in shadows for x in n.args if type(x) is np.ndarray]
    consts = [a for a in consts if type(a) is np.ndarray]
    assert len(consts) >= 2 * (n - 1) * steps
    assert len({id(a) for a in consts}) == len({(a.shape, a.tobytes()) for a in consts}) <= 3 * n


@pytest.mark.skipif(replay_steps._c_fwd is None, reason="the _scalar_tape extension is not built")
def test_c_forward_items_of_arrays_by_basic_keys():
    """replay_forward's F_ITEM of an array: basic keys give NumPy's view; any other key is
    handed back to Python (k stays at the step)."""
    F_ITEM = replay_steps.F_ITEM
    a = np.arange(24.0).reshape(4, 6)
    for key in (1, -1, slice(1, None), slice(None, -2, 2), (slice(None), None),
                (1, slice(0, 3)), (slice(2, None), None, 3), (None, 0)):
        e = [a, None]
        assert replay_steps._c_fwd([(F_ITEM, None, 0, key, 1)], 0, e, {}) == 1, key
        want = a[key]
        assert type(e[1]) is type(want) and np.array_equal(e[1], want), key
        assert np.shares_memory(e[1], a)
    for key in (np.array([0, 2]), [0, 1], True, np.int64(1), Ellipsis, (Ellipsis, 0),
                slice(np.int64(1), None), a > 3):
        e = [a, None]
        assert replay_steps._c_fwd([(F_ITEM, None, 0, key, 1)], 0, e, {}) == 0, key
        assert e[1] is None
    e = [a, None]  # an out-of-range index: Python raises it, as natively
    assert replay_steps._c_fwd([(F_ITEM, None, 0, 9, 1)], 0, e, {}) == 0
