"""``key in table`` / ``key not in table`` (CONTAINS_OP) under capture.

The rewriter makes CONTAINS_OP a call of the C probe ``CONTAINS[arg](key, table)``
(capture/_evalframe.c): PySequence_Contains as the instruction, no profiler events of its own;
a membership test with a traced key or table, or a list/tuple holding traced items (while a
cached trace is recorded also a set, frozenset, dict, dict view or deque holding them), goes as
``operator.contains(table, key)`` to ``special_forms.container_lookup``: a hit on a key an
earlier call stored is FA110, a decision on traced values is a comparison (FA102 bookkeeping,
guarded in cached traces against what the table held then: capture/membership.py).
Everything else is as natively: the same ``__contains__`` (or ``__iter__``/``__getitem__``
iteration), the same results, exceptions and tracebacks.
"""

from __future__ import annotations

import collections
import dis
import math
import operator
import sys
import traceback
import warnings
from typing import Any

import numpy as np
import pytest
from conftest import fd_grad, line_of, trace_hazards
from hypothesis import given, settings
from hypothesis import strategies as st

import framead


def new_float(x: float) -> float:
    """An equal float that is another object (never one the program computed)."""
    return float.fromhex(float(x).hex())


# --------------------------------------------------------------------------- containers


class WithContains:
    def __init__(self, items, raises=False):
        self.items, self.raises = list(items), raises

    def __contains__(self, k):
        if self.raises:
            raise ValueError(f"no {type(k).__name__} here")  # user contains raises
        return any(k == i for i in self.items)


class OnlyIter:
    def __init__(self, items):
        self.items = list(items)

    def __iter__(self):
        yield from self.items


class OnlyGetitem:
    def __init__(self, items):
        self.items = list(items)

    def __getitem__(self, i):
        return self.items[i]  # (IndexError ends CPython's iteration)


CONTAINERS = ("set", "frozenset", "dict", "list", "tuple", "str", "user_contains",
              "user_raises", "user_iter", "user_getitem", "ndarray", "traced_ndarray",
              "keys", "values", "items")
KEYS = ("traced_float", "untraced_float", "int", "traced_f64", "traced_element", "unhashable")


def _key(kind: str, x, k0: float):
    if kind == "traced_float":
        return float(x[0])
    if kind == "untraced_float":
        return new_float(k0)
    if kind == "int":
        return 1
    if kind == "traced_f64":
        return x[0] * 1.0
    if kind == "traced_element":
        return x[0]
    return [x[0]]


def _container(kind: str, x, key, hit: bool, own: bool):
    """A container of ``kind`` that holds an item equal to ``key`` when ``hit``: the key
    itself (``own``: this call's value) or an equal constant."""
    if isinstance(key, list):
        match = key if own else [new_float(key[0])]
    elif own:
        match = key
    else:
        match = new_float(key) if not isinstance(key, int) else 1.0
    items = [2.5, -7.0] + ([match] if hit else [])
    if kind in ("set", "frozenset", "dict", "keys", "values", "items"):
        items = [i if not isinstance(i, list) else tuple(i) for i in items]
    if kind == "set":
        return set(items)
    if kind == "frozenset":
        return frozenset(items)
    if kind == "dict":
        return {i: 0.0 for i in items}
    if kind == "keys":
        return {i: 0.0 for i in items}.keys()
    if kind == "values":
        return dict(enumerate(items)).values()
    if kind == "items":
        return {i: 0.0 for i in items}.items()
    if kind == "list":
        return items
    if kind == "tuple":
        return tuple(items)
    if kind == "str":
        return "2.5 -7.0 1"
    if kind in ("user_contains", "user_raises"):
        return WithContains(items, raises=kind == "user_raises")
    if kind == "user_iter":
        return OnlyIter(items)
    if kind == "user_getitem":
        return OnlyGetitem(items)
    floats = [float(i[0]) if isinstance(i, list) else float(i) for i in items]
    if kind == "ndarray":
        return np.array(floats)
    return np.concatenate([x[:1] * 0.0 + floats[-1], x[1:] * 0.0 + 2.5])  # traced values


