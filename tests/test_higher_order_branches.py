"""Second derivatives through comparisons and branches on traced values (hypothesis).

Random scalar programs over one to three float inputs mix math and NumPy scalar functions
with decisions of every kind: comparisons of traced values (``<``, ``<=``, ``==``, ``!=``...),
of a value with itself (``x < x``, ``x == x``), of constants, chained comparisons, ``not``,
``and``/``or``, bare truth tests, ``np.less``/``np.greater_equal``, predicates (``bool``,
``math.isfinite``/``isclose``/``isnan``, ``np.isclose``/``allclose``), ``min``, ``max``,
``abs``, ``np.abs``, ``np.minimum``/``np.maximum``, ``np.clip``, ``np.where``, conditional
expressions, functions with a special case at 0 (``math.hypot``, ``abs`` of a complex,
``cmath.phase``, ``math.dist``), loops with ``break``/``continue`` and early returns.

Every program is rendered three times from one tree: the plain program framead
differentiates, a probe twin that records each decision (so a point is used only where every
finite-difference sample takes the same path), and a JAX port. The references are
independent of framead: second-order central differences of the program itself in float64
(Richardson-refined, with an error estimate from a third step), and ``jax.hessian`` of the
port (where JAX is installed and runs it). The second derivatives checked: ``hessian``,
``grad(grad)``, ``jvp`` of ``grad``, ``jacrev(jacrev)``, ``jacfwd(jacfwd)``,
``jacrev(jacfwd)``, and cached traces (``jit(hessian)``, ``jit(grad(grad))``,
``jit(jvp(grad))``, ``grad(grad(f, cache=True), cache=True)``, ``grad`` of a cached
``grad``), each recorded at one point and run again at a second one, which must be right
even where the first point is one the references cannot judge (a kink, the origin).
``FRAMEAD_BRANCH_EXAMPLES`` sets the number of programs (default 100).
"""

from __future__ import annotations

import cmath
import itertools
import math
import os
import warnings

import numpy as np
import pytest
from conftest import fresh, load_source_module
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

import framead

INPUTS = ["x0", "x1", "x2"]
LOCALS = ["t0", "t1", "t2"]
CONSTS = [0.5, -1.25, 2.0, 0.1, 1.5, -0.3, 3.0, 0.0]
CMP_OPS = ["<", "<=", ">", ">=", "==", "!="]
NP_CMP = {"<": "less", "<=": "less_equal", ">": "greater", ">=": "greater_equal",
          "==": "equal", "!=": "not_equal"}
UNARY = ["math.sin", "math.cos", "math.tanh", "math.exp", "np.sin", "np.cos", "np.tanh",
         "np.exp", "sq", "cube", "math.sqrt1", "np.sqrt1", "neg", "float", "np.float64"]
ABS = ["abs", "np.abs", "np.fabs", "math.fabs"]
PREDICATES = ["bool", "math.isclose", "np.isclose", "np.allclose", "math.isnan"]
PAIRS = ["math.hypot", "cabs", "cmath.phase", "math.dist"]
CHOOSE = ["min", "max", "min3", "max3", "np.minimum", "np.maximum", "np.fmin", "np.fmax",
          "np.clip"]
H = 1e-3  # the finite-difference step (relative to max(1, |x|))
RTOL, ATOL = 1e-4, 1e-5  # against the differences (ATOL scaled by 1 + the largest entry)
N_EXAMPLES = int(os.environ.get("FRAMEAD_BRANCH_EXAMPLES", "100"))


# ------------------------------------------------------------------------ program trees

