"""Combinatorial cases: NumPy functions over shapes, broadcasting, axes and keywords.

Modelled on HIPS autograd's tests/test_systematic.py and tests/numpy_utils.py (MIT): the
statistics, unary and binary ufunc families over scalar/vector/matrix/broadcast operands (real
and complex), and the shape/product functions over their keyword combinations. The function is
passed to framead as it is (``np.sin``, ``np.sum`` with ``axis=...``).
"""

from __future__ import annotations

import operator as op

import numpy as np

from . import Case, combos

ORIGIN = "autograd tests/test_systematic.py"


def _stats(R) -> list[Case]:
    x, A = 3.5, float(R())
    B, C, D = R(3), R(2, 3), R(1, 3)
    c = complex(R(), 0.1 * R())
    E = R(2, 3) + 0.1j * R(2, 3)
    out = []
    for name in ("max", "min", "all", "any", "mean", "sum", "prod", "var", "std"):
        f = getattr(np, name)
        p = f"stat/{name}"
        out += combos(p, f, (0,), [x, A], origin=ORIGIN)
        out += combos(p, f, (0,), [B, C, D], origin=ORIGIN, axis=[None, 0],
                      keepdims=[True, False])
        out += combos(p, f, (0,), [C, D], origin=ORIGIN, axis=[None, 0, 1],
                      keepdims=[True, False])
        out += combos(p, f, (0,), [x, c, A], origin=ORIGIN)
        out += combos(p, f, (0,), [B, C, D, E], origin=ORIGIN, axis=[None, 0],
                      keepdims=[True, False])
    return out


def _t(lims, x):
    return x * (lims[1] - lims[0]) + lims[0]


UNARY = [  # (function, lims, complex too)
    (np.sin, (-2, 2), True), (np.abs, (0.1, 4.0), True), (np.absolute, (0.1, 4.0), True),
    (np.arccosh, (1.1, 4.0), True), (np.arcsinh, (-0.9, 0.9), True),
    (np.arctanh, (-0.9, 0.9), True), (np.ceil, (-1.5, 1.5), False), (np.cos, (-2, 2), True),
    (np.cosh, (-2, 2), True), (np.deg2rad, (-2, 2), False),
    (lambda x: np.degrees(x) / 50.0, (-2, 2), False), (np.exp, (-2, 2), True),
    (np.exp2, (-2, 2), True), (np.expm1, (-2, 2), True), (np.fabs, (-2, 2), False),
    (np.floor, (-1.5, 1.5), False), (np.log, (0.2, 2.0), True), (np.log10, (0.2, 2.0), True),
    (np.log1p, (0.2, 2.0), True), (np.log2, (0.2, 2.0), True),
    (lambda x: np.rad2deg(x) / 50.0, (-2, 2), False), (np.radians, (-2, 2), False),
    (np.sign, (-2, 2), True), (np.sinh, (-2, 2), True), (np.sqrt, (1.0, 3.0), True),
    (np.square, (-2, 2), False), (np.tan, (-1.1, 1.1), True), (np.tanh, (-2, 2), True),
    (np.real, (-2, 2), True), (np.real_if_close, (-2, 2), True), (np.imag, (-2, 2), True),
    (np.conj, (-2, 2), True), (np.angle, (-2, 2), True),
    # beyond autograd's list: the rest of NumPy's differentiable unary ufuncs
    (np.arcsin, (-0.9, 0.9), True), (np.arccos, (-0.9, 0.9), True),
    (np.arctan, (-2, 2), True), (np.cbrt, (0.5, 2.0), False), (np.reciprocal, (0.5, 2.0), True),
    (np.negative, (-2, 2), True), (np.positive, (-2, 2), True), (np.rint, (-1.3, 1.3), False),
    (np.trunc, (-1.3, 1.3), False), (np.sinc, (0.1, 0.9), False), (np.i0, (0.2, 2.0), False),
    (np.conjugate, (-2, 2), True), (np.fix, (-1.3, 1.3), False),
    (np.nan_to_num, (-2, 2), False), (np.around, (-2, 2), False),
]


def _unary(rng) -> list[Case]:
    out = []
    for f, lims, cplx in UNARY:
        name = getattr(f, "__name__", "f")
        if name == "<lambda>":
            name = "degrees/50" if f is UNARY[10][0] else "rad2deg/50"
        p = f"unary/{name}"
        args = [_t(lims, 0.4), _t(lims, rng.random(2)), _t(lims, rng.random((3, 2))),
                _t(lims, rng.random((1, 2)))]
        out += combos(p, f, (0,), args, origin=ORIGIN)
        if cplx:
            args = [complex(_t(lims, 0.4), 0.1 * _t(lims, 0.3)),
                    _t(lims, rng.random((3, 2))) + 0.1j * rng.random((3, 2))]
            out += combos(p, f, (0,), args, origin=ORIGIN)
    return out


