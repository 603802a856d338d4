"""What an eager frame's Tracers cannot show by their operators alone (capture/eager_probes.py),
fuzzed over program shapes: text made from a traced value and parsed back (makers x parsers
x traced kinds), lookups by a traced key (lookups x stale / this call's entries), ``type(...)``
checks on traced values, and reductions over Tracers inside an instrumented helper.

Each program is judged against an independent reference: central differences of the native
run (float64) or an analytic derivative, unless framead reports the loss at the user's line
(FA111 at the parse, FA110 at the lookup) and ``strict=True`` raises there.

Found (classic corpus, check "eager"): ``Decimal(str(t))`` and a csv writer gave back a
constant silently (decimal_from_str_quantize, csv_export_zip_rows); an ``lru_cache`` filled by
an earlier native call handed back its float (module_lru_cache_float); ``type(x) is float``
took the other branch (type_checks_on_input); ``sum([a, 3 * a])`` in an instrumented helper
lost ``a``'s term (chebft_chebev).
"""

from __future__ import annotations

import functools
import linecache
import math

import numpy as np
import pytest
from conftest import FAKE, fd_grad
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import framead
from framead import GradientHazard

pytestmark = pytest.mark.skipif(FAKE, reason="tests framead's eager fallback itself")

_N = [0]


def _program(body: list[str], ns: dict | None = None):
    """``prog`` from ``body`` (compiled under its own file name, in linecache) marked eager;
    the line numbers of the lines holding ``# PARSE`` / ``# LOOKUP``."""
    _N[0] += 1
    name = f"<eager text keys {_N[0]}>"
    src = "def prog(x):\n" + "".join(f"    {line}\n" for line in body)
    linecache.cache[name] = (len(src), None, src.splitlines(True), name)
    glb = {"np": np, "math": math, "functools": functools, **(ns or {})}
    exec(compile(src, name, "exec"), glb)
    marks = {tag: k + 2 for k, line in enumerate(body) for tag in ("PARSE", "LOOKUP")
             if f"# {tag}" in line}
    return glb["prog"], framead.eager(glb["prog"]), name, marks


def _reported(f, x, code: str, file: str, line: int) -> bool:
    """``code`` reported at file:line, and ``strict=True`` raises it."""
    hz = framead.trace(f, x).hazards
    if not any(h.code == code and h.loc.file == file and h.loc.line == line for h in hz):
        return False
    with pytest.raises(GradientHazard):
        framead.trace(f, x, strict=True)
    return True


# ------------------------------------------------------------------------------------- text

KINDS = {"float": ("x * x", 0.8), "float64": ("np.sin(x) * x", 0.8),
         "array item": ("x[0] * x[1]", np.array([0.8, 1.3]))}
MAKERS = {
    "str": ["s = str(y)"], "repr": ["s = repr(y)"], "format": ["s = format(y, '.17g')"],
    "f-string": ["s = f'{y:.17g}'"], "f-string !r": ["s = f'{y!r}'"],
    "%g": ["s = '%.17g' % y"], "%r tuple": ["s = '%r' % (y,)"],
    "% dict": ["s = '%(v).17g' % {'v': y}"], "str.format": ["s = '{:.17g}'.format(y)"],
    "join": ["s = ' '.join(['a', str(y)]).split()[1]"],
    "csv": ["import csv, io", "buf = io.StringIO()", "csv.writer(buf).writerow([y])",
            "s = buf.getvalue().strip()"],
}
PARSERS = {"float": "v = float(s)", "Decimal": "v = float(decimal.Decimal(s))",
           "np.float64": "v = float(np.float64(s))",
           "Fraction": "v = float(fractions.Fraction(s))"}


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(KINDS)), st.sampled_from(sorted(MAKERS)),
       st.sampled_from(sorted(PARSERS)))
