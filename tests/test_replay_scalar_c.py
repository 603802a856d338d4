"""The C part of the replay step loop (capture/_scalar_tape.c ``replay_forward`` /
``replay_backward``, framead/replay_steps.py): cached gradients of scalar programs replayed as
steps give bit-identical values and gradients, of the same types, with C on and off, and
agree with uncached ``framead.grad``; errors raise as before; never under an outer capture."""

from __future__ import annotations

import math
import operator
import struct
import traceback

import numpy as np
import pytest
from conftest import load_source_module
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import framead
from framead import replay_steps

pytestmark = pytest.mark.skipif(replay_steps._c_bwd is None,
                                reason="the _scalar_tape extension is not built")


class Plain(float):
    """A float subclass (the C loops hand its steps back)."""


TYPES = {"float": float, "float64": np.float64, "Plain": Plain}
CONSTS = ["0.5", "1.5", "-0.75", "2.0", "3", "np.float64(0.25)"]


def _bits(x):
    if isinstance(x, (tuple, list)):
        return tuple(_bits(v) for v in x)
    if x is None:
        return None
    return type(x), struct.pack("<d", float(x))


@st.composite
def programs(draw) -> str:
    """A function of x and y: straight-line scalar statements (operators, math functions,
    constants; some may divide by zero, overflow or leave a domain), in a short loop."""
    names = ["x", "y"]
    lines = []
    for k in range(draw(st.integers(2, 9))):
        a = draw(st.sampled_from(names))
        b = draw(st.sampled_from(names + CONSTS))
        form = draw(st.sampled_from([
            "{a} + {b}", "{a} - {b}", "{b} - {a}", "{a} * {b}", "{b} * {a}", "{a} / {b}",
            "{b} / {a}", "{a} / (1.5 + {b} * {b})", "{a} ** 2", "{a} ** 3", "{a} ** 1",
            "{a} ** 2.0", "{b} ** 0.5", "-{a}", "+{a}", "math.sin({a})", "math.cos({a})",
            "math.exp({a})", "math.tanh({a})", "math.sqrt({a} * {a} + 0.1)",
            "math.log({a} * {a} + 0.5)", "math.atan({a})", "math.tan({a})", "{a} * {a}",
            "{a} * {b} + {a}", "{a} - {a}", "0.5 * {a} * 1e-300", "(1, {a}, {b})[1]"]))
        lines.append(f"        t{k} = " + form.format(a=a, b=b))
        names.append(f"t{k}")
    result = " + ".join(f"0.{i + 1} * {n}" for i, n in enumerate(names[2:]))
    return ("import math\n\nimport numpy as np\n\n\ndef f(x, y):\n    s = 0.0\n"
            "    for _ in range(3):\n" + "\n".join(lines) +
            f"\n        s = s + {result}\n        x = x + 0.125 * s\n    return s\n")


def _outcome(fn, *args):
    try:
        return "ok", _bits(fn(*args))
    except Exception as e:  # noqa: BLE001 - the error class is the outcome
        return "raised", type(e).__name__


def _cached_outcomes(f, points, c: bool, monkeypatch) -> list:
    """A fresh cached gradient of f at each point (the first records, the others replay as
    steps), with the C loops on or off."""
    monkeypatch.setenv("FRAMEAD_REPLAY", "loop")
    monkeypatch.setattr(replay_steps, "SCALAR_C", c)
    vg = framead.value_and_grad(f, argnums=(0, 1), cache=True)
    return [_outcome(vg, *p) for p in points]


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(src=programs(), tx=st.sampled_from(sorted(TYPES)), ty=st.sampled_from(sorted(TYPES)),
       pts=st.lists(st.tuples(st.sampled_from([-2.0, -1.0, -0.5, 0.0, 0.3, 1.0, 1.7, 3.0]),
                              st.floats(-3, 3, allow_nan=False)), min_size=2, max_size=4))
