# ruff: noqa: B905, B010, UP031, UP033 - legacy code: zip() without strict=, setattr, % formats
"""A fifth set of legacy programs, written adversarially for the areas earlier files cover
least: Numerical Recipes idioms (Brent's parabolic minimiser, bisection via math.copysign with
a final secant step, dfridr's Richardson tableau, Bulirsch-Stoer extrapolation, a banded
Thomas solve written in place, chebft/chebev, Neville, Wynn's epsilon, Levinson-Durbin,
Muller's complex iteration, Sherman-Morrison and Cholesky rank-1 updates, Nelder-Mead,
Adams-Bashforth with a deque history, implicit Euler with Newton, shooting with the secant
method, Aitken); data-structure code (Dijkstra over (cost, node) heap tuples, insort with
key=, a monotonic-deque window maximum, dict-of-list buckets, functools.reduce and an inner
lru_cache, itertools accumulate / groupby / zip_longest / takewhile / compress, Counter
arithmetic, an OrderedDict LRU, ChainMap, heapq.merge / heappushpop); class-heavy code
(dataclass __post_init__, property setters, validating descriptors, a Vec2 with the full
operator set, float and ndarray subclasses, __array_ufunc__, total_ordering, __init_subclass__
registries, namedtuple subclasses, __complex__); and mutation-heavy NumPy (multiply.at /
maximum.at with repeated indices, 2-d fancy += with repeated pairs, views of views, out=
arguments that overlap their inputs, overlapping slice assignments, row swaps by fancy
index, in-place sorts of views, fill / fill_diagonal / flat writes, .real / .imag views,
ascontiguousarray aliases, structured-array row tuples, einsum's writable diagonal view)."""

import collections
import functools
import heapq
import itertools
import math
import operator

import numpy as np
from registry import case, matrix, on_list, scalar, vector

# ================================================================ Numerical Recipes idioms


@case(scalar(-1.0, 1.5))
def brent_parabolic_minimum(a):
    """NR's brent(): golden sections and parabolic steps, early exit on the tolerance; the
    minimum value (its derivative in a is the partial one: the envelope theorem)."""
    def f(t):
        return (t - a) ** 2 + 0.1 * t ** 4 - math.sin(a * t)

    cgold, zeps, tol = 0.3819660, 1e-12, 1e-10
    ax, bx, cx = -3.0, 0.0, 3.0
    lo, hi = min(ax, cx), max(ax, cx)
    x = w = v = bx
    fx = fw = fv = f(x)
    d = e = 0.0
    for _ in range(200):
        xm = 0.5 * (lo + hi)
        tol1 = tol * abs(x) + zeps
        tol2 = 2.0 * tol1
        if abs(x - xm) <= tol2 - 0.5 * (hi - lo):
            break
        if abs(e) > tol1:
            r = (x - w) * (fx - fv)
            q = (x - v) * (fx - fw)
            p = (x - v) * q - (x - w) * r
            q = 2.0 * (q - r)
            if q > 0.0:
                p = -p
            q = abs(q)
            etemp, e = e, d
            if abs(p) >= abs(0.5 * q * etemp) or p <= q * (lo - x) or p >= q * (hi - x):
                e = (lo - x) if x >= xm else (hi - x)
                d = cgold * e
            else:
                d = p / q
                u = x + d
                if u - lo < tol2 or hi - u < tol2:
                    d = math.copysign(tol1, xm - x)
        else:
            e = (lo - x) if x >= xm else (hi - x)
            d = cgold * e
        u = x + d if abs(d) >= tol1 else x + math.copysign(tol1, d)
        fu = f(u)
        if fu <= fx:
            if u >= x:
                lo = x
            else:
                hi = x
            v, w, x = w, x, u
            fv, fw, fx = fw, fx, fu
        else:
            if u < x:
                lo = u
            else:
                hi = u
            if fu <= fw or w == x:
                v, w, fv, fw = w, u, fw, fu
            elif fu <= fv or v == x or v == w:
                v, fv = u, fu
    return fx


@case(scalar(0.5, 6.0))
def bisection_copysign_secant(c):
    """Bisection of x^3 + x - c comparing signs through math.copysign, then one secant
    (regula falsi) step from the final bracket: the root's gradient comes from that step."""
    def g(x):
        return x ** 3 + x - c

    lo, hi = 0.0, 3.0
    glo = g(lo)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        gm = g(mid)
        if math.copysign(1.0, gm) == math.copysign(1.0, glo):
            lo, glo = mid, gm
        else:
            hi = mid
    ghi = g(hi)
    return lo - glo * (hi - lo) / (ghi - glo)


@case(scalar(0.2, 2.0))
def dfridr_richardson(x):
    """NR dfridr: the derivative of sin(x) e^x by Ridders' extrapolation of central
    differences in a Neville tableau, exiting when the error grows (so the result's gradient
    is the second derivative estimate)."""
    def func(t):
        return math.sin(t) * math.exp(t)

    con, con2, ntab, safe = 1.4, 1.96, 10, 2.0
    a = [[0.0] * ntab for _ in range(ntab)]
    hh = 0.1
    a[0][0] = (func(x + hh) - func(x - hh)) / (2.0 * hh)
    err, ans = 1e30, a[0][0]
    for i in range(1, ntab):
        hh /= con
        a[0][i] = (func(x + hh) - func(x - hh)) / (2.0 * hh)
        fac = con2
        for j in range(1, i + 1):
            a[j][i] = (a[j - 1][i] * fac - a[j - 1][i - 1]) / (fac - 1.0)
            fac *= con2
            errt = max(abs(a[j][i] - a[j - 1][i]), abs(a[j][i] - a[j - 1][i - 1]))
            if errt <= err:
                err, ans = errt, a[j][i]
        if abs(a[i][i] - a[i - 1][i - 1]) >= safe * err:
            break
    return ans


@case(vector(2, 0.3, 1.2))
def bulirsch_stoer_extrapolation(p):
    """One Bulirsch-Stoer step of y' = -k y + sin(w t): modified midpoint with n = 2, 4, 6,
    8 substeps and polynomial extrapolation to h -> 0 (Neville in h^2)."""
    k, w = float(p[0]), float(p[1])

    def mmid(y, htot, n):
        h = htot / n
        z0, z1 = y, y + h * (-k * y)
        for m in range(1, n):
            t = m * h
            z0, z1 = z1, z0 + 2.0 * h * (-k * z1 + math.sin(w * t))
        return 0.5 * (z1 + z0 + h * (-k * z1 + math.sin(w * htot)))

    hs, ts = [], []
    for n in (2, 4, 6, 8):
        hs.append((1.0 / n) ** 2)
        ts.append(mmid(1.0, 1.0, n))
        for j in range(len(ts) - 2, -1, -1):
            ts[j] = ts[j + 1] + (ts[j + 1] - ts[j]) / (hs[j] / hs[-1] - 1.0)
    return ts[0]


@case(vector(10, 0.5, 1.5))
def banded_thomas_inplace(x):
    """A tridiagonal system stored as a (3, n) band, eliminated in place with element and
    row-slice writes (ab[1, i] -= w * ab[0, i]; d[i] -= w * d[i - 1]), then back substitution
    written into d itself."""
    n = 5
    ab = np.zeros((3, n))
    ab[0, 1:] = -x[:n - 1]
    ab[1, :] = 4.0 + x[:n]
    ab[2, :-1] = -x[1:n]
    d = x[n:].copy()
    for i in range(1, n):
        w = ab[2, i - 1] / ab[1, i - 1]
        ab[1, i] -= w * ab[0, i]
        d[i] -= w * d[i - 1]
    d[n - 1] /= ab[1, n - 1]
    for i in range(n - 2, -1, -1):
        d[i] = (d[i] - ab[0, i + 1] * d[i + 1]) / ab[1, i]
    return float(d @ np.arange(1.0, n + 1))


