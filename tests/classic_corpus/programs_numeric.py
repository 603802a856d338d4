# ruff: noqa: B905 - legacy code: zip() without strict=, as it was written
"""Numerical methods and library-style code: stencils, splines, interpolation, a particle
system with classes and in-place updates, heat equation, Kalman filters, gradient descent,
geometry, and programs that import NumPy / SciPy / statistics inside their bodies."""

from registry import case, on_list, scalar, vector


@case(vector(8, -1.0, 1.0), on_list)
def laplacian_stencil_energy(u):
    """Dirichlet energy of a grid function via the 3-point Laplacian stencil."""
    h = 0.1
    n = len(u)
    lap = [0.0] * n
    for i in range(1, n - 1):
        lap[i] = (u[i - 1] - 2.0 * u[i] + u[i + 1]) / (h * h)
    return -0.5 * sum(u[i] * lap[i] for i in range(1, n - 1)) * h


def _natural_spline_second_derivatives(x, y):
    n = len(x)
    h = [x[i + 1] - x[i] for i in range(n - 1)]
    a = [0.0] * n
    b = [1.0] + [2.0 * (h[i - 1] + h[i]) for i in range(1, n - 1)] + [1.0]
    c = [0.0] * n
    d = [0.0] * n
    for i in range(1, n - 1):
        a[i], c[i] = h[i - 1], h[i]
        d[i] = 6.0 * ((y[i + 1] - y[i]) / h[i] - (y[i] - y[i - 1]) / h[i - 1])
    for i in range(1, n):  # forward sweep
        m = a[i] / b[i - 1]
        b[i] -= m * c[i - 1]
        d[i] -= m * d[i - 1]
    M = [0.0] * n
    M[-1] = d[-1] / b[-1]
    for i in range(n - 2, -1, -1):
        M[i] = (d[i] - c[i] * M[i + 1]) / b[i]
    return M


@case(vector(6, -1.0, 1.0), on_list)
def natural_cubic_spline(ys):
    """Natural cubic spline through (i/2, y_i), evaluated at 1.3 (hand-written solve)."""
    xs = [0.5 * i for i in range(len(ys))]
    M = _natural_spline_second_derivatives(xs, ys)
    t = 1.3
    i = 0
    while xs[i + 1] < t:
        i += 1
    h = xs[i + 1] - xs[i]
    A, B = (xs[i + 1] - t) / h, (t - xs[i]) / h
    return (A * ys[i] + B * ys[i + 1]
            + ((A ** 3 - A) * M[i] + (B ** 3 - B) * M[i + 1]) * h * h / 6.0)


@case(vector(5, -1.0, 1.0), on_list)
def lagrange_interpolation(ys):
    """Lagrange interpolating polynomial through equispaced nodes, evaluated at 0.37."""
    xs = [-1.0, -0.5, 0.0, 0.5, 1.0]
    t = 0.37
    total = 0.0
    for i, yi in enumerate(ys):
        li = 1.0
        for j, xj in enumerate(xs):
            if j != i:
                li *= (t - xj) / (xs[i] - xj)
        total += yi * li
    return total


@case(vector(5, -1.0, 1.0), on_list)
def newton_divided_differences(ys):
    """Newton's divided-difference table (in place), polynomial evaluated at 0.8."""
    xs = [0.0, 0.4, 1.1, 1.5, 2.0]
    coef = list(ys)
    n = len(xs)
    for j in range(1, n):
        for i in range(n - 1, j - 1, -1):
            coef[i] = (coef[i] - coef[i - 1]) / (xs[i] - xs[i - j])
    t = 0.8
    p = coef[-1]
    for k in range(n - 2, -1, -1):
        p = p * (t - xs[k]) + coef[k]
    return p


class Particle:
    def __init__(self, x, y, vx, vy, mass=1.0):
        self.pos = [x, y]
        self.vel = [vx, vy]
        self.mass = mass

    def kick(self, fx, fy, dt):
        self.vel[0] += fx / self.mass * dt
        self.vel[1] += fy / self.mass * dt

    def drift(self, dt):
        self.pos[0] += self.vel[0] * dt
        self.pos[1] += self.vel[1] * dt

    @property
    def kinetic(self):
        return 0.5 * self.mass * (self.vel[0] ** 2 + self.vel[1] ** 2)


class System:
    def __init__(self, particles, drag):
        self.particles = particles
        self.drag = drag

    def step(self, dt):
        for p in self.particles:
            p.kick(-self.drag * p.vel[0], -9.81 * p.mass - self.drag * p.vel[1], dt)
        for p in self.particles:
            p.drift(dt)


@case(vector(6, -1.0, 1.0), on_list)
def particle_system(v):
    """Three particles with drag under gravity (classes, attribute and in-place list
    updates); returns total kinetic energy plus the sum of heights after 1 s."""
    parts = [Particle(0.0, 1.0 * k, v[2 * k], v[2 * k + 1], mass=1.0 + k) for k in range(3)]
    world = System(parts, drag=0.3)
    for _ in range(100):
        world.step(0.01)
    return sum(p.kinetic for p in parts) + sum(p.pos[1] for p in parts)


@case(vector(9, 0.0, 1.0), on_list)
def heat_explicit(u0):
    """1-D heat equation, explicit FTCS scheme, fixed ends, 60 steps."""
    u = [0.0] + list(u0) + [0.0]
    r = 0.4
    for _ in range(60):
        u = [u[0]] + [u[i] + r * (u[i - 1] - 2 * u[i] + u[i + 1])
                      for i in range(1, len(u) - 1)] + [u[-1]]
    return sum(v * v for v in u)


