"""The reverse pass of a recorded graph, and the helpers its generated code calls.

``Backward`` runs one block per live node, in reverse order: as compiled Python source
(framead/reverse_source.py) or, for long traces, through the step loop (``_run_steps``),
which takes the same steps without generating code. Cotangents live in a dict keyed by value
id; zero (None) cotangents skip their node.

The helpers here run as part of the reverse pass, so an outer capture records them too
(``grad(grad(f))``: this module is one of framead's differentiable internals,
capture/session.py).
"""

from __future__ import annotations

import itertools
import linecache
import math
import operator
import os
import sys
from types import CodeType, FunctionType
from typing import Any

import numpy as np

from .capture.primitive_rules import VIEW_UPDATE_RULE
from .capture.session import _visible_depth, current_recorder
from .ir import Graph, Meta, Node, Value, forward_active
from .ir import unflatten_tree as _unflatten
from .reverse_source import (
    Emitter,
    fused_rules,
    library_rule_ids,
    node_block,
    register_source,
    setitem_parts,
)
from .reverse_steps import GETITEM, INLINE, _make_step, _Step, vjp_parts  # noqa: F401
from .rules import library_rules
from .rules import unbroadcast as _unbroadcast
from .rules.families import cotangent_dtype

try:
    from .capture import _scalar_tape
except ImportError:  # pragma: no cover - a source checkout whose extension is not built
    _scalar_tape = None  # type: ignore[assignment]

_F16 = np.dtype(np.float16)
CHUNK_NODES = 250
COMPILE_LIMIT = 1000
_serial = itertools.count(1)


def _fill(gs: tuple, metas: tuple) -> tuple:
    """Multi-output cotangents with zeros for the missing (None) ones that have a Meta."""
    return tuple(g if g is not None or m is None else m.zeros()
                 for g, m in zip(gs, metas, strict=True))


def _unb(t: Any, meta: Meta) -> Any:
    """``unbroadcast`` that keeps None (no cotangent) as None."""
    return None if t is None else _unbroadcast(t, meta)


def _cts(ts: Any, n: int) -> Any:
    """A joint VJP's cotangents, one per argument: None (no cotangent at all) or a short
    tuple are padded with None."""
    if ts is None:
        return (None,) * n
    if len(ts) < n:
        return (*ts, *(None,) * (n - len(ts)))
    return ts


def _accumulate_tree(ct: dict, t: Any, ids: Any) -> None:
    """Add a cotangent tree ``t`` into ``ct`` at the value ids of the same-shaped ``ids``."""
    if ids is None or t is None:
        return
    if isinstance(ids, int):
        o = ct.get(ids)
        ct[ids] = t if o is None else o + t
        return
    if isinstance(t, np.ndarray) and not isinstance(ids, np.ndarray):
        t = list(t)
    for sub_t, sub_ids in zip(t, ids, strict=True):
        _accumulate_tree(ct, sub_t, sub_ids)


# --- fused cotangent accumulation ---------------------------------------------------------
# Element reads x[i] and writes a[i] = v in loops would each cost a full-size cotangent array
# (zeros plus an add, or a copy). Instead the cotangent of the array is allocated once and
# updated in place. ``own`` (kept in ct under key -1) holds the value ids whose cotangent
# array framead allocated itself: only those are ever written in place.

def _owned(ct: dict) -> set:
    own = ct.get(-1)
    if own is None:
        own = ct[-1] = set()
    return own


def _acc(ct: dict, a: int, t: Any) -> None:
    """ct[a] += t, where t is a cotangent or None (no cotangent)."""
    if t is not None:
        o = ct.get(a)
        ct[a] = t if o is None else o + t


def _acc1(ct: dict, a: int, t: Any) -> None:
    o = ct.get(a)
    ct[a] = t if o is None else o + t


def _acc2(ct: dict, a: int, ta: Any, b: int, tb: Any) -> None:
    o = ct.get(a)
    ct[a] = ta if o is None else o + ta
    o = ct.get(b)
    ct[b] = tb if o is None else o + tb


