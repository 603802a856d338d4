"""Traced keyword arguments made positional inputs of a rule's node.

A rule's derivatives take their inputs positionally (``rules/registry.py``), so a traced
keyword argument (``np.sum(x, initial=t)``) is moved to its position in the node's arguments.
The positions between the last one given and the traced keyword's are filled from the
untraced keywords given, else from the defaults of the rule's callable (the callable a cached
replay calls with the node's arguments): ``np.sum(x, initial=t)`` is recorded as
``np.sum(x, None, None, None, <no value>, t)``; only where the rule differentiates that
position (else the caller's fallback runs the call as the program's: ``np.cov(aweights=w)``'s
Python body). An ``out=`` array is never moved (the recorder writes it), nor a keyword the
callable's signature does not name at the rule's position.
"""

from __future__ import annotations

import inspect
from typing import Any

from .callables import holds_traced

_NO_DEFAULT = inspect.Parameter.empty
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_DEFAULTS: dict[int, tuple] = {}  # id(rule) -> (rule, {name: default} of its callable)


def _defaults(rule: Any) -> dict:
    """``{name: default}`` of the positional parameters of ``rule.fn`` that have one, where
    their order is the rule's ``argnames`` ({} when the signature is unknown or differs)."""
    hit = _DEFAULTS.get(id(rule))
    if hit is not None and hit[0] is rule:
        return hit[1]
    found: dict = {}
    try:
        params = [p for p in inspect.signature(rule.fn).parameters.values()
                  if p.kind in _POSITIONAL]
    except (TypeError, ValueError):
        params = []
    names = tuple(getattr(rule, "argnames", None) or ())
    if params and tuple(p.name for p in params) == names[:len(params)]:
        found = {p.name: p.default for p in params if p.default is not _NO_DEFAULT}
    _DEFAULTS[id(rule)] = (rule, found)
    return found


def map_keywords(rule: Any, node_args: tuple, kwargs: dict) -> tuple[tuple, dict | None]:
    """Move traced keyword arguments to their positions; None when that is impossible."""
    traced = [k for k, v in kwargs.items() if k != "out" and holds_traced(v)]
    if not traced:
        return node_args, kwargs
    names = tuple(getattr(rule, "argnames", None) or ())
    if any(k not in names for k in traced):
        return node_args, None
    last = max(names.index(k) for k in traced)
    if last < len(node_args):  # (given twice: the call itself raises)
        return node_args, None
    if last > len(node_args) and not all(rule.has_vjp(names.index(k)) for k in traced):
        return node_args, None  # (np.cov(aweights=w): its Python body is traced instead)
    args = list(node_args)
    left = dict(kwargs)
    defaults: dict | None = None
    for name in names[len(args):last + 1]:
        if name in left and (name != "out" or left[name] is None):
            args.append(left.pop(name))
            continue
        if name in left:
            return node_args, None
        if defaults is None:
            defaults = _defaults(rule)
        if name not in defaults:
            return node_args, None
        args.append(defaults[name])
    return tuple(args), left
