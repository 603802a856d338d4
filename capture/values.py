"""The recorder's shadow table: which IR value each traced object holds now.

Arrays share buffers (``buffers.Buffer``, with SSA versions); a view remembers how it was made
(a recipe) so that after a write into its buffer its value is re-derived from the new
version (``rules.primitives``). Part of ``Recorder`` (recorder.py).

Memory: the table holds arrays weakly (``buffers.WeakEntry``), and an array value's primal is
held only weakly too (``_refs``) until a node whose derivative reads it saves it (``_keep``):
intermediates the program drops are freed as natively, so NumPy reuses their memory. A value
is read by a node only while some live object holds it, and that object keeps the value's
primal object alive (it is that object, or a view of it), so ``_keep`` always finds it."""

from __future__ import annotations

import collections
import operator
import sys
import types
import weakref
from typing import Any

import numpy as np
from framead.rules import layout_rules
from framead.rules import primitives as prim

from framead import rules
from framead.ir import Node, Value, values_in

from . import _evalframe as C
from .buffers import STRIDED_BASE, Buffer, Entry, WeakEntry, buffer_owner, weak_entry
from .native import call_quiet
from .overrides import plain
from .primitive_rules import CONST_RULE, GATHER_RULE
from .saves import ALL, saved_set
from .sourceloc import loc_of

try:
    from ._scalar_tape import kept_bytes as _kept_bytes
except ImportError:  # pragma: no cover - the optional extension is not built
    _kept_bytes = None

_FLOAT64 = np.dtype(float)
_REFS_SWEEP_MIN = 4096  # weak primals kept before the first sweep of dead ones
_REINTERPRET_RULE, RESIZE_RULE = layout_rules.make_rules()


