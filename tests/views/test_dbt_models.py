"""The dbt models `mmhealth views compile` writes (models/views, from views/*.json): they are what the compiler
gives today, `dbt build` builds them on a full lake and on a sparse one (absent columns and tables), their rows equal
`mmhealth views run` of the same views, every column is classified for governance, and the Athena compile parses and
returns the same rows when transpiled."""

from __future__ import annotations

import json
import os
import subprocess

import duckdb
import pytest
import sqlglot
import yaml

from .conftest import BIN, REPO, mmhealth

VIEWS = REPO / "views"
MODELS = REPO / "models" / "views"


def _dbt(lake, target, *args):
    env = {**os.environ, "DBT_PROFILES_DIR": str(REPO), "MMHEALTH_LAKE": str(lake), "MMHEALTH_PSEUDONYM_KEY": "x",
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "MMHEALTH_ATHENA_S3_STAGING_DIR": "s3://mmhealth-test/",
           "AWS_REGION": "us-east-1"}
    proc = subprocess.run([str(BIN / "dbt"), *args, "--target-path", str(target), "--log-path", str(target / "logs")],
                          cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc


def _warehouse_rows(lake, model):
    con = duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True)
    try:
        con.execute(f"attach '{lake / 'lake.duckdb'}' as lake (read_only)")
        cur = con.execute(f"select * from mmhealth_views.{model}")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]
    finally:
        con.close()


def _run_rows(lake, view):
    proc = mmhealth("views", "run", str(VIEWS / f"{view}.json"), "--lake", str(lake))
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def _canon(rows):
    return sorted(json.dumps({k: (round(v, 9) if isinstance(v, float) else v) for k, v in r.items()}, sort_keys=True,
                             default=str) for r in rows)


@pytest.fixture(scope="module")
def sparse_lake(tmp_path_factory):
    """Patients with only some elements, one Observation without components, no Encounter or Condition table."""
    root = tmp_path_factory.mktemp("sparse")
    (root / "src").mkdir()
    lines = [{"resourceType": "Patient", "id": "p1", "gender": "female"},
             {"resourceType": "Patient", "id": "p2", "birthDate": "1970-02", "address": [{"city": "X"}]},
             {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "t"}}]
    (root / "src" / "r.ndjson").write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    mmhealth("ingest", str(root / "src"), "--lake", str(root / "lake"), "--modality", "fhir", "--quiet")
    return root / "lake"


def test_committed_models_are_what_the_compiler_writes(tmp_path):
    mmhealth("views", "compile", str(VIEWS), "--out", str(tmp_path))
    for p in sorted(tmp_path.iterdir()):
        assert (MODELS / p.name).read_text() == p.read_text(), f"{p.name}: run `mmhealth views compile views --out models/views`"
    assert {p.name for p in MODELS.iterdir()} == {p.name for p in tmp_path.iterdir()}


@pytest.mark.parametrize("lake_fixture", ["synthea_lake", "sparse_lake"])
def test_dbt_builds_the_models_with_the_rows_views_run_gives(lake_fixture, request, tmp_path):
    lake = request.getfixturevalue(lake_fixture)
    _dbt(lake, tmp_path / "target", "build", "--select", "tag:views")
    total = 0
    for view in sorted(p.stem for p in VIEWS.glob("*.json")):
        built = _warehouse_rows(lake, f"view_{view}")
        assert _canon(built) == _canon(_run_rows(lake, view)), view
        total += len(built)
    assert total > (250 if lake_fixture == "synthea_lake" else 1)


