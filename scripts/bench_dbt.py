"""Benchmark of the dbt project on the local target: full `dbt build` wall time at several scales, and an
incremental `dbt build` after adding 1% new patients, as a share of the full build.

    .venv/bin/python scripts/bench_dbt.py                       # 1,300 and 10,000 patients
    .venv/bin/python scripts/bench_dbt.py --sizes 1300 --out bench-scratch/dbt
    .venv/bin/python scripts/bench_dbt.py --sizes 100000 --add --drop-scratch   # one more size, same report
    .venv/bin/python scripts/bench_dbt.py --sizes 100000 --prepare-only          # generate + ingest now,
    .venv/bin/python scripts/bench_dbt.py --sizes 100000 --add --reuse --drop-scratch   # measure dbt later

For each size: `mmhealth generate` (default genome / imaging ratios of the 1,300 / 800 / 300 demo set) and
`mmhealth ingest` into a fresh lake (not timed here: their own benchmarks cover them), then
1. `dbt build --full-refresh --selector deploy --vars '{data_tests_scope: new_rows}'` (seeds, every model, unit and
   data tests), twice - the full build;
2. `dbt build --select tag:no-such-tag` - dbt's floor: start-up, loading the parsed project, writing artifacts;
3. `--increments` times: 1% more patients generated with another seed into a sub-folder of the source, the source
   ingested again into the same lake (the ingest only reads the new files), then
   `dbt build --selector scheduled --vars '{data_tests_scope: new_rows}'` - the scheduled job of a deployment
   (selectors.yml, docs/dbt.md): incremental models MERGE only the new rows or the patients that have them, their
   data tests read only the new rows (macros/tests/where_subquery.sql), the other tables rebuild; views, seeds and
   unit tests, which new data cannot change, are left to the deploy job.
Results go to benchmarks/dbt.md with the exact command. With --add, the report keeps the earlier results of the
other sizes (a large size takes an hour on its own) and names the command behind each row."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from mmhealth.pseudonym import KEY_FILE_ENV, create_key

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Production / CI mode of incremental runs (docs/dbt.md): data tests of incremental facts read only the newest lake
# run unless the run is a --full-refresh (macros/tests/where_subquery.sql).
VARS = ("--vars", "{data_tests_scope: new_rows}")


def run(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed


def scaled(patients: int) -> tuple[int, int]:
    """Genomes and imaging studies in the demo set's proportions (800 and 300 of 1,300)."""
    return round(patients * 800 / 1300), round(patients * 300 / 1300)


def dbt(env: dict[str, str], target: Path, *args: str) -> float:
    # Every command gets the same vars: a change of vars makes dbt re-parse the whole project.
    return run([str(BIN / "dbt"), *args, "--target-path", str(target), "--log-path", str(target / "logs"), *VARS],
               env)


def row_counts(lake: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True)
    try:
        names = [t for (t,) in con.execute("select table_name from information_schema.tables "
                                           "where table_schema = 'mmhealth_marts' order by 1").fetchall()]
        return {t: con.execute(f"select count(*) from mmhealth_marts.{t}").fetchone()[0] for t in names}
    finally:
        con.close()


def run_breakdown(target: Path) -> dict:
    """Where a dbt run's time went, from its run_results.json: the graph's own elapsed time (the rest of the wall
    time is dbt starting and writing artifacts), and per resource type the node count and summed node time."""
    results = json.loads((target / "run_results.json").read_text())
    by_type: dict[str, dict] = {}
    for node in results["results"]:
        kind = node["unique_id"].split(".")[0]
        entry = by_type.setdefault(kind, {"nodes": 0, "node_s": 0.0})
        entry["nodes"] += 1
        entry["node_s"] += node["execution_time"]
    # The slowest nodes say where the data work is (the scratch folder, and with it this file, may be deleted).
    slowest = sorted(results["results"], key=lambda n: -n["execution_time"])[:12]
    return {"graph_s": results["elapsed_time"], "by_type": by_type,
            "slowest": {n["unique_id"].split(".")[-1]: round(n["execution_time"], 2) for n in slowest}}


def generate(out: Path, patients: int, seed: int, env: dict[str, str]) -> float:
    genomes, imaging = scaled(patients)
    return run([str(BIN / "mmhealth"), "generate", "--out", str(out), "--patients", str(patients),
                "--genomes", str(genomes), "--imaging", str(imaging), "--seed", str(seed), "--quiet"], env)


