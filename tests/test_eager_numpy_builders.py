"""NumPy's array builders and fills in an eager frame given Tracers (capture/eager_builders.py,
capture/eager_flat.py).

An eager function (``@framead.eager``) is given a traced value ``y`` of each kind (a float,
an np.float64, a 0-d array: each a Tracer there) and ``x``; it builds an array from them
(``np.full``, ``full_like``, ``tile``, ``repeat``, ``broadcast_to``, ``np.array``/``asarray``
of lists, ``np.stack``/``hstack`` of scalars, ``copyto``, ``a.fill``/``a.put``, ``a[k] = y``
into ``np.zeros``, ``np.float64(y)``...) and reads it back (weighted sums, ``a.flat[k]``,
iteration of ``a.flat``, a write through ``a.flat``). The oracle is independent: the value
equals the native run's and the gradient equals central differences of the native run in
float64, with no hazard but FA201 (``np.fromiter``, which has no rule in either engine: FA101
at its line). Text: ``np.array([y, x], dtype=str)`` gives the native str array and a parse
of it is FA111 at the parse's line; not parsed, nothing is reported.
"""

from __future__ import annotations

import linecache
import math

import numpy as np
import pytest
from conftest import FAKE, fd_grad
from hypothesis import given, settings
from hypothesis import strategies as st

import framead

pytestmark = pytest.mark.skipif(FAKE, reason="tests framead's eager engine itself")

# how the caller (instrumented) makes y from x: each reaches the eager frame as a Tracer
KINDS = {"float": "x * x", "np.float64": "np.float64(x) * x", "0-d array": "np.asarray(x * x)"}
# the eager frame's builder: statements ending with ``a = ...`` (y, x: its traced values)
BUILDERS = {
    "np.full": "a = np.full(3, y)",
    "np.full 2-d": "a = np.full((2, 3), y)",
    "np.full 0-d": "a = np.full((), y)",
    "np.full dtype": "a = np.full(2, y, dtype=float)",
    "np.full_like": "a = np.full_like(np.zeros(3), y)",
    "ones * 0 + y": "a = np.ones(3) * 0 + y",
    "np.tile": "a = np.tile(y, 3)",
    "np.repeat": "a = np.repeat(y, 2)",
    "np.broadcast_to": "a = np.broadcast_to(y, (3,))",
    "np.array list": "a = np.array([y, x])",
    "np.array nested": "a = np.array([[y, x], [x * 2.0, y]])",
    "np.array float": "a = np.array([y, 2.0 * x], dtype=float)",
    "np.array object": "a = np.array([y, x], dtype=object)",
    "np.asarray tuple": "a = np.asarray((y, x))",
    "np.asanyarray": "a = np.asanyarray([x, y])",
    "np.ascontiguousarray": "a = np.ascontiguousarray([y, x])",
    "np.stack": "a = np.stack([y, x])",
    "np.hstack": "a = np.hstack([y, x])",
    "np.vstack": "a = np.vstack([y, x])",
    "np.concatenate": "a = np.concatenate([np.atleast_1d(y), np.atleast_1d(x)])",
    "np.copyto list": "a = np.zeros(2); np.copyto(a, [y, x])",
    "np.copyto scalar": "a = np.zeros(2); np.copyto(a, y)",
    "a.fill": "a = np.zeros(3); a.fill(y)",
    "a.put": "a = np.zeros(3); a.put([0, 2], [y, x])",
    "np.put": "a = np.zeros(3); np.put(a, [1], [y])",
    "a[:] = list": "a = np.zeros(2) + 0.0 * x; a[:] = [y, x]",
    "zeros; a[k] = y": "a = np.zeros(3); a[0] = y; a[2] = x * y",
    "zeros 2-d; a[k] = list": "a = np.zeros((2, 2)); a[1] = [y, x]",
    "zeros; a[1:] = array": "a = np.zeros(3); a[1:] = np.full(2, y)",
    "complex views written": "z = np.zeros(2, dtype=complex); z.real[:] = [y, x]; "
                             "z.imag[:] = y; z.imag *= 2.0; a = np.abs(z)",
    "a.flat = y": "a = np.zeros(3) + 0.0 * x; a.flat = y",
    "a.shape = s": "a = np.full(4, y) * np.arange(4.0); a.shape = (2, 2)",
    "np.float64(y)": "a = np.float64(y) * np.ones(2)",
    "np.fromiter": "a = np.fromiter([y, x], float)",
}
# (builder, kind) -> the hazard reported at the builder's line instead of the gradient
EXPECTED = {("np.fromiter", k): "FA101" for k in KINDS}  # (no rule: reported, both engines)
# how the eager frame reads the array back (``v``: a Tracer of a number)
USES = {
    "weighted sum": "v = np.sum(a * np.arange(1.0, a.size + 1).reshape(a.shape))",
    "flat[-1]": "v = a.flat[-1]",
    "flat[k] sum": "v = a.flat[0] * 2.0 + a.flat[a.size - 1]",
    "iterate flat": "v = sum(t * t for t in a.flat)",
    "next(flat)": "f = a.flat; v = next(f) + next(f, 0.0)",
    "write flat": "b = np.atleast_1d(a) * 1.0; b.flat[0] = y * 3.0; v = b.sum()",
    "max": "v = a.max()",
    "ravel": "v = (np.ravel(a) ** 2).mean()",
}
_N = [0]


