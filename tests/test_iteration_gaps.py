"""C code iterating a traced array given in ways the first fixes missed (each read NumPy's
own untraced rows: a zero gradient, no hazard): the iterable given by keyword
(``deque(iterable=x)``, ``enumerate(iterable=x)``, ``combinations(iterable=x, r=2)``,
``compress(data=x, selectors=m)``, ``accumulate(iterable=x)``), ``dict.fromkeys(x)``,
``dict(m)`` / ``OrderedDict(m)`` / ``defaultdict(f, m)`` / ``d.update(m)`` of an (n, 2) array
(its rows read as pairs), ``getattr(x, "flat")``; next to the forms that were right already
(``map(float, x)``, ``filter(None, x)``, ``sum(x, start)``, ``math.fsum(x.flat)``,
``zip(strict=True)``, ``list(m)`` of a 2-d array). capture/calls.py ``_iterating``
(call_kinds ``ITERABLE_KEYWORDS``, ``PAIRS``, ``pair_rows``), call_kinds ``attribute_call``,
special_forms ``accumulate``.

``yield from x`` of a traced array: GET_YIELD_FROM_ITER is probed as GET_ITER is
(opcodes_common ``iteration_and_stores``), so SEND steps through the traced rows.

Each consumer runs on iterables of several kinds (a 1-d or 2-d traced array, ``a.flat``, a
list of traced floats, a generator of rows), given positionally or by keyword where CPython
takes both; its value is checked against the native run and its gradient against central
finite differences in float64, uncached and through a cached trace at a second point."""

from __future__ import annotations

import collections
import itertools
import math
import operator
import warnings

import numpy as np
import pytest
from conftest import fd_grad
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import framead

pytestmark = pytest.mark.filterwarnings("ignore::framead.api.GradientWarning")


def _q(v):
    """A smooth scalar of the items (tuples, lists and dicts weighted by position)."""
    if isinstance(v, dict):
        v = list(v.items())
    if isinstance(v, tuple | list):
        return sum((j + 1) * _q(e) for j, e in enumerate(v))
    if isinstance(v, str):  # (a keyword's key)
        return 0.0
    return np.sum(v * v) * 0.5 + np.sum(v)


def _sig(v):
    if isinstance(v, dict):
        v = list(v.items())
    if isinstance(v, tuple | list):
        return (type(v).__name__, tuple(_sig(e) for e in v))
    return (type(v).__name__, np.shape(v))


def _call(f, kw, name, it, *rest, **more):
    """``f(it, *rest)``, or ``f(name=it, ...)`` (``kw``): the iterable positionally or by
    keyword (``rest`` then by the names in ``more``'s keys)."""
    return f(**{name: it}, **more) if kw else f(it, *rest, **({} if rest else more))


def _big(v):
    """An item holding an offset element (>= 5.5; the others are <= 1.5)."""
    return bool(np.max(v) > 3.0)


def _d_update(m):
    d = {9.5: 0.25}  # (no key equal to another: a merge is a kink)
    d.update(m)
    return d


