"""Calls whose rule raised in the reverse pass (a NotImplementedError or a shape ValueError with
no user frame): each is now differentiated, its gradient against float64 central differences
and its JVP against the directional difference, or, where framead has no derivative, it must
be refused at capture (FA101 at the user's line; strict=True raises there).

Covered: np.matrix reductions (``m.trace()``, ``cumsum``/``cumprod``, ``median``/``quantile``
along an axis), np.pad's computing modes (mean, maximum, minimum, median, linear_ramp,
odd reflections), ``np.interp(period=)``, max/min (and nanmax/nanmin) with ``initial=`` and
``where=``, weighted ``np.cov`` and quantiles, and vecdot/matvec/vecmat over other axes.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
from conftest import fd_grad
from hypothesis import given, settings
from hypothesis import strategies as st

import framead
from framead.errors import GradientHazard

HYP = settings(max_examples=40, deadline=None)
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # (np.matrix)
H = 1e-6


def check(f, x, seed=0):
    """grad(f)(x) against central differences, jvp(f) along a random direction against the
    directional difference (no exception may escape either pass)."""
    x = np.asarray(x, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("error", framead.GradientWarning)  # no hazard either
        g = framead.grad(f)(x)
        t = np.random.default_rng(seed).normal(size=x.shape)
        _, jt = framead.jvp(f, (x,), (t,))
    ref = fd_grad(f, x, step=1e-6)
    scale = 1 + np.max(np.abs(ref), initial=0)
    np.testing.assert_allclose(g, ref, rtol=1e-6, atol=1e-6 * scale)
    np.testing.assert_allclose(jt, (f(x + H * t) - f(x - H * t)) / (2 * H), rtol=1e-6,
                               atol=1e-6 * scale * (1 + np.sum(np.abs(t))))
    return g


def weighted(fn):
    """``sum(fn(v) * c)`` for a fixed random ``c`` shaped like the result."""
    def f(v):
        out = np.asarray(fn(v), dtype=float)
        return np.sum(out * np.random.default_rng(7).normal(size=out.shape))
    return f


# --- np.matrix reductions: 2-d results (m.trace() is (1, 1), m.cumsum() is (1, n)) ----------

def test_matrix_trace_indexed():
    v = np.array([1.0, 2.0, 3.0, 4.0])
    g = check(lambda v: np.matrix(v.reshape(2, 2)).trace()[0, 0], v)
    np.testing.assert_array_equal(g, [1.0, 0.0, 0.0, 1.0])


METHODS = ["sum", "mean", "prod", "max", "min", "ptp", "std", "var", "cumsum", "cumprod"]


@pytest.mark.parametrize("shape", [(2, 3), (3, 3)])
@pytest.mark.parametrize("name,axis", [("trace", None)] + [(m, a) for m in METHODS
                                                           for a in (None, 0, 1)])
def test_matrix_methods(name, axis, shape):
    v = np.random.default_rng(1).uniform(0.5, 2.0, int(np.prod(shape)))
    kw = {} if axis is None else {"axis": axis}
    check(weighted(lambda v: getattr(np.matrix(v.reshape(shape)), name)(**kw)), v)


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("fn", [np.median, lambda m, axis: np.quantile(m, 0.3, axis=axis),
                                lambda m, axis: np.percentile(m, 70.0, axis=axis),
                                lambda m, axis: np.trace(m)])
def test_matrix_functions(fn, axis):
    v = np.random.default_rng(2).normal(size=6)
    try:
        fn(np.matrix(v.reshape(2, 3)), axis=axis)
    except ValueError as e:  # (NumPy 2.4.0's quantile of a matrix: a matrix product inside)
        pytest.skip(f"NumPy {np.__version__} itself fails here: {e}")
    check(weighted(lambda v: fn(np.matrix(v.reshape(2, 3)), axis=axis)), v)


# --- np.pad ----------------------------------------------------------------------------------

PAD_MODES = [("mean", {}), ("maximum", {}), ("minimum", {}), ("median", {}),
             ("linear_ramp", {}), ("reflect", {"reflect_type": "odd"}),
             ("symmetric", {"reflect_type": "odd"}), ("edge", {}), ("wrap", {}),
             ("reflect", {}), ("symmetric", {}), ("constant", {})]


@st.composite
def pad_calls(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    nd = len(shape)
    mode, kw = draw(st.sampled_from(PAD_MODES))
    kw = dict(kw)
    width = st.integers(0, 9)
    pad_width = draw(st.one_of(
        width, st.tuples(width, width),
        st.tuples(*[st.tuples(width, width)] * nd),
        st.dictionaries(st.integers(-nd, nd - 1), width, max_size=nd)))
    if mode in ("mean", "maximum", "minimum", "median"):
        kw["stat_length"] = draw(st.one_of(st.none(), st.integers(1, 5),
                                           st.tuples(*[st.tuples(st.integers(1, 5),
                                                                 st.integers(1, 5))] * nd)))
    if mode == "linear_ramp":
        kw["end_values"] = draw(st.sampled_from([0.0, 1.5, (-1.0, 2.0)]))
    return shape, pad_width, mode, kw


@HYP
@given(call=pad_calls(), seed=st.integers(0, 2**32 - 1))
def test_pad_modes(call, seed):
    shape, pad_width, mode, kw = call
    x = np.random.default_rng(seed).normal(size=shape)  # distinct values: no ties
    check(weighted(lambda v: np.pad(v, pad_width, mode, **kw)), x, seed)


@pytest.mark.parametrize("mode", ["mean", "maximum", "minimum", "median", "linear_ramp",
                                  "reflect-odd"])
def test_pad_mode_matmul(mode):
    """The corpus's form: np.pad(v, 1, mode=...) @ w."""
    v, w = np.array([0.3, -1.2, 2.5, 0.7]), np.arange(1.0, 7.0)
    kw = {"reflect_type": "odd"} if mode == "reflect-odd" else {}
    check(lambda v: np.pad(v, 1, mode=mode.split("-")[0], **kw) @ w, v)


