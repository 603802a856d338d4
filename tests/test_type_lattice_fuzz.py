"""Type-lattice program fuzzer (hypothesis): random small programs over every operand kind.

Operands mix Python floats and ints, NumPy scalars of every float kind (float16/32/64,
longdouble, complex), 0-d and n-d arrays, and lists/tuples of them (nested); operations are
the operators (binary, in-place, unary, comparison-driven branches), the builtins and about
150 NumPy/``math`` callables, as functions, methods and as the top-level ``f`` given to
``grad``/``vjp``. Each program is real Python source in a file (captured as user code, with
lines). It is built one statement at a time: a candidate statement is kept only if the
program so far runs natively without warnings and with finite, moderate values (so domains
hold); a few programs are kept that raise natively, to check that capture raises the same.

For each program:

* transparency: the value under capture equals the native value (type, dtype, bits), and a
  native exception is raised identically under capture;
* the VJP (random cotangent) matches central differences in float64 (4-point stencils at h and
  h/2; a point where they disagree is near a kink and is skipped), computed on the program's
  float64 twin (float16/float32/longdouble/complex64 replaced by float64/complex128), within a
  tolerance for the lowest precision the program uses; or else a hazard names a line of the
  program. A wrong gradient with no hazard fails and prints the program.

``FRAMEAD_LATTICE_EXAMPLES`` (default 300) sets the number of programs per test;
``FRAMEAD_LATTICE_SEED`` makes the run random with that seed (default: derandomized, as in CI).
Locally: ``FRAMEAD_LATTICE_EXAMPLES=5000 FRAMEAD_LATTICE_SEED=$RANDOM pytest tests/...``.
"""

from __future__ import annotations

import copy
import functools
import math
import os
import re
import warnings

import numpy as np
import pytest
from conftest import load_source_module
from hypothesis import HealthCheck, event, given, note, seed, settings
from hypothesis import strategies as st

import framead

EXAMPLES = int(os.environ.get("FRAMEAD_LATTICE_EXAMPLES", "300"))
SEED = os.environ.get("FRAMEAD_LATTICE_SEED")

# ------------------------------------------------------------------------------------------
# Failure classes still open upstream (owned fixes in flight). A failing example whose
# failure matches an entry is skipped with a hypothesis event and a warning naming the entry,
# never silently; remove an entry when its fix lands. (name -> (regex on the failure report,
# reason))
# ------------------------------------------------------------------------------------------
KNOWN_OPEN: dict[str, tuple[str, str]] = {
    "reduction-axis-on-0d": (
        r"^(?=.*(axis=|'axis':)).*(AxisError: axis -?\d+ is out of bounds for array of dimension 0"
        r"|ValueError: axes don't match array|cannot broadcast a non-scalar to a scalar"
        r"|WRONG GRADIENT SHAPE|Einstein sum subscript"
        r"|only 0-dimensional arrays can be converted)",
        "np.max/min/prod/cumsum(..., axis=0 or -1) of a 0-d array or NumPy scalar: the rule "
        "(rules/numpy_reduction_rules.py) raises at capture or in the reverse pass, or "
        "gives a cotangent of shape (1,) for a scalar (which later VJPs then reject)"),
    "nan-at-a-singular-point": (
        r"^WRONG GRADIENT.*framead array\(\[?nan",
        "a rule's derivative at a point where the function has none (np.hypot and "
        "np.arctan2 at the origin, rules/numpy_rules.py) is nan, so nan * 0 poisons the "
        "gradient where the operands are constant (x - x) and central differences give 0"),
    "convolve-0d": (
        r"IndexError: too many indices for array: array is 0-dimensional.*np\.convolve[(,]",
        "np.convolve of 0-d operands raises IndexError under capture (rules)"),
    "polyval-2d-coefficients": (
        r"^CAPTURE RAISED.*(np\.polyval\(|f = np\.polyval,)",
        "np.polyval(p, x) with a 2-d p (NumPy evaluates it row-wise) raises under capture "
        "(the rule assumes 1-d coefficients)"),
    "longdouble-gather-vjp": (
        r"Cannot cast array data from dtype\('float128'\) to dtype\('float64'\)",
        "VJPs of np.tile/np.repeat/ndarray.repeat (gather rules) cast longdouble cotangents "
        "to float64 with casting='safe' and raise"),
}

# ------------------------------------------------------------------------------------------
# operations: template (placeholders {0} {1} {2}), operand requirement per placeholder
#   a: anything; s: scalar-like (0-d); v: 1-d array; m: 2-d array; q: square 2-d array;
#   n: ndarray or NumPy scalar (has methods); l: list/tuple
# ------------------------------------------------------------------------------------------
UNARY_NP = """sin cos tan arcsin arccos arctan sinh cosh tanh arcsinh arccosh arctanh exp exp2
expm1 log log2 log10 log1p sqrt cbrt square reciprocal negative positive absolute fabs abs
sign floor ceil trunc rint round around fix deg2rad rad2deg degrees radians sinc real imag conj
conjugate nan_to_num angle i0 spacing signbit isfinite""".split()
BINARY_NP = """add subtract multiply divide true_divide power float_power maximum minimum fmax
fmin hypot arctan2 copysign logaddexp logaddexp2 mod fmod remainder floor_divide heaviside
greater less equal dot inner outer vdot matmul kron cross""".split()
REDUCE_NP = """sum prod mean std var max min amax amin ptp median average cumsum cumprod diff
nansum nanmean nanmax nanmin nanprod nanstd nanvar sort argmax argmin any all count_nonzero
trapezoid gradient""".split()
SHAPE_NP = """ravel transpose squeeze atleast_1d atleast_2d atleast_3d flip fliplr flipud copy
asarray array asanyarray ascontiguousarray diag diagonal triu tril trace zeros_like ones_like
full_like flatnonzero real_if_close""".split()
MATH = """sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh exp expm1 exp2 log log2
log10 log1p sqrt cbrt fabs erf erfc gamma lgamma degrees radians floor ceil trunc""".split()

