"""framead.vmap: JAX's in_axes/out_axes semantics, by running f once per example.

Every result is checked against an independent reference: the per-example Python loop
(stacked by hand), central finite differences in float64, or analytic derivatives.
"""

from __future__ import annotations

import copy
import doctest
import warnings
from typing import Any, NamedTuple

import numpy as np
import pytest
from conftest import fd_grad as _fd_grad
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framead
import framead.batching

N = 64  # examples in the legacy-loss tests


# --- references ----------------------------------------------------------------------------------

def loop_map(f, xs: list[Any]) -> np.ndarray:
    """The per-example Python loop, stacked by hand."""
    return np.stack([np.asarray(f(x)) for x in xs])


def fd_grad(f, x):
    """Central differences in float64 (conftest's Richardson stencil), element by element."""
    return _fd_grad(f, (np.asarray(x, dtype=np.float64),), 0, step=1e-5)


def legacy_loss(w, x, y):
    """Per-example legacy code: a loop, a branch on a value, in-place writes into its own
    argument and into a scratch array."""
    h = np.zeros(len(w))
    for i in range(len(w)):
        if x[i] > 0:  # branch on the value
            h[i] = w[i] * x[i]
        else:
            h[i] = 0.5 * w[i] * x[i] ** 2
    x *= 2.0  # in-place write into the argument (the example's own copy)
    x[0] = -1.0
    s = 0.0
    for i in range(len(h)):
        s += (h[i] - y) ** 2 + 0.01 * x[i] * w[i]
    return s


def legacy_loss_w_grad(w, x, y):
    """Analytic d legacy_loss / d w."""
    a = np.where(x > 0, x, 0.5 * x ** 2)
    h = w * a
    x2 = 2.0 * x
    x2[0] = -1.0
    return 2 * (h - y) * a + 0.01 * x2


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    w = rng.normal(size=5)
    X = rng.normal(size=(N, 5))
    X[np.abs(X) < 0.05] = 0.3  # away from the branch's kink
    Y = rng.normal(size=N)
    return w, X, Y


# --- the general path ------------------------------------------------------------------------

def test_vmap_of_legacy_loss_equals_loop(data):
    w, X, Y = data
    X0 = X.copy()
    got = framead.vmap(legacy_loss, in_axes=(None, 0, 0))(w, X, Y)
    want = loop_map(lambda b: legacy_loss(w.copy(), X0[b].copy(), Y[b]), range(N))
    assert got.shape == (N,) and got.dtype == np.float64
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(X, X0)  # the caller's array is untouched


def test_vmap_grad_equals_per_example_grads(data):
    w, X, Y = data
    w0, X0, Y0 = w.copy(), X.copy(), Y.copy()
    got = framead.vmap(framead.grad(legacy_loss), in_axes=(None, 0, 0))(w, X, Y)
    g = framead.grad(legacy_loss)
    want = loop_map(lambda b: g(w.copy(), X0[b].copy(), Y0[b]), range(N))
    np.testing.assert_array_equal(got, want)
    analytic = loop_map(lambda b: legacy_loss_w_grad(w0, X0[b], Y0[b]), range(N))
    np.testing.assert_allclose(got, analytic, rtol=1e-12, atol=1e-12)
    for b in (0, 17, 63):
        fd = fd_grad(lambda v, b=b: legacy_loss(v, X0[b].copy(), Y0[b]), w0)
        np.testing.assert_allclose(got[b], fd, rtol=1e-6, atol=1e-8)
    for a, a0 in ((w, w0), (X, X0), (Y, Y0)):
        np.testing.assert_array_equal(a, a0)


def test_vmap_value_and_grad_per_example(data):
    w, X, Y = data
    vals, grads = framead.vmap(framead.value_and_grad(legacy_loss),
                               in_axes=(None, 0, 0))(w, X, Y)
    want_v = loop_map(lambda b: legacy_loss(w.copy(), X[b].copy(), Y[b]), range(N))
    want_g = loop_map(lambda b: legacy_loss_w_grad(w, X[b], Y[b]), range(N))
    np.testing.assert_array_equal(vals, want_v)
    np.testing.assert_allclose(grads, want_g, rtol=1e-12, atol=1e-12)


