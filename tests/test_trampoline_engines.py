"""The user's function called through ``framead.use(engine)``, ``to_torch``/``to_jax`` and
``framead.implicit`` sees the user's line as its caller, as natively (capture/caller_frame.py):
these paths used to call it from framead's own frames (framead/engines/*, export.py,
implicit.py). Each check runs the same line natively first: every call of the user's function
(the primal, and the engine's VJP/JVP re-runs) must see that line's file, line and function
name as its caller (``sys._getframe(1)``, ``warnings.warn(..., stacklevel=2)``); results and
gradients are checked against the native run, an analytic derivative and central
differences."""

from __future__ import annotations

import importlib.util
import sys
import traceback
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import framead


def call_line(g, *args):
    """``g(*args)`` from one line, the same for the native call and every wrapped one."""
    return g(*args)  # THE caller's line


CALLER = (__file__, call_line.__code__.co_firstlineno + 2, "call_line")
HAS = {m: importlib.util.find_spec(m) is not None for m in ("torch", "jax", "autograd")}


def observed(xp):
    """The user's function, written against the array module ``xp``: it reports its caller and
    warns at it."""
    seen: list = []

    def fn(x, y):
        caller = sys._getframe(1)
        seen.append((caller.f_code.co_filename, caller.f_lineno, caller.f_code.co_name))
        warnings.warn("from fn", UserWarning, stacklevel=2)
        return xp.sum(xp.sin(x) * x) * y

    return fn, seen


def value(x, y):
    return float(np.sum(np.sin(x) * x) * y)


def grad_x(x, y):  # analytic d/dx
    return (np.cos(x) * x + np.sin(x)) * y


def central(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def run_recorded(thunk):
    """``thunk()``, its warnings (file, line) recorded (every one, not once per place)."""
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        out = thunk()
    return out, [(w.filename, w.lineno) for w in ws if str(w.message) == "from fn"]


def check_callers(seen, warned):
    """Every call of fn saw CALLER, and warned there, as the native call does."""
    assert seen, "fn was never called"
    native_fn, native_seen = observed(np)
    _, native_warned = run_recorded(lambda: call_line(native_fn, np.ones(2), 1.0))
    assert native_seen == [CALLER] and native_warned == [CALLER[:2]]  # (the reference)
    assert set(seen) == {CALLER}, seen
    assert set(warned) == {CALLER[:2]} and len(warned) == len(seen), warned


# --- framead.use(engine) ------------------------------------------------------------------

def _np_engine(name, **options):
    return (lambda: np), (lambda x: x), name, options


ENGINES = {
    "finite_diff": _np_engine("finite_diff"),
    "finite_diff_forward": _np_engine("finite_diff", method="forward"),
    "finite_diff_complex": _np_engine("finite_diff", method="complex"),
    "forward": _np_engine("forward"),
    "checkpoint": _np_engine("checkpoint"),
    "autograd": ((lambda: pytest.importorskip("autograd.numpy")), (lambda x: x), "autograd", {}),
    "torch": ((lambda: pytest.importorskip("torch")),
              (lambda x: pytest.importorskip("torch").tensor(x)), "torch", {}),
    "torch_autograd": ((lambda: pytest.importorskip("torch")),
                       (lambda x: pytest.importorskip("torch").tensor(x)), "torch",
                       {"api": "autograd"}),
    "jax": ((lambda: pytest.importorskip("jax.numpy")),
            (lambda x: pytest.importorskip("jax.numpy").asarray(x)), "jax", {}),
}
X = np.array([0.3, -1.2, 2.0])
Y = 1.7


def _wrapped(case):
    xp_of, _, engine, options = ENGINES[case]
    fn, seen = observed(xp_of())
    return framead.use(engine, **options)(fn), seen


@pytest.mark.parametrize("case", sorted(ENGINES))
def test_engine_outside_a_capture(case):
    """The wrapper called directly runs the engine's primal: fn's caller is the line."""
    g, seen = _wrapped(case)
    out, warned = run_recorded(lambda: call_line(g, X, Y))
    check_callers(seen, warned)
    np.testing.assert_allclose(float(np.asarray(out)), value(X, Y), rtol=1e-12)


@pytest.mark.parametrize("cache", [False, True])
@pytest.mark.parametrize("case", sorted(ENGINES))
def test_engine_in_grad(case, cache):
    """Inside a capture: the primal and every VJP re-run of fn see the line (cached: replayed
    at new inputs too); the gradient is the analytic one and central differences'."""
    g, seen = _wrapped(case)

    def prog(x):
        return call_line(g, x, Y) * 2.0

    df = framead.grad(prog, cache=cache)
    for x in (X, X + 0.25):
        seen.clear()
        got, warned = run_recorded(lambda x=x: df(x))
        check_callers(seen, warned)
        want = 2.0 * grad_x(x, Y)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(got, central(lambda v: 2.0 * value(v, Y), x), rtol=1e-6,
                                   atol=1e-7)


@pytest.mark.parametrize("case", ["finite_diff", "finite_diff_complex", "forward", "checkpoint",
                                  "torch", "jax", "autograd"])
def test_engine_in_jvp(case):
    """Forward mode asks the engine's JVP: fn's re-runs see the line."""
    g, seen = _wrapped(case)
    t = np.array([1.0, -0.5, 2.0])
    (out, tan), warned = run_recorded(
        lambda: framead.jvp(lambda x: call_line(g, x, Y), (X,), (t,)))
    check_callers(seen, warned)
    np.testing.assert_allclose(float(np.asarray(out)), value(X, Y), rtol=1e-12)
    np.testing.assert_allclose(float(np.asarray(tan)), float(grad_x(X, Y) @ t), rtol=1e-6)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(-3, 3), min_size=1, max_size=4),
       st.sampled_from(["finite_diff", "forward", "checkpoint"]))
