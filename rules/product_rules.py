"""Rules for NumPy's products: ``dot`` and ``matmul`` (also ``@``, and ``np.linalg.matmul``),
``einsum`` (any subscripts), and the products that are einsums
in disguise (``tensordot``, ``inner``, ``outer``, ``kron``, ``vecdot``, ``matvec``...), plus
``vdot``, ``cross`` and ``multi_dot``.

The einsum VJP of operand ``k`` is another einsum: the cotangent contracted with the other
operands onto ``k``'s labels. Labels only ``k`` has are broadcast back; a label repeated in
``k`` (``"ii->"``) is written through the writable diagonal view ``einsum("ii->i", ct)``; an
axis of length 1 that broadcasts against a longer one gets a private label, so it is summed.
Products that conjugate an argument (``vdot``, ``vecdot``, ``vecmat``) follow JAX's complex
convention: the cotangent of ``conj(x)``'s argument is the conjugate of ``conj(x)``'s.
"""

from __future__ import annotations

import string
from collections import Counter

import numpy as np

from .registry import public_name, register, register_method
from .shapes import add_tangents, fit, meta_of, shape_of, sum_to, unbroadcast

MAX_OPERANDS = 32

# --- dot, matmul --------------------------------------------------------------------------------

def dot_da(g, ans, a, b, *rest, **kw):
    am, b, g = meta_of(a), np.asarray(b), np.asarray(g)
    if am.ndim == 0 or b.ndim == 0:
        return unbroadcast(g * b, am)
    if b.ndim == 1:
        return fit(g[..., None] * b, am)
    ga = list(range(am.ndim - 1, g.ndim - 1)) + [g.ndim - 1]
    return fit(np.tensordot(g, b, axes=(ga, list(range(b.ndim - 2)) + [b.ndim - 1])), am)


def dot_db(g, ans, a, b, *rest, **kw):
    bm, a, g = meta_of(b), np.asarray(a), np.asarray(g)
    if a.ndim == 0 or bm.ndim == 0:
        return unbroadcast(g * a, bm)
    lead = list(range(a.ndim - 1))
    ct = np.tensordot(a, g, axes=(lead, lead))
    return fit(np.moveaxis(ct, 0, bm.ndim - 2) if bm.ndim >= 2 else ct, bm)


def _bilinear_jvp(f):
    def jvp(tangents, ans, a, b, *rest, **kw):
        ta, tb = tangents[0], tangents[1] if len(tangents) > 1 else None
        return add_tangents((None if ta is None else f(ta, b), None if tb is None else f(a, tb)))
    return jvp


def _mm_g(ashape, bshape, g):
    g = np.asarray(g)
    if len(bshape) == 1:
        g = g[..., None]
    if len(ashape) == 1:
        g = g[..., None, :]
    return g


def _mm_cot_a(g, ashape, b):
    """Cotangent (of shape ``ashape``) of ``a`` in ``a @ b``, matmul's standard layout."""
    b = np.asarray(b)
    b2 = b[:, None] if b.ndim == 1 else b
    ct = _mm_g(ashape, b.shape, g) @ np.swapaxes(b2, -1, -2)
    return sum_to(ct, (1,) + ashape if len(ashape) == 1 else ashape).reshape(ashape)


def _mm_cot_b(g, a, bshape):
    a = np.asarray(a)
    a2 = a[None, :] if a.ndim == 1 else a
    ct = np.swapaxes(a2, -1, -2) @ _mm_g(a.shape, bshape, g)
    return sum_to(ct, bshape + (1,) if len(bshape) == 1 else bshape).reshape(bshape)


def _mm_core_axes(axes, na: int, nb: int) -> tuple[tuple, tuple, tuple]:
    """np.matmul's gufunc ``axes=`` (core axes of a, b and the result, in any place) as
    non-negative positions per operand; a 1-d operand's single core axis needs no move."""
    na_out = max(na - 2, nb - 2, 0) + (na >= 2) + (nb >= 2)
    entries = list(axes) + [()] * (3 - len(axes))
    out = []
    for entry, nd in zip(entries, (na, nb, na_out), strict=True):
        entry = (entry,) if isinstance(entry, int | np.integer) else tuple(entry)
        out.append(tuple(int(k) % nd for k in entry) if nd else ())
    return out[0], out[1], out[2]


def _to_std(x, core):
    """``x`` with its matmul core axes ``core`` moved last (matmul's standard layout)."""
    return np.moveaxis(x, core, tuple(range(-len(core), 0))) if len(core) > 1 else x


