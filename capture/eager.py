"""The eager fallback: a ``@framead.eager`` function run uninstrumented on ``Tracer`` objects.

A function marked ``@framead.eager`` runs its own code uninstrumented (its code object is in
``session.EAGER_CODES``, so the PEP 523 hook leaves it alone); the rest of the program stays
instrumented. When it is called during a capture, ``run_eager``:

1. reports the run once as FA201 at the call's file:line (strict mode raises here);
2. wraps, in ``Tracer`` objects, the traced values it can reach: arguments (Python floats,
   NumPy inexact scalars, float ndarrays), the leaves of list/tuple/dict arguments (lists and
   dicts are changed in place and restored afterwards), the function's closure cells and the
   globals its code names (traced values only there). Float ndarray arguments are wrapped even
   when they are constants, so that traced values written into a caller's buffer
   (``out[i] = ...``) are recorded;
3. runs the function from a trampoline showing the user's line (capture/caller_frame.py),
   its code copied with one probe, ``_follow``, after each instruction that brings a value
   into the frame (calls, attribute and item loads, locals, globals, cells, loop items):
   a Python function it calls runs instrumented and returns plain objects, and a buffer, list
   or attribute an instrumented helper filled holds plain traced values; ``_follow`` wraps
   them as it wraps arguments, so native operations on them record too (without it,
   ``helper(x) * 2.0`` was a silent zero gradient). One Tracer per object (``Extent.seen``).
   Where the copy cannot be made the original code runs and FA103 says what is not followed.
   The copy also swaps, however the callable of a call was reached, the number parsers
   (FA111 on text of traced values) and ``type`` (``type(t) is float`` as natively), and
   its probes judge what a ``'%'`` or a lookup by a Tracer gave (capture/eager_probes.py);
   NumPy's C builders given Tracers inside lists (``np.array([y, x])``), its scalar types
   (``np.float64(t)``), a plain array's methods (``a.fill(t)``) and stores (``a[k] = t``)
   record through ``calls.dispatch``/``Recorder.set_item`` on the Tracers' objects, where
   NumPy would convert each by ``__float__`` (capture/eager_builders.py; ``a.flat``:
   capture/eager_flat.py).
   Every operation on a Tracer (capture/eager_tracer.py) goes through the SAME recorder and
   the SAME rules as instrumented code and returns a Tracer wrapping the real result, so
   gradients are those of the instrumented path;
4. when the outermost eager call returns, unwraps what comes back (Tracers -> their real
   objects, recursively through lists/tuples/dicts/sets, mutable containers in place), restores
   the wrapped arguments, cells and globals, and then looks for Tracers that are still alive
   (stored into an attribute, a global, a container): each container, cell, instance
   ``__dict__``/slot or module dict that holds one gets the real object back in place
   (``gc.get_referrers``, run only when a Tracer survived). A Tracer held where framead cannot
   rewrite it (a suspended generator's frame, a C object) is reported as FA105; it keeps
   recording while its capture runs and behaves like its value afterwards.

Where the gradient is cut (``float(t)``, ``np.asarray(t)``...), framead says so (FA102, see
capture/eager_tracer.py). Values nested deeper than ``MAX_DEPTH`` in containers, and list or
dict items replaced (same length) by instrumented code after the frame looked at the
container, stay plain objects there and operations on them are not recorded. Visible
differences from the native run: the frame's ``f_code`` is the probed copy, and traced float
arrays are Tracers there (not ndarray instances: ``type(a)`` and ``isinstance`` say so).
"""

from __future__ import annotations

import dis
import gc
import operator
import sys
import threading
import types
from typing import Any

import numpy as np
from bytecode import Bytecode, Instr

from . import _evalframe as C
from . import session
from .caller_frame import trampoline
from .eager_builders import store, store_slice
from .eager_probes import CALLEE_NAMES, callee, result_seen
from .eager_probes import state as probe_state
from .eager_tracer import Extent, Tracer, new_tracer, running
from .eager_unwrap import fix_attributes, rebind_tuple, unwrap
from .sourceloc import release_frames, strip_framead_frames

