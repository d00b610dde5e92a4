"""Response models of the search routes: minimal hits, clients join metadata lazily."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SearchHit(BaseModel):
    media_id: int
    library_id: int
    path: str = Field(description="library-relative path")
    score: float = Field(description="cosine similarity, higher is closer")


class SearchResults(BaseModel):
    model_version: str
    hits: list[SearchHit]
