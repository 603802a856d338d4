"""Third-party rules shipped through the ``framead.rules`` entry point are picked up lazily;
a broken plugin is reported, not fatal."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

import framead
from framead import rules

PLUGIN = '''
import numpy as np
from framead.rules import register

def softclip(x):
    """A library function the tiny package ships, with its own rule."""
    return np.tanh(x) * 2.0

register(softclip, vjp=(lambda g, ans, x: g * 2.0 * (1.0 - np.tanh(x) ** 2),),
         jvp=lambda t, ans, x: t[0] * 2.0 * (1.0 - np.tanh(x) ** 2), saves={0: (0,)},
         name="tinyrules.softclip")
'''


def _make_dist(root, name: str, module: str, body: str, entry: str) -> None:
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[framead.rules]\n{entry}\n")


def test_entry_point_rule_package_is_picked_up(tmp_path, monkeypatch):
    _make_dist(tmp_path, "tinyrules", "tinyrules", PLUGIN, "tiny = tinyrules")
    _make_dist(tmp_path, "brokenrules", "brokenrules", "raise ImportError('no such lib')\n",
               "broken = brokenrules")
    monkeypatch.syspath_prepend(str(tmp_path))
    rules.rescan_plugins()
    try:
        def f(x):
            import tinyrules  # already imported (and its rule registered) by the plugin scan

            return float(np.sum(tinyrules.softclip(x) * x))

        assert "tinyrules" not in sys.modules
        x = np.linspace(-1.0, 1.0, 4)
        with pytest.warns(rules.RulePluginWarning, match="broken"):
            t = framead.trace(f, x)
        assert any(n.name == "tinyrules.softclip" for n in t.graph.nodes), str(t)
        g = framead.grad(f)(x)
        expected = 2 * np.tanh(x) + x * 2 * (1 - np.tanh(x) ** 2)
        np.testing.assert_allclose(g, expected, rtol=1e-12)
    finally:
        mod = sys.modules.pop("tinyrules", None)
        if mod is not None:
            rules.unregister(mod.softclip)
        rules.rescan_plugins()