@case(scalar(-1.0, 1.0))
def chebft_chebev(a):
    """NR chebft / chebev: Chebyshev coefficients of exp(a t) cos(t) on [-1, 2] from cosine
    sums at the Chebyshev nodes, evaluated by Clenshaw's recurrence at two points."""
    lo, hi, n = -1.0, 2.0, 12
    bma, bpa = 0.5 * (hi - lo), 0.5 * (hi + lo)
    f = [math.exp(a * (math.cos(math.pi * (k + 0.5) / n) * bma + bpa))
         * math.cos(math.cos(math.pi * (k + 0.5) / n) * bma + bpa) for k in range(n)]
    fac = 2.0 / n
    c = [fac * sum(f[k] * math.cos(math.pi * j * (k + 0.5) / n) for k in range(n))
         for j in range(n)]

    def chebev(t):
        y = (2.0 * t - lo - hi) / (hi - lo)
        y2 = 2.0 * y
        d = dd = 0.0
        for cj in reversed(c[1:]):
            d, dd = y2 * d - dd + cj, d
        return y * d - dd + 0.5 * c[0]

    return chebev(0.3) + 2.0 * chebev(1.7)


@case(vector(5, 0.0, 1.0), on_list)
def neville_interpolation(ys):
    """NR polint: Neville's algorithm with the c / d correction lists updated in place,
    choosing the path through the tableau by the closest node (ns) and returning y + dy."""
    xa = [0.0, 0.4, 1.1, 1.5, 2.3]
    x = 0.9
    n = len(xa)
    c, d = list(ys), list(ys)
    ns = min(range(n), key=lambda i: abs(x - xa[i]))
    y = ys[ns]
    ns -= 1
    for m in range(1, n):
        for i in range(n - m):
            ho, hp = xa[i] - x, xa[i + m] - x
            w = c[i + 1] - d[i]
            den = w / (ho - hp)
            d[i] = hp * den
            c[i] = ho * den
        if 2 * (ns + 1) < n - m:
            dy = c[ns + 1]
        else:
            dy = d[ns]
            ns -= 1
        y += dy
    return y


@case(scalar(0.2, 0.9))
def wynn_epsilon_log1p(x):
    """Wynn's epsilon algorithm accelerating the partial sums of log(1 + x)'s series (the
    even columns of the rhombus, built in a list of lists)."""
    s, partial = 0.0, []
    for k in range(1, 10):
        s += (-1) ** (k + 1) * x ** k / k
        partial.append(s)
    eps = [[0.0] * (len(partial) + 1) for _ in range(len(partial) + 1)]
    for i, v in enumerate(partial):
        eps[i][1] = v
    for k in range(2, len(partial) + 1):
        for i in range(len(partial) - k + 1):
            eps[i][k] = eps[i + 1][k - 2] + 1.0 / (eps[i + 1][k - 1] - eps[i][k - 1])
    return eps[0][len(partial) - (len(partial) % 2 == 0)]


@case(vector(5, -0.3, 0.3))
def levinson_durbin(r):
    """Levinson-Durbin recursion for the AR coefficients of a Toeplitz autocorrelation
    1, r1 .. r4 (damped), with the coefficient array updated through a reversed slice."""
    acf = np.concatenate([[1.0], 0.5 * np.tanh(r[:4])])
    p = 4
    a = np.zeros(p + 1)
    a[0] = 1.0
    err = acf[0]
    for k in range(1, p + 1):
        lam = -np.dot(a[:k], acf[k:0:-1]) / err
        a[1:k + 1] = a[1:k + 1] + lam * a[k - 1::-1][:k]
        err *= 1.0 - lam * lam
    return float(err + a @ np.linspace(0.5, 1.5, p + 1) + r[4] * a[p])


@case(scalar(0.5, 2.5))
def muller_complex_root(c):
    """Muller's method on z^3 + c z + 1 from three real starts; the discriminant goes
    complex, the denominator's sign is chosen by comparing moduli; returns |z|^2 + Re z."""
    import cmath

    def f(z):
        return z ** 3 + c * z + 1.0

    x0, x1, x2 = 0.0, 0.5, 1.0
    for _ in range(50):
        h1, h2 = x1 - x0, x2 - x1
        d1, d2 = (f(x1) - f(x0)) / h1, (f(x2) - f(x1)) / h2
        a = (d2 - d1) / (h2 + h1)
        b = a * h2 + d2
        disc = cmath.sqrt(b * b - 4.0 * f(x2) * a)
        den = b + disc if abs(b + disc) > abs(b - disc) else b - disc
        dx = -2.0 * f(x2) / den
        x0, x1, x2 = x1, x2, x2 + dx
        if abs(dx) < 1e-15 * (1.0 + abs(x2)):
            break
    return abs(x2) ** 2 + x2.real


@case(matrix(3, extra=6))
def sherman_morrison_update(x):
    """An inverse updated in place for a rank-one change A + u v^T (Sherman-Morrison with
    -= on the inverse), checked against the solve of the updated system."""
    a = x[:9].reshape(3, 3)
    u, v = x[9:12], x[12:15]
    ainv = np.linalg.inv(a)
    au = ainv @ u
    va = v @ ainv
    ainv -= np.outer(au, va) / (1.0 + v @ au)
    b = np.array([1.0, -2.0, 0.5])
    return float(ainv[0] @ b + (ainv @ b).sum())


@case(vector(4, -0.5, 0.5))
def cholesky_rank1_update(x):
    """cholupdate written with column views updated in place: L[k+1:, k] and the work
    vector w[k+1:] overwritten in each step (a view of L's column, then of w)."""
    a = np.array([[4.0, 1.0, 0.5, 0.0], [1.0, 3.0, 0.2, 0.1],
                  [0.5, 0.2, 2.0, 0.3], [0.0, 0.1, 0.3, 1.5]])
    lo = np.linalg.cholesky(a)
    w = x.copy()
    n = len(w)
    for k in range(n):
        r = math.hypot(lo[k, k], w[k])
        c, s = r / lo[k, k], w[k] / lo[k, k]
        lo[k, k] = r
        col = lo[k + 1:, k]
        col += s * w[k + 1:]
        col /= c
        w[k + 1:] = c * w[k + 1:] - s * col
    return float(np.log(np.diag(lo)).sum() + lo[3, 1] * lo[2, 0])


@case(vector(2, -0.5, 0.5))
def nelder_mead_fixed_iterations(p):
    """Nelder-Mead on a shifted Rosenbrock-like bowl for 25 iterations (lists of vertices
    sorted by value with a key, reflections / expansions / contractions chosen by
    comparisons); the best value found."""
    def f(v):
        return (v[0] - p[0]) ** 2 + 3.0 * (v[1] - v[0] ** 2 + p[1]) ** 2

    simplex = [[0.0, 0.0], [1.2, 0.0], [0.0, 0.8]]
    for _ in range(25):
        simplex.sort(key=f)
        best, worst = simplex[0], simplex[-1]
        cen = [(simplex[0][i] + simplex[1][i]) / 2.0 for i in range(2)]
        refl = [cen[i] + (cen[i] - worst[i]) for i in range(2)]
        if f(refl) < f(best):
            exp_ = [cen[i] + 2.0 * (refl[i] - cen[i]) for i in range(2)]
            simplex[-1] = exp_ if f(exp_) < f(refl) else refl
        elif f(refl) < f(simplex[1]):
            simplex[-1] = refl
        else:
            con = [cen[i] + 0.5 * (worst[i] - cen[i]) for i in range(2)]
            if f(con) < f(worst):
                simplex[-1] = con
            else:
                simplex = [best] + [[best[i] + 0.5 * (v[i] - best[i]) for i in range(2)]
                                    for v in simplex[1:]]
    return min(map(f, simplex))


@case(vector(2, 0.5, 2.0))
def adams_bashforth_deque(p):
    """AB4 for y' = -k y + cos(w t), started with RK4, the derivative history in a
    deque(maxlen=4) whose oldest entry falls out by itself."""
    k, w = float(p[0]), float(p[1])

    def rhs(t, y):
        return -k * y + math.cos(w * t)

    h, t, y = 0.05, 0.0, 1.0
    hist = collections.deque(maxlen=4)
    for _ in range(3):
        hist.append(rhs(t, y))
        k1 = hist[-1]
        k2 = rhs(t + h / 2, y + h / 2 * k1)
        k3 = rhs(t + h / 2, y + h / 2 * k2)
        k4 = rhs(t + h, y + h * k3)
        y += h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        t += h
    for _ in range(30):
        hist.append(rhs(t, y))
        f3, f2, f1, f0 = hist[-1], hist[-2], hist[-3], hist[-4]
        y += h / 24 * (55 * f3 - 59 * f2 + 37 * f1 - 9 * f0)
        t += h
    return y


