"""Lazy source locations (issue 16): the recorder keeps code objects and offsets (a ``Where``,
capture/_evalframe.c) and ``Node.loc`` builds the SourceLoc on first read. The locations must be
exactly those of the eager walk (the reference below: frame.f_code/f_lasti/f_back as Python
shows them), over nested functions, generators, comprehensions, methods, lambdas, recursion and
exec'd code."""

from __future__ import annotations

import gc
import math
import weakref

import numpy as np
import pytest
from framead.capture import _evalframe as C
from framead.capture import handlers, mutation, recorder, session, sourceloc, values

import framead
from framead.ir import UNKNOWN_LOC, Node, SourceLoc


def eager_loc_of(frame):
    """The reference: loc_of as it was before locations became lazy (no caches)."""
    while frame is not None and sourceloc.is_framead_file(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return UNKNOWN_LOC
    chain = []
    f = frame
    while f is not None and len(chain) < sourceloc.MAX_STACK + 1:
        c = f.f_code
        if chain and (sourceloc.is_framead_file(c.co_filename) or sourceloc.is_trampoline(c)):
            break  # (framead's frames: its trampoline shows the caller's file, not a frame)
        chain.append((c.co_filename, sourceloc.line_at(c, f.f_lasti), c.co_qualname))
        f = f.f_back
    (file, line, fn), stack = chain[0], tuple(chain[1:])
    return SourceLoc(file, line, fn, stack)


_MODULES = (handlers, recorder, values, mutation)


def record(fn, *args, eager: bool):
    if eager:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(session, "FAST_RECORD", False)  # (the C fast path records a Where)
            for m in _MODULES:
                for name in ("loc_of", "where_of"):
                    if hasattr(m, name):
                        mp.setattr(m, name, eager_loc_of)
            return framead.trace(fn, *args)
    return framead.trace(fn, *args)


def locs(tr):
    return [(n.loc.file, n.loc.line, n.loc.function, n.loc.stack) for n in tr.graph.nodes]


# --- programs ------------------------------------------------------------------------------

def nested(x):
    def inner(y):
        def innermost(z):
            return z * z + 1.0
        return innermost(y) * 2.0
    return inner(x) - x


def gen_source(x):
    for i in range(3):
        yield x * (i + 1.0)


def consume_a(g):
    return next(g) + 1.0


def consume_b(g):
    return next(g) * 3.0


def generators(x):
    g = gen_source(x)
    a = consume_a(g)
    b = consume_b(g)  # the same generator resumed from another caller
    c = sum(g)
    return a + b + c


def comprehensions(x):
    xs = [x * k for k in (1.0, 2.0, 3.0)]
    d = {k: v + 1.0 for k, v in enumerate(xs)}
    return sum(v * v for v in d.values())


class Model:
    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return self.step(x) + self.w

    def step(self, x):
        return x * self.w

    @staticmethod
    def twice(x):
        return x + x


def methods(x):
    m = Model(2.5)
    return m(x) * Model.twice(x)


def lambdas(x):
    f = lambda t: t * 3.0 + 1.0  # noqa: E731
    g = lambda t: f(t) ** 2  # noqa: E731
    return g(x) - (lambda: x / 2.0)()


def fact(x, n):
    if n == 0:
        return x
    return fact(x, n - 1) * 1.5 + x


def recursion(x):
    return fact(x, 7)  # deeper than MAX_STACK


def multiline(x):
    y = (x *
         2.0 +
         math.sin(x)
         )
    return (y
            * y)


def numpy_ops(x):
    a = np.array([1.0, 2.0, 3.0]) * x
    b = np.sin(a)
    a[1] = x * 4.0
    return np.sum(a * b) + float(np.dot(a, a))


_EXEC_SRC = """
def execd(x):
    def helper(y):
        return y * y - 1.0
    return helper(x) + x / 3.0
"""


def make_execd():
    ns: dict = {}
    exec(compile(_EXEC_SRC, "<framead-test-exec>", "exec"), ns)
    return ns["execd"]


PROGRAMS = [nested, generators, comprehensions, methods, lambdas, recursion, multiline,
            numpy_ops]


@pytest.mark.parametrize("fn", PROGRAMS + [make_execd()], ids=lambda f: f.__name__)
def test_lazy_locations_match_the_eager_walk(fn):
    eager = record(fn, 1.3, eager=True)
    assert all(type(n._loc) is SourceLoc for n in eager.graph.nodes)
    lazy = record(fn, 1.3, eager=False)
    assert str(lazy.graph) == str(eager.graph)
    assert len(lazy.graph.nodes) == len(eager.graph.nodes) > 0
    assert locs(lazy) == locs(eager)
    # resolved once and kept by the lazy location, which stays: capture's checks read its
    # code objects and offsets after anything has read .loc (search_choice under a tracer)
    assert all(n.loc is n.loc for n in lazy.graph.nodes)
    assert any(type(n._loc) is C.Where and n._loc.frames for n in lazy.graph.nodes)


def test_scalar_nodes_are_recorded_lazily():
    tr = framead.trace(nested, 1.3)
    lazy = [n for n in tr.graph.nodes if type(n._loc) is C.Where]
    assert lazy, "scalar binops keep a Where until read"
    w = lazy[0]._loc
    assert [c.co_name for c, _ in w.frames if not sourceloc.is_trampoline(c)] == \
        ["innermost", "inner", "nested"]  # (the trampoline: the caller's name, dropped)
    assert lazy[0].loc is w.loc  # the Where keeps what it resolved


def test_identical_chains_share_one_where():
    def loop(x):
        s = 0.0
        for _ in range(50):
            s = s + x
        return s

    tr = framead.trace(loop, 1.0)
    wheres = {id(n._loc) for n in tr.graph.nodes if type(n._loc) is C.Where}
    assert len(wheres) == 1


def test_generator_callers_are_taken_when_recorded():
    tr = framead.trace(generators, 2.0)
    stacks = {n.loc.stack for n in tr.graph.nodes if n.loc.function == "gen_source"}
    callers = {s[0][2] for s in stacks if s}
    assert {"consume_a", "consume_b"} <= callers


def test_location_setter_and_unknown():
    n = Node(None, (), {}, ())
    assert n.loc is UNKNOWN_LOC
    loc = SourceLoc("f.py", 3, "g")
    n.loc = loc
    assert n.loc is loc
    assert sourceloc.where_of(None) is UNKNOWN_LOC
    assert sourceloc.loc_of(None) is UNKNOWN_LOC


def test_where_holds_no_frames():
    class Big:
        pass

    def f(x):
        keep = Big()
        ref.append(weakref.ref(keep))
        return x * 2.0 + 1.0

    ref: list = []
    tr = framead.trace(f, 1.0)
    gc.collect()
    assert ref[0]() is None  # the frame (and its locals) went; the nodes keep code objects
    assert tr.graph.nodes[0].loc.function.endswith("f")


def test_loc_of_and_where_of_agree_outside_capture():
    import sys

    def here():
        return sys._getframe(0)

    frame = here()
    assert sourceloc.loc_of(frame) == eager_loc_of(frame)
    assert sourceloc.where_of(frame).loc == eager_loc_of(frame)
    del frame


def test_max_stack_matches_c():
    tr = framead.trace(recursion, 1.0)
    w = next(n._loc for n in tr.graph.nodes if type(n._loc) is C.Where)
    assert len(w.frames) == sourceloc.MAX_STACK + 1
    assert max(len(n.loc.stack) for n in tr.graph.nodes) == sourceloc.MAX_STACK
