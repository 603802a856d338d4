"""framead.use(engine): one sub-function of a legacy NumPy program differentiated by another
engine. For each engine the gradient of the program equals framead's default-path gradient
(the same program with the plain NumPy sub-function) and central finite differences."""

from __future__ import annotations

import importlib.util
import sys
import types
import warnings

import numpy as np
import pytest

import framead
from framead import engines
from framead.engines import EnginePluginWarning, UnknownEngineError, register_engine, use

# --- the legacy program: preallocated loop, in-place writes, a sub-function called twice ---

def sub_np(x, y):
    """The plain NumPy sub-function (two outputs)."""
    return np.sin(x) * y + x ** 2, np.tanh(x).sum() * y


def legacy(x, y, sub=sub_np):
    out = np.zeros_like(x)
    acc = 0.0
    for k in range(2):
        z, s = sub(x * (k + 1.0), y)
        out[:] = out + z * np.cos(x)
        acc += s
    out[1] *= 3.0
    return float(np.sum(out ** 2)) + acc * y


def central_fd(f, x, y, h=1e-6):
    gx = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        gx[i] = (f(x + e, y) - f(x - e, y)) / (2 * h)
    gy = (f(x, y + h) - f(x, y - h)) / (2 * h)
    return gx, gy


X = np.array([0.3, -1.1, 0.7, 1.9])
Y = 1.3


def check_engine(sub, rtol=1e-7, atol=1e-9, fd_rtol=1e-6):
    def prog_engine(x, y):
        return legacy(x, y, sub)

    assert np.isclose(prog_engine(X, Y), legacy(X, Y), rtol=1e-12)  # the primal is unchanged
    ref = framead.grad(legacy, (0, 1))(X, Y)
    got = framead.grad(prog_engine, (0, 1))(X, Y)
    fd = central_fd(legacy, X, Y)
    assert isinstance(got[1], float)
    np.testing.assert_allclose(got[0], ref[0], rtol=rtol, atol=atol)
    np.testing.assert_allclose(got[1], ref[1], rtol=rtol, atol=atol)
    np.testing.assert_allclose(got[0], fd[0], rtol=fd_rtol, atol=1e-6)
    np.testing.assert_allclose(got[1], fd[1], rtol=fd_rtol, atol=1e-6)
    t = framead.trace(prog_engine, X, Y)
    names = [n.name for n in t.nodes]
    ours = [n for n in t.nodes if n.name.startswith("use[")]
    assert len(ours) == 2, names  # one node per call
    assert all(n.multi and n.rule.multi for n in ours)  # (z, s): a two-output node
    return t


# --- engines ---------------------------------------------------------------------------------

@pytest.mark.parametrize("method,rtol", [("central", 1e-6), ("forward", 1e-4),
                                         ("complex", 1e-12)])
def test_finite_diff(method, rtol):
    check_engine(use("finite_diff", method=method)(sub_np), rtol=rtol, atol=1e-6)


def test_finite_diff_step_control():
    def cube(x):
        return x ** 3

    def prog(x):
        return float(np.sum(cube_w(x)))

    x = np.array([1.0, 2.0])
    exact = 3 * x ** 2
    cube_w = use("finite_diff", step=1e-2)(cube)
    g = framead.grad(prog)(x)
    np.testing.assert_allclose(g, exact + 1e-4, rtol=1e-10)  # central error is exactly h^2
    cube_w = use("finite_diff", method="forward", step=1e-3)(cube)
    assert abs(framead.grad(prog)(x)[0] - exact[0]) > 1e-4  # forward: O(h)
    cube_w = use("finite_diff", method="complex")(cube)
    np.testing.assert_allclose(framead.grad(prog)(x), exact, rtol=1e-15)
    with pytest.raises(ValueError, match="method"):
        use("finite_diff", method="backward")(cube)


def test_finite_diff_black_box_counts_evaluations():
    calls = []

    def black_box(x):  # e.g. a C extension: framead sees nothing inside
        calls.append(1)
        return np.cumsum(x) ** 2

    w = use("finite_diff")(black_box)
    x = np.linspace(0.1, 1.0, 5)
    g = framead.grad(lambda x: float(np.sum(w(x) * x)))(x)
    ref = framead.grad(lambda x: float(np.sum(np.cumsum(x) ** 2 * x)))(x)
    np.testing.assert_allclose(g, ref, rtol=1e-7)
    assert w.engine.evaluations == 2 * x.size
    assert len(calls) == 1 + 2 * x.size