def test_per_example_grad_wrt_mapped_argument(data):
    w, X, Y = data
    got = framead.vmap(framead.grad(legacy_loss, 1), in_axes=(None, 0, 0))(w, X, Y)
    for b in (0, 31, 63):
        fd = fd_grad(lambda x, b=b: legacy_loss(w, x.copy(), Y[b]), X[b])
        np.testing.assert_allclose(got[b], fd, rtol=1e-6, atol=1e-8)


def test_in_place_writes_do_not_leak_between_examples_or_to_the_caller():
    def f(w, x):
        w += x  # writes into the broadcast argument
        x[...] = 0.0  # and into the example
        return w.sum()

    w, X = np.ones(3), np.arange(12.0).reshape(4, 3)
    w0, X0 = w.copy(), X.copy()
    got = framead.vmap(f, in_axes=(None, 0))(w, X)
    np.testing.assert_array_equal(got, [3 + X0[b].sum() for b in range(4)])
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(X, X0)


def test_container_mutation_does_not_leak():
    def f(cfg, x):
        cfg["seen"].append(1)
        return x * len(cfg["seen"])

    cfg = {"seen": []}
    got = framead.vmap(f, in_axes=(None, 0))(cfg, np.arange(3.0))
    np.testing.assert_array_equal(got, [0.0, 1.0, 2.0])
    assert cfg == {"seen": []}


def test_one_object_given_twice_stays_one_object():
    seen = []

    def f(a, b, c, d):
        seen.append((a is b, c is d))
        return a.sum()

    X, w = np.ones((2, 3)), np.ones(3)
    framead.vmap(f, in_axes=(0, 0, None, None))(X, X, w, w)
    assert seen == [(True, True), (True, True)]


def test_one_array_mapped_along_two_axes():
    A = np.arange(9.0).reshape(3, 3)
    got = framead.vmap(lambda r, c: r @ c, in_axes=(0, 1))(A, A)
    np.testing.assert_array_equal(got, [A[b] @ A[:, b] for b in range(3)])


# --- in_axes ---------------------------------------------------------------------------------

def f3(a, b, c):
    return np.sin(a) * b.sum() + c


@pytest.mark.parametrize("in_axes", [(0, 0, None), (1, 0, None), (-1, -2, None),
                                     [0, 1, None], (None, 0, 0)])
def test_in_axes_variants_equal_loop(in_axes):
    rng = np.random.default_rng(1)
    shapes = {0: (4, 3), 1: (3, 4), -1: (3, 4), -2: (4, 2)}
    args = []
    for k, ax in enumerate(in_axes):
        if ax is None:
            args.append(rng.normal(size=3) if k == 0 else (rng.normal(size=(2,)) if k == 1
                                                           else 0.5))
        else:
            shape = shapes[ax] if k < 2 else (4,)
            if k == 1 and ax == 0:
                shape = (4, 2)
            if k == 0 and ax == 0:
                shape = (4, 3)
            args.append(rng.normal(size=shape))
    got = framead.vmap(f3, in_axes=in_axes)(*args)

    def example(b):
        return [a if ax is None else np.take(a, b, axis=ax) for a, ax in
                zip(args, in_axes, strict=True)]

    want = loop_map(lambda b: f3(*example(b)), range(4))
    np.testing.assert_allclose(got, want, rtol=1e-15)


def test_single_int_in_axes_maps_every_argument():
    A, B = np.arange(6.0).reshape(2, 3), np.arange(6.0, 12.0).reshape(3, 2)
    got = framead.vmap(lambda a, b: a @ b, in_axes=1)(A, B.T)
    np.testing.assert_array_equal(got, [A[:, k] @ B[k, :] for k in range(3)])