class Programs:
    """Draws a program as nested tuples."""

    def __init__(self, draw, n_inputs: int):
        self.draw = draw
        self.inputs = INPUTS[:n_inputs]
        self.counter = itertools.count()

    def pick(self, xs):
        return self.draw(st.sampled_from(xs))

    def expr(self, names, loopvars, depth):
        k = self.draw(st.integers(0, 13 if depth > 0 else 2))
        if k == 0 or (k == 2 and not loopvars):
            return ("name", self.pick(names))
        if k == 1:
            return ("const", self.pick(CONSTS))
        if k == 2:
            return ("loopvar", self.pick(loopvars), self.pick([0.25, -0.5, 1.0]))
        sub = lambda: self.expr(names, loopvars, depth - 1)  # noqa: E731
        if k in (3, 4):
            return ("bin", self.pick(["+", "-", "*", "/"]), sub(), sub())
        if k == 5:
            return ("call", self.pick(UNARY), sub())
        if k == 6:
            return ("abs", self.pick(ABS), sub())
        if k in (7, 8):
            fn = self.pick(CHOOSE)
            if fn == "np.clip":
                lo = self.pick(CONSTS[:-1])
                return ("clip", sub(), lo, lo + self.pick([0.5, 1.0, 2.5]))
            n = 3 if fn.endswith("3") else 2
            return ("choose", fn.rstrip("3"), tuple(sub() for _ in range(n)))
        if k == 9:
            return ("ifexp", self.cond(names, loopvars, depth - 1), sub(), sub())
        if k == 10:
            return ("where", self.cond(names, loopvars, depth - 1), sub(), sub())
        if k == 11:  # derivatives with a special case at 0 (the origin, equal points)
            return ("pair", self.pick(PAIRS), sub(), sub())
        return ("bin", "*", ("const", self.pick(CONSTS)), sub())

    def cond(self, names, loopvars, depth):
        k = self.draw(st.integers(0, 12))
        e = lambda: self.expr(names, loopvars, depth)  # noqa: E731
        if k <= 2:
            return ("cmp", self.pick(CMP_OPS), e(), e())
        if k == 3:  # x < x, x == x: a decision whose outcome never changes
            return ("self", self.pick(CMP_OPS), e())
        if k == 4:
            return ("chain", self.pick(CMP_OPS), self.pick(CMP_OPS), e(), e(), e())
        if k == 5:
            return ("konst", self.pick(CMP_OPS), self.pick(CONSTS), self.pick(CONSTS))
        if k == 6:
            return ("npcmp", self.pick(CMP_OPS), e(), e())
        if k == 7:
            return ("not", self.cond(names, loopvars, max(depth - 1, 0)))
        if k == 8:
            return (self.pick(["and", "or"]), self.cond(names, loopvars, max(depth - 1, 0)),
                    self.cond(names, loopvars, max(depth - 1, 0)))
        if k == 9:
            return ("truth", e())
        if k == 10:
            return ("isfinite", e())
        if k == 11:  # predicates called by name: decisions a cached trace guards
            return ("pred", self.pick(PREDICATES), e(), e())
        return ("cmp", self.pick(["<", ">"]), ("name", self.pick(names)),
                ("const", self.pick(CONSTS)))

    def block(self, names, loopvars, depth, in_loop):
        return [self.stmt(names, loopvars, depth, in_loop)
                for _ in range(self.draw(st.integers(1, 3)))]

    def stmt(self, names, loopvars, depth, in_loop):
        kinds = ["assign", "assign", "aug", "if"]
        if depth > 0:
            kinds += ["if", "for"]
        if in_loop:
            kinds += ["break", "continue"]
        kinds.append("return")
        k = self.pick(kinds)
        target = self.pick(LOCALS)
        e = lambda: self.expr(names, loopvars, 2)  # noqa: E731
        if k == "assign":
            return ("assign", target, e())
        if k == "aug":
            return ("aug", target, self.pick(["+=", "-=", "*="]), e())
        if k in ("break", "continue", "return"):
            return (k, self.cond(names, loopvars, 1), e())
        if k == "if":
            inner = max(depth - 1, 0)
            body = self.block(names, loopvars, inner, in_loop) if depth > 0 else \
                [("assign", target, e())]
            orelse = self.block(names, loopvars, inner, in_loop) if depth > 0 and \
                self.draw(st.booleans()) else []
            return ("if", self.cond(names, loopvars, 1), body, orelse)
        var = f"i{next(self.counter)}"
        body = self.block(names, loopvars + [var], depth - 1, True)
        return ("for", var, self.draw(st.integers(0, 4)), body)

    def program(self):
        names = self.inputs + LOCALS
        init = [("assign", t, self.expr(self.inputs, [], 1)) for t in LOCALS]
        body = self.block(names, [], 2, False)
        weights = [self.pick([1.0, 0.5, -2.0]) for _ in LOCALS]
        return init + body, weights


# ------------------------------------------------------------------------ rendering

