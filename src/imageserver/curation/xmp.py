"""exiftool's answer for an XMP sidecar or a media file's embedded XMP/IPTC -> Fields.

The tags asked for (TAG_OPTIONS) are the ones Lightroom, darktable, digiKam, Capture One
and Windows write: xmp:Rating and xmp:Label, dc:title/description/subject,
lr:hierarchicalSubject ("a|b|c"), digiKam:TagsList ("a/b/c"), IPTC keywords and
captions, dates with their offsets, GPS, and MWG / Microsoft face regions (names and
boxes, read as structures: regions.py). With `-struct` exiftool answers the regions as one
structure each and no longer as flattened `RegionName` lists, which lose the pairing of a
name with its box when a region has no name.
"""

from __future__ import annotations

from typing import Any

from imageserver.curation import fields, regions
from imageserver.curation.fields import Fields

TAGS = (
    "XMP-xmp:Rating",
    "XMP-xmp:Label",
    "XMP-dc:Title",
    "XMP-dc:Description",
    "XMP-dc:Subject",
    "XMP-lr:HierarchicalSubject",
    "XMP-digiKam:TagsList",
    "XMP-exif:DateTimeOriginal",
    "XMP-photoshop:DateCreated",
    "XMP-xmp:CreateDate",
    "XMP-exif:GPSLatitude",
    "XMP-exif:GPSLongitude",
    "XMP-mwg-rs:RegionInfo",
    "XMP-MP:RegionInfoMP",
    "IPTC:Keywords",
    "IPTC:ObjectName",
    "IPTC:Caption-Abstract",
)
TAG_OPTIONS = ("-struct", *(f"-{tag}" for tag in TAGS))
DATE_TAGS = ("XMP-exif:DateTimeOriginal", "XMP-photoshop:DateCreated", "XMP-xmp:CreateDate")


def from_record(record: dict[str, Any], *, dates: bool = True) -> Fields:
    """`dates` False for embedded metadata: the file's own date and GPS are already the
    media row's (media/metadata/), only the curation fields are new here."""
    out = Fields(
        rating=fields.rating(record.get("XMP-xmp:Rating")),
        label=fields.text(record.get("XMP-xmp:Label")),
        title=fields.text(record.get("XMP-dc:Title")) or fields.text(record.get("IPTC:ObjectName")),
        description=fields.text(record.get("XMP-dc:Description"))
        or fields.text(record.get("IPTC:Caption-Abstract")),
    )
    hierarchical = [s.split("|") for s in fields.strings(record.get("XMP-lr:HierarchicalSubject"))]
    hierarchical += [s.split("/") for s in fields.strings(record.get("XMP-digiKam:TagsList"))]
    flat = fields.strings(record.get("XMP-dc:Subject")) + fields.strings(
        record.get("IPTC:Keywords")
    )
    out.tags = fields.tag_paths(flat, hierarchical)
    out.people, out.regions = regions.from_record(record)
    if dates:
        for tag in DATE_TAGS:
            found = fields.date(record.get(tag))
            if found is not None:
                out.taken_at, out.offset_min = found
                break
        lat = fields.coordinate(record.get("XMP-exif:GPSLatitude"), 90)
        lon = fields.coordinate(record.get("XMP-exif:GPSLongitude"), 180)
        if lat is not None and lon is not None:
            out.latitude, out.longitude = lat, lon
    return out