def bench(size: int, out: Path, seed: int, increments: int, drop_scratch: bool, prepare_only: bool = False,
          reuse: bool = False) -> dict | None:
    root = out / f"patients-{size}"
    lake, target, data = root / "lake", root / "target", root / "data"
    # A key of its own beside the lake (never the user's ~/.config key): patient keys are bench data too.
    key_file = root / "pseudonym.key"
    env = {**os.environ, "DBT_PROFILES_DIR": str(REPO), "MMHEALTH_LAKE": str(lake), "TQDM_DISABLE": "1",
           KEY_FILE_ENV: str(key_file), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    ingest = [str(BIN / "mmhealth"), "ingest", str(data), "--lake", str(lake), "--quiet"]
    # A lake left by --prepare-only (generate + ingest of a large size take most of an hour, and do not depend on
    # the dbt code being measured). It is used once: the increments below change it, so the marker goes first.
    prepared = root / "prepared.json"
    if reuse and prepared.exists():
        t_gen, t_ingest = (json.loads(prepared.read_text())[k] for k in ("generate_s", "ingest_s"))
        prepared.unlink()
        shutil.rmtree(target, ignore_errors=True)
    else:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        create_key(key_file, lake)
        t_gen = generate(data, size, seed, env)
        t_ingest = run(ingest, env)
        if prepare_only:
            prepared.write_text(json.dumps({"generate_s": t_gen, "ingest_s": t_ingest, "seed": seed}))
            return None
    # A parse first, so every timed command pays the same (partial) parse cost.
    dbt(env, target, "parse")
    # Two full builds: single runs on a shared machine vary, and the share below divides by this figure.
    full = [dbt(env, target, "build", "--full-refresh", "--selector", "deploy") for _ in range(2)]
    counts = row_counts(lake)
    # dbt's floor: start, load the parsed project, select nothing, write the artifacts.
    floor = dbt(env, target, "build", "--select", "tag:no-such-tag")

    extra = max(1, size // 100)
    incremental, breakdown = [], {}
    for i in range(1, increments + 1):
        # The ingest keys files by their path inside SOURCE (a file at the same path replaces its rows), so new
        # data goes into a sub-folder of the first one and the same folder is ingested again: only the new files
        # are read. The increments share the panel's ClinVar and reference files, which are already in the lake.
        increment = data / f"increment-{i}"
        generate(increment, extra, seed + 1000 * i, env)
        for shared in ("annotation", "reference"):
            shutil.rmtree(increment / shared, ignore_errors=True)
        run(ingest, env)
        # the scheduled job (docs/dbt.md): data tests on incremental models read the newest lake run only
        incremental.append(dbt(env, target, "build", "--selector", "scheduled"))
        breakdown = run_breakdown(target)
    counts_after = row_counts(lake)
    if drop_scratch:
        shutil.rmtree(root)
    t_full, t_incr = statistics.mean(full), statistics.median(incremental)
    genomes, imaging = scaled(size)
    return {"patients": size, "genomes": genomes, "imaging": imaging, "generate_s": t_gen,
            "ingest_s": t_ingest, "full_build_runs_s": full, "full_build_s": t_full, "dbt_floor_s": floor,
            "new_patients_per_increment": extra, "incremental_runs_s": incremental, "incremental_build_s": t_incr,
            "incremental_share": t_incr / t_full, "last_incremental_breakdown": breakdown,
            "patient_360_rows": counts.get("patient_360"), "patient_360_rows_after": counts_after.get("patient_360"),
            "mart_rows": counts}


TARGET_SHARE = 0.10

# Everything below this line in the report is written by hand and kept when the benchmark is run again.
NOTES_MARKER = "<!-- notes below this line are kept when scripts/bench_dbt.py rewrites the report -->"


def earlier_results(path: Path) -> list[dict]:
    """The raw results of an earlier report, each with the command, time and commit that measured it."""
    text = path.read_text() if path.exists() else ""
    return json.loads(text.split("```json", 1)[1].split("```", 1)[0]) if "```json" in text else []


def code_commit() -> str:
    """The commit the dbt code is at; "-dirty" when files other than the reports differ from it."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                          text=True).stdout.strip() or "unknown"
    changed = subprocess.run(["git", "status", "--porcelain", "--", ".", ":!benchmarks", ":!BENCHMARKS.md"],
                             cwd=REPO, capture_output=True, text=True).stdout.strip()
    return head + ("-dirty" if changed else "")


def write_report(results: list[dict], path: Path) -> None:
    commands: dict[str, list[dict]] = {}
    for r in results:
        commands.setdefault(r["command"], []).append(r)
    lines = ["# dbt build benchmark (local target, DuckDB)", ""]
    for command, rows in commands.items():
        sizes = ", ".join(f"{r['patients']:,}" for r in rows)
        commits = ", ".join(sorted({r.get("commit") or "not recorded" for r in rows}))
        lines.append(f"Command: `{command}` (rows {sizes}; run {rows[0]['run_at']} UTC at commit {commits})  ")
    lines += [
        f"On {platform.machine()}, {os.cpu_count()} cores (shared with other work while it ran), Python "
        f"{platform.python_version()}, dbt threads 2.",
        "",
        "Full build: `dbt build --full-refresh --selector deploy` (seeds, every model, unit tests, data tests on whole "
        "tables), run twice; the table shows the mean. Incremental run: the ingest of 1% new patients (another "
        "seed) into the same lake, then `dbt build --selector scheduled` - the job a deployment runs after each "
        "ingest (selectors.yml, docs/dbt.md): incremental models merge the new rows or the patients that have them "
        "and their data tests read only those rows, the other tables rebuild, and views, seeds and unit tests "
        "(which new data cannot change) are left to the deploy job. Several increments in a row (`--increments`), "
        "each timed; the table shows the median. All commands run with `--vars '{data_tests_scope: new_rows}'`. "
        "dbt floor: `dbt build --select tag:no-such-tag`, i.e. starting dbt, loading the parsed project, selecting "
        "nothing and writing the artifacts.",
        "",
        "| patients | genomes | imaging | full build (s) | +1% patients | incremental build (s) | incremental / full "
        "| dbt floor (s) | floor / full |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r['patients']:,} | {r['genomes']:,} | {r['imaging']:,} | {r['full_build_s']:.1f} | "
                     f"{r['new_patients_per_increment']:,} | {r['incremental_build_s']:.1f} | "
                     f"{r['incremental_share']:.0%} | {r['dbt_floor_s']:.1f} | "
                     f"{r['dbt_floor_s'] / r['full_build_s']:.0%} |")
    met = [f"{r['patients']:,}" for r in results if r["incremental_share"] <= TARGET_SHARE]
    missed = [f"{r['patients']:,}" for r in results if r["incremental_share"] > TARGET_SHARE]
    lines += ["", f"Target (issue 19: a scheduled run after +1% patients at most {TARGET_SHARE:.0%} of a full build at "
                  f"100,000 patients, and a share that falls with size): met at {', '.join(met) or 'no size'}; "
                  f"missed at {', '.join(missed) or 'no size'} patients.", ""]
    lines += ["Where the last incremental run's time went (its `run_results.json`): wall time, the part dbt spent "
              "running the graph, and per kind of node the count and summed node time (2 threads, so node time "
              "can exceed the graph time).", ""]
    for r in results:
        b = r["last_incremental_breakdown"]
        kinds = ", ".join(f"{k} {v['nodes']} nodes / {v['node_s']:.1f} s" for k, v in sorted(b["by_type"].items()))
        slowest = ", ".join(f"{k} {v:.2f} s" for k, v in b.get("slowest", {}).items())
        lines.append(f"- {r['patients']:,} patients: wall {r['incremental_runs_s'][-1]:.1f} s, graph "
                     f"{b['graph_s']:.1f} s; {kinds}." + (f" Slowest nodes: {slowest}." if slowest else ""))
    lines += ["", "Mart rows after the full build:", ""]
    for r in results:
        lines.append(f"- {r['patients']:,} patients: " + ", ".join(f"{k} {v:,}" for k, v in r["mart_rows"].items()))
    lines += ["", "Raw results:", "", "```json", json.dumps(results, indent=1), "```", ""]
    notes = ""
    if path.exists() and NOTES_MARKER in path.read_text():
        notes = path.read_text().split(NOTES_MARKER, 1)[1].strip()
    lines += [NOTES_MARKER, "", notes, ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1300, 10000], help="patient counts (default 1300 10000)")
    ap.add_argument("--out", type=Path, default=REPO / "bench-scratch" / "dbt", help="scratch folder")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--increments", type=int, default=3, help="1%% increments ingested and timed in a row (default 3)")
    ap.add_argument("--report", type=Path, default=REPO / "benchmarks" / "dbt.md")
    ap.add_argument("--add", action="store_true",
                    help="keep the report's earlier results for the other sizes instead of starting a new report")
    ap.add_argument("--drop-scratch", action="store_true",
                    help="delete each size's generated data and lake once it is measured (large sizes take tens of GB)")
    ap.add_argument("--prepare-only", action="store_true",
                    help="generate and ingest each size into the scratch folder, then stop (no dbt, no report)")
    ap.add_argument("--reuse", action="store_true",
                    help="measure on the lake a --prepare-only run left (once: the increments change it); its "
                         "generate and ingest times are reported")
    args = ap.parse_args()
    if args.increments < 1:
        ap.error("--increments must be at least 1")
    command = ("python scripts/bench_dbt.py " + " ".join(sys.argv[1:])).strip()
    results = [r for r in earlier_results(args.report) if r["patients"] not in args.sizes] if args.add else []
    # Rows of one report may come from different code (--add): each names the commit it measured.
    commit = code_commit()
    for size in args.sizes:
        r = bench(size, args.out, args.seed, args.increments, args.drop_scratch, args.prepare_only, args.reuse)
        if r is None:
            print(f"{size} patients: generated and ingested into {args.out / f'patients-{size}'}", flush=True)
            continue
        r.update(command=command, run_at=f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M}", commit=commit)
        print(f"{size} patients: full build {r['full_build_s']:.1f}s, incremental (+{r['new_patients_per_increment']})"
              f" {r['incremental_build_s']:.1f}s = {r['incremental_share']:.0%}, dbt floor {r['dbt_floor_s']:.1f}s",
              flush=True)
        results.append(r)
    if args.prepare_only:
        return 0
    results.sort(key=lambda r: r["patients"])
    write_report(results, args.report)
    print(f"wrote {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
