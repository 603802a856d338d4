"""Subclasses that change what an operation does: which traced operations must run the
operand's own Python code (instrumented, so its body is recorded) instead of being recorded
as the base type's operation.

``np.matrix`` makes ``*`` a matrix product, ``np.ma`` masks, a float subclass may scale its
``__mul__``, an ndarray subclass may convert units in ``__array_ufunc__``: recording any of
them as the plain ``multiply`` would be silently wrong. Exact Python and NumPy types never
override anything, so the common case costs one set lookup.
"""

from __future__ import annotations

import functools
import types
from typing import Any

import numpy as np

# attributes implemented in C: a subclass holding one of these has not overridden anything
_C_ATTRS = (types.WrapperDescriptorType, types.MethodDescriptorType, types.BuiltinFunctionType,
            types.GetSetDescriptorType, types.MemberDescriptorType,
            types.ClassMethodDescriptorType, types.MethodWrapperType, np.ufunc)
_ABSENT = object()
PLAIN_TYPES = frozenset({float, int, complex, bool, np.ndarray, np.flatiter,
                         *(t for t in np.sctypeDict.values() if isinstance(t, type))})
# the eager fallback's Tracers (capture/eager.py): registered in the shadow table, so a rule
# records float(t), math.exp(t) on them, not their own dunders
TRACER_TYPES: set[type] = set()
_BINARY = ("add", "and", "floordiv", "lshift", "matmul", "mul", "mod", "or", "pow", "rshift",
           "sub", "truediv", "xor")  # BINARY_OP's order


def python_attr(t: type, name: str) -> bool:
    """Whether ``t.name`` (found through the MRO) is written in Python: a function, a
    property, a user descriptor, or None (the operation is refused). Absent: False."""
    if t in PLAIN_TYPES:
        return False
    for k in t.__mro__:
        f = k.__dict__.get(name, _ABSENT)
        if f is not _ABSENT:
            return not isinstance(f, _C_ATTRS)
    return False


def overrides_ufuncs(t: type) -> bool:
    """An ndarray subclass (or array-like) whose ``__array_ufunc__`` is Python code."""
    return t not in PLAIN_TYPES and python_attr(t, "__array_ufunc__")


def operator_runs_python(oparg: int, ta: type, tb: type, a: Any = None, b: Any = None
                         ) -> bool:
    """``a <op> b`` (BINARY_OP's oparg) calls Python code of an operand's type: its own
    operator method, or (for ndarray operands) its ``__array_ufunc__``. The right operand's
    reflected method runs first only when its type is a subclass of the left's; otherwise
    only when the left's operator returns NotImplemented (``Plain(2.0) * Scaled(3.0)``: float's
    own C multiplication computes it, and recording it as the product is right)."""
    if ta in PLAIN_TYPES and tb in PLAIN_TYPES:
        return False
    name = _BINARY[oparg % 13]
    if oparg >= 13 and python_attr(ta, f"__i{name}__"):
        return True
    if python_attr(ta, f"__{name}__"):
        return True
    if python_attr(tb, f"__r{name}__") and (
            tb is ta or issubclass(tb, ta) or not _left_computes(ta, tb, name, a, b)):
        return True
    return any(issubclass(t, np.ndarray) and overrides_ufuncs(t) for t in (ta, tb))


_NUMBERS = (float, int, complex)
_ARITHMETIC = frozenset({"add", "sub", "mul", "truediv", "floordiv", "mod", "pow"})


