"""Local keypoints (RootSIFT) for geometric verification: catch crops, rotations and overlays.

Global features (hashes, CNN) say two pictures *look* alike; local keypoints prove that one is a
copy of (part of) the other: ``search/verify.py`` matches them and fits a transform with RANSAC.
What they catch: crops down to ~10% of the area, any rotation, mirrors (through ``mirrored``:
SIFT descriptors of a mirrored picture are a fixed permutation of the originals, so no second
extraction is needed), negatives (``negative``, likewise a permutation), perspective,
pasting into another photo, captions, heavy JPEG, colour changes. What they miss: flat or
tiny pictures (few keypoints), heavy blur, stylisation.

Computed on the working copy downscaled to ``SIDE`` px on the long side (OpenCV's SIFT doubles
its input, so 256 px input detects at ~512 px detail) with a low contrast threshold
(``CONTRAST``) so small and flat pictures still get keypoints, keeping ``COUNT`` keypoints
spread over a grid so a small crop still holds some of them.

Stored value (kind ``local``: a blob via ``arrays.save_arrays`` whose ``desc`` the store also
indexes for candidate voting), with coordinates **normalised to 0..1** of the image's width and
height (multiply by the full decoded size in ``size`` to get full-size pixels), keypoints in
``spread`` order (so any prefix is a well-spread subset):

* ``xy``    uint16 (n, 2), x / width and y / height in units of 1/65535
* ``angle`` uint8 (n,), orientation in units of 360/256 degrees (OpenCV convention, y down)
* ``scale`` float16 (n,), keypoint diameter as a fraction of the image's long side
* ``desc``  uint8 (n, 128), RootSIFT (sqrt of the L1-normalised SIFT) times ``DESC_SCALE``
* ``size``  int32 (2,), the full decoded (width, height)

Memory: 135 bytes per keypoint plus ~0.1 kB of headers: at most 52 kB per image with
``COUNT`` = 384, 43 kB on average over the development photos. Extraction: ~12 ms per image
(SIFT on both cores), a third of the 512 px setting it replaced, which verified fewer copies
(0.863 vs 0.882 of the positive pairs, 0.875 vs 0.950 of the overlays) at ~40 ms.
384 keypoints were chosen over 256 (-1.5 points of verified copies, -12 kB) and 512 (+0.5
points, +12 kB, slower matching); ORB verified fewer copies (-5 to -8 points, half as many 10%
crops). The measurements are in ``bench/results/verify.md`` (``bench/verify_eval.py --sweep``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pictrace.errors import IndexCorrupt
from pictrace.features.arrays import load_arrays, save_arrays
from pictrace.features.base import Extractor, FeatureSpec
from pictrace.features.registry import register
from pictrace.features.views import enlarged, scaled
from pictrace.settings import Settings
from pictrace.types import Box, DecodedImage

COUNT = 384
# A search's first look describes fewer query keypoints (descriptors are ~half of SIFT's time)
# on a smaller picture (SIFT's cost follows the pixels): a query is usually a copy of a larger
# picture or a part of one, so its 192 px still show at least the detail an indexed 256 px
# image has. Queries it finds no copy for get the full COUNT at FINE_SIDE. On the development
# queries, against 256 keypoints at 256 px: attacked R@1 / micro-AP 0.988 / 0.988 (was 0.985 /
# 0.985), the first look's keypoints ready ~5 ms sooner, about when the CNN is done. 192
# instead of 256 keypoints: the same attacked R@1 / micro-AP, natural R@1 / micro-AP 0.796 /
# 0.780 -> 0.798 / 0.779, searches 4 % faster (BENCHMARKS.md, "Speed").
FIRST_LOOK_COUNT = 192
FIRST_LOOK_SIDE = 192
SIDE = 256
# A query smaller than this is looked at again enlarged to it (``enlarged_look``):
# bench/bench_small.py's tiny thumbnails at rank 1, 0.871 of them at 192 px, 0.857 at 256.
SMALL_LOOK_SIDE = 192
FINE_SIDE = 384  # the second, finer look at a query in which nothing was found (see refine)
# A second look whose keypoints leave less than this share in the picture's middle takes
# them spread from all SIFT finds (``detect_spread``): the photo inside a checkered border
# had 7 of 384 there.
CROWDED = 0.05
CONTRAST = 0.013  # SIFT's contrast threshold (OpenCV default 0.04): keep fainter keypoints
LAYERS = 3  # SIFT's scales per octave (OpenCV's default; 2 was cheaper but found fewer copies)
GRID = 4  # keypoints are spread over GRID x GRID cells
# SIFT keeps the POOL * count strongest keypoints (and describes only those: descriptors are
# ~60% of its time) for the spreading to choose from. POOL = 3 cost 4 ms more per image for
# the same share of verified copies (0.882 vs 0.880, bench/results/verify.md).
POOL = 1
DESC_SCALE = 512.0  # RootSIFT components lie in 0..1 and rarely exceed 0.45
KEYPOINTS = FeatureSpec("keypoints", 4, "local", 128)  # indexed for voting (store: "local")

# Mirroring a picture left-right maps a SIFT descriptor (4x4 cells x 8 orientation bins, in the
# keypoint's own frame) to the original with its cell rows reversed and orientations negated.
_MIRROR = np.array(
    [
        (3 - row) * 32 + col * 8 + (8 - b) % 8
        for row in range(4)
        for col in range(4)
        for b in range(8)
    ]
)
# The negative of a picture (every value v -> 255 - v) has the same difference-of-Gaussian
# extrema with the opposite sign, so the same keypoints, each turned by 180 degrees: every
# gradient turns with it, so in the keypoint's own frame the orientations are the same and
# the cells swap through the centre (rows and columns reversed).
_NEGATIVE = np.array(
    [(3 - row) * 32 + (3 - col) * 8 + b for row in range(4) for col in range(4) for b in range(8)]
)


@dataclass(frozen=True, eq=False)
class Keypoints:
    """Keypoints of one image in its full-size pixel frame."""

    xy: np.ndarray  # (n, 2) float32, full-size pixels
    angle: np.ndarray  # (n,) float32 degrees
    scale: np.ndarray  # (n,) float32 diameter, full-size pixels
    descriptors: np.ndarray  # (n, 128) uint8 RootSIFT * DESC_SCALE
    size: tuple[int, int]  # full decoded (width, height)

    def __len__(self) -> int:
        return len(self.xy)


def unit_rows(desc: np.ndarray) -> np.ndarray:
    """Descriptors as float32 rows of length 1 (their dot products are cosines)."""
    rows = np.asarray(desc, dtype=np.float32)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-6)


def detect(
    pixels: np.ndarray,
    size: tuple[int, int],
    count: int = COUNT,
    side: int = SIDE,
    grid: int = GRID,
    contrast: float = CONTRAST,
    layers: int = LAYERS,
    enlarge: bool = False,
) -> Keypoints:
    """RootSIFT keypoints of an RGB (or grey) uint8 picture whose full size is ``size``,
    reduced to ``side`` px on its long side when it is larger (and, with ``enlarge``,
    enlarged smoothly to it when it is smaller)."""
    grey = _grey(pixels, side, enlarge)
    found, desc = cv2.SIFT.create(count * POOL, layers, contrast).detectAndCompute(grey, None)
    if desc is None or not found:
        return empty(size)
    xy = np.array([k.pt for k in found], dtype=np.float32).reshape(-1, 2)
    response = np.array([k.response for k in found], dtype=np.float32)
    keep = spread(xy, response, grey.shape[1], grey.shape[0], count, grid)
    return _kept([found[i] for i in keep], desc[keep], grey.shape, size)


def detect_spread(pixels: np.ndarray, size: tuple[int, int], count: int, side: int) -> Keypoints:
    """``detect``, the ``count`` keypoints spread over the picture from all SIFT finds, not
    from the strongest ``count``: a patterned border's corners (a checkerboard, dots) are
    far stronger than a photo's, and took nearly all of them (8 of 192 in the photo inside
    one). Each keypoint is described once chosen; the picture's pyramid is built twice."""
    grey = _grey(pixels, side, enlarge=False)
    sift = cv2.SIFT.create(0, LAYERS, CONTRAST)
    found = sift.detect(grey, None)
    if not found:
        return empty(size)
    xy = np.array([k.pt for k in found], dtype=np.float32).reshape(-1, 2)
    response = np.array([k.response for k in found], dtype=np.float32)
    keep = spread(xy, response, grey.shape[1], grey.shape[0], count, GRID)
    chosen, desc = sift.compute(grey, [found[i] for i in keep])
    if desc is None or not chosen:
        return empty(size)
    return _kept(list(chosen), desc, grey.shape, size)


