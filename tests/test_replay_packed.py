"""Packed step lists (framead/replay_steps.py ``Packed``, capture/_scalar_tape.c
``pack_steps`` / ``unpack_steps``): a long cached replay keeps its steps as int32 codes and
decodes them chunk by chunk. Decoded steps equal the packed ones (same objects, same int
values and types); packed replays give bit-identical values, gradients and errors (with their
notes naming the user's line) to unpacked ones; the packed form is several times smaller."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from conftest import fd_grad, load_source_module
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from test_replay_scalar_c import TYPES, _bits, _outcome, programs

import framead
from framead import replay_steps

pytestmark = pytest.mark.skipif(replay_steps._pack is None,
                                reason="the _scalar_tape extension is not built")

SHARED = [object(), math.sin, slice(1, -1), None, 2.5, True, False, (1, 2), "s", b"b"]

items = st.deferred(lambda: st.one_of(
    st.integers(-300, 300), st.integers(-2**40, 2**40),
    st.sampled_from([2**28 - 1, 2**28, -(2**28) + 1, -(2**28), 2**63, -(2**63)]),
    st.sampled_from(SHARED), st.floats(allow_nan=False),
    st.lists(items, max_size=4).map(tuple)))
steps_lists = st.lists(st.one_of(st.lists(items, max_size=13).map(tuple),
                                 st.sampled_from(SHARED[:3])), max_size=40)


def _same(a, b) -> bool:
    """Equal, with ints as ints of the same value and every other leaf the same object."""
    if type(a) is tuple:
        return type(b) is tuple and len(a) == len(b) and all(map(_same, a, b))
    if type(a) is int:
        return type(b) is int and a == b
    return a is b


@settings(max_examples=300, deadline=None)
@given(steps=steps_lists, chunk=st.integers(1, 7))
def test_unpacked_steps_are_the_packed_ones(steps, chunk):
    codes, objects, starts = replay_steps._pack(steps, chunk)
    assert len(starts) == -(-len(steps) // chunk)
    got = []
    for i, at in enumerate(starts):
        part = replay_steps._unpack(codes, objects, at, min(chunk, len(steps) - i * chunk))
        got += part
    assert len(got) == len(steps)
    assert all(map(_same, steps, got))


def test_corrupt_codes_raise():
    codes, objects, starts = replay_steps._pack([(1, 2, 3)], 4)
    with pytest.raises(ValueError, match="corrupt"):
        replay_steps._unpack(codes[:-4], objects, 0, 1)
    with pytest.raises(ValueError, match="corrupt"):
        replay_steps._unpack(codes, [], 0, 1) if objects else replay_steps._unpack(
            codes, objects, 0, 2)


def _cached(f, points, argnums, packed: bool, c: bool, monkeypatch) -> list:
    monkeypatch.setenv("FRAMEAD_REPLAY", "loop")
    monkeypatch.setattr(replay_steps, "PACK_MIN", 1 if packed else sys.maxsize)
    monkeypatch.setattr(replay_steps, "SCALAR_C", c)
    vg = framead.value_and_grad(f, argnums=argnums, cache=True)
    out = [_outcome(vg, *p) for p in points]
    steps = vg_steps(vg)
    assert all((type(s) is replay_steps.Packed) == packed for s in steps)
    return out


def vg_steps(vg) -> list:
    """The step lists of the step-loop replays reachable from ``vg`` (its cache)."""
    import gc
    seen, todo, found = set(), [vg], []
    for _ in range(8):
        nxt = []
        for o in todo:
            if id(o) in seen or isinstance(o, type | np.ndarray):
                continue
            seen.add(id(o))
            if type(o).__name__ == "Replay":
                found += [part.args[0] for part in (*o._fwd, *o._bwd)
                          if getattr(part, "func", None) in (replay_steps.run_forward,
                                                             replay_steps.run_backward)]
            else:
                nxt += gc.get_referents(o)
        todo = nxt
    return found


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(src=programs(), tx=st.sampled_from(sorted(TYPES)), ty=st.sampled_from(sorted(TYPES)),
       pts=st.lists(st.tuples(st.sampled_from([-2.0, -0.5, 0.0, 0.3, 1.0, 3.0]),
                              st.floats(-3, 3, allow_nan=False)), min_size=2, max_size=3),
       chunk=st.integers(1, 5))
def test_packed_scalar_replays_agree(src, tx, ty, pts, chunk, tmp_path_factory, monkeypatch):
    note(src)
    f = load_source_module(src, tmp_path_factory.mktemp("rpk"), "framead_rpk")[0].f
    points = [(TYPES[tx](x), TYPES[ty](y)) for x, y in pts]
    monkeypatch.setattr(replay_steps.Packed, "CHUNK", chunk)
    with np.errstate(all="ignore"):
        for c in (False, True):
            plain = _cached(f, points, (0, 1), False, c, monkeypatch)
            assert _cached(f, points, (0, 1), True, c, monkeypatch) == plain


def stencil(u0, c):
    """In-place slice stencil (F_CALL setitem steps with their argument tuples), a fancy
    index, an item write, np functions."""
    u = u0.copy()
    for _ in range(4):
        u[1:-1] = u[1:-1] + c * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u[0] = 0.0
        u[-1] = u[-2]
        u[[1, 3]] *= 1.01
    return np.sum(np.tanh(u) ** 2) + float(u[2]) * c


@pytest.mark.parametrize("chunk", [1, 2, 5, 256])
def test_packed_array_replays_agree(chunk, monkeypatch):
    rng = np.random.default_rng(chunk)
    points = [(rng.standard_normal(9), 0.2 + 0.01 * k) for k in range(3)]
    monkeypatch.setattr(replay_steps.Packed, "CHUNK", chunk)
    for c in (False, True):
        plain = _cached(stencil, points, (0, 1), False, c, monkeypatch)
        assert _cached(stencil, points, (0, 1), True, c, monkeypatch) == plain
    g = framead.grad(stencil, argnums=(0, 1), cache=True)
    g(*points[0])
    got = g(*points[1])
    ref = fd_grad(stencil, points[1], argnums=(0, 1))
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-6, atol=1e-8)
    assert got[1] == pytest.approx(ref[1], rel=1e-6)


def test_errors_in_a_later_chunk_name_their_step(monkeypatch):
    """A step that raises on a cache hit, many chunks in: its note names its rule and line
    (the chunk's offset into the step locations), as the unpacked replay's does."""
    def f(x, y):
        s = 0.0
        for k in range(12):
            s = s + x * k
            s = s + math.log(y - k * 0.1)
        return s

    monkeypatch.setenv("FRAMEAD_REPLAY", "loop")
    monkeypatch.setattr(replay_steps.Packed, "CHUNK", 3)
    for c in (False, True):
        monkeypatch.setattr(replay_steps, "SCALAR_C", c and replay_steps._c_fwd is not None)
        notes = []
        for pack_min in (1, sys.maxsize):
            monkeypatch.setattr(replay_steps, "PACK_MIN", pack_min)
            vg = framead.value_and_grad(f, argnums=(0, 1), cache=True)
            vg(1.0, 2.0)
            assert _bits(vg(1.5, 2.5)) == _bits(
                framead.value_and_grad(f, argnums=(0, 1))(1.5, 2.5))
            with pytest.raises(ValueError, match="math domain") as e:
                vg(1.0, 0.95)  # the 11th log's argument is negative
            notes.append(e.value.__notes__)
            assert vg.stats["hits"] >= 1
        assert notes[0] == notes[1]
        assert "math.log" in notes[0][0] and "s = s + math.log(y - k * 0.1)" in notes[0][0]


def test_long_replays_are_packed_and_small(monkeypatch):
    """A 2,000-step replay: packed by default, its codes and objects under a third of the
    tuples' bytes."""
    monkeypatch.setenv("FRAMEAD_REPLAY", "loop")

    def f(u0):
        u = u0.copy()
        for _ in range(150):
            u[1:-1] = u[1:-1] + 0.25 * (u[2:] - 2.0 * u[1:-1] + u[:-2])
            u[-1] = u[-2]
        return np.sum(u ** 2)

    x = np.linspace(0.0, 1.0, 50)
    vg = framead.value_and_grad(f, cache=True)
    vg(x)
    v, g = vg(x + 0.1)
    np.testing.assert_allclose(g, framead.value_and_grad(f)(x + 0.1)[1], rtol=1e-12)
    lists = vg_steps(vg)
    assert lists and all(type(s) is replay_steps.Packed for s in lists)
    packed = sum(_deep_size(s) for s in lists)
    tuples = sum(_deep_size(list(s)) for s in lists)
    assert packed < tuples / 3, (packed, tuples)


def _deep_size(o, seen=None) -> int:
    seen = set() if seen is None else seen
    if id(o) in seen or callable(o) or isinstance(o, type):
        return 0
    seen.add(id(o))
    n = sys.getsizeof(o)
    if type(o) in (list, tuple):
        n += sum(_deep_size(x, seen) for x in o)
    elif type(o) is replay_steps.Packed:
        n += sum(_deep_size(getattr(o, k), seen) for k in type(o).__slots__)
    return n
