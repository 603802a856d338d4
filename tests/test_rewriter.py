"""The bytecode rewriter (capture/rewriter.py + the running Python's opcode table,
capture/opcodes3XX.py), tested without the C hook.

Programs are compiled from source, every code object in them is instrumented (emulating the
PEP 523 hook, which instruments each code object when its frame runs), and they are run both
natively and instrumented with Python stand-in probes that have the C probes' calling
conventions, log each call and perform the native operation. Results, exceptions, traceback
entries (line and column positions), stdout, and sys.settrace line events must be equal; the
probe log must show the expected probe calls.

The stand-in ``call`` probe is a Python function, so unlike the C trampoline it adds a frame:
functions that inspect their caller's frame (zero-argument ``super()``, ``sys._getframe``,
``locals()``...) are special-cased in it, and traceback/trace comparisons look only at frames
of the programs under test.

The tests run on every Python that has an opcode table (3.11, 3.12, 3.13); expectations that
differ between versions are marked where they are made (``V``: the running version).
tests/test_rewriter_versions.py holds the tests of what each version changed.
"""

from __future__ import annotations

import contextlib
import dis
import io
import operator
import sys
import textwrap
import time
import types
from types import CodeType

import pytest
from framead.capture import rewriter
from framead.capture.rewriter import RewriteError, instrument, refuse_reason, rewrite
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

T = rewriter.opcode_table()  # the running Python's opcode table (None: no table)
V = sys.version_info[:2]
pytestmark = pytest.mark.skipif(T is None, reason=f"no opcode table for Python {V[0]}.{V[1]}")

# ----------------------------------------------------------------------------------------
# stand-in probes
# ----------------------------------------------------------------------------------------

_BINOPS = [
    operator.add, operator.and_, operator.floordiv, operator.lshift, operator.matmul,
    operator.mul, operator.mod, operator.or_, operator.pow, operator.rshift, operator.sub,
    operator.truediv, operator.xor,
    operator.iadd, operator.iand, operator.ifloordiv, operator.ilshift, operator.imatmul,
    operator.imul, operator.imod, operator.ior, operator.ipow, operator.irshift,
    operator.isub, operator.itruediv, operator.ixor,
]
_COMPARES = [operator.lt, operator.le, operator.eq, operator.ne, operator.gt, operator.ge]
STAR = "__framead_star__"
DSTAR = "__framead_dstar__"


class StandInProbes:
    """Python probes with the C probes' calling conventions; ``log`` records every call."""

    def __init__(self, attr_names=frozenset({"T", "mT", "real", "imag", "flat"})):
        self.log: list = []
        log = self.log
        self.ATTR_NAMES = frozenset(attr_names)
        self.STAR_KWNAMES1 = (STAR,)
        self.STAR_KWNAMES2 = (STAR, DSTAR)

        def binop(n, fn):
            def probe(a, b):
                log.append(("binop", n))
                return fn(a, b)

            probe.__qualname__ = probe.__name__ = f"BINOP_{n}"
            return probe

        def compare(n, fn):
            def probe(a, b):
                log.append(("compare", n))
                return fn(a, b)

            probe.__qualname__ = probe.__name__ = f"COMPARE_{n}"
            return probe

        self.BINOP = tuple(binop(n, fn) for n, fn in enumerate(_BINOPS))
        self.COMPARE = tuple(compare(n, fn) for n, fn in enumerate(_COMPARES))

        def contains(negate):
            def probe(key, table):
                log.append(("contains", negate))
                return (key not in table) if negate else (key in table)
            return probe

        self.CONTAINS = (contains(False), contains(True))

        def unary_negative(a):
            log.append(("unary", "neg"))
            return -a

        def unary_positive(a):
            log.append(("unary", "pos"))
            return +a

        def unary_invert(a):
            log.append(("unary", "invert"))
            return ~a

        def getitem(a, k):
            log.append(("getitem",))
            return a[k]

        def setitem(a, k, v):
            log.append(("setitem",))
            a[k] = v

        def getattr_(obj, name):
            log.append(("getattr", name))
            return getattr(obj, name)

        def getiter(obj):
            log.append(("getiter", type(obj).__name__))
            return obj

        def unpack(obj):
            log.append(("unpack", type(obj).__name__))
            return obj

        def dict_merge(d, update, func):
            # DICT_MERGE (3.13): merge ``update`` into ``d`` and raise CPython's TypeErrors
            # naming ``func`` (what the C probe does; raised outside the except blocks, so
            # no __context__ is set, as in CPython)
            log.append(("dict_merge", getattr(func, "__name__", type(func).__name__)))
            err = None
            try:
                for k in update.keys():
                    if k in d:
                        raise KeyError(k)
                    d[k] = update[k]
            except AttributeError as e:
                if len(e.args) != 1:
                    raise
                err = f"{_function_str(func)} argument after ** must be a mapping, " \
                      f"not {type(update).__name__}"
            except KeyError as e:
                if len(e.args) != 1:
                    raise
                err = f"{_function_str(func)} got multiple values for keyword argument " \
                      f"'{e.args[0]}'"
            if err is not None:
                raise TypeError(err)

        def dict_update(d, update):
            # DICT_UPDATE ({**m}), through the call probe: PyDict_Update, an AttributeError
            # on the way the instruction's TypeError (raised outside the except block)
            err = None
            try:
                if isinstance(update, dict):
                    dict.update(d, update)
                else:
                    for k in update.keys():
                        d[k] = update[k]
            except AttributeError:
                err = f"'{type(update).__name__}' object is not a mapping"
            if err is not None:
                raise TypeError(err)

        def call(f, /, *args, **kwargs):
            if STAR in kwargs:  # CALL_FUNCTION_EX through the marker tuples
                log.append(("starcall", getattr(f, "__name__", type(f).__name__)))
                star = kwargs[STAR]
                if DSTAR in kwargs:
                    return f(*star, **kwargs[DSTAR])
                return f(*star)
            log.append(("call", getattr(f, "__name__", type(f).__name__)))
            # builtins that look at their caller's frame: answer for the caller
            if f is super and not args and not kwargs:
                fr = sys._getframe(1)
                loc = fr.f_locals
                return super(loc["__class__"], loc[fr.f_code.co_varnames[0]])
            if f is sys._getframe:
                return sys._getframe((args[0] if args else 0) + 1)
            if (f is locals or f is vars or f is dir) and not args:
                fr = sys._getframe(1)
                return sorted(fr.f_locals) if f is dir else fr.f_locals
            if f is globals:
                return sys._getframe(1).f_globals
            return f(*args, **kwargs)

        self.unary_negative = unary_negative
        self.unary_positive = unary_positive
        self.unary_invert = unary_invert
        self.getitem = getitem
        self.setitem = setitem
        self.getattr = getattr_
        self.getiter = getiter
        self.unpack = unpack
        self.call = call
        self.dict_merge = dict_merge
        self.dict_update = dict_update
        self.codes = {
            f.__code__
            for f in (*self.BINOP, *self.COMPARE, unary_negative, unary_positive, unary_invert,
                      getitem, setitem, getattr_, getiter, unpack, call, dict_merge,
                      dict_update)
        }

    def kinds(self) -> set:
        return {e[0] for e in self.log}


