"""Forward mode (framead.jvp, jacfwd), jacrev, hessian and the "forward" engine.

Checked against central finite differences, against framead's reverse mode (jvp . v must equal
grad . v on every program of the gradient corpus) and, where installed, against torch.func.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import ENGINE_NAME

import framead

pytestmark = pytest.mark.skipif(ENGINE_NAME != "framead",
                                reason="forward mode needs the real framead engine")

RNG = np.random.default_rng(1234)


def _fresh(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def _leaves(out):
    if isinstance(out, tuple | list):
        return [x for o in out for x in _leaves(o)]
    return [out]


def fd_jvp(f, args, tangents, h=1e-6):
    """Central difference of f along tangents (None = fixed), leaf by leaf."""
    def at(s):
        a = tuple(x if t is None else (x + s * t if isinstance(x, np.ndarray)
                                       else type(x)(x + s * t))
                  for x, t in zip(_fresh(args), tangents, strict=True))
        return _leaves(f(*a))
    return [(np.asarray(p, dtype=complex if np.iscomplexobj(p) else float) - np.asarray(m))
            / (2 * h) for p, m in zip(at(h), at(-h), strict=True)]


def fd_jac(f, x, h=1e-6):
    """Jacobian of single-output f at x (array or float), shape out + in."""
    y0 = np.asarray(f(_fresh((x,))[0]))
    xs = np.asarray(x, dtype=float)
    J = np.zeros(y0.shape + xs.shape)
    for idx in np.ndindex(xs.shape):
        e = np.zeros(xs.shape)
        e[idx] = h
        if isinstance(x, np.ndarray):
            p, m = f(x + e), f(x - e)
        else:
            p, m = f(x + h), f(x - h)
        J[(Ellipsis,) + idx] = (np.asarray(p) - np.asarray(m)) / (2 * h)
    return J


def _rand_like(x):
    if isinstance(x, np.ndarray):
        t = RNG.standard_normal(x.shape)
        return t + 1j * RNG.standard_normal(x.shape) if x.dtype.kind == "c" else t
    return float(RNG.standard_normal())


# ----------------------------------------------------------------------------- programs

def prealloc_loop(x, w):
    out = np.zeros(len(x))
    for i in range(len(x)):
        out[i] = math.tanh(x[i] * w[i % len(w)]) + x[i] ** 2
    out[1:] += out[:-1] * 0.5
    return out


def overwrite_after_read(x):
    a = x.copy()
    b = np.sin(a) * a
    a *= 3.0               # the value sin and * read is overwritten in place
    a[0] = 2.0
    c = np.cos(a) * b
    a[:] = c[::-1]
    return a * b + c


def scalar_python(x, y):
    s = 0.0
    for k in range(5):
        s = s + math.sin(x * k) * y - math.exp(-y * k) / (1.0 + x * x)
    return s


def linalg_prog(A, b):
    M = A @ A.T + 3.0 * np.eye(A.shape[0])
    z = np.linalg.solve(M, b)
    return z * np.linalg.slogdet(M)[1] + np.tanh(z)


def containers(x):
    parts = [x[0] * x[1], np.sin(x[2]), x[3] ** 3]
    tot = sum(parts)
    arr = np.array([parts[0], tot, parts[2] - tot])
    return np.cumsum(arr) * np.max(x)


def multi_out(x):
    y = np.exp(x)
    return y.sum(), (y * x, np.sqrt(y))


def views_and_transposes(x):
    m = x.reshape(3, 4).copy()
    m.T[1] = m[0, 1:] ** 2
    m[:, ::2] *= m[:, 1::2]
    d = np.diagonal(m)
    return m.ravel() + np.concatenate([d, d, d, d])


def complex_prog(z):
    w = np.exp(1j * z) * z ** 2
    w[1] = w[0] * w[2]
    return w / (1.0 + z)


PROGRAMS = [
    ("prealloc_loop", prealloc_loop,
     (np.array([0.3, -0.2, 0.5, 0.1, -0.4]), np.array([1.1, 0.7, -0.6])), (0, 1)),
    ("overwrite_after_read", overwrite_after_read, (np.array([0.3, -0.2, 0.5, 0.9]),), (0,)),
    ("scalar_python", scalar_python, (0.4, 0.9), (0, 1)),
    ("linalg", linalg_prog, (np.arange(9.0).reshape(3, 3) / 7 - 0.3,
                             np.array([0.2, -0.5, 1.0])), (0, 1)),
    ("containers", containers, (np.array([0.3, -0.2, 0.5, 0.9]),), (0,)),
    ("multi_out", multi_out, (np.array([0.3, -0.2, 0.5]),), (0,)),
    ("views", views_and_transposes, (np.linspace(-1, 1, 12),), (0,)),
    ("complex", complex_prog, (np.array([0.3 + 0.1j, -0.2 + 0.4j, 0.5 - 0.3j]),), (0,)),
]


@pytest.mark.parametrize("name,f,args,nums", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_jvp_matches_central_differences(name, f, args, nums):
    ts = tuple(_rand_like(a) if i in nums else None for i, a in enumerate(args))
    before = [np.copy(a) for a in args]
    out, t = framead.jvp(f, args, ts)
    for a, b in zip(args, before, strict=True):
        np.testing.assert_array_equal(a, b)  # the caller's arrays are untouched
    native = _leaves(f(*_fresh(args)))
    for o, n in zip(_leaves(out), native, strict=True):
        np.testing.assert_array_equal(o, n)  # the primal is bit-identical
    ref = fd_jvp(f, args, ts)
    got = _leaves(t)
    assert len(got) == len(ref)
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name,f,args,nums", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_jvp_agrees_with_reverse_mode(name, f, args, nums):
    """<cotangent, J t> from jvp equals <J^T cotangent, t> from framead.vjp."""
    ts = tuple(_rand_like(a) if i in nums else None for i, a in enumerate(args))
    out, t = framead.jvp(f, args, ts)
    out2, f_vjp = framead.vjp(f, *args, argnums=nums)
    ct_leaves = [_rand_like(np.asarray(o)) if np.ndim(o) else float(RNG.standard_normal())
                 for o in _leaves(out)]
    ct_leaves = [c.real if isinstance(c, np.ndarray) and not np.iscomplexobj(o) else c
                 for c, o in zip(ct_leaves, _leaves(out), strict=True)]
    it = iter(ct_leaves)

    def rebuild(o):
        if isinstance(o, tuple | list):
            return type(o)(rebuild(x) for x in o)
        return next(it)

    cts = f_vjp(rebuild(out2))
    lhs = sum(np.real(np.sum(np.asarray(c) * np.asarray(tt)))
              for c, tt in zip(ct_leaves, _leaves(t), strict=True))
    rhs = sum(np.real(np.sum(np.asarray(c) * np.asarray(ts[i])))
              for c, i in zip(cts, nums, strict=True))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-11)


def _corpus():
    import test_grad_categories as G
    import test_mutation_patterns as M

    items = [pytest.param(fn, args, argnums, id=f"categories-{pid}")
             for pid, fn, args, argnums, _ in G.PROGRAMS]
    for lst in (M.WRITES, M.ALIASES, M.INPUTS):
        for c in lst:
            vals = c.values if hasattr(c, "values") else c
            cid = getattr(c, "id", None) or getattr(vals[0], "__name__", "case")
            items.append(pytest.param(*vals, id=f"mutation-{cid}"))
    return items


@pytest.mark.parametrize("fn,args,argnums", _corpus())
def test_jvp_dot_v_equals_grad_dot_v_on_corpus(fn, args, argnums):
    """Every program of the reverse-mode corpus: jvp(f, x, v) == grad(f)(x) . v."""
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = framead.grad(fn, nums)(*_fresh(args))
    ts = tuple(_rand_like(a) if i in nums else None for i, a in enumerate(args))
    out, t = framead.jvp(fn, _fresh(args), ts)
    exp = sum(np.real(np.sum(np.asarray(gi) * np.asarray(ts[i])))
              for gi, i in zip(g, nums, strict=True))
    np.testing.assert_allclose(float(np.real(t)), exp, rtol=1e-8, atol=1e-10 * (1 + abs(exp)))


# ----------------------------------------------------------------------------- jacobians

@pytest.mark.parametrize("name,f,args,nums", [p for p in PROGRAMS if p[0] not in (
    "multi_out", "complex")], ids=lambda p: p if isinstance(p, str) else "")
def test_jacfwd_equals_jacrev_equals_fd(name, f, args, nums):
    jf = framead.jacfwd(f, nums)(*args)
    jr = framead.jacrev(f, nums)(*args)
    assert isinstance(jf, tuple) and len(jf) == len(nums)
    for i, a, b in zip(nums, jf, jr, strict=True):
        out_shape = np.shape(f(*_fresh(args)))
        assert a.shape == out_shape + np.shape(args[i])
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
        others = list(_fresh(args))

        def fi(xi, i=i, others=others):
            call = list(_fresh(tuple(others)))
            call[i] = xi
            return f(*call)

        np.testing.assert_allclose(a, fd_jac(fi, args[i]), rtol=1e-6, atol=1e-7)


def test_jacobian_layout_like_jax():
    def f(x):
        return np.outer(x, x)[:2] * 2.0

    x = np.array([0.5, -1.0, 2.0])
    jf, jr = framead.jacfwd(f)(x), framead.jacrev(f)(x)
    assert jf.shape == jr.shape == (2, 3, 3)
    ref = np.zeros((2, 3, 3))
    for i in range(2):
        for j in range(3):
            ref[i, j, i] += 2 * x[j]
            ref[i, j, j] += 2 * x[i]
    np.testing.assert_allclose(jf, ref)
    np.testing.assert_allclose(jr, ref)
    # scalar in, scalar out; tuple outputs give a tuple of Jacobians
    assert framead.jacfwd(lambda s: s ** 3)(2.0) == pytest.approx(12.0)
    assert framead.jacrev(lambda s: s ** 3)(2.0) == pytest.approx(12.0)
    a, (b, c) = framead.jacfwd(multi_out)(np.array([0.1, 0.2]))
    a2, (b2, c2) = framead.jacrev(multi_out)(np.array([0.1, 0.2]))
    assert a.shape == (2,) and b.shape == (2, 2) and c.shape == (2, 2)
    for u, v in ((a, a2), (b, b2), (c, c2)):
        np.testing.assert_allclose(u, v, rtol=1e-12)


def test_jacfwd_captures_once():
    calls = []

    def f(x):
        calls.append(1)
        return np.sin(x) * x[::-1]

    framead.jacfwd(f)(np.linspace(0, 1, 7))
    assert len(calls) == 1
    calls.clear()
    framead.jacrev(f)(np.linspace(0, 1, 7))
    assert len(calls) == 1


def test_float32_and_dtypes():
    x = np.array([0.5, 1.5], dtype=np.float32)
    out, t = framead.jvp(lambda x: np.exp(x) * 2, (x,), (np.ones(2, np.float32),))
    assert t.dtype == np.float32
    np.testing.assert_allclose(t, 2 * np.exp(x), rtol=1e-6)


def test_tangent_validation():
    with pytest.raises(ValueError, match="shape"):
        framead.jvp(np.sin, (np.zeros(3),), (np.zeros(2),))
    with pytest.raises(ValueError, match="complex"):
        framead.jvp(np.sin, (np.zeros(3),), (np.zeros(3) * 1j,))
    with pytest.raises(ValueError, match="primals"):
        framead.jvp(np.sin, (np.zeros(3),), ())


def test_integer_argument_is_constant():
    def f(x, n):
        return x ** n

    out, t = framead.jvp(f, (np.array([2.0, 3.0]), 3), (np.ones(2), None))
    np.testing.assert_allclose(t, 3 * np.array([2.0, 3.0]) ** 2)


def test_output_independent_of_input_has_zero_tangent():
    out, t = framead.jvp(lambda x: (np.ones(3), x * 0 + 1.0), (np.zeros(3),), (np.ones(3),))
    np.testing.assert_array_equal(t[0], np.zeros(3))
    np.testing.assert_array_equal(t[1], np.zeros(3))


def test_user_rule_without_jvp_falls_back_to_its_vjp():
    from framead.rules import register, unregister

    def blackbox(x, y):
        return np.sin(x) * y

    register(blackbox, vjp=(lambda g, ans, x, y: g * np.cos(x) * y,
                            lambda g, ans, x, y: g * np.sin(x)),
             saves={0: (0, 1), 1: (0,)})
    try:
        def f(x, y):
            return blackbox(x * 2.0, y) + y

        x, y = np.array([0.1, 0.4, -0.3]), np.array([1.0, 2.0, 3.0])
        tx, ty = _rand_like(x), _rand_like(y)
        _, t = framead.jvp(f, (x, y), (tx, ty))
        np.testing.assert_allclose(t, fd_jvp(f, (x, y), (tx, ty))[0], rtol=1e-6)
    finally:
        unregister(blackbox)


def test_primals_read_only_by_a_jvp_are_protected_from_later_writes():
    """Forward capture keeps every primal (Recorder(save_all=True)): a JVP may read an
    argument its rule's ``saves`` (which describe the VJP) does not list."""
    from framead.rules import register, unregister

    def cube(x):
        return x ** 3

    register(cube, vjp=(lambda g, ans, x: 3 * g * np.cbrt(ans) ** 2,), saves={0: ("ans",)},
             jvp=lambda t, ans, x: 3 * x ** 2 * t[0])
    try:
        def f(x):
            a = x * 1.0
            r = cube(a)
            a[:] = 7.0  # overwrites the x the JVP reads
            return r + a

        _, t = framead.jvp(f, (np.array([1.0, 2.0]),), (np.ones(2),))
        np.testing.assert_allclose(t, [3.0, 12.0])
    finally:
        unregister(cube)


