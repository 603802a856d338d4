"""What an eager frame's Tracers cannot show by their operators alone: text, keys, ``type``.

An eager frame (capture/eager.py) runs uninstrumented, so the call probe of instrumented code
does not see its calls. Three things a Tracer's methods cannot decide by themselves are
settled here, with the same reports as instrumented code:

* text: ``str``/``repr``/``format``/f-strings of a traced Tracer (also when C makes them: a
  csv writer, ``'%s' % t``, logging) note the text (``Recorder.made_text``); ``'%.3f' % t``
  reaches the Tracer as ``float(t)`` while the frame runs the ``%`` (``formatting``): no
  FA102 cut, the text the ``%`` makes is noted when the frame's probe sees it. A number
  parser the eager frame calls by name (``float(s)``, ``decimal.Decimal(s)``, ``np.float64``:
  text_taint.READER_NAMES; ``json.loads``, ``eval``, a str array's ``astype`` too) is swapped at
  its load for ``text_taint.Parse``, which reports FA111 through ``text_taint.check_parse``
  (instrumented code's check) before calling it;
* keys: a lookup by a traced Tracer (a dict item, ``d.get``, an ``lru_cache`` hit) that
  matched a stored key which is not a traced value (``__hash__`` then ``__eq__`` within one
  instruction of the eager frame) and handed back differentiable values no traced operation
  made is FA110 (instrumented code's stale lookup) at the user's line;
* ``type(t)``: the builtin called by name in an eager frame is swapped for ``_type``, which
  answers ``t.__class__``: the class of a scalar Tracer's value (``type(x) is float`` takes
  the native branch), ``Tracer`` for an array one (as ``isinstance(t, np.ndarray)`` is
  False there: capture/eager.py's documented difference). A ``type`` reached another way
  (passed as a value, called inside C code) still sees ``Tracer``.
"""

from __future__ import annotations

import builtins
import dis
import functools
import itertools
import operator
import threading
import types
from typing import Any

from framead.ir import flatten_tree

from . import session
from .buffers import is_differentiable
from .eager_builders import METHOD_NAMES, method, swaps
from .overrides import TRACER_TYPES
from .sourceloc import strip_framead_frames
from .text_taint import READER_NAMES, READERS, TOKEN, reader_partial, stand_in

__all__ = ["CALLEE_NAMES", "callee", "formatting", "key_hashed", "key_matched", "note_text",
           "result_seen"]

# names whose method-style loads (3.11/3.12) an eager frame's code probes (other calls: all)
CALLEE_NAMES = READER_NAMES | {"type", "map", "filter", "sorted", "min", "max", "call",
                               "partial", "reduce", "starmap", "accumulate", "filterfalse",
                               "groupby"} | METHOD_NAMES
# .text: id(frame) whose '%' made text of Tracers; .hashed: the Tracer hashed last and where;
# .stale: where a lookup matched a stored key; .pending: text or stale set
state = threading.local()
_BINARY_OP = dis.opmap["BINARY_OP"]
_MOD_OPARGS = (6, 19)  # NB_REMAINDER, NB_INPLACE_REMAINDER


def _type(*args: Any, **kwargs: Any) -> Any:
    """``type`` as an eager frame calls it: the class of a Tracer's object."""
    if len(args) == 1 and not kwargs and type(args[0]) in TRACER_TYPES:
        return args[0].__class__  # (as isinstance sees it: an array Tracer is no ndarray)
    try:
        return builtins.type(*args, **kwargs)
    except BaseException as e:
        e.__traceback__ = strip_framead_frames(e.__traceback__)
        raise


_SWAPS: dict[int, Any] = {id(r): stand_in(r) for r in READERS}
_METHODS = (types.BuiltinMethodType, types.MethodDescriptorType)
_SWAPS[id(builtins.type)] = _type
swaps(_SWAPS)  # NumPy's builders given Tracers in lists (capture/eager_builders.py)


class _Calling:
    """A C callable that calls what it is given (``map(float, ...)``, ``operator.call(type,
    t)``, ``partial(float)``), called from an eager frame: a parser or ``type`` among its
    arguments (or its ``key=``) is given as its stand-in."""

    __slots__ = ("fn",)

    def __init__(self, fn: Any):
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.fn is functools.partial and args and stand_in(args[0]) is not args[0]:
            return reader_partial(args, kwargs)  # (its .func the reader itself)
        args = tuple(_SWAPS.get(id(a), a) for a in args)
        if "key" in kwargs:
            kwargs["key"] = _SWAPS.get(id(kwargs["key"]), kwargs["key"])
        try:
            return self.fn(*args, **kwargs)
        except BaseException as e:
            e.__traceback__ = strip_framead_frames(e.__traceback__)
            raise


_CALLING = {id(f): (f, _Calling(f)) for f in (
    builtins.map, builtins.filter, builtins.sorted, builtins.min, builtins.max, operator.call,
    functools.partial, functools.reduce, itertools.starmap, itertools.accumulate,
    itertools.filterfalse, itertools.groupby)}


