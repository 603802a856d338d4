"""A recording's own bookkeeping is not walked by the cyclic collector: the weak entries of the
arrays it meets and each buffer's saved values and ids are untracked when made (only objects
that cannot refer back to them), so a long loop over small arrays does not trigger full
collections that walk the whole recording again and again (nbody spent half its recording in
them). The program's own garbage, cycles included, is collected as natively."""

from __future__ import annotations

import gc
import weakref

import numpy as np
from conftest import fd_grad
from framead.capture.buffers import WeakEntry

import framead
from framead.ir import Value


def _framead_tracked() -> dict[str, int]:
    """Tracked objects of the kinds a recording makes per array."""
    counts = {"WeakEntry": 0, "saved lists": 0}
    for o in gc.get_objects():
        if type(o) is WeakEntry:
            counts["WeakEntry"] += 1
        elif type(o) is list and o and all(type(v) is Value for v in o):
            counts["saved lists"] += 1
    return counts


def test_a_loop_over_small_arrays_leaves_its_bookkeeping_untracked():
    seen: list[dict] = []
    counting = True

    def f(x):
        acc = np.zeros_like(x)
        for i in range(len(x) - 1):
            d = x[i + 1:] - x[i]
            r = np.sqrt(d * d + 0.5)
            acc[i + 1:] += d / r
            acc[i] -= np.sum(d * r)
        if counting:
            seen.append(_framead_tracked())
        return np.sum(acc * acc)

    for n in (15, 60):  # 4 weak entries and 3 saved lists an iteration were tracked
        x = np.linspace(0.1, 1.0, n)
        counting = True
        g = framead.grad(f)(x)
        counting = False
        np.testing.assert_allclose(g, fd_grad(f, x), rtol=1e-6, atol=1e-9)
    assert seen[0] == seen[1], seen  # (a few: the input's, made by Python; none per array)


def test_the_programs_cycles_are_collected_under_capture():
    """User objects in reference cycles holding traced arrays go at a collection inside the
    function, as natively (finalizers run there)."""
    gone: list[int] = []

    class Node:
        pass

    def f(x):
        for k in range(5):
            a, b = Node(), Node()
            a.other, b.other = b, a
            a.value = x * (k + 1.0)
            weakref.finalize(a, gone.append, k)
        del a, b
        found = gc.collect()
        assert found > 0
        return np.sum(x * x) + len(gone)

    x = np.array([0.5, 1.5])
    v, g = framead.value_and_grad(f)(x)
    assert sorted(gone) == list(range(5))
    assert v == np.sum(x * x) + 5
    np.testing.assert_allclose(g, 2 * x)
