"""Response models of the media routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, WithJsonSchema
from sqlalchemy import RowMapping

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


class MediaSummary(BaseModel):
    """One grid item: enough to draw a tile and sort it; details come from /media/{id}."""

    id: int
    library_id: int
    path: str = Field(description="library-relative path")
    name: str
    kind: str = Field(description="photo | video")
    format: str
    taken_at: LocalDateTime = Field(description="camera wall-clock time (no time zone)")
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
    taken_at_source: str
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


def summary(row: RowMapping) -> MediaSummary:
    return MediaSummary(
        id=row["id"],
        library_id=row["library_id"],
        path=row["rel_path"],
        name=row["name"],
        kind=row["kind"],
        format=row["format"],
        taken_at=row["taken_at"],
        width=row["width"],
        height=row["height"],
        duration=row["duration"],
        content_hash=row["content_hash"],
        companion_id=row["companion_id"],
        companion_role=row["companion_role"],
    )


def detail(row: RowMapping, companions: list[int], thumb: RowMapping | None) -> MediaDetail:
    gps = None
    if row["latitude"] is not None and row["longitude"] is not None:
        gps = Gps(latitude=row["latitude"], longitude=row["longitude"], altitude=row["altitude"])
    base = summary(row).model_dump()
    return MediaDetail(
        **base,
        folder=row["folder"],
        mime=row["mime"],
        size=row["size"],
        mtime_ns=row["mtime_ns"],
        taken_at_offset_min=row["taken_at_offset_min"],
        taken_at_source=row["taken_at_source"],
        make=row["make"],
        model=row["model"],
        lens=row["lens"],
        orientation=row["orientation"],
        gps=gps,
        iso=row["iso"],
        f_number=row["f_number"],
        exposure_time=row["exposure_time"],
        focal_length=row["focal_length"],
        video_codec=row["video_codec"],
        audio_codec=row["audio_codec"],
        fps=row["fps"],
        rotation=row["rotation"],
        meta_status=row["meta_status"],
        meta_error=row["meta_error"],
        hash_error=row["hash_error"],
        motion_photo=row["motion_offset"] is not None,
        companions=companions,
        thumbnail_status=thumb["status"] if thumb else "pending",
        thumbnail_error=thumb["detail"] if thumb and thumb["status"] != "done" else None,
        retired_at=row["retired_at"],
        extra=row["extra"],
    )
