"""The whole-graph passes a replay (framead/replay.py) starts from: the nodes its forward pass
re-runs (the outputs' and guards' and the other nodes that can be re-run) and the nodes its
reverse pass visits. Value ids index flag bytes (replay_graph.flags), not Python sets; each
node's reads are its ``input_ids``, made once."""

from __future__ import annotations

from .capture.primitive_rules import CONST_RULE
from .ir import Graph, Node, Value, values_in
from .replay_graph import NotReplayable, flags, positional_ids


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
        for o in outs:
            if o is not None and needed[o.id]:
                break
        else:
            continue
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
    return _with_dead(nodes, ins, live, made)


def _with_dead(nodes: list[Node], ins: list, live: list[int], made: bytearray) -> list[int]:
    """``live`` and the other nodes that can be re-run (from inputs, live values, constants
    and each other), in recorded order: a value nothing reads may still warn as the program
    did (``np.log`` of a negative), and a replay must meet it (``gated``)."""
    if len(live) == len(nodes):
        return live
    keep = bytearray(len(nodes))
    for k in live:
        keep[k] = 1
    const_of = {o.id: k for k, n in enumerate(nodes) if n.rule is CONST_RULE and not keep[k]
                for o in n.outputs if o is not None}
    for k, node in enumerate(nodes):
        if keep[k] or node.rule is CONST_RULE:
            continue
        consts = [const_of[i] for i in ins[k] if not made[i] and i in const_of]
        if all(made[i] or i in const_of for i in ins[k]):
            keep[k] = 1
            for c in consts:
                keep[c] = 1
            for o in node.outputs:
                if o is not None:
                    made[o.id] = 1
    return [k for k in range(len(nodes)) if keep[k]]

def active_nodes(graph: Graph, wrt: list[Value], ins: list, size: int) -> list[Node]:
    """``reversed(active_nodes(graph, wrt))``, from the nodes' ``input_ids``."""
    active = flags(size, (v.id for v in wrt))
    fwd = []
    nodes = graph.nodes
    for k, ids in enumerate(ins):
        for i in ids:  # (a positional one read is active: one of ``ids``, first)
            if active[i]:
                break
        else:
            continue
        node = nodes[k]
        if node.kwargs and not any(active[i] for i in positional_ids(node, ids)):
            continue
        fwd.append(k)
        for o in node.outputs:
            if o is not None:
                active[o.id] = 1
    needed = flags(size, (v.id for v in graph.outputs if isinstance(v, Value)))
    out = []
    for k in reversed(fwd):
        node = nodes[k]
        for o in node.outputs:
            if o is not None and needed[o.id]:
                break
        else:
            continue
        out.append(node)
        for i in positional_ids(node, ins[k]):
            needed[i] = 1
    return out
