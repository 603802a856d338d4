"""Sets (and dict keys) of traced values in cached traces (``value_and_grad(f, cache=True)``:
later calls replay the trace while its guards hold). C decides, as it inserts the items,
which of them merge (equal values) and, for a set, the order it iterates them in (by their
hashes): ``len(set(vals))``, ``for v in set(vals)`` with an order-dependent body,
``list(s)[0]``, ``sum(s)``, ``sorted(s)`` (its merges) came out of a replay as they did
when recorded, silently wrong where the values merge or hash otherwise. Each making of a
set is now guarded by its layout (capture/membership.py ``Layout``: which items it holds, in
which order, re-made from the replay's own values), a set grown item by item by the layout of
its insertions; one changed or combined otherwise makes the trace unreplayable, with the
reason.

The items are traced values on a 0.5 grid (``v - v % 0.5``: a zero derivative, and the same
value, so the same merges and order, under central differences), each weighted by ``x[0]``
in the result: the gradient depends on the decisions. Each program is called at three points
(the second and third merge or order the items otherwise); every call's value must be the
native one, its gradient the central differences and an uncached capture's.

Sets made by a display (``{a, b}``), a comprehension or ``{*vals}`` are made by BUILD_SET /
SET_ADD / SET_UPDATE, which no probe sees: strict xfails naming the rewrite they need."""

from __future__ import annotations

import collections
import gc
import sys
import traceback
import warnings

import numpy as np
import pytest
from conftest import check_replay_at_points, fd_grad
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framead

pytestmark = pytest.mark.filterwarnings("ignore::framead.api.GradientWarning")


def _grid(x):
    """x's items as traced floats on a 0.5 grid."""
    return [float(v - v % 0.5) for v in x]


def _added(vals):
    s = set()
    for v in vals:
        s.add(v)
    return s


def _updated(vals):
    s = set()
    s.update(vals[:2])
    s.update(v for v in vals[2:])
    return s


def _grown_from_made(vals):
    s = set(vals[:2])
    s.add(vals[2])
    s.add(9.0)  # (a constant into a set of traced values)
    s.update(vals[3:])
    return s


BUILDERS = {
    "set_list": lambda x: set(_grid(x)),
    "set_tuple": lambda x: set(tuple(_grid(x))),
    "set_generator": lambda x: set(v for v in _grid(x)),  # noqa: C401
    "set_map": lambda x: set(map(float, _grid(x))),
    "set_array": lambda x: set(x - x % 0.5),  # (its rows: np.float64)
    "frozenset": lambda x: frozenset(_grid(x)),
    "add": lambda x: _added(_grid(x)),
    "update": lambda x: _updated(_grid(x)),
    "grown_from_made": lambda x: _grown_from_made(_grid(x)),
    "fromkeys": lambda x: dict.fromkeys(_grid(x)),
    "counter": lambda x: collections.Counter(_grid(x)),
    "dict_pairs": lambda x: dict(zip(_grid(x), [1.0, 2.0, 3.0, 4.0], strict=True)),
}

# sets made by instructions no probe sees (capture/opcodes_common.py rewrites none of them)
UNSEEN = {
    "display": lambda x: (lambda a, b, c, d: {a, b, c, d})(*_grid(x)),
    "comprehension": lambda x: {v for v in _grid(x)},  # noqa: C416
    "star_display": lambda x: {*_grid(x)},
}


def _fold(s, w):
    acc = 0.0
    for v in s:
        acc = acc * 0.5 + v * w
    return acc


CONSUMERS = {
    "len": lambda s, x: len(s) * x[0],
    "order_loop": lambda s, x: _fold(s, x[0]),
    "first": lambda s, x: list(s)[0] * x[0],
    "next_iter": lambda s, x: next(iter(s)) * x[0],
    "sum": lambda s, x: sum(s) * x[0],
    "sorted": lambda s, x: sum((k + 1.0) * v for k, v in enumerate(sorted(s))) * x[0],
    "max": lambda s, x: max(s) * x[0] + len(s) * x[1],
    "tuple_unpack": lambda s, x: sum(k * v for k, v in enumerate(tuple(s))) * x[0],
    "contains": lambda s, x: (2.0 if 1.0 in s else 1.0) * x[0],
}


