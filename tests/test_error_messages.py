"""Golden tests: the messages of common mistakes, and tracebacks that point at user code."""

from __future__ import annotations

import math
import os
import traceback

import numpy as np
import pytest

import framead
from framead import rules
from framead.reverse import RuleOutputError

HERE = os.path.abspath(__file__)


def _line_of(marker: str) -> int:
    with open(HERE) as f:
        for i, text in enumerate(f, 1):
            if marker in text and "_line_of" not in text:
                return i
    raise AssertionError(marker)


def vector_out(x):
    return np.sin(x) * 2.0  # GOLDEN-vector


def test_non_scalar_output_message():
    with pytest.raises(framead.NonScalarOutputError) as e:
        framead.grad(vector_out)(np.ones(3))
    assert str(e.value) == (
        "grad requires vector_out to return a real scalar (float or 0-d float array); it "
        "returned an array of shape (3,) and dtype float64 (it was produced by operator.mul "
        f"at {HERE}:{_line_of('GOLDEN-vector')}). Reduce it to a scalar (e.g. .sum()), or use "
        "value_and_grad on a scalar loss")


def returns_nothing(x):
    x * 2.0


@pytest.mark.parametrize("transform", [framead.grad, framead.value_and_grad])
def test_none_output_message(transform):
    """A function that returns None (no output at all) gets the same clear error, not an
    IndexError from inside framead."""
    with pytest.raises(framead.NonScalarOutputError) as e:
        transform(returns_nothing)(0.5)
    assert str(e.value) == (
        "grad requires returns_nothing to return a real scalar (float or 0-d float array); it "
        "returned None. Reduce it to a scalar (e.g. .sum()), or use value_and_grad on a scalar "
        "loss")


def test_integer_input_message():
    with pytest.raises(framead.InputTypeError) as e:
        framead.grad(lambda x: x * 2.0)(3)
    assert str(e.value) == ("argument 0 (x) is an integer (int 3); framead differentiates float "
                            "inputs: pass 3.0 or convert with float()")


def test_integer_array_message():
    with pytest.raises(framead.InputTypeError, match=r"dtype int64.*x.astype\(float\)"):
        framead.grad(lambda x: float(np.sum(x)))(np.arange(3))


def test_output_independent_of_input_warns():
    with pytest.warns(framead.GradientWarning, match="does not depend on argument"):
        g = framead.grad(lambda x: 3.0)(1.0)
    assert g == 0.0


def test_user_rule_with_wrong_cotangent_shape():
    def scale(v):
        return v * 2.0

    rules.register(scale, vjp=(lambda g, ans, v: np.ones(5),), saves={0: ()})
    try:
        def f(x):
            return float(np.sum(scale(x)))  # GOLDEN-rule

        with pytest.raises(RuleOutputError) as e:
            framead.grad(f)(np.ones(3))
        msg = str(e.value)
        assert msg.startswith("the VJP of rule ")
        assert "shape (5,) for argument 0, whose shape is (3,)" in msg
        assert f"{HERE}:{_line_of('GOLDEN-rule')}" in msg
    finally:
        rules.unregister(scale)


def test_error_in_reverse_pass_names_generated_and_user_line(monkeypatch):
    monkeypatch.setenv("FRAMEAD_BACKWARD", "source")  # compiled: generated frames in the tb

    def bad(v):
        return v + 0.0

    def boom(g, ans, v):
        raise FloatingPointError("vjp failed")

    rules.register(bad, vjp=(boom,), saves={0: ()})
    try:
        def f(x):
            return bad(x) * 3.0  # GOLDEN-reverse

        with pytest.raises(FloatingPointError) as e:
            framead.grad(f)(1.5)
        notes = "\n".join(getattr(e.value, "__notes__", []))
        assert "<framead-backward-" in notes
        assert f"{HERE}:{_line_of('GOLDEN-reverse')}" in notes
        frames = [fs.filename for fs in traceback.extract_tb(e.value.__traceback__)]
        assert any(name.startswith("<framead-backward-") for name in frames)
    finally:
        rules.unregister(bad)


def test_error_in_reverse_pass_loop_mode_names_user_line(monkeypatch):
    monkeypatch.setenv("FRAMEAD_BACKWARD", "loop")

    def bad2(v):
        return v + 0.0

    def boom(g, ans, v):
        raise FloatingPointError("vjp failed")

    rules.register(bad2, vjp=(boom,), saves={0: ()})
    try:
        def f(x):
            return bad2(x) * 3.0  # GOLDEN-loop

        with pytest.raises(FloatingPointError) as e:
            framead.grad(f)(1.5)
        notes = "\n".join(getattr(e.value, "__notes__", []))
        assert f"{HERE}:{_line_of('GOLDEN-loop')}" in notes and "<framead-backward-" in notes
    finally:
        rules.unregister(bad2)


def test_user_exception_traceback_has_no_framead_frames():
    def inner(x):
        return math.log(x - 10.0)  # GOLDEN-user-error

    def f(x):
        return inner(x) * 2.0

    with pytest.raises(ValueError) as e:
        framead.grad(f)(1.0)
    entries = traceback.extract_tb(e.value.__traceback__)
    files = {os.path.dirname(fs.filename) for fs in entries}
    root = os.path.dirname(os.path.dirname(framead.__file__))
    assert not any(d.startswith(os.path.join(root, p)) for d in files
                   for p in ("framead", "capture", "rules"))
    assert entries[-1].lineno == _line_of("GOLDEN-user-error")


def test_integer_output_is_a_reported_cut():
    """An integer result is piecewise constant: zero gradient (what central differences
    see), reported FA102; strict mode raises."""
    def f(x):
        return int(x[0]) * int(x[1])

    x = np.array([2.5, 3.5])
    with pytest.warns(framead.GradientWarning):
        value, g = framead.value_and_grad(f)(x)
    assert value == 6 and np.array_equal(g, [0.0, 0.0])
    with pytest.raises(framead.GradientHazard, match="FA102"):
        framead.grad(f, strict=True)(x)


def test_argnums_are_checked_and_repeats_get_the_same_gradient():
    def f(x):
        return x * x

    assert framead.grad(f, argnums=(0, 0))(2.0) == (4.0, 4.0)
    assert framead.grad(f, argnums=np.int64(0))(2.0) == 4.0
    for bad in (1.0, "a", True, [0.0]):
        with pytest.raises(TypeError, match="argnums must be an int or a tuple of ints"):
            framead.grad(f, argnums=bad)(2.0)


def test_read_only_input_stays_read_only():
    """A program that writes into a read-only argument raises as natively."""
    x = np.ones(3)
    x.flags.writeable = False

    def f(a):
        a[0] = 2.0
        return np.sum(a)

    with pytest.raises(ValueError, match="read-only"):
        framead.grad(f)(x)
    np.testing.assert_array_equal(framead.grad(lambda a: np.sum(a * a))(x), [2.0, 2.0, 2.0])
