"""Writes into traced arrays: ``a[k] = v``, ``a += b``, in-place NumPy calls and ``out=``.

Before a write, values the reverse pass reads from the written memory are copied (copy-on-
write); after it, the buffer's next version, every view re-derived (``write_back``)."""

from __future__ import annotations

import operator
import sys
import weakref
from typing import Any

import numpy as np
from framead.rules import mutation_rules as _mut
from framead.rules import primitives as prim

from framead import rules
from framead.ir import Node, Value

from .aliased_writes import fancy_set_item, flat_set_item
from .buffers import buffer_owner, overlaps
from .call_kinds import RAW_STORAGE_TYPES
from .membership import stored_key
from .native import call_as_user, call_quiet
from .operators import INPLACE_OPS
from .overrides import plain, python_attr
from .primitive_rules import CONST_RULE, COPY_RULE, SETITEM_RULE, VIEW_UPDATE_RULE
from .saves import ALL, NOTHING, plain_constants, saved_set
from .sourceloc import loc_of
from .special_forms import object_store, object_write
from .stored_casts import Stored, StoredResult
from .unruled import refused_call
from .values import RESIZE_RULE, _same_layout


def _gone_root() -> None:
    """A buffer's root while framead's weak reference to it is dropped (``resize``)."""


class Mutations:
    """The write paths of ``Recorder``."""

    def copy_on_write(self, region: np.ndarray) -> None:
        """Before ``region`` is overwritten, copy the saved values that live in it."""
        buf = self.buffer_of(buffer_owner(region))
        if buf is None or not buf.saved:
            return
        keep = []
        for v in buf.saved:
            if overlaps(v.primal, region):
                v.primal = np.array(v.primal, copy=True)
                # the copy stands for v: a reverse pass run under this capture (higher
                # order, framead/api.py) reads it and must be recorded as reading v
                self._own_buffer(v.primal, v)
                self.stats["bytes_copied"] += v.primal.nbytes
                self.stats["copies"] += 1
                buf.saved_ids.discard(v.id)
            else:
                keep.append(v)
        buf.saved = keep

    def write_back(self, obj: np.ndarray, new: Value, frame: Any,
                   uniform: bool = False) -> None:
        """``obj`` (an owner or a view) now holds ``new``: fold it into its buffer. A view
        whose elements share memory (as_strided, a writeable broadcast_to) took ``new``
        exactly only where every position of one element got the same value (``uniform``:
        the writer says so); else NumPy's order decided: FA104, its memory a constant. A
        view of such a view is folded straight into the owner by its own elements. An
        integer or bool buffer holds what NumPy's cast made of ``new`` (``_integral_write``)."""
        root = buffer_owner(obj)
        if obj.dtype.kind in _INTEGRAL and root.dtype.kind in _INTEGRAL:
            return self._integral_write(root, obj, new, frame)
        buf = self.buffer_of(root) or self._const_buffer(root)
        chain, cur = [], obj
        while cur is not root:
            e = self._view_entry(cur, root, buf)
            if e is None:
                return self._lost_write(root, buf, obj, frame)
            chain.append(e)
            cur = e.parent
        if chain and not uniform and prim.self_overlapping(obj):
            self.hazard("FA104", "write through an overlapping view", frame, _OVERLAP)
            new = self._new_value(obj)
            self.nodes.append(Node(CONST_RULE, (), {}, (new,), loc_of(frame)))
            if self.guards is not None or self.save_all:  # (replays bake this value in)
                self._protect(new, frame)
        if len(chain) > 1 and any(prim.self_overlapping(e.parent) for e in chain[:-1]):
            recipe = self._index_recipe(root, obj)
            if recipe is None:
                return self._lost_write(root, buf, obj, frame)
            chain = [(root, recipe)]
        else:
            chain = [(e, None) for e in chain]
        val = new
        for e, direct in chain:
            parent = root if direct is not None else e.parent
            pv = self.value_of(parent)
            nv = self._new_value(parent)
            self.nodes.append(Node(VIEW_UPDATE_RULE, (pv, val, direct or e.recipe), {},
                                   (nv,), loc_of(frame), NOTHING))
            if direct is None:
                e.value = val
                # keep e.version stale until the bump below makes it current again
                e.version = buf.version + 1
            val = nv
            if self.save_all:  # (forward mode reads every primal)
                self._keep(pv)
                self._protect(nv, frame)
        buf.version += 1
        buf.value = val
        re = self.entries[id(root)]
        re.value, re.version = val, buf.version
        if obj is not root:
            oe = self.entries[id(obj)]
            oe.value, oe.version = new, buf.version
        if self.save_all:  # every primal keeps the value it had when its node ran
            self._protect(new, frame)
        return None

    def _integral_write(self, root: np.ndarray, obj: np.ndarray, new: Value,
                        frame: Any) -> None:
        """``obj``, of an integer or bool buffer, now holds NumPy's cast of ``new``: values
        that move in steps (zero derivative almost everywhere), so the buffer holds constants
        from now on (an untraced one stays untraced), as after ``x.astype(int)``. A cached
        trace re-checks the stored values (re-running the node that made ``new``)."""
        last = self.nodes[-1] if self.nodes else None
        if self.guards is not None and last is not None and last.rule is not CONST_RULE and \
                any(o is new for o in last.outputs):
            self.guard(Stored(obj.dtype), (new,), {}, (new,), np.array(obj, copy=True), frame)
        buf = self.buffer_of(root)
        if buf is not None:  # (an untraced buffer stays a plain constant)
            self._constant_buffer(root, buf, frame)

    def _view_entry(self, cur: np.ndarray, root: np.ndarray, buf: Any) -> Any:
        """The entry of ``cur``, a view of ``root``'s memory, with how it is made from its
        parent; made here for a view framead did not see made (from its elements' places,
        or, of a complex buffer, as an index into its .real or .imag): None if neither."""
        e = self.entries.get(id(cur))
        if e is not None and e.obj is cur and e.parent is not None:
            return e
        recipe = self._index_recipe(root, cur)
        if recipe is not None:
            e = self.entries[id(cur)] = self._entry(cur, None, buf, -1, root, recipe)
            return e
        if root.dtype.kind != "c" or cur.dtype != root.real.dtype:
            return None
        for name in ("real", "imag"):
            part = getattr(np.ndarray, name).__get__(root)
            if _same_layout(part, cur):
                e = self.entries[id(cur)] = self._entry(cur, None, buf, -1, root,
                                                        ("attr", name))
                return e
            idx = prim.view_index(part, cur)
            if idx is not None:
                self.entries[id(part)] = self._entry(part, None, buf, -1, root, ("attr", name))
                e = self.entries[id(cur)] = self._entry(cur, None, buf, -1, part,
                                                        ("index", idx))
                return e
        return None

    def _lost_write(self, root: np.ndarray, buf: Any, obj: np.ndarray, frame: Any) -> None:
        """A write through ``obj``, a view of ``root`` framead cannot map onto its memory:
        FA104, and ``root`` holds constants from now on."""
        self.hazard("FA104", "write through a view", frame,
                    f"framead cannot follow a write through a {obj.dtype} view of a "
                    f"{root.dtype} buffer made where it could not see how; the buffer is read "
                    "as a constant from here on")
        self._constant_buffer(root, buf, frame)

    def _constant_buffer(self, root: np.ndarray, buf: Any, frame: Any) -> None:
        """``root``'s buffer holds constants from here on: a new version, a constant node."""
        v = self._new_value(root)
        self.nodes.append(Node(CONST_RULE, (), {}, (v,), loc_of(frame)))
        if self.guards is not None or self.save_all:  # (replays bake this value in)
            self._protect(v, frame)
        buf.version += 1
        buf.value = v
        re = self.entries[id(root)]
        re.value, re.version = v, buf.version

    def _adopt(self, a: Any) -> None:
        """A view of a traced buffer framead did not see made gets its recipe here."""
        if isinstance(a, np.ndarray) and a.base is not None and self.buffers:
            e = self.entries.get(id(a))
            if e is None or e.obj is not a:
                root = buffer_owner(a)
                buf = self.buffer_of(root)
                if buf is not None:
                    self._view_entry(a, root, buf)

    def _target_value(self, a: np.ndarray) -> Value | None:
        """``a``'s value as a write's target: an untraced buffer starts as a constant."""
        root = buffer_owner(a)
        buf = self.buffer_of(root) or self._const_buffer(root)
        if a is not root:
            self._view_entry(a, root, buf)
        return self.value_of(a)

    def _structured(self, a: Any, frame: Any, op: str) -> bool:
        """Whether ``a`` is (a view into) a structured array (``dtype.names``) or one of its
        np.void records: a traced value written there is FA104 (framead does not follow
        values through fields; they are constants)."""
        if isinstance(a, np.void):
            named = True
        elif isinstance(a, np.ndarray):
            named = a.dtype.names is not None or buffer_owner(a).dtype.names is not None
        else:
            return False
        if named:
            self.hazard("FA104", op, frame, "a traced value written into a structured array "
                        "(a dtype with fields): framead does not follow values through its "
                        "fields; what is read back from it is a constant")
        return named

    def overwrite_with_constant(self, a: np.ndarray, frame: Any) -> None:
        """``a`` was changed by something framead cannot see: from now on it is constant."""
        v = self._new_value(a)
        self.nodes.append(Node(CONST_RULE, (), {}, (v,), loc_of(frame)))
        self.write_back(a, v, frame, uniform=True)  # (its memory as it is)
        if self.guards is not None:  # replays bake this value in (save_all protects it too)
            self._protect(v, frame)

    def mutate(self, rule, fn, call_args: tuple, call_kwargs: dict, node_args: tuple,
               target: np.ndarray, frame: Any, node_kwargs: dict | None = None) -> Any:
        """Run an in-place ``fn`` that overwrites ``target`` with ``rule(*node_args)``; a call
        the rule refuses (``Rule.refuses``) is run as a call with no rule (FA101, the written
        traced arrays made constants: FA104), as ``Recorder.apply`` does."""
        self._adopt(target)
        vals = [self.tree_value(a) for a in node_args]
        if getattr(rule, "refusal", None) is not None and any(v is not None for v in vals) \
                and (why := rule.refuses(node_args, dict(call_kwargs) if node_kwargs is None
                                         else node_kwargs)) is not None:
            return refused_call(self, rule.name, why, fn, call_args, call_kwargs, node_args,
                                frame)
        if any(v is not None for v in vals) and self._structured(target, frame, rule.name):
            return fn(*call_args, **call_kwargs)
        if target is node_args[0] and vals[0] is None:
            vals[0] = self._target_value(target)
        traced = [i for i, v in enumerate(vals) if v is not None]
        if not traced:
            return fn(*call_args, **call_kwargs)
        if rule.cut:  # x //= 2.0: the target now holds constants, as Recorder.apply's cuts
            return self._cut_in_place(rule, fn, call_args, call_kwargs, node_args, target,
                                      frame, vals, node_kwargs)
        node_args = self._coerce_args(rule, node_args, vals, traced, frame)
        args = [v if v is not None else a
                for v, a in zip(vals, plain_constants(node_args), strict=True)]
        saves = ALL if self.save_all else saved_set(rule, traced)
        for i in saves:
            if i != "ans" and i < len(args):
                args[i] = self._protect(args[i], frame)
        if self.guards is not None:
            args = self._keep_constants(args, frame)
        args = tuple(args)
        self.copy_on_write(target)
        kw = dict(call_kwargs) if node_kwargs is None else node_kwargs
        try:
            result = call_quiet(fn, call_args, call_kwargs)
        except FloatingPointError:
            # np.errstate(...="raise"): NumPy raises once the loop has written the target
            self._wrote(rule, args, kw, saves, target, frame)
            raise
        if fn in INPLACE_OPS and result is not target:  # the op was not in place after all
            return self.apply(rule, lambda *_: result, (), {}, node_args, frame)
        self._wrote(rule, args, kw, saves, target, frame, _uniform(rule, node_args, target))
        return result

    def _cut_in_place(self, rule, fn, call_args: tuple, call_kwargs: dict, node_args: tuple,
                      target: np.ndarray, frame: Any, vals: list,
                      node_kwargs: dict | None) -> Any:
        """An in-place write by a rule with no derivative (a cut): ``target`` holds constants
        from now on (FA102 where the rule says so); a cached trace guards what it holds (the
        functional rule at the traced operands, as ``Recorder.apply``'s cuts), or is not
        replayable where the rule is not a function of them."""
        self.copy_on_write(target)
        try:
            result = call_quiet(fn, call_args, call_kwargs)
        except FloatingPointError:
            self._now_constants((target,), frame)
            raise
        if fn in INPLACE_OPS and result is not target:  # the op was not in place after all
            return self.apply(rule, lambda *_: result, (), {}, node_args, frame)
        self._now_constants((target,), frame)
        if getattr(rule, "hazard", None):
            self.hazard("FA102", rule.name, frame, rule.hazard)
        if self.guards is not None:  # (a op= b: the functional op's, stored in a's dtype)
            if callable(rule.fn) and not rule.mutates and target is node_args[0]:
                self.guard(StoredResult(rule.fn, target.dtype), node_args, dict(call_kwargs)
                           if node_kwargs is None else node_kwargs, vals, target, frame)
            else:
                self.unreplayable.append(f"{rule.name} writes what has no derivative in place")
        return result

    def resize(self, a: np.ndarray, args: tuple, kwargs: dict, frame: Any,
               native_refs: Any) -> Any:
        """``a.resize(...)`` as natively (NumPy refuses an array with weak references, and
        with ``refcheck`` one referenced more than by its name and the call): framead's own weak
        references to ``a`` are dropped around the native call and its saved values in ``a``
        copied first; ``native_refs()`` counts the references the program holds. The result
        is recorded (``a``'s old values in C order, then zeros: ``layout_rules.resize_into``)
        as ``a``'s new buffer; other errors are NumPy's own, nothing recorded."""
        if not isinstance(a, np.ndarray) or a.base is not None or \
                not a.flags.owndata:  # (NumPy's own error, as natively)
            return a.resize(*args, **kwargs)
        before, size = sys.getrefcount(a), a.size
        old = self.value_of(a)
        if old is not None:
            self.copy_on_write(a)  # (its saved values held a: counted off by ``before``)
        held = self._drop_weak_refs(a)
        try:
            refs = native_refs() - (before - sys.getrefcount(a)) \
                if kwargs.get("refcheck", True) else 0
            if refs > 2 or weakref.getweakrefcount(a):
                result = a.resize(*args, **kwargs)  # NumPy's error (or a same-size resize)
            else:
                result = a.resize(*args, **{**kwargs, "refcheck": False})
        except BaseException:
            self._restore_weak_refs(a, held)
            raise
        buf = held[1]
        if old is None:
            self._restore_weak_refs(a, held)
            return result
        self.buffers.pop(id(a), None)
        views = self._views_of(buf, a)
        for k, _ in views:
            del self.entries[k]  # (the same memory, when the size is: looked up again)
        if views and a.size != size:
            self.hazard("FA104", "ndarray.resize", frame,
                        "resized (refcheck=False) with views of it alive: NumPy moved its "
                        "memory, the views read freed memory; framead reads them as constants")
        new = self._new_value(a)
        saves = ALL if self.save_all else saved_set(RESIZE_RULE, (0,))
        self.nodes.append(Node(RESIZE_RULE, (old, a.shape), {}, (new,), loc_of(frame), saves))
        self._save_derived(saves, old, 0, new)
        self._own_buffer(a, new)
        return result

    def _drop_weak_refs(self, a: np.ndarray) -> tuple:
        """Remove framead's weak references to ``a`` (its table entry, its buffer's root,
        weak primals); what ``_restore_weak_refs`` puts back."""
        e = self.entries.get(id(a))
        entry = None
        if e is not None and e.obj is a:
            entry = (e.value, e.buffer, e.version, e.parent, e.recipe)
            del self.entries[id(a)]
        del e
        buf = self.buffer_of(a)
        if buf is not None:
            buf._root = _gone_root
        primals = [vid for vid, r in self._refs.items() if r() is a]
        for vid in primals:
            del self._refs[vid]
        return entry, buf, primals

    def _restore_weak_refs(self, a: np.ndarray, held: tuple) -> None:
        entry, buf, primals = held
        if entry is not None:
            self.entries[id(a)] = self._entry(a, *entry)
        if buf is not None:
            buf._root = weakref.ref(a)
        for vid in primals:
            self._refs[vid] = weakref.ref(a)

    def _wrote(self, rule, args: tuple, kw: dict, saves: Any, target: np.ndarray,
               frame: Any, uniform: bool = False) -> None:
        """``target`` now holds ``rule(*args, **kw)``: the node, then the write into its
        buffer (``uniform``: as ``write_back``'s)."""
        out = self._new_value(target)
        self.nodes.append(Node(rule, args, kw, (out,), loc_of(frame), saves))
        self.write_back(target, out, frame, uniform)
        if "ans" in saves:
            self._protect(out, frame)

    def _inplace(self, fop, iop, a: np.ndarray, b: Any, frame: Any) -> Any:
        """``a op= b`` on an array: a functional node, then a write into a's buffer."""
        if self.value_of(a) is None and self.tree_value(b) is None:
            return iop(a, b)
        if a.dtype.kind == "O" and id(a) not in self.containers:  # objs += x: object loop's
            return object_write(self, f"operator.{iop.__name__}", iop, (a, b), {}, (a, b), a,
                                frame)
        rule = rules.lookup(_narrowing_ufunc(fop, a, b) or fop)
        if rule is None:
            return self.unknown_call(iop, (a, b), {}, frame)
        return self.mutate(rule, iop, (a, b), {}, (a, self.coerce(b, frame)), a, frame)

    def set_item(self, a: Any, k: Any, v: Any, frame: Any, base_slot: Any = None) -> None:
        """``a[k] = v``; ``base_slot`` as for get_item (``super().__setitem__``)."""
        if type(a) is np.flatiter:  # (unbuffered where v is a view of a.base)
            return flat_set_item(self, a, k, v, frame)
        if not isinstance(a, np.ndarray):
            if isinstance(a, dict):  # d[k] = v: which key k merges into, in a cached trace
                stored_key(self, a, k, frame)
            if isinstance(a, np.void) and self.tree_value(v) is not None:
                self._structured(a, frame, "np.void.__setitem__")  # (a record's memory)
            if type(a).__flags__ & _HEAPTYPE:  # (a class's __setitem__: the user's line calls)
                call_as_user(operator.setitem, (a, k, v), None)
            else:
                a[k] = v  # containers: identity carries traced items along
            if isinstance(a, RAW_STORAGE_TYPES) and self.tree_value(v) is not None:
                self.hazard("FA105", f"{type(a).__name__}.__setitem__", frame,
                            f"a traced value was stored into a {type(a).__name__}, which "
                            "keeps raw numbers framead cannot follow")
            return None
        if base_slot is None and python_attr(type(a), "__setitem__"):
            # np.ma's own assignment (it writes its data and mask), instrumented
            return call_as_user(operator.setitem, (a, k, v), None)
        if type(a) is np.ndarray and a.dtype.kind == "O" and self.value_of(a) is None:
            return object_store(self, a, k, v, frame, base_slot)  # (it keeps numbers)
        self._adopt(a)
        av, vv = self.value_of(a), self.tree_value(v)
        if av is None and vv is None:
            if base_slot is None:
                a[k] = v
            else:
                base_slot(k, v)
            return None
        if type(v) is np.ndarray and base_slot is None and fancy_set_item(self, a, k, v, frame):
            return None  # a[m] = a view of a (NumPy's masks copy unbuffered)
        if vv is not None and _stores_itself(a, k, v):
            av = None  # (s["p"] = s["p"] after s["p"] += x: its memory as it is, written)
        elif vv is not None and self._structured(a, frame, "ndarray.__setitem__"):
            av = None  # (written natively, untraced)
        elif av is None and (av := self._target_value(a)) is None:
            root = buffer_owner(a)  # a view framead cannot map: FA104, the buffer constant
            self._write_item(a, k, v, base_slot)
            self._lost_write(root, self.buffer_of(root), a, frame)
            return None
        if av is None:
            return self._write_item(a, k, v, base_slot)
        region, key = a, k
        if prim.is_basic_key(k):  # (natively: a subclass's __array_finalize__ may run)
            keys = k if isinstance(k, tuple) else (k,)
            shared = a.base is not None and prim.self_overlapping(a)
            if shared and Ellipsis not in keys:
                keys = (*keys, Ellipsis)  # (a 0-d view for an element)
            sub = call_quiet(np.ndarray.__getitem__, (a, keys), None)
            if isinstance(sub, np.ndarray):
                region = sub
            if shared and region is not a:
                # the write goes to region's own elements (a's others may alias them)
                av, key = self._target_value(region), Ellipsis
        self.copy_on_write(region)
        self._write_item(a, k, v, base_slot)
        if av is None:  # (an element framead cannot map onto the memory)
            root = buffer_owner(a)
            return self._lost_write(root, self.buffer_of(root), region, frame)
        target = a if key is k else region
        out = self._new_value(target)
        self.nodes.append(Node(SETITEM_RULE, (av, key, vv if vv is not None else plain(v)),
                               {}, (out,), loc_of(frame), NOTHING))
        if self.save_all:  # (forward mode reads every primal)
            self._keep_values((av, vv))
        self.write_back(target, out, frame, prim.is_basic_key(k) and _scalar(v))
        return None

    @staticmethod
    def _write_item(a: np.ndarray, k: Any, v: Any, base_slot: Any) -> None:
        if base_slot is not None:
            base_slot(k, v)
        elif type(a) is np.ndarray:  # (as from the user's line: NumPy's ComplexWarning's)
            call_quiet(operator.setitem, (a, k, v), None)
        else:
            a[k] = v

    def _masked_out(self, rule, fn, call_args, call_kwargs, node_args, frame) -> Any:
        """``fn(..., out=o, where=m)``: o keeps its old values where m is False, so record the
        full result, then ``o@n+1 = copyto(o@n, full, where=m)`` (each output of a tuple)."""
        outs = call_kwargs["out"]
        outs = outs if isinstance(outs, tuple) else (outs,)
        where = call_kwargs["where"]
        kw = {k: v for k, v in call_kwargs.items() if k not in ("out", "where")}
        full = self.apply(rule, fn, call_args, kw, node_args, frame)
        fulls = full if isinstance(full, tuple) else (full,)
        pairs = [(o, f, self.value_of(o), self.value_of(f))
                 for o, f in zip(outs, fulls, strict=False) if isinstance(o, np.ndarray)]
        pairs = [(o, f, ov if ov is not None or fv is None else self.ensure_value(o), fv)
                 for o, f, ov, fv in pairs if ov is not None or fv is not None]
        for o, *_ in pairs:
            self.copy_on_write(o)
        result = call_quiet(fn, call_args, call_kwargs)
        for o, f, ov, fv in pairs:
            new = self._new_value(o)
            self.nodes.append(Node(rules.lookup(_mut.copyto),
                                   (ov, fv if fv is not None else f, "unsafe", where), {},
                                   (new,), loc_of(frame), NOTHING))
            if self.save_all:  # (forward mode reads every primal)
                self._keep_values((ov, fv))
            self.write_back(o, new, frame)
        return result

    def fresh_copy(self, x: Any, frame: Any, traced: bool) -> Any:
        """A new object equal to ``x``, the input of a capture nested in this one: recorded as
        a copy of ``x`` when ``x`` is traced here, else (``traced``) a value of its own."""
        y = self.apply(COPY_RULE, _copy_of_its_class, (x,), {}, (x,), frame)
        if traced and self.value_of(y) is None:
            self._register(y, self._new_value(y))
        return y

    def constant_copy(self, x: Any, frame: Any) -> Any:
        """A new object equal to ``x`` (a nested reverse pass's seed), a constant value here
        (a replay bakes it in): the derivative code's products with it are recorded."""
        y = _copy_of_its_class(x)
        v = self._new_value(y)
        self.nodes.append(Node(CONST_RULE, (), {}, (v,), loc_of(frame)))
        self._register(y, v)
        if self.guards is not None or self.save_all:
            self._protect(v, frame)
        return y


