"""DICOM discovery and header reading: which files are DICOM, what their headers say, and which must be
quarantined before any pixel is touched. What the headers of a series say together (which copy of an instance
loads, whether the frames form one volume) is `series.py`.

Everything here reads headers only (`stop_before_pixels`): that is what makes metadata ingest run close to a
bare pydicom loop. Pixel decoding happens later (`volume.py`), driven by `reader.py`.

Column names are DICOM keywords lower-cased (`studyinstanceuid`, `patientid`, `modality`, ...), the names an
AWS Glue crawler gives the attributes of HealthImaging's metadata JSON, so the same SQL reads both.
"""

from __future__ import annotations

import io
import math
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

# Media Storage Directory (DICOMDIR): an index of a file-set, not an image. The files it references are found
# by walking the tree, so it is counted as skipped rather than read.
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
DIRECTORY_RECORDS = 0x00041220  # Directory Record Sequence: a DICOMDIR whatever its SOP class says
PIXEL_DATA_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # Pixel Data, Float Pixel Data, Double Float Pixel Data
# A DICOM extension on a file pydicom cannot parse means a damaged DICOM file (quarantine), whereas an
# unparseable README in the same folder is simply not DICOM (skipped).
DICOM_EXTENSIONS = (".dcm", ".dicom", ".dic", ".ima")
# Files that belong to the other modalities or to the generator; the imaging reader does not even look at them,
# so a mixed SOURCE folder does not count every NDJSON line as a skipped "not DICOM" file. Every suffix the FHIR
# and genomics readers claim must be here, else a file is read twice and has two fates (tests/ingest/
# test_discovery.py). A literal, so that this module imports nothing of those readers.
OTHER_MODALITY_SUFFIXES = (
    ".ndjson", ".ndjson.gz", ".json", ".vcf", ".vcf.gz", ".vcf.bgz", ".bcf",
    ".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz", ".fna.gz", ".fai", ".gzi", ".tbi", ".csi",
    ".bam", ".cram", ".parquet", ".duckdb", ".csv",
)
# Images in formats other than DICOM are imaging input all the same: the reader claims them so that they are
# skipped with a stored reason (`other-format`) instead of being in no count at all.
OTHER_IMAGE_FORMATS = {
    ".nii.gz": "NIfTI", ".nii": "NIfTI", ".nrrd": "NRRD", ".nhdr": "NRRD",
    ".mha": "MetaImage", ".mhd": "MetaImage", ".mgz": "FreeSurfer MGH", ".mgh": "FreeSurfer MGH",
}

# Attributes kept per level, following HealthImaging's Patient / Study / Series / Instance metadata levels.
# Each keyword has an Arrow-friendly kind: str, int, float, floats (list<double>), strs (list<string>).
PATIENT_KEYWORDS = {
    "PatientID": "str", "PatientName": "str", "PatientBirthDate": "str", "PatientSex": "str",
}
STUDY_KEYWORDS = {
    "StudyInstanceUID": "str", "StudyID": "str", "StudyDate": "str", "StudyTime": "str",
    "StudyDescription": "str", "AccessionNumber": "str", "ReferringPhysicianName": "str",
    "PatientAge": "str", "PatientSize": "float", "PatientWeight": "float",
}
SERIES_KEYWORDS = {
    "SeriesInstanceUID": "str", "Modality": "str", "SeriesNumber": "int", "SeriesDescription": "str",
    "SeriesDate": "str", "SeriesTime": "str", "BodyPartExamined": "str", "Laterality": "str",
    "ProtocolName": "str", "Manufacturer": "str", "ManufacturerModelName": "str", "FrameOfReferenceUID": "str",
}
INSTANCE_KEYWORDS = {
    "SOPInstanceUID": "str", "SOPClassUID": "str", "InstanceNumber": "int", "ImageType": "strs",
    "AcquisitionDate": "str", "ContentDate": "str", "ContentTime": "str",
    "ImagePositionPatient": "floats", "ImageOrientationPatient": "floats", "PixelSpacing": "floats",
    "SliceThickness": "float", "SpacingBetweenSlices": "float", "SliceLocation": "float",
    "Rows": "int", "Columns": "int", "NumberOfFrames": "int", "SamplesPerPixel": "int",
    "PhotometricInterpretation": "str", "BitsAllocated": "int", "BitsStored": "int",
    "PixelRepresentation": "int", "RescaleSlope": "float", "RescaleIntercept": "float", "RescaleType": "str",
    "WindowCenter": "floats", "WindowWidth": "floats", "LossyImageCompression": "str",
}
ALL_KEYWORDS = {**PATIENT_KEYWORDS, **STUDY_KEYWORDS, **SERIES_KEYWORDS, **INSTANCE_KEYWORDS}


