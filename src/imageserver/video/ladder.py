"""The master playlist of an adaptive-bitrate ladder, its attributes measured from the output.

Each variant's attributes come from what was written, never from what was asked for:
- BANDWIDTH is the peak segment bitrate (bytes * 8 / #EXTINF seconds, after timing.py
  corrected the durations), AVERAGE-BANDWIDTH the whole rendition's;
- RESOLUTION is ffprobe's frame size of the first segment;
- CODECS: `avc1.PPCCLL` from the profile, constraint and level bytes of the first SPS in
  the first segment (exact, so Safari and MSE's isTypeSupported see the real stream), and
  `mp4a.40.{2,5,29}` from ffprobe's AAC profile.
Variants are listed highest first; the main rendition is named layout.MAIN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from imageserver.video import layout, runner

_EXTINF = re.compile(r"^#EXTINF:([0-9.]+),")
SPS_SCAN_BYTES = 256 * 1024
AAC_OBJECT_TYPES = {"LC": 2, "HE-AAC": 5, "HE-AACv2": 29}


@dataclass(frozen=True)
class Variant:
    uri: str  # a layout.is_variant name
    bandwidth: int  # bit/s, peak segment
    average_bandwidth: int
    width: int
    height: int
    codecs: str


def segment_durations(text: str) -> list[tuple[float, str]]:
    """(#EXTINF seconds, segment name) pairs of a media playlist."""
    out: list[tuple[float, str]] = []
    pending: float | None = None
    for line in text.splitlines():
        match = _EXTINF.match(line)
        if match:
            pending = float(match.group(1))
        elif line and not line.startswith("#") and pending is not None:
            out.append((pending, line))
            pending = None
    return out


def bandwidths(folder: Path, playlist: str) -> tuple[int, int]:
    """(peak, average) bit/s of a rendition from its segment sizes and durations."""
    pairs = segment_durations((folder / playlist).read_text(encoding="utf-8"))
    sizes = [(seconds, (folder / name).stat().st_size) for seconds, name in pairs]
    total_seconds = sum(seconds for seconds, _ in sizes)
    if not sizes or total_seconds <= 0:
        raise ValueError(f"{playlist}: no measurable segments")
    average = sum(size for _, size in sizes) * 8 / total_seconds
    # the last segment is usually a short remainder whose rate says little: left out of the
    # peak when there are others; the peak is never below the average
    counted = sizes[:-1] if len(sizes) > 1 else sizes
    peak = max([size * 8 / seconds for seconds, size in counted if seconds > 0] + [average])
    return int(peak + 0.5), int(average + 0.5)


def avc1_codec(segment: Path) -> str | None:
    """`avc1.PPCCLL` from the first SPS NAL (Annex B start code + type 7) in a TS segment.

    TS packet headers can split the SPS; the three bytes after the NAL header sit right
    behind it, and an SPS that straddles a packet boundary there is not trusted."""
    with segment.open("rb") as fh:
        data = fh.read(SPS_SCAN_BYTES)
    start = 0
    while True:
        pos = data.find(b"\x00\x00\x01", start)
        if pos < 0 or pos + 7 > len(data):
            return None
        header = data[pos + 3]
        if header & 0x1F == 7 and not header & 0x80:
            profile, constraints, level = data[pos + 4], data[pos + 5], data[pos + 6]
            if profile in (66, 77, 88, 100, 110, 122, 244) and 9 <= level <= 62:
                return f"avc1.{profile:02x}{constraints:02x}{level:02x}"
        start = pos + 3


def probe_segment(
    segment: Path, timeout: float, control: runner.RunControl | None
) -> dict[str, object]:
    """ffprobe's streams of one segment: width/height of the video, the audio profile."""
    argv = [
        "ffprobe",
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_entries",
        "stream=codec_type,codec_name,profile,width,height",
        str(segment),
    ]
    data = runner.run_json(argv, timeout, control)
    streams = data.get("streams", []) if isinstance(data, dict) else []
    out: dict[str, object] = {}
    for stream in streams if isinstance(streams, list) else []:
        if not isinstance(stream, dict):
            continue
        if stream.get("codec_type") == "video" and "width" not in out:
            out["width"], out["height"] = stream.get("width"), stream.get("height")
        elif stream.get("codec_type") == "audio" and "audio" not in out:
            out["audio"] = (stream.get("codec_name"), stream.get("profile"))
    return out


def audio_codec(found: object) -> str | None:
    """`mp4a.40.N` for AAC (LC when ffprobe names no profile), None for no audio."""
    if not isinstance(found, tuple) or found[0] != "aac":
        return None
    return f"mp4a.40.{AAC_OBJECT_TYPES.get(str(found[1]), 2)}"


def measure(
    folder: Path, uri: str, timeout: float, control: runner.RunControl | None = None
) -> Variant:
    """The master's line for the rendition whose playlist is `uri` (MAIN = PLAYLIST)."""
    playlist = layout.PLAYLIST if uri == layout.MAIN else uri
    peak, average = bandwidths(folder, playlist)
    first = segment_durations((folder / playlist).read_text(encoding="utf-8"))[0][1]
    facts = probe_segment(folder / first, timeout, control)
    width, height = facts.get("width"), facts.get("height")
    video = avc1_codec(folder / first)
    if not isinstance(width, int) or not isinstance(height, int) or video is None:
        raise ValueError(f"{uri}: cannot read the video stream's size or SPS")
    codecs = ",".join(c for c in (video, audio_codec(facts.get("audio"))) if c)
    return Variant(uri, peak, average, width, height, codecs)


def master_text(variants: list[Variant]) -> str:
    """The master playlist, highest rendition first (players start near the top line)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for v in sorted(variants, key=lambda v: (v.height * v.width, v.bandwidth), reverse=True):
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={v.bandwidth},AVERAGE-BANDWIDTH={v.average_bandwidth},"
            f'RESOLUTION={v.width}x{v.height},CODECS="{v.codecs}"'
        )
        lines.append(v.uri)
    return "\n".join(lines) + "\n"


def master_uris(text: str) -> list[str]:
    """The variant names a master lists (each must be a layout.is_variant name)."""
    return [line for line in text.splitlines() if line and not line.startswith("#")]
