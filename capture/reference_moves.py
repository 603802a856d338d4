"""C callables that only move references to traced values, or that run Python code framead
instruments: a traced value they meet keeps its identity (and its trace), so calling them
natively loses no gradient and is no FA101 (call_kinds.py puts them in its table).

* ``_heapq``'s functions (``heapq.heapify``, ``_heapify_max``, ``_heapreplace_max``... that
  ``heapq.nlargest``/``nsmallest``/``merge`` call): they reorder the references in the list
  ``heap`` (argument 0) and store or return ``item`` (argument 1), deciding by comparison (a
  cached trace cannot re-make that order: ORDERING).
* exceptions built in C (``ValueError(x)``, ``KeyError(k, x)``, ``StopIteration(x)``,
  ``OSError(x, msg)``, a class statement's exception without a Python ``__init__``/
  ``__new__``, and ``super().__init__(x, msg)``, ``Exception.__init__(self, x)``,
  ``ValueError.__new__(cls, x)`` inside a Python one): ``BaseException.__new__``/
  ``__init__`` keep every argument by identity in ``args`` (and ``value``, ``code``,
  ``errno``... attributes), so ``except ValueError as e: e.args[0] * 2`` reads the traced
  value itself. What is lost is the exception's *text* (``str(e)`` formats the traced
  values in C): it is noted as text of traced values, so parsing it back is FA111, and a
  cached trace (which cannot guard that text) is not replayed.
* ``eval``/``exec``: they run a code object as a Python frame, which the PEP 523 hook
  rewrites like any other (a frame it refuses is FA103; framead's own and frozen files run
  natively as everywhere), so what the code computes is recorded there; the globals and
  locals given are passed by identity. What a cached trace cannot watch (the source text,
  the globals the code reads) makes the trace unreplayable.
* ``MOVES``: C callables that store some of their arguments by reference (``types.
  SimpleNamespace(a=x)``, ``cv.set(x)``, ``operator.setitem(L, i, x)`` of a list): only
  when every traced value is at a position they move (and the container written is a
  reference container) is the call native; else it is the unruled call it was (FA101).
"""

from __future__ import annotations

import _heapq
import builtins
import collections
import contextvars
import operator
import types
from dataclasses import dataclass
from typing import Any

from . import _evalframe as C
from .callables import callable_name, constructs_in_python, holds_traced
from .native import call_as_user, call_quiet

# every function of the C heap module (the private _max variants differ by version, 3.14
# makes them public): (callable, the argument positions it moves by reference)
HEAP_MOVES: dict[Any, tuple[int, ...]] = {
    f: (0, 1) for name, f in sorted(vars(_heapq).items())
    if callable(f) and not name.startswith("__")}
HEAP_FUNCTIONS = tuple(HEAP_MOVES)

# C callables that run a code object as an instrumented Python frame
CODE_RUNNERS = (builtins.eval, builtins.exec)


def builds_exception(fn: Any) -> bool:
    """``fn`` is BaseException's C construction (of any exception class built in C): the
    class itself, ``super().__init__`` bound to an exception, ``Exception.__init__``, or
    ``ValueError.__new__``."""
    t = type(fn)
    if t is type:
        return issubclass(fn, BaseException) and not constructs_in_python(fn)
    if t is types.MethodWrapperType:
        return fn.__name__ == "__init__" and isinstance(fn.__self__, BaseException)
    if t is types.WrapperDescriptorType:
        return fn.__name__ == "__init__" and issubclass(fn.__objclass__, BaseException)
    if t is types.BuiltinMethodType:
        owner = fn.__self__
        return fn.__name__ == "__new__" and isinstance(owner, type) and \
            issubclass(owner, BaseException)
    return False


EXCEPTION_CALL_TYPES = (type, types.MethodWrapperType, types.WrapperDescriptorType,
                        types.BuiltinMethodType)
# C containers whose text is their items' text (what BaseException.__str__ formats)
_CONTAINERS = (list, tuple, dict, set, frozenset, collections.deque)


