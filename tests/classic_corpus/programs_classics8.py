# ruff: noqa: B905, UP031, UP032, UP033, E731 - legacy code: zip() without strict=, lru_cache
"""An eighth set of legacy programs, written adversarially for corners programs_classics1..7
reach least: iterative solvers and their exits (Newton started at or next to its answer,
relative / absolute residual and step-size tolerances, max-iteration exits, contractions with
Aitken and Steffensen acceleration, secant / Illinois / Ridders / Dekker-Brent / Halley /
Muller / Laguerre / Durand-Kerner by hand, bisection then a Newton polish, golden section then
a parabolic step, Nelder-Mead ordering its simplex by traced values, damped Newton with an
Armijo backtracking search, a dogleg trust region, Gauss-Newton and Levenberg-Marquardt by
hand, power / inverse iteration with Rayleigh quotients, Jacobi / Gauss-Seidel / SOR sweeps
with early exits, conjugate gradients with restarts, Broyden, RK23 with step rejection, event
location, Romberg and Richardson with convergence exits); branches on traced values (splines
over traced knots through bisect / searchsorted, np.interp with a traced xp, saturation,
argmax-selected terms, medians and quantiles of duplicated data, trimmed means, ranks,
histograms and digitize with traced edges, Huber and soft-threshold losses, ties in
np.maximum(A, A.T) and in maxima of duplicated data); the classic NaN traps of masked
branches (np.where over sqrt / log / division / sin(x)/x whose unused side is not finite,
pairwise-distance matrices with their zero diagonal, 0 ** p with a traced p, entropy with
zero bins); and mixed Python / NumPy state (lists of np.float64, dicts of arrays mutated in
loops, dataclasses, coroutines, memoized recursion, exceptions as control flow, math versus
numpy on the same values, complex-step derivatives inside the program, fractions). Iteration
counts, sort orders, bin counts and indices vary between points, for the cached replays."""

import bisect
import cmath
import dataclasses
import fractions
import functools
import heapq
import math

import numpy as np
from registry import case, matrix, on_list, scalar, vector

# ================================================================ roots by hand


@case(scalar(0.3, 4.0))
def newton_sqrt_relative_tol(a):
    """Newton for sqrt(a) started at a, stopping on a relative step test."""
    x = a
    for _ in range(60):
        dx = 0.5 * (x - a / x)
        x -= dx
        if abs(dx) <= 1e-12 * abs(x):
            break
    return x * (1.0 + a)


@case(scalar(0.5, 3.0))
def newton_started_at_root(a):
    """Newton for x**3 = a started at the library cube root: the residual test usually
    exits before any step (the answer is the start)."""
    x = a ** (1.0 / 3.0)
    it = 0
    while abs(x ** 3 - a) > 1e-14 * a and it < 20:
        x -= (x ** 3 - a) / (3 * x * x)
        it += 1
    return x + x * x


@case(vector(4, 0.5, 2.0))
def newton_warm_start_chain(x):
    """Roots of t**3 + p t - 1 for each p in turn, each solve warm-started from the last
    root (the start depends on earlier parameters)."""
    t = 1.0
    out = 0.0
    for p in x:
        for _ in range(50):
            f = t ** 3 + p * t - 1.0
            step = f / (3 * t * t + p)
            t -= step
            if abs(step) < 1e-13:
                break
        out += t * (1 + p)
    return out


@case(scalar(0.2, 0.9))
def fixed_point_cosine_contraction(a):
    """x = cos(a x) iterated to an absolute step tolerance."""
    x = 0.0
    for _ in range(500):
        xn = math.cos(a * x)
        if abs(xn - x) < 1e-14:
            x = xn
            break
        x = xn
    return x


@case(scalar(0.2, 0.9))
def aitken_accelerated_fixed_point(a):
    """Aitken's delta-squared over a contraction x = exp(-a x), with a zero-denominator
    guard that returns the last iterate."""
    x = 0.5
    for _ in range(50):
        x1 = math.exp(-a * x)
        x2 = math.exp(-a * x1)
        den = x2 - 2 * x1 + x
        if den == 0.0:
            x = x2
            break
        xn = x - (x1 - x) ** 2 / den
        if abs(xn - x) < 1e-13:
            x = xn
            break
        x = xn
    return x


@case(scalar(1.5, 4.0))
def steffensen_root(a):
    """Steffensen's method for x - a cos(x)/4 - 1 = 0 (no derivative)."""
    f = lambda x: x - a * math.cos(x) / 4 - 1.0
    x = 1.0
    for _ in range(40):
        fx = f(x)
        if fx == 0.0:
            break
        g = (f(x + fx) - fx) / fx
        if g == 0.0:
            break
        xn = x - fx / g
        if abs(xn - x) < 1e-14 * max(1.0, abs(x)):
            x = xn
            break
        x = xn
    return x


@case(scalar(1.2, 3.0))
def secant_relative_residual(a):
    """The secant method for x**2 - a on a relative residual test."""
    x0, x1 = 1.0, 2.0
    f0, f1 = x0 * x0 - a, x1 * x1 - a
    for _ in range(60):
        if f1 == f0:
            break
        x2 = x1 - f1 * (x1 - x0) / (f1 - f0)
        x0, f0 = x1, f1
        x1, f1 = x2, x2 * x2 - a
        if abs(f1) <= 1e-13 * a:
            break
    return x1


@case(scalar(0.5, 2.0))
def illinois_regula_falsi(a):
    """Regula falsi with the Illinois halving of the stale end, on exp(x) - a - x."""
    f = lambda x: math.exp(x) - a - x
    lo, hi = 0.0, 3.0
    flo, fhi = f(lo), f(hi)
    side = 0
    c = lo
    for _ in range(100):
        c = (lo * fhi - hi * flo) / (fhi - flo)
        fc = f(c)
        if abs(fc) < 1e-14:
            break
        if fc * fhi > 0:
            hi, fhi = c, fc
            if side == -1:
                flo /= 2
            side = -1
        else:
            lo, flo = c, fc
            if side == 1:
                fhi /= 2
            side = 1
    return c


@case(scalar(0.5, 3.0))
def ridders_cubic_bracket(a):
    """Ridders' method for x**3 + x - a on [0, 2]."""
    f = lambda x: x ** 3 + x - a
    lo, hi = 0.0, 2.0
    flo, fhi = f(lo), f(hi)
    x = lo
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        fm = f(mid)
        s = math.sqrt(fm * fm - flo * fhi)
        if s == 0.0:
            break
        xn = mid + (mid - lo) * (1.0 if flo > fhi else -1.0) * fm / s
        if abs(xn - x) < 1e-14:
            x = xn
            break
        x = xn
        fx = f(x)
        if fx == 0.0:
            break
        if math.copysign(fm, fx) != fm:
            lo, flo, hi, fhi = mid, fm, x, fx
        elif math.copysign(flo, fx) != flo:
            hi, fhi = x, fx
        else:
            lo, flo = x, fx
    return x


@case(scalar(0.3, 2.5))
def dekker_brent_by_hand(a):
    """Brent's method (inverse quadratic / secant / bisection) for tanh(x) + x/3 - a/2."""
    f = lambda x: math.tanh(x) + x / 3 - a / 2
    aa, b = -1.0, 4.0
    fa, fb = f(aa), f(b)
    c, fc = aa, fa
    d = e = b - aa
    for _ in range(100):
        if fb * fc > 0:
            c, fc = aa, fa
            d = e = b - aa
        if abs(fc) < abs(fb):
            aa, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol = 2e-16 * abs(b) + 1e-14
        m = 0.5 * (c - b)
        if abs(m) <= tol or fb == 0.0:
            break
        if abs(e) >= tol and abs(fa) > abs(fb):
            s = fb / fa
            if aa == c:
                p, q = 2 * m * s, 1 - s
            else:
                q, r = fa / fc, fb / fc
                p = s * (2 * m * q * (q - r) - (b - aa) * (r - 1))
                q = (q - 1) * (r - 1) * (s - 1)
            if p > 0:
                q = -q
            else:
                p = -p
            if 2 * p < min(3 * m * q - abs(tol * q), abs(e * q)):
                e, d = d, p / q
            else:
                d = e = m
        else:
            d = e = m
        aa, fa = b, fb
        b += d if abs(d) > tol else math.copysign(tol, m)
        fb = f(b)
    return b * b


@case(scalar(0.5, 5.0))
def halley_cube_root_step_test(a):
    """Halley's method for x**3 - a from x = 1, stopping on a step test."""
    x = 1.0
    for _ in range(40):
        f, d1, d2 = x ** 3 - a, 3 * x * x, 6 * x
        dx = 2 * f * d1 / (2 * d1 * d1 - f * d2)
        x -= dx
        if abs(dx) < 1e-15 * x:
            break
    return x


@case(scalar(0.5, 4.0))
def bisection_then_newton_polish(a):
    """Thirty bisection steps for x e**x = a, then three Newton steps (the derivative comes
    from the polish: the bracket depends on a only through comparisons)."""
    lo, hi = 0.0, 2.0
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        if mid * math.exp(mid) < a:
            lo = mid
        else:
            hi = mid
    x = 0.5 * (lo + hi)
    for _ in range(3):
        x -= (x * math.exp(x) - a) / ((1 + x) * math.exp(x))
    return x


