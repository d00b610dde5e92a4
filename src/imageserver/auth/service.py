"""User rules: creation, roles, disabling, deletion, authentication, sessions, API keys.

Services take a connection and never commit. Every change that should log someone out
deletes session rows in the same transaction, so it takes effect on the very next request.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping

from imageserver.auth import passwords, repo
from imageserver.auth.keys import API_KEY_PREFIX, hash_api_key
from imageserver.auth.schemas import MIN_PASSWORD_LEN, USERNAME_PATTERN
from imageserver.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from imageserver.telemetry.metrics import LOGIN_FAILURES
from imageserver.work.throttle import LoginThrottle

log = logging.getLogger("imageserver.auth")

USERNAME_RE = re.compile(USERNAME_PATTERN)


def validate_username(username: str) -> str:
    if not USERNAME_RE.match(username):
        raise Invalid("username: 1-150 characters of letters, digits and _ . @ -")
    return username


def validate_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LEN:
        raise Invalid(f"password: at least {MIN_PASSWORD_LEN} characters")
    if len(password) > 1024:
        raise Invalid("password: at most 1024 characters")
    return password


def validate_role(role: str) -> str:
    if role not in repo.ROLES:
        raise Invalid(f"role: one of {', '.join(repo.ROLES)}")
    return role


# --- users ------------------------------------------------------------------------------


def create_user(
    conn: Connection,
    username: str,
    password: str,
    now: float,
    is_admin: bool = False,
    role: str | None = None,
) -> int:
    validate_username(username)
    validate_password(password)
    role = validate_role(role or (repo.ADMIN if is_admin else repo.MEMBER))
    if repo.get_by_username(conn, username) is not None:
        raise Conflict(f"user {username!r} already exists")
    return repo.create(conn, username, passwords.hash_password(password), role, now)


def user_or_404(conn: Connection, user_id: int) -> RowMapping:
    user = repo.get_by_id(conn, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def user_by_name(conn: Connection, username: str) -> RowMapping:
    user = repo.get_by_username(conn, username)
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def _keep_an_admin(conn: Connection, user: RowMapping, what: str) -> None:
    """Refuse to leave the server without an enabled admin."""
    active_admin = user["role"] == repo.ADMIN and user["disabled_at"] is None
    if active_admin and repo.count_active_admins(conn) <= 1:
        raise Conflict(f"cannot {what} the last enabled admin")


def set_role(conn: Connection, user_id: int, role: str) -> None:
    user = user_or_404(conn, user_id)
    validate_role(role)
    if role != repo.ADMIN:
        _keep_an_admin(conn, user, "demote")
    repo.set_role(conn, user_id, role)


def set_disabled(conn: Connection, user_id: int, disabled: bool, now: float) -> None:
    """Disabling ends every session at once; API keys stop working while disabled."""
    user = user_or_404(conn, user_id)
    if disabled:
        _keep_an_admin(conn, user, "disable")
        if user["disabled_at"] is None:
            repo.set_disabled_at(conn, user_id, now)
        repo.delete_sessions(conn, user_id)
    else:
        repo.set_disabled_at(conn, user_id, None)


def delete_user(conn: Connection, user_id: int) -> None:
    _keep_an_admin(conn, user_or_404(conn, user_id), "delete")
    repo.delete_user(conn, user_id)


def reset_password(conn: Connection, user_id: int, password: str, now: float) -> None:
    """An admin's reset (or the CLI): the new password, and every session of the user ends."""
    validate_password(password)
    user_or_404(conn, user_id)
    repo.set_password(conn, user_id, passwords.hash_password(password), now)
    repo.delete_sessions(conn, user_id)


def change_password(conn: Connection, username: str, password: str, now: float) -> None:
    """`imageserver users passwd`: by name; ends every session of the user."""
    reset_password(conn, int(user_by_name(conn, username)["id"]), password, now)


def change_own_password(
    conn: Connection, user_id: int, current: str, new: str, now: float, keep_session: int | None
) -> None:
    """POST /auth/password: needs the current password; ends the user's OTHER sessions."""
    validate_password(new)
    user = user_or_404(conn, user_id)
    if not passwords.verify_password(user["password_hash"], current):
        # 403, not 401: the caller's session is fine; a 401 would read as "logged out".
        raise Forbidden("current password is wrong")
    repo.set_password(conn, user_id, passwords.hash_password(new), now)
    repo.delete_sessions(conn, user_id, keep=keep_session)


# --- login ------------------------------------------------------------------------------


def authenticate(
    conn: Connection,
    throttle: LoginThrottle,
    username: str,
    password: str,
    now: float,
    address: str = "",
) -> int:
    """Return the user id, or raise: 429 while backing off, 401 on a wrong password or a
    disabled account."""
    wait = throttle.wait_remaining(username, address)
    if wait > 0:
        raise TooManyRequests(f"too many failed logins; retry in {wait:.0f} s", wait)
    user = repo.get_by_username(conn, username)
    # The caller holds one of `throttle.verification_slot()` around this (auth/api.py).
    ok = passwords.verify_password(user["password_hash"] if user else None, password)
    if not ok or user is None or user["disabled_at"] is not None:
        failures = throttle.failed(username, address)
        LOGIN_FAILURES.inc()
        log.warning(
            "event=login_failed user=%s address=%s known=%s failures=%d",
            _safe(username),
            _safe(address),
            user is not None,
            failures,
        )
        raise Unauthorized("wrong username or password")
    throttle.succeeded(username, address)
    return int(user["id"])


def start_session(
    conn: Connection,
    user_id: int,
    now: float,
    lifetime: float,
    user_agent: str | None,
    address: str | None,
) -> int:
    repo.delete_expired_sessions(conn, user_id, now)
    return repo.create_session(conn, user_id, now, now + lifetime, user_agent, address)


def ensure_admin(
    conn: Connection, username: str, configured_password: str | None, now: float
) -> str | None:
    """Create the first admin when there are no users; return a generated password once."""
    if repo.count(conn) > 0:
        return None
    password = configured_password or passwords.generate_password()
    create_user(conn, username, password, now, role=repo.ADMIN)
    return None if configured_password else password


# --- API keys ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NewApiKey:
    id: int
    secret: str
    prefix: str


def create_api_key(
    conn: Connection, user_id: int, name: str, read_only: bool, now: float
) -> NewApiKey:
    """A new key for the user; the secret is returned this once and stored only hashed."""
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    prefix = secret[: len(API_KEY_PREFIX) + 6]
    key_id = repo.create_api_key(conn, user_id, name, prefix, hash_api_key(secret), read_only, now)
    return NewApiKey(id=key_id, secret=secret, prefix=prefix)


def _safe(value: str) -> str:
    """A value fit for a log line: no spaces or control characters, bounded length."""
    return re.sub(r"[^\w.@:-]", "?", value)[:64] or "?"
