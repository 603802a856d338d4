"""What CPython 3.12 and 3.13 changed in the bytecode the rewriter handles: tests that fail on a
naive port of the 3.11 opcode table (capture/opcodes311.py -> opcodes312.py, opcodes313.py).

Every test runs on every Python that has a table; the ones about one version's bytecode say
so. Programs run natively and instrumented with the Python stand-in probes of
tests/test_rewriter.py (they log each call and perform the operation), and must agree.

* slices: ``a[i:j]`` / ``a[i:j] = v`` are ``BINARY_SLICE`` / ``STORE_SLICE`` on 3.12+ and must
  reach the getitem/setitem probes with a slice object (else slice writes on traced arrays are
  lost): ``test_slices_reach_the_subscript_probes``.
* ``COMPARE_OP`` with the to-bool bit (3.13): a ``TO_BOOL`` must follow the probe, or a branch
  on a NumPy comparison goes the wrong way: ``test_compare_to_bool_follows_the_probe``,
  ``test_branches_on_numpy_comparisons``.
* ``+x`` is ``CALL_INTRINSIC_1 5`` on 3.12+: ``test_unary_positive_reaches_its_probe``.
* ``DICT_MERGE`` (3.13) names the lowest call slot in its errors: ``test_dict_merge_*``.
* super(), star calls, inlined comprehensions, generators, try/finally, with, match,
  f-strings, walrus, closures, PEP 695: ``test_round_trip``.
"""

from __future__ import annotations

import dis
import opcode
import sys
import textwrap
import types
from types import CodeType

import numpy as np
import pytest
from framead.capture import bytecode_codec, rewriter
from framead.capture.rewriter import instrument, refuse_reason, rewrite
from test_rewriter import StandInProbes, check_same, instrument_function

T = rewriter.opcode_table()
V = sys.version_info[:2]
pytestmark = pytest.mark.skipif(T is None, reason=f"no opcode table for Python {V[0]}.{V[1]}")


def _ops(code: CodeType) -> list[str]:
    return [i.opname for i in dis.get_instructions(code)]


def _walk(code: CodeType):
    yield code
    for c in code.co_consts:
        if isinstance(c, CodeType):
            yield from _walk(c)


# ----------------------------------------------------------------------------------------
# the table's facts
# ----------------------------------------------------------------------------------------


def test_the_table_is_the_running_versions():
    assert T.VERSION == V
    assert T.__name__.rsplit(".", 1)[1] == f"opcodes{V[0]}{V[1]}"
    assert rewriter.probes_from(T.placeholder_probes()) is not None


def test_no_pseudo_or_instrumented_opcodes_in_the_tables():
    ops = set(T.KNOWN) | set(T.JUMPS_FORWARD) | set(T.JUMPS_BACKWARD)
    ops |= {T.OP[name] for name in T.REWRITES}
    assert all(0 <= op < 256 for op in ops)
    assert T.JUMPS_FORWARD | T.JUMPS_BACKWARD <= T.KNOWN
    assert {T.OP[name] for name in T.REWRITES} <= T.KNOWN
    names = {T.OPNAME[op] for op in T.KNOWN}
    assert not {n for n in names if n.startswith("INSTRUMENTED_")}
    assert "ENTER_EXECUTOR" not in names
    if V >= (3, 12):
        assert not {"LOAD_METHOD", "PRECALL", "UNARY_POSITIVE"} & set(T.REWRITES)
        assert {"BINARY_SLICE", "STORE_SLICE", "CALL_INTRINSIC_1", "LOAD_SUPER_ATTR"} <= set(
            T.REWRITES)
    assert ("DICT_MERGE" in T.REWRITES) == (V >= (3, 13))


def test_cache_sizes_agree_with_the_cache_formats():
    """``CACHES`` against an independent source: opcode._cache_format (field sizes)."""
    formats = {name: sum(f.values()) for name, f in opcode._cache_format.items()}
    for op in T.KNOWN:
        assert T.CACHES[op] == formats.get(T.OPNAME[op], 0), T.OPNAME[op]


def _stdlib_codes():
    import argparse
    import asyncio.base_events
    import inspect
    import json.decoder

    for mod in (argparse, json.decoder, inspect, asyncio.base_events, textwrap):
        yield from _walk(compile(inspect.getsource(mod), mod.__file__, "exec"))