__all__ = ["MAX_DEPTH", "Tracer", "mark_eager", "run_eager", "unwrap"]

MAX_DEPTH = 4  # how deep into list/tuple/dict arguments traced leaves are wrapped
_MISSING = object()


# ---------------------------------------------------------------------- wrapping


def _wrap_arg(x: Any, ext: Extent, depth: int = 0, consts: bool = True) -> Any:
    """A value entering the eager frame (argument, cell, global, or what ``_follow`` sees);
    ``consts``: also wrap untraced float arrays (arguments only: a caller's buffer may receive
    traced values). One replacement per object while the extent runs (``ext.seen``)."""
    t = type(x)
    if t is Tracer or t is int or t is bool or t is str or x is None:
        return x
    seen = ext.seen
    hit = seen.get(id(x))
    if hit is not None and hit[0] is x and (hit[2] < 0 or hit[2] == len(x)):
        return hit[1]  # (a list or dict: looked through again when its length changed)
    w = _wrap_new(x, t, ext, depth, consts)
    if t is list or t is dict:
        seen[id(x)] = (x, x, len(x))
    elif w is not x:
        seen[id(x)] = (x, w, -1)
    return w


def _wrap_new(x: Any, t: type, ext: Extent, depth: int, consts: bool) -> Any:
    if isinstance(x, np.ndarray):  # (a subclass too: its operations record as an ndarray's)
        if x.dtype.kind not in "fc":
            return x
        return new_tracer(x, ext) if consts or ext.rec.value_of(x) is not None else x
    if t is float or t is complex or isinstance(x, np.inexact):
        return new_tracer(x, ext) if ext.rec.value_of(x) is not None else x
    if depth >= MAX_DEPTH:
        return x
    if t is list or t is dict:  # changed in place, restored by _close
        changed = False
        for k, item in enumerate(x) if t is list else x.items():
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


def _wrap_env(fn: types.FunctionType, ext: Extent) -> None:
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


# ---------------------------------------------------------------------- following values in

# Instructions whose result (one value on top of the stack) may be a traced value that is not
# a Tracer: a Python callee runs instrumented and returns plain objects; attributes, items,
# globals and cells may hold traced values stored by instrumented code; an operator whose
# Python method runs instrumented (``t * Fraction(4, 5)``: ``Fraction.__rmul__``; a user
# class's ``__add__``) returns a plain traced value too.
_FOLLOW = frozenset({"CALL", "CALL_FUNCTION_EX", "CALL_KW", "BINARY_SUBSCR", "BINARY_SLICE",
                     "LOAD_ATTR", "LOAD_GLOBAL", "LOAD_DEREF", "LOAD_CLASSDEREF", "LOAD_FAST",
                     "LOAD_FAST_CHECK", "LOAD_NAME", "FOR_ITER", "STORE_FAST_LOAD_FAST",
                     "BINARY_OP", "UNARY_NEGATIVE", "UNARY_POSITIVE", "UNARY_INVERT"})
_PRECALL = sys.version_info < (3, 12)
_NULL_ABOVE = sys.version_info >= (3, 13)  # (a call's NULL sits above its callable)
_followed: dict[int, tuple[types.CodeType, types.CodeType | None]] = {}
_probed: dict[int, tuple[types.CodeType, dict[int, int]]] = {}  # id(probed copy) -> offsets


def _follow(v: Any) -> Any:
    """The probe after each ``_FOLLOW`` instruction of an eager frame: ``v`` with traced
    values in Tracers (as an argument's), so that native operations on it record."""
    if getattr(probe_state, "pending", False):
        _seen(v)
    t = type(v)
    if t is Tracer or t is int or t is bool or t is str or v is None:
        return v
    ext = getattr(running, "extent", None)
    if ext is None or not C.is_enabled() or ext.rec is not session.current_recorder():
        return v
    if t is types.GeneratorType and v.gi_code.co_name == "<genexpr>":
        # its frame runs instrumented and yields plain traced values; a C consumer in the
        # eager frame (``sum(math.hypot(1.0, b - a) for ...)``) folded them unrecorded
        return _followed_items(v)
    return _wrap_arg(v, ext, consts=False)


