"""Long cached replays run their array steps through the uncached pass's C step loop
(framead/replay_cnodes.py ``Shadows``): values and gradients bit for bit the uncached
pass's, on random programs mixing float64 array steps (nbody-like slices, broadcasts, sums,
ufuncs, in-place region updates) with real scalar steps; close to central differences; the
C loop takes the array steps (also where the scalar C loop stops at one); the shadows keep
no call's values; a pass that cannot have them (another is using them) runs a copy of them;
float32 programs get none (the C loop takes float64 only)."""

from __future__ import annotations

import gc
import math
import os
from contextlib import contextmanager

import numpy as np
import pytest
from conftest import fd_grad
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framead
from framead import replay_cnodes, replay_steps

pytestmark = pytest.mark.skipif(replay_cnodes._run is None, reason="extension not built")

N = 4
_C = [0.5, -1.25, 2.0, 3, np.float64(0.75)]
_FNS = ("sqrt", "exp", "tanh", "log")

_stmt = st.one_of(
    # d = p[i+1:] - p[i]; r = sum(d * d, axis=1) + c; f = d * g(r)[:, None];
    # acc[i] += sum(f, axis=0) * c; acc[i+1:] -= f / v[i+1:, None] (nbody's force loop)
    st.tuples(st.just("pair"), st.integers(0, N - 2), st.sampled_from(_FNS),
              st.sampled_from(_C), st.booleans()),
    st.tuples(st.just("elem"), st.integers(0, N - 1), st.integers(0, 2), st.integers(0, 3)),
    st.tuples(st.just("scal"), st.integers(0, N - 1), st.integers(0, 2),
              st.sampled_from(("sin", "cos", "exp", "tanh", "atan")), st.sampled_from(_C)),
    st.tuples(st.just("upd"), st.sampled_from(_C), st.booleans()),
    st.tuples(st.just("whole"), st.integers(0, 3), st.sampled_from(_C)),
)


def _g(name: str, r):
    if name == "sqrt":
        return 1.0 / (r * np.sqrt(r))
    if name == "exp":
        return np.exp(-r)
    if name == "tanh":
        return np.tanh(r) * 0.5
    return np.log(r + 0.5)


def _program(stmts):
    def f(p0, v):
        p = p0.copy()
        acc = np.zeros_like(p)
        s = 0.25
        for _ in range(2):
            for x in stmts:
                kind = x[0]
                if kind == "pair":
                    _, i, fn, c, traced_v = x
                    d = p[i + 1:] - p[i]
                    r = np.sum(d * d, axis=1) + 0.5
                    fo = d * _g(fn, r)[:, None]
                    acc[i] += np.sum(fo, axis=0) * c
                    w = v if traced_v else np.linspace(1.0, 2.0, N)
                    acc[i + 1:] -= fo / w[i + 1:, None]
                elif kind == "elem":
                    _, i, j, op = x
                    q = p[i, j]
                    p[i, j] = (q + s, q * s, q - 0.5 * s, q / (1.5 + s * s))[op]
                elif kind == "scal":
                    _, i, j, fn, c = x
                    s = s * 0.5 + getattr(math, fn)(p[i, j] * 0.5) * c
                elif kind == "upd":
                    _, c, inplace = x
                    if inplace:
                        p += 0.01 * c * acc
                    else:
                        p = p + 0.01 * c * acc
                else:
                    _, op, c = x
                    p = (p * p / (1.0 + p * p), p - c * p ** 2 * 0.1, p * v[:, None],
                         -p + np.tanh(p))[op]
        return np.sum(p * p) + s * s + np.sum(acc * p0)
    return f


@contextmanager
def _loop():
    """Replays as steps (not generated source: those have no shadows)."""
    old = os.environ.get("FRAMEAD_REPLAY")
    os.environ["FRAMEAD_REPLAY"] = "loop"
    try:
        yield
    finally:
        if old is None:
            del os.environ["FRAMEAD_REPLAY"]
        else:
            os.environ["FRAMEAD_REPLAY"] = old


def _bits(x):
    if isinstance(x, tuple | list):
        return tuple(_bits(v) for v in x)
    a = np.asarray(x)
    return type(x), a.dtype.str, a.shape, a.tobytes()


