"""Every example in framead's docstrings runs (doctest), and every public function has one."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import inspect
import pkgutil

import numpy as np
import pytest

import framead

NEEDS = {"to_torch": "torch", "to_jax": "jax"}  # examples that need an optional extra


def _modules() -> list:
    names = ["framead"] + [m.name for m in pkgutil.walk_packages(framead.__path__, "framead.")
                           if not m.name.startswith("framead.capture")]
    return [importlib.import_module(n) for n in names
            if n not in ("framead.__main__",) and not n.endswith("_engine")]


def _doctests() -> list:
    finder = doctest.DocTestFinder(exclude_empty=True)
    out, seen = [], set()
    for mod in _modules():
        for t in finder.find(mod, extraglobs={"framead": framead, "np": np}):
            if t.examples and t.name not in seen and (
                    t.filename or "").startswith(framead.__path__[0]):
                seen.add(t.name)
                out.append(t)
    return sorted(out, key=lambda t: t.name)


DOCTESTS = _doctests()


def test_doctests_were_found():
    assert len(DOCTESTS) >= 20, [t.name for t in DOCTESTS]


@pytest.mark.parametrize("test", DOCTESTS, ids=[t.name for t in DOCTESTS])
def test_docstring_examples_run(test):
    extra = NEEDS.get(test.name.rsplit(".", 1)[-1])
    if extra and importlib.util.find_spec(extra) is None:
        pytest.skip(f"needs {extra}")
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    lines: list[str] = []
    result = runner.run(test, out=lines.append, clear_globs=True)
    assert result.failed == 0, "".join(lines)


def _public_functions() -> list:
    out = []
    for mod, names in ((framead, framead.__all__), (framead.tree, framead.tree.__all__)):
        for n in names:
            obj = getattr(mod, n)
            if inspect.isfunction(obj) or (callable(obj) and not isinstance(obj, type)
                                           and not inspect.ismodule(obj)):
                out.append((f"{mod.__name__}.{n}", obj))
    return out


@pytest.mark.parametrize("name,obj", _public_functions(), ids=lambda x: x if isinstance(x, str)
                         else "")
def test_every_public_function_has_a_docstring_example(name, obj):
    doc = inspect.getdoc(obj) or ""
    assert doc, f"{name} has no docstring"
    assert ">>>" in doc, f"{name}'s docstring has no example"


def test_version_is_the_installed_distributions():
    import subprocess
    import sys
    from importlib.metadata import version

    assert framead.__version__ == version("framead")
    out = subprocess.run([sys.executable, "-m", "framead", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert out.startswith(f"framead {framead.__version__} (CPython ")
