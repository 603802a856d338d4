"""The C step loop's fused steps for ``a[i]`` and ``a[i] = v`` of float64 arrays (one element:
an int for 1-d, a tuple of ints)
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
    into a fresh array, a copy of x and a 5x5 matrix of x (by ``[i, j]``), whole-array
    operations in between."""
    lines = ["    y = np.zeros(5)", "    z = x.copy()", "    m = np.outer(x, x) * 0.5",
             "    s = 0.0"]
    for _ in range(draw(st.integers(2, 9))):
        arr = draw(st.sampled_from(["y", "z", "m"]))
        ai, aj, ak = (draw(st.sampled_from(IDX)) for _ in range(3))  # keys into arr
        if arr == "m":  # one element of the matrix: [i, j]
            ai, aj, ak = f"{ai}, {aj}", f"{aj}, {ak}", f"{ak}, {ai}"
        xi, xj = (draw(st.sampled_from(IDX)) for _ in range(2))  # indices into x
        form = draw(st.sampled_from([
            "{a}[{ai}] = x[{xi}] * x[{xj}] + 0.5",
            "{a}[{ai}] = {a}[{aj}] * 1.5 - x[{xi}]",
            "{a}[{ai}] += x[{xi}] ** 2",
            "{a}[{ai}] = s * 0.25 + {a}[{ak}]",
            "s = s + {a}[{ai}] * x[{xi}]",
            "s = s + x[{xi}] / (1.0 + x[{xj}] * x[{xj}])",
            "s = s + 0.1 * float(np.sum({a} * x))",
            "{a} = {a} * 1.25",
            "s = s + {a}[{ai}]",
        ]))
        lines.append("    " + form.format(a=arr, ai=ai, aj=aj, ak=ak, xi=xi, xj=xj))
    return ("import numpy as np\n\n\ndef f(x):\n" + "\n".join(lines) +
            "\n    return s + float(np.sum(y * y)) + float(np.sum(z)) * 0.5 + float(np.sum(m))\n")


def _check_c_against_python(src, x, tmp_path_factory, monkeypatch, name):
    """Gradient of ``src``'s ``f`` at ``x`` by the C step loop and by the Python one: bit for
    bit equal and close to central differences. Returns the rule names of the nodes the C
    loop left to Python steps."""
    from framead import reverse  # noqa: PLC0415 - patched below

    note(src)
    mod, _ = load_source_module(src, tmp_path_factory.mktemp(name), f"framead_{name}")
    made: list = []
    orig = reverse._make_step
    monkeypatch.setattr(reverse, "_make_step",
                        lambda node, check: (made.append(node.rule.name),
                                             orig(node, check))[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        monkeypatch.setenv("FRAMEAD_BACKWARD", "loop")
        c = framead.grad(mod.f)(x)
        in_python = list(made)
        monkeypatch.setenv("FRAMEAD_BACKWARD", "pyloop")
        py = framead.grad(mod.f)(x)
    np.testing.assert_array_equal(c, py)
    eps = 1e-6
    fd = np.zeros_like(x)
    for k in range(x.size):
        e = np.zeros_like(x)
        e.flat[k] = eps
        fd.flat[k] = (mod.f(x + e) - mod.f(x - e)) / (2 * eps)
    np.testing.assert_allclose(c, fd, rtol=1e-5, atol=1e-5)
    return in_python


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(src=programs(), seed=st.integers(0, 2 ** 16))
def test_c_and_python_step_loops_agree(src, seed, tmp_path_factory, monkeypatch):
    x = np.random.default_rng(seed).uniform(0.5, 1.5, N)
    _check_c_against_python(src, x, tmp_path_factory, monkeypatch, "fused")


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


def lu_solve(a, b):
    """Doolittle LU without pivoting and the two triangular solves, element by element."""
    n = len(b)
    lu = a.copy()
    for k in range(n):
        for i in range(k + 1, n):
            lu[i, k] = lu[i, k] / lu[k, k]
            for j in range(k + 1, n):
                lu[i, j] = lu[i, j] - lu[i, k] * lu[k, j]
    y = b.copy()
    for i in range(n):
        for j in range(i):
            y[i] = y[i] - lu[i, j] * y[j]
    x = y.copy()
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            x[i] = x[i] - lu[i, j] * x[j]
        x[i] = x[i] / lu[i, i]
    return float(np.sum(x * x))


def test_classic_lu_matches_numpy_and_takes_the_c_steps(monkeypatch):
    from framead import reverse  # noqa: PLC0415 - patched below

    made = [0]
    orig = reverse._make_step
    monkeypatch.setattr(reverse, "_make_step",
                        lambda node, check: (made.__setitem__(0, made[0] + 1),
                                             orig(node, check))[1])
    monkeypatch.setenv("FRAMEAD_BACKWARD", "loop")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 6)) + 6.0 * np.eye(6)
    b = rng.standard_normal(6)
    ga, gb = framead.grad(lu_solve, argnums=(0, 1))(a, b)
    assert made[0] <= 10, made[0]
    # d/db |A^-1 b|^2 = 2 A^-T x, d/dA = -2 (A^-T x) x^T
    x = np.linalg.solve(a, b)
    w = np.linalg.solve(a.T, x)
    np.testing.assert_allclose(gb, 2 * w, rtol=1e-10)
    np.testing.assert_allclose(ga, -2 * np.outer(w, x), rtol=1e-10)
    monkeypatch.setenv("FRAMEAD_BACKWARD", "pyloop")
    ga2, gb2 = framead.grad(lu_solve, argnums=(0, 1))(a, b)
    np.testing.assert_array_equal(ga, ga2)
    np.testing.assert_array_equal(gb, gb2)


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


