"""Rules for NumPy's shape, stacking, splitting and indexing functions (and their ndarray
methods), ``sort``, ``meshgrid`` and ``linspace``.

Most of these are *gathers*: each output element is a copy of one input element or a zero
(``take``, ``repeat``, ``tile``, ``diag``, ``triu``...). Their VJP is computed once,
generically, by ``gather_cot``: apply the function to the array ``1..size`` (0 marks "not
from the input") and scatter-add the cotangent with ``bincount``; the JVP is the function
applied to the tangent. Stacking functions take a container of items: their cotangent is a
list (or tuple) with one entry per item, as for ``np.concatenate``.
"""

from __future__ import annotations

import math

import numpy as np

from .families import deflinear
from .numpy_array_rules import array_jvp, no_out, struct_shape
from .registry import ANS, infer_argnames, lookup, make_rule, register, register_method
from .shapes import fit, meta_of, shape_of, struct_cot, sum_to

# --- gathers ---------------------------------------------------------------------------------


def _bincount(pos, w, n):
    if np.iscomplexobj(w):
        return np.bincount(pos, w.real, n) + 1j * np.bincount(pos, w.imag, n)
    return np.bincount(pos, w, n)


def gather_cot(fn, g, x, args=(), kw=None, argnum=0):
    """Cotangent of argument ``argnum`` (``x``, a value or Meta) of the gather ``fn``."""
    m = meta_of(x)
    idx = np.arange(1, m.size + 1).reshape(m.shape)
    args = list(args)
    args[argnum] = idx
    pos = fn(*args, **(kw or {}))
    if isinstance(pos, list | tuple):
        pos = np.concatenate([np.ravel(p) for p in pos]) if pos else np.zeros(0, np.intp)
        g = np.concatenate([np.ravel(t) for t in g]) if g else np.zeros(0)
    ct = _bincount(np.ravel(pos), np.ravel(np.asarray(g, dtype=np.result_type(g, float))),
                   m.size + 1)[1:]
    return fit(ct.reshape(m.shape), m)


def _gather_vjp(fn, argnum=0):
    def vjp(g, ans, *args, **kw):
        kw.pop("out", None)
        return gather_cot(fn, g, args[argnum], args, kw, argnum)
    vjp.__name__ = f"gather_vjp_{getattr(fn, '__name__', 'fn')}"
    return vjp


def _method_call(name):
    def call(a, *args, **kw):
        return getattr(np.asarray(a), name)(*args, **kw)
    return call


GATHERS = [  # functions whose output elements are copies of their first argument's, or 0
    np.take, np.take_along_axis, np.repeat, np.tile, np.diag, np.diagflat, np.diagonal,
    np.triu, np.tril, np.delete, np.resize, np.rot90, np.roll, np.fliplr, np.flipud,
    np.rollaxis,
]
GATHERS_ARG1 = [np.compress, np.extract]  # condition first, array second
GATHER_METHODS = ["take", "repeat", "diagonal", "compress"]


# --- views and simple reshapes ---------------------------------------------------------------

def _reshape_to(g, ans, a, *rest, **kw):
    return fit(np.reshape(g, shape_of(a)), meta_of(a))


def _sum_to_vjp(g, ans, array, *rest, **kw):
    return fit(sum_to(g, shape_of(array)), meta_of(array))


def _swapaxes_vjp(g, ans, a, axis1, axis2):
    return np.swapaxes(g, axis1, axis2)


def _moveaxis_vjp(g, ans, a, source, destination):
    return np.moveaxis(g, destination, source)


def _flip_vjp(g, ans, m, axis=None):
    return np.flip(g, axis)


VIEWS = [  # (function, vjp)
    (np.squeeze, _reshape_to), (np.expand_dims, _reshape_to), (np.broadcast_to, _sum_to_vjp),
    (np.asfortranarray, _reshape_to),
    (np.swapaxes, _swapaxes_vjp), (np.moveaxis, _moveaxis_vjp), (np.flip, _flip_vjp),
]
VIEW_METHODS = [("squeeze", _reshape_to), ("swapaxes", _swapaxes_vjp)]


def _broadcast_arrays_vjp(g, ans, *args, subok=False):
    return tuple(fit(sum_to(gi, shape_of(x)), meta_of(x)) for gi, x in zip(g, args,
                                                                         strict=True))


