"""``"%.2f" % x`` of traced values in a cached trace (``handlers.binary``'s ``%`` of text):
the text guarded, re-made from the replay's values, or the trace unreplayable."""

from __future__ import annotations

import functools
import operator
from typing import Any

from . import _evalframe as C
from .calls import text_guard
from .operators import FUNC_OPS, INPLACE_OPS
from .overrides import python_attr
from .sourceloc import loc_of

_CONTAINERS: Any = (dict, list, tuple, set, frozenset)
_VIEWS: tuple[type, ...] = (type({}.keys()), type({}.values()), type({}.items()))


def text_mod(rec: Any, oparg: int, a: Any, b: Any, frame: Any) -> Any:
    """``"%.2f" % x`` in a cached trace: the text guarded, re-made from the replay's
    values (``"%(v).2f" % d``: the dict's). A domain error (``"%d" % nan``), or traced
    values it cannot be re-made from (a set, slice, dict view or key): unreplayable."""
    try:
        text = (INPLACE_OPS[oparg - 13] if oparg >= 13 else FUNC_OPS[oparg])(a, b)
    except Exception as e:
        rec._raised("'%' formatting", e, frame)
        raise
    fn, given = (functools.partial(_mapping_text, tuple(b)), (a, *b.values())) \
        if type(b) is dict else (operator.mod, (a, b))
    if any(_hidden_traced(rec, x) for x in given) or \
            (fn is not operator.mod and _text_holds_traced(list(b))):
        rec.unreplayable.append(f"'%' made text of traced values at {loc_of(frame).short()}")
    else:
        text_guard(rec, fn, given, {}, text, frame)
    return text


def _mapping_text(keys: tuple, fmt: Any, *values: Any) -> Any:
    """``fmt % {key: value, ...}`` re-made from the replay's values (a guard's callable)."""
    return fmt % dict(zip(keys, values, strict=True))


def _hidden_traced(rec: Any, x: Any, path: tuple = ()) -> bool:
    """``x`` holds traced values C makes text of that ``rec.tree_value`` does not carry."""
    if type(x) is list or type(x) is tuple:
        return id(x) not in path and any(_hidden_traced(rec, i, (*path, id(x))) for i in x)
    return rec.value_of(x) is None and _text_holds_traced(x)


def _text_holds_traced(x: Any) -> bool:
    """Whether C makes text of traced values in ``x``: traced, or in lists, tuples, dicts,
    sets, slices, dict views (a Python class's text is its code, recorded where it runs)."""
    stack, seen = [x], set()
    while stack:
        y: Any = stack.pop()
        t = type(y)
        if C.is_tracked(y):
            return True
        if t is slice or t in _VIEWS:
            stack.extend((y.start, y.stop, y.step) if t is slice else y)
        elif isinstance(y, _CONTAINERS) and id(y) not in seen and not (
                python_attr(t, "__repr__") or python_attr(t, "__str__")):
            seen.add(id(y))
            stack.extend([*dict.keys(y), *dict.values(y)] if isinstance(y, dict) else
                         next(b for b in _CONTAINERS if isinstance(y, b)).__iter__(y))
    return False
