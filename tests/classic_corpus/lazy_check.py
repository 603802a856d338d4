"""Run in a fresh interpreter by test_classic_corpus.py: each named program is called first
under framead (so its in-body imports load inside a capture), then checked natively against
central differences. The gradient and the hazards come from that first capture
(framead.trace and its Trace.backward). Prints one JSON line per program."""

import json
import sys
import warnings

import numpy as np

import framead

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import corpus_check as harness  # noqa: E402
import programs_lazy  # noqa: E402
from registry import CASES  # noqa: E402

for _m in ("numeric", "library", "stats", "series", "numpy"):
    __import__(f"programs_{_m}")

table = {c.name: (c.fn, c.draw) for c in CASES}
table.update({n: (f, d) for n, f, d in programs_lazy.LAZY_CASES})

for name in sys.argv[1:]:
    fn, draw = table[name]
    x = draw(np.random.default_rng(5))
    before = set(sys.modules)
    try:
        np.random.seed(harness.NOISE_SEED)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # one capture gives both the hazards and the gradient (Trace.backward)
            t = framead.trace(fn, x.copy() if isinstance(x, np.ndarray) else x, argnums=0)
            hazards = [f"{h.code} {h.op}" for h in t.hazards]
            out = t.graph.outputs[0]
            g = t.backward()({out.id: 1.0})[0] if hasattr(out, "id") else None
            g = np.zeros(np.shape(x)) if g is None else g
    except Exception as e:  # noqa: BLE001
        print(json.dumps({"name": name, "status": "error", "detail": f"{type(e).__name__}: {e}"}))
        continue
    loaded = sorted(m for m in set(sys.modules) - before if "." not in m)
    y0 = harness._as_float(harness._call(fn, x))
    fd, err = harness.finite_difference(fn, x, y0)
    if fd is None:
        status, detail = "skip", err
    else:
        ga = np.asarray(g, dtype=float).reshape(-1)
        tol = 1e-5 * max(np.max(np.abs(fd)), np.max(np.abs(ga)), 1e-8) + err
        ok = bool(np.all(np.isfinite(ga)) and np.all(np.abs(ga - fd) <= tol))
        status = ("hazard" if hazards else "pass") if ok else (
            "wrong_hazard" if hazards else "wrong")
        detail = "" if ok else f"framead {ga.tolist()}, differences {fd.tolist()}"
    print(json.dumps({"name": name, "status": status, "detail": detail, "hazards": hazards[:3],
                      "first_imported": loaded[:8]}))