@case(scalar(0.5, 2.5))
def golden_section_then_parabola(a):
    """Golden-section search for the minimum of (x - a)**2 + cos(3 x) / 5, then one parabolic
    interpolation step through the last three points (the value, not the location)."""
    g = lambda x: (x - a) ** 2 + math.cos(3 * x) / 5
    lo, hi = -1.0, 4.0
    r = (math.sqrt(5) - 1) / 2
    c, d = hi - r * (hi - lo), lo + r * (hi - lo)
    for _ in range(60):
        if g(c) < g(d):
            hi, d = d, c
            c = hi - r * (hi - lo)
        else:
            lo, c = c, d
            d = lo + r * (hi - lo)
    x = 0.5 * (lo + hi)
    return g(x)


@case(scalar(0.5, 3.0))
def newton_max_iter_exit(a):
    """A Newton iteration with an impossible tolerance: it always leaves by its iteration
    cap (a slowly converging double root of (x - a)**2 (x + 1))."""
    x = a + 1.0
    for _ in range(25):
        f = (x - a) ** 2 * (x + 1)
        df = 2 * (x - a) * (x + 1) + (x - a) ** 2
        if abs(f) < 1e-300:
            break
        x -= f / df
    return x


@case(vector(2, 0.5, 1.5))
def muller_cubic_real_part(x):
    """Muller's method (cmath.sqrt, complex iterates) for a z**3 + z + b; the real part of
    the root it finds."""
    a, b = x
    f = lambda z: a * z ** 3 + z + b
    z0, z1, z2 = -1.0 + 0j, 0.0 + 0j, 1.0 + 0j
    for _ in range(60):
        h1, h2 = z1 - z0, z2 - z1
        d1, d2 = (f(z1) - f(z0)) / h1, (f(z2) - f(z1)) / h2
        aa = (d2 - d1) / (h2 + h1)
        bb = aa * h2 + d2
        disc = cmath.sqrt(bb * bb - 4 * f(z2) * aa)
        den = bb + disc if abs(bb + disc) > abs(bb - disc) else bb - disc
        dz = -2 * f(z2) / den
        z0, z1, z2 = z1, z2, z2 + dz
        if abs(dz) < 1e-14:
            break
    return z2.real + 0.1 * abs(z2.imag)


@case(vector(3, -1.0, 1.0))
def durand_kerner_roots(x):
    """Durand-Kerner for all roots of z**3 + x0 z**2 + x1 z + x2 - 3 (complex lists); the
    sum of squared moduli of the roots."""
    c = [1.0, x[0], x[1], x[2] - 3.0]
    p = lambda z: ((c[0] * z + c[1]) * z + c[2]) * z + c[3]
    zs = [(0.4 + 0.9j) ** k for k in range(3)]
    for _ in range(200):
        new = []
        for i, zi in enumerate(zs):
            den = 1.0
            for j, zj in enumerate(zs):
                if i != j:
                    den *= zi - zj
            new.append(zi - p(zi) / den)
        delta = max(abs(u - v) for u, v in zip(new, zs))
        zs = new
        if delta < 1e-14:
            break
    return sum(abs(z) ** 2 for z in zs)


@case(vector(2, 0.5, 1.5))
def newton_system_two_lists(x):
    """Newton for a 2x2 nonlinear system with a hand 2x2 solve (lists), a norm exit."""
    a, b = x
    u, v = [1.0, 1.0]
    for _ in range(50):
        f1, f2 = u * u + v * v - a - 1.0, math.exp(u - 1) + v ** 3 - b - 1.0
        j11, j12, j21, j22 = 2 * u, 2 * v, math.exp(u - 1), 3 * v * v
        det = j11 * j22 - j12 * j21
        du = (f1 * j22 - f2 * j12) / det
        dv = (j11 * f2 - j21 * f1) / det
        u, v = u - du, v - dv
        if math.hypot(du, dv) < 1e-13:
            break
    return u + 2 * v


@case(vector(2, 0.5, 1.5))
def broyden_good_update(x):
    """Broyden's method (rank-one updates of the inverse Jacobian, NumPy) for a 2x2 system."""
    a, b = x
    F = lambda z: np.array([z[0] + 0.5 * np.sin(z[1]) - a, z[1] + 0.3 * z[0] ** 2 - b])
    z = np.array([0.0, 0.0])
    H = np.eye(2)
    f = F(z)
    for _ in range(100):
        s = -H @ f
        z = z + s
        fn = F(z)
        if np.linalg.norm(fn) < 1e-13:
            break
        y = fn - f
        Hy = H @ y
        H = H + np.outer(s - Hy, s @ H) / (s @ Hy)
        f = fn
    return float(z @ [1.0, 2.0])


@case(vector(3, -1.0, 1.0))
def laguerre_polynomial_root(x):
    """Laguerre's method (complex) for a root of z**3 + x0 z**2 + x1 z + x2 + 2."""
    c = [1.0, x[0], x[1], x[2] + 2.0]
    n = 3
    z = 0.0 + 0.0j
    for _ in range(80):
        p, dp, d2p = c[0], 0.0, 0.0
        for ci in c[1:]:
            d2p = d2p * z + 2 * dp
            dp = dp * z + p
            p = p * z + ci
        if abs(p) < 1e-15:
            break
        g = dp / p
        h = g * g - d2p / p
        sq = cmath.sqrt((n - 1) * (n * h - g * g))
        den = g + sq if abs(g + sq) > abs(g - sq) else g - sq
        dz = n / den
        z -= dz
        if abs(dz) < 1e-15:
            break
    return z.real + abs(z)


# ================================================================ optimisation by hand


def _rosen_like(p, z):
    return (p[0] - z[0]) ** 2 + p[1] * (z[1] - z[0] ** 2) ** 2 + 0.1 * z[0] * z[1]


@case(vector(2, 0.5, 1.5))
def nelder_mead_by_hand(x):
    """Nelder-Mead on a smooth function of the parameters: the simplex is ordered by traced
    values every iteration; the minimum value (an envelope) is returned."""
    f = lambda z: (z[0] - x[0]) ** 2 + 2 * (z[1] - x[1]) ** 2 + 0.3 * z[0] * z[1] \
        + (x[0] * x[1]) ** 2
    simplex = [np.array([0.0, 0.0]), np.array([1.0, 0.0]), np.array([0.0, 1.0])]
    for _ in range(60):
        simplex.sort(key=f)
        best, good, worst = simplex
        c = (best + good) / 2
        r = c + (c - worst)
        if f(r) < f(best):
            e = c + 2 * (c - worst)
            simplex[2] = e if f(e) < f(r) else r
        elif f(r) < f(good):
            simplex[2] = r
        else:
            k = c + 0.5 * (worst - c)
            if f(k) < f(worst):
                simplex[2] = k
            else:
                simplex = [best, best + 0.5 * (good - best), best + 0.5 * (worst - best)]
    return float(min(f(v) for v in simplex))


@case(vector(2, 0.5, 1.5))
def damped_newton_armijo(x):
    """Damped Newton with Armijo backtracking on a convex function of z with parameters x;
    returns the minimiser's weighted sum (the derivative flows through the Newton steps)."""
    def fgh(z):
        e = math.exp(z[0] + z[1] - 1)
        f = e + (z[0] - x[0]) ** 2 + x[1] * z[1] ** 2
        g = np.array([e + 2 * (z[0] - x[0]), e + 2 * x[1] * z[1]])
        H = np.array([[e + 2, e], [e, e + 2 * x[1]]])
        return f, g, H
    z = np.array([2.0, -2.0])
    for _ in range(50):
        f, g, H = fgh(z)
        if np.linalg.norm(g) < 1e-12:
            break
        p = -np.linalg.solve(H, g)
        t = 1.0
        while fgh(z + t * p)[0] > f + 1e-4 * t * (g @ p):
            t *= 0.5
        z = z + t * p
    return float(z[0] + 3 * z[1])


@case(vector(2, 0.5, 1.5))
def trust_region_dogleg(x):
    """A dogleg trust region (radius grown and shrunk by the traced ratio of actual to
    predicted decrease) on a quartic; returns the minimiser."""
    def fg(z):
        f = (z[0] - x[0]) ** 4 + (z[0] - 2 * z[1]) ** 2 + x[1] * z[1] ** 2
        g = np.array([4 * (z[0] - x[0]) ** 3 + 2 * (z[0] - 2 * z[1]),
                      -4 * (z[0] - 2 * z[1]) + 2 * x[1] * z[1]])
        H = np.array([[12 * (z[0] - x[0]) ** 2 + 2, -4.0], [-4.0, 8 + 2 * x[1]]])
        return f, g, H
    z, radius = np.array([0.0, 0.0]), 1.0
    for _ in range(100):
        f, g, H = fg(z)
        if np.linalg.norm(g) < 1e-12:
            break
        pb = -np.linalg.solve(H, g)
        if np.linalg.norm(pb) <= radius:
            p = pb
        else:
            pu = -(g @ g) / (g @ H @ g) * g
            if np.linalg.norm(pu) >= radius:
                p = radius * pu / np.linalg.norm(pu)
            else:
                d = pb - pu
                aa, bb, cc = d @ d, 2 * pu @ d, pu @ pu - radius ** 2
                tau = (-bb + math.sqrt(bb * bb - 4 * aa * cc)) / (2 * aa)
                p = pu + tau * d
        pred = -(g @ p + 0.5 * p @ H @ p)
        rho = (f - fg(z + p)[0]) / pred if pred > 0 else 0.0
        if rho < 0.25:
            radius *= 0.25
        elif rho > 0.75 and abs(np.linalg.norm(p) - radius) < 1e-12:
            radius = min(2 * radius, 10.0)
        if rho > 0.1:
            z = z + p
    return float(z[0] * 2 + z[1])


