"""A recorded graph as generated Python: its forward pass (with the trace's guards) and its
reverse pass, re-run on new inputs without instrumentation by cached traces
(``grad(f, cache=True)``, ``framead.jit``, framead/cache.py); a guard that comes out
differently raises ``Miss``.

Values live in one list ``e`` indexed by value id. Each forward line calls the node's callable
on ``e[...]`` and constants; each reverse block is the one framead/reverse_source.py generates, with
saved primals read from ``e``. Every line is commented with the user line it replays.
"""

from __future__ import annotations

import functools
import itertools
import operator
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from . import replay_plan
from . import replay_steps as steps
from .capture.primitive_rules import CONST_RULE, SETITEM_RULE
from .ir import Graph, Node, SourceLoc, Value, values_in
from .replay_analysis import ReplayAnalyses
from .replay_cnodes import Shadows
from .replay_graph import (
    FpPlan,
    Miss,
    Statics,
    drop_primals,
    env_size,
    fp_at,
    input_ids,
    merge_guards,
    reverse_reads,
    run_fp_at,
)
from .replay_memo import same_array, same_constant, shared, shared_kwargs
from .replay_nodes import (
    BINOPS,
    UNOPS,
    as_recorded,
    basic_view,
    is_operator,
    nth,
    on_copy,
    replay_callable,
    setitem_inplace,
)
from .replay_passes import active_nodes, needed_forward
from .replay_plan import FWD_KINDS, BwdPlan, NodeShape, node_key, remake_forward
from .replay_steps import (
    ReplayEmitter,
    fit,
    run_call,
    run_fit,
    run_guard,
    run_multi,
    same_as_recorded,
    store_leaves,
)
from .reverse import _INLINE_OPCODES, RUNTIME
from .reverse_inline import inline_vjp
from .reverse_source import (
    Emitter,
    key_src,
    library_rule_ids,
    node_block,
    register_source,
)

CHUNK_NODES = 250
COMPILE_LIMIT = 1000  # forward and reverse nodes; longer replays run as steps (replay_steps)
_serial = itertools.count(1)


