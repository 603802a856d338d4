"""Values that leave framead's sight while the result still depends on the inputs another way.

* Lookups by a traced key (``d[k]``, ``d.get``, ``d.setdefault``, ``d.pop``, membership of
  dicts and sets) that hit an entry this call did not compute (a memo table filled by an
  earlier call, a constant table) hand back values with no gradient: FA110 at the lookup's
  line. A table the program fills in the same call is its own computation: silent.
* Raw memory of a traced array (``.data``, ``.ctypes``, ``__array_interface__``,
  ``__array_struct__``): FA105 where the attribute is read (handlers.getattr).
"""

from __future__ import annotations

import collections
import ctypes
import functools
import math
import operator
import sys
import threading
import warnings

import numpy as np
import pytest
from conftest import line_of, trace_hazards
from framead.capture.session import current_recorder
from hypothesis import given, settings
from hypothesis import strategies as st

import framead


def hazards(f, x) -> list[tuple[str, int]]:
    found = trace_hazards(f, x)
    assert all(h.loc.file == __file__ for h in found), found  # (at the user's lines)
    return [(h.code, h.loc.line) for h in found]


def new_float(x: float) -> float:
    """An equal float that is another object (never the one handed to framead)."""
    return float.fromhex(x.hex())


# --------------------------------------------------------------------------- lookups

VALUE_FORMS = ("getitem", "get", "setdefault", "pop", "dunder_getitem", "dict.get")
MEMBER_FORMS = ("contains", "dunder_contains", "set", "frozenset")
ORIGINS = ("this call", "earlier call", "constant", "miss")


def _look(form: str, t, k):
    """The lookup of ``form``, each on a line of its own (a hazard names it)."""
    if form == "getitem":
        try:
            return t[k]  # form: getitem
        except KeyError:
            return 0.5
    if form == "get":
        return t.get(k, 0.5)  # form: get
    if form == "setdefault":
        return t.setdefault(k, 0.5)  # form: setdefault
    if form == "pop":
        return t.pop(k, 0.5)  # form: pop
    if form == "dunder_getitem":
        try:
            return t.__getitem__(k)  # form: dunder_getitem
        except KeyError:
            return 0.5
    if form == "dict.get":
        return dict.get(t, k, 0.5)  # form: dict.get
    if form == "contains":
        return operator.contains(t, k)  # form: contains
    return t.__contains__(k)  # form: membership


def _table(form: str, origin: str, a, x: float):
    """The table ``form`` looks ``a`` up in: filled in this call with ``a`` itself, a copy of
    one an earlier call filled (its keys and values are that call's objects), one of
    constants, or one without the key."""
    sets = form in ("set", "frozenset")
    if origin == "this call":
        t = set() if sets else {}
        if sets:
            t.add(a)
        else:
            t[a] = math.sin(a)
    elif origin == "earlier call":
        t = set(_EARLIER[x][0]) if sets else dict(_EARLIER[x][1])
    else:
        k = new_float(x) if origin == "constant" else new_float(x) + 1.0
        t = {k} if sets else {k: 0.25}
    return frozenset(t) if form == "frozenset" else t


_EARLIER: dict[float, tuple[set, dict]] = {}


def _fill_earlier(x: float) -> None:
    """What an earlier call left in a memo table (natively: not traced now)."""
    k = new_float(x)
    _EARLIER[x] = ({k}, {k: math.sin(k)})


def _program(form: str, origin: str, x: float, array: bool):
    def f(v):
        a = v[0] if array else v  # (an np.float64 key, read from the array)
        got = _look(form, _table(form, origin, a, x), a)
        if form in MEMBER_FORMS:
            return a * (2.0 if got else 3.0)
        return got * a + a
    return f


def _expected_gradient(form: str, origin: str, x: float) -> float:
    if form in MEMBER_FORMS:
        return 3.0 if origin == "miss" else 2.0
    if origin == "this call":
        return math.cos(x) * x + math.sin(x) + 1.0
    got = {"earlier call": math.sin(x), "constant": 0.25, "miss": 0.5}[origin]
    return got + 1.0  # (what it returns is a constant to the gradient)


@settings(max_examples=80, deadline=None)
@given(form=st.sampled_from(VALUE_FORMS + MEMBER_FORMS), origin=st.sampled_from(ORIGINS),
       x=st.floats(0.1, 2.0), array=st.booleans())
