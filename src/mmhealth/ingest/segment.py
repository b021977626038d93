"""Automatic segmentation: the mask radiomics describes.

The default segmenter, `otsu-brightest`, is deterministic and needs no model. It looks for the brightest
compact structure in the volume, which in contrast-enhanced CT / T1 MR and in the generated demo images is the
lesion rather than the organ around it:

1. Otsu threshold separates the body from the background (air); the median of the body is the tissue level;
2. threshold half-way from the tissue level to the peak (the brightest voxel), the "50 % of maximum above
   background" rule of PET lesion segmentation;
3. the 3-D connected component (full connectivity) that contains the peak: noise speckles above the
   threshold elsewhere are not connected to it and drop out;
4. holes inside it filled (a necrotic core belongs to the lesion).

No smoothing: on low-resolution series a lesion may be a handful of voxels, which even a 3x3x3 median
erases (the peak then jumps to the organ).

Why not multi-level Otsu and its top class: Otsu balances class variances, so a lesion of a few hundred voxels
inside an organ of tens of thousands does not get a class of its own; the top class then holds the organ and
the mask volume no longer tracks the lesion. The half-maximum rule depends on the peak, not on class sizes.
A flat image gives an empty mask; the image set then gets no radiomics row, with the reason recorded.

Plug-in point (`--segmenter NAME`): NAME is looked up in order among
- segmenters registered in this module (`@register("name", version="1")`),
- entry points of the group `mmhealth.segmenters` (so an installed package can ship, say, a MONAI model:
  `[project.entry-points."mmhealth.segmenters"] monai-spleen = "pkg.mod:segment"`),
- `module:function` paths.
A segmenter takes a SimpleITK image and returns a mask image of the same geometry (non-zero = inside). Its
`__version__` attribute (or the entry point's distribution version) is recorded with every radiomics row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from mmhealth.errors import MMHealthError

if TYPE_CHECKING:
    import SimpleITK as sitk

DEFAULT_SEGMENTER = "otsu-brightest"
HALF_MAX = 0.5  # where the threshold sits between the tissue level and the peak
ENTRY_POINT_GROUP = "mmhealth.segmenters"

SegmentFn = Callable[["sitk.Image"], "sitk.Image"]


@dataclass(frozen=True)
class Segmenter:
    name: str
    version: str
    fn: SegmentFn

    def __call__(self, image: "sitk.Image") -> "sitk.Image":
        return self.fn(image)


_REGISTRY: dict[str, Segmenter] = {}


def register(name: str, version: str) -> Callable[[SegmentFn], SegmentFn]:
    """Decorator: make `fn` available as `--segmenter name`."""

    def wrap(fn: SegmentFn) -> SegmentFn:
        _REGISTRY[name] = Segmenter(name, version, fn)
        return fn

    return wrap


def resolve(name: str | None) -> Segmenter:
    """The segmenter called `name` (default when None); MMHealthError naming the choices when unknown."""
    import importlib
    from importlib.metadata import entry_points

    name = name or DEFAULT_SEGMENTER
    if name in _REGISTRY:
        return _REGISTRY[name]
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            fn = ep.load()
            version = getattr(fn, "__version__", None) or (ep.dist.version if ep.dist else "unknown")
            return Segmenter(name, str(version), fn)
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            fn = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise MMHealthError(f"--segmenter {name}: cannot load it ({exc}) - check the module:function path")
        return Segmenter(name, str(getattr(fn, "__version__", "unknown")), fn)
    installed = sorted(set(_REGISTRY) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})
    raise MMHealthError(
        f"--segmenter {name}: unknown segmenter - use one of {', '.join(installed)}, an entry point in the "
        f"'{ENTRY_POINT_GROUP}' group, or a module:function path"
    )


def mask_voxels(mask: "sitk.Image") -> int:
    import SimpleITK as sitk

    return int(sitk.GetArrayViewFromImage(mask).astype(bool).sum())


@register(DEFAULT_SEGMENTER, version="1")
def otsu_brightest(image: "sitk.Image") -> "sitk.Image":
    """Brightest compact structure: Otsu body mask, half-maximum above tissue, the peak's component, holes
    filled (see the module docstring)."""
    import numpy as np
    import SimpleITK as sitk

    volume = sitk.Cast(image, sitk.sitkFloat32)
    values = sitk.GetArrayViewFromImage(volume)
    if values.size == 0 or float(values.max()) <= float(values.min()):
        return _empty_like(image)
    body = sitk.GetArrayViewFromImage(sitk.OtsuThreshold(volume, 0, 1, 128)).astype(bool)
    tissue = float(np.median(values[body])) if body.any() else float(values.min())
    peak = float(values.max())
    if peak <= tissue:
        return _empty_like(image)
    candidate = sitk.BinaryThreshold(volume, tissue + HALF_MAX * (peak - tissue), 1e38, 1, 0)
    components = sitk.GetArrayFromImage(sitk.ConnectedComponent(candidate, True))
    peak_label = int(components.flat[int(np.argmax(values))])
    if peak_label == 0:  # cannot happen (the peak is above the threshold), but never return garbage
        return _empty_like(image)
    lesion = sitk.GetImageFromArray((components == peak_label).astype(np.uint8))
    lesion.CopyInformation(image)
    filled = sitk.BinaryFillhole(lesion, fullyConnected=True, foregroundValue=1)
    mask = sitk.Cast(filled, sitk.sitkUInt8)
    mask.CopyInformation(image)
    return mask


def _count(mask: "sitk.Image") -> int:
    import SimpleITK as sitk

    return int(sitk.GetArrayViewFromImage(mask).sum())


def _empty_like(image: "sitk.Image") -> "sitk.Image":
    import SimpleITK as sitk

    mask = sitk.Image(image.GetSize(), sitk.sitkUInt8)
    mask.CopyInformation(image)
    return mask


@register("whole-volume", version="1")
def whole_volume(image: "sitk.Image") -> "sitk.Image":
    """(Nearly) every voxel: what the reference notebook effectively did, which makes every shape feature
    constant. Kept only as a baseline to compare against; never the default. A one-voxel border is left out
    in-plane because pyradiomics refuses a mask without any background."""
    import numpy as np
    import SimpleITK as sitk

    arr = np.zeros(sitk.GetArrayViewFromImage(image).shape, np.uint8)
    arr[..., 1:-1, 1:-1] = 1
    mask = sitk.GetImageFromArray(arr)
    mask.CopyInformation(image)
    return mask
