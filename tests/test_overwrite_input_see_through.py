"""Fuzzer over ``np.median``/``percentile``/``quantile`` and their nan-twins with
``overwrite_input=True`` (rules/numpy_statistics_rules.py's ``SeeThrough`` reason, taken by
capture/unruled.py): NumPy's own Python body is traced, so its in-place ``a.partition`` is
recorded as the write (a reordering) it is. Drawn: the statistic, q (scalar or list), axis,
keepdims, the array's shape, NaNs (the nan-twins), whether ``a`` is a view of a larger array,
and how the program reads the partitioned ``a`` (and its base) afterwards, cached or not.
The value, the partitioned buffers and the gradient are the native ones / central
differences' in float64, with no hazard."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import fd_grad

framead = pytest.importorskip("framead")
hyp = pytest.importorskip("hypothesis")
st = hyp.strategies

STATS = {"median": (np.median, None), "percentile": (np.percentile, [30.0, 85.0]),
         "quantile": (np.quantile, 0.4), "nanmedian": (np.nanmedian, None),
         "nanpercentile": (np.nanpercentile, 60.0), "nanquantile": (np.nanquantile, [0.1, 0.7])}


@st.composite
def configs(draw):
    name = draw(st.sampled_from(sorted(STATS)))
    shape = draw(st.sampled_from([(5,), (4, 3), (2, 5)]))
    axis = draw(st.sampled_from([None, 0, -1] if len(shape) == 2 else [None, 0]))
    return dict(name=name, shape=shape, axis=axis, keepdims=draw(st.booleans()),
                nan=name.startswith("nan") and draw(st.booleans()),
                view=draw(st.booleans()), read=draw(st.sampled_from(["none", "lin", "sq"])),
                cache=draw(st.booleans()), seed=draw(st.integers(0, 2 ** 16)))


def _program(c):
    fn, q = STATS[c["name"]]
    rng = np.random.default_rng(c["seed"])
    x = rng.permutation(np.linspace(-1.0, 1.0, int(np.prod(c["shape"]))))  # (no ties)
    x = (x + rng.uniform(-0.01, 0.01, x.size)).reshape(c["shape"])
    w = rng.uniform(0.5, 1.5, x.size + 2)
    kept: list = []

    def f(v):
        base = np.concatenate([v.ravel() * 1.5, [0.25, -0.5]])
        if c["nan"]:
            base[1] = np.nan
        y = base[:v.size].reshape(v.shape) if c["view"] else v * 1.5
        if c["nan"] and not c["view"]:
            y[(0,) * y.ndim] = np.nan
        args = () if q is None else (q,)
        m = fn(y, *args, axis=c["axis"], overwrite_input=True, keepdims=c["keepdims"])
        kept.append((y.copy(), base.copy()))
        out = np.sum(np.asarray(m) ** 2)
        clean = np.where(np.isnan(y), 0.0, y).ravel()  # (NaN stays where NumPy put it)
        if c["read"] == "lin":
            out = out + clean @ w[:y.size]
        elif c["read"] == "sq":
            out = out + np.sum(np.sin(clean) * w[:y.size]) + np.nansum(base * w) ** 2
        return float(out)
    return f, x, kept


@hyp.settings(max_examples=60, deadline=None, derandomize=True, database=None)
@hyp.given(configs())
def test_overwrite_input_is_differentiated(c):
    f, x, kept = _program(c)
    native = f(x.copy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no hazard, no zero-gradient warning)
        warnings.filterwarnings("ignore", category=RuntimeWarning)  # (NumPy's all-NaN)
        run = framead.value_and_grad(f, strict=True, cache=c["cache"])
        for _ in range(2 if c["cache"] else 1):  # (cached: the second call replays)
            value, g = run(x)
            assert value == native
    for got, want in zip(kept[-1], kept[0], strict=True):  # the partitioned buffers
        np.testing.assert_array_equal(got, want)
    want = fd_grad(f, x, step=1e-6)
    np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-8)


def test_overwrite_input_of_a_c_function_stays_refused():
    """A SeeThrough reason of a function with no Python body is refused as before (FA101)."""
    from framead.capture.unruled import refused_call
    from framead.rules.refusals import SeeThrough

    hazards: list = []

    class Rec:
        def value_of(self, a):
            return None

        def hazard(self, code, name, frame, msg):
            hazards.append(code)

    assert refused_call(Rec(), "np.add", SeeThrough("why"), np.add, (1.0, 2.0), {}, (), None) \
        == 3.0
    assert hazards == ["FA101"]
