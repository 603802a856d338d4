"""What an in-place write leaves in an array of a given dtype (NumPy's unsafe cast): the
callables of a cached trace's guards on values stored into integer or bool arrays
(``Mutations._integral_write``) and on cuts written in place (``Mutations._cut_in_place``)."""

from __future__ import annotations

from typing import Any

import numpy as np


class Stored:
    """What NumPy leaves in an array of ``dtype`` written with ``x`` (its unsafe cast; of a
    complex ``x``, an int keeps the real part, a bool is ``x != 0``): a cached trace's guard."""

    __slots__ = ("dtype",)

    def __init__(self, dtype: np.dtype):
        self.dtype = dtype

    def __call__(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        if self.dtype.kind == "b":
            return x != 0
        with np.errstate(all="ignore"):  # (nan or inf cast: warned once, natively)
            return (x.real if x.dtype.kind == "c" else x).astype(self.dtype)

    def __repr__(self) -> str:
        return f"stored_as_{self.dtype}"


class StoredResult(Stored):
    """``fn``'s result as an in-place write leaves it in an array of ``dtype`` (``a //= b``:
    ``np.floor_divide(a, b)`` cast to a's dtype): a cached trace's guard of a cut in place."""

    __slots__ = ("fn",)

    def __init__(self, fn: Any, dtype: np.dtype):
        super().__init__(dtype)
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        return Stored.__call__(self, self.fn(*args, **kwargs))