def _acc_getitem(ct: dict, a: int, key: Any, g: Any, shape: tuple, dtype: Any) -> None:
    """ct[a][key] += g, in place, in ``a``'s cotangent dtype (``dtype`` is the primal's: a
    float16 array's reads are summed in float32, rules.families.cotangent_dtype)."""
    own = _owned(ct)
    o = ct.get(a)
    if o is None:
        o = ct[a] = np.zeros(shape, cotangent_dtype(dtype))
        own.add(a)
    elif a not in own:
        o = ct[a] = np.array(np.broadcast_to(o, shape), dtype=cotangent_dtype(dtype), copy=True)
        own.add(a)
    o[key] += g


def _acc_setitem(ct: dict, out: int, a: int | None, key: Any, v: int | None, g: Any,
                 vmeta: Any) -> None:
    """The reverse of ``out = setitem(a, key, v)``: ct[v] += g[key]; ct[a] += g with g[key]
    zeroed (in place when g is framead's own array)."""
    own = _owned(ct)
    if not isinstance(g, np.ndarray):
        g = np.asarray(g)
    if v is not None:
        gv = g[key]
        if isinstance(gv, np.ndarray):
            gv = gv.copy()
            if type(gv) is not np.ndarray or gv.shape != vmeta.shape or \
                    vmeta.kind is not np.ndarray or gv.dtype.kind == "c":
                gv = _unbroadcast(gv, vmeta)  # (else it would return gv as it is)
        elif vmeta.shape:
            gv = _unbroadcast(gv, vmeta)
        o = ct.get(v)
        if o is None:
            ct[v] = gv
        else:
            ct[v] = o + gv
            own.discard(v)
    if a is not None:
        if out in own and isinstance(g, np.ndarray) and g.flags.writeable:
            ga = g
        else:
            ga = np.array(g, copy=True)
        ga[key] = 0
        o = ct.get(a)
        if o is None:
            ct[a] = ga
            own.add(a)
        elif a in own and o.shape == ga.shape and o.dtype == ga.dtype:
            o += ga
        else:
            ct[a] = o + ga
            own.discard(a)


class RuleOutputError(ValueError):
    """A rule's VJP returned a cotangent that does not fit its argument."""


def _check_cotangent(t: Any, meta: Meta, node: Node, i: int) -> Any:
    """User rules only: the cotangent for argument i must have the argument's shape
    (returned as it is)."""
    if t is None:
        return None
    shape = np.shape(t)
    if shape != tuple(meta.shape):
        loc = node.loc
        raise RuleOutputError(
            f"the VJP of rule {node.name!r} returned a cotangent of shape {shape} for "
            f"argument {i}, whose shape is {tuple(meta.shape)} (call at {loc.file}:{loc.line}: "
            f"{loc.source()}). A VJP must return one cotangent per argument, shaped like it; "
            "use framead.rules.unbroadcast for broadcasting arguments")
    return t


def cast_like(g: Any, x: Any) -> Any:
    """A cotangent shaped and typed like the primal ``x`` (zeros for None): the gradient of
    an input, at the API boundary. A float16 input gets a float16 gradient (as JAX and
    PyTorch give), cast from the float32 it was accumulated in: a component beyond float16's
    range becomes inf, or 0 below it, silently -- the precision the caller chose for ``x``."""
    if type(x) is float:  # (the common scalar case first: no NumPy call)
        return g if type(g) is float else 0.0 if g is None else float(np.real(g))
    if g is None:
        g = np.zeros_like(x) if isinstance(x, np.ndarray) else 0.0
    if isinstance(x, np.ndarray):
        dt = x.dtype if x.dtype.kind == "c" else np.result_type(x.dtype, np.float16)
        if dt.char == "e" and getattr(g, "dtype", None) != dt:
            with np.errstate(over="ignore", under="ignore"):
                g = np.asarray(g, dtype=dt)
        else:
            g = np.asarray(g, dtype=dt)
        return np.broadcast_to(g, x.shape).copy() if g.shape != x.shape else g
    if isinstance(x, np.inexact):
        if type(g) is type(x):
            return g
        if isinstance(x, np.float16):
            with np.errstate(over="ignore", under="ignore"):
                return type(x)(g)
        return type(x)(g)
    return g


