"""The recorder's memory model: arrays are held weakly (an intermediate the program drops is
freed as natively, and a new object that reuses its id is never taken for it), primals are
kept only where a node's derivative reads them, and ``stats["bytes_kept"]`` reports them."""

from __future__ import annotations

import gc
import threading
import tracemalloc
import weakref

import numpy as np
import pytest
from framead.capture import _evalframe as C
from framead.capture.recorder import Recorder
from framead.capture.session import Session, current_recorder

import framead
from framead.forward import jvp


def _record(f, *inputs):
    """Record ``f`` on fresh inputs with a recorder the test can inspect: (recorder, graph,
    input values)."""
    rec = Recorder()
    xs = [np.array(x, dtype=float, copy=True) for x in inputs]
    vals = [rec.new_input(x) for x in xs]
    with Session(rec):
        out = f(*xs)
    return rec, rec.finish([out]), vals


def test_dropped_intermediate_is_freed_before_the_reverse_pass():
    """``x + 1.0`` is read by ``* 2.0`` only (neither rule saves it): once the program drops
    it, nothing of framead's keeps it."""
    box = []

    def f(x):
        t = x + 1.0
        box.append(weakref.ref(t))
        return np.sum(t * 2.0)

    rec, graph, _ = _record(f, np.ones(5))
    gc.collect()
    assert box and box[0]() is None
    assert graph.stats["bytes_kept"] == 0
    np.testing.assert_array_equal(framead.grad(f)(np.ones(5)), np.full(5, 2.0))


def test_primal_saved_by_a_later_node_is_kept():
    """``t`` is first read by an add (nothing saved), later by ``np.sin`` (saves it): the
    second read keeps its primal, and the gradient is exact."""
    box = []

    def f(x):
        t = x * 3.0
        box.append(weakref.ref(t))
        u = t + 1.0
        s = np.sin(t)
        return np.sum(u) + np.sum(s)

    x = np.linspace(0.0, 1.0, 4)
    _, graph, _ = _record(f, x)
    gc.collect()
    assert box[0]() is not None  # the sin node holds it
    assert graph.stats["bytes_kept"] == x.nbytes
    np.testing.assert_allclose(framead.grad(f)(x), 3.0 + 3.0 * np.cos(3.0 * x), rtol=1e-14)


def test_unsaved_values_hold_no_primal():
    def f(x):
        y = x + 2.0
        z = y - x
        return np.sum(z * 4.0)

    _, graph, vals = _record(f, np.ones(3))
    for node in graph.nodes:
        for v in (*node.outputs, *node.value_inputs()):
            if v is not None and v.kind is np.ndarray:
                assert v.primal is None, node
    assert vals[0].primal is None


def test_entries_do_not_grow_with_dropped_temporaries():
    def f(x):
        for _ in range(300):
            x = x * 1.0001 + 0.5
        return np.sum(x)

    rec, graph, _ = _record(f, np.ones(8))
    gc.collect()
    assert len(graph.nodes) >= 600
    assert len(rec.entries) < 20 and len(rec.buffers) < 20, (len(rec.entries),
                                                            len(rec.buffers))


def test_reused_ids_are_not_taken_for_freed_traced_arrays():
    """Constant arrays made right after a traced one is freed often get its address: they
    stay constants (no hazard, a keyword ``where=`` stays a mask, exact gradient)."""

    def f(x):
        total = 0.0
        for i in range(40):
            t = x * float(i + 1)
            total = total + np.sum(t)
            del t
            mask = np.arange(x.size) % 2 == 0  # fresh constants, often at t's address
            u = np.ones(x.size) * 0.5
            np.exp(x, out=u, where=~mask)
            total = total + np.sum(u)
        return total

    x = np.linspace(0.1, 0.9, 6)
    report = framead.coverage(f, x)
    assert not report.entries, str(report)
    mask = np.arange(6) % 2 == 0
    want = sum(range(1, 41)) + 40 * np.where(~mask, np.exp(x), 0.0)
    np.testing.assert_allclose(framead.grad(f)(x), want, rtol=1e-12)


def test_freed_arrays_leave_the_c_set():
    """A traced array the program drops is untracked at once (its address may be reused)."""
    counts = []

    def f(x):
        y = x * 2.0
        counts.append(C.tracked_count())
        del y
        counts.append(C.tracked_count())
        return np.sum(x)

    _record(f, np.ones(3))
    assert counts[1] == counts[0] - 1, counts


def test_array_freed_in_another_thread_is_untracked_later():
    counts = []

    def f(x):
        box = [x * 2.0]
        counts.append(C.tracked_count())
        worker = threading.Thread(target=box.clear)  # the last reference goes there
        worker.start()
        worker.join()
        y = x + 1.0  # the next registration drops the freed one from this thread's set
        counts.append(C.tracked_count())
        return np.sum(y)

    _record(f, np.ones(3))
    assert counts[1] == counts[0], counts  # one freed, one added


