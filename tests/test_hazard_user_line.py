"""A hazard raised inside library code names the user's line first (capture/hazards.py).

Each entry point below calls library code (the standard library, NumPy's or SciPy's Python
code) that loses the derivative inside: ``statistics``' exact sums, ``json``'s C encoder,
``fractions.Fraction`` under ``np.vectorize`` (more library frames than the C walk keeps),
``np.unique``'s C hash, library callbacks of ``sorted``/``functools.reduce``/``np.vectorize``
and SciPy solvers. Every hazard's ``loc`` must be the entry's marked line (the innermost frame
of the user's code), in both engines, directly or under user helpers; the library frame stays
in ``Hazard.inside`` and in the message, strict=True's ``GradientHazard`` names the user's
line, and the native run and central differences (conftest.fd_grad) judge the value and the
gradient: a gradient that differs from the differences must come with a hazard.
"""

from __future__ import annotations

import fractions
import functools
import json
import math
import os
import statistics
import types
import warnings

import numpy as np
import pytest
import scipy.integrate
import scipy.optimize
from conftest import FAKE, fd_grad, line_of
from framead.capture.hazards import Hazard, is_library_file, locate, split_user
from hypothesis import given, settings
from hypothesis import strategies as st

import framead
from framead.ir import SourceLoc

pytestmark = pytest.mark.skipif(FAKE, reason="tests framead's hazard locations")
HERE = os.path.abspath(__file__)


# --------------------------------------------------------------------------- entry points
# each a user line (ending in "# <name>") that calls library code in which a hazard fires


def _mean(x):
    return statistics.mean([x, 2.0 * x, 3.0])  # mean


def _variance(x):
    return statistics.variance([x, 2.0 * x, 3.0]) + x  # variance


def _json(x):
    return x + 0.5 * len(json.dumps({"a": [x, 2.0 * x]}))  # json


def _vectorize_fraction(x):
    return float(np.vectorize(fractions.Fraction)(np.array([x, 2.0 * x]))[1]) + x  # vectorize


def _unique(x):
    return float(np.unique(np.array([x, 2.0 * x, x]))[0]) + x  # unique


def _sorted_key(x):
    return sorted([x, 3.0 - x], key=fractions.Fraction)[0] + x  # sorted


def _reduce(x):
    return functools.reduce(lambda a, b: a + statistics.mean([b]), [x, 2.0 * x], 0.0)  # reduce


def _vectorize_mean(x):
    return np.vectorize(lambda t: statistics.mean([t, 1.0]))(np.array([x]))[0]  # vectorize_cb


def _brentq(x):
    return scipy.optimize.brentq(lambda t: t - statistics.mean([x, 1.0]), -9.0, 9.0)  # brentq


def _bisect(x):
    return scipy.optimize.bisect(lambda t, c: t - statistics.mean([c]), -9, 9, args=(x,))  # bisect


def _quad(x):
    return scipy.integrate.quad(lambda t: statistics.mean([t, x]), 0.0, 1.0)[0]  # quad


ENTRIES = {name.lstrip("_"): fn for name, fn in dict(globals()).items()
           if isinstance(fn, types.FunctionType) and fn.__module__ == __name__
           and name.startswith("_") and not name.startswith("__")}
MARKS = {"vectorize_fraction": "vectorize", "sorted_key": "sorted", "vectorize_mean":
         "vectorize_cb"}


def _marked_line(name: str) -> int:
    return line_of(MARKS.get(name, name), HERE)


# --------------------------------------------------------------------------- user frames above it


def _via_helper(entry, x):
    return 1.0 * entry(x)


def _via_two(entry, x):
    return _via_helper(entry, x) + 0.0


def _eager_copy(f):
    """``f`` with its own code object, marked @framead.eager (``f`` stays instrumented)."""
    g = types.FunctionType(f.__code__.replace(), f.__globals__, f.__name__, f.__defaults__,
                           f.__closure__)
    g.__qualname__ = f.__qualname__
    return framead.eager(g)


def _program(name: str, depth: int, eager: bool):
    entry = ENTRIES[name]
    if eager:
        entry = _eager_copy(entry)
    if depth == 0:
        return entry
    via = _via_helper if depth == 1 else _via_two
    return functools.partial(via, entry)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.mark.parametrize("name", sorted(ENTRIES))