def test_dict_prefix_over_pytree_argument():
    rng = np.random.default_rng(2)
    params = {"w": rng.normal(size=(3, 5)), "b": rng.normal(size=5)}  # w per example on axis 1
    X = rng.normal(size=(5, 3))

    def f(p, x):
        return float(np.dot(p["w"], x) + p["b"])

    got = framead.vmap(f, in_axes=({"w": 1, "b": 0}, 0))(params, X)
    want = [f({"w": params["w"][:, k], "b": params["b"][k]}, X[k]) for k in range(5)]
    np.testing.assert_allclose(got, want, rtol=1e-15)
    # None for a subtree broadcasts it; the keys' order does not matter
    got = framead.vmap(f, in_axes=({"b": None, "w": None}, 0))({"w": np.ones(3), "b": 2.0}, X)
    np.testing.assert_allclose(got, X.sum(axis=1) + 2.0, rtol=1e-15)


class Layer(NamedTuple):
    W: np.ndarray
    b: np.ndarray


def test_nested_prefix_and_int_at_a_node():
    rng = np.random.default_rng(3)
    layers = [Layer(rng.normal(size=(4, 2, 2)), rng.normal(size=(4, 2))) for _ in range(2)]
    x = rng.normal(size=2)

    def f(ls, x):
        for layer in ls:
            x = np.tanh(layer.W @ x + layer.b)
        return x

    got = framead.vmap(f, in_axes=(0, None))(layers, x)  # an int at the list maps every leaf
    want = loop_map(lambda k: f([Layer(l.W[k], l.b[k]) for l in layers], x), range(4))
    np.testing.assert_allclose(got, want, rtol=1e-15)
    got2 = framead.vmap(f, in_axes=([Layer(0, 0), 0], None))(layers, x)
    np.testing.assert_array_equal(got2, got)


def test_keyword_arguments_are_mapped_along_axis_0():
    got = framead.vmap(lambda a, *, scale: a * scale, in_axes=None)(
        np.ones(2), scale=np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(got, [[1, 1], [2, 2], [3, 3]])


def test_axis_size_with_nothing_mapped():
    got = framead.vmap(lambda a: a * 2, in_axes=None, axis_size=3)(np.arange(2.0))
    np.testing.assert_array_equal(got, [[0, 2]] * 3)


def test_pytree_grad_per_example():
    rng = np.random.default_rng(4)
    params = {"w": rng.normal(size=3), "b": 0.3}
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=6)

    def loss(p, x, y):
        return float((np.dot(p["w"], x) + p["b"] - y) ** 2)

    try:
        g = framead.vmap(framead.grad(loss), in_axes=(None, 0, 0))(params, X, Y)
    except framead.InputTypeError as e:  # pragma: no cover - pytree grad not landed
        pytest.skip(f"grad over dict arguments not available: {e}")
    r = X @ params["w"] + params["b"] - Y
    np.testing.assert_allclose(g["w"], 2 * r[:, None] * X, rtol=1e-12)
    np.testing.assert_allclose(g["b"], 2 * r, rtol=1e-12)
    assert g["b"].dtype == np.float64 and g["b"].shape == (6,)


# --- out_axes and outputs ---------------------------------------------------------------------

def two_outputs(x):
    return x * 2, {"s": x.sum(), "m": np.outer(x, x)}


@pytest.mark.parametrize("out_axes", [0, 1, -1, (1, 0), (0, {"s": 0, "m": 2}),
                                      [-1, {"m": 1, "s": -1}]])