_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class the program made
_INTEGRAL = frozenset("biumM")  # dtype kinds whose values move in steps: bool, ints, times


_OVERLAP = ("a write through a view whose elements share memory (as_strided, "
            "sliding_window_view(writeable=True), a writeable broadcast_to) with values that "
            "differ between the places of one element: NumPy's order of writes decides which "
            "stays; framead reads the view's elements as constants from here on")


def _stores_itself(a: np.ndarray, k: Any, v: Any) -> bool:
    """``a[k] = v`` where ``v`` is the view ``a[k]`` itself (the store after ``a[k] op= b``)
    of a structured array: nothing changes."""
    if a.dtype.names is None or not isinstance(v, np.ndarray) or v.base is None:
        return False
    try:
        region = call_quiet(np.ndarray.__getitem__, (a, k), None)
    except Exception:  # (NumPy's own error comes from the store itself)
        return False
    return isinstance(region, np.ndarray) and _same_layout(region, v)


def _uniform(rule: Any, node_args: tuple, target: np.ndarray) -> bool:
    """An elementwise write into ``target`` from scalars and ``target`` itself: the places
    of one element (which hold one value) all get one value, whatever NumPy's order."""
    return target.base is not None and bool(getattr(rule, "elementwise", False)) and all(
        a is target or _scalar(a) for a in node_args)


