"""Adversarial review of four changes: warnings in cached replays (framead/replay_graph.py
``GATE``, ``gated``, ``CaptureWarnings``), f-strings through the call probe
(capture/opcodes_common.py ``format_value``), the ``_umath_linalg`` gufunc rules
(rules/linalg_gufunc_rules.py) and the list.sort / text / set-choice guards (capture/calls.py).

Every check compares against the native run (values, warnings, exceptions, tracebacks,
profiler events, call counts) or central differences. The strict xfails are bugs found, each
reason naming the cause and the change it needs; the passing tests are behaviours checked."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from conftest import fd_grad

import framead
from framead.errors import GradientHazard

la = np.linalg
NP25 = tuple(int(v) for v in np.__version__.split(".")[:2]) >= (2, 5)


def _module_fn(src: str, name: str):
    """``f`` of ``src`` compiled as its own module (its own globals: its own warning
    registry), so a native and a cached copy do not share registry entries."""
    g = {"__name__": name, "np": np, "warnings": warnings}
    exec(compile(textwrap.dedent(src), f"<{name}>", "exec"), g)
    return g["f"]


# --- 1. cached traces of sets / hash-based dedup: silent wrong replays ------------------------

def _set_loop(x):
    s = {x[0] * 1.0, x[1] * 2.0, x[2] * 3.0}
    for v in s:  # the first item in the set's order: its items' hashes
        return v * 1.0
    return 0.0


def _dict_dedup(x):
    d: dict = {}
    for v in x.tolist():
        k = v - v % 0.5  # (a grid: the same keys, so the same merges, under differences)
        d[k] = d.get(k, 0.0) + v
    return sum(d.values()) * len(d)



@pytest.mark.parametrize("f,a,b", [
    (_set_loop, [1.0, 1.0, 1.0], [5.0, 1.0, 1.0]),  # order 1,2,3 -> 2,3,5 (hash & 7)
    (lambda x: _weigh(list({x[0] * 1.0, x[1] * 2.0, x[2] * 3.0})), [1.0] * 3, [5.0, 1, 1]),
    (lambda x: {float(x[0]), float(x[1]) * 2, float(x[2]) * 3}.pop() * 1.0, [1.0] * 3,
     [5.0, 1, 1]),
    (lambda x: sum(v * (k + 1.0) for k, v in enumerate({x[0] * 1.0, x[1] * 2.0, x[2] * 3.0})),
     [1.0] * 3, [5.0, 1, 1]),
    (lambda x: len({float(v - v % 0.5) for v in x}) * x[0], [0.1, 0.2, 0.3],
     [1.3, 0.2, 0.6]),  # 1 distinct grid value -> 3
    (_dict_dedup, [0.1, 0.2, 0.3], [1.3, 0.2, 0.6]),
], ids=["for-loop", "list", "pop", "enumerate", "len", "dict-keys"])
def test_hash_order_and_dedup_of_traced_values_replay_right(f, a, b):
    b = np.array(b)
    want_v, want_g = float(f(b)), fd_grad(f, (b,), step=1e-6)
    assert np.allclose(framead.grad(f)(b), want_g, atol=1e-6)  # (uncached: right)
    cf = framead.value_and_grad(f, cache=True)
    cf(np.array(a))
    v, g = cf(b)
    assert np.isclose(float(v), want_v) and np.allclose(g, want_g, atol=1e-6), \
        (float(v), want_v, g, want_g, cf.stats)


# --- 2. cond over a stack holding a singular matrix the loss does not read -----------------

_COND_REASON = (
    "cond's r = norm(x) * norm(inv(x)): the product's VJP (rules/families.py _scaled, a "
    "derivative that is an argument: g * y) gives 0 * NaN = NaN for the matrix the loss does "
    "not read (its inverse is NaN); the inv gufunc and norm VJPs keep a zero cotangent zero "
    "(no_cotangent_no_nan), the multiply does not (a reduction per product); reported since "
    "(FA112 at the product: test_cond_nan_of_an_unread_singular_matrix_is_reported)")


@pytest.mark.parametrize("p", [
    None, -2,
    *[pytest.param(p, marks=pytest.mark.xfail(strict=True, raises=(AssertionError, GradientHazard),
                                              reason=_COND_REASON))
      for p in ("fro", 1, np.inf)],
    pytest.param("nuc", marks=[
        pytest.mark.skipif(not NP25, reason="NumPy < 2.5: cond(p='nuc') of a singular matrix "
                                            "raises LinAlgError natively"),
        pytest.mark.xfail(strict=True, raises=(AssertionError, GradientHazard),
                          reason=_COND_REASON)]),
])
def test_cond_gradient_of_an_unread_singular_matrix_is_zero(p):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    s = a.copy()
    s[0] = 0.0
    x = np.stack([a, s])

    def f(m):
        return float(la.cond(m, p)[0])  # the first matrix only

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        g = framead.grad(f, strict=True)(x.copy())
        ref = fd_grad(f, (x,), step=1e-5)
    np.testing.assert_allclose(g[0], ref[0], rtol=1e-5, atol=1e-7)
    assert np.array_equal(ref[1], np.zeros((3, 3)))
    assert np.array_equal(g[1], np.zeros((3, 3))), g[1]


@pytest.mark.parametrize("p", ["fro", 1, np.inf])
def test_cond_nan_of_an_unread_singular_matrix_is_reported(p):
    """The NaN above is reported where it is born (FA112, framead/nonfinite.py): a warning at
    the user's call, GradientHazard in strict mode."""
    x = np.stack([np.eye(3) + 0.1, np.diag([0.0, 1.0, 2.0])])

    def f(m):
        return float(la.cond(m, p)[0])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.warns(framead.GradientWarning, match="FA112") as w:
            g = framead.grad(f)(x.copy())
        assert np.isnan(g[1]).any() and w[0].filename == __file__
        with pytest.raises(GradientHazard, match="FA112"):
            framead.grad(f, strict=True)(x.copy())


