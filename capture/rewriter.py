"""Bytecode rewriter: inserts probe calls into one code object (docs/internals.md, section 2).

This module is the version-independent driver. It decodes ``co_code`` into instructions,
asks the per-version table (``opcodes311.REWRITES``) for the replacement of each instruction,
re-assembles ``co_code`` (jump offsets and ``EXTENDED_ARG`` prefixes recomputed), and
re-encodes the location table and the exception table so that every original instruction
keeps its exact source position, every protected range keeps its handler, handler stack
depth and ``lasti`` flag, and everything else about the code object stays as it was:
``co_varnames``/``co_cellvars``/``co_freevars`` (so the locals layout is unchanged),
``co_names``, argument counts, flags, names, file and first line. The original constants keep
their indices; probes, marker tuples and attribute names are appended to ``co_consts`` as the
very same objects (identity is what the C call probe tests). Nested code objects in
``co_consts`` are left alone: each is instrumented when its own frame runs.

The result is checked before it is returned: it is decoded again and compared, instruction
by instruction, with what was meant (opcodes, arguments, jump targets, source positions,
exception table), and its layout is compared with the original.

API:

``instrument(code, probes) -> CodeType | None``
    The instrumented copy; ``code`` itself when nothing in it needs a probe; ``None`` when
    the rewriter refuses (see ``refuse_reason``). Never raises for a code object it cannot
    handle (an internal error is a refusal too), only for a malformed ``probes`` object.
``rewrite(code, probes) -> CodeType``
    The same, but raises ``RewriteError`` (with ``.reason``) instead of returning ``None``.
``refuse_reason(code, probes=None) -> str | None``
    Why ``instrument`` would refuse ``code`` (``None``: it would not).
``origin(code) -> (original, fwd, inv) | None``
    For an instrumented code object: the code it was made from and its offset maps (below).

Origin record. The last constant of an instrumented code object is the tuple
``(ORIGIN_MARKER, weakref to the original code, offset_map)``: the C frame views
(capture/frameview311.h) read it to show Python code the original code object and original
offsets wherever a frame, generator or traceback exposes them (``f_code``, ``gi_code``,
``f_lasti``, ``tb_lasti``) and to check ``f_lineno`` jumps against the original code. The
reference is weak (its hash computed, so the instrumented code stays hashable): the original
keeps its copy alive through the hook's cache, never the reverse, so code of exec'd functions
is freed with them. ``offset_map`` is native-endian
uint32: ``fwd`` (one entry per code unit of the new code: the original code unit it stands
for) followed by ``inv`` (one per unit of the original: a new unit standing for it, or
``NO_UNIT``). ``START`` is or-ed into ``fwd`` at the first unit of each original
instruction's replacement (where a line event fires and a jump may start or land) and into
``inv`` at each original instruction start. Every unit of a replacement stands for the
original instruction's op unit, except its first unit (the original's first unit, an
``EXTENDED_ARG`` prefix where it has one) and the units of an instruction kept as it is
(unit for unit: prefixes, op, inline caches).
"""

from __future__ import annotations

import importlib
import sys
import weakref
from array import array
from bisect import bisect_left
from itertools import accumulate
from types import CodeType

__all__ = ["RewriteError", "instrument", "rewrite", "refuse_reason", "opcode_table", "origin",
           "ORIGIN_MARKER"]

#: first item of the origin record (capture/frameview311.h compares it by identity: both are
#: the interned string)
ORIGIN_MARKER = sys.intern("__framead_origin__")
#: offset-map flags (see the module docstring)
START = 0x80000000
NO_UNIT = 0xFFFFFFFF
assert array("I").itemsize == 4


class RewriteError(Exception):
    """The rewriter cannot (or will not) instrument a code object; ``.reason`` says why."""

    def __init__(self, reason: str, code: CodeType | None = None):
        self.reason = reason
        self.code = code
        where = ""
        if code is not None:
            where = f" ({code.co_qualname} at {code.co_filename}:{code.co_firstlineno})"
        super().__init__(reason + where)


