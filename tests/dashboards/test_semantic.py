"""The semantic layer on the small pipeline: `mf` answers match direct SQL, the sq_* models materialize the
saved queries exactly (up to small-cell suppression), and both dashboards build from the real marts."""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
import yaml

from mmhealth.cli import main
from mmhealth.dashboards.layout import DASHBOARDS, PATIENT, check_against_columns
from mmhealth.dashboards.manifest import load_manifest

from .pages import render

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
SEMANTIC = REPO / "models" / "semantic"
THRESHOLD = int(yaml.safe_load((REPO / "dbt_project.yml").read_text())["vars"]["small_cell_threshold"])


class MetricFlow:
    """Runs the `mf` CLI against the pipeline's build. mf reads `<project>/target/semantic_manifest.json`
    whatever --target-path dbt used, so it runs in a folder holding the project file and that artifact."""

    def __init__(self, pipeline, root: Path):
        self.root = root
        (root / "target").mkdir(parents=True, exist_ok=True)
        (root / "dbt_project.yml").symlink_to(REPO / "dbt_project.yml")
        shutil.copy(pipeline.target_path / "semantic_manifest.json", root / "target" / "semantic_manifest.json")
        self.env = {**pipeline.env, "DBT_PROJECT_DIR": str(root)}

    def run(self, *args: str) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(BIN / "mf"), *args], cwd=self.root, env=self.env, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, f"mf {' '.join(args)} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        return proc

    def query(self, *args: str) -> list[dict]:
        out = self.root / f"q{abs(hash(args))}.csv"
        self.run("query", *args, "--csv", str(out), "--quiet")
        with out.open(newline="") as fh:
            return list(csv.DictReader(fh))


    def saved_queries(self, names: list[str]) -> dict[str, list[dict]]:
        """Several saved queries in one process (see mf_batch.py): rows as dicts, MetricFlow's column names."""
        proc = subprocess.run([str(BIN / "python"), str(Path(__file__).with_name("mf_batch.py")), str(self.root),
                               *names], cwd=self.root, env=self.env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def mf(small_pipeline, tmp_path_factory) -> MetricFlow:
    return MetricFlow(small_pipeline, tmp_path_factory.mktemp("mf-project"))


@pytest.fixture(scope="module")
def saved(mf) -> dict[str, list[dict]]:
    return mf.saved_queries(list(_saved_queries()))


@pytest.fixture(scope="module")
def warehouse(small_pipeline, tmp_path_factory):
    """A copy of the warehouse for the direct SQL: mf opens the warehouse read-write through dbt-duckdb, and
    DuckDB lets no other process open a file while one holds it for writing."""
    copy = tmp_path_factory.mktemp("warehouse-copy") / "warehouse.duckdb"
    shutil.copy(small_pipeline.warehouse, copy)
    con = duckdb.connect(str(copy), read_only=True)
    yield con
    con.close()


def _relation(pipeline, model: str) -> str:
    return load_manifest(pipeline.manifest).model(model).relation_name


def test_validate_configs(mf):
    out = mf.run("validate-configs", "--skip-dw").stdout
    assert "ERRORS: 0" in out and "Breaking issues" not in out


def test_patient_count_by_sex_matches_direct_sql(mf, warehouse, small_pipeline):
    rows = mf.query("--metrics", "patient_count", "--group-by", "patient__sex")
    got = {r["patient__sex"]: int(r["patient_count"]) for r in rows}
    p360 = _relation(small_pipeline, "patient_360")
    direct = dict(warehouse.execute(
        f"select coalesce(gender, 'unknown'), count(distinct patient_key) from {p360} group by 1").fetchall())
    assert got == direct and sum(got.values()) > 0
    # ... and with the source: every FHIR Patient of the lake, counted by gender (patient_360 may add VCF- or
    # DICOM-only patients, whose sex is unknown).
    lake = duckdb.connect(str(small_pipeline.lake / "lake.duckdb"), read_only=True)
    fhir = dict(lake.execute("select gender, count(distinct id) from healthlake.patient group by 1").fetchall())
    lake.close()
    for sex, n in fhir.items():
        assert got[sex] == n


def test_metrics_match_direct_sql(saved, warehouse, small_pipeline):
    rel = {m: _relation(small_pipeline, m) for m in ("patient_360", "fct_encounter", "fct_variant_clinvar",
                                                     "fct_radiomics")}
    # patient_360's outcome flags are computed by the marts, independently of the semantic layer.
    direct = {
        sex: row
        for sex, *row in warehouse.execute(f"""
            select coalesce(p.gender, 'unknown'), count(*),
                   avg(case when p.has_stroke then 1.0 else 0 end), avg(case when p.has_hypertension then 1.0 else 0 end),
                   avg(case when p.has_coronary_heart_disease then 1.0 else 0 end),
                   avg(case when p.has_alzheimers then 1.0 else 0 end), sum(coalesce(e.n, 0)) * 1.0 / count(*)
            from {rel['patient_360']} p
            left join (select patient_key, count(*) n from {rel['fct_encounter']} group by 1) e using (patient_key)
            group by 1""").fetchall()
    }
    rows = saved["outcomes_by_sex"]
    assert len(rows) == len(direct)
    for r in rows:
        n, stroke, hypertension, chd, alzheimers, per_patient = direct[r["patient__sex"]]
        assert r["patient_count"] == n
        for metric, want in (("prevalence_stroke", stroke), ("prevalence_hypertension", hypertension),
                             ("prevalence_coronary_heart_disease", chd), ("prevalence_alzheimers", alzheimers)):
            assert math.isclose(r[metric] or 0.0, want, abs_tol=1e-9), (metric, r)
        assert math.isclose(r["encounters_per_patient"], per_patient, rel_tol=1e-9)
    genes = dict(warehouse.execute(
        f"select gene_symbol, count(distinct patient_key) from {rel['fct_variant_clinvar']} "
        "where is_pathogenic_or_likely group by 1").fetchall())
    assert {r["variant_call__gene"]: r["pathogenic_variant_carriers"] for r in saved["pathogenic_carriers_by_gene"]} == genes
    volumes = dict(warehouse.execute(
        f"select coalesce(modality, 'unknown'), avg(mask_volume_mm3) from {rel['fct_radiomics']} "
        "where has_radiomics group by 1").fetchall())
    got = {r["image_set__modality"]: r["mean_lesion_volume_mm3"] for r in saved["lesion_volume_by_modality"]}
    assert got.keys() == volumes.keys() and all(math.isclose(got[k], volumes[k], rel_tol=1e-9) for k in got)


def _saved_queries() -> dict[str, dict]:
    doc = yaml.safe_load((SEMANTIC / "_saved_queries.yml").read_text())
    return {q["name"]: q for q in doc["saved_queries"]}


# How a MetricFlow output column is named in the sq_* model: the entity prefix goes (patient__sex -> sex);
# metric_time at year grain is the model's own date column.
MF_TO_MODEL = {"metric_time__year": "encounter_year"}
# The count whose smallness nulls a ratio or statistic (a metric not listed is a count governing itself).
GOVERNED_BY = {
    "encounters_per_patient": "patient_count",
    "mean_lesion_volume_mm3": "imaged_patient_count",
    "image_set_count": "imaged_patient_count",
    **{f"prevalence_{o}": f"patients_with_{o}" for o in ("stroke", "hypertension", "coronary_heart_disease", "alzheimers")},
}


def _is_null(value) -> bool:
    return value is None or str(value) in ("<NA>", "nan", "NaT", "None")


def test_saved_queries_equal_their_materialized_models(saved, warehouse, small_pipeline):
    queries = _saved_queries()
    assert set(queries) == {p.stem.removeprefix("sq_") for p in SEMANTIC.glob("sq_*.sql")}
    answers = saved
    shown = nulled = 0
    for name, query in queries.items():
        model = warehouse.execute(f"select * from {_relation(small_pipeline, 'sq_' + name)}").df()
        metrics = query["query_params"]["metrics"]
        rows = answers[name]
        assert rows and len(rows) == len(model), name
        keys = [c for c in rows[0] if c not in metrics]
        model_keys = [MF_TO_MODEL.get(c, c.split("__", 1)[-1]) for c in keys]
        by_key = {tuple(str(v)[:10] for v in rec[model_keys]): rec for _, rec in model.iterrows()}
        for r in rows:
            key = tuple(str(r[c])[:10] for c in keys)
            rec = by_key[key]
            values = {m: r[m] or 0.0 for m in metrics}  # MetricFlow leaves empty groups empty
            for metric in metrics:
                governing = values[GOVERNED_BY.get(metric, metric)] if GOVERNED_BY.get(metric, metric) in values else None
                if _is_null(rec[metric]):
                    assert bool(rec["is_suppressed"]), f"sq_{name}.{metric} {key}: null but not flagged"
                    nulled += 1
                    continue
                assert governing is None or not 0 < governing < THRESHOLD, (
                    f"sq_{name}.{metric} {key}: shown although its count {governing} is below {THRESHOLD}")
                assert math.isclose(float(rec[metric]), values[metric], rel_tol=1e-9, abs_tol=1e-12), (
                    f"sq_{name}.{metric} {key}: model {rec[metric]} != MetricFlow {values[metric]}")
                shown += 1
    assert shown > 10 and nulled > 0  # both paths ran on this data


def test_layout_fits_the_real_marts(small_pipeline, warehouse):
    manifest = load_manifest(small_pipeline.manifest)
    columns = {m.name: m.column_names for m in manifest.models.values()}
    check = check_against_columns(DASHBOARDS, columns)
    assert check.ok, check.problems
    for model in {m for d in DASHBOARDS for m in d.models()}:
        for col in manifest.model(model).columns:
            assert col.data_type, f"{model}.{col.name} has no data_type: QuickSight could not type it"
            assert col.sensitivity in ("public", "internal", "phi"), f"{model}.{col.name} unclassified"


@pytest.mark.parametrize("clearance,dashboards", [("phi", 2), ("public", 1)])
def test_quicksight_dry_run_on_the_real_manifest(small_pipeline, tmp_path, clearance, dashboards):
    """Every column the dashboards use exists, is typed and classified in the real manifest; the patient
    dashboard shows dated clinical events (PHI), so only a group the policy clears for phi gets it."""
    policy = tmp_path / "policy.yml"
    policy.write_text("principals:\n  g:\n    type: quicksight_group\n"
                      f"    arn: 'arn:aws:quicksight:us-east-1:123456789012:group/default/g'\n    clearance: {clearance}\n")
    rc = main(["dashboards", "quicksight", "--account", "123456789012", "--manifest", str(small_pipeline.manifest),
               "--governance", str(policy), "--out", str(tmp_path / "qs"), "--dry-run"])
    assert rc == 0
    assert len(list((tmp_path / "qs" / "dashboards").glob("*.json"))) == dashboards


def test_local_dashboards_from_the_real_marts(small_pipeline, tmp_path):
    out = tmp_path / "site"
    rc = main(["dashboards", "build", "--out", str(out), "--lake", str(small_pipeline.lake),
               "--manifest", str(small_pipeline.manifest), "--max-patients", "40"])
    assert rc == 0
    text = (out / "patient.html").read_text(encoding="utf-8")
    payload = json.loads(text.split('<script id="page-data" type="application/json">', 1)[1].split("</script>", 1)[0])
    with_images = [k for k, v in payload["data"].items() if "patient-lesions" in v]
    with_genes = [k for k, v in payload["data"].items() if "patient-variants" in v]
    assert len(payload["patients"]) == 40 and with_genes
    first = (with_images or with_genes)[0]
    other = next(k for k in payload["patients"] if k != first)
    a = render((out / "patient.html").as_uri() + f"?patient={first}", tmp_path / "a.png")
    b = render((out / "patient.html").as_uri() + f"?patient={other}", tmp_path / "b.png")
    assert a.console == [] == b.console and a.page_errors == "[]" == b.page_errors
    assert f'data-patient="{first}"' in a.dom and f'data-patient="{other}"' in b.dom
    summary = 'id="v-patient-summary"'
    assert a.dom.split(summary)[1][:3000] != b.dom.split(summary)[1][:3000]
    assert PATIENT.patient_list_model == "patient_360"
