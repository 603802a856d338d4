"""The C step loop (capture/_scalar_tape.c ``run``) on float64 array nodes: the inline
formulas on arrays of one shape, and the fused region steps (``a[key]`` and
``a[key] = v``). Cotangents must be bit-identical, of the same types and dtypes, to the pure
Python step loop's (framead/reverse.py ``_run_steps``), close to finite differences, and no
NumPy floating-point warning may escape the reverse pass."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import fd_grad
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framead
from framead import reverse

pytestmark = pytest.mark.skipif(reverse._scalar_tape is None, reason="extension not built")

N = 8


def _backward(f, args, c: bool, seed=1.0):
    """The raw reverse-pass cotangents of ``f``'s inputs, and the names of the nodes whose
    Python step was made (the C loop takes the others)."""
    t = framead.trace(f, *args)
    bw = reverse.Backward(t.graph, t.wrt, compiled=False)
    out = t.graph.outputs[0]
    made: list[str] = []
    make = reverse._make_step

    def counting(node, check):
        made.append(node.name)
        return make(node, check)

    old = reverse.SCALAR_C
    reverse.SCALAR_C = c
    reverse._make_step = counting
    try:
        return bw({out.id: seed}), made
    finally:
        reverse.SCALAR_C = old
        reverse._make_step = make


def _assert_same(py, cc):
    assert len(py) == len(cc)
    for a, b in zip(py, cc, strict=True):
        assert type(a) is type(b)
        if isinstance(a, np.ndarray | np.generic):
            assert a.dtype == b.dtype and np.shape(a) == np.shape(b)
            np.testing.assert_array_equal(a, b, strict=True)
            assert np.asarray(a).tobytes() == np.asarray(b).tobytes()  # (signs of zero, nans)
        else:
            assert np.float64(a).tobytes() == np.float64(b).tobytes()


def _same(f, *args, seed=1.0):
    py, _ = _backward(f, args, c=False, seed=seed)
    cc, made = _backward(f, args, c=True, seed=seed)
    _assert_same(py, cc)
    return cc, made


# --- random array programs ------------------------------------------------------------------
# a program: a list of statements on a working array ``a`` (a copy of the input x, length N)
# and a second input y, each statement drawn with its parameters.

_SLICES = [slice(1, -1), slice(2, None), slice(None, -2), slice(None, None, 2),
           slice(1, None, 2), slice(None, None, -1), slice(2, 6), slice(5, 1, -1)]
_CONSTS = [0.5, 2.0, -1.25, 3, np.float64(0.75)]


def _len(s: slice) -> int:
    return len(range(N)[s])


def _binop(op: int, p, q):
    if op == 0:
        return p + q
    if op == 1:
        return p - q
    if op == 2:
        return p * q
    return p / (q * q + 1.0)


def _unop(op: int, p, c):
    if op == 0:
        return -p
    if op == 1:
        return +p
    if op == 2:
        return p ** 2
    if op == 3:
        return p ** 3
    if op == 4:
        return p * c
    if op == 5:
        return c * p
    if op == 6:
        return p + c
    if op == 7:
        return c - p
    if op == 8:
        return p / c
    return p ** 1


_stmt = st.one_of(
    # a[s] = a[s1] (op) a[s2]: slices of one length (views of the working array)
    st.tuples(st.just("region"), st.sampled_from(_SLICES), st.integers(0, 3),
              st.integers(0, 9), st.sampled_from(_CONSTS), st.integers(0, 7)),
    # a[::2] = a[j] (op) c: a traced scalar into a region (unbroadcast)
    st.tuples(st.just("fill"), st.integers(-N, N - 1), st.integers(0, 9),
              st.sampled_from(_CONSTS), st.sampled_from(_SLICES)),
    # a[i] = a[j] (op) a[k]: elements
    st.tuples(st.just("elem"), st.integers(-N, N - 1), st.integers(-N, N - 1),
              st.integers(-N, N - 1), st.integers(0, 3)),
    # a = a (op) y (op) a: the whole array, used whole and sliced
    st.tuples(st.just("whole"), st.integers(0, 3), st.integers(0, 9), st.sampled_from(_CONSTS)),
    # b = a[1:][::2] (a view of a view), then a[::2] = b (op) a[1::2]
    st.tuples(st.just("vv"), st.integers(0, 3), st.integers(0, 9), st.sampled_from(_CONSTS)),
    # a[s] = a constant, or a constant array
    st.tuples(st.just("const"), st.sampled_from(_SLICES), st.sampled_from(_CONSTS)),
    # a binop of traced arrays, one broadcast to the other's shape (summed back in the
    # reverse pass): a row, a column, a one-element slice, a row of the same matrix
    st.tuples(st.just("bcast"), st.integers(0, 4), st.integers(0, 3), st.integers(0, 3),
              st.booleans()),
    # a sum over an axis (or all of them), broadcast back against the array
    st.tuples(st.just("rsum"), st.integers(0, 3), st.integers(0, 2)),
    # a[s] = ufunc(an expression of a[s1]): np.exp, np.sqrt, np.tanh, np.log (of a square
    # plus 0 or 0.25 for sqrt and log: zeros make infinite derivatives, handed back to the
    # rule's no_cotangent_no_nan where a zero cotangent meets them)
    st.tuples(st.just("ufunc"), st.integers(0, 3), st.sampled_from(_SLICES),
              st.integers(0, 7), st.sampled_from([0.0, 0.25]), st.booleans()),
)

_UFUNCS = (np.exp, np.sqrt, np.tanh, np.log)


def _program(stmts):
    def f(x, y):
        a = x.copy()
        for s in stmts:
            kind = s[0]
            if kind == "region":
                _, sl, op, uop, c, pick = s
                m = _len(sl)
                same = [t for t in _SLICES if _len(t) == m]
                s1, s2 = same[pick % len(same)], same[(pick // 2) % len(same)]
                a[sl] = _unop(uop, _binop(op, a[s1], a[s2]), c)
            elif kind == "fill":
                _, j, uop, c, sl = s
                a[sl] = _unop(uop, a[j], c)
            elif kind == "elem":
                _, i, j, k, op = s
                a[i] = _binop(op, a[j], a[k])
            elif kind == "whole":
                _, op, uop, c = s
                a = _binop(op, _unop(uop, a, c), y) + a
                a[1:3] = a[4:6] * y[0:2]
            elif kind == "vv":
                _, op, uop, c = s
                b = a[1:][::2]
                a[::2] = _unop(uop, _binop(op, b, a[1::2]), c)
            elif kind == "rsum":
                _, form, op = s
                m = a.reshape(4, 2)
                if form == 3:
                    a = _binop(op, a, np.sum(a, axis=0))
                else:
                    r = (np.sum(m, axis=0), np.sum(m, axis=1)[:, None],
                         np.sum(m, axis=-1)[:, None])[form]
                    a = (_binop(op, m, r) + 0.0).reshape(N)
            elif kind == "ufunc":
                _, u, sl, pick, c0, zero_tail = s
                same = [t for t in _SLICES if _len(t) == _len(sl)]
                p = a[same[pick % len(same)]]
                arg = p * 0.5 if u in (0, 2) else p * p + c0
                r = _UFUNCS[u](arg)
                if zero_tail:  # (part of the result unread: zero cotangents reach it)
                    r = r * (np.arange(_len(sl)) % 2)
                a[sl] = r
            elif kind == "bcast":
                _, form, op, j, swap = s
                m = a.reshape(4, 2)
                small = (m[j], m[:, j % 2:j % 2 + 1], a[j:j + 1], y[2 * j:2 * j + 2],
                         m[j:j + 1, :])[form]
                p, q = (small, m) if swap else (m, small)
                a = (_binop(op, p, q) + 0.0).reshape(N)
            else:
                _, sl, c = s
                a[sl] = c if c != 3 else np.linspace(0.0, 1.0, N)[sl]
        return np.sum(a * a) + np.sum(a[2:5] * y[1:4])
    return f


def _fd(f, x, y, h=1e-6):
    gx = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        gx[i] = (f(x + e, y) - f(x - e, y)) / (2 * h)
    return gx


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(stmts=st.lists(_stmt, min_size=1, max_size=6),
       xs=st.lists(st.floats(-1.0, 1.0), min_size=N, max_size=N),
       ys=st.lists(st.floats(-1.0, 1.0), min_size=N, max_size=N))
def test_random_array_programs(stmts, xs, ys):
    f = _program(stmts)
    x, y = np.array(xs), np.array(ys)
    with np.errstate(all="ignore"):
        v = f(x, y)
    if not np.isfinite(v) or abs(v) > 1e6:
        return
    cc, _made = _same(f, x, y)
    with np.errstate(all="ignore"):
        fd = _fd(f, x, y)
    if np.all(np.isfinite(fd)):
        scale = 1.0 + np.max(np.abs(fd))
        np.testing.assert_allclose(cc[0], fd, rtol=1e-5, atol=1e-5 * scale)


def test_fuzzer_programs_are_taken_by_c():
    """A program of each statement kind: the C loop takes its array nodes (no Python step
    made for the inline rules on arrays, getitem or setitem)."""
    stmts = [("region", slice(1, -1), 1, 2, 0.5, 3), ("fill", -2, 6, 2.0, slice(None, None, 2)),
             ("elem", 0, 3, -1, 2), ("whole", 2, 0, 0.5), ("vv", 3, 3, 2.0),
             ("region", slice(5, 1, -1), 3, 1, 3, 5), ("const", slice(2, 6), 3)]
    f = _program(stmts)
    x, y = np.linspace(-0.9, 0.8, N), np.linspace(0.3, -0.7, N)
    cc, made = _same(f, x, y)
    _, made_py = _backward(f, (x, y), c=False)
    taken = {"operator.add", "operator.sub", "operator.neg", "operator.pos",
             "operator.getitem", "setitem", "operator.pow", "operator.truediv"}
    assert sum(n in taken for n in made_py) > 20
    assert [n for n in made if n in taken] == []


def test_unary_ufuncs_taken_by_c():
    """np.exp, np.sqrt, np.tanh, np.log of float64 arrays: C takes the node with the rule's
    operations (bit-identical); a cotangent holding a NaN (sqrt or log at 0 where the
    cotangent is 0) goes to the rule's step, which zeroes it."""
    def f(x):
        a = np.exp(x * 0.5) + np.tanh(x) + np.sqrt(x * x + 0.25) + np.log(x * x + 1.0)
        b = np.sqrt(x * x) * (np.arange(x.size) % 2)  # sqrt(0) at x[0]: g 0 there
        return np.sum(a * a) + np.sum(b) + np.sum(np.log(x[1:] * x[1:]))

    x = np.linspace(-1.0, 1.0, 9) + 0.05
    x[0] = 0.0
    cc, made = _same(f, x)
    assert not {"np.exp", "np.tanh", "np.log"} & set(made)
    assert made.count("np.sqrt") == 1  # (the one whose cotangent meets 0 * inf)
    y = np.linspace(-1.0, 1.0, 9) + 0.05
    cc_y, _ = _same(f, y)
    np.testing.assert_allclose(cc_y[0], fd_grad(f, (y,), step=1e-6), rtol=1e-6, atol=1e-8)
    assert np.all(np.isfinite(cc[0]))


