"""The IR: linear SSA values and nodes, each tagged with the user's source location.

Depends on nothing else in framead. A `Graph` is what one capture recorded; `Node.rule` is
opaque here (anything with a ``name``), so the IR can be printed and pruned without knowing
derivatives.
"""

from __future__ import annotations

import linecache
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def flatten_tree(tree: Any) -> tuple[list, Any]:
    """Leaves of nested tuples/lists (namedtuples become tuples) and a treedef to rebuild it."""
    leaves: list = []

    def walk(t: Any) -> Any:
        if isinstance(t, tuple | list):
            return (list if type(t) is list else tuple, [walk(x) for x in t])
        leaves.append(t)
        return None

    return leaves, walk(tree)


def unflatten_tree(treedef: Any, leaves: Iterable[Any]) -> Any:
    """Inverse of ``flatten_tree``."""
    it = iter(leaves)

    def build(td: Any) -> Any:
        if td is None:
            return next(it)
        kind, kids = td
        return kind(build(k) for k in kids)

    return build(treedef)


class Meta:
    """Shape/dtype stand-in for a primal a VJP does not read by value."""

    __slots__ = ("shape", "dtype", "kind")

    def __init__(self, shape: tuple[int, ...], dtype: Any, kind: type = np.ndarray):
        self.shape = shape
        self.dtype = dtype
        self.kind = kind

    @classmethod
    def of(cls, x: Any) -> Meta:
        if isinstance(x, np.ndarray | np.generic):
            return cls(x.shape, x.dtype, type(x))
        if isinstance(x, list | tuple):  # as NumPy coerces it (ragged: no shape)
            try:
                a = np.asarray(x)
            except ValueError:
                return cls((), None, type(x))
            return cls(a.shape, a.dtype, type(x))
        return cls((), np.result_type(type(x)) if isinstance(x, float | complex | int) else None,
                   type(x))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def zeros(self) -> Any:
        """Zeros of this shape and dtype (float64 when unknown): an array for array kinds,
        else a NumPy scalar."""
        z = np.zeros(self.shape, dtype=self.dtype if self.dtype is not None else float)
        return z if issubclass(self.kind, np.ndarray) else z[()]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __repr__(self) -> str:
        return f"Meta({self.kind.__name__}, shape={self.shape}, dtype={self.dtype})"


@dataclass(frozen=True)
class SourceLoc:
    """Where a node came from: innermost user frame first in ``stack``."""

    file: str
    line: int
    function: str
    stack: tuple[tuple[str, int, str], ...] = ()

    def source(self) -> str:
        return linecache.getline(self.file, self.line).strip()

    def short(self) -> str:
        return f"{_short_path(self.file)}:{self.line}"

    def __str__(self) -> str:
        return f"{self.file}:{self.line} in {self.function}"


def _short_path(path: str) -> str:
    parts = path.replace("\\", "/").split("/")
    return "/".join(parts[-2:]) if len(parts) > 1 else path


UNKNOWN_LOC = SourceLoc("<unknown>", 0, "<unknown>")


class Value:
    """One SSA value. ``primal`` is the object the reverse pass reads (None when not saved)."""

    __slots__ = ("id", "shape", "dtype", "kind", "primal", "name", "_meta")

    def __init__(self, id: int, shape: tuple[int, ...], dtype: Any, kind: type,
                 primal: Any = None, name: str | None = None):
        self.id = id
        self.shape = shape
        self.dtype = dtype
        self.kind = kind
        self.primal = primal
        self.name = name
        self._meta: Meta | None = None

    def meta(self) -> Meta:
        m = self._meta
        if m is None:
            m = self._meta = Meta(self.shape, self.dtype, self.kind)
        return m

    def type_str(self) -> str:
        if self.kind is float:  # (before the dtype's name: NumPy makes it in Python, ~3 us)
            return "float"
        if self.kind is complex:
            return "complex"
        dt = getattr(self.dtype, "name", str(self.dtype))
        if issubclass(self.kind, np.ndarray):
            return f"{dt}[{','.join(map(str, self.shape))}]"
        return dt

    def __repr__(self) -> str:
        return f"%{self.id}"


class Node:
    """``outputs = rule(*args, **kwargs)``; args hold Values or constants.

    ``saved``: argnums (ints) and/or "ans" whose primals the VJP reads; ``multi``: the output
    is a tuple (outputs align with its entries; None = untracked); ``out_treedef``: for multi
    outputs, the structure and leaves. A slotted class: traces hold hundreds of thousands.

    ``loc`` is a SourceLoc to every reader. The recorder may give a lazy location instead
    (anything else with a ``loc`` attribute: capture's ``Where``, code objects and offsets),
    resolved on first read and then kept.
    """

    __slots__ = ("rule", "args", "kwargs", "outputs", "_loc", "saved", "multi", "out_treedef")

    def __init__(self, rule: Any, args: tuple, kwargs: dict, outputs: tuple,
                 loc: Any = UNKNOWN_LOC, saved: frozenset = frozenset(),
                 multi: bool = False, out_treedef: Any = None):
        self.rule = rule
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs
        self._loc = loc
        self.saved = saved
        self.multi = multi
        self.out_treedef = out_treedef

    @property
    def loc(self) -> SourceLoc:
        loc = self._loc
        if type(loc) is not SourceLoc and not isinstance(loc, SourceLoc):
            # (a lazy location keeps its SourceLoc once built, and stays: its code objects
            # and offsets are what capture's checks read, after any reader of .loc)
            return loc.loc
        return loc

    @loc.setter
    def loc(self, loc: Any) -> None:
        self._loc = loc

    def __repr__(self) -> str:
        return f"Node({format_node(self)})"

    @property
    def name(self) -> str:
        return getattr(self.rule, "name", repr(self.rule))

    def traced_argnums(self) -> list[int]:
        return [i for i, a in enumerate(self.args) if isinstance(a, Value)]

    def value_inputs(self) -> Iterator[Value]:
        """The Values the node reads: its arguments and keyword arguments, inside lists and
        tuples too."""
        return values_in([*self.args, *self.kwargs.values()])


