"""The C fast path for traced scalar binops (issue 16): capture/_evalframe.c records a traced
``a <op> b`` of Python floats itself. The IR must be exactly what the Python handler
(ProbeHandlers._scalar_binop) records: same graph text, Values (ids, kinds, dtypes, primals),
rules, arguments, saves and locations; results, exceptions and gradients as natively."""

from __future__ import annotations

import gc
import math
import sys
import traceback

import numpy as np
import pytest
from framead.capture import _evalframe as C
from framead.capture import session
from framead.capture.handlers import ProbeHandlers
from framead.capture.recorder import Recorder
from framead.capture.session import Session

import framead
from framead.ir import Value


@pytest.fixture
def fast(monkeypatch):
    def set_(on: bool):
        monkeypatch.setattr(session, "FAST_RECORD", on)
    return set_


def count_calls(monkeypatch, cls, *names: str) -> list[int]:
    """Count the calls of ``cls``'s methods ``names`` (patched on the class): [count]."""
    n = [0]
    for name in names:
        orig = getattr(cls, name)

        def counting(self, *a, _orig=orig, **k):
            n[0] += 1
            return _orig(self, *a, **k)

        monkeypatch.setattr(cls, name, counting)
    return n


def _calls(monkeypatch):
    """Count the Python handler's scalar binops."""
    return count_calls(monkeypatch, ProbeHandlers, "_scalar_binop")


def _value_fields(v):
    if isinstance(v, list | tuple):
        return (type(v), tuple(_value_fields(x) for x in v))
    if isinstance(v, dict):
        return (dict, tuple((k, _value_fields(x)) for k, x in v.items()))
    if not isinstance(v, Value):
        return ("const", type(v), repr(v))
    return ("value", v.id, v.shape, v.dtype, v.kind, repr(v.primal), v.name)


def _node_fields(n):
    return (n.name, n.rule, tuple(_value_fields(a) for a in n.args), _value_fields(n.kwargs),
            tuple(_value_fields(o) for o in n.outputs), n.saved, n.multi, n.out_treedef,
            n.loc)


def record_both(fast, fn, *args, **kw):
    fast(False)
    slow = framead.trace(fn, *args, **kw)
    fast(True)
    quick = framead.trace(fn, *args, **kw)
    return slow, quick


def assert_same(slow, quick):
    assert str(quick.graph) == str(slow.graph)
    gs, gq = slow.graph, quick.graph
    assert [_value_fields(v) for v in gq.inputs] == [_value_fields(v) for v in gs.inputs]
    assert [_value_fields(v) for v in gq.outputs] == [_value_fields(v) for v in gs.outputs]
    assert len(gq.nodes) == len(gs.nodes)
    for a, b in zip(gq.nodes, gs.nodes, strict=True):
        assert _node_fields(a) == _node_fields(b)


# --- programs ------------------------------------------------------------------------------

def arith(x, y):
    a = x + y
    b = a * x - 2.0
    c = b / (y + 1.0)
    d = 3.0 - c
    e = 2 * d + 1  # int operands
    f = e ** 2 + x ** 0.5 + 2.0 ** y
    f += x
    f *= 1.5
    f -= y
    f /= 2
    f **= 1
    g = x // 1.0 + x % 1.0  # cut rules: the handler
    return f + g + (x - x) * 0


def scalar_loop(x, n=200):
    s = 0.0
    for i in range(n):
        s = s + x * 0.5 - 0.25 / (i + 1)
    return s


def helper(t, k):
    return t * k + k


def calls_and_generators(x):
    def gen(v):
        for k in range(3):
            yield v * (k + 1.5)

    total = sum(helper(x, k) for k in range(4))
    for y in gen(x):
        total = total + y
    return total + (lambda z: z * z)(x)


def mixed_numpy(x):
    a = np.float64(x) * 2.0  # numpy scalars: the handler
    b = x * 3.0
    c = np.sin(b) + a
    d = complex(x, 1.0) * 2.0  # complex: the handler
    return float(c) + b * x + d.real


class Sub(float):
    pass


def subclass(x):
    return Sub(x) * 2.0 + x * 2.0


def rk4(params, nsteps=30, dt=0.01):
    s, r, b = params
    state = (1.0, 1.0, 1.0)

    def f(st):
        x, y, z = st
        return (s * (y - x), x * (r - z) - y, x * y - b * z)

    for _ in range(nsteps):
        k1 = f(state)
        k2 = f(tuple(u + 0.5 * dt * k for u, k in zip(state, k1, strict=True)))
        k3 = f(tuple(u + 0.5 * dt * k for u, k in zip(state, k2, strict=True)))
        k4 = f(tuple(u + dt * k for u, k in zip(state, k3, strict=True)))
        state = tuple(u + dt / 6.0 * (a + 2 * b_ + 2 * c + d)
                      for u, a, b_, c, d in zip(state, k1, k2, k3, k4, strict=True))
    return state[0] + state[1] + state[2]


