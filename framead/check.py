"""``check_grads``: framead's derivatives against central finite differences (as JAX's
``jax.test_util.check_grads`` and PyTorch's ``gradcheck`` do)."""

from __future__ import annotations

import operator
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import tree
from .api import vjp
from .capture.caller_frame import trampoline
from .errors import FrameadError
from .forward import jvp
from .tracing import norm_argnums, user_facing

_MODE_NAMES = {"rev": "reverse mode (vjp)", "fwd": "forward mode (jvp)"}


class GradientCheckError(FrameadError, AssertionError):
    """A derivative framead computed disagrees with central finite differences.

    ``mode`` ("rev"/"fwd", and for order 2 e.g. "fwd of rev"), ``argnum``, ``index`` (into
    that argument), ``output`` (the output leaf and index, forward mode), ``framead`` and
    ``numeric`` (the two values) say where."""

    def __init__(self, message: str, **where: Any):
        super().__init__(message)
        self.__dict__.update(where)


def _is_float_arg(a: Any) -> bool:
    return (isinstance(a, float | np.floating) and not isinstance(a, bool)) or (
        isinstance(a, np.ndarray) and a.dtype.kind == "f")


def _as_float64(a: Any, i: int) -> Any:
    if tree.is_node(a) and a is not None:  # a container: its float leaves in float64
        return tree.tree_map(lambda v: _as_float64(v, i) if _is_float_arg(v) else v, a)
    if isinstance(a, np.ndarray):
        if a.dtype.kind != "f":
            raise TypeError(f"check_grads: argument {i} has dtype {a.dtype}; it checks real "
                            "float inputs (argnums selects which arguments)")
        return np.array(a, dtype=np.float64)
    if isinstance(a, np.floating):
        return np.float64(a)
    if isinstance(a, float) and not isinstance(a, bool):
        return float(a)
    raise TypeError(f"check_grads: argument {i} is a {type(a).__name__}; it checks real float "
                    "and float-array inputs (argnums selects which arguments)")


def _fresh(args: list) -> list:
    """Copies of the array arguments (also inside containers): ``f`` may write into them."""
    return [tree.tree_map(_copy, a) if tree.is_node(a) else _copy(a) for a in args]


def _copy(a: Any) -> Any:
    return a.copy() if isinstance(a, np.ndarray) else a


# An argument is a float, a float array or a container of them: its elements are those of
# its real float leaves, one after another (``_size``, ``_with``, ``_where``).

def _float_leaves(x: Any) -> tuple[list[Any], list[str], Any]:
    if not tree.is_node(x) or x is None:
        return [x], [""], None
    pairs, td = tree.flatten_with_paths(x)
    return [v for _, v in pairs], [p for p, _ in pairs], td


def _size(x: Any) -> int:
    return sum(int(np.size(v)) for v in _float_leaves(x)[0] if _is_float_arg(v))


def _locate(x: Any, j: int) -> tuple[int, int]:
    """(leaf number, flat index in that leaf) of element ``j`` of ``x``."""
    for k, v in enumerate(_float_leaves(x)[0]):
        if _is_float_arg(v):
            n = int(np.size(v))
            if j < n:
                return k, j
            j -= n
    raise IndexError(j)


def _with(x: Any, j: int, delta: float) -> Any:
    """``x`` with its element ``j`` moved by ``delta`` (a new object)."""
    leaves, _, td = _float_leaves(x)
    k, jj = _locate(x, j)
    v = leaves[k]
    if isinstance(v, np.ndarray):
        v = v.copy()
        v.reshape(-1)[jj] += delta
    else:
        v = type(v)(v + delta)
    if td is None:
        return v
    leaves = [_copy(a) for a in leaves]
    leaves[k] = v
    return tree.unflatten(td, leaves)


def _where(x: Any, j: int) -> tuple[str, tuple]:
    """(path of the leaf, index in it) of element ``j`` of ``x``."""
    leaves, paths, _ = _float_leaves(x)
    k, jj = _locate(x, j)
    v = leaves[k]
    return paths[k], tuple(int(i) for i in np.unravel_index(jj, np.shape(v))) if np.ndim(v) \
        else ()


