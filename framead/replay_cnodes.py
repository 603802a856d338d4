"""A long replay's array steps through the uncached reverse pass's C step loop.

The uncached pass runs its float64 array nodes (the inline formulas, the fused getitem and
setitem steps, sums, np.exp/sqrt/tanh/log) in C (capture/_scalar_tape.c ``run``), which
reads Node and Value objects. A replay keeps no nodes, only steps on its env list
(framead/replay_steps.py). ``Shadows`` keeps, for each reverse step of those kinds, a small
Node of the same rule, keyword arguments, saves and constants (shared with the steps), whose
Values carry ids, shapes, dtypes and kinds only. For one reverse pass, ``filled`` puts the
call's values the reverse pass reads (the env's) in their Values' ``primal``, and takes them
out again after, so the shadows never keep a call's values. The C loop takes a shadow node as
it takes a recorded one, making the NumPy calls the Python step makes, so cotangents are
identical. A step without a shadow (``None``: only float64 outputs have one) is the
replay's own step; a shadow node the C loop hands back runs the uncached pass's Python step.
One pass at a time fills them: a second thread, or a pass started from inside a VJP, gets a
copy of them made with its own values (``filled`` yields ``_copy(e)``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import repeat
from typing import Any

import numpy as np

from .ir import Node, Value
from .replay_graph import Statics
from .replay_memo import has_value, same_array, same_constant, shared, shared_kwargs, shared_meta
from .reverse import _array_ops, _run_steps, _scalar_tape
from .reverse_inline import library_rule_ids

_run: Any = getattr(_scalar_tape, "run", None)
# the fused getitem / setitem / view_update and np.sum opcodes (reverse._FUSED_OPCODES,
# _ARRAY_OPCODES): taken whatever the output's kind; the others only for array outputs
# (real scalars are the replay's B_INLINE steps, which its own C loop runs)
_ANY_KIND = (40, 41, 42, 50)
_GETITEM = 40
_F64 = np.dtype(np.float64)  # (the C loop's float64: this descr, by identity)
_set_primal = Value.__dict__["primal"].__set__  # (a slot's descriptor)


class Shadows:
    """The shadow nodes of a replay's reverse steps (``nodes``, aligned with them; None:
    the step has none) and the Values whose primals a pass fills in."""

    __slots__ = ("nodes", "_vals", "_fill", "_ids", "_lock", "_ops", "_library")

    def __init__(self, n: int) -> None:
        self.nodes: list = [None] * n
        self._vals: dict[int, Value] = {}
        self._fill: list[Value] = []
        self._ids: list[int] = []
        self._lock = threading.Lock()
        self._ops = _array_ops()  # (the C loop's opcodes, by rule)
        self._library = library_rule_ids()  # (the rules whose cotangents are not checked)

    def add(self, j: int, node: Node, memo: dict, statics: Statics | None) -> Node | None:
        """The shadow of ``node`` (reverse step ``j``), where the C loop may take it: the
        reverse step itself (``step`` runs what the C loop leaves)."""
        if node.multi or _run is None:
            return None
        try:
            op = self._ops.get(node.rule)
        except TypeError:  # an unhashable rule
            return None
        out = node.outputs[0]
        if not op or out is None or out.dtype is not _F64 or (out.kind is not np.ndarray and (
                op not in _ANY_KIND or op == _GETITEM)):
            return None  # (float32, complex: the C loop leaves them, and each pass would run
            # them in Python again; an element a[i]: the replay's own step costs less than
            # the uncached Python step where the C loop leaves it: rosen_loop)
        kw = node.kwargs
        if kw and (statics is not None and statics.may_hold(kw) or has_value(kw.values())):
            return None
        for a in node.args:  # (every give-up before a Value is made: none stays unused)
            t = type(a)
            if (t is list or t is tuple) and has_value(a) or (
                    t is list or t is tuple or t is np.ndarray) and \
                    statics is not None and statics.may_hold(a):
                return None  # (each call's own argument: the replay's step reads it)
        args = []
        vals = self._vals
        for a in node.args:
            t = type(a)
            if t is Value:
                args.append(vals.get(a.id) or self._value(a, memo))
            elif t is np.ndarray:
                args.append(same_array(memo, a))
            else:
                args.append(same_constant(memo, a))
        if kw:
            kw = shared_kwargs(memo, {k: same_constant(memo, v) for k, v in kw.items()})
        sh = self.nodes[j] = Node(node.rule, tuple(args), kw,
                                  (vals.get(out.id) or self._value(out, memo),),
                                  saved=node.saved)
        return sh

    def _value(self, v: Value, memo: dict) -> Value:
        s = self._vals[v.id] = Value(v.id, shared(memo, tuple(v.shape)), v.dtype, v.kind)
        s._meta = shared_meta(memo, v)  # (one shape tuple, one Meta for equal ones)
        return s

    def finish(self, reads: set[int]) -> Shadows | None:
        """Done adding: ``reads`` are the ids whose values the reverse pass reads (the only
        primals filled in). None where no step has a shadow."""
        self._fill = [v for i, v in self._vals.items() if i in reads]
        self._ids = [v.id for v in self._fill]
        self._vals = {}
        return self if any(x is not None for x in self.nodes) else None

    @contextmanager
    def filled(self, e: list) -> Iterator[list]:
        """The shadow nodes, their Values' primals this pass's (from the env ``e``); a copy
        of them where another pass uses them (another thread, a VJP calling the cached
        function)."""
        if not self._lock.acquire(blocking=False):
            yield self._copy(e)
            return
        vals, ids = self._fill, self._ids
        try:  # (map and deque: the loops run in C, ~30 ns a value)
            deque(map(_set_primal, vals, map(e.__getitem__, ids)), 0)
            yield self.nodes
        finally:
            deque(map(_set_primal, vals, repeat(None)), 0)
            self._lock.release()

    def _copy(self, e: list) -> list:
        """The shadow nodes made again, with this pass's primals."""
        primals = {id(v): e[v.id] for v in self._fill}
        made: dict[int, Value] = {}

        def value(v: Value) -> Value:
            c = made.get(id(v))
            if c is None:
                c = made[id(v)] = Value(v.id, v.shape, v.dtype, v.kind, primals.get(id(v)))
            return c

        return [None if n is None else
                Node(n.rule, tuple(value(a) if type(a) is Value else a for a in n.args),
                     n.kwargs, (value(n.outputs[0]),), saved=n.saved) for n in self.nodes]

    def step(self, node: Node, ct: dict) -> None:
        """The uncached pass's Python step of shadow ``node`` (its primals filled in)."""
        _run_steps([node], [None], ct, self._library)


def c_loop() -> Any:
    """The C step loop (capture/_scalar_tape.c ``run``): ``run(nodes, k, ct,
    reverse._array_ops())`` is the index of the first node from ``k`` it leaves."""
    return _run
