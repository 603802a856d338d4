"""Rule records and the registry that finds the rule for a callable, a method or an attribute.

A rule is keyed by the callable object itself (by ``id``; the rule holds the object, so the id
cannot be reused). Methods live in a table keyed by ``(type, name)`` whose rules take ``self``
as their first argument, so ``x.sum(axis=0)`` and ``np.ndarray.sum(x, axis=0)`` find the same
rule; a bound method resolves through ``type(self).__mro__``. Attributes (``x.T``,
``x.real``) have their own ``(type, name)`` table, their rules named ``"attr.T"`` etc.

Call conventions (binding for the recorder and the reverse pass; see docs/internals.md s4):

* ``vjp_i(g, ans, *args, **kwargs)`` -> cotangent of positional argument ``i``; or one joint
  ``vjp(g, ans, *args, **kwargs)`` -> tuple with one entry per positional argument (None where
  there is none). A cotangent is shaped like its argument: a scalar for a Python float or a
  NumPy scalar (for a 0-d array a NumPy scalar is accepted), an array of the argument's shape
  otherwise. Rules with ``elementwise=True`` may return the broadcast shape (and a complex
  cotangent for a real argument) instead; the reverse pass then applies ``unbroadcast``, which
  is needed whenever the shape *or* the real/complex kind differs. Cotangents may alias ``g``
  or each other and may be read-only views: accumulate out of place.
* Untraced (constant) arguments and keyword arguments are always passed by value; ``out=``
  is the recorder's business (a write of ``ans``) and never reaches a rule. For a mutating
  rule (``mutates``), ``args`` hold the values before the write and ``ans`` the value after.
* ``jvp(tangents, ans, *args, **kwargs)`` -> tangent of ``ans``; ``tangents`` has one entry per
  positional argument, None for "zero". It may return None (zero) or something that
  broadcasts to ``ans``; ``Rule.call_jvp`` fills in both.
* Complex numbers follow JAX's convention: the VJP is the transpose of the (real-linear) JVP
  under the bilinear pairing ``<u, v> = Re(sum(u * v))``, without conjugation. For a
  holomorphic ``f`` the cotangent is ``g * f'(x)``; for ``abs(z)`` it is ``g * conj(z) / |z|``;
  the cotangent of a real input is real (``unbroadcast`` drops the imaginary part).
* Decisions in derivative code on values are comparisons (``x > 0``, ``a != 0``,
  ``np.less(a, b)``), never bare truth tests of a value (``if a:``, ``u if a else v``): under
  higher order an outer capture records the derivative code as it runs, and a comparison
  becomes a guard that a cached trace (``jit(hessian(f))``, ``grad(grad(f), cache=True)``)
  re-checks, while a truth test reaches no probe, so the replay would keep the branch taken
  at the first call (one call at the origin made every later Hessian of ``hypot(x, y) ** 3``
  zero).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from .refusals import refusal
from .shapes import fit_tangent, fit_tangent_tree, unbroadcast

ANS = "ans"
_INFER: Any = object()
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


class RuleError(ValueError):
    """A rule's metadata or the signature of its VJP/JVP is inconsistent."""