def _tangent_of(x: Any, t: np.ndarray) -> Any:
    """The tangent of ``x`` (its structure) with elements ``t``; other leaves None."""
    leaves, _, td = _float_leaves(x)
    out, pos = [], 0
    for v in leaves:
        if not _is_float_arg(v):
            out.append(None)
            continue
        n = int(np.size(v))
        part = t[pos:pos + n]
        pos += n
        out.append(part.reshape(np.shape(v)) if isinstance(v, np.ndarray) else type(v)(part[0]))
    return out[0] if td is None else tree.unflatten(td, out)


def _vector_of(x: Any, ct: Any) -> np.ndarray:
    """A cotangent of ``x`` (its structure) as one float64 vector of its elements."""
    leaves, _, td = _float_leaves(x)
    cts = [ct] if td is None else td.flatten_up_to(ct)
    parts = [np.zeros(int(np.size(v))) if c is None else
             np.asarray(c, dtype=np.float64).reshape(-1)
             for v, c in zip(leaves, cts, strict=True) if _is_float_arg(v)]
    return np.concatenate(parts) if parts else np.zeros(0)


def _flat(out: Any, what: str) -> tuple[np.ndarray, list]:
    """The real leaves of an output as one float64 vector, with their shapes (None for leaves
    that are not real floats: ints, bools, None, strings carry no derivative)."""
    leaves = tree.leaves(out)
    parts, shapes = [], []
    for leaf in leaves:
        if np.iscomplexobj(leaf) and not isinstance(leaf, str):
            raise TypeError(f"check_grads: {what} has a complex output; it checks real outputs")
        if _is_float_arg(leaf) or (isinstance(leaf, np.ndarray) and leaf.dtype.kind == "f"):
            a = np.asarray(leaf, dtype=np.float64)
            parts.append(a.reshape(-1))
            shapes.append(a.shape)
        else:
            shapes.append(None)
    vec = np.concatenate(parts) if parts else np.zeros(0)
    return vec, shapes


def _out_label(shapes: list, k: int) -> str:
    """Which output element the flat index ``k`` is."""
    real = [s for s in shapes if s is not None]
    for leaf, s in enumerate(shapes):
        if s is None:
            continue
        n = int(np.prod(s))
        if k < n:
            idx = np.unravel_index(k, s) if s else ()
            where = f"index {tuple(int(i) for i in idx)}" if s else "the scalar"
            return where if len(real) == 1 and len(shapes) == 1 else f"leaf {leaf}, {where}"
        k -= n
    return "?"


def _cotangent(out: Any, u: np.ndarray) -> Any:
    """The tree of ``out`` with its real leaves filled from ``u`` (None elsewhere)."""
    leaves, treedef = tree.flatten(out)
    cts, pos = [], 0
    for leaf in leaves:
        if not (_is_float_arg(leaf) or (isinstance(leaf, np.ndarray) and leaf.dtype.kind == "f")):
            cts.append(None)
            continue
        n = int(np.size(leaf))
        part = u[pos:pos + n]
        pos += n
        if isinstance(leaf, np.ndarray):
            cts.append(part.reshape(leaf.shape).astype(leaf.dtype))
        else:
            cts.append(type(leaf)(part[0]))
    return tree.unflatten(treedef, cts)


