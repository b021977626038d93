"""Independent readers accept everything the generator writes: pydicom (headers and pixels), pysam (VCF and
FASTA), DuckDB read_json (NDJSON)."""

from __future__ import annotations

import dataclasses
import json

import duckdb
import numpy as np
import pydicom
import pysam
import pytest

from mmhealth.synth.fhir import RESOURCE_TYPES



@pytest.fixture(autouse=True, scope="module")
def _quiet_htslib():
    """The VCFs are bgzip without .tbi (see docs): htslib would log that for every file opened."""
    previous = pysam.set_verbosity(0)
    yield
    pysam.set_verbosity(previous)


def test_pydicom_reads_and_decodes_every_file(small, manifest):
    files = sorted((small / "dicom").rglob("*.dcm"))
    assert len(files) == sum(m["n_slices"] for m in manifest["imaging"])
    for path in files:
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array
        assert pixels.shape == (ds.Rows, ds.Columns)
        assert 64 <= ds.Rows <= 256 and ds.Modality in ("MR", "CT")
        assert float(ds.RescaleSlope) == 1.0 and ds.PixelSpacing[0] > 0 and ds.SliceThickness > 0


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.5"])
def test_each_transfer_syntax_round_trips(tmp_path, syntax):
    """Every transfer syntax the generator uses decodes (with pydicom + pylibjpeg) to the pixels drawn."""
    from mmhealth.synth import dicom
    from mmhealth.synth.imaging_plan import plan_study
    from mmhealth.synth.model import DEFAULT_PARAMS
    from mmhealth.synth.patients import sample_patient

    p = next(p for p in (sample_patient(3, i, DEFAULT_PARAMS) for i in range(50)) if p.age > 40)
    plan = dataclasses.replace(plan_study(3, p, DEFAULT_PARAMS), transfer_syntax=syntax, n_slices=16,
                               size=64, sop_uids=plan_study(3, p, DEFAULT_PARAMS).sop_uids[:16])
    rendered = dicom.write_study(tmp_path, 3, plan, p)
    volume, _ = dicom.render_volume(3, plan)
    expected = dicom._to_stored(plan, volume)
    for k, rel in enumerate(rendered.files):
        ds = pydicom.dcmread(tmp_path / rel)
        assert ds.file_meta.TransferSyntaxUID == syntax
        assert np.array_equal(ds.pixel_array, expected[k])
        assert ds.ImagePositionPatient[2] == pytest.approx(float(ds.SliceLocation))
    again = dicom.write_study(tmp_path / "again", 3, plan, p)  # and the encoding is deterministic
    assert [(tmp_path / "again" / f).read_bytes() for f in again.files] == \
        [(tmp_path / f).read_bytes() for f in rendered.files]


def test_geometry_is_consistent(small):
    for series in {p.parent for p in (small / "dicom").rglob("*.dcm")}:
        slices = [pydicom.dcmread(p, stop_before_pixels=True) for p in series.glob("*.dcm")]
        slices.sort(key=lambda d: int(d.InstanceNumber))
        assert 16 <= len(slices) <= 64
        z = np.array([float(d.ImagePositionPatient[2]) for d in slices])
        assert np.allclose(np.diff(z), float(slices[0].SliceThickness), atol=1e-3)
        assert len({d.SOPInstanceUID for d in slices}) == len(slices)
        assert len({(d.StudyInstanceUID, d.SeriesInstanceUID, d.FrameOfReferenceUID) for d in slices}) == 1
        for d in slices:
            for uid in (d.SOPInstanceUID, d.StudyInstanceUID, d.SeriesInstanceUID):
                assert len(uid) <= 64 and all(c == "0" or not c.startswith("0") for c in uid.split("."))


def test_manifest_lesion_volume_is_what_a_threshold_segments(small, manifest):
    for m in manifest["imaging"]:
        folder = small / "dicom" / m["patient_id"] / m["study_instance_uid"] / m["series_instance_uid"]
        slices = [pydicom.dcmread(p) for p in folder.glob("*.dcm")]
        volume = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in slices])
        d = slices[0]
        voxel = float(d.PixelSpacing[0]) * float(d.PixelSpacing[1]) * float(d.SliceThickness)
        segmented = (volume >= m["lesion_threshold"]).sum() * voxel
        assert segmented == pytest.approx(m["lesion_volume_mm3"], rel=1e-6)
        assert m["lesion_volume_mm3"] > 0


