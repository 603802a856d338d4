"""Higher order: grad(grad(f)), hessian, and every jacfwd/jacrev composition.

The inner reverse pass is replayed as code the outer capture records (framead/replay.py).
References are independent of framead: second-order central differences of ``f`` itself,
analytic derivatives, and jax.hessian of ports where JAX is installed.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import fresh
from hypothesis import HealthCheck, assume, given, note, settings
from test_random_grad import _load, _path_at, program_dir, random_float_programs  # noqa: F401

import framead

H = 1e-3


def _f_at(f, x, i, j, di, dj):
    x = np.array(x, dtype=float, copy=True)
    x.flat[i] += di
    x.flat[j] += dj
    return float(f(x))


def fd_hessian(f, x, h=H):
    """Second-order central differences of scalar f(x) (x an array), Richardson-refined."""
    x = np.asarray(x, dtype=float)
    once = _second_differences(f, x)
    h1, h2 = once(h), once(h / 2)
    return (h2 + (h2 - h1) / 3.0).reshape(x.shape + x.shape)


def fd_hessian_with_error(f, x, h=H):
    """``fd_hessian`` and a bound on its error: the refined values from steps (h, h/2) and
    (h/2, h/4) differ by about the error of the first (large where the function has large
    higher derivatives, which a comparison's tolerance must not hide)."""
    x = np.asarray(x, dtype=float)
    once = _second_differences(f, x)
    h1, h2, h4 = once(h), once(h / 2), once(h / 4)
    r1, r2 = h2 + (h2 - h1) / 3.0, h4 + (h4 - h2) / 3.0
    return r1.reshape(x.shape + x.shape), np.abs(r1 - r2).reshape(x.shape + x.shape)


def _second_differences(f, x):
    n = x.size

    def once(h):
        hm = np.zeros((n, n))
        for i in range(n):
            for j in range(i, n):
                s = max(1.0, abs(x.flat[i])) * h
                t = max(1.0, abs(x.flat[j])) * h
                v = (_f_at(f, x, i, j, s, t) - _f_at(f, x, i, j, s, -t)
                     - _f_at(f, x, i, j, -s, t) + _f_at(f, x, i, j, -s, -t)) / (4 * s * t)
                hm[i, j] = hm[j, i] = v
        return hm

    return once


def assert_hessian(f, x, rtol=1e-5, atol=1e-6):
    x0 = np.array(x, copy=True)
    got = framead.hessian(f)(x)
    np.testing.assert_array_equal(x, x0)  # the caller's array is untouched
    want = fd_hessian(f, x)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    return got


# ------------------------------------------------------------------------ scalar programs

def test_grad_of_grad_analytic():
    f = lambda x: math.sin(x) * x ** 3  # noqa: E731
    d2 = lambda x: (-math.sin(x) * x ** 3 + 6 * math.cos(x) * x ** 2  # noqa: E731
                    + 6 * x * math.sin(x))
    for x in (0.7, -1.3, 2.5):
        assert framead.grad(framead.grad(f))(x) == pytest.approx(d2(x), rel=1e-12)


def test_third_order_through_a_loop():
    def f(x):
        acc = 1.0
        for k in range(1, 5):
            acc = acc * x + math.exp(x / k)
        return acc

    d3 = framead.grad(framead.grad(framead.grad(f)))
    x = 0.4
    # f = x^4 + sum_k c_k x^(4-k) e^(x/k)-ish: compare with differences of the analytic d2
    d2 = framead.grad(framead.grad(f))
    want = (d2(x + 1e-5) - d2(x - 1e-5)) / 2e-5
    assert d3(x) == pytest.approx(want, rel=1e-7)
    # and exactly against the closed form of one term
    g = lambda x: math.exp(2 * x) * x  # noqa: E731
    assert framead.grad(framead.grad(framead.grad(g)))(0.3) == pytest.approx(
        math.exp(0.6) * (8 * 0.3 + 12), rel=1e-12)


def test_mixed_partial_through_a_closure():
    """d/dx of (d/dy f(x, y)): the inner capture sees x as a constant of the outer."""
    def f(x, y):
        return math.sin(x * y) + x ** 2 * y ** 3

    def dfdy(x):
        return framead.grad(lambda y: f(x, y))(1.5)

    x, y = 0.8, 1.5
    want = math.cos(x * y) - x * y * math.sin(x * y) + 6 * x * y ** 2
    assert framead.grad(dfdy)(x) == pytest.approx(want, rel=1e-12)


def test_grad_of_grad_with_argnums_and_numpy_scalars():
    def f(a, b):
        return np.exp(a) * np.sin(b) + a * a * b

    dfda = framead.grad(f, 0)
    a, b = np.float64(0.3), np.float64(-0.9)
    got = framead.grad(lambda a, b: dfda(a, b), 1)(a, b)
    assert float(got) == pytest.approx(float(np.exp(a) * np.cos(b) + 2 * a), rel=1e-12)


# ------------------------------------------------------------------------ array programs

def _mlp_loss(w):
    x = np.linspace(-1, 1, 6).reshape(3, 2)
    h = np.tanh(x @ w[:4].reshape(2, 2) + w[4:6])
    return float(np.sum((h @ w[6:8] - np.array([0.5, -0.2, 0.1])) ** 2))


def _stencil(u):
    """In-place slice updates: the replay must see every write."""
    u = u.copy()
    for _ in range(3):
        u[1:-1] = u[1:-1] + 0.2 * (u[2:] - 2 * u[1:-1] + u[:-2]) * u[1:-1]
        u[0] *= np.cos(u[1])
    return float(np.sum(u ** 3))


class Spring:
    def __init__(self, k):
        self.k = k

    def energy(self, p):
        d = np.diff(p)
        return 0.5 * self.k * np.sum((d - 1.0) ** 2) + np.sum(np.log1p(p ** 2))


def _spring(p):
    return Spring(2.5).energy(p)


def _reductions(x):
    m = x.reshape(2, 3)
    return float(np.prod(m, axis=0).sum() + np.linalg.norm(m) + np.max(m * m)
                 + np.mean(np.exp(-m), axis=1) @ np.array([1.0, 2.0]))


def _linalg(x):
    a = x.reshape(2, 2) + 3 * np.eye(2)
    return float(np.log(np.linalg.det(a)) + np.trace(np.linalg.inv(a) @ a.T))


ARRAY_PROGRAMS = [
    ("mlp", _mlp_loss, np.random.default_rng(0).normal(size=8) * 0.7),
    ("stencil", _stencil, np.linspace(0.2, 0.9, 6)),
    ("spring", _spring, np.array([0.1, 1.3, 2.0, 3.4])),
    ("reductions", _reductions, np.array([0.3, -0.7, 1.1, 0.5, -1.2, 0.9])),
    ("linalg", _linalg, np.array([0.4, -0.3, 0.2, 0.7])),
]


@pytest.mark.parametrize("name,f,x", ARRAY_PROGRAMS, ids=[p[0] for p in ARRAY_PROGRAMS])
def test_hessian_matches_second_differences(name, f, x):
    h = assert_hessian(f, x)
    np.testing.assert_allclose(h, h.T, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name,f,x", ARRAY_PROGRAMS[:3], ids=[p[0] for p in ARRAY_PROGRAMS[:3]])
def test_all_jacobian_compositions_agree(name, f, x):
    ref = framead.hessian(f)(x)
    g = framead.grad(f)
    for combo in (framead.jacfwd(g), framead.jacrev(g),
                  framead.jacrev(framead.jacrev(f)), framead.jacrev(framead.jacfwd(f)),
                  framead.jacfwd(framead.jacfwd(f))):
        np.testing.assert_allclose(combo(x), ref, rtol=1e-9, atol=1e-10)


def test_hessian_against_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def f_np(x):
        return np.sum(np.sin(x) * x[::-1]) + np.prod(x) + np.log(np.sum(np.exp(x)))

    def f_jax(x):
        return jnp.sum(jnp.sin(x) * x[::-1]) + jnp.prod(x) + jnp.log(jnp.sum(jnp.exp(x)))

    x = np.array([0.3, -0.5, 1.2, 0.8])
    np.testing.assert_allclose(framead.hessian(f_np)(x), np.asarray(jax.hessian(f_jax)(x)),
                               rtol=1e-12, atol=1e-12)


def test_hessian_of_tuple_argnums():
    def f(a, b):
        return float(np.sum(a ** 2 * b[0]) + np.sin(b @ b))

    a, b = np.array([0.5, -1.0]), np.array([0.3, 0.7])
    hs = framead.hessian(f, (0, 1))(a, b)
    assert hs[0][0].shape == (2, 2) and hs[0][1].shape == (2, 2) and hs[1][0].shape == (2, 2)
    np.testing.assert_allclose(hs[0][1], hs[1][0].T, rtol=1e-12)
    np.testing.assert_allclose(hs[0][0], np.diag(2 * b[0] * np.ones(2)), rtol=1e-12)
    np.testing.assert_allclose(hs[0][1][:, 0], 2 * a, rtol=1e-12)


def test_hessian_of_linear_function_is_zero():
    h = framead.hessian(lambda x: float(np.sum(3.0 * x)))(np.ones(3))
    np.testing.assert_array_equal(h, np.zeros((3, 3)))


def test_gradient_value_inside_outer_capture_is_the_real_gradient():
    """A plain grad() call inside a function being differentiated returns ordinary values."""
    seen = []

    def outer(x):
        g = framead.grad(lambda y: np.sum(y ** 3))(x)
        seen.append(np.array(g))
        return np.sum(g * x)

    x = np.array([1.0, 2.0])
    out = framead.grad(outer)(x)
    np.testing.assert_allclose(seen[0], 3 * x ** 2)
    np.testing.assert_allclose(out, 9 * x ** 2)  # d/dx sum(3 x^3) = 9 x^2


# ------------------------------------------------------------------------ reported losses

def test_opaque_engine_derivative_is_reported():
    """An engine without higher orders (``higher_order = None``): FA107 at its node."""
    from framead.engines import register_engine
    from framead.engines.finite_diff_engine import FiniteDiffEngine

    class _Opaque(FiniteDiffEngine):
        higher_order = None

    register_engine("_opaque_fd", lambda fn, o: _Opaque(fn, **o), replace=True)
    sub = framead.use("_opaque_fd")(lambda x: np.sin(x))

    def f(x):
        return float(np.sum(sub(x) * x))

    cov = framead.coverage(framead.grad(f), np.array([0.2, 0.4]))
    assert "FA107" in {e.code for e in cov.entries}, str(cov)
    with pytest.raises(framead.GradientHazard, match="FA107"):
        framead.hessian(f, strict=True)(np.array([0.2, 0.4]))
    with pytest.warns(framead.GradientWarning, match="FA107") as w:  # a zero Hessian: said
        framead.hessian(lambda x: float(np.sum(sub(x))))(np.array([0.2, 0.4]))
    assert w[0].filename == __file__


# ------------------------------------------------------------------------ random programs

def _hessian_path_stable(fprobe, probe, xs):
    """The path at ``xs`` is the path at every point the differences sample."""
    base, _ = _path_at(fprobe, probe, xs)
    if base is None:
        return False
    n = len(xs)
    for h in (H, H / 2, H / 4):
        for i in range(n):
            for j in range(n):
                for si in (-1, 1):
                    for sj in (-1, 1):
                        x = list(xs)
                        x[i] += si * h * max(1.0, abs(xs[i]))
                        x[j] += sj * h * max(1.0, abs(xs[j]))
                        if _path_at(fprobe, probe, tuple(x))[0] != base:
                            return False
    return True


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(random_float_programs())
def test_random_program_hessian(program_dir, prog):  # noqa: F811
    """Hessians of random float programs (loops, branches, min/max/abs, math functions)."""
    from test_random_grad import PathProbe

    src, probe_src, args, _ = prog
    note(src)
    f = _load(src, program_dir, None)
    probe = PathProbe()
    fprobe = _load(probe_src, program_dir, probe)
    xs = tuple(float(a) for a in args)
    assume(_hessian_path_stable(fprobe, probe, xs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            y = f(*fresh(args))
        except (OverflowError, ZeroDivisionError, ValueError):
            assume(False)
        assume(abs(y) < 1e6)
        fv = lambda v: f(*[type(a)(t) for a, t in zip(args, v, strict=True)])  # noqa: E731
        want, err = fd_hessian_with_error(fv, np.array(xs))
        assume(np.all(np.abs(want) < 1e5))
        rtol, atol = 1e-4, 1e-5 * (1 + np.max(np.abs(want)))
        # a point where the differences are too rough says nothing about framead (sin of a
        # degree-6 polynomial: their error was 1.6e-4 where framead and JAX agree exactly)
        assume(np.all(err <= 0.1 * (rtol * np.abs(want) + atol)))
        nums = tuple(range(len(args)))
        got = framead.hessian(f, nums)(*fresh(args))
    got = np.array([[float(got[i][j]) for j in nums] for i in nums])
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def test_second_derivative_of_abs_of_a_complex_scalar():
    def f(x):
        z = np.sum(x * (1 + 2j))  # a numpy complex scalar
        return np.abs(z) ** 2  # = 5 x^2

    assert framead.grad(framead.grad(f))(0.7) == pytest.approx(10.0, rel=1e-12)
    np.testing.assert_allclose(framead.hessian(f)(np.array([0.7])), [[10.0]], rtol=1e-12)


def test_hessian_through_cholesky():
    def f(x):
        return float(np.sum(np.linalg.cholesky(np.outer(x, x) + np.diag(x + 2.0))))

    assert_hessian(f, np.array([0.5, 0.8, 0.6]), rtol=1e-5)


def test_second_derivatives_at_guarded_points_are_finite_and_right():
    """Derivative formulas guarded with where() keep their own derivatives: d2(x**y)/dxdy at
    y == 0 is 1/x (not x), and std's Hessian at a constant lane is finite."""
    x = np.array([0.5, 1.5, 2.0])
    y = np.array([0.0, 1.0, 0.0])
    h = framead.jacfwd(framead.grad(lambda a, b: np.sum(a ** b), argnums=0), argnums=1)(x, y)
    np.testing.assert_allclose(np.diag(h), x ** (y - 1) * (1 + y * np.log(x)))
    assert framead.grad(framead.grad(lambda a, b: a ** b), argnums=1)(1.5, 0.0) == \
        pytest.approx(1 / 1.5)

    def std_rows(a):
        return np.std(a, axis=1).sum()

    a = np.array([[1.0, 1.0, 1.0], [0.5, 1.5, 3.0]])
    hs = framead.hessian(std_rows)(a)
    assert np.isfinite(hs).all()
    g, eps = framead.grad(std_rows), 1e-5
    for k in range(3):
        e = np.zeros_like(a)
        e[1, k] = eps
        np.testing.assert_allclose(hs[1, k], (g(a + e) - g(a - e)) / (2 * eps), atol=1e-5)


def test_first_order_only_derivatives_are_reported_at_second_order():
    """np.gradient's derivative in its spacings is a complex step, which a nested capture
    cannot differentiate again: the second derivative through it is FA107, not silent."""
    y = np.array([1.0, 4.0, 2.0, 3.0])
    w = np.array([1.0, 2.0, 3.0, 4.0])

    def outer(x):
        return np.sum(framead.grad(lambda s: np.sum(np.gradient(y, s) ** 2))(x) * w)

    t = framead.trace(outer, np.array([0.0, 1.0, 1.5, 3.0]))
    assert [h.code for h in t.hazards] == ["FA107"]
