"""Benchmark of compiled ViewDefinitions against the hand-written SQL a data engineer would write for the same rows,
on one generated lake (DuckDB over the lake's Parquet). Writes benchmarks/views.md.

    .venv/bin/python scripts/bench_views.py                       # 10,000 patients in bench-scratch/views
    .venv/bin/python scripts/bench_views.py --patients 1300 --repeats 3

The lake is made once per size (`mmhealth generate --genomes 0 --imaging 0`, then `mmhealth ingest --modality
fhir`) and reused. For each view the compiled query and the hand-written one must return the same rows (checked
with EXCEPT ALL both ways) before they are timed; each is materialized into a temporary table `--repeats` times,
alternating which goes first, and the median is kept. Target: the compiled view at least 0.8x as fast as the
hand-written SQL (hand-written time / compiled time >= 0.8)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# The staging models' way of reading the current version of a resource (macros/fhir/versions.sql), written out;
# without meta.lastUpdated in the table, the later copy wins.
CURRENT_NO_META = """not exists (
    select 1 from healthlake.{t} as newer
    where newer.id = r.id
      and (newer.lake_run > r.lake_run or (newer.lake_run = r.lake_run and newer.lake_source > r.lake_source)))"""
CURRENT = """not exists (
    select 1 from healthlake.{t} as newer
    where newer.id = r.id
      and (coalesce(try_cast(newer.meta.lastupdated as timestamptz), timestamptz '1900-01-01 00:00:00+00')
             > coalesce(try_cast(r.meta.lastupdated as timestamptz), timestamptz '1900-01-01 00:00:00+00')
           or (coalesce(try_cast(newer.meta.lastupdated as timestamptz), timestamptz '1900-01-01 00:00:00+00')
                 = coalesce(try_cast(r.meta.lastupdated as timestamptz), timestamptz '1900-01-01 00:00:00+00')
               and (newer.lake_run > r.lake_run or (newer.lake_run = r.lake_run and newer.lake_source > r.lake_source)))))"""

HAND = {
    # as the staging model stg_fhir__observation_component was written before it read the view
    "observation_component": """
with observation as (
    select r.id, r.component, r.lake_run
    from healthlake.observation as r
    where r.component is not null and {current:observation}
),
components as (
    select o.*, unnest(o.component) as c, generate_subscripts(o.component, 1) as i
    from observation as o
)
select id as observation_id, lake_run, i as component_index,
       list_filter(c.code.coding, x -> x.system = 'http://loinc.org')[1].code as loinc_code,
       c.code.coding[1].code as code,
       c.code.coding[1].display as code_display,
       c.code.text as code_text,
       c.valuequantity.value as value_number,
       c.valuequantity.unit as value_unit
from components""",
    "condition": """
select r.id as condition_id,
       {ref:r.subject.reference:Patient} as patient_id,
       {ref:r.encounter.reference:Encounter} as encounter_id,
       list_filter(r.code.coding, x -> x.system = 'http://snomed.info/sct')[1].code as snomed_code,
       r.code.coding[1].code as code, r.code.coding[1].system as code_system,
       r.code.coding[1].display as code_display, r.code.text as code_text,
       r.clinicalstatus.coding[1].code as clinical_status,
       r.onsetdatetime as onset_datetime, {onset_period} as onset_period_start,
       r.abatementdatetime as abatement_datetime, r.recordeddate as recorded_date,
       {lastupdated:condition} as last_updated, r.lake_run
from healthlake.condition as r
where {current:condition}""",
    "patient": """
