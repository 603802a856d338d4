"""Outputs of ``np.broadcast_arrays`` / ``np.atleast_Nd`` / ``np.meshgrid`` traced per argument:
the output of a constant argument is a constant (no false FA101 where it reaches a ``nondiff``
argument, e.g. the shape parameter of a ``scipy.stats`` distribution), a traced argument's
output keeps its gradient; against central differences, fresh and in cached replays."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import fd_grad, trace_hazards
from hypothesis import given, settings
from hypothesis import strategies as st

import framead

FORMS = {
    "broadcast_arrays": lambda *a: np.broadcast_arrays(*a),
    "atleast_1d": lambda *a: np.atleast_1d(*a),
    "atleast_2d": lambda *a: np.atleast_2d(*a),
    "atleast_3d": lambda *a: np.atleast_3d(*a),
    "meshgrid": lambda *a: np.meshgrid(*a),
    "meshgrid_ij": lambda *a: np.meshgrid(*a, indexing="ij"),
}


@st.composite
def cases(draw):
    form = draw(st.sampled_from(sorted(FORMS)))
    n = draw(st.integers(2, 4))
    traced = draw(st.lists(st.booleans(), min_size=n, max_size=n).filter(any))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    mesh = form.startswith("meshgrid")
    shapes = [(draw(st.integers(1, 3)),) if mesh else draw(st.sampled_from([(), (3,), (1, 3)]))
              for _ in range(n)]
    consts = [rng.uniform(0.5, 2.0, s) for s in shapes]
    return form, traced, consts


@settings(max_examples=60, deadline=None)
@given(cases())
def test_outputs_traced_per_argument(case):
    """Output k of a constant argument k goes into scipy.special.jv's order (nondiff): a
    traced one would be FA101; each traced argument's output goes on to the result."""
    import scipy.special as sc

    form, traced, consts = case
    idx = [i for i, t in enumerate(traced) if t]

    def f(x):
        args = [x[j] * c if traced[j] else c for j, c in enumerate(consts)]
        outs = FORMS[form](*args)
        total = 0.0
        for k, o in enumerate(outs):
            total = total + (np.sum(np.sin(o)) * (k + 1) if traced[k] else
                             np.sum(sc.jv(o, 0.7 + 0.1 * k)))
        return total

    x = np.linspace(0.6, 1.1, len(consts))
    assert not trace_hazards(f, x), form
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = framead.grad(f)(x.copy())
    ref = fd_grad(f, (x,))
    np.testing.assert_allclose(g, ref, rtol=1e-6, atol=1e-8, err_msg=form)
    assert np.all(g[[i for i in range(len(traced)) if i not in idx]] == 0)
    vg = framead.value_and_grad(f, cache=True)
    for s in (0.0, 0.03, -0.05):
        v, gc = vg(x + s)
        assert v == pytest.approx(f(x + s), rel=1e-13)
        np.testing.assert_allclose(gc, fd_grad(f, (x + s,)), rtol=1e-6, atol=1e-8,
                                   err_msg=f"{form} {vg.stats}")
    assert vg.stats["hits"] >= 2, vg.stats


DISTRIBUTIONS = [  # (name, constant shape parameters, x points inside the support)
    ("t", (3.5,), [-0.4, 0.3, 1.6]),
    ("gamma", (2.3,), [0.6, 1.5, 2.8]),
    ("beta", (2.2, 3.1), [0.35, 0.5, 0.8]),
    ("chi2", (4.2,), [0.9, 1.7, 3.3]),
    ("f", (3.3, 5.5), [0.5, 1.2, 2.1]),
    ("lognorm", (0.7,), [0.6, 1.3, 2.4]),
    ("weibull_min", (1.7,), [0.6, 1.1, 1.9]),
]


@pytest.mark.parametrize("name,shape,xs", DISTRIBUTIONS, ids=[d[0] for d in DISTRIBUTIONS])
@pytest.mark.parametrize("method", ["cdf", "pdf", "logpdf", "sf"])
def test_scipy_stats_traced_loc_scale(name, shape, xs, method):
    """A distribution with a constant shape parameter and a traced loc/scale: no hazard, the
    gradient in loc and scale is the central differences'."""
    import scipy.stats as ss

    dist = getattr(ss, name)
    pts = np.array(xs)

    def f(p):
        return np.sum(getattr(dist, method)(pts, *shape, loc=p[0], scale=p[1]))

    p = np.array([0.1, 1.2])
    if name in ("gamma", "chi2", "f", "weibull_min", "beta", "lognorm"):
        p = np.array([0.05, 1.1])
    assert not trace_hazards(f, p), (name, method)
    g = framead.grad(f)(p.copy())
    np.testing.assert_allclose(g, fd_grad(f, (p,)), rtol=1e-6, atol=1e-9)
    vg = framead.value_and_grad(f, cache=True)
    for s in (0.0, 0.01):
        _, gc = vg(p + s)
        np.testing.assert_allclose(gc, fd_grad(f, (p + s,)), rtol=1e-6, atol=1e-9)
