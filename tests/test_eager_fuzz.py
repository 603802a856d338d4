"""Fuzzed ``@framead.eager`` program shapes: chains of helpers (plain or eager) called with
defaults, positional or keyword arguments, their results returned bare or in tuples, lists,
dicts and objects, then changed in the caller by scalar factors on either side, in-place
operators and ufuncs. ``grad(eager(f))`` must equal central finite differences of the native
run (float64) and ``grad(f)`` of the same source captured without ``eager``, or report a hazard
other than FA201 (which says the gradient is right).

Found: ``f(x, scale=1.0): return value(x) * scale`` with ``value`` a plain helper gave a zero
gradient silently: the instrumented helper's plain result was multiplied natively in the
eager frame (capture/eager.py now follows call results, attributes, items, globals and
cells into eager frames).
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
from conftest import FAKE, fd_grad
from hypothesis import given, settings
from hypothesis import strategies as st

import framead

pytestmark = pytest.mark.skipif(FAKE, reason="tests framead's eager fallback itself")

X = np.array([0.3, 0.7, 1.1])

LEAVES = ("np.sin(x) * x", "x ** 2 + 0.5 * x", "np.exp(0.3 * x)", "np.tanh(x) * s")
REDUCE = ("np.sum({})", "({}).sum()", "({})[1]", "np.dot({0}, {0})")
CALLS = ("{h}(x)", "{h}(x, 0.7)", "{h}(x, s=1.3)", "{h}(s=0.9, x=x)")
# how a callee hands v to its caller: (the callee's last lines, the caller's lines before the
# call, the caller's lines taking v back; "{call}" is the call, "{shape}" v's shape)
CHANNELS = (
    (["return v"], [], ["v = {call}"]),
    (["return v, 1.0"], [], ["v = {call}[0]"]),
    (["return 2.0, v"], [], ["_, v = {call}"]),
    (["return [v]"], [], ["v = {call}[0]"]),
    (["return {'v': v}"], [], ["v = {call}['v']"]),
    (["return Box(v)"], [], ["v = {call}.v"]),
    (["out[...] = v"], ["box = np.zeros({shape})"], ["{call}", "v = box[...] * 1.0"]),
    (["out[...] = v"], ["box = np.zeros({shape})"], ["{call}", "v = box"]),
    (["out.append(v)"], ["box = []"], ["{call}", "v = box[0]"]),
    (["out.append(v)"], ["box = []"], ["{call}", "for v in box:", "    pass"]),
    (["out.append(v)"], ["box = []"], ["{call}", "(v,) = box"]),
    (["out.v = v"], ["box = Box(None)"], ["{call}", "v = box.v"]),
    (["G = v"], [], ["{call}", "v = G"]),
)
SINKS = {i for i, c in enumerate(CHANNELS) if "out" in " ".join(c[0])}
OPS = ("v = v * {c}", "v = {c} * v", "v = v / {c}", "v = {c} - v", "v = np.tanh(v)",
       "v += {c}", "v *= {c}", "v = -v", "v = v ** 2", "v = abs(v) + v")
FACTORS = ("1.5", "s", "K", "BOX.k")


@st.composite
def programs(draw):
    """(source, depth): helper ``h0`` makes a value from x, ``h1..hN`` each call the one
    below and take its value back through a drawn channel; ``f`` calls the top one."""
    depth = draw(st.integers(1, 4))
    reduce_at = draw(st.integers(0, depth))  # the level whose result is a scalar
    chan = 0  # how the level below hands its value back (CHANNELS)
    lines = ["K = 1.25", "G = None", "class Box:", "    def __init__(self, v):",
             "        self.v = v", "        self.k = 0.8", "BOX = Box(None)"]
    for level in range(depth + 1):
        name = "f" if level == depth else f"h{level}"
        lines.append(f"@EAGER_{name}")
        lines.append(f"def {name}(x, s={draw(st.sampled_from(('1.0', '0.6')))}, *, out=None):")
        body = ["global G"]
        if level == 0:
            body.append(f"v = {draw(st.sampled_from(LEAVES))}")
        else:
            _, before, take = CHANNELS[chan]
            call = draw(st.sampled_from(CALLS)).format(h=f"h{level - 1}")
            if chan in SINKS:
                call = call[:-1] + ", out=box)"
            shape = "()" if level - 1 >= reduce_at else "3"
            body += [t.format(call=call, shape=shape) for t in before + take]
        if level == reduce_at:
            body.append(f"v = {draw(st.sampled_from(REDUCE)).format('v')}")
        elif level < reduce_at:
            body.append("v = v.copy()")  # (an array: in-place ops must not touch x)
        for op in draw(st.lists(st.sampled_from(OPS), max_size=3)):
            body.append(op.format(c=draw(st.sampled_from(FACTORS))))
        chan = draw(st.integers(0, len(CHANNELS) - 1)) if level < depth else 0
        body += CHANNELS[chan][0]
        lines += ["    " + b for b in body]
    return "\n".join(lines) + "\n", depth


def _build(source: str, depth: int, eager: set[str]):
    ns: dict = {"np": np}
    for i in range(depth + 1):
        name = "f" if i == depth else f"h{i}"
        ns[f"EAGER_{name}"] = framead.eager if name in eager else (lambda fn: fn)
    exec(compile(source, f"<eager fuzz {len(eager)}>", "exec"), ns)  # fresh code objects
    return ns["f"]


def _check(source: str, depth: int, eager_helpers: set[str], entry: str) -> None:
    native = _build(source, depth, set())
    plain = _build(source, depth, set())
    eager_f = _build(source, depth, {"f"} | eager_helpers)
    want_value = native(X.copy())
    fd = fd_grad(native, (X.copy(),), step=1e-5)
    g_plain = framead.grad(plain)(X.copy())
    atol = 1e-7 * (1.0 + np.max(np.abs(fd)))  # (central differences: error ~ h**2 |f'''|)
    np.testing.assert_allclose(g_plain, fd, rtol=1e-6, atol=atol, err_msg=source)
    if entry == "grad_of_eager":
        def run(x):
            return eager_f(x)
    else:  # an instrumented caller scales what the eager function returns
        def run(x):
            return eager_f(x) * 2.0
        want_value, fd, g_plain = want_value * 2.0, fd * 2.0, g_plain * 2.0
    target = eager_f if entry == "grad_of_eager" else run
    x = X.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (a zero gradient's warning: judged below)
        value, g = framead.value_and_grad(target)(x)
    np.testing.assert_array_equal(x, X)
    assert value == pytest.approx(want_value, rel=1e-13, abs=0), source
    if np.allclose(g, fd, rtol=1e-6, atol=atol) and np.allclose(g, g_plain, rtol=1e-10,
                                                                  atol=1e-12):
        return
    codes = {e.code for e in framead.coverage(target, X.copy()).entries}
    assert codes - {"FA201"}, (f"silently wrong gradient {g} (finite differences {fd}, "
                               f"instrumented {g_plain}), hazards {codes}\n{source}")


@settings(max_examples=120, deadline=None)
@given(prog=programs(), data=st.data(),
       entry=st.sampled_from(("grad_of_eager", "eager_in_instrumented_caller")))
def test_eager_program_shapes_match_fd_and_instrumented(prog, data, entry):
    source, depth = prog
    helpers = [f"h{i}" for i in range(depth)]
    eager_helpers = set(data.draw(st.lists(st.sampled_from(helpers), unique=True)))
    _check(source, depth, eager_helpers, entry)


def test_the_reported_case():
    def value(x):
        return np.sum(np.sin(x) * x)

    def f2(x, scale=1.0):
        return value(x) * scale

    want = np.sin(X) + X * np.cos(X)  # analytic
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no zero-gradient warning)
        np.testing.assert_allclose(framead.grad(framead.eager(f2))(X), want, rtol=1e-13)


def test_helper_results_keep_their_identity_in_the_eager_frame():
    def pair(x):
        y = np.sin(x)
        return y, y

    @framead.eager
    def f(x):
        a, b = pair(x)
        assert a is b  # (one Tracer per object, as natively one array)
        a *= 2.0  # in place: b sees it, as natively
        return np.sum(b) * 1.0

    np.testing.assert_allclose(framead.grad(f)(X), 2.0 * np.cos(X), rtol=1e-13)


def _warn_line(x):
    warnings.warn("from f", UserWarning, stacklevel=2)
    return np.sum(x * x)


def test_grad_of_eager_warns_at_the_users_line():
    f = framead.eager(_copy(_warn_line))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        g = framead.grad(f)(X)
    np.testing.assert_allclose(g, 2.0 * X, rtol=1e-14)
    mine = [m for m in w if str(m.message) == "from f"]
    assert [(m.filename, m.lineno) for m in mine] == [(__file__, line)], [
        (m.filename, m.lineno, str(m.message)) for m in w]


def _copy(fn):
    """``fn`` with its own code object (@eager marks a code object for good)."""
    import types
    return types.FunctionType(fn.__code__.replace(), fn.__globals__, fn.__name__,
                              fn.__defaults__, fn.__closure__)


def test_unfollowed_frame_is_reported(monkeypatch):
    """Where the probed copy cannot be made, the original code runs and FA103 says so."""
    from framead.capture import eager as eager_mod

    monkeypatch.setattr(eager_mod, "_following", lambda fn: None)

    def value(x):
        return np.sum(np.sin(x) * x)

    def f(x):
        return value(x) * 2.0

    ef = framead.eager(f)
    cov = framead.coverage(ef, X.copy())
    assert {e.code for e in cov.entries} == {"FA103", "FA201"}, str(cov)
