"""Traced values hidden inside an argument of a C function with no framead rule.

The C trampoline looks inside the arguments of a rule-less C call before it runs natively:
lists, tuples and dicts, and (capture/_evalframe.c ``scan_deep``) objects of Python classes
(their attributes and slots, read as the garbage collector reads them), dict views, and
iterators nested in an argument, their state (a generator's locals, a zip's sources) also
for an iterator argument, which is passed on as it is (C code may need its type); items it
computes from traced values inside the call are recorded and reported there
(``callback_call``). Each case must give the finite-difference gradient or report a hazard at the
user's line (``pickle.dumps(obj)``, ``json.dumps(obj, default=vars)``, ``array.array("d",
gen)``, csv's ``writerows(zip(...))`` were silently wrong: the other terms kept the result
connected). Cached traces turn a dict view or an iterator that ``max``/``sorted`` choose
among into a list, so the choice is guarded (it was replayed stale).
"""

from __future__ import annotations

import array
import csv
import io
import itertools
import json
import operator
import pickle
import struct
import warnings

import numpy as np
import pytest
from conftest import fd_grad, line_of, trace_hazards
from hypothesis import given, settings
from hypothesis import strategies as st

import framead


class Box:
    """A plain object (module level: pickle finds its class)."""


class Slotted:
    __slots__ = ("a",)


def _obj(ys: list, how: str):
    """An object holding the traced floats ``ys``: an attribute, a slot, a nested object."""
    if how == "attr":
        b = Box()
        b.a = list(ys)
    elif how == "slot":
        b = Slotted()
        b.a = list(ys)
    else:
        inner = Box()
        inner.a = list(ys)
        b = Box()
        b.inner = inner
    return b


def _floats_of(x) -> list:
    """The floats of what a consumer gave back (an object, dict, list...)."""
    if isinstance(x, float):
        return [x]
    if isinstance(x, dict):
        return [f for v in x.values() for f in _floats_of(v)]
    if isinstance(x, list | tuple):
        return [f for v in x for f in _floats_of(v)]
    if isinstance(x, Slotted):
        return _floats_of(x.a)
    if isinstance(x, Box):
        return _floats_of(vars(x))
    return []


def _iterable(ys: list, how: str):
    """The traced floats ``ys`` as an iterator or view whose items are made lazily."""
    if how == "generator":
        return (y for y in ys)
    if how == "map":
        return map(lambda y: y, ys)
    if how == "filter":
        return filter(None, ys)
    if how == "values":
        return {i: y for i, y in enumerate(ys)}.values()
    if how == "chain":
        return itertools.chain(ys[:1], ys[1:])
    raise ValueError(how)


def _nest(x, nest: str):
    return x if nest == "none" else [x] if nest == "list" else {"k": x}


def c_pickle(ys, how, nest):
    blob = pickle.dumps(_nest(_obj(ys, how), nest))  # consumer: pickle
    return sum(_floats_of(pickle.loads(blob)))


def c_json(ys, how, nest):
    text = json.dumps(_nest(_obj(ys, how), nest), default=vars)  # consumer: json
    return sum(_floats_of(json.loads(text)))


def c_array(ys, how, nest):
    return sum(array.array("d", _iterable(ys, how)))  # consumer: array


def c_struct(ys, how, nest):
    return sum(struct.unpack(f"{len(ys)}d",
                             struct.pack(f"{len(ys)}d", *_iterable(ys, how))))  # consumer: struct


def c_csv(ys, how, nest):
    buf = io.StringIO()
    w = csv.writer(buf)
    if how == "zip":
        w.writerows(zip(ys, strict=True))  # consumer: csv
    else:
        w.writerow(_iterable(ys, how))  # consumer: csv row
    return sum(float(c) for c in buf.getvalue().replace("\r\n", ",").split(",") if c)


def c_bytes(ys, how, nest):
    raw = bytes(int(y * 50.0) % 256 for y in _iterable(ys, how))  # consumer: bytes
    return sum(raw) / 50.0


def c_fromiter(ys, how, nest):
    return float(np.fromiter(_iterable(ys, how), float).sum())  # consumer: fromiter


OBJECTS = ("attr", "slot", "nested")
LAZY = ("generator", "map", "filter", "values", "chain")
CONSUMERS = {  # consumer -> (hidings, nestings)
    c_pickle: (OBJECTS, ("none", "list", "dict")),
    c_json: (("attr", "nested"), ("none", "list", "dict")),
    c_array: (LAZY, ("none",)),
    c_struct: (LAZY, ("none",)),
    c_csv: (("zip", *LAZY), ("none",)),
    c_bytes: (LAZY, ("none",)),
    c_fromiter: (LAZY, ("none",)),
}
CASES = [(c, h, n) for c, (hs, ns) in CONSUMERS.items() for h in hs for n in ns]


def _program(consumer, how, nest, other):
    def f(v):
        ys = [float(a) ** 2 + 0.5 for a in v]
        r = consumer(ys, how, nest)
        return r + (float(np.sum(np.sin(v))) if other else 0.0)
    return f