# ---------------------------------------------------------------------------------------------------- records
@dataclass(frozen=True)
class FrameGeometry:
    """Where one frame sits in patient space (mm). Any part may be unknown (None) in real data."""

    position: tuple[float, float, float] | None
    orientation: tuple[float, float, float, float, float, float] | None
    spacing: tuple[float, float] | None  # PixelSpacing: (between rows, between columns)
    thickness: float | None = None


@dataclass
class DicomHeader:
    """A DICOM file whose header is good enough to load: identifiers, geometry and the instance row."""

    path: Path
    source: str  # the file's identity in the lake (relative path)
    patient_id: str  # "" when PatientID is absent or empty: the file loads, linked to no patient
    study_uid: str
    series_uid: str
    sop_uid: str
    instance_number: int | None
    rows: int | None
    columns: int | None
    frames: int
    samples_per_pixel: int
    has_pixels: bool
    transfer_syntax: str
    frame_geometry: list[FrameGeometry]
    attributes: dict[str, Any] = field(default_factory=dict)  # lower-cased keyword -> value


@dataclass(frozen=True)
class Rejection:
    """A file that is DICOM (or claims to be) but cannot be loaded; becomes a quarantine record. `series_uid`
    and `sop_uid` are the UIDs when the header got that far: the series can then say which of its files is
    missing, unless another copy of the same instance loaded."""

    source: str
    reason: str  # starts with a stable kind: unreadable, truncated, missing-studyinstanceuid, ...
    raw: str = ""
    series_uid: str = ""
    sop_uid: str = ""


@dataclass(frozen=True)
class NotLoaded:
    """A file deliberately not loaded (not DICOM, another image format, a DICOMDIR index, a duplicate
    instance); a skipped record."""

    source: str
    reason: str


HeaderOutcome = DicomHeader | Rejection | NotLoaded


# ---------------------------------------------------------------------------------------------------- discovery
def discover(root: Path) -> Iterator[Path]:
    """Every file under `root` the imaging reader should look at, in a stable (sorted) order.

    Names do not matter (DICOMDIR trees use extension-less names like `IM000001`); only files that plainly
    belong to another modality are left out. Whether a file is DICOM is decided in `read_header`."""
    root = Path(root)
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            lower = name.lower()
            if name.startswith(".") or lower.endswith(OTHER_MODALITY_SUFFIXES):
                continue
            yield Path(dirpath) / name


def _looks_like_bare_dataset(head: bytes) -> bool:
    """True for a dataset written without preamble (old ACR-NEMA style, or a writer that left it out): it
    starts with a tag of group 0x0002 (file meta) or 0x0008, the lowest groups any real dataset carries, in
    little or big endian byte order."""
    if len(head) < 8:
        return False
    return any(group in (0x0002, 0x0008) and elem < 0x1000
               for group, elem in (struct.unpack("<HH", head[:4]), struct.unpack(">HH", head[:4])))


# ---------------------------------------------------------------------------------------------------- values
_BINARY = {"US": "H", "SS": "h", "UL": "L", "SL": "l", "FL": "f", "FD": "d"}
_TAGS: dict[str, tuple[int, str | None]] = {}  # keyword -> (tag, dictionary VR)


def _keyword(tag: int) -> str:
    from pydicom.datadict import keyword_for_tag

    return keyword_for_tag(tag)


def _tag(keyword: str) -> tuple[int, str | None]:
    if keyword not in _TAGS:
        from pydicom.datadict import dictionary_VR, tag_for_keyword

        tag = tag_for_keyword(keyword)
        _TAGS[keyword] = (tag, dictionary_VR(tag))
    return _TAGS[keyword]


