"""Adversarial checks of the eager engine's text / key / ``type`` probes (capture/eager_probes.py)
and of scalar Tracer operations inside rule-covered calls (capture/eager_tracer.py).

Two kinds of defects are hunted, over program shapes (hypothesis): silent wrongs (a value that
differs from the native run, or a gradient that differs from central differences in float64,
with no hazard at the user's line) and false alarms (FA110/FA111 where the gradient is right).
A shape that breaks goes in a ``*_BROKEN`` dict with its mechanism, run as a strict xfail through
the same judge as the fuzzer, so that a fix shows up as an XPASS (none is left: the parsers of
traced text are crossed with every way and engine in tests/test_text_parsers_engines.py).
"""

from __future__ import annotations

import builtins
import collections
import decimal
import functools
import json
import linecache
import math
import operator
import statistics
import sys

import numpy as np
import pytest
from conftest import FAKE, fd_grad
from hypothesis import given, settings
from hypothesis import strategies as st

import framead
from framead import GradientHazard

pytestmark = pytest.mark.skipif(FAKE, reason="tests framead's eager fallback itself")

_N = [0]
_NS = {"np": np, "math": math, "functools": functools, "builtins": builtins,
       "operator": operator, "collections": collections, "decimal": decimal, "json": json,
       "statistics": statistics}


def _program(body: list[str], ns: dict | None = None, eager: bool = True):
    """(native, eager, file, marks): ``prog(x)`` from ``body`` compiled twice under its own
    file name (one copy marked eager unless not ``eager``: the mark is on the code object);
    ``marks``: tag -> line
    of the body lines holding ``# TAG``."""
    _N[0] += 1
    name = f"<eager adversarial {_N[0]}>"
    src = "def prog(x):\n" + "".join(f"    {line}\n" for line in body)
    linecache.cache[name] = (len(src), None, src.splitlines(True), name)
    fns = []
    for _ in range(2):
        glb = {**_NS, **(ns or {})}
        exec(compile(src, name, "exec"), glb)
        fns.append(glb["prog"])
    marks = {tag: k + 2 for k, line in enumerate(body) for tag in ("PARSE", "LOOKUP", "USE")
             if f"# {tag}" in line}
    return fns[0], framead.eager(fns[1]) if eager else fns[1], name, marks


def _fresh(x):
    return x.copy() if isinstance(x, np.ndarray) else x


def _reported_at(prog, x, file: str, codes: tuple[str, ...], reset=None) -> bool:
    """One of ``codes`` reported in ``file`` (the user's program), and strict=True raises."""
    if reset:
        reset()
    hz = framead.trace(prog, _fresh(x)).hazards
    if not any(h.code in codes and h.loc.file == file for h in hz):
        return False
    if reset:
        reset()
    with pytest.raises(GradientHazard):
        framead.trace(prog, _fresh(x), strict=True)
    return True


def _judge(body: list[str], x, ns: dict | None = None, codes=("FA102", "FA110", "FA111")):
    """The eager run gives the native value and the central-difference gradient, or a hazard in
    ``codes`` is reported in the user's file (strict raises)."""
    native, prog, file, _ = _program(body, ns)
    want = native(_fresh(x))
    value, g = framead.value_and_grad(prog)(_fresh(x))
    fd = fd_grad(native, (_fresh(x),))
    same = np.allclose(value, want, rtol=1e-12, atol=0) and \
        np.allclose(g, fd, rtol=1e-6, atol=1e-8)
    assert same or _reported_at(prog, x, file, codes), (body, value, want, g, fd)


# ------------------------------------------------------------------------- type reached


KINDS = {"float": ("x * 1.5", 0.7), "np.float64": ("x * 1.5", np.float64(0.7)),
         "array item": ("x[0] * 1.5", np.array([0.7, 0.2]))}