def test_pysam_reads_every_vcf(small):
    from mmhealth.synth.panel import panel

    for path in sorted((small / "dna").glob("*.vcf.gz")):
        with pysam.VariantFile(str(path)) as vf:
            assert len(list(vf)) == len(panel()) == 200
    with pysam.VariantFile(str(small / "annotation" / "clinvar.vcf.gz")) as vf:
        assert len(list(vf)) >= 100


def test_vcf_content_has_the_promised_variety(small):
    phased = unphased = missing = multi = haploid = 0
    ids = set()
    for path in sorted((small / "dna").glob("*.vcf.gz")):
        with pysam.VariantFile(str(path)) as vf:
            assert vf.header.contigs.keys() == [f"chr{i}" for i in range(1, 23)] + ["chrX"]
            sample = list(vf.header.samples)[0]
            for rec in vf:
                ids.add(rec.id)
                call = rec.samples[sample]
                multi += len(rec.alts) > 1
                if None in call["GT"]:
                    missing += 1
                elif len(call["GT"]) == 1:
                    haploid += 1
                elif call.phased:
                    phased += 1
                else:
                    unphased += 1
    assert {"rs429358", "rs7412", "rs1333049", "rs6025", "rs1801133", "rs699", "rs10455872",
            "rs11591147", "rs688", "rs28933696"} <= ids
    assert phased and unphased and missing and multi and haploid


def test_clinvar_uses_bare_contig_names_and_info(small):
    with pysam.VariantFile(str(small / "annotation" / "clinvar.vcf.gz")) as vf:
        records = list(vf)
    assert all(not r.chrom.startswith("chr") for r in records)
    apoe = [r for r in records if r.info.get("RS") == ("429358",)]
    assert len(apoe) == 1 and apoe[0].info["GENEINFO"] == "APOE:348"
    for r in records:
        for key in ("CLNSIG", "CLNDN", "CLNREVSTAT", "ALLELEID"):
            assert key in r.info


def _fasta_lookup(fasta: pysam.FastaFile):
    regions = []
    for name in fasta.references:
        contig, _, span = name.rpartition(":")
        start, end = (int(x) for x in span.split("-"))
        regions.append((contig, start, end, name))
    return regions


def test_every_ref_allele_matches_the_fasta(small):
    fasta = pysam.FastaFile(str(small / "reference" / "panel.fa"))
    regions = _fasta_lookup(fasta)
    checked = 0
    files = sorted((small / "dna").glob("*.vcf.gz"))
    for path in files + [small / "annotation" / "clinvar.vcf.gz"]:
        with pysam.VariantFile(str(path)) as vf:
            for rec in vf:
                contig = rec.chrom if rec.chrom.startswith("chr") else f"chr{rec.chrom}"
                (start, name), = [(s, n) for c, s, e, n in regions if c == contig and s <= rec.pos <= e]
                offset = rec.pos - start
                assert fasta.fetch(name, offset, offset + len(rec.ref)) == rec.ref
                checked += 1
    assert checked > 25 * 150


def test_duckdb_reads_every_ndjson_file(small, ndjson):
    con = duckdb.connect()
    for rtype in RESOURCE_TYPES:
        path = (small / "fhir" / f"{rtype}.ndjson").as_posix()
        n, types = con.execute(
            f"select count(*), count(distinct resourceType) from read_json('{path}', format='newline_delimited')"
        ).fetchone()
        assert n == len(ndjson(small, rtype)) > 0 and types == 1


def test_fhir_content_is_synthea_like(small, ndjson):
    patients = ndjson(small, "Patient")
    urls = {e["url"] for p in patients for e in p["extension"]}
    assert {"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
            "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"} <= urls
    assert all(p["address"] and p["telecom"] and p["maritalStatus"] for p in patients)
    codes = {c["code"] for o in ndjson(small, "Observation") for c in o["code"]["coding"]}
    assert {"85354-9", "39156-5", "2093-3", "18262-6", "2085-9", "4548-4", "72166-2"} <= codes
    bp = next(o for o in ndjson(small, "Observation") if o["code"]["coding"][0]["code"] == "85354-9")
    assert {c["code"]["coding"][0]["code"] for c in bp["component"]} == {"8480-6", "8462-4"}
    claims = ndjson(small, "Claim")
    assert len(claims) == len(ndjson(small, "Encounter"))
    manifest = json.loads((small / "manifest.json").read_text())
    assert manifest["counts"]["resources"] == {t: len(ndjson(small, t)) for t in RESOURCE_TYPES}
