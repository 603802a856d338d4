"""What a replay (framead/replay.py) needs to know about a recorded graph: the value ids each
node reads, the size of the value list, the nodes the outputs and guards need and those the
reverse pass needs, the forward nodes and guards in recorded order, what each reverse block
reads. Value ids index flag bytes (a compact set), not Python sets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .capture.primitive_rules import CONST_RULE
from .ir import Graph, Node, Value, values_in
from .reverse_source import fused_kind


class Miss(Exception):
    """A cached trace's guard failed: the program would take another path on these inputs."""


class NotReplayable(Exception):
    """The graph holds a node framead cannot re-run (the reason names it and its line)."""


class Statics:
    """The constant arrays of a replay that hold the same bytes as a static argument of the
    call (``match(c)``: that argument's key, or None), read from the env instead of being
    kept: slots ``size``, ``size + 1``... (one per key and layout, ``keys``) that each call
    fills with its own argument (framead/cache.py), so a replay keeps no copy of them.
    Only while the replay is built: it holds each constant it was asked about (``seen``),
    so ids stay theirs."""

    def __init__(self, match: Callable[[np.ndarray], Any], size: int) -> None:
        self.match = match
        self.size = size
        self.keys: list[tuple[Any, str]] = []  # (match's key, "C" or "F"), slot - size
        self._slots: dict[tuple[Any, str], int] = {}
        self._seen: dict[int, tuple[Any, int | None]] = {}  # id -> (constant, slot)

    def slot(self, c: Any) -> int | None:
        """The env slot that holds ``c`` (an array) on each call, or None: not a static
        argument's bytes, or a layout neither C nor F (a call's argument is copied into the
        layout the trace read, so reductions sum in the recorded order)."""
        if type(c) is not np.ndarray:
            return None
        got = self._seen.get(id(c))
        if got is None:
            order = "C" if c.flags.c_contiguous else "F" if c.flags.f_contiguous else None
            key = None if order is None or c.dtype == object else self.match(c)
            slot = None
            if key is not None and order is not None:
                slot = self._slots.get((key, order))
                if slot is None:
                    slot = self._slots[key, order] = self.size + len(self.keys)
                    self.keys.append((key, order))
            got = self._seen[id(c)] = (c, slot)
        return got[1]

    def holds(self, x: Any, depth: int = 0) -> bool:
        """Whether ``x`` (a constant: an array, or plain lists, tuples and dicts around
        arrays) is or holds an array read from a slot."""
        t = type(x)
        if t is np.ndarray:
            return self.slot(x) is not None
        if depth < 8 and (t is list or t is tuple):
            return any(self.holds(v, depth + 1) for v in x)
        if depth < 8 and t is dict:
            return any(self.holds(v, depth + 1) for v in x.values())
        return False


def input_ids(node: Node) -> tuple[int, ...]:
    """Ids of the Values ``node`` reads (``node.value_inputs()``), cheaply for plain
    arguments."""
    args = node.args
    if not node.kwargs:
        ids = tuple(a.id for a in args if type(a) is Value)
        if len(ids) == len(args) or not any(type(a) in (list, tuple) for a in args):
            return ids
    return tuple(v.id for v in node.value_inputs())


def positional_ids(node: Node, ids: tuple[int, ...]) -> Any:
    """The ids of the Values among ``node``'s positional arguments (activity flows through
    those only); ``ids``: its ``input_ids``."""
    return [v.id for v in values_in(node.args)] if node.kwargs else ids


def env_size(graph: Graph, guards: tuple, ins: list) -> int:
    """One more than the largest value id the graph, its guards and its nodes' inputs
    (``ins``) name."""
    top = max((o.id for n in graph.nodes for o in n.outputs if o is not None), default=0)
    named = (*graph.inputs, *graph.outputs, *(v for g in guards for v in values_in(list(g[2]))))
    top = max(top, max((v.id for v in named if isinstance(v, Value)), default=0))
    return 1 + max(top, max((max(t) for t in ins if t), default=0))


def flags(size: int, ids: Any) -> bytearray:
    """One byte per value id (a compact set): 1 for ``ids``."""
    out = bytearray(size)
    for i in ids:
        out[i] = 1
    return out