def _raw_value(ds: Any, keyword: str, kind: str, elem: Any = None, dict_vr: str | None = None) -> Any:
    """The value of a top-level attribute decoded straight from the raw element bytes.

    pydicom converts lazily through keyword lookup, VR dispatch and validation, which together cost more than
    parsing the file; the few VRs our columns use are decoded here (text VRs split on backslash, binary VRs
    unpacked). Anything unusual falls back to pydicom's own conversion."""
    if elem is None:
        tag, dict_vr = _TAGS.get(keyword) or _tag(keyword)
        try:
            elem = ds.get_item(tag)
        except Exception:
            return None
        if elem is None:
            return None
    if not getattr(elem, "is_raw", False):  # already converted by pydicom (e.g. accessed before)
        return _scalar(elem.value, kind)
    raw = elem.value
    if not raw:
        return None
    vr = elem.VR or dict_vr
    fmt = _BINARY.get(vr)
    if fmt is not None:
        width = struct.calcsize(fmt)
        count = len(raw) // width
        if count == 0:
            return None
        values = struct.unpack(("<" if elem.is_little_endian else ">") + fmt * count, raw[: count * width])
        if kind in ("floats", "strs"):
            return _scalar(list(values), kind)
        return _scalar(values[0], kind)
    if vr in ("SQ", "OB", "OW", "UN", None):
        return _scalar(_get(ds, _keyword(elem.tag)), kind)  # rare here: let pydicom handle it
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:  # single-byte character sets (ISO_IR 100 and friends)
        text = raw.decode("latin-1")
    text = text.strip("\x00 ")
    if not text:
        return None
    if kind == "str":
        return text
    if kind == "int":
        try:
            return int(text.split("\\", 1)[0])
        except ValueError:
            return _scalar(text.split("\\", 1)[0].strip(), kind)
    if kind == "float":
        try:
            f = float(text.split("\\", 1)[0])
            return f if math.isfinite(f) else None
        except ValueError:
            return None
    return _scalar([p.strip() for p in text.split("\\")], kind)


# tag -> (column, kind, dictionary VR, whether the dictionary VR is a text VR)
_WANTED: dict[int, tuple[str, str, str | None, bool]] = {}
_COLUMNS: list[str] = []
_TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI",
                       "UR", "UT"})


def _attributes(ds: Any) -> dict[str, Any]:
    """Every column of ALL_KEYWORDS for one dataset, in one pass over the elements it actually holds.

    The hot loop of metadata ingest: the common cases (raw text values, single binary values) are decoded
    inline; anything else goes through `_raw_value`."""
    if not _WANTED:
        for kw, kind in ALL_KEYWORDS.items():
            tag, vr = _tag(kw)
            _WANTED[tag] = (kw.lower(), kind, vr, vr in _TEXT_VRS)
            _COLUMNS.append(kw.lower())
    out: dict[str, Any] = dict.fromkeys(_COLUMNS)
    elements = getattr(ds, "_dict", None)
    if elements is None:  # not pydicom's usual Dataset: take the slow, public road
        for kw, kind in ALL_KEYWORDS.items():
            out[kw.lower()] = _raw_value(ds, kw, kind)
        return out
    wanted = _WANTED
    unpack = struct.unpack
    for tag, elem in elements.items():
        spec = wanted.get(tag)
        if spec is None:
            continue
        name, kind, dict_vr, plain_text = spec
        if not elem.is_raw or elem.is_buffered:
            out[name] = _raw_value(ds, name, kind, elem, dict_vr)
            continue
        raw = elem.value
        if not raw:
            continue
        if plain_text and (elem.VR is None or elem.VR == dict_vr):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
            text = text.strip("\x00 ")
            if not text:
                continue
            try:
                if kind == "str":
                    out[name] = text
                elif kind == "int":
                    out[name] = int(text.split("\\", 1)[0])
                elif kind == "float":
                    f = float(text.split("\\", 1)[0])
                    out[name] = f if math.isfinite(f) else None
                elif kind == "floats":
                    out[name] = [float(v) for v in text.split("\\")]
                else:
                    out[name] = [v.strip() for v in text.split("\\")]
            except ValueError:  # padding or junk inside a number: the careful path decides
                out[name] = _raw_value(ds, name, kind, elem, dict_vr)
        elif kind == "int" and len(raw) == 2 and (elem.VR or dict_vr) == "US":
            out[name] = unpack("<H" if elem.is_little_endian else ">H", raw)[0]
        else:
            out[name] = _raw_value(ds, name, kind, elem, dict_vr)
    return out


