"""``python -m framead <command>``. Commands live in ``COMMANDS``: add one with a function
that configures its argparse subparser and one that runs it (returning the exit status), or,
for a command with its own parser, ``None`` and a ``main(argv)`` that gets the rest of argv."""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import framead
from framead import rules
from framead.capture.hazards import REGISTRY
from framead.coverage_cli import main as coverage_main
from framead.rules import primitives

# --- rules -----------------------------------------------------------------------------------

def _configure_rules(p: argparse.ArgumentParser) -> None:
    p.add_argument("pattern", nargs="?", default="",
                   help="only rules whose name (or method/attribute name) contains this")
    p.add_argument("--no-optional", action="store_true",
                   help="do not import SciPy to list its rules")
    p.add_argument("--no-plugins", action="store_true",
                   help="do not load third-party rules (entry point group framead.rules)")


def _short(items: list[str]) -> str:
    return ",".join(items) if len(items) <= 4 else f"{','.join(items[:3])},+{len(items) - 3}"


def _describe_rule(rule: Any) -> tuple[str, str, str]:
    """(VJP column, JVP column, metadata column) for one rule."""
    names = rule.argnames or ()

    def arg(i: int) -> str:
        return names[i] if i < len(names) else f"#{i}"

    if rule.cut:
        vjp = "cut"
    elif rule.joint:
        vjp = "joint"
    else:
        vjp = _short([arg(i) for i in range(len(rule.vjp)) if rule.has_vjp(i)])
    jvp = "-" if rule.cut else ("jvp" if rule.jvp is not None else "NO JVP")
    meta = []
    for flag in ("elementwise", "multi"):
        if getattr(rule, flag):
            meta.append(flag)
    for key in ("nondiff", "containers", "mutates"):
        value = getattr(rule, key)
        if value:
            meta.append(f"{key}={','.join(arg(i) for i in value)}")
    if rule.aliases:
        meta.append("aliases")
    if rule.saves is None and not rule.cut:
        meta.append("saves=all")
    elif rule.saves:
        saved = sorted({s for v in rule.saves.values() for s in v},
                       key=lambda s: (isinstance(s, str), s if isinstance(s, int) else 0))
        meta.append(f"saves={_short([s if s == 'ans' else arg(s) for s in saved]) or '-'}")
    if rule.hazard:
        meta.append("hazard")
    return vjp, jvp, " ".join(meta)


def _run_rules(args: argparse.Namespace) -> int:
    if not args.no_optional:  # import what every optional rule pack is installed for
        for module in sorted({m for _, triggers in rules._OPTIONAL for m in triggers}):
            try:
                importlib.import_module(module)
            except ImportError:
                pass
        rules.install_optional()
    if not args.no_plugins:
        try:
            loaded = rules.load_entry_points()
        except Exception as e:  # a broken plugin is reported, not fatal
            print(f"warning: loading rule plugins failed: {type(e).__name__}: {e}",
                  file=sys.stderr)
            loaded = []
        if loaded:
            print(f"# plugins: {', '.join(loaded)}")
    also: dict[int, list[str]] = {}
    for cls, name, rule in rules.iter_methods():
        if rule.name != f"{cls.__name__}.{name}":
            also.setdefault(id(rule), []).append(f"{cls.__name__}.{name}")
    library = {id(r) for r in rules.library_rules()}
    shown = counts = 0
    no_jvp = cuts = 0
    rows = []
    internal = {id(fn) for fn, *_ in primitives.PRIMITIVES.values()}
    for rule in rules.iter_rules():
        if id(rule.fn) in internal:  # framead's own primitives (setitem, copy...): not rules
            continue  # a user calls, and their tangents are framead/forward.py's
        counts += 1
        no_jvp += not rule.cut and rule.jvp is None
        cuts += rule.cut
        aliases = also.get(id(rule), [])
        text = " ".join([rule.name, *aliases])
        if args.pattern and args.pattern not in text:
            continue
        shown += 1
        vjp, jvp, meta = _describe_rule(rule)
        name = rule.name + (f" (also {', '.join(aliases)})" if aliases else "")
        origin = "" if id(rule) in library else " [user]"
        rows.append(f"{name + origin:<44} {vjp:<18} {jvp:<7} {meta}")
    print(f"{'rule':<44} {'vjp':<18} {'jvp':<7} metadata")
    print("\n".join(rows))
    print(f"# {shown} of {counts} rules shown; {len(library)} in framead's library; "
          f"{cuts} cuts (zero derivative); {no_jvp} without a JVP")
    return 0


# --- hazards ---------------------------------------------------------------------------------

def _configure_hazards(p: argparse.ArgumentParser) -> None:
    p.add_argument("code", nargs="?", default="",
                   help="only the hazard with this code or slug (e.g. FA101 or no-rule)")


def _run_hazards(args: argparse.Namespace) -> int:
    kinds = [k for k in REGISTRY.values() if args.code in ("", k.code, k.slug)]
    if not kinds:
        print(f"no hazard {args.code!r}; known: {', '.join(REGISTRY)}", file=sys.stderr)
        return 2
    for k in kinds:
        print(f"{k.code}  {k.slug}")
        for label, text in (("", k.explanation), ("hint: ", k.hint_for("<op>"))):
            print(textwrap.fill(label + text, 92, initial_indent="    ",
                                subsequent_indent="    "))
    return 0


# --- the command table -----------------------------------------------------------------------

COMMANDS: dict[str, tuple[str, Callable | None, Callable]] = {
    "rules": ("list every registered rule: callable, VJP, JVP and metadata",
              _configure_rules, _run_rules),
    "hazards": ("list the hazard codes (places a gradient may be lost): slug, meaning, hint",
                _configure_hazards, _run_hazards),
    "coverage": ("run a function under capture and list where gradients may be lost",
                 None, coverage_main),
}


def _version() -> str:
    return (f"framead {framead.__version__} (CPython {platform.python_version()}, "
            f"{os.path.dirname(framead.__file__)})")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in COMMANDS and COMMANDS[argv[0]][1] is None:
        return COMMANDS[argv[0]][2](argv[1:])
    parser = argparse.ArgumentParser(prog="python -m framead")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, configure, run) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, add_help=configure
                           is not None)
        if configure is not None:
            configure(p)
        p.set_defaults(run=run)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
