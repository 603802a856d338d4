"""The former home of the rule author's helpers, kept as a re-export: code written against
``framead.rules.helpers`` (and tests/test_rules.py, which imports the module by name) keeps
working. The helpers live in ``shapes`` (shapes, kinds, containers, reductions), ``formulas``
(shared derivative formulas) and ``families`` (``defunary``...); import them from there or
from ``framead.rules``."""

from .families import defbinary, defcut, deflinear, defunary
from .formulas import abs_dx, abs_jvp, pow_dx, pow_dy, sdiv
from .shapes import (
    add_tangents,
    expand_reduced,
    fill_zeros,
    fit,
    fit_tangent,
    fit_tangent_tree,
    is_inexact,
    keepdims_of,
    meta_of,
    normalize_axis,
    reduced_size,
    shape_of,
    struct_cot,
    sum_to,
    unbroadcast,
)

__all__ = [
    "abs_dx", "abs_jvp", "add_tangents", "defbinary", "defcut", "deflinear", "defunary",
    "expand_reduced", "fill_zeros", "fit", "fit_tangent", "fit_tangent_tree", "is_inexact",
    "keepdims_of", "meta_of", "normalize_axis", "pow_dx", "pow_dy", "reduced_size", "shape_of",
    "sdiv", "struct_cot", "sum_to", "unbroadcast",
]