def test_finite_diff_complex_input_central():
    def f(z):
        return np.abs(z * z) + z.real

    w = use("finite_diff")(f)
    z = np.array([0.5 + 0.2j, -1.0 + 0.7j])
    _, pull_ref = framead.vjp(f, z)
    _, pull = framead.vjp(w, z)
    g = np.array([1.0, -2.0])
    np.testing.assert_allclose(pull(g)[0], pull_ref(g)[0], rtol=1e-7)


def test_torch():
    torch = pytest.importorskip("torch")

    def sub_t(x, y):
        assert isinstance(x, torch.Tensor) and x.dtype == torch.float64
        return torch.sin(x) * y + x ** 2, torch.tanh(x).sum() * y

    check_engine(use("torch")(sub_t))
    check_engine(use("torch", api="autograd")(sub_t))
    # outside a capture: NumPy in, NumPy out; tensors in, tensors out
    z, s = use("torch")(sub_t)(X, Y)
    assert type(z) is np.ndarray and isinstance(s, np.float64)
    zt, _ = use("torch")(sub_t)(torch.tensor(X), torch.tensor(Y))
    assert isinstance(zt, torch.Tensor)


def test_jax():
    pytest.importorskip("jax")
    import jax.numpy as jnp

    def sub_j(x, y):
        return jnp.sin(x) * y + x ** 2, jnp.tanh(x).sum() * y

    check_engine(use("jax")(sub_j))
    check_engine(use("jax", jit=True)(sub_j))
    z, _ = use("jax")(sub_j)(X, Y)
    assert type(z) is np.ndarray and z.dtype == np.float64 and z.flags.writeable


def test_autograd():
    pytest.importorskip("autograd")
    import autograd.numpy as anp

    def sub_a(x, y):
        return anp.sin(x) * y + x ** 2, anp.tanh(x).sum() * y

    check_engine(use("autograd")(sub_a))


def test_checkpoint_stores_nothing_inside():
    w = use("checkpoint")(sub_np)
    t = check_engine(w)
    # the inner operations (sin, tanh, ...) are not in the outer graph
    assert not any(n.name in ("np.sin", "np.tanh") for n in t.nodes)
    before = w.engine.recaptures
    framead.grad(lambda x, y: legacy(x, y, w), (0, 1))(X, Y)
    assert w.engine.recaptures - before == 2  # one re-capture per call, in the reverse pass


def test_checkpoint_nested_and_as_decorator():
    @framead.use("checkpoint")
    def block(h, w):
        for _ in range(3):
            h = np.tanh(h @ w)
        return h

    def net(w, x):
        h = x
        for _ in range(2):
            h = block(h, w)
        return float(np.sum(h ** 2))

    def net_plain(w, x):
        h = x
        for _ in range(6):
            h = np.tanh(h @ w)
        return float(np.sum(h ** 2))

    rng = np.random.default_rng(1)
    w, x = rng.normal(size=(3, 3)) * 0.5, rng.normal(size=(2, 3))
    np.testing.assert_allclose(framead.grad(net)(w, x), framead.grad(net_plain)(w, x),
                               rtol=1e-12)


# --- the wrapper's behaviour -----------------------------------------------------------------

def test_outside_capture_and_untraced_calls_just_run_fn():
    calls = []

    def f(x, scale=2.0):
        calls.append(x)
        return x * scale

    w = use("finite_diff")(f)
    assert w.__name__ == "f"
    np.testing.assert_array_equal(w(X), X * 2.0)
    const = np.ones(3)
    # inside a capture, a call on constants records nothing and is not differentiated
    g = framead.grad(lambda x: float(np.sum(w(const) * x)))(X[:3])
    np.testing.assert_array_equal(g, 2.0 * const)
    assert w.engine.evaluations == 0


def test_keyword_arguments_are_constants_and_traced_keywords_move_to_positions():
    def f(x, y, power=2.0):
        return np.sum(x ** power) * y

    pytest.importorskip("autograd")  # (an optional extra)
    w = use("autograd")(f)

    def prog(x, y):
        return float(w(x, y=y, power=3.0))  # traced y given by keyword

    def ref(x, y):
        return float(f(x, y, power=3.0))

    got = framead.grad(prog, (0, 1))(X, Y)
    want = framead.grad(ref, (0, 1))(X, Y)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)


