"""Pytrees: containers as differentiated arguments and as outputs (framead/tree.py,
framead/inputs.py ``Differentiated``), through every transform.

Two parts:

* a hypothesis **fuzzer** over argument shapes and program shapes. An argument is a random
  nested container (tuple, list, dict, OrderedDict, defaultdict, named tuple, dataclass,
  frozen dataclass with slots, a class registered with ``framead.tree.register``, None, empty
  containers; depth up to 3) whose leaves are Python floats, ``np.float64``/``np.float32``
  scalars, float64 arrays (0-d, 1-d, 2-d) and non-differentiable leaves (ints, strings, int
  arrays, bools). The program is real source written to a file and imported: it reads leaves
  by index, key and attribute, iterates containers (``for`` loops, ``dict.items()``, ``zip``,
  ``sum()``, ``np.array(list_of_floats)``, ``np.stack(list_of_arrays)``, a recursive walk
  with ``isinstance``), branches on values, ints, strings and bools, and mutates its (fresh)
  containers in place (``xs[i] = ...``, ``d[k] += ...``, ``list.append``, dataclass attribute
  assignment, slice writes into arrays held in containers) before returning a scalar.
  Checked per program: framead's value is the native call's; the gradient has the argument's
  structure (same classes, same dict keys in the same order, None at non-differentiable
  leaves, each leaf of its input's type) and equals central finite differences in float64
  leaf element by leaf element (perturbing the original structure, rebuilt from its
  description: independent of framead.tree); the caller's containers and arrays are unchanged
  (deep comparison with a copy taken before, and the same array objects in place);
  ``grad(f, cache=True)`` agrees with the uncached gradient for the same and for other values.
  ``FRAMEAD_FUZZ_EXAMPLES`` sets the number of programs (default 60, derandomized).

* **targeted tests**: every transform with pytree arguments and outputs against JAX (x64) or
  finite differences, ``has_aux``, ``argnums`` tuples, shared leaves, classes kept, registered
  classes, empty containers, nested derivatives, error messages and ``check_grads``.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import hashlib
import importlib.util
import itertools
import os
import textwrap
import warnings
from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

import framead
import framead.tree
from framead import rules
from framead.errors import InputTypeError

MAX_EXAMPLES = int(os.environ.get("FRAMEAD_FUZZ_EXAMPLES", "60"))
STATS = collections.Counter()
FORMS: set[str] = set()


# ----------------------------------------------------------------------------------------
# the container classes the fuzzer (and the targeted tests) use
# ----------------------------------------------------------------------------------------

class NT2(NamedTuple):
    a: Any
    b: Any


class NT3(NamedTuple):
    a: Any
    b: Any
    c: Any


@dataclasses.dataclass
class DC2:
    a: Any
    b: Any


@dataclasses.dataclass
class DC3:
    a: Any
    b: Any
    c: Any


@dataclasses.dataclass(frozen=True, slots=True)
class FrozenDC2:
    a: Any
    b: Any


class Box:
    """A registered node (not a dataclass, not a tuple): children ``a`` and ``b``."""

    def __init__(self, a, b):
        self.a, self.b = a, b

    def __repr__(self) -> str:
        return f"Box({self.a!r}, {self.b!r})"


framead.tree.register(Box, lambda o: ((o.a, o.b), None), lambda aux, kids: Box(*kids))

NAMES = ["a", "b", "c"]


# ----------------------------------------------------------------------------------------
# argument descriptions: built into values (and rebuilt, perturbed) without framead.tree
# ----------------------------------------------------------------------------------------

@dataclasses.dataclass
class Leaf:
    kind: str  # pyf f64 f32 arr (float) | int str iarr bool (not differentiable)
    value: Any  # float, or a float64 array, or the non-float value
    idx: int = -1

    @property
    def diff(self) -> bool:
        return self.kind in ("pyf", "f64", "f32", "arr")

    @property
    def scalar(self) -> bool:
        return self.kind in ("pyf", "f64", "f32") or (self.kind == "arr"
                                                       and np.ndim(self.value) == 0)


@dataclasses.dataclass
class Node:
    kind: str  # tuple list dict odict ddict nt dc fdc box none
    items: list  # [(key, child)]: key an int (sequences), str (dicts, attributes)
    cls: Any = None
    homogeneous: str | None = None  # "scalars" / "arrays": a list np.array/np.stack can take


def build(d: Any, values: dict[int, Any] | None = None) -> Any:
    """The value described by ``d`` (``values``: replacement leaf values by leaf index)."""
    if isinstance(d, Leaf):
        v = d.value if values is None or d.idx not in values else values[d.idx]
        if d.kind == "pyf":
            return float(v)
        if d.kind == "f64":
            return np.float64(v)
        if d.kind == "f32":
            return np.float32(v) if values is None or d.idx not in values else v
        if d.kind in ("arr", "iarr"):
            return np.array(v, copy=True)
        return v
    kids = [build(c, values) for _, c in d.items]
    if d.kind == "tuple":
        return tuple(kids)
    if d.kind == "list":
        return list(kids)
    if d.kind == "dict":
        return {k: v for (k, _), v in zip(d.items, kids, strict=True)}
    if d.kind == "odict":
        return collections.OrderedDict((k, v) for (k, _), v in zip(d.items, kids, strict=True))
    if d.kind == "ddict":
        return collections.defaultdict(float, ((k, v) for (k, _), v in
                                               zip(d.items, kids, strict=True)))
    if d.kind in ("nt", "dc", "fdc", "box"):
        return d.cls(*kids)
    assert d.kind == "none"
    return None


def leaves_of(d: Any) -> list[Leaf]:
    if isinstance(d, Leaf):
        return [d]
    return [leaf for _, c in d.items for leaf in leaves_of(c)]


def _child(tree: Any, d: Node, k: Any) -> Any:
    if d.kind in ("dc", "fdc", "box", "nt"):
        return getattr(tree, k)
    return tree[k]


def check_structure(g: Any, d: Any, where: str = "g") -> None:
    """``g`` (a gradient) has the structure of the argument described by ``d``: classes,
    keys in order, None for non-differentiable leaves, each leaf of its input's type."""
    if isinstance(d, Leaf):
        if not d.diff:
            assert g is None, f"{where}: {g!r} for a non-differentiable {d.kind} leaf"
        elif d.kind == "pyf":
            assert type(g) is float, f"{where}: {type(g)} for a Python float"
        elif d.kind == "f64":
            assert type(g) is np.float64, f"{where}: {type(g)} for np.float64"
        elif d.kind == "f32":
            assert type(g) is np.float32, f"{where}: {type(g)} for np.float32"
        else:
            assert type(g) is np.ndarray and g.shape == np.shape(d.value) and \
                g.dtype == np.float64, f"{where}: {g!r} for a float64 array {np.shape(d.value)}"
        return
    if d.kind == "none":
        assert g is None, f"{where}: {g!r} for None"
        return
    want = {"tuple": tuple, "list": list, "dict": dict, "odict": collections.OrderedDict,
            "ddict": collections.defaultdict}.get(d.kind, d.cls)
    assert type(g) is want, f"{where}: {type(g).__name__}, expected {want.__name__}"
    if d.kind in ("tuple", "list", "nt"):
        assert len(g) == len(d.items), f"{where}: length {len(g)}, expected {len(d.items)}"
    if d.kind in ("dict", "odict", "ddict"):
        assert list(g) == [k for k, _ in d.items], f"{where}: keys {list(g)}"
    if d.kind == "ddict":
        assert g.default_factory is float, f"{where}: default_factory {g.default_factory}"
    for k, c in d.items:
        check_structure(_child(g, d, k), c, f"{where}[{k!r}]")


def leaf_grads(g: Any, d: Any, out: dict[int, Any]) -> dict[int, Any]:
    """The gradient's leaves by leaf index (walking the description, not framead.tree)."""
    if isinstance(d, Leaf):
        out[d.idx] = g
    elif d.kind != "none":
        for k, c in d.items:
            leaf_grads(_child(g, d, k), c, out)
    return out


def snapshot(x: Any) -> Any:
    """What the caller's argument holds: classes, keys, values, arrays (bytes, dtype, shape,
    flags) and which objects (ids) sit where."""
    if isinstance(x, np.ndarray):
        return ("array", id(x), x.dtype.str, x.shape, x.tobytes(), x.flags.writeable)
    if isinstance(x, dict):
        return (type(x), id(x), [(k, snapshot(v)) for k, v in x.items()])
    if isinstance(x, list | tuple):
        return (type(x), id(x), [snapshot(v) for v in x])
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (type(x), id(x), [(f.name, snapshot(getattr(x, f.name)))
                                 for f in dataclasses.fields(x)])
    if isinstance(x, Box):
        return (Box, id(x), sorted(vars(x)), snapshot(x.a), snapshot(x.b))
    return (type(x), repr(x))


