"""Random generators a function can reach, and whether a run drew from them.

A trace that drew random numbers would repeat the recorded draw when replayed (a cached trace,
``vmap``'s one-pass trace): calls of a generator with constant arguments never reach framead's
recorder, so the generators ``f`` can reach are snapshotted before the capture and compared
after it (``Draws``). Reached: the global generators (``random``'s, NumPy's legacy one), the
closure cells, globals, defaults and wrapped functions of ``f`` and of the functions it names,
recursively, the arguments, and (a few levels deep) the attributes and items of the objects
met (``self.rng``, ``self.gens["a"]``).
A generator first met afterwards, among the functions that ran, counts as drawn from.

A sampler node with traced parameters holds its generator as a constant (``Draws.reason``
decides on it once the capture is over): one made inside the call (not reachable before it,
referenced by nothing but the trace after it: ``sys.getrefcount``) starts every call from
the same state, so a replay draws from the state each draw started from
(rules/random_draws.py ``Drawn``: what a JAX user gets from a key made inside a jitted
function); one that is not (an object array holding it too), or a draw whose
number of values depends on its traced parameters (gamma, beta...) followed by any other use
of its generator, makes the trace uncacheable, with the reason.
"""

from __future__ import annotations

import random
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .ir import Graph
from .rules.random_draws import Drawn, close_log, open_log, snapshot
from .rules.random_rules import Draw

RNG_TYPES = (np.random.Generator, np.random.RandomState, np.random.BitGenerator, random.Random,
             np.random.SeedSequence)
_ENTROPY_FILES = ("/random.py", "/secrets.py")
_MAX_FUNCTIONS = 64
_MAX_OBJECTS, _DEPTH = 512, 4
_CONTAINERS = (list, tuple, dict, set, frozenset)
_LIBRARIES = frozenset({"numpy", "scipy", "framead", "torch", "jax", "jaxlib", "builtins"})
DRAWS = "f draws random numbers: a replay would repeat the recorded draw"
_LEAVES = (type, np.ndarray, np.generic, str, bytes, int, float, complex, types.ModuleType)


def _frozen(x: Any) -> Any:
    """A bit generator's state dict as a comparable value (its arrays as bytes)."""
    if isinstance(x, dict):
        return tuple((k, _frozen(v)) for k, v in x.items())
    if isinstance(x, np.ndarray):
        return x.tobytes()
    return x


def _spawned(bits: Any) -> int:
    """How many children ``bits``' seed sequence spawned (``rng.spawn``: new streams)."""
    return getattr(getattr(bits, "seed_seq", None), "n_children_spawned", 0)


def state(g: Any) -> Any:
    """The part of ``g``'s state a draw (or a spawn) changes (cheap: NumPy's MT19937 dict is
    ~40 us)."""
    if isinstance(g, np.random.Generator):
        return _frozen(g.bit_generator.state), _spawned(g.bit_generator)
    if isinstance(g, np.random.BitGenerator):
        return _frozen(g.state), _spawned(g)
    if isinstance(g, np.random.RandomState):  # (with its cached second Gaussian)
        return _frozen(g.get_state(legacy=False))
    if isinstance(g, np.random.SeedSequence):
        return g.n_children_spawned
    return g.getstate()


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


def _members(o: Any) -> list:
    """One level inside an object: its attributes, or a container's items."""
    if isinstance(o, list | tuple | set | frozenset):  # (_CONTAINERS)
        return list(o)[:_MAX_FUNCTIONS]
    if isinstance(o, dict):
        return list(o.values())[:_MAX_FUNCTIONS]
    if isinstance(o, types.ModuleType):  # (only the names a function reads: reachable)
        return []
    d = getattr(o, "__dict__", None)
    out = list(d.values())[:_MAX_FUNCTIONS] if isinstance(d, dict) else []
    for name in getattr(type(o), "__slots__", ()) if not isinstance(o, type) else ():
        if isinstance(name, str) and hasattr(o, name):
            out.append(getattr(o, name))
    return out