class _Checker:
    def __init__(self, f: Callable, args: list, nums: tuple[int, ...], eps: float, atol: float,
                 rtol: float, label: str, rng: np.random.Generator):
        self.f, self.args, self.nums = f, args, nums
        self.eps, self.atol, self.rtol, self.label, self.rng = eps, atol, rtol, label, rng
        self.name = getattr(f, "__qualname__", None) or repr(f)
        self.via = trampoline(sys._getframe(1), f)  # f's caller: the user's line
        out = self.call(_fresh(args))
        self.value, self.shapes = _flat(out, self.name)
        self.out_td = tree.structure(out)
        if all(s is None for s in self.shapes):
            raise TypeError(f"check_grads: {self.name} returned {type(out).__name__}, with no "
                            "float leaf to check (outputs: floats, float arrays, tuples/lists)")
        self.jac = {i: self._numeric_jacobian(i) for i in nums}  # i -> (m, n_i)

    def call(self, args: list) -> Any:
        """``f(*args)`` called from the line that called check_grads, as natively (warnings
        with ``stacklevel=2``, ``sys._getframe(1)``: capture/caller_frame.py)."""
        return self.via(operator.call, self.f, args, {})

    def _numeric_jacobian(self, i: int) -> np.ndarray:
        x = self.args[i]
        cols = []
        for j in range(_size(x)):
            hi, lo = _fresh(self.args), _fresh(self.args)
            hi[i], lo[i] = _with(x, j, self.eps), _with(x, j, -self.eps)
            fh = _flat(self.call(hi), self.name)[0]
            fl = _flat(self.call(lo), self.name)[0]
            cols.append((fh - fl) / (2 * self.eps))
        return np.stack(cols, axis=1) if cols else np.zeros((self.value.size, 0))

    def _close(self, a: np.ndarray, n: np.ndarray) -> np.ndarray:
        return (np.abs(a - n) <= self.atol + self.rtol * np.abs(n)) | (np.isnan(a) & np.isnan(n))

    def _fail(self, mode: str, what: str, a: float, n: float, **where: Any) -> None:
        tol = self.atol + self.rtol * abs(n)
        raise GradientCheckError(
            f"check_grads({self.name}): the {_MODE_NAMES[mode]} derivative{self.label} "
            f"disagrees with central finite differences at {what}: framead "
            f"{a!r}, finite differences {n!r} (|difference| {abs(a - n):.3g} > tolerance "
            f"{tol:.3g} = atol {self.atol:g} + rtol {self.rtol:g} * |finite differences|; "
            f"eps {self.eps:g})", mode=mode, framead=a, numeric=n, **where)

    def _check_value(self, out: Any, mode: str) -> None:
        got = _flat(out, self.name)[0]
        if got.shape != self.value.shape:
            raise GradientCheckError(
                f"check_grads({self.name}): framead's {_MODE_NAMES[mode]} capture returned "
                f"{got.size} float output element(s), the native call {self.value.size}",
                mode=mode)
        bad = ~self._close(got, self.value)
        if bad.any():
            k = int(np.argmax(bad))
            raise GradientCheckError(
                f"check_grads({self.name}): the value framead's {_MODE_NAMES[mode]} capture "
                f"returned differs from the native call at output "
                f"{_out_label(self.shapes, k)}: {got[k]!r} vs {self.value[k]!r}", mode=mode)

    def rev(self) -> None:
        u = self.rng.standard_normal(self.value.size)
        out, f_vjp = vjp(self.f, *_fresh(self.args), argnums=self.nums)
        self._check_value(out, "rev")
        cts = f_vjp(_cotangent(out, u))
        for i, ct in zip(self.nums, cts, strict=True):
            got = _vector_of(self.args[i], ct)
            want = u @ self.jac[i]
            bad = ~self._close(got, want)
            if bad.any():
                j = int(np.argmax(bad))
                path, idx = _where(self.args[i], j)
                self._fail("rev", f"argument {i}{path}, index {idx} (a random cotangent "
                           "applied)", float(got[j]), float(want[j]), argnum=i, path=path,
                           index=idx, output=None)

    def fwd(self) -> None:
        for i in self.nums:
            t = self.rng.standard_normal(_size(self.args[i]))
            got = self._jvp(i, t)
            want = self.jac[i] @ t
            bad = ~self._close(got, want)
            if bad.any():
                self._localize(i, int(np.argmax(bad)), got, want)

    def _jvp(self, i: int, t: np.ndarray) -> np.ndarray:
        tan = [None] * len(self.args)
        tan[i] = _tangent_of(self.args[i], t)
        out, tout = jvp(self.f, _fresh(self.args), tan)
        self._check_value(out, "fwd")
        leaves = self.out_td.flatten_up_to(tout)
        parts = [np.asarray(t_, dtype=np.float64).reshape(-1)
                 for t_, s in zip(leaves, self.shapes, strict=True) if s is not None]
        return np.concatenate(parts) if parts else np.zeros(0)

    def _localize(self, i: int, k: int, got: np.ndarray, want: np.ndarray) -> None:
        """Name the input element too: one-hot tangents (the first that disagrees)."""
        n = _size(self.args[i])
        for j in range(n):
            e = np.zeros(n)
            e[j] = 1.0
            col = self._jvp(i, e)
            bad = ~self._close(col, self.jac[i][:, j])
            if bad.any():
                kk = int(np.argmax(bad))
                path, idx = _where(self.args[i], j)
                self._fail("fwd", f"argument {i}{path}, index {idx}, output "
                           f"{_out_label(self.shapes, kk)} (a one-hot tangent)",
                           float(col[kk]), float(self.jac[i][kk, j]), argnum=i, path=path,
                           index=idx, output=_out_label(self.shapes, kk))
        self._fail("fwd", f"argument {i}, output {_out_label(self.shapes, k)} (a random "
                   "tangent; every one-hot tangent agrees: the JVP is not linear in the "
                   "tangent)", float(got[k]), float(want[k]), argnum=i, index=None,
                   output=_out_label(self.shapes, k))


