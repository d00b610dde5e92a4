"""Pixel arithmetic: boxes found on a downscaled copy land on the displayed original."""

from __future__ import annotations

import pytest

from imageserver.faces.geometry import (
    Box,
    big_enough,
    clamp,
    fit_within,
    mapping,
    scale_box,
    square_crop,
    upsample_steps,
)


def test_fit_within_shrinks_the_long_side_and_never_grows() -> None:
    assert fit_within((4000, 3000), 1440) == (1440, 1080)
    assert fit_within((3000, 4000), 1440) == (1080, 1440)
    assert fit_within((500, 375), 1440) == (500, 375)
    assert fit_within((10000, 1), 100) == (100, 1)


def test_box_found_on_a_preview_maps_to_original_pixels() -> None:
    # A 6000x4000 photo, its 1440x960 preview, a face at (144, 96) 72 px wide on it.
    m = mapping((1440, 960), (6000, 4000))
    box = m.box(Box(144, 96, 72, 72))
    assert (box.x, box.y, box.w, box.h) == pytest.approx((600, 400, 300, 300))
    assert m.point((720, 480)) == pytest.approx((3000, 2000))


def test_mapping_is_per_axis_so_rounded_previews_stay_exact() -> None:
    # 4001x3000 shrunk to 1440x1080 (1079.7 rounded): each axis uses its own factor.
    m = mapping((1440, 1080), (4001, 3000))
    assert m.box(Box(0, 1080, 1440, 0)).y == pytest.approx(3000)
    assert m.box(Box(1440, 0, 0, 0)).x == pytest.approx(4001)


def test_clamp_keeps_boxes_inside_and_big_enough_uses_the_short_side() -> None:
    assert clamp(Box(-10.4, -5, 50, 40), (100, 100)) == (0, 0, 40, 35)
    assert clamp(Box(90, 90, 30, 30), (100, 100)) == (90, 90, 10, 10)
    assert big_enough((0, 0, 40, 32), 32)
    assert not big_enough((0, 0, 40, 31), 32)


@pytest.mark.parametrize(
    ("detect", "original", "max_side", "min_face", "expected"),
    [
        ((500, 375), (500, 375), 1440, 32, 1),  # small photo: one doubling finds 32 px faces
        ((500, 375), (500, 375), 1440, 100, 0),  # big minimum: no need to upsample
        ((1440, 960), (6000, 4000), 1440, 32, 0),  # the pixel budget is spent already
        ((300, 200), (300, 200), 1440, 16, 2),  # tiny picture: capped at two doublings
        ((500, 375), (500, 375), 900, 32, 0),  # doubling would pass FACE_MAX_SIDE
    ],
)
def test_upsample_only_when_needed_and_within_budget(
    detect: tuple[int, int],
    original: tuple[int, int],
    max_side: int,
    min_face: int,
    expected: int,
) -> None:
    assert upsample_steps(detect, original, max_side, min_face) == expected


def test_scale_box_and_square_crop_stay_inside_the_preview() -> None:
    on_preview = scale_box((3000, 2000, 600, 600), (6000, 4000), (1440, 960))
    assert (on_preview.x, on_preview.w) == pytest.approx((720, 144))
    left, top, right, bottom = square_crop(on_preview, (1440, 960), margin=0.5)
    assert right - left == bottom - top == 288
    assert (left + right) / 2 == pytest.approx(792)
    # A face at the corner: the square is shifted inside, not cut.
    assert square_crop(Box(0, 0, 50, 50), (400, 300), margin=0.5) == (0, 0, 100, 100)
    # Bigger than the picture: shrunk to its short side.
    assert square_crop(Box(0, 0, 300, 300), (400, 200), margin=0.5)[3] == 200
