"""Awkward input never crashes a run and is never silently dropped."""

from __future__ import annotations

import gzip
import json

import pytest

from mmhealth.lake.ingest import run_ingest

from .conftest import cli, connect

PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female"}
CONDITION = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
             "code": {"coding": [{"code": "44054006"}]}}


@pytest.fixture(scope="module")
def awkward(tmp_path_factory):
    src = tmp_path_factory.mktemp("awkward")
    full = gzip.compress(b"".join(json.dumps({**PATIENT, "id": f"g{i}"}).encode() + b"\n" for i in range(200)))
    (src / "truncated.ndjson.gz").write_bytes(full[: len(full) // 2])
    (src / "bad_bundle.json").write_text('{"resourceType": "Bundle", "type": "collection", "entry": [')
    (src / "single.json").write_text(json.dumps({"resourceType": "Observation", "id": "o1", "status": "final"}))
    (src / "mixed.ndjson").write_text("\n".join([
        json.dumps(PATIENT), json.dumps(CONDITION), "",
        json.dumps({"resourceType": "OperationOutcome", "id": "oo", "issue": []}),
        "[1, 2]", json.dumps({"id": "no-type"}),
    ]) + "\n")
    (src / "empty.ndjson").write_bytes(b"")
    (src / "latin1.ndjson").write_bytes(json.dumps(PATIENT).encode() + b"\n" +
                                        b'{"resourceType":"Patient","id":"p2","gender":"m\xe4le"}\n')
    lake = tmp_path_factory.mktemp("awkward-lake") / "lake"
    report = run_ingest(src, str(lake), ["fhir"], {}, progress=False)
    return src, lake, report


def test_counts_balance_and_nothing_is_dropped(awkward):
    _, lake, report = awkward
    fhir = report.modalities["fhir"]
    assert fhir.read == fhir.loaded + fhir.quarantined + fhir.skipped
    con = connect(lake)
    log = {src: (r, l, q, s) for src, r, l, q, s in con.execute(
        "SELECT lake_source, records_read, records_loaded, records_quarantined, records_skipped "
        "FROM lake_meta.ingest_log").fetchall()}
    assert log["mixed.ndjson"] == (5, 2, 2, 1)  # blank line is not a record; OperationOutcome skipped
    assert log["single.json"] == (1, 1, 0, 0)
    assert log["empty.ndjson"] == (0, 0, 0, 0)
    assert log["bad_bundle.json"] == (1, 0, 1, 0)
    assert log["latin1.ndjson"][0] == 2 and log["latin1.ndjson"][1] + log["latin1.ndjson"][2] == 2
    r, loaded, q, _ = log["truncated.ndjson.gz"]
    assert q == 1 and 0 < loaded < 200 and r == loaded + q


def test_reasons(awkward):
    _, lake, _ = awkward
    reasons = {(src, reason.split(":")[0]) for src, reason in connect(lake).execute(
        "SELECT lake_source, reason FROM lake_meta.quarantine").fetchall()}
    assert ("mixed.ndjson", "not-a-resource") in reasons
    assert ("mixed.ndjson", "missing-resourceType") in reasons
    assert ("bad_bundle.json", "malformed-json") in reasons
    assert ("truncated.ndjson.gz", "unreadable-file") in reasons


def test_a_file_of_several_types_feeds_each_table_only_its_columns(awkward):
    _, lake, _ = awkward
    con = connect(lake)
    patient_cols = {c for (c,) in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'patient'").fetchall()}
    assert "subject" not in patient_cols and "gender" in patient_cols
    assert con.execute("SELECT count(*) FROM healthlake.condition WHERE lake_source = 'mixed.ndjson'").fetchone()[0] == 1
    assert con.execute("SELECT status FROM healthlake.observation").fetchall() == [("final",)]


def test_cli_errors_are_one_line_with_the_fix(tmp_path):
    missing = cli("ingest", str(tmp_path / "nope"), "--lake", str(tmp_path / "lake"), check=False)
    assert missing.returncode == 1
    assert "source does not exist" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    bad = cli("ingest", str(tmp_path), "--lake", str(tmp_path / "lake"), "--modality", "fhri", check=False)
    assert bad.returncode == 1 and "choose from" in bad.stderr
    helped = cli("ingest", "--help")
    assert "--max-bad" in helped.stdout and "--segmenter" in helped.stdout
