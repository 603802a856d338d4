"""Cached traces of programs that set NumPy's error state themselves (``with np.errstate``
around part of ``f`` or around a helper call, ``@np.errstate`` helpers, ``np.seterr``,
nested blocks, 'raise' caught inside ``f``): each replayed operation runs under the error
state the capture had at that point (capture/recorder.py ``FpNodes``, framead/replay_graph.py
``FpPlan``), so every call -- recording, replay or miss -- returns, warns and raises as the
native run at the same point, under the caller's own np.errstate too."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_replay_warnings import _modules, _observed

import framead

HEADER = '''\
import numpy as np


def _div(v):
    return np.nan_to_num(np.float64(1.0) / v, posinf=0.0, neginf=0.0)
'''
# statement kind -> a line of f's body or of a helper's ({i}: an index); each meets a
# floating-point error of some kind at some points (VALUES) and none at others
STMTS = {
    "div": "s = s + np.nan_to_num(np.float64(1.0) / x[{i}], posinf=0.0, neginf=0.0)",
    "log": "s = s + np.nansum(np.log(x[{i}:{i} + 2]))",
    "sqrt": "s = s + np.nan_to_num(np.sqrt(x[{i}]))",
    "over": "s = s + np.minimum(np.exp(x[{i}] * 800.0), 1e300)",
    "under": "s = s + x[{i}] * 1e-300 * 1e-300",
    "dead": "_unused = np.log(x[{i}])",
    "helper": "s = s + _div(x[{i}])",  # (the division's line is outside every block)
    "plain": "s = s + x[{i}] * x[{i}]",
}
VALUES = (-0.5, 0.0, 0.3, 0.7, 1.2)
MODES = ("ignore", "warn", "raise")
CALLERS = (None, {"all": "raise"}, {"all": "ignore"}, {"divide": "ignore", "invalid": "raise"},
           {"under": "warn", "over": "ignore"})
FORMS = ("with", "call", "deco", "seterr")


def _render(items: list, depth: int, helpers: list) -> list[str]:
    """Lines (indented ``depth`` levels) of ``items``: (kind, i) statements and (form, modes,
    items, catch) blocks; helper functions go to ``helpers``."""
    pad = "    " * depth
    out: list[str] = []
    for it in items:
        if len(it) == 2:
            out.append(pad + STMTS[it[0]].format(i=it[1]))
            continue
        form, modes, body, catch = it
        kw = ", ".join(f"{k}={v!r}" for k, v in sorted(modes.items()))
        inner = depth + 1 if catch else depth
        ipad = "    " * inner
        if form in ("call", "deco"):
            name = f"_h{len(helpers)}"
            helpers.append(None)  # (its place: nested helpers get the next names)
            deco = [f"@np.errstate({kw})"] if form == "deco" else []
            helpers[int(name[2:])] = "\n".join(
                [*deco, f"def {name}(x, s):", *_render(body, 1, helpers), "    return s"])
            block = [f"s = {name}(x, s)"] if form == "deco" else [
                f"with np.errstate({kw}):", f"    s = {name}(x, s)"]
            lines = [ipad + ln for ln in block]
        elif form == "with":
            lines = [ipad + f"with np.errstate({kw}):", *_render(body, inner + 1, helpers)]
        else:  # seterr, restored
            lines = [ipad + f"_old{inner} = np.seterr({kw})", ipad + "try:",
                     *_render(body, inner + 1, helpers), ipad + "finally:",
                     ipad + f"    np.seterr(**_old{inner})"]
        if catch:
            lines = [pad + "try:", *lines, pad + "except FloatingPointError:",
                     pad + "    s = s + 1.0"]
        out += lines
    return out


def _program(items: list) -> str:
    helpers: list = []
    body = _render(items, 1, helpers)
    return (HEADER + "\n\n" + "\n\n\n".join(helpers) + "\n\n\ndef f(x):\n    s = x @ x\n" +
            "\n".join(body) + "\n    return float(s)\n")


_modes = st.dictionaries(st.sampled_from(("divide", "over", "under", "invalid", "all")),
                         st.sampled_from(MODES), min_size=1, max_size=3)
_stmt = st.tuples(st.sampled_from(sorted(STMTS)), st.integers(0, 2))


def _block(inner):
    return st.tuples(st.sampled_from(FORMS), _modes, st.lists(inner, min_size=1, max_size=3),
                     st.booleans())


_items = st.lists(st.one_of(_stmt, _block(st.one_of(_stmt, _block(_stmt)))),
                  min_size=1, max_size=4)


def _grad_of(call):
    """``call()`` (a value_and_grad) with its gradient kept in ``.grads``."""
    def run():
        out = call()
        run.grads.append(out[1])
        return out
    run.grads = []
    return run


def _compare_points(mods, points, action, callers, repeat=False):
    """Each point (under the caller's error state of that point): the cached call's value,
    exception and warnings are the native run's; its gradient the uncached one's.
    ``repeat``: each point is called twice, and the second call must be a hit where the first
    returned through a replay or a capture that was cached (the same operations under the
    same state: the replay meets no error the native run would not ignore)."""
    native, cmod, ref = mods
    cached = framead.value_and_grad(cmod.f, cache=True)
    plain = framead.value_and_grad(ref.f)
    stats = cached.stats
    for k, (p, fp) in enumerate(zip(points, callers, strict=False)):
        kept = False
        for again in (False, True) if repeat else (False,):
            before = dict(stats)
            want = _observed(lambda p=p: native.f(np.array(p)), action, fp)
            run = _grad_of(lambda p=p: cached(np.array(p)))
            got = _observed(run, action, fp)
            assert got == want, (k, p, fp, dict(stats))
            if run.grads:
                with warnings.catch_warnings(), np.errstate(**(fp or {})):
                    warnings.simplefilter("ignore")
                    g = plain(np.array(p))[1]
                np.testing.assert_allclose(run.grads[0], g, rtol=1e-12, atol=0.0,
                                           equal_nan=True)
            if again and kept:
                assert stats["hits"] == before["hits"] + 1, (k, p, fp, dict(stats))
            kept = bool(run.grads) and (stats["hits"] > before["hits"] or
                                        stats["uncacheable"] == before["uncacheable"])
    return stats


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(items=_items,
       points=st.lists(st.lists(st.sampled_from(VALUES), min_size=4, max_size=4),
                       min_size=2, max_size=4),
       action=st.sampled_from(("always", "default", "error", "ignore")),
       callers=st.lists(st.sampled_from(CALLERS), min_size=4, max_size=4))
def test_programs_setting_the_error_state_replay_as_native(tmp_path_factory, items, points,
                                                            action, callers):
    """Generated programs (statements inside and outside errstate blocks, helpers called in
    them and decorated with them, np.seterr restored, nested, 'raise' caught), called at a
    sequence of points, each under its own caller's np.errstate: every cached call is the
    native run (value, exception, warnings with file and line) and its gradient the
    uncached capture's; each point is called twice, the second a hit wherever the first
    returned through a cached trace (the program's own blocks are replayed exactly)."""
    mods = _modules(_program(items), tmp_path_factory.mktemp("fp"), 3)
    _compare_points(mods, points, action, callers, repeat=True)


# --- the forms one by one, each replayed (hits counted) ----------------------------------------

def _recip(v):
    return np.nan_to_num(np.float64(1.0) / v, posinf=0.0, neginf=0.0)


@np.errstate(divide="ignore")
def _quiet_recip(v):
    return np.nan_to_num(np.float64(1.0) / v, posinf=0.0, neginf=0.0)


def _part(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        y = x / np.array([1.0, 0.0, 2.0, 1.0])
    return np.sum(np.where(np.isfinite(y), y, 0.0)) + np.nansum(np.log(x[2:]))


def _around_helper(x):
    s = x @ x
    with np.errstate(divide="ignore"):
        s = s + _recip(x[0])
    return s + np.sqrt(x[1])


def _decorated(x):
    return x @ x + _quiet_recip(x[0]) + np.sqrt(x[1])


def _seterr_restored(x):
    old = np.seterr(divide="ignore")
    try:
        s = _recip(x[0])
    finally:
        np.seterr(**old)
    return s + np.sqrt(x[1]) + x @ x


def _raise_caught(x):
    s = x @ x
    try:
        with np.errstate(invalid="raise"):
            s = s + np.log(x[1])
    except FloatingPointError:
        s = s + 1.0
    return s + np.sqrt(x[0])


def _nested(x):
    s = x @ x
    with np.errstate(all="ignore"):
        s = s + _recip(x[0])
        with np.errstate(divide="warn"):
            s = s + _recip(x[1])
        s = s + np.nan_to_num(np.sqrt(x[2]))
    return s + np.sqrt(x[3])


def _in_a_loop(x):
    s = x @ x
    for i in range(4):
        with np.errstate(divide="ignore", invalid="ignore"):
            s = s + np.nan_to_num(np.log(x[i]), neginf=0.0)
        s = s + x[i] * 0.5
    return s


def _reads_the_state(x):
    if np.geterr()["divide"] == "ignore":
        return x @ x
    return 2.0 * (x @ x)


POS = [0.3, 0.5, 0.7, 1.2]
ZERO = [0.0, 0.5, 0.7, 1.2]  # (1 / x[0], log(x[0]): divide by zero)
NEG = [0.3, -0.5, 0.7, 1.2]  # (sqrt(x[1]), log(x[1]): invalid)


@pytest.mark.parametrize("fp", [None, {"all": "raise"}, {"all": "ignore"}, {"all": "warn"},
                                {"divide": "raise", "invalid": "ignore"}])
@pytest.mark.parametrize("fn,points,hits", [
    (_part, [POS, POS, [0.3, 0.0, 0.7, 1.2], POS], 3),
    (_around_helper, [POS, ZERO, ZERO, POS], 3),
    (_decorated, [POS, ZERO, ZERO, POS], 3),
    (_seterr_restored, [POS, ZERO, ZERO, POS], 3),
    (_nested, [POS, ZERO, POS, [0.3, 0.5, -0.7, 1.2]], 3),
    (_in_a_loop, [POS, ZERO, [0.3, -0.5, 0.0, 1.2], POS], 3),
])
def test_silent_where_the_program_ignores(fn, points, hits, fp):
    """Points that divide by zero (or take a log of a negative) only where the program's own
    state ignores it replay silently (hits), under any caller's state, as natively."""
    stats = _compare_points(_Mods(fn), points, "always", [fp] * len(points))
    assert stats["hits"] == hits, stats


class _Mods(tuple):
    """(native, cached, reference) "modules" of one module-level function."""

    def __new__(cls, fn):
        m = type("M", (), {"f": staticmethod(fn)})
        return super().__new__(cls, (m, m, m))


@pytest.mark.parametrize("fp", [None, {"all": "raise"}, {"all": "ignore"}])
@pytest.mark.parametrize("fn,point", [(_around_helper, NEG), (_decorated, NEG),
                                      (_seterr_restored, NEG), (_nested, [0.3, 0.0, 0.7, 1.2]),
                                      (_part, NEG), (_raise_caught, NEG)])
def test_a_miss_where_the_native_run_warns_or_raises(fn, point, fp):
    """Where the error is outside the program's ignoring blocks (or inside one that warns or
    raises) the replay is a miss, and the program warns, raises or catches it itself."""
    stats = _compare_points(_Mods(fn), [POS, point, point], "always", [fp] * 3)
    value, warned = _observed(lambda: fn(np.array(point)), "always", fp)
    if warned or type(value) is tuple or fn is _raise_caught:
        assert stats["hits"] == 0 and stats["replay_warned"] == 2, stats


def test_raise_caught_inside_f():
    """np.errstate(invalid="raise") caught by the program: its replay raising is a miss, the
    program catches the error itself (its value), and the fine points replay."""
    stats = _compare_points(_Mods(_raise_caught), [POS, NEG, POS, NEG, POS], "always",
                            [None] * 5)
    assert stats["hits"] >= 2 and stats["replay_warned"] >= 1, stats


def test_callers_state_changing_between_calls():
    """The caller's np.errstate changes from call to call: each replay follows it (the
    kinds the program does not set are the caller's)."""
    callers = [None, {"all": "raise"}, {"all": "ignore"}, {"all": "raise"}, None,
               {"invalid": "ignore"}]
    for fn in (_part, _around_helper, _nested, _decorated):
        for p in (POS, ZERO, NEG):
            _compare_points(_Mods(fn), [POS] + [p] * 5, "always", callers)


def test_a_program_reading_the_state_is_replayed_under_that_state_only():
    """``np.geterr()`` read by the program: a replay needs the caller's state to be the
    capture's (else the program's decision on it could differ): a miss otherwise."""
    callers = [None, None, {"divide": "ignore"}, {"divide": "ignore"}, None]
    stats = _compare_points(_Mods(_reads_the_state), [POS] * 5, "always", callers)
    assert stats["hits"] == 3 and stats["captures"] == 2, stats


def test_call_mode_handlers_are_called_as_natively():
    """errstate(call=handler) with 'call' modes: the replay misses where the handler would
    be called, so the program calls it itself."""
    seen: list = []

    def f(x):
        with np.errstate(call=lambda kind, flag: seen.append(kind), divide="call"):
            r = _recip(x[0])
        return r + x @ x

    vg = framead.value_and_grad(f, cache=True)
    for p in (POS, POS, ZERO, ZERO):
        seen.clear()
        f(np.array(p))
        want = list(seen)
        seen.clear()
        vg(np.array(p))
        assert seen == want, p
    assert vg.stats["hits"] == 1 and vg.stats["replay_warned"] >= 2, vg.stats


def test_threads_replay_under_their_own_state():
    """Two threads share a cached function, each under its own np.errstate (a ContextVar:
    per thread): each replay follows its thread's state and the program's block, never the
    other thread's."""
    cached = framead.value_and_grad(_around_helper, cache=True)
    cached(np.array(POS))
    errors: list = []
    start = threading.Barrier(2)

    def worker(fp):
        try:
            start.wait()
            with np.errstate(**fp):
                for k in range(60):
                    p = np.array((POS, ZERO, NEG)[k % 3])
                    try:
                        want = ("value", _around_helper(p))
                    except FloatingPointError as e:
                        want = ("raised", str(e))
                    try:
                        got = ("value", cached(p)[0])
                    except FloatingPointError as e:
                        got = ("raised", str(e))
                    if not (got[0] == want[0] and (got[0] == "raised" and got == want or
                                                   np.isclose(got[1], want[1],
                                                              equal_nan=True))):
                        errors.append((fp, k, got, want))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = [threading.Thread(target=worker, args=(fp,))
              for fp in ({"all": "raise"}, {"all": "ignore"})]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    assert not errors, errors[:3]
    # (every call but the 20 that raise in the first thread: the blocks replay silently)
    assert cached.stats["hits"] >= 95, cached.stats


def test_the_replay_switches_state_only_where_the_capture_did():
    """The generated forward code of a loop with a block in each iteration: one switch into
    and one out of the block per iteration, none elsewhere."""
    vg = framead.value_and_grad(_in_a_loop, cache=True)
    vg(np.array(POS))
    vg(np.array(POS))
    (entry,) = next(iter(vg._traces.values()))
    src = entry.replay.source
    assert src.count("_fp(") == 8 and entry.replay.fp_first == 0, src


@pytest.mark.parametrize("mode", ["loop", "source"])
@pytest.mark.parametrize("fn", [_in_a_loop, _nested, _part])
def test_generated_and_step_replays_switch_alike(fn, mode, monkeypatch):
    """Replays run as steps (long traces, FRAMEAD_REPLAY=loop) switch the error state as the
    generated code does: the same hits, values and warnings as natively."""
    monkeypatch.setenv("FRAMEAD_REPLAY", mode)
    points = [POS, ZERO, [0.3, -0.5, 0.0, 1.2], NEG, POS]
    for fp in (None, {"all": "raise"}):
        stats = _compare_points(_Mods(fn), points, "always", [fp] * 5)
        assert stats["hits"] >= 3, stats


def _leaves_the_state_changed(x):
    warnings.warn("a note", UserWarning, stacklevel=1)
    np.seterr(divide="ignore")
    return x @ x


def test_a_program_leaving_the_state_changed_is_never_replayed():
    """np.seterr left changed by the program is its effect on every call: never replayed,
    also where its warnings are all ignored (such a capture is otherwise replayed while
    they stay ignored)."""
    cached = framead.value_and_grad(_leaves_the_state_changed, cache=True)
    old = np.geterr()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(3):
                np.seterr(divide="warn")
                cached(np.array(POS))
                assert np.geterr()["divide"] == "ignore"
    finally:
        np.seterr(**old)
    assert cached.stats["hits"] == 0 and cached.stats["uncacheable"] == 3, cached.stats
