"""SciPy functions handed to framead directly or from short programs: scipy.linalg,
scipy.fft, scipy.optimize's test functions, scipy.integrate, scipy.interpolate,
scipy.ndimage, scipy.signal and scipy.spatial, with the arguments of their docstring
examples and of SciPy's own tests (scipy/*/tests, BSD-3-Clause)."""

from __future__ import annotations

import numpy as np

from . import Case, combos

O = "scipy docstring examples and tests"


def cases() -> list[Case]:
    try:
        import scipy.fft as sfft
        import scipy.integrate as si
        import scipy.interpolate as sip
        import scipy.linalg as sl
        import scipy.ndimage as nd
        import scipy.optimize as so
        import scipy.signal as sg
        import scipy.spatial.distance as sd
    except ImportError:  # pragma: no cover - scipy is an optional extra
        return []
    rs = np.random.RandomState(21)
    R = rs.randn

    def spd(n):
        a = R(n, n)
        return a @ a.T + n * np.eye(n)

    def sym(f):
        return lambda a, *r, **k: f(0.5 * (a + a.T), *r, **k)

    A, B3, S = R(3, 3) + 3 * np.eye(3), R(3, 2), spd(3)
    out: list[Case] = []
    out += [
        Case("sla/lu", sl.lu, (A,), (0,), O),
        Case("sla/lu_factor_solve", lambda a, b: sl.lu_solve(sl.lu_factor(a), b), (A, B3),
             (0, 1), O),
        Case("sla/qr_economic", lambda a: sl.qr(a, mode="economic"), (R(4, 3),), (0,), O),
        Case("sla/svdvals", sl.svdvals, (R(4, 3),), (0,), O),
        Case("sla/eigh", sym(lambda a: sl.eigh(a)[0]), (S,), (0,), O),
        Case("sla/eigvalsh", sym(sl.eigvalsh), (S,), (0,), O),
        Case("sla/eigvals_real", lambda a: np.abs(sl.eigvals(a)), (A,), (0,), O),
        Case("sla/logm", sym(sl.logm), (S,), (0,), O),
        Case("sla/expm_frechet", lambda a, e: sl.expm_frechet(a, e, compute_expm=False),
             (R(3, 3) * 0.3, R(3, 3)), (0, 1), O),
        Case("sla/funm_exp", sym(lambda a: sl.funm(a, np.exp)), (S * 0.1,), (0,), O),
        Case("sla/polar", lambda a: sl.polar(a)[1], (A,), (0,), O),
        Case("sla/norm", sl.norm, (R(3, 4),), (0,), O),
        Case("sla/norm_ord1", lambda a: sl.norm(a, 1), (R(3, 4),), (0,), O),
        Case("sla/block_diag", sl.block_diag, (R(2, 2), R(1, 3)), (0, 1), O),
        Case("sla/toeplitz", sl.toeplitz, (R(4), R(4)), (0, 1), O),
        Case("sla/circulant", sl.circulant, (R(4),), (0,), O),
        Case("sla/hankel", sl.hankel, (R(3), R(3)), (0, 1), O),
        Case("sla/pinvh", sym(sl.pinvh), (S,), (0,), O),
        Case("sla/lstsq", lambda a, b: sl.lstsq(a, b)[0], (R(5, 3), R(5)), (0, 1), O),
        Case("sla/solve_lyapunov", sl.solve_continuous_lyapunov, (A - 6 * np.eye(3), S), (0, 1),
             O),
        Case("sla/solve_assume_pos", lambda a, b: sl.solve(a, b, assume_a="pos"), (S, B3),
             (0, 1), O),
        Case("sla/cho_factor_solve", lambda a, b: sl.cho_solve(sl.cho_factor(a), b), (S, B3),
             (0, 1), O),
        Case("sla/inv", sl.inv, (A,), (0,), O),
        Case("sla/det", lambda a: sl.det(a), (A,), (0,), O),
        Case("sla/sqrtm", sym(sl.sqrtm), (S,), (0,), O),
        Case("sla/kron", np.kron, (R(2, 2), R(2, 3)), (0, 1), O),
    ]
    for name in ("fft", "ifft", "rfft", "fftn", "dct", "dst", "idct", "fftshift"):
        f = getattr(sfft, name)
        x = R(6) if name not in ("fftn",) else R(3, 4)
        out += combos(f"sfft/{name}", f, (0,), [x], origin=O)
    out += combos("sfft/dct_type", sfft.dct, (0,), [R(6)], origin=O, type=[1, 2, 3, 4],
                  norm=[None, "ortho"])
    out += [
        Case("sfft/irfft_n", lambda z: sfft.irfft(z, 8), (sfft.rfft(R(8)),), (0,), O),
        Case("sfft/fft_workers", lambda x: sfft.fft(x, workers=2), (R(8),), (0,), O),
    ]
    x5 = R(5) * 0.5
    out += [
        Case("sopt/rosen", so.rosen, (x5,), (0,), O),
        Case("sopt/rosen_der_dot", lambda x: so.rosen_der(x) @ x, (x5,), (0,), O),
        Case("sopt/rosen_hess_prod", lambda x, p: so.rosen_hess_prod(x, p), (x5, R(5)), (0, 1),
             O),
    ]
    t = np.linspace(0, 1, 7)
    out += [
        Case("sint/trapezoid", si.trapezoid, (R(7), t), (0, 1), O),
        Case("sint/simpson", lambda y, x: si.simpson(y, x=x), (R(7), t), (0, 1), O),
        Case("sint/cumulative_trapezoid", lambda y: si.cumulative_trapezoid(y, t), (R(7),), (0,),
             O),
        Case("sint/quad", lambda a: si.quad(lambda s: np.exp(-a * s * s), 0.0, 1.0)[0], (0.7,),
             (0,), O),
        Case("sint/odeint", lambda k: si.odeint(lambda y, s: -k * y, 1.0, t)[:, 0], (0.7,),
             (0,), O),
        Case("sint/solve_ivp", lambda k: si.solve_ivp(lambda s, y: -k * y, (0, 1), [1.0],
                                                      rtol=1e-10, atol=1e-12).y[0, -1],
             (0.7,), (0,), O),
    ]
    xs = np.linspace(0, 1, 6)
    xq = np.array([0.13, 0.5, 0.77])
    out += [
        Case("sinterp/interp1d", lambda y: sip.interp1d(xs, y)(xq), (R(6),), (0,), O),
        Case("sinterp/interp1d_cubic", lambda y: sip.interp1d(xs, y, kind="cubic")(xq), (R(6),),
             (0,), O),
        Case("sinterp/CubicSpline", lambda y: sip.CubicSpline(xs, y)(xq), (R(6),), (0,), O),
        Case("sinterp/CubicSpline_query", lambda q: sip.CubicSpline(xs, np.sin(xs))(q), (xq,),
             (0,), O),
        Case("sinterp/make_interp_spline", lambda y: sip.make_interp_spline(xs, y, k=3)(xq),
             (R(6),), (0,), O),
    ]
    img = R(6, 7)
    out += [
        Case("ndimage/gaussian_filter", lambda a: nd.gaussian_filter(a, 1.0), (img,), (0,), O),
        Case("ndimage/uniform_filter", lambda a: nd.uniform_filter(a, 3), (img,), (0,), O),
        Case("ndimage/convolve", lambda a, w: nd.convolve(a, w), (img, R(3, 3)), (0, 1), O),
        Case("ndimage/correlate", lambda a, w: nd.correlate(a, w, mode="constant"),
             (img, R(3, 3)), (0, 1), O),
        Case("ndimage/shift", lambda a: nd.shift(a, (0.3, -0.6), order=1), (img,), (0,), O),
        Case("ndimage/zoom", lambda a: nd.zoom(a, 1.5, order=1), (img,), (0,), O),
        Case("ndimage/map_coordinates", lambda a: nd.map_coordinates(
            a, [[0.5, 2.2], [1.3, 4.1]], order=1), (img,), (0,), O),
    ]
    sig = R(12)
    out += [
        Case("signal/convolve", sg.convolve, (sig, R(3)), (0, 1), O),
        Case("signal/correlate", sg.correlate, (sig, R(3)), (0, 1), O),
        Case("signal/fftconvolve", sg.fftconvolve, (sig, R(3)), (0, 1), O),
        Case("signal/lfilter", lambda b, x: sg.lfilter(b, [1.0, -0.5], x), (R(2), sig), (0, 1),
             O),
        Case("signal/convolve2d", lambda a, w: sg.convolve2d(a, w, mode="same"),
             (img, R(3, 3)), (0, 1), O),
        Case("signal/savgol", lambda x: sg.savgol_filter(x, 5, 2), (sig,), (0,), O),
        Case("signal/detrend", sg.detrend, (sig,), (0,), O),
    ]
    P, Q = R(4, 3), R(5, 3)
    out += [
        Case("spatial/cdist", sd.cdist, (P, Q), (0, 1), O),
        Case("spatial/pdist", sd.pdist, (P,), (0,), O),
        Case("spatial/cdist_sqeuclidean", lambda p, q: sd.cdist(p, q, "sqeuclidean"), (P, Q),
             (0, 1), O),
        Case("spatial/euclidean", sd.euclidean, (R(3), R(3)), (0, 1), O),
        Case("spatial/cosine", sd.cosine, (R(3), R(3)), (0, 1), O),
        Case("spatial/squareform", lambda p: sd.squareform(sd.pdist(p)), (P,), (0,), O),
    ]
    return out
