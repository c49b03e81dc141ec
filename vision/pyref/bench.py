#!/usr/bin/python3
"""gatescan's batch inspect against the Python reference detector, in one run.

    /usr/bin/python3 vision/pyref/bench.py --gatescan bin/gatescan \
        --xraygen ../shared/bin/xraygen [--seed 11] [--rounds 3]

Generates an xraygen set (one case per scenario) in a temporary directory,
keeps its scans of one 40 ft container, and times them on one core
(taskset -c 0): `gatescan inspect` with all their sidecars in one process
(GOMAXPROCS=1), then detect.py over the same sidecars (OpenCV on one
thread), in turns, --rounds times. Prints for both the medians of the
scans' timings_ms (total: sidecar read to result, in process; decode; what
follows the decode), the least total, and the CPU time a scan in process
(a batch process's CPU time less a bare start's, over its scans: steadier
than wall time on a busy machine); then Python's figures over gatescan's.
Exits 1 when xraygen fails or either fails to inspect a scan.
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
    if not os.path.exists(os.path.join(out, "index.json")):
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


def run0(cmd, env):
    """Runs cmd on core 0; returns it finished and the CPU time it took."""
    c0 = cpu_s()
    p = subprocess.run(["taskset", "-c", "0"] + cmd, env=env, capture_output=True, text=True)
    return p, cpu_s() - c0


def totals(cmd, env, n):
    """Runs cmd on core 0; returns the timings_ms of its n results and the
    process's CPU time."""
    p, cpu = run0(cmd, env)
    res = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    bad = [r for r in res if "error" in r]
    if p.returncode != 0 or bad or len(res) != n:
        sys.exit(f"{cmd[0]}: exit {p.returncode}, {len(res)} results of {n}, errors {bad[:2]}\n{p.stderr[-2000:]}")
    return [r["timings_ms"] for r in res], cpu


class Tool:
    """One side of the comparison: its batch command, the command that
    only starts it (gatescan help; detect.py's imports and usage) and what
    was measured."""

    def __init__(self, name, batch, start, env):
        self.name, self.batch, self.start, self.env = name, batch, start, env
        self.timings, self.cpu, self.start_cpu = [], [], []

    def round(self, sidecars):
        t, cpu = totals(self.batch + sidecars, self.env, len(sidecars))
        self.timings += t
        self.cpu.append(cpu)
        self.start_cpu.append(run0(self.start, self.env)[1])

    def figures(self, n):
        """Medians of total, decode, after the decode; the least total;
        CPU a scan in process (the process's CPU less its start's, over its
        scans) and the start's CPU, in ms."""
        med = lambda f: statistics.median(f(t) for t in self.timings)
        start = statistics.median(self.start_cpu)
        return (med(lambda t: t["total"]), med(lambda t: t["decode"]), med(lambda t: t["total"] - t["decode"]),
                min(t["total"] for t in self.timings), 1000 * (statistics.median(self.cpu) - start) / n, 1000 * start)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gatescan", required=True)
    ap.add_argument("--xraygen", required=True)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", help="generate into this directory and keep it; a set already there is used as it is")
    a = ap.parse_args()
    if not os.access(a.xraygen, os.X_OK):
        print(f"pyref bench skipped: no xraygen at {a.xraygen} (set XRAYGEN=)")
        return 0
    gatescan, detect = os.path.abspath(a.gatescan), os.path.join(HERE, "detect.py")
    tools = [Tool("gatescan inspect (batch)", [gatescan, "inspect"], [gatescan, "help"], dict(os.environ, GOMAXPROCS="1")),
             Tool("Python + OpenCV (vision/pyref)", ["/usr/bin/python3", detect], ["/usr/bin/python3", detect],
                  dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1"))]
    out = a.keep or tempfile.mkdtemp(prefix="gatescan-pyref-")
    try:
        t = time.monotonic()
        reused = os.path.exists(os.path.join(out, "index.json"))
        sidecars, dual = scans40ft(a.xraygen, a.seed, out)
        made = f"reused from {out}" if reused else f"generated in {time.monotonic() - t:.0f} s"
        for _ in range(a.rounds):
            for tool in tools:
                tool.round(sidecars)
    finally:
        if not a.keep:
            shutil.rmtree(out, ignore_errors=True)
    n = len(sidecars)
    g, p = (tool.figures(n) for tool in tools)
    print(f"xraygen seed {a.seed}: {n} scans of one 40 ft container ({dual} dual energy), "
          f"{made}; {a.rounds} round{'s' * (a.rounds != 1)} on one core (taskset -c 0)")
    row = "{:<32}" + " {:>8}" * 6
    print(row.format("ms a scan", "total", "decode", "after", "least", "CPU/scan", "start"))
    for tool, f in zip(tools, (g, p)):
        print(row.format(tool.name, *(f"{v:.1f}" for v in f)))
    print(row.format("Python / gatescan", *(f"{y / x:.2f}" for x, y in zip(g, p))))
    print("total, decode, after (the decode), least: timings_ms a scan, sidecar read to result in process\n"
          "(medians, and the least total); CPU/scan: user+system time of a batch process less that of a start\n"
          "(start: gatescan help; detect.py's imports), over its scans: the steadier figure on a busy machine.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
