"""Issue 11 item 11 and the SciPy parts of item 6: scipy.special functions (and the order/shape
arguments they cannot differentiate, reported), scipy.stats distribution methods through their
internals, scipy.ndimage filters in every mode, scipy.signal convolutions, scipy.fft,
CubicSpline, scipy.integrate.quad/quad_vec adjoints, np.block, and exact-number cuts
(decimal/fractions, FA102). Every derivative is checked against central differences in
float64."""

from __future__ import annotations

import decimal
import fractions
import warnings
import zlib

import numpy as np
import pytest
from conftest import central, trace_hazards
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sp = pytest.importorskip("scipy.special")
framead = pytest.importorskip("framead")
import scipy.fft as sfft  # noqa: E402
import scipy.integrate as si  # noqa: E402
import scipy.interpolate as sip  # noqa: E402
import scipy.linalg as sl  # noqa: E402
import scipy.ndimage as nd  # noqa: E402
import scipy.signal as ss  # noqa: E402
import scipy.special._ufuncs as spu  # noqa: E402
import scipy.stats as stats  # noqa: E402
from framead.rules import check, install_optional  # noqa: E402

install_optional()  # SciPy's rules (a capture would install them too)

SETTINGS = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def assert_grad(f, x, rtol=1e-5, atol=1e-7, hazards=False):
    """framead's gradient equals central differences (and nothing was reported, unless
    ``hazards``: see ``test_distribution_methods``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not hazards:
            t = framead.trace(f, x)
            assert not t.hazards, [str(h) for h in t.hazards]
        g = framead.grad(f)(x)
        np.testing.assert_allclose(g, central(f, x), rtol=rtol, atol=atol)


def codes(f, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [h.code for h in framead.trace(f, *args, **kw).hazards]


# --- scipy.special -------------------------------------------------------------------------

I = "int"  # an integer argument (never differentiated)
DOMAINS = {  # function: one (lo, hi) range (or I) per argument
    sp.ive: ((0.2, 3), (0.2, 5)), sp.jve: ((0.2, 3), (0.2, 8)), sp.yve: ((0.2, 3), (0.5, 8)),
    sp.kve: ((0.2, 3), (0.2, 5)), sp.yn: (I, (0.5, 8)), sp.kn: (I, (0.2, 5)),
    sp.jv: ((0.2, 3), (0.2, 8)), sp.yv: ((0.2, 3), (0.5, 8)), sp.iv: ((0.2, 3), (0.1, 5)),
    sp.kv: ((0.2, 3), (0.1, 5)), sp.polygamma: (I, (0.3, 4)),
    sp.gammainc: ((0.5, 5), (0.1, 5)), sp.gammaincc: ((0.5, 5), (0.1, 5)),
    sp.gammaincinv: ((0.5, 5), (0.05, 0.95)), sp.gammainccinv: ((0.5, 5), (0.05, 0.95)),
    sp.chdtr: ((1, 8), (0.2, 6)), sp.chdtrc: ((1, 8), (0.2, 6)),
    sp.chdtri: ((1, 8), (0.05, 0.95)),
    sp.gdtr: ((0.3, 3), (0.5, 4), (0.2, 4)), sp.gdtrc: ((0.3, 3), (0.5, 4), (0.2, 4)),
    sp.pdtr: (I, (0.2, 5)), sp.pdtrc: (I, (0.2, 5)),
    sp.stdtr: ((1.5, 10), (-3, 3)), sp.stdtrit: ((1.5, 10), (0.05, 0.95)),
    sp.betainc: ((0.5, 4), (0.5, 4), (0.05, 0.95)),
    sp.betaincc: ((0.5, 4), (0.5, 4), (0.05, 0.95)),
    sp.betaincinv: ((0.5, 4), (0.5, 4), (0.05, 0.95)),
    sp.betainccinv: ((0.5, 4), (0.5, 4), (0.05, 0.95)),
    sp.fdtr: ((1, 8), (1, 8), (0.1, 4)), sp.fdtrc: ((1, 8), (1, 8), (0.1, 4)),
    sp.fdtri: ((1, 8), (1, 8), (0.05, 0.95)),
    sp.poch: ((0.5, 4), (-0.4, 3)), sp.ndtri_exp: ((-5, -0.1),), sp.cosm1: ((-3, 3),),
    sp.powm1: ((0.2, 3), (-2, 2)), sp.boxcox: ((0.2, 3), (-2, 2)),
    sp.boxcox1p: ((-0.5, 3), (-2, 2)),
    sp.psi: ((0.2, 5),), sp.digamma: ((0.2, 5),), sp.gammaln: ((0.2, 5),),
    sp.betaln: ((0.3, 4), (0.3, 4)), sp.erf: ((-2, 2),), sp.erfc: ((-2, 2),),
    sp.erfinv: ((-0.9, 0.9),), sp.erfcinv: ((0.1, 1.9),), sp.expit: ((-4, 4),),
    sp.logit: ((0.05, 0.95),), sp.xlogy: ((-2, 2), (0.2, 3)), sp.xlog1py: ((-2, 2), (-0.5, 3)),
    spu._beta_pdf: ((0.05, 0.95), (0.5, 4), (0.5, 4)),
    spu._beta_ppf: ((0.05, 0.95), (0.5, 4), (0.5, 4)),
    spu._cauchy_ppf: ((0.05, 0.95), (-2, 2), (0.3, 3)),
    spu._cauchy_isf: ((0.05, 0.95), (-2, 2), (0.3, 3)),
    spu._skewnorm_cdf: ((-3, 3), (-1, 1), (0.3, 3), (-3, 3)),
    spu._skewnorm_ppf: ((0.05, 0.95), (-1, 1), (0.3, 3), (-3, 3)),
    spu._skewnorm_isf: ((0.05, 0.95), (-1, 1), (0.3, 3), (-3, 3)),
}
NO_CLOSED_FORM = {  # function: argnums reported (FA101) when traced
    sp.jv: (0,), sp.yv: (0,), sp.iv: (0,), sp.kv: (0,), sp.ive: (0,), sp.jve: (0,),
    sp.kve: (0,), sp.pdtr: (0,), sp.stdtr: (0,), sp.betainc: (0, 1), sp.fdtr: (0, 1),
    spu._beta_ppf: (1, 2),
}


def _draw(data, fn, n=3):
    args = []
    for dom in DOMAINS[fn]:
        if dom == I:
            args.append(np.array(data.draw(st.lists(st.integers(0, 3), min_size=n,
                                                    max_size=n))))
        else:
            lo, hi = dom
            args.append(np.array(data.draw(st.lists(st.floats(lo, hi), min_size=n,
                                                    max_size=n))))
    return args


@pytest.mark.parametrize("fn", list(DOMAINS), ids=lambda f: f.__name__)
@SETTINGS
@given(data=st.data())
def test_special_rule_vjp_jvp_against_differences(fn, data):
    args = _draw(data, fn)
    with np.errstate(all="ignore"):
        check(fn, *args)


@pytest.mark.parametrize("fn", list(DOMAINS), ids=lambda f: f.__name__)
def test_special_end_to_end_broadcast(fn):
    """Through a program, with a scalar argument broadcast against arrays."""
    # (a seed from the name, not hash(): str hashes change per process, and so did the points)
    rng = np.random.default_rng(zlib.crc32(fn.__name__.encode()))
    base = [np.array([1, 2, 3]) if d == I else rng.uniform(*d, size=3) for d in DOMAINS[fn]]
    for i, d in enumerate(DOMAINS[fn]):
        if d == I or i in framead.rules.lookup(fn).nondiff:
            continue

        def prog(v, i=i):
            a = list(base)
            a[i] = v
            return np.sum(np.cos(fn(*a)))

        assert_grad(prog, base[i].copy(), rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("fn", list(NO_CLOSED_FORM), ids=lambda f: f.__name__)
def test_order_and_shape_arguments_are_reported_not_silent(fn):
    base = [rng_point(d) for d in DOMAINS[fn]]
    for i in NO_CLOSED_FORM[fn]:
        def prog(v, i=i):
            a = list(base)
            a[i] = v
            return fn(*a)

        assert codes(prog, float(base[i])) == ["FA101"]
        with pytest.raises(framead.GradientHazard):
            framead.grad(prog, strict=True)(float(base[i]))


def rng_point(d):
    return 2.0 if d == I else (d[0] + d[1]) / 2


def test_issue_examples_special():
    x = np.array([0.3, 1.2, 2.5])
    assert_grad(lambda x: np.sum(sp.ive(1.5, x)), x)
    assert_grad(lambda x: np.sum(sp.yn(2, x)), x)
    assert_grad(lambda x: np.sum(sp.jv(1.5, x) * sp.iv(0.5, x)), x)
    assert_grad(lambda x: np.sum(sp.psi(x) + sp.polygamma(1, x)), x)
    assert_grad(lambda x: np.sum(sp.gammainc(2.0, x) - sp.gammaincc(1.5, x)), x)
    assert_grad(lambda x: sp.logsumexp(x * np.array([1.0, -2.0, 0.5])), x)
    # the shape of the incomplete gamma function: its series, term by term
    for xv in (0.3, 2.0, 25.0):
        assert_grad(lambda a: np.sum(sp.gammainc(a, xv) + sp.gammaincc(a, 2 * xv)),
                    np.array([0.4, 1.5, 7.0]), rtol=1e-5, atol=1e-9)
        assert_grad(lambda a: np.sum(sp.gammaincinv(a, 0.3)), np.array([0.6, 3.0]))


# --- scipy.stats -----------------------------------------------------------------------------

DISTS = [  # (name, shapes, differentiable shape argnums for pdf/logpdf, for cdf/sf/ppf)
    ("norm", (), (), ()), ("t", (3.0,), (0,), ()), ("chi2", (3.0,), (0,), (0,)),
    ("gamma", (2.0,), (0,), (0,)), ("beta", (2.0, 3.0), (0, 1), ()), ("expon", (), (), ()),
    ("lognorm", (0.7,), (0,), (0,)), ("uniform", (), (), ()), ("cauchy", (), (), ()),
    ("laplace", (), (), ()), ("logistic", (), (), ()), ("weibull_min", (1.5,), (0,), (0,)),
    ("f", (3.0, 5.0), (0, 1), ()), ("invgamma", (2.5,), (0,), (0,)),
    ("pareto", (2.5,), (0,), (0,)), ("gumbel_r", (), (), ()), ("halfnorm", (), (), ()),
    ("rayleigh", (), (), ()), ("skewnorm", (1.5,), (0,), (0,)), ("lomax", (2.0,), (0,), (0,)),
    ("chi", (3.0,), (0,), (0,)), ("maxwell", (), (), ()),
]
METHODS = ["pdf", "logpdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf"]


@pytest.mark.parametrize("name,shapes,pdf_diff,cdf_diff", DISTS, ids=[d[0] for d in DISTS])
@pytest.mark.parametrize("method", METHODS)
def test_distribution_methods(name, shapes, pdf_diff, cdf_diff, method):
    """Gradients in x, loc, scale and the shape parameters with closed forms are right; a
    shape parameter without one is reported, never silently constant."""
    dist = getattr(stats, name)
    x = np.array([0.2, 0.5, 0.7]) if method in ("ppf", "isf") else np.array([0.3, 0.6, 0.8])
    c = np.array([0.7, -1.1, 0.4])
    params = [*shapes, -1.5 if name == "pareto" else 0.1, 1.3]  # x inside the support
    ns = len(shapes)
    diff = pdf_diff if method in ("pdf", "logpdf") else cdf_diff

    def prog(v, i):
        p = list(params)
        xx = v if i < 0 else x
        if i >= 0:
            p[i] = v
        return np.sum(c * getattr(dist, method)(xx, *p[:ns], loc=p[ns], scale=p[ns + 1]))

    checks = [(-1, x)] + [(i, params[i]) for i in range(ns, ns + 2)] + \
        [(i, params[i]) for i in range(ns)]
    for i, v in checks:
        f = lambda v, i=i: prog(v, i)  # noqa: E731
        hz = codes(f, v)
        assert set(hz) <= {"FA101", "FA102"}, hz  # (FA102: uniform's pdf in x, a constant)
        if i >= ns or i in diff or not hz or "FA102" in hz:
            # x, loc, scale and shapes with closed forms are right (a spurious report on a
            # constant shape parameter is tolerated: np.broadcast_arrays marks it traced)
            assert_grad(f, v, rtol=2e-5, atol=1e-6, hazards=True)
        else:  # no closed form: reported
            assert any(h.code == "FA101" for h in trace_hazards(f, v))


def test_issue_examples_stats():
    x = np.array([0.3, 1.2, 2.5])
    assert_grad(lambda x: np.sum(stats.norm.logpdf(x, 0.5, np.array([[1.0], [2.0]]))), x)
    assert_grad(lambda x: np.sum(stats.t.pdf(x, 3.0)), x)
    assert_grad(lambda x: np.sum(stats.chi2.cdf(x, 3.0)), x, hazards=True)
    assert_grad(lambda s: np.sum(stats.norm.logpdf(x, 0.5, s)), np.array([[1.0], [2.0]]))


# --- np.block --------------------------------------------------------------------------------

def test_np_block():
    x = np.array([1.3, 2.2, 0.5])
    assert_grad(lambda x: np.sum(np.block([[x, x], [x, 2 * x]]) ** 2), x)
    assert_grad(lambda x: np.sum(np.block([[np.diag(x), x[:, None]]]) ** 3), x)


# --- scipy.ndimage ---------------------------------------------------------------------------

MODES = ["reflect", "constant", "nearest", "mirror", "wrap", "grid-constant", "grid-mirror",
         "grid-wrap"]


@pytest.mark.parametrize("mode", MODES)
@SETTINGS
@given(origin=st.integers(-1, 1), data=st.data())
def test_ndimage_filters_every_mode(mode, origin, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = rng.normal(size=(data.draw(st.integers(2, 6)), data.draw(st.integers(1, 5))))
    w = rng.normal(size=(3, data.draw(st.integers(3, 4))))
    w1 = rng.normal(size=data.draw(st.integers(3, 5)))
    c = rng.normal(size=x.shape)
    kw = dict(mode=mode, cval=0.7, origin=origin)
    for f, a in [
        (lambda x: np.sum(c * nd.correlate(x, w, **kw)), x),
        (lambda w: np.sum(c * nd.correlate(x, w, **kw)), w),
        (lambda x: np.sum(c * nd.convolve(x, w, **kw)), x),
        (lambda w: np.sum(c * nd.convolve(x, w, **kw)), w),
        (lambda x: np.sum(c * nd.correlate1d(x, w1, 0, **kw)), x),
        (lambda w1: np.sum(c * nd.correlate1d(x, w1, 1, **kw)), w1),
        (lambda x: np.sum(c * nd.convolve1d(x, w1, 0, **kw)), x),
        (lambda w1: np.sum(c * nd.convolve1d(x, w1, -1, **kw)), w1),
        (lambda x: np.sum(c * nd.uniform_filter1d(x, 3, 0, **kw)), x),
        (lambda x: np.sum(c * nd.uniform_filter(x, (3, 2), mode=mode, cval=0.7)), x),
        (lambda x: np.sum(c * nd.gaussian_filter(x, (1.0, 0.7), mode=mode, cval=0.7)), x),
        (lambda x: np.sum(c * nd.gaussian_filter1d(x, 1.3, 1, order=1, mode=mode)), x),
        (lambda cv: np.sum(c * nd.correlate(x, w, None, mode, cv, origin)), 0.7),
        (lambda cv: np.sum(c * nd.gaussian_filter1d(x, 1.0, 0, 0, None, mode, cv)), 0.7),
    ]:
        assert_grad(f, a)


def test_ndimage_forward_mode_and_reported_arguments():
    rng = np.random.default_rng(3)
    x, w, tx, tw = (rng.normal(size=s) for s in ((4, 5), (3, 3), (4, 5), (3, 3)))
    f = lambda x, w: nd.correlate(x, w, mode="mirror", origin=1)  # noqa: E731
    _, t = framead.jvp(f, (x, w), (tx, tw))
    h = 1e-6
    np.testing.assert_allclose(t, (f(x + h * tx, w + h * tw) - f(x - h * tx, w - h * tw)) / (2 * h),
                               rtol=1e-6, atol=1e-8)
    g = lambda x: nd.gaussian_filter(x, 1.2, mode="wrap")  # noqa: E731
    _, t = framead.jvp(g, (x,), (tx,))
    np.testing.assert_allclose(t, g(tx), rtol=1e-10)
    assert codes(lambda s: np.sum(nd.gaussian_filter(x, s)), 1.2) == ["FA101"]


# --- scipy.signal, scipy.fft -----------------------------------------------------------------

@SETTINGS
@given(data=st.data())
def test_signal_convolve_correlate_every_mode_and_method(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    nd_ = data.draw(st.integers(1, 2))
    sa = tuple(data.draw(st.integers(1, 5)) for _ in range(nd_))
    sb = tuple(data.draw(st.integers(1, 5)) for _ in range(nd_))
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    mode = data.draw(st.sampled_from(["full", "same", "valid"]))
    if mode == "valid" and not (all(p >= q for p, q in zip(sa, sb, strict=True))
                                or all(p <= q for p, q in zip(sa, sb, strict=True))):
        mode = "full"
    for fn, kw in [(ss.convolve, {"method": "direct"}), (ss.convolve, {"method": "fft"}),
                   (ss.correlate, {"method": "direct"}), (ss.correlate, {}),
                   (ss.fftconvolve, {}), (ss.oaconvolve, {})]:
        c = rng.normal(size=fn(a, b, mode=mode, **kw).shape)
        assert_grad(lambda a: np.sum(c * fn(a, b, mode=mode, **kw)), a)
        assert_grad(lambda b: np.sum(c * fn(a, b, mode=mode, **kw)), b)


@SETTINGS
@given(data=st.data())
def test_signal_2d_and_lfilter(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    sa = (data.draw(st.integers(2, 5)), data.draw(st.integers(2, 5)))
    sb = (data.draw(st.integers(1, sa[0])), data.draw(st.integers(1, sa[1])))
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    for fn in (ss.convolve2d, ss.correlate2d):
        for mode in ("full", "same", "valid"):
            c = rng.normal(size=fn(a, b, mode).shape)
            assert_grad(lambda a: np.sum(c * fn(a, b, mode)), a)
            assert_grad(lambda b: np.sum(c * fn(a, b, mode=mode)), b)
    x = rng.normal(size=(3, data.draw(st.integers(2, 8))))
    bb = rng.normal(size=data.draw(st.integers(1, 4)))
    aa = np.concatenate([[data.draw(st.floats(0.8, 2.0))],
                         0.3 * rng.normal(size=data.draw(st.integers(0, 3)))])
    axis = data.draw(st.sampled_from([-1, 0]))
    c = rng.normal(size=x.shape)
    for f, v in [(lambda x: np.sum(c * ss.lfilter(bb, aa, x, axis=axis)), x),
                 (lambda b: np.sum(c * ss.lfilter(b, aa, x, axis=axis)), bb),
                 (lambda a: np.sum(c * ss.lfilter(bb, a, x, axis=axis)), aa)]:
        assert_grad(f, v)
    _, t = framead.jvp(lambda b, a, x: ss.lfilter(b, a, x, axis), (bb, aa, x), (bb, aa, x))
    h = 1e-6
    np.testing.assert_allclose(t, (ss.lfilter(bb * (1 + h), aa * (1 + h), x * (1 + h), axis)
                                   - ss.lfilter(bb * (1 - h), aa * (1 - h), x * (1 - h), axis))
                               / (2 * h), rtol=1e-5, atol=1e-7)


def test_signal_unsupported_forms_are_loud():
    x, k = np.ones((3, 4)), np.ones((2, 2))
    assert "FA101" in codes(lambda x: np.sum(ss.convolve2d(x, k, "same", "wrap")), x)
    zi = np.array([0.3])  # (lfilter's zi= is differentiated now: test_rule_gaps_s20_lfilter)
    assert not codes(lambda z: ss.lfilter([1.0, 0.5], [1.0, -0.2], x[0], zi=z)[0][0], zi)


@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "irfft", "fftn", "ifftn", "rfftn",
                                  "irfftn", "fft2", "rfft2", "hfft", "ihfft"])
def test_scipy_fft(name):
    fn = getattr(sfft, name)
    x = np.random.default_rng(4).normal(size=(4, 6))
    c = np.random.default_rng(5).normal(size=np.shape(fn(x)))
    assert_grad(lambda x: np.sum(c * np.real(fn(x, workers=1))) + np.sum(c * np.imag(fn(x))), x)


# --- CubicSpline, PPoly, solve_banded ---------------------------------------------------------

XS = np.array([0.0, 0.7, 1.5, 2.2, 3.1, 4.0, 5.2])
EV = np.array([-0.3, 0.5, 1.7, 2.2, 4.9, 5.5])


@pytest.mark.parametrize("bc", ["not-a-knot", "natural", "clamped", "periodic"])
def test_cubic_spline(bc):
    y = np.sin(XS)
    y[-1] = y[0]
    c = np.linspace(-1, 1, len(EV))
    ext = "periodic" if bc == "periodic" else True

    def spline(xs, y):
        return sip.CubicSpline(xs, y, bc_type=bc, extrapolate=ext)

    if bc != "periodic":
        assert_grad(lambda y: np.sum(c * spline(XS, y)(EV)), y)
    else:  # keep y periodic: differentiate through a shared end value
        assert_grad(lambda y0: np.sum(c * spline(XS, np.append(y0, y0[0]))(EV)), y[:-1])
    assert_grad(lambda e: np.sum(c * spline(XS, y)(e)), EV.copy())
    assert_grad(lambda e: np.sum(c * spline(XS, y)(e, 1)), EV.copy())
    assert_grad(lambda xs: np.sum(c * spline(xs, y)(EV)), XS.copy())


def test_cubic_spline_vector_values_and_ppoly():
    y = np.stack([np.sin(XS), np.cos(XS)], axis=1)
    c = np.random.default_rng(6).normal(size=(len(EV), 2))
    assert_grad(lambda y: np.sum(c * sip.CubicSpline(XS, y)(EV)), y)
    coef = np.random.default_rng(7).normal(size=(4, 3))
    bp = np.array([0.0, 1.0, 2.5, 3.0])
    assert_grad(lambda k: np.sum(sip.PPoly(k, bp)(np.array([0.2, 1.1, 2.9, 3.5])) ** 2), coef)
    nan_out = lambda k: np.nansum(sip.PPoly(k, bp, extrapolate=False)(np.array([0.5, 9.0])))  # noqa: E731
    assert_grad(nan_out, coef)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_bspline_interpolation(k):
    """make_interp_spline / interp1d(kind=...) / BSpline: LAPACK gbsv (overwrite flags on)
    and _dierckx.evaluate_spline; in the values, the evaluation points and forward mode."""
    xs = np.linspace(0.0, 5.0, 9) ** 1.2
    y = np.sin(xs)
    ev = np.array([0.4, 1.7, 2.2, 4.1])
    c = np.array([0.3, -1.0, 0.7, 1.1])
    assert_grad(lambda y: np.sum(c * sip.make_interp_spline(xs, y, k=k)(ev)), y)
    assert_grad(lambda e: np.sum(c * sip.make_interp_spline(xs, y, k=k)(e, 1)), ev.copy())
    kind = {1: "slinear", 2: "quadratic", 3: "cubic", 5: 5}[k]
    assert_grad(lambda y: np.sum(c * sip.interp1d(xs, y, kind=kind)(ev)), y)
    f = lambda y: sip.make_interp_spline(xs, y, k=k)(ev)  # noqa: E731
    _, t = framead.jvp(f, (y,), (np.cos(xs),))
    np.testing.assert_allclose(t, (f(y + 1e-6 * np.cos(xs)) - f(y - 1e-6 * np.cos(xs))) / 2e-6,
                               rtol=1e-6, atol=1e-8)
    # data sites (knots) are not differentiated: reported
    assert "FA101" in codes(lambda xs: np.sum(sip.make_interp_spline(xs, y, k=k)(ev)), xs)


@SETTINGS
@given(lo=st.integers(0, 2), up=st.integers(0, 2), n=st.integers(3, 6), seed=st.integers(0, 99))
def test_solve_banded(lo, up, n, seed):
    rng = np.random.default_rng(seed)
    ab = rng.normal(size=(lo + up + 1, n))
    ab[up] += 6.0  # diagonally dominant
    b = rng.normal(size=(n, 2))
    c = rng.normal(size=(n, 2))
    assert_grad(lambda ab: np.sum(c * sl.solve_banded((lo, up), ab, b)), ab)
    assert_grad(lambda b: np.sum(c * sl.solve_banded((lo, up), ab.copy(), b, overwrite_b=True,
                                                     overwrite_ab=True)), b)
    # overwrite flags: the matrix the reverse pass reads is never clobbered by LAPACK
    assert_grad(lambda b: np.sum(c * sl.solve_banded((lo, up), ab * 1.0, b * 1.0,
                                                     overwrite_b=True, overwrite_ab=True)), b)
    assert_grad(lambda b: np.sum(c[:, 0] * sl.solve_banded((lo, up), ab, b)), b[:, 0].copy())
    _, t = framead.jvp(lambda ab, b: sl.solve_banded((lo, up), ab, b), (ab, b), (ab, b))
    np.testing.assert_allclose(t, np.zeros_like(t), atol=1e-10)  # scaling: x is invariant


# --- scipy.integrate.quad / quad_vec ---------------------------------------------------------

def test_quad_closure_args_and_limits():
    def prog(p):
        a, b, th = p[0], p[1], p[2]
        v, err = si.quad(lambda t, s: np.sin(th * t) * np.exp(-s * t), a, b, args=(th * th,))
        return v

    p = np.array([0.2, 1.7, 0.9])
    assert_grad(prog, p)
    _, t = framead.jvp(prog, (p,), (np.array([0.3, -0.2, 0.5]),))
    assert t == pytest.approx(float(central(prog, p) @ np.array([0.3, -0.2, 0.5])), rel=1e-6)


def test_quad_infinite_limit_full_output_and_arrays():
    w = np.array([1.0, 0.5])

    def prog(w):
        out = si.quad(lambda x: np.exp(-w[0] * x * x) * np.cos(w[1] * x), 0, np.inf,
                      full_output=1)
        return out[0] * 2

    assert_grad(prog, w, rtol=1e-5)

    def weighted(p):
        return si.quad(lambda x: np.exp(-p[0] * x), 0.0, p[1], weight="cos", wvar=2.0)[0]

    assert_grad(weighted, np.array([0.7, 2.5]))


def test_quad_vec_and_nested():
    def vec(th):
        return np.sum(si.quad_vec(lambda x: np.sin(th * x), 0.0, 1.5)[0] * [1.0, -2.0])

    assert_grad(vec, np.array([0.4, 1.3]))

    def double(th):
        return si.dblquad(lambda y, x: np.exp(-th * x * y), 0.0, 1.0, 0.0, 1.0)[0]

    assert_grad(double, 0.8)


def test_quad_without_dependence_is_native():
    assert codes(lambda s: s * si.quad(np.cos, 0.0, 1.0)[0], 2.0) == []
    assert framead.grad(lambda s: s * si.quad(np.cos, 0.0, 1.0)[0])(2.0) == \
        pytest.approx(np.sin(1.0))


# --- decimal, fractions: cuts (FA102) --------------------------------------------------------

@pytest.mark.parametrize("conv", [
    lambda v: decimal.Decimal(v), lambda v: decimal.Decimal.from_float(v),
    lambda v: fractions.Fraction(v), lambda v: fractions.Fraction.from_float(v),
    lambda v: fractions.Fraction(np.float64(v)), lambda v: v.as_integer_ratio(),
    lambda v: np.float32(v).as_integer_ratio()])
def test_exact_number_conversions_are_cuts(conv):
    def prog(x):
        q = conv(x * 2.0)
        return x + 0.0 * len(str(q))

    assert codes(prog, 1.25) == ["FA102"]
    assert framead.grad(prog)(1.25) == 1.0
    with pytest.raises(framead.GradientHazard):
        framead.grad(prog, strict=True)(1.25)


# --- one rules.check case per rule (tests/test_rules_library.py runs them all) ---------------

def library_cases() -> list:
    """``(fn or Rule, args, kwargs)`` for every rule of scipy_special_rules,
    scipy_signal_rules, exact_number_rules and scipy.linalg.solve_banded: VJP and JVP against
    finite differences by ``framead.rules.check``."""
    from framead.rules import scipy_special_rules as S
    from framead.rules.scipy_signal_rules import ppoly_eval

    from framead import rules as R

    rng = np.random.default_rng(11)
    out = []
    for fn, _ in S.TABLE:
        args = [np.array([1, 2, 3]) if d == I else rng.uniform(*d, size=3)
                for d in DOMAINS[fn]]
        out.append((fn, tuple(args), {}))
    x, w, w1 = rng.normal(size=(4, 5)), rng.normal(size=(3, 2)), rng.normal(size=3)
    out += [(nd.correlate, (x, w), {"mode": "mirror", "origin": -1}),
            (nd.convolve, (x, w, None, "constant", 0.3), {}),
            (nd.correlate1d, (x, w1, 0), {"mode": "wrap"}),
            (nd.convolve1d, (x, w1), {"mode": "nearest", "origin": 1}),
            (nd.gaussian_filter, (x, 0.8), {}), (nd.gaussian_filter1d, (x, 1.1, 0), {}),
            (nd.uniform_filter, (x, 3), {"mode": "constant", "cval": 0.5}),
            (nd.uniform_filter1d, (x, 2, 1), {}),
            (ss.convolve, (x, w, "same"), {}), (ss.correlate, (x, w, "valid", "direct"), {}),
            (ss.convolve2d, (x, w, "same"), {}), (ss.correlate2d, (x, w, "same"), {}),
            (ss.lfilter, (w1, np.array([1.4, -0.3]), x), {}),
            (ss.lfilter, (w1, np.array([0.9, 0.2, 0.1]), x, 0), {})]
    out += [(getattr(sfft, n), (x,), {}) for n in ("fft", "ifft", "fftn", "ifftn", "fft2",
                                                   "ifft2", "rfft", "hfft", "ihfft", "rfftn",
                                                   "rfft2", "fftshift", "ifftshift")]
    out += [(getattr(sfft, n), (sfft.rfft(x),), {}) for n in ("irfft", "irfftn", "irfft2")]
    bp = np.array([0.0, 1.0, 2.5, 3.0])
    out.append((ppoly_eval, (rng.normal(size=(4, 3, 2)), bp, np.array([0.3, 1.2, 2.9, 3.4]),
                             0, True), {}))
    from scipy.interpolate import _dierckx

    spl = sip.make_interp_spline(np.linspace(0, 3, 7), np.cos(np.linspace(0, 3, 7)))
    out.append((_dierckx.evaluate_spline, (spl.t, rng.normal(size=(7, 2)), 3,
                                           np.array([0.2, 1.1, 2.9]), 0, True), {}))
    ab = rng.normal(size=(4, 5))
    ab[2] += 5
    out.append((sl.solve_banded, ((1, 2), ab, rng.normal(size=5)), {}))
    out += [(decimal.Decimal, (1.5,), {}), (fractions.Fraction, (1.5,), {}),
            (R.lookup_method(decimal.Decimal, "from_float"), (decimal.Decimal, 1.5), {}),
            (R.lookup_method(float, "as_integer_ratio"), (1.5,), {})]
    # only rules installed in this process (the coverage test asks a case of each of those)
    return [c for c in out if isinstance(c[0], R.Rule) or
            (c[0] is not None and R.resolve(c[0]) is not None)]


def test_linalg_overwrite_flags_keep_what_the_reverse_pass_reads():
    a = np.random.default_rng(8).normal(size=(3, 3)) + 3 * np.eye(3)
    b = np.array([1.0, -2.0, 0.5])
    assert_grad(lambda a: sl.det(a * 1.0, overwrite_a=True), a)
    assert_grad(lambda a: sl.det(a, False, True), a)
    assert_grad(sl.det, a)  # the top-level f
    assert_grad(lambda a: np.sum(sl.inv(a * 1.0, overwrite_a=True)), a)
    assert_grad(lambda a: np.sum(sl.solve(a * 1.0, b * 1.0, overwrite_a=True,
                                          overwrite_b=True)), a)
    assert_grad(lambda a: np.sum(sl.lu_solve(sl.lu_factor(a * 1.0, overwrite_a=True), b)), a)
