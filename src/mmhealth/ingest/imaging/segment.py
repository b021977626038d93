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

Fallback. Real series break the assumption that the brightest structure is a lesion: an MR exported with a
display window has half the head at the maximum value (the tissue level is the peak: empty mask), a scout or
a single slice has a hot line (a mask in one dimension, which pyradiomics refuses), a low-contrast volume has
its peak's component spread over the whole head. When the default segmenter's mask is `implausible` - empty,
spanning fewer than 2 dimensions, or more than half the foreground - `otsu-foreground` runs instead (the Otsu
foreground: its largest 3-D component, holes filled), and the radiomics row records both the method that ran
and why (`segmentation_fallback_reason`). Only the default falls back: a segmenter named with `--segmenter`
gives its own mask or the reason it has none.

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
FALLBACK_SEGMENTER = "otsu-foreground"
HALF_MAX = 0.5  # where the threshold sits between the tissue level and the peak
MAX_FOREGROUND_SHARE = 0.5  # a default mask larger than this share of the foreground is the organ, not a lesion
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


def implausible(mask: "sitk.Image", image: "sitk.Image") -> str | None:
    """Why the default segmenter's mask cannot be the lesion it looks for, or None when it can."""
    import numpy as np
    import SimpleITK as sitk

    arr = sitk.GetArrayViewFromImage(mask).astype(bool)
    voxels = int(arr.sum())
    if voxels == 0:
        return "found no structure (empty mask)"
    extent = [len(np.unique(idx)) for idx in np.nonzero(arr)]
    if sum(n > 1 for n in extent) < 2:
        return f"found a structure of {voxels} voxel(s) spanning fewer than 2 dimensions"
    fg = int(_foreground_array(image).sum())
    if fg and voxels > MAX_FOREGROUND_SHARE * fg:
        return (f"found a structure covering {100 * voxels / fg:.0f}% of the foreground (more than "
                f"{100 * MAX_FOREGROUND_SHARE:.0f}%: an organ or the whole body, not a lesion)")
    return None


def _foreground_array(image: "sitk.Image"):
    """The Otsu foreground as a boolean array (z, y, x): voxels above the threshold between background and body."""
    import numpy as np
    import SimpleITK as sitk

    volume = sitk.Cast(image, sitk.sitkFloat32)
    values = sitk.GetArrayViewFromImage(volume)
    if values.size == 0 or float(values.max()) <= float(values.min()):
        return np.zeros(values.shape, bool)
    return sitk.GetArrayFromImage(sitk.OtsuThreshold(volume, 0, 1, 128)).astype(bool)


@register(FALLBACK_SEGMENTER, version="1")
def otsu_foreground(image: "sitk.Image") -> "sitk.Image":
    """The imaged anatomy: Otsu foreground, its largest 3-D connected component (specks of noise in the air
    drop out), holes filled (dark cavities inside belong to it). Empty for a flat image. The default segmenter's
    fallback (module docstring); also usable on its own."""
    import numpy as np
    import SimpleITK as sitk

    fg = _foreground_array(image)
    if not fg.any():
        return _empty_like(image)
    fg_image = sitk.GetImageFromArray(fg.astype(np.uint8))
    components = sitk.RelabelComponent(sitk.ConnectedComponent(fg_image, True), sortByObjectSize=True)
    largest = sitk.Cast(sitk.Equal(components, 1), sitk.sitkUInt8)
    filled = sitk.GetArrayFromImage(sitk.BinaryFillhole(largest, fullyConnected=True, foregroundValue=1))
    if filled.all():  # pyradiomics needs some background: leave the in-plane border out, as whole-volume does
        filled[..., 0, :] = filled[..., -1, :] = 0
        filled[..., :, 0] = filled[..., :, -1] = 0
    mask = sitk.GetImageFromArray(filled.astype(np.uint8))
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