def test_c_and_python_steps_agree(src, tx, ty, pts, tmp_path_factory, monkeypatch):
    note(src)
    f = load_source_module(src, tmp_path_factory.mktemp("rsc"), "framead_rsc")[0].f
    points = [(TYPES[tx](x), TYPES[ty](y)) for x, y in pts]
    with np.errstate(all="ignore"):
        py = _cached_outcomes(f, points, False, monkeypatch)
        cc = _cached_outcomes(f, points, True, monkeypatch)
        assert cc == py
        monkeypatch.delenv("FRAMEAD_REPLAY")
        # and uncached framead (same formulas, the reverse pass of reverse.py)
        plain = [_outcome(framead.value_and_grad(f, argnums=(0, 1)), *p) for p in points]
    for (k1, v1), (k2, v2) in zip(cc, plain, strict=True):
        if k1 == k2 == "ok":
            assert np.allclose([float(v) for v in _floats(v1)],
                               [float(v) for v in _floats(v2)], rtol=1e-12, equal_nan=True)


def _floats(b):
    if isinstance(b, tuple) and len(b) == 2 and isinstance(b[0], type):
        return [struct.unpack("<d", b[1])[0]]
    return [x for item in b for x in _floats(item)]


def lorenz(params, nsteps=300, dt=0.001):
    sigma, rho, beta = params
    x, y, z = 1.0, 1.0, 20.0
    acc = 0.0
    for _ in range(nsteps):
        dx, dy, dz = sigma * (y - x), x * (rho - z) - y, x * y - beta * z
        x, y, z = x + dt * dx, y + dt * dy, z + dt * dz
        acc += math.sin(z) / 3.0 + math.exp(-x * x) - (y / 7.0) ** 2
    return acc + math.hypot(x, y)


def _counting(monkeypatch):
    """Steps the C loops hand back to Python, by kind."""
    handed = {"fwd": 0, "bwd": 0}
    cf, cb = replay_steps._c_fwd, replay_steps._c_bwd

    def fwd(steps, k, e, ops):
        r = cf(steps, k, e, ops)
        handed["fwd"] += r < len(steps)
        return r

    def bwd(steps, k, e, ct):
        r = cb(steps, k, e, ct)
        handed["bwd"] += r < len(steps)
        return r

    monkeypatch.setattr(replay_steps, "_c_fwd", fwd)
    monkeypatch.setattr(replay_steps, "_c_bwd", bwd)
    return handed


@pytest.mark.parametrize("kind", [float, np.float64])
def test_long_trace_runs_in_c(kind, monkeypatch):
    """A long scalar trace (steps by default) replays in C nearly entirely, bit-identical to
    the Python steps."""
    monkeypatch.delenv("FRAMEAD_REPLAY", raising=False)
    params = tuple(kind(v) for v in (10.0, 28.0, 8.0 / 3.0))
    new = tuple(kind(v) for v in (9.5, 27.0, 2.5))
    ref = framead.value_and_grad(lorenz, cache=True)
    monkeypatch.setattr(replay_steps, "SCALAR_C", False)
    ref(params)
    want = _bits(ref(new))
    monkeypatch.setattr(replay_steps, "SCALAR_C", True)
    vg = framead.value_and_grad(lorenz, cache=True)
    vg(params)
    handed = _counting(monkeypatch)
    got = vg(new)
    assert vg.stats["hits"] == 1
    rp = next(e for es in vg._traces.values() for e in es).replay
    assert not rp.compiled
    assert _bits(got) == want
    assert handed["bwd"] <= 2 and handed["fwd"] <= 3  # (hypot, the output's sum)
    unc = framead.value_and_grad(lorenz)(new)
    assert np.allclose(float(unc[0]), float(got[0]), rtol=1e-12)
    assert np.allclose([float(v) for v in unc[1]], [float(v) for v in got[1]], rtol=1e-10)


