"""The step loop's memo of decisions by node kind (framead/reverse_steps.py): a node's step
is decided once per kind (rule, argument kinds, shapes, dtypes, saves, keys), then filled in
from each node. A wrong memo would give one node another kind's step: the formulas of a
shipped rule to a rule registered in its place, a fused accumulator to an advanced index,
no unbroadcast to a broadcasting argument, no shape check to a user rule, or the wrong
dtype's handling. The step loop with the memo must give the same bits as without it (each
node decided afresh) and as the C-less step loop, agree with compiled source (to the last
bits: it calls the rules' VJPs where the step loop takes inline formulas) and with central
differences.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import load_source_module
from framead.rules import registry
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

import framead
from framead import reverse, reverse_steps
from framead.reverse import RuleOutputError

DTYPES = {"float32": "{v}.astype(np.float32)", "float64": "{v} * 1.0",
          "complex128": "{v}.astype(np.complex128) * (1.0 + 0.5j)"}
# one statement each, of names {a}, {b} (4x3 arrays of the program's dtype) into {t}; y_ is a
# (3,) and s_ a (4, 1) array of that dtype (broadcasting), {c} a float constant, x the
# float64 input (mixed dtypes)
FORMS = [
    "{t} = {a} + {b}", "{t} = {a} - {b}", "{t} = {b} * {a}", "{t} = {a} * {c}",
    "{t} = {c} * {a} - {b}", "{t} = -{a}", "{t} = {a} / (1.5 + {b} * {b})", "{t} = {a} ** 2",
    "{t} = {a} ** 3 * 0.1", "{t} = np.sin({a}) * {b}", "{t} = np.exp(0.25 * {a})",
    "{t} = {a} * y_", "{t} = y_ - {a}", "{t} = {a} * s_ + {b}",
    "{t} = np.sum({a}, axis=0) * {b}", "{t} = {a}[::-1] + {b}[:, ::-1]",
    "{t} = {a}.copy(); {t}[1:, :] = {b}[:-1, :] * 0.5",
    "{t} = {a} * 1.0; {t}[:, 0] = {b}[:, 1]",
    "{t} = {a}.copy(); {t}[2] = {b}[0] * {c}",
    "{t} = {a}.copy(); {t}[..., 1:] += {b}[..., :-1]",
    "{t} = {a}.copy(); {t}[[0, 3]] = {b}[[1, 2]]",
    "{t} = {a}.copy(); {t}[np.int64(1)] = 2.0 * {b}[np.int64(2)]",
    "{t} = {a}.copy(); {t}[1:3, ::2] = y_[::2]",
    "{t} = {a}.copy(); {t}[1, 2] = {a}[0, 1] * {b}[2, 0]",
    "{t} = {a}.copy(); {t}[0] = 3.0",
    "{t} = {a}[None][0] * {b}[..., :]",
    "{t} = {a} + {b}[np.array([3, 2, 1, 0])]",
    "{t} = scale3({a}) + {b}",
    "{t} = {a} * x", "{t} = x - {a} * {c}", "{t} = {a}.copy(); {t}[0] = x[1] * {c}",
    "{t} = {a}.copy(); {t}[1:] = x[:-1]", "{t} = np.sin(x) * {a}",
]
CONSTS = ["0.5", "-1.25", "2.0", "0.75"]


def _scale3(v):
    return 3.0 * v


registry.register(_scale3, vjp=(lambda g, ans, v: 3.0 * g,), saves={0: ()})


@st.composite
def programs(draw) -> str:
    """A function of x (4x3) and y (3,): the inputs cast to one dtype, then statements of
    FORMS on earlier names; the result is a real scalar mixing every name."""
    dtype = draw(st.sampled_from(sorted(DTYPES)))
    cast = DTYPES[dtype]
    lines = [f"    n0 = {cast.format(v='x')}", f"    y_ = {cast.format(v='y')}",
             "    n1 = n0[::-1] * y_ + 0.25", "    s_ = n0[:, :1] * 0.5"]
    names = ["n0", "n1"]
    for k in range(draw(st.integers(2, 8))):
        form = draw(st.sampled_from(FORMS))
        a = draw(st.sampled_from(names))
        b = draw(st.sampled_from(names))
        c = draw(st.sampled_from(CONSTS))
        lines.append("    " + form.format(t=f"n{k + 2}", a=a, b=b, c=c))
        names.append(f"n{k + 2}")
    terms = " + ".join(f"{0.1 * (i + 1)} * np.sum(np.real({n}) + 0.3 * np.imag({n}))"
                       for i, n in enumerate(names))
    return ("import numpy as np\n\n\ndef f(x, y):\n" + "\n".join(lines) +
            f"\n    return {terms}\n")


def _no_memo(node, check):
    raise TypeError("no memo: every node decided afresh")


def _grads(f, x, y, monkeypatch) -> dict:
    out = {}
    for mode in ("loop", "pyloop", "source"):
        monkeypatch.setenv("FRAMEAD_BACKWARD", mode)
        out[mode] = framead.grad(f, argnums=(0, 1))(x, y)
    monkeypatch.setenv("FRAMEAD_BACKWARD", "loop")
    with monkeypatch.context() as m:
        m.setattr(reverse_steps, "_kind", _no_memo)
        out["loop, no memo"] = framead.grad(f, argnums=(0, 1))(x, y)
    return out


def _same_bits(a, b) -> bool:
    return all(type(p) is type(q) and p.dtype == q.dtype and p.shape == q.shape and
               p.tobytes() == q.tobytes() for p, q in zip(a, b, strict=True))


@settings(max_examples=80, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(src=programs(), seed=st.integers(0, 2**16))
def test_memo_steps_agree_with_fresh_steps_source_and_differences(src, seed, tmp_path_factory,
                                                                 monkeypatch):
    note(src)
    mod, _ = load_source_module(src, tmp_path_factory.mktemp("stepmemo"), "framead_stepmemo",
                                scale3=_scale3)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, (4, 3))
    y = rng.uniform(-1.0, 1.0, 3)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        value = float(mod.f(x, y))
        assume(math.isfinite(value) and abs(value) < 1e6)
        got = _grads(mod.f, x, y, monkeypatch)
    ref = got["loop, no memo"]
    single = "float32" in src
    for name, g in got.items():
        if name == "source":
            # (compiled source calls the rules' VJPs where the step loop takes the inline
            # formulas of same-shape nodes, ``g * 3 * x ** 2`` for ``x ** 3``: the last bit
            # can differ)
            for p, q in zip(g, ref, strict=True):
                np.testing.assert_allclose(p, q, rtol=1e-5 if single else 1e-12,
                                           atol=1e-6 if single else 1e-14)
            continue
        assert _same_bits(g, ref), (name, g, ref)
    if single:
        return
    dx, dy = rng.standard_normal(x.shape), rng.standard_normal(y.shape)
    h = 1e-6
    with np.errstate(all="ignore"):
        fd = (float(mod.f(x + h * dx, y + h * dy)) - float(mod.f(x - h * dx, y - h * dy))) / (2 * h)
    want = float(np.sum(ref[0] * dx) + np.sum(ref[1] * dy))
    assume(math.isfinite(fd))
    assert abs(fd - want) <= 1e-5 * max(1.0, abs(want)), (fd, want)


def _mul_program(tmp_path_factory):
    src = ("import numpy as np\n\n\ndef f(x, y):\n    t = x * y\n    for _ in range(3):\n"
           "        t = t * y\n    return float(np.sum(t))\n")
    mod, _ = load_source_module(src, tmp_path_factory.mktemp("stepmemo"), "framead_stepmemo")
    return mod.f


def _sevens(g, ans, *args):
    return tuple(7.0 * g for _ in args)


def test_a_rule_registered_in_place_of_a_shipped_one_keeps_its_vjp(tmp_path_factory,
                                                                  monkeypatch):
    """The memo holds the shipped ``*``'s inline formula for same-shape float64 arrays; a
    rule registered in its place (``replace=True``) is another rule: its own VJP runs."""
    import operator  # noqa: PLC0415

    f = _mul_program(tmp_path_factory)
    x, y = np.linspace(0.5, 1.0, 5), np.linspace(1.0, 2.0, 5)
    monkeypatch.setenv("FRAMEAD_BACKWARD", "loop")
    before = framead.grad(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(before[0], y ** 4)
    saved = registry._BY_ID[id(operator.mul)]
    try:
        registry.register(operator.mul, vjp=_sevens, saves={0: (), 1: ()}, replace=True)
        gx, gy = framead.grad(f, argnums=(0, 1))(x, y)
        np.testing.assert_array_equal(gx, np.full(5, 7.0 ** 4))
    finally:
        registry._BY_ID[id(operator.mul)] = saved
        registry._GENERATION[0] += 1
    after = framead.grad(f, argnums=(0, 1))(x, y)
    assert _same_bits(before, after)


def test_a_user_rules_cotangents_are_checked_on_every_node(tmp_path_factory, monkeypatch):
    """A user rule whose VJP returns a wrongly shaped cotangent is caught on the first node
    and again on a later call, whose nodes of that kind come from the memo."""
    def bad(v):
        return 2.0 * v

    registry.register(bad, vjp=(lambda g, ans, v: np.sum(g),), saves={0: ()})

    def f(x):
        return float(np.sum(bad(x) * x))

    monkeypatch.setenv("FRAMEAD_BACKWARD", "loop")
    for _ in range(2):
        with pytest.raises(RuleOutputError):
            framead.grad(f)(np.ones(4))


def test_each_kind_is_decided_once(monkeypatch):
    """A time loop of array nodes: a handful of decisions for thousands of nodes."""
    decided = [0]
    real = reverse_steps._decide

    def counting(node, check):
        decided[0] += 1
        return real(node, check)

    monkeypatch.setattr(reverse_steps, "_decide", counting)
    monkeypatch.setattr(reverse_steps, "_memo", {})
    monkeypatch.setenv("FRAMEAD_BACKWARD", "loop")

    def heat(u0):
        u = u0.copy()
        for _ in range(200):
            u[1:-1] = u[1:-1] + 0.25 * (u[2:] - 2.0 * u[1:-1] + u[:-2])
            u[0] = 0.0
            u[-1] = u[-2]
        return np.sum(u ** 2)

    u0 = np.sin(np.linspace(0.0, 3.0, 50))
    g = framead.grad(heat)(u0)
    assert decided[0] <= 20, decided[0]
    monkeypatch.setattr(reverse_steps, "_kind", _no_memo)
    assert _same_bits((g,), (framead.grad(heat)(u0),))


def test_the_memo_is_bounded_and_holds_no_arrays(monkeypatch):
    """Distinct kinds (here ``**`` by many int exponents, and many shapes) never grow the
    memo past its limit, and what it keeps are rules, VJPs, types and small tuples: no
    primal, Value or node."""
    monkeypatch.setattr(reverse_steps, "MEMO_LIMIT", 16)
    monkeypatch.setattr(reverse_steps, "_memo", {})
    monkeypatch.setenv("FRAMEAD_BACKWARD", "loop")

    def f(x):
        s = 0.0
        for k in range(1, 40):
            s = s + np.sum(x[:k % 7 + 1] ** k) * 0.01
        return s

    x = np.linspace(0.1, 0.9, 8)
    g = framead.grad(f)(x)
    assert len(reverse_steps._memo) <= 16
    monkeypatch.setattr(reverse_steps, "_kind", _no_memo)
    assert _same_bits((g,), (framead.grad(f)(x),))

    def walk(obj, depth=0):
        assert not isinstance(obj, np.ndarray | framead.ir.Value | framead.ir.Node), obj
        if depth > 6:
            return
        if isinstance(obj, tuple | list):
            for o in obj:
                walk(o, depth + 1)
        elif isinstance(obj, reverse_steps._Step):
            for s in reverse_steps._Step.__slots__:
                walk(getattr(obj, s, None), depth + 1)

    for key, d in reverse_steps._memo.items():
        walk(key)
        walk(d)


def test_grad_of_grad_records_the_steps_arithmetic(monkeypatch):
    """Under an outer capture the steps of memoised kinds still run as Python of
    framead/reverse.py, which the outer capture records: d/dx sum(d/dx sum(x**3 * y)) ."""
    monkeypatch.setenv("FRAMEAD_BACKWARD", "loop")

    def f(x):
        t = x * x
        for _ in range(4):
            t = t[::-1] * 1.0
        u = t.copy()
        u[1:] = t[1:] * x[1:]
        u[0] = t[0] * x[0]
        return np.sum(u)

    def g(x):
        return np.sum(framead.grad(f)(x))

    x = np.linspace(0.5, 1.5, 6)
    framead.grad(f)(x)  # (the memo knows these kinds)
    np.testing.assert_allclose(framead.grad(f)(x), 3 * x ** 2, rtol=1e-12)
    np.testing.assert_allclose(framead.grad(g)(x), 6 * x, rtol=1e-12)


def test_an_exception_in_a_memoised_step_names_its_node(monkeypatch):
    """A VJP that raises in a node whose step came from the memo: the note names that node."""
    def frail(v):
        return v * 1.0

    def boom(g, ans, v):
        raise FloatingPointError("frail")

    registry.register(frail, vjp=(boom,), saves={0: ()})

    def f(x):
        return float(np.sum(np.sin(x) * frail(x)))

    monkeypatch.setenv("FRAMEAD_BACKWARD", "loop")
    for _ in range(2):
        with pytest.raises(FloatingPointError) as info:
            framead.grad(f)(np.ones(3))
        assert any("frail" in n for n in getattr(info.value, "__notes__", [])), \
            info.value.__notes__


def test_step_memo_helpers_are_used_by_the_step_loop():
    assert reverse._make_step is reverse_steps._make_step
