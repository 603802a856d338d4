"""``check_grads``: framead's derivatives against central finite differences (as JAX's
``jax.test_util.check_grads`` and PyTorch's ``gradcheck`` do)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .errors import FrameadError
from .ir import flatten_tree, unflatten_tree

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
    """Copies of the array arguments: ``f`` may write into its inputs."""
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def _with(x: Any, j: int, delta: float) -> Any:
    """``x`` with its flat element ``j`` moved by ``delta`` (a new object)."""
    if isinstance(x, np.ndarray):
        y = x.copy()
        y.reshape(-1)[j] += delta
        return y
    return type(x)(x + delta)


def _flat(out: Any, what: str) -> tuple[np.ndarray, list]:
    """The real leaves of an output as one float64 vector, with their shapes (None for leaves
    that are not real floats: ints, bools, None, strings carry no derivative)."""
    leaves, _ = flatten_tree(out)
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


def _index(x: Any, j: int) -> tuple:
    return tuple(int(i) for i in np.unravel_index(j, np.shape(x))) if np.ndim(x) else ()


def _cotangent(out: Any, u: np.ndarray) -> Any:
    """The tree of ``out`` with its real leaves filled from ``u`` (None elsewhere)."""
    leaves, treedef = flatten_tree(out)
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
    return unflatten_tree(treedef, cts)


class _Checker:
    def __init__(self, f: Callable, args: list, nums: tuple[int, ...], eps: float, atol: float,
                 rtol: float, label: str, rng: np.random.Generator):
        self.f, self.args, self.nums = f, args, nums
        self.eps, self.atol, self.rtol, self.label, self.rng = eps, atol, rtol, label, rng
        self.name = getattr(f, "__qualname__", None) or repr(f)
        out = f(*_fresh(args))
        self.value, self.shapes = _flat(out, self.name)
        if all(s is None for s in self.shapes):
            raise TypeError(f"check_grads: {self.name} returned {type(out).__name__}, with no "
                            "float leaf to check (outputs: floats, float arrays, tuples/lists)")
        self.jac = {i: self._numeric_jacobian(i) for i in nums}  # i -> (m, n_i)

    def _numeric_jacobian(self, i: int) -> np.ndarray:
        x = self.args[i]
        cols = []
        for j in range(int(np.size(x))):
            hi, lo = _fresh(self.args), _fresh(self.args)
            hi[i], lo[i] = _with(x, j, self.eps), _with(x, j, -self.eps)
            fh = _flat(self.f(*hi), self.name)[0]
            fl = _flat(self.f(*lo), self.name)[0]
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
        from .api import vjp

        u = self.rng.standard_normal(self.value.size)
        out, f_vjp = vjp(self.f, *_fresh(self.args), argnums=self.nums)
        self._check_value(out, "rev")
        cts = f_vjp(_cotangent(out, u))
        for i, ct in zip(self.nums, cts, strict=True):
            got = np.asarray(ct, dtype=np.float64).reshape(-1)
            want = u @ self.jac[i]
            bad = ~self._close(got, want)
            if bad.any():
                j = int(np.argmax(bad))
                self._fail("rev", f"argument {i}, index {_index(self.args[i], j)} (a random "
                           "cotangent applied)", float(got[j]), float(want[j]), argnum=i,
                           index=_index(self.args[i], j), output=None)

    def fwd(self) -> None:
        for i in self.nums:
            t = self.rng.standard_normal(int(np.size(self.args[i])))
            got = self._jvp(i, t)
            want = self.jac[i] @ t
            bad = ~self._close(got, want)
            if bad.any():
                self._localize(i, int(np.argmax(bad)), got, want)

    def _jvp(self, i: int, t: np.ndarray) -> np.ndarray:
        from .forward import jvp

        x = self.args[i]
        tan = [None] * len(self.args)
        tan[i] = t.reshape(np.shape(x)) if isinstance(x, np.ndarray) else type(x)(t[0])
        out, tout = jvp(self.f, _fresh(self.args), tan)
        self._check_value(out, "fwd")
        leaves, _ = flatten_tree(tout)
        parts = [np.asarray(t_, dtype=np.float64).reshape(-1)
                 for t_, s in zip(leaves, self.shapes, strict=True) if s is not None]
        return np.concatenate(parts) if parts else np.zeros(0)

    def _localize(self, i: int, k: int, got: np.ndarray, want: np.ndarray) -> None:
        """Name the input element too: one-hot tangents (the first that disagrees)."""
        n = int(np.size(self.args[i]))
        for j in range(n):
            e = np.zeros(n)
            e[j] = 1.0
            col = self._jvp(i, e)
            bad = ~self._close(col, self.jac[i][:, j])
            if bad.any():
                kk = int(np.argmax(bad))
                idx = _index(self.args[i], j)
                self._fail("fwd", f"argument {i}, index {idx}, output "
                           f"{_out_label(self.shapes, kk)} (a one-hot tangent)",
                           float(col[kk]), float(self.jac[i][kk, j]), argnum=i, index=idx,
                           output=_out_label(self.shapes, kk))
        self._fail("fwd", f"argument {i}, output {_out_label(self.shapes, k)} (a random "
                   "tangent; every one-hot tangent agrees: the JVP is not linear in the "
                   "tangent)", float(got[k]), float(want[k]), argnum=i, index=None,
                   output=_out_label(self.shapes, k))


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
    from .api import _norm_argnums

    if argnums is None:
        argnums = tuple(i for i, a in enumerate(args) if _is_float_arg(a))
    nums = _norm_argnums(argnums, len(args))
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
    from .api import vjp
    from .forward import jvp

    if mode == "rev":
        out = f(*_fresh(xs))
        ct = _cotangent(out, rng.standard_normal(checker.value.size))

        def d_rev(*a):
            return vjp(f, *a, argnums=nums)[1](ct)

        d_rev.__qualname__ = f"vjp({checker.name})"
        return d_rev
    tan = [None] * len(xs)
    for i in nums:
        t = rng.standard_normal(int(np.size(xs[i])))
        tan[i] = t.reshape(np.shape(xs[i])) if isinstance(xs[i], np.ndarray) else type(xs[i])(t[0])

    def d_fwd(*a):
        return jvp(f, a, tan)[1]

    d_fwd.__qualname__ = f"jvp({checker.name})"
    return d_fwd
