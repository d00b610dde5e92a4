"""Effective curation of one item: user edit > sidecar > embedded > file system.

The household's edits (curation/edits_service.py) are the first layer (source "edit"):
a field they set wins, a field they cleared (or never set) falls through to the next
source. An edit of the tags to an empty list states "no tags" and wins too.

Field by field, the first source that states a value wins. Among sidecars, `name.ext.xmp`
outranks a shared `name.xmp`, which outranks Takeout JSON (the XMP is what a photo tool
wrote last; Takeout is an export). Tags are taken whole from the first source that has
any, not merged: removing a keyword in Lightroom must remove it here too.

Date and place: the file's own (media/metadata/) stays unless a sidecar states one. An
XMP date (wall clock with its offset) wins over the file's; a Takeout date is an instant
without its zone, so it only fills in for a file that has no date of its own
(`taken_at_source` "file_mtime"). A sidecar's GPS (XMP or Takeout `geoData`, which holds
the place a user set in Google Photos) wins over the file's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from imageserver.curation.fields import Fields
from imageserver.curation.names import TAKEOUT, XMP

SCALARS = ("rating", "label", "title", "description")
EDIT = "edit"  # the source and kind of the household's edits


@dataclass(frozen=True)
class Layer:
    source: str  # "edit" | "sidecar:<path>" | "embedded"
    kind: str  # edit | xmp | takeout | embedded
    fields: Fields
    stated: frozenset[str] = frozenset()  # list fields whose empty value still counts


@dataclass
class Effective:
    values: Fields = field(default_factory=Fields)
    sources: dict[str, str] = field(default_factory=dict)


def sidecar_rank(kind: str, is_specific: bool) -> int:
    if kind == XMP:
        return 0 if is_specific else 1
    return 2 if kind == TAKEOUT else 3


def merge(layers: list[Layer], *, file_has_date: bool) -> Effective:
    """`layers` highest precedence first (edits, sidecars by rank, embedded)."""
    out = Effective()
    v = out.values
    for name in SCALARS:
        for layer in layers:
            value = getattr(layer.fields, name)
            if value is not None:
                setattr(v, name, value)
                out.sources[name] = layer.source
                break
    for name in ("tags", "people", "regions"):
        for layer in layers:
            if getattr(layer.fields, name) or name in layer.stated:
                setattr(v, name, list(getattr(layer.fields, name)))
                out.sources[name] = layer.source
                break
    for layer in layers:
        if layer.kind == "embedded" or layer.fields.taken_at is None:
            continue
        if layer.kind == TAKEOUT and file_has_date:
            continue
        v.taken_at, v.offset_min = layer.fields.taken_at, layer.fields.offset_min
        out.sources["taken_at"] = layer.source
        break
    for layer in layers:
        if layer.kind == "embedded" or layer.fields.latitude is None:
            continue
        v.latitude, v.longitude = layer.fields.latitude, layer.fields.longitude
        out.sources["gps"] = layer.source
        break
    return out
