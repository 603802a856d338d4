"""Tests for the C extension framead.capture._evalframe (docs/internals.md sections 1-2).

The hook tests install a decide() that rewrites every code object of this file into a copy
with a bigger stack (co_stacksize + 16): the frame layout is identical, the frame size is
not, so each rewritten frame exercises the f_code swap and the data-stack bump.
"""

import asyncio
import collections.abc
import functools
import gc
import math
import operator
import os
import sys
import threading
import traceback

import bytecode
import numpy as np
import pytest
from framead.capture import _evalframe as ef

THIS_FILE = os.path.abspath(__file__)
EXTRA_STACK = 16


def _ours(code):
    return os.path.abspath(code.co_filename) == THIS_FILE


def grow_stack(code):
    if _ours(code):
        return code.replace(co_stacksize=code.co_stacksize + EXTRA_STACK)
    return None


@pytest.fixture
def hook():
    """Hook installed with grow_stack and enabled on this thread."""
    ef.install(grow_stack)
    ef.bump_generation()
    ef.reset_stats()
    prev = ef.set_enabled(True)
    try:
        yield
    finally:
        ef.set_enabled(prev)
        ef.uninstall()


def native(fn, *args, **kwargs):
    """Run fn with the hook disabled on this thread."""
    prev = ef.set_enabled(False)
    try:
        return fn(*args, **kwargs)
    finally:
        ef.set_enabled(prev)


def rewritten_here(depth=1):
    """True when the caller's frame runs instrumented (stack-grown) code."""
    frame = sys._getframe(depth)
    code = frame.f_code
    base = frame.f_globals[code.co_name].__code__  # module-level functions only
    return code is not base and code.co_stacksize == base.co_stacksize + EXTRA_STACK


# ----------------------------------------------------------------------------------------
# Hook: transparency


def add(a, b=10, *rest, c=5, **kw):
    s = a + b + c + sum(rest)
    for v in kw.values():
        s += v
    return s


def test_plain_functions(hook):
    assert add(1) == 16
    assert add(1, 2, 3, 4, c=0, d=7) == 17
    assert add(a=1, b=1) == 7
    st = ef.stats()
    assert st["rewritten"] >= 3
    assert st["decisions"] >= 1


def test_frame_really_rewritten(hook):
    def probe_me():
        return sys._getframe().f_code

    code = probe_me()
    assert code is not probe_me.__code__
    assert code.co_stacksize == probe_me.__code__.co_stacksize + EXTRA_STACK
    assert code.co_name == "probe_me"
    # the instrumented code is marked pass-through: a function built on it is not rewritten
    clone = type(probe_me)(code, probe_me.__globals__)
    assert clone() is code


def rec(n):
    return 0 if n == 0 else 1 + rec(n - 1)


def test_recursion_2000(hook):
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10000))
    try:
        assert rec(2000) == 2000
    finally:
        sys.setrecursionlimit(old)


def gen(n):
    total = 0
    for i in range(n):
        got = yield i * i
        if got is not None:
            total += got
    return total


def delegating(n):
    result = yield from gen(n)
    yield ("done", result)


def test_generators(hook):
    assert list(gen(5)) == [0, 1, 4, 9, 16]
    g = gen(3)
    assert next(g) == 0
    assert g.send(10) == 1
    assert g.send(5) == 4
    with pytest.raises(StopIteration) as si:
        g.send(1)
    assert si.value.value == 16
    assert list(delegating(3)) == [0, 1, 4, ("done", 0)]
    g = gen(10)
    next(g)
    with pytest.raises(KeyError):
        g.throw(KeyError("x"))
    g = gen(10)
    next(g)
    g.close()
    assert ef.stats()["generator_funcs"] >= 3
    assert gen(1).__name__ == "gen" and gen(1).__qualname__ == "gen"


def test_generator_expressions_and_comprehensions(hook):
    data = [3, 1, 2]
    assert [x * 2 for x in data] == [6, 2, 4]
    assert {x: x + 1 for x in data} == {3: 4, 1: 2, 2: 3}
    assert sum(x for x in data if x > 1) == 5


async def coro_add(a, b):
    await asyncio.sleep(0)
    return a + b