def _is_float(y: str) -> dict[str, list[str]]:
    """Ways to ask whether ``y`` is a float: each a list of lines setting ``c`` to 2.0 or 1.0."""
    return {
        "type()": [f"c = 2.0 if type({y}) is float else 1.0"],
        "builtins.type": [f"c = 2.0 if builtins.type({y}) is float else 1.0"],
        "__class__": [f"c = 2.0 if {y}.__class__ is float else 1.0"],
        "isinstance": [f"c = 2.0 if isinstance({y}, float) else 1.0"],
        "map(type)": [f"c = 2.0 if list(map(type, [{y}]))[0] is float else 1.0"],
        "type().__name__": [f"c = 2.0 if type({y}).__name__ == 'float' else 1.0"],
        "in (float, np.float64)": [f"c = 2.0 if type({y}) in (float, np.float64) else 1.0"],
        "helper __class__": ["def h(v):", "    return v.__class__",
                             f"c = 2.0 if h({y}) is float else 1.0"],
        # (each of these was a silent wrong before the callee probe on every call's callable,
        # eager_probes._Calling and builtins.type's special form in capture/calls.py)
        "alias T = type": ["T = type", f"c = 2.0 if T({y}) is float else 1.0"],
        "getattr(builtins)": [f"c = 2.0 if getattr(builtins, 'type')({y}) is float else 1.0"],
        "operator.call": [f"c = 2.0 if operator.call(type, {y}) is float else 1.0"],
        "lambda": [f"c = 2.0 if (lambda v: type(v))({y}) is float else 1.0"],
        "helper type()": ["def h(v):", "    return type(v)",
                          f"c = 2.0 if h({y}) is float else 1.0"],
    }


_TYPE_WAYS = sorted(_is_float("y"))
_PY313 = sys.version_info >= (3, 13)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(_TYPE_WAYS), st.sampled_from(sorted(KINDS)))
def test_type_reached_other_ways_takes_the_native_branch(way, kind):
    expr, x = KINDS[kind]
    _judge([f"y = {expr}", *_is_float("y")[way], "return c * y * y"], x)


@pytest.mark.parametrize("way", ["alias T = type", "getattr(builtins)", "operator.call",
                                 "lambda", "helper type()", "map(type)"])
def test_type_reached_as_a_value_takes_the_native_branch(way):
    """Once silent wrongs (the other branch, 1.0 * y * y for 2.0 * y * y): each way, always."""
    _judge(["y = x * 1.5", *_is_float("y")[way], "return c * y * y"], 0.7)


def test_type_then_construct_in_a_helper_is_native():
    """type(v)(2.0) in a helper given a Tracer: the class of its value (calls.py special form),
    not Tracer (whose Tracer(2.0) raised TypeError)."""
    _judge(["y = x * 1.5", "def h(v):", "    return type(v)(2.0) * v", "return h(y)"], 0.7)


# An eager frame's Tracers handed by an instrumented library function to C code (once
# TypeErrors: statistics' groupby(data, type) answered Tracer, calls._value_type; json's C
# encoder checks the float type, unruled._objects gives it the Tracers' objects)
SEEN_BY_C = {
    "statistics.mean": ["return statistics.mean([y, 3.0 * y])"],
    "statistics.median": ["return statistics.median([y, 3.0 * y, 2.0])"],
    "statistics.fmean": ["return statistics.fmean([y, 3.0 * y])"],
    "statistics.mean(tuple)": ["return statistics.mean((y, 3.0 * y)) + y"],
    "groupby(type)": ["k = [len(list(g)) for _, g in itertools.groupby([y, 2.0, y], type)]",
                      "return y * k[0]"],
    "map(type)": ["return y * (2.0 if list(map(type, [y]))[0] is float else 1.0)"],
    "json.dumps": ["return y + 0.0 * len(json.dumps(y))"],
    "json.dumps list": ["return y + 0.0 * len(json.dumps([y, 2.0 * y]))"],
    "json.dumps dict": ["return y + 0.0 * len(json.dumps({'a': y}))"],
    "json.dumps dict of list": ["return y + 0.0 * len(json.dumps({'p': [y, np.float64(y)]}))"],
    "json round trip of a dict": ["return y + json.loads(json.dumps({'p': [y]}))['p'][0]"],
    "json.dumps then loads": ["return y + json.loads(json.dumps(y))"],
    "json.dumps list then loads": ["return y + json.loads(json.dumps([y]))[0]"],
}


