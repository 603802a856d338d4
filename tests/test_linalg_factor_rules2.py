"""scipy.linalg ``lu``/``qr``/``rq``/``lstsq``/``eig``/``eigvals`` (rules/scipy_decomp_rules.py)
and NumPy's ``eig``/``eigvals`` at equal eigenvalues (rules/linalg_factor_rules.py).

Reference: central differences in float64 of a random real scalar function of the outputs
(random weights on their real and imaginary parts); a complex input is differentiated as the
pair (real part, imaginary part). Eigenvectors enter only through ``|v|**2``: geev's
eigenvectors are unique only up to a phase (and its normalization: unit norm, largest entry
real) and ``|v_ij|`` is invariant under the phase, so differences see what the rule's gauge
gives. The P factor of ``lu`` and the column order of pivoted ``qr`` are integers/decisions
(constants): they enter the function only as the native run computes them."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import central

sl = pytest.importorskip("scipy.linalg")
framead = pytest.importorskip("framead")
hyp = pytest.importorskip("hypothesis")
st = hyp.strategies


def wsum(outs, seed=3):
    """Random weights times the real and imaginary parts of every output, summed."""
    r = np.random.default_rng(seed)
    t = 0.0
    for o in outs:
        o = np.asarray(o)
        t = t + np.sum(r.normal(size=o.shape) * o.real)
        if np.iscomplexobj(o):
            t = t + np.sum(r.normal(size=o.shape) * o.imag)
    return t


def _floats(outs):
    return [o for o in outs if o is not None and not isinstance(o, int)]


def _lstsq(kw, nrhs):
    def f(a):
        b = np.linspace(-1.0, 2.0, a.shape[0] * max(nrhs, 1)).reshape(a.shape[0], -1)
        return wsum(_floats(sl.lstsq(a, b[:, 0] if nrhs == 0 else b, **kw)))
    return f


# name: (scalar function of the matrix, shapes it is checked at)
SQ, TALL, WIDE, BATCH = (4, 4), (5, 3), (3, 5), (2, 4, 3)
FUNCS = {
    "lu": (lambda a: wsum(sl.lu(a)[1:]), [SQ, TALL, WIDE, BATCH]),
    "lu_permute_l": (lambda a: wsum(sl.lu(a, permute_l=True)), [SQ, TALL, WIDE]),
    "lu_p_indices": (lambda a: wsum(sl.lu(a, p_indices=True)[1:]), [SQ, TALL, WIDE]),
    "lu_factor": (lambda a: wsum(sl.lu_solve(sl.lu_factor(a), np.arange(4.0))), [SQ]),
    "qr_full": (lambda a: wsum((sl.qr(a)[0][..., :min(a.shape[-2:])], sl.qr(a)[1])),
                [SQ, WIDE, TALL]),  # (a tall matrix's extra columns of Q are not read)
    # a real (n + 1) x n matrix: Q's extra column is unique up to a (constant) sign
    "qr_full_one_extra": (lambda a: wsum(sl.qr(a)), [(4, 3)]),
    "np_qr_complete": (lambda a: wsum(np.linalg.qr(a, mode="complete")), [(4, 3), (2, 3, 2)]),
    "qr_economic": (lambda a: wsum(sl.qr(a, mode="economic")), [SQ, TALL, WIDE, BATCH]),
    "qr_r": (lambda a: wsum(sl.qr(a, mode="r")), [SQ, TALL, WIDE]),
    "qr_pivoting": (lambda a: wsum(sl.qr(a, mode="economic", pivoting=True)[:2]),
                    [SQ, TALL, WIDE]),
    "qr_r_pivoting": (lambda a: wsum(sl.qr(a, mode="r", pivoting=True)[:1]), [SQ, TALL]),
    "rq_full": (lambda a: wsum(sl.rq(a)), [SQ, TALL]),
    "rq_economic": (lambda a: wsum(sl.rq(a, mode="economic")), [SQ, TALL, WIDE]),
    "rq_r": (lambda a: wsum([sl.rq(a, mode="r")]), [SQ, TALL, WIDE]),
    "lstsq": (_lstsq({}, 2), [TALL, SQ, WIDE]),
    "lstsq_vector": (_lstsq({}, 0), [TALL, WIDE]),
    "lstsq_gelsy": (_lstsq({"lapack_driver": "gelsy"}, 2), [TALL, WIDE]),
    "lstsq_gelss": (_lstsq({"lapack_driver": "gelss", "cond": 1e-10}, 1), [TALL]),
    "eigvals": (lambda a: wsum([sl.eigvals(a)]), [SQ]),
    "eig_values": (lambda a: wsum([sl.eig(a)[0]]), [SQ]),
    "eig_vectors": (lambda a: wsum([np.abs(sl.eig(a)[1]) ** 2]), [SQ]),
    "eig_right_false": (lambda a: wsum([sl.eig(a, right=False)]), [SQ]),
    "np_eig_vectors": (lambda a: wsum([np.abs(np.linalg.eig(a)[1]) ** 2]), [SQ, (2, 3, 3)]),
    "np_eigvals": (lambda a: wsum([np.linalg.eigvals(a)]), [SQ, (2, 3, 3)]),
    "np_lstsq": (lambda a: wsum(_floats(np.linalg.lstsq(a, np.arange(a.shape[0] * 2.0)
                                                        .reshape(-1, 2)))), [TALL, WIDE]),
}
REAL_ONLY = {"lstsq_gelss", "qr_full_one_extra", "np_qr_complete"}
CASES = [(n, s, c) for n, (_, shapes) in FUNCS.items() for s in shapes for c in (False, True)
         if not (c and n in REAL_ONLY)]


def _as_real(f, cplx):
    """f of a real array, or of the pair (real part, imaginary part) stacked on axis 0."""
    return (lambda x: f(x[0] + 1j * x[1])) if cplx else f


def _point(shape, cplx, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(2, *shape) if cplx else shape)


def _check_grad(name, shape, cplx, seed):
    f = _as_real(FUNCS[name][0], cplx)
    x = _point(shape, cplx, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error", category=framead.GradientWarning)
        with framead.strict():
            value, g = framead.value_and_grad(f)(x)
    assert value == f(x)  # the native value
    want = central(f, x)
    np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6 * (1 + np.max(np.abs(want))))


@pytest.mark.parametrize("name,shape,cplx", CASES)
def test_gradient_matches_differences(name, shape, cplx):
    _check_grad(name, shape, cplx, seed=len(name) + 7 * len(shape))


@hyp.settings(max_examples=40, deadline=None, derandomize=True, database=None)
@hyp.given(name=st.sampled_from(sorted(FUNCS)), m=st.integers(1, 5), n=st.integers(1, 5),
           cplx=st.booleans(), seed=st.integers(0, 2**16))
def test_gradient_fuzz(name, m, n, cplx, seed):
    """Any shape a function takes (square for the eigensolvers), any seed."""
    if name.startswith(("eig", "np_eig")) or name in ("lu_factor", "rq_full"):
        n = m if name != "lu_factor" else 4
        m = n
    hyp.assume(not (cplx and name in REAL_ONLY))
    if name in ("qr_full_one_extra", "np_qr_complete"):
        m = n + 1
    if name == "qr_r_pivoting":
        hyp.assume(m >= n)
    x = _point((m, n), cplx, seed)
    a = x[0] + 1j * x[1] if cplx else x
    if name.startswith(("eig", "np_eig")):  # distinct eigenvalues, well apart
        w = np.linalg.eigvals(a)
        gaps = np.abs(w[:, None] - w[None, :]) + np.eye(m) * 9
        hyp.assume(gaps.min() > 0.3 and np.linalg.cond(np.linalg.eig(a)[1]) < 50)
    if name.startswith(("lu", "qr", "rq")):  # pivots well apart (LU's choice is constant)
        hyp.assume(np.min(np.abs(sl.lu(a)[2].diagonal())) > 0.2)
        hyp.assume(np.min(np.abs(np.linalg.qr(a)[1].diagonal())) > 0.2)
    if "lstsq" in name:
        hyp.assume(np.linalg.cond(a) < 30)
    _check_grad(name, (m, n), cplx, seed)


# --- forward mode and hessians ---------------------------------------------------------------

JVP_CASES = ["lu", "lu_permute_l", "qr_full_one_extra", "qr_economic", "qr_r", "qr_pivoting",
             "rq_full", "rq_r", "lstsq", "lstsq_vector", "eigvals", "eig_values", "eig_vectors",
             "eig_right_false"]


@pytest.mark.parametrize("name", JVP_CASES)
@pytest.mark.parametrize("cplx", [False, True])
def test_jvp_matches_differences(name, cplx):
    if cplx and name in REAL_ONLY:
        pytest.skip("real matrices only")
    f = _as_real(FUNCS[name][0], cplx)
    shape = FUNCS[name][1][0] if name in REAL_ONLY else \
        TALL if name.startswith(("lstsq", "qr", "rq")) else SQ
    x, t = _point(shape, cplx, 5), _point(shape, cplx, 6)
    value, dv = framead.jvp(f, (x,), (t,), strict=True)
    assert value == f(x)
    h = 1e-6
    want = (f(x + h * t) - f(x - h * t)) / (2 * h)
    np.testing.assert_allclose(dv, want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["lu", "qr_economic", "rq_economic", "lstsq", "eig_values",
                                  "eigvals"])
def test_hessian_matches_differences_of_the_gradient(name):
    """Forward over reverse: the hessian's columns are central differences of the gradient
    (itself checked against differences of the function above)."""
    f = FUNCS[name][0]
    shape = (3, 2) if name in ("lstsq", "qr_economic", "rq_economic") else (3, 3)
    x = _point(shape, False, 11)
    hess = np.asarray(framead.hessian(f)(x)).reshape(x.size, x.size)
    grad = framead.grad(f)
    want = np.stack([central(lambda y, i=i: grad(y).ravel()[i], x).ravel()
                     for i in range(x.size)])
    np.testing.assert_allclose(hess, want, rtol=1e-4, atol=1e-5 * (1 + np.abs(want).max()))


# --- cached replay ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["lu", "lu_p_indices", "qr_full", "qr_r", "qr_pivoting",
                                  "rq_r", "lstsq", "eig_vectors", "eigvals"])
def test_cached_replay_at_new_points(name):
    f = FUNCS[name][0]
    shape = TALL if name.startswith(("lstsq",)) else SQ
    vg = framead.value_and_grad(f, cache=True)
    x0 = _point(shape, False, 21)
    for s in (1.0, 1.01, 0.995, 1.02):
        x = x0 * s + 0.01 * (s - 1.0)
        value, g = vg(x)
        assert value == f(x)
        np.testing.assert_allclose(g, central(f, x), rtol=1e-5, atol=1e-7)
    assert vg.stats["hits"] >= 2, vg.stats


# --- what has no derivative is reported ------------------------------------------------------

def _refused(f, x):
    """The capture reports FA101 at this file and strict mode raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = framead.trace(f, x)
    assert t.value == f(x)
    hits = [h for h in t.hazards if h.code == "FA101"]
    assert hits and all(__file__ in str(h.loc) or "test_linalg_factor_rules2" in str(h)
                        for h in hits), t.hazards
    with pytest.raises(framead.GradientHazard, match="FA101"):
        framead.grad(f, strict=True)(x)
    return hits