def _left_computes(ta: type, tb: type, name: str, a: Any, b: Any) -> bool:
    """Whether the left operand's own C operator computes ``a <name> b`` (rather than
    returning NotImplemented), for operands whose values C reads without running Python
    code: the left a Python or NumPy number (or an exact ndarray), the right a Python number
    (subclasses included). It is asked by calling that operator (pure C arithmetic); with no
    values, or other operands, the answer is no (Python code may run)."""
    if a is None or name not in _ARITHMETIC or not issubclass(tb, _NUMBERS):
        return False
    if ta is np.ndarray:  # (NumPy reads a number subclass in C; defers only to these)
        d = _instance_dict(b)
        return d is not None and not any(python_attr(tb, n) or n in d for n in
                                         (*_NUMPY_READS[:7], *_HOOKS))
    if not issubclass(ta, (*_NUMBERS, np.generic)):
        return False
    with np.errstate(all="ignore"):
        try:
            r = getattr(ta, f"__{name}__")(a, b)
        except Exception:  # noqa: BLE001 - it raises natively too: the native call tells
            return True
    return r is not NotImplemented


# NumPy scalars whose operators meet an object NumPy knows nothing of in its object loop,
# with the scalar's value as a Python number (long double's give up: the object's method
# gets the scalar itself); by dtype kind, the number's type
_ITEM_TYPES = {"b": bool, "i": int, "u": int, "f": float, "c": complex}
_LONG = (np.longdouble, np.clongdouble)
# what NumPy reads of an operand (or CPython's sequence protocol): such objects are converted
# otherwise (protocols.binary_operand, sequences) or make NumPy give up
_NUMPY_READS = ("__array_ufunc__", "__array_function__", "__array_priority__", "__array__",
                "__array_interface__", "__array_struct__", "__array_wrap__", "__getitem__",
                "__len__", "__buffer__")
_HOOKS = ("__getattr__", "__getattribute__")
_HEAP = 1 << 9


def object_loop_item(x: Any) -> type | None:
    """The Python number type NumPy's object loop makes of ``x``'s elements (``x.item()``'s)
    where ``x`` is an exact NumPy bool/int/float/complex scalar or ndarray (long double
    aside); None for anything else."""
    t = type(x)
    if t is not np.ndarray and (t not in PLAIN_TYPES or not issubclass(t, np.generic)):
        return None
    dt = x.dtype
    return None if dt.type in _LONG else _ITEM_TYPES.get(dt.kind)


def object_loop_operand(o: Any) -> str | None:
    """Whether NumPy's operators meeting ``o`` use the object loop on it as it is: "yes" for
    an object of a class statement's class (bases of class statements only) that NumPy reads
    nothing of (no array protocol, priority, sequence methods, attribute hooks), None for
    objects NumPy converts or defers to otherwise (numbers, arrays, array-likes, C classes),
    else why its steps cannot be mirrored."""
    t = type(o)
    if not t.__flags__ & _HEAP or isinstance(o, (*_NUMBERS, np.generic, np.ndarray)):
        return None
    mro = [c for c in t.__mro__ if c is not object]
    if any(name in c.__dict__ for c in mro for name in _NUMPY_READS):
        return None
    if any(not c.__flags__ & _HEAP and c.__module__ != "typing" for c in mro):
        return "a C base class"
    if any(name in c.__dict__ for c in (*mro, *type(t).__mro__[:-2]) for name in _HOOKS):
        return "its class's (or metaclass's) attribute hook runs as NumPy reads it"
    d = _instance_dict(o)
    if d is None or any(name in d for name in _NUMPY_READS[:7]):
        return None if d is not None else "an instance dict NumPy reads in Python"
    return "yes"


def _instance_dict(o: Any) -> dict | None:
    """``o``'s instance dict as NumPy's attribute reads find it (``{}``: none), None where
    it is no plain dict."""
    try:
        d = object.__getattribute__(o, "__dict__")
    except AttributeError:
        return {}
    return d if type(d) is dict else None


