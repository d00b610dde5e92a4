"""Pure pixel arithmetic of face detection: sizes, upsampling, mapping boxes back.

Detection runs on a copy of the image no larger than FACE_MAX_SIDE (often the large
preview); faces are stored in displayed-original pixels, so every box and landmark found
on the copy is scaled back here. Kept free of images and models so it is tested exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

# Smallest face (px, in the image given to the detector) that dlib's HOG detector and the
# CNN detector find without upsampling: both scan windows of about 80 px; boxes come out
# slightly tighter (~70 px). Upsampling halves this per step.
DETECTOR_MIN_FACE_PX = 70
MAX_UPSAMPLE = 2

Size = tuple[int, int]
Point = tuple[float, float]


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class Mapping:
    """Scale from detection-image pixels to displayed-original pixels (per axis)."""

    sx: float
    sy: float

    def box(self, box: Box) -> Box:
        return Box(box.x * self.sx, box.y * self.sy, box.w * self.sx, box.h * self.sy)

    def point(self, point: Point) -> Point:
        return (point[0] * self.sx, point[1] * self.sy)


def mapping(detected: Size, original: Size) -> Mapping:
    """Per-axis scale, so a preview whose rounding differs by a pixel still maps exactly."""
    return Mapping(original[0] / detected[0], original[1] / detected[1])


def fit_within(size: Size, max_side: int) -> Size:
    """`size` shrunk (never grown) so its longest side is at most `max_side`."""
    w, h = size
    longest = max(w, h)
    if longest <= max_side:
        return size
    scale = max_side / longest
    return max(1, round(w * scale)), max(1, round(h * scale))


def upsample_steps(detect: Size, original: Size, max_side: int, min_face: int) -> int:
    """Times dlib doubles the image before scanning.

    Only as often as needed to see faces of `min_face` original pixels, and never past
    `max_side`: upsampling costs 4x per step, so the same pixel budget bounds it.
    """
    scale = max(detect) / max(original)  # detection px per original px
    steps = 0
    while (
        steps < MAX_UPSAMPLE
        and min_face * scale * 2**steps < DETECTOR_MIN_FACE_PX
        and max(detect) * 2 ** (steps + 1) <= max_side
    ):
        steps += 1
    return steps


def clamp(box: Box, size: Size) -> tuple[int, int, int, int]:
    """Integer (x, y, w, h) inside the image; detectors may report boxes past an edge."""
    x0 = min(max(0, round(box.x)), size[0])
    y0 = min(max(0, round(box.y)), size[1])
    x1 = min(max(0, round(box.x + box.w)), size[0])
    y1 = min(max(0, round(box.y + box.h)), size[1])
    return x0, y0, x1 - x0, y1 - y0


def big_enough(box: tuple[int, int, int, int], min_size: int) -> bool:
    """A face counts when both sides reach the configured minimum (original pixels)."""
    return min(box[2], box[3]) >= min_size


def scale_box(box: tuple[int, int, int, int], frame: Size, target: Size) -> Box:
    """A stored box (in `frame` pixels) in the pixels of the same picture at `target` size."""
    m = mapping(frame, target)
    return m.box(Box(*box))


def square_crop(box: Box, size: Size, margin: float) -> tuple[int, int, int, int]:
    """A square (left, top, right, bottom) around the face with `margin` of its size added
    on every side, shifted (not shrunk) to stay inside the image where it fits."""
    side = max(box.w, box.h) * (1 + 2 * margin)
    side = min(side, float(min(size)))
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    left = min(max(0.0, cx - side / 2), size[0] - side)
    top = min(max(0.0, cy - side / 2), size[1] - side)
    return round(left), round(top), round(left + side), round(top + side)