def _function_str(f) -> str:
    """How CPython names a callable in call errors (_PyObject_FunctionStr)."""
    try:
        qualname = f.__qualname__
    except AttributeError:
        return str(f)
    module = getattr(f, "__module__", None)
    if module is not None and module != "builtins":
        return f"{module}.{qualname}()"
    return f"{qualname}()"


def instrument_tree(code: CodeType, probes) -> CodeType:
    """Instrument ``code`` and, recursively, the code objects among its constants (what the
    hook does lazily, one frame at a time)."""
    new = rewrite(code, probes)
    consts = list(new.co_consts)
    changed = False
    for i, c in enumerate(consts[: len(code.co_consts)]):
        if isinstance(c, CodeType):
            consts[i] = instrument_tree(c, probes)
            changed = True
    return new.replace(co_consts=tuple(consts)) if changed else new


def instrument_function(f, probes):
    """A new function object running the instrumented code (closure, defaults kept)."""
    g = types.FunctionType(
        instrument_tree(f.__code__, probes), f.__globals__, f.__name__, f.__defaults__,
        f.__closure__,
    )
    g.__kwdefaults__ = f.__kwdefaults__
    g.__qualname__ = f.__qualname__
    return g


# ----------------------------------------------------------------------------------------
# running a program both ways
# ----------------------------------------------------------------------------------------

_counter = [0]
#: whether the C extension is loaded (its frame views show original code objects); the
#: rewriter itself is tested without it (on a new Python before the extension builds)
C_HOOK_LOADED = "framead.capture._evalframe" in sys.modules


