"""The plan is a pure function of ffprobe facts: copy what browsers play, re-encode the rest."""

from __future__ import annotations

import pytest

from imageserver.config import Settings
from imageserver.media.probe import VideoInfo
from imageserver.video.plan import (
    HlsOptions,
    NoVideoStream,
    SourceInfo,
    output_size,
    plan_hls,
    plan_preview,
    source_info,
)

OPTS = HlsOptions()
H264 = SourceInfo("h264", "yuv420p", 1920, 1080, 0, "bt709", "aac", 10.0)


def test_h264_aac_is_stream_copied() -> None:
    plan = plan_hls(H264, OPTS)
    assert plan.copy_video and plan.audio == "copy" and plan.mode == "copy"
    assert plan.tonemap is None and plan.reasons == ()


@pytest.mark.parametrize("audio, expected", [(None, "none"), ("aac", "copy"), ("ac3", "encode")])
def test_audio_is_copied_encoded_or_left_out(audio: str | None, expected: str) -> None:
    plan = plan_hls(SourceInfo("h264", "yuvj420p", 640, 360, audio_codec=audio), OPTS)
    assert plan.copy_video and plan.audio == expected


@pytest.mark.parametrize(
    "info, reason",
    [
        (SourceInfo("hevc", "yuv420p", 1920, 1080), "video codec hevc"),
        (SourceInfo("h264", "yuv420p10le", 1920, 1080), "pixel format yuv420p10le"),
        (SourceInfo("h264", "yuv422p", 1920, 1080), "pixel format yuv422p"),
        (SourceInfo("h264", "yuv420p", 1920, 1080, rotation=-90), "rotation -90"),
        (SourceInfo("h264", "yuv420p", 1920, 1080, rotation=180), "rotation 180"),
        (SourceInfo("h264", "yuv420p", 1920, 1080, interlaced=True), "interlaced"),
        (SourceInfo("mpeg4", "yuv420p", 640, 480, audio_codec="mp3"), "video codec mpeg4"),
    ],
)
def test_everything_else_is_transcoded(info: SourceInfo, reason: str) -> None:
    plan = plan_hls(info, OPTS)
    assert not plan.copy_video and plan.mode == "transcode"
    assert reason in plan.reasons


@pytest.mark.parametrize("transfer, kind", [("smpte2084", "pq"), ("arib-std-b67", "hlg")])
def test_hdr_is_tone_mapped(transfer: str, kind: str) -> None:
    plan = plan_hls(SourceInfo("hevc", "yuv420p10le", 1920, 1080, color_transfer=transfer), OPTS)
    assert plan.tonemap == kind and plan.mode == "tonemap"
    # even an 8-bit H.264 with an HDR transfer is not copied (it would look washed out)
    plan = plan_hls(SourceInfo("h264", "yuv420p", 1920, 1080, color_transfer=transfer), OPTS)
    assert plan.mode == "tonemap"


def test_sdr_transfers_are_not_tone_mapped() -> None:
    for transfer in ("bt709", "smpte170m", "bt2020-12", None):
        info = SourceInfo("h264", "yuvj420p", 1280, 720, color_transfer=transfer)
        assert plan_hls(info, OPTS).mode == "copy"


def test_no_video_stream_is_refused() -> None:
    with pytest.raises(NoVideoStream):
        plan_hls(SourceInfo(None, audio_codec="aac"), OPTS)
    with pytest.raises(NoVideoStream):
        plan_preview(SourceInfo(None), OPTS)


def test_rotation_is_applied_to_the_output_size() -> None:
    # portrait phone clip stored landscape: 4K -> shorter side 1080, upright
    plan = plan_hls(SourceInfo("h264", "yuvj420p", 3840, 2160, rotation=-90), OPTS)
    assert plan.size == (1080, 1920)
    plan = plan_hls(SourceInfo("hevc", "yuv420p", 1280, 720, rotation=90), OPTS)
    assert plan.size == (720, 1280)
    plan = plan_hls(SourceInfo("hevc", "yuv420p", 1280, 720, rotation=-180), OPTS)
    assert plan.size == (1280, 720)


@pytest.mark.parametrize(
    "displayed, limit, expected",
    [
        ((3840, 2160), 1080, (1920, 1080)),
        ((2160, 3840), 1080, (1080, 1920)),
        ((1280, 720), 1080, (1280, 720)),  # never enlarged
        ((642, 642), 480, (480, 480)),
        ((175, 143), 1080, (174, 142)),  # odd sizes made even for 4:2:0
        ((1920, 1080), 720, (1280, 720)),
        (None, 1080, None),
    ],
)
def test_output_size(
    displayed: tuple[int, int] | None, limit: int, expected: tuple[int, int] | None
) -> None:
    assert output_size(displayed, limit) == expected


def test_max_height_setting_reaches_the_plan() -> None:
    options = HlsOptions.from_settings(Settings(_env_file=None, hls_max_height=720))  # type: ignore[call-arg]
    assert plan_hls(SourceInfo("vp9", "yuv420p", 1920, 1080), options).size == (1280, 720)


@pytest.mark.parametrize(
    "duration, start",
    [(100.0, 10.0), (10.0, 1.0), (4.0, 0.4), (3.2, 0.2), (3.0, 0.0), (0.1, 0.0), (None, 0.0)],
)
def test_preview_starts_near_ten_percent(duration: float | None, start: float) -> None:
    plan = plan_preview(SourceInfo("h264", "yuv420p", 640, 360, duration=duration), OPTS)
    assert plan.start == pytest.approx(start)
    assert plan.seconds == OPTS.preview_seconds


def test_source_info_from_probe() -> None:
    probed = VideoInfo(
        duration=2.5,
        video_codec="hevc",
        audio_codec="none",
        width=1920,
        height=1080,
        rotation=-90,
        pix_fmt="yuv420p10le",
        color_transfer="arib-std-b67",
        field_order="tt",
    )
    info = source_info(probed)
    assert info.interlaced and plan_hls(info, OPTS).deinterlace
    assert info.audio_codec is None  # an audio track without a decoder is no audio
    assert info.rotation == -90 and info.displayed_size == (1080, 1920)
    assert plan_hls(info, OPTS).tonemap == "hlg"
