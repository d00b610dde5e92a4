"""Typed values of the media read side: the filter a listing takes, the rows it returns.

These cross module boundaries (query.py builds them from SQL rows, service.py applies the
rules to them, api.py / folders.py / schemas.py turn them into responses), so they are
frozen dataclasses with named, typed fields instead of `row["..."]` lookups spread over
every layer. A field here is a promise of the query: query.py selects exactly the
fields of MediaItem, so a renamed column fails at the query, not in a response.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

Order = Literal["desc", "asc"]
Granularity = Literal["month", "day"]


@dataclass(frozen=True)
class MediaFilter:
    """What a grid listing (and its timeline) is narrowed to; every field optional."""

    library_ids: tuple[int, ...] = ()
    folder: str | None = None
    recursive: bool = True
    date_from: datetime | None = None
    date_to: datetime | None = None  # exclusive
    camera: str | None = None
    kind: str | None = None
    has_gps: bool | None = None
    person_id: int | None = None
    include_companions: bool = False
    # Per-user marks (albums feature tables): whose marks, and what to keep. With a user
    # and `archived` None, archived items leave the listing unless a folder is browsed.
    user_id: int | None = None
    favorite: bool | None = None
    archived: bool | None = None
    # places (the places drain's answers): ISO country code, first-level region, place name
    country: str | None = None
    region: str | None = None
    place: str | None = None
    # curation (curation/): a tag and every tag below it ("Places" matches "Places/Paris")
    tag: str | None = None
    # Files whose thumbnail could not be made for good (the "Could not read" view): with
    # None they leave the timeline, as archived items do, unless a folder is browsed.
    unreadable: bool | None = None


def as_start(value: date | datetime | None) -> datetime | None:
    """taken_at is a camera's wall clock: a bound's time zone, if any, is dropped."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return datetime.combine(value, time.min)


def as_end(value: date | datetime | None) -> datetime | None:
    """A date `to` includes that whole day; a datetime is an exclusive bound."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if value == date.max:
        return None  # "up to the last day there is": no bound (the next day overflows)
    return datetime.combine(value, time.min) + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class MediaItem:
    """One live media row as the routes show it (grid tile and detail view).

    Drain bookkeeping (attempts, retry times, leases) is left out on purpose: no response
    shows it, and a route that needs it should not read it through this type.
    """

    id: int
    library_id: int
    rel_path: str
    folder: str
    name: str
    kind: str
    format: str
    mime: str
    size: int
    mtime_ns: int
    taken_at: datetime
    taken_at_offset_min: int | None
    taken_at_source: str
    taken_at_utc: datetime  # the instant the grid sorts by (naive UTC)
    make: str | None
    model: str | None
    lens: str | None
    width: int | None
    height: int | None
    orientation: int | None
    latitude: float | None
    longitude: float | None
    altitude: float | None
    iso: int | None
    f_number: float | None
    exposure_time: float | None
    focal_length: float | None
    duration: float | None
    video_codec: str | None
    audio_codec: str | None
    fps: float | None
    rotation: int | None
    content_hash: str | None
    meta_status: str
    meta_error: str | None
    hash_error: str | None
    companion_id: int | None
    companion_role: str | None
    motion_offset: int | None
    retired_at: float | None
    extra: dict[str, Any] | None


ITEM_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(MediaItem))


@dataclass(frozen=True, slots=True)
class ArtefactState:
    """A derived artefact's state (the thumbnail's, for the detail view and its route)."""

    status: str  # pending | done | failed | retry
    detail: str | None


@dataclass(frozen=True, slots=True)
class PlaceName:
    """Where an item was taken, as the places drain found it (`places` table)."""

    country_code: str  # "" at sea
    country: str
    region: str
    place: str | None
    timezone: str | None  # IANA zone at the GPS fix


@dataclass(frozen=True, slots=True)
class LocalTime:
    """`taken_at` as an instant, and where its UTC offset came from."""

    utc: datetime  # aware, UTC
    offset_min: int
    source: str  # exif_offset | gps_zone | server_default


@dataclass(frozen=True, slots=True)
class Curation:
    """Effective curation of an item (curation/precedence.py) and the sidecars it read."""

    rating: int | None
    label: str | None
    title: str | None
    description: str | None
    tags: list[str]
    people: list[str]
    taken_at: datetime | None
    taken_at_offset_min: int | None
    latitude: float | None
    longitude: float | None
    sources: dict[str, str]
    sidecars: list[str]


@dataclass(frozen=True, slots=True)
class ItemDetail:
    """An item with what its detail view adds: linked files and the thumbnail's state."""

    item: MediaItem
    companions: list[int]
    thumbnail: ArtefactState | None
    place: PlaceName | None = None
    time: LocalTime | None = None
    favorite: bool = False
    archived: bool = False
    curation: Curation | None = None


@dataclass(frozen=True, slots=True)
class ItemPage:
    items: list[MediaItem]
    next_cursor: str | None  # None on the last page


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a keyset page ended: the last item's (taken_at_utc, id)."""

    taken_at: datetime  # the sort instant, naive UTC
    id: int


@dataclass(frozen=True, slots=True)
class DuplicateMember:
    id: int
    library_id: int
    rel_path: str


@dataclass(frozen=True, slots=True)
class DuplicateSet:
    """Live paths sharing one content hash; `size` is the largest member's."""

    content_hash: str
    size: int
    members: list[DuplicateMember]


@dataclass(frozen=True, slots=True)
class OriginalFile:
    """The original of an item, resolved inside its library root and ready to be served."""

    path: Path
    mime: str
    name: str


@dataclass(frozen=True, slots=True)
class FolderCount:
    name: str
    path: str  # library-relative
    count: int  # items in this folder and below


@dataclass(frozen=True, slots=True)
class FolderTree:
    """One level of folder browsing: `parent` with its immediate sub-folders."""

    parent: str  # "" is the library root
    count: int  # items in parent and below
    direct: int  # items directly in parent
    folders: list[FolderCount]
