"""Benchmark the dashboards stage on a built lake.

    .venv/bin/python scripts/bench_dashboards.py --lake demo-lake --manifest target/manifest.json \
        [--repeat 3] [--max-patients 500] [--mf] [--out benchmarks/dashboards.md]

Measures, each the median of --repeat runs (wall and CPU seconds): `mmhealth dashboards build` (all pages,
plotly.js inlined), the QuickSight plan (every request body built and validated against botocore's model, no
AWS call), and with --mf one `mf query --metrics patient_count --group-by patient__sex` (a fresh process: what
a user waits for). Writes a Markdown table with the exact command to --out.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(func, repeat: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        c0, t0 = _cpu(), time.perf_counter()
        func()
        walls.append(time.perf_counter() - t0)
        cpus.append(_cpu() - c0)
    return statistics.median(walls), statistics.median(cpus)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lake", default=os.environ.get("MMHEALTH_LAKE", "demo-lake"))
    ap.add_argument("--manifest", default="target/manifest.json")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--max-patients", type=int, default=500)
    ap.add_argument("--mf", action="store_true", help="also time one mf query (needs target/semantic_manifest.json)")
    ap.add_argument("--out", default="benchmarks/dashboards.md")
    args = ap.parse_args()

    from mmhealth.dashboards import deploy, quicksight
    from mmhealth.dashboards.layout import DASHBOARDS
    from mmhealth.manifest import load_manifest
    from mmhealth.cli import main as cli

    lake = Path(args.lake)
    import duckdb

    con = duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True)
    manifest = load_manifest(args.manifest)
    patients = con.execute(f"select count(*) from {manifest.model('patient_360').relation_name}").fetchone()[0]
    timeline = con.execute(f"select count(*) from {manifest.model('patient_timeline').relation_name}").fetchone()[0]
    con.close()

    rows = []
    scratch = Path(tempfile.mkdtemp(prefix="bench-dash-"))
    try:
        site = scratch / "site"
        build_argv = ["dashboards", "build", "--out", str(site), "--lake", str(lake), "--manifest", args.manifest,
                      "--max-patients", str(args.max_patients)]
        devnull = open(os.devnull, "w")
        stdout = sys.stdout
        sys.stdout = devnull
        try:
            wall, cpu = timed(lambda: cli(build_argv), args.repeat)
        finally:
            sys.stdout = stdout
        size = sum(p.stat().st_size for p in site.glob("*.html"))
        patient_page = (site / "patient.html").stat().st_size
        rows.append(("local build (5 pages)", wall, cpu,
                     f"{size / 1e6:.1f} MB in all, patient page {patient_page / 1e6:.1f} MB "
                     f"({min(patients, args.max_patients)} patients embedded)"))

        target = quicksight.Target("123456789012", "us-east-1",
                                   "arn:aws:quicksight:us-east-1:123456789012:datasource/mmhealth-athena",
                                   "arn:aws:quicksight:us-east-1:123456789012:group/default/clinicians", "phi")

        def plan():
            p = quicksight.build_plan(DASHBOARDS, manifest, target)
            quicksight.validate_plan(p)
            deploy.write_plan(p, scratch / "qs")

        quicksight._service_model()  # loaded once per process; not part of what is timed
        wall, cpu = timed(plan, args.repeat)
        rows.append(("QuickSight plan + validation + JSON", wall, cpu, "no AWS call"))

        if args.mf:
            project = scratch / "mf"
            (project / "target").mkdir(parents=True)
            (project / "dbt_project.yml").symlink_to(REPO / "dbt_project.yml")
            shutil.copy(Path(args.manifest).with_name("semantic_manifest.json"), project / "target")
            env = {**os.environ, "DBT_PROFILES_DIR": str(REPO), "MMHEALTH_LAKE": str(lake.resolve()),
                   "DBT_PROJECT_DIR": str(project)}
            mf = [str(REPO / ".venv" / "bin" / "mf"), "query", "--metrics", "patient_count", "--group-by",
                  "patient__sex", "--quiet"]
            wall, cpu = timed(lambda: subprocess.run(mf, cwd=project, env=env, check=True, capture_output=True),
                              args.repeat)
            rows.append(("mf query patient_count by sex (CLI process)", wall, cpu, "includes mf's dbt set-up"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    command = "    .venv/bin/python scripts/bench_dashboards.py " + " ".join(sys.argv[1:])
    lines = [
        "# Dashboards benchmark",
        "",
        "Produced by:",
        "",
        command,
        "",
        f"Lake: {patients:,} patients, {timeline:,} timeline events. Machine: {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; median of {args.repeat} runs. Wall time "
        "depends on what else runs on the machine; CPU seconds less so.",
        "",
        "| work | wall s | CPU s | notes |",
        "|---|---:|---:|---|",
        *[f"| {name} | {wall:.2f} | {cpu:.2f} | {note} |" for name, wall, cpu, note in rows],
        "",
    ]
    out = REPO / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
