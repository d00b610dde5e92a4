"""Video frame extraction: argv builders and parsers without ffmpeg, then a few real runs."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from imageserver import proc
from imageserver.media import videoframe
from imageserver.media.videoframe import (
    Frame,
    FrameError,
    VideoStream,
    filter_chain,
    frame_argv,
    grab_frame,
    parse_ppm,
    parse_probe,
    probe_argv,
    seek_time,
    stderr_reason,
)
from tests.fixtures import make_video

SRC = Path("/lib/My Videos/clip: one.mp4")


def _probe(*streams: dict[str, Any], duration: str | None = "10.0") -> dict[str, Any]:
    fmt = {"duration": duration} if duration is not None else {}
    return {"streams": list(streams), "format": fmt}


# --- pure --------------------------------------------------------------------------------


def test_parse_probe_picks_first_real_video_stream() -> None:
    data = _probe(
        {"index": 0, "codec_type": "audio"},
        {"index": 1, "codec_type": "video", "disposition": {"attached_pic": 1}},
        {"index": 2, "codec_type": "video", "color_transfer": "smpte2084"},
        {"index": 3, "codec_type": "video"},
    )
    assert parse_probe(data) == VideoStream(2, 10.0, "smpte2084")
    assert parse_probe(data).hdr  # type: ignore[union-attr]


def test_parse_probe_duration_falls_back_to_the_stream() -> None:
    stream = {"index": 0, "codec_type": "video", "duration": "4.5", "color_transfer": "bt709"}
    assert parse_probe(_probe(stream, duration="N/A")) == VideoStream(0, 4.5, "bt709")
    assert parse_probe(_probe({"index": 0, "codec_type": "video"}, duration=None)) == (
        VideoStream(0, None, None)
    )
    assert not VideoStream(0, 1.0, "bt709").hdr
    assert VideoStream(0, 1.0, "arib-std-b67").hdr


def test_parse_probe_without_video() -> None:
    assert parse_probe(_probe({"index": 0, "codec_type": "audio"})) is None
    assert parse_probe({}) is None


def test_seek_time_is_ten_percent_or_zero() -> None:
    assert seek_time(10.0) == 1.0
    assert seek_time(0.1) == 0.01
    assert seek_time(None) == 0.0


def test_filter_chain_sdr_only_scales() -> None:
    chain = filter_chain(1440, "bt709")
    assert chain == (
        "scale=w='trunc(iw*sar)':h=ih,setsar=1,"
        "scale=w='min(1440,iw)':h='min(1440,ih)':force_original_aspect_ratio=decrease"
    )
    assert "tonemap" not in filter_chain(1440, None)


@pytest.mark.parametrize("transfer", ["smpte2084", "arib-std-b67"])
def test_filter_chain_tonemaps_hdr_after_scaling(transfer: str) -> None:
    text = filter_chain(800, transfer)  # scale first: tone-mapping 1440 px is cheaper than 4K
    assert text.index("force_original_aspect_ratio") < text.index(f"zscale=tin={transfer}")
    assert text.index("tonemap=tonemap=hable") < text.index("zscale=t=bt709:m=bt709:r=tv")
    assert text.endswith("format=yuv420p")


def test_frame_argv_seeks_before_input_and_maps_the_stream() -> None:
    stream = VideoStream(3, 20.0, None)
    argv = frame_argv(SRC, stream, 1440, 2.0)
    assert argv[0] == "ffmpeg"
    assert argv[argv.index("-ss") + 1] == "2.000"
    assert argv.index("-ss") < argv.index("-i")
    assert argv[argv.index("-i") + 1] == f"file:{SRC}"  # a ':' in a name is not a protocol
    assert argv[argv.index("-map") + 1] == "0:3"
    assert argv[argv.index("-frames:v") + 1] == "1"
    assert argv[argv.index("-vf") + 1] == filter_chain(1440, None)
    assert argv[-5:] == ["-c:v", "ppm", "-f", "image2pipe", "-"]
    assert "-noautorotate" not in argv  # ffmpeg applies the display matrix by default
    assert "-ss" not in frame_argv(SRC, stream, 1440, 0.0)


def test_probe_argv() -> None:
    argv = probe_argv(SRC, "ffprobe")
    assert argv[0] == "ffprobe" and argv[-1] == f"file:{SRC}"
    assert "json" in argv


def test_parse_ppm() -> None:
    pixels = bytes(range(2 * 3 * 3))
    frame = parse_ppm(b"P6\n2 3\n255\n" + pixels + b"trailing")
    assert frame is not None and (frame.width, frame.height, frame.rgb) == (2, 3, pixels)
    assert parse_ppm(b"P6\n2 3\n255\n" + pixels[:-1]) is None  # truncated
    assert parse_ppm(b"P6\n2 3\n65535\n" + pixels * 2) is None  # 16-bit: not what we asked
    assert parse_ppm(b"") is None
    assert parse_ppm(b"P6\n0 0\n255\n") is None


def test_stderr_reason_strips_context_and_path() -> None:
    stderr = f"[h264 @ 0x55d1c0]   Invalid NAL unit size\n{SRC}: Invalid data found\n".encode()
    assert stderr_reason(stderr, SRC) == "Invalid NAL unit size"
    assert stderr_reason(f"file:{SRC}: Invalid data\n".encode(), SRC) == f"{SRC.name}: Invalid data"
    assert stderr_reason(b"\n\n", SRC) == "no message"


# --- running the tools ---------------------------------------------------------------------


def rotated_video(path: Path, degrees: int, size: str = "320x240") -> Path:
    """A video with a display matrix. make_video(rotate=) re-encodes, and ffmpeg 5.1 only
    turns the legacy `rotate` tag into a display matrix when stream-copying."""
    plain = make_video(path.with_name("plain-" + path.name), seconds=0.5, size=size, audio=False)
    subprocess.run(
        ["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-i", str(plain), "-c", "copy",
         "-metadata:s:v:0", f"rotate={degrees}", str(path)],
        check=True,
        timeout=60,
    )  # fmt: skip
    return path


def test_grab_frame_rotated_video_comes_out_upright(tmp_path: Path) -> None:
    video = rotated_video(tmp_path / "rot.mp4", 90)
    shown = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream_side_data=rotation", "-of",
         "csv=p=0", str(video)],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert shown == ["90"]  # display matrix: turn 90 degrees counter-clockwise to show
    frame = grab_frame(video, 1440)
    assert (frame.width, frame.height) == (240, 320)
    plain = _pixels(grab_frame(tmp_path / "plain-rot.mp4", 1440))
    assert _similarity(_pixels(frame), np.rot90(plain, k=1)) > 0.9  # numpy k=1: CCW
    assert _similarity(_pixels(frame), np.rot90(plain, k=-1)) < 0.5  # the wrong way round


def _pixels(frame: Frame) -> np.ndarray[Any, Any]:
    rgb = np.frombuffer(frame.rgb, np.uint8).reshape(frame.height, frame.width, 3)
    grey: np.ndarray[Any, Any] = rgb.mean(axis=2)
    return grey


def _similarity(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
    a, b = (a - a.mean()) / a.std(), (b - b.mean()) / b.std()
    return float((a * b).mean())


def test_grab_frame_fits_the_box(tmp_path: Path) -> None:
    video = make_video(tmp_path / "wide.mp4", seconds=0.5, size="640x360", audio=False)
    frame = grab_frame(video, 100)
    assert (frame.width, frame.height) == (100, 56)


def test_grab_frame_takes_the_frame_at_ten_percent(tmp_path: Path) -> None:
    """Black for 0.5 s then white: the first frame is black, the one at 1.0 s is white."""
    video = tmp_path / "fade.mp4"
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-y", "-loglevel", "error",
            "-f", "lavfi", "-i", "color=c=black:s=64x48:r=25:d=0.5",
            "-f", "lavfi", "-i", "color=c=white:s=64x48:r=25:d=9.5",
            "-filter_complex", "[0][1]concat=n=2:v=1[v]", "-map", "[v]",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", str(video),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    frame = grab_frame(video, 1440)
    assert sum(frame.rgb) / len(frame.rgb) > 200


def test_grab_frame_of_a_clip_shorter_than_a_frame_seek(tmp_path: Path) -> None:
    video = make_video(tmp_path / "short.mp4", seconds=0.1, audio=False)
    frame = grab_frame(video, 1440)
    assert (frame.width, frame.height) == (320, 240)


def test_grab_frame_falls_back_to_the_first_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A duration far past the end (broken container) makes -ss yield nothing."""
    video = make_video(tmp_path / "clip.mp4", seconds=0.5, audio=False)
    real = videoframe.parse_probe
    monkeypatch.setattr(
        videoframe,
        "parse_probe",
        lambda data: VideoStream(real(data).index, 3600.0, None),  # type: ignore[union-attr]
    )
    calls: list[list[str]] = []
    run = videoframe._run

    def spy(argv: list[str], timeout: float) -> proc.Completed:
        calls.append(argv)
        return run(argv, timeout)

    monkeypatch.setattr(videoframe, "_run", spy)
    frame = grab_frame(video, 1440)
    assert (frame.width, frame.height) == (320, 240)
    assert "-ss" in calls[1] and "-ss" not in calls[2]


def test_grab_frame_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x17" * 4000)
    with pytest.raises(FrameError) as err:
        grab_frame(garbage, 1440)
    assert err.value.permanent and err.value.reason.startswith("ffprobe: ")
    audio_only = tmp_path / "sound.m4a"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
         "sine=d=0.5", str(audio_only)],
        check=True,
        timeout=60,
    )  # fmt: skip
    with pytest.raises(FrameError) as err:
        grab_frame(audio_only, 1440)
    assert err.value.permanent and err.value.reason == "no video stream"


def test_grab_frame_timeout_is_transient(tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.mp4", seconds=0.5, audio=False)
    with pytest.raises(FrameError) as err:
        grab_frame(video, 1440, probe_timeout=0.001)
    assert not err.value.permanent and "timed out" in err.value.reason


def test_missing_tool_is_transient(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(videoframe, "probe_argv", lambda src: ["/nonexistent/ffprobe", str(src)])
    with pytest.raises(FrameError) as err:
        grab_frame(tmp_path / "x.mp4", 1440)
    assert not err.value.permanent and "cannot run" in err.value.reason
