"""Imaging test fixtures: small DICOM series written once per session."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib, which puts no test folder on sys.path; the test kit shared by the
# test modules here is made importable by path.
sys.path.insert(0, str(Path(__file__).parent))
from imaging_testkit import SeriesSpec, lesion_volume_mm3, read_folder, write_series  # noqa: E402


@pytest.fixture(autouse=True)
def _quiet_pydicom():
    # Real test files carry values pydicom warns about (UI lengths, odd VRs); the warnings are not under test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


COHORT_RADII_MM = (4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0)


@pytest.fixture(scope="session")
def cohort(tmp_path_factory) -> tuple[Path, list[dict]]:
    """Ten CT series of ten patients, lesions of 4-13 mm radius; returns (root, manifest-like imaging list)."""
    root = tmp_path_factory.mktemp("cohort")
    manifest = []
    for i, radius in enumerate(COHORT_RADII_MM):
        spec = SeriesSpec(f"patient-{i:02d}", radius, seed=100 + i)
        paths = write_series(root / spec.patient_id / "study" / "series", spec)
        import pydicom

        ds = pydicom.dcmread(paths[0], stop_before_pixels=True)
        manifest.append({"patient_id": spec.patient_id, "study_instance_uid": ds.StudyInstanceUID,
                         "series_instance_uid": ds.SeriesInstanceUID, "modality": "CT",
                         "n_slices": spec.slices, "lesion_volume_mm3": lesion_volume_mm3(spec)})
    return root, manifest


@pytest.fixture(scope="session")
def cohort_read(cohort, tmp_path_factory):
    root, manifest = cohort
    outputs, tables = read_folder(root, tmp_path_factory.mktemp("cohort-staging"))
    return manifest, outputs, tables


@pytest.fixture(scope="session")
def demo_lake(tmp_path_factory):
    """`mmhealth generate` with 15 imaging patients, ingested (FHIR + imaging) through the CLI.
    Returns (manifest imaging list, lake path)."""
    import json

    from mmhealth.cli import main

    data = tmp_path_factory.mktemp("demo") / "data"
    lake = data.parent / "lake"
    assert main(["generate", "--out", str(data), "--patients", "30", "--genomes", "0", "--imaging", "15",
                 "--seed", "4", "--jobs", "1", "--quiet"]) == 0
    assert main(["ingest", str(data), "--lake", str(lake), "--modality", "fhir,imaging", "--jobs", "2",
                 "--quiet"]) == 0
    manifest = json.loads((data / "manifest.json").read_text())["imaging"]
    return manifest, lake


@pytest.fixture(scope="session")
def awkward_imaging_lake(testdata, tmp_path_factory):
    """Every file of ../shared/testdata/dicom (under real/) and the awkward cases of issue 15 (under awkward/,
    `awkward_cases.write_awkward`) ingested into one local lake with a worker pool. Returns (source, cases, lake,
    the imaging ModalityReport). Treat it as read-only (the dbt test adds its warehouse beside it)."""
    import shutil

    from awkward_cases import write_awkward
    from mmhealth.lake.ingest import run_ingest

    src = tmp_path_factory.mktemp("awkward") / "source"
    shutil.copytree(testdata / "dicom", src / "real", copy_function=shutil.copyfile)
    cases = write_awkward(src / "awkward")
    lake = src.parent / "lake"
    report = run_ingest(src, str(lake), ["imaging"], {"workers": 2}, progress=False)
    return src, cases, lake, report.modalities["imaging"]