def _nan_reported(f, x):
    """The gradient holds a NaN and FA112 names the call (strict mode raises)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g = framead.grad(f)(x)
    msgs = [str(w.message) for w in caught]
    assert np.isnan(g).any(), g
    assert any("FA112" in m for m in msgs), msgs
    with pytest.raises(framead.GradientHazard):
        framead.grad(f, strict=True)(x)


LSTSQS = [sl.lstsq, np.linalg.lstsq, lambda a, b: sl.lstsq(a, b, lapack_driver="gelsy"),
          lambda a, b: np.linalg.lstsq(a, b, rcond=-1)]


@pytest.mark.parametrize("lstsq", LSTSQS)
@pytest.mark.parametrize("a", [np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]]),  # rank 1
                               np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]]), np.zeros((3, 2))])
def test_rank_deficient_lstsq_is_refused(lstsq, a):
    b = np.linspace(1.0, 2.0, a.shape[0])
    hits = _refused(lambda a: float(np.sum(lstsq(a, b)[0] ** 2) + np.sum(a)), a)
    assert "rank-deficient" in hits[0].message


@pytest.mark.parametrize("lstsq", LSTSQS)
def test_rank_deficient_lstsq_in_a_cached_replay_is_not_silent(lstsq):
    """Recorded at a full-rank point, called at a rank-deficient one: no replay (the rank
    differs), a capture, which refuses (strict mode raises); never a cached gradient."""
    b = np.array([1.0, 0.0, 2.0])

    def f(a):
        return float(np.sum(lstsq(a, b)[0] ** 2))

    a0 = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])
    vg = framead.value_and_grad(f, cache=True, strict=True)
    vg(a0 + np.array([[0.0, 0.5], [0.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(framead.GradientHazard, match="rank-deficient"):
        vg(a0)
    assert vg.stats["hits"] == 0 and vg.stats["captures"] == 2, vg.stats


@pytest.mark.parametrize("make", [
    lambda a: sl.eigvals(a), lambda a: sl.eig(a)[0], lambda a: np.linalg.eigvals(a),
    lambda a: np.linalg.eig(a)[0]])
@pytest.mark.parametrize("a", [np.eye(3), np.diag([1.0, 1.0, 2.0]),
                               np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])])
def test_equal_eigenvalues_told_apart_are_reported(make, a):
    """Different weights on equal eigenvalues: no derivative (they split as the
    perturbation's eigenvalues do), so the gradient is NaN and FA112 names the call."""
    _nan_reported(lambda a: float(np.sum(np.real(make(a)) * [1.0, 2.0, 3.0])), a)


@pytest.mark.parametrize("vectors", [lambda a: sl.eig(a)[1], lambda a: np.linalg.eig(a)[1]])
def test_eigenvectors_of_equal_eigenvalues_are_reported(vectors):
    a = np.diag([1.0, 1.0, 2.0])
    _nan_reported(lambda a: float(np.sum(np.abs(vectors(a)) ** 2 * np.arange(9.0)
                                         .reshape(3, 3))), a)


@pytest.mark.parametrize("eigvals", [sl.eigvals, np.linalg.eigvals])
def test_symmetric_function_of_equal_eigenvalues_is_differentiated(eigvals):
    """The trace (equal weights) is smooth at equal eigenvalues: its gradient is I."""
    for a in (np.eye(3), np.diag([1.0, 1.0, 2.0])):
        g = framead.grad(lambda a: float(np.sum(eigvals(a)).real), strict=True)(a)
        np.testing.assert_allclose(g, np.eye(3), atol=1e-12)


@pytest.mark.parametrize("qr", [sl.qr, lambda a: np.linalg.qr(a, mode="complete")])
def test_extra_columns_of_q_past_one_are_not_silent(qr):
    """A 5 x 3 matrix's two extra columns of Q turn within their plane as LAPACK's
    reflections choose: no rule; using them raises (never a silently wrong gradient)."""
    a = _point((5, 3), False, 4)
    with pytest.raises(NotImplementedError, match="extra columns"):
        framead.grad(lambda a: float(np.sum(qr(a)[0][:, 3:] ** 3)))(a)
    g = framead.grad(lambda a: float(np.sum(qr(a)[0][:, :3] ** 3)), strict=True)(a)
    np.testing.assert_allclose(g, central(lambda a: float(np.sum(qr(a)[0][:, :3] ** 3)), a),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("call", [
    lambda a: sl.lu(a, overwrite_a=True)[2], lambda a: sl.qr(a, overwrite_a=True)[1],
    lambda a: sl.qr(a, mode="raw")[1], lambda a: sl.rq(a, overwrite_a=True)[0],
    lambda a: sl.lstsq(a, np.ones(4), overwrite_b=True)[0],
    lambda a: sl.eig(a, left=True)[0], lambda a: sl.eig(a, np.eye(4))[0],
    lambda a: sl.eigvals(a, homogeneous_eigvals=True)[0]])
def test_refused_forms_are_reported(call):
    a = _point(SQ, False, 3) + 4 * np.eye(4)
    _refused(lambda a: float(np.sum(np.abs(np.asarray(call(a.copy()))) ** 2)), a)


# --- rules.check cases (test_rules_library's test_every_library_rule_has_a_case) -------------

def library_cases() -> list:
    """(function, args, kwargs) for ``framead.rules.check`` over every rule of
    rules/scipy_decomp_rules.py."""
    rng = np.random.default_rng(17)
    sq, tall, wide = rng.normal(size=(3, 3)) + 2 * np.eye(3), rng.normal(size=(4, 3)), \
        rng.normal(size=(3, 4))
    cx = sq + 0.5j * rng.normal(size=(3, 3))
    return [
        (sl.lu, (sq,), {}), (sl.lu, (tall,), {"permute_l": True}),
        (sl.lu, (wide,), {"p_indices": True}), (sl.lu, (cx,), {}),
        (sl.qr, (sq,), {}), (sl.qr, (tall,), {"mode": "economic"}), (sl.qr, (wide,), {}),
        (sl.qr, (tall,), {"mode": "r"}), (sl.qr, (cx,), {"mode": "economic"}),
        (sl.qr, (tall,), {"mode": "economic", "pivoting": True}),
        (sl.rq, (sq,), {}), (sl.rq, (wide,), {"mode": "economic"}),
        (sl.rq, (tall,), {"mode": "r"}),
        (sl.lstsq, (tall, rng.normal(size=(4, 2))), {}), (sl.lstsq, (wide, np.ones(3)), {}),
        (sl.eig, (sq,), {}), (sl.eig, (cx,), {}), (sl.eig, (sq,), {"right": False}),
        (sl.eigvals, (sq,), {}), (sl.eigvals, (cx,), {}),
    ]


@pytest.mark.parametrize("case", range(20))
def test_rules_check(case):
    cases = library_cases()
    fn, args, kwargs = cases[case]
    assert len(cases) == 20
    framead.rules.install_optional()
    assert framead.rules.check(fn, *args, **kwargs).ok
