"""``check(fn, *args, **kwargs)``: a rule's VJP and JVP against central finite differences.

Everything runs in float64/complex128 (lower precision inputs are promoted). For each
differentiable argument (an inexact leaf of a positional argument not in ``nondiff``) the VJP
is called exactly as the reverse pass calls it: with a random cotangent, with every traced
argument its ``saves`` entry does not list replaced by a ``Meta`` stand-in, unbroadcast for
elementwise rules. Its result is compared element by element with the finite-difference
cotangent under JAX's pairing ``Re(sum(u * v))`` (so complex inputs are checked along their
real and imaginary directions). The JVP is compared with the directional finite difference,
one argument at a time and all together. ``cut`` rules (and arguments without a VJP) must
have a zero finite-difference derivative.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from framead.ir import Meta

from .registry import ANS, NO_SELF, Rule, resolve
from .shapes import fit, fit_tangent, is_inexact, unbroadcast


@dataclass
class CheckEntry:
    """One comparison: mode ("vjp", "jvp", "cut"), argument, worst element."""

    mode: str
    arg: str
    ok: bool
    max_abs_err: float = 0.0
    where: str = ""
    expected: Any = None
    got: Any = None
    message: str = ""

    def __str__(self) -> str:
        head = f"{'ok  ' if self.ok else 'FAIL'} {self.mode:<4} {self.arg:<10}"
        if self.message:
            return f"{head} {self.message}"
        detail = f"max |err| {self.max_abs_err:.3g}"
        if not self.ok:
            detail += f" at {self.where}: expected {self.expected:.6g}, got {self.got:.6g}"
        return f"{head} {detail}"


@dataclass
class CheckReport:
    rule: Rule
    entries: list[CheckEntry] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.entries)

    @property
    def failures(self) -> list[CheckEntry]:
        return [e for e in self.entries if not e.ok]

    def __str__(self) -> str:
        status = "ok" if self.ok else f"{len(self.failures)} failure(s)"
        return "\n".join([f"rule {self.rule.name}: {status}"] + [f"  {e}" for e in self.entries])


class RuleCheckError(AssertionError):
    """A rule disagrees with finite differences; ``.report`` has the details."""

    def __init__(self, report: CheckReport):
        super().__init__(str(report))
        self.report = report


# --- nested list/tuple plumbing --------------------------------------------------------------

def _leaves(obj: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    if isinstance(obj, list | tuple):
        return [pl for i, o in enumerate(obj) for pl in _leaves(o, path + (i,))]
    return [(path, obj)]


def _get(obj: Any, path: tuple) -> Any:
    for i in path:
        obj = obj[i]
    return obj


def _replace(obj: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    items = list(obj)
    items[path[0]] = _replace(items[path[0]], path[1:], value)
    return type(obj)(items)


def _map(obj: Any, f: Any) -> Any:
    if isinstance(obj, list | tuple):  # a namedtuple (SlogdetResult) becomes a plain tuple,
        kind = type(obj) if type(obj) in (list, tuple) else tuple  # as in the reverse pass
        return kind(_map(o, f) for o in obj)
    return f(obj)


def _promote(x: Any) -> Any:
    if isinstance(x, np.ndarray | np.generic) and x.dtype.kind in "fc":
        target = np.complex128 if x.dtype.kind == "c" else np.float64
        return x.astype(target) if isinstance(x, np.ndarray) else target(x)
    return x


def _copy_arrays(obj: Any) -> Any:
    return _map(obj, lambda x: x.copy(order="K") if isinstance(x, np.ndarray) else x)


def _metaize(obj: Any) -> Any:
    return _map(obj, lambda x: Meta.of(x) if is_inexact(x) else x)


def _bump(leaf: Any, e: int, delta: Any) -> Any:
    if isinstance(leaf, np.ndarray):
        out = leaf.copy(order="K")  # keep the memory layout (ravel('K') depends on it)
        out.flat[e] += delta
        return out
    return type(leaf)(leaf + delta)


def _flat(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.complex128 if np.iscomplexobj(x) else np.float64).ravel()


def _label(rule: Rule, i: int, path: tuple) -> str:
    name = rule.argnames[i] if rule.argnames and i < len(rule.argnames) else f"arg{i}"
    return name + "".join(f"[{p}]" for p in path)


def _rand_like(rng: np.random.Generator, leaf: Any) -> Any:
    shape = np.shape(leaf)
    v = rng.standard_normal(shape)
    if np.iscomplexobj(leaf):
        v = v + 1j * rng.standard_normal(shape)
    return fit(v, Meta.of(leaf))


class _Checker:
    def __init__(self, rule, args, kwargs, rtol, atol, eps, seed):
        self.rule, self.kwargs = rule, kwargs
        self.args = tuple(_map(a, _promote) for a in args)
        self.rtol, self.atol, self.eps = rtol, atol, eps
        self.rng = np.random.default_rng(seed)
        self.report = CheckReport(rule)
        self.ans = self.f(self.args)
        out = _leaves(self.ans) if rule.multi else [((), self.ans)]
        self.out_paths = [p for p, leaf in out if is_inexact(leaf)]
        g = _map(self.ans, lambda x: _rand_like(self.rng, x) if is_inexact(x) else None) \
            if rule.multi else _rand_like(self.rng, self.ans) if is_inexact(self.ans) else None
        self.g = g  # multi: None for outputs that are not inexact (capture does not trace them)
        self.g_flat = [_flat(_get(g, p)) for p in self.out_paths]
        self.diff = [(i, path, leaf) for i, a in enumerate(self.args) if i not in rule.nondiff
                     for path, leaf in _leaves(a) if is_inexact(leaf)]

    def f(self, args: tuple) -> Any:
        kwargs = {k: _copy_arrays(v) for k, v in self.kwargs.items()}  # out= is written
        return self.rule.fn(*_copy_arrays(args), **kwargs)

    def outs(self, args: tuple) -> list[np.ndarray]:
        ans = self.f(args)
        return [_flat(_get(ans, p)) for p in self.out_paths]

    def add(self, *a, **k) -> None:
        self.report.entries.append(CheckEntry(*a, **k))

    def _h(self, x: Any) -> float:
        return self.eps * max(1.0, float(np.max(np.abs(x), initial=0.0)))

    def _pair(self, outs_p, outs_m, h) -> float:
        return sum(float(np.real(np.sum(g * (p - m)))) for g, p, m in
                   zip(self.g_flat, outs_p, outs_m, strict=True)) / (2 * h)

    def numeric_cot(self, i: int, path: tuple, leaf: Any) -> np.ndarray:
        """d<g, f>/d(leaf) per element: real part along 1, minus imaginary along 1j."""
        x = _flat(leaf)
        num = np.zeros(x.size, x.dtype)
        units = (1.0, 1j) if np.iscomplexobj(leaf) else (1.0,)
        for e in range(x.size):
            h = self.eps * max(1.0, abs(x[e]))
            for unit in units:
                plus = self._with(i, path, _bump(leaf, e, unit * h))
                minus = self._with(i, path, _bump(leaf, e, -unit * h))
                d = self._pair(self.outs(plus), self.outs(minus), h)
                num[e] += d if unit == 1.0 else -1j * d
        return num

    def _with(self, i: int, path: tuple, leaf: Any) -> tuple:
        args = list(self.args)
        args[i] = _replace(args[i], path, leaf)
        return tuple(args)

    def compare(self, mode: str, label: str, expected: np.ndarray, got: np.ndarray,
                shape: tuple) -> None:
        err = np.abs(got - expected)
        tol = self.atol * max(1.0, float(np.max(np.abs(expected), initial=0.0))) \
            + self.rtol * np.abs(expected)
        bad = ~(err <= tol)
        if not bad.any():
            self.add(mode, label, True, float(np.max(err, initial=0.0)))
            return
        k = int(np.argmax(np.where(bad, err, -1)))
        where = str(tuple(int(j) for j in np.unravel_index(k, shape))) if shape else "()"
        self.add(mode, label, False, float(np.nanmax(np.where(bad, err, 0))), where,
                 expected[k].item(), got[k].item())

    # --- VJP ---

    def vjp_args(self, i: int) -> tuple[Any, tuple]:
        saved = self.rule.saved_for((i,))
        if saved is None:
            return self.ans, self.args
        ans = self.ans if ANS in saved else _metaize(self.ans)
        return ans, tuple(a if j in saved else _metaize(a) for j, a in enumerate(self.args))

    def check_vjp(self, i: int, leaves: list) -> None:
        rule = self.rule
        ans, args = self.vjp_args(i)
        before = copy.deepcopy(args)
        try:
            if rule.joint:
                ct = rule.vjp(self.g, ans, *args, **self.kwargs)[i]
            else:
                ct = rule.vjp[i](self.g, ans, *args, **self.kwargs)
            if rule.elementwise and i not in rule.containers and ct is not None:
                ct = unbroadcast(ct, self.args[i])
        except Exception as e:
            metas = [_label(rule, j, ()) for j, a in enumerate(args) if a is not self.args[j]]
            metas += ["ans"] if ans is not self.ans else []
            hint = (f" (Meta stand-ins for: {', '.join(metas)}; if the VJP reads one by value, "
                    f"list it in saves[{i}])" if metas else "")
            self.add("vjp", _label(rule, i, ()), False,
                     message=f"raised {type(e).__name__}: {e}{hint}")
            return
        if not all(_same(a, b) for a, b in zip(_leaves(before), _leaves(args), strict=True)):
            self.add("vjp", _label(rule, i, ()), False, message="mutated its arguments")
        for path, leaf in leaves:
            label = _label(rule, i, path)
            try:
                c = _get(ct, path)
            except (TypeError, IndexError, KeyError):
                c = None
            if c is None:
                self.add("vjp", label, False, message=f"no cotangent (got {ct!r:.60})")
                continue
            problem = _shape_problem(c, leaf)
            if problem:
                self.add("vjp", label, False, message=problem)
                continue
            self.compare("vjp", label, self.numeric_cot(i, path, leaf), _flat(c),
                         np.shape(leaf))

    # --- JVP ---

    def check_jvp(self, tangents: tuple, label: str) -> None:
        rule = self.rule
        try:
            raw = rule.jvp(tangents, self.ans, *self.args, **self.kwargs)
        except Exception as e:
            self.add("jvp", label, False, message=f"raised {type(e).__name__}: {e}")
            return
        raws = [_get(raw, p) if raw is not None else None for p in self.out_paths] \
            if rule.multi else [raw]
        h = max(self._h(_flat(leaf)) for _, _, leaf in self.diff)
        plus = tuple(a if t is None else _map2(a, t, lambda x, tx: x + h * tx)
                     for a, t in zip(self.args, tangents, strict=True))
        minus = tuple(a if t is None else _map2(a, t, lambda x, tx: x - h * tx)
                      for a, t in zip(self.args, tangents, strict=True))
        fd = [(p - m) / (2 * h) for p, m in zip(self.outs(plus), self.outs(minus), strict=True)]
        for path, r, expected in zip(self.out_paths, raws, fd, strict=True):
            a = _get(self.ans, path)
            name = label + ("" if not rule.multi else f" -> out{list(path)}")
            if r is not None and not np.iscomplexobj(a) and np.any(np.imag(r) != 0):
                self.add("jvp", name, False, message="complex tangent for a real output")
                continue
            t = fit_tangent(r, a)
            problem = _shape_problem(t, a)
            if problem:
                self.add("jvp", name, False, message=problem.replace("cotangent", "tangent"))
                continue
            self.compare("jvp", name, expected, _flat(t), np.shape(a))

    def run(self, do_vjp: bool, do_jvp: bool) -> CheckReport:
        rule = self.rule
        by_arg: dict[int, list] = {}
        for i, path, leaf in self.diff:
            by_arg.setdefault(i, []).append((path, leaf))
        for i, leaves in by_arg.items():
            if rule.cut or not rule.has_vjp(i):
                for path, leaf in leaves:
                    if self.out_paths:
                        num = self.numeric_cot(i, path, leaf)
                        self.compare("cut", _label(rule, i, path), num, np.zeros_like(num),
                                     np.shape(leaf))
            elif do_vjp:
                self.check_vjp(i, leaves)
        if do_jvp and rule.jvp is not None and self.out_paths and by_arg:
            for i in by_arg:
                ts = [None] * len(self.args)
                ts[i] = self.tangent(i)
                self.check_jvp(tuple(ts), _label(rule, i, ()))
            if len(by_arg) > 1:
                ts = [self.tangent(i) if i in by_arg else None for i in range(len(self.args))]
                self.check_jvp(tuple(ts), "(all)")
        return self.report

    def tangent(self, i: int) -> Any:
        return _map(self.args[i], lambda x: _rand_like(self.rng, x) if is_inexact(x) else None)


def _map2(a: Any, t: Any, f: Any) -> Any:
    if isinstance(a, list | tuple):
        return type(a)(_map2(x, tx, f) for x, tx in zip(a, t, strict=True))
    if t is None:
        return a
    return np.asarray(f(a, t)) if isinstance(a, np.ndarray) else type(a)(f(a, t))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a[1], np.ndarray):
        return isinstance(b[1], np.ndarray) and np.array_equal(a[1], b[1], equal_nan=True)
    return True


def _shape_problem(c: Any, leaf: Any) -> str:
    want = np.shape(leaf)
    if np.shape(c) != want:
        return f"cotangent has shape {np.shape(c)}, argument has shape {want}"
    if not isinstance(leaf, np.ndarray) and isinstance(c, np.ndarray):
        return f"cotangent of a {type(leaf).__name__} must be a scalar, got an ndarray"
    if np.iscomplexobj(c) and not np.iscomplexobj(leaf):
        return "complex cotangent for a real argument (take the real part: unbroadcast does)"
    return ""


def check_rule(fn: Any, args: tuple = (), kwargs: dict | None = None, *, rtol: float = 1e-5,
               atol: float = 1e-6, eps: float = 1e-6, seed: int = 0, vjp: bool = True,
               jvp: bool = True, max_elements: int = 256, raises: bool = True) -> CheckReport:
    """Check the rule of ``fn`` (or a Rule) at ``args``; raise RuleCheckError on a mismatch
    (or return the failing report when ``raises=False``)."""
    if isinstance(fn, Rule):
        rule = fn
    else:
        found = resolve(fn)
        if found is None:
            raise LookupError(f"no rule registered for {fn!r}")
        rule, owner = found
        if owner is not NO_SELF:
            args = (owner,) + tuple(args)
    if rule.fn is None:
        raise ValueError(f"rule {rule.name} has no function to evaluate")
    total = sum(np.size(leaf) for a in args for _, leaf in _leaves(a) if is_inexact(leaf))
    if total > max_elements:
        raise ValueError(f"check: {total} input elements; keep test inputs under "
                         f"{max_elements} (finite differences cost two calls per element)")
    report = _Checker(rule, args, kwargs or {}, rtol, atol, eps, seed).run(vjp, jvp)
    if raises and not report.ok:
        raise RuleCheckError(report)
    return report


def check(fn: Any, *args: Any, **kwargs: Any) -> CheckReport:
    """``check_rule(fn, args, kwargs)`` with default tolerances: raises RuleCheckError naming
    the argument that disagrees and by how much; returns the report when all agree."""
    return check_rule(fn, args, kwargs)
