"""CPython's own test modules, natively and under capture: the outcomes must be identical.

Each module runs twice in a fresh interpreter (tests/cpython/harness.py): natively, and
imported and run inside ``framead.grad(f)(1.0)`` with every frame instrumented. A crash, a
hang (timeout) or any test whose outcome differs fails. ``FAST`` runs in ``make test``;
``make test-cpython`` (FRAMEAD_CPYTHON=all) runs ``FULL``. Differences that are expected,
with the reason, go in ``EXPECTED_DIFFERENCES`` (module -> {test id: reason}).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

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
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARK = "@@FRAMEAD-CPYTHON@@"


def _run(module: str, mode: str) -> dict:
    cmd = [sys.executable, "-X", "faulthandler", "-m", "tests.cpython.harness", module,
           "--mode", mode]
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{module} hung ({mode}, over {TIMEOUT:.0f} s):\n{(e.stderr or '')[-3000:]}")
    if p.returncode != 0 or MARK not in p.stdout:
        pytest.fail(f"{module} ({mode}) exited with {p.returncode}:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.rsplit(MARK, 1)[1])


@pytest.mark.parametrize("module", MODULES)
def test_module_behaves_as_natively(module):
    native = _run(module, "native")["outcomes"]
    report = _run(module, "capture")
    assert report["grad"] == 1.0
    captured = report["outcomes"]
    expected = EXPECTED_DIFFERENCES.get(module, {})
    diffs = {t: (native.get(t), captured.get(t)) for t in native.keys() | captured.keys()
             if native.get(t, "").split(":")[0] != captured.get(t, "").split(":")[0]
             and t not in expected}
    assert not diffs, "\n".join(f"{t}\n  native:  {n}\n  capture: {c}"
                                for t, (n, c) in sorted(diffs.items())[:20])
    stale = [t for t in expected if native.get(t, "").split(":")[0]
             == captured.get(t, "").split(":")[0]]
    assert not stale, f"listed as differing but now identical (remove them): {stale}"
