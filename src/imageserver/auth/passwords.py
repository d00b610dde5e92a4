"""argon2id password hashing (argon2-cffi defaults, which follow RFC 9106).

Checks run on one dedicated thread at a lowered CPU priority (Linux nice is per thread).
An argon2 check holds a core for tens of milliseconds; at normal priority a password spray
takes that core from the threads serving everyone else's requests, while at nice 10 the
scheduler lets the API run first and the check takes what is left. Logins get slower under
load, the rest of the API does not.
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from imageserver.proc import lower_this_thread

CHECK_NICE = 10

_hasher = PasswordHasher()

# Verified against when the user does not exist, so a missing user costs the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def _lower_priority() -> None:
    """Initializer of the check thread: lower this thread's (not the process's) priority."""
    lower_this_thread(CHECK_NICE)


# The login route admits at most `login_max_concurrent` checks (work/throttle.py); they
# queue here in arrival order.
_checks = ThreadPoolExecutor(
    max_workers=1, thread_name_prefix="password-check", initializer=_lower_priority
)


def hash_password(password: str) -> str:
    return _checks.submit(_hasher.hash, password).result()


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; a missing hash costs one full check and is False."""
    return _checks.submit(_verify, password_hash, password).result()


def generate_password() -> str:
    return secrets.token_urlsafe(15)
