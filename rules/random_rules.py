"""NumPy's samplers with traced parameters: the pathwise (reparameterisation) derivative.

``rng.normal(loc, scale)`` (a ``Generator``, a ``RandomState``, or the legacy global
``np.random.normal``, a bound method of the hidden global ``RandomState``) draws
``loc + scale * z``; JAX and PyTorch differentiate such a draw with ``z`` held fixed. The
rules compute that derivative from the draw itself, so the generator is called once, as
natively (same stream, same state afterwards): ``z = (ans - loc) / scale``.

* location-scale (normal, laplace, logistic, gumbel): d/dloc = 1, d/dscale = (ans - loc)/scale;
* scale families (exponential, rayleigh): d/dscale = ans / scale;
* uniform(low, high): u = (ans - low)/(high - low), d/dlow = 1 - u, d/dhigh = u;
* lognormal(mean, sigma): ans = exp(mean + sigma z): d/dmean = ans, d/dsigma = ans z;
* multivariate_normal: the mean only (d/dmean = 1; a traced cov is reported, FA101);
* choice / permutation / shuffle of a traced array: a gather by the picked rows, found by
  matching the result's rows to the argument's (bytes: NumPy copies them exactly); an
  argument with two equal rows (or NaN) is refused (FA101): the pick would be ambiguous.

``z`` recovered so carries a relative error of about eps * |loc| / |scale * z| (a scale
tiny next to the location loses digits). A zero scale (or ``low == high``) hides ``z``:
refused (FA101). Shape parameters (gamma, beta, chisquare, weibull...): rules/random_shape.py.
A cached trace replays a draw from the generator's state before it (rules/random_draws.py).
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from . import random_draws, random_shape
from .random_draws import SAMPLERS, Drawn
from .refusals import refusal
from .registry import ANS, RuleError, make_rule, register_method

LOC_SCALE = ("normal", "laplace", "logistic", "gumbel")
SCALE_ONLY = ("exponential", "rayleigh")


def _arr(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _z(ans: Any, loc: Any, scale: Any) -> Any:
    with np.errstate(all="ignore"):
        return (_arr(ans) - _arr(loc)) / _arr(scale)


def _zero(name: str) -> Any:
    """Refuse a call whose ``name`` parameter is zero somewhere (``z`` is hidden)."""
    def test(v: Any) -> Any:
        return bool(np.any(_arr(v) == 0)) and f"{name} = 0 hides the standard draw"
    return test


# --- location-scale ------------------------------------------------------------------------

def _loc_vjp(g, ans, rng, loc=0.0, scale=1.0, *args, **kwargs):
    return g


def _scale_vjp(g, ans, rng, loc=0.0, scale=1.0, *args, **kwargs):
    return g * _z(ans, loc, scale)


def _loc_scale_jvp(tangents, ans, rng, loc=0.0, scale=1.0, *args, **kwargs):
    t = list(tangents) + [None] * 3
    out = None if t[1] is None else t[1] * np.ones_like(_arr(ans))
    if t[2] is not None:
        term = t[2] * _z(ans, loc, scale)
        out = term if out is None else out + term
    return out


def _scale_only_vjp(g, ans, rng, scale=1.0, *args, **kwargs):
    return g * _z(ans, 0.0, scale)


def _scale_only_jvp(tangents, ans, rng, scale=1.0, *args, **kwargs):
    t = tangents[1] if len(tangents) > 1 else None
    return None if t is None else t * _z(ans, 0.0, scale)


def _u(ans, low, high):
    with np.errstate(all="ignore"):
        return (_arr(ans) - _arr(low)) / (_arr(high) - _arr(low))


def _low_vjp(g, ans, rng, low=0.0, high=1.0, *args, **kwargs):
    return g * (1.0 - _u(ans, low, high))


def _high_vjp(g, ans, rng, low=0.0, high=1.0, *args, **kwargs):
    return g * _u(ans, low, high)


def _uniform_jvp(tangents, ans, rng, low=0.0, high=1.0, *args, **kwargs):
    t = list(tangents) + [None] * 3
    u = _u(ans, low, high)
    out = None if t[1] is None else t[1] * (1.0 - u)
    if t[2] is not None:
        out = t[2] * u if out is None else out + t[2] * u
    return out


def _same_range(args: tuple, kwargs: dict) -> str | None:
    low = args[1] if len(args) > 1 else kwargs.get("low", 0.0)
    high = args[2] if len(args) > 2 else kwargs.get("high", 1.0)
    same = np.any(_arr(low) == _arr(high))
    return "uniform with low == high hides the standard draw" if same else None


def _log_z(ans, mean, sigma):
    with np.errstate(all="ignore"):
        return (np.log(_arr(ans)) - _arr(mean)) / _arr(sigma)


def _mean_vjp(g, ans, rng, mean=0.0, sigma=1.0, *args, **kwargs):
    return g * _arr(ans)


def _sigma_vjp(g, ans, rng, mean=0.0, sigma=1.0, *args, **kwargs):
    a = _arr(ans)
    return g * np.where(a > 0, a * _log_z(ans, mean, sigma), 0.0)


def _lognormal_jvp(tangents, ans, rng, mean=0.0, sigma=1.0, *args, **kwargs):
    t = list(tangents) + [None] * 3
    a = _arr(ans)
    out = None if t[1] is None else t[1] * a
    if t[2] is not None:
        term = t[2] * np.where(a > 0, a * _log_z(ans, mean, sigma), 0.0)
        out = term if out is None else out + term
    return out


def _mvn_mean_vjp(g, ans, rng, mean, *args, **kwargs):
    m = np.shape(mean)
    return np.reshape(_arr(g), (-1, *m)).sum(axis=0)


def _mvn_jvp(tangents, ans, rng, mean, *args, **kwargs):
    t = tangents[1] if len(tangents) > 1 else None
    return None if t is None else np.broadcast_to(t, np.shape(ans))


# --- selections: choice, permutation, shuffle ----------------------------------------------

def _rows(x: Any, axis: int = 0) -> np.ndarray:
    """``x``'s rows along ``axis`` (first), as an array of shape (n, ...)."""
    return np.moveaxis(np.asarray(x), axis, 0)


