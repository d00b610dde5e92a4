"""ffmpeg command lines, built by pure functions from a plan (tested without running ffmpeg).

Choices that hold for every command:
- only the first video stream that is not cover art (`0:V:0`) and the first audio stream
  are mapped: data tracks (phone metadata, timecode) and subtitles would break the muxer;
- re-encodes keep source timestamps (`-fps_mode passthrough`): variable-frame-rate phone
  and thermal-camera clips stay in sync instead of being padded to a constant rate;
- ffmpeg's autorotate stays on, so re-encoded frames come out upright and the output
  carries no display matrix; the plan re-encodes every rotated source for that reason;
- segments are MPEG-TS: the one HLS segment format that hls.js, Safari, Android and
  smart TVs all play, and the one ffmpeg muxes from a stream copy without an init segment;
- a copied H.264 (or HEVC) stream carries its parameter sets in front of every keyframe
  (`copy_bsf`): the muxer's own mp4->Annex B conversion inserts them only before IDR
  slices and after any SEI, so a clip whose first keyframe is a recovery-point I frame, or
  whose keyframes start with a buffering-period SEI (HRD-signalled Constrained Baseline,
  phone slow motion), decodes with "non-existing PPS/SPS" errors. `dump_extra` puts the
  Annex B parameter sets (converted by `h264_mp4toannexb` / `hevc_mp4toannexb`, a
  pass-through for Annex B input) at the very start of each keyframe packet: a few hundred
  bytes per segment, and every segment decodes on its own;
- a stream copy always generates missing presentation timestamps (`-fflags +genpts`):
  H.264 in AVI has none, and its copy otherwise fails with "first pts and dts value must
  be set". Where the container has them (MP4, MKV, TS) the flag changes nothing. The fix
  is in the one command line, not a second try: what still does not verify (B-frames in
  AVI, whose generated pts are out of order) is re-encoded.
"""

from __future__ import annotations

from pathlib import Path

from imageserver.video import accel as hw
from imageserver.video.layout import (
    PLAYLIST,
    SEGMENT_TEMPLATE,
    rung_playlist,
    rung_segment_template,
)
from imageserver.video.plan import (
    HlsOptions,
    PreviewPlan,
    Tonemap,
    TranscodePlan,
    rung_maxrate_kbps,
    rung_preset,
)

PREVIEW_CRF = 28
COMMON = ["-nostdin", "-hide_banner", "-nostats", "-loglevel", "error", "-y"]
# Sparse or late audio otherwise aborts muxing with "Too many packets buffered".
MUXING_QUEUE = ["-max_muxing_queue_size", "4096"]
# The bitstream filters that make a copied stream's parameter sets in-band at every keyframe.
COPY_BSF: dict[str, list[str]] = {
    "h264": ["-bsf:v", "h264_mp4toannexb,dump_extra=freq=keyframe"],
    "hevc": ["-bsf:v", "hevc_mp4toannexb,dump_extra=freq=keyframe"],
}
# AVI (and some raw) H.264 has no presentation timestamps: the copy fails with "first pts
# and dts value must be set" unless ffmpeg generates them. A no-op where pts exist.
GENPTS = ["-fflags", "+genpts"]
BT709_TAGS = ["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709"]


def copy_bsf(codec: str) -> list[str]:
    """The -bsf:v arguments of a stream copy of `codec` (ValueError: not a codec we copy)."""
    try:
        return COPY_BSF[codec]
    except KeyError:
        raise ValueError(f"no stream copy of {codec!r} into MPEG-TS") from None


def tonemap_filters(kind: Tonemap) -> list[str]:
    """HDR (PQ or HLG, BT.2020) -> SDR BT.709 via linear light and Hable's curve.

    The input transfer is stated rather than read from frame tags, which some phone files
    omit on individual frames. `desat=0` keeps colours from going grey in bright areas.
    """
    transfer = "smpte2084" if kind == "pq" else "arib-std-b67"
    return [
        f"zscale=tin={transfer}:pin=bt2020:min=bt2020nc:rin=tv:t=linear:npl=100",
        "format=gbrpf32le",
        "zscale=p=bt709",
        "tonemap=tonemap=hable:desat=0",
        "zscale=t=bt709:m=bt709:r=tv",
    ]


def video_filters(plan: TranscodePlan) -> str:
    """The -vf chain of a re-encode: deinterlace, scale (even sizes), tone-map, 8-bit 4:2:0."""
    chain: list[str] = []
    if plan.deinterlace:
        chain.append("yadif=mode=send_frame:deint=interlaced")
    if plan.size is not None:
        chain.append(f"scale={plan.size[0]}:{plan.size[1]}")
    else:
        chain.append("scale=trunc(iw/2)*2:trunc(ih/2)*2")
    if plan.tonemap is not None:
        chain += tonemap_filters(plan.tonemap)
    chain.append("format=yuv420p")
    return ",".join(chain)


def audio_args(plan_audio: str, options: HlsOptions) -> list[str]:
    if plan_audio == "copy":
        return ["-c:a", "copy"]
    if plan_audio == "encode":
        return ["-c:a", "aac", "-b:a", options.audio_bitrate, "-ac", "2"]
    return ["-an"]


