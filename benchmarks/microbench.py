"""Micro-benchmarks of the capture machinery (run: .venv/bin/python benchmarks/microbench.py).

Reports ns per instrumented operation on a scalar loop (native, instrumented but untraced,
traced), the fixed cost of an uncached ``grad(f)(x)`` call on a 10-operation function (issue
16's target: at most 50 us; with a 0-op function and a single math.sin for its parts, and a
10-operation function of a float64 array), and the rewrite cost per code object and per
instruction. ``--fixed``: the fixed costs only.
"""

from __future__ import annotations

import dis
import math
import statistics
import sys
import time

import numpy as np
from framead.capture import rewriter
from framead.capture.recorder import Recorder
from framead.capture.session import PROBES, Session

import framead

N = 20000
OPS_PER_ITER = 4  # x * c, + y, - 0.5 * ... see loop below: BINARY_OP count per iteration


def loop(x, n=N):
    s = 0.0
    for _ in range(n):
        s = s + x * 0.5 - 0.25
    return s


def _count_binops(fn) -> int:
    return sum(1 for ins in dis.get_instructions(fn) if ins.opname == "BINARY_OP")


def ten_ops(x, y):
    """Ten recorded operations on two floats (the fixed-cost workload)."""
    a = x * y
    b = a + 1.0
    c = math.sin(b)
    d = c * x
    e = d - y
    g = e * e
    h = g / 2.0
    k = h + a
    m = k * 3.0
    return m + b


def zero_ops(x, y):
    """No recorded operation: what every call costs before the function's own work."""
    return x


def one_call(x, y):
    """One library call (math.sin: Python dispatch to its rule) and nothing else."""
    return math.sin(x)


def array_ops(x):
    """Ten recorded operations on a float64 array of 8 (the array fixed-cost workload)."""
    a = x * 2.0
    b = np.sin(a)
    c = b + x
    d = c * c
    e = np.exp(-d)
    f = e - a
    g = np.tanh(f)
    h = g * 3.0
    k = h / 2.0
    return np.sum(k)


def per_call(fn, calls=2000, rounds=7) -> tuple[float, float, float]:
    """(median, min, max) seconds per call over ``rounds`` rounds of ``calls`` calls."""
    for _ in range(calls // 10):
        fn()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - t0) / calls)
    return statistics.median(times), min(times), max(times)


def per_call_dist(fn, calls=4000) -> tuple[float, float, float]:
    """(min, 10th percentile, median) seconds of single calls: on a shared machine a single
    call of tens of microseconds is rarely preempted, so these stay put where the averages
    of ``per_call`` move with the load."""
    for _ in range(calls // 10):
        fn()
    clock = time.perf_counter_ns
    times = []
    for _ in range(calls):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    times.sort()
    return times[0] * 1e-9, times[calls // 10] * 1e-9, times[calls // 2] * 1e-9


def fixed_cost() -> None:
    """The fixed cost of uncached gradient calls of a 10-op function, and its parts."""
    g = framead.grad(ten_ops, argnums=(0, 1))
    vgu = framead.value_and_grad(ten_ops, argnums=(0, 1))
    vg = framead.value_and_grad(ten_ops, argnums=(0, 1), cache=True)
    g0 = framead.grad(zero_ops, argnums=(0, 1))
    g1 = framead.grad(one_call, argnums=(0, 1))
    ga = framead.grad(array_ops)
    x = np.linspace(0.1, 1.0, 8)
    rows = [("native ten_ops(x, y)", lambda: ten_ops(1.5, 2.0)),
            ("framead.trace (record only)", lambda: framead.trace(ten_ops, 1.5, 2.0)),
            ("grad(f)(x, y), uncached", lambda: g(1.5, 2.0)),
            ("value_and_grad(f)(x, y), uncached", lambda: vgu(1.5, 2.0)),
            ("value_and_grad(cache=True), hit", lambda: vg(1.5, 2.0)),
            ("  parts: grad of a 0-op function", lambda: g0(1.5, 2.0)),
            ("  parts: grad of one math.sin", lambda: g1(1.5, 2.0)),
            ("grad of 10 ops on a float64[8]", lambda: ga(x))]
    print("fixed cost, 10-op functions: loops (median [min-max] of 7 rounds) | single calls "
          "(min / p10 / median of 4000)")
    for name, fn in rows:
        med, lo, hi = per_call(fn)
        c_min, c_p10, c_med = per_call_dist(fn)
        print(f"  {name:<34} {med * 1e6:8.1f} us  [{lo * 1e6:.1f}-{hi * 1e6:.1f}]  | "
              f"{c_min * 1e6:6.1f} / {c_p10 * 1e6:6.1f} / {c_med * 1e6:6.1f} us")


def best(fn, repeat=7):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    if "--fixed" in sys.argv[1:]:
        fixed_cost()
        return
    ops = 3 * N  # three BINARY_OPs per iteration
    native = best(lambda: loop(1.5))
    with Session(Recorder()):
        loop(1.5)  # warm: rewrite once
        untraced = best(lambda: loop(1.5))
    traced = best(lambda: framead.value_and_grad(loop)(1.5), repeat=3)
    tr = best(lambda: framead.trace(loop, 1.5), repeat=3)
    print(f"scalar loop, {ops} arithmetic ops")
    print(f"  native                    {native / ops * 1e9:8.1f} ns/op")
    print(f"  instrumented, untraced    {untraced / ops * 1e9:8.1f} ns/op")
    print(f"  traced (record only)      {tr / ops * 1e9:8.1f} ns/op")
    print(f"  traced + reverse pass     {traced / ops * 1e9:8.1f} ns/op")
    fixed_cost()

    codes = [f.__code__ for f in (loop, np.linalg.norm.__wrapped__ if hasattr(
        np.linalg.norm, "__wrapped__") else loop, rewriter.instrument, Recorder.apply)]
    for code in codes:
        n = len(list(dis.get_instructions(code)))
        t = best(lambda c=code: rewriter.instrument(c, PROBES), repeat=5)
        print(f"  rewrite {code.co_name:<20} {n:5d} instr  {t * 1e6:9.1f} us "
              f"({t / n * 1e6:.2f} us/instr)")


if __name__ == "__main__":
    main()