def _chain(h) -> list[tuple[str, int]]:
    return [(h.loc.file, h.loc.line), *((f, n) for f, n, _ in h.loc.stack)]


@pytest.mark.parametrize("case", sorted(SEEN_BY_C))
@settings(max_examples=3, deadline=None)
@given(st.sampled_from([0.7, -1.1, 2.5]))
def test_tracer_seen_by_c_code_in_a_library_is_native(case, x):
    """Capture is invisible: the native value; the gradient right against central differences,
    or reported where the instrumented engine reports the same program (FA102 in statistics'
    code, FA101 at json's encoder, FA111 at the user's json.loads), the user's line in the
    hazard's location or its callers, and strict=True raises."""
    import itertools
    body = ["y = x * 1.5", *SEEN_BY_C[case]]
    native, prog, file, _ = _program(body, {"itertools": itertools})
    _, instrumented, ifile, _ = _program(body, {"itertools": itertools}, eager=False)
    value, g = framead.value_and_grad(prog)(x)
    assert value == native(x), (case, value, native(x))
    if math.isclose(g, fd_grad(native, (x,)), rel_tol=1e-6, abs_tol=1e-9):
        return
    hz = [h for h in framead.trace(prog, x).hazards if h.code != "FA201"]
    assert hz and all(any(f == file for f, _ in _chain(h)) for h in hz), case
    def sites(hazards, user):
        return [(h.code, [("user" if f == user else f, n) for f, n in _chain(h)])
                for h in hazards]
    want = sites(framead.trace(instrumented, x).hazards, ifile)
    assert sites(hz, file) == want, case
    with pytest.raises(GradientHazard):
        framead.trace(prog, x, strict=True)


# Once a misfire of a name heuristic (3.11/3.12: the FIRST ARGUMENT of a call of a global was
# taken for the callable and replaced by eager_probes' stand-in); the probe is now on the
# stack slot of each call's callable (eager.py _callables), never on an argument.
PASSED_AS_VALUE = {
    "isinstance(float, type)": "c = 2.0 if isinstance(float, type) else 1.0",
    "issubclass(type, object)": "c = 2.0 if issubclass(type, object) else 1.0",
    "str(type)": "c = 2.0 if str(type) == \"<class 'type'>\" else 1.0",
    "id(float)": "c = 2.0 if id(float) == id(builtins.float) else 1.0",
    "hash(float)": "c = 2.0 if hash(float) == hash(builtins.float) else 1.0",
}


@pytest.mark.parametrize("case", sorted(PASSED_AS_VALUE))
def test_parser_or_type_passed_as_an_argument_is_itself(case):
    _judge(["y = x * x", PASSED_AS_VALUE[case], "return c * y"], 0.7)


@pytest.mark.parametrize("expr", ["np.finfo(float).eps", "np.dtype(float).itemsize",
                                  "float(np.issubdtype(float, np.floating))",
                                  "collections.defaultdict(float)['k']",
                                  "float(repr(float) == \"<class 'float'>\")"])
def test_parser_passed_as_an_argument_behaves_natively(expr):
    _judge(["y = x * x", f"c = {expr}", "return (1.0 + c) * y"], 0.7)


# ------------------------------------------------------------------------- parsers reached


MAKERS = {"str": "s = str(y)", "repr": "s = repr(y)", "f-string": "s = f'{y!r}'",
          "%r": "s = '%r' % (y,)", "format": "s = format(y, '.17g')"}
