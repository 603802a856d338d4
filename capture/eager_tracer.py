"""The eager fallback's ``Tracer``: an ndarray-like stand-in for a traced value inside a
function marked ``@framead.eager`` (which runs uninstrumented; capture/eager.py wraps and
unwraps the values it reaches).

Every operation on a Tracer goes through the SAME recorder and the SAME rules as instrumented
code (``Recorder.apply``, ``calls.dispatch``, ``Recorder.set_item``, ``Recorder._inplace``/
``mutate``, ``rules.lookup_method``/``lookup_attr``) and returns a Tracer wrapping the real
result, so gradients are those of the instrumented path. Where the gradient is cut, framead
says so: ``float(t)``/``complex(t)`` (hence ``math.*`` on a Tracer inside the eager frame),
``np.asarray(t)``/``np.array(t)`` (``__array__``) and ``int(t)`` are reported as FA102 and
give constants.

Tracers of scalars (immutable) and of arrays that own their memory are also registered in the
recorder's shadow table (an owner's entry follows its buffer versions), so an instrumented
helper called from the eager frame can pass them to C functions with rules (``math.exp(t)``,
``np.asarray(t)``, ``np.array(t)``) and record as if they were the real objects. Inside such a
rule-covered call (capture disabled) Tracer operations return plain objects. Scalar Tracers
report the class of their value through ``__class__`` (``isinstance(t, float)`` holds); array
Tracers do not claim to be ndarrays (framead's own handlers must tell them apart). Text of a
Tracer (``str``/``repr``/``format``) is noted as text of traced values, and hashing and
equality tell capture/eager_probes.py about lookups by a Tracer (FA110 on a stale hit).
"""

from __future__ import annotations

import functools
import math
import operator
import sys
import threading
import types
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from framead import rules

from . import _evalframe as C
from . import calls, overrides
from . import eager_probes as probes
from .buffers import Entry
from .handlers import _AttrGetter
from .operators import COMPARE_OPS, FUNC_OPS, INPLACE_OPS
from .session import current_recorder
from .sourceloc import strip_framead_frames
from .text_taint import check_store
from .unruled import unknown_call

running = threading.local()  # .extent: the Extent of this thread's outermost running eager call
_OPERANDS = (float, int, complex, np.ndarray, np.generic, list, tuple)
F = TypeVar("F", bound=Callable[..., Any])


