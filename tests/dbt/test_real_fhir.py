"""The marts work on real data: the public Synthea files in ../shared/testdata/fhir (bulk NDJSON and transaction
Bundles; no Observation, ImagingStudy or Claim resources and no genomics or imaging at all) are ingested and the whole
project is built and tested on them - absent tables and columns become typed empty results, not errors."""

from __future__ import annotations

import json
import subprocess

import pytest

from dbt_testkit import connect
from dbt_testkit import BIN, REPO, dbt_env


def _independent_ids(folder, resource_type: str) -> set[str]:
    """Resource ids counted with plain json, not project code."""
    ids = set()
    for path in sorted((folder / "bulk-ndjson").glob("*.ndjson")):
        for line in path.read_text().splitlines():
            if line.strip():
                res = json.loads(line)
                if res.get("resourceType") == resource_type and res.get("id"):
                    ids.add(res["id"])
    for path in sorted((folder / "synthea-bundles").glob("*.json")):
        for entry in json.loads(path.read_text()).get("entry", []):
            res = entry.get("resource") or {}
            if res.get("resourceType") == resource_type and res.get("id"):
                ids.add(res["id"])
    return ids


@pytest.fixture(scope="module")
def real_lake(testdata, dbt_scratch, alt_lakes):
    lake = dbt_scratch / "real-fhir-lake"
    proc = subprocess.run([str(BIN / "mmhealth"), "ingest", str(testdata / "fhir"), "--lake", str(lake),
                           "--modality", "fhir", "--quiet"],
                          cwd=REPO, env=dbt_env(lake), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = alt_lakes.dbt(lake, "build", "--exclude", "path:models/semantic")
    return lake, result


def test_whole_project_builds_green_on_real_fhir(real_lake):
    lake, result = real_lake
    assert "ERROR=0" in result.stdout and "FAIL" not in result.stdout.split("Done.")[-1]


def test_clinical_marts_hold_every_real_resource(real_lake, testdata):
    lake, _ = real_lake
    con = connect(lake / "warehouse.duckdb")
    try:
        for mart, id_col, rtype in [("dim_patient", "patient_id", "Patient"),
                                    ("fct_encounter", "encounter_id", "Encounter"),
                                    ("fct_condition", "condition_id", "Condition"),
                                    ("fct_procedure", "procedure_id", "Procedure"),
                                    ("fct_medication", "medication_request_id", "MedicationRequest")]:
            built = {r[0] for r in con.execute(f"select {id_col} from mmhealth_marts.{mart}").fetchall()}
            assert built == _independent_ids(testdata / "fhir", rtype), mart
        # real bundles use urn:uuid: references: every fact still finds its patient
        orphans = con.execute("""select count(*) from mmhealth_marts.fct_encounter as e
                                 left join mmhealth_marts.dim_patient as p using (patient_key)
                                 where p.patient_key is null""").fetchone()[0]
        assert orphans == 0
        observed = {r[0] for r in con.execute("select observation_id from mmhealth_marts.fct_observation").fetchall()}
        assert observed and observed <= _independent_ids(testdata / "fhir", "Observation")
        # absent modalities give empty, typed marts
        for mart in ("fct_variant_call", "fct_variant_clinvar", "patient_genomic_summary", "fct_radiomics"):
            assert con.execute(f"select count(*) from mmhealth_marts.{mart}").fetchone()[0] == 0, mart
        p360 = con.execute("""select count(*), count(*) filter (where has_genomics or has_imaging),
                                     count(*) filter (where n_encounters > 0) from mmhealth_marts.patient_360""").fetchone()
        assert p360[0] == len(_independent_ids(testdata / "fhir", "Patient")) and p360[1] == 0 and p360[2] > 0
    finally:
        con.close()
