"""/libraries: list with live health, create, patch (applied live), delete, grants.

Reads are for everyone and scoped (an admin lists every library, a member the granted
ones, without server paths); every write is an admin's (403 for a member before any other
check, so a refusal never tells a member whether a server path exists).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from imageserver.auth.deps import User, current_user
from imageserver.errors import error_responses
from imageserver.libraries import service
from imageserver.libraries.access import AdminUser, UserScope, require_admin
from imageserver.libraries.schemas import LibraryCreate, LibraryMember, LibraryOut, LibraryPatch
from imageserver.work.deps import Ctx, IdPath, ReadConn, WriteConn

router = APIRouter(tags=["libraries"], dependencies=[Depends(current_user)])
ADMIN = [Depends(require_admin)]


@router.get("/libraries", response_model=list[LibraryOut])
def list_libraries(user: User, scope: UserScope, conn: ReadConn) -> list[LibraryOut]:
    return service.visible(conn, user, scope)


@router.get("/libraries/{library_id}", response_model=LibraryOut, responses=error_responses(404))
def get_library(library_id: IdPath, user: User, scope: UserScope, conn: ReadConn) -> LibraryOut:
    return service.visible_one(conn, user, scope, library_id)


@router.post(
    "/libraries",
    response_model=LibraryOut,
    status_code=201,
    responses=error_responses(403, 409),
    dependencies=ADMIN,
)
def create_library(body: LibraryCreate, admin: AdminUser, ctx: Ctx, conn: WriteConn) -> LibraryOut:
    library_id = service.create(conn, body, ctx.settings.owned_dirs(), ctx.clock(), admin.id)
    ctx.registry.invalidate()
    return service.to_out(service.get(conn, library_id))


@router.patch(
    "/libraries/{library_id}",
    response_model=LibraryOut,
    responses=error_responses(403, 404, 409),
    dependencies=ADMIN,
)
def patch_library(library_id: IdPath, body: LibraryPatch, ctx: Ctx, conn: WriteConn) -> LibraryOut:
    service.patch(conn, library_id, body, ctx.clock())
    ctx.registry.invalidate()
    return service.to_out(service.get(conn, library_id))


@router.delete(
    "/libraries/{library_id}",
    status_code=204,
    responses=error_responses(403, 404),
    dependencies=ADMIN,
)
def delete_library(library_id: IdPath, ctx: Ctx, conn: WriteConn) -> Response:
    service.remove(conn, library_id)
    ctx.registry.invalidate()
    return Response(status_code=204)


@router.get(
    "/libraries/{library_id}/members",
    response_model=list[LibraryMember],
    responses=error_responses(403, 404),
    dependencies=ADMIN,
)
def list_members(library_id: IdPath, conn: ReadConn) -> list[LibraryMember]:
    """Who may see this library."""
    return service.members(conn, library_id)


@router.put(
    "/libraries/{library_id}/members/{user_id}",
    response_model=LibraryMember,
    responses=error_responses(403, 404),
    dependencies=ADMIN,
)
def grant_member(library_id: IdPath, user_id: IdPath, ctx: Ctx, conn: WriteConn) -> LibraryMember:
    """Grant the library to the user (idempotent); it shows on their next request."""
    return service.grant(conn, library_id, user_id, ctx.clock())


@router.delete(
    "/libraries/{library_id}/members/{user_id}",
    status_code=204,
    responses=error_responses(403, 404),
    dependencies=ADMIN,
)
def revoke_member(library_id: IdPath, user_id: IdPath, conn: WriteConn) -> Response:
    """Revoke the grant (idempotent); the library disappears on the user's next request."""
    service.revoke(conn, library_id, user_id)
    return Response(status_code=204)