@pytest.mark.parametrize("p", [None, 2, -2, "fro", 1, -1, np.inf, -np.inf, "nuc"])
def test_cond_with_a_repeated_middle_singular_value(p):
    """The repeated singular values carry a zero cotangent: no NaN from the SVD's VJP."""
    rng = np.random.default_rng(0)
    q1, _ = la.qr(rng.standard_normal((4, 4)))
    q2, _ = la.qr(rng.standard_normal((4, 4)))
    x = q1 @ np.diag([3.0, 2.0, 2.0, 1.0]) @ q2.T

    def f(m):
        return float(la.cond(m, p))

    g = framead.grad(f, strict=True)(x.copy())
    np.testing.assert_allclose(g, fd_grad(f, (x,), step=1e-4), rtol=1e-5, atol=1e-6)


def test_svdvals_sum_of_squares_at_degenerate_matrices():
    """sum(svdvals(a)**2) = ||a||_F^2: gradient 2a at zero, rank-one, identity, wide a."""
    rng = np.random.default_rng(1)
    for x in (np.zeros((3, 3)), np.outer(rng.standard_normal(4), rng.standard_normal(4)),
              np.eye(3), rng.standard_normal((3, 5))):
        g = framead.grad(lambda a: float(np.sum(la.svdvals(a) ** 2)), strict=True)(x.copy())
        np.testing.assert_allclose(g, 2 * x, atol=1e-12)


# --- 3. warnings: the registry that hid a capture's warning ---------------------------------

_REGISTRY_SRC = """
def f(x):
    warnings.warn("old api", UserWarning)
    return float(np.sum(x * x))
"""

_REGISTRY_REASON = (
    "framead/replay_graph.py CaptureWarnings: a capture whose warnings.warn the 'default' "
    "registry dropped (the same warning shown at that line before) issues nothing and is "
    "cached; once the filters change (simplefilter('error'), a catch_warnings block: the "
    "filters' version bumps and every registry is cleared) the native call warns or raises "
    "again, the replay never runs warnings.warn and returns silently. Needs: a capture "
    "where a module whose code ran holds registry entries (or warnings.onceregistry is not "
    "empty) either not cached or tied to the filters' version (read it with a "
    "warn_explicit into a scratch registry dict, which stores 'version'), a replay under "
    "another version a miss")


