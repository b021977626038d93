"""Which reader reads which file: every file under SOURCE is claimed by exactly one modality, so no file is counted
twice (one fate per modality that reads it) and none is left in no count at all. Index files alone are no one's."""

from __future__ import annotations

import pytest

from mmhealth.lake.modalities import DEFAULT_MODALITIES, load_reader

# name -> the modality that must read it (None: an index, read by no modality - docs/ingest.md)
FILES = {
    "bulk/Patient.ndjson": "fhir",
    "bulk/Patient.ndjson.gz": "fhir",
    "bundles/one.json": "fhir",
    "bundles/schema.json": "fhir",  # a JSON document that is no resource: skipped as not-fhir by the FHIR reader
    "dna/a.vcf": "genomics",
    "dna/a.vcf.gz": "genomics",
    "dna/a.vcf.bgz": "genomics",
    "ref/r.fa": "genomics",
    "ref/r.fasta": "genomics",
    "ref/r.fna": "genomics",
    "ref/r.fa.gz": "genomics",
    "ref/r.fasta.gz": "genomics",
    "ref/r.fna.gz": "genomics",
    "dicom/IM000001": "imaging",
    "dicom/1.dcm": "imaging",
    "dicom/volume.nii.gz": "imaging",
    "dicom/README.txt": "imaging",
    "dna/a.vcf.gz.tbi": None,
    "dna/a.vcf.gz.csi": None,
    "ref/r.fa.fai": None,
    "ref/r.fa.gz.gzi": None,
}


@pytest.fixture()
def claims(tmp_path):
    for name in FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    out: dict[str, list[str]] = {name: [] for name in FILES}
    for modality in DEFAULT_MODALITIES:
        for path in load_reader(modality).discover(tmp_path):
            out[path.relative_to(tmp_path).as_posix()].append(modality)
    return out


def test_every_file_is_read_by_exactly_one_modality(claims):
    assert claims == {name: [m] if m else [] for name, m in FILES.items()}


def test_imaging_leaves_alone_every_suffix_the_other_readers_claim():
    """The imaging reader claims whatever is not another reader's; its list of their suffixes must not fall behind
    theirs (a `.vcf.bgz` or `.ndjson.gz` once had a genomics or FHIR fate and a `not-dicom` one)."""
    from mmhealth.ingest.dicom import OTHER_MODALITY_SUFFIXES
    from mmhealth.ingest.fasta import FASTA_SUFFIXES
    from mmhealth.ingest.vcf import VCF_SUFFIXES

    claimed = {".ndjson", ".ndjson.gz", ".json", *VCF_SUFFIXES, *FASTA_SUFFIXES}
    assert claimed - set(OTHER_MODALITY_SUFFIXES) == set()
