"""The rewriter's output checked by an independent decoder: the `bytecode` package.

framead assembles instrumented code itself (about 3 us per instruction instead of the 20-30 us
a `bytecode.Bytecode` round trip costs), so its output is cross-checked here: the `bytecode`
package must decode every instrumented code object into a control-flow graph, compute a
stack depth whose growth over the original fits the growth of ``co_stacksize``, and see the
original instructions, with their line numbers, in the same order once the probe sequences
are removed.
"""

from __future__ import annotations

import inspect
import sys
import types

import pytest
from bytecode import Bytecode, ConcreteBytecode, ControlFlowGraph, Instr
from framead.capture.rewriter import instrument
from framead.capture.session import PROBES

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="CPython 3.11 table")


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
                "CACHE"}
_REPLACED = {"BINARY_OP", "COMPARE_OP", "BINARY_SUBSCR", "STORE_SUBSCR", "UNARY_NEGATIVE",
             "UNARY_POSITIVE", "UNARY_INVERT", "PUSH_NULL", "LOAD_METHOD", "CALL_FUNCTION_EX"}


def _skeleton(code):
    """(name, lineno) of instructions the rewriter neither inserts nor replaces."""
    out = []
    for ins in ConcreteBytecode.from_code(code):
        if not isinstance(ins, Instr | type(None)) and hasattr(ins, "name"):
            if ins.name in _PROBE_NAMES or ins.name in _REPLACED or ins.name == "LOAD_GLOBAL":
                continue
            if ins.name == "EXTENDED_ARG":
                continue
            out.append((ins.name, ins.lineno))
    return out


def test_bytecode_package_decodes_every_instrumented_code_object():
    checked = 0
    for module in _modules():
        for code in _code_objects(module):
            new = instrument(code, PROBES)
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
