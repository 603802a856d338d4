"""What the per-version opcode tables share (``opcodes311``, ``opcodes312``, ``opcodes313``;
docs/internals.md, section 2).

* ``ProbeSpec``: what a probes object carries for one table (the probe tuples indexed by an
  instruction's argument, the single probes, the marker tuples the call probe recognises by
  identity, ``ATTR_NAMES``), and the table's ``check_probes``, ``probe_objects`` and
  placeholder probes built from it.
* ``Probes``: the base of each table's ``Probes`` class (the probes taken from the C
  extension's attributes).
* ``Emitter``: the replacement sequences that do not depend on the calling convention beyond
  one fact, how ``[x, y, *args]`` on the stack is called as ``x(y, *args)`` (3.11:
  ``PRECALL n; CALL n``; 3.12 and 3.13: ``CALL n``).

A rewrite function is called as ``fn(ctx, arg)`` and returns ``None`` (keep the instruction)
or ``(instrs, extra)``: the ``(opcode, arg)`` pairs replacing the instruction and how many
stack slots they need beyond the original instruction's own peak (capture/rewriter.py).
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any, ClassVar

#: the names the star-call marker tuples carry (the C call probe compares the tuples by
#: identity, never by these names)
STAR = "__framead_star__"
DSTAR = "__framead_dstar__"
#: attribute names whose loads (getattr probe) and stores (call probe with setattr) are
#: instrumented (.data, .ctypes: an array's raw memory, FA105 where it is traced; not
#: __array_interface__, which NumPy's Python code and framead's own view walk read)
ATTR_NAMES = frozenset({"T", "mT", "real", "imag", "flat", "data", "ctypes"})
#: attribute names whose stores only are instrumented too: ``a.shape = s``, ``a.dtype = d``,
#: ``a.strides = s`` change how a traced array reads its memory (values.set_layout)
LAYOUT_NAMES = frozenset({"shape", "dtype", "strides"})
N_COMPARE = 6

Instrs = list[tuple[int, int]]
Rewrite = Callable[[Any, int], "tuple[Instrs, int] | None"]


class _Placeholder:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<probe {self.name}>"


class ProbeSpec:
    """What a probes object carries for one opcode table: ``tuples`` (name -> length: probes
    indexed by the instruction's argument), ``names`` (single probes), ``markers`` (tuples the
    call probe recognises by identity) and ``ATTR_NAMES``."""

    def __init__(self, version: tuple[int, int], tuples: dict[str, int], names: tuple[str, ...],
                 markers: tuple[str, ...]) -> None:
        self.version = version
        self.tuples = tuples
        self.names = names
        self.markers = markers

    def all_names(self) -> tuple[str, ...]:
        """Every attribute a probes object takes from its source."""
        return (*self.tuples, *self.names, *self.markers)

    def check(self, probes: Any) -> None:
        """Raise TypeError when ``probes`` lacks what this table's rewrites use."""
        missing = [n for n in (*self.all_names(), "ATTR_NAMES") if not hasattr(probes, n)]
        if missing:
            raise TypeError(f"probes object lacks {', '.join(missing)}")
        bad = [f"probes.{n} needs {k} entries" for n, k in self.tuples.items()
               if hasattr(probes, n) and len(getattr(probes, n)) != k]
        if bad:
            raise TypeError(" and ".join(bad))
        for n in self.markers:
            if type(getattr(probes, n)) is not tuple:
                raise TypeError(f"probes.{n} must be a tuple of str")

    def objects(self, probes: Any) -> list:
        """Every object a rewrite may put into co_consts (to recognise instrumented code)."""
        return [*(p for name in self.tuples for p in getattr(probes, name, ())),
                *(getattr(probes, name) for name in (*self.names, *self.markers))]

    def placeholder_source(self) -> Any:
        """A stand-in for the C extension: placeholder objects under the probes' names (what
        the rewriter refuses does not depend on which objects the probes are)."""
        return types.SimpleNamespace(
            **{name: tuple(_Placeholder(f"{name.lower()}{i}") for i in range(n))
               for name, n in self.tuples.items()},
            **{name: _Placeholder(name) for name in self.names},
            STAR_KWNAMES1=(STAR,),
            STAR_KWNAMES2=(STAR, DSTAR),
        )