def hls_argv(
    src: Path,
    out_dir: Path,
    plan: TranscodePlan,
    options: HlsOptions,
    ffmpeg: str = "ffmpeg",
    rung: int | None = None,
    accel: hw.Accel | None = None,
) -> list[str]:
    """One VOD HLS rendition of `src` written into `out_dir` (playlist + TS segments).

    A stream copy generates missing timestamps and carries in-band parameter sets.
    `rung` (a height) makes a lower ladder rung instead of the main rendition: its own
    playlist and segment names, the rung preset, and a peak-rate cap (VBV). `accel` puts
    a hardware encoder in libx264's place (re-encodes only; the same filters)."""
    maps = ["-map", "0:V:0"] + (["-map", "0:a:0"] if plan.audio != "none" else [])
    if plan.copy_video:
        video = ["-c:v", "copy", *copy_bsf(plan.copy_codec)]
    else:
        seconds = options.segment_seconds
        video = [
            *encoder_args(plan, options, rung, accel),
            *(rung_rate_args(rung) if rung is not None else []),
            "-fps_mode",
            "passthrough",
            # The encoder counts in MPEG-TS's own 90 kHz clock: in the source's time base
            # (1/600 for some thermal and phone cameras) a scaled VFR re-encode decoded
            # with frames sharing a timestamp ("non monotonically increasing dts").
            "-enc_time_base",
            "1/90000",
            # A keyframe at every segment boundary, so segments are ~segment_seconds long.
            "-force_key_frames",
            f"expr:gte(t,n_forced*{seconds})",
        ]
        if plan.tonemap is not None:
            video += BT709_TAGS
    return [
        ffmpeg,
        *COMMON,
        *(GENPTS if plan.copy_video else []),
        *(hw.input_args(accel) if accel is not None and not plan.copy_video else []),
        "-i",
        str(src),
        *maps,
        *video,
        *audio_args(plan.audio, options),
        *MUXING_QUEUE,
        "-f",
        "hls",
        "-hls_time",
        str(options.segment_seconds),
        "-hls_playlist_type",
        "vod",
        "-hls_list_size",
        "0",
        "-hls_segment_type",
        "mpegts",
        "-hls_flags",
        "independent_segments",
        "-hls_segment_filename",
        str(out_dir / (SEGMENT_TEMPLATE if rung is None else rung_segment_template(rung))),
        str(out_dir / (PLAYLIST if rung is None else rung_playlist(rung))),
    ]


def encoder_args(
    plan: TranscodePlan, options: HlsOptions, rung: int | None, accel: hw.Accel | None
) -> list[str]:
    """-vf and the encoder of a re-encode: libx264 at the (rung) preset and CRF, or the
    hardware encoder at the same quality number with the frames it takes."""
    chain = video_filters(plan)
    if accel is not None:
        return ["-vf", hw.filter_chain(accel, chain), *hw.encoder_args(accel, options.crf)]
    preset = options.preset if rung is None else rung_preset(options)
    return ["-vf", chain, "-c:v", "libx264", "-preset", preset, "-crf", str(options.crf)]


def rung_rate_args(height: int) -> list[str]:
    """CRF capped at the rung's peak rate, a two-second buffer: BANDWIDTH a player can trust."""
    kbps = rung_maxrate_kbps(height)
    return ["-maxrate", f"{kbps}k", "-bufsize", f"{2 * kbps}k"]


def preview_filters(plan: PreviewPlan, width: int) -> str:
    """Scale first (cheap tone-mapping on a small frame), never enlarge, keep sizes even."""
    chain: list[str] = []
    if plan.deinterlace:
        chain.append("yadif=mode=send_frame:deint=interlaced")
    chain.append(f"scale=w=trunc(min({width}\\,iw)/2)*2:h=-2")
    if plan.tonemap is not None:
        chain += tonemap_filters(plan.tonemap)
    chain.append("format=yuv420p")
    return ",".join(chain)


def preview_argv(
    src: Path, out: Path, plan: PreviewPlan, options: HlsOptions, ffmpeg: str = "ffmpeg"
) -> list[str]:
    """A muted, small H.264 MP4 of a few seconds, playable while it downloads (faststart)."""
    seek = ["-ss", f"{plan.start:.3f}"] if plan.start > 0 else []
    tags = BT709_TAGS if plan.tonemap is not None else []
    return [
        ffmpeg,
        *COMMON,
        *seek,
        "-i",
        str(src),
        "-t",
        f"{plan.seconds:.3f}",
        "-map",
        "0:V:0",
        "-an",
        "-vf",
        preview_filters(plan, options.preview_width),
        "-c:v",
        "libx264",
        "-preset",
        options.preset,
        "-crf",
        str(PREVIEW_CRF),
        "-fps_mode",
        "passthrough",
        # as for the playlist: a scaled VFR clip in a 1/600 source time base otherwise
        # gets frames sharing a timestamp (seen on a thermal camera's clip)
        "-enc_time_base",
        "1/90000",
        *tags,
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        str(out),
    ]


def decode_check_argv(path: Path, ffmpeg: str = "ffmpeg") -> list[str]:
    """Decode `path` (a segment or a playlist) to nothing: any stderr line is a defect.

    The same check the acceptance test makes (`ffmpeg -v error -i X -f null -`), so a copy
    that passes it decodes cleanly in a player that starts at that segment."""
    return [
        ffmpeg,
        "-nostdin",
        "-hide_banner",
        "-nostats",
        "-v",
        "error",
        "-i",
        str(path),
        "-f",
        "null",
        "-",
    ]