def object_loop_steps(obj: Any, name: str, inplace: bool, left: bool) -> list | str | None:
    """How NumPy's operator ``name`` of a scalar meets ``obj`` (on its right where ``left``):
    None where NumPy converts or defers to it otherwise (object_loop_operand), why where its
    steps cannot be mirrored, else the methods of ``obj`` CPython calls before NumPy's
    (bound: its ``__i<name>__``/``__<name>__`` with ``obj`` on the left, given the scalar)."""
    how = object_loop_operand(obj)
    if how != "yes" or left:
        return how if how != "yes" else []
    t = type(obj)
    found: list[Any] = [
        f for d in (f"__i{name}__", f"__{name}__")[not inplace:]
        if (f := next((c.__dict__[d] for c in t.__mro__ if d in c.__dict__), _ABSENT))
        is not _ABSENT]
    if any(f is None or not hasattr(f, "__get__") for f in found):
        return "its operator is no plain method"
    return [f.__get__(obj, t) for f in found]


def object_loop_elements(x: Any, compute: Any) -> Any:
    """NumPy's object loop of ``x`` (a scalar or array): ``compute(None)`` for a scalar or 0-d
    array, else an object array laid out as NumPy's output, ``compute(index)`` of each
    element in the order NumPy takes them (its output's memory order)."""
    if type(x) is not np.ndarray or not x.ndim:
        return compute(None)
    out = np.empty_like(x, dtype=object)
    it = np.nditer(out, flags=["multi_index", "refs_ok", "zerosize_ok"], order="K")
    for _ in it:
        out[it.multi_index] = compute(it.multi_index)
    return out


def unary_runs_python(name: str, t: type) -> bool:
    """``-a``, ``+a``, ``~a`` call Python code of ``a``'s type."""
    return t not in PLAIN_TYPES and (python_attr(t, f"__{name}__") or (
        issubclass(t, np.ndarray) and overrides_ufuncs(t)))


# keywords NumPy never hands to an override (ufuncs dispatch on their inputs, ``out`` and
# ``where``; array functions on what their dispatcher names: arrays, never these)
_NOT_DISPATCHED = frozenset({"dtype", "initial", "axis", "axes", "casting", "order", "subok",
                             "signature", "keepdims", "copy", "ddof", "mode", "kind"})
_NEVER = frozenset({str, bytes, type(None), slice, type(Ellipsis), list, tuple, dict, range,
                    type, types.FunctionType, types.BuiltinFunctionType, np.ufunc,
                    *(type(np.dtype(c)) for c in "?bhilqpBHILQPefdgFDGSUVOMm")})


def numpy_override(t: type) -> bool:
    """A class other than ndarray and its subclasses whose objects NumPy hands its calls to:
    a Python (or None: NumPy refuses) ``__array_ufunc__`` or ``__array_function__``. The eager
    fallback's Tracers are not among them (their operations are recorded by rules)."""
    return t not in PLAIN_TYPES and t not in _NEVER and t not in TRACER_TYPES and \
        not issubclass(t, np.ndarray) and (python_attr(t, "__array_ufunc__") or
                                           python_attr(t, "__array_function__"))


class _Found(list):
    """subclass_arrays' answer; ``top``: the types found as arguments themselves or in
    ``out`` (all a ufunc hands over: it never looks into a list argument)."""

    top: set


def subclass_arrays(args: tuple, kwargs: dict) -> _Found:
    """Types of the arguments NumPy may hand a call's work to: ndarray subclasses (also
    inside list/tuple arguments), and other objects with a Python ``__array_ufunc__`` /
    ``__array_function__`` (numpy_override) among the arguments, the items of list/tuple
    arguments (``np.concatenate([obj, v])``) and the keywords NumPy dispatches on."""
    found = _Found()
    found.top = set()
    for k, a in (*((None, a) for a in args), *kwargs.items()):
        seq = type(a) in (list, tuple)
        for x in (a if seq else (a,)):
            t = type(x)
            if t in PLAIN_TYPES:
                continue
            if isinstance(x, np.ndarray) or (k not in _NOT_DISPATCHED and numpy_override(t)):
                found.append(t)
                if not seq or k == "out":
                    found.top.add(t)
    return found


def _ufunc_call(fn: Any) -> bool:
    """A ufunc or one of its methods (``np.add.reduce``)."""
    return isinstance(fn, np.ufunc) or isinstance(getattr(fn, "__self__", None), np.ufunc)