def _program(builder, consumer, table=BUILDERS):
    make, use = table[builder], CONSUMERS[consumer]

    def f(x):
        s = make(x)
        if isinstance(s, dict):  # (fromkeys, Counter, dict: its keys)
            s = list(s) if consumer != "contains" else s
        return float(use(s, x) + x[2] * x[3])

    return f


# grid cells (0.5 .. 3.0) and offsets inside them away from the cell's edges
_cells = st.lists(st.integers(1, 6), min_size=4, max_size=4)
_fracs = st.lists(st.floats(0.1, 0.4), min_size=4, max_size=4)


def _point(cells, fracs):
    return [0.5 * c + 0.5 * f for c, f in zip(cells, fracs, strict=True)]


@pytest.mark.parametrize("builder", list(BUILDERS))
@pytest.mark.parametrize("consumer", list(CONSUMERS))
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(c1=_cells, c2=_cells, f1=_fracs, f2=_fracs)
def test_set_decisions_at_other_points(builder, consumer, c1, c2, f1, f2):
    """Recorded at one point, called at another (other merges, another order) and at the
    first again (a replay where nothing differs)."""
    f = _program(builder, consumer)
    check_replay_at_points(f, [_point(c1, f1), _point(c2, f2), _point(c1, f2)])


# the points where each decision differs, for the programs of every builder and consumer
MERGE = [[0.6, 1.2, 1.7, 2.3], [0.6, 0.7, 1.7, 2.3], [2.6, 1.2, 0.7, 1.3],
         [0.6, 1.2, 1.7, 2.3]]


@pytest.mark.parametrize("builder", list(BUILDERS))
@pytest.mark.parametrize("consumer", ["len", "order_loop", "first", "sum"])
def test_merges_and_orders_are_not_replayed(builder, consumer):
    """The second and third points merge two items or order them otherwise: they are not
    replays of the first trace (misses); the fourth is."""
    stats = check_replay_at_points(_program(builder, consumer), MERGE)
    assert stats["hits"] >= 1, stats
    if consumer in ("len", "sum"):  # (every builder merges the 2nd point's equal items)
        assert stats["misses"] >= 1, stats


def test_sorted_of_a_set_guards_its_merges():
    """sorted(set(vals)) guarded the order of what the set held, not which items merged:
    recorded where all differ, replayed where two are equal."""
    f = _program("set_list", "sorted")
    stats = check_replay_at_points(f, [[0.6, 1.2, 1.7, 2.3], [0.6, 0.7, 1.7, 2.3]])
    assert stats["hits"] == 0, stats


@pytest.mark.parametrize(("change", "reason"), [
    (lambda s, x: (s.discard(1.0), s)[1], "set.discard"),
    (lambda s, x: (s.pop(), s)[1], "set.pop"),
    (lambda s, x: s | {0.5}, "combined"),
    (lambda s, x: s.union([0.5]), "set.union"),
    (lambda s, x: set(s), "set of a set"),
])
def test_changed_sets_are_not_replayable(change, reason):
    """A set of traced values changed or combined otherwise than by insertions: the trace
    records why it cannot be replayed; every call is right."""

    def f(x):
        s = change(set(_grid(x)), x)
        return float(_fold(s, x[0]) + len(s) * x[1])

    vg = framead.value_and_grad(f, cache=True)
    for p in MERGE[:3]:
        x = np.array(p)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value, g = vg(x.copy())
        assert value == pytest.approx(f(x.copy()), rel=1e-12)
        np.testing.assert_allclose(g, fd_grad(f, (x.copy(),)), rtol=1e-6, atol=1e-6)
    assert vg.stats["hits"] == 0 and any(reason in r for r in vg.stats["reasons"]), vg.stats