class Render:
    """One rendering of a program tree: ``plain`` (differentiated), ``probe`` (each decision
    reported to ``_P``) or ``jax`` (a jax.numpy port; Python control flow runs eagerly)."""

    def __init__(self, mode: str):
        self.mode = mode

    def fn(self, name: str) -> str:
        if self.mode != "jax":
            return name
        return {"math.sin": "jnp.sin", "math.cos": "jnp.cos", "math.tanh": "jnp.tanh",
                "math.exp": "jnp.exp", "math.sqrt": "jnp.sqrt", "math.fabs": "jnp.abs",
                "abs": "abs"}.get(name, name.replace("np.", "jnp."))

    def expr(self, node) -> str:
        r, kind = self.expr, node[0]
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
            name, a = node[1], r(node[2])
            if name == "neg":
                return f"(-({a}))"
            if name == "sq":
                return f"(({a}) ** 2)"
            if name == "cube":
                return f"(({a}) ** 3)"
            if name.endswith("sqrt1"):
                return f"{self.fn(name[:-1])}(1.0 + ({a}) * ({a}))"
            if name in ("float", "np.float64") and self.mode == "jax":
                return f"({a})"
            return f"{self.fn(name)}({a})"
        if kind == "abs":
            a = r(node[2])
            if self.mode == "probe":
                a = f"_P.sign({a})"
            return f"{self.fn(node[1])}({a})"
        if kind in ("choose", "clip"):
            if kind == "clip":
                fn, args = "np.clip", [r(node[1]), repr(node[2]), repr(node[3])]
            else:
                fn, args = node[1], [r(a) for a in node[2]]
            if self.mode == "probe":
                return f"_P.choose({fn}, {', '.join(args)})"
            return f"{self.fn(fn)}({', '.join(args)})"
        if kind == "ifexp":
            return f"(({r(node[2])}) if {self.cond(node[1])} else ({r(node[3])}))"
        if kind == "pair":
            return self.pair(node[1], r(node[2]), r(node[3]))
        if kind == "where":
            return f"{self.fn('np.where')}({self.cond(node[1])}, {r(node[2])}, {r(node[3])})"
        raise AssertionError(kind)

    def pair(self, fn: str, a: str, b: str) -> str:
        if self.mode == "probe":  # which side of the special case (0, a branch cut)
            return f"_P.pair({fn!r}, {a}, {b})"
        jax = self.mode == "jax"
        if fn == "math.hypot":
            return f"jnp.hypot({a}, {b})" if jax else f"math.hypot({a}, {b})"
        if fn == "cabs":
            return f"jnp.abs(({a}) + 1j * ({b}))" if jax else f"abs(complex({a}, {b}))"
        if fn == "cmath.phase":
            return f"jnp.angle(({a}) + 1j * ({b}))" if jax else f"cmath.phase(complex({a}, {b}))"
        return f"jnp.abs(({a}) - ({b}))" if jax else f"math.dist(({a},), ({b},))"

    def pred(self, fn: str, a: str, b: str) -> str:
        if self.mode == "probe":
            return f"_P.pred({fn!r}, {a}, {b})"
        if self.mode != "jax":
            return f"{fn}({a})" if fn in ("bool", "math.isnan") else f"{fn}({a}, {b})"
        if fn == "bool":
            return f"bool({a})"
        if fn == "math.isnan":
            return f"bool(jnp.isnan({a}))"
        if fn == "math.isclose":  # rel_tol=1e-09, abs_tol=0.0
            return f"bool(abs(({a}) - ({b})) <= 1e-09 * max(abs({a}), abs({b})))"
        return f"bool({self.fn(fn)}({a}, {b}))"

    def cond(self, node) -> str:
        kind, r, probe = node[0], self.expr, self.mode == "probe"
        if kind in ("cmp", "self"):
            op, a = node[1], r(node[2])
            b = a if kind == "self" else r(node[3])
            return f"_P.cmp({a}, {b}, {op!r})" if probe else f"(({a}) {op} ({b}))"
        if kind == "chain":
            a, b, c = r(node[3]), r(node[4]), r(node[5])
            if probe:
                return f"(_P.cmp({a}, {b}, {node[1]!r}) and _P.cmp({b}, {c}, {node[2]!r}))"
            return f"(({a}) {node[1]} ({b}) {node[2]} ({c}))"
        if kind == "konst":
            return f"({node[2]!r} {node[1]} {node[3]!r})"
        if kind == "npcmp":
            a, b = r(node[2]), r(node[3])
            if probe:
                return f"_P.cmp({a}, {b}, {node[1]!r})"
            return f"{self.fn('np.' + NP_CMP[node[1]])}({a}, {b})"
        if kind == "not":
            return f"(not {self.cond(node[1])})"
        if kind in ("and", "or"):
            return f"({self.cond(node[1])} {kind} {self.cond(node[2])})"
        if kind == "truth":
            return f"_P.truth({r(node[1])})" if probe else f"({r(node[1])})"
        if kind == "pred":
            return self.pred(node[1], r(node[2]), r(node[3]))
        if kind == "isfinite":
            a = r(node[1])
            if probe:
                return f"_P.isfinite({a})"
            return f"bool(jnp.isfinite({a}))" if self.mode == "jax" else f"math.isfinite({a})"
        raise AssertionError(kind)

    def block(self, stmts, indent: int, ret: str) -> list[str]:
        pad = "    " * indent
        lines: list[str] = []
        for s in stmts:
            kind = s[0]
            if kind == "assign":
                lines.append(f"{pad}{s[1]} = {self.expr(s[2])}")
            elif kind == "aug":
                lines.append(f"{pad}{s[1]} {s[2]} {self.expr(s[3])}")
            elif kind in ("break", "continue"):
                lines += [f"{pad}if {self.cond(s[1])}:", f"{pad}    {kind}"]
            elif kind == "return":
                lines += [f"{pad}if {self.cond(s[1])}:",
                          f"{pad}    return {self.expr(s[2])} + {ret}"]
            elif kind == "if":
                lines.append(f"{pad}if {self.cond(s[1])}:")
                lines += self.block(s[2], indent + 1, ret)
                if s[3]:
                    lines.append(f"{pad}else:")
                    lines += self.block(s[3], indent + 1, ret)
            elif kind == "for":
                lines.append(f"{pad}for {s[1]} in range({s[2]}):")
                lines += self.block(s[3], indent + 1, ret)
            else:
                raise AssertionError(kind)
        return lines

    def program(self, tree, inputs) -> str:
        stmts, weights = tree
        ret = " + ".join(f"{w!r} * {t}" for w, t in zip(weights, LOCALS, strict=True))
        head = ["import cmath", "import math", "import numpy as np"]
        if self.mode == "jax":
            head.append("import jax.numpy as jnp")
        lines = [*head, "", f"def f({', '.join(inputs)}):"]
        lines += self.block(stmts, 1, ret)
        lines.append(f"    return {ret}")
        return "\n".join(lines) + "\n"


