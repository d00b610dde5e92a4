"""Places and map routes: the places tree, map markers clustered on the server, the
offline country-outline layer, the map's settings and the place-name search.

Every read of library data takes the caller's `UserScope` and hands it to repo.py, which
applies it in SQL. The outlines, the map settings and the place-name search are the same
for every signed-in user (shipped data and configuration, nothing of any library).
Handlers are plain `def`: FastAPI runs them in its thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from imageserver.auth.deps import current_user
from imageserver.errors import error_responses
from imageserver.inputs import PRINTABLE
from imageserver.libraries.access import UserScope
from imageserver.places import gazetteer, outlines, service
from imageserver.places.schemas import MapConfig, Markers, PlaceHit, PlaceSearch, PlacesTree
from imageserver.work.deps import Ctx, ReadConn

router = APIRouter(tags=["places"], dependencies=[Depends(current_user)])

OUTLINES_URL = "/map/outlines"


@router.get("/places", response_model=PlacesTree)
def places_tree(conn: ReadConn, scope: UserScope) -> PlacesTree:
    """Countries -> first-level regions -> places, with item counts and a cover each."""
    return PlacesTree(countries=service.tree(conn, scope), attribution=service.ATTRIBUTION)


@router.get("/places/search", response_model=PlaceSearch)
def search_places(
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=200,
            pattern=PRINTABLE,
            description='a place name or its start, optionally ", country or region"',
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=gazetteer.MAX_HITS)] = 10,
) -> PlaceSearch:
    """Places of the world a typed name may mean, with coordinates: an edit's location by
    place name. Shipped data (GeoNames), nothing of any library."""
    hits = gazetteer.search(q, limit)
    return PlaceSearch(
        places=[PlaceHit.model_validate(h, from_attributes=True) for h in hits],
        attribution=service.ATTRIBUTION,
    )


@router.get("/map/markers", response_model=Markers, responses=error_responses(422))
def map_markers(
    conn: ReadConn,
    scope: UserScope,
    bbox: Annotated[
        str,
        Query(
            max_length=200,
            description="west,south,east,north in degrees",
            json_schema_extra={"pattern": service.BBOX_PATTERN},
        ),
    ] = "-180,-90,180,90",
    zoom: Annotated[int, Query(ge=0, le=service.MAX_ZOOM)] = 2,
) -> Markers:
    """The items in view, clustered on a grid of about 64 screen pixels in SQL."""
    clusters, cell, truncated = service.markers(conn, scope, service.parse_bbox(bbox), zoom)
    return Markers(clusters=clusters, cell_degrees=cell, truncated=truncated)


@router.get(
    OUTLINES_URL,
    response_class=Response,
    responses={200: {"content": {"application/geo+json": {}}}},
)
def map_outlines(request: Request) -> Response:
    """Country outlines (Natural Earth, simplified) for the map when tiles cannot load."""
    headers = {"Cache-Control": "private, max-age=86400", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        body = outlines.country_outlines_geojson_gz()
    else:
        body = outlines.country_outlines_geojson()
    return Response(body, media_type="application/geo+json", headers=headers)


@router.get("/map/config", response_model=MapConfig)
def map_config(ctx: Ctx) -> MapConfig:
    """The tile layer the web map uses (a setting) and its offline fallback."""
    s = ctx.settings
    return MapConfig(
        tile_url=s.map_tile_url,
        tile_attribution=s.map_tile_attribution,
        outlines_url=OUTLINES_URL,
        attribution=service.ATTRIBUTION,
    )
