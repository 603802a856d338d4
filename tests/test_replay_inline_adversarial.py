"""Adversarial tests for the replay's shared parts (replay_memo), basic-view F_ITEM steps,
inline formulas with broadcasting float64 constant arrays, the division formulas' 0 / 0 and
content_digest's C sum. Every engine is checked against finite differences, against the
uncached gradient (the replays' reference) and against the native program."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
from conftest import fd_grad, load_source_module
from framead.capture.buffers import content_digest

import framead
import framead.replay_steps as replay_steps

UNCACHED = ["loop", "pyloop", "source"]
REPLAYS = [("loop", True), ("loop", False), ("source", True), ("source", False)]


def _set_engine(monkeypatch, backward=None, replay=None, c=True):
    monkeypatch.delenv("FRAMEAD_BACKWARD", raising=False)
    monkeypatch.delenv("FRAMEAD_REPLAY", raising=False)
    if backward is not None:
        monkeypatch.setenv("FRAMEAD_BACKWARD", backward)
    if replay is not None:
        monkeypatch.setenv("FRAMEAD_REPLAY", replay)
    monkeypatch.setattr(replay_steps, "SCALAR_C", c and replay_steps._c_fwd is not None)


def _close(a, b, rtol, atol, msg):
    np.testing.assert_allclose(np.asarray(a, dtype=complex), np.asarray(b, dtype=complex),
                               rtol=rtol, atol=atol, err_msg=msg, equal_nan=True)


def check_engines(monkeypatch, f, inputs, *, fd=True, rtol=1e-6, atol=1e-7, argnums=0,
                  exact=True, min_hits=None):
    """Every engine's gradient of ``f`` at each of ``inputs`` (tuples of arguments): the
    uncached engines against finite differences and each other, each replay (a cached
    function called on the inputs in turn, then again) against the uncached gradient."""
    refs, natives = [], []
    for args in inputs:
        want = fd_grad(f, tuple(np.copy(a) for a in args), argnums=argnums) if fd else None
        ref = None
        native = f(*(np.copy(a) for a in args))
        natives.append(native)
        for mode in UNCACHED:
            _set_engine(monkeypatch, backward=mode)
            val, got = framead.value_and_grad(f, argnums=argnums)(*(np.copy(a) for a in args))
            _same_value(val, native, f"uncached {mode} value")
            if want is not None:
                _close(got, want, rtol, atol, f"uncached {mode} vs finite differences")
            if ref is None:
                ref = got
            else:
                _close(got, ref, 1e-12 if exact else rtol, 1e-300 if exact else atol,
                       f"uncached {mode} vs loop")
        refs.append(ref)
    for mode, c in REPLAYS:
        _set_engine(monkeypatch, replay=mode, c=c)
        vg = framead.value_and_grad(f, argnums=argnums, cache=True)
        for _ in range(2):
            for args, ref, native in zip(inputs, refs, natives, strict=True):
                val, got = vg(*(np.copy(a) for a in args))
                _same_value(val, native, f"replay {mode} C={c} value")
                _close(got, ref, 1e-12 if exact else rtol, 1e-300 if exact else atol,
                       f"replay {mode} C={c} vs uncached")
        want_hits = 2 * len(inputs) - 1 if min_hits is None else min_hits
        assert vg.stats["hits"] >= want_hits, (mode, c, vg.stats)
    _set_engine(monkeypatch)
    return refs


def _same_value(val, native, msg):
    """The traced value is the native program's, bit for bit (signed zeros, infs, NaNs)."""
    v, n = np.asarray(val), np.asarray(native)
    assert v.shape == n.shape, msg
    assert np.array_equal(v, n, equal_nan=True) and np.array_equal(
        np.signbit(v), np.signbit(n)), (msg, val, native)


def _xs(shape, n=3, lo=0.5, hi=1.5, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.uniform(lo, hi, shape),) for _ in range(n)]


# ----------------------------------------------------------------------------------------
# 1. shared constants (replay_memo)
# ----------------------------------------------------------------------------------------
A3 = np.array([1.0, 2.0, 3.0])
B3 = np.array([1.0, 2.0, 3.0])  # equal bytes, a different array


def test_equal_constants_one_written_through_positional_out(monkeypatch):
    """``np.negative(x, B)`` writes the constant B (positional out): B must not be the
    object shared with A (same bytes), and A must stay A across replays."""

    def f(x):
        a = np.array([1.0, 2.0, 3.0])
        b = np.array([1.0, 2.0, 3.0])
        e = np.array([1.0, 2.0, 3.0])
        y = x * a
        np.negative(x, b)
        z = x * b + a
        np.add(x, e, e)
        np.sin(x, out=a[:])
        return np.sum(y * z) + np.sum(a * x) + np.sum(e * x) + np.sum(
            x * np.array([1.0, 2.0, 3.0]))

    check_engines(monkeypatch, f, _xs(3))


