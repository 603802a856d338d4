"""SciPy calls that need more than a rule: C functions that write their result into an
argument, and ``overwrite_*=True`` linear algebra.

Routed here from capture/calls.py through the ``SOLVERS`` hook (framead/solvers.py):

* ``scipy.interpolate._ppoly.evaluate(c, x, xp, nu, extrapolate, out)`` (every ``PPoly``,
  ``CubicSpline``, ``Akima1DInterpolator``... evaluation) is recorded as the function
  ``ppoly_eval(c, x, xp, nu, extrapolate)`` (rules/scipy_signal_rules.py) followed by a write of
  its result into ``out``;
* LAPACK's ``dgbsv`` (``make_interp_spline``, ``interp1d(kind='cubic')``) gets a rule for
  its solution here (its overwrite flags as below);
* ``scipy.linalg`` solves and factorizations given traced values and ``overwrite_*=True``
  run natively with their flags (``_overwrite``): LAPACK writes where it would (a writeable
  or read-only contiguous array of its dtype), and framead records what it left there: the
  returned factor or solution (written back into the argument) or, for other contents (the
  LU factors ``solve`` leaves in ``a``), a node whose derivative raises if a gradient
  reaches it. Replays run the functions on copies laid out as recorded.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from typing import Any

import numpy as np

from . import rules
from .capture import calls
from .capture.native import Result, call_quiet


def _traced(rec: Any, args) -> bool:
    return any(rec.tree_value(a) is not None for a in args)


def _ppoly_evaluate(rec, fn, args, kwargs, frame):
    if kwargs or len(args) != 6 or not _traced(rec, args[:3]):
        return fn(*args, **kwargs)
    from .rules.scipy_signal_rules import ppoly_eval  # noqa: PLC0415 - imports SciPy

    c, x, xp, nu, ext, out = args
    y = rec.apply(rules.lookup(ppoly_eval), ppoly_eval, args[:5], {}, args[:5], frame)
    calls.dispatch(rec, np.copyto, (out, y), {}, frame)
    return None


def _overwrite(rec, fn, args, kwargs, frame):
    """Run ``fn`` with its ``overwrite_*`` flags as given (the arrays end with the native
    bytes) and record what LAPACK left in each argument (``_record_writes``). The node's
    callable runs ``fn`` on copies of its arrays (``_on_copies``): a cached replay computes
    what the native call returns (SciPy 1.18's ``cho_factor`` keeps the input's other
    triangle only when it factors in place) and never writes the values it reads."""
    rule = rules.lookup(fn) or _PRIVATE.get(id(fn))
    if rule is None or not _traced(rec, (*args, *kwargs.values())):
        return fn(*args, **kwargs)
    names = _names(fn, rule)
    r_args, r_kw = _strided_off(names, args, kwargs)  # (what the node records)
    node_args, kw = calls.map_keywords(rule, r_args, r_kw)
    if kw is None:
        rec.hazard("FA106", rule.name, frame,
                   f"a traced keyword argument of {rule.name} is not differentiated")
        return fn(*args, **kwargs)
    if getattr(rule, "refusal", None) is not None and rule.refuses(node_args, r_kw):
        return rec.apply(rule, fn, args, kwargs, node_args, frame)  # (a call with no rule)
    copying = _on_copies(rule, r_args, r_kw)
    targets = _targets(names, args, kwargs)
    if not targets:  # (nothing known to be written: run on copies, the values it reads kept)
        return rec.apply(copying, copying.fn, r_args, r_kw, node_args, frame)
    before = [t.copy(order="K") for _, t in targets]
    native: list = []

    def run(*_a, **_k):
        native.append(fn(*args, **kwargs))
        return _apart(native[0], [t for _, t in targets])

    try:
        result = rec.apply(copying, run, r_args, r_kw, node_args, frame,
                           writes=tuple(t for _, t in targets))
    except Exception:  # LAPACK may have written part of a factor before SciPy raised
        for (_, t), old in zip(targets, before, strict=True):
            if rec.value_of(t) is not None and not _same(t, old):
                rec.hazard("FA104", rule.name, frame, f"{rule.name} raised after writing "
                           "into an argument it was told to overwrite: what it left there "
                           "is read as a constant")
                rec.overwrite_with_constant(t, frame)
        raise
    _record_writes(rec, fn, args, kwargs, targets, before, native[0], result, frame)
    return native[0]


_COPYING: dict[tuple, Any] = {}


def _on_copies(rule, args, kwargs):
    """``rule`` with a callable that runs its function on copies of the arrays, laid out as
    in this call."""
    orders = _orders(args, kwargs)
    k = (id(rule), tuple(sorted(orders.items(), key=repr)))
    if k not in _COPYING:
        from .rules.scipy_lapack_rules import on_copies  # noqa: PLC0415 - imports SciPy

        _COPYING[k] = (dataclasses.replace(rule, fn=on_copies(rule.fn, orders)), rule)
    return _COPYING[k][0]


def _orders(args, kwargs) -> dict:
    """"F" or "C" for each array argument (a tuple's first array: ``(c, lower)``)."""
    out = {}
    for k, a in (*enumerate(args), *kwargs.items()):
        a = next((x for x in a if isinstance(x, np.ndarray)), None) \
            if type(a) in (tuple, list) else a
        if isinstance(a, np.ndarray):
            out[k] = "F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"
    return out


def _names(fn, rule) -> list[str]:
    """``fn``'s parameter names (an f2py routine's from its rule, then its flags)."""
    try:
        return list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        given = list(getattr(rule, "argnames", None) or ())
        return given + [f"overwrite_{n}" for n in given[2:]]


def _contiguous(a) -> bool:
    return a.flags.c_contiguous or a.flags.f_contiguous


def _strided_off(names, args, kwargs):
    """The flags of non-contiguous arrays False: f2py copies those and writes nothing back,
    as with the flag off, which is what the node records (SciPy 1.18's cho_factor keeps the
    input's other triangle only where it factors in place: its rule asks SciPy)."""
    flags = {f"overwrite_{n}" for i, n in enumerate(names) if isinstance(
        args[i] if i < len(args) else kwargs.get(n), np.ndarray) and not _contiguous(
        args[i] if i < len(args) else kwargs[n])}
    if not flags:
        return args, kwargs
    return tuple(False if i < len(names) and names[i] in flags else a
                 for i, a in enumerate(args)), \
        {k: (False if k in flags else v) for k, v in kwargs.items()}


def _targets(names, args, kwargs) -> list[tuple[Any, np.ndarray]]:
    """``(position or keyword, array)`` of the arrays an ``overwrite_*`` flag given True lets
    LAPACK write into (f2py writes into a read-only array: SciPy's cho_factor does)."""
    bound = {**dict(zip(names, args, strict=False)), **kwargs}
    out = []
    for flag, on in bound.items():
        if not (flag.startswith("overwrite_") and on):
            continue
        name = flag.removeprefix("overwrite_")
        t = bound.get(name)
        if isinstance(t, np.ndarray) and t.dtype.kind in "fc" and _contiguous(t):
            key = names.index(name) if name in names[:len(args)] else name
            out.append((key, t))
    return out


def _apart(result, targets):
    """``result`` with each array that shares memory with a target (but is not one: solve's
    ``x``, a view of ``b``) replaced by a copy: the node's value, not a view of the target."""
    leaves = result if type(result) is tuple else (result,)
    parts = tuple(x.copy() if _aliases(x, targets) else x for x in leaves)
    return parts if type(result) is tuple else parts[0]


def _same(a, b) -> bool:
    """``np.array_equal`` run natively (its Python body would be captured: guards)."""
    return call_quiet(np.array_equal, (a, b), {"equal_nan": True})


def _aliases(x, targets) -> bool:
    return isinstance(x, np.ndarray) and all(x is not t for t in targets) and \
        any(call_quiet(np.shares_memory, (x, t), None) for t in targets)


def _record_writes(rec, fn, args, kwargs, targets, before, native, recorded, frame):
    """For each target: a returned array that is it (``lu_factor``'s ``lu``, ``inv``'s
    result) was written back by ``Recorder.apply``; one that is a view of it (``solve``'s
    ``x`` in ``b``) is written into it here; other contents LAPACK left there (``solve``'s
    LU factors in ``a``) are recorded by ``_scratch``."""
    leaves = native if type(native) is tuple else (native,)
    values = recorded if type(recorded) is tuple else (recorded,)
    for (key, t), old in zip(targets, before, strict=True):
        if any(x is t for x in leaves):
            continue
        views = [i for i, x in enumerate(leaves) if _aliases(x, [t])]
        if not any(leaves[i].size == t.size for i in views) and rec.value_of(t) is not None \
                and not (_same(t, old) and not _writes(fn, args, kwargs, key)):
            # (a constant's scratch is a constant: it depends on that argument only)
            _scratch(rec, fn, args, kwargs, key, t, frame)
        for i in views:  # (then the returned views of it: their region holds the result)
            _view_result(rec, leaves[i], rec.value_of(values[i]), frame)


def _view_result(rec, x: np.ndarray, v, frame) -> None:
    """``x``, a returned view of an overwritten argument (``solve``'s ``x`` in ``b``), holds
    the node's value ``v``, computed as a copy (``_apart``) that dies here: ``v``'s primal is
    ``x`` from now on (a later node that saves ``v`` keeps ``x``, copied on write)."""
    if v is None:
        return
    if v.primal is None:
        rec._weak_primal(v, x)
    rec._register(x, v)
    rec.write_back(x, v, frame)


_WRITES: dict[tuple, bool] = {}  # (fn, target, layouts, other arguments) -> writes


def _writes(fn, args, kwargs, key) -> bool:
    """Whether ``fn`` writes into argument ``key`` when its bytes came back unchanged (an LU
    of a triangular matrix is that matrix): asked once per layout, of copies perturbed off
    the fixed point; a call that fails counts as writing (its contents then have no
    derivative, never a silently wrong one)."""
    desc = tuple(_describe(a) for a in (*args, *kwargs.values()))
    k = (id(fn), key, desc, tuple(kwargs))
    if k not in _WRITES:
        from .rules.scipy_lapack_rules import copies  # noqa: PLC0415 - imports SciPy

        a2, kw2 = copies(args), {k: copies(v) for k, v in kwargs.items()}
        t = a2[key] if type(key) is int else kw2[key]
        noise = np.random.default_rng(0).uniform(-1e-3, 1e-3, t.shape)
        if t.ndim >= 2 and t.shape[-1] == t.shape[-2]:
            noise = (noise + np.swapaxes(noise, -1, -2)) / 2  # (a factored matrix stays SPD)
        t += noise * max(1.0, float(np.max(np.abs(t), initial=0.0)))
        old = t.copy()
        try:  # (warning filters are left alone: cached traces watch them)
            call_quiet(fn, a2, kw2)
            _WRITES[k] = not _same(t, old)
        except Exception:  # noqa: BLE001 - any failure: assume it writes
            _WRITES[k] = True
        if len(_WRITES) > 512:
            _WRITES.pop(next(iter(_WRITES)))
    return _WRITES[k]


def _describe(a):
    if isinstance(a, np.ndarray):
        return ("a", a.dtype.str, a.shape, a.flags.c_contiguous, a.flags.f_contiguous,
                a.flags.writeable)
    if type(a) in (tuple, list):
        return tuple(_describe(x) for x in a)
    return repr(a)[:80]


_SCRATCH: dict[tuple, Any] = {}


def _scratch(rec, fn, args, kwargs, key, t, frame):
    """What LAPACK left in argument ``key`` (``t``), recorded as a node of ``fn``'s
    arguments that a cached replay recomputes (``fn`` on copies of the same layouts); its
    derivative is not known: a nonzero cotangent reaching it raises, its tangent is nan."""
    orders = _orders(args, kwargs)
    k = (id(fn), key, tuple(sorted(orders.items(), key=repr)))
    if k not in _SCRATCH:
        name = f"{getattr(fn, '__name__', fn)}"
        what = f"what scipy.linalg {name} leaves in {key!r} when told to overwrite it"

        def vjp(g, ans, *a, **kw):
            if np.any(np.asarray(g) != 0):
                raise NotImplementedError(f"framead: {what} has no derivative (read it from "
                                          "the returned factors instead)")
            return (None,) * len(a)

        def jvp(tangents, ans, *a, **kw):
            return np.full(np.shape(ans), np.nan, dtype=np.result_type(ans, float))

        from .rules.scipy_lapack_rules import on_copies  # noqa: PLC0415 - imports SciPy

        _SCRATCH[k] = rules.make_rule(on_copies(fn, orders, key), vjp=vjp, jvp=jvp, saves={},
                                      argnames=None,
                                      name=f"scipy.linalg.{name} (overwritten {key!r})")
    rec.apply(_SCRATCH[k], Result(t), args, kwargs, args, frame, writes=(t,))


def _apply(rec, rule, fn, args, kwargs, frame):
    node_args, kw = calls.map_keywords(rule, args, kwargs)
    if kw is None:
        rec.hazard("FA106", rule.name, frame,
                   f"a traced keyword argument of {rule.name} is not differentiated")
        return fn(*args, **kwargs)
    return rec.apply(rule, fn, args, kwargs, node_args, frame)


_PRIVATE: dict[int, Any] = {}  # rules applied here only (LAPACK routines)


def _lapack_rules() -> list:
    """``?gbsv`` (``make_interp_spline``'s banded solve): a rule for the solution ``x``."""
    import scipy.linalg as sl  # noqa: PLC0415 - optional dependency

    from .rules.scipy_lapack_rules import _gbsv_jvp, _gbsv_vjp  # noqa: PLC0415 - SciPy

    fn = sl.lapack.dgbsv
    if id(fn) not in _PRIVATE:
        _PRIVATE[id(fn)] = rules.make_rule(fn, vjp=_gbsv_vjp, jvp=_gbsv_jvp, nondiff=(0, 1),
                                           multi=True, argnames=("kl", "ku", "ab", "b"),
                                           name="scipy.linalg.lapack.dgbsv")
    return [fn]


def solver_table() -> list[tuple[Any, Any]]:
    """``(callable, handler)`` pairs for the SOLVERS hook (empty until SciPy is imported)."""
    out: list[tuple[Any, Any]] = []
    if "scipy.interpolate" in sys.modules:
        from scipy.interpolate import _ppoly  # noqa: PLC0415 - optional dependency

        out.append((_ppoly.evaluate, _ppoly_evaluate))
    if "scipy.linalg" in sys.modules:
        import scipy.linalg as sl  # noqa: PLC0415 - optional dependency

        out += [(f, _overwrite) for f in (
            sl.solve, sl.solve_banded, sl.solve_triangular, sl.cho_factor, sl.cho_solve,
            sl.lu_factor, sl.lu_solve, sl.inv, sl.det, sl.cholesky, *_lapack_rules())]
    return out