def _scalar(value: Any, kind: str) -> Any:
    """A pydicom value as a plain Python value of `kind`; None when absent or not convertible."""
    if value is None or value == "":
        return None
    try:
        if kind == "str":
            if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
                return "\\".join(str(v) for v in value)
            return str(value)
        if kind == "int":
            if type(value).__name__ == "MultiValue":
                value = value[0]
            return int(value)
        if kind == "float":
            if type(value).__name__ == "MultiValue":
                value = value[0]
            f = float(value)
            return f if math.isfinite(f) else None
        if kind == "floats":
            items = value if type(value).__name__ == "MultiValue" or isinstance(value, (list, tuple)) else [value]
            return [float(v) for v in items]
        if kind == "strs":
            items = value if type(value).__name__ == "MultiValue" or isinstance(value, (list, tuple)) else [value]
            return [str(v) for v in items]
    except (TypeError, ValueError):
        return None
    raise ValueError(f"unknown kind {kind}")


def _get(ds: Any, keyword: str) -> Any:
    try:
        elem = ds.get(keyword)
    except Exception:  # a malformed value pydicom cannot convert: treat as absent, the rest still loads
        return None
    return elem


def _first_item(ds: Any, keyword: str) -> Any:
    seq = _get(ds, keyword)
    try:
        return seq[0] if seq else None
    except Exception:
        return None


SHARED_GROUPS, PER_FRAME_GROUPS = 0x52009229, 0x52009230


def _frame_geometry(ds: Any, frames: int, attributes: dict[str, Any]) -> list[FrameGeometry]:
    """Geometry per frame: from the top-level attributes for classic images, from the shared and per-frame
    functional groups for enhanced multi-frame images (per-frame values win over shared ones)."""
    top = FrameGeometry(
        position=_triple(attributes.get("imagepositionpatient")),
        orientation=_sextuple(attributes.get("imageorientationpatient")),
        spacing=_pair(attributes.get("pixelspacing")),
        thickness=attributes.get("slicethickness"),
    )
    if SHARED_GROUPS not in ds and PER_FRAME_GROUPS not in ds:
        return [top] * max(frames, 1)
    shared = _first_item(ds, "SharedFunctionalGroupsSequence")
    per_frame = _get(ds, "PerFrameFunctionalGroupsSequence")
    if shared is None and not per_frame:
        return [top] * max(frames, 1)

    def from_groups(groups: Any, base: FrameGeometry) -> FrameGeometry:
        if groups is None:
            return base
        pos = _first_item(groups, "PlanePositionSequence")
        ori = _first_item(groups, "PlaneOrientationSequence")
        meas = _first_item(groups, "PixelMeasuresSequence")
        return FrameGeometry(
            position=_triple(_get(pos, "ImagePositionPatient")) if pos is not None else base.position,
            orientation=_sextuple(_get(ori, "ImageOrientationPatient")) if ori is not None else base.orientation,
            spacing=_pair(_get(meas, "PixelSpacing")) if meas is not None else base.spacing,
            thickness=_scalar(_get(meas, "SliceThickness"), "float") if meas is not None else base.thickness,
        )

    base = from_groups(shared, top)
    out = []
    for i in range(max(frames, 1)):
        item = per_frame[i] if per_frame is not None and i < len(per_frame) else None
        out.append(from_groups(item, base))
    return out


def _floats(value: Any, n: int) -> tuple[float, ...] | None:
    vals = _scalar(value, "floats")
    if not vals or len(vals) != n or not all(math.isfinite(v) for v in vals):
        return None
    return tuple(vals)


def _triple(value: Any):
    return _floats(value, 3)


def _sextuple(value: Any):
    return _floats(value, 6)


def _pair(value: Any):
    return _floats(value, 2)


# ---------------------------------------------------------------------------------------------------- headers
_LONG_LENGTH_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
_META_KEYS = {0x00020002: "MediaStorageSOPClassUID", 0x00020003: "MediaStorageSOPInstanceUID",
              0x00020010: "TransferSyntaxUID"}
IMPLICIT_LE, EXPLICIT_BE, DEFLATED = "1.2.840.10008.1.2", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"