def test_a_sorted_display_is_not_replayed_silently():
    """sorted()/min()/max() of a set made by a display: unreplayable while BUILD_SET is not
    probed (a set framead did not see made), else guarded (a miss where items merge)."""

    def f(x):
        a, b, c, d = _grid(x)
        s = sorted({a, b, c, d})
        return float(sum((k + 1.0) * v for k, v in enumerate(s)) * x[0])

    vg = framead.value_and_grad(f, cache=True)
    for p in MERGE[:2]:
        x = np.array(p)
        value, g = vg(x.copy())
        assert value == pytest.approx(f(x.copy()), rel=1e-12)
        np.testing.assert_allclose(g, fd_grad(f, (x.copy(),)), rtol=1e-6, atol=1e-6)
    assert vg.stats["hits"] == 0, vg.stats
    assert vg.stats["misses"] or any("display" in r for r in vg.stats["reasons"]), vg.stats


def _compared(x):
    s = set(_grid(x))
    a = 3.0 if s == {0.5, 1.0, 1.5, 2.0} else 1.0
    b = 2.0 if s.issubset([0.5, 1.0, 1.5, 2.0, 2.5]) else 0.5
    c = 1.5 if s.isdisjoint(v for v in (2.5, 3.0)) else 0.25
    return float(a * x[0] + b * x[1] + c * x[2])


def _copied(x):
    s = frozenset(_grid(x))
    d = dict(collections.OrderedDict(zip(_grid(x), [1.0, 2.0, 3.0, 4.0], strict=True)))
    return float(len(frozenset(s)) * x[0] + sum(k * v for k, v in d.items()) * x[1])


def _value_of_fromkeys(x):
    d = dict.fromkeys([1.0, 2.0], x * 1.0)  # (the value: an array, kept by identity)
    return float(np.sum(d[1.0] * d[2.0]) + len(dict.fromkeys(_grid(x))) * x[0])


@pytest.mark.parametrize("f", [_compared, _copied, _value_of_fromkeys])
def test_set_comparisons_copies_and_values(f):
    """s == t, s.issubset(it), s.isdisjoint(gen) of a set of traced values are guarded on
    its members; frozenset(fs) is fs, dict(OrderedDict(pairs)) guards the keys it merges;
    dict.fromkeys keeps a traced value by identity."""
    stats = check_replay_at_points(f, MERGE)
    assert stats["hits"] >= 1 and stats["misses"] >= 1 and not stats["reasons"], stats


def _counted(x):
    c = collections.Counter(_grid(x))
    return float(sum(n * k for k, n in c.items()) * x[0] + c[1.0] * x[1])


def _kept_values(x):
    d = dict(zip(_grid(x), [1.0, 2.0, 3.0, 4.0], strict=True))
    d.update([(_grid(x)[3], 5.0)])
    return float(sum(k * v for k, v in d.items()) * x[0])


@pytest.mark.parametrize("f", [_counted, _kept_values])
def test_counts_and_kept_values_follow_the_merges(f):
    """The same keys in the same order, merged otherwise (a 2nd item equal to the 1st, then
    to the 2nd): a Counter's counts, the value dict(pairs) keeps for a key, differ; a replay
    of the first trace would keep its counts and values."""
    stats = check_replay_at_points(
        f, [[0.6, 1.2, 0.7, 0.8], [0.6, 1.2, 1.3, 1.4], [0.6, 1.2, 0.7, 0.8]])
    assert stats["hits"] == 1 and stats["misses"] >= 1, stats


def _tally(x):
    tally = collections.Counter(np.sign(x).tolist())
    keys = dict.fromkeys(np.sign(x[:2]).tolist())
    return float(tally[1.0] * x[0] + tally.get(-1.0, 0) * x[1] + x.sum() +
                 (2.0 if keys.get(1.0, 0) is None else 0.5) * x[2])


