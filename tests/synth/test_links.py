"""The links the contract promises: Patient.id = VCF sample = DICOM PatientID; ImagingStudy identifiers and
counts match the DICOM files; every reference resolves."""

from __future__ import annotations

import collections

import pydicom
import pysam


def test_vcf_samples_are_patients(small, ndjson):
    patients = {p["id"] for p in ndjson(small, "Patient")}
    vcfs = sorted((small / "dna").glob("*_dna.vcf.gz"))
    assert len(vcfs) == 25
    for path in vcfs:
        with pysam.VariantFile(str(path)) as vf:
            samples = list(vf.header.samples)
        assert len(samples) == 1 and samples[0] in patients
        assert path.name == f"{samples[0]}_dna.vcf.gz"


def test_imaging_studies_match_dicom_files(small, ndjson, manifest):
    patients = {p["id"] for p in ndjson(small, "Patient")}
    files = sorted((small / "dicom").rglob("*.dcm"))
    by_study: dict[str, dict] = collections.defaultdict(lambda: {"series": set(), "sops": set(), "n": 0})
    for path in files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert ds.PatientID in patients
        # layout: dicom/<patient-id>/<study-uid>/<series-uid>/<n>.dcm
        assert path.parts[-4:-1] == (ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID)
        entry = by_study[ds.StudyInstanceUID]
        entry["series"].add(ds.SeriesInstanceUID)
        entry["sops"].add(ds.SOPInstanceUID)
        entry["n"] += 1
        entry["patient"] = ds.PatientID
    studies = ndjson(small, "ImagingStudy")
    assert len(studies) == 8 == len(by_study)
    for s in studies:
        value = s["identifier"][0]["value"]
        assert value.startswith("urn:oid:")
        uid = value[len("urn:oid:"):]
        matches = [u for u in by_study if u == uid]
        assert len(matches) == 1
        files_for = by_study[uid]
        assert s["subject"]["reference"] == f"Patient/{files_for['patient']}"
        assert s["numberOfSeries"] == len(files_for["series"]) == len(s["series"])
        assert s["numberOfInstances"] == files_for["n"]
        series = s["series"][0]
        assert {series["uid"]} == files_for["series"]
        assert series["numberOfInstances"] == files_for["n"]
        assert {i["uid"] for i in series["instance"]} == files_for["sops"]
    truth = {(m["patient_id"], m["study_instance_uid"], m["series_instance_uid"], m["n_slices"])
             for m in manifest["imaging"]}
    assert truth == {(v["patient"], k, next(iter(v["series"])), v["n"]) for k, v in by_study.items()}


def test_every_reference_resolves(small, ndjson):
    from mmhealth.synth.fhir import RESOURCE_TYPES

    known = {(t, r["id"]) for t in RESOURCE_TYPES for r in ndjson(small, t)}
    refs = 0

    def walk(node):
        nonlocal refs
        if isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str):
                rtype, _, rid = ref.partition("/")
                assert (rtype, rid) in known, ref
                refs += 1
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for t in RESOURCE_TYPES:
        for r in ndjson(small, t):
            walk(r)
    assert refs > 1000


def test_genetic_reports_for_genome_patients_only(small, ndjson):
    sequenced = {p.name.removesuffix("_dna.vcf.gz") for p in (small / "dna").glob("*.vcf.gz")}
    reports = [r for r in ndjson(small, "DiagnosticReport") if r["code"]["coding"][0]["code"] == "55232-3"]
    assert {r["subject"]["reference"].split("/")[1] for r in reports} == sequenced
    assert len(reports) == len(sequenced)


def test_bundles_are_transactions_with_urn_uuid_references(small, ndjson):
    import json

    bundles = sorted((small / "fhir" / "bundles").glob("*.json"))
    assert len(bundles) == 40
    total = 0
    for path in bundles:
        bundle = json.loads(path.read_text())
        assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
        full_urls = {e["fullUrl"] for e in bundle["entry"]}
        text = path.read_text()
        assert '"reference":"Patient/' not in text
        for e in bundle["entry"]:
            assert e["request"] == {"method": "POST", "url": e["resource"]["resourceType"]}
        for ref in _references(bundle):
            assert ref.startswith("urn:uuid:") and ref in full_urls
        total += len(bundle["entry"])
    from mmhealth.synth.fhir import RESOURCE_TYPES
    assert total == sum(len(ndjson(small, t)) for t in RESOURCE_TYPES)


def _references(node):
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield node["reference"]
        for v in node.values():
            yield from _references(v)
    elif isinstance(node, list):
        for v in node:
            yield from _references(v)