class ValueTable:
    """Values, buffers and views of one capture (``Recorder``'s state: ``entries``,
    ``buffers``, ``nodes``)."""

    def init_table(self) -> None:
        """Empty tables; the weak entries' callback holds the table weakly (no cycle)."""
        self.entries: dict[int, Entry | WeakEntry] = {}
        self.buffers: dict[int, Buffer] = {}
        self._refs: dict[int, weakref.ref] = {}  # value id -> its primal, not yet saved
        self._refs_sweep = _REFS_SWEEP_MIN
        self._kept: list[Value] = []  # array values whose primals are held (bytes_kept)
        self._on_death = _reaper(weakref.ref(self))
        self.active = False  # between the session's start (retrack) and close
        self._stale: list[int] = []  # freed arrays' ids still in a C set (see _reaper)

    def purge_stale(self) -> None:
        """Drop from this thread's C set the freed arrays it could not be told about when
        they were freed (another thread or a nested session was current then)."""
        if C.current_recorder() is not self:
            return
        stale, self._stale = self._stale, []
        for key in stale:
            if key not in self.entries:  # (else a live object now has that id)
                _untrack_address(key)

    def _new_value(self, obj: Any) -> Value:
        """A Value for ``obj``; subclasses as their base type (the reverse pass computes with
        a plain ndarray over an np.matrix's memory, a float for a float subclass). An array's
        primal is held weakly until a node saves it (``_keep``); with ``save_all`` at once."""
        self._next_id += 1
        t = type(obj)
        if t is float:  # (the common scalar: no isinstance chain, no dtype made)
            return Value(self._next_id, (), _FLOAT64, float, obj)
        if isinstance(obj, np.ndarray):
            v = Value(self._next_id, obj.shape, obj.dtype, np.ndarray)
            if self.save_all:
                v.primal = obj if t is np.ndarray else plain(obj)
                self._kept.append(v)
            else:
                self._weak_primal(v, obj)
            return v
        if isinstance(obj, np.generic):
            return Value(self._next_id, obj.shape, obj.dtype, t, obj)
        base = complex if isinstance(obj, complex) else float if isinstance(obj, float) else t
        return Value(self._next_id, (), np.dtype(base), base, obj)

    def _weak_primal(self, v: Value, obj: np.ndarray) -> None:
        """Hold array value ``v``'s primal ``obj`` weakly until a node saves it."""
        self._refs[v.id] = weakref.ref(obj)
        if len(self._refs) > self._refs_sweep:
            self._sweep_refs()

    def fresh_array(self, obj: np.ndarray, v: Value) -> None:
        """Register ``obj``, a new memory-owning array the probes' C fast path computed
        (capture/_evalframe.c), as value ``v``: what ``_new_value`` and ``_register`` do."""
        if self._stale:
            self.purge_stale()
        self._weak_primal(v, obj)
        self._own_buffer(obj, v)

    def fresh_view(self, obj: np.ndarray, v: Value, buf: Buffer, parent: np.ndarray,
                   recipe: tuple) -> None:
        """Register ``obj``, a new view of ``buf``'s memory the probes' C fast path made from
        ``parent`` (``recipe``: how), as value ``v``: what ``_new_value`` and ``_register``
        do."""
        if self._stale:
            self.purge_stale()
        self._weak_primal(v, obj)
        self.entries[id(obj)] = self._entry(obj, v, buf, buf.version, parent, recipe)

    def _own_buffer(self, obj: np.ndarray, v: Value) -> None:
        """A memory owner ``obj`` traced as value ``v``: its buffer (version 0) and entry."""
        buf = Buffer(obj, v)
        self.buffers[id(obj)] = buf
        self.entries[id(obj)] = self._entry(obj, v, buf, 0)
        C.track(obj)

    def _keep(self, v: Value) -> None:
        """Hold ``v``'s primal strongly from now on: a node's derivative reads it."""
        if v.primal is not None:
            return
        ref = self._refs.pop(v.id, None)
        obj = ref() if ref is not None else None
        if obj is None:  # (the invariant in the module docstring was broken)
            raise RuntimeError(f"framead internal error: the primal of {v!r} was freed "
                               "before a node that reads it was recorded")
        v.primal = plain(obj)
        self._kept.append(v)

    def _keep_values(self, tree: Any) -> None:
        """``_keep`` every Value in ``tree`` (a Value, or lists/tuples of them)."""
        for v in values_in(tree):
            self._keep(v)

    def _sweep_refs(self) -> None:
        """Forget the weak primals of values whose objects are gone (they can no longer be
        read by a node, so never saved)."""
        refs = self._refs
        for vid in [vid for vid, r in refs.items() if r() is None]:
            del refs[vid]
        self._refs_sweep = max(_REFS_SWEEP_MIN, 2 * len(refs))

    def bytes_kept(self) -> int:
        """Bytes of the array memory the recorded values' primals keep alive (each buffer
        once)."""
        if _kept_bytes is not None:  # (the same walk in C: nbody keeps ~19,000, ~15 ms here)
            return _kept_bytes(self._kept, STRIDED_BASE)
        owners: dict[int, int] = {}
        for v in self._kept:
            p = v.primal
            if isinstance(p, np.ndarray):
                root = buffer_owner(p)
                owners[id(root)] = root.nbytes
        return sum(owners.values())

    def _entry(self, obj: Any, value: Value | None, buffer: Buffer | None = None,
               version: int = 0, parent: Any = None,
               recipe: tuple | None = None) -> Entry | WeakEntry:
        """The table entry for ``obj``: weak for arrays (freed with them), else strong."""
        if isinstance(obj, np.ndarray):
            return weak_entry(obj, value, buffer, version, parent, recipe, self._on_death)
        return Entry(obj, value, buffer, version, parent, recipe)

    def buffer_of(self, root: np.ndarray) -> Buffer | None:
        """The buffer of the memory owner ``root``, if traced (never one of a freed array
        whose id ``root`` reuses)."""
        buf = self.buffers.get(id(root))
        return buf if buf is not None and buf.root is root else None

    def new_input(self, obj: Any) -> Value:
        """Register a (freshly re-boxed) input object."""
        v = self._new_value(obj)
        v.name = f"x{len(self.inputs)}"
        self._register(obj, v)
        self.inputs.append(v)
        return v

    def _register(self, obj: Any, v: Value, parent: Any = None, recipe: tuple | None = None):
        """Make ``obj`` a traced object whose current IR value is ``v``."""
        if type(obj) is float:  # (the common scalar: ``_entry``'s strong entry)
            self.entries[id(obj)] = Entry(obj, v, None, 0, None, None)
            C.track(obj)
            return
        if isinstance(obj, np.ndarray):
            if self._stale:
                self.purge_stale()
            root = buffer_owner(obj)
            if root is obj:
                self._own_buffer(obj, v)
                return
            buf = self.buffer_of(root)
            if buf is None and _same_layout(obj, root):
                # a fresh result NumPy wrapped as a view (a subclass's: np.ma): its memory's
                # owner holds the same value (and its primal: it outlives ``obj``)
                buf = self.buffers[id(root)] = Buffer(root, v)
                self.entries[id(root)] = self._entry(root, v, buf, 0)
                if v.id in self._refs:
                    self._refs[v.id] = weakref.ref(root)
                C.track(root)
                parent, recipe = root, self._index_recipe(root, obj)
            if buf is None:  # a view of memory nobody traced: its owner starts as a constant
                buf = self._const_buffer(root)
            if parent is not None and (not isinstance(parent, np.ndarray)
                                       or buffer_owner(parent) is not root):
                parent = None  # e.g. a[:, [2, 0]]: a copy whose base is NumPy's own temporary
            if parent is None or recipe is None:
                parent, recipe = root, self._index_recipe(root, obj)
                if recipe is None:  # e.g. a float view of a complex buffer made in C
                    self.entries[id(obj)] = self._entry(obj, v)
                    C.track(obj)
                    return
            self.entries[id(obj)] = self._entry(obj, v, buf, buf.version, parent, recipe)
            return
        self.entries[id(obj)] = self._entry(obj, v)
        C.track(obj)

    def _const_buffer(self, root: np.ndarray) -> Buffer:
        v = self._new_value(root)
        self.nodes.append(Node(CONST_RULE, (), {}, (v,), loc_of(sys._getframe(2))))
        buf = Buffer(root, v)
        self.buffers[id(root)] = buf
        self.entries[id(root)] = self._entry(root, v, buf, 0)
        C.track(root)
        if self.save_all or self.guards is not None:  # replays bake this value in
            self._protect(v, None)
        return buf

    def _index_recipe(self, root: np.ndarray, view: np.ndarray) -> tuple | None:
        idx = prim.view_index(root, view)
        return None if idx is None else ("index", idx)

    def value_of(self, obj: Any) -> Value | None:
        """The current IR value of ``obj``, or None for a constant."""
        e = self.entries.get(id(obj))
        if e is None or e.obj is not obj:
            if not isinstance(obj, np.ndarray) or not self.buffers:
                return None
            root = buffer_owner(obj)
            buf = self.buffer_of(root)
            if buf is None:
                return None
            if obj.dtype.kind not in "fc":
                self._bits_read(obj, buf)
                return None
            recipe = self._index_recipe(root, obj)
            if recipe is None:
                self.hazard("FA104", "view", sys._getframe(1),
                            f"a {obj.dtype} view of a traced {root.dtype} buffer made where "
                            "framead could not see how; it is read as a constant")
                return None
            e = self._entry(obj, None, buf, -1, root, recipe)
            self.entries[id(obj)] = e
        buf = e.buffer
        if buf is None or e.version == buf.version:
            v = e.value
            if buf is not None and v is not None and (v.shape != obj.shape or
                                                      v.dtype != obj.dtype):
                return self._reshaped(e, obj)
            return v
        if e.parent is None:  # the buffer owner itself
            e.value, e.version = buf.value, buf.version
            if e.value.shape != obj.shape or e.value.dtype != obj.dtype:
                return self._reshaped(e, obj)
            return e.value
        pv = self.value_of(e.parent)
        rule, args, kwargs, pos = _derive_call(e.recipe, pv)
        v = self._new_value(obj)
        saved = ALL if self.save_all else saved_set(rule, (pos,))
        self.nodes.append(Node(rule, args, kwargs, (v,), loc_of(sys._getframe(1)), saved))
        e.value, e.version = v, buf.version
        self._save_derived(saved, pv, pos, v)
        return v

    def _bits_read(self, obj: np.ndarray, buf: Buffer) -> None:
        """``obj`` reads a traced float buffer's bytes as another kind (``x.view(np.int64)``,
        ``np.frombuffer(x, np.uint8)``, ``np.ndarray(..., buffer=x)``): framead does not follow
        values through bits, so FA104 at the reading line (once per view and buffer version);
        nothing where the buffer holds constants."""
        seen = self.__dict__.setdefault("_bits_seen", {})  # (buffer, version) -> view ids
        views = seen.get((id(buf), buf.version), 0)
        if views == 0:  # (rare: whether the buffer's value is a constant node's)
            v = buf.value
            made = next((n for n in reversed(self.nodes) if any(o is v for o in n.outputs)),
                        None)
            views = seen[(id(buf), buf.version)] = None if made is not None and \
                made.rule is CONST_RULE else set()
        if views is None or id(obj) in views:
            return
        views.add(id(obj))
        self.hazard("FA104", f"view as {obj.dtype}", sys._getframe(2),
                    f"a traced {buf.value.dtype} buffer's bytes read as {obj.dtype}: framead "
                    "does not follow values through their bits; what is computed from them "
                    "is a constant (no gradient flows through it)")

    def _save_derived(self, saved: Any, pv: Value, pos: int, v: Value) -> None:
        """Keep what a derived view's node (``v`` made from ``pv``, argument ``pos``) saves."""
        if self.save_all or pos in saved:
            self._protect(pv, None)
        if self.save_all or "ans" in saved:
            self._protect(v, None)

    def _reshaped(self, e: Entry, obj: np.ndarray) -> Value | None:
        """``a.shape = ...`` or ``a.dtype = ...`` changed a traced array where no probe saw it
        (``set_layout`` sees the program's own): a new shape is the reshape of the recorded
        value; a new dtype is FA104, a constant (saved values that are ``obj`` read their
        memory in their own layout again)."""
        frame = sys._getframe(2)
        old = e.value
        if old.dtype == obj.dtype:
            rule = rules.lookup(np.reshape)
            self._repoint_saved(e.buffer, obj, lambda: np.reshape(obj, old.shape))
            return self._relaid(e, obj, rule, (old, obj.shape), frame)
        self._repoint_saved(e.buffer, obj, lambda: obj.view(old.dtype).reshape(old.shape))
        return self._reinterpreted(e, obj, old, frame, seen=False)

    # -- a.shape = s, a.dtype = d, a.strides = s ------------------------------------------------

    def set_layout(self, a: np.ndarray, name: str, new: Any, frame: Any,
                   setter: Any = setattr) -> None:
        """``a.<name> = new`` for ``shape``/``dtype``/``strides``: ``a`` reads the same memory
        anew. Its value is re-derived from the one before: a reshape, a gather of its items
        (strides), a float <-> complex reinterpretation (``rules.layout_rules``); any other
        dtype is FA104 (a constant, or untraced for a dtype framead does not differentiate).
        Saved values that are ``a`` keep reading its memory in the old layout; views of an
        owner's memory are looked up again from its new layout. ``setter(a, name, new)``
        makes the change (NumPy 2.5's ``a._set_shape(s)``: writers.set_shape_method)."""
        e = self.entries.get(id(a))
        old = self.value_of(a) if (e is not None and e.obj is a) or self.buffers else None
        if old is None:
            call_quiet(setter, (a, name, new), None)  # (a warning names the user's line)
            return
        before = (a.shape, a.dtype, a.strides)
        alias = a.view(np.ndarray)  # the old layout over the same memory
        call_quiet(setter, (a, name, new), None)  # (NumPy's error: nothing recorded)
        if (a.shape, a.dtype, a.strides) == before:
            return
        e = self.entries[id(a)]
        self._repoint_saved(e.buffer, a, lambda: alias)
        if e.buffer is not None and e.parent is not None:  # a view: looked up again when read
            del self.entries[id(a)]
            if a.dtype.kind not in "fc":
                self.hazard("FA104", f"ndarray.{name}", frame,
                            f"a traced array's memory read as {a.dtype}: framead does not "
                            "follow values through it (writes through it are not seen)")
            return
        if a.dtype == old.dtype:
            if alias.flags.c_contiguous and a.flags.c_contiguous:
                self._relaid(e, a, rules.lookup(np.reshape), (old, a.shape), frame)
                return
            idx = prim.view_index(alias, a) if e.buffer is not None else None
            if idx is not None:
                self._relaid(e, a, GATHER_RULE, (old, idx), frame)
                return
        self._reinterpreted(e, a, old, frame, seen=True)

    def _relaid(self, e: Any, obj: np.ndarray, rule: Any, args: tuple, frame: Any) -> Value:
        """``obj``'s new value ``rule(*args)`` (args[0]: its value before), recorded now."""
        v = self._new_value(obj)
        saved = ALL if self.save_all else saved_set(rule, (0,))
        self.nodes.append(Node(rule, args, {}, (v,), loc_of(frame), saved))
        self._save_derived(saved, args[0], 0, v)
        e.value = v
        if e.parent is None and e.buffer is not None:
            e.buffer.value = v
            self._look_up_views(e.buffer, obj)
        return v

    def _reinterpreted(self, e: Any, obj: np.ndarray, old: Value, frame: Any,
                       seen: bool) -> Value | None:
        """``obj`` (its entry ``e``) now reads its memory as another dtype: a float <->
        complex reinterpretation ``seen`` at the program's store is exact; any other is
        FA104, ``obj`` a constant (untraced for a dtype framead does not differentiate)."""
        if e.buffer is not None and e.parent is not None:  # a view: looked up again
            del self.entries[id(obj)]
            if obj.dtype.kind in "fc":
                return self.value_of(obj)  # (its recipe from the memory, or FA104)
        elif seen and layout_rules.pairs_dtype(old.dtype, obj.dtype) and \
                self._views_of(e.buffer, obj) == []:
            return self._relaid(e, obj, _REINTERPRET_RULE, (old, obj.dtype), frame)
        self.hazard("FA104", "ndarray.dtype", frame,
                    f"a traced {old.dtype} array's memory read as {obj.dtype} (a.dtype = ...): "
                    "framead does not follow its values through that; they are constants from "
                    "here on")
        if obj.dtype.kind not in "fc":
            if e.buffer is not None and e.parent is None:
                self.buffers.pop(id(obj), None)
                self._look_up_views(e.buffer, obj)
            self.entries.pop(id(obj), None)
            return None
        v = self._new_value(obj)
        self.nodes.append(Node(CONST_RULE, (), {}, (v,), loc_of(frame)))
        if self.save_all or self.guards is not None:  # replays bake this value in
            self._protect(v, None)
        e.value = v
        if e.buffer is not None:
            e.buffer.value = v
            self._look_up_views(e.buffer, obj)
        return v

    def _repoint_saved(self, buf: Buffer | None, obj: np.ndarray, old_layout: Any) -> None:
        """Saved values whose primal is ``obj`` itself read ``old_layout()`` (``obj``'s
        memory in the layout they were recorded with) from now on."""
        if buf is None or not buf.saved:
            return
        alias = None
        for v in buf.saved:
            if v.primal is obj:
                if alias is None:
                    alias = old_layout()
                v.primal = alias

    def _views_of(self, buf: Buffer | None, root: np.ndarray) -> list:
        """The live traced views of ``buf``'s memory (not ``root``): (id, array) pairs."""
        if buf is None:
            return []
        return [(k, e.obj) for k, e in list(self.entries.items())
                if e.buffer is buf and e.parent is not None and e.obj is not None and
                e.obj is not root]

    def _look_up_views(self, buf: Buffer, root: np.ndarray) -> None:
        """The owner ``root`` reads its memory anew: its views' recipes (indices into its
        old layout) are made again from the memory when they are next read."""
        for k, _ in self._views_of(buf, root):
            del self.entries[k]

    def tree_value(self, obj: Any, _path: tuple = ()) -> Any:
        """Value for a traced leaf, a list/tuple copy with Values inside, or None (a list
        that contains itself is a constant where it recurs). List/tuple subclasses
        (namedtuples), deques and UserLists are read as NumPy converts them, below any Python
        override (``sequence_items``): an exact list/tuple copy."""
        t = type(obj)
        if t is np.ndarray and obj.dtype == object:
            return self.tree_value(obj.tolist()) if id(obj) in self.containers else None
        if t is list or t is tuple:
            kind, seq = t, obj
        elif t in _LEAVES or (read := sequence_items(obj)) is None:
            return self.value_of(obj)
        else:
            kind, seq = read
        if id(obj) in _path:
            return None
        path = (*_path, id(obj))
        items = [self.tree_value(x, path) for x in seq]
        if any(x is not None for x in items):
            return kind(x if x is not None else o for x, o in zip(items, seq, strict=True))
        return None

    def ensure_value(self, a: np.ndarray) -> Value:
        """An untraced array about to receive traced data: its buffer starts as a constant."""
        if self.buffer_of(buffer_owner(a)) is None:
            self._const_buffer(buffer_owner(a))
        return self.value_of(a)

    def hold_if_container(self, obj: Any) -> Any:
        """An object ndarray holding traced floats: let the C probes see it as traced (its
        items are followed by identity, like a list's)."""
        if type(obj) is np.ndarray and obj.dtype == object and obj.size and \
                any(self.entries.get(id(v)) is not None for v in obj.flat):
            self.containers[id(obj)] = obj
            C.track(obj)
        return obj