def _from_std(x, core):
    return np.moveaxis(x, tuple(range(-len(core), 0)), core) if len(core) > 1 else x


def _std_shape(shape, core):
    if len(core) < 2:
        return tuple(shape)
    return tuple(n for k, n in enumerate(shape) if k not in core) + tuple(shape[k] for k in core)


def matmul_da(g, ans, a, b, *rest, axes=None, **kw):
    am, b = meta_of(a), np.asarray(b)
    if axes is None:
        return fit(_mm_cot_a(g, am.shape, b), am)
    ca, cb, co = _mm_core_axes(axes, am.ndim, b.ndim)
    ct = _mm_cot_a(_to_std(np.asarray(g), co), _std_shape(am.shape, ca), _to_std(b, cb))
    return fit(_from_std(ct, ca), am)


def matmul_db(g, ans, a, b, *rest, axes=None, **kw):
    bm, a = meta_of(b), np.asarray(a)
    if axes is None:
        return fit(_mm_cot_b(g, a, bm.shape), bm)
    ca, cb, co = _mm_core_axes(axes, a.ndim, bm.ndim)
    ct = _mm_cot_b(_to_std(np.asarray(g), co), _to_std(a, ca), _std_shape(bm.shape, cb))
    return fit(_from_std(ct, cb), bm)


def _matmul_jvp(tangents, ans, a, b, *rest, axes=None, **kw):
    ta, tb = tangents[0], tangents[1] if len(tangents) > 1 else None
    opt = {} if axes is None else {"axes": axes}
    return add_tangents((None if ta is None else np.matmul(ta, b, **opt),
                         None if tb is None else np.matmul(a, tb, **opt)))


MATMUL = dict(vjp=(matmul_da, matmul_db), jvp=_matmul_jvp, saves={0: (1,), 1: (0,)})


# --- the einsum engine -----------------------------------------------------------------------

def parse_einsum(subscripts: str, shapes: list) -> tuple[list, list, dict]:
    """(labels per operand, output labels, size per label), ellipses made explicit and
    broadcast length-1 axes given private labels."""
    subscripts = subscripts.replace(" ", "")
    ins, out = subscripts.split("->") if "->" in subscripts else (subscripts, None)
    terms = ins.split(",")
    free = iter(c for c in string.ascii_letters if c not in subscripts)
    nell = max((len(s) - len(t) + 3 for t, s in zip(terms, shapes, strict=True)
                if "..." in t), default=0)
    ell = [next(free) for _ in range(nell)]
    labels = []
    for t, shape in zip(terms, shapes, strict=True):
        if "..." in t:
            pre, post = t.split("...")
            k = len(shape) - len(pre) - len(post)
            labels.append(list(pre) + ell[nell - k:] + list(post))
        else:
            labels.append(list(t))
    if out is None:
        counts = Counter(c for t in terms for c in t.replace(".", ""))
        out_labels = ell + sorted(c for c, n in counts.items() if n == 1)
    elif "..." in out:
        pre, post = out.split("...")
        out_labels = list(pre) + ell + list(post)
    else:
        out_labels = list(out)
    sizes: dict = {}
    for labs, shape in zip(labels, shapes, strict=True):
        for c, n in zip(labs, shape, strict=True):
            sizes[c] = max(sizes.get(c, 1), n)
    for labs, shape in zip(labels, shapes, strict=True):
        for i, (c, n) in enumerate(zip(labs, shape, strict=True)):
            if n == 1 and sizes[c] > 1:
                labs[i] = next(free)
                sizes[labs[i]] = 1
    return labels, out_labels, sizes


def einsum_cot(k: int, g, labels: list, out_labels: list, sizes: dict, ops: list, shape,
               dtype):
    """Cotangent (an array of ``shape``) of operand ``k``; the other ``ops`` are values."""
    own = list(dict.fromkeys(labels[k]))
    others = [j for j in range(len(ops)) if j != k]
    avail = set(out_labels).union(*[labels[j] for j in others])
    keep = [c for c in own if c in avail]
    spec = ",".join(["".join(out_labels)] + ["".join(labels[j]) for j in others])
    r = np.einsum(spec + "->" + "".join(keep), g, *[ops[j] for j in others],
                  optimize=len(others) > 0)
    r = np.broadcast_to(np.reshape(r, [sizes[c] if c in keep else 1 for c in own]),
                        [sizes[c] for c in own])
    if len(own) == len(labels[k]):
        return r
    ct = np.zeros(shape, np.result_type(dtype, r.dtype))
    np.einsum("".join(labels[k]) + "->" + "".join(own), ct)[...] = r
    return ct