def _keys(rows: np.ndarray) -> list:
    flat = np.ascontiguousarray(rows).reshape(rows.shape[0], -1)
    return [r.tobytes() for r in flat]


def _ambiguous(x: Any, axis: int = 0) -> str | None:
    """Why rows of ``x`` cannot be told apart by value (None: they can)."""
    if not isinstance(x, np.ndarray) or x.ndim == 0:
        return "only an ndarray argument is differentiated"
    rows = _rows(x, axis)
    if np.isnan(rows).any() if rows.dtype.kind in "fc" else False:
        return "NaN rows cannot be matched to the result"
    if len(set(_keys(rows))) < rows.shape[0]:
        return "equal rows: which one was picked is not known"
    return None


def _picked(src: Any, ans: Any, axis: int = 0) -> np.ndarray:
    """Indices ``i`` (shaped like the picks) with ``ans`` = the rows ``src[i]`` along axis."""
    rows = _rows(src, axis)
    where = {k: i for i, k in enumerate(_keys(rows))}
    tail = rows.shape[1:]
    out = _rows(ans, axis) if axis else np.asarray(ans)
    lead = out.shape[:out.ndim - len(tail)]
    flat = np.reshape(out, (-1, *tail))
    return np.array([where[k] for k in _keys(flat)], dtype=np.intp).reshape(lead)


def _axis_at(k: int):
    """The ``axis`` argument of a call ``(self, x, ...)``: positional ``k`` or the keyword."""
    def axis_of(args: tuple, kwargs: dict) -> int:
        return int(args[k] if len(args) > k else kwargs.get("axis", 0))
    return axis_of


