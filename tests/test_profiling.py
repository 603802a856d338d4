"""Profilers see the reverse pass as lines of generated code that name the user's lines."""

from __future__ import annotations

import cProfile
import linecache
import pstats

import numpy as np

import framead


def loss(x):
    y = np.sin(x) * x  # PROFILED-LINE
    return float(np.sum(y ** 2))


def test_cprofile_attributes_reverse_pass_to_generated_lines():
    prof = cProfile.Profile()
    prof.enable()
    framead.grad(loss)(np.linspace(0.1, 1.0, 50))
    prof.disable()
    stats = pstats.Stats(prof).stats
    chunks = [(f, line) for (f, line, name) in stats
              if f.startswith("<framead-backward-") and name.startswith("backward_chunk_")]
    assert chunks, "no reverse-pass rows in the profile"
    filename = chunks[0][0]
    source = "".join(linecache.getlines(filename))
    assert "PROFILED-LINE" in source and "test_profiling.py:" in source