def merge_guards(fpos: list[int], nodes: list[Node], guards: tuple) -> list:
    """The forward nodes (at graph positions ``fpos``) and the guards (tuples), in recorded
    order: a guard goes before the node it preceded when recorded."""
    if not guards:
        return list(nodes)
    gs = sorted(guards, key=lambda g: g[0])  # (stable: guards at one position keep order)
    out: list = []
    j = 0
    for pos, node in zip(fpos, nodes, strict=True):
        while j < len(gs) and gs[j][0] <= pos:
            out.append(gs[j])
            j += 1
        out.append(node)
    out += gs[j:]
    return out


def drop_primals(nodes: list) -> None:
    """Forget the recorded primals of ``nodes``' outputs (a consumed graph: the replay
    recomputes them), constants' kept."""
    for n in nodes:
        if n.rule is not CONST_RULE:
            for o in n.outputs:
                if o is not None:
                    o.primal = None


def reverse_reads(node: Node, inline: Any, uses: dict) -> list[Value]:
    """The Values whose primals ``node``'s reverse block reads (``inline``: its inline
    formulas; ``uses``: a memo of what formulas read)."""
    if inline is not None:  # only what the formulas of the traced arguments use
        traced = tuple(isinstance(a, Value) for a in node.args)
        used = uses.get((inline, traced))
        if used is None:
            text = " ".join(x for i, x in enumerate(inline) if x is not None and traced[i])
            used = uses[inline, traced] = (
                tuple(i for i, t in enumerate(traced) if t and f"{{{i}}}" in text),
                "{ans}" in text)
        out = [node.args[i] for i in used[0]]
        return out + [node.outputs[0]] if used[1] else out
    if fused_kind(node) is not None:  # (no inlined node is fused)
        return []
    out = [v for i, a in enumerate(node.args) if i in node.saved for v in values_in(a)]
    if "ans" in node.saved:
        out += [o for o in node.outputs if o is not None]
    return out


def needed_forward(graph: Graph, guards: tuple, ins: list, size: int) -> list[int]:
    """Positions of the nodes the outputs or a guard depend on (``graph.live_nodes``);
    every value they read must be made by one of them or be an input. ``ins``: each
    node's ``input_ids``; ``size``: the env's (value ids index flag bytes, not sets)."""
    guarded = [v for g in guards for v in values_in(list(g[2]))]
    roots = [v.id for v in (*graph.outputs, *guarded) if isinstance(v, Value)]
    needed = flags(size, roots)
    made = flags(size, (v.id for v in graph.inputs))
    live: list[int] = []
    nodes = graph.nodes
    for k in range(len(nodes) - 1, -1, -1):
        outs = nodes[k].outputs
        if any(needed[o.id] for o in outs if o is not None):
            live.append(k)
            for i in ins[k]:
                needed[i] = 1
            for o in outs:
                if o is not None:
                    made[o.id] = 1
    live.reverse()
    missing = [i for i in roots if not made[i]]
    missing += [i for k in live for i in ins[k] if not made[i]]
    if missing:
        raise NotReplayable(f"value %{min(missing)} is read but made where framead cannot "
                            "re-run it")
    return live

def active_nodes(graph: Graph, wrt: list[Value], ins: list, size: int) -> list[Node]:
    """``reversed(active_nodes(graph, wrt))``, from the nodes' ``input_ids``."""
    active = flags(size, (v.id for v in wrt))
    fwd = []
    nodes = graph.nodes
    is_active = active.__getitem__
    for k, node in enumerate(nodes):
        if any(map(is_active, positional_ids(node, ins[k]))):
            fwd.append(k)
            for o in node.outputs:
                if o is not None:
                    active[o.id] = 1
    needed = flags(size, (v.id for v in graph.outputs if isinstance(v, Value)))
    out = []
    for k in reversed(fwd):
        node = nodes[k]
        if any(o is not None and needed[o.id] for o in node.outputs):
            out.append(node)
            for i in positional_ids(node, ins[k]):
                needed[i] = 1
    return out


def broadcast_shape(args: tuple) -> tuple | None:
    """The shape NumPy broadcasts a node's ``args`` (Values and constants) to, or None."""
    try:
        return tuple(np.broadcast_shapes(*(tuple(a.shape) if type(a) is Value else np.shape(a)
                                           for a in args)))
    except (ValueError, TypeError):
        return None
