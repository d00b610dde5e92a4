"""Request and response models of /auth/... and /users/..."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool
from sqlalchemy import RowMapping

from imageserver.inputs import PRINTABLE

Role = Literal["admin", "member"]
Password = Field(min_length=1, max_length=1024)
# What auth/service.py enforces on a password it stores and a username it creates, stated
# here too so that the OpenAPI document says it (the service checks again for the CLI).
MIN_PASSWORD_LEN = 8
NewPassword = Field(min_length=MIN_PASSWORD_LEN, max_length=1024)
USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]{1,150}$"


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=150, pattern=PRINTABLE)
    password: str = Password


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class MeResponse(BaseModel):
    id: int
    username: str
    role: Role
    is_admin: bool
    # How this request authenticated: a login session or an API key (read-only or not).
    session_id: int | None
    api_key_id: int | None
    read_only: bool


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Password
    new_password: str = NewPassword


class SessionOut(BaseModel):
    id: int
    created_at: float
    last_seen_at: float
    expires_at: float
    user_agent: str | None
    address: str | None
    current: bool


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, pattern=PRINTABLE)
    read_only: StrictBool = False


class ApiKeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    read_only: bool
    created_at: float
    last_used_at: float | None


class ApiKeyCreated(ApiKeyOut):
    # Shown once: only its sha256 is stored.
    key: str


class UserOut(BaseModel):
    id: int
    username: str
    role: Role
    is_admin: bool
    disabled: bool
    created_at: float
    password_changed_at: float


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(
        min_length=1,
        max_length=150,
        pattern=USERNAME_PATTERN,
        description="letters, digits and _ . @ -",
    )
    password: str = NewPassword
    role: Role = "member"


class UserPatch(BaseModel):
    """Any subset: a new role, disabled on/off, a password reset (ends their sessions)."""

    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    disabled: StrictBool | None = None
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_LEN, max_length=1024)


def user_out(row: RowMapping) -> UserOut:
    return UserOut(
        id=row["id"],
        username=row["username"],
        role=row["role"],
        is_admin=row["role"] == "admin",
        disabled=row["disabled_at"] is not None,
        created_at=row["created_at"],
        password_changed_at=row["password_changed_at"],
    )


def api_key_out(row: RowMapping) -> ApiKeyOut:
    return ApiKeyOut(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        read_only=row["read_only"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
    )
