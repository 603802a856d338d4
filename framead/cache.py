"""Cached traces: ``grad(f, cache=True)`` / ``value_and_grad(f, cache=True)``.

The first call captures ``f`` as usual, also recording every decision the program made on a
traced value (comparisons, ``int()``/``round()``/``floor``, boolean masks, ``argmax``, the
item ``min``/``max``/``sorted`` picked, the order ``list.sort`` made, predicates such as
``bool(x)``, ``math.isclose``, ``math.isnan``, ``np.allclose``...). Higher-order traces
(``jit(hessian(f))``) record the inner derivative code as well, whose decisions are
comparisons too (rules/registry.py), so they are re-checked the same way.
The trace becomes a replay (framead/replay.py): generated forward code that recomputes every
value and re-checks each decision, then the generated reverse pass (long traces: the same
actions as steps run by a loop, framead/replay_steps.py, so the first reuse costs about what
the capture did instead of compiling every line). Later calls whose inputs
have the same structure run the replay *without instrumentation*; a decision that comes out
differently raises ``Miss`` and the call is captured again (a new trace is cached beside the
old one, up to ``MAX_TRACES`` per input signature). A replay that raises (``math.log`` of a
value the recording did not meet) is a miss too (``stats["replay_raised"]`` counts them): the
capture then runs the program, which raises or catches the error itself. Warnings are the
native run's (framead/replay_graph.py ``gated``): a trace whose capture issued one, or left
NumPy's error state or the warnings filters changed, is not cached; a replay that would warn,
or meet a floating-point error that NumPy's error state does not ignore where it occurs (the
call's, or the program's own np.errstate/np.seterr as the capture met it there:
replay_graph.FpPlan), is a miss before anything is shown (``stats["replay_warned"]``).

What a cached trace depends on, and how each is checked (docs/internals.md, "Cached traces"):

* the differentiated arguments' types, shapes and dtypes (the signature);
* the other arguments and keyword arguments: equal values (arrays: same bytes; from 64 KiB
  on, same SHA-256 digest of their bytes, so no copy of them is kept). The replay keeps no
  copy of such a large static array either: the constants the trace read that hold its
  bytes are read from the call's own argument (a read-only view; a copy for this call
  where its layout is not the one read), so a cache entry costs no memory for it;
* every decision on a traced value (guards in the replay);
* ``f``'s code, defaults and closure cells and those of every Python function it passed a
  traced value to (numbers, strings, arrays and plain tuples/lists/dicts of them by value,
  objects of user classes by identity and attributes, anything else by identity: the object is
  held, so its id cannot be reused), and the module globals that any code run during the
  capture reads by name (numbers, strings, arrays, tuples, lists and dicts by value, larger
  lists and dicts by the objects they hold, a list the capture itself changed by identity,
  objects of user classes by their attributes, anything else by identity):
  framead/fingerprints.py.

Not cacheable (every call is captured, ``stats["uncacheable"]`` says why): traces with a
hazard other than FA102 (an unknown C function, an uninstrumented frame...), traces using
the eager fallback or a solver/engine node, and values derived where framead cannot re-run
them. Not detected: state changed behind framead's back in objects the program reads
(an item changed in place in a global list or dict of more than 64 items, a list the
program itself changes, attributes of library objects, random number generators, files) and
``if x:`` on a bare traced float (no probe sees a truth test: write ``if x != 0:`` or
``if bool(x):``); call ``.clear()`` after changing such state, or do not cache.
"""

from __future__ import annotations

import functools
import sys
import sysconfig
import threading
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import tree
from .capture.buffers import fresh_copy
from .capture.primitive_rules import CONST_RULE
from .capture.session import _is_differentiable_internal, outer_recorder
from .capture.sourceloc import is_framead_file
from .fingerprints import (
    DIGEST_BYTES,
    _array_fingerprint,
    _Ident,
    fingerprint,
    global_guard,
    lists_before,
)
from .inputs import Differentiated, default_argnums
from .ir import Graph, Value
from .nonfinite import has_nan, report_nonfinite, value_is_finite
from .randomness import Draws
from .replay import Replay
from .replay_graph import (
    CaptureWarnings,
    FpPlan,
    Miss,
    NotReplayable,
    Warned,
    gated,
    ignored,
)
from .replay_nodes import static_args, static_digests
from .tracing import (
    call_top,
    capture_for_cache,
    describe,
    norm_argnums,
    paused_gc,
    scalar_seed,
    unit_seed,
    user_facing,
)

