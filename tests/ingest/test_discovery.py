"""Which reader reads which file: every file under SOURCE is claimed by exactly one modality, so no file is counted
twice (one fate per modality that reads it) and none is left in no count at all. Index files alone are no one's."""

from __future__ import annotations

import pytest

from mmhealth.lake.ingest import run_ingest
from mmhealth.lake.modalities import DEFAULT_MODALITIES, load_reader

from .conftest import connect

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
    "dna/b.bcf": "genomics",  # not read, but skipped with a reason (not in no count at all)
    "aligned/s.bam": "genomics",
    "aligned/s.cram": "genomics",
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
    from mmhealth.ingest.imaging.header import OTHER_MODALITY_SUFFIXES
    from mmhealth.ingest.genomics.fasta import FASTA_SUFFIXES
    from mmhealth.ingest.genomics.vcf import VCF_SUFFIXES

    claimed = {".ndjson", ".ndjson.gz", ".json", *VCF_SUFFIXES, *FASTA_SUFFIXES}
    assert claimed - set(OTHER_MODALITY_SUFFIXES) == set()


def test_files_the_lake_does_not_read_are_skipped_with_what_to_do(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("calls.bcf", "reads.bam", "reads.cram", "reads.bam.bai"):
        (src / name).write_bytes(b"BCF\x02\x02" if name.endswith(".bcf") else b"\x1f\x8b")
    report = run_ingest(src, str(tmp_path / "lake"), list(DEFAULT_MODALITIES), {}, progress=False)
    g = report.modalities["genomics"]
    assert (g.read, g.loaded, g.quarantined, g.skipped) == (3, 0, 0, 3)
    rows = dict(connect(tmp_path / "lake").execute(
        "SELECT lake_source, reason FROM lake_meta.skipped WHERE modality = 'genomics'").fetchall())
    assert set(rows) == {"calls.bcf", "reads.bam", "reads.cram"}
    assert rows["calls.bcf"].startswith("other-format: BCF") and "bcftools view" in rows["calls.bcf"]
    assert rows["reads.bam"].startswith("other-format: BAM")


def test_readahead_announces_the_files_it_can_open_and_passes_over_the_rest(tmp_path):
    """The imaging workers announce a chunk's files before reading them (a hint to the kernel, never an error): a
    file that cannot be opened is left for the reader, which words the error itself."""
    import os

    from mmhealth.ingest.readahead import readahead

    files = [tmp_path / f"{i}.dcm" for i in range(3)]
    for f in files:
        f.write_bytes(b"\0" * 4096)
    expected = 3 if hasattr(os, "POSIX_FADV_WILLNEED") else 0
    assert readahead([*files, tmp_path / "gone.dcm"]) == expected


def test_read_ahead_of_yields_in_order_and_announces_each_window_before_it_is_reached(monkeypatch):
    """The genomics reader's one-by-one path: every file announced once, and before it is reached the whole window
    after the current one is announced too (the disk works ahead of the parser)."""
    from mmhealth.ingest import readahead as ra

    announced: list[int] = []
    monkeypatch.setattr(ra, "readahead", lambda paths: announced.extend(paths))
    seen = []
    for item in ra.read_ahead_of(range(10), lambda i: i, window=3):
        start = item - item % 3
        assert set(range(min(start + 6, 10))) <= set(announced), item  # its window and the next one
        seen.append(item)
    assert seen == list(range(10))
    assert sorted(announced) == list(range(10))
