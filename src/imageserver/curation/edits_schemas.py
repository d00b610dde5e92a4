"""Request and response bodies of the edit and export routes.

A PATCH body names only the fields it changes: a value sets, `null` clears the edit
(the sidecar's or the file's value shows again), an absent field is untouched. Anything
else is a 422 before a row is read: unknown fields, a rating outside 0..5, a coordinate
off the globe, a date with a zone (the wall clock and its offset are separate fields).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from imageserver.curation.fields import MAX_TAG, MAX_TAGS, MAX_TEXT
from imageserver.inputs import PRINTABLE, DbId, IsoDateTimeText

MAX_BATCH = 1000
MAX_OFFSET_MIN = 15 * 60  # media/query.py widens date bounds by no more than this
LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
# Text may hold line breaks and tabs, never NUL or other control characters.
MULTILINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


def _json_integer(value: object) -> object:
    """A JSON integer: 4 or 4.0 (JSON Schema counts both), never true or "4"."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("an integer")
        return int(value)
    return value


Rating = Annotated[int, Field(ge=0, le=5), BeforeValidator(_json_integer)]
Offset = Annotated[
    int, Field(ge=-MAX_OFFSET_MIN, le=MAX_OFFSET_MIN), BeforeValidator(_json_integer)
]
Tag = Annotated[str, Field(min_length=1, max_length=MAX_TAG, pattern=PRINTABLE)]


class TakenAt(BaseModel):
    model_config = ConfigDict(extra="forbid")

    local: str = Field(
        description="wall-clock date and time, no zone: YYYY-MM-DDTHH:MM:SS",
        pattern=LOCAL.pattern,
    )
    offset_min: Offset | None = Field(
        default=None, description="minutes east of UTC, null when unknown"
    )

    @field_validator("local")
    @classmethod
    def _calendar(cls, value: str) -> str:
        try:
            when = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError("not a calendar date and time") from exc
        if not 1800 <= when.year <= 2200:
            raise ValueError("year outside 1800..2200")
        return value


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latitude: float = Field(ge=-90, le=90, allow_inf_nan=False, strict=True)
    longitude: float = Field(ge=-180, le=180, allow_inf_nan=False, strict=True)


class EditFields(BaseModel):
    """The editable fields (absent: untouched, null: the edit cleared); a body names at
    least one (the service refuses an empty change, and the document says so)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    taken_at: TakenAt | None = None
    location: Location | None = None
    title: Annotated[str, Field(max_length=MAX_TEXT, pattern=PRINTABLE)] | None = None
    description: Annotated[str, Field(max_length=MAX_TEXT, pattern=MULTILINE)] | None = None
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS)] | None = Field(
        default=None,
        description='the whole list; hierarchical levels joined by "/" or "|" ("A/B/C")',
    )
    rating: Rating | None = None

    def changes(self) -> dict[str, Any]:
        """Field -> value in the stored form, only for the fields the body names."""
        out: dict[str, Any] = {}
        for name in self.model_fields_set & set(EditFields.model_fields):
            value = getattr(self, name)
            if isinstance(value, BaseModel):
                value = value.model_dump()
            if name == "tags" and value is not None:
                value = normalize_tags(value)
            out[name] = value
        return out


def normalize_tags(tags: list[str]) -> list[str]:
    """Levels split on "/" or "|" (Lightroom's separator), trimmed, joined by "/" as the
    sidecar reader stores hierarchical subjects; duplicates dropped, order kept."""
    out: list[str] = []
    for tag in tags:
        levels = [p.strip() for p in re.split(r"[/|]", tag) if p.strip()]
        joined = "/".join(levels)[:MAX_TAG]
        if joined and joined not in out:
            out.append(joined)
    return out


class BatchEdit(EditFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 2})

    ids: list[DbId] = Field(min_length=1, max_length=MAX_BATCH)


class BatchEditOut(BaseModel):
    changed: int = Field(description="items whose edits changed")


class EditUser(BaseModel):
    id: int
    username: str | None = Field(description="null once the user was deleted")


class EditEntry(BaseModel):
    id: int
    at: float = Field(description="epoch seconds")
    user: EditUser | None
    before: dict[str, Any] = Field(description="field -> edited value before (null: none)")
    after: dict[str, Any] = Field(description="field -> edited value after (null: cleared)")
    undone_at: float | None


class EditHistory(BaseModel):
    items: list[EditEntry] = Field(description="newest first")


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    library_id: DbId | None = Field(default=None, description="one library (default: all)")
    since: IsoDateTimeText | None = Field(
        default=None, description="only items whose curation changed since (default: all)"
    )

    def since_epoch(self) -> float | None:
        if self.since is None:
            return None
        when = self.since if self.since.tzinfo else self.since.replace(tzinfo=UTC)
        try:
            return when.timestamp()
        except (OverflowError, ValueError):  # a zone pushed it past year 1 or 9999
            return -1e18 if when.year < 1970 else 1e18


class ExportOut(BaseModel):
    libraries: int
    written: int = Field(description="sidecars written")
    unchanged: int = Field(description="sidecars that already said this (not rewritten)")
    failed: int = Field(description="items exiftool could not write")
