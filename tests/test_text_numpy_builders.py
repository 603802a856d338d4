"""NumPy's array builders given text of traced values: a parse only when they make numbers.

``np.array([s], dtype=float)`` (and ``np.asarray``, ``np.fromiter``, ``np.full``, an array of
a str array) parses the text ``s``; made from a traced ``y``, the number is a constant and
FA111 is reported at the builder's line (capture/text_taint.py, ``BUILDERS``). The same builder
making a str or object array (``np.array([s])``), given constant text, or given the traced
values themselves parses nothing of ``y``'s: no FA111 (a false alarm is a defect) and the
gradient is right against central differences of the native run (or another hazard says why
not). Fuzzed over builder x data x dtype x engine; the oracle is the program's shape.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from conftest import FAKE, fd_grad
from hypothesis import given, settings
from hypothesis import strategies as st
from test_text_parsers_engines import ENGINES, _program

import framead

pytestmark = pytest.mark.skipif(FAKE, reason="tests framead's text taint itself")

# data given to the builder: (source, whether it holds y's text)
DATA = {"tainted": ("[s]", True), "mixed": ("[s, '2.5']", True), "const": ("['2.5']", False),
        "traced": ("[y, x]", False), "str of const": ("[str(1.5)]", False)}
# dtype argument: (source, whether the builder makes numbers of text)
DTYPES = {"none": ("", False), "float": (", dtype=float", True), "f8": (", 'f8'", True),
          "object": (", dtype=object", False), "str": (", dtype=str", False)}
BUILDERS = {"np.array": "np.array({d}{t})", "np.asarray": "np.asarray({d}{t})",
            "array of array": "np.array(np.array({d}){t})",
            "np.full": "np.full(1, {d}[0]{t})", "np.asanyarray": "np.asanyarray({d}{t})"}


# (an eager frame's builders given Tracers: capture/eager_builders.py; no known defect left)
KNOWN: dict[tuple[str, str, str, str], str] = {}


def _case(builder: str, data: str, dtype: str, engine: str, x: float = 0.7) -> None:
    (d, tainted), (t, numeric) = DATA[data], DTYPES[dtype]
    if data == "traced" and dtype == "str":
        numeric = False  # (str of y: text, not a parse)
    body = ["y = x * x", "s = repr(y)", f"a = {BUILDERS[builder].format(d=d, t=t)}  # PARSE",
            "v = float(a.flat[0]) if a.dtype.kind in 'fc' else 0.0", "return v + x * y"]
    native, prog, file, line = _program(body, engine)
    value, g = framead.value_and_grad(prog)(x)
    assert value == native(x), body
    hz = framead.trace(prog, x).hazards
    fa111 = (file, line) in [(h.loc.file, h.loc.line) for h in hz if h.code == "FA111"]
    assert fa111 == (tainted and numeric), (body, [(h.code, h.loc.short()) for h in hz])
    if not fa111:
        assert math.isclose(g, fd_grad(native, (x,)), rel_tol=1e-6) or [
            h for h in hz if h.code not in ("FA111", "FA201")], (body, g)


def _grid():
    for builder in sorted(BUILDERS):
        for data in ("tainted", "const", "traced"):
            for dtype in ("none", "float", "str"):
                for engine in ENGINES:
                    why = KNOWN.get((builder, data, dtype, engine))
                    yield pytest.param(builder, data, dtype, engine, marks=[
                        pytest.mark.xfail(strict=True, reason=why)] if why else [])


@pytest.mark.parametrize(("builder", "data", "dtype", "engine"), list(_grid()))
def test_builders_grid(builder, data, dtype, engine):
    _case(builder, data, dtype, engine)


_CASES = [c for c in itertools.product(sorted(BUILDERS), sorted(DATA), sorted(DTYPES), ENGINES)
          if c not in KNOWN]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(_CASES), st.sampled_from([0.7, -1.2, 3.5, 1e-3]))
def test_builders_fuzzed(case, x):
    _case(*case, x=x)


@pytest.mark.parametrize("engine", ENGINES)
def test_fromiter_and_copyto(engine):
    """``np.fromiter`` of a list of y's text and ``np.copyto`` of it into a float array:
    FA111 at each line; of constant text: silent (the gradient 2x + 1 is right then)."""
    for text, want in (("s", True), ("'2.5'", False)):
        for line in (f"a = np.fromiter([{text}], float)  # PARSE",
                     f"a = np.zeros(1); np.copyto(a, {text}, casting='unsafe')  # PARSE"):
            native, prog, file, at = _program(["y = x * x", "s = repr(y)", line,
                                               "return float(a[0]) + x + y"], engine)
            value, g = framead.value_and_grad(prog)(0.4)
            assert value == native(0.4)
            hz = framead.trace(prog, 0.4).hazards
            got = (file, at) in [(h.loc.file, h.loc.line) for h in hz if h.code == "FA111"]
            assert got == want, (line, [(h.code, h.loc.short()) for h in hz])
            if not want:
                assert math.isclose(g, fd_grad(native, (0.4,)), rel_tol=1e-6)


def test_no_text_leaves_builders_unrouted():
    """A program that makes no text: NumPy's builders are not routed (their C flags as they
    were during and after the capture: what it costs them is nothing)."""
    from framead.capture import _evalframe as C  # noqa: PLC0415

    seen = []

    def prog(x):
        seen.append([C.get_callable_flags(f) for f in (np.array, np.asarray, np.copyto)])
        return float(np.asarray([x, 2.0], dtype=float).sum()) * x

    before = [C.get_callable_flags(f) for f in (np.array, np.asarray, np.copyto)]
    assert framead.grad(prog)(0.5) == pytest.approx(fd_grad(prog, (0.5,)), rel=1e-6)
    assert seen[-1] == before == [C.get_callable_flags(f) for f in (np.array, np.asarray,
                                                                     np.copyto)]


WRITERS = {"a.fill": "a.fill({t})", "a.put": "a.put(0, {t})", "np.put": "np.put(a, [0], [{t}])",
           "np.ndarray.fill": "np.ndarray.fill(a, {t})"}


def _writers():
    for way in sorted(WRITERS):
        for engine in ENGINES:
            yield pytest.param(way, engine, id=f"{way}-{engine}")


@pytest.mark.parametrize(("way", "engine"), list(_writers()))
def test_text_written_into_number_array(way, engine):
    """y's text written into a float array (``fill``, ``put``) is parsed: FA111 at that line;
    constant text, or y's text into a str array, is silent and the gradient right."""
    for text, dtype, want in (("s", "float", True), ("'2.5'", "float", False),
                              ("s", "'U30'", False)):
        native, prog, file, at = _program([
            "y = x * x", "s = repr(y)", f"a = np.zeros(1, {dtype})",
            WRITERS[way].format(t=text) + "  # PARSE",
            "return (float(a[0]) if a.dtype.kind == 'f' else 0.0) + x + y"], engine)
        value, g = framead.value_and_grad(prog)(0.4)
        assert value == native(0.4)
        hz = framead.trace(prog, 0.4).hazards
        got = (file, at) in [(h.loc.file, h.loc.line) for h in hz if h.code == "FA111"]
        assert got == want, (way, text, dtype, [(h.code, h.loc.short()) for h in hz])
        if not want:
            assert math.isclose(g, fd_grad(native, (0.4,)), rel_tol=1e-6)