def test_jump_targets_agree_with_dis():
    """Where the decoder says each jump lands (jump base, caches, direction) is where dis says
    it does, on every jump of a few stdlib modules."""
    njumps = 0
    for code in _stdlib_codes():
        ops, args, starts, opunits, _, jumps, _ = bytecode_codec.decode(code, T)
        by_offset = {i.offset: i for i in dis.get_instructions(code)}
        for k, j in enumerate(jumps):
            if j >= 0:
                ins = by_offset[2 * opunits[k]]
                assert ins.argval == 2 * starts[j], (code.co_qualname, ins)
                njumps += 1
    assert njumps > 1000


def test_probe_names_per_version():
    assert ("dict_merge" in T.PROBE_NAMES) == (V >= (3, 13))
    probes = T.placeholder_probes()
    T.check_probes(probes)
    assert all(hasattr(probes, n) for n in T.PROBE_NAMES)
    if V >= (3, 13):
        lacking = types.SimpleNamespace(**{n: getattr(probes, n) for n in (
            *T.PROBE_TUPLES, *T.PROBE_NAMES, *T.MARKER_NAMES, "ATTR_NAMES") if n != "dict_merge"})
        with pytest.raises(TypeError, match="lacks dict_merge"):
            T.check_probes(lacking)
        with pytest.raises(AttributeError, match="dict_merge"):
            T.Probes(lacking)


def test_no_table_refuses_with_a_clear_message(monkeypatch):
    def f(a):
        return a + 1

    probes = StandInProbes()
    monkeypatch.setattr(rewriter, "_TABLE", None)
    assert rewriter.opcode_table() is None and rewriter.probes_from(object()) is None
    assert instrument(f.__code__, probes) is None
    assert refuse_reason(f.__code__, probes) == f"no opcode table for Python {V[0]}.{V[1]}"
    assert refuse_reason(f.__code__) == f"no opcode table for Python {V[0]}.{V[1]}"


# ----------------------------------------------------------------------------------------
# slices (3.12+: BINARY_SLICE, STORE_SLICE)
# ----------------------------------------------------------------------------------------


def _recording_probes():
    """Stand-in probes whose getitem/setitem also record their keys."""
    probes = StandInProbes()
    keys: list = []

    def getitem(a, k):
        keys.append(("get", k))
        return a[k]

    def setitem(a, k, v):
        keys.append(("set", k))
        a[k] = v

    probes.getitem, probes.setitem = getitem, setitem
    return probes, keys


def test_slices_reach_the_subscript_probes():
    def f(a, v):
        b = a[1:3]
        a[1:3] = v
        a[0:1] += v[:1]
        a[::2] = a[::2] * 2
        return b

    probes, keys = _recording_probes()
    g = instrument_function(f, probes)
    new_ops = _ops(g.__code__)
    assert "BINARY_SLICE" not in new_ops and "STORE_SLICE" not in new_ops
    if V >= (3, 12):
        assert {"BINARY_SLICE", "STORE_SLICE"} <= set(_ops(f.__code__))
    a0, v = np.arange(5.0), np.array([7.0, 8.0])
    a1, a2 = a0.copy(), a0.copy()
    assert np.array_equal(g(a1, v), f(a2, v)) and np.array_equal(a1, a2)
    s13, s01, s2 = slice(1, 3), slice(0, 1), slice(None, None, 2)
    assert keys == [("get", s13), ("set", s13), ("get", s01), ("get", slice(None, 1)),
                    ("set", s01), ("get", s2), ("set", s2)]


def test_slice_write_on_a_traced_array_is_seen():
    """What the recorder needs: the write ``a[1:3] = v`` arrives at setitem with the array, the
    slice and the value (without the rewrite it never reaches a probe)."""
    writes = []
    probes = StandInProbes()

    def setitem(a, k, v):
        writes.append((id(a), k, v))
        a[k] = v

    probes.setitem = setitem

    def f(a, v):
        a[1:3] = v * 2.0
        return a.sum()

    a = np.ones(4)
    assert instrument_function(f, probes)(a, 3.0) == 14.0
    assert writes == [(id(a), slice(1, 3), 6.0)]


# ----------------------------------------------------------------------------------------
# COMPARE_OP's to-bool bit (3.13)
# ----------------------------------------------------------------------------------------