select r.id as patient_id, r.gender, r.birthdate as birth_date,
       r.deceaseddatetime as deceased_datetime, {deceased_boolean} as deceased_boolean,
       json_extract_string(list_filter(cast(json_extract(list_filter(r.extension, e -> json_extract_string(e, '$.url') = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race')[1], '$.extension') as json[]), x -> json_extract_string(x, '$.url') = 'ombCategory')[1], '$.valueCoding.display') as race_category,
       json_extract_string(list_filter(cast(json_extract(list_filter(r.extension, e -> json_extract_string(e, '$.url') = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race')[1], '$.extension') as json[]), x -> json_extract_string(x, '$.url') = 'text')[1], '$.valueString') as race_text,
       json_extract_string(list_filter(cast(json_extract(list_filter(r.extension, e -> json_extract_string(e, '$.url') = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity')[1], '$.extension') as json[]), x -> json_extract_string(x, '$.url') = 'ombCategory')[1], '$.valueCoding.display') as ethnicity_category,
       json_extract_string(list_filter(cast(json_extract(list_filter(r.extension, e -> json_extract_string(e, '$.url') = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity')[1], '$.extension') as json[]), x -> json_extract_string(x, '$.url') = 'text')[1], '$.valueString') as ethnicity_text,
       r.maritalstatus.coding[1].code as marital_status,
       r.address[1].state as address_state, r.address[1].postalcode as address_postal_code,
       {lastupdated:patient} as last_updated, r.lake_run
from healthlake.patient as r
where {current:patient}""",
}


def run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, cwd=REPO, env={**os.environ, "TQDM_DISABLE": "1"})


def make_lake(out: Path, patients: int, seed: int) -> tuple[Path, float, float]:
    lake = out / f"p{patients}" / "lake"
    if (lake / "lake.duckdb").is_file():
        return lake, 0.0, 0.0
    data = out / f"p{patients}" / "data"
    t0 = time.perf_counter()
    run([str(BIN / "mmhealth"), "generate", "--out", str(data), "--patients", str(patients), "--genomes", "0",
         "--imaging", "0", "--seed", str(seed), "--quiet"])
    t1 = time.perf_counter()
    run([str(BIN / "mmhealth"), "ingest", str(data), "--lake", str(lake), "--modality", "fhir", "--quiet"])
    return lake, t1 - t0, time.perf_counter() - t1


def _reference_id(ref: str, rtype: str) -> str:
    """The project's reference parsing (macro fhir_reference_id), as the staging models read references."""
    pattern = "'([A-Za-z]+)/([^/]+)(/_history/[^/]+)?$'"
    return (f"case when {ref} is null or trim({ref}) = '' then null "
            f"when {ref} like 'urn:uuid:%' then substr({ref}, 10) when {ref} like 'urn:oid:%' then substr({ref}, 9) "
            f"when strpos({ref}, '/') = 0 then {ref} "
            f"when regexp_extract({ref}, {pattern}, 1) <> '{rtype}' then null "
            f"else regexp_extract({ref}, {pattern}, 2) end")


def _fill(sql: str, schema) -> str:
    """The hand-written SQL reads columns this lake may lack as typed nulls, as its author would."""
    cond = schema.root("Condition")
    onset = "r.onsetperiod.start" if cond is not None and cond.child("onsetPeriod") else "cast(null as varchar)"
    pat = schema.root("Patient")
    dec = "r.deceasedboolean" if pat is not None and pat.child("deceasedBoolean") else "cast(null as boolean)"
    sql = sql.replace("{onset_period}", onset).replace("{deceased_boolean}", dec)
    for ref, rtype in (("r.subject.reference", "Patient"), ("r.encounter.reference", "Encounter")):
        sql = sql.replace("{ref:%s:%s}" % (ref, rtype), _reference_id(ref, rtype))
    for table in ("observation", "condition", "patient"):
        root = schema.root(table)
        meta = root.child("meta") if root is not None else None
        has = meta is not None and meta.child("lastUpdated") is not None
        sql = sql.replace("{current:%s}" % table, (CURRENT if has else CURRENT_NO_META).format(t=table))
        sql = sql.replace("{lastupdated:%s}" % table, "r.meta.lastupdated" if has else "cast(null as varchar)")
    return sql


def measure(lake: Path, repeats: int) -> list[dict]:
    import duckdb

    from mmhealth.views.definition import load_view
    from mmhealth.views.runner import LakeViews

    con = duckdb.connect()
    con.execute(f"attach '{lake / 'lake.duckdb'}' as lake (read_only)")
    con.execute("use lake")
    views = LakeViews.of(con, "duckdb")
    rows = []
    for name, hand in HAND.items():
        compiled = views.compile(load_view(REPO / "views" / f"{name}.json")).sql
        hand = _fill(hand, views.schema)
        n = con.execute(f"select count(*) from ({compiled})").fetchone()[0]
        diff = con.execute(f"select count(*) from (({compiled}) except all ({hand})) "
                           f"union all select count(*) from (({hand}) except all ({compiled}))").fetchall()
        if n == 0 or any(d[0] for d in diff):
            raise SystemExit(f"{name}: compiled and hand-written queries disagree ({n} rows, diff {diff})")
        times = {"compiled": [], "hand": []}
        for i in range(repeats):
            order = [("compiled", compiled), ("hand", hand)]
            if i % 2:
                order.reverse()
            for label, sql in order:
                t0 = time.perf_counter()
                con.execute(f"create or replace temp table bench_out as {sql}")
                times[label].append(time.perf_counter() - t0)
        c, h = statistics.median(times["compiled"]), statistics.median(times["hand"])
        cmin, hmin = min(times["compiled"]), min(times["hand"])
        rows.append({"view": name, "rows": n, "compiled_s": c, "hand_s": h, "ratio": h / c, "ratio_min": hmin / cmin,
                     "compiled_min": cmin, "hand_min": hmin})
        print(f"{name}: {n:,} rows, compiled {c:.3f} s, hand-written {h:.3f} s, ratio {h / c:.2f}", flush=True)
    con.close()
    return rows


def write_report(path: Path, command: str, patients: int, rows: list[dict], gen_s: float, ingest_s: float) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "src", "views", "scripts/bench_views.py"], cwd=REPO,
                           capture_output=True, text=True).stdout.strip()
    commit += "-dirty" if dirty else ""
    met = all(r["ratio"] >= 0.8 for r in rows)
    lines = [
        "## Views: compiled ViewDefinitions vs hand-written SQL", "",
        f"Command: `{command}` (run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC at commit {commit}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs).", "",
        f"One lake of {patients:,} generated patients (FHIR only). Each view of `views/` compiled by "
        "`mmhealth.views` and the SQL written by hand for the same rows (checked equal with EXCEPT ALL both ways) are "
        "materialized into a DuckDB temporary table; median (and best) of the repeats, alternating which runs first. Both read "
        "the current version of each resource the same way (the staging models' NOT EXISTS).", "",
        "| view | rows | compiled median (s) | hand-written median (s) | hand / compiled (median) | best of runs: compiled / hand-written (s) | hand / compiled (best) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['view']} | {r['rows']:,} | {r['compiled_s']:.3f} | {r['hand_s']:.3f} | {r['ratio']:.2f} | "
                     f"{r['compiled_min']:.3f} / {r['hand_min']:.3f} | {r['ratio_min']:.2f} |")
    lines += ["", f"Target (compiled at least 0.8x as fast as hand-written, i.e. ratio >= 0.80): "
                  f"{'met' if met else 'NOT met'} for {'every view' if met else 'some views'}."]
    if gen_s or ingest_s:
        lines += ["", f"Making the lake: generate {gen_s:.0f} s, ingest {ingest_s:.0f} s (not part of the comparison)."]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description="Compiled ViewDefinitions vs hand-written SQL on one generated lake.")
    ap.add_argument("--patients", type=int, default=10000, help="patients to generate (default 10000)")
    ap.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    ap.add_argument("--repeats", type=int, default=7, help="timed runs of each query (default 7)")
    ap.add_argument("--out", type=Path, default=REPO / "bench-scratch" / "views", help="scratch folder (gitignored)")
    ap.add_argument("--report", type=Path, default=REPO / "benchmarks" / "views.md", help="report to write")
    args = ap.parse_args(argv)
    lake, gen_s, ingest_s = make_lake(args.out, args.patients, args.seed)
    rows = measure(lake, args.repeats)
    command = "python scripts/bench_views.py " + " ".join(argv) if argv else "python scripts/bench_views.py"
    write_report(args.report, command.strip(), args.patients, rows, gen_s, ingest_s)
    print(f"wrote {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
