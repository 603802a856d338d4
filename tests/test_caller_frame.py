"""The differentiated function's caller, as warnings, logging and frame walkers see it
(capture/caller_frame.py): under grad(f)(x) and the other transforms, a walk from f that goes
past f lands on the user's line that called the transform, as natively on the line that
called f. Every check compares with the native run of the same call from the same line."""

from __future__ import annotations

import inspect
import logging
import math
import os
import subprocess
import sys
import textwrap
import threading
import traceback
import warnings

import numpy as np
import pytest
from framead.capture.sourceloc import is_framead_file, is_trampoline
from hypothesis import given, settings
from hypothesis import strategies as st

import framead


def _scalar(x):
    return float(np.sum(np.asarray(x) * np.asarray(x)))


# each maker: f -> a callable run on the same line as the native f(x); all of them call f
# (a capture: cached transforms are made fresh, so their first call captures)
TRANSFORMS = {
    "grad": lambda f: framead.grad(f),
    "value_and_grad": lambda f: framead.value_and_grad(f),
    "grad_cached": lambda f: framead.grad(f, cache=True),
    "value_and_grad_cached": lambda f: framead.value_and_grad(f, cache=True),
    "jacrev": lambda f: framead.jacrev(f),
    "vjp": lambda f: (framead.vjp, f),  # called as framead.vjp(f, x)
    "trace": lambda f: (framead.trace, f),
    # grad(f) called on the caller's line inside an outer capture
    "nested_grad": lambda f: framead.grad(lambda y: call_from_line(framead.grad(f), y)),
    "grad_of_grad": lambda f: framead.grad(framead.grad(f)),
}
X = {"nested_grad": 0.7, "grad_of_grad": 0.7}


def call_from_line(g, x):
    """``g(x)`` (``g[0](g[1], x)`` for a pair) from one line, the same for the native call
    and every transform."""
    return g(x) if not isinstance(g, tuple) else g[0](g[1], x)  # THE caller's line


CALLER_LINE = call_from_line.__code__.co_firstlineno + 3


def observed(make, body, x):
    """What ``body(box)`` noted inside f, natively and under ``make``."""
    box: list = []

    def f(x):
        body(box)
        return x * x if np.ndim(x) == 0 else _scalar(x)

    def run(g):
        box.clear()
        call_from_line(g, x)
        return list(box)

    return run(f), run(make(f))


def _warn_from(depth, stacklevel, category=UserWarning):
    """A body warning through ``depth`` helpers with ``stacklevel`` (f's caller: depth + 3)."""
    def helper(d):
        if d == 1:
            warnings.warn("w", category, stacklevel=stacklevel)
        else:
            helper(d - 1)

    def body(box):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            helper(depth) if depth else warnings.warn("w", category, stacklevel=stacklevel)
        box.extend((m.filename, m.lineno, m.category) for m in w)
    return body


@pytest.mark.parametrize("name", list(TRANSFORMS))
@pytest.mark.parametrize("depth,stacklevel", [(0, 1), (0, 2), (0, 3), (1, 3), (1, 4), (2, 5)])
def test_warnings_name_the_native_place(name, depth, stacklevel):
    nat, cap = observed(TRANSFORMS[name], _warn_from(depth, stacklevel, DeprecationWarning),
                        X.get(name, np.array([1.0, 2.0])))
    assert nat and len(nat) == 1
    if stacklevel == depth + 3:
        assert nat[0][:2] == (__file__, CALLER_LINE)  # (the check checks the right thing)
    assert cap == nat


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(sorted(TRANSFORMS)), depth=st.integers(0, 3),
       back=st.integers(0, 5))
def test_warnings_fuzzed_stacklevels(name, depth, back):
    """Any stacklevel that stays within f, its helpers and f's caller."""
    stacklevel = min(back, depth + 2) + 1
    nat, cap = observed(TRANSFORMS[name], _warn_from(depth, stacklevel),
                        X.get(name, np.array([0.5, -1.5])))
    assert cap == nat and len(nat) == 1


def _frames_body(box):
    fr = sys._getframe(1)
    box.append((fr.f_code.co_filename, fr.f_lineno, fr.f_globals["__name__"],
                fr.f_code.co_name, fr.f_code.co_qualname, fr.f_globals is globals()))
    cur = inspect.currentframe()
    assert cur is not None and cur.f_back is not None
    back = cur.f_back.f_back  # (f's caller: cur is _frames_body's, f_back f's)
    assert back is not None
    box.append((back.f_code.co_filename, back.f_lineno, back.f_globals is globals()))
    info = inspect.stack()[2]
    box.append((info.filename, info.lineno, info.function, info.code_context))


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_frame_walkers_see_the_callers_frame(name):
    nat, cap = observed(TRANSFORMS[name], _frames_body, X.get(name, np.array([1.0, 2.0])))
    assert nat[1] == (__file__, CALLER_LINE, True)
    assert cap == nat


