"""--corrupt N: N bad records of each kind, each exactly where corruptions.json says."""

from __future__ import annotations

import collections
import gzip
import json

import pydicom
import pytest

from mmhealth.synth.corrupt import KINDS
from mmhealth.synth.fhir import RESOURCE_TYPES


@pytest.fixture(scope="module")
def corruptions(corrupted):
    return json.loads((corrupted / "corruptions.json").read_text())


def test_every_kind_twice(corruptions):
    assert collections.Counter(c["kind"] for c in corruptions) == {k: 2 for k in KINDS}


def test_ndjson_positions_point_at_the_bad_line(corrupted, corruptions):
    bad_lines = collections.defaultdict(set)
    for c in corruptions:
        if not c["file"].endswith(".ndjson"):
            continue
        lines = (corrupted / c["file"]).read_text().split("\n")
        line = lines[c["position"] - 1]
        bad_lines[c["file"]].add(c["position"])
        if c["kind"] == "malformed_json":
            with pytest.raises(json.JSONDecodeError):
                json.loads(line)
        elif c["kind"] == "missing_id":
            assert "id" not in json.loads(line)
        else:
            assert json.loads(line)["resourceType"] not in RESOURCE_TYPES
    # ... and every other line is a valid resource of the file's type
    for name in bad_lines:
        for i, line in enumerate((corrupted / name).read_text().splitlines(), start=1):
            if i not in bad_lines[name]:
                res = json.loads(line)
                assert res["id"] and res["resourceType"] == name.split("/")[-1].removesuffix(".ndjson")


def test_vcf_positions_point_at_the_bad_record(corrupted, corruptions):
    import pysam

    fasta = pysam.FastaFile(str(corrupted / "reference" / "panel.fa"))
    windows = [(n.rpartition(":")[0], *map(int, n.rpartition(":")[2].split("-")), n) for n in fasta.references]
    for c in (c for c in corruptions if c["kind"].startswith("vcf_")):
        lines = gzip.open(corrupted / c["file"], "rt").read().split("\n")
        cols = lines[c["position"] - 1].split("\t")
        if c["kind"] == "vcf_wrong_column_count":
            assert len(cols) != 10
        else:
            assert len(cols) == 10
            pos, ref = int(cols[1]), cols[3]
            (start, name), = [(s, n) for ch, s, e, n in windows if ch == cols[0] and s <= pos <= e]
            assert fasta.fetch(name, pos - start, pos - start + len(ref)) != ref


@pytest.mark.filterwarnings("ignore:End of file reached:UserWarning")  # pydicom on the truncated files
def test_dicom_files_are_broken_as_listed(corrupted, corruptions):
    for c in (c for c in corruptions if c["kind"].startswith("dicom_")):
        assert c["position"] is None
        path = corrupted / c["file"]
        if c["kind"] == "dicom_missing_patient_id":
            ds = pydicom.dcmread(path)
            assert "PatientID" not in ds
            ds.pixel_array  # otherwise a good image
        else:
            with pytest.raises(Exception):
                pydicom.dcmread(path).pixel_array


def test_clean_records_are_untouched(corrupted, ndjson):
    """Counts in the manifest are the clean data; corrupt records come on top, never instead."""
    manifest = json.loads((corrupted / "manifest.json").read_text())
    for rtype in RESOURCE_TYPES:
        good = 0
        for line in (corrupted / "fhir" / f"{rtype}.ndjson").read_text().splitlines():
            try:
                res = json.loads(line)
            except json.JSONDecodeError:
                continue
            good += "id" in res and res["resourceType"] == rtype
        assert good == manifest["counts"]["resources"][rtype]
    dicom_files = list((corrupted / "dicom").rglob("*.dcm"))
    assert len(dicom_files) == manifest["counts"]["files"]["dicom"] + 4
