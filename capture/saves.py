"""What a recorded node keeps for the reverse pass: the arguments its rule's derivatives
read (``Rule.saves``), as the node holds them."""

from __future__ import annotations

from typing import Any

import numpy as np

from .overrides import plain

ALL = frozenset(range(64)) | {"ans"}  # every argument and the result (forward mode, no saves)
NOTHING: frozenset = frozenset()  # (one object: a recorded graph holds one per node)
_UNIONS: dict[frozenset, frozenset] = {}  # the saves of several traced arguments, made once


def saved_set(rule: Any, traced: Any) -> frozenset:
    """The arguments (and ``"ans"``) ``rule``'s derivatives read when ``traced`` are the
    traced argument positions."""
    saves = rule.saves
    if saves is None:
        return ALL
    if len(traced) == 1:
        return saves.get(traced[0], NOTHING)
    out: set = set()
    for i in traced:
        out.update(saves.get(i, ()))
    made = frozenset(out)
    if len(_UNIONS) >= 256:
        return made
    return _UNIONS.setdefault(made, made)  # (one object per distinct set)


def plain_constants(args: tuple) -> list:
    """Node arguments with ndarray-subclass constants as plain arrays (also inside a list or
    tuple argument): rules' derivatives compute with them (np.matrix's ``*`` is a product)."""
    out = list(args)
    for i, a in enumerate(out):
        if type(a) in (list, tuple):
            if any(type(x) is not np.ndarray and isinstance(x, np.ndarray) for x in a):
                out[i] = type(a)(plain(x) for x in a)
        elif type(a) is not np.ndarray and isinstance(a, np.ndarray):
            out[i] = plain(a)
    return out