DOMAIN = {  # operand 0 (concrete, as float64) must satisfy this
    "arcsin": "unit", "arccos": "unit", "arctanh": "unit", "asin": "unit", "acos": "unit",
    "atanh": "unit", "arccosh": "gt1", "acosh": "gt1", "log": "pos", "log2": "pos",
    "log10": "pos", "sqrt": "pos", "log1p": "pos", "reciprocal": "nz", "gamma": "pos",
    "lgamma": "pos", "tan": "unit", "power": "pos", "float_power": "pos", "gammaln": "pos",
    "psi": "pos", "gammainc": "pos",
}

OPS: list[tuple[str, str]] = []
OPS += [(f"np.{n}({{0}})", "a") for n in UNARY_NP]
OPS += [(f"np.{n}({{0}}, {{1}})", "aa") for n in BINARY_NP]
OPS += [(f"np.{n}({{0}})", "a") for n in REDUCE_NP]
OPS += [(f"np.{n}({{0}}, axis=0)", "n") for n in "sum prod mean std var max min cumsum".split()]
OPS += [(f"np.{n}({{0}})", "a") for n in SHAPE_NP]
OPS += [(f"math.{n}({{0}})", "s") for n in MATH]
OPS += [(f"math.{n}({{0}}, {{1}})", "ss")
        for n in "atan2 pow hypot copysign fmod remainder dist".split()]
OPS += [("math.fsum({0})", "l"), ("math.prod({0})", "l"), ("math.fsum({0})", "v")]
OPS += [  # other NumPy callables with arguments
    ("np.clip({0}, -0.5, 0.7)", "a"), ("np.clip({0}, {1}, {2})", "aaa"),
    ("np.where({0} > {1}, {0}, {1})", "aa"), ("np.where({0} > 0.3, {0}, 0.0)", "a"),
    ("np.linalg.norm({0})", "a"), ("np.linalg.norm({0}, axis=-1)", "n"),
    ("np.linalg.det({0})", "q"), ("np.linalg.inv({0})", "q"), ("np.linalg.solve({0}, {1})", "qa"),
    ("np.linalg.slogdet({0})[1]", "q"), ("np.linalg.eigvalsh({0} + {0}.T)", "q"),
    ("np.einsum('i,i->', {0}, {1})", "vv"), ("np.einsum('ij->j', {0})", "m"),
    ("np.tensordot({0}, {1}, axes=1)", "mv"), ("np.polyval({0}, {1})", "va"),
    ("np.interp({0}, [0.0, 0.5, 1.0], [1.0, -0.5, 2.0])", "a"),
    ("np.concatenate([{0}, {1}])", "vv"), ("np.stack([{0}, {1}])", "aa"),
    ("np.hstack([{0}, {1}])", "aa"), ("np.vstack([{0}, {1}])", "aa"),
    ("np.column_stack([{0}, {1}])", "vv"), ("np.append({0}, {1})", "aa"),
    ("np.block([{0}, {1}])", "vv"), ("np.tile({0}, 2)", "a"), ("np.repeat({0}, 2)", "a"),
    ("np.roll({0}, 1)", "a"), ("np.reshape({0}, -1)", "a"), ("np.expand_dims({0}, 0)", "a"),
    ("np.broadcast_to({0}, (2, 3))", "a"), ("np.take({0}, [0, -1])", "a"),
    ("np.take({0}, 0)", "a"), ("np.cumsum({0})[-1]", "a"), ("np.sort({0})[0]", "a"),
    ("np.partition({0}, 1)", "v"), ("np.linspace({0}, {1}, 4)", "ss"),
    ("np.full((2,), {0})", "s"), ("np.full_like({0}, {1})", "ns"),
    ("np.isclose({0}, {1})", "aa"), ("np.allclose({0}, {1})", "aa"),
    ("np.round({0}, 2)", "a"), ("np.mean({0}, keepdims=True)", "n"),
    ("np.max({0}, axis=-1, keepdims=True)", "n"), ("np.std({0}, ddof=1)", "v"),
    ("np.average({0}, weights={1})", "vv"), ("np.convolve({0}, {1})", "vv"),
    ("np.correlate({0}, {1}, 'full')", "vv"), ("np.cross({0}, {1})", "vv"),
    ("np.nan_to_num({0}, nan=0.0)", "a"), ("np.float64({0})", "s"), ("np.float32({0})", "s"),
    ("np.float16({0})", "s"), ("np.longdouble({0})", "s"), ("np.complex128({0})", "s"),
    ("np.complex64({0})", "s"), ("np.asarray({0}, dtype=np.float32)", "a"),
    ("np.array({0}, dtype=np.float64)", "a"), ("np.asarray({0}, dtype=np.complex128)", "a"),
    ("np.exp(1j * {0})", "a"), ("np.abs({0} + 1j * {1})", "aa"),
]
OPS += [  # methods
    (f"{{0}}.{m}()", "n") for m in """sum prod mean std var max min cumsum cumprod ravel flatten
copy conj conjugate squeeze transpose item tolist trace round argmax all any""".split()]
OPS += [("{0}.max(axis=0)", "n"), ("{0}.sum(axis=-1)", "n"), ("{0}.mean(axis=0)", "n"),
        ("{0}.min(axis=-1, keepdims=True)", "n"), ("{0}.std(ddof=1)", "v"),
        ("{0}.clip(-0.4, 0.6)", "n"), ("{0}.astype(np.float32)", "n"),
        ("{0}.astype(np.float64)", "n"), ("{0}.astype(float)", "n"),
        ("{0}.astype(np.float16)", "n"), ("{0}.reshape(-1)", "n"), ("{0}.reshape(1, -1)", "n"),
        ("{0}.T", "n"), ("{0}.real", "n"), ("{0}.imag", "n"), ("{0}.dot({1})", "na"),
        ("{0}.repeat(2)", "n"), ("{0}.cumsum()[-1]", "n"), ("{0}.diagonal()", "m"),
        ("{0}[0]", "n"), ("{0}[-1]", "n"), ("{0}[1:]", "n"), ("{0}[::-1]", "n"),
        ("{0}[..., 0]", "n"), ("{0}[0, 1]", "m"), ("{0}[:, 1:]", "m"), ("{0}[[0, 0]]", "n"),
        ("{0}[{0} > 0.2]", "n"), ("{0}[None]", "n")]