_T_FIT = np.linspace(0.0, 2.0, 9)


@case(vector(2, 0.5, 1.5))
def gauss_newton_exponential_fit(x):
    """Gauss-Newton for y = A exp(-k t) against data generated from the parameters (plus a
    fixed wiggle), normal equations by np.linalg.solve, a step-norm exit."""
    y = x[0] * np.exp(-x[1] * _T_FIT) + 0.01 * np.sin(7 * _T_FIT)
    p = np.array([1.0, 1.0])
    for _ in range(50):
        e = np.exp(-p[1] * _T_FIT)
        r = p[0] * e - y
        J = np.column_stack([e, -p[0] * _T_FIT * e])
        dp = np.linalg.solve(J.T @ J, J.T @ r)
        p = p - dp
        if np.abs(dp).max() < 1e-13:
            break
    return float(p[0] + p[1] ** 2)


@case(vector(3, 0.5, 1.5))
def levenberg_marquardt_by_hand(x):
    """Levenberg-Marquardt with the damping multiplied or divided by 10 on the traced cost
    comparison, on a rational model fit."""
    t = np.linspace(0.0, 3.0, 12)
    y = x[0] / (1 + x[1] * t) + x[2] * 0.1 * t
    model = lambda p: p[0] / (1 + p[1] * t) + p[2] * t
    p = np.array([1.0, 1.0, 0.0])
    lam = 1e-2
    cost = np.sum((model(p) - y) ** 2)
    for _ in range(200):
        r = model(p) - y
        J = np.column_stack([1 / (1 + p[1] * t), -p[0] * t / (1 + p[1] * t) ** 2, t])
        A = J.T @ J
        step = np.linalg.solve(A + lam * np.diag(np.diag(A)), J.T @ r)
        pn = p - step
        cn = np.sum((model(pn) - y) ** 2)
        if cn < cost:
            p, cost, lam = pn, cn, lam / 10
            if np.abs(step).max() < 1e-12:
                break
        else:
            lam *= 10
            if lam > 1e12:
                break
    return float(p @ [1.0, 2.0, 3.0])


@case(vector(4, -1.0, 1.0))
def coordinate_descent_lasso(x):
    """Coordinate descent for a small lasso problem with a soft threshold (traced branch on
    |rho| against the penalty); the data depend on x."""
    A = np.array([[1.0, 0.3, 0.1], [0.2, 1.0, 0.4], [0.1, 0.2, 1.0], [0.5, 0.1, 0.3]])
    b = x * 2.0
    lam = 0.05
    w = np.zeros(3)
    for _ in range(200):
        w_old = w.copy()
        for j in range(3):
            r = b - A @ w + A[:, j] * w[j]
            rho = A[:, j] @ r
            z = A[:, j] @ A[:, j]
            if rho > lam:
                w[j] = (rho - lam) / z
            elif rho < -lam:
                w[j] = (rho + lam) / z
            else:
                w[j] = 0.0
        if np.max(np.abs(w - w_old)) < 1e-14:
            break
    return float(w @ [1.0, -2.0, 3.0] + (A @ w - b) @ (A @ w - b))


@case(vector(5, 0.5, 1.5))
def gradient_descent_bb_step(x):
    """Gradient descent with Barzilai-Borwein steps on a quadratic (diag x), a gradient
    tolerance exit; returns the minimiser's norm squared."""
    c = np.arange(1.0, 6.0)
    g = lambda z: x * z - c
    z = np.zeros(5)
    gz = g(z)
    step = 0.1
    for _ in range(500):
        zn = z - step * gz
        gn = g(zn)
        if np.linalg.norm(gn) < 1e-13:
            z = zn
            break
        s, y = zn - z, gn - gz
        step = (s @ s) / (s @ y)
        z, gz = zn, gn
    return float(z @ z)


# ================================================================ linear algebra by hand


@case(matrix(3, extra=0, diag=3.0, lo=0.0, hi=1.0))
def power_iteration_rayleigh(x):
    """Power iteration with a Rayleigh quotient and an eigenvalue-change exit (a positive
    matrix: a simple dominant eigenvalue)."""
    A = x.reshape(3, 3)
    A = A + A.T
    v = np.ones(3) / math.sqrt(3)
    lam = 0.0
    for _ in range(1000):
        w = A @ v
        v = w / np.linalg.norm(w)
        lam_new = v @ A @ v
        if abs(lam_new - lam) < 1e-15 * abs(lam_new):
            lam = lam_new
            break
        lam = lam_new
    return float(lam)


@case(matrix(3, extra=0, diag=2.0, lo=-0.5, hi=0.5))
def inverse_iteration_shifted(x):
    """Inverse iteration with a fixed shift (np.linalg.solve each step), the Rayleigh
    quotient of the converged vector, sign-normalised by the largest component."""
    A = x.reshape(3, 3)
    A = A + A.T + np.diag([0.0, 2.0, 4.0])
    v = np.array([1.0, 0.2, 0.1])
    for _ in range(200):
        w = np.linalg.solve(A - 3.0 * np.eye(3), v)
        w /= np.linalg.norm(w)
        if w[np.argmax(np.abs(w))] < 0:
            w = -w
        done = np.linalg.norm(w - v) < 1e-13
        v = w
        if done:
            break
    return float(v @ A @ v + v[0])


@case(matrix(4, extra=4, diag=5.0))
def gauss_seidel_early_exit(x):
    """Gauss-Seidel sweeps over lists of lists, leaving when the update is small."""
    n = 4
    A = [list(x[i * n:(i + 1) * n]) for i in range(n)]
    b = list(x[n * n:])
    u = [0.0] * n
    for _ in range(500):
        delta = 0.0
        for i in range(n):
            s = b[i] - sum(A[i][j] * u[j] for j in range(n) if j != i)
            new = s / A[i][i]
            delta = max(delta, abs(new - u[i]))
            u[i] = new
        if delta < 1e-14:
            break
    return sum(k * v for k, v in enumerate(u, 1))


@case(matrix(4, extra=4, diag=5.0))
def sor_relaxation_sweeps(x):
    """SOR with omega = 1.2 in NumPy row updates, a residual-norm exit."""
    A = x[:16].reshape(4, 4)
    b = x[16:]
    u = np.zeros(4)
    for _ in range(500):
        for i in range(4):
            sigma = A[i] @ u - A[i, i] * u[i]
            u[i] = (1 - 1.2) * u[i] + 1.2 * (b[i] - sigma) / A[i, i]
        if np.linalg.norm(A @ u - b) < 1e-13 * np.linalg.norm(b):
            break
    return float(u @ [1.0, 2.0, 3.0, 4.0])


@case(matrix(4, extra=4, diag=5.0))
def jacobi_sweeps_vectorised(x):
    """Jacobi iteration u = (b - R u) / d with a max-norm step exit."""
    A = x[:16].reshape(4, 4)
    b = x[16:]
    d = np.diag(A)
    R = A - np.diagflat(d)
    u = b / d
    for _k in range(1000):
        un = (b - R @ u) / d
        if np.max(np.abs(un - u)) < 1e-14:
            u = un
            break
        u = un
    return float(u.sum() + u[0] * u[3])


@case(matrix(5, extra=5, diag=0.0, lo=-1.0, hi=1.0))
def conjugate_gradient_restarts(x):
    """Conjugate gradients on the SPD matrix M M^T + 5 I, restarted every 3 steps, a
    relative residual exit."""
    M = x[:25].reshape(5, 5)
    A = M @ M.T + 5 * np.eye(5)
    b = x[25:]
    u = np.zeros(5)
    r = b - A @ u
    p = r.copy()
    for k in range(200):
        Ap = A @ p
        alpha = (r @ r) / (p @ Ap)
        u = u + alpha * p
        rn = r - alpha * Ap
        if np.linalg.norm(rn) < 1e-14 * np.linalg.norm(b):
            break
        beta = 0.0 if (k + 1) % 3 == 0 else (rn @ rn) / (r @ r)
        p = rn + beta * p
        r = rn
    return float(u @ b + u[0])


@case(matrix(3, extra=0, diag=4.0))
def gram_schmidt_reorthogonalise(x):
    """Classical Gram-Schmidt with a second pass when the norm dropped by more than a
    factor 10 (traced test); the product of R's diagonal."""
    A = x.reshape(3, 3)
    Q = np.zeros((3, 3))
    R = np.zeros((3, 3))
    for j in range(3):
        v = A[:, j].copy()
        n0 = np.linalg.norm(v)
        for _pass in range(2):
            for i in range(j):
                c = Q[:, i] @ v
                R[i, j] += c
                v = v - c * Q[:, i]
            if np.linalg.norm(v) > 0.1 * n0:
                break
        R[j, j] = np.linalg.norm(v)
        Q[:, j] = v / R[j, j]
    return float(np.prod(np.diag(R)) + Q[0, 1])


# ================================================================ ODEs and quadrature