def test_equal_global_constants_read_and_written(monkeypatch):
    """Globals with equal bytes; the program reads both and never writes them: they stay
    unchanged however often the replay runs."""

    def f(x):
        y = x * A3 + B3 / x
        w = np.multiply(A3, x) - np.subtract(B3, x)
        return np.sum(y * w)

    check_engines(monkeypatch, f, _xs(3))
    np.testing.assert_array_equal(A3, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(B3, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("pair", ["dtype", "shape", "order", "zero", "nan", "bool", "0d"])
def test_equal_bytes_different_arrays(pair, monkeypatch):
    """Constants with equal bytes but a different dtype, shape, layout; -0.0 vs 0.0, NaN
    payloads: each step must keep its own."""
    if pair == "dtype":
        c1 = np.array([1, 2], np.int64)
        c2 = c1.view(np.float64).copy()  # (subnormals)
        shape = (2,)
    elif pair == "shape":
        c1 = np.arange(1.0, 7.0).reshape(2, 3)
        c2 = np.arange(1.0, 7.0).reshape(3, 2)
        shape = (2, 3)
    elif pair == "order":
        c1 = np.arange(1.0, 7.0).reshape(2, 3)
        c2 = np.arange(1.0, 7.0).reshape(2, 3, order="F")  # (the same memory)
        shape = (2, 3)
    elif pair == "zero":
        c1 = np.array([0.0, 1.0])
        c2 = np.array([-0.0, 1.0])
        shape = (2,)
    elif pair == "nan":
        c1 = np.array([np.nan, 1.0])
        c2 = np.frombuffer(np.array([0x7FF8000000000001, 0], np.uint64).tobytes(),
                           np.float64).copy()
        c2[1] = 1.0
        shape = (2,)
    elif pair == "bool":
        c1 = np.array([True, False, True, True, False, False, True, False])
        c2 = np.array([1, 0, 1, 1, 0, 0, 1, 0], np.uint8)
        shape = (8,)
    else:
        c1 = np.array(2.0)
        c2 = np.array([2.0])
        shape = (1,)

    def f(x):
        with np.errstate(all="ignore"):
            a = x * c1
            b = x * c2 if pair != "shape" else x * c2.T
            d = np.arctan2(x, 1.0 / (1.0 + np.abs(b))) + 1.0 / (2.0 + np.abs(c1 * c2.sum()))
        return np.sum(np.where(np.isnan(a), 0.0, np.sin(a))) + np.sum(np.cos(b)) + np.sum(d)

    check_engines(monkeypatch, f, _xs(shape), fd=pair not in ("nan",))


def test_keys_with_none_ellipsis_and_strs(monkeypatch):
    """Index keys with None, Ellipsis (shared through same_constant), a structured array's
    str field read next to them, and equal-looking keys that must stay apart."""
    rec = np.zeros(3, dtype=[("a", "f8"), ("b", "f8")])
    rec["a"] = [1.0, 2.0, 3.0]
    rec["b"] = [0.5, 0.25, 2.0]

    def f(x):
        a = x[:, None] * x[None, :]
        b = x[..., None] + x[None, ...]
        c = x[None][0][:2] * x[..., 1:][:, None][:, 0]
        d = x[None, :, None][0, :, 0]
        e = x * rec["a"] + x[::-1] * rec["b"]
        g = x[(Ellipsis,)] * x[()] - x[(slice(None), None)][:, 0]
        return np.sum(a * b) + np.sum(c) + np.sum(np.sin(d)) + np.sum(e) + np.sum(g)

    check_engines(monkeypatch, f, _xs((3,)))


def test_equal_looking_kwargs(monkeypatch):
    """axis=1, axis=(1,), keepdims=True vs False, axis=-1: kept apart (the keyword dicts
    are shared only with the same objects)."""

    def f(x):
        a = np.sum(x, axis=1)
        b = np.sum(x * x, axis=(1,))
        c = np.sum(x, axis=1, keepdims=True)
        d = np.sum(x, axis=1, keepdims=False)
        e = np.mean(x, axis=-1)
        h = np.max(x, axis=0)
        k = np.cumsum(x, axis=1)
        m = np.cumsum(x, axis=0)
        return (np.sum(a * b) + np.sum(c * x) + np.sum(d ** 2) + np.sum(e * h[:2])
                + np.sum(k * m))

    check_engines(monkeypatch, f, _xs((2, 3)))


def test_loop_with_recurring_constants_over_1000_nodes(monkeypatch):
    """A long loop (the steps' default over 1000 nodes) reading recurring snapshots
    ``m[i + 1:]`` of a constant that the program changes between reads."""
    def f(x):
        m = np.linspace(1.0, 2.0, 6)
        tot = 0.0
        for k in range(60):
            i = k % 5
            tot = tot + np.sum(x[i + 1:] * m[i + 1:]) + np.sum(x[:, None][i] / m[i:i + 1])
            if k == 30:
                m = m * 2.0  # (new bytes: the later reads must not get the old)
            tot = tot + np.sum(x[None, i:] - m[None, i:])
        return tot

    check_engines(monkeypatch, f, _xs((6,)))


def test_threads_share_one_cached_function(monkeypatch):
    """One cached function called from several threads with different inputs: each gets
    the uncached gradient of its own input."""
    c = np.array([[1.0], [2.0], [0.5]])

    def f(x):
        y = x / c + x[:, None][:, 0] * c
        return np.sum(np.sin(y[1:, ::-1])) + np.sum(y[0, :] ** 2)

    xs = [np.random.default_rng(k).uniform(0.5, 1.5, (3, 4)) for k in range(8)]
    refs = [framead.grad(f)(x) for x in xs]
    vg = framead.grad(f, cache=True)
    vg(xs[0])
    errors = []

    def work(k):
        try:
            for _ in range(20):
                got = vg(xs[k].copy())
                if not np.array_equal(got, refs[k]):
                    errors.append((k, got, refs[k]))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:2]
    np.testing.assert_array_equal(c, [[1.0], [2.0], [0.5]])


# ----------------------------------------------------------------------------------------
# 2. basic views as F_ITEM steps
# ----------------------------------------------------------------------------------------
BASIC_KEYS = [
    "1", "-1", "slice(None, None, -1)", "slice(-2, None)", "slice(3, 1)", "slice(5, 9)",
    "(1, 2)", "(-1, -3)", "(slice(None), 1)", "(slice(None, None, 2), slice(1, None, 2))",
    "(None, 1)", "(1, None)", "(slice(None), None, slice(1, 3))", "(Ellipsis, 1)",
    "(np.int64(1), slice(None))", "(1, Ellipsis, None)", "()", "(slice(None), -4)",
    "(slice(2, 2), 0)", "(None, None)",
]


@pytest.mark.parametrize("key", BASIC_KEYS)
def test_basic_keys_every_engine(key, monkeypatch):
    k = eval(key)  # noqa: S307 - the keys above

    def f(x):
        v = x[k]
        w = x.T[k] if np.ndim(x.T[k]) else x.T[k] * 1.0
        return np.sum(np.sin(v) * 2.0) + np.sum(w * w) + np.sum(x[::2][k] if x[::2][k].size
                                                                 else 0.0)

    xs = _xs((3, 4))
    try:
        f(*xs[0])
    except IndexError:
        pytest.skip("not a key of this shape")
    check_engines(monkeypatch, f, xs)


@pytest.mark.parametrize("dtype", ["float32", "complex128", "longdouble", "float16"])
def test_views_of_other_dtypes(dtype, monkeypatch):
    def f(x):
        y = x.astype(dtype)
        z = y[1:, None, ::-1][:, 0] * y[0] + y[-1, 2]
        return np.real(np.sum(z * z)).astype(np.float64)

    check_engines(monkeypatch, f, _xs((3, 4)), fd=dtype in ("complex128", "longdouble"),
                  rtol=1e-6, atol=1e-6, exact=True)


def test_views_of_broadcast_and_transposed_views_then_written(monkeypatch):
    def f(x):
        b = np.broadcast_to(x, (2, 3, 4))
        t = x.T
        u = b[1, :, ::-1][::2] * t[:, None][:, 0, :2].T
        y = x.copy()
        v = y[1:]
        v[0] = v[1] * 3.0  # writes y through its view
        y[:, 1] = np.sin(t[1])[:3]
        z = y[::-1, None][0, 0]
        return np.sum(u) + np.sum(y * y) + np.sum(z) + np.sum(v[:, None] * x[1:, None])

    check_engines(monkeypatch, f, _xs((3, 4)))


def test_shape_change_misses(monkeypatch):
    """A replay of x[1:, None] recorded for one shape, called with another: a miss that
    records again, never a stale view."""
    def f(x):
        return np.sum(x[1:, None][:, 0, -1] * x[0, ::-1][0])

    for mode, c in REPLAYS:
        _set_engine(monkeypatch, replay=mode, c=c)
        vg = framead.grad(f, cache=True)
        for shape in [(3, 4), (3, 4), (4, 4), (3, 5), (3, 4), (2, 2)]:
            x = np.random.default_rng(sum(shape)).uniform(0.5, 1.5, shape)
            _close(vg(x), fd_grad(f, (x,)), 1e-6, 1e-7, f"{mode} {c} {shape}")


# ----------------------------------------------------------------------------------------
# 3. inline formulas with constant arrays that broadcast
# ----------------------------------------------------------------------------------------
def _readonly(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def _consts():
    rng = np.random.default_rng(7)
    base = rng.uniform(0.5, 2.0, (4, 3))
    return {
        "col": base[:, :1].copy(),                      # (4, 1)
        "row": base[0].copy(),                          # (3,)
        "0d": np.array(1.75),                           # 0-d
        "full": base.copy(),                            # (4, 3)
        "row2d": base[:1].copy(),                       # (1, 3)
        "f32": base[:, :1].astype(np.float32),
        "int": np.arange(1, 4),
        "bool": np.array([True, False, True]),
        "cplx": base[0] + 0.0j,
        "bcast": np.broadcast_to(base[0], (4, 3)),      # strides (0, 8)
        "strided": base[::2, ::-1].repeat(2, axis=0)[::1, :],
        "noncontig": np.asfortranarray(base),
        "view": base[:, 1],                             # (4,) view, with a base: (4,) != (3,)
        "grow": np.linspace(1.0, 2.0, 12).reshape(4, 3),  # grows a (3,) traced argument
        "nan": np.array([1.0, np.nan, 2.0]),
        "inf": np.array([1.0, np.inf, -np.inf]),
        "matrix": np.matrix(base),
        "f64sub": np.float64(1.5),
        "bigendian": base[:, :1].astype(">f8"),
        "readonly": _readonly(base[0]),
        "ones11": np.ones((1, 1)),
        "int0d": np.array(3),
    }


OPS = ["u / R", "R * u", "u * R", "K - u", "u - R", "R + u", "c / u", "R / u", "u / R / R",
       "np.divide(u, R)", "np.multiply(R, u)"]


@pytest.mark.parametrize("name", sorted(_consts()))
def test_inline_with_constant_arrays(name, monkeypatch, tmp_path):
    R = _consts()[name]
    shape = (3,) if name == "grow" else (4, 3)
    fd = name not in ("nan", "inf", "bool")
    ops = [op for op in OPS if name != "matrix" or "*" not in op]  # (a matrix's * is @)
    if name == "inf":  # (u * inf or inf / u masked by fix: a NaN gradient, reported (FA112)
        # and never cached; the other ops' replays still meet the infinite constants)
        ops = [op for op in ops if "*" not in op and "multiply" not in op and op != "R / u"]
    if name == "view":  # (4,) against (4, 3): broadcasts only as a column
        R = R[:, None]
    lines = "\n".join(f"        y = np.asarray({op})\n        tot = tot + fix(y)" for op in ops)
    src = f"""
import numpy as np


def fix(y):
    if np.iscomplexobj(y):
        y = np.real(y * np.conj(y))
    if not FD:
        y = np.where(np.isfinite(y), y, 0.0)
    return np.sum(np.sin(y))


def f(u):
    tot = 0.0
    c = 1.5
    with np.errstate(all="ignore"):
{lines}
    return tot
"""
    before = np.array(R, copy=True)
    mod, _ = load_source_module(src, tmp_path, "framead_inl", R=R, K=R, FD=fd)
    check_engines(monkeypatch, mod.f, _xs(shape), fd=fd, exact=False, rtol=1e-6, atol=1e-9,
                  min_hits=0 if name == "nan" else None)  # (NaN gradients: FA112, not cached)
    np.testing.assert_array_equal(np.asarray(R), before)


def test_inline_same_kind_different_constants(monkeypatch):
    """One program where the same node kind (``u / R`` at one line) meets constants of
    different shapes and dtypes in turn: each must get its own decision."""
    consts = [np.array(2.0), np.arange(1.0, 4.0), np.arange(1, 4),
              np.arange(1.0, 4.0, dtype=np.float32), np.array([[0.5], [2.0], [1.5], [3.0]]),
              np.array([1.0 + 1.0j, 2.0, 3.0]), np.full((4, 3), 1.25),
              np.broadcast_to(np.arange(1.0, 4.0), (4, 3)), np.array([True, True, True])]

    def f(u):
        tot = 0.0
        for R in consts:
            y = u / R
            z = R * u
            w = R - u
            tot = tot + np.sum(np.real(np.sin(y) * z + w * w))
        return tot

    check_engines(monkeypatch, f, _xs((4, 3)), exact=False, rtol=1e-6, atol=1e-9)


def test_inline_traced_float_subclass(monkeypatch):
    class F(float):
        pass

    R = np.array([1.0, 2.0, 4.0])

    def f(u):
        s = F(np.sum(u))
        return np.sum(s / R) + np.sum(R * s) + np.sum(u / R)

    check_engines(monkeypatch, f, _xs((3,)))


def test_inline_higher_order(monkeypatch):
    """Second derivatives through u / R, R * u, K - u with broadcasting constants."""
    R = np.array([[1.0], [2.0], [0.5], [4.0]])
    K = np.array([0.5, 1.0, 1.5])

    def f(u):
        y = (u / R) * (R * u) - (K - u) ** 2 + 1.5 / u
        return np.sum(y * y)

    def hess_fd(u):
        return fd_grad(lambda v: np.sum(framead.grad(f)(v) * w), (u,))

    rng = np.random.default_rng(3)
    u = rng.uniform(0.5, 1.5, (4, 3))
    w = rng.uniform(-1.0, 1.0, (4, 3))
    for mode in UNCACHED:
        _set_engine(monkeypatch, backward=mode)

        def gw(v):
            return np.sum(framead.grad(f)(v) * w)

        hvp = framead.grad(gw)(u)
        _close(hvp, hess_fd(u), 1e-5, 1e-6, f"hvp {mode}")


MASKED = np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, False, False])