@dataclass
class Graph:
    """A recorded program: inputs, nodes in execution order, outputs."""

    inputs: list[Value] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list)  # Values or constants
    stats: dict = field(default_factory=dict)

    def live_nodes(self, also: Any = ()) -> list[Node]:
        """Dead-code elimination: nodes some output (or a Value in ``also``) depends on, in
        order."""
        needed = {v.id for v in self.outputs if isinstance(v, Value)}
        needed.update(v.id for v in also)
        live: list[Node] = []
        for node in reversed(self.nodes):
            if any(o is not None and o.id in needed for o in node.outputs):
                live.append(node)
                for a in node.value_inputs():
                    needed.add(a.id)
        live.reverse()
        return live

    def dce(self) -> Graph:
        return Graph(list(self.inputs), self.live_nodes(), list(self.outputs), dict(self.stats))

    def __str__(self) -> str:
        return format_graph(self)


def values_in(tree: Any) -> Iterator[Value]:
    """The Values in ``tree`` (a Value, or lists and tuples holding Values among other
    leaves), in order."""
    if isinstance(tree, Value):
        yield tree
        return
    if type(tree) not in (list, tuple):
        return
    stack = list(reversed(tree))
    while stack:
        a = stack.pop()
        if isinstance(a, Value):
            yield a
        elif type(a) in (list, tuple):
            stack.extend(reversed(a))


def primal_tree(tree: Any, saved: bool = True) -> Any:
    """``tree`` with each Value replaced by its primal (``saved``) or its Meta, lists and
    tuples rebuilt."""
    if isinstance(tree, Value):
        return tree.primal if saved else tree.meta()
    if type(tree) in (list, tuple):
        return type(tree)(primal_tree(x, saved) for x in tree)
    return tree


def forward_active(graph: Graph, wrt: list[Value]) -> list[Node]:
    """Nodes that depend on ``wrt`` (one pass; the reverse pass skips those no cotangent
    reaches, so liveness need not be computed first)."""
    active = {v.id for v in wrt}
    out = []
    for node in graph.nodes:
        if any(v.id in active for v in values_in(node.args)):
            live = [o.id for o in node.outputs if o is not None]
            if live:  # a node without traced outputs never gets a cotangent
                out.append(node)
                active.update(live)
    return out


def active_nodes(graph: Graph, wrt: list[Value]) -> list[Node]:
    """Nodes on some path from ``wrt`` to an output (forward-active and live)."""
    active = {v.id for v in wrt}
    fwd = []
    for node in graph.nodes:
        if not active.isdisjoint(v.id for v in values_in(node.args)):
            fwd.append(node)
            active.update(o.id for o in node.outputs if o is not None)
    needed = {v.id for v in graph.outputs if isinstance(v, Value)}
    out = []
    for node in reversed(fwd):
        if any(o is not None and o.id in needed for o in node.outputs):
            out.append(node)
            needed.update(v.id for v in values_in(node.args))
    out.reverse()
    return out


def _fmt_const(c: Any) -> str:
    if isinstance(c, np.ndarray):
        if c.size <= 4:
            return np.array2string(c, separator=",", threshold=4).replace("\n", "")
        return f"<{c.dtype}[{','.join(map(str, c.shape))}]>"
    if isinstance(c, slice):
        parts = ["" if p is None else str(p) for p in (c.start, c.stop, c.step)]
        s = f"{parts[0]}:{parts[1]}"
        return s + (f":{parts[2]}" if c.step is not None else "")
    if isinstance(c, tuple):
        return "(" + ", ".join(_fmt_const(x) for x in c) + ("," if len(c) == 1 else "") + ")"
    if c is Ellipsis:
        return "..."
    r = repr(c)
    return r if len(r) <= 40 else r[:37] + "..."


def format_node(node: Node) -> str:
    outs = ", ".join(f"{o!r}:{o.type_str()}" if o is not None else "_" for o in node.outputs)
    args = [repr(a) if isinstance(a, Value) else _fmt_const(a) for a in node.args]
    args += [f"{k}={a!r}" if isinstance(a, Value) else f"{k}={_fmt_const(a)}"
             for k, a in node.kwargs.items()]
    return f"{outs} = {node.name}({', '.join(args)})"


def format_graph(graph: Graph) -> str:
    """A jaxpr-like listing: one line per node, with its source line."""
    ins = ", ".join(f"{v!r}:{v.type_str()}" for v in graph.inputs)
    lines = [f"graph({ins}):"]
    body = [(format_node(n), n.loc) for n in graph.nodes]
    width = min(max((len(b) for b, _ in body), default=0), 70)
    for text, loc in body:
        src = loc.source()
        lines.append(f"  {text:<{width}}  # {loc.short()}  {src}")
    outs = ", ".join(repr(o) if isinstance(o, Value) else _fmt_const(o) for o in graph.outputs)
    lines.append(f"  return {outs}")
    return "\n".join(lines)
