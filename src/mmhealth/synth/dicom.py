"""One synthetic head MR or CT series per imaging patient: a volume with organ-like structure (head, brain,
ventricles) and one compact bright lesion, written slice by slice with pydicom.

The lesion is the brightest structure in every volume and its edge is sharp, so a threshold segments it
exactly: voxels at or above `lesion_threshold` (in rescaled units: HU for CT) are lesion and nothing else is.
Its volume in the manifest is counted from the voxels drawn, not from the target it was drawn from."""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass
import struct
from pathlib import Path

import numpy as np
from pydicom.pixels import get_encoder

from mmhealth.synth import ids, rle
from mmhealth.synth.imaging_plan import EXPLICIT_LE, RLE_LOSSLESS, StudyPlan
from mmhealth.synth.patients import PatientProfile
from mmhealth.synth.vocab import CT_SOP_CLASS, MR_SOP_CLASS

# Intensity levels (rescaled units). MR: arbitrary units; CT: Hounsfield units.
LEVELS = {
    "MR": {"background": 0.0, "scalp": 250.0, "brain": 600.0, "csf": 150.0, "lesion_min": 1100.0,
           "lesion_span": 600.0, "noise": 15.0, "threshold": 900.0, "intercept": 0.0, "bits": 16},
    "CT": {"background": -1000.0, "scalp": 20.0, "brain": 35.0, "csf": 5.0, "lesion_min": 110.0,
           "lesion_span": 120.0, "noise": 6.0, "threshold": 80.0, "intercept": -1024.0, "bits": 12},
}


@dataclass(frozen=True)
class RenderedStudy:
    plan: StudyPlan
    lesion_voxels: int
    lesion_volume_mm3: float
    lesion_threshold: float
    files: tuple[str, ...]  # relative to the output folder


def _axes(plan: StudyPlan):
    n, size = plan.n_slices, plan.size
    xy = ((np.arange(size, dtype=np.float32) - (size - 1) / 2) * plan.pixel_spacing)
    z = ((np.arange(n, dtype=np.float32) - (n - 1) / 2) * plan.slice_thickness)
    return xy[None, None, :], xy[None, :, None], z[:, None, None]


_NOISE_BANK_SIZE = 64 * 256 * 256 + (1 << 20)


@functools.lru_cache(maxsize=2)
def _noise_bank(seed: int) -> np.ndarray:
    """Standard-normal noise drawn once per seed and process; each volume takes a window at its own offset
    (drawing fresh noise for every voxel was a third of the rendering time)."""
    return np.random.default_rng([seed, 0x4015E]).standard_normal(_NOISE_BANK_SIZE, dtype=np.float32)


def _ellipsoid(X, Y, Z, centre, axes) -> np.ndarray:
    """Boolean mask (slice, row, column): in-plane quadratic once, then one comparison per voxel."""
    inplane = ((X - np.float32(centre[0])) / np.float32(axes[0])) ** 2 + \
        ((Y - np.float32(centre[1])) / np.float32(axes[1])) ** 2
    limit = 1.0 - ((Z - np.float32(centre[2])) / np.float32(axes[2])) ** 2
    return inplane <= limit


