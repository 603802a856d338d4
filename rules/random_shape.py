"""Samplers with shape parameters: the derivative of NumPy's own sampling path.

As for location-scale samplers (random_rules.py), the derivative is that of the draw with the
generator's values held fixed, which is what a central difference of the program at the same
seed gives (where the sampler's accept/reject choices do not change), computed from the draw
alone, so the generator is called once, as natively:

* weibull(a) = E**(1/a): dx/da = -x log(x) / a; power(a) = V**(1/a): the same;
  pareto(a) = exp(E/a) - 1: dx/da = -(1 + x) log1p(x) / a (E standard exponential);
* standard_gamma(a), NumPy's (and RandomState's) algorithms: a > 1 (Marsaglia-Tsang),
  x = b V, V = (1 + X/(3 sqrt b))**3, b = a - 1/3, X a normal draw: dx/da = 3/2 V**(2/3) - V/2;
  a < 1: x = U**(1/a) where x <= (1-a)**(1/a) (dx/da = -x log(x)/a), else
  x = (1 - a + a Y)**(1/a), Y = -log((1-U)/a): dx/da = x (Y / (a x**a) - log(x)/a);
  a = 1 (NumPy switches algorithm there) and a = 0 are refused (FA101);
* gamma(shape, scale) = scale * z: dx/dscale = z, dx/dshape = scale dz/da; chisquare(df) =
  2 z, z ~ standard_gamma(df/2): dx/ddf = dz/da at a = df/2 (df = 2 refused).

Not differentiated (FA101): beta, dirichlet, standard_t, f, vonmises...: NumPy draws them from
two or more standard draws (two gammas, Johnk's two uniforms) that the draw alone does not
determine, so the derivative of the program's path cannot be recovered from it; the implicit
reparameterisation derivative (-(dF/da)/pdf, JAX's and TensorFlow's) is a different estimator
and would disagree with the program's own derivative.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .random_draws import SAMPLERS
from .registry import ANS


def _arr(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=float)


def gamma_dsample(z: Any, a: Any) -> np.ndarray:
    """dz/da of NumPy's standard_gamma draw ``z`` of shape ``a`` (its values held fixed)."""
    z, a = np.broadcast_arrays(_arr(z), _arr(a))
    with np.errstate(all="ignore"):
        v = z / (a - 1 / 3)
        big = 1.5 * np.cbrt(v) ** 2 - 0.5 * v
        logz = np.log(np.where(z > 0, z, 1.0))
        first = -z * logz / a  # x = U**(1/a)
        za = np.exp(a * logz)
        y = (za - 1 + a) / a
        second = z * (y / (a * za) - logz / a)
        small = np.where(z <= np.power(1 - a, 1 / a), first, second)
        d = np.where(a > 1, big, small)
    return np.where(z > 0, d, 0.0)


# --- rules ---------------------------------------------------------------------------------

def _xlogx_over_a(x: Any, a: Any) -> Any:
    """-x log(x) / a (0 where x = 0): weibull's and power's dx/da."""
    x = _arr(x)
    with np.errstate(all="ignore"):
        return np.where(x > 0, -x * np.log(np.where(x > 0, x, 1.0)) / _arr(a), 0.0)


def _weibull_vjp(g, ans, rng, a, *args, **kwargs):
    return g * _xlogx_over_a(ans, a)


def _weibull_jvp(tangents, ans, rng, a, *args, **kwargs):
    t = tangents[1] if len(tangents) > 1 else None
    return None if t is None else t * _xlogx_over_a(ans, a)


def _pareto_d(x: Any, a: Any) -> Any:
    x = _arr(x)
    return -(1 + x) * np.log1p(x) / _arr(a)


def _pareto_vjp(g, ans, rng, a, *args, **kwargs):
    return g * _pareto_d(ans, a)


def _pareto_jvp(tangents, ans, rng, a, *args, **kwargs):
    t = tangents[1] if len(tangents) > 1 else None
    return None if t is None else t * _pareto_d(ans, a)


