"""Run one of CPython's own test modules natively or under framead's capture.

``python -m tests.cpython.harness test_enum --mode capture`` imports ``test.test_enum`` and
runs its unittest suite inside ``framead.grad(f)(1.0)`` (every frame instrumented), then
prints one JSON object: each test's outcome, and the gradient (which must be 1.0). The
pytest side (tests/test_cpython_under_capture.py) runs both modes in subprocesses, with a
timeout, and compares them: a crash, a hang or any differing outcome fails.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import re
import sys
import unittest
import warnings


def _test_id(test) -> str:
    """The test's id without object addresses (subtest parameters print functions)."""
    return re.sub(r" at 0x[0-9a-f]+", "", str(getattr(test, "id", lambda: test)()))


class _Outcomes(unittest.TestResult):
    """Each test id -> ok / fail / error / skip / xfail / xpass."""

    def __init__(self) -> None:
        super().__init__()
        self.outcomes: dict[str, str] = {}

    def addSuccess(self, test):  # noqa: N802 - unittest's names
        self.outcomes[_test_id(test)] = "ok"

    def addFailure(self, test, err):  # noqa: N802
        self.outcomes[_test_id(test)] = "fail: " + self._exc_info_to_string(err, test)[-600:]

    def addError(self, test, err):  # noqa: N802
        self.outcomes[_test_id(test)] = (
            "error: " + self._exc_info_to_string(err, test)[-600:])

    def addSkip(self, test, reason):  # noqa: N802
        self.outcomes[_test_id(test)] = "skip"

    def addExpectedFailure(self, test, err):  # noqa: N802
        self.outcomes[_test_id(test)] = "xfail"

    def addUnexpectedSuccess(self, test):  # noqa: N802
        self.outcomes[_test_id(test)] = "xpass"

    def addSubTest(self, test, subtest, err):  # noqa: N802
        if err is not None:
            kind = "fail" if issubclass(err[0], test.failureException) else "error"
            text = self._exc_info_to_string(err, test)[-600:]
            self.outcomes[_test_id(subtest)] = f"{kind}: {text}"


def run_module(name: str) -> dict[str, str]:
    """Import ``test.<name>`` and run its tests; returns the outcomes."""
    from test import support

    support.verbose = 0
    module = importlib.import_module(f"test.{name}")
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    result = _Outcomes()
    out, err = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = io.StringIO()  # the tests' own chatter
    try:
        suite.run(result)
    finally:
        sys.stdout, sys.stderr = out, err
    return result.outcomes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("module")
    ap.add_argument("--mode", choices=("native", "capture"), default="native")
    a = ap.parse_args(argv)
    report: dict = {"module": a.module, "mode": a.mode}
    if a.mode == "native":
        report["outcomes"] = run_module(a.module)
    else:
        import framead

        box: dict = {}

        def program(x):
            box["outcomes"] = run_module(a.module)
            return x * 1.0

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", framead.GradientWarning)
            report["grad"] = framead.grad(program)(1.0)
        report["outcomes"] = box["outcomes"]
    sys.stdout.write("\n@@FRAMEAD-CPYTHON@@" + json.dumps(report) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
