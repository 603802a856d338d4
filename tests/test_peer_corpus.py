"""Peer-style gradient tests run unmodified through framead (tests/peer_corpus/).

Every case is checked against central finite differences (tests/peer_corpus/check.py) and
classified pass / hazard (right, with a hazard) / wrong (silently wrong) / wrong_hazard /
error. The test fails on any silently wrong gradient, on any failure not listed in
``EXPECTED`` below, and on any listed case that now passes (so the table only shrinks).

By default a fixed-seed sample of 2,000 cases runs (about 17 s); FRAMEAD_PEER_FULL=1 runs all
of them (about 35 s). ``python tests/test_peer_corpus.py [substring] [--fwd] [--order2]
[--wrap]`` prints a report of the failures: ``--fwd`` checks forward mode (framead.jvp),
``--order2`` the derivative of framead's own VJP (autograd's check_grads order=2), ``--wrap``
calls each function from a Python lambda (separates top-level-callable failures).
"""

from __future__ import annotations

import collections
import os
import random
import sys
import time

import numpy as np
import pytest
from conftest import FAKE
from hypothesis import assume, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))

from peer_corpus import all_cases  # noqa: E402
from peer_corpus.check import run_case  # noqa: E402

SAMPLE = 2000  # cases in the default run

# Cases that are not a pass yet (an error, or a wrong gradient with a hazard), grouped by root
# cause (and the file where it lies). Keep it shrinking: a listed case that passes fails the test.
EXPECTED_GROUPS: dict[str, list[str]] = {
    'scipy.linalg decompositions/functions without a rule (FA101, scipy_rules.py)': [
        'splinalg/solve_sylvester',
        'sla/funm_exp',
        'sla/solve_lyapunov',
    ],
    'np.max(initial=): no rule (numpy_rules.py)': [
        'api/max_initial',
    ],
    'scipy.ndimage shift/zoom/map_coordinates: FA101 (scipy_signal_rules.py)': [
        'ndimage/shift',
        'ndimage/zoom',
        'ndimage/map_coordinates',
    ],
    'scipy.signal lfilter/convolve2d/savgol: FA101 (scipy_signal_rules.py)': [
        'signal/savgol',
    ],
    'scipy.spatial.distance: C kernels without a rule (FA101; no rules file yet)': [
        'spatial/cdist',
        'spatial/pdist',
        'spatial/cdist_sqeuclidean',
        'spatial/euclidean',
        'spatial/squareform',
    ],
    "framead.vjp(f, *args, **kwargs): a keyword named f (or argnums, strict) of the user's "
    "function collides with vjp's own parameters (api.py: make them positional-only)": [
        'wrappers/complicated_kw',
    ],
}
EXPECTED = {name: why for why, names in EXPECTED_GROUPS.items() for name in names}


def select(cases, full: bool):
    if full:
        return cases
    rng = random.Random(1234)
    return sorted(rng.sample(cases, min(SAMPLE, len(cases))), key=cases.index)


def run_all(cases):
    results = {}
    for c in cases:
        results[c.name] = run_case(c)
    return results


def summary(results) -> str:
    cnt = collections.Counter(s for s, _ in results.values())
    n = sum(v for k, v in cnt.items() if k != "skip")
    ok = cnt["pass"] + cnt["hazard"]
    return (f"peer corpus: {n} cases, {ok} passed ({100.0 * ok / max(n, 1):.1f}%): "
            f"pass {cnt['pass']}, hazard-only {cnt['hazard']}, wrong {cnt['wrong']}, "
            f"wrong+hazard {cnt['wrong_hazard']}, error {cnt['error']}, "
            f"skipped (native error / FD not finite) {cnt['skip']}")


@pytest.mark.skipif(FAKE, reason="the corpus checks framead itself")
def test_peer_corpus():
    cases = select(all_cases(), os.environ.get("FRAMEAD_PEER_FULL") == "1")
    t0 = time.perf_counter()
    results = run_all(cases)
    print(f"\n{summary(results)} in {time.perf_counter() - t0:.1f}s")
    silent = [f"{k}: {d}" for k, (s, d) in results.items() if s == "wrong"]
    unlisted = [f"{k}: {s}: {d}" for k, (s, d) in results.items()
                if s in ("error", "wrong_hazard") and k not in EXPECTED]
    now_pass = [k for k, (s, _) in results.items() if s in ("pass", "hazard") and k in EXPECTED]
    problems = []
    if silent:
        problems.append("silently wrong gradients:\n  " + "\n  ".join(silent))
    if unlisted:
        problems.append("failures not in EXPECTED:\n  " + "\n  ".join(unlisted))
    if now_pass:
        problems.append("listed in EXPECTED but now passing (remove them):\n  "
                        + "\n  ".join(now_pass))
    assert not problems, "\n".join(problems)


