"""framead.rules: the rule API and the rule library.

Everything a rule author needs is importable from here::

    from framead.rules import register, defunary, unbroadcast, check
    defunary(np.sinc_like, lambda x: ...)      # one table line per elementwise function
    check(np.sinc_like, np.linspace(0.1, 1, 5))   # VJP/JVP vs finite differences

The library (math, builtins and operator, NumPy) is installed once, below, in one place.
Conventions (call signatures, ``saves``, containers, multi-output, complex numbers) are in
``registry``'s docstring and docs/internals.md section 4.
"""

from framead.ir import Meta

from . import builtin_rules, math_rules, numpy_rules
from .check import CheckEntry, CheckReport, RuleCheckError, check, check_rule
from .helpers import (
    abs_dx,
    add_tangents,
    defbinary,
    defcut,
    deflinear,
    defunary,
    expand_reduced,
    fill_zeros,
    fit,
    fit_tangent,
    fit_tangent_tree,
    is_inexact,
    meta_of,
    normalize_axis,
    shape_of,
    struct_cot,
    sum_to,
    unbroadcast,
)
from .registry import (
    ANS,
    NO_SELF,
    Rule,
    RuleError,
    generation,
    infer_argnames,
    iter_attrs,
    iter_methods,
    iter_rules,
    load_entry_points,
    lookup,
    lookup_attr,
    lookup_method,
    make_rule,
    register,
    register_attr,
    register_method,
    resolve,
    ruled_callables,
    unregister,
)

__all__ = [
    "ANS", "CheckEntry", "CheckReport", "Meta", "NO_SELF", "Rule", "RuleCheckError",
    "RuleError", "abs_dx", "add_tangents", "check", "check_rule", "defbinary", "defcut",
    "deflinear", "defunary", "expand_reduced", "fill_zeros", "fit", "fit_tangent",
    "fit_tangent_tree", "generation", "infer_argnames", "is_inexact", "iter_attrs",
    "iter_methods", "iter_rules", "library_rules", "load_entry_points", "lookup",
    "lookup_attr", "lookup_method", "make_rule", "meta_of", "normalize_axis", "register",
    "register_attr", "register_method", "resolve", "ruled_callables", "shape_of", "struct_cot",
    "sum_to", "unbroadcast", "unregister",
]

for _module in (math_rules, builtin_rules, numpy_rules):
    _module.install()
del _module
_LIBRARY = tuple(iter_rules())


def library_rules() -> tuple[Rule, ...]:
    """The rules framead ships (not those registered later by capture or third parties)."""
    return _LIBRARY
