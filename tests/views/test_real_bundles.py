"""`mmhealth views run` on a lake ingested from the real Synthea bundles returns the rows an independent reading of
the same bundles with plain `json` gives (no project code on that side): demographics with forEachOrNull over
addresses, blood-pressure components with forEach, conditions with getReferenceKey(Patient), observation values
with unionAll over quantities and codings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import REAL_VIEWS, mmhealth

RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"


def _resources(folder: Path):
    """(resource, {fullUrl: resourceType}) for every entry of every bundle."""
    for path in sorted(folder.glob("*.json")):
        bundle = json.loads(path.read_text())
        types = {e["fullUrl"]: e["resource"]["resourceType"] for e in bundle["entry"] if "fullUrl" in e}
        for e in bundle["entry"]:
            yield e["resource"], types


def _ref_id(ref: dict | None, types: dict, want: str) -> str | None:
    value = (ref or {}).get("reference")
    if not value:
        return None
    if value in types:  # urn:uuid: of an entry in the same bundle
        return value.split(":")[-1] if types[value] == want else None
    rtype, _, rid = value.rpartition("/")
    return rid if rtype.split("/")[-1] == want else None


def _first(values):
    return next((v for v in values if v is not None), None)


def expected_demographics(folder):
    rows = []
    for r, _ in _resources(folder):
        if r["resourceType"] != "Patient":
            continue
        race = None
        for ext in r.get("extension", []):
            if ext.get("url") == RACE:
                race = race or _first(e.get("valueCoding", {}).get("display") for e in ext.get("extension", [])
                                      if e.get("url") == "ombCategory")
        base = {"patient_id": r["id"], "gender": r.get("gender"), "birth_date": r.get("birthDate"),
                "family": _first(n.get("family") for n in r.get("name", []) if n.get("use") == "official"),
                "race": race, "deceased": r.get("deceasedDateTime")}
        addresses = r.get("address") or []
        for i, a in enumerate(addresses):
            rows.append({**base, "address_index": i, "city": a.get("city"), "state": a.get("state"),
                         "postal_code": a.get("postalCode"), "lines": a.get("line", [])})
        if not addresses:
            rows.append({**base, "address_index": 0, "city": None, "state": None, "postal_code": None, "lines": None})
    return rows


def expected_blood_pressure(folder):
    rows = []
    for r, types in _resources(folder):
        if r["resourceType"] != "Observation":
            continue
        if not any(c.get("system") == "http://loinc.org" and c.get("code") == "55284-4"
                   for c in r.get("code", {}).get("coding", [])):
            continue
        for i, comp in enumerate(r.get("component", [])):
            q = comp.get("valueQuantity", {})
            rows.append({"observation_id": r["id"], "patient_id": _ref_id(r.get("subject"), types, "Patient"),
                         "effective": r.get("effectiveDateTime"), "component_index": i,
                         "component_code": _first(c.get("code") for c in comp.get("code", {}).get("coding", [])
                                                  if c.get("system") == "http://loinc.org"),
                         "value": q.get("value"), "unit": q.get("unit")})
    return rows


def expected_conditions(folder):
    rows = []
    for r, types in _resources(folder):
        if r["resourceType"] != "Condition":
            continue
        rows.append({"condition_id": r["id"], "patient_id": _ref_id(r.get("subject"), types, "Patient"),
                     "encounter_id": _ref_id(r.get("encounter"), types, "Encounter"),
                     "snomed_code": _first(c.get("code") for c in r.get("code", {}).get("coding", [])
                                           if c.get("system") == "http://snomed.info/sct"),
                     "display": r.get("code", {}).get("text"),
                     "clinical_status": _first(c.get("code") for c in r.get("clinicalStatus", {}).get("coding", [])),
                     "onset": r.get("onsetDateTime"), "abated": r.get("abatementDateTime")})
    return rows


def expected_observation_values(folder):
    rows = []
    for r, types in _resources(folder):
        if r["resourceType"] != "Observation":
            continue
        base = {"observation_id": r["id"], "patient_id": _ref_id(r.get("subject"), types, "Patient"),
                "code": _first(c.get("code") for c in r.get("code", {}).get("coding", []))}
        if "valueQuantity" in r:
            q = r["valueQuantity"]
            rows.append({**base, "value_kind": "quantity", "value_number": q.get("value"), "value_unit": q.get("unit"),
                         "value_code": None})
        for c in r.get("valueCodeableConcept", {}).get("coding", []):
            rows.append({**base, "value_kind": "coded", "value_number": None, "value_unit": None,
                         "value_code": c.get("code")})
    return rows


def _canon(rows):
    def norm(v):
        return round(v, 9) if isinstance(v, float) else v
    return sorted(json.dumps({k: norm(v) for k, v in r.items()}, sort_keys=True) for r in rows)


@pytest.mark.parametrize("view, expected, min_rows", [
    ("demographics", expected_demographics, 9),
    ("blood_pressure", expected_blood_pressure, 100),
    ("conditions", expected_conditions, 40),
    ("observation_values", expected_observation_values, 600),
])
def test_view_rows_equal_an_independent_reading(view, expected, min_rows, synthea_lake, testdata):
    proc = mmhealth("views", "run", str(REAL_VIEWS / f"{view}.json"), "--lake", str(synthea_lake))
    got = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    want = expected(testdata / "fhir" / "synthea-bundles")
    assert len(want) >= min_rows  # the reading found the data it is about
    assert _canon(got) == _canon(want)
    assert f"{len(want)} rows" in proc.stderr


def test_forEachOrNull_keeps_a_patient_without_address(synthea_lake, tmp_path):
    # the real patients all have an address; a view over an element none of them carries keeps them all, with nulls
    view = {"resource": "Patient", "name": "no_photo", "select": [
        {"column": [{"name": "id", "path": "id"}]},
        {"forEachOrNull": "photo", "column": [{"name": "photo_title", "path": "title"}]}]}
    (tmp_path / "v.json").write_text(json.dumps(view))
    proc = mmhealth("views", "run", str(tmp_path / "v.json"), "--lake", str(synthea_lake), "--format", "csv")
    lines = proc.stdout.splitlines()
    assert lines[0] == "id,photo_title" and len(lines) == 1 + 9
    assert all(line.endswith(",") for line in lines[1:])


def test_parquet_output(synthea_lake, tmp_path, testdata):
    import pyarrow.parquet as pq

    out = tmp_path / "bp.parquet"
    mmhealth("views", "run", str(REAL_VIEWS / "blood_pressure.json"), "--lake", str(synthea_lake),
             "--format", "parquet", "--out", str(out))
    t = pq.read_table(out)
    assert t.column_names == ["observation_id", "patient_id", "effective", "component_index", "component_code",
                              "value", "unit"]
    assert t.num_rows == len(expected_blood_pressure(testdata / "fhir" / "synthea-bundles"))
    assert str(t.schema.field("value").type) == "double" and str(t.schema.field("component_index").type) == "int64"
