"""One representative frame of a video as RGB pixels: ffprobe picks the stream, ffmpeg the frame.

The frame is taken at 10% of the duration (past fades from black and title cards), falling
back to the first frame when seeking yields nothing (clips of a few frames, wrong
durations). ffmpeg applies the display-matrix rotation itself (autorotate is on by
default), scales to the thumbnail box with the sample aspect ratio applied, and tone-maps
PQ/HLG HDR (HDR10, HLG, Dolby Vision 8.4 from phones) to BT.709 with zimg + Hable so the
thumbnail is not grey and washed out. The frame comes back as PPM on stdout: no temp file.

argv builders and parsers are pure and tested without ffmpeg; `grab_frame` runs the tools.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imageserver import proc

SEEK_FRACTION = 0.1
PROBE_TIMEOUT = 30.0
FRAME_TIMEOUT = 60.0
HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})  # PQ, HLG


class FrameError(Exception):
    """No frame; `permanent` False when the tools, not the file, are to blame."""

    def __init__(self, reason: str, *, permanent: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class VideoStream:
    index: int  # ffprobe stream index, for `-map 0:{index}`
    duration: float | None  # seconds
    transfer: str | None  # color_transfer as ffprobe names it

    @property
    def hdr(self) -> bool:
        return self.transfer in HDR_TRANSFERS


@dataclass(frozen=True, slots=True)
class Frame:
    width: int
    height: int
    rgb: bytes  # packed 8-bit RGB, width * height * 3 bytes


def probe_argv(src: Path, ffprobe: str = "ffprobe") -> list[str]:
    return [
        ffprobe,
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_entries",
        "format=duration:stream=index,codec_type,duration,color_transfer:"
        "stream_disposition=attached_pic",
        f"file:{src}",
    ]


def parse_probe(data: dict[str, Any]) -> VideoStream | None:
    """The first real video stream (cover art excluded); None when there is none."""
    for stream in data.get("streams") or []:
        if not isinstance(stream, dict) or stream.get("codec_type") != "video":
            continue
        if (stream.get("disposition") or {}).get("attached_pic"):
            continue
        duration = _seconds((data.get("format") or {}).get("duration"))
        if duration is None:
            duration = _seconds(stream.get("duration"))
        transfer = stream.get("color_transfer")
        return VideoStream(int(stream["index"]), duration, transfer if transfer else None)
    return None


def seek_time(duration: float | None) -> float:
    return round(duration * SEEK_FRACTION, 3) if duration else 0.0


def filter_chain(box: int, transfer: str | None) -> str:
    """Square pixels, fit in box x box (never upscale), then tone-map HDR to BT.709."""
    chain = [
        "scale=w='trunc(iw*sar)':h=ih",
        "setsar=1",
        f"scale=w='min({box},iw)':h='min({box},ih)':force_original_aspect_ratio=decrease",
    ]
    if transfer in HDR_TRANSFERS:
        chain += [
            f"zscale=tin={transfer}:t=linear:npl=100",
            "format=gbrpf32le",
            "zscale=p=bt709",
            "tonemap=tonemap=hable:desat=0",
            "zscale=t=bt709:m=bt709:r=tv",
            "format=yuv420p",
        ]
    return ",".join(chain)


def frame_argv(
    src: Path, stream: VideoStream, box: int, at: float, ffmpeg: str = "ffmpeg"
) -> list[str]:
    """ffmpeg arguments writing one frame at `at` seconds as PPM to stdout."""
    seek = ["-ss", f"{at:.3f}"] if at > 0 else []
    return [
        ffmpeg,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        *seek,
        "-i",
        f"file:{src}",
        "-map",
        f"0:{stream.index}",
        "-an",
        "-sn",
        "-dn",
        "-frames:v",
        "1",
        "-vf",
        filter_chain(box, stream.transfer),
        "-pix_fmt",
        "rgb24",
        "-c:v",
        "ppm",
        "-f",
        "image2pipe",
        "-",
    ]


_PPM = re.compile(rb"P6\s+(\d+)\s+(\d+)\s+(\d+)\s")


def parse_ppm(data: bytes) -> Frame | None:
    """The first PPM image of ffmpeg's output; None when there is no complete one."""
    match = _PPM.match(data)
    if not match or int(match[3]) != 255:
        return None
    width, height = int(match[1]), int(match[2])
    end = match.end() + width * height * 3
    if width == 0 or height == 0 or len(data) < end:
        return None
    return Frame(width, height, data[match.end() : end])


_CONTEXT = re.compile(r"^\[[^\]]*@ ?0x[0-9a-f]+\]\s*")


def stderr_reason(stderr: bytes, src: Path) -> str:
    """The first informative stderr line, without '[h264 @ 0x..]' context or the path."""
    for raw in stderr.decode("utf-8", "replace").splitlines():
        line = _CONTEXT.sub("", raw.strip()).replace(f"file:{src}", src.name)
        line = line.replace(str(src), src.name)
        if line:
            return line[:300]
    return "no message"


def grab_frame(
    src: Path,
    box: int,
    *,
    probe_timeout: float = PROBE_TIMEOUT,
    frame_timeout: float = FRAME_TIMEOUT,
) -> Frame:
    """The thumbnail frame of a video, at most box x box; FrameError when there is none."""
    probed = _run(probe_argv(src), probe_timeout)
    if probed.returncode != 0:
        raise FrameError(f"ffprobe: {stderr_reason(probed.stderr, src)}")
    try:
        data = json.loads(probed.stdout or b"{}")
    except json.JSONDecodeError as exc:
        raise FrameError(f"ffprobe: unreadable output: {exc}") from exc
    stream = parse_probe(data if isinstance(data, dict) else {})
    if stream is None:
        raise FrameError("no video stream")
    at = seek_time(stream.duration)
    attempts = (at, 0.0) if at > 0 else (0.0,)
    reason = "no message"
    for when in attempts:
        done = _run(frame_argv(src, stream, box, when), frame_timeout)
        frame = parse_ppm(done.stdout) if done.returncode == 0 else None
        if frame is not None:
            return frame
        if done.returncode < 0:
            raise FrameError(f"ffmpeg killed by signal {-done.returncode}", permanent=False)
        reason = stderr_reason(done.stderr, src) if done.stderr.strip() else "no frame decoded"
    raise FrameError(f"no decodable video frame: {reason}")


def _run(argv: list[str], timeout: float) -> proc.Completed:
    try:
        return proc.run(argv, timeout=timeout, check=False)
    except proc.ToolTimeout as exc:
        raise FrameError(f"{argv[0]} timed out after {timeout:.0f}s", permanent=False) from exc
    except proc.ToolError as exc:
        raise FrameError(exc.reason, permanent=False) from exc


def _seconds(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 and number != float("inf") else None
