"""Bytecode rewriter: inserts probe calls into one code object (docs/internals.md, section 2).

This module is the version-independent driver. It decodes ``co_code`` into instructions,
asks the running Python's opcode table (``opcodes311``, ``opcodes312`` or ``opcodes313``,
imported at import time; what they share is in ``opcodes_common``) for the replacement of each
instruction (its ``REWRITES``), re-assembles ``co_code`` (jump offsets and ``EXTENDED_ARG``
prefixes recomputed), and re-encodes the location table and the exception table (the
encodings are in capture/bytecode_codec.py) so that every original instruction keeps its exact
source position, every protected range keeps its handler, handler stack depth and ``lasti``
flag, and everything else about the code object stays as it was:
``co_varnames``/``co_cellvars``/``co_freevars`` (so the locals layout is unchanged),
``co_names``, argument counts, flags, names, file and first line. The original constants keep
their indices; probes, marker tuples and attribute names are appended to ``co_consts`` as the
very same objects (identity is what the C call probe tests), and last the origin record
(capture/origin_record.py). Nested code objects in ``co_consts`` are left alone: each is
instrumented when its own frame runs.

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
    For an instrumented code object: the code it was made from and its offset maps.
``probes_from(source)``
    The probes object of the running Python's opcode table, its probes taken from
    ``source`` (the C extension).
"""

from __future__ import annotations

import importlib
import sys
from types import CodeType
from typing import Any

from .bytecode_codec import (
    RewriteError,
    assemble,
    decode,
    encode_exception_table,
    encode_locations,
    exception_entries,
    parse_exception_table,
)
from .origin_record import (
    NO_UNIT,
    ORIGIN_MARKER,
    START,
    is_instrumented,
    make_record,
    offset_map,
    origin,
    record_of,
)

__all__ = ["RewriteError", "instrument", "rewrite", "refuse_reason", "opcode_table", "origin",
           "is_instrumented", "probes_from", "ORIGIN_MARKER", "START", "NO_UNIT"]

# tests/test_rewriter.py reads the exception-table parser through this module
_parse_exception_table = parse_exception_table


def _load_table():
    name = f"{__package__}.opcodes{sys.version_info[0]}{sys.version_info[1]}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:  # the table exists but an import inside it failed: say so
            raise
        return None


# imported now, not on the first rewrite: rewriting runs inside the frame-evaluation hook,
# where an import would run (and take the import lock) in the middle of someone's frame
_TABLE = _load_table()


def opcode_table():
    """The opcode module for the running Python (``opcodes311`` on 3.11, ``opcodes312``,
    ``opcodes313``), or None (no table for this version: every code object is refused)."""
    return _TABLE


