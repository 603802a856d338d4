"""Writers whose values alias the array they write (capture/aliased_writes.py): NumPy copies
``np.place(a, m, V)``, ``a.flat[k] = V``, ``a.flat = V``, ``np.fill_diagonal(D, V)``,
``np.concatenate(pieces, out=a)``, ``np.stack(pieces, out=A)`` and ``a[mask] = V`` (in some
layouts) one element at a time (unbuffered), so where V is a view of a, later positions read
values written earlier.

The fuzzer draws writer x alias pattern (same, reversed, shifted, strided, overlapping
windows) x dtype (float64, float32, complex128) x fresh / cached, and checks framead's value
against the native run's (bit for bit, also NumPy's exceptions) and its gradient against
central differences in float64 (float32 and complex programs are linear in x: a step of 0.5
is exact there; float64 ones are nonlinear, step 1e-5). ``strict=True``: a hazard fails.
Also: the other fixes of the classics9 corpus (ufunc.at with list values, np.frompyfunc on
scalars, object arrays' max/min/sort in cached replays), against the native run and
central differences.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import fd_grad
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framead

EXAMPLES = int(os.environ.get("FRAMEAD_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))
PATTERNS = ("same", "reversed", "shifted", "strided", "overlapping")
DTYPES = (np.float64, np.float32, np.complex128)
FREE_WRITERS = ("place", "flat_setitem", "flat_attribute", "fill_diagonal")
OUT_WRITERS = ("concatenate_out", "stack_out")
SETITEM_WRITERS = ("mask_setitem", "fancy_setitem")  # (a[m] = v: NumPy's own choices)


def _values(s: np.ndarray, pattern: str, off: int, length: int, step: int) -> np.ndarray:
    """A view of the 1-d view ``s`` (of the written memory) in the given alias pattern."""
    n = s.size
    off %= n
    if pattern == "same":
        return s
    if pattern == "reversed":
        return s[::-1][off:off + length]
    if pattern == "shifted":
        return s[off:off + length]
    if pattern == "strided":
        return s[off::step][:length]
    # overlapping: windows that share elements with each other (a 2-d as_strided view)
    w = np.lib.stride_tricks.sliding_window_view(s, 2)
    return w[off % w.shape[0]:][:max(1, length // 2)]


@st.composite
def programs(draw, writers):
    """(writer, parameters, dtype, n): one drawn program."""
    writer = draw(st.sampled_from(writers))
    dtype = draw(st.sampled_from(DTYPES))
    n = draw(st.sampled_from((9, 16))) if writer == "fill_diagonal" else \
        draw(st.sampled_from((6, 8, 9, 12))) if writer == "stack_out" else \
        draw(st.integers(3, 9))
    p = {"pattern": draw(st.sampled_from(PATTERNS)), "off": draw(st.integers(0, 12)),
         "length": draw(st.integers(1, n)), "step": draw(st.sampled_from((2, 3, -2))),
         "mask": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
         "key": slice(draw(st.integers(0, n - 1)), draw(st.sampled_from((None, n, n - 1))),
                      draw(st.sampled_from((1, 2, -1)))),
         "k": draw(st.integers(1, n - 1)), "wrap": draw(st.booleans()),
         "second": draw(st.sampled_from(PATTERNS[1:4])), "perm_seed": draw(st.integers(0, 99))}
    return writer, p, dtype, n


def _program(writer: str, p: dict, dtype, n: int):
    """The program: x -> a (dtype, written by ``writer`` with aliased values) -> a float."""
    w = np.linspace(1.0, 2.0, n) * (1 + np.arange(n) % 3)

    def f(x):
        if dtype is np.float64:
            a = np.sin(x) + x * x
        elif dtype is np.complex128:
            a = x + 1j * (0.5 * x[::-1] - x)
        else:
            a = x.astype(dtype)
        write(a)
        re = a.real.astype(np.float64) @ w
        im = a.imag.astype(np.float64) @ w[::-1] if dtype is np.complex128 else 0.0
        return float(re + 0.5 * im + (np.sum(a.real * a.real) if dtype is np.float64 else 0.0))

    def write(a):
        v = _values(a, p["pattern"], p["off"], p["length"], p["step"])
        if writer == "place":
            np.place(a, np.array(p["mask"]), v)
        elif writer == "flat_setitem":
            a.flat[p["key"]] = v
        elif writer == "flat_attribute":
            a.flat = v
        elif writer == "mask_setitem":
            m = np.array(p["mask"])
            a[m] = _values(a, p["pattern"], p["off"], max(1, int(m.sum())), p["step"])
        elif writer == "fancy_setitem":
            idx = np.flatnonzero(p["mask"])[::p["key"].step]
            a[idx] = _values(a, p["pattern"], p["off"], max(1, idx.size), p["step"])
        elif writer == "fill_diagonal":
            m = int(np.sqrt(n))
            D = a.reshape(m, m)
            np.fill_diagonal(D, _values(D.ravel(), p["pattern"], p["off"], p["length"],
                                        p["step"]), wrap=p["wrap"])
        elif writer == "concatenate_out":
            first = a[:p["k"]] if p["pattern"] in ("same", "overlapping") else \
                _values(a, p["pattern"], p["off"], p["k"], 2)
            second = _values(a, p["second"], p["off"] + 1, n - p["k"], 2)
            np.concatenate([first, second], out=a)
        else:
            r = {6: 2, 8: 2, 9: 3, 12: 3}[n]
            A = a.reshape(r, n // r)
            rows = np.random.default_rng(p["perm_seed"]).permutation(r)
            pieces = [A[i] if j % 2 == 0 or p["pattern"] == "same" else A[i, ::-1]
                      for j, i in enumerate(rows)]
            np.stack(pieces, out=A)
    return f


def _native(f, x):
    try:
        return f(x.copy()), None
    except Exception as e:  # noqa: BLE001 - compared with framead's
        return None, (type(e), str(e))


def _check(writer, p, dtype, n, cached, seed):
    f = _program(writer, p, dtype, n)
    rng = np.random.default_rng(seed)
    points = [rng.uniform(-2.0, 2.0, n) for _ in range(2 if cached else 1)]
    vg = framead.value_and_grad(f, strict=True, cache=cached)
    for x in points:
        want, raised = _native(f, x)
        if raised is not None:  # NumPy's own error, as natively
            with pytest.raises(raised[0]) as info:
                vg(x.copy())
            assert str(info.value) == raised[1]
            return
        value, g = vg(x.copy())
        assert value == want, (value, want)
        step = 1e-5 if dtype is np.float64 else 0.5
        ref = fd_grad(f, x, step=step)
        np.testing.assert_allclose(g, ref, rtol=1e-6 if dtype is np.float64 else 1e-5,
                                   atol=1e-6 if dtype is np.float64 else 1e-4)


@FUZZ
@given(program=programs(FREE_WRITERS + SETITEM_WRITERS), cached=st.booleans(),
       seed=st.integers(0, 2**16))
def test_aliased_writers_fuzz(program, cached, seed):
    _check(*program, cached, seed)


@FUZZ
@given(program=programs(OUT_WRITERS), cached=st.booleans(), seed=st.integers(0, 2**16))
def test_aliased_out_fuzz(program, cached, seed):
    _check(*program, cached, seed)


@pytest.mark.parametrize("writer", FREE_WRITERS)
def test_unaliased_path_unchanged(writer):
    """Values that share no memory with the target: the writers' own nodes (a copy first)."""
    def f(x):
        a = x * 1.0
        v = (x[::-1] * 2.0).copy()
        if writer == "place":
            np.place(a, a > 0, v)
        elif writer == "flat_setitem":
            a.flat[1:] = v
        elif writer == "flat_attribute":
            a.flat = v
        else:
            np.fill_diagonal(a[:4].reshape(2, 2), v[:2])
        return float(a @ np.arange(1.0, 7.0) + a @ a)

    x = np.array([0.3, -0.2, 0.9, -0.4, 0.7, 0.1])
    value, g = framead.value_and_grad(f, strict=True)(x.copy())
    assert value == f(x.copy())
    np.testing.assert_allclose(g, fd_grad(f, x, step=1e-5), rtol=1e-6, atol=1e-8)