async def agen(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i


async def coro_main():
    total = await coro_add(1, 2)
    items = [i async for i in agen(4)]
    res = await asyncio.gather(coro_add(3, 4), coro_add(5, 6))
    return total, items, res


def test_coroutines_and_async_generators(hook):
    assert asyncio.run(coro_main()) == (3, [0, 1, 2, 3], [7, 11])


def make_counter():
    count = 0

    def inc(step=1):
        nonlocal count
        count += step
        return count

    return inc


def test_closures_nonlocal(hook):
    inc = make_counter()
    assert inc() == 1
    assert inc(5) == 6
    x = 3

    def uses_cell():
        return x * 2

    assert uses_cell() == 6


class Base:
    def greet(self):
        return "base"

    @classmethod
    def kind(cls):
        return cls.__name__


class Child(Base):
    label = "child"
    doubled = [c * 2 for c in [label]]

    def greet(self):
        return super().greet() + "+child"

    @classmethod
    def kind(cls):
        return "k:" + super().kind()


def test_class_bodies_and_super(hook):
    class Local(Child):
        attr = 1 + 1

        def greet(self):
            return super().greet() + "+local"

        def cls_name(self):
            return __class__.__name__

    assert Local().greet() == "base+child+local"
    assert Local.kind() == "k:Local"
    assert Local.attr == 2
    assert Local().cls_name() == "Local"
    assert Child.doubled == ["childchild"]


def caller_name():
    return sys._getframe(1).f_code.co_name


def test_getframe_caller(hook):
    assert caller_name() == "test_getframe_caller"
    assert rewritten_here()


def key_fn(x):
    return -x


def test_frames_called_from_c(hook):
    before = ef.stats()["rewritten"]
    assert list(map(key_fn, [1, 2, 3])) == [-1, -2, -3]
    assert sorted([3, 1, 2], key=key_fn) == [3, 2, 1]
    assert functools.reduce(lambda a, b: a * 10 + b, [1, 2, 3]) == 123
    assert ef.stats()["rewritten"] - before >= 3 + 3 + 2


def raiser(n):
    if n == 0:
        raise ValueError("boom")
    return raiser(n - 1)


def _tb_of(fn, *args):
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001
        return [(f.name, f.lineno, f.colno, f.end_colno, f.line)
                for f in traceback.extract_tb(e.__traceback__)]
    raise AssertionError("no exception")


def test_exceptions_and_traceback_lines(hook):
    expected = native(_tb_of, raiser, 3)
    got = _tb_of(raiser, 3)
    assert got == expected
    assert got[-1][0] == "raiser" and got[-1][4] == 'raise ValueError("boom")'

    def handled():
        try:
            return 1 / 0
        except ZeroDivisionError as e:
            return type(e).__name__
        finally:
            pass

    assert handled() == "ZeroDivisionError"


def test_tracing_sees_user_frames_not_decide(hook):
    events = []

    def tracer(frame, event, arg):
        events.append((event, frame.f_code.co_name, frame.f_lineno))
        return tracer

    def traced_target(a):
        b = a + 1
        return b * 2

    def run():
        sys.settrace(tracer)
        try:
            return traced_target(3)
        finally:
            sys.settrace(None)

    ef.bump_generation()  # force a decide() while tracing is on
    got_events_start = len(events)
    assert run() == 8
    traced = events[got_events_start:]
    assert not any(name == "grow_stack" for _, name, _ in traced)
    assert ef.stats()["decisions"] >= 1
    events.clear()
    native(run)
    native_events = list(events)
    assert [e for e in traced if e[1] == "traced_target"] == \
        [e for e in native_events if e[1] == "traced_target"]


# ----------------------------------------------------------------------------------------
# Hook: decide() errors, layout, room, generations, nesting, threads


def victim(x):
    return x + 1


def test_decide_exception_propagates():
    arg = object()
    calls = []

    def bad(code):
        if code.co_name == "victim":
            calls.append(code)
            raise ValueError("decide failed")
        return None

    ef.install(bad)
    ef.bump_generation()
    prev = ef.set_enabled(True)
    try:
        before = sys.getrefcount(arg)
        for _ in range(3):
            with pytest.raises(ValueError, match="decide failed"):
                victim(arg)
        assert sys.getrefcount(arg) == before
        assert len(calls) == 3  # an error is not cached
    finally:
        ef.set_enabled(prev)
        ef.uninstall()
    assert ef.stats()["decide_errors"] >= 3
    assert victim(1) == 2


def test_decide_keyboard_interrupt_propagates():
    def interrupt(code):
        if code.co_name == "victim":
            raise KeyboardInterrupt
        return None

    ef.install(interrupt)
    ef.bump_generation()
    prev = ef.set_enabled(True)
    try:
        with pytest.raises(KeyboardInterrupt):
            victim(1)
    finally:
        ef.set_enabled(prev)
        ef.uninstall()


def test_decide_bad_return_type():
    ef.install(lambda code: 42 if code.co_name == "victim" else None)
    ef.bump_generation()
    prev = ef.set_enabled(True)
    try:
        with pytest.raises(TypeError, match="code object or None"):
            victim(1)
    finally:
        ef.set_enabled(prev)
        ef.uninstall()


def two_args(a, b):
    return a - b


def test_layout_rejection():
    other = (lambda a: a).__code__  # different argcount / locals

    def decide(code):
        return other if code.co_name == "two_args" else None

    ef.install(decide)
    ef.bump_generation()
    ef.reset_stats()
    prev = ef.set_enabled(True)
    try:
        assert two_args(5, 3) == 2
        assert two_args(1, 1) == 0
    finally:
        ef.set_enabled(prev)
        ef.uninstall()
    st = ef.stats()
    assert st["layout_rejections"] == 1  # cached: decided once
    assert st["rewritten"] == 0


def test_no_room_runs_original():
    def decide(code):
        if code.co_name == "two_args":
            return code.replace(co_stacksize=code.co_stacksize + 500_000)
        return None

    ef.install(decide)
    ef.bump_generation()
    ef.reset_stats()
    prev = ef.set_enabled(True)
    try:
        assert two_args(5, 3) == 2
    finally:
        ef.set_enabled(prev)
        ef.uninstall()
    # no room: the function is called again on a fresh chunk (recalled); a replacement too big
    # even for that runs the original code there
    assert ef.stats()["no_room"] == 2 and ef.stats()["recalled"] == 1


def test_generation_invalidates_cache(hook):
    assert victim(1) == 2
    d0 = ef.stats()["decisions"]
    assert victim(1) == 2
    assert ef.stats()["decisions"] == d0
    ef.bump_generation()
    assert victim(1) == 2
    assert ef.stats()["decisions"] == d0 + 1


def test_nesting_and_uninstall():
    depth = ef.install_depth()
    ef.install(grow_stack)
    ef.install(grow_stack)
    assert ef.install_depth() == depth + 2
    ef.uninstall()
    ef.uninstall()
    assert ef.install_depth() == depth
    if depth == 0:
        with pytest.raises(RuntimeError):
            ef.uninstall()


def test_foreign_evaluator_detected():
    if ef.install_depth():
        pytest.skip("hook already installed")
    ef._install_foreign_for_test(True)
    try:
        with pytest.raises(RuntimeError) as ei:
            ef.install(grow_stack)
        assert str(ei.value) == (
            "another PEP 523 frame evaluator is installed (torch.compile/dynamo or a "
            "debugger such as pydevd); framead cannot capture while it is active")
    finally:
        ef._install_foreign_for_test(False)
    assert ef.install_depth() == 0


def test_enabled_is_per_thread(hook):
    out = {}

    def worker():
        out["enabled"] = ef.is_enabled()
        out["rewritten"] = sys._getframe().f_code is not worker.__code__

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert out == {"enabled": False, "rewritten": False}
    assert ef.is_enabled()
    assert ef.set_enabled(True) is True


def test_disabled_runs_original(hook):
    def f():
        return sys._getframe().f_code

    assert native(f) is f.__code__
    assert f() is not f.__code__


def test_no_reference_leaks_in_hook(hook):
    arg = object()

    def g(x):
        return x

    def gg(x):
        yield x

    for _ in range(10):
        g(arg)
        list(gg(arg))
    gc.collect()
    before = sys.getrefcount(arg), sys.getrefcount(g.__code__), sys.getrefcount(g)
    for _ in range(1000):
        g(arg)
        list(gg(arg))
    gc.collect()
    assert (sys.getrefcount(arg), sys.getrefcount(g.__code__), sys.getrefcount(g)) == before


# ----------------------------------------------------------------------------------------
# Probes: native behaviour

BINOPS = [operator.add, operator.and_, operator.floordiv, operator.lshift, operator.matmul,
          operator.mul, operator.mod, operator.or_, operator.pow, operator.rshift,
          operator.sub, operator.truediv, operator.xor]
INPLACE = [operator.iadd, operator.iand, operator.ifloordiv, operator.ilshift,
           operator.imatmul, operator.imul, operator.imod, operator.ior, operator.ipow,
           operator.irshift, operator.isub, operator.itruediv, operator.ixor]
ALL_BINOPS = BINOPS + INPLACE
COMPARES = [operator.lt, operator.le, operator.eq, operator.ne, operator.gt, operator.ge]


def outcome(fn, *args):
    try:
        r = fn(*args)
    except Exception as e:  # noqa: BLE001
        return ("raise", type(e), str(e))
    if isinstance(r, np.ndarray):
        return ("ok", "ndarray", r.dtype, repr(r.tolist()))
    return ("ok", type(r), r)


def binop_operands():
    m = np.arange(4.0).reshape(2, 2)
    return [(7, 3), (-7, 2), (7.5, 2.0), (True, 3), (6, 0), (1.5, 0.0), (2, -1),
            ({1, 2}, {2, 3}), ("ab", 3), (1, "a"), (None, 1), (m, m), (m, 2.0),
            (np.float64(3.0), 2), (3 + 1j, 2)]


def test_binop_tuple_shape():
    assert len(ef.BINOP) == 26 and len(ef.COMPARE) == 6
    names = [p.__name__ for p in ef.BINOP + ef.COMPARE]
    assert len(set(names)) == 32
    assert all(n.startswith("_framead_probe_") for n in names)
    assert ef.BINOP[0].__name__ == "_framead_probe_add"
    assert ef.BINOP[13].__name__ == "_framead_probe_iadd"
    assert ef.COMPARE[2].__name__ == "_framead_probe_eq"


@pytest.mark.parametrize("oparg", range(26))
def test_binop_native(oparg):
    probe, op = ef.BINOP[oparg], ALL_BINOPS[oparg]
    n = len(binop_operands())
    with np.errstate(all="ignore"):
        for i in range(n):  # fresh operands each side: in-place ops mutate them
            a, b = binop_operands()[i]
            got = outcome(probe, a, b), repr(a), repr(b)
            a, b = binop_operands()[i]
            want = outcome(op, a, b), repr(a), repr(b)
            assert got == want, (oparg, i)


def test_inplace_binop_mutates_like_native():
    a = [1]
    r = ef.BINOP[13](a, [2])
    assert r is a and a == [1, 2]
    x = np.ones(3)
    r = ef.BINOP[18](x, 2.0)
    assert r is x and x.tolist() == [2.0, 2.0, 2.0]
    s = {1}
    assert ef.BINOP[20](s, {2}) is s and s == {1, 2}
    t = (1,)
    r = ef.BINOP[13](t, (2,))
    assert r == (1, 2) and t == (1,)


@pytest.mark.parametrize("oparg", range(6))
def test_compare_native(oparg):
    probe, op = ef.COMPARE[oparg], COMPARES[oparg]
    m = np.arange(3.0)
    for a, b in [(1, 2), (2, 1), (1.0, 1), ("a", "b"), (1, "a"), (None, None), (m, 1.0),
                 ([1, 2], [1, 3]), (float("nan"), float("nan"))]:
        assert outcome(probe, a, b) == outcome(op, a, b), (oparg, a, b)


def test_unary_native():
    for probe, op in [(ef.unary_negative, operator.neg), (ef.unary_positive, operator.pos),
                      (ef.unary_invert, operator.invert)]:
        for a in [3, -2.5, True, "s", np.arange(3), np.float32(2), 1j, None]:
            assert outcome(probe, a) == outcome(op, a)


def test_subscr_attr_iter_unpack_native():
    lst = [1, 2, 3]
    assert ef.getitem(lst, 1) == 2
    assert ef.getitem(lst, slice(1, None)) == [2, 3]
    assert outcome(ef.getitem, lst, 10) == outcome(operator.getitem, lst, 10)
    assert outcome(ef.getitem, {}, "k") == outcome(operator.getitem, {}, "k")
    assert outcome(ef.getitem, 1, 0) == outcome(operator.getitem, 1, 0)
    d = {}
    assert ef.setitem(d, "k", 5) is None and d == {"k": 5}
    assert outcome(ef.setitem, (1,), 0, 2) == outcome(operator.setitem, (1,), 0, 2)
    a = np.zeros(3)
    ef.setitem(a, slice(None), 7.0)
    assert a.tolist() == [7.0] * 3
    assert ef.getattr(a, "shape") == (3,)
    assert outcome(ef.getattr, 1, "nope") == outcome(getattr, 1, "nope")
    assert outcome(ef.getattr, 1, 5) == outcome(getattr, 1, 5)
    assert ef.getiter(lst) is lst
    assert ef.unpack(lst) is lst
    with pytest.raises(TypeError, match="expected 2 arguments, got 1"):
        ef.BINOP[0](1)
    with pytest.raises(TypeError):
        ef.setitem(1, 2)


def plain(a, b=2, *, c=3):
    return a, b, c


def who_called():
    return sys._getframe(1).f_code.co_name


def test_call_native():
    call = ef.call
    assert call(plain, 1) == (1, 2, 3)
    assert call(plain, 1, c=9, b=4) == (1, 4, 9)
    assert call(len, [1, 2]) == 2
    assert call(np.ndarray.sum, np.ones(3)) == 3.0
    assert call(list.append, [], 1) is None
    for args, kw in [((), {}), ((1, 2, 3), {}), ((1,), {"d": 1}), ((1,), {"b": 1, "a": 2})]:
        assert outcome(lambda: call(plain, *args, **kw)) == \
            outcome(lambda: plain(*args, **kw))
    assert outcome(lambda: call(len)) == outcome(lambda: len())
    five = 5
    assert outcome(lambda: call(five)) == outcome(lambda: five())
    with pytest.raises(TypeError):
        call()
    assert call(who_called) == "test_call_native"
    assert repr(call).startswith("<framead call probe")
    assert call.__name__ == "_framead_probe_call"


def _rewrite_nulls_to_probe(fn):
    """What the rewriter does: the NULL beside a callable becomes the call probe."""
    bc = bytecode.Bytecode.from_code(fn.__code__)
    out = []
    for ins in bc:
        if isinstance(ins, bytecode.Instr) and ins.name == "PUSH_NULL":
            out.append(bytecode.Instr("LOAD_CONST", ef.call, location=ins.location))
            if sys.version_info >= (3, 13):  # 3.13 pushes the NULL above the callable
                out.append(bytecode.Instr("SWAP", 2, location=ins.location))
        elif (isinstance(ins, bytecode.Instr) and ins.name == "LOAD_GLOBAL"
              and ins.arg[0] is True):
            out.append(bytecode.Instr("LOAD_CONST", ef.call, location=ins.location))
            out.append(bytecode.Instr("LOAD_GLOBAL", (False, ins.arg[1]),
                                      location=ins.location))
        else:
            out.append(ins)
    bc.clear()
    bc.extend(out)
    fn.__code__ = bc.to_code()
    return fn


class SuperBase:
    def val(self):
        return 1


class SuperUser(SuperBase):
    def val(self):
        return super().val() + 1

    def where(self):
        return who_called()


_rewrite_nulls_to_probe(SuperUser.val)
_rewrite_nulls_to_probe(SuperUser.where)


def test_call_probe_below_callable_keeps_semantics():
    assert SuperUser().val() == 2  # zero-argument super() called through the probe
    assert SuperUser().where() == "where"

    def t(f, x, y):
        return f(x, b=y)

    _rewrite_nulls_to_probe(t)
    assert t(plain, 1, 2) == (1, 2, 3)
    with pytest.raises(TypeError) as ei:
        t(dict, 1, 2)
    with pytest.raises(TypeError) as ei2:
        dict(1, b=2)
    assert str(ei.value) == str(ei2.value)


def _star_caller(marker):
    if marker is ef.STAR_KWNAMES1:
        src = "def caller(f, a):\n    return call(f, __framead_star__=a)\n"
    else:
        src = ("def caller(f, a, k):\n"
               "    return call(f, __framead_star__=a, __framead_dstar__=k)\n")
    ns = {"call": ef.call}
    exec(compile(src, "<star>", "exec"), ns)
    fn = ns["caller"]
    consts = tuple(marker if c == marker else c for c in fn.__code__.co_consts)
    fn.__code__ = fn.__code__.replace(co_consts=consts)
    return fn


class DupKeys:
    def keys(self):
        return ["a", "a"]

    def __getitem__(self, k):
        return 1


class Mapish(collections.abc.Mapping):
    def __init__(self, d):
        self.d = d

    def __getitem__(self, k):
        return self.d[k]

    def __iter__(self):
        return iter(self.d)

    def __len__(self):
        return len(self.d)


def target(*a, **k):
    return a, k


def test_star_markers_native():
    assert ef.STAR_KWNAMES1 == ("__framead_star__",)
    assert ef.STAR_KWNAMES2 == ("__framead_star__", "__framead_dstar__")
    s1, s2 = _star_caller(ef.STAR_KWNAMES1), _star_caller(ef.STAR_KWNAMES2)
    assert s1(target, (1, 2)) == ((1, 2), {})
    assert s1(target, [1, 2]) == ((1, 2), {})
    assert s1(target, iter([3])) == ((3,), {})
    assert s1(plain, "ab") == ("a", "b", 3)
    assert s2(target, (1,), {"x": 2}) == ((1,), {"x": 2})
    assert s2(target, [], Mapish({"y": 3})) == ((), {"y": 3})
    assert s2(plain, (1,), {"c": 0}) == (1, 2, 0)
    # errors exactly as CALL_FUNCTION_EX
    assert outcome(s1, target, 5) == outcome(lambda: target(*5))
    assert outcome(s1, len, None) == outcome(lambda: len(*None))
    assert outcome(s2, target, (), 3) == outcome(lambda: target(**3))
    assert outcome(s2, target, (), DupKeys()) == outcome(lambda: target(**DupKeys()))
    assert outcome(s2, plain, (1, 2, 3), {}) == outcome(lambda: plain(*(1, 2, 3)))
    assert outcome(s2, plain, (1,), {1: 2}) == outcome(lambda: plain(1, **{1: 2}))
    msg = outcome(s1, target, 5)[2]
    assert msg == "test_evalframe.target() argument after * must be an iterable, not int" \
        or msg.endswith("target() argument after * must be an iterable, not int")
    # an equal but distinct tuple is an ordinary keyword argument
    assert ef.call(target, __framead_star__=(1,)) == ((), {"__framead_star__": (1,)})


# ----------------------------------------------------------------------------------------
# Probes: traced paths


class StubHandlers:
    """Performs the real operation and records what it was asked to do."""

    def __init__(self):
        self.log = []

    def binop(self, oparg, a, b):
        self.log.append(("binop", oparg))
        return ALL_BINOPS[oparg](a, b)

    def unary(self, name, a):
        self.log.append(("unary", name))
        return {"neg": operator.neg, "pos": operator.pos, "invert": operator.invert}[name](a)

    def compare(self, oparg, a, b):
        self.log.append(("compare", oparg))
        return COMPARES[oparg](a, b)

    def getitem(self, a, k):
        self.log.append(("getitem",))
        return a[k]

    def setitem(self, a, k, v):
        self.log.append(("setitem",))
        a[k] = v
        return "ignored"

    def getattr(self, obj, name):
        self.log.append(("getattr", name))
        return getattr(obj, name)

    def getiter(self, obj):
        self.log.append(("getiter",))
        return list(obj)

    def unpack(self, obj):
        self.log.append(("unpack",))
        return tuple(obj)

    def call(self, fn, args, kwargs):
        self.log.append(("call", fn, args, kwargs))
        return fn(*args, **(kwargs or {}))


@pytest.fixture
def stub():
    h = StubHandlers()
    ef.set_ndarray_type(np.ndarray)
    ef.set_handlers(h)
    prev = ef.set_enabled(True)
    try:
        yield h
    finally:
        ef.set_enabled(prev)
        ef.set_handlers(None)
        ef.clear_tracked()
        ef.clear_callable_flags()


def test_tracked_set_basics(stub):
    xs = [float(i) + 0.5 for i in range(1000)]
    for x in xs:
        ef.track(x)
    assert ef.tracked_count() == 1000
    assert all(ef.is_tracked(x) for x in xs)
    assert not ef.is_tracked(float("0.5"))
    for x in xs[::2]:
        ef.untrack(x)
    assert ef.tracked_count() == 500
    assert [ef.is_tracked(x) for x in xs] == [i % 2 == 1 for i in range(1000)]
    ef.untrack(object())  # absent: no error
    ef.clear_tracked()
    assert ef.tracked_count() == 0 and not ef.is_tracked(xs[1])


def test_binop_traced_calls_handler(stub):
    x = float("2.5")
    ef.track(x)
    for oparg in (0, 5, 10, 11, 8, 13, 24):
        assert ef.BINOP[oparg](x, 2.0) == ALL_BINOPS[oparg](x, 2.0)
        assert ef.BINOP[oparg](3.0, x) == ALL_BINOPS[oparg](3.0, x)
    assert stub.log == [("binop", op) for op in (0, 5, 10, 11, 8, 13, 24) for _ in (0, 1)]
    stub.log.clear()
    assert ef.BINOP[0](1.0, 2.0) == 3.0  # untraced: handler not called
    assert stub.log == []


def test_compare_unary_traced(stub):
    x = float("-1.5")
    ef.track(x)
    assert [ef.COMPARE[i](x, 0.0) for i in range(6)] == [c(x, 0.0) for c in COMPARES]
    assert ef.unary_negative(x) == 1.5
    assert ef.unary_positive(x) == -1.5
    arr = np.arange(3)
    ef.track(arr)
    assert ef.unary_invert(arr).tolist() == [-1, -2, -3]
    assert stub.log == [("compare", i) for i in range(6)] + \
        [("unary", "neg"), ("unary", "pos"), ("unary", "invert")]


def test_subscr_attr_iter_unpack_traced(stub):
    a = np.arange(6.0)
    ef.track(a)
    assert ef.getitem(a, 2) == 2.0
    assert ef.setitem(a, 0, 9.0) is None and a[0] == 9.0
    b = np.zeros(2)
    v = float("4.0")
    ef.track(v)
    ef.setitem(b, 1, v)  # traced value written into an untraced array
    assert b[1] == 4.0
    assert ef.getattr(a, "T") is not None
    assert ef.getiter(a) == list(a)
    assert ef.unpack(a[:2]) == (9.0, 1.0)
    lst = [1, 2]
    assert ef.getiter(lst) is lst and ef.unpack(lst) is lst
    kinds = [e[0] for e in stub.log]
    assert kinds == ["getitem", "setitem", "setitem", "getattr", "getiter", "unpack"]


def test_ndarray_views_are_traced(stub):
    a = np.arange(8.0)
    ef.track(a)
    assert ef.is_tracked(a[2:])
    assert ef.is_tracked(a[2:][::2])
    assert ef.is_tracked(a.reshape(2, 4).T)
    assert not ef.is_tracked(a.copy())
    assert not ef.is_tracked(np.arange(8.0)[1:])
    ef.BINOP[0](a[1:3], 1.0)
    assert stub.log == [("binop", 0)]
    ef.set_ndarray_type(None)
    assert not ef.is_tracked(a[2:]) and ef.is_tracked(a)
    ef.set_ndarray_type(np.ndarray)


def test_disabled_thread_takes_native_path(stub):
    x = float("1.25")
    ef.track(x)
    ef.set_enabled(False)
    assert ef.BINOP[0](x, 1.0) == 2.25
    assert ef.call(math.sin, x) == math.sin(x)
    assert stub.log == []
    ef.set_enabled(True)
    ef.BINOP[0](x, 1.0)
    assert stub.log == [("binop", 0)]


def test_handler_exceptions_propagate(stub):
    class Boom(StubHandlers):
        def binop(self, oparg, a, b):
            raise ArithmeticError("handler")

    ef.set_handlers(Boom())
    x = float("1.0")
    ef.track(x)
    with pytest.raises(ArithmeticError, match="handler"):
        ef.BINOP[0](x, x)
    with pytest.raises(AttributeError):
        ef.set_handlers(object())


def test_callable_flags_keys():
    try:
        a = np.ones(3)
        ef.set_callable_flags(np.ndarray.sum, ef.RULE)
        assert ef.get_callable_flags(a.sum) == ef.RULE  # bound builtin method: same PyMethodDef
        assert ef.get_callable_flags(np.ones(2).sum) == ef.RULE
        ef.set_callable_flags(list.append, ef.NATIVE)
        assert ef.get_callable_flags([].append) == ef.NATIVE
        ef.set_callable_flags(math.sin, ef.RULE | ef.SCAN)
        assert ef.get_callable_flags(math.sin) == ef.RULE | ef.SCAN
        ef.set_callable_flags(plain, ef.RULE)
        assert ef.get_callable_flags(plain) == ef.RULE
        assert ef.get_callable_flags(np.sin) == 0
        ef.set_callable_flags(plain, 0)
        assert ef.get_callable_flags(plain) == 0
        with pytest.raises(ValueError):
            ef.set_callable_flags(plain, 99)
    finally:
        ef.clear_callable_flags()
    assert ef.get_callable_flags(a.sum) == 0
    assert (ef.RULE, ef.ALWAYS, ef.NATIVE, ef.SCAN) == (1, 2, 4, 8)


class HeapThing:
    def __init__(self, v):
        self.v = v


def test_call_dispatch(stub):
    call = ef.call
    x = float("0.5")
    ef.track(x)
    a = np.ones(3)
    ef.track(a)

    # traced argument to a C function without flags -> handler
    assert call(math.sin, x) == math.sin(x)
    assert stub.log[-1] == ("call", math.sin, (x,), None)
    # keywords are passed as a dict
    assert call(np.add, a, 1.0, out=None).tolist() == [2.0] * 3
    assert stub.log[-1][3] == {"out": None}
    # traced __self__ of a builtin method -> handler
    stub.log.clear()
    assert call(a.sum) == 3.0
    assert stub.log == [("call", stub.log[0][1], (), None)]
    # untraced -> native
    stub.log.clear()
    assert call(math.sin, 0.5) == math.sin(0.5)
    assert stub.log == []
    # NATIVE flag -> native even with traced args
    ef.set_callable_flags(len, ef.NATIVE)
    assert call(len, a) == 3 and stub.log == []
    # Python functions, bound Python methods, heap types -> native
    assert call(plain, x) == (x, 2, 3)
    assert call(HeapThing, x).v is x
    assert stub.log == []
    # ... unless they carry RULE
    ef.set_callable_flags(plain, ef.RULE)
    assert call(plain, x) == (x, 2, 3)
    assert stub.log == [("call", plain, (x,), None)]
    stub.log.clear()
    # ALWAYS -> handler even when nothing is traced
    ef.set_callable_flags(sum, ef.ALWAYS)
    assert call(sum, [1.0, 2.0]) == 3.0
    assert stub.log == [("call", sum, ([1.0, 2.0],), None)]
    stub.log.clear()
    # SCAN looks inside lists / tuples, and so does every C callable without RULE/NATIVE
    # (a traced value reaching C inside a list is reported by the handler)
    assert call(np.array, [x, 2.0]).tolist() == [0.5, 2.0]
    assert len(stub.log) == 1 and stub.log[0][1] is np.array
    stub.log.clear()
    ef.set_callable_flags(np.array, ef.NATIVE)
    assert call(np.array, [x, 2.0]).tolist() == [0.5, 2.0]
    assert stub.log == []
    # a class built in C (heap type without Python __init__/__new__) is not Python code
    assert call(type("Items", (list,), {}), [x]) == [x]
    assert len(stub.log) == 1
    stub.log.clear()
    ef.set_callable_flags(np.array, ef.SCAN)
    call(np.array, [[1.0], (x,)])
    assert len(stub.log) == 1 and stub.log[0][1] is np.array
    stub.log.clear()
    call(np.array, [[1.0], (2.0,)])
    assert stub.log == []
    # no handlers -> native
    ef.set_handlers(None)
    assert call(math.sin, x) == math.sin(x)
    assert stub.log == []


def test_star_call_traced(stub):
    x = float("0.25")
    ef.track(x)
    s1, s2 = _star_caller(ef.STAR_KWNAMES1), _star_caller(ef.STAR_KWNAMES2)
    assert s1(math.pow, [x, 2.0]) == x ** 2
    assert stub.log == [("call", math.pow, (x, 2.0), None)]
    stub.log.clear()
    assert s2(target, (1,), {"k": x}) == ((1,), {"k": x})  # Python function: native
    assert stub.log == []
    assert s2(np.add, (x, 1.0), {"dtype": float}) == 1.25
    assert stub.log == [("call", np.add, (x, 1.0), {"dtype": float})]


def test_probe_refcounts_stable(stub):
    x, y = float("1.5"), float("2.5")
    a = np.arange(3.0)
    ef.track(x)
    s1, s2 = _star_caller(ef.STAR_KWNAMES1), _star_caller(ef.STAR_KWNAMES2)
    ops = [lambda: ef.BINOP[0](x, y), lambda: ef.BINOP[0](y, 1.0),
           lambda: ef.COMPARE[0](x, y), lambda: ef.getitem(a, 1),
           lambda: ef.setitem(a, 1, y), lambda: ef.call(math.sin, x),
           lambda: ef.call(math.sin, y), lambda: ef.getiter(a), lambda: ef.unpack(a),
           lambda: ef.call(plain, x, c=y), lambda: ef.call(dict, a=x, b=y),
           lambda: s1(math.pow, [x, 2.0]), lambda: s1(plain, (y,)),
           lambda: s2(dict, (), {"a": y, "b": x}), lambda: s2(dict, [], Mapish({"a": y})),
           lambda: outcome(s1, target, 5), lambda: outcome(s2, target, (), 3),
           lambda: outcome(s2, target, (x,), DupKeys()),
           lambda: outcome(ef.BINOP[0], y, "s"), lambda: outcome(ef.getitem, [y], 3)]
    for op in ops:
        op()
    stub.log.clear()
    gc.collect()
    before = [sys.getrefcount(o) for o in (x, y, a, math.sin, plain)]
    for _ in range(2000):
        for op in ops:
            op()
    stub.log.clear()
    gc.collect()
    assert [sys.getrefcount(o) for o in (x, y, a, math.sin, plain)] == before


def test_code_objects_freed_while_installed(hook):
    # code objects carrying a cached decision (and their replacements) die while the hook
    # is installed, and after it is gone; neither may crash or leak the replacement
    for i in range(50):
        ns = {}
        exec(compile(f"def dyn(x):\n    return x + {i}\n", THIS_FILE, "exec"), ns)
        assert ns["dyn"](1) == 1 + i
        del ns
    gc.collect()
    assert ef.stats()["rewritten"] >= 50
    ns = {}
    exec(compile("def dyn2(x):\n    return x * 2\n", THIS_FILE, "exec"), ns)
    assert ns["dyn2"](4) == 8
    ef.uninstall()
    try:
        ns.clear()  # freed with no hook installed
        gc.collect()
    finally:
        ef.install(grow_stack)
