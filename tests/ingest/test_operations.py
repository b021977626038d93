"""Operating the lake: what the machine refuses (disk full, permission denied, --lake a file, a source file that
vanishes or grows mid-run, an input that never ends) is one line naming the file and the fix, and leaves the lake
as it was; quarantined input can be read again (--reprocess); the reference default is what the help says;
rows_added is the net change."""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from mmhealth.errors import MMHealthError
from mmhealth.ingest.records import ReadContext
from mmhealth.lake.ingest import run_ingest

from .conftest import cli, connect, content_hashes


def _patients(folder: Path, name: str, n: int, start: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(json.dumps({"resourceType": "Patient", "id": f"p{i}", "gender": "female"}) + "\n"
                            for i in range(start, start + n)))
    return path


def _one_line(proc: subprocess.CompletedProcess) -> str:
    err = proc.stderr.strip()
    assert "Traceback" not in err, err
    assert len(err.splitlines()) == 1, err
    return err


# --- --lake is a file ---------------------------------------------------------------------------------------------


def test_lake_that_is_a_file_is_one_line(tmp_path):
    src = tmp_path / "src"
    _patients(src, "Patient.ndjson", 1)
    afile = tmp_path / "lake.txt"
    afile.write_text("not a lake")
    proc = cli("ingest", str(src), "--lake", str(afile), "--quiet", check=False)
    assert proc.returncode == 1
    line = _one_line(proc)
    assert f"{afile}: is a file, not a folder - give --lake a folder" in line
    proc = cli("ingest", str(src), "--lake", str(afile / "lake"), "--quiet", check=False)
    assert proc.returncode == 1 and "a part of this path is a file" in _one_line(proc)
    (tmp_path / "lake2").mkdir()
    (tmp_path / "lake2" / "_lake").write_text("")  # the lake's own folder replaced by a file
    proc = cli("ingest", str(src), "--lake", str(tmp_path / "lake2"), "--quiet", check=False)
    assert proc.returncode == 1 and f"{tmp_path / 'lake2' / '_lake'}: is a file" in _one_line(proc)
    assert afile.read_text() == "not a lake"


# --- disk full ----------------------------------------------------------------------------------------------------
# /dev/full fails every write with ENOSPC, from the kernel: a symlink to it where the lake writes a file makes that
# one write meet a full disk, through the real writer (Python's io, pyarrow). It fails one file only: a reader that
# retries into a new file (the VCF reader does) gets past it, so whole readers are tested on a real small disk below.


def _genomics_source(folder: Path) -> Path:
    """A FASTA (its contigs are written by the lake itself, from the reader's Arrow batches) and a VCF."""
    folder.mkdir(parents=True, exist_ok=True)
    seq = "".join(random.Random(7).choice("ACGT") for _ in range(200))
    (folder / "ref.fa").write_text(">chr1\n" + seq + "\n")
    _vcf(folder / "calls.vcf", seq, [10, 20, 30])
    return folder


def _vcf(path: Path, seq: str, positions: list[int], sample: str = "S1") -> Path:
    lines = ["##fileformat=VCFv4.2", "##contig=<ID=chr1,length=200>",
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
             "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", sample])]
    for pos in positions:
        ref = seq[pos - 1]
        alt = "A" if ref != "A" else "C"
        lines.append("\t".join(["chr1", str(pos), ".", ref, alt, "50", "PASS", ".", "GT", "0/1"]))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_disk_full_while_writing_a_part_is_one_line_and_the_lake_is_unchanged(tmp_path, monkeypatch):
    src = _genomics_source(tmp_path / "src")
    lake = tmp_path / "lake"
    _patients(src, "Patient.ndjson", 3)
    run_ingest(src, str(lake), ["fhir"], {}, progress=False)
    before = content_hashes(lake)
    real = ReadContext.part_path

    def full_disk(self, database, table_name):
        path = real(self, database, table_name)
        if table_name == "reference_contigs":
            path.symlink_to("/dev/full")
        return path

    monkeypatch.setattr(ReadContext, "part_path", full_disk)
    with pytest.raises(MMHealthError) as failed:
        run_ingest(src, str(lake), ["genomics"], {}, progress=False)
    message = str(failed.value)
    assert "disk full (No space left on device)" in message and "\n" not in message
    assert "free space on that disk or give --lake a folder on a larger one" in message
    assert str(lake) in message  # names the file that could not be written (under the lake's staging folder)
    assert content_hashes(lake) == before  # no quarantine row blaming the input for the full disk, nothing else
    assert not list((lake / "_lake" / "staging").glob("*/*"))  # the failed run's staging files are gone
    monkeypatch.setattr(ReadContext, "part_path", real)
    report = run_ingest(src, str(lake), ["genomics"], {}, progress=False)  # space back: the rerun loads it all
    assert report.modalities["genomics"].quarantined == 0 and report.tables["omics.variants"] == 3


