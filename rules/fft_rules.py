"""Rules for ``np.fft``: the complex and real transforms in 1, 2 and n dimensions, and the
shifts.

Complex convention (the registry's, JAX's): the VJP is the transpose of the JVP under the
bilinear pairing ``Re(sum(u * v))``, *not* the Hermitian adjoint. Every transform is linear,
so its JVP is the transform of the tangent; its VJP is its transpose. The DFT matrix is
symmetric, so the transpose of ``fft`` is ``fft`` itself (with the same ``norm``), and that of
``ifft`` is ``ifft``; the zero-padding or cropping ``n``/``s`` ask for transposes to cropping
or zero-padding back to the input length. A real-input transform (``rfft``, ``ihfft``) gets a
real cotangent (the real part of the transposed transform); a real-output one (``irfft``,
``hfft``) reads only the non-redundant half of its Hermitian input and ignores the
imaginary parts of the zero and Nyquist frequencies, which therefore get zero cotangent.
For ``g`` the cotangent of ``y = fft(x)``, ``x``'s cotangent is ``fft(g)``: for a real loss
``L(y)``, ``g = dL/dRe(y) - 1j dL/dIm(y)`` (JAX's ``grad`` convention: the conjugate of the
"gradient" PyTorch reports).
"""

from __future__ import annotations

import numpy as np

from .registry import ANS, public_name, register
from .shapes import fit, meta_of, shape_of

fft = np.fft
_DUAL = {None: "forward", "backward": "forward", "forward": "backward", "ortho": "ortho"}


def _resize(x, axis, n):
    """Crop or zero-pad ``x`` to length ``n`` along ``axis``."""
    have = x.shape[axis]
    if have == n:
        return x
    if have > n:
        return np.take(x, np.arange(n), axis=axis)
    pad = [(0, 0)] * x.ndim
    pad[axis] = (0, n - have)
    return np.pad(x, pad)


def _axes_sizes(x, s, axes, default_axes=None):
    """(axes, transform lengths) as np.fft.fftn resolves ``s`` and ``axes``."""
    shape = shape_of(x)
    nd = len(shape)
    if axes is None:
        axes = default_axes if default_axes is not None else (
            tuple(range(nd)) if s is None else tuple(range(nd - len(s), nd)))
    axes = tuple(int(a) % nd for a in axes)
    sizes = tuple(shape[a] for a in axes) if s is None else tuple(
        shape[a] if n == -1 else int(n) for a, n in zip(axes, s, strict=True))
    return axes, sizes


def _complex_vjp(transform, default_axes=None, one_d=False):
    """VJP of fft/ifft/fftn/ifftn/fft2/ifft2: the same transform of g, resized back."""
    if one_d:
        def vjp(g, ans, a, n=None, axis=-1, norm=None, out=None):
            ct = transform(g, axis=axis, norm=norm)
            return fit(_resize(ct, axis % len(shape_of(a)), shape_of(a)[axis]), meta_of(a))
        return vjp

    def vjpn(g, ans, a, s=None, axes=None, norm=None, out=None):
        axes, _ = _axes_sizes(a, s, axes, default_axes)
        ct = transform(g, axes=axes, norm=norm)
        for ax in axes:
            ct = _resize(ct, ax, shape_of(a)[ax])
        return fit(ct, meta_of(a))
    return vjpn


def _rfft_cot(g, a, axis, n, norm):
    """Cotangent of the real input of rfft along ``axis`` (transform length ``n``)."""
    g = _resize(np.asarray(g), axis, n)  # zero-extend the half spectrum to n
    ct = np.real(fft.fft(g, axis=axis, norm=norm))
    return _resize(ct, axis, shape_of(a)[axis])


def _rfft_vjp(g, ans, a, n=None, axis=-1, norm=None, out=None):
    ax = axis % len(shape_of(a))
    n = shape_of(a)[ax] if n is None else n
    return fit(_rfft_cot(g, a, ax, n, norm), meta_of(a))


