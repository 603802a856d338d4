# ruff: noqa: B905, E731, B007, PLW2901, SIM108 - legacy code, kept as written
"""An eleventh set of legacy programs, written adversarially for what programs_classics1..10
reach least: value-dependent control flow (while loops to a tolerance: Newton, secant,
Halley, Ridders, Illinois, Wegstein, Lentz continued fractions, Dormand-Prince with step
rejection and PI control, adaptive Gauss-Kronrod with a heap, Armijo / Wolfe line searches,
BFGS, Nelder-Mead, momentum descent whose result depends on the input; break / continue /
for-else; try/except as control flow (ZeroDivisionError, math domain ValueError,
LinAlgError, StopIteration, AssertionError); max/min with key=, argmin / argsort picking a
branch; table lookups with integer index arithmetic, divmod / % / // on floats, math's
fmod / frexp / ldexp / modf / copysign / hypot / fsum / prod / dist / isclose, round and
floor in formulas), randomness (legacy np.random draws, Generators and RandomState with
traced parameters, random.Random's pure-Python samplers with traced parameters and their
rejection loops, Monte Carlo and importance sampling, shuffles, bootstrap, Metropolis
chains, the Gumbel-max trick) and numbers (float32 / float16 / longdouble mixed with
float64, judged against a float64 twin; complex intermediates through cmath and numpy;
Python ints and NumPy integer scalars as exponents and indices; Fraction and Decimal,
which must be reported). Each program is a deterministic function of its input."""

import bisect
import cmath
import decimal
import fractions
import heapq
import itertools
import math
import random

import numpy as np
from corpus_check import finite_difference
from registry import case, on_list, scalar, vector


def twin(prog64):
    """The reference gradient of a float64 twin of a reduced-precision program (central
    differences of the twin: the low-precision program's own differences are staircases)."""
    def ref(x):
        y0 = float(np.real(prog64(x.copy() if isinstance(x, np.ndarray) else x)))
        g, _ = finite_difference(prog64, x, y0)
        return g
    return ref


# ================================================================ roots to a tolerance


@case(scalar(0.5, 4.0))
def newton_while_exp_plus_linear(a):
    """Newton for exp(t) + t = a in a while loop on |f| (iteration count varies)."""
    t = 0.0
    f = math.exp(t) + t - a
    n = 0
    while abs(f) > 1e-14 * (1 + a) and n < 50:
        t = t - f / (math.exp(t) + 1.0)
        f = math.exp(t) + t - a
        n += 1
    return t * t + a * t


@case(scalar(1.5, 5.0))
def secant_while_cubic(c):
    """Secant for t^3 - 2t - c from (1, 3), stopping when the step is tiny."""
    t0, t1 = 1.0, 3.0
    f0, f1 = t0 ** 3 - 2 * t0 - c, t1 ** 3 - 2 * t1 - c
    while abs(t1 - t0) > 1e-13:
        if f1 == f0:
            break
        t2 = t1 - f1 * (t1 - t0) / (f1 - f0)
        t0, f0 = t1, f1
        t1 = t2
        f1 = t1 ** 3 - 2 * t1 - c
    return t1 + math.sin(t1 * c)


@case(scalar(1.2, 6.0))
def halley_x_pow_x(a):
    """Halley for t^t = a (log form g = t log t - log a), a relative step test."""
    la = math.log(a)
    t = 1.0 + la
    for _ in range(40):
        g = t * math.log(t) - la
        g1 = math.log(t) + 1.0
        g2 = 1.0 / t
        step = 2 * g * g1 / (2 * g1 * g1 - g * g2)
        t -= step
        if abs(step) < 1e-15 * t:
            break
    return t


@case(scalar(0.3, 2.5))
def ridders_root(a):
    """Ridders' method for exp(-t) = a t on [0, 5] with an exact-zero early return."""
    f = lambda t: math.exp(-t) - a * t
    lo, hi = 0.0, 5.0
    flo, fhi = f(lo), f(hi)
    ans = lo
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        fm = f(mid)
        s = math.sqrt(fm * fm - flo * fhi)
        if s == 0.0:
            return mid
        new = mid + (mid - lo) * (1.0 if flo >= fhi else -1.0) * fm / s
        fn = f(new)
        if abs(new - ans) < 1e-15:
            break
        ans = new
        if fn == 0.0:
            break
        if math.copysign(fm, fn) != fm:
            lo, flo, hi, fhi = mid, fm, new, fn
        elif math.copysign(flo, fn) != flo:
            hi, fhi = new, fn
        else:
            lo, flo = new, fn
        if abs(hi - lo) < 1e-15:
            break
    return ans * (1 + a)


@case(scalar(0.5, 3.0))
def illinois_for_else(a):
    """Illinois regula falsi for t^5 + t = a with a for ... else (no convergence: NaN)."""
    f = lambda t: t ** 5 + t - a
    lo, hi = 0.0, 2.0
    flo, fhi = f(lo), f(hi)
    side = 0
    for _ in range(200):
        r = (lo * fhi - hi * flo) / (fhi - flo)
        if abs(hi - lo) < 1e-14 * abs(lo + hi):
            break
        fr = f(r)
        if abs(fr) < 1e-15:
            break
        if fr * fhi > 0:
            hi, fhi = r, fr
            if side == -1:
                flo /= 2
            side = -1
        else:
            lo, flo = r, fr
            if side == 1:
                fhi /= 2
            side = 1
    else:
        r = float("nan")
    return r ** 2 + 3 * r


@case(scalar(0.2, 1.2))
def wegstein_fixed_point(a):
    """Wegstein's accelerated fixed point for t = exp(-a t) (slope estimate from the last
    two iterates; the tolerance decides the count)."""
    g = lambda t: math.exp(-a * t)
    x0 = 0.5
    x1 = g(x0)
    gx0 = x1
    while abs(x1 - x0) > 1e-14:
        gx1 = g(x1)
        if x1 == x0:
            break
        s = (gx1 - gx0) / (x1 - x0)
        q = s / (s - 1.0)
        x0, gx0 = x1, gx1
        x1 = q * x1 + (1 - q) * gx1
    return x1 * (2 + a)


@case(scalar(0.5, 3.0))
def lentz_continued_fraction_erfc(x):
    """erfc(x) by the modified Lentz continued fraction, stopping on |delta - 1| < eps."""
    tiny = 1e-300
    b = x
    f = b
    C, D = f, 0.0
    k = 1
    while True:
        a = k / 2.0
        D = x + a * D
        if D == 0.0:
            D = tiny
        C = x + a / C
        if C == 0.0:
            C = tiny
        D = 1.0 / D
        delta = C * D
        f *= delta
        if abs(delta - 1.0) < 1e-16 or k > 2000:
            break
        k += 1
    return math.exp(-x * x) / math.sqrt(math.pi) / f * 1e3


@case(scalar(0.4, 3.0))
def newton_with_bisection_safeguard(a):
    """rtsafe: Newton steps that leave the bracket (or shrink too slowly) fall back to
    bisection; root of t tanh(t) = a."""
    f = lambda t: t * math.tanh(t) - a
    df = lambda t: math.tanh(t) + t / math.cosh(t) ** 2
    lo, hi = 0.0, 5.0
    t = 0.5 * (lo + hi)
    dxold = dx = hi - lo
    ft, dft = f(t), df(t)
    for _ in range(100):
        if ((t - hi) * dft - ft) * ((t - lo) * dft - ft) > 0 or abs(2 * ft) > abs(dxold * dft):
            dxold, dx = dx, 0.5 * (hi - lo)
            t = lo + dx
        else:
            dxold, dx = dx, ft / dft
            t -= dx
        if abs(dx) < 1e-15:
            break
        ft, dft = f(t), df(t)
        if ft < 0:
            lo = t
        else:
            hi = t
    return t * t


@case(scalar(0.6, 2.5))
def implied_vol_newton_bisect(price):
    """Black-Scholes implied volatility: Newton on vega, bisection when vega is tiny or the
    step leaves (0, 5]; the price is the input."""
    S, K, T, r = 10.0, 10.5, 1.0, 0.01

    def bs(sig):
        d1 = (math.log(S / K) + (r + 0.5 * sig * sig) * T) / (sig * math.sqrt(T))
        d2 = d1 - sig * math.sqrt(T)
        N = lambda z: 0.5 * math.erfc(-z / math.sqrt(2))
        vega = S * math.sqrt(T) * math.exp(-d1 * d1 / 2) / math.sqrt(2 * math.pi)
        return S * N(d1) - K * math.exp(-r * T) * N(d2), vega

    lo, hi, sig = 1e-4, 5.0, 0.3
    for _ in range(100):
        p, vega = bs(sig)
        diff = p - price
        if abs(diff) < 1e-13:
            break
        if diff > 0:
            hi = sig
        else:
            lo = sig
        new = sig - diff / vega if vega > 1e-8 else -1.0
        sig = new if lo < new < hi else 0.5 * (lo + hi)
    return sig


@case(scalar(0.5, 2.0))
def steffensen_zero_division(a):
    """Steffensen for t = cos(t) * a / 2 whose denominator becomes exactly 0.0 once
    converged: ZeroDivisionError ends the loop."""
    g = lambda t: 0.5 * a * math.cos(t)
    t = 0.5
    try:
        for _ in range(100):
            g1 = g(t)
            g2 = g(g1)
            t = t - (g1 - t) ** 2 / (g2 - 2 * g1 + t)
    except ZeroDivisionError:
        pass
    return t + t ** 3


@case(scalar(2.0, 8.0))
def integer_newton_isqrt_then_polish(a):
    """Integer square root by math.isqrt of int(a * 1e6) starts a float Newton polish."""
    n = int(a * 1e6)
    t = math.isqrt(n) / 1000.0
    for _ in range(6):
        t = 0.5 * (t + a / t)
    return t * a


# ================================================================ optimisers, result depends on x


