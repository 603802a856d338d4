"""The rewriter's output checked by an independent decoder: the `bytecode` package.

framead assembles instrumented code itself (about 3 us per instruction instead of the 20-30 us
a `bytecode.Bytecode` round trip costs), so its output is cross-checked here: the `bytecode`
package must decode every instrumented code object into a control-flow graph, compute a
stack depth whose growth over the original fits the growth of ``co_stacksize``, and see the
original instructions, with their line numbers, in the same order once the probe sequences
are removed.

It runs on every Python that has an opcode table (3.11, 3.12, 3.13). The probes are the C
extension's where it is built for the running Python, placeholders otherwise (the bytecode is
the same whatever objects the probes are).
"""

from __future__ import annotations

import inspect
import sys
import types

import pytest
from bytecode import Bytecode, ConcreteBytecode, ControlFlowGraph, Instr
from framead.capture import rewriter
from framead.capture.rewriter import instrument

T = rewriter.opcode_table()
V = sys.version_info[:2]
pytestmark = pytest.mark.skipif(T is None, reason=f"no opcode table for Python {V[0]}.{V[1]}")


def _probes():
    try:
        from framead.capture.session import PROBES
    except ImportError:  # the C extension is not built for this Python (yet)
        return T.placeholder_probes()
    return PROBES


def _code_objects(module):
    seen = []
    for obj in vars(module).values():
        if isinstance(obj, types.FunctionType) and obj.__module__ == module.__name__:
            seen.append(obj.__code__)
        elif isinstance(obj, type) and obj.__module__ == module.__name__:
            seen += [f.__code__ for f in vars(obj).values() if isinstance(f, types.FunctionType)]
    stack, out = list(seen), []
    while stack:
        c = stack.pop()
        out.append(c)
        stack += [k for k in c.co_consts if isinstance(k, types.CodeType)]
    return out


def _modules():
    import dataclasses
    import json.decoder
    import textwrap

    from transparency_cases import (
        classes,
        control_flow,
        exceptions,
        functional,
        generators,
        numpy_cases,
    )
    return [classes, control_flow, exceptions, functional, generators, numpy_cases,
            textwrap, json.decoder, dataclasses, inspect]


# opcode names the rewriter inserts or that replace originals (PUSH_NULL -> LOAD_CONST ...)
_PROBE_NAMES = {"LOAD_CONST", "SWAP", "PRECALL", "CALL", "POP_TOP", "KW_NAMES", "LOAD_ATTR",
                "CACHE",
                # 3.12+: slices (BUILD_SLICE 2), super().m (LOAD_SUPER_ATTR without the method
                # bit); 3.13: COPY (DICT_MERGE), TO_BOOL (COMPARE_OP), CALL_KW (star calls)
                "BUILD_SLICE", "LOAD_SUPER_ATTR", "COPY", "TO_BOOL", "CALL_KW",
                "UNARY_NOT",  # (after the call that replaces CONTAINS_OP, for `not in`)
                "BUILD_TUPLE"}  # (a set display's items, then SET_BUILD through the call probe)
_REPLACED = {"BINARY_OP", "COMPARE_OP", "BINARY_SUBSCR", "STORE_SUBSCR", "UNARY_NEGATIVE",
             "UNARY_POSITIVE", "UNARY_INVERT", "PUSH_NULL", "LOAD_METHOD", "CALL_FUNCTION_EX",
             # 3.12+ (+x is CALL_INTRINSIC_1 5); 3.13
             "BINARY_SLICE", "STORE_SLICE", "CALL_INTRINSIC_1", "DICT_MERGE",
             "CONTAINS_OP",  # (a call of operator.contains)
             # f-strings: calls of format and str/repr/ascii (3.11/3.12; 3.13)
             "FORMAT_VALUE", "FORMAT_SIMPLE", "FORMAT_WITH_SPEC", "CONVERT_VALUE",
             # set displays and comprehensions, dict comprehensions: calls of partials;
             # dict displays (BUILD_MAP n: pairs, a BUILD_MAP 0 and a call) and {**m}
             "BUILD_SET", "SET_ADD", "SET_UPDATE", "MAP_ADD", "BUILD_MAP", "DICT_UPDATE"}
#: 3.11's ``a or b`` jumps become COPY 1, bool(v), POP_JUMP_FORWARD_IF_*, POP_TOP (the truth
#: test through the call probe): compared as the jump they become
_AS = {"JUMP_IF_TRUE_OR_POP": "POP_JUMP_FORWARD_IF_TRUE",
       "JUMP_IF_FALSE_OR_POP": "POP_JUMP_FORWARD_IF_FALSE"}