if __name__ == "__main__":
    # --wrap: call each case's function from a Python lambda (diagnostic: separates the
    # failures of top-level C callables from the rest)
    # --order2: check the derivative of framead's own VJP (autograd's check_grads order=2)
    # --fwd: forward mode (framead.jvp) instead of vjp
    wrap, order2, fwd = "--wrap" in sys.argv, "--order2" in sys.argv, "--fwd" in sys.argv
    argv = [a for a in sys.argv[1:] if a not in ("--wrap", "--order2", "--fwd")]
    pat = argv[0] if argv else ""
    cs = [c for c in all_cases() if pat in c.name]
    if wrap:
        for c in cs:
            c.fun = (lambda f: lambda *a, **k: f(*a, **k))(c.fun)
    t0 = time.perf_counter()
    res = {}
    if order2:
        from peer_corpus.check import second_order

        built = []
        for c in cs:
            try:
                built.append(second_order(c))
            except Exception:  # noqa: BLE001, S112 - cases NumPy itself rejects are skipped
                continue
        cs = built
    if fwd:
        from peer_corpus.check import run_case_fwd as run_case  # noqa: F811
    for c in cs:
        t1 = time.perf_counter()
        res[c.name] = run_case(c)
        dt = time.perf_counter() - t1
        s, d = res[c.name]
        if s not in ("pass", "hazard") or dt > 2:
            print(f"{s:12s} {dt:5.2f}s {c.name}: {d}", flush=True)
    print(summary(res), f"in {time.perf_counter() - t0:.1f}s")


# --- the rules this corpus led to (rules/linalg_rules.py), over their class of inputs --------

def _flat(fn, x):
    out = fn(x)
    return np.concatenate([np.ravel(o) for o in (out if isinstance(out, tuple) else (out,))])


def _fd_dir(fn, a, d, h):
    return (_flat(fn, a + h * d) - _flat(fn, a - h * d)) / (2 * h)


@pytest.mark.skipif(FAKE, reason="checks framead's rules")
@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 4), batch=st.sampled_from([(), (2,)]), cplx=st.booleans(),
       which=st.sampled_from(["eig", "eigvals", "eigh_L", "eigh_U", "pinv_hermitian",
                              "qr_complete", "svd_tall", "svd_wide", "qr_tall", "qr_wide"]),
       seed=st.integers(0, 2 ** 31 - 1))