OPS += [  # operators
    (f"{{0}} {op} {{1}}", "aa") for op in "+ - * / // % ** @".split()]
OPS += [("-{0}", "a"), ("+{0}", "a"), ("({0} > {1}) * {0}", "aa"), ("({0} <= 0.5) + {0}", "a"),
        ("{0} ** 2", "a"), ("2.0 ** {0}", "a"), ("{0} / 3", "a"), ("1.5 - {0}", "a")]
OPS += [  # builtins
    ("sum({0})", "l"), ("sum({0})", "v"), ("sum({0}, 0.5)", "l"), ("abs({0})", "a"),
    ("min({0}, {1})", "ss"), ("max({0}, {1})", "ss"), ("min({0})", "l"), ("max({0})", "v"),
    ("pow({0}, {1})", "aa"), ("pow({0}, 3)", "a"), ("round({0})", "s"), ("round({0}, 2)", "s"),
    ("divmod({0}, {1})[1]", "ss"), ("divmod({0}, 0.7)[0]", "s"), ("float({0})", "s"),
    ("complex({0})", "s"), ("complex({0}, {1})", "ss"), ("int({0})", "s"),
    ("sorted({0})[0]", "l"), ("list({0})", "v"), ("tuple({0})", "v"),
]
OPS += [  # containers (nested)
    ("[{0}, {1}]", "aa"), ("({0}, {1})", "aa"), ("[{0}, {1}, 2.0]", "ss"),
    ("[[{0}, {1}], [{1}, 0.5]]", "ss"),
    ("({0}, [{1}, {0}])", "ss"), ("[{0}]", "a"), ("[{0}, {0}][1]", "a"), ("({0},)[0]", "a"),
]

OPS += [  # Python-level iteration and C callables over traced items
    ("[v * 2.0 for v in {0}]", "v"), ("sum(v * v for v in {0})", "l"),
    ("np.array([v for v in {0}])", "v"), ("list(map(math.sin, {0}))", "l"),
    ("functools.reduce(operator.mul, {0})", "l"), ("np.vectorize(math.sin)({0})", "a"),
    ("np.fromiter(({0}, 2.0), float)", "s"), ("operator.add({0}, {1})", "aa"),
    ("operator.mul({0}, {1})", "aa"), ("operator.neg({0})", "a"), ("operator.getitem({0}, 0)", "n"),
]
OPS += [  # where framead cannot follow: must be reported (FA10x) where it matters
    ("array.array('d', [{0}])[0]", "s"), ("ctypes.c_double({0}).value", "s"),
    ("struct.unpack('d', struct.pack('d', {0}))[0]", "s"), ("{0}.tolist()", "n"),
    ("float(fractions.Fraction(float({0})))", "s"), ("float(decimal.Decimal(float({0})))", "s"),
    ("np.frombuffer({0}.tobytes(), dtype={0}.dtype)", "n"), ("memoryview({0}).tolist()", "v"),
]
OPS += [  # SciPy, imported inside the function (its rules install on first sight)
    (f"scipy.special.{n}({{0}})", "a") for n in "gammaln expit erf erfc log_ndtr ndtr psi".split()]
OPS += [("scipy.special.xlogy({0}, {1})", "aa"), ("scipy.special.logsumexp({0})", "a"),
        ("scipy.special.jv(1.0, {0})", "a"), ("scipy.special.gammainc(2.0, {0})", "a"),
        ("scipy.stats.norm.logpdf({0}, 0.5, 1.5)", "a"), ("scipy.stats.norm.cdf({0})", "a")]
HEADER = ["import array", "import ctypes", "import decimal", "import fractions",
          "import functools", "import math", "import operator", "import struct", "",
          "import numpy as np"]

INPLACE = "+= -= *= /= **=".split()
CONSTS = ["2.0", "0.5", "-1.25", "3", "1", "np.float32(0.75)", "np.int64(2)", "[0.5, 1.5]",
          "(0.5+0.25j)", "np.complex64(0.5-1j)", "np.float16(1.5)", "np.longdouble(0.25)",
          "(1.0, -2.0)", "[[1.0, 2.0, 0.5], [0.5, -1.0, 1.5]]", "np.array([0.3, -0.7])",
          "True"]
