"""framead: glue automatic differentiation for unmodified legacy numerical Python."""

from .api import Trace, grad, trace, value_and_grad
from .errors import FrameadError, GradientHazard, InputTypeError, NonScalarOutputError

__all__ = ["grad", "value_and_grad", "trace", "Trace", "FrameadError", "GradientHazard",
           "InputTypeError", "NonScalarOutputError"]
