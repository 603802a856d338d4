"""A recorded graph as generated Python: its forward pass (with the trace's guards) and its
reverse pass, re-run on new inputs without instrumentation by cached traces
(``grad(f, cache=True)``, ``framead.jit``, framead/cache.py); a guard that comes out
differently raises ``Miss``.

Values live in one list ``e`` indexed by value id. Each forward line calls the node's callable
on ``e[...]`` and constants; each reverse block is the one framead/reverse_source.py generates, with
saved primals read from ``e``. Every line is commented with the user line it replays.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import operator
import os
from typing import Any

import numpy as np

from . import replay_steps as steps
from .capture.primitive_rules import CONST_RULE, SETITEM_RULE, VIEW_UPDATE_RULE
from .ir import Graph, Node, Value, flatten_tree, values_in
from .reverse import RUNTIME
from .reverse_inline import inline_vjp
from .reverse_source import (
    Emitter,
    fused_kind,
    key_src,
    library_rule_ids,
    node_block,
    register_source,
)

CHUNK_NODES = 250
COMPILE_LIMIT = 1000  # forward and reverse nodes; longer replays run as steps (replay_steps)
_serial = itertools.count(1)

# operator nodes emitted as Python operators (the outer capture's probes see them as usual)
_BINOPS = {operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/",
           operator.pow: "**", operator.matmul: "@", operator.floordiv: "//",
           operator.mod: "%"}
_UNOPS = {operator.neg: "-", operator.pos: "+"}


class Miss(Exception):
    """A cached trace's guard failed: the program would take another path on these inputs."""


class NotReplayable(Exception):
    """The graph holds a node framead cannot re-run (the reason names it and its line)."""


def _store_leaves(e: list, result: Any, ids: tuple) -> None:
    leaves, _ = flatten_tree(result)
    for i, leaf in zip(ids, leaves, strict=True):
        if i is not None:
            e[i] = leaf


def _fit(r: Any, shape: tuple, dtype: Any) -> Any:
    """An array result as recorded (``np.exp(s, out=a)`` broadcast into ``a``'s shape)."""
    if r.__class__ is np.ndarray and r.shape == shape and r.dtype == dtype:
        return r
    return np.array(np.broadcast_to(r, shape), dtype=dtype)


def _setitem_inplace(a: np.ndarray, key: Any, v: Any) -> np.ndarray:
    """``setitem`` on an array no other node reads: written in place instead of copied."""
    a[key] = v
    return a


def same_as_recorded(a: Any, b: Any) -> bool:
    """Guard comparison: same value (and shape) as recorded."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.shape(a) == np.shape(b) and bool(np.array_equal(a, b))
    if type(a) in (tuple, list):
        return type(a) is type(b) and len(a) == len(b) and all(
            same_as_recorded(x, y) for x, y in zip(a, b, strict=True))
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # noqa: BLE001 - incomparable means different
        return False


def replay_callable(node: Node) -> Any:
    """The callable that recomputes ``node``'s output from its (node) arguments."""
    fn = getattr(node.rule, "fn", None)
    if not callable(fn):
        raise NotReplayable(f"{node.name} at {node.loc.file}:{node.loc.line} has no callable")
    return fn


def _input_ids(node: Node) -> tuple[int, ...]:
    """Ids of the Values ``node`` reads (``node.value_inputs()``), cheaply for plain
    arguments."""
    args = node.args
    if not node.kwargs:
        ids = tuple(a.id for a in args if type(a) is Value)
        if len(ids) == len(args) or not any(type(a) in (list, tuple) for a in args):
            return ids
    return tuple(v.id for v in node.value_inputs())


def _nth(args: tuple, k: int) -> Any:
    return args[k] if k < len(args) else None


def _on_copy(fn: Any, k: int, *args: Any, **kwargs: Any) -> Any:
    """A rule that writes its argument ``k`` (``mutates``), run on a copy of it: the new
    contents (the recorded value of the write), the replay's values untouched."""
    args = list(args)
    args[k] = np.array(args[k], copy=True)
    r = fn(*args, **kwargs)
    return args[k] if r is None or r is args[k] else r