_LEAVES = frozenset({float, int, bool, complex, str, type(None), np.ndarray, np.float64})


def sequence_items(obj: Any) -> tuple[type, list] | None:
    """``(list or tuple, obj's items)`` for a list/tuple subclass (its storage), a deque
    (its C iteration) or a UserList (its ``data`` list), read without running any Python
    code of theirs; None for anything else."""
    if isinstance(obj, list):
        return list, list(list.__iter__(obj))
    if isinstance(obj, tuple):
        return tuple, list(tuple.__iter__(obj))
    if isinstance(obj, collections.deque):
        return list, list(collections.deque.__iter__(obj))
    if isinstance(obj, collections.UserList):
        try:
            data = object.__getattribute__(obj, "__dict__").get("data")
        except AttributeError:
            return None
        return (list, list(list.__iter__(data))) if isinstance(data, list) else None
    return None


def _same_layout(a: np.ndarray, b: np.ndarray) -> bool:
    """``a`` is ``b`` seen as another class (``b.view(cls)``): same memory, shape, strides."""
    return a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype and \
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]


def call_recipe(rule, fn, node_args, kwargs, result):
    """If ``result`` is a view of a traced argument, how to re-make it from that argument."""
    root = buffer_owner(result)
    for pos, a in enumerate(node_args):
        if isinstance(a, np.ndarray) and buffer_owner(a) is root:
            if rule is GATHER_RULE:  # as_strided's view: its elements' indices (a gather
                return a, ("index", node_args[1])  # copies, so it is no recipe to write by)
            f = rule.fn
            if not callable(f) or isinstance(fn, types.BuiltinMethodType) and pos == 0:
                f = getattr(type(a), getattr(fn, "__name__", ""), None) or f
            if not callable(f):
                return None, None
            rest = node_args[:pos] + node_args[pos + 1:]
            if not _remakes(f, rest, kwargs, pos, a, result):
                return None, None  # (an index recipe into the owner instead)
            return a, ("call", f, rest, dict(kwargs), pos, rule)
    return None, None