def _broadcast_arrays_jvp(tangents, ans, *args, subok=False):
    shape = np.broadcast_shapes(*(np.shape(x) for x in args))
    return tuple(None if t is None else np.broadcast_to(t, shape) for t in tangents)


def _fill_vjp(g, ans, first, fill_value, *rest, **kw):
    return fit(sum_to(g, shape_of(fill_value)), meta_of(fill_value))


def _full_jvp(fn):
    def jvp(tangents, ans, first, fill_value=None, *rest, **kw):
        t = tangents[1] if len(tangents) > 1 else None
        return None if t is None else fn(first, t, *rest, **kw)
    return jvp


def _same_cot(g, ans, a, *rest, **kw):
    return fit(np.reshape(g, shape_of(a)), meta_of(a))


def _tangent_as_is(tangents, ans, a, *rest, **kw):
    t = tangents[0]
    return np.real(t) if t is not None and not np.iscomplexobj(ans) else t


# --- stacking and splitting ------------------------------------------------------------------

# np.row_stack: vstack's old alias, removed in NumPy 2.5
_VSTACKS = tuple(f for f in (np.vstack, getattr(np, "row_stack", None)) if f is not None)


def _stacked_shape(fn, shape):
    nd = len(shape)
    if fn is np.hstack:
        return shape if nd >= 1 else (1,)
    if fn in _VSTACKS:
        return (1,) * (2 - nd) + shape if nd < 2 else shape
    if fn is np.dstack:
        return {0: (1, 1, 1), 1: (1,) + shape + (1,), 2: shape + (1,)}.get(nd, shape)
    if nd < 2:  # column_stack
        return (int(math.prod(shape)), 1)
    return shape


def _stack_axis(fn, first_ndim):
    if fn is np.hstack:
        return 0 if first_ndim == 1 else 1
    return {np.dstack: 2, np.column_stack: 1}.get(fn, 0)


def _stacker_vjp(fn):
    def vjp(g, ans, tup, *rest, **kw):
        if not isinstance(tup, list | tuple):  # one array: the sequence of its rows
            shape = tuple(shape_of(tup))
            ax = _stack_axis(fn, len(_stacked_shape(fn, shape[1:])))
            pieces = np.split(np.asarray(g), shape[0], axis=ax) if shape[0] else []
            rows = [np.reshape(p, shape[1:]) for p in pieces]
            return fit(np.stack(rows) if rows else np.zeros(shape), meta_of(tup))
        shapes = [_stacked_shape(fn, struct_shape(x)) for x in tup]
        ax = _stack_axis(fn, len(shapes[0]))
        cuts = np.cumsum([s[ax] for s in shapes])[:-1]
        pieces = np.split(np.asarray(g), cuts, axis=ax)
        return type(tup)(struct_cot(np.reshape(p, struct_shape(x)), x)
                         for p, x in zip(pieces, tup, strict=True))
    return vjp


STACKERS = [np.hstack, np.dstack, np.column_stack, *_VSTACKS]


def _split_vjp(axis_of):
    def vjp(g, ans, ary, indices_or_sections, axis=0):
        ax = axis_of(len(shape_of(ary)), axis)
        return fit(np.concatenate([np.asarray(p) for p in g], axis=ax), meta_of(ary))
    return vjp


SPLITS = [  # (function, axis used given (ndim, axis argument))
    (np.split, lambda nd, axis: axis), (np.array_split, lambda nd, axis: axis),
    (np.hsplit, lambda nd, axis: 1 if nd > 1 else 0), (np.vsplit, lambda nd, axis: 0),
    (np.dsplit, lambda nd, axis: 2),
]


def _unstack_vjp(g, ans, x, *, axis=0):
    return fit(np.stack([np.asarray(p) for p in g], axis=axis), meta_of(x))


def _append_cot(i):
    def vjp(g, ans, arr, values, axis=None):
        g = np.asarray(g)
        sa, sv = shape_of(arr), shape_of(values)
        if axis is None:
            n = int(math.prod(sa))
            part, shape = (g[:n], sa) if i == 0 else (g[n:], sv)
            return fit(np.reshape(part, shape), meta_of((arr, values)[i]))
        n = sa[axis]
        part = np.split(g, [n], axis=axis)[i]
        return fit(part, meta_of((arr, values)[i]))
    return vjp


