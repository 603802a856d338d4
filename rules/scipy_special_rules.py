"""More ``scipy.special`` rules: exponentially scaled Bessel functions, integer orders, the
distribution functions SciPy's ``scipy.stats`` reaches (``chdtr``, ``stdtr``, ``betainc``,
``fdtr``, ``gdtr``, their inverses, ``poch``, Boost's ``_beta_pdf``...). The shape ``a`` of
the incomplete gamma family (``gammainc``, ``chdtr``'s degrees of freedom, ``gdtr``'s ``b``)
is differentiated by the series of ``gammainc`` summed term by term (O(x) terms).

Each entry is ``(function, derivatives)``, one per positional argument: a function of
``(ans, *args)`` giving the partial derivative, or None where SciPy offers no closed form (an
order, a degree of freedom inside an incomplete gamma/beta function). Those arguments are
``nondiff`` and carry a hazard: a traced value reaching them is reported (FA101) at the user's
line instead of being silently held constant. Derivatives are real-only except in the Bessel
functions' argument: ``kve`` is holomorphic in it, ``ive``/``jve``/``yve`` are not (their
scaling ``exp(-|Re z|)``/``exp(-|Im z|)``; ``SCALED``).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special as sp
import scipy.special._ufuncs as spu

from .matrices import real_only
from .registry import lookup, register

_SQRT_2PI = math.sqrt(2 * math.pi)


def _gamma_density(a, x):
    """``x**(a-1) exp(-x) / Gamma(a)``: the derivative of ``gammainc(a, x)`` in ``x``."""
    return np.exp(sp.xlogy(a - 1, x) - x - sp.gammaln(a))


def _gammainc_da(a, x):
    """d gammainc(a, x) / da from the series P = sum_n exp((a+n) ln x - x - lnGamma(a+n+1)):
    dP/da = sum_n term_n (ln x - psi(a+n+1)), over the terms around their peak near n = x."""
    a, x = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(x, dtype=float))
    pos = x > 0
    xs = np.where(pos, x, 1.0)
    lx = np.log(xs)
    top, low = float(np.max(xs, initial=1.0)), float(np.min(xs, initial=1.0))
    total = np.zeros(a.shape)
    for n in range(max(0, int(low - 12 * math.sqrt(low) - 60)),
                   int(top + 12 * math.sqrt(top) + 60)):
        t = np.exp((a + n) * lx - xs - sp.gammaln(a + n + 1))
        total += t * (lx - sp.psi(a + n + 1))
    return np.where(pos, total, 0.0)


def _beta_density(a, b, x):
    """``x**(a-1) (1-x)**(b-1) / B(a, b)``: the derivative of ``betainc(a, b, x)`` in ``x``."""
    return np.exp(sp.xlogy(a - 1, x) + sp.xlog1py(b - 1, -x) - sp.betaln(a, b))


def _t_density(df, t):
    return np.exp(sp.gammaln((df + 1) / 2) - sp.gammaln(df / 2) - 0.5 * np.log(df * np.pi)
                  - (df + 1) / 2 * np.log1p(t * t / df))


def _f_density(n, d, x):
    return np.exp(sp.xlogy(n / 2, n) + sp.xlogy(d / 2, d) + sp.xlogy(n / 2 - 1, x)
                  - (n + d) / 2 * np.log(d + n * x) - sp.betaln(n / 2, d / 2))


def _chi2_density(v, x):
    return _gamma_density(v / 2, x / 2) / 2


def _skewnorm_parts(x, loc, scale, a):
    """``(z, standard density at z, d cdf / d a)`` of the skew-normal distribution."""
    z = (x - loc) / scale
    pdf = 2 * np.exp(-z * z / 2) / _SQRT_2PI * sp.ndtr(a * z)
    da = -np.exp(-z * z * (1 + a * a) / 2) / (np.pi * (1 + a * a))
    return z, pdf, da


_DEG = math.pi / 180


def _exprel_dx(ans, x):
    """((x - 1) e^x + 1) / x^2 = (e^x - exprel(x)) / x; its series 1/2 + x/3 + x^2/8 + x^3/30
    near 0 (the difference cancels)."""
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < 1e-3
    xs = np.where(small, 1.0, x)
    return np.where(small, 0.5 + x / 3 + x * x / 8 + x ** 3 / 30, (np.exp(xs) - ans) / xs)


def _spence_dx(z):
    """d/dz of spence(z) = int_1^z log(t) / (1 - t) dt: log(z) / (1 - z), -1 at z = 1 with
    slope 1/2 (-1 + (z - 1) / 2: its own derivative there)."""
    z = np.asarray(z, dtype=float)
    one = z == 1
    zs = np.where(one, 2.0, z)
    return np.where(one, -1.0 + (z - 1) / 2, np.log(zs) / (1 - zs))


def _ellipk_dm(k, m):
    """dK/dm = (E - (1 - m) K) / (2 m (1 - m)), pi/8 at m = 0."""
    m = np.asarray(m, dtype=float)
    zero = m == 0
    ms = np.where(zero, 0.5, m)
    ks = np.where(zero, sp.ellipk(0.5), k)
    return np.where(zero, math.pi / 8, (sp.ellipe(ms) - (1 - ms) * ks) / (2 * ms * (1 - ms)))


def _ellipe_dm(e, m):
    """dE/dm = (E - K) / (2 m), -pi/8 at m = 0."""
    m = np.asarray(m, dtype=float)
    zero = m == 0
    ms = np.where(zero, 0.5, m)
    es = np.where(zero, sp.ellipe(0.5), e)
    return np.where(zero, -math.pi / 8, (es - sp.ellipk(ms)) / (2 * ms))


def _pseudo_huber_dd(d, r):
    """d/d delta of delta^2 (sqrt(1 + (r/delta)^2) - 1) = 2 delta (s - 1) - r^2 / (delta s)."""
    s = np.sqrt(1 + (r / d) ** 2)
    return 2 * d * (s - 1) - r * r / (d * s)


def _boxcox_dlm(lx, lm):
    """d/dλ (exp(λ L) - 1) / λ = L² (u e^u - (e^u - 1)) / u² with u = λ L (series near 0)."""
    u = np.asarray(lm * lx, dtype=float)
    small = np.abs(u) < 1e-3
    us = np.where(small, 1.0, u)
    h = np.where(small, 0.5 + u / 3 + u * u / 8, (us * np.exp(us) - np.expm1(us)) / (us * us))
    return lx * lx * h


def _sk_ppf_da(x, loc, scale, a):
    z, pdf, da = _skewnorm_parts(x, loc, scale, a)
    return -da * scale / pdf


# (function, partial derivatives as functions of (ans, *args); None: none in closed form)
TABLE = [
    (sp.ive, (None, lambda ans, v, z: (sp.ive(v - 1, z) + sp.ive(v + 1, z)) / 2
              - np.sign(z) * ans)),
    (sp.jve, (None, lambda ans, v, z: (sp.jve(v - 1, z) - sp.jve(v + 1, z)) / 2)),
    (sp.yve, (None, lambda ans, v, z: (sp.yve(v - 1, z) - sp.yve(v + 1, z)) / 2)),
    (sp.kve, (None, lambda ans, v, z: ans - (sp.kve(v - 1, z) + sp.kve(v + 1, z)) / 2)),
    (sp.yn, (None, lambda ans, n, x: (sp.yn(n - 1, x) - sp.yn(n + 1, x)) / 2)),
    (sp.kn, (None, lambda ans, n, x: -(sp.kn(n - 1, x) + sp.kn(n + 1, x)) / 2)),
    (sp.gammainc, (lambda ans, a, x: _gammainc_da(a, x),
                   lambda ans, a, x: _gamma_density(a, x))),
    (sp.gammaincc, (lambda ans, a, x: -_gammainc_da(a, x),
                    lambda ans, a, x: -_gamma_density(a, x))),
    (sp.gammaincinv, (lambda ans, a, y: -_gammainc_da(a, ans) / _gamma_density(a, ans),
                      lambda ans, a, y: 1 / _gamma_density(a, ans))),
    (sp.gammainccinv, (lambda ans, a, y: -_gammainc_da(a, ans) / _gamma_density(a, ans),
                       lambda ans, a, y: -1 / _gamma_density(a, ans))),
    (sp.chdtr, (lambda ans, v, x: _gammainc_da(v / 2, x / 2) / 2,
                lambda ans, v, x: _chi2_density(v, x))),
    (sp.chdtrc, (lambda ans, v, x: -_gammainc_da(v / 2, x / 2) / 2,
                 lambda ans, v, x: -_chi2_density(v, x))),
    (sp.chdtri, (lambda ans, v, p: -_gammainc_da(v / 2, ans / 2) / 2 / _chi2_density(v, ans),
                 lambda ans, v, p: -1 / _chi2_density(v, ans))),
    (sp.gdtr, (lambda ans, a, b, x: x * _gamma_density(b, a * x),
               lambda ans, a, b, x: _gammainc_da(b, a * x),
               lambda ans, a, b, x: a * _gamma_density(b, a * x))),
    (sp.gdtrc, (lambda ans, a, b, x: -x * _gamma_density(b, a * x),
                lambda ans, a, b, x: -_gammainc_da(b, a * x),
                lambda ans, a, b, x: -a * _gamma_density(b, a * x))),
    (sp.pdtr, (None, lambda ans, k, m: -_gamma_density(np.floor(k) + 1, m))),
    (sp.pdtrc, (None, lambda ans, k, m: _gamma_density(np.floor(k) + 1, m))),
    (sp.stdtr, (None, lambda ans, df, t: _t_density(df, t))),
    (sp.stdtrit, (None, lambda ans, df, p: 1 / _t_density(df, ans))),
    (sp.betainc, (None, None, lambda ans, a, b, x: _beta_density(a, b, x))),
    (sp.betaincc, (None, None, lambda ans, a, b, x: -_beta_density(a, b, x))),
    (sp.betaincinv, (None, None, lambda ans, a, b, y: 1 / _beta_density(a, b, ans))),
    (sp.betainccinv, (None, None, lambda ans, a, b, y: -1 / _beta_density(a, b, ans))),
    (sp.fdtr, (None, None, lambda ans, n, d, x: _f_density(n, d, x))),
    (sp.fdtrc, (None, None, lambda ans, n, d, x: -_f_density(n, d, x))),
    (sp.fdtri, (None, None, lambda ans, n, d, p: 1 / _f_density(n, d, ans))),
    (sp.poch, (lambda ans, z, m: ans * (sp.psi(z + m) - sp.psi(z)),
               lambda ans, z, m: ans * sp.psi(z + m))),
    (sp.ndtri_exp, (lambda ans, y: _SQRT_2PI * np.exp(y + ans * ans / 2),)),
    (sp.cosm1, (lambda ans, x: -np.sin(x),)),
    (sp.powm1, (lambda ans, x, y: y * np.power(x, y - 1.0),
                lambda ans, x, y: sp.xlogy(ans + 1, x))),
    (sp.boxcox, (lambda ans, x, lm: np.power(x, lm - 1.0),
                 lambda ans, x, lm: _boxcox_dlm(np.log(x), lm))),
    (sp.boxcox1p, (lambda ans, x, lm: np.power(1 + x, lm - 1.0),
                   lambda ans, x, lm: _boxcox_dlm(np.log1p(x), lm))),
    # Boost's distribution kernels behind scipy.stats (private ufuncs)
    (spu._beta_pdf, (lambda ans, x, a, b: ans * ((a - 1) / x - (b - 1) / (1 - x)),
                     lambda ans, x, a, b: ans * (np.log(x) - sp.psi(a) + sp.psi(a + b)),
                     lambda ans, x, a, b: ans * (np.log1p(-x) - sp.psi(b) + sp.psi(a + b)))),
    (spu._beta_ppf, (lambda ans, p, a, b: 1 / spu._beta_pdf(ans, a, b), None, None)),
    (spu._cauchy_ppf, (lambda ans, p, loc, s: np.pi * (s + (ans - loc) ** 2 / s),
                       lambda ans, p, loc, s: np.ones_like(ans),
                       lambda ans, p, loc, s: (ans - loc) / s)),
    (spu._cauchy_isf, (lambda ans, p, loc, s: -np.pi * (s + (ans - loc) ** 2 / s),
                       lambda ans, p, loc, s: np.ones_like(ans),
                       lambda ans, p, loc, s: (ans - loc) / s)),
    (spu._skewnorm_cdf, (lambda ans, x, loc, s, a: _skewnorm_parts(x, loc, s, a)[1] / s,
                         lambda ans, x, loc, s, a: -_skewnorm_parts(x, loc, s, a)[1] / s,
                         lambda ans, x, loc, s, a: -np.prod(_skewnorm_parts(x, loc, s, a)[:2],
                                                            axis=0) / s,
                         lambda ans, x, loc, s, a: _skewnorm_parts(x, loc, s, a)[2])),
    (spu._skewnorm_ppf, (lambda ans, p, loc, s, a: s / _skewnorm_parts(ans, loc, s, a)[1],
                         lambda ans, p, loc, s, a: np.ones_like(ans),
                         lambda ans, p, loc, s, a: (ans - loc) / s,
                         lambda ans, p, loc, s, a: _sk_ppf_da(ans, loc, s, a))),
    (spu._skewnorm_isf, (lambda ans, p, loc, s, a: -s / _skewnorm_parts(ans, loc, s, a)[1],
                         lambda ans, p, loc, s, a: np.ones_like(ans),
                         lambda ans, p, loc, s, a: (ans - loc) / s,
                         lambda ans, p, loc, s, a: _sk_ppf_da(ans, loc, s, a))),
]


# more elementwise functions with closed-form derivatives (their cases are in
# tests/test_rules_s21_special.py; TABLE's in test_scipy_and_missing_rules' DOMAINS)
MORE = [
    (sp.erfi, (lambda ans, x: 2 / math.sqrt(math.pi) * np.exp(x * x),)),
    (sp.exprel, (lambda ans, x: _exprel_dx(ans, x),)),
    (sp.exp1, (lambda ans, x: -np.exp(-x) / x,)),
    (sp.expi, (lambda ans, x: np.exp(x) / x,)),
    (sp.sindg, (lambda ans, x: _DEG * sp.cosdg(x),)),
    (sp.cosdg, (lambda ans, x: -_DEG * sp.sindg(x),)),
    (sp.tandg, (lambda ans, x: _DEG * (1 + ans * ans),)),
    (sp.cotdg, (lambda ans, x: -_DEG * (1 + ans * ans),)),
    (sp.spence, (lambda ans, z: _spence_dx(z),)),
    (sp.k0e, (lambda ans, x: ans - sp.k1e(x),)),
    (sp.k1e, (lambda ans, x: ans - sp.k0e(x) - ans / x,)),
    (sp.ellipk, (lambda ans, m: _ellipk_dm(ans, m),)),
    (sp.ellipe, (lambda ans, m: _ellipe_dm(ans, m),)),
    (sp.ellipkm1, (lambda ans, p: -_ellipk_dm(ans, 1 - p),)),
    (sp.huber, (lambda ans, d, r: np.where(np.abs(r) <= d, 0.0, np.abs(r) - d),
                lambda ans, d, r: np.where(np.abs(r) <= d, r, d * np.sign(r)))),
    (sp.pseudo_huber, (lambda ans, d, r: _pseudo_huber_dd(d, r),
                       lambda ans, d, r: r / np.sqrt(1 + (r / d) ** 2))),
    (sp.owens_t, (lambda ans, h, a: -np.exp(-h * h / 2) / _SQRT_2PI * sp.erf(a * h / math.sqrt(2))
                  / 2,
                  lambda ans, h, a: np.exp(-h * h * (1 + a * a) / 2) / (2 * np.pi * (1 + a * a)))),
]


# holomorphic in their last argument: complex arguments too (the JAX convention's g * f'(z))
HOLOMORPHIC = {sp.kve}

# f(v, z) = h(v, z) exp(-|Re z|) (ive) or exp(-|Im z|) (jve, yve): the scaling is not
# holomorphic. df = A dz + B part(dz), A = the scaled h', B = -sign(part(z)) f; transposed
# under Re(sum(u v)): ct = g A + Re(g B) for part = Re, g A - i Re(g B) for part = Im. (Their
# TABLE entries are the derivatives at a real z.)
SCALED = {
    sp.ive: (np.real, lambda ans, v, z: (sp.ive(v - 1, z) + sp.ive(v + 1, z)) / 2),
    sp.jve: (np.imag, lambda ans, v, z: (sp.jve(v - 1, z) - sp.jve(v + 1, z)) / 2),
    sp.yve: (np.imag, lambda ans, v, z: (sp.yve(v - 1, z) - sp.yve(v + 1, z)) / 2),
}


def order_hazard(name: str) -> str:
    return (f"a traced value reached an argument of {name} that framead cannot differentiate "
            "(an order, a degree of freedom or a shape parameter without a closed-form "
            "derivative in SciPy); the gradient through it is lost")


def _masked(ct, kw):
    w = kw.get("where", True)
    return ct if w is True else np.where(w, ct, 0)


def _part(d, name, real=True):
    def part(g, ans, *args, **kw):
        if real:
            real_only(name, *args)
        return _masked(g * d(ans, *args), kw)

    return part


def _scaled_parts(part, d):
    """The VJP and the JVP of the last argument of an exponentially scaled Bessel function."""
    def vjp(g, ans, v, z, **kw):
        ct = g * d(ans, v, z)
        if np.iscomplexobj(z):  # (a real z: sign(Im z) = 0, and a real cotangent)
            gb = np.real(-g * ans * np.sign(part(z)))
            ct = ct + (gb if part is np.real else -1j * gb)
        elif part is np.real:
            ct = ct - np.real(g * ans) * np.sign(z)
        return _masked(ct, kw)

    def jvp(t, ans, v, z, **kw):
        return _masked(t * d(ans, v, z) - np.sign(part(z)) * ans * part(t), kw)

    return vjp, jvp


def defspecial(fn, derivs, name: str, real: bool = True):
    """Register elementwise ``fn`` with per-argument derivatives (None: nondiff, hazard);
    ``real``: complex arguments refused (NotImplementedError in the VJP)."""
    parts = tuple(None if d is None else _part(d, name, real) for d in derivs)
    nondiff = tuple(i for i, d in enumerate(derivs) if d is None)
    return register(fn, vjp=parts, jvp=parts, saves=None, elementwise=True, nondiff=nondiff,
                    hazard=order_hazard(name) if nondiff else None, name=name,
                    argnames=tuple(f"x{i + 1}" for i in range(len(derivs))))


def install() -> None:
    """Register every rule whose function has none yet (a user's own rule wins)."""
    for fn, derivs in TABLE + MORE:
        if lookup(fn) is not None:
            continue
        name = f"scipy.special.{fn.__name__}"
        if fn not in SCALED:
            defspecial(fn, derivs, name, fn not in HOLOMORPHIC)
            continue
        vjp, jvp = _scaled_parts(*SCALED[fn])
        register(fn, vjp=(None, vjp), jvp=(None, jvp), saves=None, elementwise=True,
                 nondiff=(0,), hazard=order_hazard(name), name=name, argnames=("x1", "x2"))
