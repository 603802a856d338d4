"""Adversarial tests of today's C fast paths (capture/_evalframe.c and capture/_scalar_tape.c):

* ``fast_reduce``/``fast_array_call``: ``np.sum(x)``, ``np.sum(x, axis=k)``, ``x.sum()``,
  ``x.sum(axis=k)`` recorded in C;
* ``fast_array_inplace``: ``a += b``, ``a -= b``, ``a *= c``, ``a /= c`` recorded in C;
* ``interned_key``: shared slices in recorded view keys;
* the C reverse step loop on array nodes with a constant operand and on view reads.

Each test compares the fast path with the handlers (``session.FAST_RECORD = False``: the same
IR), with the native run (values, exceptions, tracebacks, warnings, effects on arguments),
with central finite differences (gradients), and the C reverse step loop with the Python
one (bit for bit)."""

from __future__ import annotations

import threading
import traceback
import warnings

import numpy as np
import pytest
from conftest import load_source_module
from framead.capture import session
from framead.capture.mutation import Mutations
from framead.capture.recorder import Recorder
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from test_fast_record import assert_same

import framead
from framead import reverse


def _switch(monkeypatch):
    return lambda on: monkeypatch.setattr(session, "FAST_RECORD", on)


def _fd(f, x, h=1e-6):
    x = np.asarray(x, dtype=float)
    out = np.zeros(x.shape)
    for k in range(x.size):
        e = np.zeros(x.shape)
        e.flat[k] = h
        out.flat[k] = (f(x + e) - f(x - e)) / (2 * h)
    return out


def _graphs_and_grads(monkeypatch, f, x):
    """(slow trace, fast trace, slow gradient, fast gradient)."""
    fast = _switch(monkeypatch)
    fast(False)
    slow = framead.trace(f, x.copy())
    g_slow = framead.grad(f)(x.copy())
    fast(True)
    quick = framead.trace(f, x.copy())
    g_fast = framead.grad(f)(x.copy())
    return slow, quick, g_slow, g_fast


def _check_program(monkeypatch, f, x, rtol=1e-5, atol=1e-6):
    slow, quick, g_slow, g_fast = _graphs_and_grads(monkeypatch, f, x)
    assert_same(slow, quick)
    assert [str(h) for h in quick.hazards] == [str(h) for h in slow.hazards]
    np.testing.assert_array_equal(g_fast, g_slow)
    native = f(x.copy())
    np.testing.assert_equal(quick.value, native)
    np.testing.assert_allclose(g_fast, _fd(f, x), rtol=rtol, atol=atol)


def _counting(monkeypatch):
    """Record the rules that go through Recorder.apply and Mutations.mutate."""
    calls: list = []
    oa, om = Recorder.apply, Mutations.mutate
    monkeypatch.setattr(Recorder, "apply", lambda self, rule, *a, **k: (
        calls.append(("apply", rule.name)), oa(self, rule, *a, **k))[1])
    monkeypatch.setattr(Mutations, "mutate", lambda self, rule, *a, **k: (
        calls.append(("mutate", rule.name)), om(self, rule, *a, **k))[1])
    return calls


# --- in-place programs ----------------------------------------------------------------------

def overlap_add(x):
    u = x * 1.0
    u[1:] += u[:-1]          # b overlaps a's memory (NumPy buffers it)
    return np.sum(u * u)


def overlap_sub_reversed(x):
    u = x * 1.0
    u[:-1] -= u[1:]
    u[::-1] += u             # a reversed view of u, b its owner
    return np.sum(u * np.linspace(1.0, 2.0, 6))


def self_update(x):
    u = x * 1.0
    u += u
    u -= u[::-1]
    u *= 0.5
    u /= np.float64(3.0)
    return np.sum(u * np.linspace(1.0, 2.0, 6))


def copy_on_write_other_view(x):
    u = x * 1.0
    y = np.sin(u[:3])        # keeps the value of a view in u's memory
    w = u[3:]
    w += 2.0 * x[3:]         # writes into u's memory (another part): copy-on-write first
    u[:3] *= 3.0             # overwrites the saved view's memory
    return np.sum(y * y) + np.sum(u * u)


def copy_on_write_product(x):
    u = x * 1.0
    y = u[:3] * u[2:5]       # keeps both views' values
    u[1:4] += x[:3]
    u *= 2.0
    return np.sum(y) + np.sum(u ** 2)


def view_of_view(x):
    u = x * 1.0
    v = u[1:]
    w = v[::2]
    w += 1.5 * x[::2][:3]
    v -= x[0]
    return np.sum(u * u)


def strided_and_transposed(x):
    m = np.outer(x, x) * 1.0
    t = m.T
    t += m                   # b is a's owner, a its transpose
    m[:, 1] -= x
    m[::2, ::3] /= 3.0
    m.T[1] *= 2.0
    return np.sum(m * m)


def reshaped_views(x):
    m = x.reshape(2, 3) * 1.0
    r = m.reshape(6)
    r += 1.0
    c = m[:, None]
    c -= x[:3]
    d = m[..., 1]
    d /= 4
    e = m.ravel()
    e *= np.float64(1.5)
    return np.sum(m * m)


