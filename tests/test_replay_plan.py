"""Replay plans (framead/replay_plan.py): a long replay's per-node decisions are made once per
node shape. With ``VERIFY`` on, every step made from a plan is checked against the step made
directly from its node, over fuzzed scalar and array programs replayed as steps; the replays'
values are the native run's bit for bit and their gradients the uncached pass's (and finite
differences'). And plans are shared: a loop's thousands of nodes make a handful."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import load_source_module
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from test_replay_scalar_c import TYPES, programs

import framead
from framead import replay_plan

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                       HealthCheck.too_slow])


@pytest.fixture
def verified(monkeypatch):
    monkeypatch.setenv("FRAMEAD_REPLAY", "loop")
    monkeypatch.setattr(replay_plan, "VERIFY", True)
    monkeypatch.setattr(replay_plan, "MISMATCHES", [])
    yield
    assert replay_plan.MISMATCHES == []


def _fd(f, args: list, k: int, h: float = 1e-6) -> float:
    up, dn = list(args), list(args)
    up[k] = float(up[k]) + h
    dn[k] = float(dn[k]) - h
    return (f(*up) - f(*dn)) / (2 * h)


@settings(max_examples=60, **SETTINGS)
@given(src=programs(), tx=st.sampled_from(sorted(TYPES)), ty=st.sampled_from(sorted(TYPES)),
       pts=st.lists(st.tuples(st.sampled_from([-1.0, 0.3, 1.0, 1.7]),
                              st.floats(-2, 2, allow_nan=False)), min_size=2, max_size=3))
def test_scalar_plans_make_the_direct_steps(src, tx, ty, pts, tmp_path_factory, verified):
    note(src)
    f = load_source_module(src, tmp_path_factory.mktemp("rpl"), "framead_rpl")[0].f
    vg = framead.value_and_grad(f, argnums=(0, 1), cache=True)
    replay_plan.MISMATCHES.clear()
    with np.errstate(all="ignore"):
        for x, y in pts:
            p = (TYPES[tx](x), TYPES[ty](y))
            try:
                want = f(*p)
            except Exception as e:  # noqa: BLE001 - then the cached call raises it too
                with pytest.raises(type(e)):
                    vg(*p)
                continue
            if isinstance(want, complex):  # (a negative base's ** 0.5: no real gradient)
                continue
            value, grads = vg(*p)
            assert value == want or (math.isnan(value) and math.isnan(want))
            assert replay_plan.MISMATCHES == []
            ref = framead.value_and_grad(f, argnums=(0, 1))(*p)[1]
            assert np.allclose([float(g) for g in grads], [float(g) for g in ref],
                               rtol=1e-12, atol=0, equal_nan=True)


ARRAY_FORMS = ["{a} * {b}", "{a} + {b}", "{a} - 0.5 * {b}", "np.sin({a}) * {b}",
               "np.exp(-{a} * {a})", "{a} / (2.0 + {b} * {b})", "{a} ** 2", "-{a}"]


@st.composite
def array_programs(draw) -> str:
    """A function of an array x: elementwise statements, element reads and writes by int and
    slice, in a loop."""
    names = ["x"]
    lines = []
    for k in range(draw(st.integers(2, 6))):
        a, b = draw(st.sampled_from(names)), draw(st.sampled_from(names + ["1.5", "c"]))
        lines.append(f"        t{k} = " + draw(st.sampled_from(ARRAY_FORMS)).format(a=a, b=b))
        names.append(f"t{k}")
        w = draw(st.sampled_from(["", "t{k}[{i}] = t{k}[{j}] * 0.5 + s",
                                  "t{k}[1:] = t{k}[:-1] * 0.25", "s = s + t{k}[{i}] ** 2"]))
        if w:
            i, j = draw(st.integers(0, 3)), draw(st.integers(0, 3))
            lines.append("        " + w.format(k=k, i=i, j=j))
    total = " + ".join(f"np.sum({n})" for n in names[1:])
    return ("import numpy as np\n\n\ndef f(x):\n    s = 0.0\n    c = 0.75\n"
            "    for _ in range(4):\n" + "\n".join(lines) +
            f"\n        s = s + 0.01 * ({total})\n        x = x + 0.01 * s\n    return s\n")


@settings(max_examples=40, **SETTINGS)
@given(src=array_programs(), seed=st.integers(0, 99))
def test_array_plans_make_the_direct_steps(src, seed, tmp_path_factory, verified):
    note(src)
    f = load_source_module(src, tmp_path_factory.mktemp("rpa"), "framead_rpa")[0].f
    rng = np.random.default_rng(seed)
    vg = framead.value_and_grad(f, cache=True)
    replay_plan.MISMATCHES.clear()
    for _ in range(3):
        x = rng.uniform(-1, 1, 4)
        value, g = vg(x)
        assert value == f(x.copy())
        ref = framead.value_and_grad(f)(x)[1]
        assert np.allclose(g, ref, rtol=1e-12, atol=1e-300)
        fd = [_fd(lambda t, k=k: f(np.where(np.arange(4) == k, t, x)), [x[k]], 0)
              for k in range(4)]
        assert np.allclose(g, fd, rtol=1e-5, atol=1e-7)
    assert vg.stats["hits"] >= 2 and replay_plan.MISMATCHES == []


def lorenz(params, nsteps=300, dt=0.001):
    sigma, rho, beta = params
    x, y, z = 1.0, 1.0, 20.0
    acc = 0.0
    for _ in range(nsteps):
        dx, dy, dz = sigma * (y - x), x * (rho - z) - y, x * y - beta * z
        x, y, z = x + dt * dx, y + dt * dy, z + dt * dz
        acc += z / 3.0
    return acc + math.hypot(x, y)


def test_a_loop_makes_few_plans(verified, monkeypatch):
    """Thousands of nodes, a handful of shapes: one inline decision per shape."""
    from framead import replay

    monkeypatch.setenv("FRAMEAD_REPLAY", "loop")
    made = []
    real = replay.inline_vjp
    monkeypatch.setattr(replay, "inline_vjp", lambda n: made.append(n) or real(n))
    vg = framead.value_and_grad(lorenz, cache=True)
    p = (10.0, 28.0, 8.0 / 3.0)
    vg(p)
    new = (9.0, 27.0, 2.5)
    value, grads = vg(new)
    assert vg.stats["hits"] == 1 and value == lorenz(new)
    assert 0 < len(made) <= 30
    for k in range(3):
        fd = _fd(lambda *q: lorenz(q), list(new), k)
        assert grads[k] == pytest.approx(fd, rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("op", ["+=", "*=", "/=", "**="])
def test_narrow_in_place_ufunc_steps_round_as_native(dtype, op, verified):
    """``w op= b`` (float32 ``w``, float64 ``b``) recorded as the ufunc: its step must round
    into ``w``'s dtype (``fit``) as the native write does, not keep the float64 result."""
    def f(x):
        w = np.full(4, 1.25, dtype=dtype)
        b = x / 3.0
        if op == "+=":
            w += b
        elif op == "*=":
            w *= b
        elif op == "/=":
            w /= b
        else:
            w **= b
        return float((w.astype(np.float64) * 1e6).sum() % 1.0)
    cached = framead.value_and_grad(f, cache=True)
    for x in (np.array([0.31, 0.52, 0.73, 0.24]), np.array([0.41, 0.62, 0.83, 0.14])):
        assert cached(x.copy())[0] == f(x.copy())
    assert cached.stats["hits"] == 1
