"""scipy.linalg calls given ``overwrite_*=True`` on traced arrays (framead/scipy_calls.py):
the arrays end with the native bytes (LAPACK's writes happen), results are identical to the
native run's, and gradients of programs that read the overwritten argument afterwards (the
factors ``lu_factor``/``cholesky``/``inv`` leave there, the solution ``solve`` leaves in
``b``) match central differences; contents with no derivative (``solve``'s LU factors left in
``a``) raise when a gradient reaches them, never a silently wrong one."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import fd_grad

sl = pytest.importorskip("scipy.linalg")
framead = pytest.importorskip("framead")

X = np.array([0.9, 0.3, -0.2, 0.1, 1.1, 0.4, -0.3, 0.2, 0.8, 0.5, -0.7, 0.25, 0.6, -0.1, 0.3])
EYE = np.eye(3)


def _spd(x):
    m = x[:9].reshape(3, 3)
    return m @ m.T + 3.0 * EYE


def _band(x):  # (l, u) = (1, 1) storage of a diagonally dominant tridiagonal matrix
    m = x[:9].reshape(3, 3)
    return m * np.array([[0.0], [1.0], [0.0]]) + m * np.array([[1.0], [0.0], [1.0]]) * 0.3 + \
        np.array([[0.0], [4.0], [0.0]])


# name: (matrix builder, call(A, b) -> result, arguments LAPACK may leave scratch in)
CALLS = {
    "lu_factor": (_spd, lambda a, b: sl.lu_factor(a, overwrite_a=True), ()),
    "solve_a": (_spd, lambda a, b: sl.solve(a, b, overwrite_a=True), ("a",)),
    "solve_b": (_spd, lambda a, b: sl.solve(a, b, overwrite_b=True), ()),
    "solve_ab": (_spd, lambda a, b: sl.solve(a, b, overwrite_a=True, overwrite_b=True), ("a",)),
    "solve_pos_b": (_spd, lambda a, b: sl.solve(a, b, overwrite_b=True, assume_a="pos"), ()),
    "solve_pos_a": (_spd, lambda a, b: sl.solve(a, b, overwrite_a=True, assume_a="pos"),
                    ("a",)),
    "solve_triangular": (lambda x: np.triu(_spd(x)),
                         lambda a, b: sl.solve_triangular(a, b, overwrite_b=True), ()),
    "solve_triangular_low": (lambda x: np.tril(_spd(x)), lambda a, b: sl.solve_triangular(
        a, b, lower=True, trans=1, overwrite_b=True), ()),
    "inv": (_spd, lambda a, b: sl.inv(a, overwrite_a=True), ()),
    "det": (_spd, lambda a, b: sl.det(a, overwrite_a=True), ("a",)),
    "cho_factor": (_spd, lambda a, b: sl.cho_factor(a, overwrite_a=True), ()),
    "cho_factor_low": (_spd, lambda a, b: sl.cho_factor(a, lower=True, overwrite_a=True), ()),
    "cholesky": (_spd, lambda a, b: sl.cholesky(a, overwrite_a=True), ()),
    "cho_solve": (_spd, lambda a, b: sl.cho_solve(sl.cho_factor(a), b, overwrite_b=True), ()),
    "lu_solve": (_spd, lambda a, b: sl.lu_solve(sl.lu_factor(a), b, overwrite_b=True), ()),
    "lu_solve_pos": (_spd, lambda a, b: sl.lu_solve(sl.lu_factor(a), b, overwrite_b=True), ()),
    "solve_banded_b": (_band, lambda a, b: sl.solve_banded((1, 1), a, b, overwrite_b=True), ()),
    "solve_banded_ab": (_band, lambda a, b: sl.solve_banded(
        (1, 1), a, b, overwrite_ab=True, overwrite_b=True), ("a",)),
}
REAL_ONLY = {"cho_factor", "cho_factor_low", "cho_solve"}  # (their rules)


def _laid_out(a, order):
    """A copy in "C" or "F" order, or ("S") a strided view (f2py copies: nothing written)."""
    return np.stack([a, a], axis=-1)[..., 0] if order == "S" else np.array(a, order=order)


def _program(name, order, dtype, bshape, read_args=True, stash=None):
    build, call, _ = CALLS[name]

    def f(x):
        a = _laid_out(build(x).astype(dtype), order)
        b = _laid_out(x[9:9 + int(np.prod(bshape))].reshape(bshape).astype(dtype), order)
        r = call(a, b)
        leaves = [v for v in (r if isinstance(r, tuple) else (r,)) if not isinstance(v, bool)]
        if stash is not None:
            stash.extend([np.array(a), np.array(b)] + [np.array(v) for v in leaves])
        w = np.linspace(0.5, 1.5, 9).reshape(3, 3)
        total = sum(np.sum(np.real(v) * np.linspace(0.3, 1.1, np.size(v)).reshape(np.shape(v)))
                    for v in leaves if np.asarray(v).dtype.kind in "fc")
        if read_args:
            total = total + np.sum(np.real(a) * w) + np.sum(np.real(b)) * 0.7
        return float(total)
    return f


ORDERS = ("F", "C", "S")
DTYPES = (np.float64, np.float32, np.complex128)
BSHAPES = ((3,), (3, 2))


@pytest.mark.parametrize("bshape", BSHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("name", sorted(CALLS))
def test_values_and_arguments_identical_to_native(name, order, dtype, bshape):
    if np.dtype(dtype).kind == "c" and name in REAL_ONLY:
        dtype = np.float64
    native, traced = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = _program(name, order, dtype, bshape, stash=native)(X.copy())
        got = framead.trace(_program(name, order, dtype, bshape, stash=traced), X.copy())
    assert got.value == want
    assert len(native) == len(traced)
    for n, t in zip(native, traced, strict=True):
        assert n.dtype == t.dtype and np.array_equal(n, t), (n, t)


def _clean(name, order, bshape, read_args):
    """A float64 program whose gradient must match differences: no scratch read."""
    return not (read_args and CALLS[name][2])


@pytest.mark.parametrize("read_args", (True, False))
@pytest.mark.parametrize("bshape", BSHAPES)
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("name", sorted(CALLS))
def test_gradients_match_differences(name, order, bshape, read_args):
    f = _program(name, order, np.float64, bshape, read_args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = fd_grad(f, X.copy(), step=1e-6)
        if not _clean(name, order, bshape, read_args) and _scratch_written(name, order, bshape):
            with pytest.raises(Exception, match="has no derivative"):
                framead.grad(f)(X.copy())
            return
        t = framead.trace(f, X.copy())
        g = framead.grad(f)(X.copy())
    assert not t.hazards, [str(h) for h in t.hazards]
    np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-7)


def _scratch_written(name, order, bshape) -> bool:
    """Whether this SciPy writes LAPACK's scratch into the matrix for this layout."""
    build, call, _ = CALLS[name]
    a = _laid_out(build(X), order)
    b = _laid_out(X[9:9 + int(np.prod(bshape))].reshape(bshape), order)
    old = a.copy()
    call(a, b)
    return not np.array_equal(a, old)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("name", sorted(CALLS))
