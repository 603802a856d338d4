"""CPython 3.13 opcode handling for the bytecode rewriter: a delta over ``opcodes312`` (see
docs/internals.md, section 2).

``opcodes312`` computes its facts from the running interpreter's ``opcode`` module, so on 3.13
it already holds 3.13's numbers (every opcode is renumbered), cache sizes
(``_inline_cache_entries`` is a dict by name; jumps now have caches) and ``KNOWN`` (new
opcodes such as ``TO_BOOL``, ``LOAD_FAST_LOAD_FAST`` and ``CALL_KW`` just decode). What
differs in meaning:

* ``PUSH_NULL`` pushes the NULL *above* the callable (``[f, NULL]``; ``CALL`` runs
  ``callable(self_or_null, *args)`` when the second slot is not NULL): it becomes
  ``LOAD_CONST call; SWAP 2``, i.e. ``[call, f]``, which calls ``call(f, *args)`` on every
  version. ``LOAD_GLOBAL``'s NULL bit and the ``LOAD_ATTR``/``LOAD_SUPER_ATTR`` method forms
  already end in ``[call, f]`` with the 3.12 rewrites.
* ``COMPARE_OP``'s comparison is ``oparg >> 5``, and ``oparg & 16`` asks for the result as a
  bool (what a following ``POP_JUMP_IF_*`` requires: it tests ``Py_True``/``Py_False`` by
  identity). The probe returns what the comparison returns (a NumPy bool, a traced value), so
  a ``TO_BOOL`` follows it then; without it ``if np.float64(3.0) < 1.0:`` takes the wrong
  branch.
* ``CONTAINS_OP`` as on 3.12 (the ``CONTAINS`` probe's result is an exact bool already).
* ``KW_NAMES`` is gone: ``CALL_FUNCTION_EX`` becomes ``LOAD_CONST marker; CALL_KW n``.
* ``DICT_MERGE`` names the *lowest* call slot in its errors, which is the call probe once the
  NULL is rewritten: it becomes a call of the ``dict_merge(dict, update, func)`` probe (the
  same merge, CPython's errors naming ``func``), ``func`` being the user's callable in the
  second slot.
"""

from __future__ import annotations

from . import opcodes312 as _base
from . import opcodes_common as _common
from .opcodes312 import (  # noqa: F401  (the driver reads these from this module)
    ATTR_NAMES,
    CACHE,
    CACHES,
    EXTENDED_ARG,
    HAVE_ARGUMENT,
    JUMP_BASE_INCLUDES_CACHES,
    JUMPS_BACKWARD,
    JUMPS_FORWARD,
    KNOWN,
    MARKER_NAMES,
    N_BINOP,
    OP,
    OPNAME,
    PROBE_TUPLES,
    E,
)
from .opcodes_common import ProbeSpec

VERSION = (3, 13)

LOAD_CONST = OP["LOAD_CONST"]
SWAP = OP["SWAP"]
COPY = OP["COPY"]
CALL = OP["CALL"]
CALL_KW = OP["CALL_KW"]
POP_TOP = OP["POP_TOP"]
TO_BOOL = OP["TO_BOOL"]
#: COMPARE_OP's "convert the result to bool" flag
COMPARE_TO_BOOL = 16

PROBE_NAMES = (*_base.PROBE_NAMES, "dict_merge")
SPEC = ProbeSpec(VERSION, PROBE_TUPLES, PROBE_NAMES, MARKER_NAMES)


def compare_index(arg: int) -> int:
    """The comparison (index into ``probes.COMPARE``) of ``COMPARE_OP arg``."""
    return arg >> 5


def _compare_op(ctx, arg):
    # [a, b] -> COMPARE[arg >> 5](a, b), made a bool when the instruction asks for one
    seq = E.call_under(ctx, ctx.probes.COMPARE[compare_index(arg)], 2)
    if arg & COMPARE_TO_BOOL:
        seq.append((TO_BOOL, 0))
    return seq, 1


def _push_null(ctx, arg):
    # [f] -> [f, NULL] natively; here [call, f]: CALL then runs call(f, *args)
    return [(LOAD_CONST, ctx.const(ctx.probes.call)), (SWAP, 2)], 0


def _call_function_ex(ctx, arg):
    # [call, f, args(, kwargs)] -> call(f, args(, kwargs), kwnames=STAR_KWNAMES1|2); the
    # call probe recognises the marker tuple by identity and does CALL_FUNCTION_EX.
    marker, n = E.star_marker(ctx, arg)
    return [(LOAD_CONST, ctx.const(marker)), (CALL_KW, n)], 1


def _dict_merge(ctx, arg):
    # [call, f, args, dict, *(arg - 1 items), update] -> dict_merge(dict, update, f), its None
    # dropped: [call, f, args, dict, *(arg - 1 items)], as DICT_MERGE leaves it
    return [
        (LOAD_CONST, ctx.const(ctx.probes.dict_merge)),  # [.., dict, .., update, dm]
        (SWAP, 2),  # [.., dict, .., dm, update]
        (COPY, arg + 2),  # [.., dict, .., dm, update, dict]
        (SWAP, 2),  # [.., dict, .., dm, dict, update]
        (COPY, arg + 5),  # [call, f, .., dm, dict, update, f]
        (CALL, 2),  # dm(dict, update, f)
        (POP_TOP, 0),
    ], 3


#: opcode name -> rewrite function (opcodes312's, four replaced, FORMAT_VALUE's three, the truth
#: tests' one: TO_BOOL, one added)
_NOT_313 = ("FORMAT_VALUE", *_base.TRUTH_TESTS)  # (3.13: three; TO_BOOL: they take a bool)
REWRITES = {
    **{k: v for k, v in _base.REWRITES.items() if k not in _NOT_313},
    "TO_BOOL": E.truth(None),
    "COMPARE_OP": _compare_op,
    "PUSH_NULL": _push_null,
    "CALL_FUNCTION_EX": _call_function_ex,
    "DICT_MERGE": _dict_merge,
    **E.format_rewrites(),
}
assert "KW_NAMES" not in OP and all(name in OP for name in REWRITES)


class Probes(_common.Probes):
    """A probes object: the probe objects and marker tuples named above (3.12's and
    ``dict_merge``), taken from the attributes of the same names of ``source`` (the C
    extension, capture/_evalframe.c), and ``ATTR_NAMES``."""

    SPEC = SPEC


def placeholder_probes() -> Probes:
    """A probes object of placeholder objects (the rewriter's ``refuse_reason`` without real
    probes: what is refused does not depend on which objects the probes are)."""
    return Probes(SPEC.placeholder_source())


#: raise TypeError when a probes object lacks what the 3.13 rewrites use
check_probes = SPEC.check
#: every object a rewrite may put into co_consts (to recognise instrumented code)
probe_objects = SPEC.objects