def _seen(v: Any) -> None:
    """``v``, the result of the probed instruction, after a '%' made text of Tracers or a
    lookup by a Tracer matched a stored key (capture/eager_probes.py judges it)."""
    ext = getattr(running, "extent", None)
    if ext is None or ext.rec is not session.current_recorder():
        probe_state.pending = False
        return
    frame = sys._getframe(2)
    hit = _probed.get(id(frame.f_code))
    result_seen(v, frame, hit[1].get(frame.f_lasti) if hit and hit[0] is frame.f_code else None,
                ext)


def _followed_items(gen: types.GeneratorType) -> Any:
    """A generator expression's items, each as ``_follow`` makes it (the values a genexpr is
    sent are discarded, as natively)."""
    for v in gen:
        yield _follow(v)


def _follow_code(code: types.CodeType) -> types.CodeType | None:
    """``code`` with ``_follow(top)`` after each ``_FOLLOW`` instruction (same locations,
    exception table and layout); None if it cannot be made. Run uninstrumented."""
    hit = _followed.get(id(code))
    if hit is not None and hit[0] is code:
        return hit[1]
    new: types.CodeType | None
    try:
        bc = Bytecode.from_code(code)
        out: list = []
        items = list(bc)
        calls = _callables(items)
        for k, ins in enumerate(items):
            if k in calls:
                out += _callable_probe(calls[k], ins.location)
            if isinstance(ins, Instr) and _calls_by_name(ins):
                out += _callee_probe(ins)
                continue
            if isinstance(ins, Instr) and ins.name in ("STORE_SUBSCR", "STORE_SLICE"):
                n = 3 if ins.name == "STORE_SUBSCR" else 4  # (Tracers, text, into numbers:
                out += [*_probe(ins.location, store if n == 3 else store_slice, n),  # eager_
                        Instr("POP_TOP", location=ins.location)]  # builders.store)
                continue
            if isinstance(ins, Instr) and ins.name == "LOAD_FAST_LOAD_FAST":  # (3.13: split)
                loc = ins.location
                pair = [Instr("LOAD_FAST", name, location=loc) for name in ins.arg]
                out += [pair[0], *_probe(loc), pair[1], *_probe(loc)]
                continue
            out.append(ins)
            if not isinstance(ins, Instr) or ins.name not in _FOLLOW or (
                    ins.name in ("LOAD_ATTR", "LOAD_GLOBAL") and isinstance(ins.arg, tuple)
                    and ins.arg[0]):  # (a method or a callee with its NULL: not a value)
                continue
            out += _probe(ins.location)
        bc[:] = out
        new = bc.to_code()
    except Exception:  # (a code object the bytecode package cannot round-trip)
        new = None
    if len(_followed) > 4096:
        _followed.clear()
        _probed.clear()
    _followed[id(code)] = (code, new)
    if new is not None:
        session.EAGER_CODES[id(new)] = new
        _probed[id(new)] = (new, _probe_offsets(new))
    return new


def _probe_offsets(code: types.CodeType) -> dict[int, int]:
    """The offset of each ``_follow`` probe's CALL -> that of the instruction it follows."""
    at: dict[int, int] = {}
    prev = followed = None
    for ins in dis.get_instructions(code):
        if ins.opname == "LOAD_CONST" and ins.argval is _follow and prev is not None:
            followed = prev.offset
        elif ins.opname == "CALL" and followed is not None:
            at[ins.offset] = followed
            followed = None
        prev = ins
    return at


def _calls_by_name(ins: Instr) -> bool:
    """(3.11/3.12) A method-style load (``builtins.type``, ``np.float64``) by one of the
    names of callables eager_probes swaps (``_callables`` leaves those calls alone)."""
    if _NULL_ABOVE:
        return False
    if ins.name == "LOAD_METHOD":  # (3.11)
        return ins.arg in CALLEE_NAMES
    return ins.name == "LOAD_ATTR" and isinstance(ins.arg, tuple) and \
        bool(ins.arg[0]) and ins.arg[1] in CALLEE_NAMES


