"""Request and response bodies of the collections routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from imageserver.inputs import FOLDER_PATTERN, PRINTABLE, TEXT, DbId, IsoDateTimeText
from imageserver.media.schemas import LocalDateTime, MediaSummary

Role = Literal["viewer", "editor"]
SortOrder = Literal["taken_asc", "taken_desc", "added"]
MAX_IDS = 5000


class MarkOut(BaseModel):
    media_id: int
    favorite: bool | None = None
    archived: bool | None = None


class BulkMark(BaseModel):
    ids: list[DbId] = Field(min_length=1, max_length=MAX_IDS)
    value: StrictBool = True


class Selection(BaseModel):
    ids: list[DbId] = Field(min_length=1, max_length=MAX_IDS)


class BulkMarkOut(BaseModel):
    changed: int


class FromFolder(BaseModel):
    library: DbId
    path: str = Field(default="", max_length=4096, pattern=FOLDER_PATTERN)


class AlbumCreate(BaseModel):
    # what `_named` enforces, stated in the OpenAPI document
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["name"], "properties": {"name": {"type": "string"}}},
                {"required": ["from_folder"], "properties": {"from_folder": {"type": "object"}}},
            ]
        }
    )

    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=PRINTABLE)
    description: str = Field(default="", max_length=10_000, pattern=TEXT)
    sort_order: SortOrder = "taken_asc"
    from_folder: FromFolder | None = None

    @model_validator(mode="after")
    def _named(self) -> AlbumCreate:
        if self.name is None and self.from_folder is None:
            raise ValueError("name is required (unless the album is made from a folder)")
        return self


class AlbumPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=PRINTABLE)
    description: str | None = Field(default=None, max_length=10_000, pattern=TEXT)
    sort_order: SortOrder | None = None
    cover_media_id: DbId | None = None


class ItemIds(BaseModel):
    ids: list[DbId] = Field(min_length=1, max_length=MAX_IDS)


class ItemsChanged(BaseModel):
    changed: int
    item_count: int


class MemberIn(BaseModel):
    user_id: DbId
    role: Role = "viewer"


class MemberOut(BaseModel):
    user_id: int
    username: str
    role: str


class Owner(BaseModel):
    id: int
    username: str


class AlbumOut(BaseModel):
    id: int
    name: str
    description: str
    owner: Owner
    role: Literal["owner", "editor", "viewer"]
    sort_order: str
    cover_media_id: int | None
    item_count: int
    date_from: LocalDateTime | None  # camera wall-clock times of the first and last item
    date_to: LocalDateTime | None
    created_at: float
    updated_at: float


class AlbumDetail(AlbumOut):
    members: list[MemberOut]
    items: list[MediaSummary]


class MemoryItem(BaseModel):
    item: MediaSummary
    favorite: bool


class MemoryYear(BaseModel):
    year: int
    years_ago: int
    items: list[MemoryItem]


class Memories(BaseModel):
    date: str
    window_days: int
    years: list[MemoryYear]


# --- share links ---------------------------------------------------------------------------


class ShareCreate(BaseModel):
    # exactly one target (what `shares.create` enforces), stated in the OpenAPI document
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["album_id"],
                    "properties": {"album_id": {"type": "integer"}, "media_ids": {"maxItems": 0}},
                },
                {
                    "required": ["media_ids"],
                    "properties": {"album_id": {"type": "null"}, "media_ids": {"minItems": 1}},
                },
            ]
        }
    )

    album_id: DbId | None = None
    media_ids: list[DbId] = Field(default_factory=list, max_length=MAX_IDS)
    expires_at: IsoDateTimeText | None = None
    password: str | None = Field(default=None, min_length=4, max_length=200)
    allow_download: StrictBool = False
    show_metadata: StrictBool = False


class ShareOut(BaseModel):
    id: int
    token: str
    url: str
    album_id: int | None
    album_name: str | None
    item_count: int | None  # a fixed list's size; an album link follows the album
    expires_at: float | None
    has_password: bool
    allow_download: bool
    show_metadata: bool
    view_count: int
    last_viewed_at: float | None
    created_at: float


class Unlock(BaseModel):
    password: str = Field(min_length=1, max_length=200)


class UnlockOut(BaseModel):
    key: str
    expires_in: float


class SharedMeta(BaseModel):
    make: str | None
    model: str | None
    lens: str | None
    latitude: float | None
    longitude: float | None
    altitude: float | None
    iso: int | None
    f_number: float | None
    exposure_time: float | None
    focal_length: float | None


class SharedItem(BaseModel):
    id: int
    kind: str
    name: str
    taken_at: LocalDateTime
    width: int | None
    height: int | None
    duration: float | None
    thumbnail_url: str
    original_url: str | None
    metadata: SharedMeta | None
    stream_url: str | None = Field(
        default=None,
        description="a video's HLS playlist with a short-lived stream token (videos only)",
    )


class SharedPage(BaseModel):
    name: str
    description: str
    item_count: int
    allow_download: bool
    show_metadata: bool
    expires_at: float | None
    download_url: str | None
    items: list[SharedItem]