def _irfft_cot(g, m, axis, norm):
    """Cotangent of irfft's Hermitian half-spectrum input (length ``m``) from real ``g``."""
    n = g.shape[axis]
    half = fft.rfft(g, axis=axis, norm=_DUAL[norm])
    c = np.full(n // 2 + 1, 2.0)
    c[0] = 1.0
    if n % 2 == 0:
        c[-1] = 1.0
    c = c.reshape([-1 if i == axis else 1 for i in range(g.ndim)])
    return _resize(c * np.conj(half), axis, m)


def _irfft_vjp(g, ans, a, n=None, axis=-1, norm=None, out=None):
    ax = axis % len(shape_of(a))
    return fit(_irfft_cot(np.asarray(g), shape_of(a)[ax], ax, norm), meta_of(a))


def _hfft_vjp(g, ans, a, n=None, axis=-1, norm=None, out=None):
    """hfft(a) = irfft(conj(a)) with the dual norm."""
    ax = axis % len(shape_of(a))
    ct = np.conj(_irfft_cot(np.asarray(g), shape_of(a)[ax], ax, _DUAL[norm]))
    return fit(ct, meta_of(a))


def _ihfft_vjp(g, ans, a, n=None, axis=-1, norm=None, out=None):
    """ihfft(a) = conj(rfft(a)) with the dual norm, for real a."""
    ax = axis % len(shape_of(a))
    n = shape_of(a)[ax] if n is None else n
    return fit(_rfft_cot(np.conj(g), a, ax, n, _DUAL[norm]), meta_of(a))


def _rfftn_vjp(default_axes=None):
    def vjp(g, ans, a, s=None, axes=None, norm=None, out=None):
        axes, sizes = _axes_sizes(a, s, axes, default_axes)
        ct = np.asarray(g)
        if len(axes) > 1:  # transpose of the complex fft over the leading axes
            ct = fft.fftn(ct, axes=axes[:-1], norm=norm)
            for ax in axes[:-1]:
                ct = _resize(ct, ax, shape_of(a)[ax])
        return fit(_rfft_cot(ct, a, axes[-1], sizes[-1], norm), meta_of(a))
    return vjp


def _irfftn_vjp(default_axes=None):
    def vjp(g, ans, a, s=None, axes=None, norm=None, out=None):
        shape = shape_of(a)
        nd = len(shape)
        if axes is None:
            axes = default_axes if default_axes is not None else (
                tuple(range(nd)) if s is None else tuple(range(nd - len(s), nd)))
        axes = tuple(int(x) % nd for x in axes)
        ct = _irfft_cot(np.asarray(g), shape[axes[-1]], axes[-1], norm)
        if len(axes) > 1:
            ct = fft.ifftn(ct, axes=axes[:-1], norm=norm)
            for ax in axes[:-1]:
                ct = _resize(ct, ax, shape[ax])
        return fit(ct, meta_of(a))
    return vjp


def _shift_vjp(inverse):
    def vjp(g, ans, x, axes=None):
        return fit(inverse(g, axes), meta_of(x))
    return vjp


def _linear_jvp(transform):
    def jvp(tangents, ans, a, *args, **kw):
        kw.pop("out", None)
        args = args[:3] if len(args) > 3 else args  # drop a positional out
        return transform(tangents[0], *args, **kw)
    return jvp


TRANSFORMS = [  # (function, vjp)
    (fft.fft, _complex_vjp(fft.fft, one_d=True)), (fft.ifft, _complex_vjp(fft.ifft, one_d=True)),
    (fft.fftn, _complex_vjp(fft.fftn)), (fft.ifftn, _complex_vjp(fft.ifftn)),
    (fft.fft2, _complex_vjp(fft.fftn, (-2, -1))), (fft.ifft2, _complex_vjp(fft.ifftn, (-2, -1))),
    (fft.rfft, _rfft_vjp), (fft.irfft, _irfft_vjp), (fft.hfft, _hfft_vjp),
    (fft.ihfft, _ihfft_vjp), (fft.rfftn, _rfftn_vjp()), (fft.rfft2, _rfftn_vjp((-2, -1))),
    (fft.irfftn, _irfftn_vjp()), (fft.irfft2, _irfftn_vjp((-2, -1))),
    (fft.fftshift, _shift_vjp(fft.ifftshift)), (fft.ifftshift, _shift_vjp(fft.fftshift)),
]


def _freq_vjp(g, ans, n, d=1.0, **kw):
    return fit(-np.sum(np.asarray(g) * ans) / d, meta_of(d))


def _freq_jvp(tangents, ans, n, d=1.0, **kw):
    t = tangents[1] if len(tangents) > 1 else None
    return None if t is None else -ans * t / d


def install() -> None:
    for fn in (fft.fftfreq, fft.rfftfreq):  # k / (n d): differentiable in the spacing d
        register(fn, vjp=(None, _freq_vjp), jvp=_freq_jvp, saves={1: (1, ANS)},
                 name=public_name(fn))
    for fn, vjp in TRANSFORMS:
        register(fn, vjp=(vjp,), jvp=_linear_jvp(fn), saves={0: ()}, name=public_name(fn))
