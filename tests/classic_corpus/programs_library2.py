# ruff: noqa: B905 - legacy code: zip() without strict=, as it was written
"""Library calls common in legacy scientific code: statistics' means and correlation,
scipy.special.logsumexp/softmax, scipy.stats.entropy, scipy.spatial.distance, scipy.linalg
expm / lu / cho, scipy.integrate simpson / cumulative_trapezoid, scipy.interpolate interp1d /
UnivariateSpline, scipy.optimize bisect / minimize_scalar, numpy.polynomial.hermite."""

from registry import case, matrix, on_list, scalar, vector


@case(vector(5, 0.5, 3.0), on_list)
def statistics_geometric_harmonic(xs):
    """statistics.geometric_mean plus statistics.harmonic_mean."""
    import statistics

    return statistics.geometric_mean(xs) + statistics.harmonic_mean(xs)


@case(vector(6, -1.0, 1.0), on_list)
def statistics_correlation_regression(ys):
    """statistics.correlation and statistics.linear_regression against 0..5."""
    import statistics

    xs = [float(i) for i in range(len(ys))]
    slope, intercept = statistics.linear_regression(xs, ys)
    return statistics.correlation(xs, ys) + slope + 0.5 * intercept


@case(vector(5, -2.0, 2.0))
def scipy_logsumexp_softmax(z):
    """scipy.special.logsumexp and softmax."""
    from scipy.special import logsumexp, softmax

    return float(logsumexp(z) + softmax(z)[2])


@case(vector(4, 0.2, 1.0))
def scipy_entropy(p):
    """scipy.stats.entropy of an unnormalised distribution, against a fixed one."""
    from scipy.stats import entropy

    return float(entropy(p) + entropy(p, [0.1, 0.2, 0.3, 0.4]))


@case(vector(6, -1.0, 1.0))
def scipy_cdist(v):
    """scipy.spatial.distance.cdist between two point sets, and euclidean()."""
    import numpy as np
    from scipy.spatial.distance import cdist, euclidean

    A = v.reshape(2, 3)
    B = np.array([[0.1, 0.2, 0.3], [1.0, -1.0, 0.5], [0.0, 0.0, 2.0]])
    return float(cdist(A, B).sum() + euclidean(A[0], A[1]))


@case(matrix(2, diag=0.0, lo=-0.8, hi=0.8))
def scipy_expm(v):
    """scipy.linalg.expm of a 2 x 2 matrix; its trace."""
    import numpy as np
    from scipy.linalg import expm

    return float(np.trace(expm(v.reshape(2, 2))))


@case(matrix(3, extra=3, diag=4.0))
def scipy_lu_and_cho(v):
    """scipy.linalg.lu_factor/lu_solve and cho_factor/cho_solve."""
    import numpy as np
    from scipy.linalg import cho_factor, cho_solve, lu_factor, lu_solve

    A, b = v[:9].reshape(3, 3), v[9:]
    x1 = lu_solve(lu_factor(A), b)
    S = A @ A.T + np.eye(3)
    x2 = cho_solve(cho_factor(S), b)
    return float(x1.sum() + x2.sum())


@case(vector(9, -1.0, 1.0))
def scipy_simpson_cumtrapz(y):
    """scipy.integrate.simpson and cumulative_trapezoid of samples."""
    from scipy.integrate import cumulative_trapezoid, simpson

    return float(simpson(y, dx=0.1) + cumulative_trapezoid(y, dx=0.1)[-3])


@case(vector(6, -1.0, 1.0))
def scipy_interp1d_cubic(y):
    """scipy.interpolate.interp1d (kind='cubic'), the legacy interpolation class."""
    import numpy as np
    from scipy.interpolate import interp1d

    f = interp1d(np.arange(6.0), y, kind="cubic")
    return float(f(2.3) + f(4.1))


@case(vector(8, -1.0, 1.0))
def scipy_univariate_spline(y):
    """scipy.interpolate.UnivariateSpline (FITPACK, s=0) through the samples."""
    import numpy as np
    from scipy.interpolate import UnivariateSpline

    return float(UnivariateSpline(np.arange(8.0), y, s=0)(3.3))


@case(scalar(1.0, 8.0))
def scipy_bisect_inside(c):
    """scipy.optimize.bisect (C) for x^3 + x - c."""
    from scipy.optimize import bisect

    return bisect(lambda x: x ** 3 + x - c, 0.0, 3.0, xtol=1e-14)


@case(vector(4, -1.0, 1.0))
def numpy_hermite_series(c):
    """numpy.polynomial.hermite.hermval and hermder of a Hermite series."""
    from numpy.polynomial import hermite

    return float(hermite.hermval(0.4, c) + hermite.hermval(-0.3, hermite.hermder(c)))