def _append_jvp(tangents, ans, arr, values, axis=None):
    ta, tv = tangents[0], tangents[1]
    if ta is None and tv is None:
        return None
    ta = np.zeros(np.shape(arr)) if ta is None else ta
    tv = np.zeros(np.shape(values)) if tv is None else tv
    return np.append(ta, tv, axis)


def _atleast_vjp(g, ans, *arys):
    if len(arys) == 1:
        return (fit(np.reshape(g, shape_of(arys[0])), meta_of(arys[0])),)
    return tuple(fit(np.reshape(gi, shape_of(x)), meta_of(x)) for gi, x in zip(g, arys,
                                                                           strict=True))


def _atleast_jvp(fn):
    def jvp(tangents, ans, *arys):
        if len(arys) == 1:
            return None if tangents[0] is None else fn(tangents[0])
        return tuple(None if t is None else fn(t) for t in tangents)
    return jvp


# --- sort, meshgrid, linspace ----------------------------------------------------------------

def tie_mean(a, w, axis=-1):
    """``w`` with each entry replaced by its mean over the entries whose ``a`` is equal along
    ``axis`` (None: all): the cotangent of an order statistic at a tie, split evenly as for
    ``np.max`` (what central differences see for a pair of equal values)."""
    w = np.asarray(w)
    if axis is None:
        return tie_mean(np.ravel(a), np.ravel(w)).reshape(w.shape)
    a = np.moveaxis(np.broadcast_to(a, w.shape), axis, -1)
    wm = np.moveaxis(w, axis, -1)
    n = a.shape[-1] if a.ndim else 0
    if n < 2:
        return w
    a2, w2 = a.reshape(-1, n), wm.reshape(-1, n)
    order = np.argsort(a2, axis=-1, kind="stable")
    srt = np.take_along_axis(a2, order, -1)
    new = np.ones(srt.shape, bool)
    new[:, 1:] = srt[:, 1:] != srt[:, :-1]
    if new.all():
        return w
    gid = np.cumsum(new.reshape(-1)) - 1
    ws = np.take_along_axis(w2, order, -1).reshape(-1)
    mean = (_bincount(gid, ws, 0) / np.bincount(gid))[gid].reshape(srt.shape)
    out = np.empty(w2.shape, mean.dtype)
    np.put_along_axis(out, order, mean, -1)
    return np.moveaxis(out.reshape(wm.shape), -1, axis)


def _permuted_cot(g, ans, a, axis):
    """Cotangent of ``a`` for ``ans``, a permutation of ``a`` along ``axis`` (sort, partition):
    each element gets ``g`` of the position holding its value, ties averaged (tie_mean)."""
    a, g, ans = np.asarray(a), np.asarray(g), np.asarray(ans)
    shape = a.shape
    if axis is None:
        a, axis = a.reshape(-1), -1
    src = np.argsort(a, axis=axis, kind="stable")  # a's positions in sorted order
    dst = np.argsort(ans, axis=axis, kind="stable")  # ans's positions in the same order
    ct = np.zeros(a.shape, np.result_type(a, g))
    np.put_along_axis(ct, src, np.take_along_axis(g, dst, axis), axis)
    return tie_mean(a, ct, axis).reshape(shape)


def _permuted_tangent(t, ans, a, axis):
    a, ans = np.asarray(a), np.asarray(ans)
    t = np.broadcast_to(t, a.shape)
    if axis is None:
        a, t, axis = a.reshape(-1), t.reshape(-1), -1
    t = tie_mean(a, t, axis)
    src = np.argsort(a, axis=axis, kind="stable")
    dst = np.argsort(ans, axis=axis, kind="stable")
    out = np.zeros(ans.shape, t.dtype)
    np.put_along_axis(out, dst, np.take_along_axis(t, src, axis), axis)
    return out


def _no_order(order):
    if order is not None:
        raise NotImplementedError("framead: sort/partition with order= (structured arrays) "
                                  "has no rule")


def _sort_vjp(g, ans, a, axis=-1, kind=None, order=None, *, stable=None):
    _no_order(order)
    return fit(_permuted_cot(g, ans, a, axis), meta_of(a))


def _sort_jvp(tangents, ans, a, axis=-1, kind=None, order=None, *, stable=None):
    _no_order(order)
    return None if tangents[0] is None else _permuted_tangent(tangents[0], ans, a, axis)


def _partition_vjp(g, ans, a, kth, axis=-1, kind="introselect", order=None):
    _no_order(order)
    return fit(_permuted_cot(g, ans, a, axis), meta_of(a))


