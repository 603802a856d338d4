"""Cached traces are cheap to make: a long trace's first cache hit runs the replay as steps
(framead/replay_steps.py) instead of compiling generated source for every node, and the steps
give exactly the gradients of the generated code and of an uncached capture."""

from __future__ import annotations

import math
import traceback

import numpy as np
import pytest

import framead
from framead import replay
from framead.cache import CachedValueAndGrad


def _rk_loop(p, nsteps=3000):
    """A scalar RK2 loop: ~10 nodes a step, no arrays."""
    a, b = p
    x, y = 1.0, 0.5
    h = 0.01
    for _ in range(nsteps):
        kx, ky = a * y, -b * x
        mx, my = x + 0.5 * h * kx, y + 0.5 * h * ky
        x, y = x + h * a * my, y - h * b * mx
    return x * x + math.sin(y)


def _entry_replay(cvg: CachedValueAndGrad) -> replay.Replay:
    (entries,) = cvg._traces.values()
    (entry,) = entries
    return entry.replay


def test_long_trace_first_hit_compiles_nothing(monkeypatch):
    """The second call of a 30k-node cached loop does work proportional to its nodes and
    compiles no source (compiling cost ~30 us a line: a 9 s second call at 144k nodes)."""
    monkeypatch.delenv("FRAMEAD_REPLAY", raising=False)
    compiled: list = []
    real_compile = compile

    def counting(src, *a, **k):
        compiled.append(src.count("\n"))
        return real_compile(src, *a, **k)

    monkeypatch.setattr(replay, "compile", counting, raising=False)
    cvg = CachedValueAndGrad(_rk_loop, 0, None)
    p = (1.3, 0.7)
    v1, g1 = cvg(p)
    v2, g2 = cvg(p)
    assert cvg.stats["hits"] == 1
    rp = _entry_replay(cvg)
    assert not rp.compiled and rp.source is None
    assert compiled == []
    nodes = 3000 * 10
    fwd_steps, bwd_steps = rp.step_counts
    assert fwd_steps <= 3 * nodes and bwd_steps <= 2 * nodes  # one step a node (+ releases)
    assert v2 == v1 and g2 == g1
    assert cvg((1.0, 1.0))[1] == framead.value_and_grad(_rk_loop)((1.0, 1.0))[1]


def test_short_trace_keeps_generated_source(monkeypatch):
    monkeypatch.delenv("FRAMEAD_REPLAY", raising=False)
    cvg = CachedValueAndGrad(lambda x: np.sum(np.sin(x) ** 2), 0, None)
    x = np.linspace(0.0, 1.0, 5)
    cvg(x)
    cvg(x)
    rp = _entry_replay(cvg)
    assert rp.compiled and "def forward_0(e):" in rp.source and "backward_0" in rp.source


# --- the step loop gives exactly the generated code's results ----------------------------

def _branchy(x):
    s = 0.0
    for i in range(len(x)):
        if x[i] > 0.2:
            s = s + math.exp(x[i]) * x[i]
        else:
            s = s - x[i] ** 3 / 2.0
    return s


def _setitem_loop(x):
    n = len(x)
    out = np.zeros(n - 1)
    for i in range(n - 1):
        out[i] = 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return np.sum(out)


def _containers_and_kwargs(x, w):
    m = np.stack([x, 2.0 * x, np.cos(x)])
    s = np.sum(m * w[:, None], axis=0)
    q, r = np.linalg.qr(m @ m.T + np.eye(3))
    return np.sum(s ** 2) + np.trace(r) + float(np.max(q[:, 0])) * np.mean(x)


def _views_and_inplace(x):
    a = x.copy()
    b = a[1:]
    b *= 2.0
    a[0] = np.tanh(a[-1])
    c = a.reshape(2, -1).T
    np.exp(c, out=c)
    return float(np.sum(a * x)) + float(c[0, 1])


def _floats_and_tuples(p):
    x, y, z = p
    acc = (0.0, 0.0)
    for k in range(40):
        acc = (acc[0] + x * y / (1.0 + k), acc[1] - math.cos(z * k) * x)
        x, y = y, x + 0.01 * z
    return math.hypot(*acc) + min(x, y) ** 2


def _broadcast_by_out(x0):
    b0 = x0.copy()
    np.multiply(0.5, x0[1], out=b0)  # scalars: the out= array gives the result its shape
    b0[0] = x0[0]
    return np.sum(b0 * b0)


PROGRAMS = [
    (_branchy, lambda rng: (rng.uniform(-1, 1, 12),)),
    (_broadcast_by_out, lambda rng: (rng.uniform(0.5, 1.5, 4),)),
    (_setitem_loop, lambda rng: (1.0 + 0.3 * rng.standard_normal(9),)),
    (_containers_and_kwargs, lambda rng: (rng.standard_normal(6), rng.standard_normal(3))),
    (_views_and_inplace, lambda rng: (rng.uniform(0.1, 0.9, 8),)),
    (_floats_and_tuples, lambda rng: (tuple(rng.uniform(0.5, 1.5, 3).tolist()),)),
]


def _same(a, b) -> bool:
    la, lb = framead.tree.leaves(a), framead.tree.leaves(b)
    return len(la) == len(lb) and all(
        np.shape(u) == np.shape(v) and np.array_equal(u, v) for u, v in zip(la, lb, strict=True))


@pytest.mark.parametrize("mode", ["loop", "source"])
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p[0].__name__)
def test_steps_and_source_match_uncached(program, mode, monkeypatch):
    f, make = program
    monkeypatch.setenv("FRAMEAD_REPLAY", mode)
    rng = np.random.default_rng(7)
    args = make(rng)
    nums = tuple(range(len(args)))
    cached = framead.value_and_grad(f, argnums=nums, cache=True)
    plain = framead.value_and_grad(f, argnums=nums)
    cached(*args)
    for k in range(4):  # near the recorded point (same branches: hits), then elsewhere
        near = framead.tree.tree_map(lambda a, k=k: a * (1.0 + 1e-3 * k), args)
        for at in (near, make(rng)):
            v, g = cached(*at)
            v0, g0 = plain(*at)
            assert _same(v, v0) and _same(g, g0)
    assert cached.stats["hits"] >= 4


def test_step_errors_name_the_user_line(monkeypatch):
    monkeypatch.setenv("FRAMEAD_REPLAY", "loop")

    def f(x):
        y = x * 2.0
        return math.log(y) + y  # the line a failing step replays

    g = framead.grad(f, cache=True)
    g(1.0)
    with pytest.raises(ValueError) as info:
        g(-1.0)
    # a replay that raises is a miss: the program runs again and raises itself, at its line
    last = traceback.extract_tb(info.tb)[-1]
    assert last.filename == __file__ and "math.log(y)" in last.line
    assert g.stats["replay_raised"] == 1


def test_step_guards_miss_and_recapture(monkeypatch):
    monkeypatch.setenv("FRAMEAD_REPLAY", "loop")
    g = framead.grad(_branchy, cache=True)
    x = np.full(5, 0.5)
    g(x)
    g(x)
    x2 = x.copy()
    x2[3] = -0.5  # another branch: the guard fails, the call is captured again
    assert np.array_equal(g(x2), framead.grad(_branchy)(x2))
    assert g.stats["misses"] == 1 and g.stats["captures"] == 2