# Framead's own code that touches cotangents outside the generated reverse pass lives here,
# in a module an outer capture instruments (capture.session._DIFFERENTIABLE_INTERNALS): code
# in api.py or inputs.py runs uninstrumented, so a sum or a copy made there of a cotangent
# that depends on the outer capture's inputs would silently cut that dependence.

def seed_cotangents(pairs: list[tuple[int, Any]]) -> dict[int, Any]:
    """The reverse pass's seeds from (output value id, cotangent) pairs, summed where one
    value is several outputs (``f`` returns ``(y, y)``)."""
    seeds: dict[int, Any] = {}
    for i, c in pairs:
        seeds[i] = c if i not in seeds else seeds[i] + c
    return seeds


def own_copy(g: np.ndarray) -> np.ndarray:
    """A copy of a gradient array that a second leaf would otherwise share."""
    return g.copy()


# the names the generated reverse pass calls these helpers by (framead/reverse_source.py)
RUNTIME: dict[str, Any] = {
    "_unb": _unb, "_fill": _fill, "_cts": _cts, "_acc_tree": _accumulate_tree,
    "_unflatten": _unflatten, "_check": _check_cotangent, "_acc_getitem": _acc_getitem,
    "_acc_setitem": _acc_setitem, "_acc": _acc, "_acc1": _acc1, "_acc2": _acc2,
}


def _run_steps(nodes: list[Node], steps: list, ct: dict, checked: frozenset[int] | set[int],
               scalar_ops: dict | None = None, k: int = 0) -> None:
    """The step loop from node ``k`` on: each node's step is made the first time a cotangent
    reaches it. With ``scalar_ops`` (``_scalar_ops()``, or ``_array_ops()`` inside
    np.errstate(all="ignore")), runs of real scalar nodes (and float64 array nodes of the
    inline formulas, the fused steps, sums and NumPy's exp/sqrt/tanh/log) go through C
    (capture/_scalar_tape.c), which hands
    back each node it does not take."""
    n = len(nodes)
    run = _scalar_tape.run if scalar_ops is not None and _scalar_tape is not None else None
    node = None  # (the node a step is running for: Backward._annotate reads it)
    while k < n:
        if run is not None:
            node = None
            k = run(nodes, k, ct, scalar_ops)
            if k >= n:
                break
        node = nodes[k]
        st = steps[k]
        if st is None:
            outs = node.outputs
            if not node.multi:
                if outs[0] is None or outs[0].id not in ct:
                    k += 1
                    continue
            elif not any(o is not None and o.id in ct for o in outs):
                k += 1
                continue
            st = steps[k] = _make_step(node, hasattr(node.rule, "fn") and
                                       id(node.rule) not in checked)
        k += 1
        how = st.fused
        if how is not None:  # a kind's shared step: ids, primals and key from the node
            out = node.outputs[0]
            g = ct.pop(out.id, None)
            if g is None:
                continue
            args = node.args
            if how == INLINE:
                fns, argnums = st.parts
                a = args[0]
                x0 = a.primal if type(a) is Value else a
                x1 = None
                if len(args) > 1:
                    a = args[1]
                    x1 = a.primal if type(a) is Value else a
                ans = out.primal
                for i in argnums:
                    t = fns[i](g, x0, x1, ans)
                    tgt = args[i].id
                    o = ct.get(tgt)
                    ct[tgt] = t if o is None else o + t
            elif how == GETITEM:
                a, key = args
                _acc_getitem(ct, a.id, key, g, a.shape, a.dtype)
            else:
                a, key, v = setitem_parts(node)
                if isinstance(v, Value):
                    _acc_setitem(ct, out.id, a.id if isinstance(a, Value) else None, key,
                                 v.id, g, v.meta())
                else:
                    _acc_setitem(ct, out.id, a.id if isinstance(a, Value) else None, key,
                                 None, g, None)
            continue
        if st.metas is None:
            g = ct.pop(st.outs, None)
            if g is None:
                continue
        else:
            gs = tuple(ct.pop(o, None) if o is not None else None for o in st.outs)
            if all(x is None for x in gs):
                continue
            g = _unflatten(st.treedef, _fill(gs, st.metas))
        ts = _cts(st.joint(g, st.ans, *st.args, **st.kw), len(st.args)) \
            if st.joint is not None else None
        for i, fn, tgt, unb, chk in st.parts:
            t = ts[i] if fn is None else fn(g, st.ans, *st.args, **st.kw)
            if t is None:
                continue
            if unb is not None:
                t = _unbroadcast(t, unb)
            if chk is not None:
                _check_cotangent(t, chk, st.node, i)
            if type(tgt) is int:
                o = ct.get(tgt)
                ct[tgt] = t if o is None else o + t
            else:
                _accumulate_tree(ct, t, tgt)