@case(vector(2, 0.5, 1.5))
def rk23_step_rejection(x):
    """Bogacki-Shampine RK23 with an error controller that rejects and shrinks steps, on
    y' = -k y + sin(t); the final value (the accepted steps depend on the traced errors)."""
    k, y = x
    f = lambda t, y: -k * y + math.sin(t)
    t, h = 0.0, 0.5
    while t < 2.0:
        h = min(h, 2.0 - t)
        k1 = f(t, y)
        k2 = f(t + h / 2, y + h / 2 * k1)
        k3 = f(t + 3 * h / 4, y + 3 * h / 4 * k2)
        yn = y + h * (2 * k1 + 3 * k2 + 4 * k3) / 9
        k4 = f(t + h, yn)
        err = abs(h * (-5 * k1 / 72 + k2 / 12 + k3 / 9 - k4 / 8))
        if err <= 1e-6:
            t, y = t + h, yn
        h *= min(2.0, max(0.2, 0.9 * (1e-6 / max(err, 1e-300)) ** (1 / 3)))
    return y


@case(vector(2, 0.5, 1.5))
def euler_event_location(x):
    """Fixed-step RK4 for a falling body with drag until the height crosses zero, then the
    crossing time by linear interpolation in the last step (the event time)."""
    g, c = 9.81 * x[0], 0.1 * x[1]
    h, v, t, dt = 10.0, 0.0, 0.0, 0.05
    deriv = lambda h, v: (v, -g - c * v * abs(v))
    while True:
        a1 = deriv(h, v)
        a2 = deriv(h + dt / 2 * a1[0], v + dt / 2 * a1[1])
        a3 = deriv(h + dt / 2 * a2[0], v + dt / 2 * a2[1])
        a4 = deriv(h + dt * a3[0], v + dt * a3[1])
        hn = h + dt / 6 * (a1[0] + 2 * a2[0] + 2 * a3[0] + a4[0])
        vn = v + dt / 6 * (a1[1] + 2 * a2[1] + 2 * a3[1] + a4[1])
        if hn <= 0.0:
            return t + dt * h / (h - hn)
        h, v, t = hn, vn, t + dt


@case(scalar(0.5, 2.0))
def romberg_convergence_exit(a):
    """Romberg integration of exp(-a x**2) on [0, 2] with a tableau-difference exit."""
    f = lambda x: math.exp(-a * x * x)
    lo, hi = 0.0, 2.0
    R = [[0.5 * (hi - lo) * (f(lo) + f(hi))]]
    for i in range(1, 20):
        h = (hi - lo) / 2 ** i
        s = sum(f(lo + (2 * k - 1) * h) for k in range(1, 2 ** (i - 1) + 1))
        row = [0.5 * R[-1][0] + h * s]
        for j in range(1, i + 1):
            row.append(row[j - 1] + (row[j - 1] - R[-1][j - 1]) / (4 ** j - 1))
        if abs(row[-1] - R[-1][-1]) < 1e-13:
            return row[-1]
        R.append(row)
    return R[-1][-1]


@case(scalar(0.3, 2.0))
def richardson_derivative_extrapolation(a):
    """Richardson extrapolation of central differences of sin(a x) exp(x) at x = 0.7 (a
    derivative computed inside the program), stopping when the tableau stops improving."""
    f = lambda x: math.sin(a * x) * math.exp(x)
    x0, h = 0.7, 0.4
    prev = [(f(x0 + h) - f(x0 - h)) / (2 * h)]
    best, err = prev[0], math.inf
    for i in range(1, 10):
        h /= 2
        cur = [(f(x0 + h) - f(x0 - h)) / (2 * h)]
        for j in range(1, i + 1):
            cur.append(cur[j - 1] + (cur[j - 1] - prev[j - 1]) / (4 ** j - 1))
        e = abs(cur[-1] - prev[-1])
        if e < err:
            best, err = cur[-1], e
        elif e > 2 * err:
            break
        prev = cur
    return best


@case(scalar(0.5, 3.0))
def adaptive_trapezoid_recursive(a):
    """A recursive adaptive trapezoid rule for 1 / (1 + a x**2) on [0, 3] (subdivision
    decided by traced error estimates)."""
    f = lambda x: 1.0 / (1.0 + a * x * x)

    def rec(lo, hi, flo, fhi, whole, tol, depth):
        mid = 0.5 * (lo + hi)
        fm = f(mid)
        left = 0.5 * (mid - lo) * (flo + fm)
        right = 0.5 * (hi - mid) * (fm + fhi)
        if depth > 12 or abs(left + right - whole) < 3 * tol:
            return left + right + (left + right - whole) / 3
        return rec(lo, mid, flo, fm, left, tol / 2, depth + 1) + \
            rec(mid, hi, fm, fhi, right, tol / 2, depth + 1)
    return rec(0.0, 3.0, f(0.0), f(3.0), 1.5 * (f(0.0) + f(3.0)), 1e-8, 0)


@case(vector(3, 0.5, 1.5))
def leapfrog_energy_check(x):
    """Leapfrog for a pendulum; the step is halved (and the run restarted) while the energy
    drift exceeds a tolerance (a traced restart decision)."""
    L, th0, w0 = x
    def run(dt):
        th, w = th0, w0
        for _ in range(int(round(2.0 / dt))):
            w -= 0.5 * dt * 9.81 / L * math.sin(th)
            th += dt * w
            w -= 0.5 * dt * 9.81 / L * math.sin(th)
        return th, w
    E = lambda th, w: 0.5 * L * w * w - 9.81 * math.cos(th)
    dt = 0.2
    while True:
        th, w = run(dt)
        if abs(E(th, w) - E(th0, w0)) < 1e-3 or dt < 1e-3:
            return th + 0.5 * w
        dt /= 2


# ================================================================ branches on traced values


@case(vector(6, 0.0, 1.0))
def linear_spline_bisect_traced_knots(x):
    """A piecewise-linear spline whose knots are cumulative sums of the input, evaluated at
    fixed points with bisect.bisect_right on a list of traced floats."""
    knots = list(np.cumsum(x[:3] + 0.3))
    knots.insert(0, 0.0)
    vals = [0.0, x[3], x[4] - 1.0, x[5] * 2]
    out = 0.0
    for q in (0.2, 0.7, 1.3, 1.9):
        i = min(max(bisect.bisect_right(knots, q) - 1, 0), len(knots) - 2)
        t = (q - knots[i]) / (knots[i + 1] - knots[i])
        out += (1 - t) * vals[i] + t * vals[i + 1]
    return out


@case(vector(5, 0.0, 1.0))
def np_interp_traced_xp(x):
    """np.interp with traced sample positions xp (sorted cumsum) and values fp; queries
    inside and outside the range (the ends clamp)."""
    xp = np.cumsum(x + 0.1)
    fp = np.cos(xp) * x
    q = np.array([-0.5, 0.4, 1.0, 1.6, 5.0])
    return float(np.interp(q, xp, fp) @ np.arange(1.0, 6.0))


@case(vector(5, 0.0, 1.0))
def np_interp_traced_queries_periodic(x):
    """np.interp with traced queries and period=1.0 (wrapped), a left/right fill."""
    xp = np.array([0.0, 0.25, 0.5, 0.8])
    fp = np.array([1.0, 3.0, -1.0, 0.5])
    a = np.interp(x * 3.0, xp, fp, period=1.0)
    b = np.interp(x * 1.5 - 0.2, xp, fp, left=-2.0, right=2.0)
    return float(a @ x + b.sum())


@case(vector(6, 0.0, 1.0))
def cubic_hermite_searchsorted(x):
    """A cubic Hermite spline (finite-difference slopes) over traced knots, evaluated with
    np.searchsorted at traced query points."""
    k = np.cumsum(x[:4] + 0.2)
    v = np.sin(3 * k)
    m = np.gradient(v, k)
    q = np.array([k[0] + 0.1, 0.5 * (k[1] + k[2]), k[3] - x[4] * 0.05])
    i = np.clip(np.searchsorted(k, q, side="right") - 1, 0, 2)
    h = k[i + 1] - k[i]
    t = (q - k[i]) / h
    h00, h10 = 2 * t ** 3 - 3 * t ** 2 + 1, t ** 3 - 2 * t ** 2 + t
    h01, h11 = -2 * t ** 3 + 3 * t ** 2, t ** 3 - t ** 2
    y = h00 * v[i] + h10 * h * m[i] + h01 * v[i + 1] + h11 * h * m[i + 1]
    return float(y.sum() * (1 + x[5]))


@case(vector(6, -3.0, 3.0))
def saturation_chain(x):
    """A signal chain of saturations: min(max()), np.clip with traced bounds, a tanh soft
    limiter above a traced threshold, a dead zone."""
    lo, hi = -1.0 - abs(x[0]) * 0.1, 1.0 + x[1] * 0.1
    s = np.clip(x * 0.8, lo, hi)
    out = 0.0
    for v in x:
        v = min(max(v, -2.0), 2.0)
        if abs(v) > 0.5:
            v = math.copysign(0.5 + math.tanh(abs(v) - 0.5), v)
        if abs(v) < 0.1:
            v = 0.0
        out += v * v
    return float(out + s @ s)


@case(vector(6, -1.0, 1.0))
def argmax_selected_term(x):
    """The term chosen by np.argmax of a traced score, its neighbours, and max() with a key
    over (value, index) pairs."""
    score = np.sin(3 * x) + x
    i = int(np.argmax(score))
    j = max(range(len(x)), key=lambda k: x[k] ** 2)
    nb = x[(i + 1) % len(x)] * x[i - 1]
    return float(score[i] * x[j] + nb)