def test_out_axes_variants_equal_loop(out_axes):
    X = np.arange(12.0).reshape(4, 3) / 7
    if out_axes == 1:  # every leaf, the scalar "s" included, would need an axis 1
        with pytest.raises(ValueError, match="out_axes .* out of range for output"):
            framead.vmap(two_outputs, out_axes=out_axes)(X)
        return
    got = framead.vmap(two_outputs, out_axes=out_axes)(X)
    outs = [two_outputs(X[b]) for b in range(4)]
    axes = out_axes if isinstance(out_axes, tuple | list) else (out_axes, out_axes)
    ax_s, ax_m = (axes[1]["s"], axes[1]["m"]) if isinstance(axes[1], dict) else (axes[1],) * 2
    np.testing.assert_array_equal(got[0], np.stack([o[0] for o in outs], axis=axes[0]))
    np.testing.assert_array_equal(got[1]["s"], np.stack([o[1]["s"] for o in outs], axis=ax_s))
    np.testing.assert_array_equal(got[1]["m"], np.stack([o[1]["m"] for o in outs], axis=ax_m))
    assert type(got) is tuple and list(got[1]) == ["s", "m"]


def test_out_axes_none_for_an_unvarying_output():
    got = framead.vmap(lambda w, x: (w * 2, x.sum()), in_axes=(None, 0),
                       out_axes=(None, 0))(np.ones(2), np.ones((3, 4)))
    np.testing.assert_array_equal(got[0], [2.0, 2.0])
    np.testing.assert_array_equal(got[1], [4.0, 4.0, 4.0])


def test_output_dtypes():
    def f(x):
        return float(x[0]), int(x[0] > 0), np.float32(x[1]), bool(x[1] > 0), 1j * x[0]

    got = framead.vmap(f)(np.array([[1.0, -2.0], [-3.0, 4.0]]))
    assert [g.dtype for g in got] == [np.float64, np.array(1).dtype, np.float32, np.bool_,
                                      np.complex128]
    np.testing.assert_array_equal(got[1], [1, 0])


def test_none_in_outputs_is_kept():
    got = framead.vmap(lambda x: {"a": None, "b": x})(np.arange(2.0))
    assert got["a"] is None
    np.testing.assert_array_equal(got["b"], [0.0, 1.0])


