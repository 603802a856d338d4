"""Facts about a callable and its arguments that decide how a traced call is handled: does
calling it run Python frames framead instruments, do its arguments (or its closure) hold
traced values, what is it called."""

from __future__ import annotations

import _abc
import _io
import _queue
import builtins
import functools
import gc
import types
import weakref
from typing import Any

import numpy as np

from . import _evalframe as C

HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class created at run time (class statement, type())


class _Plain:
    """A class made by a class statement: the C argument scan enters objects of such classes
    (their traverse function is this one's)."""


# C callables that move their arguments by identity (an iterator's items, an object): the C
# trampoline looks inside their lists, not inside their objects, and leaves their iterators
IDENTITY_CONSUMERS = (
    builtins.next, builtins.min, builtins.max, builtins.sorted, builtins.any, builtins.all,
    builtins.super, _abc._abc_instancecheck, _abc._abc_subclasscheck, weakref.proxy,
    weakref.ref.__new__,  # (every C type's X.__new__: one C function)
    _queue.SimpleQueue.put, _queue.SimpleQueue.put_nowait,
    str.format)  # (an object's text is its Python __format__/__repr__'s, or its address)
# iterators whose items are never traced: an argument of these is passed on unwatched
LEAF_ITERATORS = tuple({type(iter(range(1))), type(iter(range(1 << 64))), type(iter("")),
                        type(iter("\u0100")), type(iter(b"")), type(iter(bytearray())),
                        _io._IOBase})
C.set_scan_config(_Plain, IDENTITY_CONSUMERS, LEAF_ITERATORS)

_SEQS = (list, tuple, dict)
_FLAT = frozenset({float, int, bool, complex, str, bytes, type(None), np.ndarray, np.float64})
_ITERATOR, _KEYS, _VALUES, _ITEMS, _CELL = 2, 3, 4, 5, 6  # C.scan_kind's answers


def holds_traced(v: Any, deep: bool = False) -> bool:
    """Whether ``v`` is traced or a (nested, possibly cyclic) list/tuple/dict holding one. An
    explicit stack (a list nested 10,000 deep is no RecursionError), and containers read below
    any Python override (a pure-Python OrderedDict's values() in the middle of its own
    __setitem__ must not run). ``deep``: also inside what the C trampoline's deep scan of a
    rule-less C call's arguments enters (``C.scan_kind``): objects of Python classes (what the
    garbage collector sees: instance attributes and slots, no code of theirs run), dict
    views, cells, iterators (their sources: a generator's locals, a zip's iterators)."""
    stack, seen = [v], set()
    while stack:
        x = stack.pop()
        if isinstance(x, _SEQS):
            if id(x) not in seen:
                seen.add(id(x))
                stack.extend(dict.values(x) if isinstance(x, dict)
                             else list.__iter__(x) if isinstance(x, list) else tuple.__iter__(x))
        elif C.is_tracked(x):
            return True
        elif deep and type(x) not in _FLAT and id(x) not in seen:
            kind = C.scan_kind(x)
            if kind == _ITERATOR:  # (its state may be half built: scanned in C)
                if C.scan_inside(x):
                    return True
            elif kind:
                seen.add(id(x))
                stack.extend(_inside(x, kind))
    return False


def _inside(x: Any, kind: int) -> list:
    """What the deep scan looks at inside ``x`` (of ``C.scan_kind`` ``kind``)."""
    if kind == _CELL:
        try:
            return [x.cell_contents]
        except ValueError:  # an empty cell
            return []
    if kind in (_KEYS, _VALUES, _ITEMS):
        d = gc.get_referents(x)[0]  # the view's dict
        return [*(dict.keys(d) if kind != _VALUES else ()),
                *(dict.values(d) if kind != _KEYS else ())]
    return [r for r in gc.get_referents(x) if not isinstance(r, type)]


def self_traced(fn: Any) -> bool:
    """A bound method whose ``__self__`` holds traced values."""
    self_ = bound_self(fn)
    return self_ is not None and not isinstance(self_, types.ModuleType) and holds_traced(self_)


