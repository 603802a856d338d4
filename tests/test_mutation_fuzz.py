"""Mutation/aliasing fuzzer (issue 4): random straight-line NumPy programs that write through
random views, differentiated by framead and checked against two references.

Each drawn program exists in two renderings of the same statements:

* the **mutating program** ``f`` (what framead differentiates): buffers made from the inputs
  (copies, or the inputs themselves when the program mutates its arguments) or by
  ``np.zeros``/``np.ones``; named views of them (slices with steps, negative steps and integer
  axes, ``.T``/``np.transpose``/``swapaxes``, ``reshape``/``ravel`` when NumPy returns a view,
  ``a[...]``, ``view()``, ``np.asarray``, read-only ``diagonal`` views, views of views); writes
  (``v[key] = e`` with basic, fancy, mixed, boolean and element keys, ``v[key] op= e``,
  ``v op= e``, ufuncs with ``out=``, ``np.sum(..., out=)``, ``v.fill(c)``, ``np.copyto`` with and
  without ``where=``) and reads (views, fancy and boolean-mask reads, flat slices, element reads,
  sums, ``sin``/``exp``/``tanh``, ``+ - *``). The loss is a weighted sum of the final buffer
  contents plus reads through views and temporaries.
* the **functional oracle** ``g``: every buffer is a flat float64 value ``F_b`` that is never
  mutated; every view is a constant index array ``I_v`` into it (the same view operations
  applied, at generation time, to ``np.arange(size).reshape(shape)``); a read of ``v[key]`` is
  ``F_b[I_v[key]]`` and every write is ``F_b = _w(F_b, I_v[key], value)``, an index-set on a
  copy (``np.where`` for ``where=`` masks).

Per program: the oracle must reproduce the mutating program's value natively (otherwise the
generator is wrong, and the test says so); central differences of both renderings must agree;
then framead's ``value_and_grad`` must give the native value bit for bit, a gradient that
matches both references (rtol 1e-6), and leave the caller's arrays unchanged.

Only well-defined programs are generated: writes are shape-compatible, fancy and boolean write
keys never repeat an element, reshapes/ravels are used as write targets only when NumPy returns
a view (decided on the index arrays, which have the same layout as the float buffers), and
overlapping reads/writes use only forms whose NumPy result does not depend on the order
(ufuncs, basic and integer-array assignment and ``copyto`` copy an overlapping source first;
boolean-mask assignment does not, so an overlapping source there is ``.copy()``-ed, as correct
code must). Repeated indices are left to the pattern tests (tests/test_mutation_patterns.py).

The example count is ``FRAMEAD_FUZZ_EXAMPLES`` (default sized for about a minute of CI); the
run is derandomized (a fixed sequence of programs). The number of programs run is printed in
the terminal summary. On a failure the program is reduced by deleting statements while framead
still fails the same way, and the smallest one is shown; ``FRAMEAD_FUZZ_SHRINK=1`` enables
hypothesis's own (slow) shrinker instead. ``FRAMEAD_TEST_ENGINE=fake`` runs the whole harness
(oracle, references) without framead.
"""

from __future__ import annotations

import collections
import hashlib
import importlib.util
import itertools
import math
import os
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import (
    ENGINE_NAME,
    assert_args_unchanged,
    assert_close,
    fd_grad,
    fresh,
    get_engine,
    snapshot,
)
from hypothesis import HealthCheck, Phase, assume, given, note, settings
from hypothesis import strategies as st

MAX_EXAMPLES = int(os.environ.get("FRAMEAD_FUZZ_EXAMPLES", "1500"))
# hypothesis's shrinker can take minutes on these programs; by default a failing program is
# reduced by deleting statements instead (bounded, see _minimize). FRAMEAD_FUZZ_SHRINK=1
# turns hypothesis's shrinking back on.
SHRINK = os.environ.get("FRAMEAD_FUZZ_SHRINK") == "1"
MINIMIZE_SECONDS = 20.0
RTOL = 1e-6

SHAPES = [(6,), (8,), (12,), (2, 3), (3, 4), (4, 3), (2, 2, 3), (2, 3, 2)]
INPUT_SHAPES = [(5,), (6,), (2, 3), (3, 4), (4, 3), (2, 2, 3)]
CONSTS = [0.5, -1.5, 2.0, 0.25, -0.75, 3.0]
WEIGHTS = [1.0, -0.5, 2.0, 0.25, -1.5, 0.75]

# programs generated / checked / discarded, reported at the end of the session
STATS: collections.Counter = collections.Counter()
FAILED: set = set()  # sources of failing programs (hypothesis replays a failure)


# ----------------------------------------------------------------------------------------
# program model
# ----------------------------------------------------------------------------------------


@dataclass
class Buf:
    name: str
    shape: tuple
    writable: bool

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass
class View:
    name: str
    buf: Buf
    idx: np.ndarray  # flat indices into the buffer, with the view's shape and layout
    writable: bool

    @property
    def shape(self) -> tuple:
        return self.idx.shape

    @property
    def ndim(self) -> int:
        return self.idx.ndim


@dataclass
class Expr:
    f: str  # source in the mutating program
    o: str  # source in the oracle
    shape: tuple
    fresh: bool  # evaluates to a new array or scalar (never an alias of a buffer)
    base: Buf | None = None  # the buffer a non-fresh expression aliases


class Program:
    """One drawn program: both renderings, the point and the statement kinds."""

    def __init__(self, source: str, oracle: str, args: tuple, argnums, stmts: list):
        self.source, self.oracle, self.args, self.argnums = source, oracle, args, argnums
        self.stmts = stmts

    def __repr__(self) -> str:  # the sources are in the notes
        return f"Program({len(self.stmts)} statements, argnums={self.argnums!r})"


