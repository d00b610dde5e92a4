"""No false "unsupported", clean stream copies: the copy (generated timestamps, in-band
parameter sets), then a re-encode; every published copy decodes from its first segment on
without an error line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from imageserver.video import ffmpeg, generator, jobs, layout, ownership
from imageserver.video.plan import HlsOptions, TranscodePlan
from tests.fixtures import make_video
from tests.video.helpers import read_back, temp_entries

OPTS = HlsOptions(preset="ultrafast", segment_seconds=1)
H1, H2 = ("d4" + "0" * 62), ("e5" + "0" * 62)
# One second of AAC and no video: what a preview must never be.
SINE_AAC = [
    "ffmpeg",
    "-nostdin",
    "-v",
    "error",
    "-f",
    "lavfi",
    "-i",
    "sine=duration=1",
    "-c:a",
    "aac",
]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("copy-clips")
    return {
        # H.264 with B-frames in AVI: no presentation timestamps, the copy fails with
        # "first pts and dts value must be set"; +genpts makes pts = dts (wrong order)
        "avi": make_video(d / "h264.avi", seconds=1.5, extra=["-bf", "2", "-g", "25"]),
        # without B-frames, generated pts are right: the copy itself is published
        "avi-ip": make_video(d / "h264-ip.avi", seconds=1.5, extra=["-bf", "0", "-g", "25"]),
        # HRD-signalled Constrained Baseline in MP4: every keyframe starts with a
        # buffering-period SEI that names SPS 0 before the muxer's inserted SPS
        "baseline": make_video(
            d / "baseline.mp4",
            seconds=2,
            extra=[
                "-profile:v",
                "baseline",
                "-maxrate",
                "400k",
                "-bufsize",
                "400k",
                "-x264-params",
                "nal-hrd=vbr:keyint=25:scenecut=0",
            ],
        ),
    }


def decode_errors(path: Path) -> list[str]:
    run = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return [line for line in run.stderr.splitlines() if line.strip()]


def job(src: Path, digest: str) -> jobs.Job:
    return jobs.Job(digest, src, "lib", src.name)


def test_h264_in_avi_is_never_unsupported(clips: dict[str, Path], tmp_path: Path) -> None:
    result = jobs.run_job(job(clips["avi"], H1), tmp_path, OPTS, 120)
    assert result.hls is not None and result.hls.status == "done", result.hls
    assert not result.sentinel_written and not layout.sentinel_path(tmp_path, H1).exists()
    assert result.mode == "transcode"  # the copy rejected, the re-encode published
    folder = layout.hash_dir(tmp_path, H1)
    assert decode_errors(folder / layout.PLAYLIST) == []
    assert read_back(folder, decode=False).video_codec == "h264"
    assert temp_entries(tmp_path) == []
    # the tries in between kept the folder's ownership stamp: cleanup may remove it later
    assert ownership.made_here(folder, ownership.claim(tmp_path))


def test_the_avi_copy_failure_is_recorded(clips: dict[str, Path], tmp_path: Path) -> None:
    copy = TranscodePlan(copy_video=True, audio="copy")
    fallback = TranscodePlan(copy_video=False, audio="copy", reasons=("stream copy failed",))
    made = generator.make_hls(clips["avi"], tmp_path, H1, copy, OPTS, 120, fallback=fallback)
    assert made.mode == "transcode"
    # +genpts got the copy past "first pts and dts value must be set"; the verification
    # caught the out-of-order timestamps of its B-frames
    [failure] = made.copy_failures
    assert failure.startswith("copy:") and "does not decode cleanly" in failure


def test_h264_in_avi_without_b_frames_is_copied_with_generated_timestamps(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    result = jobs.run_job(job(clips["avi-ip"], H2), tmp_path, OPTS, 120)
    assert result.hls is not None and result.hls.status == "done", result.hls
    assert result.mode == "copy"
    back = read_back(layout.hash_dir(tmp_path, H2))
    assert back.decode_errors == [] and back.video_codec == "h264"


def test_baseline_copy_decodes_from_its_first_segment(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    result = jobs.run_job(job(clips["baseline"], H1), tmp_path, OPTS, 120)
    assert result.hls is not None and result.mode == "copy", result.hls
    back = read_back(layout.hash_dir(tmp_path, H1))
    assert len(back.segments) >= 2 and back.decode_errors == []
    for name in back.segments:  # each segment alone: SPS/PPS in every one
        assert decode_errors(layout.hash_dir(tmp_path, H1) / name) == [], name


def test_without_the_bitstream_filter_the_copy_is_caught_and_re_encoded(
    clips: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fixture does reproduce the defect, and verification catches it before publishing."""
    monkeypatch.setattr(ffmpeg, "COPY_BSF", {"h264": []})
    out = tmp_path / "raw"
    out.mkdir()
    plan = TranscodePlan(copy_video=True, audio="copy")
    subprocess.run(ffmpeg.hls_argv(clips["baseline"], out, plan, OPTS), check=True, timeout=60)
    errors = decode_errors(out / "seg_00000.ts")
    assert errors and "non-existing SPS 0 referenced in buffering period" in errors[0]
    result = jobs.run_job(job(clips["baseline"], H2), tmp_path / "v", OPTS, 120)
    assert result.hls is not None and result.hls.status == "done"
    assert result.mode == "transcode"
    assert decode_errors(layout.hash_dir(tmp_path / "v", H2) / "seg_00000.ts") == []