def probes_from(source: Any) -> Any:
    """The probes object of the running Python's opcode table (``opcodes3XX.Probes``), its
    probes taken from the attributes of ``source`` (the C extension); None without a table."""
    return None if _TABLE is None else _TABLE.Probes(source)


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
    """What a rewrite function sees: ``const(obj)``, ``probes``, ``names``, ``attr_names``,
    ``before(k)``."""

    __slots__ = ("probes", "names", "attr_names", "consts", "_index", "_ops", "_args",
                 "_targets", "i")

    def __init__(self, probes, names, attr_names, consts, ops=(), args=(), targets=()):
        self.probes = probes
        self.names = names
        self.attr_names = attr_names
        self.consts = consts
        self._index: dict = {}
        self._ops, self._args, self._targets = ops, args, targets
        self.i = 0  # the instruction being rewritten

    def before(self, k: int) -> tuple[int, int] | None:
        """``(opcode, arg)`` of the ``k``-th instruction before this one (1: the one just
        before) where control reaches this one only through it and those between (none of
        them, nor this one, a jump or handler target); None otherwise."""
        i, targets = self.i, self._targets
        if i < k or any(j in targets for j in range(i - k + 1, i + 1)):
            return None
        return self._ops[i - k], self._args[i - k]

    def const(self, obj) -> int:
        """Index of ``obj`` (this very object) in the new co_consts."""
        i = self._index.get(id(obj))
        if i is None:
            i = self._index[id(obj)] = len(self.consts)
            self.consts.append(obj)
        return i


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
    if record_of(code) is not None:
        raise RewriteError("already instrumented (origin record in co_consts)", code)

    ops, args, starts, opunits, positions, jumps, nunits = decode(code, T)
    try:
        exc = parse_exception_table(code.co_exceptiontable)
    except (ValueError, StopIteration):
        raise RewriteError("malformed exception table", code) from None
    exc_idx = exception_entries(exc, starts, nunits, code)

    names = code.co_names
    attr = plan.attr_names
    attr_idx = frozenset(i for i, nm in enumerate(names) if nm in attr) if attr else frozenset()
    targets = frozenset(j for j in jumps if j >= 0) | {t for _, _, t, _, _ in exc_idx}
    ctx = _Ctx(probes, names, attr_idx, list(consts), ops, args, targets)
    jump_ops = T.JUMPS_FORWARD | T.JUMPS_BACKWARD

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
            ctx.i = i
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
                    # a jump in a replacement jumps where the original instruction does
                    # (a truth test: bool(v) then the jump; its argument is recomputed)
                    if o in jump_ops:
                        if jumps[i] < 0:
                            raise RewriteError("a jump replaces a non-jump", code)
                        njump.append(jumps[i])
                    else:
                        njump.append(-1)
                continue
        nops.append(op)
        nargs.append(args[i])
        npos.append(positions[i])
        njump.append(jumps[i])
    group[n] = len(nops)
    if not changed:
        return code

    # -- assemble (jump arguments written into nargs), then the tables
    jump_to = [group[j] if j >= 0 else -1 for j in njump]
    co_code, sizes, off, pre = assemble(T, nops, nargs, jump_to, code)
    linetable = encode_locations(npos, sizes, code.co_firstlineno)
    new_exc = [
        (off[group[s]], off[group[e]], off[group[t]], d, lasti) for s, e, t, d, lasti in exc_idx
    ]
    offsets = offset_map(starts, opunits, nunits, group, kept, off, pre)
    try:
        new = code.replace(
            co_code=co_code,
            co_consts=(*ctx.consts, make_record(code, offsets)),
            co_linetable=linetable,
            co_exceptiontable=encode_exception_table(new_exc),
            co_stacksize=code.co_stacksize + extra,
        )
    except (ValueError, TypeError, SystemError, OverflowError) as e:
        raise RewriteError(f"self-check failed: code object rejected: {e}", code) from None

    if verify:
        _verify(code, new, T, nops, nargs, npos, jump_to,
                [(group[s], group[e], group[t], d, lasti) for s, e, t, d, lasti in exc_idx],
                len(consts), code.co_stacksize + extra, starts, [off[group[i]] for i in range(n)])
    return new


# ---------------------------------------------------------------------------------------
# the self-check

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
    ops, args, starts, _, positions, jumps, nunits = decode(new, T)
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
    exc = exception_entries(parse_exception_table(new.co_exceptiontable), starts, nunits, code)
    if exc != nexc:
        fail("exception table")
    rec = origin(new)
    if rec is None or rec[0] is not code or len(rec[1]) != nunits or any(
        rec[1][u] != s | START for s, u in zip(starts_orig, group_starts, strict=True)
    ):
        fail("origin record")


# ---------------------------------------------------------------------------------------
# the entry points that never raise for a code object


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


_placeholders = None  # the table's placeholder probes, made on first use


def refuse_reason(code: CodeType, probes=None) -> str | None:
    """Why ``instrument(code, probes)`` returns None; None if it does not. Without
    ``probes``, placeholder probes stand in (what is refused does not depend on them)."""
    global _placeholders
    if probes is None and _TABLE is not None:
        if _placeholders is None:
            _placeholders = _TABLE.placeholder_probes()
        probes = _placeholders
    try:
        rewrite(code, probes)
    except RewriteError as e:
        return e.reason
    except (KeyboardInterrupt, MemoryError, RecursionError):
        raise
    except Exception as e:
        return f"internal error: {type(e).__name__}: {e}"
    return None
