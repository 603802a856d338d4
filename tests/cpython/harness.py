"""Run one of CPython's own test modules natively or under framead's capture.

``python -m tests.cpython.harness test_enum --mode capture`` imports ``test.test_enum`` and
runs its unittest suite inside ``framead.grad(f)(1.0)`` (every frame instrumented), then
prints one JSON object: each test's outcome, the seconds it took, and the gradient (which
must be 1.0). The pytest side (tests/test_cpython_under_capture.py) runs both modes in
subprocesses, with a timeout, and compares them: a crash, a hang or any differing outcome
fails.

As ``python -m test`` does, the tests run in a fresh temporary directory and with no
optional resource enabled (``--use`` enables some: ``--use cpu,decimal``). ``--tests``
reruns single tests (``--tests 'BoolTest.test_repr' --tests '*subclass*'``), ``--exclude``
leaves some out. Each test id is
written to stderr as it starts (``@@START <id>``), so a crash or a hang names the last test
that ran; ``--timeout S`` dumps every thread's stack and exits when the run takes longer.
"""

from __future__ import annotations

import argparse
import faulthandler
import fnmatch
import importlib
import io
import json
import os
import re
import sys
import tempfile
import time
import unittest
import warnings

MARK = "@@FRAMEAD-CPYTHON@@"
START = "@@START "


def _test_id(test) -> str:
    """The test's id without object addresses (subtest parameters print functions). Read
    through the class: a test may set ``self.id`` (test__xxsubinterpreters does)."""
    if isinstance(test, unittest.case._SubTest):
        tid = f"{_test_id(test.test_case)} {test._subDescription()}"
    else:
        try:
            tid = str(type(test).id(test))
        except Exception:  # noqa: BLE001 - any odd test object still gets a name
            tid = str(test)
    return re.sub(r" at 0x[0-9a-f]+", "", tid)


def _matches(test_id: str, patterns: list[str]) -> bool:
    """regrtest's ``-m``: a pattern matches the whole id or any dotted tail of it."""
    parts = test_id.split(".")
    tails = [".".join(parts[i:]) for i in range(len(parts))]
    return any(fnmatch.fnmatchcase(t, p) for p in patterns for t in tails)


def _filtered(suite: unittest.TestSuite, patterns: list[str],
              excluded: list[str]) -> unittest.TestSuite:
    """The suite with only the tests whose id matches one of ``patterns`` (all when empty)
    and none of ``excluded`` (suites kept, so class and module fixtures still run)."""
    kept = []
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            kept.append(_filtered(test, patterns, excluded))
        elif ((not patterns or _matches(_test_id(test), patterns))
              and not _matches(_test_id(test), excluded)):
            kept.append(test)
    return type(suite)(kept)


class _Outcomes(unittest.TestResult):
    """Each test id -> ok / fail / error / skip / xfail / xpass; each test's seconds."""

    def __init__(self, progress_fd: int) -> None:
        super().__init__()
        self.outcomes: dict[str, str] = {}
        self.seconds: dict[str, float] = {}
        self._fd = progress_fd
        self._t0 = 0.0

    def _text(self, err, test) -> str:
        return self._exc_info_to_string(err, test)[-600:]

    def startTest(self, test):  # noqa: N802 - unittest's names
        super().startTest(test)
        line = f"{START}{_test_id(test)}\n".encode("utf-8", "backslashreplace")
        try:
            os.write(self._fd, line)
        except OSError:  # a test closed or redirected it: the outcomes still count
            pass
        self._t0 = time.perf_counter()

    def stopTest(self, test):  # noqa: N802
        super().stopTest(test)
        self.seconds[_test_id(test)] = time.perf_counter() - self._t0

    def addSuccess(self, test):  # noqa: N802
        self.outcomes.setdefault(_test_id(test), "ok")  # (not over a failed subtest's)

    def addFailure(self, test, err):  # noqa: N802
        self.outcomes[_test_id(test)] = "fail: " + self._text(err, test)

    def addError(self, test, err):  # noqa: N802
        # also class/module fixture errors, whose "test" is a placeholder
        self.outcomes[_test_id(test)] = "error: " + self._text(err, test)

    def addSkip(self, test, reason):  # noqa: N802
        self.outcomes[_test_id(test)] = "skip"

    def addExpectedFailure(self, test, err):  # noqa: N802
        self.outcomes[_test_id(test)] = "xfail"

    def addUnexpectedSuccess(self, test):  # noqa: N802
        self.outcomes[_test_id(test)] = "xpass"

    def addSubTest(self, test, subtest, err):  # noqa: N802
        """A failing subtest fails its test (one outcome per test method; unittest reports
        no success for it), named in the message."""
        tid = _test_id(test)
        if err is not None and not self.outcomes.get(tid, "").startswith(("fail", "error")):
            kind = "fail" if issubclass(err[0], test.failureException) else "error"
            self.outcomes[tid] = f"{kind}: {subtest._subDescription()} {self._text(err, test)}"


