"""framead: glue automatic differentiation for unmodified legacy numerical Python."""

from importlib import metadata as _metadata

from . import (
    ode,  # framead.ode.adjoint_options
    tree,  # framead.tree.register, flatten, unflatten, tree_map
)
from .api import GradientWarning, Trace, grad, strict, trace, value_and_grad, vjp
from .batching import vmap
from .cache import jit
from .check import GradientCheckError, check_grads
from .coverage import CoverageReport, coverage
from .eager_api import eager
from .engines import use
from .errors import FrameadError, GradientHazard, InputTypeError, NonScalarOutputError
from .export import to_jax, to_torch
from .forward import jvp
from .implicit import implicit  # the function; the module is sys.modules["framead.implicit"]
from .transforms import hessian, jacfwd, jacrev

__all__ = ["vjp", "grad", "value_and_grad", "trace", "Trace", "coverage", "CoverageReport",
           "strict", "eager", "GradientWarning", "use", "FrameadError", "GradientHazard",
           "InputTypeError", "NonScalarOutputError"]
__all__ += ["jvp", "jacfwd", "jacrev", "hessian", "to_torch", "to_jax"]
__all__ += ["implicit", "ode", "jit", "check_grads", "GradientCheckError", "tree",
           "vmap"]

try:
    __version__ = _metadata.version("framead")
except _metadata.PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "0+unknown"
