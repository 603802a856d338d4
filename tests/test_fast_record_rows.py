"""Iteration over a traced array (``for v in x``, ``list(x)``, ``zip``, ``enumerate``,
``sum``, comprehensions) reads each element through C (capture/_evalframe.c ``Rows``, via the
getitem fast path). The IR must be what the Python handler (``get_item`` for each ``a[i]``)
records, with every program shape: the same graph, Values, saves, locations and hazards;
gradients equal bit for bit and right against central differences."""

from __future__ import annotations

import gc
import math
import textwrap
import weakref

import numpy as np
import pytest
from framead.capture import session
from framead.capture.handlers import ProbeHandlers
from hypothesis import given, settings
from hypothesis import strategies as st
from test_fast_record import assert_same, count_calls

import framead

# an iteration form: {arr} the iterated array, {e} an expression of the element v
_FORMS = [
    "for v in {arr}:\n    s = s + {e}",
    "s = s + sum({e} for v in {arr})",
    "s = s + sum([{e} for v in {arr}])",
    "for i, v in enumerate({arr}):\n    s = s + (i + 1) * ({e})",
    "for v, w in zip({arr}, x):\n    s = s + ({e}) * w",
    "s = s + sum(map(lambda v: {e}, {arr}))",
    "vs = list({arr})\nfor v in vs[::-1]:\n    s = s * 0.5 + {e}",
    "it = iter({arr})\nfor v in it:\n    s = s + {e}\n    break\nfor v in it:\n    s = s - {e}",
    "for v in {arr}:\n    x[0] = v * 0.5\n    s = s + {e}",          # writes while iterating
    "for v in {arr}:\n    s = s + {e}\n    if v > 0.9:\n        break",
    "s = s + max({arr}) + min({arr})",
    "a, b, *rest = {arr}\nv = a\ns = s + {e} + b",
]
_ARRS = ["x", "x[::2]", "x[1:]", "x[::-1]", "M[1]", "M.T[0]", "M[:, 1]"]
_ELEMS = ["v * v", "math.sin(v)", "v * 2.0 + 1.0", "np.float64(3.0) * v",
          "v / (1.0 + v * v)", "np.exp(v)", "float(v) ** 2"]


@st.composite
def programs(draw):
    """A function of x (a 1-d float64 array of 6) building M (3 x 2) from it, then one to
    three iteration forms, over 1-d arrays or over M's rows (``for r in M``)."""
    body = ["M = x.reshape(3, 2) * 1.0", "s = 0.0"]
    for _ in range(draw(st.integers(1, 3))):
        e = draw(st.sampled_from(_ELEMS))
        if draw(st.integers(0, 4)) == 0:
            inner = draw(st.sampled_from(_FORMS[:6])).format(arr="r", e=e)
            body.append("for r in M:\n" + textwrap.indent(inner, "    "))
        else:
            body.append(draw(st.sampled_from(_FORMS)).format(arr=draw(st.sampled_from(_ARRS)),
                                                             e=e))
    body.append("return s")
    return "def f(x):\n" + textwrap.indent("\n".join(body), "    ") + "\n"


def _load(src):
    ns: dict = {"np": np, "math": math}
    exec(compile(src, "<rows-fuzz>", "exec"), ns)  # noqa: S102 - the fuzzer's program
    return ns["f"]


def _both(fn, x, what):
    old = session.FAST_RECORD
    try:
        session.FAST_RECORD = False
        slow = what(fn, x)
        session.FAST_RECORD = True
        quick = what(fn, x)
    finally:
        session.FAST_RECORD = old
    return slow, quick


X0 = np.array([0.7, 1.3, 0.4, 1.1, 0.95, 0.6])


@pytest.mark.filterwarnings("ignore::framead.api.GradientWarning")
@settings(max_examples=250, deadline=None, derandomize=True, database=None)
@given(src=programs())
def test_fuzz_iteration_records_as_the_handlers(src):
    f = _load(src)
    slow, quick = _both(f, X0.copy(), framead.trace)
    assert_same(slow, quick)
    assert [str(h) for h in quick.hazards] == [str(h) for h in slow.hazards]
    g_slow, g_fast = _both(f, X0.copy(), lambda fn, x: framead.grad(fn)(x))
    np.testing.assert_array_equal(g_fast, g_slow)
    # central differences at two step sizes: where they disagree, a branch (a comparison,
    # max/min) lies within a step of x and they say nothing about the derivative
    fd, fd4 = (np.array([(f(X0 + h * e) - f(X0 - h * e)) / (2 * h) for e in np.eye(6)])
               for h in (1e-6, 4e-6))
    if np.allclose(fd, fd4, rtol=1e-3, atol=1e-5):
        np.testing.assert_allclose(g_fast, fd, rtol=1e-4, atol=1e-6)


def loop(x):
    s = 0.0
    for v in x:
        s = s + v * v
    return s


def test_the_fast_path_reads_the_elements(monkeypatch):
    """A plain loop over a traced array records its elements in C (the first read of an
    input may take the handler, as with ``x[i]``); with the fast path off, the handler."""
    n = count_calls(monkeypatch, ProbeHandlers, "get_item")
    framead.grad(loop)(np.linspace(0.1, 1.0, 50))
    assert n[0] <= 1
    old = session.FAST_RECORD
    try:
        session.FAST_RECORD = False
        framead.grad(loop)(np.linspace(0.1, 1.0, 50))
    finally:
        session.FAST_RECORD = old
    assert n[0] >= 50


def test_an_iterator_kept_after_the_capture_gives_plain_rows():
    kept = []

    def f(x):
        it = iter(x)
        first = next(it)
        kept.append(it)
        return first * 2.0

    x = np.array([1.0, 2.0, 3.0])
    assert framead.grad(f)(x).tolist() == [2.0, 0.0, 0.0]
    rest = list(kept.pop())
    assert rest == [2.0, 3.0] and all(type(v) is np.float64 for v in rest)


def test_an_iterator_of_one_capture_read_in_another_records_into_its_own():
    """Made in the outer capture, read inside a nested one (grad of a closure): each element
    is its outer recorder's read, and the nested gradient treats it as a constant."""
    def outer(x):
        it = iter(x)

        def inner(y):
            return y * next(it)

        g = framead.grad(inner)(2.0)
        return g * next(it)

    x = np.array([1.5, 4.0])
    np.testing.assert_allclose(framead.grad(outer)(x), [4.0, 1.5])


def test_exhaustion_and_errors_as_natively():
    def f(x):
        it = iter(x)
        out = [next(it) for _ in range(len(x))]
        assert next(it, None) is None
        with pytest.raises(StopIteration):
            next(it)
        return sum(out)

    np.testing.assert_array_equal(framead.grad(f)(np.ones(3)), np.ones(3))

    def g(x):
        for v in x:
            v.nonexistent_method()

    with pytest.raises(AttributeError) as info:
        framead.grad(g)(np.ones(2))
    with pytest.raises(AttributeError) as native:
        g(np.ones(2))
    assert str(info.value) == str(native.value)


def test_a_cycle_through_the_iterator_is_collected():
    """An iterator held by an object array it iterates (a cycle through C) is collected."""
    class Box:
        pass

    refs = []

    def f(x):
        b = Box()
        b.it = iter(x)
        b.self = b
        refs.append(weakref.ref(b))
        return next(b.it) * 3.0

    framead.grad(f)(np.array([1.0, 2.0]))
    gc.collect()
    assert refs[0]() is None
