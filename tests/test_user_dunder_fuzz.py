"""Fuzzer: a program's own class (``__getitem__``, ``__setitem__``, ``__delitem__``,
``__call__``, ``__getattr__``, ``__hash__``) used with traced keys and values sees under
capture what it sees natively: which of its methods ran, in what order, each one's caller
(frame name, line, ``f_back`` chain), and a tracer's events; the value is the native one and
the derivative agrees with central finite differences (float64), for grad, value_and_grad,
a cached trace (its recording and a replay at a new input) and jvp.

The classes and programs are written to module files (instrumented as a program's own code),
drawn from: the methods the class has, the kind of the traced key (float, np.float64, 0-d
and 1-d arrays, or a constant key with a traced value), the operations (a method raising
into the program's ``except`` included: its traceback as natively), and whether a tracer
(``sys.settrace``) is on while the program runs."""

from __future__ import annotations

import math
import textwrap

import pytest
from conftest import fd_grad, load_source_module
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import framead

METHODS = {
    "getitem": """
        def __getitem__(self, k):
            _seen("getitem")
            if np.any(k > 10.0):
                raise KeyError("far")
            return self.v * k + k * k
    """,
    "setitem": """
        def __setitem__(self, k, val):
            _seen("setitem")
            if np.any(k > 10.0):
                raise IndexError("far")
            self.v = val + k * self.v
    """,
    "delitem": """
        def __delitem__(self, k):
            _seen("delitem")
            self.v = self.v * 0.5 + k
    """,
    "call": """
        def __call__(self, k):
            _seen("call")
            return self.v * k - 0.25 * k
    """,
    "getattr": """
        def __getattr__(self, name):
            _seen("getattr " + name)
            if name == "extra":
                return self.v * 3.0
            raise AttributeError(name)
    """,
    "hash": """
        def __hash__(self):
            _seen("hash")
            return 7
    """,
}

# each operation: the line it adds to the program, and the method it needs (None: any class)
OPS = {
    "get": ("y = y + o[k]", "getitem"),
    "set": ("o[k] = y * 0.3", "setitem"),
    "del": ("del o[k]", "delitem"),
    "get_far": ("try:\n    y = y + o[k + 20.0]\nexcept KeyError as e:\n    _caught(e)", "getitem"),
    "set_far": ("try:\n    o[k + 20.0] = y\nexcept IndexError as e:\n    _caught(e)", "setitem"),
    "call": ("y = y + o(k)", "call"),
    "attr": ("y = y + o.extra", "getattr"),
    "missing": ("y = y * getattr(o, 'missing', 1.5)", None),
    "hash": ("y = y + (hash(o) == hash(o)) * 0.5", None),
    "in_dict": ("y = y + {o: 2.0}[o]", None),
}

KEYS = {
    "float": "k = x * 0.25 + 0.5",
    "f64": "k = np.float64(x) * 0.25 + 0.5",
    "0d": "k = np.array(x * 0.25 + 0.5)",
    "1d": "k = np.array([x, 2.0 * x]) * 0.25 + 0.5",
    "const": "k = 2.0",
}

HEADER = '''
import sys
import traceback

import numpy as np

LOG = []
EVENTS = []
TRACE = {trace}
HERE = __file__


def _seen(tag):
    up = sys._getframe(2)
    chain = []
    f = up
    while f is not None and f.f_code.co_filename == HERE:
        chain.append((f.f_code.co_name, f.f_lineno))
        f = f.f_back
    LOG.append((tag, up.f_code.co_name, up.f_lineno, up.f_lasti, tuple(chain)))


def _caught(e):
    tb = traceback.extract_tb(e.__traceback__)
    LOG.append(("caught", repr(e), [(t.name, t.lineno) for t in tb], e.__context__))


def _tracer(frame, event, arg):
    if frame.f_code.co_filename == HERE and frame.f_code.co_name != "_seen":
        EVENTS.append((event, frame.f_code.co_name, frame.f_lineno))
    return _tracer


class Obj:
    def __init__(self, v):
        self.v = v
'''