def test_scalar_float_inputs_and_outputs():
    def f(a, b):
        return a * b + np.exp(a)

    for name in ("finite_diff", "checkpoint", "autograd"):
        if name == "autograd" and importlib.util.find_spec("autograd") is None:
            continue  # (an optional extra)
        w = use(name)(f)
        ga, gb = framead.grad(lambda a, b, w=w: w(a, b) * 2.0, (0, 1))(0.5, 3.0)
        assert isinstance(ga, float)
        np.testing.assert_allclose([ga, gb], [2 * (3.0 + np.exp(0.5)), 1.0], rtol=1e-7)


def test_engine_jvps():
    import importlib.util

    from framead.rules import Rule

    x = np.array([0.2, 0.5, -0.3])
    t = np.array([1.0, -1.0, 0.5])
    want = np.cos(x) * t
    engs = [("finite_diff", np.sin), ("finite_diff:complex", np.sin)]
    if importlib.util.find_spec("jax"):
        import jax.numpy as jnp
        engs.append(("jax", jnp.sin))
    if importlib.util.find_spec("torch"):
        import torch
        engs.append(("torch", torch.sin))
    if importlib.util.find_spec("autograd"):
        import autograd.numpy as anp
        engs.append(("autograd", anp.sin))
    for name, fn in engs:
        opts = {"method": "complex"} if name.endswith("complex") else {}
        eng = engines.get_engine(name.split(":")[0])(fn, opts)
        assert not isinstance(eng, Rule)
        got = eng.jvp((t,), None, (x,), {})
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=name)


@pytest.mark.parametrize("engine", ["finite_diff", "autograd", "checkpoint", "forward"])
def test_traced_values_in_containers_are_differentiated(engine):
    """A list, tuple or dict argument holding traced values: the engine differentiates a
    function of the leaves (d/dx sum(x * x) = 2x; d/dy of y * 3 = 3)."""
    if engine == "autograd":
        pytest.importorskip("autograd")  # (an optional extra)
    w = use(engine)(lambda xs, d: xs[0] * xs[1] + d["y"] * 3.0)
    g = framead.grad(lambda x, y: float(np.sum(w([x, x], {"y": y}))), argnums=(0, 1),
                     strict=True)(X, 0.5)
    np.testing.assert_allclose(g[0], 2 * X, rtol=1e-6)
    np.testing.assert_allclose(g[1], 3.0 * X.size, rtol=1e-6)


# --- the registry ----------------------------------------------------------------------------

def test_register_engine_protocol():
    class Doubler:  # an engine for fn(x) = 2 x, with a deliberately hand-written vjp
        name = "doubler"

        def __init__(self, fn, options):
            self.fn, self.options = fn, options

        def vjp(self, g, ans, args, kwargs, wrt):
            return tuple(2.0 * g * self.options.get("k", 1.0) if i in wrt else None
                         for i in range(len(args)))

    register_engine("test-doubler", Doubler)
    try:
        with pytest.raises(ValueError, match="already registered"):
            register_engine("test-doubler", lambda fn, o: None)
        w = use("test-doubler", k=1.0)(lambda x: 2.0 * x)
        assert "test-doubler" in engines.available_engines()
        np.testing.assert_allclose(framead.grad(lambda x: float(np.sum(w(x))))(X), 2.0)
        assert [n.name for n in framead.trace(lambda x: w(x), X).nodes] == ["doubler"]
    finally:
        engines.unregister_engine("test-doubler")
    with pytest.raises(UnknownEngineError, match="test-doubler"):
        use("test-doubler")
    with pytest.raises(TypeError, match="engine's name"):
        use(np.sin)


def test_entry_point_plugins_load_lazily_and_failures_warn(monkeypatch):
    from importlib import metadata

    plugin = types.ModuleType("_framead_test_engine_plugin")

    def factory(fn, options):
        return engines.get_engine("finite_diff")(fn, options)

    plugin.factory = factory
    monkeypatch.setitem(sys.modules, plugin.__name__, plugin)
    eps = [metadata.EntryPoint("test-fd-plugin", f"{plugin.__name__}:factory",
                               "framead.engines"),
           metadata.EntryPoint("test-broken", "_no_such_module_framead_xyz:factory",
                               "framead.engines")]
    monkeypatch.setattr(metadata, "entry_points",
                        lambda group=None: [e for e in eps if e.group == group])
    monkeypatch.setattr(engines, "_entry_points_loaded", [False])
    try:
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            w = use("test-fd-plugin")(np.exp)
        assert any(issubclass(r.category, EnginePluginWarning) and "test-broken" in
                   str(r.message) for r in rec)
        np.testing.assert_allclose(framead.grad(lambda x: float(np.sum(w(x))))(X), np.exp(X),
                                   rtol=1e-7)
    finally:
        engines.unregister_engine("test-fd-plugin")