@dataclass(frozen=True, eq=False)
class Rule:
    """What framead knows about one callable: derivatives and the metadata capture needs.

    ``saves``: ``{argnum: (argnums or "ans", ...)}``, what each argnum's VJP reads by value;
    traced arguments not listed are passed as ``framead.ir.Meta`` stand-ins (leaf by leaf
    inside container arguments; an unsaved multi-output ``ans`` may be None or a tuple of
    Metas: no rule reads it). None means everything. ``containers``: argnums holding a
    (nested) list/tuple whose leaves may be traced (``sum``'s items, ``np.array``'s object);
    their cotangents/tangents have the same structure, None for leaves without one.
    ``multi``: the output is a (nested) tuple/list; ``g`` has the same structure with zeros
    filled in; ``per_argument``: its output k is made from argument k alone (traced only where
    that argument is: ``np.broadcast_arrays``). ``mutates``/``aliases`` (``{out: arg}``, "may be
    the same object or a view") describe buffers; ``hazard`` is a message for the coverage
    report when a traced value goes through a ``cut`` rule the user may not expect (``int()``,
    ``round()``), or (FA101) reaches a ``nondiff`` argument of a rule that is not cut
    (``scipy.special.jv``'s order).
    ``refusal``: the calls the derivatives cannot handle (``refusals.py``; ``refuses()``).
    """

    fn: Callable | None
    name: str
    vjp: tuple | Callable | None = None
    jvp: Callable | None = None
    saves: dict | None = None
    elementwise: bool = False
    nondiff: tuple[int, ...] = ()
    argnames: tuple[str, ...] | None = None
    cut: bool = False
    mutates: tuple[int, ...] = ()
    aliases: dict = field(default_factory=dict)
    multi: bool = False
    per_argument: bool = False
    containers: tuple[int, ...] = ()
    hazard: str | None = None
    first_order: tuple[int, ...] = ()  # argnums whose derivative code is not differentiable
    refusal: Callable | None = None

    def __repr__(self) -> str:
        return f"Rule({self.name})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Callable, self.fn)(*args, **kwargs)

    def refuses(self, args: tuple, kwargs: dict | None = None) -> str | None:
        """Why this rule cannot differentiate ``fn(*args, **kwargs)`` (None: it can)."""
        return None if self.refusal is None else self.refusal(tuple(args), kwargs or {})

    @property
    def joint(self) -> bool:
        """True when ``vjp`` is one function returning all cotangents."""
        return self.vjp is not None and not isinstance(self.vjp, tuple)

    def has_vjp(self, i: int) -> bool:
        if self.vjp is None or i in self.nondiff:
            return False
        if isinstance(self.vjp, tuple):
            return i < len(self.vjp) and self.vjp[i] is not None
        return True

    def vjp_for(self, i: int) -> Callable | None:
        """The per-argument VJP of argnum ``i`` (None for joint rules or no derivative)."""
        if isinstance(self.vjp, tuple) and self.has_vjp(i):
            return self.vjp[i]
        return None

    def saved_for(self, argnums: Any) -> frozenset | None:
        """What the VJPs of ``argnums`` read by value (None: everything)."""
        if self.saves is None:
            return None
        out: set = set()
        for i in argnums:
            out.update(self.saves.get(i, ()))
        return frozenset(out)

    def call_vjp(self, g: Any, ans: Any, args: tuple, kwargs: dict | None = None,
                 argnums: Any = None) -> list:
        """Cotangents for every positional argument (None where not asked for or none),
        unbroadcast to the argument for ``elementwise`` rules, as the reverse pass does."""
        kwargs = kwargs or {}
        want = range(len(args)) if argnums is None else argnums
        out: list = [None] * len(args)
        if self.joint:
            cts = cast(Callable, self.vjp)(g, ans, *args, **kwargs)
            if not isinstance(cts, tuple | list) or len(cts) < len(args):
                raise RuleError(f"{self.name}: joint vjp must return a tuple with one cotangent "
                                f"per positional argument ({len(args)}), got {cts!r:.80}")
            for i in want:
                if self.has_vjp(i):
                    out[i] = cts[i]
        else:
            for i in want:
                if self.has_vjp(i):
                    out[i] = cast(tuple, self.vjp)[i](g, ans, *args, **kwargs)
        if self.elementwise:
            for i in want:
                if out[i] is not None and i not in self.containers:
                    out[i] = unbroadcast(out[i], args[i])
        return out

    def call_jvp(self, tangents: tuple, ans: Any, args: tuple, kwargs: dict | None = None) -> Any:
        """Tangent of ``ans``, zeros filled in and broadcast to ``ans`` (per entry if multi)."""
        if self.cut or self.jvp is None:
            t = None
        else:
            t = self.jvp(tuple(tangents), ans, *args, **(kwargs or {}))
        return fit_tangent_tree(t, ans) if self.multi else fit_tangent(t, ans)


# --- validation ------------------------------------------------------------------------------

def _describe(f: Any) -> str:
    code = getattr(f, "__code__", None)
    where = f" ({code.co_filename}:{code.co_firstlineno})" if code is not None else ""
    return f"{getattr(f, '__qualname__', repr(f))}{where}"


def default_name(fn: Any) -> str:
    """``np.sin``, ``math.exp``, ``operator.mul``, ``builtins.sum``, ``ndarray.sum``."""
    name = getattr(fn, "__name__", None) or repr(fn)
    if isinstance(fn, np.ufunc):
        return f"np.{name}"
    owner = getattr(fn, "__objclass__", None)
    if owner is not None:
        return f"{owner.__name__}.{name}"
    mod = getattr(fn, "__module__", None) or ""
    if mod.startswith("numpy"):
        return f"np.{name}"
    if mod == "_operator":
        return f"operator.{name}"
    if mod in ("math", "builtins", "cmath"):
        return f"{mod}.{name}"
    return f"{mod}.{name}" if mod else name


