"""Idempotence, incremental runs, and crash safety (kill -9 at chosen points, then rerun)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmhealth.errors import MMHealthError
from mmhealth.lake.ingest import run_ingest

from .conftest import MODALITIES, cli, connect, content_hashes


@pytest.fixture(scope="module")
def source(generated, tmp_path_factory) -> Path:
    """A private copy of the generated data (tests here change files)."""
    dest = tmp_path_factory.mktemp("src") / "data"
    shutil.copytree(generated, dest, ignore=shutil.ignore_patterns("dicom"))
    return dest


@pytest.fixture(scope="module")
def clean_hashes(source, tmp_path_factory):
    lake = tmp_path_factory.mktemp("clean") / "lake"
    run_ingest(source, str(lake), MODALITIES, {"reference": source / "reference/panel.fa"}, progress=False)
    return content_hashes(lake)


def _opts(source):
    return {"reference": source / "reference/panel.fa"}


def test_same_input_adds_nothing(source, clean_hashes, tmp_path):
    lake = tmp_path / "lake"
    run_ingest(source, str(lake), MODALITIES, _opts(source), progress=False)
    again = run_ingest(source, str(lake), MODALITIES, _opts(source), progress=False)
    assert all(m.files_read == 0 and m.read == 0 for m in again.modalities.values())
    assert content_hashes(lake) == clean_hashes


def test_changed_file_replaces_its_rows_and_only_it_is_read(source, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(source, src)
    lake = tmp_path / "lake"
    run_ingest(src, str(lake), MODALITIES, _opts(src), progress=False)
    con = connect(lake)
    before = dict(con.execute("SELECT lake_source, count(*) FROM healthlake.observation GROUP BY 1").fetchall())
    enc_before = content_hashes(lake)["healthlake.encounter"]
    q_before = con.execute("SELECT count(*) FROM lake_meta.quarantine").fetchone()[0]
    con.close()
    # Drop the last 3 lines of Observation.ndjson (and, with them, maybe a corrupt line: recount).
    obs = src / "fhir/Observation.ndjson"
    lines = obs.read_text().splitlines(keepends=True)
    obs.write_text("".join(lines[:-3]))
    report = run_ingest(src, str(lake), MODALITIES, _opts(src), progress=False)
    assert report.modalities["fhir"].files_read == 1
    assert report.modalities["genomics"].files_read == 0
    fresh = tmp_path / "fresh"
    run_ingest(src, str(fresh), MODALITIES, _opts(src), progress=False)
    now, scratch = content_hashes(lake), content_hashes(fresh)
    # As if the lake had been built from scratch, except the ingest log, which keeps its history.
    assert now.pop("lake_meta.ingest_log")[0] == scratch.pop("lake_meta.ingest_log")[0] + 1
    assert now == scratch
    con = connect(lake)
    after = dict(con.execute("SELECT lake_source, count(*) FROM healthlake.observation GROUP BY 1").fetchall())
    assert after["fhir/Observation.ndjson"] < before["fhir/Observation.ndjson"]
    assert content_hashes(lake)["healthlake.encounter"] == enc_before
    q_after = con.execute("SELECT count(*) FROM lake_meta.quarantine").fetchone()[0]
    assert q_after <= q_before
    # The ingest log keeps history: one more row, for the changed file.
    log = con.execute("SELECT lake_source FROM lake_meta.ingest_log ORDER BY ingested_at DESC LIMIT 1").fetchone()
    assert log == ("fhir/Observation.ndjson",)


def _ingest_until(source: Path, lake: Path, pause_at: str, tmp: Path) -> None:
    """Start `mmhealth ingest` in a child, let it reach `pause_at`, then SIGKILL it."""
    marker = tmp / pause_at
    env = {**os.environ, "MMHEALTH_FAILPOINTS": f"{pause_at}=pause", "MMHEALTH_FAILPOINT_DIR": str(tmp)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmhealth.cli", "ingest", str(source), "--lake", str(lake), "--modality",
         ",".join(MODALITIES), "--reference", str(source / "reference/panel.fa"), "--quiet"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "ingest never reached the pause point"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


def test_kill_during_first_read_then_rerun(source, clean_hashes, tmp_path):
    lake = tmp_path / "lake"
    _ingest_until(source, lake, "read-fhir", tmp_path)
    assert not (lake / "lake.duckdb").exists()  # nothing was committed, so there is no lake yet
    run_ingest(source, str(lake), MODALITIES, _opts(source), progress=False)
    assert content_hashes(lake) == clean_hashes


def test_kill_before_commit_leaves_previous_lake_then_rerun_completes(source, clean_hashes, tmp_path):
    lake = tmp_path / "lake"
    run_ingest(source, str(lake), ["fhir"], _opts(source), progress=False)
    previous = content_hashes(lake)
    # This run has nothing new for FHIR; it reads genomics, publishes the parts, and dies before the commit.
    _ingest_until(source, lake, "commit", tmp_path)
    assert list((lake / "omics").rglob("*.parquet")), "the killed run should have left uncommitted parts"
    assert content_hashes(lake) == previous  # the previous lake, readable and unchanged
    run_ingest(source, str(lake), MODALITIES, _opts(source), progress=False)
    assert content_hashes(lake) == clean_hashes
    committed = {p.relative_to(lake).as_posix() for p in lake.rglob("*.parquet") if "_lake" not in p.parts}
    import json

    manifest = json.loads((lake / "_lake/manifest.json").read_text())
    assert committed == {p["key"] for parts in manifest["tables"].values() for p in parts}  # garbage collected


class _RereadingReader:
    """A modality that, like a DICOM series, re-reads every file of a group when one file is added."""

    name = "fake"

    def discover(self, root):
        return sorted(root.glob("*.txt"))

    def read(self, files, ctx):
        import pyarrow as pa

        from mmhealth.ingest.records import FileDone, TableBatch

        for f in list(files) + list(ctx.unchanged):
            lines = f.path.read_text().split()
            yield TableBatch("imaging", "fake_rows", f.rel, pa.table({"value": lines}))
            yield FileDone(f.rel, read=len(lines), loaded=len(lines), quarantined=0, skipped=0)


def test_rows_of_unchanged_files_a_reader_rereads_are_replaced(tmp_path, monkeypatch):
    import mmhealth.lake.ingest as lake_ingest

    monkeypatch.setitem(lake_ingest.READERS, "fake", "tests:unused")
    monkeypatch.setattr(lake_ingest, "load_reader", lambda name: _RereadingReader())
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("1 2")
    lake = tmp_path / "lake"
    run_ingest(src, str(lake), ["fake"], {}, progress=False)
    (src / "b.txt").write_text("3")
    report = run_ingest(src, str(lake), ["fake"], {}, progress=False)
    assert report.modalities["fake"].files_read == 1  # only b.txt was new; a.txt was re-read by choice
    rows = connect(lake).execute("SELECT lake_source, value FROM imaging.fake_rows ORDER BY value").fetchall()
    assert rows == [("a.txt", "1"), ("a.txt", "2"), ("b.txt", "3")]


class _HashingReader(_RereadingReader):
    """A modality that hashes new files itself (`reports_checksums`), forgetting the one named `forget`."""

    reports_checksums = True
    forget = ""
    given: dict = {}

    def read(self, files, ctx):
        import dataclasses
        import hashlib

        for f in files:
            type(self).given[f.rel] = f.checksum
        for out in super().read(files, ctx):
            if type(out).__name__ == "FileDone" and out.source != self.forget:
                path = next(f.path for f in list(files) + list(ctx.unchanged) if f.rel == out.source)
                out = dataclasses.replace(out, checksum="sha256:" + hashlib.sha256(path.read_bytes()).hexdigest())
            yield out


def test_a_reader_that_reports_checksums_gets_new_files_unhashed_and_its_checksums_are_kept(tmp_path, monkeypatch):
    """New files reach such a reader without a checksum (the lake does not read them once more to hash them);
    what it reports is what the manifest and the ingest log keep. A file whose content changed is still hashed by
    the lake first (to tell a changed file from a touched one); a file closed without a checksum commits nothing."""
    import hashlib

    import mmhealth.lake.ingest as lake_ingest

    monkeypatch.setitem(lake_ingest.READERS, "fake", "tests:unused")
    monkeypatch.setattr(lake_ingest, "load_reader", lambda name: _HashingReader())
    hashed: list[str] = []
    real = lake_ingest.file_checksum
    monkeypatch.setattr(lake_ingest, "file_checksum", lambda path: hashed.append(path.name) or real(path))
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("1 2")
    (src / "b.txt").write_text("3")
    lake = tmp_path / "lake"
    _HashingReader.given = {}
    run_ingest(src, str(lake), ["fake"], {}, progress=False)
    assert hashed == [] and _HashingReader.given == {"a.txt": None, "b.txt": None}

    def sha(name):
        return "sha256:" + hashlib.sha256((src / name).read_bytes()).hexdigest()

    def kept():
        files = json.loads((lake / "_lake/manifest.json").read_text())["files"]
        log = connect(lake).execute("SELECT lake_source, checksum FROM lake_meta.ingest_log "
                                    "QUALIFY row_number() OVER (PARTITION BY lake_source ORDER BY run_id DESC) = 1"
                                    ).fetchall()
        return {rel: e["checksum"] for rel, e in files.items()}, dict(log)

    assert kept() == ({"a.txt": sha("a.txt"), "b.txt": sha("b.txt")},) * 2
    (src / "a.txt").write_text("1 2 4")
    _HashingReader.given = {}
    run_ingest(src, str(lake), ["fake"], {}, progress=False)
    assert hashed == ["a.txt"] and _HashingReader.given == {"a.txt": sha("a.txt")}
    assert kept() == ({"a.txt": sha("a.txt"), "b.txt": sha("b.txt")},) * 2

    (src / "c.txt").write_text("5")
    before = (lake / "_lake/manifest.json").read_text()
    monkeypatch.setattr(_HashingReader, "forget", "c.txt")
    with pytest.raises(MMHealthError, match=r"^c\.txt: the fake reader closed it without its checksum - nothing "):
        run_ingest(src, str(lake), ["fake"], {}, progress=False)
    assert (lake / "_lake/manifest.json").read_text() == before


def _export(folder: Path, genders: dict[str, str]) -> Path:
    """A bulk-export-like folder: fhir/Patient.ndjson with one Patient per id."""
    (folder / "fhir").mkdir(parents=True)
    lines = [json.dumps({"resourceType": "Patient", "id": pid, "gender": g}) for pid, g in genders.items()]
    (folder / "fhir" / "Patient.ndjson").write_text("\n".join(lines) + "\n")
    return folder


def _patients(lake: Path) -> list[tuple]:
    con = connect(lake)
    try:
        return con.execute("SELECT id, gender, lake_source FROM healthlake.patient ORDER BY id, lake_source").fetchall()
    finally:
        con.close()


def test_another_export_at_the_same_paths_is_refused_instead_of_replacing_the_first(tmp_path):
    lake = tmp_path / "lake"
    day1 = _export(tmp_path / "exports" / "day-1", {"p1": "male", "p2": "female"})
    day2 = _export(tmp_path / "exports" / "day-2", {"p2": "male", "p3": "female"})
    run_ingest(day1, str(lake), ["fhir"], {}, progress=False)
    before = content_hashes(lake)
    with pytest.raises(MMHealthError) as refused:
        run_ingest(day2, str(lake), ["fhir"], {}, progress=False)
    message = str(refused.value)
    assert "fhir/Patient.ndjson" in message and f"read from {day1.resolve()}" in message
    assert "--source-moved" in message and "nothing was read" in message
    assert content_hashes(lake) == before  # day-1's patients are all still there
    # The fix the message gives: the export gets paths of its own inside the folder the lake was built from.
    shutil.copytree(day2, day1 / "day-2")
    report = run_ingest(day1, str(lake), ["fhir"], {}, progress=False)
    assert report.modalities["fhir"].files_read == 1
    assert _patients(lake) == [("p1", "male", "fhir/Patient.ndjson"), ("p2", "male", "day-2/fhir/Patient.ndjson"),
                               ("p2", "female", "fhir/Patient.ndjson"), ("p3", "female", "day-2/fhir/Patient.ndjson")]


def test_the_same_folder_moved_reads_nothing_and_its_changes_replace_with_source_moved(tmp_path):
    lake = tmp_path / "lake"
    first = _export(tmp_path / "a" / "src", {"p1": "male"})
    run_ingest(first, str(lake), ["fhir"], {}, progress=False)
    moved = tmp_path / "b" / "src"
    shutil.copytree(first, moved)  # keeps mtimes: nothing to read
    assert run_ingest(moved, str(lake), ["fhir"], {}, progress=False).modalities["fhir"].files_read == 0
    # Seen there once, the folder is the file's origin: a change there is an ordinary replacement.
    (moved / "fhir" / "Patient.ndjson").write_text(json.dumps({"resourceType": "Patient", "id": "p1", "gender": "female"}))
    run_ingest(moved, str(lake), ["fhir"], {}, progress=False)
    assert _patients(lake) == [("p1", "female", "fhir/Patient.ndjson")]
    # Moved again and changed on the way: refused, unless the run says the folder moved.
    again = tmp_path / "c" / "src"
    shutil.copytree(moved, again)
    (again / "fhir" / "Patient.ndjson").write_text(json.dumps({"resourceType": "Patient", "id": "p1", "gender": "other"}))
    with pytest.raises(MMHealthError):
        run_ingest(again, str(lake), ["fhir"], {}, progress=False)
    run_ingest(again, str(lake), ["fhir"], {"source_moved": True}, progress=False)
    assert _patients(lake) == [("p1", "other", "fhir/Patient.ndjson")]


def test_cli_names_the_clashing_file_and_both_fixes(tmp_path):
    lake = tmp_path / "lake"
    day1 = _export(tmp_path / "day-1", {"p1": "male"})
    day2 = _export(tmp_path / "day-2", {"p2": "female"})
    cli("ingest", str(day1), "--lake", str(lake), "--modality", "fhir", "--quiet")
    proc = cli("ingest", str(day2), "--lake", str(lake), "--modality", "fhir", "--quiet", check=False)
    assert proc.returncode == 1
    assert "fhir/Patient.ndjson" in proc.stderr and "--source-moved" in proc.stderr and "Traceback" not in proc.stderr
    ok = cli("ingest", str(day2), "--lake", str(lake), "--modality", "fhir", "--quiet", "--source-moved")
    assert ok.returncode == 0