# consumer -> (items of an iterable, whether it takes the iterable by keyword too, the
# iterable kinds it applies to: "1d" items are numbers, "2d" items are rows)
CONSUMERS = {
    "deque": (lambda a, kw: list(_call(collections.deque, kw, "iterable", a)), True, "12"),
    "deque_maxlen": (lambda a, kw: list(_call(collections.deque, kw, "iterable", a, 2,
                                              maxlen=2)), True, "12"),
    "enumerate": (lambda a, kw: [v * (i + 1) for i, v in _call(enumerate, kw, "iterable", a)],
                  True, "12"),
    "enumerate_start": (lambda a, kw: [v * i for i, v in _call(enumerate, kw, "iterable", a, 2,
                                                                start=2)], True, "12"),
    "combinations": (lambda a, kw: list(_call(itertools.combinations, kw, "iterable", a, 2,
                                              r=2)), True, "12"),
    "combinations_wr": (lambda a, kw: list(_call(itertools.combinations_with_replacement, kw,
                                                 "iterable", a, 2, r=2)), True, "12"),
    "permutations": (lambda a, kw: [u * w * w for u, w in _call(
        itertools.permutations, kw, "iterable", a, 2, r=2)], True, "12"),
    "groupby": (lambda a, kw: [(k, list(g)) for k, g in _call(
        itertools.groupby, kw, "iterable", a, _big, key=_big)], True, "12"),
    "compress": (lambda a, kw: list(itertools.compress(data=a, selectors=[1, 0, 1, 1, 0, 1])
                                    if kw else itertools.compress(a, [1, 0, 1, 1, 0, 1])),
                 True, "12"),
    "accumulate": (lambda a, kw: list(_call(itertools.accumulate, kw, "iterable", a)),
                   True, "12"),
    "accumulate_mul": (lambda a, kw: list(_call(itertools.accumulate, kw, "iterable", a,
                                                operator.mul, func=operator.mul)), True, "12"),
    "fromkeys": (lambda a, kw: list(dict.fromkeys(a)), False, "1"),
    "fromkeys_value": (lambda a, kw: list(dict.fromkeys(a, 0.5)), False, "1"),
    "dict_pairs": (lambda a, kw: list(dict(a, z=0.5).items() if kw else dict(a).items()),
                   True, "p"),
    "ordereddict_pairs": (lambda a, kw: list(collections.OrderedDict(a).values()), False, "p"),
    "defaultdict_pairs": (lambda a, kw: list(collections.defaultdict(float, a).items()),
                          False, "p"),
    "dict_update_pairs": (lambda a, kw: list(_d_update(a).items()), False, "p"),
    "map_float": (lambda a, kw: list(map(float, a)), False, "1"),
    "filter_none": (lambda a, kw: list(filter(None, a)), False, "1"),
    "sum_start": (lambda a, kw: [sum(a, start=0.5) if kw else sum(a, 0.5)], True, "12"),
    "fsum": (lambda a, kw: [math.fsum(a)], False, "1"),
    "zip_strict": (lambda a, kw: [u * w for u, w in zip(a, (1.0, 2.0, 3.0, 4.0, 5.0, 6.0),
                                                     strict=True)], False, "1"),
    "list": (lambda a, kw: list(a), False, "12"),
}

# iterable kind -> (its items' kind, how it is made from a traced 2-d array b (n, 2))
ITERABLES = {
    "array_1d": ("1", lambda b: b.reshape(-1)),
    "array_1d_rev": ("1", lambda b: b.reshape(-1)[::-1]),
    "array_2d": ("2", lambda b: b),
    "pairs": ("p", lambda b: b),
    "flat": ("1", lambda b: b.flat),
    "getattr_flat": ("1", lambda b: getattr(b, "flat")),  # noqa: B009
    "getattr_flat_default": ("1", lambda b: getattr(b, "flat", None)),
    "list_of_floats": ("1", lambda b: [float(v) for v in b.reshape(-1)]),
    "generator_of_rows": ("2", lambda b: (r for r in b)),
}


def _program(consumer, iterable, offsets):
    fn = CONSUMERS[consumer][0]
    make = ITERABLES[iterable][1]

    def f(x, kw=False):
        b = (x.reshape(-1, 2) + offsets) * 1.0
        items = fn(make(b), kw)
        return _q(items) + 0.1 * np.sum(x * x), _sig(items)

    return f


_PAIRS = [(c, i) for c, (_, _, kinds) in CONSUMERS.items() for i, (k, _) in ITERABLES.items()
          if k in kinds]
_XS = st.lists(st.floats(0.5, 1.5, allow_nan=False), min_size=12, max_size=12)


def _check(f, x, kw):
    (loss, sig), g = framead.value_and_grad(lambda x: f(x, kw), has_aux=True)(x.copy())
    native_loss, native_sig = f(x.copy(), kw)
    assert sig == native_sig
    assert loss == pytest.approx(native_loss, rel=1e-12, abs=1e-12)
    ref = fd_grad(lambda x: f(x, kw)[0], (x.copy(),))
    np.testing.assert_allclose(g, ref, rtol=1e-6, atol=1e-6)
    return g


