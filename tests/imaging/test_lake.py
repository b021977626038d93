"""`mmhealth ingest --modality imaging` end to end into a local lake: tables queryable in lake.duckdb,
quarantine shared with the other modalities, reruns idempotent."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from imaging_testkit import SeriesSpec, write_series
from mmhealth.cli import main


def query(lake, sql):
    con = duckdb.connect(str(lake / "lake.duckdb"), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def mixed_source(cohort, testdata, tmp_path_factory):
    """The synthetic cohort plus the real test files (good and bad) in one tree."""
    root, manifest = cohort
    src = tmp_path_factory.mktemp("mixed")
    shutil.copytree(root, src / "cohort")
    shutil.copytree(testdata / "dicom", src / "real", copy_function=shutil.copy)
    for p in (src / "real").rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return src, manifest


def test_cli_ingest_writes_queryable_imaging_tables(mixed_source, tmp_path, capsys):
    src, manifest = mixed_source
    lake = tmp_path / "lake"
    assert main(["ingest", str(src), "--lake", str(lake), "--modality", "imaging", "--jobs", "2",
                 "--quiet", "--json"]) == 0
    out = capsys.readouterr().out
    import json

    summary = json.loads(out)["modalities"]["imaging"]
    assert summary["read"] == summary["loaded"] + summary["quarantined"] + summary["skipped"]
    files = sum(1 for p in src.rglob("*") if p.is_file())
    assert summary["read"] == files

    n_rad, = query(lake, "select count(*) from imaging.radiomics")[0]
    assert n_rad == query(lake, "select count(*) from imaging.image_sets where radiomics_status = 'ok'")[0][0]
    in_lake = {r[0] for r in query(lake, "select seriesinstanceuid from imaging.radiomics")}
    assert {m["series_instance_uid"] for m in manifest} <= in_lake
    # Every image set without a radiomics row says why.
    assert query(lake, "select count(*) from imaging.image_sets where radiomics_status is null")[0][0] == 0
    joined = query(lake, """
        select count(*) from imaging.image_sets i
        join imaging.series s using (imagesetid)
        join imaging.studies st on st.studyinstanceuid = i.studyinstanceuid
        join imaging.radiomics r using (imagesetid)""")[0][0]
    assert joined == n_rad
    q = dict(query(lake, "select split_part(reason, ':', 1), count(*) from lake_meta.quarantine "
                         "where modality = 'imaging' group by 1"))
    # Only bad files are quarantined (MR_truncated.dcm, no_meta.dcm); series that cannot form one volume (the
    # real localizers) load their metadata and say why they have no radiomics.
    assert q == {"truncated": 1, "unreadable": 1}
    assert summary["quarantined"] == sum(q.values())
    geometry = dict(query(lake, "select radiomics_status, sum(numberofinstances) from imaging.image_sets "
                                "where radiomics_status like 'inconsistent-geometry%' group by 1"))
    assert sum(geometry.values()) == 4 + 2 + 3 + 3 + 7
    # Every file under SOURCE has exactly one stored fate: an instance row, a quarantine row or a skipped row.
    stored = query(lake, """select lake_source, count(*) from (
        select lake_source from imaging.instances union all
        select lake_source from lake_meta.quarantine union all
        select lake_source from lake_meta.skipped) group by 1""")
    assert dict(stored) == {p.relative_to(src).as_posix(): 1 for p in src.rglob("*") if p.is_file()}
    assert summary["skipped"] == query(lake, "select sum(record_count) from lake_meta.skipped")[0][0]
    # The manifest keeps the study of every real file that loaded, as pydicom reads it: what a later run uses to
    # re-read a changed study's other files without opening the rest (test_a_changed_study_reopens_only_its_own_files).
    import pydicom

    groups = {rel: e["group"] for rel, e in json.loads((lake / "_lake" / "manifest.json").read_text())["files"].items()}
    loaded = [rel for (rel,) in query(lake, "select lake_source from imaging.instances") if rel.startswith("real/")]
    assert loaded and {rel: groups[rel] for rel in loaded} == {
        rel: str(pydicom.dcmread(src / rel, stop_before_pixels=True, force=True).StudyInstanceUID) for rel in loaded}

    # The same input again adds nothing.
    assert main(["ingest", str(src), "--lake", str(lake), "--modality", "imaging", "--quiet"]) == 0
    assert query(lake, "select count(*) from imaging.radiomics")[0][0] == n_rad
    assert query(lake, "select count(*), count(distinct sopinstanceuid) from imaging.instances")[0] == (
        summary["loaded"], summary["loaded"])


def test_new_dicom_files_are_hashed_on_their_header_read_in_the_workers(mixed_source, tmp_path, monkeypatch):
    """The lake does not read new DICOM files once more to hash them (at 100,000 patients, 23 GB): the header pass
    hashes each one, in the worker processes, and the manifest and ingest log keep checksums equal to hashlib's
    sha256 of every file's bytes, whatever the file's fate (loaded, quarantined, skipped)."""
    import hashlib
    import json

    import mmhealth.lake.ingest as lake_ingest
    from mmhealth.ingest.imaging import reader

    src, _ = mixed_source
    monkeypatch.setattr(reader, "HEADER_CHUNK", 4)  # the pool path, in chunks, on a small source
    hashed: list[str] = []
    real = lake_ingest.file_checksum
    monkeypatch.setattr(lake_ingest, "file_checksum", lambda path: hashed.append(str(path)) or real(path))
    lake = tmp_path / "lake"
    report = lake_ingest.run_ingest(src, str(lake), ["imaging"], {"workers": 2, "radiomics": False}, progress=False)
    assert hashed == []
    expected = {p.relative_to(src).as_posix(): "sha256:" + hashlib.sha256(p.read_bytes()).hexdigest()
                for p in src.rglob("*") if p.is_file()}
    assert report.modalities["imaging"].read == len(expected) > 2 * 2 * 4
    files = json.loads((lake / "_lake" / "manifest.json").read_text())["files"]
    assert {rel: e["checksum"] for rel, e in files.items()} == expected
    assert dict(query(lake, "select lake_source, checksum from lake_meta.ingest_log")) == expected


def test_unknown_segmenter_is_one_clear_error(cohort, tmp_path, capsys):
    root, _ = cohort
    code = main(["ingest", str(root), "--lake", str(tmp_path / "lake"), "--modality", "imaging",
                 "--segmenter", "no-such-model", "--quiet"])
    assert code == 1
    assert "unknown segmenter" in capsys.readouterr().err


def test_added_slice_rebuilds_its_series(tmp_path):
    spec = SeriesSpec("p-inc", 6.0, size=24, slices=6, seed=9)
    full = tmp_path / "full"
    write_series(full, spec)
    src = tmp_path / "src"
    src.mkdir()
    for p in sorted(full.iterdir())[:5]:
        shutil.copy(p, src / p.name)
    lake = tmp_path / "lake"
    assert main(["ingest", str(src), "--lake", str(lake), "--modality", "imaging", "--quiet"]) == 0
    shutil.copy(sorted(full.iterdir())[5], src / "6.dcm")
    assert main(["ingest", str(src), "--lake", str(lake), "--modality", "imaging", "--quiet"]) == 0
    assert query(lake, "select count(*), max(numberofinstances), max(depth) from imaging.image_sets")[0] == (1, 6, 6)
    assert query(lake, "select count(*) from imaging.instances")[0][0] == 6
    assert query(lake, "select count(*) from imaging.radiomics")[0][0] == 1


def test_a_changed_study_reopens_only_its_own_files(tmp_path, monkeypatch):
    """The manifest keeps each file's study, so a slice added to one study reads that study's other files again,
    not every file in the lake; a manifest without studies (an older lake) falls back to reading them all."""
    import json

    import pydicom

    from mmhealth.ingest.imaging import reader

    src = tmp_path / "src"
    full = tmp_path / "full"
    kept = write_series(full, SeriesSpec("p-grow", 6.0, size=24, slices=5, seed=3))
    (src / "grow").mkdir(parents=True)
    for p in kept[:4]:
        shutil.copy(p, src / "grow" / p.name)
    other = write_series(src / "other", SeriesSpec("p-still", 5.0, size=24, slices=4, seed=4))
    lake = tmp_path / "lake"
    assert main(["ingest", str(src), "--lake", str(lake), "--modality", "imaging", "--quiet"]) == 0
    manifest = json.loads((lake / "_lake" / "manifest.json").read_text())
    studies = {rel: e["group"] for rel, e in manifest["files"].items()}
    # the study each file names, as pydicom reads it
    assert studies == {f"{d}/{p.name}": str(pydicom.dcmread(p, stop_before_pixels=True).StudyInstanceUID)
                       for d, files in (("grow", kept[:4]), ("other", other)) for p in files}

    opened: list[str] = []
    real = reader.read_header
    monkeypatch.setattr(reader, "read_header", lambda path, rel: opened.append(rel) or real(path, rel))
    shutil.copy(kept[4], src / "grow" / kept[4].name)
    assert main(["ingest", str(src), "--lake", str(lake), "--modality", "imaging", "--quiet"]) == 0
    assert sorted(opened) == sorted(f"grow/{p.name}" for p in kept)  # the study's files, none of "other"
    assert query(lake, "select count(*) from imaging.instances")[0][0] == 9
    assert sorted(query(lake, "select numberofinstances from imaging.image_sets")) == [(4,), (5,)]

    # A lake whose manifest predates studies: every unchanged file is opened to find the changed study's.
    manifest = json.loads((lake / "_lake" / "manifest.json").read_text())
    for entry in manifest["files"].values():
        entry.pop("group")
    (lake / "_lake" / "manifest.json").write_text(json.dumps(manifest))
    opened.clear()
    extra = write_series(tmp_path / "extra", SeriesSpec("p-grow", 6.0, size=24, slices=1, seed=5,
                                                         study_uid=studies["grow/" + kept[0].name]))
    shutil.copy(extra[0], src / "grow" / "extra.dcm")
    assert main(["ingest", str(src), "--lake", str(lake), "--modality", "imaging", "--quiet"]) == 0
    assert len(opened) == 10  # the new file and all nine unchanged ones
    assert query(lake, "select count(*) from imaging.instances")[0][0] == 10
    # ... once: that run recorded every file's study, the ones it opened only to learn it included
    manifest = json.loads((lake / "_lake" / "manifest.json").read_text())
    grow = studies["grow/" + kept[0].name]
    assert {rel: e["group"] for rel, e in manifest["files"].items()} == {
        **studies, f"grow/{kept[4].name}": grow, "grow/extra.dcm": grow}
    opened.clear()
    (src / "grow" / "extra.dcm").unlink()
    shutil.copy(write_series(tmp_path / "later", SeriesSpec("p-still", 5.0, size=24, slices=1, seed=6,
                                                            study_uid=studies["other/" + other[0].name]))[0],
                src / "other" / "later.dcm")
    assert main(["ingest", str(src), "--lake", str(lake), "--modality", "imaging", "--quiet"]) == 0
    assert sorted(opened) == sorted(["other/later.dcm"] + [f"other/{p.name}" for p in other])