MAX_TRACES = 8
MAX_REASONS = 16  # distinct reasons kept in stats["reasons"] (stats["uncacheable"] counts all)


def _signature(args: tuple, kwargs: dict, spec: Differentiated) -> tuple:
    """The differentiated arguments' structures and leaf types/shapes/dtypes, every other
    argument's value, and how the arrays among them alias."""
    sig: list = [spec.signature(fingerprint)]
    sig += [fingerprint(a) for i, a in enumerate(args) if i not in spec.trees]
    sig.append(tuple(sorted((k, fingerprint(v)) for k, v in kwargs.items())) if kwargs else ())
    arrays = [((i, k), v) for i, t in spec.trees.items() for k, v in enumerate(t.leaves)
              if isinstance(v, np.ndarray)]
    seen: set[int] = set()
    for i, a in enumerate(args):  # also the arrays inside the other arguments' containers:
        if i not in spec.trees:   # f(p, [p["w"]]) is not the program f(p, [copy]) runs
            _arrays_in(a, (i,), arrays, seen)
    for k, v in sorted(kwargs.items()):
        _arrays_in(v, (k,), arrays, seen)
    sig.append(_aliasing(arrays, {}) if arrays else ())  # (no arrays: no aliasing)
    return tuple(sig)


def _arrays_in(x: Any, key: tuple, out: list, seen: set[int]) -> None:
    """(key, array) for every array in ``x`` and in the lists, tuples and dicts it holds
    (the containers framead copies around them, framead/inputs.py ``copy_arguments``)."""
    if isinstance(x, np.ndarray):
        out.append((key, x))
    elif isinstance(x, list | tuple | dict) and id(x) not in seen:
        seen.add(id(x))
        items = x.items() if isinstance(x, dict) else enumerate(x)
        for k, v in items:
            _arrays_in(v, (*key, k), out, seen)