def test_cached_replays_reproduce_the_writes(name, order):
    """Through ``cache=True``: the arguments after the call (aux) hold the native bytes at
    every point, and the gradient of the results matches differences."""
    loss = _program(name, order, np.float64, (3, 2), read_args=False)

    def f(x):
        stash: list = []
        return _program(name, order, np.float64, (3, 2), False, stash)(x), stash[:2]

    vg = framead.value_and_grad(f, has_aux=True, cache=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for x in (X, X * 1.01, X * 0.99, X * 1.02):
            (value, aux), g = vg(x.copy())
            want, native = f(x.copy())
            assert value == want
            for n, t in zip(native, aux, strict=True):
                assert np.array_equal(n, t), (n, t)
            np.testing.assert_allclose(g, fd_grad(loss, x.copy(), step=1e-6), rtol=1e-6,
                                       atol=1e-7)
    assert vg.stats["hits"] >= 2, vg.stats


def test_corpus_example():
    def f(x):
        a = np.asfortranarray(x.reshape(3, 3) * 1.0)
        sl.lu_factor(a, overwrite_a=True)
        return float(a.sum())

    x = np.array([4, 1, 0.5, 0.3, 3, 0.2, 0.1, 0.4, 5])
    assert framead.trace(f, x).value == f(x.copy())
    np.testing.assert_allclose(framead.grad(f)(x), fd_grad(f, x, step=1e-6), rtol=1e-6)


def test_scratch_tangent_is_nan():
    f = _program("solve_a", "F", np.float64, (3,))
    _, t = framead.jvp(lambda x: f(x), (X,), (np.ones_like(X),))
    assert np.isnan(t)


def _read_only(a):
    v = a.view()
    v.flags.writeable = False
    return v


def _strided(a):  # (not contiguous: f2py copies it, and factors the copy in place)
    return np.stack([a, a], axis=2)[:, :, 0]


@pytest.mark.parametrize("view", (_read_only, _strided))
@pytest.mark.parametrize("order", ("F", "C"))
@pytest.mark.parametrize("lower", (False, True))
def test_views_given_to_cho_factor(view, order, lower):
    """f2py writes into a read-only array (SciPy's cho_factor returns it), and factors the
    copy it makes of a strided one in place (SciPy 1.18 then keeps the input's other
    triangle): values, the matrix afterwards, gradients and cached replays as natively."""
    def run(x, stash):
        a = np.array(_spd(x), order=order)
        c, _ = sl.cho_factor(view(a), lower=lower, overwrite_a=True)
        stash.extend([np.array(a), np.array(c)])
        # (a read by elements: a replay's write through a view leaves it C-ordered, where a
        # reduction would round differently: framead's replay, not this call)
        return float(np.sum(c * np.linspace(0.5, 1.5, 9).reshape(3, 3))
                     + (a[0, 2] + a[2, 0] - a[1, 1]) * 0.3)

    def f(x):
        return run(x, [])

    native, traced = [], []
    assert framead.trace(lambda x: run(x, traced), X.copy()).value == run(X.copy(), native)
    for n, t in zip(native, traced, strict=True):
        assert np.array_equal(n, t)
    np.testing.assert_allclose(framead.grad(f)(X.copy()), fd_grad(f, X.copy(), step=1e-6),
                               rtol=1e-6, atol=1e-7)
    vg = framead.value_and_grad(f, cache=True)
    for x in (X, X * 1.01, X * 0.99, X * 1.02):
        assert vg(x.copy())[0] == f(x.copy())
    assert vg.stats["hits"] >= 2, vg.stats


def test_a_factorization_that_raises_after_writing_is_reported():
    """cho_factor of a matrix that is not positive definite writes part of its factor into
    ``a`` before SciPy raises: a program that catches the error and reads ``a`` gets the
    native bytes, and the read is reported (FA104), never silently differentiated."""
    def f(x):
        a = np.asfortranarray(x[:9].reshape(3, 3) - 2.0 * EYE)
        a[0, 0] = 4.0
        try:
            sl.cho_factor(a, overwrite_a=True)
        except np.linalg.LinAlgError:
            pass
        return float(a.sum())

    t = framead.trace(f, X.copy())
    assert t.value == f(X.copy())
    assert "FA104" in [h.code for h in t.hazards]


def test_scratch_in_a_constant_matrix_is_a_constant():
    """solve(a, b, overwrite_a=True) with a constant ``a`` and a traced ``b``: the LU
    factors left in ``a`` are constants (they depend on ``a`` only): reading them is fine."""
    a0 = _spd(X)

    def f(b):
        a = np.array(a0, order="F")
        x = sl.solve(a, b, overwrite_a=True)
        return float(np.sum(x * np.arange(1.0, 4.0)) + np.sum(a) * np.sum(b))

    b = X[9:12].copy()
    t = framead.trace(f, b)
    assert t.value == f(b.copy()) and not t.hazards
    np.testing.assert_allclose(framead.grad(f)(b), fd_grad(f, b, step=1e-6), rtol=1e-6)