@pytest.mark.parametrize("mode", ["maximum", "minimum", "median"])
def test_pad_statistic_two_way_tie(mode):
    """A pair of equal picked values shares the cotangent, as central differences see it."""
    x = np.array([1.0, 1.0, 2.0, 0.5]) if mode != "maximum" else np.array([2.0, 1.0, 2.0, 0.5])
    check(lambda v: np.pad(v, (3, 0), mode, stat_length=(3, 3)) @ np.arange(1.0, 8.0), x)


# --- max/min with initial= and where= --------------------------------------------------------

REDUCERS = [np.max, np.min, np.amax, np.amin, np.nanmax, np.nanmin,
            lambda a, **kw: a.max(**kw), lambda a, **kw: a.min(**kw)]


@HYP
@given(fn=st.sampled_from(REDUCERS), seed=st.integers(0, 2**32 - 1),
       axis=st.sampled_from([None, 0, 1, -1, (0, 1)]), keepdims=st.booleans(),
       initial=st.sampled_from([None, -5.0, 5.0, 0.1]), masked=st.booleans(),
       nan=st.booleans())
def test_max_min_initial_where(fn, seed, axis, keepdims, initial, masked, nan):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3, 4))
    if nan and fn in (np.nanmax, np.nanmin):
        x[rng.integers(3), rng.integers(4)] = np.nan
    kw = {"axis": axis, "keepdims": keepdims}
    if initial is not None:
        kw["initial"] = initial
    if masked:
        if initial is None:
            kw["initial"] = 0.0  # (a lane with nothing selected needs one)
        kw["where"] = rng.random((3, 4)) < 0.6
    check(weighted(lambda v: fn(v, **kw)), x, seed)


@pytest.mark.parametrize("fn,initial", [(np.max, 1.0), (np.min, 0.5)])
def test_extremum_tied_with_initial(fn, initial):
    """initial ties as one more element: the element gets half, as differences see it."""
    g = check(lambda v: fn(v, initial=initial), np.array([0.5, 1.0]))
    np.testing.assert_allclose(g, [0.0, 0.5] if fn is np.max else [0.5, 0.0])


# --- np.interp(period=) ------------------------------------------------------------------------

@HYP
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 6), m=st.integers(1, 5),
       period=st.sampled_from([360.0, -360.0, 2 * np.pi, 7.5]), argnum=st.sampled_from([0, 1, 2]))
def test_interp_period(seed, n, m, period, argnum):
    rng = np.random.default_rng(seed)
    p = abs(period)
    xp = (rng.permutation(n) + rng.uniform(0.2, 0.8, n)) * p / n + p * rng.integers(-2, 3, n)
    fp, x = rng.normal(size=n), rng.uniform(-2 * p, 2 * p, m)
    args = [x, xp, fp]

    def f(v):
        a = list(args)
        a[argnum] = v
        return np.interp(a[0], a[1], a[2], period=period) @ np.arange(1.0, m + 1)
    check(f, args[argnum], seed)


