"""What framead's PEP 523 hook costs per Python call and per operation, on this interpreter.

    make bench-hook                    # the default interpreter's venv (.venv)
    make bench-hook PY=3.12            # CPython 3.12's venv (.venv-3.12); PY=3.13 likewise
    .venv/bin/python benchmarks/hook_overhead.py [--n 20000] [--repeat 15] [--json]

Each row is the median over ``--repeat`` runs of a loop of ``--n`` iterations, in ns per
iteration (the loop's own cost included: compare rows with the same loop):

* call ``tiny(x)``, an untraced Python call: natively (no hook installed); with framead's hook
  installed in the process but this thread not capturing (what a thread sees while another
  thread runs ``grad``: the hook runs for every frame and lets it run natively); and under
  capture (``capture/session.py``'s ``Session``), where the loop and ``tiny`` run as
  instrumented copies but ``x`` is not traced;
* op ``a + b`` on two untraced floats: natively, and in a captured frame (the rewritten
  ``BINARY_OP`` calls a C probe that finds neither operand traced);
* op ``x + b`` with ``x`` traced: the probe calls the recorder, which records one node
  (inside ``framead.trace``; the loop is timed from inside the captured function).

The hook is installed, enabled and removed with the C extension's own calls, as
``capture/session.py`` does (``install(decide)``, ``set_enabled``, ``uninstall``). Nothing
here depends on the Python version: run it on every supported one.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import time

from framead.capture import _evalframe as C
from framead.capture.recorder import Recorder
from framead.capture.session import Session, decide

import framead

clock = time.perf_counter_ns
NATIVE = "native (no hook)"


def tiny(x):
    return x


def calls(n, x):
    t0 = clock()
    for _ in range(n):
        tiny(x)
    return clock() - t0


def adds(n, a, b):
    t0 = clock()
    for _ in range(n):
        a + b
    return clock() - t0


def traced_adds(n, x, b, out):
    t0 = clock()
    for _ in range(n):
        y = x + b
    out.append(clock() - t0)
    return y


def _median_ns(times: list[int], n: int) -> float:
    return statistics.median(times) / n


def native(loop, n, repeat, *args):
    loop(min(n, 1000), *args)  # warm: the adaptive interpreter specializes the loop
    return _median_ns([loop(n, *args) for _ in range(repeat)], n)


def hook_installed_not_capturing(loop, n, repeat, *args):
    """The hook installed (as a Session does) but disabled on this thread."""
    C.install(decide)
    prev = C.set_enabled(False)
    try:
        loop(min(n, 1000), *args)
        return _median_ns([loop(n, *args) for _ in range(repeat)], n)
    finally:
        C.set_enabled(prev)
        C.uninstall()


def under_capture(loop, n, repeat, *args):
    """Inside a capture: every frame the loop starts runs instrumented; nothing is traced."""
    with Session(Recorder()):
        loop(min(n, 1000), *args)  # rewrites loop and tiny once
        times = [loop(n, *args) for _ in range(repeat)]
    return _median_ns(times, n)


def traced(n, repeat, a, b):
    """``x + b`` with ``x`` a traced input: one recorded node per iteration."""
    framead.trace(lambda x: traced_adds(min(n, 1000), x, b, []), a)  # warm
    out: list[int] = []
    for _ in range(repeat):
        framead.trace(lambda x: traced_adds(n, x, b, out), a)
    return _median_ns(out, n)


def measure(n: int, repeat: int) -> list[tuple[str, str, float]]:
    if C.install_depth():
        raise SystemExit("a frame hook is already installed in this process: nothing to compare")
    x, a, b = 1.5, 1.5, 2.25
    nt = max(100, n // 4)  # traced: every iteration records a node (memory grows with n)
    gc_was = gc.isenabled()
    gc.disable()
    try:
        rows = [
            ("call tiny(x)", NATIVE, native(calls, n, repeat, x)),
            ("call tiny(x)", "hook installed, thread not capturing",
             hook_installed_not_capturing(calls, n, repeat, x)),
            ("call tiny(x)", "under capture, x untraced", under_capture(calls, n, repeat, x)),
            ("op a + b", NATIVE, native(adds, n, repeat, a, b)),
            ("op a + b", "hook installed, thread not capturing",
             hook_installed_not_capturing(adds, n, repeat, a, b)),
            ("op a + b", "under capture, a and b untraced", under_capture(adds, n, repeat, a, b)),
            ("op x + b", "under capture, x traced (records a node)", traced(nt, repeat, a, b)),
        ]
    finally:
        if gc_was:
            gc.enable()
    return rows


def table(rows: list[tuple[str, str, float]]) -> str:
    """A Markdown table; "vs native" is the difference with the native row of the same kind
    (call or op)."""
    native_ns = {what.split()[0]: ns for what, where, ns in rows if where == NATIVE}
    lines = [f"framead hook overhead on {platform.python_implementation()} "
             f"{platform.python_version()} ({platform.machine()}), ns per loop iteration, "
             "median", "",
             f"| {'loop':<13} | {'where':<40} | {'ns/iter':>8} | {'vs native':>9} |",
             f"|{'-' * 15}|{'-' * 42}|{'-' * 10}|{'-' * 11}|"]
    for what, where, ns in rows:
        ref = native_ns.get(what.split()[0])
        rel = "" if where == NATIVE or ref is None else f"{ns - ref:+.1f}"
        lines.append(f"| {what:<13} | {where:<40} | {ns:8.1f} | {rel:>9} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20000, help="loop iterations per run")
    ap.add_argument("--repeat", type=int, default=15, help="runs per row (the median is kept)")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON as well")
    args = ap.parse_args(argv)
    rows = measure(args.n, args.repeat)
    print(table(rows))
    if args.json:
        print(json.dumps({"python": platform.python_version(),
                          "rows": [{"loop": w, "where": h, "ns": ns} for w, h, ns in rows]}))


if __name__ == "__main__":
    main()