def _registry_run(fn, switch: str) -> list:
    out = []
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("default")
        for k in range(3):
            if k == 2:
                if switch == "error":
                    warnings.simplefilter("error")
                else:  # a catch_warnings block ends (pytest's per-test one does the same)
                    with warnings.catch_warnings():
                        pass
            n = len(w)
            try:
                fn(np.array([1.0, 2.0]))
                out.append(("ok", [str(m.message) for m in w[n:]]))
            except UserWarning as e:
                out.append(("raised", str(e)))
    return out


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=_REGISTRY_REASON)
@pytest.mark.parametrize("switch", ["error", "catch_warnings"])
def test_warning_dropped_by_the_registry_is_due_again_after_filters_change(switch):
    native = _registry_run(_module_fn(_REGISTRY_SRC, f"reg_native_{switch}"), switch)
    assert native[1] == ("ok", []) and native[2] != ("ok", [])  # (the test proves something)
    cf = framead.value_and_grad(_module_fn(_REGISTRY_SRC, f"reg_cached_{switch}"), cache=True)
    assert _registry_run(cf, switch) == native, cf.stats


# --- 4. warnings: GATE left behind by an interleaved catch_warnings --------------------------

def test_gate_is_not_left_by_a_catch_warnings_straddling_a_replay():
    """Another thread's catch_warnings copies the filters while a replay holds GATE in them
    and restores its saved list after the replay ended: the last gate_off takes GATE out of
    every list it went into."""
    from framead import replay_graph as rg

    with warnings.catch_warnings():
        rg.gate_on()  # thread A: a replay starts
        other = warnings.catch_warnings()
        other.__enter__()  # thread B: copies the filters, GATE included
        rg.gate_off()  # thread A: the replay ends (GATE dropped from B's copy only)
        other.__exit__(None, None, None)  # thread B: its saved list comes back
        left = rg.GATE in warnings.filters
    assert not left


def test_interrupt_escaping_a_replay_restores_state():
    """A KeyboardInterrupt raised inside a replay (a rule's function) propagates, and the
    warnings filters, NumPy's error state and the gate's thread state are as before."""
    from framead import replay_graph as rg

    calls = [0]

    def probe(a):
        calls[0] += 1
        if calls[0] == 2:
            raise KeyboardInterrupt
        return a * 1.0

    framead.rules.register(probe, vjp=(lambda g, ans, a: g,))

    def f(x):
        return float(np.sum(probe(x) ** 2))

    cf = framead.value_and_grad(f, cache=True)
    x = np.array([1.0, 2.0])
    before = list(warnings.filters), np.geterr(), np.geterrcall()
    cf(x)
    with pytest.raises(KeyboardInterrupt):
        cf(x)
    assert calls[0] == 2  # (the interrupt came from the replay)
    assert (list(warnings.filters), np.geterr(), np.geterrcall()) == before
    assert rg.GATE not in warnings.filters and not rg._thread.__dict__.get("gate")
    assert cf(x)[0] == 5.0 and cf.stats["hits"] == 1


def test_errstate_call_and_log_around_cached_calls_as_native():
    """np.errstate(call=...) with 'call' and 'log' modes: the handler sees the native run's
    errors through the cache (a replay meeting one is a miss)."""
    def f(x):
        return float(np.sum(np.log(x)))

    class Log:
        def __init__(self):
            self.lines: list = []

        def write(self, s):
            self.lines.append(s)

    cf = framead.value_and_grad(f, cache=True)
    for mode in ("call", "log"):
        got = []
        for g in (f, cf):
            seen: list = []
            log = Log()
            handler = (lambda kind, flag: seen.append(kind)) if mode == "call" else log
            for p in ([1.0, 2.0], [1.5, 2.0], [-1.0, 2.0], [0.0, 2.0], [1.0, 2.0]):
                with np.errstate(all=mode, call=handler):
                    g(np.array(p))
            got.append(seen or log.lines)
        assert got[0] == got[1] and got[0], (mode, got)
    assert cf.stats["hits"] >= 2