# ----------------------------------------------------------------------------------------
# the generator
# ----------------------------------------------------------------------------------------

KEYS = ["w", "b", "k", "z", "a", "m"]
CONSTS = ["0.5", "1.5", "-0.75", "2.0", "0.25"]


class Gen:
    def __init__(self, draw):
        self.draw = draw
        self.n_leaves = 0
        self.lines: list[str] = []
        self.kinds: set[str] = set()

    def pick(self, xs):
        return xs[self.draw(st.integers(0, len(xs) - 1))]

    def coin(self, p_in_4: int = 2) -> bool:
        return self.draw(st.integers(0, 3)) < p_in_4

    def number(self) -> float:
        return self.draw(st.sampled_from([-1.4, -0.9, -0.35, 0.3, 0.65, 0.8, 1.2, 1.45]))

    # ---- arguments

    def leaf(self, diff_only: bool = False) -> Leaf:
        kinds = ["pyf", "f64", "f32", "arr", "arr", "pyf"]
        if not diff_only:
            kinds += ["int", "str", "iarr", "bool"]
        kind = self.pick(kinds)
        if kind in ("pyf", "f64", "f32"):
            return Leaf(kind, self.number())
        if kind == "arr":
            shape = self.pick([(), (1,), (3,), (2,), (2, 3), (1, 2), (3, 1)])
            return Leaf(kind, self.array(shape))
        if kind == "int":
            return Leaf(kind, self.draw(st.integers(1, 3)))
        if kind == "str":
            return Leaf(kind, self.pick(["sq", "lin"]))
        if kind == "iarr":
            return Leaf(kind, np.array([self.draw(st.integers(0, 3)) for _ in range(2)]))
        return Leaf(kind, self.coin())

    def array(self, shape: tuple) -> np.ndarray:
        n = int(np.prod(shape))
        return np.array([self.number() for _ in range(n)], dtype=np.float64).reshape(shape)

    def homogeneous_list(self) -> Node:
        n = self.draw(st.integers(2, 3))
        if self.coin():
            kind = self.pick(["pyf", "f64", "pyf"])
            return Node("list", [(i, Leaf(kind, self.number())) for i in range(n)],
                        homogeneous="scalars")
        shape = self.pick([(2,), (2, 2), (3,)])
        return Node("list", [(i, Leaf("arr", self.array(shape))) for i in range(n)],
                    homogeneous="arrays")

    def node(self, depth: int) -> Any:
        if depth >= 3 or (depth > 0 and self.coin(depth)):
            return self.leaf()
        kind = self.pick(["tuple", "list", "dict", "odict", "ddict", "nt", "dc", "fdc",
                          "box", "none", "hom", "empty", "dict", "list"])
        if depth == 0 and kind in ("none", "empty"):
            kind = "dict"
        if kind == "hom":
            return self.homogeneous_list()
        if kind == "empty":
            return Node(self.pick(["tuple", "list", "dict"]), [])
        if kind == "none":
            return Node("none", [])
        lo = 2 if depth == 0 else 1
        if kind in ("tuple", "list"):
            n = self.draw(st.integers(lo, 3))
            return Node(kind, [(i, self.node(depth + 1)) for i in range(n)])
        if kind in ("dict", "odict", "ddict"):
            n = self.draw(st.integers(lo, 4))
            keys = list(KEYS)
            keys = [keys.pop(self.draw(st.integers(0, len(keys) - 1))) for _ in range(n)]
            return Node(kind, [(k, self.node(depth + 1)) for k in keys])
        cls = {"nt": self.pick([NT2, NT3]), "dc": self.pick([DC2, DC3]), "fdc": FrozenDC2,
               "box": Box}[kind]
        n = len(dataclasses.fields(cls)) if dataclasses.is_dataclass(cls) else \
            len(getattr(cls, "_fields", "ab"))
        return Node(kind, [(NAMES[i], self.node(depth + 1)) for i in range(n)], cls=cls)

    def argument(self) -> Node:
        while True:
            d = self.node(0)
            if isinstance(d, Node) and d.kind not in ("none",) and any(
                    leaf.diff for leaf in leaves_of(d)):
                break
            # a bare leaf or a container without floats: wrap one float leaf beside it
            d = Node("tuple", [(0, d), (1, self.leaf(diff_only=True))])
            break
        for i, leaf in enumerate(leaves_of(d)):
            leaf.idx = i
        return d

    # ---- program

    def paths(self, d: Any, expr: str, out: list) -> list:
        """(expression, description, parent, key) of every node and leaf."""
        if isinstance(d, Node):
            for k, c in d.items:
                if d.kind in ("dc", "fdc", "box"):
                    e = f"{expr}.{k}"
                elif d.kind == "nt" and self.coin():
                    e = f"{expr}.{k}"
                elif d.kind == "nt":
                    e = f"{expr}[{NAMES.index(k)}]"
                elif isinstance(k, str):
                    e = f'{expr}["{k}"]'
                else:
                    e = f"{expr}[{k}]"
                out.append((e, c, d, k))
                self.paths(c, e, out)
        return out

    def program(self, d: Node, second: bool) -> str:
        entries = self.paths(d, "p", [])
        floats = [(e, c, par, k) for e, c, par, k in entries if isinstance(c, Leaf) and c.diff]
        scalars = [x for x in floats if x[1].scalar]
        arrays = [x for x in floats if x[1].kind == "arr" and np.ndim(x[1].value) >= 1]
        others = [x for x in entries if isinstance(x[1], Leaf) and not x[1].diff]
        nodes = [("p", d, None, None)] + [x for x in entries if isinstance(x[1], Node)]
        seqs = [x for x in nodes if x[1].kind in ("tuple", "list", "nt")]
        lists = [x for x in nodes if x[1].kind == "list"]
        homs = [x for x in lists if x[1].homogeneous]
        dicts = [x for x in nodes if x[1].kind in ("dict", "odict", "ddict")]
        mutable_slots = [x for x in floats if x[2] is not None and
                         x[2].kind in ("list", "dict", "odict", "ddict", "dc", "box")]
        body: list[str] = []
        n = self.draw(st.integers(2, 7))
        # the first statement reads a float leaf: the loss depends on the argument
        body.append(self.read(self.pick(floats)[0]))
        appended: set[int] = set()  # lists that grew: their homogeneous kind still holds
        for _ in range(n):
            form = self.pick(["read", "read", "tot", "loop", "items", "zip", "sum", "stack",
                              "branch", "branch_static", "set", "aug", "append", "attr",
                              "slice"])
            if form == "read":
                body.append(self.read(self.pick(floats)[0]))
            elif form == "tot":
                body.append(f"acc = acc + _tot({self.pick(nodes)[0]}) * {self.pick(CONSTS)}")
            elif form == "loop" and seqs:
                e = self.pick(seqs)[0]
                body.append(f"for v in {e}:\n    acc = acc * 0.75 + _tot(v)")
            elif form == "items" and dicts:
                e = self.pick(dicts)[0]
                body.append(f"for key, v in {e}.items():\n"
                            f"    acc = acc + len(str(key)) * _tot(v)")
            elif form == "zip" and seqs:
                e1, e2 = self.pick(seqs)[0], self.pick(seqs)[0]
                body.append(f"for u, v in zip({e1}, {e2}[1:]):\n"
                            f"    acc = acc + _tot(u) * _tot(v)")
            elif form == "sum" and homs:
                e, h = self.pick(homs)[:2]
                if h.homogeneous == "scalars":
                    body.append(f"acc = acc + sum({e}) * {self.pick(CONSTS)}")
                else:
                    body.append(f"acc = acc + np.sum(sum({e}) ** 2)")
            elif form == "stack" and homs:
                e, h = self.pick(homs)[:2]
                if h.homogeneous == "scalars":
                    body.append(f"acc = acc + np.sum(np.array({e}) ** 2 * "
                                f"{self.pick(CONSTS)})")
                else:
                    body.append(f"acc = acc + np.sum(np.cos(np.stack({e})) * "
                                f"{self.pick(CONSTS)})")
            elif form == "branch":
                e, leaf = self.pick(floats)[:2]
                # on the leaf as the caller passed it, with a margin: finite differences
                # stay on one side (a leaf written before the test may cross: then the
                # references disagree between step sizes and the program is discarded)
                v = float(np.sum(leaf.value))
                thr = round(v + (0.3 if self.coin() else -0.3), 2)
                test = f"np.sum({e}) > {thr}" if leaf.kind == "arr" else f"{e} > {thr}"
                body.append(f"if {test}:\n    acc = acc + {self.read_expr(e)} * 2.0\n"
                            f"else:\n    acc = acc - {self.read_expr(e)}")
            elif form == "branch_static" and others:
                e, leaf = self.pick(others)[:2]
                test = {"int": f"{e} > 1", "str": f'{e} == "sq"', "bool": f"{e}",
                        "iarr": f"np.sum({e}) > 2"}[leaf.kind]
                body.append(f"if {test}:\n    acc = acc * acc\nelse:\n    acc = acc * 0.5")
                if leaf.kind == "int":
                    body.append(f"acc = acc + {e} * {self.read_expr(self.pick(floats)[0])}")
                if leaf.kind == "iarr":
                    body.append(f"acc = acc + np.sum({e}) * "
                                f"{self.read_expr(self.pick(scalars)[0]) if scalars else 1.0}")
            elif form == "set" and mutable_slots:
                e = self.pick(mutable_slots)[0]
                body.append(f"{e} = {e} * 2.0 + 0.5")
            elif form == "aug" and mutable_slots and scalars:
                e = self.pick(mutable_slots)[0]
                body.append(f"{e} += {self.pick(scalars)[0]}")
            elif form == "append" and lists:
                e, h = self.pick(lists)[:2]
                if h.homogeneous:
                    body.append(f"{e}.append({e}[0] * 1.5)")
                else:
                    body.append(f"{e}.append({self.read_expr(self.pick(floats)[0])} * 1.5)")
                appended.add(id(h))
            elif form == "attr":
                cands = [x for x in mutable_slots if x[2].kind in ("dc", "box")]
                if cands:
                    e = self.pick(cands)[0]
                    s = self.pick(scalars)[0] if scalars else "0.5"
                    body.append(f"{e} = {e} * 3.0 - {s}")
            elif form == "slice" and arrays:
                e, leaf = self.pick(arrays)[:2]
                s = self.pick(scalars)[0] if scalars and self.coin() else self.pick(CONSTS)
                if self.coin():
                    body.append(f"{e}[:1] = {e}[-1:] * 0.5 + {s}")
                else:
                    body.append(f"{e}[-1:] += {s}")
            elif form == "slice" and scalars:  # a 0-d array written in place
                zd = [x for x in floats if x[1].kind == "arr" and np.ndim(x[1].value) == 0]
                if zd:
                    e = self.pick(zd)[0]
                    body.append(f"{e}[...] = {e} * 2.0 + 0.25")
            else:
                continue
            self.kinds.add(form)
        body.append(self.read(self.pick(floats)[0]))
        ret = "acc + np.sum(np.sin(x) * acc)" if second else "acc"
        sig = "p, x" if second else "p"
        return (PRELUDE + f"\n\ndef f({sig}):\n    acc = 0.0\n"
                + textwrap.indent("\n".join(body), "    ") + f"\n    return {ret}\n")

    def read_expr(self, e: str) -> str:
        return f"np.sum({e})"

    def read(self, e: str) -> str:
        form = self.pick([f"np.sum(np.sin({e}) * {self.pick(CONSTS)})",
                          f"np.sum({e} * {e})", f"np.sum(np.exp({e} * 0.5))",
                          f"np.sum(np.tanh({e})) * {self.pick(CONSTS)}",
                          f"np.sum({e}) * acc"])
        return f"acc = acc + {form}"


