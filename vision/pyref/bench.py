#!/usr/bin/python3
"""gatescan's batch inspect against the Python reference detector, in one run.

    /usr/bin/python3 vision/pyref/bench.py --gatescan bin/gatescan \
        --xraygen ../shared/bin/xraygen [--seed 11] [--rounds 3]

Generates an xraygen set (one case per scenario) in a temporary directory,
keeps its scans of one 40 ft container, and times them on one core
(taskset -c 0): `gatescan inspect` with all their sidecars in one process
(GOMAXPROCS=1), then detect.py over the same sidecars (OpenCV on one
thread), in turns, --rounds times. Prints the median of each scan's
timings_ms.total (sidecar read to result, in process) for both and their
ratio. Exits 1 when either fails to inspect a scan.
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def scans40ft(gen, seed, out):
    """Generates the set and lists the sidecars of one 40 ft container,
    with each case's gross in weighbridge.json beside them, as gatescan's
    own benchmark set has."""
    cmd = [gen, "-out", out, "-seed", str(seed), "-per-scenario", "1", "-previews", "none"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {p.returncode}\n{p.stderr[-2000:]}")
    with open(os.path.join(out, "index.json")) as f:
        cases = json.load(f)["cases"]
    sidecars, dual = [], 0
    for c in cases:
        types = c.get("container_types") or []
        if len(types) != 1 or not types[0].startswith("4"):
            continue
        d = os.path.join(out, c["case_id"])
        with open(os.path.join(d, "weighbridge.json"), "w") as f:
            json.dump({"gross_kg": c["gross_kg"]}, f)
        sidecars.append(os.path.join(d, "scan.json"))
        dual += bool(c.get("dual_energy"))
    return sidecars, dual


def cpu_s():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def totals(cmd, env, n, cpu):
    """Runs cmd on core 0 and returns the timings_ms of its n results;
    appends the process's CPU time to cpu."""
    c0 = cpu_s()
    p = subprocess.run(["taskset", "-c", "0"] + cmd, env=env, capture_output=True, text=True)
    cpu.append(cpu_s() - c0)
    res = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    bad = [r for r in res if "error" in r]
    if p.returncode != 0 or bad or len(res) != n:
        sys.exit(f"{cmd[0]}: exit {p.returncode}, {len(res)} results of {n}, errors {bad[:2]}\n{p.stderr[-2000:]}")
    return [r["timings_ms"] for r in res]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gatescan", required=True)
    ap.add_argument("--xraygen", required=True)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", help="generate into this directory and keep it")
    a = ap.parse_args()
    if not os.access(a.xraygen, os.X_OK):
        print(f"pyref bench skipped: no xraygen at {a.xraygen} (set XRAYGEN=)")
        return 0
    out = a.keep or tempfile.mkdtemp(prefix="gatescan-pyref-")
    try:
        t = time.monotonic()
        sidecars, dual = scans40ft(a.xraygen, a.seed, out)
        gen_s = time.monotonic() - t
        go_env = dict(os.environ, GOMAXPROCS="1")
        py_env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        gs, py, gcpu, pcpu = [], [], [], []
        for _ in range(a.rounds):
            gs += totals([os.path.abspath(a.gatescan), "inspect"] + sidecars, go_env, len(sidecars), gcpu)
            py += totals(["/usr/bin/python3", os.path.join(HERE, "detect.py")] + sidecars, py_env, len(sidecars), pcpu)
    finally:
        if not a.keep:
            shutil.rmtree(out, ignore_errors=True)
    med = lambda ts, f: statistics.median(f(t) for t in ts)
    g, p = med(gs, lambda t: t["total"]), med(py, lambda t: t["total"])
    gd, pd = med(gs, lambda t: t["decode"]), med(py, lambda t: t["decode"])
    ga, pa = med(gs, lambda t: t["total"] - t["decode"]), med(py, lambda t: t["total"] - t["decode"])
    gs, py = [t["total"] for t in gs], [t["total"] for t in py]
    # CPU time of a whole process over its scans: the steadier figure on a
    # busy machine, with the process's start and imports spread over them.
    gc, pc = (1000 * statistics.median(c) / len(sidecars) for c in (gcpu, pcpu))
    print(f"xraygen seed {a.seed}: {len(sidecars)} scans of one 40 ft container ({dual} dual energy), "
          f"generated in {gen_s:.0f} s; {a.rounds} round{'s' * (a.rounds != 1)} on one core (taskset -c 0)")
    row = "{:<32} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9}"
    print(row.format("ms a scan", "total", "decode", "after", "min", "max", "proc CPU"))
    print(row.format("gatescan inspect (batch)", *(f"{v:.1f}" for v in (g, gd, ga, min(gs), max(gs), gc))))
    print(row.format("Python + OpenCV (vision/pyref)", *(f"{v:.1f}" for v in (p, pd, pa, min(py), max(py), pc))))
    print(row.format("Python / gatescan", f"{p / g:.2f}", f"{pd / gd:.2f}", f"{pa / ga:.2f}", "", "", f"{pc / gc:.2f}"))
    print("total, decode, after (the decode), min, max: timings_ms per scan, sidecar read to result in process;\n"
          "medians but min and max. proc CPU: the whole process's user+system time over its scans, start included.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
