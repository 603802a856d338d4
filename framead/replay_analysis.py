"""What a replay (framead/replay.py) works out about its forward and reverse values before
making its steps or source: which values the reverse pass reads, after which forward item (or
reverse block) each value can be dropped, which array versions a setitem may overwrite in
place. A mixin of ``Replay``: it reads the replay's graph, nodes and analyses."""

from __future__ import annotations

import array
import bisect
import math
from typing import Any

import numpy as np

from .capture.primitive_rules import SETITEM_RULE, VIEW_UPDATE_RULE
from .ir import Value, values_in
from .replay_graph import flags, reverse_reads
from .replay_nodes import SCALAR_KINDS, may_return_view

FREE_BATCH = 64  # small values freed by one step (or line), at most...
FREE_BYTES = 1 << 16  # ...or that many bytes of them (larger arrays: as soon as they are dead)
FREE_BYTES_STEPS = 1 << 20  # (steps: a free step costs ~150 bytes kept, a line nothing)


class ReplayAnalyses:
    """The analyses of ``Replay`` (framead/replay.py) that read its whole graph."""

    size: int
    compiled: bool
    graph: Any
    guards: tuple
    fwd_nodes: Any
    bwd_nodes: Any
    _fpos: list
    _ins: list
    _inline: list
    _reads: set

    def _backward_reads(self) -> set[int]:
        """Ids of the values whose primals the reverse pass reads (a new set)."""
        return set(self._reads)  # (``_plan_reverse`` made it)

    def _reverse_frees(self) -> dict[int, list[int]]:
        """After which reverse block each array the reverse pass reads can be dropped from
        ``e`` (its last reader; the outputs and inputs stay), so a saved array goes once the
        reverse sweep is past it."""
        keep = {v.id for v in (*self.graph.outputs, *self.graph.inputs) if isinstance(v, Value)}
        last: dict[int, int] = {}
        uses: dict[tuple, tuple] = {}
        for j, (node, inline) in enumerate(zip(self.bwd_nodes, self._inline, strict=True)):
            for v in reverse_reads(node, inline, uses):
                if v.kind is np.ndarray and v.id not in keep:
                    last[v.id] = j
        out: dict[int, list[int]] = {}
        for i, j in last.items():
            out.setdefault(j, []).append(i)
        return {j: sorted(ids) for j, ids in out.items()}

    def _releases(self, items: list) -> dict[int, tuple[int, ...]]:
        """After which forward line each value can be dropped from ``e`` (its last forward
        reader), for values neither the reverse pass nor the outputs need: temporaries are
        freed as in the original program, so memory is reused."""
        keep = flags(self.size, self._backward_reads())
        for v in (*self.graph.outputs, *self.graph.inputs):
            if isinstance(v, Value):
                keep[v.id] = 1
        last = array.array("l", [-1]) * self.size
        ins = iter(self._ins)
        for k, x in enumerate(items):
            if type(x) is tuple:  # a guard
                for v in values_in(list(x[2])):
                    last[v.id] = k
            else:
                for i in next(ins):
                    last[i] = k
        ids = self._id_objects()  # (the steps' own int objects: not one more per id)
        at: dict[int, list[int]] = {}
        for i, k in enumerate(last):
            if k >= 0 and not keep[i]:
                at.setdefault(k, []).append(ids[i] or i)
        return self._batched(at)

    def _id_objects(self) -> list:
        """Each forward value's id, as the int object its Value holds."""
        ids: list = [None] * self.size
        for n in self.fwd_nodes:
            for o in n.outputs:
                if o is not None:
                    ids[o.id] = o.id
        return ids

    def _batched(self, at: dict[int, list[int]]) -> dict[int, tuple[int, ...]]:
        """``at`` (releases after each forward item) with small values held back and freed
        together, every ``FREE_BATCH`` values or ``FREE_BYTES`` bytes (``FREE_BYTES_STEPS``
        for steps): one step frees many (scalars and small arrays cost little kept a little
        longer; a large array goes as soon as it is dead)."""
        limit = FREE_BYTES if self.compiled else FREE_BYTES_STEPS
        size = self._value_bytes(limit)
        out: dict[int, tuple[int, ...]] = {}
        pending: list[int] = []
        held = 0
        for k in sorted(at):
            ids = at[k]
            pending += ids
            held += sum(size[i] for i in ids)
            if len(pending) >= FREE_BATCH or held >= limit:
                out[k] = tuple(sorted(pending))
                pending, held = [], 0
        if pending:
            out[max(at)] = tuple(sorted(pending))
        return out

    def _value_bytes(self, limit: int) -> array.array:
        """About the bytes of each forward value that is a scalar or an array under ``limit``
        bytes, by id (``limit`` for the others)."""
        out = array.array("l", [limit]) * self.size
        for n in self.fwd_nodes:
            for o in n.outputs:
                if o is None:
                    continue
                if o.kind in SCALAR_KINDS:
                    out[o.id] = 32
                elif o.kind is np.ndarray and isinstance(o.dtype, np.dtype) and \
                        o.dtype != object:
                    nbytes = math.prod(o.shape) * o.dtype.itemsize
                    if nbytes < limit:
                        out[o.id] = nbytes + 112
        return out

    def _private_versions(self) -> set[int]:
        """Array versions (made by a setitem/view_update here) that the setitem reading them
        may overwrite in place: nothing reads them, or a view of them, after that setitem,
        neither in the forward code nor as a saved primal in the reverse pass."""
        fresh = {n.outputs[0].id for n in self.fwd_nodes
                 if n.rule in (SETITEM_RULE, VIEW_UPDATE_RULE) and not n.multi}
        if not fresh:  # (no setitem reads a version made here)
            return set()
        base: dict[int, tuple] = {}  # value id -> the array versions it may be a view of
        last = array.array("l", [-1]) * self.size  # version id -> last forward position
        for pos, node in enumerate(self.fwd_nodes):  # reading it or a view of it
            for i in self._ins[pos]:
                for b in base.get(i, (i,)):
                    last[b] = pos
            if may_return_view(node):  # outputs may share memory with array arguments
                srcs = {b for v in node.value_inputs() if v.kind is np.ndarray
                        for b in base.get(v.id, (v.id,))}
                for o in node.outputs:
                    if o is not None and o.kind is np.ndarray and srcs:
                        base[o.id] = tuple(srcs)
        fpos = self._fpos
        pinned = {b for v in self.graph.outputs if isinstance(v, Value)
                  for b in base.get(v.id, (v.id,))}
        for g in self.guards:  # a guard reads at its place in the original order
            for v in values_in(list(g[2])):
                k = bisect.bisect_left(fpos, g[0])  # the first node at or after it
                for b in base.get(v.id, (v.id,)):
                    last[b] = max(last[b], k)
        pinned.update(b for i in self._backward_reads() for b in base.get(i, (i,)))
        out = set()
        for pos, node in enumerate(self.fwd_nodes):
            a = node.args[0] if node.args else None
            if node.rule is SETITEM_RULE and isinstance(a, Value) and a.id in fresh and \
                    a.id not in pinned and last[a.id] <= pos:
                out.add(a.id)
        return out