def _gamma_shape_vjp(g, ans, rng, shape, scale=1.0, *args, **kwargs):
    s = _arr(scale)
    with np.errstate(all="ignore"):
        return g * s * gamma_dsample(_arr(ans) / s, shape)


def _gamma_scale_vjp(g, ans, rng, shape, scale=1.0, *args, **kwargs):
    with np.errstate(all="ignore"):
        return g * (_arr(ans) / _arr(scale))


def _gamma_jvp(tangents, ans, rng, shape, scale=1.0, *args, **kwargs):
    t = list(tangents) + [None] * 3
    out = None
    if t[1] is not None:
        out = t[1] * _gamma_shape_vjp(1.0, ans, rng, shape, scale)
    if t[2] is not None:
        term = t[2] * _gamma_scale_vjp(1.0, ans, rng, shape, scale)
        out = term if out is None else out + term
    return out


def _std_gamma_vjp(g, ans, rng, shape, *args, **kwargs):
    return g * gamma_dsample(ans, shape)


def _std_gamma_jvp(tangents, ans, rng, shape, *args, **kwargs):
    t = tangents[1] if len(tangents) > 1 else None
    return None if t is None else t * gamma_dsample(ans, shape)


def _chisquare_vjp(g, ans, rng, df, *args, **kwargs):
    return g * gamma_dsample(_arr(ans) / 2, _arr(df) / 2)


def _chisquare_jvp(tangents, ans, rng, df, *args, **kwargs):
    t = tangents[1] if len(tangents) > 1 else None
    return None if t is None else t * gamma_dsample(_arr(ans) / 2, _arr(df) / 2)


def _nonzero(name: str) -> Any:
    def test(v: Any) -> Any:
        return bool(np.any(_arr(v) == 0)) and f"{name} = 0: the draw does not move with it"
    return test


def _switch(name: str, at: float) -> Any:
    """Refuse ``name`` = 0 or ``at`` (standard_gamma's shape 1: NumPy's sampler changes there,
    the draw has no derivative)."""
    def test(v: Any) -> Any:
        v = _arr(v)
        if np.any(v == 0):
            return f"{name} = 0: the draw does not move with it"
        return bool(np.any(v == at)) and f"{name} = {at:g}: NumPy's gamma sampler " \
            "switches algorithm there, the draw has no derivative"
    return test


def install(method: Any) -> None:
    """Register the rules through ``method(cls, name, argnames, **spec)``
    (random_rules._method: notes the draws cached traces replay)."""
    for cls in SAMPLERS:
        gen = cls is np.random.Generator
        for name, d_vjp, d_jvp in (("weibull", _weibull_vjp, _weibull_jvp),
                                   ("power", _weibull_vjp, _weibull_jvp),
                                   ("pareto", _pareto_vjp, _pareto_jvp)):
            method(cls, name, ("self", "a", "size"), vjp=(None, d_vjp), jvp=d_jvp,
                   saves={1: (ANS, 1)}, elementwise=True, nondiff=(0, 2),
                   refuses={"a": _nonzero("a")})
        method(cls, "gamma", ("self", "shape", "scale", "size"),
               vjp=(None, _gamma_shape_vjp, _gamma_scale_vjp), jvp=_gamma_jvp,
               saves={1: (ANS, 1, 2), 2: (ANS, 2)}, elementwise=True, nondiff=(0, 3),
               refuses={"shape": _switch("shape", 1.0), "scale": _nonzero("scale")})
        std = ("self", "shape", "size", "dtype", "out") if gen else ("self", "shape", "size")
        method(cls, "standard_gamma", std, vjp=(None, _std_gamma_vjp), jvp=_std_gamma_jvp,
               saves={1: (ANS, 1)}, elementwise=True, nondiff=(0, *range(2, len(std))),
               refuses={"shape": _switch("shape", 1.0), **({"out": "given"} if gen else {})})
        method(cls, "chisquare", ("self", "df", "size"), vjp=(None, _chisquare_vjp),
               jvp=_chisquare_jvp, saves={1: (ANS, 1)}, elementwise=True, nondiff=(0, 2),
               refuses={"df": _switch("df", 2.0)})
