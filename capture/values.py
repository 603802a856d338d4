"""The recorder's shadow table: which IR value each traced object holds now.

Arrays share buffers (``buffers.Buffer``, with SSA versions); a view remembers how it was made
(a recipe) so that after a write into its buffer its value is re-derived from the new
version (``rules.primitives``). Part of ``Recorder`` (recorder.py)."""

from __future__ import annotations

import operator
import sys
import types
from typing import Any

import numpy as np
from framead.rules import primitives as prim

from framead import rules
from framead.ir import Node, Value

from . import _evalframe as C
from .buffers import Buffer, Entry, buffer_owner
from .overrides import plain
from .primitive_rules import CONST_RULE, GATHER_RULE
from .saves import ALL, saved_set
from .sourceloc import loc_of


class ValueTable:
    """Values, buffers and views of one capture (``Recorder``'s state: ``entries``,
    ``buffers``, ``nodes``)."""

    def _new_value(self, obj: Any) -> Value:
        """A Value for ``obj``; subclasses as their base type (the reverse pass computes with
        a plain ndarray over an np.matrix's memory, a float for a float subclass)."""
        self._next_id += 1
        t = type(obj)
        if t is np.ndarray or isinstance(obj, np.generic):
            return Value(self._next_id, obj.shape, obj.dtype, t, obj)
        if isinstance(obj, np.ndarray):
            return Value(self._next_id, obj.shape, obj.dtype, np.ndarray, plain(obj))
        base = complex if isinstance(obj, complex) else float if isinstance(obj, float) else t
        return Value(self._next_id, (), np.dtype(base), base, obj)

    def new_input(self, obj: Any) -> Value:
        """Register a (freshly re-boxed) input object."""
        v = self._new_value(obj)
        v.name = f"x{len(self.inputs)}"
        self._register(obj, v)
        self.inputs.append(v)
        return v

    def _register(self, obj: Any, v: Value, parent: Any = None, recipe: tuple | None = None):
        """Make ``obj`` a traced object whose current IR value is ``v``."""
        if isinstance(obj, np.ndarray):
            root = buffer_owner(obj)
            if root is obj:
                buf = Buffer(obj, v)
                self.buffers[id(obj)] = buf
                self.entries[id(obj)] = Entry(obj, v, buf, 0)
                C.track(obj)
                return
            buf = self.buffers.get(id(root))
            if buf is None and _same_layout(obj, root):
                # a fresh result NumPy wrapped as a view (a subclass's: np.ma): its memory's
                # owner holds the same value
                buf = self.buffers[id(root)] = Buffer(root, v)
                self.entries[id(root)] = Entry(root, v, buf, 0)
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
                    self.entries[id(obj)] = Entry(obj, v)
                    C.track(obj)
                    return
            self.entries[id(obj)] = Entry(obj, v, buf, buf.version, parent, recipe)
            return
        self.entries[id(obj)] = Entry(obj, v)
        C.track(obj)

    def _const_buffer(self, root: np.ndarray) -> Buffer:
        v = self._new_value(root)
        self.nodes.append(Node(CONST_RULE, (), {}, (v,), loc_of(sys._getframe(2))))
        buf = Buffer(root, v)
        self.buffers[id(root)] = buf
        self.entries[id(root)] = Entry(root, v, buf, 0)
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
            buf = self.buffers.get(id(root))
            if buf is None or obj.dtype.kind not in "fc":
                return None
            recipe = self._index_recipe(root, obj)
            if recipe is None:
                self.hazard("FA104", "view", sys._getframe(1),
                            f"a {obj.dtype} view of a traced {root.dtype} buffer made where "
                            "framead could not see how; it is read as a constant")
                return None
            e = Entry(obj, None, buf, -1, root, recipe)
            self.entries[id(obj)] = e
        buf = e.buffer
        if buf is None or e.version == buf.version:
            v = e.value
            if buf is not None and v is not None and v.shape != obj.shape:
                return self._reshaped(e, obj)
            return v
        if e.parent is None:  # the buffer owner itself
            e.value, e.version = buf.value, buf.version
            if e.value.shape != obj.shape:
                return self._reshaped(e, obj)
            return e.value
        pv = self.value_of(e.parent)
        rule, args, kwargs = _derive_call(e.recipe, pv)
        v = self._new_value(obj)
        self.nodes.append(Node(rule, args, kwargs, (v,), loc_of(sys._getframe(1)),
                               saved=ALL if self.save_all else saved_set(rule, (0,))))
        e.value, e.version = v, buf.version
        if self.save_all:
            self._protect(pv, None)
            self._protect(v, None)
        return v

    def _reshaped(self, e: Entry, obj: np.ndarray) -> Value:
        """``a.shape = ...`` changed a traced array's shape in place (np.matrix's indexing
        does it), which no probe sees: its value is the reshape of the recorded one."""
        rule = rules.lookup(np.reshape)
        v = self._new_value(obj)
        self.nodes.append(Node(rule, (e.value, obj.shape), {}, (v,), loc_of(sys._getframe(2)),
                               ALL if self.save_all else saved_set(rule, (0,))))
        e.value = v
        if e.parent is None:
            e.buffer.value = v
        return v

    def tree_value(self, obj: Any, _path: tuple = ()) -> Any:
        """Value for a traced leaf, a list/tuple copy with Values inside, or None (a list
        that contains itself is a constant where it recurs)."""
        if type(obj) is np.ndarray and obj.dtype == object:
            return self.tree_value(obj.tolist()) if id(obj) in self.containers else None
        if type(obj) in (list, tuple):
            if id(obj) in _path:
                return None
            path = (*_path, id(obj))
            items = [self.tree_value(x, path) for x in obj]
            if any(x is not None for x in items):
                return type(obj)(x if x is not None else o for x, o in zip(items, obj,
                                                                           strict=True))
            return None
        return self.value_of(obj)

    def ensure_value(self, a: np.ndarray) -> Value:
        """An untraced array about to receive traced data: its buffer starts as a constant."""
        if id(buffer_owner(a)) not in self.buffers:
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


def _same_layout(a: np.ndarray, b: np.ndarray) -> bool:
    """``a`` is ``b`` seen as another class (``b.view(cls)``): same memory, shape, strides."""
    return a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype and \
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]


def call_recipe(rule, fn, node_args, kwargs, result):
    """If ``result`` is a view of a traced argument, how to re-make it from that argument."""
    root = buffer_owner(result)
    for pos, a in enumerate(node_args):
        if isinstance(a, np.ndarray) and buffer_owner(a) is root:
            f = rule.fn
            if not callable(f) or isinstance(fn, types.BuiltinMethodType) and pos == 0:
                f = getattr(type(a), getattr(fn, "__name__", ""), None) or f
            if not callable(f):
                return None, None
            rest = node_args[:pos] + node_args[pos + 1:]
            return a, ("call", f, rest, dict(kwargs), pos, rule)
    return None, None


def _derive_call(recipe, pv):
    kind = recipe[0]
    if kind == "getitem":
        return rules.lookup(operator.getitem), (pv, recipe[1]), {}
    if kind == "attr":
        return rules.lookup_attr(np.ndarray, recipe[1]), (pv,), {}
    if kind == "call":
        _, fn, args, kwargs, pos, rule = recipe
        return rule, (*args[:pos], pv, *args[pos:]), dict(kwargs)
    return GATHER_RULE, (pv, recipe[1]), {}
