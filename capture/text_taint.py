"""Text of traced values read back as numbers (FA111 text-roundtrip).

``'%.17g' % x``, ``str(x)``, an f-string or ``np.savetxt`` make text of a traced value; the
text carries no gradient, so ``float(text)``, ``np.loadtxt`` and the like give back a constant
while other terms of the result may still be traced (the whole-result check, FA108, does not
fire then). The recorder notes each text of traced values made during the capture
(``TextTaint.made``); from the first one on, the number parsers in ``READERS`` are routed to
the recorder (the C call flag ALWAYS, the previous flags restored when the capture closes) and
a parser given text that overlaps a noted text (or a stream holding it, or a file: unknown
content) reports FA111 at the user's line. Readers include ``json.loads``, ``ast.literal_eval``,
``eval``, a str array's ``astype`` to a number dtype and NumPy's array ``BUILDERS``
(``np.array``, ``np.asarray``, ``np.fromiter``, ``np.copyto`` under ``np.full``: judged on
their result, a number array made from noted text; ``np.array([s])`` is a str array, no
parse; ``np.fromiter``'s iterator: the text items it yields); text stored into a number array
(``a[k] = s``, ``a[:] = [s]``, a str array; ``a.__setitem__``, ``operator.setitem``) is parsed
too: the C STORE_SUBSCR probes call ``stored_text`` while armed, only for a str/bytes value (or
a list, tuple or array holding one) into a number array or its flatiter; an eager frame's
Tracer's ``__setitem__`` calls ``check_store``. ``CALLERS`` (``map``, ``partial``,
``operator.call``, ``starmap``) are routed too, a reader they are given replaced by its
``Parse`` stand-in, which checks when C calls it. A parse
inside a reader's own run (``Fraction``'s ``int()``) is not checked again. Programs that make
no text of traced values pay nothing; no user object is changed and the noted texts are
dropped when the capture closes.
"""

from __future__ import annotations

import ast
import builtins
import decimal
import fractions
import functools
import io
import json
import operator
import re
import sys
import threading
import types
from typing import Any

import numpy as np

from framead.ir import SourceLoc

from . import _evalframe as C
from .callables import callable_name, holds_traced
from .hazards import split_user
from .overrides import TRACER_TYPES
from .sourceloc import is_framead_file, loc_of, strip_framead_frames

__all__ = ["BUILDERS", "CALLERS", "READERS", "READER_NAMES", "TOKEN", "Parse", "TextTaint",
           "check_parse", "check_store", "parse_call", "reader_partial", "stand_in",
           "stored_text", "user_loc"]


def user_loc(loc: SourceLoc) -> SourceLoc:
    """``loc``, or its nearest caller outside the standard library and installed packages
    (np.loadtxt's reader runs in NumPy's code; the user's line is its caller's):
    ``hazards.split_user``'s rule."""
    return split_user(loc)[0]


def _readers() -> tuple:
    out: list[Any] = [float, int, complex, decimal.Decimal, fractions.Fraction, np.float64,
                      np.float32, np.float16, np.longdouble, np.int64, np.int32,
                      np.complex128, np.fromstring, json.loads, ast.literal_eval,
                      builtins.eval, np.ndarray.astype, np.ndarray.fill,
                      np.ndarray.put, np.ndarray.__setitem__, operator.setitem]
    # NumPy's text reader (np.loadtxt; np.genfromtxt's converters call float())
    load = getattr(getattr(np, "_core", None), "_multiarray_umath", None)
    load = getattr(load, "_load_from_filelike", None)
    return tuple(out) + ((load,) if load is not None else ())


# array builders that parse text into a number dtype (np.array([s], dtype=float)): judged on
# what they made (np.copyto: its destination), their first argument the data
BUILDERS = (np.array, np.asarray, np.asanyarray, np.ascontiguousarray, np.asfortranarray,
            np.fromiter, np.copyto)
_BUILDER_IDS = frozenset(map(id, BUILDERS))
_DATA = ("object", "a", "iter", "src")  # (the data's keyword, per builder)
READERS = _readers() + BUILDERS
_READER_IDS = frozenset(map(id, READERS))
# how an eager frame's code calls them: their names and NumPy's aliases (np.double, np.single)
READER_NAMES = frozenset({r.__name__ for r in READERS} | {
    k for k, v in vars(np).items() if id(v) in _READER_IDS and k.isidentifier()})
