"""framead against HIPS autograd, JAX and PyTorch on six legacy workloads (``make bench``).

    .venv/bin/python benchmarks/run.py                  # full run, writes benchmarks/RESULTS.md
    .venv/bin/python benchmarks/run.py --quick          # small sizes, small budgets (smoke run)
    .venv/bin/python benchmarks/run.py --only nbody     # some workloads (comma-separated)
    .venv/bin/python benchmarks/run.py --systems framead,framead.cached,torch

Only the full run over all workloads and systems writes ``benchmarks/RESULTS.md``; partial
and ``--quick`` runs print their tables (and write them where ``--out`` says). Every
(workload, system) pair runs in a fresh subprocess that imports only its own package, so the
first call is a true first call and a crash or a runaway system costs only its own row
(``--timeout``). All systems run single-threaded by default (``--threads``): on a small,
shared machine multi-threaded BLAS and intra-op pools mostly measure contention. See
``harness.py`` for what each number means.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time

if __name__ == "__main__":   # single-threaded BLAS for the finite-difference reference too
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import harness  # noqa: E402
import workloads  # noqa: E402

ORDER = ("numpy", "framead", "framead.cached", "autograd", "torch", "jax", "jax.jit")
LABEL = {"numpy": "NumPy primal", "framead": "framead", "framead.cached": "framead.cached",
         "autograd": "autograd", "torch": "PyTorch", "jax": "JAX (eager grad)",
         "jax.jit": "JAX jit(grad)"}
FRAMEADS = ("framead", "framead.cached")


def thread_env(threads: int) -> dict:
    env = dict(os.environ)
    n = str(threads)
    env.update(OMP_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n, MKL_NUM_THREADS=n,
               NUMEXPR_NUM_THREADS=n, JAX_PLATFORMS="cpu",
               TF_CPP_MIN_LOG_LEVEL="2", PYTHONWARNINGS="ignore")
    if threads == 1:
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                            " intra_op_parallelism_threads=1").strip()
    return env


# --------------------------------------------------------------------------------------------
# worker (one system on one workload, in its own process)
# --------------------------------------------------------------------------------------------


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def worker(a) -> int:
    if a.system == "torch":
        import torch

        torch.set_num_threads(a.threads)
    mod = workloads.load(a.worker)
    with open(a.spec, "rb") as fh:
        spec = pickle.load(fh)

    def save(res, final=False):
        with open(a.json + ".tmp", "w") as fh:
            json.dump(_jsonable({**res, "partial": not final}), fh)
        os.replace(a.json + ".tmp", a.json)

    res = harness.run_system(mod, a.system, mod.SIZES[a.size], spec, a.budget,
                             max_reps=a.max_reps, profile=not a.no_profile,
                             grad_path=a.grad, slow_s=a.slow, cap_s=a.cap,
                             profile_size=mod.SIZES["quick"], checkpoint=save)
    save(res, final=True)
    return 0


# --------------------------------------------------------------------------------------------
# parent: orchestration
# --------------------------------------------------------------------------------------------


def run_workload(name: str, a, tmp: str) -> dict:
    mod = workloads.load(name)
    size = mod.SIZES[a.size]
    t0 = time.perf_counter()
    spec = harness.make_check(mod, size)
    out = {"name": name, "kind": mod.KIND, "description": mod.DESCRIPTION,
           "port_notes": mod.PORT_NOTES, "size": size,
           "check_s": time.perf_counter() - t0, "systems": {}}
    spec_path = os.path.join(tmp, f"{name}.spec.pkl")
    with open(spec_path, "wb") as fh:
        pickle.dump(spec, fh)
    print(f"\n== {name} {size}  (finite-difference reference: {out['check_s']:.1f} s)",
          flush=True)
    for system in a.systems:
        ok, why = harness.system_available(system)
        if not ok:
            out["systems"][system] = {"system": system, "status": "SKIPPED", "reason": why}
            print(f"  {system:9s} SKIPPED ({why})", flush=True)
            continue
        jpath = os.path.join(tmp, f"{name}.{system}.json")
        gpath = os.path.join(tmp, f"{name}.{system}.npz")
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--system", system,
               "--size", a.size, "--spec", spec_path, "--json", jpath, "--grad", gpath,
               "--budget", str(a.budget), "--max-reps", str(a.max_reps),
               "--threads", str(a.threads), "--slow", str(a.slow), "--cap", str(a.cap)]
        if a.no_profile:
            cmd.append("--no-profile")
        t1 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, env=thread_env(a.threads), cwd=ROOT,
                                  capture_output=True, text=True, timeout=a.timeout)
            if proc.returncode == 0 and os.path.exists(jpath):
                with open(jpath) as fh:
                    res = json.load(fh)
            else:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-12:]
                res = {"system": system, "status": "FAILED",
                       "reason": f"worker exited with status {proc.returncode}: "
                                 + (tail[-1] if tail else ""),
                       "traceback": "\n".join(tail)}
        except subprocess.TimeoutExpired:
            res = timed_out(system, jpath, a.timeout)
        res["wall_s"] = time.perf_counter() - t1
        if res.get("status") == "ok" and os.path.exists(gpath):
            with np.load(gpath) as z:
                res["_grads"] = [z[k] for k in sorted(z.files, key=lambda s: int(s[4:]))]
        out["systems"][system] = res
        print("  " + progress_line(res), flush=True)
    agreement(out)
    return out


def timed_out(system: str, jpath: str, timeout: float) -> dict:
    """The result of a worker killed by the timeout: what it had saved, if anything."""
    res = None
    if os.path.exists(jpath):
        with open(jpath) as fh:
            res = json.load(fh)
    if not res or res.get("status") != "ok" or "first_s" not in res:
        return {"system": system, "status": "TIMEOUT",
                "reason": f"no gradient within {timeout:.0f} s (the subprocess timeout)"}
    if not res.get("grad_times"):
        res["first_only"] = True
        res["peak_rss"] = res.get("first_rss")
    res.setdefault("notes", []).append(
        f"the subprocess was stopped at the {timeout:.0f} s timeout after its first call "
        f"({res['first_s']:.1f} s); what it measured before is reported")
    return res


def agreement(w: dict) -> None:
    """Max elementwise deviation of each passing system's gradient from the elementwise
    median of all passing systems (relative to the median's largest entry)."""
    rows = [r for r in w["systems"].values() if r.get("_grads") is not None]
    if len(rows) < 2:
        for r in rows:
            r.pop("_grads", None)
        return
    nargs = len(rows[0]["_grads"])
    for k in range(nargs):
        stack = np.stack([np.asarray(r["_grads"][k], dtype=np.float64) for r in rows])
        med = np.median(stack, axis=0)
        scale = max(float(np.max(np.abs(med))), 1e-300)
        for j, r in enumerate(rows):
            dev = float(np.max(np.abs(stack[j] - med))) / scale
            r["agreement"] = max(r.get("agreement", 0.0), dev)
    for r in rows:
        del r["_grads"]


def median(xs):
    return float(np.median(xs)) if xs else math.nan


def grad_time(r) -> float:
    if r.get("status") != "ok":
        return math.nan
    if r.get("grad_times"):
        return median(r["grad_times"])
    if r.get("first_only"):
        return r["first_s"]
    return math.nan


def fmt_g(r) -> str:
    """A gradient time, marked when it is a first call standing in for warm ones."""
    return fmt_t(grad_time(r)) + ("†" if r.get("first_only") else "")


def primal_time(r) -> float:
    return median(r.get("primal_times") or [])


def progress_line(r) -> str:
    s = r["system"]
    if r.get("status") != "ok":
        return f"{s:14s} {r.get('status')}: {r.get('reason', '')}  [{r['wall_s']:.0f} s]"
    if s == "numpy":
        return (f"{s:14s} primal {fmt_t(primal_time(r))}  first {fmt_t(r.get('first_s'))}"
                f"  [{r['wall_s']:.0f} s]")
    cache = ""
    if r.get("cache") is not None:
        c = r["cache"]
        cache = (f"  second {fmt_t(r.get('second_s'))}  hits {c.get('timed_hits')}/"
                 f"{c.get('timed_calls')}" + (f"  {not_cached(r)}" if not_cached(r) else ""))
    return (f"{s:14s} grad {fmt_t(grad_time(r))} (x{len(r.get('grad_times') or [])})  primal "
            f"{fmt_t(primal_time(r))}  first {fmt_t(r.get('first_s'))}{cache}  rss "
            f"{fmt_b(r.get('peak_rss'))}  [{r['wall_s']:.0f} s]")


def not_cached(r) -> str:
    """'' when every timed warm call of a cached system was a cache hit, else why not."""
    c = r.get("cache")
    if c is None:
        return ""
    if r.get("first_only"):
        return "not cached: no warm call was timed; the first call (a capture) stands in"
    n, k = c.get("timed_calls", 0), c.get("timed_hits", 0)
    if n and k >= n:
        return ""
    st = c.get("stats") or {}
    why = "; ".join(st.get("reasons") or []) or (
        f"{st.get('misses', 0)} guard misses" if st.get("misses") else "no reason recorded")
    return f"not cached: {k} of {n} timed calls were hits ({why})"


# --------------------------------------------------------------------------------------------
# formatting
# --------------------------------------------------------------------------------------------


def fmt_t(t) -> str:
    if t is None or not isinstance(t, int | float) or math.isnan(t):
        return "–"
    if t >= 1.0:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.3g} ms"
    return f"{t * 1e6:.3g} µs"


