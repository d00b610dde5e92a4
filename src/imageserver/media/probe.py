"""ffprobe adapter: the stream facts of a video (duration, codecs, frame rate, size, rotation).

The argv builder and the JSON parser are pure and tested on canned output; `probe` is the
only function that runs the tool. `rotation` is the display-matrix rotation exactly as
ffprobe reports it (e.g. -90, 90, 180, -180; 0 when none), falling back to the legacy
`rotate` tag (clockwise degrees, so negated to match the display-matrix convention).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from imageserver import proc

DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class VideoInfo:
    duration: float | None = None  # seconds
    video_codec: str | None = None  # ffprobe codec_name: h264, hevc, vp9, ...
    audio_codec: str | None = None
    fps: float | None = None  # avg_frame_rate (r_frame_rate when avg is unknown)
    width: int | None = None  # stored (coded display) size, before rotation
    height: int | None = None
    rotation: int = 0  # display-matrix degrees as ffprobe reports them
    pix_fmt: str | None = None
    color_transfer: str | None = None  # smpte2084 (PQ) / arib-std-b67 (HLG) mean HDR
    color_primaries: str | None = None
    color_space: str | None = None
    container: str | None = None  # format_name: "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"
    bit_rate: int | None = None
    field_order: str | None = None  # progressive, tt, bb, tb, bt (interlaced), unknown
    # kinds of streams ffprobe found but cannot name a codec for (e.g. a track without its
    # sample description): present in the file, not decodable
    unknown_streams: tuple[str, ...] = ()

    @property
    def interlaced(self) -> bool:
        return self.field_order in ("tt", "bb", "tb", "bt")


class ProbeError(Exception):
    def __init__(self, reason: str, *, permanent: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def probe_argv(path: Path, executable: str = "ffprobe") -> list[str]:
    """ffprobe arguments: JSON format and stream description, errors only on stderr."""
    return [
        executable,
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        str(path),
    ]


def _rate(value: Any) -> float | None:
    """'30000/1001' -> 29.97; '0/0' and garbage -> None."""
    if not isinstance(value, str):
        return None
    try:
        rate = Fraction(value)
    except (ValueError, ZeroDivisionError):
        return None
    return round(float(rate), 6) if rate > 0 else None


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and number >= 0 else None  # drop NaN / negatives


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _rotation(stream: dict[str, Any]) -> int:
    for side in stream.get("side_data_list") or []:
        if isinstance(side, dict) and "rotation" in side:
            rotation = _int(side["rotation"])
            if rotation is not None:
                return rotation
    tag = _int((stream.get("tags") or {}).get("rotate"))
    if tag:
        # the legacy tag is clockwise; the display matrix counts counter-clockwise and
        # ffprobe reports a half turn as -180
        rotation = -tag % 360
        return rotation - 360 if rotation >= 180 else rotation
    return 0


def _is_picture(stream: dict[str, Any]) -> bool:
    """Cover art / thumbnails stored as a video stream are not the video."""
    return bool((stream.get("disposition") or {}).get("attached_pic"))


def parse_probe(data: dict[str, Any]) -> VideoInfo:
    """VideoInfo from `ffprobe -show_format -show_streams -print_format json` output."""
    streams = [s for s in data.get("streams") or [] if isinstance(s, dict)]
    fmt = data.get("format") or {}
    video = next(
        (s for s in streams if s.get("codec_type") == "video" and not _is_picture(s)), None
    )
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    duration = _float(fmt.get("duration"))
    if duration is None and video is not None:
        duration = _float(video.get("duration"))
    unknown = tuple(
        str(s.get("codec_type") or "unknown")
        for s in streams
        if s.get("codec_name") in (None, "", "none") and not _is_picture(s)
    )
    info: dict[str, Any] = {
        "unknown_streams": unknown,
        "duration": duration,
        "audio_codec": audio.get("codec_name") if audio else None,
        "container": fmt.get("format_name"),
        "bit_rate": _int(fmt.get("bit_rate")),
    }
    if video is not None:
        info.update(
            video_codec=video.get("codec_name"),
            fps=_rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")),
            width=_int(video.get("width")) or None,
            height=_int(video.get("height")) or None,
            rotation=_rotation(video),
            pix_fmt=video.get("pix_fmt"),
            color_transfer=video.get("color_transfer"),
            color_primaries=video.get("color_primaries"),
            color_space=video.get("color_space"),
            field_order=video.get("field_order"),
        )
    return VideoInfo(**info)


_CONTEXT = re.compile(r"^\[[^\]]*@ ?0x[0-9a-f]+\]\s*")


def error_reason(stderr: str, path: Path) -> str:
    """The most specific line of ffprobe's stderr, without '[mov @ 0x..]' or path prefixes.

    `moov atom not found` is more useful than the final `Invalid data found when
    processing input`, so the first line wins.
    """
    for raw in stderr.splitlines():
        line = _CONTEXT.sub("", raw.strip())
        for prefix in (f"{path}: ", f"{path.name}: "):
            if line.startswith(prefix):
                line = line[len(prefix) :]
        if line:
            return f"ffprobe: {line}"
    return "ffprobe: failed without a message"


def probe(
    path: Path, *, timeout: float = DEFAULT_TIMEOUT, executable: str = "ffprobe"
) -> VideoInfo:
    """Run ffprobe on one file; ProbeError(permanent=False) for timeouts and a missing tool."""
    try:
        done = proc.run(probe_argv(path, executable), timeout=timeout, check=False)
    except proc.ToolTimeout as exc:
        raise ProbeError(f"ffprobe: timed out after {timeout:.0f}s", permanent=False) from exc
    except proc.ToolError as exc:
        raise ProbeError(f"ffprobe: {exc.reason}", permanent=False) from exc
    stderr = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        raise ProbeError(error_reason(stderr, path))
    try:
        data = json.loads(done.stdout.decode("utf-8", "replace") or "{}")
    except json.JSONDecodeError as exc:
        raise ProbeError(f"ffprobe: unreadable output: {exc}") from exc
    info = parse_probe(data if isinstance(data, dict) else {})
    if info.video_codec is None:
        reason = error_reason(stderr, path) if stderr.strip() else "ffprobe: no video stream"
        raise ProbeError(reason)
    return info