def stale_view_update(x):
    u = x * 1.0
    v = u[2:]
    u[3] = 7.0 * x[0]        # v's recorded value is stale now
    v += x[:4]
    v2 = u[1:]
    u += x                   # v2 stale
    v2 *= 2.0
    return np.sum(u * u) + np.sum(v) + v2.sum()


def stale_view_sums(x):
    u = x * 1.0
    v = u[2:]
    m = u.reshape(2, 3)
    u += x
    return np.sum(v) * np.sum(u, axis=0) + v.sum() + np.sum(m, axis=1)[0] + m.sum(axis=0)[2]


def scalar_operands(x):
    u = x * 1.0
    u += x[0]                # a traced np.float64
    u -= np.sum(x)           # a traced np.float64 from the C reduction
    u *= 3                   # an int
    u /= 2.5
    u += float(x[1])         # a traced float
    u *= x[2]                # a traced factor (the handlers: the rule keeps a's value)
    u /= x[3]                # a traced divisor (the handlers)
    return np.sum(u * u)


def nbody_like(x):
    pos = x.reshape(4, 2) * 1.0
    vel = pos[::-1] * 0.5
    for _ in range(2):
        acc = np.zeros_like(pos) + 0.0 * pos
        for i in range(4):
            d = pos[i + 1:] - pos[i]
            r2 = np.sum(d * d, axis=1) + 0.1
            f = d / r2[:, None] ** 1.5
            acc[i] += np.sum(f, axis=0)
            acc[i + 1:] -= f
        vel += acc * 0.01
        pos += vel * 0.01
    return np.sum(pos * pos) + np.sum(vel * vel)


def id_reuse(x):
    s = 0.0
    for k in range(40):
        u = x * (1.0 + k)     # traced, then dropped: its address may be reused
        s = s + np.sum(u, axis=0) * 0.01
        del u
        c = np.ones(6)        # a constant, maybe at the traced array's old address
        c += 1.0
        c *= 0.5
        s = s + c.sum() * np.sum(x)
        v = x * 0.5
        v[1:] += v[:-1]
        s = s + v.sum()
    return s


def into_argument(x):
    x += 1.0                 # the caller's array
    x[1:] -= x[:-1] * 0.5
    return np.sum(x * x)


_INPLACE = [overlap_add, overlap_sub_reversed, self_update, copy_on_write_other_view,
            copy_on_write_product, view_of_view, strided_and_transposed, reshaped_views,
            stale_view_update, stale_view_sums, scalar_operands, id_reuse]


@pytest.mark.parametrize("fn", _INPLACE, ids=lambda f: f.__name__)
def test_inplace_programs_record_as_the_handlers(monkeypatch, fn):
    _check_program(monkeypatch, fn, np.linspace(0.3, 1.7, 6))


def test_nbody_like_records_as_the_handlers(monkeypatch):
    _check_program(monkeypatch, nbody_like, np.array([0.1, 0.9, 1.3, -0.4, -1.1, 0.7,
                                                      0.5, -0.8]), rtol=1e-5, atol=1e-5)


def test_inplace_into_the_argument_as_natively(monkeypatch):
    """Writes into the differentiated argument: the value is the native one and, on both
    paths, the caller's array is left as it was (framead runs on a copy)."""
    fast = _switch(monkeypatch)
    x0 = np.linspace(0.3, 1.7, 6)
    native = into_argument(x0.copy())
    for on in (False, True):
        fast(on)
        arg = x0.copy()
        t = framead.trace(into_argument, arg)
        assert t.value == native
        np.testing.assert_array_equal(arg, x0)
    fast(False)
    slow = framead.trace(into_argument, x0.copy())
    fast(True)
    quick = framead.trace(into_argument, x0.copy())
    assert_same(slow, quick)
    g = framead.grad(into_argument)(x0.copy())
    np.testing.assert_allclose(g, _fd(lambda z: into_argument(z.copy()), x0), rtol=1e-6,
                               atol=1e-6)


def test_inplace_into_a_view_of_an_untraced_base(monkeypatch):
    """The argument is a strided view of a bigger (untraced) array: its memory's owner is
    not traced, so the C path must not treat it as an owner or a one-level view."""
    fast = _switch(monkeypatch)

    def f(x):
        x += 1.0
        x[1:] -= x[:-1] * 0.5
        return np.sum(x * x)

    big = np.linspace(0.1, 2.4, 12)
    res = []
    for on in (False, True):
        fast(on)
        b = big.copy()
        t = framead.trace(f, b[::2])
        res.append((t, b))
    assert_same(res[0][0], res[1][0])
    np.testing.assert_array_equal(res[0][1], res[1][1])
    assert res[1][0].value == f(big.copy()[::2])
    fast(True)
    g = framead.grad(f)(big.copy()[::2])
    np.testing.assert_allclose(g, _fd(lambda z: f(z.copy()), big[::2]), rtol=1e-6, atol=1e-6)

    def g2(x):  # the same on a traced array that is a view of an untraced one
        v = x[::2]
        v += 1.0
        v[1:] -= v[:-1] * 0.5
        return np.sum(x * x)

    _check_program(monkeypatch, g2, big)


