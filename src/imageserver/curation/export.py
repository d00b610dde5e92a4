"""Export the effective curation as standard XMP sidecars, so it goes to any other tool.

Written with exiftool (media/exiftool.write_batch, through proc.py) under
`<data dir>/export/xmp/<library id>/<relative path>.xmp`, never beside the originals:
a library root is only ever read. The tags are the ones photo tools read back:
xmp:Rating and xmp:Label, dc:title/description, dc:subject (every level) and
lr:hierarchicalSubject ("a|b|c"), exif:DateTimeOriginal with its offset, exif GPS, and
Iptc4xmpExt:PersonInImage. A sidecar is written whole each time (the old one removed
first), so a cleared field leaves the export too.
"""

from __future__ import annotations

import html
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from imageserver.db.tables import curation_items, item_tags, libraries, media
from imageserver.media import exiftool
from imageserver.proc import ToolError
from imageserver.work.scope import Scope

log = logging.getLogger("imageserver.curation")

CHUNK = 200


@dataclass
class Item:
    library_id: int
    rel_path: str
    rating: int | None = None
    label: str | None = None
    title: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    taken_at: datetime | None = None
    offset_min: int | None = None
    latitude: float | None = None
    longitude: float | None = None


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def export_libraries(conn: Connection, scope: Scope, library_id: int | None) -> list[int]:
    query = select(libraries.c.id).where(scope.where(libraries.c.id)).order_by(libraries.c.id)
    if library_id is not None:
        query = query.where(libraries.c.id == library_id)
    return [int(r.id) for r in conn.execute(query)]


def items(conn: Connection, library_id: int, since: float | None) -> list[Item]:
    """Live items of a library with curation (changed at or after `since`), with their
    effective values. A date or GPS fix only the file states is not repeated: every
    tool reads it from the file."""
    query = (
        select(media.c.id, media.c.rel_path, curation_items)
        .select_from(media.join(curation_items, curation_items.c.media_id == media.c.id))
        .where(media.c.library_id == library_id, media.c.retired_at.is_(None))
        .order_by(media.c.id)
    )
    if since is not None:
        query = query.where(curation_items.c.updated_at >= since)
    rows = list(conn.execute(query).mappings())
    tags: dict[int, list[str]] = {}
    ids = [int(r["id"]) for r in rows]
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        found = select(item_tags.c.media_id, item_tags.c.tag).where(item_tags.c.media_id.in_(part))
        for media_id, tag in conn.execute(found.order_by(item_tags.c.tag)):
            tags.setdefault(int(media_id), []).append(str(tag))
    out = []
    for r in rows:
        item = Item(library_id, r["rel_path"], r["rating"], r["label"], r["title"], r["description"])
        item.tags = tags.get(int(r["id"]), [])
        item.people = list(_json(r["people"]) or [])
        item.taken_at, item.offset_min = r["taken_at"], r["taken_at_offset_min"]
        item.latitude, item.longitude = r["latitude"], r["longitude"]
        out.append(item)
    return out


def _value(text: str) -> str:
    """A value for exiftool's -E (HTML entities): line breaks survive the argument file."""
    return html.escape(text, quote=False).replace("\r", "&#13;").replace("\n", "&#10;")


def _date(when: datetime, offset_min: int | None) -> str:
    text = when.strftime("%Y:%m:%d %H:%M:%S")
    if offset_min is None:
        return text
    sign = "-" if offset_min < 0 else "+"
    hours, minutes = divmod(abs(offset_min), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


def tag_args(item: Item) -> list[str]:
    """exiftool assignments for one item's sidecar (pure: tested without exiftool)."""
    args = ["-E"]
    if item.rating is not None:
        args.append(f"-XMP-xmp:Rating={item.rating}")
    if item.label:
        args.append(f"-XMP-xmp:Label={_value(item.label)}")
    if item.title:
        args.append(f"-XMP-dc:Title={_value(item.title)}")
    if item.description:
        args.append(f"-XMP-dc:Description={_value(item.description)}")
    levels: list[str] = []
    for tag in item.tags:
        parts = tag.split("/")
        levels += [p for p in parts if p not in levels]
        args.append(f"-XMP-lr:HierarchicalSubject={_value('|'.join(parts))}")
    args += [f"-XMP-dc:Subject={_value(level)}" for level in levels]
    args += [f"-XMP-iptcExt:PersonInImage={_value(p)}" for p in item.people]
    if item.taken_at is not None:
        args.append(f"-XMP-exif:DateTimeOriginal={_date(item.taken_at, item.offset_min)}")
    if item.latitude is not None and item.longitude is not None:
        args += [
            f"-XMP-exif:GPSLatitude={item.latitude}",
            f"-XMP-exif:GPSLongitude={item.longitude}",
        ]
    return args


def target(base: Path, item: Item) -> Path | None:
    """`<base>/<library id>/<relative path>.xmp`, or None for a path that would leave it."""
    folder = base / str(item.library_id)
    rel = item.rel_path
    if "\n" in rel or "\r" in rel or rel.startswith("/") or "\x00" in rel:
        return None
    out = Path(os.path.normpath(folder / f"{rel}.xmp"))
    return out if out.is_relative_to(folder) and out != folder else None


@dataclass
class Counts:
    written: int = 0
    failed: int = 0


def write(base: Path, found: list[Item], counts: Counts) -> None:
    """Write the sidecars of these items, a chunk per exiftool run."""
    for start in range(0, len(found), CHUNK):
        chunk = []
        for item in found[start : start + CHUNK]:
            path = target(base, item)
            if path is None:
                counts.failed += 1
                continue
            path.unlink(missing_ok=True)
            args = tag_args(item)
            if args != ["-E"]:  # nothing to say: no sidecar
                chunk.append((path, [*args, "-o", str(path)]))
        if not chunk:
            continue
        try:
            stderr = exiftool.write_batch([c for _, c in chunk], base.parent / "tmp")
        except (ToolError, ValueError) as exc:
            log.warning("event=export_xmp_failed files=%d error=%s", len(chunk), exc)
            stderr = ""
        if stderr.strip():
            log.info("event=export_xmp_messages text=%r", stderr[:2000])
        done = sum(1 for path, _ in chunk if path.is_file())
        counts.written += done
        counts.failed += len(chunk) - done