def _method_load(ins: Any) -> bool:
    return isinstance(ins, Instr) and (ins.name == "LOAD_METHOD" or (
        ins.name == "LOAD_ATTR" and isinstance(ins.arg, tuple) and bool(ins.arg[0])))


def _callables(items: list) -> dict[int, int]:
    """Index of a call's first instruction (KW_NAMES, PRECALL, CALL) -> stack depth of its
    callable, for ``eager_probes.callee``. Until 3.12 a method-style load's slot may hold
    self: those calls, found by a walk of the stack depth, are ``_calls_by_name``'s."""
    at: dict[int, int] = {}
    depth: int | None = 0
    targets: dict[Any, int] = {}
    methods: list[int] = []  # stack bases of method-style loads not yet called
    for k, ins in enumerate(items):
        if not isinstance(ins, Instr):
            if depth is None or ins in targets:
                depth = targets.get(ins)
            continue
        name = ins.name
        start = k - 1 if k and isinstance(items[k - 1], Instr) and \
            items[k - 1].name == "KW_NAMES" else k
        if _NULL_ABOVE and name in ("CALL", "CALL_KW"):
            at[start] = ins.arg + (2 if name == "CALL" else 3)
        elif not _NULL_ABOVE and name == ("PRECALL" if _PRECALL else "CALL"):
            base = None if depth is None else depth - ins.arg - 2
            while methods and base is not None and methods[-1] > base:
                methods.pop()
            if methods and methods[-1] == base:
                methods.pop()
            else:
                at[start] = ins.arg + 1
        if depth is None:
            continue
        if _method_load(ins) and not _NULL_ABOVE:
            methods.append(depth - 1)
        if ins.has_jump():
            targets.setdefault(ins.arg, depth + ins.stack_effect(jump=True))
        depth = None if ins.is_uncond_jump() or ins.is_final() else \
            depth + ins.stack_effect(jump=False)
    return at


def _callable_probe(d: int, loc: Any) -> list:
    """``eager_probes.callee`` on the stack item ``d`` deep (a call's callable)."""
    swap = [Instr("SWAP", d, location=loc)] if d > 1 else []
    return [*swap, *_probe(loc, callee), *swap]


def _callee_probe(ins: Instr) -> list:
    """(3.11/3.12) ``ins`` loading its callable plainly, ``eager_probes.callee`` on it, the
    NULL below it (a method's self, if it was one, is bound in the attribute it loads)."""
    loc = ins.location
    load = Instr("LOAD_ATTR", ins.arg if _PRECALL else (False, ins.arg[1]), location=loc)
    return [load, *_probe(loc, callee), Instr("PUSH_NULL", location=loc),
            Instr("SWAP", 2, location=loc)]


def _probe(loc: Any, fn: Any = None, n: int = 1) -> list:
    """[*n values] -> [fn(*values)] (``_follow`` by default; the callable under them: a method
    call's layout; STORE_SUBSCR's [v, a, k] -> store(a, k, v))."""
    seq = [Instr("LOAD_CONST", _follow if fn is None else fn, location=loc),
           Instr("SWAP", n + 1, location=loc)]
    if _PRECALL:
        seq.append(Instr("PRECALL", n - 1, location=loc))
    return [*seq, Instr("CALL", n - 1, location=loc)]