def _may_return_view(node: Node) -> bool:
    """Whether ``node``'s array outputs may share memory with its array arguments (anything
    but arithmetic operators, ufuncs without ``out=`` and framead's copying primitives)."""
    fn = getattr(node.rule, "fn", None)
    if node.rule in (SETITEM_RULE, VIEW_UPDATE_RULE):
        return False
    return not (isinstance(fn, np.ufunc) or _is_operator(fn))


def _is_operator(fn: Any) -> bool:
    try:
        return fn in _BINOPS or fn in _UNOPS
    except TypeError:  # an unhashable callable
        return False


def _run_call(e: list, call: tuple, kw: dict, o: int) -> None:
    e[o] = call[0](*steps.args_of(e, call[1]), **steps.kwargs_of(e, kw))


def _run_fit(e: list, call: tuple, kw: dict, o: tuple) -> None:
    e[o[0]] = _fit(call[0](*steps.args_of(e, call[1]), **steps.kwargs_of(e, kw)), o[1], o[2])


def _run_multi(e: list, call: tuple, kw: dict, ids: tuple) -> None:
    _store_leaves(e, call[0](*steps.args_of(e, call[1]), **steps.kwargs_of(e, kw)), ids)


def _run_guard(e: list, call: tuple, kw: dict, o: tuple) -> None:
    if not same_as_recorded(call[0](*steps.args_of(e, call[1]), **steps.kwargs_of(e, kw)),
                            o[0]):
        raise Miss(o[1])