def test_linalg_rules_match_finite_differences(n, batch, cplx, which, seed):
    """eig (LAPACK's gauge: unit norm, largest entry real), eigh's eigenvectors (complex:
    LAPACK keeps the first row real for UPLO='L', the last for 'U'), svd's singular vectors
    (complex: V's first row real when m >= n, else U's), qr (complex: diag(R) real), eigvals,
    pinv(hermitian=True)
    (the lower triangle is read) and qr(mode='complete') of a tall matrix when only Q[:, :n]
    and R are used: VJP and JVP against central differences along a random direction."""
    import framead

    rs = np.random.RandomState(seed)
    shape = (*batch, *{"qr_complete": (n + 2, n), "svd_tall": (n + 2, n), "qr_tall": (n + 2, n),
                       "svd_wide": (n, n + 1), "qr_wide": (n, n + 1)}.get(which, (n, n)))
    if which == "qr_complete":
        cplx = False

    def draw():
        x = rs.randn(*shape)
        return x + 1j * rs.randn(*shape) if cplx else x

    a, d = draw(), draw()
    if which in ("pinv_hermitian", "eigh_L", "eigh_U"):
        a = a + np.conj(np.swapaxes(a, -1, -2)) + 3 * n * np.eye(n)
    fn = {"eig": np.linalg.eig, "eigvals": np.linalg.eigvals,
          "pinv_hermitian": lambda x: np.linalg.pinv(x, hermitian=True),
          "eigh_L": np.linalg.eigh, "eigh_U": lambda x: np.linalg.eigh(x, "U"),
          "svd_tall": lambda x: np.linalg.svd(x, full_matrices=False),
          "svd_wide": lambda x: np.linalg.svd(x, full_matrices=False),
          "qr_tall": np.linalg.qr, "qr_wide": np.linalg.qr,
          "qr_complete": lambda x: (lambda q, r: (q[..., :n], r))(
              *np.linalg.qr(x, mode="complete"))}[which]
    fd = _fd_dir(fn, a, d, 1e-6)
    assume(np.allclose(fd, _fd_dir(fn, a, d, 2e-6), rtol=1e-4, atol=1e-6))  # not at a kink
    # nor where LAPACK's gauge jumps at a itself (an eigenvector's sign at a, the other sign
    # all around it: both differences agree, and disagree with the derivative at a)
    assume(np.allclose(_flat(fn, a), (_flat(fn, a + 1e-6 * d) + _flat(fn, a - 1e-6 * d)) / 2,
                       rtol=1e-4, atol=1e-6))
    out, f_vjp = framead.vjp(fn, a)
    leaves = out if isinstance(out, tuple) else (out,)
    cts = tuple(rs.randn(*np.shape(o)) + (1j * rs.randn(*np.shape(o))
                                          if np.iscomplexobj(o) else 0) for o in leaves)
    g = f_vjp(cts if isinstance(out, tuple) else cts[0])[0]
    exact = np.real(np.sum(g * d))
    numeric = np.real(np.sum(np.concatenate([np.ravel(c) for c in cts]) * fd))
    assert abs(exact - numeric) <= 1e-5 * max(1.0, abs(numeric)), (exact, numeric)
    if which != "qr_complete":  # forward mode cannot know that Q's extra columns go unused
        _, t = framead.jvp(fn, (a,), (d,))
        tt = np.concatenate([np.ravel(o) for o in (t if isinstance(t, tuple) else (t,))])
        assert np.allclose(tt, fd, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(FAKE, reason="checks framead's rules")
def test_eigen_and_singular_vector_rules_differentiate_twice():
    """The reverse passes of eigh/eig/svd/qr/det are themselves differentiable (no 1/0 on the
    diagonal of the eigenvalue-gap matrix; det's at a nearly singular matrix through cofactors,
    not inv): autograd's order-2 check on the corpus cases."""
    from peer_corpus.check import second_order

    names = ("jlinalg/eigh[3x3]", "jlinalg/eig_raw[c3x3]", "jlinalg/eig_vectors[2x4x4]",
             "jlinalg/svd[(3, 3)]", "linalg/svd_tall_2d", "linalg/eigh_lower",
             "jlinalg/svd_raw[c2x4x4]", "jlinalg/qr_raw_wide[c3x3]", "jlinalg/eigh_raw[c3x3]",
             "jlinalg/det_singular", "jlinalg/det_singular_batch")
    cases = {c.name: c for c in all_cases()}
    results = {n: run_case(second_order(cases[n])) for n in names}
    assert all(s == "pass" for s, _ in results.values()), results


@pytest.mark.skipif(FAKE, reason="checks framead's rules")
@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2 ** 31 - 1), deg=st.integers(1, 3))
def test_forward_mode_through_lstsq_with_positional_rcond(seed, deg):
    """np.polyfit calls lstsq(lhs, rhs, rcond) with rcond positional: forward mode works."""
    import framead

    rs = np.random.RandomState(seed)
    x, y = np.linspace(0, 1, 7) + 0.01 * rs.randn(7), rs.randn(7)
    tx, ty = rs.randn(7), rs.randn(7)
    _, t = framead.jvp(lambda x, y: np.polyfit(x, y, deg), (x, y), (tx, ty))
    h = 1e-6
    fd = (np.polyfit(x + h * tx, y + h * ty, deg) - np.polyfit(x - h * tx, y - h * ty, deg)) / (
        2 * h)
    assert np.allclose(t, fd, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(FAKE, reason="checks framead's rules")
@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 4), rank_drop=st.integers(1, 2), cplx=st.booleans(),
       seed=st.integers(0, 2 ** 31 - 1))
def test_det_of_singular_matrices(n, rank_drop, cplx, seed):
    """d det / dA is the transposed adjugate, defined (and finite) at singular matrices."""
    import framead

    rs = np.random.RandomState(seed)
    k = max(n - rank_drop, 0)

    def draw(*s):
        return rs.randn(*s) + (1j * rs.randn(*s) if cplx else 0)

    a = draw(2, n, k) @ draw(2, k, n)
    d, c = draw(2, n, n), draw(2)
    h = 1e-6
    fd = (np.linalg.det(a + h * d) - np.linalg.det(a - h * d)) / (2 * h)
    _, f_vjp = framead.vjp(np.linalg.det, a)
    g = f_vjp(c)[0]
    assert abs(np.real(np.sum(g * d)) - np.real(np.sum(c * fd))) < 1e-5
    _, t = framead.jvp(np.linalg.det, (a,), (d,))
    assert np.allclose(t, fd, atol=1e-6)
