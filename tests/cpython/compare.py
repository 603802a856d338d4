"""Run a CPython test module natively and under capture, in fresh interpreters, and compare.

Used by tests/test_cpython_under_capture.py, and from the command line to survey modules one
at a time with timings::

    python -m tests.cpython.compare test_descr test_json --timeout 300 --out survey.jsonl
    python -m tests.cpython.compare test_sys --tests 'SysModuleTest.test_getframe'

Each module prints one line (test counts, native and capture seconds, differences) and, with
``--out``, appends a JSON record; ``--table survey.jsonl`` prints the latest record of each
module as a Markdown table (tests/cpython/FINDINGS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from .harness import MARK, START

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def module_lists(path: str = os.path.join(os.path.dirname(__file__), "modules.txt")
                 ) -> dict[str, list[str]]:
    """The module lists of modules.txt: section name -> module names, in order."""
    lists: dict[str, list[str]] = {}
    section = None
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line.startswith("["):
                section = lists.setdefault(line[1:line.index("]")], [])
            elif line:
                section.extend(line.split())
    return lists


class HarnessFailure(Exception):
    """The harness crashed, hung or printed no report; the message names the last test."""


def _last_test(stderr: str) -> str:
    starts = [line[len(START):] for line in stderr.splitlines() if line.startswith(START)]
    return starts[-1] if starts else "(none started)"


def _tail(stderr: str, n: int = 3000) -> str:
    return "\n".join(line for line in stderr.splitlines() if not line.startswith(START))[-n:]


def run(module: str, mode: str, timeout: float, tests: list[str] = (), use: str = "",
        exclude: list[str] = ()) -> dict:
    """One harness run in a fresh interpreter; its report (outcomes, seconds, grad).

    The harness dumps its stacks and exits a little before ``timeout`` (faulthandler); the
    subprocess timeout is the backstop."""
    cmd = [sys.executable, "-X", "faulthandler", "-m", "tests.cpython.harness", module,
           "--mode", mode, "--timeout", str(max(timeout - 5, 1))]
    for pattern in tests:
        cmd += ["--tests", pattern]
    for pattern in exclude:
        cmd += ["--exclude", pattern]
    if use:
        cmd += ["--use", use]
    start = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, errors="replace",
                           timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode("utf-8", "replace") if isinstance(e.stderr, bytes) else e.stderr
        raise HarnessFailure(f"{module} hung ({mode}, over {timeout:.0f} s) in "
                             f"{_last_test(err or '')}:\n{_tail(err or '')}") from None
    if p.returncode != 0 or MARK not in p.stdout:  # (a report and a crash: at exit)
        hung = "Timeout (" in p.stderr
        what = "hung (faulthandler timeout)" if hung else f"exited with {p.returncode}"
        raise HarnessFailure(f"{module} ({mode}) {what} in {_last_test(p.stderr)} after "
                             f"{time.perf_counter() - start:.0f} s:\n{_tail(p.stderr)}")
    report = json.loads(p.stdout.rsplit(MARK, 1)[1])
    report["wall"] = round(time.perf_counter() - start, 2)  # with start-up and imports
    return report


def kind(outcome: str | None) -> str:
    """ok / fail / error / skip / xfail / xpass, or missing."""
    return (outcome or "missing").split(":")[0]


def differences(native: dict[str, str], captured: dict[str, str]) -> dict[str, tuple]:
    """Test id -> (native outcome, capture outcome) where their kinds differ."""
    return {t: (native.get(t), captured.get(t)) for t in sorted(native.keys() | captured.keys())
            if kind(native.get(t)) != kind(captured.get(t))}


def format_differences(diffs: dict[str, tuple], limit: int = 20) -> str:
    return "\n".join(f"{t}\n  native:  {n}\n  capture: {c}"
                     for t, (n, c) in list(diffs.items())[:limit])


def survey(module: str, timeout: float, tests: list[str] = (), use: str = "",
           exclude: list[str] = ()) -> dict:
    """Both runs of one module: counts, seconds, differences, or the failure."""
    record: dict = {"module": module}
    reports = {}
    for mode in ("native", "capture"):
        try:
            reports[mode] = run(module, mode, timeout, tests, use, exclude)
            record[f"{mode}_s"] = reports[mode]["seconds"]
            record[f"{mode}_wall"] = reports[mode]["wall"]
        except HarnessFailure as e:
            record[f"{mode}_failure"] = str(e)
    if len(reports) == 2:
        native, captured = reports["native"]["outcomes"], reports["capture"]["outcomes"]
        record["tests"] = len(native)
        record["kinds"] = {k: sum(kind(o) == k for o in native.values())
                           for k in ("ok", "fail", "error", "skip")}
        record["grad"] = reports["capture"].get("grad")
        record["differences"] = differences(native, captured)
        record["slowest_capture"] = reports["capture"]["slowest"]
    return record


def table(paths: list[str]) -> str:
    """The latest record of each module in these JSON-lines files, as Markdown rows."""
    latest: dict[str, dict] = {}
    for path in paths:
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                latest[rec["module"]] = rec
    rows = ["| module | tests | native s | capture s | wall s (both) | differing | crash/hang |",
            "|---|---:|---:|---:|---:|---:|---|"]
    for module, rec in sorted(latest.items()):
        wall = round(rec.get("native_wall", 0) + rec.get("capture_wall", 0), 1) or "-"
        failure = "; ".join(rec[k].splitlines()[0] for k in rec if k.endswith("_failure"))
        rows.append(f"| {module} | {rec.get('tests', '-')} | {rec.get('native_s', '-')} | "
                    f"{rec.get('capture_s', '-')} | {wall} | {len(rec.get('differences', {}))} | "
                    f"{failure} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("modules", nargs="*")
    ap.add_argument("--table", nargs="+", metavar="JSONL", help="print a Markdown table")
    ap.add_argument("--timeout", type=float, default=float(
        os.environ.get("FRAMEAD_CPYTHON_TIMEOUT", "300")))
    ap.add_argument("--tests", action="append", default=[])
    ap.add_argument("--exclude", action="append", default=[])
    ap.add_argument("--use", default="")
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    if a.table:
        print(table(a.table))
    for module in a.modules:
        rec = survey(module, a.timeout, a.tests, a.use, a.exclude)
        diffs = rec.get("differences", {})
        fails = [k for k in rec if k.endswith("_failure")]
        print(f"{module:28s} tests={rec.get('tests', '-'):<5} native={rec.get('native_s', '-')}s "
              f"capture={rec.get('capture_s', '-')}s diffs={len(diffs)} "
              f"{' '.join(fails)}", flush=True)
        for k in fails:
            print("   ", rec[k][:2000].replace("\n", "\n    "))
        if diffs:
            print("   ", format_differences(diffs).replace("\n", "\n    "), flush=True)
        if a.out:
            with open(a.out, "a") as f:
                f.write(json.dumps(rec) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