def _load_table():
    try:
        return importlib.import_module(
            f"{__package__}.opcodes{sys.version_info[0]}{sys.version_info[1]}"
        )
    except ModuleNotFoundError:
        return None


# imported now, not on the first rewrite: rewriting runs inside the frame-evaluation hook,
# where an import would run (and take the import lock) in the middle of someone's frame
_TABLE = _load_table()


def opcode_table():
    """The opcode module for the running Python (``opcodes311`` on 3.11), or None."""
    return _TABLE


# ---------------------------------------------------------------------------------------
# plan: what one probes object means for the rewrite (cached per probes object)


class _Plan:
    __slots__ = ("probes", "table", "rewrites", "probe_ids", "attr_names", "keep")

    def __init__(self, probes, table):
        table.check_probes(probes)
        self.probes = probes
        self.table = table
        self.rewrites = {table.OP[name]: fn for name, fn in table.REWRITES.items()}
        objs = table.probe_objects(probes)
        self.keep = objs  # keeps the ids below valid
        self.probe_ids = frozenset(map(id, objs))
        self.attr_names = probes.ATTR_NAMES


_plan_cache: list = [None, None]  # [probes, plan]


def _plan(probes) -> _Plan:
    table = opcode_table()
    if table is None:
        v = sys.version_info
        raise RewriteError(f"no opcode table for Python {v[0]}.{v[1]}")
    probes_, plan = _plan_cache
    if probes_ is probes and plan.attr_names is probes.ATTR_NAMES and plan.table is table:
        return plan
    plan = _Plan(probes, table)
    _plan_cache[:] = [probes, plan]
    return plan


class _Ctx:
    """What a rewrite function sees: ``const(obj)``, ``probes``, ``names``, ``attr_names``."""

    __slots__ = ("probes", "names", "attr_names", "consts", "_index")

    def __init__(self, probes, names, attr_names, consts):
        self.probes = probes
        self.names = names
        self.attr_names = attr_names
        self.consts = consts
        self._index: dict = {}

    def const(self, obj) -> int:
        """Index of ``obj`` (this very object) in the new co_consts."""
        i = self._index.get(id(obj))
        if i is None:
            i = self._index[id(obj)] = len(self.consts)
            self.consts.append(obj)
        return i


# ---------------------------------------------------------------------------------------
# decoding


def _decode(code: CodeType, T):
    """-> ops, args, starts (unit of the first EXTENDED_ARG or of the op), opunits,
    positions (of the op unit), jump targets (instruction index or -1), nunits."""
    co = code.co_code
    nunits = len(co) >> 1
    caches = T.CACHES
    EXT = T.EXTENDED_ARG
    known = T.KNOWN
    have_arg = T.HAVE_ARGUMENT
    ops: list[int] = []
    args: list[int] = []
    starts: list[int] = []
    opunits: list[int] = []
    u = 0
    ext = 0
    start = 0
    zeros = _ZEROS
    while u < nunits:
        b = u << 1
        op = co[b]
        if op == EXT:
            ext = (ext | co[b + 1]) << 8
            u += 1
            continue
        if op not in known:
            raise RewriteError(f"unknown opcode {op} at offset {b}", code)
        if ext and op < have_arg:
            raise RewriteError(f"EXTENDED_ARG before {T.OPNAME[op]} at offset {b}", code)
        ops.append(op)
        args.append(co[b + 1] | ext)
        starts.append(start)
        opunits.append(u)
        c = caches[op]
        if c:
            if co[b + 2 : b + 2 + 2 * c] != zeros[c]:
                raise RewriteError(f"malformed inline cache after offset {b}", code)
        u += 1 + c
        start = u
        ext = 0
    if start != nunits or u != nunits:
        raise RewriteError("code ends inside an instruction", code)

    pos_all = list(code.co_positions())
    positions = [pos_all[u] for u in opunits]

    jumps = [-1] * len(ops)
    fwd = T.JUMPS_FORWARD
    bwd = T.JUMPS_BACKWARD
    with_caches = T.JUMP_BASE_INCLUDES_CACHES
    n = len(ops)
    for i, op in enumerate(ops):
        if op in fwd or op in bwd:
            base = opunits[i] + 1 + (caches[op] if with_caches else 0)
            t = base + args[i] if op in fwd else base - args[i]
            k = bisect_left(starts, t)
            if k == n or starts[k] != t:
                raise RewriteError(
                    f"jump at offset {2 * opunits[i]} to {2 * t}, not an instruction start", code
                )
            jumps[i] = k
    return ops, args, starts, opunits, positions, jumps, nunits


