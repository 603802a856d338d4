"""False FA101 alarms: C callables that only move references to traced values, or run Python
code framead instruments, lose no gradient (capture/reference_moves.py).

Exceptions carrying traced payloads (``raise ValueError(x)`` caught, ``e.args[0] * 2``),
``eval``/``exec`` of code on traced values, heapq's C helpers (``_heapify_max`` under
``nlargest``), and a table of reference movers (``SimpleNamespace(a=x)``, ``cv.set(x)``,
``operator.setitem(L, i, x)``): the gradient equals central differences of the native run
and ``strict=True`` raises nothing. The counter-tests show a value really lost on the same
paths (text of a traced payload parsed back, a C double store, a traced array iterated in C
by a list's ``+=`` or slice assignment) is still reported, and strict raises there.
"""

from __future__ import annotations

import array
import collections
import contextvars
import heapq
import math
import operator
import struct
import types
import warnings

import numpy as np
import pytest
from conftest import fd_grad
from hypothesis import given, settings
from hypothesis import strategies as st

import framead
from framead.errors import GradientHazard


def trace_hazards(f, x0) -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return framead.trace(f, x0).hazards


def hazard_sites(f, x0) -> list[tuple[str, str, int]]:
    return [(h.code, h.loc.file, h.loc.line) for h in trace_hazards(f, x0)]


def line_of(marker: str) -> int:
    """The line of this file that ends with ``# marker``."""
    with open(__file__) as fh:
        (n,) = [i + 1 for i, s in enumerate(fh) if s.rstrip().endswith(f"# {marker}")]
    return n


def _check(f, x0, rtol=1e-6, atol=1e-8):
    """Strict capture raises nothing, no hazard, and the gradient is central differences'."""
    assert trace_hazards(f, x0) == []
    g = framead.grad(f, strict=True)(x0)
    np.testing.assert_allclose(g, fd_grad(f, (x0,)), rtol=rtol, atol=atol)


def _reported(f, x0, code):
    """``code`` is reported (at least once), and strict raises."""
    assert code in [h.code for h in trace_hazards(f, x0)]
    with pytest.raises(GradientHazard):
        framead.grad(f, strict=True)(x0)


# --- exceptions ---------------------------------------------------------------------------


class Plain(Exception):
    """A class statement's exception without Python code: built in C."""


class SuperInit(Exception):
    def __init__(self, *args):
        super().__init__(*args)  # (BaseException.__init__ bound: a method-wrapper)


class ExplicitInit(ValueError):
    def __init__(self, *args):
        ValueError.__init__(self, *args)  # (the slot wrapper)


class OwnNew(ValueError):
    def __new__(cls, *args):
        return super().__new__(cls, *args)  # (ValueError.__new__ bound to the class)


EXCEPTIONS = [ValueError, KeyError, RuntimeError, StopIteration, OSError, ZeroDivisionError,
              UserWarning, Plain, SuperInit, ExplicitInit, OwnNew]


def _payload_program(cls, at, n_args, raised, array_payload):
    def f(x):
        p = np.array([x, x * x]) if array_payload else x * x
        args = ["msg"] * n_args
        args.insert(at, p)
        if raised:
            try:
                raise cls(*args)
            except cls as caught:
                e = caught
        else:
            e = cls(*args)
        v = e.args[at]
        return float(np.sum(np.sin(v) * x)) if array_payload else math.sin(v) * x + v
    return f


@settings(max_examples=40, deadline=None)
@given(cls=st.sampled_from(EXCEPTIONS), n_args=st.integers(0, 2), data=st.data(),
       raised=st.booleans(), array_payload=st.booleans(), x0=st.floats(0.3, 1.7))
def test_exception_payloads_keep_their_gradient(cls, n_args, data, raised, array_payload, x0):
    if cls is OSError:  # (OSError(errno, strerror, filename).args is (errno, strerror))
        n_args = min(n_args, 1)
    at = data.draw(st.integers(0, n_args))
    _check(_payload_program(cls, at, n_args, raised, array_payload), x0)