def _opaque_holder(o: Any) -> bool:
    """An object array or a suspended generator: they hold objects the other walks skip."""
    if isinstance(o, np.ndarray):
        return o.dtype == object
    return isinstance(o, types.GeneratorType) and o.gi_frame is not None


def _library(fn: Any) -> bool:
    """NumPy's, SciPy's, the standard library's... functions hold no generator of the
    program's (only the global ones, always compared)."""
    root = (getattr(fn, "__module__", None) or "").partition(".")[0]
    return root in _LIBRARIES or root in sys.stdlib_module_names


def reachable(fns: Iterable[Any], objs: Iterable[Any] = (),
              seen: set[int] | None = None) -> dict[int, Any]:
    """Generators the functions ``fns`` and the objects ``objs`` reach (by id); ``seen``:
    the ids already walked (not walked again)."""
    found: dict[int, Any] = {id(random._inst): random._inst,
                             id(np.random.mtrand._rand): np.random.mtrand._rand}
    todo, seen = list(fns), set() if seen is None else seen
    others = list(objs)
    while todo:
        fn = todo.pop()
        if id(fn) in seen or len(seen) > _MAX_FUNCTIONS or _library(fn):
            continue
        seen.add(id(fn))
        got = [c.cell_contents for c in getattr(fn, "__closure__", None) or () if _filled(c)]
        code = getattr(fn, "__code__", None)
        if code is not None:
            g = getattr(fn, "__globals__", {})
            got += [g[k] for k in code.co_names if k in g]
            got += [m.__dict__[k] for m in got if isinstance(m, types.ModuleType)
                    for k in code.co_names if k in m.__dict__]  # (utils.rng.normal())
        got += [getattr(fn, a) for a in ("__wrapped__", "f", "__func__", "__self__", "func")
                if hasattr(fn, a)]
        got += list(getattr(fn, "__defaults__", None) or ())
        got += list((getattr(fn, "__kwdefaults__", None) or {}).values())
        for o in got:
            if callable(o) and not isinstance(o, (type, *RNG_TYPES)):
                todo.append(o)
            else:
                others.append(o)
    for _ in range(_DEPTH):  # objects, breadth first: self.env.gens["a"]
        inner: list = []
        for o in others:
            if isinstance(o, RNG_TYPES):
                found[id(o)] = o
            elif id(o) not in seen and len(seen) < _MAX_OBJECTS and _opaque_holder(o):
                seen.add(id(o))  # an object array's items, a suspended generator's locals
                inner += list(o.flat[:_MAX_FUNCTIONS]) if isinstance(o, np.ndarray) else \
                    list(o.gi_frame.f_locals.values())[:_MAX_FUNCTIONS]
            elif id(o) not in seen and not isinstance(o, _LEAVES) and \
                    len(seen) < _MAX_OBJECTS and (type(o) in _CONTAINERS or not _library(type(o))):
                seen.add(id(o))
                inner += _members(o)
        others = inner
    return found


def entropy_read(codes: Iterable[Any]) -> bool:
    """Whether a run ran the standard library's entropy sources (an unseeded
    ``np.random.default_rng()``, ``secrets``, ``random.SystemRandom``)."""
    return any(c.co_filename.endswith(_ENTROPY_FILES) for c in codes)