def test_disk_full_while_writing_the_manifest_is_one_line_and_the_lake_is_unchanged(tmp_path):
    src = tmp_path / "src"
    _patients(src, "Patient.ndjson", 3)
    lake = tmp_path / "lake"
    run_ingest(src, str(lake), ["fhir"], {}, progress=False)
    before = content_hashes(lake)
    _patients(src, "More.ndjson", 2, start=10)
    tmp_manifest = lake / "_lake" / "manifest.json.tmp"
    tmp_manifest.symlink_to("/dev/full")
    proc = cli("ingest", str(src), "--lake", str(lake), "--modality", "fhir", "--quiet", check=False)
    assert proc.returncode == 1
    line = _one_line(proc)
    assert f"{lake / '_lake' / 'manifest.json'}: disk full" in line
    assert content_hashes(lake) == before
    assert not tmp_manifest.exists()  # the half-written manifest is not left behind
    again = run_ingest(src, str(lake), ["fhir"], {}, progress=False)
    assert again.tables["healthlake.patient"] == 5


def _can_mount_tmpfs() -> str | None:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return "mounting a small tmpfs needs root (the /dev/full tests above cover the unprivileged case)"
    probe = Path(tempfile.mkdtemp())
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True)
        if ok.returncode:
            return f"this machine refuses to mount a tmpfs ({ok.stderr.decode().strip()})"
        subprocess.run(["umount", str(probe)], check=True)
        return None
    finally:
        probe.rmdir()