def test_errors_raise_as_before(monkeypatch):
    """A zero divisor or a math domain error on a cache hit: the replay raising is a miss, the
    program runs again and raises it itself, at the user's line."""
    monkeypatch.setenv("FRAMEAD_REPLAY", "loop")

    def f(x, y):
        s = 0.0
        for _ in range(5):
            s = s + x / y + math.sqrt(x)
        return s

    for c in (False, True):
        monkeypatch.setattr(replay_steps, "SCALAR_C", c)
        vg = framead.value_and_grad(f, argnums=(0, 1), cache=True)
        vg(1.0, 2.0)
        with pytest.raises(ZeroDivisionError) as e1:
            vg(1.0, 0.0)
        assert "s = s + x / y" in traceback.extract_tb(e1.tb)[-1].line
        with pytest.raises(ValueError, match="math domain"):
            vg(-1.0, 2.0)
        assert vg.stats["replay_raised"] == 2
        assert vg(3.0, 2.0)[0] == pytest.approx(5 * (1.5 + math.sqrt(3.0)))
        assert vg.stats["hits"] >= 1


def test_forward_c_matches_python_directly():
    """replay_forward's values against Python's own operators and math functions, including
    the cases it hands back (zero divisors, overflow, domains, ints, np.float64)."""
    F_VV, F_V = replay_steps.F_VV, replay_steps.F_V
    vals = [0.0, -0.0, 1.0, -1.0, 2.5, -3.75, 1e-310, 1e308, -1e308, 0.1, 7.0, 1e-170,
            np.float64(0.5), np.float64(-2.0), np.float64(1e300), 3, -2, float("inf"),
            float("nan")]
    ops = replay_steps._FWD_OPS
    for fn, code in ops.items():
        unary = code in (5, 6) or code >= 20
        for a in vals:
            for b in ([None] if unary else vals):
                steps = [(F_V, fn, 0, None, 2) if unary else (F_VV, fn, 0, 1, 2)]
                e = [a, b, None]
                with np.errstate(all="ignore"):
                    k = replay_steps._c_fwd(steps, 0, e, ops)
                    if k == 0:
                        continue  # handed back
                    want = fn(a) if unary else fn(a, b)
                assert type(e[2]) is type(want) and _bits(e[2]) == _bits(want), (fn, a, b)


def test_not_under_an_outer_capture(monkeypatch):
    """Inside a capture the C loops are off (the capture must record the arithmetic), and
    higher order through a cached function agrees with the uncached one."""
    seen = []

    def g(x):
        seen.append(replay_steps._use_c())
        return x * x

    framead.grad(g)(1.5)
    assert seen == [False]
    assert replay_steps._use_c() is replay_steps.SCALAR_C
    monkeypatch.setenv("FRAMEAD_REPLAY", "loop")

    def f(x):
        s = 0.0
        for _ in range(20):
            s = s + math.sin(x) * x / 3.0 + x ** 3
        return s

    cached = framead.grad(f, cache=True)
    cached(0.7)
    cached(0.8)  # a cache hit, replayed as steps
    want = framead.grad(framead.grad(f))(0.9)
    assert framead.grad(cached)(0.9) == pytest.approx(want, rel=1e-12)
    jf = framead.jit(f)
    jf(0.7)
    jf(0.8)
    assert framead.grad(jf)(0.9) == pytest.approx(framead.grad(f)(0.9), rel=1e-12)
    assert framead.hessian(f)(0.9) == pytest.approx(want, rel=1e-12)


def test_switch_off(monkeypatch):
    """SCALAR_C = False: the C loops are not called."""
    monkeypatch.setenv("FRAMEAD_REPLAY", "loop")
    monkeypatch.setattr(replay_steps, "SCALAR_C", False)
    handed = _counting(monkeypatch)
    calls = []
    monkeypatch.setattr(replay_steps, "_c_bwd", lambda *a: calls.append(a))
    vg = framead.grad(lambda x: operator.mul(x, x) + x, cache=True)
    vg(1.0)
    assert vg(2.0) == 5.0
    assert not calls and handed == {"fwd": 0, "bwd": 0}
