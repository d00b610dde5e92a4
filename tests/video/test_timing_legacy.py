"""#EXTINF corrected from the TS timestamps; the one-shot legacy migration at the root."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from imageserver.video import layout, legacy, timing
from imageserver.video.ffmpeg import hls_argv
from imageserver.video.plan import HlsOptions, TranscodePlan
from tests.fixtures import make_video


def test_rewrite_playlist_replaces_extinf_in_order() -> None:
    text = (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXTINF:0.030000,\nseg_00000.ts\n#EXTINF:0.010000,\nseg_00001.ts\n#EXT-X-ENDLIST\n"
    )
    out = timing.rewrite_playlist(text, [4.5, 1.25])
    assert "#EXTINF:4.500000,\nseg_00000.ts\n#EXTINF:1.250000,\nseg_00001.ts" in out
    assert "#EXT-X-TARGETDURATION:5" in out and out.endswith("#EXT-X-ENDLIST\n")


def extinf_total(text: str) -> float:
    return sum(float(x.split(":")[1].rstrip(",")) for x in text.splitlines() if "EXTINF" in x)


def copy_to_hls(src: Path, out: Path, seconds: int, audio: str = "copy") -> str:
    out.mkdir()
    plan = TranscodePlan(copy_video=True, audio=audio)  # type: ignore[arg-type]
    subprocess.run(hls_argv(src, out, plan, HlsOptions(segment_seconds=seconds)), check=True)
    return (out / layout.PLAYLIST).read_text()


def test_correct_durations_stay_correct(tmp_path: Path) -> None:
    src = make_video(tmp_path / "clip.mkv", seconds=3, extra=["-g", "25"])
    before = copy_to_hls(src, tmp_path / "out", 1)
    assert timing.fix_durations(tmp_path / "out", layout.PLAYLIST)
    after = (tmp_path / "out" / layout.PLAYLIST).read_text()
    assert after.count("#EXTINF") == before.count("#EXTINF") == 3
    assert abs(extinf_total(after) - 3.0) < 0.2


@pytest.mark.corpus
def test_copy_from_matroska_gets_true_durations(tmp_path: Path, corpus: Path) -> None:
    """ffmpeg 5.1 counts 1 ms per frame for this Matroska file (1000 fps time base)."""
    # the plan for this file: H.264 copied, AC-3 encoded to AAC
    before = copy_to_hls(corpus / "videos" / "sample.mkv", tmp_path / "out", 4, "encode")
    assert extinf_total(before) < 0.5  # what ffmpeg wrote: 0.03 s for a 1.07 s clip
    assert timing.fix_durations(tmp_path / "out", layout.PLAYLIST)
    after = (tmp_path / "out" / layout.PLAYLIST).read_text()
    assert abs(extinf_total(after) - 1.072) < 0.1


def test_unreadable_segments_leave_the_playlist_alone(tmp_path: Path) -> None:
    text = "#EXTM3U\n#EXTINF:4.0,\nseg_00000.ts\n#EXT-X-ENDLIST\n"
    (tmp_path / layout.PLAYLIST).write_text(text)
    (tmp_path / "seg_00000.ts").write_bytes(b"not a transport stream" * 10)
    assert timing.fix_durations(tmp_path, layout.PLAYLIST) is False
    assert (tmp_path / layout.PLAYLIST).read_text() == text


# --- legacy migration ------------------------------------------------------------------------


def test_legacy_pass_counts_old_layout_files_and_deletes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "video"
    root.mkdir()
    names = ["holiday.m3u8", "holiday0.ts", "my_recording.ts", "notes.txt", "UPPER.TS"]
    for name in names:
        (root / name).write_text("x")
    (root / "folder.ts").mkdir()  # a folder named like a segment: not counted
    with caplog.at_level("INFO", logger="imageserver.video"):
        assert legacy.report_legacy(root) == 3
    assert "event=legacy_files_kept count=3" in caplog.text
    assert sorted(os.listdir(root)) == sorted([*names, "folder.ts"])
    assert legacy.report_legacy(tmp_path / "missing") == 0