def _program(cont: str, key_kind: str, neg: bool, hit: bool, own: bool, k0: float, seen):
    def f(x):
        k = _key(key_kind, x, k0)
        t = _container(cont, x, k, hit, own)
        if cont == "items":
            k = (k if not isinstance(k, list) else tuple(k), 0.0)
        r = k not in t if neg else k in t  # the membership
        seen.append(r)
        return x.sum() * (2.0 if r else 3.0) + x[1]
    return f


def _outcome(f, x):
    """(value, gradient or None, exception summary or None)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return f(x), None
    except Exception as e:  # noqa: BLE001
        return None, _exc(e)


def _exc(e: BaseException):
    """The exception's type, text and the frames from the program's own ``f`` down: file,
    function, lines and columns (the carets), source."""
    frames = traceback.extract_tb(e.__traceback__)
    start = next(i for i, fs in enumerate(frames) if fs.name == "f" and fs.filename == __file__)
    tail = [(fs.filename, fs.name, fs.lineno, fs.end_lineno, fs.colno, fs.end_colno, fs.line)
            for fs in frames[start:]]
    return type(e), str(e), tail


@settings(max_examples=300, deadline=None)
@given(cont=st.sampled_from(CONTAINERS), key_kind=st.sampled_from(KEYS), neg=st.booleans(),
       hit=st.booleans(), own=st.booleans(), x0=st.floats(-3.0, 3.0))
def test_membership_fuzzer_native_vs_captured(cont, key_kind, neg, hit, own, x0):
    """Container kinds x key kinds x ``in``/``not in``: the captured membership results,
    values and exceptions (type, text, traceback frames with their carets) are the native
    ones; the gradient is the analytic one of the branch taken."""
    x = np.array([x0, 0.25])
    native_seen: list = []
    captured_seen: list = []
    f_native = _program(cont, key_kind, neg, hit, own, x0, native_seen)
    f_captured = _program(cont, key_kind, neg, hit, own, x0, captured_seen)
    (want, want_exc) = _outcome(f_native, x)
    (got, got_exc) = _outcome(framead.value_and_grad(f_captured), x)
    assert got_exc == want_exc
    if want_exc is not None:
        return
    value, g = got
    assert captured_seen == native_seen and all(type(r) is bool for r in captured_seen)
    assert value == want
    c = 2.0 if native_seen[0] else 3.0
    assert np.array_equal(g, [c, c + 1.0])


# --------------------------------------------------------------------------- exceptions


def _raising(kind):
    def f(a):
        if kind == "unhashable":
            return a * ([a] in {1.0, 2.0})  # unhashable key
        if kind == "not_container":
            return a * (a not in 3)  # not a container
        if kind == "str":
            return a * (a in "abc")  # str needs str
        return a * (a in WithContains([], raises=True))  # raising contains
    return f


@pytest.mark.parametrize("kind", ["unhashable", "not_container", "str", "contains_raises"])
def test_exceptions_and_tracebacks_are_native(kind):
    """TypeError texts and a raising ``__contains__``: the same exception, text and frames
    (lines, columns) as natively; the captured frame's line is the user's."""
    f = _raising(kind)
    want = _outcome(f, 0.5)[1]
    got = _outcome(framead.grad(f), 0.5)[1]
    assert want is not None and got == want


# --------------------------------------------------------------------------- hazards


_SEEN: set = set()
_MEMO: dict = {}


def _seen_set(a):
    if a in _SEEN:  # set membership
        return a * 2.0
    _SEEN.add(a)
    return math.sin(a)


def _seen_not_in(a):
    if a not in _SEEN:  # set not in
        _SEEN.add(a)
        return math.sin(a)
    return a * 2.0


def _seen_keys(a):
    return a * (2.0 if a in _MEMO.keys() else 3.0)  # keys view membership


def _hazards(f, x):
    return [(h.code, h.loc.line) for h in trace_hazards(f, x)]


@pytest.mark.parametrize("f, marker", [
    (_seen_set, "set membership"), (_seen_not_in, "set not in"),
    (_seen_keys, "keys view membership")])
def test_stale_key_found_by_the_operator_is_fa110(f, marker):
    """A key an earlier call stored (an equal float, another object) found by ``in`` /
    ``not in``: FA110 at that line; strict raises; a first call (a miss) is silent."""
    _SEEN.clear()
    _MEMO.clear()
    assert _hazards(f, 0.8) == []
    _SEEN.add(new_float(0.8))
    _MEMO[new_float(0.8)] = 1.0
    assert _hazards(f, 0.8) == [("FA110", line_of(marker, __file__))]
    with pytest.raises(framead.GradientHazard, match="FA110"):
        framead.grad(f, strict=True)(0.8)


def _own_keys(a):
    s = {a, a * 3.0}
    d = {a * 2.0: a}
    return a * (2.0 if a in s and a * 2.0 not in d.keys() else 3.0)


def _literal(a):
    return a * (2.0 if a in {0.5, 0.8} else 3.0)


@pytest.mark.parametrize("f, x, g", [(_own_keys, 0.8, 3.0), (_own_keys, 0.5, 3.0),
                                      (_literal, 0.8, 2.0), (_literal, 0.7, 3.0)])
def test_own_keys_and_literal_sets_are_silent(f, x, g):
    """This call's own keys and a literal set (a comparison with constants): no hazard."""
    assert _hazards(f, x) == []
    assert framead.grad(f, strict=True)(x) == g