def fmt_b(b) -> str:
    if b is None:
        return "–"
    if b < 1024 * 1024:
        return f"{b / 1024:.0f} KiB"
    return f"{b / 1024 / 1024:.1f} MiB"


def fmt_tm(r) -> str:
    """tracemalloc's peak of one call, and what it still held after returning."""
    return f"{fmt_b(r.get('peak_tracemalloc'))} / {fmt_b(r.get('held_tracemalloc'))}"


def fmt_r(x) -> str:
    if x is None or math.isnan(x):
        return "–"
    return f"{x:.3g}"


def machine_info(threads: int) -> dict:
    import importlib.metadata as md

    info = {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "python": platform.python_version(), "platform": platform.platform()}
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["cpu"] = cpu
    info["cores"] = f"{os.cpu_count()} logical, {len(os.sched_getaffinity(0))} usable"
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
        info["memory"] = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    versions = {}
    for pkg in ("framead", "numpy", "scipy", "autograd", "jax", "jaxlib", "torch", "bytecode"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = "not installed"
    info["versions"] = versions
    try:
        blas = np.__config__.CONFIG["Build Dependencies"]["blas"]
        info["blas"] = f"{blas.get('name')} {blas.get('version')}"
    except (AttributeError, KeyError, TypeError):
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
        info["framead_commit"] = commit + (" + uncommitted changes" if dirty else "")
    except OSError:
        pass
    info["threads"] = threads
    info["loadavg_start"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return info


def render(results: list[dict], info: dict, a) -> str:
    L: list[str] = []
    L.append("# framead benchmarks\n")
    L.append(f"Generated by `benchmarks/run.py{' --quick' if a.quick else ''}` "
             f"(`make bench`) on {info['date']}, in {info['total_s'] / 60:.1f} minutes.\n")
    L.append("*framead* is `framead.value_and_grad(f, argnums)`: every call captures the "
             "legacy program again. *framead.cached* is `framead.value_and_grad(f, argnums, "
             "cache=True)`: its first call captures, later calls re-run the generated code "
             "while the trace's guards hold (cache hits; how many of the timed calls were "
             "hits is reported under each workload). Issue 16's targets are checked against "
             "the numbers of this run in the targets table.\n")
    L += render_headline(results)
    L += render_targets(results)
    L.append("## Per workload\n")
    L.append("Times are medians of warm calls (`reps` = how many); *first call* is the first "
             "gradient call in a fresh process. *grad/primal* divides by the system's own "
             "primal (the same function without AD in that system); *grad / NumPy primal* "
             "divides by the legacy NumPy program's time. *framead / system* columns are "
             "framead's time divided by that system's: below 1 framead is faster. *peak RSS* "
             "is the peak resident set during a warm gradient call above the process's "
             "resident set before its first call (so it includes what the system keeps "
             "between calls); *tracemalloc* is `peak / held`: the peak of one warm call's "
             "traced allocations, and how much of them the system still held after the call "
             "returned (NumPy-based systems only). *max dev.* is the "
             "largest elementwise deviation of the system's gradient from the elementwise "
             "median of all passing systems, relative to its largest entry.\n")
    for w in results:
        L += render_workload(w)
    L += render_method(info, a)
    return "\n".join(L) + "\n"


def _ok(w, s):
    r = w["systems"].get(s)
    return r if r and r.get("status") == "ok" else None


def render_headline(results) -> list[str]:
    L = ["## Headline: gradient time (median of warm calls)\n"]
    systems = [s for s in ORDER if s != "numpy"]
    head = ("| workload | kind | NumPy primal | " + " | ".join(LABEL[s] for s in systems)
            + " | " + " | ".join(f"{LABEL[s]} / fastest eager peer" for s in FRAMEADS) + " |")
    L += [head, "|" + "---|" * (len(systems) + 3 + len(FRAMEADS))]
    for w in results:
        cells = []
        for s in systems:
            r = w["systems"].get(s)
            if r is None:
                cells.append("–")
            elif r.get("status") != "ok":
                cells.append(r.get("status", "?"))
            else:
                cells.append(fmt_g(r) + ("‡" if not_cached(r) else ""))
        best = fastest_eager(w)
        for s in FRAMEADS:
            fa = grad_time(w["systems"].get(s, {}))
            cells.append(fmt_r(fa / best[1]) if best else "–")
        npr = primal_time(w["systems"].get("numpy", {}))
        L.append(f"| {w['name']} | {w['kind']} | {fmt_t(npr)} | " + " | ".join(cells) + " |")
    L.append("")
    L.append("† only the first call was run (it took longer than the cap); its time, which "
             "includes compilation, stands in for the warm time. ‡ not all of framead.cached's "
             "timed calls were cache hits (reason in the targets table and under the "
             "workload). FAILED: the gradient did not match finite differences or the call "
             "raised (reason under the workload). The fastest eager peer is the fastest of "
             f"{', '.join(LABEL[s] for s in harness.EAGER_PEERS)}.\n")
    return L


def fastest_eager(w) -> tuple[str, float] | None:
    """The fastest eager peer (autograd, PyTorch, JAX without jit) by warm gradient time."""
    peers = {s: grad_time(w["systems"][s]) for s in harness.EAGER_PEERS if _ok(w, s)}
    peers = {s: t for s, t in peers.items() if not math.isnan(t)}
    if not peers:
        return None
    s = min(peers, key=peers.get)
    return s, peers[s]


# issue 16's targets (each a ratio of this run's numbers): scalar-heavy workloads: framead's
# first and warm uncached gradient ≤ 1/3 of PyTorch eager's (first / warm), framead.cached's
# warm gradient ≤ 1/10 of PyTorch's; array-heavy: uncached gradient / own primal ≤ 3, the
# first call ≤ 10× the primal, peak memory ≤ PyTorch's; every workload: the cached second
# call (the first cache hit) ≤ 2× the cached first call, its memory ≤ the uncached path's
SCALAR_UNCACHED, SCALAR_CACHED = 1 / 3, 1 / 10
ARRAY_OVER_PRIMAL, ARRAY_FIRST_OVER_PRIMAL, MEMORY_OVER_PEER = 3.0, 10.0, 1.0
SECOND_OVER_FIRST = 2.0


def _why_missing(w, s) -> str:
    r = w["systems"].get(s)
    if r is None:
        return f"{LABEL[s]} not run"
    return f"{LABEL[s]} {r.get('status', '?')}"


def _target(w, target, num, den, limit, missing, flag="", unit="×") -> dict:
    """One row of the targets table: ``num / den <= limit`` (num, den: (time, text) or a
    system name whose absence makes the target not measurable)."""
    row = {"workload": w["name"], "target": target}
    if not missing and (num is None or den is None or not num[0] or not den[0]
                        or math.isnan(num[0]) or math.isnan(den[0])):
        missing = ["not recorded"]
    if missing:
        return {**row, "measured": "not measurable (" + ", ".join(missing) + ")", "met": None}
    x = num[0] / den[0]
    measured = f"{num[1]} / {den[1]} = {x:.3g}{unit}"
    if flag:
        measured += f" ({flag})"
    return {**row, "measured": measured, "ratio": x, "met": bool(x <= limit) and not flag}


def _first(r):
    return r and r.get("first_s") is not None and (r["first_s"], fmt_t(r["first_s"]))


def _rss(r):
    return r and r.get("peak_rss") is not None and (max(r["peak_rss"], 1), fmt_b(r["peak_rss"]))


def targets(w) -> list[dict]:
    """Issue 16's targets for workload ``w``, each with its measured ratio and whether met."""
    rows = []
    fa, fc, pt = _ok(w, "framead"), _ok(w, "framead.cached"), _ok(w, "torch")

    def miss(*systems):
        return [_why_missing(w, s) for s in systems if not _ok(w, s)]

    if w["kind"] == "scalar":
        rows.append(_target(w, "framead first call ≤ 1/3 of PyTorch's first call",
                            _first(fa), _first(pt), SCALAR_UNCACHED, miss("framead", "torch")))
        rows.append(_target(w, "framead warm ≤ 1/3 of PyTorch's warm",
                            fa and (grad_time(fa), fmt_g(fa)), pt and (grad_time(pt), fmt_g(pt)),
                            SCALAR_UNCACHED, miss("framead", "torch")))
        rows.append(_target(w, "framead.cached warm ≤ 1/10 of PyTorch's warm",
                            fc and (grad_time(fc), fmt_g(fc)), pt and (grad_time(pt), fmt_g(pt)),
                            SCALAR_CACHED, miss("framead.cached", "torch"),
                            fc and not_cached(fc)))
    else:
        prim = fa and (primal_time(fa), fmt_t(primal_time(fa)))
        rows.append(_target(w, "framead warm gradient / own primal ≤ 3",
                            fa and (grad_time(fa), fmt_g(fa)), prim, ARRAY_OVER_PRIMAL,
                            miss("framead")))
        rows.append(_target(w, "framead first call / own primal ≤ 10", _first(fa), prim,
                            ARRAY_FIRST_OVER_PRIMAL, miss("framead")))
        rows.append(_target(w, "framead peak RSS ≤ PyTorch's", _rss(fa), _rss(pt),
                            MEMORY_OVER_PEER, miss("framead", "torch")))
    second = fc and fc.get("second_s") is not None and (fc["second_s"], fmt_t(fc["second_s"]))
    rows.append(_target(w, "framead.cached second call ≤ 2× its first call", second, _first(fc),
                        SECOND_OVER_FIRST, miss("framead.cached")))
    rows.append(_target(w, "framead.cached peak RSS ≤ framead's", _rss(fc), _rss(fa),
                        MEMORY_OVER_PEER, miss("framead.cached", "framead")))
    return rows


def render_targets(results) -> list[str]:
    rows = [t for w in results for t in targets(w)]
    met = sum(1 for t in rows if t["met"])
    unmeasured = sum(1 for t in rows if t["met"] is None)
    L = ["## Issue 16 targets (same run, same machine)\n",
         "Scalar-heavy workloads (rosen_loop, lorenz_rk4, nbody): framead's uncached gradient "
         "≤ 1/3 of PyTorch eager's, first call against first call and warm against warm, and "
         "framead.cached's warm gradient ≤ 1/10 of PyTorch's. Array-heavy workloads (heat1d, "
         "mlp, gp_nll): framead's uncached warm gradient ≤ 3× its own primal, its first call "
         "≤ 10× the primal, its peak RSS ≤ PyTorch's. Every workload: framead.cached's second "
         "call (the first cache hit) ≤ 2× its first call, and its peak RSS ≤ uncached "
         "framead's. *measured* is the ratio; a framead.cached target is met only if every "
         "timed call was a cache hit. The fixed cost of a small uncached call (≤ 50 us) is "
         "measured by benchmarks/microbench.py.\n",
         "| workload | target | measured | met? |", "|---|---|---|---|"]
    for t in rows:
        ok = "–" if t["met"] is None else ("yes" if t["met"] else "no")
        L.append(f"| {t['workload']} | {t['target']} | {t['measured']} | {ok} |")
    L.append("")
    L.append(f"{met} of {len(rows)} targets met"
             + (f" ({unmeasured} not measurable)" if unmeasured else "") + ".\n")
    return L


def render_workload(w) -> list[str]:
    size = ", ".join(f"{k}={v}" for k, v in w["size"].items())
    L = [f"### {w['name']} ({w['kind']}-heavy)\n", w["description"] + "\n",
         f"Size run: {size}. Ports: {w['port_notes']}\n"]
    numpy_r = _ok(w, "numpy")
    np_t = primal_time(numpy_r) if numpy_r else math.nan
    fa = _ok(w, "framead")
    fa_t, fa_first = (grad_time(fa), fa["first_s"]) if fa else (math.nan, math.nan)
    L.append("| system | status | gradient | reps | own primal | grad/primal | "
             "grad / NumPy primal | first call | peak RSS | tracemalloc | max dev. | "
             "framead / system (gradient) | framead / system (first call) |")
    L.append("|" + "---|" * 13)
    notes = []
    for s in ORDER:
        r = w["systems"].get(s)
        if r is None:
            continue
        if r.get("status") != "ok":
            L.append(f"| {LABEL[s]} | **{r.get('status')}** | " + " | ".join(["–"] * 11) + " |")
            notes.append(f"- {LABEL[s]} {r.get('status')}: {r.get('reason', '')}")
            continue
        if s == "numpy":
            L.append(f"| {LABEL[s]} | ok | – | {len(r['primal_times'])} | {fmt_t(np_t)} | – | – "
                     f"| {fmt_t(r['first_s'])} | {fmt_b(r.get('peak_rss'))} | "
                     f"{fmt_tm(r)} | – | – | – |")
            continue
        g, p = grad_time(r), primal_time(r)
        tm_s = fmt_tm(r) if r.get("peak_tracemalloc") is not None else (
            "n/a" if s in ("jax", "jax.jit", "torch") else "skipped")
        reps = len(r.get("grad_times") or [])
        dag = "†" if r.get("first_only") else ""
        ddag = "‡" if not_cached(r) else ""
        L.append(f"| {LABEL[s]} | ok | {fmt_g(r)}{ddag} | {reps} | {fmt_t(p)} | "
                 f"{fmt_r(g / p)}{dag} | "
                 f"{fmt_r(g / np_t)}{dag} | {fmt_t(r['first_s'])} | "
                 f"{fmt_b(r.get('peak_rss'))}{dag} | "
                 f"{tm_s} | {r.get('agreement', math.nan):.1e} | "
                 f"{'–' if s == 'framead' else fmt_r(fa_t / g) + dag} | "
                 f"{'–' if s == 'framead' else fmt_r(fa_first / r['first_s'])} |")
        for note in r.get("notes", []):
            notes.append(f"- {LABEL[s]}: {note}")
        if r.get("cache") is not None:
            notes.append(f"- {LABEL[s]}: " + cache_note(r))
    L.append("")
    checks = [f"{LABEL[s]} {r['check']}" for s, r in w["systems"].items() if r.get("check")]
    if checks:
        L.append("Gradient checks against finite differences of the legacy primal: "
                 + "; ".join(checks) + ".\n")
    if notes:
        L += notes + [""]
    if fa and fa.get("framead"):
        L += render_breakdown(fa)
    return L


def cache_note(r) -> str:
    """What a cached system's cache did: the second call, the hits, the stats."""
    c = r["cache"]
    st = c.get("stats") or {}
    parts = []
    if r.get("second_s") is not None:
        kind = "the first cache hit" if c.get("second_hit") else "not a cache hit"
        parts.append(f"second call ({kind}; it builds the replay, not part of the "
                     f"warm median) {fmt_t(r['second_s'])}")
    parts.append(f"{c.get('timed_hits', 0)} of {c.get('timed_calls', 0)} timed warm calls "
                 "were cache hits")
    parts.append("`vg.stats` after all calls: " + ", ".join(
        f"{k} {st[k]}" for k in ("hits", "misses", "captures", "uncacheable") if k in st)
        + (f", reasons {st['reasons']}" if st.get("reasons") else ""))
    flag = not_cached(r)
    return "; ".join(parts) + (f". **{flag}**" if flag else "")


def render_breakdown(fa) -> list[str]:
    b = fa["framead"]
    g = grad_time(fa)
    tr = median(b.get("trace_times") or [])
    n = b.get("nodes") or 0
    L = ["framead breakdown: "
         f"{n} IR nodes; recording alone (`framead.trace`) {fmt_t(tr)}"
         + (f" = {tr / n * 1e6:.1f} µs/node" if n else "")
         + f"; the rest of a gradient call (reverse-pass generation, compilation, execution) "
         f"{fmt_t(g - tr)}" + (f" = {(g - tr) / n * 1e6:.1f} µs/node" if n else "")
         + f"; recorder stats {b.get('stats')}.\n"]
    if b.get("profile"):
        where = ("this workload's `quick` size" if b.get("profile_size") else "the benchmark size")
        L.append(f"<details><summary>cProfile of one framead gradient call ({where}, "
                 f"{fmt_t(b['profile_total_s'])} under the profiler), top functions by own "
                 "time</summary>\n")
        L.append("| own time | cumulative | calls | function |")
        L.append("|---|---|---|---|")
        for p in b["profile"]:
            L.append(f"| {fmt_t(p['tottime'])} | {fmt_t(p['cumtime'])} | {p['ncalls']} | "
                     f"`{p['where']}` |")
        L.append("\n</details>\n")
    return L


def render_method(info, a) -> list[str]:
    v = info["versions"]
    L = ["## Machine and versions\n",
         f"- date: {info['date']}",
         f"- machine: {info['cpu']}, {info['cores']} cores, {info.get('memory', '?')} RAM; "
         f"{info['platform']}",
         f"- load average (1, 5, 15 min) at start: {info['loadavg_start']}; at end: "
         f"{info['loadavg_end']} (the machine is shared: expect noise)",
         f"- Python {info['python']}; " + ", ".join(f"{k} {x}" for k, x in v.items()),
         f"- NumPy BLAS: {info.get('blas', '?')}",
         f"- framead commit: {info.get('framead_commit', '?')}",
         f"- threads: {info['threads']} per system (OMP/OpenBLAS/MKL_NUM_THREADS, "
         "`torch.set_num_threads`, XLA `intra_op_parallelism_threads`"
         + (", `--xla_cpu_multi_thread_eigen=false`" if info["threads"] == 1 else "") + ")",
         f"- budget: {a.budget:g} s of warm gradient calls per system (at most {a.max_reps}), "
         f"a third of that for the primal; calls slower than {a.slow:g} s get one warm repeat "
         f"and no tracemalloc or profile at full size; after a first call over {a.cap:g} s only "
         f"that call is reported; subprocess timeout {a.timeout:g} s",
         ""]
    L.append("## Method\n")
    doc = harness.__doc__
    L.append(doc[doc.index("* **gradient time**"):].strip() + "\n")
    L.append("Each system runs in a fresh subprocess (`run.py --worker`), importing only its "
             "own package. JAX runs with `jax_enable_x64`, PyTorch on float64 tensors; every "
             "port's value is checked against the legacy primal's, so all systems compute the "
             "same float64 function with the same algorithm. The JAX eager system runs "
             "`jax.value_and_grad` op by op on the Python-loop port; the jit system runs "
             "`jax.jit(jax.value_and_grad(...))`, where long time-stepping loops are "
             "`lax.fori_loop`s (see each workload's port notes).\n")
    return L


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes and budgets (smoke run)")
    p.add_argument("--only", default="", help="comma-separated workloads")
    p.add_argument("--systems", default=",".join(ORDER), help="comma-separated systems")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds of warm gradient calls per system (default 5; 1 with --quick)")
    p.add_argument("--max-reps", type=int, default=None)
    p.add_argument("--slow", type=float, default=None,
                   help="calls slower than this get a single warm repeat (default: budget)")
    p.add_argument("--cap", type=float, default=None,
                   help="after a first call slower than this, report only that call")
    p.add_argument("--timeout", type=float, default=None, help="per-subprocess timeout")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-profile", action="store_true", help="skip framead's cProfile")
    p.add_argument("--out", default=None, help="markdown output (default: RESULTS.md for a "
                   "full run of everything, none otherwise)")
    # worker mode (internal)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--system", help=argparse.SUPPRESS)
    p.add_argument("--size", default=None, help=argparse.SUPPRESS)
    p.add_argument("--spec", help=argparse.SUPPRESS)
    p.add_argument("--json", help=argparse.SUPPRESS)
    p.add_argument("--grad", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    a.size = a.size or ("quick" if a.quick else "full")
    a.budget = a.budget if a.budget is not None else (1.0 if a.quick else 5.0)
    a.max_reps = a.max_reps or (5 if a.quick else 40)
    a.slow = a.slow if a.slow is not None else a.budget
    a.cap = a.cap if a.cap is not None else (30.0 if a.quick else 90.0)
    a.timeout = a.timeout if a.timeout is not None else (90.0 if a.quick else 120.0)
    if a.worker:
        return worker(a)
    names = [n for n in a.only.split(",") if n] or list(workloads.WORKLOADS)
    for n in names:
        workloads.load(n)   # validates the name
    a.systems = [s for s in a.systems.split(",") if s]
    for s in a.systems:
        if s not in ORDER:
            p.error(f"unknown system {s!r}; choose from {', '.join(ORDER)}")
    full = not a.quick and not a.only and list(a.systems) == list(ORDER)
    out = a.out or (os.path.join(HERE, "RESULTS.md") if full else None)
    info = machine_info(a.threads)
    t0 = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="framead-bench-") as tmp:
        for n in names:
            results.append(run_workload(n, a, tmp))
    info["total_s"] = time.perf_counter() - t0
    info["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    text = render(results, info, a)
    print("\n" + "\n".join(render_headline(results) + render_targets(results)))
    if out:
        with open(out, "w") as fh:
            fh.write(text)
        print(f"wrote {out}")
    print(f"total {info['total_s'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
