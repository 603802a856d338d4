"""Fuzzer over ``scipy.stats.gaussian_kde`` (rules/scipy_kde_rules.py: its Cython kernels):
the data's dimension and size, the bandwidth rule, weights (constant, traced or none), the
points (constant or made from the data) and the evaluation (``kde(p)``, ``pdf``, ``logpdf``).
The gradient, through the data, the weights and the bandwidth (the data's covariance), matches
central differences in float64 with no hazard, and the value is the native one."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import fd_grad

stats = pytest.importorskip("scipy.stats")
framead = pytest.importorskip("framead")
hyp = pytest.importorskip("hypothesis")
st = hyp.strategies


@st.composite
def configs(draw):
    d = draw(st.sampled_from([1, 2]))
    n = draw(st.integers(d + 2, 7))
    m = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2 ** 16))
    return dict(d=d, n=n, m=m, seed=seed,
                bw=draw(st.sampled_from([None, "silverman", 0.6])),
                weights=draw(st.sampled_from(["none", "const", "traced"])),
                points=draw(st.sampled_from(["const", "data"])),
                how=draw(st.sampled_from(["call", "pdf", "logpdf"])))


def _program(c):
    rng = np.random.default_rng(c["seed"])
    d, n, m = c["d"], c["n"], c["m"]
    const_w = rng.uniform(0.5, 2.0, n)
    const_p = rng.standard_normal((d, m))
    x = np.concatenate([rng.standard_normal(d * n), rng.uniform(0.5, 2.0, n)])

    def f(v):
        data = v[:d * n].reshape(d, n) if d > 1 else v[:n]
        w = {"none": None, "const": const_w, "traced": v[d * n:] * 1.0}[c["weights"]]
        k = stats.gaussian_kde(data, bw_method=c["bw"], weights=w)
        pts = const_p if c["points"] == "const" else \
            0.5 * (data.reshape(d, n)[:, :m] if d > 1 else data[:m])
        out = {"call": k, "pdf": k.pdf, "logpdf": k.logpdf}[c["how"]](pts)
        return np.sum(out * np.arange(1.0, out.size + 1.0))
    return f, x


@hyp.settings(max_examples=40, deadline=None, derandomize=True, database=None)
@hyp.given(configs())
def test_gaussian_kde_gradient(c):
    f, x = _program(c)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no hazard, no zero-gradient warning)
        value, g = framead.value_and_grad(f, strict=True)(x)
    assert value == f(x)
    want = fd_grad(f, x, step=1e-5)
    np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-7 * max(1.0, np.abs(want).max()))


@pytest.mark.parametrize("spec,dtype", [("float", np.float32), ("long double", np.longdouble)])
def test_other_kernels_reported(spec, dtype):
    """The float and long double kernels have no rule: reported, never silently zero."""
    from scipy.stats._stats import gaussian_kernel_estimate as kernel

    def f(x):
        est = kernel[spec](x[:, None], np.ones((3, 1)), np.zeros((1, 1)), np.eye(1), dtype)
        return float(est.sum())

    with pytest.raises(framead.GradientHazard, match="FA101"):
        framead.grad(f, strict=True)(np.array([0.1, 0.4, -0.3]))


def library_cases():
    """(kernel, args, kwargs) for test_rules_library's rule checks (each kernel, each dtype)."""
    import framead.rules as R
    from scipy.stats._stats import gaussian_kernel_estimate as lin
    from scipy.stats._stats import gaussian_kernel_estimate_log as log

    R.install_optional()
    rng = np.random.default_rng(3)
    pts, vals, xi = rng.standard_normal((4, 2)), rng.uniform(0.5, 1.5, (4, 2)), \
        rng.standard_normal((3, 2))
    low = np.array([[0.9, 0.0], [0.3, 1.2]])
    return [(k["double"], (pts, vals, xi, low, np.float64), {}) for k in (lin, log)]