class Probe:
    """Records every decision the probe twin makes."""

    def __init__(self):
        self.path: list = []

    @staticmethod
    def _sign(a, b) -> int:
        return int(a > b) - int(a < b)

    def cmp(self, a, b, op):
        r = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b,
             "!=": a != b}[op]
        self.path.append(("c", bool(r)))
        return r

    def sign(self, a):
        self.path.append(("s", self._sign(a, 0.0)))
        return a

    def truth(self, a):
        self.path.append(("t", bool(a)))
        return bool(a)

    def isfinite(self, a):
        self.path.append(("f", math.isfinite(a)))
        return math.isfinite(a)

    def pred(self, fn, a, b):
        r = {"bool": lambda: bool(a), "math.isclose": lambda: math.isclose(a, b),
             "np.isclose": lambda: bool(np.isclose(a, b)),
             "np.allclose": lambda: bool(np.allclose(a, b)),
             "math.isnan": lambda: math.isnan(a)}[fn]()
        self.path.append(("d", r))
        return r

    def pair(self, fn, a, b):
        if fn == "math.dist":
            self.path.append(("p", self._sign(a, b)))
            return math.dist((a,), (b,))
        self.path.append(("p", self._sign(a, 0.0), self._sign(b, 0.0)))
        if fn == "math.hypot":
            return math.hypot(a, b)
        return abs(complex(a, b)) if fn == "cabs" else cmath.phase(complex(a, b))

    def choose(self, fn, *args):
        self.path.append(("m", tuple(self._sign(a, b) for a, b in
                                     itertools.combinations(args, 2))))
        return fn(*args)


@st.composite
def branchy_programs(draw):
    n = draw(st.integers(1, 3))
    gen = Programs(draw, n)
    tree = gen.program()
    # zeros often: the special cases of derivatives (abs, hypot, the origin) sit there
    xs = [draw(st.sampled_from([0.0, 0.0, 1.0]) | st.floats(
        -2.0, 2.0, allow_nan=False, allow_infinity=False)) for _ in range(n)]
    kind = draw(st.sampled_from([float, float, np.float64]))
    args = tuple(kind(x) for x in xs)
    # a second point for the cached traces: the same point, or one nearby (replayed where
    # the recorded decisions hold there)
    steps = draw(st.sampled_from([0.0, 1e-3, 0.05, 0.4]))
    again = tuple(kind(x + steps * draw(st.sampled_from([-1.0, 1.0]))) for x in xs)
    modes = draw(st.lists(st.sampled_from(MODES_ORDER), min_size=2, max_size=4, unique=True))
    sources = {m: Render(m).program(tree, gen.inputs) for m in ("plain", "probe", "jax")}
    return sources, args, again, modes


# ------------------------------------------------------------------------ references

def _stencil(x: np.ndarray, h: float) -> list[tuple[np.ndarray, float, list]]:
    """The points of the second-difference stencil: (point, weight, (i, j) entries)."""
    n = x.size
    pts = []
    for i in range(n):
        for j in range(i, n):
            s = max(1.0, abs(x[i])) * h
            t = max(1.0, abs(x[j])) * h
            for si, sj, w in ((1, 1, 1.0), (1, -1, -1.0), (-1, 1, -1.0), (-1, -1, 1.0)):
                p = x.copy()
                p[i] += si * s
                p[j] += sj * t
                pts.append((p, w / (4 * s * t), (i, j)))
    return pts


