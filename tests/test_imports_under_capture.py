"""Imports inside a differentiated function run natively (module bodies are not user
numerics), and the rule packs and solver tables of the modules they bring in apply in the same
capture. Each case runs in a fresh interpreter where the module has never been imported, so
the import really happens under the capture; the gradient of that first capture (strict: no
hazard) is checked against central differences, and the value against the native run."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap

import pytest

HARNESS = '''
import json, sys
import numpy as np
import framead

ABSENT = {absent!r}
assert not [m for m in ABSENT if m in sys.modules], [m for m in ABSENT if m in sys.modules]
x = np.array([0.3, 1.2, 2.5])
{body}
value, pullback = framead.vjp(f, x, strict=True)  # the first capture imports
(g,) = pullback(1.0)
assert all(m in sys.modules for m in ABSENT)
h = 1e-6
fd = np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(x.size)])
print(json.dumps({{"value": float(value), "native": float(f(x)), "grad": list(map(float, g)),
                  "fd": list(map(float, fd))}}))
'''


def run_fresh(code: str, cwd, timeout: float = 240) -> str:
    """Run ``code`` in a new interpreter (``import framead`` as the test process has it)."""
    p = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                       timeout=timeout)
    assert p.returncode == 0, p.stderr[-4000:]
    return p.stdout.strip().splitlines()[-1]


# name -> (modules that must not be imported before the capture, the body defining f(x))
CASES = {
    "scipy.special": (("scipy",), """
        def f(x):
            import scipy.special
            return float(np.sum(scipy.special.gammaln(x + 1.0) * x))
    """),
    "from-import": (("scipy",), """
        def f(x):
            from scipy.special import erf, gammaln
            return float(np.sum(gammaln(x + 0.5) + erf(x)))
    """),
    "import_module": (("scipy",), """
        import importlib
        def f(x):
            sp = importlib.import_module("scipy.special")
            return float(np.sum(sp.digamma(x + 1.0)))
    """),
    "__import__": (("scipy",), """
        def f(x):
            sp = __import__("scipy.special", fromlist=["expit"])
            return float(np.sum(sp.expit(x) * x))
    """),
    "lazy-getattr": (("scipy",), """
        def f(x):
            import scipy  # scipy.special is imported by scipy's module __getattr__
            return float(scipy.special.logsumexp(x))
    """),
    "scipy.stats": (("scipy",), """
        def f(x):
            import scipy.stats
            return float(np.sum(scipy.stats.norm.logpdf(x, 0.5, 2.0) + scipy.stats.norm.cdf(x)))
    """),
    "scipy.linalg": (("scipy",), """
        def f(x):
            import scipy.linalg as sl
            a = np.eye(3) * 3.0 + np.outer(x, x)
            return float(np.sum(sl.solve(a, x)) + np.sum(sl.expm(0.1 * a)))
    """),
    "scipy.optimize": (("scipy",), """
        def f(x):
            from scipy import optimize
            r = optimize.brentq(lambda z: z ** 3 - x[0] - 1.0, 0.0, 10.0, xtol=1e-14)
            m = optimize.minimize(lambda z: np.sum((z - x) ** 2 * (1.0 + z ** 2)), np.zeros(3),
                                  method="BFGS", options={"gtol": 1e-11})
            return float(r + np.sum(m.x ** 2))
    """),
    "scipy.integrate": (("scipy",), """
        def f(x):
            import scipy.integrate
            s = scipy.integrate.solve_ivp(lambda t, y: -x[0] * y + x[1], (0.0, 1.0), [x[2]],
                                          rtol=1e-11, atol=1e-12)
            return float(s.y[0, -1])
    """),
    "torch": (("torch",), """
        def f(x):
            import torch
            sub = framead.use("torch")(lambda a: torch.sum(torch.sin(a) * a ** 2))
            return float(sub(x) * 2.0)
    """),
    "jax": (("jax",), """
        def f(x):
            import jax.numpy as jnp
            sub = framead.use("jax")(lambda a: jnp.sum(jnp.tanh(a) * a))
            return float(sub(x) + np.sum(x ** 2))
    """),
    "math": ((), """
        def f(x):
            import math
            from math import exp
            return math.sin(x[0]) * exp(x[1]) + math.log(x[2])
    """),
}


@pytest.mark.parametrize("name", list(CASES))
def test_module_imported_inside_the_differentiated_function(name, tmp_path):
    absent, body = CASES[name]
    for module in absent:  # an optional extra (torch is installed on 3.11 only here)
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    got = json.loads(run_fresh(HARNESS.format(absent=absent, body=textwrap.dedent(body)),
                               tmp_path))
    assert got["value"] == got["native"]
    assert got["grad"] == pytest.approx(got["fd"], rel=1e-5, abs=1e-7), got


USER_MODULE = '''
"""A user's module whose body computes on import."""
import math
import sys