@pytest.mark.parametrize("fn,args", [
    (arith, (1.3, 0.7)), (scalar_loop, (1.1,)), (calls_and_generators, (0.9,)),
    (mixed_numpy, (0.4,)), (subclass, (1.5,)), (rk4, ((10.0, 28.0, 8.0 / 3.0),)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_fast_path_records_the_same_ir(fast, fn, args):
    slow, quick = record_both(fast, fn, *args)
    assert_same(slow, quick)


def test_fast_path_is_taken(fast, monkeypatch):
    n = _calls(monkeypatch)
    fast(False)
    framead.trace(scalar_loop, 1.1)
    slow = n[0]
    n[0] = 0
    fast(True)
    framead.trace(scalar_loop, 1.1)
    assert slow >= 600 and n[0] <= 5  # (a file met for the first time goes to the handler)


def test_gradients_agree(fast):
    for fn, args in [(arith, (1.3, 0.7)), (scalar_loop, (1.1,)), (calls_and_generators, (0.9,))]:
        fast(False)
        g_slow = framead.grad(fn, argnums=0)(*args)
        fast(True)
        g_fast = framead.grad(fn, argnums=0)(*args)
        assert g_fast == g_slow


def test_errors_as_natively(fast):
    fast(True)

    def div(x):
        return x / 0.0

    def overflow(x):
        return x ** 1e6

    for fn, exc in [(div, ZeroDivisionError), (overflow, OverflowError)]:
        with pytest.raises(exc) as info:
            framead.trace(fn, 10.0)
        tb = traceback.extract_tb(info.value.__traceback__)
        assert tb[-1].name == fn.__name__
        assert not any("capture" in f.filename.replace("\\", "/").split("/")[-2:-1]
                       for f in tb if f.name in ("binop", "_scalar_binop", "handler"))


def test_complex_results_go_to_the_handler(fast):
    def f(x):
        return (x - 2.0) ** 0.5  # a negative base: a complex result

    slow, quick = record_both(fast, f, 1.0)
    assert_same(slow, quick)


def _times2(v):
    return v * 2.0


def test_guards_and_nested_sessions_use_the_handler(fast, monkeypatch):
    fast(True)
    n = _calls(monkeypatch)
    rec = Recorder()
    rec.guards = []
    with Session(rec):
        assert session.fast_record_state(rec) is None
        x = float("1.5")
        rec.new_input(x)
        assert _times2(x) == 3.0 and n[0] == 1
    n[0] = 0
    outer = Recorder()
    with Session(outer):
        inner = Recorder()
        with Session(inner):
            assert C.session_depth() == 2
            x = float("1.5")
            inner.new_input(x)
            assert _times2(x) == 3.0 and n[0] == 1
        n[0] = 0
        x = float("2.5")
        outer.new_input(x)
        assert _times2(x) == 5.0 and n[0] == 0  # the outer session's fast path again
        assert outer.nodes[-1].outputs[0].primal == 5.0


def test_switch_off_by_env(tmp_path):
    import subprocess
    code = "from framead.capture import session; print(session.FAST_RECORD)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "FRAMEAD_FAST_RECORD": "0"})
    assert out.stdout.strip() == "False", out.stderr


def test_nan_and_inf_operands(fast):
    def f(x):
        return (x * math.inf) - x + (x * 0.0) * math.nan

    slow, quick = record_both(fast, f, 1.0)
    assert str(slow.graph) == str(quick.graph)
    assert len(slow.graph.nodes) == len(quick.graph.nodes)


def test_fast_nodes_are_not_traversed_by_the_collector(fast):
    """Values, Entries and Nodes of fast-recorded floats refer to nothing that can refer back:
    the collector does not track them (a long recording's full collections stay cheap)."""
    import gc

    fast(True)
    tr = framead.trace(scalar_loop, 1.1)
    nodes = [n for n in tr.graph.nodes if n.name == "operator.mul"]
    assert nodes and not any(gc.is_tracked(n) or gc.is_tracked(n.outputs[0]) for n in nodes[1:])
    rec = Recorder()
    with Session(rec):
        x = float("1.5")
        rec.new_input(x)
        y = _times2(x)
        e = rec.entries[id(y)]
        assert e.obj is y and not gc.is_tracked(e)
    gc.collect()  # nothing of it is garbage while the trace lives
    assert str(tr.graph).count("operator.mul") == len(nodes)


def test_fast_recorded_graph_adds_no_collector_work(fast):
    """A long fast-recorded scalar trace leaves (almost) nothing for the cyclic collector to
    walk: its Values, Entries, Nodes and their argument and output tuples are untracked
    (full collections over a growing graph were most of a long recording's time). What
    stays tracked: the argument tuples that hold an input's Value (one per iteration here;
    two tuples per node before)."""
    fast(True)
    gc.collect()
    before = len(gc.get_objects())
    t = framead.trace(scalar_loop, 1.1, n=3000)
    grown = len(gc.get_objects()) - before
    assert len(t.graph.nodes) >= 9000 and grown < len(t.graph.nodes) // 2, grown


def test_a_recorder_subclass_that_records_otherwise_goes_through_its_handlers():
    """C reproduces framead's own recorder methods: a subclass overriding one of them gets
    no fast path (so its override sees every operation); one overriding nothing else does."""
    from framead.capture.handlers import fast_record_state  # noqa: PLC0415

    class Counting(Recorder):
        def apply(self, *a, **k):
            return super().apply(*a, **k)

    class Plain(Recorder):
        def describe(self):
            return "no recording method changed"

    assert fast_record_state(Recorder()) is not None
    assert fast_record_state(Plain()) is not None
    assert fast_record_state(Counting()) is None