def render_volume(seed: int, plan: StudyPlan) -> tuple[np.ndarray, np.ndarray]:
    """Rescaled-unit volume [slice, row, column] (float32) and the lesion mask."""
    rng = np.random.default_rng([seed, plan.patient_index, 6])
    lv = LEVELS[plan.modality]
    X, Y, Z = _axes(plan)
    shape = (plan.n_slices, plan.size, plan.size)
    fov = plan.pixel_spacing * plan.size
    half_z = plan.slice_thickness * plan.n_slices / 2
    head = np.array([fov * 0.40, fov * 0.46, max(half_z * 1.05, 40.0)], dtype=np.float32)
    head *= rng.uniform(0.92, 1.0, size=3).astype(np.float32)
    brain = head * np.float32(0.88)

    vol = np.full(shape, lv["background"], dtype=np.float32)
    np.copyto(vol, np.float32(lv["scalp"]), where=_ellipsoid(X, Y, Z, (0, 0, 0), head))
    in_brain = _ellipsoid(X, Y, Z, (0, 0, 0), brain)
    # Brain tissue with a gentle gray/white texture and (MR) a smooth coil bias field.
    # Cosines through libm on Python floats, not numpy's SIMD kernels, so pixels do not depend on the CPU.
    cos_x = np.array([math.cos(float(x) / (fov * 0.05)) for x in X.ravel()], dtype=np.float32)[None, None, :]
    cos_y = np.array([math.cos(float(y) / (fov * 0.06)) for y in Y.ravel()], dtype=np.float32)[None, :, None]
    texture = (cos_x * cos_y * np.float32(0.04)
               + np.float32(1.0) + (X + Y) / np.float32(fov * 8 if plan.modality == "MR" else 1e9))
    tissue = (np.float32(lv["brain"]) * texture if plan.modality == "MR"
              else np.float32(lv["brain"]) + np.float32(125.0) * (texture - np.float32(1.0)))
    np.copyto(vol, np.broadcast_to(tissue, (1, plan.size, plan.size)), where=in_brain)
    for side in (-1, 1):  # lateral ventricles
        vent = _ellipsoid(X, Y, Z, (side * brain[0] * 0.12, -brain[1] * 0.05, 0),
                          brain * np.float32([0.08, 0.28, 0.25]))
        np.copyto(vol, np.float32(lv["csf"]), where=vent)

    # Lesion: an ellipsoid of the planned volume centred on a voxel inside the brain, away from the ventricles.
    radius = (3 * plan.lesion_target_mm3 / (4 * math.pi)) ** (1 / 3)
    stretch = rng.uniform(0.8, 1.25, size=2)
    radii = np.array([radius * stretch[0], radius * stretch[1], radius / (stretch[0] * stretch[1])])
    side = rng.choice((-1, 1))
    room = np.maximum(brain - radii * 1.1, 1.0)
    centre_mm = np.array([side * rng.uniform(0.35, 0.6) * room[0], rng.uniform(-0.5, 0.5) * room[1],
                          rng.uniform(-0.4, 0.4) * min(room[2], half_z)])
    ci = int(round(centre_mm[0] / plan.pixel_spacing + (plan.size - 1) / 2))
    cj = int(round(centre_mm[1] / plan.pixel_spacing + (plan.size - 1) / 2))
    ck = int(round(centre_mm[2] / plan.slice_thickness + (plan.n_slices - 1) / 2))
    ci, cj = min(max(ci, 1), plan.size - 2), min(max(cj, 1), plan.size - 2)
    ck = min(max(ck, 0), plan.n_slices - 1)
    centre = (X[0, 0, ci], Y[0, cj, 0], Z[ck, 0, 0])
    # Only the lesion's bounding box is computed (plus one voxel of margin).
    ri = int(radii[0] / plan.pixel_spacing) + 2
    rj = int(radii[1] / plan.pixel_spacing) + 2
    rk = int(radii[2] / plan.slice_thickness) + 2
    box = (slice(max(ck - rk, 0), ck + rk + 1), slice(max(cj - rj, 0), cj + rj + 1),
           slice(max(ci - ri, 0), ci + ri + 1))
    lesion_box = _ellipsoid(X[:, :, box[2]], Y[:, box[1], :], Z[box[0], :, :], centre,
                            radii.astype(np.float32)) & in_brain[box]
    lesion = np.zeros(shape, dtype=bool)
    lesion[box] = lesion_box

    bank = _noise_bank(seed)
    offset = int(rng.integers(0, _NOISE_BANK_SIZE - vol.size + 1))
    noise = bank[offset:offset + vol.size].reshape(shape) * np.float32(lv["noise"])
    if plan.modality == "MR":  # magnitude images: background noise is positive (Rician), not centred on 0
        np.abs(noise, out=noise, where=vol == lv["background"])
    vol += noise
    # Noise must never push tissue over the lesion threshold or the lesion under it: clip each side.
    np.minimum(vol, np.float32(lv["threshold"] - 3 * lv["noise"]), out=vol)
    lesion_level = lv["lesion_min"] + lv["lesion_span"] * plan.lesion_contrast
    sub = vol[box]
    sub[lesion_box] = np.maximum(np.float32(lesion_level) + noise[box][lesion_box],
                                 np.float32(lv["threshold"] + 3 * lv["noise"]))
    return vol, lesion


def _to_stored(plan: StudyPlan, vol: np.ndarray) -> np.ndarray:
    lv = LEVELS[plan.modality]
    stored = np.rint(vol - lv["intercept"])
    return np.clip(stored, 0, 2 ** lv["bits"] - 1).astype(np.uint16)


def _dicom_date(ordinal: int) -> str:
    return dt.date.fromordinal(ordinal).strftime("%Y%m%d")


