"""Benchmark of the dbt project on the local target: full `dbt build` wall time at several scales, and an
incremental `dbt build` after adding 1% new patients, as a share of the full build.

    .venv/bin/python scripts/bench_dbt.py                       # 1,300 and 10,000 patients
    .venv/bin/python scripts/bench_dbt.py --sizes 1300 --out bench-scratch/dbt

For each size: `mmhealth generate` (default genome / imaging ratios of the 1,300 / 800 / 300 demo set) and
`mmhealth ingest` into a fresh lake (not timed here: their own benchmarks cover them), then
1. `dbt build --full-refresh --selector deploy --vars '{data_tests_scope: new_rows}'` (seeds, every model, unit and
   data tests) - the full build;
2. 1% more patients generated with another seed into a sub-folder of the source and the source ingested again
   into the same lake (the ingest only reads the new files);
3. `dbt build --selector scheduled --vars '{data_tests_scope: new_rows}'` - the scheduled job of a deployment
   (selectors.yml, docs/dbt.md): incremental models MERGE only the new rows or the patients that have them, their
   data tests read only the new rows (macros/tests/where_subquery.sql), the other tables rebuild; views, seeds and
   unit tests, which new data cannot change, are left to the deploy job.
Results go to benchmarks/dbt.md with the exact command."""

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


def dbt_build(env: dict[str, str], target: Path, *extra: str) -> float:
    return run([str(BIN / "dbt"), "build", "--target-path", str(target), "--log-path", str(target / "logs"), *extra],
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


def bench(size: int, out: Path, seed: int) -> dict:
    root = out / f"patients-{size}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    lake, target = root / "lake", root / "target"
    env = {**os.environ, "DBT_PROFILES_DIR": str(REPO), "MMHEALTH_LAKE": str(lake), "TQDM_DISABLE": "1",
           "MMHEALTH_PSEUDONYM_KEY": "bench-key", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    genomes, imaging = scaled(size)
    t_gen = run([str(BIN / "mmhealth"), "generate", "--out", str(root / "data"), "--patients", str(size),
                 "--genomes", str(genomes), "--imaging", str(imaging), "--seed", str(seed), "--quiet"], env)
    t_ingest = run([str(BIN / "mmhealth"), "ingest", str(root / "data"), "--lake", str(lake), "--no-progress"], env)
    # a parse first, so both timed builds pay the same (partial) parse cost
    # Every dbt command gets the same vars: a change of vars makes dbt re-parse the whole project.
    run([str(BIN / "dbt"), "parse", "--target-path", str(target), "--log-path", str(target / "logs"), *VARS], env)
    t_full = dbt_build(env, target, "--full-refresh", "--selector", "deploy", *VARS)
    counts = row_counts(lake)

    extra = max(1, size // 100)
    g_extra, i_extra = scaled(extra)
    # The ingest keys files by their path inside SOURCE (a file at the same path replaces its rows), so new data
    # goes into a sub-folder of the first one and the same folder is ingested again: only the new files are read.
    # The increment shares the panel's ClinVar and reference files, which are already in the lake.
    increment = root / "data" / "increment-1"
    run([str(BIN / "mmhealth"), "generate", "--out", str(increment), "--patients", str(extra),
         "--genomes", str(g_extra), "--imaging", str(i_extra), "--seed", str(seed + 1000), "--quiet"], env)
    for shared in ("annotation", "reference"):
        shutil.rmtree(increment / shared, ignore_errors=True)
    run([str(BIN / "mmhealth"), "ingest", str(root / "data"), "--lake", str(lake), "--no-progress"], env)
    # the scheduled job (docs/dbt.md): data tests on incremental models read the newest lake run only
    t_incr = dbt_build(env, target, "--selector", "scheduled", *VARS)
    counts_after = row_counts(lake)
    return {"patients": size, "genomes": genomes, "imaging": imaging, "generate_s": t_gen, "ingest_s": t_ingest,
            "full_build_s": t_full, "new_patients": extra, "incremental_build_s": t_incr,
            "incremental_share": t_incr / t_full, "patient_360_rows": counts.get("patient_360"),
            "patient_360_rows_after": counts_after.get("patient_360"), "mart_rows": counts}


def write_report(results: list[dict], command: str, path: Path) -> None:
    lines = [
        "# dbt build benchmark (local target, DuckDB)",
        "",
        f"Command: `{command}`  ",
        f"Run: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores "
        f"(shared with other work while it ran), Python {platform.python_version()}, dbt threads 2.",
        "",
        "Full build: `dbt build --full-refresh --selector deploy` (seeds, every model, unit tests, data tests on whole "
        "tables). Incremental run: the ingest of 1% new patients (another seed) into the same lake, then "
        "`dbt build --selector scheduled` - the job a deployment runs after each ingest (selectors.yml, docs/dbt.md): "
        "incremental models merge the new rows or the patients that have them and their data tests read only those "
        "rows, the other tables rebuild, and views, seeds and unit tests (which new data cannot change) are left to "
        "the deploy job. Both run with `--vars '{data_tests_scope: new_rows}'`.",
        "",
        "| patients | genomes | imaging | full build (s) | +1% patients | incremental build (s) | incremental / full |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r['patients']:,} | {r['genomes']:,} | {r['imaging']:,} | {r['full_build_s']:.1f} | "
                     f"{r['new_patients']:,} | {r['incremental_build_s']:.1f} | {r['incremental_share']:.0%} |")
    lines += ["", "Mart rows after the full build:", ""]
    for r in results:
        lines.append(f"- {r['patients']:,} patients: " + ", ".join(f"{k} {v:,}" for k, v in r["mart_rows"].items()))
    lines += ["", "Raw results:", "", "```json", json.dumps(results, indent=1), "```", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1300, 10000], help="patient counts (default 1300 10000)")
    ap.add_argument("--out", type=Path, default=REPO / "bench-scratch" / "dbt", help="scratch folder")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--report", type=Path, default=REPO / "benchmarks" / "dbt.md")
    args = ap.parse_args()
    results = []
    for size in args.sizes:
        r = bench(size, args.out, args.seed)
        print(f"{size} patients: full build {r['full_build_s']:.1f}s, incremental (+{r['new_patients']}) "
              f"{r['incremental_build_s']:.1f}s = {r['incremental_share']:.0%}", flush=True)
        results.append(r)
    command = "python scripts/bench_dbt.py " + " ".join(sys.argv[1:])
    write_report(results, command.strip(), args.report)
    print(f"wrote {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