@case(vector(7, -1.0, 1.0))
def median_of_duplicated_data(x):
    """Medians and percentiles of data with every value present twice (np.concatenate([x,
    x])): ties at the middle order statistic."""
    d = np.concatenate([x, x])
    return float(np.median(d) + np.percentile(d, 25) + np.quantile(d, 0.9) * 2)


@case(vector(8, -1.0, 1.0))
def max_of_duplicated_data(x):
    """np.max, np.amax(axis), np.ptp and the builtin max over data holding each value twice:
    the maximum is attained at two positions (d/dx of max is still 1 at the argmax)."""
    d = np.concatenate([x, x[::-1]])
    m = d.reshape(2, 8)
    return float(np.max(d) + np.min(d) * 2 + np.amax(m, axis=0).sum() + np.ptp(d)
                 + max(list(d)))


@case(matrix(3, extra=0, diag=0.0))
def symmetric_max_with_transpose(x):
    """np.maximum(A, A.T) and np.minimum(A, A.T) symmetrise a matrix: on the diagonal both
    arguments are the same entry (a tie of a function with itself: derivative 1)."""
    A = x.reshape(3, 3)
    S = np.maximum(A, A.T)
    T = np.minimum(A, A.T)
    return float((S * np.arange(1.0, 10.0).reshape(3, 3)).sum() + np.trace(T) * 3 + T.sum())


@case(vector(6, -1.0, 1.0))
def inf_norm_of_mirrored(x):
    """The infinity norm of concatenate([x, -x]) (each |x_i| attained twice) and the max of
    abs over a stacked pair."""
    d = np.concatenate([x, -x])
    return float(np.linalg.norm(d, ord=np.inf) + np.abs(np.stack([x, -x])).max(axis=0) @ x)


@case(vector(9, -1.0, 1.0))
def trimmed_mean_sorted_list(x):
    """A 20% trimmed mean and a winsorised mean from sorted() of a list of np.float64."""
    xs = sorted(list(x))
    k = int(0.2 * len(xs))
    trimmed = sum(xs[k:len(xs) - k]) / (len(xs) - 2 * k)
    w = [min(max(v, xs[k]), xs[-k - 1]) for v in x]
    return trimmed * 2 + sum(w) / len(w) + xs[0] * xs[-1]


@case(vector(7, -1.0, 1.0))
def spearman_rank_weights(x):
    """Ranks by sorted(range, key=), used as float weights; a rank correlation with a fixed
    sequence plus a rank-weighted sum of the values."""
    order = sorted(range(len(x)), key=lambda i: x[i])
    ranks = [0.0] * len(x)
    for r, i in enumerate(order):
        ranks[i] = float(r)
    y = np.array(ranks)
    return float(np.corrcoef(y, np.arange(7.0))[0, 1] + y @ x + x[order[-1]] ** 2)


@case(vector(8, 0.0, 1.0))
def histogram_traced_edges_weights(x):
    """np.histogram with edges spanning the data's traced min/max and weights: the weighted
    bin sums are differentiable in the weights; the bin counts enter as float factors."""
    edges = np.linspace(x.min() - 0.01, x.max() + 0.01, 5)
    counts, _ = np.histogram(x, bins=edges)
    sums, _ = np.histogram(x, bins=edges, weights=x ** 2)
    return float(sums @ np.arange(1.0, 5.0) + counts @ (edges[1:] - edges[:-1]))


@case(vector(8, -1.0, 1.0))
def digitize_coefficient_table(x):
    """np.digitize with traced bins (sorted first) picks coefficients from a table and an
    index-dependent scale; the bin index is used as a float too."""
    bins = np.sort(x[:3])
    idx = np.digitize(x[3:], bins)
    table = np.array([1.0, -2.0, 0.5, 3.0])
    return float((table[idx] * x[3:]).sum() + (idx * x[3:]).sum() + bins @ [1.0, 2.0, 3.0])


@case(vector(6, -2.0, 2.0))
def huber_and_soft_threshold(x):
    """Huber loss (quadratic inside a traced threshold, linear outside), a soft threshold
    and an epsilon-insensitive loss, in plain Python over np.float64 elements."""
    delta = 0.5 + 0.1 * abs(x[0])
    out = 0.0
    for v in x[1:]:
        a = abs(v)
        out += 0.5 * v * v if a <= delta else delta * (a - 0.5 * delta)
        out += math.copysign(max(a - 0.3, 0.0), v) * 0.7
        out += max(0.0, a - 0.2) ** 2
    return out


@case(vector(8, -1.0, 1.0))
def heapq_k_smallest(x):
    """heapq.nsmallest / nlargest of traced floats, heappush / heappop with (value, index)
    tuples."""
    lo = heapq.nsmallest(3, x)
    hi = heapq.nlargest(2, list(x), key=lambda v: v * v)
    h = []
    for i, v in enumerate(x):
        heapq.heappush(h, (float(np.sin(v)), i))
    first = heapq.heappop(h)
    return float(sum(lo) + hi[0] * hi[1] + first[0] * x[first[1]])


@case(vector(6, -1.0, 1.0))
def sort_spacings_order_statistics(x):
    """np.sort then np.diff (spacings), the log of the smallest spacing and a minimum of
    pairwise distances by a double loop."""
    s = np.sort(x)
    sp = np.diff(s)
    best = math.inf
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            best = min(best, abs(x[i] - x[j]))
    return float(sp @ np.arange(1.0, 6.0) + math.log(best) * 0.1 + s[-1] * s[0])


@case(vector(7, -1.0, 1.0))
def filter_and_count_mean(x):
    """A mean of the positive entries (boolean mask, np.count_nonzero as the divisor), a
    Python filter() / len() version, and a sign-weighted sum."""
    pos = x[x > 0]
    n = np.count_nonzero(x > 0)
    m1 = pos.sum() / max(n, 1)
    neg = list(filter(lambda v: v < 0, x))
    m2 = sum(neg) / max(len(neg), 1)
    return float(m1 * 2 + m2 + np.sign(x) @ x ** 3 + (x > 0.3) @ x)


@case(vector(7, 0.0, 3.0))
def bincount_floor_groups_weights(x):
    """np.bincount over floor-derived group ids with traced weights (group sums), group sizes
    as float divisors, and the ids as coefficients."""
    ids = np.floor(x).astype(int)
    sums = np.bincount(ids, weights=np.exp(-x), minlength=3)
    sizes = np.bincount(ids, minlength=3)
    return float(sums @ [1.0, 2.0, 3.0] + (sums / np.maximum(sizes, 1)).sum() + ids @ x)


@case(vector(6, -1.0, 1.0))
def nonzero_positions_as_floats(x):
    """np.nonzero of a traced mask gives positions used as float weights; np.flatnonzero and
    np.where(cond) with one argument too."""
    (idx,) = np.nonzero(x > 0)
    pos = np.flatnonzero(x < 0)
    w = np.where(x * x > 0.25)[0]
    return float((idx + 1.0) @ x[idx] + pos.sum() * x.sum() + x[w].sum() ** 2)


@case(vector(5, -1.0, 1.0))
def piecewise_polynomial_table(x):
    """A piecewise cubic whose coefficients are picked by the interval of each value
    (bisect on fixed breaks), evaluated by np.polyval."""
    breaks = [-0.5, 0.0, 0.5]
    coefs = [[1.0, 0.0, -1.0, 0.2], [0.5, 1.0, 0.0, 0.1], [-1.0, 0.5, 2.0, 0.0],
             [0.3, -0.2, 1.0, 0.4]]
    return float(sum(np.polyval(coefs[bisect.bisect(breaks, v)], v) for v in x))


@case(vector(6, -1.0, 1.0))
def for_else_break_on_traced(x):
    """A for/else whose break is decided by traced values, and a while/else."""
    acc = 0.0
    for v in x:
        if v > 0.8:
            acc += 10 * v
            break
        acc += v * v
    else:
        acc += x[0]
    k = 0
    s = 0.0
    while k < len(x):
        s += math.exp(x[k])
        if s > 4.0:
            break
        k += 1
    else:
        s *= x[-1]
    return acc + s


# ================================================================ NaN traps of masked branches


@case(vector(6, -1.0, 1.0))
def where_sqrt_negative_branch(x):
    """np.where(x > 0, np.sqrt(x), 0.0): the unused branch is sqrt of negatives (NaN), the
    result is smooth away from 0."""
    return float(np.where(x > 0, np.sqrt(np.abs(x) + x), 0.0).sum()
                 + np.where(x > 0, np.sqrt(x), -x).sum())


@case(vector(6, -1.0, 1.0))
def where_log_guard(x):
    """np.where(x > 0, np.log(x), x): log of non-positive values in the unused branch."""
    return float(np.where(x > 0, np.log(x), x) @ np.arange(1.0, 7.0))


@case(vector(6, -1.0, 1.0))
def where_division_guard(x):
    """np.where(d != 0, 1 / d, 0) where d = x * m with a 0/1 mask: the masked entries divide
    by an exact zero in the unused branch (d does not depend on x there)."""
    m = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    d = (x + 2.0) * m
    return float(np.where(d != 0, 1.0 / d, 0.0).sum())


