"""framead.rules: the rule API and the rule library.

Everything a rule author needs is importable from here::

    from framead.rules import register, defunary, unbroadcast, check
    defunary(np.sinc_like, lambda x: ...)      # one table line per elementwise function
    check(np.sinc_like, np.linspace(0.1, 1, 5))   # VJP/JVP vs finite differences

The library (math, builtins and operator, NumPy, np.linalg, np.fft) is installed once, below,
in one place; ``library_rules(module)`` says which module installed what. SciPy's rules are
installed only once SciPy is imported: ``generation()`` (which capture calls before every
trace and after every import under a capture) installs the ``_OPTIONAL`` packs whose modules
appear in ``sys.modules``, so importing framead never imports SciPy.
Conventions (call signatures, ``saves``, containers, multi-output, complex numbers) are in
``registry``'s docstring and docs/internals.md section 4.

The modules: ``shapes`` (the leaf: shapes, kinds, containers, reduction axes) <- ``registry``
(``Rule``, ``register``, lookup) <- ``families`` (``defunary``, ``defbinary``, ``deflinear``,
``defcut``); ``formulas`` and ``matrices`` hold derivative code several rule modules share,
``primitives`` the functional primitives capture records writes with, ``check`` the
finite-difference checker, ``capture_state`` what a rule may ask about the running capture.
Every ``*_rules`` module is one subject of the library, with an ``install()``.
"""

import importlib
import sys
import threading
import warnings

from framead.ir import Meta

from . import (
    builtin_rules,
    fft_rules,
    linalg_rules,
    math_rules,
    mutation_rules,
    numpy_array_rules,
    numpy_pad_rules,
    numpy_reduction_rules,
    numpy_rules,
    numpy_scan_rules,
    numpy_series_rules,
    numpy_shape_rules,
    numpy_statistics_rules,
    product_rules,
    random_rules,
)
from .capture_state import set_capture_test
from .check import CheckEntry, CheckReport, RuleCheckError, check, check_rule
from .families import defbinary, defcut, deflinear, defunary
from .formulas import abs_dx
from .plugins import RulePluginWarning, load_entry_points
from .registry import (
    ANS,
    NO_SELF,
    Rule,
    RuleError,
    infer_argnames,
    iter_attrs,
    iter_methods,
    iter_rules,
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
from .registry import generation as _registry_generation
from .registry import recording as _recording
from .shapes import (
    add_tangents,
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

__all__ = [
    "ANS", "CheckEntry", "CheckReport", "Meta", "NO_SELF", "Rule", "RuleCheckError",
    "RuleError", "RulePluginWarning", "abs_dx", "add_tangents", "check", "check_rule",
    "defbinary", "defcut",
    "deflinear", "defunary", "expand_reduced", "fill_zeros", "fit", "fit_tangent",
    "fit_tangent_tree", "generation", "rescan_plugins", "infer_argnames", "install_optional",
    "is_inexact",
    "iter_attrs", "iter_methods", "iter_rules", "library_rules", "load_entry_points", "lookup",
    "lookup_attr", "lookup_method", "make_rule", "meta_of", "normalize_axis", "register",
    "register_attr", "register_method", "resolve", "ruled_callables", "set_capture_test",
    "shape_of", "struct_cot", "sum_to", "unbroadcast", "unregister",
]

_BY_MODULE: dict[str, tuple[Rule, ...]] = {}


def _install(module) -> None:
    """Install a rule pack: its rules are those its ``install()`` registered (in this thread:
    not a rule another thread registers meanwhile) that were not registered before."""
    before = {id(r) for r in iter_rules()}
    with _recording() as added:
        module.install()
    mine = {id(r) for r in added} - before
    name = module.__name__.rsplit(".", 1)[-1]
    _BY_MODULE[name] = tuple(r for r in iter_rules() if id(r) in mine)


for _module in (math_rules, builtin_rules, numpy_rules, numpy_array_rules, numpy_shape_rules,
                numpy_pad_rules, numpy_reduction_rules, numpy_statistics_rules, numpy_scan_rules,
                numpy_series_rules, linalg_rules, product_rules, fft_rules, mutation_rules,
                random_rules):
    _install(_module)
del _module
_install(importlib.import_module(f"{__name__}.ufunc_outer_rules"))  # ufunc.outer, any ufunc
_install(importlib.import_module(f"{__name__}.ufunc_method_rules"))  # reduce/accumulate/reduceat


# Optional rule packs: (module of this package, installed once any of these modules has been
# imported; the pack imports them itself). Checked before every capture and after every import
# under a capture (capture/session.py), so a pack applies in the capture that imported it.
_OPTIONAL = (
    ("scipy_rules", ("scipy.special", "scipy.linalg")),
    ("scipy_special_rules", ("scipy.special",)),
    ("scipy_signal_rules", ("scipy.ndimage", "scipy.signal", "scipy.interpolate", "scipy.fft")),
    ("scipy_fft_rules", ("scipy.fft", "scipy.fftpack")),
    ("scipy_linalg_rules", ("scipy.linalg",)),
    ("scipy_matfunc_rules", ("scipy.linalg",)),
    ("scipy_kde_rules", ("scipy.stats",)),
    ("exact_number_rules", ("decimal", "fractions")),
)


_modules_seen = [-1]  # len(sys.modules) at the last look (checked before every capture)
_install_lock = threading.RLock()  # one thread installs packs (their rules are told apart by
                                   # what each install added); the others wait for the rules


def install_optional() -> None:
    """Install the rule packs of optional packages (SciPy) that have been imported since; a
    rule someone registered first is kept, and a failure is a warning, not an error."""
    if len(sys.modules) == _modules_seen[0]:  # nothing imported since the last look
        return
    with _install_lock:
        seen = len(sys.modules)
        for name, triggers in _OPTIONAL:
            if name in _BY_MODULE or not any(m in sys.modules for m in triggers):
                continue
            try:
                _install(importlib.import_module(f"{__name__}.{name}"))
            except Exception as e:  # a broken SciPy must not break every capture
                _BY_MODULE.setdefault(name, ())
                warnings.warn(f"framead: {name} not installed: {type(e).__name__}: {e}",
                              RuntimeWarning, stacklevel=2)
        _modules_seen[0] = seen  # (after the installs: no thread skips a pack still going in)


_plugins_scanned: list[bool] = []


def rescan_plugins() -> None:
    """Look for newly installed rule plugins at the next capture."""
    _plugins_scanned.clear()


def generation() -> int:
    """Counter bumped by every (un)registration; capture calls it before each trace, which is
    when the rules of a newly imported optional package are installed."""
    install_optional()
    if not _plugins_scanned:  # third-party rule packages: loaded lazily, on the first capture
        with _install_lock:
            if not _plugins_scanned:
                load_entry_points(once=True)
                _plugins_scanned.append(True)
    return _registry_generation()


def library_rules(module: str | None = None) -> tuple[Rule, ...]:
    """The rules framead ships (not those registered later by capture or third parties), or
    those one library module installed (``"numpy_rules"``, ``"linalg_rules"``...)."""
    if module is not None:
        return _BY_MODULE.get(module, ())
    global _library
    known = _library
    if known[0] != len(_BY_MODULE):  # (each module's entry is set once)
        n = len(_BY_MODULE)
        known = _library = (n, tuple(r for rules in list(_BY_MODULE.values()) for r in rules))
    return known[1]


# (modules installed when it was made, library_rules()): replaced whole (threads share it)
_library: tuple = (0, ())
