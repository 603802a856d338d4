"""Inline reverse formulas give what their rule gives where the output's cotangent is 0 at
a singular element (an element the output does not read): a division by 0 there (``g / y``
is 0 / 0) and a power of inf (``g * 2 * x`` is 0 * inf) carry no derivative, as the rules
compute it (rules.families.no_cotangent_no_nan). The formulas gave NaN there in every engine
that takes them: the C step loop, the Python step loop and cached replays (as steps and as
source), while compiled source (the rules' VJPs) gave 0; for divisions by traced arrays and,
once constant arrays took inline formulas too, by constant ones. Each engine must give what
finite differences give, and agree with the ufunc's rule (``np.divide``, ``np.power``: never
inlined)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import fd_grad, load_source_module
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import framead

ENGINES = [("FRAMEAD_BACKWARD", "loop"), ("FRAMEAD_BACKWARD", "pyloop"),
           ("FRAMEAD_BACKWARD", "source"), ("FRAMEAD_REPLAY", "loop"),
           ("FRAMEAD_REPLAY", "source")]


@st.composite
def programs(draw) -> str:
    """``y = num / den`` on (5, 3) arrays (or a (5, 1) divisor that broadcasts), the divisor 0
    in row 0, or ``y = base ** k`` with the base inf in row 0: row 0 the result does not
    read."""
    if draw(st.booleans()):
        base = draw(st.sampled_from(["x + I", "(x * 2.0) + I", "(x - P) + I"]))
        k = draw(st.sampled_from([2, 3]))
        use = draw(st.sampled_from(["np.sum(y[1:])", "np.sum(y[1:] * x[1:])"]))
        return _SOURCE.format(expr=f"({base}) ** {k}", use=use)
    den = draw(st.sampled_from([
        "x - P",                    # traced, 0 at the point's row 0
        "Z",                        # a constant array with a 0 in row 0
        "Z[:, :1]",                 # ... of shape (5, 1), broadcast
        "(x - P)[:, :1] + 0.0 * Z[:, :1]",  # traced (5, 1): no inline formula (unbroadcast)
    ]))
    num = draw(st.sampled_from(["x", "2.0 * x", "C", "1.5", "x * x"]))
    use = draw(st.sampled_from(["np.sum(y[1:])", "np.sum(y[1:] * x[1:])",
                                "np.sum(np.sin(y[1:]))"]))
    return _SOURCE.format(expr=f"({num}) / ({den})", use=use)


_SOURCE = """
import numpy as np

P = np.zeros((5, 3))
Z = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 0.5], [1.5, 1.0, 2.0], [0.75, 3.0, 1.0],
              [2.0, 0.5, 1.25]])
C = np.linspace(0.5, 1.5, 15).reshape(5, 3)
I = np.zeros((5, 3))
I[0] = np.inf


def f(x):
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        y = {expr}
    return {use}
"""


def _ufunc_form(src: str) -> str:
    """The same program with ``np.divide`` / ``np.power`` (their rules, never inlined)."""
    if ") / (" in src:
        return src.replace("y = (", "y = np.divide(").replace(") / (", ", ")
    base, k = src.split("y = (")[1].split("\n")[0].rsplit(") ** ", 1)
    return src.replace(f"y = ({base}) ** {k}", f"y = np.power({base}, {k})")


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(src=programs(), seed=st.integers(0, 2 ** 16))
def test_no_nan_where_the_output_reads_nothing(src, seed, tmp_path_factory, monkeypatch):
    note(src)
    mod, _ = load_source_module(src, tmp_path_factory.mktemp("div"), "framead_div")
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 1.5, (5, 3))
    mod.P[0] = x[0]  # x - P is exactly 0 in row 0 at this point
    mod.P[1:] = rng.uniform(-2.0, -1.0, (4, 3))
    want = fd_grad(mod.f, x)
    assert np.all(want[0] == 0.0)
    ref = framead.grad(mod.f)  # np.divide: its rule's VJP, never an inline formula
    rmod, _ = load_source_module(_ufunc_form(src), tmp_path_factory.mktemp("divref"),
                                 "framead_divref")
    rmod.P[:] = mod.P
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = framead.grad(rmod.f)(x)
        for var, mode in ENGINES:
            monkeypatch.delenv("FRAMEAD_BACKWARD", raising=False)
            monkeypatch.delenv("FRAMEAD_REPLAY", raising=False)
            monkeypatch.setenv(var, mode)
            if var == "FRAMEAD_REPLAY":
                vg = framead.grad(mod.f, cache=True)
                vg(x)
                got = vg(x)  # (a hit: the replay)
            else:
                got = ref(x)
            assert not np.isnan(got).any(), (var, mode, got)
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=f"{var}={mode}")
            np.testing.assert_allclose(got, reference, rtol=1e-12, atol=0)


@pytest.mark.parametrize("mode", ["loop", "pyloop"])
def test_a_constant_divisor_with_a_zero(mode, monkeypatch):
    """The named case: ``x / c`` with ``c[0] == 0`` and ``y[0]`` unread."""
    monkeypatch.setenv("FRAMEAD_BACKWARD", mode)
    c = np.array([0.0, 1.0, 2.0])

    def f(x):
        with np.errstate(divide="ignore"):
            y = x / c
        return np.sum(y[1:])

    np.testing.assert_array_equal(framead.grad(f)(np.array([0.5, 1.0, 1.5])), [0.0, 1.0, 0.5])