def crowded(kp: Keypoints) -> bool:
    """Whether the keypoints leave the middle of the picture nearly empty (under CROWDED of
    them in its central half each way), as the strongest do around a patterned border."""
    if len(kp) < GRID * GRID:
        return False
    width, height = kp.size
    x, y = kp.xy[:, 0] / max(width, 1), kp.xy[:, 1] / max(height, 1)
    middle = (np.abs(x - 0.5) < 0.25) & (np.abs(y - 0.5) < 0.25)
    return float(middle.mean()) < CROWDED


def _grey(pixels: np.ndarray, side: int, enlarge: bool) -> np.ndarray:
    """The picture in grey at ``side`` px on its long side when larger (or, with
    ``enlarge``, when smaller)."""
    grey = (
        pixels
        if pixels.ndim == 2
        else cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)
    )
    factor = side / max(grey.shape[:2])
    if factor < 1.0:
        return scaled(grey, factor)
    if factor > 1.0 and enlarge:
        return enlarged(grey, factor)
    return grey


def _kept(
    found: list[cv2.KeyPoint], desc: np.ndarray, shape: tuple[int, ...], size: tuple[int, int]
) -> Keypoints:
    """Keypoints found on a grey picture of ``shape``, in the full-size frame ``size``."""
    xy = np.array([k.pt for k in found], dtype=np.float32).reshape(-1, 2)
    to_full = np.array([size[0] / shape[1], size[1] / shape[0]], dtype=np.float32)
    return Keypoints(
        xy=(xy + 0.5) * to_full,
        angle=np.array([k.angle for k in found], dtype=np.float32),
        scale=np.array([k.size for k in found], dtype=np.float32) * float(to_full.max()),
        descriptors=root_sift(desc),
        size=(int(size[0]), int(size[1])),
    )