import numpy as np

BODY = sys._getframe().f_code.co_code  # the bytecode running this body: the original's
NODES = np.linspace(0.0, 1.0, 7)
WEIGHTS = np.exp(-NODES) / np.sum(np.exp(-NODES))
SCALE = math.sqrt(2.0) * float(WEIGHTS @ NODES)
TABLE = {k: k * SCALE for k in range(3)}
CALLS = []


def model(x):
    CALLS.append(1)
    return np.sum(WEIGHTS * np.sin(np.outer(x, NODES)), axis=1) * SCALE + TABLE[2] * x
'''

USER_SCRIPT = '''
import importlib.util, json, sys
import numpy as np
import framead

sys.path.insert(0, {dir!r})
assert "usermod" not in sys.modules and "lazymod" not in sys.modules
x = np.array([0.3, 1.2, 2.5])
seen = {{}}


def f(x):
    import usermod
    seen["mod"] = usermod
    # importlib.util.LazyLoader: the body runs at the first attribute access, in f
    spec = importlib.util.find_spec("lazymod")
    spec.loader = importlib.util.LazyLoader(spec.loader)
    lazy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lazy)
    seen["lazy_scale"], seen["lazy_body"] = lazy.SCALE, lazy.BODY
    return float(np.sum(usermod.model(x) ** 2) + lazy.SCALE * x[0])


t = framead.trace(f, x, strict=True)
files = sorted({{n.loc.file for n in t.graph.nodes}})
line_of_model = min(n.loc.line for n in t.graph.nodes if n.loc.file.endswith("usermod.py"))
mod = sys.modules["usermod"]
assert seen["mod"] is mod and mod.model.__module__ == "usermod"
assert mod.model.__globals__ is vars(mod)
native = {{}}
code = compile(open(mod.__file__).read(), mod.__file__, "exec")
exec(code, native)
same = all(type(getattr(mod, k)) is type(native[k]) and np.array_equal(getattr(mod, k), native[k])
           for k in ("NODES", "WEIGHTS", "SCALE"))
same = same and mod.TABLE == native["TABLE"] and seen["lazy_scale"] == native["SCALE"]
same = same and mod.BODY == seen["lazy_body"] == code.co_code
value, pullback = framead.vjp(f, x, strict=True)
(g,) = pullback(1.0)
h = 1e-6
fd = [(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(3)]
print(json.dumps({{"files": files, "line": line_of_model, "same": bool(same),
                  "calls": len(mod.CALLS), "value": t.value, "native": f(x),
                  "grad": list(map(float, g)), "fd": list(map(float, fd))}}))
'''


def test_user_module_body_runs_natively(tmp_path):
    """Its body's numerics are not recorded (only the function it defines, when called), its
    attributes are those of a native import, and the module is the one in sys.modules."""
    (tmp_path / "usermod.py").write_text(USER_MODULE)
    (tmp_path / "lazymod.py").write_text(USER_MODULE)
    got = json.loads(run_fresh(USER_SCRIPT.format(dir=str(tmp_path)), tmp_path))
    assert got["same"], got
    assert not any(f.endswith("lazymod.py") for f in got["files"]), got["files"]
    assert got["line"] == USER_MODULE.splitlines().index("def model(x):") + 3, got
    assert got["calls"] == 8  # one module, kept: trace, vjp, the 6 differences
    assert got["value"] == got["native"]
    assert got["grad"] == pytest.approx(got["fd"], rel=1e-6, abs=1e-8), got


FAILING_IMPORT = '''
import json, sys, traceback
import numpy as np
import framead

sys.path.insert(0, {dir!r})


def f(x):
    import brokenmod  # raises in its body
    return x * 2.0


def summary(call):
    try:
        call()
    except Exception as e:
        tb = traceback.extract_tb(e.__traceback__)
        return [type(e).__name__, str(e), [(fs.name, fs.lineno) for fs in tb
                                           if not fs.filename.startswith("<frozen")][-2:]]


under = summary(lambda: framead.grad(f)(1.5))
sys.modules.pop("brokenmod", None)
native = summary(lambda: f(1.5))
print(json.dumps({{"under": under, "native": native,
                  "imported": "brokenmod" in sys.modules}}))
'''


def test_failing_import_raises_as_natively(tmp_path):
    (tmp_path / "brokenmod.py").write_text("import math\n\nY = math.log(-1.0)\n")
    got = json.loads(run_fresh(FAILING_IMPORT.format(dir=str(tmp_path)), tmp_path))
    assert got["under"] == got["native"], got
    assert got["under"][0] == "ValueError" and not got["imported"]
    assert got["under"][2] == [["f", 10], ["<module>", 3]], got
