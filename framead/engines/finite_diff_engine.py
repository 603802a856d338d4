"""``framead.use("finite_diff", method=..., step=..., rel_step=...)``: finite differences for
black boxes (C extensions, external programs) that framead cannot capture.

Options:

* ``method``: ``"central"`` (default; ``(f(x+h) - f(x-h)) / 2h``, error O(h^2)),
  ``"forward"`` (``(f(x+h) - f(x)) / h``, one evaluation per input element plus one), or
  ``"complex"`` (complex step ``Im f(x + ih) / h``: no subtractive cancellation, exact to
  rounding for real-analytic ``fn`` that accepts complex input; real inputs only).
* ``step``: absolute step (a float, or an array broadcast to each argument); default
  ``rel_step * max(1, |x_j|)`` per element.
* ``rel_step``: relative step; defaults ``eps**(1/3)`` (central), ``eps**(1/2)`` (forward),
  ``1e-20`` (complex, where the step can be tiny).

The VJP of an input with n elements costs 2n evaluations of ``fn`` (n+1 forward, n complex);
the JVP costs 2 (1 complex) whatever the size. Complex inputs (central/forward) are perturbed
in their real and imaginary parts (cotangent ``<g, df/dx> - i <g, df/dy>``, JAX's convention).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from framead.ir import flatten_tree, unflatten_tree

from . import register_engine
from .common import cast_cotangent, pair, run_fn

_EPS = np.finfo(np.float64).eps
_DEFAULT_REL = {"central": _EPS ** (1 / 3), "forward": _EPS ** 0.5, "complex": 1e-20}
# the relative step of the central difference of this engine's VJP (second order): the cube
# root of the VJP's own error (rounding, eps^(2/3) central, eps^(1/2) forward)
_SECOND_REL = {"central": _EPS ** (2 / 9), "forward": _EPS ** (1 / 6), "complex": _EPS ** (1 / 3)}


class FiniteDiffEngine:
    saves_ans = False

    def __init__(self, fn: Callable, method: str = "central", step: Any = None,
                 rel_step: float | None = None):
        if method not in _DEFAULT_REL:
            raise ValueError(f"finite_diff: method must be 'central', 'forward' or 'complex', "
                             f"got {method!r}")
        self.fn = fn
        self.method = method
        self.step = step
        self.rel_step = _DEFAULT_REL[method] if rel_step is None else float(rel_step)
        self.name = f"use[finite_diff:{method}]({getattr(fn, '__qualname__', fn)})"
        self.evaluations = 0  # calls of fn made by vjp/jvp (for tests and tuning)

    def call(self, *args: Any, **kwargs: Any) -> Any:
        return run_fn(self.fn, *args, **kwargs)

    # -- steps and evaluations --------------------------------------------------------------
    def _steps(self, x: np.ndarray) -> np.ndarray:
        if self.step is not None:
            h = np.broadcast_to(np.asarray(self.step, dtype=float), x.shape)
        else:
            h = self.rel_step * np.maximum(1.0, np.abs(x))
        if self.method != "complex":  # make x + h exactly representable
            h = (x.real + h) - x.real
        return np.where(h == 0, self.rel_step, h)

    def _eval(self, args: list, kwargs: dict, i: int, xi: Any) -> list:
        a = list(args)
        a[i] = xi
        self.evaluations += 1
        leaves, _ = flatten_tree(run_fn(self.fn, *a, **kwargs))
        return leaves

    @staticmethod
    def _as_arg(x: np.ndarray, like: Any) -> Any:
        """``x`` in the argument's own kind (Python float stays a float...)."""
        if isinstance(like, np.ndarray):
            return x
        v = x.reshape(())[()]
        if isinstance(like, float | complex) and not isinstance(like, np.generic):
            return complex(v) if np.iscomplexobj(v) else float(v)
        return v

    # -- reverse mode -----------------------------------------------------------------------
    def vjp(self, g: Any, ans: Any, args: tuple, kwargs: dict, wrt: tuple) -> tuple:
        gl, _ = flatten_tree(g)
        out: list = [None] * len(args)
        base = None
        if self.method == "forward":
            base = self._eval(list(args), kwargs, 0, args[0]) if args else None
        for i in wrt:
            x = np.asarray(args[i])
            if self.method == "complex" and x.dtype.kind == "c":
                raise TypeError(f"{self.name}: method='complex' needs real inputs; argument "
                                f"{i} is complex (use method='central')")
            out[i] = cast_cotangent(self._vjp_arg(gl, base, list(args), kwargs, i, x), args[i])
        return tuple(out)

    def _vjp_arg(self, gl, base, args, kwargs, i, x) -> np.ndarray:
        xf = x.reshape(-1)
        h = self._steps(xf)
        ct = np.zeros(xf.shape, dtype=complex if x.dtype.kind == "c" else float)
        parts = (1.0, 1j) if x.dtype.kind == "c" else (1.0,)
        for j in range(xf.size):
            for unit in parts:
                d = self._directional(gl, base, args, kwargs, i, x, j, unit, h[j])
                ct[j] += d if unit == 1.0 else -1j * d
        return ct.reshape(x.shape)

    def _perturbed(self, x: np.ndarray, j: int | None, delta: Any) -> np.ndarray:
        dt = np.result_type(x.dtype, np.float64, np.asarray(delta).dtype)
        xp = np.array(x, dtype=dt, copy=True)
        if j is None:
            xp += delta
        else:
            xp.reshape(-1)[j] += delta
        return xp

    def _directional(self, gl, base, args, kwargs, i, x, j, unit, hj) -> float:
        """``<g, d f / d x_j>`` along ``unit`` (1 or 1j) by this engine's difference."""
        like = args[i]
        if self.method == "complex":
            fp = self._eval(args, kwargs, i, self._as_arg(self._perturbed(x, j, 1j * hj), like))
            return pair(gl, [np.imag(v) / hj if _inexact(v) else None for v in fp])
        fp = self._eval(args, kwargs, i, self._as_arg(self._perturbed(x, j, unit * hj), like))
        if self.method == "forward":
            fm, den = base, hj
        else:
            fm = self._eval(args, kwargs, i, self._as_arg(self._perturbed(x, j, -unit * hj),
                                                            like))
            den = 2 * hj
        return pair(gl, [(np.asarray(p) - np.asarray(m)) / den if _inexact(p) else None
                          for p, m in zip(fp, fm, strict=True)])

    def higher_order(self, wrt: tuple) -> tuple[Callable, dict]:
        """The VJP as a NumPy function of ``(g, *args)``, differentiated again by central
        differences inside an outer capture (grad of grad, hessian: wrapper.py), with a step
        sized for the inner difference's error (about its cube root)."""
        eng = self

        def vjp(g: Any, *args: Any, **kwargs: Any) -> tuple:
            cts = eng.vjp(g, None, args, kwargs, wrt)
            return tuple(cts[i] for i in wrt)

        vjp.__qualname__ = vjp.__name__ = f"vjp[{getattr(self.fn, '__qualname__', self.fn)}]"
        return vjp, {"method": "central", "rel_step": _SECOND_REL[self.method]}

    # -- forward mode -----------------------------------------------------------------------
    def jvp(self, tangents: tuple, ans: Any, args: tuple, kwargs: dict) -> Any:
        idx = [i for i, t in enumerate(tangents) if t is not None]
        if not idx:
            return None
        xs = [np.asarray(args[i]) for i in idx]
        ts = [np.broadcast_to(np.asarray(tangents[i]), x.shape) for i, x in zip(idx, xs,
                                                                              strict=True)]
        scale = max(float(np.max(np.abs(t), initial=0.0)) for t in ts) or 1.0
        xmax = max(float(np.max(np.abs(x), initial=0.0)) for x in xs)
        h = (self.step if self.step is not None and np.ndim(self.step) == 0
             else self.rel_step * max(1.0, xmax)) / scale

        def at(delta):
            a = list(args)
            for i, x, t in zip(idx, xs, ts, strict=True):
                a[i] = self._as_arg(self._perturbed(x, None, delta * t), args[i])
            self.evaluations += 1
            return flatten_tree(run_fn(self.fn, *a, **kwargs))

        if self.method == "complex":
            fp, td = at(1j * h)
            leaves = [np.imag(v) / h if _inexact(v) else None for v in fp]
        else:
            fp, td = at(h)
            fm = (flatten_tree(run_fn(self.fn, *args, **kwargs))[0] if self.method == "forward"
                  else at(-h)[0])
            den = h if self.method == "forward" else 2 * h
            leaves = [(np.asarray(p) - np.asarray(m)) / den if _inexact(p) else None
                      for p, m in zip(fp, fm, strict=True)]
        return unflatten_tree(td, leaves)


def _inexact(v: Any) -> bool:
    return isinstance(v, float | complex | np.inexact) or (
        isinstance(v, np.ndarray) and v.dtype.kind in "fc")


def factory(fn: Callable, options: dict) -> FiniteDiffEngine:
    return FiniteDiffEngine(fn, **options)


register_engine("finite_diff", factory)