def spread(
    xy: np.ndarray, response: np.ndarray, width: int, height: int, count: int, grid: int
) -> np.ndarray:
    """Indices of up to ``count`` points, strongest first within each grid cell, taken
    round-robin over the cells, so every part of the picture keeps some points. They come in
    that order: any prefix is itself a spread-out selection."""
    cell = (
        np.minimum(xy[:, 1] * grid // max(height, 1), grid - 1) * grid
        + np.minimum(xy[:, 0] * grid // max(width, 1), grid - 1)
    ).astype(np.int64)
    order = np.lexsort((-response, cell))
    ranks = np.empty(len(order), dtype=np.int64)
    starts = np.searchsorted(cell[order], np.arange(grid * grid))
    ranks[order] = np.arange(len(order)) - starts[cell[order]]
    return np.lexsort((-response, ranks))[:count]


def root_sift(desc: np.ndarray) -> np.ndarray:
    """SIFT -> RootSIFT (Arandjelovic & Zisserman 2012), quantised to uint8."""
    desc = np.asarray(desc, dtype=np.float32)
    root = np.sqrt(desc / np.maximum(desc.sum(axis=1, keepdims=True), 1e-7))
    return np.clip(np.rint(root * DESC_SCALE), 0, 255).astype(np.uint8)


def mirrored(kp: Keypoints) -> Keypoints:
    """The keypoints the left-right mirror of the picture would have, in the mirror's frame."""
    return Keypoints(
        xy=np.column_stack([kp.size[0] - kp.xy[:, 0], kp.xy[:, 1]]).astype(np.float32),
        angle=(180.0 - kp.angle) % 360.0,
        scale=kp.scale,
        descriptors=mirror_descriptors(kp.descriptors),
        size=kp.size,
    )


def negative(kp: Keypoints) -> Keypoints:
    """The keypoints the negative of the picture would have (a colour-inverted copy)."""
    return Keypoints(
        xy=kp.xy,
        angle=(kp.angle + 180.0) % 360.0,
        scale=kp.scale,
        descriptors=negative_descriptors(kp.descriptors),
        size=kp.size,
    )


def negative_descriptors(desc: np.ndarray) -> np.ndarray:
    """Descriptors of the picture's negative (a fixed permutation of the cells)."""
    return np.asarray(desc)[:, _NEGATIVE]


def mirror_descriptors(desc: np.ndarray) -> np.ndarray:
    """Descriptors of the left-right mirrored picture (a fixed permutation of the bins)."""
    return np.asarray(desc)[:, _MIRROR]


def empty(size: tuple[int, int]) -> Keypoints:
    return Keypoints(
        np.zeros((0, 2), np.float32),
        np.zeros(0, np.float32),
        np.zeros(0, np.float32),
        np.zeros((0, 128), np.uint8),
        (int(size[0]), int(size[1])),
    )


def encode_keypoints(kp: Keypoints) -> bytes:
    width, height = kp.size
    norm = kp.xy / np.array([max(width, 1), max(height, 1)], dtype=np.float32)
    return save_arrays(
        xy=np.clip(np.rint(norm * 65535.0), 0, 65535).astype(np.uint16),
        angle=(np.rint(kp.angle * (256.0 / 360.0)).astype(np.int64) % 256).astype(np.uint8),
        scale=(kp.scale / max(width, height, 1)).astype(np.float16),
        desc=np.ascontiguousarray(kp.descriptors, dtype=np.uint8),
        size=np.array([width, height], dtype=np.int32),
    )


def decode_keypoints(blob: bytes) -> Keypoints:
    """Inverse of ``encode_keypoints``; raises IndexCorrupt on a malformed value."""
    try:
        arrays = load_arrays(blob)
        width, height = (int(v) for v in arrays["size"])
        xy = arrays["xy"].astype(np.float32).reshape(-1, 2) / 65535.0
        desc = arrays["desc"].reshape(-1, 128).astype(np.uint8)
        angle = arrays["angle"].astype(np.float32) * (360.0 / 256.0)
        scale = arrays["scale"].astype(np.float32) * max(width, height, 1)
    except (KeyError, ValueError) as exc:
        raise IndexCorrupt(f"stored keypoints cannot be read ({exc}); re-add the image") from exc
    if not len(xy) == len(desc) == len(angle) == len(scale):
        raise IndexCorrupt("stored keypoints have inconsistent lengths; re-add the image")
    xy *= np.array([width, height], dtype=np.float32)
    return Keypoints(xy, angle, scale, desc, (width, height))


class KeypointExtractor(Extractor):
    specs = (KEYPOINTS,)

    def __init__(self, count: int = COUNT, side: int = SIDE, fine_count: int = COUNT) -> None:
        self.count = count
        self.side = side
        self.fine_count = fine_count  # keypoints of the finer second look (refine)

    def extract_one(self, image: DecodedImage) -> dict[str, bytes]:
        kp = detect(image.pixels, (image.width, image.height), self.count, self.side)
        return {"keypoints": encode_keypoints(kp)}

    def first_look(self) -> KeypointExtractor:
        return KeypointExtractor(
            min(self.count, FIRST_LOOK_COUNT), min(self.side, FIRST_LOOK_SIDE), self.count
        )

    def refine(self, image: DecodedImage, region: Box | None = None) -> dict[str, bytes] | None:
        """Keypoints of a query at FINE_SIDE (all ``fine_count`` of them) when the picture
        shows more detail than this extractor's side (a quarter more pixels per side at
        least: for the first look, queries from 240 px up). A copy pasted at 40% width into
        a 1,024 px photo spans ~100 px at SIDE, too few for its keypoints to match; at
        FINE_SIDE it spans ~150 px; None for a smaller picture. Keypoints that leave the
        picture's middle nearly empty (``crowded``: a patterned border's) are taken again,
        spread from all SIFT finds (``detect_spread``). With ``region`` (full-size pixels),
        only that part of the picture is looked at, as closely (a search's zoomed look); the
        keypoints are still in the whole picture's frame."""
        if region is not None:
            return {"keypoints": encode_keypoints(self._region(image, region))}
        if max(image.pixels.shape[:2]) < self.side * 1.25:
            return None
        size = (image.width, image.height)
        kp = detect(image.pixels, size, self.fine_count, FINE_SIDE)
        if crowded(kp):
            kp = detect_spread(image.pixels, size, self.fine_count, FINE_SIDE)
        return {"keypoints": encode_keypoints(kp)}

    def enlarged_look(self, image: DecodedImage) -> dict[str, bytes] | None:
        """Keypoints of a query smaller than SMALL_LOOK_SIDE, enlarged smoothly to it (about
        the scale an indexed picture is described at), or None for a larger one. A thumbnail
        of an indexed photo (an avatar, a preview a few dozen pixels across) shows its coarse
        detail at that scale only once enlarged. Only as a second look: a small crop of an
        indexed picture shows its detail larger than the index does, and enlarged it matched
        less often (natural crops of 64-127 px: R@1 0.224 -> 0.121 when every small query was
        enlarged at once)."""
        if max(image.pixels.shape[:2]) >= SMALL_LOOK_SIDE:
            return None
        size = (image.width, image.height)
        kp = detect(image.pixels, size, self.fine_count, SMALL_LOOK_SIDE, enlarge=True)
        return {"keypoints": encode_keypoints(kp)}

    def _region(self, image: DecodedImage, region: Box) -> Keypoints:
        height, width = image.pixels.shape[:2]
        fx, fy = width / max(image.width, 1), height / max(image.height, 1)
        x0, y0 = max(0, int(region[0] * fx)), max(0, int(region[1] * fy))
        x1, y1 = min(width, int(np.ceil(region[2] * fx))), min(height, int(np.ceil(region[3] * fy)))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return empty((image.width, image.height))
        part = image.pixels[y0:y1, x0:x1]
        size = ((x1 - x0) / fx, (y1 - y0) / fy)  # the region in full-size pixels
        kp = detect(part, (round(size[0]), round(size[1])), self.fine_count, FINE_SIDE)
        shift = np.array([x0 / fx, y0 / fy], dtype=np.float32)
        return Keypoints(
            kp.xy + shift, kp.angle, kp.scale, kp.descriptors, (image.width, image.height)
        )


@register("keypoints")
def _factory(settings: Settings) -> Extractor:
    return KeypointExtractor()
