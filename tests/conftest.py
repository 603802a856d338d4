"""Shared test helpers: the engine switch, finite differences, the gradient checker, source
markers and hazards, and the cached-replay checker.

The engine under test is chosen by environment variable:

* ``FRAMEAD_TEST_ENGINE=framead`` (default): the real library.
* ``FRAMEAD_TEST_ENGINE=fake`` or ``FRAMEAD_TEST_FAKE=1``: a stand-in that needs no framead:
  ``Session`` is a no-op context manager and ``grad`` is a finite-difference gradient with a
  different stencil than the checker's. Running the suite this way checks the harness itself:
  every case must pass natively, every test point must be far from kinks, and the grids and
  tolerances must be meaningful.

Tests import what they need from here (``from conftest import ...``) or use the ``engine``
fixture; both see the same engine.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib.util
import itertools
import numbers
import os
import warnings
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import settings

# Hypothesis draws the same examples on every run (derandomize; no example database), so a
# failure in CI is reproducible and a green run stays green: HYPOTHESIS_PROFILE=explore draws
# new ones (and the fuzzers' example counts are each test's own).
settings.register_profile("framead", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "framead"))

ENGINE_NAME = os.environ.get(
    "FRAMEAD_TEST_ENGINE", "fake" if os.environ.get("FRAMEAD_TEST_FAKE") == "1" else "framead"
)
FAKE = ENGINE_NAME == "fake"

# ----------------------------------------------------------------------------------------
# finite differences (float64, independent of framead)
# ----------------------------------------------------------------------------------------


def fresh(args: tuple) -> tuple:
    """Deep copies of call arguments, so programs that mutate their inputs see fresh data."""
    return tuple(copy.deepcopy(a) for a in args)


def _as_tuple(argnums: int | tuple[int, ...]) -> tuple[int, ...]:
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _is_inexact_scalar(x: Any) -> bool:
    return isinstance(x, float | np.floating)


def _is_differentiable_input(x: Any) -> bool:
    if isinstance(x, bool):
        return False
    if _is_inexact_scalar(x):
        return True
    return isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating)


def _replace(args: tuple, i: int, value: Any) -> tuple:
    return args[:i] + (value,) + args[i + 1 :]


def _scalar_of(y: Any) -> float:
    """The program's output as a Python float (it must be a scalar)."""
    if isinstance(y, np.ndarray):
        if y.shape != ():
            raise TypeError(f"expected a scalar output, got an array of shape {y.shape}")
        y = y[()]
    if isinstance(y, bool) or not isinstance(y, numbers.Real):
        raise TypeError(f"expected a scalar output, got {type(y).__name__}")
    return float(y)


def _eval_at(f, args: tuple, i: int, idx, value: float) -> float:
    """f(*args) with element ``idx`` of argument ``i`` set to ``value`` (fresh copies)."""
    a = fresh(args)
    x = a[i]
    if isinstance(x, np.ndarray):
        x = x.copy()
        x[idx] = value
    else:
        x = type(x)(value)
    return _scalar_of(f(*_replace(a, i, x)))


def _central4(f, args, i, idx, x0: float, h: float) -> float:
    """Fourth-order central difference along one coordinate."""
    fp1 = _eval_at(f, args, i, idx, x0 + h)
    fm1 = _eval_at(f, args, i, idx, x0 - h)
    fp2 = _eval_at(f, args, i, idx, x0 + 2 * h)
    fm2 = _eval_at(f, args, i, idx, x0 - 2 * h)
    return (8.0 * (fp1 - fm1) - (fp2 - fm2)) / (12.0 * h)


def _coords(x):
    if isinstance(x, np.ndarray):
        for idx in np.ndindex(x.shape):
            yield idx, float(x[idx])
    else:
        yield None, float(x)