def public_name(fn: Any) -> str:
    """``np.linalg.solve``, ``np.fft.fft``, ``scipy.linalg.expm``: the documented spelling."""
    parts = (getattr(fn, "__module__", "") or "").split(".")
    public = [p for p in parts if not p.startswith("_")]
    head = "np" if public[0] == "numpy" else public[0]
    return ".".join([head, *public[1:2], fn.__name__])


def infer_argnames(fn: Any) -> tuple[tuple[str, ...] | None, bool, int]:
    """(positional parameter names, takes *args, number of required positionals)."""
    if isinstance(fn, np.ufunc):
        return (("x",) if fn.nin == 1 else tuple(f"x{i + 1}" for i in range(fn.nin)), False,
                fn.nin)
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None, True, 0
    names: list[str] = []
    required = 0
    for p in sig.parameters.values():
        if p.kind in _POSITIONAL:
            names.append(p.name)
            required += p.default is inspect.Parameter.empty
        elif p.kind is inspect.Parameter.VAR_POSITIONAL:
            return tuple(names), True, required
    return tuple(names), False, required


def _check_sig(f: Any, npos: int, maxpos: int | None, what: str, owner: str) -> None:
    """``f`` must accept ``npos`` positional arguments and require at most ``maxpos``."""
    if not callable(f):
        raise RuleError(f"rule {owner}: {what} must be callable, got {f!r:.80}")
    try:
        params = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):
        return
    pos = [p for p in params if p.kind in _POSITIONAL]
    star = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
    req = sum(p.default is inspect.Parameter.empty for p in pos)
    if not star and len(pos) < npos:
        raise RuleError(f"rule {owner}: {what} {_describe(f)} takes {len(pos)} positional "
                        f"arguments but is called with at least {npos}: f(g_or_tangents, ans, "
                        f"*args, **kwargs); add the missing parameters or *args")
    if maxpos is not None and req > maxpos:
        raise RuleError(f"rule {owner}: {what} {_describe(f)} requires {req} positional "
                        f"arguments but the function takes at most {maxpos - 2}")


def _ints(x: Any, what: str, owner: str) -> tuple[int, ...]:
    t = (x,) if isinstance(x, int) else tuple(x)
    if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in t):
        raise RuleError(f"rule {owner}: {what} must be argnums (ints >= 0), got {x!r}")
    return t


def _sum_jvps(parts: tuple) -> Callable:
    def jvp(tangents, ans, *args, **kwargs):
        out = None
        for t, part in zip(tangents, parts, strict=False):
            if t is None or part is None:
                continue
            term = part(t, ans, *args, **kwargs)
            if term is not None:
                out = term if out is None else out + term
        return out

    jvp.parts = parts  # type: ignore[attr-defined]
    return jvp