def test_c_paths_are_taken_where_they_may_be(monkeypatch):
    """Overlapping in-place updates and reductions of owners and one-level views go through
    C (no Mutations.mutate, no Recorder.apply of np.sum); the copy-on-write goes through
    mutate."""
    _switch(monkeypatch)(True)
    calls = _counting(monkeypatch)
    x = np.linspace(0.3, 1.7, 6)
    framead.trace(overlap_add, x)
    assert not [c for c in calls if c[0] == "mutate" or c[1] == "np.sum"], calls
    calls.clear()
    framead.trace(self_update, x)
    assert not [c for c in calls if c[0] == "mutate" or c[1] == "np.sum"], calls
    calls.clear()
    framead.trace(copy_on_write_other_view, x)
    assert [c for c in calls if c[0] == "mutate"], calls  # (the copy-on-write)


# --- reductions -----------------------------------------------------------------------------

def reduction_variants(x):
    m = x.reshape(2, 3) * 1.0
    s = m.sum                                       # a bound method, called later
    t = np.ndarray.sum                              # the unbound descriptor
    e = np.zeros((0, 3)) + m[:0]                    # empty
    a = np.sum(m, 1) + m.sum(0)[:2]                 # positional axes (the handlers)
    b = np.sum(m, axis=1, keepdims=True)[:, 0]      # keepdims (the handlers)
    c = m.sum(axis=(0, 1)) + np.sum(m, axis=None) + m.sum(dtype=np.float64)
    d = s() + s(axis=0)[2] + t(m) + t(m, axis=1)[0] + t(m, axis=-1)[1]
    z = np.sum(e) + e.sum(axis=0).sum() + np.sum(e, axis=1).sum() + np.sum(m[:, :0])
    w = np.sum(m, axis=-2)[0] + m.sum(axis=-1)[1] + np.sum(x) + x.sum(axis=0)
    f = np.sum(m, axis=np.int64(1))[0] + m.sum(axis=np.int64(0))[1]  # (the handlers)
    return np.sum(a * a) + np.sum(b) + c + d + z + w + f


def reduction_of_mixed_order(x):
    m = np.asfortranarray(np.outer(x, x[:3]) * 1.0)
    n = np.outer(x, x[:3]).T.copy() * 1.0
    return (np.sum(np.sum(m, axis=0) ** 2) + np.sum(n.sum(axis=1) ** 3) + m.sum() * n.sum()
            + np.sum(m[::-1].sum(axis=0)))


@pytest.mark.parametrize("fn", [reduction_variants, reduction_of_mixed_order],
                         ids=lambda f: f.__name__)
def test_reductions_record_as_the_handlers(monkeypatch, fn):
    _check_program(monkeypatch, fn, np.linspace(0.3, 1.7, 6))


def test_reductions_of_zero_d_and_non_float64(monkeypatch):
    def f(x):
        z = np.asarray(x[0] * 1.0)                 # 0-d
        h = x.astype(np.float32) * np.float32(2.0)  # float32
        i = np.arange(6)
        return np.sum(z) + z.sum() + float(np.sum(h)) + float(h.sum(axis=0)) + np.sum(i) \
            + np.sum(x * i) + np.sum(x.astype(np.longdouble)).astype(np.float64)

    fast = _switch(monkeypatch)
    x = np.linspace(0.3, 1.7, 6)
    fast(False)
    slow = framead.trace(f, x)
    fast(True)
    quick = framead.trace(f, x)
    assert_same(slow, quick)
    assert quick.value == f(x)


class Doubling(np.ndarray):
    def sum(self, *args, **kwargs):
        return np.ndarray.sum(np.asarray(self), *args, **kwargs) * 2.0


def subclass_sums(x):
    u = (x * 1.0).view(Doubling)
    m = np.matrix((x * 1.0).reshape(2, 3))
    a = float(u.sum()) + float(np.sum(u)) + float(u.sum(axis=0)) + float(np.sum(u, axis=0))
    b = float(np.sum(m.sum(axis=0))) + float(m.sum()) + float(np.sum(m, axis=1)[0, 0])
    u += x                     # in place into a subclass: the handlers
    u *= 2.0
    return a + b + float(np.ndarray.sum(np.asarray(u)))


def test_subclass_reductions_and_updates_as_natively(monkeypatch):
    x = np.linspace(0.3, 1.7, 6)
    _check_program(monkeypatch, subclass_sums, x)


def test_a_patched_np_sum_is_the_programs(monkeypatch, tmp_path_factory):
    """The program replaces np.sum (and binds a name ``sum`` to something else): C must not
    take the replacement for NumPy's."""
    src = ("import numpy as np\n\n_orig = np.sum\nsum = np.sum\n\n"
           "def f(x):\n"
           "    m = x.reshape(2, 3) * 1.0\n"
           "    a = sum(m, axis=0)[0] + sum(m)\n"
           "    np.sum = lambda v, axis=None: _orig(v, axis=axis) * 3.0\n"
           "    try:\n"
           "        b = np.sum(m) + np.sum(m, axis=1)[1]\n"
           "    finally:\n"
           "        np.sum = _orig\n"
           "    return a + b + np.sum(m, axis=0)[2]\n")
    mod, _ = load_source_module(src, tmp_path_factory.mktemp("patched"), "framead_patched")
    x = np.linspace(0.3, 1.7, 6)
    _check_program(monkeypatch, mod.f, x)
    assert np.sum is mod._orig


# --- exceptions, tracebacks, warnings as natively ------------------------------------------

