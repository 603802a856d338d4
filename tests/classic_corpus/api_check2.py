"""Judge one classic-corpus program through framead's vmap, vjp/jacrev and eager engine.

Shared by tests/test_corpus_vmap.py. A program is a function of one float or one 1-d float
array returning a real scalar (tests/classic_corpus/registry.py). For a batch of three drawn
points (the first one differentiable there, corpus_check.finite_difference) the checks are:

* ``vmap``: ``framead.vmap(f)(X)`` (one run per example) against the native loop (the global
  NumPy generator seeded once before the loop, as vmap runs the examples in order);
* ``vmap_fast``: ``framead.vmap(f, fast=True)(X)``, the one-pass path (a recording run on the
  whole batch); where it falls back to the loop it says why in ``vmap_stats`` (the detail);
* ``vmap_grad``: ``vmap(grad(f))(X)`` against ``value_and_grad(f)`` at each row in turn;
* ``vmap_grad_cached``: ``vmap(grad(f, cache=True))(X)`` (one pass by default) likewise;
* ``vjp``: ``framead.vjp(f, x)`` pulled back with the cotangent 1.7 against 1.7 times central
  differences at the first point; ``jacrev``: ``framead.jacrev(f)(x)`` against differences;
* ``eager``: ``value_and_grad`` of the program marked ``@framead.eager`` (a copy of it: the
  mark is per code object) against differences, hazards as that capture reports them (FA201,
  "ran eagerly", is not a hazard). For a program adapted by registry.on_list/on_matrix the
  program itself is eager and the adapter instrumented.

Verdicts as corpus_check: ``pass``, ``hazard`` (right with a hazard), ``wrong_hazard``,
``wrong`` (silently), ``error`` (framead raised where the native run did not), ``skip``. The
vmap checks compare with a loop of the same framead calls (the reference is the per-example
run, itself checked against differences by tests/test_classic_corpus.py); their hazards do
not excuse a value that differs; a gradient that differs from the per-row one where the
program's capture reports hazards there is ``wrong_hazard``. Hazards are looked up only
for a wrong result (``hazards=True``: always), so ``hazard`` counts appear in full sweeps.
"""

from __future__ import annotations

import math
import time
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from corpus_check import EPS, NOISE_SEED, Verdict, _as_float, _call, _where, finite_difference

CHECKS = ("vmap", "vmap_fast", "vmap_grad", "vmap_grad_cached", "vjp", "jacrev", "eager")
COTANGENT = 1.7
ROWS = 3


@dataclass
class Batch:
    rows: list  # the drawn points (floats or 1-d arrays), the first differentiable
    X: np.ndarray  # the rows stacked (the batch vmap maps over)
    y0: float  # native value at rows[0]
    fd: np.ndarray  # its gradient: differences (or the case's reference)
    fd_err: np.ndarray
    per_row: list | str | None = None  # value_and_grad at each row (or why it raised)


def _copy(x: Any) -> Any:
    return x.copy() if isinstance(x, np.ndarray) else x


def draw_batch(f: Callable, draw: Callable, rng: np.random.Generator,
               reference: Callable | None = None, attempts: int = 20) -> Batch | Verdict:
    """Three points where ``f`` is natively finite, the first one differentiable."""
    why = ""
    for _ in range(attempts):
        x = draw(rng)
        try:
            y0 = _as_float(_call(f, x))
        except Exception as e:  # noqa: BLE001 - the program fails there natively
            why = f"native: {type(e).__name__}: {e}"
            continue
        if not math.isfinite(y0):
            why = "native value not finite"
            continue
        if reference is not None:
            fd = np.asarray(reference(x), dtype=float).reshape(-1)
            fd_err = 1e-7 * np.abs(fd)
        else:
            fd, fd_err = finite_difference(f, x, y0)
        if fd is None:
            why = str(fd_err)
            continue
        break
    else:
        return Verdict("skip", f"no differentiable point in {attempts} draws: {why}")
    rows = [x]
    for _ in range(attempts):
        if len(rows) == ROWS:
            break
        z = draw(rng)
        if np.shape(z) != np.shape(x):
            continue
        try:
            if math.isfinite(_as_float(_call(f, z))):
                rows.append(z)
        except Exception:  # noqa: BLE001
            continue
    if len(rows) < 2:
        return Verdict("skip", "no second point where the program is finite")
    return Batch(rows, np.stack([np.asarray(r, dtype=float) for r in rows]), y0, fd, fd_err)