def _only_decisions(x):
    return 1.0 if 0.5 in x else 2.0


def _only_decisions_scalar(a):
    return 1.0 if a not in (0.5, 0.7) else 2.0


@pytest.mark.parametrize("f, x", [(_only_decisions, np.array([0.5, 0.2])),
                                  (_only_decisions_scalar, 0.7)])
def test_result_reached_only_through_membership_is_fa102(f, x):
    """``x in traced_array`` is ``(x == a).any()``: a comparison, as ``a < b`` is; a result
    reached from the inputs only through it is FA102, as for other comparisons."""
    assert [h.code for h in framead.trace(f, x).hazards] == ["FA102"]


# --------------------------------------------------------------------------- cached replays


def _tuple_member(a):
    return a * (2.0 if a in (0.5, 1.0) else 3.0)


def _array_member(x):
    return x.sum() * (2.0 if 0.5 in x else 3.0)


def _not_in_array(x):
    y = x * 2.0
    return x.sum() * (2.0 if 1.0 not in y else 3.0)


def _list_member(a):
    return a * (2.0 if a * 2.0 in [1.0, 3.0] else 3.0)


def _traced_key_in_untraced_array(x):
    return x.sum() * (2.0 if x[0] in np.array([0.5, 0.7]) else 3.0)


@pytest.mark.parametrize("f, points", [
    (_tuple_member, [0.7, 0.5, 0.9, 1.0]),
    (_list_member, [0.7, 0.5, 0.9, 1.5]),
    (_array_member, [np.array([0.1, 0.2]), np.array([0.5, 0.2]), np.array([0.3, 0.2])]),
    (_not_in_array, [np.array([0.1, 0.2]), np.array([0.5, 0.2]), np.array([0.3, 0.2])]),
    (_traced_key_in_untraced_array,
     [np.array([0.1, 0.2]), np.array([0.7, 0.2]), np.array([0.3, 0.2])]),
])
def test_cached_replays_recheck_membership(f, points):
    """cache=True: a replay re-checks each membership decision; its values and gradients
    are those of a fresh capture (and the native value) at every new point."""
    vg = framead.value_and_grad(f, cache=True)
    for p in points:
        value, g = vg(p)
        want_value, want_g = framead.value_and_grad(f, strict=True)(p)
        assert value == want_value == f(p) and np.array_equal(g, want_g), p
    assert vg.stats["uncacheable"] == 0, vg.stats