@case(scalar(1.0, 20.0))
def implicit_euler_newton(k):
    """Implicit Euler for the stiff y' = -k (y^3 - cos t): each step's equation solved by
    Newton with an absolute-step exit test."""
    h, t, y = 0.1, 0.0, 0.0
    for _ in range(10):
        t_next = t + h
        z = y
        for _ in range(50):
            g = z - y + h * k * (z ** 3 - math.cos(t_next))
            dg = 1.0 + 3.0 * h * k * z * z
            dz = g / dg
            z -= dz
            if abs(dz) < 1e-15:
                break
        y, t = z, t_next
    return y


@case(scalar(0.5, 2.0))
def shooting_secant(a):
    """y'' = -a y + 1 on [0, 1], y(0) = 0, y(1) = 1: the initial slope found by the secant
    method over an RK4 shot (exit when the residual is tiny); returns the slope."""
    def shoot(s):
        y, v, h = 0.0, s, 0.05
        for _ in range(20):
            def acc(yy):
                return -a * yy + 1.0
            k1y, k1v = v, acc(y)
            k2y, k2v = v + h / 2 * k1v, acc(y + h / 2 * k1y)
            k3y, k3v = v + h / 2 * k2v, acc(y + h / 2 * k2y)
            k4y, k4v = v + h * k3v, acc(y + h * k3y)
            y += h / 6 * (k1y + 2 * k2y + 2 * k3y + k4y)
            v += h / 6 * (k1v + 2 * k2v + 2 * k3v + k4v)
        return y - 1.0

    s0, s1 = 0.0, 2.0
    r0, r1 = shoot(s0), shoot(s1)
    for _ in range(30):
        s0, s1 = s1, s1 - r1 * (s1 - s0) / (r1 - r0)
        r0, r1 = r1, shoot(s1)
        if abs(r1) < 1e-14:
            break
    return s1


@case(scalar(0.3, 1.3))
def aitken_fixed_point(a):
    """Aitken's delta-squared on the fixed point iteration x = cos(a x), restarting from
    the accelerated value (Steffensen-style) until the correction is below 1e-15."""
    x = 0.5
    for _ in range(40):
        x1 = math.cos(a * x)
        x2 = math.cos(a * x1)
        den = x2 - 2.0 * x1 + x
        if den == 0.0:
            break
        nxt = x - (x1 - x) ** 2 / den
        if abs(nxt - x) < 1e-15:
            x = nxt
            break
        x = nxt
    return x


# ================================================================ data structures


@case(vector(7, -1.0, 1.0))
def dijkstra_heap_float_costs(w):
    """Dijkstra over a small graph whose edge costs are exp(w): a heapq of (cost, node)
    tuples (tuple comparisons on traced floats), a dist dict, and stale-entry skipping."""
    edges = {0: [(1, 0), (2, 1)], 1: [(3, 2), (2, 3)], 2: [(3, 4), (4, 5)], 3: [(4, 6)],
             4: []}
    cost = [math.exp(v) for v in w]
    dist = {0: 0.0}
    heap = [(0.0, 0)]
    done = set()
    while heap:
        d, u = heapq.heappop(heap)
        if u in done:
            continue
        done.add(u)
        for v, e in edges[u]:
            nd = d + cost[e]
            if v not in dist or nd < dist[v]:
                dist[v] = nd
                heapq.heappush(heap, (nd, v))
    return dist[4] + 0.5 * dist[3]


@case(vector(6, -2.0, 2.0), on_list)
def insort_key_tuples(xs):
    """bisect.insort with key= (Python 3.10) keeping (value, weight) tuples sorted by
    value; the weights are then combined with the sorted values' ranks."""
    import bisect

    table = []
    for i, v in enumerate(xs):
        bisect.insort(table, (v * v - v, float(i + 1)), key=operator.itemgetter(0))
    pos = bisect.bisect_left(table, 0.0, key=operator.itemgetter(0))
    return sum(k * val * wt for k, (val, wt) in enumerate(table)) + pos * table[0][0]


@case(vector(9, -1.0, 1.0), on_list)
def monotonic_deque_window_max(xs):
    """Sliding-window maximum with a monotonic deque of indices (pop from the right while
    smaller, popleft when out of the window)."""
    k = 3
    dq = collections.deque()
    out = []
    vals = [math.sin(2.0 * v) + 0.3 * v for v in xs]
    for i, v in enumerate(vals):
        while dq and vals[dq[-1]] <= v:
            dq.pop()
        dq.append(i)
        if dq[0] <= i - k:
            dq.popleft()
        if i >= k - 1:
            out.append(vals[dq[0]])
    return sum(o * (j + 1) for j, o in enumerate(out))


@case(vector(8, 0.0, 3.0), on_list)
def dict_of_lists_buckets(xs):
    """Values bucketed by int(v) into a defaultdict(list) and a setdefault dict; per-bucket
    means and spreads combined."""
    buckets = collections.defaultdict(list)
    other = {}
    for v in xs:
        buckets[int(v)].append(v * v)
        other.setdefault(int(v) % 2, []).append(math.exp(-v))
    total = 0.0
    for key in sorted(buckets):
        vals = buckets[key]
        mean = sum(vals) / len(vals)
        total += (key + 1) * mean + max(vals) - min(vals)
    return total + sum(sum(v) for v in other.values())


@case(scalar(-1.0, 1.0))
def reduce_compose_and_inner_lru(x):
    """functools.reduce composing a pipeline of functions, and a Hermite recurrence in an
    lru_cache'd closure defined inside the call (cache hits return this call's values)."""
    pipeline = [math.sin, lambda t: t * t + x, math.exp, functools.partial(operator.mul, 0.5)]
    y = functools.reduce(lambda acc, fn: fn(acc), pipeline, x)

    @functools.lru_cache(maxsize=None)
    def hermite(n):
        if n == 0:
            return 1.0
        if n == 1:
            return 2.0 * x
        return 2.0 * x * hermite(n - 1) - 2.0 * (n - 1) * hermite(n - 2)

    return y + hermite(6) / 100.0 + hermite(4) / 10.0


@case(vector(6, 0.5, 2.0), on_list)
def itertools_accumulate_groupby(xs):
    """accumulate with func=max and with operator.mul and initial=, pairwise differences,
    starmap, and groupby on a traced predicate (v > 1)."""
    runmax = list(itertools.accumulate(xs, max))
    prods = list(itertools.accumulate(xs, operator.mul, initial=1.0))
    diffs = list(itertools.starmap(operator.sub, itertools.pairwise(xs)))
    groups = [(k, sum(g)) for k, g in itertools.groupby(xs, key=lambda v: v > 1.0)]
    return (sum(runmax) + prods[-1] / 10.0 + sum(d * d for d in diffs)
            + sum((2.0 if k else 1.0) * s for k, s in groups))


@case(vector(6, -1.0, 1.0), on_list)
def zip_longest_takewhile_compress(xs):
    """zip_longest with a traced fillvalue, takewhile / dropwhile on traced predicates,
    compress with selectors computed from the values, and islice with a step."""
    a, b = xs[:4], xs[4:]
    pairs = list(itertools.zip_longest(a, b, fillvalue=xs[0] * 2.0))
    head = list(itertools.takewhile(lambda v: v < 0.9, xs))
    tail = list(itertools.dropwhile(lambda v: v < 0.9, xs))
    chosen = list(itertools.compress(xs, [v > 0 for v in xs]))
    every = list(itertools.islice(xs, 0, None, 2))
    return (sum(p * q for p, q in pairs) + sum(head) - 2.0 * sum(tail)
            + sum(c ** 3 for c in chosen) + math.prod(every))


