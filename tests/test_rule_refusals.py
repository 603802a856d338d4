"""Rules that cannot differentiate a call say so at capture (``Rule.refuses``): the call runs
natively as one with no rule, FA101 names the function at the user's line, strict=True raises
there; never an exception from the reverse pass, never a silent mismatch.

The sweep is generated: every registered rule whose function takes one float array (or one
array and the extra positionals in ``EXTRA``), called with each keyword its signature accepts
from ``VARIANTS``; each call must differentiate (central differences) or be refused.
"""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest
from conftest import fd_grad
from framead.rules import registry

import framead
from framead import rules
from framead.errors import GradientHazard

try:  # (an optional extra: without it, its rows go)
    import scipy.linalg
    import scipy.signal
    import scipy.special
except ImportError:
    scipy = None

pytestmark = pytest.mark.filterwarnings("ignore")
RNG = np.random.default_rng(0)
X34 = RNG.uniform(0.5, 2.0, (3, 4))
X33 = RNG.uniform(0.5, 2.0, (3, 3)) + 3 * np.eye(3)
VARIANTS = {
    "axis": [0, -1, (0, 1)], "axes": [(0,), (1, 0)], "keepdims": [True], "ddof": [1],
    "order": ["F", "A", 1, 2], "norm": ["ortho", "forward", "fro", "nuc", 1, -2, np.inf],
    "initial": [0.5, 3.0], "dtype": [np.complex128],
    "mode": ["reflect", "wrap", "nearest", "constant", "mirror", "full", "valid", "same",
             "r", "complete", "raw", "full", "clip"],
    "method": ["nearest", "lower", "higher", "midpoint", "weibull", "inverted_cdf"],
    "weights": [X34[0]], "side": ["right"], "k": [1, -1], "n": [6, 2], "s": [(4, 6)],
    "bias": [True], "rowvar": [False], "full_matrices": [True, False], "compute_uv": [False],
    "hermitian": [True], "lower": [True],  # (no overwrite_*: framead/scipy_calls.py runs
    # such calls natively and records what LAPACK wrote, tests/test_scipy_overwrite.py)
    "assume_a": ["pos", "sym", "her", "diagonal", "upper triangular"],
    "cval": [1.5], "origin": [1], "truncate": [2.0], "rtol": [0.1], "rcond": [0.1],
    "prepend": [0.5], "append": [0.5], "period": [2.0], "discont": [0.1], "nan": [0.0],
    "edge_order": [2], "q": [0.3], "p": [1, 2], "ord": [1, 2, "fro", np.inf, -1, 0.5],
}
EXTRA = {"np.pad": (1,), "np.reshape": ((4, 3),), "ndarray.reshape": ((4, 3),),
         "np.quantile": (0.3,), "np.percentile": (30.0,), "np.take": ([0, 2],),
         "np.roll": (1,), "np.repeat": (2,), "np.moveaxis": (0, 1), "np.swapaxes": (0, 1)}


def weighted(fn, extra=(), kw=None):
    """``v -> sum(fn(v, *extra, **kw) * c)`` (a fixed random ``c``; real and imaginary parts
    weighted apart), the first output of a tuple."""
    kw = kw or {}

    def f(v):
        out = fn(v, *extra, **kw)
        if isinstance(out, tuple | list):
            out = out[0]
        out = np.asarray(out)
        c = np.random.default_rng(7).normal(size=out.shape)
        if np.iscomplexobj(out):
            return np.sum(np.real(out) * c) + np.sum(np.imag(out) * c * 0.5)
        return np.sum(out * c)
    return f


def _runs(f, x) -> bool:
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            y = f(x.copy())
        return bool(np.isfinite(y)) and np.asarray(y).dtype.kind == "f"
    except Exception:  # noqa: BLE001 - NumPy/SciPy refuses the call itself: not a case
        return False


def _cases() -> list:
    rules.generation()  # (SciPy's rules, SciPy imported above)
    out, seen = [], set()
    for rule in registry.iter_rules():
        fn = rule.fn
        if rule.cut or rule.vjp is None or fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            continue
        kws = [p.name for p in params if p.default is not p.empty and p.name in VARIANTS]
        extra = EXTRA.get(rule.name, ())
        x = next((c for c in (X34, X33, X34[0]) if _runs(weighted(fn, extra), c)), None)
        if x is None or not kws:
            continue
        for k in kws:
            for val in VARIANTS[k]:
                if _runs(weighted(fn, extra, {k: val}), x):
                    out.append(pytest.param(rule.name, fn, extra, {k: val}, x,
                                            id=f"{rule.name}-{k}={val!r:.20}"))
    return out


CASES = _cases()


