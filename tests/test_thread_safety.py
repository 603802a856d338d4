"""Thread safety of framead's shared state: the rule registry, rule pack installs, the
operator tables of the C fast path and per-thread options.

Each test makes two threads meet at the spot where shared state used to be corrupted (a
barrier, events, or a callee slowed by monkeypatching), and checks gradients against their
analytic values. Probes that need a fresh interpreter (rule packs not yet installed) or that
register rules for good run in a subprocess.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import threading

import pytest

import framead

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(src: str, timeout: float = 60) -> dict:
    """Run ``src`` in a fresh interpreter; it prints one JSON object last."""
    env = {**os.environ, "PYTHONPATH": ROOT}
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(src)], capture_output=True,
                       text=True, timeout=timeout, env=env, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_adjoint_options_of_one_thread_do_not_reach_another():
    """``adjoint_options`` were one process-wide stack: a capture ran its adjoint with the
    (loose) options of a block open in another thread, and a block closing in one thread
    popped the entry of another thread's block."""
    pytest.importorskip("scipy.integrate")
    from scipy.integrate import solve_ivp

    from framead.ode import adjoint_options

    def f(k):  # y'' = -k y, y(0) = 1: y(T) = cos(sqrt(k) T)
        sol = solve_ivp(lambda t, y: [y[1], -k * y[0]], (0.0, 6.0), [1.0, 0.0],
                        rtol=1e-10, atol=1e-12)
        return sol.y[0, -1]

    k, T = 0.7, 6.0
    want = -math.sin(math.sqrt(k) * T) * T / (2 * math.sqrt(k))
    inside, leave, left = threading.Event(), threading.Event(), threading.Event()

    def other():  # loose options: about 1e-5 of error in this gradient
        with adjoint_options(rtol=0.5, atol=0.5, method="RK23"):
            inside.set()
            leave.wait(30)
        left.set()

    t = threading.Thread(target=other)
    got = []
    with adjoint_options(rtol=1e-10, atol=1e-12):
        t.start()
        assert inside.wait(30)
        try:
            got.append(framead.grad(f)(k))  # the other block is open
        finally:
            leave.set()
            t.join(30)
        assert left.is_set()
        got.append(framead.grad(f)(k))  # the other block closed: this one is still open
    got.append(framead.grad(f)(k))  # no block at all
    assert [abs(g - want) < 1e-7 for g in got] == [True] * 3, (got, want)


def test_rules_registered_while_other_threads_capture():
    """Registering and unregistering rules in one thread while others capture and list the
    rules: readers walked the registry's live dicts (``configure_flags`` at each capture's
    start, ``iter_rules``), and raised "dictionary changed size during iteration"."""
    out = _run("""
        import json, math, sys, threading, traceback
        sys.setswitchinterval(1e-6)
        import framead
        from framead import rules
        stop, errors, bar = threading.Event(), [], threading.Barrier(3)

        def registrar():
            bar.wait()
            i = 0
            while not stop.is_set():
                fns = [(lambda x, _i=i * 100 + j: x) for j in range(50)]
                for fn in fns:
                    rules.register(fn, vjp=lambda g, ans, x: g, saves={0: ()})
                for fn in fns:
                    rules.unregister(fn)
                i += 1

        def capturer():
            bar.wait()
            for k in range(150):
                x = 0.3 + k * 1e-3
                try:
                    g = framead.grad(lambda x: math.sin(x) * x)(x)
                    if abs(g - (math.cos(x) * x + math.sin(x))) > 1e-12:
                        errors.append(f"wrong gradient {g} at {x}")
                    list(rules.iter_rules())
                    rules.ruled_callables()
                except Exception:
                    errors.append(traceback.format_exc(limit=3)[-600:])

        r = threading.Thread(target=registrar)
        cs = [threading.Thread(target=capturer) for _ in range(2)]
        for t in (r, *cs):
            t.start()
        for t in cs:
            t.join(60)
        stop.set()
        r.join(60)
        print(json.dumps({"errors": errors[:3], "n": len(errors)}))
    """)
    assert out["n"] == 0, out["errors"]