STEPS = (H, H / 2, H / 4)


def fd_hessian(f, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Second-order central differences of ``f`` itself in float64, Richardson-refined, and
    a bound on their error (the refined values from steps (H, H/2) and (H/2, H/4) differ by
    about the error of the first)."""
    def once(h):
        hm = np.zeros((x.size, x.size))
        for p, w, (i, j) in _stencil(x, h):
            hm[i, j] += w * f(p)
        return np.triu(hm) + np.triu(hm, 1).T

    h1, h2, h4 = (once(h) for h in STEPS)
    r1, r2 = h2 + (h2 - h1) / 3.0, h4 + (h4 - h2) / 3.0
    return r1, np.abs(r1 - r2)


def _path(fprobe, probe, point, kind):
    probe.path = []
    try:
        y = fprobe(*(kind(v) for v in point))
    except (OverflowError, ZeroDivisionError, ValueError):
        return None
    if not math.isfinite(float(y)) or abs(float(y)) > 1e6:
        return None
    return tuple(probe.path)


def path_stable(fprobe, probe, x: np.ndarray, kind) -> bool:
    """The path at ``x`` is the path at every point the differences sample."""
    base = _path(fprobe, probe, x, kind)
    if base is None:
        return False
    return all(_path(fprobe, probe, p, kind) == base
               for h in STEPS for p, _, _ in _stencil(x, h))


def jax_hessian(src: str, directory, x: np.ndarray):
    """jax.hessian of the port at ``x`` (None where JAX is missing or the port fails)."""
    try:
        import jax  # noqa: PLC0415 - optional dependency
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    g = load_source_module(src, directory, "framead_branch_jax")[0].f
    try:
        h = jax.hessian(lambda v: g(*[v[i] for i in range(x.size)]))(jax.numpy.asarray(x))
    except Exception:  # noqa: BLE001 - a port JAX cannot run says nothing about framead
        return None
    h = np.asarray(h, dtype=float)
    return h if np.all(np.isfinite(h)) else None


# ------------------------------------------------------------------------ framead's Hessians

def _matrix(rows, n) -> np.ndarray:
    return np.array([[float(np.asarray(rows[i][j])) for j in range(n)] for i in range(n)])


def _hessian(f, args, nums):
    return _matrix(framead.hessian(f, nums)(*fresh(args)), len(nums))


def _grad_grad(f, args, nums):
    n = len(nums)
    return np.array([[float(framead.grad(lambda *a, i=i: framead.grad(f, i)(*a), j)(
        *fresh(args))) for j in range(n)] for i in range(n)])


def _jvp_grad(f, args, nums):
    cols = []
    for j in range(len(nums)):
        tangents = tuple(type(a)(float(k == j)) for k, a in enumerate(args))
        cols.append([float(c) for c in framead.jvp(framead.grad(f, nums), fresh(args),
                                                   tangents)[1]])
    return np.array(cols).T


def _jacrev_jacrev(f, args, nums):
    return _matrix(framead.jacrev(framead.jacrev(f, nums), nums)(*fresh(args)), len(nums))


def _jacfwd_jacfwd(f, args, nums):
    return _matrix(framead.jacfwd(framead.jacfwd(f, nums), nums)(*fresh(args)), len(nums))


def _jacrev_jacfwd(f, args, nums):
    return _matrix(framead.jacrev(framead.jacfwd(f, nums), nums)(*fresh(args)), len(nums))


def _jit_hessian(f, args, nums, again):
    h = framead.jit(framead.hessian(f, nums))
    first = _matrix(h(*fresh(args)), len(nums))
    second = _matrix(h(*fresh(again)), len(nums))  # a replay of the recorded trace (or a
    return first, second                            # new capture where a guard fails)


def _jit_grad_grad(f, args, nums, again):
    n = len(nums)
    out = np.zeros((2, n, n))
    for i in range(n):
        for j in range(n):
            gg = framead.jit(framead.grad(lambda *a, i=i: framead.grad(f, i)(*a), j))
            out[0, i, j] = float(gg(*fresh(args)))
            out[1, i, j] = float(gg(*fresh(again)))
    return out[0], out[1]


def _cached_grad_grad(f, args, nums, again):
    n = len(nums)
    out = np.zeros((2, n, n))
    for i in range(n):
        for j in range(n):
            gg = framead.grad(framead.grad(f, i, cache=True), j, cache=True)
            out[0, i, j] = float(gg(*fresh(args)))
            out[1, i, j] = float(gg(*fresh(again)))
    return out[0], out[1]


def _grad_of_cached_grad(f, args, nums, again):
    """The outer capture records through an inner gradient that has a cached trace."""
    n = len(nums)
    out = np.zeros((2, n, n))
    for i in range(n):
        g = framead.grad(f, i, cache=True)
        g(*fresh(args))  # the inner trace cached before the outer capture
        for j in range(n):
            out[0, i, j] = float(framead.grad(g, j)(*fresh(args)))
            out[1, i, j] = float(framead.grad(g, j)(*fresh(again)))
    return out[0], out[1]


def _jit_jvp_grad(f, args, nums, again):
    """Forward over reverse, cached: the tangent pass over the recorded reverse pass."""
    def column(j):
        def h(*a):
            tangents = tuple(type(x)(float(k == j)) for k, x in enumerate(a))
            return framead.jvp(framead.grad(f, nums), a, tangents)[1]
        return framead.jit(h)

    cols = [column(j) for j in range(len(nums))]
    return tuple(np.array([[float(c) for c in col(*fresh(p))] for col in cols]).T
                 for p in (args, again))


MODES = {"hessian": _hessian, "grad(grad)": _grad_grad, "jvp(grad)": _jvp_grad,
         "jacrev(jacrev)": _jacrev_jacrev, "jacfwd(jacfwd)": _jacfwd_jacfwd,
         "jacrev(jacfwd)": _jacrev_jacfwd}
CACHED = {"jit(hessian)": _jit_hessian, "jit(grad(grad))": _jit_grad_grad,
          "grad(grad,cache)": _cached_grad_grad, "grad(cached grad)": _grad_of_cached_grad,
          "jit(jvp(grad))": _jit_jvp_grad}
MODES_ORDER = list(MODES) + list(CACHED)


class References:
    """The second derivatives of one program at a point, from the two references; None
    where they cannot be trusted there (a decision changes within the stencil, an overflow,
    differences too rough for the tolerance)."""

    def __init__(self, sources: dict, directory, kind: type):
        self.sources, self.directory, self.kind = sources, directory, kind
        self.probe = Probe()
        self.fprobe = load_source_module(sources["probe"], directory, "framead_branch_probe",
                                         _P=self.probe)[0].f
        self.f = load_source_module(sources["plain"], directory, "framead_branch")[0].f

    def truths(self, args: tuple) -> tuple | None:
        """The outcomes of the bare truth tests (``if t:``) at ``args``: a cached trace does not
        see them (framead/cache.py, "Not detected"), so its replay at a point where one comes
        out differently is not judged."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            path = _path(self.fprobe, self.probe, np.array([float(a) for a in args]),
                         self.kind)
        return None if path is None else tuple(e for e in path if e[0] == "t")

    def runs(self, args: tuple) -> bool:
        """Whether the program runs at ``args`` (finite, no exception)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _path(self.fprobe, self.probe, np.array([float(a) for a in args]),
                         self.kind) is not None

    def at(self, args: tuple):
        x = np.array([float(a) for a in args])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not path_stable(self.fprobe, self.probe, x, self.kind):
                return None
            want, err = fd_hessian(lambda p: float(self.f(*(self.kind(v) for v in p))), x)
            if not np.all(np.abs(want) < 1e5):
                return None
            ref = jax_hessian(self.sources["jax"], self.directory, x)
        scale = 1 + np.max(np.abs(want))
        if not np.all(err <= 0.1 * (RTOL * np.abs(want) + ATOL * scale)):
            return None  # differences too rough here to judge anything
        if ref is not None and not np.allclose(ref, want, rtol=RTOL, atol=ATOL * scale):
            return None  # too rough here for differences (or JAX differs from the program)
        return want, ref, scale


def assert_second_derivatives(got, refs, what: str) -> None:
    want, ref, scale = refs
    note(f"{what}: {got.tolist()}  differences: {want.tolist()}  jax: "
         f"{None if ref is None else ref.tolist()}")
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL * scale, err_msg=what)
    if ref is not None:
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-10 * scale,
                                   err_msg=f"{what} against jax")


def check_program(sources, args, again, modes, directory) -> None:
    """Every mode's second derivatives of the program against the references. A cached
    trace is first recorded at ``args`` and then run at ``again``: its result there must be
    right even where ``args`` itself is a point the references cannot judge (a kink, the
    origin of hypot: a trace recorded there must not poison the calls after it)."""
    refs = References(sources, directory, type(args[0]))
    here = refs.at(args)
    cached = [m for m in modes if m in CACHED]
    there = refs.at(again) if cached and refs.runs(args) and \
        refs.truths(args) == refs.truths(again) else None
    assume(here is not None or there is not None)
    nums = tuple(range(len(args)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (GradientWarning for programs constant in an input)
        for mode in modes:
            if mode in MODES:
                if here is not None:
                    assert_second_derivatives(MODES[mode](refs.f, args, nums), here, mode)
                continue
            if here is None and there is None:
                continue
            first, second = CACHED[mode](refs.f, args, nums, again)
            if here is not None:
                assert_second_derivatives(first, here, mode)
            if there is not None:
                assert_second_derivatives(second, there, f"{mode} at the second point")


@pytest.fixture(scope="module")
def branch_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("framead_branches")


@settings(max_examples=N_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
@given(branchy_programs())
def test_second_derivatives_through_branches(branch_dir, prog):
    sources, args, again, modes = prog
    note(sources["plain"])
    note(f"args={args!r} again={again!r} modes={modes}")
    check_program(sources, args, again, modes, branch_dir)


# ------------------------------------------------------------------------ fixed cases

def test_self_comparison_keeps_the_second_derivative():
    """The reported program: ``x < x`` decides nothing, the Hessian is -sin(x)."""
    def f(x):
        t = math.sin(x)
        if x < x:
            t = x
        return 1.0 * t

    for x in (0.7, np.float64(-1.3)):
        want = -math.sin(x)
        assert framead.hessian(f)(x) == pytest.approx(want, rel=1e-12)
        assert framead.grad(framead.grad(f))(x) == pytest.approx(want, rel=1e-12)
        assert framead.jvp(framead.grad(f), (x,), (type(x)(1.0),))[1] == \
            pytest.approx(want, rel=1e-12)
        assert framead.jacfwd(framead.jacrev(f))(x) == pytest.approx(want, rel=1e-12)
        gg = framead.grad(framead.grad(f, cache=True), cache=True)
        assert [gg(x), gg(x)] == pytest.approx([want, want], rel=1e-12)
        jh = framead.jit(framead.hessian(f))
        assert [jh(x), jh(x)] == pytest.approx([want, want], rel=1e-12)


def test_cotangents_of_a_repeated_output_are_summed_where_the_outer_capture_sees_it():
    """vjp of ``f`` returning one value twice: the two cotangents are summed before the
    reverse pass. Inside another capture that sum was made by uninstrumented framead code,
    so the result lost its dependence on the cotangents (d/dc was 0, not 4x)."""
    def inner(x):
        y = x * x
        return y, y

    def outer(c, x=0.7):
        return framead.vjp(inner, x)[1]((c, c))[0]  # 2 * 2x * c

    def outer_zero(c, x=0.7):
        return framead.vjp(inner, x)[1]((c, 0.0))[0]  # 2x * c

    assert framead.grad(outer)(1.5) == pytest.approx(4 * 0.7, rel=1e-12)
    assert framead.grad(outer_zero)(1.5) == pytest.approx(2 * 0.7, rel=1e-12)
    assert framead.hessian(lambda x: framead.vjp(inner, x)[1]((x, x))[0])(0.7) == \
        pytest.approx(8.0, rel=1e-12)  # d2/dx2 of 4 x^2


def test_a_gradient_array_shared_by_two_leaves_is_copied_where_the_outer_capture_sees_it():
    """Two inputs whose gradients are one array object (``a + b``): the second leaf gets a
    copy, which inside another capture was made by uninstrumented framead code (the second
    gradient lost its dependence on the outer input: d/dc was 3, not 6)."""
    def outer(c):
        a, b = np.ones(3), np.ones(3)
        ga, gb = framead.grad(lambda a, b: np.sum(c * (a + b)), argnums=(0, 1))(a, b)
        return np.sum(ga) + np.sum(gb)

    assert framead.grad(outer)(0.5) == pytest.approx(6.0, rel=1e-12)

    def repeated(c):  # argnums=(0, 0): one gradient, given twice
        a = np.full(3, 0.4)
        ga, gb = framead.grad(lambda a: np.sum(c * np.sin(a)), argnums=(0, 0))(a)
        return np.sum(ga) + np.sum(gb)

    assert framead.grad(repeated)(0.5) == pytest.approx(6 * math.cos(0.4), rel=1e-12)


def _hess(h, *args):
    return np.array(h(*args), dtype=float).reshape(len(args), len(args))


def _cached_grad_grad(f):
    """The Hessian of ``f(x, y)`` entry by entry through cached outer gradients."""
    gs = {(i, j): framead.grad(lambda x, y, i=i: framead.grad(f, i)(x, y), j, cache=True)
          for i in range(2) for j in range(2)}
    return lambda x, y: [[gs[i, j](x, y) for j in range(2)] for i in range(2)]


@pytest.mark.parametrize("name,f", [
    ("hypot", lambda x, y: math.hypot(x, y) ** 3),
    ("abs of complex", lambda x, y: abs(complex(x, y)) ** 3),
    ("phase", lambda x, y: cmath.phase(complex(x, y)) * x * y),
    ("polar", lambda x, y: cmath.polar(complex(x, y))[1] * x * x),
    ("dist", lambda x, y: math.dist((x, 0.0), (y, 0.0)) ** 3),
], ids=lambda v: v if isinstance(v, str) else "")
def test_a_cached_hessian_recorded_at_a_special_point_is_right_elsewhere(name, f):
    """Derivative code with a special case at 0 (the origin of hypot, |z| = 0, equal points)
    decided it by a truth test (``a / b if b else 0``), which no probe sees: a cached trace
    recorded at the origin replayed the special case everywhere (zero Hessians). Decided by
    comparisons, the replay's guard fails and the call is captured again."""
    at = (1.25, 1.25) if name == "dist" else (0.0, 0.0)
    for h in (framead.jit(framead.hessian(f, (0, 1))), _cached_grad_grad(f)):
        h(*at)
        for p in ((1.0, 1.0), (0.3, -0.8)):
            np.testing.assert_allclose(_hess(h, *p), _hess(framead.hessian(f, (0, 1)), *p),
                                       rtol=1e-12, atol=1e-12, err_msg=f"{name} at {p}")