def test_every_column_is_described_and_classified(tmp_path, synthea_lake):
    doc = yaml.safe_load((MODELS / "_views__models.yml").read_text())
    for model in doc["models"]:
        view = json.loads((VIEWS / (model["name"].removeprefix("view_") + ".json")).read_text())
        declared = [c["name"] for s in view["select"] for part in (s, *s.get("select", []))
                    for c in part.get("column", [])]
        assert [c["name"] for c in model["columns"]] == declared
        for c in model["columns"]:
            assert c["description"] and c["meta"]["sensitivity"] in ("phi", "internal", "public")
    # governance reads the classification from dbt's manifest like for every other model
    from mmhealth.governance.manifest import catalog_from_manifest

    _dbt(synthea_lake, tmp_path / "t", "parse")
    manifest = json.loads((tmp_path / "t" / "manifest.json").read_text())
    catalog = catalog_from_manifest(manifest, {"views": "mmhealth_views", "mmhealth_views": "mmhealth_views"},
                                    "sensitivity", "manifest")
    tables = catalog.in_database("mmhealth_views")
    assert {t.name for t in tables} == {m["name"] for m in doc["models"]}
    assert all(c.sensitivity in ("phi", "internal", "public") for t in tables for c in t.columns.values())
    patient = next(t for t in tables if t.name == "view_patient")
    assert patient.columns["patient_id"].sensitivity == "phi" and patient.columns["gender"].sensitivity == "internal"


@pytest.fixture(scope="module")
def complete_lake(testdata, tmp_path_factory):
    """The Synthea bundles plus one resource of each type carrying every element the views read: the offline Athena
    compile (no catalog, `--no-populate-cache`) assumes every column exists, so it runs only on such a lake."""
    root = tmp_path_factory.mktemp("complete")
    meta = {"lastUpdated": "2024-01-02T03:04:05Z"}
    cc = {"coding": [{"system": "http://snomed.info/sct", "code": "1", "display": "d"}], "text": "t"}
    extra = [
        {"resourceType": "Patient", "id": "px", "meta": meta, "deceasedBoolean": False, "maritalStatus": cc,
         "gender": "other", "birthDate": "1999", "address": [{"state": "MA", "postalCode": "01000"}]},
        {"resourceType": "Encounter", "id": "ex", "meta": meta, "status": "finished", "class": {"code": "AMB"},
         "type": [cc], "subject": {"reference": "Patient/px"}, "period": {"start": "2020", "end": "2021"}},
        {"resourceType": "Condition", "id": "cx", "meta": meta, "code": cc, "clinicalStatus": cc,
         "subject": {"reference": "Patient/px"}, "encounter": {"reference": "Encounter/ex"},
         "onsetPeriod": {"start": "2020-01-01"}, "recordedDate": "2020-01-02", "abatementDateTime": "2021"},
        {"resourceType": "Observation", "id": "ox", "meta": meta, "status": "final", "code": cc,
         "component": [{"code": cc, "valueQuantity": {"value": 1.5, "unit": "u"}}]},
    ]
    (root / "extra").mkdir()
    (root / "extra" / "extra.ndjson").write_text("\n".join(json.dumps(r) for r in extra) + "\n")
    lake = root / "lake"
    for src in (testdata / "fhir" / "synthea-bundles", root / "extra"):
        mmhealth("ingest", str(src), "--lake", str(lake), "--modality", "fhir", "--quiet")
    return lake


def test_athena_compile_parses_and_transpiled_rows_match(tmp_path, complete_lake):
    synthea_lake = complete_lake
    target = tmp_path / "athena"
    _dbt(synthea_lake, target, "compile", "--target", "athena", "--no-populate-cache", "--select", "tag:views")
    compiled = sorted((target / "compiled" / "mmhealth" / "models" / "views").glob("*.sql"))
    assert len(compiled) == len(list(VIEWS.glob("*.json")))
    con = duckdb.connect()
    con.execute(f"attach '{synthea_lake / 'lake.duckdb'}' as lake (read_only)")
    for path in compiled:
        sql = path.read_text()
        tree = sqlglot.parse_one(sql, read="athena")
        assert "element_at" in sql and "list_extract" not in sql
        for t in tree.find_all(sqlglot.exp.Table):  # the Glue catalog is the attached lake here
            if t.catalog == "awsdatacatalog":
                t.set("catalog", sqlglot.exp.to_identifier("lake"))
        cur = con.execute(tree.sql(dialect="duckdb"))
        names = [d[0] for d in cur.description]
        got = [dict(zip(names, r)) for r in cur.fetchall()]
        assert _canon(got) == _canon(_run_rows(synthea_lake, path.stem.removeprefix("view_"))), path.name
