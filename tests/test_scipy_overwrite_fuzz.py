"""Fuzzer over scipy.linalg's ``overwrite_*`` flags (framead/scipy_calls.py and the rules'
refusals): the function, the flags' values (absent, False, True; by keyword or by position),
the arrays' layouts (C, F or strided; float64, float32 or complex128), a temporary argument
or a named one, and whether the program reads the (maybe overwritten) arguments afterwards
(nonlinearly: the reverse pass saves what it reads, as it saves the results).

Checked against the native run and central differences in float64: the value, the arguments
after the call and the results are the native bytes; with no hazard the gradient matches
differences (a float32 program: the float64 twin's, looser); with a hazard it is reported at
a line of this file and names the function, and ``strict=True`` raises ``GradientHazard``
exactly then; no exception but the native one, except the documented one for a program that
reads the scratch LAPACK leaves in an argument (``solve``'s LU factors in ``a``): its gradient
raises "has no derivative" (never a silently wrong one)."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
from conftest import fd_grad

sl = pytest.importorskip("scipy.linalg")
framead = pytest.importorskip("framead")
hyp = pytest.importorskip("hypothesis")
st = hyp.strategies

X = np.array([0.9, 0.3, -0.2, 0.1, 1.1, 0.4, -0.3, 0.2, 0.8, 0.5, -0.7, 0.25, 0.6, -0.1, 0.3,
              0.45, -0.35, 0.7, 0.15, -0.55, 0.65, 0.05, -0.4, 0.35, 0.95, -0.15, 0.55, 0.2])
A_, B_ = "a", "b"  # (the array arguments in a signature)


def _m(x, dtype, rows=3):
    m = x[:3 * rows].reshape(rows, 3)
    return m + 0.4j * x[9:9 + 3 * rows].reshape(rows, 3)[::-1] if dtype.kind == "c" else m


def _spd(x, dtype):
    m = _m(x, dtype)
    return m @ m.conj().T + 3.0 * np.eye(3)


def _gen(x, dtype):
    return _m(x, dtype) + 3.0 * np.eye(3)


def _rect(x, dtype):
    return _m(x, dtype, 4) + np.eye(4, 3) * 2.0


def _band(x, dtype):  # (l, u) = (1, 1) storage of a diagonally dominant tridiagonal matrix
    return _m(x, dtype) * np.array([[0.3], [1.0], [0.3]]) + np.array([[0.0], [4.0], [0.0]])


def _factor(make):
    return lambda x, dtype: make(_spd(x, dtype))


# name: (function, signature: the array arguments and (name, default) pairs in order, the
#        matrix builder, rows of b (0: none), whether results are symmetric in their order,
#        the arguments LAPACK may leave scratch in)
CASES = {
    "solve": (sl.solve, [A_, B_, ("lower", False), ("overwrite_a", False),
                         ("overwrite_b", False)], _spd, 3, False, {"overwrite_a"}),
    "solve_gen": (lambda a, b, lower=False, overwrite_a=False, overwrite_b=False: sl.solve(
        a, b, lower, overwrite_a, overwrite_b, assume_a="gen"), [A_, B_, ("lower", False),
        ("overwrite_a", False), ("overwrite_b", False)], _gen, 3, False, {"overwrite_a"}),
    "solve_triangular": (sl.solve_triangular, [A_, B_, ("trans", 0), ("lower", False),
                         ("unit_diagonal", False), ("overwrite_b", False)],
                         lambda x, d: np.triu(_spd(x, d)), 3, False, set()),
    "cho_solve": (sl.cho_solve, [A_, B_, ("overwrite_b", False)],
                  _factor(sl.cho_factor), 3, False, set()),
    "lu_solve": (sl.lu_solve, [A_, B_, ("trans", 0), ("overwrite_b", False)],
                 _factor(sl.lu_factor), 3, False, set()),
    "lu_factor": (sl.lu_factor, [A_, ("overwrite_a", False)], _gen, 0, False, set()),
    "cho_factor": (sl.cho_factor, [A_, ("lower", False), ("overwrite_a", False)], _spd, 0,
                   False, set()),
    "inv": (sl.inv, [A_, ("overwrite_a", False)], _gen, 0, False, set()),
    "det": (sl.det, [A_, ("overwrite_a", False)], _gen, 0, False, {"overwrite_a"}),
    "cholesky": (sl.cholesky, [A_, ("lower", False), ("overwrite_a", False)], _spd, 0, False,
                 set()),
    "solve_banded": (lambda ab, b, overwrite_ab=False, overwrite_b=False: sl.solve_banded(
        (1, 1), ab, b, overwrite_ab, overwrite_b), [A_, B_, ("overwrite_ab", False),
        ("overwrite_b", False)], _band, 3, False, {"overwrite_ab"}),
    "lu": (sl.lu, [A_, ("permute_l", False), ("overwrite_a", False)], _gen, 0, False, set()),
    "qr": (sl.qr, [A_, ("overwrite_a", False)], _rect, 0, False, set()),
    "lstsq": (sl.lstsq, [A_, B_, ("cond", None), ("overwrite_a", False),
                         ("overwrite_b", False)], _rect, 4, False, set()),
    "eigvals": (sl.eigvals, [A_, ("b", None), ("overwrite_a", False)], _gen, 0, True, set()),
    "eigh": (sl.eigh, [A_, ("b", None), ("lower", True), ("eigvals_only", False),
                       ("overwrite_a", False)], _spd, 0, False, set()),
    "eigvalsh": (sl.eigvalsh, [A_, ("b", None), ("lower", True), ("overwrite_a", False)], _spd,
                 0, False, set()),
    "svd": (sl.svd, [A_, ("full_matrices", False), ("compute_uv", True),
                     ("overwrite_a", False)], _rect, 0, False, set()),
    "svdvals": (sl.svdvals, [A_, ("overwrite_a", False)], _rect, 0, False, set()),
}
ABSENT = object()


def _laid_out(a, order):
    """A copy in "C" or "F" order, or ("S") a strided view (f2py copies: nothing written)."""
    if isinstance(a, tuple):  # (cho_factor's (c, lower), lu_factor's (lu, piv))
        return (_laid_out(a[0], order), a[1])
    return np.stack([a, a], axis=-1)[..., 0] if order == "S" else np.array(a, order=order)


def _call(fn, arrays, flags, positional):
    """``fn`` given its arrays and flags (``ABSENT``: left out) by keyword or by position
    (every parameter before the last flag given then, at its default)."""
    sig = CASES[fn][1]
    args, kw = [], {}
    named = [p for p in sig if p not in (A_, B_)]
    last = max((i for i, (n, _) in enumerate(named) if flags.get(n, ABSENT) is not ABSENT),
               default=-1)
    for p in sig:
        if p in (A_, B_):
            args.append(arrays[p])
            continue
        n, default = p
        v = flags.get(n, ABSENT)
        if positional and named.index(p) <= last:
            args.append(default if v is ABSENT else v)
        elif v is not ABSENT:
            kw[n] = v
    f = CASES[fn][0]
    return f(*args, **kw)  # the call


CALL_LINES = {next(i for i, s in enumerate(*inspect.getsourcelines(_call)) if "# the call" in s)}
CALL_LINES |= {c[0].__code__.co_firstlineno + k for c in CASES.values()  # (the wrappers')
               if c[0].__name__ == "<lambda>" for k in range(3)}
CALL_LINES.add(_factor(None).__code__.co_firstlineno)  # (the factor cho_solve is given)


def _square(v, reader):
    """``|v|**2`` elementwise (sign- and phase-invariant: eigenvectors' columns), read three
    ways: through ``.real``/``.imag`` views, by ``v * conj(v)``, or (real) ``v ** 2``, where a
    node saves ``v`` itself."""
    if reader == 0:
        return np.real(v) ** 2 + np.imag(v) ** 2
    return v ** 2 if reader == 2 and v.dtype.kind == "f" else np.real(v * np.conj(v))


def _reduce(v, uniform, reader):
    """A nonlinear scalar of a result, invariant as ``_square``."""
    v = np.asarray(v)
    if v.dtype.kind not in "fc":
        return 0.0
    sq = _square(v, reader)
    w = 1.0 if uniform else np.linspace(0.3, 1.1, sq.size).reshape(sq.shape)
    return float(np.sum(w * sq))


def program(cfg, dtype, stash=None):
    fn, orders, flags, positional, temp, read_after, reader, const, vec = cfg
    _, sig, build, brows, uniform, _ = CASES[fn]
    dt = np.dtype(dtype)

    def f(x):
        a = build(X if const == A_ else x, dt)  # (a constant matrix, or a constant b)
        a = tuple(p.astype(dt) if isinstance(p, np.ndarray) and p.dtype.kind in "fc" else p
                  for p in a) if isinstance(a, tuple) else a.astype(dt)
        a = _laid_out(a, orders[0])
        arrays = {A_: a}
        if brows:
            b = (X if const == B_ else x)[-2 * brows:].reshape(brows, 2)
            b = b[:, 0] if vec else b
            b = (b + 0.3j * b[::-1]) if dt.kind == "c" else b
            arrays[B_] = b = _laid_out(b.astype(dt), orders[1])
        given = {k: _laid_out(v, orders[i]) if temp else v
                 for i, (k, v) in enumerate(arrays.items())}
        r = _call(fn, given, flags, positional)
        leaves = list(r) if isinstance(r, tuple) else [r]
        total = sum(_reduce(v, uniform, reader) for v in leaves)
        if stash is not None:
            stash.extend(np.array(v, copy=True) for v in (
                *(p for v in arrays.values() for p in (v if isinstance(v, tuple) else (v,))),
                *leaves))
        if read_after:
            for v in arrays.values():
                v = v[0] if isinstance(v, tuple) else v
                total += 0.1 * float(np.sum(np.sin(np.real(v)) + _square(v, reader)))
        return total
    return f


def _flags_of(fn):
    return [p[0] for p in CASES[fn][1] if p not in (A_, B_) and p[0].startswith("overwrite_")]


@st.composite
def configs(draw):
    fn = draw(st.sampled_from(sorted(CASES)))
    flags = {n: draw(st.sampled_from((ABSENT, False, True))) for n in _flags_of(fn)}
    if not any(v is True for v in flags.values()):
        flags[draw(st.sampled_from(_flags_of(fn)))] = True  # (at least one on)
    orders = (draw(st.sampled_from("CFS")), draw(st.sampled_from("CFS")))
    dtype = draw(st.sampled_from((np.float64, np.float32, np.complex128)))
    return (fn, orders, flags, draw(st.booleans()), draw(st.booleans()),
            draw(st.booleans()), draw(st.sampled_from((0, 1, 2))),
            draw(st.sampled_from((None, A_, B_) if CASES[fn][3] else (None,))),
            draw(st.booleans())), dtype


def _reads_scratch(cfg) -> bool:
    fn, orders, flags, positional, temp, read_after = cfg[:6]
    return read_after and not temp and any(flags.get(n) is True for n in CASES[fn][5])


def _quiet(g, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return g(*a, **k)


def check(cfg, dtype):
    x = X.copy()
    native_stash, traced_stash = [], []
    try:
        want = _quiet(program(cfg, dtype, native_stash), x.copy())
    except Exception as e:  # noqa: BLE001 - the native exception, which capture must keep
        with pytest.raises(type(e)):
            _quiet(framead.trace, program(cfg, dtype), x.copy())
        return
    t = _quiet(framead.trace, program(cfg, dtype, traced_stash), x.copy())
    assert t.value == want, (t.value, want)
    assert len(native_stash) == len(traced_stash)
    for n, m in zip(native_stash, traced_stash, strict=True):
        assert n.dtype == m.dtype and np.array_equal(n, m, equal_nan=True), (n, m)
    f = program(cfg, dtype)
    if t.hazards:
        for h in t.hazards:  # (at the call; in SciPy's code under it: a function with no
            # rule, its LAPACK call refused; or at a read after the call)
            at = [(h.loc.file, h.loc.line), *((s[0], s[1]) for s in h.loc.stack)]
            assert any(f == __file__ and (n in CALL_LINES or cfg[5]) for f, n in at), str(h)
        with pytest.raises(framead.GradientHazard):
            _quiet(framead.grad(f, strict=True), x.copy())
        try:
            g = _quiet(framead.grad(f), x.copy())
        except NotImplementedError:
            return
        if _close(g, cfg, dtype, x):  # (the gradient is right: the hazard must say why)
            name = cfg[0].removesuffix("_gen")
            assert any(name in str(h) or "overwrite" in str(h) for h in t.hazards), \
                [str(h) for h in t.hazards]
        return
    try:
        g = _quiet(framead.grad(f, strict=True), x.copy())  # (no hazard: strict runs)
    except NotImplementedError as e:
        assert _reads_scratch(cfg) and "has no derivative" in str(e), e
        return
    assert _close(g, cfg, dtype, x), (g, _fd(cfg, dtype, x))


def _fd(cfg, dtype, x):
    """Central differences in float64 (of a float32 program: of its float64 twin)."""
    ref = program(cfg, np.float64 if np.dtype(dtype) == np.float32 else dtype)
    return _quiet(fd_grad, ref, x.copy(), step=1e-6)


def _close(g, cfg, dtype, x) -> bool:
    want = _fd(cfg, dtype, x)
    tol = 2e-3 if np.dtype(dtype) == np.float32 else 1e-4
    return bool(np.allclose(g, want, rtol=tol, atol=tol * np.max(np.abs(want))))


@hyp.settings(max_examples=150, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(hyp.HealthCheck))
@hyp.given(configs())
def test_overwrite_flags_fuzz(case):
    check(*case)


def test_lstsq_overwrite_a_scipy_118():
    """SciPy >= 1.18's lstsq (``_batched_linalg._lstsq``) given ``overwrite_a=True`` and read
    afterwards: traced into, its reverse pass raised "assignment destination is read-only"
    in view_update's VJP; lstsq's rule (rules/scipy_decomp_rules.py) now refuses the flag,
    so the call runs natively and is reported (FA101), as svd's and eigh's."""
    check(("lstsq", ("F", "C"), {"overwrite_a": True}, False, False, True, 0, None, False),
          np.float64)


def test_issue_solve_overwrite_b_result_read_nonlinearly():
    """The report: solve(A, b, overwrite_b=True) returns a view of ``b`` holding ``x``; a
    node that saved it (``** 2``) met a freed primal (an internal error)."""
    rng = np.random.default_rng(0)
    a0 = rng.normal(size=(4, 4))
    a0 = a0 @ a0.T + 4 * np.eye(4)

    def f(a):
        return float(np.sum(sl.solve(a0, a[:, :2].copy(order="F"), overwrite_b=True) ** 2))

    np.testing.assert_allclose(framead.grad(f)(a0), fd_grad(f, a0.copy(), step=1e-6),
                               rtol=1e-6, atol=1e-9)
    vg = framead.value_and_grad(f, cache=True)
    for s in (1.0, 1.01, 0.99, 1.02):
        value, g = vg(a0 * s)
        assert value == f(a0 * s)
        np.testing.assert_allclose(g, fd_grad(f, a0 * s, step=1e-6), rtol=1e-6, atol=1e-9)
    assert vg.stats["hits"] >= 2, vg.stats
