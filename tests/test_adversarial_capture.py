"""Adversarial probes of the capture: threads, signals, recursion, jumps and tracers, lifetime.

Each probe is what a hostile reviewer would try against the promise (README, issue 12): under
capture a program's results, exceptions, frames and memory behave as natively, nothing is left
behind, nothing crashes or hangs whatever the thread, signal or recursion depth, and a gradient
is right or a hazard is reported. Crash-prone probes run in a subprocess (``-X faulthandler``)
with a timeout. Probes that fail today are strict xfails whose reason names the cause found;
a fix turns them into XPASS, which fails the run until the mark is removed.
``FRAMEAD_STRESS=1`` makes the stress probes longer.
"""

from __future__ import annotations

import concurrent.futures as cf
import gc
import json
import math
import os
import struct
import subprocess
import sys
import textwrap
import weakref

import numpy as np
import pytest
from framead.capture import _evalframe as C

import framead

STRESS = os.environ.get("FRAMEAD_STRESS") == "1"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# what a capture changes while it runs, as it must be outside any capture (this thread)
STATE = """
import gc as _gc, sys as _sys
from framead.capture import _evalframe as _C
def state():
    return (_C.install_depth(), _C.is_enabled(), _C.tracked_count(), _C.session_depth(),
            _C.visible_depth(), _gc.isenabled(), _sys.gettrace(), _sys.getprofile())
"""

# a SIGINT thread for the signal probes: mostly short intervals (the interrupt lands anywhere),
# some long ones (calls complete); INTERVAL scales them
KILLER = """
import random as _random, signal as _signal, threading as _threading, time as _time
_main = _threading.main_thread().ident
_stop = _threading.Event()
def _killer(seed, interval, long_frac):
    rnd = _random.Random(seed)
    while not _stop.is_set():
        r = rnd.random()
        _time.sleep(0.2 if r < long_frac else rnd.uniform(0, interval))
        _signal.pthread_kill(_main, _signal.SIGINT)
def start_killer(seed, interval, long_frac=0.2):
    t = _threading.Thread(target=_killer, args=(seed, interval, long_frac), daemon=True)
    t.start()
    return t
def stop_killer(t):
    while True:  # a pending SIGINT may still arrive while we switch it off
        try:
            _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
            break
        except KeyboardInterrupt:
            pass
    _stop.set()
    t.join()
    try:  # one delivered just before SIG_IGN and not yet handled
        _time.sleep(0)
    except KeyboardInterrupt:
        pass
"""