def _untraced_key_among_traced_items(a):
    b = a * 1.0
    return a * (2.0 if 0.5 in [b, 1.0] else 3.0)  # untraced key, traced items


def _contains_called_by_name(a):
    b = a * 1.0
    return a * (2.0 if operator.contains(((1.0, b), 2.0), (1.0, 0.5)) else 3.0)


@pytest.mark.parametrize("f", [_untraced_key_among_traced_items, _contains_called_by_name])
def test_untraced_key_among_traced_items_is_rechecked(f):
    """``0.5 in [b, 1.0]``: the CONTAINS probe looks into a list or tuple for traced items (the
    call probe into operator.contains's arguments: its C flags are RULE|SCAN), so the
    comparisons list.__contains__ makes in C are guarded: each replay re-checks them."""
    vg = framead.value_and_grad(f, cache=True)
    for p in (0.7, 0.5, 0.9, 0.5):
        value, g = vg(p)
        assert value == f(p), p
        assert g == (2.0 if p == 0.5 else 3.0), p
    assert vg.stats["uncacheable"] == 0, vg.stats


# --------------------------------------------------------------------------- the rewrite


def _shapes(a, s):
    out = [a in s, a not in s, [v for v in (1, 2, 3) if v in s]]
    while a in s and a not in out:
        s = s - {a}
    return out, s


def test_no_contains_op_is_left_and_results_are_native():
    """Every CONTAINS_OP of an instrumented code object became the call probe's call of
    operator.contains (nothing refused), and ``in``/``not in`` in expressions, conditions,
    comprehensions and loops give the native results under capture."""
    from framead.capture import _evalframe as C
    from framead.capture import rewriter

    code = _shapes.__code__
    assert any(i.opname == "CONTAINS_OP" for i in dis.get_instructions(code))
    new = rewriter.rewrite(code, rewriter.probes_from(C))
    assert not any(i.opname == "CONTAINS_OP" for i in dis.get_instructions(new))
    for a, s in ((1, {1, 2}), (5, {1, 2}), (2.0, frozenset({2.0}))):
        want = _shapes(a, s)

        def f(x, a=a, s=s):
            got = _shapes(a, s)
            assert got == want
            return x * 2.0

        assert framead.grad(f)(1.0) == 2.0


def _profiled(a, s):
    events = []
    sys.setprofile(lambda frame, event, arg: events.append((event, getattr(arg, "__name__", ""))))
    try:
        r = a in s
    finally:
        sys.setprofile(None)
    return r, events


def test_a_profiler_sees_the_native_events():
    """The CONTAINS probe is no builtin function: a profiler sees no c_call/c_return of it
    (nor of operator.contains), as natively."""
    want = _profiled(1, {1, 2})

    def f(x):
        assert _profiled(1, {1, 2}) == want
        return x * 2.0

    assert framead.grad(f)(1.0) == 2.0


# --------------------------------------------------------------------------- decisions, fuzzed

KINDS = ("list", "tuple", "set", "frozenset", "dict", "ordered", "keys", "values", "items",
         "deque", "ndarray", "str", "user_contains")
#: containers whose traced items the C probe looks for only while guards are recorded, and
#: the guard compares with as a snapshot of their members (membership.members)
SNAPSHOT = ("set", "frozenset", "dict", "ordered", "keys", "values", "items", "deque")
POINTS = (0.5, 0.7, 1.25)


