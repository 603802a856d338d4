"""What a rule author needs besides ``register``: ``unbroadcast`` and family helpers.

``defunary(fn, d)`` / ``defbinary(fn, dx, dy)`` take derivatives as constants, as the name
of what they equal (``defbinary(np.multiply, "y", "x")``: the fastest form), or as
functions whose *parameter names* say what they read: ``lambda x: np.cos(x)`` reads the
argument, ``lambda ans: ans`` the output, ``lambda ans, x, y: ...`` all three (for binary
rules the arguments are always called ``x`` and ``y``). The names give ``saves``, so the
table line is the whole rule: ``defunary(np.exp, lambda ans: ans)``. The VJP is
``g * d`` and the JVP ``t * d``, which is JAX's complex convention for holomorphic functions.
"""

from __future__ import annotations

import cmath
import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from framead.ir import Meta

from .registry import ANS, Rule, RuleError, infer_argnames, register, register_method

# --- shapes and kinds ------------------------------------------------------------------------

def is_inexact(x: Any) -> bool:
    """Float/complex scalar or array, or a Meta standing in for one (what capture traces)."""
    if isinstance(x, Meta):
        return x.dtype is not None and np.dtype(x.dtype).kind in "fc"
    if isinstance(x, float | complex):
        return True
    if isinstance(x, np.ndarray | np.generic):
        return x.dtype.kind in "fc"
    return False


def meta_of(x: Any) -> Meta:
    return x if isinstance(x, Meta) else Meta.of(x)


def shape_of(x: Any) -> tuple[int, ...]:
    """Shape of a value or Meta (works for Python scalars, unlike ``.shape``; a list or tuple
    has the shape NumPy coerces it to)."""
    shape = getattr(x, "shape", None)
    if shape is not None:
        return shape
    return _coerced(x).shape if isinstance(x, list | tuple) else ()


def _coerced(x: list | tuple) -> Any:
    try:
        return np.asarray(x)
    except ValueError:  # ragged: NumPy refuses it too, so no rule receives it as an array
        return np.asarray(0.0)


