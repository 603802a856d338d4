"""What a cached trace's static inputs are compared by (framead/cache.py): numbers, strings
and arrays by value, containers and user objects' attributes by their items when small,
anything else by identity."""

from __future__ import annotations

import hashlib
import operator
import sys
import types
import weakref
from typing import Any

import numpy as np

from .capture.hazards import is_library_file
from .capture.sourceloc import is_framead_file

__all__ = ["DIGEST_BYTES", "MAX_ITEMS", "MAX_SNAPSHOT", "fingerprint", "global_guard",
           "lists_before"]

DIGEST_BYTES = 1 << 16  # static arrays this large are compared by a digest of their bytes
MAX_ITEMS = 64  # dicts and objects' attributes compared item by item up to this many
MAX_SNAPSHOT = 1 << 16  # larger lists and dicts: which objects they hold, up to this many
_BY_VALUE = (bool, int, float, complex, str, bytes, type(None), np.generic)
_NOT_STATE = (types.FunctionType, types.MethodType, types.ModuleType, type,
              types.BuiltinFunctionType)


class _Items:
    """A list's or dict's items as the objects they are (held, so no id is reused): a
    container too large to compare by value still shows an item replaced, added or removed
    (``TABLE[k] = 3.0``), not an item changed in place."""

    __slots__ = ("kind", "items")

    def __init__(self, x: list | dict):
        self.kind = type(x)
        self.items = (*x.keys(), *x.values()) if isinstance(x, dict) else tuple(x)

    def __eq__(self, other: Any) -> bool:
        return (type(other) is _Items and other.kind is self.kind
                and len(other.items) == len(self.items)
                and all(map(operator.is_, self.items, other.items)))

    def __hash__(self) -> int:
        return hash(tuple(map(id, self.items)))


class _Ident:
    """Identity of an object, holding it (so its id cannot be reused by another object)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any):
        self.obj = obj

    def __eq__(self, other: Any) -> bool:
        return type(other) is _Ident and other.obj is self.obj

    def __hash__(self) -> int:
        return id(self.obj)


def fingerprint(x: Any, containers: bool = True, depth: int = 0) -> Any:
    """What a static value is compared by: numbers, strings, arrays (bytes) and tuples of them
    by value, dicts of up to MAX_ITEMS items by their items, plain lists too (any length when
    ``containers``: arguments, closure cells; module globals' up to MAX_ITEMS), larger lists
    and dicts by the objects they hold (``_Items``, up to MAX_SNAPSHOT), an object of a user
    class by identity and its attributes (``cfg.alpha = 3.0`` between calls is a new trace),
    anything else by identity (``_Ident``)."""
    if isinstance(x, np.ndarray):
        if x.dtype == object:
            return _Ident(x)
        return _array_fingerprint(x)
    if isinstance(x, _BY_VALUE):
        return (type(x), x)
    if depth < 4 and (type(x) is tuple or (type(x) is list and (containers or
                                                                len(x) <= MAX_ITEMS))):
        return (type(x).__name__, tuple(fingerprint(v, containers, depth + 1) for v in x))
    if depth < 4 and type(x) is dict and len(x) <= MAX_ITEMS:  # (a global's too: a table
        return ("dict", tuple((fingerprint(k, containers, depth + 1),  # of parameters)
                               fingerprint(v, containers, depth + 1)) for k, v in x.items()))
    if depth < 4 and type(x) in (list, dict) and len(x) <= MAX_SNAPSHOT:
        return _Items(x)
    if depth < 4 and type(x).__flags__ & _HEAPTYPE and not isinstance(x, _NOT_STATE) and \
            _user_class(type(x)):
        attrs = _attributes(x)
        if attrs is not None and len(attrs) <= MAX_ITEMS:
            return ("object", _Ident(x), tuple(
                (k, fingerprint(v, containers, depth + 1)) for k, v in list(attrs.items())))
    return _Ident(x)


_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class the program made


_USER: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # class -> the user's


def _user_class(cls: type) -> bool:
    """Whether ``cls`` was defined in the user's code (not framead's, the standard library's
    or an installed package's: their objects' state is theirs, compared by identity)."""
    hit = _USER.get(cls)
    if hit is None:
        mod = sys.modules.get(getattr(cls, "__module__", None) or "")
        file = getattr(mod, "__file__", None) or ""
        hit = _USER[cls] = not (is_library_file(file) or is_framead_file(file)) and \
            not (getattr(cls, "__module__", "") or "").startswith("framead")
    return hit


def _attributes(x: Any) -> dict | None:
    """``x``'s instance dict (no property or ``__getattr__`` of its class runs), or None."""
    try:
        d = object.__getattribute__(x, "__dict__")
    except Exception:  # noqa: BLE001 (slots only, or a class that refuses: identity)
        return None
    return d if type(d) is dict else None


def _array_fingerprint(x: np.ndarray) -> tuple:
    """An array's class, shape, dtype and bytes (a masked array's mask too); from
    ``DIGEST_BYTES`` on, the SHA-256 digest of its bytes instead (a cache entry and every call
    would otherwise hold a copy of each large static array). The bytes are read as a plain
    ndarray's: a subclass's own ``tobytes`` may refuse (np.ma's ``masked``)."""
    data = x if type(x) is np.ndarray else x.view(np.ndarray)
    if data.nbytes < DIGEST_BYTES:
        out: tuple = ("array", x.shape, x.dtype.str, data.tobytes())
    else:
        buf = data if data.flags.c_contiguous else np.ascontiguousarray(data)
        out = ("array", x.shape, x.dtype.str, "sha256", hashlib.sha256(buf.data).digest())
    if type(x) is not np.ndarray:  # (a subclass: its class too)
        out += (type(x),)
        if isinstance(x, np.ma.MaskedArray):
            out += (_array_fingerprint(np.ma.getmaskarray(x)),)
    return out


def _global_fingerprint(x: Any) -> Any:
    return fingerprint(x, containers=False)


def lists_before(f: Any) -> dict[int, tuple[list, _Items]]:
    """The lists among ``f``'s module globals (up to MAX_SNAPSHOT items) as they are before a
    capture: ``global_guard`` then tells the program's own state (a log, a counter its
    callbacks bump) from a table it only reads."""
    g = getattr(getattr(f, "__func__", f), "__globals__", {})
    return {id(x): (x, _Items(x)) for x in list(g.values())
            if type(x) is list and len(x) <= MAX_SNAPSHOT}


def global_guard(before: dict[int, tuple[list, _Items]], x: Any) -> Any:
    """How a module global is compared: by identity where the capture itself changed the list
    (replays do not run the program, so its own state is not a decision), else
    ``_global_fingerprint``."""
    was = before.get(id(x))
    changed = was is not None and was[0] is x and was[1] != _Items(x)
    return _Ident if changed else _global_fingerprint