def _sublist_spec(args):
    """``einsum(op0, sub0, op1, sub1, ..., [out])`` as (subscripts, operand argnums)."""
    def letters(sub):
        return "".join("..." if s is Ellipsis else string.ascii_letters[s] for s in sub)

    n = len(args) // 2
    spec = ",".join(letters(args[2 * i + 1]) for i in range(n))
    if len(args) % 2:
        spec += "->" + letters(args[-1])
    return spec, [2 * i for i in range(n)]


def _einsum_spec(args):
    if isinstance(args[0], str):
        return args[0], list(range(1, len(args)))
    return _sublist_spec(args)


def _einsum_vjp_for(i):
    def vjp(g, ans, *args, **kw):
        spec, pos = _einsum_spec(args)
        ops = [args[p] for p in pos]
        labels, out, sizes = parse_einsum(spec, [shape_of(o) for o in ops])
        m = meta_of(args[i])
        return fit(einsum_cot(pos.index(i), g, labels, out, sizes, ops, m.shape, m.dtype), m)
    vjp.__name__ = f"einsum_vjp_{i}"
    return vjp


def _einsum_jvp(tangents, ans, *args, **kw):
    kw = {k: v for k, v in kw.items() if k != "out"}
    terms = []
    for i, t in enumerate(tangents):
        if t is not None:
            terms.append(np.einsum(*args[:i], t, *args[i + 1:], **kw))
    return add_tangents(terms)


# --- products that are einsums ---------------------------------------------------------------

def _tensordot_spec(ashape, bshape, axes):
    na, nb = len(ashape), len(bshape)
    if isinstance(axes, int | np.integer):
        ax_a, ax_b = list(range(na - axes, na)), list(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, int | np.integer) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, int | np.integer) else list(ax_b)
    la, lb = list(string.ascii_letters[:na]), list(string.ascii_letters[na:na + nb])
    for i, j in zip(ax_a, ax_b, strict=True):
        lb[j % nb] = la[i % na]
    out = [c for c in la if c not in lb] + [c for c in lb if c not in la]
    return f"{''.join(la)},{''.join(lb)}->{''.join(out)}"


def _inner_spec(ashape, bshape):
    if not ashape or not bshape:
        return None
    la = string.ascii_letters[:len(ashape) - 1]
    lb = string.ascii_letters[len(ashape) - 1:len(ashape) + len(bshape) - 2]
    return f"{la}z,{lb}z->{la}{lb}"


def _product(spec_of, conj=(False, False), ravel=False, reshape_out=False):
    """(vjp tuple, jvp) of a bilinear ``f(a, b, *rest) = einsum(spec_of(...), a', b')`` where
    ``a'`` is ``a`` (conjugated when ``conj[0]``; raveled when ``ravel``)."""
    def prep(x, i):
        x = np.asarray(x)
        x = x.ravel() if ravel else x
        return np.conj(x) if conj[i] else x

    def shapes(a, b):
        sa, sb = shape_of(a), shape_of(b)
        if ravel:
            sa, sb = (int(np.prod(sa)),), (int(np.prod(sb)),)
        return sa, sb

    def vjp_for(i):
        def vjp(g, ans, a, b, *rest, **kw):
            sa, sb = shapes(a, b)
            labels, out, sizes = parse_einsum(spec_of(sa, sb, *rest, **kw), [sa, sb])
            if reshape_out:
                g = np.reshape(g, [sizes[c] for c in out])
            other = prep((b, a)[i], 1 - i)
            m = meta_of((a, b)[i])
            ct = einsum_cot(i, g, labels, out, sizes, [other, other], (sa, sb)[i], m.dtype)
            ct = np.reshape(ct, m.shape)
            return fit(np.conj(ct) if conj[i] else ct, m)
        return vjp

    def jvp(tangents, ans, a, b, *rest, **kw):
        sa, sb = shapes(a, b)
        spec = spec_of(sa, sb, *rest, **kw)
        ta, tb = tangents[0], tangents[1]
        terms = []
        if ta is not None:
            terms.append(np.einsum(spec, prep(ta, 0), prep(b, 1)))
        if tb is not None:
            terms.append(np.einsum(spec, prep(a, 0), prep(tb, 1)))
        t = add_tangents(terms)
        return None if t is None else np.reshape(t, np.shape(ans))

    return (vjp_for(0), vjp_for(1)), jvp