@pytest.fixture()
def small_disk(tmp_path):
    """A real 1 MB filesystem (tmpfs), resizable, unmounted afterwards."""
    reason = _can_mount_tmpfs()
    if reason:
        pytest.skip(reason)
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _big_input(src: Path, modality: str) -> tuple[str, int]:
    """Several MB of incompressible text: does not fit in what is left of 1 MB, even as zstd Parquet."""
    rng = random.Random(1)
    if modality == "fhir":
        (src / "Observation.ndjson").write_text("".join(
            json.dumps({"resourceType": "Observation", "id": f"o{i}", "status": "final",
                        "note": [{"text": "%032x" % rng.getrandbits(128)}]}) + "\n" for i in range(60_000)))
        return "healthlake.observation", 60_000
    seq = "".join(rng.choice("ACGT") for _ in range(200))
    lines = ["##fileformat=VCFv4.2", "##contig=<ID=chr1,length=100000000>",
             '##INFO=<ID=NOTE,Number=1,Type=String,Description="noise">',
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1"]
    lines += [f"chr1\t{i + 1}\t.\t{seq[i % 200]}\tT\t50\tPASS\tNOTE={rng.getrandbits(128):032x}\tGT\t0/1"
              for i in range(60_000)]
    (src / "big.vcf").write_text("\n".join(lines) + "\n")
    return "omics.variants", 60_000


@pytest.mark.parametrize("modality", ["fhir", "genomics"])
def test_a_disk_that_fills_up_mid_run_is_one_line_and_a_rerun_after_freeing_space_completes(tmp_path, small_disk,
                                                                                            modality):
    """The whole run on a real, small filesystem: whichever writer meets the full disk first (DuckDB's COPY, its
    spill files, the VCF reader's Parquet thread and its retry, the catalog), the run ends in one line, nothing is
    quarantined for it, and the lake keeps its last commit."""
    src = tmp_path / "src"
    _patients(src, "Patient.ndjson", 20)
    lake = small_disk / "lake"
    args = ["ingest", str(src), "--lake", str(lake), "--modality", modality, "--quiet"]
    proc = cli(*args, check=False)
    assert proc.returncode == 0, proc.stderr
    before = content_hashes(lake)
    table, rows = _big_input(src, modality)
    proc = cli(*args, check=False)
    assert proc.returncode == 1
    line = _one_line(proc)
    assert "disk full" in line and str(lake) in line and "run ingest again" in line
    assert content_hashes(lake) == before
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    proc = cli(*args, check=False)
    assert proc.returncode == 0, proc.stderr
    con = connect(lake)
    assert con.execute(f"SELECT count(*) FROM {table}").fetchone() == (rows,)
    assert con.execute("SELECT count(*) FROM lake_meta.quarantine").fetchone() == (0,)
    con.close()


# --- permission denied --------------------------------------------------------------------------------------------


def _unprivileged() -> list[str]:
    """Root ignores file modes; run the CLI without the capabilities that let it (it stays uid 0, so it can still
    run this checkout's Python)."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: cannot drop the capability that ignores file modes")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def _cli_as_user(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*_unprivileged(), sys.executable, "-m", "mmhealth.cli", *args], capture_output=True,
                          text=True, timeout=300)


def test_permission_denied_on_the_lake_or_a_source_file_is_one_line(tmp_path):
    src = tmp_path / "src"
    _patients(src, "Patient.ndjson", 2)
    lake = tmp_path / "lake"
    assert _cli_as_user("ingest", str(src), "--lake", str(lake), "--modality", "fhir", "--quiet").returncode == 0
    before = content_hashes(lake)
    _patients(src, "More.ndjson", 1, start=5)
    for folder in (lake, lake / "_lake", lake / "healthlake"):
        folder.chmod(0o555)
    try:
        proc = _cli_as_user("ingest", str(src), "--lake", str(lake), "--modality", "fhir", "--quiet")
    finally:
        for folder in (lake, lake / "_lake", lake / "healthlake"):
            folder.chmod(0o755)
    assert proc.returncode == 1
    line = _one_line(proc)
    assert "permission denied writing the lake - give the user running mmhealth" in line
    assert f"write access to {lake}" in line
    assert content_hashes(lake) == before
    secret = src / "More.ndjson"
    secret.chmod(0o000)
    try:
        proc = _cli_as_user("ingest", str(src), "--lake", str(lake), "--modality", "fhir", "--quiet")
    finally:
        secret.chmod(0o644)
    assert proc.returncode == 1
    line = _one_line(proc)
    assert line.startswith(f"mmhealth ingest: error: {secret}: permission denied reading it - give")
    assert "or move it out of SOURCE" in line
    assert content_hashes(lake) == before
    no_lake = tmp_path / "ro"
    no_lake.mkdir(mode=0o555)
    proc = _cli_as_user("ingest", str(src), "--lake", str(no_lake / "lake"), "--quiet")
    assert proc.returncode == 1 and f"{no_lake / 'lake'}: permission denied writing the lake" in _one_line(proc)


# --- a source file that vanishes or grows while the run reads it --------------------------------------------------


def _paused_at_read(src: Path, lake: Path, tmp: Path) -> subprocess.Popen:
    env = {**os.environ, "MMHEALTH_FAILPOINTS": "read-fhir=wait", "MMHEALTH_FAILPOINT_DIR": str(tmp)}
    proc = subprocess.Popen([sys.executable, "-m", "mmhealth.cli", "ingest", str(src), "--lake", str(lake),
                             "--modality", "fhir", "--quiet"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (tmp / "read-fhir").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)
    return proc


@pytest.mark.parametrize("how", ["disappeared", "changed"])
def test_a_source_file_that_vanishes_or_grows_mid_run_is_one_line_and_nothing_of_it_is_committed(tmp_path, how):
    src = tmp_path / "src"
    _patients(src, "Patient.ndjson", 2)
    lake = tmp_path / "lake"
    run_ingest(src, str(lake), ["fhir"], {}, progress=False)
    before = content_hashes(lake)
    moving = _patients(src, "Incoming.ndjson", 3, start=10)
    proc = _paused_at_read(src, lake, tmp_path)
    if how == "disappeared":
        moving.unlink()
    else:
        with open(moving, "a") as fh:  # a producer still writing the file
            fh.write(json.dumps({"resourceType": "Patient", "id": "late"}) + "\n")
    (tmp_path / "read-fhir").unlink()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    line = _one_line(subprocess.CompletedProcess([], 1, out, err))
    assert f"{moving}: {how} while this run read it - nothing of fhir was committed" in line
    assert "move them into SOURCE when done" in line
    assert content_hashes(lake) == before
    report = run_ingest(src, str(lake), ["fhir"], {}, progress=False)  # once SOURCE is stable, all is well
    assert report.tables["healthlake.patient"] == 2 + (4 if how == "changed" else 0)


def test_a_source_file_deleted_before_the_reader_opens_it_is_one_line(tmp_path, monkeypatch):
    """The file is discovered and hashed, then removed before the (real) FHIR reader gets to it."""
    import mmhealth.lake.ingest as lake_ingest

    src = tmp_path / "src"
    first = _patients(src, "A.ndjson", 2)
    doomed = _patients(src, "B.ndjson", 2, start=5)
    real_load = lake_ingest.load_reader

    class DeletingReader:
        def __init__(self, inner):
            self.inner, self.name = inner, inner.name

        def discover(self, root):
            return self.inner.discover(root)

        def read(self, files, ctx):
            doomed.unlink()
            return self.inner.read(files, ctx)

    monkeypatch.setattr(lake_ingest, "load_reader", lambda name: DeletingReader(real_load(name)))
    lake = tmp_path / "lake"
    with pytest.raises(MMHealthError) as failed:
        run_ingest(src, str(lake), ["fhir"], {}, progress=False)
    assert str(failed.value).startswith(f"{doomed}: disappeared while this run read it - nothing of fhir was")
    assert first.exists() and not (lake / "_lake" / "manifest.json").exists()


# --- input that never ends ----------------------------------------------------------------------------------------


def _unterminated_inputs(folder: Path) -> dict[str, Path]:
    """Files cut off mid-record, as a crashed exporter or an interrupted copy leaves them."""
    folder.mkdir()
    made = {}

    def put(name: str, data: bytes) -> None:
        (folder / name).write_bytes(data)
        made[name] = folder / name

    patient = json.dumps({"resourceType": "Patient", "id": "p1"}).encode()
    put("string.ndjson", patient + b'\n{"resourceType": "Patient", "id": "p2", "name": [{"family": "Sm')
    put("escape.ndjson", patient + b'\n{"resourceType": "Patient", "id": "p3", "x": "\\')
    put("object.json", b'{"resourceType": "Patient", "id": "p4", "gender": ')
    put("bundle.json", b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceTy')
    put("brackets.ndjson", patient + b'\n{"resourceType": "Patient", "id": "p5", "a": ' + b"[" * 5000)
    put("gz.ndjson.gz", gzip.compress(patient * 0 + b"".join(
        json.dumps({"resourceType": "Patient", "id": f"z{i}"}).encode() + b"\n" for i in range(300)))[:-200])
    header = (b"##fileformat=VCFv4.2\n##contig=<ID=chr1,length=100>\n"
              b'##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
              b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n")
    put("line.vcf", header + b"chr1\t5\t.\tA\tC\t50\tPASS\t.\tGT\t0/1\nchr1\t9\t.\tA\tC\t5")
    put("header.vcf", b'##fileformat=VCFv4.2\n##INFO=<ID=DP,Number=1,Type=Integer,Description="cut')
    vcf_gz = gzip.compress(header + b"".join(b"chr1\t%d\t.\tA\tC\t50\tPASS\t.\tGT\t0/1\n" % i for i in range(1, 99)))
    put("gz.vcf.gz", vcf_gz[: len(vcf_gz) - 40])
    fasta_gz = gzip.compress(b">chr9\n" + b"ACGT" * 20_000 + b"\n")
    put("seq.fa.gz", fasta_gz[: len(fasta_gz) // 2])
    return made


def test_unterminated_inputs_never_end_in_a_traceback(tmp_path):
    """Each file on its own (one reader failure must not hide another file's fate): it is loaded as far as it is
    whole with the cut record quarantined, or the run stops with one line naming that file."""
    inputs = _unterminated_inputs(tmp_path / "src")
    for name, path in inputs.items():
        lake = tmp_path / f"lake-{name}"
        try:
            report = run_ingest(path, str(lake), ["fhir", "genomics"], {}, progress=False)
        except MMHealthError as exc:  # the CLI prints it as one line
            assert str(exc).startswith(str(path)) and "\n" not in str(exc), (name, str(exc))
            continue
        counts = [m for m in report.modalities.values() if m.files_read]
        assert counts, (name, report)
        for m in counts:
            assert m.read == m.loaded + m.quarantined + m.skipped, (name, m)
        # the cut record is not lost: counted as quarantined, or - a header cut before any record (0 records to
        # count) - the file itself has a quarantine row saying so
        con = connect(lake)
        rows = con.execute("SELECT count(*) FROM lake_meta.quarantine WHERE lake_source = ?", [name]).fetchone()[0]
        con.close()
        assert rows >= 1, (name, report)
        assert sum(m.quarantined for m in counts) >= 1 or sum(m.read for m in counts) == 0, (name, report)


# --- --reprocess --------------------------------------------------------------------------------------------------


def test_reprocess_quarantined_rereads_only_files_with_quarantined_rows_after_a_new_reference(tmp_path):
    import pysam

    rng = random.Random(3)
    right = "".join(rng.choice("ACGT") for _ in range(200))
    wrong = right.translate(str.maketrans("ACGT", "CATG"))  # every base differs
    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / "right.fa").write_text(">chr1\n" + right + "\n")
    (refs / "wrong.fa").write_text(">chr1\n" + wrong + "\n")
    src = tmp_path / "src"
    src.mkdir()
    _vcf(src / "unchecked_later.vcf", right, [7], sample="S2")
    _patients(src, "Patient.ndjson", 2)
    lake = tmp_path / "lake"
    run_ingest(src, str(lake), ["fhir", "genomics"], {"reference": refs / "right.fa"}, progress=False)
    checked = _vcf(src / "checked.vcf", right, [5, 50, 150, 190, 195], sample="S1")
    first = run_ingest(src, str(lake), ["genomics"], {"reference": refs / "wrong.fa"}, progress=False)
    assert first.modalities["genomics"].quarantined == 5  # the ill-fitting reference refuses every site
    con = connect(lake)
    reasons = con.execute("SELECT reason FROM lake_meta.quarantine WHERE lake_source = 'checked.vcf'").fetchall()
    con.close()
    assert len(reasons) == 5 and all(r.startswith("ref-mismatch") for (r,) in reasons)
    # Without --reprocess, the right reference changes nothing: the file is unchanged, so it is not read.
    same = run_ingest(src, str(lake), ["genomics"], {"reference": refs / "right.fa"}, progress=False)
    assert same.modalities["genomics"].files_read == 0
    proc = cli("ingest", str(src), "--lake", str(lake), "--reference", str(refs / "right.fa"), "--reprocess",
               "quarantined", "--json", "--quiet")
    report = json.loads(proc.stdout)
    genomics = report["modalities"]["genomics"]
    assert genomics["files"] == {"seen": 2, "read": 1, "unchanged": 1, "reprocessed": 1}  # only checked.vcf
    assert report["modalities"]["fhir"]["files"]["read"] == 0
    assert genomics["quarantined"] == 0 and genomics["loaded"] == 5
    assert any("1 unchanged file(s) read again (--reprocess quarantined)" in n for n in report["notes"])
    con = connect(lake)
    assert con.execute("SELECT count(*) FROM lake_meta.quarantine WHERE lake_source = 'checked.vcf'").fetchone() == (0,)
    loaded = con.execute("SELECT count(*) FROM omics.variants WHERE lake_source = 'checked.vcf'").fetchone()[0]
    assert loaded == sum(1 for _ in pysam.VariantFile(str(checked)))  # every site, counted by htslib
    assert con.execute("SELECT count(*) FROM omics.variants WHERE lake_source = 'unchecked_later.vcf'").fetchone() == (1,)
    log = con.execute("SELECT records_loaded, records_quarantined FROM lake_meta.ingest_log "
                      "WHERE lake_source = 'checked.vcf' ORDER BY ingested_at").fetchall()
    con.close()
    assert log[-1] == (5, 0) and log[-2] == (0, 5)
    # Nothing quarantined any more: --reprocess quarantined reads nothing; --reprocess all reads every file and
    # leaves the same lake.
    none = run_ingest(src, str(lake), None, {"reprocess": "quarantined"}, progress=False)
    assert sum(m.files_read for m in none.modalities.values()) == 0
    before = content_hashes(lake)
    everything = run_ingest(src, str(lake), ["fhir", "genomics"], {"reprocess": "all", "reference": refs / "right.fa"},
                            progress=False)
    assert everything.modalities["genomics"].files_read == 2 and everything.modalities["fhir"].files_read == 1
    after = content_hashes(lake)
    assert after.pop("lake_meta.ingest_log") != before.pop("lake_meta.ingest_log")
    assert after == before


def test_reprocess_rejects_unknown_values(tmp_path):
    with pytest.raises(MMHealthError, match="--reprocess everything: choose from quarantined, all"):
        run_ingest(tmp_path, str(tmp_path / "lake"), ["fhir"], {"reprocess": "everything"}, progress=False)
    proc = cli("ingest", str(tmp_path), "--lake", str(tmp_path / "lake"), "--reprocess", "x", check=False)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


# --- the reference default ----------------------------------------------------------------------------------------


def test_without_reference_no_ref_is_checked_and_the_help_and_summary_say_so(tmp_path):
    """A FASTA sitting in SOURCE is loaded, never used for the check (it may be another build); the user who
    wants REF checked names the reference. Help, docs and the run summary all say that."""
    helped = cli("ingest", "--help").stdout
    flat = " ".join(helped.split())
    assert "(default: none - REF alleles are not checked; a FASTA inside SOURCE is loaded into " \
           "omics.reference_contigs but never used for the check" in flat
    assert "the one FASTA in SOURCE" not in flat
    docs = (Path(__file__).resolve().parents[2] / "docs" / "ingest.md").read_text()
    assert "Without `--reference` no REF allele is checked" in docs
    src = tmp_path / "src"
    src.mkdir()
    seq = "".join(random.Random(5).choice("ACGT") for _ in range(200))
    (src / "other_build.fa").write_text(">chr1\n" + seq.translate(str.maketrans("ACGT", "CATG")) + "\n")
    _vcf(src / "calls.vcf", seq, [10, 20])
    proc = cli("ingest", str(src), "--lake", str(tmp_path / "lake"), "--modality", "genomics", "--quiet")
    assert "note: genomics: REF alleles of 1 VCF file(s) were not checked - give --reference FASTA" in proc.stdout
    con = connect(tmp_path / "lake")
    assert con.execute("SELECT count(*) FROM omics.variants").fetchone() == (2,)
    assert con.execute("SELECT count(*) FROM omics.reference_contigs").fetchone() == (1,)
    assert con.execute("SELECT count(*) FROM lake_meta.quarantine").fetchone() == (0,)
    con.close()
    # Named, the same FASTA is used: both sites disagree with it.
    checked = run_ingest(src, str(tmp_path / "lake2"), ["genomics"], {"reference": src / "other_build.fa"},
                         progress=False)
    assert checked.modalities["genomics"].quarantined == 2 and not checked.notes


# --- rows_added ---------------------------------------------------------------------------------------------------


def _two_vcfs(tmp_path) -> tuple[Path, str, Path]:
    """Source folder with a.vcf (3 sites of sample A) and b.vcf (2 of sample B): one run puts them in one part."""
    seq = "".join(random.Random(9).choice("ACGT") for _ in range(200))
    src = tmp_path / "src"
    src.mkdir()
    _vcf(src / "a.vcf", seq, [10, 20, 30], sample="A")
    _vcf(src / "b.vcf", seq, [40, 50], sample="B")
    lake = tmp_path / "lake"
    return src, seq, lake


def test_rows_added_is_the_net_change_per_table(tmp_path):
    """Two VCFs share one coalesced part; when one loses a site, the other's rows are rewritten, not added."""
    src, seq, lake = _two_vcfs(tmp_path)
    first = run_ingest(src, str(lake), ["genomics"], {}, progress=False)
    assert first.modalities["genomics"].rows_added == {"lake_meta.ingest_log": 2, "omics.variants": 5}
    manifest = json.loads((lake / "_lake" / "manifest.json").read_text())
    assert [p["sources"] for p in manifest["tables"]["omics.variants"]] == [["a.vcf", "b.vcf"]]  # one shared part
    time.sleep(0.01)
    _vcf(src / "b.vcf", seq, [40], sample="B")
    second = run_ingest(src, str(lake), ["genomics"], {}, progress=False)
    assert second.modalities["genomics"].rows_added == {"lake_meta.ingest_log": 1, "omics.variants": -1}
    assert second.tables["omics.variants"] == first.tables["omics.variants"] - 1
    unchanged = run_ingest(src, str(lake), ["genomics"], {}, progress=False)
    assert unchanged.modalities["genomics"].rows_added == {}


def test_rows_copied_out_of_a_replaced_part_keep_the_run_that_read_them(tmp_path):
    """a.vcf shares a part with b.vcf; b changes. a's rows are copied without b's, and stay in the partition of
    the run that read a: a row's lake_run is always its file's run in the ingest log, so the current-version rules
    and the incremental models (which order and filter by it) do not see a as new, or as newer than it is."""
    import pyarrow.parquet as pq

    src, seq, lake = _two_vcfs(tmp_path)
    run_ingest(src, str(lake), ["genomics"], {}, progress=False)
    time.sleep(0.01)
    _vcf(src / "b.vcf", seq, [40], sample="B")
    run_ingest(src, str(lake), ["genomics"], {}, progress=False)
    # read back with pyarrow, partition from the folder name as Athena and DuckDB derive it
    runs: dict[str, set[str]] = {}
    for part in (lake / "omics" / "variants").rglob("*.parquet"):
        run = part.parent.name.removeprefix("lake_run=")
        for source in pq.read_table(part, columns=["lake_source"]).column("lake_source").to_pylist():
            runs.setdefault(source, set()).add(run)
    manifest = json.loads((lake / "_lake" / "manifest.json").read_text())
    keys = {p["key"] for p in manifest["tables"]["omics.variants"]}
    assert {str(p.relative_to(lake)) for p in (lake / "omics" / "variants").rglob("*.parquet")} == keys
    logged = {f: e["run"] for f, e in manifest["files"].items()}
    assert runs == {"a.vcf": {logged["a.vcf"]}, "b.vcf": {logged["b.vcf"]}}
    assert logged["a.vcf"] < logged["b.vcf"]
    con = connect(lake)
    try:
        assert con.execute("select lake_source, count(*), min(lake_run) from omics.variants group by 1 order by 1"
                           ).fetchall() == [("a.vcf", 3, logged["a.vcf"]), ("b.vcf", 1, logged["b.vcf"])]
    finally:
        con.close()


# --- S3 refusals --------------------------------------------------------------------------------------------------


def test_s3_refusals_are_one_line(moto_reset, tmp_path):
    src = tmp_path / "src"
    _patients(src, "Patient.ndjson", 1)
    env = {"AWS_ENDPOINT_URL": moto_reset, "MMHEALTH_CACHE": str(tmp_path / "cache")}
    proc = cli("ingest", str(src), "--lake", "s3://no-such-bucket/lake", "--quiet", env=env, check=False)
    assert proc.returncode == 1
    assert "s3://no-such-bucket/lake: bucket does not exist - create it first" in _one_line(proc)
    env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # nothing listens on the discard port
    env["AWS_MAX_ATTEMPTS"] = "1"
    proc = cli("ingest", str(src), "--lake", "s3://bucket/lake", "--quiet", env=env, check=False)
    assert proc.returncode == 1
    assert "s3://bucket/lake: cannot reach S3" in _one_line(proc) and "AWS_ENDPOINT_URL" in proc.stderr


def test_s3_access_denied_names_the_permissions(tmp_path):
    """moto does not enforce IAM; the error S3 sends is built as botocore builds it from S3's answer."""
    from botocore.exceptions import ClientError

    from mmhealth.lake.os_errors import explain

    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "PutObject")
    error = explain(denied, lake="s3://b/lake", work=tmp_path, source=tmp_path, committed=[])
    assert str(error).startswith("s3://b/lake: S3 refused PutObject (AccessDenied: Access Denied) - give the")
    assert "s3:PutObject" in str(error) and "\n" not in str(error)
    other = ClientError({"Error": {"Code": "InternalError", "Message": "boom"}}, "PutObject")
    assert explain(other, lake="s3://b/lake", work=tmp_path, source=tmp_path, committed=[]) is None


# --- run order ----------------------------------------------------------------------------------------------------


def test_a_run_id_that_would_sort_before_the_lakes_latest_run_is_never_used(tmp_path, monkeypatch):
    """dbt picks up new rows by `lake_run > the newest it holds`: a run in the same second as the last one (random
    suffix) or one that waited for the lock while a later-started run committed would sort before it and its rows
    would never be merged. The ingest takes a new id, after the latest run, instead."""
    import mmhealth.lake.ingest as ingest

    src, seq, lake = _two_vcfs(tmp_path)
    first = run_ingest(src, str(lake), ["genomics"], {}, progress=False).run_id
    stamp = first.split("-", 1)[0]
    ids = iter([f"{stamp}-000000"])  # the same second, a suffix that sorts first
    real = ingest.new_run_id
    monkeypatch.setattr(ingest, "new_run_id", lambda: next(ids, None) or real())
    _vcf(src / "b.vcf", seq, [40], sample="B")
    second = run_ingest(src, str(lake), ["genomics"], {}, progress=False).run_id
    assert second > first and second != f"{stamp}-000000"
    manifest = json.loads((lake / "_lake" / "manifest.json").read_text())
    assert manifest["runs"] == [first, second] and manifest["files"]["b.vcf"]["run"] == second


def test_a_lake_whose_latest_run_is_ahead_of_this_clock_is_one_line(tmp_path):
    src, seq, lake = _two_vcfs(tmp_path)
    run_ingest(src, str(lake), ["genomics"], {}, progress=False)
    manifest_file = lake / "_lake" / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["runs"].append("29991231T235959Z-ffffff")  # written by a host whose clock is far ahead
    manifest_file.write_text(json.dumps(manifest))
    _vcf(src / "c.vcf", seq, [60], sample="C")
    with pytest.raises(MMHealthError) as err:
        run_ingest(src, str(lake), ["genomics"], {}, progress=False)
    assert "29991231T235959Z-ffffff" in str(err.value) and "ahead of this host's clock" in str(err.value)
    assert "\n" not in str(err.value)
