"""The user's function called from framead's other paths sees the user's line as its caller
(capture/caller_frame.py), as natively: vmap's loop (outside and inside a capture, nested),
check_grads (its native, finite-difference and order-2 calls) and ``@framead.eager`` outside
a capture used to call ``f`` from framead's frames (batching.py, check.py, eager_api.py).
Every check compares with the native call ``f(x)`` made from the same line, and the results
with the native run or an analytic derivative."""

from __future__ import annotations

import functools
import inspect
import logging
import sys
import traceback
import types
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import framead


def call_from_line(g, *args):
    """``g(*args)`` (``g[0](g[1], *args)`` for a pair) from one line, the same for the
    native call and every entry point."""
    return g(*args) if not isinstance(g, tuple) else g[0](g[1], *args)  # THE caller's line


CALLER_LINE = call_from_line.__code__.co_firstlineno + 3


def _value(x):
    return np.sum(np.sin(x) * x)


def _grad(x):  # d/dx sum(sin(x) x), analytic
    return np.cos(x) * x + np.sin(x)


def _hess(x):
    return np.diag(2 * np.cos(x) - np.sin(x) * x)


def _fresh_code(f):
    """``f`` with its own code object (@eager marks a code object for good)."""
    return types.FunctionType(f.__code__.replace(co_name=f.__code__.co_name), f.__globals__,
                              f.__name__, f.__defaults__, f.__closure__)


X = np.array([[0.3, -1.2, 2.0], [1.5, 0.7, -0.4], [-2.2, 0.1, 0.9]])
T = np.array([1.0, -0.5, 2.0])
ROWS = np.array([_value(r) for r in X])


def _close(want):
    return lambda out: np.testing.assert_allclose(out, want(), rtol=1e-12, atol=1e-12)


def _returns_none(out):
    assert out is None


# name -> (maker: f -> what call_from_line calls (a pair: entry(f, *args)), the arguments,
# a check of the result against the native run or the analytic derivative). Every one calls
# f (cached ones are made fresh, so their first call captures), from framead's frames.
PATHS = {
    # fixed here (failed before: f's caller was batching.py's / check.py's / eager_api.py's)
    "vmap": (lambda f: framead.vmap(f), (X,), _close(lambda: ROWS)),
    "vmap_in_axes": (lambda f: framead.vmap(f, in_axes=(1, None)), (X, 2.0),
                     _close(lambda: np.array([2.0 * _value(c) for c in X.T]))),
    "vmap_of_vmap": (lambda f: framead.vmap(framead.vmap(f)), (X[None],),
                     _close(lambda: ROWS[None])),
    "grad_of_vmap": (lambda f: framead.grad(
        lambda w: call_from_line(framead.vmap(f), w).sum()), (X,), _close(lambda: _grad(X))),
    "grad_of_vmap_cached": (lambda f: framead.grad(
        lambda w: call_from_line(framead.vmap(f), w).sum(), cache=True), (X,),
        _close(lambda: _grad(X))),
    "check_grads": (lambda f: (framead.check_grads, f), (X[0],), _returns_none),
    "check_grads_order2_rev": (lambda f: (functools.partial(
        framead.check_grads, order=2, modes=("rev",)), f), (X[0],), _returns_none),
    "check_grads_order2": (lambda f: (functools.partial(framead.check_grads, order=2), f),
                           (X[0],), _returns_none),
    "eager": (lambda f: framead.eager(_fresh_code(f)), (X[0],), _close(lambda: ROWS[0])),
    "eager_keywords": (lambda f: functools.partial(framead.eager(_fresh_code(f)), x=X[0]), (),
                       _close(lambda: ROWS[0])),
    "grad_of_eager": (lambda f: framead.grad(framead.eager(_fresh_code(f))), (X[0],),
                      _close(lambda: _grad(X[0]))),
    # paths that already called f from the user's line (guards against regressions)
    "vmap_fast": (lambda f: framead.vmap(f, fast=True), (X,), _close(lambda: ROWS)),
    "vmap_of_jit": (lambda f: framead.vmap(framead.jit(f)), (X,), _close(lambda: ROWS)),
    "vmap_of_grad": (lambda f: framead.vmap(framead.grad(f)), (X,), _close(lambda: _grad(X))),
    "jit": (lambda f: framead.jit(f), (X[0],), _close(lambda: ROWS[0])),
    "jvp": (lambda f: (framead.jvp, f), ((X[0],), (T,)),
            _close(lambda: (ROWS[0], _grad(X[0]) @ T))),
    "jacfwd": (lambda f: framead.jacfwd(f), (X[0],), _close(lambda: _grad(X[0]))),
    "hessian": (lambda f: framead.hessian(f), (X[0],), _close(lambda: _hess(X[0]))),
    "coverage": (lambda f: (framead.coverage, f), (X[0],),
                 lambda out: str(out).endswith("no hazards; every traced operation has a rule")),
}


def _observing(body):
    """f, its observations (one list per call) and a native reference call."""
    calls: list = []

    def f(x, scale=1.0):
        box: list = []
        body(box)
        calls.append(box)
        return _value(x) * scale

    return f, calls


def _run(name, body):
    """(the native call's observations, every call's under ``name``, the result)."""
    f, calls = _observing(body)
    make, args, check = PATHS[name]
    call_from_line(f, np.array(X[0]))
    assert len(calls) == 1
    native = calls.pop()
    out = call_from_line(make(f), *args)
    assert calls  # (f ran: the check checks something)
    assert check(out) is not False
    return native, calls


