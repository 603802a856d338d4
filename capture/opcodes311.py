"""CPython 3.11 opcode handling for the bytecode rewriter (see docs/internals.md, section 2).

Everything the rewriter knows about 3.11 bytecode lives here: the encoding facts the generic
driver (``rewriter.py``) needs to decode and re-assemble ``co_code`` (inline cache sizes,
relative jumps and their direction, ``EXTENDED_ARG``), and ``REWRITES``, the table
``opcode name -> function`` that produces the replacement instructions. What the tables of
all versions share (probes objects, the sequences built on a calling convention) is in
``opcodes_common``.

A rewrite function is called as ``fn(ctx, arg)`` with the instruction's full argument
(``EXTENDED_ARG`` prefixes folded in) and returns ``None`` (keep the instruction as is) or
``(instrs, extra)``: ``instrs`` is a list of ``(opcode, arg)`` pairs replacing the
instruction (``arg`` 0 for opcodes without argument), ``extra`` how many stack slots the
replacement needs beyond the original instruction's own peak (the driver adds the largest
``extra`` to ``co_stacksize``). ``ctx.const(obj)`` gives the ``co_consts`` index of ``obj``
(appended after the original constants; identity is kept), ``ctx.probes`` is the probes
object, ``ctx.attr_names`` the set of ``co_names`` indices whose ``LOAD_ATTR`` gets the
``getattr`` probe.

3.11 calling convention used throughout: ``PRECALL n; CALL n`` looks at the slot below the
callable; when it is not NULL it is called as a method: ``slot(callable_slot, *args)``. So
``LOAD_CONST probe`` placed under the operands turns them into ``probe(*operands)``.
"""

from __future__ import annotations

import opcode as _opcode

from . import opcodes_common as _common
from .opcodes_common import N_COMPARE, Emitter, ProbeSpec

VERSION = (3, 11)

OP = _opcode.opmap
OPNAME = _opcode.opname
HAVE_ARGUMENT = _opcode.HAVE_ARGUMENT
EXTENDED_ARG = OP["EXTENDED_ARG"]
CACHE = OP["CACHE"]
#: number of inline cache units following each opcode
CACHES: tuple[int, ...] = tuple(_opcode._inline_cache_entries)
#: relative jumps: target = (unit after the instruction [and its caches]) +/- arg
JUMPS_FORWARD = frozenset(op for op in _opcode.hasjrel if "BACKWARD" not in OPNAME[op])
JUMPS_BACKWARD = frozenset(op for op in _opcode.hasjrel if "BACKWARD" in OPNAME[op])
#: 3.11 measures jumps from the unit after the instruction; no 3.11 jump has caches
JUMP_BASE_INCLUDES_CACHES = False
assert not any(CACHES[op] for op in JUMPS_FORWARD | JUMPS_BACKWARD)
#: opcodes that are valid in co_code (everything with a name; specialised forms never
#: appear in co_code, which CPython returns de-optimised)
KNOWN = frozenset(op for op, name in enumerate(OPNAME) if not name.startswith("<"))

LOAD_CONST = OP["LOAD_CONST"]
LOAD_ATTR = OP["LOAD_ATTR"]
LOAD_GLOBAL = OP["LOAD_GLOBAL"]
SWAP = OP["SWAP"]
PRECALL = OP["PRECALL"]
CALL = OP["CALL"]
KW_NAMES = OP["KW_NAMES"]
POP_TOP = OP["POP_TOP"]

N_BINOP = len(_opcode._nb_ops)  # 26

# What a probes object carries (``ctx.probes``; ``Probes`` builds one, ``check_probes`` checks
# one): tuples of probes indexed by the instruction's argument (name -> length), single probes,
# the marker tuples the call probe recognises by identity, and ``ATTR_NAMES`` (attribute names
# whose LOAD_ATTR/LOAD_METHOD (getattr probe) and STORE_ATTR (call probe with setattr) are
# instrumented).
PROBE_TUPLES = {"BINOP": N_BINOP, "COMPARE": N_COMPARE, "CONTAINS": 2}
PROBE_NAMES = ("unary_negative", "unary_positive", "unary_invert", "getitem", "setitem",
               "getattr", "getiter", "unpack", "call", "dict_update")
MARKER_NAMES = ("STAR_KWNAMES1", "STAR_KWNAMES2")
ATTR_NAMES = _common.ATTR_NAMES
SPEC = ProbeSpec(VERSION, PROBE_TUPLES, PROBE_NAMES, MARKER_NAMES)


def _precall_call(n: int) -> list[tuple[int, int]]:
    return [(PRECALL, n), (CALL, n)]


E = Emitter(OP, _precall_call)


def _load_attr(ctx, arg):
    if arg not in ctx.attr_names:
        return None
    return E.getattr_seq(ctx, arg), 2


def _push_null(ctx, arg):
    # the NULL under a callable becomes the call probe: CALL then runs call(f, *args)
    return [(LOAD_CONST, ctx.const(ctx.probes.call))], 0


def _load_method(ctx, arg):
    # [obj] -> [call, obj.name]; CALL n then runs call(bound_method, *args)
    seq = E.under_call(ctx)
    if arg in ctx.attr_names:
        return seq + E.getattr_seq(ctx, arg), 2
    return seq + [(LOAD_ATTR, arg)], 0


def _call_function_ex(ctx, arg):
    # [call, f, args(, kwargs)] -> call(f, args(, kwargs), kwnames=STAR_KWNAMES1|2); the
    # call probe recognises the marker tuple by identity and does CALL_FUNCTION_EX.
    marker, n = E.star_marker(ctx, arg)
    return [(KW_NAMES, ctx.const(marker)), (PRECALL, n), (CALL, n)], 0


#: opcode name -> rewrite function (see the module docstring)
REWRITES = {
    "BINARY_OP": E.probe2("BINOP"),
    "COMPARE_OP": E.probe2("COMPARE"),
    "CONTAINS_OP": E.contains,
    "UNARY_NEGATIVE": E.unary("unary_negative"),
    "UNARY_POSITIVE": E.unary("unary_positive"),
    "UNARY_INVERT": E.unary("unary_invert"),
    "BINARY_SUBSCR": E.binary_subscr,
    "STORE_SUBSCR": E.store_subscr,
    "LOAD_ATTR": _load_attr,
    **E.iteration_and_stores(OP),
    "PUSH_NULL": _push_null,
    "LOAD_GLOBAL": E.load_global(LOAD_GLOBAL),
    "LOAD_METHOD": _load_method,
    "CALL_FUNCTION_EX": _call_function_ex,
    "FORMAT_VALUE": E.format_value,
    # truth tests of values: bool(v) through the call probe, then the instruction
    **{name: E.truth(OP[name]) for name in (
        "POP_JUMP_FORWARD_IF_TRUE", "POP_JUMP_FORWARD_IF_FALSE", "POP_JUMP_BACKWARD_IF_TRUE",
        "POP_JUMP_BACKWARD_IF_FALSE", "UNARY_NOT")},
    "JUMP_IF_TRUE_OR_POP": E.truth_or_pop(OP["POP_JUMP_FORWARD_IF_TRUE"]),
    "JUMP_IF_FALSE_OR_POP": E.truth_or_pop(OP["POP_JUMP_FORWARD_IF_FALSE"]),
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


#: raise TypeError when a probes object lacks what the 3.11 rewrites use
check_probes = SPEC.check
#: every object a rewrite may put into co_consts (to recognise instrumented code)
probe_objects = SPEC.objects
