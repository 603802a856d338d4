"""framead's copies of the caller's arrays (framead/inputs.py): exactly np.array(a, copy=True)
(layout, dtype, flags, values), never sharing memory with the caller's array, and, when large,
with their pages mapped in by one system call (capture/buffers.py ``fresh_copy``,
``_evalframe.prefault``)."""

from __future__ import annotations

import mmap
import platform
import resource

import numpy as np
import pytest
from framead.capture import _evalframe as C
from framead.capture import buffers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import framead

PAGE = mmap.PAGESIZE
_DTYPES = st.sampled_from(["f8", "f4", "c16", "i8", "?", ">f8", "u1", "O",
                           [("a", "f8"), ("b", "i2")]])


def _kernel_populates() -> bool:
    """Linux 5.14 or later: MADV_POPULATE_WRITE."""
    if platform.system() != "Linux":
        return False
    major, minor = (int(p) for p in platform.release().split(".")[:2])
    return (major, minor) >= (5, 14)


@st.composite
def layouts(draw):
    """An array of a drawn dtype and shape, then a drawn view of it: a transpose (any axis
    order), a slice with steps, a negative step, or the array itself."""
    dtype = np.dtype(draw(_DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=7))
    if dtype.hasobject:
        base = np.empty(shape, dtype)
        base.reshape(-1)[...] = [float(i) for i in range(base.size)]
    else:
        base = np.frombuffer(draw(st.binary(min_size=dtype.itemsize * int(np.prod(shape)),
                                            max_size=dtype.itemsize * int(np.prod(shape)))),
                             dtype=dtype).reshape(shape).copy()
    view = draw(st.sampled_from(["same", "transpose", "step", "reverse", "fortran"]))
    if view == "transpose" and base.ndim:
        base = base.transpose(draw(st.permutations(range(base.ndim))))
    elif view == "step" and base.ndim:
        base = base[(slice(None, None, 2),) * base.ndim]
    elif view == "reverse" and base.ndim:
        base = base[..., ::-1]
    elif view == "fortran":
        base = np.asfortranarray(base)
    if draw(st.booleans()):
        base.flags.writeable = False
    return base


def _same_bytes(a, b):
    if a.dtype.hasobject:
        return all(x is y for x, y in zip(a.reshape(-1).tolist(), b.reshape(-1).tolist(),
                                          strict=True))
    return a.tobytes() == b.tobytes()


@pytest.mark.parametrize("threshold", [0, buffers.PREFAULT_BYTES])
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # (set once per test)
@given(a=layouts())
def test_a_copy_is_numpys_copy(monkeypatch, threshold, a):
    """With the prefaulting path forced on every size (threshold 0) and at its real size:
    the same layout, dtype and values as NumPy's copy, its own writable memory."""
    monkeypatch.setattr(buffers, "PREFAULT_BYTES", threshold)
    out = buffers.fresh_copy(a)
    ref = np.array(a, copy=True)
    assert type(out) is np.ndarray and out.dtype == ref.dtype and out.shape == ref.shape
    assert out.strides == ref.strides
    assert (out.flags.c_contiguous, out.flags.f_contiguous, out.flags.owndata) == \
        (ref.flags.c_contiguous, ref.flags.f_contiguous, ref.flags.owndata)
    assert out.flags.writeable and _same_bytes(out, a)
    assert not np.shares_memory(out, a)


@pytest.mark.parametrize("shape", [(300, 300), (600, 200)])
@pytest.mark.parametrize("layout", ["C", "F", "T"])
def test_large_arguments_the_program_writes_leave_the_callers_arrays(shape, layout):
    """Arguments above the prefault size, written in place by the program (through a view
    too): the gradient is right and the caller's arrays keep their values."""
    rng = np.random.default_rng(0)
    x = {"C": np.ascontiguousarray, "F": np.asfortranarray, "T": lambda a: a.T}[layout](
        rng.standard_normal(shape))
    w = rng.standard_normal(x.shape)
    assert x.nbytes >= buffers.PREFAULT_BYTES
    x0, w0 = x.copy(), w.copy()

    def f(x, w):
        x *= 2.0
        x[:, 0] = w[:, 1]
        w[...] = 0.0
        return np.sum(x * x)

    gx, gw = framead.grad(f, argnums=(0, 1), strict=True)(x, w)
    expect = 8.0 * x0
    expect[:, 0] = 0.0
    np.testing.assert_allclose(gx, expect)
    gw_expect = np.zeros_like(w0)
    gw_expect[:, 1] = 2.0 * w0[:, 1]
    np.testing.assert_allclose(gw, gw_expect)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)


def test_shared_large_arguments_stay_shared_in_the_copies():
    """f(x, x[1:]) with a large x: the program's write through one is seen by the other (one
    copy, as natively), and the caller's array is untouched."""
    x = np.arange(100_000.0)
    x0 = x.copy()

    def f(a, b):
        b[0] = 5.0           # a[1]
        return a[1] * a[2]

    g = framead.grad(f, argnums=0)(x, x[1:])
    assert g[1] == 0.0 and g[2] == 5.0
    np.testing.assert_array_equal(x, x0)


@pytest.mark.skipif(not _kernel_populates(), reason="needs Linux 5.14+ (MADV_POPULATE_WRITE)")
def test_prefault_maps_fresh_pages_in_once_and_keeps_their_contents():
    """A fresh mapping, two of its pages written: prefault asks the kernel (True), the later
    writes to every page take no page faults, and the written pages keep their bytes; asked
    again (every page resident), it does nothing."""
    n = 256
    m = mmap.mmap(-1, n * PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    a = np.frombuffer(m, dtype=np.uint8)
    a[0:4] = [1, 2, 3, 4]
    a[10 * PAGE:10 * PAGE + 2] = [7, 8]
    assert C.prefault(a) is True
    assert a[:4].tolist() == [1, 2, 3, 4] and a[10 * PAGE:10 * PAGE + 2].tolist() == [7, 8]
    assert not a[4:10 * PAGE].any() and not a[10 * PAGE + 2:].any()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a[:] = 9
    assert resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before < n // 8
    assert C.prefault(a) is False
    del a
    m.close()


def test_prefault_refuses_what_it_must_not_write():
    """Read-only and non-contiguous buffers are errors; buffers smaller than a page are left."""
    ro = np.zeros(4 * PAGE, np.uint8)
    ro.flags.writeable = False
    with pytest.raises((BufferError, ValueError)):
        C.prefault(ro)
    with pytest.raises((BufferError, ValueError)):
        C.prefault(bytes(4 * PAGE))
    with pytest.raises((BufferError, ValueError)):
        C.prefault(np.zeros((64, 64))[:, ::2])
    assert C.prefault(np.zeros(PAGE // 2, np.uint8)) is False