PRELUDE = '''import dataclasses

import numpy as np


def _tot(t):
    """A smooth function of every float leaf in a container (isinstance dispatch)."""
    if isinstance(t, (list, tuple)):
        s = 0.0
        for u in t:
            s = s + _tot(u)
        return s
    if isinstance(t, dict):
        s = 0.0
        for u in t.values():
            s = s + _tot(u)
        return s
    if dataclasses.is_dataclass(t):
        return _tot([getattr(t, fl.name) for fl in dataclasses.fields(t)])
    if isinstance(t, (float, np.floating)) or (isinstance(t, np.ndarray)
                                               and t.dtype.kind == "f"):
        return np.sum(np.sin(t) * t)
    return 0.0
'''


@dataclasses.dataclass
class Program:
    source: str
    desc: Node
    second: np.ndarray | None
    desc2_values: dict[int, Any]  # other leaf values (the cached path's second call)
    kinds: set


@st.composite
def pytree_programs(draw):
    g = Gen(draw)
    d = g.argument()
    second = g.array((2,)) if g.coin(1) else None
    src = g.program(d, second is not None)
    other = {}
    for leaf in leaves_of(d):
        if leaf.diff:
            other[leaf.idx] = np.asarray(leaf.value) * 0.9 + 0.05
            if np.ndim(leaf.value) == 0 and leaf.kind != "arr":
                other[leaf.idx] = float(other[leaf.idx])
            if leaf.kind == "f32":
                other[leaf.idx] = np.float32(other[leaf.idx])
    return Program(src, d, second, other, g.kinds)


# ----------------------------------------------------------------------------------------
# running and checking
# ----------------------------------------------------------------------------------------

_counter = itertools.count()


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("framead_pytree_fuzz")


def load(source: str, directory) -> Any:
    digest = hashlib.sha1(source.encode()).hexdigest()[:16]
    path = os.path.join(str(directory), f"framead_ptfuzz_{digest}.py")
    if not os.path.exists(path):
        with open(path, "w") as fh:
            fh.write(source)
    spec = importlib.util.spec_from_file_location(f"framead_ptfuzz_{digest}_{next(_counter)}",
                                                  path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.f


class Discard(Exception):
    pass


def _as64(leaf: Leaf, v: Any) -> Any:
    """A leaf value for the float64 reference: float32 scalars at their exact value."""
    if leaf.kind == "f32":
        return np.float64(np.float32(v))
    return v


def fd_gradient(f, prog: Program, h: float) -> tuple[dict[int, Any], dict[int, Any]]:
    """Central differences (float64) for every float leaf element of the argument, and of
    the second argument; each evaluation on a fresh build of the description."""
    d = prog.desc
    base = {leaf.idx: _as64(leaf, leaf.value) for leaf in leaves_of(d) if leaf.diff}

    def call(values, x):
        args = (build(d, values),) + ((x,) if prog.second is not None else ())
        return float(f(*args))

    x0 = prog.second
    out: dict[int, Any] = {}
    for leaf in leaves_of(d):
        if not leaf.diff:
            continue
        v0 = np.asarray(base[leaf.idx], dtype=np.float64)
        g = np.zeros(v0.shape)
        for j in range(v0.size):
            vals = []
            for s in (h, -h):
                v = v0.copy()
                v.reshape(-1)[j] += s
                vv = dict(base)
                vv[leaf.idx] = v if leaf.kind == "arr" else (
                    float(v) if leaf.kind == "pyf" else np.float64(v))
                vals.append(call(vv, None if x0 is None else x0.copy()))
            g.reshape(-1)[j] = (vals[0] - vals[1]) / (2 * h)
        out[leaf.idx] = g
    gx = {}
    if x0 is not None:
        g = np.zeros(x0.shape)
        for j in range(x0.size):
            vals = []
            for s in (h, -h):
                x = x0.copy()
                x[j] += s
                vals.append(call(dict(base), x))
            g[j] = (vals[0] - vals[1]) / (2 * h)
        gx[0] = g
    return out, gx


def _close(a, b, rtol, atol) -> bool:
    return bool(np.all(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))
                       <= atol + rtol * np.abs(np.asarray(b, np.float64))))