def _fd_one(f, args: tuple, i: int, step: float, with_error: bool):
    x = args[i]
    if not _is_differentiable_input(x):
        raise TypeError(f"argument {i} is not a float input: {type(x).__name__}")
    if isinstance(x, np.ndarray):
        g = np.zeros(x.shape, dtype=np.float64)
        err = np.zeros(x.shape, dtype=np.float64)
    else:
        g = err = None
    for idx, x0 in _coords(x):
        h = step * max(1.0, abs(x0))
        d1 = _central4(f, args, i, idx, x0, h)
        d2 = _central4(f, args, i, idx, x0, h / 2)
        # Richardson: the O(h^4) terms cancel; |d1 - d2| bounds the error of d2.
        value, e = d2 + (d2 - d1) / 15.0, abs(d1 - d2)
        if isinstance(x, np.ndarray):
            g[idx], err[idx] = value, e
        else:
            g, err = value, e
    if not isinstance(x, np.ndarray):
        g = type(x)(g)
    return (g, err) if with_error else g


def central(f, x, h: float = 1e-6):
    """Second-order central differences of a scalar program ``f`` of one float or array
    ``x`` (the array's shape), step ``h``."""
    if np.ndim(x) == 0:
        return (f(x + h) - f(x - h)) / (2 * h)
    x = np.asarray(x, dtype=float)
    out = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[i] = h
        out[i] = (f(x + e) - f(x - e)) / (2 * h)
    return out


def fd_grad(f, args, argnums: int | tuple[int, ...] = 0, step: float = 1e-3,
            with_error: bool = False):
    """Central finite-difference gradient of scalar ``f`` in float64.

    ``args`` is the argument tuple (a single non-tuple argument is accepted too). Returns the
    gradient shaped like the argument (a tuple for a tuple ``argnums``); with ``with_error``,
    pairs ``(gradient, error_estimate)``. Every evaluation gets fresh copies of the arguments.
    """
    if not isinstance(args, tuple):
        args = (args,)
    out = [_fd_one(f, args, i, step, with_error) for i in _as_tuple(argnums)]
    return out[0] if isinstance(argnums, int) else tuple(out)


# ----------------------------------------------------------------------------------------
# the fake engine (harness validation without framead)
# ----------------------------------------------------------------------------------------


def _fake_check_inputs(args, argnums):
    for i in _as_tuple(argnums):
        x = args[i]
        if not _is_differentiable_input(x):
            raise TypeError(
                f"fake grad: argument {i} is {type(x).__name__}"
                f"{'' if not isinstance(x, np.ndarray) else ' of dtype ' + str(x.dtype)}; "
                "only float (inexact) inputs can be differentiated, not integer ones"
            )


def _fake_value_and_grad(f, argnums=0):
    def wrapped(*args):
        _fake_check_inputs(args, argnums)
        y = f(*fresh(args))
        if isinstance(y, np.ndarray) and y.shape != () or not isinstance(
            y, numbers.Real | np.ndarray
        ):
            raise TypeError(f"fake grad: f must return a scalar, got {type(y).__name__}")
        # a different stencil from fd_grad's, so the comparison is not trivially exact
        g = fd_grad(f, args, argnums, step=3.7e-4)
        return y, g

    return wrapped


def _fake_grad(f, argnums=0):
    vg = _fake_value_and_grad(f, argnums)
    return lambda *args: vg(*args)[1]


def _load_engine(name: str) -> SimpleNamespace:
    if name == "fake":
        return SimpleNamespace(
            name="fake",
            grad=_fake_grad,
            value_and_grad=_fake_value_and_grad,
            Session=contextlib.nullcontext,
            trace=None,
        )
    if name == "framead":
        from framead.capture.session import Session

        import framead

        return SimpleNamespace(
            name="framead",
            grad=framead.grad,
            value_and_grad=framead.value_and_grad,
            Session=Session,
            trace=getattr(framead, "trace", None),
        )
    if name == "framead-cached":  # every gradient comes from a cached trace's second call
        from framead.capture.session import Session

        import framead

        def cached_value_and_grad(f, argnums=0):
            vg = framead.value_and_grad(f, argnums, cache=True)

            def run(*args):
                vg(*fresh(args))  # captures (and caches when it can)
                return vg(*args)  # re-runs the generated code (or captures again)

            return run

        return SimpleNamespace(
            name="framead-cached",
            grad=lambda f, argnums=0: (lambda *a: cached_value_and_grad(f, argnums)(*a)[1]),
            value_and_grad=cached_value_and_grad,
            Session=Session,
            trace=getattr(framead, "trace", None),
        )
    raise ValueError(f"unknown FRAMEAD_TEST_ENGINE={name!r} (use 'framead', 'framead-cached' "
                     "or 'fake')")


