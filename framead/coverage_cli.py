"""``python -m framead coverage path/to/file.py:func --args EXPR ...`` (a CI gate).

Exit status: 0 when no entry can affect the gradient, 1 otherwise, 2 on usage errors.
``--html DIR`` also writes the report as DIR/index.html and prints that path last (on stderr
with ``--json``/``--markdown``, so their output stays parseable).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
from typing import Any

import numpy as np

from .coverage import coverage


class UsageError(Exception):
    pass


def _load_function(target: str) -> Any:
    path, sep, qualname = target.rpartition(":")
    if not sep or not path or not qualname:
        raise UsageError(f"expected path/to/file.py:function, got {target!r}")
    if not os.path.isfile(path):
        raise UsageError(f"no such file: {path}")
    name = "_framead_coverage_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    obj: Any = module
    for part in qualname.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"{path} has no {qualname!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise UsageError(f"{qualname} in {path} is not callable")
    return obj


def _parse_args(exprs: list[str]) -> list[Any]:
    env = {"np": np, "numpy": np, "math": math}
    out = []
    for e in exprs:
        try:
            out.append(eval(e, env))  # noqa: S307 - the user's own command line
        except Exception as err:  # noqa: BLE001
            raise UsageError(f"cannot evaluate --args {e!r}: {err}") from err
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m framead coverage",
        description="Run a function once under capture and list where gradients may be lost.")
    parser.add_argument("target", help="path/to/file.py:function")
    parser.add_argument("--args", nargs="*", default=[], metavar="EXPR",
                        help="arguments as Python expressions (np and math available)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--markdown", action="store_true", help="print the report as Markdown")
    parser.add_argument("--html", metavar="DIR",
                        help="also write the report as DIR/index.html (DIR is created) and "
                             "print its path")
    try:
        ns = parser.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    try:
        fn = _load_function(ns.target)
        args = _parse_args(ns.args)
    except UsageError as e:
        print(f"framead coverage: {e}", file=sys.stderr)
        return 2
    report = coverage(fn, *args)
    if ns.json:
        print(report.to_json())
    elif ns.markdown:
        print(report.to_markdown())
    else:
        print(report)
    if ns.html:
        try:
            path = report.to_html(os.path.join(ns.html, "index.html"))
        except OSError as e:
            print(f"framead coverage: cannot write {ns.html}: {e}", file=sys.stderr)
            return 2
        print(path, file=sys.stderr if ns.json or ns.markdown else sys.stdout)
    return 1 if report.affects_gradient else 0