# --- 5. warnings: stacklevel past f; a program silencing its own warnings --------------------

def test_stacklevel_two_names_the_callers_line():
    def f(x):
        warnings.warn("call f differently", DeprecationWarning, stacklevel=2)
        return float(np.sum(x * x))

    def where(call):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            call()  # (the caller's line: this one)
        return [(os.path.basename(m.filename), m.lineno) for m in w]

    x = np.array([1.0, 2.0])
    native = where(lambda: f(x))
    assert native and native[0][0] == os.path.basename(__file__)
    assert [n for n, _ in where(lambda: framead.grad(f)(x))] == [n for n, _ in native]


def test_a_program_silencing_its_own_warnings_is_not_retried_every_call():
    """A program that sets warnings filters (catch_warnings + simplefilter) is not cached
    (CaptureWarnings.check_codes): replays run none of it, so each would miss."""
    def f(x):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = np.log(x)
        return float(np.nansum(y))

    cf = framead.value_and_grad(f, cache=True)
    x = np.array([-1.0, 2.0, 3.0])
    for _ in range(10):
        assert cf(x)[0] == f(x)
    assert cf.stats["replay_warned"] <= 1, cf.stats


def test_nested_cached_calls_warn_as_native():
    """A cached f calling a jit-ed g: values, gradients and warnings as f run natively."""
    def g(x):
        return np.sum(np.log(x) * x)

    cg = framead.jit(g)

    def f(x):
        return float(cg(x) + np.sum(x ** 2))

    def ref(x):
        return float(g(x) + np.sum(x ** 2))

    def seen(call):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            v = call()
        return v, [(str(m.message), m.lineno) for m in w]

    cf = framead.value_and_grad(f, cache=True)
    for p in ([1.0, 2.0], [1.5, 2.0], [-1.0, 2.0], [1.0, 2.0], [0.0, 1.0]):
        x = np.array(p)
        (v, gr), w = seen(lambda x=x: cf(x))
        nv, nw = seen(lambda x=x: ref(x))
        assert w == nw and np.isclose(v, nv, equal_nan=True), (p, w, nw)
        if np.isfinite(nv):
            np.testing.assert_allclose(gr, fd_grad(ref, (x,), step=1e-6), rtol=1e-6)
    assert cf.stats["hits"] >= 2


# --- 6. f-strings through the call probe ------------------------------------------------------