def _suffix(s: tuple, t: tuple) -> bool:
    """``s`` broadcasts to ``t`` as a trailing part of it (no size-1 stretching)."""
    return len(s) <= len(t) and tuple(t[len(t) - len(s):]) == tuple(s)


def _lit(a) -> str:
    """Source text of a small constant array (bool masks, index arrays, weights)."""
    return f"np.array({np.asarray(a).tolist()!r})"


def _render_key_item(k) -> str:
    if k is Ellipsis:
        return "..."
    if isinstance(k, slice):
        a = "" if k.start is None else str(k.start)
        b = "" if k.stop is None else str(k.stop)
        return f"{a}:{b}" if k.step in (None, 1) else f"{a}:{b}:{k.step}"
    if isinstance(k, list):
        return repr(k)
    if isinstance(k, np.ndarray):
        return _lit(k)
    return str(int(k))


def render_key(key) -> str:
    if isinstance(key, tuple):
        if len(key) == 1:
            return _render_key_item(key[0]) + ","
        return ", ".join(_render_key_item(k) for k in key)
    return _render_key_item(key)


class Builder:
    """Draws one program, rendering both forms as it goes."""

    def __init__(self, draw):
        self.draw = draw
        self.bufs: list[Buf] = []
        self.views: list[View] = []
        self.temps: list[tuple[str, tuple]] = []
        self.f: list[str] = []
        self.o: list[str] = []
        self.counter = itertools.count()
        self.kinds: list[str] = []

    # ---- drawing helpers ----------------------------------------------------------------

    def pick(self, xs):
        return self.draw(st.sampled_from(list(xs)))

    def integer(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def coin(self, p_true_in_4: int = 2) -> bool:
        return self.draw(st.integers(0, 3)) < p_true_in_4

    def fresh_name(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def emit(self, f_line: str, o_line: str | None, kind: str) -> None:
        self.f.append(f_line)
        if o_line is not None:
            self.o.append(o_line)
        self.kinds.append(kind)

    # ---- names --------------------------------------------------------------------------

    @staticmethod
    def ovar(buf: Buf) -> str:
        return f"F_{buf.name}"

    @staticmethod
    def ivar(v: View) -> str:
        return f"I_{v.name}"

    def read_view(self, v: View, key_text: str | None = None) -> tuple[str, str]:
        if key_text is None:
            return v.name, f"{self.ovar(v.buf)}[{self.ivar(v)}]"
        return f"{v.name}[{key_text}]", f"{self.ovar(v.buf)}[{self.ivar(v)}[{key_text}]]"

    def add_view(self, name: str, buf: Buf, idx: np.ndarray, writable: bool) -> View:
        v = View(name, buf, idx, writable and buf.writable)
        self.views.append(v)
        self.o.append(f"{self.ivar(v)} = _I({idx.reshape(-1).tolist()!r}, {tuple(idx.shape)!r})")
        return v

    # ---- keys ---------------------------------------------------------------------------

    def rand_slice(self, n: int) -> slice:
        step = self.pick([1, 1, 2, -1, -2, 3, None])
        for _ in range(4):
            start = self.pick([None, self.integer(-n, n - 1)])
            stop = self.pick([None, self.integer(-n, n)])
            s = slice(start, stop, step)
            if len(range(n)[s]) > 0:
                return s
        return slice(None, None, step)

    def basic_key(self, shape: tuple, ints: bool, keep_dims: int = 1) -> tuple:
        """Per-axis slices, with integer axes when ``ints`` (leaving ``keep_dims`` axes)."""
        key = []
        dims_left = len(shape)
        for n in shape:
            if ints and dims_left > keep_dims and self.coin(1):
                key.append(self.integer(-n, n - 1))
                dims_left -= 1
            elif self.coin(1):
                key.append(slice(None))
            else:
                key.append(self.rand_slice(n))
        if self.coin(1) and len(key) > 1 and all(k == slice(None) for k in key[1:]):
            key = key[:1]
        return tuple(key)

    def element_key(self, shape: tuple) -> tuple:
        return tuple(self.integer(-n, n - 1) for n in shape)

    def unique_subset(self, n: int, lo: int = 1) -> list[int]:
        perm = self.draw(st.permutations(list(range(n))))
        return list(perm[: self.integer(lo, n)])

    def mask(self, shape: tuple, count: int | None = None) -> np.ndarray:
        size = int(np.prod(shape, dtype=np.int64))
        if count is None:
            count = self.integer(1, size)
        perm = self.draw(st.permutations(list(range(size))))
        m = np.zeros(size, dtype=bool)
        m[list(perm[:count])] = True
        return m.reshape(shape)

    def write_key(self, v: View):
        """A key for ``v[key] = ...`` that selects distinct elements: (key, text, index)."""
        shape = v.shape
        kinds = ["basic", "basic", "ellipsis", "element", "fancy0", "mask"]
        if v.ndim >= 2:
            kinds += ["mixed_slice_list", "mixed_list_slice", "mixed_int_list", "coords",
                      "rowmask"]
        kind = self.pick(kinds)
        if kind == "basic":
            key = self.basic_key(shape, ints=True, keep_dims=0)
        elif kind == "ellipsis":
            key = Ellipsis
        elif kind == "element":
            key = self.element_key(shape)
        elif kind == "fancy0":
            key = self.unique_subset(shape[0])
        elif kind == "mask":
            key = self.mask(shape)
        elif kind == "rowmask":
            key = self.mask((shape[0],))
        elif kind == "mixed_slice_list":
            key = (self.rand_slice(shape[0]), self.unique_subset(shape[1]))
        elif kind == "mixed_list_slice":
            key = (self.unique_subset(shape[0]), self.rand_slice(shape[1]))
        elif kind == "mixed_int_list":
            key = (self.integer(0, shape[0] - 1), self.unique_subset(shape[1]))
        else:  # coords: distinct (i, j, ...) tuples
            cells = self.unique_subset(v.idx.size)
            coords = np.unravel_index(cells, shape)
            key = tuple(c.tolist() for c in coords)
        sel = v.idx[key]
        flat = np.asarray(sel).reshape(-1)
        assert len(set(flat.tolist())) == flat.size  # distinct targets by construction
        return key, render_key(key), np.asarray(sel)

    # ---- expressions --------------------------------------------------------------------

    def const(self) -> Expr:
        c = repr(self.pick(CONSTS))
        return Expr(c, c, (), True)

    def leaf(self, T: tuple) -> Expr:
        options = ["const", "name", "name", "element", "basic_read", "fancy", "mixed",
                   "maskread", "flat", "sum", "axis_sum"]
        for _ in range(6):
            kind = self.pick(options)
            e = getattr(self, "leaf_" + kind)(T)
            if e is not None:
                return e
        return self.const()

    def leaf_const(self, T):
        return self.const()

    def leaf_name(self, T):
        cands = [("v", v) for v in self.views if _suffix(v.shape, T)]
        cands += [("t", t) for t in self.temps if _suffix(t[1], T)]
        if not cands:
            return None
        kind, x = self.pick(cands)
        if kind == "t":
            return Expr(x[0], x[0], x[1], True)
        f, o = self.read_view(x)
        return Expr(f, o, x.shape, False, x.buf)

    def leaf_element(self, T):
        v = self.pick(self.views)
        text = render_key(self.element_key(v.shape))
        f, o = self.read_view(v, text)
        return Expr(f, o, (), True)

    def leaf_basic_read(self, T):
        v = self.pick(self.views)
        key = self.basic_key(v.shape, ints=True)
        shape = v.idx[key].shape
        if not _suffix(shape, T):
            return None
        f, o = self.read_view(v, render_key(key))
        return Expr(f, o, shape, False, v.buf)

    def leaf_fancy(self, T):
        if T == ():
            return None
        v = self.pick(self.views)
        n = int(np.prod(T, dtype=np.int64))
        arrays = [np.array([self.integer(0, m - 1) for _ in range(n)]).reshape(T)
                  for m in v.shape]
        items = [a.tolist() if len(T) == 1 else a for a in arrays]
        key = items[0] if len(items) == 1 else tuple(items)
        assert v.idx[key].shape == T
        f, o = self.read_view(v, render_key(key))
        return Expr(f, o, T, True)

    def leaf_mixed(self, T):
        v = self.pick(self.views)
        if v.ndim < 2 or len(T) < v.ndim:
            return None
        want = T[len(T) - v.ndim:]
        axis = self.integer(0, v.ndim - 1)
        if any(want[i] != v.shape[i] for i in range(v.ndim) if i != axis):
            return None
        lst = [self.integer(0, v.shape[axis] - 1) for _ in range(want[axis])]
        key = (slice(None),) * axis + (lst,)
        assert _suffix(v.idx[key].shape, T)
        f, o = self.read_view(v, render_key(key))
        return Expr(f, o, tuple(want), True)

    def leaf_maskread(self, T):
        n = int(np.prod(T, dtype=np.int64))
        if T == ():
            return None
        cands = [v for v in self.views if v.idx.size >= n]
        if not cands:
            return None
        v = self.pick(cands)
        m = self.mask(v.shape, n)
        f, o = self.read_view(v, _lit(m))
        if len(T) != 1:
            f, o = f"{f}.reshape({T!r})", f"{o}.reshape({T!r})"
        return Expr(f, o, T, True)

    def leaf_flat(self, T):
        n = int(np.prod(T, dtype=np.int64))
        if T == ():
            return None
        step = self.pick([1, 2, -1])
        span = n if abs(step) == 1 else 2 * n - 1
        cands = [b for b in self.bufs if b.size >= span]
        if not cands:
            return None
        b = self.pick(cands)
        if step > 0:
            start = self.integer(0, b.size - span)
            stop = start + span
        else:
            start = self.integer(n - 1, b.size - 1)
            stop = start - n
        sl = f"{start}:{stop if stop >= 0 else ''}:{step}"
        f = f"{b.name}.reshape(-1)[{sl}]"
        o = f"{self.ovar(b)}[{sl}]"
        if len(T) != 1:
            f, o = f"{f}.reshape({T!r})", f"{o}.reshape({T!r})"
        return Expr(f, o, T, False, b)

    def leaf_sum(self, T):
        v = self.pick(self.views)
        f, o = self.read_view(v)
        if self.coin():
            return Expr(f"{f}.sum()", f"{o}.sum()", (), True)
        return Expr(f"np.sum({f})", f"np.sum({o})", (), True)

    def leaf_axis_sum(self, T):
        v = self.pick(self.views)
        if v.ndim < 2:
            return None
        axis = self.integer(0, v.ndim - 1)
        shape = v.shape[:axis] + v.shape[axis + 1:]
        if not _suffix(shape, T):
            return None
        f, o = self.read_view(v)
        if self.coin():
            return Expr(f"{f}.sum(axis={axis})", f"{o}.sum(axis={axis})", shape, True)
        return Expr(f"np.sum({f}, axis={axis})", f"np.sum({o}, axis={axis})", shape, True)

    def expr(self, T: tuple, depth: int) -> Expr:
        k = self.integer(0, 5) if depth > 0 else 0
        if k <= 1:
            return self.leaf(T)
        if k == 2:
            fn = self.pick(["np.sin", "np.sin", "np.exp", "np.tanh"])
            a = self.expr(T, depth - 1)
            return Expr(f"{fn}({a.f})", f"{fn}({a.o})", a.shape, True)
        if k == 3:
            c = self.const()
            a = self.expr(T, depth - 1)
            return Expr(f"{c.f} * {a.f}", f"{c.o} * ({a.o})", a.shape, True)
        a, b = self.expr(T, depth - 1), self.expr(T, depth - 1)
        op = self.pick(["+", "-", "*"])
        shape = a.shape if len(a.shape) >= len(b.shape) else b.shape
        return Expr(f"({a.f} {op} {b.f})", f"(({a.o}) {op} ({b.o}))", shape, True)

    # ---- statements ---------------------------------------------------------------------

    def stmt_view(self) -> None:
        src = self.pick(self.views)
        name = self.fresh_name("v")
        I = src.idx
        ops = ["slice", "slice", "slice", "ellipsis", "view", "asarray", "alias", "reshape",
               "ravel"]
        if src.ndim >= 2:
            ops += ["T", "transpose", "transpose_axes", "swapaxes", "np_swapaxes", "diagonal"]
        op = self.pick(ops)
        writable = src.writable
        if op == "slice":
            key = self.basic_key(src.shape, ints=True)
            text = f"{src.name}[{render_key(key)}]"
            J = I[key]
        elif op == "ellipsis":
            text, J = f"{src.name}[...]", I[...]
        elif op == "view":
            text, J = f"{src.name}.view()", I.view()
        elif op == "asarray":
            text, J = f"np.asarray({src.name})", np.asarray(I)
        elif op == "alias":
            text, J = src.name, I
        elif op == "T":
            text, J = f"{src.name}.T", I.T
        elif op == "transpose":
            text, J = f"np.transpose({src.name})", np.transpose(I)
        elif op == "transpose_axes":
            perm = tuple(self.draw(st.permutations(list(range(src.ndim)))))
            text, J = f"{src.name}.transpose({perm!r})", I.transpose(perm)
        elif op in ("swapaxes", "np_swapaxes"):
            a1, a2 = self.integer(0, src.ndim - 1), self.integer(0, src.ndim - 1)
            if op == "swapaxes":
                text = f"{src.name}.swapaxes({a1}, {a2})"
            else:
                text = f"np.swapaxes({src.name}, {a1}, {a2})"
            J = I.swapaxes(a1, a2)
        elif op == "diagonal":
            off = self.integer(0, 1) if min(src.shape[-2:]) > 1 else 0
            if src.ndim == 2 and self.coin():
                text = f"np.diagonal({src.name}, {off})"
            else:
                text = f"{src.name}.diagonal({off}, -2, -1)"
            J = np.diagonal(I, off, -2, -1)
            if J.size == 0:
                return
            writable = False  # read-only view in NumPy
        elif op == "reshape":
            size = I.size
            shapes = [s for s in SHAPES if int(np.prod(s)) == size] + [(size,), (-1,)]
            shp = self.pick(shapes)
            J = I.reshape(shp)
            text = f"{src.name}.reshape({', '.join(str(s) for s in shp)})"
            if not np.shares_memory(J, I):
                writable = False  # NumPy copied: a read, not an alias
        else:  # ravel
            J = I.ravel()
            text = f"{src.name}.ravel()"
            if not np.shares_memory(J, I):
                writable = False
        if op in ("reshape", "ravel") and not np.shares_memory(J, I):
            # a copy: keep it as a temporary value (reads only), never as an alias
            tname = self.fresh_name("t")
            o = f"{self.ovar(src.buf)}[{self.ivar(src)}].reshape({tuple(J.shape)!r})"
            if op == "ravel":
                o = f"{self.ovar(src.buf)}[{self.ivar(src)}].ravel()"
            self.emit(f"{tname} = {text}", f"{tname} = {o}", "copy_reshape")
            self.temps.append((tname, tuple(J.shape)))
            return
        self.emit(f"{name} = {text}", None, "view_" + op)
        self.add_view(name, src.buf, J, writable)

    def stmt_temp(self) -> None:
        base = self.pick(self.views)
        T = self.pick([base.shape, ()])
        e = self.expr(T, self.integer(1, 2))
        if not e.fresh:
            e = Expr(f"np.sin({e.f})", f"np.sin({e.o})", e.shape, True)
        name = self.fresh_name("t")
        self.emit(f"{name} = {e.f}", f"{name} = {e.o}", "temp")
        self.temps.append((name, e.shape))

    def stmt_newbuf(self) -> None:
        v = self.pick(self.views)
        name = self.fresh_name("b")
        if self.coin(1) and v.ndim >= 1:
            m = self.mask(v.shape)
            f, o = self.read_view(v, _lit(m))
            shape = (int(m.sum()),)
            kind = "newbuf_mask"
        else:
            f, o = self.read_view(v)
            shape = v.shape
            kind = "newbuf_copy"
        buf = Buf(name, shape, True)
        self.bufs.append(buf)
        self.emit(f"{name} = {f}.copy()",
                  f"{self.ovar(buf)} = np.array({o}, dtype=np.float64).reshape(-1)", kind)
        self.add_view(name, buf, np.arange(buf.size).reshape(shape), True)

    def _write(self, t: View, idx_o: str, value_o: str) -> str:
        F = self.ovar(t.buf)
        return f"{F} = _w({F}, {idx_o}, {value_o})"

    def stmt_write(self) -> None:
        targets = [v for v in self.views if v.writable]
        if not targets:
            self.stmt_view()
            return
        t = self.pick(targets)
        F, It = self.ovar(t.buf), self.ivar(t)
        depth = self.integer(0, 2)
        form = self.pick(["set", "set", "aug", "inplace", "ufunc_out", "ufunc_out", "fill",
                          "copyto", "copyto_where", "reduce_out", "other", "other"])
        if form == "other":
            self.stmt_other_writer(t, depth)
        elif form == "set":
            key, text, sel = self.write_key(t)
            e = self.expr(sel.shape, depth)
            if isinstance(key, np.ndarray) and key.dtype == bool and e.base is t.buf:
                # boolean-mask assignment does not guard against an overlapping source
                # (the result depends on NumPy's iteration order): copy it, as code must
                e = Expr(f"{e.f}.copy()", e.o, e.shape, True)
            self.emit(f"{t.name}[{text}] = {e.f}", self._write(t, f"{It}[{text}]", e.o),
                      "set")
        elif form == "aug":
            key, text, sel = self.write_key(t)
            e = self.expr(sel.shape, depth)
            op = self.pick(["+", "-", "*"])
            self.emit(f"{t.name}[{text}] {op}= {e.f}",
                      self._write(t, f"{It}[{text}]", f"{F}[{It}[{text}]] {op} ({e.o})"),
                      "aug_set")
        elif form == "inplace":
            e = self.expr(t.shape, depth)
            op = self.pick(["+", "-", "*"])
            self.emit(f"{t.name} {op}= {e.f}",
                      self._write(t, It, f"{F}[{It}] {op} ({e.o})"), "inplace")
        elif form == "ufunc_out":
            if self.coin() and t.ndim >= 1:
                key = self.basic_key(t.shape, ints=True, keep_dims=1)
                out_f, out_i = f"{t.name}[{render_key(key)}]", f"{It}[{render_key(key)}]"
                shape = t.idx[key].shape
            else:
                out_f, out_i, shape = t.name, It, t.shape
            fn = self.pick(["np.add", "np.multiply", "np.subtract", "np.sin", "np.exp"])
            ins = [self.expr(shape, depth)]
            if fn in ("np.add", "np.multiply", "np.subtract"):
                ins.append(self.expr(shape, depth))
            out_kw = f"({out_f},)" if self.coin(1) else out_f
            self.emit(f"{fn}({', '.join(e.f for e in ins)}, out={out_kw})",
                      self._write(t, out_i, f"{fn}({', '.join(e.o for e in ins)})"),
                      "ufunc_out")
        elif form == "fill":
            c = self.const() if self.coin() else self.expr((), depth)
            self.emit(f"{t.name}.fill({c.f})", self._write(t, It, c.o), "fill")
        elif form == "copyto":
            e = self.expr(t.shape, depth)
            self.emit(f"np.copyto({t.name}, {e.f})", self._write(t, It, e.o), "copyto")
        elif form == "copyto_where":
            mshape = t.shape[self.integer(0, t.ndim - 1):] if self.coin(1) else t.shape
            m = _lit(self.mask(mshape, self.integer(0, int(np.prod(mshape)))))
            e = self.expr(t.shape, depth)
            self.emit(f"np.copyto({t.name}, {e.f}, where={m})",
                      self._write(t, It, f"np.where({m}, {e.o}, {F}[{It}])"), "copyto_where")
        else:  # reduce_out: np.sum(w, axis=k, out=t) with w in another buffer
            cands = []
            for w in self.views:
                if w.buf is t.buf:
                    continue
                for axis in range(w.ndim):
                    if w.shape[:axis] + w.shape[axis + 1:] == t.shape:
                        cands.append((w, axis))
            if cands and self.coin(3):
                w, axis = self.pick(cands)
                wf, wo = self.read_view(w)
            else:  # reduce a fresh expression with one more axis
                axis = self.integer(0, t.ndim)
                e = self.expr(t.shape[:axis] + (self.integer(1, 3),) + t.shape[axis:], depth)
                if not e.fresh or len(e.shape) != t.ndim + 1:
                    e = Expr(f"np.sin({e.f})", f"np.sin({e.o})", e.shape, True)
                if len(e.shape) != t.ndim + 1:
                    return
                wf, wo = f"({e.f})", e.o
            if self.coin():
                f = f"np.sum({wf}, axis={axis}, out={t.name})"
            else:
                f = f"{wf}.sum(axis={axis}, out={t.name})"
            self.emit(f, self._write(t, It, f"np.sum({wo}, axis={axis})"), "reduce_out")

    def own_copy(self, e: Expr, t: View) -> Expr:
        """``e``, copied when it aliases ``t``'s buffer (writers without overlap handling)."""
        return Expr(f"{e.f}.copy()", e.o, e.shape, True) if e.base is t.buf else e

    def stmt_other_writer(self, t: View, depth: int) -> None:
        """ufunc.at (repeated indices), put, .flat writes, place, putmask, fill_diagonal,
        in-place sort."""
        F, It = self.ovar(t.buf), self.ivar(t)
        forms = ["at", "at", "put", "flat", "place", "putmask", "sort"]
        if t.ndim == 2:
            forms.append("fill_diagonal")
        form = self.pick(forms)
        flat_o = f"{It}.reshape(-1)"
        if form == "at":
            if t.ndim >= 2 and self.coin():  # coordinates, repeats allowed
                n = self.integer(1, 5)
                key = tuple([self.integer(0, m - 1) for _ in range(n)] for m in t.shape)
            else:
                key = [self.integer(0, t.shape[0] - 1) for _ in range(self.integer(1, 5))]
            text = _lit(key) if isinstance(key, list) else render_key(key)
            if isinstance(key, tuple):
                text = f"({text})"
            e = self.own_copy(self.expr(t.idx[key].shape, depth), t)
            ufunc = self.pick(["add", "add", "subtract", "multiply"])
            self.emit(f"np.{ufunc}.at({t.name}, {text}, {e.f})",
                      f"{F} = _at({F}, {It}[{text}], {e.o}, np.{ufunc})", f"{ufunc}.at")
        elif form == "put":
            cells = self.unique_subset(t.idx.size)
            e = self.own_copy(self.expr((len(cells),), depth), t)
            if self.coin():
                f = f"{t.name}.put({cells!r}, {e.f})"
            else:
                f = f"np.put({t.name}, {cells!r}, {e.f})"
            self.emit(f, self._write(t, f"{flat_o}[{cells!r}]", e.o), "put")
        elif form == "flat":
            k = self.pick(["int", "slice", "list"])
            if k == "int":
                key = self.integer(0, t.idx.size - 1)
            elif k == "slice":
                key = self.rand_slice(t.idx.size)
            else:
                key = self.unique_subset(t.idx.size)
            text = _render_key_item(key)
            e = self.own_copy(self.expr(t.idx.reshape(-1)[key].shape, depth), t)
            self.emit(f"{t.name}.flat[{text}] = {e.f}",
                      self._write(t, f"{flat_o}[{text}]", e.o), "flat_write")
        elif form == "place":
            m = self.mask(t.shape)
            e = self.own_copy(self.expr((self.integer(1, int(m.sum())),), depth), t)
            self.emit(f"np.place({t.name}, {_lit(m)}, {e.f})",
                      self._write(t, f"{It}[{_lit(m)}]",
                                  f"np.resize({e.o}, {int(m.sum())})"), "place")
        elif form == "putmask":
            m = self.mask(t.shape)
            e = self.own_copy(self.expr((self.integer(1, t.idx.size),), depth), t)
            self.emit(f"np.putmask({t.name}, {_lit(m)}, {e.f})",
                      self._write(t, f"{It}[{_lit(m)}]",
                                  f"np.resize({e.o}, {t.idx.size}).reshape({t.shape!r})"
                                  f"[{_lit(m)}]"), "putmask")
        elif form == "fill_diagonal":
            wrap = self.coin(1)
            n, m = t.shape
            end = "" if wrap else str(m * m)
            e = self.own_copy(self.expr((), depth), t)
            kw = ", wrap=True" if wrap else ""
            self.emit(f"np.fill_diagonal({t.name}, {e.f}{kw})",
                      self._write(t, f"{flat_o}[:{end}:{m + 1}]", e.o), "fill_diagonal")
        else:  # in-place sort along the last axis (or the first)
            axis = -1 if t.ndim == 1 or self.coin(3) else 0
            f = f"{t.name}.sort()" if axis == -1 and self.coin() else \
                f"{t.name}.sort(axis={axis})"
            self.emit(f, self._write(t, It, f"np.sort({F}[{It}], axis={axis})"), "sort")

    # ---- whole program ------------------------------------------------------------------

    def program(self) -> Program:
        n_in = self.integer(1, 2)
        mutate_inputs = self.coin(1)
        in_shapes = [self.pick(INPUT_SHAPES) for _ in range(n_in)]
        rng = np.random.default_rng(self.integer(0, 2**32 - 1))
        xs = [rng.uniform(-1.0, 1.0, size=shp) for shp in in_shapes]
        names = [f"x{i}" for i in range(n_in)]
        for nm, shp in zip(names, in_shapes, strict=True):
            buf = Buf(nm, shp, mutate_inputs)
            self.bufs.append(buf)
            self.o.append(f"{self.ovar(buf)} = np.array({nm}, dtype=np.float64).reshape(-1)")
            self.add_view(nm, buf, np.arange(buf.size).reshape(shp), True)
        # buffers
        for _ in range(self.integer(1, 3)):
            name = self.fresh_name("b")
            how = self.pick(["copy", "copy", "array", "reshape_copy", "zeros", "ones"]
                            + (["alias", "alias_reshape"] if mutate_inputs else []))
            if how.startswith("alias"):
                x = self.pick([v for v in self.views if v.name in names])
                if how == "alias":
                    self.emit(f"{name} = {x.name}", None, "alias_input")
                    self.add_view(name, x.buf, x.idx, True)
                else:
                    shapes = [s for s in SHAPES if int(np.prod(s)) == x.idx.size]
                    shp = self.pick(shapes + [(x.idx.size,)])
                    self.emit(f"{name} = {x.name}.reshape{shp!r}", None, "alias_input")
                    self.add_view(name, x.buf, x.idx.reshape(shp), True)
                continue
            if how in ("zeros", "ones"):
                shp = self.pick(SHAPES)
                buf = Buf(name, shp, True)
                self.emit(f"{name} = np.{how}({shp!r})",
                          f"{self.ovar(buf)} = np.{how}({buf.size})", how)
            else:
                x = self.pick([v for v in self.views if v.name in names])
                shp = x.shape
                if how == "copy":
                    f = f"{x.name}.copy()"
                elif how == "array":
                    f = f"np.array({x.name})"
                else:
                    shp = self.pick([s for s in SHAPES if int(np.prod(s)) == x.idx.size]
                                    + [(x.idx.size,)])
                    f = f"{x.name}.reshape{shp!r}.copy()"
                buf = Buf(name, shp, True)
                self.emit(f"{name} = {f}",
                          f"{self.ovar(buf)} = np.array({self.ovar(x.buf)}, copy=True)", how)
            self.bufs.append(buf)
            self.add_view(name, buf, np.arange(buf.size).reshape(buf.shape), True)
        # body
        for _ in range(self.integer(3, 12)):
            k = self.integer(0, 15)
            if k < 4:
                self.stmt_view()
            elif k < 13:
                self.stmt_write()
            elif k < 15:
                self.stmt_temp()
            else:
                self.stmt_newbuf()
        # loss: weighted sums of the final buffers, plus reads through views and temps
        terms_f, terms_o = [], []
        for b in self.bufs:
            if not b.writable:
                continue  # an input the program does not mutate (it is read elsewhere)
            w = np.array([self.pick(WEIGHTS) for _ in range(b.size)]).reshape(b.shape)
            terms_f.append(f"np.sum({_lit(w)} * {b.name})")
            terms_o.append(f"np.sum({_lit(w)} * {self.ovar(b)}.reshape({b.shape!r}))")
        for _ in range(self.integer(0, 2)):
            v = self.pick(self.views)
            f, o = self.read_view(v)
            terms_f.append(f"np.sum(np.sin({f}))")
            terms_o.append(f"np.sum(np.sin({o}))")
        for t, _ in self.temps:
            if self.coin():
                terms_f.append(f"0.5 * np.sum({t})")
                terms_o.append(f"0.5 * np.sum({t})")
        sig = ", ".join(names)
        src = ["import numpy as np", "", "", f"def f({sig}):"]
        src += ["    " + line for line in self.f]
        src.append("    return " + " + ".join(terms_f))
        orc = ["import numpy as np", "", "",
               "def _I(vals, shape):",
               "    return np.array(vals, dtype=np.intp).reshape(shape)",
               "", "",
               "def _w(F, idx, value):",
               "    G = F.copy()",
               "    G[idx] = np.broadcast_to(value, np.shape(idx))",
               "    return G",
               "", "",
               "def _at(F, idx, value, op):  # unbuffered: repeated positions apply again",
               "    G = F.copy()",
               "    vals = np.broadcast_to(value, np.shape(idx)).reshape(-1).tolist()",
               "    for i, v in zip(np.reshape(idx, -1).tolist(), vals):",
               "        G[i] = op(G[i], v)",
               "    return G",
               "", "", f"def g({sig}):"]
        orc += ["    " + line for line in self.o]
        orc.append("    return " + " + ".join(terms_o))
        if n_in == 1:
            argnums = self.pick([0, (0,)])
        else:
            argnums = self.pick([(0, 1), 0, 1, (1, 0)])
        return Program("\n".join(src) + "\n", "\n".join(orc) + "\n", tuple(xs), argnums,
                       list(self.kinds))


@st.composite
def mutation_programs(draw):
    return Builder(draw).program()


# ----------------------------------------------------------------------------------------
# running
# ----------------------------------------------------------------------------------------

_module_counter = itertools.count()


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("framead_mutation_fuzz")


@pytest.fixture(scope="module", autouse=True)
def _report_program_count(request):
    """Print how many programs the fuzzer ran, in the terminal summary at session end."""

    class _Report:
        def pytest_terminal_summary(self, terminalreporter):
            terminalreporter.write_sep("-", "framead mutation fuzzer")
            terminalreporter.write_line(
                f"engine {ENGINE_NAME}: {STATS['generated']} programs generated, "
                f"{STATS['checked']} checked against framead, "
                f"{STATS['discarded']} discarded (values too large or finite differences "
                f"unreliable), {len(FAILED)} failed")
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(STATS.items())
                              if k.startswith("stmt:"))
            if kinds:
                terminalreporter.write_line(f"statements in checked programs: {kinds}")

    plugin = _Report()
    pm = request.config.pluginmanager
    if not pm.has_plugin("framead-mutation-fuzz-report"):
        pm.register(plugin, "framead-mutation-fuzz-report")
    yield
    print(f"\nframead mutation fuzzer: {STATS['checked']} programs checked")


def _load(source: str, directory, fname: str):
    # named by content: a replayed example raises from the same file:line (hypothesis
    # compares failure origins), and each module object is fresh
    digest = hashlib.sha1(source.encode()).hexdigest()[:20]
    path = os.path.join(str(directory), f"framead_mutfuzz_{digest}.py")
    if not os.path.exists(path):
        with open(path, "w") as fh:
            fh.write(source)
    name = f"framead_mutfuzz_{digest}_{next(_module_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, fname)


def _nums(argnums) -> tuple:
    return argnums if isinstance(argnums, tuple) else (argnums,)


def _reliable(refs, rtol, atol) -> bool:
    return all(np.all(err <= 0.2 * (rtol * np.abs(r) + atol)) for r, err in refs)


class Discard(Exception):
    """The drawn point says nothing (values too large, finite differences unreliable)."""


def check_program(prog: Program, directory) -> None:
    """Run one program through the three checks (see the module docstring)."""
    f = _load(prog.source, directory, "f")
    g = _load(prog.oracle, directory, "g")
    args, argnums = prog.args, prog.argnums

    # 1. the oracle is the same program (natively, at the drawn point)
    with np.errstate(over="ignore", invalid="ignore"):
        y = f(*fresh(args))
        yo = g(*fresh(args))
    if not (np.isfinite(y) and abs(y) < 1e4):
        raise Discard
    assert np.shape(y) == ()
    assert math.isclose(float(y), float(yo), rel_tol=1e-11, abs_tol=1e-11), (
        f"generator bug: the oracle gives {yo!r}, the program {y!r}")

    # 2. both references agree
    ref_f = fd_grad(f, args, argnums, with_error=True)
    ref_o = fd_grad(g, args, argnums, with_error=True)
    ref_f = ref_f if isinstance(argnums, tuple) else (ref_f,)
    ref_o = ref_o if isinstance(argnums, tuple) else (ref_o,)
    scale = max([1.0, abs(float(y))] + [float(np.max(np.abs(r))) for r, _ in ref_f])
    atol = RTOL * 1e-3 * scale
    if not (_reliable(ref_f, RTOL, atol) and _reliable(ref_o, RTOL, atol)):
        raise Discard
    for (rf, _), (ro, _) in zip(ref_f, ref_o, strict=True):
        assert np.allclose(rf, ro, rtol=RTOL, atol=atol), "generator bug: oracle gradient"

    # 3. framead: value bit for bit, gradient against both references, caller data intact
    STATS["checked"] += 1
    for k in set(prog.stmts):
        STATS["stmt:" + k] += 1
    before = snapshot(args)
    try:
        with warnings.catch_warnings():  # a zero gradient is a legitimate outcome here
            warnings.filterwarnings("ignore", message=r"the output of .* does not depend")
            value, grads = get_engine().value_and_grad(f, argnums=argnums)(*args)
        assert_args_unchanged(before, args, "value_and_grad")
        assert repr(float(value)) == repr(float(y)), (
            f"value_and_grad value {value!r} differs from the native result {y!r}")
        gs = grads if isinstance(argnums, tuple) else (grads,)
        assert len(gs) == len(_nums(argnums))
        for i, gi, (rf, ef), (ro, eo) in zip(_nums(argnums), gs, ref_f, ref_o, strict=True):
            assert isinstance(gi, np.ndarray) and gi.shape == args[i].shape
            assert_close(gi, rf, ef, RTOL, atol, f"d/dx{i} vs central differences of f")
            assert_close(gi, ro, eo, RTOL, atol, f"d/dx{i} vs the functional oracle")
    except Exception as e:
        FAILED.add(prog.source)
        small = _minimize(prog, directory, _failure(prog.source, args, argnums, directory))
        raise AssertionError(
            f"{type(e).__name__}: {e}\n\nsmallest failing program found by deleting "
            f"statements (args={args!r}, argnums={argnums!r}):\n{small}") from e


def _failure(source: str, args, argnums, directory) -> str | None:
    """How framead fails on ``source`` (exception type or "gradient"), or None when the
    program is invalid here or framead gets it right."""
    try:
        f = _load(source, directory, "f")
        with np.errstate(all="ignore"):
            y = f(*fresh(args))
        if not (np.isfinite(y) and abs(y) < 1e4):
            return None
        refs = fd_grad(f, args, argnums, with_error=True)
    except Exception:
        return None
    refs = refs if isinstance(argnums, tuple) else (refs,)
    scale = max([1.0, abs(float(y))] + [float(np.max(np.abs(r))) for r, _ in refs])
    atol = RTOL * 1e-3 * scale
    if not _reliable(refs, RTOL, atol):
        return None
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"the output of .* does not depend")
            grads = get_engine().value_and_grad(f, argnums=argnums)(*args)[1]
    except Exception as e:
        return type(e).__name__
    gs = grads if isinstance(argnums, tuple) else (grads,)
    for gi, (r, _) in zip(gs, refs, strict=True):
        if not np.allclose(gi, r, rtol=RTOL, atol=atol):
            return "gradient"
    return None