_UFUNCS = {operator.add: np.add, operator.sub: np.subtract, operator.mul: np.multiply,
           operator.truediv: np.true_divide, operator.floordiv: np.floor_divide,
           operator.mod: np.remainder, operator.pow: np.power, operator.matmul: np.matmul}


def _narrowing_ufunc(fop: Any, a: np.ndarray, b: Any) -> Any:
    """The ufunc of ``a op= b`` where NumPy computes in a wider dtype than ``a``'s and casts
    into ``a`` (float32 += float64): its node's result is cast to ``a``'s dtype by a replay
    (an operator's is not), as the native write does; else None."""
    if a.dtype.kind not in "fc" or fop not in _UFUNCS or \
            not isinstance(b, int | float | complex | np.generic | np.ndarray):
        return None
    try:  # (dtypes and Python numbers: no subclass's __array_function__ runs here)
        wide = np.result_type(a.dtype, b if isinstance(b, int | float | complex) else b.dtype) \
            != a.dtype
    except TypeError:  # (NumPy's own error comes from the operation itself)
        return None
    return _UFUNCS[fop] if wide else None


def _scalar(a: Any) -> bool:
    """A number or a 0-d array (no NumPy function here: the capture would see it)."""
    return isinstance(a, int | float | complex | np.generic) or (
        isinstance(a, np.ndarray) and a.ndim == 0)


def _copy_of_its_class(x: Any) -> Any:
    """A new object equal to ``x`` and of its class (an np.matrix stays a matrix, a float
    subclass is not multiplied by its own ``__mul__``)."""
    if type(x) is not np.ndarray and isinstance(x, np.ndarray):
        return x.copy()
    if isinstance(x, np.generic):
        return x.copy()
    if isinstance(x, float | complex) and type(x) not in (float, complex):
        base = float if isinstance(x, float) else complex
        new = base.__new__(type(x), getattr(base, f"__{base.__name__}__")(x))
        new.__dict__.update(getattr(x, "__dict__", {}))
        return new
    return prim.copy_value(x)
