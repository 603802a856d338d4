"""A corpus of peer-style gradient tests run unmodified through framead.

The cases exercise the API surface that other AD systems' own test suites check: HIPS
autograd's tests (test_systematic, test_numpy, test_linalg, test_scipy, test_fft, test_graphs,
test_builtins, test_wrappers, ...; MIT licence), JAX's lax_numpy autodiff tests and PyTorch's
gradcheck cases. They are written here as plain NumPy/SciPy programs, the way legacy code calls
those libraries (``np.sin`` passed straight in, lists of arrays, keyword combinations), not copied
from those suites: each peer test named in a case's ``origin`` is the one whose function, shapes,
axes and ``argnums`` the case reproduces.

A case is ``Case(name, fun, args, argnums, origin)``; ``combos`` expands a peer-style
"every combination of these arguments and keywords" check into cases.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Case:
    name: str
    fun: Callable
    args: tuple
    argnums: tuple[int, ...] = (0,)
    origin: str = ""
    kwargs: dict = field(default_factory=dict)


def _short(a: Any) -> str:
    import numpy as np

    if isinstance(a, np.ndarray):
        if not a.ndim:
            return "0d"
        return ("c" if a.dtype.kind == "c" else "") + "x".join(map(str, a.shape))
    if isinstance(a, complex):
        return "cplx"
    if isinstance(a, float):
        return "f"
    if isinstance(a, tuple | list):
        return ("(" if isinstance(a, tuple) else "[") + ",".join(_short(b) for b in a) + (
            ")" if isinstance(a, tuple) else "]")
    if isinstance(a, str):
        return repr(a)
    return repr(a)


def combos(prefix: str, fun: Callable, argnums, *arglists, origin: str = "",
           **kwlists) -> list[Case]:
    """Every combination of the positional candidates and keyword candidates, as cases."""
    out = []
    keys = list(kwlists)
    for args in itertools.product(*arglists):
        for vals in itertools.product(*(kwlists[k] for k in keys)):
            kw = dict(zip(keys, vals, strict=True))
            tag = ",".join([_short(a) for a in args] + [f"{k}={v!r}" for k, v in kw.items()])
            out.append(Case(f"{prefix}[{tag}]", fun, tuple(args), tuple(argnums), origin, kw))
    return out


def all_cases() -> list[Case]:
    from . import (
        cases_api,
        cases_jax,
        cases_misc,
        cases_numpy,
        cases_scipy,
        cases_scipy_api,
        cases_systematic,
    )

    cases = []
    for mod in (cases_systematic, cases_numpy, cases_misc, cases_scipy, cases_jax, cases_api,
                cases_scipy_api):
        cases += mod.cases()
    names = [c.name for c in cases]
    dup = {n for n in names if names.count(n) > 1}
    if dup:  # make names unique (a combination can repeat when candidates coincide)
        seen: dict[str, int] = {}
        for c in cases:
            if c.name in dup:
                seen[c.name] = seen.get(c.name, 0) + 1
                c.name = f"{c.name}#{seen[c.name]}"
    return cases