def check_program(prog: Program, directory) -> None:
    f = load(prog.source, directory)
    d = prog.desc
    has32 = any(leaf.kind == "f32" for leaf in leaves_of(d))
    rtol, atol = (2e-4, 2e-4) if has32 else (1e-6, 1e-7)

    # the native value (on a fresh build: the program mutates its argument)
    native_args = (build(d),) + ((prog.second.copy(),) if prog.second is not None else ())
    try:
        with np.errstate(all="raise"):
            native = f(*native_args)
    except (FloatingPointError, OverflowError):
        raise Discard() from None
    if not np.isfinite(native) or abs(float(native)) > 1e6:
        raise Discard()

    # references: two step sizes must agree (else a branch is near a leaf that moved)
    ref, refx = fd_gradient(f, prog, 1e-5)
    ref2, refx2 = fd_gradient(f, prog, 1e-4)
    for k in ref:
        if not _close(ref[k], ref2[k], 1e-4, 1e-5):
            raise Discard()
    for k in refx:
        if not _close(refx[k], refx2[k], 1e-4, 1e-5):
            raise Discard()

    # framead, on the caller's argument
    arg = build(d)
    args = (arg,) + ((prog.second.copy(),) if prog.second is not None else ())
    before = [copy.deepcopy(a) for a in args]
    snap = [snapshot(a) for a in args]
    argnums = (0, 1) if prog.second is not None else 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", framead.GradientWarning)
        value, g = framead.value_and_grad(f, argnums)(*args)
    if any(issubclass(w.category, framead.GradientWarning) for w in caught):
        assert all(np.all(r == 0) for r in ref.values()), "a GradientWarning, but the " \
            "gradient is not zero"
    assert value == native or (np.isnan(value) and np.isnan(native)), (value, native)
    gp, gx = (g if prog.second is not None else (g, None))
    if prog.second is not None:
        assert type(g) is tuple and len(g) == 2
        assert type(gx) is np.ndarray and gx.shape == prog.second.shape
        assert _close(gx, refx[0], rtol, atol), f"second argument: {gx} vs {refx[0]}"
    check_structure(gp, d)
    got = leaf_grads(gp, d, {})
    for leaf in leaves_of(d):
        if leaf.diff:
            assert _close(got[leaf.idx], ref[leaf.idx], rtol, atol), (
                f"leaf {leaf.idx} ({leaf.kind}): framead {got[leaf.idx]!r}, finite "
                f"differences {ref[leaf.idx]!r}")
    # the caller's objects are untouched
    assert [snapshot(a) for a in args] == snap, "the caller's argument changed"
    for a, b in zip(args, before, strict=True):
        assert _deep_equal(a, b), "the caller's argument changed (values)"

    # forward mode: a tangent tree (the argument's structure; non-float leaves as they are,
    # not differentiated) against the finite-difference gradient
    rng = np.random.default_rng(len(prog.source))
    tans = {leaf.idx: rng.standard_normal(np.shape(leaf.value)) for leaf in leaves_of(d)
            if leaf.diff}
    tan_values = {k: (np.float32(v) if leaf.kind == "f32" else float(v))
                  if leaf.kind != "arr" else v for leaf in leaves_of(d) if leaf.diff
                  for k, v in [(leaf.idx, tans[leaf.idx])]}
    fargs = (build(d),) + ((prog.second.copy(),) if prog.second is not None else ())
    tx = rng.standard_normal(2) if prog.second is not None else None
    tangents = (build(d, tan_values),) + ((tx,) if tx is not None else ())
    out, tout = framead.jvp(f, fargs, tangents)
    assert out == native or (np.isnan(out) and np.isnan(native))
    want = sum(float(np.sum(ref[k] * tans[k])) for k in tans)
    if tx is not None:
        want += float(np.sum(refx[0] * tx))
    scale = sum(float(np.sum(np.abs(ref[k] * tans[k]))) for k in tans) + 1.0
    assert abs(float(tout) - want) <= 10 * (atol + rtol) * scale, (
        f"jvp: framead {float(tout)!r}, finite differences {want!r}")

    # the cached path: same values, then other values, each against the uncached gradient
    gc = framead.grad(f, argnums, cache=True)
    for vals in (None, prog.desc2_values, None):
        a2 = (build(d, vals),) + ((prog.second * 0.5 + 0.1,) if prog.second is not None
                                  else ())
        snap2 = [snapshot(a) for a in a2]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", framead.GradientWarning)
            want = framead.grad(f, argnums)(*a2)
            have = gc(*a2)
        assert [snapshot(a) for a in a2] == snap2, "the caller's argument changed (cache)"
        if prog.second is not None:
            assert _close(have[1], want[1], 1e-9, 1e-12)
            have, want = have[0], want[0]
        check_structure(have, d, "cached")
        h_leaves, w_leaves = leaf_grads(have, d, {}), leaf_grads(want, d, {})
        for leaf in leaves_of(d):
            if leaf.diff:
                assert _close(h_leaves[leaf.idx], w_leaves[leaf.idx], 1e-9, 1e-12), (
                    f"cached leaf {leaf.idx}: {h_leaves[leaf.idx]!r} vs uncached "
                    f"{w_leaves[leaf.idx]!r}")
    STATS["cache_hits"] += gc.stats["hits"]


def _deep_equal(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, dict):
        return list(a) == list(b) and all(_deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_deep_equal(x, y) for x, y in zip(a, b, strict=True))
    if dataclasses.is_dataclass(a):
        return all(_deep_equal(getattr(a, fl.name), getattr(b, fl.name))
                   for fl in dataclasses.fields(a))
    if isinstance(a, Box):
        return _deep_equal(a.a, b.a) and _deep_equal(a.b, b.b)
    return a == b


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    print(f"\nframead pytree fuzzer: {STATS['generated']} programs generated, "
          f"{STATS['checked']} checked, {STATS['discarded']} discarded, "
          f"{STATS['cache_hits']} cache hits; forms {sorted(FORMS)}")


@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
@given(prog=pytree_programs())
def test_pytree_fuzz(fuzz_dir, prog):
    STATS["generated"] += 1
    note(prog.source)
    note(f"argument: {build(prog.desc)!r}\nsecond: {prog.second!r}")
    try:
        check_program(prog, fuzz_dir)
    except Discard:
        STATS["discarded"] += 1
        assume(False)
    STATS["checked"] += 1
    FORMS.update(prog.kinds)


def _fixed_program(body: str, desc: Node) -> Program:
    for i, leaf in enumerate(leaves_of(desc)):
        leaf.idx = i
    src = PRELUDE + "\n\ndef f(p):\n    acc = 0.0\n" + textwrap.indent(body, "    ") + \
        "\n    return acc\n"
    other = {leaf.idx: np.asarray(leaf.value) * 0.9 + 0.05 for leaf in leaves_of(desc)
             if leaf.diff and leaf.kind == "arr"}
    return Program(src, desc, None, other, set())


def test_fuzz_harness_catches_wrong_gradients_and_written_arguments(tmp_path, monkeypatch):
    """The checks of the fuzzer can fail: a gradient off by 0.1% and a caller's array
    written through are both reported."""
    desc = Node("dict", [("w", Leaf("arr", np.array([0.3, -0.8]))),
                         ("n", Leaf("int", 2)),
                         ("t", Node("tuple", [(0, Leaf("pyf", 0.65))]))])
    body = 'p["w"][:1] = p["w"][-1:] * 0.5 + p["t"][0]\nacc = acc + np.sum(np.sin(p["w"]))'
    prog = _fixed_program(body, desc)
    check_program(prog, tmp_path)  # right as it is

    import framead.inputs as inputs

    right = inputs.grad_like
    monkeypatch.setattr(inputs, "grad_like", lambda g, x: right(g * 1.001, x))
    with pytest.raises(AssertionError, match="finite differences"):
        check_program(prog, tmp_path)
    monkeypatch.setattr(inputs, "grad_like", right)

    import framead.tracing as api

    monkeypatch.setattr(api, "_copy_arguments",
                        lambda args, kwargs, extra=(): (list(args), dict(kwargs), {}))
    with pytest.raises(AssertionError, match="caller's argument changed"):
        check_program(prog, tmp_path)


def test_fuzz_harness_catches_a_wrong_structure(tmp_path, monkeypatch):
    desc = Node("odict", [("b", Leaf("f32", 0.3)), ("a", Leaf("pyf", 0.8))])
    prog = _fixed_program('acc = acc + p["a"] * p["b"]', desc)
    check_program(prog, tmp_path)
    import framead.inputs as inputs

    monkeypatch.setattr(inputs, "grad_like", lambda g, x: float(g))  # np.float32 -> float
    with pytest.raises(AssertionError, match="np.float32"):
        check_program(prog, tmp_path)


# ========================================================================================
# targeted tests
# ========================================================================================

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
jax.config.update("jax_enable_x64", True)


def assert_tree_close(ours: Any, ref: Any, where: str = "", rtol: float = 1e-10,
                      atol: float = 1e-12) -> None:
    """``ours`` (framead) has the structure of ``ref`` (JAX) and its values. JAX orders a
    dict's keys when it rebuilds it: dicts are matched by key (their order is checked
    against the argument separately)."""
    if isinstance(ref, dict):
        assert isinstance(ours, dict) and set(ours) == set(ref), f"{where}: {ours!r} vs {ref!r}"
        for k in ref:
            assert_tree_close(ours[k], ref[k], f"{where}[{k!r}]", rtol, atol)
    elif isinstance(ref, list | tuple):
        assert type(ours) is type(ref) and len(ours) == len(ref), f"{where}: {ours!r} vs {ref!r}"
        for k, (a, b) in enumerate(zip(ours, ref, strict=True)):
            assert_tree_close(a, b, f"{where}[{k}]", rtol, atol)
    elif ref is None:
        assert ours is None, f"{where}: {ours!r}, expected None"
    else:
        a, b = np.asarray(ours), np.asarray(ref)
        assert a.shape == b.shape, f"{where}: shape {a.shape} vs {b.shape}"
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=where)


