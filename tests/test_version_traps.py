"""The traps of the 3.12/3.13 port that give no compile error (docs/internals.md, "Adding a
Python version"), each checked end to end on the running interpreter:

* slices: 3.12+ compile ``a[i:j]`` and ``a[i:j] = v`` to BINARY_SLICE/STORE_SLICE; a port that
  does not rewrite them loses slice writes of traced arrays (a silently wrong gradient);
* comparisons: 3.13's COMPARE_OP can convert its result to bool (oparg bit 16) and the
  conditional jumps after it take only exact bools; a port that drops the conversion after the
  probe takes the wrong branch on a NumPy comparison result;
* recursion: 3.12/3.13 charge C recursion units for every frame run through a PEP 523 hook
  (745 and 4996 levels); a port that does not give them back stops deep recursion that runs
  natively.

Gradients are checked against analytic derivatives and central differences.
"""

import math
import sys
import threading

import numpy as np
import pytest
from conftest import fd_grad

import framead

# ---------------------------------------------------------------------------------------
# slices


def slice_write(a):
    b = a.copy()
    b[1:3] = a[2:4] * 10.0
    return (b * b).sum()


def slice_write_step(a):
    b = np.zeros_like(a)
    b[::2] = a[1::2] ** 2
    b[-1:] += a[:1]
    return b.sum() + (b[1:-1] * a[1:-1]).sum()


def slice_write_in_place(a):
    a = a.copy()
    a[:2] *= a[2:]
    a[1:] -= 0.5 * a[:-1]
    return (a**2).sum()


def slice_of_list(xs):
    ys = list(xs)
    ys[1:3] = [xs[2] * 3.0, xs[1] * xs[0]]
    return sum(v * v for v in ys[:3]) + sum(ys[2:])


def slice_delete(a):
    rows = [a[i] * (i + 1.0) for i in range(len(a))]
    del rows[1:3]
    return sum(rows)


def slice_2d(m):
    m = m.copy()
    m[1:, :2] = m[:-1, 1:] * 2.0
    return (m**3).sum()


SLICES = [
    (slice_write, np.arange(1.0, 5.0)),
    (slice_write_step, np.array([0.5, -1.0, 2.0, 1.5, 3.0, -0.25])),
    (slice_write_in_place, np.array([0.3, 1.2, -0.7, 2.0])),
    (slice_delete, np.array([1.0, 2.0, 3.0, 4.0])),
    (slice_2d, np.arange(9.0).reshape(3, 3) / 4.0),
]


@pytest.mark.parametrize("fn,x", SLICES, ids=[f.__name__ for f, _ in SLICES])
def test_slice_reads_and_writes_of_traced_arrays(fn, x):
    assert np.allclose(framead.grad(fn)(x), fd_grad(fn, x), rtol=1e-6, atol=1e-8)


def test_slice_write_exact_values():
    # b = [a0, 10 a2, 10 a3, a3]: a port that loses the write gives 2 a
    g = framead.grad(slice_write)(np.arange(1.0, 5.0))
    assert np.array_equal(g, [2.0, 0.0, 600.0, 808.0])


def test_slice_of_list_of_floats():
    xs = [1.5, -0.5, 2.0, 0.25]

    def f(a, b, c, d):
        return slice_of_list([a, b, c, d])

    g = framead.grad(f, argnums=(0, 1, 2, 3))(*xs)
    num = fd_grad(lambda v: f(*v), np.array(xs))
    assert np.allclose(g, num, rtol=1e-6)


# ---------------------------------------------------------------------------------------
# comparisons that choose a branch


def branch_count(x):
    # the measured trap: with the bool conversion dropped, 150 instead of 3
    total = 0.0
    for i in range(5):
        if x * i < 1.0:
            total += x
        else:
            total += 50.0 * x
    return total


def branch_chain(x):
    y = x * 2.0
    if 0.0 < y < 1.0:
        return y * y
    if y == y and not (y > 10.0):
        return 3.0 * y
    return -y


def branch_while(x):
    n = 0
    while x > 0.1:
        x = x * 0.5
        n += 1
    return x * n


def branch_array(a):
    if a.sum() > 0.0:
        return (a * a).sum()
    return a.sum()


def branch_ternary(x):
    return math.sin(x) if x >= 0.5 else math.cos(x)


BRANCHES = [
    (branch_count, [np.float64(0.3), 0.3, np.float64(2.0)]),
    (branch_chain, [np.float64(0.2), np.float64(1.7), 0.2, 7.0, np.float64(-3.0)]),
    (branch_while, [np.float64(3.0), 0.7]),
    (branch_ternary, [np.float64(0.2), np.float64(0.9), 0.2]),
]


@pytest.mark.parametrize(
    "fn,x", [(f, x) for f, xs in BRANCHES for x in xs],
    ids=[f"{f.__name__}-{type(x).__name__}-{float(x)}" for f, xs in BRANCHES for x in xs])
def test_comparison_branches_value_and_gradient(fn, x):
    value, g = framead.value_and_grad(fn)(x)
    assert value == fn(x)
    assert math.isclose(float(g), float(fd_grad(lambda v: fn(v[0]), np.array([float(x)]))[0]),
                        rel_tol=1e-6, abs_tol=1e-9)