# --- the C step loop for real scalar nodes ------------------------------------------------
# opcodes of capture/_scalar_tape.c. The inline formulas (reverse_inline.py) go by the rule's
# fn, as the Python step does; the others are the VJPs of framead's own math rules
# (rules/math_rules.py), so they are taken only for those rule objects.
_INLINE_OPCODES: dict[Any, int] = {
    operator.add: 1, operator.sub: 2, operator.mul: 3, operator.truediv: 4, operator.neg: 5,
    operator.pos: 6, math.sin: 7, math.cos: 8, math.exp: 9, operator.pow: 10}
# (float64 arrays: only inside ARRAYS runs; the ufuncs: their rules' VJPs, capture/_scalar_tape.c
# array_unary_step)
_ARRAY_OPCODES: dict[Any, int] = {np.sum: 50, np.exp: 51, np.sqrt: 52, np.tanh: 53, np.log: 54}
_MATH_OPCODES: dict[Any, int] = {
    math.tanh: 20, math.sqrt: 21, math.log: 22, math.sinh: 23, math.cosh: 24, math.log1p: 25,
    math.expm1: 26, math.tan: 27, math.atan: 28, math.log2: 29, math.log10: 30}
# a[key], a[key] = v and the view_update of a view a[key]: _acc_getitem's and _acc_setitem's
_FUSED_OPCODES = (40, 41, 42)
# ops[ARRAYS] = True: the C loop also takes float64 array nodes (the inline formulas on one
# shape, the fused region steps). Only for runs inside np.errstate(all="ignore"): their NumPy
# calls may set floating-point flags (``_run_steps``; Backward's first run is float-only).
ARRAYS = "arrays"
_ops_cache: list = [None, {}, {}]

# FRAMEAD_BACKWARD=pyloop (or SCALAR_C = False): the step loop without C
SCALAR_C = _scalar_tape is not None
if _scalar_tape is not None:
    _scalar_tape.setup(Value, Node, math.log(2.0), math.log(10.0), _unbroadcast)


def _scalar_ops() -> dict:
    """The C step loop's opcodes: by rule fn (the inline formulas) and by library rule."""
    shipped = library_rules()
    if _ops_cache[0] is not shipped:
        ops: dict[Any, int] = {}  # (by rule object: a rule registered in place of one of
        for r in shipped:          # these keeps its own VJP)
            fn = getattr(r, "fn", None)
            try:
                code = _INLINE_OPCODES.get(fn) or _MATH_OPCODES.get(fn) or \
                    _ARRAY_OPCODES.get(fn)
            except TypeError:  # an unhashable callable
                continue
            if code:
                ops[r] = code
        setitem, getitem = fused_rules()  # (its steps take float64 arrays' elements)
        ops[getitem], ops[setitem], ops[VIEW_UPDATE_RULE] = _FUSED_OPCODES
        _ops_cache[:] = [shipped, ops, {**ops, ARRAYS: True}]
    return _ops_cache[1]


def _array_ops() -> dict:
    """``_scalar_ops()`` for runs inside np.errstate(all="ignore"): float64 array nodes too."""
    _scalar_ops()
    return _ops_cache[2]


_MONITORING = getattr(sys, "monitoring", None)  # (3.12+; a failed getattr costs ~0.5 us)


def _observed() -> bool:
    """Whether a profiler or tracer watches this thread (sys.setprofile/settrace, or on
    3.12+ a sys.monitoring profiler or debugger tool such as cProfile)."""
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return True
    mon = _MONITORING
    return mon is not None and (mon.get_tool(mon.PROFILER_ID) is not None or
                                mon.get_tool(mon.DEBUGGER_ID) is not None)