def test_lookup_forms_by_where_the_entry_came_from(form, origin, x, array):
    """Each lookup form x where the entry came from: FA110 at the lookup's line when it hits
    an entry this call did not compute, silent otherwise; the gradient is what it was."""
    _fill_earlier(x)
    f = _program(form, origin, x, array)
    arg = np.array([x]) if array else x
    marker = "form: membership" if form in ("dunder_contains", "set", "frozenset") \
        else f"form: {form}"
    reported = origin in ("earlier call", "constant")
    want = [("FA110", line_of(marker, __file__))] if reported else []
    assert hazards(f, arg) == want
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = framead.grad(f)(arg)
    assert np.allclose(g, _expected_gradient(form, origin, x), rtol=1e-12, atol=0)
    if reported:
        with pytest.raises(framead.GradientHazard, match="FA110"):
            framead.grad(f, strict=True)(arg)
    else:
        assert np.allclose(framead.grad(f, strict=True)(arg), g, rtol=0, atol=0)


_T: dict = {}


def _model(a):
    if a not in _T:  # memo membership
        _T[a] = math.sin(a)
    return _T[a]  # memo read


def memo_program(a):
    return _model(a) + a


def test_memo_table_filled_by_an_earlier_call():
    """The brief's memo: the first call is right and silent; the second returns the float
    the first stored: FA110 at the membership test that finds it and at the read, strict
    raises, the gradient is the same as before."""
    _T.clear()
    assert hazards(memo_program, 0.7) == []
    _T.clear()
    assert framead.grad(memo_program)(0.7) == math.cos(0.7) + 1.0
    _T.clear()
    memo_program(0.7)  # an earlier (native) call fills the table
    assert hazards(memo_program, 0.7) == [("FA110", line_of("memo membership", __file__)),
                                          ("FA110", line_of("memo read", __file__))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert framead.grad(memo_program)(0.7) == 1.0  # (the value from before: a constant)
    with pytest.raises(framead.GradientHazard, match=r"FA110 \[stale-lookup\]"):
        framead.grad(memo_program, strict=True)(0.7)


def test_memo_table_is_not_replayed_by_a_cached_trace():
    """cache=True: a capture that read an earlier call's entry is not kept as a trace (it
    would replay that entry as a constant: a wrong value at the next point)."""
    _T.clear()
    memo_program(0.7)
    vg = framead.value_and_grad(memo_program, cache=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for x in (0.7, 0.9, 0.7, 1.1, 0.9):
            value, _ = vg(x)
            assert value == math.sin(x) + x, x


def test_strict_memo_reports_the_first_stale_read():
    _T.clear()
    memo_program(1.3)
    with pytest.raises(framead.GradientHazard) as err:
        framead.grad(memo_program, strict=True)(1.3)
    assert f"{__file__}:{line_of('memo membership', __file__)}" in str(err.value)


_ACC = collections.defaultdict(float)


def accumulated(a):
    _ACC[a] += a * a  # accumulate
    return _ACC[a]


def test_defaultdict_accumulating_across_calls():
    """A defaultdict summing into an entry: the first call's entry is created in this call
    (silent), the second adds to what the first stored (FA110)."""
    _ACC.clear()
    assert hazards(accumulated, 0.5) == []
    assert hazards(accumulated, 0.5) == [("FA110", line_of("accumulate", __file__))]


def test_lru_cache_memo_keeps_fa101_next_to_a_dict_memo():
    @functools.lru_cache(maxsize=8)
    def cached(a):
        return math.sin(a)

    def f(a):
        return cached(a) + _T[a] + a  # two memos

    _T.clear()
    cached(0.4)
    memo_program(0.4)
    line = line_of("two memos", __file__)
    assert hazards(f, 0.4) == [("FA101", line), ("FA110", line)]


# no false alarms: the program's own tables, filled in this call


def _rank(v):
    xs = [v[0], v[1], v[2]]
    rank = {x: i for i, x in enumerate(sorted(xs))}
    return sum(x * (rank[x] + 1.0) for x in xs)


_OVERWRITTEN: dict = {}


def _overwrite(a):
    _OVERWRITTEN[a] = math.sin(a)  # (the key object an earlier call stored stays)
    return _OVERWRITTEN[a] + operator.contains(_OVERWRITTEN, a)


def _own_table(a):
    d = {}
    d[a] = a * a
    d.setdefault(a * 2.0, math.exp(a))
    seen = {a}
    s = d[a] + d.get(a) + d.setdefault(a, 0.0) + d.__getitem__(a * 2.0)
    s = s + operator.contains(d, a) + d.__contains__(a) + seen.__contains__(a)
    return s + d.pop(a) + dict.get(d, a, 1.0)


def _untraced_keys(a):
    d = {"w": a * 2.0, 0: a, (1, "x"): [a, a * a]}
    return d["w"] + d.get(0) + d.pop((1, "x"))[1] + d.setdefault("z", a)


def _defaultdict_in_call(v):
    acc = collections.defaultdict(float)
    for x in (v[0], v[1], v[0]):
        acc[x] += x * x
    return acc[v[0]] + acc.get(v[1])


def _other_keys(a):
    t = dict(_EARLIER_OTHER)  # (an earlier call's keys and values)
    return t.get(a, a * 3.0) + t.setdefault(a, a) * 0.5 + t[a] + \
        operator.contains(t, a * 5.0) + _EARLIER_OTHER.get(a * 2.0, 1.0)


_EARLIER_OTHER = {new_float(0.25): 4.0, new_float(9.0): 1.0}


def _literal_set(a):
    """Membership of a literal set, as ``a in {0.5, 2.0}`` compiles (a frozenset constant of
    the code): a comparison with constants, not a table."""
    if a is None:
        return a in {0.5, 2.0}
    literal = next(c for c in sys._getframe().f_code.co_consts if type(c) is frozenset)
    return a * 2.0 + (1.0 if literal.__contains__(a) else 0.0)


NO_ALARMS = {
    "a rank table built in this call (int values)": (_rank, np.array([0.3, 0.1, 0.2])),
    "an earlier call's key, its value overwritten now": (_overwrite, 0.6),
    "the program's own dict and set, every lookup form": (_own_table, 0.6),
    "keys that are not traced, values that are": (_untraced_keys, 0.6),
    "a defaultdict filled in this call": (_defaultdict_in_call, np.array([0.3, 0.7])),
    "misses in a table of other keys": (_other_keys, 0.6),
    "a hit in a literal set": (_literal_set, 0.5),
}


def _with_read(f, table: dict):
    """``f`` plus a read of ``table`` by its first input."""
    def g(x):
        a = x[0] if isinstance(x, np.ndarray) else x
        return f(x) + table.get(a, 0.0)  # extra read
    return g


@pytest.mark.parametrize("name", NO_ALARMS)
def test_no_false_alarm(name):
    """The program's own tables are silent (strict gives central differences' gradient, also
    on a second call); the one read of an earlier call's table added to it is the only
    hazard."""
    f, x = NO_ALARMS[name]
    a = float(x[0]) if isinstance(x, np.ndarray) else x
    g = _with_read(f, {})
    for _ in range(2):  # (a second call finds what the first stored, where it persists)
        assert hazards(g, x) == []
        got = framead.grad(g, strict=True)(x)
        xs = np.atleast_1d(np.asarray(x, dtype=float))
        fd = [(g(_bump(x, i, 1e-6)) - g(_bump(x, i, -1e-6))) / 2e-6 for i in range(xs.size)]
        assert np.allclose(np.atleast_1d(got), fd, rtol=1e-6, atol=1e-6), (got, fd)
    stale = _with_read(f, {new_float(a): 1.0})
    assert hazards(stale, x) == [("FA110", line_of("extra read", __file__))]


def _bump(x, i, h):
    if isinstance(x, np.ndarray):
        y = x.copy()
        y[i] += h
        return y
    return x + h


def test_lookup_in_a_worker_thread_is_not_other_thread_work():
    """dict.get with a traced key in a thread watching the capture only hashes the key (no
    FA109, as before): the capturing thread's stale read is the only hazard."""
    table = {new_float(0.5): 1.0}
    out = []

    def f(a):
        t = threading.Thread(target=lambda: out.append(table.get(a, 0.0)))
        t.start()
        t.join()
        return a * 2.0 + table[a]  # main thread's read

    assert hazards(f, 0.5) == [("FA110", line_of("main thread's read", __file__))]


def _own_membership(a):
    d = {a: 1.0}
    s = {a * 2.0}
    return a * (2.0 if operator.contains(d, a) else 3.0) + a * (s.__contains__(a * 2.0) + 1.0)


def _array_membership(x):
    return x.sum() * (2.0 if operator.contains(x, 0.5) else 3.0)


@pytest.mark.parametrize("f, points, hits", [
    (_own_membership, [0.7, 0.5, 0.9], 2),  # (this call's keys: nothing to re-check)
    (_literal_set, [0.7, 0.5, 0.9], 1),  # (0.5 is in the literal: the guard misses)
    (_array_membership, [np.array([0.1, 0.2]), np.array([0.5, 0.2]), np.array([0.3, 0.2])],
     1),
], ids=["own table", "literal set", "array"])
def test_membership_decisions_in_cached_traces(f, points, hits):
    """cache=True: a membership decided on traced values is re-checked by a replay, as a
    comparison is, except a hit on this call's own key (which a replay's key never finds
    in the recorded table, and the program's always does)."""
    vg = framead.value_and_grad(f, cache=True)
    for p in points:
        value, g = vg(p)
        want_value, want_g = framead.value_and_grad(f, strict=True)(p)
        assert value == want_value and np.array_equal(g, want_g), p
    assert vg.stats["hits"] == hits and vg.stats["uncacheable"] == 0, vg.stats


_SEEN: set = set()


def _seen_before(a):
    if a in _SEEN:  # membership operator
        return a
    _SEEN.add(a)
    return math.sin(a)


def test_membership_operator_on_an_earlier_calls_set():
    _SEEN.clear()
    _seen_before(0.8)
    assert hazards(_seen_before, 0.8) == [("FA110", line_of("membership operator", __file__))]


# --------------------------------------------------------------------------- raw memory

RAW = ("data", "ctypes", "__array_interface__", "__array_struct__")
PLAIN = ("shape", "dtype", "ndim", "size", "T", "real", "imag", "flat", "strides", "nbytes",
         "itemsize", "base", "flags")


def _reads(name: str):
    def f(v):
        a = v * 2.0
        rec = current_recorder()
        for plain in PLAIN:
            rec.getattr(a, plain)
        w = np.frombuffer(memoryview(np.ones(3)))  # (a memoryview of an untraced array)
        s = a.T @ w + a.shape[0] * a.real.sum() + a.flat[1] + a.ndim * a.size
        rec.getattr(a, name)  # raw read
        return s + v @ v
    return f


@pytest.mark.parametrize("name", RAW)
def test_raw_memory_attributes_are_fa105_where_read(name):
    """handlers.getattr (what the getattr probe calls for a traced array) reports FA105 at
    the user's line, and nothing for ``.shape``, ``.T``, ``.real``, ``.flat``... read before
    (through the handler and as syntax); the gradient is unchanged; strict raises."""
    f = _reads(name)
    x = np.array([0.5, -1.0, 2.0])
    assert hazards(f, x) == [("FA105", line_of("raw read", __file__))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.array_equal(framead.grad(f)(x), [9.0, 8.0, 12.0])
    with pytest.raises(framead.GradientHazard, match=f"FA105.*ndarray.{name}"):
        framead.grad(f, strict=True)(x)


def _data(v):
    return np.frombuffer((v * 2.0).data) @ np.ones(3) + v.sum()  # raw: data


def _ctypes(v):
    a = v * 2.0
    p = a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))  # raw: ctypes
    return p[0] + v.sum()


def _interface(v):
    a = np.tanh(v)
    return a.__array_interface__["shape"][0] * v.sum() + a.sum()  # raw: __array_interface__


def _struct(v):
    a = v * 2.0
    return (a.__array_struct__ is not None) + v.sum()  # raw: __array_struct__


# (the rewriter probes .data and .ctypes loads: capture/opcodes_common.ATTR_NAMES; not the
# interface attributes, which NumPy's Python code and framead's view walk read)
_NOT_PROBED = pytest.mark.xfail(strict=True, reason=(
    "__array_interface__ and __array_struct__ loads are not probed (NumPy's own Python code "
    "reads them: a hazard there would be a false alarm, and framead's view walk reads them "
    "too, under an outer capture a recursion)"))


@pytest.mark.parametrize("f", [_data, _ctypes, pytest.param(_interface, marks=_NOT_PROBED),
                               pytest.param(_struct, marks=_NOT_PROBED)], ids=RAW)
def test_raw_memory_attribute_syntax(f):
    name = RAW[[_data, _ctypes, _interface, _struct].index(f)]
    assert hazards(f, np.array([0.5, -1.0, 2.0])) == [("FA105", line_of(f"raw: {name}", __file__))]