@pytest.mark.parametrize("show", [str, repr, lambda e: f"failed: {e}", lambda e: "%s" % (e,)])  # noqa: UP031
@pytest.mark.parametrize("cls", [ValueError, Plain, SuperInit])
def test_exception_only_used_for_its_message(cls, show):
    def f(x):
        y = x ** 3
        msg = show(cls(y, "bad value"))
        return y * 2.0 + (0.0 if msg else 1.0)
    _check(f, 1.2)


def test_stop_iteration_value_and_oserror_errno():
    def f(x):
        s = StopIteration(x * 2.0)
        o = OSError(x * 3.0, "no such thing")
        return s.value * o.errno + o.args[0]
    _check(f, 0.8)


def test_exception_text_parsed_back_is_still_reported():
    def f(x):
        e = ValueError(x * x)
        return float(str(e)) * 3.0 + x  # read: exception text
    _reported(f, 1.3, "FA111")
    assert ("FA111", __file__, line_of("read: exception text")) in hazard_sites(f, 1.3)


def test_exception_payload_stored_as_c_double_is_still_reported():
    def f(x):
        e = Plain(x * x)
        return struct.unpack("d", struct.pack("d", e.args[0]))[0] + x
    _reported(f, 1.3, "FA105")


# --- eval / exec ---------------------------------------------------------------------------

# expressions over x: what a formula string in a config file looks like
_LEAVES = st.sampled_from(["x", "0.5", "2.0", "x"])
_UNARY = st.sampled_from(["np.sin({})", "math.cos({})", "np.tanh({})", "({}) ** 2",
                          "-({})"])
_BINARY = st.sampled_from(["({}) + ({})", "({}) * ({})", "({}) - ({})"])
EXPRESSIONS = st.recursive(_LEAVES, lambda inner: st.one_of(
    st.tuples(_UNARY, inner).map(lambda t: t[0].format(t[1])),
    st.tuples(_BINARY, inner, inner).map(lambda t: t[0].format(t[1], t[2]))), max_leaves=6)


def _eval_program(form, src):
    def f(x):
        if form == "caller_locals":
            return eval(src) + x
        if form == "globals":
            return eval(src, {"x": x, "np": np, "math": math}) + x
        if form == "locals":
            return eval(src, {"np": np, "math": math}, {"x": x}) + x
        if form == "compiled":
            return eval(compile(src, "<formula>", "eval"), {"x": x, "np": np, "math": math}) + x
        ns = {"x": x, "np": np, "math": math}
        exec(f"def g(v):\n    return v * ({src})\ny = g(x)", ns)  # exec: defs, assignments
        return ns["y"] + x
    return f


@settings(max_examples=40, deadline=None)
@given(form=st.sampled_from(["caller_locals", "globals", "locals", "compiled", "exec"]),
       src=EXPRESSIONS, x0=st.floats(-1.5, 1.5))
def test_eval_and_exec_of_traced_code(form, src, x0):
    _check(_eval_program(form, src), x0, rtol=1e-5, atol=1e-7)


def test_loss_inside_eval_is_still_reported():
    def parse(x):
        return eval("float(str(x * x))", {"x": x}) + x
    _reported(parse, 1.3, "FA111")
    assert ("FA111", "<string>", 1) in hazard_sites(parse, 1.3)

    def c_double(x):
        return eval("struct.unpack('d', struct.pack('d', x))[0]", {"x": x, "struct": struct}) + x
    _reported(c_double, 1.3, "FA105")


K = [2.0]


def test_cached_eval_follows_what_it_reads():
    """A cached trace cannot watch the globals eval'd text reads: it is re-captured."""
    def f(x):
        return eval("K[0] * x * x")
    vg = framead.value_and_grad(f, cache=True, strict=True)
    for k, x0 in [(2.0, 1.0), (3.0, 1.0), (5.0, 0.5)]:
        K[0] = k
        v, g = vg(x0)
        assert v == pytest.approx(k * x0 * x0)
        assert g == pytest.approx(fd_grad(f, (x0,)), rel=1e-6)


# --- heapq -----------------------------------------------------------------------------------

_HEAP_MAX = [getattr(heapq, n) for n in ("_heapify_max", "heapify_max") if hasattr(heapq, n)]