def environ_get(key: str, default: str = "") -> str:
    """``os.environ.get(key, default)``, read from the mapping's own dict where it has one
    (~0.1 us; the mapping's method encodes the key and decodes the value, ~1 us)."""
    data = os.environ.__dict__.get("_data")
    if type(data) is dict and os.name == "posix":
        v = data.get(key.encode())
        return default if v is None else os.fsdecode(v)
    return os.environ.get(key, default)


# compiled reverse passes by their source (the source names what it reads: same text, same
# computation on another pass's namespace): a profiled or traced program compiles each
# trace structure once, not on every call (a bounded table, oldest out)
COMPILED_KEEP = 16
COMPILED_MAX_CHARS = 1 << 18  # (longer sources are compiled each time, not kept)
_compiled: dict[str, tuple[str, list[CodeType]]] = {}


def _remember_compiled(source: str, filename: str, codes: list[CodeType]) -> None:
    if len(source) > COMPILED_MAX_CHARS:
        return
    _compiled[source] = (filename, codes)
    while len(_compiled) > COMPILED_KEEP:
        try:  # (other threads may take entries meanwhile)
            _compiled.pop(next(iter(_compiled)), None)
        except (StopIteration, RuntimeError):
            break


def _forget_compiled(source: str | None, filename: str) -> None:
    hit = _compiled.get(source) if source is not None else None
    if hit is not None and hit[0] == filename:
        _compiled.pop(source, None)  # type: ignore[arg-type]


