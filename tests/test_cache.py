"""Cached traces (grad(f, cache=True)): hits re-run the generated code without running f;
guards, signatures and watched globals send every changed situation back to capture.

Every cached gradient is compared with a fresh uncached capture at the same point (and the
uncached path is checked against finite differences by the rest of the suite).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import fresh
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from test_random_grad import _load, program_dir, random_float_programs  # noqa: F401

import framead


def assert_close(a, b, rtol, atol):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                               rtol=rtol, atol=atol)


def _same_as_uncached(g, f, args, argnums=0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = g(*fresh(args))
        want = framead.grad(f, argnums)(*fresh(args))
    if isinstance(want, tuple):
        for a, b in zip(got, want, strict=True):
            assert_close(a, b, rtol=1e-12, atol=1e-14)
    else:
        assert_close(got, want, rtol=1e-12, atol=1e-14)


def test_hit_does_not_run_f():
    runs = []

    def f(x):
        runs.append(1)
        return float(np.sum(np.sin(x) * x))

    g = framead.grad(f, cache=True)
    for k in range(5):
        x = np.linspace(0.1, 1.0, 4) * (1 + k)
        np.testing.assert_allclose(g(x), np.cos(x) * x + np.sin(x), rtol=1e-13)
    assert len(runs) == 1  # captured once; four hits ran the generated code only
    assert g.stats["hits"] == 4 and g.stats["captures"] == 1


def test_branch_guard_misses_and_recaptures():
    def f(x):
        s = 0.0
        for i in range(len(x)):
            if x[i] > 0:
                s += x[i] ** 2
            else:
                s -= np.sin(x[i])
        return s

    g = framead.grad(f, cache=True)
    pts = [np.array([1.0, -2.0, 3.0]), np.array([2.0, -1.0, 1.0]),
           np.array([-2.0, -1.0, 1.0]), np.array([0.5, -0.5, 2.0])]
    for x in pts:
        _same_as_uncached(g, f, (x,))
    assert g.stats["captures"] == 2 and g.stats["misses"] >= 1 and g.stats["hits"] == 2


def test_int_and_mask_decisions_are_guarded():
    def f(x):
        k = int(np.argmax(x))
        m = x > 0.5
        return float(np.sum(x[m] ** 2) + x[k] * 3.0 + math.floor(x[0] * 4))

    g = framead.grad(f, cache=True)
    for x in ([0.2, 0.9, 0.7], [0.3, 0.8, 0.6], [0.9, 0.1, 0.7], [0.2, 0.9, 0.7]):
        _same_as_uncached(g, f, (np.array(x),))
    assert g.stats["hits"] >= 1 and g.stats["misses"] >= 1


SCALE = 2.0


def _uses_global(x):
    return float(np.sum(SCALE * x ** 2))


def test_changed_global_invalidates():
    global SCALE
    g = framead.grad(_uses_global, cache=True)
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(g(x), 4.0 * x)
    try:
        SCALE = 3.0
        np.testing.assert_allclose(g(x), 6.0 * x)
    finally:
        SCALE = 2.0
    assert g.stats["captures"] == 2


def test_changed_closure_array_and_static_args_invalidate():
    w = np.array([1.0, 2.0])

    def f(x, n, mode="sum"):
        s = 0.0
        for _ in range(n):
            s = s + np.dot(w, x ** 2)
        return s if mode == "sum" else -s

    g = framead.grad(f, cache=True)
    x = np.array([0.5, -1.5])
    np.testing.assert_allclose(g(x, 2), 4 * w * x)
    np.testing.assert_allclose(g(x, 3), 6 * w * x)  # another static argument
    np.testing.assert_allclose(g(x, 3, mode="neg"), -6 * w * x)
    w[1] = 5.0  # the closure's array changed in place
    np.testing.assert_allclose(g(x, 3), 6 * w * x)
    np.testing.assert_allclose(g(np.array([1.0, 2.0, 3.0])[:2], 3), 6 * w * np.array([1.0, 2.0]))
    assert g.stats["captures"] == 4 and g.stats["hits"] == 1


def test_new_shapes_get_their_own_trace():
    g = framead.value_and_grad(lambda x: float(np.sum(np.tanh(x))), cache=True)
    for n in (3, 4, 3, 4):
        x = np.linspace(-1, 1, n)
        v, d = g(x)
        assert v == pytest.approx(np.sum(np.tanh(x)))
        np.testing.assert_allclose(d, 1 - np.tanh(x) ** 2, rtol=1e-13)
    assert g.stats["captures"] == 2 and g.stats["hits"] == 2


def test_uncommon_calls_replay_and_hazards_are_never_cached():
    def f(x):
        y = np.frompyfunc(lambda a: a * 2.0, 1, 1)(x).astype(float)  # object ufunc
        return float(np.sum(np.exp(x)) + np.sum(y))

    def windows(x):
        return float(np.sum(np.lib.stride_tricks.sliding_window_view(x, 2) ** 2))

    def opaque(x):  # float.hex has no rule (FA101): the value it returns is a constant
        return x * 2.0 + float.fromhex(x.hex()) * x

    for fn, cached in ((f, True), (windows, True), (opaque, False)):
        g = framead.grad(fn, cache=True)
        for k in range(3):
            args = (0.1 * (k + 1),) if fn is opaque else (np.array([0.1, 0.2, 0.3]) * (k + 1),)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _same_as_uncached(g, fn, args)
        if cached:
            assert g.stats["hits"] == 2, g.stats
        else:
            assert g.stats["hits"] == 0 and g.stats["uncacheable"] == 3, g.stats
            assert "FA101" in g.stats["reasons"][0]


def test_caller_arrays_untouched_and_results_fresh():
    def f(x):
        y = x.copy()
        y[1:] += y[:-1] * 2.0
        return float(np.sum(y ** 2))

    g = framead.grad(f, cache=True)
    x = np.array([1.0, 2.0, 3.0])
    first = g(x)
    second = g(x)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(first, second)
    second[0] = 99.0
    np.testing.assert_array_equal(g(x), first)


def test_cached_gradient_tuple_argnums_and_scalars():
    def f(a, b, c):
        return math.sin(a) * b + c * b * b if a > 0 else math.cos(a) * c

    g = framead.grad(f, (0, 1, 2), cache=True)
    for a in (0.5, 0.7, -0.2, -0.3, 0.1):
        _same_as_uncached(g, f, (a, 1.3, -0.4), (0, 1, 2))
    assert g.stats["hits"] == 3


def test_every_category_program_replays():
    """The language-feature corpus of test_grad_categories: each program's second call is a
    cache hit (or an explained uncacheable trace) with the same gradient."""
    from test_grad_categories import PROGRAMS

    hits = 0
    for pid, fn, args, argnums, _ in PROGRAMS:
        g = framead.grad(fn, argnums, cache=True)
        _same_as_uncached(g, fn, args, argnums)
        _same_as_uncached(g, fn, args, argnums)
        hits += g.stats["hits"]
        assert g.stats["hits"] + g.stats["uncacheable"] + g.stats["misses"] >= 1, pid
    assert hits >= 0.8 * len(PROGRAMS)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(random_float_programs(), st.lists(st.floats(-2.0, 2.0), min_size=3, max_size=3))
def test_random_programs_cached_equals_uncached(program_dir, prog, shifts):  # noqa: F811
    """Random branchy programs at several points: the cached gradient (hit or recapture)
    always equals a fresh uncached capture."""
    src, _, args, argnums = prog
    note(src)
    f = _load(src, program_dir, None)
    g = framead.grad(f, argnums, cache=True)
    for s in [0.0, *shifts]:
        pt = tuple(type(a)(float(a) + s) for a in args)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want = framead.grad(f, argnums)(*fresh(pt))
        except (OverflowError, ZeroDivisionError, ValueError):
            continue
        got = g(*fresh(pt))
        if isinstance(want, tuple):
            for a, b in zip(got, want, strict=True):
                assert_close(a, b, rtol=1e-12, atol=1e-14)
        else:
            assert_close(got, want, rtol=1e-12, atol=1e-14)


# ---- regressions found in review: each was a stale hit (cached != uncached) -------------

def _check_points(f, points, argnums=0):
    g = framead.grad(f, argnums, cache=True)
    for p in points:
        _same_as_uncached(g, f, (np.array(p),), argnums)
    return g


def test_choice_among_list_or_array_items_is_guarded():
    for f in (lambda x: max([float(v) for v in x]) ** 2,
              lambda x: max(x) ** 2 + min(list(x)) * 3.0,
              lambda x: sorted(x)[0] * sorted(x)[1] + max(list(x), key=abs),
              lambda x: max(v * v for v in x)):
        _check_points(f, [[0.1, 0.5, 0.2], [0.9, 0.5, 0.2], [0.1, 0.5, 0.2],
                          [0.3, -0.8, 0.2]])


def test_integer_results_of_traced_values_are_guarded():
    for f in (lambda x: np.sum(x[(x * 2).astype(int)]),
              lambda x: np.sum(x * np.frexp(x)[1])):
        _check_points(f, [[0.1, 0.2, 0.3], [0.6, 0.2, 0.3], [0.1, 0.2, 0.3],
                          [0.7, 0.9, 0.3]])


@pytest.mark.parametrize("view", [np.diagonal, lambda a: a.diagonal(), np.atleast_2d,
                                  np.fliplr, np.rot90, lambda a: np.split(a, 3)[0]])
def test_views_without_alias_metadata_are_not_overwritten(view):
    def f(x):
        a = np.zeros((3, 3))
        a[0] = x
        b = view(a)
        c = np.sum(b * b)
        a[0] = 0.0  # the replay must not write this version in place: b views it
        return c + np.sum(a)

    _check_points(f, [[1.0, 2.0, 3.0], [2.0, 2.0, 3.0], [-1.0, 0.5, 4.0]])


def test_static_arguments_are_compared_by_value_or_held_identity():
    def loss(x, cfg):
        return np.sum(x ** 2) * cfg["k"]

    g = framead.grad(loss, cache=True)
    x = np.array([1.0, 2.0])
    for k in (1.0, 2.0, 3.0, 1.0):  # a fresh dict each call, maybe at a reused address
        np.testing.assert_allclose(g(x, {"k": k}), 2 * k * x)
    assert g.stats["hits"] == 1


HELPER_SCALE = 2.0


def _helper_scale():
    return HELPER_SCALE


def test_globals_read_by_helpers_without_traced_arguments_invalidate():
    global HELPER_SCALE

    def f(x):
        return np.sum(x ** 2) * _helper_scale()

    g = framead.grad(f, cache=True)
    x = np.array([0.3, -0.2, 0.5])
    g(x)
    g(x)
    try:
        HELPER_SCALE = 5.0
        np.testing.assert_allclose(g(x), 10.0 * x)
    finally:
        HELPER_SCALE = 2.0


def test_list_sort_order_is_guarded():
    def f(x):
        lst = [float(v) for v in x]
        lst.sort()
        return lst[0] * 2.0 + lst[-1] * 3.0

    def g(x):
        lst = list(x)
        lst.sort(key=abs, reverse=True)
        return lst[0] * 5.0 + lst[1]

    for fn in (f, g):
        _check_points(fn, [[0.1, 0.5, 0.2], [0.9, 0.5, 0.2], [0.1, 0.5, 0.2],
                           [0.3, -0.8, 0.2]])


JIT_RUNS: list = []


def test_jit_caches_values_and_framead_derivatives_inside():
    def f(x):
        s = 0.0
        for i in range(len(x)):
            s += math.sin(x[i]) * x[i] if x[i] > 0 else x[i] ** 2
        return s

    JIT_RUNS.clear()  # a module global: watched by identity (a closure list: by value)

    def counted(x):
        JIT_RUNS.append(1)
        return f(x)

    jf = framead.jit(counted)
    jg = framead.jit(framead.grad(f))
    jh = framead.jit(framead.hessian(lambda x: np.sum(np.sin(x) * x[::-1])))
    for p in ([0.3, -0.2, 0.5], [0.4, -0.1, 0.6], [-0.4, -0.1, 0.6], [0.2, -0.3, 0.1]):
        x = np.array(p)
        assert jf(x) == f(x)
        np.testing.assert_allclose(jg(x), framead.grad(f)(x), rtol=1e-13)
        np.testing.assert_allclose(
            jh(x), framead.hessian(lambda x: np.sum(np.sin(x) * x[::-1]))(x), rtol=1e-13)
    assert len(JIT_RUNS) == jf.stats["captures"] == 2  # hits never run f
    assert jg.stats["hits"] == 2 and jh.stats["hits"] == 3


def test_choices_a_replay_cannot_remake_are_not_cached():
    """min/max/sorted with a key computing on traced values, bisect and heapq choose by
    comparisons a replay cannot re-make: such traces are captured every call, and every
    call matches the native run (a replay of the first choice was silently wrong)."""
    import bisect
    import heapq

    centres = [-1.0, 0.0, 1.0]

    def nearest(x):
        d = [(x[0] - c) ** 2 for c in centres]
        return d[min(range(3), key=lambda k: d[k])]

    def ordered(x):
        xs = sorted([x[0], x[1], 2.0])
        heap = [x[0], x[1], 0.5]
        heapq.heapify(heap)
        return xs[bisect.bisect(xs, 1.0)] + heapq.heappop(heap)

    for f, points in ((nearest, ([-0.5], [0.5], [0.9])),
                      (ordered, ([0.2, 1.5], [1.7, 0.3], [0.1, 0.2]))):
        vg = framead.value_and_grad(f, cache=True)
        for p in points:
            x = np.array(p)
            value, g = vg(x)
            assert value == f(x)
            np.testing.assert_allclose(g, framead.grad(f)(x))
        assert vg.stats["hits"] == 0 and vg.stats["uncacheable"] == len(points)


def test_a_cache_around_a_cached_function_keeps_its_own_stats():
    inner = framead.grad(lambda x: float(np.sum(np.sin(x))), cache=True)
    outer = framead.jit(inner)
    x = np.linspace(0.0, 1.0, 3)
    for _ in range(3):
        np.testing.assert_allclose(outer(x), np.cos(x))
    assert outer.stats is not inner.stats
    assert outer.stats["captures"] == 1 and outer.stats["hits"] == 2
