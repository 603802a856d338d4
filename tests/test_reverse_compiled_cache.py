"""Compiled reverse passes (under a profiler or tracer, or FRAMEAD_BACKWARD=source) are
compiled once per source text and reused by later passes with their own primals
(framead/reverse.py ``_compiled``): the gradients stay those of finite differences and of the
step loop, at every call, for programs that share a structure but not their constants."""

from __future__ import annotations

import builtins
import math

import numpy as np
import pytest
from conftest import fd_grad
from hypothesis import given, settings
from hypothesis import strategies as st

import framead
from framead import reverse

_SCALAR_OPS = [
    ("{a} + {b}", 2), ("{a} - {b}", 2), ("{a} * {b}", 2), ("math.sin({a})", 1),
    ("math.cos({a})", 1), ("math.tanh({a})", 1), ("{a} * {c}", 1), ("{a} / ({b} * {b} + 1.0)", 2),
    ("math.exp(math.tanh({a}))", 1),
]
_ARRAY_OPS = [
    ("{a} + {b}", 2), ("{a} * {b}", 2), ("np.sin({a})", 1), ("np.tanh({a})", 1),
    ("{a} * {c}", 1), ("{a} - {c}", 1), ("np.exp(np.tanh({a}))", 1),
]


@st.composite
def programs(draw):
    """The source of ``f(x, y)``: a chain of operations on floats (``arrays``: float arrays,
    summed at the end), each reading two earlier values, with constants drawn too."""
    arrays = draw(st.booleans())
    ops = _ARRAY_OPS if arrays else _SCALAR_OPS
    names = ["x", "y"]
    lines = ["def f(x, y):"]
    for k in range(draw(st.integers(1, 9))):
        form, arity = draw(st.sampled_from(ops))
        a = draw(st.sampled_from(names))
        b = draw(st.sampled_from(names))
        c = draw(st.sampled_from([0.5, 1.5, 2.0, -0.75, 3.0]))
        lines.append(f"    v{k} = " + form.format(a=a, b=b, c=repr(c)))
        names.append(f"v{k}")
    last = names[-1]
    lines.append(f"    return np.sum({last} * {last}) + np.sum(x) * 0.0"
                 if arrays else f"    return {last} * {last} + x * 0.0")
    return "\n".join(lines), arrays


def _load(source: str):
    ns = {"math": math, "np": np}
    exec(compile(source, "<fuzz>", "exec"), ns)  # noqa: S102 - the fuzzer's own program
    return ns["f"]


def _points(arrays: bool, seed: int) -> list[tuple]:
    rng = np.random.default_rng(seed)
    if arrays:
        return [(rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 3)) for _ in range(2)]
    return [(float(rng.uniform(-1, 1)), float(rng.uniform(-1, 1))) for _ in range(2)]


@pytest.fixture
def compiles(monkeypatch):
    """How many times framead/reverse.py compiled a chunk (counted through its global)."""
    count = [0]

    def counting(*args, **kwargs):
        count[0] += 1
        return builtins.compile(*args, **kwargs)

    monkeypatch.setattr(reverse, "compile", counting, raising=False)
    monkeypatch.setattr(reverse, "_compiled", {})
    return count


@settings(max_examples=60, deadline=None)
@given(prog=programs(), seed=st.integers(0, 2**16))
def test_compiled_pass_reused_and_right(prog, seed):
    source, arrays = prog
    f = _load(source)
    count = [0]
    real = builtins.compile

    def counting(*args, **kwargs):
        count[0] += 1
        return real(*args, **kwargs)

    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(reverse, "compile", counting, raising=False)
        mp.setattr(reverse, "_compiled", {})
        for i, (x, y) in enumerate(_points(arrays, seed)):
            mp.setenv("FRAMEAD_BACKWARD", "source")
            got = framead.grad(f, argnums=(0, 1))(x, y)
            if i == 0:
                first = count[0]
            else:  # the same program: its pass was compiled by the first call only
                assert count[0] == first, source
            mp.setenv("FRAMEAD_BACKWARD", "loop")
            loop = framead.grad(f, argnums=(0, 1))(x, y)
            ref = fd_grad(f, (x, y), argnums=(0, 1), step=1e-5)
            for g, gl, r in zip(got, loop, ref, strict=True):
                np.testing.assert_allclose(g, gl, rtol=1e-12, atol=1e-14, err_msg=source)
                np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-7, err_msg=source)
    finally:
        mp.undo()


def test_same_structure_other_constants(compiles, monkeypatch):
    """Programs whose passes differ only in a constant the pass reads by name (an array of
    five: its listing shows no values) share one compiled pass, each reading its own."""
    monkeypatch.setenv("FRAMEAD_BACKWARD", "source")
    ws = np.linspace(0.5, 2.0, 4)

    def make(w: np.ndarray):
        def f(x):
            return float(np.sum(np.sin(x * w)))
        return f

    fns = [make(np.full(5, w)) for w in ws]
    x = np.linspace(-0.7, 0.9, 5)
    for _ in range(2):
        for w, f in zip(ws, fns, strict=True):
            np.testing.assert_allclose(framead.grad(f)(x), w * np.cos(w * x), rtol=1e-13)
    assert compiles[0] == 1


def test_table_is_bounded(compiles, monkeypatch):
    monkeypatch.setenv("FRAMEAD_BACKWARD", "source")
    for k in range(reverse.COMPILED_KEEP + 10):
        src = "def f(x):\n" + "".join(f"    x = x * {1.0 + j / 7}\n" for j in range(k + 1)) + \
            "    return x\n"
        f = _load(src)
        assert framead.grad(f)(2.0) == pytest.approx(math.prod(1.0 + j / 7 for j in range(k + 1)))
    assert len(reverse._compiled) <= reverse.COMPILED_KEEP
    assert compiles[0] >= reverse.COMPILED_KEEP + 10
