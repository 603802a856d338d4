"""Random float programs (hypothesis): framead.grad against central differences.

Programs are straight-line code, if/else, conditional expressions, for/while loops with
break/continue and early returns over a few float inputs, using + - * / (guarded), math.sin,
math.exp, math.tanh, min, max and abs. Each program is rendered twice from the same tree: the
plain source that is differentiated, and a probe twin that records every branch decision
(comparisons, min/max/abs). A drawn point is used only when every finite-difference sample
takes the same path as the point itself, so the reference derivative is valid there.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from conftest import assert_close, fd_grad, fresh, get_engine, load_source_module
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

INPUTS = ["x0", "x1", "x2"]
LOCALS = ["t0", "t1", "t2"]
CONSTS = [0.5, -1.25, 2.0, 0.1, 1.5, -0.3, 3.0]
STEP = 1e-3  # fd_grad's default step; the path check covers its sample points


class ProgramTree:
    """Draws a program as nested tuples and renders it in plain or probe form."""

    def __init__(self, draw, n_inputs: int):
        self.draw = draw
        self.inputs = INPUTS[:n_inputs]
        self.counter = itertools.count()

    # ---- drawing ------------------------------------------------------------------------

    def pick(self, xs):
        return self.draw(st.sampled_from(xs))

    def expr(self, names, loopvars, depth):
        k = self.draw(st.integers(0, 10 if depth > 0 else 2))
        if k == 0 or (k == 2 and not loopvars):
            return ("name", self.pick(names))
        if k == 1:
            return ("const", self.pick(CONSTS))
        if k == 2:
            return ("loopvar", self.pick(loopvars), self.pick([0.25, -0.5, 1.0]))
        sub = lambda: self.expr(names, loopvars, depth - 1)
        if k in (3, 4):
            return ("bin", self.pick(["+", "-", "*", "/"]), sub(), sub())
        if k == 5:
            return ("call", self.pick(["math.sin", "math.tanh", "math.exp", "neg"]), sub())
        if k == 6:
            return ("abs", sub())
        if k in (7, 8):
            return (self.pick(["min", "max"]), sub(), sub())
        if k == 9:
            return ("ifexp", self.cond(names, loopvars, depth - 1), sub(), sub())
        return ("bin", "*", ("const", self.pick(CONSTS)), sub())

    def cond(self, names, loopvars, depth):
        return ("cmp", self.pick(["<", ">"]), self.expr(names, loopvars, depth),
                self.expr(names, loopvars, depth))

    def block(self, names, loopvars, depth, in_loop):
        return [self.stmt(names, loopvars, depth, in_loop)
                for _ in range(self.draw(st.integers(1, 3)))]

    def stmt(self, names, loopvars, depth, in_loop):
        kinds = ["assign", "assign", "aug"]
        if depth > 0:
            kinds += ["if", "for", "while"]
        if in_loop:
            kinds += ["break", "continue"]
        kinds.append("return")
        k = self.pick(kinds)
        target = self.pick(LOCALS)
        e = lambda: self.expr(names, loopvars, 2)
        if k == "assign":
            return ("assign", target, e())
        if k == "aug":
            return ("aug", target, self.pick(["+=", "-=", "*="]), e())
        if k in ("break", "continue", "return"):
            return (k, self.cond(names, loopvars, 1), e())
        if k == "if":
            orelse = self.block(names, loopvars, depth - 1, in_loop) if self.draw(
                st.booleans()) else []
            return ("if", self.cond(names, loopvars, 1),
                    self.block(names, loopvars, depth - 1, in_loop), orelse)
        var = f"i{next(self.counter)}"
        n = self.draw(st.integers(0, 5))
        body = self.block(names, loopvars + [var], depth - 1, True)
        return (k, var, n, body)

    def program(self):
        names = self.inputs + LOCALS
        init = [("assign", t, self.expr(self.inputs, [], 1)) for t in LOCALS]
        body = self.block(names, [], 2, False)
        weights = [self.pick([1.0, 0.5, -2.0]) for _ in LOCALS]
        return init + body, weights

    # ---- rendering ----------------------------------------------------------------------

    @staticmethod
    def render_expr(node, probe: bool) -> str:
        r = lambda n: ProgramTree.render_expr(n, probe)
        kind = node[0]
        if kind == "name":
            return node[1]
        if kind == "const":
            return repr(node[1])
        if kind == "loopvar":
            return f"({node[1]} * {node[2]!r})"
        if kind == "bin":
            op, a, b = node[1], r(node[2]), r(node[3])
            if op == "/":
                return f"(({a}) / (1.0 + ({b}) * ({b})))"
            return f"(({a}) {op} ({b}))"
        if kind == "call":
            return f"(-({r(node[2])}))" if node[1] == "neg" else f"{node[1]}({r(node[2])})"
        if kind == "abs":
            return f"_P.abs({r(node[1])})" if probe else f"abs({r(node[1])})"
        if kind in ("min", "max"):
            fn = f"_P.{kind}" if probe else kind
            return f"{fn}({r(node[1])}, {r(node[2])})"
        if kind == "ifexp":
            return f"(({r(node[2])}) if {r(node[1])} else ({r(node[3])}))"
        if kind == "cmp":
            if probe:
                return f"_P.cmp({r(node[2])}, {r(node[3])}, {node[1]!r})"
            return f"({r(node[2])}) {node[1]} ({r(node[3])})"
        raise AssertionError(kind)

    @classmethod
    def render_block(cls, stmts, indent: int, probe: bool, ret: str) -> list[str]:
        pad = "    " * indent
        e = lambda n: cls.render_expr(n, probe)
        lines: list[str] = []
        for s in stmts:
            kind = s[0]
            if kind == "assign":
                lines.append(f"{pad}{s[1]} = {e(s[2])}")
            elif kind == "aug":
                lines.append(f"{pad}{s[1]} {s[2]} {e(s[3])}")
            elif kind in ("break", "continue"):
                lines += [f"{pad}if {e(s[1])}:", f"{pad}    {kind}"]
            elif kind == "return":
                lines += [f"{pad}if {e(s[1])}:", f"{pad}    return {e(s[2])} + {ret}"]
            elif kind == "if":
                lines.append(f"{pad}if {e(s[1])}:")
                lines += cls.render_block(s[2], indent + 1, probe, ret)
                if s[3]:
                    lines.append(f"{pad}else:")
                    lines += cls.render_block(s[3], indent + 1, probe, ret)
            elif kind == "for":
                lines.append(f"{pad}for {s[1]} in range({s[2]}):")
                lines += cls.render_block(s[3], indent + 1, probe, ret)
            elif kind == "while":
                lines += [f"{pad}{s[1]} = 0", f"{pad}while {s[1]} < {s[2]}:",
                          f"{pad}    {s[1]} += 1"]
                lines += cls.render_block(s[3], indent + 1, probe, ret)
            else:
                raise AssertionError(kind)
        return lines

    def render(self, tree, probe: bool) -> str:
        stmts, weights = tree
        ret = " + ".join(f"{w!r} * {t}" for w, t in zip(weights, LOCALS, strict=True))
        lines = ["import math", "", f"def f({', '.join(self.inputs)}):"]
        lines += self.render_block(stmts, 1, probe, ret)
        lines.append(f"    return {ret}")
        return "\n".join(lines) + "\n"


class PathProbe:
    """Records the outcome of every decision so two runs can be compared."""

    def __init__(self):
        self.path: list = []

    @staticmethod
    def _sign(a, b) -> int:
        return int(a > b) - int(a < b)

    def cmp(self, a, b, op):
        r = a < b if op == "<" else a > b
        self.path.append(("c", bool(r)))
        return r

    def min(self, a, b):
        self.path.append(("m", self._sign(a, b)))
        return min(a, b)

    def max(self, a, b):
        self.path.append(("M", self._sign(a, b)))
        return max(a, b)

    def abs(self, a):
        self.path.append(("a", self._sign(a, 0.0)))
        return abs(a)




@pytest.fixture(scope="module")
def program_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("framead_random_grad")


def _load(source: str, directory, probe: PathProbe | None):
    attrs = {"_P": probe} if probe is not None else {}
    return load_source_module(source, directory, "framead_rand_grad", **attrs)[0].f


@st.composite
def random_float_programs(draw):
    n = draw(st.integers(1, 3))
    gen = ProgramTree(draw, n)
    tree = gen.program()
    xs = [draw(st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)) for _ in range(n)]
    as_numpy = draw(st.booleans()) and draw(st.booleans())
    args = tuple(np.float64(x) if as_numpy else float(x) for x in xs)
    argnums = tuple(sorted(draw(st.sets(st.integers(0, n - 1), min_size=1))))
    if len(argnums) == 1 and draw(st.booleans()):
        argnums = argnums[0]
    return gen.render(tree, False), gen.render(tree, True), args, argnums


def _path_at(fprobe, probe: PathProbe, args):
    probe.path = []
    try:
        y = fprobe(*fresh(args))
    except (OverflowError, ZeroDivisionError, ValueError):
        return None, None
    return tuple(probe.path), y


def _same_path_around(fprobe, probe, args, argnums) -> bool:
    base, y = _path_at(fprobe, probe, args)
    if base is None or not math.isfinite(y) or abs(y) > 1e8:
        return False
    for i in (argnums if isinstance(argnums, tuple) else (argnums,)):
        x = float(args[i])
        h = STEP * max(1.0, abs(x))
        for k in (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0):
            moved = args[:i] + (type(args[i])(x + k * h),) + args[i + 1:]
            path, _ = _path_at(fprobe, probe, moved)
            if path != base:
                return False
    return True


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
@given(random_float_programs())
def test_random_program_gradient(program_dir, prog):
    plain, probed, args, argnums = prog
    note(plain)
    note(f"args={args!r} argnums={argnums!r}")
    probe = PathProbe()
    fprobe = _load(probed, program_dir, probe)
    assume(_same_path_around(fprobe, probe, args, argnums))
    f = _load(plain, program_dir, None)
    ref = fd_grad(f, args, argnums, with_error=True)
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    refs = ref if isinstance(argnums, tuple) else (ref,)
    value = f(*fresh(args))
    scale = max([1.0, abs(float(value))] + [abs(float(r)) for r, _ in refs])
    rtol, atol = 1e-6, 1e-9 * scale
    # a point where finite differences are too noisy says nothing about framead
    assume(all(e <= 0.2 * (rtol * abs(r) + atol) for r, e in refs))

    g = get_engine().grad(f, argnums=argnums)(*args)
    gs = g if isinstance(argnums, tuple) else (g,)
    assert len(gs) == len(nums)
    for i, gi, (ri, ei) in zip(nums, gs, refs, strict=True):
        assert np.shape(gi) == ()
        assert_close(gi, ri, ei, rtol, atol, f"d/dx{i}")