# --- encoding -----------------------------------------------------------------------------------------------
# Files are encoded here rather than through pydicom's writer: a series shares all but five elements, so the
# shared ones are encoded once and each slice costs a few byte joins (pydicom's per-element writer made DICOM
# the slowest part of a 10,000-patient run). pydicom still encodes compressed frames, and the tests read every
# file back with pydicom.
_LONG_VRS = {"OB", "OW", "OF", "OD", "OL", "OV", "SQ", "UC", "UR", "UT", "UN"}


def _element(tag: int, vr: str, value: bytes | str | int) -> bytes:
    if isinstance(value, int):
        value = struct.pack("<H", value)  # every integer we write is US
    elif isinstance(value, str):
        value = value.encode("ascii")
    if len(value) % 2:
        value += b"\0" if vr in ("UI", "OB") else b" "
    group, elem = tag >> 16, tag & 0xFFFF
    if vr in _LONG_VRS:
        return struct.pack("<HH2sHI", group, elem, vr.encode(), 0, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr.encode(), len(value)) + value


def _multi(values) -> str:
    return "\\".join(str(v) for v in values)


_PREAMBLE = b"\0" * 128 + b"DICM"
_ITEM = 0xFFFEE000


def _file_meta(sop_class: str, sop_uid: str, transfer_syntax: str) -> bytes:
    body = b"".join((
        _element(0x00020001, "OB", b"\x00\x01"),
        _element(0x00020002, "UI", sop_class),
        _element(0x00020003, "UI", sop_uid),
        _element(0x00020010, "UI", transfer_syntax),
        _element(0x00020012, "UI", ids.IMPLEMENTATION_CLASS_UID),
        _element(0x00020013, "SH", ids.IMPLEMENTATION_VERSION_NAME),
    ))
    return _PREAMBLE + struct.pack("<HH2sHI", 2, 0, b"UL", 4, len(body)) + body


def _pixel_element(frame: np.ndarray, plan: StudyPlan, bits_stored: int) -> bytes:
    if plan.transfer_syntax == EXPLICIT_LE:
        return _element(0x7FE00010, "OW", frame.tobytes())
    if plan.transfer_syntax == RLE_LOSSLESS:
        encoded = rle.encode_frame(frame)
    else:  # JPEG 2000 lossless through pydicom's encoder interface (pylibjpeg-openjpeg)
        encoded = get_encoder(plan.transfer_syntax).encode(
            frame, rows=plan.size, columns=plan.size, samples_per_pixel=1, number_of_frames=1, bits_allocated=16,
            bits_stored=bits_stored, pixel_representation=0, photometric_interpretation="MONOCHROME2")
    if len(encoded) % 2:
        encoded += b"\0"
    # Encapsulated: undefined length, an empty basic offset table item, one fragment, a sequence delimiter.
    return b"".join((struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, 0xFFFFFFFF),
                     struct.pack("<HHI", 0xFFFE, 0xE000, 0),
                     struct.pack("<HHI", 0xFFFE, 0xE000, len(encoded)), encoded,
                     struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)))


