"""/health (database reachable and writable, data dir writable with free space; see
ops/health.py) and /metrics (Prometheus text).

/metrics is an operator endpoint: its gauges are labelled with every library's name and
count every library's items, which a member may not learn. It answers the bearer token
of the `metrics_token` setting (what a Prometheus scraper sends) or an admin's
credential; without credentials it is a 401, to a member a 403, like every admin-only
route. /health stays open (load balancers probe it) and names no library.
"""

from __future__ import annotations

import hmac
import logging
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from imageserver.auth.deps import user_from_api_key, user_from_token
from imageserver.db.engine import read_only
from imageserver.errors import Forbidden, Unauthorized, error_responses
from imageserver.ops import health as health_checks
from imageserver.ops import repo
from imageserver.telemetry.metrics import REGISTRY, prune_libraries
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
    checks = {
        "database": health_checks.database(ctx.engine),
        "data_dir": health_checks.data_dir(
            ctx.settings.data_dir, ctx.settings.health_min_free_bytes
        ),
    }
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "degraded", "checks": checks}, status_code=200 if ok else 503
    )


def operator(request: Request, ctx: Ctx) -> None:
    """The `metrics_token` as a bearer (constant-time compare), or an admin's credential."""
    header = request.headers.get("authorization")
    secret = ctx.settings.metrics_token
    if header is not None:
        scheme, _, bearer = header.partition(" ")
        bearer = bearer.strip()
        if scheme.lower() != "bearer" or not bearer:
            raise Unauthorized("malformed authorization header")
        if secret is not None and hmac.compare_digest(
            bearer.encode(), secret.get_secret_value().encode()
        ):
            return
        user = user_from_token(ctx, bearer)
    elif api_key := request.headers.get("x-api-key"):
        user = user_from_api_key(ctx, api_key)
    else:
        raise Unauthorized("the metrics token or an admin's credential is required")
    if not user.is_admin:
        raise Forbidden("this operation needs the admin role")


@public.get(
    "/metrics",
    response_class=PlainTextResponse,
    dependencies=[Depends(operator)],
    responses=error_responses(401, 403),
)
def metrics(ctx: Ctx) -> Response:
    # Gauges are set per library name by the refreshes; a library deleted or renamed since
    # leaves its old label sets behind, which are dropped here, before every scrape.
    with read_only(ctx.engine) as conn:
        live = repo.every_library_name(conn)
    prune_libraries(live)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