LOW = {"np.float16": "np.float64", "np.float32": "np.float64", "np.longdouble": "np.float64",
       "np.complex64": "np.complex128"}
# templates that are one call of a callable on the operands (and literal keywords)
FN = {op: re.match(r"([\w.]+)\(\{0\}((?:, \{\d\})*)((?:, \w+=[\w.'-]+)*)\)$", op)
      for op, _ in OPS}


def _is_scalar(v) -> bool:
    return isinstance(v, float | int | complex | np.generic) or (
        isinstance(v, np.ndarray) and v.ndim == 0)


def _fits(v, need: str) -> bool:
    if need == "a":
        return True
    if need == "s":
        return _is_scalar(v)
    if need == "l":
        return isinstance(v, list | tuple)
    if need == "n":
        return isinstance(v, np.ndarray | np.generic)
    if not isinstance(v, np.ndarray):
        return False
    return {"v": v.ndim == 1, "m": v.ndim == 2, "q": v.ndim == 2 and v.shape[0] == v.shape[1]}[
        need]


def _domain_ok(op: str, v) -> bool:
    name = re.match(r"(?:np|math|scipy\.special)\.(\w+)\(", op)
    dom = DOMAIN.get(name.group(1)) if name else None
    if re.search(r"\{0\} \*\*=? \{1\}|pow\(\{0\}, \{1\}", op):
        dom = "pos"  # x ** y: real for x > 0 (at x == 0, d/dx is infinite for y < 1)
    if dom is None:
        return True
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        return True  # let the native run decide
    if a.size == 0:
        return False
    return bool({"pos": np.all(a > 0.2), "unit": np.all(np.abs(a) < 0.8),
                 "gt1": np.all(a > 1.2), "nz": np.all(np.abs(a) > 0.2)}[dom])


def _moderate(v, depth=0) -> bool:
    """Finite and moderate (|v| < 1e3), recursively through lists/tuples."""
    if isinstance(v, list | tuple):
        return depth < 4 and all(_moderate(x, depth + 1) for x in v)
    if isinstance(v, bool | np.bool_ | str):
        return True
    try:
        a = np.asarray(v)
    except Exception:  # noqa: BLE001 - ragged
        return False
    if a.dtype.kind not in "biufc":
        return False
    return a.size <= 64 and bool(np.all(np.isfinite(a)) and np.all(np.abs(a) < 1e3))


def _complex(v) -> bool:
    return any(isinstance(x, complex | np.complexfloating) or (
        isinstance(x, np.ndarray) and x.dtype.kind == "c") for x in _leaves(v))


def _inexact(v) -> bool:
    if isinstance(v, list | tuple):
        return any(_inexact(x) for x in v)
    return isinstance(v, float | complex | np.inexact) or (
        isinstance(v, np.ndarray) and v.dtype.kind in "fc")


def _run(header: list[str], body: list[str], args: tuple):
    """Run the program so far natively (warnings are errors); (env, exception)."""
    src = "\n".join(header + body)
    env: dict = {}
    env.update(zip(INPUTS, copy.deepcopy(args), strict=False))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            exec(compile(src, "<lattice>", "exec"), env)  # noqa: S102 - generated program
        except Exception as e:  # noqa: BLE001
            return env, e
    return env, None


INPUTS = ["x0", "x1", "x2"]
IN_KINDS = ["float", "f64", "f32", "f16", "ld", "0d64", "0d32", "v64", "v32", "m64", "v16"]


@st.composite
def _input(draw, position: int = 0):
    """One differentiated input; elements are made distinct (hypothesis shrinks towards equal
    values, and a tie such as ``median([a, a, a])`` is a point where no gradient exists)."""
    kind = draw(st.sampled_from(IN_KINDS))
    el = st.floats(0.25, 1.4) | st.floats(-1.4, -0.25)
    jitter = 0.0071 * position

    def value(k: int = 0) -> float:
        return draw(el) + jitter + 0.0137 * k

    if kind == "float":
        return value()
    dt = {"f64": np.float64, "f32": np.float32, "f16": np.float16, "ld": np.longdouble,
          "0d64": np.float64, "0d32": np.float32, "v64": np.float64, "v32": np.float32,
          "m64": np.float64, "v16": np.float16}[kind]
    if kind in ("f64", "f32", "f16", "ld"):
        return dt(value())
    shape = {"0": (), "v": (draw(st.integers(1, 3)),), "m": (2, 3)}[kind[0]]
    n = int(np.prod(shape))
    return np.array([value(k) for k in range(n)], dtype=dt).reshape(shape)


class Program:
    def __init__(self, inputs, body, ret, raises, mode, ops, dtypes=()):
        self.inputs, self.body, self.ret, self.raises = inputs, body, ret, raises
        self.mode, self.ops = mode, ops
        self.dtypes = set(dtypes)  # of every value the program made (its precision)

    def source(self, twin: bool = False) -> str:
        lines = [*HEADER, "",
                 f"def f({', '.join(INPUTS[:len(self.inputs)])}):"]
        lines += ["    " + b for b in self.body]
        if not self.raises:
            lines.append("    return " + self.ret)
        src = "\n".join(lines) + "\n"
        if twin:
            for k, v in LOW.items():
                src = src.replace(k, v)
        return src

    def __repr__(self) -> str:
        return f"inputs={self.inputs!r}\n{self.source()}"


