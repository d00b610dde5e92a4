"""GET /ml/stats: embedding progress per library and overall, over the caller's libraries.

The gauges carry the same numbers for every library (the operator's view, refreshed after
each full scan); this route counts only what the caller may see and publishes nothing.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from imageserver.auth.deps import current_user
from imageserver.auth.scope import UserScope
from imageserver.inputs import PRINTABLE
from imageserver.ml import stats
from imageserver.work.deps import Ctx

router = APIRouter(tags=["ml"], dependencies=[Depends(current_user)])


class MlCounts(BaseModel):
    images: int
    embedded: int
    pending: int
    failed: int
    retrying: int
    hashless: int


class MlStats(BaseModel):
    model_version: str | None
    libraries: dict[str, MlCounts]
    total: MlCounts


@router.get("/ml/stats", response_model=MlStats)
def ml_stats(
    ctx: Ctx,
    scope: UserScope,
    model_version: Annotated[
        str | None,
        Query(max_length=160, pattern=PRINTABLE, description="default: the loaded model"),
    ] = None,
) -> MlStats:
    """Counts by content hash (a file at two paths counts once); null model_version when no
    model is configured (then nothing counts as embedded or failed)."""
    version = model_version or stats.current_version(ctx)
    per, total = stats.collect(ctx, version, scope)
    return MlStats(
        model_version=version,
        libraries={name: MlCounts(**asdict(c)) for name, c in per.items()},
        total=MlCounts(**asdict(total)),
    )