PARSERS = {
    "float()": ["v = float(s)  # PARSE"],
    "builtins.float": ["v = builtins.float(s)  # PARSE"],
    "map(float)": ["v = list(map(float, [s]))[0]  # PARSE"],
    "np.float64()": ["v = float(np.float64(s))  # PARSE"],
    "Decimal()": ["v = float(decimal.Decimal(s))  # PARSE"],
    "in a lambda": ["v = (lambda t: float(t))(s)  # PARSE"],
    "in a helper": ["def p(t):", "    return float(t)", "v = p(s)  # PARSE"],
    "truncated": ["v = float(s[:6])  # PARSE"],  # (a start of y's text, not a substring)
    # (once silent wrongs: swapped by value now, eager.py _callables, eager_probes._Calling)
    "alias F = float": ["F = float", "v = F(s)  # PARSE"],
    "alias np.float64": ["f = np.float64", "v = float(f(s))  # PARSE"],
    "alias Decimal": ["D = decimal.Decimal", "v = float(D(s))  # PARSE"],
    "getattr(np)": ["v = float(getattr(np, 'float64')(s))  # PARSE"],
    "partial(float)": ["v = functools.partial(float)(s)  # PARSE"],
    # (once strict xfails: not in text_taint.READERS; tests/test_text_parsers_engines.py
    # crosses every parser with every way of reaching it in both engines)
    "json.loads": ["v = json.loads(s)  # PARSE"],
    "astype(float)": ["v = float(np.array([s]).astype(float)[0])  # PARSE"],
}
_PARSE_WAYS = sorted(PARSERS)


def _judge_parse(maker: str, parser: str, x=0.8):
    body = ["y = x * x", MAKERS[maker], *PARSERS[parser], "return v + x"]
    _judge(body, x, codes=("FA111",))


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(sorted(MAKERS)), st.sampled_from(_PARSE_WAYS))
def test_text_parsed_back_by_other_ways_is_reported(maker, parser):
    _judge_parse(maker, parser)


# ------------------------------------------------------------------ text only for logging


LOGS = {"f-string": "msg = f'iter {i}: y={y}'", "str": "msg = 'y=' + str(y)",
        "%g": "msg = 'y=%g' % y", "format": "msg = 'y={:.6f}'.format(y)",
        "print": "print(y, file=io.StringIO())"}


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(sorted(LOGS)), st.sampled_from(["'7'", "'1e3'", "'abc'", "'-3.5e-9'"]))
def test_text_for_logging_then_an_unrelated_parse_is_no_hazard(log, text):
    """A log line made from y and a parse of a config constant that shares no number with it:
    the gradient is right, nothing is reported."""
    import io

    body = ["i = 3", "y = x * x", LOGS[log],
            f"c = float({text}) if {text} != 'abc' else 2.0  # PARSE", "return c * y"]
    native, prog, _, _ = _program(body, {"io": io})
    g = framead.grad(prog)(0.5)
    assert math.isclose(g, fd_grad(native, (0.5,)), rel_tol=1e-6)
    assert not [h for h in framead.trace(prog, 0.5).hazards if h.code == "FA111"]


LOGGED_THEN_PARSED = {  # (once false alarms: '2' in '0.25' matched; the whole '%' text noted)
    "str(y) then '2'": ["msg = str(y)", "c = float('2')"],
    "'%d, %g' % (7, y) then '7'": ["msg = '%d items, y=%g' % (7, y)", "c = float('7')"],
    "'%.3f %d' % (y, 25) then '25'": ["msg = '%.3f %d' % (y, 25)", "c = float('25')"],
}


@pytest.mark.parametrize("case", sorted(LOGGED_THEN_PARSED))
def test_logged_value_then_a_constant_parsed_is_no_hazard(case):
    """y = 0.25 logged; a parse of a constant that is not y's text reports nothing (the
    gradient, c times 2x, is right)."""
    lines = LOGGED_THEN_PARSED[case]
    _, prog, _, _ = _program(["y = x * x", *lines, "return c * y"])
    c = float(lines[1][lines[1].index("'") + 1:-2])
    assert math.isclose(framead.grad(prog)(0.5), c, rel_tol=1e-12)
    assert not [h for h in framead.trace(prog, 0.5).hazards if h.code == "FA111"]


# ------------------------------------------------------------------------- keys


