"""Imaging follows the patient's conditions: lesions are larger after a stroke and with hypertension."""

from __future__ import annotations

import statistics

import pydicom

from mmhealth.synth.generate import select_subsets
from mmhealth.synth.imaging_plan import plan_study
from mmhealth.synth.model import DEFAULT_PARAMS
from mmhealth.synth.patients import sample_patient


def test_lesion_volume_follows_prior_stroke_and_hypertension():
    profiles = [sample_patient(21, i, DEFAULT_PARAMS) for i in range(4000)]
    select_subsets(21, profiles, 0, 1500)
    plans = [(p, plan_study(21, p, DEFAULT_PARAMS)) for p in profiles if p.has_imaging]
    stroke = [s.lesion_target_mm3 for p, s in plans if p.has("stroke", s.study_ord)]
    htn_only = [s.lesion_target_mm3 for p, s in plans
                if p.has("hypertension", s.study_ord) and not p.has("stroke", s.study_ord)]
    neither = [s.lesion_target_mm3 for p, s in plans
               if not p.has("hypertension", s.study_ord) and not p.has("stroke", s.study_ord)]
    assert len(stroke) >= 20
    assert statistics.median(stroke) > 2 * statistics.median(neither)
    assert statistics.median(htn_only) > 1.15 * statistics.median(neither)
    assert all(p.age_at(s.study_ord) >= 18 and p.record_start_ord <= s.study_ord <= p.end_ord for p, s in plans)


def test_imaging_study_dates_match_dicom(small, ndjson):
    studies = {s["identifier"][0]["value"][len("urn:oid:"):]: s for s in ndjson(small, "ImagingStudy")}
    for series in {p.parent for p in (small / "dicom").rglob("*.dcm")}:
        ds = pydicom.dcmread(next(series.glob("*.dcm")), stop_before_pixels=True)
        started = studies[ds.StudyInstanceUID]["started"]
        assert started[:10].replace("-", "") == ds.StudyDate
        assert started[11:19].replace(":", "") == ds.StudyTime
        assert studies[ds.StudyInstanceUID]["modality"][0]["code"] == ds.Modality
