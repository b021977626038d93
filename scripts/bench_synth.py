"""Benchmark `mmhealth generate` at seed scale (1,300 patients) and at 10,000 patients (default ratios:
800/1,300 genomes, 300/1,300 imaging). Measures wall time, CPU time and the peak resident memory of the
largest process (the parent or one worker), and writes benchmarks/synth.md.

    .venv/bin/python scripts/bench_synth.py [--sizes 1300,10000] [--jobs 2] [--scratch bench-scratch/synth]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_once(patients: int, jobs: int, scratch: Path) -> dict:
    genomes, imaging = round(patients * 800 / 1300), round(patients * 300 / 1300)
    out = scratch / f"p{patients}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [str(REPO / ".venv" / "bin" / "mmhealth"), "generate", "--out", str(out), "--patients", str(patients),
           "--genomes", str(genomes), "--imaging", str(imaging), "--seed", "7", "--jobs", str(jobs), "--quiet"]
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    summary = proc.stdout.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"generation failed: {' '.join(cmd)}")
    files = [p for p in out.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    shutil.rmtree(out, ignore_errors=True)
    return {"patients": patients, "genomes": genomes, "imaging": imaging, "wall_s": wall,
            "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024, "files": len(files),
            "bytes": size, "load": load, "command": " ".join(["mmhealth", *cmd[1:]]).replace(str(scratch), "SCRATCH"),
            "headline": summary.splitlines()[1].strip() if summary else ""}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1300,10000")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--scratch", type=Path, default=REPO / "bench-scratch" / "synth")
    ap.add_argument("--report", type=Path, default=REPO / "benchmarks" / "synth.md")
    args = ap.parse_args()
    args.scratch.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        r = run_once(n, args.jobs, args.scratch)
        print(f"{r['headline']}: {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU, {r['peak_rss_mb']:.0f} MB peak",
              flush=True)
        rows.append(r)
    lines = [
        "# Benchmark: synthetic data generation (`mmhealth generate`)",
        "",
        f"Produced by `.venv/bin/python scripts/bench_synth.py --sizes {args.sizes} --jobs {args.jobs}` on "
        f"{dt.date.today().isoformat()}: {os.cpu_count()} CPUs, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()}. The machine is shared with other jobs: the 1-minute "
        "load average at the start of each run is given, and wall time suffers when it is above the CPU count.",
        "Peak memory is the largest resident set of any single process (parent or worker), from `wait4`.",
        "Target: 10,000 patients in under 2 minutes on 2 cores.",
        "",
        "| patients / genomes / imaging | wall (s) | CPU (s) | CPU / jobs (s) | peak RSS (MB) | files | output (MB) "
        "| load at start | command |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['patients']:,} / {r['genomes']:,} / {r['imaging']:,} | {r['wall_s']:.1f} | "
                     f"{r['cpu_s']:.1f} | {r['cpu_s'] / args.jobs:.1f} | {r['peak_rss_mb']:.0f} | {r['files']:,} | "
                     f"{r['bytes'] / 1e6:,.0f} | {r['load']:.1f} | `{r['command']}` |")
    lines += [
        "",
        "Reading the numbers: CPU is user + system time of the command and all its workers. The work is split",
        "evenly across the worker processes, so on `jobs` otherwise idle cores the wall time would be close to",
        "CPU / jobs plus a few seconds of serial work (sampling profiles, appending NDJSON) - an estimate, not a",
        "measurement. When the load average is far above the CPU count the wall time mostly measures the other",
        "jobs on the machine.",
        "",
    ]
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text("\n".join(lines))
    print(f"wrote {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