def test_place_mask_from_values_cached():
    """np.place(a, a > 0, a): the mask decides the provenance; a cached trace at a point with
    other signs gives the native value and gradient there."""
    def f(x):
        a = np.sin(x) + x
        np.place(a, a > 0, a[::-1])
        return float(a @ np.arange(1.0, 7.0) + a @ a)

    vg = framead.value_and_grad(f, cache=True, strict=True)
    for x in (np.array([0.5, -0.3, 0.2, -0.9, 0.4, 0.1]),
              np.array([-0.5, 0.3, 0.2, 0.9, -0.4, -0.1]), np.linspace(-1.0, 1.0, 6)):
        value, g = vg(x.copy())
        assert value == f(x.copy())
        np.testing.assert_allclose(g, fd_grad(f, x, step=1e-5), rtol=1e-6, atol=1e-8)


def _replays_right(f, points, cached=True):
    vg = framead.value_and_grad(f, cache=cached)
    for x in points:
        value, g = vg(x.copy())
        assert value == f(x.copy())
        np.testing.assert_allclose(g, fd_grad(f, x, step=1e-5), rtol=1e-6, atol=1e-8)


def test_ufunc_at_list_values():
    """np.multiply.at / np.maximum.at with a list of values (traced items and constants);
    repeated indices compound, as natively."""
    def f(x):
        a = x + 2.0
        np.multiply.at(a, [0, 0, 2], [2.0, x[1] + 3.0, 0.5])
        b = np.ones(4)
        np.maximum.at(b, [1, 1, 3], [x[0] + 1.5, x[1] + 1.5, x[2] * 2])
        np.add.at(b, [0, 2], 1.5)
        return float(a @ np.arange(1.0, 5.0) + b @ x)

    rng = np.random.default_rng(3)
    _replays_right(f, [rng.uniform(-1.0, 1.0, 4) for _ in range(3)])


