"""Memory per uncached gradient call: RSS, live objects and allocated blocks over many calls.

Run: ``.venv/bin/python benchmarks/memory_growth.py [--calls 100000] [--chunk 5000]``. Every
call of ``framead.grad(f)`` captures ``f`` again (no cache); after a warm-up the process should
not grow: each chunk of calls is measured on its own and the median chunk is reported, so a
one-off step (an arena, a cache filling up to its bound) does not read as growth per call.
(tracemalloc is not used: it keeps the file names of the frames it saw, generated code's too.)
"""

from __future__ import annotations

import argparse
import gc
import linecache
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import framead

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Resident set size of this process now (/proc/self/statm)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE


@dataclass
class Growth:
    """Growth per call of each chunk of calls, after the warm-up."""

    rss: list[float]  # bytes per call
    objects: list[float]  # len(gc.get_objects()) per call
    blocks: list[float]  # sys.getallocatedblocks() per call
    linecache: list[int]  # linecache entries at the end of each chunk
    seconds_per_call: float

    def median(self, field: str) -> float:
        return statistics.median(getattr(self, field))


def _sample() -> tuple[int, int, int]:
    gc.collect()
    return rss_bytes(), len(gc.get_objects()), sys.getallocatedblocks()


def measure(call: Callable[[int], object], calls: int, chunk: int, warmup: int) -> Growth:
    """Run ``call(i)`` ``warmup`` times, then ``calls`` times in chunks of ``chunk``."""
    for i in range(warmup):
        call(i)
    g = Growth([], [], [], [], 0.0)
    before = _sample()
    t0 = time.perf_counter()
    for start in range(0, calls, chunk):
        n = min(chunk, calls - start)
        for i in range(start, start + n):
            call(i)
        after = _sample()
        g.rss.append((after[0] - before[0]) / n)
        g.objects.append((after[1] - before[1]) / n)
        g.blocks.append((after[2] - before[2]) / n)
        g.linecache.append(len(linecache.cache))
        before = after
    g.seconds_per_call = (time.perf_counter() - t0) / calls
    return g


# --- workloads: small functions, each call a fresh capture --------------------------------------

def small_numpy(x):
    y = np.sin(x) * x
    return float(np.sum(y * y)) + float(np.max(x))


def small_scalar(x):
    s = 0.0
    for v in x:
        s = s + v * v
    return s


WORKLOADS: dict[str, Callable[[], Callable[[int], object]]] = {
    "numpy": lambda: (lambda g, x: lambda i: g(x))(framead.grad(small_numpy),
                                                  np.linspace(0.0, 1.0, 8)),
    "scalar-loop": lambda: (lambda g, x: lambda i: g(x))(framead.grad(small_scalar),
                                                        np.linspace(0.0, 1.0, 8)),
    "new-closure": lambda: (lambda x: lambda i: framead.grad(lambda z: small_numpy(z) * i)(x))(
        np.linspace(0.0, 1.0, 8)),
}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=100_000)
    p.add_argument("--chunk", type=int, default=5_000)
    p.add_argument("--warmup", type=int, default=1_000)
    p.add_argument("--workload", choices=sorted(WORKLOADS), action="append")
    a = p.parse_args(argv)
    print(f"{'workload':<12} {'calls':>7} {'us/call':>8} {'RSS B/call':>11} {'max chunk':>10} "
          f"{'objs/call':>10} {'blocks/call':>12} {'linecache':>10} {'RSS MB':>7}")
    for name in a.workload or list(WORKLOADS):
        g = measure(WORKLOADS[name](), a.calls, a.chunk, a.warmup)
        print(f"{name:<12} {a.calls:>7} {g.seconds_per_call * 1e6:>8.0f} "
              f"{g.median('rss'):>11.1f} {max(g.rss):>10.1f} {g.median('objects'):>10.4f} "
              f"{g.median('blocks'):>12.4f} {g.linecache[-1]:>10} {rss_bytes() / 2**20:>7.1f}")


if __name__ == "__main__":
    main()
