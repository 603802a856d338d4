"""SciPy rules that were missing (FA101 and a zero gradient before): scipy.fft/fftpack
dct/idct/dst/idst and their n-D forms (every type, norm, orthogonalize, axis, n), scipy.linalg
eigh/eigvalsh (lower=False reads the upper triangle; eigvals_only), svd/svdvals, and the U output
of np.linalg.svd. Every gradient is checked in strict mode (no hazard) against central
differences in float64 of the native program; the transposes against explicit matrices."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

pytest.importorskip("scipy")
framead = pytest.importorskip("framead")
import scipy.fft as sfft  # noqa: E402
import scipy.fftpack as fftpack  # noqa: E402
import scipy.linalg as sl  # noqa: E402
from conftest import central  # noqa: E402
from framead.rules import install_optional  # noqa: E402

install_optional()  # SciPy's rule packs (a capture would install them too)

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
NORMS = (None, "backward", "forward", "ortho")


def assert_grad(f, x, rtol=1e-5, atol=1e-7):
    """Strict mode (a hazard raises) and the gradient equals central differences."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", category=framead.GradientWarning)
        with framead.strict():
            value, g = framead.value_and_grad(f)(x)
    assert value == f(x)  # capture is invisible
    np.testing.assert_allclose(g, central(f, x), rtol=rtol, atol=atol)


def natively(fn, *args, **kw):
    """fn(*args, **kw), or hypothesis rejects the example where SciPy itself refuses it."""
    try:
        return fn(*args, **kw)
    except (ValueError, NotImplementedError, RuntimeError):
        assume(False)


# --- dct / dst ------------------------------------------------------------------------------

@st.composite
def trig_calls(draw, nd: bool):
    fftpack_ = draw(st.booleans())
    module = fftpack if fftpack_ else sfft
    name = draw(st.sampled_from(("dct", "idct", "dst", "idst")))
    kw = {"type": draw(st.sampled_from((1, 2, 3, 4))), "norm": draw(st.sampled_from(NORMS))}
    if not fftpack_:
        orth = draw(st.sampled_from((None, True, False)))
        if orth is not None:
            kw["orthogonalize"] = orth
    shape = tuple(draw(st.lists(st.integers(2, 5), min_size=1, max_size=3)))
    if nd:
        axes = draw(st.sets(st.integers(0, len(shape) - 1), min_size=1).map(sorted))
        if draw(st.booleans()):
            kw["axes"] = tuple(axes) if draw(st.booleans()) else tuple(a - len(shape) for a in axes)
        if draw(st.booleans()):  # s/shape: the transform lengths (crop or zero-pad)
            size = tuple(draw(st.integers(2, 6)) for _ in (axes if "axes" in kw else shape))
            kw["shape" if fftpack_ else "s"] = size
        return getattr(module, name + "n"), shape, kw
    kw["axis"] = draw(st.integers(-len(shape), len(shape) - 1))
    kw["n"] = draw(st.sampled_from((None, 2, 3, 7)))
    return getattr(module, name), shape, kw


def check_trig(call, seed, complex_in):
    fn, shape, kw = call
    rng = np.random.default_rng(seed)
    x0 = rng.normal(size=(2,) + shape if complex_in else shape)
    y0 = natively(fn, x0[0] + 1j * x0[1] if complex_in else x0, **kw)
    w = rng.normal(size=np.shape(y0))

    def f(x):
        z = x[0] + 1j * x[1] if complex_in else x
        y = fn(z, **kw)
        return float(np.sum(np.real(y) * w) + 0.1 * np.sum(np.abs(y) ** 2))

    assert_grad(f, x0)


@SETTINGS
@given(call=trig_calls(nd=False), seed=st.integers(0, 2**16), complex_in=st.booleans())
def test_dct_dst_1d(call, seed, complex_in):
    check_trig(call, seed, complex_in)