def _owner(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _aliasing(args: list[tuple[Any, Any]], kwargs: dict) -> tuple:
    """Which array arguments (``args``: (key, argument) pairs; also container leaves) are one
    object (``(i, j)``), or views of one buffer (with how they sit in it): a trace of
    ``f(x, y)`` is not the program ``f(x, x)`` runs."""
    arrays = [(k, a) for k, a in (*args, *sorted(kwargs.items()))
              if isinstance(a, np.ndarray)]
    out = []
    for p, (i, a) in enumerate(arrays):
        for j, b in arrays[p + 1:]:
            if a is b:
                out.append((i, j))
            elif _owner(a) is _owner(b) or np.may_share_memory(a, b):
                where = a.__array_interface__["data"][0] - b.__array_interface__["data"][0]
                out.append((i, j, where, a.strides, b.strides, a.dtype.str, b.dtype.str))
    return tuple(out)


class WatchedGlobals:
    """Globals and closure cells read by the functions a trace ran, as they were: ``fns``
    (with their closures and defaults), and the module globals named by the code objects
    that ran during the capture."""

    def __init__(self, fns: list, codes: list = (), before: dict | None = None) -> None:
        self.checks: list[tuple[Callable, Callable, Any]] = []  # (get, fingerprint, was)
        self.before = before or {}  # fingerprints.lists_before
        seen: set[int] = set()
        for fn in fns:
            fn = getattr(fn, "__func__", fn)
            if not isinstance(fn, types.FunctionType) or id(fn) in seen:
                continue
            seen.add(id(fn))
            self._watch(fn)
        self._watch_codes(codes)

    def _watch_codes(self, codes: list) -> None:
        codes = [c for c in codes if not is_framead_file(c.co_filename)
                 and not c.co_filename.startswith(_STDLIB)]
        if not codes:
            return
        by_file = {}
        for mod in list(sys.modules.values()):
            f = getattr(mod, "__file__", None)
            if f:
                by_file[f] = mod.__dict__
        watched: set[tuple[int, str]] = set()
        for code in codes:
            g = by_file.get(code.co_filename)
            if g is None:
                continue
            for name in code.co_names:
                if name in g and (id(g), name) not in watched:
                    watched.add((id(g), name))
                    self._add(functools.partial(_global, g, name),
                              global_guard(self.before, g[name]))

    def _watch(self, fn: types.FunctionType) -> None:
        self._add(lambda fn=fn: fn.__code__, fingerprint)
        self._add(lambda fn=fn: fn.__defaults__, fingerprint)
        for name in _names(fn.__code__):
            if name in fn.__globals__:
                self._add(functools.partial(_global, fn.__globals__, name),
                          global_guard(self.before, fn.__globals__[name]))
        for k in range(len(fn.__closure__ or ())):
            try:
                self._add(functools.partial(_cell, fn, k), fingerprint)
            except ValueError:  # an empty cell
                continue

    def _add(self, get: Callable, fp: Callable) -> None:
        self.checks.append((get, fp, fp(get())))

    def valid(self) -> bool:
        for get, fp, was in self.checks:
            try:
                now = get()
                if type(was) is _Ident and was.obj is now and type(now) is not dict:
                    continue  # (by identity still: no fingerprint made; a dict's may not be)
                now = fp(now)
            except Exception:  # noqa: BLE001 - a vanished global: the trace is stale
                return False
            if now != was:
                return False
        return True


_STDLIB = sysconfig.get_paths()["stdlib"] + "/"


def _names(code: types.CodeType) -> set[str]:
    out = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            out |= _names(c)
    return out


def _global(g: dict, name: str) -> Any:
    return g[name]


def _cell(fn: types.FunctionType, k: int) -> Any:
    return fn.__closure__[k].cell_contents


def _static_matcher(digests: tuple) -> Callable | None:
    """``Replay``'s ``static``: the path of the static array with a constant's bytes."""
    if not digests:
        return None
    by_meta: dict[tuple, list] = {}
    for path, fp in digests:
        by_meta.setdefault((fp[1], fp[2]), []).append((path, fp))

    def match(c: np.ndarray) -> tuple | None:
        found = by_meta.get((c.shape, c.dtype.str))
        if not found or c.nbytes < DIGEST_BYTES:
            return None
        fp = _array_fingerprint(c)
        return next((path for path, f in found if f == fp), None)
    return match


def _detached(x: Any, owners: set[int]) -> Any:
    """``x``, or a copy of it where it is an array sharing a caller's argument's memory."""
    if isinstance(x, np.ndarray) and id(_owner(x)) in owners:
        return x.copy()
    return x


class _Entry:
    """One cached trace: its replay (generated on first reuse, so a call that is never
    repeated costs no more than an uncached one), output structure and what it depends on."""

    def __init__(self, graph: Graph, wrt: list[Value], guards: tuple, out_treedef: Any,
                 globals_: WatchedGlobals, digests: tuple = (), fp: FpPlan | None = None,
                 quiet: bool = False):
        # the recorded graph and the inputs differentiated (not the trace: its reverse pass
        # goes with the first call); None once the replay is made: it owns the graph
        self.recorded: tuple[Graph, list[Value]] | None = (graph, wrt)
        self.guards: tuple | None = guards
        self.out_treedef = out_treedef
        self.globals = globals_
        self.digests: tuple | None = digests  # (static_digests; None once the replay is made)
        # the NumPy error state the capture ran under where the program set or read it
        # (replay_graph.FpPlan); None: the call's error state holds (replay_graph.gated)
        self.fp = fp
        self.quiet = quiet  # the capture issued warnings, all ignored: a replay needs that
        self._replay: Replay | None = None
        self._making = threading.Lock()  # threads sharing the cache wait for one replay

    @property
    def replay(self) -> Replay:
        rp = self._replay
        if rp is None:
            with self._making:  # (the graph can be handed to one replay only)
                rp = self._replay
                if rp is None:
                    rp = self._replay = _replay_of(self)
        return rp

    def run(self, inputs: list, seed_of: Callable | None, args: tuple = (),
            kwargs: dict | None = None) -> tuple[Any, list]:
        """(value, cotangents of the inputs); ``seed_of`` None: the value only. ``args``,
        ``kwargs``: the call's, whose large static arrays the replay reads."""
        if self.quiet and not ignored(Warning):
            raise Warned("the capture's warnings were ignored; they no longer are")
        rp = self.replay
        statics = static_args(rp.static_keys, args, kwargs or {}) if rp.static_keys else ()
        env = gated(lambda: rp.forward(inputs, statics), self.fp, rp.fp_first)
        outs = rp.outputs(env)
        owners = {id(_owner(a)) for a in statics if a.base is not None}
        if owners:  # (a result is never the caller's array, nor a view of it)
            outs = [_detached(x, owners) for x in outs]
        value = tree.unflatten(self.out_treedef, outs)
        if seed_of is None:
            return value, []
        v = rp.output_ids[0]
        seeds = {v: seed_of(value)} if v is not None else {}
        grads = rp.backward(env, seeds) if seeds else [None] * len(rp.wrt_ids)
        return value, [_detached(g, owners) for g in grads] if owners else grads


def _drop(entries: list, entry: _Entry) -> None:
    """Remove ``entry`` from its signature's list (another thread may have done it first)."""
    try:
        entries.remove(entry)
    except ValueError:
        pass


def _replay_of(entry: _Entry) -> Replay:
    """The replay of ``entry``'s graph, which it hands over: the replay is the graph's only
    holder, so each node is freed as its steps are made (the steps reuse its memory), and the
    entry keeps neither the graph nor the guards (their recorded values) afterwards."""
    recorded, guards, match = entry.recorded, entry.guards, _static_matcher(entry.digests or ())
    if recorded is None or guards is None:  # a first attempt raised part way through
        raise NotReplayable("the replay of this trace could not be built")
    entry.recorded = entry.guards = entry.digests = None
    graph, wrt = recorded
    del recorded
    return Replay(graph, wrt, guards=guards, consume=True, static=match, fp=entry.fp)


def uncacheable_reason(t: Any, rec: Any) -> str | None:
    bad = [h for h in t.hazards if h.code != "FA102"]
    if bad:
        return f"{bad[0].code} at {bad[0].loc.file}:{bad[0].loc.line}"
    if rec.unreplayable:  # choices a replay cannot re-make (min(key=...), bisect, heapq)
        return rec.unreplayable[0]
    for node in t.graph.nodes:
        if node.rule is CONST_RULE:
            continue
        code = getattr(getattr(node.rule, "fn", None), "__code__", None)
        if not hasattr(node.rule, "fn") or (code is not None and is_framead_file(
                code.co_filename) and not _is_differentiable_internal(code.co_filename)):
            # solver adjoints and engines keep per-call state: re-capture each time
            return f"{node.name} at {node.loc.file}:{node.loc.line} cannot be re-run"
    return None


NAN_GRADIENT = ("the gradient holds a NaN where the value is finite (FA112): not cached, each "
                "such call is captured again to say where the NaN is born")


class CachedValueAndGrad:
    """``value_and_grad(f, cache=True)``: see the module docstring."""

    value_only = False

    def __init__(self, f: Callable, argnums: int | Sequence[int] | None,
                 strict: bool | None, has_aux: bool = False,
                 uncached: Callable | None = None):
        self.f = f
        self.argnums = argnums
        self.strict = strict
        self.has_aux = has_aux
        self.uncached = uncached  # called instead inside another capture (value_and_grad)
        functools.update_wrapper(self, f)  # before the state: f's own .stats must not win
        self._traces: dict[tuple, list[_Entry]] = {}
        self._nums: dict[int, tuple[int, ...]] = {}  # argnums normalised, by len(args)
        self.stats = {"hits": 0, "misses": 0, "captures": 0, "uncacheable": 0, "reasons": [],
                      "replay_raised": 0, "replay_warned": 0}

    def clear(self) -> None:
        """Forget every cached trace (after changing state the traces may have read)."""
        self._traces.clear()

    def __call__(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        nums = self._nums.get(len(args))
        if nums is None:
            nums = norm_argnums(self._argnums(args), len(args))
            if type(self.argnums) in (int, tuple):  # (immutable: normalised once per count)
                self._nums[len(args)] = nums
        if outer_recorder() is not None:  # inside another capture: no shortcuts
            if self.value_only:
                return call_top(self.f, args, kwargs)
            assert self.uncached is not None  # (value_and_grad gives it)
            return self.uncached(*args, **kwargs)
        spec = Differentiated(args, nums, self.f)  # clear errors for what cannot be an input
        try:
            sig = _signature(args, kwargs, spec)
            entries = self._traces.get(sig, [])  # (hashed once: unhashable raises here)
        except TypeError:
            sig, entries = None, []
        if sig is not None and any(len(p) > 2 for p in sig[-1]):
            # views of one buffer (not one object): a trace reads the part of that buffer
            # no argument covers as it was, so it is valid for this call only
            sig, entries = None, []
        if entries:
            inputs = [(fresh_copy(v) if type(v) is np.ndarray else np.array(v, copy=True))
                      if isinstance(v, np.ndarray) else v for v in spec.leaves()]
            for entry in list(entries):
                if not entry.globals.valid():
                    _drop(entries, entry)
                    continue
                try:
                    with paused_gc():
                        value, grads = entry.run(
                            inputs, None if self.value_only else self._seed, args, kwargs)
                except Warned as e:  # before anything is shown: the program warns itself
                    self.stats["misses"] += 1
                    self.stats["replay_warned"] += 1
                    self._note(str(e))
                    continue
                except Miss:
                    self.stats["misses"] += 1
                    continue
                except NotReplayable as e:
                    _drop(entries, entry)
                    self._uncacheable(str(e))
                    continue
                except Exception:  # noqa: BLE001 - the replay raised (math.log of a value
                    # the recording did not meet): the program may catch it and go on
                    # another path, or raise it itself; a miss, captured again as natively
                    self.stats["misses"] += 1
                    self.stats["replay_raised"] += 1
                    continue
                if not self.value_only and any(map(has_nan, grads)) and \
                        value_is_finite(self._pair(value)[0] if self.has_aux else value):
                    # FA112: the capture below names where the NaN is born (and keeps no trace)
                    self.stats["misses"] += 1
                    break
                self.stats["hits"] += 1
                return value if self.value_only else self._result(value, grads, spec)
        return self._capture(args, kwargs, nums, sig)

    def _argnums(self, args: tuple) -> Any:
        if self.argnums is not None:
            return self.argnums
        return default_argnums(args)  # every argument holding floats

    def _seed(self, value: Any) -> Any:
        if self.has_aux:
            value = value[0]
        return unit_seed(value)

    def _result(self, value: Any, grads: list, spec: Differentiated) -> tuple[Any, Any]:
        """(value, gradient): the gradient with the arguments' structures; with ``has_aux``
        the value is ``(loss, aux)`` as ``f`` returned it."""
        if self.has_aux:
            value = (self._pair(value)[0], value[1])
        out = spec.pack(grads)
        return value, (out[0] if isinstance(self.argnums, int) else out)

    def _pair(self, value: Any) -> Any:
        if not (isinstance(value, tuple | list) and len(value) == 2):
            raise TypeError(f"has_aux=True requires {getattr(self.f, '__qualname__', self.f)}"
                            f" to return a pair (output, aux); it returned {describe(value)}")
        return value

    def _uncacheable(self, reason: str) -> None:
        self.stats["uncacheable"] += 1
        self._note(reason)

    def _note(self, reason: str) -> None:
        reasons = self.stats["reasons"]  # distinct and bounded: one per call would grow
        if reason not in reasons and len(reasons) < MAX_REASONS:
            reasons.append(reason)

    def _capture(self, args: tuple, kwargs: dict, nums: tuple[int, ...], sig: Any):
        self.stats["captures"] += 1
        draws = Draws(self.f, (*args, *kwargs.values()))
        lists = lists_before(self.f)
        with CaptureWarnings() as warned:
            t, rec, fns, codes = capture_for_cache(self.f, args, kwargs, nums, self.strict)
        warned.check_codes(codes)
        fp = warned.plan(rec)
        spec = t.spec
        try:
            reason = uncacheable_reason(t, rec) if sig is not None else \
                "unhashable arguments, or array arguments that are views of one buffer"
            reason = reason or warned.reason or draws.reason(fns, codes, t.graph)
            guards: tuple | None = tuple(rec.guards)
            rec = None  # (its table of values goes before the reverse pass runs)
            grads: list = []
            if not self.value_only:
                fname = getattr(self.f, "__qualname__", repr(self.f))
                loss = t.value
                if self.has_aux:  # the trace keeps (loss, aux): a replay remakes both
                    loss = self._pair(t.value)[0]
                seed = scalar_seed(loss, t, fname)
                v = t.graph.outputs[0]
                with paused_gc():
                    grads = t.backward()({v.id: seed}) if isinstance(v, Value) else \
                        [None] * len(t.wrt)
                if any(map(has_nan, grads)) and value_is_finite(loss):
                    report_nonfinite(t.backward(), {v.id: seed}, fname, t.strict)
                    reason = reason or NAN_GRADIENT
            if reason is None:
                entries = self._traces.setdefault(sig, [])
                entries.insert(0, _Entry(t.graph, t.wrt, guards, t.out_treedef,
                                         WatchedGlobals([self.f, *fns], codes, lists),
                                         static_digests(sig, args, spec),
                                         fp, warned.quiet))
                del entries[MAX_TRACES:]
            else:
                self._uncacheable(reason)
            return t.value if self.value_only else self._result(t.value, grads, spec)
        finally:
            # a frame the program kept (sys._getframe(), a traceback) keeps this one, with its
            # locals as they are when it returns: they must not hold the recording then
            t = rec = fns = codes = v = spec = guards = fp = draws = None


class CachedFunction(CachedValueAndGrad):
    """``framead.jit(f)``: ``f``'s value through a cached trace (see the module docstring).
    ``f`` may itself call framead (``jit(grad(f))``): the derivative is recorded with it and
    replayed too."""

    value_only = True


def jit(f: Callable, argnums: int | Sequence[int] | None = None, *,
        strict: bool | None = None) -> Callable:
    """``framead.jit(f)(*args)``: the value of ``f(*args)``, recorded once and re-run as
    generated code (without running ``f``) while the recorded decisions hold, like
    ``grad(f, cache=True)``. The float/array arguments (or ``argnums``) are the inputs; the
    others are static. ``jit(grad(f))`` caches a gradient; ``.stats`` and ``.clear()`` as for
    cached gradients.

    >>> f = framead.jit(lambda x: np.sum(np.sin(x) ** 2))
    >>> float(f(np.zeros(3))), float(f(np.full(3, np.pi / 2)))  # recorded, then replayed
    (0.0, 3.0)
    >>> f.stats["captures"], f.stats["hits"]
    (1, 1)
    """
    cached = CachedFunction(f, argnums, strict)
    return with_cache_controls(user_facing(cached), cached)


def with_cache_controls(wrapper: Any, cached: Any) -> Any:
    """``wrapper`` (a function around the cache ``cached``) given its ``.stats`` and
    ``.clear()``."""
    wrapper.stats, wrapper.clear = cached.stats, cached.clear
    return wrapper
