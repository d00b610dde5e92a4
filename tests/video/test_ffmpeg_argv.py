"""ffmpeg command lines are built by pure functions; these tests never run ffmpeg."""

from __future__ import annotations

from pathlib import Path

import pytest

from imageserver.video.ffmpeg import (
    copy_bsf,
    decode_check_argv,
    hls_argv,
    preview_argv,
    video_filters,
)
from imageserver.video.plan import HlsOptions, PreviewPlan, SourceInfo, TranscodePlan, plan_hls

SRC = Path("/lib/My Clips/a b.mov")
OUT = Path("/video/ab/.tmp-x")
OPTS = HlsOptions(preset="veryfast", crf=21, segment_seconds=4, audio_bitrate="128k")


def value_after(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_copy_argv() -> None:
    argv = hls_argv(SRC, OUT, TranscodePlan(copy_video=True, audio="copy"), OPTS)
    assert argv[0] == "ffmpeg" and "-nostdin" in argv
    assert value_after(argv, "-i") == str(SRC)  # one argument, spaces and all: no shell
    assert value_after(argv, "-c:v") == "copy" and value_after(argv, "-c:a") == "copy"
    assert "-vf" not in argv and "libx264" not in argv
    assert argv.count("-map") == 2 and "0:V:0" in argv and "0:a:0" in argv
    assert value_after(argv, "-f") == "hls"
    assert value_after(argv, "-hls_time") == "4"
    assert value_after(argv, "-hls_playlist_type") == "vod"
    assert value_after(argv, "-hls_segment_type") == "mpegts"
    assert value_after(argv, "-hls_segment_filename") == str(OUT / "seg_%05d.ts")
    assert argv[-1] == str(OUT / "playlist.m3u8")


def test_transcode_argv_without_audio() -> None:
    plan = TranscodePlan(copy_video=False, audio="none", size=(1280, 720), reasons=("hevc",))
    argv = hls_argv(SRC, OUT, plan, OPTS)
    assert value_after(argv, "-c:v") == "libx264"
    assert value_after(argv, "-preset") == "veryfast" and value_after(argv, "-crf") == "21"
    assert value_after(argv, "-fps_mode") == "passthrough"  # VFR keeps its timestamps
    assert value_after(argv, "-force_key_frames") == "expr:gte(t,n_forced*4)"
    assert "-an" in argv and "0:a:0" not in argv
    assert value_after(argv, "-vf") == "scale=1280:720,format=yuv420p"
    assert "-color_trc" not in argv


def test_audio_encode_args() -> None:
    argv = hls_argv(SRC, OUT, TranscodePlan(copy_video=True, audio="encode"), OPTS)
    assert value_after(argv, "-c:v") == "copy"
    assert value_after(argv, "-c:a") == "aac" and value_after(argv, "-b:a") == "128k"
    assert value_after(argv, "-ac") == "2"


def test_tonemap_chain_and_bt709_tags() -> None:
    plan = TranscodePlan(copy_video=False, audio="copy", tonemap="pq", size=(1920, 1080))
    argv = hls_argv(SRC, OUT, plan, OPTS)
    chain = value_after(argv, "-vf").split(",")
    assert chain[0] == "scale=1920:1080"  # scale first: tone-mapping fewer pixels
    assert chain[1].startswith("zscale=tin=smpte2084:") and "t=linear" in chain[1]
    assert "tonemap=tonemap=hable:desat=0" in chain
    assert chain[-2] == "zscale=t=bt709:m=bt709:r=tv" and chain[-1] == "format=yuv420p"
    for flag in ("-color_primaries", "-color_trc", "-colorspace"):
        assert value_after(argv, flag) == "bt709"
    hlg = TranscodePlan(copy_video=False, audio="none", tonemap="hlg")
    assert "tin=arib-std-b67" in video_filters(hlg)


def test_unknown_size_is_made_even_and_deinterlace_comes_first() -> None:
    plan = TranscodePlan(copy_video=False, audio="none", deinterlace=True)
    chain = video_filters(plan).split(",")
    assert chain[0].startswith("yadif")
    assert chain[1] == "scale=trunc(iw/2)*2:trunc(ih/2)*2"


def test_preview_argv() -> None:
    out = Path("/video/ab/hash/preview.mp4")
    argv = preview_argv(SRC, out, PreviewPlan(12.5, 3.0, None, False), OPTS)
    assert argv.index("-ss") < argv.index("-i")  # fast input seek
    assert value_after(argv, "-ss") == "12.500" and value_after(argv, "-t") == "3.000"
    assert "-an" in argv and value_after(argv, "-map") == "0:V:0"
    assert value_after(argv, "-vf") == "scale=w=trunc(min(320\\,iw)/2)*2:h=-2,format=yuv420p"
    assert value_after(argv, "-movflags") == "+faststart" and value_after(argv, "-f") == "mp4"
    assert value_after(argv, "-enc_time_base") == "1/90000"  # VFR: no shared timestamps
    assert argv[-1] == str(out)


def test_preview_of_a_short_hdr_clip() -> None:
    argv = preview_argv(SRC, OUT / "p.mp4", PreviewPlan(0.0, 3.0, "hlg", False), OPTS)
    assert "-ss" not in argv
    assert "tonemap=tonemap=hable:desat=0" in value_after(argv, "-vf")
    assert value_after(argv, "-color_trc") == "bt709"


def test_copies_carry_parameter_sets_and_generate_timestamps_in_one_argv() -> None:
    copy = TranscodePlan(copy_video=True, audio="copy")
    argv = hls_argv(SRC, OUT, copy, OPTS)
    assert value_after(argv, "-bsf:v") == "h264_mp4toannexb,dump_extra=freq=keyframe"
    # AVI's missing pts are generated in the same (only) copy command, before the input
    assert argv.index("-fflags") < argv.index("-i") and value_after(argv, "-fflags") == "+genpts"
    encode = hls_argv(SRC, OUT, TranscodePlan(copy_video=False, audio="none"), OPTS)
    assert "-bsf:v" not in encode  # libx264 output is Annex B with in-band headers already
    assert "-fflags" not in encode  # a decode re-times its frames; nothing to generate


def test_the_bitstream_filter_follows_the_copied_codec() -> None:
    assert copy_bsf("h264") == ["-bsf:v", "h264_mp4toannexb,dump_extra=freq=keyframe"]
    assert copy_bsf("hevc") == ["-bsf:v", "hevc_mp4toannexb,dump_extra=freq=keyframe"]
    hevc = TranscodePlan(copy_video=True, audio="none", copy_codec="hevc")
    assert value_after(hls_argv(SRC, OUT, hevc, OPTS), "-bsf:v").startswith("hevc_mp4toannexb,")
    with pytest.raises(ValueError, match="vp9"):
        copy_bsf("vp9")


def test_the_copy_plan_names_its_codec() -> None:
    info = SourceInfo(video_codec="h264", pix_fmt="yuv420p", width=320, height=240)
    plan = plan_hls(info, OPTS)
    assert plan.copy_video and plan.copy_codec == "h264"


def test_decode_check_argv() -> None:
    argv = decode_check_argv(OUT / "seg_00000.ts")
    assert value_after(argv, "-v") == "error" and value_after(argv, "-i") == str(
        OUT / "seg_00000.ts"
    )
    assert argv[-3:] == ["-f", "null", "-"]


def test_rung_argv_has_its_own_names_a_fast_preset_and_a_peak_cap() -> None:
    plan = TranscodePlan(copy_video=False, audio="copy", size=(640, 360))
    argv = hls_argv(SRC, OUT, plan, HlsOptions(preset="medium"), rung=360)
    assert value_after(argv, "-preset") == "superfast"
    assert value_after(argv, "-maxrate") == "800k" and value_after(argv, "-bufsize") == "1600k"
    assert value_after(argv, "-hls_segment_filename") == str(OUT / "v360_%05d.ts")
    assert argv[-1] == str(OUT / "v360.m3u8")
    fastest = hls_argv(SRC, OUT, plan, HlsOptions(preset="ultrafast"), rung=360)
    assert value_after(fastest, "-preset") == "ultrafast"  # never slower than configured
