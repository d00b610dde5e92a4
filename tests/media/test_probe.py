"""ffprobe adapter: parse canned JSON, error lines, and run it on videos made by ffmpeg."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from imageserver.media.probe import ProbeError, error_reason, parse_probe, probe, probe_argv
from tests.fixtures import make_video

HAS_FFMPEG = shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None
needs_ffmpeg = pytest.mark.skipif(not HAS_FFMPEG, reason="ffmpeg/ffprobe not installed")
FFMPEG = ["ffmpeg", "-nostdin", "-v", "error", "-y"]

# Trimmed from `ffprobe -show_format -show_streams -print_format json videos/with-gps.mov`
# (audio first, display matrix on the video stream).
IPHONE_MOV: dict[str, Any] = {
    "streams": [
        {
            "index": 0,
            "codec_name": "aac",
            "codec_type": "audio",
            "r_frame_rate": "0/0",
            "avg_frame_rate": "0/0",
            "duration": "4.001678",
        },
        {
            "index": 1,
            "codec_name": "h264",
            "codec_type": "video",
            "width": 568,
            "height": 320,
            "pix_fmt": "yuv420p",
            "color_transfer": "bt709",
            "field_order": "progressive",
            "r_frame_rate": "30000/1001",
            "avg_frame_rate": "72000/2401",
            "duration": "4.001667",
            "disposition": {"default": 1, "attached_pic": 0},
            "side_data_list": [
                {"side_data_type": "Display Matrix", "displaymatrix": "...", "rotation": -90}
            ],
        },
    ],
    "format": {
        "format_name": "mov,mp4,m4a,3gp,3g2,mj2",
        "duration": "4.002000",
        "bit_rate": "878415",
    },
}


def test_parse_iphone_mov() -> None:
    info = parse_probe(IPHONE_MOV)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert info.duration == pytest.approx(4.002)
    assert info.fps == pytest.approx(72000 / 2401, abs=1e-6)
    assert (info.width, info.height, info.rotation) == (568, 320, -90)
    assert info.color_transfer == "bt709" and info.pix_fmt == "yuv420p"
    assert info.container == "mov,mp4,m4a,3gp,3g2,mj2" and info.bit_rate == 878415
    assert info.field_order == "progressive" and not info.interlaced


def test_interlaced_camcorder_clip() -> None:
    data = {"streams": [{"codec_type": "video", "codec_name": "h264", "field_order": "tt"}]}
    assert parse_probe(data).interlaced
    assert not parse_probe({"streams": [{"codec_type": "video"}]}).interlaced


def test_parse_hdr_hevc_without_audio_or_format_duration() -> None:
    data = {
        "streams": [
            {
                "codec_name": "hevc",
                "codec_type": "video",
                "width": 1920,
                "height": 1080,
                "pix_fmt": "yuv420p10le",
                "color_transfer": "smpte2084",
                "avg_frame_rate": "0/0",
                "r_frame_rate": "30/1",
                "duration": "1.018",
            }
        ],
        "format": {},
    }
    info = parse_probe(data)
    assert info.audio_codec is None and info.rotation == 0
    assert info.fps == 30.0  # avg_frame_rate unknown: r_frame_rate
    assert info.duration == pytest.approx(1.018)  # stream duration when format has none
    assert info.color_transfer == "smpte2084"


@pytest.mark.parametrize(
    ("tag", "rotation"), [("90", -90), ("180", -180), ("270", 90), ("-90", 90), ("0", 0)]
)
def test_legacy_rotate_tag_maps_to_display_matrix_convention(tag: str, rotation: int) -> None:
    data = {"streams": [{"codec_type": "video", "codec_name": "h264", "tags": {"rotate": tag}}]}
    assert parse_probe(data).rotation == rotation


def test_track_without_codec_is_reported_not_named() -> None:
    # broken/sample_missing_stsd.mp4: the audio track lost its sample description
    data = {
        "streams": [
            {"codec_type": "video", "codec_name": "h264"},
            {"codec_type": "audio", "codec_tag_string": "[0][0][0][0]"},
        ]
    }
    info = parse_probe(data)
    assert info.audio_codec is None and info.unknown_streams == ("audio",)
    assert parse_probe(IPHONE_MOV).unknown_streams == ()


def test_cover_art_is_not_the_video_stream() -> None:
    data = {
        "streams": [
            {"codec_type": "video", "codec_name": "mjpeg", "disposition": {"attached_pic": 1}},
            {"codec_type": "video", "codec_name": "hevc", "width": 10, "height": 20},
        ],
        "format": {"duration": "N/A"},
    }
    info = parse_probe(data)
    assert (info.video_codec, info.width, info.duration) == ("hevc", 10, None)


def test_parse_garbage_is_empty() -> None:
    info = parse_probe({"streams": ["x", {"codec_type": "video", "avg_frame_rate": "1/0"}]})
    assert info.fps is None and info.width is None and info.video_codec is None


def test_error_reason_strips_context_and_path() -> None:
    path = Path("/lib/clip.mp4")
    stderr = (
        "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d1c2a0b2c0] moov atom not found\n"
        "/lib/clip.mp4: Invalid data found when processing input\n"
    )
    assert error_reason(stderr, path) == "ffprobe: moov atom not found"
    assert error_reason("/lib/clip.mp4: No such file or directory\n", path) == (
        "ffprobe: No such file or directory"
    )
    assert error_reason("", path) == "ffprobe: failed without a message"


def test_argv() -> None:
    argv = probe_argv(Path("/a b/-c.mp4"))
    assert argv[0] == "ffprobe" and argv[-1] == "/a b/-c.mp4"
    assert "-show_streams" in argv and "json" in argv


# --- real ffprobe ----------------------------------------------------------------------------


def _rotated(src: Path, dest: Path, rotate: int) -> Path:
    """ffmpeg 5.1 writes a display matrix only when remuxing with the legacy tag."""
    subprocess.run(
        [*FFMPEG, "-i", str(src), "-c", "copy", "-metadata:s:v:0", f"rotate={rotate}", str(dest)],
        check=True,
        timeout=60,
    )
    return dest


@needs_ffmpeg
def test_probe_real_video(tmp_path: Path) -> None:
    src = make_video(tmp_path / "clip.mp4", seconds=1.0, size="320x240")
    info = probe(src)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert info.duration == pytest.approx(1.0, abs=0.1)
    assert info.fps == pytest.approx(25.0)
    assert (info.width, info.height, info.rotation) == (320, 240, 0)
    rotated = probe(_rotated(src, tmp_path / "rot.mp4", 90))
    assert rotated.rotation in (90, -90) and (rotated.width, rotated.height) == (320, 240)


@needs_ffmpeg
def test_probe_broken_video_is_permanent(tmp_path: Path) -> None:
    src = make_video(tmp_path / "clip.mp4", seconds=1.0)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])  # moov is at the end
    with pytest.raises(ProbeError) as caught:
        probe(cut)
    assert caught.value.permanent and caught.value.reason == "ffprobe: moov atom not found"
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(ProbeError) as caught:
        probe(junk)
    assert caught.value.permanent and caught.value.reason.startswith("ffprobe: ")


@needs_ffmpeg
def test_probe_audio_only_is_not_a_video(tmp_path: Path) -> None:
    audio = tmp_path / "a.mp4"
    subprocess.run(
        [*FFMPEG, "-f", "lavfi", "-i", "sine=duration=0.5", "-c:a", "aac", str(audio)],
        check=True,
        timeout=60,
    )
    with pytest.raises(ProbeError, match="no video stream"):
        probe(audio)


def test_probe_timeout_and_missing_tool_are_transient(tmp_path: Path) -> None:
    slow = tmp_path / "slow-ffprobe"
    slow.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(30)\n")
    slow.chmod(slow.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(ProbeError) as caught:
        probe(tmp_path / "x.mp4", timeout=0.5, executable=str(slow))
    assert not caught.value.permanent and "timed out" in caught.value.reason
    with pytest.raises(ProbeError) as caught:
        probe(tmp_path / "x.mp4", executable=str(tmp_path / "missing"))
    assert not caught.value.permanent
