"""np.linalg through NumPy's own Python code, as NumPy 2.4 and 2.5 write it: ``cond`` calls the
``_umath_linalg.svd`` gufunc directly on NumPy >= 2.5 (and ``_umath_linalg.inv`` for the other
norm orders on both), ``tensorsolve`` wraps its result with ``ndarray.__array_wrap__``
(rules/linalg_gufunc_rules.py). Every gradient is taken with ``strict=True`` (a hazard fails
the test) and checked against central differences, JVPs against the same, and against torch
where it is installed."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fd_grad
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.linalg import _umath_linalg as ul

import framead

la = np.linalg
inf = np.inf


def _well(rng, shape, cplx=False, gap=0.6):
    """A (stack of) matrix(ces) with well-separated singular values in [1, 1 + gap * k]."""
    *batch, m, n = shape
    k = min(m, n)

    def orth(p):
        z = rng.standard_normal((*batch, p, p))
        if cplx:
            z = z + 1j * rng.standard_normal((*batch, p, p))
        return la.qr(z)[0]

    s = 1.0 + gap * np.arange(k)[::-1] + 0.1 * rng.random((*batch, k))
    u, v = orth(m)[..., :k], orth(n)[..., :k]
    return (u * s[..., None, :]) @ np.swapaxes(v.conj(), -1, -2)


def _check(f, x, rtol=1e-6, drawn=False):
    """framead's strict gradient of f at x against central differences (float64); a drawn
    point where they do not converge (a kink of a max/min norm order nearby) is rejected."""
    g = framead.grad(f, strict=True)(x.copy())
    ref, err = fd_grad(f, (x,), step=1e-3, with_error=True)
    scale = max(1.0, float(np.max(np.abs(ref))))
    converged = bool(np.all(err < 1e-5 * scale))
    if drawn:
        assume(converged)
    assert converged, "finite differences are not converged"
    np.testing.assert_allclose(g, ref, rtol=rtol, atol=rtol * scale)
    return g


def _as_complex(x, shape):
    """A complex matrix from a real vector: finite differences see only real inputs."""
    return (x[: x.size // 2] + 1j * x[x.size // 2:]).reshape(shape)


def _sq(y):
    return float(np.sum(np.real(np.asarray(y)) ** 2))


# --- the hypothesis sweep: shapes x functions ------------------------------------------------

def _rect(shape):
    return shape[-1] != shape[-2]


FUNCTIONS = {  # name -> (f(a) -> float, needs a square matrix, complex allowed)
    **{f"cond p={p}": ((lambda a, p=p: float(np.sum(la.cond(a, p)))), p not in (None, 2, -2),
                       p in (None, 2, -2, "fro")) for p in (None, 2, -2, "fro", 1, -1, inf,
                                                             -inf, "nuc")},
    "svd values": (lambda a: _sq(la.svd(a, compute_uv=False)), False, True),
    "svdvals": (lambda a: _sq(la.svdvals(a)), False, True),
    "norm 2": (lambda a: float(np.sum(la.norm(a, 2, axis=(-2, -1)))), False, True),
    "norm -2": (lambda a: float(np.sum(la.norm(a, -2, axis=(-2, -1)))), False, True),
    "norm nuc": (lambda a: float(np.sum(la.norm(a, "nuc", axis=(-2, -1)))), False, True),
    "matrix_norm nuc": (lambda a: float(np.sum(la.matrix_norm(a, ord="nuc"))), False, True),
    "pinv": (lambda a: _sq(la.pinv(a)), False, False),
    "matrix_rank": (lambda a: float(np.sum(la.matrix_rank(a))) * float(np.sum(a ** 2)), False,
                    False),  # (a count: not differentiated)
    "inv": (lambda a: _sq(la.inv(a)), True, False),
    "det": (lambda a: float(np.sum(la.det(a))), True, False),
}


@settings(max_examples=120, deadline=None)
@given(fn=st.sampled_from(sorted(FUNCTIONS)), m=st.integers(1, 4), n=st.integers(1, 4),
       batch=st.sampled_from([(), (2,), (2, 1)]), cplx=st.booleans(),
       seed=st.integers(0, 2**16))
def test_sweep_matches_central_differences(fn, m, n, batch, cplx, seed):
    f, square, complex_ok = FUNCTIONS[fn]
    if square:
        n = m
    shape = (*batch, m, n)
    rng = np.random.default_rng(seed)
    if cplx and complex_ok:
        a = _well(rng, shape, cplx=True)
        x = np.concatenate([a.real.ravel(), a.imag.ravel()])
        _check(lambda x: f(_as_complex(x, shape)), x, drawn=True)
    else:
        _check(f, _well(rng, shape), drawn=True)


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 3), extra=st.sampled_from([(), (2,), (2, 3)]), axes=st.booleans(),
       seed=st.integers(0, 2**16))
def test_tensorsolve_tensorinv_sweep(k, extra, axes, seed):
    """tensorsolve (ndarray.__array_wrap__ on NumPy >= 2.5) and tensorinv, of every split."""
    rng = np.random.default_rng(seed)
    bshape = (k, *extra)
    size = int(np.prod(bshape))
    a0 = _well(rng, (size, size)).reshape(*bshape, *bshape)
    b = rng.standard_normal(bshape)
    if axes:  # tensorsolve moves axis 0 to the end: it was a0's last
        _check(lambda a: _sq(la.tensorsolve(a, b, axes=(0,))), np.moveaxis(a0, -1, 0))
    else:
        _check(lambda a: _sq(la.tensorsolve(a, b)), a0)
    _check(lambda a: _sq(la.tensorinv(a, ind=len(bshape))), a0)


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 5), n=st.integers(1, 4), vec=st.booleans(), seed=st.integers(0, 2**16))
def test_lstsq_sweep(m, n, vec, seed):
    rng = np.random.default_rng(seed)
    a0 = _well(rng, (m, n))
    b = rng.standard_normal(m if vec else (m, 2))

    def f(a):
        x, res, rank, s = la.lstsq(a, b, rcond=None)
        return _sq(x) + float(np.sum(res)) + _sq(s)

    _check(f, a0)


@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (4, 2), (2, 3, 3), (2, 2, 4)])
def test_matrix_rank_is_not_differentiated(shape):
    """matrix_rank is a count: the gradient of rank * sum(a) is rank (no hazard, strict)."""
    a0 = _well(np.random.default_rng(1), shape)
    g = framead.grad(lambda a: float(np.sum(la.matrix_rank(a))) * float(np.sum(a)),
                     strict=True)(a0)
    np.testing.assert_allclose(g, np.full(shape, float(np.sum(la.matrix_rank(a0)))))


# --- the gufuncs called directly -------------------------------------------------------------

@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (4, 2), (3, 2, 4), (2, 1, 3, 3)])
@pytest.mark.parametrize("sig", [None, "d->d"])
def test_svd_values_gufunc(shape, sig):
    a0 = _well(np.random.default_rng(2), shape)
    kw = {} if sig is None else {"signature": sig}
    g = _check(lambda a: _sq(ul.svd(a, **kw) * np.arange(1.0, 1 + min(shape[-2:]))), a0)
    s = la.svd(a0, compute_uv=False)  # d(sum w s^2)/dA = U diag(2 w s) V^T
    u, _, vh = la.svd(a0, full_matrices=False)
    w = 2 * np.arange(1.0, 1 + s.shape[-1]) ** 2 * s
    np.testing.assert_allclose(g, (u * w[..., None, :]) @ vh, rtol=1e-9, atol=1e-9)


def test_svd_values_gufunc_complex():
    shape = (2, 3, 2)
    a0 = _well(np.random.default_rng(3), shape, cplx=True)
    x = np.concatenate([a0.real.ravel(), a0.imag.ravel()])
    _check(lambda x: _sq(ul.svd(_as_complex(x, shape), signature="D->d")), x)


@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (4, 2), (2, 3, 2)])
def test_svd_s_gufunc(shape):
    """The reduced SVD (svd_s): the singular vectors through a gauge-invariant function."""
    a0 = _well(np.random.default_rng(4), shape)
    c = np.random.default_rng(5).standard_normal(shape)

    def f(a):
        u, s, vh = ul.svd_s(a)
        p = (u * s[..., None, :]) @ vh  # a again
        q = (u @ vh) * c  # the polar factor (square or not)
        return float(np.sum(p * c) + np.sum(q) + np.sum(s ** 3))

    _check(f, a0)


def test_svd_f_gufunc_square_and_rectangular():
    """svd_f (full matrices): square, one extra vector (unique up to sign: differentiated) and
    two or more extra vectors read by the result (not unique: FA112, strict raises)."""
    a0 = _well(np.random.default_rng(6), (2, 3, 3))
    c = np.random.default_rng(7).standard_normal((3, 3))
    _check(lambda a: float(np.sum((ul.svd_f(a)[0] @ ul.svd_f(a)[2]) * c)), a0)
    a1 = np.random.default_rng(8).standard_normal((2, 3))
    c1 = np.random.default_rng(9).standard_normal((3, 3))
    _check(lambda a: float(np.sum(ul.svd_f(a)[2] * c1) + np.sum(ul.svd_f(a)[1])), a1)
    a2 = np.random.default_rng(10).standard_normal((2, 4))
    c2 = np.random.default_rng(11).standard_normal((4, 4))
    with pytest.raises(framead.GradientHazard, match="FA112"):
        framead.grad(lambda a: float(np.sum(ul.svd_f(a)[2] * c2)), strict=True)(a2)


@pytest.mark.parametrize("call", [lambda a: ul.svd(a, axes=[(0, 1), (0,)]),
                                  lambda a: ul.inv(a[0], axis=0),  # (it runs: inv(a.T))
                                  lambda a: ul.det(a, axes=[(0, 1), ()])])
def test_gufunc_core_axes_refused(call):
    a0 = _well(np.random.default_rng(8), (3, 3, 3))
    with pytest.raises(framead.GradientHazard, match=r"FA101.*(axes|axis)="):
        framead.grad(lambda a: float(np.sum(call(a))), strict=True)(a0)


def _u(rng, *shape):
    return rng.uniform(-1.0, 1.0, shape)


def _gufunc_cases():
    """(callable, args, kwargs) for framead.rules.check (tests/test_rules_library.py's form)."""
    rng = np.random.default_rng(16)
    a, ab = _u(rng, 3, 3) + 3 * np.eye(3), _u(rng, 2, 3, 3) + 3 * np.eye(3)
    ac = _u(rng, 3, 3) + 1j * _u(rng, 3, 3) + 3 * np.eye(3)
    sep = np.diag([1.0, 2.5, 4.0]) + 0.1 * _u(rng, 3, 3)
    return [
        (ul.svd, (_u(rng, 3, 4),), {}), (ul.svd, (_u(rng, 2, 4, 3),), {"signature": "d->d"}),
        (ul.svd, (ac,), {"signature": "D->d"}), (ul.svd_s, (_u(rng, 4, 3),), {}),
        (ul.svd_s, (_u(rng, 2, 3, 4),), {}), (ul.svd_s, (ac,), {}), (ul.svd_f, (sep,), {}),
        (ul.inv, (ab,), {}), (ul.inv, (ac,), {"signature": "D->D"}), (ul.det, (ab,), {}),
        (ul.slogdet, (a,), {}), (ul.slogdet, (ac,), {}), (ul.solve, (a, _u(rng, 3, 2)), {}),
        (ul.solve, (ab, _u(rng, 3, 2)), {}), (ul.solve1, (ab, _u(rng, 3)), {}),
        (ul.solve1, (a, _u(rng, 2, 3)), {}),
        (np.ndarray.__array_wrap__, (np.zeros(2), _u(rng, 2, 3)), {}),
        (np.ndarray.__array_wrap__, (np.zeros(2), _u(rng, 2, 3), None, True), {}),
    ]


GUFUNC_CASES = _gufunc_cases()


@pytest.mark.parametrize("fn,args,kwargs", GUFUNC_CASES,
                         ids=[f"{getattr(c[0], '__name__', c[0])}-{i}"
                              for i, c in enumerate(GUFUNC_CASES)])
def test_rule_check(fn, args, kwargs):
    """VJPs and JVPs of every new rule against finite differences (framead.rules.check)."""
    assert framead.rules.check(fn, *args, **kwargs).ok


@pytest.mark.parametrize("shapes", [((3, 3), (3, 2)), ((2, 3, 3), (3, 2)),
                                    ((3, 3), (2, 3, 1)), ((1, 2, 2), (3, 1, 2, 2))])
def test_solve_gufuncs_broadcast(shapes):
    sa, sb = shapes
    rng = np.random.default_rng(9)
    a0, b0 = _well(rng, sa), rng.standard_normal(sb)
    _check(lambda a: _sq(ul.solve(a, b0)), a0)
    _check(lambda b: _sq(ul.solve(a0, b)), b0)
    bv = b0[..., 0]  # solve1: one vector per matrix, loop dimensions broadcast
    _check(lambda a: _sq(ul.solve1(a, bv)), a0)
    _check(lambda b: _sq(ul.solve1(a0, b)), bv)


@pytest.mark.parametrize("name", ["inv", "det", "slogdet"])
def test_inv_det_gufuncs(name):
    a0 = _well(np.random.default_rng(10), (2, 3, 3))
    fn = getattr(ul, name)
    if name == "slogdet":
        _check(lambda a: float(np.sum(fn(a, signature="d->dd")[1])), a0)
    else:
        _check(lambda a: _sq(fn(a, signature="d->d")), a0)


def test_gufunc_jvps_match_central_differences():
    rng = np.random.default_rng(11)
    a0, t = _well(rng, (2, 3, 4)), rng.standard_normal((2, 3, 4))
    sq = _well(rng, (2, 3, 3))
    for f, x in [(lambda a: ul.svd(a), a0), (lambda a: ul.svd_s(a)[1], a0),
                 (lambda a: ul.inv(a), sq), (lambda a: ul.det(a), sq),
                 (lambda a: la.cond(a), a0), (lambda a: la.cond(a, "fro"), sq)]:
        tt = t if x.shape == t.shape else t[..., :3]
        _, dy = framead.jvp(f, (x,), (tt,), strict=True)
        h = 1e-6
        ref = (np.asarray(f(x + h * tt)) - np.asarray(f(x - h * tt))) / (2 * h)
        np.testing.assert_allclose(dy, ref, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("p,shape", [(None, (2, 3)), ("fro", (3, 3)), ("nuc", (3, 3))])
def test_cond_second_order(p, shape):
    """hessian of cond (the gufuncs' VJPs differentiated again) against differences."""
    a0 = _well(np.random.default_rng(12), shape)
    hess = framead.hessian(lambda a: la.cond(a, p), strict=True)(a0)
    gfn = framead.grad(lambda a: la.cond(a, p), strict=True)
    h = 1e-5
    for idx in [(0, 0), (1, 2)]:
        e = np.zeros_like(a0)
        e[idx] = h
        ref = (gfn(a0 + e) - gfn(a0 - e)) / (2 * h)
        np.testing.assert_allclose(hess[idx], ref, rtol=1e-5, atol=1e-6)


# --- ndarray.__array_wrap__ ------------------------------------------------------------------

def test_array_wrap_is_identity_on_data():
    rng = np.random.default_rng(13)
    x0, tmpl = rng.standard_normal((2, 3)), np.zeros(6)
    w = np.arange(6.0).reshape(2, 3)
    _check(lambda x: float(np.sum(tmpl.__array_wrap__(x * x) * w)), x0)
    _check(lambda x: float(np.sum(x.__array_wrap__(x.sum() * x[0]) * w[0])), x0)  # traced self
    _check(lambda x: float(np.ndarray.__array_wrap__(tmpl, np.sin(x)[0, 1:2].reshape(()),
                                                     None, True)), x0)  # a NumPy scalar


def test_array_wrap_of_a_subclass():
    """np.matrix's wrap: a matrix view of the data, differentiated as the data."""
    x0 = np.random.default_rng(14).standard_normal((2, 2))
    m = np.asmatrix(np.eye(2))

    def f(x):
        r = m.__array_wrap__(x * 3.0)
        assert isinstance(r, np.matrix)
        return float(np.sum(np.asarray(r @ r)))

    _check(f, x0)


# --- torch, where installed ------------------------------------------------------------------

def test_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(15)

    def _tcond(t, p):  # (torch.linalg.cond's backward fails for these orders: in-place inv)
        return torch.linalg.matrix_norm(t, p) * torch.linalg.matrix_norm(torch.linalg.inv(t), p)

    cases = [
        (lambda a: la.cond(a), lambda t: torch.linalg.cond(t), (2, 3, 4)),
        (lambda a: la.cond(a, "fro"), lambda t: _tcond(t, "fro"), (3, 3)),
        (lambda a: la.cond(a, -2), lambda t: torch.linalg.cond(t, -2), (4, 3)),
        (lambda a: la.cond(a, "nuc"), lambda t: _tcond(t, "nuc"), (2, 3, 3)),
        (lambda a: la.cond(a, 1), lambda t: _tcond(t, 1), (3, 3)),
        (lambda a: ul.svd(a), lambda t: torch.linalg.svdvals(t), (2, 4, 3)),
        (lambda a: la.pinv(a), lambda t: torch.linalg.pinv(t), (3, 4)),
        (lambda a: la.tensorsolve(a, np.arange(1.0, 4.0)),
         lambda t: torch.linalg.tensorsolve(t, torch.arange(1.0, 4.0, dtype=t.dtype)), (3, 3)),
    ]
    for f, tf, shape in cases:
        a0 = _well(rng, shape)
        w = rng.standard_normal(np.shape(f(a0)))
        g = framead.grad(lambda a: float(np.sum(f(a) * w)), strict=True)(a0)
        t = torch.tensor(a0, requires_grad=True)
        (tf(t) * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_svd_values_gufunc_of_a_nan_matrix():
    """The gufunc gives NaN singular values for a matrix holding a NaN (NumPy 2.5's cond: NaN,
    not an error): that matrix's gradient is NaN, the others' are right."""
    a0 = _well(np.random.default_rng(17), (3, 2, 3))
    a0[1, 0, 2] = np.nan
    w = np.array([1.0, 0.0, 2.0])[:, None]
    with np.errstate(invalid="ignore"):
        g = framead.grad(lambda a: float(np.sum(ul.svd(a)[[0, 2]] * w[[0, 2]])),
                         strict=True)(a0)
        g1 = framead.grad(lambda a: float(np.sum(ul.svd(a))), strict=True)(a0)
    ok = [0, 2]
    ref = fd_grad(lambda a: float(np.sum(ul.svd(a) * w[ok])), (a0[ok],))
    np.testing.assert_allclose(g[ok], ref, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(g[1], 0.0)  # (its values unused)
    ref1 = fd_grad(lambda a: float(np.sum(ul.svd(a))), (a0[ok],))
    np.testing.assert_allclose(g1[ok], ref1, rtol=1e-6, atol=1e-8)
    assert np.all(np.isnan(g1[1]))
    if np.lib.NumpyVersion(np.__version__) >= "2.5.0":  # cond: NaN for it, not an error
        with np.errstate(invalid="ignore"):
            gc = framead.grad(lambda a: float(np.nansum(la.cond(a))), strict=True)(a0)
        refc = fd_grad(lambda a: float(np.sum(la.cond(a))), (a0[ok],))
        np.testing.assert_allclose(gc[ok], refc, rtol=1e-6, atol=1e-8)


def test_an_unread_singular_matrix_gets_no_nan_through_inv_and_norm():
    """A stack's singular matrix whose inverse (NaN under all="ignore", as cond computes it)
    reaches the loss only through a norm the loss does not read: its gradient is 0, as
    central differences say (the inv gufunc's and norm's VJPs keep a zero cotangent zero)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    s = a.copy()
    s[0] = 0.0
    x = np.stack([a, s])

    def f(m):
        with np.errstate(all="ignore"):
            inv = ul.inv(m, signature="d->d")
        return float(np.linalg.norm(inv, "fro", axis=(-2, -1))[0])

    g = framead.grad(f, strict=True)(x.copy())
    ref = fd_grad(f, (x,), step=1e-5)
    np.testing.assert_allclose(g[0], ref[0], rtol=1e-5, atol=1e-7)
    assert np.array_equal(g[1], np.zeros((3, 3))), g[1]