def test_rule_pack_installs_while_another_thread_registers():
    """A rule pack's rules were those registered between the start and the end of its
    install, whoever registered them: another thread's rules counted as framead's own (their
    cotangents unchecked, an inline formula used in place of their VJP), and a registration
    during the install's walk of the registry failed the install for good (the pack's
    functions then had no rules in the whole process)."""
    pytest.importorskip("scipy.special")
    pytest.importorskip("scipy.signal")
    out = _run("""
        import importlib, json, math, sys, threading, warnings
        sys.setswitchinterval(1e-6)
        import numpy as np
        import framead
        from framead import rules
        warnings.simplefilter("error", RuntimeWarning)
        mine, problems = [], []

        for trigger in ("scipy.special", "scipy.signal"):  # each installs packs once
            importlib.import_module(trigger)
            go, done = threading.Event(), threading.Event()

            def registrar():
                go.set()
                while not done.is_set() and len(mine) < 200000:
                    fn = lambda x: x
                    mine.append(rules.register(fn, vjp=lambda g, ans, x: g, saves={0: ()}))

            t = threading.Thread(target=registrar)
            t.start()
            go.wait()
            try:  # this capture installs the packs
                framead.grad(lambda x: math.sin(x) * x)(0.3)
            except Exception as e:
                problems.append(repr(e))
            done.set()
            t.join()
        import scipy.special
        x = 0.4
        g = framead.grad(lambda x: scipy.special.erf(x) * x)(x)
        want = scipy.special.erf(x) + x * 2 / math.sqrt(math.pi) * math.exp(-x * x)
        shipped = {id(r) for r in rules.library_rules()}
        print(json.dumps({
            "registered": len(mine), "counted_as_shipped": sum(id(r) in shipped for r in mine),
            "packs": {n: len(rules.library_rules(n)) for n in
                      ("scipy_rules", "scipy_special_rules", "scipy_signal_rules")},
            "problems": problems, "grad_error": abs(float(g) - want)}))
    """)
    assert out["problems"] == [], out
    assert out["registered"] > 0 and out["counted_as_shipped"] == 0, out
    assert all(n > 0 for n in out["packs"].values()), out
    assert out["grad_error"] < 1e-12, out


def test_operator_tables_made_while_a_rule_replaces_an_operator():
    """The C fast path's operator tables (capture/handlers.py) were made and labelled apart:
    a thread still making them from the old rules could hand its stale tables to a thread that
    had just replaced ``operator.mul``'s rule, whose captures then recorded the old rule (its
    own VJP never ran). ``_fast_tables`` is slowed so that both threads are in it at once."""
    out = _run("""
        import json, math, operator, sys, threading, time
        import framead
        from framead import rules
        from framead.capture import handlers
        made = handlers._fast_tables

        def slow():
            tables = made()
            time.sleep(0.2)  # (the other thread makes its tables meanwhile)
            return tables

        handlers._fast_tables = slow
        x, res = 1.5, {}
        f = lambda x: x * 3.0
        a = threading.Thread(target=lambda: res.setdefault("a", framead.grad(f)(x)))
        a.start()
        time.sleep(0.05)  # a is making the tables from the shipped rules
        # a user's rule for *: its VJP scales the cotangent by 10 (told apart from the shipped)
        rules.register(operator.mul, replace=True, vjp=(lambda g, ans, u, v: 10 * g * v,
                       lambda g, ans, u, v: 10 * g * u), saves={0: (1,), 1: (0,)})
        res["b"] = framead.grad(f)(x)
        a.join()
        res["c"] = framead.grad(f)(x)
        print(json.dumps(res))
    """)
    assert out["b"] == 30.0 and out["c"] == 30.0, out  # the user's rule: 10 * 3
    assert out["a"] in (3.0, 30.0), out  # (before or after the replacement)


def test_flag_table_is_loaded_with_the_guard_flags_while_guards_are_recorded(monkeypatch):
    """While some thread records a cached trace (guards), choosing callables such as ``max``
    must always come to dispatch. When the rules change, the callable-flag table is loaded
    again: it must hold the guard flags as it is loaded (set one by one afterwards, another
    thread recording guards could run ``max`` natively in between, its choice unguarded, and
    the cached trace would later replay it unchecked)."""
    from framead.capture import _evalframe as C
    from framead.capture import session

    seen = []
    real_load = C.load_callable_flags

    def load(table):
        real_load(table)
        seen.append(C.get_callable_flags(max))  # (what another thread would see now)

    monkeypatch.setattr(C, "load_callable_flags", load)
    monkeypatch.setattr(C, "guard_users", lambda: 1)  # (some thread records guards)
    session._flags_key[0] = None  # (the rules changed: load again)
    session._refresh_flags()
    assert seen and seen[-1] & C.ALWAYS
    monkeypatch.undo()
    session._flags_key[0] = None  # (back to this process's own flags)
    session._refresh_flags()
    assert not C.get_callable_flags(max) & C.ALWAYS or C.guard_users() > 0
    assert framead.grad(lambda x: max(x, 0.5) * x, cache=True)(2.0) == 4.0