def defers_to_python(fn: Any, subs: list[type], python_visible: bool) -> bool:
    """A NumPy callable given these argument types (subclass_arrays) hands the work to their
    Python code: a ufunc to ``__array_ufunc__``, a dispatched function to
    ``__array_function__`` (a function written in Python also to ``__array_ufunc__``:
    ``np.sum(obj)`` calls ``np.add.reduce(obj)`` or obj's ``sum``), a NumPy
    function written in Python to the subclass's method of the same name (``np.sum`` calls
    ``np.ma``'s ``sum``). Then the call must run instrumented, not as the rule."""
    if _ufunc_call(fn):
        top = getattr(subs, "top", None)
        return any(overrides_ufuncs(t) for t in subs if top is None or t in top or
                   issubclass(t, np.ndarray))
    impl = getattr(fn, "_implementation", None)
    if impl is not None and any(python_attr(t, "__array_function__") for t in subs):
        return True
    if isinstance(impl, types.FunctionType) and any(overrides_ufuncs(t) for t in subs):
        return True
    name = getattr(fn, "__name__", None)
    return python_visible and isinstance(name, str) and any(python_attr(t, name) for t in subs)


# types whose objects never take a NumPy call over (and list/tuple holding only these)
_INERT = frozenset({*PLAIN_TYPES, *_NEVER} - {list, tuple, dict})


def inert(args: Any) -> bool:
    """No argument among ``args`` (nor an item of a list/tuple among them) can take a NumPy
    call over: the common case, a set lookup each."""
    for a in args:
        t = type(a)
        if t not in _INERT:
            if t is not tuple and t is not list:
                return False
            for x in a:
                if type(x) not in _INERT:
                    return False
    return True


def override_in(fn: Any, args: tuple, kwargs: dict) -> bool:
    """``fn(*args, **kwargs)``, a NumPy ufunc (method), dispatched function or ndarray method,
    reaches the Python ``__array_ufunc__``/``__array_function__`` of an argument that is no
    ndarray (the recorder runs such a call instrumented rather than as its rule)."""
    if inert(args) and (not kwargs or inert(kwargs.values())):
        return False
    found = subclass_arrays(args, kwargs)
    subs = [t for t in found if not issubclass(t, np.ndarray)]
    if not subs:
        return False
    while isinstance(fn, functools.partial):
        fn = fn.func
    if _ufunc_call(fn) or isinstance(getattr(fn, "__self__", None), np.ndarray):
        # (ndarray's methods compute with ufuncs: x.clip(lo, obj) reaches obj's)
        return any(overrides_ufuncs(t) for t in subs if t in found.top)
    return getattr(fn, "_implementation", None) is not None and \
        defers_to_python(fn, subs, False)


_CONVERSIONS = ("__array__", "__array_interface__", "__array_struct__", "__float__",
                "__complex__")


def unconverted(args: tuple) -> list:
    """The objects among ``args`` (and the items of list/tuple arguments) of classes that
    would take a NumPy call over (numpy_override) and also convert themselves in Python
    (``__array__``, ``__array_interface__``...). Where NumPy does not hand the call to them
    (a ufunc given an object with ``__array_function__`` only), NumPy converts them, unseen:
    protocols.conversions leaves such objects to their override."""
    found = []
    for a in args:
        for x in (a if type(a) in (list, tuple) else (a,)):
            t = type(x)
            if t not in _INERT and numpy_override(t) and (
                    any(python_attr(t, n) for n in _CONVERSIONS) or
                    "__array_interface__" in getattr(x, "__dict__", ())):
                found.append(x)
    return found


def plain(x: Any) -> Any:
    """An ndarray subclass instance as the plain ndarray over the same memory (what the
    reverse pass computes with: np.matrix's ``*`` would be a matrix product there)."""
    if type(x) is not np.ndarray and isinstance(x, np.ndarray):
        return np.ndarray.view(x, np.ndarray)  # not the subclass's own view (np.ma's)
    return x