def _read_file_meta(fp: Any) -> dict[str, str] | None:
    """The three file-meta values we use, parsed directly (explicit VR little endian, group 0002), with the
    file left at the start of the dataset. None when anything is unusual: the caller then lets pydicom's
    dcmread do the whole job. pydicom converts and validates every file-meta element, a fifth of its time
    on a small header."""
    fp.seek(132)
    meta: dict[str, str] = {}
    while True:
        pos = fp.tell()
        head = fp.read(8)
        if len(head) < 8:
            return None
        group, elem, vr = struct.unpack("<HH2s", head[:6])
        if group != 0x0002:
            fp.seek(pos)
            break
        if vr in _LONG_LENGTH_VRS:
            extra = fp.read(4)
            if len(extra) < 4:
                return None
            (length,) = struct.unpack("<L", extra)
        elif vr.isalpha() and vr.isupper():
            (length,) = struct.unpack("<H", head[6:8])
        else:
            return None  # implicit VR file meta (non-conformant): leave it to pydicom
        if length == 0xFFFFFFFF:
            return None
        value = fp.read(length)
        if len(value) < length:
            return None
        key = _META_KEYS.get((group << 16) | elem)
        if key:
            meta[key] = value.decode("ascii", "replace").strip("\x00 ")
    if not meta.get("TransferSyntaxUID"):
        return None
    return meta


def _stop_at_pixels(tag: Any, vr: Any, length: int) -> bool:
    return tag in PIXEL_DATA_TAGS


@dataclass
class _Parsed:
    """A header as parsed: the dataset (without pixel data), the file-meta values, the encoding of the dataset
    body, and the stream the body was read from, left at the Pixel Data element (the file itself, or for a
    deflated file the inflated body) with that stream's size."""

    ds: Any
    meta: dict[str, str]
    encoding: tuple[bool, bool]  # (implicit VR, little endian)
    stream: Any
    size: int


def _parse(fp: Any, is_dicm: bool, size: int) -> _Parsed:
    import pydicom
    from pydicom.filereader import read_dataset

    meta = _read_file_meta(fp) if is_dicm else None
    if meta is not None:
        ts = meta["TransferSyntaxUID"]
        stream = fp
        if ts == DEFLATED:  # the body is a raw deflate stream of an explicit VR little endian dataset
            stream, size = _inflate(fp)
        encoding = (ts == IMPLICIT_LE, ts != EXPLICIT_BE)
        ds = read_dataset(stream, encoding[0], encoding[1], stop_when=_stop_at_pixels)
        enc = getattr(ds, "original_encoding", None)
        if enc and enc[0] is not None:  # pydicom may have corrected a wrong VR claim, as dcmread does
            encoding = (bool(enc[0]), bool(enc[1]))
        return _Parsed(ds, meta, encoding, stream, size)
    fp.seek(0)
    ds = pydicom.dcmread(fp, stop_before_pixels=True, force=not is_dicm)
    meta = {k: v for k in _META_KEYS.values() if (v := _meta(ds, k))}
    if meta.get("TransferSyntaxUID") == DEFLATED:
        # dcmread inflated the body into a buffer of its own and left the file at its end; inflate it again
        # here so the pixel check below reads the inflated bytes, as on the fast road.
        group_length = _scalar(_get(ds.file_meta, "FileMetaInformationGroupLength"), "int")
        if group_length is None:
            raise ValueError("deflated file without FileMetaInformationGroupLength: the dataset cannot be found")
        fp.seek((132 if is_dicm else 0) + 12 + group_length)
        stream, size = _inflate(fp)
        ds = read_dataset(stream, False, True, stop_when=_stop_at_pixels)
        return _Parsed(ds, meta, (False, True), stream, size)
    return _Parsed(ds, meta, _encoding(ds), fp, size)


