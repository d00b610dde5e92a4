"""create_app(ctx) -> FastAPI: routers, error handlers, the background lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from imageserver import __version__
from imageserver.albums import api as albums_api
from imageserver.albums import shares, shares_api
from imageserver.auth import api as auth_api
from imageserver.auth import users_api
from imageserver.curation import api as curation_api
from imageserver.curation import edits_api
from imageserver.faces import api as faces_api
from imageserver.libraries import api as libraries_api
from imageserver.media import api as media_api
from imageserver.media import folders as folders_api
from imageserver.ml import api as ml_api
from imageserver.ocr import api as ocr_api
from imageserver.ops import api as ops_api
from imageserver.ops import backlogs as backlogs_api
from imageserver.places import api as places_api
from imageserver.search import api as search_api
from imageserver.search import service as search_service
from imageserver.server.errorhandlers import install_error_handlers
from imageserver.server.headers import SecurityHeaders
from imageserver.server.limits import RequestLimits
from imageserver.server.options import AllowOptions
from imageserver.telemetry.http import HttpMetrics
from imageserver.video import api as video_api
from imageserver.web import api as web_api
from imageserver.work.context import AppContext

log = logging.getLogger("imageserver.server.app")


def create_app(ctx: AppContext, *, background: bool | None = None) -> FastAPI:
    """The HTTP application; background loops run in its lifespan unless disabled."""
    run_background = ctx.settings.run_background if background is None else background

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        from imageserver.server.background import Background

        runner = Background(ctx)
        await runner.start(run_loops=run_background)
        search_service.on_start(ctx)
        try:
            yield
        finally:
            await runner.stop()
            search_service.on_stop(ctx)

    app = FastAPI(
        title="imageserver",
        version=__version__,
        description="Self-hosted photo and video library server.",
        lifespan=lifespan,
        # /docs is the web package's (vendored Swagger UI under a CSP); no CDN-loaded pages
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = ctx
    # A share link's stream token plays its video only while the link shows it.
    ctx.shared_streams = shares.LinkStreams(ctx.clock)
    install_error_handlers(app)
    # Before routing and parsing: body limits, credentials of uploads before their body.
    app.add_middleware(RequestLimits, ctx=ctx)
    app.add_middleware(AllowOptions)
    app.add_middleware(HttpMetrics)  # outside the limits: counts their 413s too
    app.add_middleware(SecurityHeaders)  # added last: outermost, sees every response
    for router in (
        ops_api.public,
        auth_api.public,
        auth_api.router,
        users_api.router,
        libraries_api.router,
        media_api.router,
        video_api.router,
        search_api.router,
        ml_api.router,
        faces_api.router,
        ocr_api.router,
        folders_api.router,
        backlogs_api.router,
        albums_api.router,
        shares_api.router,
        shares_api.public,
        places_api.router,
        curation_api.router,
        edits_api.router,
        web_api.router,  # last: / and /static/... only, never an API path
    ):
        app.include_router(router)
    return app