class Probes:
    """A probes object: the probe objects and marker tuples its table's ``SPEC`` names, taken
    from the attributes of the same names of ``source`` (the C extension,
    capture/_evalframe.c), and ``ATTR_NAMES``."""

    SPEC: ClassVar[ProbeSpec]

    def __init__(self, source: Any) -> None:
        spec = self.SPEC
        missing = [n for n in spec.all_names() if not hasattr(source, n)]
        if missing:
            v = ".".join(map(str, spec.version))
            raise AttributeError(f"the probes of the Python {v} opcode table are missing from "
                                 f"{source!r}: {', '.join(missing)}")
        for name in spec.all_names():
            setattr(self, name, getattr(source, name))
        self.ATTR_NAMES = ATTR_NAMES


#: f-string formatting as calls (``format(v, spec)``, a conversion's ``str``/``repr``/``ascii``
#: by its code): partials of the builtins, which a profiler's c_call events do not name (an
#: f-string makes none natively); call_kinds lists them as TEXT
FORMAT = functools.partial(format)
CONVERSIONS = (None, str, functools.partial(repr), functools.partial(ascii))
#: a set display's and comprehension's insertions as calls (``set(items)``, ``set.add(s, v)``,
#: ``set.update(s, it)``: a cached trace guards which items merge and the set's order,
#: membership.hashed_call); partials, which a profiler's c_call events do not name (the
#: instructions make none natively) and which the trampoline's flags tell from the program's
#: own calls of set, set.add and set.update
SET_BUILD: functools.partial[set] = functools.partial(set)
SET_ADD = functools.partial(set.add)
SET_UPDATE = functools.partial(set.update)
#: a dict comprehension's insertion ``d[k] = v`` as ``dict.update(d, ((k, v),))`` (the same
#: PyDict_SetItem; a cached trace guards which key it merges into: membership.pairs_call)
DICT_ADD = functools.partial(dict.update)
NB_ADD = 0  # BINARY_OP's argument for ``+`` (3.11-3.13)


#: instructions whose result a truth test after them needs no probe for: an exact bool, or a
#: comparison's result (the COMPARE probe guards the comparison itself)
BOOL_MAKERS = ("COMPARE_OP", "CONTAINS_OP", "IS_OP", "UNARY_NOT", "TO_BOOL")


