"""The eager fallback: ``Tracer`` objects that record through the capture's recorder.

A function marked ``@framead.eager`` runs its *original* code (its code object is in
``session.EAGER_CODES``, so the PEP 523 hook leaves it alone); the rest of the program stays
instrumented. When it is called during a capture, ``run_eager``:

1. reports the run once as FA201 at the call's file:line (strict mode raises here);
2. wraps, in ``Tracer`` objects, the traced values it can reach: arguments (Python floats,
   NumPy inexact scalars, float ndarrays), the leaves of list/tuple/dict arguments (lists and
   dicts are changed in place and restored afterwards), the function's closure cells and the
   globals its code names (traced values only there). Float ndarray arguments are wrapped even
   when they are constants, so that traced values written into a caller's buffer
   (``out[i] = ...``) are recorded;
3. runs the function; every operation on a Tracer goes through the SAME recorder and the SAME
   rules as instrumented code (``Recorder.apply``, ``calls.dispatch``, ``Recorder._setitem``,
   ``Recorder._inplace``/``mutate``, ``rules.lookup_method``/``lookup_attr``), and returns a
   Tracer wrapping the real result, so gradients are those of the instrumented path;
4. when the outermost eager call returns, unwraps what comes back (Tracers -> their real
   objects, recursively through lists/tuples/dicts/sets, mutable containers in place), restores
   the wrapped arguments, cells and globals, and then looks for Tracers that are still alive
   (stored into an attribute, a global, a container): each container, cell, instance
   ``__dict__``/slot or module dict that holds one gets the real object back in place
   (``gc.get_referrers``, run only when a Tracer survived). A Tracer held where framead cannot
   rewrite it (a suspended generator's frame, a C object) is reported as FA105; it keeps
   recording while its capture runs and behaves like its value afterwards.

Where the gradient is cut, framead says so: ``float(t)``/``complex(t)`` (hence ``math.*`` on a
Tracer inside the eager frame), ``np.asarray(t)``/``np.array(t)`` (``__array__``) and ``int(t)``
are reported as FA102 and give constants. Values the eager frame reaches some other way (an
attribute of an argument, a container nested deeper than ``MAX_DEPTH``) are plain objects there
and operations on them are not recorded: prefer passing them as arguments.

Tracers of scalars (immutable) and of arrays that own their memory are also registered in the
recorder's shadow table (an owner's entry follows its buffer versions), so an instrumented
helper called from the eager frame can pass them to C functions with rules (``math.exp(t)``,
``np.asarray(t)``, ``np.array(t)``) and record as if they were the real objects. Inside such a
rule-covered call (capture disabled) Tracer operations return plain objects. Scalar Tracers
report the class of their value through ``__class__`` (``isinstance(t, float)`` holds); array
Tracers do not claim to be ndarrays (framead's own handlers must tell them apart).
"""

from __future__ import annotations

import functools
import gc
import math
import operator
import sys
import threading
import types
from typing import Any

import numpy as np

from . import _evalframe as C
from . import calls, overrides, session
from .buffers import Entry
from .recorder import FUNC_OPS, INPLACE_OPS, _AttrGetter, strip_framead_frames
from .sourceloc import release_frames

MAX_DEPTH = 4  # how deep into list/tuple/dict arguments traced leaves are wrapped
_tls = threading.local()  # .extent: the _Extent of this thread's outermost running eager call
_OPERANDS = (float, int, complex, np.ndarray, np.generic, list, tuple)
_MISSING = object()


def _current():
    return session.current_recorder()


