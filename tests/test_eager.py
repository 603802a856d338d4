"""The eager fallback: @framead.eager functions run uninstrumented with Tracers.

Each program calls a helper through ``impl=``; the same helper runs instrumented (plain) or
eagerly (a copy marked @framead.eager). Gradients must match central finite differences and
the instrumented gradient; Tracers must never reach the caller.
"""

from __future__ import annotations

import inspect
import math
import os
import types
from collections import namedtuple

import numpy as np
import pytest
from conftest import FAKE, fd_grad
from framead.capture import session
from framead.capture.eager import Tracer

import framead

pytestmark = pytest.mark.skipif(FAKE, reason="tests framead's eager fallback itself")
HERE = os.path.abspath(__file__)


def eager_copy(f):
    """``f`` with its own code object, marked @framead.eager (``f`` stays instrumented)."""
    g = types.FunctionType(f.__code__.replace(), f.__globals__, f.__name__, f.__defaults__,
                           f.__closure__)
    g.__qualname__ = f.__qualname__
    return framead.eager(g)


def _line(fn, marker: str) -> int:
    lines, start = inspect.getsourcelines(fn)
    for i, text in enumerate(lines):
        if marker in text:
            return start + i
    raise AssertionError(marker)


def tracers_in(obj, seen=None) -> list:
    """Every Tracer reachable through containers and instance attributes."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    if type(obj) is Tracer:
        return [obj]
    out = []
    if type(obj) in (list, tuple, set, frozenset) or isinstance(obj, tuple):
        for x in obj:
            out += tracers_in(x, seen)
    elif type(obj) is dict:
        for k, v in obj.items():
            out += tracers_in(k, seen) + tracers_in(v, seen)
    elif type(obj) is np.ndarray and obj.dtype == object:
        for x in obj.flat:
            out += tracers_in(x, seen)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type | types.ModuleType):
        out += tracers_in(vars(obj), seen)
    return out


# ---------------------------------------------------------------------- helpers and programs


def scalar_math(x, y):
    s = 1.0
    s += x
    s *= y
    s -= 2.0 / x
    s /= 1.0 + y * y
    t = s ** 2 + 2.0 ** x - abs(y - 3.0 * x) + (-x) * (+y)
    t = t + np.sin(x) * np.float64(2.0) + np.exp(-y)
    return t + scalar_tail(t, x)


def scalar_tail(t, x):
    # instrumented helper called from the eager frame: math.* on (registered) scalar Tracers
    return math.exp(0.1 * t) + math.sqrt(x * x + 1.0) + float(x) * 0.5


def prog_scalar(x, y, impl=scalar_math):
    return impl(x, y) * 1.5 - y


def ufuncs(x, w):
    y = np.sin(x) * np.exp(-x) + np.tanh(x * w) + np.log1p(x ** 2)
    z = np.maximum(y, 0.1) + np.sqrt(np.abs(x) + 1.0)
    raw = np.linspace(0.5, 1.5, x.size)
    z = raw * z + raw / (1.0 + z) - z @ raw  # reflected ndarray operators go through ufuncs
    return np.cos(z) + np.power(z, 2) + np.hypot(z, raw)


def prog_ufuncs(x, w, impl=ufuncs):
    return float(np.sum(impl(x, w)))


def reductions(x):
    a = np.sum(x ** 2) + x.sum() + x.mean() * 3.0 + np.max(x) - np.min(x)
    m = x.reshape(2, -1)
    b = m.sum(axis=1) @ np.array([1.0, -2.0]) + np.dot(x, x) + np.linalg.norm(x)
    c = np.prod(m[:, :2]) + np.cumsum(x)[-1] + np.var(x) + np.mean(m.T, axis=0).sum()
    return a + b + c


def prog_reductions(x, impl=reductions):
    return impl(x) * 2.0


def indexing(x, A):
    a = x[1:] * x[:-1]
    b = x[::2].sum() + x[[0, 2]].prod() + x[x > 0.5].sum()
    c = A[1, :] @ A[:, 0] + A.T[0].sum() + A[0][1] * A[-1, -1]
    d = A[np.array([0, 1]), np.array([1, 2])]
    return a.sum() + b + c + d.sum() + len(x) * x[-1]


def prog_indexing(x, A, impl=indexing):
    return impl(x, A)


def inplace(x, out):
    y = x.copy()
    y[0] = y[1] * 2.0
    y[1:3] += x[:2] * x[2:4]
    y *= 2.0
    v = y[2:]
    v[0] = 5.0 * x[0]
    v += np.sin(x[:-2])
    np.multiply(y, x, out=y)
    y[y > 3.0] = 0.5
    for i in range(len(out)):  # a caller's buffer (constant on entry) receives traced values
        out[i] = y[i] * x[i]
    x[0] = x[0] * x[1]  # writes into the traced argument itself
    x += 1.0
    return y


def prog_inplace(x, impl=inplace):
    out = np.zeros(3)
    y = impl(x, out)
    return float(np.sum(y ** 2) + np.sum(out) + np.sum(x * x))


def loops(x, A):
    n = len(x)
    s = 0.0
    for i in range(n):
        s = s + x[i] * x[(i + 1) % n]
    acc = np.zeros(A.shape[1])
    for row in A:
        acc = acc + row * row
    k = 0
    while s < 50.0 and k < 20:
        s = s * 1.3 + 0.1
        k += 1
    a, b, *rest = x
    terms = [v * v for v in x]
    return s + acc.sum() + a * b + sum(rest) + sum(terms) + max(x[0], x[1])


def prog_loops(x, A, impl=loops):
    return impl(x, A)


def lib_like(a, b, out):
    # an instrumented library-style helper that receives Tracers from the eager frame
    a = np.asarray(a)
    b = np.array(b, dtype=float)
    np.multiply(out, a, out=out)
    out[0] = out[0] + math.exp(float(b[0]) * 0.1)
    return np.sum(a * b) + out.sum()


def calls_helpers(x, y):
    buf = x * 1.0
    r = lib_like(x, x[::-1] * y, buf)
    return r + np.sum(buf ** 2) + scalar_tail(y, y)


def prog_helpers(x, y, impl=calls_helpers):
    return impl(x, y)


CASES = {
    "scalar": (prog_scalar, scalar_math, (0.7, 1.3), (0, 1)),
    "ufuncs": (prog_ufuncs, ufuncs, (np.array([0.3, -0.4, 0.8, 1.1]), 0.9), (0, 1)),
    "reductions": (prog_reductions, reductions,
                   (np.array([0.3, 0.4, 0.8, 1.1, 0.2, 0.6]),), 0),
    "indexing": (prog_indexing, indexing,
                 (np.array([0.3, 0.7, 0.2, 0.9]),
                  np.array([[0.5, -0.2, 0.3], [0.1, 0.4, 0.8], [0.7, 0.6, -0.5]])), (0, 1)),
    "inplace": (prog_inplace, inplace, (np.array([0.3, 0.7, 0.2, 0.9, 0.4]),), 0),
    "helpers": (prog_helpers, calls_helpers, (np.array([0.3, 0.7, 0.2]), 0.8), (0, 1)),
    "loops": (prog_loops, loops,
              (np.array([0.3, 0.7, 0.2, 0.9]),
               np.array([[0.5, -0.2, 0.3], [0.1, 0.4, 0.8]])), (0, 1)),
}


def _assert_tree_close(a, b, rtol, atol, what):
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_allclose(np.asarray(u, float), np.asarray(v, float), rtol=rtol,
                                   atol=atol, err_msg=what)


@pytest.mark.parametrize("name", list(CASES))
def test_gradient_matches_fd_and_instrumented(name):
    prog, helper, args, argnums = CASES[name]
    fast = eager_copy(helper)

    def native(*a):
        return prog(*a, impl=helper)

    want_value = native(*[np.copy(a) if isinstance(a, np.ndarray) else a for a in args])
    value, g_eager = framead.value_and_grad(prog, argnums)(*args, impl=fast)
    g_instr = framead.grad(prog, argnums)(*args, impl=helper)
    g_fd = fd_grad(native, args, argnums)
    assert type(value) is not Tracer
    np.testing.assert_allclose(value, want_value, rtol=1e-12)
    _assert_tree_close(g_eager, g_instr, 1e-10, 1e-12, f"{name}: eager vs instrumented")
    _assert_tree_close(g_eager, g_fd, 1e-6, 1e-8, f"{name}: eager vs finite differences")
    cov = framead.coverage(prog, *args, impl=fast)
    assert {e.code for e in cov.entries} == {"FA201"}, str(cov)


def test_eager_frame_is_not_instrumented_and_caller_inputs_untouched():
    fast = eager_copy(inplace)
    x = np.array([0.3, 0.7, 0.2, 0.9, 0.4])
    before = x.copy()
    framead.grad(prog_inplace)(x, impl=fast)
    np.testing.assert_array_equal(x, before)
    assert id(fast.__wrapped__.__code__) in session.EAGER_CODES
    assert id(inplace.__code__) not in session.EAGER_CODES


def test_outside_capture_runs_natively():
    fast = eager_copy(ufuncs)
    x = np.array([0.3, -0.4, 0.8, 1.1])
    np.testing.assert_array_equal(fast(x, 0.9), ufuncs(x, 0.9))
    assert type(fast(x, 0.9)) is np.ndarray
    assert fast.__name__ == "ufuncs"


# ---------------------------------------------------------------------- Tracers never escape

Pair = namedtuple("Pair", "a b")
G_STORE = None
SEEN: list = []


class Holder:
    def __init__(self):
        self.cache = None
        self.items = []


class Slotted:
    __slots__ = ("v",)

    def __init__(self):
        self.v = None


@framead.eager
def leaky(x, s, holder, bucket, slotted):
    global G_STORE
    y = np.sin(x) * s
    seen_inside = (type(x), type(s), isinstance(s, float), isinstance(x, np.ndarray))
    G_STORE = y * 2.0  # a global
    holder.cache = y.sum()  # an attribute
    holder.items.append(s * 3.0)  # a list reached through an attribute
    bucket["k"] = (y[0], [y[1]])  # a dict argument
    slotted.v = s + 1.0  # a __slots__ attribute
    return {"y": y, "pair": Pair(s * s, [y[0], (y[1],)]), "n": 3, "set": {s * 2.0},
            "seen": seen_inside}


def prog_leaky(x, s):
    holder, bucket, slotted = Holder(), {}, Slotted()
    out = leaky(x, s, holder, bucket, slotted)
    SEEN[:] = [out, holder, bucket, slotted, G_STORE]
    # everything stored or returned is the real, traced object: the gradient flows through it
    total = np.sum(out["y"]) + out["pair"].a + out["pair"].b[1][0] + next(iter(out["set"]))
    total = total + np.sum(G_STORE) + holder.cache + holder.items[0] + bucket["k"][0]
    return total + bucket["k"][1][0] + slotted.v


def prog_leaky_plain(x, s):
    y = np.sin(x) * s
    total = np.sum(y) + s * s + y[1] + s * 2.0
    total = total + np.sum(y * 2.0) + y.sum() + s * 3.0 + y[0]
    return total + y[1] + s + 1.0


def test_tracers_never_escape_and_gradients_flow_through_stores():
    x, s = np.array([0.3, 0.9, 1.4]), 0.8
    g = framead.grad(prog_leaky, (0, 1))(x, s)
    want = framead.grad(prog_leaky_plain, (0, 1))(x, s)
    _assert_tree_close(g, want, 1e-12, 1e-12, "stores")
    _assert_tree_close(g, fd_grad(prog_leaky_plain, (x, s), (0, 1)), 1e-6, 1e-8, "fd")
    out, holder, bucket, slotted, gstore = SEEN
    assert tracers_in(SEEN) == []
    assert tracers_in(G_STORE) == [] and type(G_STORE) is np.ndarray
    assert type(out["y"]) is np.ndarray and type(out["pair"]) is Pair
    assert type(out["pair"].a) is float and type(out["pair"].b[1][0]) is np.float64
    assert type(holder.cache) is np.float64 and type(holder.items[0]) is float
    assert type(slotted.v) is float and type(bucket["k"][1][0]) is np.float64
    # inside the eager frame the arguments were Tracers (type() and isinstance of a scalar
    # answer its value's class)
    assert out["seen"] == (Tracer, float, True, False)  # (type(s): its value's class)
    cov = framead.coverage(prog_leaky, x, s)
    assert {e.code for e in cov.entries} == {"FA201"}, str(cov)


def _suspended(t):
    yield t
    yield t


@framead.eager
def leaks_generator(x):
    scale = x * 3.0
    lazy = (scale * k for k in range(2))  # closure cell holding a Tracer: rewritten in place
    held = _suspended(x * 2.0)  # a suspended frame holding a Tracer: cannot be rewritten
    next(held)
    return lazy, held


def prog_generator(x):
    lazy, held = leaks_generator(x)
    rest = list(lazy)
    late = next(held)  # the escaped Tracer still records while the capture runs
    return float(np.sum(x) + np.sum(rest[1]) + np.sum(late))


def test_unrewritable_escape_is_reported():
    x = np.array([0.3, 0.9])
    cov = framead.coverage(prog_generator, x)
    codes = {e.code for e in cov.entries}
    assert codes == {"FA201", "FA105"}, str(cov)
    e = next(e for e in cov.entries if e.code == "FA105")
    assert e.line == _line(prog_generator, "leaks_generator(x)") and e.file == HERE
    assert "_suspended" in e.message
    np.testing.assert_allclose(framead.grad(prog_generator)(x), [6.0, 6.0])


# ---------------------------------------------------------------------- coverage and strict


@framead.eager
def eager_poly(x):
    return x * x * 3.0 + x


def prog_cov(x):
    a = x * 2.0
    b = eager_poly(a)  # EAGER-CALL
    return b + eager_poly(x)  # EAGER-CALL-2


def test_fa201_in_coverage_with_the_call_line():
    cov = framead.coverage(prog_cov, 0.4)
    entries = [e for e in cov.entries if e.code == "FA201"]
    assert len(entries) == 2, str(cov)
    assert [e.line for e in entries] == [_line(prog_cov, "EAGER-CALL"),
                                         _line(prog_cov, "EAGER-CALL-2")]
    assert all(e.file == HERE and e.op == "eager_poly" for e in entries)
    assert all(e.kind == "eager-fallback" for e in entries)
    js = cov.to_json()
    assert '"FA201"' in js
    g = framead.grad(prog_cov)(0.4)
    assert g == pytest.approx(2 * (6 * 0.8 + 1) + 6 * 0.4 + 1, rel=1e-12)


def test_fa201_counts_every_run():
    def prog(x):
        s = 0.0
        for _ in range(4):
            s = s + eager_poly(x)  # LOOP-CALL
        return s

    cov = framead.coverage(prog, 0.5)
    (e,) = cov.entries
    assert (e.code, e.count, e.line) == ("FA201", 4, _line(prog, "LOOP-CALL"))


def test_strict_raises_on_fa201():
    with pytest.raises(framead.GradientHazard) as info:
        framead.grad(prog_cov, strict=True)(0.4)
    msg = str(info.value)
    assert "FA201" in msg and f"{HERE}:{_line(prog_cov, 'EAGER-CALL')}" in msg
    assert info.value.hazard.op == "eager_poly"
    with framead.strict(), pytest.raises(framead.GradientHazard):
        framead.grad(prog_cov)(0.4)


@framead.eager
def cuts(x):
    y = math.exp(x)  # MATH-CUT
    z = np.asarray(x * 2.0)  # ASARRAY-CUT
    return y + float(z) + int(x * 10) + x


def test_gradient_cuts_inside_eager_are_fa102():
    cov = framead.coverage(cuts, 0.3)
    fa102 = sorted((e.line, e.op) for e in cov.entries if e.code == "FA102")
    lines = [ln for ln, _ in fa102]
    assert _line(cuts, "MATH-CUT") in lines and _line(cuts, "ASARRAY-CUT") in lines
    assert _line(cuts, "return y") in lines  # float() and int()
    # only the last term carries a gradient
    assert framead.grad(cuts)(0.3) == pytest.approx(1.0)


def test_fa103_for_refused_frames(monkeypatch):
    def refused(x):
        return x * 2.0

    def prog(x):
        return refused(x) + x  # REFUSED-CALL

    real = session.instrument
    monkeypatch.setattr(session, "instrument",
                        lambda code, probes: None if code is refused.__code__
                        else real(code, probes))
    cov = framead.coverage(prog, 0.5)
    (e,) = cov.entries
    assert (e.code, e.op, e.file, e.line) == ("FA103", refused.__qualname__, HERE,
                                              _line(prog, "REFUSED-CALL"))
    cov2 = framead.coverage(prog, 0.5)  # reported again by the next capture (decision cached)
    assert [x.code for x in cov2.entries] == ["FA103"]
    with pytest.raises(framead.GradientHazard, match="FA103"):
        framead.grad(prog, strict=True)(0.5)


# ---------------------------------------------------------------------- semantics


@framead.eager
def fact(x, n):
    return x if n <= 1 else x * fact(x, n - 1)  # recursive eager calls


@framead.eager
def outer(x, ws):
    acc = inner_eager(x, ws[0]) + helper_plain(x, ws[1])
    return acc * ws[2]


@framead.eager
def inner_eager(x, w):
    return np.tanh(x * w)


def helper_plain(x, w):
    return inner_eager(x, w) * x  # instrumented frame between two eager ones


def test_nested_and_recursive_eager_calls():
    g = framead.grad(lambda x: fact(x, 5))(0.7)
    assert g == pytest.approx(5 * 0.7 ** 4, rel=1e-12)
    x = np.array([0.2, 0.5])

    def prog(x, w0):
        return float(np.sum(outer(x, [w0, 0.7, 1.3])))

    def plain(x, w0):
        ws = [w0, 0.7, 1.3]
        return float(np.sum((np.tanh(x * ws[0]) + np.tanh(x * ws[1]) * x) * ws[2]))

    got = framead.grad(prog, (0, 1))(x, 0.4)
    _assert_tree_close(got, fd_grad(plain, (x, 0.4), (0, 1)), 1e-6, 1e-8, "nested")


def test_closure_and_global_values_are_followed():
    def prog(x):
        scale = x * 2.0

        @framead.eager
        def use(v):
            return v * scale + G_FACTOR * v  # a traced closure cell and a global

        return use(x)

    global G_FACTOR
    G_FACTOR = 3.0
    assert framead.grad(prog)(0.5) == pytest.approx(4 * 0.5 + 3.0)
    assert type(G_FACTOR) is float


@framead.eager
def tracer_api(x, s):
    info = (x.shape, x.dtype, x.ndim, x.size, len(x), s.real, str(s) == str(s._fa_obj))
    y = x.reshape(2, 2).T.copy()
    y = y.astype(np.float64).ravel() + np.float64(1.5) * x
    q = np.concatenate([y, x[:1]]) + 0.0
    w = np.stack([q[:2], q[2:4]]).sum(axis=0)
    parts = divmod(s * 7.0, 2.0)
    r = s ** 2 % 0.3 + abs(-s) + np.float64(1.0) * s
    return w.sum() + parts[1] + r + q.tolist()[0] + y.item(0), info


def test_tracer_api_matches_plain_code():
    plain = tracer_api.__wrapped__
    x, s = np.array([0.3, 0.9, 1.4, 0.2]), 0.45

    def native(x, s):
        y = x.reshape(2, 2).T.copy()
        y = y.astype(np.float64).ravel() + np.float64(1.5) * x
        q = np.concatenate([y, x[:1]]) + 0.0
        w = np.stack([q[:2], q[2:4]]).sum(axis=0)
        parts = divmod(s * 7.0, 2.0)
        r = s ** 2 % 0.3 + abs(-s) + np.float64(1.0) * s
        return w.sum() + parts[1] + r + q.tolist()[0] + y.item(0)

    def prog(x, s):
        v, info = tracer_api(x, s)
        assert info[:5] == ((4,), np.dtype(float), 1, 4, 4) and info[6]
        assert type(info[5]) is float
        return v

    got = framead.grad(prog, (0, 1))(x, s)
    _assert_tree_close(got, framead.grad(native, (0, 1))(x, s), 1e-12, 1e-12, "api")
    _assert_tree_close(got, fd_grad(native, (x, s), (0, 1)), 1e-6, 1e-8, "api fd")
    assert plain is not tracer_api


def test_errors_in_eager_frames_point_at_user_code():
    @framead.eager
    def bad(x):
        return x[:2] + x  # shape mismatch

    def prog(x):
        return np.sum(bad(x))

    with pytest.raises(ValueError) as info:
        framead.grad(prog)(np.array([0.1, 0.2, 0.3]))
    files = [str(entry.path) for entry in info.traceback]
    assert not any(f.endswith(("capture/eager.py", "capture/recorder.py", "eager_api.py"))
                   for f in files), files


def test_decorator_rejects_generators_and_accepts_methods():
    with pytest.raises(TypeError, match="generator"):
        @framead.eager
        def gen(x):
            yield x

    class Model:
        def __init__(self, w):
            self.w = w

        @framead.eager
        def f(self, x):
            return x * x * self.w

        @framead.eager
        @staticmethod
        def g(x):
            return x * 3.0

    m = Model(2.0)
    assert framead.grad(lambda x: m.f(x) + Model.g(x))(0.5) == pytest.approx(2.0 * 2 * 0.5 + 3)
    assert framead.eager(Model.g) is Model.g


def test_grad_of_an_eager_function_itself_and_complex_values():
    x = np.array([0.3, 0.8])
    g = framead.grad(lambda v: np.sum(eager_poly(v)))(x)
    np.testing.assert_allclose(g, 6 * x + 1)

    @framead.eager
    def cplx(z, x):
        w = z * x + 1j * x
        return np.abs(w) ** 2 + (w * np.conj(w)).real

    def plain(x):
        return float(np.sum(cplx.__wrapped__(np.complex128(0.5 + 0.2j), x)))

    def prog(x):
        return float(np.sum(cplx(np.complex128(0.5 + 0.2j), x)))

    np.testing.assert_allclose(framead.grad(prog)(x), fd_grad(plain, (x,)), rtol=1e-6)


def test_method_reads_attributes_combined_with_tracers():
    class Layer:
        def __init__(self, w):
            self.w = w

        @framead.eager
        def forward(self, x):
            return np.tanh(x @ self.w).sum()  # self.w is a plain traced array here

    def prog(x, w):
        return Layer(w * 1.0).forward(x)

    def plain(x, w):
        return np.tanh(x @ w).sum()

    x, w = np.array([0.3, -0.5]), np.array([[0.2, 0.4], [0.7, -0.1]])
    got = framead.grad(prog, (0, 1))(x, w)
    _assert_tree_close(got, fd_grad(plain, (x, w), (0, 1)), 1e-6, 1e-8, "method")


class Registry:
    cache = None


def test_class_attribute_store_and_exception_restore():
    @framead.eager
    def store(x, log):
        Registry.cache = x * 2.0  # a class attribute
        log.append(x * 3.0)
        if log[0] > 100.0:
            raise RuntimeError("boom")
        return x

    def prog(x, log):
        store(x, log)
        return Registry.cache + log[-1]

    log: list = []
    assert framead.grad(prog)(0.5, log) == pytest.approx(5.0)
    assert type(Registry.cache) is float and type(log[0]) is float
    bad: list = [200.0]
    with pytest.raises(RuntimeError, match="boom"):
        framead.grad(prog)(0.5, bad)
    assert tracers_in(bad) == [] and type(Registry.cache) is float