def _programs(kind: str, build: str, use: str):
    """(native prog, eager prog, file, builder line, reader line)."""
    _N[0] += 1
    name = f"<eager builders {_N[0]}>"
    src = (f"def inner(y, x):\n    {build}\n    {use}\n    return v * x + y\n\n\n"
           f"def prog(x):\n    return inner({KINDS[kind]}, x)\n")
    linecache.cache[name] = (len(src), None, src.splitlines(True), name)
    progs = []
    for eager in (False, True):
        ns = {"np": np}
        exec(compile(src, name, "exec"), ns)
        if eager:
            ns["inner"] = framead.eager(ns["inner"])
        progs.append(ns["prog"])
    return progs[0], progs[1], name, 2, 3


def _judge(builder: str, kind: str, use: str, x: float) -> None:
    native, prog, file, at_build, at_use = _programs(kind, BUILDERS[builder], USES[use])
    want = native(x)
    value, g = framead.value_and_grad(prog)(x)
    case = (builder, kind, use, x)
    assert value == want or (math.isnan(want) and math.isnan(value)), (case, value, want)
    hz = framead.trace(prog, x).hazards
    at = {(h.code, h.loc.line) for h in hz if h.loc.file == file and h.code != "FA201"}
    expected = EXPECTED.get((builder, kind))
    if expected is not None:
        assert (expected, at_build) in at, (case, at)
        return
    ref = fd_grad(native, (x,))
    assert math.isclose(g, ref, rel_tol=1e-6, abs_tol=1e-9), (case, g, ref, at)
    assert not at, (case, at)  # (right, and no false alarm)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("builder", sorted(BUILDERS))
def test_every_builder_every_kind(builder, kind):
    _judge(builder, kind, "weighted sum", 0.7)


@settings(max_examples=120, deadline=None)
@given(st.sampled_from(sorted(BUILDERS)), st.sampled_from(sorted(KINDS)),
       st.sampled_from(sorted(USES)), st.sampled_from([0.7, -1.3, 2.5, 0.35]))
def test_builders_fuzzed(builder, kind, use, x):
    _judge(builder, kind, use, x)


TEXT_PARSES = {"float(a[0])": "v = float(a[0])", "astype": "v = a.astype(float)[0]",
               "np.float64": "v = np.float64(a[1])", "none": "v = 0.5 * a.size"}


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["np.array", "np.asarray", "np.asanyarray"]),
       st.sampled_from(["str", "'U30'", "'S30'"]), st.sampled_from(sorted(KINDS)),
       st.sampled_from(sorted(TEXT_PARSES)), st.sampled_from([0.7, -1.3, 2.5]))
def test_str_array_of_tracers(builder, dtype, kind, parse, x):
    """``np.array([y, x], dtype=str)`` of Tracers: the native str array (it raised
    ValueError); a number parsed from it is FA111 at the parse's line; its size read, nothing
    (the gradient of ``x * y`` then right against central differences)."""
    build = f"a = {builder}([y, x], dtype={dtype}); s = a"
    native, prog, file, _, at_use = _programs(kind, build, TEXT_PARSES[parse])
    assert framead.value_and_grad(prog)(x)[0] == native(x)
    src = f"def f(x):\n    y = {KINDS[kind]}\n    {build}\n    return s\n"
    ns: dict = {"np": np}
    exec(src, ns)
    made = framead.eager(ns["f"])
    got = []
    framead.value_and_grad(lambda x: got.append(made(x)) or x * 1.0)(x)
    assert got[0].dtype == ns["f"](x).dtype and (got[0] == ns["f"](x)).all()
    hz = framead.trace(prog, x).hazards
    fa111 = [(h.loc.file, h.loc.line) for h in hz if h.code == "FA111"]
    if parse == "none":
        assert not fa111, hz
        g = framead.grad(prog)(x)
        assert math.isclose(g, fd_grad(native, (x,)), rel_tol=1e-6), (g, parse)
    else:
        assert (file, at_use) in fa111, ([(h.code, h.loc.short()) for h in hz], build)


# an array Tracer handed from an eager frame to instrumented code that makes an object array
# of it (np.vectorize's asanyarray(a, dtype=object)): special_forms.to_object_array compared
# the whole Tracer with each item and raised "truth value of an array is ambiguous"


def _to_objects(a):
    return np.asanyarray(a, dtype=object)[1] + 0.0


class _Call:
    def __call__(self, a):
        return np.array(a, dtype=object)[0] * 2.0


@pytest.mark.parametrize("use", ["function", "callable", "vectorize", "astype"])
def test_array_tracer_into_instrumented_object_array(use):
    def body(x):
        a = x * np.ones(2) + np.array([0.0, x])
        if use == "function":
            return _to_objects(a) + x
        if use == "callable":
            return _Call()(a) + x
        if use == "vectorize":
            return float(np.vectorize(math.sin)(a)[1]) + x
        return float(a.astype(object)[1]) * x

    eager_body = framead.eager(body)
    x = 0.7
    assert eager_body(x) == body(x)  # (native)
    t = framead.trace(eager_body, x)
    assert t.value == body(x)
    g = framead.grad(eager_body)(x)
    want = fd_grad(body, (x,))
    assert math.isclose(g, want, rel_tol=1e-6, abs_tol=1e-8) or \
        any(h.code != "FA201" for h in t.hazards), (use, g, want)
