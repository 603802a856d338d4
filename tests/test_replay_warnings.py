"""Cached traces are invisible: the warnings (category, message, file, line) and the exception
of every call of ``value_and_grad(f, cache=True)`` -- the recording, replays and misses -- are
those of running ``f`` natively at the same point, under every warnings filter action and
NumPy error state (framead/replay_graph.py ``gated``, ``CaptureWarnings``)."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framead

sys.path.insert(0, str(Path(__file__).parent / "classic_corpus"))

HEADER = '''\
import warnings

import numpy as np


def _clip(v):
    if v < 0:
        warnings.warn("negative sample clipped", UserWarning, stacklevel=2)
        return 0.0
    return v


def f(x):
    s = x @ x
'''

# snippet kind -> lines of f's body ({i}: an index, {t}: a threshold); each may warn (or
# raise) at some points and not at others
SNIPPETS = {
    "log": ["s = s + np.nansum(np.log(x[{i}:{i} + 2]))"],
    "sqrt": ["s = s + np.sqrt(x[{i}]) * 0.0 + x[{i}]"],
    "helper": ["s = s + _clip(x[{i}]) * 2.0"],
    "warn": ["if x[{i}] > {t}:",
             "    warnings.warn('large sample', RuntimeWarning)",
             "s = s + x[{i}]"],
    "divide": ["s = s + np.nan_to_num(np.float64(1.0) / np.maximum(x[{i}], 0.0), posinf=0.0)"],
    "mean_empty": ["big = x[x > {t}]",
                   "s = s + np.nan_to_num(big.mean())"],
    "errstate": ["with np.errstate(invalid='ignore', divide='ignore'):",
                 "    s = s + np.nansum(np.log(x[{i}:{i} + 2]))"],
    "errstate_raise": ["try:",
                       "    with np.errstate(invalid='raise'):",
                       "        s = s + np.log(x[{i}])",
                       "except FloatingPointError:",
                       "    s = s + 1.0"],
    "dead": ["_unused = np.log(x[{i}])"],
    "polyfit": ["if x[{i}] > {t}:",
                "    s = s + np.polyfit(np.arange(4.0), x, 5)[-1]"],
}
VALUES = (-0.5, 0.0, 0.3, 0.7, 1.2)
ACTIONS = ("always", "default", "once", "error", "ignore", "module")


def _program(snippets: list) -> str:
    body = []
    for kind, i, t in snippets:
        body += ["    " + ln.format(i=i, t=t) for ln in SNIPPETS[kind]]
    return HEADER + "\n".join(body) + "\n    return float(s)\n"


def _modules(src: str, tmp: Path, n: int) -> list:
    """``n`` module objects of one file: each its own globals (its own warning registry)."""
    path = tmp / f"prog_{hashlib.sha1(src.encode()).hexdigest()[:10]}.py"
    path.write_text(src)
    out = []
    for k in range(n):
        spec = importlib.util.spec_from_file_location(f"{path.stem}_{k}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        out.append(mod)
    return out


def _observed(call, action: str, fp: dict | None = None):
    """(exception or value, [(category, message, file, line)]) of ``call()`` under the
    filter ``action`` (and NumPy error state ``fp``), with a fresh 'once' registry."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter(action)
        warnings.onceregistry.clear()
        try:
            with np.errstate(**(fp or {})):
                out = call()
            out = _Value(out[0] if isinstance(out, tuple) else out)
        except Exception as e:  # noqa: BLE001 - compared with the native run's
            out = (type(e).__name__, str(e))
    return out, [(m.category.__name__, str(m.message), Path(m.filename).name, m.lineno)
                 for m in w]


class _Value:
    """A returned float, equal to another where both are NaN or they agree to 1e-12."""

    def __init__(self, v: float) -> None:
        self.v = float(v)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Value) and bool(np.isclose(self.v, other.v, rtol=1e-12,
                                                             atol=0.0, equal_nan=True))

    def __repr__(self) -> str:
        return repr(self.v)


