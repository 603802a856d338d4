"""framead: glue automatic differentiation for unmodified legacy numerical Python."""

from .api import GradientWarning, Trace, grad, strict, trace, value_and_grad, vjp
from .coverage import CoverageReport, coverage
from .eager_api import eager
from .errors import FrameadError, GradientHazard, InputTypeError, NonScalarOutputError

__all__ = ["vjp", "grad", "value_and_grad", "trace", "Trace", "coverage", "CoverageReport", "strict",
           "eager", "GradientWarning", "FrameadError", "GradientHazard",
           "InputTypeError", "NonScalarOutputError"]