def _parse_exception_table(table: bytes) -> list[tuple[int, int, int, int, int]]:
    """-> [(start, end, target, depth, lasti)] in code units, end exclusive."""
    out = []
    it = iter(table)

    def varint(b):
        val = b & 63
        while b & 64:
            val <<= 6
            b = next(it)
            val |= b & 63
        return val

    for first in it:
        if not first & 128:
            raise ValueError("exception table entry without start bit")
        start = varint(first & 127)
        length = varint(next(it))
        target = varint(next(it))
        dl = varint(next(it))
        out.append((start, start + length, target, dl >> 1, dl & 1))
    return out


def _units_to_index(unit: int, starts: list[int], nunits: int, code, what: str) -> int:
    if unit == nunits:
        return len(starts)
    k = bisect_left(starts, unit)
    if k == len(starts) or starts[k] != unit:
        raise RewriteError(f"exception table {what} {2 * unit} is not an instruction start", code)
    return k


# ---------------------------------------------------------------------------------------
# encoding

_ZEROS = [bytes(2 * c) for c in range(64)]


def _nprefix(arg: int) -> int:
    if arg < 0x100:
        return 0
    if arg < 0x10000:
        return 1
    if arg < 0x1000000:
        return 2
    return 3


def _exc_item(out: bytearray, value: int, msb: int) -> None:
    if value >= 1 << 24:
        out.append((value >> 24) | 64 | msb)
        msb = 0
    if value >= 1 << 18:
        out.append(((value >> 18) & 63) | 64 | msb)
        msb = 0
    if value >= 1 << 12:
        out.append(((value >> 12) & 63) | 64 | msb)
        msb = 0
    if value >= 1 << 6:
        out.append(((value >> 6) & 63) | 64 | msb)
        msb = 0
    out.append((value & 63) | msb)


def _encode_exception_table(entries) -> bytes:
    out = bytearray()
    for start, end, target, depth, lasti in entries:
        _exc_item(out, start, 128)
        _exc_item(out, end - start, 0)
        _exc_item(out, target, 0)
        _exc_item(out, (depth << 1) | lasti, 0)
    return bytes(out)


def _varint(out: bytearray, val: int) -> None:
    while val >= 64:
        out.append(64 | (val & 63))
        val >>= 6
    out.append(val)


def _svarint(out: bytearray, val: int) -> None:
    _varint(out, ((-val) << 1) | 1 if val < 0 else val << 1)


def _encode_locations(runs, firstlineno: int) -> bytes:
    """PEP 626/657 location table (Objects/locations.md), written the way compile.c does."""
    out = bytearray()
    line = firstlineno
    for pos, n in runs:
        lineno, end_lineno, col, end_col = pos
        while n > 0:
            k = 8 if n > 8 else n
            n -= k
            if lineno is None:
                out.append(0x80 | (15 << 3) | (k - 1))
                continue
            delta = lineno - line
            c = -1 if col is None else col
            ec = -1 if end_col is None else end_col
            el = lineno if end_lineno is None else end_lineno
            if c < 0 or ec < 0:
                if el == lineno:
                    out.append(0x80 | (13 << 3) | (k - 1))
                    _svarint(out, delta)
                    line = lineno
                    continue
            elif el == lineno:
                if delta == 0 and c < 80 and 0 <= ec - c < 16:
                    out.append(0x80 | ((c >> 3) << 3) | (k - 1))
                    out.append(((c & 7) << 4) | (ec - c))
                    continue
                if 0 <= delta < 3 and c < 128 and ec < 128:
                    out.append(0x80 | ((10 + delta) << 3) | (k - 1))
                    out.append(c)
                    out.append(ec)
                    line = lineno
                    continue
            out.append(0x80 | (14 << 3) | (k - 1))
            _svarint(out, delta)
            _varint(out, el - lineno)
            _varint(out, c + 1)
            _varint(out, ec + 1)
            line = lineno
    return bytes(out)