@pytest.mark.skipif(V < (3, 13), reason="COMPARE_OP's to-bool bit is 3.13's")
def test_compare_to_bool_follows_the_probe():
    def f(a, b):
        x = a < b  # the comparison's own value: no TO_BOOL
        if a < b:  # bool(a < b): COMPARE_OP with bit 16
            return x
        return not (a >= b)

    bools = [i.arg & 16 for i in dis.get_instructions(f.__code__) if i.opname == "COMPARE_OP"]
    assert bools == [0, 16, 16]
    ins = list(dis.get_instructions(rewrite(f.__code__, StandInProbes())))
    assert "COMPARE_OP" not in _ops(rewrite(f.__code__, StandInProbes()))
    calls = [k for k, i in enumerate(ins) if i.opname == "CALL"]
    after = [ins[k + 1].opname for k in calls]
    assert after == ["STORE_FAST", "TO_BOOL", "TO_BOOL"]
    assert ins[calls[1] + 2].opname == "POP_JUMP_IF_FALSE"
    assert ins[calls[2] + 2].opname == "UNARY_NOT"


def _numpy_compare_probes(as_float):
    """Stand-in probes whose comparisons return NumPy bools (or NumPy floats), as a traced
    comparison may: never Py_True/Py_False themselves."""
    probes = StandInProbes()
    native = [p for p in probes.COMPARE]

    def wrap(p):
        def probe(a, b):
            r = bool(p(a, b))
            return np.float64(r) if as_float else np.bool_(r)

        return probe

    probes.COMPARE = tuple(wrap(p) for p in native)
    return probes


_BRANCHES = """
def main(x):
    out = []
    if x < 1.0:
        out.append('lt')
    else:
        out.append('ge')
    if not (x > 5.0):
        out.append('not-gt')
    for n in range(50):  # bounded: a wrong branch must fail the test, not hang it
        if not x * n < 10.0:
            break
    y = 'a' if x == 3.0 else 'b'
    z = x < 1.0 or x > 2.0
    w = 0.0 < x <= 4.0
    assert x >= 0.0, 'negative'
    return out, n, y, bool(z), bool(w), [v for v in range(5) if v < x], bool(x != x)
"""


@pytest.mark.parametrize("as_float", [False, True], ids=["np_bool", "np_float"])
@pytest.mark.parametrize("x", [np.float64(3.0), np.float64(0.5), 7.0])
def test_branches_on_numpy_comparisons(as_float, x):
    native, probes = check_same(_BRANCHES, args=(x,), probes=_numpy_compare_probes(as_float))
    assert "compare" in probes.kinds()
    assert "'ge'" in native["result"] or "'lt'" in native["result"]


# ----------------------------------------------------------------------------------------
# +x (3.12+: CALL_INTRINSIC_1 INTRINSIC_UNARY_POSITIVE)
# ----------------------------------------------------------------------------------------


def test_unary_positive_reaches_its_probe():
    from decimal import Decimal, localcontext

    def f(x, d):
        with localcontext() as ctx:
            ctx.prec = 5
            return +x, -x, ~int(x), +d  # +Decimal rounds to the context: the op runs

    probes = StandInProbes()
    g = instrument_function(f, probes)
    d = Decimal("1.23456789")
    assert g(np.float64(2.5), d) == f(np.float64(2.5), d)
    assert ("unary", "pos") in probes.log and probes.log.count(("unary", "pos")) == 2
    new = list(dis.get_instructions(g.__code__))
    assert not [i for i in new if i.opname == "UNARY_POSITIVE"
                or (i.opname == "CALL_INTRINSIC_1" and i.argrepr == "INTRINSIC_UNARY_POSITIVE")]


def test_other_intrinsics_are_kept():
    src = "def f(*a):\n    return (*a, 1)\n"
    code = [c for c in compile(src, "<i>", "exec").co_consts if isinstance(c, CodeType)][0]
    new = rewrite(code, StandInProbes())
    if V >= (3, 12):
        assert "CALL_INTRINSIC_1" in _ops(code) and "CALL_INTRINSIC_1" in _ops(new)
    assert types.FunctionType(new, {})(2, 3) == (2, 3, 1)


# ----------------------------------------------------------------------------------------
# DICT_MERGE (3.13: its errors name the lowest call slot, the call probe under capture)
# ----------------------------------------------------------------------------------------