def _heap_program(op, coefs, k):
    c = list(coefs)

    def f(x):
        items = [ci * x + ci * ci for ci in c]
        if op == "nlargest":
            got = heapq.nlargest(k, items)
        elif op == "nsmallest":
            got = heapq.nsmallest(k, items)
        elif op == "merge":
            got = list(heapq.merge(sorted(items[::2]), sorted(items[1::2])))
        elif op == "merge_reverse":
            got = list(heapq.merge(sorted(items[::2], reverse=True),
                                   sorted(items[1::2], reverse=True), reverse=True))
        elif op == "heapify_max":
            got = list(items)
            _HEAP_MAX[0](got)
        else:  # heapify, then pops and a pushpop
            got = list(items)
            heapq.heapify(got)
            got = [heapq.heappop(got), heapq.heappushpop(got, x * 0.5), *got]
        return sum(w * g for w, g in zip([1.0, 2.0, 3.0, 5.0, 7.0, 11.0], got, strict=False))
    return f


@settings(max_examples=40, deadline=None)
@given(op=st.sampled_from(["nlargest", "nsmallest", "merge", "merge_reverse", "heapify_max",
                           "heappop"]),
       coefs=st.lists(st.integers(-8, 8), min_size=2, max_size=6, unique=True),
       k=st.integers(1, 4), x0=st.floats(0.5, 1.5))
def test_heaps_of_traced_floats(op, coefs, k, x0):
    if op == "heapify_max" and not _HEAP_MAX:
        return
    # items ci*x + ci^2 with distinct integer ci: no ties within the difference step
    _check(_heap_program(op, [c / 4 for c in coefs], k), x0)


def test_heap_stored_as_c_doubles_is_still_reported():
    def f(x):
        top = heapq.nlargest(2, [x, 2.0 * x, 3.0 * x])
        return sum(array.array("d", top)) + x
    _reported(f, 1.3, "FA105")


# --- the reference-move table ----------------------------------------------------------------

CV = contextvars.ContextVar("cv")


def _ns(x):
    return types.SimpleNamespace(a=x * x, b=[x]).a * x


def _proxy(x):
    return types.MappingProxyType({"a": x * x})["a"] * x


def _contextvar(x):
    token = CV.set(x * x)
    v = CV.get()
    CV.reset(token)
    return v * x


def _setitem_list(x):
    L = [x, 0.0]
    operator.setitem(L, 1, x * x)
    list.__setitem__(L, 0, L[1] * x)
    return L[0] + L[1]


def _setitem_dict(x):
    d = {"a": x}
    dict.__setitem__(d, "b", x * x)
    operator.setitem(d, "c", d["b"] * x)
    return d["a"] + d["c"]


def _setitem_slice(x):
    L = [0.0, 0.0, 1.0]
    L.__setitem__(slice(0, 2), [x, x * x])
    return L[0] * L[1] + L[2]


def _deque(x):
    d = collections.deque([x, 2.0 * x])
    d.insert(1, x * x)
    d[0] = d[1] * x
    return d[0] + d[2]


def _concat(x):
    L = operator.concat([x], [x * x])
    L = operator.iconcat(L, (x * 3.0,))
    return L[0] * L[1] + L[2] + list.__getitem__(L, slice(1, 3))[0]


MOVERS = [_ns, _proxy, _contextvar, _setitem_list, _setitem_dict, _setitem_slice, _deque,
          _concat]


@pytest.mark.parametrize("f", MOVERS, ids=lambda f: f.__name__.strip("_"))
@settings(max_examples=5, deadline=None)
@given(x0=st.floats(-2.0, 2.0))
def test_reference_moves(f, x0):
    _check(f, x0)


def _iconcat_array(x):
    L = [0.0]
    operator.iconcat(L, np.array([x, 2.0 * x]))  # (list += array: C iterates the array)
    return L[1] + L[2]


def _slice_array(x):
    L = [0.0, 0.0]
    L.__setitem__(slice(0, 2), np.array([x, 2.0 * x]))
    return L[0] + L[1]


@pytest.mark.parametrize("f", [_iconcat_array, _slice_array], ids=lambda f: f.__name__)
def test_arrays_iterated_in_c_by_a_mover_are_still_reported(f):
    with pytest.warns(framead.GradientWarning):  # (the output does not depend on x)
        assert framead.grad(f)(1.3) != pytest.approx(fd_grad(f, (1.3,)))  # (really lost)
    _reported(f, 1.3, "FA101")
