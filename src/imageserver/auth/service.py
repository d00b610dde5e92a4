"""User rules: creation, authentication with backoff, password changes, first-start admin."""

from __future__ import annotations

import logging
import re

from sqlalchemy import Connection

from imageserver.auth import passwords, repo
from imageserver.errors import Conflict, Invalid, NotFound, TooManyRequests, Unauthorized
from imageserver.telemetry.metrics import LOGIN_FAILURES
from imageserver.work.throttle import LoginThrottle

log = logging.getLogger("imageserver.auth")

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,150}$")
MIN_PASSWORD_LEN = 8


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


def create_user(
    conn: Connection, username: str, password: str, now: float, is_admin: bool = False
) -> int:
    validate_username(username)
    validate_password(password)
    if repo.get_by_username(conn, username) is not None:
        raise Conflict(f"user {username!r} already exists")
    return repo.create(conn, username, passwords.hash_password(password), is_admin, now)


def change_password(conn: Connection, username: str, password: str, now: float) -> None:
    validate_password(password)
    user = repo.get_by_username(conn, username)
    if user is None:
        raise NotFound(f"no user {username!r}")
    repo.set_password(conn, user["id"], passwords.hash_password(password), now)


def authenticate(
    conn: Connection, throttle: LoginThrottle, username: str, password: str, now: float
) -> int:
    """Return the user id, or raise: 429 while backing off, 401 on a wrong password."""
    wait = throttle.wait_remaining(username)
    if wait > 0:
        raise TooManyRequests(f"too many failed logins; retry in {wait:.0f} s", wait)
    user = repo.get_by_username(conn, username)
    ok = passwords.verify_password(user["password_hash"] if user else None, password)
    if not ok or user is None:
        failures = throttle.failed(username)
        LOGIN_FAILURES.inc()
        log.warning(
            "event=login_failed user=%s known=%s failures=%d",
            _safe(username),
            user is not None,
            failures,
        )
        raise Unauthorized("wrong username or password")
    throttle.succeeded(username)
    return int(user["id"])


def ensure_admin(
    conn: Connection, username: str, configured_password: str | None, now: float
) -> str | None:
    """Create the first admin when there are no users; return a generated password once."""
    if repo.count(conn) > 0:
        return None
    password = configured_password or passwords.generate_password()
    create_user(conn, username, password, now, is_admin=True)
    return None if configured_password else password


def _safe(value: str) -> str:
    """A username fit for a log line: no spaces or control characters, bounded length."""
    return re.sub(r"[^\w.@-]", "?", value)[:64] or "?"