# ---------------------------------------------------------------------------------------
# the rewrite


def rewrite(code: CodeType, probes, *, verify: bool = True) -> CodeType:
    """Instrumented copy of ``code`` (``code`` itself if nothing needs a probe).

    Raises ``RewriteError`` when the code object cannot be instrumented.
    """
    if type(code) is not CodeType:
        raise TypeError(f"expected a code object, got {type(code).__name__}")
    plan = _plan(probes)
    T = plan.table
    consts = code.co_consts
    pid = plan.probe_ids
    for c in consts:
        if id(c) in pid:
            raise RewriteError("already instrumented (probe objects in co_consts)", code)
    if _record(code) is not None:
        raise RewriteError("already instrumented (origin record in co_consts)", code)

    ops, args, starts, opunits, positions, jumps, nunits = _decode(code, T)
    try:
        exc = _parse_exception_table(code.co_exceptiontable)
    except (ValueError, StopIteration):
        raise RewriteError("malformed exception table", code) from None
    exc_idx = [
        (
            _units_to_index(s, starts, nunits, code, "start"),
            _units_to_index(e, starts, nunits, code, "end"),
            _units_to_index(t, starts, nunits, code, "target"),
            d,
            lasti,
        )
        for s, e, t, d, lasti in exc
    ]

    names = code.co_names
    attr = plan.attr_names
    attr_idx = frozenset(i for i, nm in enumerate(names) if nm in attr) if attr else frozenset()
    ctx = _Ctx(probes, names, attr_idx, list(consts))

    # -- rewrite: new instruction stream; group[i] = index of original i's first new instr
    rewrites = plan.rewrites
    n = len(ops)
    nops: list[int] = []
    nargs: list[int] = []
    npos: list = []
    njump: list[int] = []
    group = [0] * (n + 1)
    kept = [True] * n
    extra = 0
    changed = False
    for i in range(n):
        op = ops[i]
        group[i] = len(nops)
        fn = rewrites.get(op)
        if fn is not None:
            r = fn(ctx, args[i])
            if r is not None:
                seq, x = r
                changed = True
                kept[i] = False
                if x > extra:
                    extra = x
                p = positions[i]
                for o, a in seq:
                    nops.append(o)
                    nargs.append(a)
                    npos.append(p)
                    njump.append(-1)
                continue
        nops.append(op)
        nargs.append(args[i])
        npos.append(positions[i])
        njump.append(jumps[i])
    m = len(nops)
    group[n] = m
    if not changed:
        return code

    # -- assemble: sizes, then jump arguments until the EXTENDED_ARG prefixes are stable
    caches = T.CACHES
    fwd = T.JUMPS_FORWARD
    with_caches = T.JUMP_BASE_INCLUDES_CACHES
    base = [1 + caches[o] for o in nops]
    pre = [0 if a < 0x100 else _nprefix(a) for a in nargs]
    jl = [k for k in range(m) if njump[k] >= 0]
    jt = [group[njump[k]] for k in jl]
    for k in jl:
        pre[k] = 0
    for _ in range(64):
        sizes = list(map(int.__add__, pre, base))
        off = [0, *accumulate(sizes)]
        grew = False
        for k, t in zip(jl, jt, strict=True):
            o = nops[k]
            b = off[k] + pre[k] + 1 + (caches[o] if with_caches else 0)
            a = off[t] - b if o in fwd else b - off[t]
            if a < 0:
                raise RewriteError("jump direction changed during reassembly", code)
            need = _nprefix(a)
            if need > pre[k]:
                pre[k] = need
                grew = True
            nargs[k] = a
        if not grew:
            break
    else:  # pragma: no cover - cannot happen: prefixes only grow, at most 3 each
        raise RewriteError("jump offsets did not converge", code)

    EXT = T.EXTENDED_ARG
    parts = []
    append = parts.append
    zeros = _ZEROS
    for k in range(m):
        a = nargs[k]
        p = pre[k]
        while p:
            append(bytes((EXT, (a >> (8 * p)) & 0xFF)))
            p -= 1
        o = nops[k]
        append(bytes((o, a & 0xFF)))
        c = caches[o]
        if c:
            append(zeros[c])
    co_code = b"".join(parts)

    # -- location table: one run per stretch of equal positions
    runs = []
    last = None
    for p, s in zip(npos, sizes, strict=True):
        if p == last:
            runs[-1][1] += s
        else:
            runs.append([p, s])
            last = p
    linetable = _encode_locations(runs, code.co_firstlineno)

    new_exc = [
        (off[group[s]], off[group[e]], off[group[t]], d, lasti) for s, e, t, d, lasti in exc_idx
    ]
    offset_map = _offset_map(starts, opunits, nunits, group, kept, off, pre)
    try:
        new = code.replace(
            co_code=co_code,
            co_consts=(*ctx.consts, (ORIGIN_MARKER, _weak(code), offset_map)),
            co_linetable=linetable,
            co_exceptiontable=_encode_exception_table(new_exc),
            co_stacksize=code.co_stacksize + extra,
        )
    except (ValueError, TypeError, SystemError, OverflowError) as e:
        raise RewriteError(f"self-check failed: code object rejected: {e}", code) from None

    if verify:
        _verify(code, new, T, nops, nargs, npos, [group[j] if j >= 0 else -1 for j in njump],
                [(group[s], group[e], group[t], d, lasti) for s, e, t, d, lasti in exc_idx],
                len(consts), code.co_stacksize + extra, starts, [off[group[i]] for i in range(n)])
    return new


