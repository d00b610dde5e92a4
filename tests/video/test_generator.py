"""The generator with real ffmpeg: complete output or none, and failures classified right."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from imageserver.video import generator, jobs, layout, ownership, runner
from imageserver.video.plan import HlsOptions
from tests.fixtures import make_video
from tests.video.helpers import make_rotated, read_back, read_only_dir, temp_entries, tmpfs

OPTS = HlsOptions(preset="ultrafast", segment_seconds=2)
H1, H2, H3 = ("a1" + "0" * 62), ("b2" + "0" * 62), ("c3" + "0" * 62)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("sources")
    return {
        "h264": make_video(d / "h264.mp4", seconds=5),
        "rotated": make_rotated(d / "rotated.mp4", 90, seconds=1, size="320x240"),
        "mpeg4_silent": make_video(d / "m4.avi", seconds=2, codec="mpeg4", audio=False),
        "short": make_video(d / "short.mp4", seconds=0.2),
        "long": make_video(d / "long.mkv", seconds=30, size="1280x720", codec="mpeg4", audio=False),
    }


def job(src: Path, digest: str, hls: bool = True, preview: bool = True) -> jobs.Job:
    return jobs.Job(digest, src, "lib", src.name, hls, preview)


def test_h264_is_copied_into_a_complete_playlist(sources: dict[str, Path], tmp_path: Path) -> None:
    result = jobs.run_job(job(sources["h264"], H1), tmp_path, OPTS, 120)
    assert result.hls is not None and result.hls.status == "done" and result.mode == "copy"
    assert result.preview is not None and result.preview.status == "done"
    folder = layout.hash_dir(tmp_path, H1)
    back = read_back(folder)
    assert back.decode_errors == []
    assert abs(back.duration - 5.0) < 0.5
    assert back.video_codec == "h264" and back.audio_codec == "aac"
    assert (folder / layout.PREVIEW).stat().st_size > 0
    assert temp_entries(tmp_path) == []
    assert not (folder / layout.SENTINEL).exists()


def test_rotated_source_comes_out_upright(sources: dict[str, Path], tmp_path: Path) -> None:
    result = jobs.run_job(job(sources["rotated"], H1), tmp_path, OPTS, 120)
    assert result.mode == "transcode" and result.hls is not None
    assert result.hls.status == "done"
    back = read_back(layout.hash_dir(tmp_path, H1))
    assert (back.width, back.height) == (240, 320) and back.rotation == 0
    assert back.decode_errors == []


def test_audio_less_mpeg4_and_very_short_clips(sources: dict[str, Path], tmp_path: Path) -> None:
    silent = jobs.run_job(job(sources["mpeg4_silent"], H1), tmp_path, OPTS, 120)
    assert silent.mode == "transcode" and silent.hls == jobs.Outcome.done("transcode")
    back = read_back(layout.hash_dir(tmp_path, H1))
    assert back.audio_codec is None and back.video_codec == "h264"
    assert abs(back.duration - 2.0) < 0.5
    short = jobs.run_job(job(sources["short"], H2), tmp_path, OPTS, 120)
    assert short.hls is not None and short.hls.status == "done"
    assert read_back(layout.hash_dir(tmp_path, H2)).duration < 0.7


def test_undecodable_source_gets_a_sentinel_with_the_reason(tmp_path: Path) -> None:
    src = tmp_path / "garbage.mp4"
    src.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
    video_root = tmp_path / "video"
    result = jobs.run_job(job(src, H1), video_root, OPTS, 60)
    assert result.hls is not None and result.hls.status == "failed"
    assert result.preview is not None and result.preview.status == "failed"
    assert result.sentinel_written
    sentinel = layout.sentinel_path(video_root, H1)
    assert sentinel.read_text().splitlines()[0] == result.hls.detail
    assert "ffprobe" in (result.hls.detail or "")
    assert not layout.playlist_path(video_root, H1).exists()
    assert temp_entries(video_root) == []


def test_missing_source_is_transient_not_a_sentinel(tmp_path: Path) -> None:
    result = jobs.run_job(job(tmp_path / "unmounted.mp4", H1), tmp_path / "video", OPTS, 60)
    assert result.hls is not None and result.hls.status == "retry"
    assert "source not readable" in (result.hls.detail or "")
    assert not layout.hash_dir(tmp_path / "video", H1).exists()


def test_killed_ffmpeg_leaves_no_partial_folder_and_is_retried(
    sources: dict[str, Path], tmp_path: Path
) -> None:
    control = runner.RunControl()
    killed: list[int] = []

    def kill_when_segments_appear() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            partial = [p for t in temp_entries(tmp_path) for p in t.glob("seg_*.ts")]
            if partial and control.pids:
                for pid in list(control.pids):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=kill_when_segments_appear)
    watcher.start()
    slow = HlsOptions(preset="medium", segment_seconds=1)
    result = jobs.run_job(job(sources["long"], H1), tmp_path, slow, 120, control)
    watcher.join()
    assert killed, "ffmpeg finished before it could be killed"
    assert result.hls is not None and result.hls.status == "retry"
    assert "SIGKILL" in (result.hls.detail or "")
    assert not layout.hash_dir(tmp_path, H1).exists()  # nothing half-written is visible
    assert temp_entries(tmp_path) == []  # and the partial output is gone
    assert not result.sentinel_written


def test_timeout_is_transient(sources: dict[str, Path], tmp_path: Path) -> None:
    result = jobs.run_job(job(sources["long"], H1), tmp_path, OPTS, 0.3)
    assert result.hls is not None and result.hls.status == "retry"
    assert "timed out" in (result.hls.detail or "")
    assert temp_entries(tmp_path) == [] and not layout.hash_dir(tmp_path, H1).exists()


def test_read_only_video_path_is_transient_and_writes_no_sentinel(
    sources: dict[str, Path], tmp_path: Path
) -> None:
    video_root = tmp_path / "ro-video"
    with read_only_dir(video_root):
        result = jobs.run_job(job(sources["h264"], H1), video_root, OPTS, 60)
        assert result.hls is not None and result.hls.status == "retry"
        assert "not writable" in (result.hls.detail or "")
        assert not result.sentinel_written
        assert list(video_root.iterdir()) == []


def test_full_disk_is_transient_and_leaves_nothing(
    sources: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video_root = tmp_path / "small-video"
    with tmpfs(video_root, "size=200k"):
        # the cheap pre-check: less than MIN_FREE_BYTES free
        result = jobs.run_job(job(sources["long"], H1), video_root, OPTS, 60)
        assert result.hls is not None and result.hls.status == "retry"
        assert "full" in (result.hls.detail or "")
        # ffmpeg itself hitting ENOSPC mid-run: its HLS muxer still exits 0, with an empty
        # playlist, which must not be mistaken for an undecodable source
        monkeypatch.setattr(generator, "MIN_FREE_BYTES", 0)
        result = jobs.run_job(job(sources["long"], H1), video_root, OPTS, 60)
        assert result.hls is not None and result.hls.status == "retry", result.hls
        assert "full" in (result.hls.detail or "")
        assert not result.sentinel_written
        assert not layout.hash_dir(video_root, H1).exists()
        assert temp_entries(video_root) == []


def test_regeneration_replaces_the_old_folder(sources: dict[str, Path], tmp_path: Path) -> None:
    folder = layout.hash_dir(tmp_path, H1)
    folder.mkdir(parents=True)
    (folder / layout.SENTINEL).write_text("old verdict\n")
    (folder / "seg_99999.ts").write_bytes(b"old")
    result = jobs.run_job(job(sources["h264"], H1), tmp_path, OPTS, 120)
    assert result.hls is not None and result.hls.status == "done"
    assert not (folder / layout.SENTINEL).exists() and not (folder / "seg_99999.ts").exists()
    assert (folder / layout.PLAYLIST).is_file()
    assert temp_entries(tmp_path) == []


def test_preview_only_job_adds_the_clip(sources: dict[str, Path], tmp_path: Path) -> None:
    jobs.run_job(job(sources["h264"], H1, preview=False), tmp_path, OPTS, 120)
    preview = layout.preview_path(tmp_path, H1)
    assert not preview.exists()
    result = jobs.run_job(job(sources["h264"], H1, hls=False), tmp_path, OPTS, 120)
    assert result.hls is None and result.preview == jobs.Outcome.done()
    assert preview.stat().st_size > 0 and temp_entries(tmp_path) == []


def test_classify_blames_the_machine_before_the_source(tmp_path: Path) -> None:
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"x")

    def failed(stderr: str) -> generator.GenerationError:
        return generator.classify(runner.FfmpegFailed(1, stderr), src, tmp_path)

    assert isinstance(failed("[mov @ 0x55] moov atom not found\n"), generator.Unsupported)
    assert failed("[mov @ 0x55] moov atom not found").reason.endswith("moov atom not found")
    for text in (
        "av_interleaved_write_frame(): No space left on device",
        "Error opening output: Read-only file system",
        "Exiting normally, received signal 15.",
    ):
        assert isinstance(failed(text), generator.Transient)
    tooling = failed("[AVFilterGraph @ 0x1] No such filter: 'zscale'")
    assert isinstance(tooling, generator.Transient) and tooling.give_up_after == 3
    src.unlink()  # the source vanished mid-run (unmounted): never the source's fault
    assert isinstance(failed("Invalid data found when processing input"), generator.Transient)


def test_clean_leftovers_removes_only_dead_generations(tmp_path: Path) -> None:
    shard = tmp_path / "a1"
    shard.mkdir()
    unmarked = shard / f".tmp-{H1}-{generator.HOST}-999999999-abcd"
    unmarked.mkdir()
    assert generator.clean_leftovers(tmp_path, time.time(), max_age=3600) == 0  # no marker
    assert unmarked.is_dir()
    unmarked.rmdir()
    ownership.claim(tmp_path)
    host = generator.HOST
    dead = shard / f".tmp-{H1}-{host}-999999999-abcd"
    mine = shard / f".tmp-{H1}-{host}-{os.getpid()}-abcd"  # an earlier life of this pid
    alive = shard / f".tmp-{H1}-{host}-1-abcd"  # pid 1 is running
    foreign_new = shard / f".tmp-{H1}-otherbox-42-abcd"
    foreign_old = shard / f".tmp-{H1}-otherbox-43-abcd"
    stray_file = shard / f".tmp-{H1}-{host}-999999999-abcd.mp4"
    operator = shard / "notes"
    operator_temp = shard / ".tmp-mine"  # a dot-folder of the operator's, however old
    for folder in (dead, mine, alive, foreign_new, foreign_old, operator, operator_temp):
        folder.mkdir()
    stray_file.write_bytes(b"partial")
    os.utime(foreign_old, (time.time() - 7200, time.time() - 7200))
    os.utime(operator_temp, (time.time() - 7200, time.time() - 7200))
    removed = generator.clean_leftovers(tmp_path, time.time(), max_age=3600)
    assert removed == 4
    assert sorted(p.name for p in shard.iterdir()) == sorted(
        [alive.name, foreign_new.name, operator.name, operator_temp.name]
    )


def test_parse_temp_name() -> None:
    assert generator.parse_temp_name(generator.temp_name(H1)) == (generator.HOST, os.getpid())
    assert generator.parse_temp_name(generator.temp_name(H1, ".mp4")) == (
        generator.HOST,
        os.getpid(),
    )
    assert generator.parse_temp_name(".tmp-nothash-host-1-x") is None
    assert generator.parse_temp_name("notes") is None