def _tb_entries(tb, filename):
    out = []
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename == filename:
            pos = list(code.co_positions())[tb.tb_lasti // 2]
            out.append((code.co_name, tb.tb_lineno, pos))
        tb = tb.tb_next
    return out


def _exc_info(e, filename, depth=0):
    if e is None or depth > 5:
        return None
    return (
        type(e).__name__,
        str(e),
        _tb_entries(e.__traceback__, filename),
        _exc_info(e.__cause__, filename, depth + 1),
        _exc_info(e.__context__, filename, depth + 1),
    )


def run_program(src, probes=None, *, args=(), entry="main", trace=False):
    """Compile ``src`` (as file '<rewriter-case-N>') and call its ``entry``; instrumented when
    ``probes`` is given. Returns a comparable outcome dict."""
    src = textwrap.dedent(src)
    _counter[0] += 1
    filename = f"<rewriter-case-{_counter[0]}>"
    code = compile(src, filename, "exec")
    if probes is not None:
        code = instrument_tree(code, probes)
    ns = {"__name__": "rewriter_case"}
    out = io.StringIO()
    events = []

    def tracer(frame, event, arg):
        if frame.f_code.co_filename == filename:
            events.append((frame.f_code.co_name, event, frame.f_lineno))
            return tracer
        return None

    result = exc = None
    with contextlib.redirect_stdout(out):
        if trace:
            sys.settrace(tracer)
        try:
            exec(code, ns)
            result = ns[entry](*args)
        except Exception as e:  # noqa: BLE001
            exc = e
        finally:
            if trace:
                sys.settrace(None)
    return {
        "result": repr(result),
        "exc": _exc_info(exc, filename),
        "stdout": out.getvalue(),
        "events": events,
    }


def check_same(src, *, args=(), expect=(), trace=False, probes=None):
    """Run ``src`` natively and instrumented; everything must agree. ``expect``: log entries
    (or entry kinds) that must appear. Returns (outcome, probes)."""
    native = run_program(src, args=args, trace=trace)
    probes = probes or StandInProbes()
    inst = run_program(src, probes, args=args, trace=trace)
    assert inst["exc"] == native["exc"]
    assert inst["result"] == native["result"]
    assert inst["stdout"] == native["stdout"]
    if trace:
        assert inst["events"] == native["events"]
    for e in expect:
        if isinstance(e, str):
            assert e in probes.kinds(), (e, probes.log)
        else:
            assert e in probes.log, (e, probes.log)
    return native, probes


# ----------------------------------------------------------------------------------------
# programs
# ----------------------------------------------------------------------------------------

CASES = {
    "arith": (
        """
        def main():
            a, b = 7, 3
            x = 2.5
            r = [a + b, a - b, a * b, a / b, a // b, a % b, a ** b, a << b, a >> 1,
                 a & b, a | b, a ^ b, -a, +a, ~a, -x, x * 2]
            y = 10
            y += 1; y -= 2; y *= 3; y //= 2; y %= 7; y **= 2; y <<= 1; y >>= 1
            y &= 255; y |= 3; y ^= 5
            z = 1.5; z /= 2
            return r, y, z
        """,
        [("binop", 0), ("binop", 10), ("binop", 5), ("binop", 11), ("binop", 2),
         ("binop", 6), ("binop", 8), ("binop", 3), ("binop", 9), ("binop", 1), ("binop", 7),
         ("binop", 12), ("binop", 13), ("binop", 23), ("binop", 18), ("binop", 15),
         ("binop", 19), ("binop", 21), ("binop", 16), ("binop", 22), ("binop", 14),
         ("binop", 20), ("binop", 25), ("binop", 24), ("unary", "neg"), ("unary", "pos"),
         ("unary", "invert")],
    ),
    "compare_chain": (
        """
        def main():
            a, b, c = 1, 2, 3
            out = [a < b, a <= b, a == b, a != b, a > b, a >= b, a < b < c, c > b > a > 5,
                   a is b, a in [1], a not in [1]]
            if 0 < a < 2 <= b:
                out.append('in')
            return out
        """,
        [("compare", 0), ("compare", 1), ("compare", 2), ("compare", 3), ("compare", 4),
         ("compare", 5)],
    ),
    "loops": (
        """
        def main():
            out = []
            for i in range(10):
                if i == 2:
                    continue
                if i == 7:
                    break
                out.append(i)
            else:
                out.append('no')
            for j in range(3):
                out.append(j * j)
            else:
                out.append('else')
            k = 0
            while k < 5:
                k += 1
                if k == 4:
                    break
            else:
                out.append('while-else')
            n = 0
            while True:
                n += 1
                if n > 3:
                    break
            for a in range(3):
                for b in range(3):
                    if b > a:
                        break
                    out.append((a, b))
            return out, k, n
        """,
        [("getiter", "range"), ("call", "range"), ("call", "append")],
    ),
    "early_return": (
        """
        def f(x):
            for i in range(x):
                if i * i > x:
                    return i
            return -1
        def main():
            return [f(n) for n in range(12)]
        """,
        ["compare", "binop"],
    ),
    "try_except_finally": (
        """
        log = []
        def f(x):
            try:
                log.append('try')
                if x == 0:
                    raise ValueError('zero')
                r = 10 / x
            except ValueError as e:
                log.append(('ve', str(e)))
                r = -1
            except ZeroDivisionError:
                r = -2
            else:
                log.append('else')
            finally:
                log.append('finally')
            return r
        def g(x):
            try:
                try:
                    return 1 / x
                finally:
                    log.append('inner-finally')
            except ZeroDivisionError as e:
                try:
                    raise KeyError(x) from e
                except KeyError as k:
                    return ('nested', repr(k), repr(k.__cause__))
        def h():
            for i in range(3):
                try:
                    if i == 1:
                        continue
                    if i == 2:
                        break
                finally:
                    log.append(('loop-finally', i))
            return i
        def main():
            return f(0), f(2), g(0), g(4), h(), log
        """,
        ["binop", "call"],
    ),
    "raise_in_except": (
        """
        def main():
            try:
                [][1]
            except IndexError as e:
                x = {'a': 1}
                return x['b'] + 1
        """,
        ["getitem"],
    ),
    "reraise_finally": (
        """
        def main():
            try:
                try:
                    1 / 0
                finally:
                    y = [1, 2]
                    y[0] += 1
            except ZeroDivisionError:
                raise
        """,
        ["binop", "getitem", "setitem"],
    ),
    "with_blocks": (
        """
        class CM:
            def __init__(self, name, log, swallow=False):
                self.name, self.log, self.swallow = name, log, swallow
            def __enter__(self):
                self.log.append('enter ' + self.name)
                return self
            def __exit__(self, t, v, tb):
                self.log.append(('exit', self.name, t and t.__name__))
                return self.swallow
        def main():
            log = []
            with CM('a', log) as a, CM('b', log) as b:
                log.append(a.name + b.name)
            with CM('s', log, swallow=True):
                1 / 0
            try:
                with CM('c', log):
                    with CM('d', log):
                        raise KeyError('k')
            except KeyError as e:
                log.append(repr(e))
            for i in range(3):
                with CM(str(i), log):
                    if i == 1:
                        continue
                    if i == 2:
                        break
            return log
        """,
        ["call", "binop"],
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
            g = gen(3)
            out = [next(g), g.send(10), g.send(5)]
            try:
                g.send(1)
            except StopIteration as e:
                out.append(('stop', e.value))
            out.append(list(deleg(4)))
            out.append(sum(x * x for x in range(5)))
            g2 = gen(5)
            next(g2)
            try:
                g2.throw(ValueError('boom'))
            except ValueError as e:
                out.append(str(e))
            return out
        """,
        ["binop", "getiter"],
    ),
    "async": (
        """
        import asyncio
        class ACM:
            def __init__(self, log):
                self.log = log
            async def __aenter__(self):
                self.log.append('aenter')
                return self
            async def __aexit__(self, *a):
                self.log.append('aexit')
        class AIter:
            def __init__(self, n):
                self.i, self.n = 0, n
            def __aiter__(self):
                return self
            async def __anext__(self):
                if self.i >= self.n:
                    raise StopAsyncIteration
                self.i += 1
                await asyncio.sleep(0)
                return self.i * 1.5
        async def agen(n):
            for i in range(n):
                yield i - 0.5
        async def work(x):
            await asyncio.sleep(0)
            return x * 2
        async def amain():
            log = []
            async with ACM(log):
                log.append(await work(21))
            async for v in AIter(3):
                log.append(v)
            log.append([v async for v in agen(3)])
            r = await asyncio.gather(work(1), work(2))
            log.append(r)
            try:
                async with ACM(log):
                    raise RuntimeError('in async with')
            except RuntimeError as e:
                log.append(str(e))
            return log
        def main():
            return asyncio.run(amain())
        """,
        ["binop", "call"],
    ),
    "comprehensions": (
        """
        def main():
            xs = [1, 2, 3, 4]
            a = [x * 2 for x in xs if x % 2]
            b = {x: x ** 2 for x in xs}
            c = {x - 1 for x in xs}
            d = list(x + y for x in xs for y in (10, 20) if y > x)
            e = [[i * j for j in range(3)] for i in range(3)]
            return a, b, sorted(c), d, e
        """,
        ["binop", "getiter", "compare"],
    ),
    "lambdas_closures": (
        """
        def counter(start):
            n = start
            def inc(k=1):
                nonlocal n
                n += k
                return n
            def get():
                return n
            return inc, get
        def main():
            inc, get = counter(10)
            inc(); inc(5)
            add = lambda a, b=2: a + b
            mul = (lambda k: lambda x: x * k)(3)
            fs = [lambda i=i: i * 10 for i in range(3)]
            return get(), add(1), add(1, b=5), mul(7), [f() for f in fs]
        """,
        ["binop", "call", "unpack"],
    ),
    "classes_super": (
        """
        class Base:
            kind = 'base'
            def __init__(self, x):
                self.x = x
            def value(self):
                return self.x * 2
            @classmethod
            def make(cls, x):
                return cls(x)
            @staticmethod
            def s(a, b):
                return a - b
            @property
            def double(self):
                return self.x + self.x
        class Child(Base):
            kind = 'child'
            def __init__(self, x, y):
                super().__init__(x)
                self.y = y
            def value(self):
                return super().value() + self.y
            def __add__(self, other):
                return Child(self.x + other.x, self.y + other.y)
            def __getitem__(self, k):
                return (self.x, self.y)[k]
            def __repr__(self):
                return f'Child({self.x}, {self.y})'
        class Meta(type):
            def __new__(mcls, name, bases, ns, **kw):
                ns['tag'] = kw.get('tag', 'none')
                return super().__new__(mcls, name, bases, ns)
        class WithMeta(metaclass=Meta, tag='t'):
            pass
        def main():
            c = Child(1, 2)
            d = c + Child(10, 20)
            return (c.value(), d, d[0], d[1], Base.make(4).value(), Base.s(5, 3), c.double,
                    Child.kind, WithMeta.tag, isinstance(d, Base))
        """,
        # 3.11 calls super() through the call probe; 3.12+ reads super().m with
        # LOAD_SUPER_ATTR (no call of super) and calls the bound method through the probe
        [("call", "super") if V == (3, 11) else ("call", "__init__"),
         ("call", "__build_class__"), ("call", "value"), ("binop", 0), ("getitem",)],
    ),
    "star_calls": (
        """
        def f(*args, **kwargs):
            return args, sorted(kwargs.items())
        class O:
            def m(self, *a, **k):
                return ('m', a, sorted(k.items()))
        def main():
            a = [1, 2]
            t = (3,)
            k = {'x': 1}
            o = O()
            return (f(*a), f(**k), f(*a, **k), f(0, *a, *t, y=2, **k), f(*a, 9),
                    o.m(*a), o.m(*t, **k), f(*'ab'), f(*(i for i in range(3))),
                    f(*a, z=3), max(*a), dict(**k, w=2))
        """,
        [("starcall", "f"), ("starcall", "m"), ("starcall", "max"), ("starcall", "dict")],
    ),
    "keyword_calls": (
        """
        def f(a, b=2, *, c, d=4):
            return a, b, c, d
        def g(a, /, b, *args, c=0, **kw):
            return a, b, args, c, sorted(kw)
        def main():
            return (f(1, c=3), f(a=1, b=5, c=6, d=7), g(1, 2, 3, 4, c=5, z=6), g(1, b=2),
                    sorted([3, 1, 2], key=lambda v: -v, reverse=True), 'x'.join(['a', 'b']),
                    int('12', base=8))
        """,
        [("call", "f"), ("call", "g"), ("call", "sorted"), ("call", "join")],
    ),
    "subscripts_attrs": (
        """
        class P:
            def __init__(self):
                self.v = 1.5
                self.items = [1, 2, 3]
        def main():
            a = [0, 1, 2, 3, 4, 5]
            d = {'k': [1, 2]}
            p = P()
            a[1] += 10
            a[2] *= 3
            d['k'][0] -= 5
            d['n'] = 7
            p.v += 1
            p.items[1] **= 2
            s1, s2, s3 = a[1:3], a[::-1], a[-2:]
            a[1:3] = [9, 9, 9]
            del a[0]
            del a[-1:]
            m = [[1, 2], [3, 4]]
            m[1][0] = m[0][1] + 1
            z = complex(1, 2)
            return a, d, p.v, p.items, s1, s2, s3, m, z.real, z.imag
        """,
        [("setitem",), ("getitem",), ("getattr", "real"), ("getattr", "imag"), ("binop", 13),
         ("binop", 18), ("binop", 23), ("binop", 21)],
    ),
    "unpacking": (
        """
        def main():
            a, b = 1, 2
            c, *d = [1, 2, 3, 4]
            *e, f = 'xyz'
            (g, h), i = (5, 6), 7
            for j, (k, l) in [(1, (2, 3)), (4, (5, 6))]:
                pass
            x = [1, 2]
            x[0], x[1] = x[1], x[0]
            p, q = q, p = 3, 4
            try:
                m, n = [1, 2, 3]
            except ValueError as err:
                msg = str(err)
            try:
                m, n = 5
            except TypeError as err:
                msg2 = str(err)
            return a, b, c, d, e, f, g, h, i, j, k, l, x, p, q, msg, msg2
        """,
        [("unpack", "list"), ("unpack", "tuple"), ("unpack", "str"), ("unpack", "int")],
    ),
    "fstrings_walrus": (
        """
        def main():
            x, y = 3.14159, 'txt'
            s = f"{x:.2f}|{y!r:>8}|{x * 2=}|{[i for i in range(3)]}|{'%d' % 5}"
            data = [1, 5, 9, 2]
            out = [v for v in data if (w := v * 2) > 4]
            if (n := len(data)) > 3:
                s += f' n={n}'
            return s, out, w
        """,
        [("binop", 5), ("binop", 6), ("call", "len")],
    ),
    "match": (
        """
        class Point:
            __match_args__ = ('x', 'y')
            def __init__(self, x, y):
                self.x, self.y = x, y
        def classify(p):
            match p:
                case [x, y, *rest]:
                    return ('seq', x, y, rest)
                case {'k': v, **others}:
                    return ('map', v, others)
                case Point(0, yy):
                    return ('pt-axis', yy)
                case Point(x=xx, y=yy) if xx > yy:
                    return ('pt', xx - yy)
                case int() | float() as num if num > 3:
                    return ('num', num * 2)
                case 'a' | 'b':
                    return 'letter'
                case _:
                    return 'other'
        def main():
            return [classify(v) for v in
                    ([1, 2, 3, 4], (1, 2), {'k': 1, 'z': 2}, Point(0, 5), Point(5, 1),
                     Point(1, 5), 7, 2.0, 'a', None)]
        """,
        ["unpack", "binop", "compare"],
    ),
    "decorators": (
        """
        import functools
        def deco(f):
            @functools.wraps(f)
            def w(*a, **k):
                return f(*a, **k) + 1
            return w
        def param(n):
            def d(f):
                def w(x):
                    return f(x) * n
                return w
            return d
        @deco
        @param(3)
        def g(x):
            return x * 2
        class C:
            @deco
            def m(self, v):
                return v
        def main():
            return g(5), g.__name__, C().m(10)
        """,
        # decorators are applied by a method-style ``CALL 0`` ([decorator, function], no
        # NULL), so only the decorator factory call param(3) goes through the call probe
        ["starcall", ("call", "param"), ("call", "wraps")],
    ),
    "recursion": (
        """
        def fib(n):
            return n if n < 2 else fib(n - 1) + fib(n - 2)
        def fact(n):
            return 1 if n <= 1 else n * fact(n - 1)
        def main():
            return fib(15), fact(30)
        """,
        [("call", "fib"), ("call", "fact")],
    ),
    "traceback_lines": (
        """
        def level3(x):
            return x['missing']
        def level2(x):
            y = dict(x)
            return (level3(y)
                    + 1)
        def main():
            xs = [1.0, 2.0, 3.0]
            try:
                total = (xs[0] +
                         xs[1] *
                         xs[7] -
                         xs[2])
            except IndexError:
                pass
            return level2({'a': 1})
        """,
        ["getitem"],
    ),
    "traceback_multiline_call": (
        """
        def main():
            return max(
                1,
                2,
                int(
                    'not a number'
                ),
            )
        """,
        [("call", "int")],
    ),
    "traceback_binop_error": (
        """
        def main():
            a = 1
            b = 'x'
            c = [a,
                 b]
            return (c[0]
                    + c[1])
        """,
        [("binop", 0)],
    ),
    "traceback_generator": (
        """
        def gen():
            yield 1
            yield 1 / 0
        def main():
            return [v * 2 for v in gen()]
        """,
        ["binop"],
    ),
    "star_call_errors_not_iterable": (
        """
        def f(*a, **k):
            return a
        def main():
            return f(*5)
        """,
        ["starcall"],
    ),
    "star_call_errors_method": (
        """
        class O:
            def m(self, *a):
                return a
        def main():
            return O().m(*None)
        """,
        ["starcall"],
    ),
    "star_call_errors_kw_not_mapping": (
        """
        def f(*a, **k):
            return a
        def main():
            return f(*[1], **[2])
        """,
        [],
    ),
    "star_call_errors_duplicate_kw": (
        """
        def f(x, **k):
            return x
        def main():
            return f(1, **{'x': 2})
        """,
        ["starcall"],
    ),
    "star_call_errors_duplicate_kw2": (
        """
        def f(x, **k):
            return x
        def main():
            return f(**{'x': 2}, **{'x': 3})
        """,
        [],
    ),
    "star_call_errors_non_str_keys": (
        """
        def f(**k):
            return k
        def main():
            return f(**{1: 2})
        """,
        ["starcall"],
    ),
    "star_call_errors_too_many": (
        """
        def f(a):
            return a
        def main():
            return f(*[1, 2])
        """,
        ["starcall"],
    ),
    "star_call_errors_generator_raises": (
        """
        def f(*a):
            return a
        def g():
            yield 1
            raise KeyError('inside')
        def main():
            return f(*g())
        """,
        ["starcall"],
    ),
    "getframe_lineno": (
        """
        import sys
        def where():
            return sys._getframe(1).f_lineno
        def main():
            a = sys._getframe().f_lineno
            b = (1 +
                 sys._getframe().f_lineno)
            c = sys._getframe(0).f_code.co_name
            return a, b, c, sorted(locals())
        """,
        [("call", "_getframe")],
    ),
    "numpy_attrs": (
        """
        import numpy as np
        def main():
            x = np.arange(6.0).reshape(2, 3)
            y = x.T @ x
            x[0, 1] = 7.5
            x[1] += 1
            z = (x * 2 - 1).sum(axis=0)
            c = np.array([1 + 2j, 3 - 1j])
            w = list(x.flat)
            return y.tolist(), x.tolist(), z.tolist(), c.real.tolist(), c.imag.tolist(), w
        """,
        [("getattr", "T"), ("getattr", "real"), ("getattr", "flat"), ("binop", 4),
         ("setitem",), ("call", "sum")],
    ),
    "module_level_and_class_body": (
        """
        X = [i * 2 for i in range(4)]
        Y = X[1] + X[2]
        class K:
            a = 5
            b = a * 2
            c = [i * 2 for i in range(2)]
            d = len(locals())
        def main():
            return X, Y, K.b, K.c, K.d
        """,
        [("binop", 5), ("getitem",), ("call", "len")],
    ),
    "builtins_and_c_callbacks": (
        """
        import functools
        def main():
            xs = [3.5, -1.0, 2.25]
            return (sorted(xs, key=lambda v: v * v), list(map(lambda v: v + 1, xs)),
                    functools.reduce(lambda a, b: a * b, xs), sum(xs), min(xs), abs(xs[1]),
                    round(xs[2], 1), list(filter(None, [0, 1, 2])), divmod(7, 3))
        """,
        [("call", "sorted"), ("call", "map"), ("binop", 5)],
    ),
    "exception_groups_and_notes": (
        """
        def main():
            try:
                try:
                    raise ValueError('a')
                except ValueError as e:
                    e.add_note('note1')
                    raise ExceptionGroup('g', [e, TypeError('t')])
            except* ValueError as eg:
                r = [str(x) for x in eg.exceptions]
            except* TypeError:
                r2 = 1
            return r, r2
        """,
        ["call"],
    ),
    "global_and_del": (
        """
        G = 1
        def bump():
            global G
            G += 1
            return G
        def main():
            bump(); bump()
            x = [1, 2]
            del x
            try:
                return x
            except UnboundLocalError as e:
                return G, str(e)
        """,
        [("call", "bump")],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_program_behaves_natively(name):
    src, expect = CASES[name]
    check_same(src, expect=expect)


@pytest.mark.parametrize("name", ["loops", "try_except_finally", "generators", "with_blocks",
                                  "comprehensions", "match", "traceback_lines", "unpacking",
                                  "subscripts_attrs", "star_calls"])
def test_settrace_line_events_identical(name):
    src, _ = CASES[name]
    native, _ = check_same(src, trace=True)
    assert native["events"]


def test_probe_log_order_and_arguments():
    probes = StandInProbes()
    check_same(
        """
        def main():
            a = [1.0, 2.0]
            b = a[0] + a[1]
            a[1] = -b
            return a
        """,
        probes=probes,
    )
    log = [e for e in probes.log if e[0] != "call" or e[1] == "main"]
    # module body: main is defined, not called; the call of main happens from the test
    assert log == [("getitem",), ("getitem",), ("binop", 0), ("unary", "neg"), ("setitem",)]


def test_nested_functions_not_instrumented_by_parent():
    def outer(v):
        def inner(w):
            return w + 1

        return inner(v) * 2

    probes = StandInProbes()
    new = rewrite(outer.__code__, probes)
    inner_code = [c for c in outer.__code__.co_consts if isinstance(c, CodeType)][0]
    assert any(c is inner_code for c in new.co_consts)  # the very same object
    f = types.FunctionType(new, outer.__globals__, "outer", None, None)
    assert f(3) == 8
    assert ("binop", 5) in probes.log and ("binop", 0) not in probes.log


def test_function_objects_directly():
    """The brief's way of running rewritten code: FunctionType(new_code, ...) per function."""
    scale = 3

    def f(x, y=2, *args, z=1, **kw):
        total = x * y + z
        for a in args:
            total += a * scale
        return total, sorted(kw), [t ** 2 for t in (x, y)]

    probes = StandInProbes()
    g = instrument_function(f, probes)
    assert g(1.5, 2, 3, 4, z=5, q=1) == f(1.5, 2, 3, 4, z=5, q=1)
    assert g(2) == f(2)
    assert ("binop", 5) in probes.log and ("binop", 13) in probes.log


def test_generator_runs_under_new_function_object():
    def gen(n):
        for i in range(n):
            yield i * i

    probes = StandInProbes()
    g = instrument_function(gen, probes)
    assert list(g(5)) == list(gen(5))
    assert g.__code__.co_code != gen.__code__.co_code
    if C_HOOK_LOADED:  # the C frame views (capture/frameview*.h) show the original code
        assert g(2).gi_code is gen.__code__
    assert ("binop", 5) in probes.log


def test_exception_tracebacks_columns_identical():
    src = """
        def inner(d):
            return d['k'] * 2
        def main():
            vals = [{'k': 1}, {}]
            out = []
            for v in vals:
                out.append(inner(v))
            return out
    """
    native, _ = check_same(src)
    names = [e[0] for e in native["exc"][2]]
    assert names == ["main", "inner"]


# ----------------------------------------------------------------------------------------
# structure: layout, line table, markers, refusals
# ----------------------------------------------------------------------------------------


def _layout_funcs():
    def cells(a, b, /, c, *args, d, e=1, **kw):
        x = a + b

        def inner():
            return a + x + d

        y = [c for c in args]
        return inner, y, kw

    def freevars_user():
        q = 2

        def inner(p):
            nonlocal q
            q += p
            return q * 2

        return inner

    return [cells, freevars_user()]


@pytest.mark.parametrize("func", _layout_funcs(), ids=lambda f: f.__qualname__)
def test_layout_preserved(func):
    code = func.__code__
    new = rewrite(code, StandInProbes())
    assert new is not code
    for attr in ("co_varnames", "co_cellvars", "co_freevars", "co_argcount",
                 "co_posonlyargcount", "co_kwonlyargcount", "co_nlocals", "co_flags",
                 "co_name", "co_qualname", "co_filename", "co_firstlineno", "co_names"):
        assert getattr(new, attr) == getattr(code, attr), attr
    n = len(code.co_varnames) + len(code.co_freevars) + len(
        [c for c in code.co_cellvars if c not in code.co_varnames])
    assert [new._varname_from_oparg(i) for i in range(n)] == [
        code._varname_from_oparg(i) for i in range(n)]
    assert all(a is b for a, b in zip(code.co_consts, new.co_consts, strict=False))
    assert new.co_stacksize >= code.co_stacksize


def test_inserted_instructions_carry_the_replaced_line():
    def f(a, b):
        c = (a +
             b)
        d = [c,
             c][
            1]
        return -d

    code = f.__code__
    new = rewrite(code, StandInProbes())
    old_pos = [i.positions for i in dis.get_instructions(code)]
    new_pos = [i.positions for i in dis.get_instructions(new)]
    # every new instruction's position is one of the originals, in the same order
    it = iter(old_pos)
    cur = next(it)
    for p in new_pos:
        while p != cur:
            cur = next(it)
    # and each BINARY_OP's whole replacement sits on the BINARY_OP's line
    binop = [i for i in dis.get_instructions(code) if i.opname == "BINARY_OP"][0]
    calls = [i for i in dis.get_instructions(new) if i.positions == binop.positions]
    call = ["PRECALL", "CALL"] if V == (3, 11) else ["CALL"]
    assert [i.opname for i in calls] == ["LOAD_CONST", "SWAP", "SWAP", *call]
    assert binop.positions.lineno == f.__code__.co_firstlineno + 1
    assert binop.positions.end_lineno == f.__code__.co_firstlineno + 2
    assert list(code.co_lines()) != list(new.co_lines())  # offsets moved ...
    assert {ln for _, _, ln in code.co_lines()} == {ln for _, _, ln in new.co_lines()}


def _star_markers(code: CodeType) -> list:
    """The kwnames instructions of the star calls: ``KW_NAMES`` (3.11, 3.12), the
    ``LOAD_CONST`` before ``CALL_KW`` (3.13)."""
    ins = list(dis.get_instructions(code))
    if V < (3, 13):
        return [i for i in ins if i.opname == "KW_NAMES"]
    return [a for a, b in zip(ins, ins[1:], strict=False) if b.opname == "CALL_KW"]


def test_star_markers_land_in_consts_by_identity():
    def f(g, a, k):
        return g(*a), g(*a, **k)

    probes = StandInProbes()
    new = rewrite(f.__code__, probes)
    kw = _star_markers(new)
    assert len(kw) == 2
    assert new.co_consts[kw[0].arg] is probes.STAR_KWNAMES1
    assert new.co_consts[kw[1].arg] is probes.STAR_KWNAMES2
    # also when the function already has an equal tuple among its constants
    def h(g, a):
        return ("__framead_star__",), g(*a), g(__framead_star__=1)

    new = rewrite(h.__code__, probes)
    kw = _star_markers(new)
    objs = [new.co_consts[i.arg] for i in kw]
    assert sum(o is probes.STAR_KWNAMES1 for o in objs) == 1
    assert sum(o is not probes.STAR_KWNAMES1 and o == ("__framead_star__",) for o in objs) == 1


def test_calls_through_probe_and_rewrite_shapes():
    def f(o, g, a):
        return o.m(1), g(2), len(a), o.x.y(3), o.m(*a)

    new = rewrite(f.__code__, StandInProbes())
    ops = [i.opname for i in dis.get_instructions(new)]
    assert "PUSH_NULL" not in ops and "LOAD_METHOD" not in ops
    assert "CALL_FUNCTION_EX" not in ops
    for i in dis.get_instructions(new):
        if i.opname == "LOAD_GLOBAL" or (V >= (3, 12) and i.opname in ("LOAD_ATTR",
                                                                       "LOAD_SUPER_ATTR")):
            assert not i.arg & 1, i  # no NULL/method bit: the call probe sits under f


def test_attr_names_only():
    def f(x):
        return x.real, x.imag, x.conjugate(), x.numerator

    probes = StandInProbes(attr_names={"real"})
    g = instrument_function(f, probes)
    assert g(3) == f(3)
    assert [e for e in probes.log if e[0] == "getattr"] == [("getattr", "real")]
    probes = StandInProbes(attr_names=())
    g = instrument_function(f, probes)
    assert g(3) == f(3) and not [e for e in probes.log if e[0] == "getattr"]


def test_attr_probe_on_method_call():
    def f(x):
        return x.T()

    class A:
        def T(self):
            return 42

    probes = StandInProbes()
    assert instrument_function(f, probes)(A()) == 42
    assert ("getattr", "T") in probes.log and ("call", "T") in probes.log


def test_nothing_to_rewrite_returns_same_code():
    def f(a):
        b = a
        return b

    assert rewrite(f.__code__, StandInProbes()) is f.__code__
    assert instrument(f.__code__, StandInProbes()) is f.__code__


def test_already_instrumented_is_refused():
    def f(a):
        return a + 1

    probes = StandInProbes()
    new = instrument(f.__code__, probes)
    assert new is not None and new is not f.__code__
    assert instrument(new, probes) is None
    assert "already instrumented" in refuse_reason(new, probes)
    with pytest.raises(RewriteError, match="already instrumented"):
        rewrite(new, probes)
    assert refuse_reason(f.__code__) is None
    assert refuse_reason(f.__code__, probes) is None


def test_malformed_bytecode_is_refused():
    def f(a):
        for i in a:
            a = a + i
        return a

    code = f.__code__
    raw = bytearray(code.co_code)
    # (unknown opcodes cannot be tested: CPython maps every unused opcode to a real one)
    # EXTENDED_ARG before an opcode that takes no argument
    def none():
        return None

    c = none.__code__
    assert [i.opname for i in dis.get_instructions(c)] == (
        ["RESUME", "LOAD_CONST", "RETURN_VALUE"] if V == (3, 11) else ["RESUME", "RETURN_CONST"])
    bad = bytes([dis.opmap["NOP"], 0, dis.EXTENDED_ARG, 1, dis.opmap["RETURN_VALUE"], 0])
    assert "EXTENDED_ARG before" in refuse_reason(c.replace(co_code=bad))
    assert instrument(c.replace(co_code=bad), StandInProbes()) is None
    bad = bytes([dis.opmap["NOP"], 0, dis.opmap["LOAD_CONST"], 0, dis.EXTENDED_ARG, 1])
    assert "ends inside" in refuse_reason(c.replace(co_code=bad))
    # a jump into the middle of an instruction (into a cache entry)
    ins = [i for i in dis.get_instructions(code) if i.opname == "JUMP_BACKWARD"][0]
    binop = [i for i in dis.get_instructions(code) if i.opname == "BINARY_OP"][0]
    bad = bytearray(raw)
    base = ins.offset + 2 + (2 * T.CACHES[ins.opcode] if T.JUMP_BASE_INCLUDES_CACHES else 0)
    bad[ins.offset + 1] = (base - binop.offset - 2) // 2  # lands on BINARY_OP's cache
    assert "not an instruction start" in refuse_reason(code.replace(co_code=bytes(bad)))
    # an exception table range that starts inside an instruction
    def g(x):
        try:
            return x[0]
        except IndexError:
            return None

    c = g.__code__
    et = bytearray(c.co_exceptiontable)
    sub = [i for i in dis.get_instructions(c) if i.opname == "BINARY_SUBSCR"][0]
    assert sub.offset // 2 + 1 < 64 and not et[0] & 64
    et[0] = 0x80 | (sub.offset // 2 + 1)  # a range starting in BINARY_SUBSCR's caches
    assert "exception table" in refuse_reason(c.replace(co_exceptiontable=bytes(et)))


def test_internal_error_is_a_refusal(monkeypatch):
    def boom(ctx, arg):
        raise ZeroDivisionError("bug in a rewrite function")

    monkeypatch.setitem(T.REWRITES, "BINARY_OP", boom)

    def f(a):
        return a + 1

    probes = StandInProbes()  # a new probes object: the cached plan is rebuilt
    assert instrument(f.__code__, probes) is None
    assert refuse_reason(f.__code__, probes).startswith("internal error: ZeroDivisionError")
    with pytest.raises(ZeroDivisionError):
        rewrite(f.__code__, probes)


def test_bad_probes_object_raises():
    class Half:
        BINOP = ()

    def f(a):
        return a + 1

    with pytest.raises(TypeError, match="lacks"):
        instrument(f.__code__, Half())
    with pytest.raises(TypeError):
        instrument("not code", StandInProbes())


def test_declared_stack_extra_is_enough():
    """Simulate each replacement with dis.stack_effect: it must need no more than the declared
    extra above the original instruction's own peak, and have the same net effect."""
    probes = StandInProbes()
    ctx = rewriter._Ctx(probes, ("T", "x"), frozenset({0}), [])
    OP = T.OP
    # COMPARE_OP's comparison: 3.11 oparg, 3.12 oparg >> 4, 3.13 oparg >> 5 with bit 16
    compare = {(3, 11): range(6), (3, 12): [c << 4 for c in range(6)]}.get(
        V, [c << 5 | b for c in range(6) for b in (0, 16)])
    for name, fn in T.REWRITES.items():
        for arg in {"BINARY_OP": range(26), "COMPARE_OP": compare,
                    "LOAD_ATTR": (0, 1) if V == (3, 11) else range(4),
                    "LOAD_SUPER_ATTR": range(8), "CALL_INTRINSIC_1": (5, 6),
                    "DICT_MERGE": (1, 2, 3), "LOAD_METHOD": (0, 1), "LOAD_GLOBAL": (2, 3),
                    "CALL_FUNCTION_EX": (0, 1), "UNPACK_SEQUENCE": (2, 3),
                    "UNPACK_EX": (1, 257)}.get(name, (0,)):
            op = OP[name]
            r = fn(ctx, arg)
            if r is None:
                continue
            seq, extra = r
            jumps = T.JUMPS_FORWARD | T.JUMPS_BACKWARD
            # a jump in a replacement jumps where the original does (truth tests): both paths
            for branch in (False, True) if op in jumps else (None,):
                if name == "CALL_FUNCTION_EX":
                    # CALL_FUNCTION_EX's own effect counts the NULL (now the call probe) too
                    orig = -2 - (arg & 1)
                else:
                    orig = dis.stack_effect(op, arg if op >= dis.HAVE_ARGUMENT else None,
                                            jump=branch)
                depth = peak = 0
                for o, a in seq:
                    o_arg = a if o >= dis.HAVE_ARGUMENT else None
                    if o in jumps and branch:
                        depth += dis.stack_effect(o, o_arg, jump=True)
                        break
                    depth += dis.stack_effect(o, o_arg, jump=False if o in jumps else None)
                    peak = max(peak, depth)
                assert depth == orig, (name, arg, branch)
                assert peak - max(0, orig) <= extra, (name, arg, peak, extra)
            assert op in jumps or not any(o in jumps for o, _ in seq), name


def _big_function_source(nconst=300, nnames=300, body_lines=200):
    lines = ["def big(x, o):", "    acc = 0"]
    for i in range(nnames):
        lines.append(f"    g{i} = {i}.5")
    lines.append("    for i in range(3):")
    for i in range(body_lines):
        lines.append(f"        acc = acc + x * {i + 1000} - g{i % nnames}")
        if i % 50 == 0:
            lines.append(f"        if acc > {10 ** 9}:")
            lines.append("            break")
    lines.append("    out = []")
    for i in range(nconst):
        # compiled, not run: globals and method names with indices above 255
        lines.append(f"    if x > 1e9: out.append(obj{i}.method_{i}(fn{i}({i})))")
        lines.append(f"    out.append({i}.25)")
    lines.append("    out.append(o.last_method(len(out)))")
    lines.append("    return acc, out")
    return "\n".join(lines)


def test_extended_args_and_long_jumps():
    src = _big_function_source()
    # plus globals with name indices > 255
    extra = "\n".join(f"G{i} = {i}" for i in range(300))
    src = extra + "\n" + src + "\n" + textwrap.dedent("""
        class O:
            def last_method(self, v):
                return -v
        def glob():
            return """ + " + ".join(f"G{i}" for i in range(300)) + """ + len([G299, G0])
        def main():
            return big(1.5, O()), glob(), big(2, O())[0] * 2
    """)
    code = compile(src, "<big>", "exec")
    big = [c for c in code.co_consts if isinstance(c, CodeType) and c.co_name == "big"][0]
    assert len(big.co_consts) > 300 and len(big.co_names) > 600
    new = rewrite(big, StandInProbes())
    ins = list(dis.get_instructions(new))
    assert any(i.opname.startswith("JUMP_BACKWARD") and i.arg > 255 for i in ins)
    # probes appended after 300+ constants: LOAD_CONST with EXTENDED_ARG
    assert any(i.opname == "LOAD_CONST" and i.arg > 255 and callable(i.argval) for i in ins)
    # LOAD_GLOBAL (NULL bit cleared) and LOAD_ATTR (from LOAD_METHOD) with big name indices
    assert any(i.opname == "LOAD_GLOBAL" and i.arg > 255 for i in ins)
    assert any(i.opname == "LOAD_ATTR" and i.arg > 255 for i in ins)
    assert not any(i.opname in ("LOAD_METHOD", "PUSH_NULL") for i in ins)
    check_same(src, expect=[("binop", 0), ("binop", 10), ("call", "len"),
                            ("call", "last_method")])


def _instruction_starts(code: CodeType) -> list[int]:
    """Code unit of each instruction's first unit (its first EXTENDED_ARG, if any)."""
    out, ext = [], False
    for i in dis.get_instructions(code):
        if not ext:
            out.append(i.offset // 2)
        ext = i.opname == "EXTENDED_ARG"
    return out


def _check_origin_record(code: CodeType, new: CodeType) -> None:
    orig, fwd, inv = rewriter.origin(new)
    START, NO = rewriter.START, rewriter.NO_UNIT
    assert orig is code and new.co_consts[-1][0] is rewriter.ORIGIN_MARKER
    assert len(fwd) == len(new.co_code) // 2 and len(inv) == len(code.co_code) // 2
    starts = _instruction_starts(code)
    assert [fwd[u] & ~START for u in range(len(fwd)) if fwd[u] & START] == starts
    assert [x for x in range(len(inv)) if inv[x] != NO and inv[x] & START] == starts
    assert set(_instruction_starts(new)) >= {inv[x] & ~START for x in starts}
    pos_o, pos_n = list(code.co_positions()), list(new.co_positions())
    for u, m in enumerate(fwd):
        x = m & ~START
        # the unit stands for an original unit with the same source position, and the
        # inverse map leads back to a unit standing for it
        assert pos_n[u] == pos_o[x], (code.co_qualname, u, x)
        assert inv[x] != NO and fwd[inv[x] & ~START] & ~START == x


def test_origin_record_maps_every_offset():
    """The origin record (capture/frameview*.h reads it): the original code, and offset maps
    that keep source positions and lead each original instruction start to the start of its
    replacement."""
    src = _big_function_source() + textwrap.dedent("""
        def small(a, xs):
            try:
                return [v * a for v in xs], a.real, -a, xs[0]
            except IndexError:
                return None
    """)
    codes = [c for c in compile(src, "<big>", "exec").co_consts if isinstance(c, CodeType)]
    probes = StandInProbes()
    checked = 0
    for code in codes:
        new = rewrite(code, probes)
        assert new is not code
        _check_origin_record(code, new)
        checked += 1
    assert checked >= 2

    def untouched(a):
        return a

    assert rewrite(untouched.__code__, probes) is untouched.__code__
    assert rewriter.origin(untouched.__code__) is None
    new = rewrite(codes[0], probes)
    assert "already instrumented" in refuse_reason(new)  # other probes: the record says it


def test_handler_stack_depths_preserved():
    def f(xs):
        out = []
        for x in xs:
            with open(__file__) as fh:
                try:
                    out.append(len(fh.readline()) + [1, 2][x])
                except IndexError:
                    out.append(-1)
        return out

    code = f.__code__
    new = rewrite(code, StandInProbes())
    old_t = rewriter._parse_exception_table(code.co_exceptiontable)
    new_t = rewriter._parse_exception_table(new.co_exceptiontable)
    assert [e[3:] for e in old_t] == [e[3:] for e in new_t]
    g = types.FunctionType(new, f.__globals__, "f")
    assert g([0, 5, 1]) == f([0, 5, 1])


def test_stdlib_corpus_never_refused():
    import argparse
    import asyncio.base_events
    import inspect
    import json.decoder
    import typing

    codes = []

    def walk(c):
        codes.append(c)
        for k in c.co_consts:
            if isinstance(k, CodeType):
                walk(k)

    for mod in (argparse, json.decoder, inspect, typing, asyncio.base_events, dis):
        walk(compile(inspect.getsource(mod), mod.__file__, "exec"))
    probes = StandInProbes()
    refused = [(c.co_qualname, refuse_reason(c, probes)) for c in codes
               if instrument(c, probes) is None]
    assert refused == []


def test_rewrite_cost_per_instruction(capsys):
    import argparse
    import inspect

    codes = []

    def walk(c):
        codes.append(c)
        for k in c.co_consts:
            if isinstance(k, CodeType):
                walk(k)

    walk(compile(inspect.getsource(argparse), argparse.__file__, "exec"))
    walk(compile(inspect.getsource(inspect), inspect.__file__, "exec"))
    n = sum(1 for c in codes for _ in dis.get_instructions(c))
    probes = StandInProbes()
    best = {}
    for verify in (True, False):
        ts = []
        for _ in range(3):
            t0 = time.perf_counter()
            for c in codes:
                rewrite(c, probes, verify=verify)
            ts.append(time.perf_counter() - t0)
        best[verify] = min(ts) / n * 1e6
    with capsys.disabled():
        print(f"\n[rewriter] {n} instructions: {best[True]:.2f} us/instr "
              f"(with self-check), {best[False]:.2f} us/instr (without)")
    assert best[True] < 50  # generous: the bytecode package round trip alone costs ~23


# ----------------------------------------------------------------------------------------
# random programs
# ----------------------------------------------------------------------------------------


class _Gen:
    def __init__(self, draw):
        self.draw = draw
        self.loop_var = 0

    def pick(self, xs):
        return self.draw(st.sampled_from(xs))

    def atom(self):
        kind = self.draw(st.integers(0, 6))
        if kind == 0:
            return repr(self.draw(st.integers(-5, 9)))
        if kind == 1:
            return repr(self.draw(st.sampled_from([0.5, -1.25, 2.0, 0.0, 3.5])))
        if kind == 2:
            return f"L[{self.draw(st.integers(-3, 3))}]"
        if kind == 3:
            return "o.v"
        if kind == 4:
            return f"h({self.pick(['a', 'b', 'c'])}, y={self.pick(['a', 'b', '1'])})"
        return self.pick(["a", "b", "c"])

    def expr(self, depth=0):
        if depth > 2 or self.draw(st.integers(0, 2)) == 0:
            return self.atom()
        kind = self.draw(st.integers(0, 6))
        if kind <= 3:
            op = self.pick(["+", "-", "*", "/", "//", "%", "<", "==", "!=", ">=", "&", "|",
                            "^", "<<"])
            if op in ("&", "|", "^", "<<"):
                return (f"(int({self.expr(depth + 1)}) % 7 {op} "
                        f"int({self.expr(depth + 1)}) % 3)")
            return f"({self.expr(depth + 1)} {op} {self.expr(depth + 1)})"
        if kind == 4:
            return f"({self.pick(['-', '+'])}{self.expr(depth + 1)})"
        if kind == 5:
            return f"h(*({self.expr(depth + 1)}, {self.expr(depth + 1)}))"
        return f"({self.expr(depth + 1)} if {self.expr(depth + 1)} else {self.expr(depth + 1)})"

    def stmt(self, indent, depth, in_loop):
        pad = "    " * indent
        kind = self.draw(st.integers(0, 11 if depth < 2 else 6))
        if kind <= 2:
            return [f"{pad}{self.pick(['a', 'b', 'c'])} = {self.expr()}"]
        if kind == 3:
            return [f"{pad}{self.pick(['a', 'b', 'c'])} {self.pick(['+=', '-=', '*='])} "
                    f"{self.expr()}"]
        if kind == 4:
            return [f"{pad}L[{self.draw(st.integers(-3, 3))}] "
                    f"{self.pick(['=', '+=', '*='])} {self.expr()}"]
        if kind == 5:
            return [f"{pad}o.v {self.pick(['=', '+=', '-='])} {self.expr()}"]
        if kind == 6:
            if in_loop:
                return [f"{pad}if {self.expr()}:", f"{pad}    {self.pick(['break', 'continue'])}"]
            return [f"{pad}a, *rest = L[:2]", f"{pad}b, c = c, b"]
        if kind in (7, 8):
            v = f"i{self.loop_var}"
            self.loop_var += 1
            lines = [f"{pad}for {v} in range({self.draw(st.integers(0, 4))}):"]
            lines += self.block(indent + 1, depth + 1, True)
            lines += [f"{pad}    a = a + {v}"]
            if self.draw(st.booleans()):
                lines += [f"{pad}else:", f"{pad}    b = -b"]
            return lines
        if kind == 9:
            v = f"w{self.loop_var}"
            self.loop_var += 1
            return [f"{pad}{v} = 0", f"{pad}while {v} < {self.draw(st.integers(0, 3))}:",
                    f"{pad}    {v} += 1", *self.block(indent + 1, depth + 1, True)]
        if kind == 10:
            return [f"{pad}if {self.expr()}:", *self.block(indent + 1, depth + 1, in_loop),
                    f"{pad}else:", *self.block(indent + 1, depth + 1, in_loop)]
        lines = [f"{pad}try:", *self.block(indent + 1, depth + 1, in_loop),
                 f"{pad}except {self.pick(['ZeroDivisionError', 'TypeError', 'Exception'])}:",
                 f"{pad}    c = {self.expr()}"]
        if self.draw(st.booleans()):
            lines += [f"{pad}finally:", f"{pad}    L[0] = L[0] + 1"]
        return lines

    def block(self, indent, depth, in_loop):
        n = self.draw(st.integers(1, 3))
        out = []
        for _ in range(n):
            out += self.stmt(indent, depth, in_loop)
        return out


@st.composite
def random_programs(draw):
    g = _Gen(draw)
    lines = [
        "class O:",
        "    v = 1.5",
        "def h(x, y=1):",
        "    return x * 2 - y",
        "def main(a, b, c):",
        "    L = [1, 2.5, -3, 4]",
        "    o = O()",
    ]
    lines += g.block(1, 0, False)
    lines.append("    return a, b, c, L, o.v")
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(random_programs(), st.tuples(st.integers(-3, 3), st.sampled_from([0.5, -2.0, 0.0]),
                                    st.integers(0, 4)))
def test_random_programs(src, args):
    check_same(src, args=args)