# --- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, match", [
    (lambda: framead.vmap(lambda a, b: a)(np.ones((3, 2)), np.ones((4, 2))),
     r"inconsistent sizes(.|\n)*argument 0: shape \(3, 2\), axis 0, size 3(.|\n)*argument 1"),
    (lambda: framead.vmap(lambda p: p["w"])({"w": np.ones(3), "b": np.ones(2)}),
     r'argument 0\["b"\]: shape \(2,\)'),
    (lambda: framead.vmap(lambda a: a, in_axes=2)(np.ones((3, 2))),
     r"in_axes 2 is out of range for argument 0, of shape \(3, 2\)"),
    (lambda: framead.vmap(lambda a: a, in_axes=-3)(np.ones((3, 2))), "out of range"),
    (lambda: framead.vmap(lambda a, b: a)(np.ones(3), 2.0),
     "argument 1 is mapped .* float with no axis"),
    (lambda: framead.vmap(lambda p: p)({"k": [np.ones(2), 1.0]}),
     r'argument 0\["k"\]\[1\] is mapped'),
    (lambda: framead.vmap(lambda a: a, in_axes=None)(np.ones(3)),
     "no argument is mapped .* axis_size"),
    (lambda: framead.vmap(lambda a, b: a, in_axes=(0,))(np.ones(3), np.ones(3)),
     "in_axes has 1 entries .* 2 positional arguments"),
    (lambda: framead.vmap(lambda a: a, axis_size=4)(np.ones(3)),
     "inconsistent sizes(.|\n)*axis_size: 4"),
    (lambda: framead.vmap(lambda a: a.sum(), out_axes=None)(np.arange(3.0)),
     "mapped output at output but out_axes is None"),
    (lambda: framead.vmap(lambda a: (a, a) if a > 0 else [a, a])(np.array([1.0, -1.0])),
     "different structure for example 0 .* and example 1"),
    (lambda: framead.vmap(lambda a: np.ones(int(a)))(np.array([1.0, 2.0])),
     r"output has shape \(1,\) for example 0 but \(2,\) for example 1"),
    (lambda: framead.vmap(lambda a: a, out_axes=(0,))(np.ones(2)),
     "axes given for output .* not a prefix"),
    (lambda: framead.vmap(lambda p: p, in_axes=({"x": 0},))({"y": np.ones(2)}),
     "axes given for argument 0 .* not a prefix"),
    (lambda: framead.vmap(lambda a: a)(np.ones((0, 2))), "size 0"),
])
def test_error_messages(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("kwargs, match", [
    ({"in_axes": {"a": 0}}, "in_axes must be an int, None, or a tuple"),
    ({"in_axes": (0, "x")}, r"in_axes\[1\] must be an int or None"),
    ({"in_axes": 1.0}, "in_axes must be"),
    ({"out_axes": {"a": 0.5}}, r'out_axes\["a"\] must be an int or None'),
])
def test_bad_axis_specifications(kwargs, match):
    with pytest.raises(TypeError, match=match):
        framead.vmap(lambda a: a, **kwargs)


def test_unstackable_output():
    with pytest.raises(TypeError, match="output is a str, which cannot be stacked"):
        framead.vmap(lambda a: "text")(np.ones(2))
    assert framead.vmap(lambda a: "text", out_axes=None)(np.ones(2)) == "text"


def test_not_callable():
    with pytest.raises(TypeError, match="vmap needs a callable"):
        framead.vmap(3)


def test_bad_axis_size():
    with pytest.raises(ValueError, match="axis_size must be"):
        framead.vmap(lambda a: a, axis_size=-1)


# --- composition ---------------------------------------------------------------------------------

def test_grad_through_vmap(data):
    """The per-example loop and np.stack run inside the capture and are recorded."""
    w, X, Y = data
    X0 = X.copy()

    def total(w):
        return framead.vmap(legacy_loss, in_axes=(None, 0, 0))(w, X, Y).sum()

    g = framead.grad(total)(w)
    analytic = sum(legacy_loss_w_grad(w, X0[b], Y[b]) for b in range(N))
    np.testing.assert_allclose(g, analytic, rtol=1e-11, atol=1e-11)
    np.testing.assert_array_equal(X, X0)


def test_grad_through_vmap_wrt_mapped_argument_and_out_axes():
    X = np.arange(1.0, 13.0).reshape(3, 4) / 10

    def total(X):
        out = framead.vmap(lambda x: np.outer(np.sin(x), x), in_axes=1, out_axes=2)(X)
        return float(np.sum(out * np.arange(out.size).reshape(out.shape)))

    fd = fd_grad(total, X)
    np.testing.assert_allclose(framead.grad(total)(X), fd, rtol=1e-6, atol=1e-7)


def test_grad_through_vmap_with_in_place_writes_into_the_broadcast_argument():
    X = np.arange(1.0, 9.0).reshape(4, 2) / 3

    def f(w, x):
        w *= x  # into this example's copy of w
        w[0] += np.sin(x[1])
        return float(np.sum(w ** 2))

    def total(w):
        return framead.vmap(f, in_axes=(None, 0))(w, X).sum()

    w = np.array([0.7, -1.3])
    g = framead.grad(total)(w)
    np.testing.assert_allclose(g, fd_grad(total, w), rtol=1e-7, atol=1e-8)
    np.testing.assert_array_equal(w, [0.7, -1.3])


def test_grad_through_vmap_of_numpy_function():
    X = np.arange(1.0, 13.0).reshape(3, 4)
    g = framead.grad(lambda X: framead.vmap(np.linalg.norm)(X).sum())(X)
    np.testing.assert_allclose(g, X / np.linalg.norm(X, axis=1, keepdims=True), rtol=1e-14)


def test_grad_of_vmap_of_grad():
    X = np.arange(1.0, 7.0).reshape(2, 3) / 4
    inner = framead.grad(lambda x: float(np.sum(x ** 3)))
    g = framead.grad(lambda X: float(np.sum(framead.vmap(inner)(X))))(X)
    np.testing.assert_allclose(g, 6 * X, rtol=1e-13)


def test_forward_mode_and_hessian_through_vmap():
    X = np.arange(1.0, 7.0).reshape(3, 2) / 3
    f = framead.vmap(lambda x: np.sin(x) * x.sum())

    def ref(X):
        return np.sin(X) * X.sum(axis=1, keepdims=True)

    T = np.linspace(-1.0, 1.0, 6).reshape(3, 2)
    _, tangent = framead.jvp(f, (X,), (T,))
    h = 1e-6
    np.testing.assert_allclose(tangent, (ref(X + h * T) - ref(X - h * T)) / (2 * h),
                               rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(framead.jacfwd(f)(X), framead.jacrev(f)(X), rtol=1e-13)
    H = framead.hessian(lambda X: framead.vmap(lambda x: float(np.sum(x ** 3)))(X).sum())(X)
    np.testing.assert_allclose(H.reshape(6, 6), np.diag(6 * X.ravel()), rtol=1e-13,
                               atol=1e-13)


def test_jit_of_vmap(data):
    w, X, Y = data
    j = framead.jit(framead.vmap(legacy_loss, in_axes=(None, 0, 0)))
    for k in range(3):
        wk = w * (1 + k)
        want = [legacy_loss(wk.copy(), X[b].copy(), Y[b]) for b in range(N)]
        np.testing.assert_allclose(j(wk, X, Y), want, rtol=1e-13)
    assert j.stats["hits"] >= 1


def test_jit_of_vmap_rechecks_out_axes_none():
    """A cached trace re-checks that an out_axes=None output still does not vary."""
    j = framead.jit(framead.vmap(lambda w, x: w.sum() + x.sum(), in_axes=(None, 0),
                                 out_axes=None))
    X = np.array([[1.0, 2.0], [2.0, 1.0]])
    assert j(np.ones(2), X) == 5.0
    assert j(np.zeros(2), X) == 3.0
    with pytest.raises(ValueError, match="out_axes is None"):
        j(np.zeros(2), np.array([[1.0, 2.0], [2.0, 2.0]]))


def test_vmap_of_vmap():
    A, B = np.arange(8.0).reshape(2, 4), np.arange(20.0).reshape(4, 5)

    def f(a, b):
        return np.array([a * b, a - b])

    got = framead.vmap(framead.vmap(f, in_axes=(0, None)), in_axes=(None, 1))(A, B)
    want = np.stack([np.stack([f(A[i], B[:, j]) for i in range(2)]) for j in range(5)])
    np.testing.assert_array_equal(got, want)


def smooth_loss(w, x, y):
    return float(np.sum((np.tanh(w * x) - y) ** 2))


def test_vmap_of_jit_grad_records_once_then_replays(data):
    """jit(grad(f)): every float/array argument is an input of the cached trace, so the
    first example records it and the other 63 replay it (the loop: fast=False; the default
    one pass is tested in tests/test_vmap_batched.py)."""
    w, X, Y = data
    g = framead.jit(framead.grad(smooth_loss))
    got = framead.vmap(g, in_axes=(None, 0, 0), fast=False)(w, X, Y)
    want = framead.vmap(framead.grad(smooth_loss), in_axes=(None, 0, 0))(w, X, Y)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    assert g.stats["captures"] == 1 and g.stats["hits"] == N - 1


def test_vmap_of_cached_grad(data):
    """grad(f, cache=True) with the per-example data in differentiated arguments replays;
    per-example data in the other arguments is static for the cache (new value: capture).
    (The loop, fast=False: the default one pass records f itself.)"""
    w, X, Y = data
    g = framead.grad(smooth_loss, argnums=(0, 1, 2), cache=True)
    got = framead.vmap(g, in_axes=(None, 0, 0), fast=False)(w, X, Y)
    want = framead.vmap(framead.grad(smooth_loss, (0, 1, 2)), in_axes=(None, 0, 0))(w, X, Y)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    assert g.stats["captures"] == 1 and g.stats["hits"] == N - 1
    g0 = framead.grad(smooth_loss, cache=True)
    np.testing.assert_allclose(framead.vmap(g0, in_axes=(None, 0, 0), fast=False)(w, X, Y),
                               want[0],
                               rtol=1e-13, atol=1e-15)
    assert g0.stats["captures"] == N


def test_vmap_of_cached_grad_with_per_example_branches(data):
    """Examples whose branches differ miss and re-capture; every result equals the
    analytic one. (The loop, fast=False; the default falls back to it here.)"""
    w, X, Y = data
    g = framead.jit(framead.grad(legacy_loss))
    got = framead.vmap(g, in_axes=(None, 0, 0), fast=False)(w, X, Y)
    want = loop_map(lambda b: legacy_loss_w_grad(w, X[b], Y[b]), range(N))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert g.stats["captures"] + g.stats["hits"] == N
    assert g.stats["captures"] > 1 and g.stats["misses"] > 0  # the signs of x differ


def test_functools_attributes_and_stats_visible():
    g = framead.grad(lambda x: float(np.sum(x ** 2)), cache=True)
    v = framead.vmap(g)
    v(np.ones((3, 2)))
    assert v.stats is g.stats  # (functools.wraps)
    assert v.vmap_stats["batched"] == 1 and v.vmap_stats["captures"] == 1
    v2 = framead.vmap(g, fast=False)
    v2(np.ones((3, 2)))
    assert g.stats["captures"] == 1 and v2.vmap_stats["loop"] == 1


# --- random in_axes/out_axes/shapes against the Python loop ---------------------------------

@st.composite
def mapped_problem(draw):
    n = draw(st.integers(1, 4))
    nargs = draw(st.integers(1, 3))
    shapes, axes = [], []
    for _ in range(nargs):
        ndim = draw(st.integers(0, 3))
        base = draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim))
        ax = None if ndim == 0 else draw(st.one_of(st.none(), st.integers(-ndim - 1, ndim)))
        if ax is not None:
            pos = ax % (ndim + 1)
            base = [*base[:pos], n, *base[pos:]]
        shapes.append(tuple(base))
        axes.append(ax)
    out_axis = draw(st.integers(-1, 1))
    return n, shapes, tuple(axes), out_axis