def test_copy_on_write_copies_of_saved_values_are_exact():
    def f(x):
        u = x.copy()
        for _ in range(5):
            u[1:-1] = u[1:-1] ** 2 * 0.5 + u[2:] * 0.25
            u[0] = 0.0
        return np.sum(u * u)

    x = np.linspace(0.2, 0.8, 10)
    t = framead.trace(f, x)
    assert t.stats["bytes_copied"] == 5 * 8 * 8  # each step saves u[1:-1] for the square
    assert t.stats["bytes_kept"] > 0
    h = 1e-6
    fd = np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(10)])
    np.testing.assert_allclose(framead.grad(f)(x), fd, rtol=1e-6, atol=1e-8)


def test_bytes_kept_counts_each_buffer_once():
    def f(x):
        return np.sum(x ** 2) + np.sum(np.sin(x[:3])) + np.sum(x[::2] ** 2)

    x = np.ones(8)
    t = framead.trace(f, x)
    assert t.stats["bytes_kept"] == x.nbytes  # x itself, and views of it


def heat(u0, nsteps=60, c=0.25):
    u = u0.copy()
    for _ in range(nsteps):
        u[1:-1] = u[1:-1] + c * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u[0] = 0.0
        u[-1] = u[-2]
    return np.sum(u ** 2)


def test_heat_equation_peak_memory_is_bounded_by_live_arrays():
    """The in-place stencil loop of benchmarks/workloads/heat1d.py: no step's temporaries
    outlive it, so the peak of a gradient call does not grow with the number of steps."""
    u0 = np.sin(np.linspace(0.0, 3.0, 20_000))
    g = framead.grad(heat)
    g(u0)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        grad = g(u0)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    # 60 steps x 5 temporaries would be 300 arrays if they were kept
    assert peak < 25 * u0.nbytes, peak / u0.nbytes
    np.testing.assert_allclose(grad, heat_adjoint(u0), rtol=1e-12, atol=1e-15)


def heat_adjoint(u0, nsteps=60, c=0.25):
    """``heat``'s gradient by its hand-written adjoint (each step is linear)."""
    u = u0.copy()
    for _ in range(nsteps):
        u[1:-1] = u[1:-1] + c * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u[0] = 0.0
        u[-1] = u[-2]
    g = 2.0 * u
    for _ in range(nsteps):
        g[-2] += g[-1]  # u[-1] = u[-2]
        g[-1] = 0.0
        g[0] = 0.0  # u[0] = 0
        inner = g[1:-1].copy()  # u[1:-1] = stencil(u)
        g[1:-1] = 0.0
        g[1:-1] += (1.0 - 2.0 * c) * inner
        g[2:] += c * inner
        g[:-2] += c * inner
    return g


def test_save_all_keeps_every_primal():
    """Forward mode records with save_all: every value keeps its primal."""
    rec = Recorder(save_all=True)
    x = np.linspace(0.0, 1.0, 4)
    xv = rec.new_input(x)
    with Session(rec):
        y = x + 1.0
        z = y * 2.0
        out = np.sum(z)
    graph = rec.finish([out])
    assert xv.primal is not None
    assert all(o.primal is not None for n in graph.nodes for o in n.outputs if o is not None)
    _, tangent = jvp(lambda x: np.sum(np.sin(x + 1.0) * 2.0), (x,), (np.ones(4),))
    np.testing.assert_allclose(tangent, np.sum(2.0 * np.cos(x + 1.0)), rtol=1e-14)


def test_higher_order_through_dropped_intermediates():
    def f(x):
        t = x * x + 1.0
        s = t * 3.0
        return np.sin(s)

    d2 = framead.grad(framead.grad(f))(0.7)
    x = 0.7
    s = 3.0 * (x * x + 1.0)
    want = -np.sin(s) * (6.0 * x) ** 2 + np.cos(s) * 6.0
    assert d2 == pytest.approx(want, rel=1e-12)


def test_cached_trace_replays_with_weak_primals():
    def f(x):
        t = x + 1.0
        u = np.exp(t)
        return np.sum(u * x)

    g = framead.grad(f, cache=True)
    for k in range(3):
        x = np.linspace(0.0, 1.0, 5) + k
        np.testing.assert_allclose(g(x), np.exp(x + 1.0) * (1.0 + x), rtol=1e-13)
    assert g.stats["hits"] == 2


def _fd_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def _pairs(pos):
    """Pairwise terms through the handlers' paths (np.sum with axis, in-place row updates,
    slices and ``[:, None]`` keys), with a collection inside the recording."""
    acc = np.zeros_like(pos)
    for i in range(len(pos) - 1):
        d = pos[i + 1:] - pos[i]
        r2 = np.sum(d * d, axis=1) + 0.5
        f = d / r2[:, None]
        acc[i] += np.sum(f, axis=0)
        acc[i + 1:] -= f
    out = np.sum(acc * pos)
    gc.collect()  # (the collection untracks what was recorded before it)
    return out


