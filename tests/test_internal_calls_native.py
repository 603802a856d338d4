"""framead's own work during a capture runs natively: library code that framead's handlers
call for themselves (``inspect.signature`` for a rule's parameter names) is not instrumented
as the program's code is (rewriting inspect's frames cost ~7 ms on a process's first
``np.sum`` under capture, and their probes ran on every later call)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _rewritten_files(body: str) -> dict:
    code = textwrap.dedent("""
        import inspect, json, math
        import numpy as np, framead
        from framead.capture import session
        """) + textwrap.dedent(body) + textwrap.dedent("""
        files = sorted({ref().co_filename for ref, _, _ in session._rewritten.values()
                        if ref() is not None})
        print("@@" + json.dumps({"files": files, "grad": list(map(float, g))}))
        """)
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                       text=True, timeout=120, env={**os.environ, "PYTHONPATH": ROOT})
    assert p.returncode == 0, p.stderr[-2000:]
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("@@")][-1]
    return json.loads(line[2:])


def test_rule_signatures_are_read_natively():
    """np.sum's and np.clip's rules ask for their functions' parameter names: inspect's code
    is not rewritten, and the gradient is right."""
    out = _rewritten_files("""
        def f(x):
            return np.sum(np.clip(x, 0.0, 10.0) ** 2) + np.mean(x)
        x = np.array([0.5, 1.5, 2.5])
        g = framead.grad(f)(x)
        """)
    import inspect
    assert inspect.__file__ not in out["files"]
    x = [0.5, 1.5, 2.5]
    assert out["grad"] == [2 * v + 1 / 3 for v in x]


def test_the_programs_own_use_of_inspect_is_still_instrumented():
    """The program's own code that calls inspect keeps running as the program's code: a
    function the program defines is rewritten, and a gradient through it is right."""
    out = _rewritten_files("""
        def scale(x):
            return len(inspect.signature(scale).parameters) * x
        def f(x):
            return np.sum(scale(x) ** 2)
        x = np.array([1.0, 2.0])
        g = framead.grad(f)(x)
        """)
    assert "<string>" in out["files"]  # (the program's functions, defined by -c)
    assert out["grad"] == [2.0, 4.0]