def test_lookups_by_constant_keys_are_guarded():
    """tally[1.0], tally.get(-1.0) of a Counter of traced votes, d.get(1.0) of dict.fromkeys
    of traced values: the same merges with the signs flipped find other keys (other
    counts); the key a lookup finds is guarded."""
    base = [0.5, -0.6, 0.7, 0.8]
    stats = check_replay_at_points(_tally, [base, [-v for v in base], [v * 1.1 for v in base]])
    assert stats["hits"] == 1 and stats["misses"] >= 1, stats


def test_uncached_captures_of_sets_are_right():
    """Without a cache nothing is guarded: sets of traced values (and set(x) of a traced
    array's rows) are right as before."""
    for builder in BUILDERS:
        for consumer in CONSUMERS:
            f = _program(builder, consumer)
            for p in MERGE[:3]:
                x = np.array(p)
                v, g = framead.value_and_grad(f)(x.copy())
                assert v == pytest.approx(f(x.copy()), rel=1e-12)
                np.testing.assert_allclose(g, fd_grad(f, (x.copy(),)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("builder", list(UNSEEN))
@pytest.mark.parametrize("consumer", ["len", "order_loop"])
def test_sets_made_by_instructions(builder, consumer):
    check_replay_at_points(_program(builder, consumer, UNSEEN), MERGE)


# --- sets made by instructions: every form x every consumer, fuzzed ------------------------


def _yielded(vals):
    yield from {v for v in vals}


def _in_generator(vals):
    """A set display made inside a generator expression (3.11: its own frame)."""
    return next(s for s in ({a, b, *rest} for a, b, *rest in [vals]))


FORMS = {
    **UNSEEN,
    "mixed_display": lambda x: (lambda a, b, *r: {a, 9.0, *r, b})(*_grid(x)),
    "filtered_comprehension": lambda x: {v for v in _grid(x) if v > 0.75},
    "nested_comprehension": lambda x: {w for v in [_grid(x)] for w in v},
    "comprehension_of_rows": lambda x: {v for v in x - x % 0.5},
    "star_rows": lambda x: {*(x - x % 0.5)},
    "in_generator": lambda x: _in_generator(_grid(x)),
    "yielded_set": lambda x: set(_yielded(_grid(x))),
    "grown_display": lambda x: _grown_display(_grid(x)),
}


def _grown_display(vals):
    s = {vals[0], vals[1]}
    s.add(vals[2])
    s.update([vals[3]])
    return s


@pytest.mark.parametrize("consumer", list(CONSUMERS))
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(form=st.sampled_from(sorted(FORMS)), c1=_cells, c2=_cells, f1=_fracs, f2=_fracs)
def test_set_forms_fuzzed(consumer, form, c1, c2, f1, f2):
    """Each form of set making (display, comprehension, unpacking, add/update after a
    display, in a generator) read by each consumer, recorded at one point and called at
    points that merge or order the items otherwise (MERGE's) and at drawn ones: every call's
    value the native one, its gradient central differences' and an uncached capture's."""
    f = _program(form, consumer, FORMS)
    stats = check_replay_at_points(f, [_point(c1, f1), *MERGE[1:3], _point(c2, f2), _point(c1, f1)])
    assert stats["hits"] >= 1 and not stats["reasons"], stats


# --- capture is invisible: contents, order, errors, tracebacks, profiler events --------------


def _events(make, *args):
    """What ``make(*args)`` shows: the set's items in its order (or the error's type and
    message, with the traceback's lines and columns), a profiler's and a tracer's events."""
    events: list = []
    gc.disable()  # (a collection's callbacks: events of their own)
    sys.setprofile(lambda frame, event, arg: events.append(
        (event, frame.f_code.co_name, getattr(arg, "__qualname__", None))))

    def lines(frame, event, arg):  # (a tracer's line events: the lines the frames run)
        events.append((event, frame.f_code.co_name, frame.f_lineno))
        return lines

    sys.settrace(lines)
    err = None
    try:
        got = make(*args)
        out: object = list(got.items()) if isinstance(got, dict) else list(got)
    except TypeError as e:
        err = e
    finally:
        sys.settrace(None)
        sys.setprofile(None)
        gc.enable()
    if err is not None:
        out = (type(err), str(err), [(fs.name, fs.lineno, fs.colno, fs.end_colno)
                                     for fs in traceback.extract_tb(err.__traceback__)][1:])
    return out, events


class _Hashed:
    """A hash of its own (a Python __hash__: profiler events, a frame in tracebacks)."""

    def __init__(self, v):
        self.v = v

    def __hash__(self):
        if self.v < 0:
            raise TypeError(f"negative {self.v}")
        return hash(self.v)

    def __eq__(self, other):
        return isinstance(other, _Hashed) and other.v == self.v


NATIVE_FORMS = [
    lambda a, b: {a, b, 3},
    lambda a, b: {v for v in (a, b, a)},
    lambda a, b: {*(a, b), b},
    lambda a, b: {1, 2, 3, a},
    lambda a, b: {a, [b]},  # (unhashable: TypeError at the display)
    lambda a, b: {v for v in ([a], b)},
    lambda a, b: {*[a, {}]},
    lambda a, b: {_Hashed(a), _Hashed(b)},
    lambda a, b: {_Hashed(v) for v in (a, -b)},  # (its __hash__ raises)
    lambda a, b: {*map(_Hashed, (a, -1.0))},
    lambda a, b: {k: v for k, v in ((1, a), (1.0, b), (a, 2))},  # (1 keeps 1.0's value)
    lambda a, b: {k: a for k in (b, [a])},
    lambda a, b: {_Hashed(v): v for v in (a, b, -a)},
]


@pytest.mark.parametrize("k", range(len(NATIVE_FORMS)))
@pytest.mark.parametrize("cache", [False, True])
def test_set_instructions_are_invisible(k, cache):
    """A set display, comprehension and unpacking under capture (untraced items and traced
    ones; in a cached trace too): the same items in the same order, the same errors with the
    same traceback positions, and a profiler sees the native events (no c_call of set, set.add
    or set.update that the instructions do not make)."""
    make = NATIVE_FORMS[k]
    want_plain = _events(make, 1.5, 2.5)
    seen = []

    def f(x):
        seen.append(_events(make, 1.5, 2.5))
        seen.append(_events(make, x[0] * 1.0, x[1] * 1.0))  # (traced items)
        return x[0] * 2.0

    x = np.array([1.5, 2.5])
    g = framead.value_and_grad(f, cache=True)(x)[1] if cache else framead.grad(f)(x)
    np.testing.assert_allclose(g, [2.0, 0.0])
    assert seen[0] == want_plain
    assert seen[1] == want_plain


# --- dict keys made by instructions (BUILD_MAP, MAP_ADD, DICT_UPDATE, STORE_SUBSCR) -----------


def _stored(vals, x):
    d: dict = {}
    for i, v in enumerate(vals):
        d[v] = i * x[0]
    return d


DICT_FORMS = {
    "store_subscr": _stored,
    "display": lambda vals, x: (lambda a, b, c, e: {a: x[0], b: 2 * x[0], c: 3 * x[0],
                                                    e: 4 * x[0]})(*vals),
    "merge": lambda vals, x: {**{vals[0]: x[0], vals[1]: 2 * x[0]},
                              **{vals[2]: 3 * x[0], vals[3]: 4 * x[0]}},
}


@pytest.mark.parametrize("form", list(DICT_FORMS))
def test_dict_keys_made_by_instructions(form):
    check_replay_at_points(_keyed(DICT_FORMS[form]), MERGE)


def _keyed(make):
    def f(x):
        d = make(_grid(x), x)
        return float(sum(k * w for k, w in d.items()) + len(d) * x[1] +
                     sum(k * (i + 1.0) for i, k in enumerate(d)) * x[2])

    return f


COMPREHENSIONS = {
    "enumerated": lambda vals, x: {v: i * x[0] for i, v in enumerate(vals)},
    "filtered": lambda vals, x: {v: v * x[0] for v in vals if v > 0.75},
    "constant_first": lambda vals, x: {v: x[0] for v in [1.0, *vals]},
    "nested": lambda vals, x: {w: x[0] * w for v in [vals, vals[::-1]] for w in v},
    "in_generator": lambda vals, x: next({v: x[0] for v in vs} for vs in [vals]),
}


@pytest.mark.parametrize("form", list(COMPREHENSIONS))
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(c1=_cells, f1=_fracs)
def test_dict_comprehensions_guard_their_keys(form, c1, f1):
    """A dict comprehension (MAP_ADD: opcodes_common.DICT_ADD) of traced keys: which keys
    merge (and which value each keeps, its order) is guarded, at points that merge them
    otherwise; every call the native value, its gradient central differences'."""
    stats = check_replay_at_points(_keyed(COMPREHENSIONS[form]),
                                   [_point(c1, f1), *MERGE[1:3], _point(c1, f1)])
    assert stats["hits"] >= 1 and not stats["reasons"], stats


class _Key:
    hashes = 0

    def __init__(self, v):
        self.v = v

    def __hash__(self):
        _Key.hashes += 1
        return hash(self.v)

    def __eq__(self, other):
        return isinstance(other, _Key) and self.v == other.v


def _display_semantics(x):
    a, b = _Key(1), _Key(1)
    d = {a: x[0], b: 2 * x[0], 3.0: x[1], x[1] * 0 + 3.0: x[0]}  # (b and the traced 3.0 merge)
    events: list = []
    sys.setprofile(lambda frame, event, arg: events.append((event, getattr(arg, "__name__", ""))))
    e = {a: 1, 2: 3}
    sys.setprofile(None)
    try:
        e = {[1]: 2, 3: 4}
    except TypeError as err:
        last = traceback.extract_tb(err.__traceback__)[-1]
        error = (str(err), last.lineno, last.line)
    return d[_Key(1)] + d[3.0], (next(iter(d)) is a, len(d), _Key.hashes, events, error, len(e))


def test_a_rewritten_dict_display_is_the_native_one():
    """BUILD_MAP n as DICT_ADD({}, pairs): the same merges (the first key object kept, the last
    value), the same __hash__ calls, profiler events, error and traceback line."""
    x = np.array([1.0, 2.0])
    _Key.hashes = 0
    native = _display_semantics(x)
    _Key.hashes = 0
    (value, aux), g = framead.value_and_grad(_display_semantics, has_aux=True)(x)
    assert (value, aux) == native and native[1][0] and native[1][1] == 2
    np.testing.assert_array_equal(g, [3.0, 0.0])


class _KeysOnly:
    """A mapping by keys() and __getitem__ only (no dict)."""

    def keys(self):
        return ["k"]

    def __getitem__(self, k):
        return 5.0


def _merge_semantics(x):
    gen = (i for i in range(3))
    out = []
    for m in ([(1, 2)], gen, 3, _KeysOnly(), {x[0] * 0 + 1.0: x[1]}):
        try:
            out.append({1.0: x[0], **m})
        except TypeError as err:
            last = traceback.extract_tb(err.__traceback__)[-1]
            out.append((str(err), err.__context__, last.lineno))
    return float(out[-1][1.0] + out[-2]["k"]), (str(out), next(gen))


def test_a_rewritten_dict_merge_is_the_native_one():
    """{**m} as probes.dict_update(d, m): the same errors for what is not a mapping (a list
    of pairs, a generator, not consumed, a number), a keys()-only mapping merged, and the
    same key merges (a traced key equal to 1.0 merges into 1.0), natively, uncached and in a
    cached trace."""
    x = np.array([1.0, 2.0])
    native = _merge_semantics(x)
    assert native[0] == 7.0 and native[1][1] == 0
    for cache in (False, True):
        vg = framead.value_and_grad(_merge_semantics, has_aux=True, cache=cache)
        for _ in range(2):
            (value, aux), g = vg(x)
            assert (value, aux) == native
            np.testing.assert_array_equal(g, [0.0, 1.0])
