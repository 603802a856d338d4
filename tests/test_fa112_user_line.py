"""FA112 (a NaN gradient or tangent of a finite result) names the user's line first.

The step that makes the NaN may run inside library code (here a module in a folder named
``site-packages``, which ``hazards.is_library_file`` counts as installed code): the warning's
message, like strict mode's ``GradientHazard``, must name the user's line that called the
library, with the library's line after it; the gradient itself is NaN where the true
derivative (central differences of the native program) is finite.
"""

from __future__ import annotations

import importlib
import sys
import warnings

import numpy as np
import pytest
from conftest import FAKE, fd_grad, line_of

import framead

pytestmark = pytest.mark.skipif(FAKE, reason="tests framead's hazard locations")

LIBRARY = '''
import numpy as np

def entropy(p):
    return -np.sum(np.where(p > 0, p * np.log(p), 0.0))

def clamped_root(v):
    return np.sum(np.sqrt(np.maximum(v, 0.0)))

def ratio_kept_finite(v, den):
    with np.errstate(all="ignore"):
        return float(np.nan_to_num(np.exp(v) / den, posinf=0.0).sum())
'''


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fa112") / "site-packages"
    folder.mkdir()
    (folder / "fa112_fakelib.py").write_text(LIBRARY)
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("fa112_fakelib")
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("fa112_fakelib", None)


def _programs(lib):
    def entropy(x):
        return lib.entropy(np.array([x, 0.0 * x, 1.0 - x]))  # entropy

    def clamped(x):
        return lib.clamped_root(np.array([x, x - x - 1.0])) + x  # clamped

    def helper(x):
        return entropy(x) * 2.0  # helper

    return [(entropy, "entropy"), (clamped, "clamped"), (helper, "entropy")]


def _fa112(caught):
    return [str(w.message) for w in caught if "FA112" in str(w.message)]


@pytest.mark.parametrize("k", range(3))
def test_reverse_names_the_user_line(lib, k):
    f, mark = _programs(lib)[k]
    line = f"{__file__}:{line_of(mark, __file__)}"
    x = 0.3
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        g = framead.grad(f)(x)
        ref = fd_grad(f, x)
    assert np.isfinite(ref) and np.isnan(g), (g, ref)
    msgs = _fa112(caught)
    assert msgs, "a NaN gradient of a finite value must be reported"
    born = msgs[0].split("born in", 1)[1]
    assert born.split(": 0 * inf")[0].split(" for ", 1)[1].startswith(line), msgs[0]
    assert "fa112_fakelib.py" in msgs[0], msgs[0]
    with pytest.raises(framead.GradientHazard, match="FA112") as info, np.errstate(all="ignore"):
        framead.grad(f, strict=True)(x)
    hazard = info.value.hazard
    assert f"{hazard.loc.file}:{hazard.loc.line}" == line, hazard.loc
    assert hazard.inside is not None and "fa112_fakelib" in hazard.inside.file
    assert str(info.value).count("fa112_fakelib.py") == msgs[0].count("fa112_fakelib.py")


def test_forward_names_the_user_line(lib):
    def f(v):
        return lib.ratio_kept_finite(v, np.array([1.0, 0.0])) + v[0]  # forward

    line = f"{__file__}:{line_of('forward', __file__)}"
    x = np.array([0.3, 0.2])
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        value, t = framead.jvp(f, (x,), (np.array([1.0, 1.0]),))
    assert value == f(x)
    msgs = _fa112(caught)
    assert np.isnan(t), t
    assert msgs and f"for {line}" in msgs[0], msgs
    assert "fa112_fakelib.py" in msgs[0], msgs[0]