def test_comparison_branch_exact():
    # four small steps and one large: taking every branch as true would give 1.5 and 5
    value, g = framead.value_and_grad(branch_count)(np.float64(0.3))
    assert math.isclose(value, 16.2) and g == 54.0


def test_comparison_branch_on_arrays():
    for a in (np.array([0.5, -0.2]), np.array([-0.5, 0.2])):
        assert np.allclose(framead.grad(branch_array)(a), fd_grad(branch_array, a))


# ---------------------------------------------------------------------------------------
# recursion


def descend(x, n):
    if n == 0:
        return x
    return descend(x * 1.0001, n - 1) + 0.0


def _in_big_thread(fn, stack=256 << 20):
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - reported to the test thread
            out["error"] = e

    old = threading.stack_size(stack)
    try:
        t = threading.Thread(target=run)
        t.start()
        t.join()
    finally:
        threading.stack_size(old)
    if "error" in out:
        raise out["error"]
    return out["value"]


@pytest.mark.parametrize("depth", [1000, 6000])
def test_recursion_under_capture_as_deep_as_natively(depth):
    """6000 levels run natively (recursion limit raised) and under capture: above 3.12's 745
    and 3.13's 4996 levels of a hook that keeps the C recursion units."""
    def both():
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(depth + 500)
        try:
            native = descend(0.5, depth)
            value, g = framead.value_and_grad(descend)(0.5, depth)
        finally:
            sys.setrecursionlimit(old)
        return native, value, g

    native, value, g = _in_big_thread(both)
    assert value == native
    assert math.isclose(g, 1.0001**depth, rel_tol=1e-9)


def test_recursion_past_the_limit_raises_as_natively():
    def both():
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(2000)
        try:
            with pytest.raises(RecursionError):
                descend(0.5, 5000)
            with pytest.raises(RecursionError):
                framead.grad(descend)(0.5, 5000)
            return framead.grad(descend)(0.5, 100)  # capture still works after
        finally:
            sys.setrecursionlimit(old)

    assert math.isclose(_in_big_thread(both), 1.0001**100, rel_tol=1e-12)


def test_recursion_on_a_small_thread_stack_raises_not_crashes():
    """A thread whose C stack cannot hold the recursion: RecursionError, never a crash."""
    def deep():
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(100000)
        try:
            return framead.grad(descend)(0.5, 50000)
        finally:
            sys.setrecursionlimit(old)

    with pytest.raises(RecursionError):
        _in_big_thread(deep, stack=4 << 20)


# ---------------------------------------------------------------------------------------
# the standard library of newer versions: math.sumprod (3.12) under statistics


@pytest.mark.skipif(not hasattr(math, "sumprod"), reason="math.sumprod is new in 3.12")
def test_math_sumprod_and_statistics_that_use_it():
    import statistics

    def f(p, q):
        return math.sumprod([p[0], p[1] * 2.0], [q[0], q[1]]) + math.sumprod([p[0], 3], [q[1], 2.0])

    x = (np.array([0.5, 1.5]), np.array([-1.0, 2.0]))
    g = framead.grad(f, argnums=(0, 1), strict=True)(*x)
    for a, b in zip(g, fd_grad(f, x, argnums=(0, 1)), strict=True):
        assert np.allclose(a, b, rtol=1e-7)
    _, tangent = framead.jvp(f, x, (np.ones(2), np.ones(2)))
    assert math.isclose(tangent, 9.0)

    def corr(v):
        return statistics.correlation(list(v), [1.0, 3.0, 2.0, 5.0])

    v = np.array([0.3, 1.2, 0.7, 2.0])
    assert np.allclose(framead.grad(corr, strict=True)(v), fd_grad(corr, v), rtol=1e-6)


def _folds(v):
    """math's folds over lists and generators, prod's keyword-only start traced or not."""
    gen = (x * 2.0 for x in v)
    out = math.prod(gen, start=v[0] * 3.0) + math.fsum(x * x for x in v)
    out += math.prod([v[1], 2.0], start=3) + math.prod(x + 1.0 for x in v)
    if hasattr(math, "sumprod"):
        out += math.sumprod(v, (x * 3.0 for x in v)) + math.sumprod((x for x in v), [1.0, v[0]])
    return out


@pytest.mark.parametrize("cache", [False, True])
def test_math_folds_of_generators_and_prod_start(cache):
    """math.prod's start (a keyword) was dropped from the gradient silently; generators given
    to math.sumprod broke its derivative. Against central differences, and forward mode."""
    g = framead.grad(_folds, cache=cache)
    for v in (np.array([0.5, 1.5]), np.array([0.7, -1.5])):
        assert np.allclose(g(v), fd_grad(_folds, v), rtol=1e-7)
    v, t = np.array([0.3, 0.8]), np.array([1.0, -2.0])
    assert math.isclose(framead.jvp(_folds, (v,), (t,))[1], fd_grad(_folds, v) @ t,
                        rel_tol=1e-7)
