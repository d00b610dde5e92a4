"""Hardware encoders (IMAGESERVER_HLS_ACCEL): pure argv pieces, `auto` detection with a fake
ffmpeg, and the fallback to libx264 with the real one. There is no GPU in CI, so the
fallback is what the end-to-end tests prove (the VAAPI device is pointed at a path that
cannot exist, so they hold on a machine with a GPU too)."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select

from imageserver.config import Settings
from imageserver.db.tables import media
from imageserver.scan.watcher import Watcher
from imageserver.telemetry.metrics import REGISTRY
from imageserver.video import accel, generator, jobs, layout
from imageserver.video.ffmpeg import hls_argv
from imageserver.video.plan import HlsOptions, TranscodePlan
from imageserver.work.context import AppContext
from tests.fixtures import make_video
from tests.scan.test_watcher import add_library
from tests.video.helpers import read_back

SRC = Path("/lib/a b.mov")
OUT = Path("/video/ab/.tmp-x")
OPTS = HlsOptions(preset="veryfast", crf=21, segment_seconds=4)
ENCODE = TranscodePlan(copy_video=False, audio="copy", size=(1280, 720))
NO_DEVICE = "/nonexistent/dri/renderD128"


def value_after(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def fallbacks(encoder: str) -> float:
    value = REGISTRY.get_sample_value("imageserver_hls_accel_fallbacks_total", {"encoder": encoder})
    return value or 0.0


# --- pure argv ----------------------------------------------------------------------------


def test_vaapi_argv_uploads_the_software_filtered_frames() -> None:
    argv = hls_argv(SRC, OUT, ENCODE, OPTS, accel="vaapi")
    assert argv.index("-vaapi_device") < argv.index("-i")
    assert value_after(argv, "-vaapi_device") == accel.VAAPI_DEVICE
    assert value_after(argv, "-vf") == "scale=1280:720,format=yuv420p,format=nv12,hwupload"
    assert value_after(argv, "-c:v") == "h264_vaapi"
    assert value_after(argv, "-rc_mode") == "CQP" and value_after(argv, "-qp") == "21"
    assert "libx264" not in argv and "-crf" not in argv and "-preset" not in argv
    # the segment boundaries and the 90 kHz clock hold for every encoder
    assert value_after(argv, "-force_key_frames") == "expr:gte(t,n_forced*4)"
    assert value_after(argv, "-enc_time_base") == "1/90000"


def test_nvenc_argv() -> None:
    argv = hls_argv(SRC, OUT, ENCODE, OPTS, accel="nvenc")
    assert value_after(argv, "-c:v") == "h264_nvenc"
    assert value_after(argv, "-vf") == "scale=1280:720,format=yuv420p"
    assert value_after(argv, "-rc") == "vbr" and value_after(argv, "-cq") == "21"
    assert value_after(argv, "-b:v") == "0" and value_after(argv, "-forced-idr") == "1"
    assert value_after(argv, "-preset") == "p4" and "-vaapi_device" not in argv


def test_qsv_argv() -> None:
    argv = hls_argv(SRC, OUT, ENCODE, OPTS, accel="qsv")
    assert value_after(argv, "-c:v") == "h264_qsv"
    assert value_after(argv, "-vf").endswith(",format=yuv420p,format=nv12")
    assert value_after(argv, "-global_quality") == "21"
    assert value_after(argv, "-forced_idr") == "1"


def test_without_accel_libx264_and_copies_never_use_hardware() -> None:
    argv = hls_argv(SRC, OUT, ENCODE, OPTS)
    assert value_after(argv, "-c:v") == "libx264" and value_after(argv, "-crf") == "21"
    copy = hls_argv(SRC, OUT, TranscodePlan(copy_video=True, audio="copy"), OPTS, accel="vaapi")
    assert value_after(copy, "-c:v") == "copy" and "-vaapi_device" not in copy


def test_a_hardware_rung_keeps_its_names_and_peak_cap() -> None:
    plan = TranscodePlan(copy_video=False, audio="copy", size=(640, 360))
    argv = hls_argv(SRC, OUT, plan, OPTS, rung=360, accel="nvenc")
    assert value_after(argv, "-c:v") == "h264_nvenc"
    assert value_after(argv, "-maxrate") == "800k" and argv[-1] == str(OUT / "v360.m3u8")


def test_trial_argv_is_one_second_to_nothing() -> None:
    argv = accel.trial_argv("vaapi")
    assert "testsrc2=size=256x144:rate=25:duration=1" in argv
    assert value_after(argv, "-c:v") == "h264_vaapi" and argv[-3:] == ["-f", "null", "-"]


# --- detection ------------------------------------------------------------------------------

ENCODERS_TEXT = """Encoders:
 V..... = Video
 A..... = Audio
 ------
 V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC (codec h264)
 V....D h264_nvenc           NVIDIA NVENC H.264 encoder (codec h264)
 V....D h264_vaapi           H.264/AVC (VAAPI) (codec h264)
 A....D aac                  AAC (Advanced Audio Coding)