def sum_to(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` over the axes broadcasting added to ``shape`` (broadcast it if smaller)."""
    g = np.asarray(g)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead > 0:
        g = g.sum(axis=tuple(range(lead)))
    if lead >= 0:
        axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
        if axes:
            g = g.sum(axis=axes, keepdims=True)
    return g if g.shape == shape else np.broadcast_to(g, shape)


def fit(x: Any, meta: Meta) -> Any:
    """``x`` as the kind ``meta`` describes: Python float/complex, NumPy scalar or array; real
    part only for a real target."""
    if meta.dtype is not None and np.iscomplexobj(x) and np.dtype(meta.dtype).kind != "c":
        x = np.real(x)
    kind = meta.kind
    if issubclass(kind, np.generic):
        return np.asarray(x)[()]
    if kind is float:
        return x if type(x) is float else float(x)
    if kind is complex:
        return complex(x)
    if issubclass(kind, np.ndarray):
        return x if isinstance(x, np.ndarray | np.generic) else np.asarray(x)
    return x


def unbroadcast(g: Any, target: Any) -> Any:
    """Cotangent ``g`` (of a broadcast result) summed back to ``target``'s shape and kind.

    ``target`` is the argument or its Meta. A Python float gets a Python float, a NumPy scalar
    a NumPy scalar, an array an array of its shape; a real target gets the real part.
    """
    if type(target) is float and type(g) is float:
        return g
    m = meta_of(target)
    if np.shape(g) != m.shape:
        g = sum_to(g, m.shape)
    return fit(g, m)


def fit_tangent(t: Any, ans: Any) -> Any:
    """A JVP result as a tangent of ``ans``: zeros for None, broadcast to its shape."""
    if not is_inexact(ans):
        return None
    if t is None:
        return np.zeros_like(ans) if isinstance(ans, np.ndarray) else type(ans)(0)
    m = Meta.of(ans)
    if np.shape(t) != m.shape:
        t = np.broadcast_to(t, m.shape)
    return fit(t, m)


def fit_tangent_tree(t: Any, ans: Any) -> Any:
    """``fit_tangent`` leaf by leaf for a multi-output (nested tuple/list) ``ans``."""
    if isinstance(ans, list | tuple):
        ts = [None] * len(ans) if t is None else t
        items = [fit_tangent_tree(ti, ai) for ti, ai in zip(ts, ans, strict=True)]
        return type(ans)(*items) if hasattr(ans, "_fields") else type(ans)(items)
    return fit_tangent(t, ans)


# --- containers (sum's items, np.array's nested lists) ---------------------------------------

def struct_cot(g: Any, obj: Any) -> Any:
    """Split ``g`` (shaped like ``np.array(obj)``) into obj's nested list/tuple structure."""
    if isinstance(obj, list | tuple):
        return type(obj)(struct_cot(g[i], o) for i, o in enumerate(obj))
    return unbroadcast(g, obj) if is_inexact(obj) else None


def fill_zeros(t: Any, obj: Any) -> Any:
    """Tangent structure ``t`` for container ``obj`` with None leaves replaced by zeros."""
    if isinstance(obj, list | tuple):
        ts = [None] * len(obj) if t is None else t
        return type(obj)(fill_zeros(ti, oi) for ti, oi in zip(ts, obj, strict=True))
    if t is not None:
        return t
    return np.zeros(obj.shape, obj.dtype) if isinstance(obj, np.ndarray) else 0 * obj


def add_tangents(ts: Any) -> Any:
    """Sum of the non-None entries (None when there are none)."""
    out = None
    for t in ts:
        if t is not None:
            out = t if out is None else out + t
    return out


# --- reductions ------------------------------------------------------------------------------

def keepdims_of(keepdims: Any) -> bool:
    return keepdims is not np._NoValue and bool(keepdims)


def normalize_axis(axis: Any, ndim: int) -> tuple[int, ...]:
    """Sorted non-negative axes; None means all."""
    if axis is None or axis is np._NoValue:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    return tuple(sorted(int(a) % max(ndim, 1) for a in axes))


def expand_reduced(g: Any, x: Any, axis: Any = None, keepdims: Any = False) -> np.ndarray:
    """Broadcast the cotangent of a reduction back to the reduced argument's shape (a view)."""
    shape = shape_of(x)
    g = np.asarray(g)
    if not keepdims_of(keepdims):
        axes = normalize_axis(axis, len(shape))
        g = g.reshape(tuple(1 if i in axes else n for i, n in enumerate(shape)))
    return np.broadcast_to(g, shape)


def reduced_size(x: Any, axis: Any) -> int:
    shape = shape_of(x)
    return math.prod(shape[a] for a in normalize_axis(axis, len(shape)))


# --- derivative formulas shared by several modules -------------------------------------------

def pow_dx(x: Any, y: Any) -> Any:
    """d(x**y)/dx = y * x**(y-1): zero where y == 0, y*inf (not an exception) at x == 0.
    The formula is kept where y == 0 (0 * x**-1; only x == 0 == y is substituted) so that
    its own derivative in y, 1/x there, survives for second derivatives."""
    if isinstance(y, np.ndarray):
        both = (y == 0) & (np.asarray(x) == 0)
        return y * np.where(both, 1, x) ** (y - 1) if both.any() else y * x ** (y - 1)
    if y == 0 and x == 0:
        return 0 * x
    if isinstance(x, np.ndarray | np.generic):
        return y * x ** (y - 1)
    try:
        return y * x ** (y - 1)
    except ZeroDivisionError:
        return y * math.inf


def pow_dy(x: Any, y: Any, ans: Any) -> Any:
    """d(x**y)/dy = x**y * log(x): zero at x == 0 (JAX's choice) and for real x < 0
    (TensorFlow's): there x**y is real only at integer y, so no derivative along y exists,
    and a nan would poison gradients where y does not vary (``x ** (a / a)``)."""
    if isinstance(x, np.ndarray) or isinstance(ans, np.ndarray):
        cplx = np.iscomplexobj(x) or np.iscomplexobj(ans)
        zero = np.equal(x, 0) if cplx else np.less_equal(x, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(zero, 0 * ans, ans * np.log(np.where(zero, 1, x)))
    if x == 0:
        return 0 * ans
    if isinstance(x, complex) or isinstance(ans, complex):
        return ans * cmath.log(x)
    return ans * math.log(x) if x > 0 else 0 * ans


def abs_dx(x: Any) -> Any:
    """Direction of d|x|: sign(x) for reals, conj(x)/|x| for complex (0 at 0)."""
    if isinstance(x, float):
        return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)
    if isinstance(x, complex):
        a = abs(x)
        return np.conj(x) / a if a else 0j  # np.conj, not .conjugate(): it has a rule
    if np.iscomplexobj(x):
        a = np.abs(x)
        return np.conj(x) / np.where(a == 0, 1, a)
    return np.sign(x)


def abs_jvp(t: Any, ans: Any, x: Any, *args: Any, **kw: Any) -> Any:
    d = abs_dx(x)
    return np.real(d * t) if np.iscomplexobj(d) else d * t


def sdiv(a: Any, b: Any) -> Any:
    """``a / b`` that gives inf/nan instead of raising for Python floats (like NumPy)."""
    try:
        return a / b
    except ZeroDivisionError:
        return math.copysign(math.inf, a) if a else math.nan


# --- family helpers --------------------------------------------------------------------------

def _derivative(d: Any, names: tuple[str, ...], owner: str):
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


def _masked(ct: Any, kw: dict) -> Any:
    """Ufunc ``where=``: no derivative where the ufunc did not write."""
    w = kw.get("where", True)
    return ct if w is True else np.where(w, ct, 0)


def _up(v: Any, ans: Any) -> Any:
    """``v`` in the output's precision where that is higher: ``x / np.float16(y)`` is float64,
    so ``1 / y`` must not be rounded to float16, nor a Python-float cotangent adopt float16."""
    dt = getattr(ans, "dtype", None)
    if dt is None or dt.kind not in "fc":
        return v
    t = type(v)
    if t is float or (t is complex and dt.kind == "c"):
        return dt.type(v)
    if isinstance(v, np.ndarray | np.generic) and v.dtype != dt and v.dtype.kind in "fc" \
            and np.can_cast(v.dtype, dt):
        return v.astype(dt)
    return v


def _no_cotangent_no_nan(ct: Any, g: Any) -> Any:
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
    if call == ANS:
        def scaled(g, ans, *args, **kw):
            g = _up(g, ans)
            return _masked(g * ans, kw) if kw else g * ans
    elif isinstance(call, str):
        j = names.index(call)

        def scaled(g, ans, *args, **kw):
            g = _up(g, ans)
            return _masked(g * args[j], kw) if kw else g * args[j]
    elif call is not None:
        def scaled(g, ans, *args, **kw):
            g = _up(g, ans)
            ct = _no_cotangent_no_nan(g * call(ans, tuple(_up(a, ans) for a in args)), g)
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
    """Elementwise ``f(x, y)``; ``dx``/``dy`` constants, functions of ``ans``/``x``/``y``, or None
    (no derivative in that argument)."""
    owner = spec.get("name") or getattr(fn, "__name__", repr(fn))
    parts, saves = [], {}
    for i, d in enumerate((dx, dy)):
        if d is None:
            parts.append(None)
            continue
        call, const, s = _derivative(d, ("x", "y"), owner)
        parts.append(_scaled(call, const, ("x", "y")))
        saves[i] = s
    return register(fn, vjp=tuple(parts), jvp=tuple(parts), saves=saves,
                    elementwise=elementwise, **spec)


def deflinear(fn: Callable, vjp: Callable, *, argnum: int = 0, saves: dict | None = None,
              method: tuple | None = None, **spec: Any) -> Rule:
    """``fn`` linear in argument ``argnum``: the JVP is ``fn`` applied to the tangent."""
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
        return call(*args, **kw)

    return _register(fn, method, vjp=(None,) * argnum + (vjp,), jvp=jvp,
                     saves={argnum: ()} if saves is None else saves, **spec)


def defcut(fn: Callable, **spec: Any) -> Rule:
    """Output with zero derivative (piecewise constant, integer or boolean valued)."""
    return register(fn, cut=True, **spec)
