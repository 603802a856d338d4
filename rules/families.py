"""The rule families: one table line per function.

``defunary(fn, d)`` / ``defbinary(fn, dx, dy)`` take derivatives as constants, as the name
of what they equal (``defbinary(np.multiply, "y", "x")``: the fastest form), or as
functions whose *parameter names* say what they read: ``lambda x: np.cos(x)`` reads the
argument, ``lambda ans: ans`` the output, ``lambda ans, x, y: ...`` all three (for binary
rules the arguments are always called ``x`` and ``y``). The names give ``saves``, so the
table line is the whole rule: ``defunary(np.exp, lambda ans: ans)``. The VJP is
``g * d`` and the JVP ``t * d``, which is JAX's complex convention for holomorphic functions.
``deflinear`` is for functions linear in one argument, ``defcut`` for zero derivatives.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from .registry import ANS, Rule, RuleError, infer_argnames, register, register_method


def _derivative(d: Any, names: tuple[str, ...], owner: Any):
    """``(call(ans, args) -> value, constant, saves)`` for ``d``: a constant, the name of what
    the derivative equals (``"y"`` for ``x * y``, ``"ans"`` for ``exp``), or a function."""
    if isinstance(d, str):
        if d != ANS and d not in names:
            raise RuleError(f"rule {owner}: derivative {d!r} names neither 'ans' nor {names}")
        return d, None, ((ANS,) if d == ANS else (names.index(d),))
    if not callable(d):
        return None, d, ()
    params = list(inspect.signature(d).parameters)
    bad = [p for p in params if p != ANS and p not in names]
    if bad:
        raise RuleError(f"rule {owner}: derivative {getattr(d, '__qualname__', d)} has "
                        f"parameters {bad}; name them from {(ANS,) + names}")
    pos = tuple(-1 if p == ANS else names.index(p) for p in params)
    saves = tuple(sorted({j for j in pos if j >= 0})) + ((ANS,) if -1 in pos else ())
    if pos == (0,):
        call = lambda ans, args: d(args[0])
    elif pos == (-1,):
        call = lambda ans, args: d(ans)
    elif pos == (1,):
        call = lambda ans, args: d(args[1])
    elif pos == (-1, 0):
        call = lambda ans, args: d(ans, args[0])
    elif pos == (0, 1):
        call = lambda ans, args: d(args[0], args[1])
    else:
        call = lambda ans, args: d(*[ans if j < 0 else args[j] for j in pos])
    return call, None, saves


def _fresh(a: Any, refs: int) -> bool:
    """``a`` is an ndarray that owns its memory and that nothing but the caller's ``refs``
    references hold (a temporary of a derivative formula): its memory can take the result.
    Each large temporary a formula adds costs a fresh mapping of its pages (~150 us for 512
    KiB with two alive on the benchmark machines); a held array never counts as fresh."""
    return type(a) is np.ndarray and sys.getrefcount(a) <= refs and a.flags.owndata and \
        a.flags.writeable


def times(g: Any, d: Any) -> Any:
    """``g * d``, written into ``d`` when it is a fresh array of the product's dtype and shape
    (the same values: the same ufunc loop)."""
    if _fresh(d, 3) and type(g) is np.ndarray and g.shape == d.shape and g.dtype == d.dtype:
        return np.multiply(g, d, out=d)
    return g * d


def rsub(c: int | float, t: Any) -> Any:
    """``c - t`` for a Python number ``c``, into ``t`` when it is a fresh float array."""
    if _fresh(t, 3) and t.dtype.kind == "f":
        return np.subtract(c, t, out=t)
    return c - t


def rdiv(c: int | float, t: Any) -> Any:
    """``np.divide(c, t)`` for a Python number ``c``, into ``t`` when it is a fresh float
    array."""
    if _fresh(t, 3) and t.dtype.kind == "f":
        return np.divide(c, t, out=t)
    return np.divide(c, t)


def _masked(ct: Any, kw: dict) -> Any:
    """Ufunc ``where=``: no derivative where the ufunc did not write."""
    w = kw.get("where", True)
    return ct if w is True else np.where(w, ct, 0)


_F32 = np.dtype(np.float32)


def cotangent_dtype(dt: Any) -> Any:
    """The dtype the cotangent of a primal of dtype ``dt`` is carried and accumulated in:
    float32 for float16 (whose range, 6e-8 .. 65504, would turn finite gradients into inf or
    0), ``dt`` itself otherwise. Only the gradient of a float16 *input* is cast back to
    float16 (``framead.reverse.cast_like``, at the API boundary)."""
    return _F32 if getattr(dt, "char", None) == "e" else dt


def _up(v: Any, ans: Any) -> Any:
    """``v`` in the output's cotangent precision where that is higher: ``x / np.float16(y)``
    is float64, so ``1 / y`` must not be rounded to float16, nor a Python-float cotangent
    adopt float16; for a float16 output, float32 (``cotangent_dtype``: the derivative formula
    and ``g * d`` are computed in float32, so ``1 / y`` at a small ``y`` stays finite)."""
    dt = getattr(ans, "dtype", None)
    if dt is None or dt.kind not in "fc":
        return v
    t = type(v)
    if t is float or (t is complex and dt.kind == "c"):
        return cotangent_dtype(dt).type(v)
    if isinstance(v, np.ndarray | np.generic):
        vt = v.dtype
        if vt == dt:  # (float16 only past this test: float32/float64 pay one comparison)
            return v.astype(_F32) if vt.char == "e" else v
        if vt.kind in "fc" and np.can_cast(vt, dt):
            return v.astype(cotangent_dtype(dt))
    return v


def no_cotangent_no_nan(ct: Any, g: Any) -> Any:
    """``g * derivative`` where ``g`` is exactly 0 is 0, even where the derivative is
    infinite (sqrt at 0 under a mask, ``np.tril(np.sqrt(d2), -1)``): an element the output
    does not depend on carries no derivative. Checked with one reduction; fixed rarely."""
    if isinstance(ct, np.ndarray):
        if ct.dtype.kind in "fc" and ct.size and np.isnan(np.sum(ct)):
            return np.where(np.equal(g, 0) & np.isnan(ct), 0, ct)
        return ct
    if ct != ct and g == 0:  # a NaN scalar from 0 * inf
        return type(ct)(0)
    return ct


def _scaled(call: Any, const: Any, names: tuple[str, ...] = ()) -> Callable:
    """``f(g_or_t, ans, *args, **kw) = g * derivative``: the VJP, and the JVP part (computed
    in the output's precision)."""
    if call == ANS:  # (exp: an overflow to inf where the cotangent is 0 carries nothing)
        def scaled(g, ans, *args, **kw):
            g = _up(g, ans)
            ct = no_cotangent_no_nan(g * ans, g)
            return _masked(ct, kw) if kw else ct
    elif isinstance(call, str):
        j = names.index(call)

        def scaled(g, ans, *args, **kw):
            g = _up(g, ans)
            return _masked(g * args[j], kw) if kw else g * args[j]
    elif call is not None:
        def scaled(g, ans, *args, **kw):
            g = _up(g, ans)
            ct = no_cotangent_no_nan(times(g, call(ans, tuple(_up(a, ans) for a in args))), g)
            return _masked(ct, kw) if kw else ct
    elif const == 1:
        def scaled(g, ans, *args, **kw):
            return _masked(g, kw) if kw else g
    elif const == -1:
        def scaled(g, ans, *args, **kw):
            return _masked(-g, kw) if kw else -g
    else:
        def scaled(g, ans, *args, **kw):
            return _masked(g * const, kw) if kw else g * const
    return scaled


class Scaled:
    """A derivative given whole: ``fn(g_or_t, ans, *args, **kw)`` returns the cotangent (and
    the tangent) itself, where ``g * d`` would lose what ``fn`` keeps; ``saves`` as a rule's."""

    def __init__(self, fn: Callable, saves: tuple) -> None:
        self.fn, self.saves = fn, saves


def _quotient_dy(g, ans, x, y, *args, **kw):
    """d(x / y)/dy applied as ``-(g / y) * ans``: ``g * (-ans / y)`` underflows where
    ``ans / y`` does (``log1p(exp(v))``'s second derivative at v = 400: ``ans / y`` is
    1e-348 = 0, times the 1e174 in ``g``, loses a term of size 1)."""
    g = _up(g, ans)
    y = _up(y, ans)
    if isinstance(y, np.ndarray) and isinstance(g, np.ndarray):  # a y of 0 with no cotangent
        # (an entry a where= merge masked): 0 / 0 would be a NaN the second order multiplies
        y = np.where((g == 0) & (y == 0), 1.0, y)
    q = np.divide(g, y) if isinstance(g, np.ndarray | np.generic) or \
        isinstance(y, np.ndarray | np.generic) else g / y
    ct = no_cotangent_no_nan(-(q * ans), g)
    return _masked(ct, kw) if kw else ct


QUOTIENT_DY = Scaled(_quotient_dy, (1, ANS))


def _register(fn: Any, method: tuple | None, **spec: Any) -> Rule:
    if method is not None:
        return register_method(method[0], method[1], **spec)
    return register(fn, **spec)


def defunary(fn: Callable, d: Any, *, elementwise: bool = True, **spec: Any) -> Rule:
    """Elementwise ``f(x)`` with derivative ``d`` (constant or function of ``ans``/``x``)."""
    owner = spec.get("name") or getattr(fn, "__name__", repr(fn))
    call, const, saves = _derivative(d, ("x",), owner)
    part = _scaled(call, const, ("x",))
    return register(fn, vjp=(part,), jvp=(part,), saves={0: saves}, elementwise=elementwise,
                    **spec)


def defbinary(fn: Callable, dx: Any, dy: Any, *, elementwise: bool = True,
              **spec: Any) -> Rule:
    """Elementwise ``f(x, y)``; ``dx``/``dy`` constants, functions of ``ans``/``x``/``y``, a
    ``Scaled`` (the whole cotangent), or None (no derivative in that argument)."""
    owner = spec.get("name") or getattr(fn, "__name__", repr(fn))
    parts: list[Callable | None] = []
    saves: dict[int, tuple] = {}
    for i, d in enumerate((dx, dy)):
        if d is None:
            parts.append(None)
            continue
        if isinstance(d, Scaled):
            parts.append(d.fn)
            saves[i] = d.saves
            continue
        call, const, s = _derivative(d, ("x", "y"), owner)
        parts.append(_scaled(call, const, ("x", "y")))
        saves[i] = s
    return register(fn, vjp=tuple(parts), jvp=tuple(parts), saves=saves,
                    elementwise=elementwise, **spec)


def deflinear(fn: Callable, vjp: Callable, *, argnum: int = 0, saves: dict | None = None,
              method: tuple | None = None, cast: bool = False, **spec: Any) -> Rule:
    """``fn`` linear in argument ``argnum``: the JVP is ``fn`` applied to the tangent (a
    ``cast`` to float16 of a wider tangent keeps it in float32: ``cotangent_dtype``)."""
    call = getattr(method[0], method[1]) if method is not None else fn
    names = infer_argnames(call)[0] or ()
    out_pos = names.index("out") if "out" in names else None

    def jvp(tangents, ans, *args, **kw):
        t = tangents[argnum] if len(tangents) > argnum else None
        if t is None:
            return None
        args = args[:argnum] + (t,) + args[argnum + 1:]
        if out_pos is not None and len(args) > out_pos:  # never write a tangent into out=
            args = args[:out_pos] + (None,) + args[out_pos + 1:]
        if "out" in kw:
            kw = {k: v for k, v in kw.items() if k != "out"}
        if cast and getattr(ans, "dtype", None) == np.float16 and np.result_type(t).char != "e":
            return np.asarray(t).astype(_F32).reshape(np.shape(ans))
        return call(*args, **kw)

    return _register(fn, method, vjp=(None,) * argnum + (vjp,), jvp=jvp,
                     saves={argnum: ()} if saves is None else saves, **spec)


def defcut(fn: Callable, **spec: Any) -> Rule:
    """Output with zero derivative (piecewise constant, integer or boolean valued)."""
    return register(fn, cut=True, **spec)