"""


def test_listed_encoders_reads_names_only() -> None:
    assert accel.listed_encoders(ENCODERS_TEXT) == {"libx264", "h264_nvenc", "h264_vaapi", "aac"}


def fake(works: set[str], listed: str = ENCODERS_TEXT) -> tuple[accel.Runner, list[str]]:
    calls: list[str] = []

    def run(argv: list[str]) -> tuple[int, str]:
        if "-encoders" in argv:
            calls.append("list")
            return 0, listed
        encoder = value_after(argv, "-c:v")
        calls.append(encoder)
        return (0, "") if encoder in works else (1, f"[{encoder}] No device available\n")

    return run, calls


def test_auto_takes_the_first_listed_encoder_whose_trial_passes() -> None:
    run, calls = fake({"h264_vaapi"})
    assert accel.detect(run) == "vaapi"
    assert calls == ["list", "h264_nvenc", "h264_vaapi"]  # qsv is not listed: never tried


def test_auto_finds_nothing_when_every_trial_fails(caplog: pytest.LogCaptureFixture) -> None:
    run, _ = fake(set())
    with caplog.at_level(logging.INFO, "imageserver.video"):
        assert accel.detect(run) is None
    assert "event=video_accel_unusable encoder=h264_nvenc" in caplog.text
    assert "No device available" in caplog.text
    failing: accel.Runner = lambda argv: (1, "ffmpeg: not found")  # noqa: E731
    assert accel.detect(failing) is None


def test_resolve_probes_auto_once_and_trusts_an_explicit_choice() -> None:
    accel.forget()
    run, calls = fake({"h264_nvenc"})
    try:
        assert accel.resolve("auto", run) == "nvenc"
        assert accel.resolve("auto", run) == "nvenc"
        assert calls == ["list", "h264_nvenc"]  # cached for the process
    finally:
        accel.forget()
    assert accel.resolve("none") is None and accel.resolve("qsv") == "qsv"
    with pytest.raises(ValueError, match="cuda"):
        accel.resolve("cuda")
    with pytest.raises(ValidationError):
        Settings(_env_file=None, hls_accel="cuda")  # type: ignore[call-arg, arg-type]
    assert Settings(_env_file=None).hls_accel == "none"  # type: ignore[call-arg]


# --- the fallback, with the real ffmpeg -----------------------------------------------------


@pytest.fixture(scope="module")
def vga(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MPEG-4 Part 2: always re-encoded, so the hardware encoder is asked for."""
    d = tmp_path_factory.mktemp("accel")
    return make_video(d / "vga.avi", seconds=1, size="640x480", codec="mpeg4")


def test_a_failed_hardware_encode_is_redone_with_libx264_for_the_whole_video(
    vga: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(accel, "VAAPI_DEVICE", NO_DEVICE)
    before = fallbacks("h264_vaapi")
    options = HlsOptions(preset="ultrafast", segment_seconds=1, ladder=(240,), accel="vaapi")
    digest = "a1" + "0" * 62
    with caplog.at_level(logging.INFO, "imageserver.video"):
        result = jobs.run_job(jobs.Job(digest, vga, "lib", vga.name), tmp_path, options, 120)
    assert result.hls is not None and result.hls.status == "done", result.hls
    assert result.mode == "transcode" and not result.sentinel_written
    folder = layout.hash_dir(tmp_path, digest)
    back = read_back(folder)
    assert back.decode_errors == [] and back.video_codec == "h264"
    assert (folder / layout.MASTER).is_file() and (folder / "v240.m3u8").is_file()
    # one fallback for the video: the rung was made with libx264 straight away
    assert fallbacks("h264_vaapi") == before + 1
    assert caplog.text.count("event=video_accel_fallback encoder=h264_vaapi") == 1


def test_the_made_counts_its_fallback(
    vga: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accel, "VAAPI_DEVICE", NO_DEVICE)
    plan = TranscodePlan(copy_video=False, audio="none")
    options = HlsOptions(preset="ultrafast", segment_seconds=1, accel="vaapi")
    made = generator.make_hls(vga, tmp_path, "b2" + "0" * 62, plan, options, 120)
    assert made.accel_fallbacks == 1 and made.mode == "transcode"
    plain = generator.make_hls(vga, tmp_path, "c3" + "0" * 62, plan, HlsOptions(), 120)
    assert plain.accel_fallbacks == 0


def test_the_setting_reaches_the_jobs_and_the_video_plays(
    client: TestClient,
    auth: dict[str, str],
    ctx: AppContext,
    tmp_path: Path,
    vga: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(accel, "VAAPI_DEVICE", NO_DEVICE)
    root = tmp_path / "lib"
    root.mkdir()
    (root / "clip.avi").write_bytes(vga.read_bytes())
    add_library(client, auth, root)
    ctx.settings.hls_accel = "vaapi"
    ctx.settings.hls_ladder = ""
    before = fallbacks("h264_vaapi")
    Watcher(ctx).tick(full=True)
    with ctx.engine.connect() as conn:
        media_id = conn.execute(select(media.c.id)).scalar_one()
    info = client.get(f"/video/{media_id}", headers=auth).json()
    assert info["status"] == "ready", info
    assert fallbacks("h264_vaapi") == before + 1
    served = client.get(info["playlist_url"])
    segment = next(x for x in served.text.splitlines() if x and not x.startswith("#"))
    (tmp_path / "seg.ts").write_bytes(client.get(segment).content)
    decoded = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(tmp_path / "seg.ts"), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert decoded.returncode == 0 and decoded.stderr == ""