_RAISING = [
    "m = x.reshape(2, 3) * 1.0\n    return float(np.sum(m, axis=2 ** 70))",
    "m = x.reshape(2, 3) * 1.0\n    return float(m.sum(axis=2 ** 63))",
    "m = x.reshape(2, 3) * 1.0\n    return float(m.sum(axis=-(2 ** 63) - 1))",
    "m = x.reshape(2, 3) * 1.0\n    return float(np.sum(m, axis=-3))",
    "m = x.reshape(2, 3) * 1.0\n    return float(np.sum(m, axis=np.int64(7)))",
    "m = x.reshape(2, 3) * 1.0\n    s = m.sum\n    return float(s(axis=5))",
    "m = x.reshape(2, 3) * 1.0\n    return float(np.ndarray.sum(m, axis=3))",
    "m = x.reshape(2, 3) * 1.0\n    return float(np.sum(m[:, :0], axis=0).max())",
    "m = np.outer(x, x) * 1.0\n    m[1:] -= m[:, :2]\n    return 1.0",
    "m = np.outer(x, x) * 1.0\n    m.T[0] /= m[:2]\n    return 1.0",
    "u = x * 1.0\n    u[1:] += u\n    return 1.0",
    "u = np.arange(6)\n    u += x\n    return 1.0",
    "u = x * 1.0\n    u += 'a'\n    return 1.0",
    "u = x * 1.0\n    u *= [1.0, 2.0]\n    return 1.0",
    "u = x * 1.0\n    with np.errstate(all='raise'):\n        u /= 0.0\n    return 1.0",
    "u = x * 1e308\n    with np.errstate(all='raise'):\n        u *= 10.0\n    return 1.0",
    "u = x * 1e308\n    with np.errstate(all='raise'):\n        return float(np.sum(u))",
    "u = x * 1e308\n    with np.errstate(all='raise'):\n        return float(u.sum(axis=0))",
    "u = x * np.inf\n    with np.errstate(all='raise'):\n        u -= np.inf\n    return 1.0",
    "u = x * 1.0\n    u += 10 ** 400\n    return 1.0",
    "u = x * 1.0\n    u[1:] *= -(10 ** 400)\n    return 1.0",
]


def _frames(e, here):
    return [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(e.__traceback__)
            if "/framead/" not in f.filename and "/capture/" not in f.filename
            and f.filename != here]


@pytest.mark.parametrize("body", _RAISING)
def test_errors_as_natively(monkeypatch, body, tmp_path_factory):
    src = f"import numpy as np\n\n\ndef f(x):\n    {body}\n"
    mod, _ = load_source_module(src, tmp_path_factory.mktemp("raise"), "framead_raise")
    x = np.linspace(0.3, 1.7, 6)
    try:
        mod.f(x.copy())
    except Exception as e:  # noqa: BLE001 - compared below
        want = e
    else:
        pytest.fail("the program does not raise natively")
    for on in (True, False):
        _switch(monkeypatch)(on)
        with pytest.raises(Exception) as info:  # noqa: PT011 - compared below
            framead.trace(mod.f, x.copy())
        assert type(info.value) is type(want)
        assert str(info.value) == str(want)
        assert _frames(info.value, __file__) == _frames(want, __file__)


_WARNING = [
    "u = x * 1e308\n    return np.sum(u) + u.sum(axis=0)",
    "u = (x * 1e308).reshape(2, 3)\n    return np.sum(np.sum(u, axis=1) * 0.0 + 1.0)",
    "u = x * 1.0\n    u /= 0\n    return np.sum(u)",
    "u = x * 1e308\n    u *= 10.0\n    u += 1e308\n    return np.sum(u)",
    "u = x * np.inf\n    u -= np.inf\n    return np.sum(u) + np.sum(u, axis=0)",
    "u = x * 1.0\n    u[1:] /= 0.0\n    u[:-1] -= u[1:]\n    return np.sum(u)",
    "u = x * 1e-300\n    with np.errstate(under='warn'):\n        u *= 1e-300\n"
    "    return np.sum(u)",
    "u = x * 0.0\n    u /= 0.0\n    return np.sum(u, axis=0)",
    "u = (x * 1e308).reshape(3, 2)\n    u.T[0] += 1e308\n    return np.sum(u.sum(axis=1))",
]


def _native_warnings(fn, *args):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = fn(*args)
    return out, [(str(m.message), m.category, m.filename, m.lineno) for m in w
                 if "/framead/" not in m.filename and "/capture/" not in m.filename]


@pytest.mark.parametrize("body", _WARNING)
def test_warnings_as_natively(monkeypatch, body, tmp_path_factory):
    src = f"import numpy as np\n\n\ndef f(x):\n    {body}\n"
    mod, _ = load_source_module(src, tmp_path_factory.mktemp("warn"), "framead_warn")
    x = np.linspace(0.3, 1.7, 6)
    want, wanted = _native_warnings(mod.f, x.copy())
    assert wanted  # (the program warns natively)
    for on in (True, False):
        _switch(monkeypatch)(on)
        t, got = _native_warnings(framead.trace, mod.f, x.copy())
        np.testing.assert_equal(t.value, want)
        assert got == wanted