@case(vector(6, 0.5, 2.0), on_list)
def counter_float_arithmetic(xs):
    """Counter used as a float multiset: update() from a mapping of traced weights,
    subtract(), and + / - / | / & (which drop non-positive counts)."""
    c1 = collections.Counter()
    c1.update({"a": xs[0], "b": xs[1]})
    c1.update({"a": xs[2]})
    c2 = collections.Counter({"a": xs[3], "b": 2.0 * xs[4], "c": xs[5]})
    c2.subtract({"c": 0.25})
    plus, minus = c1 + c2, c2 - c1
    both, either = c1 & c2, c1 | c2
    return (sum(plus.values()) + 3.0 * sum(minus.values()) + both["a"] * either["b"]
            + c1.total())


@case(vector(6, -1.0, 1.0), on_list)
def ordereddict_lru_chainmap(xs):
    """A hand-written LRU (OrderedDict with move_to_end / popitem(last=False)) holding
    traced values, and ChainMap lookups across parameter layers."""
    cache = collections.OrderedDict()
    total = 0.0
    for i, key in enumerate([0, 1, 2, 0, 3, 1, 4, 0]):
        if key in cache:
            cache.move_to_end(key)
            total += cache[key]
        else:
            cache[key] = math.exp(xs[key]) * (i + 1)
            if len(cache) > 3:
                cache.popitem(last=False)
    defaults = {"k": 1.0, "m": xs[5], "c": 0.1}
    user = {"k": xs[4] ** 2}
    params = collections.ChainMap(user, defaults)
    return total + params["k"] * params["m"] + params["c"] + sum(cache.values())


@case(vector(8, -2.0, 2.0), on_list)
def heapq_merge_pushpop_topk(xs):
    """heapq.merge of two sorted halves, heappushpop / heapreplace keeping the top-3 by
    magnitude as (|v|, v) tuples, nsmallest with key=."""
    a, b = sorted(xs[:4]), sorted(xs[4:])
    merged = list(heapq.merge(a, b))
    top = [(abs(v), v) for v in xs[:3]]
    heapq.heapify(top)
    for v in xs[3:]:
        heapq.heappushpop(top, (abs(v), v))
    heapq.heapreplace(top, (abs(xs[0]) + 5.0, xs[0]))
    small = heapq.nsmallest(2, xs, key=lambda v: (v - 0.3) ** 2)
    return (sum(m * (i + 1) for i, m in enumerate(merged)) + sum(v for _, v in top)
            + small[0] - 2.0 * small[1])


# ================================================================ classes


@case(vector(4, 0.5, 2.0), on_list)
def dataclass_post_init_fields(xs):
    """A dataclass whose __post_init__ derives fields (area, diagonal), default_factory
    lists appended to, dataclasses.astuple / fields / replace."""
    import dataclasses

    @dataclasses.dataclass
    class Rect:
        w: float
        h: float
        history: list = dataclasses.field(default_factory=list)
        area: float = dataclasses.field(init=False)
        diag: float = dataclasses.field(init=False)

        def __post_init__(self):
            self.area = self.w * self.h
            self.diag = math.hypot(self.w, self.h)
            self.history.append(self.area)

    r1 = Rect(xs[0], xs[1])
    r2 = dataclasses.replace(r1, h=xs[2] * xs[3])
    names = [f.name for f in dataclasses.fields(r2) if f.name in ("w", "h")]
    tup = dataclasses.astuple(r2)
    return (r1.area + r2.diag + sum(getattr(r2, n) for n in names) + tup[0] * tup[3]
            + r2.history[0])


class _Angle:
    def __init__(self, rad):
        self._rad = 0.0
        self.rad = rad

    @property
    def rad(self):
        return self._rad

    @rad.setter
    def rad(self, value):
        self._rad = math.fmod(value, 2.0 * math.pi)

    @property
    def deg(self):
        return math.degrees(self._rad)

    @deg.setter
    def deg(self, value):
        self.rad = math.radians(value)


@case(vector(3, 0.1, 2.0), on_list)
def property_setters_normalising(xs):
    """Properties with setters that normalise (fmod) and convert units (degrees), set
    through setattr and augmented assignment on the property."""
    a = _Angle(xs[0] * 3.0)
    a.deg += 30.0 * xs[1]
    setattr(a, "rad", a.rad * xs[2])
    b = _Angle(0.0)
    b.deg = a.deg / 2.0
    return math.sin(a.rad) + math.cos(b.rad) + b.deg / 360.0


class _Positive:
    def __set_name__(self, owner, name):
        self.private = "_" + name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return getattr(obj, self.private)

    def __set__(self, obj, value):
        if value <= 0:
            value = 1e-6
        setattr(obj, self.private, value)


class _Spring:
    k = _Positive()
    m = _Positive()

    def __init__(self, k, m):
        self.k = k
        self.m = m

    def omega(self):
        return math.sqrt(self.k / self.m)


@case(vector(4, 0.5, 2.0), on_list)
def validating_descriptor_springs(xs):
    """A data descriptor with __set_name__ storing under a private name after validating
    (value <= 0), used by a class of springs whose attributes are reassigned."""
    springs = [_Spring(xs[i], xs[i + 1]) for i in range(3)]
    springs[1].k *= 2.0
    springs[2].m = springs[0].k + springs[1].m
    return sum(s.omega() for s in springs) + vars(springs[0])["_k"]


class _Vec2:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __add__(self, o):
        return _Vec2(self.x + o.x, self.y + o.y)

    def __sub__(self, o):
        return _Vec2(self.x - o.x, self.y - o.y)

    def __mul__(self, o):
        if isinstance(o, _Vec2):
            return self.x * o.x + self.y * o.y
        return _Vec2(self.x * o, self.y * o)

    __rmul__ = __mul__

    def __truediv__(self, s):
        return _Vec2(self.x / s, self.y / s)

    def __neg__(self):
        return _Vec2(-self.x, -self.y)

    def __abs__(self):
        return math.hypot(self.x, self.y)

    def __matmul__(self, o):
        return self.x * o.y - self.y * o.x

    def __iadd__(self, o):
        self.x += o.x
        self.y += o.y
        return self

    def __iter__(self):
        yield self.x
        yield self.y

    def __getitem__(self, i):
        return (self.x, self.y)[i]


@case(vector(6, -1.0, 1.0), on_list)
def vec2_operator_overloading(xs):
    """A __slots__ Vec2 with + - * (dot and scale) __rmul__ / neg abs @ (cross) +=, iter
    unpacking and indexing: a polygon's area, centroid and a few steps of a spring."""
    pts = [_Vec2(xs[0] + 1.0, xs[1]), _Vec2(xs[2], xs[3] + 1.0), _Vec2(xs[4] - 1.0, xs[5])]
    area = 0.5 * sum(pts[i] @ pts[(i + 1) % 3] for i in range(3))
    cen = (pts[0] + pts[1] + pts[2]) / 3.0
    pos, vel = _Vec2(*cen), _Vec2(0.0, 0.0)
    for _ in range(5):
        vel += -0.5 * pos * 0.1
        pos += vel
    x, y = pos
    return area + abs(cen - pts[0]) + x * pos[1] + (-pos) * vel + 2 * y


class _Meters(float):
    def __new__(cls, value):
        return super().__new__(cls, value)

    def __add__(self, other):
        return _Meters(float(self) + float(other))

    __radd__ = __add__

    def __mul__(self, other):
        return _Meters(float.__mul__(self, other))

    def __repr__(self):
        return f"{float(self):.3f} m"


@case(vector(4, 0.5, 2.0), on_list)
def float_subclass_units(xs):
    """A float subclass for units: __new__ through super(), + and * overridden to keep the
    unit, sum() with start=_Meters(0), math functions on instances, repr in a log."""
    legs = [_Meters(v * v) for v in xs]
    total = sum(legs, _Meters(0.0))
    scaled = total * 1.5 + legs[0]
    log = [repr(scaled)]
    return math.sqrt(scaled) + float(legs[1] * legs[2]) + len(log)


class _Quantity(np.ndarray):
    def __new__(cls, data, unit="m"):
        obj = np.asarray(data, dtype=float).view(cls)
        obj.unit = unit
        return obj

    def __array_finalize__(self, obj):
        self.unit = getattr(obj, "unit", "m")


