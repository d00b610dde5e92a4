"""Request and response models of the OCR routes."""

from __future__ import annotations

from pydantic import BaseModel, Field

from imageserver.media.schemas import MediaSummary


class OcrPage(BaseModel):
    items: list[MediaSummary]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class TextLine(BaseModel):
    text: str
    confidence: float = Field(description="recogniser confidence, 0..1")
    box: list[list[float]] = Field(
        description="four corners [x, y], fractions of the displayed image's width and height"
    )


class MediaText(BaseModel):
    media_id: int
    content_hash: str | None
    status: str = Field(description="pending | done | failed | retry")
    error: str | None
    engine: str | None
    text: str = Field(description="the lines, top to bottom, joined by newlines")
    lines: list[TextLine]


class OcrStatsRow(BaseModel):
    library_id: int | None
    library: str
    images: int
    read: int
    with_text: int
    pending: int
    failed: int


class OcrStats(BaseModel):
    libraries: list[OcrStatsRow]
    total: OcrStatsRow