class Replay:
    """Forward and reverse passes of ``graph`` with respect to ``wrt``, re-run on new inputs.

    ``guards``: ``(position, callable, args, kwargs, recorded, loc)`` tuples
    (``Recorder.guard``), checked before node ``position``.

    Replays of up to ``COMPILE_LIMIT`` nodes are generated Python source, compiled
    (``.source``; tracebacks show its lines, each commented with the user line it replays);
    longer ones run the same actions as steps (framead/replay_steps.py: compiling costs
    several times what recording did, and ``.source`` is None), their errors noting the user
    line. ``compiled`` (or FRAMEAD_REPLAY=source / loop) forces one or the other.
    """

    def __init__(self, graph: Graph, wrt: list[Value], guards: tuple = (),
                 compiled: bool | None = None):
        self.graph = graph
        self.wrt = wrt
        self.filename = f"<framead-replay-{next(_serial)}>"
        self.guards = guards
        self._ins = [_input_ids(n) for n in graph.nodes]
        self._fpos = self._needed_forward(graph, guards, self._ins)
        self.fwd_nodes = [graph.nodes[k] for k in self._fpos]
        self.bwd_nodes = self._active(graph, wrt, self._ins)
        self.size = 1 + max([v.id for v in graph.inputs] +
                            [o.id for n in graph.nodes for o in n.outputs if o is not None],
                            default=0)
        if compiled is None:
            mode = os.environ.get("FRAMEAD_REPLAY", "")
            compiled = mode == "source" or (mode != "loop" and len(self.fwd_nodes) +
                                            len(self.bwd_nodes) <= COMPILE_LIMIT)
        self.compiled = compiled
        self.source: str | None = None
        self._prepare()
        if compiled:
            self._generate()
        else:
            self._build_steps()
        del self._inline, self._where, self._private, self._items, self._release_after, \
            self._reads
        # keep ids and constants only: the recorded primals can be freed
        self.input_ids = [v.id for v in graph.inputs]
        self.output_ids = [v.id if isinstance(v, Value) else None for v in graph.outputs]
        self._output_consts = [None if isinstance(v, Value) else v for v in graph.outputs]
        self.wrt_ids = [v.id for v in wrt]
        del self.graph, self.wrt, self.fwd_nodes, self.bwd_nodes, self._fpos

    @staticmethod
    def _needed_forward(graph: Graph, guards: tuple, ins: list) -> list[int]:
        """Positions of the nodes the outputs or a guard depend on (``graph.live_nodes``);
        every value they read must be made by one of them or be an input. ``ins``: each
        node's ``_input_ids``."""
        guarded = [v for g in guards for v in values_in(list(g[2]))]
        needed = {v.id for v in (*graph.outputs, *guarded) if isinstance(v, Value)}
        read = set(needed)
        made = {v.id for v in graph.inputs}
        live: list[int] = []
        nodes = graph.nodes
        for k in range(len(nodes) - 1, -1, -1):
            outs = [o.id for o in nodes[k].outputs if o is not None]
            if not needed.isdisjoint(outs):
                live.append(k)
                needed.update(ins[k])
                made.update(outs)
        live.reverse()
        for k in live:
            read.update(ins[k])
        missing = read - made
        if missing:
            raise NotReplayable(f"value %{min(missing)} is read but made where framead cannot "
                                "re-run it")
        return live

    @staticmethod
    def _active(graph: Graph, wrt: list[Value], ins: list) -> list[Node]:
        """``reversed(active_nodes(graph, wrt))``, from the nodes' ``_input_ids``."""
        active = {v.id for v in wrt}
        fwd = []
        for node, ids in zip(graph.nodes, ins, strict=True):
            if node.kwargs:  # activity flows through positional arguments only
                ids = [v.id for v in values_in(node.args)]
            if not active.isdisjoint(ids):
                fwd.append((node, ids))
                active.update(o.id for o in node.outputs if o is not None)
        needed = {v.id for v in graph.outputs if isinstance(v, Value)}
        out = []
        for node, ids in reversed(fwd):
            if any(o is not None and o.id in needed for o in node.outputs):
                out.append(node)
                needed.update(ids)
        return out

    # ------------------------------------------------------------------ code generation
    def _const(self, em: Emitter, c: Any) -> str:
        if c is None or type(c) in (bool, int, str) or c is Ellipsis:
            return repr(c)
        return em.bind("k", c)

    def _expr(self, em: Emitter, a: Any) -> str:
        if isinstance(a, Value):
            return f"e[{a.id}]"
        if type(a) in (list, tuple) and any(True for _ in values_in(a)):
            items = ", ".join(self._expr(em, x) for x in a)
            if type(a) is tuple:
                return f"({items},)" if len(a) == 1 else f"({items})"
            return f"[{items}]"
        return self._const(em, a)

    def _call_expr(self, em: Emitter, fn: Any, args: tuple, kwargs: dict, stem: str) -> str:
        parts = [self._expr(em, a) for a in args]
        parts += [f"{k}={self._expr(em, v)}" for k, v in kwargs.items() if k.isidentifier()]
        odd = {k: v for k, v in kwargs.items() if not k.isidentifier()}
        if odd:
            parts.append(f"**{em.bind('kw', odd)}")
        if not kwargs and _is_operator(fn):  # written as the operator itself
            if len(args) == 2 and fn in _BINOPS:
                return f"{parts[0]} {_BINOPS[fn]} {parts[1]}"
            if len(args) == 1 and fn in _UNOPS:
                return f"{_UNOPS[fn]}{parts[0]}"
        return f"{em.bind(stem, fn)}({', '.join(parts)})"

    def _forward_line(self, em: Emitter, node: Node) -> str:
        loc = node.loc
        where = self._where.get(loc)
        if where is None:
            where = self._where[loc] = f"  # {loc.file}:{loc.line}  {loc.source()}"[:160]
        outs = node.outputs
        if node.rule is CONST_RULE:
            return f"e[{outs[0].id}] = {em.bind('c', outs[0].primal)}{where}"
        fn = replay_callable(node)
        a0 = node.args[0] if node.args else None
        if node.rule is SETITEM_RULE and isinstance(a0, Value) and a0.id in self._private:
            fn = _setitem_inplace  # the old version is dead: no copy
        mut = getattr(node.rule, "mutates", ())
        if mut and isinstance(_nth(node.args, mut[0]), Value | np.ndarray):
            fn = functools.partial(_on_copy, fn, mut[0])  # it writes argument k: a copy
        stem = "f_" + "".join(ch if ch.isalnum() else "_" for ch in node.name)[:30] + "_"
        if fn is operator.getitem and len(node.args) == 2 and isinstance(a0, Value) and \
                not node.kwargs and not any(True for _ in values_in(node.args[1])):
            return f"e[{outs[0].id}] = e[{a0.id}][{key_src(em, node.args[1])}]{where}"
        call = self._call_expr(em, fn, node.args, node.kwargs, stem)
        if node.multi:
            ids = tuple(o.id if o is not None else None for o in outs)
            return f"_store(e, {call}, {ids!r}){where}"
        o = outs[0]
        if o.kind is np.ndarray and not _is_operator(fn):
            # out= broadcasts (np.exp(s, out=a)): the result takes the recorded shape/dtype
            call = f"_fit({call}, {tuple(o.shape)!r}, {em.bind('dt', o.dtype)})"
        return f"e[{o.id}] = {call}{where}"

    def _backward_reads(self) -> set[int]:
        """Ids of the values whose primals the reverse pass reads (a new set)."""
        if self._reads is not None:
            return set(self._reads)

        reads: set[int] = set()
        uses: dict[tuple, tuple] = {}  # (formulas, which arguments are traced) -> what is read
        for node in self.bwd_nodes:
            inline = self._inline[id(node)]
            if inline is not None:  # only what the formulas of the traced arguments use
                traced = tuple(isinstance(a, Value) for a in node.args)
                used = uses.get((inline, traced))
                if used is None:
                    text = " ".join(x for i, x in enumerate(inline)
                                    if x is not None and traced[i])
                    used = uses[inline, traced] = (
                        tuple(i for i, t in enumerate(traced) if t and f"{{{i}}}" in text),
                        "{ans}" in text)
                reads.update(node.args[i].id for i in used[0])
                if used[1]:
                    reads.add(node.outputs[0].id)
                continue
            if fused_kind(node) is not None:  # (no inlined node is fused)
                continue
            reads.update(v.id for i, a in enumerate(node.args) if i in node.saved
                         for v in values_in(a))
            if "ans" in node.saved:
                reads.update(o.id for o in node.outputs if o is not None)
        self._reads = reads
        return set(reads)

    def _releases(self, items: list) -> dict[int, list[int]]:
        """After which forward line each value can be dropped from ``e`` (its last forward
        reader), for values neither the reverse pass nor the outputs need: temporaries are
        freed as in the original program, so memory is reused."""
        keep = self._backward_reads()
        keep.update(v.id for v in self.graph.outputs if isinstance(v, Value))
        keep.update(v.id for v in self.graph.inputs)
        last: dict[int, int] = {}
        ins = self._ins
        for k, (pos, kind, x) in enumerate(items):
            if kind == 1:
                for i in ins[pos]:
                    last[i] = k
            else:
                for v in values_in(list(x[2])):
                    last[v.id] = k
        out: dict[int, list[int]] = {}
        for i, k in last.items():
            if i not in keep:
                out.setdefault(k, []).append(i)
        return out

    def _private_versions(self) -> set[int]:
        """Array versions (made by a setitem/view_update here) that the setitem reading them
        may overwrite in place: nothing reads them, or a view of them, after that setitem,
        neither in the forward code nor as a saved primal in the reverse pass."""
        fresh = {n.outputs[0].id for n in self.fwd_nodes
                 if n.rule in (SETITEM_RULE, VIEW_UPDATE_RULE) and not n.multi}
        base: dict[int, tuple] = {}  # value id -> the array versions it may be a view of
        last: dict[int, int] = {}  # version id -> last forward position reading it or a view
        for pos, node in enumerate(self.fwd_nodes):
            for i in self._ins[self._fpos[pos]]:
                for b in base.get(i, (i,)):
                    last[b] = pos
            if _may_return_view(node):  # outputs may share memory with array arguments
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
                    last[b] = max(last.get(b, -1), k)
        pinned.update(b for i in self._backward_reads() for b in base.get(i, (i,)))
        out = set()
        for pos, node in enumerate(self.fwd_nodes):
            a = node.args[0] if node.args else None
            if node.rule is SETITEM_RULE and isinstance(a, Value) and a.id in fresh and \
                    a.id not in pinned and last.get(a.id, -1) <= pos:
                out.add(a.id)
        return out

    def _guard_line(self, em: Emitter, guard: tuple) -> str:
        _, fn, args, kwargs, recorded, loc = guard
        call = self._call_expr(em, fn, args, kwargs, "g_")
        where = f"  # guard: {loc.file}:{loc.line}  {loc.source()}"[:160]
        miss = f"raise _Miss({em.bind('gl', loc)})"
        return f"if not _same({call}, {em.bind('r', recorded)}): {miss}{where}"

    def _prepare(self) -> None:
        """What both ways of running need: inline VJPs, which array versions may be written
        in place, the forward items (nodes and guards, in recorded order) and releases."""
        canon: dict = {}  # one tuple per distinct formula list (traces repeat a few)
        self._inline = {id(n): None if (f := inline_vjp(n)) is None
                        else canon.setdefault(tuple(f), tuple(f)) for n in self.bwd_nodes}
        self._reads = None
        self._where: dict = {}
        self._private = self._private_versions()
        # guards are placed before the node they preceded when recorded
        items: list[tuple[int, int, Any]] = list(zip(self._fpos, itertools.repeat(1),
                                                     self.fwd_nodes, strict=False))
        items += [(g[0], 0, g) for g in self.guards]
        items.sort(key=lambda t: (t[0], t[1]))
        self._items = items
        self._release_after = self._releases(items)
        del self._ins  # (only the analyses above read it)

    def _build_steps(self) -> None:
        # (what each step replays, for error notes: the rule, or "a guard", and the location)
        fwd: list = []
        rules: list = []
        locs: list = []
        releases = self._release_after
        for k, (_, kind, x) in enumerate(self._items):
            if kind == 0:
                fwd.append(self._guard_step(x))
                rules.append("a guard")
                locs.append(x[5])
            else:
                fwd.append(self._forward_step(x))
                rules.append(x.rule)
                locs.append(x.loc)
            if k in releases:
                fwd.append((steps.F_FREE, None, tuple(sorted(releases[k])), None, None))
                rules.append(None)
                locs.append(None)
        self._items = self._release_after = None  # (freed before the reverse steps)
        library = library_rule_ids()
        bwd = [steps.backward_step(n, self._inline[id(n)],
                                   hasattr(n.rule, "fn") and id(n.rule) not in library)
               for n in self.bwd_nodes]
        brules = [n.rule for n in self.bwd_nodes]
        blocs = [n.loc for n in self.bwd_nodes]
        self._fwd = [functools.partial(steps.run_forward, fwd, (rules, locs), miss=Miss)]
        self._bwd = [functools.partial(steps.run_backward, bwd, (brules, blocs))]
        self.step_counts = (len(fwd), len(bwd))

    def _forward_step(self, node: Node) -> tuple:
        """The step of ``node``: what ``_forward_line`` writes, as data."""
        outs = node.outputs
        if node.rule is CONST_RULE:
            return (steps.F_CONST, None, outs[0].primal, None, outs[0].id)
        fn = replay_callable(node)
        args = node.args
        a0 = args[0] if args else None
        if node.rule is SETITEM_RULE and type(a0) is Value and a0.id in self._private:
            fn = _setitem_inplace  # the old version is dead: no copy
        mut = getattr(node.rule, "mutates", ())
        if mut and isinstance(_nth(args, mut[0]), Value | np.ndarray):
            fn = functools.partial(_on_copy, fn, mut[0])  # it writes argument k: a copy
        kwargs = node.kwargs
        if node.multi:
            ids = tuple(o.id if o is not None else None for o in outs)
            return self._call_step(fn, args, kwargs, _run_multi, ids)
        o = outs[0]
        if o.kind is np.ndarray and not _is_operator(fn):
            return self._call_step(fn, args, kwargs, _run_fit, (o.id, tuple(o.shape), o.dtype))
        if not kwargs:
            if len(args) == 2:
                a, b = args
                if type(a) is Value:
                    if type(b) is Value:
                        return (steps.F_VV, fn, a.id, b.id, o.id)
                    if steps.arg_spec(b)[0] == 0:
                        if fn is operator.getitem:
                            return (steps.F_ITEM, None, a.id, b, o.id)
                        return (steps.F_VC, fn, a.id, b, o.id)
                elif type(b) is Value and steps.arg_spec(a)[0] == 0:
                    return (steps.F_CV, fn, a, b.id, o.id)
            elif len(args) == 1 and type(a0) is Value:
                return (steps.F_V, fn, a0.id, None, o.id)
        return self._call_step(fn, args, kwargs, _run_call, o.id)

    @staticmethod
    def _call_step(fn: Any, args: tuple, kwargs: dict, run: Any, out: Any) -> tuple:
        spec = tuple(steps.arg_spec(a) for a in args)
        kw = {k: steps.arg_spec(v) for k, v in kwargs.items()}
        return (steps.F_CALL, run, (fn, spec), kw, out)

    def _guard_step(self, guard: tuple) -> tuple:
        _, fn, args, kwargs, recorded, loc = guard
        return self._call_step(fn, args, kwargs, _run_guard, (recorded, loc))

    def _generate(self) -> None:
        em = Emitter(RUNTIME)
        em.ns.update(_store=_store_leaves, _same=same_as_recorded, _Miss=Miss, _fit=_fit,
                      _setitem_inplace=_setitem_inplace)
        lines: list[str] = []
        self._fwd: list = []
        self._bwd: list = []
        releases = self._release_after
        body = []
        for k, (_, kind, x) in enumerate(self._items):
            body.append(self._guard_line(em, x) if kind == 0 else self._forward_line(em, x))
            if k in releases:
                body.append(" = ".join(f"e[{i}]" for i in sorted(releases[k])) + " = None")
        for k, start in enumerate(range(0, len(body), CHUNK_NODES) or [0]):
            chunk = body[start:start + CHUNK_NODES]
            self._fwd.append(self._compile(em, lines, f"forward_{k}", "e", chunk))
        blocks = [node_block(em, n, env=True, inline=self._inline[id(n)])
                  for n in self.bwd_nodes]
        for k, start in enumerate(range(0, len(blocks), CHUNK_NODES) or [0]):
            chunk = [ln for b in blocks[start:start + CHUNK_NODES] for ln in b]
            self._bwd.append(self._compile(em, lines, f"backward_{k}", "e, ct", chunk))
        self.source = "\n".join(lines) + "\n"
        register_source(self.filename, self.source,
                          [self, *(c.__code__ for c in (*self._fwd, *self._bwd))])

    def _compile(self, em: Emitter, lines: list, name: str, params: str, body: list):
        first = len(lines) + 1
        chunk = [f"def {name}({params}):"] + (["    " + ln for ln in body] or ["    pass"])
        lines += chunk
        module = compile("\n".join(chunk) + "\n", self.filename, "exec")
        code = next(c for c in module.co_consts if hasattr(c, "co_code"))
        return type(lambda: 0)(code.replace(co_firstlineno=first), em.ns)

    # ------------------------------------------------------------------ running
    def forward(self, inputs: list) -> list:
        """All values of the graph for ``inputs`` (one per graph input), as the env list."""
        e: list = [None] * self.size
        for i, x in zip(self.input_ids, inputs, strict=True):
            e[i] = x
        for chunk in self._fwd:
            chunk(e)
        return e

    def outputs(self, e: list) -> list:
        return [e[i] if i is not None else c
                for i, c in zip(self.output_ids, self._output_consts, strict=True)]

    def backward(self, e: list, seeds: dict[int, Any]) -> list:
        """Cotangents of ``wrt`` (None where zero) for output seeds ``{value id: cotangent}``."""
        ct = dict(seeds)
        for chunk in self._bwd:
            chunk(e, ct)
        return [ct.get(i) for i in self.wrt_ids]