def _kron_spec(sa, sb):
    nd = max(len(sa), len(sb))
    la = string.ascii_letters[:nd][nd - len(sa):]
    lb = string.ascii_letters[nd:2 * nd][nd - len(sb):]
    full_a, full_b = string.ascii_letters[:nd], string.ascii_letters[nd:2 * nd]
    out = "".join(x + y for x, y in zip(full_a, full_b, strict=True))
    out = "".join(c for c in out if c in la or c in lb)
    return f"{la},{lb}->{out}"


def _gufunc_spec(cores):
    """spec_of a gufunc whose core dimensions (labels of the two inputs and the output) are
    last, or where ``axes=``/``axis=`` put them; loop dimensions broadcast. (``keepdims``'
    size-1 axis is the result's reshape.)"""
    def spec(sa, sb, *rest, axes=None, axis=None, **kw):
        if axes is None and axis is not None:
            axes = [(axis,), (axis,)]  # (vecdot: one shared core dimension)
        loop = max(len(s) - len(c) for s, c in zip((sa, sb), cores, strict=False))

        def labels(nd, core, ax):
            slots = [""] * nd
            for c, k in zip(core, range(nd - len(core), nd) if ax is None else ax, strict=True):
                slots[k % nd] = c
            free = iter(string.ascii_uppercase[:loop][loop - nd + len(core):])
            return "".join(c or next(free) for c in slots)

        ax = list(axes or ()) + [None] * 3
        a, b = (labels(len(s), c, ax[i]) for i, (s, c) in enumerate(((sa, cores[0]),
                                                                     (sb, cores[1]))))
        return f"{a},{b}->{labels(loop + len(cores[2]), cores[2], ax[2])}"
    return spec


PRODUCTS = [  # (function, spec_of(ashape, bshape, *rest, **kw), conj flags, ravel, reshape)
    (np.tensordot, lambda sa, sb, axes=2: _tensordot_spec(sa, sb, axes), (0, 0), 0, 0),
    (np.linalg.tensordot, lambda sa, sb, *, axes=2: _tensordot_spec(sa, sb, axes), (0, 0), 0, 0),
    (np.outer, lambda sa, sb, *r, **k: "i,j->ij", (0, 0), 1, 0),
    (np.linalg.outer, lambda sa, sb: "i,j->ij", (0, 0), 0, 0),
    (np.kron, lambda sa, sb: _kron_spec(sa, sb), (0, 0), 0, 1),
    (np.vecdot, _gufunc_spec(("i", "i", "")), (1, 0), 0, 1),
    (np.linalg.vecdot, _gufunc_spec(("i", "i", "")), (1, 0), 0, 1),
    (np.matvec, _gufunc_spec(("ij", "j", "i")), (0, 0), 0, 1),
    (np.vecmat, _gufunc_spec(("i", "ij", "j")), (1, 0), 0, 1),
    (np.vdot, lambda sa, sb: "i,i->", (1, 0), 1, 0),
]


def _inner_vjp_for(i, einsum_vjps):
    def vjp(g, ans, a, b):
        if not shape_of(a) or not shape_of(b):
            other = np.asarray((b, a)[i])
            return fit(sum_to(np.asarray(g) * other, shape_of((a, b)[i])), meta_of((a, b)[i]))
        return einsum_vjps[i](g, ans, a, b)
    return vjp


def _inner_jvp(tangents, ans, a, b):
    ta, tb = tangents
    return add_tangents((None if ta is None else np.inner(ta, b),
                         None if tb is None else np.inner(a, tb)))


# --- cross, multi_dot ------------------------------------------------------------------------

