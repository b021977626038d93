"""Scale benchmark: the whole pipeline, end to end, at several patient counts - wall time, CPU time and peak
resident memory of every stage, so what does not scale shows by stage.

    .venv/bin/python scripts/bench_scale.py                                  # 10,000 / 30,000 / 100,000 patients
    .venv/bin/python scripts/bench_scale.py --sizes 10000 --drop-scratch     # one size, then delete its data
    .venv/bin/python scripts/bench_scale.py --sizes 100000 --add --drop-scratch   # another size, same report
    .venv/bin/python scripts/bench_scale.py --sizes 100000 --add --stages ingest  # one stage again, on the data an
                                                                   # earlier run left in --out (without --drop-scratch)

Stages, each one command in its own process (genomes and imaging studies in the demo set's proportions, 800 and
300 of 1,300; seed 7):
1. generate  `mmhealth generate`
2. ingest    `mmhealth ingest` (with the generated reference panel)
3. dbt       `dbt build --full-refresh --selector deploy --vars '{data_tests_scope: new_rows}'`
4. baseline  `mmhealth quality baseline` into a copy of expectations/ (the gate's bands are the demo's; a
             deployment of another size accepts its own first build)
5. gate      `mmhealth quality check --checkpoint pre_feature_store`
6. publish   `mmhealth features publish --to local`
7. train     `mmhealth train --repeats 1 --quiet`

Wall time is the stage's elapsed time; CPU time (user + system) and peak RSS come from the kernel's accounting of
the stage's process as it ends (os.wait4): CPU time includes every child process the stage waited for, peak RSS is
the largest single process of the stage (a stage's workers each count on their own, not summed). Results go to
benchmarks/scale.md with the exact command and the load average while each stage ran (the machine is shared).
Acceptance (issue 19): every stage within 24 GB, and time(100,000) / time(10,000) <= 12 per stage."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench_dbt import code_commit, earlier_results  # the same report conventions (scripts/ is on sys.path)

from mmhealth.pseudonym import KEY_FILE_ENV, create_key

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STAGES = ["generate", "ingest", "dbt", "baseline", "gate", "publish", "train"]
MEMORY_LIMIT_GB = 24
RATIO_LIMIT = 12
# Everything below this line in the report is written by hand and kept when the benchmark is run again.
NOTES_MARKER = "<!-- notes below this line are kept when scripts/bench_scale.py rewrites the report -->"


def measured(argv: list[str], env: dict[str, str], log: Path) -> dict:
    """Run one stage; its wall time, CPU time and peak RSS (os.wait4), and the 1-minute load average at its end."""
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}); its output is in {log}")
    # ru_maxrss is in KiB on Linux
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024,
            "load_1m": os.getloadavg()[0]}


def bench(size: int, out: Path, seed: int, drop_scratch: bool, only: list[str] | None = None) -> dict:
    """Every stage from scratch, or (`only`) the named stages on what an earlier run left in `out`: the stage
    before the first named one must have run there (the data for ingest, the lake for dbt, ...)."""
    root = out / f"patients-{size}"
    data, lake, target, log = root / "data", root / "lake", root / "target", root / "stages.log"
    key_file = root / "pseudonym.key"
    if only:
        if "generate" not in only and not data.is_dir():
            sys.exit(f"{data} is missing: --stages {' '.join(only)} runs on the data of an earlier run of this size "
                     f"(run it with generate first, without --drop-scratch)")
        if "ingest" in only:  # an ingest is measured into an empty lake, as in a whole run
            shutil.rmtree(lake, ignore_errors=True)
        if "generate" in only:
            shutil.rmtree(data, ignore_errors=True)
    else:
        shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    if not key_file.exists():
        create_key(key_file, lake)
    project = root / "expectations"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(REPO / "expectations", project, ignore=shutil.ignore_patterns("uncommitted", "__pycache__"))
    env = {**os.environ, "DBT_PROFILES_DIR": str(REPO), "MMHEALTH_LAKE": str(lake), "TQDM_DISABLE": "1",
           KEY_FILE_ENV: str(key_file), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    mm = str(BIN / "mmhealth")
    manifest = str(target / "manifest.json")
    genomes, imaging = round(size * 800 / 1300), round(size * 300 / 1300)
    commands = {
        "generate": [mm, "generate", "--out", str(data), "--patients", str(size), "--genomes", str(genomes),
                     "--imaging", str(imaging), "--seed", str(seed), "--quiet"],
        "ingest": [mm, "ingest", str(data), "--lake", str(lake), "--quiet",
                   "--reference", str(data / "reference" / "panel.fa")],
        "dbt": [str(BIN / "dbt"), "build", "--full-refresh", "--selector", "deploy", "--quiet", "--target-path",
                str(target), "--log-path", str(root / "logs"), "--vars", "{data_tests_scope: new_rows}"],
        "baseline": [mm, "quality", "baseline", "--lake", str(lake), "--project", str(project),
                     "--manifest", manifest],
        "gate": [mm, "quality", "check", "--checkpoint", "pre_feature_store", "--lake", str(lake),
                 "--project", str(project), "--manifest", manifest],
        "publish": [mm, "features", "publish", "--to", "local", "--lake", str(lake), "--manifest", manifest],
        "train": [mm, "train", "--store", str(lake / "feature_store"), "--manifest", manifest,
                  "--out", str(root / "runs"), "--repeats", "1", "--quiet"],
    }
    stages = {}
    for stage in [s for s in STAGES if not only or s in only]:
        stages[stage] = measured(commands[stage], env, log)
        s = stages[stage]
        print(f"  {size:,} {stage}: {s['wall_s']:.1f} s wall, {s['cpu_s']:.1f} s CPU, {s['peak_rss_mb']:,.0f} MB "
              f"peak RSS (load {s['load_1m']:.1f})", flush=True)
    disk = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    if drop_scratch:
        shutil.rmtree(root)
    return {"patients": size, "genomes": genomes, "imaging": imaging, "stages": stages, "scratch_gb": disk / 1e9}


def write_report(results: list[dict], path: Path) -> None:
    lines = ["# Scale: the pipeline end to end (generate, ingest, dbt build, gate, publish, train)", ""]
    for command in dict.fromkeys(r["command"] for r in results):
        rows = [r for r in results if r["command"] == command]
        sizes = ", ".join(f"{r['patients']:,}" for r in rows)
        commits = ", ".join(sorted({r["commit"] for r in rows}))
        lines.append(f"Command: `{command}` (rows {sizes}; run {rows[0]['run_at']} UTC at commit {commits})  ")
    # stages measured again on their own (--stages): their rows name the command that measured them
    again = [(r, stage, s) for r in results for stage, s in r["stages"].items() if "command" in s]
    for command in dict.fromkeys(s["command"] for _, _, s in again):
        rows = [(r, stage, s) for r, stage, s in again if s["command"] == command]
        what = ", ".join(f"{stage} at {r['patients']:,}" for r, stage, _ in rows)
        commits = ", ".join(sorted({s["commit"] for _, _, s in rows}))
        lines.append(f"Command: `{command}` ({what}; run {rows[0][2]['run_at']} UTC at commit {commits})  ")
    lines += [f"On {platform.machine()}, {os.cpu_count()} cores, shared with other work while it ran (the load "
              f"column is the 1-minute load average as the stage ended), Python {platform.python_version()}.", "",
              "Each stage is one process: wall time; CPU time (user + system, with the children it waited for); peak "
              "RSS of its largest single process (os.wait4).", "",
              "| patients | stage | wall (s) | CPU (s) | peak RSS (MB) | load |", "|---:|---|---:|---:|---:|---:|"]
    for r in results:
        for stage in [s for s in STAGES if s in r["stages"]]:
            s = r["stages"][stage]
            lines.append(f"| {r['patients']:,} | {stage}{' *' if 'command' in s else ''} | {s['wall_s']:.1f} | "
                         f"{s['cpu_s']:.1f} | {s['peak_rss_mb']:,.0f} | {s['load_1m']:.1f} |")
    if again:
        lines += ["", "\\* measured again on its own (the stage's command line above)."]
    by_size = {r["patients"]: r for r in results}
    lines += ["", f"Acceptance: every stage within {MEMORY_LIMIT_GB} GB; time(100,000) / time(10,000) <= "
                  f"{RATIO_LIMIT} per stage.", ""]
    worst = max((s["peak_rss_mb"] for r in results for s in r["stages"].values()), default=0)
    lines.append(f"- Peak RSS of any stage at any size: {worst:,.0f} MB "
                 f"({'within' if worst < MEMORY_LIMIT_GB * 1024 else 'over'} {MEMORY_LIMIT_GB} GB).")
    if 10000 in by_size and 100000 in by_size:
        for stage in [s for s in STAGES if s in by_size[10000]["stages"] and s in by_size[100000]["stages"]]:
            small, big = by_size[10000]["stages"][stage], by_size[100000]["stages"][stage]
            ratio = big["wall_s"] / small["wall_s"]
            lines.append(f"- {stage}: wall 100,000 / 10,000 = {ratio:.1f} (CPU {big['cpu_s'] / small['cpu_s']:.1f})"
                         f"{'' if ratio <= RATIO_LIMIT else ' - over the limit'}")
    else:
        lines.append("- time(100,000) / time(10,000): not measured yet (both sizes are needed).")
    lines += ["", "Raw results:", "", "```json", json.dumps(results, indent=1), "```", ""]
    notes = path.read_text().split(NOTES_MARKER, 1)[1].strip() if path.exists() and NOTES_MARKER in path.read_text() else ""
    lines += [NOTES_MARKER, "", notes, ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10000, 30000, 100000])
    ap.add_argument("--out", type=Path, default=REPO / "bench-scratch" / "scale", help="scratch folder")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--report", type=Path, default=REPO / "benchmarks" / "scale.md")
    ap.add_argument("--add", action="store_true", help="keep the report's earlier results for the other sizes")
    ap.add_argument("--drop-scratch", action="store_true",
                    help="delete each size's data and lake once it is measured (100,000 patients take tens of GB)")
    ap.add_argument("--stages", nargs="+", choices=STAGES,
                    help="measure only these stages again, on the data and lake an earlier run of the size left in "
                         "--out; with --add the report keeps that size's other stages")
    args = ap.parse_args()
    command = ("python scripts/bench_scale.py " + " ".join(sys.argv[1:])).strip()
    earlier = earlier_results(args.report) if args.add else []
    results = [r for r in earlier if r["patients"] not in args.sizes]
    commit = code_commit()
    for size in args.sizes:
        r = bench(size, args.out, args.seed, args.drop_scratch, args.stages)
        stamp = {"command": command, "run_at": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M}", "commit": commit}
        held = next((e for e in earlier if e["patients"] == size), None)
        if args.stages and held:  # the size's other stages stay as measured; the new ones say when and how
            r = {**held, "stages": {**held["stages"], **{st: {**m, **stamp} for st, m in r["stages"].items()}}}
        else:
            r.update(stamp)
        results.append(r)
        # written after every size: a large size may be stopped, the smaller ones stay reported
        write_report(sorted(results, key=lambda x: x["patients"]), args.report)
    print(f"wrote {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
