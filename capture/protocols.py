"""Python protocols that reach C with traced values, dispatched as what they do: a base
type's slot called on a subclass instance (``super().__mul__``), ndarray's own
``__array_ufunc__``/``__array_function__`` called by a subclass's override, a metaclass's
``super().__call__``, a subclass of float built in C, functools.lru_cache, and a generator's
send/throw. Each runs the Python code it reaches instrumented, or records the operation it
is; a hazard only where a gradient can really be lost (calls.dispatch asks here; the calls
made on the way go back through ``rec.dispatch``)."""

from __future__ import annotations

import functools
import operator
import types
from typing import Any

import numpy as np

from framead import rules
from framead.ir import flatten_tree

from . import _evalframe as C
from .buffers import is_differentiable
from .callables import callable_name, holds_traced, in_python, is_python_visible
from .native import Result, call_as_user
from .operators import BINARY_NAMES
from .overrides import defers_to_python, overrides_ufuncs, python_attr, subclass_arrays
from .rewriter import opcode_table
from .unruled import unknown_call

NO_SLOT: Any = object()  # "not this protocol": dispatch goes on
NUMBER_BASES = (float, complex, int)
ATTRIBUTE_SLOTS = ("__getattribute__", "__getattr__", "__setattr__", "__delattr__")
LRU_WRAPPER = type(functools.lru_cache(None)(len))
RESUMABLE = (types.GeneratorType, types.CoroutineType)
NUMBERS = (float, int, complex, np.ndarray, np.generic, np.flatiter)  # slots recorded by name
_NDARRAY_PROTOCOL = ("__array_ufunc__", "__array_function__")
# the probe objects the rewriter puts among an instrumented copy's constants (their names:
# the opcode table's, opcodes311)
_OPCODES = opcode_table()
_PROBE_IDS = {id(p) for p in (*(q for n in _OPCODES.PROBE_TUPLES for q in getattr(C, n)),
                              *(getattr(C, n) for n in _OPCODES.PROBE_NAMES))}


def base_binary(rec, fn, args: tuple, oparg: int, a: Any, b: Any, frame) -> Any:
    """A base type's binary slot bound to a subclass instance, recorded as the operator
    (an ndarray slot reaching a Python ``__array_ufunc__`` runs it instead, instrumented)."""
    if any(overrides_ufuncs(type(x)) for x in (a, b) if isinstance(x, np.ndarray)):
        return call_as_user(fn, args, {})
    rule = rules.lookup(getattr(operator, BINARY_NAMES[oparg % 13]))
    if rule is None or not isinstance(args[0], (*NUMBERS, list, tuple)):
        return unknown_call(rec, fn, args, {}, frame)
    if oparg >= 13 and isinstance(fn.__self__, np.ndarray):  # super().__iadd__(o)
        return rec.mutate(rule, fn, args, {}, (a, rec.coerce(b, frame)), a, frame)
    result = C.call_native(fn, args, None)
    if result is NotImplemented:
        return result
    return rec.apply(rule, Result(result), (), {}, (a, b), frame)


def cached_call(rec, fn, args: tuple, kwargs: dict, frame) -> Any:
    """functools.lru_cache / functools.cache: a miss runs the wrapped Python function
    instrumented. A hit with traced arguments returns what an earlier call computed: right
    when that call got these very objects in this capture, lost otherwise (a value cached
    before the capture, or one computed from other traced values that compare equal): FA101."""
    if not is_python_visible(getattr(fn, "__wrapped__", None)):
        return unknown_call(rec, fn, args, kwargs, frame)
    hits = fn.cache_info().hits
    result = call_as_user(fn, args, kwargs)
    key = (id(fn), *map(id, args), *((k, id(v)) for k, v in sorted(kwargs.items())))
    if fn.cache_info().hits == hits:
        rec.cached_calls[key] = (fn, args, kwargs)  # (keeps the identities in the key alive)
    elif key not in rec.cached_calls and (holds_traced(args) or holds_traced(kwargs)):
        name = callable_name(fn)
        rec.hazard("FA101", name, frame,
                   f"{name} returned a cached result computed from other values than these "
                   "traced arguments (before this capture, or from equal traced values): the "
                   f"gradient through it is lost. Call {name}.cache_clear() first")
    return result


def resume(rec, fn, gen: Any, args: tuple, kwargs: dict, frame) -> Any:
    """``gen.send(v)`` / ``gen.throw(e)``: the generator's frame resumes. Instrumented (made
    in this capture), it records what it computes with ``v``; a generator made before the
    capture runs its original code, so a traced value sent in that comes back untraced is a
    lost gradient (FA101)."""
    code = getattr(gen, "gi_code", None) or getattr(gen, "cr_code", None)
    result = call_as_user(fn, args, kwargs)
    if (code is None or not _instrumented(code)) and rec.tree_value(result) is None and \
            holds_traced(args) and any(is_differentiable(x)
                                             for x in flatten_tree(result)[0]):
        rec.hazard("FA101", f"{type(gen).__name__}.{fn.__name__}", frame,
                   f"a traced value was sent into {getattr(code, 'co_qualname', 'a generator')}"
                   ", made before this capture: it runs uninstrumented, and the gradient "
                   "through what it computes is lost")
    return result


