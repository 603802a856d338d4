"""Facts about a callable and its arguments that decide how a traced call is handled: does
calling it run Python frames framead instruments, do its arguments (or its closure) hold
traced values, what is it called."""

from __future__ import annotations

import functools
import types
from typing import Any

from . import _evalframe as C

HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class created at run time (class statement, type())


def holds_traced(v: Any) -> bool:
    """Whether ``v`` is traced or a (nested, possibly cyclic) list/tuple/dict holding one. An
    explicit stack (a list nested 10,000 deep is no RecursionError), and containers read below
    any Python override (a pure-Python OrderedDict's values() in the middle of its own
    __setitem__ must not run)."""
    stack, seen = [v], set()
    while stack:
        x = stack.pop()
        if isinstance(x, list | tuple | dict):
            if id(x) not in seen:
                seen.add(id(x))
                stack.extend(dict.values(x) if isinstance(x, dict)
                             else list.__iter__(x) if isinstance(x, list) else tuple.__iter__(x))
        elif C.is_tracked(x):
            return True
    return False


def self_traced(fn: Any) -> bool:
    """A bound method whose ``__self__`` holds traced values."""
    self_ = getattr(fn, "__self__", None)
    return self_ is not None and not isinstance(self_, types.ModuleType) and holds_traced(self_)


def closes_over_traced(cb: Any) -> bool:
    """Whether a Python callback reads traced values through its closure or defaults."""
    if isinstance(cb, types.MethodType):
        return holds_traced(cb.__self__) or closes_over_traced(cb.__func__)
    if not isinstance(cb, types.FunctionType):
        return False
    cells = []
    for c in cb.__closure__ or ():
        try:
            cells.append(c.cell_contents)
        except ValueError:  # an empty cell
            pass
    return any(holds_traced(v) for v in (*cells, *(cb.__defaults__ or ()),
                                         *(cb.__kwdefaults__ or {}).values()))


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
    impl = getattr(fn, "_implementation", None)  # numpy's array-function dispatchers
    if isinstance(impl, types.FunctionType):
        return True
    call = next((k.__dict__["__call__"] for k in type(fn).__mro__ if "__call__" in k.__dict__),
                None)
    return isinstance(call, types.FunctionType)


def callable_name(fn: Any) -> str:
    """``module.qualname`` of ``fn`` as hazards name it (builtins without the module)."""
    mod = getattr(fn, "__module__", None) or ""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return f"{mod}.{name}" if mod and mod != "builtins" else name