def _skeleton(code):
    """(name, lineno) of instructions the rewriter neither inserts nor replaces."""
    out = []
    for ins in ConcreteBytecode.from_code(code):
        if not isinstance(ins, Instr | type(None)) and hasattr(ins, "name"):
            if ins.name in _PROBE_NAMES or ins.name in _REPLACED or ins.name == "LOAD_GLOBAL":
                continue
            if ins.name == "STORE_ATTR" and \
                    code.co_names[ins.arg] in T.ATTR_NAMES:  # (a store: the call probe's)
                continue
            if ins.name == "EXTENDED_ARG":
                continue
            out.append((_AS.get(ins.name, ins.name), ins.lineno))
    return out


def test_bytecode_package_decodes_every_instrumented_code_object():
    checked = 0
    probes = _probes()
    for module in _modules():
        for code in _code_objects(module):
            new = instrument(code, probes)
            assert new is not None, f"refused {code.co_qualname}"
            if new is code:
                continue
            bc = Bytecode.from_code(new)
            need_new = ControlFlowGraph.from_bytecode(bc).compute_stacksize()
            need_old = ControlFlowGraph.from_bytecode(Bytecode.from_code(code)).compute_stacksize()
            # bytecode's estimate can exceed CPython's around handlers; compare the growth
            assert need_new - need_old <= new.co_stacksize - code.co_stacksize, code.co_qualname
            assert _skeleton(new) == _skeleton(code), code.co_qualname
            assert bc.argnames == Bytecode.from_code(code).argnames
            checked += 1
    assert checked > 200


_TRUTH = ("POP_JUMP_FORWARD_IF_TRUE", "POP_JUMP_FORWARD_IF_FALSE", "POP_JUMP_BACKWARD_IF_TRUE",
          "POP_JUMP_BACKWARD_IF_FALSE", "JUMP_IF_TRUE_OR_POP", "JUMP_IF_FALSE_OR_POP",
          "POP_JUMP_IF_TRUE", "POP_JUMP_IF_FALSE", "UNARY_NOT", "TO_BOOL")


def test_truth_test_replacements_keep_both_branches_stack_depths():
    """Each truth-test replacement (a jump among its instructions) leaves the stack as the
    original does on the path that jumps and on the one that falls through, within the
    declared extra; the jump is the last or next-to-last instruction."""
    import dis

    ctx = rewriter._Ctx(_probes(), (), frozenset(), [])  # (no instruction before)
    names = [n for n in _TRUTH if n in T.REWRITES]
    assert names, "no truth test is rewritten"
    jumps = T.JUMPS_FORWARD | T.JUMPS_BACKWARD
    for name in names:
        op = T.OP[name]
        r = T.REWRITES[name](ctx, 0)
        assert r is not None, name
        seq, extra = r
        is_jump = op in jumps

        def effect(o, a, jump):
            return dis.stack_effect(o, a if o >= dis.HAVE_ARGUMENT else None,
                                    **({"jump": jump} if o in jumps else {}))

        for jump in ((False, True) if is_jump else (False,)):
            orig = effect(op, 0, jump)
            depth = peak = 0
            for k, (o, a) in enumerate(seq):
                if o in jumps and jump:
                    depth += effect(o, a, True)
                    assert k >= len(seq) - 2, name
                    break
                depth += effect(o, a, False)
                peak = max(peak, depth)
            assert depth == orig, (name, jump, depth, orig)
            assert peak - max(0, orig) <= extra, (name, peak, extra)
        assert sum(o in jumps for o, _ in seq) == is_jump, name


def test_truth_tests_after_a_comparison_are_kept():
    """``if a < b:``, ``not (a < c)``, ``a is b or c``: the value is a comparison's (guarded
    by the COMPARE probe) or an exact bool; the truth test after it gets no call."""
    def f(a, b, c):
        if a < b:
            c = not (a < c)
        return (a is b) or c

    probes = _probes()
    new = instrument(f.__code__, probes)
    bool_idx = [i for i, k in enumerate(new.co_consts) if k is bool]
    assert not bool_idx, "a truth test after a comparison was rewritten"

    def g(a, b):
        return (a or b) if not a else b

    new = instrument(g.__code__, probes)
    assert any(k is bool for k in new.co_consts)