class Backward:
    """The reverse pass of a graph with respect to ``wrt``.

    It runs each node's step through a small loop (``_run_steps``): generating and compiling
    Python source costs ~25 + ~40 us a node, which a one-off reverse pass never earns back.
    Under a profiler or tracer, traces up to ``COMPILE_LIMIT`` nodes run as generated,
    compiled source instead, so that profiles and debuggers show lines naming the user's
    lines (compiled once per source text: ``_compiled``). Errors name the generated line
    and the user's line either way, and the source is generated on demand (``.source``).
    FRAMEAD_BACKWARD=source forces compiled code,
    FRAMEAD_BACKWARD=loop the loop, FRAMEAD_BACKWARD=pyloop the loop without its C part for
    real scalar nodes (``_run_steps``; also off under an outer capture, or SCALAR_C = False).
    """

    def __init__(self, graph: Graph, wrt: list[Value], compiled: bool | None = None):
        self.graph = graph
        self.wrt = wrt
        self._filename: str | None = None  # (named when first asked: few passes ever are)
        if _scalar_tape is not None and type(graph.nodes) is list and type(wrt) is list and \
                not _visible_depth():  # (in C, lists of traced values: a false FA101 there)
            self.nodes = _scalar_tape.forward_active(graph.nodes, wrt)
            self.nodes.reverse()
        else:
            self.nodes = list(reversed(forward_active(graph, wrt)))
        mode = environ_get("FRAMEAD_BACKWARD")
        self._c = mode != "pyloop"
        if compiled is None:
            compiled = mode == "source" or (mode not in ("loop", "pyloop") and _observed() and
                                            len(self.nodes) <= COMPILE_LIMIT)
        self.compiled = compiled
        self._source: str | None = None
        self._chunks: list = []
        self._line_node: dict[int, Node] = {}
        # steps are made as cotangents reach their nodes (the list itself when the first
        # node the C loop hands back needs one: a scalar trace often never does)
        self._steps: list | None = None
        self._library: frozenset[int] | set[int] = frozenset()
        if compiled:
            self._generate(compile_chunks=True)

    @property
    def filename(self) -> str:
        """The generated reverse pass's file name (``<framead-backward-N>``)."""
        name = self._filename
        if name is None:
            name = self._filename = f"<framead-backward-{next(_serial)}>"
        return name

    @property
    def source(self) -> str:
        if self._source is None:
            self._generate(compile_chunks=False)
        return self._source

    def _generate(self, compile_chunks: bool) -> None:
        em = Emitter(RUNTIME)
        blocks = [node_block(em, n) for n in self.nodes]
        src_lines: list[str] = []
        chunks: list[tuple[str, int]] = []  # (a chunk's text, its first line)
        for start in range(0, len(blocks), CHUNK_NODES) or [0]:
            first = len(src_lines) + 1
            line_no = first + 1
            for node, block in zip(self.nodes[start:start + CHUNK_NODES],
                                   blocks[start:start + CHUNK_NODES], strict=True):
                for _ in block:
                    self._line_node[line_no] = node
                    line_no += 1
            body = [ln for b in blocks[start:start + CHUNK_NODES] for ln in b]
            chunk = [f"def backward_chunk_{start // CHUNK_NODES}(ct):"]
            chunk += ["    " + ln for ln in body] or ["    pass"]
            src_lines += chunk
            chunks.append(("\n".join(chunk) + "\n", first))
        source = self._source = "\n".join(src_lines) + "\n"
        hit = _compiled.get(source) if compile_chunks else None
        if hit is not None:  # (its source stays registered while its code objects live)
            self._filename, codes = hit
            if self._filename not in linecache.cache:  # (linecache.clearcache() ran)
                linecache.cache[self._filename] = (len(source), None,
                                                   source.splitlines(True), self._filename)
        else:
            codes = []
            if compile_chunks:
                for text, first in chunks:
                    module = compile(text, self.filename, "exec")
                    fcode = next(c for c in module.co_consts if hasattr(c, "co_code"))
                    codes.append(fcode.replace(co_firstlineno=first))
                _remember_compiled(source, self.filename, codes)
            register_source(self.filename, source, [self, *codes])
        # (the names the code reads are this pass's: its primals, metas and rules)
        self._chunks = [FunctionType(code, em.ns) for code in codes]

    def __call__(self, seeds: dict[int, Any]) -> list[Any]:
        ct = dict(seeds)
        for i, s in seeds.items():  # (a float16 output's seed: carried in float32)
            if type(s) is not float and getattr(s, "dtype", None) == _F16:
                ct[i] = s.astype(cotangent_dtype(_F16))
        try:
            k = 0
            ops = None
            nodes = self.nodes
            if not self.compiled:
                # not under an outer capture (grad(grad(f))): it records the Python steps'
                # arithmetic, which the C loop would hide from it
                ops = _scalar_ops() if self._c and SCALAR_C and \
                    current_recorder() is None else None
                if ops is not None and _scalar_tape is not None:
                    # the C loop's first run (plain float arithmetic, no NumPy call that
                    # np.errstate could change): a small scalar trace often ends here
                    k = _scalar_tape.run(nodes, 0, ct, ops)
            if self.compiled or k < len(nodes):
                # NumPy's floating-point warnings belong to the program, which has no
                # reverse pass natively (inf/nan cotangents still show in the gradient)
                with np.errstate(all="ignore"):
                    if not self.compiled:
                        if self._steps is None:
                            self._steps = [None] * len(nodes)
                            self._library = library_rule_ids()
                        _run_steps(nodes, self._steps, ct, self._library,
                                   _array_ops() if ops is not None else None, k)
                    else:
                        for chunk in self._chunks:
                            chunk(ct)
        except Exception as e:
            if self.compiled:  # (a pass that raised is not kept for later ones: its source
                _forget_compiled(self._source, self.filename)  # goes with its traceback)
            self._annotate(e)
            raise
        return [ct.get(v.id) for v in self.wrt]

    def _annotate(self, e: BaseException) -> None:
        """Name the generated line and the user line it came from (never masking ``e``: an
        exception that interrupted the step loop between nodes gets no note)."""
        try:
            self._add_note(e)
        except Exception:  # noqa: BLE001 - the note is a courtesy; e is what the user gets
            pass

    def _add_note(self, e: BaseException) -> None:
        node, line = None, None
        tb = e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                line = tb.tb_lineno
            elif tb.tb_frame.f_code is _run_steps.__code__:
                node = tb.tb_frame.f_locals.get("node")
            tb = tb.tb_next
        if node is None and line is not None:
            node = self._line_node.get(line)
        elif node is not None:
            self.source  # noqa: B018 - generate it so the note can name the line
            line = next((k for k, n in self._line_node.items() if n is node), None)
        if node is not None:
            loc = node.loc
            e.add_note(f"framead: raised in the reverse pass at {self.filename}:{line} "
                       f"(the VJP of {node.name}), which differentiates {loc.file}:{loc.line}: "
                       f"{loc.source()}")