def _points(seed: int, k: int):
    rng = np.random.default_rng(seed)
    return [(rng.uniform(-1.0, 1.0, (N, 3)), rng.uniform(0.5, 1.5, N)) for _ in range(k)]


def _ok(f, pts) -> bool:
    with np.errstate(all="ignore"):
        vals = [f(p.copy(), v.copy()) for p, v in pts]
    return all(np.isfinite(x) and abs(x) < 1e6 for x in vals)


@contextmanager
def _mode(mode: str):
    """``c``: as it runs; ``python``: no C loop (the shadow nodes' steps are the uncached
    pass's Python steps); ``copy``: the shadows held by another pass (a copy is used)."""
    if mode == "python":
        old = replay_steps.SCALAR_C
        replay_steps.SCALAR_C = False
        try:
            yield
        finally:
            replay_steps.SCALAR_C = old
        return
    held = []
    if mode == "copy":
        held = [o for o in gc.get_objects() if type(o) is replay_cnodes.Shadows]
        for sh in held:
            sh._lock.acquire()
    try:
        yield
    finally:
        for sh in held:
            sh._lock.release()


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(stmts=st.lists(_stmt, min_size=1, max_size=5), seed=st.integers(0, 2 ** 16))
def test_cached_replays_are_the_uncached_pass_bit_for_bit(stmts, seed):
    f = _program(stmts)
    pts = _points(seed, 4)
    if not _ok(f, pts):
        return
    ref = framead.value_and_grad(f, argnums=(0, 1))
    want = [_bits(ref(p.copy(), v.copy())) for p, v in pts]
    with _loop():
        for mode in ("c", "python", "copy"):
            vg = framead.value_and_grad(f, argnums=(0, 1), cache=True)
            for k, (p, v) in enumerate(pts):  # (the first records; the others replay)
                with _mode(mode if k >= 2 else "c"):
                    got = vg(p.copy(), v.copy())
                assert _bits(got) == want[k], (mode, k)
            # (a replay that raised is run natively instead: none may)
            assert vg.stats["hits"] == 3 and vg.stats["replay_raised"] == 0, vg.stats
    p, v = pts[-1]
    fd = fd_grad(f, (p, v), (0, 1), step=1e-6)
    for a, b in zip(got[1], fd, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * (1.0 + np.max(np.abs(b))))


_NBODY = [("pair", i, "sqrt", 1.0, True) for i in range(N - 1)] + [("upd", 1.0, True)]


def _python_steps(f, pts) -> tuple[list[int], list[int]]:
    """How many reverse steps each cached call ran in Python: the replay's own steps, and
    the shadow nodes the C loop handed back (the C loops took the others)."""
    own: list[int] = []
    handed: list[int] = []
    one, shadow_step = replay_steps._backward_one, replay_cnodes.Shadows.step

    def counting(*a):
        own[-1] += 1
        return one(*a)

    def counting_shadow(*a):
        handed[-1] += 1
        return shadow_step(*a)

    replay_steps._backward_one = counting
    replay_cnodes.Shadows.step = counting_shadow
    try:
        with _loop():
            vg = framead.value_and_grad(f, argnums=(0, 1), cache=True)
            for p, v in pts:
                own.append(0)
                handed.append(0)
                vg(p, v)
    finally:
        replay_steps._backward_one = one
        replay_cnodes.Shadows.step = shadow_step
    return own, handed


# array steps between real scalar ones: the scalar C loop stops at shadow nodes
_MIXED = [("scal", 0, 0, "sin", 0.5), ("elem", 1, 1, 1), ("whole", 0, 0.5),
          ("scal", 2, 1, "exp", 0.5), ("whole", 3, 0.5), ("elem", 2, 1, 1)]