def _user_tb(fn):
    """Errors from user code or NumPy inside a Tracer operation keep a user traceback."""

    @functools.wraps(fn)
    def op(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except BaseException as e:
            e.__traceback__ = strip_framead_frames(e.__traceback__)
            raise

    return op


# ---------------------------------------------------------------------- wrapping


class _Extent:
    """Bookkeeping of one outermost eager call (nested eager calls share it)."""

    __slots__ = ("rec", "created", "restores", "frame", "qualname")

    def __init__(self, rec, frame, qualname: str):
        self.rec = rec
        self.created: list[Tracer] = []
        self.restores: list[tuple] = []
        self.frame = frame
        self.qualname = qualname


def _new(obj: Any, ext: _Extent) -> Tracer:
    t = object.__new__(Tracer)
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
    if type(obj) is np.ndarray:
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
    if t is np.ndarray:
        return x.dtype.kind in "fc"
    return isinstance(x, np.inexact)


def _wrap_in(x: Any, ext: _Extent) -> Any:
    """A result of a Tracer operation: Tracers for float leaves (inside tuples/lists too)."""
    t = type(x)
    if t is Tracer:
        return x
    if _is_leaf(x):
        return _new(x, ext)
    if t is tuple or t is list:
        return t(_wrap_in(i, ext) for i in x)
    if isinstance(x, tuple) and hasattr(x, "_make"):
        return x._make(_wrap_in(i, ext) for i in x)
    return x


def _wrap(x: Any, rec) -> Any:
    ext = getattr(_tls, "extent", None)
    if ext is None or ext.rec is not rec or not C.is_enabled():
        # outside an eager call, or inside a rule-covered call the recorder is recording
        # (Recorder.apply runs it with capture disabled): plain results
        return x
    return _wrap_in(x, ext)


def _same(t: Tracer, res: Any) -> Any:
    """The result of an operation that returned the Tracer's own object (in place, out=)."""
    return t if C.is_enabled() else res


def _wrap_arg(x: Any, ext: _Extent, depth: int = 0, consts: bool = True) -> Any:
    """An argument (or cell/global value) entering the eager frame; ``consts``: also wrap
    untraced float arrays (arguments only: a caller's buffer may receive traced values)."""
    t = type(x)
    if t is Tracer:
        return x
    if t is np.ndarray:
        if x.dtype.kind not in "fc":
            return x
        return _new(x, ext) if consts or ext.rec.value_of(x) is not None else x
    if t is float or t is complex or isinstance(x, np.inexact):
        return _new(x, ext) if ext.rec.value_of(x) is not None else x
    if depth >= MAX_DEPTH:
        return x
    if t is list:
        changed = False
        for i, item in enumerate(x):
            w = _wrap_arg(item, ext, depth + 1, consts)
            if w is not item:
                x[i] = w
                changed = True
        if changed:
            ext.restores.append(("container", x))
        return x
    if t is dict:
        changed = False
        for k, item in x.items():
            w = _wrap_arg(item, ext, depth + 1, consts)
            if w is not item:
                x[k] = w
                changed = True
        if changed:
            ext.restores.append(("container", x))
        return x
    if isinstance(x, tuple) and (t is tuple or hasattr(x, "_make")):
        items = [_wrap_arg(i, ext, depth + 1, consts) for i in x]
        if any(a is not b for a, b in zip(items, x, strict=True)):
            return tuple(items) if t is tuple else x._make(items)
    return x


def _wrap_env(fn: types.FunctionType, ext: _Extent) -> None:
    """Wrap traced values in the function's closure cells and in the globals it names."""
    for cell in fn.__closure__ or ():
        try:
            v = cell.cell_contents
        except ValueError:
            continue
        w = _wrap_arg(v, ext, consts=False)
        if w is not v:
            cell.cell_contents = w
            ext.restores.append(("cell", cell, v, w))
    g = fn.__globals__
    for name in fn.__code__.co_names:
        v = g.get(name, _MISSING)
        if v is _MISSING or isinstance(v, types.ModuleType | types.FunctionType | type):
            continue
        w = _wrap_arg(v, ext, consts=False)
        if w is not v:
            g[name] = w
            ext.restores.append(("global", g, name, v, w))


def _raw(x: Any) -> Any:
    """``x`` with Tracers replaced by their objects (new lists/tuples/dicts; for calls)."""
    t = type(x)
    if t is Tracer:
        return x._fa_obj
    if t is list or t is tuple:
        items = [_raw(i) for i in x]
        if any(a is not b for a, b in zip(items, x, strict=True)):
            return t(items)
        return x
    if t is dict:
        return {k: _raw(v) for k, v in x.items()}
    return x


def unwrap(x: Any, _seen: set | None = None, _depth: int = 0) -> Any:
    """``x`` with every Tracer replaced by its object: lists, dicts, sets and object arrays are
    changed in place, tuples (and namedtuples) rebuilt when something changed."""
    t = type(x)
    if t is Tracer:
        return x._fa_obj
    if _depth > 64 or not (t is list or t is dict or t is set or isinstance(x, tuple)
                           or (t is np.ndarray and x.dtype == object)):
        return x
    seen = set() if _seen is None else _seen
    if id(x) in seen:
        return x
    seen.add(id(x))
    d = _depth + 1
    if t is list:
        for i, item in enumerate(x):
            u = unwrap(item, seen, d)
            if u is not item:
                x[i] = u
    elif t is dict:
        for k in [k for k in x if type(k) is Tracer]:
            x[k._fa_obj] = x.pop(k)
        for k, item in x.items():
            u = unwrap(item, seen, d)
            if u is not item:
                x[k] = u
    elif t is set:
        for item in [i for i in x if type(i) is Tracer]:
            x.discard(item)
            x.add(item._fa_obj)
    elif t is np.ndarray:
        for idx in np.ndindex(x.shape):
            item = x[idx]
            u = unwrap(item, seen, d)
            if u is not item:
                x[idx] = u
    else:
        items = [unwrap(i, seen, d) for i in x]
        if any(a is not b for a, b in zip(items, x, strict=True)):
            return tuple(items) if t is tuple else (
                x._make(items) if hasattr(x, "_make") else t(items))
    return x


# ---------------------------------------------------------------------- the Tracer


def _binop(self: Tracer, other: Any, fop, reflected: bool) -> Any:
    if type(other) is not Tracer and not isinstance(other, _OPERANDS):
        return NotImplemented
    a, b = self._fa_obj, _raw(other)
    if reflected:
        a, b = b, a
    rec = self._fa_rec
    if rec is not _current():
        return fop(a, b)
    frame = sys._getframe(1)
    rule = calls.operator_rule(fop)
    if rule is None:
        return _wrap(calls.unknown_call(rec, fop, (a, b), {}, frame), rec)
    return _wrap(rec.apply(rule, fop, (a, b), {}, (a, b), frame), rec)


def _ibinop(self: Tracer, other: Any, fop, iop) -> Any:
    a = self._fa_obj
    if type(a) is not np.ndarray:
        return _binop(self, other, fop, False)  # immutable: ``x += y`` rebinds
    if type(other) is not Tracer and not isinstance(other, _OPERANDS):
        return NotImplemented
    b = _raw(other)
    rec = self._fa_rec
    if rec is not _current():
        res = iop(a, b)
        return self if res is a else res
    res = rec._inplace(fop, iop, a, b, sys._getframe(1))
    if not self._fa_reg:
        _register(self, rec)  # a constant buffer that now holds traced values
    return _same(self, res) if res is a else _wrap(res, rec)


def _unary(self: Tracer, op) -> Any:
    a = self._fa_obj
    rec = self._fa_rec
    if rec is not _current():
        return op(a)
    frame = sys._getframe(1)
    rule = calls.operator_rule(op)
    if rule is None:
        return _wrap(calls.unknown_call(rec, op, (a,), {}, frame), rec)
    return _wrap(rec.apply(rule, op, (a,), {}, (a,), frame), rec)


def _dispatch(self: Tracer, fn, args: tuple, kwargs: dict | None = None,
              conversion: bool = False) -> Any:
    """``fn(*args)`` recorded as instrumented code would record it (``calls.dispatch``)."""
    rec = self._fa_rec
    rargs = tuple(_raw(a) for a in args)
    rkw = {k: _raw(v) for k, v in kwargs.items()} if kwargs else {}
    if rec is not _current() or (conversion and not C.is_enabled()):
        # not live, or a conversion inside a rule-covered call (which records it): native
        return fn(*rargs, **rkw)
    return _wrap(calls.dispatch(rec, fn, rargs, rkw, sys._getframe(1)), rec)


def _cut(self: Tracer, what: str) -> bool:
    """Whether converting this Tracer to a plain value loses a gradient (reports FA102)."""
    rec = self._fa_rec
    if rec is not _current() or not C.is_enabled() or rec.tree_value(self._fa_obj) is None:
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
        return Tracer if type(obj) is np.ndarray else type(obj)

    def __repr__(self) -> str:
        return repr(self._fa_obj)

    def __str__(self) -> str:
        return str(self._fa_obj)

    def __format__(self, spec: str) -> str:
        return format(self._fa_obj, spec)

    def __bool__(self) -> bool:
        return bool(self._fa_obj)

    def __hash__(self) -> int:
        return hash(self._fa_obj)

    def __len__(self) -> int:
        return len(self._fa_obj)

    def __contains__(self, item: Any) -> bool:
        return _raw(item) in self._fa_obj

    def __dir__(self):
        return sorted(set(dir(self._fa_obj)))

    # comparisons: native, nothing recorded (as the instrumented compare handler)
    def __lt__(self, other):
        return self._fa_obj < _raw(other)

    def __le__(self, other):
        return self._fa_obj <= _raw(other)

    def __gt__(self, other):
        return self._fa_obj > _raw(other)

    def __ge__(self, other):
        return self._fa_obj >= _raw(other)

    def __eq__(self, other):
        return self._fa_obj == _raw(other)

    def __ne__(self, other):
        return self._fa_obj != _raw(other)

    # unary
    @_user_tb
    def __neg__(self):
        return _unary(self, operator.neg)

    @_user_tb
    def __pos__(self):
        return _unary(self, operator.pos)

    @_user_tb
    def __invert__(self):
        return _unary(self, operator.invert)

    @_user_tb
    def __abs__(self):
        return _dispatch(self, abs, (self,))

    # builtins that convert or round
    @_user_tb
    def __float__(self) -> float:
        obj = self._fa_obj
        if _cut(self, "float()"):
            return float(obj) * 1.0  # a new object, never the traced one
        return float(obj)

    @_user_tb
    def __complex__(self) -> complex:
        obj = self._fa_obj
        if _cut(self, "complex()"):
            c = complex(obj)
            return complex(c.real, c.imag)
        return complex(obj)

    @_user_tb
    def __int__(self) -> int:
        return _dispatch(self, int, (self,), conversion=True)

    @_user_tb
    def __round__(self, ndigits=None):
        args = (self,) if ndigits is None else (self, ndigits)
        return _dispatch(self, round, args, conversion=True)

    @_user_tb
    def __trunc__(self):
        return _dispatch(self, math.trunc, (self,), conversion=True)

    @_user_tb
    def __floor__(self):
        return _dispatch(self, math.floor, (self,), conversion=True)

    @_user_tb
    def __ceil__(self):
        return _dispatch(self, math.ceil, (self,), conversion=True)

    @_user_tb
    def __divmod__(self, other):
        return _dispatch(self, divmod, (self, other))

    @_user_tb
    def __rdivmod__(self, other):
        return _dispatch(self, divmod, (other, self))

    @_user_tb
    def __pow__(self, other, mod=None):
        if mod is not None:
            return _dispatch(self, pow, (self, other, mod))
        return _binop(self, other, operator.pow, False)

    @_user_tb
    def __rpow__(self, other, mod=None):
        if mod is not None:
            return _dispatch(self, pow, (other, self, mod))
        return _binop(self, other, operator.pow, True)

    @_user_tb
    def __array__(self, dtype=None, copy=None):
        obj = self._fa_obj
        if _cut(self, "np.asarray()") or copy:
            return np.array(obj, dtype=dtype, copy=True)
        return np.asarray(obj, dtype=dtype)

    # NumPy protocols
    @_user_tb
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        rec = self._fa_rec
        rin = tuple(_raw(x) for x in inputs)
        rkw = {k: _raw(v) for k, v in kwargs.items()}
        fn = ufunc if method == "__call__" else getattr(ufunc, method)
        if rec is not _current():
            return fn(*rin, **rkw)
        res = calls.dispatch(rec, fn, rin, rkw, sys._getframe(1))
        out = kwargs.get("out")
        if out is not None:
            for o in out if isinstance(out, tuple) else (out,):
                if type(o) is Tracer and res is o._fa_obj:
                    return _same(o, res)
        return _wrap(res, rec)

    @_user_tb
    def __array_function__(self, func, types, args, kwargs):
        rec = self._fa_rec
        rargs = _raw(tuple(args))
        rkw = {k: _raw(v) for k, v in kwargs.items()}
        if rec is not _current():
            return func(*rargs, **rkw)
        res = calls.dispatch(rec, func, rargs, rkw, sys._getframe(1))
        out = kwargs.get("out")
        if type(out) is Tracer and res is out._fa_obj:
            return _same(out, res)
        return _wrap(res, rec)

    # indexing and iteration
    @_user_tb
    def __getitem__(self, key):
        a = self._fa_obj
        k = _raw(key)
        rec = self._fa_rec
        if rec is not _current():
            return a[k]
        return _wrap(rec._getitem(a, k, sys._getframe(1)), rec)

    @_user_tb
    def __setitem__(self, key, value) -> None:
        a = self._fa_obj
        k, v = _raw(key), _raw(value)
        rec = self._fa_rec
        if rec is not _current():
            a[k] = v
            return
        rec._setitem(a, k, v, sys._getframe(1))
        if not self._fa_reg:
            _register(self, rec)  # a constant buffer that now holds traced values

    def __iter__(self):
        a = self._fa_obj
        rec = self._fa_rec
        if type(a) is not np.ndarray or a.ndim == 0 or rec is not _current():
            return iter(a)
        return self._rows(a, rec)

    @staticmethod
    def _rows(a, rec):
        for i in range(len(a)):
            yield _wrap(rec._getitem(a, i, sys._getframe(1)), rec)

    def __copy__(self):
        if type(self._fa_obj) is np.ndarray:
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
        rule = calls.attr_rule(obj, name)
        if rule is None or rec is not _current():
            return getattr(obj, name)
        return _wrap(rec.apply(rule, _AttrGetter(name), (obj,), {}, (obj,), sys._getframe(1),
                               recipe_parent=obj, recipe=("attr", name)), rec)

    T = property(_user_tb(lambda self: self._attr("T")))
    mT = property(_user_tb(lambda self: self._attr("mT")))
    real = property(_user_tb(lambda self: self._attr("real")))
    imag = property(_user_tb(lambda self: self._attr("imag")))

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
                    _user_tb(lambda self, other, _f=fop: _binop(self, other, _f, False)))
            setattr(Tracer, f"__r{name}__",
                    _user_tb(lambda self, other, _f=fop: _binop(self, other, _f, True)))
        setattr(Tracer, f"__i{name}__",
                _user_tb(lambda self, other, _f=fop, _i=iop: _ibinop(self, other, _f, _i)))