def _render(op: str, operands: list[str]) -> str:
    return op.format(*[f"({o})" if " " in o and not o.startswith(("[", "(")) else o
                       for o in operands])


def _pick_operands(draw, need: str, names: list[str], env: dict) -> list[str] | None:
    out = []
    for ch in need:
        fits = [n for n in names if _fits(env[n], ch)]
        if ch in "as" and draw(st.integers(0, 5)) == 0:
            consts = [c for c in CONSTS if ch == "a" or not c.startswith(("[", "(", "np.a"))]
            out.append(draw(st.sampled_from(consts)))
        elif fits:
            out.append(draw(st.sampled_from(fits)))
        else:
            return None
    return out


@st.composite
def programs(draw):
    n_in = draw(st.integers(1, 3))
    inputs = tuple(draw(_input(i)) for i in range(n_in))
    header = list(HEADER)
    body: list[str] = []
    names = list(INPUTS[:n_in])
    env, _ = _run(header, body, inputs)
    ops_used: list[str] = []
    raises = False
    for k in range(draw(st.integers(1, 6))):
        t = f"t{k}"
        for _attempt in range(8):
            kind = draw(st.sampled_from(["op"] * 6 + ["inplace", "branch", "ifexp"]))
            op, need = draw(st.sampled_from(OPS))
            operands = _pick_operands(draw, need, names, env)
            if operands is None or not _domain_ok(op, env.get(operands[0], None)
                                                  if operands[0] in env else None):
                continue
            expr = _render(op, operands)
            if kind == "op":
                cand = [f"{t} = {expr}"]
                if op.startswith("scipy."):  # imported where it is used, as legacy code does
                    cand.insert(0, f"import {op[:op.index('.', 6)]}")
            elif kind == "inplace":
                target = draw(st.sampled_from(names))
                iop = draw(st.sampled_from(INPLACE))
                if iop == "**=" and not _domain_ok("{0} ** {1}", env[target]):
                    continue
                if draw(st.booleans()):  # on a fresh copy, or on the value itself (aliases)
                    copy_ = ".copy()" if isinstance(env[target], np.ndarray) else ""
                    cand = [f"{t} = {target}{copy_}", f"{t} {iop} {expr}"]
                else:
                    cand = [f"{target} {iop} {expr}", f"{t} = {target}"]
            else:
                scal = [n for n in names if _is_scalar(env[n]) and not _complex(env[n])]
                if len(scal) < 1:
                    continue
                a, b = draw(st.sampled_from(scal)), draw(st.sampled_from(scal + ["0.5", "-0.2"]))
                try:
                    gap = abs(float(env[a]) - float(env.get(b, 0) if b in env else eval(b)))
                except Exception:  # noqa: BLE001
                    continue
                if gap < 0.1:
                    continue
                cmp = draw(st.sampled_from([">", "<", ">=", "<="]))
                op2, need2 = draw(st.sampled_from(OPS))
                ops2 = _pick_operands(draw, need2, names, env)
                other = _render(op2, ops2) if ops2 else a
                if kind == "branch":
                    cand = [f"if {a} {cmp} {b}:", f"    {t} = {expr}", "else:",
                            f"    {t} = {other}"]
                else:
                    cand = [f"{t} = {expr} if {a} {cmp} {b} else {other}"]
            new_env, err = _run(header, body + cand, inputs)
            if err is None and t in new_env and _moderate(new_env[t]) and all(
                    _moderate(new_env[n]) for n in names):
                body += cand
                names.append(t)
                env = new_env
                ops_used.append(op)
                break
            if err is not None and not isinstance(err, RecursionError | MemoryError) and \
                    draw(st.integers(0, 19)) == 0:  # keep: capture must raise the same
                body += cand
                ops_used.append(op)
                raises = True
                break
        if raises:
            break
    mode = draw(st.sampled_from(["scalar", "scalar", "vjp"]))
    real = [n for n in names if _inexact(env[n]) and not _complex(env[n])
            and isinstance(env[n], np.ndarray | float | np.floating)]
    if mode == "vjp" and real:
        ret = draw(st.sampled_from(real[-3:]))
    else:
        mode = "scalar"
        picks = draw(st.lists(st.sampled_from(names[-4:]), min_size=1, max_size=2, unique=True))
        terms = []
        for n in picks:
            v = env[n]
            if isinstance(v, list | tuple) or _complex(v):
                terms.append(f"np.sum(np.real({n}))")
            elif isinstance(v, np.ndarray) and v.ndim:
                terms.append(draw(st.sampled_from([f"np.sum({n})", f"{n}.sum()",
                                                   f"np.mean({n})"])))
            else:
                terms.append(n)
        if not any(_inexact(env[n]) for n in picks):
            terms.append("0.5 * x0" if _is_scalar(env["x0"]) else "np.sum(x0)")
        ret = " + ".join(terms) if len(terms) == 1 else f"{terms[0]} + 0.7 * {terms[1]}"
        if len(terms) > 2:
            ret += " + " + " + ".join(terms[2:])
    dtypes = {np.asarray(x).dtype for n in names for x in _leaves(env[n])
              if isinstance(x, np.ndarray | np.generic)}
    return Program(inputs, body, ret, raises, mode, ops_used, dtypes)


# ------------------------------------------------------------------------------------------
# checking
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def program_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("framead_lattice")


