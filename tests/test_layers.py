"""The layers import only downward: ``framead/ir.py`` (with the leaf modules ``tree`` and
``errors``) ← ``rules/`` ← ``capture/`` ← ``framead/`` (API and transforms), no two modules
import each other, and no module but the C hook is longer than 600 lines.

Every import counts, also inside functions and through ``importlib.import_module("...")``.
The walk reads the source tree (``framead/``, ``capture/``, ``rules/``, which the build maps to
``framead``, ``framead.capture`` and ``framead.rules``: pyproject.toml ``package-dir``)."""

from __future__ import annotations

import ast
import os
import tomllib

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if not os.path.isfile(os.path.join(ROOT, "pyproject.toml")):  # the suite run on a wheel
    pytest.skip("the layer walk reads the source tree, which is not here",
                allow_module_level=True)
LEAVES = {"framead.ir", "framead.tree", "framead.errors"}  # import nothing of framead
MAX_LINES = 600


def _package_dirs() -> dict[str, str]:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["tool"]["setuptools"]["package-dir"]


def _modules() -> dict[str, str]:
    """Module name -> source file, for every module of the package."""
    mods: dict[str, str] = {}
    for pkg, d in _package_dirs().items():
        top = os.path.join(ROOT, d)
        for dirpath, dirs, files in os.walk(top):
            rel_dir = os.path.relpath(dirpath, top)
            if rel_dir != "." and any(os.path.join(ROOT, other) == dirpath
                                      for other in _package_dirs().values()):
                dirs[:] = []  # another mapped package (framead/ holds neither, but be safe)
                continue
            dirs[:] = [x for x in dirs if x != "__pycache__"]
            for f in files:
                if f.endswith(".py"):
                    rel = os.path.relpath(os.path.join(dirpath, f), top)[:-3]
                    name = (pkg + "." + rel.replace(os.sep, ".")).removesuffix(".__init__")
                    mods[name] = os.path.join(dirpath, f)
    return mods


MODULES = _modules()


def layer(module: str) -> int:
    if module in LEAVES:
        return 0
    if module.startswith("framead.rules"):
        return 1
    if module.startswith("framead.capture"):
        return 2
    return 3


def _targets(module: str, node: ast.AST) -> list[str]:
    """The framead modules one import statement (or import_module call) names."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = module if MODULES[module].endswith("__init__.py") else module.rsplit(".", 1)[0]
        if node.level:
            parts = base.split(".")
            base = ".".join(parts[:len(parts) - node.level + 1])
            target = base + ("." + node.module if node.module else "")
        else:
            target = node.module or ""
        subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
        names = subs if len(subs) == len(node.names) else [target, *subs]
    elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", ""))
          == "import_module" and node.args and isinstance(node.args[0], ast.Constant)
          and isinstance(node.args[0].value, str)):
        names = [node.args[0].value]
    else:
        return []
    out = []
    for t in names:
        while t not in MODULES and "." in t:
            t = t.rsplit(".", 1)[0]
        if t in MODULES and t != module and t.startswith("framead"):
            out.append(t)
    return out


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for m, path in MODULES.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            edges[m].update(_targets(m, node))
    return edges


EDGES = _edges()


def test_the_walk_sees_the_package():
    assert {"framead.api", "framead.capture.recorder", "framead.rules.registry",
            "framead.ir"} <= set(MODULES)
    assert "framead.ir" in EDGES["framead.api"] or any(
        "framead.ir" in EDGES[m] for m in EDGES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    up = sorted(t for t in EDGES[module] if layer(t) > layer(module))
    assert not up, (f"{module} (layer {layer(module)}) imports {up}: the layers are "
                    "ir/tree/errors <- rules <- capture <- framead")


def test_no_two_modules_import_each_other():
    pairs = sorted({tuple(sorted((a, b))) for a, targets in EDGES.items() for b in targets
                    if a in EDGES.get(b, ()) and a != "framead" and b != "framead"})
    assert not pairs, f"import circles: {pairs}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_are_small(module):
    with open(MODULES[module], encoding="utf-8") as f:
        n = sum(1 for _ in f)
    assert n <= MAX_LINES, f"{module} has {n} lines (at most {MAX_LINES}; split it)"
