"""Every VCF and FASTA in the shared test data, reconciled with pysam."""

from __future__ import annotations

import hashlib

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


def test_invalid_header_quarantines_the_whole_file(testdata_lake):
    lake, _ = testdata_lake
    rows = connect(lake).execute(
        "SELECT position, modality, reason, raw_excerpt FROM lake_meta.quarantine WHERE lake_source = ?",
        [INVALID_HEADER]).fetchall()
    assert len(rows) == 1
    position, modality, reason, raw = rows[0]
    assert (position, modality) == ("file", "genomics")
    assert reason.startswith("invalid-vcf-header") and "sample" in reason
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