def test_math_dist_at_equal_points_has_the_origin_convention():
    """d dist(p, q) at p == q is 0 (hypot's and norm's convention), not nan: x -> dist(x, x)
    is constant, and its first and second derivatives are 0."""
    f = lambda x: math.dist((x,), (x,)) + x * x  # noqa: E731
    for x in (0.0, np.float64(0.5)):
        assert framead.grad(f)(x) == pytest.approx(2 * x, abs=1e-15)
        assert framead.grad(framead.grad(f))(x) == 2.0
        assert framead.hessian(f)(x) == 2.0


PREDICATE_PROGRAMS = [
    ("math.isclose", lambda x: x if math.isclose(x, 1.0) else x * x, 1.0, 2.0),
    ("bool", lambda x: x if not bool(x) else x * x, 0.0, 2.0),
    ("math.isnan", lambda x: x if math.isnan(math.log(x) if x > 0 else math.nan) else x * x,
     -1.0, 2.0),
    ("math.isfinite", lambda x: x if math.isfinite(x * 1e308) else x * x, 1e-3, 10.0),
    ("np.isclose", lambda x: x if np.isclose(x, 0.0) else x * x, 0.0, 2.0),
    ("np.allclose", lambda x: x if np.allclose([x, x], 0.0) else x * x, 0.0, 2.0),
]


