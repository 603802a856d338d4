"""The hazard registry (capture/hazards.py): every hazard framead can raise has a registered
code with slug, explanation and hint; reports, strict-mode errors and the CLI use them."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys

import pytest
from framead.capture import _evalframe as C
from framead.capture import hazards
from framead.capture.session import current_recorder
from framead.capture.sourceloc import PACKAGE_DIRS

import framead

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CODE = re.compile(r"FA\d{3}")


def _sources():
    """framead's .py files where it is installed (a wheel nests capture/ and rules/)."""
    found = {os.path.join(d, f) for top in {ds[0] for ds in PACKAGE_DIRS.values()}
             for d, _, files in os.walk(top) for f in files if f.endswith(".py")}
    yield from sorted(found)


def test_registry_entries_are_complete_and_unique():
    assert set(hazards.REGISTRY) >= {"FA101", "FA102", "FA103", "FA104", "FA105", "FA106",
                                     "FA107", "FA201"}
    slugs = [k.slug for k in hazards.REGISTRY.values()]
    assert len(set(slugs)) == len(slugs)
    for code, k in hazards.REGISTRY.items():
        assert re.fullmatch(r"FA[12]\d\d", code) and k.code == code
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", k.slug)
        assert k.explanation and k.hint_for("np.foo")
    with pytest.raises(ValueError):
        hazards.register("FA101", "no-rule-again", "x", "y")


def test_every_hazard_site_in_the_source_uses_a_registered_literal_code():
    """An AST walk over capture/, framead/ and rules/: each ``.hazard(code, ...)`` call passes
    a literal registered code, and every string constant shaped like a code is registered."""
    calls = 0
    for path in _sources():
        tree = ast.parse(open(path, encoding="utf-8").read(), path)
        for node in ast.walk(tree):
            where = f"{os.path.relpath(path, ROOT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr == "hazard" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Name) and first.id == "code":
                    continue  # Recorder.hazard forwarding its own parameter
                assert isinstance(first, ast.Constant) and isinstance(first.value, str), \
                    f"{where}: hazard code is not a string literal"
                assert first.value in hazards.REGISTRY, f"{where}: {first.value} unregistered"
                calls += 1
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                for code in CODE.findall(node.value):
                    assert code in hazards.REGISTRY, f"{where}: {code} is not registered"
    assert calls >= 10  # the walk sees the hazard sites (recorder, calls, session, eager...)


def test_unregistered_code_raises_at_runtime():
    def f(x):
        current_recorder().hazard("FA999", "planted", sys._getframe(), "not a real hazard")
        return x * x

    with pytest.raises(hazards.UnregisteredHazard, match="FA999"):
        framead.grad(f)(0.5)
    with pytest.raises(hazards.UnregisteredHazard):
        hazards.lookup("FA000")


def test_reports_and_strict_errors_carry_slug_and_hint():
    import struct

    def f(x):
        return struct.unpack("d", struct.pack("d", x))[0] * x

    (e,) = framead.coverage(f, 0.5).entries
    k = hazards.REGISTRY[e.code]
    assert (e.kind, e.hint, e.explanation) == (k.slug, k.hint_for(e.op), k.explanation)
    text = str(framead.coverage(f, 0.5))
    assert k.slug in text and e.hint in text
    (h,) = framead.trace(f, 0.5).hazards
    assert h.slug == k.slug and k.slug in str(h)
    with pytest.raises(framead.GradientHazard) as err:
        framead.grad(f, strict=True)(0.5)
    assert f"{e.code} [{k.slug}]" in str(err.value) and e.hint in str(err.value)


def refused(x):
    return x * 2.0


# a code object the rewriter refuses for a stated reason (it holds a probe object already)
refused.__code__ = refused.__code__.replace(co_consts=refused.__code__.co_consts + (C.call,))


def test_fa103_carries_the_rewriters_reason():
    def prog(x):
        return refused(x) + x

    (e,) = framead.coverage(prog, 0.5).entries
    assert e.code == "FA103" and e.kind == "uninstrumented-frame"
    assert "already instrumented (probe objects in co_consts)" in e.message
    with pytest.raises(framead.GradientHazard, match="probe objects in co_consts"):
        framead.grad(prog, strict=True)(0.5)


def test_cli_lists_the_registry():
    run = [sys.executable, "-m", "framead", "hazards"]
    out = subprocess.run(run, capture_output=True, text=True, cwd=ROOT, check=True).stdout
    for code, k in hazards.REGISTRY.items():
        assert f"{code}  {k.slug}" in out
    one = subprocess.run(run + ["no-rule"], capture_output=True, text=True, cwd=ROOT).stdout
    assert one.startswith("FA101  no-rule") and "FA102" not in one
    bad = subprocess.run(run + ["FA999"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2
