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

import hashlib
import html
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection

from imageserver.curation import repo
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


def export_libraries(conn: Connection, scope: Scope, library_id: int | None) -> list[int]:
    return repo.library_ids(conn, scope, library_id)


def items(conn: Connection, library_id: int, since: float | None) -> list[Item]:
    """Live items of a library with curation (changed at or after `since`), with their
    effective values. A date or GPS fix only the file states is not repeated: every
    tool reads it from the file."""
    rows = repo.curated(conn, library_id, since)
    tags = repo.tags_of(conn, [int(r["id"]) for r in rows])
    out = []
    for r in rows:
        item = Item(library_id, r["rel_path"], r["rating"], r["label"], r["title"])
        item.description = r["description"]
        item.tags = tags.get(int(r["id"]), [])
        item.people = list(r["people"] or [])
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
    unchanged: int = 0  # the sidecar already says exactly this
    failed: int = 0


def manifest_path(base: Path, library_id: int) -> Path:
    """What was last written for a library (sidecar path -> digest of its arguments),
    beside the library's export folder so that folder holds sidecars only."""
    return base / f"{library_id}.manifest.json"


def _load(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _save(path: Path, manifest: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(manifest, sort_keys=True), encoding="utf-8")
    os.replace(temp, path)


def digest(args: list[str]) -> str:
    return hashlib.sha256("\n".join(args).encode("utf-8", "surrogatepass")).hexdigest()


def write(base: Path, library_id: int, found: list[Item], counts: Counts) -> None:
    """Write the sidecars of these items, a chunk per exiftool run. A sidecar that would
    say what it already says is left alone: an export of an unchanged library starts no
    exiftool. An item with nothing left to say loses its sidecar."""
    manifest_file = manifest_path(base, library_id)
    manifest = _load(manifest_file)
    for start in range(0, len(found), CHUNK):
        chunk = []
        for item in found[start : start + CHUNK]:
            path = target(base, item)
            if path is None:
                counts.failed += 1
                continue
            args = tag_args(item)
            key, sign = str(path.relative_to(base)), digest(args)
            if manifest.get(key) == sign and path.is_file():
                counts.unchanged += 1
                continue
            path.unlink(missing_ok=True)
            manifest.pop(key, None)
            if args != ["-E"]:  # nothing to say: no sidecar
                chunk.append((path, key, sign, [*args, "-o", str(path)]))
        if not chunk:
            continue
        try:
            stderr = exiftool.write_batch([c[3] for c in chunk], base.parent / "tmp")
        except (ToolError, ValueError) as exc:
            log.warning("event=export_xmp_failed files=%d error=%s", len(chunk), exc)
            stderr = ""
        if stderr.strip():
            log.info("event=export_xmp_messages text=%r", stderr[:2000])
        for path, key, sign, _ in chunk:
            if path.is_file():
                manifest[key] = sign
                counts.written += 1
            else:
                counts.failed += 1
    _save(manifest_file, manifest)