def test_engine_fuzz(xs, case):
    """Any input, any NumPy engine: callers as natively, gradient as central differences."""
    x = np.array(xs)
    g, seen = _wrapped(case)
    got, warned = run_recorded(lambda: framead.grad(lambda v: call_line(g, v, Y))(x))
    check_callers(seen, warned)
    np.testing.assert_allclose(got, central(lambda v: value(v, Y), x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", sorted(ENGINES))
def test_engine_containers(case):
    """A container of traced values: the engine differentiates a function of its leaves
    (framead/engines/wrapper.py's of_leaves), which calls fn from the line too."""
    xp_of, _, engine, options = ENGINES[case]
    inner, seen = observed(xp_of())

    def fn(p):  # (reports its own caller: inner's is fn)
        caller = sys._getframe(1)
        seen.append((caller.f_code.co_filename, caller.f_lineno, caller.f_code.co_name))
        return inner(p["x"], p["y"])

    g = framead.use(engine, **options)(fn)
    for x in (X, X - 0.5):
        seen.clear()
        got, _ = run_recorded(lambda x=x: framead.grad(
            lambda v: call_line(g, {"x": v, "y": Y}) * 2.0)(x))
        assert seen and set(seen[::2]) == {CALLER}, seen
        np.testing.assert_allclose(got, 2.0 * grad_x(x, Y), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(got, central(lambda v: 2.0 * value(v, Y), x), rtol=1e-6,
                                   atol=1e-7)


class _Bare:
    """A third-party engine with no ``call``: the wrapper runs ``fn`` itself."""

    def __init__(self, fn):
        self.fn = fn

    def vjp(self, g, ans, args, kwargs, wrt):
        return (g * grad_x(args[0], args[1]), None)


def _rule_factory(fn, options):
    from framead.rules import make_rule

    return make_rule(fn, vjp=lambda g, ans, x, y: (g * grad_x(x, y), None),
                     name="use[rule_h88]")


@pytest.mark.parametrize("kind", ["bare", "rule"])
def test_plugin_engine_primal_from_the_line(kind):
    """An engine without ``call``, and one that is a Rule: the primal, inside a capture and
    outside, runs fn from the line; the gradient is the engine's (analytic here)."""
    name = f"h88_{kind}"
    framead.engines.register_engine(name, (lambda f, o: _Bare(f)) if kind == "bare"
                                    else _rule_factory, replace=True)
    try:
        fn, seen = observed(np)
        g = framead.use(name)(fn)
        got, warned = run_recorded(lambda: framead.grad(lambda v: call_line(g, v, Y))(X))
        check_callers(seen, warned)
        np.testing.assert_allclose(got, central(lambda v: value(v, Y), X), rtol=1e-6)
        seen.clear()
        out, warned = run_recorded(lambda: call_line(g, X, Y))
        check_callers(seen, warned)
        assert out == value(X, Y)
    finally:
        framead.engines.unregister_engine(name)


@pytest.mark.parametrize("case", ["finite_diff", "forward", "checkpoint"])
def test_engine_traceback_as_native(case):
    """An error raised in fn leaves the wrapper without framead's frames, as natively."""
    def boom(x, y):
        raise ValueError("bad")

    def entries(g):
        with pytest.raises(ValueError) as info:
            call_line(g, X, Y)
        return [(f.filename, f.name) for f in traceback.extract_tb(info.value.__traceback__)]

    native = entries(boom)
    assert native[-2:] == [(__file__, "call_line"), (__file__, "boom")]
    assert entries(framead.use(case)(boom)) == native


# --- framead.implicit -----------------------------------------------------------------------

def _implicit():
    def newton_sqrt(a):
        x = 1.0
        for _ in range(60):
            x = 0.5 * (x + a / x)
        return x

    calls: list = []

    def solve(a):
        caller = sys._getframe(1)
        calls.append((caller.f_code.co_filename, caller.f_lineno, caller.f_code.co_name))
        warnings.warn("from fn", UserWarning, stacklevel=2)
        return newton_sqrt(a)

    return framead.implicit(solve, residual=lambda x, a: x * x - a), calls


@pytest.mark.parametrize("where", ["outside", "grad", "grad_cached"])
def test_implicit_solve_caller(where):
    sqrt, calls = _implicit()
    a = 2.5
    if where == "outside":
        out, warned = run_recorded(lambda: call_line(sqrt, a))
        np.testing.assert_allclose(out, np.sqrt(a), rtol=1e-14)
    else:
        df = framead.grad(lambda v: call_line(sqrt, v), cache=where == "grad_cached")
        for v in (a, a + 1.0):
            calls.clear()
            out, warned = run_recorded(lambda v=v: df(v))
            np.testing.assert_allclose(out, 0.5 / np.sqrt(v), rtol=1e-9)  # analytic
            np.testing.assert_allclose(out, (np.sqrt(v + 1e-6) - np.sqrt(v - 1e-6)) / 2e-6,
                                       rtol=1e-6)
            if calls:  # (a replayed trace need not re-run solve; when it does, from the line)
                check_callers(calls, warned)
        return
    check_callers(calls, warned)


def test_implicit_traceback_as_native():
    def solve(a):
        raise ValueError("bad")

    def entries(g):
        with pytest.raises(ValueError) as info:
            call_line(g, 2.0)
        return [(f.filename, f.name) for f in traceback.extract_tb(info.value.__traceback__)]

    native = entries(solve)
    assert entries(framead.implicit(solve, residual=lambda x, a: x - a)) == native
    with pytest.raises(ValueError) as info:
        framead.grad(lambda v: call_line(framead.implicit(solve, residual=lambda x, a: x - a),
                                         v))(2.0)
    names = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert names[-2:] == ["call_line", "solve"]


# --- to_torch / to_jax -----------------------------------------------------------------------

@pytest.mark.skipif(not HAS["torch"], reason="torch is not installed")
@pytest.mark.parametrize("diff", [True, False])
def test_to_torch_caller(diff):
    import torch

    fn, seen = observed(np)
    g = framead.to_torch(fn)
    xt = torch.tensor(X, dtype=torch.float64, requires_grad=diff)

    def run():
        out = call_line(g, xt, Y)
        if diff:
            out.backward()
        return out

    out, warned = run_recorded(run)
    check_callers(seen, warned)
    np.testing.assert_allclose(float(out), value(X, Y), rtol=1e-12)
    if diff:
        np.testing.assert_allclose(xt.grad.numpy(), grad_x(X, Y), rtol=1e-12)
        np.testing.assert_allclose(xt.grad.numpy(), central(lambda v: value(v, Y), X),
                                   rtol=1e-6)


@pytest.mark.skipif(not HAS["jax"], reason="jax is not installed")
@pytest.mark.parametrize("mode", ["call", "grad", "jit_grad"])
def test_to_jax_caller(mode):
    import jax

    jax.config.update("jax_enable_x64", True)
    fn, seen = observed(np)
    g = framead.to_jax(fn)
    xj = jax.numpy.asarray(X)
    if mode == "call":
        out, warned = run_recorded(lambda: call_line(g, xj, Y))
        np.testing.assert_allclose(float(out), value(X, Y), rtol=1e-12)
    else:
        d = jax.grad(lambda v: call_line(g, v, Y))
        if mode == "jit_grad":
            d = jax.jit(d)
        out, warned = run_recorded(lambda: np.asarray(d(xj)))
        np.testing.assert_allclose(out, grad_x(X, Y), rtol=1e-12)
        np.testing.assert_allclose(out, central(lambda v: value(v, Y), X), rtol=1e-6)
    check_callers(seen, warned)


# --- vmap's one pass: NumPy's floating-point warnings at the user's line -------------------

def fp_program(x):
    """Invalid values in log and sqrt, a divide by zero in a division (per example)."""
    y = np.log(x) * np.sqrt(x)  # THE warning line
    return np.sum(y / (x - 0.5))


FP_LINE = fp_program.__code__.co_firstlineno + 2
FP_X = np.array([[1.0, -1.0], [2.0, -3.0], [0.5, 0.25], [-0.5, 4.0]])


def _fp_warnings(thunk):
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        with np.errstate(all="warn", under="ignore"):
            out = thunk()
    return out, {(w.filename, w.lineno, str(w.message)) for w in ws
                 if issubclass(w.category, RuntimeWarning)}


@pytest.mark.parametrize("how", ["fast", "jit"])
def test_vmap_one_pass_fp_warnings_name_the_line(how):
    """The batched pass's NumPy warnings name the user's lines with NumPy's messages, the set
    the per-example loop gives (not batching_rules.py's line)."""
    native, want = _fp_warnings(lambda: np.array([fp_program(r) for r in FP_X]))
    assert {(f, ln) for f, ln, _ in want} == {(__file__, FP_LINE), (__file__, FP_LINE + 1)}
    f = framead.vmap(fp_program, fast=True) if how == "fast" else \
        framead.vmap(framead.jit(fp_program))
    _fp_warnings(lambda: f(FP_X[::-1].copy()))  # (recorded; the next call is one pass)
    out, got = _fp_warnings(lambda: f(FP_X))
    if how == "fast":
        assert f.vmap_stats["last"] == "batched", f.vmap_stats
    np.testing.assert_array_equal(out, native)
    assert got == want


@settings(max_examples=20, deadline=None)
@given(st.lists(st.lists(st.sampled_from([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0]), min_size=2,
                         max_size=2), min_size=2, max_size=5))
def test_vmap_one_pass_fp_warnings_fuzz(rows):
    x = np.array(rows)
    native, want = _fp_warnings(lambda: np.array([fp_program(r) for r in x]))
    f = framead.vmap(fp_program, fast=True)
    out, got = _fp_warnings(lambda: f(x))
    assert f.vmap_stats["batched"] == 1, f.vmap_stats  # (example 0 recorded, the rest batched)
    np.testing.assert_array_equal(out, native)
    assert got == want