def jtree(x: Any) -> Any:
    """A framead argument as JAX input (arrays to jnp; containers kept)."""
    return jax.tree_util.tree_map(lambda v: jnp.asarray(v) if isinstance(v, np.ndarray)
                                  else v, x)


def fd(f, x, h=1e-6):
    """Central differences of a scalar ``f`` at ``x`` (a float or float array)."""
    x = np.asarray(x, dtype=np.float64)
    g = np.zeros(x.shape)
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = h
        e = e.reshape(x.shape)
        g.reshape(-1)[j] = (f(x + e) - f(x - e)) / (2 * h)
    return g


PARAMS = {"w": np.array([[0.3, -0.5, 0.8], [1.1, 0.2, -0.4]]), "b": np.array([0.1, -0.2]),
          "layers": [{"s": 0.7}, {"s": np.float64(-0.3)}], "t": (1.2, np.array(0.5))}


def model(p, x):
    h = np.tanh(p["w"] @ x + p["b"])
    for layer in p["layers"]:
        h = h * layer["s"] + np.sin(h)
    return {"out": h * p["t"][0], "aux": (np.sum(h) * p["t"][1], p["t"][0] ** 2)}


def jmodel(p, x):
    h = jnp.tanh(p["w"] @ x + p["b"])
    for layer in p["layers"]:
        h = h * layer["s"] + jnp.sin(h)
    return {"out": h * p["t"][0], "aux": (jnp.sum(h) * p["t"][1], p["t"][0] ** 2)}


def loss(p, x):
    o = model(p, x)
    return np.sum(o["out"] ** 2) + o["aux"][0] * o["aux"][1]


def jloss(p, x):
    o = jmodel(p, x)
    return jnp.sum(o["out"] ** 2) + o["aux"][0] * o["aux"][1]


X = np.array([0.4, -1.0, 0.6])


@pytest.mark.parametrize("transform", ["grad", "value_and_grad", "grad_cache"])
def test_grad_of_nested_params_matches_jax(transform):
    p = copy.deepcopy(PARAMS)
    snap = snapshot(p)
    ref = jax.grad(jloss, argnums=(0, 1))(jtree(p), jnp.asarray(X))
    if transform == "grad":
        g = framead.grad(loss, argnums=(0, 1))(p, X)
    elif transform == "value_and_grad":
        v, g = framead.value_and_grad(loss, argnums=(0, 1))(p, X)
        assert v == loss(copy.deepcopy(PARAMS), X)
    else:
        gc = framead.grad(loss, argnums=(0, 1), cache=True)
        gc(p, X)
        g = gc(p, X)
        assert gc.stats["hits"] == 1
    assert type(g) is tuple
    assert_tree_close(g, ref)
    assert list(g[0]) == list(PARAMS) and type(g[0]["t"][0]) is float
    assert type(g[0]["layers"][1]["s"]) is np.float64
    assert snapshot(p) == snap


def test_jacobians_of_pytree_to_pytree_match_jax():
    p = copy.deepcopy(PARAMS)
    for ours, theirs in ((framead.jacfwd, jax.jacfwd), (framead.jacrev, jax.jacrev)):
        for argnums in (0, (0, 1), 1):
            j = ours(model, argnums)(p, X)
            ref = theirs(jmodel, argnums)(jtree(p), jnp.asarray(X))
            assert_tree_close(j, ref, f"{ours.__name__} argnums={argnums}")
    # the argument's key order is kept in each output leaf's place
    assert list(framead.jacrev(model)(p, X)["out"]) == list(PARAMS)


def test_vjp_and_jvp_with_pytree_outputs_match_jax():
    p = copy.deepcopy(PARAMS)
    out, f_vjp = framead.vjp(model, p, X)
    jout, j_vjp = jax.vjp(jmodel, jtree(p), jnp.asarray(X))
    assert_tree_close(out, jout)
    ct = {"aux": (0.7, -1.3), "out": np.array([0.5, -2.0])}  # keys in another order
    assert_tree_close(f_vjp(ct), j_vjp(jtree(ct)))
    # None: a zero cotangent for a whole subtree
    zero_aux = {"out": np.array([0.5, -2.0]), "aux": (0.0, 0.0)}
    assert_tree_close(f_vjp({"out": np.array([0.5, -2.0]), "aux": None}),
                      j_vjp(jtree(zero_aux)))
    tp = jax.tree_util.tree_map(lambda v: np.ones_like(v) * 0.3 if isinstance(v, np.ndarray)
                                else 0.3 * type(v)(1), p)
    tx = np.array([1.0, 0.5, -0.2])
    o, t = framead.jvp(model, (p, X), (tp, tx))
    jo, jt = jax.jvp(jmodel, (jtree(p), jnp.asarray(X)), (jtree(tp), jnp.asarray(tx)))
    assert_tree_close(o, jo)
    assert_tree_close(t, jt)
    # a None tangent: that argument not differentiated
    o2, t2 = framead.jvp(model, (p, X), (None, tx))
    _, jt2 = jax.jvp(lambda x: jmodel(jtree(p), x), (jnp.asarray(X),), (jnp.asarray(tx),))
    assert_tree_close(t2, jt2)


def test_hessian_of_a_function_of_a_dict_matches_jax():
    def f(d):
        return d["a"] ** 2 * np.sum(d["b"] ** 3) + np.sin(d["a"]) * d["b"][0]

    def jf(d):
        return d["a"] ** 2 * jnp.sum(d["b"] ** 3) + jnp.sin(d["a"]) * d["b"][0]

    d = {"a": 0.7, "b": np.array([0.5, -1.0, 1.5])}
    ref = jax.hessian(jf)(jtree(d))
    assert_tree_close(framead.hessian(f)(d), ref)
    assert_tree_close(framead.jacfwd(framead.jacrev(f))(d), ref)
    assert_tree_close(framead.jacrev(framead.jacfwd(f))(d), ref)
    assert_tree_close(framead.jacfwd(framead.jacfwd(f))(d), ref)


def test_hessian_argnums_tuple_with_a_container_and_an_array():
    def f(d, x):
        return d["a"] ** 2 * np.sum(x ** 3) + d["b"][0] * x[0]

    def jf(d, x):
        return d["a"] ** 2 * jnp.sum(x ** 3) + d["b"][0] * x[0]

    x = np.array([1.0, 2.0])
    h = framead.hessian(f, argnums=(0, 1))({"a": 1.5, "b": [0.5, 2]}, x)
    ref = jax.hessian(jf, argnums=(0, 1))({"a": 1.5, "b": [0.5]}, jnp.asarray(x))
    # the int leaf is not differentiated: None in its place (JAX has no int leaf there)
    assert h[0]["b"][1] is None and h[0]["a"][0]["b"][1] is None
    assert h[1][0]["b"][1] is None and h[0]["b"][0][0]["b"][1] is None

    def drop_int(t):
        if isinstance(t, dict):
            return {k: drop_int(v) for k, v in t.items()}
        if isinstance(t, list) and len(t) == 2 and t[1] is None:
            return [drop_int(t[0])]
        if isinstance(t, tuple):
            return tuple(drop_int(v) for v in t)
        return t

    assert_tree_close(drop_int(h), ref)


@pytest.mark.parametrize("which", ["grad", "value_and_grad", "vjp", "jvp", "jacfwd", "jacrev",
                                   "grad_cache"])
