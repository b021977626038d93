"""Rows and Arrow schemas of the `imaging` database: image_sets, studies, series, instances, radiomics.

Pure functions from headers (and radiomics results) to tables. Column names are lower-cased DICOM keywords
where a DICOM attribute exists (`studyinstanceuid`, `numberofstudyrelatedinstances`, ...); the rest say what
they hold (`imagesetid`, `radiomics_status`, `mask_volume_mm3`). Every table also gets `lake_source` (the
relative path of the file a row comes from; for study / series / image set rows, the first file of that
study / series), which the lake uses to replace rows when files change.

`patientid` is null where the files say nothing (PatientID absent or empty): such files load, linked to no
patient. A study / series / image set row takes the first PatientID its files (in path order) do give.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from mmhealth.ingest.imaging.header import (
    ALL_KEYWORDS, PATIENT_KEYWORDS, SERIES_KEYWORDS, STUDY_KEYWORDS, DicomHeader,
)
from mmhealth.ingest.imaging.series import image_set_id, slice_normal
from mmhealth.ingest.imaging.radiomics import ImageSetResult
from mmhealth.ingest.records import SOURCE_COLUMN

if TYPE_CHECKING:
    import pyarrow as pa

DATABASE = "imaging"
TABLES = ("image_sets", "studies", "series", "instances", "radiomics")


def _arrow_type(kind: str):
    import pyarrow as pa

    return {"str": pa.string(), "int": pa.int64(), "float": pa.float64(),
            "floats": pa.list_(pa.float64()), "strs": pa.list_(pa.string())}[kind]


def _fields(spec: Iterable[tuple[str, str]]):
    import pyarrow as pa

    return [pa.field(name, _arrow_type(kind)) for name, kind in spec]


def _lower(keywords: dict[str, str]) -> list[tuple[str, str]]:
    return [(k.lower(), v) for k, v in keywords.items()]


IDS = [("imagesetid", "str"), ("patientid", "str"), ("studyinstanceuid", "str"), ("seriesinstanceuid", "str")]


def schema(table: str) -> "pa.Schema":
    """The Arrow schema of `table` (stable across runs, whatever the input carries)."""
    import pyarrow as pa

    if table == "instances":
        spec = [("imagesetid", "str")] + _lower(ALL_KEYWORDS) + [("transfersyntaxuid", "str"),
                                                                   ("file_size", "int")]
    elif table == "series":
        spec = [("imagesetid", "str"), ("patientid", "str"), ("studyinstanceuid", "str")] + [
            s for s in _lower(SERIES_KEYWORDS)] + [("numberofseriesrelatedinstances", "int")]
    elif table == "studies":
        spec = _lower(PATIENT_KEYWORDS) + _lower(STUDY_KEYWORDS) + [
            ("numberofstudyrelatedseries", "int"), ("numberofstudyrelatedinstances", "int"),
            ("modalitiesinstudy", "strs")]
    elif table == "image_sets":
        spec = IDS + [("modality", "str"), ("imagesetstate", "str"), ("numberofinstances", "int"),
                      ("numberofframes", "int"), ("width", "int"), ("height", "int"), ("depth", "int"),
                      ("spacing_x", "float"), ("spacing_y", "float"), ("spacing_z", "float"),
                      ("radiomics_status", "str")]
    elif table == "radiomics":
        return pa.schema(_fields(IDS + [("modality", "str"), ("segmentation_method", "str"),
                                        ("segmentation_version", "str"), ("segmentation_fallback_reason", "str"),
                                        ("mask_voxels", "int"), ("mask_volume_mm3", "float"),
                                        ("geometry_status", "str"), ("pyradiomics_version", "str"),
                                        ("radiomics_settings", "str")]) + [pa.field(SOURCE_COLUMN, pa.string())])
    else:
        raise KeyError(table)
    return pa.schema(_fields(_dedupe(spec)) + [pa.field(SOURCE_COLUMN, pa.string())])


def _dedupe(spec: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen, out = set(), []
    for name, kind in spec:
        if name not in seen:
            seen.add(name)
            out.append((name, kind))
    return out


def to_arrow(table: str, rows: list[dict[str, Any]]) -> "pa.Table":
    """Rows as an Arrow table with `table`'s schema; radiomics feature columns (float64) are appended in
    name order after the fixed columns, so every part has the same layout for the same feature set."""
    import pyarrow as pa

    sch = schema(table)
    if table == "radiomics":
        fixed = set(sch.names)
        extra = sorted({k for r in rows for k in r} - fixed)
        sch = pa.schema(list(sch) + [pa.field(k, pa.float64()) for k in extra])
    return pa.Table.from_pylist(rows, schema=sch)


# ---------------------------------------------------------------------------------------------------- rows
def patient_of(headers: Iterable[DicomHeader]) -> str | None:
    """The first PatientID the files (in path order) give; None when none of them gives one."""
    return next((h.patient_id for h in sorted(headers, key=lambda h: h.source) if h.patient_id), None)


def instance_rows(headers: Sequence[DicomHeader]) -> list[dict[str, Any]]:
    rows = []
    for h in headers:
        row = dict(h.attributes)
        row["imagesetid"] = image_set_id(h.study_uid, h.series_uid)
        row["patientid"] = h.patient_id or None
        row["studyinstanceuid"], row["seriesinstanceuid"] = h.study_uid, h.series_uid
        row[SOURCE_COLUMN] = h.source
        rows.append(row)
    return rows


def series_rows(series: dict[tuple[str, str], list[DicomHeader]]) -> list[dict[str, Any]]:
    rows = []
    for (study, uid), headers in series.items():
        first = headers[0]
        row = {kw.lower(): first.attributes.get(kw.lower()) for kw in SERIES_KEYWORDS}
        row.update(imagesetid=image_set_id(study, uid), patientid=patient_of(headers), studyinstanceuid=study,
                   seriesinstanceuid=uid, numberofseriesrelatedinstances=len(headers))
        row[SOURCE_COLUMN] = first.source
        rows.append(row)
    return rows


def study_rows(series: dict[tuple[str, str], list[DicomHeader]]) -> list[dict[str, Any]]:
    by_study: dict[str, list[list[DicomHeader]]] = {}
    for (study, _), headers in series.items():
        by_study.setdefault(study, []).append(headers)
    rows = []
    for study, groups in by_study.items():
        headers = sorted((h for g in groups for h in g), key=lambda h: h.source)
        first = headers[0]
        row = {kw.lower(): first.attributes.get(kw.lower()) for kw in {**PATIENT_KEYWORDS, **STUDY_KEYWORDS}}
        row.update(patientid=patient_of(headers), studyinstanceuid=study, numberofstudyrelatedseries=len(groups),
                   numberofstudyrelatedinstances=len(headers),
                   modalitiesinstudy=sorted({h.attributes.get("modality") for h in headers} - {None}))
        row[SOURCE_COLUMN] = first.source
        rows.append(row)
    return rows


def series_extent(headers: Sequence[DicomHeader]) -> dict[str, Any]:
    """Dimensions and voxel spacing of a series from its headers (no pixels needed): width x height from
    Columns x Rows, depth = frames with pixels, spacing_z = median gap along the slice normal."""
    imaging = [h for h in headers if h.has_pixels]
    frames = [g for h in imaging for g in h.frame_geometry]
    out: dict[str, Any] = {"numberofframes": sum(h.frames for h in imaging), "width": None, "height": None,
                           "depth": len(frames) or None, "spacing_x": None, "spacing_y": None,
                           "spacing_z": None}
    if imaging:
        out["width"], out["height"] = imaging[0].columns, imaging[0].rows
    if frames and frames[0].spacing:
        out["spacing_y"], out["spacing_x"] = frames[0].spacing
    if len(frames) >= 2 and all(f.position and f.orientation for f in frames):
        normal = slice_normal(frames[0].orientation)
        proj = sorted(sum(p * n for p, n in zip(f.position, normal)) for f in frames)
        out["spacing_z"] = statistics.median(b - a for a, b in zip(proj, proj[1:]))
    elif frames and frames[0].thickness:
        out["spacing_z"] = frames[0].thickness
    return out


def image_set_rows(series: dict[tuple[str, str], list[DicomHeader]],
                   status: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for (study, uid), headers in series.items():
        first = headers[0]
        isid = image_set_id(study, uid)
        row = {"imagesetid": isid, "patientid": patient_of(headers), "studyinstanceuid": study,
               "seriesinstanceuid": uid, "modality": first.attributes.get("modality"), "imagesetstate": "ACTIVE",
               "numberofinstances": len(headers), "radiomics_status": status.get(isid)}
        row.update(series_extent(headers))
        row[SOURCE_COLUMN] = first.source
        rows.append(row)
    return rows


def radiomics_rows(series: dict[tuple[str, str], list[DicomHeader]],
                   results: Iterable[ImageSetResult]) -> list[dict[str, Any]]:
    by_id = {image_set_id(study, uid): (study, uid, headers) for (study, uid), headers in series.items()}
    rows = []
    for res in sorted(results, key=lambda r: r.imagesetid):
        if res.features is None or res.imagesetid not in by_id:
            continue
        study, uid, headers = by_id[res.imagesetid]
        row = {"imagesetid": res.imagesetid, "patientid": patient_of(headers), "studyinstanceuid": study,
               "seriesinstanceuid": uid, "modality": headers[0].attributes.get("modality")}
        row.update(res.features)
        row[SOURCE_COLUMN] = headers[0].source
        rows.append(row)
    return rows

