"""Transparency: every program behaves the same natively and inside ``Session()``.

For each case (tests/transparency_cases) and for random generated programs, compares:
return value (bit for bit: floats by their bytes, arrays by dtype, shape and bytes), the
exception (type, message, notes, chained cause/context, sub-exceptions of groups), the
traceback entries that fall in the cases' files, stdout/stderr, and the arguments after the
call. Session tracebacks must also not contain framead's own frames.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import enum
import io
import itertools
import os
import re
import struct
import sys
import traceback
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import get_engine, load_source_module
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from transparency_cases import CASES_DIR, all_cases

CASES = all_cases()
try:  # framead's folders, checkout or wheel (FRAMEAD_TEST_ENGINE=fake runs without framead)
    from framead.capture.sourceloc import PACKAGE_DIRS
except ImportError:
    PACKAGE_DIRS = {}
FRAMEAD_DIRS = tuple(d for ds in PACKAGE_DIRS.values() for d in ds)


# ----------------------------------------------------------------------------------------
# canonical, bit-exact representations
# ----------------------------------------------------------------------------------------


def _float_bits(x: float) -> str:
    return struct.pack("<d", x).hex()


_ADDR = re.compile(r" at 0x[0-9a-fA-F]+")


def canon(obj, _seen=None):
    """A comparable representation that is equal only for bit-identical values."""
    seen = set() if _seen is None else _seen
    t = type(obj)
    name = f"{t.__module__}.{t.__qualname__}"
    if obj is None or t in (bool, int, str, bytes):
        return (name, obj)
    if t is float:
        return (name, _float_bits(obj))
    if t is complex:
        return (name, _float_bits(obj.real), _float_bits(obj.imag))
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            return (name, obj.dtype.str, obj.shape, canon(obj.tolist(), seen))
        return (name, str(obj.dtype.descr), obj.shape, np.ascontiguousarray(obj).tobytes())
    if isinstance(obj, np.generic):
        return (name, str(obj.dtype), obj.tobytes() if not obj.dtype.hasobject else repr(obj))
    if isinstance(obj, enum.Enum):
        return (name, obj.name)
    if id(obj) in seen:
        return (name, "<cycle>")
    if isinstance(obj, list | tuple | dict | set | frozenset) or dataclasses.is_dataclass(obj):
        seen = seen | {id(obj)}
    if isinstance(obj, list | tuple):
        return (name, tuple(canon(x, seen) for x in obj))
    if isinstance(obj, dict):
        return (name, tuple((canon(k, seen), canon(v, seen)) for k, v in obj.items()))
    if isinstance(obj, set | frozenset):
        return (name, tuple(sorted(repr(canon(x, seen)) for x in obj)))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return (name, tuple((f.name, canon(getattr(obj, f.name, "<unset>"), seen))
                            for f in dataclasses.fields(obj)))
    if isinstance(obj, BaseException):
        return (name, str(obj), canon(obj.args, seen))
    if isinstance(obj, type):
        return ("type", f"{obj.__module__}.{obj.__qualname__}")
    return (name, _ADDR.sub(" at 0x?", repr(obj)))


def _tb_entries(tb, roots: tuple[str, ...]) -> list[tuple[str, int, str]]:
    return [(frame.f_code.co_filename, lineno, frame.f_code.co_name)
            for frame, lineno in traceback.walk_tb(tb)
            if frame.f_code.co_filename.startswith(roots)]


def _framead_frames(tb) -> list[tuple[str, int, str]]:
    return _tb_entries(tb, FRAMEAD_DIRS)


def canon_exception(e: BaseException | None, roots, depth: int = 0):
    if e is None or depth > 8:
        return None
    t = type(e)
    sub = None
    if isinstance(e, BaseExceptionGroup):
        sub = tuple(canon_exception(x, roots, depth + 1) for x in e.exceptions)
    return {
        "type": f"{t.__module__}.{t.__qualname__}",
        "message": str(e),
        "args": repr(canon(e.args)),
        "notes": tuple(getattr(e, "__notes__", ())),
        "traceback": _tb_entries(e.__traceback__, roots),
        "cause": canon_exception(e.__cause__, roots, depth + 1),
        "context": None if e.__suppress_context__ else canon_exception(e.__context__, roots,
                                                                        depth + 1),
        "suppress_context": e.__suppress_context__,
        "group": sub,
    }


@dataclass
class Outcome:
    result: object
    exception: object
    stdout: str
    stderr: str
    args_after: object
    framead_frames: list

    def comparable(self) -> dict:
        return {"exception": self.exception, "result": self.result, "stdout": self.stdout,
                "stderr": self.stderr, "args_after": self.args_after}


def _all_framead_frames(e, depth=0) -> list:
    if e is None or depth > 8:
        return []
    out = _framead_frames(e.__traceback__)
    out += _all_framead_frames(e.__cause__, depth + 1)
    out += _all_framead_frames(e.__context__, depth + 1)
    return out


def run(func, args: tuple, kwargs: dict, context, roots: tuple[str, ...]) -> Outcome:
    """Call ``func`` on deep copies of its arguments inside ``context()``; record everything.

    The same function runs both ways so the call depth (recursion limit) matches.
    """
    args = copy.deepcopy(args)
    kwargs = copy.deepcopy(kwargs)
    out, err = io.StringIO(), io.StringIO()
    result = exc = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            with context():
                result = func(*args, **kwargs)
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # SystemExit and GeneratorExit are outcomes too
            exc = e
    outcome = Outcome(canon(result), canon_exception(exc, roots), out.getvalue(), err.getvalue(),
                      canon((args, kwargs)), _all_framead_frames(exc))
    del exc
    return outcome


def _show(o: Outcome) -> str:
    return "\n".join(f"  {k}: {v!r}"[:4000] for k, v in o.comparable().items())


def assert_same_outcome(native: Outcome, captured: Outcome) -> None:
    n, c = native.comparable(), captured.comparable()
    for key in n:
        assert n[key] == c[key], (
            f"{key} differs under Session\n--- native:\n{_show(native)}\n"
            f"--- under Session:\n{_show(captured)}"
        )
    assert captured.framead_frames == native.framead_frames, (
        f"framead's own frames appear in the user's traceback: {captured.framead_frames}"
    )


# ----------------------------------------------------------------------------------------
# the cases
# ----------------------------------------------------------------------------------------


def test_enough_cases():
    assert len(CASES) >= 150
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_is_transparent(case, engine):
    roots = (CASES_DIR + os.sep,)
    native = run(case.func, case.args, case.kwargs, contextlib.nullcontext, roots)
    captured = run(case.func, case.args, case.kwargs, engine.Session, roots)
    assert_same_outcome(native, captured)


@pytest.mark.parametrize("case", CASES[::7], ids=[c.name for c in CASES[::7]])
def test_case_is_deterministic_natively(case):
    """Guards the suite itself: a case that differs between two native runs is a bad case."""
    roots = (CASES_DIR + os.sep,)
    a = run(case.func, case.args, case.kwargs, contextlib.nullcontext, roots)
    b = run(case.func, case.args, case.kwargs, contextlib.nullcontext, roots)
    assert_same_outcome(a, b)


def test_session_is_reentrant_and_repeatable(engine):
    """Several sessions in a row (and nested) keep native behaviour."""
    roots = (CASES_DIR + os.sep,)
    picks = CASES[::25]
    natives = [run(c.func, c.args, c.kwargs, contextlib.nullcontext, roots) for c in picks]
    for _ in range(2):
        for c, nat in zip(picks, natives, strict=True):
            assert_same_outcome(nat, run(c.func, c.args, c.kwargs, engine.Session, roots))

    def nested():
        with engine.Session():
            return picks[0].func(*copy.deepcopy(picks[0].args))

    nat = run(picks[0].func, picks[0].args, picks[0].kwargs, contextlib.nullcontext, roots)
    got = run(nested, (), {}, engine.Session, roots)
    assert (got.result, got.exception, got.stdout) == (nat.result, nat.exception, nat.stdout)


def test_after_session_code_runs_natively_again(engine):
    def f(x):
        return [x * i for i in range(3)]

    with engine.Session():
        inside = f(1.5)
    assert f(1.5) == inside == [0.0, 1.5, 3.0]
    assert sys.getrecursionlimit() >= 1000


# ----------------------------------------------------------------------------------------
# the comparison itself must be strict (independent of the engine)
# ----------------------------------------------------------------------------------------


def _raise_here():
    raise ValueError("x")


def _raise_there():
    pass
    raise ValueError("x")


def _mutate(xs):
    xs.append(1)


def _no_mutate(xs):
    pass


STRICT_PAIRS = [
    ("zero sign", lambda: 0.0, lambda: -0.0),
    ("nan payload", lambda: float("nan"), lambda: struct.unpack("<d", bytes.fromhex(
        "010000000000f87f"))[0]),
    ("int vs float", lambda: 1, lambda: 1.0),
    ("last bit", lambda: 0.1 + 0.2, lambda: 0.3),
    ("list vs tuple", lambda: [1], lambda: (1,)),
    ("dict order", lambda: {"a": 1, "b": 2}, lambda: {"b": 2, "a": 1}),
    ("array dtype", lambda: np.ones(2), lambda: np.ones(2, dtype=np.float32)),
    ("array shape", lambda: np.ones(2), lambda: np.ones((2, 1))),
    ("array -0.0", lambda: np.array([0.0]), lambda: np.array([-0.0])),
    ("numpy scalar vs float", lambda: np.float64(1.5), lambda: 1.5),
    ("message", lambda: int("a"), lambda: int("b")),
    ("exception type", lambda: [][0], lambda: {}[0]),
    ("traceback line", _raise_here, _raise_there),
    ("stdout", lambda: print("a"), lambda: print("b")),
]


@pytest.mark.parametrize("label,f,g", STRICT_PAIRS, ids=[p[0] for p in STRICT_PAIRS])
def test_comparison_detects_differences(label, f, g):
    roots = (os.path.abspath(__file__),)
    a = run(f, (), {}, contextlib.nullcontext, roots)
    b = run(g, (), {}, contextlib.nullcontext, roots)
    with pytest.raises(AssertionError):
        assert_same_outcome(a, b)


def test_comparison_detects_side_effects():
    roots = (os.path.abspath(__file__),)
    a = run(_mutate, ([0],), {}, contextlib.nullcontext, roots)
    b = run(_no_mutate, ([0],), {}, contextlib.nullcontext, roots)
    with pytest.raises(AssertionError):
        assert_same_outcome(a, b)


# ----------------------------------------------------------------------------------------
# random programs (hypothesis): source text -> temp module -> run both ways
# ----------------------------------------------------------------------------------------

MAIN_VARS = ["v0", "v1", "v2", "v3"]


class _Gen:
    """Draws one random program; every loop is bounded, every int stays small."""

    def __init__(self, draw):
        self.draw = draw
        self.counter = itertools.count()
        self.helpers: list[tuple[str, int]] = []

    def pick(self, xs):
        return self.draw(st.sampled_from(xs))

    def const(self) -> str:
        if self.draw(st.booleans()):
            return repr(self.draw(st.integers(-5, 9)))
        return repr(self.draw(st.sampled_from([0.5, -1.25, 2.0, 0.1, 3.0, 1e-3, -0.0, 7.5])))

    def expr(self, names: list[str], depth: int) -> str:
        kind = self.draw(st.integers(0, 9 if depth > 0 else 1))
        if kind == 0:
            return self.pick(names)
        if kind == 1:
            return self.const()
        a = self.expr(names, depth - 1)
        b = self.expr(names, depth - 1)
        if kind in (2, 3):
            op = self.pick(["+", "-", "/", "//", "%", "*"])
            if op == "*":  # keep ints bounded
                return f"(({a}) * ({b}) % 9973)"
            return f"(({a}) {op} ({b}))"
        if kind == 4:
            return f"(-({a}))"
        if kind == 5:
            return f"{self.pick(['min', 'max'])}({a}, {b})"
        if kind == 6:
            return f"abs({a})"
        if kind == 7:
            return f"(({a}) if {self.cond(names, depth - 1)} else ({b}))"
        if kind == 8 and self.helpers:
            name, arity = self.pick(self.helpers)
            args = ", ".join(self.expr(names, depth - 1) for _ in range(arity))
            return f"{name}({args})"
        fn = self.pick(["math.sin", "math.tanh", "float", "round", "math.floor"])
        return f"{fn}({a})"

    def cond(self, names: list[str], depth: int) -> str:
        a, b = self.expr(names, depth), self.expr(names, depth)
        return f"({a}) {self.pick(['<', '<=', '>', '>=', '==', '!='])} ({b})"

    def block(self, names, depth, indent, in_loop, in_func=True) -> list[str]:
        n = self.draw(st.integers(1, 3))
        lines: list[str] = []
        for _ in range(n):
            lines += self.stmt(names, depth, indent, in_loop, in_func)
        return lines

    def stmt(self, names, depth, indent, in_loop, in_func) -> list[str]:
        pad = "    " * indent
        kinds = ["assign", "assign", "aug", "list"]
        if depth > 0:
            kinds += ["if", "for", "while", "try"]
        if in_loop:
            kinds += ["break", "continue"]
        if in_func:
            kinds += ["return"]
        k = self.pick(kinds)
        target = self.pick(names)
        e = lambda: self.expr(names, 2)
        if k == "assign":
            return [f"{pad}{target} = {e()}"]
        if k == "aug":
            op = self.pick(["+=", "-=", "/=", "%="])
            return [f"{pad}{target} {op} {e()}"]
        if k == "list":
            op = self.draw(st.integers(0, 4))
            if op == 0:
                return [f"{pad}L.append({e()})"]
            if op == 1:
                return [f"{pad}{target} = L[int({e()}) % 7]"]
            if op == 2:
                return [f"{pad}{target} = sum(L) + len(L)"]
            if op == 3:
                return [f"{pad}L.sort()"] if self.draw(st.booleans()) else [f"{pad}L.pop()"]
            return [f"{pad}L[{self.draw(st.integers(-3, 3))}] = {e()}"]
        if k == "break":
            return [f"{pad}if {self.cond(names, 1)}:", f"{pad}    break"]
        if k == "continue":
            return [f"{pad}if {self.cond(names, 1)}:", f"{pad}    continue"]
        if k == "return":
            return [f"{pad}if {self.cond(names, 1)}:", f"{pad}    return ({e()}, L)"]
        if k == "if":
            out = [f"{pad}if {self.cond(names, 1)}:"]
            out += self.block(names, depth - 1, indent + 1, in_loop, in_func)
            if self.draw(st.booleans()):
                out += [f"{pad}else:"] + self.block(names, depth - 1, indent + 1, in_loop,
                                                    in_func)
            return out
        if k == "for":
            i = f"i{next(self.counter)}"
            out = [f"{pad}for {i} in range({self.draw(st.integers(0, 4))}):"]
            out += [f"{pad}    {target} = {target} + {i}"]
            out += self.block(names, depth - 1, indent + 1, True, in_func)
            if self.draw(st.booleans()):
                out += [f"{pad}else:", f"{pad}    L.append({e()})"]
            return out
        if k == "while":
            w = f"w{next(self.counter)}"
            return ([f"{pad}{w} = 0", f"{pad}while {w} < {self.draw(st.integers(0, 4))}:",
                     f"{pad}    {w} += 1"]
                    + self.block(names, depth - 1, indent + 1, True, in_func))
        # try
        out = [f"{pad}try:"] + self.block(names, depth - 1, indent + 1, in_loop, in_func)
        exc = self.pick(["ZeroDivisionError", "(IndexError, ValueError)", "ArithmeticError",
                         "Exception"])
        out += [f"{pad}except {exc} as err:",
                f"{pad}    {target} = len(str(err)) + 0.5"]
        if self.draw(st.booleans()):
            out += [f"{pad}finally:", f"{pad}    L.append({self.const()})"]
        return out


@st.composite
def random_programs(draw):
    g = _Gen(draw)
    lines = ["import math", ""]
    for h in range(draw(st.integers(0, 2))):
        name = f"h{h}"
        params = ["a", "b"]
        lines.append(f"def {name}(a, b):")
        lines.append("    L = [a]")
        lines += g.block(params, 1, 1, False)
        lines.append(f"    return {g.expr(params, 2)}")
        lines.append("")
        g.helpers.append((name, 2))
    if draw(st.booleans()):
        lines += ["def rec(k, x):", "    if not k > 0:", "        return x",
                  f"    return rec(min(k, 6) - 1, {g.expr(['x', 'k'], 1)})", ""]
        g.helpers.append(("rec", 2))
    lines.append("def main(v0, v1, v2):")
    lines.append("    v3 = 0.5")
    lines.append("    L = []")
    lines += g.block(MAIN_VARS, 3, 1, False)
    lines.append("    return (v0, v1, v2, v3, L)")
    source = "\n".join(lines) + "\n"
    args = (draw(st.sampled_from([1.5, -0.75, 0.0, 3.25, 1e-9])),
            draw(st.sampled_from([2.0, -4.5, 0.3])),
            draw(st.integers(-3, 5)))
    return source, args




@pytest.fixture(scope="module")
def program_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("framead_random_programs")


def load_program(source: str, directory) -> object:
    return load_source_module(source, directory, "framead_random_prog")[0]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(random_programs())
def test_random_program_is_transparent(program_dir, prog):
    source, args = prog
    note(source)
    note(f"args = {args!r}")
    mod = load_program(source, program_dir)
    roots = (str(program_dir) + os.sep,)
    native = run(mod.main, args, {}, contextlib.nullcontext, roots)
    captured = run(mod.main, args, {}, get_engine().Session, roots)
    assert_same_outcome(native, captured)
