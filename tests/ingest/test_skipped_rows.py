"""`lake_meta.skipped`: input deliberately not loaded is stored with file, position and reason (not only counted),
and a changed file's skipped rows are replaced like its other rows."""

from __future__ import annotations

import json

from mmhealth.lake.ingest import run_ingest

from .conftest import connect


def _patient(pid: str) -> str:
    return json.dumps({"resourceType": "Patient", "id": pid, "gender": "female"})


def test_skipped_input_is_stored_per_file_and_replaced_when_the_file_changes(tmp_path):
    src, lake = tmp_path / "src", tmp_path / "lake"
    (src / "fhir").mkdir(parents=True)
    (src / "fhir" / "Patient.ndjson").write_text(_patient("p1") + "\n" + _patient("p2") + "\n")
    log = src / "fhir" / "log.ndjson"  # a bulk export's log: three records, none of them clinical data
    log.write_text("\n".join(json.dumps({"transactionTime": f"2024-01-0{i}"}) for i in (1, 2, 3)) + "\n")
    report = run_ingest(src, str(lake), ["fhir"], {}, progress=False)
    assert report.modalities["fhir"].skipped == 3
    rows = connect(lake).execute(
        "SELECT lake_source, position, modality, reason, record_count FROM lake_meta.skipped").fetchall()
    assert rows == [("fhir/log.ndjson", "file", "fhir", "bulk-export-log", 3)]
    # Counted records and stored rows agree: the summary's `skipped` is the sum of record_count.
    assert report.tables["lake_meta.skipped"] == 1

    log.write_text(json.dumps({"transactionTime": "2024-02-01"}) + "\n")
    run_ingest(src, str(lake), ["fhir"], {}, progress=False)
    rows = connect(lake).execute("SELECT lake_source, record_count FROM lake_meta.skipped").fetchall()
    assert rows == [("fhir/log.ndjson", 1)]


def test_a_lake_without_skipped_input_still_has_the_table(tmp_path):
    src, lake = tmp_path / "src", tmp_path / "lake"
    (src / "fhir").mkdir(parents=True)
    (src / "fhir" / "Patient.ndjson").write_text(_patient("p1") + "\n")
    run_ingest(src, str(lake), ["fhir"], {}, progress=False)
    con = connect(lake)
    cols = [r[0] for r in con.execute("DESCRIBE lake_meta.skipped").fetchall()]
    assert cols[:7] == ["run_id", "lake_source", "position", "modality", "reason", "record_count", "skipped_at"]
    assert con.execute("SELECT count(*) FROM lake_meta.skipped").fetchone()[0] == 0
