"""/users: user management for admins (every operation is admin-only).

GET /users lists, POST /users creates; GET/PATCH/DELETE /users/{id} reads, changes (role,
disabled, password reset) and deletes one. Disabling, deleting and a password reset end
the user's sessions at once. The last enabled admin cannot be demoted, disabled or
deleted (409).
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from imageserver.auth import repo, service
from imageserver.auth.deps import AdminOnly, User
from imageserver.auth.schemas import UserCreate, UserOut, UserPatch, user_out
from imageserver.errors import Conflict, error_responses
from imageserver.work.deps import Ctx, IdPath, ReadConn, WriteConn

router = APIRouter(tags=["users"], dependencies=[AdminOnly])

ERRORS = error_responses(403, 404, 409)


@router.get("/users", response_model=list[UserOut], responses=error_responses(403))
def list_users(conn: ReadConn) -> list[UserOut]:
    return [user_out(row) for row in repo.list_all(conn)]


@router.post("/users", response_model=UserOut, status_code=201, responses=error_responses(403, 409))
def create_user(body: UserCreate, ctx: Ctx, conn: WriteConn) -> UserOut:
    user_id = service.create_user(conn, body.username, body.password, ctx.clock(), role=body.role)
    return user_out(service.user_or_404(conn, user_id))


@router.get("/users/{user_id}", response_model=UserOut, responses=ERRORS)
def get_user(user_id: IdPath, conn: ReadConn) -> UserOut:
    return user_out(service.user_or_404(conn, user_id))


@router.patch("/users/{user_id}", response_model=UserOut, responses=ERRORS)
def patch_user(user_id: IdPath, body: UserPatch, ctx: Ctx, conn: WriteConn) -> UserOut:
    now = ctx.clock()
    service.user_or_404(conn, user_id)
    if body.role is not None:
        service.set_role(conn, user_id, body.role)
    if body.disabled is not None:
        service.set_disabled(conn, user_id, body.disabled, now)
    if body.password is not None:
        service.reset_password(conn, user_id, body.password, now)
    return user_out(service.user_or_404(conn, user_id))


@router.delete("/users/{user_id}", status_code=204, responses=ERRORS)
def delete_user(user_id: IdPath, user: User, conn: WriteConn) -> Response:
    if user_id == user.id:  # the account deleting itself would end this request's session
        raise Conflict("you cannot delete your own account; another admin can")
    service.delete_user(conn, user_id)
    return Response(status_code=204)
