"""JWT issue and verification (HS256 only: `alg: none` and every other algorithm fail).

Two token types share one secret: `access` tokens authenticate a user for every route;
`stream` tokens are scoped to one video content hash and travel in a query string,
because HLS players fetch segments without custom headers. Every token names the
credential it hangs from: `sid` (a row of `sessions`) or, for a stream token minted for an
API key, `kid` (a row of `api_keys`); deleting that row revokes the token at once.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import jwt

from imageserver.errors import Unauthorized

ALGORITHM = "HS256"
SECRET_FILE = "jwt_secret"


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    issued_at: float
    expires_at: float
    token_type: str
    scope: str | None
    session_id: int | None = None
    api_key_id: int | None = None


def load_or_create_secret(data_dir: Path, configured: str | None) -> str:
    """The configured secret, else one generated once and persisted in the data dir."""
    if configured:
        return configured
    path = data_dir / SECRET_FILE
    if path.exists():
        secret = path.read_text(encoding="utf-8").strip()
        if secret:
            return secret
        path.unlink()  # an empty file left by a crash between create and write
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # Created 0600 in one step (never readable by others, not even for an instant) and
    # O_EXCL: two processes starting at once cannot both write one; the loser reads it.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        for _ in range(50):
            existing = path.read_text(encoding="utf-8").strip()
            if existing:
                return existing
            time.sleep(0.02)
        raise
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secret)
        fh.flush()
        os.fsync(fh.fileno())
    return secret


def issue(
    secret: str,
    subject: str,
    now: float,
    lifetime: float,
    token_type: str = "access",
    scope: str | None = None,
    *,
    session_id: int | None = None,
    api_key_id: int | None = None,
) -> str:
    claims: dict[str, object] = {
        "sub": subject,
        "iat": int(now),
        "exp": int(now + lifetime),
        "typ": token_type,
    }
    if scope is not None:
        claims["scope"] = scope
    if session_id is not None:
        claims["sid"] = session_id
    if api_key_id is not None:
        claims["kid"] = api_key_id
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(secret: str, token: str, now: float, token_type: str = "access") -> TokenClaims:
    """Decode and check a token; every failure is the same 401 to the client."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["sub", "exp", "iat"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized("invalid token") from exc
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        raise Unauthorized("invalid token")
    if exp <= now:
        raise Unauthorized("token expired")
    if claims.get("typ", "access") != token_type:
        raise Unauthorized("wrong token type")
    return TokenClaims(
        subject=str(claims["sub"]),
        issued_at=float(iat),
        expires_at=float(exp),
        token_type=str(claims.get("typ", "access")),
        scope=claims.get("scope"),
        session_id=_int_claim(claims, "sid"),
        api_key_id=_int_claim(claims, "kid"),
    )


def _int_claim(claims: dict[str, object], name: str) -> int | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise Unauthorized("invalid token")
    return value
