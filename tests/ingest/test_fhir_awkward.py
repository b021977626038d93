"""FHIR never aborts a run and never loses a record (issue 15, "FHIR"): every awkward case of tests/fhir_awkward.py
is ingested by the real CLI in a child process (a crash of the process - DuckDB overflowing its stack on a deep
record - fails the test instead of killing pytest), and each record's fate is reconciled with a plain `json`
reading of the same files."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest

from fhir_awkward import BOM, SAMPLE, dumps, independent_fates, patient, write_awkward_fhir
from mmhealth.ingest.fhir.verify import raw_key_count

from .conftest import cli, connect


def ingest(source, lake, *extra: str) -> dict:
    proc = cli("ingest", str(source), "--lake", str(lake), "--modality", "fhir", "--json", "--quiet", *extra,
               check=False)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)["modalities"]["fhir"]


@pytest.fixture(scope="module")
def awkward_files(tmp_path_factory):
    return write_awkward_fhir(tmp_path_factory.mktemp("awkward-src"))


@pytest.fixture(scope="module")
def awkward(awkward_files, tmp_path_factory):
    """Every awkward file in one run."""
    lake = tmp_path_factory.mktemp("awkward-fhir-lake") / "lake"
    summary = ingest(awkward_files, lake)
    return awkward_files, lake, summary


@pytest.fixture(scope="module")
def case(awkward_files, tmp_path_factory):
    """A lake of only the named awkward files (each issue bullet on its own: one bug cannot hide another)."""
    def build(*names: str):
        src = tmp_path_factory.mktemp("case-src")
        for name in names:
            shutil.copy2(awkward_files / name, src / name)
        lake = tmp_path_factory.mktemp("case-lake") / "lake"
        return src, lake, ingest(src, lake)
    return build


def _loaded_rows(con) -> Counter:
    """lake_source -> rows, over every healthlake table."""
    rows: Counter = Counter()
    for (table,) in con.execute("SELECT table_name FROM information_schema.tables "
                                "WHERE table_schema = 'healthlake'").fetchall():
        for source, n in con.execute(f"SELECT lake_source, count(*) FROM healthlake.{table} GROUP BY 1").fetchall():
            rows[source] += n
    return rows


def test_every_record_has_the_fate_a_plain_json_reading_expects(awkward):
    folder, lake, summary = awkward
    expected = independent_fates(folder)
    con = connect(lake)
    quarantined = {(src, pos): reason.split(":")[0] for src, pos, reason in con.execute(
        "SELECT lake_source, position, reason FROM lake_meta.quarantine").fetchall()}
    assert quarantined == {k: v.split(":", 1)[1] for k, v in expected.items() if v.startswith("quarantined")}
    loaded = Counter(name for (name, _), fate in expected.items() if fate == "loaded")
    assert _loaded_rows(con) == loaded
    assert summary["read"] == len(expected) == summary["loaded"] + summary["quarantined"] + summary["skipped"]
    assert summary["loaded"] == sum(loaded.values()) and summary["skipped"] == 0
    log = con.execute("SELECT sum(records_read), sum(records_loaded), sum(records_quarantined) "
                      "FROM lake_meta.ingest_log").fetchone()
    assert log == (len(expected), sum(loaded.values()), len(quarantined))


def test_deep_resources_load_with_the_deep_part_as_json_text(case):
    """A QuestionnaireResponse 40 items deep (83 JSON levels) loads; the lake types the first 32 levels and keeps
    the rest as JSON text, which still holds the deepest answer."""
    _, lake, _ = case("QuestionnaireResponse.ndjson", "Basic-deep-late.ndjson")
    con = connect(lake)
    item_type = con.execute("SELECT data_type FROM information_schema.columns WHERE table_name = "
                            "'questionnaireresponse' AND column_name = 'item'").fetchone()[0]
    assert item_type.startswith("STRUCT(") and "JSON" in item_type
    text = con.execute("SELECT CAST(item AS VARCHAR) FROM healthlake.questionnaireresponse "
                       "WHERE id = 'qr-40'").fetchone()[0]
    assert "leaf answer" in text and "q40" in text
    # the typed levels are real structs: the second level's linkId is a column value
    assert con.execute("SELECT item[1].item[1].linkid FROM healthlake.questionnaireresponse "
                       "WHERE id = 'qr-40'").fetchone()[0] == "q2"
    assert con.execute("SELECT count(*) FROM healthlake.basic WHERE id = 'deep-late-60'").fetchone()[0] == 1


def test_too_deep_is_quarantined_with_its_depth_and_the_rest_loads(case):
    _, lake, _ = case("Basic-deep.ndjson", "Basic-deep-late.ndjson", "deep-bundle.json")
    con = connect(lake)
    reasons = dict(con.execute("SELECT lake_source || ' ' || position, reason FROM lake_meta.quarantine "
                               "WHERE reason LIKE 'too-deep%'").fetchall())
    assert "nested 600 levels" in reasons["Basic-deep.ndjson line 2"]
    assert "nested 30,000 levels" in reasons["Basic-deep.ndjson line 3"]  # in DuckDB's inference sample
    assert "nested 700 levels" in reasons[f"Basic-deep-late.ndjson line {SAMPLE + 51}"]  # after it
    assert "nested 1,200 levels" in reasons["deep-bundle.json entry 1"]  # past Python's parser
    assert all("at most 500" in r for r in reasons.values())
    ok = {r[0] for r in con.execute("SELECT id FROM healthlake.basic WHERE id LIKE 'basic-ok-%'").fetchall()}
    assert ok == {"basic-ok-1", "basic-ok-2"}
    # the Bundle's other entries load, their urn:uuid references resolved across the deep entry
    assert con.execute("SELECT subject.reference FROM healthlake.observation WHERE id = 'awk-pb-obs'"
                       ).fetchone()[0] == "Patient/awk-pb1"


def test_a_rerun_reads_nothing_and_is_not_stuck(case):
    folder, lake, first = case("QuestionnaireResponse.ndjson", "Basic-deep.ndjson", "deep-bundle.json")
    assert first["files"]["read"] == 3
    again = ingest(folder, lake)
    assert again["files"]["read"] == 0 and again["read"] == 0 and again["files"]["unchanged"] == 3


def test_copies_of_one_id_are_all_kept_and_numbered_in_their_file(case):
    """Duplicates are versions, not errors: the lake keeps each copy; lake_position says which came later in its
    file (what the staging's current-version rule needs), in NDJSON and in Bundles."""
    _, lake, _ = case("Observation-dups.ndjson", "Observation-dups-2.ndjson", "dup-bundle.json")
    con = connect(lake)
    rows = con.execute("SELECT id, lake_source, lake_position, valuequantity.value FROM healthlake.observation "
                       "WHERE id LIKE 'dup-%' ORDER BY 1, 2, 3").fetchall()
    by_id: dict = {}
    for rid, source, position, value in rows:
        by_id.setdefault(rid, []).append((source, position, float(value)))
    assert by_id["dup-in-file"] == [("Observation-dups.ndjson", 1, 1.0), ("Observation-dups.ndjson", 3, 2.0)]
    assert by_id["dup-in-bundle"] == [("dup-bundle.json", 1, 5.0), ("dup-bundle.json", 2, 6.0)]
    assert sorted(s for s, _, _ in by_id["dup-across"]) == ["Observation-dups-2.ndjson", "Observation-dups.ndjson"]


def test_a_key_after_the_schema_sample_is_kept_however_keys_are_spaced(case):
    """The old proof counted `":` bytes: a key first seen after the 2,048-record sample (dropped by the copy) and
    another line's `"gender" :` (not counted) balanced, and birthDate was lost without a word."""
    folder, lake, _ = case("Patient-late-key.ndjson")
    expected = {}
    for line in (folder / "Patient-late-key.ndjson").read_text().splitlines():
        p = json.loads(line)
        if "birthDate" in p:
            expected[p["id"]] = p["birthDate"]
    assert len(expected) == 1
    got = dict(connect(lake).execute("SELECT id, birthdate FROM healthlake.patient WHERE birthdate IS NOT NULL "
                                     "AND lake_source = 'Patient-late-key.ndjson'").fetchall())
    assert got == expected


def test_the_source_key_count_sees_every_key_whatever_the_spacing(tmp_path):
    text = '{"a" : 1,"b":{"c"\t:2, "d"\r: [ {"e"  :"x: y"} ]}, "f":"say \\": \\" : hi"}\n'
    path = tmp_path / "k.ndjson"
    path.write_text(text)
    # 6 keys; the two quoted colons inside the string value may only raise the count, never lower it
    assert raw_key_count(path) >= 6
    compact = tmp_path / "c.ndjson"
    compact.write_text(dumps({"a": 1, "b": {"c": 2, "d": [{"e": "x: y"}]}}) + "\n")
    assert raw_key_count(compact) == 5


def test_lineage_keys_in_the_input_are_refused_and_a_changed_file_still_replaces(case):
    folder, lake, _ = case("Patient-lineage.ndjson")
    con = connect(lake)
    assert con.execute("SELECT count(*) FROM healthlake.patient WHERE lake_source = 'elsewhere.ndjson'"
                       ).fetchone()[0] == 0
    assert con.execute("SELECT lake_source FROM healthlake.patient WHERE id = 'lin-1'").fetchone()[0] == \
        "Patient-lineage.ndjson"
    con.close()
    # Edit the file: lin-1 leaves, lin-4 arrives, the lake_source key stays. Its old rows must go.
    (folder / "Patient-lineage.ndjson").write_text("".join(dumps(p) + "\n" for p in [
        patient("lin-4"), patient("lin-2", lake_source="elsewhere.ndjson")]))
    summary = ingest(folder, lake)
    assert summary["files"]["read"] == 1 and summary["loaded"] == 1 and summary["quarantined"] == 1
    con = connect(lake)
    ids = {r[0] for r in con.execute("SELECT id FROM healthlake.patient WHERE lake_source = "
                                     "'Patient-lineage.ndjson'").fetchall()}
    assert ids == {"lin-4"}
    assert con.execute("SELECT position FROM lake_meta.quarantine WHERE lake_source = 'Patient-lineage.ndjson'"
                       ).fetchall() == [("line 2",)]


def test_a_byte_order_mark_is_not_content(case):
    folder, lake, _ = case("Patient-bom.ndjson", "bom-bundle.json")
    assert (folder / "Patient-bom.ndjson").read_bytes().startswith(BOM)
    con = connect(lake)
    ids = {r[0] for r in con.execute("SELECT id FROM healthlake.patient WHERE lake_source IN "
                                     "('Patient-bom.ndjson', 'bom-bundle.json')").fetchall()}
    assert ids == {"bom-1", "bom-2", "bom-b1"}
    assert con.execute("SELECT count(*) FROM lake_meta.quarantine WHERE lake_source LIKE '%bom%'").fetchone()[0] == 0


def test_ids_that_are_not_strings_are_quarantined(case):
    _, lake, _ = case("Patient-ids.ndjson", "id-bundle.json")
    con = connect(lake)
    reasons = dict(con.execute("SELECT lake_source || ' ' || position, reason FROM lake_meta.quarantine "
                               "WHERE lake_source LIKE '%id%'").fetchall())
    assert reasons["Patient-ids.ndjson line 2"].startswith("invalid-id: id is a JSON number (12345)")
    assert reasons["Patient-ids.ndjson line 3"].startswith("invalid-id: id is a JSON boolean")
    assert reasons["Patient-ids.ndjson line 4"] == "missing-id"
    assert reasons["id-bundle.json entry 1"].startswith("invalid-id: id is a JSON number (7)")
    ids = {r[0] for r in con.execute("SELECT id FROM healthlake.patient WHERE lake_source LIKE '%id%'").fetchall()}
    assert ids == {"id-ok", "id-b-ok"}


def test_text_that_is_not_unicode_is_quarantined_not_a_crash(case):
    """`"\\ud800"` is grammatical JSON but no text: DuckDB refuses the line, Python reads it, and writing it on
    crashed the run with a UnicodeEncodeError."""
    _, lake, summary = case("Patient-surrogate.ndjson")
    assert (summary["loaded"], summary["quarantined"]) == (1, 1)
    reason = connect(lake).execute("SELECT reason FROM lake_meta.quarantine").fetchone()[0]
    assert reason.startswith("invalid-unicode:") and "\\ud800" in reason
