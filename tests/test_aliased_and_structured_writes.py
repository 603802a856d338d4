"""Writes through views whose elements share memory, into structured arrays, and through
the .real/.imag views of complex arrays (the forms programs_classics5 found wrong).

* A view whose elements share memory (``sliding_window_view(writeable=True)``,
  ``as_strided`` with zero or overlapping strides, a writeable ``np.broadcast_to``): a write
  whose target has each memory element once (``w[:, 0] *= c`` of a window), or that gives
  every place of one element the same value (``w *= c`` with a scalar ``c``, ``w[...] = c``),
  is exact: value and gradient as natively / central differences. Any other (``w += v`` with
  a vector ``v``: NumPy's order of writes decides which place's value stays) is FA104 at the
  user's line (``strict=True`` raises).
* A traced value written into a structured array (``dtype.names``: ``s[i] = (p, v)``,
  ``s["p"] = x``, ``s["p"] += x``, ``np.copyto(s["p"], x)``, a record's ``rec["p"] = v``) is
  FA104 at the user's line; never an exception from the reverse pass.
* ``z.real[...] = v`` / ``z.imag[...] = v`` / ``z.real *= c`` / ``z.imag = v`` on traced and
  untraced complex arrays, read back through ``z``, ``np.abs(z)``, ``z.real``, ``z.imag``: exact.

Checked with ``strict=True`` (framead's Python recording; the C fast path is off there) and,
for the exact forms, with the C fast path on and off (``session.FAST_RECORD``)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from conftest import fd_grad
from framead.capture import session
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import as_strided, sliding_window_view

import framead
from framead.errors import GradientHazard

pytestmark = pytest.mark.filterwarnings("ignore::framead.GradientWarning")

N = 6
X = np.linspace(0.35, 1.45, N)


def _grad_both_paths(f, x):
    """(value, gradient) with strict=True, then with the C fast path on and off."""
    out = [framead.value_and_grad(f, strict=True)(x.copy())]
    old = session.FAST_RECORD
    try:
        for fast in (True, False):
            session.FAST_RECORD = fast
            out.append(framead.value_and_grad(f)(x.copy()))
    finally:
        session.FAST_RECORD = old
    return out


def _check_exact(f, x, paths=True):
    native = f(x.copy())
    fd = fd_grad(f, (x.copy(),))
    runs = _grad_both_paths(f, x) if paths else [framead.value_and_grad(f, strict=True)(x)]
    for v, g in runs:
        assert v == pytest.approx(native, rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-6)


def _check_fa104(f, x, line):
    """strict=True raises FA104 at ``line`` of this file; the plain run keeps the native
    value and raises nothing."""
    with pytest.raises(GradientHazard) as info:
        framead.value_and_grad(f, strict=True)(x.copy())
    h = info.value.hazard
    assert h.code == "FA104", str(info.value)
    assert h.loc.file == __file__ and h.loc.line == line, str(info.value)
    v, _ = framead.value_and_grad(f)(x.copy())
    assert v == pytest.approx(f(x.copy()), rel=1e-12, abs=1e-12)


# ---------------------------------------------------------------- views sharing memory

def _make_view(kind: str, a: np.ndarray) -> np.ndarray:
    if kind == "window":
        return sliding_window_view(a, 3, writeable=True)          # (4, 3), strides (8, 8)
    if kind == "rows":
        return as_strided(a, (3, N), (0, a.itemsize), writeable=True)  # each row is a
    if kind == "pairs":
        return as_strided(a, (2, 3), (2 * a.itemsize, a.itemsize), writeable=True)
    b = np.broadcast_to(a, (2, N))
    b.flags.writeable = True
    return b


def _memory_repeats(v: np.ndarray) -> bool:
    """Whether two elements of ``v`` sit at the same address (independent of framead)."""
    offs = np.zeros((), dtype=np.int64)
    for s, n in zip(v.strides, v.shape, strict=True):
        offs = np.add.outer(offs, np.arange(n) * s)
    return np.unique(offs).size != offs.size


_OPERANDS = ["const", "traced_scalar", "traced_vector", "const_vector"]
_WRITES = st.one_of(
    st.tuples(st.just("col"), st.integers(0, 2), st.sampled_from(["*=", "+=", "="]),
              st.sampled_from(_OPERANDS)),
    st.tuples(st.just("row"), st.integers(0, 1), st.sampled_from(["*=", "+=", "="]),
              st.sampled_from(_OPERANDS)),
    st.tuples(st.just("all"), st.just(0), st.sampled_from(["*=", "+=", "="]),
              st.sampled_from(_OPERANDS)),
    st.tuples(st.just("elem"), st.integers(0, 1), st.sampled_from(["*=", "="]),
              st.sampled_from(["const", "traced_scalar"])),
    st.tuples(st.sampled_from(["tcol", "subcol"]), st.integers(0, 2),
              st.sampled_from(["*=", "+=", "="]), st.sampled_from(_OPERANDS)),
)


def _target(w: np.ndarray, where: str, i: int) -> np.ndarray:
    """The written part of ``w``: a column, a row, all, one element, a column of w.T, a
    column of rows 1: (a view of a view)."""
    return {"col": lambda: w[:, i], "row": lambda: w[i], "all": lambda: w,
            "elem": lambda: w[i, 1:2], "tcol": lambda: w.T[i],
            "subcol": lambda: w[1:][:, i]}[where]()


def _operand(kind: str, x: np.ndarray, shape: tuple):
    if kind == "const":
        return 1.5
    if kind == "traced_scalar":
        return x[1] * 2.0
    size = int(np.prod(shape))
    vec = np.resize(x, size).reshape(shape) * 0.7 if kind == "traced_vector" else \
        np.linspace(0.5, 1.5, size).reshape(shape)
    return vec


def _overlap_program(kind: str, writes: list):
    """a program writing through the view; returns (f, [(line, exact?)]) with the line of
    each write and whether it is exact (no hazard) by the rule in the module docstring."""
    verdicts = []
    probe = _make_view(kind, np.zeros(N))
    for where, i, _op, operand in writes:
        target = _target(probe, where, i)
        uniform = operand in ("const", "traced_scalar")
        verdicts.append(not _memory_repeats(target) or uniform)

    def f(x):
        return _overlap_body(x, kind, writes)
    return f, verdicts


def _overlap_body(x, kind, writes):
    a = x * 1.0
    w = _make_view(kind, a)
    for where, i, op, operand in writes:
        target = _target(w, where, i)
        c = _operand(operand, x, target.shape)
        if op == "*=":
            target *= c  # WRITE_MUL
        elif op == "+=":
            target += c  # WRITE_ADD
        else:
            target[...] = c  # WRITE_SET
    return float(a @ np.arange(1.0, N + 1.0) + np.sum(w * w) + np.sum(a * a))


def _write_line(op: str) -> int:
    src, start = inspect.getsourcelines(_overlap_body)
    tag = {"*=": "WRITE_MUL", "+=": "WRITE_ADD", "=": "WRITE_SET"}[op]
    return start + next(k for k, s in enumerate(src) if tag in s)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["window", "rows", "pairs", "bcast"]),
       writes=st.lists(_WRITES, min_size=1, max_size=3))
def test_writes_through_views_sharing_memory(kind, writes):
    f, verdicts = _overlap_program(kind, writes)
    if all(verdicts):
        # (strict, C fast path on, off: the fast path records a direct view's `w op= c`)
        _check_exact(f, X, paths=all(w[0] != "all" or w[3] in ("const", "traced_scalar")
                                     for w in writes))
    else:
        _check_fa104(f, X, _write_line(writes[verdicts.index(False)][2]))


def test_sliding_window_write_each_element_once():
    """The corpus case: w[:, 0] *= 2 of a writeable window scales each element once."""
    def f(x):
        a = x * 1.0
        w = sliding_window_view(a, 2, writeable=True)
        w[:, 0] *= 2
        return a.sum()

    v, g = framead.value_and_grad(f, strict=True)(np.array([0.3, 0.7, 1.1]))
    assert v == pytest.approx(f(np.array([0.3, 0.7, 1.1])))
    np.testing.assert_allclose(g, [2.0, 2.0, 1.0])


def test_window_column_through_window_reads_new_values():
    """w[:, 1] += w[:, 0] (distinct memory for the target) then reads of a and w."""
    def f(x):
        a = x * x
        w = sliding_window_view(a, 2, writeable=True)
        w[:, 1] += w[:, 0]
        return float(a @ np.arange(1.0, N + 1.0) + (w[:, 0] * w[:, 1]).sum())

    _check_exact(f, X)


# ---------------------------------------------------------------- structured arrays

_DT = [("p", "f8"), ("q", "f8")]


def _s_rows(x):
    s = np.zeros(3, dtype=_DT)
    s[0] = (x[0], x[1])  # STRUCT
    return float(s[0]["q"] + x[2] + s["p"].sum())


def _s_field(x):
    s = np.zeros(N, dtype=_DT)
    s["p"] = x  # STRUCT
    return float(s["p"].sum() + (s["p"] * s["q"]).sum())


def _s_field_slice(x):
    s = np.zeros(N, dtype=_DT)
    s["p"][1:3] = x[:2]  # STRUCT
    return float(s["p"].sum() + x[3])


def _s_inplace(x):
    s = np.ones(N, dtype=_DT)
    s["p"] += x  # STRUCT
    return float((s["p"] ** 2).sum())


def _s_copyto(x):
    s = np.zeros(N, dtype=_DT)
    np.copyto(s["q"], np.sin(x))  # STRUCT
    return float(s["q"] @ s["p"] + s["q"].sum())


def _s_record(x):
    s = np.zeros(2, dtype=_DT)
    rec = s[1]
    rec["p"] = x[0] * 3.0  # STRUCT
    return float(s["p"].sum() + rec["p"] + x[1])


def _s_field_item(x):
    s = np.zeros(3, dtype=_DT)
    for i in range(3):
        s["q"][i] = x[i] ** 2  # STRUCT
    return float(s["q"].sum())


_STRUCTURED = [_s_rows, _s_field, _s_field_slice, _s_inplace, _s_copyto, _s_record,
               _s_field_item]


@pytest.mark.parametrize("f", _STRUCTURED, ids=lambda f: f.__name__)
def test_structured_writes_are_reported(f):
    src, start = inspect.getsourcelines(f)
    line = start + next(k for k, s in enumerate(src) if "# STRUCT" in s)
    _check_fa104(f, X, line)


# ---------------------------------------------------------------- .real / .imag writes

_PART_STEPS = st.tuples(st.sampled_from(["set", "scale", "attr", "early", "mul"]),
                        st.sampled_from(["real", "imag"]), st.integers(0, 3),
                        st.floats(-2.0, 2.0))


def _part_program(traced: bool, steps: list):
    # (a view of an untraced z made before z is written and never written itself is read
    # as a constant, FA104: capture/values.py value_of has no recipe for it)
    read = ["real", "imag"] if traced else sorted({p for op, p, *_ in steps if op == "early"})

    def f(x):
        z = x[:3] * (1.0 + 0.5j) if traced else np.zeros(3, dtype=complex)
        early = {"real": z.real, "imag": z.imag}  # (views made before any write)
        for op, part, k, c in steps:
            src = x[k:k + 3] ** 2
            if op == "set":
                (z.real if part == "real" else z.imag)[:] = src
            elif op == "scale":
                (z.real if part == "real" else z.imag)[1:] *= c
            elif op == "attr":
                if part == "real":
                    z.real = src
                else:
                    z.imag = src
            elif op == "early":
                early[part][...] = src * 0.5
            else:
                z *= np.exp(1j * c * x[:3])
        return float(np.abs(z).sum() + z.real @ [1.0, 2.0, 3.0] + z.imag @ [0.5, -1.0, 2.0]
                     + (z * z.conj()).real.sum() + sum(early[p].sum() for p in read) + x @ x)
    return f


@settings(max_examples=150, deadline=None)
@given(traced=st.booleans(), steps=st.lists(_PART_STEPS, min_size=1, max_size=4))
def test_real_imag_views_written(traced, steps):
    f = _part_program(traced, steps)
    # (strict: the C fast path's `z.imag *= c` records the complex owner's next value as
    # float64, a hazard of its own: capture/_evalframe.c fast_array_inplace)
    _check_exact(f, X, paths=False)
    v, _ = framead.value_and_grad(f)(X.copy())
    assert v == pytest.approx(f(X.copy()), rel=1e-12, abs=1e-12)


def test_real_view_of_untraced_complex():
    """The corpus form: z.real[:] = x on np.zeros(3, complex), read through np.abs(z)."""
    def f(x):
        z = np.zeros(3, complex)
        z.real[:] = x[:3]
        z.imag[:] = x[3:] ** 2
        return float(np.abs(z).sum() + z.imag.sum())

    _check_exact(f, X)


# ---------------------------------------------------------------- gaps outside these files

def test_fast_path_inplace_through_view_sharing_memory():
    def f(x):
        a = x * 1.0
        w = sliding_window_view(a, 3, writeable=True)
        w += np.arange(12.0).reshape(4, 3) * x[0]
        return float(a @ np.arange(1.0, N + 1.0) + np.sum(w * w))

    old = session.FAST_RECORD
    try:
        session.FAST_RECORD = True
        t = framead.trace(f, X.copy())
        if not t.hazards:
            _, g = framead.value_and_grad(f)(X.copy())
            np.testing.assert_allclose(g, fd_grad(f, (X.copy(),)), rtol=1e-6, atol=1e-6)
    finally:
        session.FAST_RECORD = old


def test_fast_path_inplace_on_imag_view_of_complex():
    def f(x):
        z = x[:3] * (1.0 + 0.5j)
        zi = z.imag
        zi *= 2.0
        return float(np.abs(z).sum())

    old = session.FAST_RECORD
    try:
        session.FAST_RECORD = True
        v, g = framead.value_and_grad(f)(X.copy())
        np.testing.assert_allclose(g, fd_grad(f, (X.copy(),)), rtol=1e-6, atol=1e-6)
    finally:
        session.FAST_RECORD = old


@pytest.mark.xfail(strict=True, raises=GradientHazard,
                   reason="capture/values.py value_of: a float64 view of a traced complex "
                   "buffer framead did not see made (z.real of z before z was traced, "
                   "getattr(z, 'real')) is read as a constant (FA104), though "
                   "Mutations._view_entry can give it a recipe")
def test_read_of_real_view_made_before_tracing():
    def f(x):
        z = np.zeros(3, complex)
        early = z.real
        z[:] = x[:3] * (1.0 + 2.0j)
        return float(early @ [1.0, 2.0, 3.0])

    _check_exact(f, X, paths=False)


@pytest.mark.parametrize("make", [np.array, np.asarray, np.asanyarray, np.ascontiguousarray])
def test_structured_records_built_from_traced_values_are_refused(make):
    """np.array([(x0, x1), ...], dtype=structured): refused at capture (FA101 at the user's
    line; strict raises), never a silent constant."""
    dt = [("p", float), ("v", float)]

    def f(x):
        s = make([(x[0], x[1]), (x[1], x[2])], dtype=dt)
        return s["p"].sum() * 2.0 + x[2]
    x = np.array([0.3, 0.5, 0.7])
    assert [h.code for h in framead.trace(f, x).hazards] == ["FA101"]
    with pytest.raises(framead.GradientHazard):
        framead.grad(f, strict=True)(x)
