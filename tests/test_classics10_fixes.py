"""The mechanisms tests/classic_corpus/programs_classics10.py found silently wrong or failing
in the reverse pass, each against an independent reference (float64 central differences,
an analytic derivative, the native run):

1. np.round / np.around report FA102 at the user's line (as builtins.round);
2. np.median / np.percentile / np.quantile (and nan-twins) with overwrite_input=True of an
   ndarray: NumPy's body is traced (its in-place partition recorded; the program reads the
   partitioned buffer);
3. np.matmul(a, b, axes=[...]) differentiates the core axes where axes= puts them;
4. np.heaviside(x1, x2) has derivative (x1 == 0) in x2 (and the other two-argument ufuncs
   with piecewise-constant parts agree with differences);
5. quad(weight=..., wvar=traced) differentiates wvar ('cos', 'sin', 'alg', 'cauchy');
6. solve_ivp's t_span / t_eval and odeint's t traced: d y(t_i)/d t_i = f(t_i, y(t_i)), the
   start time through the adjoint, sol.t follows;
7. np.linalg.diagonal(offset != 0) and np.convolve / np.correlate with integer modes.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import assert_grad_matches_fd, fd_grad, hazard_sites, line_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framead
from framead.errors import GradientHazard

FUZZ = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def _rng(seed):
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------- 1. rounding

def _rounding(x):
    y = np.exp(x) * 3.0
    a = np.round(y, 12) @ np.arange(1.0, x.size + 1)  # round-np
    b = np.around(y[0] * y[-1], 10)  # around-np
    return float(a + b + round(float(y[0]), 10) + x @ x)  # round-builtin


def test_round_reports_fa102_at_each_line_and_the_gradient_is_the_rest():
    x = np.array([0.3, -0.2, 0.7])
    sites = hazard_sites(_rounding, x)
    here = __file__
    for marker in ("round-np", "around-np", "round-builtin"):
        assert ("FA102", here, line_of(marker, here)) in sites, sites
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = framead.grad(_rounding)(x)
    np.testing.assert_allclose(g, 2 * x, rtol=1e-14)  # the rounded terms: a step, 0
    with pytest.raises(GradientHazard):
        framead.value_and_grad(_rounding, strict=True)(x)


def test_ndarray_round_method_reports_fa102():
    x = np.array([0.3, -0.2])
    sites = hazard_sites(lambda v: float((np.exp(v).round(10)).sum() + v @ v), x)
    assert [c for c, _, _ in sites] == ["FA102"]


# ------------------------------------------------------------------ 2. overwrite_input

_ORDER_STATS = [  # (function, its q, keywords)
    (np.median, (), {}), (np.percentile, (40,), {}), (np.quantile, (0.3,), {"method": "midpoint"}),
    (np.nanmedian, (), {}), (np.nanpercentile, (70,), {}), (np.nanquantile, (0.6,), {}),
]


@pytest.mark.parametrize("k", range(len(_ORDER_STATS)))
def test_overwrite_input_is_differentiated_and_runs_as_natively(k):
    stat, q, kw = _ORDER_STATS[k]

    def f(x):
        y = x * 2.0
        m = stat(y, *q, overwrite_input=True, **kw)  # overwrite
        return float(m * 3 + y @ np.arange(1.0, y.size + 1))  # (reads the reordered y)

    x = _rng(k).uniform(-1, 1, 7)
    native = f(x.copy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v, _ = framead.value_and_grad(f)(x)
    assert v == native
    assert hazard_sites(f, x) == []
    assert_grad_matches_fd(f, x)


@FUZZ
@given(st.integers(0, len(_ORDER_STATS) - 1), st.integers(2, 4), st.integers(2, 5),
       st.sampled_from([None, 0, 1]), st.integers(0, 2 ** 16))
def test_order_statistics_without_overwrite_match_differences(k, r, c, axis, seed):
    stat, q, kw = _ORDER_STATS[k]
    x = _rng(seed).uniform(-1, 1, (r, c))
    w = _rng(seed + 1).uniform(0.5, 1.5, np.shape(stat(x, *q, axis=axis, **kw)))
    assert_grad_matches_fd(lambda v: float(np.sum(stat(v * 1.5, *q, axis=axis, **kw) * w)), x)


def test_overwrite_input_of_a_list_is_not_refused():
    """A list is copied by NumPy (nothing to reorder): differentiated as usual."""
    def f(x):
        return float(np.median([x[0] * 2, x[1], x[2] + 1.0], overwrite_input=True))

    x = np.array([0.1, 0.5, -0.2])
    assert hazard_sites(f, x) == []
    assert_grad_matches_fd(f, x)


# ------------------------------------------------------------------------ 3. matmul axes

@st.composite
def _matmul_case(draw):
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    batch = draw(st.sampled_from([(), (2,), (3,)]))
    a_std, b_std = batch + (n, k), batch + (k, m)

    def place(shape):
        nd = len(shape)
        perm = draw(st.permutations(range(nd)))  # perm[j]: where std axis j goes
        core = tuple(perm[nd - 2:])
        placed = [0] * nd
        for j, p in enumerate(perm):
            placed[p] = shape[j]
        neg = draw(st.booleans())
        return tuple(placed), tuple(c - nd if neg else c for c in core)

    sa, ca = place(a_std)
    sb, cb = place(b_std)
    so, co = place(batch + (n, m))
    return sa, sb, [ca, cb, co], so


@FUZZ
@given(_matmul_case(), st.integers(0, 2 ** 16))
def test_matmul_axes_matches_differences_and_its_jvp(case, seed):
    sa, sb, axes, so = case
    a, b = _rng(seed).normal(size=sa), _rng(seed + 1).normal(size=sb)
    w = _rng(seed + 2).normal(size=so)
    assert np.matmul(a, b, axes=axes).shape == so

    def f(a, b):
        return float(np.sum(np.matmul(a, b, axes=axes) * w))

    assert_grad_matches_fd(f, a, b, argnums=(0, 1))
    ta, tb = _rng(seed + 3).normal(size=sa), _rng(seed + 4).normal(size=sb)
    _, t = framead.jvp(f, (a, b), (ta, tb))
    np.testing.assert_allclose(t, f(ta, b) + f(a, tb), rtol=1e-10, atol=1e-12)  # bilinear


def test_matmul_axes_with_a_vector_operand():
    b = _rng(5).normal(size=(4, 2, 3))
    w = _rng(6).normal(size=(3, 2))
    f = lambda v, b: float(np.sum(np.matmul(v, b, axes=[0, (0, 1), 1]) * w))  # noqa: E731
    assert_grad_matches_fd(f, _rng(7).normal(size=4), b, argnums=(0, 1))


# ----------------------------------------------------------- 4. piecewise-constant ufuncs

@FUZZ
@given(st.lists(st.sampled_from([-1.5, -0.5, 0.0, 0.0, 0.7, 2.0]), min_size=1, max_size=6),
       st.integers(0, 2 ** 16))
def test_heaviside_second_argument_is_taken_where_the_first_is_zero(x1, seed):
    x1 = np.array(x1)
    x2 = _rng(seed).uniform(-1, 1, x1.size)
    w = _rng(seed + 1).uniform(0.5, 2, x1.size)
    f = lambda v: float(np.heaviside(x1, v * 1.5) @ w)  # noqa: E731
    g = framead.grad(f)(x2)
    np.testing.assert_allclose(g, 1.5 * w * (x1 == 0), rtol=1e-14)  # analytic
    np.testing.assert_allclose(g, fd_grad(f, (x2,)), atol=1e-8)


@pytest.mark.parametrize("name", ["copysign", "nextafter", "ldexp", "fmod", "remainder",
                                  "heaviside_x1", "sign", "frexp", "modf", "spacing"])
def test_two_argument_ufuncs_with_step_parts_match_differences(name):
    def f(v):
        x, y = v[:3], v[3:]
        out = {
            "copysign": lambda: np.copysign(x, y - 0.1) * x,
            "nextafter": lambda: np.nextafter(x, y) * y,
            "ldexp": lambda: np.ldexp(x, [1, -2, 3]),
            "fmod": lambda: np.fmod(x * 5, y),
            "remainder": lambda: np.remainder(x * 5, y),
            "heaviside_x1": lambda: np.heaviside(x, 0.5) * y,
            "sign": lambda: np.sign(x) * y,
            "frexp": lambda: np.frexp(x * 3)[0] * y,
            "modf": lambda: np.modf(x * 3)[0] * y,
            "spacing": lambda: np.spacing(x) * 1e15 + y,
        }[name]()
        return float(np.sum(out * [1.0, 2.0, 3.0]))

    v = np.array([0.73, -1.31, 2.17, 0.57, -0.83, 1.27])
    assert_grad_matches_fd(f, v)


# ------------------------------------------------------------------------- 5. quad wvar

def _quad_wvar(weight):
    from scipy import integrate

    def f(x):
        g = lambda t: np.exp(-x[0] * t) * (1 + 0.3 * t)  # noqa: E731
        if weight == "alg":
            return integrate.quad(g, 0.1, 2.0, weight="alg", wvar=(x[1], x[2]))[0]
        if weight == "cauchy":
            return integrate.quad(g, -0.5, 2.5, weight="cauchy", wvar=x[1] + x[2])[0]
        if weight == "sin_inf":
            return integrate.quad(g, 0.0, np.inf, weight="sin", wvar=x[1] * x[2])[0]
        return integrate.quad(g, 0.2, 3.0, weight=weight, wvar=x[1] * 2 + x[2])[0]
    return f


@pytest.mark.parametrize("weight", ["cos", "sin", "sin_inf", "alg", "cauchy"])
@pytest.mark.parametrize("seed", [0, 1])
def test_quad_traced_wvar_matches_differences_and_jvp(weight, seed):
    pytest.importorskip("scipy")
    f = _quad_wvar(weight)
    x = _rng(seed).uniform(0.4, 0.9, 3)
    assert hazard_sites(f, x) == []
    g = assert_grad_matches_fd(f, x, rtol=1e-5)
    t = _rng(seed + 9).normal(size=3)
    _, jt = framead.jvp(f, (x,), (t,))
    np.testing.assert_allclose(jt, g @ t, rtol=1e-7, atol=1e-10)


def test_quad_traced_wvar_of_a_logarithmic_weight_is_reported():
    pytest.importorskip("scipy")
    from scipy import integrate

    def f(x):
        return integrate.quad(lambda t: t + x[0], 0.0, 1.0, weight="alg-loga",
                              wvar=(x[1], 0.0))[0]  # alg-log

    assert ("FA101", __file__, line_of("alg-log", __file__) - 1) in hazard_sites(
        f, np.array([0.5, 0.3]))


# ------------------------------------------------------------------------ 6. ODE times

_TOL = {"rtol": 1e-12, "atol": 1e-12}


def _ode(kind):
    from scipy import integrate

    def f(x):
        rhs = lambda t, y: [-x[0] * y[0] + np.sin(t)]  # noqa: E731
        if kind == "span":
            s = integrate.solve_ivp(rhs, (x[1], 1.0 + x[2]), [1.0], **_TOL)
            return s.y[0, -1] + 3 * s.y[0, 0] + s.t[-1] * s.t[0]
        if kind == "span_array":
            return integrate.solve_ivp(rhs, x[1:] * [1.0, 3.0], [1.0], **_TOL).y[0, -1]
        if kind == "t_eval":
            s = integrate.solve_ivp(rhs, (x[1] - 0.5, 3.0), [1.0], t_eval=[0.5, 1.0 + x[2]],
                                    **_TOL)
            return s.y[0] @ [1.0, 2.0] + s.t @ s.y[0]
        if kind == "dense":
            s = integrate.solve_ivp(rhs, (x[1], 2.5), [1.0], dense_output=True, **_TOL)
            return s.sol(2.0)[0]
        t = [x[1], 0.5, 1.0 + x[2]]
        return integrate.odeint(lambda y, t: -x[0] * y + np.sin(t), 1.0, t,
                                **_TOL)[:, 0] @ [0.3, 1.0, 2.0]
    return f


@pytest.mark.parametrize("kind", ["span", "span_array", "t_eval", "dense", "odeint"])
def test_ode_traced_times_match_differences(kind):
    pytest.importorskip("scipy")
    f = _ode(kind)
    x = np.array([0.7, 0.1, 0.4])
    assert hazard_sites(f, x) == []
    g = framead.grad(f)(x)
    np.testing.assert_allclose(g, fd_grad(f, (x,), step=1e-5), rtol=1e-6, atol=1e-8)


def test_ode_end_time_derivative_is_the_right_hand_side():
    """d y(T)/dT = f(T, y(T)) (analytic: y' = -y, y(T) = exp(-T))."""
    pytest.importorskip("scipy")
    from scipy import integrate

    f = lambda T: integrate.solve_ivp(lambda t, y: -y, (0.0, T), [1.0], **_TOL).y[0, -1]  # noqa: E731
    np.testing.assert_allclose(framead.grad(f)(1.3), -np.exp(-1.3), rtol=1e-9)


# ----------------------------------------------------- 7. diagonal offsets, convolve modes

@FUZZ
@given(st.integers(1, 4), st.integers(1, 4), st.integers(-3, 3), st.sampled_from([(), (2,)]),
       st.integers(0, 2 ** 16))
def test_linalg_diagonal_with_offsets_matches_differences(m, n, k, batch, seed):
    shape = batch + (m, n)
    x = _rng(seed).normal(size=shape)
    d = np.linalg.diagonal(x, offset=k)
    if d.shape[-1] == 0:
        return
    w = _rng(seed + 1).normal(size=d.shape)
    assert_grad_matches_fd(lambda v: float(np.sum(np.linalg.diagonal(v * 2.0, offset=k) * w)),
                           x)


@FUZZ
@given(st.integers(1, 5), st.integers(1, 5), st.sampled_from([0, 1, 2, "valid", "same",
                                                               "full"]),
       st.sampled_from(["convolve", "correlate"]), st.integers(0, 2 ** 16))
def test_convolve_correlate_integer_modes_match_differences(n, m, mode, which, seed):
    fn = getattr(np, which)
    x = _rng(seed).normal(size=n + m)
    w = _rng(seed + 1).normal(size=fn(x[:n], x[n:], mode).shape)
    assert_grad_matches_fd(lambda v: float(fn(v[:n] * 1.5, v[n:], mode) @ w), x)


_GUFUNC_AXES = {  # the other gufunc products with axes= / axis= (their _gufunc_spec)
    "vecdot_axis": lambda A, v: np.vecdot(A, A * v[:, None], axis=1),
    "vecdot_axis0_keepdims": lambda A, v: np.vecdot(A, A[:, :1] * 2, axis=0, keepdims=True),
    "matvec_axes": lambda A, v: np.matvec(A, v, axes=[(0, 1), (0,), (0,)]),
    "vecmat_axes": lambda A, v: np.vecmat(v[:3], A, axes=[(0,), (0, 1), (0,)]),
}


@pytest.mark.parametrize("name", sorted(_GUFUNC_AXES))
def test_gufunc_products_with_axes_match_differences(name):
    A, v = _rng(11).normal(size=(3, 4, 2)), _rng(12).normal(size=4)
    w = _rng(13).normal(size=_GUFUNC_AXES[name](A, v).shape)
    assert_grad_matches_fd(lambda A, v: float(np.sum(_GUFUNC_AXES[name](A, v) * w)), A, v,
                           argnums=(0, 1))