def test_text_of_tracers_parsed_back_is_reported(kind, maker, parser):
    import decimal
    import fractions

    expr, x = KINDS[kind]
    body = [f"y = {expr}", *MAKERS[maker], f"{PARSERS[parser]}  # PARSE",
            "return v + 0.5 * np.sum(x)"]
    native, prog, file, marks = _program(body, {"decimal": decimal, "fractions": fractions})
    try:
        native(x)
    except (ValueError, ArithmeticError):  # (Decimal("np.float64(0.64)"): natively too)
        assume(False)
    g = framead.grad(prog)(x.copy() if isinstance(x, np.ndarray) else x)
    fd = fd_grad(native, (x,))
    assert np.allclose(g, fd, rtol=1e-6, atol=1e-8) or \
        _reported(prog, x, "FA111", file, marks["PARSE"]), (kind, maker, parser, g, fd)


@pytest.mark.parametrize("maker", ["str", "%g", "f-string"])
def test_text_of_tracers_only_printed_is_no_hazard(maker):
    """Text made for output only: the gradient is right and nothing is reported (no FA102
    for the float() that '%' asks of the Tracer)."""
    body = ["y = x * x", *MAKERS[maker], "n = len(s)", "return y * 3.0 + 0.0 * n"]
    _, prog, _, _ = _program(body)
    assert math.isclose(framead.grad(prog)(0.8), 6.0 * 0.8, rel_tol=1e-12)
    assert [h.code for h in framead.trace(prog, 0.8).hazards] == ["FA201"]


def test_bytes_of_a_tracer_is_raw_storage():
    """``bytes(t)``: raw memory, FA105 as instrumented code; a float's TypeError as natively."""
    body = ["y = x[0] * x[1]", "b = bytes(y)", "return float(np.frombuffer(b)[0]) + x[0]"]
    _, prog, _, _ = _program(body)
    assert "FA105" in [h.code for h in framead.trace(prog, np.array([0.5, 2.0])).hazards]
    _, prog, _, _ = _program(["try:", "    bytes(x * 2.0)", "except TypeError as e:",
                              "    return len(str(e)) * x"])
    try:
        bytes(1.0)
    except TypeError as e:
        assert framead.value_and_grad(prog)(0.5) == (len(str(e)) * 0.5, len(str(e)))


# ------------------------------------------------------------------------------------- keys

LOOKUPS = {"item": "v = memo[y]", "get": "v = memo.get(y, 0.0)",
           "setdefault": "v = memo.setdefault(y, 0.0)",
           "in then item": "v = memo[y] if y in memo else 0.0",
           "tuple key": "v = pairs[(y, 1)]", "lru_cache": "v = cached(y)",
           "functools.cache": "v = cached_plain(y)"}
_FILL = "memo[y] = y * 3.0; pairs[(y, 1)] = y * 3.0"  # this call's own entries


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(sorted(LOOKUPS)), st.booleans(), st.sampled_from([0.6, 1.1, 1.7]))
def test_lookup_by_a_traced_key(lookup, stale, x):
    """A lookup by a traced key: entries this call stored (or an lru_cache miss) give the
    gradient; an entry an earlier native call stored is FA110 at the lookup's line."""
    memo: dict = {}
    pairs: dict = {}

    @functools.lru_cache(maxsize=128)
    def cached(k):
        return k * 3.0

    @functools.cache
    def cached_plain(k):
        return k * 3.0

    ns = {"memo": memo, "pairs": pairs, "cached": cached, "cached_plain": cached_plain}
    body = ["y = x * x", *([] if stale else [_FILL]), f"{LOOKUPS[lookup]}  # LOOKUP",
            "return v + x"]
    _, prog, file, marks = _program(body, ns)

    def reset():
        memo.clear(), pairs.clear(), cached.cache_clear(), cached_plain.cache_clear()
        if stale:  # an earlier native call's entries, at an equal key
            y = x * x
            memo[y] = pairs[(y, 1)] = 3.0 * y
            cached(y), cached_plain(y)

    reset()
    g = framead.grad(prog)(x)
    if not stale:
        assert math.isclose(g, 6.0 * x + 1.0, rel_tol=1e-12), (lookup, g)
        reset()
        assert "FA110" not in [h.code for h in framead.trace(prog, x).hazards]
        return
    reset()
    hz = framead.trace(prog, x).hazards
    assert any(h.code == "FA110" and h.loc.file == file and h.loc.line == marks["LOOKUP"]
               for h in hz), (lookup, [(h.code, h.loc.line) for h in hz])
    reset()
    with pytest.raises(GradientHazard):
        framead.trace(prog, x, strict=True)


