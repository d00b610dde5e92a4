"""When a photo or video was taken: exiftool date strings, UTC offsets, and which tag wins.

Files carry up to a dozen dates (EXIF original, digitized, XMP, IPTC, QuickTime, PNG) in
several spellings, some zero or impossible, some with a zone and most without. The order
of trust and the offset-borrowing rule live here so a wrong date is fixed in one place.

Precedence (`taken_at_source` names the winner):
1. the file's own tags, in `DATE_SOURCES` order: EXIF DateTimeOriginal, XMP
   exif:DateTimeOriginal, video creation dates, maker-note DateTimeOriginal (Reconyx, FLIR),
   digitized / IPTC / XMP create dates, then the GPS fix's UTC time (EXIF GPSDateStamp +
   GPSTimeStamp as "GPS:GPSDateTime", XMP exif:GPSDateTime), QuickTime CreateDate (UTC) and
   PNG CreationTime;
2. a date in the file name (`date_from_name`): "FileName:DateTime", or "FileName:Date" when
   the name has a day but no time (WhatsApp's IMG-20200130-WA0001.jpg), at midnight;
3. the file's modification time, "file_mtime" (written by the drain, not here).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from imageserver.media.metadata.values import as_text

_DATE = re.compile(
    r"^\s*(\d{4})[:-](\d{2})[:-](\d{2})"
    r"(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?\s*$"
)


def parse_offset(value: Any) -> int | None:
    """'+05:30' -> 330, '-0400' -> -240, 'Z' -> 0; None when absent or malformed."""
    text = as_text(value)
    if text is None:
        return None
    if text.upper() == "Z":
        return 0
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text)
    if not match:
        return None
    minutes = int(match[2]) * 60 + int(match[3])
    if minutes > 14 * 60 or int(match[3]) >= 60:
        return None
    return -minutes if match[1] == "-" else minutes


EARLIEST = datetime(1826, 1, 1)  # the first photograph; earlier dates are garbage
FUTURE_SLACK = timedelta(days=1)  # camera clocks in a zone ahead of ours

_EPOCH_ZEROS = frozenset({datetime(1904, 1, 1), datetime(1970, 1, 1)})


def parse_datetime(value: Any) -> tuple[datetime, int | None] | None:
    """An exiftool date ('2020:05:04 18:39:11.644-04:00', '2003:08:31', ...) as (naive wall
    clock, offset minutes or None); None for zero, blank or impossible dates."""
    text = as_text(value)
    match = _DATE.match(text) if text else None
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if int(year) < 1800:  # '0000:00:00 00:00:00': exiftool's spelling of "not set"
        return None
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        parsed = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
        )
    except ValueError:
        return None
    if parsed in _EPOCH_ZEROS:  # a zero timestamp (QuickTime / Unix epoch), not a date
        return None
    return parsed, parse_offset(offset) if offset else None


def _subsec(value: Any) -> timedelta:
    digits = re.sub(r"\D", "", as_text(value) or "")[:6]
    return timedelta(microseconds=int(digits.ljust(6, "0"))) if digits else timedelta()


def _family(group: str) -> str:
    if group in ("ExifIFD", "IFD0", "SubIFD"):
        return "EXIF"
    if group.startswith("XMP"):
        return "XMP"
    if group in ("Keys", "UserData", "ItemList", "QuickTime"):
        return "QuickTime"
    return group


# (exiftool key, its offset tag, its sub-second tag) in order of trust. EXIF original
# first; Keys:CreationDate (local time + offset) before QuickTime:CreateDate (UTC).
DATE_SOURCES: tuple[tuple[str, str | None, str | None], ...] = (
    ("ExifIFD:DateTimeOriginal", "ExifIFD:OffsetTimeOriginal", "ExifIFD:SubSecTimeOriginal"),
    ("IFD0:DateTimeOriginal", None, None),
    ("XMP-exif:DateTimeOriginal", None, None),
    ("Keys:CreationDate", None, None),
    ("UserData:DateTimeOriginal", None, None),
    ("ItemList:ContentCreateDate", None, None),
    ("UserData:ContentCreateDate", None, None),
    ("*:DateTimeOriginal", None, None),  # maker notes (FLIR), RIFF, Matroska, ...
    ("ExifIFD:CreateDate", "ExifIFD:OffsetTimeDigitized", "ExifIFD:SubSecTimeDigitized"),
    ("XMP-photoshop:DateCreated", None, None),
    ("IPTC:DateCreated", None, None),
    ("XMP-xmp:CreateDate", None, None),
    ("XMP-exif:DateTimeDigitized", None, None),
    ("GPS:GPSDateTime", None, None),  # built from GPSDateStamp + GPSTimeStamp (UTC)
    ("XMP-exif:GPSDateTime", None, None),
    ("QuickTime:CreateDate", None, None),
    ("PNG:CreationTime", None, None),
)
_UTC_SOURCES = frozenset({"QuickTime:CreateDate", "GPS:GPSDateTime", "XMP-exif:GPSDateTime"})


def _date_candidates(rec: dict[str, Any]) -> Iterator[tuple[str, Any, str | None, str | None]]:
    explicit = {key for key, _, _ in DATE_SOURCES}
    for key, offset_key, subsec_key in DATE_SOURCES:
        if key.startswith("*:"):
            suffix = key[1:]
            for other in rec:
                if other.endswith(suffix) and other not in explicit:
                    yield other, rec[other], None, None
        elif key in rec:
            value = rec[key]
            if key == "IPTC:DateCreated" and "IPTC:TimeCreated" in rec:
                value = f"{value} {rec['IPTC:TimeCreated']}"
            yield key, value, offset_key, subsec_key
        elif key == "GPS:GPSDateTime" and "GPS:GPSDateStamp" in rec and "GPS:GPSTimeStamp" in rec:
            value = f"{as_text(rec['GPS:GPSDateStamp'])} {as_text(rec['GPS:GPSTimeStamp'])}"
            yield key, value, None, None


def taken_at(rec: dict[str, Any]) -> tuple[datetime, int | None, str] | None:
    """(wall clock, offset minutes, source) from the most trusted valid date tag.

    Invalid dates fall through to the next tag. A date without an offset borrows one from
    another tag that states the same wall-clock second with an offset (Lightroom writes
    the EXIF date again in XMP with its zone).
    """
    parsed: list[tuple[str, datetime, int | None]] = []
    chosen: tuple[str, datetime, int | None] | None = None
    for key, value, offset_key, subsec_key in _date_candidates(rec):
        result = parse_datetime(value)
        if result is None:
            continue
        when, offset = result
        if not EARLIEST <= when <= datetime.now() + FUTURE_SLACK:
            continue  # a reset or garbage clock: the next tag may know better
        if offset is None and offset_key is not None:
            offset = parse_offset(rec.get(offset_key))
        if subsec_key is not None and when.microsecond == 0:
            when += _subsec(rec.get(subsec_key))
        if offset is None and key in _UTC_SOURCES:
            offset = 0
        parsed.append((key, when, offset))
        if chosen is None:
            chosen = parsed[-1]
    if chosen is None:
        return None
    key, when, offset = chosen
    if offset is None:
        second = when.replace(microsecond=0)
        offset = next(
            (
                o
                for k, w, o in parsed
                if o is not None and k not in _UTC_SOURCES and w.replace(microsecond=0) == second
            ),
            None,
        )
    group, _, name = key.partition(":")
    return when, offset, f"{_family(group)}:{name}"


# A day in a file name: camera and app names (IMG_20190704_121314, PXL_20230102_123456789,
# telegram_2020-01-30_09-57-18, "Screenshot 2021-05-06 at 10.11.12", IMG-20200130-WA0001).
# The date's separators must agree; a time must follow the date directly.
_NAME_DATE = re.compile(
    r"(?<![0-9])((?:19|20)[0-9]{2})([-_.]?)([0-9]{2})\2([0-9]{2})"
    r"(?:(?:[ _T.-]|[ _]at[ _])([0-9]{2})([-_.:]?)([0-9]{2})\6([0-9]{2})(?:[0-9]{0,3})(?![0-9]))?"
    r"(?![0-9])"
)
NAME_EARLIEST = datetime(1990, 1, 1)  # digital file names with dates start about here


def date_from_name(name: str, *, now: datetime | None = None) -> tuple[datetime, str] | None:
    """(wall clock, source) from a date in a file name; None when it has none or an
    impossible one (a future day, before 1990). A name with a day but no time gives
    midnight and the source "FileName:Date"."""
    latest = (now or datetime.now()) + timedelta(days=1)
    for match in _NAME_DATE.finditer(name):
        year, _, month, day, hour, _, minute, second = match.groups()
        try:
            day_only = datetime(int(year), int(month), int(day))
            when = (
                day_only.replace(hour=int(hour), minute=int(minute), second=int(second))
                if hour is not None
                else day_only
            )
        except ValueError:
            continue
        if not NAME_EARLIEST <= when <= latest:
            continue
        return when, "FileName:DateTime" if hour is not None else "FileName:Date"
    return None