@pytest.mark.parametrize("name", ["grad", "value_and_grad_cached", "nested_grad"])
@pytest.mark.parametrize("stacklevel", [1, 2, 3])
def test_logging_caller_info(name, stacklevel):
    records: list = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    log = logging.getLogger("framead.test_caller_frame")
    log.propagate = False
    log.setLevel(logging.INFO)
    handler = Keep()
    log.addHandler(handler)
    try:
        def body(box):
            records.clear()
            log.info("hello", stacklevel=stacklevel)
            box.extend((r.pathname, r.lineno, r.funcName, r.module) for r in records)

        nat, cap = observed(TRANSFORMS[name], body, X.get(name, np.array([1.0, 2.0])))
    finally:
        log.removeHandler(handler)
    assert len(nat) == 1
    if stacklevel == 3:  # (body, f, f's caller)
        assert nat[0][:3] == (__file__, CALLER_LINE, "call_from_line")
    assert cap == nat


def test_warning_registry_shared_with_the_native_calls():
    """'default': one warning per (text, category, line) in the caller's module registry,
    native and captured calls from the same line counting together; 'once': one in all."""
    def f(x):
        warnings.warn("registry", UserWarning, stacklevel=2)
        return _scalar(x)

    g = framead.grad(f)
    x = np.array([1.0, 2.0])
    for action, calls, shown in [("default", [f, g, g, f], 1), ("default", [g, g], 1),
                                 ("once", [g, f, g], 1), ("always", [f, g, g], 3),
                                 ("default", ["cached", f, "cached"], 1),
                                 ("always", ["cached"] * 3, 3)]:
        # (a cached f that warned is uncacheable: each call captures; made afresh, as one
        # whose warning a filter had hidden would be cached and then replay silently)
        c = framead.value_and_grad(f, cache=True)
        calls = [c if k == "cached" else k for k in calls]
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter(action)
            for c in calls:
                call_from_line(c, x)
        assert [(m.filename, m.lineno) for m in w] == [(__file__, CALLER_LINE)] * shown, action


SCRIPT = textwrap.dedent('''
    import sys, warnings
    import numpy as np
    import framead
    shown = []
    warnings.showwarning = lambda m, c, fn, ln, *a, **k: shown.append((c.__name__, fn, ln))
    mode = sys.argv[1]
    if mode == "lib":  # f called from a module that is not __main__
        ns = {"__name__": "somelib"}
        exec(compile("def call(g, x):\\n    return g(x)\\n", "somelib.py", "exec"), ns)
        call = ns["call"]
    else:
        def call(g, x):
            return g(x)

    def f(x):
        warnings.warn("old api", DeprecationWarning, stacklevel=2)
        return float(np.sum(x * x))

    x = np.array([1.0, 2.0])
    for how in ("native", "grad", "cached", "native"):
        g = {"native": f, "grad": framead.grad(f),
             "cached": framead.value_and_grad(f, cache=True)}[how]
        for _ in range(3):
            call(g, x)
    print(shown)
''')


@pytest.mark.parametrize("mode", ["main", "lib"])
@pytest.mark.parametrize("how", ["native", "framead"])
def test_deprecation_warning_under_default_filters(tmp_path, mode, how):
    """DeprecationWarning shown once for __main__ (default filters), hidden for a library:
    the same as a program calling f itself (the script's calls of f give the reference)."""
    script = SCRIPT if how == "framead" else SCRIPT.replace(
        '"grad": framead.grad(f)', '"grad": f').replace(
        '"cached": framead.value_and_grad(f, cache=True)', '"cached": f')
    path = tmp_path / "prog.py"
    path.write_text(script)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS",)}
    out = subprocess.run([sys.executable, str(path), mode], capture_output=True, text=True,
                         env=env, timeout=120, check=True).stdout.strip().splitlines()[-1]
    shown = eval(out)  # noqa: S307 - the script's own printed list
    if mode == "main":
        line = script.splitlines().index("        return g(x)") + 1
        assert shown == [("DeprecationWarning", str(path), line)]
    else:
        assert shown == []