def _compare(fn_native, fn_cached, points, action, fp=None):
    """Each point's warnings and exception: native vs through one cache (``action``: the
    filter action, or a list of them, one for each point)."""
    cached = framead.value_and_grad(fn_cached, cache=True)
    actions = [action] * len(points) if isinstance(action, str) else action
    for k, (p, action) in enumerate(zip(points, actions, strict=False)):
        native = _observed(lambda p=p: fn_native(np.array(p)), action, fp)
        got = _observed(lambda p=p: cached(np.array(p)), action, fp)
        assert got == native, (k, p, dict(cached.stats))
    return cached.stats


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(snippets=st.lists(st.tuples(st.sampled_from(sorted(SNIPPETS)), st.integers(0, 2),
                                   st.sampled_from((0.25, 0.5, 1.0, 5.0))),
                         min_size=1, max_size=4),
       points=st.lists(st.lists(st.sampled_from(VALUES), min_size=4, max_size=4),
                       min_size=2, max_size=4),
       action=st.one_of(st.sampled_from(ACTIONS),
                        st.lists(st.sampled_from(ACTIONS), min_size=4, max_size=4)))
def test_cached_calls_warn_as_native(tmp_path_factory, snippets, points, action):
    """Generated programs, called at a sequence of points (under one warnings filter action,
    or another at each point): every call through the cache (recording, replay or miss)
    returns, warns and raises exactly as the native run at that point, each with its own
    module (so its own 'default'/'module' registry)."""
    native, cached = _modules(_program(snippets), tmp_path_factory.mktemp("w"), 2)
    _compare(native.f, cached.f, points, action)


@pytest.mark.parametrize("fp", [{"all": "raise"}, {"all": "ignore"}, {"all": "warn"},
                                {"divide": "raise", "invalid": "ignore"}])
@pytest.mark.parametrize("kind", ["log", "errstate", "errstate_raise", "divide"])
def test_callers_numpy_error_state(tmp_path, kind, fp):
    """The caller's np.errstate (raise, ignore, warn) holds for replays as natively: a replay
    that meets a floating-point error the call does not ignore is a miss."""
    native, cached = _modules(_program([(kind, 1, 0.5)]), tmp_path, 2)
    points = [[0.3, 0.5, 0.7, 1.2], [0.3, 0.5, 0.7, 1.1], [0.3, -0.5, 0.0, 1.2],
              [0.3, 0.5, 0.7, 1.2]]
    _compare(native.f, cached.f, points, "always", fp)


def test_program_state_changes_are_not_replayed(tmp_path):
    """np.seterr or warnings.simplefilter left changed by the program: never replayed (the
    change is the program's: a replay would not make it)."""
    src = HEADER + "    np.seterr(**OLD)\n    return float(s)\n"
    old = np.geterr()
    mod = _modules(src.replace("def f(x):", "OLD = {'all': 'raise'}\n\n\ndef f(x):"),
                   tmp_path, 1)[0]
    cached = framead.value_and_grad(mod.f, cache=True)
    try:
        for _ in range(2):
            np.seterr(**old)
            cached(np.array([0.3, 0.5, 0.7, 1.2]))
            assert np.geterr()["divide"] == "raise"
    finally:
        np.seterr(**old)
    assert cached.stats["hits"] == 0 and "np.seterr" in cached.stats["reasons"][0]


def test_classics5_warning_programs_as_native():
    """programs_classics5.WARNING_PROGRAMS: the warnings and exception at point 2, through a
    trace recorded at point 1, are the native run's (the replay is a miss where it would
    warn). (warn_complex_store: the ComplexWarning of a capture is attributed to framead's
    frame, tests/test_classic_corpus.py; the store's replay is a miss.)"""
    from programs_classics5 import WARNING_PROGRAMS

    for name, (fn, first, second, _) in WARNING_PROGRAMS.items():
        if name == "warn_complex_store":
            continue
        native = _observed(lambda: fn(np.array(second)), "always")
        cached = framead.value_and_grad(fn, cache=True)
        _observed(lambda: cached(np.array(first)), "always")
        assert _observed(lambda: cached(np.array(second)), "always") == native, name