_ENGINE: SimpleNamespace | None = None


def get_engine() -> SimpleNamespace:
    """The engine under test (imported lazily so collection never needs framead)."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = _load_engine(ENGINE_NAME)
    return _ENGINE


@pytest.fixture(scope="session")
def engine() -> SimpleNamespace:
    return get_engine()


def pytest_report_header(config):
    return f"framead test engine: {ENGINE_NAME}"


# ----------------------------------------------------------------------------------------
# gradient checker
# ----------------------------------------------------------------------------------------


def snapshot(args: tuple) -> list:
    """Copies of the arrays among ``args`` (for the caller-data-untouched check)."""
    return [a.copy() if isinstance(a, np.ndarray) else copy.deepcopy(a) for a in args]


def assert_args_unchanged(before: list, args: tuple, what: str = "grad") -> None:
    for i, (b, a) in enumerate(zip(before, args, strict=True)):
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape, f"{what} changed argument {i}"
            assert np.array_equal(a, b, equal_nan=True), f"{what} modified argument {i} in place"
        else:
            assert repr(a) == repr(b), f"{what} modified argument {i}: {b!r} -> {a!r}"


def _check_gradient_object(g, x, i):
    """The gradient must be a plain value shaped like its input (never a tracer)."""
    if isinstance(x, np.ndarray):
        assert isinstance(g, np.ndarray), f"gradient {i} is {type(g).__name__}, not ndarray"
        assert g.shape == x.shape, f"gradient {i} has shape {g.shape}, input has {x.shape}"
    else:
        assert isinstance(g, float | np.floating | np.ndarray), (
            f"gradient {i} is {type(g).__name__}"
        )
        assert np.shape(g) == (), f"gradient {i} of a scalar input has shape {np.shape(g)}"


def assert_close(actual, expected, err, rtol: float, atol: float, label: str) -> None:
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    err = np.asarray(err, dtype=np.float64)
    tol = rtol * np.abs(e) + atol
    # The reference itself must be trustworthy at this point; otherwise the test is wrong
    # (a kink or branch switch within a few steps of x), not the library.
    assert np.all(err <= 0.2 * tol + 1e-300), (
        f"{label}: finite differences are unreliable here (error estimate {err.max():.3g} vs "
        f"tolerance {tol.min():.3g}); move the test point away from kinks"
    )
    bad = ~(np.abs(a - e) <= tol)
    assert not np.any(bad), (
        f"{label}: gradient mismatch\n  framead: {a!r}\n  finite differences: {e!r}\n"
        f"  max abs diff {np.max(np.abs(a - e)):.3g}"
    )


def assert_grad_matches_fd(f, *args, argnums: int | tuple[int, ...] = 0, rtol: float = 1e-6,
                           atol: float | None = None, check_value: bool = True):
    """``grad(f, argnums)(*args)`` against float64 central differences.

    Also checks that the caller's arguments are untouched and that ``value_and_grad``'s value
    equals the native result bit for bit. Returns the engine's gradient.
    """
    eng = get_engine()
    before = snapshot(args)
    g = eng.grad(f, argnums=argnums)(*args)
    assert_args_unchanged(before, args, "grad")
    ref = fd_grad(f, args, argnums, with_error=True)
    native = f(*fresh(args))
    nums = _as_tuple(argnums)
    gs = (g,) if isinstance(argnums, int) else g
    refs = (ref,) if isinstance(argnums, int) else ref
    assert isinstance(gs, tuple) and len(gs) == len(nums), (
        f"grad with argnums={argnums!r} returned {type(g).__name__}"
    )
    scale = max([1.0, abs(_scalar_of(native))]
                + [float(np.max(np.abs(r))) if np.size(r) else 0.0 for r, _ in refs])
    a_tol = rtol * 1e-3 * scale if atol is None else atol
    for i, gi, (ri, ei) in zip(nums, gs, refs, strict=True):
        _check_gradient_object(gi, args[i], i)
        assert_close(gi, ri, ei, rtol, a_tol, f"d/d(arg {i}) of {f.__qualname__}")
    if check_value:
        v, g2 = eng.value_and_grad(f, argnums=argnums)(*args)
        assert_args_unchanged(before, args, "value_and_grad")
        assert repr(_scalar_of(v)) == repr(_scalar_of(native)), (
            f"value_and_grad value {v!r} differs from the native result {native!r}"
        )
        g2s = (g2,) if isinstance(argnums, int) else g2
        for a, b in zip(gs, g2s, strict=True):
            np.testing.assert_allclose(np.asarray(b, float), np.asarray(a, float),
                                       rtol=1e-12, atol=0)
    return g


# ----------------------------------------------------------------------------------------
# generated programs as real source files (so capture sees them as user code, with lines)
# ----------------------------------------------------------------------------------------
_module_counter = itertools.count()


def load_source_module(source: str, directory, prefix: str, **attrs: Any) -> tuple:
    """Write ``source`` to a fresh module file in ``directory`` and import it, with ``attrs``
    set on the module before its body runs; returns (module, path)."""
    name = f"{prefix}_{os.getpid()}_{next(_module_counter)}"
    path = os.path.join(str(directory), name + ".py")
    with open(path, "w") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    for k, v in attrs.items():
        setattr(mod, k, v)
    spec.loader.exec_module(mod)
    return mod, path


# ----------------------------------------------------------------------------------------
# source markers and hazards (framead imported lazily: collection never needs it)
# ----------------------------------------------------------------------------------------


@functools.cache
def _source_lines(path: str) -> tuple[str, ...]:
    with open(path, encoding="utf-8") as fh:
        return tuple(fh.read().splitlines())


def line_of(marker: str, path: str) -> int:
    """The one line of file ``path`` (a test's ``__file__``) that ends with ``# marker``."""
    (n,) = [i + 1 for i, s in enumerate(_source_lines(path)) if s.endswith(f"# {marker}")]
    return n


def trace_hazards(f, *args) -> list:
    """The hazards of ``framead.trace(f, *args)``, its warnings silenced."""
    import framead

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return framead.trace(f, *args).hazards


def hazard_sites(f, *args) -> list[tuple[str, str, int]]:
    """``(code, file, line)`` of each hazard of ``framead.trace(f, *args)``."""
    return [(h.code, h.loc.file, h.loc.line) for h in trace_hazards(f, *args)]


# ----------------------------------------------------------------------------------------
# cached traces replayed at other points
# ----------------------------------------------------------------------------------------


def check_replay_at_points(f, points) -> dict:
    """``value_and_grad(f, cache=True)`` called at each point in turn (an array of it): every
    value must be the native run's, every gradient the central differences' and an uncached
    capture's. Returns the cache's stats (hits, misses, reasons)."""
    import framead

    vg = framead.value_and_grad(f, cache=True)
    for p in points:
        x = np.array(p)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value, g = vg(x.copy())
            uncached = framead.grad(f)(x.copy())
        assert value == pytest.approx(f(x.copy()), rel=1e-12, abs=1e-12), (p, vg.stats)
        np.testing.assert_allclose(g, fd_grad(f, (x.copy(),)), rtol=1e-6, atol=1e-6,
                                   err_msg=f"{p} {vg.stats}")
        np.testing.assert_allclose(g, uncached, rtol=1e-12, atol=1e-12, err_msg=f"{p}")
    return vg.stats


@contextlib.contextmanager
def scipy_linalg_hidden(hidden: bool = True):
    """While ``hidden``, ``scipy.linalg`` looks not imported (rules that use it only where it
    is already loaded take their NumPy path, as a program that never imported SciPy does)."""
    import sys

    saved = sys.modules.pop("scipy.linalg", None) if hidden else None
    try:
        yield
    finally:
        if saved is not None:
            sys.modules["scipy.linalg"] = saved
