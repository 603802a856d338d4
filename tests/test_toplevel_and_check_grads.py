"""The differentiated callable itself is dispatched as a call in user code would be (issue 11
item 2), for every entry point; and ``framead.check_grads``.

Top-level ``f``, ``f`` wrapped in a lambda / partial / class with ``__call__``, and central
finite differences in float64 (computed here, independent of framead) must all agree.
"""

from __future__ import annotations

import functools
import math
import operator
import warnings

import numpy as np
import pytest
import scipy.signal
import scipy.special
from conftest import ENGINE_NAME
from hypothesis import given, settings
from hypothesis import strategies as st

import framead
from framead import rules

pytestmark = pytest.mark.skipif(ENGINE_NAME != "framead", reason="needs the real framead")

P = functools.partial
RNG = np.random.default_rng(7)
V = RNG.uniform(0.4, 1.6, 4)                      # positive, no ties
M = np.array([[0.9, -0.4, 0.3], [0.2, 1.3, -0.7], [-0.5, 0.6, 1.1]])
R = np.array([[0.7, -1.2, 0.35, 2.1], [1.4, 0.15, -0.8, 0.55]])  # rows without ties

# (id, f, args, argnums): C callables, rule-covered Python functions, keywords via partial
CASES = [
    ("np.sin", np.sin, (V,), 0),
    ("np.sin-scalar", np.sin, (0.3,), 0),
    ("np.exp", np.exp, (V,), 0),
    ("np.log", np.log, (V,), 0),
    ("np.sqrt", np.sqrt, (V,), 0),
    ("np.tanh", np.tanh, (0.7,), 0),
    ("np.add", np.add, (0.3, 0.5), (0, 1)),
    ("np.multiply", np.multiply, (V, V[::-1].copy()), (0, 1)),
    ("np.divide", np.divide, (V, 1.5), (0, 1)),
    ("np.power", np.power, (V, 2.5), (0, 1)),
    ("np.arctan2", np.arctan2, (V, V[::-1].copy()), (0, 1)),
    ("np.hypot", np.hypot, (0.3, 1.1), (0, 1)),
    ("np.dot", np.dot, (V, V[::-1].copy()), (0, 1)),
    ("np.matmul", np.matmul, (M, V[:3].copy()), (0, 1)),
    ("math.sin", math.sin, (0.3,), 0),
    ("math.exp", math.exp, (0.3,), 0),
    ("math.log", math.log, (1.7,), 0),
    ("math.sqrt", math.sqrt, (1.7,), 0),
    ("math.atan2", math.atan2, (0.3, 1.1), (0, 1)),
    ("math.hypot", math.hypot, (0.3, 1.1), (0, 1)),
    ("math.pow", math.pow, (1.3, 2.2), (0, 1)),
    ("jv", scipy.special.jv, (1.0, 0.4), 1),
    ("gammaln", scipy.special.gammaln, (V,), 0),
    ("erf", scipy.special.erf, (V,), 0),
    ("expit", scipy.special.expit, (0.4,), 0),
    ("signal.convolve", scipy.signal.convolve, (V, V[:2].copy()), (0, 1)),
    ("np.mean", np.mean, (V,), 0),
    ("np.mean-axis0", P(np.mean, axis=0), (R,), 0),
    ("np.mean-keepdims", P(np.mean, axis=1, keepdims=True), (R,), 0),
    ("np.std", np.std, (V,), 0),
    ("np.std-ddof", P(np.std, ddof=1), (V,), 0),
    ("np.std-out-None", P(np.std, out=None), (V,), 0),
    ("np.std-axis", P(np.std, axis=1, ddof=1), (R,), 0),
    ("np.var", np.var, (V,), 0),
    ("np.var-axis-ddof", P(np.var, axis=0, ddof=1), (R,), 0),
    ("np.max", np.max, (V,), 0),
    ("np.max-axis", P(np.max, axis=1), (R,), 0),
    ("np.max-keepdims", P(np.max, axis=1, keepdims=True), (R,), 0),
    ("np.min", np.min, (V,), 0),
    ("np.min-axis", P(np.min, axis=1, keepdims=True, out=None), (R,), 0),
    ("np.amax", np.amax, (R,), 0),
    ("np.amin-axis", P(np.amin, axis=-1), (R,), 0),
    ("np.sum", np.sum, (R,), 0),
    ("np.sum-axis", P(np.sum, axis=0), (R,), 0),
    ("np.prod", np.prod, (V,), 0),
    ("np.prod-axis", P(np.prod, axis=1), (R,), 0),
    ("np.linalg.norm", np.linalg.norm, (V,), 0),
    ("np.linalg.norm-ord1", P(np.linalg.norm, ord=1), (V,), 0),
    ("np.linalg.norm-axis", P(np.linalg.norm, axis=1), (R,), 0),
    ("np.linalg.det", np.linalg.det, (M,), 0),
    ("np.linalg.inv", np.linalg.inv, (M,), 0),
    ("np.cumsum", np.cumsum, (V,), 0),
    ("np.average", np.average, (V,), 0),
    ("np.trace", np.trace, (M,), 0),
    ("np.einsum", P(np.einsum, "ij,j->i"), (M, V[:3].copy()), (0, 1)),
    ("np.linalg.solve", np.linalg.solve, (M, V[:3].copy()), (0, 1)),
    ("np.clip", P(np.clip, a_min=0.0, a_max=0.5), (R,), 0),
    ("logsumexp", scipy.special.logsumexp, (V,), 0),
    ("ndarray.sum", np.ndarray.sum, (R,), 0),
    ("ndarray.mean-axis", P(np.ndarray.mean, axis=1), (R,), 0),
    ("ndarray.std-ddof", P(np.ndarray.std, ddof=1), (V,), 0),
    ("np.add.reduce", np.add.reduce, (R,), 0),
    ("np.add.reduce-axis1", P(np.add.reduce, axis=1), (R,), 0),
    ("np.maximum.reduce", np.maximum.reduce, (R,), 0),
    ("np.multiply.accumulate", np.multiply.accumulate, (R,), 0),
    ("abs", abs, (-0.3,), 0),
    ("pow", pow, (1.3, 2.2), (0, 1)),
    ("max", max, (1.3, 2.2), (0, 1)),
    ("operator.mul", operator.mul, (1.3, 2.2), (0, 1)),
    ("operator.truediv", operator.truediv, (V, 1.3), (0, 1)),
]