@case(vector(2, 0.5, 1.5))
def armijo_gradient_descent_fixed_iters(p):
    """30 steepest-descent steps with Armijo backtracking (the backtrack counts depend on p)
    on f(u, v) = (u - p0)^2 + 5 (v - u^2)^2 + p1 v^2; the final point's f."""
    def f(u, v):
        return (u - p[0]) ** 2 + 5 * (v - u * u) ** 2 + p[1] * v * v

    u, v = 0.0, 0.0
    for _ in range(30):
        gu = 2 * (u - p[0]) - 20 * u * (v - u * u)
        gv = 10 * (v - u * u) + 2 * p[1] * v
        t = 1.0
        f0 = f(u, v)
        while f(u - t * gu, v - t * gv) > f0 - 1e-4 * t * (gu * gu + gv * gv):
            t *= 0.5
        u, v = u - t * gu, v - t * gv
    return u + 2 * v


@case(vector(3, 0.5, 1.5))
def bfgs_by_hand_few_steps(p):
    """Six BFGS steps (inverse-Hessian update, backtracking line search) on a quadratic
    plus quartic with traced coefficients: the unconverged iterate's coordinates."""
    A = np.array([[3.0, 1.0], [1.0, 2.0]]) * p[0]
    b = np.array([p[1], -p[2]])

    def f(z):
        return 0.5 * z @ A @ z - b @ z + 0.1 * (z ** 4).sum()

    def grad(z):
        return A @ z - b + 0.4 * z ** 3

    z = np.zeros(2)
    H = np.eye(2)
    g = grad(z)
    for _ in range(6):
        d = -H @ g
        t = 1.0
        while f(z + t * d) > f(z) + 1e-4 * t * (g @ d):
            t *= 0.5
        s = t * d
        z = z + s
        gn = grad(z)
        y = gn - g
        sy = s @ y
        if sy > 1e-12:
            rho = 1.0 / sy
            I = np.eye(2)
            H = (I - rho * np.outer(s, y)) @ H @ (I - rho * np.outer(y, s)) + rho * np.outer(s, s)
        g = gn
    return float(z @ [1.0, 2.0])


@case(vector(2, -0.5, 0.5))
def nelder_mead_with_shrink_20(p):
    """20 Nelder-Mead iterations (reflection, expansion, both contractions, shrink) with
    the simplex sorted by traced values via sort(key=); the best vertex's value."""
    def f(v):
        return (v[0] - p[0]) ** 2 + 3 * (v[1] - p[1]) ** 2 + v[0] * v[1] * 0.5

    simplex = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    for _ in range(20):
        simplex.sort(key=f)
        best, mid, worst = simplex
        c = [(best[i] + mid[i]) / 2 for i in range(2)]
        r = [c[i] + (c[i] - worst[i]) for i in range(2)]
        if f(r) < f(best):
            e = [c[i] + 2 * (c[i] - worst[i]) for i in range(2)]
            simplex[2] = e if f(e) < f(r) else r
        elif f(r) < f(mid):
            simplex[2] = r
        else:
            k = [c[i] + 0.5 * (worst[i] - c[i]) for i in range(2)]
            if f(k) < f(worst):
                simplex[2] = k
            else:
                simplex = [best] + [[best[i] + 0.5 * (v[i] - best[i]) for i in range(2)]
                                    for v in (mid, worst)]
    return min(f(v) for v in simplex)


def _momentum_ref(p):
    # minimiser of (u - p0)^2 + (u - p0)^4 / 4 + p1 u^2 ... solved through the implicit function
    u = _momentum_descent(p)[0]
    fu = 2 * (u - p[0]) + (u - p[0]) ** 3 + 2 * p[1] * u
    del fu
    h = 2 + 3 * (u - p[0]) ** 2 + 2 * p[1]
    du_dp0 = (2 + 3 * (u - p[0]) ** 2) / h
    du_dp1 = -2 * u / h
    return [du_dp0, du_dp1]


def _momentum_descent(p):
    u, v = 0.0, 0.0
    k = 0
    while True:
        g = 2 * (u - p[0]) + (u - p[0]) ** 3 + 2 * p[1] * u
        if abs(g) < 1e-13 or k > 5000:
            break
        v = 0.8 * v - 0.05 * g
        u = u + v
        k += 1
    return u, k


@case(vector(2, 0.3, 1.2), reference=_momentum_ref)
def momentum_descent_to_tolerance(p):
    """Heavy-ball descent until |f'| < 1e-13: the minimiser of a quartic in u (the
    iteration count depends on p); reference from the implicit function theorem."""
    return _momentum_descent(p)[0]


@case(scalar(0.5, 2.0))
def grid_argmin_then_parabola(a):
    """The argmin of f on a 41-point grid picks three nodes (index arithmetic), then the
    vertex of the parabola through them (a smooth function of a at fixed index)."""
    f = lambda t: (t - a) ** 2 * (1 + 0.3 * t) + 0.2 * math.sin(3 * t)
    ts = [i * 0.1 for i in range(41)]
    fs = [f(t) for t in ts]
    i = min(range(1, 40), key=lambda j: fs[j])
    f0, f1, f2 = fs[i - 1], fs[i], fs[i + 1]
    h = 0.1
    return ts[i] + 0.5 * h * (f0 - f2) / (f0 - 2 * f1 + f2)


def _golden_env_ref(a):
    t = _golden_min(a)
    return [2 * (a - t) * 1.0]


def _golden_min(a):
    f = lambda t: (t - a) ** 2 + 0.05 * t ** 4
    lo, hi = -3.0, 3.0
    r = (math.sqrt(5) - 1) / 2
    c, d = hi - r * (hi - lo), lo + r * (hi - lo)
    while hi - lo > 1e-9:
        if f(c) < f(d):
            hi, d = d, c
            c = hi - r * (hi - lo)
        else:
            lo, c = c, d
            d = lo + r * (hi - lo)
    return 0.5 * (lo + hi)


@case(scalar(0.5, 2.0))
def golden_section_min_value(a):
    """The minimum VALUE of (t - a)^2 + 0.05 t^4 found by golden-section search: its
    derivative (the envelope theorem) needs no derivative of the minimiser."""
    t = _golden_min(a)
    return (t - a) ** 2 + 0.05 * t ** 4


def _ternary_ref(a):
    t = ternary_search_argmin(a)
    return [2.0 / (2.0 + 1.2 * t * t)]


@case(scalar(0.5, 2.0), reference=lambda a: _ternary_ref(a))
def ternary_search_argmin(a):
    """The minimiser itself by ternary search (comparisons only): the gradient is lost,
    which must be reported."""
    f = lambda t: (t - a) ** 2 + 0.1 * t ** 4
    lo, hi = -3.0, 3.0
    while hi - lo > 1e-7:
        m1 = lo + (hi - lo) / 3
        m2 = hi - (hi - lo) / 3
        if f(m1) < f(m2):
            hi = m2
        else:
            lo = m1
    return (lo + hi) / 2


@case(vector(2, 0.5, 1.5))
def trust_region_cauchy_steps(p):
    """15 trust-region iterations with Cauchy points: the radius grows or shrinks by the
    traced ratio of actual to predicted reduction; the final f."""
    def f(z):
        return p[0] * (z[0] - 1) ** 2 + (z[1] + p[1]) ** 2 + 0.5 * z[0] ** 2 * z[1] ** 2

    def grad(z):
        return np.array([2 * p[0] * (z[0] - 1) + z[0] * z[1] ** 2,
                         2 * (z[1] + p[1]) + z[0] ** 2 * z[1]])

    def hess(z):
        return np.array([[2 * p[0] + z[1] ** 2, 2 * z[0] * z[1]],
                         [2 * z[0] * z[1], 2 + z[0] ** 2]])

    z = np.array([0.0, 0.0])
    delta = 0.5
    for _ in range(15):
        g, B = grad(z), hess(z)
        gn = np.linalg.norm(g)
        if gn < 1e-12:
            break
        gBg = g @ B @ g
        tau = 1.0 if gBg <= 0 else min(gn ** 3 / (delta * gBg), 1.0)
        s = -tau * delta / gn * g
        pred = -(g @ s + 0.5 * s @ B @ s)
        rho = (f(z) - f(z + s)) / pred
        if rho < 0.25:
            delta *= 0.25
        elif rho > 0.75 and abs(np.linalg.norm(s) - delta) < 1e-12:
            delta = min(2 * delta, 4.0)
        if rho > 0.1:
            z = z + s
    return float(f(z))


@case(vector(2, 0.5, 1.5))
def coordinate_descent_soft_threshold(p):
    """Lasso by coordinate descent with soft thresholding (a coordinate set to exactly zero
    where |rho| < lambda), 50 sweeps; returns the fitted coefficients' weighted sum."""
    X = np.array([[1.0, 0.5], [0.3, 1.0], [0.7, -0.2], [-0.4, 0.9]])
    y = np.array([1.0, 2.0, p[0], -p[1]])
    lam = 0.3
    w = np.zeros(2)
    for _ in range(50):
        for j in range(2):
            r = y - X @ w + X[:, j] * w[j]
            rho = X[:, j] @ r
            zj = X[:, j] @ X[:, j]
            if rho < -lam:
                w[j] = (rho + lam) / zj
            elif rho > lam:
                w[j] = (rho - lam) / zj
            else:
                w[j] = 0.0
    return float(w @ [1.0, 3.0])


# ================================================================ adaptive integrators