def _minimize(prog: Program, directory, how: str | None) -> str:
    """Delete body statements of ``f`` while framead still fails the same way."""
    lines = prog.source.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("def f("))
    body, tail = lines[head + 1:-1], lines[-1:]
    if how is None:
        return prog.source
    deadline = time.monotonic() + MINIMIZE_SECONDS
    changed = True
    while changed and time.monotonic() < deadline:
        changed = False
        for i in range(len(body) - 1, -1, -1):
            if time.monotonic() > deadline:
                break
            trial = body[:i] + body[i + 1:]
            src = "\n".join(lines[:head + 1] + trial + tail) + "\n"
            if _failure(src, prog.args, prog.argnums, directory) == how:
                body, changed = trial, True
    return "\n".join(lines[:head + 1] + body + tail) + "\n"


@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          report_multiple_bugs=False,
          phases=[Phase.explicit, Phase.generate] + ([Phase.shrink] if SHRINK else []),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(mutation_programs())
def test_mutation_fuzz(fuzz_dir, prog):
    STATS["generated"] += 1
    note(prog.source)
    note(prog.oracle)
    note(f"args={prog.args!r}\nargnums={prog.argnums!r}")
    try:
        check_program(prog, fuzz_dir)
    except Discard:
        STATS["discarded"] += 1
        assume(False)


def test_generator_covers_every_form():
    """The strategy reaches every view and write form (checked on a fixed sample)."""
    seen: set = set()

    @settings(max_examples=600, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(mutation_programs())
    def collect(prog):
        seen.update(prog.stmts)

    collect()
    wanted = {"set", "aug_set", "inplace", "ufunc_out", "fill", "copyto", "copyto_where",
              "reduce_out", "add.at", "subtract.at", "multiply.at", "put", "flat_write",
              "place", "putmask", "fill_diagonal", "sort", "view_slice", "view_T",
              "view_transpose", "view_swapaxes",
              "view_reshape", "view_ravel", "view_ellipsis", "view_diagonal", "alias_input",
              "newbuf_mask", "temp"}
    assert wanted <= seen, f"never generated: {sorted(wanted - seen)}"
