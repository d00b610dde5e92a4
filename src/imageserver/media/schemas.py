"""Response models of the media routes, and how the service's typed values become them."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, WithJsonSchema

from imageserver.media.model import Curation, DuplicateSet, FolderTree, ItemDetail, MediaItem

# A camera's wall-clock time: ISO 8601 without an offset, which OpenAPI's "date-time"
# (RFC 3339, offset required) does not describe.
LocalDateTime = Annotated[
    datetime,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?$",
            "description": "local date and time, no time zone (YYYY-MM-DDTHH:MM:SS[.ffffff])",
        }
    ),
]


class Gps(BaseModel):
    latitude: float
    longitude: float
    altitude: float | None = None


class PlaceInfo(BaseModel):
    """Where the item was taken (offline reverse geocoding of its GPS fix)."""

    country_code: str = Field(description='ISO 3166-1 alpha-2; "" at sea')
    country: str
    region: str = Field(description="first-level region: state, province, Land, nation")
    place: str | None = Field(description="nearest populated place (GeoNames) in the region")
    timezone: str | None = Field(description="IANA time zone at the fix")


class CurationInfo(BaseModel):
    """What people already wrote about the item (XMP sidecars, embedded XMP/IPTC, Google
    Takeout JSON), after the precedence user edit > sidecar > embedded > file system.
    `taken_at` and the GPS fix are set only where an edit or a sidecar overrides the file's
    own (an edit is also on the item itself: its `taken_at` and `gps`)."""

    rating: int | None = Field(description="-1 (rejected) .. 5")
    label: str | None = Field(description="colour label as written (Red, Green, ...)")
    title: str | None
    description: str | None
    tags: list[str] = Field(description='hierarchical levels joined by "/"')
    people: list[str]
    taken_at: LocalDateTime | None
    taken_at_offset_min: int | None
    gps: Gps | None
    sources: dict[str, str] = Field(description='field -> "edit" | "sidecar:<path>" | "embedded"')
    sidecars: list[str] = Field(description="library-relative paths of the sidecars read")


class MediaSummary(BaseModel):
    """One grid item: enough to draw a tile and sort it; details come from /media/{id}."""

    id: int
    library_id: int
    path: str = Field(description="library-relative path")
    name: str
    kind: str = Field(description="photo | video")
    format: str
    taken_at: LocalDateTime = Field(description="camera wall-clock time (no time zone)")
    taken_at_source: str = Field(
        description="where taken_at came from; file_mtime: no date in the file (a tile marks "
        "it); edit, xmp, takeout: a curated date shown in place of the file's"
    )
    width: int | None
    height: int | None
    duration: float | None
    content_hash: str | None
    companion_id: int | None = Field(description="the item this file belongs with, if any")
    companion_role: str | None = Field(description="raw | live")


class MediaDetail(MediaSummary):
    folder: str
    mime: str
    size: int
    mtime_ns: int
    taken_at_offset_min: int | None
    make: str | None
    model: str | None
    lens: str | None
    orientation: int | None
    gps: Gps | None
    iso: int | None
    f_number: float | None
    exposure_time: float | None
    focal_length: float | None
    video_codec: str | None
    audio_codec: str | None
    fps: float | None
    rotation: int | None
    meta_status: str
    meta_error: str | None
    hash_error: str | None
    motion_photo: bool = Field(description="a video is embedded in this still")
    companions: list[int] = Field(description="files linked to this one (RAW, live video)")
    thumbnail_status: str = Field(description="pending | done | failed | retry")
    thumbnail_error: str | None
    retired_at: float | None
    extra: dict[str, Any] | None
    place: PlaceInfo | None = None
    taken_at_utc: datetime | None = Field(
        default=None, description="taken_at as an instant, with the offset below"
    )
    taken_at_utc_offset_min: int | None = None
    taken_at_offset_source: str | None = Field(
        default=None, description="exif_offset | gps_zone | server_default"
    )
    favorite: bool = Field(default=False, description="the caller starred this item")
    archived: bool = Field(default=False, description="the caller archived this item")
    curation: CurationInfo | None = None


class MediaPage(BaseModel):
    items: list[MediaSummary]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class TimelineBucket(BaseModel):
    bucket: str = Field(description="YYYY-MM or YYYY-MM-DD")
    count: int


class DuplicateItem(BaseModel):
    id: int
    library_id: int
    path: str


class DuplicateGroup(BaseModel):
    content_hash: str
    size: int
    items: list[DuplicateItem]


class DuplicatesPage(BaseModel):
    groups: list[DuplicateGroup]
    total_groups: int


class Folder(BaseModel):
    name: str
    path: str = Field(description="library-relative folder path")
    count: int = Field(description="items in this folder and below")


class FolderListing(BaseModel):
    library_id: int
    parent: str = Field(description='the folder listed ("" is the library root)')
    count: int = Field(description="items in parent and below")
    direct: int = Field(description="items directly in parent")
    folders: list[Folder]


def summary(item: MediaItem) -> MediaSummary:
    return MediaSummary(
        id=item.id,
        library_id=item.library_id,
        path=item.rel_path,
        name=item.name,
        kind=item.kind,
        format=item.format,
        taken_at=item.taken_at,
        taken_at_source=item.taken_at_source,
        width=item.width,
        height=item.height,
        duration=item.duration,
        content_hash=item.content_hash,
        companion_id=item.companion_id,
        companion_role=item.companion_role,
    )


def detail(found: ItemDetail) -> MediaDetail:
    item, thumb = found.item, found.thumbnail
    gps = None
    if item.latitude is not None and item.longitude is not None:
        gps = Gps(latitude=item.latitude, longitude=item.longitude, altitude=item.altitude)
    base = summary(item).model_dump()
    return MediaDetail(
        **base,
        folder=item.folder,
        mime=item.mime,
        size=item.size,
        mtime_ns=item.mtime_ns,
        taken_at_offset_min=item.taken_at_offset_min,
        make=item.make,
        model=item.model,
        lens=item.lens,
        orientation=item.orientation,
        gps=gps,
        iso=item.iso,
        f_number=item.f_number,
        exposure_time=item.exposure_time,
        focal_length=item.focal_length,
        video_codec=item.video_codec,
        audio_codec=item.audio_codec,
        fps=item.fps,
        rotation=item.rotation,
        meta_status=item.meta_status,
        meta_error=item.meta_error,
        hash_error=item.hash_error,
        motion_photo=item.motion_offset is not None,
        companions=found.companions,
        thumbnail_status=thumb.status if thumb else "pending",
        thumbnail_error=thumb.detail if thumb and thumb.status != "done" else None,
        retired_at=item.retired_at,
        extra=item.extra,
        place=PlaceInfo(**asdict(found.place)) if found.place else None,
        taken_at_utc=found.time.utc if found.time else None,
        taken_at_utc_offset_min=found.time.offset_min if found.time else None,
        taken_at_offset_source=found.time.source if found.time else None,
        favorite=found.favorite,
        archived=found.archived,
        curation=curation_info(found.curation) if found.curation else None,
    )


def curation_info(c: Curation) -> CurationInfo:
    gps = None
    if c.latitude is not None and c.longitude is not None:
        gps = Gps(latitude=c.latitude, longitude=c.longitude, altitude=None)
    return CurationInfo(
        rating=c.rating,
        label=c.label,
        title=c.title,
        description=c.description,
        tags=c.tags,
        people=c.people,
        taken_at=c.taken_at,
        taken_at_offset_min=c.taken_at_offset_min,
        gps=gps,
        sources=c.sources,
        sidecars=c.sidecars,
    )


def duplicates_page(sets: list[DuplicateSet], total: int) -> DuplicatesPage:
    return DuplicatesPage(
        total_groups=total,
        groups=[
            DuplicateGroup(
                content_hash=s.content_hash,
                size=s.size,
                items=[
                    DuplicateItem(id=m.id, library_id=m.library_id, path=m.rel_path)
                    for m in s.members
                ],
            )
            for s in sets
        ],
    )


def folder_listing(library_id: int, tree: FolderTree) -> FolderListing:
    return FolderListing(
        library_id=library_id,
        parent=tree.parent,
        count=tree.count,
        direct=tree.direct,
        folders=[Folder(name=f.name, path=f.path, count=f.count) for f in tree.folders],
    )