@case(vector(5, -1.0, 1.0))
def sinc_with_exact_zeros(x):
    """sinc by hand, np.where(t == 0, 1, sin(t) / t), on t = x * m where some t are exactly
    zero (the mask): the unused branch is 0/0 there."""
    m = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    t = x * m
    return float(np.where(t == 0, 1.0, np.sin(t) / t) @ np.arange(1.0, 6.0))


@case(vector(6, -1.0, 1.0))
def pairwise_distance_matrix_diag(x):
    """Pairwise distances of three points by broadcasting, the zero diagonal included:
    sum(exp(-D)) (the diagonal terms are the constant 1)."""
    P = x.reshape(3, 2)
    D = np.sqrt(((P[:, None, :] - P[None, :, :]) ** 2).sum(axis=-1))
    return float(np.exp(-D).sum())


@case(vector(6, -1.0, 1.0))
def coulomb_energy_fill_diagonal(x):
    """A Coulomb energy: 1 / D with the diagonal (1/0 = inf) overwritten by np.fill_diagonal
    before the sum."""
    P = x.reshape(3, 2) + np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    diff = P[:, None, :] - P[None, :, :]
    D = np.sqrt((diff ** 2).sum(-1))
    inv = 1.0 / D
    np.fill_diagonal(inv, 0.0)
    return float(0.5 * inv.sum())


@case(vector(6, -1.0, 1.0))
def hypot_self_distance(x):
    """np.hypot of coordinate differences including each point with itself, weighted by a
    matrix that is zero on the diagonal."""
    p = x[:3] + np.array([0.0, 2.0, 4.0])
    q = x[3:]
    H = np.hypot(p[:, None] - p[None, :], q[:, None] - q[None, :])
    W = 1.0 - np.eye(3)
    return float((W * H).sum())


@case(vector(6, -1.0, 1.0))
def masked_row_norms(x):
    """Row norms of a matrix whose padded rows are zeroed by a mask (x * mask): the norm of
    an exact zero row, np.linalg.norm(axis=1)."""
    X = x.reshape(3, 2) * np.array([[1.0], [0.0], [1.0]])
    return float(np.linalg.norm(X, axis=1).sum() + np.sqrt((X * X).sum(axis=1)) @ [1, 2, 3])


@case(scalar(0.5, 3.0))
def power_law_grid_from_zero(p):
    """sum(t ** p) on a grid that starts at 0 (0 ** p = 0 for p > 0: its derivative in p is
    0), numpy and Python versions."""
    t = np.linspace(0.0, 1.0, 6)
    return float(np.sum(t ** p) + sum(v ** p for v in [0.0, 0.5, 1.5])
                 + np.power(t, p) @ t)


@case(vector(5, 0.1, 1.0))
def entropy_with_zero_bins(x):
    """Shannon entropy of a distribution with empty bins: p log p guarded by
    np.where(p > 0, ., 0), the zeros coming from a mask times the data."""
    m = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    p = x * m
    p = p / p.sum()
    return float(-np.where(p > 0, p * np.log(p), 0.0).sum())


@case(vector(5, -1.0, 1.0))
def nansum_of_masked_nans(x):
    """Entries set to NaN by a traced test (x < -0.5), then np.nansum / np.nanmean /
    np.nanmax skip them."""
    y = np.where(x < -0.5, np.nan, x ** 2)
    return float(np.nansum(y) + np.nanmean(y) * 2 + np.nanmax(y))


@case(vector(6, -1.0, 1.0))
def safe_arctan2_zero_vector(x):
    """Angles of 2-vectors by np.arctan2, where one vector is exactly (0, 0) (masked) and
    its angle is replaced by 0 through np.where."""
    v = x.reshape(3, 2) * np.array([[1.0], [0.0], [1.0]])
    r2 = (v ** 2).sum(axis=1)
    ang = np.where(r2 > 0, np.arctan2(v[:, 1], v[:, 0]), 0.0)
    return float(ang @ [1.0, 2.0, 3.0] + np.cos(ang).sum())


@case(vector(4, 0.5, 2.0))
def math_sqrt_of_exact_zero(x):
    """math.sqrt of a sum of squares that is exactly zero for one pair (a point compared with
    itself), in a plain-Python distance loop."""
    pts = [(x[0], x[1]), (x[2], x[3]), (x[0], x[1])]
    total = 0.0
    for i in range(len(pts)):
        for j in range(i + 1, len(pts)):
            dx, dy = pts[i][0] - pts[j][0], pts[i][1] - pts[j][1]
            total += math.exp(-math.sqrt(dx * dx + dy * dy))
    return total


# ================================================================ mixed Python / NumPy state


@case(vector(6, -1.0, 1.0))
def list_of_float64_running_stats(x):
    """A list of np.float64 appended in a loop, math.fsum, sum with a np.float64 start,
    statistics by hand and .item() conversions."""
    vals = []
    for v in x:
        vals.append(np.float64(v) * 2 + np.exp(v).item())
    s = math.fsum(vals)
    s2 = sum((v * v for v in vals), np.float64(0.0))
    mean = s / len(vals)
    return float(s2 / len(vals) - mean * mean + math.prod(vals[:3]))


@case(vector(6, -1.0, 1.0))
def dict_of_arrays_mutated(x):
    """A dict of arrays updated in place in a loop (+=, slices, keys chosen by traced
    comparisons), then reduced."""
    state = {"pos": x[:3].copy(), "vel": x[3:].copy(), "hist": []}
    for k in range(4):
        state["pos"] += 0.1 * state["vel"]
        state["vel"][1:] -= 0.05 * state["pos"][:-1]
        key = "up" if state["pos"].sum() > 0 else "down"
        state.setdefault(key, np.zeros(3))
        state[key] += state["pos"] * (k + 1)
        state["hist"].append(state["pos"] @ state["vel"])
    extra = sum(v.sum() for k, v in state.items() if k in ("up", "down"))
    return float(sum(state["hist"]) + extra)


@dataclasses.dataclass(frozen=True)
class _Params:
    rate: float
    scale: float

    def grown(self, t):
        return dataclasses.replace(self, scale=self.scale * math.exp(self.rate * t))


@case(vector(2, -1.0, 1.0))
def frozen_dataclass_replace(x):
    """A frozen dataclass of traced floats evolved by dataclasses.replace, its fields read
    through astuple and asdict."""
    p = _Params(x[0], 1.0 + x[1] ** 2)
    for t in (0.1, 0.2, 0.3):
        p = p.grown(t)
    a, b = dataclasses.astuple(p)
    d = dataclasses.asdict(p)
    return a * b + d["scale"] ** 0.5


def _running_mean():
    total, n = 0.0, 0
    mean = None
    while True:
        v = yield mean
        total += v
        n += 1
        mean = total / n


@case(vector(5, -1.0, 1.0))
def coroutine_running_mean(x):
    """A generator coroutine fed by send(), its running means collected."""
    co = _running_mean()
    next(co)
    out = [co.send(v * v + v) for v in x]
    co.close()
    return sum(m * k for k, m in enumerate(out, 1))


@case(scalar(0.1, 0.9))
def memoized_recursion_closure(a):
    """A recursion on an integer with functools.lru_cache over a closure that holds a traced
    coefficient (a fresh cache each call): P_n = a P_{n-1} + (1 - a) P_{n-2}."""
    @functools.lru_cache(maxsize=None)
    def P(n):
        if n < 2:
            return float(n) + a
        return a * P(n - 1) + (1 - a) * P(n - 2) + 0.01 * n
    return P(20)


@case(vector(4, -1.0, 1.0))
def continued_fraction_recursive(x):
    """A recursive continued fraction with traced partial numerators."""
    def cf(k):
        if k == 8:
            return 1.0
        return 2.0 + k + x[k % 4] ** 2 / cf(k + 1)
    return cf(0)


@case(vector(5, -2.0, 2.0))
def zero_division_int_divisor(x):
    """try / except ZeroDivisionError around a division by int(...) of traced values (the
    fallback path taken where int(...) is 0)."""
    out = 0.0
    for v in x:
        try:
            out += v / int(v * 1.5)
        except ZeroDivisionError:
            out += v * v
    return out


@case(vector(4, 0.0, 800.0))
def overflow_guard_math_exp(x):
    """math.exp under try / except OverflowError with an asymptotic branch (log1p(exp(v)) by
    hand), and a float('inf') comparison."""
    out = 0.0
    for v in x:
        try:
            out += math.log1p(math.exp(v)) / (1 + v)
        except OverflowError:
            out += v / (1 + v)
    return out


@case(vector(4, 0.2, 2.0))
def math_vs_numpy_same_values(x):
    """math.* and np.* on the same values (np.float64 and float), math.hypot / math.dist /
    math.prod / math.fsum over np.float64, math.log with a base."""
    a, b, c, d = x
    s = math.log(a, 2) + np.log2(b) + math.log10(c) + np.log1p(d)
    s += math.hypot(a, b, c) + math.dist((a, b), (c, d)) + np.hypot(c, d)
    s += math.prod([a, b, np.float64(c)]) + math.fsum(np.sin(x))
    s += math.atan2(a, b) + np.arctan2(c, d) + math.erf(a - 1) + math.gamma(b + 1)
    return float(s)