def test_cached_with_a_masked_constant():
    """The global watch (cache.WatchedGlobals) fingerprints np.ma.core's ``masked`` singleton,
    whose own tobytes raises: the bytes are read as a plain ndarray's."""
    def f(u):
        return np.sum(np.asarray(MASKED * u))

    u = np.array([0.5, 1.0, 1.5])
    np.testing.assert_array_equal(framead.grad(f)(u), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(framead.grad(f, cache=True)(u), [1.0, 2.0, 3.0])


# ----------------------------------------------------------------------------------------
# 4. division: 0 / 0 where the cotangent is 0, inf where it is not, NaN kept
# ----------------------------------------------------------------------------------------
ALL_ENGINES = [("FRAMEAD_BACKWARD", m, True) for m in UNCACHED] + [
    ("FRAMEAD_REPLAY", m, c) for m, c in REPLAYS]


def _same_bits(got, want, msg, rtol=1e-13):
    """NaNs, infs and signs where ``want`` has them; finite values to ``rtol`` (the inline
    ``g / y`` and the rule's ``g * (1 / y)`` round differently)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, msg
    assert np.array_equal(np.isnan(got), np.isnan(want)), (msg, got, want)
    assert np.array_equal(np.isinf(got), np.isinf(want)), (msg, got, want)
    finite = ~np.isnan(want)
    assert np.array_equal(np.signbit(got[finite]), np.signbit(want[finite])), (msg, got, want)
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=rtol, atol=0, err_msg=str(msg))


def every_engine(monkeypatch, f, args, argnums=0):
    """f's gradient at ``args`` in every engine (replays: the third call, a hit)."""
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for var, mode, c in ALL_ENGINES:
            if var == "FRAMEAD_BACKWARD":
                _set_engine(monkeypatch, backward=mode)
                out[(mode, c)] = framead.grad(f, argnums=argnums)(*(np.copy(a) for a in args))
            else:
                _set_engine(monkeypatch, replay=mode, c=c)
                vg = framead.grad(f, argnums=argnums, cache=True)
                for _ in range(2):
                    vg(*(np.copy(a) for a in args))
                out[("replay", mode, c)] = vg(*(np.copy(a) for a in args))
                assert vg.stats["hits"] == 2, vg.stats
    _set_engine(monkeypatch)
    return out


DIVISION_PROGRAMS = {
    # the divisor 0 where the output reads nothing (0 / 0 -> 0)
    "unread_const": ("np.sum((u / C0)[1:])", None),
    "unread_traced": ("np.sum((u / (v - P))[1:] * u[1:])", None),
    "unread_numer_traced_and_divisor": ("np.sum(np.sin((u * v / (v - P))[1:]))", None),
    # the divisor 0 where the output reads it: inf / -inf like the rule
    "read_const": ("np.sum(u / C0)", None),
    "read_negzero": ("np.sum(u / NZ)", None),
    "read_traced": ("np.sum(u / (v - P))", None),
    "read_traced_negzero": ("np.sum(2.0 / (P - v))", None),
    "const_over_traced": ("np.sum(1.5 / (v - P))", None),
    # NaN in the inputs
    "nan_numer": ("np.sum(u * NANS / C1)", None),
    "nan_div": ("np.sum(u / (v * NANS))", None),
    "nan_unread": ("np.sum((u / (v * NANS))[1:])", None),
    # in-place division on a traced copy
    "inplace": ("np.sum(INPLACE(u, C1) * u)", None),
    # broadcast (5, 1) constant divisor with a zero row
    "bcast_col": ("np.sum((u / C0[:, :1])[1:])", None),
}


def _inplace(u, c):
    w = u * 1.0
    w /= c
    return w


@pytest.mark.parametrize("name", sorted(DIVISION_PROGRAMS))
def test_division_every_engine_against_np_divide(name, monkeypatch, tmp_path):
    expr, _ = DIVISION_PROGRAMS[name]
    src = """
import numpy as np


def f(u, v):
    with np.errstate(all="ignore"):
        return EXPR
"""
    consts = dict(
        C0=np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 0.5], [1.5, 1.0, 2.0], [0.75, 3.0, 1.0],
                     [2.0, 0.5, 1.25]]),
        NZ=np.array([[-0.0, 1.0, -0.0], [1.0, 2.0, 0.5], [1.5, 1.0, 2.0], [0.75, 3.0, 1.0],
                     [2.0, 0.5, 1.25]]),
        C1=np.linspace(0.5, 1.5, 15).reshape(5, 3),
        NANS=np.array([[np.nan, 1.0, 1.0], [1.0, np.nan, 1.0], [1.0, 1.0, 1.0],
                       [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]),
        INPLACE=_inplace)
    rng = np.random.default_rng(len(name))
    u = rng.uniform(0.5, 1.5, (5, 3))
    v = rng.uniform(0.5, 1.5, (5, 3))
    P = np.vstack([v[:1], rng.uniform(-2.0, -1.0, (4, 3))])  # v - P: 0 in row 0
    mod, _ = load_source_module(src.replace("EXPR", expr), tmp_path, "framead_dv",
                                P=P, **consts)
    # the reference: every a / b as np.divide(a, b)
    rexpr = _as_np_divide(expr)
    assert " / " not in rexpr, rexpr
    rmod, _ = load_source_module(src.replace("EXPR", rexpr), tmp_path, "framead_dvr", P=P,
                                 **dict(consts, INPLACE=_inplace_ref))
    for argnums in (0, 1, (0, 1)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _set_engine(monkeypatch)
            want = framead.grad(rmod.f, argnums=argnums)(u, v)
        flat = np.concatenate([np.ravel(w) for w in (want if isinstance(argnums, tuple)
                                                      else (want,))])
        if name.startswith(("read", "const_over")) and argnums == (0, 1):
            assert np.isinf(flat).any(), want  # (the case is the one named)
        if name in ("nan_numer", "nan_div") and argnums == (0, 1):
            assert np.isnan(flat).any(), want
        got = every_engine(monkeypatch, mod.f, (u, v), argnums=argnums)
        for eng, g in got.items():
            if isinstance(argnums, tuple):
                for gi, wi in zip(g, want, strict=True):
                    _same_bits(gi, wi, (name, argnums, eng))
            else:
                _same_bits(g, want, (name, argnums, eng))
    # where the rule is finite, finite differences agree
    if name.startswith(("unread", "inplace", "bcast")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fd = fd_grad(mod.f, (u, v), argnums=(0, 1))
        for gi, wi in zip(got[("loop", True)], fd, strict=True):
            np.testing.assert_allclose(gi, wi, rtol=1e-6, atol=1e-7)


def _inplace_ref(u, c):
    w = u * 1.0
    np.divide(w, c, out=w)
    return w


def _as_np_divide(expr):
    """``a / b`` -> ``np.divide(a, b)`` for the simple expressions above."""
    table = {
        "(u / C0)": "(np.divide(u, C0))", "u / C0": "np.divide(u, C0)",
        "(u / (v - P))": "(np.divide(u, (v - P)))", "u / (v - P)": "np.divide(u, (v - P))",
        "(u * v / (v - P))": "(np.divide(u * v, (v - P)))", "u / NZ": "np.divide(u, NZ)",
        "2.0 / (P - v)": "np.divide(2.0, (P - v))", "1.5 / (v - P)": "np.divide(1.5, (v - P))",
        "u * NANS / C1": "np.divide(u * NANS, C1)",
        "(u / (v * NANS))": "(np.divide(u, (v * NANS)))", "u / (v * NANS)":
        "np.divide(u, (v * NANS))", "(u / C0[:, :1])": "(np.divide(u, C0[:, :1]))",
    }
    for k in sorted(table, key=len, reverse=True):
        if k in expr:
            return expr.replace(k, table[k])
    return expr


def test_scalar_float64_divisions(monkeypatch):
    """np.float64 scalars: 0 / 0 where min() drops the quotient (0), inf where it is read,
    -0.0 divisors, NaN inputs."""
    zero, nzero = np.float64(0.0), np.float64(-0.0)

    def f(x, d):
        with np.errstate(all="ignore"):
            a = min(x / zero, np.float64(1.0))          # quotient inf, unread: 0
            b = min((x * x) / (d - D0), np.float64(2.0))  # traced divisor 0, unread
            c = x / (d + 1.0)
        return a + b + c * x

    def g(x, d):
        with np.errstate(all="ignore"):
            return x / nzero + 1.0 / (d - D0) + x / (d * NAN)

    D0 = np.float64(1.25)
    NAN = np.float64(np.nan)
    x, d = np.float64(0.75), np.float64(1.25)
    want = (fd_grad(f, (x, d), argnums=0), -x * x / (d + 1.0) ** 2)  # (d: b is flat at 2)
    for eng, got in every_engine(monkeypatch, f, (x, d), argnums=(0, 1)).items():
        for gi, wi in zip(got, want, strict=True):
            assert np.isfinite(gi), (eng, got)
            np.testing.assert_allclose(gi, wi, rtol=1e-6, err_msg=str(eng))
    for eng, got in every_engine(monkeypatch, g, (x, d), argnums=(0, 1)).items():
        gx, gd = got
        # d/dx: 1/-0 + 1/nan -> nan (nan-poisoned); d/dd: -1/0**2 -> -inf, plus nan
        assert np.isnan(gx) and np.isnan(gd), (eng, got)
    for eng, got in every_engine(monkeypatch, lambda x, d: x / nzero + x / (d - D0),
                                 (x, d), argnums=(0, 1)).items():
        gx, gd = got
        assert gx == -np.inf or np.isnan(gx), (eng, got)  # -inf + inf
        assert gd == -np.inf, (eng, got)


# ----------------------------------------------------------------------------------------
# 5. content_digest (one C pass) and the "modified later" watch
# ----------------------------------------------------------------------------------------
N_BIG = 200_000  # 1.6 MB of float64: watched, not snapshot


@pytest.mark.parametrize("layout", ["C", "F", "big-endian", "strided", "f32"])
def test_a_large_constant_written_after_its_read(layout):
    base = np.linspace(0.5, 1.5, N_BIG)
    if layout == "F":
        big = np.asfortranarray(base.reshape(400, 500))
    elif layout == "big-endian":
        big = base.astype(">f8")
    elif layout == "strided":
        big = np.repeat(base, 2)[::2]
    elif layout == "f32":
        big = np.linspace(0.5, 1.5, 2 * N_BIG).astype(np.float32)
    else:
        big = base.copy()
    x = np.ones(big.shape)

    def f(x):
        y = np.sum(x * big)
        flat = big.reshape(-1) if big.flags.c_contiguous else big.T
        flat.flat[-1] = flat.flat[-1] * 2.0 + 1.0  # (the last element, layout's own)
        return y

    with pytest.raises(RuntimeError, match="modified later"):
        framead.grad(f)(x)

    keep = big.copy()

    def g(x):
        y = np.sum(x * big)
        old = big.flat[17]
        big.flat[17] = old + 1.0
        big.flat[17] = old  # (the same bytes again: no change)
        return y

    np.testing.assert_allclose(framead.grad(g)(x), keep, rtol=1e-6)


def test_content_digest_edge_layouts():
    for a in [np.zeros(0), np.zeros((0, 5)), np.array(3.5), np.zeros(3, ">f8"),
              np.arange(10.0)[::-3], np.broadcast_to(np.arange(3.0), (1000, 3)),
              np.zeros(4, dtype=[("a", "<f8"), ("b", "i1")]),
              np.arange("2020-01-01", "2020-01-06", dtype="M8[D]")]:
        d = content_digest(a)
        assert d == content_digest(np.ascontiguousarray(a)), a
        if a.size:
            b = np.ascontiguousarray(a).copy()
            b.reshape(-1).view(np.uint8)[0] ^= 1
            assert content_digest(b) != d, a
    a = np.ones(3)
    assert content_digest(a) != content_digest(a.astype(">f8"))  # (other bytes)
    o = np.array([1.0, "x"], dtype=object)
    assert content_digest(o) == content_digest(o.copy())


def test_large_constant_written_from_another_thread():
    """A write from another thread while the function runs (after the read): refused."""
    big = np.linspace(0.5, 1.5, N_BIG)
    read, written = threading.Event(), threading.Event()

    def writer():
        read.wait(5)
        big[3] = 42.0
        written.set()

    def f(x):
        y = np.sum(x * big)
        read.set()
        written.wait(5)
        return y

    t = threading.Thread(target=writer)
    t.start()
    try:
        with pytest.raises(RuntimeError, match="modified later"):
            framead.grad(f)(np.ones(N_BIG))
    finally:
        t.join()


def test_digest_swap_64_blocks_apart():
    """A swap of two words 64 * 2**15 apart (where the old position-weighted sum's weights
    repeated) changes the digest."""
    a = np.arange(65 * 2**15, dtype=np.float64)
    d = content_digest(a)
    i, j = 5, 5 + 64 * 2**15
    a[i], a[j] = a[j], a[i]
    assert content_digest(a) != d


# ----------------------------------------------------------------------------------------
# 2b. views (F_ITEM, no copy) whose base is written later: the saved primals stay the old
# ----------------------------------------------------------------------------------------
def _vw_setitem(x):
    y = x * 1.0
    v = y[1:]
    z = v * v
    y[1] = 5.0
    w = y[:2, None]
    s = np.sin(w)
    y[0] = 3.0 * x[2]
    return np.sum(z) + np.sum(v * x[1:]) + np.sum(s * s) + np.sum(y)


def _vw_iadd(x):
    y = x * 2.0
    v = y[1:]
    z = v * v
    y[1:] += x[:2]
    return np.sum(z) + np.sum(v)


def _vw_imul(x):
    y = np.sin(x)
    v = y[None, 1:]
    z = v * x[1:]
    y *= 3.0
    return np.sum(z * z) + np.sum(v)


def _vw_nested(x):
    y = x[:, None] * x[None, :]
    v = y[1:][:, ::-1]
    u = v[0]
    z = np.sin(u) * v[1]
    v[0, 1] = x[0] * 4.0  # writes y through a view of a view
    u *= 2.0
    return np.sum(z * z) + np.sum(y ** 2) + np.sum(u)


def _vw_loop(x):
    y = x * 1.0
    tot = 0.0
    for k in range(260):  # (over 1000 nodes: steps by default)
        i = k % 3
        v = y[i:]
        tot = tot + np.sum(v * v)
        y[i] = np.sin(y[i]) + 0.5 * x[2 - i]
    return tot + np.sum(y)


@pytest.mark.parametrize("f", [_vw_setitem, _vw_iadd, _vw_imul, _vw_nested, _vw_loop],
                         ids=lambda f: f.__name__)
def test_views_whose_base_is_written_later(f, monkeypatch):
    monkeypatch.delenv("FRAMEAD_REPLAY", raising=False)
    check_engines(monkeypatch, f, _xs((3,), lo=0.2, hi=0.9))


def test_vjp_arguments_shared_and_constants_changed_between_reads(monkeypatch):
    """VJP calls reading constant arrays (np.dot, np.maximum, np.clip, np.where, np.interp,
    np.einsum with str subscripts), one of them written between reads (each read keeps the
    values it saw), equal constants of other dtypes next to them."""

    def f(x):
        c = np.array([1.0, 2.0, 3.0])
        lo = np.array([0.6, 0.6, 0.6])
        hi = np.array([0.6, 0.6, 0.6]) + 0.5
        a = np.dot(x, c)
        c[0] = 5.0
        b = np.dot(x, c)
        m = np.maximum(x, lo) + np.minimum(x, hi) + np.clip(x, lo, hi)
        w = np.where(np.array([True, False, True]), x, c)
        i = np.interp(x, np.array([0.0, 1.0, 2.0]), c)
        e = np.einsum("i,i->", x, c) + np.einsum("i,j->ij", x, lo).sum()
        k = np.sum(x * np.array([1, 2, 3])) + np.sum(x * np.array([1.0, 2.0, 3.0], np.float32))
        c *= 2.0
        return a * b + np.sum(m * m) + np.sum(w) + np.sum(i) + e + k + np.dot(x, c)

    check_engines(monkeypatch, f, [(np.array([0.3, 0.9, 1.4]),), (np.array([0.8, 0.4, 1.2]),)],
                  exact=False, rtol=1e-6, atol=1e-9)


def test_views_of_the_argument_written_in_place(monkeypatch):
    """x[1:] (an F_ITEM view of the argument) written in place: the replay leaves the
    caller's array as the uncached gradient does, with the same value and gradient."""

    def f(x):
        v = x[1:]
        v *= 2.0
        w = x[None, :2]
        w[0, 0] = 7.0 * x[2]
        return np.sum(x * x) + np.sum(v)

    x0 = np.array([0.5, 1.0, 1.5])
    xu = x0.copy()
    want = framead.value_and_grad(f)(xu)
    np.testing.assert_allclose(want[1], [0.0, 10.0, 602.0])  # (by hand)
    for mode, c in REPLAYS:
        _set_engine(monkeypatch, replay=mode, c=c)
        vg = framead.value_and_grad(f, cache=True)
        for _ in range(3):
            xc = x0.copy()
            got = vg(xc)
            np.testing.assert_array_equal(xc, xu)
            assert got[0] == want[0]
            np.testing.assert_array_equal(got[1], want[1])
        assert vg.stats["hits"] == 2


MASKED_GLOBAL = np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, False, False])


