"""A cached trace keeps no copy of a large static argument: the constants its replay reads
that hold the bytes of a static array compared by digest (framead/cache.py ``DIGEST_BYTES``)
are read from the call's own argument, whose digest the signature checked (a read-only view;
a copy for that call when its layout is not the one the trace read). The benchmark's mlp:
the entry kept the capture's copy of X (1.5 MiB) between calls, so framead.cached's peak
RSS was above uncached framead's."""

from __future__ import annotations

import gc
import sys
import threading

import numpy as np
import pytest

import framead
from framead import cache
from framead.cache import CachedValueAndGrad

MODES = ["source", "loop"]  # the generated replay and the step loop


@pytest.fixture(params=MODES)
def mode(request, monkeypatch):
    monkeypatch.setenv("FRAMEAD_REPLAY", request.param)
    return request.param


def _data(n=200, m=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, m))  # 96 KB: compared by digest
    assert X.nbytes >= cache.DIGEST_BYTES
    return X, rng.standard_normal(m) * 0.1


def mlp_like(w, X):
    return np.sum(np.tanh(X @ w) ** 2) / X.shape[0]


def _entries(vg):
    return [e for es in vg._traces.values() for e in es]


def _large_arrays_held(root, nbytes):
    """The arrays of at least ``nbytes`` bytes (and their owners) reachable from ``root``
    through objects framead made (not through modules, classes or the user's function)."""
    skip = (type, type(sys), type(mlp_like))
    seen, stack, found = {id(root)}, [root], []
    while stack:
        o = stack.pop()
        if isinstance(o, np.ndarray):
            if o.nbytes >= nbytes or (o.base is not None and
                                      getattr(o.base, "nbytes", 0) >= nbytes):
                found.append(o)
        for r in gc.get_referents(o):
            if id(r) in seen or (isinstance(r, skip) and not
                                 getattr(getattr(r, "__code__", None), "co_filename",
                                         "").startswith("<framead-replay")):
                continue
            seen.add(id(r))
            stack.append(r)
    return found


def _central_fd(f, w, X, h=1e-6):
    g = np.empty_like(w)
    for i in range(w.size):
        d = np.zeros_like(w)
        d[i] = h
        g[i] = (f(w + d, X) - f(w - d, X)) / (2 * h)
    return g


def test_entry_keeps_no_copy_of_a_large_static_array(mode):
    X, w = _data()
    vg = CachedValueAndGrad(mlp_like, 0, None)
    want = framead.value_and_grad(mlp_like)(w, X)
    for _ in range(3):
        got = vg(w, X)
    assert vg.stats["captures"] == 1 and vg.stats["hits"] == 2
    assert got[0] == want[0] and np.array_equal(got[1], want[1])
    (entry,) = _entries(vg)
    assert entry.recorded is None  # the replay is made: the graph is gone
    assert _large_arrays_held(vg, X.nbytes) == []
    assert entry.replay.static_keys == [((1,), "C")]


def test_mlp_workload_entry_keeps_no_copy_of_X(mode):
    """The benchmark's workload: params differentiated, X (1.5 MiB) and Y static."""
    import os  # noqa: PLC0415 - the benchmarks' folder

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, root)
    try:
        from benchmarks.workloads import mlp  # noqa: PLC0415
    except ImportError:
        pytest.skip("the benchmarks are not here")
    finally:
        sys.path.remove(root)
    args, _ = mlp.inputs(**mlp.SIZES["full"])
    vg = CachedValueAndGrad(mlp.primal, (0,), None)
    want = framead.value_and_grad(mlp.primal, (0,))(*args)
    for _ in range(3):
        got = vg(*args)
    assert vg.stats["hits"] == 2
    assert got[0] == want[0]
    assert all(np.array_equal(a, b) for a, b in zip(got[1][0], want[1][0], strict=True))
    X = args[1]
    assert _large_arrays_held(vg, X.nbytes) == []


def test_an_equal_array_of_another_object_hits_and_is_right(mode):
    X, w = _data()
    vg = CachedValueAndGrad(mlp_like, 0, None)
    vg(w, X)
    want = framead.value_and_grad(mlp_like)(w, X)
    for other in (X.copy(), np.asfortranarray(X), np.repeat(X, 2, axis=1)[:, ::2],
                  np.array(X, copy=True)):
        before = vg.stats["hits"]
        got = vg(w, other)
        assert vg.stats["hits"] == before + 1
        assert got[0] == want[0] and np.array_equal(got[1], want[1])
    assert vg.stats["captures"] == 1
    fd = _central_fd(mlp_like, w, X)
    assert np.allclose(got[1], fd, rtol=1e-6, atol=1e-8)