BINARY = [  # (name, function, lims_A, lims_B, complex too, no equal arguments)
    ("add", np.add, (-2, 2), (-2, 2), True, False),
    ("logaddexp", np.logaddexp, (-2, 2), (-2, 2), False, False),
    ("logaddexp2", np.logaddexp2, (-2, 2), (-2, 2), False, False),
    ("remainder", np.remainder, (-0.9, 0.9), (0.7, 1.9), False, True),
    ("true_divide", np.true_divide, (-2, 2), (0.8, 1.2), False, False),
    ("mod", np.mod, (-2, 2), (0.8, 2.1), False, True),
    ("true_divide_neg", np.true_divide, (-2, 2), (-0.3, -2.0), False, False),
    ("mod_neg", np.mod, (-2, 2), (-0.3, -2.0), False, True),
    ("op.mul", op.mul, (-2, 2), (-2, 2), True, False),
    ("op.add", op.add, (-2, 2), (-2, 2), True, False),
    ("op.sub", op.sub, (-2, 2), (-2, 2), True, False),
    ("op.mod", op.mod, (-2, 2), (0.3, 2.0), False, True),
    ("op.mod_neg", op.mod, (-2, 2), (-0.3, -2.0), False, True),
    ("op.truediv", op.truediv, (-2, 2), (0.5, 2.0), True, False),
    ("op.pow", op.pow, (0.7, 2.0), (-2, 2), True, False),
    # beyond autograd's list
    ("subtract", np.subtract, (-2, 2), (-2, 2), True, False),
    ("multiply", np.multiply, (-2, 2), (-2, 2), True, False),
    ("divide", np.divide, (-2, 2), (0.5, 2.0), True, False),
    ("power", np.power, (0.7, 2.0), (-2, 2), False, False),
    ("arctan2", np.arctan2, (-2, 2), (0.5, 2.0), False, True),
    ("hypot", np.hypot, (0.5, 2.0), (0.5, 2.0), False, True),
    ("fmod", np.fmod, (0.3, 2.0), (0.7, 1.9), False, True),
    ("copysign", np.copysign, (0.5, 2.0), (-2, 2), False, True),
    ("float_power", np.float_power, (0.7, 2.0), (-2, 2), False, False),
]


def _binary(rng) -> list[Case]:
    out = []
    for name, f, la, lb, cplx, distinct in BINARY:
        p = f"binary/{name}"
        if distinct:
            sA = [0.6, rng.random(2), rng.random((3, 2)), rng.random((1, 2))]
            sB = [0.7, rng.random(2), rng.random((3, 2)), rng.random((1, 2))]
        else:
            sA = sB = [0.6, rng.random(2), rng.random((3, 2)), rng.random((1, 2))]
        A = [_t(la, a) for a in sA]
        B = [_t(lb, b) for b in sB]
        out += combos(p, f, (0, 1), A, B, origin=ORIGIN)
        if cplx:
            m1 = rng.random((3, 2)) + 0.1j * rng.random((3, 2))
            sA = [0.6, 0.6 + 0.3j, sA[1], m1, sA[3]]
            sB = [0.6, 0.6 + 0.3j, sB[1], m1, sB[3]]
            A = [_t(la, a) for a in sA]
            B = [_t(lb, b) for b in sB]
            for a in A:
                for b in B:
                    if np.iscomplexobj(a) or np.iscomplexobj(b):
                        out += combos(p, f, (0, 1), [a], [b], origin=ORIGIN)
    return out