# --- helpers ---------------------------------------------------------------------------------

def _quiet(call: Callable, nonfinite: list | None = None) -> Any:
    """``call()`` with warnings silenced; FA112 (nonfinite-gradient, a reported hazard)
    messages are appended to ``nonfinite``."""
    with np.errstate(all="ignore"), warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            return call()
        finally:
            if nonfinite is not None:
                nonfinite += [f"FA112 ({str(m.message)[:80]})" for m in w
                              if str(m.message).startswith("FA112")]


def _seeded_loop(call: Callable, X: np.ndarray) -> list:
    """``call`` on each row in turn, the global generator seeded once (vmap's loop)."""
    np.random.seed(NOISE_SEED)
    return [_quiet(lambda b=b: call(X[b].copy() if X.ndim > 1 else X[b]))
            for b in range(len(X))]


def _flat(g: Any) -> np.ndarray:
    return np.real(np.asarray(g, dtype=complex if np.iscomplexobj(g) else float)).reshape(-1)


def _close(a: np.ndarray, b: np.ndarray, rtol: float) -> bool:
    """Equal shapes, non-finite entries equal (NaN to NaN), finite ones within ``rtol`` of the
    largest finite magnitude."""
    if a.shape != b.shape:
        return False
    fa, fb = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(fa, fb) or not np.array_equal(a[~fa], b[~fb], equal_nan=True):
        return False
    scale = max(float(np.max(np.abs(a[fa]), initial=0.0)),
                float(np.max(np.abs(b[fb]), initial=0.0)))
    return bool(np.all(np.abs(a[fa] - b[fb]) <= rtol * scale + 1e-300))


def _error(e: BaseException) -> Verdict:
    return Verdict("error", f"{type(e).__name__}: {str(e)[:300]} [{_where(e)}]")


def _stats(fn: Callable) -> str:
    st = getattr(fn, "vmap_stats", None) or {}
    return f"[{st.get('last')}: {'; '.join(r[:100] for r in st.get('reasons', []))}]"


# --- vmap ------------------------------------------------------------------------------------

def check_vmap(f: Callable, batch: Batch, fast: bool) -> Verdict:
    """``vmap(f)(X)`` (``fast``: ``fast=True``) row by row against the native loop."""
    import framead

    X = batch.X
    try:
        native = [_as_float(y) for y in _seeded_loop(f, X)]
    except Exception as e:  # noqa: BLE001 - vmap must raise too; not judged here
        return Verdict("skip", f"native loop raised {type(e).__name__}: {e}")
    mapped = framead.vmap(f, fast=True) if fast else framead.vmap(f)
    np.random.seed(NOISE_SEED)
    try:
        out = _quiet(lambda: mapped(X.copy()))
    except Exception as e:  # noqa: BLE001
        v = _error(e)
        v.detail += " " + _stats(mapped)
        return v
    got = _flat(out)
    if not _close(got, np.array(native), 1e-9):
        return Verdict("wrong", f"vmap values {got[:4]}, native {native[:4]} {_stats(mapped)}")
    return Verdict("pass", _stats(mapped) if fast else "")