def _stale(stored: str, lookup: str, xkind: str):
    """A memo an earlier native call filled at the key the traced y equals (x = 0.5)."""
    memo: dict = {}

    @functools.lru_cache(maxsize=128)
    def cached(k):
        return k * 3.0

    key = 0.25 if stored == "float" else np.float64(0.25)

    def reset():
        memo.clear()
        cached.cache_clear()
        memo[key] = memo[(key, 1)] = 0.75
        cached(key)

    lookups = {"item": "v = memo[y]", "get": "v = memo.get(y, 0.0)", "pop": "v = memo.pop(y)",
               "tuple key": "v = memo[(y, 1)]", "in then item": "v = memo[y] if y in memo else 0",
               "lru_cache": "v = cached(y)"}
    body = ["y = x * x", f"{lookups[lookup]}  # LOOKUP", "return v + x"]
    _, prog, file, marks = _program(body, {"memo": memo, "cached": cached})
    x = 0.5 if xkind == "float" else np.float64(0.5)
    reset()
    hz = framead.trace(prog, x).hazards
    ok = any(h.code == "FA110" and h.loc.file == file and h.loc.line == marks["LOOKUP"]
             for h in hz)
    assert ok, (stored, lookup, xkind, [(h.code, h.loc.line) for h in hz])
    reset()
    with pytest.raises(GradientHazard):
        framead.trace(prog, x, strict=True)


_LOOKUPS = ["item", "get", "pop", "tuple key", "in then item", "lru_cache"]


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(_LOOKUPS), st.sampled_from(["float", "np.float64"]))
def test_stale_float_key_is_fa110(lookup, xkind):
    _stale("float", lookup, xkind)


@pytest.mark.parametrize("lookup", _LOOKUPS)
@pytest.mark.parametrize("xkind", ["float", "np.float64"])
def test_stale_np_float64_key_is_fa110(lookup, xkind):
    """np.float64.__eq__ goes to np.equal: Tracer.__array_ufunc__ tells eager_probes."""
    _stale("np.float64", lookup, xkind)


FRESH = {  # lookups of entries this call made: the gradient is right, no FA110
    "memo this call": ["memo[y] = 3.0 * y", "v = memo[y]  # USE"],
    "memo by an equal z": ["z = x * x", "memo[z] = 3.0 * z", "v = memo[y]  # USE"],
    "id key": ["memo[id(y)] = 3.0 * y", "v = memo[id(y)]  # USE"],
    "str key": ["memo['k'] = 3.0 * y", "v = memo['k']  # USE"],
    "text key": ["memo[f'{y:.3f}'] = 3.0 * y", "v = memo[f'{y:.3f}']  # USE"],
    "in, then item": ["memo[y] = 3.0 * y", "v = memo[y] if y in memo else 0.0  # USE"],
    "setdefault list": ["memo.setdefault(y, []).append(3.0 * y)", "v = sum(memo[y])  # USE"],
    "Counter": ["v = 3.0 * y * collections.Counter([y, y])[y] / 2.0  # USE"],
    "lru miss then hit": ["a = cached(y)", "v = cached(y)  # USE"],
    "lru miss, hit by equal z": ["a = cached(y)", "v = cached(x * x)  # USE"],
    "dict comprehension": ["v = {k: 3.0 * k for k in (y, 1.0)}[y]  # USE"],
}


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(sorted(FRESH)), st.sampled_from([0.5, 0.75, 1.25]),
       st.sampled_from(["float", "np.float64"]))
def test_lookup_of_this_calls_entries_is_no_hazard(case, x, xkind):
    memo: dict = {}

    @functools.lru_cache(maxsize=128)
    def cached(k):
        return k * 3.0

    def reset():
        memo.clear()
        cached.cache_clear()

    body = ["y = x * x", *FRESH[case], "return v + x"]
    native, prog, _, _ = _program(body, {"memo": memo, "cached": cached})
    xx = x if xkind == "float" else np.float64(x)
    reset()
    g = framead.grad(prog)(xx)
    reset()
    fd = fd_grad(lambda t: (reset(), native(t))[1], (xx,))
    assert math.isclose(float(g), float(fd), rel_tol=1e-6), (case, g, fd)
    reset()
    assert "FA110" not in [h.code for h in framead.trace(prog, xx).hazards]


# --------------------------------------------------- reductions inside rule-covered calls