# callables whose top-level gradient is known wrong (each a strict xfail: remove when fixed)
KNOWN_WRONG: dict[str, str] = {}


def _known(request, name):
    if name in KNOWN_WRONG:
        request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN_WRONG[name]))


class Caller:
    """A class with __call__ wrapping the callable."""

    def __init__(self, f):
        self.f = f

    def __call__(self, *a):
        return self.f(*a)


    def method(self, *a):
        return self.f(*a)


def _forms(f):
    return {"top": f, "lambda": lambda *a: f(*a), "partial": P(f), "class": Caller(f),
            "bound": Caller(f).method}


def _nums(argnums):
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _copy(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def _moved(args, i, j, h):
    a = list(_copy(args))
    if isinstance(a[i], np.ndarray):
        a[i].reshape(-1)[j] += h
    else:
        a[i] = a[i] + h
    return tuple(a)


def fd_vjp(f, args, argnums, u, h=1e-6):
    """u . J by central differences, per argument (float64, framead not involved)."""
    out = []
    for i in _nums(argnums):
        g = np.zeros(np.size(args[i]))
        for j in range(g.size):
            hi = np.asarray(f(*_moved(args, i, j, h)), dtype=float)
            lo = np.asarray(f(*_moved(args, i, j, -h)), dtype=float)
            g[j] = np.sum(u * (hi - lo)) / (2 * h)
        out.append(g.reshape(np.shape(args[i])))
    return out


def _cotangent(f, args):
    y = f(*_copy(args))
    u = RNG.standard_normal(np.shape(y))
    return u if isinstance(y, np.ndarray) else type(y)(u)


def _vjp(f, args, argnums, u):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no GradientWarning (zero gradient)
        out, f_vjp = framead.vjp(f, *_copy(args), argnums=_nums(argnums))
    return out, [np.asarray(g, dtype=float) for g in f_vjp(u)]


@pytest.mark.parametrize("name,f,args,argnums", CASES, ids=[c[0] for c in CASES])
def test_top_level_matches_wrapped_and_finite_differences(request, name, f, args, argnums):
    _known(request, name)
    u = _cotangent(f, args)
    want = fd_vjp(f, args, argnums, np.asarray(u))
    native = f(*_copy(args))
    for form, g in _forms(f).items():
        out, got = _vjp(g, args, argnums, u)
        np.testing.assert_array_equal(out, native, err_msg=f"{name} {form}: value")
        for gi, wi in zip(got, want, strict=True):
            np.testing.assert_allclose(gi, wi, rtol=1e-6, atol=1e-7, err_msg=f"{name} {form}")
    t = framead.trace(f, *_copy(args), argnums=_nums(argnums))
    assert t.hazards == [], t.hazards


@pytest.mark.parametrize("name,f,args,argnums", CASES, ids=[c[0] for c in CASES])
def test_top_level_forward_mode(request, name, f, args, argnums):
    _known(request, name)
    nums = _nums(argnums)
    tans = [None] * len(args)
    for i in nums:
        t = RNG.standard_normal(np.shape(args[i]))
        tans[i] = t if isinstance(args[i], np.ndarray) else float(t)
    h = 1e-6
    hi = f(*[a + h * t if t is not None else a for a, t in zip(args, tans, strict=True)])
    lo = f(*[a - h * t if t is not None else a for a, t in zip(args, tans, strict=True)])
    want = (np.asarray(hi, dtype=float) - np.asarray(lo, dtype=float)) / (2 * h)
    for form, g in _forms(f).items():
        _, got = framead.jvp(g, _copy(args), tans)
        np.testing.assert_allclose(np.asarray(got, dtype=float), want, rtol=1e-6, atol=1e-7,
                                   err_msg=f"{name} {form}")


@pytest.mark.parametrize("name,f,args,argnums", CASES, ids=[c[0] for c in CASES])
def test_check_grads_order2_top_level(request, name, f, args, argnums):
    """Second derivatives (every pair of modes) of each callable given straight to framead."""
    _known(request, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", framead.GradientWarning)
        framead.check_grads(f, *_copy(args), order=2, argnums=argnums, rtol=1e-4, atol=1e-6)


SCALAR = [c for c in CASES if np.ndim(c[1](*_copy(c[2]))) == 0]


@pytest.mark.parametrize("name,f,args,argnums", SCALAR, ids=[c[0] for c in SCALAR])
def test_grad_top_level_scalar(name, f, args, argnums):
    want = fd_vjp(f, args, argnums, 1.0)
    for form, g in _forms(f).items():
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = framead.grad(g, argnums)(*_copy(args))
        got = (got,) if isinstance(argnums, int) else got
        for gi, wi in zip(got, want, strict=True):
            np.testing.assert_allclose(gi, wi, rtol=1e-6, atol=1e-7, err_msg=f"{name} {form}")


def test_issue_examples():
    assert framead.grad(np.sin)(0.3) == pytest.approx(math.cos(0.3))
    assert framead.grad(np.add, argnums=(0, 1))(0.3, 0.5) == (1.0, 1.0)
    assert framead.grad(math.sin)(0.3) == pytest.approx(math.cos(0.3))
    assert framead.grad(scipy.special.jv, argnums=1)(1.0, 0.4) == pytest.approx(
        0.5 * (scipy.special.jv(0, 0.4) - scipy.special.jv(2, 0.4)))
    np.testing.assert_allclose(framead.grad(np.mean)(V), np.full(4, 0.25))
    np.testing.assert_allclose(framead.grad(np.max)(V), (V == V.max()).astype(float))


def test_top_level_rule_is_one_node_at_the_users_line():
    t = framead.trace(np.mean, V.copy())
    assert len(t.nodes) == 1 and t.hazards == []
    assert t.nodes[0].loc.file == __file__


def test_higher_order_top_level():
    x = 0.3
    assert framead.grad(framead.grad(math.sin))(x) == pytest.approx(-math.sin(x))
    assert framead.grad(framead.grad(np.sin))(x) == pytest.approx(-math.sin(x))
    h = framead.hessian(np.linalg.norm)(V.copy())
    n = np.linalg.norm(V)
    np.testing.assert_allclose(h, (np.eye(4) - np.outer(V, V) / n**2) / n, rtol=1e-9)
    np.testing.assert_allclose(framead.jacfwd(np.sin)(V.copy()), np.diag(np.cos(V)))
    np.testing.assert_allclose(framead.jacrev(np.sin)(V.copy()), np.diag(np.cos(V)))


def test_cache_and_jit_top_level():
    g = framead.grad(np.mean, cache=True)
    for k in range(3):
        np.testing.assert_allclose(g(V + k), np.full(4, 0.25))
    assert g.stats["hits"] == 2
    gs = framead.grad(math.sin, cache=True)
    assert [gs(v) for v in (0.3, 0.4)] == pytest.approx([math.cos(0.3), math.cos(0.4)])
    # jit of a C callable called inside a capture: its call is dispatched too
    got = framead.grad(lambda a: framead.jit(np.sin)(a).sum())(V.copy())
    np.testing.assert_allclose(got, np.cos(V))
    assert framead.grad(framead.jit(math.sin))(0.3) == pytest.approx(math.cos(0.3))


def test_coverage_top_level():
    rep = framead.coverage(np.sin, V.copy())
    assert not rep.entries


def test_top_level_c_callable_without_rule_is_reported():
    """Before: called from framead's frame, it was silently constant (zeros, no hazard)."""
    fn = next((f for f in (scipy.special.struve, scipy.special.ellipkinc, scipy.special.zeta)
               if rules.lookup(f) is None), None)
    if fn is None:
        pytest.skip("every candidate has a rule now")
    t = framead.trace(fn, 1.0, 0.3, argnums=1)
    assert [h.code for h in t.hazards] == ["FA101"]
    assert t.hazards[0].loc.file == __file__
    with pytest.raises(framead.GradientHazard, match="FA101"):
        framead.grad(fn, 1, strict=True)(1.0, 0.3)


@settings(max_examples=60, deadline=None)
@given(case=st.sampled_from([c for c in CASES if c[0] in {
    "np.mean", "np.std-ddof", "np.max-axis", "np.var-axis-ddof", "np.linalg.norm-axis",
    "np.prod", "math.atan2", "np.arctan2", "np.min-axis", "np.sum-axis"}]),
       form=st.sampled_from(["top", "lambda", "partial", "class", "bound"]),
       scale=st.floats(0.5, 2.0), shift=st.floats(-1.0, 1.0))
def test_top_level_hypothesis(case, form, scale, shift):
    name, f, args, argnums = case
    args = tuple(a * scale + shift for a in args)
    u = _cotangent(f, args)
    want = fd_vjp(f, args, argnums, np.asarray(u))
    _, got = _vjp(_forms(f)[form], args, argnums, u)
    for gi, wi in zip(got, want, strict=True):
        np.testing.assert_allclose(gi, wi, rtol=1e-5, atol=1e-6, err_msg=f"{name} {form}")


# ------------------------------------------------------------------------------ check_grads

def test_check_grads_passes_on_right_derivatives():
    assert framead.check_grads(lambda x, y: np.sum(np.sin(x) * y), V.copy(), 2.0,
                               order=2) is None
    framead.check_grads(math.atan2, 0.3, 1.1, order=2)
    framead.check_grads(np.linalg.det, M.copy(), order=2)
    framead.check_grads(P(np.std, axis=1, ddof=1), R.copy(), order=2)
    framead.check_grads(lambda x: (x**2, np.cos(x).sum(), 3), V.copy(), order=2)
    framead.check_grads(np.multiply, V.astype(np.float32), 2.0, modes=("rev",), argnums=0)
    framead.check_grads(lambda x, n: x**n, V.copy(), 3, order=2)  # int argument not checked



def _cube(x):
    return x * x * x


def _cube_wrong_vjp(g, ans, x):
    return g * 2.0 * x * x  # wrong: should be 3 x^2


@pytest.fixture
def wrong_rule():
    rules.register(_cube, vjp=(_cube_wrong_vjp,), jvp=lambda t, ans, x: 3.0 * x * x * t[0],
                   elementwise=True)
    yield
    rules.unregister(_cube)


def test_check_grads_reports_a_wrong_vjp(wrong_rule):
    x = np.array([0.5, -1.5, 2.0])
    framead.check_grads(_cube, x, modes=("fwd",))  # the JVP is right
    with pytest.raises(AssertionError) as ei:
        framead.check_grads(lambda a: np.sum(_cube(a)), x, modes=("rev",))
    e = ei.value
    assert isinstance(e, framead.GradientCheckError)
    assert (e.mode, e.argnum, e.index) == ("rev", 0, (0,))
    assert e.framead == pytest.approx(e.numeric * 2 / 3)  # 2 x^2 g against 3 x^2 g
    msg = str(e)
    assert "reverse mode" in msg and "argument 0, index (0,)" in msg
    assert repr(e.framead) in msg and repr(e.numeric) in msg


def test_check_grads_reports_a_wrong_jvp_and_its_index():
    def _sq(x):
        return x * x

    rules.register(_sq, vjp=(lambda g, ans, x: 2 * g * x,),
                   jvp=lambda t, ans, x: 2.0 * x * t[0] + (x > 1.0) * t[0], elementwise=True)
    try:
        x = np.array([0.5, 1.5, 0.25])
        framead.check_grads(_sq, x, modes=("rev",))
        with pytest.raises(framead.GradientCheckError) as ei:
            framead.check_grads(_sq, x, modes=("fwd",))
        e = ei.value
        assert (e.mode, e.argnum, e.index, e.output) == ("fwd", 0, (1,), "index (1,)")
        assert e.framead == pytest.approx(4.0) and e.numeric == pytest.approx(3.0)
    finally:
        rules.unregister(_sq)


def test_check_grads_order2_catches_a_wrong_second_derivative():
    def _sq(x):
        return x * x

    # first derivative right, but its VJP reads x through a cut: d/dx of 2 g x is lost
    rules.register(_sq, vjp=(lambda g, ans, x: 2 * g * float(round(x, 12)),),
                   elementwise=True)
    try:
        framead.check_grads(lambda x: _sq(x) * 1.0, 0.7, modes=("rev",))
        with pytest.raises(framead.GradientCheckError) as ei:
            framead.check_grads(lambda x: _sq(x) * 1.0, 0.7, order=2, modes=("rev",))
        assert "order 2" in str(ei.value) and "argument 0" in str(ei.value)
    finally:
        rules.unregister(_sq)


def test_check_grads_arguments():
    with pytest.raises(ValueError):
        framead.check_grads(np.sin, 0.3, order=3)
    with pytest.raises(ValueError):
        framead.check_grads(np.sin, 0.3, modes=("backward",))
    with pytest.raises(TypeError):
        framead.check_grads(np.sin, np.arange(3), argnums=0)
    with pytest.raises(ValueError, match="not a tuple"):  # nothing to check
        framead.check_grads(np.sin, (np.arange(3),))
    with pytest.raises(TypeError, match="no float leaf"):
        framead.check_grads(lambda x: {"y": str(x)}, 0.3)
    framead.check_grads(np.sin, (V.copy(),))  # a container argument is checked leaf by leaf
    framead.check_grads(lambda x: {"y": x}, 0.3)  # and a container output


def test_check_grads_on_a_function_that_writes_its_input():
    def f(x):
        x *= 2.0
        x[0] = np.sin(x[1])
        return x

    x = V.copy()
    framead.check_grads(f, x, order=2)
    np.testing.assert_array_equal(x, V)  # the caller's array is untouched
    framead.check_grads(lambda s: s * np.float32(1.0) + s, np.float32(0.3), order=2)


def _scaled(x):
    return np.sin(x)


_UNARY = [np.sin, np.tanh, np.arctan, np.cos, lambda a: np.exp(np.sin(a)),  # smooth, finite
          lambda a: np.log1p(a * a), lambda a: np.sqrt(1.0 + a * a), np.square]


@settings(max_examples=25, deadline=None)
@given(fns=st.lists(st.sampled_from(_UNARY), min_size=1, max_size=3),
       x=st.lists(st.floats(0.2, 1.5), min_size=1, max_size=4), order=st.sampled_from([1, 2]))
def test_check_grads_passes_on_compositions(fns, x, order):
    def f(a):
        for fn in fns:
            a = fn(a)
        return a

    framead.check_grads(f, np.array(x), order=order, rtol=1e-4, atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(scale=st.sampled_from([0.5, 0.9, 1.1, -1.0, 2.0]), mode=st.sampled_from(["rev", "fwd"]),
       n=st.integers(1, 4))
def test_check_grads_fails_on_any_wrong_scale(scale, mode, n):
    """A rule off by a factor anywhere is caught, in the mode whose derivative is wrong."""
    right = (lambda g, ans, x: g * np.cos(x),)
    wrong = (lambda g, ans, x: scale * g * np.cos(x),)
    rules.register(_scaled, vjp=wrong if mode == "rev" else right, elementwise=True,
                   jvp=lambda t, ans, x: (scale if mode == "fwd" else 1.0) * np.cos(x) * t[0])
    x = np.linspace(0.1, 1.0, n)
    try:
        framead.check_grads(_scaled, x, modes=("fwd" if mode == "rev" else "rev",))
        with pytest.raises(framead.GradientCheckError) as ei:
            framead.check_grads(_scaled, x, modes=(mode,))
    finally:
        rules.unregister(_scaled)
    assert ei.value.mode == mode and ei.value.argnum == 0
    assert "argument 0" in str(ei.value)


def test_check_grads_docstring_example():
    import doctest

    import framead.check

    assert doctest.testmod(framead.check).failed == 0


# --------------------------------------------------------------------------- the collector


class _Cycle:
    """A self-referencing object whose finalizer computes with what it holds."""

    finalized: list = []

    def __init__(self, v):
        self.v, self.me = v, self

    def __del__(self):
        _Cycle.finalized.append(self.v * 2.0)


def test_the_garbage_collector_runs_while_the_program_runs():
    """The cyclic GC is never paused for the program: it is enabled inside f, the garbage
    cycles f makes are collected while f runs (finalizers too, natively: no hazard), and
    the program's own gc.callbacks run; afterwards gc.callbacks is as it was."""
    import gc
    import weakref

    seen: list = []
    callbacks = list(gc.callbacks)

    def on_collect(phase, info):
        seen.append(phase)

    def f(x):
        assert gc.isenabled()
        gc.callbacks.append(on_collect)
        y = x * 3.0
        refs = []
        for i in range(20_000):
            c = _Cycle(y)
            if i % 100 == 0:
                refs.append(weakref.ref(c))
            del c
        alive = sum(r() is not None for r in refs)
        gc.callbacks.remove(on_collect)
        assert alive < len(refs) // 10, alive  # collected without an explicit gc.collect()
        return y * y

    assert gc.isenabled()
    g = framead.grad(f, strict=True)(1.5)
    assert g == 2 * 9 * 1.5 and "start" in seen and _Cycle.finalized
    assert gc.callbacks == callbacks and gc.isenabled()
