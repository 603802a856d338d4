"""CPython 3.12 opcode handling for the bytecode rewriter (see docs/internals.md, section 2).

The same contract as ``opcodes311`` (the encoding facts the generic driver ``rewriter.py``
needs, and ``REWRITES``: opcode name -> rewrite function ``fn(ctx, arg)``); what differs from
3.11:

* No ``PRECALL``: a probe call is ``CALL n`` alone. ``[x, y, *args]; CALL n`` still runs
  ``x(y, *args)`` when ``x`` is not NULL (3.12 calls the slots ``(method, callable)``), so the
  probe is rotated under its operands as on 3.11.
* ``LOAD_ATTR namei << 1 | method``: the method form (``LOAD_METHOD`` before 3.12, now a
  pseudo-op) pushes ``[meth, self]`` or ``[NULL, attr]``; it becomes ``[call, obj.name]``.
* ``LOAD_SUPER_ATTR namei << 2 | two_args << 1 | method`` (``super().m``): the method form
  becomes the attribute form under the call probe; for a name in ``ATTR_NAMES`` the super
  object is made by the call probe and read by the getattr probe (what 3.11 did).
* ``a[i:j]`` is ``BINARY_SLICE`` and ``a[i:j] = v`` is ``STORE_SLICE``: both become
  ``BUILD_SLICE 2`` and the getitem/setitem probe (what 3.11 compiled), so slice reads and
  writes of traced arrays are recorded.
* ``UNARY_POSITIVE`` is gone: ``+x`` is ``CALL_INTRINSIC_1 INTRINSIC_UNARY_POSITIVE``.
* ``COMPARE_OP``'s comparison is ``oparg >> 4`` (the low bits are a specialisation mask).
* ``CONTAINS_OP`` (``in``, ``not in``) is the ``CONTAINS`` probe as on 3.11.
* Jumps are measured from the unit after their inline caches.
* Pseudo-ops (>= 256) are kept out of every table, ``INSTRUMENTED_*`` (only in
  ``co_code_adaptive``, never in ``co_code``) out of ``KNOWN``.

This module is also the base of ``opcodes313`` and is imported there on 3.13: everything
below is computed from the running interpreter's ``opcode`` module (3.13 renumbers every
opcode), and what 3.13 lacks (``KW_NAMES``) is looked up with a default.
"""

from __future__ import annotations

import opcode as _opcode

from . import opcodes_common as _common
from .opcodes_common import N_COMPARE, Emitter, ProbeSpec

VERSION = (3, 12)

#: real opcodes only: pseudo-ops (>= 256: LOAD_METHOD, JUMP, SETUP_FINALLY ...) are
#: compiler-internal and never appear in co_code
OP = {name: op for name, op in _opcode.opmap.items() if op < 256}
OPNAME = _opcode.opname
HAVE_ARGUMENT = _opcode.HAVE_ARGUMENT
EXTENDED_ARG = OP["EXTENDED_ARG"]
CACHE = OP["CACHE"]


def _caches(entries) -> tuple[int, ...]:
    """Inline cache units per opcode, from ``opcode._inline_cache_entries``: a list indexed by
    opcode on 3.12, a dict by opcode name on 3.13."""
    if isinstance(entries, dict):
        by_op = {OP[name]: n for name, n in entries.items() if name in OP}
        return tuple(by_op.get(op, 0) for op in range(256))
    return (*entries, *(0,) * (256 - len(entries)))


#: number of inline cache units following each opcode
CACHES: tuple[int, ...] = _caches(_opcode._inline_cache_entries)
_JREL = [op for op in _opcode.hasjrel if op < 256]  # hasjrel lists the pseudo-op JUMPs too
#: relative jumps: target = (unit after the instruction and its caches) +/- arg
JUMPS_FORWARD = frozenset(op for op in _JREL if "BACKWARD" not in OPNAME[op])
JUMPS_BACKWARD = frozenset(op for op in _JREL if "BACKWARD" in OPNAME[op])
#: 3.12 measures jumps from the unit after the instruction's inline caches
JUMP_BASE_INCLUDES_CACHES = True
#: opcodes that are valid in co_code. Not: specialised forms (not in opmap; co_code is
#: returned de-optimised), INSTRUMENTED_* (co_code is returned de-instrumented),
#: ENTER_EXECUTOR (3.13: de-optimised out of co_code), a CACHE unit where an instruction
#: starts, and opcodes the compiler never emits.
_NEVER = {"CACHE", "RESERVED", "INTERPRETER_EXIT", "ENTER_EXECUTOR"}
KNOWN = frozenset(op for name, op in OP.items()
                  if not name.startswith("INSTRUMENTED_") and name not in _NEVER)

LOAD_CONST = OP["LOAD_CONST"]
LOAD_ATTR = OP["LOAD_ATTR"]
LOAD_GLOBAL = OP["LOAD_GLOBAL"]
LOAD_SUPER_ATTR = OP["LOAD_SUPER_ATTR"]
BUILD_SLICE = OP["BUILD_SLICE"]
SWAP = OP["SWAP"]
COPY = OP["COPY"]
CALL = OP["CALL"]
KW_NAMES = OP.get("KW_NAMES", -1)  # -1 on 3.13 (removed; opcodes313 uses CALL_KW)
POP_TOP = OP["POP_TOP"]
INTRINSIC_UNARY_POSITIVE = _opcode._intrinsic_1_descs.index("INTRINSIC_UNARY_POSITIVE")

N_BINOP = len(_opcode._nb_ops)  # 26

# What a probes object carries (as on 3.11: see opcodes311)
PROBE_TUPLES = {"BINOP": N_BINOP, "COMPARE": N_COMPARE, "CONTAINS": 2}
PROBE_NAMES = ("unary_negative", "unary_positive", "unary_invert", "getitem", "setitem",
               "getattr", "getiter", "unpack", "call", "dict_update")
