"""framead against HIPS autograd, JAX and PyTorch on six legacy workloads (``make bench``).

    .venv/bin/python benchmarks/run.py                  # full run, writes benchmarks/RESULTS.md
    .venv/bin/python benchmarks/run.py --quick          # small sizes, small budgets (smoke run)
    .venv/bin/python benchmarks/run.py --only nbody     # some workloads (comma-separated)
    .venv/bin/python benchmarks/run.py --systems framead,torch

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

ORDER = ("numpy", "framead", "autograd", "torch", "jax", "jax.jit")
LABEL = {"numpy": "NumPy primal", "framead": "framead", "autograd": "autograd",
         "torch": "PyTorch", "jax": "JAX (eager grad)", "jax.jit": "JAX jit(grad)"}


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
        return f"{s:9s} {r.get('status')}: {r.get('reason', '')}  [{r['wall_s']:.0f} s]"
    if s == "numpy":
        return (f"{s:9s} primal {fmt_t(primal_time(r))}  first {fmt_t(r.get('first_s'))}"
                f"  [{r['wall_s']:.0f} s]")
    return (f"{s:9s} grad {fmt_t(grad_time(r))} (x{len(r.get('grad_times') or [])})  primal "
            f"{fmt_t(primal_time(r))}  first {fmt_t(r.get('first_s'))}  rss "
            f"{fmt_b(r.get('peak_rss'))}  [{r['wall_s']:.0f} s]")


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
    L.append("framead's performance has not been tuned yet (issue 7 items 2-4: C fast path, "
             "cheaper recording and reverse pass, cached traces). These numbers are the "
             "baseline those items are measured against.\n")
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
            + " | framead / fastest eager peer |")
    L += [head, "|" + "---|" * (len(systems) + 4)]
    for w in results:
        cells = []
        for s in systems:
            r = w["systems"].get(s)
            if r is None:
                cells.append("–")
            elif r.get("status") != "ok":
                cells.append(r.get("status", "?"))
            else:
                cells.append(fmt_g(r))
        fa = grad_time(w["systems"].get("framead", {}))
        peers = [grad_time(w["systems"][s]) for s in harness.EAGER_PEERS
                 if s in w["systems"]]
        peers = [p for p in peers if not math.isnan(p)]
        ratio = fa / min(peers) if peers and not math.isnan(fa) else math.nan
        npr = primal_time(w["systems"].get("numpy", {}))
        L.append(f"| {w['name']} | {w['kind']} | {fmt_t(npr)} | " + " | ".join(cells)
                 + f" | {fmt_r(ratio)} |")
    L.append("")
    L.append("† only the first call was run (it took longer than the cap); its time, which "
             "includes compilation, stands in for the warm time. FAILED: the gradient did not "
             "match finite differences or the call raised (reason under the workload).\n")
    return L


def render_targets(results) -> list[str]:
    L = ["## Issue 7 targets (same run, same machine)\n",
         "| workload | target | measured | met? |", "|---|---|---|---|"]
    for w in results:
        fa = _ok(w, "framead")
        if w["kind"] == "scalar":
            for peer in ("autograd", "torch"):
                p = _ok(w, peer)
                if fa and p:
                    x = fa["first_s"] / p["first_s"]
                    L.append(f"| {w['name']} | first-call gradient ≤ 1/3 of {LABEL[peer]}'s | "
                             f"{fmt_t(fa['first_s'])} vs {fmt_t(p['first_s'])} = {x:.3g}× | "
                             f"{'yes' if x <= 1 / 3 else 'no'} |")
                else:
                    L.append(f"| {w['name']} | first-call gradient ≤ 1/3 of {LABEL[peer]}'s | "
                             "not measurable (a system failed) | – |")
            L.append(f"| {w['name']} | cached gradient ≤ 1/10 of autograd's and PyTorch's | "
                     "framead has no trace cache yet (item 4) | no |")
        else:
            if fa:
                ratio = grad_time(fa) / primal_time(fa)
                L.append(f"| {w['name']} | gradient/primal ≤ 3 | {ratio:.3g} | "
                         f"{'yes' if ratio <= 3 else 'no'} |")
                peers = {s: grad_time(w["systems"][s]) for s in harness.EAGER_PEERS
                         if _ok(w, s)}
                if peers:
                    best = min(peers, key=peers.get)
                    x = grad_time(fa) / peers[best]
                    L.append(f"| {w['name']} | gradient ≤ 1.2× fastest eager peer | "
                             f"{x:.3g}× {LABEL[best]} | {'yes' if x <= 1.2 else 'no'} |")
            else:
                L.append(f"| {w['name']} | gradient/primal ≤ 3, ≤ 1.2× fastest eager peer | "
                         "framead FAILED | no |")
    L.append("")
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
        L.append(f"| {LABEL[s]} | ok | {fmt_g(r)} | {reps} | {fmt_t(p)} | {fmt_r(g / p)}{dag} | "
                 f"{fmt_r(g / np_t)}{dag} | {fmt_t(r['first_s'])} | "
                 f"{fmt_b(r.get('peak_rss'))}{dag} | "
                 f"{tm_s} | {r.get('agreement', math.nan):.1e} | "
                 f"{'–' if s == 'framead' else fmt_r(fa_t / g) + dag} | "
                 f"{'–' if s == 'framead' else fmt_r(fa_first / r['first_s'])} |")
        for note in r.get("notes", []):
            notes.append(f"- {LABEL[s]}: {note}")
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