def test_dict_merge_rewritten_on_313_only():
    def f(g, a, k):
        return g(*a, **k)

    probes = StandInProbes()
    new = rewrite(f.__code__, probes)
    assert "DICT_MERGE" in _ops(f.__code__)
    if V >= (3, 13):
        assert "DICT_MERGE" not in _ops(new)
        assert any(c is probes.dict_merge for c in new.co_consts)
    else:
        assert "DICT_MERGE" in _ops(new)
        assert not any(c is probes.dict_merge for c in new.co_consts)


_DICT_MERGE_CASES = {
    "not_mapping": "def main():\n    return f(**[2])\n",
    "not_mapping_method": "def main():\n    return O().m(1, **[2])\n",
    "not_mapping_after_star": "def main():\n    return f(*[1], **None)\n",
    "duplicate": "def main():\n    return f(**{'x': 2}, **{'x': 3})\n",
    "duplicate_mapping": "def main():\n    return f(x=1, **M())\n",
    "duplicate_builtin": "def main():\n    return dict(a=1, **{'a': 2})\n",
    "ok": "def main():\n    return f(1, **{'y': 2}, **M(), z=3)\n",
    "class_kwargs": "def main():\n    class C(Base, **{'tag': 't'}): pass\n    return C.tag\n",
}
_DICT_MERGE_PRELUDE = """
def f(*a, **k):
    return a, sorted(k.items())
class O:
    def m(self, *a, **k):
        return a, k
class M:
    def keys(self):
        return ['x']
    def __getitem__(self, k):
        return 5
class Base:
    def __init_subclass__(cls, tag=None):
        cls.tag = tag
"""


@pytest.mark.parametrize("name", sorted(_DICT_MERGE_CASES))
def test_dict_merge_errors_name_the_function(name):
    native, probes = check_same(_DICT_MERGE_PRELUDE + _DICT_MERGE_CASES[name])
    if V >= (3, 13):
        assert [e for e in probes.log if e[0] == "dict_merge"], probes.log
        # the function the merge is for, never the call probe
        assert {e[1] for e in probes.log if e[0] == "dict_merge"} <= {"f", "m", "dict",
                                                                      "__build_class__"}
    if name.startswith(("not_mapping", "duplicate")):
        assert native["exc"][0] == "TypeError", native["exc"]


# ----------------------------------------------------------------------------------------
# round trips: each program natively and instrumented (pass-through probes) must agree
# ----------------------------------------------------------------------------------------

