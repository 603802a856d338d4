"""Text of traced values read back as numbers: FA111 ``text-roundtrip`` at the user's line.

A traced value written as text (``'%.17g' % x``, ``str(x)``, an f-string, ``np.savetxt``) and
parsed back (``float(s)``, ``np.float64(s)``, ``Decimal(s)``, ``np.loadtxt``...) is a constant
to framead: with other terms of the result still traced, the whole-result check (FA108) does
not fire, so the parse itself reports (capture/text_taint.py). The reference for "wrong" is the
native run's central differences; a program that parses text of untraced values, or makes
text of traced values only to print it, reports nothing and differentiates right.
"""

from __future__ import annotations

import decimal
import fractions
import io

import numpy as np
import pytest
from conftest import fd_grad, hazard_sites, line_of
from framead.capture import _evalframe as C
from framead.capture.text_taint import READERS
from hypothesis import given, settings
from hypothesis import strategies as st

import framead

# text makers: how the text of a traced float is made (every one noted)
MAKERS = {
    "percent": lambda y: "%.17g" % y,  # noqa: UP031
    "percent_tuple": lambda y: "%s %.17g" % ("v", y),  # noqa: UP031
    "str": lambda y: str(y),
    "repr": lambda y: repr(float(y)),  # (NumPy 2 repr: "np.float64(...)")
    "format": lambda y: format(y, ".17g"),
    "fstring": lambda y: f"{y:.17g}",
}

# readers, each on its own line: the hazard is reported there
READ = {
    "float": lambda s: float(s.split()[-1]),  # read: float
    "float64": lambda s: np.float64(s.split()[-1]),  # read: float64
    "decimal": lambda s: float(decimal.Decimal(s.split()[-1])),  # read: decimal
    "fraction": lambda s: float(fractions.Fraction(s.split()[-1])),  # read: fraction
    "fromstring": lambda s: np.fromstring(s.split()[-1], sep=" ")[0],  # read: fromstring
    "loadtxt": lambda s: np.loadtxt(io.StringIO(s.split()[-1]))[()],  # read: loadtxt
    "genfromtxt": lambda s: np.genfromtxt(io.StringIO(s.split()[-1]))[()],  # read: genfromtxt
}


def _roundtrip(make, read):
    def f(x):
        y = x * x + 0.5
        return read(make(y)) * 3.0 + np.sin(x)  # (the second term stays traced)
    return f


@pytest.mark.parametrize("reader", sorted(READ))
@pytest.mark.parametrize("maker", list(MAKERS))
@settings(max_examples=3, deadline=None)
@given(x=st.floats(-2.0, 2.0))
def test_text_roundtrip_reports_at_the_parse(maker, reader, x):
    """Each way of making text x each parser: FA111 at the parser's line (the user's, also
    where NumPy's reader runs in NumPy's code), the value the native one, strict raises."""
    f = _roundtrip(MAKERS[maker], READ[reader])
    x = np.float64(x)
    assert framead.trace(f, x).value == f(x)
    found = [h for h in hazard_sites(f, x) if h[0] == "FA111"]
    assert found == [("FA111", __file__, line_of(f"read: {reader}", __file__))], found
    with pytest.raises(framead.GradientHazard, match="FA111"):
        framead.grad(f, strict=True)(x)


def test_the_gradient_reported_is_the_one_that_is_wrong():
    """(The hazard is about a real loss: the gradient framead returns misses the parsed
    term, as central differences of the native run show.)"""
    f = _roundtrip(MAKERS["percent"], READ["float"])
    x = np.float64(0.7)
    g = framead.grad(f)(x)
    assert not np.allclose(g, fd_grad(f, (x,)), atol=1e-6)
    np.testing.assert_allclose(g, np.cos(x), atol=1e-12)


@settings(max_examples=10, deadline=None)
@given(reader=st.sampled_from(sorted(READ)), c=st.floats(0.1, 9.0), x=st.floats(-2.0, 2.0))
def test_text_of_untraced_values_is_silent_and_right(reader, c, x):
    """Text of constants parsed back (a config value, a formatted literal) is no loss."""
    read = READ[reader]

    def f(x):
        return read("%.17g" % c) * x * x + np.sin(x)  # noqa: UP031
    x = np.float64(x)
    assert hazard_sites(f, x) == []
    np.testing.assert_allclose(framead.grad(f)(x), fd_grad(f, (x,)), rtol=1e-6, atol=1e-8)


@settings(max_examples=10, deadline=None)
@given(x=st.floats(-2.0, 2.0))
def test_text_only_printed_is_silent(x):
    """Text of traced values made for a log, never parsed: nothing to report."""
    log = []

    def f(x):
        y = x * x
        log.append("y=%.6f" % y)  # noqa: UP031
        return y * 3.0 + int(2.7)
    x = np.float64(x)
    assert hazard_sites(f, x) == []
    np.testing.assert_allclose(framead.grad(f)(x), 6.0 * x, atol=1e-12)


def test_savetxt_loadtxt_checkpoint():
    """The corpus's text_checkpoint_partial: np.savetxt of a traced array into a StringIO and
    np.loadtxt of it, the live state used as well: FA111 at np.loadtxt's line."""
    def f(v):
        state = np.cumsum(v)
        buf = io.StringIO()
        np.savetxt(buf, state, fmt="%.17g")
        buf.seek(0)
        restored = np.loadtxt(buf)  # loadtxt checkpoint
        return float(restored @ np.arange(1.0, 5.0) + np.sum(state ** 2))
    v = np.array([0.3, -0.2, 0.5, 0.1])
    assert ("FA111", __file__, line_of("loadtxt checkpoint", __file__)) in hazard_sites(f, v)


def test_nothing_left_behind():
    """The parsers' C call flags are what they were before the capture; the recorder drops
    its texts; a later capture that makes no text parses without a report."""
    framead.grad(lambda x: x * x)(np.float64(0.3))  # (the session's own table, set up)
    before = [C.get_callable_flags(r) for r in READERS]
    f = _roundtrip(MAKERS["percent"], READ["float"])
    assert hazard_sites(f, np.float64(0.3))
    assert [C.get_callable_flags(r) for r in READERS] == before

    def g(x):
        return float("0.59") * x
    assert hazard_sites(g, np.float64(0.3)) == []

    def raising(x):
        float("%.17g" % x)  # noqa: UP031
        raise KeyError("the program's own error")
    with pytest.raises(KeyError, match="own error"):
        framead.grad(raising)(np.float64(0.3))
    assert [C.get_callable_flags(r) for r in READERS] == before


def test_nested_captures_arm_once():
    """A capture inside another (grad of grad), both making text: the readers stay armed
    until the outer one closes, then their flags are what they were."""
    framead.grad(lambda x: x * x)(np.float64(0.3))  # (the session's own table, set up)
    before = [C.get_callable_flags(r) for r in READERS]

    def inner(x):
        return float("%.17g" % (x * x)) + x ** 3  # inner parse

    def outer(x):
        s = "%.17g" % x  # noqa: UP031
        return framead.grad(inner)(x) + float(s) + x * x  # outer parse
    x = np.float64(0.4)
    found = {(h[0], h[2]) for h in hazard_sites(outer, x)}
    assert ("FA111", line_of("outer parse", __file__)) in found, found
    assert [C.get_callable_flags(r) for r in READERS] == before