def _offset_map(starts, opunits, nunits, group, kept, off, pre) -> bytes:
    """The origin record's offset map (module docstring): fwd for the new code, then inv."""
    fwd = [0] * off[-1]
    inv = [NO_UNIT] * nunits
    for i, s in enumerate(starts):
        u = opunits[i]
        g = group[i]
        a, b = off[g], off[group[i + 1]]
        p = pre[g]
        if kept[i] and p >= u - s:  # unit for unit: prefixes (aligned on the op), op, caches
            if p:
                fwd[a : a + p] = [max(s, u - p + j) for j in range(p)]
            fwd[a + p : b] = range(u, u + b - a - p)
            inv[s + 1 : u + b - a - p] = range(a + p + s + 1 - u, b)
        else:
            fwd[a:b] = [u] * (b - a)
            if u != s and b - a > 1:
                inv[u] = a + 1
        fwd[a] = s | START
        inv[s] = a | START
    return array("I", fwd).tobytes() + array("I", inv).tobytes()


def _weak(code: CodeType) -> weakref.ref:
    ref = weakref.ref(code)
    hash(ref)  # kept by the reference: hashing the instrumented code works once code is gone
    return ref


def _record(code: CodeType) -> tuple | None:
    consts = code.co_consts
    rec = consts[-1] if consts else None
    if type(rec) is not tuple or len(rec) != 3 or rec[0] is not ORIGIN_MARKER:
        return None
    return rec


def is_instrumented(code: CodeType) -> bool:
    """Whether ``code`` is an instrumented copy (it carries an origin record)."""
    return _record(code) is not None


def origin(code: CodeType) -> tuple[CodeType | None, array, array] | None:
    """``(original code, fwd, inv)`` of an instrumented code object (None for any other):
    the origin record the rewriter appends to ``co_consts`` (module docstring). The original
    is None once it has been freed."""
    rec = _record(code)
    if rec is None:
        return None
    m = array("I", rec[2])
    n = len(code.co_code) >> 1
    return rec[1](), m[:n], m[n:]


_LAYOUT = (
    "co_argcount", "co_posonlyargcount", "co_kwonlyargcount", "co_nlocals", "co_flags",
    "co_varnames", "co_cellvars", "co_freevars", "co_names", "co_name", "co_qualname",
    "co_filename", "co_firstlineno",
)


