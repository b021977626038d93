"""Every site and FORMAT column of omics.variants against pysam, and the VCF pipeline's threading contract.

The reshaping is done with Arrow kernels on batches parsed on another thread; these tests pin down what it
must produce (the genotype test in test_vcf_testdata covers calls, phasing, DP and GQ)."""

from __future__ import annotations

import math
from collections import Counter

import pyarrow as pa
import pysam
import pytest

from mmhealth.ingest.genomics.vcf import _prefetch

from .conftest import connect

SAMPLE_VCFS = ["vcf/cyvcf2/test.vcf.gz", "vcf/ga4gh-compliance/brca1_1kgPhase3_variants.vcf",
               "vcf/slivar/ashk-trio.vcf.gz"]


@pytest.mark.parametrize("rel", SAMPLE_VCFS)
def test_site_columns_and_allele_depths_match_pysam(testdata, testdata_lake, rel):
    lake, _ = testdata_lake
    expected = {}
    with pysam.VariantFile(str(testdata / rel)) as vf:
        has_ad = "AD" in vf.header.formats
        for rec in vf:
            filters = list(rec.filter.keys()) or None  # '.' -> NULL; PASS -> ['PASS']
            names = rec.id.split(";") if rec.id else None
            for sample, call in rec.samples.items():
                ad = list(call.get("AD")) if has_ad and call.get("AD") is not None else None
                expected[(sample, rec.contig, rec.start, rec.ref, tuple(rec.alts or ()))] = (
                    rec.stop, names, filters, rec.qual, ad)
    got = {}
    for sample, contig, start, ref, alts, end, names, filters, qual, ad in connect(lake).execute(
            "SELECT sampleid, contigname, start, referenceallele, alternatealleles, \"end\", names, filters, qual, "
            "alleledepths FROM omics.variants WHERE lake_source = ?", [rel]).fetchall():
        got[(sample, contig, start, ref, tuple(alts or ()))] = (end, names, filters, qual, ad)
    assert got.keys() == expected.keys()
    for key, (end, names, filters, qual, ad) in expected.items():
        g_end, g_names, g_filters, g_qual, g_ad = got[key]
        assert (g_end, g_names, g_filters) == (end, names, filters), key
        assert (g_qual is None) == (qual is None) and (qual is None or math.isclose(g_qual, qual, rel_tol=1e-6)), key
        if ad is not None or has_ad:
            assert g_ad == ad, key


def test_every_sample_row_carries_its_site_info_map(testdata, testdata_lake):
    """The map is built once per batch and shared by the samples' rows: each row's keys are its site's."""
    lake, _ = testdata_lake
    rel = "vcf/slivar/ashk-trio.vcf.gz"
    expected: Counter = Counter()
    with pysam.VariantFile(str(testdata / rel)) as vf:
        samples = len(vf.header.samples)
        for rec in vf:
            keys = frozenset(k for k, v in rec.info.items() if v is not None and v is not False)
            expected[(rec.contig, rec.start, rec.ref, tuple(rec.alts or ()), keys, rec.info.get("culprit"))] += samples
    got = Counter(
        (contig, start, ref, tuple(alts or ()), frozenset(keys), culprit)
        for contig, start, ref, alts, keys, culprit in connect(lake).execute(
            "SELECT contigname, start, referenceallele, alternatealleles, map_keys(attributes), "
            "attributes['culprit'] FROM omics.variants WHERE lake_source = ?", [rel]).fetchall())
    assert got == expected


class _Reader:
    """A stand-in for oxbow's reader: `n` batches, optionally failing after `fail_after` of them."""

    def __init__(self, n: int, fail_after: int | None = None):
        self.n, self.fail_after, self.sent, self.closed = n, fail_after, 0, False

    def read_next_batch(self):
        if self.fail_after is not None and self.sent == self.fail_after:
            raise pa.ArrowInvalid("line 7: invalid record")
        if self.sent == self.n:
            raise StopIteration
        self.sent += 1
        return pa.record_batch({"i": [self.sent]})

    def close(self):
        self.closed = True


