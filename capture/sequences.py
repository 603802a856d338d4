"""Sequences NumPy and math read in C through the sequence protocol: list/tuple subclasses
(namedtuples), deques, UserLists and objects of Python classes with ``__len__`` and
``__getitem__`` and no array protocol. NumPy's array coercion (``PySequence_Size``, then
``PySequence_Fast``: a list/tuple subclass's storage, any other sequence ``list(obj)``) builds
its array from what they hold where framead cannot see it. A rule's argument holding traced
values is read here first, with the same calls in the same order (Python code they run,
instrumented), as the exact list/tuple the callee then converts (calls.dispatch asks here;
the list path, ``Recorder._coerce_args``, records its conversion). What cannot be mirrored
runs as it is, and a traced value inside is reported (``lost``: FA101)."""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

from .callables import HEAPTYPE, holds_traced
from .native import call_as_user
from .operators import BINARY_NAMES
from .overrides import TRACER_TYPES, python_attr
from .values import sequence_items

NO_SLOT: Any = object()  # nothing converted: the call as before
_ARRAY_LIKE = ("__array__", "__array_interface__", "__array_struct__", "__buffer__",
               "__array_ufunc__", "__array_function__")
_NOT_SEQUENCES = (dict, str, bytes, bytearray, memoryview, np.ndarray, np.generic, float, int,
                  complex, type)
_UNMIRRORED = ("__getattr__", "__getattribute__")  # run by NumPy's protocol lookups
_MAX_DEPTH = 32
_FATAL = (RecursionError, MemoryError)  # (errors of __len__ NumPy does not clear)


def is_sequence(x: Any) -> bool:
    """``x`` is read by NumPy's coercion as a sequence framead's list path does not take as
    it is: a list/tuple subclass or deque (their items), a Python class's object with
    ``__len__`` and ``__getitem__`` (UserList's included); none with an array protocol or
    override NumPy would use instead, or an attribute hook its lookups would run."""
    t = type(x)
    if t is list or t is tuple:
        return False
    if isinstance(x, list | tuple | collections.deque):
        return not _array_like(x)
    if not t.__flags__ & HEAPTYPE or isinstance(x, _NOT_SEQUENCES):
        return False
    return _has(t, "__len__") and _has(t, "__getitem__") and not _array_like(x)


def _has(t: type, name: str) -> bool:
    return any(name in k.__dict__ for k in t.__mro__[:-1])  # (not object's)


def _array_like(x: Any, hooks: bool = True) -> bool:
    """An array protocol or override (``hooks``: or an attribute hook) on ``x``'s class."""
    t = type(x)
    if any(python_attr(t, n) for n in (*_ARRAY_LIKE, *(_UNMIRRORED if hooks else ()))):
        return True
    try:
        d = object.__getattribute__(x, "__dict__")
    except AttributeError:
        return False
    return type(d) is dict and "__array_interface__" in d


def reads_in_python(x: Any) -> bool:
    """Reading ``x``'s items runs Python code of its class (a UserList, a user sequence, a
    list subclass's own ``__len__`` or ``__iter__``): what it yields is not known before."""
    return sequence_items(x) is None or bool(type(x).__flags__ & HEAPTYPE and (
        type(x) is not collections.deque) and (  # (3.12+: the C deque is a heap type)
        isinstance(x, collections.UserList | collections.deque) or
        python_attr(type(x), "__len__") or python_attr(type(x), "__iter__")))


def holds(rec, x: Any, depth: int = 0, seen: set | None = None) -> bool:
    """Whether converting ``x`` as NumPy does can give traced values: a sequence
    (``is_sequence``) holding traced values (a deep scan for one that reads them with its
    own code), or an exact list/tuple with one inside."""
    t = type(x)
    if t is list or t is tuple:
        seen = set() if seen is None else seen
        if id(x) in seen or depth > _MAX_DEPTH:
            return False
        seen.add(id(x))
        return any(type(i) not in _SCALARS and holds(rec, i, depth + 1, seen) for i in x)
    if not is_sequence(x):
        return False
    if reads_in_python(x):
        return holds_traced(x, deep=True)
    read = sequence_items(x)
    return rec.tree_value(x) is not None or read is not None and any(
        type(i) not in _SCALARS and holds(rec, i, depth + 1, seen) for i in read[1])


_SCALARS = frozenset({float, int, bool, complex, str, type(None), np.ndarray, np.float64})


