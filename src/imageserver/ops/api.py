"""/health (database reachable, data dir writable) and /metrics (Prometheus text)."""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from imageserver.db.engine import read_only
from imageserver.telemetry.metrics import REGISTRY
from imageserver.work.deps import Ctx

log = logging.getLogger("imageserver.ops")

public = APIRouter(tags=["operations"])


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, str]


@public.get(
    "/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "a check failed"}},
)
def health(ctx: Ctx) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with read_only(ctx.engine) as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "not healthy", reported, not raised
        log.warning("event=health_database_failed error=%r", exc)
        checks["database"] = "unreachable"
    try:
        fd, name = tempfile.mkstemp(prefix=".health-", dir=ctx.settings.data_dir)
        os.close(fd)
        os.unlink(name)
        checks["data_dir"] = "ok"
    except OSError as exc:
        log.warning("event=health_data_dir_failed error=%r", exc)
        checks["data_dir"] = "not writable"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "degraded", "checks": checks}, status_code=200 if ok else 503
    )


@public.get("/metrics", response_class=PlainTextResponse)
def metrics(ctx: Ctx) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
