"""True segment durations, read from the MPEG-TS segments, written back into the playlist.

ffmpeg 5.1's HLS muxer computes #EXTINF from video packet durations only. For stream
copies those can be wrong: Matroska and FLV sources report 1 ms per frame (their 1000 fps
time base), so a one-second clip gets `#EXTINF:0.030`; audio that starts before the first
video frame, or a long last frame of a variable-frame-rate clip, is not counted at all.
Players build their timeline and scrub bar from #EXTINF, so the playlist is corrected:
each segment lasts from its first presentation timestamp (any stream) to the next
segment's; the last one to its last timestamp plus one typical frame or audio packet.

Only PES headers are read (the first packets of each segment, the tail of the last one),
so this costs milliseconds even for an hour-long stream copy.
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

TS_PACKET = 188
HEAD_BYTES = 512 * 1024
TAIL_BYTES = 2 * 1024 * 1024
PTS_HZ = 90_000
WRAP = 1 << 33
_EXTINF = re.compile(r"^#EXTINF:[0-9.]+,")


@dataclass
class _Pes:
    stream_id: int
    pts: int
    payload: bytearray  # the elementary stream bytes seen so far (after the PES header)


def _pes_packets(data: bytes) -> list[_Pes]:
    """Every PES in `data` that starts inside it, with its payload (TS packets re-joined)."""
    start = data.find(b"\x47")
    while start >= 0 and start + TS_PACKET < len(data) and data[start + TS_PACKET] != 0x47:
        start = data.find(b"\x47", start + 1)
    out: list[_Pes] = []
    if start < 0:
        return out
    current: dict[int, _Pes] = {}  # by PID
    for pos in range(start, len(data) - TS_PACKET + 1, TS_PACKET):
        pkt = data[pos : pos + TS_PACKET]
        control = (pkt[3] >> 4) & 0x3
        if pkt[0] != 0x47 or not control & 0x1:
            continue
        pid = (pkt[1] & 0x1F) << 8 | pkt[2]
        offset = 4 + (1 + pkt[4] if control & 0x2 else 0)
        body = pkt[offset:]
        if not pkt[1] & 0x40:  # a continuation of this PID's current PES
            if pid in current:
                current[pid].payload += body
            continue
        current.pop(pid, None)
        if len(body) < 14 or body[:3] != b"\x00\x00\x01" or not body[7] & 0x80:
            continue
        b = body[9:14]
        pts = ((b[0] >> 1) & 0x07) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | b[4] >> 1
        pes = _Pes(body[3], pts, bytearray(body[9 + body[8] :]))
        current[pid] = pes
        out.append(pes)
    return out


_ADTS_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)


def adts_ticks(payload: bytes) -> int | None:
    """90 kHz ticks of the AAC frames in one PES payload (ADTS framing), None if not ADTS."""
    pos, frames, rate = 0, 0, 0
    while pos + 7 <= len(payload):
        if payload[pos] != 0xFF or payload[pos + 1] & 0xF6 != 0xF0:
            break
        index = (payload[pos + 2] >> 2) & 0x0F
        length = (payload[pos + 3] & 0x03) << 11 | payload[pos + 4] << 3 | payload[pos + 5] >> 5
        if index >= len(_ADTS_RATES) or length < 7:
            break
        rate = _ADTS_RATES[index]
        frames += (payload[pos + 6] & 0x03) + 1
        pos += length
    return frames * 1024 * PTS_HZ // rate if frames and rate else None


def _read(path: Path, tail: bool) -> bytes:
    with path.open("rb") as fh:
        if tail:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - TAIL_BYTES))
            return fh.read(TAIL_BYTES)
        return fh.read(HEAD_BYTES)


def segment_start(path: Path) -> int | None:
    """Earliest PTS among the first PES packets of each stream in the segment."""
    firsts: dict[int, int] = {}
    for pes in _pes_packets(_read(path, tail=False)):
        firsts.setdefault(pes.stream_id, pes.pts)
    return min(firsts.values()) if firsts else None


def segment_end(path: Path) -> int | None:
    """Where the segment's media ends: for audio the last PES's AAC frames, for video the
    last frame plus one typical frame interval."""
    by_stream: dict[int, list[_Pes]] = {}
    for pes in _pes_packets(_read(path, tail=True)):
        by_stream.setdefault(pes.stream_id, []).append(pes)
    ends = []
    for stream_id, packets in by_stream.items():
        ordered = sorted(p.pts for p in packets)
        last = max(packets, key=lambda p: p.pts)
        span = adts_ticks(bytes(last.payload)) if 0xC0 <= stream_id <= 0xDF else None
        if span is None:
            gaps = [b - a for a, b in itertools.pairwise(ordered) if b > a]
            span = int(statistics.median(gaps)) if gaps else 0
        ends.append(last.pts + span)
    return max(ends) if ends else None


def _unwrap(values: list[int]) -> list[int]:
    out, shift, prev = [], 0, None
    for value in values:
        if prev is not None and value + shift < prev - WRAP // 2:
            shift += WRAP
        out.append(value + shift)
        prev = value + shift
    return out


def measured_durations(folder: Path, segments: list[str]) -> list[float] | None:
    """Seconds per segment from the TS timestamps; None when a segment cannot be read."""
    starts = [segment_start(folder / name) for name in segments]
    end = segment_end(folder / segments[-1]) if segments else None
    if not segments or end is None or any(s is None for s in starts):
        return None
    points = _unwrap([s for s in starts if s is not None] + [end])
    durations = [(b - a) / PTS_HZ for a, b in itertools.pairwise(points)]
    if any(d <= 0 for d in durations):
        return None
    return durations


def rewrite_playlist(text: str, durations: list[float]) -> str:
    """Replace each #EXTINF (in order) and raise #EXT-X-TARGETDURATION to cover them."""
    lines = text.splitlines()
    it = iter(durations)
    out = []
    for line in lines:
        if _EXTINF.match(line):
            out.append(f"#EXTINF:{next(it):.6f},")
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            out.append(f"#EXT-X-TARGETDURATION:{max(1, math.ceil(max(durations) - 1e-3))}")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def fix_durations(folder: Path, playlist: str) -> bool:
    """Correct the playlist in `folder` in place; False (left as ffmpeg wrote it) if unsure."""
    path = folder / playlist
    text = path.read_text(encoding="utf-8")
    segments = [line for line in text.splitlines() if line and not line.startswith("#")]
    durations = measured_durations(folder, segments)
    if durations is None or len(durations) != sum(1 for x in text.splitlines() if _EXTINF.match(x)):
        return False
    path.write_text(rewrite_playlist(text, durations), encoding="utf-8")
    return True