_UNSET = object()  # (a builder's result before its call)
# C callables that call a callable they are given (``map(float, texts)``, ``partial(float)``):
# routed too while armed, a reader among their arguments given as its ``Parse`` stand-in
CALLERS = (map, functools.partial, operator.call, __import__("itertools").starmap)
_CALLER_IDS = frozenset(map(id, CALLERS))
_PLAIN = frozenset({str, bytes, bytearray, int, bool, type(None), io.StringIO, io.BytesIO})
# readers whose own code runs other readers (Fraction's int(), json's float()): not plain calls
_NOT_PLAIN = frozenset(map(id, (fractions.Fraction, json.loads, ast.literal_eval, builtins.eval,
                                np.ndarray.astype)))
_NUMERIC = frozenset("biufc")
_inside = threading.local()  # .depth: readers running (a parse inside a parse is not checked)
_MAX_TEXTS = 4096  # (then any text read back matches: a loop of prints stays cheap)


# a number as text makes it ("%.17g", repr, savetxt's columns): what a parse of many lines holds
TOKEN = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|"
                    r"(?<![\w.])[-+]?(?:inf|nan)\b", re.I)


class TextTaint:
    """The texts of traced values one capture made; whether it armed the readers."""

    __slots__ = ("texts", "tokens", "loc", "armed", "overflow")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.tokens: set[str] = set()  # the noted texts' numbers (a stream or file of lines)
        self.loc: Any = None  # where the first text of traced values was made
        self.armed = False
        self.overflow = False

    def made(self, text: Any, frame: Any) -> None:
        """``text`` (None: not known) was made from traced values in ``frame``."""
        if self.loc is None:
            self.loc = user_loc(frame if isinstance(frame, SourceLoc) else loc_of(frame))
            _arm(+1)
            self.armed = True
        if isinstance(text, bytes):
            text = text.decode("latin-1")
        if isinstance(text, str) and not self.overflow:
            if len(self.texts) < _MAX_TEXTS:
                self.texts.append(text)
                self.tokens.update(TOKEN.findall(text))
                return
        self.overflow = True

    @staticmethod
    def routed(fn: Any) -> bool:
        """Whether a call of ``fn`` the recorder is given goes to ``parse_call``."""
        return id(fn) in _READER_IDS or id(fn) in _CALLER_IDS or _bound_astype(fn)

    @staticmethod
    def reader(fn: Any) -> bool:
        """Whether ``fn`` is one of ``READERS`` (routed to the recorder while armed), or a
        str array's bound ``astype``."""
        return id(fn) in _READER_IDS or _bound_astype(fn)

    def read(self, args: tuple, kwargs: dict, fn: Any = None, out: Any = _UNSET) -> bool:
        """Whether a reader given these arguments parses a noted text (``astype``: its str
        array, to a number dtype; a builder: its result ``out`` is a number array)."""
        if id(fn) in _BUILDER_IDS:
            if fn is np.copyto:
                out, args = (args[0] if args else kwargs.get("dst")), args[1:]
            data = args[0] if args else next((kwargs[k] for k in _DATA if k in kwargs), None)
            if type(data) is _Items:
                data = data.text  # (the text items np.fromiter was given)
            return isinstance(out, np.ndarray) and out.dtype.kind in _NUMERIC and \
                not hasattr(data, "read") and not hasattr(data, "__next__") and \
                self._holds(data)  # (another iterator's items are not known: not judged)
        unbound = id(fn) in _METHOD_IDS
        if unbound or _bound_astype(fn):
            arr, rest = (args[0] if args else kwargs.get("self"), args[1:]) \
                if unbound else (fn.__self__, args)
            arr, (at, key) = _target(arr), _METHODS[fn.__name__]
            if at < 0:  # (astype: its dtype)
                try:
                    kind = np.dtype(rest[0] if rest else kwargs.get("dtype")).kind
                except TypeError:
                    return False
                return kind in _NUMERIC and self._holds(arr)
            value = rest[at] if len(rest) > at else kwargs.get(key)  # (fill, put, a[k] = v:
            return isinstance(arr, np.ndarray) and arr.dtype.kind in _NUMERIC and \
                self._holds(value)  # a value written into a number array)
        return any(self._holds(a) for a in (*args, *kwargs.values()))

    @staticmethod
    def plain(rec: Any, fn: Any, args: tuple, kwargs: dict | None) -> bool:
        """Whether a C reader's arguments are all text, streams or untraced ints: a call with
        nothing to record, made natively (what arming the readers costs such calls; Fraction's
        Python code runs instrumented, as before)."""
        if id(fn) in _NOT_PLAIN or type(fn) is not type and not isinstance(
                fn, types.BuiltinFunctionType):
            return False
        for a in (*args, *kwargs.values()) if kwargs else args:
            t = type(a)
            if t not in _PLAIN or (t is int and rec.value_of(a) is not None):
                return False
        return True

    def _holds(self, a: Any) -> bool:
        if isinstance(a, bytes | bytearray):
            a = bytes(a).decode("latin-1")
        if isinstance(a, io.StringIO | io.BytesIO):
            return self._holds(a.getvalue())  # (the position is left as it is)
        if isinstance(a, str):
            s = a.strip()
            if not s or self.overflow:
                return bool(s)
            if TOKEN.fullmatch(s):  # one number: a noted one or its start ('0.25'[:3]), not
                n = s.lstrip("+-")  # any substring of a text ('2')
                return any(t.lstrip("+-").startswith(n) for t in self.tokens)
            return any(s in t for t in self.texts) or \
                any(n in self.tokens for n in TOKEN.findall(s))
        if isinstance(a, list | tuple):
            return any(self._holds(x) for x in a)
        if isinstance(a, np.ndarray):  # (a str array: astype parses each item; an object
            return a.dtype.kind in "US" and any(self._holds(str(x)) for x in a.flat) or \
                a.dtype.kind == "O" and any(isinstance(x, str | bytes) and self._holds(x)
                                            for x in a.flat)  # array's text items too)
        # a file or an iterator of lines: what it holds is not known without reading it
        return hasattr(a, "read") or hasattr(a, "__next__")

    def close(self) -> None:
        if self.armed:
            self.armed = False
            _arm(-1)
        self.texts.clear()