def build_exception(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """An exception built in C from traced values: natively (it keeps them by identity);
    their text is noted (a parse of ``str(e)`` is FA111) and makes a cached trace
    unreplayable (``if "nan" in str(e)`` is a decision it could not guard)."""
    result = call_as_user(fn, args, kwargs)
    traced = _traced_leaves((args, kwargs))
    if traced:
        for v in traced:
            for show in (repr, str):
                rec.made_text(call_quiet(show, (v,), None), frame)
        if rec.guards is not None:
            rec.unreplayable.append(f"{callable_name(fn)} keeps traced values whose text a "
                                    "cached trace cannot guard")
    return result


def _traced_leaves(v: Any) -> list:
    """The traced values in ``v`` and the C containers inside it (an explicit stack)."""
    out: list = []
    stack: list[Any] = [v]
    seen: set[int] = set()
    while stack:
        x = stack.pop()
        if C.is_tracked(x):
            out.append(x)
        elif isinstance(x, _CONTAINERS) and id(x) not in seen:
            seen.add(id(x))
            base: Any = next(b for b in _CONTAINERS if isinstance(x, b))  # (C's, no override)
            c: Any = x
            stack.extend((*dict.keys(c), *dict.values(c)) if base is dict else
                         list(base.__iter__(c)))
    return out


def run_code(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """``eval(src, globals, locals)`` / ``exec(...)``: made as the user's frame makes it (the
    caller's globals and locals by default), its frame instrumented. In a cached trace, the
    text and the globals it reads are not watched: the trace is not replayed."""
    if rec.guards is not None:
        rec.unreplayable.append(f"{callable_name(fn)} runs code a cached trace cannot watch")
    return call_as_user(fn, args, kwargs)


@dataclass(frozen=True, slots=True)
class Moves:
    """Where a C callable keeps its arguments by reference (positions count a bound
    method's ``self`` as 0): ``whole``, the object itself; ``items``, a list/tuple/dict's
    items (C iterates it: a traced array there would give untraced scalars); ``keywords``:
    keyword values, by reference. ``target``: (position, types) of the container written,
    which must be one of these exact types (an ndarray's buffer would keep C doubles)."""

    whole: tuple[int, ...] = ()
    items: tuple[int, ...] = ()
    keywords: bool = False
    target: tuple[int, tuple[type, ...]] | None = None


_REFS = (list, dict, collections.deque)  # containers that keep references
_SEQS = (list, tuple)
_ITEMS = (list, tuple, dict)  # (what an ``items`` position may hold: its items are moved)
_SETITEM = Moves(whole=(0, 2), target=(0, _REFS))  # (container, key, value)
_CONCAT = Moves(whole=(0,), items=(1,), target=(0, _SEQS))  # (L += arr iterates arr)
MOVES: dict[Any, Moves] = {
    types.SimpleNamespace: Moves(items=(0,), keywords=True),
    types.MappingProxyType: Moves(whole=(0,)),
    contextvars.ContextVar: Moves(keywords=True),  # (name, default=x)
    contextvars.ContextVar.set: Moves(whole=(0, 1)),
    collections.deque.insert: Moves(whole=(0, 2)),
    collections.deque.__setitem__: _SETITEM,
    list.__setitem__: _SETITEM, dict.__setitem__: _SETITEM, operator.setitem: _SETITEM,
    list.__getitem__: Moves(whole=(0,)), list.__add__: _CONCAT, list.__iadd__: _CONCAT,
    operator.concat: _CONCAT, operator.iconcat: _CONCAT,
    **{f: Moves(whole=(0, 1)) for f in HEAP_FUNCTIONS}}
_C_METHODS = (types.MethodDescriptorType, types.WrapperDescriptorType)
MOVE_TYPES = (type, types.BuiltinFunctionType, types.MethodDescriptorType,
               types.WrapperDescriptorType, types.MethodWrapperType)


def unbound(fn: Any) -> tuple[Any, Any]:
    """``fn`` as MOVES names it, and the ``self`` a bound C method adds (or None): ``cv.set``
    is ``ContextVar.set`` with ``cv``, ``L.__setitem__`` is ``list.__setitem__`` with ``L``."""
    if type(fn) in (types.BuiltinMethodType, types.MethodWrapperType):
        self_ = fn.__self__
        if self_ is not None and not isinstance(self_, types.ModuleType | type):
            name = fn.__name__  # (the C method it binds: a subclass's own Python one aside)
            return next((k.__dict__[name] for k in type(self_).__mro__
                         if isinstance(k.__dict__.get(name), _C_METHODS)), None), self_
    return fn, None


def moves_references(fn: Any) -> bool:
    """Whether ``fn`` (or the C method it binds) is in MOVES."""
    try:
        return unbound(fn)[0] in MOVES
    except TypeError:  # (an unhashable callable object)
        return False


def move_call(rec: Any, fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """A MOVES callable: natively when it only moves the traced values it is given, else
    the call without a rule it was (unruled.unknown_call: FA101, writes into traced arrays
    made constants)."""
    base, self_ = unbound(fn)
    spec = MOVES[base]
    full = args if self_ is None else (self_, *args)
    if _only_moved(spec, full, kwargs):
        return call_as_user(fn, args, kwargs)
    return rec.unknown_call(fn, args, kwargs, frame)


def _only_moved(spec: Moves, args: tuple, kwargs: dict) -> bool:
    if spec.target is not None:
        at, types_ = spec.target
        if at >= len(args) or type(args[at]) not in types_:
            return False
    if spec is _SETITEM and len(args) == 3 and type(args[1]) is slice:
        spec = Moves(items=(2,))  # L[i:j] = items: C iterates the value
    for k, a in enumerate(args):
        if k in spec.whole or (k in spec.items and isinstance(a, _ITEMS)):
            continue
        if holds_traced(a, True):
            return False
    return spec.keywords or not any(holds_traced(v, True) for v in kwargs.values())