def user_traceback(fn: F) -> F:
    """``fn`` (a function or method) whose errors, raised by user code or NumPy it runs,
    leave with a traceback without framead's own frames."""

    @functools.wraps(fn)
    def op(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BaseException as e:
            e.__traceback__ = strip_framead_frames(e.__traceback__)
            raise

    return op  # type: ignore[return-value]


# ---------------------------------------------------------------------- making Tracers


class Extent:
    """Bookkeeping of one outermost eager call (nested eager calls share it)."""

    __slots__ = ("rec", "created", "restores", "frame", "qualname", "seen")

    def __init__(self, rec, frame, qualname: str):
        self.rec = rec
        self.created: list[Tracer] = []
        self.seen: dict[int, Tracer] = {}  # id(traced object) -> its Tracer (values followed
        # into the eager frame: one Tracer per object, so ``a is b`` holds as natively)
        self.restores: list[tuple] = []
        self.frame = frame
        self.qualname = qualname


def new_tracer(obj: Any, ext: Extent, cls: type | None = None) -> Tracer:
    """A Tracer (``cls``: a subclass) of ``obj``, registered when traced, in ``ext.created``."""
    t = object.__new__(cls or Tracer)
    t._fa_obj = obj
    t._fa_rec = ext.rec
    t._fa_reg = 0
    _register(t, ext.rec)
    ext.created.append(t)
    return t


def _register(t: Tracer, rec) -> None:
    """Put a Tracer of a traced scalar or of a traced buffer owner in the shadow table (an
    owner's entry follows its buffer versions), so C calls with rules see its value."""
    obj = t._fa_obj
    if isinstance(obj, np.ndarray):
        buf = rec.buffers.get(id(obj))
        if buf is None or buf.root is not obj:
            return
        rec.entries[id(t)] = Entry(t, buf.value, buf, buf.version)
    else:
        v = rec.value_of(obj)
        if v is None:
            return
        rec.entries[id(t)] = Entry(t, v)  # immutable: its value never changes
    C.track(t)
    t._fa_reg = 1


def _is_leaf(x: Any) -> bool:
    t = type(x)
    if t is float or t is complex:
        return True
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "fc"
    return isinstance(x, np.inexact)


def _wrap_in(x: Any, ext: Extent) -> Any:
    """A result of a Tracer operation: Tracers for float leaves (inside tuples/lists too)."""
    t = type(x)
    if t is Tracer:
        return x
    if _is_leaf(x):
        return new_tracer(x, ext)
    if t is tuple or t is list:
        return t(_wrap_in(i, ext) for i in x)
    if isinstance(x, tuple) and hasattr(x, "_make"):
        return x._make(_wrap_in(i, ext) for i in x)
    return x


def _wrap(x: Any, rec) -> Any:
    ext = getattr(running, "extent", None)
    if ext is None or ext.rec is not rec or not C.is_enabled():
        # outside an eager call, or inside a rule-covered call the recorder is recording
        # (Recorder.apply runs it with capture disabled): plain results
        return x
    return _wrap_in(x, ext)


def _same(t: Tracer, res: Any) -> Any:
    """The result of an operation that returned the Tracer's own object (in place, out=)."""
    return t if C.is_enabled() else res


def _raw(x: Any) -> Any:
    """``x`` with Tracers replaced by their objects (new lists/tuples/dicts; for calls)."""
    t = type(x)
    if t is Tracer or t in overrides.TRACER_TYPES:  # (a FlatTracer: capture/eager_flat.py)
        return x._fa_obj
    if t is list or t is tuple:
        items = [_raw(i) for i in x]
        if any(a is not b for a, b in zip(items, x, strict=True)):
            return t(items)
        return x
    if t is dict:
        return {k: _raw(v) for k, v in x.items()}
    return x



# ---------------------------------------------------------------------- the Tracer


def _binop(self: Tracer, other: Any, fop, reflected: bool) -> Any:
    if type(other) is not Tracer and not isinstance(other, _OPERANDS):
        return NotImplemented
    a, b = self._fa_obj, _raw(other)
    if reflected:
        a, b = b, a
    rec = self._fa_rec
    if rec is not current_recorder() or (not C.is_enabled() and _scalars(a, b)):
        return fop(a, b)  # (not live, or scalars inside a rule-covered call: its rule records)
    frame = sys._getframe(1)
    rule = rules.lookup(fop)
    if rule is None:
        return _wrap(unknown_call(rec, fop, (a, b), {}, frame), rec)
    return _wrap(rec.apply(rule, fop, (a, b), {}, (a, b), frame), rec)


def _scalars(*xs: Any) -> bool:
    """No ndarray among ``xs`` (a Tracer operation on them inside a rule-covered call is
    computed natively: the call's rule records it, and a node of its own besides would take
    the result's place; an array's out= write there is recorded as the Tracer's)."""
    return not any(isinstance(x, np.ndarray) or type(x) is list or type(x) is tuple
                   for x in xs)


def _ibinop(self: Tracer, other: Any, fop, iop) -> Any:
    a = self._fa_obj
    if not isinstance(a, np.ndarray):
        return _binop(self, other, fop, False)  # immutable: ``x += y`` rebinds
    if type(other) is not Tracer and not isinstance(other, _OPERANDS):
        return NotImplemented
    b = _raw(other)
    rec = self._fa_rec
    if rec is not current_recorder():
        res = iop(a, b)
        return self if res is a else res
    res = rec._inplace(fop, iop, a, b, sys._getframe(1))
    if not self._fa_reg:
        _register(self, rec)  # a constant buffer that now holds traced values
    return _same(self, res) if res is a else _wrap(res, rec)


def _unary(self: Tracer, op) -> Any:
    a = self._fa_obj
    rec = self._fa_rec
    if rec is not current_recorder() or (not C.is_enabled() and _scalars(a)):
        return op(a)
    frame = sys._getframe(1)
    rule = rules.lookup(op)
    if rule is None:
        return _wrap(unknown_call(rec, op, (a,), {}, frame), rec)
    return _wrap(rec.apply(rule, op, (a,), {}, (a,), frame), rec)


def _dispatch(self: Tracer, fn, args: tuple, kwargs: dict | None = None,
              conversion: bool = False) -> Any:
    """``fn(*args)`` recorded as instrumented code would record it (``calls.dispatch``)."""
    rec = self._fa_rec
    rargs = tuple(_raw(a) for a in args)
    rkw = {k: _raw(v) for k, v in kwargs.items()} if kwargs else {}
    if rec is not current_recorder() or (conversion and not C.is_enabled()):
        # not live, or a conversion inside a rule-covered call (which records it): native
        return fn(*rargs, **rkw)
    return _wrap(calls.dispatch(rec, fn, rargs, rkw, sys._getframe(1)), rec)


def _compare(self: Tracer, oparg: int, other: Any) -> Any:
    a, b = self._fa_obj, _raw(other)
    rec = self._fa_rec
    if rec is not current_recorder() or not C.is_enabled():
        return COMPARE_OPS[oparg](a, b)
    return rec.compare(oparg, a, b)


def _cut(self: Tracer, what: str) -> bool:
    """Whether converting this Tracer to a plain value loses a gradient (reports FA102 at the
    user's line: the innermost frame outside the standard library and installed packages, as
    a cut inside ``quad``'s code is the line that called it)."""
    rec = self._fa_rec
    if rec is not current_recorder() or not C.is_enabled() or rec.tree_value(self._fa_obj) is None:
        return False
    rec.hazard("FA102", what, sys._getframe(1),
               f"{what} of a Tracer in an eager frame gives a plain value: the gradient "
               "through it is cut. Use NumPy functions (np.exp, not math.exp) and keep values "
               "as arrays/floats inside @framead.eager functions")
    return True


class Tracer:
    """An ndarray-like stand-in for a traced value inside an eager frame (see module doc)."""

    __slots__ = ("_fa_obj", "_fa_rec", "_fa_reg")
    __array_priority__ = 1000.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("Tracer objects are made by framead's eager fallback only")

    # identity, printing, truth
    @property
    def __class__(self):  # type: ignore[override]
        obj = self._fa_obj
        return Tracer if isinstance(obj, np.ndarray) else type(obj)

    # text: noted as text of traced values (a parse of it is FA111; capture/eager_probes.py)
    def __repr__(self) -> str:
        text = repr(self._fa_obj)
        probes.note_text(self._fa_rec, self._fa_obj, text, sys._getframe(1))
        return text

    def __str__(self) -> str:
        text = str(self._fa_obj)
        probes.note_text(self._fa_rec, self._fa_obj, text, sys._getframe(1))
        return text

    def __format__(self, spec: str) -> str:
        text = format(self._fa_obj, spec)
        probes.note_text(self._fa_rec, self._fa_obj, text, sys._getframe(1))
        return text

    @user_traceback
    def __bytes__(self) -> bytes:
        return _dispatch(self, bytes, (self,))  # (raw storage: FA105, as instrumented)

    def __bool__(self) -> bool:
        return bool(self._fa_obj)

    def __hash__(self) -> int:
        h = hash(self._fa_obj)
        probes.key_hashed(self, sys._getframe(1))  # (a lookup by it: eager_probes)
        return h

    def __len__(self) -> int:
        return len(self._fa_obj)

    def __contains__(self, item: Any) -> bool:
        return _raw(item) in self._fa_obj

    def __dir__(self):
        return sorted(set(dir(self._fa_obj)))

    # comparisons: through the instrumented compare handler (nothing recorded; it notes the
    # first comparison, for FA102 where the result depends on the inputs only through
    # decisions, and the zero-trip loop tests of capture/zero_trip.py)
    def __lt__(self, other):
        return _compare(self, 0, other)

    def __le__(self, other):
        return _compare(self, 1, other)

    def __gt__(self, other):
        return _compare(self, 4, other)

    def __ge__(self, other):
        return _compare(self, 5, other)

    def __eq__(self, other):
        r = _compare(self, 2, other)
        if r is True or r is np.True_:
            probes.key_matched(self, other, sys._getframe(1))
        return r

    def __ne__(self, other):
        return _compare(self, 3, other)

    # unary
    @user_traceback
    def __neg__(self):
        return _unary(self, operator.neg)

    @user_traceback
    def __pos__(self):
        return _unary(self, operator.pos)

    @user_traceback
    def __invert__(self):
        return _unary(self, operator.invert)

    @user_traceback
    def __abs__(self):
        return _dispatch(self, abs, (self,))

    # builtins that convert or round
    @user_traceback
    def __float__(self) -> float:
        obj = self._fa_obj
        if probes.formatting(sys._getframe(2), float(obj)):  # (past user_traceback)
            return float(obj)  # ('%.3f' % t: text, noted when the '%' returns)
        if _cut(self, "float()"):
            return float(obj) * 1.0  # a new object, never the traced one
        return float(obj)

    @user_traceback
    def __complex__(self) -> complex:
        obj = self._fa_obj
        if _cut(self, "complex()"):
            c = complex(obj)
            return complex(c.real, c.imag)
        return complex(obj)

    @user_traceback
    def __int__(self) -> int:
        if probes.formatting(sys._getframe(2), float(self._fa_obj)):  # (past user_traceback)
            return int(self._fa_obj)  # ('%d' % t: text)
        return _dispatch(self, int, (self,), conversion=True)

    @user_traceback
    def __round__(self, ndigits=None):
        args = (self,) if ndigits is None else (self, ndigits)
        return _dispatch(self, round, args, conversion=True)

    @user_traceback
    def __trunc__(self):
        return _dispatch(self, math.trunc, (self,), conversion=True)

    @user_traceback
    def __floor__(self):
        return _dispatch(self, math.floor, (self,), conversion=True)

    @user_traceback
    def __ceil__(self):
        return _dispatch(self, math.ceil, (self,), conversion=True)

    @user_traceback
    def __divmod__(self, other):
        return _dispatch(self, divmod, (self, other))

    @user_traceback
    def __rdivmod__(self, other):
        return _dispatch(self, divmod, (other, self))

    @user_traceback
    def __pow__(self, other, mod=None):
        if mod is not None:
            return _dispatch(self, pow, (self, other, mod))
        return _binop(self, other, operator.pow, False)

    @user_traceback
    def __rpow__(self, other, mod=None):
        if mod is not None:
            return _dispatch(self, pow, (other, self, mod))
        return _binop(self, other, operator.pow, True)

    @user_traceback
    def __array__(self, dtype=None, copy=None):
        obj = self._fa_obj
        if _cut(self, "np.asarray()") or copy:
            return np.array(obj, dtype=dtype, copy=True)
        return np.asarray(obj, dtype=dtype)

    # NumPy protocols
    @user_traceback
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        rec = self._fa_rec
        rin = tuple(_raw(x) for x in inputs)
        rkw = {k: _raw(v) for k, v in kwargs.items()}
        fn = ufunc if method == "__call__" else getattr(ufunc, method)
        if rec is not current_recorder() or (not C.is_enabled() and "out" not in rkw and
                                             _scalars(*rin)):
            return fn(*rin, **rkw)  # (scalars inside a rule-covered call: see _scalars)
        res = calls.dispatch(rec, fn, rin, rkw, sys._getframe(1))
        if ufunc is np.equal and len(rin) == 2 and (res is True or res is np.True_):
            # (a stored np.float64 key compared first: np.float64.__eq__ -> np.equal)
            other = rin[1] if inputs[0] is self else rin[0]
            probes.key_matched(self, other, sys._getframe(2))  # (2: past user_traceback)
        out = kwargs.get("out")
        if out is not None:
            for o in out if isinstance(out, tuple) else (out,):
                if type(o) is Tracer and res is o._fa_obj:
                    return _same(o, res)
        return _wrap(res, rec)

    @user_traceback
    def __array_function__(self, func, types, args, kwargs):
        rec = self._fa_rec
        rargs = _raw(tuple(args))
        rkw = {k: _raw(v) for k, v in kwargs.items()}
        if rec is not current_recorder():
            return func(*rargs, **rkw)
        res = calls.dispatch(rec, func, rargs, rkw, sys._getframe(1))
        out = kwargs.get("out")
        if type(out) is Tracer and res is out._fa_obj:
            return _same(out, res)
        return _wrap(res, rec)

    # indexing and iteration
    @user_traceback
    def __getitem__(self, key):
        a = self._fa_obj
        k = _raw(key)
        rec = self._fa_rec
        if rec is not current_recorder():
            return a[k]
        return _wrap(rec.get_item(a, k, sys._getframe(1)), rec)

    @user_traceback
    def __setitem__(self, key, value) -> None:
        a = self._fa_obj
        k, v = _raw(key), _raw(value)
        rec = self._fa_rec
        if rec is not current_recorder():
            a[k] = v
            return
        check_store(rec, a, k, v, sys._getframe(1))  # (text into numbers: FA111)
        rec.set_item(a, k, v, sys._getframe(1))
        if not self._fa_reg:
            _register(self, rec)  # a constant buffer that now holds traced values

    def __iter__(self):
        a = self._fa_obj
        rec = self._fa_rec
        if not isinstance(a, np.ndarray) or a.ndim == 0 or rec is not current_recorder():
            return iter(a)
        return self._rows(a, rec)

    @staticmethod
    def _rows(a, rec):
        for i in range(len(a)):
            yield _wrap(rec.get_item(a, i, sys._getframe(1)), rec)

    def __copy__(self):
        if isinstance(self._fa_obj, np.ndarray):
            return _dispatch(self, np.copy, (self,))
        return self

    def __deepcopy__(self, memo):
        return self.__copy__()

    # attributes
    @property
    def shape(self):
        return self._fa_obj.shape

    @property
    def dtype(self):
        return self._fa_obj.dtype

    @property
    def ndim(self):
        return self._fa_obj.ndim

    @property
    def size(self):
        return self._fa_obj.size

    def _attr(self, name: str):
        obj = self._fa_obj
        rec = self._fa_rec
        rule = rules.lookup_attr(type(obj), name)
        if rule is None or rec is not current_recorder():
            return getattr(obj, name)
        return _wrap(rec.apply(rule, _AttrGetter(name), (obj,), {}, (obj,), sys._getframe(1),
                               recipe_parent=obj, recipe=("attr", name)), rec)

    T = property(user_traceback(lambda self: self._attr("T")))
    mT = property(user_traceback(lambda self: self._attr("mT")))
    real = property(user_traceback(lambda self: self._attr("real")))
    imag = property(user_traceback(lambda self: self._attr("imag")))

    def __getattr__(self, name: str):
        if name.startswith("__") or name.startswith("_fa_"):
            raise AttributeError(name)
        attr = getattr(self._fa_obj, name)
        if isinstance(attr, types.BuiltinMethodType | types.MethodWrapperType
                      | types.MethodType):
            return _Method(self, attr)
        return attr


def _define_operators() -> None:
    names = ("add", "and", "floordiv", "lshift", "matmul", "mul", "mod", "or", "pow",
             "rshift", "sub", "truediv", "xor")
    for name, fop, iop in zip(names, FUNC_OPS, INPLACE_OPS, strict=True):
        if name != "pow":  # __pow__/__rpow__ take a modulo argument (defined above)
            setattr(Tracer, f"__{name}__",
                    user_traceback(lambda self, other, _f=fop: _binop(self, other, _f, False)))
            setattr(Tracer, f"__r{name}__",
                    user_traceback(lambda self, other, _f=fop: _binop(self, other, _f, True)))
        setattr(Tracer, f"__i{name}__",
                user_traceback(lambda self, other, _f=fop, _i=iop: _ibinop(self, other, _f, _i)))


_define_operators()


overrides.TRACER_TYPES.add(Tracer)


class _Method:
    """A bound method of a Tracer's object (``t.sum``): called through ``calls.dispatch``,
    which finds its rule with ``rules.lookup_method`` (and handles in-place methods)."""

    __slots__ = ("_t", "_fn")

    def __init__(self, t: Tracer, fn: Any):
        self._t = t
        self._fn = fn

    @user_traceback
    def __call__(self, *args, **kwargs):
        t, fn = self._t, self._fn
        rec = t._fa_rec
        rargs = tuple(_raw(a) for a in args)
        rkw = {k: _raw(v) for k, v in kwargs.items()}
        if rec is not current_recorder():
            return fn(*rargs, **rkw)
        res = calls.dispatch(rec, fn, rargs, rkw, sys._getframe(1))
        if res is t._fa_obj:
            return _same(t, res)
        return _wrap(res, rec)

    def __repr__(self) -> str:
        return repr(self._fn)