def _masked_global_sum(u):
    m = np.ma.getmaskarray(MASKED_GLOBAL)
    return np.sum(np.where(m, 0.0, np.asarray(MASKED_GLOBAL) * u))


def test_a_masked_global_whose_mask_changes_is_not_replayed_stale():
    """A cached trace watches the module globals its code read; a masked array's mask is part
    of what it compares (its data alone did not change here), so the changed global misses."""
    u = np.array([0.5, 1.0, 1.5])
    vg = framead.grad(_masked_global_sum, cache=True)
    np.testing.assert_array_equal(vg(u), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(vg(u), [1.0, 2.0, 3.0])
    MASKED_GLOBAL[1] = np.ma.masked
    try:
        np.testing.assert_array_equal(vg(u), [1.0, 0.0, 3.0])
        np.testing.assert_array_equal(framead.grad(_masked_global_sum)(u), [1.0, 0.0, 3.0])
    finally:
        MASKED_GLOBAL.mask = False


def _errstate_inside(u):
    with np.errstate(divide="ignore", invalid="ignore"):
        y = u / np.array([1.0, 0.0, 2.0])
    return np.sum(np.where(np.isfinite(y), y, 0.0))


def _warns_natively(u):
    y = u / np.array([1.0, 0.0, 2.0])
    return np.sum(np.where(np.isfinite(y), y, 0.0))


@pytest.mark.parametrize("mode", ["loop", "source"])
def test_replays_warn_as_the_native_run_does(mode, monkeypatch):
    """A function that warns natively warns on each call as natively, from its own line: its
    trace is not replayed (a replay's warnings would name framead's lines), and the reverse
    pass adds none of its own (the 0 / 0 of a division's derivative: it runs under
    np.errstate(all="ignore"))."""
    monkeypatch.setenv("FRAMEAD_REPLAY", mode)
    u = np.array([0.5, 1.0, 1.5])
    vg = framead.value_and_grad(_warns_natively, cache=True)
    for k in range(3):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            np.testing.assert_array_equal(vg(u)[1], [1.0, 0.0, 0.5])
        assert [str(w.message) for w in seen] == ["divide by zero encountered in divide"], k
        assert [(w.filename, w.lineno) for w in seen] == [
            (__file__, _warns_natively.__code__.co_firstlineno + 1)], k
    assert vg.stats["hits"] == 0
    assert any("a warning was issued during the capture" in r for r in vg.stats["reasons"])


def test_a_replay_under_the_functions_errstate():
    """The division inside the function's np.errstate block replays under it (silent, as
    natively), the rest under the caller's state: hits, no warning."""
    u = np.array([0.5, 1.0, 1.5])
    vg = framead.value_and_grad(_errstate_inside, cache=True)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for _ in range(3):
            np.testing.assert_array_equal(vg(u)[1], [1.0, 0.0, 0.5])
    assert vg.stats["hits"] == 2
    assert [str(w.message) for w in seen] == []