def _f_random(*args):
    total = 0.0
    for a in args:
        total = total + np.sum(np.cos(a))
    return np.array([total, np.size(args[0])]), args[0] * 2


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mapped_problem(), st.integers(0, 2 ** 16))
def test_random_axes_against_python_loop(problem, seed):
    n, shapes, in_axes, out_axis = problem
    rng = np.random.default_rng(seed)
    args = [rng.normal(size=s) if s else float(rng.normal()) for s in shapes]
    before = copy.deepcopy(args)
    if all(a is None for a in in_axes):
        with pytest.raises(ValueError, match="no argument is mapped"):
            framead.vmap(_f_random, in_axes=in_axes)(*args)
        return
    first = _f_random(*[a if ax is None else np.take(a, 0, axis=ax)
                        for a, ax in zip(args, in_axes, strict=True)])
    if not -np.ndim(first[1]) - 1 <= out_axis <= np.ndim(first[1]):
        return
    got = framead.vmap(_f_random, in_axes=in_axes, out_axes=out_axis)(*args)
    outs = [_f_random(*[a if ax is None else np.take(a, b, axis=ax)
                        for a, ax in zip(args, in_axes, strict=True)]) for b in range(n)]
    for k in range(2):
        want = np.stack([np.asarray(o[k]) for o in outs], axis=out_axis)
        np.testing.assert_allclose(got[k], want, rtol=1e-14)
    for a, a0 in zip(args, before, strict=True):
        np.testing.assert_array_equal(a, a0)


def test_docstring_examples():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = doctest.testmod(framead.batching)
    assert result.attempted >= 4 and result.failed == 0
