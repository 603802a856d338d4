"""Matrix helpers of the linear-algebra rules (``np.linalg``, ``scipy.linalg``): transposes,
batched cotangents, Hermitian triangles and JAX's complex convention."""

from __future__ import annotations

import numpy as np

from .shapes import fit, meta_of, shape_of, sum_to

la = np.linalg


def mT(x):
    """Transpose of the last two axes (of a stack of matrices)."""
    return np.swapaxes(x, -1, -2)


def conj(x):
    """Complex conjugate; a real ``x`` itself (no copy: the result is only read)."""
    return np.conj(x) if np.iscomplexobj(x) else x


def mH(x):
    """Conjugate transpose of the last two axes (a view for real ``x``)."""
    return conj(np.swapaxes(x, -1, -2))


def solve_vec(a, v):
    """``solve(a, v)`` for a (stack of) vector(s) ``v``."""
    return la.solve(a, v[..., None])[..., 0]


def is_vec(b):
    """A right-hand side that is one vector (not a matrix)."""
    return len(shape_of(b)) == 1


def outer_last(u, v):
    """Outer product over the last axis, batched over the others."""
    return u[..., :, None] * v[..., None, :]


def cot_like(ct, x):
    """Cotangent ``ct`` summed over broadcast batch axes, as the kind of ``x``."""
    m = meta_of(x)
    return fit(sum_to(ct, m.shape), m)


def real_only(name, *xs):
    """Refuse complex arguments where a rule covers real matrices only."""
    if any(np.iscomplexobj(x) or (getattr(x, "dtype", None) is not None
                                  and np.dtype(x.dtype).kind == "c") for x in xs):
        raise NotImplementedError(f"framead: {name} of a complex matrix has no rule")


# --- Hermitian-triangle helpers (cholesky, eigh) ---------------------------------------------

def herm_from(t, lower):
    """The Hermitian matrix a routine reading one triangle of ``t`` sees."""
    tri = np.tril(t) if lower else np.triu(t)
    off = np.tril(t, -1) if lower else np.triu(t, 1)
    s = tri + mH(off)
    if np.iscomplexobj(s):
        d = np.arange(s.shape[-1])
        s[..., d, d] = np.real(s[..., d, d])
    return s


def zero_triangle(x, k):
    """``x`` (a temporary of the caller's) with its entries on and above diagonal ``k`` set
    to 0 in place (``x = np.tril(x, k - 1)`` without a new array: on the benchmark machines
    a fresh matrix costs more in page faults than the arithmetic)."""
    i = np.arange(x.shape[-2])
    np.copyto(x, 0, where=np.less_equal.outer(i + k, np.arange(x.shape[-1])))
    return x


def herm_adjoint(m, lower):
    """Adjoint of ``herm_from`` under ``Re<u, v>``: the cotangent on the read triangle."""
    s = m + mH(m)  # (a new array: its other triangle and diagonal zeroed in place)
    out = zero_triangle(s, 0) if lower else mT(zero_triangle(mT(s), 0))
    d = np.arange(m.shape[-1])
    out = out.astype(np.result_type(out, m), copy=False)
    out[..., d, d] = np.real(m[..., d, d])
    return out


def jax_cot(adjoint, g, *args):
    """JAX-convention cotangent from a Hermitian-adjoint formula: conj(adj(conj(g)))."""
    g = tuple(None if x is None else conj(x) for x in g) if isinstance(g, tuple) else conj(g)
    return conj(adjoint(g, *args))