@case(vector(8, -1.0, 1.0), on_list)
def kalman_scalar(zs):
    """A scalar Kalman filter (random walk model) over a series of measurements."""
    x, P = 0.0, 1.0
    Q, R = 0.01, 0.25
    for z in zs:
        P = P + Q
        K = P / (P + R)
        x = x + K * (z - x)
        P = (1 - K) * P
    return x


@case(vector(5, -1.0, 1.0), on_list)
def kalman_constant_velocity(zs):
    """A 2-state (position, velocity) Kalman filter with 2 x 2 lists of lists."""
    dt = 0.5
    F = [[1.0, dt], [0.0, 1.0]]
    Q = [[0.01, 0.0], [0.0, 0.01]]
    R = 0.2
    x = [0.0, 0.0]
    P = [[1.0, 0.0], [0.0, 1.0]]

    def matmul(A, B):
        return [[sum(A[i][k] * B[k][j] for k in range(2)) for j in range(2)] for i in range(2)]

    def transpose(A):
        return [[A[j][i] for j in range(2)] for i in range(2)]

    for z in zs:
        x = [F[0][0] * x[0] + F[0][1] * x[1], F[1][0] * x[0] + F[1][1] * x[1]]
        P = matmul(matmul(F, P), transpose(F))
        P = [[P[i][j] + Q[i][j] for j in range(2)] for i in range(2)]
        S = P[0][0] + R
        K = [P[0][0] / S, P[1][0] / S]
        y = z - x[0]
        x = [x[0] + K[0] * y, x[1] + K[1] * y]
        P = [[P[i][j] - K[i] * P[0][j] for j in range(2)] for i in range(2)]
    return x[0] + x[1]


@case(vector(2, 0.5, 2.0), on_list)
def gradient_descent_inner(p):
    """50 gradient steps on (w - a)^2 + b w^4 / 4; returns the final w."""
    a, b = p
    w = 0.0
    for _ in range(50):
        grad = 2.0 * (w - a) + b * w ** 3
        w -= 0.1 * grad
    return w


@case(scalar(0.5, 3.0))
def finite_difference_inside(a):
    """A program that itself takes a central difference of sin(a t)^2 at t = 0.8."""
    import math

    def f(t):
        return math.sin(a * t) ** 2

    h = 1e-4
    return (f(0.8 + h) - f(0.8 - h)) / (2 * h)


@case(vector(10, -1.0, 1.0), on_list)
def shoelace_area(c):
    """Area of a pentagon (perturbed regular) by the shoelace formula."""
    import math

    pts = [(math.cos(2 * math.pi * k / 5) + 0.2 * c[2 * k],
            math.sin(2 * math.pi * k / 5) + 0.2 * c[2 * k + 1]) for k in range(5)]
    area = 0.0
    for (x1, y1), (x2, y2) in zip(pts, pts[1:] + pts[:1]):
        area += x1 * y2 - x2 * y1
    return 0.5 * area


@case(vector(6, 0.0, 1.0), on_list)
def arc_length_hypot(ys):
    """Length of the polyline through (i, y_i), summing math.hypot of the segments."""
    import math

    return sum(math.hypot(1.0, b - a) for a, b in zip(ys, ys[1:]))


@case(vector(6, -1.0, 1.0), on_list)
def cosine_similarity(v):
    """Cosine similarity of two 3-vectors written with loops."""
    a, b = v[:3], v[3:]
    dot = na = nb = 0.0
    for i in range(3):
        dot += a[i] * b[i]
        na += a[i] * a[i]
        nb += b[i] * b[i]
    return dot / (na ** 0.5 * nb ** 0.5)


@case(vector(5, 0.5, 2.0))
def numpy_inside_polyval(x):
    """A program that imports NumPy inside: np.polyval and np.trapezoid on its input."""
    import numpy as np

    t = np.linspace(0.0, 1.0, 21)
    return float(np.polyval(x, 0.3)) + np.trapezoid(np.exp(-x[0] * t) * x[1], t)


@case(vector(4, 0.5, 3.0), on_list)
def scipy_special_inside(xs):
    """from scipy import special inside the body: gammaln, erf, expit over a list."""
    from scipy import special

    return sum(special.gammaln(x) + special.erf(x - 1.0) + special.expit(-x) for x in xs)


@case(vector(3, 0.5, 1.5), on_list)
def scipy_stats_inside(p):
    """scipy.stats.norm.logpdf of fixed data, location and scale from the input."""
    from scipy.stats import norm

    data = [0.1, 0.7, -0.3, 1.2]
    return sum(norm.logpdf(d, loc=p[0] - 1.0, scale=p[1]) for d in data) * p[2]


@case(vector(12, -1.0, 1.0), on_list)
def numpy_linalg_inside(v):
    """np.linalg.solve on a matrix built from lists (NumPy imported inside)."""
    import numpy as np

    A = np.array([v[0:3], v[3:6], v[6:9]]) + 4.0 * np.eye(3)
    b = v[9:12]
    x = np.linalg.solve(A, b)
    return x.sum()


@case(vector(6, 0.5, 3.0))
def numpy_logsumexp_inside(z):
    """logsumexp written with NumPy imported in the body, then .item() on the result."""
    import numpy as np

    m = np.max(z)
    return (m + np.log(np.sum(np.exp(z - m)))).item()


@case(vector(4, 0.5, 2.0))
def numpy_scalar_casts(x):
    """np.float64(...) and float(...) around traced scalars, as legacy code often does."""
    import numpy as np

    a = np.float64(x[0] * x[1])
    b = float(x[2]) + np.float64(0.5)
    return float(a * b + np.sqrt(x[3]))
