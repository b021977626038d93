"""Real-world input, end to end (issue 15, item 7): nothing lost, nothing crashes, and what ingest accepts, dbt builds.

ONE lake holds every file of ../shared/testdata (FHIR bulk NDJSON and Bundles, every VCF, every DICOM file, and the
rest: READMEs, licenses, indexes, NRRD images, the SQL-on-FHIR suite) plus the awkward cases of the issue, written
here by the shared builders (tests/fhir_awkward.py, tests/vcf_awkward.py, tests/imaging/awkward_cases.py). It is
ingested by one `mmhealth ingest` run over one SOURCE folder, then `dbt build`, `govern validate` and `govern
local` run over it as a user runs them. Every count is reconciled per file against a reader that is not project
code: `json` for FHIR, pysam for VCF, pydicom for DICOM.

SOURCE layout (the CLI finds each modality by walking SOURCE, whatever the folder names):
    real/...             a copy of ../shared/testdata (copied, so the lake's file names are relative to SOURCE)
    fhir/awkward/...     tests/fhir_awkward.write_awkward_fhir
    vcf/awkward/...      tests/vcf_awkward.write_awkward_vcf
    imaging/awkward/...  tests/imaging/awkward_cases.write_awkward
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from collections import Counter
from pathlib import Path

import duckdb
import pysam
import pytest

# The imaging builders live beside the imaging tests (they import imaging_testkit by its bare name).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "imaging"))

from awkward_cases import write_awkward  # noqa: E402
from fhir_awkward import independent_fates, write_awkward_fhir  # noqa: E402
from imaging_testkit import pydicom_fates  # noqa: E402
from vcf_awkward import FILES as AWKWARD_VCF_TEXT  # noqa: E402
from vcf_awkward import data_lines, write_awkward_vcf  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MODALITIES = ("fhir", "genomics", "imaging")
# Index files describe another file (a VCF, a FASTA) and hold no records: no modality reads them (docs/ingest.md).
INDEX_SUFFIXES = (".tbi", ".csi", ".fai", ".gzi")


class RealWorldLake:
    def __init__(self, root: Path):
        self.root = root
        self.source = root / "source"
        self.lake = root / "lake"
        self.target = root / "target"
        self.env = {**os.environ, "DBT_PROFILES_DIR": str(REPO), "MMHEALTH_LAKE": str(self.lake),
                    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "TQDM_DISABLE": "1"}

    def run(self, *argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(argv, cwd=REPO, env=self.env, capture_output=True, text=True, timeout=900)

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.lake / "lake.duckdb"), read_only=True)


@pytest.fixture(scope="module")
def world(testdata, tmp_path_factory) -> RealWorldLake:
    """SOURCE written, ingested, built; every command's result kept for the tests to judge (none is asserted here,
    so that one failure does not hide the others)."""
    w = RealWorldLake(tmp_path_factory.mktemp("realworld"))
    shutil.copytree(testdata, w.source / "real", copy_function=shutil.copyfile)
    w.fhir_awkward = write_awkward_fhir(w.source / "fhir")
    write_awkward_vcf(w.source / "vcf" / "awkward")
    with warnings.catch_warnings():  # pydicom warns about the values the awkward files carry on purpose
        warnings.simplefilter("ignore")
        write_awkward(w.source / "imaging" / "awkward")
    w.ingest = w.run(str(BIN / "mmhealth"), "ingest", str(w.source), "--lake", str(w.lake), "--json",
                     "--quiet", "--jobs", "2")
    w.summary = json.loads(w.ingest.stdout) if w.ingest.returncode == 0 else None
    dbt_paths = ("--target-path", str(w.target), "--log-path", str(w.root / "logs"))
    w.build = w.run(str(BIN / "dbt"), "build", *dbt_paths) if w.summary else None
    manifest = str(w.target / "manifest.json")
    w.validate = w.run(str(BIN / "mmhealth"), "govern", "validate", "--manifest", manifest)
    w.local = w.run(str(BIN / "mmhealth"), "govern", "local", "--manifest", manifest,
                    "--warehouse", str(w.lake / "warehouse.duckdb"))
    return w


def _walk(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _rel(w: RealWorldLake, path: Path) -> str:
    return path.relative_to(w.source).as_posix()


def _ok(proc: subprocess.CompletedProcess | None, what: str) -> None:
    assert proc is not None, f"{what} did not run: ingest failed"
    assert proc.returncode == 0, f"{what} exited {proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"


# --------------------------------------------------------------------------------------------------- the run
def test_ingest_exits_0_and_each_modality_reads_loaded_plus_quarantined_plus_skipped(world):
    _ok(world.ingest, "mmhealth ingest")
    modalities = world.summary["modalities"]
    assert set(modalities) == set(MODALITIES)
    with world.connect() as con:
        log = {m: (r, ld, q, s) for m, r, ld, q, s in con.execute(
            "select modality, sum(records_read), sum(records_loaded), sum(records_quarantined), "
            "sum(records_skipped) from lake_meta.ingest_log group by 1").fetchall()}
    for name, m in modalities.items():
        assert m["read"] > 0 and m["loaded"] > 0 and m["quarantined"] > 0, (name, m)  # awkward input in each
        assert m["read"] == m["loaded"] + m["quarantined"] + m["skipped"], (name, m)
        assert log[name] == (m["read"], m["loaded"], m["quarantined"], m["skipped"]), name


def test_dbt_build_is_green(world):
    _ok(world.build, "dbt build")
    summary = world.build.stdout.split("Done.")[-1]
    assert "ERROR=0" in summary and "SKIP=0" in summary, summary


def test_govern_validate_and_local_pass_on_this_manifest_and_warehouse(world):
    _ok(world.build, "dbt build")
    _ok(world.validate, "mmhealth govern validate")
    _ok(world.local, "mmhealth govern local")
    con = duckdb.connect(str(world.lake / "warehouse.duckdb"), read_only=True)
    con.execute(f"attach '{world.lake / 'lake.duckdb'}' as lake (read_only)")
    views = con.execute("select schema_name, view_name from duckdb_views() "
                        "where schema_name like 'as\\_%' escape '\\'").fetchall()
    assert len({s for s, _ in views}) > 1 and views
    for schema, view in views:  # every principal's view reads the real-world data without error
        con.execute(f'select count(*) from "{schema}"."{view}"').fetchone()
    con.close()


def test_nothing_is_lost_every_file_under_source_is_accounted_for(world):
    """Every file under SOURCE is in the ingest log of one modality, with read = loaded + quarantined + skipped,
    except the VCF indexes that no modality reads."""
    _ok(world.ingest, "mmhealth ingest")
    with world.connect() as con:
        log = con.execute("select lake_source, modality, records_read, records_loaded, records_quarantined, "
                          "records_skipped from lake_meta.ingest_log").fetchall()
    owners = Counter(src for src, *_ in log)
    assert {s: n for s, n in owners.items() if n != 1} == {}
    on_disk = {_rel(world, p) for p in _walk(world.source) if not p.name.endswith(INDEX_SUFFIXES)}
    assert set(owners) == on_disk
    for src, modality, read, loaded, quarantined, skipped in log:
        assert read == loaded + quarantined + skipped and read >= 1, (src, modality)


# --------------------------------------------------------------------------------------------------- VCF
def _pysam_count(path: Path) -> tuple[int, int] | None:
    """(records, samples) as pysam reads the file, or None when htslib cannot read it to the end."""
    try:
        with pysam.VariantFile(str(path)) as vf:
            return sum(1 for _ in vf), len(vf.header.samples)
    except (OSError, ValueError):
        return None


def test_every_vcf_pysam_reads_loads_exactly_pysams_records(world):
    _ok(world.ingest, "mmhealth ingest")
    vcfs = [p for p in _walk(world.source) if p.name.endswith((".vcf", ".vcf.gz"))]
    with world.connect() as con:
        log = {s: (r, ld, q) for s, r, ld, q in con.execute(
            "select lake_source, records_read, records_loaded, records_quarantined from lake_meta.ingest_log "
            "where modality = 'genomics'").fetchall()}
        rows = Counter()
        for table in ("variants", "annotations"):
            rows.update(dict(con.execute(f"select lake_source, count(*) from omics.{table} group by 1").fetchall()))
    read_by_pysam = 0
    for path in vcfs:
        rel = _rel(world, path)
        read, loaded, quarantined = log[rel]
        assert read == loaded + quarantined, rel
        counted = _pysam_count(path)
        if counted is not None:
            records, samples = counted
            assert loaded == records, rel
            assert rows[rel] == records * max(samples, 1), rel  # one row per sample (sites-only: per record)
            read_by_pysam += 1
        if path.parent.name == "awkward":  # records counted from the text the builder wrote
            text = AWKWARD_VCF_TEXT.get(path.name)
            if text is not None:
                assert read == len(data_lines(text)), rel
    # 5 real VCFs and 11 awkward ones; htslib reads 4 real ones and 7 awkward ones, quirks and all
    assert read_by_pysam == 11 and len(vcfs) == 16


# --------------------------------------------------------------------------------------------------- DICOM
def _stored_imaging_fates(con) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for table, fate in (("imaging.instances", "loaded"), ("lake_meta.quarantine", "quarantined"),
                        ("lake_meta.skipped", "skipped")):
        where = "" if fate == "loaded" else " where modality = 'imaging'"
        for (source,) in con.execute(f"select lake_source from {table}{where}").fetchall():
            out.setdefault(source, []).append(fate)
    return out


def test_every_dicom_file_has_exactly_one_stored_fate_reconciled_with_pydicom(world):
    """Walks SOURCE: every file that is not another modality's (pydicom_fates decides by name, as a user would)
    has exactly one imaging fate in the lake - an instance row, a quarantine row or a skipped row - and it is the
    one pydicom's own reading gives."""
    _ok(world.ingest, "mmhealth ingest")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = {rel: fate for rel, (fate, _) in pydicom_fates(world.source).items()
                    if not rel.endswith(INDEX_SUFFIXES)}
    with world.connect() as con:
        stored = _stored_imaging_fates(con)
    assert {s: f for s, f in stored.items() if len(f) != 1} == {}
    assert {s: f[0] for s, f in stored.items()} == expected
    assert {_rel(world, p) for p in _walk(world.source / "real" / "dicom")} <= set(expected)
    imaging = world.summary["modalities"]["imaging"]
    assert imaging["read"] == len(expected)
    assert Counter(expected.values()) == Counter({"loaded": imaging["loaded"], "quarantined": imaging["quarantined"],
                                                  "skipped": imaging["skipped"]})