def test_seterrcall_runs_as_natively(monkeypatch, tmp_path_factory):
    """np.errstate(all='call'): the user's callback runs from inside the C fast path (in-place
    divide, overflowing reductions), with what it sees natively."""
    src = ("import numpy as np\n\n\ndef f(x, seen):\n"
           "    def cb(kind, flag):\n"
           "        seen.append((kind, flag, float(np.sum(x * 0.0))))\n"
           "    old = np.seterrcall(cb)\n"
           "    try:\n"
           "        with np.errstate(all='call'):\n"
           "            u = x * 1.0\n"
           "            u /= 0.0\n"
           "            v = x * 1e308\n"
           "            s = np.sum(v) + v.sum(axis=0)\n"
           "            v *= 10.0\n"
           "    finally:\n"
           "        np.seterrcall(old)\n"
           "    return np.sum(u) + s + np.sum(v)\n")
    mod, _ = load_source_module(src, tmp_path_factory.mktemp("call"), "framead_call")
    x = np.linspace(0.3, 1.7, 6)
    want: list = []
    native = mod.f(x.copy(), want)
    assert want
    for on in (True, False):
        _switch(monkeypatch)(on)
        seen: list = []
        t = framead.trace(mod.f, x.copy(), seen, argnums=0)
        assert t.value == native
        assert seen == want


def test_a_capture_inside_an_errcall_callback(monkeypatch, tmp_path_factory):
    """np.seterrcall's callback, run from inside the C paths (an in-place divide, a reduction,
    an in-place multiply), starts and ends captures of its own (which replace the thread's
    fast-record state): the outer recording goes on as the handlers record it."""
    src = ("import numpy as np\nimport framead\n\n\ndef f(x):\n"
           "    inner = []\n"
           "    def cb(kind, flag):\n"
           "        z = np.linspace(0.1, 0.5, 3)\n"
           "        inner.append(framead.grad(lambda v: np.sum(v * v, axis=0) + v.sum())(z))\n"
           "    old = np.seterrcall(cb)\n"
           "    try:\n"
           "        with np.errstate(all='call'):\n"
           "            u = x * 1.0\n"
           "            u /= 0.0\n"
           "            v = x * 1e308\n"
           "            s = np.sum(v, axis=0)\n"
           "            v *= 10.0\n"
           "            q = v.sum()\n"
           "    finally:\n"
           "        np.seterrcall(old)\n"
           "    w = x * 2.0\n"
           "    w[1:] += w[:-1]\n"
           "    w -= np.sum(w) * 0.1\n"
           "    return np.sum(w * w) + float(len(inner)) + float(q > 0) + float(s > 0)\n")
    mod, _ = load_source_module(src, tmp_path_factory.mktemp("cbcap"), "framead_cbcap")
    x = np.linspace(0.3, 1.7, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _check_program(monkeypatch, mod.f, x)


_RAISES_AFTER_WRITING = {  # (a write NumPy makes in full before np.errstate's error, what
    # the program returns afterwards)
    "const_inplace": ("u *= 1e308", "float(np.sum(u[:2])) * 1e-308"),           # (C path)
    "view_inplace": ("u[2:] *= 1e308", "float(np.sum(u[:2] * u[:2]))"),         # (C: a view)
    "traced_inplace": ("u *= x[1] * 1e308", "float(np.sum(u[:2])) * 1e-308"),   # (handlers)
    "ufunc_out": ("np.multiply(u, 1e308, out=u)", "float(np.sum(u[:2])) * 1e-308"),
    "log_out": ("np.log(u - 0.6, out=u)", "float(np.sum(u[1:]))"),  # (invalid: log(-0.1))
    "constants_out": ("np.multiply(np.array([5e-301, 7e-301, 1e308]), 10.0, out=u)",
                      "float(np.sum(u[:2] + u[:2] * x[:2])) * 1e300"),  # (u: constants now)
}


@pytest.mark.parametrize("stmt,ret", list(_RAISES_AFTER_WRITING.values()),
                         ids=list(_RAISES_AFTER_WRITING))
def test_a_write_that_raises_after_writing_is_recorded(monkeypatch, stmt, ret,
                                                       tmp_path_factory):
    """Under np.errstate(...="raise") NumPy raises only after the loop has written its output:
    the write is recorded (C path and handlers alike), so the gradient is that of what ran
    (it once was that of the unwritten array: silently wrong)."""
    src = ("import numpy as np\n\ndef f(x):\n    u = x * 1.0\n"
           "    with np.errstate(all='raise'):\n        try:\n"
           f"            {stmt}\n"
           "        except FloatingPointError:\n            pass\n"
           f"    return {ret}\n")
    mod, _ = load_source_module(src, tmp_path_factory.mktemp("fpe"), "framead_fpe")
    x = np.array([0.5, 0.7, 3.0])
    native = mod.f(x.copy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fd = np.array([(mod.f(x + 1e-6 * e) - mod.f(x - 1e-6 * e)) / 2e-6 for e in np.eye(3)])
    for on in (True, False):
        _switch(monkeypatch)(on)
        v, g = framead.value_and_grad(mod.f)(x.copy())
        assert v == native
        np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)


# --- higher order --------------------------------------------------------------------------

def second_order(x):
    m = x.reshape(2, 3) * 1.0
    acc = m * 0.0
    for i in range(2):
        d = m[i + 1:] - m[i]
        acc[i] += np.sum(d * d * m[i], axis=0)
        acc[i + 1:] -= d * m[i]
    acc *= 0.5
    acc[0] /= 3.0
    return np.sum(acc * acc) + np.sum(m, axis=1).sum() ** 2 + m.sum() * np.sum(x * x)


def test_higher_order_through_the_c_paths(monkeypatch):
    fast = _switch(monkeypatch)
    x = np.linspace(0.3, 1.7, 6)
    w = np.linspace(-0.5, 0.7, 6)
    out = {}
    for on in (False, True):
        fast(on)
        out[on] = (framead.hessian(second_order)(x),
                   framead.jvp(framead.grad(second_order), (x,), (w,))[1],
                   framead.grad(lambda z: framead.jvp(second_order, (z,), (w,))[1])(x),
                   framead.grad(lambda z: np.sum(framead.grad(second_order)(z) * w))(x))
    for a, b in zip(out[False], out[True], strict=True):
        np.testing.assert_array_equal(a, b)
    fast(True)
    h = out[True][0]
    fd = np.array([(framead.grad(second_order)(x + 1e-5 * e)
                    - framead.grad(second_order)(x - 1e-5 * e)) / 2e-5 for e in np.eye(6)])
    np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h, h.T, rtol=1e-9, atol=1e-9)
    for hv in out[True][1:]:
        np.testing.assert_allclose(hv, h @ w, rtol=1e-7, atol=1e-8)


