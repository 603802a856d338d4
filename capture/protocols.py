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
import os
import types
import typing
import warnings
from typing import Any

import numpy as np

from framead import rules
from framead.ir import flatten_tree

from . import _evalframe as C
from .buffers import is_differentiable
from .callables import HEAPTYPE as _HEAPTYPE
from .callables import callable_name, holds_traced, in_python, is_python_visible
from .native import Result, call_as_user
from .operators import BINARY_NAMES, FUNC_OPS, INPLACE_OPS
from .overrides import defers_to_python, overrides_ufuncs, python_attr, subclass_arrays
from .rewriter import is_instrumented
from .sequences import NO_SLOT, handed_over, sequence_operand  # NO_SLOT: "not this protocol"
from .sourceloc import is_framead_file
from .unruled import unknown_call

NUMBER_BASES = (float, complex, int)
ATTRIBUTE_SLOTS = ("__getattribute__", "__getattr__", "__setattr__", "__delattr__")
LRU_WRAPPER = type(functools.lru_cache(None)(len))
RESUMABLE = (types.GeneratorType, types.CoroutineType)
NUMBERS = (float, int, complex, np.ndarray, np.generic, np.flatiter)  # slots recorded by name
_NDARRAY_PROTOCOL = ("__array_ufunc__", "__array_function__")

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
    capture runs its original code, so a traced value sent in that comes back untraced (as
    the value it yields, or returns in the StopIteration) is a lost gradient (FA101)."""
    code = getattr(gen, "gi_code", None) or getattr(gen, "cr_code", None)
    try:
        result = call_as_user(fn, args, kwargs)
    except StopIteration as stop:  # (it returned: stop.value is what it computed)
        _sent_in_lost(rec, fn, gen, code, args, stop.value, frame)
        raise
    _sent_in_lost(rec, fn, gen, code, args, result, frame)
    return result


def _sent_in_lost(rec, fn, gen: Any, code: Any, args: tuple, result: Any, frame) -> None:
    if (code is None or not is_instrumented(code)) and rec.tree_value(result) is None and \
            holds_traced(args) and any(is_differentiable(x) for x in flatten_tree(result)[0]):
        rec.hazard("FA101", f"{type(gen).__name__}.{fn.__name__}", frame,
                   f"a traced value was sent into {getattr(code, 'co_qualname', 'a generator')}"
                   ", made before this capture: it runs uninstrumented, and the gradient "
                   "through what it computes is lost")


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


# ------------------------------------------------------------------ conversion protocols
# A user object converted by the callee in C (``__array__`` by NumPy, ``__float__`` by math)
# hands it a value computed by Python code: converted here first, under capture and as the
# callee would (same calls, same exceptions), the callee gets the traced value. Where that
# cannot be mirrored, the call runs natively and a traced value inside is reported.
_ARRAY_PROTOCOLS = ("__array__", "__array_interface__", "__array_struct__")
_RAW_PROTOCOLS = ("__array_interface__", "__array_struct__")
_FLOAT_PROTOCOLS = ("__float__", "__complex__")
_NOT_CONVERTED = (np.ndarray, np.generic, float, complex, int, list, tuple, dict, str, bytes,
                  bytearray, memoryview)
# NumPy C callables that convert an array-like argument with one ``__array__()`` call (no
# dtype, no copy: NumPy 2.x's PyArray_FromAny discovery, tests/test_protocol_conversions.py);
# np.dot (two calls: copy=True, then the dtype), np.array (copy=True), np.float64 (float()
# first) are not among them
_PLAIN_ARRAY_FNS = frozenset(map(id, (np.asarray, np.asanyarray, np.ascontiguousarray)))
_UFUNC_METHODS = ("reduce", "accumulate", "reduceat", "outer")
_SAFE_BEFORE = (np.ndarray, np.generic, float, int, complex, type(None))


def conversions(x: Any, callee: Any = None) -> tuple[str, ...]:
    """The conversion protocols user object ``x`` implements in Python (its class's methods
    and properties, or an ``__array_interface__`` instance attribute); () for anything else,
    and where NumPy hands ``callee``'s call (None: any) to x's own ``__array_ufunc__`` /
    ``__array_function__`` (sequences.handed_over)."""
    t = type(x)
    if not t.__flags__ & _HEAPTYPE or isinstance(x, _NOT_CONVERTED) or handed_over(t, callee):
        return ()
    found = tuple(n for n in (*_ARRAY_PROTOCOLS, *_FLOAT_PROTOCOLS) if python_attr(t, n))
    try:
        d = object.__getattribute__(x, "__dict__")
    except AttributeError:
        return found
    return found + tuple(n for n in _RAW_PROTOCOLS if n in d and n not in found)


def convert_arguments(rec, rule, fn: Any, args: tuple, kwargs: dict, node_args: tuple,
                      frame, perform: Any) -> Any:
    """The arguments of a rule's call with the user objects among them converted as the
    callee converts them (``(args, node_args, perform)``), or the result of the call run
    natively where a traced value inside one would be lost (a ``Result``: FA101; FA105 for
    raw memory), or NO_SLOT: no such object, or nothing traced to lose (the call as before)."""
    callee = perform.fn if type(perform) is Deferred else perform or fn
    found = [(i, p) for i, a in enumerate(node_args)
             if type(a) not in _SAFE_TYPES and (p := conversions(a, callee))]
    if not found:
        return NO_SLOT
    how, plan = _how(rule, callee, args, kwargs), []
    for i, protos in found:
        obj = node_args[i]
        conv = _converter(rule, how, i, protos, node_args, callee)
        if conv is not None:
            plan.append((obj, conv))
        elif holds_traced(obj, deep=True) or _points_at_traced(rec, obj, protos):
            return _lost(rec, rule, fn if perform is None else perform, args, kwargs, obj,
                         protos, frame)
    if not plan:
        return NO_SLOT
    done = {}
    for obj, conv in plan:  # (in the callee's order: the same calls, the same exceptions)
        done[id(obj)] = call_as_user(conv, (obj,), {}) if conv is np.asarray else \
            convert_number(rec, conv, obj, frame)

    def sub(xs: tuple) -> tuple:
        return tuple(done.get(id(x), x) for x in xs)
    if type(perform) is Deferred:
        perform = Deferred(perform.fn, sub(perform.args), perform.kwargs)
    return sub(args), sub(node_args), perform


def _converter(rule, how: str | None, i: int, protos: tuple, node_args: tuple, callee) -> Any:
    """What converts argument ``i`` as the callee would (np.asarray, float, complex: the
    protocol's Python body run instrumented), or None."""
    if how == "array":
        if "__array__" in protos and not set(protos) & set(_RAW_PROTOCOLS) and all(
                isinstance(a, _SAFE_BEFORE) or conversions(a, callee) for a in node_args[:i]):
            return np.asarray
    elif how is not None and rule.has_vjp(i):
        if "__float__" in protos or (how == "complex" and "__complex__" in protos):
            return float if how == "float" else complex
    return None


def _points_at_traced(rec, obj: Any, protos: tuple) -> bool:
    """An ``__array_interface__`` dict held by ``obj`` (read without running its code) whose
    data pointer lies in a traced array's memory."""
    if "__array_interface__" not in protos:
        return False
    d = _instance_dict(obj)
    return d is not None and _memory_traced(rec, d.get("__array_interface__") or {})


_SAFE_TYPES = frozenset({float, int, bool, complex, str, type(None), np.ndarray, np.float64})


def _how(rule, callee: Any, args: tuple, kwargs: dict) -> str | None:
    """How ``callee`` converts user objects: "array" (one ``__array__()`` each), "float",
    "complex" (``float(x)``/``complex(x)``: math, cmath and the constructors), None: not
    known exactly."""
    name = rule.name
    if name.startswith(("math.", "builtins.float")):
        return "float"
    if name.startswith(("cmath.", "builtins.complex")):
        return "complex"
    if isinstance(callee, np.ufunc):  # (a wrong count or keyword raises before converting)
        return "array" if len(args) == callee.nin and not kwargs else None
    if isinstance(getattr(callee, "__self__", None), np.ufunc) and \
            getattr(callee, "__name__", "") in _UFUNC_METHODS:
        return "array"
    if id(callee) in _PLAIN_ARRAY_FNS and len(args) == 1 and not kwargs:
        return "array"
    return None


def _lost(rec, rule, call: Any, args: tuple, kwargs: dict, obj: Any, protos: tuple,
          frame) -> Any:
    """The call run natively (as without framead): ``obj`` holds traced values that reach the
    callee through a protocol framead cannot mirror; the result is a constant."""
    name, cls = rule.name, type(obj).__name__
    raw = [p for p in protos if p in _RAW_PROTOCOLS]
    result = call_as_user(call, args, kwargs)
    frame = user_frame(frame)
    if raw:
        rec.hazard("FA105", name, frame,
                   f"{name} reads the memory of a {cls} through {cls}.{raw[0]} (raw memory, "
                   "which framead cannot follow); it holds traced values: the gradient through "
                   "them is lost")
    else:
        rec.hazard("FA101", name, frame,
                   f"a traced value reaches {name} through {cls}.{protos[0]}, converted in C: "
                   "framead ran it without differentiating it; its result is treated as "
                   "constant and the gradient through it is lost")
    return Result(result)


_NUMPY_DIR = os.path.dirname(np.__file__) + os.sep


def user_frame(frame):
    """The first frame out of NumPy's own Python code (np.sum's ufunc.reduce): the user's."""
    f = frame
    while isinstance(f, types.FrameType) and (f.f_code.co_filename.startswith(_NUMPY_DIR)
                                              or is_framead_file(f.f_code.co_filename)):
        f = f.f_back
    return f if f is not None else frame


def convert_number(rec, kind: type, obj: Any, frame) -> Any:
    """``float(obj)`` / ``complex(obj)`` of a user object, as CPython's PyNumber_Float and
    complex() do it (one call of its ``__complex__``, else ``__float__``, run instrumented;
    their TypeError and DeprecationWarning), keeping the traced value it returns: a
    float/complex subclass result goes through float()/complex()'s rule, not C."""
    t = type(obj)
    if kind is complex and python_attr(t, "__complex__"):
        return convert_result(rec, complex, obj, call_as_user(t.__complex__, (obj,), {}), frame)
    r = convert_result(rec, float, obj, call_as_user(t.__float__, (obj,), {}), frame)
    return r if kind is float else rec.dispatch(complex, (r,), {}, frame)


def convert_result(rec, kind: type, obj: Any, r: Any, frame) -> Any:
    """What ``obj``'s ``__float__``/``__complex__`` returned, checked as CPython does."""
    if type(r) is kind:
        return r
    what = "float" if kind is float else "complex"
    head = f"{_tp_name(type(obj))[:50]}.__float__" if kind is float else "__complex__"
    got = f"{head} returned non-{what} (type {_tp_name(type(r))[:50 if kind is float else 200]})"
    if not isinstance(r, kind):
        raise TypeError(got)
    call_as_user(warnings.warn, (
        f"{got}.  The ability to return an instance of a strict subclass of {what} is "
        "deprecated, and may be removed in a future version of Python.",
        DeprecationWarning, 1), {})
    return rec.dispatch(kind, (r,), {}, frame)


def _tp_name(t: type) -> str:
    """CPython's ``tp_name`` of ``t`` (what its C error messages print)."""
    if t.__flags__ & _HEAPTYPE or t.__module__ == "builtins":
        return t.__name__
    return f"{t.__module__}.{t.__name__}"


# ------------------------------------------------------------ operators on array-likes
# ``v + obj``, ``obj @ v``, ``v -= obj`` (v an ndarray or NumPy scalar, obj a user object with
# an array protocol): NumPy's slot gives up (``__array_priority__``) or calls the ufunc, which
# converts obj in C: converted here first as NumPy does, the ufunc recorded on the result.
_ARRAY_ATTRS = ("__array_struct__", "__array_interface__", "__array__")  # NumPy's order
_SCALAR_LIKE = (np.ndarray, np.generic, float, complex, int, str, bytes)  # (a list's: C base)
_MATMUL, _POW = BINARY_NAMES.index("matmul"), BINARY_NAMES.index("pow")
# exact NumPy scalar types whose slots end in ndarray's (longdouble's give up instead)
_NP_SCALARS = frozenset(t for t in np.sctypeDict.values() if isinstance(t, type) and
                        issubclass(t, np.number | np.bool_) and
                        not issubclass(t, np.longdouble | np.clongdouble))
_SCALAR_PRIORITY = -1000000.0  # NumPy's NPY_SCALAR_PRIORITY
_PLAIN_BASES = frozenset({object, typing.Generic})  # (C in Python 3.12+)
_ABSENT: Any = object()
_UNSURE: Any = object()


def array_protocols(x: Any) -> tuple[str, ...]:
    """The array protocols (class or instance attributes) NumPy's ufuncs would convert user
    object ``x`` through, in NumPy's order; () for others and for a Python or None
    ``__array_ufunc__`` (NumPy hands it the ufunc, or refuses)."""
    t = type(x)
    if not t.__flags__ & _HEAPTYPE or isinstance(x, _SCALAR_LIKE) or \
            python_attr(t, "__array_ufunc__"):
        return ()
    d = _instance_dict(x)
    return tuple(n for n in _ARRAY_ATTRS if python_attr(t, n) or (d is not None and n in d))


def binary_operand(rec, oparg: int, a: Any, b: Any, frame) -> Any:
    """``a <op> b`` (BINARY_OP's oparg), a NumPy array or scalar and an array-like user object
    (``array_protocols``), in CPython's order: the object's operator methods that run first
    (instrumented), then NumPy's slot, its conversion mirrored. NO_SLOT: other operands."""
    k, inplace = oparg % 13, oparg >= 13
    pb = array_protocols(b) if type(b).__flags__ & _HEAPTYPE else ()
    if pb and _numpy_operand(a, k):
        x, obj, protos, left = a, b, pb, True
    else:
        pa = array_protocols(a) if type(a).__flags__ & _HEAPTYPE else ()
        if not (pa and _numpy_operand(b, k)):  # (a sequence NumPy reads: sequences.py)
            return sequence_operand(rec, oparg, a, b, frame)
        x, obj, protos, left = b, a, pa, False
    why = _unmirrorable(x, obj, k, inplace, left)
    if why is not None:
        return _unmirrored(rec, oparg, a, b, x, obj, protos, why, frame)
    if left:
        if _priority(x) < _priority(obj):  # type: ignore[operator]
            # NumPy gives up (binop_should_defer): obj's reflected method, or the TypeError
            return call_as_user(INPLACE_OPS[k] if inplace else FUNC_OPS[k], (a, b), {})
        return _converted(rec, k, inplace and isinstance(x, np.ndarray), x, obj, True, protos,
                          frame)
    name = BINARY_NAMES[k].rstrip("_")
    for dunder in (f"__i{name}__", f"__{name}__") if inplace else (f"__{name}__",):
        fn = _type_attr(type(obj), dunder)
        if fn is not _ABSENT:  # (a Python function: _unmirrorable)
            r = call_as_user(fn, (obj, x), {})
            if r is not NotImplemented:
                return r
    return _converted(rec, k, False, x, obj, False, protos, frame)


def _numpy_operand(x: Any, k: int) -> bool:
    """An ndarray (or a subclass keeping ndarray's C operators and ufunc handling) or an
    exact NumPy scalar with a slot for operator ``k``."""
    t = type(x)
    if t is np.ndarray:
        return True
    if t in _NP_SCALARS:
        return k != _MATMUL  # (NumPy scalars have no @: CPython's TypeError)
    if not isinstance(x, np.ndarray):
        return False
    name = BINARY_NAMES[k].rstrip("_")
    return not (overrides_ufuncs(t) or python_attr(t, "__getattribute__") or any(
        python_attr(t, f"__{p}{name}__") for p in ("", "r", "i")))


def _unmirrorable(x: Any, obj: Any, k: int, inplace: bool, left: bool) -> str | None:
    """Why NumPy's steps cannot be mirrored exactly (Python code it would run on its way:
    attribute hooks, ``__array_priority__``, ``__array_wrap__``, ``__index__``), or None."""
    t, meta = type(obj), type(type(obj))
    if python_attr(t, "__getattribute__") or python_attr(t, "__getattr__") or \
            python_attr(t, "__buffer__"):
        return "its class's own attribute lookup or buffer runs as NumPy reads it"
    if meta is not type and any(python_attr(meta, n) for n in (
            "__getattribute__", "__getattr__", "__array_ufunc__")):
        return "its metaclass's attribute lookup runs as NumPy reads it"
    if any(not c.__flags__ & _HEAPTYPE and c not in _PLAIN_BASES for c in t.__mro__):
        return "a C base class"
    if _plain_attr(obj, "__array_wrap__") is not None:
        return "NumPy would call its __array_wrap__ on the result"
    if issubclass(t, type(x)) or issubclass(type(x), t):
        return "a class shared with the NumPy operand"
    if left:
        if _priority(obj) is None or _priority(x) is None:
            return "its __array_priority__ is not a plain number"
        if k == _POW and isinstance(x, np.ndarray) and python_attr(t, "__index__"):
            return "NumPy would call its __index__ (ndarray ** integer)"
        return None
    name = BINARY_NAMES[k].rstrip("_")
    for dunder in (f"__i{name}__", f"__{name}__") if inplace else (f"__{name}__",):
        fn = _type_attr(t, dunder)
        if fn is not _ABSENT and type(fn) is not types.FunctionType:
            return f"its {dunder} is not a plain function"
    return None


def _priority(o: Any) -> float | None:
    """NumPy's ``PyArray_GetPriority(o, NPY_SCALAR_PRIORITY)``; None where reading it could
    run code."""
    t = type(o)
    if t is np.ndarray:
        return 0.0
    if t in _NP_SCALARS:
        return _SCALAR_PRIORITY
    if isinstance(o, np.ndarray) and not python_attr(t, "__array_priority__"):
        return 0.0  # (ndarray's own getter)
    v = (_plain_attr(o, "__array_priority__") or (None,))[0]
    if v is None:  # (absent, or not a number: NumPy's default)
        return _SCALAR_PRIORITY
    if type(v) in (int, float, bool) or type(v) in _NP_SCALARS and np.isrealobj(v):
        try:
            return float(v)
        except OverflowError:
            return _SCALAR_PRIORITY
    return None  # (_UNSURE, a number type that may run code)


def _plain_attr(o: Any, name: str) -> tuple | None:
    """``(getattr(o, name),)`` for a plain value (instance attribute, class attribute without
    ``__get__``), None when absent, ``(_UNSURE,)`` where reading it may run code."""
    cls_attr = _type_attr(type(o), name)
    if cls_attr is not _ABSENT and hasattr(type(cls_attr), "__get__"):
        return (_UNSURE,)
    d = _instance_dict(o)
    if d is not None and name in d:
        return (d[name],)
    return None if cls_attr is _ABSENT else (cls_attr,)


def _type_attr(t: type, name: str) -> Any:
    """``name`` as CPython's ``_PyType_Lookup`` finds it in ``t``'s MRO (no code run)."""
    for c in t.__mro__:
        v = c.__dict__.get(name, _ABSENT)
        if v is not _ABSENT:
            return v
    return _ABSENT


def _instance_dict(x: Any) -> dict | None:
    try:
        d = object.__getattribute__(x, "__dict__")
    except AttributeError:
        return None
    return d if type(d) is dict else None


def _converted(rec, k: int, inplace: bool, x: Any, obj: Any, left: bool, protos: tuple,
               frame) -> Any:
    """NumPy's slot for operator ``k`` converting ``obj``: ``np.asanyarray(obj)``, the ufunc's
    conversion (a Python ``__array__`` runs instrumented), then the operator itself on a
    stand-in handing NumPy that array, recorded by the operator's rule. Raw memory: FA105."""
    arr = call_as_user(np.asanyarray, (obj,), {})
    if protos[0] != "__array__" and rec.value_of(arr) is None and (
            holds_traced(obj, deep=True) or _memory_traced(rec, arr.__array_interface__)):
        cls = type(obj).__name__
        rec.hazard("FA105", f"operator.{BINARY_NAMES[k]}", frame,
                   f"NumPy reads the memory of a {cls} operand through {cls}.{protos[0]} "
                   "(raw memory, which framead cannot follow); it holds traced values: the "
                   "gradient through them is lost")
    # (a stand-in: NumPy takes the same steps as for obj, which has no priority, wrap or
    # override of its own (_unmirrorable), up to its conversion, made already)
    op, stand_in = (INPLACE_OPS if inplace else FUNC_OPS)[k], types.SimpleNamespace(
        __array__=lambda *_, **__: arr)
    call, node = ((x, stand_in), (x, arr)) if left else ((stand_in, x), (arr, x))
    if rec.tree_value(x) is None and rec.value_of(arr) is None:
        return op(*call)
    rule = rules.lookup(FUNC_OPS[k])
    if rule is None:
        return rec.unknown_call(op, call, {}, frame)
    if inplace:
        return rec.mutate(rule, op, call, {}, node, x, frame)
    return rec.apply(rule, op, call, {}, node, frame)


def _unmirrored(rec, oparg: int, a: Any, b: Any, x: Any, obj: Any, protos: tuple, why: str,
                frame) -> Any:
    """The operator run natively: an untraced result of traced operands is a loss (FA101;
    FA105 for raw memory), a traced array written in place a constant (FA104)."""
    k = oparg % 13
    op = INPLACE_OPS[k] if oparg >= 13 else FUNC_OPS[k]
    if rec.tree_value(x) is None and not holds_traced(obj, deep=True) and \
            not _points_at_traced(rec, obj, protos):
        return call_as_user(op, (a, b), {})
    name, cls = f"operator.{op.__name__}", type(obj).__name__
    written = x if x is a and oparg >= 13 and isinstance(x, np.ndarray) and \
        rec.value_of(x) is not None else None
    if written is not None:
        rec.copy_on_write(written)
    result = call_as_user(op, (a, b), {})
    if written is not None and result is written:
        rec.hazard("FA104", name, frame,
                   f"{name} wrote a value converted from a {cls} in C into a traced array "
                   f"({why}): the gradient through its old contents is lost from here on")
        rec.overwrite_with_constant(written, frame)
    elif not holds_traced(result, deep=True):  # (raw protocols come first in NumPy's order)
        why = (f"{name} with a {cls} operand ({cls}.{protos[0]}) ran natively ({why}): NumPy "
               "converted it in C; the result is constant and the gradient through it is lost")
        (rec.hazard("FA101", name, frame, why) if protos[0] == "__array__" else
         rec.hazard("FA105", name, frame, why))
    return result


def _memory_traced(rec, interface: dict) -> bool:
    """Whether an array interface's data pointer lies in a traced array's memory."""
    try:
        ptr = interface["data"][0]
    except (KeyError, TypeError, IndexError):
        return False
    for e in list(rec.entries.values()):
        a = e.obj
        if isinstance(a, np.ndarray):
            lo, hi = np.lib.array_utils.byte_bounds(a)
            if lo <= ptr < hi:
                return True
    return False