def _misc(R) -> list[Case]:
    o = ORIGIN
    out = []
    out += combos("transpose", np.transpose, (0,), [R(2, 3, 4)], origin=o,
                  axes=[None, [0, 1, 2], [0, 2, 1], [2, 0, 1], [2, 1, 0], [1, 0, 2], [1, 2, 0]])
    out += combos("repeat", np.repeat, (0,), [R(2, 3, 4), R(3, 1)], origin=o,
                  repeats=[0, 1, 2], axis=[None, 0, 1])
    out += combos("diff", np.diff, (0,), [R(5, 5), R(5, 5, 5)], origin=o, n=[1, 2],
                  axis=[0, 1])
    out += combos("diff", np.diff, (0,), [R(1), R(1, 1)], origin=o, axis=[0])
    out += combos("diff", np.diff, (0,), [R(1, 1), R(3, 1)], origin=o, axis=[1])
    out += combos("tile", np.tile, (0,), [R(2, 1, 3, 1)], origin=o, reps=[(1, 4, 1, 2)])
    out += combos("tile", np.tile, (0,), [R(1, 2)], origin=o, reps=[(1, 2), (2, 3), (3, 2, 1)])
    out += combos("tile", np.tile, (0,), [R(1)], origin=o, reps=[(2,), 2])
    out += combos("kron", np.kron, (0, 1), [R(5, 5), R(4, 4)], [R(3, 3), R(2, 2)], origin=o)
    out += combos("inner", np.inner, (0, 1), [1.5, R(3), R(2, 3)], [0.3, R(3), R(4, 3)],
                  origin=o)
    out += combos("dot", np.dot, (0, 1), [1.5, R(3), R(2, 3), R(2, 2, 3)],
                  [0.3, R(3), R(3, 4), R(2, 3, 4)], origin=o)
    out += combos("matmul", np.matmul, (0, 1), [R(3), R(2, 3), R(2, 2, 3)],
                  [R(3), R(3, 4), R(2, 3, 4)], origin=o)
    out += combos("tensordot", np.tensordot, (0, 1), [R(1, 3), R(2, 3, 2)],
                  [R(3), R(3, 1), R(3, 4, 2)], origin=o, axes=[[(1,), (0,)]])
    out += combos("tensordot", np.tensordot, (0, 1), [R(3), R(3, 1), R(3, 4, 2)],
                  [R(1, 3), R(2, 3, 2)], origin=o, axes=[[(0,), (1,)]])
    out += combos("tensordot", np.tensordot, (0, 1), [R(2, 3), R(2, 3, 4)],
                  [R(1, 2, 3), R(2, 2, 3, 4)], origin=o, axes=[[(0, 1), (1, 2)],
                                                                [(1, 0), (2, 1)]])
    out += combos("tensordot", np.tensordot, (0, 1), [R(2, 2), R(4, 2, 2)],
                  [R(2, 2), R(2, 2, 4)], origin=o, axes=[1, 2])
    out += combos("tensordot", np.tensordot, (0, 1), [R(4)], [np.array(R())], origin=o,
                  axes=[0])
    out += combos("tensordot", np.tensordot, (0, 1), [R(2, 6)], [R(6, 3)], origin=o,
                  axes=[[[-1], [0]]])
    for f in (np.maximum, np.fmax, np.minimum, np.fmin):
        out += combos(f.__name__, f, (0, 1), [R(1), R(1, 4), R(3, 4)],
                      [R(1), R(1, 4), R(3, 4)], origin=o)
    out += combos("sort", np.sort, (0,), [R(1), R(7)], origin=o)
    out += combos("partition", np.partition, (0,), [R(7), R(14)], origin=o, kth=[0, 3, 6])
    for f in (np.atleast_1d, np.atleast_2d, np.atleast_3d):
        out += combos(f.__name__, f, (0,), [1.2, R(1), R(7), R(1, 4), R(2, 4), R(2, 4, 5)],
                      origin=o)
    out += combos("atleast_3d", np.atleast_3d, (0,), [R(2, 4, 3, 5)], origin=o)
    E = np.einsum
    out += combos("einsum", E, (1,), ["ij->ji"], [R(1, 1), R(4, 4), R(3, 4)], origin=o)
    out += combos("einsum", E, (1, 2), ["ij,jk->ik"], [R(2, 3)], [R(3, 4)], origin=o)
    out += combos("einsum", E, (1, 2), ["...ij,...jk->...ik"], [R(2, 3), R(2, 2, 3)],
                  [R(3, 4), R(2, 3, 4)], origin=o)
    out += combos("einsum", E, (1, 2), ["ijk,lji->lki"], [R(3, 4, 4)], [R(4, 4, 3)], origin=o)
    out += combos("einsum", E, (1, 2), ["...jk,...lj->...lk", "...,...->..."],
                  [R(4, 4), R(3, 4, 4)], [R(4, 4), R(3, 4, 4)], origin=o)
    out += combos("einsum", E, (1, 2), ["jk...,lj...->lk..."], [R(3, 2), R(3, 2, 4)],
                  [R(2, 3), R(2, 3, 4)], origin=o)
    out += combos("einsum", E, (1, 2), ["j...k,lj...->lk..."], [R(2, 2), R(2, 2, 2)],
                  [R(2, 2), R(2, 2, 2)], origin=o)
    out += combos("einsum", E, (1, 2), ["ijk,lji,lli->lki"], [R(3, 4, 4)], [R(4, 4, 3)],
                  [R(4, 4, 3)], origin=o)
    out += combos("einsum2", E, (0,), [R(1, 1), R(4, 4), R(3, 4)], [(0, 1)], [(1, 0)],
                  origin=o)
    out += combos("einsum2", E, (0, 2), [R(2, 3)], [(0, 1)], [R(3, 4)], [(1, 2)], [(0, 2)],
                  origin=o)
    out += combos("einsum2", E, (0, 2), [R(2, 3), R(2, 2, 3)], [(Ellipsis, 0, 1)],
                  [R(3, 4), R(2, 3, 4)], [(Ellipsis, 1, 2)], [(Ellipsis, 0, 2)], origin=o)
    out += combos("einsum2", E, (0, 2), [R(3, 4, 4)], [(0, 1, 2)], [R(4, 4, 3)], [(3, 1, 0)],
                  [(3, 2, 0)], origin=o)
    out += combos("einsum2", E, (0, 2), [R(3, 4, 4)], [(0, 1, 2)], [R(4, 4, 3)], [(3, 1, 0)],
                  [R(4, 4, 3)], [(3, 3, 0)], [(3, 2, 0)], origin=o)
    out += combos("trace", np.trace, (0,), [R(5, 5), R(4, 5), R(5, 4), R(3, 4, 5)], origin=o,
                  offset=[-1, 0, 1])
    out += combos("diag", np.diag, (0,), [R(5, 5), R(5)], origin=o, k=[-1, 0, 1])
    out += combos("tril", np.tril, (0,), [R(5, 5), R(5, 5, 4)], origin=o, k=[-1, 0, 1])
    out += combos("triu", np.triu, (0,), [R(5, 5), R(5, 5, 4)], origin=o, k=[-1, 0, 1])
    out += combos("swapaxes", np.swapaxes, (0,), [R(3, 4, 5)], origin=o, axis1=[0, 1, 2],
                  axis2=[0, 1, 2])
    out += combos("rollaxis", np.rollaxis, (0,), [R(2, 3, 4)], origin=o, axis=[0, 1, 2],
                  start=[0, 1, 2, 3])
    out += combos("cross", np.cross, (0, 1), [R(3, 3)], [R(3, 3)], origin=o,
                  axisa=[-1, 0, 1], axisb=[-1, 0, 1], axisc=[-1, 0, 1], axis=[None, -1, 0, 1])
    for f, arrs in ((np.vsplit, [R(4, 8), R(4, 4, 4)]), (np.hsplit, [R(4, 8), R(4, 4, 4)]),
                    (np.dsplit, [R(4, 4, 4)])):
        out += combos(f.__name__, f, (0,), arrs, [2, [1, 2]], origin=o)
    out += combos("split", np.split, (0,), [R(1), R(7)], [1], origin=o, axis=[0])
    out += combos("split", np.split, (0,), [R(4, 8)], [4, [1, 2]], origin=o, axis=[0, 1])
    out += combos("split", np.split, (0,), [R(4, 4, 4)], [2, [1, 2]], origin=o,
                  axis=[0, 1, 2])
    out += combos("array_split", np.array_split, (0,), [R(1), R(7)], [1, 3], origin=o,
                  axis=[0])
    out += combos("array_split", np.array_split, (0,), [R(7, 7)], [4, [3, 5]], origin=o,
                  axis=[0, 1])
    out += combos("array_split", np.array_split, (0,), [R(7, 7, 7)], [4, [3, 5]], origin=o,
                  axis=[0, 1, 2])
    out += combos("concatenate", np.concatenate, (0,), [(R(1), R(3)), [R(1), R(3)]],
                  origin=o, axis=[0])
    out += combos("concatenate", np.concatenate, (0,), [(R(2, 2), R(2, 2))], origin=o,
                  axis=[0, 1])
    out += combos("concatenate", np.concatenate, (0,), [(R(2, 2, 2), R(2, 2, 2))], origin=o,
                  axis=[0, 1, 2])
    for f, arrs in ((np.vstack, [R(2), (R(2), R(2)), R(2, 3), (R(2, 4), R(1, 4)), R(2, 3, 4),
                                 (R(2, 3, 4), R(5, 3, 4))]),
                    (np.hstack, [R(2), (R(2), R(2)), R(3, 2), (R(3, 4), R(3, 5)), R(2, 3, 4),
                                 (R(2, 1, 4), R(2, 5, 4))]),
                    (np.column_stack, [R(2), (R(2), R(2)), R(2, 2), (R(2, 2), R(2, 2))]),
                    (np.dstack, [(R(2), R(2)), (R(2, 3), R(2, 3))])):
        out += combos(f.__name__, f, (0,), arrs, origin=o)
    out += combos("stack", np.stack, (0,), [(R(2),), (R(2), R(2))], origin=o, axis=[0, 1])
    conds = [R(3, 4, 5) > 0, R(3, 4, 5) > 0, R(3, 4, 5) > 0]
    out += combos("select", np.select, (1,), [conds], [[R(3, 4, 5), R(3, 4, 5), R(3, 4, 5)]],
                  origin=o, default=[0.0, 1.1])
    return out


def cases() -> list[Case]:
    rs = np.random.RandomState(0)

    def R(*shape):
        return rs.randn(*shape) if shape else float(rs.randn())

    rng = np.random.default_rng(0)
    misc = _misc(R)
    for c in misc:
        c.name = "misc/" + c.name
    return _stats(R) + _unary(rng) + _binary(rng) + misc
