"""/libraries: list with live health, create, patch (applied live), delete."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from imageserver.auth.deps import current_user
from imageserver.errors import error_responses
from imageserver.libraries import repo, service
from imageserver.libraries.schemas import LibraryCreate, LibraryOut, LibraryPatch
from imageserver.work.deps import Ctx, IdPath, ReadConn, WriteConn

router = APIRouter(tags=["libraries"], dependencies=[Depends(current_user)])


@router.get("/libraries", response_model=list[LibraryOut])
def list_libraries(conn: ReadConn) -> list[LibraryOut]:
    return [service.to_out(row) for row in repo.list_all(conn)]


@router.get("/libraries/{library_id}", response_model=LibraryOut, responses=error_responses(404))
def get_library(library_id: IdPath, conn: ReadConn) -> LibraryOut:
    return service.to_out(service.get(conn, library_id))


@router.post(
    "/libraries", response_model=LibraryOut, status_code=201, responses=error_responses(409)
)
def create_library(body: LibraryCreate, ctx: Ctx, conn: WriteConn) -> LibraryOut:
    library_id = service.create(conn, body, ctx.settings.owned_dirs(), ctx.clock())
    ctx.registry.invalidate()
    return service.to_out(service.get(conn, library_id))


@router.patch(
    "/libraries/{library_id}", response_model=LibraryOut, responses=error_responses(404, 409)
)
def patch_library(library_id: IdPath, body: LibraryPatch, ctx: Ctx, conn: WriteConn) -> LibraryOut:
    service.patch(conn, library_id, body, ctx.clock())
    ctx.registry.invalidate()
    return service.to_out(service.get(conn, library_id))


@router.delete("/libraries/{library_id}", status_code=204, responses=error_responses(404))
def delete_library(library_id: IdPath, ctx: Ctx, conn: WriteConn) -> Response:
    service.remove(conn, library_id)
    ctx.registry.invalidate()
    return Response(status_code=204)
