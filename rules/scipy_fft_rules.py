"""Rules for SciPy's real trigonometric transforms: ``scipy.fft.dct/idct/dst/idst`` and their
n-dimensional forms (``dctn``...), and ``scipy.fftpack``'s (same transforms, no ``workers`` or
``orthogonalize``; its ``idct`` is the ``dct`` of the inverse type with the *same* norm).

Every transform is a real linear map along an axis, so its JVP is the transform of the tangent
and its VJP the transpose. For length ``N`` and scale ``s`` (1 for ``norm='backward'``/None,
``1/(2N')`` for ``'forward'``, ``1/sqrt(2N')`` for ``'ortho'``; ``N' = N - 1`` for DCT-I,
``N + 1`` for DST-I, else ``N``), a transform is ``s diag(a) T_t diag(b)`` with ``T_t`` the
unnormalised type-``t`` transform and ``a``, ``b`` the weights ``orthogonalize`` applies to
the output and input ends (DCT-I: both ends; DCT-II: ``y[0]``; DCT-III: ``x[0]``; DST-II:
``y[N-1]``; DST-III: ``x[N-1]``). The transpose of ``T_t`` is ``diag(p) T_t' diag(q)``:

* DCT-I: ``c T_1 (g / c)``, ``c = [1, 2, ..., 2, 1]`` (not T_1 itself: its end columns are
  weighted by 1, the others by 2);
* DCT-II: ``T_3(w g)``, ``w = [2, 1, ...]``; DCT-III: ``[1/2, 1, ...] T_2(g)``;
* DST-II: ``T_3(w g)``, ``w = [..., 1, 2]``; DST-III: ``[..., 1, 1/2] T_2(g)``;
* DCT-IV, DST-I, DST-IV: symmetric.

``n`` (and ``s``/``shape`` in n dimensions) crops or zero-pads the input first; the transpose
zero-pads or crops back. An inverse transform is the forward transform of the inverse type
(I <-> I, II <-> III, IV <-> IV) with the dual norm (scipy.fft) or the same norm (fftpack).
``overwrite_x=True`` is refused (FA101): SciPy may write into the input, which no node records.
Complex input is transformed part by part: the same real matrix, so the same transpose, but
scipy.fft (1.17) then drops ``orthogonalize`` (the default for the norm applies), and so do
these rules.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft as sfft
import scipy.fftpack as fftpack  # (light once scipy.fft is loaded)

from .fft_rules import _resize
from .registry import lookup, register
from .shapes import fit, meta_of, shape_of

_INVERSE_TYPE = {1: 1, 2: 3, 3: 2, 4: 4}
_DUAL = {None: "forward", "backward": "forward", "forward": "backward", "ortho": "ortho"}
_R2 = math.sqrt(2.0)


def _ends(n: int, first: float, last: float) -> np.ndarray:
    w = np.ones(n)
    w[0] *= first
    w[-1] *= last
    return w


def _scale(kind: str, t: int, n: int, norm) -> float:
    m = n - 1 if (kind, t) == ("dct", 1) else n + 1 if (kind, t) == ("dst", 1) else n
    if norm == "forward":
        return 1.0 / (2 * m)
    if norm == "ortho":
        return 1.0 / math.sqrt(2 * m)
    if norm in (None, "backward"):
        return 1.0
    raise ValueError(f"framead: unknown norm {norm!r}")


def _weights(kind: str, t: int, n: int, orth: bool):
    """(output weights a, input weights b) that ``orthogonalize`` applies."""
    one = np.ones(n)
    if not orth:
        return one, one
    if kind == "dct":
        return {1: (_ends(n, 1 / _R2, 1 / _R2), _ends(n, _R2, _R2)),
                2: (_ends(n, 1 / _R2, 1), one), 3: (one, _ends(n, _R2, 1))}.get(t, (one, one))
    return {2: (_ends(n, 1, 1 / _R2), one), 3: (one, _ends(n, 1, _R2))}.get(t, (one, one))


def _unnormalized_transpose(kind: str, t: int, n: int):
    """(p, type t', q): T_t^T = diag(p) T_t' diag(q)."""
    one = np.ones(n)
    if kind == "dct" and t == 1:
        c = 2 * _ends(n, 0.5, 0.5)  # [1, 2, ..., 2, 1]
        return c, 1, 1 / c
    if t == 2:
        return one, 3, (_ends(n, 2, 1) if kind == "dct" else _ends(n, 1, 2))
    if t == 3:
        return (_ends(n, 0.5, 1) if kind == "dct" else _ends(n, 1, 0.5)), 2, one
    return one, t, one


def _along(v: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    return v.reshape([-1 if i == axis else 1 for i in range(ndim)])


def transpose_1d(kind: str, g, t: int, axis: int, norm, orth) -> np.ndarray:
    """The transpose of ``scipy.fft.<kind>(., type=t, axis=axis, norm=norm,
    orthogonalize=orth)`` applied to ``g`` (a forward transform: dct or dst)."""
    g = np.asarray(g)
    n = g.shape[axis]
    orth = norm == "ortho" if orth is None else bool(orth)
    a, b = _weights(kind, t, n, orth)
    p, t2, q = _unnormalized_transpose(kind, t, n)
    fn = sfft.dct if kind == "dct" else sfft.dst
    h = fn(_along(q * a, axis, g.ndim) * g, type=t2, axis=axis, norm="backward",
           orthogonalize=False)
    return _scale(kind, t, n, norm) * _along(b * p, axis, g.ndim) * h


def _orth(x, orthogonalize):
    """The ``orthogonalize`` SciPy applies: its default for a complex ``x``."""
    dtype = meta_of(x).dtype
    return None if dtype is not None and np.dtype(dtype).kind == "c" else orthogonalize


def _forward(kind: str, inverse: bool, fftpack: bool, t: int, norm):
    """(type, norm) of the forward transform (dct or dst) a call computes."""
    if not inverse:
        return t, norm
    return _INVERSE_TYPE[t], (norm if fftpack else _DUAL[norm])


def _rule_1d(kind: str, inverse: bool, fftpack: bool):
    def vjp(g, ans, x, type=2, n=None, axis=-1, norm=None, *args, orthogonalize=None, **kw):
        shape = shape_of(x)
        ax = int(axis) % len(shape)
        t, nrm = _forward(kind, inverse, fftpack, int(type), norm)
        ct = transpose_1d(kind, g, t, ax, nrm, _orth(x, orthogonalize))
        return fit(_resize(ct, ax, shape[ax]), meta_of(x))
    return vjp


def _axes_sizes(shape: tuple, s, axes) -> tuple[tuple[int, ...], tuple[int, ...]]:
    nd = len(shape)
    if s is not None:
        s = tuple(np.atleast_1d(s).tolist())
    if axes is None:
        axes = tuple(range(nd)) if s is None else tuple(range(nd - len(s), nd))
    axes = tuple(int(a) % nd for a in np.atleast_1d(axes).tolist())
    sizes = tuple(shape[a] for a in axes) if s is None else tuple(int(v) for v in s)
    return axes, sizes


def _rule_nd(kind: str, inverse: bool, fftpack: bool):
    def vjp(g, ans, x, type=2, s=None, axes=None, norm=None, *args, orthogonalize=None,
            shape=None, **kw):
        xshape = shape_of(x)
        axes, _ = _axes_sizes(xshape, s if s is not None else shape, axes)
        t, nrm = _forward(kind, inverse, fftpack, int(type), norm)
        ct, orth = np.asarray(g), _orth(x, orthogonalize)
        for ax in axes:
            ct = _resize(transpose_1d(kind, ct, t, ax, nrm, orth), ax, xshape[ax])
        return fit(ct, meta_of(x))
    return vjp


_DROP = ("overwrite_x", "workers")


def _jvp(fn, npos: int):
    """The transform of the tangent (``npos``: positional parameters before overwrite_x)."""
    def jvp(tangents, ans, x, *args, **kw):
        kw = {k: v for k, v in kw.items() if k not in _DROP}
        if _orth(x, kw.get("orthogonalize")) is None:
            kw.pop("orthogonalize", None)
        return fn(tangents[0], *args[:npos], **kw)
    return jvp


NAMES = ("dct", "idct", "dst", "idst", "dctn", "idctn", "dstn", "idstn")


def _pairs():
    for module, prefix, fftpack_ in ((sfft, "scipy.fft", False), (fftpack, "scipy.fftpack", True)):
        for name in NAMES:
            fn = getattr(module, name, None)
            if fn is None:
                continue
            kind, inverse, nd = name.strip("i")[:3], name.startswith("i"), name.endswith("n")
            vjp = (_rule_nd if nd else _rule_1d)(kind, inverse, fftpack_)
            yield fn, f"{prefix}.{name}", vjp


def overwrite_refused(name: str, pos: int = 5):
    """``overwrite_x=True`` (keyword, or positional ``pos``) lets SciPy write into the (traced)
    input, which no node records: run natively (the write is then handled as an unruled
    call's) and reported (FA101)."""
    def refuses(args: tuple, kwargs: dict) -> str | None:
        on = args[pos] if len(args) > pos else kwargs.get("overwrite_x", False)
        return f"{name}(overwrite_x=True) has no derivative rule" if on else None
    return refuses


def install() -> None:
    """Register every rule whose function has none yet (a user's own rule wins)."""
    for fn, name, vjp in _pairs():
        if lookup(fn) is None:
            register(fn, vjp=(vjp,), jvp=_jvp(fn, 4), saves={0: ()}, name=name,
                     refuses=overwrite_refused(name))