def _cross_axes(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is not None:
        axisa = axisb = axisc = axis
    return axisa, axisb, axisc


def _pad3(x, axis):
    x = np.moveaxis(np.asarray(x), axis, -1)
    if x.shape[-1] == 2:
        x = np.concatenate([x, np.zeros(x.shape[:-1] + (1,), x.dtype)], axis=-1)
    return x


def _cross_vjp_for(i):
    def vjp(g, ans, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
        axa, axb, axc = _cross_axes(a, b, axisa, axisb, axisc, axis)
        both2 = shape_of(a)[axa] == 2 and shape_of(b)[axb] == 2
        g = np.asarray(g)
        if both2:
            g3 = np.stack([np.zeros_like(g), np.zeros_like(g), g], axis=-1)
        else:
            g3 = np.moveaxis(g, axc, -1)
        x = (a, b)[i]
        ax = (axa, axb)[i]
        other = _pad3((b, a)[i], (axb, axa)[i])
        ct = np.cross(other, g3) if i == 0 else np.cross(g3, other)
        n = shape_of(x)[ax]
        ct = np.moveaxis(ct[..., :n], -1, ax)
        return fit(sum_to(ct, shape_of(x)), meta_of(x))
    return vjp


def _cross_jvp(tangents, ans, a, b, *args, **kw):
    ta, tb = tangents[0], tangents[1]
    return add_tangents((None if ta is None else np.cross(ta, b, *args, **kw),
                         None if tb is None else np.cross(a, tb, *args, **kw)))


def _lcross_vjp_for(i):
    cross_vjp = _cross_vjp_for(i)

    def vjp(g, ans, x1, x2, *, axis=-1):
        return cross_vjp(g, ans, x1, x2, axis=axis)
    return vjp


def _lcross_jvp(tangents, ans, x1, x2, *, axis=-1):
    return _cross_jvp(tangents, ans, x1, x2, axis=axis)


def _chain(mats):
    out = mats[0]
    for m in mats[1:]:
        out = out @ m
    return out


def _multi_dot_vjp(g, ans, arrays, *, out=None):
    mats = [np.asarray(a) for a in arrays]
    first, last = mats[0].ndim == 1, mats[-1].ndim == 1
    if first:
        mats[0] = mats[0][None, :]
    if last:
        mats[-1] = mats[-1][:, None]
    g = np.asarray(g)
    g = g.reshape((1,) * first + g.shape + (1,) * last) if g.ndim < 2 else g
    cts = []
    for i, x in enumerate(arrays):
        left = _chain(mats[:i]) if i else None
        right = _chain(mats[i + 1:]) if i < len(mats) - 1 else None
        ct = g if right is None else g @ right.T
        ct = ct if left is None else left.T @ ct
        cts.append(fit(ct.reshape(shape_of(x)), meta_of(x)))
    return type(arrays)(cts)


def _multi_dot_jvp(tangents, ans, arrays, *, out=None):
    ts = tangents[0]
    if ts is None:
        return None
    terms = []
    for i, t in enumerate(ts):
        if t is not None:
            terms.append(np.linalg.multi_dot(list(arrays[:i]) + [t] + list(arrays[i + 1:])))
    return add_tangents(terms)


def install() -> None:
    dot = register(np.dot, vjp=(dot_da, dot_db), jvp=_bilinear_jvp(np.dot),
                   saves={0: (1,), 1: (0,)})
    register_method(np.ndarray, "dot", dot)
    register(np.matmul, **MATMUL)
    vjps = tuple(_einsum_vjp_for(i) for i in range(MAX_OPERANDS))
    others = {i: tuple(j for j in range(MAX_OPERANDS) if j != i) for i in range(MAX_OPERANDS)}
    register(np.einsum, vjp=vjps, jvp=_einsum_jvp, saves=others, argnames=None)
    for fn, spec_of, conj, ravel, reshape in PRODUCTS:
        vjp, jvp = _product(spec_of, tuple(map(bool, conj)), bool(ravel), bool(reshape))
        register(fn, vjp=vjp, jvp=jvp, saves={0: (1,), 1: (0,)}, name=public_name(fn))
    inner_vjp, _ = _product(lambda sa, sb: _inner_spec(sa, sb))
    register(np.inner, vjp=(_inner_vjp_for(0, inner_vjp), _inner_vjp_for(1, inner_vjp)),
             jvp=_inner_jvp, saves={0: (1,), 1: (0,)})
    register(np.cross, vjp=(_cross_vjp_for(0), _cross_vjp_for(1)), jvp=_cross_jvp,
             saves={0: (1,), 1: (0,)})
    register(np.linalg.cross, vjp=(_lcross_vjp_for(0), _lcross_vjp_for(1)), jvp=_lcross_jvp,
             saves={0: (1,), 1: (0,)}, name="np.linalg.cross")
    register(np.linalg.multi_dot, vjp=(_multi_dot_vjp,), jvp=_multi_dot_jvp, saves={0: (0,)},
             containers=(0,), name="np.linalg.multi_dot")
    register(np.linalg.matmul, **MATMUL, name="np.linalg.matmul")
