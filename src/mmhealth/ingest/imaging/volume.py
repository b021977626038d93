"""Assemble the frames of one image set into one SimpleITK volume in patient space.

Slices are ordered by where they are (ImagePositionPatient projected on the slice normal), never by file
name; InstanceNumber is the fallback when positions are missing. Stored values go through the modality rescale
(slope / intercept, per frame for enhanced multi-frame images), so CT volumes are in Hounsfield units.

Spacing comes from the headers only. Where they do not give it (no PixelSpacing, no slice positions and no
SliceThickness) the image still gets 1 mm so that voxel-based features can be computed, but `Volume` says that
the geometry is unknown, and nothing in mm / mm2 / mm3 is reported from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from mmhealth.ingest.imaging.header import FrameGeometry
from mmhealth.ingest.imaging.series import slice_normal

if TYPE_CHECKING:
    import numpy as np
    import SimpleITK as sitk


class NoUsablePixels(Exception):
    """The image set has nothing a volume can be built from (no pixel data, colour, a single row, ...)."""


class PixelDecodeError(Exception):
    """A file's pixel data did not decode. `source` names the file."""

    def __init__(self, source: str, reason: str):
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


@dataclass(frozen=True)
class SliceSource:
    """What volume assembly needs to know about one file, taken from its header (picklable, small)."""

    path: Path
    source: str
    sop_uid: str
    instance_number: int | None
    frame_geometry: tuple[FrameGeometry, ...]
    has_pixels: bool
    samples_per_pixel: int = 1


@dataclass
class Frame:
    geometry: FrameGeometry
    instance_number: int | None
    sop_uid: str
    index: int  # frame number inside its file
    pixels: "np.ndarray"  # 2-D, float32, rescaled


# The transfer syntax a dataset without file meta was written in, from the encoding pydicom read it with
# ((implicit VR, little endian) -> UID): pydicom needs it to decode the pixels of a preamble-less file.
_ENCODING_SYNTAX = {(True, True): "1.2.840.10008.1.2", (False, True): "1.2.840.10008.1.2.1",
                    (False, False): "1.2.840.10008.1.2.2"}


def read_frames(src: SliceSource) -> list[Frame]:
    """Decode one file (any transfer syntax pydicom handles with the pylibjpeg plugins) into rescaled frames."""
    import numpy as np
    import pydicom

    try:
        # force: the header reader accepted the file, preamble or not (old ACR-NEMA style files have none)
        ds = pydicom.dcmread(src.path, force=True)
        if "TransferSyntaxUID" not in ds.file_meta:
            encoding = tuple(bool(v) for v in (ds.original_encoding or (True, True)))
            ds.file_meta.TransferSyntaxUID = _ENCODING_SYNTAX.get(encoding, "1.2.840.10008.1.2")
        arr = ds.pixel_array
    except Exception as exc:  # decoders raise many kinds; any of them means "does not decode"
        raise PixelDecodeError(src.source, f"undecodable-pixels: {type(exc).__name__}: {exc}") from None
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    samples = int(getattr(ds, "SamplesPerPixel", 1) or 1)
    if samples != 1:
        raise NoUsablePixels(f"colour image (SamplesPerPixel={samples}); radiomics needs one intensity channel")
    if frames == 1:
        arr = arr[np.newaxis, ...]
    if arr.ndim != 3:
        raise NoUsablePixels(f"unexpected pixel array shape {arr.shape}")
    slopes, intercepts = _rescale(ds, frames)
    out = []
    for i in range(frames):
        plane = arr[i].astype(np.float32)
        if slopes[i] != 1.0 or intercepts[i] != 0.0:
            plane = plane * np.float32(slopes[i]) + np.float32(intercepts[i])
        geom = src.frame_geometry[i] if i < len(src.frame_geometry) else src.frame_geometry[-1]
        out.append(Frame(geom, src.instance_number, src.sop_uid, i, plane))
    return out


def _rescale(ds: Any, frames: int) -> tuple[list[float], list[float]]:
    """Slope and intercept per frame: per-frame functional groups, else shared groups, else top level."""

    def pair(item: Any) -> tuple[float, float] | None:
        if item is None:
            return None
        seq = item.get("PixelValueTransformationSequence")
        if seq:
            item = seq[0]
        slope, intercept = item.get("RescaleSlope"), item.get("RescaleIntercept")
        if slope is None and intercept is None:
            return None
        return float(slope if slope is not None else 1.0), float(intercept if intercept is not None else 0.0)

    top = pair(ds) or (1.0, 0.0)
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    shared = pair(shared_seq[0]) if shared_seq else None
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    slopes, intercepts = [], []
    for i in range(frames):
        own = pair(per_frame[i]) if per_frame is not None and i < len(per_frame) else None
        s, b = own or shared or top
        slopes.append(s)
        intercepts.append(b)
    return slopes, intercepts


