"""CPython's own test modules, natively and under capture: the outcomes must be identical.

Each module runs twice in a fresh interpreter (tests/cpython/harness.py, driven by
tests/cpython/compare.py): natively, and imported and run inside ``framead.grad(f)(1.0)``
with every frame instrumented. A crash, a hang (timeout; the message names the last test
that started) or any test whose outcome differs fails. ``FAST`` runs in ``make test`` (about
three minutes); ``make test-cpython`` (FRAMEAD_CPYTHON=all) runs ``FULL`` (about 25
minutes); the lists are in tests/cpython/modules.txt. Differences that are inherent, with the
reason, go in ``EXPECTED_DIFFERENCES`` (module -> {test id: reason}); modules left out go in
``NOT_RUN`` with the reason. Findings, timings and causes: tests/cpython/FINDINGS.md.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
from cpython import compare

LISTS = compare.module_lists()  # tests/cpython/modules.txt
FAST, SLOW, MORE, SKIPPED = LISTS["FAST"], LISTS["SLOW"], LISTS["MORE"], LISTS["SKIPPED"]
# (NEW: modules of 3.12/3.13 that 3.11 lacks; each list is cut to the running interpreter's)
FULL = FAST + SLOW + MORE + LISTS["NEW"]
HERE = {m for m in FULL + SKIPPED if importlib.util.find_spec(f"test.{m}") is not None}
FAST, FULL = [m for m in FAST if m in HERE], [m for m in FULL if m in HERE]
NOT_RUN = {"test_socket": "hangs natively (ThreadedVSOCKSocketStreamTest.testStream: vsock)",
           **dict.fromkeys(SKIPPED, "skips itself here")}
_SPECIALIZED = ("inherent: only framead's instrumented copy of a code object runs, so the "
                "original is never quickened or specialized (dis(adaptive=True) shows it "
                "as compiled)")
_C_STACK = ("inherent: 3.12+ run Python-to-Python calls without C stack; under the hook every "
            "call uses C stack, and framead raises RecursionError at its C-stack guard (about "
            "9,000 levels in an 8 MiB stack) instead of crashing")
_C_API_LASTI = ("inherent: C code reading a frame (PyFrame_GetLasti) sees the instrumented "
                "code's offset; Python's f_lasti shows the original (docs/internals.md, frame "
                "views)")
EXPECTED_DIFFERENCES: dict[str, dict[str, str]] = {
    "test_dis": dict.fromkeys([
        "test.test_dis.DisTests.test_binary_specialize",
        "test.test_dis.DisTests.test_call_specialize",
        "test.test_dis.DisTests.test_loop_quicken", "test.test_dis.DisTests.test_show_caches",
        "test.test_dis.DisWithFileTests.test_binary_specialize",
        "test.test_dis.DisWithFileTests.test_call_specialize",
        "test.test_dis.DisWithFileTests.test_loop_quicken",
        "test.test_dis.DisWithFileTests.test_show_caches"], _SPECIALIZED),
}
# Tests whose outcome depends on timing, natively too: a difference is allowed, not required.
MAY_DIFFER: dict[str, dict[str, str]] = {
    "test_int": dict.fromkeys([
        f"test.test_int.{cls}.test_denial_of_service_prevented_{way}"
        for cls in ("IntStrDigitLimitsTests", "IntSubclassStrDigitLimitsTests")
        for way in ("int_to_str", "str_to_int")],
        "timing: the test skips itself when its conversion takes under 1/64 s, so whether "
        "it runs or skips depends on the machine's load and clock"),
}
if sys.version_info >= (3, 12):
    EXPECTED_DIFFERENCES.update({
        "test_call": {"test.test_call.TestRecursion.test_super_deep": _C_STACK},
        "test_frame": {"test.test_frame.TestCAPI.test_frame_getters": _C_API_LASTI},
        "test_sys_settrace": dict.fromkeys([
            "test.test_sys_settrace.SkipLineEventsTraceTestCase.test_20_async_for_loop",
            "test.test_sys_settrace.TestLinesAfterTraceStarted.test_20_async_for_loop",
            "test.test_sys_settrace.TestSetLocalTrace.test_20_async_for_loop",
            "test.test_sys_settrace.TraceOpcodesTestCase.test_20_async_for_loop",
            "test.test_sys_settrace.TraceTestCase.test_20_async_for_loop"],
            "inherent: with any PEP 523 function set (one that only passes frames through "
            "too), CPython 3.12 runs SEND unspecialised and sys.settrace sees the 'exception' "
            "event of each async-for step twice"),
    })
if sys.version_info >= (3, 13):
    # (a key ending in ".*" covers every test of that class)
    EXPECTED_DIFFERENCES["test_opcache"] = dict.fromkeys([
        "test.test_opcache.TestCallCache.test_assign_init_code",
        "test.test_opcache.TestRacesDoNotCrash.*"], _SPECIALIZED)
TIMEOUT = float(os.environ.get("FRAMEAD_CPYTHON_TIMEOUT", "300"))
MODULES = FULL if os.environ.get("FRAMEAD_CPYTHON") == "all" else FAST


def _run(module: str, mode: str) -> dict:
    try:
        return compare.run(module, mode, TIMEOUT)
    except compare.HarnessFailure as e:
        pytest.fail(str(e))


@pytest.mark.parametrize("module", MODULES)
def test_module_behaves_as_natively(module):
    native = _run(module, "native")["outcomes"]
    report = _run(module, "capture")
    assert report["grad"] == 1.0
    expected = EXPECTED_DIFFERENCES.get(module, {})
    every = compare.differences(native, report["outcomes"])
    allowed = {**expected, **MAY_DIFFER.get(module, {})}
    diffs = {t: d for t, d in every.items() if not _listed(t, allowed)}
    assert not diffs, compare.format_differences(diffs)
    captured = report["outcomes"]
    stale = [t for t in expected if (not any(_listed(d, {t: ""}) for d in every)
                                     if t.endswith(".*") else
                                     compare.kind(native.get(t)) == compare.kind(captured.get(t)))]
    assert not stale, f"listed as differing but now identical (remove them): {stale}"


def _listed(test: str, expected: dict) -> bool:
    return test in expected or any(k.endswith(".*") and test.startswith(k[:-1])
                                   for k in expected)


def test_every_cpython_test_module_is_listed():
    """Each module ``python -m test --list-tests`` names is run (FULL) or left out with a
    reason (NOT_RUN), once."""
    listed = subprocess.run([sys.executable, "-m", "test", "--list-tests"], capture_output=True,
                            text=True, check=True).stdout.split()
    modules = {name.split(".")[1] if name.startswith("test.") else name for name in listed}
    assert len(set(FULL)) == len(FULL), "a module is listed twice"
    assert not set(FULL) & set(NOT_RUN)
    here = set(FULL) | (set(NOT_RUN) & HERE) | {"test_socket"} & modules
    assert modules == here, (modules ^ here)
    assert set(EXPECTED_DIFFERENCES) <= set(FULL)
