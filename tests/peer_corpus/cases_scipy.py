"""SciPy programs: stats distributions, special functions, signal, linalg.

Modelled on HIPS autograd's tests/test_scipy.py (MIT): the same distribution methods and
special functions with the same differentiated arguments and broadcasting shapes, called
through SciPy itself (``scipy.stats.norm.logpdf``, ``scipy.special.gammaln``, ...).
"""

from __future__ import annotations

import numpy as np

from . import Case, combos

SP = "autograd tests/test_scipy.py"


def cases() -> list[Case]:
    try:
        import scipy.linalg as spla
        import scipy.signal as sig
        from scipy import special, stats
    except ImportError:  # pragma: no cover - scipy is an optional extra
        return []
    rs = np.random.RandomState(1)
    R, U = rs.randn, rs.uniform

    def pos(*s):
        return R(*s) ** 2 + 1.1

    o = SP
    out: list[Case] = []
    out += combos("stats/chi2.pdf", stats.chi2.pdf, (0,), [pos(4)], [1, 2, 3], origin=o)
    out += combos("stats/chi2.cdf", stats.chi2.cdf, (0,), [pos(4)], [1, 2, 3], origin=o)
    out += combos("stats/chi2.logpdf", stats.chi2.logpdf, (0,), [pos(4)], [1, 2, 3], origin=o)
    out += combos("stats/beta.cdf", stats.beta.cdf, (0,), [U(0.0, 1.0, 4)], [pos(4)],
                  [pos(4)], origin=o)
    out += combos("stats/beta.pdf", stats.beta.pdf, (0, 1, 2), [U(0.0, 1.0, 4)], [pos(4)],
                  [pos(4)], origin=o)
    out += combos("stats/beta.logpdf", stats.beta.logpdf, (0, 1, 2), [U(0.0, 1.0, 4)],
                  [pos(4)], [pos(4)], origin=o)
    out += combos("stats/gamma.cdf", stats.gamma.cdf, (0,), [pos(4)], [pos(4)], origin=o)
    out += combos("stats/gamma.pdf", stats.gamma.pdf, (0, 1), [pos(4)], [pos(4)], origin=o)
    out += combos("stats/gamma.logpdf", stats.gamma.logpdf, (0, 1), [pos(4)], [pos(4)],
                  origin=o)
    for m in ("pdf", "cdf", "sf", "logpdf", "logcdf", "logsf"):
        f = getattr(stats.norm, m)
        out += combos(f"stats/norm.{m}", f, (0, 1, 2), [R(4)], [R(4)], [pos(4)], origin=o)
        out += combos(f"stats/norm.{m}_broadcast", f, (0, 1, 2), [R(4, 3)], [R(1, 3)],
                      [pos(4, 1)], origin=o)
    for m in ("ppf", "isf"):
        f = getattr(stats.norm, m)
        out += combos(f"stats/norm.{m}", f, (0, 1, 2), [U(0.05, 0.95, 4)], [R(4)], [pos(4)],
                      origin=o)
        out += combos(f"stats/norm.{m}_broadcast", f, (0, 1, 2), [U(0.05, 0.95, (4, 3))],
                      [R(1, 3)], [pos(4, 1)], origin=o)
    for m in ("cdf", "logpmf", "pmf"):
        f = getattr(stats.poisson, m)
        out += combos(f"stats/poisson.{m}", f, (1,), [np.round(R(4) ** 2)], [pos(4)],
                      origin=o)
        out += combos(f"stats/poisson.{m}_broadcast", f, (1,), [np.round(R(4, 3) ** 2)],
                      [pos(4, 1)], origin=o)

    def t_pos(*s):
        return R(*s) ** 2 + 2.1

    out += combos("stats/t.pdf", stats.t.pdf, (0, 1, 2, 3), [R(4)], [t_pos(4)], [R(4)],
                  [t_pos(4)], origin=o)
    out += combos("stats/t.cdf", stats.t.cdf, (0, 2), [R(4)], [t_pos(4)], [R(4)], [t_pos(4)],
                  origin=o)
    out += combos("stats/t.logpdf", stats.t.logpdf, (0, 1, 2, 3), [R(4)], [t_pos(4)], [R(4)],
                  [t_pos(4)], origin=o)
    out += combos("stats/t.logcdf", stats.t.logcdf, (0, 2), [R(4)], [t_pos(4)], [R(4)],
                  [t_pos(4)], origin=o)
    out += combos("stats/t.pdf_broadcast", stats.t.pdf, (0, 1, 2, 3), [R(4, 3)],
                  [t_pos(1, 3)], [R(4, 3)], [t_pos(4, 1)], origin=o)
    out += combos("stats/t.logpdf_broadcast", stats.t.logpdf, (0, 1, 2, 3), [R(4, 3)],
                  [t_pos(1, 3)], [R(4, 3)], [t_pos(4, 1)], origin=o)

    def sym_arg(fun, argnum):
        def symmetrized(*args, **kwargs):
            args = list(args)
            X = args[argnum]
            args[argnum] = 0.5 * (X + np.swapaxes(X, -1, -2))
            return fun(*args, **kwargs)
        return symmetrized

    def make_psd(mat):
        return np.dot(mat.T, mat) + np.eye(mat.shape[0])

    mvn = stats.multivariate_normal
    out += combos("stats/mvn.pdf", sym_arg(mvn.pdf, 2), (0, 1, 2), [R(4)], [R(4)],
                  [make_psd(R(4, 4))], origin=o, allow_singular=[False])
    out += combos("stats/mvn.logpdf", sym_arg(mvn.logpdf, 2), (0, 1, 2), [R(4)], [R(4)],
                  [make_psd(R(4, 4))], origin=o, allow_singular=[False])
    out += combos("stats/mvn.entropy", sym_arg(mvn.entropy, 1), (0, 1), [10 * R(4)],
                  [make_psd(R(4, 4))], origin=o)
    out += combos("stats/mvn.logpdf_broadcast", sym_arg(mvn.logpdf, 2), (0, 1, 2), [R(5, 4)],
                  [R(4)], [make_psd(R(4, 4))], origin=o)
    alpha = rs.random_sample(4) ** 2 + 1.2
    xd = stats.dirichlet.rvs(alpha, size=1, random_state=rs)[0, :]

    def normalized_dirichlet_logpdf(x, alpha):
        return stats.dirichlet.logpdf(x / sum(x), alpha)

    out += combos("stats/dirichlet.logpdf_x", normalized_dirichlet_logpdf, (0,), [xd], [alpha],
                  origin=o)
    out += combos("stats/dirichlet.logpdf_alpha", stats.dirichlet.logpdf, (1,), [xd], [alpha],
                  origin=o)
    out += combos("stats/dirichlet.pdf_alpha", stats.dirichlet.pdf, (1,), [xd], [alpha],
                  origin=o)

    lse = special.logsumexp
    out += combos("special/logsumexp", lse, (0,), [np.array([1.1]), R(4), R(3, 4)], origin=o,
                  axis=[None, 0], keepdims=[True, False])
    out += combos("special/logsumexp", lse, (0,), [R(3, 4), R(4, 5, 6), R(1, 5)], origin=o,
                  axis=[None, 0, 1], keepdims=[True, False])
    out += combos("special/logsumexp_b", lse, (0,), [R(4)], origin=o, b=[np.exp(R(4))],
                  axis=[None, 0], keepdims=[True, False])
    out += combos("special/logsumexp_b", lse, (0,), [R(3, 4)], origin=o, b=[np.exp(R(3, 4))],
                  axis=[None, 0, 1], keepdims=[True, False])

    for m in ("full", "valid", "same"):
        out += combos("signal/convolve", sig.convolve, (0, 1), [R(4), R(6)], [R(2), R(3)],
                      origin=o, mode=[m])
        out += combos("signal/convolve_2d", sig.convolve, (0, 1), [R(4, 3), R(6, 7)],
                      [R(2, 2), R(4, 1)], origin=o, mode=[m])

    out += combos("special/beta", special.beta, (0, 1), [pos(4)], [pos(4)], origin=o)
    out += combos("special/betainc", special.betainc, (2,), [pos(4)], [pos(4)],
                  [U(0.0, 1.0, 4)], origin=o)
    out += combos("special/betaln", special.betaln, (0, 1), [pos(4)], [pos(4)], origin=o)
    for name in ("gammainc", "gammaincc"):
        out += combos(f"special/{name}", getattr(special, name), (1,), [1],
                      [R(4) ** 2 + 1.3], origin=o)
    out += combos("special/polygamma", special.polygamma, (1,), [0], [R(4) ** 2 + 1.3],
                  origin=o)
    out += combos("special/jn", special.jn, (1,), [2], [R(4) ** 2 + 1.3], origin=o)
    out += combos("special/yn", special.yn, (1,), [2], [R(4) ** 2 + 1.3], origin=o)
    out += combos("special/iv", special.iv, (1,), [U(1.0, 50.0, 4)], [R(4) ** 2 + 1.3],
                  origin=o)
    out += combos("special/ive", special.ive, (1,), [U(1.0, 50.0, 4)], [R(4) ** 2 + 1.3],
                  origin=o)
    out += combos("special/multigammaln", special.multigammaln, (0,),
                  [float(U(4.0, 5.0)), U(4.0, 5.0, (2, 3))], [1, 2, 3], origin=o)
    unary = [("psi", (0.3, 2.0)), ("digamma", (0.3, 2.0)), ("gamma", (0.3, 2.0)),
             ("gammaln", (0.3, 2.0)), ("gammasgn", (0.3, 2.0)), ("rgamma", (0.3, 2.0)),
             ("j0", (0.2, 20.0)), ("j1", (0.2, 20.0)), ("y0", (0.2, 20.0)),
             ("y1", (0.2, 20.0)), ("i0", (0.2, 20.0)), ("i1", (0.2, 20.0)),
             ("erf", (-3.0, 3.0)), ("erfc", (-3.0, 3.0)), ("erfinv", (-0.95, 0.95)),
             ("erfcinv", (0.05, 1.95)), ("logit", (0.1, 0.9)), ("expit", (-4.05, 4.95)),
             ("log_ndtr", (-3.0, 3.0)), ("ndtr", (-3.0, 3.0)), ("ndtri", (0.05, 0.95)),
             ("xlogy", None), ("entr", (0.1, 2.0)), ("sinc", None)]
    for name, lims in unary:
        f = getattr(special, name, None)
        if f is None or lims is None:
            continue
        lo, hi = lims
        args = [0.4 * (hi - lo) + lo, rs.rand(2) * (hi - lo) + lo,
                rs.rand(3, 2) * (hi - lo) + lo, rs.rand(1, 2) * (hi - lo) + lo]
        out += combos(f"special/{name}", f, (0,), args, origin=o)
    for name in ("erf", "erfc"):
        out += combos(f"special/{name}", getattr(special, name), (0,),
                      [complex(0.4, 0.1), rs.rand(3, 2) + 0.1j * rs.rand(3, 2)], origin=o)

    def sym(fun):
        return lambda A, *r: fun(0.5 * (A + A.T), *r)

    out += [
        Case("splinalg/sqrtm_sym", sym(spla.sqrtm), (make_psd(R(3, 3)),), (0,), o),
        Case("splinalg/solve_sylvester", spla.solve_sylvester, (R(3, 3), R(3, 3), R(3, 3)),
             (0, 1, 2), o),
        Case("splinalg/solve_triangular", spla.solve_triangular,
             (np.tril(R(4, 4)) + 4 * np.eye(4), R(4)), (0, 1), o),
        Case("splinalg/solve_triangular_upper", lambda a, b: spla.solve_triangular(
            a, b, lower=False), (np.triu(R(4, 4)) + 4 * np.eye(4), R(4, 2)), (0, 1), o),
        Case("splinalg/cho_solve", lambda A, b: spla.cho_solve(spla.cho_factor(A), b),
             (make_psd(R(4, 4)), R(4)), (1,), o),
        Case("splinalg/expm", spla.expm, (R(3, 3) * 0.5,), (0,), o),
        Case("splinalg/inv", spla.inv, (R(3, 3) + 3 * np.eye(3),), (0,), o),
        Case("splinalg/det", spla.det, (R(3, 3),), (0,), o),
        Case("splinalg/solve", spla.solve, (R(3, 3) + 3 * np.eye(3), R(3)), (0, 1), o),
        Case("splinalg/cholesky", sym(spla.cholesky), (make_psd(R(4, 4)),), (0,), o),
        Case("splinalg/solve_banded", spla.solve_banded,
             ((1, 1), np.array([[0.0, 1.0, 2.0, 0.5], [4.0, 5.0, 6.0, 7.0],
                                [0.3, 0.2, 0.1, 0.0]]), R(4)), (1, 2), o),
    ]
    return out