def check_vmap_grad(f: Callable, batch: Batch, cached: bool) -> Verdict:
    """``vmap(grad(f[, cache=True]))(X)`` against ``value_and_grad(f)`` at each row."""
    import framead

    X = batch.X
    if batch.per_row is None:
        vg = framead.value_and_grad(f)
        try:
            batch.per_row = [_flat(g) for _, g in _seeded_loop(vg, X)]
        except Exception as e:  # noqa: BLE001 - judged by test_classic_corpus
            batch.per_row = f"value_and_grad raised {type(e).__name__}: {str(e)[:120]}"
    if isinstance(batch.per_row, str):
        return Verdict("skip", batch.per_row)
    per_row = batch.per_row
    mapped = framead.vmap(framead.grad(f, cache=cached))
    np.random.seed(NOISE_SEED)
    try:
        out = _quiet(lambda: mapped(X.copy()))
    except Exception as e:  # noqa: BLE001
        v = _error(e)
        v.detail += " " + _stats(mapped)
        return v
    got = np.asarray(out, dtype=float).reshape(len(X), -1)
    want = np.stack(per_row)
    if got.shape != want.shape or not all(_close(got[b], want[b], 1e-8)
                                          for b in range(len(X))):
        b = next((b for b in range(len(X)) if not _close(got[b], want[b], 1e-8)), 0) \
            if got.shape == want.shape else 0
        hz = _hazards(f, X[b].copy() if X.ndim > 1 else X[b])  # (a gradient already
        # reported wrong may differ between two captures: one under vmap's recording)
        return Verdict("wrong_hazard" if hz else "wrong",
                       f"row {b}: vmap(grad) {got[b][:4]}, per-row grad {want[b][:4]} "
                       f"{_stats(mapped)}", hz)
    return Verdict("pass", _stats(mapped) if cached else "")


# --- vjp, jacrev, eager: one point, against differences ----------------------------------------

def _hazards(f: Callable, x: Any) -> list[str]:
    import framead

    np.random.seed(NOISE_SEED)
    try:
        hz = _quiet(lambda: framead.trace(f, _copy(x), argnums=0).hazards)
    except Exception as e:  # noqa: BLE001
        return [f"(trace raised {type(e).__name__})"]
    return [f"{h.code} {h.op} at {h.loc.file.rsplit('/', 1)[-1]}:{h.loc.line}"
            for h in hz if h.code != "FA201"]


def _judge(f: Callable, batch: Batch, value: Any, g: Any, scale: float, what: str,
           always_hazards: bool, warned: list, rtol: float = 1e-5) -> Verdict:
    """value vs the native one, ``g`` vs ``scale`` times the differences (as corpus_check)."""
    y0, fd = batch.y0, scale * batch.fd
    fd_err = scale * batch.fd_err
    bad = None
    if value is not None and not (_as_float(value) == y0
                                  or abs(_as_float(value) - y0) <= 1e-12 * abs(y0)):
        bad = f"{what} value {value!r} != native {y0!r}"
    ga = _flat(g) if g is not None else np.zeros_like(fd)
    if bad is None and ga.shape != fd.shape:
        bad = f"{what} gradient shape {ga.shape} != {fd.shape}"
    if bad is None:
        tol = rtol * max(np.max(np.abs(fd)), np.max(np.abs(ga)), 1e-8 * (abs(y0) + 1.0)) \
            + 1e3 * EPS * (abs(y0) + 1.0) * scale
        err = np.abs(ga - fd)
        if not np.all(np.isfinite(ga)) or np.any(err > tol + fd_err):
            i = int(np.nanargmax(np.where(np.isfinite(err), err, np.inf)))
            bad = f"{what} d/dx[{i}]: {ga[i]:.9g}, differences {fd[i]:.9g}"
    if bad is None and not always_hazards and not warned:
        return Verdict("pass")
    hz = _hazards(f, batch.rows[0]) + warned
    if bad is None:
        return Verdict("hazard" if hz else "pass", "", hz)
    return Verdict("wrong_hazard" if hz else "wrong", bad, hz)


