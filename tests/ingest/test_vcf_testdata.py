"""Every VCF and FASTA in the shared test data, reconciled with pysam."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pysam

from .conftest import connect

INVALID_HEADER = "vcf/cyvcf2/test-invalid-header.vcf"


def _vcfs(testdata):
    return sorted(p for p in (testdata / "vcf").rglob("*") if p.name.endswith((".vcf", ".vcf.gz")))


def test_variant_and_annotation_rows_reconcile_with_pysam(testdata, testdata_lake):
    lake, report = testdata_lake
    con = connect(lake)
    variants = dict(con.execute("SELECT lake_source, count(*) FROM omics.variants GROUP BY 1").fetchall())
    annotations = dict(con.execute("SELECT lake_source, count(*) FROM omics.annotations GROUP BY 1").fetchall())
    checked = 0
    for path in _vcfs(testdata):
        rel = path.relative_to(testdata).as_posix()
        if rel == INVALID_HEADER:
            continue
        with pysam.VariantFile(str(path)) as vf:
            samples = list(vf.header.samples)
            records = sum(1 for _ in vf)
        if samples:
            assert variants.get(rel) == records * len(samples), rel
        else:
            assert annotations.get(rel) == records, rel
        checked += 1
    assert checked == 4
    genomics = report.modalities["genomics"]
    assert genomics.read == genomics.loaded + genomics.quarantined + genomics.skipped


def test_records_loaded_equal_pysam_records_for_every_vcf_pysam_reads(testdata, testdata_lake):
    """Per file, from the ingest log: every record pysam reads is loaded, none quarantined, and none of these real
    files needed the tolerant path (it must cost nothing on clean input)."""
    lake, _ = testdata_lake
    con = connect(lake)
    log = {src: (read, loaded, quarantined) for src, read, loaded, quarantined in con.execute(
        "SELECT lake_source, records_read, records_loaded, records_quarantined FROM lake_meta.ingest_log").fetchall()}
    warned = {src for src, in con.execute("SELECT DISTINCT lake_source FROM lake_meta.warnings").fetchall()}
    readable = 0
    for path in _vcfs(testdata):
        rel = path.relative_to(testdata).as_posix()
        try:
            with pysam.VariantFile(str(path)) as vf:
                records = sum(1 for _ in vf)
        except (OSError, ValueError):
            continue  # pysam cannot read it: see the test below
        assert log[rel] == (records, records, 0), rel
        assert rel not in warned, rel
        readable += 1
    assert readable == 4


def test_a_rejected_file_counts_its_records(testdata, testdata_lake):
    """The invalid header is refused by htslib too; the file's records are counted one by one, not as one."""
    lake, _ = testdata_lake
    with open(testdata / INVALID_HEADER) as fh:
        records = sum(1 for line in fh if line.strip() and not line.startswith("#"))
    assert records == 5
    row = connect(lake).execute("SELECT records_read, records_loaded, records_quarantined FROM lake_meta.ingest_log "
                                "WHERE lake_source = ?", [INVALID_HEADER]).fetchone()
    assert row == (records, 0, records)


def test_invalid_header_quarantines_the_whole_file(testdata_lake):
    lake, _ = testdata_lake
    rows = connect(lake).execute(
        "SELECT position, modality, reason, raw_excerpt FROM lake_meta.quarantine WHERE lake_source = ?",
        [INVALID_HEADER]).fetchall()
    assert len(rows) == 1
    position, modality, reason, raw = rows[0]
    assert (position, modality) == ("file", "genomics")
    assert reason.startswith("invalid-vcf-header") and "sample" in reason and "(5 records not loaded)" in reason
    assert raw.startswith("##fileformat=VCF") and len(raw) <= 1024


def test_genotypes_match_pysam(testdata, testdata_lake):
    """calls (with -1 for a missing allele), phasing, depth and GQ of every sample of the trio, as pysam reads them."""
    lake, _ = testdata_lake
    rel = "vcf/slivar/ashk-trio.vcf.gz"
    expected = {}
    with pysam.VariantFile(str(testdata / rel)) as vf:
        for rec in vf:
            for sample, call in rec.samples.items():
                gt = call.get("GT")
                calls = [-1 if a is None else a for a in gt] if gt is not None else None
                expected[(sample, rec.contig, rec.start, rec.ref, tuple(rec.alts or ()))] = (
                    calls, call.phased, call.get("DP"), call.get("GQ"))
    got = {}
    for sample, contig, start, ref, alts, calls, phased, dp, gq in connect(lake).execute(
            "SELECT sampleid, contigname, start, referenceallele, alternatealleles, calls, phased, depth, "
            "genotypequality FROM omics.variants WHERE lake_source = ?", [rel]).fetchall():
        got[(sample, contig, start, ref, tuple(alts or ()))] = (calls, phased, dp, gq)
    assert got == expected
    assert any(-1 in c for c, *_ in got.values() if c)  # the file has missing alleles