def _gather_vjp(axis_of):
    def vjp(g, ans, rng, x, *args, **kwargs):
        axis = axis_of((rng, x, *args), kwargs)
        idx = _picked(x, ans, axis)
        rows = _rows(x, axis)
        cot = np.zeros(rows.shape, dtype=np.result_type(rows.dtype, np.asarray(g).dtype))
        gr = _rows(g, axis) if axis else np.asarray(g)
        np.add.at(cot, idx.reshape(-1), np.reshape(gr, (-1, *rows.shape[1:])))
        return np.moveaxis(cot, 0, axis)
    return vjp


def _gather_jvp(axis_of):
    def jvp(tangents, ans, rng, x, *args, **kwargs):
        t = tangents[1] if len(tangents) > 1 else None
        if t is None:
            return None
        axis = axis_of((rng, x, *args), kwargs)
        picked = _rows(np.broadcast_to(t, np.shape(x)), axis)[_picked(x, ans, axis)]
        return np.moveaxis(picked, 0, axis) if axis else picked
    return jvp


_CHOICE_AXIS = _axis_at(5)  # choice(self, a, size, replace, p, axis, shuffle)
_AXIS = _axis_at(2)  # permutation / shuffle (self, x, axis)


def _choice_refuses(args: tuple, kwargs: dict) -> str | None:
    x = args[1] if len(args) > 1 else kwargs.get("a")
    if not isinstance(x, np.ndarray):
        return None if isinstance(x, int | np.integer) else _ambiguous(x)
    if x.ndim > 1 and _CHOICE_AXIS(args, kwargs) != 0:
        return "choice along an axis other than 0 is not differentiated"
    return _ambiguous(x)


def _axis_refuses(args: tuple, kwargs: dict) -> str | None:
    x = args[1] if len(args) > 1 else kwargs.get("x")
    if not isinstance(x, np.ndarray):  # permutation(n): an int; shuffle of a list: refused
        return None if isinstance(x, int | np.integer) else _ambiguous(x)
    return _ambiguous(x, _AXIS(args, kwargs))


class Draw:
    """A sampler rule's function: ``obj.<name>(*args)`` with the Cython method's signature
    (capture fills defaults in by it: ``rng.normal(scale=s)``); ``functional``: the
    shuffled copy (``shuffle`` writes in place). Its only callers are replays of a recorded
    trace: given a ``Drawn`` (framead/randomness.py put it in place of a generator made
    inside ``f``) it draws from the state the recorded draw started from, as the native run
    does; given a generator it raises (the recording's generator is stale: such a trace is
    not cached; rules.check passes an object that makes a fresh generator per call,
    tests/test_random_samplers.py)."""

    def __init__(self, cls: type, name: str, functional: bool = False):
        self.name, self.functional = name, functional
        self.__signature__ = inspect.signature(getattr(cls, name))
        self.__name__ = self.__qualname__ = f"{cls.__name__}.{name}"
        self.refuses: Any = None  # the rule's refusal test (set by _method)

    def __call__(self, obj: Any, *args: Any, **kwargs: Any) -> Any:
        if type(obj) is Drawn:  # a replay: the capture's refusal test holds as a guard
            why = None if self.refuses is None else self.refuses((obj, *args), kwargs)
            if why is not None:  # (a miss: the capture that follows reports it, FA101)
                raise RuntimeError(f"framead: {self.__name__}: {why}")
            obj = obj.generator()
        elif isinstance(obj, SAMPLERS):
            raise RuntimeError(f"framead: {self.__name__} would draw again from the generator "
                               "a capture recorded; a replay cannot repeat the native draw")
        method = getattr(obj, self.name)
        if not self.functional:
            return method(*args, **kwargs)
        y = np.array(args[0], copy=True)
        method(y, *args[1:], **kwargs)
        return y


