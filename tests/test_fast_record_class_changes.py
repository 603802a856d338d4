"""The C fast paths read WeakEntry / Buffer / Value fields from their slots only while the
classes are as set_fast_record found them (type version tag): a class changed in the middle
of a recording sends the reads back by name, and the gradient stays right (central
differences), whichever class changes and when."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import central
from framead.capture import buffers

import framead
from framead import ir

CLASSES = {"WeakEntry": lambda: buffers.WeakEntry, "Buffer": lambda: buffers.Buffer,
           "Value": lambda: ir.Value}


def _stencil(u, change=None, at=-1):
    u = u.copy()
    for i in range(6):
        if change is not None and i == at:
            change()._framead_test_attr = i  # the class changes mid-recording
        u[1:-1] = u[1:-1] + 0.25 * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u[0] = 0.0
        u[-1] = u[-2]
        v = u * u
        u = u + 0.1 * np.sin(v[::-1])
    return float(np.sum(u ** 2))


@pytest.mark.parametrize("name", sorted(CLASSES))
@pytest.mark.parametrize("at", [0, 3, 5])
def test_a_class_changed_mid_recording(name, at):
    cls = CLASSES[name]()
    u0 = np.linspace(0.0, 1.0, 9) ** 2
    try:
        g = framead.grad(lambda u: _stencil(u, CLASSES[name], at))(u0)
    finally:
        if "_framead_test_attr" in vars(cls):
            delattr(cls, "_framead_test_attr")
    np.testing.assert_allclose(g, central(_stencil, u0), rtol=1e-6, atol=1e-7)
