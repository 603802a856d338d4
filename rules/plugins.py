"""Third-party rule packages, found through the ``framead.rules`` entry point group and
loaded lazily, before the first capture (``rules.generation``)."""

from __future__ import annotations

import types
import warnings
from importlib import metadata


class RulePluginWarning(RuntimeWarning):
    """A third-party rule package failed to load (the capture goes on without it)."""


_plugins_loaded: set[str] = set()


def load_entry_points(group: str = "framead.rules", *, once: bool = False) -> list[str]:
    """Import third-party rule packages: each entry point is a module (registering on import)
    or a callable taking no arguments. A failing plugin is reported (RulePluginWarning), not
    fatal. ``once``: skip entry points loaded before. Returns the loaded entry point names."""
    loaded = []
    for ep in metadata.entry_points(group=group):
        key = f"{ep.name}={ep.value}"
        if once and key in _plugins_loaded:
            continue
        _plugins_loaded.add(key)
        try:
            obj = ep.load()
            if callable(obj) and not isinstance(obj, types.ModuleType):
                obj()
        except Exception as e:  # noqa: BLE001 - a plugin must not break every capture
            warnings.warn(RulePluginWarning(
                f"framead: rule plugin {ep.name!r} ({ep.value}) failed to load: "
                f"{type(e).__name__}: {e}"), stacklevel=2)
            continue
        loaded.append(ep.name)
    return loaded