def _quiet(x):
    s = 0.0
    for i in range(4):
        s = s + x[i] * x[(i + 1) % 4] + np.sin(x[i])
    return float(s)


def test_quiet_programs_still_replay():
    """A program that warns nothing replays (no reason, no miss) under any filter action."""
    for action in ACTIONS:
        cached = framead.value_and_grad(_quiet, cache=True)
        stats = _compare(_quiet, _quiet, [[0.3, 0.5, 0.7, 1.2]] * 3 + [[1.0, 2.0, 3.0, 4.0]],
                         action)
        assert stats["hits"] == 3 and stats["replay_warned"] == 0, (action, stats)
        _compare(_quiet, cached, [[0.1] * 4], action)


def test_nothing_is_left_in_the_warnings_filters(tmp_path):
    """The gate filter is in ``warnings.filters`` only while a capture or replay runs: after
    recordings, hits and misses (one of which warns) the list is the program's own again."""
    from framead.replay_graph import GATE
    native, cached = _modules(_program([("log", 1, 0.5)]), tmp_path, 2)
    cf = framead.value_and_grad(cached.f, cache=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before = list(warnings.filters)
        for p in ([0.3, 0.5, 0.7, 1.2], [0.4, 0.5, 0.7, 1.2], [0.4, -0.5, 0.7, 1.2]):
            cf(np.array(p))
            assert warnings.filters == before and GATE not in warnings.filters
    assert GATE not in warnings.filters


def test_other_threads_warnings_are_untouched():
    """While one thread replays, another thread's warnings are shown as usual (the gate
    filter is inert outside a replay) and the replays stay hits."""
    cached = framead.value_and_grad(_quiet, cache=True)
    x = np.array([0.3, 0.5, 0.7, 1.2])
    cached(x)
    stop, errors = threading.Event(), []

    def replaying():
        try:
            while not stop.is_set():
                cached(x)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        t = threading.Thread(target=replaying)
        t.start()
        try:
            for _ in range(300):
                np.log(np.array([-1.0]))
        finally:
            stop.set()
            t.join()
    assert not errors
    assert sum(str(m.message) == "invalid value encountered in log" for m in w) == 300
    assert cached.stats["hits"] > 0 and cached.stats["misses"] == 0


def test_ignored_warnings_replay_while_ignored(tmp_path):
    """A capture whose warnings were all ignored is replayed while they still are (a hit,
    silent as natively), and is a miss once they are not (the program warns itself)."""
    native, cached = _modules(_program([("log", 1, 0.5), ("dead", 2, 0.5)]), tmp_path, 2)
    cf = framead.value_and_grad(cached.f, cache=True)
    p = [0.3, -0.5, -0.7, 1.2]
    for k, action in enumerate(["ignore", "ignore", "always", "ignore", "error"]):
        want = _observed(lambda: native.f(np.array(p)), action)
        assert _observed(lambda: cf(np.array(p)), action) == want, (k, action)
        assert want[1] or action != "always"
    assert cf.stats["hits"] == 2 and cf.stats["replay_warned"] == 2, cf.stats


def _blocked_helper(y):
    return np.sum(np.where(np.isfinite(y), y, 0.0) * np.log(np.abs(y)))


def _blocked(u):
    with np.errstate(all="ignore"):
        y = u / np.array([1.0, 0.0, 2.0])
        return _blocked_helper(y)


def test_programs_own_errstate_blocks_replay():
    """A program whose operations (its helpers' too) all run inside its own
    ``with np.errstate(all="ignore")`` replays silently where they divide by zero, as its
    native run is silent; the caller's np.errstate does not matter."""
    u = np.array([0.5, 1.0, 1.5])
    for fp in ({}, {"all": "raise"}):
        stats = _compare(_blocked, _blocked, [u] * 3, "always", fp)
        assert stats["hits"] == 2, stats