def _verify(code, new, T, nops, nargs, npos, njump, nexc, nconsts, stacksize, starts_orig,
            group_starts) -> None:
    """Decode ``new`` again and compare it with what was meant; RewriteError if it differs."""

    def fail(what):
        raise RewriteError(f"self-check failed: {what}", code)

    for a in _LAYOUT:
        if getattr(code, a) != getattr(new, a):
            fail(a)
    nlocalsplus = len(code.co_varnames) + len(code.co_freevars) + len(
        [c for c in code.co_cellvars if c not in code.co_varnames]
    )
    vfo = getattr(code, "_varname_from_oparg", None)
    if vfo is not None:
        for i in range(nlocalsplus):
            if vfo(i) != new._varname_from_oparg(i):
                fail("locals layout")
    if new.co_stacksize != stacksize:
        fail("co_stacksize")
    oc, ncs = code.co_consts, new.co_consts
    if len(ncs) < nconsts or any(a is not b for a, b in zip(oc, ncs, strict=False)):
        fail("original constants moved")
    ops, args, starts, _, positions, jumps, nunits = _decode(new, T)
    if ops != nops:
        fail("opcodes")
    if positions != npos:
        fail("source positions")
    if jumps != njump:
        fail("jump targets")
    if [a for a, j in zip(args, jumps, strict=True) if j < 0] != [
        a for a, j in zip(nargs, njump, strict=True) if j < 0
    ]:
        fail("arguments")
    exc = [
        (
            _units_to_index(s, starts, nunits, code, "start"),
            _units_to_index(e, starts, nunits, code, "end"),
            _units_to_index(t, starts, nunits, code, "target"),
            d,
            lasti,
        )
        for s, e, t, d, lasti in _parse_exception_table(new.co_exceptiontable)
    ]
    if exc != nexc:
        fail("exception table")
    rec = origin(new)
    if rec is None or rec[0] is not code or len(rec[1]) != nunits or any(
        rec[1][u] != s | START for s, u in zip(starts_orig, group_starts, strict=True)
    ):
        fail("origin record")


def instrument(code: CodeType, probes, *, verify: bool = True) -> CodeType | None:
    """Instrumented copy of ``code``; ``code`` itself if nothing in it needs a probe; ``None``
    if the rewriter refuses it (``refuse_reason`` says why). Raises only for a malformed
    ``probes`` object (TypeError) or a non-code argument."""
    if type(code) is not CodeType:
        raise TypeError(f"expected a code object, got {type(code).__name__}")
    if opcode_table() is not None:
        _plan(probes)  # a malformed probes object raises TypeError here, not a refusal
    try:
        return rewrite(code, probes, verify=verify)
    except RewriteError:
        return None
    except (KeyboardInterrupt, MemoryError, RecursionError):
        raise
    except Exception:  # an internal bug must not break the user's program: refuse
        return None


class _DummyProbes:
    """Stand-in probes for ``refuse_reason(code)`` without a probes object."""

    def __init__(self):
        mk = lambda n: type(n, (), {"__repr__": lambda self: f"<probe {n}>"})()  # noqa: E731
        self.BINOP = tuple(mk(f"binop{i}") for i in range(26))
        self.COMPARE = tuple(mk(f"compare{i}") for i in range(6))
        for n in ("unary_negative", "unary_positive", "unary_invert", "getitem", "setitem",
                  "getattr", "getiter", "unpack", "call"):
            setattr(self, n, mk(n))
        self.STAR_KWNAMES1 = ("__framead_star__",)
        self.STAR_KWNAMES2 = ("__framead_star__", "__framead_dstar__")
        self.ATTR_NAMES = frozenset({"T", "mT", "real", "imag", "flat"})


_dummy = None


def refuse_reason(code: CodeType, probes=None) -> str | None:
    """Why ``instrument(code, probes)`` returns None; None if it does not."""
    global _dummy
    if probes is None:
        if _dummy is None:
            _dummy = _DummyProbes()
        probes = _dummy
    try:
        rewrite(code, probes)
    except RewriteError as e:
        return e.reason
    except (KeyboardInterrupt, MemoryError, RecursionError):
        raise
    except Exception as e:
        return f"internal error: {type(e).__name__}: {e}"
    return None