# --- threads -------------------------------------------------------------------------------

def test_threads_capture_concurrently(monkeypatch):
    """Two threads capture programs with C reductions and in-place updates at once: each
    recording as when alone, gradients as alone."""
    fast = _switch(monkeypatch)
    fast(True)
    progs = [nbody_like, overlap_sub_reversed, stale_view_update, reduction_variants]
    xs = [np.array([0.1, 0.9, 1.3, -0.4, -1.1, 0.7, 0.5, -0.8])] + \
        [np.linspace(0.3, 1.7, 6)] * 3
    want = [(str(framead.trace(f, x.copy()).graph), framead.grad(f)(x.copy()))
            for f, x in zip(progs, xs, strict=True)]
    errors: list = []
    barrier = threading.Barrier(2)

    def work(order):
        try:
            barrier.wait()
            for _ in range(6):
                for k in order:
                    g = str(framead.trace(progs[k], xs[k].copy()).graph)
                    d = framead.grad(progs[k])(xs[k].copy())
                    assert g == want[k][0], progs[k].__name__
                    np.testing.assert_array_equal(d, want[k][1])
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(o,)) for o in ([0, 1, 2, 3], [3, 2, 1, 0])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


# --- interned slices -----------------------------------------------------------------------

def many_slices(x):
    u = np.concatenate([x] * 900) * 1.0     # 5400 elements
    s = 0.0
    for i in range(0, 5000, 1):
        s = s + u[i:i + 3:2].sum() * 1e-3
    return s + np.sum(u[10 ** 30:]) + np.sum(u[-(10 ** 30):]) + np.sum(u[3:-(10 ** 20):-1])


def test_more_slices_than_the_intern_table_holds(monkeypatch):
    """Over 4096 distinct slices (the table is cleared when full) and huge slice bounds:
    the keys recorded are those the handlers record and the gradient is right."""
    x = np.linspace(0.3, 1.7, 6)
    _check_program(monkeypatch, many_slices, x, rtol=1e-5, atol=1e-5)
    fast = _switch(monkeypatch)
    fast(True)
    t = framead.trace(many_slices, x)
    keys = [n.args[1] for n in t.graph.nodes if n.rule.name == "operator.getitem"]
    assert len(keys) > 5000
    for k in keys:
        assert type(k) is slice
    # a recorded key equals the slice the program made
    assert keys[4999] == slice(4999, 5002, 2)
    assert keys[17] == slice(17, 20, 2)


def test_interned_slices_in_tuples_keep_their_elements(monkeypatch):
    def f(x):
        m = np.outer(x, x) * 1.0
        a = m[1:, ::2] + m[(slice(1, None), slice(None, None, 2))]
        b = m[:, None, 1:3][2:5, 0] * m[2:5, 1:3]
        c = m[..., 1:4]
        return np.sum(a * a) + np.sum(b) * 0.5 + np.sum(c[::-1, ::-2])

    x = np.linspace(0.3, 1.7, 6)
    _check_program(monkeypatch, f, x)


# --- the C reverse step loop ----------------------------------------------------------------

_CONSTS = ["0.5", "-0.0", "0.0", "3", "-2", "np.float64(-1.5)", "1e300", "5e-324", "2 ** 60",
           "np.inf", "np.nan", "1e-300"]