def test_frompyfunc_on_scalars():
    """np.frompyfunc ufuncs given np.float64 scalars, a traced Python float, a complex and
    a constant: the callbacks see the traced numbers (fresh and cached)."""
    g = np.frompyfunc(lambda a, b: a * 0.5 + b * b, 2, 1)
    sq = np.frompyfunc(lambda a: a * a, 1, 1)

    def f(x):
        z = g(complex(x[3], x[0]), 2.0)
        return float(x[2] * 3.0 + g(x[0], x[1]) + sq(float(x[2])) + g(1.5, x[3])
                     + (z * z.conjugate()).real)

    rng = np.random.default_rng(5)
    for cached in (False, True):
        _replays_right(f, [rng.uniform(-1.0, 1.0, 4) for _ in range(3)], cached)


def test_object_array_choices_replayed_right():
    """o.max(), np.min(o), np.maximum.reduce(o) and o.sort() of object arrays pick items in
    C: a cached trace at points where other items win gives the native results."""
    def f(x):
        o = np.array(list(x), dtype=object)
        s = np.array(list(x * x - x), dtype=object)
        s.sort()
        return float(o.max() * 3.0 + np.min(o) + np.maximum.reduce(o) * o[0]
                     + s @ np.arange(1.0, 6.0))

    rng = np.random.default_rng(7)  # (no ties among the items: x * x - x is not one-to-one)
    _replays_right(f, [rng.uniform(-1.0, 1.0, 5) for _ in range(4)])


def test_unfollowed_alias_is_reported():
    """Values sharing memory with the target in another dtype (``a.real`` of a complex
    array): the write runs natively, as the native run's value, and FA104 is reported at the
    user's line (strict: raised)."""
    def f(x):
        a = x + 1j * x[::-1]
        a.flat[1:] = a.real[:-1]
        return float(np.sum(a.real * np.arange(1.0, 5.0)) + np.sum(a.imag))

    x = np.array([0.3, -0.2, 0.9, -0.4])
    t = framead.trace(f, x.copy())
    assert t.value == f(x.copy())
    assert [h.code for h in t.hazards] == ["FA104"]
    assert "test_aliased_writers.py" in str(t.hazards[0])
    with pytest.raises(framead.GradientHazard):
        framead.value_and_grad(f, strict=True)(x.copy())