def make_rule(fn: Callable | None, *, vjp: Any = None, jvp: Any = None, name: str | None = None,
              saves: dict | None = None, elementwise: bool = False, nondiff: Any = (),
              argnames: Any = _INFER, cut: bool = False, mutates: Any = (),
              aliases: dict | None = None, multi: bool = False, containers: Any = (),
              hazard: str | None = None, first_order: Any = (), refuses: Any = None,
              per_argument: bool = False) -> Rule:
    """Build and validate a Rule without registering it (``register`` calls this).
    ``first_order``: argnums whose derivative is computed by code a nested capture cannot
    differentiate again (a complex step): higher orders through them are reported (FA107);
    ``refuses``: the calls the derivatives cannot handle (``refusals.refusal``)."""
    if fn is not None and not callable(fn):
        raise RuleError(f"cannot make a rule for non-callable {fn!r:.80}")
    owner = name or default_name(fn)
    if argnames is _INFER:
        argnames, varargs, required = infer_argnames(fn) if fn is not None else (None, True, 0)
        if varargs and argnames == ():
            argnames = None
    else:
        argnames = None if argnames is None else tuple(argnames)
        if argnames is not None and len(set(argnames)) != len(argnames):
            raise RuleError(f"rule {owner}: duplicate argnames {argnames}")
        inferred, varargs, required = (infer_argnames(fn) if fn is not None
                                       else (None, False, 0))
        if inferred is None:  # no signature (math.log, int): trust argnames
            varargs, required = argnames is None, len(argnames or ())
    nargs = None if (argnames is None or varargs) else len(argnames)
    maxpos = None if nargs is None else nargs + 2
    nondiff = _ints(nondiff, "nondiff", owner)
    mutates = _ints(mutates, "mutates", owner)
    containers = _ints(containers, "containers", owner)
    if cut and vjp is not None:
        raise RuleError(f"rule {owner}: cut=True (zero derivative) contradicts a vjp")
    if not cut and vjp is None:
        raise RuleError(f"rule {owner}: give vjp=... or cut=True (output not differentiable)")
    if isinstance(vjp, list | tuple):
        vjp = tuple(vjp)
        if nargs is not None and len(vjp) > nargs:
            raise RuleError(f"rule {owner}: {len(vjp)} vjps for {nargs} positional arguments "
                            f"{argnames}")
        for i, f in enumerate(vjp):
            if f is None:
                continue
            if i in nondiff:
                raise RuleError(f"rule {owner}: argument {i} is nondiff but has a vjp")
            _check_sig(f, 2 + max(i + 1, required), maxpos, f"vjp[{i}]", owner)
    elif vjp is not None:
        _check_sig(vjp, 2 + required, maxpos, "joint vjp", owner)
    if isinstance(jvp, list | tuple):
        for i, f in enumerate(jvp):
            if f is not None:
                _check_sig(f, 2 + max(i + 1, required), maxpos, f"jvp[{i}]", owner)
        jvp = _sum_jvps(tuple(jvp))
    elif jvp is not None:
        _check_sig(jvp, 2 + required, maxpos, "jvp", owner)
    if cut and jvp is not None:
        raise RuleError(f"rule {owner}: cut=True contradicts a jvp")
    saves = _check_saves(saves, vjp, nondiff, nargs, owner)
    if aliases is None:
        aliases = {}
    if not all(isinstance(k, int) and isinstance(v, int) for k, v in dict(aliases).items()):
        raise RuleError(f"rule {owner}: aliases must map output index -> argnum, got {aliases}")
    return Rule(fn=fn, name=owner, vjp=vjp, jvp=jvp, saves=saves, elementwise=bool(elementwise),
                nondiff=nondiff, argnames=argnames, cut=bool(cut), mutates=mutates,
                aliases=dict(aliases), multi=bool(multi), containers=containers, hazard=hazard,
                first_order=_ints(first_order, "first_order", owner), per_argument=per_argument,
                refusal=refusal(refuses, argnames, owner, RuleError))


def _check_saves(saves: Any, vjp: Any, nondiff: tuple, nargs: int | None, owner: str):
    if saves is None:
        return None
    if not isinstance(saves, dict):
        raise RuleError(f"rule {owner}: saves must be a dict {{argnum: (argnums or 'ans',...)}} "
                        f"or None (everything), got {saves!r}")
    out = {}
    for k, v in saves.items():
        _ints(k, "saves keys", owner)
        v = (v,) if isinstance(v, int | str) else tuple(v)
        for s in v:
            if s == ANS:
                continue
            if not isinstance(s, int) or isinstance(s, bool) or s < 0 or (
                    nargs is not None and s >= nargs):
                raise RuleError(f"rule {owner}: saves[{k}] entry {s!r} is neither 'ans' nor an "
                                f"argnum < {nargs}")
        out[k] = v
    if isinstance(vjp, tuple):
        has = {i for i, f in enumerate(vjp) if f is not None}
        for k in out:
            if k not in has:
                raise RuleError(f"rule {owner}: saves[{k}] given but argument {k} has no vjp")
        for i in sorted(has - set(out)):
            raise RuleError(f"rule {owner}: saves has no entry for argument {i}, whose vjp "
                            f"reads what? (use () if it needs shapes only)")
    elif vjp is not None and len({frozenset(v) for v in out.values()}) > 1:
        raise RuleError(f"rule {owner}: a joint vjp is called once for all arguments, so every "
                        f"saves entry must be the same (got {out})")
    return out


# --- the registry ----------------------------------------------------------------------------

_BY_ID: dict[int, tuple[Any, Rule]] = {}
_METHODS: dict[tuple[type, str], Rule] = {}
_ATTRS: dict[tuple[type, str], Rule] = {}
_GENERATION = [0]
NO_SELF: Any = object()
# Threads may register while others read: readers walk copies (made in one C call), never the
# live dicts ("changed size during iteration" broke captures).
_installing = threading.local()  # .rules: what this thread registers inside ``recording()``