def test_against_torch_func_jvp():
    torch = pytest.importorskip("torch")

    def port(x, w):
        n = x.shape[0]
        out = torch.tanh(x * w[torch.arange(n) % w.shape[0]]) + x ** 2
        return torch.cat([out[:1], out[1:] + out[:-1] * 0.5])

    x = np.array([0.3, -0.2, 0.5, 0.1, -0.4])
    w = np.array([1.1, 0.7, -0.6])
    tx, tw = _rand_like(x), _rand_like(w)
    _, t = framead.jvp(prealloc_loop, (x, w), (tx, tw))
    _, tt = torch.func.jvp(port, (torch.tensor(x), torch.tensor(w)),
                           (torch.tensor(tx), torch.tensor(tw)))
    np.testing.assert_allclose(t, tt.numpy(), rtol=1e-12, atol=1e-14)


def test_hessian_is_forward_over_reverse():
    """hessian = jacfwd(jacrev(f)): the inner reverse pass is recorded by the outer forward
    capture (more in tests/test_higher_order.py)."""
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(framead.hessian(lambda x: np.sum(x ** 3))(x), np.diag(6 * x),
                               rtol=1e-13)


# ----------------------------------------------------------------------------- engine

def test_forward_engine_gradient_matches_default_and_fd():
    from conftest import fd_grad

    def sub(a, s):
        out = np.empty(6)
        for i in range(6):
            out[i] = np.sin(a[0] * i) + s * a[1] ** 2
        return out

    sub_fwd = framead.use("forward")(sub)

    def loss_fwd(x, s):
        return float(np.sum(sub_fwd(x * 2.0, s) ** 2))

    def loss(x, s):
        return float(np.sum(sub(x * 2.0, s) ** 2))

    x, s = np.array([0.3, -0.7]), 1.3
    g1 = framead.grad(loss_fwd, (0, 1))(x, s)
    g0 = framead.grad(loss, (0, 1))(x, s)
    ref = fd_grad(loss, (x, s), (0, 1))
    for a, b, r in zip(g1, g0, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
        np.testing.assert_allclose(a, r, rtol=1e-7)
    # the use("forward") node is one IR node
    t = framead.trace(loss_fwd, x, s)
    assert sum(n.name.startswith("use[forward]") for n in t.nodes) == 1
    # and forward mode through it runs the engine's JVP
    tx = np.array([1.0, 2.0])
    assert framead.jvp(loss_fwd, (x, s), (tx, 0.5))[1] == pytest.approx(
        framead.jvp(loss, (x, s), (tx, 0.5))[1], rel=1e-12)


def test_forward_engine_complex_input():
    def sub(z):
        return np.abs(z * z) ** 2 + np.real(np.exp(z))

    def loss(z):
        return float(np.sum(framead.use("forward")(sub)(z) * np.arange(1, 3)))

    def loss_plain(z):
        return float(np.sum(sub(z) * np.arange(1, 3)))

    z = np.array([0.3 + 0.2j, -0.5 + 0.1j])
    np.testing.assert_allclose(framead.grad(loss)(z), framead.grad(loss_plain)(z),
                               rtol=1e-12)


def test_forward_engine_rejects_unknown_options():
    with pytest.raises(TypeError, match="unknown option"):
        framead.use("forward", step=1e-3)(np.sin)


def test_user_rule_without_jvp_multi_output_falls_back_to_its_vjp():
    from framead.rules import register, unregister

    def pair(x):
        return np.sin(x), float(np.sum(x ** 2))

    def pair_vjp(g, ans, x):
        return (g[0] * np.cos(x) + 2 * g[1] * x,)

    register(pair, vjp=pair_vjp, saves={0: (0,)}, multi=True)
    try:
        def f(x):
            a, b = pair(x * 1.5)
            return a * b

        x = np.array([0.2, -0.3, 0.8])
        t = _rand_like(x)
        np.testing.assert_allclose(framead.jvp(f, (x,), (t,))[1], fd_jvp(f, (x,), (t,))[0],
                                   rtol=1e-6)
    finally:
        unregister(pair)
