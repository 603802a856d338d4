"""Outputs of a multi-output call traced per argument.

``np.broadcast_arrays(x, df)``, ``np.atleast_1d(x, df)`` and ``np.meshgrid(x, df)`` return one
array per argument, made from that argument alone: output ``k`` is traced only where argument
``k`` is. Traced as a whole, the output of a constant (a distribution's shape parameter inside
``scipy.stats``, broadcast with a traced ``loc``) reached the ``nondiff`` argument of the next
rule (``stdtr``'s ``df``) and reported a false FA101. The recorder asks ``constant_leaves``
which outputs of a call to leave untraced (``Recorder._outputs``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

PER_ARGUMENT: dict[int, Any] = {
    id(fn): fn for fn in (np.broadcast_arrays, np.atleast_1d, np.atleast_2d, np.atleast_3d,
                          np.meshgrid)}


def per_argument(rule: Any) -> bool:
    """Whether ``rule``'s output ``k`` is computed from its argument ``k`` alone."""
    fn = getattr(rule, "fn", None)
    return PER_ARGUMENT.get(id(fn)) is fn and fn is not None


def constant_leaves(rule: Any, traced: Sequence[int], leaves: Sequence[Any]) -> tuple:
    """One flag per output leaf of ``rule``'s call whose traced arguments are the indices
    ``traced``: True where the leaf is made from an untraced argument alone."""
    if rule is None or not per_argument(rule):
        return (False,) * len(leaves)
    return tuple(k not in traced for k in range(len(leaves)))