@st.composite
def reverse_programs(draw) -> str:
    """Programs over a (5, 3) array of array nodes with a constant operand (c * u, u * c,
    u / c, c / u, c + u, c - u, u ** 2) and view reads (rows, tails, [:, None]), so a read's
    cotangent is absent, the pass's own, or another step's (an axis sum's broadcast)."""
    lines = ["    u = x * 1.0", "    acc = np.zeros_like(x)", "    s = 0.0"]
    for _ in range(draw(st.integers(1, 6))):
        c = draw(st.sampled_from(_CONSTS))
        i = draw(st.integers(0, 3))
        lines.append("    " + draw(st.sampled_from([
            f"u = {c} * u", f"u = u * {c}", f"u = u / ({c})", f"u = ({c}) / (u * u + 1.0)",
            f"u = ({c}) - u", f"u = u + {c}", "u = u ** 2 * 0.5",
            f"s = s + np.sum(u[{i}] * ({c}))", f"s = s + np.sum(u[{i} + 1:] * u[{i}])",
            "s = s + np.sum(u * np.sum(u, axis=1)[:, None])",
            f"acc[{i}] += np.sum(u[{i} + 1:] - u[{i}], axis=0)",
            f"acc[{i} + 1:] -= u[{i} + 1:] * ({c})",
            "u = u - np.sum(u, axis=0)[None, :] * 0.1",
            f"s = s + np.sum(u[:, None][{i}] * u[{i}])"])))
    return ("import numpy as np\n\n\ndef f(x):\n" + "\n".join(lines) +
            "\n    return s + np.sum(u * u) + np.sum(acc * x)\n")


def _raw_backward(f, x, c):
    t = framead.trace(f, x)
    bw = reverse.Backward(t.graph, t.wrt, compiled=False)
    old = reverse.SCALAR_C
    reverse.SCALAR_C = c
    try:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            out = bw({t.graph.outputs[0].id: 1.0})
    finally:
        reverse.SCALAR_C = old
    return out, [(str(m.message), m.category) for m in w]


@pytest.mark.skipif(reverse._scalar_tape is None, reason="extension not built")
@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(src=reverse_programs(), seed=st.integers(0, 2 ** 16))
def test_c_and_python_step_loops_bit_for_bit(src, seed, tmp_path_factory):
    note(src)
    mod, _ = load_source_module(src, tmp_path_factory.mktemp("rev"), "framead_rev")
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, (5, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        py, wpy = _raw_backward(mod.f, x, False)
        cc, wcc = _raw_backward(mod.f, x, True)
    assert wcc == wpy
    assert len(py) == len(cc)
    for a, b in zip(py, cc, strict=True):
        assert type(a) is type(b)
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()  # (signed zeros and nans included)


@pytest.mark.skipif(reverse._scalar_tape is None, reason="extension not built")
def test_step_loops_agree_through_the_grad_api(monkeypatch):
    """FRAMEAD_BACKWARD=loop and =pyloop give the same bits on the in-place programs."""
    x = np.linspace(0.3, 1.7, 6)
    for fn in _INPLACE + [reduction_variants, second_order]:
        got = []
        for mode in ("loop", "pyloop"):
            monkeypatch.setenv("FRAMEAD_BACKWARD", mode)
            got.append(framead.grad(fn)(x.copy()))
        assert got[0].tobytes() == got[1].tobytes(), fn.__name__
    xn = np.array([0.1, 0.9, 1.3, -0.4, -1.1, 0.7, 0.5, -0.8])
    got = []
    for mode in ("loop", "pyloop"):
        monkeypatch.setenv("FRAMEAD_BACKWARD", mode)
        got.append(framead.grad(nbody_like)(xn.copy()))
    assert got[0].tobytes() == got[1].tobytes()


# --- a fuzzer over in-place and reduction programs -----------------------------------------

_TARGETS = ["u", "u[1:]", "u[:-1]", "u[::2]", "u[::-1]", "u[2]", "m", "m[1]", "m[:, 1]",
            "m.T[1]", "m[1:]", "m[:, ::-1]", "u[1:][::2]"]
_RHS = ["x", "x[0]", "u[:-1]", "u[1:]", "np.sum(u)", "np.sum(m, axis=0)", "m.sum(axis=1)[0]",
        "2.0", "3", "np.float64(0.5)", "u.sum()", "m[0]", "m", "x.sum(axis=0)", "float(u[1])"]


@st.composite
def inplace_programs(draw) -> str:
    lines = ["    u = x * 1.0", "    m = u.reshape(2, 3)", "    keep = []"]
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["inplace", "inplace", "inplace", "save", "view", "sum"]))
        if kind == "inplace":
            t = draw(st.sampled_from(_TARGETS))
            op = draw(st.sampled_from(["+=", "-=", "*=", "/="]))
            r = draw(st.sampled_from(_RHS))
            if op in ("*=", "/="):
                r = draw(st.sampled_from(["2.0", "3", "np.float64(0.5)", "-1.5", "x[1]"]))
            lines.append(f"    try:\n        {t} {op} {r}\n    except ValueError:\n        pass")
        elif kind == "save":  # a node keeping a value in u's memory
            lines.append(f"    keep.append(np.sin({draw(st.sampled_from(_TARGETS[:6]))}))")
        elif kind == "view":  # a kept view: stale after later writes
            lines.append(f"    keep.append({draw(st.sampled_from(_TARGETS[:6]))})")
        else:
            lines.append(f"    keep.append({draw(st.sampled_from(_RHS[4:7] + _RHS[10:11]))})")
    return ("import numpy as np\n\n\ndef f(x):\n" + "\n".join(lines) +
            "\n    return np.sum(u * u) + sum(np.sum(k) for k in keep)\n")