_CONSTS = ["0.25", "3", "np.float64(-1.5)"]
_FORMS = ["{c} * {a}", "{a} * {c}", "{a} / {c}", "{c} / {a}", "{a} + {c}", "{c} - {a}",
          "{a} - {c}"]


@st.composite
def constant_programs(draw, consts=tuple(_CONSTS), setup=(), last="{a} * {a}") -> str:
    """Whole-array arithmetic where one operand is a constant (``c * u``, ``u / c``,
    ``c / u``, ``c - u``...: ``consts``, named by the lines ``setup``), on arrays whose
    primal the rule keeps or not."""
    lines = ["    u = x * 1.0", "    v = np.sin(x)", *setup]
    for _ in range(draw(st.integers(2, 7))):
        a = draw(st.sampled_from(["u", "v"]))
        c = draw(st.sampled_from(consts))
        form = draw(st.sampled_from([*_FORMS, last]))
        lines.append(f"    {draw(st.sampled_from(['u', 'v']))} = " + form.format(a=a, c=c))
    return ("import numpy as np\n\n\ndef f(x):\n" + "\n".join(lines) +
            "\n    return float(np.sum(u * v)) + float(np.sum(u))\n")


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(src=constant_programs(), seed=st.integers(0, 2 ** 16))
def test_array_nodes_with_a_constant_operand_run_in_c_bit_for_bit(src, seed, tmp_path_factory,
                                                                  monkeypatch):
    """``c * u`` needs ``c``, not ``u``'s primal (which its rule does not keep): the C step
    loop takes such nodes (a stencil's ``0.25 * (...)`` once went to Python each step), and
    agrees with the Python step loop bit for bit and with finite differences."""
    x = np.random.default_rng(seed).uniform(0.5, 1.5, 7)
    in_python = _check_c_against_python(src, x, tmp_path_factory, monkeypatch, "const")
    assert len(in_python) <= 5, in_python  # (float and np.sum twice, np.sin)


# constant float64 arrays that broadcast to (4, 3): (4, 3), (4, 1), (3,), 0-d, (1, 3)
_ARRAY_CONSTS = {"W": "np.linspace(0.5, 1.5, 12).reshape(4, 3)",
                 "R": "np.linspace(0.5, 1.5, 4)[:, None]", "K": "np.array([0.5, -2.0, 1.25])",
                 "Z": "np.array(0.75)", "T": "np.ones((1, 3)) * 1.5"}


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(src=constant_programs(tuple(_ARRAY_CONSTS), tuple(
    f"    {k} = {v}" for k, v in _ARRAY_CONSTS.items()), "{c} + {a}"),
       seed=st.integers(0, 2 ** 16))
def test_constant_arrays_that_broadcast_run_in_c_bit_for_bit(src, seed, tmp_path_factory,
                                                             monkeypatch):
    """A node on a traced array and a constant float64 array that broadcasts to it needs no
    unbroadcast (the traced side has the output's shape): its inline formula runs in the C
    step loop, bit for bit as the Python step loop runs it, and the gradient matches finite
    differences; a cached replay (steps) gives the same gradient."""
    x = np.random.default_rng(seed).uniform(0.5, 1.5, (4, 3))
    in_python = _check_c_against_python(src, x, tmp_path_factory, monkeypatch, "bconst")
    assert not [r for r in in_python if r.startswith("operator.")], in_python
    mod, _ = load_source_module(src, tmp_path_factory.mktemp("bconst_r"), "framead_bconst_r")
    monkeypatch.setenv("FRAMEAD_REPLAY", "loop")
    vg = framead.value_and_grad(mod.f, cache=True)
    vg(x)
    y = x[::-1].copy()
    got, want = vg(y), framead.value_and_grad(mod.f)(y)
    assert vg.stats["hits"] == 1
    np.testing.assert_allclose(got[1], want[1], rtol=1e-13, atol=1e-300)


@st.composite
def view_programs(draw) -> str:
    """Pairwise loops over the rows of a (5, 3) array (the nbody pattern): row and tail reads
    (``x[i]``, ``x[i + 1:]``), ``[:, None]`` reads, axis sums and in-place row updates, so a
    read's cotangent is sometimes absent, sometimes the pass's own and sometimes another
    step's array (not the pass's)."""
    lines = ["    acc = np.zeros_like(x)", "    s = 0.0"]
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, 3))
        w = draw(st.sampled_from(["0.5", "x[{j}, 0]", "np.sum(x[{j}])"])).format(
            j=draw(st.integers(0, 4)))
        lines += [f"    d = x[{i} + 1:] - x[{i}]",
                  "    r = np.sum(d * d, axis=1) + 0.5",
                  draw(st.sampled_from(["    f = d * (1.0 / r)[:, None]",
                                        "    f = d / r[:, None]",
                                        f"    f = d * {w}"])),
                  draw(st.sampled_from([f"    acc[{i}] += np.sum(f, axis=0)",
                                        f"    acc[{i} + 1:] -= f",
                                        f"    s = s + float(np.sum(f * x[{i}]))"]))]
    return ("import numpy as np\n\n\ndef f(x):\n" + "\n".join(lines) +
            "\n    return s + float(np.sum(acc * x))\n")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(src=view_programs(), seed=st.integers(0, 2 ** 16))
def test_view_reads_run_in_c_bit_for_bit(src, seed, tmp_path_factory, monkeypatch):
    """A view read's step (``x[i]``, ``x[i + 1:]``, ``r[:, None]``) runs in C whether its
    cotangent is absent, the pass's own or another step's (copied first, as the Python step
    does), and agrees with the Python step loop bit for bit and with finite differences."""
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, (5, 3))
    in_python = _check_c_against_python(src, x, tmp_path_factory, monkeypatch, "views")
    assert "operator.getitem" not in in_python, in_python