def _partition_jvp(tangents, ans, a, kth, axis=-1, kind="introselect", order=None):
    _no_order(order)
    return None if tangents[0] is None else _permuted_tangent(tangents[0], ans, a, axis)


def _choice_index(a, n, mode="raise"):
    a = np.asarray(a)
    return np.clip(a, 0, n - 1) if mode == "clip" else a % n if mode == "wrap" else a


def _choose_cot(g, ans, a, choices, out=None, mode="raise"):
    """Each choice gets ``g`` where the index picked it (a list of cotangents for a list)."""
    n = len(choices) if isinstance(choices, list | tuple) else shape_of(choices)[0]
    k = _choice_index(a, n, mode)
    cts = [np.where(k == i, g, 0.0) for i in range(n)]
    if isinstance(choices, list | tuple):
        return type(choices)(fit(sum_to(c, shape_of(x)), meta_of(x)) if not isinstance(
            x, int | bool) else None for c, x in zip(cts, choices, strict=True))
    return fit(sum_to(np.stack([sum_to(c, shape_of(choices)[1:]) for c in cts]),
                      shape_of(choices)), meta_of(choices))


def _choose_jvp(tangents, ans, a, choices, out=None, mode="raise"):
    t = tangents[1] if len(tangents) > 1 else None
    if t is None:
        return None
    if isinstance(choices, list | tuple):
        t = [np.zeros(np.shape(x)) if ti is None else ti for ti, x in zip(t, choices,
                                                                         strict=True)]
    return np.choose(a, t, mode=mode)


def _partition_into(a, kth, axis=-1, kind="introselect", order=None):
    """What ``a.partition(kth, ...)`` leaves in ``a``."""
    return np.partition(a, kth, axis=axis, kind=kind, order=order)


def _mesh_axis(k, n, indexing):
    if indexing == "xy" and n > 1 and k < 2:
        return 1 - k
    return k


def _meshgrid_vjp(g, ans, *xi, copy=True, sparse=False, indexing="xy"):
    out = []
    for k, (gk, x) in enumerate(zip(g, xi, strict=True)):
        gk = np.asarray(gk)
        ax = _mesh_axis(k, len(xi), indexing)
        ct = np.sum(gk, axis=tuple(i for i in range(gk.ndim) if i != ax))
        out.append(fit(np.reshape(ct, shape_of(x)), meta_of(x)))
    return tuple(out)


def _meshgrid_jvp(tangents, ans, *xi, **kw):
    if all(t is None for t in tangents):
        return None
    ts = [np.zeros(np.shape(x)) if t is None else t for t, x in zip(tangents, xi, strict=True)]
    return np.meshgrid(*ts, **kw)


def _lin_weights(num, endpoint):
    div = (num - 1) if endpoint else num
    w = np.arange(num) / div if div > 0 else np.zeros(num)
    return w, div


def _linspace_cot(i):
    def vjp(g, ans, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0,
            **kw):
        w, div = _lin_weights(num, endpoint)
        w = w if i == 1 else 1.0 - w
        gs, gstep = (g if retstep else (g, None))
        gs = np.moveaxis(np.asarray(gs), axis, 0)
        ct = np.tensordot(w, gs, axes=(0, 0))
        if gstep is not None and div > 0:
            ct = ct + (1 if i == 1 else -1) * np.asarray(gstep) / div
        x = (start, stop)[i]
        return fit(sum_to(ct, shape_of(x)), meta_of(x))
    return vjp


def _linspace_jvp(tangents, ans, start, stop, *args, **kw):
    ta, tb = tangents[0], tangents[1]
    if ta is None and tb is None:
        return None
    ta = np.zeros(np.shape(start)) if ta is None else ta
    tb = np.zeros(np.shape(stop)) if tb is None else tb
    return np.linspace(ta, tb, *args, **kw)