ITEMS = {"float": "{}", "np.float64": "np.float64({})", "0-d array": "np.array({})"}
REDUCERS = {
    "sum": "sum([{a}, {b}, {c}])", "sum start": "sum([{a}, {b}], {c})",
    "math.fsum": "math.fsum([{a}, {b}, {c}])", "math.prod": "math.prod([{a}, {b}, {c}])",
    "sorted key=abs": "sum(sorted([{a}, -{b}, {c}], key=abs)[:2])",
    "sorted key=lambda": "sorted([{a}, {b}, {c}], key=lambda v: -v)[0]",
    "min key": "min([{a}, {b}, {c}], key=lambda v: (v - 1.0) ** 2)",
    "max key": "max([{a}, -{b}, {c}], key=abs)",
    "reduce add": "functools.reduce(operator.add, [{a}, {b}, {c}])",
    "np.add out=": "np.add({a}, {b}, out=np.zeros(())) + {c}",
    "np.add.reduce": "np.add.reduce([{a}, {b}, {c}])",
    "fmean": "statistics.fmean([{a}, {b}, {c}])",
    "hypot": "math.hypot({a}, {b}, {c})",
}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(REDUCERS)),
       st.tuples(*[st.sampled_from(sorted(ITEMS))] * 3),
       st.sampled_from([0.7, -1.3, 2.2]), st.sampled_from(["float", "np.float64"]),
       st.booleans())
def test_mixed_kind_reductions_over_tracers(reducer, kinds, a, xkind, in_helper):
    """Items of mixed kinds (float, np.float64, 0-d array) made from the traced value, reduced
    by a C call with a rule in an instrumented helper given a Tracer (or in the eager frame,
    where math.* on a Tracer is a reported cut, FA102)."""
    terms = [ITEMS[k].format(f"{m} * a") for k, m in zip(kinds, ("1.0", "3.0", "0.5"),
                                                            strict=True)]
    expr = REDUCERS[reducer].format(a=terms[0], b=terms[1], c=terms[2])
    if in_helper:
        body = ["def h(a):", f"    return {expr}", "return h(x) * 1.0"]
    else:
        body = ["a = x", f"return ({expr}) * 1.0"]
    x = a if xkind == "float" else np.float64(a)
    _judge(body, x, codes=("FA102",))


CALLBACKS = {
    "quad": "si.quad(lambda t: t * y, 0.0, 1.0)[0]",
    "np.vectorize": "float(np.sum(np.vectorize(lambda v: v * y)(np.array([1.0, 2.0]))))",
    "math.fsum(array)": "math.fsum(np.array([1.0, 2.0]) * y)",
    "reduce(lambda)": "functools.reduce(lambda a, b: a * b + y, [x, 2.0 * x, 3.0])",
    "max(key=closure)": "max([x, 2.0 * x], key=lambda v: v * y)",
    "accumulate(lambda)": "list(itertools.accumulate([x, y, 1.0], lambda a, b: a * b))[-1]",
}


@pytest.mark.parametrize("case", sorted(CALLBACKS))
@pytest.mark.parametrize("xkind", ["float", "np.float64"])
def test_callbacks_closing_over_tracers(case, xkind):
    """A lambda of the eager frame closing over a Tracer, called back by library code: the
    gradient is right, or the cut is FA102 at the user's line (quad and np.vectorize cut in
    the library's frame: eager_tracer._cut names its nearest caller outside the standard
    library and installed packages, once scipy's _quadpack_py)."""
    import itertools

    import scipy.integrate as si

    native, prog, file, _ = _program(["y = x * x", f"return {CALLBACKS[case]}"],
                                     {"si": si, "itertools": itertools})
    x = 0.7 if xkind == "float" else np.float64(0.7)
    value, g = framead.value_and_grad(prog)(x)
    assert math.isclose(float(value), float(native(x)), rel_tol=1e-12)
    if math.isclose(float(g), float(fd_grad(native, (x,))), rel_tol=1e-6):
        return
    hz = [h for h in framead.trace(prog, x).hazards if h.code == "FA102"]
    assert hz and all((h.loc.file, h.loc.line) == (file, 3) for h in hz), [h.loc for h in hz]