_define_operators()


overrides.TRACER_TYPES.add(Tracer)


class _Method:
    """A bound method of a Tracer's object (``t.sum``): called through ``calls.dispatch``,
    which finds its rule with ``rules.lookup_method`` (and handles in-place methods)."""

    __slots__ = ("_t", "_fn")

    def __init__(self, t: Tracer, fn: Any):
        self._t = t
        self._fn = fn

    @_user_tb
    def __call__(self, *args, **kwargs):
        t, fn = self._t, self._fn
        rec = t._fa_rec
        rargs = tuple(_raw(a) for a in args)
        rkw = {k: _raw(v) for k, v in kwargs.items()}
        if rec is not _current():
            return fn(*rargs, **rkw)
        res = calls.dispatch(rec, fn, rargs, rkw, sys._getframe(1))
        if res is t._fa_obj:
            return _same(t, res)
        return _wrap(res, rec)

    def __repr__(self) -> str:
        return repr(self._fn)


# ---------------------------------------------------------------------- running eager frames


def mark_eager(code: types.CodeType) -> None:
    """Make the hook leave ``code`` uninstrumented from now on."""
    if id(code) not in session.EAGER_CODES:
        session.EAGER_CODES[id(code)] = code
        C.bump_generation()  # a decision cached before the mark is void