class Draws:
    """``Draws(f, args)`` before a run; ``.drawn(fns, codes)`` after it: whether the run
    drew random numbers (a generator's state changed, one was met only afterwards among
    the functions that ran, or an entropy source ran); ``.reason(fns, codes, graph)``: why
    the trace cannot be replayed, if so, its sampler nodes made replayable otherwise."""

    def __init__(self, f: Callable, args: Iterable[Any] = ()) -> None:
        self.f, self.args = f, tuple(args)
        self.before = {k: (g, state(g)) for k, g in reachable([f], self.args).items()}
        self.log = open_log()  # the traced draws' generators and states (closed by reason)

    def drawn(self, fns: Iterable[Any] = (), codes: Iterable[Any] = ()) -> bool:
        if entropy_read(codes):
            return True
        if any(state(g) != s for g, s in self.before.values()):
            return True
        # a fresh walk: a generator made during the call and kept where the first walk had
        # already looked (a lazily filled list, ``box.rng = default_rng()``) is found now
        return any(k not in self.before for k in reachable([self.f, *fns], self.args))

    def reason(self, fns: Iterable[Any] = (), codes: Iterable[Any] = (),
               graph: Graph | None = None) -> str | None:
        close_log(self.log)
        if self.drawn(fns, codes):
            return DRAWS
        return None if graph is None else replayable(graph, self.log.draws)


def _bits(g: Any) -> Any:
    """The bit generator a sampler's generator wraps (a fresh ``Generator(bits)`` of a
    long-lived ``bits`` goes on natively with it)."""
    return g.bit_generator if isinstance(g, np.random.Generator) else \
        getattr(g, "_bit_generator", g)


def _references(holder: tuple, k: int) -> int:
    """How many references ``holder[k]`` has (sys.getrefcount: any holder, an object array
    too, which the garbage collector cannot list)."""
    return sys.getrefcount(holder[k])


_BASE = _references((object(),), 0) - 1  # (this call's own references: 1 holder)


def replayable(graph: Graph, noted: list) -> str | None:
    """Why the sampler nodes of ``graph`` (their generators made during the call: ``Draws``
    found no other) cannot be replayed; None after giving each node the generator state its
    draw started from (``noted``: rules/random_draws.note, in the order of the draws)."""
    nodes = [n for n in graph.nodes if type(getattr(n.rule, "fn", None)) is Draw and n.args
             and not isinstance(n.args[0], Drawn)]
    if not nodes:
        return None
    queues: dict[int, list] = {}
    for d in noted:
        queues.setdefault(id(d.rng), []).append(d)
    pairs = []
    for n in nodes:
        queue = queues.get(id(n.args[0]))
        if not queue or queue[0].rng is not n.args[0]:
            return f"{n.name} at {n.loc.file}:{n.loc.line}: which generator state the draw " \
                "started from is not known, a replay could not repeat it"
        pairs.append((n, queue.pop(0)))
    if any(queues.get(id(n.args[0])) for n in nodes):
        n = nodes[0]
        return f"{n.name} at {n.loc.file}:{n.loc.line}: draws of its generator were not " \
            "recorded, a replay could not repeat them"
    wrapped = [id(_bits(w)) for w in {id(n.args[0]): n.args[0] for n in nodes}.values()]
    for n in {id(n.args[0]): n for n in nodes}.values():
        g = n.args[0]
        held = sum(a is g for m in graph.nodes for a in (*m.args, *(m.kwargs or {}).values()))
        held += sum(d.rng is g for d in noted)
        bits = (_bits(g),)  # held by g, by this trace's other wrappers of it and this tuple
        wrapping = wrapped.count(id(bits[0]))
        del g  # (the counts below must not see this frame's reference)
        if _references(n.args, 0) - held > _BASE or \
                _references(bits, 0) - 1 - wrapping > _BASE:  # something else holds it
            return f"{n.name} at {n.loc.file}:{n.loc.line} draws from a generator that " \
                "outlives the call (its stream goes on natively; a replay would repeat " \
                "the recorded draw)"
    last = {id(n.args[0]): d for n, d in pairs}
    for n, d in pairs:
        if d.after is not None and (last[id(d.rng)] is not d or
                                    _frozen(snapshot(d.rng)) != _frozen(d.after)):
            return f"{n.name} at {n.loc.file}:{n.loc.line} takes a number of values that " \
                "depends on its traced parameters from a generator used again afterwards: " \
                "a replay could not repeat the later draws"
    for n, d in pairs:
        n.args = (Drawn(d.rng, d.before), *n.args[1:])
    return None
