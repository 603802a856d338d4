"""framead's exceptions; messages name the user's file:line and what to do."""

from __future__ import annotations

from typing import Any


class FrameadError(Exception):
    """Base class of framead's errors."""


class NonScalarOutputError(FrameadError, TypeError):
    """grad of a function whose output is not a real scalar."""


class InputTypeError(FrameadError, TypeError):
    """An argument to differentiate is not a float, float array or inexact NumPy scalar."""


class GradientHazard(FrameadError):
    """strict mode: framead met a place where it cannot see (all of) the gradient."""

    def __init__(self, hazard: Any):
        self.hazard = hazard
        loc = hazard.loc
        slug, hint = getattr(hazard, "slug", ""), getattr(hazard, "hint", "")
        super().__init__(f"{hazard.code} [{slug}] at {loc.file}:{loc.line} ({hazard.op}): "
                         f"{hazard.message}" + (f"\n  hint: {hint}" if hint else ""))


class GradientWarning(UserWarning):
    """A gradient framead computed is probably not what was meant (e.g. identically zero)."""