@case(vector(5, -1.0, 1.0))
def ndarray_subclass_finalize(x):
    """An ndarray subclass made by .view(cls) with __array_finalize__ carrying a unit
    through ufuncs, slices and reductions."""
    q = _Quantity(x * 2.0, unit="s")
    r = np.sin(q) * q + 1.0
    s = r[1:4]
    s *= 2.0
    return float(np.sum(r ** 2) + (s.mean() if s.unit == "s" else 0.0))


class _Wrapped:
    def __init__(self, a):
        self.a = np.asarray(a)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        args = [i.a if isinstance(i, _Wrapped) else i for i in inputs]
        return _Wrapped(getattr(ufunc, method)(*args, **kwargs))


@case(vector(5, -1.0, 1.0))
def array_ufunc_wrapper(x):
    """A container with __array_ufunc__ that unwraps its inputs and rewraps the result:
    np.exp(w), w * 2 through np.multiply, np.add.reduce(w) via the method argument."""
    w = _Wrapped(x)
    y = np.exp(w)
    z = np.multiply(y, 2.0)
    s = np.add.reduce(np.square(z))
    return float(s.a) + float(np.hypot(w, y).a.sum())


@functools.total_ordering
class _Job:
    def __init__(self, prio, work):
        self.prio, self.work = prio, work

    def __eq__(self, other):
        return self.prio == other.prio

    def __lt__(self, other):
        return self.prio < other.prio


@case(vector(6, -2.0, 2.0), on_list)
def total_ordering_job_queue(xs):
    """Objects ordered by a traced priority through functools.total_ordering: sorted(),
    max(), >= (derived), and a heapq of the objects themselves."""
    jobs = [_Job(math.sin(3.0 * v), v * v) for v in xs]
    order = sorted(jobs)
    top = max(jobs)
    heap = list(jobs)
    heapq.heapify(heap)
    first = heapq.heappop(heap)
    geq = sum(1 for j in jobs if j >= jobs[0])
    return (sum((i + 1) * j.work for i, j in enumerate(order)) + top.prio * first.work
            + geq * first.prio)


class _Shape:
    registry: dict = {}

    def __init_subclass__(cls, kind="", **kwargs):
        super().__init_subclass__(**kwargs)
        _Shape.registry[kind] = cls

    @classmethod
    def make(cls, kind, *args):
        return cls.registry[kind](*args)


class _Disc(_Shape, kind="disc"):
    def __init__(self, r):
        self.r = r

    def area(self):
        return math.pi * self.r ** 2


class _Box(_Shape, kind="box"):
    def __init__(self, w, h):
        self.w, self.h = w, h

    def area(self):
        return self.w * self.h

    @classmethod
    def square(cls, s):
        return cls(s, s)


@case(vector(4, 0.5, 2.0), on_list)
def init_subclass_registry(xs):
    """Shapes registered through __init_subclass__(kind=...), built by a classmethod
    factory and an alternative constructor, summed through a generator."""
    shapes = [_Shape.make("disc", xs[0]), _Shape.make("box", xs[1], xs[2]),
              _Box.square(xs[3])]
    return sum(s.area() for s in shapes) + type(shapes[1]).square(xs[0]).area()


class _Point(collections.namedtuple("_PointBase", "x y")):
    __slots__ = ()

    @property
    def norm(self):
        return math.hypot(self.x, self.y)

    def __add__(self, other):
        return _Point(self.x + other.x, self.y + other.y)


@case(vector(4, -1.0, 1.0), on_list)
def namedtuple_subclass_methods(xs):
    """A namedtuple subclass with a property and an __add__ that overrides tuple
    concatenation; _make, _asdict, _replace and tuple unpacking."""
    p = _Point._make(xs[:2])
    q = _Point(xs[2], xs[3])._replace(y=xs[3] * 2.0)
    r = p + q
    d = r._asdict()
    x, y = r
    return r.norm + d["x"] * y + x + max(p)


class _Phasor:
    def __init__(self, mag, ang):
        self.mag, self.ang = mag, ang

    def __complex__(self):
        return complex(self.mag * math.cos(self.ang), self.mag * math.sin(self.ang))


@case(vector(4, 0.2, 1.5), on_list)
def complex_protocol_phasors(xs):
    """complex(obj) through __complex__, then complex arithmetic, cmath.phase and abs:
    a sum of phasors and its power."""
    import cmath

    total = sum((complex(_Phasor(m, a)) for m, a in zip(xs[:2], xs[2:])), 0j)
    z = total * complex(_Phasor(xs[0], 0.3))
    return abs(z) ** 2 + cmath.phase(total) + (z.conjugate() * total).real


# ================================================================ NumPy, mutation-heavy


@case(vector(6, 0.5, 1.5))
def ufunc_at_multiply_maximum(x):
    """ufunc.at with repeated indices for the non-additive ufuncs: multiply.at (each
    repeat multiplies again), maximum.at, subtract.at and divide.at."""
    a = np.ones(4)
    np.multiply.at(a, [0, 0, 1, 3, 3, 3], x)
    b = np.zeros(3)
    np.maximum.at(b, [0, 0, 2, 2], np.sin(3.0 * x[:4]))
    c = np.full(3, 2.0)
    np.subtract.at(c, [1, 1, 2], x[3:])
    np.divide.at(c, [0, 0], x[:2])
    return float(a @ [1.0, 2.0, 3.0, 4.0] + b.sum() + (c ** 2).sum())


@case(vector(5, -1.0, 1.0))
def fancy_2d_iadd_repeated_pairs(x):
    """A[rows, cols] += v with a repeated (row, col) pair (buffered: the last write wins),
    A[[0, 0, 2]] *= s on repeated rows (one multiplication), and a boolean-row update."""
    a = np.outer(np.arange(1.0, 4.0), np.ones(3))
    a[[0, 1, 0], [2, 1, 2]] += x[:3]
    a[[0, 0, 2]] *= x[3]
    a[a[:, 0] > 1.5] -= x[4] ** 2
    return float((a * np.arange(9.0).reshape(3, 3)).sum())


@case(vector(8, -1.0, 1.0))
def views_of_views_written(x):
    """Views of views written through: a[1:][::2], its reverse, a reshape of a contiguous
    slice, and a transpose of that, each updated in place."""
    a = x.copy() + 1.0
    b = a[1:][::2]
    c = b[::-1]
    c *= np.array([1.0, 2.0, 3.0, 4.0])
    m = a[:6].reshape(2, 3)
    m.T[1] += a[7]
    m[:, ::2] **= 2
    return float(a @ np.linspace(1.0, 2.0, 8))


@case(vector(6, -1.0, 1.0))
def out_argument_overlapping(x):
    """out= arguments that overlap the inputs: np.add(a[:-1], a[1:], out=a[1:]), cumsum
    into itself, multiply(a, a, out=a), matmul into a preallocated array."""
    a = x.copy()
    np.add(a[:-1], a[1:], out=a[1:])
    b = np.exp(x)
    np.cumsum(b, out=b)
    c = x[::-1].copy()
    np.multiply(c, c, out=c)
    m = np.outer(x[:3], x[3:])
    w = np.empty(3)
    np.matmul(m, c[:3], out=w)
    return float(a @ np.arange(6.0) + b[-1] + w.sum())


@case(vector(6, -1.0, 1.0))
def overlapping_slice_assignment(x):
    """Slice assignments whose source overlaps the destination: a shift right
    (a[1:] = a[:-1]), a reversal (a[:] = a[::-1]) and a 2-d column shift."""
    a = np.exp(x)
    a[1:] = a[:-1]
    b = x * 2.0
    b[:] = b[::-1]
    m = np.arange(1.0, 7.0).reshape(2, 3) * x.reshape(2, 3)
    m[:, 1:] = m[:, :-1]
    return float(a @ np.arange(1.0, 7.0) + b @ np.linspace(0.0, 1.0, 6) + m.sum() ** 2)