def _warn_from(depth, stacklevel):
    """A body warning through ``depth`` helpers with ``stacklevel`` (f's caller:
    depth + 3, the body being one frame: ``stacklevel=2`` written in f is ``(0, 3)``)."""
    def helper(d):
        if d == 1:
            warnings.warn("w", UserWarning, stacklevel=stacklevel)
        else:
            helper(d - 1)

    def body(box):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            helper(depth) if depth else warnings.warn("w", UserWarning, stacklevel=stacklevel)
        box.extend((m.filename, m.lineno, str(m.message)) for m in w)
    return body


def _caller_body(box):
    fr = sys._getframe(2)  # (f's caller: 1 is f)
    box.append((fr.f_code.co_name, fr.f_code.co_filename, fr.f_lineno,
                fr.f_globals["__name__"]))
    info = inspect.stack(0)[2]
    box.append((info.function, info.filename, info.lineno))


@pytest.mark.parametrize("name", list(PATHS))
def test_warning_stacklevel_2_names_the_callers_line(name):
    native, calls = _run(name, _warn_from(0, 3))  # (f's stacklevel=2: body is a frame)
    assert native == [(__file__, CALLER_LINE, "w")]
    assert all(c == native for c in calls), (calls, native)


@pytest.mark.parametrize("name", list(PATHS))
def test_frame_walkers_see_the_callers_frame(name):
    native, calls = _run(name, _caller_body)
    assert native[0] == ("call_from_line", __file__, CALLER_LINE, __name__)
    assert all(c == native for c in calls), (calls, native)


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(PATHS)), depth=st.integers(0, 3), back=st.integers(0, 5))
def test_warnings_fuzzed_stacklevels(name, depth, back):
    """Any stacklevel that stays within f, its helpers and f's caller names the native place."""
    stacklevel = min(back, depth + 2) + 1
    native, calls = _run(name, _warn_from(depth, stacklevel))
    assert len(native) == 1 and all(c == native for c in calls), (calls, native)


def _logging_body(box):
    records: list = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    log = logging.getLogger("framead.tests.caller_trampoline_paths")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("m", stacklevel=3)  # (f's caller: this body is a frame)
    finally:
        log.removeHandler(handler)
    box.extend((r.pathname, r.lineno, r.funcName, r.module) for r in records)


@pytest.mark.parametrize("name", ["vmap", "grad_of_vmap", "check_grads", "eager"])
def test_logging_names_the_callers_line(name):
    native, calls = _run(name, _logging_body)
    assert native == [(__file__, CALLER_LINE, "call_from_line", "test_caller_trampoline_paths")]
    assert all(c == native for c in calls), (calls, native)


def _log_warnings(run):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = run()
    return out, [(m.filename, m.lineno) for m in w if "encountered in log" in str(m.message)]


@pytest.mark.parametrize("inside", [False, True])
def test_c_function_warnings_at_the_callers_line(inside):
    """vmap(np.log): NumPy's warning (stacklevel 1: the frame calling the C function) names
    the line that called vmap, as natively the line that called np.log; values and gradient
    as natively / analytically."""
    w = np.array([[0.0, 2.0], [0.5, 4.0]])
    _, native = _log_warnings(lambda: call_from_line(np.log, w[0]))
    assert native == [(__file__, CALLER_LINE)]
    if inside:
        out, got = _log_warnings(lambda: framead.grad(
            lambda v: call_from_line(framead.vmap(np.log), v)[:, 1].sum())(w))
        np.testing.assert_allclose(out, [[0.0, 0.5], [0.0, 0.25]])  # d log(x)/dx = 1/x
    else:
        out, got = _log_warnings(lambda: call_from_line(framead.vmap(np.log), w))
        with np.errstate(divide="ignore"):
            np.testing.assert_array_equal(out, np.log(w))
    assert got and set(got) == set(native), got


def _raises(x, scale=1.0):
    raise ValueError("no")


def _traceback_names(run):
    """The traceback's entries from call_from_line down: (function, in this file)."""
    with pytest.raises(ValueError) as info:
        run()
    names = [(fs.name, fs.filename == __file__) for fs in traceback.extract_tb(info.tb)]
    return names[names.index(("call_from_line", True)):]


@pytest.mark.parametrize("name", ["vmap", "grad_of_vmap", "check_grads", "check_grads_order2",
                                  "eager"])
def test_tracebacks_as_natively(name):
    """An error in f has the native call's traceback: no framead frame, no trampoline."""
    make, args, _ = PATHS[name]
    native = _traceback_names(lambda: call_from_line(_raises, X[0]))
    assert native == [("call_from_line", True), ("_raises", True)]
    got = _traceback_names(lambda: call_from_line(make(_raises), *args))
    if name == "grad_of_vmap":  # (the outer call_from_line calls grad's lambda, which calls
        native = [*native[:1], ("<lambda>", True), *native]  # call_from_line(vmap(f), w))
    assert got == native


@framead.eager
def _scale(x):
    return float(x[0])  # (eager: float() of a Tracer cuts the gradient, FA102)


def _cut(x):
    return np.sum(x * _scale(x))  # framead's derivative misses sum(x) d x0


def test_check_grads_still_fails_and_names_the_callers_line():
    """A wrong derivative still raises GradientCheckError, reported at the user's line (the
    trampoline and framead's frames left out)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the FA102 hazard's warning, if any)
        with pytest.raises(framead.GradientCheckError) as info:
            call_from_line((framead.check_grads, _cut), np.array([0.5, 2.0]))
    assert info.value.argnum == 0 and info.value.index == (0,)
    assert np.isclose(info.value.numeric, 2 * 0.5 + 2.0, rtol=1e-6)  # d/dx0 (x0 + x1) x0
    assert info.value.framead == 0.5
    last = traceback.extract_tb(info.tb)[-1]
    assert (last.filename, last.lineno, last.name) == (__file__, CALLER_LINE, "call_from_line")