ROUND_TRIPS = {
    "super": (
        """
        class Base:
            def __init__(self, x):
                self.x = x
            def m(self, k=1):
                return self.x * k
            @property
            def T(self):
                return ('T of', self.x)
            @classmethod
            def make(cls, x):
                return cls(x)
            def star(self, *a, **k):
                return a, sorted(k)
        class Child(Base):
            def __init__(self, x):
                super().__init__(x + 1)
            def m(self, k=1):
                return super().m(k) + super(Child, self).m(2)
            @property
            def T(self):
                return ('child', super().T, super(Child, self).T)
            @classmethod
            def make(cls, x):
                return super().make(x * 10)
            def star(self, *a, **k):
                return super().star(*a, **k), [super().m(v) for v in a]
        def main():
            c = Child(1)
            return c.m(3), c.T, Child.make(2).x, c.star(1, 2, z=3)
        """,
        [("call", "m"), ("getattr", "T"), ("call", "__init__"), ("call", "make")],
    ),
    "super_shadowed": (
        """
        class Fake:
            T = 'fake T'
            def m(self):
                return 'fake m'
        def super(*a):
            return Fake()
        class A:
            def f(self):
                return super().m(), super().T, super(A, self).T
        def main():
            return A().f()
        """,
        [("call", "m"), ("getattr", "T")],
    ),
    "star_calls": (
        """
        def f(*a, **k):
            return a, sorted(k.items())
        class O:
            def m(self, *a, **k):
                return ('m', a, sorted(k.items()))
        def main():
            a, k, k2 = [1, 2], {'x': 1}, {'y': 2}
            o, g = O(), f
            return (f(*a, **k), g(*a, **k, **k2), o.m(*a, **k), o.m(**k), f(*a, 3, *a),
                    max(*a), dict(**k, w=2), (lambda *q, **w: (q, w))(*a, **k))
        """,
        [("starcall", "f"), ("starcall", "m"), ("starcall", "max"), ("starcall", "dict")],
    ),
    "inlined_comprehensions": (
        """
        def main():
            x = 'outer x'
            xs = [1, 2, 3]
            a = [x * 2 for x in xs]
            b = {x: [x + y for y in xs if y > x] for x in xs}
            c = [lambda: x for x in xs]
            d = [(y := x) for x in xs]
            try:
                [1 / (x - 2) for x in xs]
            except ZeroDivisionError as e:
                err = str(e)
            e = [x for x in xs] + [x for x in xs if x]
            class K:
                z = [v * 2 for v in range(3)]
            g = sum(x * x for x in xs)
            return x, a, b, [f() for f in c], d, y, err, e, K.z, g
        """,
        ["binop", "getiter", "compare"],
    ),
    "generators": (
        """
        def gen(n):
            total = 0
            for i in range(n):
                got = yield i * 2
                if got is not None:
                    total += got
            return total
        def deleg(n):
            r = yield from gen(n)
            yield ('ret', r)
        def main():
            g = gen(4)
            out = [next(g), g.send(10), g.send(5)]
            g2 = deleg(3)
            out.append(next(g2))
            try:
                g2.throw(KeyError('k'))
            except KeyError as e:
                out.append(repr(e))
            g3 = gen(5)
            next(g3)
            g3.close()
            out.append(list(deleg(2)))
            g.close()  # not left to the collector: when it runs differs under the stand-ins
            return out
        """,
        ["binop", "getiter"],
    ),
    "try_finally_with": (
        """
        class CM:
            def __init__(self, log, swallow=False):
                self.log, self.swallow = log, swallow
            def __enter__(self):
                self.log.append('enter')
                return self
            def __exit__(self, t, v, tb):
                self.log.append(('exit', t and t.__name__))
                return self.swallow
        def f(x, log):
            try:
                with CM(log):
                    if x < 0:
                        raise ValueError(x)
                    return 10 / x
            except ZeroDivisionError:
                return 'zero'
            except ValueError as e:
                log.append(repr(e))
            finally:
                log.append(('finally', x))
        def eg(log):
            try:
                raise ExceptionGroup('g', [ValueError(1), KeyError(2)])
            except* ValueError as e:
                log.append(len(e.exceptions))
            except* KeyError:
                log.append('key')
        def g(log):
            for i in range(3):
                try:
                    with CM(log, swallow=True):
                        1 / (i - 1)
                    if i == 2:
                        return i
                finally:
                    log.append(i)
        def main():
            log = []
            return f(2, log), f(0, log), f(-1, log), g(log), eg(log), log
        """,
        ["binop", "compare", "call"],
    ),
    "match": (
        """
        class P:
            __match_args__ = ('x', 'y')
            def __init__(self, x, y):
                self.x, self.y = x, y
        def classify(v):
            match v:
                case [x, y, *rest] if x < y:
                    return ('seq', x + y, rest)
                case {'k': val, **others}:
                    return ('map', val, others)
                case P(0, yy) | P(yy, 0):
                    return ('axis', yy)
                case P(x=xx, y=yy) if xx > yy:
                    return ('pt', xx - yy)
                case float(f) if +f > 1.5:
                    return ('float', -f)
                case str() as s:
                    return s[1:3]
                case _:
                    return 'other'
        def main():
            return [classify(v) for v in ([1, 2, 3], [2, 1], {'k': 1, 'z': 2}, P(0, 5),
                                          P(4, 0), P(5, 1), 2.5, 'hello', None)]
        """,
        ["compare", "binop", ("unary", "pos")],
    ),
    "fstrings_walrus": (
        """
        def main():
            x, y, w = 3.14159, 'txt', 8
            s = f"{x:.2f}|{y!r:>{w}}|{x * 2=}|{[i for i in range(3)]}|{'%d' % 5}|{x!s}"
            t = f"{f'{x:{w}.{2}}'}|{y[1:]!a}"
            data = [1, 5, 9, 2]
            out = [v for v in data if (z := v * 2) > 4]
            if (n := len(data)) > 3:
                s += f' n={n}'
            return s, t, out, z
        """,
        [("binop", 5), ("call", "len"), ("getitem",)],
    ),
    "closures": (
        """
        def outer(a):
            b = a * 2
            def mid(c):
                def inner(d):
                    nonlocal b
                    b += d
                    return a + b + c + d
                return inner
            return mid, lambda: b
        def cellarg(x):
            def get():
                return x
            x = x + 1
            return get
        class K:
            v = 5
            def m(self):
                return [self.v + i for i in range(2)]
        def main():
            mid, getb = outer(1)
            f = mid(10)
            return f(1), f(2), getb(), cellarg(4)(), K().m()
        """,
        ["binop", "call"],
    ),
    "slices": (
        """
        class Rec:
            def __init__(self):
                self.log, self.data = [], list(range(8))
            def __getitem__(self, k):
                self.log.append(('get', k))
                return self.data[k]
            def __setitem__(self, k, v):
                self.log.append(('set', k))
                self.data[k] = v
            def __delitem__(self, k):
                self.log.append(('del', k))
                del self.data[k]
        def main():
            r = Rec()
            a = r[1:3]
            r[2:4] = [9, 9]
            r[0:2] += [7]
            r[::2] = r[::2]
            del r[1:2]
            s = 'abcdef'
            return a, r.log, r.data, s[1:-1], s[::-1], s[2:], s[:2]
        """,
        [("getitem",), ("setitem",)],
    ),
}

