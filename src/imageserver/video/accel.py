"""Hardware H.264 encoders for re-encodes (IMAGESERVER_HLS_ACCEL): argv pieces, detection.

The pieces are pure functions (tested without a GPU); `ffmpeg.hls_argv` puts them in place
of libx264. Filters (deinterlace, scale, tone-map) stay in software, so every plan works
with every encoder: the frames are only handed to the encoder (uploaded for VAAPI, NV12
for Quick Sync). Stream copies and preview clips never use hardware.

`auto` probes once per process, at the start of video work: `ffmpeg -encoders` must list
the encoder, and a one-second test encode must succeed (a listed encoder without a device
is the common case: Debian's ffmpeg lists all three). An explicit `vaapi|nvenc|qsv` is
used as configured. Either way, any failure of a hardware encode falls back to libx264
for that video (the generator's business), logged and counted: hardware can speed a
video up, never make it unplayable.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Literal

from imageserver import proc
from imageserver.telemetry.metrics import HLS_ACCEL_FALLBACKS

log = logging.getLogger("imageserver.video")

Accel = Literal["vaapi", "nvenc", "qsv"]
Setting = Literal["none", "auto", "vaapi", "nvenc", "qsv"]
# `auto`'s order of preference: NVENC and Quick Sync are the faster, VAAPI the most common.
AUTO_ORDER: tuple[Accel, ...] = ("nvenc", "qsv", "vaapi")
ENCODERS: dict[Accel, str] = {"vaapi": "h264_vaapi", "nvenc": "h264_nvenc", "qsv": "h264_qsv"}
VAAPI_DEVICE = "/dev/dri/renderD128"
PROBE_TIMEOUT = 20.0


def input_args(accel: Accel) -> list[str]:
    """Arguments before `-i`: the device VAAPI uploads to; the others find their own."""
    return ["-vaapi_device", VAAPI_DEVICE] if accel == "vaapi" else []


def filter_chain(accel: Accel, chain: str) -> str:
    """The software -vf chain (ending in yuv420p) plus what the encoder takes frames as."""
    if accel == "vaapi":
        return f"{chain},format=nv12,hwupload"
    if accel == "qsv":
        return f"{chain},format=nv12"
    return chain  # NVENC takes yuv420p from system memory


def encoder_args(accel: Accel, quality: int) -> list[str]:
    """Codec and constant-quality rate control comparable to libx264's CRF `quality`;
    forced keyframes (segment boundaries) are IDR frames, so every segment starts clean."""
    q = str(quality)
    codec = ["-c:v", ENCODERS[accel]]
    if accel == "vaapi":
        return [*codec, "-rc_mode", "CQP", "-qp", q]
    if accel == "nvenc":
        return [*codec, "-preset", "p4", "-rc", "vbr", "-cq", q, "-b:v", "0", "-forced-idr", "1"]
    return [*codec, "-preset", "veryfast", "-global_quality", q, "-forced_idr", "1"]


def trial_argv(accel: Accel, ffmpeg: str = "ffmpeg") -> list[str]:
    """One second of a small test pattern through the encoder, to nothing."""
    return [
        ffmpeg,
        "-nostdin",
        "-hide_banner",
        "-v",
        "error",
        *input_args(accel),
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=256x144:rate=25:duration=1",
        "-vf",
        filter_chain(accel, "format=yuv420p"),
        *encoder_args(accel, 23),
        "-f",
        "null",
        "-",
    ]


def listed_encoders(text: str) -> set[str]:
    """Encoder names in `ffmpeg -encoders` output (' V....D h264_vaapi  H.264/AVC (VAAPI)')."""
    names = set()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] in "VAS" and parts[1] != "=":
            names.add(parts[1])
    return names


Runner = Callable[[list[str]], tuple[int, str]]


def _run(argv: list[str]) -> tuple[int, str]:
    """(exit status, stdout + stderr); a missing ffmpeg or a hang is a failure, not a crash."""
    try:
        done = proc.run(argv, timeout=PROBE_TIMEOUT, check=False)
    except proc.ToolError as exc:
        return 1, str(exc)
    return done.returncode, done.stdout.decode("utf-8", "replace") + done.stderr_text


def detect(run: Runner = _run, ffmpeg: str = "ffmpeg") -> Accel | None:
    """The first encoder of AUTO_ORDER that ffmpeg lists and that encodes a test second."""
    status, text = run([ffmpeg, "-hide_banner", "-encoders"])
    listed = listed_encoders(text) if status == 0 else set()
    for accel in AUTO_ORDER:
        if ENCODERS[accel] not in listed:
            continue
        status, output = run(trial_argv(accel, ffmpeg))
        if status == 0:
            log.info("event=video_accel_detected encoder=%s", ENCODERS[accel])
            return accel
        reason = output.strip().splitlines()[-1:] or ["no message"]
        log.info("event=video_accel_unusable encoder=%s reason=%r", ENCODERS[accel], reason[0])
    log.info("event=video_accel_none reason=%r", "no hardware encoder passed its test encode")
    return None


_LOCK = threading.Lock()
_RESOLVED: dict[str, Accel | None] = {}


def resolve(setting: str, run: Runner = _run) -> Accel | None:
    """The encoder re-encodes use for `setting` (None: libx264); `auto` probes once."""
    if setting == "none":
        return None
    if setting in ENCODERS:
        return setting
    if setting != "auto":
        raise ValueError(f"unknown IMAGESERVER_HLS_ACCEL value {setting!r}")
    with _LOCK:
        if setting not in _RESOLVED:
            _RESOLVED[setting] = detect(run)
        return _RESOLVED[setting]


def forget() -> None:
    """Drop the cached `auto` result (tests, or after a driver change)."""
    with _LOCK:
        _RESOLVED.clear()


def note_fallback(accel: Accel, path: str, reason: str) -> None:
    """A hardware encode failed: this video is re-encoded with libx264 instead."""
    HLS_ACCEL_FALLBACKS.labels(ENCODERS[accel]).inc()
    log.warning(
        "event=video_accel_fallback encoder=%s path=%r reason=%r", ENCODERS[accel], path, reason
    )