@case(vector(2, 0.5, 1.5))
def dormand_prince_pi_control(p):
    """Dormand-Prince 5(4) with step rejection, PI step-size control and the last step cut
    to land on t = 2: y' = -p0 y + sin(p1 t); y(2)."""
    c = [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1]
    A = [[], [1 / 5], [3 / 40, 9 / 40], [44 / 45, -56 / 15, 32 / 9],
         [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
         [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
         [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84]]
    b5 = [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0]
    b4 = [5179 / 57600, 0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40]
    f = lambda t, y: -p[0] * y + math.sin(p[1] * t)
    t, y, h, T = 0.0, 1.0, 0.1, 2.0
    errold = 1e-4
    while t < T:
        h = min(h, T - t)
        k = []
        for i in range(7):
            yi = y + h * sum(a * kk for a, kk in zip(A[i], k))
            k.append(f(t + c[i] * h, yi))
        y5 = y + h * sum(b * kk for b, kk in zip(b5, k))
        y4 = y + h * sum(b * kk for b, kk in zip(b4, k))
        err = abs(y5 - y4) / (1e-6 + 1e-6 * abs(y5))
        if err <= 1.0:
            t, y = t + h, y5
            fac = 0.9 * err ** (-0.7 / 5) * errold ** (0.4 / 5) if err > 0 else 5.0
            h *= min(5.0, max(0.2, fac))
            errold = max(err, 1e-4)
        else:
            h *= max(0.2, 0.9 * err ** (-0.2))
    return y


def _gk15(f, a, b):
    xgk = [0.991455371120813, 0.949107912342759, 0.864864423359769, 0.741531185599394,
           0.586087235467691, 0.405845151377397, 0.207784955007898, 0.0]
    wgk = [0.022935322010529, 0.063092092629979, 0.104790010322250, 0.140653259715525,
           0.169004726639267, 0.190350578064785, 0.204432940075298, 0.209482141084728]
    wg = [0.129484966168870, 0.279705391489277, 0.381830050505119, 0.417959183673469]
    c, h = 0.5 * (a + b), 0.5 * (b - a)
    fc = f(c)
    k, g = wgk[7] * fc, wg[3] * fc
    for j in range(7):
        f1, f2 = f(c - h * xgk[j]), f(c + h * xgk[j])
        k += wgk[j] * (f1 + f2)
        if j % 2 == 1:
            g += wg[j // 2] * (f1 + f2)
    return k * h, abs((k - g) * h)


@case(vector(2, 0.5, 2.0))
def adaptive_gauss_kronrod_heap(p):
    """Adaptive G7-K15 with a heap of intervals keyed by traced error estimates (the worst
    is split until the total error is below a tolerance): int_0^{p1} sqrt(t) exp(-p0 t)."""
    f = lambda t: math.sqrt(t) * math.exp(-p[0] * t)
    val, err = _gk15(f, 0.0, p[1])
    heap = [(-err, 0.0, p[1], val)]
    total, toterr = val, err
    n = 0
    while toterr > 1e-11 and n < 200:
        e, a, b, v = heapq.heappop(heap)
        m = 0.5 * (a + b)
        v1, e1 = _gk15(f, a, m)
        v2, e2 = _gk15(f, m, b)
        total += v1 + v2 - v
        toterr += e1 + e2 + e
        heapq.heappush(heap, (-e1, a, m, v1))
        heapq.heappush(heap, (-e2, m, b, v2))
        n += 1
    return math.fsum(-0.0 + item[3] for item in heap) + 0 * total


@case(vector(2, 0.5, 2.0))
def adaptive_simpson_traced_limits(p):
    """Recursive adaptive Simpson with Richardson correction on [p0, p0 + p1] of
    log(1 + t^2) / (1 + t): the recursion depth depends on p."""
    f = lambda t: math.log(1 + t * t) / (1 + t)

    def rec(a, b, fa, fm, fb, whole, eps, depth):
        m = 0.5 * (a + b)
        lm, rm = 0.5 * (a + m), 0.5 * (m + b)
        flm, frm = f(lm), f(rm)
        left = (m - a) / 6 * (fa + 4 * flm + fm)
        right = (b - m) / 6 * (fm + 4 * frm + fb)
        if depth <= 0 or abs(left + right - whole) <= 15 * eps:
            return left + right + (left + right - whole) / 15
        return (rec(a, m, fa, flm, fm, left, eps / 2, depth - 1)
                + rec(m, b, fm, frm, fb, right, eps / 2, depth - 1))

    a, b = p[0], p[0] + p[1]
    fa, fb, fm = f(a), f(b), f(0.5 * (a + b))
    return rec(a, b, fa, fm, fb, (b - a) / 6 * (fa + 4 * fm + fb), 1e-10, 40)


@case(scalar(0.5, 2.0))
def trapezoid_step_doubling(a):
    """Trapezoid rule with step doubling until two successive values agree to 1e-10
    (reusing the old sum): int_0^1 exp(-a t^2)."""
    f = lambda t: math.exp(-a * t * t)
    n, h = 1, 1.0
    T = 0.5 * (f(0.0) + f(1.0))
    while True:
        s = sum(f((2 * i + 1) * h / 2) for i in range(n))
        Tn = 0.5 * T + 0.5 * h * s
        n, h = 2 * n, h / 2
        if abs(Tn - T) < 1e-10:
            return Tn
        T = Tn


@case(vector(2, 0.8, 1.5))
def event_location_linear_crossing(p):
    """Fixed-step RK4 for a projectile with drag until the height changes sign (the step
    index depends on p), then the crossing time by linear interpolation."""
    def rhs(s):
        x, y, vx, vy = s
        v = math.hypot(vx, vy)
        return [vx, vy, -0.1 * v * vx, -9.81 - 0.1 * v * vy]

    s = [0.0, 0.0, 5.0 * p[0], 5.0 * p[1]]
    t, h = 0.0, 0.01
    while True:
        k1 = rhs(s)
        k2 = rhs([a + 0.5 * h * b for a, b in zip(s, k1)])
        k3 = rhs([a + 0.5 * h * b for a, b in zip(s, k2)])
        k4 = rhs([a + h * b for a, b in zip(s, k3)])
        new = [a + h / 6 * (b + 2 * c + 2 * d + e) for a, b, c, d, e in zip(s, k1, k2, k3, k4)]
        if new[1] < 0 and t > 0:
            frac = s[1] / (s[1] - new[1])
            return t + frac * h + (s[0] + frac * (new[0] - s[0]))
        s, t = new, t + h


@case(scalar(0.5, 2.0))
def series_until_small_term(x):
    """exp(x) cos-like series summed until the term is below 1e-17 of the sum (the term
    count depends on x), with `continue` skipping the odd terms."""
    total, term, k = 0.0, 1.0, 0
    while abs(term) > 1e-17 * abs(total) or k < 2:
        if k % 2 == 1:
            k += 1
            term *= x / k
            continue
        total += term * (-1) ** (k // 2)
        k += 1
        term *= x / k
    return total


# ================================================================ exceptions as control flow


@case(scalar(0.2, 3.0))
def sqrt_domain_error_fallback(a):
    """math.sqrt of a discriminant that is negative for some a: ValueError switches to the
    complex root's modulus."""
    disc = 1.0 - a * a
    try:
        r = math.sqrt(disc)
        return (1.0 + r) / a
    except ValueError:
        return abs(complex(1.0, math.sqrt(-disc))) / a


@case(vector(3, -1.0, 1.0))
def log_domain_errors_skipped(x):
    """Terms whose math.log argument is not positive raise ValueError and are skipped."""
    s = 0.0
    for i, v in enumerate(x):
        try:
            s += (i + 1) * math.log(v + 0.2 * i)
        except ValueError:
            s += v * v
    return s


@case(vector(3, -0.6, 0.6))
def cholesky_jitter_until_pd(x):
    """np.linalg.cholesky raises LinAlgError on a not-PD matrix; the jitter doubles until it
    succeeds (the count depends on x); the log-determinant of the jittered matrix."""
    A = np.array([[1.0, x[0], x[1]], [x[0], 1.0, x[2]], [x[1], x[2], 1.0]]) * 0.6
    A = A + 0.1 * np.outer(x, x) - 0.05 * np.eye(3)
    jitter = 1e-3
    while True:
        try:
            L = np.linalg.cholesky(A + jitter * np.eye(3) - 1e-3 * np.eye(3))
            break
        except np.linalg.LinAlgError:
            jitter *= 2.0
    return float(2 * np.log(np.diag(L)).sum())


@case(vector(4, 0.5, 2.0))
def stop_iteration_manual_loop(x):
    """A generator drained by next() in while True until StopIteration, plus next(it,
    default) past its end."""
    def scaled(vals):
        for i, v in enumerate(vals):
            if v > 1.8:
                return
            yield v * (i + 1)

    it = scaled(list(x))
    s = 0.0
    while True:
        try:
            s += math.sin(next(it))
        except StopIteration:
            break
    return s + next(it, 0.5) * x[0]


@case(scalar(0.2, 2.0))
def zero_division_removable_point(a):
    """(f(a) - f(1)) / (a - 1): ZeroDivisionError at a == 1 returns f'(1); else the
    quotient (a smooth function of a)."""
    f = lambda t: t ** 3 + math.sin(t)
    try:
        return (f(a) - f(1.0)) / (a - 1.0)
    except ZeroDivisionError:
        return 3.0 + math.cos(1.0)


@case(vector(3, 0.1, 1.0))
def assertion_guarded_normalise(x):
    """assert each weight positive; an AssertionError from a sum below a threshold falls
    back to another normalisation."""
    try:
        s = sum(x)
        assert s > 1.5, "small"
        w = [v / s for v in x]
    except AssertionError:
        w = [v / math.sqrt(sum(t * t for t in x)) for v in x]
    return sum((i + 1) * v for i, v in enumerate(w))


@case(vector(3, 0.3, 2.0))
def key_error_default_branch(x):
    """A dict of polynomial coefficients keyed by int(10 * x[i]); missing keys raise
    KeyError and use another formula."""
    table = {3: (1.0, 2.0), 5: (0.5, -1.0), 7: (2.0, 0.1), 11: (-1.0, 1.0), 15: (0.3, 0.3)}
    s = 0.0
    for v in x:
        try:
            a, b = table[int(10 * v)]
            s += a * v + b * v * v
        except KeyError:
            s += math.exp(-v)
    return s


# ================================================================ key= / argmin / argsort branches


@case(vector(4, -2.0, 2.0))
def max_key_abs_picks_formula(x):
    """max over candidate expressions by key=abs: the winner's value (a selection among
    smooth branches)."""
    cands = [x[0] * x[1], x[2] - x[3] ** 2, math.sin(x[0] + x[3]), 0.5 * x[1] * x[2] * x[3]]
    return max(cands, key=abs) + min(cands, key=lambda c: (c - 0.1) ** 2)


@case(vector(3, 0.0, 3.0))
def argmin_nearest_node_taylor(x):
    """np.argmin picks the nearest node of a grid; a 2nd-order Taylor expansion of exp
    around it (an approximation whose node changes with x)."""
    nodes = np.linspace(0.0, 3.0, 7)
    s = 0.0
    for v in x:
        i = int(np.argmin(np.abs(nodes - v)))
        d = v - nodes[i]
        e = math.exp(nodes[i])
        s += e * (1 + d + d * d / 2)
    return s


@case(vector(5, -1.0, 1.0))
def argsort_middle_three(x):
    """np.argsort of traced values picks the middle three; their weighted combination."""
    order = np.argsort(x ** 3 - x)
    mid = x[order[1:4]]
    return float(mid @ [1.0, 2.0, 3.0] + x[order[0]] * x[order[-1]])


@case(vector(6, -1.0, 1.0))
def sorted_key_then_pairs(x):
    """sorted(pairs, key=second) over traced keys, then products of neighbours."""
    pairs = [(x[i], x[i + 3]) for i in range(3)]
    pairs = sorted(pairs, key=lambda t: t[1] * t[0])
    return sum(a * b + (i + 1) * a for i, (a, b) in enumerate(pairs))


@case(vector(6, -2.0, 2.0))
def heapq_nsmallest_key(x):
    """heapq.nsmallest(3, values, key=) and heapq.nlargest over traced values."""
    vals = [math.sin(v) + 0.1 * i for i, v in enumerate(x)]
    lo = heapq.nsmallest(3, vals, key=lambda v: (v - 0.2) ** 2)
    hi = heapq.nlargest(2, vals)
    return sum(lo) * 2 + hi[0] - hi[1] * 0.5


@case(vector(5, -1.5, 1.5))
def piecewise_select_clip_maximum(x):
    """np.piecewise with lambdas closing over a traced scale, np.select, np.clip with
    traced bounds, np.maximum / np.minimum of two traced arrays."""
    s = 1.0 + x[0] ** 2
    pw = np.piecewise(x, [x < -0.5, (x >= -0.5) & (x < 0.5), x >= 0.5],
                      [lambda t: s * t, lambda t: t ** 3, lambda t: np.sqrt(t) * s])
    sel = np.select([x < 0, x < 1], [x * x, np.sin(x)], default=x / 2)
    cl = np.clip(x, -x[1] ** 2 - 0.2, 0.2 + x[2] ** 2)
    mm = np.maximum(x, x[::-1] * 0.7) + np.minimum(x, 0.3 * x[::-1] - 0.1)
    return float(pw.sum() + sel @ np.arange(5.0) + cl.sum() * 2 + mm @ [1, 2, 3, 4, 5])


@case(vector(4, -1.0, 1.0))
def where_both_branches_finite(x):
    """np.where over a condition on traced values, both branches finite everywhere, and a
    nested np.where on a difference."""
    y = np.where(x > 0, np.exp(-x) * x, np.log1p(x * x))
    z = np.where(y > x, y - x, np.where(x > 0.5, x * 2, -x))
    return float((y + z) @ [1.0, -1.0, 2.0, 0.5])


# ================================================================ table lookups


@case(scalar(0.05, 6.2))
def sine_table_integer_index(x):
    """A 64-entry sine table: i = int(x / h), t = x - i * h, linear interpolation between
    entries (the slope of the table segment is the derivative)."""
    n = 64
    h = 2 * math.pi / n
    table = [math.sin(i * h) for i in range(n + 1)]
    i = int(x / h)
    t = (x - i * h) / h
    return table[i] * (1 - t) + table[i + 1] * t


@case(scalar(0.1, 9.9))
def np_interp_traced_fp_and_x(x):
    """np.interp with a fixed xp, traced fp (a function of x) and the traced query."""
    xp = np.linspace(0.0, 10.0, 11)
    fp = np.sqrt(xp + 1.0) * (1 + 0.1 * x)
    return float(np.interp(x, xp, fp) + np.interp(x * 0.5, xp, fp ** 2))


@case(vector(3, 0.0, 10.0))
def searchsorted_hermite_segment(x):
    """np.searchsorted picks a segment of a cubic Hermite table (values and slopes of
    log(1 + t)); the Hermite basis on the segment."""
    xs = np.array([0.0, 1.0, 2.5, 4.0, 6.0, 8.0, 10.0])
    ys = np.log1p(xs)
    ds = 1.0 / (1.0 + xs)
    i = np.clip(np.searchsorted(xs, x) - 1, 0, len(xs) - 2)
    h = xs[i + 1] - xs[i]
    t = (x - xs[i]) / h
    h00, h10 = 2 * t ** 3 - 3 * t ** 2 + 1, t ** 3 - 2 * t ** 2 + t
    h01, h11 = -2 * t ** 3 + 3 * t ** 2, t ** 3 - t ** 2
    y = h00 * ys[i] + h10 * h * ds[i] + h01 * ys[i + 1] + h11 * h * ds[i + 1]
    return float(y @ [1.0, 2.0, 3.0])


@case(scalar(5000.0, 250000.0))
def tax_brackets_dict(income):
    """A dict of bracket thresholds -> rates walked with sorted(); the marginal tax (a
    piecewise-linear function of income)."""
    brackets = {0.0: 0.0, 10000.0: 0.1, 40000.0: 0.2, 90000.0: 0.3, 180000.0: 0.4}
    tax = 0.0
    bounds = sorted(brackets)
    for lo, hi in zip(bounds, bounds[1:] + [float("inf")]):
        if income <= lo:
            break
        tax += (min(income, hi) - lo) * brackets[lo]
    return tax


@case(vector(3, 0.0, 5.0))
def bisect_module_piecewise_quadratic(x):
    """bisect.bisect_right on a knot list picks coefficients of a piecewise quadratic."""
    knots = [0.5, 1.5, 2.0, 3.2, 4.4]
    coefs = [(1.0, 0.0, 0.5), (0.2, 1.0, -0.3), (0.0, 2.0, 0.1), (1.5, -0.5, 0.2),
             (0.7, 0.7, 0.0), (-1.0, 3.0, 0.05)]
    s = 0.0
    for v in x:
        a, b, c = coefs[bisect.bisect_right(knots, v)]
        s += a + b * v + c * v * v
    return s


@case(vector(5, -2.0, 2.0))
def digitize_bin_scales(x):
    """np.digitize of traced values into fixed bins scales each by the bin's weight."""
    bins = np.array([-1.0, -0.2, 0.4, 1.3])
    w = np.array([0.5, 1.0, 2.0, 3.0, -1.0])
    idx = np.digitize(x, bins)
    return float((w[idx] * x ** 2).sum() + np.bincount(idx, weights=x, minlength=5) @ w)


# ================================================================ float arithmetic functions


@case(scalar(0.3, 9.0))
def divmod_float_parts(x):
    """divmod(x, 0.7): the remainder carries the derivative, the quotient is constant;
    also x % 1.3 and x // 0.45 in a formula, and negative divisors."""
    q, r = divmod(x, 0.7)
    return r * r + q * r + (x % 1.3) * 2 - (x // 0.45) * x + (x % -0.9) * 0.5


@case(scalar(-6.0, 6.0))
def math_fmod_remainder_signs(x):
    """math.fmod (sign of the dividend) versus % (sign of the divisor) and math.remainder
    (round-to-nearest)."""
    return math.fmod(x, 1.7) * 3 + (x % 1.7) * 2 + math.remainder(x, 1.1) * math.cos(x)


@case(scalar(0.01, 500.0))
def frexp_ldexp_mantissa_log(x):
    """log2 by frexp: m * 2**e with m in [0.5, 1); a polynomial in m plus e (the exponent
    changes at powers of two), and ldexp back."""
    m, e = math.frexp(x)
    z = (m - 0.75) / 0.75
    l2 = e + math.log2(0.75) + (z - z * z / 2 + z ** 3 / 3 - z ** 4 / 4) / math.log(2)
    return l2 + math.ldexp(m, 2) * e


@case(scalar(-4.0, 4.0))
def modf_copysign_trunc(x):
    """math.modf's fractional part, math.copysign with a traced magnitude and sign source,
    math.trunc / floor / ceil in a formula."""
    frac, whole = math.modf(x)
    return (frac * 3 + whole * frac + math.copysign(x * x, math.sin(x)) + math.trunc(x) * x
            + math.floor(x) - math.ceil(x) * 0.5)


@case(vector(4, -2.0, 2.0))
def hypot_fsum_prod_dist(x):
    """math.hypot of four traced floats, math.fsum, math.prod (with an int start), math.dist
    between traced points."""
    return (math.hypot(*x) + math.fsum(v ** 3 for v in x) + math.prod(x, start=2)
            + math.dist(x[:2], x[2:]) * 0.5)


@case(vector(3, 0.0, 2.0))
def isclose_branch_tolerance(x):
    """math.isclose decides whether a cached value is reused (a branch on closeness)."""
    last = 1.0
    s = 0.0
    for v in x:
        if math.isclose(v, last, rel_tol=0.2):
            s += last * v
        else:
            s += math.sqrt(v + 1)
            last = v
    return s


@case(scalar(0.2, 5.0))
def round_and_floor_staircases(x):
    """round(x, 2), round(x), math.floor(8 x) / 8 added to smooth terms: the staircases
    contribute zero derivative."""
    return (round(x, 2) + round(x) * 0.01 + math.floor(8 * x) / 8 + x * x
            + math.sin(round(x * 3) + x))


@case(scalar(0.5, 30.0))
def numpy_floor_divide_mod_array(x):
    """np.floor_divide / np.mod / np.fmod / np.divmod on arrays built from a traced x."""
    a = x * np.array([1.0, 0.5, 2.0, -1.0])
    q, r = np.divmod(a, 3.0)
    return float((np.mod(a, 2.5) + np.fmod(a, 1.5) * 2 + r * q + np.floor_divide(a, 0.7))
                 @ [1, 2, 3, 4])


@case(scalar(0.3, 3.0))
def ceil_count_of_steps(x):
    """n = math.ceil(x / h) fixed steps of Euler to reach x exactly (h' = x / n): the step
    count jumps, each piece is smooth."""
    n = math.ceil(x / 0.1)
    h = x / n
    y = 1.0
    for _ in range(n):
        y += h * (-y + math.sin(y))
    return y


# ================================================================ randomness: legacy np.random


@case(vector(2, -0.5, 0.5))
def legacy_seed_lognormal_mc(p):
    """np.random.seed(7) then np.random.randn draws: a Monte Carlo mean of exp(p0 + p1 z)
    (reparameterised by hand: the draws are constants)."""
    np.random.seed(7)
    z = np.random.randn(400)
    return float(np.mean(np.exp(p[0] + (1 + p[1]) * z)))


@case(vector(2, 0.5, 1.5))
def legacy_normal_traced_loc_scale(p):
    """np.random.normal(loc=p0, scale=p1, size=...) after a seed: the reparameterisation a
    user expects (loc + scale * z), or a reported hazard."""
    np.random.seed(3)
    s = np.random.normal(loc=p[0], scale=p[1], size=300)
    return float(np.mean(s ** 2))


@case(vector(2, 0.5, 1.5))
def legacy_uniform_exponential_traced(p):
    """np.random.uniform(low, high=traced) and np.random.exponential(scale=traced)."""
    np.random.seed(11)
    u = np.random.uniform(0.0, p[0], size=200)
    e = np.random.exponential(scale=p[1], size=200)
    return float(u.mean() + np.sqrt(e).mean())


@case(vector(2, 0.5, 1.5))
def randomstate_object_normal(p):
    """np.random.RandomState(5).normal with a traced loc and the standard normal drawn
    separately (mixing the two spellings)."""
    rs = np.random.RandomState(5)
    a = rs.normal(p[0], 1.0, size=100)
    b = p[1] * rs.standard_normal(100)
    return float(np.tanh(a).mean() + (b * b).mean())


@case(vector(5, -1.0, 1.0))
def legacy_shuffle_permutation_choice(x):
    """np.random.shuffle of a traced array in place, np.random.permutation and
    np.random.choice of traced arrays (selections of the traced values)."""
    np.random.seed(2)
    a = x * np.arange(1.0, 6.0)
    np.random.shuffle(a)
    b = np.random.permutation(x)
    c = np.random.choice(x, size=7, replace=True)
    return float(a @ [1, 2, 3, 4, 5] + b @ [5, 1, 2, 0, 1] + (c ** 2).sum())


@case(scalar(0.3, 2.0))
def box_muller_by_hand(s):
    """Box-Muller from np.random.rand pairs: z = sqrt(-2 log u1) cos(2 pi u2) scaled by s,
    E[|s z|^3]."""
    np.random.seed(4)
    u1, u2 = np.random.rand(2, 300)
    z = np.sqrt(-2 * np.log(u1)) * np.cos(2 * np.pi * u2)
    return float(np.mean(np.abs(s * z) ** 3))


# ================================================================ Generators with traced parameters


@case(vector(2, 0.5, 1.5))
def generator_normal_loc_scale(p):
    """rng.normal(loc=p0, scale=p1, size=...) from default_rng(42): the reparameterisation
    or a reported hazard."""
    rng = np.random.default_rng(42)
    s = rng.normal(loc=p[0], scale=p[1], size=200)
    return float(np.mean(np.sin(s)))


@case(vector(2, 1.5, 3.0))
def generator_uniform_traced_high(p):
    """rng.uniform(low=0.5, high=p0) and rng.uniform(p1, 4.0) (a traced low)."""
    rng = np.random.default_rng(1)
    return float(rng.uniform(0.5, p[0], size=100).mean() + (rng.uniform(p[1], 4.0, 50) ** 2).mean())


@case(scalar(0.5, 2.0))
def generator_exponential_scale(s):
    """rng.exponential(scale=s): E[min(E, 1)] by Monte Carlo."""
    rng = np.random.default_rng(8)
    e = rng.exponential(scale=s, size=300)
    return float(np.minimum(e, 1.0).mean())


@case(vector(2, 0.5, 1.5))
def generator_standard_then_affine(p):
    """rng.standard_normal and rng.random drawn first, then shifted and scaled by traced
    parameters (the reparameterisation written out: must pass)."""
    rng = np.random.default_rng(12)
    z = rng.standard_normal(300)
    u = rng.random(300)
    return float(np.mean(np.exp(-(p[0] + p[1] * z) ** 2)) + np.mean(-np.log(u) * p[1]))


@case(vector(3, 0.5, 1.5))
def generator_bootstrap_std(x):
    """Bootstrap: rng.integers resamples indices of traced data; the standard deviation of
    the resampled means."""
    rng = np.random.default_rng(21)
    data = np.concatenate([x, x ** 2, np.sin(x)])
    idx = rng.integers(0, data.size, size=(50, data.size))
    means = data[idx].mean(axis=1)
    return float(means.std() + means.mean())


@case(vector(5, -1.0, 1.0))
def generator_permutation_sgd(x):
    """SGD over minibatches in an order given by rng.permutation(n) (indices), fitting a
    line to traced targets; the slope after two epochs."""
    rng = np.random.default_rng(5)
    t = np.linspace(0.0, 1.0, 5)
    w, b = 0.0, 0.0
    for epoch in range(2):
        for i in rng.permutation(5):
            err = w * t[i] + b - x[i]
            w -= 0.3 * err * t[i]
            b -= 0.3 * err
    return w + 0.5 * b


@case(vector(2, 0.5, 1.5))
def generator_gamma_shape(p):
    """rng.gamma(shape=p0, scale=p1): a traced shape (rejection inside the sampler) must be
    reported or differentiated."""
    rng = np.random.default_rng(31)
    g = rng.gamma(shape=p[0], scale=p[1], size=200)
    return float(np.mean(np.log1p(g)))


@case(vector(3, -0.5, 0.5))
def generator_multivariate_normal(p):
    """rng.multivariate_normal with a traced mean and covariance (a Cython call that
    factors the covariance inside)."""
    rng = np.random.default_rng(17)
    cov = np.array([[1.0 + p[2] ** 2, 0.3], [0.3, 1.0]])
    s = rng.multivariate_normal(p[:2], cov, size=100)
    return float(np.mean(s[:, 0] * s[:, 1]) + s.mean())


@case(vector(4, -1.0, 1.0))
def generator_choice_of_traced(x):
    """rng.choice(traced array, size, p=weights) and rng.shuffle of a traced copy."""
    rng = np.random.default_rng(14)
    c = rng.choice(x, size=8, p=[0.1, 0.2, 0.3, 0.4])
    y = x * 2.0
    rng.shuffle(y)
    return float(c.sum() + y @ [1, 2, 3, 4])


@case(vector(3, -1.0, 1.0))
def gumbel_max_trick(x):
    """The Gumbel-max trick: argmax(logits + Gumbel noise) picks an index; the value of
    the picked logit and a softmax-weighted sum."""
    rng = np.random.default_rng(99)
    tot = 0.0
    for _ in range(20):
        g = -np.log(-np.log(rng.random(3)))
        k = int(np.argmax(x + g))
        tot += x[k]
    w = np.exp(x) / np.exp(x).sum()
    return tot + float(w @ x)


@case(scalar(-1.0, 1.0))
def metropolis_chain_mean(m):
    """Random-walk Metropolis for N(m, 1) with a fixed seed: accept/reject depends on m; the
    chain mean (piecewise smooth: states are proposals built from the start at m)."""
    rng = np.random.default_rng(123)
    z = rng.standard_normal(200) * 0.8
    u = rng.random(200)
    x = m + 0.3
    s = 0.0
    for i in range(200):
        y = x + z[i]
        if math.log(u[i]) < -0.5 * (y - m) ** 2 + 0.5 * (x - m) ** 2:
            x = y
        s += x
    return s / 200


@case(scalar(0.3, 2.0))
def importance_sampling_ratio(t):
    """Self-normalised importance sampling of E_p[x^2] for p = N(0, t^2) from draws of
    q = N(0, 1): the weights depend on t."""
    rng = np.random.default_rng(55)
    z = rng.standard_normal(500)
    logw = -0.5 * (z / t) ** 2 - math.log(t) + 0.5 * z ** 2
    w = np.exp(logw - logw.max())
    return float((w * z ** 2).sum() / w.sum())


@case(scalar(0.3, 2.0))
def antithetic_inverse_cdf(lam):
    """Inverse-CDF exponential draws -log(u) / lam with antithetic pairs (u, 1 - u)."""
    rng = np.random.default_rng(66)
    u = rng.random(200)
    e1, e2 = -np.log(u) / lam, -np.log1p(-u) / lam
    return float(0.5 * (np.exp(-e1) + np.exp(-e2)).mean())


@case(scalar(0.0, 1.0))
def rejection_sampling_shifted_proposal(m):
    """Rejection sampling of a truncated normal: proposals m + z, accepted when inside
    [-0.5, 1.5] and u < exp(-y^2 / 4); the mean of the accepted draws."""
    rng = np.random.default_rng(77)
    acc = []
    for z, u in zip(rng.standard_normal(300), rng.random(300)):
        y = m + z
        if -0.5 < y < 1.5 and u < math.exp(-y * y / 4):
            acc.append(y)
    return sum(acc) / len(acc)


# ================================================================ randomness: the random module


@case(vector(2, 0.5, 1.5))
def random_gauss_traced_mu_sigma(p):
    """random.Random(3).gauss(mu, sigma) and .normalvariate with traced parameters
    (pure-Python samplers: mu + sigma * z)."""
    r = random.Random(3)
    s = 0.0
    for _ in range(50):
        s += r.gauss(p[0], p[1]) ** 2 + r.normalvariate(p[1], 0.5 * p[0])
    return s / 50


@case(vector(3, 0.5, 2.0))
def random_expo_lognorm_weibull(p):
    """random.expovariate(lambd), lognormvariate(mu, sigma), weibullvariate(alpha, beta)
    and paretovariate(alpha) with traced parameters."""
    r = random.Random(10)
    s = 0.0
    for _ in range(40):
        s += (r.expovariate(p[0]) + r.lognormvariate(0.1 * p[1], 0.2 * p[2])
              + r.weibullvariate(p[1], p[2]) + 0.1 * r.paretovariate(p[2] + 1))
    return s / 40


@case(vector(2, 1.2, 3.0))
def random_gammavariate_rejection(p):
    """random.gammavariate(alpha, beta) with traced alpha > 1: Cheng's rejection loop whose
    accept decisions depend on alpha (the accepted draw is smooth between changes)."""
    r = random.Random(2024)
    return sum(r.gammavariate(p[0], p[1]) for _ in range(30)) / 30


@case(vector(2, 1.2, 3.0))
def random_betavariate_traced(p):
    """random.betavariate(alpha, beta) (two gamma draws) with traced shapes."""
    r = random.Random(8)
    return sum(r.betavariate(p[0], p[1]) ** 2 for _ in range(30))


@case(vector(3, 0.0, 1.0))
def random_triangular_uniform_traced(p):
    """random.triangular(low, high, mode) and random.uniform(a, b) with traced bounds."""
    r = random.Random(6)
    lo, hi = -p[0], 2.0 + p[1]
    mode = lo + (hi - lo) * (0.2 + 0.6 * p[2])
    return sum(r.triangular(lo, hi, mode) + r.uniform(p[0], hi) ** 2 for _ in range(40)) / 40


@case(vector(2, 0.5, 3.0))
def random_vonmises_traced(p):
    """random.vonmisesvariate(mu, kappa): a rejection loop on traced kappa; cos of draws."""
    r = random.Random(12)
    return sum(math.cos(r.vonmisesvariate(p[0], p[1])) for _ in range(30)) / 30


@case(vector(5, -1.0, 1.0))
def random_shuffle_sample_choices(x):
    """random.shuffle of a list of traced floats, random.sample and random.choices (fixed
    weights) from it: selections of traced values."""
    r = random.Random(42)
    v = [a * (i + 1) for i, a in enumerate(x)]
    r.shuffle(v)
    s = r.sample(v, 3)
    c = r.choices(v, weights=[1, 2, 3, 4, 5], k=6)
    return sum((i + 1) * a for i, a in enumerate(v)) + sum(s) * 2 + sum(t * t for t in c)


@case(vector(3, 0.2, 1.0))
def random_choices_traced_weights(w):
    """random.choices(population, weights=traced): the pick depends on w only through
    comparisons (bisect of cumulative weights): zero derivative of the constant picks plus
    a smooth term."""
    r = random.Random(5)
    picks = r.choices([1.0, 2.0, 3.0], weights=list(w), k=20)
    return sum(picks) + w[0] * w[1]


@case(scalar(0.5, 2.0))
def global_random_seeded(a):
    """random.seed(11) on the module-level generator, then random.random() and
    random.gauss(a, 1): a Monte Carlo of exp(-(g)^2)."""
    random.seed(11)
    s = 0.0
    for _ in range(60):
        g = random.gauss(a, 1.0)
        s += math.exp(-g * g) + random.random() * a
    return s / 60


# ================================================================ numbers: reduced precision


def _f32_poly64(x):
    return float(((x * 1.5 + 0.25) ** 3 - x).sum())


@case(vector(4, 0.5, 2.0), reference=twin(_f32_poly64))
def float32_array_polynomial(x):
    """The same polynomial in float32 (np.asarray(x, np.float32)): the gradient of the
    float64 twin, up to float32 rounding."""
    a = np.asarray(x, dtype=np.float32)
    return float(((a * np.float32(1.5) + np.float32(0.25)) ** 3 - a).sum())


def _f16_64(x):
    return float(x @ [0.5, 1.25, -2.0] + np.sum(np.tanh(x) * x) + (x * 2.0).sum())


@case(vector(3, 0.5, 2.0), reference=twin(_f16_64))
def float16_storage_exact_weights(x):
    """np.float16 storage of the input read back through weights exact in float16 (so the
    float16 cotangents are exact) plus float64 terms: the float64 twin's gradient. (A
    float16 cotangent is rounded to float16, ~1e-4 relative, like JAX's convention.)"""
    a = x.astype(np.float16)
    return float(a.astype(np.float64) @ [0.5, 1.25, -2.0] + np.sum(np.tanh(x) * x)
                 + (a * np.float16(2.0)).sum(dtype=np.float64))


def _mixed64(x):
    s = 0.0
    for v in x:
        s = s + v * 0.1 + math.sqrt(v)
    return s * 3.0


@case(vector(4, 0.5, 2.0), reference=twin(_mixed64))
def float32_scalar_accumulator(x):
    """An np.float32 accumulator updated with float64 terms (NEP 50: np.float32 + Python
    float stays float32; + np.float64 promotes)."""
    s = np.float32(0.0)
    for v in x:
        s = s + np.float32(v) * 0.1 + np.float64(math.sqrt(v)).astype(np.float32)
    return float(s * 3.0)


def _f16_penalty_grad(x):
    """The program's own derivative, at the float16-rounded w it computes with."""
    w = x.astype(np.float16).astype(np.float64)
    return 2e5 * (w - 1.0) + np.array([2e5, 1e5, 0.0, 0.0]) + np.cos(x)


@case(vector(4, 0.5, 2.0), reference=_f16_penalty_grad)
def float16_storage_large_penalty(x):
    """float16 storage read back by the usual conversions (a.astype(np.float64), a.item(k),
    float(a[k])) into a float64 loss with a large penalty weight (1e5): the cotangents
    reaching the float16 array exceed float16's largest finite value (65504). The float64
    twin's gradient is finite (~1e5); an infinite one is wrong."""
    a = x.astype(np.float16)
    w = a.astype(np.float64)
    return float(1e5 * np.sum((w - 1.0) ** 2) + 2e5 * a.item(0) + 1e5 * float(a[1])
                 + np.sum(np.sin(x)))


def _f16_table64(x):
    q = np.linspace(0.05, 3.95, 40)
    i = q.astype(int)
    t = q - i
    return float(2e4 * np.sum(x[i] * (1 - t) + x[i + 1] * t))


@case(vector(5, 0.5, 2.0), reference=twin(_f16_table64))
def float16_table_loop_accumulation(x):
    """A lookup table kept in float16 (half the memory) read element by element in a Python
    loop, linear interpolation at 40 queries, weighted 2e4: each element's cotangent is a
    sum of finite float16-sized parts whose total passes 65504 (accumulated in place in the
    table's dtype: framead/reverse.py _acc_getitem). The float64 twin's gradient ~1e5."""
    table = x.astype(np.float16)
    s = 0.0
    for k in range(40):
        q = 0.05 + k * 0.1
        i = int(q)
        t = q - i
        s += float(table[i]) * (1 - t) + float(table[i + 1]) * t
    return 2e4 * s


@case(vector(3, 0.5, 2.0))
def longdouble_roundtrip(x):
    """np.longdouble arithmetic (80-bit on x86) converted back to float64."""
    a = np.asarray(x, dtype=np.longdouble)
    y = np.sum(np.exp(a) * a ** 2) / np.longdouble(3)
    return float(y)


def _astype64(x):
    return float(np.sum(np.sin(x) * 2.0) + x[0] * x[1])


@case(vector(3, -1.0, 1.0), reference=twin(_astype64))
def astype_float32_round_trip_items(x):
    """x.astype(np.float32).astype(np.float64), .item() of a float32 element, and
    float(np.float32(...)) mixed into float64 arithmetic."""
    y = x.astype(np.float32).astype(np.float64)
    return float(np.sum(np.sin(y) * 2.0)) + y.astype(np.float32)[0].item() * float(np.float32(x[1]))


# ================================================================ numbers: complex intermediates


@case(vector(2, -1.0, 1.0))
def cmath_roots_of_quadratic(p):
    """Roots of z^2 + p0 z + (1 + p1^2) by cmath.sqrt (complex for these p): the real part
    and the modulus of the first root, the phase of the second."""
    b, c = p[0], 1.0 + p[1] ** 2
    d = cmath.sqrt(b * b - 4 * c)
    r1, r2 = (-b + d) / 2, (-b - d) / 2
    return r1.real + abs(r1) * 2 + cmath.phase(r2)


@case(scalar(0.3, 2.5))
def negative_float_fractional_power(a):
    """(-a) ** 0.5 in Python is a complex number: its imaginary part is sqrt(a); and
    (-a) ** (1/3)'s real part."""
    z = (-a) ** 0.5
    w = (-a) ** (1.0 / 3.0)
    return z.imag * 3 + w.real + abs(w)


@case(vector(3, -1.0, 1.0))
def complex_builtin_arithmetic(x):
    """complex(x0, x1) arithmetic: conjugate, division, abs, .real/.imag, complex ** int and
    ** complex."""
    z = complex(x[0], 1.0 + x[1] ** 2)
    w = complex(x[2], 0.5)
    q = (z * w.conjugate()) / (w + 2)
    return q.real + q.imag * 2 + abs(z ** 3) * 0.1 + (z ** (0.5 + 0.25j)).real


@case(vector(4, -1.0, 1.0))
def numpy_complex_angle_conj(x):
    """A complex array from two traced halves: np.angle, np.conj, np.real / np.imag,
    np.abs and np.exp(1j * ...)."""
    z = x[:2] + 1j * (x[2:] + 2.0)
    w = z * np.conj(z[::-1]) + np.exp(1j * x[:2])
    return float(np.angle(w).sum() + np.real(w) @ [1, 2] + np.imag(w).sum() * 0.5 + np.abs(z).sum())


@case(scalar(0.2, 2.0))
def cmath_exp_log_polar(t):
    """cmath.exp, cmath.log of a negative real (imag = pi), cmath.polar / cmath.rect round
    trip with a traced angle."""
    z = cmath.exp(complex(0.1 * t, t))
    r, phi = cmath.polar(z * 2)
    back = cmath.rect(r, phi + t)
    return back.real + cmath.log(-t).real + cmath.log(-t - 1j * t).imag + cmath.sqrt(-t).imag


@case(vector(3, 0.5, 2.0))
def numpy_sqrt_negative_complex_dtype(x):
    """np.sqrt of a complex-typed array of negative reals (imaginary roots) and
    np.emath.sqrt / np.emath.log of negative reals."""
    z = np.sqrt(x.astype(complex) - 3.0)
    e = np.emath.sqrt(1.0 - x * x)
    lg = np.emath.log(-x)
    return float(z.imag.sum() + np.real(e).sum() + np.imag(e).sum() + lg.real @ [1, 2, 3])


@case(scalar(0.5, 2.0))
def complex_step_inside_program(a):
    """A complex-step derivative computed inside the program: Im(f(a + ih)) / h with h =
    1e-20; the result (f'(a)) is differentiated again."""
    f = lambda z: cmath.exp(z) / cmath.sqrt(z ** 3 + 1)
    h = 1e-20
    return f(complex(a, h)).imag / h


# ================================================================ numbers: ints, integer scalars


@case(scalar(0.5, 2.0))
def int_vs_float_exponents(x):
    """x ** 2 vs x ** 2.0, pow(x, 3), pow(x, -2), math.pow, x ** np.int64(3), x **
    np.int32(-1) and np.float64(x) ** np.uint8(4)."""
    return (x ** 2 + x ** 2.0 + pow(x, 3) + pow(x, -2) + math.pow(x, 1.5)
            + x ** np.int64(3) + x ** np.int32(-1) + np.float64(x) ** np.uint8(4))


@case(scalar(0.5, 2.0))
def big_int_times_float(x):
    """A Python int beyond 2**63 (a factorial) times a traced float, and a ratio of huge
    ints (int / int true division) scaling x."""
    big = math.factorial(25)
    r = math.factorial(30) / math.factorial(28)
    return big * x * 1e-25 + r * x * x + math.comb(40, 20) * x * 1e-11 + (2 ** 70) * x / 2.0 ** 70


@case(vector(5, -1.0, 1.0))
def numpy_integer_scalars_as_indices(x):
    """np.int64 / np.intp / np.uint8 scalars as indices and slice bounds; an index computed
    with np.argmax of constants."""
    i = np.int64(2)
    j = np.uint8(4)
    k = np.intp(np.argmax([0.1, 0.7, 0.3]))
    return float(x[i] * x[j] + x[k:j].sum() + x[np.int32(-1)] * 2
                 + x[[np.int64(0), i]] @ [1.0, 3.0])


@case(scalar(0.5, 2.0))
def int_power_overflow_to_float(x):
    """An int that overflows the float range when converted is never formed; 10 ** 300 as
    an int times 1e-300 then times x, and int(x * 1000) / 1000 (a staircase)."""
    k = 10 ** 300
    return (k * 1e-300) * x + x * (int(x * 1000) / 1000) + (x * 7) // 1 * 0.01


def _f16_small_loss64(x):
    return float(1e-7 * np.mean((x - 0.3) ** 2) + 1e-5 * np.sum(x * np.arange(1.0, 7.0)))


@case(vector(6, 0.5, 2.0), reference=twin(_f16_small_loss64))
def float16_params_small_loss(x):
    """Mixed precision: parameters stored as float16 (astype), the loss computed in float64
    with small weights (1e-7 / n, 1e-5): the cotangents reaching the float16 array are
    below or near float16's smallest subnormal (6e-8). The float64 twin's gradient is
    ~1e-8 .. 6e-5 per coordinate; rounding the cotangent to float16 must not zero it."""
    w = x.astype(np.float16).astype(np.float64)
    return float(1e-7 * np.mean((w - 0.3) ** 2) + 1e-5 * np.sum(w * np.arange(1.0, 7.0)))


# ================================================================ numbers: Fraction and Decimal


@case(scalar(0.5, 2.0))
def fraction_limit_denominator(x):
    """fractions.Fraction(x).limit_denominator(1000) converted back: an exact rational
    (the gradient is cut; must be reported)."""
    q = fractions.Fraction(x).limit_denominator(1000)
    return float(q) * 2 + x


@case(scalar(0.5, 2.0))
def fraction_constant_times_float(x):
    """A Fraction CONSTANT times a traced float: Fraction's operator fallback converts to
    float (the gradient flows)."""
    third = fractions.Fraction(1, 3)
    return third * x + x * fractions.Fraction(5, 2) + x ** 2 / fractions.Fraction(7, 4)


@case(scalar(0.5, 2.0))
def decimal_from_str_quantize(x):
    """decimal.Decimal(str(x)) with 28-digit arithmetic and quantize: exact decimal text
    (must be reported)."""
    d = decimal.Decimal(str(x))
    y = (d * d + decimal.Decimal("0.5")).quantize(decimal.Decimal("1.000000000000"))
    return float(y) + x


@case(scalar(0.5, 2.0))
def decimal_context_sqrt(x):
    """decimal with a local context of 40 digits: Decimal(x).sqrt() (must be reported)."""
    with decimal.localcontext() as ctx:
        ctx.prec = 40
        r = decimal.Decimal(x).sqrt()
    return float(r) * 3.0


@case(scalar(0.5, 2.0))
def float_as_integer_ratio_rebuild(x):
    """x.as_integer_ratio() then n / d: exact integers (the gradient is cut; must be
    reported)."""
    n, d = x.as_integer_ratio()
    return n / d * x


# ================================================================ more control flow


@case(vector(2, 0.5, 5.0))
def remainder_with_traced_divisor(p):
    """x % y, divmod(x, y), math.fmod(x, y), math.remainder(x, y) and np.mod with BOTH
    operands traced: d/dy of the remainder is -quotient (not zero)."""
    x, y = 3.0 * p[0] + 1.0, 0.3 + 0.5 * p[1]
    q, r = divmod(x, y)
    return ((x % y) * 2 + r * 3 + q * y + math.fmod(-x, y) + math.remainder(x, y) * 0.5
            + float(np.mod(np.array([x, -x]), y) @ [1.0, 0.25]))


@case(scalar(0.3, 60.0))
def exp_by_recursive_halving(x):
    """exp(x) by range reduction: halve until below 0.1 (the depth depends on x), a Taylor
    polynomial, then square back up through the recursion."""
    def e(t):
        if t < 0.1:
            return 1 + t + t * t / 2 + t ** 3 / 6 + t ** 4 / 24 + t ** 5 / 120
        h = e(t / 2)
        return h * h
    return math.log(e(x)) + e(x / 20)


@case(scalar(0.01, 500.0))
def sqrt_range_reduction_loop(x):
    """sqrt by scaling into [0.25, 1] with a while loop (factor 4, result factor 2), then
    Newton from a linear guess."""
    scale = 1.0
    y = x
    while y > 1.0:
        y /= 4.0
        scale *= 2.0
    while y < 0.25:
        y *= 4.0
        scale /= 2.0
    r = 0.4 + 0.6 * y
    for _ in range(5):
        r = 0.5 * (r + y / r)
    return r * scale


@case(vector(3, -2.0, 2.0))
def match_statement_guards(x):
    """A match statement with guards on traced values and class / sequence patterns."""
    s = 0.0
    for v in x:
        match (v, v * v):
            case (a, b) if a > 1.0:
                s += math.log(a) + b
            case (a, _) if a < -1.0:
                s += a ** 3
            case (a, b):
                s += math.sin(a) * b
    match list(x):
        case [first, *rest]:
            s += first * sum(rest)
    return s


@case(scalar(0.5, 3.0))
def walrus_while_newton(a):
    """Newton in a while loop whose condition assigns the residual with := ."""
    t = 1.0
    n = 0
    while abs(r := t * math.exp(t) - a) > 1e-14 and n < 60:
        t -= r / ((t + 1) * math.exp(t))
        n += 1
    return t + 0 * r


@case(vector(4, -1.0, 1.0))
def truthiness_or_defaults(x):
    """`v or default` returns the traced float itself when nonzero; filter(None, ...), any()
    / all() over traced comparisons, chained comparisons."""
    vals = [v or 1.0 for v in x]
    kept = list(filter(None, [v * (v > -0.5) for v in x]))
    s = sum(vals) + sum(k * k for k in kept)
    if any(v > 0.9 for v in x) or all(-0.9 < v < 0.9 for v in x):
        s += x[0] * x[1]
    return s


class _Converged(Exception):
    pass


@case(scalar(0.2, 0.9))
def exception_carries_result(a):
    """The converged fixed point travels in an exception's args (raise _Converged(t) from a
    nested function), and a generator's return value in StopIteration.value."""
    def iterate(t):
        for _ in range(200):
            new = math.cos(a * t)
            if abs(new - t) < 1e-15:
                raise _Converged(new, 3)
            t = new
        raise RuntimeError

    try:
        iterate(0.5)
        t = 0.0
    except _Converged as e:
        t = e.args[0]

    def gen():
        yield 1
        return t * a

    g = gen()
    next(g)
    try:
        next(g)
    except StopIteration as stop:
        v = stop.value
    return t + v * 2


@case(vector(3, 0.5, 2.0))
def errstate_raise_log_domain_fallback(x):
    """np.errstate(all='raise') around an np.log of x - 1: FloatingPointError (log of a
    negative) switches to another formula (framead's own work must not raise)."""
    s = 0.0
    for v in x:
        with np.errstate(all="raise"):
            try:
                s += float(np.log(np.float64(v) - 1.0)) * v
            except FloatingPointError:
                s += float(np.sqrt(v)) * 2
    return s


@case(vector(3, 0.5, 2.0))
def warnings_recorded_branch(x):
    """catch_warnings(record=True) around np.log / np.divide: the branch depends on whether a
    RuntimeWarning was emitted (framead must not add or swallow any)."""
    import warnings

    s = 0.0
    for v in x:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            with np.errstate(all="warn"):
                y = np.log(np.array([v - 1.0, v]))
        if w:
            s += float(y[1]) * 3
        else:
            s += float(y.sum())
    return s


@case(vector(6, 0.1, 0.9), on_list)
def takewhile_accumulate_count(xs):
    """itertools.takewhile over itertools.accumulate of a list of traced floats: how many
    partial sums stay below 2 depends on the values; then pairwise products of the kept."""
    kept = list(itertools.takewhile(lambda c: c < 2.0, itertools.accumulate(xs)))
    tail = xs[len(kept):]
    return sum(a * b for a, b in itertools.pairwise(kept)) + sum(tail) * len(kept) + kept[-1] * 0.5


@case(vector(5, 0.1, 1.0))
def cumsum_quantile_break(w):
    """A weighted quantile: walk the cumulative weights to the first exceeding 0.5 of the
    total (break), then interpolate inside that step."""
    vals = [1.0, 2.0, 3.5, 4.0, 6.0]
    tot = sum(w)
    c = 0.0
    for i, wi in enumerate(w):
        if c + wi >= 0.5 * tot:
            frac = (0.5 * tot - c) / wi
            break
        c += wi
    return vals[i] + frac * (vals[min(i + 1, 4)] - vals[i])


@case(scalar(-2.0, 2.0))
def float_real_imag_attributes(x):
    """x.real, x.imag, x.conjugate() and x.is_integer() of a Python float, and
    np.float64's .real / .imag / .conj()."""
    y = np.float64(x * 2)
    base = x.real * 3 + x.imag + x.conjugate() * x
    if (x * 4).is_integer():
        base += 1.0
    return base + float(y.real * y) + float(y.imag) + float(y.conj())


@case(scalar(0.2, 2.0))
def int_base_traced_exponent(x):
    """2 ** x (int base), 10 ** -x, math.e ** x, np.power(2, x), np.float_power(3, x) and
    pow(2, x): int.__pow__ with a traced float exponent."""
    return (2 ** x + 10 ** -x + math.e ** x + float(np.power(2, x)) + float(np.float_power(3, x))
            + pow(2, x) * 0.5)


def _f32_math64(x):
    return sum(math.exp(v) * 0.1 + math.sqrt(v) + v * 2.0 for v in x)


@case(vector(3, 0.5, 2.0), reference=twin(_f32_math64))
def float32_scalar_into_math(x):
    """np.float32 scalars passed to math.exp / math.sqrt (converted to Python floats of
    float32 values): compared against differences that see float32 rounding only at tiny
    steps."""
    s = 0.0
    for v in x:
        f = np.float32(v)
        s += math.exp(f) * 0.1 + math.sqrt(f) + float(f * np.float32(2.0))
    return s


@case(vector(4, -1.0, 1.0))
def try_finally_accumulates(x):
    """A try/finally whose finally clause adds a term even when the body returns early or
    continues; a with-suppress around a division by zero."""
    import contextlib

    s = 0.0
    for v in x:
        try:
            if v > 0.5:
                continue
            s += v * 2
        finally:
            s += v * v
    a = float(x[0])
    with contextlib.suppress(ZeroDivisionError):
        s += 1.0 / (a - a)
    return s


@case(vector(2, 0.5, 1.5))
def generator_scalar_draws_traced(p):
    """One draw at a time: rng.normal(p0) (a Python float back), rng.uniform(0, p1) and
    rng.normal(loc=array) with an array of traced means."""
    rng = np.random.default_rng(4)
    s = 0.0
    for _ in range(20):
        s += rng.normal(p[0]) ** 2 + rng.uniform(0.0, p[1])
    v = rng.normal(loc=np.array([p[0], p[1]]), scale=0.5)
    return s / 20 + float(v.sum())


@case(vector(2, 0.3, 0.7))
def bernoulli_by_comparison_smooth_part(p):
    """Bernoulli draws by rng.random() < p (a comparison: the pick is constant) weighting a
    smooth function of p: zero derivative through the picks."""
    rng = np.random.default_rng(3)
    u = rng.random(50)
    hits = (u < p[0]).sum()
    return float(hits * p[1] + np.sum(np.where(u < p[1], p[0] ** 2, p[0])))


@case(vector(3, 0.5, 1.5))
def np_frexp_ldexp_arrays(x):
    """np.frexp of a traced array (mantissas carry the derivative 2**-e), np.ldexp with
    integer exponents, np.modf, np.copysign with a traced sign source."""
    m, e = np.frexp(x * 3.0)
    frac, whole = np.modf(x * 2.5)
    return float(m @ [1, 2, 3] + np.ldexp(x, e).sum() + frac.sum() * whole.sum()
                 + np.copysign(x, np.sin(4 * x)) @ [1, 1, 2])


def _with_repeat(n: int, lo: float, hi: float):
    """An n-vector whose second entry repeats the first (a parameter sweep with a repeated
    value: the warm-started solve for it starts at its own answer)."""
    def draw(rng):
        v = rng.uniform(lo, hi, size=n)
        v[1] = v[0]
        return v
    return draw


@case(_with_repeat(3, 0.5, 2.0))
def warm_start_sweep_repeated_value(x):
    """Newton for t^2 = p over a sweep of p, each solve warm-started from the last root: the
    repeated p's solve runs zero times (its answer is the start), so its derivative would
    be the previous p's unless reported."""
    t = 1.0
    out = 0.0
    for p in x:
        for _ in range(50):
            r = t * t - p
            if abs(r) < 1e-12 * p:
                break
            t -= r / (2 * t)
        out += t * (1 + p)
    return out


@case(_with_repeat(3, 0.5, 2.0))
def warm_start_halley_repeated(x):
    """Halley for t e^t = a (Lambert W) warm-started along a sweep with a repeated a."""
    t = 1.0
    out = 0.0
    for a in x:
        for _ in range(30):
            g = t * math.exp(t) - a
            if abs(g) <= 1e-14 * (1 + a):
                break
            g1 = (t + 1) * math.exp(t)
            g2 = (t + 2) * math.exp(t)
            t -= 2 * g * g1 / (2 * g1 * g1 - g * g2)
        out += t + a * t
    return out


@case(vector(6, -1.0, 1.0))
def comprehension_walrus_filters(x):
    """Comprehensions (inlined in 3.12+) with walrus targets that leak out, conditions on
    traced values, nested loops and a dict comprehension keyed by rank."""
    ys = [y for v in x if (y := v * v - 0.2) > 0]
    last = y  # the walrus target leaks from the comprehension
    pairs = [a * b for a in x[:3] for b in x[3:] if a * b > -0.3]
    ranks = {int(i): v for i, v in zip(np.argsort(x), x)}
    return sum(ys) + last * 2 + sum(pairs) + ranks[0] * ranks[5]


@case(vector(4, 0.1, 1.0))
def any_all_generator_early_exit(x):
    """any() / all() / next() over generators with traced conditions stop early in C; the
    position where they stopped selects the formula."""
    pos = next((i for i, v in enumerate(x) if v > 0.6), len(x))
    big = any(v * v > 0.5 for v in x)
    ok = all(math.log(v) < 0 for v in x)
    s = sum(v for v in x[:pos]) + (x[pos] ** 2 if pos < len(x) else 0.0)
    return s + (x[0] * 3 if big else x[1]) + (x[2] if ok else -x[3])


# program -> (expected verdict, cause); test_classic_corpus.py merges these entries
EXPECTED: dict[str, tuple[str, str]] = {
    # SILENT wrong gradients (no hazard): framead bugs, each cause named
    # reported at the user's line (wrong, with a hazard)
    "ternary_search_argmin": ("wrong_hazard", "the minimiser depends on a only through traced "
                              "comparisons: FA102 at the comparison"),
    "warm_start_sweep_repeated_value": ("wrong_hazard", "the repeated parameter's Newton solve "
                                        "starts at its answer and runs zero times: FA102 at "
                                        "the residual test (capture/zero_trip.py)"),
    "warm_start_halley_repeated": ("wrong_hazard", "the repeated parameter's Halley solve runs "
                                   "zero times: FA102 at the residual test"),
    "float_as_integer_ratio_rebuild": ("wrong_hazard", "float.as_integer_ratio is exact "
                                       "(integers): FA102"),
    "decimal_from_str_quantize": ("wrong_hazard", "decimal.Decimal(str(x)): the text of a "
                                  "traced float parsed back (FA111)"),
    "decimal_context_sqrt": ("wrong_hazard", "decimal.Decimal(x) is an exact conversion "
                             "(FA102)"),
    # a traced covariance has no rule: FA101
    "generator_multivariate_normal": ("wrong_hazard", "Generator.multivariate_normal with a "
                                      "traced mean / cov: FA101"),
}
# program -> why its cached replay is known wrong
REPLAY_EXPECTED: dict[str, str] = {}