def _instrumented(code: types.CodeType) -> bool:
    """Whether ``code`` is an instrumented copy (framead's probes are among its constants)."""
    return any(id(c) in _PROBE_IDS for c in code.co_consts)


def number_subclass(rec, cls: type, args: tuple, kwargs: dict, frame) -> Any:
    """``F(x)`` for a float/complex/int subclass built in C: the conversion ``float(x)``
    (``complex``, ``int``) recorded, its result an ``F``."""
    base = next(b for b in NUMBER_BASES if issubclass(cls, b))
    rule = rules.lookup(base)
    if rule is None or len(args) != 1 or kwargs or issubclass(cls, bool):
        return unknown_call(rec, cls, args, kwargs, frame)
    return rec.apply(rule, cls, args, {}, args, frame)


def type_call(rec, fn, args: tuple, kwargs: dict, frame) -> Any:
    """``type.__call__`` bound to a class (a metaclass's ``super().__call__(*a)``): the
    class's Python ``__new__``/``__init__`` run instrumented and record what they compute."""
    cls = fn.__self__
    if in_python(cls, "__init__") or in_python(cls, "__new__"):
        return call_as_user(fn, args, kwargs)
    return unknown_call(rec, fn, args, kwargs, frame)


class Deferred:
    """The call that really performs a recorded operation, whatever arguments the rule's
    node is given (ndarray's ``__array_ufunc__`` reached from a subclass's override)."""

    __slots__ = ("fn", "args", "kwargs")

    def __init__(self, fn: Any, args: tuple, kwargs: dict) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs

    def __call__(self, *_: Any, **__: Any) -> Any:
        return self.fn(*self.args, **self.kwargs)


def subclass_detour(rec, fn, self_, args: tuple, kwargs: dict, frame) -> Any:
    """Calls whose NumPy callable hands ndarray subclasses' work to their Python code run
    that code instrumented (overrides.defers_to_python); ndarray's own C method on a subclass
    with a Python ``__array_ufunc__``/``__array_function__`` runs instrumented too, the
    gradient reported lost when its result comes back untraced. NO_SLOT: no detour."""
    subs = subclass_arrays(args, kwargs)
    own = isinstance(self_, np.ndarray) and type(self_) is not np.ndarray
    if not subs and not own:
        return NO_SLOT
    if subs and defers_to_python(fn, subs, is_python_visible(fn)):
        return call_as_user(fn, args, kwargs)
    if fn.__name__ in _NDARRAY_PROTOCOL and isinstance(self_, np.ndarray):
        return _ndarray_protocol(rec, fn, self_, args, kwargs, frame)
    if own and isinstance(fn, types.BuiltinMethodType) and (
            overrides_ufuncs(type(self_)) or python_attr(type(self_), "__array_function__")):
        result = call_as_user(fn, args, kwargs)
        leaves, _ = flatten_tree(result)
        if rec.tree_value(result) is None and any(is_differentiable(x) for x in leaves):
            name = f"{type(self_).__name__}.{fn.__name__}"
            rec.hazard("FA101", name, frame,
                       f"ndarray's {fn.__name__} on a {type(self_).__name__} (whose "
                       "__array_ufunc__/__array_function__ is Python code) computed its "
                       "result where framead could not see it: the gradient is lost")
        return result
    return NO_SLOT


def _ndarray_protocol(rec, fn, self_, args: tuple, kwargs: dict, frame) -> Any:
    """ndarray's own ``__array_ufunc__``/``__array_function__`` called by a subclass's
    override (``super().__array_ufunc__(ufunc, method, *inputs)``): the NumPy operation,
    recorded by its rule and performed by ndarray's method (the override does not run
    again). Where ndarray defers (NotImplemented) it runs as is."""
    if fn.__name__ == "__array_function__":
        if len(args) != 4 or not all(isinstance(t, type) and issubclass(t, np.ndarray)
                                     for t in args[1]):
            return call_as_user(fn, args, kwargs)
        func, _, fargs, fkwargs = args
        impl = getattr(func, "_implementation", None)
        if is_python_visible(impl):  # as ndarray does: the implementation, instrumented
            return call_as_user(impl, tuple(fargs), dict(fkwargs))
        return rec.dispatch(func, tuple(fargs), dict(fkwargs), frame,
                              Deferred(fn, args, kwargs))
    if len(args) < 2 or not isinstance(args[0], np.ufunc):
        return unknown_call(rec, fn, args, kwargs, frame)
    ufunc, method, inputs = args[0], args[1], args[2:]
    outs = kwargs.get("out", ())
    if any(overrides_ufuncs(type(x)) for x in (*inputs, *(
            outs if isinstance(outs, tuple) else (outs,)))):
        return call_as_user(fn, args, kwargs)
    target = ufunc if method == "__call__" else getattr(ufunc, method, None)
    if target is None:
        return call_as_user(fn, args, kwargs)
    return rec.dispatch(target, inputs, kwargs, frame, Deferred(fn, args, kwargs))