@settings(max_examples=500, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(src=inplace_programs())
def test_fuzz_inplace_and_reductions(src, tmp_path_factory):
    note(src)
    mod, _ = load_source_module(src, tmp_path_factory.mktemp("fz"), "framead_fz")
    x = np.linspace(0.6, 1.4, 6)
    old = session.FAST_RECORD
    try:
        session.FAST_RECORD = False
        slow = framead.trace(mod.f, x.copy())
        g_slow = framead.grad(mod.f)(x.copy())
        session.FAST_RECORD = True
        quick = framead.trace(mod.f, x.copy())
        g_fast = framead.grad(mod.f)(x.copy())
    finally:
        session.FAST_RECORD = old
    assert_same(slow, quick)
    np.testing.assert_array_equal(g_fast, g_slow)
    native = mod.f(x.copy())
    np.testing.assert_equal([quick.value, slow.value], [native, native])
    if not (np.isfinite(native) and abs(native) < 1e8 and np.all(np.isfinite(g_fast))):
        return
    fd, fd4 = (_fd(lambda z: mod.f(z.copy()), x, h) for h in (1e-6, 4e-6))
    scale = 1e-8 * max(1.0, abs(float(native)))
    if np.allclose(fd, fd4, rtol=1e-3, atol=1e-5 + scale):
        np.testing.assert_allclose(g_fast, fd, rtol=1e-4, atol=1e-6 + scale)


@pytest.mark.parametrize("stmt,ret", list(_RAISES_AFTER_WRITING.values()),
                         ids=list(_RAISES_AFTER_WRITING))
def test_a_write_that_raises_after_writing_raises_as_natively(monkeypatch, stmt, ret,
                                                              tmp_path_factory):
    """The recorded write's FloatingPointError reaches the program as natively: its message
    and the user's frames."""
    src = ("import numpy as np\n\ndef f(x):\n    u = x * 1.0\n"
           f"    with np.errstate(all='raise'):\n        {stmt}\n    return {ret}\n")
    mod, _ = load_source_module(src, tmp_path_factory.mktemp("fpe2"), "framead_fpe2")
    x = np.array([0.5, 0.7, 3.0])
    with pytest.raises(FloatingPointError) as native:
        mod.f(x.copy())

    def user_frames(e):
        return [(f.filename, f.lineno, f.name) for f in traceback.extract_tb(e.__traceback__)
                if f.filename == mod.__file__]

    for on in (True, False):
        _switch(monkeypatch)(on)
        with pytest.raises(FloatingPointError) as info:
            framead.grad(mod.f)(x.copy())
        assert str(info.value) == str(native.value)
        assert user_frames(info.value) == user_frames(native.value)


_OVERFLOWING_WRITES = [  # each overflows u[2] only (x[2] is the largest entry): F * 3 > max
    # (no traced divisor: d(u / t)/dt of the overflowed entry is inf, times its zero
    # cotangent nan, as in every AD system)
    "u *= 1e308", "u /= 1e-308", "u[1:] *= 1e308", "u *= s", "u[1:] /= 1e-308",
    "np.multiply(u, 1e308, out=u)", "np.divide(u, 1e-308, out=u)",
    "np.multiply(u, c, out=u)", "np.multiply(u[1:], s, out=u[1:])",
]
_BEFORE = ["u = u * 1.25", "u[:2] -= x[:2] * 0.25", "u = np.sin(u) + u", "v = u[1:]",
           "u[1] = u[0] * 1.2"]  # (one of them at most: u[:2] stays under 1.7)
_AFTER = ["u[0] += x[2]", "u[:2] -= x[:2] * 0.25", "u += x * 0.5", "u = u * 1.5"]  # (linear:
# u[2], overflowed, gets a zero cotangent times a finite derivative)


@st.composite
def raising_write_programs(draw):
    """A program that writes into a traced array under np.errstate(all='raise'): the write
    overflows one entry and raises FloatingPointError after writing, the program catches it
    and goes on; other statements (writes, views, reassignments) before and after."""
    lines = [draw(st.sampled_from(_BEFORE)) for _ in range(draw(st.integers(0, 1)))]
    lines += ["with np.errstate(all='raise'):", "    try:",
              f"        {draw(st.sampled_from(_OVERFLOWING_WRITES))}",
              "    except FloatingPointError:", "        pass", "u = u * 1e-308"]
    lines += [draw(st.sampled_from(_AFTER)) for _ in range(draw(st.integers(0, 2)))]
    body = "\n".join(f"    {ln}" for ln in lines)
    return ("import numpy as np\n\ndef f(x):\n    u = x * 1.0\n    s = x[1] * (1e308 / 0.7)\n"
            "    c = np.full(3, 1e308)\n"
            f"{body}\n    return float(np.sum(u[:2])) + float(np.sum(x * x))\n")


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(src=raising_write_programs())
def test_fuzz_writes_that_raise_after_writing(src, monkeypatch, tmp_path_factory):
    """Whatever the write (in place by constants or traced values, into views, ufunc out=)
    and whatever comes around it, the gradient is that of what ran, on both paths."""
    note(src)
    mod, _ = load_source_module(src, tmp_path_factory.mktemp("fpef"), "framead_fpef")
    x = np.array([0.5, 0.7, 3.0])
    native = mod.f(x.copy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fd = np.array([(mod.f(x + 1e-7 * e) - mod.f(x - 1e-7 * e)) / 2e-7 for e in np.eye(3)])
    assert np.all(np.isfinite(fd)), fd
    for on in (True, False):
        _switch(monkeypatch)(on)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            v, g = framead.value_and_grad(mod.f)(x.copy())
        assert v == native
        np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6)