def _inflate(fp: Any) -> tuple[io.BytesIO, int]:
    """The rest of `fp` inflated (raw deflate, as Deflated Explicit VR Little Endian stores the dataset). A
    stream that stops before its end marker is a file cut short."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    body = inflater.decompress(fp.read()) + inflater.flush()
    if not inflater.eof:
        raise EOFError(f"the deflated dataset stops after {len(body)} inflated bytes, before its end marker")
    return io.BytesIO(body), len(body)


def read_header(path: Path, source: str) -> HeaderOutcome:
    """Read one file's header and decide: a loadable `DicomHeader`, a `Rejection` (quarantine) or `NotLoaded`.

    Never raises for bad input."""
    from pydicom.errors import InvalidDicomError

    try:
        with open(path, "rb") as fp:
            head = fp.read(132)
            fp.seek(0)
            is_dicm = head[128:132] == b"DICM"
            if not is_dicm and not _looks_like_bare_dataset(head):
                lower = path.name.lower()
                if lower.endswith(DICOM_EXTENSIONS):
                    return Rejection(source, "unreadable: no DICOM preamble and no parseable dataset",
                                     _excerpt(head))
                for suffix, kind in OTHER_IMAGE_FORMATS.items():
                    if lower.endswith(suffix):
                        return NotLoaded(source, f"other-format: {kind} image ({suffix}); the imaging reader "
                                                 "loads DICOM only - convert it to DICOM to load it")
                return NotLoaded(source, "not-dicom")
            file_size = os.fstat(fp.fileno()).st_size
            parsed = _parse(fp, is_dicm, file_size)
            ds, meta = parsed.ds, parsed.meta
            attributes = _attributes(ds)
            # Parsing stopped at the Pixel Data element (if any): check that the pixel bytes are all there
            # without reading them.
            pixel_problem, has_pixels = _check_pixel_element(parsed.stream, ds, attributes, parsed.size,
                                                             parsed.encoding)
    except InvalidDicomError as exc:
        return Rejection(source, f"unreadable: {exc}")
    except (EOFError, struct.error) as exc:
        return Rejection(source, f"truncated: header ends early ({type(exc).__name__}: {exc})")
    except OSError as exc:
        return Rejection(source, f"unreadable: {exc.strerror or exc}")
    except Exception as exc:  # pydicom raises many kinds on damaged headers; none may stop the run
        return Rejection(source, f"unreadable: {type(exc).__name__}: {exc}")

    sop_class = attributes["sopclassuid"] or meta.get("MediaStorageSOPClassUID")
    if sop_class == DICOMDIR_SOP_CLASS or DIRECTORY_RECORDS in ds:
        return NotLoaded(source, "dicomdir: media index, the files it lists are read directly")

    # An absent or empty PatientID does not stop a file: the archive holds it, so it loads linked to no
    # patient (patientid null). Without the UIDs an object has no place in the study / series / instance tree.
    patient_id = (attributes["patientid"] or "").strip()
    attributes["patientid"] = patient_id or None
    study_uid = (attributes["studyinstanceuid"] or "").strip()
    series_uid = (attributes["seriesinstanceuid"] or "").strip()
    sop_uid = (attributes["sopinstanceuid"] or meta.get("MediaStorageSOPInstanceUID") or "").strip()
    if pixel_problem:  # first: in a file cut short, missing identifiers are a symptom, not the cause
        return Rejection(source, pixel_problem, _identity(ds), series_uid, sop_uid)
    for name, value in (("StudyInstanceUID", study_uid), ("SeriesInstanceUID", series_uid),
                        ("SOPInstanceUID", sop_uid)):
        if not value:
            return Rejection(source, f"missing-{name.lower()}: {name} is absent or empty", _identity(ds),
                             series_uid, sop_uid)

    frames = attributes["numberofframes"] or 1
    attributes["sopclassuid"] = sop_class
    attributes["sopinstanceuid"] = sop_uid
    transfer_syntax = meta.get("TransferSyntaxUID") or ""
    attributes["transfersyntaxuid"] = transfer_syntax
    attributes["file_size"] = file_size
    geometry = _frame_geometry(ds, frames, attributes)
    # Enhanced images carry geometry in functional groups; surface the first frame's at the top level too,
    # so instance rows of classic and enhanced images answer the same questions.
    if attributes["imagepositionpatient"] is None and geometry[0].position is not None:
        attributes["imagepositionpatient"] = list(geometry[0].position)
    if attributes["imageorientationpatient"] is None and geometry[0].orientation is not None:
        attributes["imageorientationpatient"] = list(geometry[0].orientation)
    if attributes["pixelspacing"] is None and geometry[0].spacing is not None:
        attributes["pixelspacing"] = list(geometry[0].spacing)
    if attributes["slicethickness"] is None and geometry[0].thickness is not None:
        attributes["slicethickness"] = geometry[0].thickness
    return DicomHeader(
        path=path, source=source, patient_id=patient_id, study_uid=study_uid, series_uid=series_uid,
        sop_uid=sop_uid, instance_number=attributes["instancenumber"], rows=attributes["rows"],
        columns=attributes["columns"], frames=frames, samples_per_pixel=attributes["samplesperpixel"] or 1,
        has_pixels=has_pixels, transfer_syntax=transfer_syntax, frame_geometry=geometry, attributes=attributes,
    )


def _meta(ds: Any, keyword: str) -> str | None:
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        return None
    return _scalar(_get(meta, keyword), "str")


def _identity(ds: Any) -> str:
    parts = []
    for kw in ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "Modality"):
        parts.append(f"{kw}={_raw_value(ds, kw, 'str') or ''}")
    return " ".join(parts)


def _excerpt(data: bytes) -> str:
    return data[:256].decode("latin-1").encode("unicode_escape").decode("ascii")


def _check_pixel_element(fp: Any, ds: Any, attributes: dict[str, Any], size: int,
                         encoding: tuple[bool, bool]) -> tuple[str | None, bool]:
    """(problem, has_pixels) for the Pixel Data element at the file's current position.

    Native pixel data must be as long as Rows x Columns x Frames x Samples x BitsAllocated says and fully
    present in the file; encapsulated (compressed) data must have complete fragments up to its sequence
    delimiter. Decoding is left to the pixel stage; this only catches files cut short, cheaply."""
    start = fp.tell()
    header = fp.read(12)
    implicit, little = encoding
    endian = "<" if little else ">"
    tag = None
    if len(header) >= 8:
        group, elem = struct.unpack(endian + "HH", header[:4])
        tag = (group << 16) | elem
    if tag not in PIXEL_DATA_TAGS:
        return _header_cut_short(ds, size), False
    if implicit:
        (length,) = struct.unpack(endian + "L", header[4:8])
        value_start = start + 8
    else:
        if len(header) < 12:
            return "truncated: pixel data element header cut short", True
        (length,) = struct.unpack(endian + "L", header[8:12])
        value_start = start + 12
    if length == 0xFFFFFFFF:
        return _check_fragments(fp, value_start, size, endian), True
    if value_start + length > size:
        return f"truncated: pixel data declares {length} bytes, the file holds {max(size - value_start, 0)}", True
    rows = attributes["rows"] or 0
    cols = attributes["columns"] or 0
    frames = attributes["numberofframes"] or 1
    samples = attributes["samplesperpixel"] or 1
    bits = attributes["bitsallocated"] or 0
    expected = (rows * cols * frames * samples * bits + 7) // 8
    if length < expected:
        return f"truncated: pixel data holds {length} bytes, {rows}x{cols}x{frames} frames need {expected}", True
    return None, True


def _header_cut_short(ds: Any, size: int) -> str | None:
    """For a file without pixel data: pydicom stops quietly at the end of a file cut inside an element. A
    clean file ends exactly where its last element's value ends; anything else means it was cut short."""
    last = None
    for tag in ds.keys():
        last = ds.get_item(tag)  # the raw element: no value conversion
    if last is None:
        return f"truncated: no dataset after the file meta information (file of {size} bytes)"
    tell, length = getattr(last, "value_tell", None), getattr(last, "length", None)
    if tell is None or length is None or length == 0xFFFFFFFF:
        return None  # converted or undefined-length last element: no cheap way to tell, assume complete
    end = tell + length
    if end > size:
        return f"truncated: the header's last element needs {end} bytes, the file holds {size}"
    if end < size:
        return f"truncated: {size - end} stray bytes after the last complete element (byte {end})"
    return None


def _check_fragments(fp: Any, pos: int, size: int, endian: str) -> str | None:
    """Walk the items of encapsulated pixel data (seeking, not reading) up to the sequence delimiter."""
    while True:
        fp.seek(pos)
        item = fp.read(8)
        if len(item) < 8:
            return "truncated: compressed pixel data ends before its sequence delimiter"
        group, elem, length = struct.unpack(endian + "HHL", item)
        if (group, elem) == (0xFFFE, 0xE0DD):
            return None
        if (group, elem) != (0xFFFE, 0xE000) or length == 0xFFFFFFFF:
            return f"truncated: malformed compressed pixel data at byte {pos}"
        pos += 8 + length
        if pos > size:
            return f"truncated: compressed pixel fragment runs past the end of the file (byte {size})"


def _encoding(ds: Any) -> tuple[bool, bool]:
    """(implicit VR, little endian) the dataset body was read with."""
    enc = getattr(ds, "original_encoding", None)
    if enc and enc[0] is not None:
        return bool(enc[0]), bool(enc[1])
    ts = _meta(ds, "TransferSyntaxUID")
    if ts == "1.2.840.10008.1.2":
        return True, True
    if ts == "1.2.840.10008.1.2.2":
        return False, False
    return False, True
