"""Response models of the search routes: minimal hits, clients join metadata lazily."""

from __future__ import annotations

from pydantic import BaseModel, Field

from imageserver.media.schemas import MediaSummary


class SearchHit(BaseModel):
    media_id: int
    library_id: int
    path: str = Field(description="library-relative path")
    score: float = Field(description="cosine similarity, higher is closer")


class SearchResults(BaseModel):
    model_version: str
    hits: list[SearchHit]


class SearchReason(BaseModel):
    clause: str = Field(description="the clause of the query, as written")
    how: str = Field(
        description="filter | clip | similar | excluded, or where a literal term was "
        "found: text, file name, folder, title, description, tag"
    )


class OneSearchHit(BaseModel):
    item: MediaSummary
    score: float | None = Field(description="cosine similarity (clip mode), else null")
    matched: list[SearchReason]


class OneSearchResults(BaseModel):
    mode: str = Field(description="clip: ranked by similarity; filters: newest first")
    model_version: str | None
    hits: list[OneSearchHit]
    next_cursor: str | None


class SearchSuggestion(BaseModel):
    clause: str = Field(description="the clause to put in place of the one being typed")
    key: str = Field(description="person | place | country | camera | in | tag")
    value: str


class SearchSuggestions(BaseModel):
    suggestions: list[SearchSuggestion]
