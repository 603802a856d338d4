"""The lean path of an uncached call's arguments (framead/inputs.py ``Differentiated.plain``,
``box_simple``, ``pack``'s simple case): floats and float arrays, with ints, strings and at
most one array among the arguments, skip taking the arguments apart. A fuzzer of argument
mixes checks the gradients against central finite differences, against the general path
(``plain`` forced off: bit for bit), and that the caller's arrays are never written."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framead
from framead.inputs import Differentiated


def program(*args, scale=1.0):
    """Reads every float and array argument, writes the arrays in place."""
    s = 0.0
    for v in args:
        if isinstance(v, np.ndarray):
            if v.flags.writeable:
                v *= 1.5  # the caller's array must not see this
            s = s + np.sum(np.sin(v) * v)
        elif isinstance(v, float):
            s = s + math.sin(v) * v * v
        elif isinstance(v, int):
            s = s * (1.0 + 0.1 * v)
    return s * scale


def _arg(kind: str, k: int):
    if kind == "float":
        return 0.3 + 0.4 * k
    if kind == "int":
        return k
    if kind == "str":
        return "s"
    a = np.linspace(0.2, 1.1, 3) + k
    if kind == "ro":
        a.flags.writeable = False
    return a


def _like(a: np.ndarray, of: np.ndarray) -> np.ndarray:
    a.flags.writeable = of.flags.writeable
    return a


def _fd(args: list, num: int, kwargs: dict, h: float = 1e-6):
    """Central differences in float64 of ``program`` in argument ``num`` (on copies)."""
    def at(x):
        a = [_like(v.copy(), v) if isinstance(v, np.ndarray) else v for v in args]
        a[num] = _like(x, args[num]) if isinstance(x, np.ndarray) else x
        return program(*a, **kwargs)

    x = args[num]
    if isinstance(x, float):
        return (at(x + h) - at(x - h)) / (2 * h)
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        g.flat[i] = (at(x + e) - at(x - e)) / (2 * h)
    return g


kinds = st.lists(st.sampled_from(["float", "float", "int", "str", "array", "ro"]),
                 min_size=1, max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                            HealthCheck.function_scoped_fixture])
@given(kinds=kinds, data=st.data(), kw=st.sampled_from([{}, {"scale": 2.0},
                                                        {"scale": "array"}]))
def test_lean_path_matches_finite_differences_and_general_path(kinds, data, kw, monkeypatch):
    args = [_arg(k, i) for i, k in enumerate(kinds)]
    diff = [i for i, k in enumerate(kinds) if k in ("float", "array", "ro")]
    if not diff:
        return
    nums = tuple(data.draw(st.lists(st.sampled_from(diff), min_size=1, max_size=3)))
    kwargs = {"scale": np.array(2.0)} if kw.get("scale") == "array" else dict(kw)
    saved = [_like(v.copy(), v) if isinstance(v, np.ndarray) else v for v in args]
    plain = Differentiated(args, nums).plain(args, kwargs)
    arrays = [i for i, v in enumerate(args) if isinstance(v, np.ndarray)]
    expect = (not arrays or (len(arrays) == 1 and arrays[0] in nums)) and \
        not isinstance(kwargs.get("scale"), np.ndarray)
    assert plain == expect, (kinds, nums)  # the lean path is taken where it can be

    g = framead.grad(program, argnums=nums)(*args, **kwargs)
    for v, s in zip(args, saved, strict=True):  # the caller's arrays are never written
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(v, s)
    for j, num in enumerate(nums):
        np.testing.assert_allclose(g[j], _fd(saved, num, kwargs), rtol=1e-6, atol=1e-8)
        assert type(g[j]) is type(args[num])
        if isinstance(g[j], np.ndarray):
            assert g[j].flags.writeable and g[j] is not args[num]
            assert all(g[j] is not g[k] for k in range(j))  # one object per leaf

    with monkeypatch.context() as m:  # the general path, bit for bit
        m.setattr(Differentiated, "plain", lambda self, a, k: False)
        general = framead.grad(program, argnums=nums)(*args, **kwargs)
    for a, b in zip(g, general, strict=True):
        assert type(a) is type(b)
        np.testing.assert_array_equal(a, b)


def test_lean_spec_reads_as_the_general_one():
    """A lean spec's trees (read by cached traces, forward mode, export) are the general
    spec's: made when first read."""
    x = np.linspace(0.0, 1.0, 4)
    args, nums = (1.5, x, 2.5), (0, 1, 0)
    lean = Differentiated(args, nums)
    assert lean.simple is not None and "trees" not in lean.__dict__
    general = Differentiated.__new__(Differentiated)
    general.nums, general.f, general.simple = nums, None, None
    general.trees = general._make_trees(args)
    assert [id(v) for v in lean.leaves()] == [id(v) for v in general.leaves()] == \
        [id(args[0]), id(x), id(args[0])]
    assert [t.leaves for t in lean.trees.values()] == [[1.5], [x]]
    assert lean.signature(repr) == general.signature(repr)
    assert lean.trees is lean.trees
    with pytest.raises(AttributeError):
        lean.nothing  # noqa: B018


def test_lean_path_keeps_errors_and_hazards():
    """An int array is refused with the general message; a hazard still names its line."""
    with pytest.raises(framead.errors.InputTypeError, match="dtype int64"):
        framead.grad(lambda a: a.sum())(np.arange(3))
    with pytest.warns(framead.GradientWarning, match="FA102"):
        assert framead.grad(lambda x: float(int(x)) * 2.0)(2.5) == 0.0


def test_value_and_grad_of_one_array_and_cache():
    x = np.linspace(0.1, 0.9, 5)
    f = lambda a, k: np.sum(np.exp(a) * k)  # noqa: E731
    v, g = framead.value_and_grad(f)(x, 3)
    assert v == f(x, 3)
    np.testing.assert_allclose(g, 3 * np.exp(x))
    cached = framead.value_and_grad(f, cache=True)
    for _ in range(2):
        v2, g2 = cached(x, 3)
        assert v2 == v
        np.testing.assert_array_equal(g2, g)