@settings(max_examples=4, deadline=None)
@given(depth=st.integers(0, 2), eager=st.booleans(), x=st.sampled_from([0.7, 1.3, 2.2]))
def test_hazard_in_library_code_names_the_users_line(name, depth, eager, x):
    f = _program(name, depth, eager)
    line = _marked_line(name)
    t = _quiet(framead.trace, f, x)
    assert t.value == ENTRIES[name](x), (name, t.value)  # (capture is invisible)
    found = [h for h in t.hazards if h.code != "FA201"]
    for h in found:
        if eager and h.inside is None and is_library_file(h.loc.file):
            # known: NumPy's Python code reached from an eager frame through a Tracer's
            # dispatch (capture/eager_builders.py) runs with no user frame on its stack (its
            # f_back is the capture's trampoline): the library's line, as before this policy
            continue
        assert (h.loc.file, h.loc.line) == (HERE, line), (name, str(h), h.inside)
        assert str(h).startswith(f"{HERE}:{line}: "), str(h)
        if h.inside is not None:  # (the library frame: kept, in the message too)
            assert is_library_file(h.inside.file), h.inside
            assert all(is_library_file(f) for f, _, _ in h.inside.stack), h.inside
            assert f"{h.inside.short()} in {h.inside.function}" in h.message or \
                (not h.inside.stack and h.inside.short() in h.message), h.message
    if not eager:  # (the rewriting engine sees the cut in the library itself)
        assert any(h.inside is not None for h in found), (name, found)
    g = _quiet(framead.grad(f), x)
    want = fd_grad(lambda v: ENTRIES[name](v), (x,))
    if not math.isclose(g, want, rel_tol=1e-5, abs_tol=1e-7):
        assert found, (name, g, want)  # (nothing silently wrong)
    if found:
        with pytest.raises(framead.GradientHazard) as e:
            _quiet(framead.grad(f, strict=True), x)
        if e.value.hazard.code != "FA201":
            assert f" at {HERE}:{line} (" in str(e.value), str(e.value)
            assert e.value.hazard.loc.line == line


def test_a_library_differentiated_directly_keeps_its_line():
    """No user frame in the chain (statistics.mean itself differentiated): the library's
    line, as before, and no ``inside``."""
    hz = _quiet(framead.trace, statistics.mean, np.array([1.0, 2.5])).hazards
    assert hz and all(h.loc.file == statistics.__file__ and h.inside is None for h in hz), hz


# --------------------------------------------------------------------------- the split itself

LIB = os.path.join(os.path.dirname(statistics.__file__), "lib_{}.py")
frames = st.tuples(st.booleans(), st.integers(1, 999), st.sampled_from(["f", "g", "C.m"]))


def _frame(user: bool, line: int, fn: str) -> tuple[str, int, str]:
    return (HERE if user else LIB.format(line % 3), line, fn)


@settings(max_examples=200, deadline=None)
@given(st.lists(frames, min_size=1, max_size=9))
def test_split_user_is_the_innermost_user_frame(chain):
    """``split_user`` cuts a chain at its first user frame: the library part before it is
    ``inside`` (innermost first), the user's frame and its callers the location; a chain of
    library frames only (or a user frame first) is left as it is."""
    chain = [_frame(*c) for c in chain]
    loc = SourceLoc(*chain[0], tuple(chain[1:]))
    user, inside = split_user(loc)
    first = next((i for i, c in enumerate(chain) if c[0] == HERE), None)
    if first in (None, 0):
        assert (user, inside) == (loc, None)
        assert Hazard("FA101", "op", loc, "m") == Hazard("FA101", "op", loc, "m", None)
        return
    assert (user.file, user.line, user.function) == chain[first]
    assert list(user.stack) == chain[first + 1:]
    assert [(inside.file, inside.line, inside.function), *inside.stack] == chain[:first]
    h = Hazard("FA101", "op", loc, "m")
    assert (h.loc, h.inside) == (user, inside) and h.message.startswith("m (this line called")
    assert Hazard(h.code, h.op, h.loc, h.message, h.inside) == h  # (idempotent: rebuilt)


def test_locate_walks_past_the_callers_c_keeps():
    """A frame eight library frames below the user's (more than C's walk keeps):
    ``locate`` carries the chain on to the user's line."""
    src = "import sys\ndef down(n, probe):\n    return probe(sys._getframe()) if n == 0 " \
          "else down(n - 1, probe)\n"
    ns: dict = {}
    exec(compile(src, LIB.format("deep"), "exec"), ns)
    loc = ns["down"](7, locate)  # deep
    user, inside = split_user(loc)
    assert (user.file, user.line) == (HERE, line_of("deep", HERE)), loc
    assert inside is not None and len(inside.stack) == 7, inside