@case(matrix(4, extra=4, diag=0.0))
def fancy_row_swap_pivoting(x):
    """Gaussian elimination with partial pivoting swapping rows by fancy index
    (a[[k, p]] = a[[p, k]]) and the right-hand side the same way; returns a solution mix."""
    a = x[:16].reshape(4, 4).copy()
    b = x[16:].copy()
    n = 4
    for k in range(n - 1):
        p = k + int(np.argmax(np.abs(a[k:, k])))
        if p != k:
            a[[k, p]] = a[[p, k]]
            b[[k, p]] = b[[p, k]]
        for i in range(k + 1, n):
            m = a[i, k] / a[k, k]
            a[i, k:] -= m * a[k, k:]
            b[i] -= m * b[k]
    xs = np.zeros(n)
    for i in range(n - 1, -1, -1):
        xs[i] = (b[i] - a[i, i + 1:] @ xs[i + 1:]) / a[i, i]
    return float(xs @ np.array([1.0, -1.0, 2.0, 0.5]))


@case(vector(9, -2.0, 2.0))
def sort_views_in_place(x):
    """In-place sorts of views: a[::-1].sort() (the array ends descending), m.sort(axis=0)
    on a 2-d array, a slice sorted in place, and np.partition's k-th element."""
    a = x[:5].copy()
    a[::-1].sort()
    m = x.reshape(3, 3).copy()
    m.sort(axis=0)
    c = np.sin(x)
    c[2:7].sort()
    k = np.partition(x * x, 4)[4]
    return float(a @ np.arange(5.0) + (m * np.arange(9.0).reshape(3, 3)).sum()
                 + c @ np.linspace(-1.0, 1.0, 9) + k)


@case(vector(4, -1.0, 1.0))
def fill_diagonal_and_flat_writes(x):
    """a.fill with a traced scalar, np.fill_diagonal with a traced vector (and wrap=True
    on a tall matrix), flat writes with a step and with repeated indices."""
    m = np.empty((4, 4))
    m.fill(x[0])
    np.fill_diagonal(m, x * 3.0)
    t = np.zeros((7, 3))
    np.fill_diagonal(t, x[1] + 2.0, wrap=True)
    f = np.zeros(8)
    f.flat[::3] = x[:3]
    f.flat[[1, 1, 4]] = x[1:]
    return float((m @ x).sum() + t.sum() * x[2] + f @ np.arange(1.0, 9.0))


@case(vector(6, -1.0, 1.0))
def real_imag_views_written(x):
    """The .real and .imag views of a complex array written in place (z.real[:] = ...,
    z.imag *= ...), and .real of a float array (the array itself) scaled through it."""
    z = np.zeros(3, dtype=complex)
    z.real[:] = x[:3]
    z.imag[:] = x[3:] ** 2
    z.imag *= 2.0
    z *= np.exp(1j * x[:3])
    a = x.copy()
    a.real[1:3] *= 4.0
    return float(np.abs(z).sum() + (z * z.conj()).real.sum() + a @ np.arange(6.0))


@case(vector(6, -1.0, 1.0))
def ascontiguous_alias_written(x):
    """np.ascontiguousarray / np.asarray / np.asfortranarray return the array itself when no
    copy is needed (writes reach the original) and a copy when one is (writes do not)."""
    a = x * 2.0
    b = np.ascontiguousarray(a)
    b[0] += 10.0 * x[1]
    c = np.asarray(a, dtype=float)
    c *= 1.5
    m = a.reshape(2, 3)
    f = np.asfortranarray(m)
    f[0, 0] = 100.0
    t = np.ascontiguousarray(m.T)
    t[1, 1] = -50.0
    r = m.T.reshape(-1)
    r[0] = 7.0
    return float(a @ np.arange(1.0, 7.0) + f.sum() + t.sum() + r.sum())


@case(vector(5, -1.0, 1.0))
def put_place_copyto_broadcast(x):
    """np.put with repeated indices (the last wins) and mode='wrap', np.place cycling its
    values, np.copyto with a broadcast traced scalar under where=, np.putmask cycling."""
    a = np.zeros(6)
    np.put(a, [0, 2, 0, 8], x[:4], mode="wrap")
    b = np.arange(6.0)
    np.place(b, b > 1.5, x[:2])
    c = np.ones(6)
    np.copyto(c, x[4] * 3.0, where=np.array([True, False, True, True, False, False]))
    d = np.linspace(0.0, 1.0, 6)
    np.putmask(d, d > 0.3, x[1:4] ** 2)
    return float(a @ np.arange(1.0, 7.0) + b @ b + c.prod() + d.sum())


@case(vector(5, -1.0, 1.0))
def structured_row_tuples(x):
    """A structured array filled row by row with tuples of traced floats (s[i] = (p, v)),
    a field updated in place, and the fields read back by name."""
    s = np.zeros(5, dtype=[("p", "f8"), ("v", "f8")])
    for i in range(5):
        s[i] = (x[i], x[i] ** 2)
    s["p"] += 0.5 * s["v"]
    return float((s["p"] * s["v"]).sum() + s[2]["p"])


@case(matrix(3, diag=2.0))
def einsum_diagonal_view_written(x):
    """np.einsum('ii->i', a) returns a writable view of the diagonal: scaling it in place
    changes a; also 'ij,jk,kl->il' with optimize=True and an ellipsis contraction."""
    a = x.reshape(3, 3).copy()
    d = np.einsum("ii->i", a)
    d *= 2.0
    chain = np.einsum("ij,jk,kl->il", a, a.T, a, optimize=True)
    ell = np.einsum("...i,...i->...", a, a.T)
    return float(a.sum() + chain.trace() / 10.0 + ell @ np.arange(1.0, 4.0))


@case(matrix(3, diag=3.0))
def linalg_small_variety(x):
    """Small np.linalg calls: eigvals of a non-symmetric matrix (real parts summed), the
    nuclear and 2-norms, cond, multi_dot, tensorsolve and solve with several right sides."""
    a = x.reshape(3, 3)
    ev = np.linalg.eigvals(a)
    nuc = np.linalg.norm(a, "nuc")
    two = np.linalg.norm(a, 2)
    cnd = np.linalg.cond(a)
    md = np.linalg.multi_dot([a, a.T, a])
    ts = np.linalg.tensorsolve(a, np.array([1.0, 2.0, 3.0]))
    ms = np.linalg.solve(a, np.eye(3)[:, :2])
    return float(ev.real.sum() + nuc + two + cnd + md[0, 1] + ts.sum() + ms.sum())


@case(vector(8, -1.0, 1.0))
def complex_fft_real_output(x):
    """rfft / irfft round trip with a complex filter applied in place on the spectrum,
    np.angle and np.unwrap of a phase, and |spectrum|^2."""
    spec = np.fft.rfft(x)
    power = (np.abs(spec) ** 2).sum()
    spec[1:] *= np.exp(-0.3j * np.arange(1, 5))
    back = np.fft.irfft(spec, n=8)
    ph = np.unwrap(np.angle(np.exp(1j * 3.0 * x)))
    return float(power + back @ np.arange(8.0) + ph.sum())


@case(vector(6, -1.0, 1.0))
def masked_where_filled(x):
    """np.ma.masked_where / masked_greater, filled(), compressed() and a weighted
    np.ma.average of traced data."""
    m = np.ma.masked_where(np.array([0, 1, 0, 0, 1, 0], dtype=bool), x * 2.0)
    g = np.ma.masked_greater(x, 0.5)
    return float(m.filled(0.0).sum() + (g.compressed() ** 2).sum()
                 + np.ma.average(m, weights=np.arange(1.0, 7.0)))


@case(vector(7, -1.0, 1.0))
def sliding_window_and_resize(x):
    """sliding_window_view means, np.resize repeating the data, np.insert / np.delete /
    np.append of traced values, ediff1d with to_begin."""
    from numpy.lib.stride_tricks import sliding_window_view

    win = sliding_window_view(x, 3).mean(axis=1)
    r = np.resize(x[:3], 7)
    ins = np.insert(x, [1, 4], [x[0] * 2.0, x[6]])
    dele = np.delete(ins, [0, 2])
    app = np.append(dele, x[:2] ** 2)
    ed = np.ediff1d(x, to_begin=x[3])
    return float(win @ np.arange(5.0) + r @ np.arange(7.0) + app @ np.linspace(0, 1, 9)
                 + ed @ ed)