def _load(source: str, directory) -> tuple:
    mod, path = load_source_module(source, directory, "framead_lattice")
    return mod.f, path


def _leaves(v) -> list:
    if isinstance(v, list | tuple):
        return [x for item in v for x in _leaves(item)]
    return [v]


def _same_bits(a, b) -> bool:
    la, lb = _leaves(a), _leaves(b)
    if len(la) != len(lb):
        return False
    for x, y in zip(la, lb, strict=True):
        if type(x) is not type(y):
            return False
        ax, ay = np.asarray(x), np.asarray(y)
        if ax.dtype != ay.dtype or ax.shape != ay.shape:
            return False
        if ax.tobytes() != ay.tobytes() and not np.array_equal(ax, ay, equal_nan=True):
            return False
    return True


def _to64(x):
    if isinstance(x, np.ndarray):
        return x.astype(np.float64)
    return x if isinstance(x, float) else np.float64(x)


def _phi(f, args, ct) -> float:
    """<ct, f(args)> in float64 (native, warnings silenced)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        out = f(*copy.deepcopy(args))
    return float(sum(np.vdot(np.asarray(c, np.float64), np.real(np.asarray(o, np.complex128)))
                     for c, o in zip(_leaves(ct), _leaves(out), strict=True)))


def _fd(f, args, ct, h: float):
    """Central 4-point differences of <ct, f> at steps h and h/2: (estimate, error bound).
    The bound also covers kinks: one-sided 3-point differences that disagree (a tie such as
    ``max(a, a)``, ``abs`` at 0) make it large, since there the gradient is a convention."""
    out, err = [], []
    for i, x in enumerate(args):
        x = np.array(x, dtype=np.float64)
        g, e = np.zeros(x.shape), np.zeros(x.shape)
        for idx in np.ndindex(x.shape):
            ds, sides = [], 0.0
            for step in (h * max(1.0, abs(x[idx])), h * max(1.0, abs(x[idx])) / 2):
                v = {}
                for m in (-2, -1, 0, 1, 2):
                    xp = x.copy()
                    xp[idx] += m * step
                    a = list(args)
                    a[i] = xp if isinstance(args[i], np.ndarray) else type(args[i])(xp)
                    try:
                        v[m] = _phi(f, tuple(a), ct)
                    except Exception:  # noqa: BLE001 - a domain edge within the stencil
                        v[m] = math.nan
                ds.append((8 * (v[1] - v[-1]) - (v[2] - v[-2])) / (12 * step))
                fwd = (-3 * v[0] + 4 * v[1] - v[2]) / (2 * step)
                bwd = (3 * v[0] - 4 * v[-1] + v[-2]) / (2 * step)
                sides = max(sides, abs(fwd - bwd) / 100)  # O(h^2) apart where smooth
            g[idx], e[idx] = ds[1], max(abs(ds[0] - ds[1]), sides)
        out.append(g)
        err.append(e)
    return out, err


def _unreliable(fd, err) -> bool:
    scale = max([1.0] + [float(np.max(np.abs(d), initial=0.0)) for d in fd])
    return any(not np.all(np.isfinite(d)) or np.any(e > 1e-4 * scale)
               for d, e in zip(fd, err, strict=True))


def _tolerance(prog: Program) -> tuple[float, float]:
    src = prog.source()
    dts = prog.dtypes | {np.asarray(x).dtype for x in prog.inputs}
    if "float16" in src or np.dtype(np.float16) in dts:  # cancellations lose ~1e-2 of terms
        return 6e-2, 2e-1
    if "float32" in src or "complex64" in src or dts & {np.dtype(np.float32),
                                                        np.dtype(np.complex64)}:
        return 2e-3, 1e-3
    return 1e-5, 1e-6


def _known_open(report: str) -> str | None:
    for name, (pattern, _reason) in KNOWN_OPEN.items():
        if re.search(pattern, report, re.S):
            return name
    return None


def _fail(report: str) -> None:
    name = _known_open(report)
    if name is not None:
        event(f"known open: {name}")
        warnings.warn(f"type-lattice fuzzer: known open failure class {name!r} "
                      f"({KNOWN_OPEN[name][1]})", stacklevel=2)
        return
    pytest.fail(report, pytrace=False)


def _real_scalar(v) -> bool:
    return isinstance(v, float | np.floating) or (
        isinstance(v, np.ndarray) and v.shape == () and v.dtype.kind == "f")


def _random_ct(value, rng):
    if isinstance(value, np.ndarray):
        return rng.uniform(-1.5, 1.5, value.shape).astype(value.dtype)
    return float(rng.uniform(0.5, 1.5))


def check_program(f, path: str, prog: Program, twin=None) -> None:
    args = prog.inputs
    nums = tuple(range(len(args)))
    src = prog.source()
    head = f"program (inputs {prog.inputs!r}):\n{src}"
    try:
        native, nerr = f(*copy.deepcopy(args)), None
    except Exception as e:  # noqa: BLE001
        native, nerr = None, e
    use_grad = prog.mode == "scalar" and nerr is None and _real_scalar(native)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", framead.GradientWarning)
            if use_grad:  # grad's own path (its seed), else vjp with a random cotangent
                value, grads = framead.value_and_grad(f, nums)(*copy.deepcopy(args))
                f_vjp = lambda ct: grads  # noqa: E731
            else:
                value, f_vjp = framead.vjp(f, *copy.deepcopy(args), argnums=nums)
        cerr = None
    except Exception as e:  # noqa: BLE001
        value, f_vjp, cerr = None, None, e
    if nerr is not None:
        event("raises natively")
        if cerr is None or type(cerr) is not type(nerr) or str(cerr) != str(nerr):
            _fail(f"TRANSPARENCY: natively {type(nerr).__name__}: {nerr}; under capture "
                  f"{type(cerr).__name__ if cerr else 'no error'}: {cerr}\n{head}")
        return
    if cerr is not None:
        return _fail(f"CAPTURE RAISED {type(cerr).__name__}: {cerr}\n(native: {native!r})"
                     f"\n{head}")
    if not _same_bits(native, value):
        return _fail(f"TRANSPARENCY: value under capture {value!r} != native {native!r}\n{head}")
    rng = np.random.default_rng(len(src))
    ct = 1.0 if use_grad else _random_ct(native, rng)
    try:
        grads = f_vjp(ct)
    except Exception as e:  # noqa: BLE001
        return _fail(f"REVERSE PASS RAISED {type(e).__name__}: {e}\n{head}")
    g64 = twin or f
    fd, err = _fd(g64, tuple(_to64(a) for a in args), ct, 1e-3)
    rtol, atol = _tolerance(prog)
    scale = max([1.0] + [float(np.max(np.abs(d), initial=0.0)) for d in fd])
    if _unreliable(fd, err):
        event("skipped: finite differences unreliable (near a kink or a domain edge)")
        return
    bad, shape = [], False
    for i, (g, d) in enumerate(zip(grads, fd, strict=True)):
        g = np.zeros_like(d) if g is None else np.real(np.asarray(g, dtype=np.complex128))
        if g.shape != d.shape or not np.all(np.abs(g - d) <= atol * scale + rtol * np.abs(d)):
            bad.append(f"  d/d{INPUTS[i]}: framead {g!r}, finite differences {d!r}")
            shape = shape or g.shape != d.shape
    if not bad:
        event("right")
        return
    every = framead.trace(f, *copy.deepcopy(args), argnums=nums).hazards
    if any(h.loc.file == path for h in every):
        event("wrong gradient, hazard reported")
        try:  # and strict mode refuses it
            framead.vjp(f, *copy.deepcopy(args), argnums=nums, strict=True)
        except framead.GradientHazard:
            return
        return _fail(f"STRICT MODE DID NOT RAISE for hazards {[str(h) for h in every]}\n{head}")
    elsewhere = [str(h) for h in every if os.path.basename(h.loc.file).startswith(
        "framead_lattice_")]
    if elsewhere:  # reported, but at the same line of an earlier program with equal code
        return _fail(f"HAZARD NAMES ANOTHER FILE: {elsewhere} (this program is {path})\n"
                     f"{head}")
    what = "WRONG GRADIENT SHAPE" if shape else "WRONG GRADIENT"
    _fail("{}, NO HAZARD (cotangent {!r}):\n{}\n{}".format(what, ct, "\n".join(bad), head))


def _settings(fn):
    fn = settings(max_examples=EXAMPLES, deadline=None, derandomize=SEED is None,
                  suppress_health_check=list(HealthCheck), database=None)(fn)
    return seed(int(SEED))(fn) if SEED is not None else fn


@_settings
@given(prog=programs())
def test_lattice_program(program_dir, prog):
    note(repr(prog))
    f, path = _load(prog.source(), program_dir)
    twin = None
    if prog.source(twin=True) != prog.source():
        twin, _ = _load(prog.source(twin=True), program_dir)
    check_program(f, path, prog, twin)


# ------------------------------------------------------------------------------------------
# the callables themselves as the top-level f
# ------------------------------------------------------------------------------------------
TOP = sorted({(m.group(1), m.group(3)[2:], 1 + m.group(2).count("{")) for m in FN.values()
              if m} | {(f"np.ndarray.{n}", kw, 1) for n in ("sum", "mean", "max", "std", "prod")
                       for kw in ("", "axis=0", "keepdims=True")})


@_settings
@given(top=st.sampled_from(TOP), data=st.data())
def test_lattice_top_level_callable(top, data):
    """``grad(np.sin)``, ``vjp(np.add)``, ``grad(math.sin)``, ``grad(np.ndarray.sum)``,
    ``grad(np.max)(x, axis=0)``: a callable given directly (keywords passed through grad);
    its gradient and value are the same as when called in user code."""
    name, kwsrc, nargs = top
    ns: dict = {}
    exec("\n".join([*HEADER, "import scipy.special", "import scipy.stats"]), ns)  # noqa: S102
    kwargs = eval(f"dict({kwsrc})", ns)  # noqa: S307 - keywords from the table above
    fn = functools.partial(eval(name, ns), **kwargs) if kwargs else eval(name, ns)  # noqa: S307
    top_fn = eval(name, ns)  # noqa: S307
    scalar = name.startswith("math.") or name in ("float", "complex", "round", "abs", "int")
    args = tuple(data.draw(_input(i)) for i in range(nargs))
    if scalar:
        args = tuple(float(np.asarray(a).ravel()[0]) for a in args)
    elif name.startswith("np.ndarray"):
        args = tuple(np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in args)
    if not _domain_ok(name + "(", args[0]):
        return
    note(f"{name}{args!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = fn(*copy.deepcopy(args))
    except Exception:  # noqa: BLE001 - not a valid call for these operands
        return
    if not _moderate(out) or not _inexact(out) or _complex(out) or isinstance(
            out, list | tuple):
        return
    nums = tuple(range(len(args)))
    head = f"top-level f = {name}, arguments {args!r}, keywords {kwargs!r}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", framead.GradientWarning)
            if _real_scalar(out):  # grad(np.sin)(x): grad's own path
                ct = 1.0
                value, grads = framead.value_and_grad(top_fn, nums)(*copy.deepcopy(args),
                                                                   **kwargs)
            else:
                value, f_vjp = framead.vjp(top_fn, *copy.deepcopy(args), argnums=nums,
                                           **kwargs)
                ct = _random_ct(out, np.random.default_rng(0))
                grads = f_vjp(ct)
    except Exception as e:  # noqa: BLE001
        return _fail(f"CAPTURE RAISED {type(e).__name__}: {e}\n{head}")
    if not _same_bits(out, value):
        return _fail(f"TRANSPARENCY: value under capture {value!r} != native {out!r}\n{head}")
    low = any(np.asarray(a).dtype in (np.float16, np.float32) for a in args + (out,))
    fd, err = _fd(fn, tuple(_to64(a) for a in args), ct, 1e-3)
    scale = max([1.0] + [float(np.max(np.abs(d), initial=0.0)) for d in fd])
    if _unreliable(fd, err):
        return
    rtol, atol = (6e-2, 3e-2) if low else (1e-5, 1e-6)
    for i, (g, d) in enumerate(zip(grads, fd, strict=True)):
        g = np.zeros_like(d) if g is None else np.asarray(g, dtype=np.float64)
        if g.shape != d.shape or not np.all(np.abs(g - d) <= atol * scale + rtol * np.abs(d)):
            t = framead.trace(top_fn, *copy.deepcopy(args), argnums=nums, **kwargs)
            _fail(f"WRONG GRADIENT (argument {i}): framead {g!r}, finite differences {d!r}; "
                  f"hazards {[str(h) for h in t.hazards]}\n{head}")
            return


# ------------------------------------------------------------------------------------------
# what the fuzzer found, fixed at the root (rules/helpers.py), as direct regressions
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("low", [np.float16, np.float32])
@pytest.mark.parametrize("out", [np.float64, np.longdouble])
def test_derivatives_in_the_outputs_precision(low, out):
    """``x / np.float16(c)`` is float64 math: d/dx = 1/c in float64, not 1/c rounded to
    float16; nor may a Python-float cotangent adopt float16 through a float16 operand."""
    c = low(0.3)
    x = out(0.5)
    g = framead.grad(lambda x: x / c)(x)
    assert g == 1 / out(c)
    _, f_vjp = framead.vjp(lambda x: np.maximum(-2.0, x) / low(1.0), x)
    (g,) = f_vjp(0.6536613559523329)
    assert g == out(0.6536613559523329)
    gx = framead.grad(lambda x: np.sum(np.sin(x) * c))(np.array([0.5, 1.0], dtype=out))
    np.testing.assert_allclose(gx, np.cos(np.array([0.5, 1.0])) * float(c), rtol=1e-14)


def test_pow_exponent_derivative_at_a_negative_base_is_zero_not_nan():
    """x ** (a / a): the exponent is constant, so the gradient is 0 (central differences),
    not 0 * nan; for x < 0, x ** y is real only at integer y (TensorFlow's convention)."""
    base = np.array([-0.5, 0.7])
    assert framead.grad(lambda a: np.sum(base ** (a / a)))(1.3) == 0.0
    assert framead.grad(lambda a: (-0.4) ** (a / a))(1.3) == 0.0
    assert framead.grad(lambda y: 2.0 ** y)(1.5) == pytest.approx(np.log(2) * 2 ** 1.5)


@pytest.mark.parametrize("const", [[0.5, 1.5], (0.5, 1.5), [[0.5], [1.5]]])
@pytest.mark.parametrize("x", [0.9, np.float32(0.9), np.array(0.9), np.array([0.9, -0.3])])
def test_list_operands_have_numpys_shape_in_rules(const, x):
    """A list or tuple argument of a rule has the shape NumPy coerces it to (rules'
    ``shape_of``/``meta_of``): the VJP of ``np.append([0.5, 1.5], x)`` splits at 2, not 1."""
    n = np.size(x)
    w = np.arange(1.0, 3.0 + n)
    g = framead.grad(lambda x: np.sum(np.append(const, x) * w))(x)
    np.testing.assert_array_equal(np.ravel(g), w[2:])
    g = framead.grad(lambda x: np.sum(np.append(x, const) * w))(x)
    np.testing.assert_array_equal(np.ravel(g), w[:n])


@pytest.mark.parametrize("f", [lambda x: math.hypot(x - x, x - x) + x,
                               lambda x: math.atan2(x - x, x - x) + x,
                               lambda x: math.hypot(x - x, 0.0) * 3.0 + x])
def test_math_hypot_atan2_at_the_origin(f):
    """At (0, 0) hypot and atan2 have no derivative; where their operands are constant the
    gradient is that of the rest (central differences), not nan * 0 (rules/math_rules.py)."""
    assert framead.grad(f)(0.7) == 1.0
    assert framead.jvp(f, (0.7,), (1.0,))[1] == 1.0


def test_equal_code_in_two_files_has_each_files_locations(program_dir):
    src = "import numpy as np\n\ndef f(x0):\n    return np.fromiter((x0, 2.0), float).sum()\n"
    for _ in range(2):
        f, path = _load(src, program_dir)
        assert [h.loc.file for h in framead.trace(f, 0.75).hazards] == [path]