@SETTINGS
@given(call=trig_calls(nd=True), seed=st.integers(0, 2**16), complex_in=st.booleans())
def test_dct_dst_nd(call, seed, complex_in):
    check_trig(call, seed, complex_in)


def test_transpose_against_explicit_matrices():
    """The VJP of each transform is the transpose of its matrix (not its inverse: the
    unnormalised types are not orthogonal), for every type, norm and orthogonalize."""
    from framead.rules import scipy_fft_rules as rules

    for module, name, t, norm, orth, n in itertools.product(
            (sfft, fftpack), ("dct", "idct", "dst", "idst"), (1, 2, 3, 4), NORMS,
            (None, True, False), (2, 3, 6)):
        if module is fftpack and orth is not None:
            continue
        kw = {} if orth is None else {"orthogonalize": orth}
        try:
            m = getattr(module, name)(np.eye(n), type=t, axis=0, norm=norm, **kw)
        except (ValueError, NotImplementedError):
            continue
        vjp = rules._rule_1d(name.strip("i")[:3], name.startswith("i"), module is fftpack)
        g = np.random.default_rng(n).normal(size=(n, 2))
        np.testing.assert_allclose(vjp(g, None, np.eye(n)[:, :2], type=t, axis=0, norm=norm,
                                       **kw), m.T @ g, atol=1e-12)


def test_corpus_dct_compaction():
    def f(x):
        c = sfft.dct(x, norm="ortho")
        back = sfft.idct(c * np.array([1, 1, 1, 0.5, 0.5, 0, 0, 0]), norm="ortho")
        return float(np.sum(c[:3] ** 2) + back @ np.arange(8.0))

    assert_grad(f, np.linspace(-1, 1, 8))


# --- eigh / eigvalsh ------------------------------------------------------------------------

def min_gap(w):
    return np.min(np.diff(np.sort(w))) if len(w) > 1 else 1.0


@SETTINGS
@given(n=st.integers(1, 5), seed=st.integers(0, 2**16), lower=st.sampled_from((True, False, None)),
       cplx=st.booleans(), form=st.sampled_from(("eigh", "eigvals_only", "eigvalsh")),
       subset=st.none() | st.tuples(st.integers(0, 4), st.integers(0, 4)).map(sorted),
       driver=st.sampled_from((None, "evd", "evx")))