def run_module(name: str, patterns: list[str] = (), excluded: list[str] = (),
               progress_fd: int = 2) -> tuple[dict[str, str], dict[str, float]]:
    """Import ``test.<name>`` and run its tests (those matching ``patterns``, if given, and
    not ``excluded``); returns (test id -> outcome, test id -> seconds)."""
    from test import support

    support.verbose = 0
    result = _Outcomes(progress_fd)
    try:
        module = importlib.import_module(f"test.{name}")
    except unittest.SkipTest as e:  # the module skips itself (a missing resource, platform)
        return {f"test.{name}": f"skip: {e}"}, {}
    loader = unittest.TestLoader()
    suite = loader.loadTestsFromModule(module)
    for error in loader.errors:
        result.outcomes[f"test.{name} (loading)"] = "error: " + error[-600:]
    if patterns or excluded:
        suite = _filtered(suite, patterns, excluded)
    out, err = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = io.StringIO()  # the tests' own chatter
    try:
        suite.run(result)
    finally:
        sys.stdout, sys.stderr = out, err
    return result.outcomes, result.seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("module")
    ap.add_argument("--mode", choices=("native", "capture"), default="native")
    ap.add_argument("--tests", action="append", default=[], metavar="PATTERN",
                    help="run only tests whose id (or a dotted tail of it) matches; repeatable")
    ap.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                    help="leave out the tests that match; repeatable")
    ap.add_argument("--use", default="", help="regrtest resources to enable (cpu,decimal,...)")
    ap.add_argument("--timeout", type=float, default=0.0,
                    help="dump every thread's stack and exit after this many seconds")
    a = ap.parse_args(argv)

    from test import support

    support.use_resources = [r for r in a.use.split(",") if r]
    faulthandler.enable(file=sys.__stderr__, all_threads=True)
    if a.timeout > 0:
        faulthandler.dump_traceback_later(a.timeout, exit=True, file=sys.__stderr__)
    report: dict = {"module": a.module, "mode": a.mode}
    progress_fd = os.dup(2)  # the tests may redirect fd 2; progress lines still get out
    cwd = os.getcwd()
    if cwd not in sys.path and "" in sys.path:
        sys.path.insert(0, cwd)  # the harness' own package, found after the chdir
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="framead-cpython-") as work:
        os.chdir(work)  # files the tests leave behind go there, as under regrtest
        try:
            if a.mode == "native":
                outcomes, seconds = run_module(a.module, a.tests, a.exclude, progress_fd)
            else:
                import framead

                box: dict = {}

                def program(x):
                    box["run"] = run_module(a.module, a.tests, a.exclude, progress_fd)
                    return x * 1.0

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", framead.GradientWarning)
                    report["grad"] = framead.grad(program)(1.0)
                outcomes, seconds = box["run"]
        finally:
            os.chdir(cwd)
    faulthandler.cancel_dump_traceback_later()
    report["seconds"] = round(time.perf_counter() - start, 2)
    report["outcomes"] = outcomes
    report["slowest"] = dict(sorted(((t, round(s, 2)) for t, s in seconds.items()),
                                    key=lambda ts: -ts[1])[:5])
    sys.stdout.write("\n" + MARK + json.dumps(report) + "\n")
    sys.stdout.flush()
    os.write(progress_fd, f"{START}(every test done: interpreter shutdown)\n".encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