def check_parse(rec: Any, fn: Any, args: tuple, kwargs: dict | None, frame: Any,
                out: Any = _UNSET) -> None:
    """FA111 at the user's line when the number parser ``fn`` is given text made from traced
    values in this capture (one home: instrumented calls, Recorder.call, and an eager frame's
    calls, capture/eager_probes.py); not again inside another reader's run (Fraction's int()).
    A builder is checked after its call, on what it made (``out``)."""
    taint = rec.text_taint
    if taint is None or _depth() or not taint.reader(fn) or \
            (out is _UNSET) is (id(fn) in _BUILDER_IDS) or \
            not taint.read(args, kwargs or {}, fn, out):
        return
    name = callable_name(fn)
    rec.hazard("FA111", name, frame, f"{name} parses text made from traced "
               f"values (first at {taint.loc.short()}): the number it gives back is a "
               "constant, its gradient is lost")


def _user_frame(frame: Any) -> Any:
    """``frame`` or its nearest caller outside framead's own files."""
    while frame is not None and is_framead_file(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def _depth() -> int:
    return getattr(_inside, "depth", 0)


# ndarray methods that parse text (and operator.setitem): where the text is (astype: the
# array itself)
_METHODS = {"astype": (-1, ""), "fill": (0, "value"), "put": (1, "values"),
            "__setitem__": (1, "value"), "setitem": (1, "c")}
_METHOD_IDS = frozenset(id(getattr(np.ndarray, k)) for k in _METHODS if k != "setitem") | \
    {id(operator.setitem)}
_BOUND = (types.BuiltinMethodType, types.MethodWrapperType)  # (a.fill, a.__setitem__)


def _bound_astype(fn: Any) -> bool:
    """Whether ``fn`` is an array's bound ``astype`` (``fill``, ``put``, ``__setitem__``)."""
    return type(fn) in _BOUND and fn.__name__ in _METHODS and \
        isinstance(fn.__self__, np.ndarray)


def _target(a: Any) -> Any:
    """The array a write into ``a`` changes: an eager frame's Tracer's object, a flatiter's
    base."""
    if type(a) in TRACER_TYPES:
        a = getattr(a, "_fa_obj", a)
    return a.base if type(a) is np.flatiter else a


def stored_text(a: Any, k: Any, v: Any) -> None:
    """``a[k] = v`` with text in ``v`` and a number array (or a flatiter) ``a``,
    while armed: the C STORE_SUBSCR probes' hook (instrumented code's, an eager frame's
    ``text_setitem``), FA111 at the store's line where the text was made from traced values
    (NumPy parses it), before the store."""
    from . import session  # noqa: PLC0415 (session imports this module)

    rec = session.current_recorder()
    if rec is not None:
        try:
            check_store(rec, a, k, v, sys._getframe(1))
        except BaseException as e:
            e.__traceback__ = strip_framead_frames(e.__traceback__)
            raise


def check_store(rec: Any, a: Any, k: Any, v: Any, frame: Any) -> None:
    """FA111 at ``frame``'s line when ``a[k] = v`` makes numbers of noted text (an eager
    frame's Tracer's ``__setitem__`` too)."""
    if rec.text_taint is not None:
        hz = rec.hazards
        last = hz[-1] if hz else None
        check_parse(rec, np.ndarray.__setitem__, (a, k, v), None, frame)
        new = hz[-1] if hz else last
        if last is not None and new is not None and new is not last and \
                last.code == "FA111" and last.op == new.op and \
                (new.inside is not None or last.loc.short() == new.loc.short()):
            hz.pop()  # (np.ma's own store of the text the user's line stored: one report)


class _Items:
    """The iterator ``np.fromiter`` is given, while armed: its items as they come, the text
    among them kept (judged on the result, as the builders are)."""

    __slots__ = ("it", "text")

    def __init__(self, it: Any):
        self.it = it
        self.text: list[str | bytes] = []

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        try:
            x = next(self.it)
        except BaseException as e:
            e.__traceback__ = strip_framead_frames(e.__traceback__)
            raise
        if isinstance(x, str | bytes) and len(self.text) < 64:
            self.text.append(x)
        return x

    def __length_hint__(self) -> int:
        return operator.length_hint(self.it)


def _items(fn: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """``np.fromiter``'s arguments with an iterator it is given as ``_Items`` (its text
    seen); other calls' as they are."""
    if fn is not np.fromiter:
        return args, kwargs
    if args and hasattr(args[0], "__next__"):
        return (_Items(args[0]), *args[1:]), kwargs
    if hasattr(kwargs.get("iter"), "__next__"):
        return args, {**kwargs, "iter": _Items(kwargs["iter"])}
    return args, kwargs


def reading(fn: Any, args: tuple, kwargs: dict | None, frame: Any) -> tuple[Any, tuple, dict]:
    """``(fn, args, kwargs)`` to call for the reader ``fn``: ``eval`` given its caller's
    globals and locals explicitly (called from framead's frame, it would take framead's)."""
    kw = kwargs or {}
    if fn is builtins.eval and len(args) < 2 and "globals" not in kw:
        frame = _user_frame(frame)  # (past Recorder.call's own wrapper)
        if args and frame is not None:
            args = (*args, frame.f_globals, frame.f_locals)
    return fn, args, kw


def parse_call(rec: Any, fn: Any, args: tuple, kwargs: dict | None, frame: Any,
               call: Any) -> Any:
    """A reader (or a ``CALLERS`` callable) routed to ``Recorder.call`` while armed: FA111 when
    it parses noted text, then ``call(fn, args, kwargs)`` (the dispatch) with a reader among a
    caller's arguments given as its ``Parse`` stand-in, and nested readers not checked again."""
    if fn is functools.partial and args and stand_in(args[0]) is not args[0]:
        return reader_partial(args, kwargs)  # (its .func the reader itself)
    if id(fn) in _CALLER_IDS:
        return call(fn, swap_readers(args), kwargs or {})
    check_parse(rec, fn, args, kwargs, frame)
    taint = rec.text_taint
    if taint is not None and taint.plain(rec, fn, args, kwargs) or _untraced(fn, args, kwargs):
        args, kwargs = _items(fn, args, kwargs or {})  # float("2.5"), np.array of text or
        out = fn(*args, **kwargs)  # constants: nothing to record (np.fromiter's iterator:
    elif fn is builtins.eval:  # its text seen)
        return call(*reading(fn, args, kwargs, frame))
    else:
        _inside.depth = _depth() + 1
        try:
            out = call(fn, args, kwargs or {})
        finally:
            _inside.depth -= 1
    if id(fn) in _BUILDER_IDS:
        check_parse(rec, fn, args, kwargs, frame, out)
    return out


_QUIET = _BUILDER_IDS | {id(operator.setitem), id(np.ndarray.__setitem__)}


def _untraced(fn: Any, args: tuple, kwargs: dict | None) -> bool:
    """Whether ``fn`` is a builder or a setitem (``a.__setitem__`` too) given no traced value:
    a native call, nothing to record."""
    if type(fn) is types.MethodWrapperType:  # (a.__setitem__: routed by its slot's flags)
        return not holds_traced((fn.__self__, args, kwargs), deep=True)
    return id(fn) in _QUIET and not holds_traced((args, kwargs), deep=True)


class Parse:
    """A reader as a ``CALLERS`` callable (or an eager frame's call) is given it: FA111 when
    its text was made from traced values (``check_parse``), then the reader itself."""

    __slots__ = ("fn",)

    def __init__(self, fn: Any):
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(sys._getframe(1), args, kwargs)

    def _call(self, frame: Any, args: tuple, kwargs: dict) -> Any:
        from . import session  # noqa: PLC0415 (session imports this module)

        rec = session.current_recorder()
        if rec is not None:
            check_parse(rec, self.fn, args, kwargs, frame)
        fn, args, kwargs = reading(self.fn, args, kwargs, frame)
        user = _user_frame(frame)
        if rec is not None and C.is_enabled() and user is not None and \
                id(user.f_code) not in session.EAGER_CODES and \
                not TextTaint.plain(rec, fn, args, kwargs):
            # called by C for instrumented code (map(float, values)): recorded as its call
            out = rec.dispatch(fn, args, kwargs, frame)
        else:
            args, kwargs = _items(fn, args, kwargs) if rec is not None else (args, kwargs)
            out = self._run(fn, args, kwargs)
        if rec is not None and id(fn) in _BUILDER_IDS:
            check_parse(rec, fn, args, kwargs, frame, out)
        return out

    @staticmethod
    def _run(fn: Any, args: tuple, kwargs: dict) -> Any:
        nested = fn is not builtins.eval
        if nested:
            _inside.depth = _depth() + 1
        try:
            return fn(*args, **kwargs)
        except BaseException as e:
            e.__traceback__ = strip_framead_frames(e.__traceback__)
            raise
        finally:
            if nested:
                _inside.depth -= 1

    def __repr__(self) -> str:
        return repr(self.fn)


class _Build(Parse):
    """A ``BUILDERS`` stand-in (``np.array`` in an eager frame): the builder itself while no
    capture made text of traced values (what an eager frame's np.array pays then: one test)."""

    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _ARMED["count"]:
            return self._call(sys._getframe(1), args, kwargs)
        try:
            return self.fn(*args, **kwargs)
        except BaseException as e:
            e.__traceback__ = strip_framead_frames(e.__traceback__)
            raise


class _Partial(functools.partial):
    """``functools.partial(reader, ...)`` made while armed: a partial (its ``func``, ``args``,
    repr and pickle a native one's; ``type(p)`` is this class) whose call checks as ``Parse``
    does."""

    __slots__ = ()

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        return stand_in(self.func)(*self.args, *args, **{**self.keywords, **kwargs})

    def __reduce__(self) -> Any:  # (pickled and copied as the native partial)
        return (functools.partial, *super().__reduce__()[1:])


def reader_partial(args: tuple, kwargs: dict | None) -> Any:
    """``functools.partial(reader, *rest, **kwargs)`` as made while armed (``_Partial``)."""
    return _Partial(*args, **(kwargs or {}))


_Partial.__module__, _Partial.__qualname__, _Partial.__name__ = \
    "functools", "partial", "functools.partial"  # (tp_name: the repr's)
_STAND_INS: dict[int, Parse] = {id(r): (_Build if id(r) in _BUILDER_IDS else Parse)(r)
                                 for r in READERS}


def stand_in(fn: Any) -> Any:
    """``fn``'s ``Parse`` stand-in where it is a reader (a str array's bound ``astype`` too),
    else ``fn``."""
    hit = _STAND_INS.get(id(fn))
    if hit is not None:
        return hit
    return Parse(fn) if _bound_astype(fn) else fn


def swap_readers(args: tuple) -> tuple:
    """A ``CALLERS`` callable's arguments with the callable it calls, the first, a reader's
    stand-in (``partial(np.ndarray.astype, dtype=float)``: float there is a dtype)."""
    return (stand_in(args[0]), *args[1:]) if args else args


# the readers' C flags are process-wide: the first armed capture (any thread) sets ALWAYS and
# keeps what was there, the last one to close puts it back
_ARMED: dict[str, Any] = {"count": 0, "prev": ()}  # captures armed, (reader, flags) pairs
_arm_lock = threading.Lock()


def _arm(step: int) -> None:
    with _arm_lock:
        _ARMED["count"] += step
        if step > 0 and _ARMED["count"] == 1:
            _ARMED["prev"] = tuple((r, C.get_callable_flags(r)) for r in (*READERS, *CALLERS))
            for r, prev in _ARMED["prev"]:
                C.set_callable_flags(r, (prev & ~C.NATIVE) | C.ALWAYS)
            C.set_text_store(stored_text, (np.flatiter,))  # (a[k] = text; a Tracer's own)
        elif step < 0 and _ARMED["count"] == 0:
            C.set_text_store(None, ())
            for r, prev in _ARMED["prev"]:
                C.set_callable_flags(r, prev)
            _ARMED["prev"] = ()
