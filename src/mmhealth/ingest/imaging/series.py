"""What the headers of one series say together: the image set id, which copy of an instance loads, whether the
frames can form one volume and, when they cannot, the cause a `radiomics_status` names.

Pure rules over `header.DicomHeader`s: nothing here opens a file. They run once the headers are read and the
candidate copies decoded (`reader.py`); `volume.py` shares `slice_normal` to order the frames it assembles.
"""

from __future__ import annotations

import hashlib
import math

from mmhealth.ingest.imaging.header import DicomHeader, NotLoaded, Rejection


def image_set_id(study_uid: str, series_uid: str) -> str:
    """Stable image set id: 32 hex digits (HealthImaging's id width) from the Study and Series UIDs, so the
    same series gets the same id in every run and every lake."""
    return hashlib.sha256(f"{study_uid}|{series_uid}".encode()).hexdigest()[:32]


# Transfer syntaxes whose pixel data is, or may be, lossy (JPEG baseline/extended and the retired JPEG
# processes, JPEG-LS near-lossless, JPEG 2000 and HTJ2K that are not declared lossless-only, MPEG/HEVC video).
LOSSY_TRANSFER_SYNTAXES = frozenset(
    ["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.91",
     "1.2.840.10008.1.2.4.93", "1.2.840.10008.1.2.4.203"]
    + [f"1.2.840.10008.1.2.4.{n}" for n in (*range(52, 57), *range(59, 65))]
    + [f"1.2.840.10008.1.2.4.{n}" for n in range(100, 109)]
)


def instance_key(h: DicomHeader) -> tuple[str, str, str]:
    return (h.study_uid, h.series_uid, h.sop_uid)


def copy_preference(h: DicomHeader) -> tuple[bool, bool, str]:
    """Sort key among copies of one instance, best first: a copy with pixel data, then one stored losslessly
    (neither a lossy transfer syntax nor LossyImageCompression = 01), then the first by source path."""
    lossy = h.transfer_syntax in LOSSY_TRANSFER_SYNTAXES or h.attributes.get("lossyimagecompression") == "01"
    return (not h.has_pixels, lossy, h.source)


def choose_copies(headers: list[DicomHeader], decode_problem: dict[str, str]
                  ) -> tuple[list[DicomHeader], list[NotLoaded], list[Rejection]]:
    """One file per SOPInstanceUID, decided after decoding: (kept, skipped copies, quarantined copies).

    The same instance in several files (one image re-encoded in several transfer syntaxes, a re-sent study)
    would otherwise stack as several slices at one position. `decode_problem` holds, for copies whose pixel
    data was decoded and failed, why. A copy that does not decode is bad input (quarantined) whatever its
    siblings do; among the copies that do, the best by `copy_preference` loads and the others are skipped,
    naming the copy that won. When no copy decodes, all of them are quarantined and the instance is missing
    from its series (which then says so)."""
    groups: dict[tuple[str, str, str], list[DicomHeader]] = {}
    for h in headers:
        groups.setdefault(instance_key(h), []).append(h)
    kept, skipped, rejected = [], [], []
    for copies in groups.values():
        copies = sorted(copies, key=copy_preference)
        good = [h for h in copies if h.source not in decode_problem]
        winner = good[0] if good else None
        for h in copies:
            if h is winner:
                kept.append(h)
            elif h.source in decode_problem:
                where = (f"a copy that decodes was loaded from {winner.source}" if winner else
                         f"none of the {len(copies)} copies of this SOPInstanceUID decodes")
                rejected.append(Rejection(h.source, f"{decode_problem[h.source]} ({where})",
                                          f"SeriesInstanceUID={h.series_uid} SOPInstanceUID={h.sop_uid}",
                                          h.series_uid, h.sop_uid))
            else:
                skipped.append(NotLoaded(h.source, f"duplicate-instance: SOPInstanceUID {h.sop_uid} loaded from "
                                                   f"{winner.source} (preferred copy: pixel data that decodes, "
                                                   "lossless, first by path)"))
    return sorted(kept, key=lambda h: h.source), skipped, rejected


def group_series(headers: list[DicomHeader]) -> dict[tuple[str, str], list[DicomHeader]]:
    """Headers grouped by (StudyInstanceUID, SeriesInstanceUID), each group sorted by source path."""
    groups: dict[tuple[str, str], list[DicomHeader]] = {}
    for h in sorted(headers, key=lambda h: h.source):
        groups.setdefault((h.study_uid, h.series_uid), []).append(h)
    return groups


