"""How to turn one source into HLS, decided from ffprobe facts by pure functions.

Browsers play H.264 (8-bit 4:2:0) with AAC in MPEG-TS segments everywhere (hls.js and
Safari), so such a source is stream-copied: seconds for an hour of video, no quality loss.
Anything else is re-encoded with libx264. Three things force a re-encode even for H.264:

- rotation: MPEG-TS cannot carry a display matrix, so a copied phone video would play
  sideways; re-encoding lets ffmpeg's autorotate bake the rotation into the pixels;
- HDR (PQ / HLG transfer, which covers the HLG base layer of iPhone Dolby Vision): played
  as SDR it looks washed out, so it is tone-mapped to BT.709 (zscale + tonemap=hable);
- interlacing (camcorder 50i): deinterlaced, because browsers show combed fields.

Audio is copied when it is AAC, otherwise encoded to AAC (cheap, even when video is
copied), or left out when there is none or ffmpeg has no decoder for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from imageserver.config import Settings
from imageserver.media.probe import VideoInfo

if TYPE_CHECKING:
    from imageserver.video.accel import Accel

Tonemap = Literal["pq", "hlg"]
PlanMode = Literal["copy", "transcode", "tonemap"]

H264_COPY_PIX_FMTS = frozenset({"yuv420p", "yuvj420p"})
HDR_TRANSFERS: dict[str, Tonemap] = {"smpte2084": "pq", "arib-std-b67": "hlg"}
PREVIEW_START_FRACTION = 0.10


@dataclass(frozen=True)
class SourceInfo:
    """The ffprobe facts the plan needs (built from media/probe.py's result)."""

    video_codec: str | None  # None: no video stream at all
    pix_fmt: str | None = None
    width: int | None = None  # coded size, before rotation
    height: int | None = None
    rotation: int = 0  # display-matrix degrees exactly as ffprobe reports (-90, 90, 180, ...)
    color_transfer: str | None = None
    audio_codec: str | None = None  # None: no (decodable) audio stream
    duration: float | None = None
    interlaced: bool = False

    @property
    def quarter_turn(self) -> bool:
        """Rotated by +-90 degrees: the displayed frame is the coded one transposed."""
        return round(self.rotation) % 180 == 90

    @property
    def rotated(self) -> bool:
        return round(self.rotation) % 360 != 0

    @property
    def displayed_size(self) -> tuple[int, int] | None:
        if not self.width or not self.height:
            return None
        if self.quarter_turn:
            return self.height, self.width
        return self.width, self.height


# Codec names ffprobe gives a stream it has no decoder for.
_NO_CODEC = frozenset({"", "none", "unknown"})


def source_info(probed: VideoInfo) -> SourceInfo:
    """The plan's input from media/probe.py's result (an undecodable audio track = none)."""
    audio = probed.audio_codec if probed.audio_codec not in _NO_CODEC else None
    video = probed.video_codec if probed.video_codec not in _NO_CODEC else None
    return SourceInfo(
        video_codec=video,
        pix_fmt=probed.pix_fmt,
        width=probed.width,
        height=probed.height,
        rotation=probed.rotation,
        color_transfer=probed.color_transfer,
        audio_codec=audio,
        duration=probed.duration,
        interlaced=probed.interlaced,
    )


@dataclass(frozen=True)
class HlsOptions:
    """The settings that shape the output; part of what makes two runs comparable."""

    preset: str = "veryfast"
    crf: int = 23
    max_height: int = 1080
    segment_seconds: int = 4
    audio_bitrate: str = "160k"
    preview_seconds: float = 3.0
    preview_width: int = 320
    # Shorter-side heights of the lower rungs of the bitrate ladder; () makes one rendition.
    ladder: tuple[int, ...] = ()
    # The hardware encoder re-encodes try first (accel.Accel; resolved from the setting by
    # the caller, since `auto` probes the machine); None: libx264 only.
    accel: Accel | None = None

    @classmethod
    def from_settings(cls, s: Settings) -> HlsOptions:
        return cls(
            preset=s.hls_preset,
            crf=s.hls_crf,
            max_height=s.hls_max_height,
            segment_seconds=s.hls_segment_seconds,
            audio_bitrate=s.hls_audio_bitrate,
            preview_seconds=s.hls_preview_seconds,
            preview_width=s.hls_preview_width,
            ladder=parse_ladder(s.hls_ladder),
        )


def parse_ladder(text: str) -> tuple[int, ...]:
    """'360,720,1080' -> (360, 720, 1080): sorted, deduplicated, empty for ''."""
    return tuple(sorted({int(part) for part in text.split(",") if part.strip()}))


@dataclass(frozen=True)
class TranscodePlan:
    copy_video: bool
    audio: Literal["copy", "encode", "none"]
    tonemap: Tonemap | None = None
    deinterlace: bool = False
    # Output frame size after rotation and scaling; None keeps the source size (made even).
    size: tuple[int, int] | None = None
    reasons: tuple[str, ...] = field(default=())
    # The source's video codec when it is copied (picks the bitstream filter).
    copy_codec: str = "h264"

    @property
    def mode(self) -> PlanMode:
        if self.copy_video:
            return "copy"
        return "tonemap" if self.tonemap else "transcode"


class NoVideoStream(ValueError):
    """The file has no video stream ffmpeg can use: an unsupported source, not a retry."""


def even(value: float) -> int:
    """Round down to an even number, at least 2 (libx264 with 4:2:0 needs even sizes)."""
    return max(2, int(value) // 2 * 2)


def output_size(displayed: tuple[int, int] | None, max_short_side: int) -> tuple[int, int] | None:
    """Scale so the shorter side is at most `max_short_side` (1080p stays 1080p in portrait).

    A landscape video's shorter side is its height, so this is the configured maximum
    height; applying it to the shorter side keeps portrait phone video at full 1080p.
    Never enlarges; always even. None when the size is unknown (ffmpeg then only evens it).
    """
    if displayed is None:
        return None
    width, height = displayed
    short = min(width, height)
    if short <= max_short_side:
        return even(width), even(height)
    factor = max_short_side / short
    return even(round(width * factor)), even(round(height * factor))


def copy_blockers(info: SourceInfo) -> list[str]:
    """Why the video stream cannot be stream-copied; empty when it can."""
    reasons = []
    if info.video_codec != "h264":
        reasons.append(f"video codec {info.video_codec}")
    elif info.pix_fmt not in H264_COPY_PIX_FMTS:
        reasons.append(f"pixel format {info.pix_fmt}")
    if info.rotated:
        reasons.append(f"rotation {info.rotation}")
    if info.color_transfer in HDR_TRANSFERS:
        reasons.append(f"HDR transfer {info.color_transfer}")
    if info.interlaced:
        reasons.append("interlaced")
    return reasons


def audio_mode(info: SourceInfo) -> Literal["copy", "encode", "none"]:
    """AAC is copied, other audio encoded to AAC, none (or undecodable) left out."""
    if info.audio_codec is None:
        return "none"
    return "copy" if info.audio_codec == "aac" else "encode"


def plan_hls(info: SourceInfo, options: HlsOptions) -> TranscodePlan:
    """Copy what browsers play as-is; re-encode (rotate, tone-map, scale) the rest."""
    if not info.video_codec:
        raise NoVideoStream("no video stream")
    audio = audio_mode(info)
    blockers = copy_blockers(info)
    if not blockers:
        return TranscodePlan(copy_video=True, audio=audio, copy_codec=info.video_codec)
    return reencode_plan(info, options, tuple(blockers))


def reencode_plan(
    info: SourceInfo, options: HlsOptions, reasons: tuple[str, ...] = ("stream copy failed",)
) -> TranscodePlan:
    """The libx264 plan for any source: what a failed or suspicious stream copy falls back
    to, so that only a failed re-encode can mark a video unsupported."""
    if not info.video_codec:
        raise NoVideoStream("no video stream")
    audio = audio_mode(info)
    return TranscodePlan(
        copy_video=False,
        audio=audio,
        tonemap=HDR_TRANSFERS.get(info.color_transfer or ""),
        deinterlace=info.interlaced,
        size=output_size(info.displayed_size, options.max_height),
        reasons=reasons,
    )


@dataclass(frozen=True)
class PreviewPlan:
    start: float
    seconds: float
    tonemap: Tonemap | None
    deinterlace: bool


def plan_preview(info: SourceInfo, options: HlsOptions) -> PreviewPlan:
    """A few seconds from near 10% in (past intros and black frames); a short clip whole."""
    if not info.video_codec:
        raise NoVideoStream("no video stream")
    seconds = options.preview_seconds
    duration = info.duration or 0.0
    start = 0.0
    if duration > seconds:
        start = min(duration * PREVIEW_START_FRACTION, duration - seconds)
    return PreviewPlan(
        start=round(max(0.0, start), 3),
        seconds=seconds,
        tonemap=HDR_TRANSFERS.get(info.color_transfer or ""),
        deinterlace=info.interlaced,
    )


# --- the adaptive-bitrate ladder ----------------------------------------------------------
#
# Rule (eager, in the same job, published atomically with the main rendition): a rung is
# made for each configured height strictly below the main rendition's shorter side, so
# nothing is ever upscaled and a 360p phone clip stays one rendition. The main rendition
# is the stream copy (any size) or the re-encode capped at max_height. Rungs are
# re-encodes at the faster of the configured preset and RUNG_PRESET, CRF with a peak cap
# (RUNG_MAXRATE) so a rung's BANDWIDTH stays below what its network can carry.

RUNG_PRESET = "superfast"
_PRESET_SPEED = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower")
_RUNG_MAXRATE = ((360, 800), (480, 1400), (720, 2800), (1080, 5000), (1440, 9000))


def rung_maxrate_kbps(height: int) -> int:
    """The peak bitrate cap of a rung (kbit/s): generous for CRF 23, firm for the player."""
    for top, kbps in _RUNG_MAXRATE:
        if height <= top:
            return kbps
    return 16000


def rung_preset(options: HlsOptions) -> str:
    """The faster of the configured preset and RUNG_PRESET: rungs are the cheap part."""
    speed = {name: i for i, name in enumerate(_PRESET_SPEED)}
    configured = speed.get(options.preset, len(_PRESET_SPEED))
    return options.preset if configured <= speed[RUNG_PRESET] else RUNG_PRESET


def main_short_side(info: SourceInfo, plan: TranscodePlan) -> int | None:
    """The shorter side of the main rendition `plan` makes, None when the size is unknown."""
    size = info.displayed_size if plan.copy_video else plan.size
    return min(size) if size else None


def ladder_heights(info: SourceInfo, plan: TranscodePlan, options: HlsOptions) -> list[int]:
    """The rungs below the main rendition (highest first); never an upscale."""
    short = main_short_side(info, plan)
    if short is None:
        return []
    return sorted((h for h in options.ladder if h < short), reverse=True)


def rung_plan(info: SourceInfo, options: HlsOptions, height: int) -> TranscodePlan:
    """A re-encode of the source scaled so its shorter side is `height`."""
    scaled = HlsOptions(max_height=height)
    return reencode_plan(info, scaled, (f"rung {height}p",))