def numpy_read(x: Any, depth: int = 0) -> Any:
    """``x`` as NumPy's coercion reads it: an exact list (a tuple for a tuple subclass) of
    its items, themselves read so, made with the calls NumPy makes (``len(x)``, then the
    storage of a list/tuple subclass, ``list(x)`` of others), run as the user's code; ``x``
    itself where nothing changes or NumPy would not read it as a sequence (its ``__len__``
    fails: a scalar to NumPy; ``list(x)`` raises KeyError: a mapping)."""
    t = type(x)
    if depth > _MAX_DEPTH or not (t is list or t is tuple or is_sequence(x)):
        return x
    if t is list or t is tuple:
        kind, items = t, x
    else:
        try:
            call_as_user(len, (x,), None)  # (PySequence_Size: a Python __len__ runs)
        except _FATAL:
            raise
        except Exception:  # NumPy clears it: x is a scalar to NumPy
            return x
        read = sequence_items(x) if isinstance(x, list | tuple) else None
        if read is not None:  # (PySequence_Fast: a list/tuple subclass's storage, as it is now)
            kind, items = read
        else:
            try:
                kind, items = list, call_as_user(list, (x,), None)
            except KeyError:  # (NumPy: a mapping, a scalar to it)
                return x
    out = [numpy_read(i, depth + 1) if type(i) not in _SCALARS else i for i in items]
    if kind is t and all(o is i for o, i in zip(out, items, strict=True)):
        return x
    return kind(out)


def iter_read(x: Any) -> Any:
    """``x`` as math's C functions read an iterable: a tuple subclass's storage
    (``PyTuple_Check``), else the items its iteration gives (``tuple(x)``, run as the user's
    code)."""
    if isinstance(x, tuple):
        read = sequence_items(x) if type(x) is not tuple else None
        return x if read is None else read[1]
    return list(call_as_user(tuple, (x,), None))


def how(rule, callee: Any) -> str | None:
    """How ``callee`` (with ``rule``) reads a sequence argument: "array" (NumPy's coercion:
    NumPy's and SciPy's functions, every ufunc), "iter" (math's functions), None: unknown."""
    if isinstance(callee, np.ufunc) or isinstance(getattr(callee, "__self__", None), np.ufunc):
        return "array"
    name = rule.name
    if name.startswith(("np.", "ndarray.", "scipy.")):
        return "array"
    return "iter" if name.startswith("math.") else None


def convert_arguments(rec, rule, fn: Any, args: tuple, kwargs: dict, node_args: tuple,
                      perform: Any) -> Any:
    """The call's arguments (``(args, kwargs, node_args, perform)``) with each sequence
    holding traced values (``holds``; an exact list/tuple holding one, or holding traced
    values next to a constant one) replaced by the exact list/tuple the callee would read
    from it, read now as it would (in argument order; np.dot reads them all twice); NO_SLOT:
    none, or a callee whose reading is not known (``lost`` reports what stays)."""
    callee = getattr(perform, "fn", None) or perform or fn
    mode = how(rule, callee)
    if mode is None:
        return NO_SLOT
    todo = [a for a in (*node_args, *kwargs.values()) if type(a) not in _SCALARS and (
        holds(rec, a) or (type(a) is list or type(a) is tuple) and
        rec.tree_value(a) is not None)]
    done: dict[int, tuple] = {}
    for _ in range(2 if mode == "array" and id(callee) in _READ_TWICE else 1):
        for a in todo:
            new = numpy_read(a) if mode == "array" else iter_read(a)
            if new is not a:
                done[id(a)] = (a, new)  # (keeps a alive: ids stay unique)
    if not done:
        return NO_SLOT

    def sub(x: Any) -> Any:
        hit = done.get(id(x))
        return hit[1] if hit is not None else x
    if perform is not None and hasattr(perform, "args"):
        perform = type(perform)(perform.fn, tuple(map(sub, perform.args)),
                                {k: sub(v) for k, v in perform.kwargs.items()})
    return (tuple(map(sub, args)), {k: sub(v) for k, v in kwargs.items()},
            tuple(map(sub, node_args)), perform)


# NumPy functions that convert their array-like arguments twice (all, then all again)
_READ_TWICE = frozenset(map(id, (np.dot, np.vdot, np.inner, np.ptp)))