def _shared_elements(plan: StudyPlan, p: PatientProfile) -> dict[int, bytes]:
    """Every element but the per-slice ones, encoded, by tag."""
    lv = LEVELS[plan.modality]
    mr = plan.modality == "MR"
    date = _dicom_date(plan.study_ord)
    h, rem = divmod(plan.study_seconds, 3600)
    time = f"{h:02d}{rem // 60:02d}{rem % 60:02d}"
    spacing = f"{plan.pixel_spacing:g}"
    thickness = f"{plan.slice_thickness:g}"
    el = [
        (0x00080005, "CS", "ISO_IR 100"),
        (0x00080008, "CS", "ORIGINAL\\PRIMARY\\AXIAL"),
        (0x00080016, "UI", MR_SOP_CLASS if mr else CT_SOP_CLASS),
        (0x00080020, "DA", date), (0x00080021, "DA", date), (0x00080023, "DA", date),
        (0x00080030, "TM", time), (0x00080031, "TM", time), (0x00080033, "TM", time),
        (0x00080050, "SH", plan.accession),
        (0x00080060, "CS", plan.modality),
        (0x00080070, "LO", "mmhealth-synth"),
        (0x00080080, "LO", f"{p.city.upper()} HEALTH CENTER"),
        (0x00080090, "PN", ""),
        (0x00081030, "LO", "MR BRAIN WO CONTRAST" if mr else "CT HEAD WO CONTRAST"),
        (0x0008103E, "LO", "AX T2 FLAIR" if mr else "AX HEAD WO CONTRAST"),
        (0x00100010, "PN", f"{p.family}^{p.given}"),
        (0x00100020, "LO", p.id),
        (0x00100030, "DA", _dicom_date(p.birth_ord)),
        (0x00100040, "CS", "M" if p.sex == "male" else "F"),
        (0x00101010, "AS", f"{min(int(p.age_at(plan.study_ord)), 999):03d}Y"),
        (0x00180015, "CS", "HEAD"),
        (0x00180050, "DS", thickness),
        (0x00180088, "DS", thickness),
        (0x00185100, "CS", "HFS"),
        (0x0020000D, "UI", plan.study_uid),
        (0x0020000E, "UI", plan.series_uid),
        (0x00200010, "SH", plan.accession[3:9]),
        (0x00200011, "IS", "1"),
        (0x00200037, "DS", "1\\0\\0\\0\\1\\0"),
        (0x00200052, "UI", plan.frame_of_reference_uid),
        (0x00201040, "LO", ""),
        (0x00280002, "US", 1),
        (0x00280004, "CS", "MONOCHROME2"),
        (0x00280010, "US", plan.size),
        (0x00280011, "US", plan.size),
        (0x00280030, "DS", f"{spacing}\\{spacing}"),
        (0x00280100, "US", 16),
        (0x00280101, "US", lv["bits"]),
        (0x00280102, "US", lv["bits"] - 1),
        (0x00280103, "US", 0),
        (0x00281050, "DS", "600" if mr else "40"),
        (0x00281051, "DS", "1600" if mr else "120"),
        (0x00281052, "DS", f"{lv['intercept']:g}"),
        (0x00281053, "DS", "1"),
    ]
    if mr:
        el += [(0x00180020, "CS", "SE\\IR"), (0x00180021, "CS", "SK\\SP"), (0x00180023, "CS", "2D"),
               (0x00180080, "DS", "9000"), (0x00180081, "DS", "120"),
               (0x00180087, "DS", "1.5" if plan.size < 192 else "3")]
    else:
        el += [(0x00180060, "DS", "120"), (0x00181210, "SH", "STANDARD"), (0x00281054, "LO", "HU")]
    return {tag: _element(tag, vr, value) for tag, vr, value in el}


# Per-slice elements: SOP Instance UID, Instance Number, Image Position (Patient), Slice Location, Pixel Data.
_SOP_UID, _INSTANCE, _POSITION, _LOCATION, _PIXELS = 0x00080018, 0x00200013, 0x00200032, 0x00201041, 0x7FE00010


def write_study(root: Path, seed: int, plan: StudyPlan, p: PatientProfile) -> RenderedStudy:
    vol, lesion = render_volume(seed, plan)
    stored = _to_stored(plan, vol)
    lv = LEVELS[plan.modality]
    sop_class = MR_SOP_CLASS if plan.modality == "MR" else CT_SOP_CLASS
    elements = _shared_elements(plan, p)
    tags = sorted([*elements, _SOP_UID, _INSTANCE, _POSITION, _LOCATION, _PIXELS])
    rel_dir = Path("dicom") / p.id / plan.study_uid / plan.series_uid
    out_dir = root / rel_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    z0 = -(plan.n_slices - 1) / 2 * plan.slice_thickness
    x0 = -(plan.size - 1) / 2 * plan.pixel_spacing
    files = []
    for k in range(plan.n_slices):
        uid = plan.sop_uids[k]
        z = round(z0 + k * plan.slice_thickness, 4)
        elements[_SOP_UID] = _element(_SOP_UID, "UI", uid)
        elements[_INSTANCE] = _element(_INSTANCE, "IS", str(k + 1))
        elements[_POSITION] = _element(_POSITION, "DS", _multi((f"{x0:.4f}", f"{x0:.4f}", f"{z:.4f}")))
        elements[_LOCATION] = _element(_LOCATION, "DS", f"{z:.4f}")
        elements[_PIXELS] = _pixel_element(np.ascontiguousarray(stored[k]), plan, lv["bits"])
        name = f"{k + 1}.dcm"
        (out_dir / name).write_bytes(_file_meta(sop_class, uid, plan.transfer_syntax)
                                     + b"".join(elements[t] for t in tags))
        files.append((rel_dir / name).as_posix())
    voxel_mm3 = plan.pixel_spacing ** 2 * plan.slice_thickness
    n_vox = int(lesion.sum())
    return RenderedStudy(plan, n_vox, round(n_vox * voxel_mm3, 3), lv["threshold"], tuple(files))