@case(matrix(3, extra=3, diag=1.0))
def moveaxis_swapaxes_written(x):
    """A 3-d stack written through np.moveaxis / np.swapaxes / np.rollaxis views (*=, +=),
    and through an np.broadcast_to input never written."""
    t = np.stack([x[:9].reshape(3, 3), x[:9].reshape(3, 3).T, np.eye(3)])
    v = np.moveaxis(t, 0, -1)
    v[..., 2] *= x[9]
    s = np.swapaxes(t, 1, 2)
    s[0] += x[10]
    r = np.rollaxis(t, 2)
    r[1, 1] -= x[11] ** 2
    b = np.broadcast_to(x[9:12], (3, 3))
    return float((t * np.arange(27.0).reshape(3, 3, 3)).sum() + (b * t[1]).sum())


@case(vector(5, 0.2, 2.0))
def vectorize_excluded_apply_over_axes(x):
    """np.vectorize with excluded= (a traced scalar passed through), np.apply_over_axes
    with np.sum, np.select with a traced default, np.piecewise with scalar and callable
    pieces taking keyword arguments."""
    def response(t, gain):
        return gain * t / (1.0 + t * t)

    v = np.vectorize(response, excluded={"gain"})
    r = v(x, gain=x[0])
    m = np.outer(x, x[:3])
    s = np.apply_over_axes(np.sum, m, [0, 1])
    sel = np.select([x < 0.7, x > 1.5], [x ** 2, np.log(x)], default=x[1])
    pw = np.piecewise(x, [x < 1.0, x >= 1.0], [lambda t, k: k * t, 2.0], k=x[2])
    return float(r.sum() + s.sum() + sel @ np.arange(5.0) + pw.sum())


@case(vector(6, -1.0, 1.0))
def ndenumerate_ndindex_loops(x):
    """Loops over np.ndenumerate and np.ndindex, writing elements of a 2-d result with
    tuple indices and reading through a.item() and a.flat."""
    a = x.reshape(2, 3)
    out = np.zeros((2, 3))
    for (i, j), v in np.ndenumerate(a):
        out[i, j] = v * (i + j + 1)
    for idx in np.ndindex(2, 3):
        out[idx] += math.sin(a.item(idx))
    return float(sum(out.flat) + out.item(4) * a.flat[5])


@case(vector(6, -1.0, 1.0))
def reduce_where_initial(x):
    """Reductions with where= and initial=: np.sum / np.max / np.add.reduce masked, a
    mean with where=, and np.prod over a masked axis of a 2-d array."""
    mask = np.array([True, False, True, True, False, True])
    s = np.sum(x ** 2, where=mask)
    mx = np.max(np.sin(x), where=mask, initial=-5.0)
    r = np.add.reduce(x * 3.0, where=~mask, initial=1.0)
    mn = np.mean(np.exp(x), where=mask)
    p = np.prod(x.reshape(2, 3) + 2.0, axis=1, where=np.array([True, False, True]))
    return float(s + mx + r + mn + p @ [1.0, 2.0])


@case(vector(6, -1.0, 1.0))
def clip_out_inplace_and_negative_where(x):
    """np.clip(a, lo, hi, out=a) with traced bounds, np.negative(a, out=a, where=mask)
    (unselected entries keep their old values), np.abs(out=) into a slice."""
    a = np.exp(x)
    np.clip(a, x[0] + 1.0, 2.5, out=a)
    b = x * 2.0
    np.negative(b, out=b, where=np.array([True, False, True, False, True, False]))
    c = np.zeros(8)
    np.abs(x - 0.2, out=c[1:7])
    return float(a @ np.arange(6.0) + b @ np.arange(1.0, 7.0) + c @ np.arange(8.0))


# ================================================================ second round: the findings


class _Samples:
    """A legacy sequence class: __len__ and __getitem__, no __array__."""

    def __init__(self, values, gain):
        self.values, self.gain = values, gain

    def __len__(self):
        return len(self.values)

    def __getitem__(self, i):
        if i >= len(self.values):
            raise IndexError(i)
        return self.gain * self.values[i] ** 2


@case(vector(5, -1.0, 1.0))
def sequence_protocol_to_array(x):
    """np.asarray of an object that is only a sequence (__len__ / __getitem__ computing
    from traced values): NumPy's discovery calls them in C; other terms stay traced."""
    s = _Samples(list(x), 2.0)
    arr = np.asarray(s, dtype=float)
    return float(arr @ np.arange(1.0, 6.0) + x[0] * x[1])


@case(vector(7, -1.0, 1.0))
def sliding_window_writeable_smoother(x):
    """sliding_window_view(writeable=True) used to write in place: each window's first
    element scaled (distinct memory), then a window mean read back."""
    from numpy.lib.stride_tricks import sliding_window_view

    a = np.exp(x)
    w = sliding_window_view(a, 3, writeable=True)
    w[:, 0] *= 0.5
    return float(a @ np.arange(1.0, 8.0) + w.mean(axis=1).sum())


@case(vector(6, 0.5, 2.0))
def structured_record_rows(x):
    """Particles in a structured array written row by row as tuples, read back as records
    (np.void rows indexed by field name) in a loop: the kinetic energy."""
    parts = np.zeros(3, dtype=[("m", "f8"), ("v", "f8")])
    for i in range(3):
        parts[i] = (x[i], x[i + 3] * 2.0)
    energy = 0.0
    for i in range(3):
        rec = parts[i]
        energy += 0.5 * rec["m"] * rec["v"] ** 2
    return float(energy + x[0] * x[5])


@case(vector(5, -1.0, 1.0))
def structured_field_columns(x):
    """A structured array's field columns assigned from traced arrays and read back by
    name (s['p'] is a float view of the void buffer)."""
    s = np.zeros(5, dtype=[("p", "f8"), ("q", "f8")])
    s["p"] = x
    s["q"] = np.sin(x)
    return float((s["p"] * s["q"]).sum())


@case(vector(6, -2.0, 2.0))
def argsort_by_bound_getitem(x):
    """The pure-Python argsort idiom sorted(range(n), key=x.__getitem__), and an index list
    sorted in place by a lambda over traced weights: ranks weighting the values."""
    order = sorted(range(len(x)), key=x.__getitem__)
    w = np.cos(x)
    idx = list(range(len(x)))
    idx.sort(key=lambda i: w[i])
    best = min(range(len(x)), key=w.__getitem__)
    return float(sum(r * x[i] for r, i in enumerate(order)) + x[idx[0]] * 2.0 + x[best])


@case(vector(4, -2.0, 2.0), on_list)
def text_label_decisions(xs):
    """Decisions made on text: a log label's sign character, the width of a formatted
    number, and str() of a value choosing a branch."""
    total = 0.0
    for v in xs:
        label = f"{v:+.3f}"
        if label.startswith("-"):
            total += 2.0 * v
        else:
            total += v * v
        if len("%.2f" % v) > 4:
            total += 0.5 * v
    return total + (xs[0] if str(xs[1])[0] == "-" else 3.0 * xs[0])


@case(vector(4, -1.0, 2.0), on_list)
def safe_log_try_except(xs):
    """The safe-math idiom: math.log / math.sqrt inside try, ValueError falling back to a
    linear term (the domain error decides the branch)."""
    total = 0.0
    for v in xs:
        try:
            total += math.log(v) + math.sqrt(v)
        except ValueError:
            total += 3.0 * v - 1.0
    return total


@case(vector(8, -1.0, 1.0), on_list)
def rolling_deque_numpy_stats(xs):
    """The rolling-window idiom: a deque(maxlen=4) of the latest samples handed straight
    to NumPy (np.mean, np.dot with weights, np.linalg.norm), plus a plain running sum."""
    window = collections.deque(maxlen=4)
    weights = np.array([0.1, 0.2, 0.3, 0.4])
    total, running = 0.0, 0.0
    for v in xs:
        window.append(v * v + 0.5 * v)
        running += v
        if len(window) == window.maxlen:
            total += np.mean(window) + np.dot(weights, window) + 0.1 * np.linalg.norm(window)
    return float(total + running)