@case(vector(4, -2.0, 2.0))
def int_float_conversions_mixed(x):
    """divmod, math.fmod, math.remainder, math.modf and // on traced floats mixed with the
    smooth parts they leave."""
    q, r = divmod(x[0] * 3, 1.0)
    frac, whole = math.modf(x[1] * 2.5)
    f = math.fmod(x[2] * 4, 1.5)
    rem = math.remainder(x[3] * 3, 2.0)
    return r * x[1] + frac + f * x[0] + rem + (x[0] // 0.7) * x[2] + q * 0.1 + whole * x[3]


@case(vector(2, 0.5, 1.5))
def cmath_quadratic_roots(x):
    """Roots of z**2 + b z + c by cmath.sqrt (complex for some points), their moduli and
    phases."""
    b, c = x[0] * 1.5, x[1]
    disc = cmath.sqrt(b * b - 4 * c)
    z1, z2 = (-b + disc) / 2, (-b - disc) / 2
    return abs(z1) + abs(z2) ** 2 + cmath.phase(z1) * 0.3 + (z1 * z2).real


@case(scalar(0.3, 2.0))
def complex_step_derivative_inside(a):
    """The program computes a derivative by the complex-step method, f(x + ih).imag / h,
    with cmath functions: the result's derivative is a second derivative."""
    f = lambda z: cmath.exp(a * z) * cmath.sin(z) / (1 + z * z)
    h = 1e-20
    d = f(0.8 + 1j * h).imag / h
    return d + f(0.8).real


@case(vector(3, -1.0, 1.0))
def fractions_exact_coefficients(x):
    """fractions.Fraction coefficients (exact Simpson 3/8 weights) times traced floats
    (Fraction * float is a float)."""
    w = [fractions.Fraction(1, 8), fractions.Fraction(3, 8), fractions.Fraction(3, 8),
         fractions.Fraction(1, 8)]
    ys = [math.exp(v) for v in x] + [x[0] * x[1]]
    s = sum(wi * yi for wi, yi in zip(w, ys))
    return s * fractions.Fraction(3, 2) + float(fractions.Fraction(2, 3)) * x[2]


class _Meter:
    """A user class with __float__ / __index__-free arithmetic and __lt__ for sorting."""

    def __init__(self, v):
        self.v = v

    def __float__(self):
        return float(self.v * 2.0)

    def __lt__(self, other):
        return self.v < other.v

    def __add__(self, other):
        return _Meter(self.v + (other.v if isinstance(other, _Meter) else other))

    __radd__ = __add__


@case(vector(5, -1.0, 1.0))
def user_float_protocol_sorted(x):
    """Objects with __float__, __lt__ and __add__: sorted(), sum() with __radd__, float() of
    the total and math functions on them (which call __float__)."""
    ms = [_Meter(v * v + v) for v in x]
    ms.sort()
    total = sum(ms)
    return float(total) + math.sqrt(ms[-1]) + ms[0].v * 3


@case(vector(5, -1.0, 1.0))
def global_state_reset_each_call(x):
    """A module-level list used as scratch, cleared at the start of each call."""
    _SCRATCH.clear()
    for v in x:
        _SCRATCH.append(v * v)
        if len(_SCRATCH) > 2:
            _SCRATCH.pop(0)
        _SCRATCH.append(sum(_SCRATCH) * 0.5)
    return sum(_SCRATCH) + _SCRATCH[-1] * x[0]


_SCRATCH: list = []


@case(vector(4, -1.0, 1.0))
def partial_of_solver(x):
    """functools.partial binds a traced parameter into a fixed-point solver; map() applies
    it to a list of starts."""
    def solve(c, start):
        z = start
        for _ in range(100):
            zn = 0.5 * math.cos(z) + c
            if abs(zn - z) < 1e-15:
                return zn
            z = zn
        return z
    f = functools.partial(solve, x[0] * 0.3)
    return sum(map(f, [0.0, x[1], x[2] * 2])) * (1 + x[3])


@case(vector(6, -1.0, 1.0))
def yield_from_chunks(x):
    """Nested generators with yield from, chunking the data and yielding partial sums."""
    def chunks(seq, n):
        for i in range(0, len(seq), n):
            yield seq[i:i + n]

    def partials(seq):
        for c in chunks(seq, 2):
            yield from (v * c[0] for v in c)
            yield sum(c)
    return sum(k * v for k, v in enumerate(partials(list(x)), 1))


@case(vector(5, -1.0, 1.0))
def try_finally_state(x):
    """A try / finally that updates state on every path, with an exception raised on a
    traced condition and caught outside."""
    acc = [0.0]

    def step(v):
        try:
            if v > 0.6:
                raise ValueError("too large")
            return v * v
        finally:
            acc[0] += v

    out = 0.0
    for v in x:
        try:
            out += step(v)
        except ValueError:
            out += math.sqrt(v)
    return out + acc[0] ** 2


@case(vector(4, -1.0, 1.0))
def errstate_raise_zero_divisor_fallback(x):
    """np.errstate(divide='raise') turning a division by an exact zero into
    FloatingPointError, caught with a fallback formula."""
    out = 0.0
    for v in x:
        d = np.float64(v) - np.float64(v) if v > 0.5 else np.float64(v) + 2.0
        try:
            with np.errstate(divide="raise", invalid="raise"):
                out += float(np.float64(1.0) / d) * v
        except FloatingPointError:
            out += v ** 3
    return out


# ======================================================== data-dependent structure (replays)


@case(vector(3, 0.0, 1.0))
def traced_int_sets_grid_size(x):
    """n = int(x0 * 10) + 3 sets a grid size (np.linspace), a loop count and a slice."""
    n = int(x[0] * 10) + 3
    t = np.linspace(0.0, 1.0, n)
    y = np.sin(x[1] * t) * x[2]
    acc = 0.0
    for k in range(n // 2):
        acc += y[k] * k
    trap = ((y[1:] + y[:-1]) * np.diff(t)).sum() / 2  # the trapezoid rule by hand
    return float(trap + acc + y[: n // 3].sum())


@case(vector(5, -1.0, 1.0))
def argsort_reorders_coefficients(x):
    """The order of the data (np.argsort) decides which coefficient multiplies which value
    and the cumulative sums over the sorted data."""
    order = np.argsort(x)
    c = np.array([5.0, -1.0, 2.0, 0.5, 3.0])
    return float(c @ x[order] + np.cumsum(x[order]) @ c + order @ x)


@case(vector(4, -1.0, 1.0))
def sign_pattern_dict_dispatch(x):
    """A dict of formulas keyed by the sign pattern of the data."""
    table = {
        (True, True): lambda a, b: a * b + a,
        (True, False): lambda a, b: a - b ** 2,
        (False, True): lambda a, b: math.exp(a) * b,
        (False, False): lambda a, b: a * a + b * b,
    }
    out = 0.0
    for a, b in ((x[0], x[1]), (x[2], x[3]), (x[1], x[2])):
        out += table[(a > 0, b > 0)](a, b)
    return out


@case(vector(4, 0.5, 3.0))
def frexp_exponent_scaling(x):
    """math.frexp / np.frexp exponents (data dependent) used as scale factors and
    np.ldexp back."""
    out = 0.0
    for v in x:
        m, e = math.frexp(v * 3)
        out += m * e + math.ldexp(m, e - 1)
    mm, ee = np.frexp(x)
    return float(out + (mm * ee).sum() + np.ldexp(mm, ee).sum())


@case(vector(6, 0.0, 2.0))
def unique_rounded_count_divisor(x):
    """len(np.unique(np.round(x))) divides the sum (a data-dependent count), and
    collections-style counting in a dict by rounded keys."""
    k = len(np.unique(np.round(x)))
    counts: dict = {}
    for v in x:
        key = round(float(v))
        counts[key] = counts.get(key, 0.0) + v
    return float(x.sum() / k + sum(kk * vv for kk, vv in counts.items()))


@case(vector(5, -1.0, 1.0))
def comparison_booleans_as_floats(x):
    """Comparison results used arithmetically: (a > b) * 1.0, True + x, np.greater(...) as
    float weights and sum(v > 0 for v in x)."""
    w = (x > 0.2) * 1.0 + np.greater(x, -0.3)
    npos = sum(v > 0 for v in x)
    return float(w @ x + npos * x[0] + (x[1] > x[2]) + True * x[3])


@case(vector(6, -1.0, 1.0))
def while_count_from_data(x):
    """A while loop whose trip count depends on a traced running sum (a geometric decay
    until below a threshold)."""
    s = 1.0 + x @ x
    k = 0
    while s > 0.05:
        s *= 0.5 + 0.1 * x[k % 6]
        k += 1
    return s * k + x[k % 6]


@case(vector(5, -1.0, 1.0))
def max_index_python_loop(x):
    """Python's max with key over enumerate, list.index of the max, and the min by a
    manual scan (strict < keeps the first)."""
    i, m = max(enumerate(x), key=lambda p: p[1])
    j = list(x).index(min(x))
    best, bi = x[0], 0
    for k, v in enumerate(x):
        if v * v < best * best:
            best, bi = v, k
    return float(m * 2 + x[j] * i + best * (bi + 1) + j)


@case(vector(8, -1.0, 1.0))
def lexsort_tiebreak_groups(x):
    """np.lexsort on (traced, rounded) keys; group boundaries from np.diff of the rounded
    primary key; a sum per group of the secondary values."""
    primary = np.round(x[:4] * 2)
    order = np.lexsort((x[4:], primary))
    p = primary[order]
    s = x[4:][order]
    starts = np.flatnonzero(np.r_[True, np.diff(p) != 0])
    sums = np.add.reduce(s) if len(starts) == 1 else np.array(
        [s[a:b].sum() for a, b in zip(starts, list(starts[1:]) + [len(s)])])
    return float((sums ** 2).sum() + s @ np.arange(1.0, 5.0) + x[:4] @ x[4:])


@case(vector(4, 0.2, 1.0))
def table_lookup_by_floor(x):
    """math.floor of a traced value indexes a coefficient table; linear interpolation
    inside the cell (the classic table-driven approximation)."""
    table = [math.exp(-0.5 * k) for k in range(12)]
    out = 0.0
    for v in x:
        u = v * 10
        k = math.floor(u)
        t = u - k
        out += (1 - t) * table[k] + t * table[k + 1]
    return out


@case(vector(6, -1.0, 1.0))
def clip_count_changes(x):
    """The number of clipped entries (np.count_nonzero of a traced mask) scales the loss."""
    c = np.clip(x, -0.5, 0.5)
    n = np.count_nonzero(c != x)
    return float((c ** 2).sum() * (1 + n) + n * x.sum())


@case(vector(5, 0.1, 1.0))
def recursion_depth_from_value(x):
    """A recursion whose depth depends on a traced value (halving until below 0.01)."""
    def shrink(v, depth):
        if v < 0.01:
            return v * depth
        return math.sin(v) + shrink(v * 0.5, depth + 1)
    return sum(shrink(v, 1) for v in x)


@case(vector(6, -1.0, 1.0), on_list)
def list_remove_and_insert(xs):
    """list.remove of the traced maximum, bisect.insort of a computed value and list.index
    by value."""
    xs = list(xs)
    m = max(xs)
    xs.remove(m)
    ys = sorted(xs)
    bisect.insort(ys, m * 0.5)
    k = ys.index(m * 0.5)
    return sum(v * (i + 1) for i, v in enumerate(ys)) + k * m


# ============================================ guarded square roots, degenerate linear algebra


@case(vector(4, 0.0, 2.0))
def chord_lengths_clamped_sqrt(x):
    """Chord lengths of lines at distances d from a circle of radius r: np.sqrt(np.maximum(r
    ** 2 - d ** 2, 0)) (lines that miss the circle are clamped to a zero chord: no
    dependence on their distance there)."""
    r = 1.0 + 0.1 * x[0]
    d = np.array([0.3, 0.8, 1.6, 2.5]) * (1 + 0.05 * x[1:2])
    chord = 2 * np.sqrt(np.maximum(r ** 2 - d ** 2, 0.0))
    return float(chord @ [1.0, 2.0, 3.0, 4.0] + x[2] * x[3])


@case(vector(4, 0.0, 2.0))
def python_max_zero_sqrt_guard(x):
    """The scalar idiom math.sqrt(max(0.0, s)) guarding a sqrt against negative arguments,
    where some s are well below zero (the clamp is active: the term is the constant 0)."""
    out = 0.0
    for k, v in enumerate(x):
        s = 1.0 - (v + k * 0.6) ** 2
        out += math.sqrt(max(0.0, s)) * (k + 1)
    return out + x[0] * x[1]


@case(vector(6, -1.0, 1.0))
def relu_then_sqrt_features(x):
    """Features sqrt(relu(z)) and np.clip(z, 0, None) ** 0.5 over a linear layer whose
    outputs are negative for some entries (the clamp is active there)."""
    W = np.array([[1.0, -0.5, 0.2], [-1.0, 0.3, -0.4], [0.5, 0.5, 0.5]])
    z = W @ x[:3] + np.array([0.5, -2.5, 1.5])
    f1 = np.sqrt(np.maximum(z, 0.0))
    f2 = np.clip(z, 0.0, None) ** 0.5
    return float(f1 @ x[3:] + f2.sum())


@case(vector(4, -1.0, 1.0))
def std_with_negative_variance_guard(x):
    """np.sqrt(np.maximum(E[x**2] - E[x]**2, 0)) per column of data with one constant column
    (its variance is exactly 0: the guard clamps, the std has derivative 0 there)."""
    data = np.stack([x, x * 2.0 + 1.0, np.full(4, x[0])], axis=1)
    col = data[:, 2] * 0.0 + 3.0
    data = np.column_stack([data[:, :2], col])
    var = np.maximum((data ** 2).mean(axis=0) - data.mean(axis=0) ** 2, 0.0)
    return float(np.sqrt(var) @ [1.0, 2.0, 3.0] + data.sum())


@case(vector(5, 0.1, 1.0))
def scipy_entropy_zero_bins(x):
    """scipy.stats.entropy of a histogram with empty bins (a mask times the data: p log p
    at p == 0 contributes the constant 0)."""
    from scipy import special, stats
    m = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    p = x * m
    q = np.full(5, 0.2)
    return float(stats.entropy(p) + special.xlogy(p, p).sum() + special.entr(p / p.sum()).sum()
                 + (special.rel_entr(p / p.sum(), q)).sum())


@case(vector(5, -1.0, 1.0))
def masked_softmax_minus_inf(x):
    """Masked attention: scores of masked positions set to -inf by np.where, a stable
    softmax (exp(-inf) = 0), weights times values."""
    mask = np.array([True, False, True, True, False])
    s = np.where(mask, x * 2.0, -np.inf)
    e = np.exp(s - s.max())
    w = e / e.sum()
    return float(w @ np.array([1.0, 5.0, -2.0, 0.5, 9.0]) + (w * w).sum())


@case(vector(3, 0.5, 1.5))
def eigh_repeated_eigenvalue(x):
    """np.linalg.eigh of x0 I + x1 e e^T (a double eigenvalue x0) where only the eigenvalues
    are used (a differentiable function: eigenvalues x0, x0, x0 + 3 x1)."""
    e = np.ones(3)
    A = x[0] * np.eye(3) + x[1] * np.outer(e, e)
    w, V = np.linalg.eigh(A)
    return float(w.sum() + w[-1] ** 2 + x[2] * w[0])


@case(vector(3, 0.5, 1.5))
def svd_repeated_singular_values(x):
    """np.linalg.svd of diag(x0, x0, x1/3) rotated (repeated top singular value): the
    nuclear norm and the spectral norm np.linalg.norm(A, 2)."""
    c, s = math.cos(0.3), math.sin(0.3)
    R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    A = R @ np.diag([x[0], x[0], x[1] / 3]) @ R.T * (1 + 0 * x[2])
    u, sv, vt = np.linalg.svd(A)
    return float(sv.sum() + np.linalg.norm(A, 2) * 2 + x[2])


@case(vector(4, -1.0, 1.0))
def determinant_duplicated_row(x):
    """np.linalg.det of a matrix with two equal rows (identically singular: the determinant
    is 0 at and around the point) plus a regular determinant."""
    A = np.array([[x[0], x[1], 1.0], [x[2], x[3], 2.0], [x[0], x[1], 1.0]])
    B = np.array([[2.0 + x[0], x[1]], [x[2], 3.0 + x[3]]])
    return float(np.linalg.det(A) * 5.0 + np.linalg.det(B))


@case(vector(6, -1.0, 1.0))
def pinv_rank_deficient_least_squares(x):
    """Least squares with a duplicated column by np.linalg.pinv (rank 2 of 3, constant rank
    around the point): the fitted values are differentiable."""
    t = np.linspace(0.0, 1.0, 6)
    X = np.column_stack([np.ones(6), t, t])
    beta = np.linalg.pinv(X) @ x
    fit = X @ beta
    return float(fit @ fit + beta.sum())


@case(vector(4, -1.0, 1.0))
def abs_power_of_masked_zero(x):
    """np.abs(z) ** 0.5 and np.cbrt(z) where z = x * mask has exact zeros (the masked
    terms are the constant 0)."""
    m = np.array([1.0, 0.0, 1.0, 0.0])
    z = x * m + np.array([2.0, 0.0, 2.0, 0.0])
    return float((np.abs(z) ** 0.5).sum() + np.cbrt(z) @ [1.0, 2.0, 3.0, 4.0])


@case(vector(6, -1.0, 1.0))
def unit_vectors_with_zero_guard(x):
    """Unit vectors v / |v| with a zero vector among them guarded by np.where(n > 0, n, 1):
    the zero row is a mask times the data."""
    V = x.reshape(3, 2) * np.array([[1.0], [0.0], [1.0]]) + np.array([[1.0, 0.0], [0.0, 0.0],
                                                                       [0.0, 1.0]])
    n = np.sqrt((V ** 2).sum(axis=1))
    U = V / np.where(n > 0, n, 1.0)[:, None]
    return float((U * np.array([[1.0, 2.0]])).sum() + n @ [1.0, 1.0, 2.0])


@case(vector(6, -1.0, 1.0))
def xlogx_where_guard(x):
    """The idiom np.where(x > 0, x * np.log(x), 0) over data with negative entries (the
    unused product is x * nan there)."""
    return float(np.where(x > 0, x * np.log(x), 0.0) @ np.arange(1.0, 7.0) + x @ x)


@case(vector(6, -1.0, 1.0))
def power_one_and_half_where_guard(x):
    """np.where(x > 0, x * np.sqrt(x), -x ** 2): the unused product is x * sqrt(negative)."""
    return float(np.where(x > 0, x * np.sqrt(x), -x ** 2).sum())