# --------------------------------------------------------------------------------------------------- FHIR
def _json_records(path: Path) -> int:
    """Records of a FHIR file by `json` alone: NDJSON lines, Bundle entries, else one document."""
    raw = path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode()
    if path.name.endswith(".ndjson"):
        return sum(1 for line in raw.splitlines() if line.strip())
    doc = json.loads(raw)
    if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
        return len(doc.get("entry") or [])
    return 1


def test_fhir_every_file_resources_counted_with_json_are_loaded_quarantined_or_skipped(world):
    _ok(world.ingest, "mmhealth ingest")
    with world.connect() as con:
        loaded: Counter = Counter()
        for (table,) in con.execute("select table_name from information_schema.tables "
                                    "where table_schema = 'healthlake'").fetchall():
            loaded.update(dict(con.execute(f"select lake_source, count(*) from healthlake.{table} group by 1")
                               .fetchall()))
        quarantined = Counter(dict(con.execute("select lake_source, count(*) from lake_meta.quarantine "
                                               "where modality = 'fhir' group by 1").fetchall()))
        skipped = Counter(dict(con.execute("select lake_source, sum(record_count) from lake_meta.skipped "
                                           "where modality = 'fhir' group by 1").fetchall()))
        fhir_files = {s for s, in con.execute("select lake_source from lake_meta.ingest_log "
                                              "where modality = 'fhir'").fetchall()}
    # every NDJSON and every JSON file is FHIR input, real or awkward, resource or not
    expected_files = {_rel(world, p) for p in _walk(world.source) if p.name.endswith((".ndjson", ".json"))}
    assert fhir_files == expected_files
    awkward = independent_fates(world.fhir_awkward)
    for rel in sorted(fhir_files):
        path = world.source / rel
        if path.parent == world.fhir_awkward:  # too deep for `json` in places: the builder's own reading
            fates = Counter(f.split(":")[0] for (name, _), f in awkward.items() if name == path.name)
            assert (loaded[rel], quarantined[rel], skipped[rel]) == (fates["loaded"], fates["quarantined"], 0), rel
        else:
            records = _json_records(path)
            assert records == loaded[rel] + quarantined[rel] + skipped[rel], rel
            assert quarantined[rel] == 0, rel  # the real files are valid FHIR (or skipped: logs, the SQL suite)
    assert sum(loaded[s] for s in fhir_files if s.startswith("real/fhir/")) > 0
