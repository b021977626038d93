"""Every FHIR file in the shared test data, reconciled with a plain `json` count, and the HealthLake shape."""

from __future__ import annotations

import json
from collections import Counter

from .conftest import connect


def _not_fhir_documents(root) -> int:
    """JSON files that are no resource themselves (the SQL-on-FHIR test suite and its JSON schemas): the reader
    skips them as `not-fhir`."""
    n = 0
    for path in sorted(root.rglob("*.json")):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        doc = json.loads(path.read_text())
        n += isinstance(doc, dict) and "resourceType" not in doc
    return n


def _expected_counts(testdata) -> tuple[Counter, int]:
    """(lake_source, table) -> records, by reading the files with `json` alone; and lines in log.ndjson."""
    counts: Counter = Counter()
    log_lines = 0
    root = testdata
    for path in sorted((root / "fhir" / "bulk-ndjson").glob("*.ndjson")):
        rel = path.relative_to(root).as_posix()
        lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
        if path.name == "log.ndjson":
            log_lines = len(lines)
            continue
        for line in lines:
            counts[(rel, json.loads(line)["resourceType"].lower())] += 1
    for path in sorted((root / "fhir" / "synthea-bundles").glob("*.json")):
        rel = path.relative_to(root).as_posix()
        for entry in json.loads(path.read_text())["entry"]:
            counts[(rel, entry["resource"]["resourceType"].lower())] += 1
    return counts, log_lines


def test_every_fhir_record_is_loaded_and_counts_reconcile(testdata, testdata_lake):
    lake, report = testdata_lake
    expected, log_lines = _expected_counts(testdata)
    con = connect(lake)
    tables = {t for (t,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'healthlake'").fetchall()}
    assert tables == {t for _, t in expected}
    actual: Counter = Counter()
    for table in tables:
        for source, n in con.execute(f"SELECT lake_source, count(*) FROM healthlake.{table} GROUP BY 1").fetchall():
            actual[(source, table)] = n
    assert actual == expected
    fhir = report.modalities["fhir"]
    assert fhir.loaded == sum(expected.values())
    # log.ndjson and JSON that is not FHIR (the SQL-on-FHIR suite's test files): skipped and counted, not loaded
    assert log_lines > 0
    assert fhir.skipped == log_lines + _not_fhir_documents(testdata)
    assert fhir.quarantined == 0
    assert fhir.read == fhir.loaded + fhir.quarantined + fhir.skipped


def test_healthlake_shape(testdata_lake):
    lake, _ = testdata_lake
    con = connect(lake)
    cols = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_schema = 'healthlake' AND table_name = 'patient'").fetchall())
    assert all(c == c.lower() for c in cols)
    assert cols["birthdate"] == "VARCHAR"  # a FHIR date stays the string the source had
    assert cols["extension"] == "JSON[]"
    assert cols["name"].startswith("STRUCT(") and cols["name"].endswith("[]")
    assert "given VARCHAR[]" in cols["name"]  # nested names lower-cased too
    # The reference system reads extensions with json_extract on the list element.
    urls = {u for (u,) in con.execute(
        "SELECT json_extract_string(extension[1], '$.url') FROM healthlake.patient").fetchall()}
    assert "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race" in urls
    # Choice types under their typed names.
    obs = {c for (c,) in con.execute("SELECT column_name FROM information_schema.columns "
                                     "WHERE table_schema = 'healthlake' AND table_name = 'observation'").fetchall()}
    assert {"valuequantity", "valuecodeableconcept", "effectivedatetime"} <= obs
    value = con.execute("SELECT valuequantity.value FROM healthlake.observation "
                        "WHERE valuequantity IS NOT NULL LIMIT 1").fetchone()[0]
    assert isinstance(value, float)


def test_bundle_urn_references_resolved(testdata_lake):
    lake, _ = testdata_lake
    con = connect(lake)
    n_urn, n_total = con.execute(
        "SELECT count(*) FILTER (WHERE subject.reference LIKE 'urn:%'), count(*) FROM healthlake.encounter "
        "WHERE lake_source LIKE '%synthea-bundles%'").fetchone()
    assert n_total > 0 and n_urn == 0
    # Each resolved reference names a patient that is in the lake.
    dangling = con.execute(
        "SELECT count(*) FROM healthlake.encounter e WHERE e.lake_source LIKE '%synthea-bundles%' AND NOT EXISTS "
        "(SELECT 1 FROM healthlake.patient p WHERE e.subject.reference = 'Patient/' || p.id)").fetchone()[0]
    assert dangling == 0


def test_schema_is_the_union_of_the_resources(testdata, testdata_lake):
    """A field carried by only some resources is still a column (here: Patient.deceasedDateTime)."""
    lake, _ = testdata_lake
    patients = [json.loads(ln) for ln in (testdata / "fhir/bulk-ndjson/Patient.000.ndjson").read_text().splitlines()]
    with_field = sum(1 for p in patients if "deceasedDateTime" in p)
    assert 0 < with_field < len(patients)
    con = connect(lake)
    n = con.execute("SELECT count(deceaseddatetime) FROM healthlake.patient "
                    "WHERE lake_source = 'fhir/bulk-ndjson/Patient.000.ndjson'").fetchone()[0]
    assert n == with_field