@contextlib.contextmanager
def recording() -> Iterator[list[Rule]]:
    """``with recording() as added:`` the rules this thread registers in the block (a rule
    pack's install: not the rules other threads register meanwhile)."""
    outer = getattr(_installing, "rules", None)
    added: list[Rule] = []
    _installing.rules = added
    try:
        yield added
    finally:
        _installing.rules = outer


def _recorded(rule: Rule) -> None:
    if (added := getattr(_installing, "rules", None)) is not None:
        added.append(rule)


def generation() -> int:
    """Counter bumped by every (un)registration: capture re-reads ``ruled_callables`` when it
    changes."""
    return _GENERATION[0]


def generation_cell() -> list[int]:
    """The one-item list holding ``generation()`` (capture's C fast paths read it without a
    call, to know whether a rule was registered since their tables were made)."""
    return _GENERATION


def ruled_callables() -> list:
    """Every callable object with a rule (functions, ufuncs, types, method descriptors)."""
    return [fn for fn, _ in list(_BY_ID.values())]


# id(raw implementation) -> id(its array-function dispatcher), for the entries _insert added
_IMPL_OF: dict[int, int] = {}


def raw_implementations(fn: Any) -> list:
    """NumPy's functions behind an array-function dispatcher (``np.concatenate.__wrapped__``,
    ``_implementation``): NumPy's own Python code (``np.block``) calls them directly."""
    out: list = []
    if getattr(type(fn), "__name__", "") != "_ArrayFunctionDispatcher":
        return out
    for name in ("_implementation", "__wrapped__"):
        f = getattr(fn, name, None)
        if callable(f) and f is not fn and all(f is not o for o in out):
            out.append(f)
    return out


def _insert(fn: Any, rule: Rule, replace: bool) -> None:
    old = _BY_ID.get(id(fn))
    if old is not None and not replace and id(fn) not in _IMPL_OF:
        raise RuleError(f"{default_name(fn)} already has a rule ({old[1].name}); pass "
                        f"replace=True to override it")
    _IMPL_OF.pop(id(fn), None)  # a rule of its own replaces the dispatcher's
    _BY_ID[id(fn)] = (fn, rule)
    _recorded(rule)
    for impl in raw_implementations(fn):  # a rule of its own is kept
        if id(impl) not in _BY_ID or _IMPL_OF.get(id(impl)) == id(fn):
            _BY_ID[id(impl)] = (impl, rule)
            _IMPL_OF[id(impl)] = id(fn)
    _GENERATION[0] += 1


def register(fn: Callable, *, replace: bool = False, **spec: Any) -> Rule:
    """Register a rule for ``fn``; ``spec`` as in ``make_rule``. Returns the Rule."""
    rule = make_rule(fn, **spec)
    _insert(fn, rule, replace)
    return rule


def register_method(cls: type, name: str, rule: Rule | None = None, *, replace: bool = False,
                    **spec: Any) -> Rule:
    """Rule for ``cls.name`` with ``self`` as first argument; pass ``rule`` to share one."""
    descriptor = getattr(cls, name)
    if rule is None:
        spec.setdefault("name", f"{cls.__name__}.{name}")
        rule = make_rule(descriptor, **spec)
    elif spec:
        raise RuleError(f"register_method({cls.__name__}.{name}): give a rule or a spec")
    key = (cls, name)
    if key in _METHODS and not replace:
        raise RuleError(f"{cls.__name__}.{name} already has a rule; pass replace=True")
    _METHODS[key] = rule
    _insert(descriptor, rule, True)
    return rule


def register_attr(classes: type | tuple, name: str, *, replace: bool = False,
                  **spec: Any) -> Rule:
    """Rule ``attr.<name>`` for reading ``obj.<name>``: called as ``rule(obj)``."""
    def get(obj, _name=name):
        return getattr(obj, _name)

    get.__name__ = get.__qualname__ = f"attr_{name}"
    spec.setdefault("name", f"attr.{name}")
    spec.setdefault("argnames", ("self",))
    rule = make_rule(get, **spec)
    for cls in classes if isinstance(classes, tuple) else (classes,):
        if (cls, name) in _ATTRS and not replace:
            raise RuleError(f"attribute {cls.__name__}.{name} already has a rule")
        _ATTRS[(cls, name)] = rule
    _recorded(rule)
    _GENERATION[0] += 1
    return rule