class Replay(ReplayAnalyses):
    """Forward and reverse passes of ``graph`` with respect to ``wrt``, re-run on new inputs.

    ``guards``: ``(position, callable, args, kwargs, recorded, loc)`` tuples
    (``Recorder.guard``), checked before node ``position``.

    Replays of up to ``COMPILE_LIMIT`` nodes are generated Python source, compiled
    (``.source``; tracebacks show its lines, each commented with the user line it replays);
    longer ones run the same actions as steps (framead/replay_steps.py: compiling costs
    several times what recording did, and ``.source`` is None), their errors noting the user
    line. ``compiled`` (or FRAMEAD_REPLAY=source / loop) forces one or the other.

    ``consume``: the caller hands ``graph`` over (a cached trace's first reuse): its dead
    nodes go at once, each other node once its steps are made, the recorded primals once
    the analyses have read them, so the replay is built in the graph's memory; only ids,
    callables, constants and locations are kept.

    ``static``: ``static(c)`` is the key of the call's static argument that holds the same
    bytes as the constant array ``c`` (or None). Such constants are not kept: they are read
    from env slots, which each call fills with its own arguments (``static_keys``: each
    slot's (key, "C" or "F" layout), the ``statics`` of ``forward``).

    ``fp``: the NumPy error state the capture ran under, segment by segment: the forward
    pass switches state (``fp_at``, in the table replay_graph.gated makes) where the
    capture's changed, starting in state ``fp_first``.
    """

    def __init__(self, graph: Graph, wrt: list[Value], guards: tuple = (),
                 compiled: bool | None = None, consume: bool = False,
                 static: Callable[[np.ndarray], Any] | None = None,
                 fp: FpPlan | None = None):
        self.graph = graph
        self._fp = fp
        self.wrt = wrt
        self.filename = f"<framead-replay-{next(_serial)}>"
        self.guards = guards
        ins = [input_ids(n) for n in graph.nodes]
        self.size = env_size(graph, guards, ins)
        self._statics = None if static is None else Statics(static, self.size)
        self._fpos = needed_forward(graph, guards, ins, self.size)
        self.fwd_nodes = [graph.nodes[k] for k in self._fpos]
        self.bwd_nodes = active_nodes(graph, wrt, ins, self.size)
        self._ins = [ins[k] for k in self._fpos]  # (in forward order from here on)
        del ins
        if consume:  # the dead nodes go now
            graph.nodes = []
        if compiled is None:
            mode = os.environ.get("FRAMEAD_REPLAY", "")
            compiled = mode == "source" or (mode != "loop" and len(self.fwd_nodes) +
                                            len(self.bwd_nodes) <= COMPILE_LIMIT)
        self.compiled = compiled
        self.source: str | None = None
        self._prepare(consume)
        # keep ids and constants only: the recorded primals can be freed
        self.input_ids = [v.id for v in graph.inputs]
        self.output_ids = [v.id if isinstance(v, Value) else None for v in graph.outputs]
        self._output_consts = [None if isinstance(v, Value) else v for v in graph.outputs]
        self.wrt_ids = [v.id for v in wrt]
        if compiled:
            self._generate()
        else:
            self._build_steps(consume)
        self.static_keys = self._statics.keys if self._statics is not None else []
        del self._inline, self._where, self._private, self._items, self._release_after, \
            self._reads, self.guards, self._statics, self._fp, self._fp_switch, self._plans, \
            self._shapes
        del self.graph, self.wrt, self.fwd_nodes, self.bwd_nodes, self._fpos

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
        if not kwargs and is_operator(fn):  # written as the operator itself
            if len(args) == 2 and fn in BINOPS:
                return f"{parts[0]} {BINOPS[fn]} {parts[1]}"
            if len(args) == 1 and fn in UNOPS:
                return f"{UNOPS[fn]}{parts[0]}"
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
            fn = setitem_inplace  # the old version is dead: no copy
        mut = getattr(node.rule, "mutates", ())
        if mut and isinstance(nth(node.args, mut[0]), Value | np.ndarray):
            fn = functools.partial(on_copy, fn, mut[0])  # it writes argument k: a copy
        stem = "f_" + "".join(ch if ch.isalnum() else "_" for ch in node.name)[:30] + "_"
        if fn is operator.getitem and len(node.args) == 2 and isinstance(a0, Value) and \
                not node.kwargs and not any(True for _ in values_in(node.args[1])):
            return f"e[{outs[0].id}] = e[{a0.id}][{key_src(em, node.args[1])}]{where}"
        call = self._call_expr(em, fn, node.args, node.kwargs, stem)
        if node.multi:
            ids = tuple(o.id if o is not None else None for o in outs)
            return f"_store(e, {call}, {ids!r}){where}"
        o = outs[0]
        if o.kind is np.ndarray and not is_operator(fn):
            # out= broadcasts (np.exp(s, out=a)): the result takes the recorded shape/dtype
            call = f"_fit({call}, {tuple(o.shape)!r}, {em.bind('dt', o.dtype)})"
        return f"e[{o.id}] = {call}{where}"

    def _guard_line(self, em: Emitter, guard: tuple) -> str:
        _, fn, args, kwargs, recorded, loc = guard
        call = self._call_expr(em, fn, args, kwargs, "g_")
        where = f"  # guard: {loc.file}:{loc.line}  {loc.source()}"[:160]
        miss = f"raise _Miss({em.bind('gl', loc)})"
        return f"if not _same({call}, {em.bind('r', recorded)}): {miss}{where}"

    def _prepare(self, consume: bool) -> None:
        """What both ways of running need: inline VJPs, which array versions may be written
        in place, the forward items (nodes and guards, in recorded order) and releases.
        ``consume``: the recorded primals are dropped once the inline VJPs have read them."""
        self._plan_nodes()
        if consume:  # (the plans made the inline functions from the primals first)
            drop_primals(self.fwd_nodes)
        self._where: dict = {}
        self._private = self._private_versions()
        self._items = merge_guards(self._fpos, self.fwd_nodes, self.guards)
        self.fp_first, self._fp_switch = (0, {}) if self._fp is None else \
            self._fp.switches(self._fpos, self._items)
        self._release_after = self._releases(self._items)
        del self._ins  # (only the analyses above read it)

    def _plan_nodes(self) -> None:
        """Each forward node's ``NodeShape`` (``_shapes``; one per node shape,
        replay_plan.node_key, None: decided one by one), each reverse node's ``BwdPlan``
        (``_plans``) and inline formulas (``_inline``, aligned with ``bwd_nodes``: one tuple
        per distinct formula list), and the ids of the values the reverse pass reads
        (``_reads``). One pass in forward order, while the recorded primals are there."""
        bnodes = self.bwd_nodes
        j = len(bnodes) - 1  # the next reverse node, met in forward order
        plans: list = [None] * len(bnodes)
        shapes: list = [None] * len(self.fwd_nodes)
        canon: dict = {}
        memo: dict = {}
        reads: set[int] = set()
        uses: dict[tuple, tuple] = {}
        for k, n in enumerate(self.fwd_nodes):
            key = node_key(n, True)
            sh = None
            if key is not None:
                sh = shapes[k] = memo.get(key)
                if sh is None:
                    sh = shapes[k] = memo[key] = NodeShape()
            if j < 0 or bnodes[j] is not n:
                continue
            p = None if sh is None else sh.bwd
            if p is None:
                p = self._bwd_plan(n, sh is not None, canon)
                if sh is not None:
                    sh.bwd = p
            plans[j] = p
            j -= 1
            if p.fns is not None:  # keyed inline: what its formulas read, by index
                a = n.args
                for i in p.reads:
                    reads.add(a[i].id)
                if p.ans:
                    reads.add(n.outputs[0].id)
            else:
                reads.update(v.id for v in reverse_reads(n, p.inline, uses))
        for left in range(j, -1, -1):  # (none: every active node is a forward one)
            n = bnodes[left]
            p = plans[left] = self._bwd_plan(n, False, canon)
            reads.update(v.id for v in reverse_reads(n, p.inline, uses))
        self._plans, self._shapes, self._reads = plans, shapes, reads
        self._inline = [p.inline for p in plans]

    def _bwd_plan(self, n: Node, keyed: bool, canon: dict) -> BwdPlan:
        f = inline_vjp(n)
        if f is not None:
            f = canon.setdefault(tuple(f), tuple(f))
            steps.inline_functions(n, f)  # (made while the primals are there)
        return BwdPlan(n, f, keyed, _INLINE_OPCODES)

    def _build_steps(self, consume: bool) -> None:
        """The forward and reverse steps, made in one pass in forward order. ``consume``: the
        caller handed the graph over, so each node is dropped once its steps are made (the
        steps reuse its memory instead of adding to it)."""
        items, releases, switch = self._items, self._release_after, self._fp_switch
        n = len(items) + len(releases) + len(switch)
        # each step's (rule or "a guard", location), for error notes (None: a free)
        fwd: list = [None] * n
        where: list = [None] * n
        bnodes = self.bwd_nodes  # (reverse order: a subsequence of the forward nodes')
        nb = len(bnodes)
        bwd: list = [None] * nb
        bwhere: list = [None] * nb
        j = nb - 1  # the next reverse step's node, met in forward order
        library = library_rule_ids()
        self._memo: dict = {}  # (one object for equal step parts: arg_spec, _where_of)
        self._shadows = Shadows(nb)  # (the C step loop's nodes: framead/replay_cnodes.py)
        if consume:  # the items and the reverse list hold the nodes from here on
            self.fwd_nodes = None
        i = 0  # the next forward step
        shapes = self._shapes
        p = 0  # the next forward node
        for k in range(len(items)):
            x = items[k]
            if k in switch:  # NumPy's error state the capture had from here on
                fwd[i] = (steps.F_CALL, run_fp_at, switch[k], None, None)
                i += 1
            if type(x) is tuple:
                fwd[i], where[i] = self._guard_step(x), self._where_of("a guard", x[5])
            else:
                fwd[i] = self._planned_forward(x, shapes[p])
                where[i] = self._where_of(x.rule, x.loc)
                p += 1
                if j >= 0 and bnodes[j] is x:
                    self._backward_step(x, j, library, bwd, bwhere, where[i])
                    if consume:
                        bnodes[j] = None
                    j -= 1
            i += 1
            if consume:
                items[k] = x = None
            if k in releases:
                fwd[i] = (steps.F_FREE, None, releases[k], None, None)
                i += 1
        for left in range(j, -1, -1):  # (none: every active node is a forward one)
            if bnodes[left] is not None:
                self._backward_step(bnodes[left], left, library, bwd, bwhere)
        shadows = self._shadows.finish(self._reads)
        self._items = self._release_after = self._memo = self._shapes = self._shadows = None
        self._fwd = [functools.partial(steps.run_forward, fwd, where, miss=Miss)]
        self._bwd = [functools.partial(steps.run_backward, bwd, bwhere, shadows=shadows)]
        self.step_counts = (len(fwd), len(bwd))

    def _where_of(self, rule: Any, loc: Any) -> tuple:
        """``(rule, loc)``, one tuple for each pair (a loop's steps repeat a few; equal
        SourceLocs are one: each recorded node has its own)."""
        # (the tuple holds the rule: its id stays its own)
        key = ("w", id(rule), loc if type(loc) is SourceLoc else id(loc))
        got = self._memo.get(key)
        if got is None:
            got = self._memo[key] = (rule, loc)
        return got

    def _backward_step(self, node: Node, j: int, library: frozenset, bwd: list,
                       where: list, pair: tuple | None = None) -> None:
        """Reverse step ``j`` (of ``node``), and its rule and location (``pair``, if made)."""
        p = self._plans[j]
        shadow = self._shadows.add(j, node, self._memo, self._statics)
        if shadow is not None:  # (the uncached pass's C loop, or its Python step)
            bwd[j] = shadow
        elif p.fns is not None:  # (a keyed inline node: its shape's plan)
            bwd[j] = st = p.inline_step(node)
            if replay_plan.VERIFY:
                replay_plan.verify(st, steps.backward_step(node, p.inline, False, {}, None))
        else:
            bwd[j] = steps.backward_step(
                node, p.inline, hasattr(node.rule, "fn") and id(node.rule) not in library,
                self._memo, self._statics)
        where[j] = pair or self._where_of(node.rule, node.loc)

    def _planned_forward(self, node: Node, shape: NodeShape | None) -> tuple:
        """``_forward_step`` of ``node``, remade from the step of the first node of its
        ``shape`` where that is a plain one."""
        rule = node.rule
        if shape is None or rule is CONST_RULE or rule is SETITEM_RULE:
            return self._forward_step(node)
        plan = shape.fwd
        if plan is None:
            st = self._forward_step(node)
            shape.fwd = (st[0], st[1]) if st[0] in FWD_KINDS else ()
            return st
        if not plan:
            return self._forward_step(node)
        st = remake_forward(plan, node, self._memo, same_constant)
        if replay_plan.VERIFY:
            replay_plan.verify(st, self._forward_step(node))
        return st

    def _forward_step(self, node: Node) -> tuple:
        """The step of ``node``: what ``_forward_line`` writes, as data."""
        outs = node.outputs
        if node.rule is CONST_RULE:
            slot = self._slot(outs[0].primal)
            if slot is not None:  # a static argument's bytes: that call's argument
                return (steps.F_V, steps.itself, slot, None, outs[0].id)
            return (steps.F_CONST, None, outs[0].primal, None, outs[0].id)
        fn = replay_callable(node)
        args = node.args
        a0 = args[0] if args else None
        if node.rule is SETITEM_RULE and type(a0) is Value and a0.id in self._private:
            fn = setitem_inplace  # the old version is dead: no copy
        mut = getattr(node.rule, "mutates", ())
        if mut and isinstance(nth(args, mut[0]), Value | np.ndarray):
            fn = functools.partial(on_copy, fn, mut[0])  # it writes argument k: a copy
        kwargs = node.kwargs
        if node.multi:
            ids = tuple(o.id if o is not None else None for o in outs)
            return self._call_step(fn, args, kwargs, run_multi, ids)
        o = outs[0]
        if fn is operator.getitem and basic_view(node, self._statics):  # (no fit: a view)
            return (steps.F_ITEM, None, a0.id, same_constant(self._memo, args[1]), o.id)
        if o.kind is np.ndarray and not is_operator(fn) and not as_recorded(fn, node):
            shape = shared(self._memo, tuple(o.shape))
            return self._call_step(fn, args, kwargs, run_fit, (o.id, shape, o.dtype))
        st = self._statics
        if not kwargs:
            if len(args) == 2:
                a, b = args
                ia, ib = self._env_id(a), self._env_id(b)  # (None: a constant)
                if ia is not None:
                    if ib is not None:
                        return (steps.F_VV, fn, ia, ib, o.id)
                    if steps.arg_spec(b, None, st)[0] == 0:
                        if fn is operator.getitem:
                            b = same_constant(self._memo, b)
                            return (steps.F_ITEM, None, ia, b, o.id)
                        return (steps.F_VC, fn, ia, self._read_only(fn, b), o.id)
                elif ib is not None and steps.arg_spec(a, None, st)[0] == 0:
                    return (steps.F_CV, fn, self._read_only(fn, a), ib, o.id)
            elif len(args) == 1 and (ia := self._env_id(a0)) is not None:
                return (steps.F_V, fn, ia, None, o.id)
        return self._call_step(fn, args, kwargs, run_call, o.id)

    def _read_only(self, fn: Any, c: Any) -> Any:
        """The constant argument ``c`` of a two-argument step, shared with the steps that
        read an equal small array when ``fn`` only reads it (an operator or a ufunc)."""
        return same_array(self._memo, c) if is_operator(fn) or \
            isinstance(fn, np.ufunc) else c

    def _slot(self, c: Any) -> int | None:
        """The env slot a constant is read from (a static argument's bytes), or None."""
        return None if self._statics is None else self._statics.slot(c)

    def _env_id(self, a: Any) -> int | None:
        """Where an argument is in the env: a Value's id, a static's slot; None: neither."""
        return a.id if type(a) is Value else self._slot(a)

    def _call_step(self, fn: Any, args: tuple, kwargs: dict, run: Any, out: Any) -> tuple:
        memo, st = self._memo, self._statics
        call = (fn, *(steps.arg_spec(a, memo, st) for a in args))
        kw = shared_kwargs(memo, {k: steps.arg_spec(v, memo, st) for k, v in kwargs.items()})
        return (steps.F_CALL, run, call, kw, out)

    def _guard_step(self, guard: tuple) -> tuple:
        _, fn, args, kwargs, recorded, loc = guard
        return self._call_step(fn, args, kwargs, run_guard, (recorded, loc))

    def _generate(self) -> None:
        em = ReplayEmitter(RUNTIME, self._statics)
        em.ns.update(_store=store_leaves, _same=same_as_recorded, _Miss=Miss, _fit=fit,
                      _setitem_inplace=setitem_inplace, _fp=fp_at)
        lines: list[str] = []
        self._fwd: list = []
        self._bwd: list = []
        releases = self._release_after
        body = []
        switch = self._fp_switch
        for k, x in enumerate(self._items):
            if k in switch:  # NumPy's error state the capture had from here on
                body.append(f"_fp({switch[k]})")
            body.append(self._guard_line(em, x) if type(x) is tuple else
                        self._forward_line(em, x))
            if k in releases:
                body.append(" = ".join(f"e[{i}]" for i in releases[k]) + " = None")
        for k, start in enumerate(range(0, len(body), CHUNK_NODES) or [0]):
            chunk = body[start:start + CHUNK_NODES]
            self._fwd.append(self._compile(em, lines, f"forward_{k}", "e", chunk))
        blocks = [node_block(em, n, env=True, inline=inline)
                  for n, inline in zip(self.bwd_nodes, self._inline, strict=True)]
        for j, ids in self._reverse_frees().items():  # (after its last reader's block)
            blocks[j] = [*blocks[j], " = ".join(f"e[{i}]" for i in ids) + " = None"]
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
    def forward(self, inputs: list, statics: list | tuple = ()) -> list:
        """All values of the graph for ``inputs`` (one per graph input), as the env list;
        ``statics``: the call's arrays for ``static_keys``."""
        e: list = [None] * self.size
        for i, x in zip(self.input_ids, inputs, strict=True):
            e[i] = x
        if len(statics) != len(self.static_keys):
            raise ValueError(f"this replay reads {len(self.static_keys)} static arguments")
        e += statics
        for chunk in self._fwd:
            chunk(e)
        return e

    def outputs(self, e: list) -> list:
        return [e[i] if i is not None else c
                for i, c in zip(self.output_ids, self._output_consts, strict=True)]

    def backward(self, e: list, seeds: dict[int, Any]) -> list:
        """Cotangents of ``wrt`` (None where zero) for output seeds ``{value id: cotangent}``."""
        ct = dict(seeds)
        with np.errstate(all="ignore"):  # (as the uncached pass: the warnings are the program's)
            for chunk in self._bwd:
                chunk(e, ct)
        return [ct.get(i) for i in self.wrt_ids]