@pytest.mark.parametrize(("consumer", "iterable"), _PAIRS)
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(values=_XS, kw=st.booleans())
def test_consumer_of_an_iterable(consumer, iterable, values, kw):
    assume(kw <= CONSUMERS[consumer][1])
    x = np.array(values[:6])
    assume(np.min(np.diff(np.sort(x))) > 0.02)  # (finite differences change no decision)
    offsets = 5.0 * (np.arange(6) % 3 == 2).reshape(3, 2)
    f = _program(consumer, iterable, offsets)
    _check(f, x, kw)
    # a cached trace: recorded at x, replayed at another point where every decision
    # (groupby's runs: the offsets keep them) is the same
    vg = framead.value_and_grad(lambda x: f(x, kw)[0], cache=True)
    y = x[::-1].copy()
    for p in (x, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value, g = vg(p.copy())
        assert value == pytest.approx(f(p.copy(), kw)[0], rel=1e-12, abs=1e-12), vg.stats
        np.testing.assert_allclose(g, fd_grad(lambda x: f(x, kw)[0], (p.copy(),)),
                                   rtol=1e-6, atol=1e-6, err_msg=str(vg.stats))


def test_getattr_of_traced_values_reads_as_the_attribute():
    """getattr(x, name[, default]) of a traced array: the program's x.name (a view, a flat
    iterator the probes know), the default where there is no such attribute."""

    def f(x):
        m = x.reshape(2, 2) * 1.0
        t = getattr(m, "T")[0]  # noqa: B009
        flat = sum(v * v for v in getattr(m, "flat"))  # noqa: B009
        return float(np.sum(t) * 3.0 + flat + getattr(m, "nope", 2.0) * x[0])

    x = np.array([0.7, 1.3, 0.4, 1.1])
    v, g = framead.value_and_grad(f)(x.copy())
    assert v == f(x.copy())
    np.testing.assert_allclose(g, fd_grad(f, (x.copy(),)), rtol=1e-6, atol=1e-6)
    with pytest.raises(AttributeError, match="nope"):
        framead.grad(lambda x: getattr(x * 1.0, "nope"))(x)  # noqa: B009


def test_dict_of_a_traced_1d_array_raises_as_natively():
    x = np.array([0.7, 1.3])
    with pytest.raises(TypeError) as native:
        dict(x * 1.0)
    with pytest.raises(TypeError) as captured:
        framead.grad(lambda x: dict(x * 1.0)[0])(x)
    assert str(captured.value) == str(native.value)


# ----------------------------------------------------------------- yield from a traced array

def _yield_from(a):
    yield from a


def _relay(a):
    total = yield from _yield_from(a)
    return total


YIELD_FROM = {
    "list": lambda a: list(_yield_from(a)),
    "sum": lambda a: [sum(_yield_from(a))],
    "loop": lambda a: [v * v for v in _yield_from(a)],
    "nested": lambda a: list(_relay(a)),
    "flat": lambda a: list(_yield_from(a.reshape(3, 2).flat)),
}


@pytest.mark.parametrize("consumer", list(YIELD_FROM))
def test_yield_from_a_traced_array(consumer):
    def f(x):
        items = YIELD_FROM[consumer](x * 1.0 + 0.25)
        return _q(items)

    x = np.array([0.7, 1.3, 0.4, 1.1, 0.9, 1.45])
    v, g = framead.value_and_grad(f)(x.copy())
    assert v == pytest.approx(f(x.copy()), rel=1e-12)
    np.testing.assert_allclose(g, fd_grad(f, (x.copy(),)), rtol=1e-6, atol=1e-6)


def test_a_generator_yielding_rows_to_c_consumers():
    """A generator's ``for r in m: yield r`` (GET_ITER, probed) hands its rows to C
    consumers: sum, deque, zip (right already); dict, which reads each row as a pair in C,
    and itertools.starmap, which makes each row a tuple in C (also of a traced 2-d array
    itself): NumPy's untraced items before. ``yield from m`` of a 2-d array hands out its
    rows (views, traced)."""

    def rows(m):
        for r in m:  # noqa: UP028 (GET_ITER: probed, unlike yield from)
            yield r

    def f(x):
        m = x.reshape(3, 2) * 1.0
        total = sum(rows(m))
        d = collections.deque(rows(m), maxlen=2)
        pairs = dict(rows(m[:, ::-1]))
        star = sum(itertools.starmap(operator.mul, rows(m))) + \
            sum(itertools.starmap(lambda a, b: a * b * b, m))
        return float(np.sum(total * total) + _q(list(d)) + _q(list(pairs.items())) +
                     sum(u @ w for u, w in zip(rows(m), rows(m[::-1]), strict=True)) +
                     star + np.sum(sum(_yield_from(m)) ** 2))

    x = np.array([0.7, 1.3, 0.4, 1.1, 0.9, 1.45])
    v, g = framead.value_and_grad(f)(x.copy())
    assert v == pytest.approx(f(x.copy()), rel=1e-12)
    np.testing.assert_allclose(g, fd_grad(f, (x.copy(),)), rtol=1e-6, atol=1e-6)