def unregister(fn: Callable) -> Rule | None:
    """Remove ``fn``'s rule (and its method entry); returns it."""
    entry = _BY_ID.pop(id(fn), None)
    _IMPL_OF.pop(id(fn), None)
    for impl in [i for i, d in list(_IMPL_OF.items()) if d == id(fn)]:
        _IMPL_OF.pop(impl, None), _BY_ID.pop(impl, None)
    for key in [k for k in list(_METHODS) if getattr(k[0], k[1], None) is fn]:
        _METHODS.pop(key, None)
    _GENERATION[0] += 1
    return None if entry is None else entry[1]


def _mro_lookup(table: dict, cls: type, name: str) -> Rule | None:
    """Through the MRO; a NumPy scalar's methods and attributes are those of a 0-d array
    (``np.float64(x).item()``, ``.astype``, ``.reshape``), so ndarray's rules serve them."""
    mro = getattr(cls, "__mro__", (cls,))
    if np.generic in mro:
        mro = (*mro, np.ndarray)
    for klass in mro:
        rule = table.get((klass, name))
        if rule is not None:
            return rule
    return None


class MethodCall:
    """``MethodCall(name)(obj, *args)`` is ``obj.name(*args)`` (ndarray's rule of a method
    applied to a NumPy scalar, whose own method that is)."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __call__(self, obj: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(obj, self.name)(*args, **kwargs)


_SCALAR_METHODS: dict[tuple[int, str], Rule] = {}  # (id of ndarray's rule, name) -> rule


def lookup_method(cls: type, name: str) -> Rule | None:
    """Rule of method ``name`` of ``cls`` (first argument: self), following the MRO; for a
    NumPy scalar type, ndarray's rule called through the scalar's own method."""
    rule = _mro_lookup(_METHODS, cls, name)
    if rule is None or not issubclass(cls, np.generic) or \
            any((k, name) in _METHODS for k in cls.__mro__):
        return rule
    key = (id(rule), name)
    if key not in _SCALAR_METHODS:
        jvp = None if rule.jvp is None else _on_arrays(rule.jvp)
        _SCALAR_METHODS[key] = dataclasses.replace(rule, fn=MethodCall(name), jvp=jvp)
    return _SCALAR_METHODS[key]


def _on_arrays(jvp: Callable) -> Callable:
    """ndarray's JVP for a NumPy scalar's method: scalars as 0-d arrays."""
    def as_array(v: Any) -> Any:
        return np.asarray(v) if isinstance(v, np.generic) else v

    def scalar_jvp(tangents, ans, *args, **kwargs):
        return jvp(tuple(as_array(t) for t in tangents), ans, *map(as_array, args), **kwargs)

    return scalar_jvp


def lookup_attr(cls: type, name: str) -> Rule | None:
    """Rule for reading attribute ``name`` of an instance of ``cls`` (``"attr.T"``...)."""
    return _mro_lookup(_ATTRS, cls, name)


def resolve(fn: Any) -> tuple[Rule, Any] | None:
    """``(rule, self)`` for a callable: self is NO_SELF, or the bound object of a bound method
    (``x.sum``), which the caller must pass as the rule's first argument."""
    entry = _BY_ID.get(id(fn))
    if entry is not None:
        return entry[1], NO_SELF
    owner = getattr(fn, "__self__", None)
    if owner is not None and not isinstance(owner, types.ModuleType):
        name = getattr(fn, "__name__", None)
        rule = lookup_method(type(owner), name) if isinstance(name, str) else None
        if rule is not None:
            return rule, owner
    return None


def lookup(fn: Any) -> Rule | None:
    """The rule registered for ``fn`` itself: a function, ufunc, dispatcher, type or method
    descriptor (``np.ndarray.sum``). None for a bound method (``x.sum``): use ``resolve``,
    which also returns the ``self`` to prepend, or ``lookup_method(type(x), "sum")``."""
    entry = _BY_ID.get(id(fn))
    return None if entry is None else entry[1]


def iter_rules() -> Iterator[Rule]:
    """Every distinct registered rule (functions, methods, attributes), in registration order."""
    seen: set[int] = set()
    for rule in [*(r for _, r in list(_BY_ID.values())), *_METHODS.values(), *_ATTRS.values()]:
        if id(rule) not in seen:
            seen.add(id(rule))
            yield rule


def iter_methods() -> Iterator[tuple[type, str, Rule]]:
    for (cls, name), rule in list(_METHODS.items()):
        yield cls, name, rule


def iter_attrs() -> Iterator[tuple[type, str, Rule]]:
    for (cls, name), rule in list(_ATTRS.items()):
        yield cls, name, rule
