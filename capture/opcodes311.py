"""CPython 3.11 opcode handling for the bytecode rewriter (see docs/internals.md, section 2).

Everything the rewriter knows about 3.11 bytecode lives here: the encoding facts the generic
driver (``rewriter.py``) needs to decode and re-assemble ``co_code`` (inline cache sizes,
relative jumps and their direction, ``EXTENDED_ARG``), and ``REWRITES``, the table
``opcode name -> function`` that produces the replacement instructions.

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
import types
from typing import Any

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
GET_ITER = OP["GET_ITER"]

N_BINOP = len(_opcode._nb_ops)  # 26
N_COMPARE = 6

# What a probes object carries (``ctx.probes``; ``Probes`` builds one, ``check_probes`` checks
# one): tuples of probes indexed by the instruction's argument (name -> length), single probes,
# the marker tuples the call probe recognises by identity, and ``ATTR_NAMES``.
PROBE_TUPLES = {"BINOP": N_BINOP, "COMPARE": N_COMPARE}
PROBE_NAMES = ("unary_negative", "unary_positive", "unary_invert", "getitem", "setitem",
               "getattr", "getiter", "unpack", "call")
MARKER_NAMES = ("STAR_KWNAMES1", "STAR_KWNAMES2")
#: attribute names whose LOAD_ATTR/LOAD_METHOD (getattr probe) and STORE_ATTR (call probe with
#: setattr) are instrumented
ATTR_NAMES = frozenset({"T", "mT", "real", "imag", "flat"})


def _call_under(ctx, probe, nargs):
    """Stack [*args] (nargs values) -> [probe(*args)]; peak +1."""
    seq = [(LOAD_CONST, ctx.const(probe))]
    # rotate the probe under the nargs operands
    if nargs == 1:
        seq.append((SWAP, 2))
    elif nargs == 2:
        seq += [(SWAP, 3), (SWAP, 2)]
    else:  # pragma: no cover - not used
        raise AssertionError(nargs)
    return seq + [(PRECALL, nargs - 1), (CALL, nargs - 1)]


def _binary_op(ctx, arg):
    # [a, b] -> BINOP[arg](a, b)
    return _call_under(ctx, ctx.probes.BINOP[arg], 2), 1


def _compare_op(ctx, arg):
    # [a, b] -> COMPARE[arg](a, b)
    return _call_under(ctx, ctx.probes.COMPARE[arg], 2), 1


def _unary(name):
    def rewrite(ctx, arg):
        # [a] -> probe(a)
        return _call_under(ctx, getattr(ctx.probes, name), 1), 1

    rewrite.__name__ = f"_unary_{name}"
    return rewrite


def _binary_subscr(ctx, arg):
    # [a, k] -> getitem(a, k)
    return _call_under(ctx, ctx.probes.getitem, 2), 1


def _store_subscr(ctx, arg):
    # [v, a, k] -> setitem(a, k, v); result None dropped
    return [
        (LOAD_CONST, ctx.const(ctx.probes.setitem)),  # [v, a, k, s]
        (SWAP, 4),  # [s, a, k, v]
        (PRECALL, 2),
        (CALL, 2),
        (POP_TOP, 0),
    ], 1


def _getattr_seq(ctx, namei):
    # [obj] -> getattr(obj, 'name'); peak +2
    return [
        (LOAD_CONST, ctx.const(ctx.probes.getattr)),
        (SWAP, 2),
        (LOAD_CONST, ctx.const(ctx.names[namei])),
        (PRECALL, 1),
        (CALL, 1),
    ]


def _load_attr(ctx, arg):
    if arg not in ctx.attr_names:
        return None
    return _getattr_seq(ctx, arg), 2


def _store_attr(ctx, arg):
    # [v, obj] -> call(setattr, obj, 'name', v): writes like ``a.flat = v`` or ``z.real = v``
    # are buffer writes; the call probe sends them to the recorder only when traced
    if arg not in ctx.attr_names:
        return None
    return [
        (LOAD_CONST, ctx.const(ctx.probes.call)),  # [v, obj, call]
        (SWAP, 3),  # [call, obj, v]
        (LOAD_CONST, ctx.const(setattr)),  # [call, obj, v, setattr]
        (SWAP, 3),  # [call, setattr, v, obj]
        (SWAP, 2),  # [call, setattr, obj, v]
        (LOAD_CONST, ctx.const(ctx.names[arg])),  # [call, setattr, obj, v, name]
        (SWAP, 2),  # [call, setattr, obj, name, v]
        (PRECALL, 3),
        (CALL, 3),
        (POP_TOP, 0),
    ], 3


def _before(name, opcode):
    def rewrite(ctx, arg):
        # [obj] -> probe(obj), then the original instruction
        return _call_under(ctx, getattr(ctx.probes, name), 1) + [(opcode, arg)], 1

    rewrite.__name__ = f"_before_{name}"
    return rewrite


def _push_null(ctx, arg):
    # the NULL under a callable becomes the call probe: CALL then runs call(f, *args)
    return [(LOAD_CONST, ctx.const(ctx.probes.call))], 0


def _load_global(ctx, arg):
    if not arg & 1:
        return None
    return [(LOAD_CONST, ctx.const(ctx.probes.call)), (LOAD_GLOBAL, arg & ~1)], 0


def _load_method(ctx, arg):
    # [obj] -> [call, obj.name]; CALL n then runs call(bound_method, *args)
    seq = [(LOAD_CONST, ctx.const(ctx.probes.call)), (SWAP, 2)]
    if arg in ctx.attr_names:
        return seq + _getattr_seq(ctx, arg), 2
    return seq + [(LOAD_ATTR, arg)], 0


def _call_function_ex(ctx, arg):
    # [call, f, args(, kwargs)] -> call(f, args(, kwargs), kwnames=STAR_KWNAMES1|2); the
    # call probe recognises the marker tuple by identity and does CALL_FUNCTION_EX.
    if arg & 1:
        marker, n = ctx.probes.STAR_KWNAMES2, 2
    else:
        marker, n = ctx.probes.STAR_KWNAMES1, 1
    return [(KW_NAMES, ctx.const(marker)), (PRECALL, n), (CALL, n)], 0


#: opcode name -> rewrite function (see the module docstring)
REWRITES = {
    "BINARY_OP": _binary_op,
    "COMPARE_OP": _compare_op,
    "UNARY_NEGATIVE": _unary("unary_negative"),
    "UNARY_POSITIVE": _unary("unary_positive"),
    "UNARY_INVERT": _unary("unary_invert"),
    "BINARY_SUBSCR": _binary_subscr,
    "STORE_SUBSCR": _store_subscr,
    "LOAD_ATTR": _load_attr,
    "STORE_ATTR": _store_attr,
    "GET_ITER": _before("getiter", GET_ITER),
    "UNPACK_SEQUENCE": _before("unpack", OP["UNPACK_SEQUENCE"]),
    "UNPACK_EX": _before("unpack", OP["UNPACK_EX"]),
    # [*x], (*x, 2.0), f(*a, *b), {*x}: a traced array is extended by its (traced) rows
    "LIST_EXTEND": _before("getiter", OP["LIST_EXTEND"]),
    "SET_UPDATE": _before("getiter", OP["SET_UPDATE"]),
    "PUSH_NULL": _push_null,
    "LOAD_GLOBAL": _load_global,
    "LOAD_METHOD": _load_method,
    "CALL_FUNCTION_EX": _call_function_ex,
}


class Probes:
    """A probes object: the probe objects and marker tuples named below, taken from the
    attributes of the same names of ``source`` (the C extension, capture/_evalframe.c), and
    ``ATTR_NAMES``."""

    def __init__(self, source: Any) -> None:
        for name in (*PROBE_TUPLES, *PROBE_NAMES, *MARKER_NAMES):
            setattr(self, name, getattr(source, name))
        self.ATTR_NAMES = ATTR_NAMES


class _Placeholder:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<probe {self.name}>"


def placeholder_probes() -> Probes:
    """A probes object of placeholder objects (the rewriter's ``refuse_reason`` without real
    probes: what is refused does not depend on which objects the probes are)."""
    source = types.SimpleNamespace(
        **{name: tuple(_Placeholder(f"{name.lower()}{i}") for i in range(n))
           for name, n in PROBE_TUPLES.items()},
        **{name: _Placeholder(name) for name in PROBE_NAMES},
        STAR_KWNAMES1=("__framead_star__",),
        STAR_KWNAMES2=("__framead_star__", "__framead_dstar__"),
    )
    return Probes(source)


def check_probes(probes: Any) -> None:
    """Raise TypeError when ``probes`` lacks what the 3.11 rewrites use."""
    missing = [n for n in (*PROBE_TUPLES, *PROBE_NAMES, *MARKER_NAMES, "ATTR_NAMES")
               if not hasattr(probes, n)]
    if missing:
        raise TypeError(f"probes object lacks {', '.join(missing)}")
    if len(probes.BINOP) != N_BINOP or len(probes.COMPARE) != N_COMPARE:
        raise TypeError(f"probes.BINOP needs {N_BINOP} entries and probes.COMPARE {N_COMPARE}")
    for n in MARKER_NAMES:
        if type(getattr(probes, n)) is not tuple:
            raise TypeError(f"probes.{n} must be a tuple of str")


def probe_objects(probes: Any) -> list:
    """Every object a rewrite may put into co_consts (to recognise instrumented code)."""
    return [*(p for name in PROBE_TUPLES for p in getattr(probes, name)),
            *(getattr(probes, name) for name in (*PROBE_NAMES, *MARKER_NAMES))]