_PEP695 = (
    """
    def first[T](xs: list[T]) -> T:
        return xs[0]
    class Box[T]:
        def __init__(self, v: T):
            self.v = v
        def get(self) -> T:
            return self.v * 2
    type Pair[K] = tuple[K, K]
    def main():
        return first([3, 4]), Box(5).get(), Pair.__value__, Box.__type_params__[0].__name__
    """,
    [("getitem",), ("binop", 5)],
)


@pytest.mark.parametrize("name", [*sorted(ROUND_TRIPS), "pep695"])
def test_round_trip(name):
    if name == "pep695":
        if V < (3, 12):
            pytest.skip("PEP 695 syntax is 3.12's")
        src, expect = _PEP695
    else:
        src, expect = ROUND_TRIPS[name]
    check_same(src, expect=expect)


@pytest.mark.parametrize("name", ["generators", "try_finally_with", "match",
                                  "inlined_comprehensions"])
def test_round_trip_line_events(name):
    native, _ = check_same(ROUND_TRIPS[name][0], trace=True)
    assert native["events"]


_NEW_OPCODES = """
import asyncio
def maybe(c):
    if c:
        v = 1
    for i in range(2):
        pass
    return v
def delegate():
    yield from iter([1, 2])
def const():
    return 'c'
def outer(a):
    class K:
        b = a
        c = [a for _ in range(2)]
    return K.b, K.c
def pairs(a, b):
    c, d = a, b
    return [x for x in (c, d)], f"{a!r}{b:>3}{c}"
def groups():
    n = 0
    try:
        raise ExceptionGroup('g', [ValueError(1)])
    except* ValueError as e:
        n = len(e.exceptions)
    return n
async def agen():
    return await asyncio.sleep(0, 'slept')
def kw(x):
    return x
def main():
    return (maybe(1), list(delegate()), const(), outer(2), pairs(1, 2), groups(),
            asyncio.run(agen()), kw(x=1), +1.5)
"""

_EXPECTED_NEW = {
    (3, 12): {"RETURN_CONST", "END_FOR", "END_SEND", "LOAD_FAST_CHECK", "LOAD_FAST_AND_CLEAR",
              "LOAD_FROM_DICT_OR_DEREF", "CALL_INTRINSIC_2", "CLEANUP_THROW"},
    (3, 13): {"TO_BOOL", "LOAD_FAST_LOAD_FAST", "STORE_FAST_STORE_FAST", "STORE_FAST_LOAD_FAST",
              "CALL_KW", "FORMAT_SIMPLE", "FORMAT_WITH_SPEC", "CONVERT_VALUE",
              "SET_FUNCTION_ATTRIBUTE"},
}


def test_new_opcodes_decode_and_run():
    """RETURN_CONST, END_FOR, END_SEND, LOAD_FAST_CHECK, LOAD_FAST_AND_CLEAR (3.12), TO_BOOL,
    the fused LOAD_FAST/STORE_FAST forms, CALL_KW, the f-string opcodes (3.13): decoded and
    kept as they are."""
    code = compile(textwrap.dedent(_NEW_OPCODES), "<new>", "exec")
    seen = {name for c in _walk(code) for name in _ops(c)}
    want = set().union(*(ops for v, ops in _EXPECTED_NEW.items() if v <= V))
    assert want <= seen, want - seen
    check_same(_NEW_OPCODES)