@user_facing  # (its errors, and f's, name the user's lines: f runs from a trampoline)
def check_grads(f: Callable, *args: Any, order: int = 1, modes: Sequence[str] = ("fwd", "rev"),
                eps: float = 1e-5, atol: float = 1e-5, rtol: float = 1e-5,
                argnums: int | Sequence[int] | None = None) -> None:
    """Check framead's derivatives of ``f(*args)`` against central finite differences in
    float64; raise :class:`GradientCheckError` (an ``AssertionError``) naming the argument,
    index and both values at the first disagreement; return None when all agree.

    ``modes``: "rev" (vjp with a random cotangent, every input element) and "fwd" (jvp with a
    random tangent per argument, every output element). ``order=2`` also checks the
    derivatives of those derivatives (vjp/jvp of the vjp/jvp function), in every pair of
    modes. ``argnums``: the arguments to check (default: every float or float-array
    argument); they are checked as float64. Outputs: floats, float arrays or tuples/lists of
    them (other leaves are ignored). An element passes when
    ``|framead - numeric| <= atol + rtol * |numeric|``.

    >>> import numpy as np, framead
    >>> framead.check_grads(lambda x, y: np.sum(np.sin(x) * y), np.ones(3), 2.0, order=2)
    """
    if order not in (1, 2):
        raise ValueError(f"check_grads: order must be 1 or 2, not {order!r}")
    unknown = [m for m in modes if m not in _MODE_NAMES]
    if unknown or not modes:
        raise ValueError(f"check_grads: modes are 'fwd' and 'rev', not {list(modes)!r}")
    if argnums is None:
        argnums = tuple(i for i, a in enumerate(args) if _is_float_arg(a) or (
            tree.is_node(a) and any(_is_float_arg(v) for v in tree.leaves(a))))
    nums = norm_argnums(argnums, len(args))
    if not nums:
        raise ValueError("check_grads: no float or float-array argument to check (pass the "
                         "arguments themselves, check_grads(f, x, y), not a tuple of them)")
    xs = list(args)
    for i in nums:
        xs[i] = _as_float64(args[i], i)
    rng = np.random.default_rng(0)
    _check(f, xs, nums, order, tuple(modes), eps, atol, rtol, "", rng)


def _check(f: Callable, xs: list, nums: tuple, order: int, modes: tuple, eps: float,
           atol: float, rtol: float, label: str, rng: np.random.Generator) -> None:
    checker = _Checker(f, xs, nums, eps, atol, rtol, label, rng)
    for mode in modes:
        getattr(checker, mode)()
    if order == 1:
        return
    for mode in modes:  # the derivative as a function of the same inputs, checked again
        d = _derivative(f, xs, nums, mode, checker, rng)
        _check(d, xs, nums, 1, modes, eps, atol, rtol, " (order 2)", rng)


def _derivative(f: Callable, xs: list, nums: tuple, mode: str, checker: _Checker,
                rng: np.random.Generator) -> Callable:
    """x -> vjp(f, x)(u) or x -> jvp(f, x, t), with fixed random u or t."""
    if mode == "rev":
        out = checker.call(_fresh(xs))
        ct = _cotangent(out, rng.standard_normal(checker.value.size))

        def d_rev(*a):
            return vjp(f, *a, argnums=nums)[1](ct)

        d_rev.__qualname__ = f"vjp({checker.name})"
        return d_rev
    tan = [None] * len(xs)
    for i in nums:
        tan[i] = _tangent_of(xs[i], rng.standard_normal(_size(xs[i])))

    def d_fwd(*a):
        return jvp(f, a, tan)[1]

    d_fwd.__qualname__ = f"jvp({checker.name})"
    return d_fwd