def test_a_sentinel_only_after_the_re_encode_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tries: list[str] = []

    def fake_run(
        src: Path,
        staging: Path,
        video_root: Path,
        plan: TranscodePlan,
        options: HlsOptions,
        timeout: float,
        control: object,
        *rest: object,
    ) -> object:
        tries.append(plan.mode)
        raise generator.Unsupported(f"{plan.mode} failed")

    monkeypatch.setattr(generator, "_run_into", fake_run)
    copy = TranscodePlan(copy_video=True, audio="none")
    fallback = TranscodePlan(copy_video=False, audio="none")
    src = tmp_path / "clip.avi"
    src.write_bytes(b"x")
    with pytest.raises(generator.Unsupported) as caught:
        generator.make_hls(src, tmp_path / "v", H1, copy, OPTS, 10, fallback=fallback)
    assert tries == ["copy", "transcode"]  # no third try: the copy's fixes are in its argv
    assert caught.value.reason == "transcode failed (after: copy: copy failed)"
    assert temp_entries(tmp_path / "v") == []


def test_a_preview_without_a_video_stream_is_a_failure(tmp_path: Path) -> None:
    audio_only = tmp_path / "audio.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=1",
            "-c:a",
            "aac",
            str(audio_only),
        ],
        check=True,
        timeout=60,
    )
    assert generator.video_packets(audio_only, 30, None) == 0
    clip = make_video(tmp_path / "clip.mp4", seconds=1, audio=False)
    assert generator.video_packets(clip, 30, None) == 25


def test_a_preview_is_done_only_when_its_video_decodes(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "clip.mp4", seconds=2, audio=False)
    generator.verify_preview(clip, 30, None)  # a clean clip passes
    audio_only = tmp_path / "audio.mp4"
    subprocess.run(
        [*SINE_AAC, str(audio_only)],
        check=True,
        timeout=60,
    )
    with pytest.raises(generator.Unsupported, match="without a video stream"):
        generator.verify_preview(audio_only, 30, None)
    damaged = tmp_path / "damaged.mp4"
    data = bytearray(clip.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4000] = b"\x5a" * 4000  # frames there, their NAL units garbage
    damaged.write_bytes(bytes(data))
    assert generator.video_packets(damaged, 30, None) > 0
    with pytest.raises(generator.Unsupported, match="does not decode cleanly"):
        generator.verify_preview(damaged, 30, None)


def test_a_preview_without_video_is_not_published_and_the_job_says_failed(
    clips: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What an FLV source once gave: ffmpeg exits 0 with an MP4 that holds no video."""

    def no_video_argv(src: Path, out: Path, *args: object, **kwargs: object) -> list[str]:
        return [*SINE_AAC, "-y", "-f", "mp4", str(out)]

    monkeypatch.setattr(generator, "preview_argv", no_video_argv)
    result = jobs.run_job(job(clips["baseline"], H1), tmp_path, OPTS, 120)
    assert result.hls is not None and result.hls.status == "done"
    assert result.preview is not None and result.preview.status == "failed"
    assert "without a video stream" in (result.preview.detail or "")
    assert not layout.preview_path(tmp_path, H1).exists()
    assert (layout.hash_dir(tmp_path, H1) / layout.PLAYLIST).is_file()
