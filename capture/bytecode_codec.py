"""Bytecode encoding for the rewriter (capture/rewriter.py): ``co_code`` decoded into
instructions and assembled back (jump offsets and ``EXTENDED_ARG`` prefixes recomputed), the
exception table and the PEP 626/657 location table read and written.

Version-independent: the encoding facts (inline cache sizes, jump opcodes and their direction,
``EXTENDED_ARG``, whether a jump is measured from after its inline caches) come from the opcode
table module passed as ``T`` (``opcodes311``, ``opcodes312`` or ``opcodes313``).
Instructions are counted in code units (two bytes); a malformed input raises ``RewriteError``.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import accumulate
from types import CodeType
from typing import Any

#: zero-filled inline caches, by number of cache units
ZEROS = [bytes(2 * c) for c in range(64)]


class RewriteError(Exception):
    """The rewriter cannot (or will not) instrument a code object; ``.reason`` says why."""

    def __init__(self, reason: str, code: CodeType | None = None):
        self.reason = reason
        self.code = code
        where = ""
        if code is not None:
            where = f" ({code.co_qualname} at {code.co_filename}:{code.co_firstlineno})"
        super().__init__(reason + where)


# ---------------------------------------------------------------------------------------
# decoding


def decode(code: CodeType, T: Any):
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
    zeros = ZEROS
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


def parse_exception_table(table: bytes) -> list[tuple[int, int, int, int, int]]:
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


def instruction_index(unit: int, starts: list[int], nunits: int, code: CodeType,
                      what: str) -> int:
    """The instruction starting at code unit ``unit`` (an exception table's ``what``: start,
    end or target); ``len(starts)`` for the end of the code."""
    if unit == nunits:
        return len(starts)
    k = bisect_left(starts, unit)
    if k == len(starts) or starts[k] != unit:
        raise RewriteError(f"exception table {what} {2 * unit} is not an instruction start", code)
    return k


def exception_entries(entries: list[tuple[int, int, int, int, int]], starts: list[int],
                      nunits: int, code: CodeType) -> list[tuple[int, int, int, int, int]]:
    """Parsed exception table ``entries`` with instruction indices instead of code units."""
    return [
        (
            instruction_index(s, starts, nunits, code, "start"),
            instruction_index(e, starts, nunits, code, "end"),
            instruction_index(t, starts, nunits, code, "target"),
            d,
            lasti,
        )
        for s, e, t, d, lasti in entries
    ]


# ---------------------------------------------------------------------------------------
# encoding


def nprefix(arg: int) -> int:
    """How many ``EXTENDED_ARG`` prefixes ``arg`` needs."""
    if arg < 0x100:
        return 0
    if arg < 0x10000:
        return 1
    if arg < 0x1000000:
        return 2
    return 3


def assemble(T: Any, nops: list[int], nargs: list[int], targets: list[int],
             code: CodeType) -> tuple[bytes, list[int], list[int], list[int]]:
    """``co_code`` for the instructions ``nops``/``nargs``; ``targets[k]``: the instruction
    jump ``k`` lands on (-1: not a jump). Jump arguments are recomputed (written into
    ``nargs``) until the ``EXTENDED_ARG`` prefixes are stable.

    -> co_code, sizes (units of each instruction), offsets (unit where each instruction and
    its prefixes start, then the total), prefixes (of each instruction)."""
    caches = T.CACHES
    fwd = T.JUMPS_FORWARD
    with_caches = T.JUMP_BASE_INCLUDES_CACHES
    m = len(nops)
    base = [1 + caches[o] for o in nops]
    pre = [0 if a < 0x100 else nprefix(a) for a in nargs]
    jl = [k for k in range(m) if targets[k] >= 0]
    jt = [targets[k] for k in jl]
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
            need = nprefix(a)
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
    zeros = ZEROS
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
    return b"".join(parts), sizes, off, pre


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


def encode_exception_table(entries) -> bytes:
    """``co_exceptiontable`` for [(start, end, target, depth, lasti)] in code units."""
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


def encode_locations(positions: list, sizes: list[int], firstlineno: int) -> bytes:
    """PEP 626/657 location table (Objects/locations.md) for instructions at ``positions``
    of ``sizes`` code units, written the way compile.c does."""
    runs: list[list] = []  # one run per stretch of equal positions
    last = None
    for p, s in zip(positions, sizes, strict=True):
        if p == last:
            runs[-1][1] += s
        else:
            runs.append([p, s])
            last = p
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