def callee(v: Any) -> Any:
    """The probe on the callable of each call an eager frame makes (however it was reached):
    a parser's or ``type``'s stand-in, a C caller that swaps them among its arguments, else
    ``v`` itself."""
    hit = _SWAPS.get(id(v))
    if hit is not None:
        return hit
    if type(v) in _METHODS and (m := method(v)) is not None:
        return m  # (a plain array's given Tracers: recorded; a str array's astype,
        # a float array's fill/put given text: parses)
    if type(v) is types.MethodWrapperType and v.__name__ == "__setitem__":
        return stand_in(v)  # (an array's: a parse; another object's: itself)
    calling = _CALLING.get(id(v))
    return calling[1] if calling is not None and calling[0] is v else v


def _eager_frame(frame: Any) -> bool:
    return id(frame.f_code) in session.EAGER_CODES


def formatting(frame: Any, value: Any) -> bool:
    """Whether ``frame`` (an eager frame) is running ``text % values`` now: a Tracer's
    ``float()``/``int()`` there makes text, not a cut (the tokens of the text that ``value``,
    the Tracer's, formats to are noted by ``result_seen``)."""
    code, i = frame.f_code, frame.f_lasti
    raw = code.co_code
    if i < 0 or i + 1 >= len(raw) or raw[i] != _BINARY_OP or raw[i + 1] not in _MOD_OPARGS \
            or not _eager_frame(frame):
        return False
    if getattr(state, "text", None) != id(frame):
        state.values = []
    state.values.append(value)
    state.text = id(frame)
    state.pending = True
    return True


def _unit(token: str) -> float:
    """The place of the last digit of a number token ('0.250' -> 0.001, '3e5' -> 1e5)."""
    mant, _, exp = token.lower().partition("e")
    digits = len(mant.partition(".")[2])
    return 10.0 ** ((int(exp) if exp else 0) - digits)


def _traced_tokens(text: str, values: list) -> str:
    """The number tokens of ``text`` that one of ``values`` formats to (to their last digit:
    rounded or truncated), joined: not the untraced operands' numbers."""
    keep = []
    for tok in TOKEN.findall(text):
        f = float(tok)
        if any(f == v or abs(f - v) <= _unit(tok) or (f != f and v != v) for v in values):
            keep.append(tok)
    return " ".join(keep)


def note_text(rec: Any, obj: Any, text: Any, frame: Any) -> None:
    """``text`` was made from the Tracer of ``obj`` (noted when ``obj`` is traced)."""
    live = session.current_recorder()
    if live is not None and rec is live and live.tree_value(obj) is not None:
        live.made_text(text, frame)


def key_hashed(t: Any, frame: Any) -> None:
    """The Tracer ``t`` was hashed by what ``frame`` runs (a dict, set or cache lookup)."""
    state.hashed = (id(t), id(frame), frame.f_lasti)


def key_matched(t: Any, other: Any, frame: Any) -> None:
    """``t == other`` held: inside a lookup by ``t`` the eager frame runs (``t`` was hashed
    by the same instruction), ``other`` is a stored key; when it is not traced, what the lookup
    hands back was stored by an earlier call or is a constant (``result_seen`` judges it)."""
    rec = session.current_recorder()
    if getattr(state, "hashed", None) != (id(t), id(frame), frame.f_lasti) or \
            rec is None or t._fa_rec is not rec or rec.tree_value(t._fa_obj) is None or \
            type(other) in TRACER_TYPES or rec.tree_value(other) is not None or \
            not _eager_frame(frame):
        return
    state.stale = (id(frame), frame.f_lasti)
    state.pending = True


def result_seen(v: Any, frame: Any, at: int | None, ext: Any) -> None:
    """The eager frame's probe saw ``v``, the result of its instruction at offset ``at``:
    text a ``'%'`` made of Tracers is noted; a lookup's stale hit is FA110."""
    state.pending = False
    if getattr(state, "text", None) == id(frame):
        state.text = None
        if isinstance(v, str | bytes):
            text = v.decode("latin-1") if isinstance(v, bytes) else v
            ext.rec.made_text(_traced_tokens(text, state.values), frame)
        state.values = []
    stale = getattr(state, "stale", None)
    if stale is None or stale[0] != id(frame):
        state.pending = stale is not None
        return
    state.stale = None
    if stale[1] != at:
        return
    rec = ext.rec
    leaves = [x for x in flatten_tree(v)[0]
              if type(x) not in TRACER_TYPES and is_differentiable(x)]
    if leaves and all(rec.tree_value(x) is None for x in leaves):
        rec.hazard("FA110", "lookup by a traced key", frame,
                   "a lookup by a traced key (a dict item, d.get, an lru_cache) in an eager "
                   "frame matched a key stored by an earlier call (or a constant) and gave back "
                   "values this call did not compute from its inputs: no gradient passes "
                   "through them, although the result depends on the key")