def program_source(methods: list[str], key: str, ops: list[str], trace: bool) -> str:
    body = "".join(textwrap.indent(textwrap.dedent(METHODS[m]), "    ") for m in methods)
    lines = ["o = Obj(x * 0.5)", "y = x * 1.0", KEYS[key], *(OPS[op][0] for op in ops),
             "return np.sum(y) + np.sum(o.v)"]
    run = textwrap.indent("\n".join(lines), "        ")
    return (HEADER.format(trace=trace) + body + "\n\ndef prog(x):\n"
            "    if TRACE:\n        sys.settrace(_tracer)\n    try:\n" + run +
            "\n    finally:\n        if TRACE:\n            sys.settrace(None)\n")


def load(source: str, directory) -> object:
    return load_source_module(source, directory, "user_dunder")[0]


ENTRIES = {
    "native": lambda f, x: (f(x), None),
    "grad": lambda f, x: (None, framead.grad(f)(x)),
    "value_and_grad": lambda f, x: framead.value_and_grad(f)(x),
    "cached": lambda f, x: framead.value_and_grad(f, cache=True)(x),
    "jvp": lambda f, x: framead.jvp(f, (x,), (1.0,)),
}


def observe(mod, entry: str, x: float) -> tuple:
    """(value, derivative, methods run with their callers, tracer events)."""
    mod.LOG.clear()
    mod.EVENTS.clear()
    value, d = ENTRIES[entry](mod.prog, x)
    return value, d, list(mod.LOG), list(mod.EVENTS)


def _close(a, b) -> bool:
    return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-8)


def check_program(mod, entry: str, x: float = 0.7) -> None:
    value, _, log, events = observe(mod, "native", x)
    got, d, seen, traced = observe(mod, entry, x)
    assert seen == log, f"methods run differ under {entry}:\nnative:   {log}\ncaptured: {seen}"
    assert traced == events, f"tracer events differ under {entry}"
    if got is not None:
        assert got == value and type(got) is type(value), (got, value)
    want = fd_grad(mod.prog, (x,))
    assert _close(d, want), (d, want)
    if entry == "cached":  # the trace again, at another input (a replay, or a new capture)
        f = framead.value_and_grad(mod.prog, cache=True)
        f(x)
        x2 = 0.9
        v2, d2 = f(x2)
        assert v2 == mod.prog(x2)
        assert _close(d2, fd_grad(mod.prog, (x2,))), (d2,)


@st.composite
def programs(draw):
    methods = sorted(draw(st.sets(st.sampled_from(sorted(METHODS)), min_size=1)))
    usable = sorted(op for op, (_, need) in OPS.items() if need is None or need in methods)
    ops = draw(st.lists(st.sampled_from(usable), min_size=1, max_size=5))
    return methods, draw(st.sampled_from(sorted(KEYS))), ops, draw(st.booleans())


@pytest.fixture(scope="module")
def program_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("user_dunder")


@pytest.mark.parametrize("entry", ["grad", "value_and_grad", "cached", "jvp"])
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(prog=programs())
def test_user_class_with_traced_keys_observes_the_same_as_natively(program_dir, entry, prog):
    methods, key, ops, trace = prog
    src = program_source(methods, key, ops, trace)
    note(src)
    check_program(load(src, program_dir), entry)


def test_the_checker_sees_differences(program_dir, monkeypatch):
    """The comparison fails on methods run from another caller, a tracer's event more, or
    a derivative that differs."""
    src = program_source(["getitem"], "float", ["get"], True)
    mod = load(src.replace("    up = sys._getframe(2)",
                           "    up = sys._getframe(2 + ('framead.capture' in sys.modules and "
                           "__import__('framead').capture._evalframe.current_recorder() "
                           "is not None))"), program_dir)
    with pytest.raises(AssertionError, match="methods run differ"):
        check_program(mod, "grad")
    mod = load(src.replace('EVENTS.append((event,', 'EVENTS.append((event, __import__('
                           '"framead").capture._evalframe.current_recorder() is None,'),
               program_dir)
    with pytest.raises(AssertionError, match="tracer events differ"):
        check_program(mod, "grad")
    monkeypatch.setitem(ENTRIES, "grad", lambda f, x: (None, 1.01 * framead.grad(f)(x)))
    with pytest.raises(AssertionError, match=r"\(.*, .*\)"):
        check_program(load(src, program_dir), "grad")