def run_eager(fn: types.FunctionType, qualname: str, args: tuple, kwargs: dict,
              frame: types.FrameType) -> Any:
    """Call ``fn`` (an @eager function) with traced values wrapped in Tracers (see doc)."""
    rec = _current()
    if rec is None or not C.is_enabled():
        return fn(*args, **kwargs)
    rec.hazard("FA201", qualname, frame,
               f"{qualname} (marked @framead.eager) ran uninstrumented with its traced "
               "arguments wrapped in Tracers; values it reaches other ways (attributes, deep "
               "containers) are not followed there")
    prev = getattr(_tls, "extent", None)
    outer = prev is None or prev.rec is not rec
    ext = _Extent(rec, frame, qualname) if outer else prev
    _tls.extent = ext
    try:
        wargs = tuple(_wrap_arg(a, ext) for a in args)
        wkw = {k: _wrap_arg(v, ext) for k, v in kwargs.items()}
        _wrap_env(fn, ext)
        result = fn(*wargs, **wkw)
        del wargs, wkw
    except BaseException as e:
        if outer:
            _tls.extent = prev
            _close(ext, failed=True)
        e.__traceback__ = strip_framead_frames(e.__traceback__)
        raise
    if not outer:
        return result  # Tracers stay Tracers until the outermost eager call returns
    _tls.extent = prev
    try:
        result = unwrap(result)
    finally:
        _close(ext, failed=False)
    return result


