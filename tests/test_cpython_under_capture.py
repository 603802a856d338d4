"""CPython's own test modules, natively and under capture: the outcomes must be identical.

Each module runs twice in a fresh interpreter (tests/cpython/harness.py, driven by
tests/cpython/compare.py): natively, and imported and run inside ``framead.grad(f)(1.0)``
with every frame instrumented. A crash, a hang (timeout; the message names the last test
that started) or any test whose outcome differs fails. ``FAST`` runs in ``make test``;
``make test-cpython`` (FRAMEAD_CPYTHON=all) runs ``FULL``. Differences that are inherent,
with the reason, go in ``EXPECTED_DIFFERENCES`` (module -> {test id: reason}); modules left
out go in ``NOT_RUN`` with the reason. Findings, timings and causes:
tests/cpython/FINDINGS.md.
"""

from __future__ import annotations

import os

import pytest
from cpython.compare import HarnessFailure, differences, format_differences, kind, run

FAST = ["test_bool", "test_int", "test_float", "test_math", "test_complex", "test_fractions",
        "test_statistics", "test_contextlib", "test_dataclasses", "test_scope",
        "test_exceptions", "test_generators", "test_functools", "test_itertools", "test_enum",
        "test_operator", "test_keywordonlyarg", "test_positional_only_arg", "test_unpack",
        "test_with", "test_raise", "test_class", "test_property", "test_super",
        "test_list", "test_dict", "test_tuple", "test_string", "test_sort", "test_heapq",
        "test_bisect", "test_copy", "test_abc", "test_decorators", "test_dictcomps",
        "test_listcomps", "test_setcomps", "test_genexps", "test_named_expressions",
        "test_patma", "test_augassign", "test_binop", "test_compare", "test_richcmp",
        "test_opcodes", "test_pow", "test_long", "test_random", "test_collections",
        "test_typing"]
SLOW = ["test_descr", "test_weakref", "test_threading", "test_sys_settrace", "test_gc",
        "test_inspect", "test_traceback", "test_sys", "test_coroutines", "test_asyncgen",
        "test_json", "test_decimal", "test_re", "test_pickle", "test_grammar",
        "test_builtin", "test_types", "test_set", "test_userdict", "test_deque"]
FULL = FAST + SLOW
EXPECTED_DIFFERENCES: dict[str, dict[str, str]] = {}
TIMEOUT = float(os.environ.get("FRAMEAD_CPYTHON_TIMEOUT", "300"))
MODULES = FULL if os.environ.get("FRAMEAD_CPYTHON") == "all" else FAST


def _run(module: str, mode: str) -> dict:
    try:
        return run(module, mode, TIMEOUT)
    except HarnessFailure as e:
        pytest.fail(str(e))


@pytest.mark.parametrize("module", MODULES)
def test_module_behaves_as_natively(module):
    native = _run(module, "native")["outcomes"]
    report = _run(module, "capture")
    assert report["grad"] == 1.0
    expected = EXPECTED_DIFFERENCES.get(module, {})
    diffs = {t: d for t, d in differences(native, report["outcomes"]).items()
             if t not in expected}
    assert not diffs, format_differences(diffs)
    stale = [t for t in expected if kind(native.get(t)) == kind(report["outcomes"].get(t))]
    assert not stale, f"listed as differing but now identical (remove them): {stale}"