def _logspace_cot(i):
    lin = _linspace_cot(i)

    def vjp(g, ans, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
        return lin(np.asarray(g) * ans * np.log(base), None, start, stop, num, endpoint,
                   False, None, axis)
    return vjp


def _logspace_dbase(g, ans, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """y = base ** lin: d y / d base = y * lin / base."""
    lin = np.linspace(start, stop, num, endpoint, axis=axis)
    return fit(sum_to(np.asarray(g) * ans * lin / base, shape_of(base)), meta_of(base))


def _logspace_jvp(tangents, ans, start, stop, num=50, endpoint=True, base=10.0, dtype=None,
                  axis=0):
    t = _linspace_jvp(tangents, None, start, stop, num, endpoint, False, None, axis)
    t = None if t is None else ans * np.log(base) * t
    tb = tangents[4] if len(tangents) > 4 else None
    if tb is not None:
        tb = ans * np.linspace(start, stop, num, endpoint, axis=axis) / base * tb
        t = tb if t is None else t + tb
    return t


def _others(fn, argnum: int) -> tuple:
    """The argnums of ``fn``'s other positional parameters (at most the first four)."""
    names = infer_argnames(fn)[0] or ()
    return tuple(i for i in range(min(len(names), 4)) if i != argnum)


def install() -> None:
    # (the VJP runs the gather on positions: it reads the other arguments by value, a traced
    # shift, index or condition included: np.roll(x, s) with a traced s)
    for fn in GATHERS:
        deflinear(fn, _gather_vjp(fn), saves={0: _others(fn, 0)})
    for fn in GATHERS_ARG1:
        deflinear(fn, _gather_vjp(fn, 1), argnum=1, saves={1: _others(fn, 1)})
    nd = np.ndarray
    for name in GATHER_METHODS:
        deflinear(None, _gather_vjp(_method_call(name)), method=(nd, name))
    for fn, vjp in VIEWS:
        deflinear(fn, vjp, aliases={0: 0})
    for name, vjp in VIEW_METHODS:
        deflinear(None, vjp, method=(nd, name), aliases={0: 0})
    register_method(nd, "clip", lookup(np.clip))
    for fn in STACKERS:
        register(fn, vjp=(_stacker_vjp(fn),), jvp=array_jvp(no_out(fn)), saves={0: ()},
                 containers=(0,))
    for fn, axis_of in SPLITS:
        deflinear(fn, _split_vjp(axis_of), multi=True)
    deflinear(np.unstack, _unstack_vjp, multi=True)
    register(np.broadcast_arrays, vjp=_broadcast_arrays_vjp, jvp=_broadcast_arrays_jvp,
             saves={}, multi=True, argnames=None, per_argument=True)
    for fn in (np.full, np.full_like):  # the shape (or prototype) has no derivative
        register(fn, vjp=(None, _fill_vjp), jvp=_full_jvp(fn), saves={1: ()}, nondiff=(0,))
    for fn in (np.unwrap, np.real_if_close):  # locally the identity
        register(fn, vjp=(_same_cot,), jvp=_tangent_as_is, saves={0: ()}, nondiff=(1,))
    register(np.append, vjp=(_append_cot(0), _append_cot(1)), jvp=_append_jvp,
             saves={0: (), 1: ()})
    for fn in (np.atleast_1d, np.atleast_2d, np.atleast_3d):
        register(fn, vjp=_atleast_vjp, jvp=_atleast_jvp(fn), saves={}, argnames=None,
                 multi=True, per_argument=True)
    register(np.sort, vjp=(_sort_vjp,), jvp=_sort_jvp, saves={0: (0, ANS)},
             refuses={"order": "given"})
    register(np.partition, vjp=(_partition_vjp,), jvp=_partition_jvp, saves={0: (0, ANS)},
             refuses={"order": "given"})
    register(np.choose, vjp=(None, _choose_cot), jvp=_choose_jvp, saves={1: ()},
             containers=(1,), nondiff=(0,))
    # a.partition(kth) writes a's new contents in place (mutates=(0,)): args hold a before,
    # ans a after; the rule's function is the functional form (checks and replays run it)
    register_method(nd, "partition", make_rule(
        _partition_into, vjp=(_partition_vjp,), jvp=_partition_jvp, saves={0: (0, ANS)},
        mutates=(0,), aliases={0: 0}, name="ndarray.partition", refuses={"order": "given"}))
    register(np.meshgrid, vjp=_meshgrid_vjp, jvp=_meshgrid_jvp, saves={}, multi=True,
             argnames=None, per_argument=True)
    register(np.linspace, vjp=(_linspace_cot(0), _linspace_cot(1)), jvp=_linspace_jvp,
             saves={0: (), 1: ()}, multi=True)
    register(np.logspace, vjp=(_logspace_cot(0), _logspace_cot(1), None, None, _logspace_dbase),
             jvp=_logspace_jvp, saves={0: (ANS, 4), 1: (ANS, 4), 4: (0, 1, 4, ANS)})
