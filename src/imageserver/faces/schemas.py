"""Request and response models of the faces and people routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from imageserver.faces.stats import Counts
from imageserver.inputs import PRINTABLE, DbId


class FaceBox(BaseModel):
    x: int
    y: int
    w: int
    h: int


class Face(BaseModel):
    id: int
    content_hash: str
    box: FaceBox = Field(description="pixels of the displayed image (EXIF orientation applied)")
    image_width: int = Field(description="width of the frame the box is in")
    image_height: int
    landmarks: list[list[float]] = Field(description="5 points [x, y]: eyes' corners, nose")
    detector: str = Field(description="hog | hog+cnn (a doubtful HOG find the CNN confirmed) | cnn")
    score: float | None
    person_id: int | None
    person_name: str | None
    assignment: str = Field(description="none | auto | user | sidecar | rejected")
    crop_url: str


class PersonFace(Face):
    media_ids: list[int] = Field(description="live media items showing this picture")


class MediaFaces(BaseModel):
    media_id: int
    content_hash: str | None
    scan_status: str = Field(description="pending | done | failed | retry")
    scan_error: str | None
    faces: list[Face]


class Person(BaseModel):
    id: int
    name: str | None
    hidden: bool
    face_count: int
    image_count: int = Field(description="distinct pictures (by content hash)")
    cover_face_id: int | None
    cover_url: str | None
    created_at: float
    updated_at: float


class PeoplePage(BaseModel):
    items: list[Person]
    total: int


class PersonDetail(Person):
    faces: list[PersonFace] = Field(description="newest first; page with limit/offset")


class PersonPatch(BaseModel):
    """Only the fields present change; name null or "" clears it."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200, pattern=PRINTABLE)
    hidden: StrictBool = Field(default=False, description="absent: unchanged")
    cover_face_id: DbId | None = None


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[DbId] = Field(min_length=1, max_length=1000, description="people merged into this")


class FacePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: DbId | None = Field(description="a person id, or null to reject the face")


class StatsRow(BaseModel):
    library_id: int | None
    library: str
    images: int
    scanned: int
    with_faces: int
    faces: int
    pending: int
    failed: int
    hashless: int


class FaceStats(BaseModel):
    libraries: list[StatsRow]
    total: StatsRow = Field(description="every library, each picture counted once")


def face_out(row: Any) -> Face:
    return Face(**_face_fields(row))


def person_face_out(row: Any, media_ids: list[int]) -> PersonFace:
    return PersonFace(**_face_fields(row), media_ids=media_ids)


def _face_fields(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "content_hash": row["content_hash"],
        "box": FaceBox(x=row["box_x"], y=row["box_y"], w=row["box_w"], h=row["box_h"]),
        "image_width": row["image_width"],
        "image_height": row["image_height"],
        "landmarks": row["landmarks"],
        "detector": row["detector"],
        "score": row["detection_score"],
        "person_id": row["person_id"],
        "person_name": row["person_name"],
        "assignment": row["assignment"],
        "crop_url": f"/faces/{row['id']}/crop",
    }


def person_out(row: Any) -> Person:
    cover = row["cover_face_id"]
    return Person(
        id=row["id"],
        name=row["name"],
        hidden=row["hidden"],
        face_count=row["face_count"],
        image_count=row["image_count"],
        cover_face_id=cover,
        cover_url=f"/people/{row['id']}/cover" if cover is not None else None,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def stats_row(library_id: int | None, name: str, counts: Counts) -> StatsRow:
    return StatsRow(library_id=library_id, library=name, **counts.__dict__)