def check_vjp(f: Callable, batch: Batch, hazards: bool = False) -> Verdict:
    import framead

    np.random.seed(NOISE_SEED)
    warned: list = []
    try:
        out, pull = _quiet(lambda: framead.vjp(f, _copy(batch.rows[0])), warned)
        c = np.full(np.shape(out), COTANGENT) if isinstance(out, np.ndarray) else COTANGENT
        (ct,) = _quiet(lambda: pull(c), warned)
    except Exception as e:  # noqa: BLE001
        return _error(e)
    return _judge(f, batch, out, ct, COTANGENT, "vjp", hazards, warned)


def check_jacrev(f: Callable, batch: Batch, hazards: bool = False) -> Verdict:
    import framead

    np.random.seed(NOISE_SEED)
    warned: list = []
    try:
        jac = _quiet(lambda: framead.jacrev(f)(_copy(batch.rows[0])), warned)
    except Exception as e:  # noqa: BLE001
        return _error(e)
    return _judge(f, batch, None, jac, 1.0, "jacrev", hazards, warned)


def _fresh_copy(fn: types.FunctionType) -> types.FunctionType:
    """``fn`` with its own code object (``framead.eager`` marks code objects)."""
    g = types.FunctionType(fn.__code__.replace(), fn.__globals__, fn.__name__,
                           fn.__defaults__, fn.__closure__)
    g.__kwdefaults__, g.__qualname__ = fn.__kwdefaults__, fn.__qualname__
    g.__dict__.update(fn.__dict__)
    return g


def eager_version(f: Callable) -> Callable:
    """The program marked ``@framead.eager``: ``f`` itself, or for a registry adapter
    (a closure over the program) the adapter calling the eager program."""
    import framead

    cells = f.__closure__ or ()
    progs = [k for k, c in enumerate(cells)
             if isinstance(c.cell_contents, types.FunctionType)
             and c.cell_contents.__module__.startswith("programs_")]
    if not progs or not f.__qualname__.startswith(("on_list", "on_matrix")):
        return framead.eager(_fresh_copy(f))
    new = [types.CellType(c.cell_contents) for c in cells]
    for k in progs:
        new[k] = types.CellType(framead.eager(_fresh_copy(cells[k].cell_contents)))
    return types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__, tuple(new))


def check_eager(f: Callable, batch: Batch, hazards: bool = False) -> Verdict:
    import framead

    ef = eager_version(f)
    np.random.seed(NOISE_SEED)
    warned: list = []
    try:
        value, g = _quiet(lambda: framead.value_and_grad(ef)(_copy(batch.rows[0])), warned)
    except Exception as e:  # noqa: BLE001
        return _error(e)
    return _judge(ef, batch, value, g, 1.0, "eager", hazards, warned)


def check_all(f: Callable, draw: Callable, seed: int, reference: Callable | None = None,
              checks: tuple[str, ...] = CHECKS, hazards: bool = False,
              times: dict | None = None) -> dict[str, Verdict]:
    """Every check in ``checks`` for one program (one batch drawn from ``seed``); the
    seconds each took are added to ``times`` (``"draw"``: the points and differences)."""
    times = {} if times is None else times
    t0 = time.perf_counter()
    batch = draw_batch(f, draw, np.random.default_rng(seed), reference)
    times["draw"] = times.get("draw", 0.0) + time.perf_counter() - t0
    if isinstance(batch, Verdict):
        return {c: batch for c in checks}
    run = {"vmap": lambda: check_vmap(f, batch, False),
           "vmap_fast": lambda: check_vmap(f, batch, True),
           "vmap_grad": lambda: check_vmap_grad(f, batch, False),
           "vmap_grad_cached": lambda: check_vmap_grad(f, batch, True),
           "vjp": lambda: check_vjp(f, batch, hazards),
           "jacrev": lambda: check_jacrev(f, batch, hazards),
           "eager": lambda: check_eager(f, batch, hazards)}
    out = {}
    for c in checks:
        t0 = time.perf_counter()
        out[c] = run[c]()
        times[c] = times.get(c, 0.0) + time.perf_counter() - t0
    return out
