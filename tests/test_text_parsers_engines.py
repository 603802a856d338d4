"""Every number parser x every way of reaching it x every engine: text made from a traced value
and parsed back is FA111 at the user's line (capture/text_taint.py).

A traced ``y`` written as text (``repr``, ``str``, an f-string, ``'%r'``, ``format``) and read
back by a parser (``float``, ``np.float64``, ``Decimal``, ``Fraction``, ``json.loads``,
``ast.literal_eval``, ``eval``, ``ndarray.astype`` of a str array) gives a constant: the
gradient of ``v + x`` is 1.0 where the native run's central differences say ``2x + 1``. Each
parser is reached by name, an alias, ``getattr``, ``functools.partial``, ``map``, a lambda and a
helper, in instrumented code and in a ``@framead.eager`` frame; the judge: the value is the
native one, and FA111 is reported at the parse's file:line (strict=True raises), or the gradient
is right to 1e-6 against central differences of the native run.
"""

from __future__ import annotations

import ast
import builtins
import decimal
import fractions
import functools
import io
import json
import linecache
import math

import numpy as np
import pytest
from conftest import FAKE, fd_grad
from hypothesis import given, settings
from hypothesis import strategies as st

import framead
from framead import GradientHazard

pytestmark = pytest.mark.skipif(FAKE, reason="tests framead's text taint itself")

_NS = {"np": np, "builtins": builtins, "decimal": decimal, "fractions": fractions,
       "functools": functools, "json": json, "ast": ast, "io": io}
_N = [0]

# makers: text of the traced y
MAKERS = {"str": "s = str(y)", "repr": "s = repr(y)", "f-string": "s = f'{y!r}'",
          "%r": "s = '%r' % (y,)", "format": "s = format(y, '.17g')",
          "np.str_": "s = np.str_(repr(y))"}

# parsers: (module, attribute, how its result becomes a float[, positional args, keywords]);
# ``{s}`` in the arguments is the text
PARSERS = {
    "float": ("builtins", "float", "{}"), "np.float64": ("np", "float64", "float({})"),
    "Decimal": ("decimal", "Decimal", "float({})"),
    "Fraction": ("fractions", "Fraction", "float({})"),
    "json.loads": ("json", "loads", "{}"), "ast.literal_eval": ("ast", "literal_eval", "{}"),
    "eval": ("builtins", "eval", "{}"),
    # NumPy's parsers (a number array or scalar made of the text)
    "np.double": ("np", "double", "float({})"),
    "np.array": ("np", "array", "float({}[0])", ("[{s}]", "float")),
    "np.array(dtype=)": ("np", "array", "float({}[0])", ("[{s}]",), "dtype=float"),
    "np.asarray": ("np", "asarray", "float({}[0])", ("[{s}]", "np.float64")),
    "np.array(str array)": ("np", "array", "float({}[0])", ("np.array([{s}])", "'f8'")),
    "np.fromiter": ("np", "fromiter", "float({}[0])", ("[{s}]", "float")),
    "np.full": ("np", "full", "float({}[0])", ("1", "{s}", "float")),
    "np.fromstring": ("np", "fromstring", "float({}[0])", ("{s} + ',1.5'",), "sep=','"),
    "np.loadtxt": ("np", "loadtxt", "float({})", ("io.StringIO({s})",)),
    "np.genfromtxt": ("np", "genfromtxt", "float({})", ("io.StringIO({s})",)),
}


def _ways(mod: str, attr: str, conv: str, args: tuple = ("{s}",), kw: str = "",
          text: str = "s") -> dict[str, list[str]]:
    """Lines setting ``v`` from the text ``text`` by the parser ``mod.attr`` given ``args`` and
    ``kw``; ``# PARSE`` marks the line where the parse runs."""
    p = f"{mod}.{attr}"

    def call(f: str, t: str = text) -> str:
        return f"{f}({', '.join([*(a.format(s=t) for a in args), *([kw] if kw else [])])})"

    items = ", ".join(f"[{a.format(s=text)}]" for a in args)
    lam = "t"
    mapped = f"map({f'functools.partial({p}, {kw})' if kw else p}, {items})"
    return {
        "name": [f"v = {conv.format(call(p))}  # PARSE"],
        "alias": [f"P = {p}", f"v = {conv.format(call('P'))}  # PARSE"],
        "getattr": [f"v = {conv.format(call(f'getattr({mod}, {attr!r})'))}  # PARSE"],
        "partial": [f"v = {conv.format(call(f'functools.partial({p})'))}  # PARSE"],
        "map": [f"v = {conv.format(f'list({mapped})[0]')}  # PARSE"],
        "lambda": [f"v = {conv.format(f'(lambda t: {call(p, lam)})({text})')}  # PARSE"],
        "helper": ["def h(t):", f"    return {conv.format(call(p, lam))}  # PARSE",
                   f"v = h({text})"],
    }


# ndarray.astype of a str array (a C parse of each item)
ASTYPE = {
    "name": ["v = float(np.array([s]).astype(float)[0])  # PARSE"],
    "alias": ["A = np.ndarray.astype", "v = float(A(np.array([s]), np.float64)[0])  # PARSE"],
    "getattr": ["v = float(getattr(np.array([s]), 'astype')(float)[0])  # PARSE"],
    "partial": ["v = float(functools.partial(np.ndarray.astype, dtype=float)"
                "(np.array([s]))[0])  # PARSE"],
    "map": ["v = float(list(map(np.ndarray.astype, [np.array([s])], [float]))[0][0])  # PARSE"],
    "lambda": ["v = float((lambda a: a.astype(dtype=float))(np.array([s]))[0])  # PARSE"],
    "helper": ["def h(a):", "    return a.astype(float)  # PARSE",
               "v = float(h(np.array([s]))[0])"],
}
WAYS = sorted(ASTYPE)
ENGINES = ("instrumented", "eager")