def test_broadcast_operands_taken_by_c():
    """A sum, difference or product whose traced operand broadcasts (nbody's
    ``x[i + 1:] - x[i]`` and ``d * s[:, None]``): C takes the node and sums the operand's
    cotangent back to its shape; a quotient's goes to Python's step (the rule's formula)."""
    def f(x, s):
        acc = 0.0
        for i in range(3):
            d = x[i + 1:] - x[i]
            w = d * s[i + 1:, None] + x[i:i + 1, :]
            acc = acc + np.sum(w * w) + np.sum(d / (s[i] * s[i] + 1.0))
        return acc

    x = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
    s = np.linspace(0.5, 1.5, 4)
    cc, made = _same(f, x, s)
    assert not {"operator.sub", "operator.mul", "operator.add"} & set(made)
    assert "operator.truediv" in made  # (broadcast: the rule's step)
    fd = fd_grad(f, (x, s), argnums=(0, 1), step=1e-6)
    np.testing.assert_allclose(cc[0], fd[0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(cc[1], fd[1], rtol=1e-6, atol=1e-8)


def test_sums_taken_by_c():
    """np.sum(a, axis=k) and np.sum(a) of float64 arrays: C broadcasts the cotangent back
    (the rule's read-only view) and accumulates it as the Python step does."""
    def f(x):
        m = x * 1.0
        a = np.sum(m * m, axis=1)
        b = np.sum(m, axis=-2)
        c = np.sum(m[1:], axis=0) * np.sum(m[0])
        return np.sum(a * a) + np.sum(b * c) + np.sum(np.sum(m, axis=0) * x[0])

    x = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
    cc, made = _same(f, x)
    assert "np.sum" not in made
    np.testing.assert_allclose(cc[0], fd_grad(f, x, step=1e-6), rtol=1e-6, atol=1e-8)


def test_view_updates_taken_by_c_as_setitems():
    """``acc[i] += ...`` and ``acc[i + 1:] -= ...`` (the operator's node on the view, then its
    ``view_update`` into acc): the view_update of a view ``a[key]`` is _acc_setitem's step,
    in C; one whose recipe is an index array (a view made where framead could not see how)
    keeps its rule's VJP, even right after the other kind was decided (the decision memo
    keys a view_update by its recipe's kind)."""
    def f(x, w):
        acc = np.zeros_like(x)
        for i in range(3):
            d = x[i + 1:] - x[i]
            acc[i] += np.sum(d * w[i], axis=0)
            acc[i + 1:] -= d * w[i + 1:, None]
        return np.sum(acc * acc)

    x = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
    w = np.linspace(0.5, 1.5, 4)
    cc, made = _same(f, x, w)
    _, made_py = _backward(f, (x, w), c=False)
    # (the first write makes the constant zeros a traced buffer: that view's recipe is an
    # index array, so its step is the rule's)
    assert made.count("view_update") <= 1 < made_py.count("view_update")

    def g(x):
        acc = np.zeros((4, 3))
        v = np.lib.stride_tricks.as_strided(acc, (2, 3), (48, 8))  # rows 0 and 2: 'index'
        v += x[:2] * x[2:]
        return np.sum(acc * x)

    _, made_g = _same(g, x)
    assert "view_update" in made_g
    np.testing.assert_allclose(_same(g, x)[0][0], fd_grad(g, x, step=1e-6), rtol=1e-6,
                               atol=1e-8)


def test_heat_stencil_taken_by_c():
    def f(u0, nsteps=6, c=0.25):
        u = u0.copy()
        for _ in range(nsteps):
            u[1:-1] = u[1:-1] + c * (u[2:] - 2.0 * u[1:-1] + u[:-2])
            u[0] = 0.0
            u[-1] = u[-2]
        return np.sum(u ** 2)

    u0 = np.sin(np.linspace(0.0, 3.0, 50))
    cc, made = _same(f, u0)
    # only the copy is a Python step (c * (...) and 2.0 * u[1:-1] too, once: their formulas
    # read the constant, not the array's primal, which the rule does not keep)
    assert sorted(set(made)) == ["np.copy"]


def test_two_dimensional_keys():
    def f(x, y):
        a = x.copy()
        a[1:, ::2] = a[:-1, 1::2] * y[1:, :2] - a[1:, ::2]
        a[0] = a[2] / (y[0] * y[0] + 1.0)
        a[:, 1] = a[1, 2]
        a[1, 1:3] = -a[0, 1:3] ** 3
        return np.sum(a * a)

    x = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    y = np.linspace(0.5, -0.5, 12).reshape(3, 4)
    cc, made = _same(f, x, y)
    assert "setitem" not in made and "operator.getitem" not in made


def test_same_value_twice_and_accumulation():
    """x * x, x - x, x / x (one target twice), and cotangents added to ones already there."""
    def f(x):
        a = x * x + (x - x) + x / (x * x + 1.0)
        b = a ** 3 + a ** 1 - (-a)
        return np.sum(b * b) + np.sum(a[1:] * a[:-1])

    cc, made = _same(f, np.linspace(-0.9, 0.9, 7))
    assert "operator.add" not in made and "operator.sub" not in made


def test_seeds_that_are_not_arrays_of_the_shape_are_handed_back():
    def f(x):
        return x * x + x

    x = np.linspace(0.0, 1.0, 5)
    for seed in (np.float64(2.0), np.ones(5, np.float32), np.ones((1, 5))[0, ::1],
                 np.broadcast_to(np.float64(3.0), (5,))):
        _same(f, x, seed=seed)


def test_no_floating_point_warning_escapes():
    """Overflow and invalid operations in array cotangents: no warning, no error (the C loop's
    first run, outside np.errstate, must not take array nodes)."""
    def f(x):
        return x * 1e300 / (x + 1.0) - (x - x) + x * x

    x = np.linspace(0.5, 1.0, 4)
    t = framead.trace(f, x)
    out = t.graph.outputs[0]
    for mode in ("warn", "raise"):
        bw = reverse.Backward(t.graph, t.wrt, compiled=False)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with np.errstate(all=mode):
                (g,) = bw({out.id: np.full(4, 1e300)})
        assert caught == []
        assert not np.all(np.isfinite(g))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        py, _ = _backward(f, (x,), c=False, seed=np.full(4, 1e300))
        cc, made = _backward(f, (x,), c=True, seed=np.full(4, 1e300))
    _assert_same(py, cc)
    assert "operator.add" not in made


def test_overflow_in_a_region_step_no_warning():
    def f(x):
        a = x.copy()
        a[1:] = a[:-1] / (a[1:] * 1e-200)  # (-g * ans / x1 overflows)
        a[0] = a[3]
        return np.sum(a)

    x = np.linspace(1.0, 2.0, 5)
    for mode in ("warn", "raise"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with np.errstate(all=mode):
                g = framead.grad(f)(x)
        assert caught == []
        assert not np.all(np.isfinite(g))
    _same(f, x)


def test_grad_matches_pyloop(monkeypatch):
    def f(x):
        u = x.copy()
        for _ in range(3):
            u[1:-1] = u[1:-1] - 0.1 * (u[2:] - u[:-2]) * u[1:-1]
            u[0] = u[1] * u[-1]
        return np.sum(u ** 2)

    x = np.linspace(0.1, 1.0, 9)
    got = framead.grad(f)(x)
    monkeypatch.setenv("FRAMEAD_BACKWARD", "pyloop")
    want = framead.grad(f)(x)
    _assert_same([want], [got])
