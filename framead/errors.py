"""framead's exceptions; messages name the user's file:line and what to do."""

from __future__ import annotations


class FrameadError(Exception):
    """Base class of framead's errors."""


class NonScalarOutputError(FrameadError, TypeError):
    """grad of a function whose output is not a real scalar."""


class InputTypeError(FrameadError, TypeError):
    """An argument to differentiate is not a float, float array or inexact NumPy scalar."""


class GradientHazard(FrameadError):
    """strict=True: a place where framead cannot see the gradient."""
