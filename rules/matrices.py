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


def herm_adjoint(m, lower):
    """Adjoint of ``herm_from`` under ``Re<u, v>``: the cotangent on the read triangle."""
    s = m + mH(m)
    out = np.tril(s, -1) if lower else np.triu(s, 1)
    d = np.arange(m.shape[-1])
    out = out.astype(np.result_type(out, m), copy=False)
    out[..., d, d] = np.real(m[..., d, d])
    return out


def jax_cot(adjoint, g, *args):
    """JAX-convention cotangent from a Hermitian-adjoint formula: conj(adj(conj(g)))."""
    g = tuple(None if x is None else conj(x) for x in g) if isinstance(g, tuple) else conj(g)
    return conj(adjoint(g, *args))