def test_eigh_triangles(n, seed, lower, cplx, form, subset, driver):
    """A non-symmetric input: the derivative follows the triangle SciPy reads; a subset of
    the spectrum (by index) through the whole spectrum's gaps."""
    rng = np.random.default_rng(seed)
    x0 = rng.normal(size=(2 if cplx else 1, n, n))
    kw = {} if lower is None else {"lower": lower}
    assume(subset is None or subset[1] < n)
    mat = (lambda x: x[0] + 1j * x[1]) if cplx else (lambda x: x[0])
    assume(min_gap(sl.eigvalsh(mat(x0), **kw)) > 0.1)
    if subset is not None:
        kw["subset_by_index"] = subset
    if driver is not None and (subset is None or driver == "evx"):
        kw["driver"] = driver
    fn = sl.eigvalsh if form == "eigvalsh" else sl.eigh
    if form == "eigvals_only":
        kw["eigvals_only"] = True
    k = n if subset is None else subset[1] - subset[0] + 1
    wv, wm = rng.normal(size=k), rng.normal(size=(n, k))

    def f(x):
        out = fn(mat(x), **kw)
        if isinstance(out, tuple):
            w, v = out
            return float(w @ wv + np.sum(np.abs(v) ** 2 * wm) + np.sum(np.abs(v[:, :1]) * w))
        return float(out @ wv + np.sum(out ** 3))

    assert_grad(f, x0, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kw", [{"b": np.eye(3)}, {"subset_by_value": (-1.0, 1.0)}])
def test_eigh_refusals_are_reported(kw):
    """What the rule cannot differentiate is FA101 at the call, not a wrong gradient."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = framead.trace(lambda a: np.sum(sl.eigh(a + a.T, **kw)[0]), np.eye(3) + 0.1)
    assert "FA101" in [h.code for h in t.hazards]


# --- svd ------------------------------------------------------------------------------------

@SETTINGS
@given(m=st.integers(1, 5), n=st.integers(1, 5), seed=st.integers(0, 2**16), cplx=st.booleans(),
       form=st.sampled_from(("np", "gesdd", "gesvd", "values", "svdvals")))
def test_svd_u_s_vh(m, n, seed, cplx, form):
    """U, s and Vh (full_matrices=False) through gauge-invariant losses; the U-only path too."""
    rng = np.random.default_rng(seed)
    x0 = rng.normal(size=(2 if cplx else 1, m, n))
    mat = (lambda x: x[0] + 1j * x[1]) if cplx else (lambda x: x[0])
    s0 = np.linalg.svd(mat(x0), compute_uv=False)
    assume(np.min(s0) > 0.1 and min_gap(s0) > 0.1)
    k = min(m, n)
    wu, wv, ws = rng.normal(size=(m, k)), rng.normal(size=(k, n)), rng.normal(size=k)

    def f(x):
        a = mat(x)
        if form == "svdvals":
            return float(sl.svdvals(a) @ ws)
        if form == "values":
            return float(sl.svd(a, compute_uv=False) @ ws)
        if form == "np":
            u, s, vh = np.linalg.svd(a, full_matrices=False)
        else:
            u, s, vh = sl.svd(a, full_matrices=False, lapack_driver=form)
        proj = u[:, :1] @ np.conj(u[:, :1]).T  # (the projector is gauge invariant)
        return float(np.sum(np.abs(u) ** 2 * wu) + np.sum(np.real(proj)) + s @ ws
                     + np.sum(np.abs(vh) ** 2 * wv))

    assert_grad(f, x0, rtol=1e-4, atol=1e-6)


def test_svd_u_only():
    """Only U reaches the output: the 1/(s_j^2 - s_i^2) terms alone, tall and wide."""
    for shape in ((5, 3), (3, 5), (4, 4)):
        x0 = np.random.default_rng(sum(shape)).normal(size=shape)
        w = np.random.default_rng(1).normal(size=(shape[0], min(shape)))

        def f(x, w=w):
            return float(np.sum(sl.svd(x, full_matrices=False)[0] ** 2 * w)
                         + np.sum(np.linalg.svd(x, full_matrices=False)[0] ** 4 * w))

        assert_grad(f, x0, rtol=1e-4, atol=1e-6)


def test_svd_full_matrices_nonsquare_extra_vectors_reported():
    """A full SVD of a 5x2 has three extra left singular vectors (any rotation of them is one):
    a result read from them has no derivative, reported FA112 (strict raises)."""
    a = np.arange(10.0).reshape(5, 2) ** 0.5 + np.eye(5, 2)
    with pytest.raises(framead.GradientHazard, match="FA112"):
        framead.grad(lambda a: np.sum(sl.svd(a)[0][:, 2:] * np.arange(15.0).reshape(5, 3)),
                     strict=True)(a)


# --- overwrite flags ------------------------------------------------------------------------

OVERWRITING = {  # SciPy may write into the traced input: refused (FA101), never silently wrong
    "dct": lambda b: sfft.dct(b, overwrite_x=True),
    "fftpack.idst": lambda b: fftpack.idst(b, 2, None, -1, None, True),
    "dctn": lambda b: sfft.dctn(b, overwrite_x=True),
    "eigh": lambda b: sl.eigh(b, overwrite_a=True)[0],
    "eigvalsh": lambda b: sl.eigvalsh(b, overwrite_a=True),
    "svd": lambda b: sl.svd(b, False, True, True)[1],
    "svdvals": lambda b: sl.svdvals(b, overwrite_a=True),
    # scipy.fft's own transforms (scipy_signal_rules): a complex input is written into
    "fft": lambda b: np.abs(sfft.fft(b * (1 + 0.5j), overwrite_x=True)),
    "fft.positional": lambda b: np.abs(sfft.fft(b * (1 + 0.5j), None, -1, None, True)),
    "ifft2": lambda b: np.abs(sfft.ifft2(b * (1 - 1j), overwrite_x=True)),
    "rfftn": lambda b: np.abs(sfft.rfftn(b, overwrite_x=True)),
}


@pytest.mark.parametrize("name", sorted(OVERWRITING))
def test_overwrite_flags_are_reported(name):
    call = OVERWRITING[name]

    def f(a):
        b = np.asfortranarray(a * 1.0)  # (LAPACK writes into an F-ordered float64 array)
        return float(np.sum(call(b) ** 2) + np.sum(b * np.arange(16.0).reshape(4, 4)))

    a = np.random.default_rng(7).normal(size=(4, 4))
    a = a + a.T
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = framead.trace(f, a)
    assert t.value == f(a)
    assert "FA101" in [h.code for h in t.hazards]


# --- every rule by framead.rules.check (VJP and JVP against finite differences) ------------

def library_cases() -> list:
    """``(fn, args, kwargs)`` for every rule of scipy_fft_rules and scipy_linalg_rules (for
    test_rules_library's census). Eigenvectors by the ``evd`` driver: ``check``'s random
    cotangents depend on their signs, which ``evr`` flips under a finite-difference step."""
    rng = np.random.default_rng(5)
    x, xc = rng.normal(size=(3, 5)), rng.normal(size=(3, 4)) + 1j * rng.normal(size=(3, 4))
    a, b = rng.normal(size=(4, 4)), rng.normal(size=(5, 3))
    out = []
    for module, k in ((sfft, {"orthogonalize": True}), (fftpack, {})):
        for t, name in enumerate(("dct", "idct", "dst", "idst")):
            fn = getattr(module, name)
            out += [(fn, (x,), {"type": t + 1, "norm": "ortho", **k}),
                    (fn, (x, (t + 2) % 4 + 1, 7, 0), {}),
                    (getattr(module, name + "n"), (x,), {"type": 4 - t}),
                    (getattr(module, name + "n"), (xc,), {"type": t + 1, "axes": 1})]
    out += [(sl.eigh, (a,), {"lower": False, "driver": "evd"}),
            (sl.eigh, (a,), {"subset_by_index": (1, 2), "driver": "evx", "eigvals_only": True}),
            (sl.eigvalsh, (a,), {"lower": False}), (sl.svd, (b,), {"full_matrices": False}),
            (sl.svd, (b.T, False, False), {}), (sl.svdvals, (b,), {})]
    return out


@pytest.mark.parametrize("fn,args,kwargs", library_cases())
def test_rule_check(fn, args, kwargs):
    from framead.rules import check  # noqa: PLC0415

    assert check(fn, *args, **kwargs).ok


def test_cached_replay_at_new_inputs():
    """value_and_grad(cache=True): the recorded trace replayed at new inputs (its guards hold)
    gives the native value and the central-difference gradient."""
    wm = np.arange(16.0).reshape(4, 4) / 10

    def f(a):
        y = sfft.dct(a, type=3, norm="ortho", n=6, axis=0)[:4] + fftpack.idstn(a, 2, (4, 5))[:, :4]
        w, v = sl.eigh(a + a.T, lower=False, subset_by_index=(1, 3))
        u, s, _ = sl.svd(a, full_matrices=False)
        return float(np.sum(y ** 2) + w @ np.arange(3.0) + np.sum(v ** 2 * wm[:, :3])
                     + np.sum(u ** 2 * wm) + np.sum(sl.svdvals(a)))

    vg = framead.value_and_grad(f, cache=True)
    rng = np.random.default_rng(2)
    for _ in range(3):
        a = rng.normal(size=(4, 4))
        value, g = vg(a)
        assert value == f(a)
        np.testing.assert_allclose(g, central(f, a), rtol=1e-4, atol=1e-6)
