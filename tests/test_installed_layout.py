"""framead knows its own files wherever it is installed: a checkout (framead/, capture/,
rules/ side by side) or a wheel (framead/, framead/capture/, framead/rules/). The layout test
copies the imported packages into a wheel's layout in a temporary site folder and runs there;
``make test-wheel`` runs the whole suite against a real wheel, with the oldest NumPy and SciPy
framead supports on CPython 3.11 (.ci/oldest.txt)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import pkgutil
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from framead.capture.session import _is_differentiable_internal, _skip
from framead.capture.sourceloc import is_framead_file

import framead
from framead import capture, engines, rules


def test_the_installed_framead_is_under_test():
    """``make test-wheel`` runs the suite on the wheel: it must not import the checkout."""
    site = os.environ.get("FRAMEAD_EXPECT_INSTALLED")
    if not site:
        pytest.skip("not the wheel run")
    files = [m.__file__ for m in (framead, capture, rules, capture._evalframe)]
    assert all(f.startswith(site) for f in files), files


def test_the_dependencies_under_test_are_the_pinned_ones():
    """``make test-wheel`` with .ci/oldest.txt passes its pins (``numpy==2.4.0 ...``) in
    FRAMEAD_EXPECT_DEPS: the suite must run on exactly those, not on what pip preferred."""
    pins = os.environ.get("FRAMEAD_EXPECT_DEPS", "").split()
    if not pins:
        pytest.skip("no pinned dependencies in this run")
    got = {}
    for pin in pins:
        name, _, want = pin.partition("==")
        got[name] = importlib.metadata.version(name)
        assert got[name] == want, (pin, got)
    assert np.__version__ == got.get("numpy", np.__version__)


def _module_files(pkg) -> list[str]:
    return [os.path.join(m.module_finder.path, m.name + ".py")
            for m in pkgutil.iter_modules(pkg.__path__) if not m.ispkg]


def test_every_module_of_framead_is_framead_file():
    files = [f for p in (framead, capture, rules, engines)
             for f in _module_files(p)]
    assert len(files) > 40
    assert all(is_framead_file(f) for f in files), [f for f in files if not is_framead_file(f)]
    for other in (__file__, np.__file__, os.__file__, "<stdin>", "/<framead-generated>/x.py"):
        assert not is_framead_file(other), other
    assert _skip(framead.api.grad.__code__) and _skip(framead.reverse.Backward.__init__.__code__)


def test_differentiable_internals_are_the_rules_and_the_reverse_pass():
    inside = [*_module_files(rules), *(sys.modules[f"framead.{m}"].__file__ for m in (
        "reverse", "replay", "transforms", "forward"))]
    assert all(_is_differentiable_internal(f) for f in inside)
    outside = [*_module_files(capture), *_module_files(engines), __file__, *(
        sys.modules[f"framead.{m}"].__file__ for m in ("api", "implicit", "cache"))]
    assert not any(_is_differentiable_internal(f) for f in outside)


SCRIPT = '''
import json, os, sys, traceback
import numpy as np
import framead
import framead.capture.session
import framead.rules.registry
from framead.capture.sourceloc import is_framead_file

site = {site!r}
assert framead.__file__.startswith(site), framead.__file__
for m in ("framead.capture.session", "framead.rules.registry", "framead.engines"):
    assert sys.modules[m].__file__.startswith(os.path.join(site, "framead", "")), m
mine = lambda f: os.path.abspath(f).startswith(os.path.join(site, "framead", ""))


def f(x):
    return np.sum(np.sin(x) ** 2) + x[0] ** 3


def broken(x):
    return np.linalg.inv(np.zeros((2, 2)) * x[0])


def sub(a):
    return np.sum(np.exp(a))


def with_engine(x):
    return framead.use("finite_diff")(sub)(x) * x[1]


x = np.array([0.3, 1.2])
try:
    framead.grad(lambda x: np.sum(broken(x)))(x)
except np.linalg.LinAlgError as e:
    tb = [fs.filename for fs in traceback.extract_tb(e.__traceback__)]
h = framead.hessian(f)(x)
cached = framead.grad(with_engine, cache=True)
g1, g2 = cached(x), cached(x + 0.5)
print(json.dumps({{
    "tb_framead": [t for t in tb if mine(t)], "tb_user": sum(t == __file__ for t in tb),
    "own": all(is_framead_file(m.__file__) for m in list(sys.modules.values())
               if mine(getattr(m, "__file__", None) or "/")),
    "hessian": h.tolist(), "g1": g1.tolist(), "g2": g2.tolist()}}))
'''


def _wheel_layout(site) -> None:
    """framead's imported packages copied as a wheel installs them."""
    ignore = shutil.ignore_patterns("__pycache__")
    dest = os.path.join(site, "framead")
    shutil.copytree(framead.__path__[0], dest, ignore=ignore)
    for pkg in (capture, rules):
        shutil.copytree(pkg.__path__[0], os.path.join(dest, pkg.__name__.split(".")[1]),
                        ignore=ignore, dirs_exist_ok=True)


def test_wheel_layout(tmp_path):
    """Installed as a wheel lays it out: framead's frames are skipped and stripped from
    tracebacks, higher order instruments the reverse pass, the cache re-captures engines."""
    site = str(tmp_path / "site")
    _wheel_layout(site)
    env = {**os.environ, "PYTHONPATH": site}
    script = tmp_path / "user.py"
    script.write_text(textwrap.dedent(SCRIPT.format(site=site)))
    p = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-4000:]
    got = json.loads(p.stdout.strip().splitlines()[-1])
    assert got["tb_framead"] == [] and got["tb_user"] >= 2, got
    assert got["own"]
    x = np.array([0.3, 1.2])
    expected_h = np.diag(2 * np.cos(2 * x)) + np.diag([6 * x[0], 0.0])
    np.testing.assert_allclose(got["hessian"], expected_h, rtol=1e-10, atol=1e-12)
    for g, at in ((got["g1"], x), (got["g2"], x + 0.5)):
        e = np.exp(at)
        np.testing.assert_allclose(g, [e[0] * at[1], e[1] * at[1] + e.sum()], rtol=1e-5)