ORIENTATION_TOLERANCE = 1e-3  # direction cosines
SPACING_TOLERANCE = 1e-3  # relative, pixel spacing
SLICE_GAP_TOLERANCE = 0.2  # relative deviation of a slice gap from the median gap


def series_geometry_problem(headers: list[DicomHeader]) -> str | None:
    """Why the image frames of one series cannot form one volume, or None when they can.

    Checked from headers alone: one size, one orientation, one pixel spacing, distinct slice positions along
    the normal and evenly spaced slices. Series without pixels (SR, RT, waveforms) have no geometry to check."""
    imaging = [h for h in headers if h.has_pixels]
    if len(imaging) == 0:
        return None
    sizes = {(h.rows, h.columns) for h in imaging}
    if len(sizes) > 1:
        return "inconsistent-geometry: frame sizes differ (" + ", ".join(f"{r}x{c}" for r, c in sorted(
            sizes, key=str)) + ")"
    frames = [g for h in imaging for g in h.frame_geometry]
    if len(frames) < 2:
        return None
    orientations = [g.orientation for g in frames if g.orientation is not None]
    if orientations:
        ref = orientations[0]
        if len(orientations) != len(frames):
            return "inconsistent-geometry: ImageOrientationPatient present on some frames only"
        if any(max(abs(a - b) for a, b in zip(ref, o)) > ORIENTATION_TOLERANCE for o in orientations):
            return "inconsistent-geometry: ImageOrientationPatient differs between frames"
    spacings = [g.spacing for g in frames if g.spacing is not None]
    if spacings:
        ref_s = spacings[0]
        if any(max(abs(a - b) / max(abs(b), 1e-9) for a, b in zip(s, ref_s)) > SPACING_TOLERANCE for s in spacings):
            return "inconsistent-geometry: PixelSpacing differs between frames"
    positions = [g.position for g in frames if g.position is not None]
    if orientations and len(positions) == len(frames):
        normal = slice_normal(orientations[0])
        proj = sorted(sum(p[i] * normal[i] for i in range(3)) for p in positions)
        gaps = [b - a for a, b in zip(proj, proj[1:])]
        if any(g < 1e-4 for g in gaps):
            return "inconsistent-geometry: two frames at the same position along the slice normal"
        median = sorted(gaps)[len(gaps) // 2]
        if any(abs(g - median) > SLICE_GAP_TOLERANCE * median for g in gaps):
            return (f"inconsistent-geometry: uneven slice spacing (gaps {min(gaps):.3g} to {max(gaps):.3g} mm, "
                    f"median {median:.3g})")
    return None


LISTED = 3  # files named in a status; the rest are counted


def _listing(items: list[tuple[str, str]]) -> str:
    shown = "; ".join(f"{src}: {why}" if why else src for src, why in items[:LISTED])
    return shown + (f"; and {len(items) - LISTED} more" if len(items) > LISTED else "")


def radiomics_refusal(members: list[DicomHeader], missing: list[tuple[str, str]],
                      nearby: list[tuple[str, str]]) -> str | None:
    """Why the loaded files of one series must not be built into a volume, naming the real cause; None when
    they can. Their metadata loads either way: only the volume (and its radiomics) is refused.

    `missing`: (file, reason) of quarantined files that belong to this series (their header named it);
    `nearby`: quarantined files whose series is unknown (cut inside the header) in a folder of this series,
    named when the slices that did load leave a gap."""
    imaging = [h for h in members if h.has_pixels]
    if not imaging:
        return None  # nothing to build: the caller records no-pixels
    total = len(members) + len(missing)
    maybe = f"; quarantined files in the same folder may be slices of it too ({_listing(sorted(nearby))})"
    if missing:
        return (f"incomplete-series: {len(missing)} of {total} files quarantined ({_listing(sorted(missing))})"
                + (maybe if nearby else ""))
    without = [(h.source, "") for h in members if not h.has_pixels]
    if without:
        return (f"incomplete-series: {len(without)} of {total} files have no Pixel Data "
                f"({_listing(sorted(without))})")
    problem = series_geometry_problem(members)
    return problem + (maybe if nearby else "") if problem else None


def slice_normal(orientation: tuple[float, ...]) -> tuple[float, float, float]:
    """The unit normal of the image plane: row direction x column direction."""
    r, c = orientation[:3], orientation[3:6]
    n = (r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0])
    norm = math.sqrt(sum(v * v for v in n)) or 1.0
    return (n[0] / norm, n[1] / norm, n[2] / norm)
