"""The C step loop's fused steps for ``a[i]`` and ``a[i] = v`` of 1-d float64 arrays
(capture/_scalar_tape.c ``getitem_step``/``setitem_step``): bit for bit what the Python step
loop's ``_acc_getitem``/``_acc_setitem`` compute, on programs that read and write array
elements among whole-array operations (so cotangent arrays are sometimes the pass's own,
sometimes shared or broadcast, and elements are read again after writes)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import load_source_module
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import framead

N = 5
IDX = [str(i) for i in range(-N, N)]


@st.composite
def programs(draw) -> str:
    """A function of a length-5 array x: element reads, element writes (plain and ``+=``)
    into a fresh array, a copy of x and x's own copy, whole-array operations in between."""
    lines = ["    y = np.zeros(5)", "    z = x.copy()", "    s = 0.0"]
    for _ in range(draw(st.integers(2, 9))):
        i, j, k = (draw(st.sampled_from(IDX)) for _ in range(3))
        arr = draw(st.sampled_from(["y", "z"]))
        form = draw(st.sampled_from([
            "{a}[{i}] = x[{j}] * x[{k}] + 0.5",
            "{a}[{i}] = {a}[{j}] * 1.5 - x[{k}]",
            "{a}[{i}] += x[{j}] ** 2",
            "{a}[{i}] = s * 0.25 + {a}[{k}]",
            "s = s + {a}[{i}] * x[{j}]",
            "s = s + x[{i}] / (1.0 + x[{j}] * x[{j}])",
            "s = s + 0.1 * float(np.sum({a} * x))",
            "{a} = {a} * 1.25",
            "s = s + {a}[{i}]",
        ]))
        lines.append("    " + form.format(a=arr, i=i, j=j, k=k))
    return ("import numpy as np\n\n\ndef f(x):\n" + "\n".join(lines) +
            "\n    return s + float(np.sum(y * y)) + float(np.sum(z)) * 0.5\n")


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(src=programs(), seed=st.integers(0, 2 ** 16))
def test_c_and_python_step_loops_agree(src, seed, tmp_path_factory, monkeypatch):
    note(src)
    mod, _ = load_source_module(src, tmp_path_factory.mktemp("fused"), "framead_fused")
    x = np.random.default_rng(seed).uniform(0.5, 1.5, N)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        monkeypatch.setenv("FRAMEAD_BACKWARD", "loop")
        c = framead.grad(mod.f)(x)
        monkeypatch.setenv("FRAMEAD_BACKWARD", "pyloop")
        py = framead.grad(mod.f)(x)
    np.testing.assert_array_equal(c, py)
    eps = 1e-6
    fd = np.array([(mod.f(x + eps * e) - mod.f(x - eps * e)) / (2 * eps) for e in np.eye(N)])
    np.testing.assert_allclose(c, fd, rtol=1e-5, atol=1e-5)


def test_the_c_steps_are_taken(monkeypatch):
    """The fused steps of a rosenbrock element loop run in C: the Python step loop makes a
    step for at most a handful of its nodes."""
    from framead import reverse  # noqa: PLC0415 - patched below

    made = [0]
    orig = reverse._make_step

    def counting(node, check):
        made[0] += 1
        return orig(node, check)

    monkeypatch.setattr(reverse, "_make_step", counting)
    monkeypatch.setenv("FRAMEAD_BACKWARD", "loop")

    def rosen(x):
        terms = np.zeros(len(x) - 1)
        for i in range(len(x) - 1):
            terms[i] = 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
        return np.sum(terms)

    x = np.linspace(0.5, 1.5, 50)
    g = framead.grad(rosen)(x)
    assert made[0] <= 5, made[0]
    want = np.zeros_like(x)
    want[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    want[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    np.testing.assert_allclose(g, want, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, ">f8"])
def test_other_dtypes_go_to_python(dtype, monkeypatch):
    def f(x):
        y = np.zeros(3, dtype=dtype)
        y[0] = x[1] * 2.0
        y[2] = x[0] * x[2]
        return float(np.sum(y))

    x = np.array([0.5, 1.5, 2.5])
    monkeypatch.setenv("FRAMEAD_BACKWARD", "loop")
    c = framead.grad(f)(x)
    monkeypatch.setenv("FRAMEAD_BACKWARD", "pyloop")
    np.testing.assert_array_equal(c, framead.grad(f)(x))
    np.testing.assert_allclose(c, [2.5, 2.0, 0.5], rtol=1e-6)