def _at_lines(h) -> set:
    """The lines of this file in a hazard's location and its callers."""
    lines = {h.loc.line} if h.loc.file == __file__ else set()
    return lines | {ln for (fn, ln, _) in (getattr(h.loc, "stack", None) or ())
                    if fn == __file__}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(CASES), st.booleans(),
       st.lists(st.floats(0.2, 1.5), min_size=2, max_size=4))
def test_hidden_traced_gradient_or_hazard(case, other, xs):
    """Right gradient, or a hazard at the consumer's line (or a line of this file that leads
    to it: json's encoder call is inside json.dumps)."""
    consumer, how, nest = case
    f = _program(consumer, how, nest, other)
    x = np.array(xs)
    hz = trace_hazards(f, x)
    if hz:
        ours = set().union(*(_at_lines(h) for h in hz))
        assert ours, [str(h) for h in hz]
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = framead.grad(f)(x)
    np.testing.assert_allclose(g, fd_grad(f, x), rtol=1e-5, atol=1e-6,
                               err_msg=f"silently wrong: {consumer.__name__} {how} {nest}")


@pytest.mark.parametrize("case", CASES, ids=[f"{c.__name__}-{h}-{n}" for c, h, n in CASES])
def test_every_hiding_reported_at_the_consumer(case):
    """Every hiding with other terms traced (where it was silent) is reported, and strict
    mode raises; the hazard names the consumer's line or its caller chain."""
    consumer, how, nest = case
    f = _program(consumer, how, nest, True)
    x = np.array([0.3, 0.7, 1.1])
    hz = trace_hazards(f, x)
    codes = {h.code for h in hz}
    assert codes & {"FA101", "FA105", "FA102"}, [str(h) for h in hz]
    assert any(_at_lines(h) for h in hz), [str(h) for h in hz]
    with pytest.raises(framead.GradientHazard), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        framead.grad(f, strict=True)(x)


def test_raw_storage_is_fa105_at_its_line():
    def f(v):
        ys = [float(a) ** 2 for a in v]
        return sum(array.array("d", (y for y in ys))) + float(v.sum())  # mark: raw
    hz = trace_hazards(f, np.array([0.3, 0.7]))
    assert [(h.code, h.loc.line) for h in hz] == [("FA105", line_of("mark: raw", __file__))]


def test_pickled_iterator_state_is_reported():
    """A zip pickled (not iterated) is passed on as itself; its traced items leave as bytes."""
    def f(v):
        ys = [float(a) ** 2 for a in v]
        back = pickle.loads(pickle.dumps(zip(ys)))  # mark: pickled zip
        return sum(t[0] for t in back) + float(v.sum())
    hz = trace_hazards(f, np.array([0.3, 0.7]))
    assert ("FA101", line_of("mark: pickled zip", __file__)) in [(h.code, h.loc.line) for h in hz]
    assert f(np.array([0.3, 0.7])) == pytest.approx(0.58 + 1.0)


# --------------------------------------------------------------------------- false alarms


class Model:
    def __init__(self, w):
        self.w = w

    def __repr__(self):
        return "Model()"


def test_common_calls_with_untraced_objects_report_nothing():
    """Objects, views and iterators holding nothing traced, given to common C calls, next to
    traced arithmetic: no hazard, the right gradient."""
    def f(v):
        m = Model(np.ones(3))
        s = Slotted()
        s.a = [1.0, 2.0]
        d = {"a": 1.0, "b": 2.0}
        b = Box()
        b.a = [1.0, {"c": 2.0}]
        k = len(pickle.dumps(m)) + len(json.dumps([b], default=vars)) + len(repr(m))
        k += len("{} {}".format(m, s.a)) + isinstance(m, Model)  # noqa: UP032
        k += len(str(d.values()))
        lst = []
        lst.append(m)
        k += len(array.array("d", (float(i) for i in range(3))))
        k += int(np.fromiter(d.values(), float).sum()) + len(struct.pack("2d", *d.values()))
        buf = io.StringIO()
        csv.writer(buf).writerows(zip(d, d.values(), strict=True))
        k += len(buf.getvalue()) + len(bytes(i for i in range(4))) + len(sorted(d.items()))
        return float(np.sum(v ** 2)) + 0.0 * k
    x = np.array([0.3, 0.7, 1.1])
    assert trace_hazards(f, x) == []
    np.testing.assert_allclose(framead.grad(f)(x), 2 * x)


