"""Text of traced values read back as numbers (FA111 text-roundtrip).

``'%.17g' % x``, ``str(x)``, an f-string or ``np.savetxt`` make text of a traced value; the
text carries no gradient, so ``float(text)``, ``np.loadtxt`` and the like give back a constant
while other terms of the result may still be traced (the whole-result check, FA108, does not
fire then). The recorder notes each text of traced values made during the capture
(``TextTaint.made``); from the first one on, the number parsers in ``READERS`` are routed to
the recorder (the C call flag ALWAYS, the previous flags restored when the capture closes) and
a parser given text that overlaps a noted text (or a stream holding it, or a file: unknown
content) reports FA111 at the user's line. Programs that make no text of traced values pay
nothing; no user object is changed and the noted texts are dropped when the capture closes.
"""

from __future__ import annotations

import decimal
import fractions
import io
import re
import sysconfig
import threading
from typing import Any

import numpy as np

from framead.ir import SourceLoc

from . import _evalframe as C
from .callables import callable_name
from .sourceloc import loc_of

__all__ = ["READERS", "READER_NAMES", "TOKEN", "TextTaint", "check_parse", "user_loc"]
_LIBRARY_DIRS = tuple({sysconfig.get_path(k) for k in ("stdlib", "platstdlib", "purelib",
                                                        "platlib")} - {None})


def user_loc(loc: SourceLoc) -> SourceLoc:
    """``loc``, or its nearest caller outside the standard library and installed packages
    (np.loadtxt's reader runs in NumPy's code; the user's line is its caller's)."""
    if not loc.file.startswith(_LIBRARY_DIRS):
        return loc
    for i, (file, line, function) in enumerate(loc.stack):
        if not file.startswith(_LIBRARY_DIRS):
            return SourceLoc(file, line, function, loc.stack[i + 1:])
    return loc


def _readers() -> tuple:
    out: list[Any] = [float, int, complex, decimal.Decimal, fractions.Fraction, np.float64,
                      np.float32, np.float16, np.longdouble, np.int64, np.int32,
                      np.complex128, np.fromstring]
    # NumPy's text reader (np.loadtxt; np.genfromtxt's converters call float())
    load = getattr(getattr(np, "_core", None), "_multiarray_umath", None)
    load = getattr(load, "_load_from_filelike", None)
    return tuple(out) + ((load,) if load is not None else ())


READERS = _readers()
_READER_IDS = frozenset(map(id, READERS))
READER_NAMES = frozenset(r.__name__ for r in READERS)  # (how an eager frame's code calls them)
_PLAIN = frozenset({str, bytes, bytearray, int, bool, type(None), io.StringIO, io.BytesIO})
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
    def reader(fn: Any) -> bool:
        """Whether ``fn`` is one of ``READERS`` (routed to the recorder while armed)."""
        return id(fn) in _READER_IDS

    def read(self, args: tuple, kwargs: dict) -> bool:
        """Whether a reader given these arguments parses a noted text."""
        return any(self._holds(a) for a in (*args, *kwargs.values()))

    @staticmethod
    def plain(rec: Any, fn: Any, args: tuple, kwargs: dict | None) -> bool:
        """Whether a C reader's arguments are all text, streams or untraced ints: a call with
        nothing to record, made natively (what arming the readers costs such calls; Fraction's
        Python code runs instrumented, as before)."""
        if fn is fractions.Fraction:
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
        # a file or an iterator of lines: what it holds is not known without reading it
        return hasattr(a, "read") or hasattr(a, "__next__")

    def close(self) -> None:
        if self.armed:
            self.armed = False
            _arm(-1)
        self.texts.clear()


def check_parse(rec: Any, fn: Any, args: tuple, kwargs: dict | None, frame: Any) -> None:
    """FA111 at the user's line when the number parser ``fn`` is given text made from traced
    values in this capture (one home: instrumented calls, Recorder.call, and an eager frame's
    calls, capture/eager_probes.py)."""
    taint = rec.text_taint
    if taint is None or not taint.reader(fn) or not taint.read(args, kwargs or {}):
        return
    name = callable_name(fn)
    rec.hazard("FA111", name, user_loc(loc_of(frame)), f"{name} parses text made from traced "
               f"values (first at {taint.loc.short()}): the number it gives back is a "
               "constant, its gradient is lost")


# the readers' C flags are process-wide: the first armed capture (any thread) sets ALWAYS and
# keeps what was there, the last one to close puts it back
_ARMED: dict[str, Any] = {"count": 0, "prev": ()}  # captures armed, (reader, flags) pairs
_arm_lock = threading.Lock()


def _arm(step: int) -> None:
    with _arm_lock:
        _ARMED["count"] += step
        if step > 0 and _ARMED["count"] == 1:
            _ARMED["prev"] = tuple((r, C.get_callable_flags(r)) for r in READERS)
            for r, prev in _ARMED["prev"]:
                C.set_callable_flags(r, (prev & ~C.NATIVE) | C.ALWAYS)
        elif step < 0 and _ARMED["count"] == 0:
            for r, prev in _ARMED["prev"]:
                C.set_callable_flags(r, prev)
            _ARMED["prev"] = ()