def _following(fn: types.FunctionType) -> types.FunctionType | None:
    """``fn`` running its code with ``_follow`` probes (None where that cannot be made)."""
    new = _follow_code(fn.__code__)
    if new is None:
        return None
    g = types.FunctionType(new, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    g.__kwdefaults__ = fn.__kwdefaults__
    g.__qualname__ = fn.__qualname__
    g.__dict__ = fn.__dict__
    return g


# ---------------------------------------------------------------------- running eager frames


def mark_eager(code: types.CodeType) -> None:
    """Make the hook leave ``code`` uninstrumented from now on."""
    if id(code) not in session.EAGER_CODES:
        session.EAGER_CODES[id(code)] = code
        C.bump_generation()  # a decision cached before the mark is void


def run_eager(fn: types.FunctionType, qualname: str, args: tuple, kwargs: dict,
              frame: types.FrameType) -> Any:
    """Call ``fn`` (an @eager function) with traced values wrapped in Tracers (see doc)."""
    rec = session.current_recorder()
    if rec is None or not C.is_enabled():
        return trampoline(frame, fn)(operator.call, fn, args, kwargs)
    run = _following(fn)
    if run is None:
        run = fn
        rec.hazard("FA103", qualname, frame,
                   f"{qualname} (marked @framead.eager) ran uninstrumented and framead could "
                   "not follow what its calls, attribute and item loads return: operations on "
                   "traced values it gets that way are not recorded")
    rec.hazard("FA201", qualname, frame,
               f"{qualname} (marked @framead.eager) ran uninstrumented with the traced values "
               "it receives (arguments, cells, globals, call results, attributes, items) "
               "wrapped in Tracers; values it reaches other ways (containers deeper than "
               f"{MAX_DEPTH}, locals changed behind its back) are not followed there")
    prev = getattr(running, "extent", None)
    outer = prev is None or prev.rec is not rec
    ext = Extent(rec, frame, qualname) if outer else prev
    running.extent = ext
    if outer:
        _arm_type(1)
    try:
        wargs = tuple(_wrap_arg(a, ext) for a in args)
        wkw = {k: _wrap_arg(v, ext) for k, v in kwargs.items()}
        _wrap_env(fn, ext)
        result = trampoline(frame, fn)(operator.call, run, wargs, wkw)  # (the user's line)
        del wargs, wkw
    except BaseException as e:
        if outer:
            running.extent = prev
            _close(ext, failed=True)
        e.__traceback__ = strip_framead_frames(e.__traceback__)
        raise
    if not outer:
        return result  # Tracers stay Tracers until the outermost eager call returns
    running.extent = prev
    try:
        result = unwrap(result)
    finally:
        _close(ext, failed=False)
    return result


# while an eager extent runs, ``type`` is ALWAYS (instrumented helpers given a Tracer: its
# value's class, capture/calls.py); process-wide, counted: the last extent restores the flags
_TYPE_ARMED: list[Any] = [0, 0]  # extents running, the flags before the first
_type_lock = threading.Lock()


def _arm_type(step: int) -> None:
    with _type_lock:
        _TYPE_ARMED[0] += step
        if step > 0 and _TYPE_ARMED[0] == 1:
            _TYPE_ARMED[1] = prev = C.get_callable_flags(type)
            C.set_callable_flags(type, (prev & ~C.NATIVE) | C.ALWAYS)
        elif step < 0 and _TYPE_ARMED[0] == 0:
            C.set_callable_flags(type, _TYPE_ARMED[1])


def _close(ext: Extent, failed: bool) -> None:
    """Restore what was wrapped in place; find and replace Tracers that escaped."""
    _arm_type(-1)
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
    ext.seen.clear()
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
            if not rebind_tuple(r, fix):
                left.add("a tuple")
        elif tr is types.FrameType:
            left.add(f"the frame of {r.f_code.co_qualname}")
        elif isinstance(r, types.GeneratorType | types.CoroutineType | types.AsyncGeneratorType):
            left.add(f"the suspended {tr.__name__} {r.__qualname__}")
        elif not fix_attributes(r, fix):
            left.add(f"a {tr.__name__}")
    del refs
    if patched_dict:
        sys._clear_type_cache()  # the dict may have been a class's namespace
    return left


def _calibrate() -> int:
    """References to an otherwise unreferenced Tracer seen by ``_escaped``'s comprehension."""
    return [sys.getrefcount(x) for x in [object.__new__(Tracer)]][0]


_BASE = _calibrate()