def test_identity_moves_of_objects_holding_traced_values_report_nothing():
    """Objects holding traced values moved by identity (super(), weak references, isinstance
    with an ABC, next, max by key, str.format of the object): no hazard."""
    import collections.abc
    import weakref

    class Sub(Model):
        def __init__(self, w):
            super().__init__(w)

    def f(v):
        m = Sub(np.exp(v))
        r = weakref.ref(m)
        ok = isinstance(m, collections.abc.Sized) or isinstance(m, Model)
        ms = [m, Model(np.exp(2 * v))]
        best = max(ms, key=lambda o: float(o.w[0]))
        first = next(iter(ms))
        text = "{}".format(m)  # noqa: UP032 (str.format is the C call)
        return float(np.sum(best.w) + np.sum(first.w) + r().w[0]) + 0.0 * (ok + len(text))
    x = np.array([0.3, 0.7])
    assert trace_hazards(f, x) == []
    np.testing.assert_allclose(framead.grad(f)(x), fd_grad(f, x), rtol=1e-6)


# --------------------------------------------------------------------------- invisibility


def test_iterator_arguments_are_invisible():
    """An iterator argument yields the same items, lazily (the generator runs as the C call
    pulls), and the generator's own exception reaches the program unchanged."""
    log = []

    def f(v):
        ys = [float(a) ** 2 for a in v]

        def gen():
            for y in ys:
                log.append("pull")
                yield y
            log.append("done")
        buf = io.StringIO()
        w = csv.writer(buf)
        n = w.writerows((y,) for y in gen())
        rows = buf.getvalue().split()
        err = ValueError("from the generator")

        def bad():
            yield ys[0]
            raise err
        try:
            array.array("d", bad())
        except ValueError as e:
            assert e is err
            log.append("raised")
        log.append(n)
        return sum(float(r) for r in rows) + float(v.sum())
    x = np.array([0.3, 0.7])
    native = f(x)
    native_log, log[:] = list(log), []
    assert trace_hazards(f, x)  # (reported: the items are traced)
    assert log == native_log == ["pull", "pull", "done", "raised", None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert framead.value_and_grad(f)(x)[0] == native


def test_iterator_argument_laziness_with_early_stop():
    """A consumer that stops early pulls no more items than natively (zip with a shorter
    partner), and a leftover generator resumes where the C call left it."""
    def f(v):
        ys = [float(a) for a in v]
        g = (y * 2.0 for y in ys)
        packed = array.array("d", itertools.islice(g, 1))
        rest = list(g)
        return float(len(packed) + len(rest)) + sum(rest)
    x = np.array([0.3, 0.7, 1.1])
    assert f(x) == pytest.approx(3 + 3.6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        val, g = framead.value_and_grad(f)(x)
    assert val == pytest.approx(f(x))
    np.testing.assert_allclose(g, [0.0, 2.0, 2.0])


def test_iterator_arguments_reach_c_as_they_are():
    """C callables get the program's iterator objects themselves (their type, state and
    protocols: length hints, tee's copies, identity), with traced values around (CPython's
    test_itertools, test_operator and test_asyncgen under capture once saw a stand-in)."""
    def f(v):
        t = v * 2.0
        g = (a for a in [0.5, 1.5])
        it = iter([1, 2, 3])
        a, b = itertools.tee(iter("abc"))
        same = operator.is_(g, g) and operator.is_(it, it)
        hints = (operator.length_hint(itertools.repeat(None), 12), operator.length_hint(it))
        assert same and hints == (12, 3) and list(a) == list(b) == list("abc"), (same, hints)
        return float(np.sum(t)) + sum(g)
    x = np.array([0.3, 0.7])
    assert trace_hazards(f, x) == []
    np.testing.assert_allclose(framead.grad(f)(x), [2.0, 2.0])


# --------------------------------------------------------------------------- cached choices


def _choose_values(v):
    d = {"a": float(v[0]), "b": float(v[1])}
    return max(d.values())


def _choose_zip(v):
    return sorted(zip("ab", [float(v[0]), float(v[1])], strict=True),
                  key=lambda kv: kv[1])[0][1]


def _choose_items(v):
    d = {"a": float(v[0]), "b": float(v[1])}
    return sorted(d.items(), key=operator.itemgetter(1))[-1][1] + min(iter(d.values()))


@pytest.mark.parametrize("f", [_choose_values, _choose_zip, _choose_items])
def test_cached_choice_over_views_and_iterators(f):
    """max/sorted/min over a dict view, a zip or an iterator in a cached trace: the replay at
    a point where the choice differs gives the native value and gradient."""
    c = framead.value_and_grad(f, cache=True)
    for p in ([1.0, 2.0], [3.0, 2.0], [1.5, 4.0]):
        x = np.array(p)
        val, g = c(x)
        assert val == f(x), p
        np.testing.assert_allclose(g, fd_grad(f, x), atol=1e-6)


# --------------------------------------------------------------------------- text read back


def test_text_of_hidden_values_reported():
    """Text of traced floats (repr) read back with float(): FA111 (capture/text_taint.py)."""
    def f(v):
        ys = [float(a) ** 2 for a in v]
        s = ",".join(map(repr, (y for y in ys)))
        return sum(float(t) for t in s.split(",")) + float(v.sum())
    x = np.array([0.3, 0.7])
    assert "FA111" in str(trace_hazards(f, x)) or np.allclose(framead.grad(f)(x), 2 * x + 1)