def test_prefetch_yields_batches_in_order_then_the_parse_error():
    reader = _Reader(5, fail_after=3)
    seen = []
    with pytest.raises(pa.ArrowInvalid, match="invalid record"):
        for batch in _prefetch(reader):
            seen.append(batch.column(0)[0].as_py())
    assert seen == [1, 2, 3]  # the batches before the bad one, then its error (the caller falls back)
    assert reader.closed


def test_prefetch_stops_its_thread_when_the_consumer_stops_early():
    reader = _Reader(1000)
    batches = _prefetch(reader, depth=2)
    assert next(batches).column(0)[0].as_py() == 1
    batches.close()  # what convert's `finally` does when reshaping or writing raised
    assert reader.closed
    assert reader.sent <= 1 + 2 + 1  # parsing stopped: one consumed, `depth` queued, at most one in flight


TINY_VCF = """##fileformat=VCFv4.2
##contig=<ID=chr1,length=1000>
##FILTER=<ID=q10,Description="low quality">
##INFO=<ID=DP,Number=1,Type=Integer,Description="depth">
##INFO=<ID=END,Number=1,Type=Integer,Description="end">
##INFO=<ID=SOMATIC,Number=0,Type=Flag,Description="flag">
##FORMAT=<ID=GT,Number=1,Type=String,Description="genotype">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="depth">
##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="quality">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="allele depths">
##FORMAT=<ID=PL,Number=G,Type=Integer,Description="likelihoods">
#CHROM	POS	ID	REF	ALT	QUAL	FILTER	INFO	FORMAT	A	B
chr1	10	rs1;rs2	A	G	50	PASS	DP=9;SOMATIC	GT:DP:GQ:AD:PL	0|1:5:30:2,3:0,1,2	1/.:4:.:.:.
chr1	20	.	C	T,G	.	.	END=40	GT:DP	./.:.	1|2:7
chr1	30	.	G	A	3.5	q10	.	GT	0/0	.
"""


def test_phasing_missing_alleles_and_info_of_a_tiny_vcf_match_pysam(tmp_path):
    """Phased and unphased calls, missing alleles and values, INFO END and flags (the GIAB trio has no phasing)."""
    import pyarrow.parquet as pq

    from mmhealth.ingest.genomics.vcf import convert, read_header, variants_schema

    src = tmp_path / "tiny.vcf"
    src.write_text(TINY_VCF)
    out = tmp_path / "tiny.parquet"
    result = convert(src, "tiny.vcf", read_header(src), out, None)
    assert (result.records, result.loaded_sites, result.rows, result.quarantined) == (3, 3, 6, [])
    table = pq.read_table(out)
    assert table.schema.remove_metadata() == variants_schema()
    got = {(r["sampleid"], r["start"]): r for r in table.to_pylist()}
    with pysam.VariantFile(str(src)) as vf:
        for rec in vf:
            for sample, call in rec.samples.items():
                row = got[(sample, rec.start)]
                gt = call.get("GT")
                calls = [-1 if a is None else a for a in gt] if gt is not None and gt != (None,) else None
                assert row["calls"] == calls or (calls is None and row["calls"] in (None, [-1])), (sample, rec.pos)
                if gt is not None and len(gt) > 1:  # htslib calls a one-allele GT phased; the lake says false
                    assert row["phased"] == call.phased, (sample, rec.pos)
                assert row["depth"] == call.get("DP") and row["genotypequality"] == call.get("GQ")
                ad = call.get("AD") if "AD" in call else None
                assert row["alleledepths"] == (list(ad) if ad is not None and ad != (None,) else None)
                assert row["end"] == rec.stop
                info = {k: "true" if v is True else str(v) for k, v in rec.info.items()}
                if rec.stop != rec.start + len(rec.ref):
                    info["END"] = str(rec.stop)  # pysam moves END into rec.stop; the map keeps it
                assert dict(row["attributes"]) == info
    assert got[("A", 9)]["names"] == ["rs1", "rs2"] and got[("A", 19)]["filters"] is None
    assert got[("A", 29)]["filters"] == ["q10"] and got[("A", 9)]["filters"] == ["PASS"]
    assert [got[("A", 9)]["phased"], got[("B", 9)]["phased"], got[("B", 19)]["phased"]] == [True, False, True]
    assert got[("B", 9)]["calls"] == [1, -1] and got[("A", 19)]["calls"] == [-1, -1]