_FSTRING_PROGRAM = r'''
import datetime, decimal, sys, traceback
import numpy as np
import framead
from framead.errors import GradientHazard

OUT = []

class S(str):
    def __format__(self, spec):
        return "S!" + spec

class Str2(str):
    pass

class Rep:
    def __init__(self, v):
        self.v = v
    def __repr__(self):
        OUT.append("repr-called")
        return "Rep(%r)" % (self.v,)
    def __str__(self):
        return Str2("Rs")
    def __format__(self, spec):
        OUT.append(("fmt", spec))
        return format(self.v, spec)

class Bad:
    def __format__(self, spec):
        raise ValueError("bad fmt " + spec)

class K:
    pass

def f(x):
    a = x[0] * 2.0
    b = float(x[1])
    w, p = 10, 3
    OUT.append(f"{a}|{a!s}|{a!r}|{a!a}|{x}|{x!r}|{x[0]:.4f}|{np.float64(b):.2e}")
    OUT.append(f"{a:.3f}|{b:>{w}.{p}f}|{a!r:>20}|{b:e}|{a:g}|{a:%}|{a:{'>'}{w}}")
    OUT.append(f"{a=}|{b=:.2f}|{a = }|{x=}")
    OUT.append(f"{S('q'):zz}|{Str2('t')}|{Str2('u')!s}|{Rep(b)}|{Rep(a)!r}|{Rep(b)!s}|{Rep(a):.1f}")
    OUT.append(f"{decimal.Decimal('1.5'):.3f}|{datetime.date(2020, 1, 2):%Y}|{b'xy'}|{'é'!a}")
    OUT.append("".join(f"{i}:{v:.2f}" for i, v in enumerate(x)))
    OUT.append([f"{v:.1f}" for v in x] + [(lambda q: f"<{q:.2f}>")(a)])
    K.t = f"{b:.3f}"
    try:
        raise KeyError(f"{a:.2f}")
    except KeyError as e:
        OUT.append(f"{e!s}/{e!r}")
    OUT.append(f"{a}{b}" * 3 + "".join([f"{a:.{k % 7}f}{b!r:>{k % 13}}" for k in range(300)]))
    s = f"{a:.0f}|{x[1]!r:>12}"
    y = a * a if s.startswith("3") else (a * 3.0 if s[0] in "12" else -a)
    return y + (x[1] if len(s) > 14 else 0.0)

def bad(x):
    a = x[0] * 2.0
    return f"{a:.2f} and {Bad():zz}"

def bad_spec(x):
    a = x[0] * 2.0
    return f"value {a:d} here"

def tail(call):
    try:
        call()
    except Exception:
        lines = traceback.format_exc().splitlines()
        return lines[next(i for i, ln in enumerate(lines) if ", in bad" in ln):]
    return None

def events(call):
    ev = []
    def prof(frame, event, arg):  # (f's call, the C calls until it returns, its return)
        if event == "call" and frame.f_code is f.__code__:
            ev.append(("call",))
        elif event == "return" and frame.f_code is f.__code__:
            ev.append(("return",))
        elif event.startswith("c_") and ev and ev[-1] != ("return",):
            ev.append((event, getattr(arg, "__name__", type(arg).__name__)))
    sys.setprofile(prof)
    try:
        call()
    finally:
        sys.setprofile(None)
    return ev

problems = []
pts = [np.array(p) for p in ([1.2, 2.5], [1.45, 3.0], [-1.2, 2.5], [1.2, 2.5], [0.6, 1e-9])]
for p in pts:
    OUT.clear(); nv = f(p); nat = list(OUT)
    OUT.clear(); gv = framead.value_and_grad(f)(p)[0]; got = list(OUT)
    if got != nat or gv != nv:
        problems.append(("texts", p.tolist()))
cf = framead.value_and_grad(f, cache=True)
for p in pts:
    v, g = cf(p)
    eps = 1e-6
    fd = [(f(p + eps * e) - f(p - eps * e)) / (2 * eps) for e in np.eye(2)]
    if not (v == f(p) and np.allclose(g, fd, atol=1e-5)):
        problems.append(("cached", p.tolist(), float(v), f(p)))
x = np.array([1.0, 2.0])
for fn in (bad, bad_spec):
    want = tail(lambda: fn(x))
    for h in (framead.grad(lambda x: float(len(fn(x))) * x[0]),
              framead.value_and_grad(lambda x: float(len(fn(x))) * x[0], cache=True)):
        if tail(lambda: h(x)) != want:
            problems.append(("traceback", fn.__name__))
ne = events(lambda: f(pts[0]))
ge = events(lambda: framead.grad(f)(pts[0]))
if ne != ge[-len(ne):] or ge.count(("call",)) != 1:
    problems.append(("profile", ne, ge))
print("PROBLEMS" if problems else "SAME", problems)
'''


_OTHERS = ("/tmp/venv-3.12/bin/python", "/tmp/venv-3.13/bin/python")  # (where installed)


@pytest.mark.parametrize("python", [sys.executable, *(p for p in _OTHERS if os.path.exists(p)
                                                      and p != sys.executable)])