def _close(ext: _Extent, failed: bool) -> None:
    """Restore what was wrapped in place; find and replace Tracers that escaped."""
    for r in reversed(ext.restores):
        kind = r[0]
        if kind == "container":
            unwrap(r[1])
        elif kind == "cell":
            _, cell, orig, wrapped = r
            try:
                cur = cell.cell_contents
            except ValueError:
                continue
            cell.cell_contents = orig if cur is wrapped else unwrap(cur)
        else:
            _, g, name, orig, wrapped = r
            cur = g.get(name, _MISSING)
            if cur is not _MISSING:
                g[name] = orig if cur is wrapped else unwrap(cur)
    ext.restores.clear()
    created, ext.created = ext.created, []
    release_frames()  # the location cache holds frames, whose locals may be Tracers
    escaped = _escaped(created)
    created.clear()
    del created
    if not escaped:
        return
    left = _purge(escaped)
    if left and not failed:
        ext.rec.hazard(
            "FA105", ext.qualname, ext.frame,
            f"a Tracer made while {ext.qualname} ran eagerly is still referenced by "
            f"{', '.join(sorted(left))}, which framead cannot rewrite; it records while the "
            "capture runs and behaves like its value afterwards")


def _escaped(items: list) -> list:
    return [t for t in items if sys.getrefcount(t) > _BASE + t._fa_reg]