def test_mutating_the_static_array_between_calls_is_never_stale(mode):
    X, w = _data()
    first = X.copy()
    vg = CachedValueAndGrad(mlp_like, 0, None)
    vg(w, X)
    vg(w, X)  # the replay is made, reading X's bytes from the argument
    for k in range(4):
        X[k, k] += 0.5  # in place: the next call sees other bytes
        got = vg(w, X)
        want = framead.value_and_grad(mlp_like)(w, X)
        assert got[0] == want[0] and np.array_equal(got[1], want[1])
        assert np.allclose(got[1], _central_fd(mlp_like, w, X), rtol=1e-6, atol=1e-8)
    X[...] = first  # back to the first bytes: the first trace again
    hits = vg.stats["hits"]
    got = vg(w, X)
    assert vg.stats["hits"] == hits + 1
    want = framead.value_and_grad(mlp_like)(w, X)
    assert got[0] == want[0] and np.array_equal(got[1], want[1])


def test_a_function_that_writes_its_static_array(mode):
    """The program writes its copy of X (before and after reading it): constants with other
    bytes than the argument's stay the trace's own; the caller's array is never written."""
    X, w = _data()
    kept = X.copy()

    def f(w, X):
        a = np.sum(np.sin(X @ w))  # reads X as passed
        X[0] = 3.0  # then writes it: the next reads see other bytes
        b = np.sum((X @ w) ** 2)
        X *= 1.0  # (same bytes as the written X)
        return a + b + np.sum(X[:, 0] * w[0])

    vg = CachedValueAndGrad(f, 0, None)
    for _ in range(3):
        got = vg(w, X)
        assert np.array_equal(X, kept)
    want = framead.value_and_grad(f)(w, X.copy())
    assert vg.stats["hits"] == 2
    assert got[0] == want[0] and np.array_equal(got[1], want[1])
    assert np.allclose(got[1], _central_fd(lambda w, X: f(w, X.copy()), w, X),
                       rtol=1e-6, atol=1e-6)


def test_derived_constant_with_the_arguments_bytes(mode):
    """A constant the program made that holds the static argument's bytes (here a copy, and
    the transpose of a symmetric matrix: F-ordered) is read from the call's argument too."""
    rng = np.random.default_rng(3)
    A = rng.standard_normal((120, 120))
    S = A + A.T  # symmetric: S.T has S's bytes

    def f(w, S):
        T = S.T.copy(order="K")  # an F-ordered constant with S's values
        return np.sum((T @ w) ** 2) + np.sum(np.cos(S.copy() @ w))

    w = rng.standard_normal(120) * 0.1
    vg = CachedValueAndGrad(f, 0, None)
    for _ in range(3):
        got = vg(w, S)
    want = framead.value_and_grad(f)(w, S)
    assert got[0] == want[0] and np.array_equal(got[1], want[1])
    assert _large_arrays_held(vg, S.nbytes) == []


def test_static_arrays_in_keywords_and_containers(mode):
    X, w = _data()
    Z = X[::-1].copy()

    def f(w, data, *, scale):
        return np.sum(np.tanh(data["x"] @ w)) + np.sum((data["pair"][1] @ w) * (scale[0].T @ w))

    def call(vg, X, Z):
        return vg(w, {"x": X, "pair": (1, Z)}, scale=[Z.T.copy()])

    vg = CachedValueAndGrad(f, 0, None)
    for _ in range(3):
        got = call(vg, X, Z)
    want = call(framead.value_and_grad(f), X, Z)
    assert vg.stats["hits"] == 2
    assert got[0] == want[0] and np.array_equal(got[1], want[1])
    assert _large_arrays_held(vg, X.nbytes) == []
    got = call(vg, X.copy(), np.asfortranarray(Z))  # other objects, same bytes: a hit
    assert vg.stats["hits"] == 3
    assert got[0] == want[0] and np.array_equal(got[1], want[1])


def test_results_never_share_the_callers_array(mode):
    """A view of the static argument in the results is a copy (the replay reads the
    caller's array itself)."""
    X, w = _data()

    def f(w, X):
        a, b = np.broadcast_arrays(X, w)  # a: a view of X, read by the loss
        return np.sum(a * b), a

    vg = framead.value_and_grad(f, 0, has_aux=True, cache=True)
    for _ in range(3):
        (value, aux), grad = vg(w, X)
    (v0, aux0), g0 = framead.value_and_grad(f, 0, has_aux=True)(w, X)
    assert value == v0 and np.array_equal(grad, g0) and np.array_equal(aux, aux0)
    assert not np.shares_memory(aux, X) and not np.shares_memory(grad, X)


def test_jit_with_a_large_static_array(mode):
    X, w = _data()
    f = framead.jit(mlp_like, argnums=0)
    for _ in range(3):
        got = f(w, X)
    assert f.stats["hits"] == 2 and got == mlp_like(w, X.copy())
    assert f(w, X.copy()) == got


def test_threads_share_a_trace_reading_their_own_arrays(mode):
    X, w = _data()
    vg = CachedValueAndGrad(mlp_like, 0, None)
    vg(w, X)
    vg(w, X)
    want = framead.value_and_grad(mlp_like)(w, X)
    out, errors = [], []

    def work(k):
        try:
            mine = X.copy() if k % 2 else np.asfortranarray(X)
            for _ in range(5):
                out.append(vg(w, mine))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    assert len(out) == 20
    assert all(v == want[0] and np.array_equal(g, want[1]) for v, g in out)
    assert vg.stats["captures"] == 1