@pytest.mark.parametrize("name,f,first,then", PREDICATE_PROGRAMS,
                         ids=[p[0] for p in PREDICATE_PROGRAMS])
def test_predicates_of_traced_values_are_guarded_in_cached_traces(name, f, first, then):
    """``bool(x)``, ``math.isclose``, ``math.isnan``... run natively (they move no value), but
    their answer picks a branch: a cached trace must re-check it (it replayed the recorded
    branch: grad 1.0 instead of 4.0 at x = 2)."""
    for g, want in ((framead.grad(f, cache=True), 2 * then),
                    (framead.jit(framead.grad(framead.grad(f))), 2.0)):
        g(first)
        assert g(then) == pytest.approx(want, rel=1e-12), name


def test_generated_source_registry_survives_a_collection_during_its_sweep():
    """Every reverse pass and replay registers its generated source; the sweep of entries
    whose owners died walked ``list(_registered.items())``, whose tuples can start a
    collection, whose weakref callbacks delete entries: "dictionary changed size during
    iteration" out of ``grad``/``jvp``/``jit`` now and then (seen in the test above)."""
    import gc  # noqa: PLC0415 - this test only

    from framead import reverse_source  # noqa: PLC0415 - this test only

    class Owner:
        pass

    keep = []
    for i in range(100):
        keep.append(Owner())
        reverse_source.register_source(f"<framead-test-live-{i}>", "x = 1\n", [keep[-1]])
    threshold = gc.get_threshold()
    gc.disable()
    try:
        for i in range(20):  # owners in cycles: only a collection frees them
            o = Owner()
            o.cycle = o
            reverse_source.register_source(f"<framead-test-dead-{i}>", "x = 1\n", [o])
        del o
        hold = [(i, -i) for i in range(5000)]  # the 2-tuple free list used up
        gc.set_threshold(gc.get_count()[0] + 50, 10, 10)  # a collection mid-sweep
        gc.enable()
        reverse_source.register_source("<framead-test-new>", "x = 1\n", keep[:1])
    finally:
        gc.set_threshold(*threshold)
        gc.enable()
    gc.collect()  # (where no collection ran mid-sweep, as on 3.13: the owners' callbacks)
    names = tuple(reverse_source._registered)  # (a copy: collections may still run here)
    assert hold and not any(k.startswith("<framead-test-dead") for k in names)
