"""Motion photos: the MP4 a phone appends to a still (Google, Samsung), found and verified.

XMP announces Google's MicroVideo / Motion Photo items counted from the file's end; Samsung
writes a binary "SEFT" trailer that no tag request reports. Either is trusted only when an
MP4 `ftyp` box sits at the offset, so a stale announcement never serves garbage as video.
The parsers take a `read_at` callable, so they are tested on bytes without files.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imageserver.media.metadata.record import MediaMetadata
from imageserver.media.metadata.values import as_number, as_text

log = logging.getLogger("imageserver.metadata")


ReadAt = Callable[[int, int], bytes]


def motion_from_xmp(rec: dict[str, Any], file_size: int) -> tuple[int, int, str] | None:
    """(offset, length, kind) of an embedded video announced in XMP, counted from the end.

    Google MicroVideo gives the distance from the end; Motion Photo lists the items after
    the primary image with their lengths (and padding before the next item).
    """
    micro = as_number(rec.get("XMP-GCamera:MicroVideoOffset"))
    if micro and 0 < micro < file_size:
        return file_size - int(micro), int(micro), "MicroVideo"
    directory = rec.get("XMP-Container:Directory")
    if not isinstance(directory, list):
        return None
    items = [entry.get("Item", entry) if isinstance(entry, dict) else {} for entry in directory]
    end = file_size
    for index in range(len(items) - 1, 0, -1):
        item = items[index]
        length = int(as_number(item.get("Length")) or 0)
        start = end - length
        if as_text(item.get("Semantic")) == "MotionPhoto" and length > 0 and start > 0:
            return start, length, "MotionPhoto"
        end = start - int(as_number(items[index - 1].get("Padding")) or 0)
    return None


_SAMSUNG_VIDEO = b"MotionPhoto_Data"


def samsung_trailer(read_at: ReadAt, file_size: int) -> tuple[int, int] | None:
    """(offset, length) of the MotionPhoto_Data block of a Samsung "SEFT" trailer.

    Layout (as ExifTool's Samsung.pm reads it): the file ends with the SEFH directory,
    its length (uint32 LE) and b"SEFT". Each 12-byte entry holds a type, the block's
    distance back from the directory start and its size; a block is 4 bytes, a name
    length (uint32 LE), the name, then the payload.
    """
    if file_size < 20:
        return None
    tail = read_at(file_size - 8, 8)
    if len(tail) != 8 or tail[4:] != b"SEFT":
        return None
    (dir_len,) = struct.unpack("<I", tail[:4])
    dir_pos = file_size - 8 - dir_len
    if not 12 <= dir_len < 0x10000 or dir_pos < 0:  # ExifTool's bound: never read far
        return None
    directory = read_at(dir_pos, dir_len)
    if len(directory) != dir_len or directory[:4] != b"SEFH":
        return None
    (count,) = struct.unpack_from("<I", directory, 8)
    for index in range(min(count, (dir_len - 12) // 12)):
        _, noff, size = struct.unpack_from("<III", directory, 12 + 12 * index)
        start = dir_pos - noff
        if noff > dir_pos or size > noff or size < 8:
            continue
        header = read_at(start, 8)
        if len(header) != 8:
            continue
        (name_len,) = struct.unpack_from("<I", header, 4)
        if name_len != len(_SAMSUNG_VIDEO) or name_len + 8 > size:
            continue
        if read_at(start + 8, name_len) == _SAMSUNG_VIDEO:
            return start + 8 + name_len, size - 8 - name_len
    return None


def looks_like_mp4(read_at: ReadAt, offset: int) -> bool:
    head = read_at(offset, 12)
    return len(head) == 12 and head[4:8] == b"ftyp"


def motion_photo(
    rec: dict[str, Any], read_at: ReadAt, file_size: int
) -> tuple[int, int, str] | None:
    """The embedded video of a still, verified by an MP4 `ftyp` box at the offset."""
    trailer = samsung_trailer(read_at, file_size)
    if trailer and looks_like_mp4(read_at, trailer[0]):
        return trailer[0], trailer[1], "Samsung"
    announced = motion_from_xmp(rec, file_size)
    if announced and looks_like_mp4(read_at, announced[0]):
        return announced
    return None


def with_motion(meta: MediaMetadata, rec: dict[str, Any], path: Path) -> MediaMetadata:
    """Add the embedded video of a motion photo (a few small reads at the file's end)."""
    try:
        with path.open("rb") as handle:

            def read_at(offset: int, length: int) -> bytes:
                if offset < 0 or length <= 0:
                    return b""
                handle.seek(offset)
                return handle.read(length)

            found = motion_photo(rec, read_at, os.fstat(handle.fileno()).st_size)
    except (OSError, struct.error) as exc:
        log.info("event=motion_check_failed path=%r error=%s", str(path), exc)
        return meta
    if found:
        meta.motion_offset, meta.motion_length, meta.extra["motion_photo"] = found
    return meta
