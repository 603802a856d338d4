"""The rules of framead's own primitives (``framead.rules.primitives``): the nodes the
recorder writes for constants, ``a[k] = v``, writes through views, gathers and copies."""

from __future__ import annotations

import types
from typing import Any

from framead.rules import primitives as prim

from framead import rules


def _primitive_rule(name: str, fn: Any, vjps: tuple, saves: dict) -> Any:
    """A rule for one of framead's own primitives; one without derivatives (a constant) is a
    plain record the reverse pass skips."""
    if not vjps:
        return types.SimpleNamespace(name=name, fn=fn, vjp=(), saves={}, cut=False,
                                     elementwise=False, argnames=None)
    return rules.register(fn, vjp=vjps, saves=saves, name=name)


CONST_RULE = _primitive_rule("const", lambda: None, (), {})
SETITEM_RULE = _primitive_rule("setitem", *prim.PRIMITIVES["setitem"])
VIEW_UPDATE_RULE = _primitive_rule("view_update", *prim.PRIMITIVES["view_update"])
GATHER_RULE = _primitive_rule("gather_flat", *prim.PRIMITIVES["gather_flat"])
COPY_RULE = _primitive_rule("copy", *prim.PRIMITIVES["copy"])