def lost(rec, name: str, node_args: tuple, kwargs: dict, frame) -> None:
    """FA101 for a sequence among the arguments (or inside a list/tuple argument) that
    framead reads as a constant (``tree_value`` None) but holds traced values inside (a deep
    scan): the callee reads its items in C. (Other objects NumPy keeps as they are, in an
    object array: their values are followed by identity.)"""
    stack, seen = [*node_args, *kwargs.values()], set()
    while stack:
        a = stack.pop()
        t = type(a)
        if t in _SCALARS or id(a) in seen:
            continue
        seen.add(id(a))
        if t is list or t is tuple:
            stack.extend(a)
        elif _sequence_like(a) and rec.tree_value(a) is None and holds_traced(a, deep=True):
            rec.hazard("FA101", name, frame,
                       f"a {t.__name__} holding traced values reaches {name}, which reads its "
                       "items in C where framead cannot follow them: they are treated as "
                       "constants and the gradient through them is lost")
            return


def _sequence_like(x: Any) -> bool:
    """What NumPy's coercion reads as a sequence (``len`` and items), whatever its class."""
    t = type(x)
    return not isinstance(x, _NOT_SEQUENCES) and _has(t, "__len__") and _has(t, "__getitem__")


__all__ = ["NO_SLOT", "convert_arguments", "holds", "is_sequence", "lost",
           "numpy_read"]


def sequence_operand(rec, oparg: int, a: Any, b: Any, frame) -> Any:
    """``a <op> b`` (BINARY_OP's oparg) of an ndarray or NumPy scalar and a sequence of a
    Python class (``is_sequence``: a list/tuple subclass, a UserList...) holding traced values,
    where CPython hands NumPy's slot the call (the sequence has no operator method of its own
    that runs first, no ``__array_priority__``) and NumPy's ufunc converts it: the sequence
    read as NumPy reads it, the operator recorded on that list (``Recorder.binary``)."""
    k, inplace = oparg % 13, oparg >= 13
    if _plain_numpy(a) and _sequence_like(b):
        seq, x = b, a
    elif _plain_numpy(b) and _sequence_like(a):
        seq, x, name = a, b, BINARY_NAMES[k].rstrip("_")
        if any(python_attr(type(a), n) for n in (f"__i{name}__", f"__{name}__")[not inplace:]):
            return NO_SLOT  # (its own operator runs first: instrumented as it is)
    else:
        return NO_SLOT
    if _has(type(seq), "__array_priority__"):
        return NO_SLOT
    if not is_sequence(seq):  # (NumPy's reading not mirrored: its class hooks lookups)
        if not _array_like(seq, hooks=False) and (
                rec.value_of(x) is not None or holds_traced(seq, deep=True)):
            rec.hazard("FA101", f"operator.{BINARY_NAMES[k]}", frame,
                       f"NumPy reads a {type(seq).__name__} operand in C, running its class's "
                       "attribute hooks, where framead cannot follow it: the result is "
                       "treated as constant and the gradient through it is lost")
        return NO_SLOT
    if not (holds(rec, seq) or rec.value_of(x) is not None):
        return NO_SLOT
    new = numpy_read(seq)
    if new is seq:
        return NO_SLOT
    return rec.binary(oparg, new, b, frame) if seq is a else rec.binary(oparg, a, new, frame)


def _plain_numpy(x: Any) -> bool:
    """An exact ndarray or NumPy scalar (their slots are NumPy's own)."""
    t = type(x)
    return t is np.ndarray or (isinstance(x, np.generic) and t.__module__ == "numpy")


def handed_over(t: type, callee: Any) -> bool:
    """NumPy hands ``callee``'s call to class ``t``'s own ``__array_ufunc__`` (a ufunc or
    its method; an ndarray method, computed by ufuncs) or ``__array_function__`` (a
    dispatched function); any callee: either. Other callees (np.asarray, math, float)
    convert such an object as any other."""
    if t in TRACER_TYPES:  # (the eager fallback's Tracers: rules record their operations)
        return True
    ufuncs, functions = python_attr(t, "__array_ufunc__"), python_attr(t, "__array_function__")
    if callee is None:
        return ufuncs or functions
    self_ = getattr(callee, "__self__", None)
    if isinstance(callee, np.ufunc) or isinstance(self_, np.ufunc):
        return ufuncs
    if isinstance(self_, np.ndarray):
        return ufuncs or functions
    return functions and getattr(callee, "_implementation", None) is not None