def test_has_aux_with_pytrees_matches_jax(which):
    def f(p):
        y = p["a"] * np.sin(p["b"])
        return np.sum(y ** 2), {"y": y, "n": 3, "tag": "x"}

    def jf(p):  # (JAX's vmap takes no strings in aux)
        y = p["a"] * jnp.sin(p["b"])
        return jnp.sum(y ** 2), {"y": y}

    def fv(p):  # a vector output
        o, aux = f(p)
        return np.array([o, o * p["a"]]), aux

    def jfv(p):
        o, aux = jf(p)
        return jnp.stack([o, o * p["a"]]), aux

    p = {"b": np.array([0.3, -0.6]), "a": 1.4}
    jp = jtree(p)

    def check_aux(aux, jaux):
        assert aux["n"] == 3 and aux["tag"] == "x" and list(aux) == ["y", "n", "tag"]
        np.testing.assert_allclose(aux["y"], jaux["y"], rtol=1e-12)

    if which in ("grad", "grad_cache"):
        gf = framead.grad(f, has_aux=True, cache=which == "grad_cache")
        for _ in range(2):
            g, aux = gf(p)
            jg, jaux = jax.grad(jf, has_aux=True)(jp)
            assert_tree_close(g, jg)
            check_aux(aux, jaux)
            assert list(g) == ["b", "a"]
    elif which == "value_and_grad":
        (v, aux), g = framead.value_and_grad(f, has_aux=True)(p)
        (jv, jaux), jg = jax.value_and_grad(jf, has_aux=True)(jp)
        assert v == pytest.approx(float(jv), rel=1e-12)
        assert_tree_close(g, jg)
        check_aux(aux, jaux)
    elif which == "vjp":
        out, f_vjp, aux = framead.vjp(fv, p, has_aux=True)
        jout, j_vjp, jaux = jax.vjp(jfv, jp, has_aux=True)
        assert_tree_close(out, jout)
        ct = np.array([0.5, -1.5])
        assert_tree_close(f_vjp(ct), j_vjp(jnp.asarray(ct)))
        check_aux(aux, jaux)
    elif which == "jvp":
        t = {"b": np.array([1.0, 0.5]), "a": -0.5}
        out, tout, aux = framead.jvp(fv, (p,), (t,), has_aux=True)
        jout, jtout, jaux = jax.jvp(jfv, (jp,), (jtree(t),), has_aux=True)
        assert_tree_close(out, jout)
        assert_tree_close(tout, jtout)
        check_aux(aux, jaux)
    else:
        ours = framead.jacfwd if which == "jacfwd" else framead.jacrev
        theirs = jax.jacfwd if which == "jacfwd" else jax.jacrev
        j, aux = ours(fv, has_aux=True)(p)
        jj, jaux = theirs(jfv, has_aux=True)(jp)
        assert_tree_close(j, jj)
        check_aux(aux, jaux)


def test_argnums_tuples_mixing_containers_arrays_and_scalars():
    def f(a, p, x, n):
        return a * np.sum(p[0] * x) + p[1]["k"] ** 2 * n

    def jf(a, p, x, n):
        return a * jnp.sum(p[0] * x) + p[1]["k"] ** 2 * n

    args = (0.5, (np.array([1.0, -2.0]), {"k": 1.5}), np.array([0.3, 0.4]), 3)
    jargs = (0.5, (jnp.array([1.0, -2.0]), {"k": 1.5}), jnp.array([0.3, 0.4]), 3)
    for nums in ((0, 1, 2), (2, 1), (1,), (-3, 0)):
        g = framead.grad(f, argnums=nums)(*args)
        jnums = tuple(i % 4 for i in nums)
        assert_tree_close(g, jax.grad(jf, argnums=jnums)(*jargs), f"argnums={nums}")
    ref = jax.grad(jf, argnums=1)(*jargs)
    assert_tree_close(framead.grad(f, argnums=1)(*args), ref)
    g = framead.grad(f, argnums=(1, 1))(*args)  # an argument twice: its gradient twice
    assert_tree_close(g, (ref, ref))
    assert g[0] is not g[1] and g[0][0] is not g[1][0]


def test_the_same_array_twice_in_a_container_gets_a_gradient_per_leaf():
    a = np.array([0.5, -1.5, 2.0])

    def f(xs):
        return np.sum(xs[0] * xs[1] ** 2) + np.sum(np.sin(xs[2]["again"]))

    def jf(xs):
        return jnp.sum(xs[0] * xs[1] ** 2) + jnp.sum(jnp.sin(xs[2]["again"]))

    args = [a, a, {"again": a}]
    g = framead.grad(f)(args)
    ref = jax.grad(jf)([jnp.asarray(a)] * 2 + [{"again": jnp.asarray(a)}])
    assert_tree_close(g, ref)
    assert g[0] is not g[1]
    assert args[0] is a and args[1] is a and args[2]["again"] is a
    np.testing.assert_array_equal(a, [0.5, -1.5, 2.0])
    # the same through vjp, jacrev, jacfwd and the cached path
    assert_tree_close(framead.vjp(f, args)[1](1.0)[0], ref)
    assert_tree_close(framead.jacrev(f)(args), ref)
    assert_tree_close(framead.jacfwd(f)(args), ref)
    gc = framead.grad(f, cache=True)
    gc(args)
    assert_tree_close(gc(args), ref)


def test_the_same_float_object_twice():
    x = 1.7

    def f(t):
        return t[0] * t[1] ** 3 + t[2]["x"]

    g = framead.grad(f)((x, x, {"x": x}))
    ref = jax.grad(f)((x, x, {"x": x}))
    assert_tree_close(g, ref)
    assert all(type(v) is float for v in (g[0], g[1], g[2]["x"]))


def test_namedtuple_and_dataclass_gradients_keep_their_class():
    @dataclasses.dataclass
    class WithExtra:
        w: np.ndarray
        scale: float = 2.0
        label: str = "layer"
        count: int = dataclasses.field(default=0, init=False)

    inner = WithExtra(np.array([0.5, -1.0]))
    inner.count = 7
    p = NT3(a=FrozenDC2(0.3, np.array([1.0, 2.0])), b=DC2(a=1.5, b=inner),
            c=NT2(np.float32(0.25), 4))

    def f(p):
        return (p.a.a * np.sum(p.a.b) + p.b.a * np.sum(p.b.b.w ** 2) * p.b.b.scale
                + p.c.a * p.c.b + p.b.b.count)

    g = framead.grad(f)(p)
    assert type(g) is NT3 and type(g.a) is FrozenDC2 and type(g.b) is DC2
    assert type(g.b.b) is WithExtra and type(g.c) is NT2
    assert g.b.b.label is None and g.b.b.count is None and g.c.b is None
    assert type(g.c.a) is np.float32 and type(g.a.a) is float
    assert g.a.a == pytest.approx(3.0) and g.b.a == pytest.approx(2.5)
    np.testing.assert_allclose(g.a.b, [0.3, 0.3])
    np.testing.assert_allclose(g.b.b.w, 1.5 * 2 * 2.0 * np.array([0.5, -1.0]))
    assert g.b.b.scale == pytest.approx(1.5 * 1.25)
    assert g.c.a == pytest.approx(4.0)
    assert inner.count == 7 and inner.label == "layer"
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.a.a = 1.0  # a frozen gradient is frozen too


def test_dict_subclasses_keep_class_state_and_order():
    dd = collections.defaultdict(list, {"z": 1.5, "a": np.array([1.0, 2.0])})
    od = collections.OrderedDict([("y", 0.5), ("x", -2.0)])

    def f(d, o):
        d["missing"].append(1.0)  # a new key in the program's own dict
        return d["z"] * np.sum(d["a"]) + o["x"] * o["y"] + len(d["missing"])

    g = framead.grad(f, argnums=(0, 1))(dd, od)
    assert type(g[0]) is collections.defaultdict and g[0].default_factory is list
    assert list(g[0]) == ["z", "a"] and "missing" not in dd
    assert type(g[1]) is collections.OrderedDict and list(g[1]) == ["y", "x"]
    assert g[0]["z"] == pytest.approx(3.0) and g[1]["x"] == pytest.approx(0.5)
    np.testing.assert_allclose(g[0]["a"], [1.5, 1.5])


def test_registered_class():
    class Pair:
        def __init__(self, first, second, tag="t"):
            self.first, self.second, self.tag = first, second, tag

    framead.tree.register(Pair, lambda p: ((p.first, p.second), p.tag),
                          lambda tag, kids: Pair(*kids, tag=tag))

    def f(p):
        return np.sum(p.first ** 2) * p.second["k"]

    p = Pair(np.array([1.0, -2.0]), {"k": 0.5}, tag="mine")
    g = framead.grad(f)(p)
    assert type(g) is Pair and g.tag == "mine" and type(g.second) is dict
    np.testing.assert_allclose(g.first, [1.0, -2.0])
    assert g.second["k"] == pytest.approx(5.0)
    out, f_vjp = framead.vjp(lambda p: Pair(p.first * 2.0, {"k": p.second["k"] ** 2}), p)
    assert type(out) is Pair
    ct = f_vjp(Pair(np.ones(2), {"k": 1.0}))[0]
    np.testing.assert_allclose(ct.first, [2.0, 2.0])
    assert ct.second["k"] == pytest.approx(1.0)
    # the registered class in the fuzzer's module, through jacrev (output structure too)
    j = framead.jacrev(lambda b: Box(b.a * b.b, b.a))(Box(2.0, 3.0))
    assert type(j) is Box and type(j.a) is Box
    assert (float(j.a.a), float(j.a.b), float(j.b.a), float(j.b.b)) == (3.0, 2.0, 1.0, 0.0)