def test_the_c_loop_takes_the_array_steps(monkeypatch):
    f = _program(_NBODY)
    pts = _points(1, 3)
    own, handed = _python_steps(f, pts)
    # (mixed: each shadow node is offered to the C loop, wherever the scalar loop stops)
    mixed_own, mixed_handed = _python_steps(_program(_MIXED), pts)
    monkeypatch.setattr(replay_cnodes, "_run", None)  # (no shadows)
    without, none = _python_steps(f, pts)
    assert without[-1] > 60 and none[-1] == 0  # (the loop's array steps)
    # (left: the steps without a shadow, and the shadow nodes the C loop hands back as it
    # does the uncached pass's: the divisions by a broadcast column, the copy, the view
    # update of a fancy index)
    assert own[-1] + handed[-1] <= 12, (own, handed)
    assert mixed_handed[-1] == 0 and mixed_own[-1] <= 12, (mixed_own, mixed_handed)


_F32_OPS = st.sampled_from(("tanh", "exp", "scale", "addx", "shift", "sum", "slice"))


def _f32_program(ops):
    def f(x):
        y = x * np.float32(0.5)
        for _ in range(3):
            for op in ops:
                if op == "tanh":
                    y = np.tanh(y)
                elif op == "exp":
                    y = np.exp(-(y * y))
                elif op == "scale":
                    y = y * np.float32(0.75) - np.float32(0.125)
                elif op == "addx":
                    y = y + x * y
                elif op == "shift":
                    y = y - y[0]
                elif op == "sum":
                    y = y * (np.sum(y * y) * np.float32(0.1))
                else:
                    y = y.copy()
                    y[1:] += y[:-1] * np.float32(0.5)
        return np.sum(y * y)
    return f


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_F32_OPS, min_size=1, max_size=4), seed=st.integers(0, 2 ** 16))
def test_float32_programs_have_no_shadows(ops, seed):
    """The C loop takes float64 only: a float32 step keeps the replay's own step (a shadow
    would be handed back, and run in Python, every pass); same bits as the uncached pass,
    close to central differences (in float64) of the same program."""
    f = _f32_program(ops)
    rng = np.random.default_rng(seed)
    xs = [rng.uniform(-1.0, 1.0, 5).astype(np.float32) for _ in range(3)]
    ref = framead.value_and_grad(f)
    made: list = []
    add = replay_cnodes.Shadows.add

    def adding(*a):
        made.append(add(*a))
        return made[-1]

    replay_cnodes.Shadows.add = adding
    try:
        with _loop():
            vg = framead.value_and_grad(f, cache=True)
            got = [vg(x.copy()) for x in xs]
    finally:
        replay_cnodes.Shadows.add = add
    assert vg.stats["hits"] == 2 and vg.stats["replay_raised"] == 0, vg.stats
    assert made and all(m is None for m in made)
    for x, g in zip(xs, got, strict=True):
        assert _bits(g) == _bits(ref(x.copy()))
    assert got[-1][1].dtype == np.float32
    fd = fd_grad(f, (xs[-1].astype(np.float64),), 0, step=1e-6)
    np.testing.assert_allclose(got[-1][1], fd, rtol=2e-3, atol=2e-4 * (1.0 + np.max(np.abs(fd))))


def test_shadows_keep_no_call_values():
    f = _program(_NBODY)
    with _loop():
        vg = framead.value_and_grad(f, argnums=(0, 1), cache=True)
        for p, v in _points(2, 3):
            vg(p, v)
    shadows = [o for o in gc.get_objects() if type(o) is replay_cnodes.Shadows]
    assert shadows
    for sh in shadows:
        assert sh._fill and all(x.primal is None for x in sh._fill)


def test_a_pass_without_the_shadows_runs_the_steps():
    """Another pass holds the shadows (a thread, a VJP calling the cached function): this
    one runs a copy of them (``Shadows._copy``), with the same result."""
    f = _program(_NBODY)
    pts = _points(3, 3)
    ref = framead.value_and_grad(f, argnums=(0, 1))
    with _loop():
        vg = framead.value_and_grad(f, argnums=(0, 1), cache=True)
        vg(*pts[0])
        vg(*pts[1])
        held = [o for o in gc.get_objects() if type(o) is replay_cnodes.Shadows]
        for sh in held:
            assert sh._lock.acquire(blocking=False)
        try:
            got = vg(*pts[2])
        finally:
            for sh in held:
                sh._lock.release()
    assert _bits(got) == _bits(ref(*pts[2]))


