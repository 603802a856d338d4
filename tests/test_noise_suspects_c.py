"""capture/noise_check.py's pre-pass (``_suspects``: a division by a traced value made, within
three operations, from a catastrophic cancellation) runs in C (capture/_scalar_tape.c
``suspects``) on every capture that compared traced values: the same answer as the Python
pass on random scalar programs (both answers drawn often), and the bisection it exists for."""

from __future__ import annotations

import math

import numpy as np
import pytest
from framead.capture import noise_check
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framead

pytestmark = pytest.mark.skipif(noise_check._C_SUSPECTS is None, reason="extension not built")

# (a, b) -> a new value: the cancellations are rarer draws
_OPS = [
    lambda a, b: a - b, lambda a, b: a + b, lambda a, b: a * b,
    lambda a, b: a / (b * b + 1e-3), lambda a, b: math.sin(a), lambda a, b: -a,
    lambda a, b: abs(a) + 0.5, lambda a, b: np.float64(a) - b,
    lambda a, b: a - a * (1 + 1e-12),                      # a cancellation
    lambda a, b: (a - b) / ((a - a * (1 + 1e-13)) + 1e-300),  # a division by one
    lambda a, b: a - a,                                    # 0 from exact operands
]
def _program(steps: list[tuple[int, int, int]]):
    def f(x):
        v = [x, x * 0.5 + 1.0, np.float64(1.0) * x]
        for op, i, j in steps:
            v.append(_OPS[op](v[i % len(v)], v[j % len(v)]))
        return v[-1] + v[-2] if v[-2] == v[-2] else v[-1]  # (a comparison, as they run)
    return f


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(st.sampled_from(list(range(8)) * 6 + [8, 9, 10]),
                                st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=30),
       x=st.floats(-2.0, 2.0))
def test_c_pass_agrees_with_python(steps, x):
    f = _program(steps)
    with np.errstate(all="ignore"):
        try:
            t = framead.trace(f, x)
        except (ZeroDivisionError, OverflowError, ValueError):
            return
    nodes = t.graph.nodes
    assert noise_check._suspects(nodes) == noise_check._suspects_py(nodes)


def test_both_answers_are_drawn():
    """The property above is not vacuous: its programs give both answers."""
    seen = set()
    for k in range(40):
        steps = [((k * 7 + i * 3) % 8 if (k + i) % 5 else 8 + (k + i) % 3, i * 5 + k, i + 2 * k)
                 for i in range(12)]
        with np.errstate(all="ignore"):
            try:
                t = framead.trace(_program(steps), 0.3 + 0.01 * k)
            except (ZeroDivisionError, OverflowError, ValueError):
                continue
        seen.add(noise_check._suspects_py(t.graph.nodes))
    assert seen == {True, False}


def test_bisection_then_secant_is_suspect():
    def bis(x):
        def g(t):
            return t * t * t - x
        lo, hi = 0.0, 2.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if g(mid) > 0:
                hi = mid
            else:
                lo = mid
        return lo - g(lo) * (hi - lo) / (g(hi) - g(lo))

    nodes = framead.trace(bis, 2.0).graph.nodes
    assert noise_check._suspects(nodes) is True
    assert noise_check._suspects_py(nodes) is True