def test_annotation_attributes(testdata, testdata_lake):
    lake, _ = testdata_lake
    rel = "vcf/slivar/clinvar_20191007.vcf.gz"
    with pysam.VariantFile(str(testdata / rel)) as vf:
        first = next(iter(vf))
        clnsig = ",".join(first.info["CLNSIG"])
        geneinfo = first.info.get("GENEINFO")
        key = (first.contig, first.start, first.ref)
    row = connect(lake).execute(
        "SELECT attributes['CLNSIG'], attributes['GENEINFO'], \"end\" FROM omics.annotations "
        "WHERE lake_source = ? AND contigname = ? AND start = ? AND referenceallele = ?", [rel, *key]).fetchone()
    assert row[0] == clnsig and row[1] == geneinfo
    assert row[2] == key[1] + len(key[2])  # end: 0-based exclusive


def test_reference_contigs(testdata, testdata_lake):
    lake, _ = testdata_lake
    path = testdata / "vcf/ga4gh-compliance/ref_brca1.fa"
    with pysam.FastxFile(str(path)) as fh:
        expected = {(r.name, len(r.sequence), hashlib.md5(r.sequence.upper().encode()).hexdigest()) for r in fh}
    got = set(connect(lake).execute("SELECT name, length, checksum FROM omics.reference_contigs").fetchall())
    assert got == expected


def test_every_file_keeps_the_sha256_of_its_bytes(testdata, testdata_lake):
    """Whoever hashed a file - the lake before reading it (FHIR) or the reader on its own read (genomics; imaging in
    tests/imaging/test_lake.py) - the manifest and the ingest log hold hashlib's sha256 of the file's bytes."""
    import json

    lake, _ = testdata_lake
    files = json.loads((lake / "_lake" / "manifest.json").read_text())["files"]
    expected = {rel: "sha256:" + hashlib.sha256((testdata / rel).read_bytes()).hexdigest() for rel in files}
    assert {e["modality"] for e in files.values()} == {"fhir", "genomics"}
    assert any(rel.endswith(".vcf.gz") for rel in files) and any(rel.endswith(".fa") for rel in files)
    assert {rel: e["checksum"] for rel, e in files.items()} == expected
    logged = dict(connect(lake).execute("SELECT lake_source, checksum FROM lake_meta.ingest_log").fetchall())
    assert logged == expected


def test_vcfs_read_across_worker_processes_load_what_one_process_loads(testdata, tmp_path, monkeypatch):
    """The pool path (chunks of VCFs in spawned workers, each announcing its chunk's reads) on every real VCF and
    the awkward ones, twice under two folders (same names: the tolerant path's scratch files must not meet): the
    same rows, quarantine, warnings and checksums as reading them one by one in this process."""
    import shutil
    import sys

    from mmhealth.ingest.genomics import reader
    from mmhealth.lake.ingest import run_ingest

    from .conftest import content_hashes

    sys.path.insert(0, str(Path(__file__).parents[1]))
    from vcf_awkward import write_awkward_vcf

    src = tmp_path / "src"
    shutil.copytree(testdata / "vcf", src / "real")
    write_awkward_vcf(src / "a")
    write_awkward_vcf(src / "b")
    vcfs = sum(1 for p in src.rglob("*") if p.name.endswith((".vcf", ".vcf.gz")))
    one = run_ingest(src, str(tmp_path / "one"), ["genomics"], {"workers": 1}, progress=False)
    monkeypatch.setattr(reader, "POOL_MIN_VCFS", 2)
    monkeypatch.setattr(reader, "CHUNK_VCFS", 2)
    pooled = []
    real = reader._read_in_pool
    monkeypatch.setattr(reader, "_read_in_pool", lambda *a: pooled.append(a[2]) or real(*a))
    two = run_ingest(src, str(tmp_path / "two"), ["genomics"], {"workers": 2}, progress=False)
    assert pooled == [2] and vcfs > 2 * 2
    counts = ("files_read", "read", "loaded", "quarantined", "skipped", "rows_added", "notes")
    assert [getattr(two.modalities["genomics"], c) for c in counts] == [
        getattr(one.modalities["genomics"], c) for c in counts]
    hashes = content_hashes(tmp_path / "one")
    assert content_hashes(tmp_path / "two") == hashes
    # the quarantine and the tolerant path's warnings are among what was compared
    assert hashes["lake_meta.warnings"][0] > 0 and hashes["lake_meta.quarantine"][0] > 0