def test_a_recorded_graph_is_not_walked_by_the_collector():
    """Collections during a long recording would walk the whole recorded graph again and
    again (a third of nbody's recording time): a node, its Values and its argument tuples
    are untracked by the collector when nothing they refer to can refer back, whichever path
    recorded them (C or the handlers). The gradient is unchanged."""
    rng = np.random.default_rng(0)
    pos = rng.standard_normal((6, 3))
    tr = framead.trace(_pairs, pos)
    nodes = tr.graph.nodes
    assert len(nodes) > 50
    tracked = [n.rule.name for n in nodes if gc.is_tracked(n)]
    assert not tracked, f"{len(tracked)} of {len(nodes)} nodes tracked: {set(tracked)}"
    assert not any(gc.is_tracked(v) for n in nodes for v in n.outputs)
    assert not any(gc.is_tracked(n.args) for n in nodes if len(n.args) == 2 and
                   type(n.args[1]) in (slice, tuple))
    got = framead.grad(_pairs)(pos)
    np.testing.assert_allclose(got, _fd_grad(_pairs, pos), rtol=1e-6, atol=1e-8)


def _stencil(u0, steps=40):
    """In-place slice stencil on a 1-d and a 2-d field: each step makes new slices."""
    u = u0.copy()
    w = np.outer(u0, u0)
    for _ in range(steps):
        u[1:-1] = u[1:-1] + 0.25 * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u[-1] = u[-2]
        w[1:-1, 1:] = w[1:-1, 1:] + 0.1 * (w[2:, 1:] - w[:-2, :-1])
    return np.sum(u ** 2) + np.sum(np.sin(w))


def test_a_stencil_loops_recorded_slices_are_shared_and_do_not_pile_up_for_the_collector():
    """The program makes a new slice object each time it runs ``u[1:-1]``; the collector must
    track slices, and thousands of them kept by the recorded graph brought on full
    collections. The graph holds one slice per (start, stop, step), the tuples holding them
    are untracked, the program's own slices are its own, and the gradient is right."""
    u0 = np.linspace(0.1, 1.0, 9)
    tr = framead.trace(_stencil, u0)
    keys = [n.args[1] for n in tr.graph.nodes if len(n.args) >= 2 and
            type(n.args[1]) in (slice, tuple) and n.rule.name in ("operator.getitem", "setitem")]
    assert len(keys) > 200
    slices = [x for k in keys for x in (k if type(k) is tuple else (k,)) if type(x) is slice]
    assert len({id(x) for x in slices}) <= 8 < len(slices)
    assert not any(gc.is_tracked(k) for k in keys if type(k) is tuple)
    assert slice(1, -1) in slices and slice(2, None) in slices
    got = framead.grad(_stencil)(u0)
    np.testing.assert_allclose(got, _fd_grad(_stencil, u0), rtol=1e-6, atol=1e-8)


class _Box:
    """A constant the collector tracks (in a reference cycle of its own)."""

    def __init__(self, k):
        self.k = k
        self.me = self


def test_a_node_holding_a_tracked_constant_stays_tracked_and_its_cycle_is_collected():
    """A node whose arguments hold an object the collector tracks (a list index, held by a
    user object in a cycle) stays tracked: only what cannot be in a cycle is untracked. The
    user's cycle is collected once the trace is dropped."""
    box = _Box([0, 2])
    ref = weakref.ref(box)

    def f(x):
        y = np.take(x, box.k) * 2.0
        gc.collect()
        return np.sum(y)

    tr = framead.trace(f, np.array([1.0, 2.0, 3.0]))
    take = [n for n in tr.graph.nodes if n.rule.name == "np.take"]
    assert take and gc.is_tracked(take[0].args) and gc.is_tracked(take[0])
    np.testing.assert_array_equal(framead.grad(f)(np.array([1.0, 2.0, 3.0])), [2.0, 0.0, 2.0])
    del tr, take
    box = f = None  # noqa: F841 - (the closure's cell: the cycle's last reference)
    gc.collect()
    assert ref() is None


def test_buffers_without_saves_share_their_empty_lists_and_are_untracked():
    """Most arrays a recording registers have no saved value in their memory: their Buffer
    shares one empty ``saved`` and ``saved_ids`` (no list and set each), it and its root's
    weak reference are untracked by the collector, and a first save gives the buffer its
    own list (copy-on-write still copies that value before a write)."""
    seen = []

    def f(x):
        t = x + 1.0          # no rule saves t: its buffer keeps nothing
        s = np.sin(x * 2.0)  # sin saves its argument (x * 2.0)
        t[0] = 5.0
        rec = current_recorder()
        if rec is not None:
            seen.extend((b, gc.is_tracked(b), gc.is_tracked(b._root))
                        for b in rec.buffers.values())
        return np.sum(t * 3.0) + np.sum(s)

    _record(f, [0.1, 0.2, 0.3])
    empty = [b for b, _, _ in seen if not b.saved]
    assert empty and all(b.saved == () and not b.saved_ids for b in empty)
    assert len({id(b.saved_ids) for b in empty}) <= 2  # (C's and Buffer's own: shared)
    assert any(type(b.saved) is list and b.saved for b, _, _ in seen)
    # (the C path's buffers: the intermediates'; the input's is made in Python)
    assert sum(not tracked and not root for _, tracked, root in seen) >= 2
    x = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(framead.grad(f)(x), [0.0, 3.0, 3.0] + 2 * np.cos(2 * x))