def test_empty_containers_and_none_inside():
    p = {"e": [], "t": (), "d": {}, "n": None, "w": [0.5, {"inner": []}], "x": 2.0}

    def f(p):
        p["e"].append(1.0)  # the program's own fresh list
        return p["x"] ** 2 * p["w"][0] + len(p["e"])

    g = framead.grad(f)(p)
    assert g == {"e": [], "t": (), "d": {}, "n": None, "w": [4.0, {"inner": []}], "x": 2.0}
    assert p["e"] == []  # the caller's empty list was not appended to
    out, f_vjp = framead.vjp(lambda p: {"y": p["x"] * 3.0, "none": None, "empty": []}, p)
    assert f_vjp({"y": 1.0, "none": None, "empty": []})[0]["x"] == pytest.approx(3.0)


def test_container_arguments_that_are_not_differentiated_are_the_programs():
    """A list the program is given and appends to is the caller's, as natively (and as in JAX
    and PyTorch); arrays in any argument are copies, never the caller's."""
    def f(x, log, cfg):
        log.append(x * 1.0)
        cfg["w"][0] = 5.0
        return x * len(log) * cfg["w"][0]

    log, cfg = [], {"w": np.array([1.0])}
    assert framead.grad(f)(2.0, log, cfg) == pytest.approx(5.0)
    assert log == [2.0] and type(log[0]) is float and cfg["w"][0] == 1.0
    gc = framead.grad(f, cache=True)
    for _ in range(2):
        log.clear()
        assert gc(2.0, log, cfg) == pytest.approx(5.0)
    assert cfg["w"][0] == 1.0


def test_cached_gradients_follow_static_leaves_structure_and_key_order():
    def f(p):
        s = p["a"] * p["n"]
        if p["mode"] == "sq":
            s = s * s
        return s + np.sum(p["idx"] * p["b"])

    gc = framead.grad(f, cache=True)
    base = {"a": 2.0, "n": 3, "mode": "sq", "idx": np.array([1, 2]), "b": np.array([1.0, 1.0])}
    variants = [base, {**base, "n": 4}, {**base, "mode": "lin"},
                {**base, "idx": np.array([5, 7])}, base,
                dict(reversed(list(base.items()))), {**base, "a": 3.0}]
    for p in variants:
        want = framead.grad(f)(p)
        got = gc(p)
        assert list(got) == list(p)
        for k in p:
            if want[k] is None:
                assert got[k] is None
            else:
                np.testing.assert_allclose(got[k], want[k], rtol=1e-12)
        a = p["a"]
        n, sq = p["n"], p["mode"] == "sq"
        assert got["a"] == pytest.approx(2 * a * n * n if sq else n)
    assert gc.stats["hits"] >= 2


def test_jit_with_pytree_arguments_and_outputs():
    def f(p):
        return {"y": p["a"] * np.sum(p["b"]), "z": [p["a"] ** 2, p["n"]]}

    j = framead.jit(f)
    for p in ({"a": 1.5, "b": np.array([1.0, 2.0]), "n": 2},
              {"a": -0.5, "b": np.array([3.0, 2.0]), "n": 2},
              {"a": -0.5, "b": np.array([3.0, 2.0]), "n": 5}):
        assert j(p) == f(copy.deepcopy(p))
    assert j.stats["hits"] == 1
    jg = framead.jit(framead.grad(lambda p: p["a"] ** 2 * p["b"][0]))
    for p in ({"a": 1.5, "b": [0.5, 2]}, {"a": 3.0, "b": [1.0, 2]}):
        assert jg(p) == {"a": pytest.approx(2 * p["a"] * p["b"][0]),
                         "b": [pytest.approx(p["a"] ** 2), None]}


def test_nested_grad_of_a_function_of_a_dict():
    def inner(q):
        return q["a"] ** 3 * np.sum(q["b"] ** 2)

    def outer(x):
        g = framead.grad(inner)({"a": x[0], "b": x[1:] * 2.0})
        return g["a"] * np.sum(g["b"])

    x = np.array([0.7, 0.5, -1.2])
    g = framead.grad(outer)(x)
    np.testing.assert_allclose(g, fd(outer, x), rtol=1e-6)

    def jinner(q):
        return q["a"] ** 3 * jnp.sum(q["b"] ** 2)

    def jouter(x):
        g = jax.grad(jinner)({"a": x[0], "b": x[1:] * 2.0})
        return g["a"] * jnp.sum(g["b"])

    np.testing.assert_allclose(g, jax.grad(jouter)(jnp.asarray(x)), rtol=1e-10)


def test_nested_grad_does_not_write_the_outer_programs_containers():
    """Bug: inside another capture, arrays in a non-differentiated container argument were
    not copied, so the inner program's writes reached the outer program (its value changed,
    and its gradient with it, silently)."""
    def inner(x, c):
        c[0][0] = c[0][0] * 3.0
        c[1].append(1.0)
        return np.sum(x * c[0])

    def outer(x):
        c = [x * 2.0, []]
        gx = framead.grad(inner)(x, c)
        return np.sum(gx) + np.sum(c[0] ** 2) + len(c[1])

    x = np.array([1.0, 2.0])
    v, g = framead.value_and_grad(outer)(x)
    assert v == outer(x)
    np.testing.assert_allclose(g, fd(outer, x), rtol=1e-6)

    def inner_kw(x, *, c):
        c["w"][0] = 10.0
        return np.sum(x * c["w"])

    def outer_kw(x):
        c = {"w": x * 2.0}
        return np.sum(framead.grad(inner_kw)(x, c=c)) + np.sum(c["w"])

    v, g = framead.value_and_grad(outer_kw)(x)
    assert v == outer_kw(x)
    np.testing.assert_allclose(g, fd(outer_kw, x), rtol=1e-6)


def test_errors_for_containers_without_floats():
    with pytest.raises(InputTypeError, match=r"argument 0 \(p\) is a dict with no float "
                                             r"leaves \(int, str\)"):
        framead.grad(lambda p: 1.0)({"n": 1, "s": "x"})
    with pytest.raises(InputTypeError, match="no float leaves"):
        framead.grad(lambda p: 1.0)([np.array([1, 2]), True, None, ()])
    with pytest.raises(InputTypeError, match="argument 1"):
        framead.grad(lambda a, p: a, argnums=(0, 1))(1.0, (1, 2))
    with pytest.raises(InputTypeError, match="no float leaves"):
        framead.value_and_grad(lambda p: 1.0, cache=True)([])
    with pytest.raises(InputTypeError, match="no float leaves"):
        framead.jacfwd(lambda p: 1.0)({"k": [1]})


def test_cotangents_and_tangents_of_the_wrong_structure_name_the_problem():
    out, f_vjp = framead.vjp(lambda p: {"y": p["a"] * 2.0, "z": p["a"] * 3.0}, {"a": 1.0})
    # keys matched by name, in any order
    assert f_vjp({"z": 1.0, "y": 0.0})[0]["a"] == pytest.approx(3.0)
    # a wrong key with the right number of leaves is not matched by position
    with pytest.raises(ValueError, match=r"keys \['y', 'z'\].*keys \['z', 'w'\]"):
        f_vjp({"z": 1.0, "w": 0.0})
    with pytest.raises(ValueError, match=r"keys \['y', 'z'\].*a tuple"):
        f_vjp((1.0, 0.0))
    with pytest.raises(ValueError, match=r"keys \['y', 'z'\].*keys \['y'\]"):
        f_vjp({"y": 1.0})
    out, f_vjp = framead.vjp(lambda x: (x * 2.0, {"k": x[:2]}), np.ones(3))
    with pytest.raises(ValueError, match=r'cotangent at \[1\]\["k"\] has shape \(3,\).*'
                                         r"shape \(2,\)"):
        f_vjp((np.ones(3), {"k": np.ones(3)}))
    with pytest.raises(ValueError, match=r"cotangent at \[0\] is a dict"):
        f_vjp(({"a": 1.0}, {"k": np.ones(2)}))
    with pytest.raises(ValueError, match=r'tangent 0 does not match primal 0: expected a dict '
                                         r"with keys \['a', 'b'\]"):
        framead.jvp(lambda p: p["a"], ({"a": 1.0, "b": 2.0},), ({"a": 1.0},))
    with pytest.raises(ValueError, match=r'tangent 0\["b"\]\[1\] has shape \(3,\)'):
        framead.jvp(lambda p: p["a"], ({"a": 1.0, "b": [1.0, np.ones(2)]},),
                    ({"a": 1.0, "b": [0.0, np.ones(3)]},))


