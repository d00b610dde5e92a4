"""Metadata of media files: exiftool for every file, ffprobe in addition for videos.

Interface used by the metadata drain (importable from here, the package's one front door):
    reader = open_reader()            # long-lived, thread-safe
    results = reader.read_many([(path, fmt), ...])   # MediaMetadata | MetadataError each
    reader.close()

One module per idea, each pure but the reader:
    record.py   MediaMetadata, MetadataError, fit_columns (the stored shape, column limits)
    values.py   coercion of exiftool JSON values shared by every field parser
    dates.py    date strings, UTC offsets, which date tag is trusted first
    gps.py      positions from EXIF / XMP / video location boxes
    exif.py     the exiftool request (tags, options) and its JSON -> MediaMetadata mapping
    jpeg.py     the in-process JPEG fast path (Pillow -> an exiftool-shaped record)
    motion.py   motion photos (an MP4 appended to a still)
    video.py    ffprobe's stream facts merged with exiftool's answer
    reader.py   ExifToolReader: batches files, runs the tools, combines the answers
"""

from __future__ import annotations

from imageserver.media.metadata.reader import ExifToolReader, open_reader
from imageserver.media.metadata.record import MediaMetadata, MetadataError

__all__ = ["ExifToolReader", "MediaMetadata", "MetadataError", "open_reader"]