def _purge(escaped: list) -> set[str]:
    """Replace the escaped Tracers by their objects wherever they are held; the kinds of
    holders that could not be rewritten."""
    left: set[str] = set()
    ids = {id(t) for t in escaped}

    def fix(x):
        return x._fa_obj if id(x) in ids else x

    patched_dict = False
    refs = gc.get_referrers(*escaped)
    for r in refs:
        if r is escaped or r is refs:
            continue
        tr = type(r)
        if tr is Tracer or (tr.__module__ or "").startswith("framead"):
            continue  # recorder entries, IR nodes: framead's own bookkeeping
        if tr is list or tr is dict or tr is set:
            unwrap(r)
            patched_dict = patched_dict or tr is dict
        elif tr is types.CellType:
            try:
                r.cell_contents = fix(r.cell_contents)
            except ValueError:
                pass
        elif tr is tuple:
            if not _rebind_tuple(r, fix):
                left.add("a tuple")
        elif tr is types.FrameType:
            left.add(f"the frame of {r.f_code.co_qualname}")
        elif isinstance(r, types.GeneratorType | types.CoroutineType | types.AsyncGeneratorType):
            left.add(f"the suspended {tr.__name__} {r.__qualname__}")
        elif not _fix_attributes(r, fix):
            left.add(f"a {tr.__name__}")
    del refs
    if patched_dict:
        sys._clear_type_cache()  # the dict may have been a class's namespace
    return left


def _fix_attributes(obj: Any, fix) -> bool:
    """Instance attributes (``__dict__`` entries and slots) holding Tracers, rewritten in place
    without running the class's ``__setattr__`` or property setters."""
    done = False
    try:
        d = object.__getattribute__(obj, "__dict__")
    except (AttributeError, TypeError):
        d = None
    if type(d) is dict:
        for k, v in list(d.items()):
            if type(v) is Tracer:
                d[k] = fix(v)
                done = True
    for klass in type(obj).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            desc = klass.__dict__.get(name)
            if not isinstance(desc, types.MemberDescriptorType):
                continue
            try:
                v = desc.__get__(obj, klass)
            except AttributeError:
                continue
            if type(v) is Tracer:
                desc.__set__(obj, fix(v))
                done = True
    return done


def _rebind_tuple(tup: tuple, fix) -> bool:
    """A tuple holding a Tracer: put an unwrapped copy where the tuple itself is held."""
    new = tuple(fix(x) for x in tup)
    ok = False
    for holder in gc.get_referrers(tup):
        th = type(holder)
        if th is list:
            for i, item in enumerate(holder):
                if item is tup:
                    holder[i] = new
                    ok = True
        elif th is dict:
            for k, item in list(holder.items()):
                if item is tup:
                    holder[k] = new
                    ok = True
        elif th is types.CellType:
            if holder.cell_contents is tup:
                holder.cell_contents = new
                ok = True
        elif (th.__module__ or "").startswith("framead"):
            ok = True  # framead's own bookkeeping (a node's constant arguments)
    return ok


def _calibrate() -> int:
    """References to an otherwise unreferenced Tracer seen by ``_escaped``'s comprehension."""
    return [sys.getrefcount(x) for x in [object.__new__(Tracer)]][0]


_BASE = _calibrate()
