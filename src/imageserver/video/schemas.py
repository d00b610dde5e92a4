"""Request and response models of the video routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from imageserver.inputs import REL_PATH_PATTERN, DbId

VideoStatus = Literal["ready", "queued", "pending", "unsupported", "waiting_for_hash"]


class GenerateRequest(BaseModel):
    """Either `media_id`, or `library_id` + `path` (library-relative)."""

    # what `_one_target` enforces, stated in the OpenAPI document (exactly one branch holds)
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["media_id"], "properties": {"media_id": {"type": "integer"}}},
                {
                    "required": ["library_id", "path"],
                    "properties": {
                        "library_id": {"type": "integer"},
                        "path": {"type": "string"},
                    },
                },
            ]
        }
    )

    media_id: DbId | None = None
    library_id: DbId | None = None
    path: str | None = Field(default=None, max_length=4096, pattern=REL_PATH_PATTERN)

    @model_validator(mode="after")
    def _one_target(self) -> GenerateRequest:
        by_path = self.library_id is not None and self.path is not None
        if (self.media_id is not None) == by_path:
            raise ValueError("give either media_id, or library_id and path")
        return self


class VideoInfo(BaseModel):
    media_id: int
    content_hash: str | None
    status: VideoStatus
    reason: str | None = None
    playlist_url: str | None = None  # signed: works without an Authorization header
    preview_url: str | None = None
    token_expires_at: float | None = None


class HlsCountsOut(BaseModel):
    total: int
    with_playlist: int
    pending: int
    unsupported: int
    hashless_videos: int


class LibraryHlsStats(HlsCountsOut):
    library_id: int
    library: str


class HlsStatsOut(BaseModel):
    libraries: list[LibraryHlsStats]
    aggregate: HlsCountsOut