def _body(parser: str, way: str, text: str = "s") -> list[str]:
    if parser == "astype":
        return [ln.replace("[s]", f"[{text}]") for ln in ASTYPE[way]]
    spec = PARSERS[parser]
    return _ways(*spec, **({} if len(spec) > 3 else {"args": ("{s}",)}), text=text)[way]


def _program(body: list[str], engine: str):
    """(native, prog, file, parse line): ``prog(x)`` from ``body`` compiled twice under its own
    file name, the second copy run by ``engine``."""
    _N[0] += 1
    name = f"<text parsers {_N[0]}>"
    src = "def prog(x):\n" + "".join(f"    {line}\n" for line in body)
    linecache.cache[name] = (len(src), None, src.splitlines(True), name)
    fns = []
    for _ in range(2):
        glb = dict(_NS)
        exec(compile(src, name, "exec"), glb)
        fns.append(glb["prog"])
    line = next(k + 2 for k, text in enumerate(body) if "# PARSE" in text)
    return fns[0], framead.eager(fns[1]) if engine == "eager" else fns[1], name, line


def _judge(maker: str, parser: str, way: str, engine: str, x: float = 0.8) -> None:
    body = ["y = x * x", MAKERS[maker], *_body(parser, way), "return v + x"]
    native, prog, file, line = _program(body, engine)
    want = native(x)
    value, g = framead.value_and_grad(prog)(x)
    assert value == want, (body, value, want)
    if math.isclose(g, fd_grad(native, (x,)), rel_tol=1e-6):
        return
    hz = framead.trace(prog, x).hazards
    at = [(h.loc.file, h.loc.line) for h in hz if h.code == "FA111"]
    assert (file, line) in at, (body, g, [(h.code, h.loc.short()) for h in hz])
    with pytest.raises(GradientHazard):
        framead.trace(prog, x, strict=True)


ALL = sorted([*PARSERS, "astype"])
BROKEN: dict[tuple[str, str, str], str] = {}


def _cases():
    for parser in ALL:
        for way in WAYS:
            for engine in ENGINES:
                reason = BROKEN.get((parser, way, engine))
                marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                yield pytest.param(parser, way, engine, marks=marks,
                                   id=f"{parser}-{way}-{engine}")


@pytest.mark.parametrize(("parser", "way", "engine"), list(_cases()))
def test_every_parser_every_way_every_engine(parser, way, engine):
    _judge("repr", parser, way, engine)


_WORKING = [(p, w, e) for p in ALL for w in WAYS for e in ENGINES if (p, w, e) not in BROKEN]


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(_WORKING), st.sampled_from(sorted(MAKERS)),
       st.sampled_from([0.8, -1.3, 2.5, 1e-3]))
def test_parsers_fuzzed_over_makers_and_values(case, maker, x):
    _judge(maker, *case, x=x)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("parser", ALL)
def test_parse_of_constant_text_is_silent_and_right(parser, engine):
    """Text of a constant (not of y) parsed by each parser, while y's text was made for a log:
    no FA111 and the gradient (3 * 2x) is right."""
    lines = _body(parser, "name", text="'3.0'")
    body = ["y = x * x", "msg = 'y=' + repr(y)", *lines, "return v * y"]
    native, prog, _, _ = _program(body, engine)
    g = framead.grad(prog)(0.8)
    assert math.isclose(g, fd_grad(native, (0.8,)), rel_tol=1e-6)
    assert not [h for h in framead.trace(prog, 0.8).hazards if h.code == "FA111"]


@pytest.mark.parametrize("engine", ENGINES)
def test_routed_readers_stay_invisible(engine):
    """While the readers are armed (text of y was made): a partial of a reader keeps its
    ``func``, repr and pickle; ``eval`` sees the caller's locals; ``map(float, values)``
    of traced values records (the gradient of these terms is right: 2 + 3 + 2 = 7 at any
    x where ``ok`` holds, against central differences of the native run)."""
    body = ["y = x * x", "s = repr(y)", "p = functools.partial(float)",
            "ok = p.func is float and repr(p) == \"functools.partial(<class 'float'>)\"",
            "ok = ok and type(pickle.loads(pickle.dumps(p))) is functools.partial",
            "m = sum(map(float, [np.float64(y), x]))",
            "return x * (2.0 if ok else 1.0) + eval('x * 3.0') + m"]
    import pickle
    _NS["pickle"] = pickle
    native, prog, _, _ = _program([*body[:-1], body[-1] + "  # PARSE"], engine)
    value, g = framead.value_and_grad(prog)(0.6)
    assert value == native(0.6)
    if engine == "instrumented":
        assert math.isclose(g, fd_grad(native, (0.6,)), rel_tol=1e-6), g
    else:  # (float() of a Tracer in an eager frame is a cut: FA102 at the user's line)
        assert math.isclose(g, fd_grad(native, (0.6,)), rel_tol=1e-6) or "FA102" in [
            h.code for h in framead.trace(prog, 0.6).hazards]
