"""C code iterating a traced array: itertools (``takewhile``, ``islice``, ``groupby``, ``tee``,
``product``...), ``set``/``frozenset``/``deque``/``Counter`` built from it, ``d.extend(x)``,
``s.update(x)``, ``chain.from_iterable``, ``itemgetter(i, j)(x)``, a list slice store
``L[i:j] = x`` and the ``x.flat`` iterator (loops, ``sum``, ``islice``, unpacking, writes
through ``x.flat[k]`` while iterating, one flat iterator shared or resumed). NumPy's own
iteration in C makes untraced scalars: these lost the array's gradient with no hazard
(capture/call_kinds.py ``_ITERATE_ARGUMENTS``, ``nested_rows``, ``getter_call``;
capture/handlers.py ``setitem``, ``reads_rows``/``rows``/``_flat_row``).

Each consumer runs on an array of several shapes and layouts (C, Fortran, transposed,
strided, reversed, 1-d and 2-d), traced or a constant; its items are checked against the
native run (the loss and the items' types and shapes, in order) and the gradient against
central finite differences in float64."""

from __future__ import annotations

import collections
import itertools
import operator

import numpy as np
import pytest
from conftest import fd_grad
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import framead

pytestmark = pytest.mark.filterwarnings("ignore::framead.api.GradientWarning")


def _big(v):
    """Scalars and rows alike: an item is 'big' when it holds an offset element (>= 5.5;
    the others are <= 1.5, far from 3 for finite differences)."""
    return bool(np.max(v) > 3.0)


def _selector(a):
    return [1, 0, 1, 1, 0][: len(a)] + [1] * max(0, len(a) - 5)


def _hashable(a):
    """1-d: the array itself; 2-d: its rows as tuples (``map(tuple, a)``)."""
    return a if a.ndim == 1 else map(tuple, a)


def _deque_extend(a):
    d = collections.deque(maxlen=3)
    d.extend(a)
    return list(d)


def _deque_extendleft(a):
    d = collections.deque([0.25])
    d.extendleft(a)
    return list(d)


def _deque_rotated(a):
    d = collections.deque(a)
    d.rotate(1)
    return list(d)


def _set_update(a):
    s = {0.25}
    s.update(_hashable(a))
    return sorted(s, key=lambda v: np.sum(v))


def _tee_lag(a):
    t1, t2 = itertools.tee(a)
    next(t2, None)
    return [u * w for u, w in zip(t1, t2, strict=False)]


def _slice_store(a):
    t = [0.5, 0.25, 0.125]
    t[1:2] = a
    return t


def _flat_loop(a):
    out = []
    for v in a.flat:
        out.append(v * v)
    return out


def _flat_unpack(a):
    first, *rest = a.flat
    return [first, *rest]


def _flat_write(a):
    """Writes through a.flat[k] while iterating a.flat: each read sees the writes before."""
    n = a.size
    for i, v in enumerate(a.flat):
        if i + 1 < n:
            a.flat[i + 1] += 0.5 * v
    return list(a.flat)


def _flat_pairs(a):
    it = a.flat  # one iterator, its index shared: zip(it, it) pairs neighbours
    return list(zip(it, it, strict=False))


def _flat_resume(a):
    it = a.flat
    out = []
    for v in it:
        out.append(v)
        if len(out) == 2:
            break
    out += [3.0 * v for v in it]  # (from where the first loop stopped)
    return out


CONSUMERS = {
    "takewhile": lambda a: list(itertools.takewhile(lambda v: not _big(v), a)),
    "dropwhile": lambda a: list(itertools.dropwhile(lambda v: not _big(v), a)),
    "filterfalse": lambda a: list(itertools.filterfalse(_big, a)),
    "islice": lambda a: list(itertools.islice(a, 1, None, 2)),
    "compress": lambda a: list(itertools.compress(a, _selector(a))),
    "pairwise": lambda a: list(itertools.pairwise(a)),
    "groupby": lambda a: [(2.0 if k else 1.0, list(g)) for k, g in
                          itertools.groupby(a, key=_big)],
    "tee": _tee_lag,
    "product": lambda a: list(itertools.product(a, a[:2])),
    "combinations": lambda a: list(itertools.combinations(a, 2)),
    "combinations_with_replacement": lambda a: list(
        itertools.combinations_with_replacement(a, 2)),
    "permutations": lambda a: [u * w * w for u, w in itertools.permutations(a, 2)],
    "chain": lambda a: list(itertools.chain(a, a[:1])),
    "chain_from_iterable": lambda a: list(itertools.chain.from_iterable(
        a if a.ndim > 1 else [a, a[1:]])),
    "zip_longest": lambda a: list(itertools.zip_longest(a, a[:1], fillvalue=0.5)),
    "cycle": lambda a: list(itertools.islice(itertools.cycle(a), len(a) + 1)),
    "deque": _deque_rotated,
    "deque_maxlen": lambda a: list(collections.deque(a, 2)),
    "deque_extend": _deque_extend,
    "deque_extendleft": _deque_extendleft,
    "set": lambda a: sorted(set(_hashable(a)), key=lambda v: np.sum(v)),
    "max_set": lambda a: [max(set(_hashable(a)), key=lambda v: np.sum(v))],
    "frozenset": lambda a: sorted(frozenset(_hashable(a)), key=lambda v: np.sum(v)),
    "set_update": _set_update,
    "counter": lambda a: sorted(collections.Counter(_hashable(a)), key=lambda v: np.sum(v)),
    "list_slice_store": _slice_store,
    "itemgetter": lambda a: [operator.itemgetter(0, -1)(a), operator.itemgetter(1)(a)],
    "flat_loop": _flat_loop,
    "flat_sum": lambda a: [sum(a.flat)],
    "flat_islice": lambda a: list(itertools.islice(a.flat, 1, 4)),
    "flat_list": lambda a: list(a.flat),
    "flat_unpack": _flat_unpack,
    "flat_write": _flat_write,
    "flat_pairs": _flat_pairs,
    "flat_resume": _flat_resume,
}