def closes_over_traced(cb: Any) -> bool:
    """Whether a callback reads traced values through its closure or defaults (the
    attributes of the objects they hold too: ``lambda i: model.vals[i]``), its bound
    ``self`` (``x.__getitem__``, ``w.take``, ``xs.index`` of a traced array or list: a C
    method reading them where no probe sees it; a Python method's object, attributes
    included), a ``functools.partial``'s arguments, or the attributes of a callable object
    with a Python ``__call__``."""
    if isinstance(cb, types.MethodType):  # (its object's attributes too: obj.score)
        return holds_traced(cb.__self__, True) or closes_over_traced(cb.__func__)
    if isinstance(cb, _BOUND_C):
        return self_traced(cb)
    if isinstance(cb, functools.partial):
        return closes_over_traced(cb.func) or holds_traced(cb.args) or \
            holds_traced(cb.keywords)
    if not isinstance(cb, types.FunctionType):
        return not isinstance(cb, type) and in_python(type(cb), "__call__") and \
            holds_traced(cb, True)
    cells = []
    for c in cb.__closure__ or ():
        try:
            cells.append(c.cell_contents)
        except ValueError:  # an empty cell
            pass
    return any(holds_traced(v, True) for v in (*cells, *(cb.__defaults__ or ()),
                                               *(cb.__kwdefaults__ or {}).values()))


# C methods bound to an object (``x.__getitem__``, ``xs.index``; a module's functions are
# bound to the module, which self_traced leaves out)
_BOUND_C = (types.BuiltinMethodType, types.MethodWrapperType)


def in_python(t: type, name: str) -> bool:
    """Whether ``t.name`` (through the MRO) is a Python function, staticmethod or
    classmethod."""
    f = next((k.__dict__[name] for k in t.__mro__ if name in k.__dict__), None)
    return isinstance(f, types.FunctionType | staticmethod | classmethod)


def constructs_in_python(cls: type) -> bool:
    """Calling class ``cls`` runs Python code (its ``__init__``/``__new__`` or its
    metaclass's ``__call__``); heap types built in C (ctypes' ``c_double``, ``array.array``,
    a list subclass without ``__init__``) do not (the C trampoline asks the same)."""
    if not cls.__flags__ & HEAPTYPE:
        return False
    meta = type(cls)
    return in_python(cls, "__init__") or in_python(cls, "__new__") or bool(
        meta.__flags__ & HEAPTYPE and in_python(meta, "__call__"))


def is_python_visible(fn: Any) -> bool:
    """Calling ``fn`` runs Python frames framead instruments (so nothing to record here)."""
    if isinstance(fn, types.FunctionType):
        return True
    if isinstance(fn, types.MethodType):  # a bound Cython function is not Python-visible
        return isinstance(fn.__func__, types.FunctionType)
    if isinstance(fn, type):
        return constructs_in_python(fn)
    if isinstance(fn, functools.partial):
        return is_python_visible(fn.func)
    if in_python(type(fn), "__call__"):  # (asked of its class first: a proxy's __getattr__
        return True  # is not run for an attribute the native call never reads)
    # numpy's array-function dispatchers
    return isinstance(static_attr(fn, "_implementation"), types.FunctionType)


_C_DESCRIPTORS = (types.GetSetDescriptorType, types.MemberDescriptorType)


def static_attr(obj: Any, name: str) -> Any:
    """``obj.name`` (None where it has none) without running code of the program's: an
    object of a C type as getattr reads it; of a class the program made (a heap type), only
    what a C descriptor of its class holds (a Cython function's ``__self__``), never its
    ``__getattr__``, ``__getattribute__``, properties or instance dict (a proxy, a mock, a
    lazy loader would see a read the native call never makes)."""
    t = type(obj)
    if not t.__flags__ & HEAPTYPE:
        return getattr(obj, name, None)
    for k in t.__mro__:
        d = k.__dict__.get(name)
        if d is not None:
            try:  # (an empty slot: AttributeError)
                return d.__get__(obj, t) if isinstance(d, _C_DESCRIPTORS) else None
            except AttributeError:
                return None
    return None


def bound_self(fn: Any) -> Any:
    """``fn.__self__``: the object a bound method is bound to, or None (static_attr)."""
    return static_attr(fn, "__self__")


def callable_name(fn: Any) -> str:
    """``module.qualname`` of ``fn`` as hazards name it (builtins without the module)."""
    mod = getattr(fn, "__module__", None) or ""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return f"{mod}.{name}" if mod and mod != "builtins" else name
