"""Registry of the classic-corpus programs: each case is a program and how it is called.

Programs are legacy numerical code written as people write it (lists of floats, loops, the
standard library, imports inside function bodies). The differentiated function takes one
float or one 1-d float array; programs that take lists are called through a wrapper that
passes ``list(x)`` (framead does not yet take containers of floats as differentiated inputs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CASES: list[Case] = []


@dataclass
class Case:
    name: str
    fn: Callable  # a function of one float or one 1-d float array, returning a real scalar
    draw: Callable  # rng -> a point (float or array)
    module: str
    reference: Callable | None = None  # exact gradient where differences cannot be trusted
    heavy: bool = False  # slow to capture: one point unless FRAMEAD_CORPUS_FULL=1


def scalar(lo: float, hi: float) -> Callable:
    return lambda rng: float(rng.uniform(lo, hi))


def vector(n: int, lo: float, hi: float) -> Callable:
    return lambda rng: rng.uniform(lo, hi, size=n)


def matrix(n: int, extra: int = 0, diag: float = 4.0, lo: float = -1.0,
           hi: float = 1.0) -> Callable:
    """An n x n matrix (flattened; ``diag`` added on the diagonal) then ``extra`` entries."""
    def draw(rng):
        a = rng.uniform(lo, hi, size=(n, n)) + diag * np.eye(n)
        return np.concatenate([a.ravel(), rng.uniform(lo, hi, size=extra)])
    return draw


def case(draw: Callable, adapt: Callable | None = None, *, reference: Callable | None = None,
         heavy: bool = False) -> Callable:
    """Register ``prog``; ``adapt(prog)`` is the differentiated function (default: prog);
    ``reference(x)`` the exact gradient, for programs whose own stopping rules make finite
    differences meaningless (an optimiser's tolerance)."""
    def deco(prog):
        CASES.append(Case(prog.__name__, adapt(prog) if adapt else prog, draw,
                          prog.__module__, reference, heavy))
        return prog
    return deco


def on_list(prog: Callable) -> Callable:
    def with_list(x):
        return prog(list(x))
    return with_list


def on_matrix(n: int, extra: bool = False) -> Callable:
    """Rows of the first n*n entries as lists of lists (and the rest as a list)."""
    def adapt(prog):
        def with_rows(x):
            rows = [list(x[i * n:(i + 1) * n]) for i in range(n)]
            return prog(rows, list(x[n * n:])) if extra else prog(rows)
        return with_rows
    return adapt
