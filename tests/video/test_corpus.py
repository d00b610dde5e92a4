"""Every corpus video through the real generator with the default settings, read back.

Each playlist made is probed and decoded to the end (zero decoder errors), its duration is
within 0.5 s of the source, rotated sources come out in their displayed orientation, HDR
sources come out tagged BT.709. Every video in corpus/broken ends in a sentinel, a retry or
a complete playlist: never a crash, never a half-written folder. The generation runs once
for the module (two at a time); the checks are one test per file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from imageserver.config import Settings
from imageserver.media.formats import classify
from imageserver.media.probe import VideoInfo, probe
from imageserver.video import jobs, layout
from imageserver.video.plan import HlsOptions
from tests.conftest import CORPUS, require_corpus
from tests.video.helpers import Readback, read_back, temp_entries

pytestmark = [pytest.mark.corpus, pytest.mark.slow]


def corpus_files(folder: str) -> list[str]:
    if not (CORPUS / folder).is_dir():
        return []
    names = []
    for path in sorted((CORPUS / folder).iterdir()):
        found = classify(path)
        if found is not None and found.format.is_video:
            names.append(path.name)
    return names


VIDEOS = corpus_files("videos")
BROKEN = corpus_files("broken")

# Plans that matter, stated by hand (the rest follow the same rule).
EXPECTED_MODE = {
    "dolbyVision-hdr.MOV": "tonemap",  # HLG base layer of iPhone Dolby Vision, rotated
    "hdr10-video-with-sdr-container.mp4": "tonemap",  # PQ
    "sample_edit_list.mp4": "tonemap",  # HLG, rotated, VFR
    "portrait_4k60.mp4": "transcode",  # H.264 but rotated: TS cannot carry the matrix
    "pixel7_videoOnly_cleaned.mp4": "transcode",  # H.264 rotated 180, no audio
    "with-gps.mov": "transcode",  # H.264 rotated -90
    "long_1080p_lowbitrate.mp4": "copy",
    "FLIR_Thermal.mp4": "copy",  # strongly VFR H.264 + AAC
    "sample.mkv": "copy",  # H.264 copied, AC-3 encoded to AAC
    "Sony_ILCE-7M3.mts": "transcode",  # H.264 50i: deinterlaced
    "MVI_4823.AVI": "transcode",  # MJPEG + PCM
    "bbb_642x642_768kbps_30fps_vp9.webm": "transcode",
}


@dataclass
class Case:
    source: VideoInfo | None
    result: jobs.JobResult
    back: Readback | None
    output_streams: list[dict[str, object]]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def video_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus-video")


def generate(src: Path, video_root: Path) -> Case:
    # The ladder's rungs are tested in test_ladder.py; here the main rendition of each
    # file, so the slow corpus run stays at one encode per video.
    defaults = HlsOptions.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    options = dataclasses.replace(defaults, ladder=())
    digest = sha(src)
    result = jobs.run_job(jobs.Job(digest, src, "corpus", src.name), video_root, options, 600)
    try:
        source: VideoInfo | None = probe(src)
    except Exception:
        source = None
    folder = layout.hash_dir(video_root, digest)
    back, streams = None, []
    if (folder / layout.PLAYLIST).exists():
        back = read_back(folder)
        out = subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-print_format",
                "json",
                "-show_streams",
                str(folder / layout.PLAYLIST),
            ],
            capture_output=True,
            check=True,
        )
        streams = json.loads(out.stdout)["streams"]
    return Case(source, result, back, streams)


@pytest.fixture(scope="module")
def cases(video_root: Path) -> dict[str, Case]:
    require_corpus()
    files = [CORPUS / "videos" / n for n in VIDEOS] + [CORPUS / "broken" / n for n in BROKEN]
    with ThreadPoolExecutor(2) as pool:
        made = list(pool.map(lambda p: generate(p, video_root), files))
    return {f"{p.parent.name}/{p.name}": case for p, case in zip(files, made, strict=True)}


def displayed(info: VideoInfo) -> tuple[int, int]:
    assert info.width and info.height
    if round(info.rotation) % 180 == 90:
        return info.height, info.width
    return info.width, info.height


@pytest.mark.parametrize("name", VIDEOS)
def test_corpus_video_plays_to_the_end(name: str, cases: dict[str, Case], video_root: Path) -> None:
    case = cases[f"videos/{name}"]
    result = case.result
    assert result.hls is not None and result.hls.status == "done", result.hls
    if name in EXPECTED_MODE:
        assert result.mode == EXPECTED_MODE[name]
    assert case.back is not None and case.source is not None
    back, source = case.back, case.source
    assert back.decode_errors == [], back.decode_errors[:3]
    assert source.duration is not None and abs(back.duration - source.duration) <= 0.5
    assert back.video_codec == "h264"
    assert back.audio_codec == ("aac" if source.audio_codec else None)
    # upright: the output's frame has the source's displayed orientation and aspect
    want_w, want_h = displayed(source)
    assert back.rotation == 0
    assert (back.width >= back.height) == (want_w >= want_h)
    assert abs(back.width / back.height - want_w / want_h) < 0.02
    assert min(back.width, back.height) <= 1080 or result.mode == "copy"
    video = next(s for s in case.output_streams if s["codec_type"] == "video")
    if result.mode == "tonemap":
        assert video.get("color_transfer") == "bt709" and video.get("color_primaries") == "bt709"
    assert video.get("color_transfer") not in ("smpte2084", "arib-std-b67")
    # segments of about the configured length; the preview is small, muted, and plays
    text = layout.hash_dir(video_root, sha(CORPUS / "videos" / name)) / layout.PLAYLIST
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text.read_text()
    assert result.preview is not None and result.preview.status == "done"
    preview = read_preview(video_root, sha(CORPUS / "videos" / name))
    assert preview["width"] <= 320 and preview["audio"] is False
    assert 0 < preview["duration"] <= 3.2


def read_preview(video_root: Path, digest: str) -> dict[str, object]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
            str(layout.preview_path(video_root, digest)),
        ],
        capture_output=True,
        check=True,
    )
    data = json.loads(out.stdout)
    video = next(s for s in data["streams"] if s["codec_type"] == "video")
    return {
        "width": int(video["width"]),
        "audio": any(s["codec_type"] == "audio" for s in data["streams"]),
        "duration": float(data["format"]["duration"]),
    }


def test_long_copy_has_segments_of_the_sources_keyframe_spacing(cases: dict[str, Case]) -> None:
    back = cases["videos/long_1080p_lowbitrate.mp4"].back
    assert back is not None and len(back.segments) > 40  # six minutes, ~8 s keyframe spacing


@pytest.mark.parametrize("name", BROKEN)
def test_broken_video_ends_in_a_verdict_never_a_half_written_folder(
    name: str, cases: dict[str, Case], video_root: Path
) -> None:
    case = cases[f"broken/{name}"]
    digest = sha(CORPUS / "broken" / name)
    folder = layout.hash_dir(video_root, digest)
    hls = case.result.hls
    assert hls is not None
    if hls.status == "failed":
        assert (
            case.result.sentinel_written and layout.read_sentinel(video_root, digest) == hls.detail
        )
        assert not (folder / layout.PLAYLIST).exists()
    elif hls.status == "retry":
        assert not folder.exists()
    else:  # ffmpeg reads it leniently: then the playlist is complete and readable
        assert hls.status == "done" and case.back is not None
        assert case.back.segments and (folder / layout.PLAYLIST).read_text().endswith(
            "#EXT-X-ENDLIST\n"
        )
    assert temp_entries(video_root) == [] or all(
        not p.name.startswith(f".tmp-{digest}") for p in temp_entries(video_root)
    )


def test_the_undecodable_bitstream_gets_the_sentinel(cases: dict[str, Case]) -> None:
    result = cases["broken/invalid-bitstream.webm"].result
    assert result.hls is not None and result.hls.status == "failed"
    assert "Invalid" in (result.hls.detail or "")