def _run(body: str, *args: str, timeout: float = 60,
         prelude: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``prelude`` + ``body`` (dedented) in a fresh interpreter (with ``env`` added to
    the environment); a hang is a returncode of -9 (never an exception)."""
    code = prelude + textwrap.dedent(body)
    try:
        return subprocess.run([sys.executable, "-X", "faulthandler", "-W", "ignore", "-c", code,
                               *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout,
                              env={**os.environ, **(env or {}), "PYTHONPATH": ROOT})
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        return subprocess.CompletedProcess(e.cmd, -9, out, err + f"\n[hung: killed after "
                                           f"{timeout} s]")


def _result(p: subprocess.CompletedProcess):
    """The JSON a probe script printed after "@@" (asserting it ran to the end)."""
    assert p.returncode == 0, f"rc={p.returncode}\n{p.stdout[-1500:]}\n{p.stderr[-2500:]}"
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("@@")]
    assert lines, p.stdout[-1500:] + p.stderr[-1500:]
    return json.loads(lines[-1][2:])


def _assert_right_or_reported(f, want: float, x: float) -> None:
    """The promise: the gradient is right, or framead.coverage lists a hazard."""
    got = framead.grad(f)(x)
    codes = [e.code for e in framead.coverage(f, x).entries]
    assert got == want or codes, f"gradient {got} (want {want}) and no hazard"


# ============================================================================================
# 1. threads
# ============================================================================================

def test_sixteen_threads_every_entry_point_shared_functions_and_inputs():
    """grad / cache=True / jit(grad) / hessian / jacfwd / jacrev / value_and_grad / vjp / jvp,
    16 threads, one shared function object per kind, one shared input array (never modified),
    a switch interval of 1 us."""
    n = 30 if STRESS else 5
    out = _result(_run("""
        import json, sys, threading, math
        import numpy as np, framead
        sys.setswitchinterval(1e-6)
        def f_scalar(x):
            y = 0.0
            for i in range(4):
                y = y + math.sin(x * (i + 1)) * x if x > 0 else y - x ** 3
            return y
        def df_scalar(x):
            if x > 0:
                return sum(math.cos(x*(i+1))*(i+1)*x + math.sin(x*(i+1)) for i in range(4))
            return -12 * x**2
        def f_arr(a):
            b = np.empty_like(a)
            for i in range(len(a)):
                b[i] = a[i] * a[(i + 1) % len(a)]
            return np.sum(np.tanh(b))
        def df_arr(a):
            s = 1 / np.cosh(a * np.roll(a, -1)) ** 2
            return s * np.roll(a, -1) + np.roll(s * a, 1)
        def vec(a):
            return np.sin(a) * a[0]
        def jac_vec(a):
            J = np.diag(np.cos(a) * a[0]); J[:, 0] += np.sin(a); return J
        def hess_w(v):
            H = np.diag(6 * v * v[0]); H[0, :] += 3 * v**2; H[:, 0] += 3 * v**2; return H
        A = np.linspace(0.1, 0.9, 5); A0 = A.copy()
        sh = {'grad': framead.grad(f_scalar), 'cgrad': framead.grad(f_scalar, cache=True),
              'jitg': framead.jit(framead.grad(f_scalar)), 'agrad': framead.grad(f_arr),
              'cagrad': framead.grad(f_arr, cache=True),
              'hess': framead.hessian(lambda v: (v**3).sum() * v[0]),
              'jacfwd': framead.jacfwd(vec), 'jacrev': framead.jacrev(vec),
              'vag': framead.value_and_grad(f_arr)}
        errors = []
        def work(k, n):
            rng = np.random.default_rng(k)
            for it in range(n):
                x = float(rng.uniform(-1.5, 1.5))
                kind = (k + it) % 11
                try:
                    if kind == 0: got, want = sh['grad'](x), df_scalar(x)
                    elif kind == 1: got, want = sh['cgrad'](x), df_scalar(x)
                    elif kind == 2: got, want = sh['jitg'](x), df_scalar(x)
                    elif kind == 3: got, want = sh['agrad'](A), df_arr(A0)
                    elif kind == 4: got, want = sh['cagrad'](A), df_arr(A0)
                    elif kind == 5: got, want = sh['hess'](A), hess_w(A0)
                    elif kind == 6: got, want = sh['jacfwd'](A), jac_vec(A0)
                    elif kind == 7: got, want = sh['jacrev'](A), jac_vec(A0)
                    elif kind == 8:
                        v, g = sh['vag'](A)
                        got = np.r_[v, g]
                        want = np.r_[np.sum(np.tanh(A0 * np.roll(A0, -1))), df_arr(A0)]
                    elif kind == 9:
                        got = framead.vjp(vec, A)[1](np.ones(5))[0]
                        want = np.ones(5) @ jac_vec(A0)
                    else:
                        got = framead.jvp(vec, (A,), (np.ones(5),))[1]
                        want = jac_vec(A0) @ np.ones(5)
                    if not np.allclose(got, want, rtol=1e-9, atol=1e-12):
                        errors.append([k, kind, x, str(got), str(want)])
                except Exception as e:
                    errors.append([k, kind, repr(e)])
        ts = [threading.Thread(target=work, args=(k, int(sys.argv[1]))) for k in range(16)]
        for t in ts: t.start()
        for t in ts: t.join(120)
        print("@@" + json.dumps([sum(t.is_alive() for t in ts), errors[:5],
                                 bool(np.array_equal(A, A0)), repr(state())]))
    """, str(n), timeout=240, prelude=STATE))
    alive, errors, unchanged, st = out
    assert alive == 0, "a grad call hung"
    assert errors == []
    assert unchanged, "a capture modified the shared input array"
    assert st == repr((0, False, 0, 0, 0, True, None, None))


def test_first_calls_of_a_process_from_sixteen_threads_at_once():
    """Every thread's first call starts at the same moment (a barrier) in a fresh
    interpreter, so framead's lazily made tables are made by several threads at once. CI
    once saw a table made twice over (``fused_rules`` extended by two threads: every later
    reverse pass in that process raised ValueError). Several interpreters, each entry point
    first in turn."""
    script = """
        import json, sys, threading, math
        import numpy as np, framead
        sys.setswitchinterval(1e-6)
        def f_scalar(x):
            y = 0.0
            for i in range(3):
                y = y + math.sin(x * (i + 1)) * x
            return y
        def f_arr(a):
            b = np.empty_like(a)
            for i in range(len(a)):
                b[i] = a[i] * a[(i + 1) % len(a)]
            return np.sum(np.tanh(b[1:]))
        A = np.linspace(0.1, 0.9, 5)
        calls = [lambda: framead.grad(f_scalar)(0.3), lambda: framead.grad(f_arr)(A),
                 lambda: framead.grad(f_arr, cache=True)(A),
                 lambda: framead.hessian(lambda v: (v**3).sum() * v[0])(A),
                 lambda: framead.jacrev(lambda a: np.sin(a) * a[0])(A),
                 lambda: framead.jit(framead.grad(f_scalar))(0.3)]
        first = int(sys.argv[1])
        bar = threading.Barrier(16)
        got, errors = {}, []
        def work(k):
            bar.wait()
            for j in range(2):
                kind = (first + k + j) % len(calls)
                try:
                    got.setdefault(kind, []).append(np.asarray(calls[kind]()).tolist())
                except Exception as e:
                    errors.append(repr(e))
        ts = [threading.Thread(target=work, args=(k,)) for k in range(16)]
        for t in ts: t.start()
        for t in ts: t.join(120)
        agree = all(v == vs[0] for vs in got.values() for v in vs)
        print("@@" + json.dumps([sum(t.is_alive() for t in ts), errors[:3], agree, len(got)]))
    """
    with cf.ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda k: _run(script, str(k), timeout=120), range(6)))
    for p in runs:
        alive, errors, agree, kinds = _result(p)
        assert alive == 0, "a call hung"
        assert errors == []
        assert agree, "threads got different gradients for the same call"
        assert kinds == 6


def test_fused_rules_is_made_once_under_racing_threads(monkeypatch):
    """The table the reverse pass's fused steps are chosen by is made whole, once: threads
    that race to make it (its rule lookup yields the GIL here) all get the same two rules."""
    import threading
    import time

    from framead import reverse_source
    real_lookup = reverse_source.rules.lookup

    class _SlowRules:
        @staticmethod
        def lookup(fn):
            time.sleep(0.002)  # every racing thread is inside the lazy init now
            return real_lookup(fn)

    monkeypatch.setattr(reverse_source, "rules", _SlowRules)
    want = None
    for _ in range(3):
        monkeypatch.setattr(reverse_source, "_FUSED_RULES", ())
        bar, out = threading.Barrier(8), []
        ts = [threading.Thread(target=lambda: (bar.wait(), out.append(
            reverse_source.fused_rules()))) for _ in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        want = want or out[0]
        assert len(out) == 8 and all(o == want and len(o) == 2 for o in out)
        assert reverse_source.fused_rules() == want


def test_thread_scenarios_generators_locals_queues_exceptions():
    out = _result(_run("""
        import json, queue, sys, threading, concurrent.futures as cf
        import numpy as np, framead
        sys.setswitchinterval(1e-6)
        res = {}
        # a generator made in a finished capture, advanced in a thread that captures
        def gen_scale(k):
            v = yield
            while True:
                v = yield v * k
        def A_f(x):
            g = gen_scale(x); next(g); res['g'] = g
            return x * 1.0
        framead.grad(A_f)(2.0)
        def B_f(y):
            return res['g'].send(y)
        box = []
        t = threading.Thread(target=lambda: box.append(framead.grad(B_f)(3.0)))
        t.start(); t.join()
        res['gen_other_thread'] = box[0]
        # a generator expression made in the capture, consumed in a pool worker: reported
        def f2(x):
            g = (x * k for k in range(3))
            with cf.ThreadPoolExecutor(1) as p:
                return sum(p.submit(lambda: list(g)).result())
        res['genexp_in_worker'] = [e.code for e in framead.coverage(f2, 1.0).entries]
        # threading.local under concurrent captures
        loc = threading.local()
        def f3(x):
            loc.v = x * 2.0
            for _ in range(20): loc.v = loc.v * 1.0
            return loc.v * x
        errs = []
        def w3(k):
            for i in range(15):
                x = 0.5 + k + i * 0.01
                g = framead.grad(f3)(x)
                if abs(g - 4 * x) > 1e-9: errs.append([k, x, g])
        ts = [threading.Thread(target=w3, args=(k,)) for k in range(6)]
        [t.start() for t in ts]; [t.join(60) for t in ts]
        res['local_errors'] = errs
        # queue ping-pong with an untraced worker: reported
        def f4(x):
            q1, q2 = queue.Queue(), queue.Queue()
            def echo():
                for _ in range(3): q2.put(q1.get() + 0)
            t = threading.Thread(target=echo); t.start()
            y = x
            for _ in range(3):
                q1.put(y); y = q2.get() * 1.5
            t.join()
            return y
        res['ping_pong'] = [e.code for e in framead.coverage(f4, 1.0).entries]
        # an exception in a worker thread started by the capture; its excepthook runs
        def f5(x):
            seen = []
            old = threading.excepthook
            threading.excepthook = lambda a: seen.append(a.exc_type.__name__)
            t = threading.Thread(target=lambda: 1 / 0); t.start(); t.join()
            threading.excepthook = old
            return x * len(seen)
        res['worker_exception'] = framead.grad(f5)(1.0)
        # a lock and a condition shared by the capture and a worker that calls grad
        cond = threading.Condition(); out = []
        def worker():
            with cond:
                cond.wait_for(lambda: out)
                out.append(framead.grad(lambda z: z ** 3)(out[0]))
                cond.notify_all()
        def f6(x):
            t = threading.Thread(target=worker); t.start()
            with cond:
                out.append(2.0); cond.notify_all()
                cond.wait_for(lambda: len(out) == 2, timeout=30)
            t.join(30)
            return x * out[1]
        res['condition'] = framead.grad(f6)(1.0)
        del res['g']
        print("@@" + json.dumps(res))
    """))
    assert out["gen_other_thread"] == 2.0
    assert out["genexp_in_worker"] and set(out["genexp_in_worker"]) == {"FA109"}
    assert out["local_errors"] == []
    assert out["ping_pong"] and set(out["ping_pong"]) == {"FA109"}
    assert out["worker_exception"] == 1.0
    assert out["condition"] == 12.0


def test_worker_thread_uses_of_traced_values_are_reported():
    """A pool worker given a traced value: numeric uses are FA109; storing or returning it
    unchanged keeps the gradient."""
    pool = cf.ThreadPoolExecutor(1)
    run = lambda fn: pool.submit(fn).result()  # noqa: E731
    reported = {
        "np.sin": lambda x: run(lambda: np.sin(x)),
        "math.sin": lambda x: run(lambda: math.sin(x)),
        "mul": lambda x: run(lambda: x * 2.0),
        "json": lambda x: float(json.loads(run(lambda: json.dumps({"a": x})))["a"]),
        "sum": lambda x: run(lambda: sum([x, x])),
        "np.array": lambda x: run(lambda: np.array([x, x])).sum(),
        "struct": lambda x: struct.unpack("d", run(lambda: struct.pack("d", x)))[0],
    }
    unchanged = {"list": lambda x: run(lambda: [x, 1.0])[0],
                 "dict": lambda x: run(lambda: {"a": x})["a"],
                 "identity": lambda x: run(lambda: x)}
    try:
        for name, f in reported.items():
            assert "FA109" in [e.code for e in framead.coverage(f, 0.7).entries], name
        for name, f in unchanged.items():
            assert framead.grad(f, strict=True)(0.7) == 1.0, name
    finally:
        pool.shutdown()


# worker threads serving a queue: one computes inline, one through a call
QUEUE_WORKERS = """
import json, queue, threading
import framead
inq, outq = queue.Queue(), queue.Queue()
def square(v): return v * v
def worker_inline():
    while True:
        item = inq.get()
        outq.put(item * item)
def worker_calling():
    while True:
        outq.put(square(inq.get()))
"""


def test_strict_hazard_in_a_worker_thread_reaches_the_caller_and_spares_the_worker():
    out = _result(_run("""
        t = threading.Thread(target=worker_calling, daemon=True); t.start()
        def f(x):
            inq.put(x)
            return outq.get(timeout=4) + x
        try:
            framead.grad(f, strict=True)(3.0); what = "no hazard"
        except framead.GradientHazard:
            what = "GradientHazard"
        except queue.Empty:
            what = "hung waiting for the worker"
        print("@@" + json.dumps([what, t.is_alive()]))
    """, timeout=30, prelude=QUEUE_WORKERS))
    assert out == ["GradientHazard", True]


@pytest.mark.xfail(strict=True, reason=(
    "a worker whose loop frame started before the capture runs its original code (the hook "
    "only instruments fresh frames, capture/_evalframe.c fa_eval), so its arithmetic on a "
    "traced value is neither recorded nor reported as FA109: silent wrong gradient"))
def test_worker_loop_started_before_the_capture_is_reported():
    out = _result(_run("""
        threading.Thread(target=worker_inline, daemon=True).start()  # before any capture
        def f(x):
            inq.put(x)
            return outq.get(timeout=10) + x
        g = framead.grad(f)(3.0)
        codes = [e.code for e in framead.coverage(f, 3.0).entries]
        print("@@" + json.dumps([g, codes]))
    """, prelude=QUEUE_WORKERS))
    g, codes = out
    assert g == 7.0 or "FA109" in codes, f"gradient {g} (want 7.0), hazards {codes}"


@pytest.mark.parametrize("case", ["str_plus_x", "fstring_plus_x", "worker_fstring",
                                  "worker_repr"])
def test_text_round_trip_of_a_traced_value_is_reported(case):
    pool = cf.ThreadPoolExecutor(1)
    fs = {"str_plus_x": (lambda x: float(str(x)) + x, 2.0),
          "fstring_plus_x": (lambda x: float(f"{x}") + x, 2.0),
          "worker_fstring": (lambda x: float(pool.submit(lambda: f"{x}").result()) + x, 2.0),
          "worker_repr": (lambda x: float(pool.submit(repr, x).result()) + x, 2.0)}
    try:
        _assert_right_or_reported(*fs[case], 0.7)
    finally:
        pool.shutdown()


@pytest.mark.xfail(strict=True, reason=(
    "a generator made outside the capture resumes uninstrumented (not a fresh frame) when "
    "advanced by next()/for inside it; only gen.send() of a traced value is checked "
    "(capture/calls.py _resume), so traced state it reads through globals/closures is lost "
    "silently"))
def test_generator_made_before_the_capture_advanced_by_next_is_reported():
    state = {}

    def gen():
        while True:
            yield state["x"] ** 2

    g = gen()

    def f(x):
        state["x"] = x
        return next(g) + x

    _assert_right_or_reported(f, 7.0, 3.0)


def test_reverse_passes_in_other_threads_leave_the_collector_alone():
    out = _result(_run("""
        import gc, json, sys, threading, time, warnings
        import numpy as np, framead
        warnings.simplefilter("ignore")
        sys.setswitchinterval(1e-5)
        def loop(x):
            y = x
            for i in range(30):
                y = np.sin(y) * 1.01 + x
            return y
        stop = threading.Event()
        def worker():
            while not stop.is_set():
                framead.grad(loop)(0.3)
        ts = [threading.Thread(target=worker) for _ in range(3)]
        [t.start() for t in ts]
        overridden = seen_off = 0
        for i in range(150):
            gc.disable()
            time.sleep(0.001)
            overridden += gc.isenabled()
            gc.enable()
            time.sleep(0.0005)
            seen_off += not gc.isenabled()
        stop.set(); [t.join() for t in ts]
        print("@@" + json.dumps([overridden, seen_off]))
    """))
    assert out == [0, 0], f"collector re-enabled {out[0]}x, seen disabled {out[1]}x"


@pytest.mark.xfail(strict=True, reason=(
    "pure-Python recursion of a thread that has no capture and touches nothing traced gets "
    "RecursionError while another thread captures: the installed PEP 523 hook stops 3.11 "
    "inlining Python calls in every thread and fa_eval's C-stack guard applies to watching "
    "threads (capture/_evalframe.c fa_eval/stack_nearly_full)"))
def test_unrelated_thread_recursion_unaffected_by_a_capture_elsewhere():
    out = _result(_run("""
        import json, sys, threading
        import framead
        sys.setrecursionlimit(10**6)
        def rec(n): return 0 if n == 0 else 1 + rec(n - 1)
        started, done, out = threading.Event(), threading.Event(), []
        def worker():
            started.wait()
            try: out.append(rec(20000))
            except RecursionError as e: out.append(str(e)[:60])
            done.set()
        t = threading.Thread(target=worker); t.start()   # default 8 MiB stack
        def f(x):
            started.set(); done.wait(30)
            return x * 2.0
        framead.grad(f)(1.0); t.join()
        print("@@" + json.dumps(out))
    """))
    assert out == [20000]


# ============================================================================================
# 2. signals
# ============================================================================================

def test_sigint_at_random_times_in_every_entry_point():
    """SIGINT at random times (very short and long intervals) during grad, value_and_grad,
    hessian, jacfwd, jacrev, jvp, vjp, cache=True, jit, coverage, @eager, use('finite_diff'),
    solve_ivp, quad, minimize_scalar, brentq: after every call the state is clean; results
    that come back are right; afterwards every entry point still works. The collector is off
    (automatic collections inside a capture have their own, xfailed, probes below)."""
    seconds = 40 if STRESS else 6
    out = _result(_run("""
        import json, math, sys, time, gc
        import numpy as np, framead, scipy.integrate as si, scipy.optimize as so
        gc.disable()
        clean = state()
        def loop(x):
            y = x
            for i in range(20):
                y = np.sin(y) * 1.01 + x
            return y
        @framead.eager
        def eg(a): return np.sum(a * a)
        fd = framead.use("finite_diff")(lambda a: np.sum(np.sin(a)))
        def ode(k):
            return si.solve_ivp(lambda t, y: -k * y, (0, 1), [1.0], rtol=1e-8,
                                atol=1e-10).y[0, -1]
        def qd(k): return si.quad(lambda t: math.exp(-k * t), 0, 1)[0]
        def opt(k): return so.minimize_scalar(lambda z: (z - k) ** 2 + z**4).x * k
        def root(k): return so.brentq(lambda z: z**3 - k, 0, 10)
        A = np.ones(3)
        calls = {
         'grad': lambda: framead.grad(loop)(0.3),
         'vag': lambda: framead.value_and_grad(loop)(0.3)[1],
         'hessian': lambda: framead.hessian(lambda a: (a ** 3).sum())(A),
         'jacfwd': lambda: framead.jacfwd(np.sin)(A),
         'jacrev': lambda: framead.jacrev(lambda a: np.sin(a))(A),
         'jvp': lambda: framead.jvp(lambda a: np.sin(a), (A,), (A,))[1],
         'vjp': lambda: framead.vjp(lambda a: np.sin(a), A)[1](A)[0],
         'cache': lambda: framead.grad(loop, cache=True)(0.3),
         'jit': lambda: framead.jit(framead.grad(loop))(0.3),
         'coverage': lambda: len(framead.coverage(loop, 0.3).entries),
         'eager': lambda: framead.grad(lambda a: eg(a))(A),
         'use': lambda: framead.grad(lambda a: fd(a))(A),
         'solve_ivp': lambda: framead.grad(ode)(0.5),
         'quad': lambda: framead.grad(qd)(0.5),
         'minimize_scalar': lambda: framead.grad(opt)(0.5),
         'brentq': lambda: framead.grad(root)(2.0),
        }
        ref = {k: c() for k, c in calls.items()}
        t = start_killer(int(sys.argv[1]), 0.004)
        end = time.time() + float(sys.argv[2])
        counts = {k: [0, 0] for k in calls}
        broken, wrong = [], []
        class Done(Exception): pass
        while True:  # (loops nested in trys: an interrupt at a loop's back edge is caught too)
            try:
                while True:
                    try:
                        if time.time() > end:
                            stop_killer(t)  # (inside the try: an interrupt may land here)
                            raise Done
                        for k, c in calls.items():
                            try:
                                v = c(); counts[k][0] += 1
                                if not np.allclose(v, ref[k], rtol=1e-6, atol=1e-9):
                                    wrong.append([k, str(v), str(ref[k])])
                            except KeyboardInterrupt:
                                counts[k][1] += 1
                            st = state()
                            if st != clean:
                                broken.append([k, repr(st)])
                    except KeyboardInterrupt:
                        pass
            except KeyboardInterrupt:
                pass
            except Done:
                break
        after = [k for k, c in calls.items() if not np.allclose(c(), ref[k], rtol=1e-6,
                                                                 atol=1e-9)]
        print("@@" + json.dumps([counts, broken[:5], wrong[:5], after, state() == clean]))
    """, "1", str(seconds), timeout=seconds + 90, prelude=STATE + KILLER))
    counts, broken, wrong, after, clean = out
    assert sum(c[1] for c in counts.values()) > 20, counts  # the stress interrupted captures
    assert sum(c[0] for c in counts.values()) > 20, counts
    assert broken == [] and wrong == [] and after == [] and clean


def test_async_exceptions_into_capturing_threads():
    """PyThreadState_SetAsyncExc (a KeyboardInterrupt for threads) at random times into four
    threads running grad and grad(cache=True): per-thread state clean, results right."""
    seconds = 20 if STRESS else 4
    out = _result(_run("""
        import ctypes, json, random, sys, threading, time, warnings
        import numpy as np, framead
        warnings.simplefilter("ignore")
        class Stop(Exception): pass
        def loop(x):
            y = x
            for i in range(30):
                y = np.sin(y) * 1.01 + x
            return y
        ref = framead.grad(loop)(0.3)
        clean = state(); counts = {}
        def worker(k):
            n_ok = n_stop = 0; bad = []
            end = time.time() + float(sys.argv[1])
            hard_end = end + 60  # a loaded machine: go on until both outcomes were seen
            def more():
                now = time.time()
                return now < end or (now < hard_end and min(n_ok, n_stop) < 4)
            while True:
                try:
                    while more():
                        try:
                            g = framead.grad(loop, cache=bool(k % 2))(0.3)
                            n_ok += 1
                            if abs(g - ref) > 1e-12: bad.append(g)
                        except Stop:
                            n_stop += 1
                        st = state()  # this thread's part (install_depth and the
                        # collector are process-wide while other threads capture)
                        if st[1:5] + st[6:] != clean[1:5] + clean[6:]: bad.append(repr(st))
                    break
                except Stop:
                    n_stop += 1
            counts[k] = [n_ok, n_stop, bad[:3]]
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads: t.start()
        rnd = random.Random(0)
        while any(t.is_alive() for t in threads):
            t = rnd.choice(threads)
            if t.is_alive():
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(t.ident),
                                                           ctypes.py_object(Stop))
            time.sleep(rnd.uniform(0, 0.004))
        for t in threads: t.join()
        print("@@" + json.dumps([counts, state() == clean, bool(framead.grad(loop)(0.3) == ref)]))
    """, str(seconds), timeout=seconds + 120, prelude=STATE))
    counts, clean, after = out
    assert all(c[2] == [] for c in counts.values()), counts
    assert sum(c[1] for c in counts.values()) > 10, counts
    assert sum(c[0] for c in counts.values()) > 10, counts
    assert clean and after


def test_keyboardinterrupt_caught_inside_the_function_keeps_the_gradient_right():
    """f catches KeyboardInterrupt and retries its step: wherever the interrupt lands
    (user code or framead's handlers), a gradient that comes back is right. The collector is
    off (see the gc-callback xfails below)."""
    seconds = 30 if STRESS else 4
    out = _result(_run("""
        import gc, json, math, sys, time, warnings
        import numpy as np, framead
        warnings.simplefilter("ignore")
        gc.disable()
        N = 40
        def f(x):
            y = x; i = 0; caught = 0
            while i < N:
                try:
                    a = np.array([y, x]); a[0] = np.tanh(a[0]); a[1:] *= 0.5
                    y_new = math.sin(a.sum()) * 0.5 + x
                except KeyboardInterrupt:
                    caught += 1
                    continue
                y, i = y_new, i + 1
            return y
        def ref(x):
            y, dy = x, 1.0
            for _ in range(N):
                s = math.tanh(y) + 0.5 * x
                ds = (1 - math.tanh(y) ** 2) * dy + 0.5
                y, dy = math.sin(s) * 0.5 + x, math.cos(s) * 0.5 * ds + 1.0
            return dy
        want_v, want_g = f(0.3), ref(0.3)
        t = start_killer(int(sys.argv[1]), 0.03)
        end = time.time() + float(sys.argv[2]); ok = 0; bad = []
        class Done(Exception): pass
        while True:  # (loops nested in trys: an interrupt at a loop's back edge is caught too)
            try:
                while True:
                    try:
                        if time.time() > end:
                            stop_killer(t)
                            raise Done
                        try:
                            v, g = framead.value_and_grad(f)(0.3)
                            if v == want_v and abs(g - want_g) < 1e-9: ok += 1
                            else: bad.append([v, g])
                        except KeyboardInterrupt:
                            pass
                    except KeyboardInterrupt:
                        pass
            except KeyboardInterrupt:
                pass
            except Done:
                break
        print("@@" + json.dumps([ok, bad[:5]]))
    """, "3", str(seconds), timeout=seconds + 60, prelude=STATE + KILLER))
    ok, bad = out
    assert bad == []
    assert ok > 3


def test_signal_handler_calling_grad_never_deadlocks():
    p = _run("""
        import json, math, signal, sys
        import framead
        res = []
        def inner(x): return math.sin(x) * x
        def on_alarm(s, frame): res.append(framead.grad(inner)(0.5))
        signal.signal(signal.SIGALRM, on_alarm)
        framead.grad(inner)(0.1)
        armed = [True]
        def deliver(frame, event, arg):  # SIGALRM exactly while framead holds its flag lock
            if armed[0] and event == "call" and frame.f_code.co_name == "generation" and \\
                    frame.f_back is not None and frame.f_back.f_code.co_name == "_refresh_flags":
                armed[0] = False
                signal.raise_signal(signal.SIGALRM)
        sys.setprofile(deliver)
        g = framead.grad(inner)(0.5)
        sys.setprofile(None)
        print("@@" + json.dumps([g, res, armed[0]]))
    """, timeout=8)
    g, res, armed = _result(p)
    want = math.cos(0.5) * 0.5 + math.sin(0.5)
    assert not armed and math.isclose(g, want) and len(res) == 1 and math.isclose(res[0], want)


def test_grad_called_while_framead_decides_is_right():
    out = _result(_run("""
        import json, math, sys
        import framead
        def inner(x): return math.sin(x) * x
        out, armed = [], [False]
        def hook(ev, args):  # fires inside framead's rewriter (code.__new__)
            if armed[0] and ev == "code.__new__":
                armed[0] = False
                try:
                    out.append(framead.grad(inner)(0.5))
                finally:
                    armed[0] = True
        sys.addaudithook(hook)
        framead.grad(lambda z: z * z)(1.0)
        def user(y): return y * 2.0
        def f(x): return user(x) * x
        armed[0] = True
        g = framead.grad(f)(3.0)
        armed[0] = False
        print("@@" + json.dumps([g, out]))
    """))
    g, inner_grads = out
    want = math.cos(0.5) * 0.5 + math.sin(0.5)
    assert g == 12.0 and inner_grads
    assert all(math.isclose(v, want) for v in inner_grads), inner_grads


def test_exception_from_a_signal_during_garbage_collection_reaches_the_program():
    out = _result(_run("""
        import gc, json, signal, sys
        import framead
        class Alarm(Exception): pass
        def on_alarm(s, f): raise Alarm()
        signal.signal(signal.SIGALRM, on_alarm)
        keep = [[i] for i in range(600_000)]   # a full collection takes tens of ms
        log = []
        def f(x):
            try:
                signal.setitimer(signal.ITIMER_REAL, 0.005)
                gc.collect()
                signal.setitimer(signal.ITIMER_REAL, 0)
                log.append("not raised")
            except Alarm:
                log.append("Alarm")
            return x * x
        f(3.0); native = list(log); log.clear()
        g = framead.grad(f)(3.0)
        print("@@" + json.dumps([native, log, g]))
    """))
    native, captured, g = out
    assert native == ["Alarm"]
    assert captured == native and g == 6.0


def test_self_removing_gc_callback_does_not_switch_the_capture_off():
    def oneshot(phase, info):
        if phase == "stop":
            gc.callbacks.remove(oneshot)

    def f(x):
        y = x * x
        gc.collect()
        return y * x

    got = []
    try:
        for _ in range(3):
            gc.callbacks.append(oneshot)
            got.append(framead.grad(f)(2.0))
    finally:
        while oneshot in gc.callbacks:
            gc.callbacks.remove(oneshot)
    assert got == [12.0, 12.0, 12.0]


@pytest.mark.xfail(strict=False, reason=(  # (a race: on a loaded machine it may miss it)
    "Session's Python steps are not interrupt-safe for their own bookkeeping: a "
    "KeyboardInterrupt after _guards(+1) in _after_enter (session_enter then skips "
    "_after_exit) or between `_guarding = False` and _guards(-1) leaks capture/session.py "
    "_guard_users (CHOOSING callables stay ALWAYS-flagged); one landing in the "
    "framead/reverse.py _owner_gone weakref callback is swallowed and leaves the generated "
    "'<framead-backward-N>' source in linecache for good"))
def test_interrupts_leave_no_framead_bookkeeping_behind():
    seconds = 15 if STRESS else 4
    out = _result(_run("""
        import gc, json, linecache, sys, time, warnings
        import numpy as np, framead
        from framead.capture import session as S
        warnings.simplefilter("ignore")
        def f(x):
            return np.sin(x) * x
        t = start_killer(int(sys.argv[1]), 0.002, long_frac=0.0)
        end = time.time() + float(sys.argv[2]); n = [0, 0]
        while True:
            try:
                if time.time() > end:
                    stop_killer(t)
                    break
                try:
                    framead.grad(f, cache=True)(0.3); n[0] += 1
                except KeyboardInterrupt:
                    n[1] += 1
            except KeyboardInterrupt:
                pass
        gc.collect()
        left = [k for k in linecache.cache if str(k).startswith("<framead")]
        print("@@" + json.dumps([n, getattr(S, "_guard_users", [0])[0], len(left)]))
    """, "4", str(seconds), timeout=seconds + 60, prelude=KILLER,
        # compiled reverse passes register their source (the default step loop does not),
        # so that the interrupts meet the _owner_gone callback as often as they used to
        env={"FRAMEAD_BACKWARD": "source"}))
    n, guard_users, linecache_left = out
    assert n[0] > 10 and n[1] > 10
    assert guard_users == 0 and linecache_left == 0, out


# ============================================================================================
# 3. recursion
# ============================================================================================

RECURSION = """
import functools, json, sys, threading
import numpy as np, framead
sys.setrecursionlimit(100_000)
def plain(n): return 0 if n == 0 else 1 + plain(n - 1)
class M:
    def m(self, n): return 0 if n == 0 else 1 + self.m(n - 1)
def gen(n):
    if n == 0:
        yield 0
        return
    yield from gen(n - 1)
def mutual_a(n): return 0 if n == 0 else 1 + mutual_b(n - 1)
def mutual_b(n): return 0 if n == 0 else 1 + mutual_a(n - 1)
def via_map(n): return 0 if n == 0 else 1 + next(map(via_map, [n - 1]))
def via_sorted(n): return 0 if n == 0 else 1 + sorted([n - 1], key=via_sorted)[0]
def via_reduce(n):
    return 0 if n == 0 else 1 + functools.reduce(lambda a, b: via_reduce(b), [0, n - 1])
class G:
    def __init__(self, n): self.n = n
    def __getattr__(self, name): return 0 if self.n == 0 else 1 + getattr(G(self.n - 1), name)
class E:
    def __init__(self, n): self.n = n
    def __eq__(self, o): return True if self.n == 0 else E(self.n - 1) == o
    __hash__ = None
class H:
    def __init__(self, n): self.n = n
    def __hash__(self): return 0 if self.n == 0 else hash(H(self.n - 1)) + 1
def via_repr(n):
    x = []
    for _ in range(n): x = [x]
    return len(repr(x)) // 2 - 1
def traced(x, n): return x if n == 0 else traced(x * 1.0, n - 1) * 1.0
def rec_np(x, n): return np.sin(x) if n == 0 else rec_np(np.cos(x) * 0.5 + x, n - 1)
KINDS = {'plain': plain, 'method': lambda n: M().m(n), 'gen': lambda n: next(gen(n)) + n,
         'mutual': mutual_a, 'map': via_map, 'sorted': via_sorted, 'reduce': via_reduce,
         'getattr': lambda n: G(n).anything, 'eq': lambda n: int(E(n) == 1) * n,
         'hash': lambda n: hash(H(n)), 'repr': via_repr}
def captured(kind, depth):
    box = []
    def prog(x):
        try:
            if kind == 'traced':
                box.append(float(framead.grad(lambda y: traced(y, depth))(2.0)))
            elif kind == 'traced_np':
                box.append(float(framead.grad(lambda y: rec_np(y, depth))(0.3)))
            else:
                box.append(KINDS[kind](depth))
        except RecursionError as e:
            box.append("C stack" if "C stack" in str(e) else "RecursionError: " + str(e)[:60])
        return x * 1.0
    g = framead.grad(prog)(1.0)
    return [box[0], g]
"""


THROUGH_C = {"map", "sorted", "reduce", "getattr", "eq", "hash", "repr"}


def test_deep_recursion_of_every_kind_never_crashes():
    """Recursion of plain functions, methods, yield-from chains, mutual recursion, recursion
    through C (map, sorted(key=), functools.reduce, __getattr__/__eq__/__hash__, repr of nested
    lists) and of traced values, at depths native survives, in the main thread and in threads
    of 256 KiB..8 MiB stacks: the result, or RecursionError from the C-stack guard."""
    out = _result(_run("""
        cases = [(k, 20000) for k in ('plain', 'method', 'gen', 'mutual', 'traced')]
        cases += [(k, 3000) for k in ('map', 'sorted', 'getattr', 'eq', 'hash')]
        cases += [('reduce', 1500), ('repr', 20000), ('traced_np', 1500)]
        res = {f"main {k} {d}": captured(k, d) for k, d in cases}
        for size in (256 * 1024, 1024 * 1024, 8 * 1024 * 1024):
            threading.stack_size(size)
            for k, d in (('plain', 20000), ('gen', 5000), ('traced_np', 1500), ('map', 3000)):
                box = []
                t = threading.Thread(target=lambda: box.append(captured(k, d)))
                t.start(); t.join()
                res[f"thread {size} {k} {d}"] = box[0] if box else "thread died"
        threading.stack_size(0)
        print("@@" + json.dumps(res))
    """, timeout=120, prelude=RECURSION))
    # 3.12 and 3.13 cap recursion through C natively (RecursionError at a few thousand levels,
    # or a crash: natively 3.13.0 segfaults on sorted(key=) 3000 deep in an 8 MiB stack);
    # 3.11 only by the C stack, and these depths succeed under capture there
    through_c_may_raise = sys.version_info >= (3, 12)
    for name, value in out.items():
        kind, depth = name.split()[-2], int(name.split()[-1])
        assert value != "thread died", name
        result, g = value
        assert g == 1.0, name
        if result == "C stack":
            continue
        if kind.startswith("traced"):
            assert isinstance(result, float), (name, result)
        elif through_c_may_raise and kind in THROUGH_C and str(result).startswith("Recursion"):
            continue
        else:
            assert result == depth, (name, result)


@pytest.mark.xfail(sys.version_info < (3, 13), strict=True, reason=(
    "(3.11, 3.12; 3.13 reaches the native depth) "
    "recursion through C callbacks reaches the Python recursion limit at 15-50% of the native "
    "depth under capture: the call probe calls builtins through the generic vectorcall "
    "(cfunction_vectorcall_* counts a recursion level, 3.11's specialized CALL does not) and "
    "sorted(key=)/reduce callbacks go through framead's Python dispatch frames "
    "(capture/_evalframe.c call_dispatch, capture/calls.py dispatch)"))
def test_recursion_through_c_reaches_the_native_depth():
    out = _result(_run("""
        sys.setrecursionlimit(1000)
        res = {}
        for k, d in (('map', 800), ('sorted', 400), ('getattr', 800)):
            res[k] = [KINDS[k](d), captured(k, d)[0]]
        print("@@" + json.dumps(res))
    """, prelude=RECURSION))
    for kind, (native, cap) in out.items():
        assert cap == native, (kind, native, cap)


@pytest.mark.parametrize("stack,depth,op", [(32 * 1024, 1, "matmul"),
                                            (64 * 1024, 100, "matmul"),
                                            (128 * 1024, 100, "eigh")])
def test_small_thread_stacks_never_crash(stack, depth, op):
    body = """
        import json, sys, threading
        import numpy as np, framead
        sys.setrecursionlimit(10**6)
        stack, depth, op, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
        M = np.random.default_rng(0).normal(size=(40, 40)); M = M @ M.T + 40 * np.eye(40)
        E3 = np.eye(3)
        def rec(a, n):  # matmul: a gufunc at every level; eigh: LAPACK at the deepest one
            if op == "matmul":
                return np.sum(np.tanh(a)) if n == 0 else rec(np.tanh(a) @ E3 + a, n - 1)
            return np.sum(np.linalg.eigh(M * a[0])[0]) if n == 0 else rec(a * 1.0, n - 1)
        out = []
        def main():
            x0 = np.full(3, 0.5)
            try:
                out.append(float(rec(x0, depth)) if mode == "native" else
                           float(np.sum(framead.grad(lambda a: rec(a, depth))(x0))))
            except RecursionError:
                out.append("RecursionError")
        threading.stack_size(stack)
        t = threading.Thread(target=main); t.start(); t.join()
        print("@@" + json.dumps(out))
    """
    args = (str(stack), str(depth), op)
    assert len(_result(_run(body, *args, "native"))) == 1, "the native run must succeed"
    p = _run(body, *args, "capture")
    assert p.returncode == 0, f"crashed: rc={p.returncode} {p.stderr[-800:]}"
    assert len(_result(p)) == 1


@pytest.mark.parametrize("where", ["module_body_imported_in_f", "finalizer_during_gc"])
def test_deep_recursion_while_the_capture_is_off_never_crashes(where, tmp_path):
    (tmp_path / "deeprec_mod.py").write_text(
        "def rec(n): return 0 if n == 0 else 1 + rec(n - 1)\nDEPTH = rec(50000)\n")
    p = _run("""
        import gc, json, sys
        sys.path.insert(0, sys.argv[2])
        sys.setrecursionlimit(10**6)
        import framead
        def rec(n): return 0 if n == 0 else 1 + rec(n - 1)
        out = []
        class D:
            def __del__(self): out.append(rec(50000))
        def f(x):
            if sys.argv[1] == "module_body_imported_in_f":
                import deeprec_mod
                out.append(deeprec_mod.DEPTH)
            else:
                d = D(); d.me = d; del d
                gc.collect()
            return x * 2.0
        print("@@" + json.dumps([framead.grad(f)(1.0), out]))
    """, where, str(tmp_path))
    # never a crash: the result as natively, or (the hook stops 3.11 inlining calls, so every
    # frame costs C stack) the C stack guard's RecursionError
    assert p.returncode in (0, 1), f"crashed: rc={p.returncode} {p.stderr[-600:]}"
    if p.returncode == 1:
        assert "RecursionError" in p.stderr and "C stack" in p.stderr, p.stderr[-600:]
        assert "Fatal Python error" not in p.stderr
    elif "RecursionError" in p.stderr:  # raised in __del__: printed and ignored, as natively
        assert "C stack" in p.stderr and _result(p) == [2.0, []], p.stderr[-600:]
    else:
        assert _result(p) == [2.0, [50000]]


# ============================================================================================
# 4. jumps and tracers
# ============================================================================================

JUMPS = """
import contextlib, json, math, sys
import numpy as np
import framead

def f_loops(a):
    s = 0.0
    for i in range(3):
        for j in range(2):
            s += a * (i + j)
        s = s * 1.5
    t = s + a
    return t

def f_with(a):
    s = a
    with contextlib.nullcontext() as c:
        s = s * 2.0
        with contextlib.nullcontext():
            s = s + a
        s = s * 3.0
    s = s + 1.0
    return s

def f_try(a):
    s = a
    try:
        s = s * 2.0
        try:
            s = s / 0.0 if a > 100 else s + 1.0
        finally:
            s = s * a
        s = s + 2.0
    except ZeroDivisionError:
        s = -s
    else:
        s = s * 0.5
    return s

def f_calls(a):
    s = math.fsum([a,
                   a * 2.0,
                   max(a,
                       1.0)])
    t = np.sum(np.array([a, s,
                         a * s]))
    u = (s if t > 0
         else -s)
    return s + t + u

def f_comp(a):
    xs = [a * k for k in range(3)]
    d = {k: a + k for k in range(2)}
    s = sum(xs) + d[1]
    s = s and s * 2.0 or a
    v = [a,
         s][1]
    return v * a

def f_while(a):
    n = 0
    s = a
    while n < 4:
        n += 1
        if n == 2:
            continue
        s = s * 1.1 + a
    else:
        s = s - 1.0
    return s

def f_gen(a):
    def g(b):
        yield b
        c = b * 2.0
        yield c
        yield c + b
    s = 0.0
    for v in g(a):
        s = s + v
    return s

def f_unpack(a):
    x, y = a, a * 2.0
    (p, q), r = (x, y), x * y
    arr = np.zeros(3)
    arr[0] = p
    arr[1:] = q, r
    arr[0] += a
    return arr.sum() * a

FUNCS = [f_loops, f_with, f_try, f_calls, f_comp, f_while, f_gen, f_unpack]

def jumped(fn, src, dst, nth, log):
    code = fn.__code__
    first = code.co_firstlineno
    def run(x):
        seen = [0]
        def tr(frame, ev, arg):
            if frame.f_code is not code:
                return None
            if ev == "line" and frame.f_lineno == first + src:
                seen[0] += 1
                if seen[0] == nth:
                    try:
                        frame.f_lineno = first + dst
                        log.append(["jumped", frame.f_lineno - first])
                    except ValueError as e:
                        log.append(["refused", str(e)])
            return tr
        sys.settrace(tr)
        try:
            return fn(x)
        finally:
            sys.settrace(None)
    return run

def cases():
    for fn in FUNCS:
        last = max(ln for _, _, ln in fn.__code__.co_lines() if ln is not None)
        n = last - fn.__code__.co_firstlineno + 1
        for src in range(1, n):
            for dst in range(1, n):
                if src != dst:
                    for nth in (1, 2):
                        yield fn, src, dst, nth

out = []
x0 = 0.7
for fn, src, dst, nth in cases():
    log = []
    run = jumped(fn, src, dst, nth, log)
    try:
        if sys.argv[1] == "native":
            r = run(x0)  # a jump to a return line can return None (3.12+)
            if not isinstance(r, float):
                raise framead.NonScalarOutputError(type(r).__name__)
            v = float(r); h = 1e-6
            d = (float(jumped(fn, src, dst, nth, [])(x0 + h)) -
                 float(jumped(fn, src, dst, nth, [])(x0 - h))) / (2 * h)
            hz = []
        else:
            v, d = framead.value_and_grad(run)(x0)
            v, d = float(v), float(d)
            hz = [e.code for e in framead.coverage(jumped(fn, src, dst, nth, []), x0).entries]
        res = ["ok", v, d, hz]
    except framead.NonScalarOutputError:
        res = ["raised", "NonScalarOutputError"]
    except Exception as e:
        res = ["raised", type(e).__name__, str(e)[:80]]
    out.append([fn.__name__, src, dst, nth, log, res])
print("@@" + json.dumps(out))
"""


def test_f_lineno_jumps_everywhere_as_natively_with_right_gradients():
    """A tracer sets f_lineno from every line to every other line (first and second time the
    line runs) in loops, with, try/finally, multi-line calls with arguments on the stack,
    comprehensions, while/else, generators and unpacking: the same jumps are made or refused
    with the same message, the same value or exception, and the gradient of the jumped program
    equals central finite differences of its native run (or a hazard is reported)."""
    nat = _result(_run(JUMPS, "native", timeout=120))
    cap = _result(_run(JUMPS, "capture", timeout=180))
    assert len(nat) == len(cap) > 1000
    kinds = {e[0] for n in nat for e in n[4]}
    assert kinds == {"jumped", "refused"}
    for n, c in zip(nat, cap, strict=True):
        assert n[:5] == c[:5], (n, c)
        if n[5][0] != "ok":
            if _probe_in_cut_call(n, c):
                continue
            assert c[5] == n[5], (n, c)
            continue
        # (a jump over an assignment can leave NaN on 3.12+: NaN natively and under capture)
        assert c[5][0] == "ok" and _same(c[5][1], n[5][1], rel_tol=1e-12), (n, c)
        if not c[5][3]:
            assert _same(c[5][2], n[5][2], rel_tol=1e-5, abs_tol=1e-6), (n, c)


def _probe_in_cut_call(n, c) -> bool:
    """Known on 3.13: a jump that cuts the stack between a callable and the NULL CPython keeps
    above it (``[max, NULL]``) leaves the call probe where natively the callable is (the
    instrumented stack holds ``[call, max]``): the same exception, naming the probe's type."""
    return (sys.version_info >= (3, 13) and c[5][0] == "raised" and c[5][1] == n[5][1]
            and len(c[5]) > 2 and "_framead_probe" in c[5][2])


def _same(a, b, **tol):
    return math.isclose(a, b, **tol) or (math.isnan(a) and math.isnan(b))


def _target(a):
    s = 0.0
    for i in range(3):
        s = s + math.sin(a * i) * a
        if s > 10:
            break
    arr = np.array([s, a])
    arr[1] += s
    return arr.sum()


def _dtarget(a, h=1e-6):
    return (_target(a + h) - _target(a - h)) / (2 * h)


def test_tracers_set_inside_the_capture_and_bdb_stepping_see_native_events():
    import bdb

    def collect(mode):
        ev = []

        def tr(frame, event, arg):
            if frame.f_code is not _target.__code__:
                return None
            ev.append((event, frame.f_lineno))
            return tr

        def prog(x):
            sys.settrace(tr)
            try:
                return _target(x)
            finally:
                sys.settrace(None)
        v, g = (prog(0.7), _dtarget(0.7)) if mode == "native" else \
            framead.value_and_grad(prog)(0.7)
        return ev, v, g

    nat, cap = collect("native"), collect("capture")
    assert cap[0] == nat[0] and cap[1] == nat[1]
    assert math.isclose(cap[2], nat[2], rel_tol=1e-6)

    class Stepper(bdb.Bdb):
        def __init__(self):
            super().__init__()
            self.lines = []

        def user_line(self, frame):
            if frame.f_code is _target.__code__:
                self.lines.append(frame.f_lineno)
            self.set_step()

    def stepped(x):
        b = Stepper()
        b.set_trace()
        r = _target(x)
        b.set_quit()
        sys.settrace(None)
        stepped.lines = b.lines
        return r

    stepped(0.7)
    native_lines = stepped.lines
    g = framead.grad(stepped)(0.7)
    assert stepped.lines == native_lines and len(native_lines) > 10
    assert math.isclose(g, _dtarget(0.7), rel_tol=1e-6)
    assert sys.gettrace() is None and not C.is_enabled() and C.install_depth() == 0


@pytest.mark.xfail(strict=True, reason=(
    "with frame.f_trace_opcodes a tracer gets one 'opcode' event per instruction of the "
    "instrumented code: each probed BINARY_OP (5 instructions of the probe call) fires 5 "
    "events at the same original f_lasti, where the native run fires one (capture/rewriter.py "
    "inserts the probe instructions; the f_lasti mapping hides them but not their events)"))
def test_opcode_trace_events_as_natively():
    def target(a):
        s = a * 2.0
        return s + 1.0

    def collect(mode):
        ev = []

        def tr(frame, event, arg):
            if frame.f_code is not target.__code__:
                return None
            frame.f_trace_opcodes = True
            ev.append((event, frame.f_lineno, frame.f_lasti))
            return tr

        def prog(x):
            sys.settrace(tr)
            try:
                return target(x)
            finally:
                sys.settrace(None)
        prog(0.7) if mode == "native" else framead.grad(prog)(0.7)
        return ev

    assert collect("capture") == collect("native")


# ============================================================================================
# 5. memory and lifetime
# ============================================================================================

def test_generators_and_frames_kept_after_the_capture_behave_natively():
    body = """
        import json, sys, threading
        import framead
        box, log = {}, []
        def gen(a):
            s = a
            for i in range(5):
                s = s * 1.5 + i
                yield s
            return s
        def f(x):
            g = gen(x); next(g); box['g'] = g
            g2 = gen(x); next(g2); box['g2'] = g2
            box['g3'] = gen(x)
            box['fr'] = sys._getframe()
            return x * 2.0
        log.append(framead.grad(f)(1.0) if sys.argv[1] == "capture" else f(1.0))
        g = box['g']
        log.append([next(g), g.gi_frame.f_lineno, g.gi_frame.f_lasti, g.gi_code is gen.__code__])
        code = gen.__code__
        def tr(frame, ev, arg):
            if frame.f_code is code and ev == "line" and frame.f_lineno == code.co_firstlineno + 4:
                frame.f_lineno = code.co_firstlineno + 5
            return tr
        sys.settrace(tr)
        try:
            log.append(next(g))
        except StopIteration as e:
            log.append(["StopIteration", e.value])
        finally:
            sys.settrace(None)
        try:
            box['g2'].throw(KeyError("k"))
        except KeyError as e:
            log.append(["KeyError", str(e)])
        out = []
        t = threading.Thread(target=lambda: out.append(list(box['g3']))); t.start(); t.join()
        log.append(out)
        fr = box['fr']
        log.append([fr.f_code.co_name, fr.f_lineno, sorted(fr.f_locals)])
        fr.clear()
        box['g'].close()
        def mk(x):
            box['g5'] = gen(x); next(box['g5']); return x * 1.0
        framead.grad(mk)(1.0) if sys.argv[1] == "capture" else mk(1.0)
        def use(y):
            return next(box['g5']) * y
        log.append(framead.grad(use)(2.0) if sys.argv[1] == "capture" else next(box['g5']))
        print("@@" + json.dumps(log))
    """
    assert _result(_run(body, "capture")) == _result(_run(body, "native"))


def test_finalizers_weakref_callbacks_and_gc_callbacks_that_call_grad():
    want = math.cos(0.5) * 0.5 + math.sin(0.5)
    out: list = []

    def inner(x):
        return math.sin(x) * x

    class D:
        def __del__(self):
            out.append(("del", framead.grad(inner)(0.5)))

    def f_del(x):
        d = D()
        del d
        return x * x

    def f_weak(x):
        class Obj:
            pass
        o = Obj()
        weakref.finalize(o, lambda: out.append(("finalize", framead.grad(inner)(0.5))))
        r = weakref.ref(o, lambda r: out.append(("weakref", framead.grad(inner)(0.5))))
        del o
        return x * x + 0 * (r() is None)

    def cb(phase, info):
        if phase == "stop":
            out.append(("gc", framead.grad(inner)(0.5)))

    def f_gc(x):
        gc.callbacks.append(cb)
        try:
            gc.collect()
        finally:
            gc.callbacks.remove(cb)
        return x * x

    def f_cycle(x):
        d = D()
        d.me = d
        del d
        gc.collect()
        return x * x

    for f in (f_del, f_weak, f_gc, f_cycle):
        out.clear()
        assert framead.grad(f)(3.0) == 6.0
        assert out and all(math.isclose(v, want) for _, v in out), (f.__name__, out)
    assert C.install_depth() == 0 and not C.is_enabled() and C.tracked_count() == 0


def test_daemon_threads_capturing_at_interpreter_exit():
    for delay in ("0.1", "0.4"):
        p = _run("""
            import math, sys, threading, time
            import numpy as np, framead
            def loop(x):
                y = x
                for i in range(200):
                    y = np.sin(y) * 1.01 + x
                return y
            def daemon():
                while True:
                    framead.grad(loop)(0.3)
            for _ in range(3):
                threading.Thread(target=daemon, daemon=True).start()
            time.sleep(float(sys.argv[1]))
            print("@@" + str(round(sum(math.sin(i) for i in range(1000)), 3)))
        """, delay)
        assert p.returncode == 0, p.stderr[-1500:]
        assert "@@-0.013" in p.stdout


def test_grad_in_a_forked_child_of_a_capture():
    out = _result(_run("""
        import json, os
        import framead
        def g(x):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                try:
                    os.write(w, repr(framead.grad(lambda z: z ** 3)(2.0)).encode())
                finally:
                    os._exit(0)
            os.close(w)
            os.waitpid(pid, 0)
            child = os.read(r, 100).decode()
            return x * float(child)
        print("@@" + json.dumps(framead.grad(g)(1.0)))
    """))
    assert out == 12.0


def test_traced_temporaries_are_freed_as_natively():
    import tracemalloc

    log: list = []

    def f(a):
        b = np.sin(a) * 2.0
        weakref.finalize(b, log.append, "finalized")
        c = b.sum()
        del b
        log.append("after del")
        return c

    f(np.ones(3))
    native = list(log)
    log.clear()
    framead.grad(f)(np.ones(3))
    order_ok = log == native

    def g(a):
        s = 0.0
        for i in range(30):
            t = a * float(i)
            s = s + t.sum()
        return s

    a = np.ones(200_000)
    tracemalloc.start()
    try:
        g(a)
        peak_native = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        framead.grad(g)(a)
        peak_capture = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert order_ok, (native, log)
    assert peak_capture < 4 * peak_native, (peak_native, peak_capture)