def order_frames(frames: Sequence[Frame]) -> list[Frame]:
    """Frames in geometric order along the slice normal when every frame has a position and orientation;
    otherwise by InstanceNumber, then frame number, then SOP Instance UID. File names play no part."""
    frames = list(frames)
    if frames and all(f.geometry.position is not None and f.geometry.orientation is not None for f in frames):
        normal = slice_normal(frames[0].geometry.orientation)
        return sorted(frames, key=lambda f: sum(p * n for p, n in zip(f.geometry.position, normal)))
    return sorted(frames, key=lambda f: (f.instance_number is None, f.instance_number or 0, f.index, f.sop_uid))


def slice_spacing(ordered: Sequence[Frame]) -> float | None:
    """Distance between slice centres (median of the gaps along the normal); for a single slice or unknown
    positions, the SliceThickness; None when the headers give neither."""
    import statistics

    if len(ordered) >= 2 and all(f.geometry.position and f.geometry.orientation for f in ordered):
        normal = slice_normal(ordered[0].geometry.orientation)
        proj = [sum(p * n for p, n in zip(f.geometry.position, normal)) for f in ordered]
        gaps = [b - a for a, b in zip(proj, proj[1:])]
        gap = statistics.median(gaps)
        if gap > 0:
            return float(gap)
    thickness = ordered[0].geometry.thickness if ordered else None
    return float(thickness) if thickness and thickness > 0 else None


@dataclass
class Volume:
    """An assembled image set. `geometry_problem` says which spacing the headers do not give (None: all of
    it is real); the image then carries 1 mm for it, and no physical size may be reported."""

    image: "sitk.Image"
    geometry_problem: str | None = None


def assemble(sources: Sequence[SliceSource]) -> "sitk.Image":
    """The image of `assemble_volume` (spacing of unknown geometry set to 1 mm)."""
    return assemble_volume(sources).image


def assemble_volume(sources: Sequence[SliceSource]) -> Volume:
    """One SimpleITK image (z, y, x voxel order) with spacing, origin and direction from the DICOM geometry.

    Raises NoUsablePixels when nothing can be built and PixelDecodeError naming the first file that fails."""
    import numpy as np
    import SimpleITK as sitk

    with_pixels = [s for s in sources if s.has_pixels]
    if not with_pixels:
        raise NoUsablePixels("no-pixels: no instance carries Pixel Data (e.g. SR, RT, waveform objects)")
    frames: list[Frame] = []
    for src in with_pixels:
        frames.extend(read_frames(src))
    ordered = order_frames(frames)
    shapes = {f.pixels.shape for f in ordered}
    if len(shapes) != 1:
        raise NoUsablePixels(f"inconsistent-geometry: frame shapes differ {sorted(shapes)}")
    rows, cols = next(iter(shapes))
    if rows < 2 or cols < 2:
        raise NoUsablePixels(f"no-usable-pixels: frames of {rows}x{cols} are too small for radiomics")
    volume = np.stack([f.pixels for f in ordered])
    image = sitk.GetImageFromArray(volume)
    first = ordered[0].geometry
    unknown = []
    if first.spacing and all(v > 0 for v in first.spacing):
        row_spacing, col_spacing = first.spacing
    else:
        row_spacing, col_spacing = 1.0, 1.0
        unknown.append("no PixelSpacing (in-plane spacing unknown)")
    z_spacing = slice_spacing(ordered)
    if z_spacing is None:
        z_spacing = 1.0
        unknown.append("no slice positions or SliceThickness (slice spacing unknown)")
    image.SetSpacing((float(col_spacing), float(row_spacing), z_spacing))
    if first.position is not None:
        image.SetOrigin(tuple(float(v) for v in first.position))
    if first.orientation is not None and _orthonormal(first.orientation):
        r, c = first.orientation[:3], first.orientation[3:6]
        n = slice_normal(first.orientation)
        # ITK's direction matrix holds the axis directions as columns (row-major storage).
        image.SetDirection((r[0], c[0], n[0], r[1], c[1], n[1], r[2], c[2], n[2]))
    return Volume(image, "no-geometry: " + ", ".join(unknown) if unknown else None)


def _orthonormal(orientation: Sequence[float], tolerance: float = 1e-3) -> bool:
    """Whether ImageOrientationPatient holds two unit, perpendicular directions. Real files round the cosines
    (hence the tolerance); a broken one (zeros) would make ITK reject the direction matrix, and the image then
    keeps the identity direction rather than failing."""
    r, c = orientation[:3], orientation[3:6]
    dot = sum(a * b for a, b in zip(r, c))
    rn, cn = sum(a * a for a in r) ** 0.5, sum(a * a for a in c) ** 0.5
    return abs(rn - 1) < 10 * tolerance and abs(cn - 1) < 10 * tolerance and abs(dot) < 10 * tolerance
