"""Video fields: ffprobe's stream facts merged into what exiftool read from the container.

ffprobe decides whether a video is readable and owns the stream facts (duration, codecs,
frame rate, rotation, colour); exiftool adds dates, GPS and camera. The merge rules (who
wins, which failure is worth a retry) live here, apart from the reader that runs both.
"""

from __future__ import annotations

from dataclasses import replace

from imageserver.media import probe as ffprobe
from imageserver.media.metadata.record import READER_NAME, MediaMetadata, MetadataError


def with_video(meta: MediaMetadata | None, info: ffprobe.VideoInfo) -> MediaMetadata:
    """Merge ffprobe's stream facts into exiftool's metadata (ffprobe wins on streams)."""
    merged = meta if meta is not None else MediaMetadata(reader=READER_NAME)
    merged = replace(
        merged,
        duration=info.duration if info.duration is not None else merged.duration,
        video_codec=info.video_codec,
        audio_codec=info.audio_codec,
        fps=info.fps,
        rotation=info.rotation,
        extra=dict(merged.extra),
    )
    if info.width and info.height:
        quarter = info.rotation % 180 == 90
        merged.width, merged.height = (
            (info.height, info.width) if quarter else (info.width, info.height)
        )
    keys = ("pix_fmt", "color_transfer", "color_primaries", "color_space", "container")
    for key in (*keys, "field_order"):
        value = getattr(info, key)
        if value:
            merged.extra[key] = value
    if info.bit_rate:
        merged.extra["bit_rate"] = info.bit_rate
    if info.unknown_streams:
        merged.extra["unknown_streams"] = list(info.unknown_streams)
    merged.extra["hdr"] = info.color_transfer in ("smpte2084", "arib-std-b67")
    return merged


def merge_video(
    meta: MediaMetadata | MetadataError, info: ffprobe.VideoInfo | MetadataError
) -> MediaMetadata | MetadataError:
    """ffprobe decides whether a video is readable; exiftool adds dates, GPS and camera."""
    if isinstance(meta, MetadataError) and not meta.permanent:
        return meta  # retry later rather than store a video without its dates
    if isinstance(info, MetadataError):
        if info.permanent and isinstance(meta, MediaMetadata) and meta.duration:
            meta.extra["probe_error"] = info.reason  # exiftool still read the container
            return meta
        return info
    base = meta if isinstance(meta, MediaMetadata) else None
    merged = with_video(base, info)
    if isinstance(meta, MetadataError):
        merged.extra["exiftool_error"] = meta.reason
    return merged