def _remakes(f, rest: tuple, kwargs: dict, pos: int, a: np.ndarray, result: np.ndarray) -> bool:
    """Whether ``f`` re-makes ``result`` as a view with the same elements from a C-ordered
    copy of ``a``, as the reverse pass and replays apply the recipe (``a.reshape(.., order='F')``
    or ``a.ravel('A')`` of a Fortran-ordered ``a`` is a view natively, a copy or another order
    there: a write through it would be lost). A C-contiguous ``a`` is laid out as its copy."""
    if a.flags.c_contiguous:
        return True
    lin = np.arange(a.size).reshape(a.shape)  # (each element's C-order index)
    laid = np.empty_like(a, dtype=np.intp)  # (the same, in a's order of strides)
    laid[...] = lin
    try:
        again, native = f(*rest[:pos], lin, *rest[pos:], **kwargs), \
            f(*rest[:pos], laid, *rest[pos:], **kwargs)
    except Exception:  # noqa: BLE001 - not re-made: the owner's index recipe instead
        return False
    return isinstance(again, np.ndarray) and isinstance(native, np.ndarray) and \
        again.shape == result.shape and np.may_share_memory(again, lin) and \
        bool(np.array_equal(again, native))


def _derive_call(recipe, pv):
    """(rule, args, kwargs, position of ``pv`` in args) re-making a view from ``pv``."""
    kind = recipe[0]
    if kind == "getitem":
        return rules.lookup(operator.getitem), (pv, recipe[1]), {}, 0
    if kind == "attr":
        return rules.lookup_attr(np.ndarray, recipe[1]), (pv,), {}, 0
    if kind == "call":
        _, fn, args, kwargs, pos, rule = recipe
        return rule, (*args[:pos], pv, *args[pos:]), dict(kwargs), pos
    return GATHER_RULE, (pv, recipe[1]), {}, 0


def _reaper(table_ref: weakref.ref) -> Any:
    """The callback of a table's weak entries (capture/_evalframe.c ``reap_entry``): a freed
    array's entry (and, for a memory owner, its buffer) leaves the table, unless the id
    already names a new object; while the table's session is active, the C probes forget the
    address (at once in the thread whose current recorder the table is, else through
    ``table._stale`` and ``purge_stale``)."""
    return C.make_reaper(table_ref)


def _untrack_address(key: int) -> None:
    """``C.untrack`` of the object that was at address ``key`` (being freed, or gone: the
    address is only hashed, never dereferenced)."""
    C.untrack_address(key)