# ------------------------------------------------------------------------------------- type

CHECKS = ("type(y) is float", "type(y) == float", "type(y) in (float, int)",
          "type(y).__name__ == 'float'", "type(y) is np.float64", "type(y) is not float",
          "isinstance(y, float) and type(y) is float", "builtins.type(y) is float")
TYPE_KINDS = {"float": ("x * 1.5", 0.7), "np.float64": ("x * 1.5", np.float64(0.7)),
              "array item": ("x[0] * 1.5", np.array([0.7, 0.2]))}


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(CHECKS), st.sampled_from(sorted(TYPE_KINDS)))
def test_type_checks_take_the_native_branch(check, kind):
    import builtins

    expr, x = TYPE_KINDS[kind]
    body = [f"y = {expr}", f"c = 2.0 if {check} else 1.0", "return c * y * y"]
    native, prog, _, _ = _program(body, {"builtins": builtins})
    copy = (lambda: x.copy()) if isinstance(x, np.ndarray) else (lambda: x)
    value, g = framead.value_and_grad(prog)(copy())
    assert value == native(copy()), (check, kind)
    assert np.allclose(g, fd_grad(native, (copy(),)), rtol=1e-6, atol=1e-9), (check, kind)


# ------------------------------------------------------------------ reductions in a helper

REDUCERS = {
    "sum list": "sum([a, 3.0 * a, 5.0 * a])", "sum tuple": "sum((a, a), 1.0)",
    "math.prod": "math.prod([a, a, 2.0])", "math.fsum": "math.fsum([a, 3.0 * a])",
    "reduce add": "functools.reduce(operator.add, [a, 3.0 * a, a])",
    "reduce mul": "functools.reduce(operator.mul, [a, a, 2.0])",
    "accumulate": "list(itertools.accumulate([a, a, a]))[-1]",
    "starmap": "sum(itertools.starmap(operator.mul, [(a, a), (a, 2.0)]))",
    "map neg": "sum(map(operator.neg, [a, a]))", "max": "max([a, 2.0 * a])",
    "sorted": "sum(sorted([a, -a, 3.0 * a]))", "np.sum": "np.sum([a, a * a])",
    "np.prod": "np.prod([a, a])", "hypot": "math.hypot(a, 2.0 * a)",
    "np.dot": "np.dot([a, a], [1.0, 2.0])", "map abs": "sum(map(abs, [a, -a]))",
    "map pow": "sum(map(pow, [a, a], [2, 3]))", "fmean": "statistics.fmean([a, 3.0 * a])",
}


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(REDUCERS)), st.sampled_from(["float", "np.float64"]),
       st.sampled_from([0.7, -1.3, 2.2]))
def test_reductions_over_tracers_inside_an_instrumented_helper(reducer, kind, a):
    """An instrumented helper given a Tracer reduces it with a C call that has a rule: the
    rule records the call and the Tracer operations inside it compute natively (a node of
    their own besides took the result's place: sum([a, 3 * a]) lost a's term)."""
    import itertools
    import operator
    import statistics

    ns = {"np": np, "math": math, "functools": functools, "itertools": itertools,
          "operator": operator, "statistics": statistics}
    exec(compile(f"def helper(a):\n    return {REDUCERS[reducer]}\n", "<helper>", "exec"), ns)
    helper = ns["helper"]

    def native(x):
        return helper(x) * 1.0

    prog = framead.eager(lambda x: helper(x) * 1.0)
    x = a if kind == "float" else np.float64(a)
    g = framead.grad(prog)(x)
    assert math.isclose(float(g), float(fd_grad(native, (x,))), rel_tol=1e-6, abs_tol=1e-9), \
        (reducer, kind, a, g)