def test_interp_period_corpus_form():
    fp = np.array([1.0, -2.0, 0.5, 3.0])
    check(lambda f: np.sum(np.interp([10.0, 200.0, 350.0], [0.0, 90.0, 180.0, 270.0], f,
                                     period=360.0) ** 2), fp)


# --- weighted np.cov and quantiles -------------------------------------------------------------

FW, AW = [1, 2, 1, 3, 1], [0.5, 1.0, 2.0, 0.7, 1.2]


@pytest.mark.parametrize("kw", [{"fweights": FW}, {"aweights": AW},
                                {"fweights": FW, "aweights": AW}, {"aweights": AW, "bias": True},
                                {"fweights": FW, "ddof": 2}])
@pytest.mark.parametrize("form", ["x", "xy", "rowvar"])
def test_weighted_cov(kw, form):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(3, 5)), rng.normal(size=(2, 5))
    if form == "x":
        check(weighted(lambda v: np.cov(v, **kw)), x)
    elif form == "xy":
        check(weighted(lambda v: np.cov(x, v, **kw)), y)
    else:
        check(weighted(lambda v: np.cov(v.T, rowvar=False, **kw)), x)


@HYP
@given(seed=st.integers(0, 2**32 - 1), fn=st.sampled_from([np.quantile, np.percentile,
                                                             np.nanquantile]),
       q=st.sampled_from([0.3, [0.2, 0.9]]), axis=st.sampled_from([None, 0, 1]),
       keepdims=st.booleans())
def test_weighted_quantiles(seed, fn, q, axis, keepdims):
    rng = np.random.default_rng(seed)
    x, w = rng.normal(size=(3, 4)), rng.uniform(0.1, 1.0, (3, 4))
    q = np.multiply(q, 100.0) if fn is np.percentile else q
    check(weighted(lambda v: fn(v, q, axis=axis, method="inverted_cdf", weights=w,
                                keepdims=keepdims)), x, seed)


# --- vecdot, matvec, vecmat over other axes --------------------------------------------------

GUFUNC_CALLS = [
    (np.vecdot, (3, 4), (3, 4), {"axis": 0}), (np.vecdot, (4, 3, 2), (3, 2), {"axis": -2}),
    (np.vecdot, (1, 3, 2), (4, 3, 2), {"axes": [(1,), (1,), ()]}),
    (np.vecdot, (3, 4), (3, 1), {"axis": 0, "keepdims": True}),
    (np.linalg.vecdot, (3, 4), (3, 4), {"axis": 0}),
    (np.matvec, (3, 2), (3,), {"axes": [(1, 0), (0,), (0,)]}),
    (np.matvec, (3, 2, 4), (4, 3), {"axes": [(1, 2), (0,), (1,)]}),
    (np.vecmat, (3,), (3, 2), {"axes": [(0,), (0, 1), (0,)]}),
    (np.vecmat, (5, 3), (2, 3, 5), {"axes": [(1,), (1, 0), (-1,)]}),
]


@pytest.mark.parametrize("fn,sa,sb,kw", GUFUNC_CALLS)
@pytest.mark.parametrize("argnum", [0, 1])
def test_gufunc_products_over_axes(fn, sa, sb, kw, argnum):
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    if argnum == 0:
        check(weighted(lambda v: fn(v, b, **kw)), a)
    else:
        check(weighted(lambda v: fn(a, v, **kw)), b)


# --- what framead cannot differentiate: refused at capture -----------------------------------

def assert_refused(f, x, code="FA101"):
    """A hazard ``code`` at the line of ``f`` that makes the call; strict=True raises at
    capture (a GradientHazard, never an error from the reverse pass)."""
    lines, first = inspect.getsourcelines(f)
    line = first + next(i for i, s in enumerate(lines) if "np." in s and "def " not in s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hazards = framead.trace(f, x).hazards
    assert any(h.code == code and h.loc.file == __file__ and h.loc.line == line
               for h in hazards), hazards
    with pytest.raises(GradientHazard):
        framead.grad(f, strict=True)(x)


def _fill_half(vector, width, axis, kwargs):
    vector[:width[0]] = 0.5
    vector[vector.size - width[1]:] = 0.5


def test_pad_function_mode_is_refused():
    def f(v):
        return np.sum(np.pad(v, 1, _fill_half) * np.arange(1.0, 7.0))
    assert_refused(f, np.array([1.0, 2.0, 3.0, 4.0]))


def test_reshape_order_a_is_refused():
    def f(v):
        return np.sum(np.reshape(v, (3, 2), order="A") * np.arange(6.0).reshape(3, 2))
    assert_refused(f, np.asfortranarray(np.arange(1.0, 7.0).reshape(2, 3)))