def _noting(name: str, refuses: Any, argnames: tuple, owner: str) -> Any:
    """The rule's refusal test, which also notes the generator's state before a traced draw
    (capture runs it just before the call: rules/random_draws.py)."""
    test = refusal(refuses, argnames, owner, RuleError)

    def refuses_and_notes(args: tuple, kwargs: dict) -> str | None:
        why = None if test is None else test(args, kwargs)
        if why is None:
            random_draws.note(name, args, kwargs)
        return why
    refuses_and_notes.test = test  # type: ignore[attr-defined]
    return refuses_and_notes


def _method(cls: type, name: str, argnames: tuple, **spec: Any) -> None:
    """Rule for ``cls.name``, named as NumPy names the parameters."""
    fn = Draw(cls, name, functional=bool(spec.get("mutates")))
    spec["refuses"] = _noting(name, spec.get("refuses"), argnames, fn.__name__)
    fn.refuses = spec["refuses"].test
    register_method(cls, name, make_rule(fn, name=fn.__name__, argnames=argnames, **spec))


def install() -> None:
    loc_scale = ("self", "loc", "scale", "size")
    for cls in SAMPLERS:
        gen = cls is np.random.Generator
        for name in LOC_SCALE:
            _method(cls, name, loc_scale, vjp=(None, _loc_vjp, _scale_vjp), jvp=_loc_scale_jvp,
                    saves={1: (), 2: (ANS, 1, 2)}, elementwise=True, nondiff=(0, 3),
                    refuses={"scale": _zero("scale")})
        for name in SCALE_ONLY:
            _method(cls, name, ("self", "scale", "size"), vjp=(None, _scale_only_vjp),
                    jvp=_scale_only_jvp, saves={1: (ANS, 1)}, elementwise=True,
                    nondiff=(0, 2), refuses={"scale": _zero("scale")})
        _method(cls, "uniform", ("self", "low", "high", "size"),
                vjp=(None, _low_vjp, _high_vjp), jvp=_uniform_jvp,
                saves={1: (ANS, 1, 2), 2: (ANS, 1, 2)}, elementwise=True, nondiff=(0, 3),
                refuses=_same_range)
        _method(cls, "lognormal", ("self", "mean", "sigma", "size"),
                vjp=(None, _mean_vjp, _sigma_vjp), jvp=_lognormal_jvp,
                saves={1: (ANS,), 2: (ANS, 1, 2)}, elementwise=True, nondiff=(0, 3),
                refuses={"sigma": _zero("sigma")})
        _method(cls, "multivariate_normal",  # a traced cov: FA101 (no vjp, not nondiff)
                ("self", "mean", "cov", "size", "check_valid", "tol"),
                vjp=(None, _mvn_mean_vjp), jvp=_mvn_jvp, saves={1: ()}, nondiff=(0, 3, 4, 5))
        choice = ("self", "a", "size", "replace", "p", *(("axis", "shuffle") if gen else ()))
        _method(cls, "choice", choice, vjp=(None, _gather_vjp(_CHOICE_AXIS)),
                jvp=_gather_jvp(_CHOICE_AXIS), saves={1: (1, ANS)},  # a traced p: FA101
                nondiff=(0, 2, 3, *range(5, len(choice))), refuses=_choice_refuses)
        xs = ("self", "x", "axis") if gen else ("self", "x")
        _method(cls, "permutation", xs, vjp=(None, _gather_vjp(_AXIS)),
                jvp=_gather_jvp(_AXIS), saves={1: (1, ANS)}, nondiff=(0, *range(2, len(xs))),
                refuses=_axis_refuses)
        _method(cls, "shuffle", xs, vjp=(None, _gather_vjp(_AXIS)),
                jvp=_gather_jvp(_AXIS), saves={1: (1, ANS)}, nondiff=(0, *range(2, len(xs))),
                mutates=(1,), aliases={0: 1}, refuses=_axis_refuses)
    random_shape.install(_method)
