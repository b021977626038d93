"""Benchmark the ml stage: training time for the whole table at seed scale, and `serve` latency.

  .venv/bin/python scripts/bench_ml.py [--store DIR] [--patients 1300] [--repeats 2] [--requests 1000]
                                       [--write benchmarks/ml.md]

Without --store it publishes a synthetic features table (mmhealth.ml.synthetic, the mart's shape) of
--patients rows to a temporary local store; with --store it trains on the real published features.
`serve` runs as its own process (`mmhealth serve --port 0`); the load loop sends single-record POSTs one after
another over one keep-alive connection, after a warm-up, and reports p50/p99.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _train(store: Path, out: Path, repeats: int) -> dict:
    cmd = [sys.executable, "-m", "mmhealth.cli", "train", "--store", str(store), "--out", str(out),
           "--repeats", str(repeats), "--quiet"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"train failed:\n{proc.stderr}")
    results = json.loads((out / "results.json").read_text())
    cells = results["results"]
    return {
        "command": " ".join(["mmhealth", *cmd[3:]]),
        "wall_s": wall,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "cells": len(cells),
        "evaluated": sum(c["status"] == "ok" for c in cells),
        "models": len(json.loads((out / "manifest.json").read_text())["models"]),
        "rows": results["provenance"]["rows"],
        "evaluate_s": results["seconds"]["evaluate"],
    }


def _records(store: Path, n: int) -> list[dict]:
    sys.path.insert(0, str(REPO / "src"))
    from mmhealth.ml.dataset import load_local

    data = load_local(store)
    frame = data.frame.head(n)
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc): the server's own cost per request, which a busy
    shared machine does not inflate the way it inflates wall-clock latency."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _serve_latency(run: Path, records: list[dict], requests: int, modalities: str, warmup: int = 50) -> dict:
    proc = subprocess.Popen([sys.executable, "-m", "mmhealth.cli", "serve", "--model", str(run), "--port", "0",
                             "--modalities", modalities],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if not match:
            raise SystemExit(f"serve did not start: {line}{proc.stderr.read()}")
        conn = http.client.HTTPConnection("127.0.0.1", int(match.group(1)), timeout=30)
        cpu_start = None
        conn.request("GET", "/health")
        health = json.loads(conn.getresponse().read())
        bodies = [json.dumps(r).encode() for r in records]
        times = []
        for i in range(warmup + requests):
            body = bodies[i % len(bodies)]
            start = time.perf_counter()
            conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            payload = resp.read()
            elapsed = time.perf_counter() - start
            if resp.status != 200:
                raise SystemExit(f"serve answered {resp.status}: {payload[:300]!r}")
            if i == warmup - 1:
                cpu_start = _process_cpu(proc.pid)
            if i >= warmup:
                times.append(elapsed)
        cpu = _process_cpu(proc.pid) - cpu_start
        conn.close()
    finally:
        proc.terminate()
        proc.wait(10)
    ms = np.array(times) * 1000
    return {"requests": requests, "server_cpu_ms": cpu / requests * 1000, "outcomes": health["outcomes"],
            "modalities": "+".join(health["modalities"]),
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "mean_ms": float(ms.mean()), "max_ms": float(ms.max()), "per_s": float(requests / (ms.sum() / 1000))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", help="a published local offline store (default: synthetic, --patients rows)")
    ap.add_argument("--patients", type=int, default=1300)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--serve-modalities", default="all",
                    help="modality set whose models `serve` loads (default all; on data where few patients have "
                         "all three modalities, a pair gives models for more outcomes)")
    ap.add_argument("--write", help="write the results as Markdown to this file")
    ap.add_argument("--append", action="store_true", help="append this data set's section to --write")
    ap.add_argument("--describe", default="", help="how the --store data was made (goes into the report)")
    ap.add_argument("--keep", help="copy the training run folder here (results.md, plots, models)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-ml-") as tmp:
        tmp = Path(tmp)
        if args.store:
            store, source = Path(args.store), f"published store `{args.store}` {args.describe}".strip()
        else:
            sys.path.insert(0, str(REPO / "src"))
            from mmhealth.ml.synthetic import synthetic_features, write_local_store

            store = tmp / "store"
            write_local_store(synthetic_features(args.patients, seed=0), store)
            source = f"synthetic features table, {args.patients} patients (mmhealth.ml.synthetic)"
        train = _train(store, tmp / "run", args.repeats)
        print(f"train: {train['cells']} cells ({train['evaluated']} evaluated), {train['models']} models, "
              f"{train['rows']} rows: {train['wall_s']:.1f} s wall, {train['cpu_s']:.1f} s CPU", flush=True)
        serve = _serve_latency(tmp / "run", _records(store, 50), args.requests, args.serve_modalities)
        if args.keep:
            import shutil

            shutil.copytree(tmp / "run", args.keep, dirs_exist_ok=True)
        print(f"serve: {serve['requests']} single-record requests, p50 {serve['p50_ms']:.2f} ms, "
              f"p99 {serve['p99_ms']:.2f} ms, {serve['per_s']:.0f} req/s, server CPU "
              f"{serve['server_cpu_ms']:.1f} ms/request")

    if args.write:
        load = os.getloadavg()
        cmd = "python scripts/bench_ml.py " + shlex.join(sys.argv[1:])
        head = f"""# ml benchmarks

Machine: {platform.machine()}, {os.cpu_count()} CPUs shared with other work, so wall times are upper bounds;
CPU times are the steadier figures. Each section below is one run of the command it names.
"""
        text = f"""
## {source}

`{cmd.strip()}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} (load average at the end
{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}).

### Training the whole table (issue 9: "training time for the whole table at seed scale")

`{train['command']}`: every outcome x modality set x population cell - {train['cells']} cells
({train['evaluated']} evaluated; the others have fewer than 5 cases of the minority class and are reported as
not evaluated), each with logistic regression, LightGBM (100 trees, 1 thread) and their stack,
{args.repeats} x repeated stratified 5-fold CV grouped by patient, 1,000 bootstrap resamples per metric, then
{train['models']} final models refit, plots, importances.

| rows | cells | evaluated | wall time | CPU time (train process) | of which CV + bootstrap (wall) |
|---:|---:|---:|---:|---:|---:|
| {train['rows']} | {train['cells']} | {train['evaluated']} | {train['wall_s']:.1f} s | {train['cpu_s']:.1f} s | {train['evaluate_s']:.1f} s |

### `serve` latency (single records, loopback)

`mmhealth serve --model RUN --port 0 --modalities {serve['modalities']}` in its own process: stacked models for
{len(serve['outcomes'])} outcome(s) ({', '.join(serve['outcomes'])}), each request scoring all of them;
one client sends {serve['requests']} single-record `POST /predict` requests back to back over one keep-alive
connection (after 50 warm-up requests), so the figures are per-request service time without queueing.

| requests | p50 | p99 | mean | max | throughput | server CPU per request |
|---:|---:|---:|---:|---:|---:|---:|
| {serve['requests']} | {serve['p50_ms']:.2f} ms | {serve['p99_ms']:.2f} ms | {serve['mean_ms']:.2f} ms | {serve['max_ms']:.2f} ms | {serve['per_s']:.0f} req/s | {serve['server_cpu_ms']:.1f} ms |

Each outcome is a stack of two scikit-learn pipelines; the server's CPU per request is
mostly pandas overhead in the column transformers on one-row frames, so batches (many records per request, or
`mmhealth predict`) cost far less per record than single-record calls.
"""
        path = Path(args.write)
        if args.append and path.is_file():
            path.write_text(path.read_text() + text)
        else:
            path.write_text(head + text)
        print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