def test_fstrings_as_native(python, tmp_path):
    """f-strings of every kind (conversions, nested specs, '=', objects whose __format__ /
    __repr__ have side effects or return str subclasses, Decimal, datetime, bytes, NumPy
    scalars and arrays, in generators, lambdas, comprehensions, class bodies and except
    handlers, 600+ fields): the texts, __format__/__repr__ calls and results of framead's
    run are the native run's; cached replays at other points decide on the text as natively
    (values and gradients against central differences); tracebacks from f down and the
    profiler's c_call events inside f are the native run's."""
    prog = tmp_path / "fstrings_probe.py"
    prog.write_text(_FSTRING_PROGRAM)
    r = subprocess.run([python, str(prog)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().startswith("SAME"), r.stdout[-3000:]




@pytest.mark.parametrize("text", [
    lambda a: f"{slice(a, None)}", lambda a: str({a}),
    lambda a: repr({"k": a}.values()),
    lambda a: "%s" % ({a},)],  # noqa: UP031 - the '%' operator is the case
    ids=["fstring-slice", "str-set", "repr-values", "percent-set"])
def test_text_of_containers_holding_traced_values_decides(text):
    def f(x):
        a = x[0] * 2.0
        return a * 3.0 if "-" in text(a) else a * a

    cf = framead.value_and_grad(f, cache=True)
    cf(np.array([1.0]))
    assert float(cf(np.array([-1.0]))[0]) == f(np.array([-1.0])), cf.stats


# --- 7. list.sort guards ----------------------------------------------------------------------

_KEY_CALLS = [0]


def _counting_key(v):
    _KEY_CALLS[0] += 1
    return 0  # (reads nothing traced: the permutation is re-made on the replay's items)


def _sort_counting(x):
    L = [x[0] * 1.0, x[1] * 2.0, x[2] * 3.0]
    L.sort(key=_counting_key)
    return _weigh(L)


def _weigh(L):
    return L[0] * 1.0 + L[1] * 10.0 + L[2] * 100.0


def _sort_reverse_ties(x):
    L = [x[0], x[1], x[2], x[0] + 0.0]  # x[0] twice (distinct objects): a stable tie
    L.sort(reverse=True)
    return L[0] * 1.0 + L[1] * 10.0 + L[2] * 100.0 + L[3] * 1000.0


def _sort_tuples(x):
    L = [(x[0] * 1.0, "a"), (x[1] * 1.0, "b"), (x[2] * 1.0, "c")]
    L.sort()
    return L[0][0] * 1.0 + L[1][0] * 10.0 + L[2][0] * 100.0


def _sort_by_text(x):
    L = [x[0] * 1.0, x[1] * 1.0, x[2] * 1.0]
    L.sort(key=str)
    return _weigh(L)


def _sort_by_comparison(x):
    L = [x[0] * 1.0, x[1] * 1.0, x[2] * 1.0]
    L.sort(key=lambda v: v > 0.5)
    return _weigh(L)


def _sort_aliased(x):
    L = [x[0] * 1.0, x[1] * 1.0, x[2] * 1.0]
    M = L
    _KEY_CALLS.append(L)  # (held elsewhere too)
    M.sort()
    return _weigh(L)


def _sort_unbound_abs(x):
    L = [x[0] * 1.0, x[1] * 1.0, x[2] * 1.0]
    list.sort(L, key=abs)
    return _weigh(L)


@pytest.mark.parametrize("f", [_sort_counting, _sort_reverse_ties, _sort_tuples, _sort_by_text,
                               _sort_by_comparison, _sort_aliased, _sort_unbound_abs],
                         ids=lambda f: f.__name__)
def test_list_sort_at_permuted_points(f):
    """Cached calls at points whose sort order differs: values as native, gradients as
    central differences (points away from ties), the key called as often as natively."""
    cf = framead.value_and_grad(f, cache=True)
    for p in ([0.3, 0.2, 0.1], [0.1, 0.2, 0.3], [0.3, 0.2, 0.1], [0.2, 0.3, 0.1],
              [0.25, 0.9, 0.4], [-0.3, 0.7, 0.2], [0.7, -0.35, 0.25]):
        x = np.array(p)
        _KEY_CALLS[:] = [0]
        want = f(x)
        native_calls, _KEY_CALLS[0] = _KEY_CALLS[0], 0
        v, g = cf(x)
        assert _KEY_CALLS[0] == native_calls, p
        assert np.isclose(v, want), (p, v, want)
        np.testing.assert_allclose(g, fd_grad(f, (x,), step=1e-6), atol=1e-5, err_msg=str(p))
    assert cf.stats["hits"] >= 1, cf.stats
