"""Response shapes of the curation routes."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TagNode(BaseModel):
    name: str = Field(description="this level of the tag")
    path: str = Field(description='the whole tag, levels joined by "/" (for /media?tag=)')
    count: int = Field(description="items with this tag or a tag below it")
    children: list[TagNode] = Field(default_factory=list)


class TagTree(BaseModel):
    tags: list[TagNode]