LAYOUTS = {
    "2d": lambda b: b,
    "F": np.asfortranarray,
    "T": lambda b: b.T,
    "cols": lambda b: b[:, ::2],
    "1d": lambda b: b.reshape(-1),
    "1d_rev": lambda b: b.reshape(-1)[::-1],
    "1d_step": lambda b: b.reshape(-1)[::2],
}


def _q(v):
    """A smooth scalar of an item (tuples and lists weighted by position)."""
    if isinstance(v, tuple | list):
        return sum((j + 1) * _q(e) for j, e in enumerate(v))
    return np.sum(v * v) * 0.5 + np.sum(v)


def _sig(v):
    """An item's types and shapes (tuples and lists item by item)."""
    if isinstance(v, tuple | list):
        return (type(v).__name__, tuple(_sig(e) for e in v))
    return (type(v).__name__, np.shape(v))


def _program(consumer, layout, shape, traced, const):
    offsets = 5.0 * (np.arange(const.size) % 3 == 2).reshape(shape)

    def f(x):
        b = (x.reshape(shape) + offsets) * 1.0 if traced else const.reshape(shape) + offsets
        items = CONSUMERS[consumer](LAYOUTS[layout](b))
        loss = _q(items) + 0.1 * np.sum(x * x)
        return loss, _sig(items)

    return f


_XS = st.integers(2, 3).flatmap(lambda r: st.integers(2, 4).flatmap(
    lambda c: st.tuples(st.just((r, c)), st.lists(
        st.floats(0.5, 1.5, allow_nan=False), min_size=2 * r * c, max_size=2 * r * c))))


@pytest.mark.parametrize("consumer", list(CONSUMERS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(drawn=_XS, layout=st.sampled_from(list(LAYOUTS)), traced=st.booleans())
def test_c_iteration_of_an_array(consumer, drawn, layout, traced):
    shape, values = drawn
    n = shape[0] * shape[1]
    x, const = np.array(values[:n]), np.array(values[n:])
    for v in (x, const):  # (items far apart: finite differences change no decision)
        assume(np.min(np.diff(np.sort(v))) > 0.02)
    f = _program(consumer, layout, shape, traced, const)
    (loss, sig), g = framead.value_and_grad(f, has_aux=True)(x.copy())
    native_loss, native_sig = f(x.copy())
    assert sig == native_sig
    assert type(loss) is type(native_loss)
    assert loss == pytest.approx(native_loss, rel=1e-12, abs=1e-12)
    ref = fd_grad(lambda x: f(x)[0], (x.copy(),))
    np.testing.assert_allclose(g, ref, rtol=1e-6, atol=1e-6)


def _map_bound(x):
    idx = [0, 2, 2]
    return sum(map(x.__getitem__, idx)) + sum(map(x.item, [1, 2])) * 2.0 + x[1]


def test_map_over_bound_methods_of_a_traced_array():
    x = np.array([0.7, 1.3, 0.4])
    v, g = framead.value_and_grad(_map_bound)(x.copy())
    assert v == _map_bound(x.copy())
    np.testing.assert_allclose(g, fd_grad(_map_bound, (x.copy(),)), rtol=1e-6, atol=1e-6)


def test_reversed_flat_iterator_raises_as_natively():
    def f(x):
        return sum(reversed(np.exp(x).flat))

    with pytest.raises(TypeError, match="not reversible"):
        f(np.ones(3))
    with pytest.raises(TypeError, match="not reversible"):
        framead.grad(f)(np.ones(3))