def _decision_program(kind: str, key_traced: bool, items_traced: bool, neg: bool):
    """f(x, force=None): ``key in container`` (``not in``: neg), the key x[0] (traced) or 0.5,
    the items [x[1] (traced) or 0.5, 2.5]; the result's branch scales a smooth function of x.
    ``force``: the decision given (the branch's function, for finite differences)."""

    def f(x, force=None):
        k = float(x[0]) * 1.0 if key_traced else 0.5
        t = float(x[1]) * 1.0 if items_traced else 0.5
        items = [t, 2.5]
        if kind == "list":
            c = items
        elif kind == "tuple":
            c = tuple(items)
        elif kind == "set":
            c = set(items)
        elif kind == "frozenset":
            c = frozenset(items)
        elif kind == "ordered":
            c = collections.OrderedDict((i, 0.0) for i in items)
        elif kind in ("dict", "keys", "items"):
            c = {i: 0.0 for i in items}
            c = c.keys() if kind == "keys" else c.items() if kind == "items" else c
            k = (k, 0.0) if kind == "items" else k
        elif kind == "values":
            c = dict(enumerate(items)).values()
        elif kind == "deque":
            c = collections.deque(items)
        elif kind == "ndarray":
            c = np.array(items)
        elif kind == "str":
            c = "0.5 2.5"
        else:
            c = WithContains(items)
        r = k not in c if neg else k in c  # fuzzed membership
        r = r if force is None else force
        return (x[0] * x[1] + x.sum() ** 2) * (2.0 if r else 3.0)

    return f


def _check_at(f, got, x):
    """``got`` (value, gradient) or an exception summary: the native value (or exception) and
    the central finite differences of the branch the native run took."""
    try:
        want = f(x)
    except TypeError as e:
        assert got == (TypeError, str(e)), x
        return
    value, g = got
    assert value == want, x
    native = f(x, force=True) == want  # (the two branches' values differ at POINTS)
    fd = fd_grad(lambda z: f(z, force=native), (x,))
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-6, err_msg=str(x))


def _call(vg, x):
    try:
        return vg(x)
    except TypeError as e:
        return (TypeError, str(e))


@settings(max_examples=250, deadline=None)
@given(kind=st.sampled_from(KINDS), key_traced=st.booleans(), items_traced=st.booleans(),
       neg=st.booleans(), cached=st.booleans(),
       points=st.lists(st.tuples(st.sampled_from(POINTS), st.sampled_from(POINTS)),
                       min_size=2, max_size=2))
def test_membership_decisions_fuzzed(kind, key_traced, items_traced, neg, cached, points):
    """Container kinds x key traced or not x items traced or not x ``in``/``not in``,
    uncached and cached (a second call whose values may change the decision): each call's
    value is the native one and its gradient the central finite differences of the branch the
    native run took (a cached replay re-checks the decision it recorded)."""
    f = _decision_program(kind, key_traced, items_traced, neg)
    vg = framead.value_and_grad(f, cache=True) if cached else None
    for p in points:
        x = np.array(p)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = _call(vg if cached else framead.value_and_grad(f), x)
        _check_at(f, got, x)


@pytest.mark.parametrize("key_traced", [True, False])
@pytest.mark.parametrize("kind", SNAPSHOT)
def test_containers_of_traced_items_are_rechecked(kind, key_traced):
    """``k in {t, 2.5}`` (sets, dicts, dict views, deques holding a traced item), cached: a
    replay decides with its own values (the key and the item), a hit on this call's traced
    item included; the call that changes the decision gets the native value and the central
    finite differences of the branch taken (replayed, the recorded branch was returned)."""
    f = _decision_program(kind, key_traced, True, False)
    vg = framead.value_and_grad(f, cache=True)
    for p in ((0.5, 0.7), (0.5, 0.5)):
        _check_at(f, _call(vg, np.array(p)), np.array(p))


def _changed_later(kind: str):
    """``k in table`` (a traced key), then the table changes: the recorded decision was on
    what the table held then."""

    def f(x, force=None):
        k = float(x[0]) * 1.0
        items = [0.5, 2.5]
        t: Any = {"set": set, "dict": dict.fromkeys, "deque": collections.deque}[kind](items)
        r = k in t if force is None else force  # changed later
        if kind == "set":
            t.discard(0.5)
        elif kind == "dict":
            del t[0.5]
        else:
            t.remove(0.5)
        return (x[0] * x[1] + x.sum() ** 2) * (2.0 if r else 3.0)

    return f