class _Series(list):
    """A list subclass with a helper method, as legacy code defines them."""

    def scaled(self, k):
        return _Series(k * v for v in self)


@case(vector(5, -1.0, 1.0), on_list)
def list_subclass_userlist_to_numpy(xs):
    """A list subclass and a collections.UserList of traced floats passed to np.exp /
    np.polyval / array + sequence arithmetic, next to terms computed in plain Python."""
    s = _Series(v * 2.0 for v in xs).scaled(1.5)
    u = collections.UserList([math.sin(v) for v in xs])
    a = np.exp(s) @ np.arange(1.0, 6.0)
    b = np.polyval(u, 0.7)
    c = (np.linspace(0.0, 1.0, 5) + u).sum()
    return float(a + b + c + sum(s) * xs[0])


@case(vector(8, -1.0, 1.5))
def itertools_over_numpy_array(x):
    """itertools fed a 1-d NumPy array directly (as legacy code does with lists): the
    leading run below a threshold (takewhile / dropwhile), every other sample (islice),
    masked samples (compress / filterfalse), neighbour pairs (pairwise), sign runs
    (groupby) and a tee'd lag product."""
    head = sum(itertools.takewhile(lambda v: v < 1.2, x))
    tail = sum(itertools.dropwhile(lambda v: v < 1.2, x))
    odd = sum(itertools.islice(x, 1, None, 2))
    kept = sum(itertools.compress(x, [1, 0, 1, 1, 0, 1, 0, 1]))
    neg = sum(itertools.filterfalse(lambda v: v > 0, x))
    steps = sum((b - a) ** 2 for a, b in itertools.pairwise(x))
    runs = sum(len(list(g)) * (1.0 if k else -1.0) for k, g in
               itertools.groupby(x, key=lambda v: v > 0))
    a, b = itertools.tee(x)
    next(b)
    lag = sum(u * v for u, v in zip(a, b))
    return float(head + 2.0 * tail + odd * kept + neg + steps + runs + lag + x[0] * x[1])


@case(vector(6, -1.0, 1.0))
def containers_from_numpy_array(x):
    """Python containers built straight from a NumPy array: a deque(arr) rotated, a
    deque(maxlen).extend(arr), set(arr), and a list slice assigned from an array slice."""
    d = collections.deque(x * 2.0)
    d.rotate(2)
    window = collections.deque(maxlen=3)
    window.extend(np.exp(x))
    uniq = set(x ** 2)
    table = [0.0] * 6
    table[1:4] = x[:3] * 3.0
    return float(sum(a * b for a, b in zip(d, range(1, 7))) + sum(window) + max(uniq)
                 + sum(t * (i + 1) for i, t in enumerate(table)) + x[4] * x[5])


@case(vector(5, -1.0, 1.0))
def itertools_combinatorics_array(x):
    """Pair energies over itertools.combinations / permutations / product of slices of a
    NumPy array, next to a directly computed term."""
    pairs = sum(1.0 / (1.0 + (a - b) ** 2) for a, b in itertools.combinations(x, 2))
    ordered = sum(a * b * b for a, b in itertools.permutations(x[:3], 2))
    grid = sum(a * b for a, b in itertools.product(x[:2], x[3:]))
    return float(pairs + ordered + grid + np.sum(x ** 2))



@case(vector(6, -1.0, 1.0))
def c_callbacks_on_traced_array(x):
    """C code reading a traced array's elements by itself: operator.itemgetter(i, j)(x),
    map(x.__getitem__, idx), map(x.item, idx), itertools.chain.from_iterable over a 2-d
    array's rows; plus a term computed directly."""
    picks = operator.itemgetter(1, 3, 5)(x)
    fetched = list(map(x.__getitem__, [0, 2, 2, 4]))
    items = list(map(x.item, [1, 5]))
    flat = list(itertools.chain.from_iterable(np.sin(x).reshape(2, 3)))
    return float(sum(picks) * 2.0 + sum(v * v for v in fetched) + items[0] * items[1]
                 + sum(f * (i + 1) for i, f in enumerate(flat)) + x[0] * x[3])


@case(vector(6, -1.0, 1.0))
def flat_iterator_loops(x):
    """The a.flat iterator consumed as legacy code does: a for loop over m.flat, sum() and
    list() of it, and itertools.islice(m.flat, ...); plus a direct term."""
    m = np.exp(x).reshape(2, 3)
    energy = 0.0
    for v in m.flat:
        energy += v * v
    total = sum(m.T.flat)
    middle = list(itertools.islice(m.flat, 1, 4))
    return float(energy + 2.0 * total + sum(middle) ** 2 + x[0] * x[1])

# ================================================================ invisibility: warnings


def _warn_complex_store(x):
    """Complex values stored into a float array: NumPy's ComplexWarning at this line."""
    out = np.zeros(3)
    out[:] = x[:3] * (1.0 + 0.5j)
    return float(out @ np.arange(1.0, 4.0) + x[3])


def _warn_log_negative(x):
    """np.log of partly negative data, the NaNs dropped by np.nansum."""
    return float(np.nansum(np.log(x)) + x @ x)


def _check_positive(v):
    if v < 0:
        import warnings

        warnings.warn("negative sample clipped", UserWarning, stacklevel=2)
        return 0.0
    return v


def _warn_user_helper(x):
    """A helper warning with stacklevel=2 (the caller's line) for negative samples."""
    return float(sum(_check_positive(v) * (i + 1) for i, v in enumerate(x)) + x[0] * x[1])


def _warn_polyfit_rank(x):
    """An over-parameterised np.polyfit: NumPy's RankWarning."""
    return float(np.polyfit(np.arange(4.0), x, 5)[-1] + x.sum())


def _warn_mean_of_empty(x):
    """The mean of an empty selection (RuntimeWarning from np.mean), replaced by zero."""
    big = x[x > 5.0]
    return float(np.nan_to_num(big.mean()) + x @ x)


def _raise_sqrt_domain(x):
    """An uncaught math domain error at some inputs."""
    return math.sqrt(x[0]) + x[1]


def _warn_caught_domain_error(x):
    """math.sqrt in try, the domain error caught and warned about, a fallback used."""
    import warnings

    try:
        r = math.sqrt(x[0])
    except ValueError:
        warnings.warn("sqrt of a negative sample: using |x|", RuntimeWarning, stacklevel=1)
        r = math.sqrt(-x[0])
    return r * x[1]


# name -> (program, point 1, point 2, point 2 replays point 1's trace): the warnings
# (category, message, file, line) and the exception at point 2 of a fresh capture, and of a
# cached trace recorded at point 1, must be the native run's; the last item: whether point 2
# replays point 1's trace (none does: a trace whose capture warned is not replayed, and a
# replay that would warn or raise is a miss, framead/replay_graph.py)
WARNING_PROGRAMS = {
    "warn_complex_store": (_warn_complex_store, [0.3, 0.0, 0.7, 1.2], [0.3, -0.5, 0.7, 1.2],
                           False),
    "warn_log_negative": (_warn_log_negative, [0.3, 0.5, 0.7, 1.2], [0.3, -0.5, 0.7, 1.2],
                          False),
    "warn_user_helper": (_warn_user_helper, [0.3, -0.4, 0.7, 1.2], [0.3, -0.5, 0.7, 1.2],
                         False),
    "warn_polyfit_rank": (_warn_polyfit_rank, [0.3, -0.4, 0.7, 1.2], [0.3, -0.5, 0.7, 1.2],
                          False),
    "warn_mean_of_empty": (_warn_mean_of_empty, [0.3, -0.4, 0.7, 1.2], [0.3, -0.5, 0.7, 1.2],
                           False),
    "warn_caught_domain_error": (_warn_caught_domain_error, [0.3, 0.5, 0.7, 1.2],
                                 [-0.3, 0.5, 0.7, 1.2], False),
    "raise_sqrt_domain": (_raise_sqrt_domain, [0.3, 0.5, 0.7, 1.2], [-0.3, 0.5, 0.7, 1.2],
                          False),
}