def test_tracebacks_as_before():
    """An exception raised in f: the traceback leaving grad has the native call's frames (no
    framead frame, no trampoline)."""
    def f(x):
        raise ValueError("in f")

    def frames(g):
        try:
            call_from_line(g, np.array([1.0]))
        except ValueError as e:
            return [(fs.filename, fs.lineno, fs.name) for fs in traceback.extract_tb(
                e.__traceback__)]
        raise AssertionError("no error")

    native = frames(f)
    assert [n for _, _, n in native] == ["frames", "call_from_line", "f"]
    for make in (framead.grad, lambda f: framead.value_and_grad(f, cache=True),
                 lambda f: framead.grad(framead.grad(f))):
        assert frames(make(f)) == native


def test_hazard_locations_keep_their_callers():
    """A hazard inside f called through g: f's line, then g's (nothing of the trampoline)."""
    def f(x):
        return int(x[0]) * 1.0 + np.sum(x)

    def g(x):
        return f(x)

    t = framead.trace(g, np.array([1.0, 2.0]))
    (h,) = [h for h in t.hazards if h.code == "FA102"]
    line_f = f.__code__.co_firstlineno + 1
    assert (h.loc.file, h.loc.line, h.loc.function) == (__file__, line_f, f.__qualname__)
    assert h.loc.stack == ((__file__, g.__code__.co_firstlineno + 1, g.__qualname__),)


def _c_function_case():
    def inner():
        return framead.trace(math.frexp, 1.5), inner.__code__.co_firstlineno + 1

    def outer():
        return inner(), outer.__code__.co_firstlineno + 1

    return outer()


def test_c_function_f_keeps_its_callers_and_warnings():
    """f a C function: the node recorded at its call is located at the user's line with that
    line's callers; a warning it issues (stacklevel 1: the running Python frame) names the
    user's line, as natively."""
    (t, line_in), line_out = _c_function_case()
    loc = t.nodes[0].loc
    assert (loc.file, loc.line) == (__file__, line_in)
    assert loc.stack[0] == (__file__, line_out, _c_function_case.__qualname__ + ".<locals>.outer")
    x = np.array([0.0, 1.0])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for g in (np.log, framead.jacrev(np.log)):
            call_from_line(g, x)
    assert [(m.filename, m.lineno, m.category) for m in w] == [
        (__file__, CALLER_LINE, RuntimeWarning)] * 2


def test_one_frame_between_f_and_framead():
    """Recursion margins: f's caller is the trampoline, whose caller is framead's."""
    seen = []

    def f(x):
        back = sys._getframe(1)
        seen.append((is_trampoline(back.f_code), is_framead_file(back.f_back.f_code.co_filename)))
        return x * 2.0

    assert framead.grad(f)(1.0) == 2.0
    assert seen == [(True, True)]


def test_threads_see_their_own_callers():
    out: dict = {}

    def f(x):
        fr = sys._getframe(1)
        out.setdefault(threading.current_thread().name, []).append(
            (fr.f_code.co_name, fr.f_lineno))
        return x * x

    barrier = threading.Barrier(2)

    def worker_a():
        barrier.wait()
        for _ in range(20):
            framead.grad(f)(1.0)

    def worker_b():
        barrier.wait()
        for _ in range(20):
            framead.grad(f)(2.0)

    ts = [threading.Thread(target=w, name=w.__name__) for w in (worker_a, worker_b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for w in (worker_a, worker_b):
        assert out[w.__name__] == [(w.__name__, w.__code__.co_firstlineno + 3)] * 20


def test_tracer_and_profiler_events_inside_f_unchanged():
    def f(x):
        y = x * 3.0
        return y + 1.0

    def events(g, setter):
        got = []

        def hook(frame, event, arg):
            if frame.f_code is f.__code__:
                got.append((event, frame.f_lineno))
            return hook

        setter(hook)
        try:
            call_from_line(g, 2.0)
        finally:
            setter(None)
        return got

    for setter in (sys.settrace, sys.setprofile):
        nat = events(f, setter)
        assert nat
        assert events(framead.grad(f), setter) == nat


def test_no_program_frame_above():
    """grad called with only framead's frames above (a thread whose target is grad(f))."""
    res = []

    def f(x):
        res.append(sys._getframe(1).f_code.co_filename)
        return x * x

    t = threading.Thread(target=framead.grad(f), args=(3.0,))
    t.start()
    t.join()
    assert res == [threading.__file__]