def _tuple_keys(x, force=None):
    t = float(x[1]) * 1.0
    d = {(t, 1.0): "a", (2.5, 1.0): "b"}
    r = (0.5, 1.0) in d if force is None else force  # traced item in a key
    return (x[0] * x[1] + x.sum() ** 2) * (2.0 if r else 3.0)


def _tuple_items(x, force=None):
    t = float(x[1]) * 1.0
    s = {(t, 1.0), (2.5, 1.0)}
    r = (0.5, 1.0) in s if force is None else force  # traced item in a set's tuple
    return (x[0] * x[1] + x.sum() ** 2) * (2.0 if r else 3.0)


@pytest.mark.parametrize("f", [_changed_later("set"), _changed_later("dict"),
                               _changed_later("deque"), _tuple_keys, _tuple_items])
def test_cached_membership_is_rechecked_against_the_table_of_then(f):
    """A table that changes after the test (the guard keeps its members of then, not the live
    table: 0.5 is no longer in it, so 0.5 in it was replayed as 0.7's False), and a key
    holding a traced value in a dict's keys or a set (the C probe looks inside them): each call's
    value and gradient are the native value and the branch's central finite differences (a
    hit on the constant 0.5 is FA110: that call is not cached)."""
    vg = framead.value_and_grad(f, cache=True)
    for p in ((0.7, 0.3), (0.5, 0.3), (0.7, 0.5), (0.5, 0.5)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = _call(vg, np.array(p))
        _check_at(f, got, np.array(p))
    assert vg.stats["hits"] >= 1, vg.stats


def _memo_seen(a):
    seen = {0.5, 2.5}
    t = a * 1.0
    seen.add(t)
    return a * (2.0 if 0.7 in seen else 3.0)  # untraced key, traced item


def test_untraced_key_among_set_items_is_no_comparison_in_either_capture():
    """``0.7 in {..., t}`` with an untraced key: uncached captures do not look into sets (no
    comparison is noted, O(1) memo tests); a cached capture guards it and notes no comparison
    either (the same hazards, FA102 included, in both)."""
    for a in (0.7, 0.9):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plain = framead.trace(_memo_seen, a).hazards
        assert plain == []
    vg = framead.value_and_grad(_memo_seen, cache=True)
    for a in (0.9, 0.7, 0.9):
        assert vg(a) == (_memo_seen(a), 2.0 if a == 0.7 else 3.0), a


def _shrinking_memo(x, seen_out=None):
    seen = {0.5, 1.5, 2.5}
    total = 0.0
    for i in range(3):
        k = float(x[i]) * 1.0
        hit = k in seen  # shrinking memo
        again = k * 2.0 in seen  # (the same members: the snapshot serves again)
        if seen_out is not None:
            seen_out.append(2.0 * hit + 3.0 * (not hit) + 5.0 * again + 7.0 * (not again))
        total = total + x[i] * ((2.0 if hit else 3.0) + (5.0 if again else 7.0))
        seen.discard(1.5 + i)  # (untraced keys: each snapshot is a frozenset)
    return total


def test_a_changing_table_is_rechecked_at_each_test():
    """A traced key tested in a loop against a set that shrinks between the tests, cached: each
    test is guarded against the members of its own time (one snapshot while the set is
    unchanged; 2.5 was in the set of the second tests, not in the live set, which said the
    recorded miss again); the gradient is the analytic one of the native decisions."""
    vg = framead.value_and_grad(_shrinking_memo, cache=True)
    for p in ((0.7, 0.7, 0.7), (0.7, 2.5, 0.7), (0.7, 1.25, 0.7), (0.7, 0.7, 0.7),
              (1.25, 0.7, 0.25), (0.7, 0.7, 0.25)):
        x = np.array(p)
        slopes: list = []
        want = _shrinking_memo(x, slopes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value, g = vg(x)
        assert value == want, p
        assert np.array_equal(g, slopes), p
    assert vg.stats["hits"] >= 1, vg.stats