class Emitter:
    """Replacement sequences on one calling convention. ``call(n)``: the instructions that turn
    ``[x, y, *args]`` (``n`` args) into ``x(y, *args)``; so ``LOAD_CONST probe`` rotated under
    the operands makes them ``probe(*operands)``."""

    def __init__(self, op: dict[str, int], call: Callable[[int], Instrs]) -> None:
        self.call = call
        self.LOAD_CONST = op["LOAD_CONST"]
        self.SWAP = op["SWAP"]
        self.POP_TOP = op["POP_TOP"]
        self.COPY = op["COPY"]
        #: instructions that leave an exact bool (or a guarded comparison's result) on top
        self.BOOL_MAKERS = frozenset(op[n] for n in BOOL_MAKERS if n in op)

    # -- sequences

    def call_under(self, ctx: Any, probe: Any, nargs: int) -> Instrs:
        """Stack [*args] (nargs values) -> [probe(*args)]; peak +1."""
        seq = [(self.LOAD_CONST, ctx.const(probe))]
        # rotate the probe under the nargs operands
        if nargs == 1:
            seq.append((self.SWAP, 2))
        elif nargs == 2:
            seq += [(self.SWAP, 3), (self.SWAP, 2)]
        else:  # pragma: no cover - not used
            raise AssertionError(nargs)
        return seq + self.call(nargs - 1)

    def getattr_seq(self, ctx: Any, namei: int) -> Instrs:
        """[obj] -> getattr(obj, 'name'); peak +2."""
        return [
            (self.LOAD_CONST, ctx.const(ctx.probes.getattr)),
            (self.SWAP, 2),
            (self.LOAD_CONST, ctx.const(ctx.names[namei])),
            *self.call(1),
        ]

    def setitem_seq(self, ctx: Any) -> Instrs:
        """[v, a, k] -> setitem(a, k, v); its result None dropped; peak +1."""
        return [
            (self.LOAD_CONST, ctx.const(ctx.probes.setitem)),  # [v, a, k, s]
            (self.SWAP, 4),  # [s, a, k, v]
            *self.call(2),
            (self.POP_TOP, 0),
        ]

    def under_call(self, ctx: Any) -> Instrs:
        """[f] -> [call, f]: a call of ``f`` then runs through the call probe; peak +1."""
        return [(self.LOAD_CONST, ctx.const(ctx.probes.call)), (self.SWAP, 2)]

    def via_call(self, ctx: Any, fn: Any, nargs: int) -> Instrs:
        """[*args] (1 or 2 values) -> call(fn, *args), through the call probe; peak +2."""
        rot = [(self.SWAP, 2)] if nargs == 1 else [(self.SWAP, 3), (self.SWAP, 2)]
        return [(self.LOAD_CONST, ctx.const(ctx.probes.call)), *rot,
                (self.LOAD_CONST, ctx.const(fn)), *rot, *self.call(nargs)]

    def decided_before(self, ctx: Any) -> bool:
        """Whether the value on top of the stack was made by a ``BOOL_MAKERS`` instruction just
        before (or copied from one by ``COPY 1``: ``a < b or c``), on every path."""
        prev = ctx.before(1)
        if prev == (self.COPY, 1):
            prev = ctx.before(2)
        return prev is not None and prev[0] in self.BOOL_MAKERS

    # -- rewrite functions (``fn(ctx, arg)``)

    def truth(self, opcode: int | None) -> Rewrite:
        """A truth test (``if v:``, ``not v``, ``while v:``, ``assert v``): [v] ->
        call(bool, v), through the call probe (a cached trace guards the decision on a traced
        value), then ``opcode`` (the jump or UNARY_NOT, which then tests an exact bool and
        calls no __bool__ again; None: nothing, 3.13's TO_BOOL). Kept where the value is
        decided already (``decided_before``); peak +2."""

        def rewrite(ctx, arg):
            if self.decided_before(ctx):
                return None
            seq = self.via_call(ctx, bool, 1)
            return (seq if opcode is None else seq + [(opcode, arg)]), 2

        rewrite.__name__ = "_truth"
        return rewrite

    def truth_or_pop(self, pop_jump: int) -> Rewrite:
        """3.11 ``JUMP_IF_TRUE_OR_POP`` / ``JUMP_IF_FALSE_OR_POP`` (``a or b``: the jump
        keeps ``a``): [v] -> [v, call(bool, v)]; ``pop_jump`` (POP_JUMP_FORWARD_IF_TRUE or
        _FALSE) to the same target with [v]; POP_TOP where it falls through; peak +3."""

        def rewrite(ctx, arg):
            if self.decided_before(ctx):
                return None
            return [(self.COPY, 1), *self.via_call(ctx, bool, 1), (pop_jump, arg),
                    (self.POP_TOP, 0)], 3

        rewrite.__name__ = "_truth_or_pop"
        return rewrite

    def probe2(self, tuple_name: str, index: Callable[[int], int] | None = None) -> Rewrite:
        """[a, b] -> probes.<tuple_name>[index(arg)](a, b) (``index``: the instruction's
        argument as it is, where None)."""

        def rewrite(ctx, arg):
            probe = getattr(ctx.probes, tuple_name)[arg if index is None else index(arg)]
            return self.call_under(ctx, probe, 2), 1

        rewrite.__name__ = f"_{tuple_name.lower()}"
        return rewrite

    def unary(self, name: str) -> Rewrite:
        """[a] -> probe(a)."""

        def rewrite(ctx, arg):
            return self.call_under(ctx, getattr(ctx.probes, name), 1), 1

        rewrite.__name__ = f"_unary_{name}"
        return rewrite

    def before(self, name: str, opcode: int) -> Rewrite:
        """[obj] -> probe(obj), then the original instruction."""

        def rewrite(ctx, arg):
            return self.call_under(ctx, getattr(ctx.probes, name), 1) + [(opcode, arg)], 1

        rewrite.__name__ = f"_before_{name}"
        return rewrite

    def format_value(self, ctx: Any, arg: int) -> tuple[Instrs, int]:
        """3.11/3.12 ``FORMAT_VALUE`` (an f-string's ``{value!conv:spec}``): [value(, spec)]
        -> format(conv(value)(, spec)), calls the call probe sees (text of traced values is
        guarded in a cached trace: calls._text); the same text as the instruction makes."""
        swap = [(self.SWAP, 2)] if arg & 4 else []  # (the conversion applies to the value)
        seq = swap + self.via_call(ctx, CONVERSIONS[arg & 3], 1) + swap if arg & 3 else []
        return seq + self.via_call(ctx, FORMAT, 2 if arg & 4 else 1), 2

    def format_rewrites(self) -> dict[str, Rewrite]:
        """3.13's f-string instructions: FORMAT_SIMPLE, FORMAT_WITH_SPEC, CONVERT_VALUE."""
        return {"FORMAT_SIMPLE": lambda ctx, arg: (self.via_call(ctx, FORMAT, 1), 2),
                "FORMAT_WITH_SPEC": lambda ctx, arg: (self.via_call(ctx, FORMAT, 2), 2),
                "CONVERT_VALUE": lambda ctx, arg: (self.via_call(ctx, CONVERSIONS[arg], 1), 2)}

    def set_rewrites(self, op: dict[str, int]) -> dict[str, Rewrite]:
        """A set display ``{a, b}``, ``{*it}`` and a comprehension ``{v for v in it}`` made by
        calls the call probe sees (only given traced values, or a set of them, do they leave
        C): ``BUILD_SET n`` (n > 0) -> ``SET_BUILD((items))`` (the same insertions, in the same
        order); ``SET_ADD i`` -> ``SET_ADD(s, v)``; ``SET_UPDATE i`` -> ``SET_UPDATE(s, it)``
        (kept after LOAD_CONST: a constant frozenset, ``{1, 2, 3}``); a dict comprehension's
        ``MAP_ADD i`` -> ``DICT_ADD(d, ((k, v),))``, a dict display's ``BUILD_MAP n`` (n > 0,
        keys not all constants) -> ``DICT_ADD({}, ((k1, v1), ..))``, its ``{**m}``'s
        ``DICT_UPDATE i`` -> ``probes.dict_update(d, m)``."""
        BUILD_TUPLE, LOAD_CONST, COPY, SWAP = op["BUILD_TUPLE"], self.LOAD_CONST, self.COPY, \
            self.SWAP
        BUILD_MAP, BINARY_OP = op["BUILD_MAP"], op["BINARY_OP"]

        def build_set(ctx, arg):
            if arg == 0:
                return None
            return [(BUILD_TUPLE, arg), *self.via_call(ctx, SET_BUILD, 1)], 2

        def inserting(fn):
            def rewrite(ctx, arg):
                prev = ctx.before(1)
                if fn is SET_UPDATE and prev is not None and prev[0] == LOAD_CONST:
                    return None
                # [s, *(arg - 1 items), v] -> [s, *items, s, v] -> fn(s, v), its None dropped
                return [(COPY, arg + 1), (SWAP, 2), *self.via_call(ctx, fn, 2),
                        (self.POP_TOP, 0)], 3

            rewrite.__name__ = f"_{fn.func.__name__}"
            return rewrite

        def map_add(ctx, arg):
            # [d, *(arg - 1 items), k, v] -> [d, *items, d, ((k, v),)] -> DICT_ADD(d, pairs)
            return [(BUILD_TUPLE, 2), (BUILD_TUPLE, 1), (COPY, arg + 1), (SWAP, 2),
                    *self.via_call(ctx, DICT_ADD, 2), (self.POP_TOP, 0)], 2

        def build_map(ctx, arg):
            # [k1, v1, .., kn, vn] -> [((k1, v1), .., (kn, vn))] (pairs from the top, each put
            # in front: [.., k, v, T] -> [.., T, ((k, v),)] -> [.., ((k, v),) + T]) -> a new
            # dict d and DICT_ADD(d, pairs): the display's insertions, in its order
            seq = [(BUILD_TUPLE, 2), (BUILD_TUPLE, 1)]
            for _ in range(arg - 1):
                seq += [(SWAP, 3), (SWAP, 2), (BUILD_TUPLE, 2), (BUILD_TUPLE, 1), (SWAP, 2),
                        (BINARY_OP, NB_ADD)]
            return [*seq, (BUILD_MAP, 0), (SWAP, 2), (COPY, 2), (SWAP, 2),
                    *self.via_call(ctx, DICT_ADD, 2), (self.POP_TOP, 0)], 4

        def dict_update(ctx, arg):
            # [d, *(arg - 1 items), m] -> [d, *items, d, m] -> probes.dict_update(d, m) (the
            # instruction's merge and errors), its None dropped
            return [(COPY, arg + 1), (SWAP, 2), *self.via_call(ctx, ctx.probes.dict_update, 2),
                    (self.POP_TOP, 0)], 3

        return {"BUILD_SET": build_set, "SET_ADD": inserting(SET_ADD),
                "SET_UPDATE": inserting(SET_UPDATE), "MAP_ADD": map_add,
                "DICT_UPDATE": dict_update,
                "BUILD_MAP": lambda ctx, arg: build_map(ctx, arg) if arg else None}

    def contains(self, ctx: Any, arg: int) -> tuple[Instrs, int]:
        """``CONTAINS_OP arg`` (``in``; ``not in``: arg 1): [key, table] ->
        probes.CONTAINS[arg](key, table), the C probe that does what the instruction does
        (PySequence_Contains, an exact bool: no TO_BOOL or UNARY_NOT after it) and sends a
        traced key or table, or a list/tuple holding traced items, to the recorder."""
        return self.call_under(ctx, ctx.probes.CONTAINS[arg], 2), 1

    def binary_subscr(self, ctx: Any, arg: int) -> tuple[Instrs, int]:
        """[a, k] -> getitem(a, k)."""
        return self.call_under(ctx, ctx.probes.getitem, 2), 1

    def store_subscr(self, ctx: Any, arg: int) -> tuple[Instrs, int]:
        """[v, a, k] -> setitem(a, k, v)."""
        return self.setitem_seq(ctx), 1

    def store_attr(self, ctx: Any, arg: int) -> tuple[Instrs, int] | None:
        """[v, obj] -> call(setattr, obj, 'name', v) for names in ATTR_NAMES and LAYOUT_NAMES:
        writes like ``a.flat = v`` or ``z.real = v`` are buffer writes, ``a.shape = s`` a new
        layout; the call probe sends them to the recorder only when traced."""
        if arg not in ctx.attr_names and ctx.names[arg] not in LAYOUT_NAMES:
            return None
        LOAD_CONST, SWAP = self.LOAD_CONST, self.SWAP
        return [
            (LOAD_CONST, ctx.const(ctx.probes.call)),  # [v, obj, call]
            (SWAP, 3),  # [call, obj, v]
            (LOAD_CONST, ctx.const(setattr)),  # [call, obj, v, setattr]
            (SWAP, 3),  # [call, setattr, v, obj]
            (SWAP, 2),  # [call, setattr, obj, v]
            (LOAD_CONST, ctx.const(ctx.names[arg])),  # [call, setattr, obj, v, name]
            (SWAP, 2),  # [call, setattr, obj, name, v]
            *self.call(3),
            (self.POP_TOP, 0),
        ], 3

    def iteration_and_stores(self, op: dict[str, int]) -> dict[str, Rewrite]:
        """The rewrites every version shares: probes before the instructions that iterate or
        unpack (a traced array gives its traced rows) and the instrumented attribute stores."""
        return {
            "STORE_ATTR": self.store_attr,
            "GET_ITER": self.before("getiter", op["GET_ITER"]),
            "UNPACK_SEQUENCE": self.before("unpack", op["UNPACK_SEQUENCE"]),
            "UNPACK_EX": self.before("unpack", op["UNPACK_EX"]),
            # [*x], (*x, 2.0), f(*a, *b): a traced array is extended by its (traced) rows
            "LIST_EXTEND": self.before("getiter", op["LIST_EXTEND"]),
            # {a, b}, {*x}, {v for v in x}: calls (a traced array: its rows, as set(x) reads)
            **self.set_rewrites(op),
            # yield from x: a traced array's rows, which SEND steps through
            "GET_YIELD_FROM_ITER": self.before("getiter", op["GET_YIELD_FROM_ITER"]),
        }

    def load_global(self, load_global: int) -> Rewrite:
        """``LOAD_GLOBAL`` with the NULL bit: the NULL becomes the call probe, under the global
        (3.11, 3.12: the NULL is below it anyway; 3.13: above it, and [call, f] calls the same)."""

        def rewrite(ctx, arg):
            if not arg & 1:
                return None
            return [(self.LOAD_CONST, ctx.const(ctx.probes.call)), (load_global, arg & ~1)], 0

        rewrite.__name__ = "_load_global"
        return rewrite

    def star_marker(self, ctx: Any, arg: int) -> tuple[Any, int]:
        """The marker tuple of ``CALL_FUNCTION_EX arg`` and the number of call arguments it
        names: the call probe recognises the tuple by identity and does CALL_FUNCTION_EX."""
        if arg & 1:
            return ctx.probes.STAR_KWNAMES2, 2
        return ctx.probes.STAR_KWNAMES1, 1
