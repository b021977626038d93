"""Radiomic features per image set: volume assembly, segmentation and pyradiomics, in a process pool.

Settings (kept small for speed, recorded with every row in `radiomics_settings`):
- image types: `Original` only (no wavelet / LoG filters: they multiply the work by ~10 for features few
  models use);
- feature classes: firstorder, shape, glcm, glrlm, glszm, gldm, ngtdm (all features of each, plus first-order
  StandardDeviation, which pyradiomics flags deprecated but the reference system's tables carry);
- discretisation: fixed bin width 25 HU for CT (calibrated units, the IBSI recommendation), fixed bin count
  32 for every other modality (arbitrary intensity units, where a fixed width would give 1 or 1000 bins);
- no resampling, no intensity normalisation, label 1, pyradiomics' diagnostic columns off.

Segmentation fallback (`segment.implausible`): when the default segmenter's mask is not a plausible lesion,
features are computed on the `otsu-foreground` mask, the imaged anatomy, without the shape class: shape
features of the field of view describe no structure, and pyradiomics computes the diameters over every pair of
surface vertices, minutes for a whole head (218 s for 1.06 million voxels on this machine, against 6 s for all
other classes together). `segmentation_fallback_reason` says why the fallback ran.

Physical units: when the headers do not give the voxel spacing (`volume.Volume.geometry_problem`), features
are computed on the voxel grid, but every value in mm / mm2 / mm3 (`mask_volume_mm3`, the shape class,
first-order TotalEnergy) is left null and `geometry_status` says why; otherwise `geometry_status` is `ok`.

Columns are pyradiomics feature names lower-cased, as a Glue crawler names them over the reference system's
feature tables: `original_firstorder_Mean` -> `original_firstorder_mean`, `original_shape_MeshVolume` ->
`original_shape_meshvolume` (the `original_` image-type prefix stays, so filtered images can be added later
without renaming anything).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from mmhealth.ingest.imaging.volume import NoUsablePixels, PixelDecodeError, SliceSource, assemble_volume, read_frames
from mmhealth.ingest.readahead import readahead
from mmhealth.ingest.workers import default_workers, spawn_pool

if TYPE_CHECKING:
    import SimpleITK as sitk

FEATURE_CLASSES = ("firstorder", "shape", "glcm", "glrlm", "glszm", "gldm", "ngtdm")
# Features whose value depends on the voxel spacing (sizes in mm, mm2, mm3): null without real geometry.
SPACING_DEPENDENT_PREFIXES = ("original_shape_", "original_firstorder_totalenergy")
CT_BIN_WIDTH = 25.0
BIN_COUNT = 32


def settings_for(modality: str | None) -> dict[str, Any]:
    """pyradiomics settings for an image set of `modality` (see the module docstring for why)."""
    base: dict[str, Any] = {"label": 1, "additionalInfo": False, "resampledPixelSpacing": None,
                            "normalize": False}
    if (modality or "").upper() == "CT":
        base["binWidth"] = CT_BIN_WIDTH
    else:
        base["binCount"] = BIN_COUNT
    return base


_EXTRACTORS: dict[str, Any] = {}


def extractor_for(settings: dict[str, Any], classes: tuple[str, ...] = FEATURE_CLASSES):
    """A pyradiomics extractor for `settings` and feature `classes`, built once per process (construction
    parses its defaults)."""
    key = json.dumps(settings, sort_keys=True) + "|" + ",".join(classes)
    if key not in _EXTRACTORS:
        import radiomics
        from radiomics import featureextractor

        radiomics.setVerbosity(40)  # errors only: pyradiomics logs every feature class at INFO
        ext = featureextractor.RadiomicsFeatureExtractor(**settings)
        ext.disableAllFeatures()
        for name in classes:
            ext.enableFeatureClassByName(name)
        # StandardDeviation is flagged deprecated in pyradiomics (it is sqrt(Variance)) and so left out of
        # "all features"; the reference system's tables and our dbt models use it, so it is asked for by name.
        from radiomics.firstorder import RadiomicsFirstOrder

        if "firstorder" in classes:
            ext.enableFeaturesByName(firstorder=sorted(RadiomicsFirstOrder.getFeatureNames()))
        ext.disableAllImageTypes()
        ext.enableImageTypeByName("Original")
        _EXTRACTORS[key] = ext
    return _EXTRACTORS[key]


def extract_features(image: "sitk.Image", mask: "sitk.Image", settings: dict[str, Any],
                     classes: tuple[str, ...] = FEATURE_CLASSES) -> dict[str, float]:
    """Feature name (lower-cased pyradiomics name) -> value, for label 1 of `mask`."""
    import warnings

    with warnings.catch_warnings():
        # numpy warns inside pyradiomics on tiny ROIs (e.g. "Mean of empty slice" for the robust mean absolute
        # deviation of < 10 voxels); the value is NaN and stays NaN in the row, the warning adds nothing.
        warnings.simplefilter("ignore", RuntimeWarning)
        raw = extractor_for(settings, classes).execute(image, mask, label=settings.get("label", 1))
    out = {}
    for key, value in raw.items():
        if key.startswith("diagnostics_"):
            continue  # pyradiomics' run information, if anyone turns it on
        out[key.lower()] = as_real(value)
    return out


def as_real(value) -> float:
    """A feature value as a float. pyradiomics' shape features come from numpy eigenvalues, which are complex with
    a zero imaginary part for some masks (numpy warned and dropped it); a non-zero imaginary part means the feature
    has no real value, so it is NaN rather than a silently truncated number."""
    import numpy as np

    if np.iscomplexobj(value):
        c = complex(value)
        return c.real if abs(c.imag) <= 1e-9 * max(1.0, abs(c.real)) else float("nan")
    return float(value)


def pyradiomics_version() -> str:
    import radiomics

    return str(radiomics.__version__)


@dataclass(frozen=True)
class ImageSetTask:
    """One image set to process; small and picklable (it crosses into a worker process). `decode_only`: the
    volume is refused (the reader knows why), but every file's pixels are still decoded, so that a file that
    does not decode is quarantined whatever its series."""

    imagesetid: str
    modality: str | None
    sources: tuple[SliceSource, ...]
    segmenter: str | None = None
    decode_only: bool = False


@dataclass
class ImageSetResult:
    imagesetid: str
    status: str  # "ok", or why there is no radiomics row (starts with a stable kind)
    features: dict[str, Any] | None = None  # the radiomics row without identifiers
    undecodable: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    seconds: float = 0.0


def decode_failures(sources: Iterable[SliceSource], known: tuple[str, str] | None = None) -> list[tuple[str, str]]:
    """(source, reason) of every file with pixel data that does not decode (`known`: one already found)."""
    failures = [known] if known else []
    for src in sources:
        if not src.has_pixels or (known and src.source == known[0]):
            continue
        try:
            read_frames(src)
        except PixelDecodeError as exc:
            failures.append((exc.source, exc.reason))
        except NoUsablePixels:
            pass  # decoded, just not usable for a volume (colour, ...)
    return failures


def process_image_set(task: ImageSetTask) -> ImageSetResult:
    """Assemble, segment and extract for one image set. Never raises for bad data: the result says why."""
    import SimpleITK as sitk

    from mmhealth.ingest.imaging.segment import DEFAULT_SEGMENTER, FALLBACK_SEGMENTER, implausible, mask_voxels, resolve

    start = time.perf_counter()

    def done(status: str, **kw: Any) -> ImageSetResult:
        return ImageSetResult(task.imagesetid, status, seconds=time.perf_counter() - start, **kw)

    readahead(s.path for s in task.sources if s.has_pixels)  # every slice's read queued before the first is decoded
    if task.decode_only:
        return done("decode-only", undecodable=decode_failures(task.sources))
    try:
        volume = assemble_volume(task.sources)
    except NoUsablePixels as exc:
        return done(str(exc))
    except MemoryError:
        return done("volume-failed: MemoryError: the volume does not fit in this worker's memory")
    except PixelDecodeError as exc:
        # Report every file that fails, not just the first, so the quarantine is complete in one run.
        failures = decode_failures(task.sources, (exc.source, exc.reason))
        total = sum(1 for s in task.sources if s.has_pixels)
        named = "; ".join(f"{src}: {why}" for src, why in failures[:3])
        more = f"; and {len(failures) - 3} more" if len(failures) > 3 else ""
        return done(f"undecodable-pixels: {len(failures)} of {total} files do not decode ({named}{more})",
                    undecodable=failures)
    except Exception as exc:  # anything else about one odd volume must not stop the run
        return done(f"volume-failed: {type(exc).__name__}: {exc}")
    image = volume.image
    segmenter = resolve(task.segmenter)
    fallback_reason = None
    try:
        mask = segmenter(image)
        problem = implausible(mask, image) if segmenter.name == DEFAULT_SEGMENTER else None
        if problem:
            fallback = resolve(FALLBACK_SEGMENTER)
            fallback_mask = fallback(image)
            if mask_voxels(fallback_mask) == 0:
                return done(f"empty-mask: segmenter {segmenter.name} {problem}, and its fallback {fallback.name} "
                            "found no foreground either (a flat image)")
            fallback_reason = f"{segmenter.name} {problem}; shape features not computed on the foreground"
            segmenter, mask = fallback, fallback_mask
    except Exception as exc:  # a plug-in model failing on one volume must not stop the run
        return done(f"segmentation-failed: {segmenter.name}: {type(exc).__name__}: {exc}")
    voxels = mask_voxels(mask)
    if voxels == 0:
        return done(f"empty-mask: segmenter {segmenter.name} found no structure")
    mask = sitk.Cast(sitk.NotEqual(mask, 0), sitk.sitkUInt8)
    mask.CopyInformation(image)
    settings = settings_for(task.modality)
    classes = FEATURE_CLASSES if fallback_reason is None else tuple(c for c in FEATURE_CLASSES if c != "shape")
    try:
        features = extract_features(image, mask, settings, classes)
    except Exception as exc:  # pyradiomics refuses some masks (e.g. a 1-voxel ROI); record why
        return done(f"radiomics-failed: {segmenter.name}: {type(exc).__name__}: {exc}")
    sx, sy, sz = image.GetSpacing()
    row: dict[str, Any] = {
        "segmentation_method": segmenter.name,
        "segmentation_version": segmenter.version,
        "segmentation_fallback_reason": fallback_reason,
        "mask_voxels": voxels,
        "mask_volume_mm3": voxels * sx * sy * sz,
        "geometry_status": "ok",
        "pyradiomics_version": pyradiomics_version(),
        "radiomics_settings": json.dumps(settings, sort_keys=True),
    }
    row.update(features)
    if volume.geometry_problem:
        # 1 mm was only a stand-in for the grid: nothing in physical units may come from it
        row["geometry_status"] = (f"{volume.geometry_problem} - mask_volume_mm3, shape features and total "
                                  "energy are null")
        row["mask_volume_mm3"] = None
        for name in row:
            if name.startswith(SPACING_DEPENDENT_PREFIXES):
                row[name] = None
    return done("ok", features=row)


def _init_worker() -> None:
    # Each worker runs one image set at a time: keep numpy / ITK from spawning a thread per core on top of
    # the process pool, which would oversubscribe the cores.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import SimpleITK as sitk

        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    except Exception:
        pass


def make_pool(workers: int):
    """A process pool of `workers` processes for image work (header chunks, image sets)."""
    return spawn_pool(workers, _init_worker)


def run_image_sets(tasks: Iterable[ImageSetTask], workers: int | None = None, progress: bool = True,
                   pool: Any = None) -> Iterator[ImageSetResult]:
    """Process image sets across `workers` processes (default: the cores), yielding results as they finish,
    with a tqdm bar. `workers=1` runs in this process (no pool start-up, easier debugging); `pool` reuses an
    existing pool from `make_pool`."""
    from concurrent.futures import as_completed

    from tqdm import tqdm

    tasks = list(tasks)
    workers = max(1, workers or default_workers())
    bar = tqdm(total=len(tasks), desc="radiomics", unit="image set", disable=not progress or not tasks,
               leave=False)
    try:
        if workers == 1 or len(tasks) <= 1:
            for task in tasks:
                result = process_image_set(task)
                bar.update(1)
                yield result
            return
        own = pool is None
        pool = pool or make_pool(min(workers, len(tasks)))
        try:
            futures = {pool.submit(process_image_set, t): t for t in tasks}
            for fut in as_completed(futures):
                bar.update(1)
                try:
                    yield fut.result()
                except Exception as exc:  # a worker that died (e.g. killed for memory) fails its image set only
                    yield ImageSetResult(futures[fut].imagesetid, f"worker-failed: {type(exc).__name__}: {exc}")
        finally:
            if own:
                pool.shutdown()
    finally:
        bar.close()