def test_check_grads_with_containers():
    framead.check_grads(loss, copy.deepcopy(PARAMS), X, order=2, rtol=1e-4, atol=1e-6)
    framead.check_grads(model, copy.deepcopy(PARAMS), X, rtol=1e-4, atol=1e-6)
    p = DC2(0.5, DC2(1, np.array([1.0, 2.0])))  # an int leaf: not checked
    framead.check_grads(lambda p: {"s": p.a * np.sum(p.b.b ** 2), "n": p.b.a}, p, order=2)
    assert p.b.a == 1 and p.a == 0.5


def _cube(x):
    return x * x * x


def test_check_grads_names_the_leaf_path_of_a_wrong_rule():
    rules.register(_cube, vjp=(lambda g, ans, x: g * 2.0 * x * x,),  # wrong: 3 x^2
                   jvp=lambda t, ans, x: 3.0 * x * x * t[0], elementwise=True)
    try:
        p = {"first": np.array([0.5, 1.0]), "layers": [{"w": 0.2}, {"w": np.array([0.5, 1.5])}]}

        def f(p):
            return np.sum(p["first"]) * 0.5 + np.sum(_cube(p["layers"][1]["w"]))

        framead.check_grads(f, p, modes=("fwd",))  # the JVP is right
        with pytest.raises(framead.GradientCheckError) as ei:
            framead.check_grads(f, p, modes=("rev",))
        e = ei.value
        assert (e.mode, e.argnum, e.path, e.index) == ("rev", 0, '["layers"][1]["w"]', (0,))
        assert 'argument 0["layers"][1]["w"], index (0,)' in str(e)
        assert e.framead == pytest.approx(e.numeric * 2 / 3)
    finally:
        rules.unregister(_cube)
    rules.register(_cube, vjp=(lambda g, ans, x: g * 3.0 * x * x,),
                   jvp=lambda t, ans, x: 3.0 * x * x * t[0] * (1.0 + (x > 1.0)),
                   elementwise=True)
    try:
        with pytest.raises(framead.GradientCheckError) as ei:
            framead.check_grads(lambda p: _cube(p.b), DC2(a=3, b=np.array([0.5, 1.5])),
                                modes=("fwd",))
        assert ei.value.path == ".b" and ei.value.index == (1,)
        assert "argument 0.b, index (1,)" in str(ei.value)
    finally:
        rules.unregister(_cube)


def test_gradients_of_distinct_leaves_are_distinct_arrays():
    """Bug: one gradient array object was returned for two leaves (x and y of sum(x + y), an
    argument named twice in argnums, the identity's cotangent): an in-place update of one
    leaf's gradient (an optimizer step, clipping) changed the other, silently."""
    cases = [
        framead.grad(lambda x, y: np.sum(x + y), argnums=(0, 1))(np.ones(2), np.ones(2)),
        framead.grad(lambda p: np.sum(p[0] + p[1]))([np.ones(2), np.ones(2)]),
        framead.grad(lambda x: np.sum(x), argnums=(0, 0))(np.ones(2)),
        framead.vjp(lambda p: p[0] + p[1], [np.ones(2), np.ones(2)])[1](np.ones(2))[0],
    ]
    gc = framead.grad(lambda p: np.sum(p["a"] + p["b"]), cache=True)
    for _ in range(2):
        g = gc({"a": np.ones(2), "b": np.ones(2)})
        cases.append((g["a"], g["b"]))
    for g in cases:
        first = g[0]
        first *= 2.0  # in place (gradients are arrays the caller may write)
        np.testing.assert_array_equal(g[1], [1.0, 1.0])
    ct = np.array([1.0, 2.0])
    g = framead.vjp(lambda p: p["a"], {"a": np.ones(2)})[1](ct)[0]["a"]
    g *= 3.0
    np.testing.assert_array_equal(ct, [1.0, 2.0])


@pytest.mark.parametrize("as_container", [True, False])
def test_cached_trace_is_not_replayed_for_other_aliasing_through_a_static_container(
        as_container):
    """Bug: a cached trace of f(p, [p["w"]]) (a differentiated array also held by a list in
    another argument: the program's write through one is seen through the other) was replayed
    for f(p2, [w]) with p2["w"] an equal copy: the value and the gradient of the aliased
    program came back, silently (the same for a bare array argument)."""
    def f(p, L):
        w = p["w"] if as_container else p
        w[0] = 5.0 * w[1]
        return np.sum(w * L[0])

    def arg(w):
        return {"w": w} if as_container else w

    w = np.array([1.0, 2.0])
    gc = framead.value_and_grad(f, cache=True)
    for p, L in ((arg(w), [w]), (arg(w.copy()), [w]), (arg(w), [w]), (arg(w.copy()), [w])):
        v, g = gc(p, L)
        v_ref, g_ref = framead.value_and_grad(f)(p, L)
        assert v == v_ref
        np.testing.assert_array_equal(g["w"] if as_container else g,
                                      g_ref["w"] if as_container else g_ref)
    assert gc.stats["hits"] == 2  # each aliasing has its own trace
    np.testing.assert_array_equal(w, [1.0, 2.0])


def test_jacobians_keep_int_and_string_output_leaves_in_place():
    """Bug: jacfwd lost the place of an output leaf with no tangent (an int, a string): the
    tangents of the leaves after it shifted (an IndexError, or a broadcast error, or with
    the leaf last a Jacobian assembled from the wrong columns), and a string leaf gave a
    Jacobian of strings."""
    p = {"a": 1.5, "b": np.array([1.0, 2.0])}

    def f(p):
        return (3, p["a"] * 2.0, "tag", {"s": p["b"] * p["a"], "n": None})

    want = ({"a": 0.0, "b": np.zeros(2)}, {"a": 2.0, "b": np.zeros(2)},
            {"a": 0.0, "b": np.zeros(2)},
            {"s": {"a": p["b"], "b": np.eye(2) * 1.5}, "n": None})
    for jac in (framead.jacfwd, framead.jacrev):
        j = jac(f)(p)
        assert_tree_close(j, want, jac.__name__)
        assert all(np.asarray(v).dtype == np.float64 for v in framead.tree.leaves(j))


def _cube_sum(b):
    return b * np.sum(b ** 2)


def _jcube_sum(b):
    return b * jnp.sum(b ** 2)


@pytest.mark.parametrize("case", ["array", "dict", "scalar", "vjp_array", "vjp_dict"])
def test_nested_jvp_and_vjp_with_tangents_that_depend_on_the_outer_inputs(case):
    """Bug: inside another capture, jvp converted the tangents with code the outer capture
    did not record (np.array(copy=True), float()): the output tangent's dependence on the
    outer inputs through the tangent was dropped, silently (grad of x -> jvp(g, (2x,), (x,))
    missed the term d(tangent)/dx)."""
    fns = {
        "array": (lambda x: np.sum(framead.jvp(_cube_sum, (x * 2.0,), (x,))[1]),
                  lambda x: jnp.sum(jax.jvp(_jcube_sum, (x * 2.0,), (x,))[1])),
        "dict": (lambda x: np.sum(framead.jvp(lambda p: _cube_sum(p["b"]), ({"b": x * 2.0},),
                                              ({"b": x},))[1]),
                 lambda x: jnp.sum(jax.jvp(lambda p: _jcube_sum(p["b"]), ({"b": x * 2.0},),
                                           ({"b": x},))[1])),
        "scalar": (lambda x: framead.jvp(lambda a: a ** 3, (x[0] * 2.0,), (x[1],))[1],
                   lambda x: jax.jvp(lambda a: a ** 3, (x[0] * 2.0,), (x[1],))[1]),
        "vjp_array": (lambda x: np.sum(framead.vjp(_cube_sum, x * 2.0)[1](x)[0]),
                      lambda x: jnp.sum(jax.vjp(_jcube_sum, x * 2.0)[1](x)[0])),
        "vjp_dict": (lambda x: np.sum(framead.vjp(lambda p: {"o": _cube_sum(p["b"])},
                                                  {"b": x * 2.0})[1]({"o": x})[0]["b"]),
                     lambda x: jnp.sum(jax.vjp(lambda p: {"o": _jcube_sum(p["b"])},
                                               {"b": x * 2.0})[1]({"o": x})[0]["b"])),
    }
    ours, theirs = fns[case]
    x = np.array([0.3, -0.7])
    g = framead.grad(ours)(x)
    np.testing.assert_allclose(g, jax.grad(theirs)(jnp.asarray(x)), rtol=1e-10)
    np.testing.assert_allclose(g, fd(ours, x), rtol=1e-6)
