"""The quarantine holds raw PHI outside the marts: it is classified phi (src/mmhealth/lake/meta.py), governed
as a lake table of the policy (`lake_database: lake_meta`), tagged by `govern apply`, and readable only by
phi-cleared principals (the PHI invariant covers it like any mart)."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import yaml

from mmhealth.cli import main
from mmhealth.governance.access import access_matrix
from mmhealth.governance.apply import apply_plan
from mmhealth.governance.aws import Gateway, read_live
from mmhealth.governance.dbtconfig import lf_tags_config
from mmhealth.governance.desired import desired_state
from mmhealth.governance.plan import make_plan
from mmhealth.governance.policy import PolicyError
from mmhealth.governance.validate import validate
from mmhealth.lake.meta import META_COLUMNS, QUARANTINE

from .conftest import ACCOUNT, FIXTURES

MANIFEST = FIXTURES / "manifest.json"


def write(tmp_path, mutate=None, name="policy.yml", filters=True):
    data = yaml.safe_load((FIXTURES / "policy.yml").read_text())
    data["manifest"] = str(MANIFEST)
    data["databases"]["mmhealth_lake_meta"] = {"lake_database": "lake_meta", "tags": {"layer": "raw"}}
    data["tables"].append({"match": "mmhealth_lake_meta.*", "tags": {"modality": "multimodal"}})
    data["grants"].append({"name": "clinicians_quarantine", "principals": ["clinicians"],
                           "table": "mmhealth_lake_meta.quarantine", "permissions": ["SELECT", "DESCRIBE"]})
    if not filters:
        data.pop("data_cells_filters")
    if mutate:
        mutate(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def quarantine_parquet(tmp_path_factory):
    """A real quarantine written by `mmhealth ingest` from a FHIR file with two bad lines."""
    root = tmp_path_factory.mktemp("q")
    (root / "src" / "fhir").mkdir(parents=True)
    (root / "src" / "fhir" / "Jane_Roe_1971.ndjson").write_text(
        '{"resourceType":"Patient","id":"p1","name":[{"family":"Doe","given":["Jane"]}],"birthDate":"1970-01-01"}\n'
        '{"resourceType":"Patient","name":[{"family":"Roe","given":["Jane"]}],"birthDate":"1971-02-02"}\n'
        "not json, Jane Roe 1971-02-02\n")
    assert main(["ingest", str(root / "src"), "--lake", str(root / "lake")]) == 0
    [part] = (root / "lake" / "lake_meta" / "quarantine").rglob("*.parquet")
    return part


def test_every_column_the_lake_writes_to_the_quarantine_is_phi(tmp_path, quarantine_parquet):
    table = pq.read_table(quarantine_parquet)  # pyarrow, not our code, says what the lake wrote
    rows = table.to_pylist()
    assert len(rows) == 2 and any("Roe" in r["raw_excerpt"] for r in rows)  # raw PHI indeed
    assert any("1971-02-02" in r["raw_excerpt"] for r in rows)
    assert any("Jane_Roe" in r["lake_source"] for r in rows)  # and the file name can be a patient's name
    policy, catalog, _ = validate(write(tmp_path))
    q = catalog.get("mmhealth_lake_meta.quarantine")
    written = set(table.column_names) | {"lake_run"}  # the partition column, from the hive path
    assert set(q.columns) == written
    assert {c.name: c.sensitivity for c in q.columns.values()} == {c: "phi" for c in written}
    log = catalog.get("mmhealth_lake_meta.ingest_log")
    assert log.columns["lake_source"].sensitivity == "phi" and log.columns["records_read"].sensitivity == "internal"


def test_only_phi_cleared_principals_may_read_it(tmp_path):
    policy, catalog, _ = validate(write(tmp_path))
    readers = {p for p, tables in access_matrix(policy, catalog).items() if "mmhealth_lake_meta.quarantine" in tables}
    assert readers == {"clinicians"}

    # a grant to an internal-cleared principal fails, naming the quarantine's columns
    path = write(tmp_path, lambda d: d["grants"].append({"name": "ds_quarantine", "principals": ["data_scientists"],
                                                          "table": "mmhealth_lake_meta.quarantine", "permissions": ["SELECT"]}))
    with pytest.raises(PolicyError) as err:
        validate(path)
    assert any("grant 'ds_quarantine' lets principal 'data_scientists'" in f
               and "PHI column mmhealth_lake_meta.quarantine.raw_excerpt" in f for f in err.value.findings)

    # so does a tag expression that reaches the raw layer without a sensitivity bound
    path = write(tmp_path, lambda d: d["grants"].append({"name": "raw_for_bio", "principals": ["bioinformaticians"],
                                                          "tag_expression": {"layer": ["raw"]}, "permissions": ["SELECT"]}))
    with pytest.raises(PolicyError) as err:
        validate(path)
    assert any("grant 'raw_for_bio'" in f and "mmhealth_lake_meta.quarantine.raw_excerpt" in f for f in err.value.findings)
    # ... while bounded by sensitivity it reaches only the log's internal columns
    path = write(tmp_path, lambda d: d["grants"].append({"name": "raw_for_bio", "principals": ["bioinformaticians"],
                                                          "tag_expression": {"layer": ["raw"], "sensitivity": ["internal"]},
                                                          "permissions": ["SELECT"]}))
    policy, catalog, _ = validate(path)
    bio = access_matrix(policy, catalog)["bioinformaticians"]
    assert "mmhealth_lake_meta.quarantine" not in bio
    assert "lake_source" not in bio["mmhealth_lake_meta.ingest_log"].columns


def test_a_policy_that_does_not_govern_the_quarantine_is_warned(capsys):
    assert main(["govern", "validate", "--policy", str(FIXTURES / "policy.yml"), "--manifest", str(MANIFEST)]) == 0
    assert "warning: lake_meta.quarantine (raw excerpts of rejected input: names, birth dates) is not governed" in \
        capsys.readouterr().err


def test_apply_tags_the_quarantine_phi_on_lake_formation(tmp_path, lf):
    """dbt never re-creates lake tables, so `govern apply` writes their tags (and dbt-config leaves them out)."""
    policy, catalog, _ = validate(write(tmp_path, filters=False))
    desired, scope = desired_state(policy, catalog)
    gw = Gateway(lf, policy.catalog_id)
    plan = make_plan(desired, read_live(gw, scope), scope, policy.file, {})
    assert apply_plan(gw, plan).ok
    cols = sorted(META_COLUMNS[QUARANTINE])
    tags = lf.get_resource_lf_tags(CatalogId=ACCOUNT, Resource={"TableWithColumns": {
        "DatabaseName": "mmhealth_lake_meta", "Name": "quarantine", "ColumnNames": cols}})
    by_col = {c["Name"]: {t["TagKey"]: t["TagValues"] for t in c["LFTags"]} for c in tags["LFTagsOnColumns"]}
    assert set(by_col) == set(cols) and all(t["sensitivity"] == ["phi"] for t in by_col.values())
    grants = [p for p in lf.list_permissions(CatalogId=ACCOUNT)["PrincipalResourcePermissions"]
              if p["Resource"].get("Table", {}).get("Name") == "quarantine"]
    assert {p["Principal"]["DataLakePrincipalIdentifier"] for p in grants} == {policy.principals["clinicians"].as_written}
    assert "quarantine" not in lf_tags_config(policy, catalog)
    again = make_plan(desired, read_live(gw, scope), scope, policy.file, {})
    assert again.changes == [], [c.text for c in again.changes]


def test_govern_local_names_lake_tables_instead_of_asking_for_dbt(tmp_path, capsys):
    import duckdb

    wh = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(wh)).close()
    assert main(["govern", "local", "--policy", str(write(tmp_path)), "--warehouse", str(wh), "--principal", "clinicians"]) == 0
    captured = capsys.readouterr()
    assert "note: mmhealth_lake_meta.quarantine: lake tables, governed on Lake Formation only" in captured.err
    assert "preview of the policy, not a security boundary" in captured.out


def test_access_json_lists_the_quarantine_reader(tmp_path, capsys):
    assert main(["govern", "access", "--policy", str(write(tmp_path)), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["access"]
    q = [r for r in rows if r["table"] == "mmhealth_lake_meta.quarantine"]
    assert {r["principal"] for r in q} == {"clinicians"} and {r["classification"] for r in q} == {"phi"}