def assert_right_or_refused(f, x, name):
    """The gradient matches central differences, or FA101 names ``name`` at the calling line
    (and strict=True raises a GradientHazard at capture): nothing raised by the reverse
    pass, and the program's result is its native one."""
    native = f(x.copy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = framead.trace(f, x.copy())
        value, g = framead.value_and_grad(f)(x.copy())  # (no exception may escape)
    np.testing.assert_array_equal(value, native)
    refused = [h for h in t.hazards if h.code == "FA101"]
    if refused:
        line = inspect.getsourcelines(f)[1] + 1  # ``out = fn(...)`` in weighted()
        assert any(h.op == name and name in h.message and h.loc.file == __file__
                   and h.loc.line == line for h in refused), refused
        with pytest.raises(GradientHazard, match=name.replace(".", r"\.")):
            framead.grad(f, strict=True)(x.copy())
        return "refused"
    assert not t.hazards, t.hazards
    ref = fd_grad(f, x.copy(), step=1e-6)
    scale = 1 + np.max(np.abs(ref))
    np.testing.assert_allclose(np.asarray(g, dtype=float), ref, rtol=1e-5, atol=1e-5 * scale)
    return "differentiated"


def test_sweep_is_wide():
    assert len(CASES) > 300, len(CASES)
    assert len({c.values[0] for c in CASES}) > 80


@pytest.mark.parametrize("name,fn,extra,kw,x", CASES)
def test_rule_keyword_variant(name, fn, extra, kw, x):
    assert_right_or_refused(weighted(fn, extra, kw), x, name)


# --- the variants fixed or refused here (each failed before: a reverse-pass exception) -------

REFUSED = [
    ("np.reshape", np.reshape, ((4, 3),), {"order": "A"}, X34),
    ("ndarray.reshape", np.ndarray.reshape, ((4, 3),), {"order": "A"}, X34),
    ("np.pad", np.pad, (1, lambda vec, w, ax, kw: None), {}, X34),
    ("np.linalg.svd", np.linalg.svd, (), {"hermitian": True}, X33 + X33.T),
    ("np.linalg.qr", np.linalg.qr, (), {"mode": "raw"}, X34),
] + ([] if scipy is None else [
    ("scipy.linalg.lu_factor", scipy.linalg.lu_factor, (), {}, X34),
    ("scipy.special.psi", scipy.special.psi, (), {"dtype": complex}, X34),
    ("scipy.signal.convolve2d", scipy.signal.convolve2d, (X33,), {"boundary": "wrap"}, X34),
    ("scipy.signal.correlate2d", scipy.signal.correlate2d, (X33,), {"fillvalue": 1.0}, X34),
])


@pytest.mark.parametrize("name,fn,extra,kw,x", REFUSED, ids=[f"{r[0]}-{r[3]}" for r in REFUSED])
def test_refused_at_capture(name, fn, extra, kw, x):
    assert assert_right_or_refused(weighted(fn, extra, kw), x, name) == "refused"


FIXED = [
    ("np.concatenate", np.concatenate, (), {"axis": 1}, X34.reshape(2, 2, 3)),
    ("np.concatenate", np.concatenate, (), {"axis": None}, X34.reshape(2, 2, 3)),
    ("np.stack", np.stack, (), {"axis": -1}, X34.reshape(2, 2, 3)),
    ("np.linalg.qr", np.linalg.qr, (), {"mode": "full"}, X34),
    ("np.linalg.svd", np.linalg.svd, (), {}, X34),  # (full: one extra vector, unique up to sign)
] + ([] if scipy is None or "assume_a" not in inspect.signature(scipy.linalg.inv).parameters
      else [  # (SciPy 1.17 on)
    ("scipy.linalg.inv", scipy.linalg.inv, (), {"assume_a": "pos"}, X33),
    ("scipy.linalg.inv", scipy.linalg.inv, (), {"assume_a": "sym", "lower": True}, X33),
    ("scipy.linalg.inv", scipy.linalg.inv, (), {"assume_a": "upper triangular"}, X33),
])


@pytest.mark.parametrize("name,fn,extra,kw,x", FIXED, ids=[f"{r[0]}-{r[3]}" for r in FIXED])
def test_fixed_variants_differentiate(name, fn, extra, kw, x):
    f = weighted(fn, extra, kw)
    assert assert_right_or_refused(f, x, name) == "differentiated"
    t = np.random.default_rng(3).normal(size=x.shape)
    _, jt = framead.jvp(f, (x.copy(),), (t,))
    np.testing.assert_allclose(jt, np.sum(framead.grad(f)(x.copy()) * t), rtol=1e-8)


def test_refused_call_with_constants_only_is_not_reported():
    def f(v):
        return np.sum(np.reshape(X34, (4, 3), order="A")) * v[0]
    t = framead.trace(f, np.array([2.0]))
    assert not t.hazards
    np.testing.assert_allclose(framead.grad(f)(np.array([2.0])), [np.sum(X34)])


def test_refused_call_writing_a_traced_out_array():
    """A refused call's out= array, traced, now holds constants (FA104 besides FA101), as
    after a call with no rule."""
    rule = rules.make_rule(np.negative, vjp=(lambda g, ans, x, *a, **k: -g,),
                           saves={0: ()}, elementwise=True, name="refusing.negative",
                           refuses={"out": "given"})

    def f(v):
        o = v * 1.0
        np.negative(v, out=o)
        return np.sum(o * v)

    x = np.array([1.0, 2.0, 3.0])
    old = rules.lookup(np.negative)
    registry._insert(np.negative, rule, True)
    try:
        t = framead.trace(f, x)
        codes = {h.code for h in t.hazards}
        assert {"FA101", "FA104"} <= codes, t.hazards
        with pytest.raises(GradientHazard, match="refusing.negative"):
            framead.grad(f, strict=True)(x)
    finally:
        registry._insert(np.negative, old, True)
    assert rules.lookup(np.negative) is old


# --- the API: tables, functions, plug-in rules ------------------------------------------------

def softclip(x, scale=1.0, mode="tanh"):
    return np.tanh(x) * 2.0 * scale if mode == "tanh" else np.clip(x, -2.0, 2.0) * scale


def test_plugin_rule_with_a_refusal():
    rule = rules.register(
        softclip, name="tinyrules.softclip",
        vjp=(lambda g, ans, x, scale=1.0, mode="tanh": g * 2.0 * scale * (1 - np.tanh(x) ** 2),),
        saves={0: (0,)}, refuses={"mode": ("clip",)})
    try:
        assert rule.refuses((X34,), {"mode": "clip"}) == \
            "tinyrules.softclip with mode='clip' has no derivative rule"
        assert rule.refuses((X34, 1.0, "clip"), {}) is not None  # (by position too)
        assert rule.refuses((X34,), {}) is None
        f = weighted(softclip, (), {"scale": 0.5})
        assert assert_right_or_refused(f, X34, "tinyrules.softclip") == "differentiated"
        f = weighted(softclip, (), {"mode": "clip"})
        assert assert_right_or_refused(f, X34, "tinyrules.softclip") == "refused"
    finally:
        rules.unregister(softclip)


def test_refusal_forms_and_validation():
    r = rules.make_rule(softclip, vjp=(lambda g, ans, x, *a, **k: g,), saves={0: ()},
                        refuses=lambda args, kwargs: "no" if len(args) > 1 else None)
    assert r.refuses((1.0, 2.0), {}) == "no" and r.refuses((1.0,), {}) is None
    r = rules.make_rule(softclip, vjp=(lambda g, ans, x, *a, **k: g,), saves={0: ()},
                        refuses={"scale": lambda s: s < 0 and "negative scale", "mode": "given"})
    assert r.refuses((1.0, -1.0), {}) == "negative scale"
    assert r.refuses((1.0,), {"mode": "tanh"}) is not None
    assert r.refuses((1.0,), {"mode": None}) is None
    bools = rules.make_rule(softclip, vjp=(lambda g, ans, x, *a, **k: g,), saves={0: ()},
                            refuses={"scale": (True,)})
    assert bools.refuses((1.0, 1), {}) is None and bools.refuses((1.0, True), {}) is not None
    for bad in ({"mode": "clip"}, {"mode": 3}, ["mode"], {}):
        with pytest.raises(rules.RuleError, match="refuses"):
            rules.make_rule(softclip, vjp=(lambda g, ans, x, *a, **k: g,), saves={0: ()},
                            refuses=bad)


def test_scalar_methods_keep_the_refusal():
    rule = rules.lookup_method(np.float64, "reshape")
    assert rule is not None and rule.refuses((np.float64(1.0), 1), {"order": "A"})


def test_fast_path_calls_are_never_refused():
    """The C fast paths record ufunc(x), math.f(x), np.sum/np.mean(x[, axis=k]) without
    Recorder.apply: none of those argument forms may be one a rule refuses."""
    fast = [r for r in registry.iter_rules() if isinstance(r.fn, np.ufunc) and r.elementwise]
    fast += [rules.lookup(f) for f in (np.sum, np.mean, np.ndarray.sum, np.ndarray.mean)]
    fast += [rules.lookup(getattr(math, n)) for n in dir(math) if rules.lookup(getattr(math, n))]
    assert len(fast) > 60
    for rule in fast:
        for kwargs in ({}, {"axis": 0}, {"axis": -1}):
            assert rule.refuses((X34,), kwargs) is None, rule