MARKER_NAMES = ("STAR_KWNAMES1", "STAR_KWNAMES2")
ATTR_NAMES = _common.ATTR_NAMES
SPEC = ProbeSpec(VERSION, PROBE_TUPLES, PROBE_NAMES, MARKER_NAMES)


#: the instructions that test a value's truth (3.13: TO_BOOL alone)
TRUTH_TESTS = ("POP_JUMP_IF_TRUE", "POP_JUMP_IF_FALSE", "UNARY_NOT")


def _call(n: int) -> list[tuple[int, int]]:
    return [(CALL, n)]


E = Emitter(OP, _call)


def compare_index(arg: int) -> int:
    """The comparison (index into ``probes.COMPARE``) of ``COMPARE_OP arg``."""
    return arg >> 4


def _load_attr(ctx, arg):
    namei = arg >> 1
    if arg & 1:
        # the method form: [obj] -> [call, obj.name]; CALL n then runs call(bound, *args)
        seq = E.under_call(ctx)
        if namei in ctx.attr_names:
            return seq + E.getattr_seq(ctx, namei), 2
        return seq + [(LOAD_ATTR, arg & ~1)], 0
    if namei not in ctx.attr_names:
        return None
    return E.getattr_seq(ctx, namei), 2


def _load_super_attr(ctx, arg):
    # [global_super, class, self] -> [super(...).name] (the method form: [call, that])
    namei, method = arg >> 2, arg & 1
    if namei in ctx.attr_names:
        # the super object through the call probe (as 3.11 called super), then the getattr
        # probe; arg & 2: super(class, self), else super() (it reads this very frame: the
        # call probe is C and adds no frame)
        call = ctx.const(ctx.probes.call)
        if arg & 2:  # [gs, cls, self, call] -> [call, gs, cls, self]
            seq = [(LOAD_CONST, call), (SWAP, 4), (SWAP, 3), (SWAP, 2), *_call(2)]
        else:
            seq = [(POP_TOP, 0), (POP_TOP, 0), (LOAD_CONST, call), (SWAP, 2), *_call(0)]
        seq += E.getattr_seq(ctx, namei)
        return (seq + E.under_call(ctx) if method else seq), 1
    if not method:
        return None
    return [(LOAD_SUPER_ATTR, arg & ~1), *E.under_call(ctx)], 0


def _binary_slice(ctx, arg):
    # [a, start, stop] -> getitem(a, slice(start, stop))
    return [(BUILD_SLICE, 2), *E.call_under(ctx, ctx.probes.getitem, 2)], 0


def _store_slice(ctx, arg):
    # [v, a, start, stop] -> setitem(a, slice(start, stop), v)
    return [(BUILD_SLICE, 2), *E.setitem_seq(ctx)], 0


def _call_intrinsic_1(ctx, arg):
    # +x: [a] -> unary_positive(a); the other intrinsics stay
    if arg != INTRINSIC_UNARY_POSITIVE:
        return None
    return E.call_under(ctx, ctx.probes.unary_positive, 1), 1


def _push_null(ctx, arg):
    # the NULL under a callable becomes the call probe: CALL then runs call(f, *args)
    return [(LOAD_CONST, ctx.const(ctx.probes.call))], 0


def _call_function_ex(ctx, arg):
    # [call, f, args(, kwargs)] -> call(f, args(, kwargs), kwnames=STAR_KWNAMES1|2); the
    # call probe recognises the marker tuple by identity and does CALL_FUNCTION_EX.
    marker, n = E.star_marker(ctx, arg)
    return [(KW_NAMES, ctx.const(marker)), (CALL, n)], 0


#: opcode name -> rewrite function (see the module docstring)
REWRITES = {
    "BINARY_OP": E.probe2("BINOP"),
    "COMPARE_OP": E.probe2("COMPARE", compare_index),
    "CONTAINS_OP": E.contains,
    "UNARY_NEGATIVE": E.unary("unary_negative"),
    "UNARY_INVERT": E.unary("unary_invert"),
    "CALL_INTRINSIC_1": _call_intrinsic_1,
    "BINARY_SUBSCR": E.binary_subscr,
    "STORE_SUBSCR": E.store_subscr,
    "BINARY_SLICE": _binary_slice,
    "STORE_SLICE": _store_slice,
    "LOAD_ATTR": _load_attr,
    "LOAD_SUPER_ATTR": _load_super_attr,
    **E.iteration_and_stores(OP),
    "PUSH_NULL": _push_null,
    "LOAD_GLOBAL": E.load_global(LOAD_GLOBAL),
    "CALL_FUNCTION_EX": _call_function_ex,
    "FORMAT_VALUE": E.format_value,
    # truth tests of values (``a or b`` is COPY 1; POP_JUMP_IF_TRUE): bool(v) through the
    # call probe, then the instruction
    **{name: E.truth(OP[name]) for name in TRUTH_TESTS},
}


class Probes(_common.Probes):
    """A probes object: the probe objects and marker tuples named above, taken from the
    attributes of the same names of ``source`` (the C extension, capture/_evalframe.c), and
    ``ATTR_NAMES``."""

    SPEC = SPEC


def placeholder_probes() -> Probes:
    """A probes object of placeholder objects (the rewriter's ``refuse_reason`` without real
    probes: what is refused does not depend on which objects the probes are)."""
    return Probes(SPEC.placeholder_source())


#: raise TypeError when a probes object lacks what the 3.12 rewrites use
check_probes = SPEC.check
#: every object a rewrite may put into co_consts (to recognise instrumented code)
probe_objects = SPEC.objects
